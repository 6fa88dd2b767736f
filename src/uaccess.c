/*
 * uaccess.c - copying from and to the caller's memory with Linux's EFAULT.
 *
 * The kernel copies a system call's arguments with a fault handler: an
 * address that is not mapped (or not readable, or not writable) gives
 * EFAULT instead of a crash.  A library cannot handle the fault itself
 * without taking over the program's SIGSEGV, so the first copy from or to a
 * page goes through process_vm_readv/process_vm_writev on the process
 * itself, which fail with EFAULT exactly where the kernel's copy would.  A
 * page that worked is remembered per thread (the last PAGES_KNOWN of each
 * direction), and later copies that stay on remembered pages are plain
 * memcpy, so a caller that keeps its arguments in the same places (the
 * stack, a static array) makes no system call.  A page unmapped after it
 * was remembered faults like memcpy (README: known differences).  The pages
 * read and written last are also kept in uipc__last_readable and
 * uipc__last_writable, for the inline checks of internal.h.
 *
 * Locking: none; the caches are thread-local.
 */
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "internal.h"

#define PAGE 4096ul
#define PAGES_KNOWN 8

struct known {
	uintptr_t page[PAGES_KNOWN];
	unsigned next;
};

static __thread struct known readable, writable;
/*
 * process_vm_readv/writev were refused (a seccomp profile, as containers'
 * default ones, or a kernel without them): copies are plain from then on,
 * rather than a refused call at every copy.
 */
static _Atomic bool vm_refused;

/* After a vm call failed: -EFAULT, or 0 when it was refused (copy as is). */
static int vm_failed(ssize_t n)
{
	if (n >= 0 || errno == EFAULT || errno == ENOMEM)
		return -EFAULT;
	atomic_store_explicit(&vm_refused, true, memory_order_relaxed);
	return 0;
}

static bool vm_usable(void)
{
	return !atomic_load_explicit(&vm_refused, memory_order_relaxed);
}
__thread uintptr_t uipc__last_readable = 1;	/* the page last read: never 1 */
__thread uintptr_t uipc__last_writable = 1;	/* the page last written */

static bool known(const struct known *k, uintptr_t page)
{
	for (int i = 0; i < PAGES_KNOWN; i++)
		if (k->page[i] == page)
			return true;
	return false;
}

/* Are all the pages of [p, p + len) known?  Only for one or two pages. */
static bool all_known(const struct known *k, uintptr_t p, size_t len)
{
	uintptr_t first = p & ~(PAGE - 1), last = (p + len - 1) & ~(PAGE - 1);

	return last - first <= PAGE && known(k, first) && known(k, last);
}

static void remember(struct known *k, uintptr_t p, size_t len)
{
	uintptr_t first = p & ~(PAGE - 1), last = (p + len - 1) & ~(PAGE - 1);

	if (last - first > PAGE)
		return;
	for (uintptr_t page = first; page <= last; page += PAGE)
		if (!known(k, page))
			k->page[k->next++ % PAGES_KNOWN] = page;
}

int uipc__copy_in_slow(void *dst, const void *src, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)src, len };

	if (len == 0)
		return 0;
	if (bad_user_ptr(src, len))
		return -EFAULT;
	if (all_known(&readable, (uintptr_t)src, len)) {
		uipc__last_readable = (uintptr_t)src & ~(PAGE - 1);
	} else if (vm_usable()) {
		ssize_t n = process_vm_readv(uipc__pid(), &local, 1, &remote, 1, 0);

		if (n == (ssize_t)len) {
			remember(&readable, (uintptr_t)src, len);
			uipc__last_readable = (uintptr_t)src & ~(PAGE - 1);
			return 0;
		}
		if (vm_failed(n))
			return -EFAULT;
	}
	memcpy(dst, src, len);
	return 0;
}

/*
 * Can the caller read (write) all of [p, p + len)?  0, or -EFAULT where the
 * kernel's copy would fault.  For buffers then copied piecewise with memcpy
 * (a message's blocks).  Each page not remembered is probed with one byte,
 * all at once: read (and written back as it was: the call writes the whole
 * range next anyway).  Pages found good are remembered.
 */
#define PROBE_MAX 64

static int probe(struct known *k, uintptr_t p, size_t len, bool write)
{
	struct iovec remote[PROBE_MAX], local;
	char bytes[PROBE_MAX];
	uintptr_t page, first = p & ~(PAGE - 1), end = p + len;
	ssize_t n;
	int count;

	if (len == 0)
		return 0;
	if (bad_user_ptr((const void *)p, len))
		return -EFAULT;
	for (page = first; page < end;) {
		for (count = 0; page < end && count < PROBE_MAX; page += PAGE) {
			if (known(k, page))
				continue;
			remote[count].iov_base = (void *)(page < p ? p : page);
			remote[count++].iov_len = 1;
		}
		if (!count)
			continue;
		local = (struct iovec){ bytes, (size_t)count };
		if (!vm_usable())
			return 0;
		n = process_vm_readv(uipc__pid(), &local, 1, remote, (unsigned long)count, 0);
		if (n == count && write)
			n = process_vm_writev(uipc__pid(), &local, 1, remote, (unsigned long)count, 0);
		if (n != count)
			return vm_failed(n);
		for (int i = 0; i < count; i++)
			k->page[k->next++ % PAGES_KNOWN] = (uintptr_t)remote[i].iov_base & ~(PAGE - 1);
	}
	return 0;
}

int uipc__probe_readable(const void *p, size_t len)
{
	int r = probe(&readable, (uintptr_t)p, len, false);

	if (r == 0)
		uipc__last_readable = ((uintptr_t)p + len - 1) & ~(PAGE - 1);
	return r;
}

int uipc__probe_writable(void *p, size_t len)
{
	int r = probe(&writable, (uintptr_t)p, len, true);

	if (r == 0)
		uipc__last_writable = ((uintptr_t)p + len - 1) & ~(PAGE - 1);
	return r;
}

int uipc__copy_out(void *dst, const void *src, size_t len)
{
	struct iovec local = { (void *)src, len }, remote = { dst, len };

	if (len == 0)
		return 0;
	if (on_page((uintptr_t)dst, len, uipc__last_writable)) {
		memcpy(dst, src, len);
		return 0;
	}
	if (bad_user_ptr(dst, len))
		return -EFAULT;
	if (!all_known(&writable, (uintptr_t)dst, len) && vm_usable()) {
		ssize_t n = process_vm_writev(uipc__pid(), &local, 1, &remote, 1, 0);

		if (n == (ssize_t)len) {
			remember(&writable, (uintptr_t)dst, len);
			uipc__last_writable = ((uintptr_t)dst + len - 1) & ~(PAGE - 1);
			return 0;
		}
		if (vm_failed(n))
			return -EFAULT;
	}
	memcpy(dst, src, len);
	uipc__last_writable = ((uintptr_t)dst + len - 1) & ~(PAGE - 1);
	return 0;
}
