/*
 * creds.c - the caller's credentials, and the kernel's permission rules.
 *
 * The kernel checks permissions on every msgsnd/msgrcv.  Asking the kernel
 * for the effective ids, groups and capabilities costs system calls, so they
 * are cached per process: read at the first call, read again by every get
 * and ctl call (slow paths anyway), and marked stale by the preload library's
 * wrappers of setuid(), setgroups(), capset() and friends.  A program that
 * links libuipc directly and changes credentials between two msgsnd calls on
 * an object it already opened is checked with the old credentials until its
 * next get or ctl call.
 *
 * A cached struct creds is immutable; a refresh that finds different values
 * publishes a new one and never frees the old one (a racing thread may still
 * read it), so memory grows only when credentials really change.
 *
 * Privilege comes from capabilities, as in the kernel: CAP_IPC_OWNER bypasses
 * the mode bits, CAP_SYS_ADMIN allows IPC_SET/IPC_RMID on others' objects,
 * CAP_SYS_RESOURCE allows msg_qbytes above msgmnb.  A root process that
 * dropped them is refused.
 */
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

static _Atomic(struct creds *) current;
static _Atomic int stale = 1;
static _Atomic pid_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void forget_pid(void)
{
	atomic_store(&cached_pid, 0);
}

static void watch_fork(void)
{
	pthread_atfork(NULL, NULL, forget_pid);
}

/* getpid() is a system call in current glibc: cache it, forget it at fork. */
pid_t uipc__pid(void)
{
	pid_t p = atomic_load_explicit(&cached_pid, memory_order_relaxed);

	if (likely(p))
		return p;
	pthread_once(&pid_once, watch_fork);
	p = getpid();
	atomic_store(&cached_pid, p);
	return p;
}

static uint64_t effective_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return geteuid() == 0 ? ~0ull : 0;
	return (uint64_t)data[1].effective << 32 | data[0].effective;
}

static bool same_creds(const struct creds *a, const struct creds *b)
{
	return a->euid == b->euid && a->egid == b->egid && a->caps == b->caps &&
	       a->ngroups == b->ngroups &&
	       !memcmp(a->groups, b->groups, sizeof(gid_t) * (size_t)a->ngroups);
}

const struct creds *uipc__creds_refresh(void)
{
	struct creds *c, *old = atomic_load(&current);
	int n = getgroups(0, NULL);

	if (n < 0)
		n = 0;
	c = malloc(sizeof(*c) + sizeof(gid_t) * (size_t)(n + 1));
	if (!c)
		return old;	/* keep the last known credentials */
	c->euid = geteuid();
	c->egid = getegid();
	c->ngroups = n ? getgroups(n, c->groups) : 0;
	if (c->ngroups < 0)
		c->ngroups = 0;
	c->caps = effective_caps();
	atomic_store(&stale, 0);
	if (old && same_creds(old, c)) {
		free(c);
		return old;
	}
	atomic_store(&current, c);
	return c;
}

const struct creds *uipc__creds(void)
{
	struct creds *c = atomic_load_explicit(&current, memory_order_acquire);

	if (likely(c && !atomic_load_explicit(&stale, memory_order_relaxed)))
		return c;
	return uipc__creds_refresh();
}

void uipc__creds_changed(void)
{
	atomic_store(&stale, 1);
}

bool uipc__capable(const struct creds *c, int cap)
{
	return c->caps & CAP_BIT(cap);
}

static bool in_group(const struct creds *c, uint64_t gid)
{
	int i;

	if (c->egid == gid)
		return true;
	for (i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/*
 * The kernel's ipcperms(): 'flag' carries the requested rwx bits in any of
 * the three positions (S_IRUGO, S_IWUGO, or a msgget mode).  Returns 0 or
 * -EACCES.
 */
int uipc__ipcperms(const struct creds *c, const struct uipc_perm *p, int flag)
{
	unsigned requested = (unsigned)((flag >> 6) | (flag >> 3) | flag);
	unsigned granted = (unsigned)p->mode;

	if (c->euid == p->cuid || c->euid == p->uid)
		granted >>= 6;
	else if (in_group(c, p->cgid) || in_group(c, p->gid))
		granted >>= 3;
	if ((requested & ~granted & 0007) && !uipc__capable(c, UIPC_CAP_IPC_OWNER))
		return -EACCES;
	return 0;
}

/* May the caller IPC_SET or IPC_RMID the object? (ipcctl_obtain_check) */
bool uipc__may_change(const struct creds *c, const struct uipc_perm *p)
{
	return c->euid == p->cuid || c->euid == p->uid ||
	       uipc__capable(c, UIPC_CAP_SYS_ADMIN);
}

/*
 * The mode of an object's file, so that the kernel refuses to open it for a
 * user whom uipc would refuse everything.  The file belongs to the creator
 * (cuid, cgid), who may always open it (IPC_RMID and IPC_SET need no mode
 * bits).  Once the owner uid differs from the creator, anyone may be that
 * owner, so every class may open it.  Otherwise the group class may open it
 * if the IPC group bits grant anything, others if the other bits do, or the
 * group bits when the owner's group is not the creator's.  uipc then applies
 * ipcperms() itself, for read versus write.
 */
unsigned uipc__file_mode(const struct uipc_perm *p)
{
	unsigned g = (p->mode >> 3) & 7, o = p->mode & 7;

	if (p->uid != p->cuid)
		return 0666;
	if (p->gid != p->cgid)
		o |= g;
	return 0600 | (g ? 0060 : 0) | (o ? 0006 : 0);
}
