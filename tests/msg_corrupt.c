/*
 * msg_corrupt.c - a damaged or hostile file under the root never crashes or
 * hangs a process: every call returns, with a result or -1 and an errno.
 *
 * Design.  NLANES lane processes run in parallel, each in its own directory
 * under $UIPC_ROOT (given to the library through UIPC_ROOT, read at its first
 * call).  Neither the parent nor a lane ever calls the library, so every
 * child forked from a lane opens the files afresh.  A lane:
 *  1. creates, in a child, a keyed queue holding messages of many sizes (and
 *     a free list: some were received) and a second queue, and finds the
 *     queue's file: msg.<id> (or msg.<slot>; the same in a fresh root), and
 *     its other files msg.<id>.* if there are;
 *  2. snapshots its directory tree (regular files with their bytes and
 *     modes, symlinks with their targets, directories);
 *  3. for each of its iterations: restores the tree exactly (content, size,
 *     names; what the library removed or added is put back or removed),
 *     damages one of the queue's files (or, one iteration in 9, the
 *     'namespace' file) as the iteration's PRNG says - random bytes at random
 *     or at live (non-zero) offsets, ranges zeroed or set to 0xff, header
 *     fields set to edge values, the file truncated or extended - and forks a
 *     child that calls msgctl IPC_STAT/MSG_STAT/MSG_STAT_ANY/MSG_INFO/
 *     IPC_INFO/IPC_SET/IPC_RMID, msgget, msgsnd and msgrcv (all IPC_NOWAIT,
 *     with types, MSG_EXCEPT, MSG_NOERROR, MSG_COPY) on it.  One iteration in
 *     5 damages the file in place while the child has it mapped already.
 *     The child checks each result (-1 with an errno in 1..133, or a value in
 *     range; msgrcv and msgctl write nothing past the buffer they were given)
 *     and reports by its exit status; alarm() before each call catches a
 *     hang.  A call that takes over a second ends the iteration early
 *     (counted as "slow", not a failure): it keeps the run short when a
 *     damaged lock makes every call wait.
 *  4. sweeps the header: each 8-byte word of the first KiB of the queue's
 *     file set to 0, ~0, 2^40 and 0x7fffffff, and each word of the first 2
 *     KiB of its other file to 0 and ~0, one change per child, as above;
 *  5. restores the tree once more and checks that the queue works.
 * Another lane puts foreign things at an unused msg.<slot>, at the symlinks
 * that name the queue's slot and key (found as symlinks to the id, named
 * after the slot or key) and at namespace: empty files, random bytes, a
 * truncated or misplaced copy of a real queue, a directory, a FIFO, a
 * socket, symlinks (to /dev/zero, dangling, looping), links to odd ids; the
 * calls must return, and except for the namespace cases the real queue and
 * the creation and use of a new queue must work.
 *
 * Reproduce one iteration: UIPC_CORRUPT_ONLY=<n> (prints what it damaged);
 * UIPC_CORRUPT_SEED and UIPC_CORRUPT_ITERS change the run.  Truncating a
 * file that a process has mapped is not tested: the kernel sends SIGBUS on
 * access beyond the end of a mapped file, which no library can prevent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uipc.h"
#include "t.h"

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

#define NLANES 8
#define DEFAULT_ITERS 1600
#define CALL_ALARM 10		/* seconds: a call that does not return hangs */
#define MAX_ENTRIES 32
#define MAX_FAILS 24
#define NERR 134
#define BUFSZ 8192
#define GUARD 64
#define KEY_BASE 0x5eed0000

/* ---- shared results ---- */

enum {
	C_STAT, C_MSG_STAT, C_MSG_STAT_ANY, C_MSG_INFO, C_IPC_INFO, C_GET, C_RCV, C_RCV_NOERROR,
	C_RCV_EXCEPT, C_RCV_COPY, C_SND, C_SND_BIG, C_DRAIN, C_FILL, C_SET, C_GET_CREAT,
	C_GET_EXCL, C_RMID, C_GET_AGAIN, C_GET_PRIVATE, NCALLS
};
static const char *const call_name[NCALLS] = {
	"IPC_STAT", "MSG_STAT", "MSG_STAT_ANY", "MSG_INFO", "IPC_INFO", "msgget(key, 0)",
	"msgrcv(0)", "msgrcv(-3, MSG_NOERROR)", "msgrcv(2, MSG_EXCEPT)", "msgrcv(MSG_COPY)",
	"msgsnd(small)", "msgsnd(8192)", "msgrcv until error", "msgsnd until error", "IPC_SET",
	"msgget(key, IPC_CREAT)", "msgget(key, IPC_CREAT|IPC_EXCL)", "IPC_RMID",
	"msgget(key, IPC_CREAT) again", "msgget(IPC_PRIVATE)",
};

enum { PH_MSG, PH_SWEEP, PH_NS, PH_FOREIGN, NPHASES };
static const char *const phase_name[NPHASES] = {
	"msg file", "msg file header sweep", "namespace file", "foreign files",
};

struct stats {
	_Atomic long ok[NPHASES][NCALLS], err[NPHASES][NCALLS][NERR];
	_Atomic long iters[NPHASES], clean[NPHASES], slow[NPHASES], crash[NPHASES],
		hang[NPHASES], bad[NPHASES];
	_Atomic int nfail;
	char fail[MAX_FAILS][512];
	_Atomic int setup_failed;
	char setup_msg[NLANES + 1][300];
	_Atomic int pristine_bad;
	char pristine_msg[NLANES + 1][300];
	_Atomic int foreign_bad;
	char foreign_msg[MAX_FAILS][300];
	char detail[NLANES + 1][200];	/* the last child's complaint */
	_Atomic long nsweep;
};
static struct stats *st;

static void add_fail(char *arr, int n, _Atomic int *count, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add_fail(char *arr, int n, _Atomic int *count, const char *fmt, ...)
{
	int i = atomic_fetch_add(count, 1);
	if (i < n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(arr + (size_t)i * 300, 300, fmt, ap);
		va_end(ap);
	}
}

/* ---- PRNG: one stream per iteration ---- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rs;
static uint64_t rnd(void)
{
	rs += 0x9e3779b97f4a7c15ull;
	return mix64(rs);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* ---- directory snapshot and restore ---- */

enum etype { E_FILE, E_LINK, E_DIR };

struct entry {
	char name[256];			/* path relative to the lane's directory */
	enum etype type;
	mode_t mode;
	size_t size;
	unsigned char *data;
	char link[256];
	size_t *pages;			/* non-zero 4 KiB pages */
	size_t npages;
	size_t *live;			/* offsets of non-zero 8-byte words */
	size_t nlive;
};

struct lane {
	int no;
	char dir[512];
	int dfd;
	key_t key;
	int id, slot;
	int nmsgs;			/* in the queue after setup */
	struct entry e[MAX_ENTRIES];
	int n;
	int msg_entry, ns_entry;	/* indices in e[], or -1 */
	int part[4], nparts;		/* other files of the queue: msg.<id>.* */
};

static char snap_err[200];

static int read_file(struct lane *ln, struct entry *e)
{
	e->data = malloc(e->size + 1);
	e->pages = malloc((e->size / 4096 + 1) * sizeof(size_t));
	e->live = malloc((e->size / 8 + 1) * sizeof(size_t));
	int fd = openat(ln->dfd, e->name, O_RDONLY);
	ssize_t got = fd < 0 || !e->data || !e->pages || !e->live ? -1 :
		      pread(fd, e->data, e->size, 0);
	snprintf(snap_err, sizeof(snap_err), "%.100s: read %zd of %zu bytes: %s", e->name, got,
		 e->size, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)e->size)
		return -1;
	for (size_t off = 0; off < e->size; off += 4096) {
		size_t len = e->size - off < 4096 ? e->size - off : 4096;
		for (size_t i = 0; i < len; i++)
			if (e->data[off + i]) {
				e->pages[e->npages++] = off;
				break;
			}
	}
	for (size_t off = 0; off + 8 <= e->size; off += 8) {
		uint64_t w;
		memcpy(&w, e->data + off, 8);
		if (w)
			e->live[e->nlive++] = off;
	}
	return 0;
}

/* Records everything under 'sub' ("" for the lane's directory), parents first. */
static int snapshot_dir(struct lane *ln, const char *sub)
{
	int fd = *sub ? openat(ln->dfd, sub, O_RDONLY | O_DIRECTORY) : openat(ln->dfd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int r = 0;

	snprintf(snap_err, sizeof(snap_err), "opendir %s: %s", sub, strerror(errno));
	if (!d)
		return -1;
	while (!r && (de = readdir(d))) {
		struct stat sb;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(snap_err, sizeof(snap_err), "more than %d names", MAX_ENTRIES);
		if (ln->n == MAX_ENTRIES) {
			r = -1;
			break;
		}
		struct entry *e = &ln->e[ln->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s%s%.200s", sub, *sub ? "/" : "", de->d_name);
		snprintf(snap_err, sizeof(snap_err), "%.100s: %s", e->name, strerror(errno));
		if (fstatat(ln->dfd, e->name, &sb, AT_SYMLINK_NOFOLLOW)) {
			r = -1;
			break;
		}
		e->mode = sb.st_mode & 07777;
		if (S_ISLNK(sb.st_mode)) {
			ssize_t k = readlinkat(ln->dfd, e->name, e->link, sizeof(e->link) - 1);
			if (k < 0)
				r = -1;
			else
				e->link[k] = 0;
			e->type = E_LINK;
		} else if (S_ISDIR(sb.st_mode)) {
			e->type = E_DIR;
			r = snapshot_dir(ln, e->name);
		} else if (S_ISREG(sb.st_mode)) {
			e->type = E_FILE;
			e->size = (size_t)sb.st_size;
			r = read_file(ln, e);
		} else {
			snprintf(snap_err, sizeof(snap_err), "%.100s: not a file, directory or "
				 "symlink", e->name);
			r = -1;
		}
	}
	closedir(d);
	return r;
}

static int snapshot(struct lane *ln)
{
	ln->n = 0;
	return snapshot_dir(ln, "");
}

/* Removes 'name' under dfd, whatever it is (a directory with its content). */
static void remove_any(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
		return;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				remove_any(dirfd(d), de->d_name);
		closedir(d);
	}
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static int write_entry(int dfd, const struct entry *e, int fresh)
{
	int fd = fresh ? openat(dfd, e->name, O_RDWR | O_CREAT | O_EXCL, 0600)
		       : openat(dfd, e->name, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	int r = 0;
	/* Back to the snapshot: holes where it was zero, its bytes elsewhere. */
	if (ftruncate(fd, 0) || ftruncate(fd, (off_t)e->size) || fchmod(fd, e->mode))
		r = -1;
	for (size_t i = 0; !r && i < e->npages; i++) {
		size_t off = e->pages[i], len = e->size - off < 4096 ? e->size - off : 4096;
		if (pwrite(fd, e->data + off, len, (off_t)off) != (ssize_t)len)
			r = -1;
	}
	close(fd);
	return r;
}

/* Removes what is under 'sub' and not in the snapshot. */
static void remove_extra(struct lane *ln, const char *sub)
{
	int fd = *sub ? openat(ln->dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW) : openat(ln->dfd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat sb;
		int found = -1;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s%s%.250s", sub, *sub ? "/" : "", de->d_name);
		for (int i = 0; i < ln->n; i++)
			if (!strcmp(ln->e[i].name, path))
				found = i;
		if (found < 0)
			remove_any(ln->dfd, path);
		else if (ln->e[found].type == E_DIR &&
			 fstatat(ln->dfd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode))
			remove_extra(ln, path);
	}
	closedir(d);
}

/* Make the lane's directory exactly the snapshot again. */
static int restore(struct lane *ln)
{
	remove_extra(ln, "");
	for (int i = 0; i < ln->n; i++) {
		struct entry *e = &ln->e[i];
		struct stat sb;
		int have = fstatat(ln->dfd, e->name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
		if (e->type == E_LINK) {
			char buf[256];
			ssize_t k = have && S_ISLNK(sb.st_mode)
					    ? readlinkat(ln->dfd, e->name, buf, sizeof(buf) - 1) : -1;
			if (k >= 0 && (buf[k] = 0, !strcmp(buf, e->link)))
				continue;
			if (have)
				remove_any(ln->dfd, e->name);
			if (symlinkat(e->link, ln->dfd, e->name))
				return -1;
		} else if (e->type == E_DIR) {
			if (have && !S_ISDIR(sb.st_mode)) {
				remove_any(ln->dfd, e->name);
				have = 0;
			}
			if ((!have && mkdirat(ln->dfd, e->name, e->mode)) ||
			    fchmodat(ln->dfd, e->name, e->mode, 0))
				return -1;
		} else {
			if (have && !S_ISREG(sb.st_mode)) {
				remove_any(ln->dfd, e->name);
				have = 0;
			}
			if (write_entry(ln->dfd, e, !have))
				return -1;
		}
	}
	return 0;
}

/* ---- damage ---- */

static char desc[1024];
static size_t dlen;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;
	if (dlen >= sizeof(desc) - 1)
		return;
	va_start(ap, fmt);
	int k = vsnprintf(desc + dlen, sizeof(desc) - dlen, fmt, ap);
	va_end(ap);
	if (k > 0)
		dlen += (size_t)k;
	if (dlen > sizeof(desc) - 1)
		dlen = sizeof(desc) - 1;
}

/* An offset: anywhere, in the first page, or at a live word of the snapshot. */
static size_t pick_offset(const struct entry *e)
{
	switch (rnd_below(3)) {
	case 0:
		return rnd_below(e->size);
	case 1:
		return rnd_below(e->size < 4096 ? e->size : 4096);
	default:
		if (!e->nlive)
			return rnd_below(e->size);
		return e->live[rnd_below(e->nlive)] + rnd_below(8);
	}
}

static uint64_t edge_value(const struct entry *e, uint64_t old)
{
	static const uint64_t v[] = {
		0, 1, 2, 3, 7, 8, 24, 25, 40, 88, 127, 128, 129, 255, 4096, 32767, 32768,
		0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
		0x40000000, 0x40000001, 0xc0000000, 0x3fffffff, 0x100000000ull,
		0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull,
	};
	switch (rnd_below(6)) {
	case 0: return rnd();
	case 1: return old + 1;
	case 2: return old - 1;
	case 3: return e->size / (1 + rnd_below(256));
	default: return v[rnd_below(sizeof(v) / sizeof(v[0]))];
	}
}

static void put(int fd, const void *p, size_t len, size_t off)
{
	if (pwrite(fd, p, len, (off_t)off) != (ssize_t)len)
		note("[pwrite failed]");
}

/* One in-place change of the file (its size stays). */
static void damage_inplace(int fd, const struct entry *e)
{
	unsigned char buf[4096];
	size_t off, len;

	if (!e->size)
		return;
	switch (rnd_below(5)) {
	case 0:		/* random bytes */
		off = pick_offset(e);
		len = 1 + rnd_below(8);
		if (off + len > e->size)
			len = e->size - off;
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rnd();
		put(fd, buf, len, off);
		note(" bytes@%zu+%zu", off, len);
		break;
	case 1:		/* a range zeroed or set to 0xff */
	case 2: {
		int ff = rnd_below(2);
		off = pick_offset(e);
		len = 1 + rnd_below((size_t)1 << rnd_below(13));
		if (off + len > e->size)
			len = e->size - off;
		memset(buf, ff ? 0xff : 0, sizeof(buf));
		for (size_t done = 0; done < len;) {
			size_t k = len - done < sizeof(buf) ? len - done : sizeof(buf);
			put(fd, buf, k, off + done);
			done += k;
		}
		note(" %s@%zu+%zu", ff ? "ff" : "zero", off, len);
		break;
	}
	default: {	/* a header field or a live word set to an edge value */
		static const size_t widths[] = { 1, 2, 4, 8 };
		size_t w = widths[rnd_below(4)];
		if (rnd_below(2) || !e->nlive) {
			size_t lim = rnd_below(4) ? 512 : 4096;
			if (lim > e->size)
				lim = e->size;
			off = rnd_below(lim / w) * w;
		} else {
			off = e->live[rnd_below(e->nlive)] + rnd_below(8 / w) * w;
		}
		if (off + w > e->size)
			break;
		uint64_t old = 0, val;
		memcpy(&old, e->data + off, w);
		val = edge_value(e, old);
		put(fd, &val, w, off);
		note(" u%zu@%zu=%#llx", w * 8, off, (unsigned long long)val & (w == 8 ? ~0ull :
			((1ull << (w * 8)) - 1)));
		break;
	}
	}
}

/* A change of the file's size. */
static void damage_size(int fd, const struct entry *e)
{
	static const uint64_t huge[] = {
		(1ull << 32), (1ull << 32) + 1, (1ull << 40), (1ull << 40) + 1, (1ull << 44),
	};
	uint64_t size;

	if (rnd_below(2)) {
		static const uint64_t small[] = { 0, 1, 4, 8, 63, 64, 100, 200, 4095, 4096, 4097 };
		switch (rnd_below(4)) {
		case 0: size = small[rnd_below(sizeof(small) / sizeof(small[0]))]; break;
		case 1: size = e->size - 1 - rnd_below(256); break;
		case 2: size = e->size / 2; break;
		default: size = rnd_below(e->size); break;
		}
		if (size >= e->size)
			size = e->size ? e->size - 1 : 0;
		note(" truncate(%llu)", (unsigned long long)size);
	} else {
		switch (rnd_below(3)) {
		case 0: size = e->size + 1 + rnd_below(8); break;
		case 1: size = e->size + rnd_below(1 << 20); break;
		default: size = huge[rnd_below(sizeof(huge) / sizeof(huge[0]))]; break;
		}
		note(" extend(%llu)", (unsigned long long)size);
	}
	if (ftruncate(fd, (off_t)size))
		note("[ftruncate failed: %s]", strerror(errno));
	if (size > e->size && rnd_below(2)) {
		unsigned char buf[256];
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)rnd();
		size_t len = 1 + rnd_below(sizeof(buf));
		size_t off = e->size + rnd_below(size - e->size);
		if (off + len > size)
			len = size - off;
		put(fd, buf, len, off);
		note(" +bytes@%zu", off);
	}
}

/* ---- the calls ---- */

struct rbuf {
	long mtype;
	unsigned char text[BUFSZ + GUARD];
};

static int phase_now;
static int fail_code;		/* exit status of the child: 10 + call */
static int lane_no;
static double call_t0;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void begin(void)
{
	alarm(CALL_ALARM);
	call_t0 = now();
}

/*
 * Records the result r (and errno e) of call c; 'ok' says whether a
 * non-negative result is in range.  Ends the child if the result is wrong
 * (10 + c) or if the call was slow (3).
 */
static void end(int c, long r, int e, int ok)
{
	alarm(0);
	if (r == -1 && e > 0 && e < NERR) {
		atomic_fetch_add(&st->err[phase_now][c][e], 1);
	} else if (r >= 0 && ok) {
		atomic_fetch_add(&st->ok[phase_now][c], 1);
	} else {
		snprintf(st->detail[lane_no], sizeof(st->detail[lane_no]),
			 "%s returned %ld, errno %d%s", call_name[c], r, e,
			 r >= 0 ? " (out of range, or wrote past the buffer)" : "");
		fail_code = 10 + c;
	}
	if (fail_code)
		_exit(fail_code);
	if (now() - call_t0 > 1.0)
		_exit(3);
}

static int guard_intact(const struct rbuf *b, size_t bufsz)
{
	for (size_t i = bufsz; i < bufsz + GUARD; i++)
		if (b->text[i] != 0xa5)
			return 0;
	return 1;
}

/* msgrcv into a guarded buffer of bufsz bytes. */
static long rcv(int c, int id, size_t bufsz, long typ, int flg)
{
	static struct rbuf b;
	memset(b.text, 0xa5, bufsz + GUARD);
	begin();
	ssize_t n = uipc_msgrcv(id, &b, bufsz, typ, flg);
	int e = errno;
	end(c, n, e, n >= 0 && (size_t)n <= bufsz && guard_intact(&b, bufsz));
	return n;
}

static int snd(int c, int id, size_t len, long typ)
{
	static struct rbuf b;
	b.mtype = typ;
	for (size_t i = 0; i < len; i++)
		b.text[i] = (unsigned char)(i * 7);
	begin();
	int r = uipc_msgsnd(id, &b, len, IPC_NOWAIT);
	int e = errno;
	end(c, r, e, r == 0);
	return r;
}

static void ctl_stat(int c, int id, int cmd, struct msqid_ds *ds)
{
	static unsigned char g[sizeof(struct msqid_ds) + GUARD];
	memset(g, 0xa5, sizeof(g));
	begin();
	int r = uipc_msgctl(id, cmd, (struct msqid_ds *)g);
	int e = errno;
	int ok = 1;
	for (size_t i = sizeof(struct msqid_ds); i < sizeof(g); i++)
		ok &= g[i] == 0xa5;
	if (ds)
		memcpy(ds, g, sizeof(*ds));
	end(c, r, e, ok && (cmd == IPC_STAT ? r == 0 : 1));
}

static void get(int c, key_t key, int flg)
{
	begin();
	int r = uipc_msgget(key, flg);
	int e = errno;
	end(c, r, e, 1);
}

/*
 * Every call on queue 'id' (slot 'slot', key 'key').  With sync_fd >= 0,
 * after the first call (which maps the file) tell the lane and wait for it
 * to damage the file.
 */
static void calls(int id, int slot, key_t key, int sync_fd)
{
	struct msqid_ds ds;
	int stat_ok;

	memset(&ds, 0, sizeof(ds));
	ctl_stat(C_STAT, id, IPC_STAT, &ds);
	stat_ok = fail_code == 0 && ds.msg_qbytes != 0;
	if (sync_fd >= 0) {
		char ch = 'm';
		alarm(CALL_ALARM);
		if (write(sync_fd, &ch, 1) != 1 || read(sync_fd, &ch, 1) != 1)
			_exit(4);
		alarm(0);
	}
	ctl_stat(C_MSG_STAT, slot, MSG_STAT, NULL);
	ctl_stat(C_MSG_STAT_ANY, slot, MSG_STAT_ANY, NULL);
	ctl_stat(C_MSG_INFO, 0, MSG_INFO, NULL);
	ctl_stat(C_IPC_INFO, 0, IPC_INFO, NULL);
	get(C_GET, key, 0);
	rcv(C_RCV, id, BUFSZ, 0, IPC_NOWAIT);
	rcv(C_RCV_NOERROR, id, 50, -3, IPC_NOWAIT | MSG_NOERROR);
	rcv(C_RCV_EXCEPT, id, BUFSZ, 2, IPC_NOWAIT | MSG_EXCEPT);
	rcv(C_RCV_COPY, id, BUFSZ, 1, IPC_NOWAIT | MSG_COPY);
	snd(C_SND, id, rnd_below(300), 1 + (long)rnd_below(5));
	snd(C_SND_BIG, id, BUFSZ, 4);
	for (int i = 0; i < 64; i++)
		if (rcv(C_DRAIN, id, BUFSZ, 0, IPC_NOWAIT) < 0)
			break;
	for (int i = 0; i < 64; i++)
		if (snd(C_FILL, id, rnd_below(2000), 1 + (long)rnd_below(5)) < 0)
			break;
	if (!stat_ok) {
		ds.msg_perm.mode = 0600;
		ds.msg_qbytes = 16384;
	}
	ds.msg_perm.mode = (ds.msg_perm.mode & 0777) | 0600;
	begin();
	int r = uipc_msgctl(id, IPC_SET, &ds);
	end(C_SET, r, errno, r == 0);
	get(C_GET_CREAT, key, IPC_CREAT | 0600);
	get(C_GET_EXCL, key, IPC_CREAT | IPC_EXCL | 0600);
	begin();
	r = uipc_msgctl(id, IPC_RMID, NULL);
	end(C_RMID, r, errno, r == 0);
	get(C_GET_AGAIN, key, IPC_CREAT | 0600);
	get(C_GET_PRIVATE, IPC_PRIVATE, IPC_CREAT | 0600);
}

/* ---- a lane ---- */

static struct lane lane;

static void lane_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lane_fail(const char *fmt, ...)
{
	int i = atomic_fetch_add(&st->setup_failed, 1);
	if (i <= NLANES) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(st->setup_msg[i], sizeof(st->setup_msg[i]), fmt, ap);
		va_end(ap);
	}
}

/* Waits for child pid (whose calls have alarms); kills it after 'bound' s. */
static int wait_child(pid_t pid, int bound)
{
	int status = 0;
	for (long i = 0; i < bound * 1000L; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

static const size_t setup_sizes[] = { 0, 1, 40, 87, 88, 89, 120, 121, 200, 1000, 4000, 8192, 5, 300 };

/* In a child: create the lane's queue, fill it, leave some free blocks. */
static void __attribute__((noreturn)) setup_child(int *out_id)
{
	static struct rbuf b;
	struct msqid_ds ds;

	alarm(CALL_ALARM);
	int id = uipc_msgget(lane.key, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0)
		_exit(10);
	int n = (int)(sizeof(setup_sizes) / sizeof(setup_sizes[0]));
	for (int i = 0; i < n; i++) {
		b.mtype = 1 + i % 5;
		memset(b.text, 'a' + i, setup_sizes[i]);
		if (uipc_msgsnd(id, &b, setup_sizes[i], IPC_NOWAIT) != 0)
			_exit(11);
	}
	/* Receive two from the middle: free blocks, a list with a hole. */
	if (uipc_msgrcv(id, &b, BUFSZ, 4, IPC_NOWAIT) != (ssize_t)setup_sizes[3] ||
	    uipc_msgrcv(id, &b, BUFSZ, 5, IPC_NOWAIT) != (ssize_t)setup_sizes[4])
		_exit(12);
	if (uipc_msgctl(id, IPC_STAT, &ds) != 0 || ds.msg_qnum != (msgqnum_t)(n - 2))
		_exit(13);
	/* A second queue, without a key, so that the root holds two. */
	if (uipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0)
		_exit(14);
	*out_id = id;
	_exit(0);
}

/* The queue as setup left it: IPC_STAT, then every message in order. */
static int pristine_check(const char *when)
{
	pid_t pid = fork();
	if (pid == 0) {
		static struct rbuf b;
		struct msqid_ds ds;
		int n = (int)(sizeof(setup_sizes) / sizeof(setup_sizes[0]));
		unsigned long bytes = 0;
		alarm(CALL_ALARM);
		for (int i = 0; i < n; i++)
			if (i != 3 && i != 4)
				bytes += setup_sizes[i];
		if (uipc_msgctl(lane.id, IPC_STAT, &ds) != 0)
			_exit(20);
		if (ds.msg_qnum != (msgqnum_t)(n - 2) || ds.__msg_cbytes != bytes)
			_exit(21);
		for (int i = 0; i < n; i++) {
			if (i == 3 || i == 4)
				continue;
			ssize_t r = uipc_msgrcv(lane.id, &b, BUFSZ, 0, IPC_NOWAIT);
			if (r != (ssize_t)setup_sizes[i] || b.mtype != 1 + i % 5 ||
			    (r > 0 && (b.text[0] != 'a' + i || b.text[r - 1] != 'a' + i)))
				_exit(22);
		}
		if (uipc_msgrcv(lane.id, &b, BUFSZ, 0, IPC_NOWAIT) != -1 || errno != ENOMSG)
			_exit(23);
		if (uipc_msgget(lane.key, 0) != lane.id)
			_exit(24);
		_exit(0);
	}
	int status = wait_child(pid, 3 * CALL_ALARM);
	if (status != 0) {
		int i = atomic_fetch_add(&st->pristine_bad, 1);
		if (i <= NLANES)
			snprintf(st->pristine_msg[i], sizeof(st->pristine_msg[i]),
				 "lane %d, %s: the restored queue does not work: status %#x "
				 "(exit 20 IPC_STAT, 21 counters, 22 messages, 23 extra message, "
				 "24 msgget)", lane.no, when, status);
		return -1;
	}
	return 0;
}

static void record_outcome(int ph, long iter, int status, int mapped)
{
	const char *what = NULL;
	char why[200];

	atomic_fetch_add(&st->iters[ph], 1);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		atomic_fetch_add(&st->clean[ph], 1);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		atomic_fetch_add(&st->slow[ph], 1);
		return;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		atomic_fetch_add(&st->hang[ph], 1);
		what = "hang (a call did not return within the alarm)";
	} else if (WIFSIGNALED(status)) {
		atomic_fetch_add(&st->crash[ph], 1);
		snprintf(why, sizeof(why), "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		what = why;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) >= 10 &&
		   WEXITSTATUS(status) < 10 + NCALLS) {
		atomic_fetch_add(&st->bad[ph], 1);
		snprintf(why, sizeof(why), "bad result: %.150s", st->detail[lane_no]);
		what = why;
	} else {
		atomic_fetch_add(&st->bad[ph], 1);
		snprintf(why, sizeof(why), "child status %#x%s", status,
			 WIFEXITED(status) && WEXITSTATUS(status) == 1 ? " (a sanitizer's report?)" : "");
		what = why;
	}
	int i = atomic_fetch_add(&st->nfail, 1);
	if (i < MAX_FAILS)
		snprintf(st->fail[i], sizeof(st->fail[i]), "%s iteration %ld%s: %s; damage:%.250s",
			 phase_name[ph], iter, mapped ? " (file mapped)" : "", what, desc);
}

static uint64_t base_seed;

/* One iteration: damage the target, run the calls in a child. */
static void iteration(long iter, int verbose)
{
	int ph = (iter % 9 == 8 && lane.ns_entry >= 0) ? PH_NS : PH_MSG;
	int sv[2] = { -1, -1 };

	rs = mix64(base_seed ^ ((uint64_t)iter * 0x2545f4914f6cdd1dull));
	/* The queue's main file, or one of its other files (msg.<id>.data). */
	int which = ph == PH_NS ? lane.ns_entry : lane.msg_entry;
	if (ph == PH_MSG && lane.nparts && rnd_below(2))
		which = lane.part[rnd_below((uint64_t)lane.nparts)];
	struct entry *e = &lane.e[which];
	dlen = 0;
	desc[0] = 0;
	note(" %s", e->name);
	if (restore(&lane)) {
		lane_fail("lane %d: cannot restore its directory: %s", lane.no, strerror(errno));
		return;
	}
	int mapped = rnd_below(5) == 0;
	if (mapped && socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		mapped = 0;
	int fd = openat(lane.dfd, e->name, O_RDWR);
	if (fd < 0) {
		lane_fail("lane %d: cannot open %s: %s", lane.no, e->name, strerror(errno));
		return;
	}
	int nops = 1 + (int)rnd_below(3);
	if (!mapped) {
		for (int i = 0; i < nops; i++)
			damage_inplace(fd, e);
		if (rnd_below(4) == 0)
			damage_size(fd, e);
	}
	uint64_t child_seed = rnd();
	st->detail[lane_no][0] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fd);
		if (mapped)
			close(sv[0]);
		rs = child_seed;
		phase_now = ph;
		calls(lane.id, lane.slot, lane.key, mapped ? sv[1] : -1);
		_exit(0);
	}
	if (mapped) {
		char ch;
		close(sv[1]);
		/* The child has the file mapped once it says so (or it is gone). */
		if (read(sv[0], &ch, 1) == 1) {
			for (int i = 0; i < nops; i++)
				damage_inplace(fd, e);
			ch = 'g';
			if (write(sv[0], &ch, 1) != 1)
				note("[child gone]");
		}
		close(sv[0]);
	}
	close(fd);
	int status = wait_child(pid, 3 * CALL_ALARM);
	if (verbose)
		printf("# iteration %ld%s: damage:%s -> status %#x\n", iter,
		       mapped ? " (file mapped)" : "", desc, status);
	record_outcome(ph, iter, status, mapped);
}

/*
 * The sweep: every 8-byte word of the first SWEEP_MAIN bytes of the queue's
 * main file set to each of sweep_main[], and of the first SWEEP_PART bytes
 * of its first other file (if any) to each of sweep_part[].
 */
#define SWEEP_MAIN 1024
#define SWEEP_PART 2048
static const uint64_t sweep_main[] = { 0, ~0ull, 1ull << 40, 0x7fffffff };
static const uint64_t sweep_part[] = { 0, ~0ull };
#define NSWEEP_MAIN (sizeof(sweep_main) / sizeof(sweep_main[0]))
#define NSWEEP_PART (sizeof(sweep_part) / sizeof(sweep_part[0]))

static long sweep_words(int entry, size_t limit)
{
	size_t size = lane.e[entry].size < limit ? lane.e[entry].size : limit;
	return (long)(size / 8);
}

static long sweep_count(void)
{
	long n = sweep_words(lane.msg_entry, SWEEP_MAIN) * (long)NSWEEP_MAIN;
	if (lane.nparts)
		n += sweep_words(lane.part[0], SWEEP_PART) * (long)NSWEEP_PART;
	return n;
}

static void sweep_iteration(long j)
{
	long mainn = sweep_words(lane.msg_entry, SWEEP_MAIN) * (long)NSWEEP_MAIN;
	const struct entry *e;
	uint64_t val;
	size_t off;

	if (j < mainn) {
		e = &lane.e[lane.msg_entry];
		off = (size_t)(j / (long)NSWEEP_MAIN) * 8;
		val = sweep_main[j % (long)NSWEEP_MAIN];
	} else {
		j -= mainn;
		e = &lane.e[lane.part[0]];
		off = (size_t)(j / (long)NSWEEP_PART) * 8;
		val = sweep_part[j % (long)NSWEEP_PART];
		j += mainn;
	}
	dlen = 0;
	desc[0] = 0;
	note(" %s u64@%zu=%#llx", e->name, off, (unsigned long long)val);
	if (restore(&lane)) {
		lane_fail("lane %d: cannot restore its directory: %s", lane.no, strerror(errno));
		return;
	}
	int fd = openat(lane.dfd, e->name, O_RDWR);
	if (fd < 0) {
		lane_fail("lane %d: cannot open %s: %s", lane.no, e->name, strerror(errno));
		return;
	}
	put(fd, &val, 8, off);
	close(fd);
	st->detail[lane_no][0] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		rs = mix64(base_seed ^ 0x5eeb ^ (uint64_t)j);
		phase_now = PH_SWEEP;
		calls(lane.id, lane.slot, lane.key, -1);
		_exit(0);
	}
	record_outcome(PH_SWEEP, j, wait_child(pid, 3 * CALL_ALARM), 0);
}

/* Creates the lane's directory and queue; snapshots it; finds msg.<slot>. */
static int lane_setup(int no, const char *root, const char *sub)
{
	char names[600] = "", want[64];
	size_t nl = 0;

	lane.no = no;
	lane_no = no;
	lane.key = KEY_BASE + no;
	lane.msg_entry = lane.ns_entry = -1;
	snprintf(lane.dir, sizeof(lane.dir), "%s/%s", root, sub);
	if (mkdir(lane.dir, 01777) && errno != EEXIST) {
		lane_fail("mkdir %s: %s", lane.dir, strerror(errno));
		return -1;
	}
	chmod(lane.dir, 01777);
	lane.dfd = open(lane.dir, O_RDONLY | O_DIRECTORY);
	if (lane.dfd < 0) {
		lane_fail("open %s: %s", lane.dir, strerror(errno));
		return -1;
	}
	setenv("UIPC_ROOT", lane.dir, 1);	/* read by the library in each child */
	int *id = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (id == MAP_FAILED)
		return -1;
	*id = -1;
	pid_t pid = fork();
	if (pid == 0)
		setup_child(id);
	int status = wait_child(pid, 3 * CALL_ALARM);
	lane.id = *id;
	munmap(id, 4096);
	if (status != 0 || lane.id < 0) {
		lane_fail("lane %d: setting up the queue failed: status %#x", no, status);
		return -1;
	}
	lane.slot = lane.id % 32768;
	if (snapshot(&lane)) {
		lane_fail("lane %d: cannot snapshot %s: %s", no, lane.dir, snap_err);
		return -1;
	}
	for (int i = 0; i < lane.n; i++) {
		nl += (size_t)snprintf(names + nl, sizeof(names) - nl, " %s%s", lane.e[i].name,
				       lane.e[i].type == E_LINK ? "@" : lane.e[i].type == E_DIR ? "/" : "");
		if (nl >= sizeof(names))
			nl = sizeof(names) - 1;
	}
	/* The queue's file: msg.<slot> or msg.<id> (the same in a fresh root). */
	snprintf(want, sizeof(want), "msg.%d", lane.id);
	for (int i = 0; i < lane.n; i++) {
		char alt[64];
		snprintf(alt, sizeof(alt), "msg.%d", lane.slot);
		if ((!strcmp(lane.e[i].name, want) || !strcmp(lane.e[i].name, alt)) &&
		    lane.e[i].type == E_FILE)
			lane.msg_entry = i;
		if (!strcmp(lane.e[i].name, "namespace") && lane.e[i].type == E_FILE)
			lane.ns_entry = i;
		size_t wl = strlen(want);
		if (!strncmp(lane.e[i].name, want, wl) && lane.e[i].name[wl] == '.' &&
		    lane.e[i].type == E_FILE && lane.nparts < 4)
			lane.part[lane.nparts++] = i;
	}
	if (lane.msg_entry < 0) {
		lane_fail("lane %d: queue id %d but no regular file %s; the root holds:%s", no,
			  lane.id, want, names);
		return -1;
	}
	if (no == 0)
		printf("# names in a root with two queues:%s (@: symlink, /: directory)\n", names);
	return 0;
}

static long total_hangs(void)
{
	long n = 0;
	for (int p = 0; p < NPHASES; p++)
		n += atomic_load(&st->hang[p]);
	return n;
}

#define MAX_HANGS 8	/* then stop: the test failed, keep it short */

static void __attribute__((noreturn)) lane_main(int no, const char *root, long iters, long only)
{
	char sub[32];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(sub, sizeof(sub), "lane%d", no);
	if (lane_setup(no, root, sub))
		_exit(1);
	if (pristine_check("before damage"))
		_exit(1);
	for (long i = no; i < iters; i += NLANES) {
		if (only >= 0 && i != only)
			continue;
		if (total_hangs() >= MAX_HANGS)
			break;
		iteration(i, only >= 0);
	}
	long nsweep = sweep_count();
	if (no == 0)
		atomic_store(&st->nsweep, nsweep);
	for (long j = no; only < 0 && j < nsweep && total_hangs() < MAX_HANGS; j += NLANES)
		sweep_iteration(j);
	if (restore(&lane) || pristine_check("after the damage, restored"))
		_exit(1);
	_exit(0);
}

/* ---- foreign files ---- */

enum fkind {
	F_EMPTY, F_BYTE, F_RAND64, F_RAND4096, F_RAND1M, F_HEAD, F_COPY, F_DIR, F_FIFO, F_SOCK,
	F_LN_ZERO, F_LN_NULL, F_LN_REAL, F_LN_LOOP, F_LN_DANGLING,
	/* key links only */
	F_KEY_GARBAGE, F_KEY_NEG, F_KEY_MAX, F_KEY_HUGE, F_KEY_LONG, F_KEY_REAL, F_KEY_FOREIGN,
	F_COUNT
};
static const char *const fkind_name[F_COUNT] = {
	"empty file", "1 byte", "64 random bytes", "4096 random bytes", "1 MiB random bytes",
	"first 4096 bytes of a queue", "copy of another queue", "directory", "FIFO", "socket",
	"symlink to /dev/zero", "symlink to /dev/null", "symlink to another queue",
	"symlink to itself", "dangling symlink",
	"key link to 'garbage'", "key link to -1", "key link to INT_MAX",
	"key link to 99999999999999999999", "key link to 200 digits",
	"key link to a queue with another key", "key link to the foreign slot",
};

static int make_random_file(int dfd, const char *name, size_t size)
{
	int fd = openat(dfd, name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unsigned char buf[4096];
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t k = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t i = 0; i < k; i++)
			buf[i] = (unsigned char)rnd();
		if (pwrite(fd, buf, k, (off_t)off) != (ssize_t)k) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/* Puts a foreign thing of kind k at 'name'.  0, or -1 if it cannot be made. */
static int make_foreign(const char *name, enum fkind k, int fslot)
{
	const struct entry *q = &lane.e[lane.msg_entry];
	char target[512];

	remove_any(lane.dfd, name);
	switch (k) {
	case F_EMPTY: return make_random_file(lane.dfd, name, 0);
	case F_BYTE: return make_random_file(lane.dfd, name, 1);
	case F_RAND64: return make_random_file(lane.dfd, name, 64);
	case F_RAND4096: return make_random_file(lane.dfd, name, 4096);
	case F_RAND1M: return make_random_file(lane.dfd, name, 1 << 20);
	case F_HEAD:
	case F_COPY: {
		int fd = openat(lane.dfd, name, O_RDWR | O_CREAT | O_TRUNC, 0600);
		size_t len = k == F_HEAD && q->size > 4096 ? 4096 : q->size;
		if (fd < 0)
			return -1;
		int r = ftruncate(fd, (off_t)len) || pwrite(fd, q->data, len, 0) != (ssize_t)len;
		close(fd);
		return r ? -1 : 0;
	}
	case F_DIR: return mkdirat(lane.dfd, name, 0700);
	case F_FIFO: return mkfifoat(lane.dfd, name, 0600);
	case F_SOCK: {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s", lane.dir, name) >=
		    sizeof(a.sun_path))
			return -1;
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s < 0)
			return -1;
		int r = bind(s, (struct sockaddr *)&a, sizeof(a));
		close(s);
		return r;
	}
	case F_LN_ZERO: return symlinkat("/dev/zero", lane.dfd, name);
	case F_LN_NULL: return symlinkat("/dev/null", lane.dfd, name);
	case F_LN_REAL: return symlinkat(q->name, lane.dfd, name);
	case F_LN_LOOP: return symlinkat(name, lane.dfd, name);
	case F_LN_DANGLING: return symlinkat("no-such-file", lane.dfd, name);
	case F_KEY_GARBAGE: return symlinkat("garbage", lane.dfd, name);
	case F_KEY_NEG: return symlinkat("-1", lane.dfd, name);
	case F_KEY_MAX: return symlinkat("2147483647", lane.dfd, name);
	case F_KEY_HUGE: return symlinkat("99999999999999999999", lane.dfd, name);
	case F_KEY_LONG:
		memset(target, '9', 200);
		target[200] = 0;
		return symlinkat(target, lane.dfd, name);
	case F_KEY_REAL:
		snprintf(target, sizeof(target), "%d", lane.id);
		return symlinkat(target, lane.dfd, name);
	case F_KEY_FOREIGN:
		snprintf(target, sizeof(target), "%d", fslot);
		return symlinkat(target, lane.dfd, name);
	case F_COUNT: break;
	}
	return -1;
}

enum ftarget { T_SLOT, T_SLOTLINK, T_KEY, T_NS };
static const char *const ftarget_name[] = { "msg.<slot>", "slot link", "key link", "namespace" };

/*
 * In a child: the calls around a foreign thing in slot fslot / key fkey.
 * With 'others' also checks that the real queue and creation still work
 * (exit 5 if not).
 */
static void __attribute__((noreturn)) foreign_child(int fslot, key_t fkey, int others)
{
	static struct rbuf b;
	struct msqid_ds ds;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	phase_now = PH_FOREIGN;
	for (int seq = 0; seq < 3; seq++)
		ctl_stat(C_STAT, seq * 32768 + fslot, IPC_STAT, NULL);
	ctl_stat(C_MSG_STAT, fslot, MSG_STAT, NULL);
	ctl_stat(C_MSG_STAT_ANY, fslot, MSG_STAT_ANY, NULL);
	ctl_stat(C_MSG_INFO, 0, MSG_INFO, NULL);
	ctl_stat(C_IPC_INFO, 0, IPC_INFO, NULL);
	rcv(C_RCV, fslot, BUFSZ, 0, IPC_NOWAIT);
	rcv(C_RCV_COPY, fslot, BUFSZ, 0, IPC_NOWAIT | MSG_COPY);
	snd(C_SND, fslot, 10, 1);
	get(C_GET, fkey, 0);
	get(C_GET_CREAT, fkey, IPC_CREAT | 0600);
	get(C_GET_EXCL, fkey, IPC_CREAT | IPC_EXCL | 0600);
	begin();
	int r = uipc_msgctl(fslot, IPC_RMID, NULL);
	end(C_RMID, r, errno, r == 0);
	if (!others)
		_exit(0);
	/* A foreign name beside them does not disturb the real queue ... */
	char *d = st->detail[lane_no];
	size_t dsz = sizeof(st->detail[lane_no]);
	alarm(CALL_ALARM);
	if ((r = uipc_msgctl(lane.id, IPC_STAT, &ds)) != 0 || ds.msg_qnum != (msgqnum_t)lane.nmsgs) {
		snprintf(d, dsz, "IPC_STAT of the real queue: %d %s, msg_qnum %lu", r,
			 r ? strerror(errno) : "", (unsigned long)ds.msg_qnum);
		_exit(5);
	}
	if ((r = uipc_msgget(lane.key, 0)) != lane.id) {
		snprintf(d, dsz, "msgget of the real queue's key: %d %s", r, strerror(errno));
		_exit(5);
	}
	/* ... nor the creation and use of a new one. */
	int id = uipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	b.mtype = 3;
	memset(b.text, 'z', 100);
	if (id < 0) {
		snprintf(d, dsz, "msgget(IPC_PRIVATE): %s", strerror(errno));
		_exit(5);
	}
	if (uipc_msgsnd(id, &b, 100, IPC_NOWAIT) != 0 ||
	    uipc_msgrcv(id, &b, BUFSZ, 3, IPC_NOWAIT) != 100 ||
	    uipc_msgctl(id, IPC_RMID, NULL) != 0) {
		snprintf(d, dsz, "new queue %d: msgsnd/msgrcv/IPC_RMID: %s", id, strerror(errno));
		_exit(5);
	}
	_exit(0);
}

static void __attribute__((noreturn)) foreign_main(const char *root)
{
	char name[300], keyname[300] = "", slotname[300] = "";
	int n = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rs = mix64(base_seed ^ 0xf0f0f0f0);
	if (lane_setup(NLANES, root, "foreign"))
		_exit(1);
	lane.nmsgs = (int)(sizeof(setup_sizes) / sizeof(setup_sizes[0])) - 2;
	int fslot = (lane.slot + 7) % 32768;
	key_t fkey = lane.key + 0x100;
	/* The key link's name, as the library spells it: the link to our id. */
	char idtext[32], keyhex[16], slotsuffix[32];
	snprintf(idtext, sizeof(idtext), "%d", lane.id);
	snprintf(keyhex, sizeof(keyhex), "%08x", (unsigned)lane.key);
	snprintf(slotsuffix, sizeof(slotsuffix), ".%d", lane.slot);
	for (int i = 0; i < lane.n; i++) {
		const char *nm = lane.e[i].name, *p;
		size_t l = strlen(nm), sl = strlen(slotsuffix);
		if (lane.e[i].type != E_LINK || strcmp(lane.e[i].link, idtext))
			continue;
		if ((p = strstr(nm, keyhex)))
			snprintf(keyname, sizeof(keyname), "%.*s%08x%s", (int)(p - nm), nm,
				 (unsigned)fkey, p + 8);
		else if (l > sl && !strcmp(nm + l - sl, slotsuffix))
			snprintf(slotname, sizeof(slotname), "%.*s.%d", (int)(l - sl), nm, fslot);
	}
	if (!keyname[0])
		printf("# no key link found (a symlink to the id named after the key): key "
		       "link cases skipped\n");
	if (!slotname[0])
		printf("# no slot link found (a symlink to the id named after the slot): slot "
		       "link cases skipped\n");
	for (int t = T_SLOT; t <= T_NS; t++) {
		for (int k = 0; k < F_COUNT; k++) {
			int is_link = t == T_KEY || t == T_SLOTLINK;
			if (!is_link && k >= F_KEY_GARBAGE)
				continue;
			if ((t == T_KEY && !keyname[0]) || (t == T_SLOTLINK && !slotname[0]))
				continue;
			if (t == T_SLOT)
				snprintf(name, sizeof(name), "msg.%d", fslot);
			else if (t == T_SLOTLINK)
				snprintf(name, sizeof(name), "%s", slotname);
			else if (t == T_KEY)
				snprintf(name, sizeof(name), "%s", keyname);
			else
				snprintf(name, sizeof(name), "namespace");
			if (restore(&lane)) {
				lane_fail("foreign: cannot restore the directory");
				_exit(1);
			}
			if (make_foreign(name, (enum fkind)k, fslot)) {
				add_fail(&st->foreign_msg[0][0], MAX_FAILS, &st->foreign_bad,
					 "cannot make %s as %s: %s", fkind_name[k], name, strerror(errno));
				continue;
			}
			st->detail[lane_no][0] = 0;
			pid_t pid = fork();
			if (pid == 0)
				foreign_child(fslot, fkey, t != T_NS);
			int status = wait_child(pid, 3 * CALL_ALARM);
			n++;
			dlen = 0;
			note(" %s as %s (%s)", fkind_name[k], name, ftarget_name[t]);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 5) {
				add_fail(&st->foreign_msg[0][0], MAX_FAILS, &st->foreign_bad,
					 "%.120s: %.170s", desc + 1, st->detail[lane_no]);
				status = 0;
			}
			record_outcome(PH_FOREIGN, n, status, 0);
		}
	}
	if (restore(&lane) || pristine_check("after the foreign files, restored"))
		_exit(1);
	_exit(0);
}

/* ---- main ---- */

static void report_calls(int ph)
{
	for (int c = 0; c < NCALLS; c++) {
		char line[1024];
		size_t l = 0;
		long ok = atomic_load(&st->ok[ph][c]);
		l += (size_t)snprintf(line + l, sizeof(line) - l, "#   %-34s %6ld ok", call_name[c], ok);
		for (int e = 1; e < NERR && l < sizeof(line) - 40; e++) {
			long k = atomic_load(&st->err[ph][c][e]);
			if (k)
				l += (size_t)snprintf(line + l, sizeof(line) - l, ", %ld %s", k,
						      strerrorname_np(e) ? strerrorname_np(e) : "?");
		}
		printf("%s\n", line);
	}
}

int main(void)
{
	const char *env;
	long iters = DEFAULT_ITERS, only = -1;
	char tmp[] = "/dev/shm/uipc-corrupt.XXXXXX";
	const char *root = getenv("UIPC_ROOT");
	int own_root = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	base_seed = 0x5eed;
	if ((env = getenv("UIPC_CORRUPT_SEED")) && *env)
		base_seed = strtoull(env, NULL, 0);
	if ((env = getenv("UIPC_CORRUPT_ITERS")) && *env)
		iters = strtol(env, NULL, 0);
	if ((env = getenv("UIPC_CORRUPT_ONLY")) && *env) {
		only = strtol(env, NULL, 0);
		if (only >= iters)
			iters = only + 1;
	}
	/* Never call the library here: lanes must fork children that have not. */
	if (!root || !*root) {
		if (!mkdtemp(tmp)) {
			perror("mkdtemp");
			return 77;
		}
		root = tmp;
		own_root = 1;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED) {
		perror("mmap");
		return 77;
	}

	pid_t lanes[NLANES + 1];
	int nl = 0;
	for (int i = 0; i < NLANES; i++) {
		if (only >= 0 && only % NLANES != i)
			continue;
		pid_t pid = fork();
		if (pid == 0)
			lane_main(i, root, iters, only);
		lanes[nl++] = pid;
	}
	if (only < 0) {
		pid_t pid = fork();
		if (pid == 0)
			foreign_main(root);
		lanes[nl++] = pid;
	}
	int lanes_ok = 1;
	for (int i = 0; i < nl; i++) {
		int status;
		waitpid(lanes[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			lanes_ok = 0;
	}

	t_case("msg_corrupt: set up queues, find msg.<slot>, restore them intact");
	int nsf = atomic_load(&st->setup_failed);
	for (int i = 0; i < nsf && i <= NLANES; i++)
		T_FAIL("%s", st->setup_msg[i]);
	int npb = atomic_load(&st->pristine_bad);
	for (int i = 0; i < npb && i <= NLANES; i++)
		T_FAIL("%s", st->pristine_msg[i]);
	if (!lanes_ok && !nsf && !npb)
		T_FAIL("a lane failed");
	t_done();

	long expect_ns = 0;
	for (long i = 0; i < iters; i++)
		if ((only < 0 || i == only) && i % 9 == 8)
			expect_ns++;
	for (int ph = 0; ph < NPHASES; ph++) {
		char name[128];
		long it = atomic_load(&st->iters[ph]);
		if (only >= 0 && (ph == PH_FOREIGN || ph == PH_SWEEP))
			continue;
		snprintf(name, sizeof(name), "msg_corrupt: %s: every call returns, no signal",
			 phase_name[ph]);
		t_case(name);
		long crash = atomic_load(&st->crash[ph]), hang = atomic_load(&st->hang[ph]),
		     bad = atomic_load(&st->bad[ph]);
		if (crash || hang || bad)
			T_FAIL("%ld iterations: %ld crashed, %ld hung, %ld gave a bad result", it,
			       crash, hang, bad);
		if (ph == PH_MSG && total_hangs() < MAX_HANGS)
			CHECK_EQ(it, (only >= 0 ? 1 : iters) - expect_ns);
		if (ph == PH_NS && total_hangs() < MAX_HANGS)
			CHECK_EQ(it, expect_ns);
		if (ph == PH_SWEEP && only < 0 && total_hangs() < MAX_HANGS)
			CHECK_EQ(it, atomic_load(&st->nsweep));
		if (ph == PH_FOREIGN) {
			int nf = atomic_load(&st->foreign_bad);
			for (int i = 0; i < nf && i < MAX_FAILS; i++)
				T_FAIL("%s", st->foreign_msg[i]);
			CHECK(it > 0);
		}
		printf("# %s: %ld iterations, %ld with every call returning quickly, %ld ended "
		       "early by a slow call (over 1 s), %ld crashed, %ld hung, %ld bad\n",
		       phase_name[ph], it, atomic_load(&st->clean[ph]), atomic_load(&st->slow[ph]),
		       crash, hang, bad);
		report_calls(ph);
		t_done();
	}
	int nf = atomic_load(&st->nfail);
	for (int i = 0; i < nf && i < MAX_FAILS; i++)
		fprintf(stderr, "failure: %s\n", st->fail[i]);
	if (nf)
		fprintf(stderr, "reproduce one with UIPC_CORRUPT_SEED=%#llx UIPC_CORRUPT_ONLY=<n>\n",
			(unsigned long long)base_seed);
	if (total_hangs() >= MAX_HANGS)
		fprintf(stderr, "stopped after %d hangs\n", MAX_HANGS);
	if (own_root) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp);
	}
	return t_exit();
}
