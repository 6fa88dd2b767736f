/*
 * corrupt.h - the machinery of the damaged-file tests (msg_corrupt.c,
 * sem_corrupt.c): lanes, snapshots, damage, checked calls, counting, report.
 *
 * A test runs NLANES lanes and a foreign-files lane, each a process with its
 * own directory under the root (the library's UIPC_ROOT in the children it
 * forks).  A lane builds an object in a child, snapshots its directory
 * (struct lane: files with their bytes, symlinks, directories), and for each
 * iteration restores the snapshot, damages files (damage_inplace(),
 * damage_size(): random bytes, ranges, edge values, sizes, from the PRNG
 * seeded per iteration) and forks a child that makes checked calls: begin()
 * before and end() after each, which counts the result by phase, call and
 * errno in the shared results and ends the child with 10 + call on a wrong
 * result or 3 on a slow call.  The lane counts the child's status
 * (count_outcome()).  The foreign lane puts foreign things where the
 * library looks for names (foreign_cases()).  main() reports by phase.
 *
 * Before including this header the test defines: its calls (an enum ending
 * in NCALLS) and call_name[NCALLS]; OBJ, the prefix of the object's files
 * ("msg"), and OBJ_NOUN ("queue"); FILES_PHASE and SWEEP_PHASE, the names
 * of its damage and sweep phases; EDGE_VALUES, the values damage_inplace()
 * sets words to; HEAD_BYTES, where it looks for header words; NAME_EACH_DAMAGE,
 * 1 to name the file in each damage's description; CLEAR_ERRNO, 1 to clear
 * errno before each call.  After it, it defines record_outcome() and
 * foreign_child(), declared below.
 */
#ifndef UIPC_CORRUPT_H
#define UIPC_CORRUPT_H

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
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

#define NLANES 8
#define CALL_ALARM 10		/* seconds: a call that does not return hangs */
#define MAX_ENTRIES 32
#define MAX_FAILS 24
#define MAX_HANGS 8		/* then stop: the test failed, keep it short */
#define NERR 134
#define GUARD 64
#define RESULTS_GUARD (64 << 20)	/* inaccessible bytes each side of the results */

enum { PH_FILES, PH_SWEEP, PH_NS, PH_FOREIGN, NPHASES };
static const char *const phase_name[NPHASES] = {
	FILES_PHASE, SWEEP_PHASE, "namespace file", "foreign files",
};

/* ---- the results, shared by all processes ---- */

struct results {
	_Atomic long ok[NPHASES][NCALLS], err[NPHASES][NCALLS][NERR];
	_Atomic long iters[NPHASES], clean[NPHASES], slow[NPHASES], crash[NPHASES],
		hang[NPHASES], bad[NPHASES];
	_Atomic int nfail;
	char fail[MAX_FAILS][640];	/* crashes, hangs, odd exits */
	_Atomic int setup_failed;
	char setup_msg[NLANES + 1][300];
	_Atomic int pristine_bad;
	char pristine_msg[NLANES + 1][300];
	_Atomic int foreign_bad;
	char foreign_msg[MAX_FAILS][300];
	char detail[NLANES + 1][200];	/* the last child's complaint */
	int detail_kind[NLANES + 1];	/* 0 out of range, 1 -1 without errno, 2 negative */
	long nsweep[NLANES + 1];	/* the sweep changes a lane plans */
};
static struct results *res;

/*
 * Maps the results, and 'extra' bytes of the test's own after them,
 * between two inaccessible regions: a child whose library writes past the
 * end of its mapping (as a bug may) faults there instead of scribbling over
 * them.  Returns the extra bytes, or NULL.
 */
static void *map_results(size_t extra)
{
	size_t rsz = (sizeof(*res) + 4095) & ~(size_t)4095, sz = (rsz + extra + 4095) & ~(size_t)4095;
	char *area = mmap(NULL, sz + 2 * RESULTS_GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			  MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	res = mmap(area + RESULTS_GUARD, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS |
		   MAP_FIXED, -1, 0);
	return res == MAP_FAILED ? NULL : (char *)res + rsz;
}

/* Appends a message to arr[n][300], counted by *count. */
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

/* A lane could not set up or restore its object. */
static void lane_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lane_fail(const char *fmt, ...)
{
	int i = atomic_fetch_add(&res->setup_failed, 1);
	if (i <= NLANES) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(res->setup_msg[i], sizeof(res->setup_msg[i]), fmt, ap);
		va_end(ap);
	}
}

/* ---- the run's settings ---- */

static uint64_t base_seed;
static long iters, only = -1;	/* only: the one iteration to run, or -1 */
static const char *root;	/* the lanes' directories are under it */
static char own_root[] = "/dev/shm/uipc-corrupt.XXXXXX";

/* UIPC_CORRUPT_SEED and UIPC_CORRUPT_ITERS, or the test's defaults. */
static void read_settings(uint64_t seed, long default_iters)
{
	const char *env;
	base_seed = seed;
	iters = default_iters;
	if ((env = getenv("UIPC_CORRUPT_SEED")) && *env)
		base_seed = strtoull(env, NULL, 0);
	if ((env = getenv("UIPC_CORRUPT_ITERS")) && *env)
		iters = strtol(env, NULL, 0);
}

/* $UIPC_ROOT, or a directory of our own (removed by remove_own_root()). 0 or -1. */
static int make_root(void)
{
	root = getenv("UIPC_ROOT");
	if (root && *root)
		return 0;
	if (!mkdtemp(own_root)) {
		perror("mkdtemp");
		return -1;
	}
	root = own_root;
	return 0;
}

static void remove_own_root(void)
{
	char cmd[128];
	if (root != own_root)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", own_root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", own_root);
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

/* ---- a lane's directory: snapshot and restore ---- */

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
	int id, slot;			/* of its object */
	struct entry e[MAX_ENTRIES];	/* the snapshot */
	int n;
	int ns_entry;			/* the namespace file in e[], or -1 */
};
static struct lane lane;

static char snap_err[200];

static int read_entry(struct lane *ln, struct entry *e)
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
	int fd = openat(ln->dfd, *sub ? sub : ".", O_RDONLY | O_DIRECTORY);
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
			r = read_entry(ln, e);
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
	int fd = openat(ln->dfd, *sub ? sub : ".", O_RDONLY | O_DIRECTORY | (*sub ? O_NOFOLLOW : 0));
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

/*
 * Makes the lane's directory root/sub and the library's root in the
 * children forked from now on (read at their first call).  0, or -1.
 */
static int lane_dir(int no, key_t key, const char *sub)
{
	lane.no = no;
	lane.key = key;
	lane.ns_entry = -1;
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
	setenv("UIPC_ROOT", lane.dir, 1);
	return 0;
}

/* The snapshot's names into names ("@" a symlink, "/" a directory); finds namespace. */
static void list_names(char *names, size_t size)
{
	size_t nl = 0;
	names[0] = 0;
	for (int i = 0; i < lane.n; i++) {
		nl += (size_t)snprintf(names + nl, size - nl, " %s%s", lane.e[i].name,
				       lane.e[i].type == E_LINK ? "@" : lane.e[i].type == E_DIR ? "/" : "");
		if (nl >= size)
			nl = size - 1;
		if (!strcmp(lane.e[i].name, "namespace") && lane.e[i].type == E_FILE)
			lane.ns_entry = i;
	}
}

/* Restores the lane's directory for an iteration: 0, or -1 (lane_fail called). */
static int restore_lane(void)
{
	if (restore(&lane) == 0)
		return 0;
	lane_fail("lane %d: cannot restore its directory: %s", lane.no, strerror(errno));
	return -1;
}

/* ---- damage ---- */

static char desc[1024];		/* what the iteration damaged */
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

static void clear_note(void)
{
	dlen = 0;
	desc[0] = 0;
}

/* The damaged file's name and ':', before each damage's description, if the test wants it. */
#define DAMAGED(e) NAME_EACH_DAMAGE ? (e)->name : "", NAME_EACH_DAMAGE ? ":" : ""

static void put(int fd, const void *p, size_t len, size_t off)
{
	if (pwrite(fd, p, len, (off_t)off) != (ssize_t)len)
		note("[pwrite failed]");
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
	static const uint64_t v[] = { EDGE_VALUES };
	switch (rnd_below(6)) {
	case 0: return rnd();
	case 1: return old + 1;
	case 2: return old - 1;
	case 3: return e->size / (1 + rnd_below(256));
	default: return v[rnd_below(sizeof(v) / sizeof(v[0]))];
	}
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
		note(" %s%sbytes@%zu+%zu", DAMAGED(e), off, len);
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
		note(" %s%s%s@%zu+%zu", DAMAGED(e), ff ? "ff" : "zero", off, len);
		break;
	}
	default: {	/* a word near the start or a live word set to an edge value */
		static const size_t widths[] = { 1, 2, 4, 8 };
		size_t w = widths[rnd_below(4)];
		if (rnd_below(2) || !e->nlive) {
			size_t lim = rnd_below(4) ? HEAD_BYTES : 4096;
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
		note(" %s%su%zu@%zu=%#llx", DAMAGED(e), w * 8, off, (unsigned long long)val &
		     (w == 8 ? ~0ull : ((1ull << (w * 8)) - 1)));
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
		note(" %s%struncate(%llu)", DAMAGED(e), (unsigned long long)size);
	} else {
		switch (rnd_below(3)) {
		case 0: size = e->size + 1 + rnd_below(8); break;
		case 1: size = e->size + rnd_below(1 << 20); break;
		default: size = huge[rnd_below(sizeof(huge) / sizeof(huge[0]))]; break;
		}
		note(" %s%sextend(%llu)", DAMAGED(e), (unsigned long long)size);
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

/* ---- checked calls, in a child ---- */

static int phase_now;
static int fail_code;		/* exit status of the child: 10 + call */
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
	if (CLEAR_ERRNO)
		errno = 0;
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
		atomic_fetch_add(&res->err[phase_now][c][e], 1);
	} else if (r >= 0 && ok) {
		atomic_fetch_add(&res->ok[phase_now][c], 1);
	} else {
		snprintf(res->detail[lane.no], sizeof(res->detail[lane.no]),
			 "%s returned %ld, errno %d%s", call_name[c], r, e,
			 r >= 0 ? " (out of range, or wrote past the buffer)" :
			 r == -1 ? " (no errno)" : "");
		res->detail_kind[lane.no] = r >= 0 ? 0 : r == -1 ? 1 : 2;
		fail_code = 10 + c;
	}
	if (fail_code)
		_exit(fail_code);
	if (now() - call_t0 > 1.0) {
		snprintf(res->detail[lane.no], sizeof(res->detail[lane.no]), "%s took %.1f s",
			 call_name[c], now() - call_t0);
		_exit(3);
	}
}

/* The guard bytes g[from..to) are still 0xa5: nothing was written past a buffer. */
static int guard_ok(const unsigned char *g, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (g[i] != 0xa5)
			return 0;
	return 1;
}

/*
 * In a child of an iteration that damages files it has mapped: tells the
 * lane (on the socket sync_fd) that they are mapped, and waits until they
 * are damaged (exit 4 if the lane is gone).
 */
static void wait_for_damage(int sync_fd)
{
	char ch = 'm';
	alarm(CALL_ALARM);
	if (write(sync_fd, &ch, 1) != 1 || read(sync_fd, &ch, 1) != 1)
		_exit(4);
	alarm(0);
}

/* ---- the lane: children and their outcomes ---- */

/* In the lane: the child on socket fd has the files mapped once it says so (or it is gone). */
static int child_has_mapped(int fd)
{
	char ch;
	return read(fd, &ch, 1) == 1;
}

/* In the lane: the files are damaged, the child goes on. */
static void let_child_go(int fd)
{
	char ch = 'g';
	if (write(fd, &ch, 1) != 1)
		note("[child gone]");
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

static long total_hangs(void)
{
	long n = 0;
	for (int p = 0; p < NPHASES; p++)
		n += atomic_load(&res->hang[p]);
	return n;
}

enum outcome { O_CLEAN, O_SLOW, O_FAILED, O_BAD_RESULT };

/*
 * Counts an iteration of phase ph by its child's exit status: clean (0),
 * ended by a slow call (3), a bad result (10 + call), or else a failure: a
 * hang (SIGALRM), a crash (another signal), an odd exit.  A failure or a bad
 * result is described in why.
 */
static enum outcome count_outcome(int ph, int status, char *why, size_t n)
{
	atomic_fetch_add(&res->iters[ph], 1);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		atomic_fetch_add(&res->clean[ph], 1);
		return O_CLEAN;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		atomic_fetch_add(&res->slow[ph], 1);
		return O_SLOW;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		atomic_fetch_add(&res->hang[ph], 1);
		snprintf(why, n, "hang (a call did not return within the alarm)");
	} else if (WIFSIGNALED(status)) {
		atomic_fetch_add(&res->crash[ph], 1);
		snprintf(why, n, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) >= 10 &&
		   WEXITSTATUS(status) < 10 + NCALLS) {
		atomic_fetch_add(&res->bad[ph], 1);
		snprintf(why, n, "bad result: %.150s", res->detail[lane.no]);
		return O_BAD_RESULT;
	} else {
		atomic_fetch_add(&res->bad[ph], 1);
		snprintf(why, n, "child status %#x%s", status,
			 WIFEXITED(status) && WEXITSTATUS(status) == 1 ? " (a sanitizer's report?)" : "");
	}
	return O_FAILED;
}

/* Defined by the test: counts an iteration (count_outcome()) and keeps what failed. */
static void record_outcome(int ph, const char *label, int status, int mapped);

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
	"first 4096 bytes of a " OBJ_NOUN, "copy of another " OBJ_NOUN, "directory", "FIFO",
	"socket", "symlink to /dev/zero", "symlink to /dev/null", "symlink to another " OBJ_NOUN,
	"symlink to itself", "dangling symlink",
	"key link to 'garbage'", "key link to -1", "key link to INT_MAX",
	"key link to 99999999999999999999", "key link to 200 digits",
	"key link to a " OBJ_NOUN " with another key", "key link to the foreign slot",
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

/* Puts a foreign thing of kind k at 'name' (a copy: of q).  0, or -1 if it cannot be made. */
static int make_foreign(const char *name, enum fkind k, int fslot, const struct entry *q)
{
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
static const char *const ftarget_name[] = { OBJ ".<slot>", "slot link", "key link", "namespace" };

/*
 * Defined by the test: in a child, the calls around a foreign thing in slot
 * fslot / key fkey; with 'others' also checks that the real object and the
 * creation of a new one still work (exit 5 if not, with res->detail).
 */
static void __attribute__((noreturn)) foreign_child(int fslot, key_t fkey, int others);

/*
 * Every foreign thing at an unused OBJ.<slot>, at the symlinks that name
 * the lane's slot and key (the library's spelling: found as symlinks to the
 * id, named after the slot or key) and at namespace, each with a child
 * making the calls around it; copies are of q.  Exits 1 if it cannot
 * restore the directory.
 */
static void foreign_cases(const struct entry *q)
{
	char name[300], keyname[300] = "", slotname[300] = "", it[400];
	int n = 0;
	int fslot = (lane.slot + 7) % 32768;
	key_t fkey = lane.key + 0x100;
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
				snprintf(name, sizeof(name), OBJ ".%d", fslot);
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
			if (make_foreign(name, (enum fkind)k, fslot, q)) {
				add_fail(&res->foreign_msg[0][0], MAX_FAILS, &res->foreign_bad,
					 "cannot make %s as %s: %s", fkind_name[k], name, strerror(errno));
				continue;
			}
			res->detail[lane.no][0] = 0;
			pid_t pid = fork();
			if (pid == 0)
				foreign_child(fslot, fkey, t != T_NS);
			int status = wait_child(pid, 3 * CALL_ALARM);
			n++;
			dlen = 0;
			note(" %s as %s (%s)", fkind_name[k], name, ftarget_name[t]);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 5) {
				add_fail(&res->foreign_msg[0][0], MAX_FAILS, &res->foreign_bad,
					 "%.120s: %.170s", desc + 1, res->detail[lane.no]);
				status = 0;
			}
			snprintf(it, sizeof(it), "case %d", n);
			record_outcome(PH_FOREIGN, it, status, 0);
		}
	}
}

/* ---- main: the lanes and the report ---- */

/*
 * Forks lane_main(i) for each lane i (only lane only_lane if >= 0) and,
 * unless only_lane >= 0, foreign_main(); waits for them.  1 if all exited 0.
 */
static int run_lanes(int only_lane, void (*lane_main)(int no), void (*foreign_main)(void))
{
	pid_t lanes[NLANES + 1];
	int nl = 0, lanes_ok = 1;

	for (int i = 0; i < NLANES; i++) {
		if (only_lane >= 0 && only_lane != i)
			continue;
		pid_t pid = fork();
		if (pid == 0) {
			lane_main(i);
			_exit(0);
		}
		lanes[nl++] = pid;
	}
	if (only_lane < 0) {
		pid_t pid = fork();
		if (pid == 0) {
			foreign_main();
			_exit(0);
		}
		lanes[nl++] = pid;
	}
	for (int i = 0; i < nl; i++) {
		int status;
		waitpid(lanes[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			lanes_ok = 0;
	}
	return lanes_ok;
}

/* In the set-up case: what the lanes could not set up or restore. */
static void check_setup(int lanes_ok)
{
	int nsf = atomic_load(&res->setup_failed);
	for (int i = 0; i < nsf && i <= NLANES; i++)
		T_FAIL("%s", res->setup_msg[i]);
	int npb = atomic_load(&res->pristine_bad);
	for (int i = 0; i < npb && i <= NLANES; i++)
		T_FAIL("%s", res->pristine_msg[i]);
	if (!lanes_ok && !nsf && !npb)
		T_FAIL("a lane failed");
}

/* How many namespace iterations: one in 9 of those run. */
static long namespace_iterations(void)
{
	long n = 0;
	for (long i = 0; i < iters; i++)
		if ((only < 0 || i == only) && i % 9 == 8)
			n++;
	return n;
}

/* In phase ph's case: its crashes, hangs and bad results; the foreign lane's failures. */
static void check_phase(int ph)
{
	long it = atomic_load(&res->iters[ph]), crash = atomic_load(&res->crash[ph]),
	     hang = atomic_load(&res->hang[ph]), bad = atomic_load(&res->bad[ph]);
	if (crash || hang || bad)
		T_FAIL("%ld iterations: %ld crashed, %ld hung, %ld gave a bad result", it, crash,
		       hang, bad);
	if (ph == PH_FOREIGN) {
		int nf = atomic_load(&res->foreign_bad);
		for (int i = 0; i < nf && i < MAX_FAILS; i++)
			T_FAIL("%s", res->foreign_msg[i]);
		CHECK(it > 0);
	}
}

/* Phase ph's counts, and each call's results by errno. */
static void print_phase(int ph)
{
	printf("# %s: %ld iterations, %ld with every call returning quickly, %ld ended "
	       "early by a slow call (over 1 s), %ld crashed, %ld hung, %ld bad\n",
	       phase_name[ph], atomic_load(&res->iters[ph]), atomic_load(&res->clean[ph]),
	       atomic_load(&res->slow[ph]), atomic_load(&res->crash[ph]),
	       atomic_load(&res->hang[ph]), atomic_load(&res->bad[ph]));
	for (int c = 0; c < NCALLS; c++) {
		char line[1024];
		size_t l = 0;
		long ok = atomic_load(&res->ok[ph][c]);
		l += (size_t)snprintf(line + l, sizeof(line) - l, "#   %-34s %6ld ok", call_name[c], ok);
		for (int e = 1; e < NERR && l < sizeof(line) - 40; e++) {
			long k = atomic_load(&res->err[ph][c][e]);
			if (k)
				l += (size_t)snprintf(line + l, sizeof(line) - l, ", %ld %s", k,
						      strerrorname_np(e) ? strerrorname_np(e) : "?");
		}
		printf("%s\n", line);
	}
}

/* The crashes, hangs and odd exits, on stderr; returns how many. */
static int print_failures(void)
{
	int nf = atomic_load(&res->nfail);
	for (int i = 0; i < nf && i < MAX_FAILS; i++)
		fprintf(stderr, "failure: %s\n", res->fail[i]);
	return nf;
}

#endif
