/*
 * shm.c - System V shared memory: shmget(2), shmop(2), shmctl(2).
 *
 * User space visible behaviour: Linux's (ipc/shm.c), in the order of its
 * checks.  A segment is two files: the header (struct shm_seg: the common
 * object header, the shmid_ds fields, the attach records) and the data file,
 * whose pages are the segment: shmat maps the data file MAP_SHARED, so two
 * attachments, in one process or in two, are the same memory.  Handles map
 * both files, and an attach at an address of the system's choice is a copy
 * of the handle's mapping of the pages (attach_view): no file is opened.
 * The files are named by slot and recycled (slot_files.c): the memory of a
 * removed segment is freed when its last attachment goes (punched), whoever
 * still maps the files.
 *
 * shm_nattch:  each process that attached the segment has an attach record
 * (pid and start time, proc.c) counting its attachments, and a thread of it
 * holds the record's robust mutex.  nattch is the sum of the counts.  When
 * the kernel marks the mutex (its holding thread ended), the next locked
 * call on the segment looks at the process (reap): gone, its count goes; it
 * called exec (or only that thread ended), the count becomes the number of
 * mappings of the data file at offset 0 that /proc/PID/maps shows.  A fork
 * child counts its inherited attachments in its own record (pthread_atfork),
 * and fork returns in the parent once it has (see fork_child).
 * Each process keeps a table of its attachments (address, size, id) for
 * shmdt and fork.
 *
 * IPC_RMID of an attached segment marks it SHM_DEST and gives up its key;
 * its id works until the last attachment goes, and then the segment is
 * removed.
 *
 * Locking and crash safety:  the header's fields change under the object
 * lock, in redo-log transactions (sync.c); a record is filled while free
 * and made live by one transaction.  A process killed between counting an
 * attachment and mapping it, or between unmapping and counting, is reaped
 * with all its counts.  The process's table has its own mutex.
 */
#include <fcntl.h>
#include <signal.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#include "internal.h"

#define S_IRUGO 0444
#define S_IWUGO 0222
#define S_IXUGO 0111
#define PAGE 4096ul
#define SHMLBA_ 4096ul
#define MAX_RECS 1024
#define ORPHAN_CHECK_MS 10
#define FRESH_ORPHAN_MS 100
#define SHM_DEST_ 01000
#define SHM_LOCKED_ 02000
#define SHM_HUGETLB_ 04000
#define SEG_HUGE (1ull << 32)	/* made with SHM_HUGETLB */
#define HUGE_ALIGN (2ul << 20)
#define SHM_NORESERVE_ 010000
#define SHM_HUGE_SHIFT 26		/* linux/shm.h: the huge page size, as a log2 */
#define SHM_HUGE_MASK 0x3f

enum rec_state { R_FREE = 0, R_LIVE, R_ORPHAN };

struct attach_rec {
	pthread_mutex_t alive;	/* held by a thread of the process */
	uint64_t state;		/* enum rec_state */
	uint64_t pid, start;	/* the process */
	uint64_t count;		/* its attachments */
	uint64_t since;		/* R_ORPHAN: since when (ms) */
};

struct shm_seg {
	struct uipc_obj obj;
	uint64_t segsz;
	uint64_t atime, dtime;
	uint64_t cpid, lpid;
	uint64_t flags;		/* SHM_DEST, SHM_LOCKED (shown in the mode), SEG_HUGE */
	uint64_t locker;	/* SHM_LOCKED: the uid whose RLIMIT_MEMLOCK it counts on */
	uint64_t data_ino;	/* the data file's inode (for /proc/PID/maps) */
	uint64_t orphan_at;	/* last look at orphan records (ms) */
	uint64_t orphans;
	uint64_t nrecs;		/* rec[0..nrecs) have been used; the rest untouched */
	struct attach_rec rec[MAX_RECS];
};

#define HDR_BYTES ((sizeof(struct shm_seg) + 4095) & ~(size_t)4095)
/*
 * The segment's pages start one page into the data file: attachments map it
 * from there, handles' views from offset 0, so that /proc/PID/maps tells
 * the ones from the others (reap).
 */
#define DATA_AT PAGE
/* Larger segments are not in handles' views: they attach through their file. */
#define VIEW_MAX (64ul << 20)

static const struct obj_ops shm_ops;

static inline struct shm_seg *hseg(struct handle *h)
{
	return (struct shm_seg *)hobj(h);
}

static uint64_t pages(uint64_t size)
{
	return (size + PAGE - 1) / PAGE;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- object operations ---- */

struct totals {
	uint64_t pages, rss;
};

static void add_totals(struct uipc_obj *o, void *arg)
{
	struct totals *t = arg;
	char path[PATH_MAX];
	struct stat st;

	t->pages += pages(((struct shm_seg *)o)->segsz);
	/* Resident: the pages the data file has (tmpfs allocates on use). */
	uipc__data_path(path, sizeof(path), &shm_ops, o->id);
	if (stat(path, &st) == 0)
		t->rss += (uint64_t)st.st_blocks * 512 / PAGE;
}

/*
 * Would the kernel commit this much shared memory?  Its heuristic
 * (vm.overcommit_memory 0, and 2 taken as 0) refuses more than memory and
 * swap together; 1 refuses nothing; SHM_NORESERVE skips the question.
 */
static bool overcommitted(uint64_t bytes, int flg)
{
	static _Atomic uint64_t ram;	/* bytes of memory: it does not change */
	struct sysinfo si;
	char buf[8] = "0";
	int fd;

	if ((flg & SHM_NORESERVE_) || bytes <= atomic_load_explicit(&ram, memory_order_relaxed) ||
	    sysinfo(&si) < 0)
		return false;
	atomic_store_explicit(&ram, (uint64_t)si.totalram * si.mem_unit, memory_order_relaxed);
	if (bytes / si.mem_unit <= (uint64_t)si.totalram + (uint64_t)si.totalswap)
		return false;
	if ((fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC)) >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '0';
		close(fd);
	}
	return buf[0] != '1';
}

/*
 * A shm tunable as shmget checks it: the cached value, read again when
 * 'refused' says it would refuse the call (limits.c).
 */
static unsigned long long shm_limit(enum uipc_limit l, bool (*refused)(unsigned long long v,
									unsigned long long n),
				    unsigned long long n)
{
	unsigned long long v = (unsigned long long)uipc__limit(l);

	return refused(v, n) ? (unsigned long long)uipc__limit_fresh(l) : v;
}

static bool above(unsigned long long v, unsigned long long n)
{
	return n > v;
}

/* Linux's newseg checks, in its order (huge pages aside: uipc_shmget). */
static long shm_new_size(long arg, int flg)
{
	unsigned long long size = (unsigned long)arg, n = pages(size);
	unsigned long long shmall = shm_limit(LIM_SHMALL, above, n);
	struct totals t = { 0, 0 };
	int in_use;

	if (size < (unsigned long long)uipc__limit(LIM_SHMMIN) ||
	    size > shm_limit(LIM_SHMMAX, above, size))
		return -EINVAL;
	if (n * PAGE < size)	/* the rounding overflowed */
		return -ENOSPC;
	if (n > shmall)
		return -ENOSPC;
	/* Only count when the limit can bind: it costs a look at every segment. */
	if (shmall < (1ull << 40)) {
		uipc__for_each(&shm_ops, add_totals, &t, &in_use);
		if (t.pages + n > shm_limit(LIM_SHMALL, above, t.pages + n))
			return -ENOSPC;
	}
	if (size > (unsigned long long)LLONG_MAX)	/* a file too large */
		return -EINVAL;
	if (overcommitted(n * PAGE, flg))
		return -ENOMEM;
	/* The last page may not fit in a file: mapping that much fails anyway. */
	if (n * PAGE > (unsigned long long)LLONG_MAX - HDR_BYTES - DATA_AT)
		return (long)(LLONG_MAX & ~(PAGE - 1));
	return (long)(HDR_BYTES + DATA_AT + n * PAGE);
}

/*
 * A new segment, in fresh files or in recycled ones (slot_files.c): the
 * attach records stay, with their counts 0 (a segment goes only once its
 * nattch is 0), as each is the lock of a live process's thread.
 */
static int shm_init(struct uipc_obj *o, long arg)
{
	struct shm_seg *s = (struct shm_seg *)o;

	o->hdr_size = sizeof(*s);
	s->segsz = (unsigned long)arg;
	s->cpid = (uint64_t)uipc__pid();
	s->atime = s->dtime = s->lpid = 0;
	s->flags = s->locker = 0;
	return 0;
}

static int shm_more_checks(struct uipc_obj *o, long arg)
{
	return (unsigned long)arg > ((struct shm_seg *)o)->segsz ? -EINVAL : 0;
}

static int shm_validate(struct uipc_obj *o, size_t len)
{
	(void)len;
	return o->hdr_size == sizeof(struct shm_seg) ? 0 : -EINVAL;
}

static void shm_wake_all(struct uipc_obj *o)
{
	(void)o;	/* nobody sleeps on a segment */
}

static void shm_recover(struct handle *h)
{
	(void)h;	/* the redo log holds every change */
}

static int shm_check(struct handle *h, struct check_log *log);

static const struct obj_ops shm_ops = {
	.kind = KIND_SHM,
	.prefix = "shm",
	.mni = LIM_SHMMNI,
	.hdr_bytes = HDR_BYTES,
	.by_slot = true,
	.view_max = VIEW_MAX,
	.new_size = shm_new_size,
	.init = shm_init,
	.more_checks = shm_more_checks,
	.validate = shm_validate,
	.wake_all = shm_wake_all,
	.recover = shm_recover,
	.check = shm_check,
};

const struct obj_ops *uipc__shm_ops(void)
{
	return &shm_ops;
}

/* ---- attach records ---- */

/*
 * The records in use are among the first nrecs: a segment that few
 * processes attach never touches (and so never allocates) the pages of the
 * others.
 */
static int recs_used(const struct shm_seg *s)
{
	return s->nrecs < MAX_RECS ? (int)s->nrecs : MAX_RECS;
}

static uint64_t nattch(struct shm_seg *s)
{
	int i, used = recs_used(s);
	uint64_t n = 0;

	for (i = 0; i < used; i++)
		if (s->rec[i].state != R_FREE)
			n += s->rec[i].count;
	return n;
}

/* Set record r's count to n (and free it at 0), as detaches by pid. */
static void set_count(struct shm_seg *s, struct attach_rec *r, uint64_t n, uint64_t pid)
{
	struct txn t;

	txn_begin(&t, s);
	if (n < r->count) {
		txn_set(&t, &s->dtime, (uint64_t)uipc__now());
		txn_set(&t, &s->lpid, pid);
	}
	txn_set(&t, &r->count, n);
	/*
	 * Freed at 0, but not the caller's own: a thread of the caller holds
	 * its mutex, linked in that thread's robust list, and whoever took the
	 * free record would initialise the mutex under it, cutting the list
	 * (the kernel would then miss the mutexes behind it at the death).
	 * The caller's record stays, with no attachment, until it dies.
	 */
	if (n == 0 && r->pid != (uint64_t)uipc__pid()) {
		if (r->state == R_ORPHAN && s->orphans)
			txn_set(&t, &s->orphans, s->orphans - 1);
		txn_set(&t, &r->state, R_FREE);
	}
	uipc__txn_commit(&s->obj, &t);
}

/*
 * Look at record r, whose holding thread ended or which nobody holds: its
 * process is gone (count 0), or it called exec or lost only that thread
 * (count its mappings, when /proc lets us).
 */
static void check_record(struct shm_seg *s, struct attach_rec *r)
{
	int e = uipc__robust_ok(&r->alive) ? pthread_mutex_trylock(&r->alive) : EINVAL;
	int maps;

	if (e == EBUSY)
		return;
	if (e == EOWNERDEAD)
		pthread_mutex_consistent(&r->alive);
	if (e == EINVAL || !uipc__process_alive(r->pid, r->start)) {
		set_count(s, r, 0, r->pid);
	} else {
		maps = uipc__maps_of((pid_t)r->pid, (ino_t)s->data_ino, (long long)DATA_AT);
		if (maps >= 0 && (uint64_t)maps < r->count)
			set_count(s, r, (uint64_t)maps, r->pid);
		if (r->state == R_LIVE) {
			struct txn t;

			txn_begin(&t, s);
			txn_set(&t, &r->since, ms_now());
			txn_set(&t, &r->state, R_ORPHAN);
			txn_set(&t, &s->orphans, s->orphans + 1);
			uipc__txn_commit(&s->obj, &t);
		}
	}
	if (e == 0 || e == EOWNERDEAD)
		pthread_mutex_unlock(&r->alive);
}

/* Settle the records of processes that died or called exec.  Locked. */
static void reap(struct shm_seg *s)
{
	bool orphans = s->orphans && ms_now() - s->orphan_at >= ORPHAN_CHECK_MS;
	int i, used = recs_used(s);
	struct attach_rec *r;
	uint32_t v;

	if (orphans)
		s->orphan_at = ms_now();
	for (i = 0; i < used; i++) {
		r = &s->rec[i];
		if (r->state == R_FREE ||
		    (r->state == R_ORPHAN && !orphans && ms_now() - r->since > FRESH_ORPHAN_MS))
			continue;
		v = __atomic_load_n((uint32_t *)&r->alive.__data.__lock, __ATOMIC_RELAXED);
		if (r->state == R_LIVE && (v & FUTEX_TID_MASK) && !(v & FUTEX_OWNER_DIED))
			continue;
		check_record(s, r);
	}
}

/*
 * uipc check: the records are in states that exist, the count of orphans is
 * theirs, no record belongs to a process that died or called exec (the next
 * call would count it again: with repair, done now), and the data file is
 * there, of the segment's size.  A segment without its memory is beyond
 * repair.  Called locked.
 */
static int shm_check(struct handle *h, struct check_log *log)
{
	struct shm_seg *s = hseg(h);
	uint64_t orphans = 0, before = nattch(s);
	int i, used = recs_used(s), problems = 0;
	char path[PATH_MAX];
	struct attach_rec *r;
	struct stat st;
	uint32_t v;

	uipc__data_path(path, sizeof(path), &shm_ops, h->id);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < DATA_AT + pages(s->segsz) * PAGE) {
		uipc__check_say(log, "its memory (%s) is missing or shorter than the segment", path);
		return -1;
	}
	if (s->nrecs > MAX_RECS)
		problems += uipc__check_say(log, "it says %llu attach records were used, of %d",
					    (unsigned long long)s->nrecs, MAX_RECS);
	for (i = 0; i < used; i++) {
		r = &s->rec[i];
		if (r->state > R_ORPHAN) {
			problems += uipc__check_say(log, "attach record %d is in no state a record "
						    "can be in", i);
			if (log->repair)
				set_count(s, r, 0, r->pid);
			continue;
		}
		orphans += r->state == R_ORPHAN;
		v = __atomic_load_n((uint32_t *)&r->alive.__data.__lock, __ATOMIC_RELAXED);
		if (r->state == R_LIVE && (!(v & FUTEX_TID_MASK) || (v & FUTEX_OWNER_DIED)))
			problems += uipc__check_say(log, "process %llu died or called exec: its %llu "
						    "attachments are counted until the next call",
						    (unsigned long long)r->pid,
						    (unsigned long long)r->count);
	}
	if (orphans != s->orphans)
		problems += uipc__check_say(log, "it counts %llu orphan records, there are %llu",
					    (unsigned long long)s->orphans,
					    (unsigned long long)orphans);
	if (problems && log->repair) {
		struct txn t;

		txn_begin(&t, s);
		txn_set(&t, &s->orphans, orphans);
		if (s->nrecs > MAX_RECS)
			txn_set(&t, &s->nrecs, MAX_RECS);
		uipc__txn_commit(&s->obj, &t);
		reap(s);
		uipc__check_say(log, "counted again: %llu attachments, were %llu",
				(unsigned long long)nattch(s), (unsigned long long)before);
	}
	return problems;
}

/*
 * This process's record, created at its first attach and held by the
 * calling thread if no thread of the process holds it.  Locked.
 */
static struct attach_rec *own_record(struct handle *h, int *err)
{
	uint64_t pid = (uint64_t)uipc__pid(), start = uipc__self_start();
	struct shm_seg *s = hseg(h);
	int i, e, used = recs_used(s);
	struct attach_rec *r = NULL, *free_rec = NULL;
	struct txn t;
	uint32_t v;

	for (i = 0; i < used; i++) {
		r = &s->rec[i];
		if (r->state != R_FREE && r->pid == pid && r->start == start)
			break;
		if (r->state == R_FREE && !free_rec)
			free_rec = r;
	}
	if (i == used) {
		if (!free_rec && used == MAX_RECS) {
			*err = -ENOSPC;
			return NULL;
		}
		r = free_rec ? free_rec : &s->rec[used];
		if ((*err = uipc__robust_init(&r->alive)))
			return NULL;
		FAULT_STEP();
		r->pid = pid;
		r->start = start;
		r->count = 0;
		FAULT_STEP();
		pthread_mutex_trylock(&r->alive);
		txn_begin(&t, s);
		txn_set(&t, &r->state, R_LIVE);
		if (!free_rec)
			txn_set(&t, &s->nrecs, (uint64_t)used + 1);
		uipc__txn_commit(&s->obj, &t);
	}
	v = __atomic_load_n((uint32_t *)&r->alive.__data.__lock, __ATOMIC_RELAXED);
	if ((v & FUTEX_TID_MASK) == 0 || (v & FUTEX_OWNER_DIED)) {
		e = uipc__robust_ok(&r->alive) ? pthread_mutex_trylock(&r->alive) : EINVAL;
		if (e == EOWNERDEAD)
			pthread_mutex_consistent(&r->alive);
		if (e == EINVAL) {
			*err = -EINVAL;
			return NULL;
		}
		if (r->state == R_ORPHAN) {
			txn_begin(&t, s);
			txn_set(&t, &r->state, R_LIVE);
			if (s->orphans)
				txn_set(&t, &s->orphans, s->orphans - 1);
			uipc__txn_commit(&s->obj, &t);
		}
	}
	/* The mutex is on this thread's robust list: never unmap the header. */
	if (!h->pinned) {
		h->pinned = true;
		uipc__handle_pin(h);
	}
	return r;
}

/*
 * Lock segment 'id' and settle the records of the dead.  -EIDRM if its
 * files hold another segment now (removed meanwhile, and recycled:
 * slot_files.c).
 */
static int seg_lock(struct handle *h, int id)
{
	int err = uipc__lock(h);

	if (err)
		return err;
	if (hobj(h)->id != id) {
		uipc__unlock(h);
		return -EIDRM;
	}
	reap(hseg(h));
	return 0;
}

/* An attached segment marked SHM_DEST goes with its last attachment. */
static void unlock_or_destroy(struct handle *h)
{
	struct shm_seg *s = hseg(h);

	if ((s->flags & SHM_DEST_) && nattch(s) == 0 &&
	    atomic_load(&s->obj.state) == OBJ_LIVE)
		uipc__remove(h, &shm_ops);
	else
		uipc__unlock(h);
}

/* ---- the process's attachments ---- */

struct attachment {
	uintptr_t addr;
	size_t size;
	int id;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct attachment *table;
static size_t table_len, table_cap;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

enum count_change { UNDO_ATTACH, DETACHED, ATTACHED, FORKED };

static void change_count(int id, enum count_change how);

/*
 * Fork.  The kernel counts a child's inherited attachments while it copies
 * the mappings, before fork returns in either process.  Here the child
 * counts them in its fork handler, and the parent's fork handler waits for
 * that (through a page both share), so that fork returns in the parent once
 * the count is the kernel's.  The parent tells a fork that failed (no child
 * will ever count) by errno: the prepare handler clears it, and glibc leaves
 * it as _Fork set it for the parent handlers.  A child that dies first, or
 * does not count within FORK_WAIT_MS, is not waited for further (its count,
 * if it comes, comes late).  The table lock, held from prepare to the parent
 * handler, serialises forks.
 */
#define FORK_WAIT_MS 1000

struct fork_sync {
	_Atomic uint32_t counted;	/* the child counted its attachments */
	_Atomic int32_t child;		/* its pid, as soon as it runs */
};
static struct fork_sync *fork_sync;	/* MAP_SHARED: inherited shared */
static bool fork_waits;
static int fork_errno;

static void fork_child(void)
{
	size_t i, k;

	pthread_mutex_init(&table_lock, NULL);
	if (fork_waits)
		atomic_store(&fork_sync->child, getpid());
	for (i = 0; i < table_len; i++) {
		for (k = 0; k < i && table[k].id != table[i].id; k++)
			;
		if (k == i)	/* once per segment, with all its attachments */
			change_count(table[i].id, FORKED);
	}
	if (fork_waits) {
		atomic_store(&fork_sync->counted, 1);
		uipc__futex_wake(&fork_sync->counted, 1);
	}
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&table_lock);
	fork_waits = table_len && fork_sync;
	if (fork_waits) {
		atomic_store(&fork_sync->counted, 0);
		atomic_store(&fork_sync->child, 0);
		fork_errno = errno;
		errno = 0;
	}
}

static void fork_parent(void)
{
	int ms, child;

	if (fork_waits && errno == 0) {
		for (ms = 0; ms < FORK_WAIT_MS && !atomic_load(&fork_sync->counted); ms++) {
			child = atomic_load(&fork_sync->child);
			if ((child && kill(child, 0) < 0 && errno == ESRCH) || (!child && ms >= 100))
				break;
			uipc__futex_wait(&fork_sync->counted, 0, 1);
		}
		errno = fork_errno;
	}
	pthread_mutex_unlock(&table_lock);
}

static void watch_fork(void)
{
	void *p = mmap(NULL, sizeof(*fork_sync), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	fork_sync = p == MAP_FAILED ? NULL : p;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static int remember(uintptr_t addr, size_t size, int id)
{
	struct attachment *t;
	int err = 0;

	pthread_once(&fork_once, watch_fork);
	pthread_mutex_lock(&table_lock);
	if (table_len == table_cap) {
		t = realloc(table, (table_cap ? table_cap * 2 : 16) * sizeof(*t));
		if (t) {
			table = t;
			table_cap = table_cap ? table_cap * 2 : 16;
		}
	}
	if (table_len < table_cap)
		table[table_len++] = (struct attachment){ addr, size, id };
	else
		err = -ENOMEM;
	pthread_mutex_unlock(&table_lock);
	return err;
}

/* Forget the attachment at addr; false if there is none. */
static bool forget(uintptr_t addr, struct attachment *out)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < table_len; i++)
		if (table[i].addr == addr) {
			*out = table[i];
			table[i] = table[--table_len];
			found = true;
			break;
		}
	pthread_mutex_unlock(&table_lock);
	return found;
}

/* Forget an attachment that lies within [addr, addr + size). */
static bool forget_within(uintptr_t addr, size_t size, struct attachment *out)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < table_len; i++)
		if (table[i].addr >= addr && table[i].addr + table[i].size <= addr + size) {
			*out = table[i];
			table[i] = table[--table_len];
			found = true;
			break;
		}
	pthread_mutex_unlock(&table_lock);
	return found;
}

/* This process's attachments of segment id, as its table says. */
static uint64_t attachments_of(int id)
{
	uint64_t n = 0;
	size_t i;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < table_len; i++)
		n += table[i].id == id;
	pthread_mutex_unlock(&table_lock);
	return n;
}

/*
 * After an attach failed (UNDO_ATTACH) or a detach (DETACHED): one
 * attachment less.  After an attach (ATTACHED): shm_atime and shm_lpid, as
 * Linux's shm_open.  In a fork child (FORKED): the count is the
 * attachments the child inherited.
 */
static void change_count(int id, enum count_change how)
{
	struct attach_rec *r;
	struct handle *h;
	struct shm_seg *s;
	struct txn t;
	int e;

	if (!(h = uipc__handle_get(&shm_ops, id, &e)))
		return;
	if (!seg_lock(h, id)) {
		s = hseg(h);
		if ((r = own_record(h, &e))) {
			if (how == DETACHED || how == UNDO_ATTACH) {
				if (r->count && how == DETACHED)
					set_count(s, r, r->count - 1, (uint64_t)uipc__pid());
				else if (r->count)
					set_count(s, r, r->count - 1, s->lpid);
			} else {
				/* The kernel copies the mappings in the parent's name. */
				txn_begin(&t, s);
				if (how == FORKED)
					txn_set(&t, &r->count, attachments_of(id));
				txn_set(&t, &s->atime, (uint64_t)uipc__now());
				txn_set(&t, &s->lpid, (uint64_t)(how == FORKED ? getppid() : uipc__pid()));
				uipc__txn_commit(&s->obj, &t);
			}
		}
		unlock_or_destroy(h);
	}
	uipc__handle_put(h);
}

/* ---- shmat, shmdt ---- */

/*
 * The usual attach, read-write at an address of the system's choice: a
 * second mapping of the pages the handle's view maps (mremap with old size
 * 0), with no file to open.  (A read-only attach may not be made writable
 * with mprotect, as on Linux: it maps the file opened read-only.)
 * MAP_FAILED if the view does not reach that far (a larger segment, or the
 * data file grew since it was mapped) or on failure.
 */
static void *attach_view(struct handle *h, size_t size)
{
	char *base = atomic_load(&h->base);

	if (!h->data_ino || atomic_load(&h->len) < HDR_BYTES + DATA_AT + size)
		return MAP_FAILED;
	return mremap(base + HDR_BYTES + DATA_AT, 0, size, MREMAP_MAYMOVE);
}

/* Attach: 0 and the address in *out (which may be 0), or -errno. */
static long do_shmat(int shmid, const void *shmaddr, int shmflg, void **out)
{
	long err;
	const struct creds *c = uipc__creds();
	uintptr_t addr = (uintptr_t)shmaddr;
	int prot, acc, oflags, flags = MAP_SHARED, e, fd;
	char path[PATH_MAX];
	struct attach_rec *r;
	struct handle *h;
	struct shm_seg *s;
	struct attachment old;
	struct stat st;
	size_t size, segsz;
	uint64_t seg_flags;
	struct txn t;
	void *p = MAP_FAILED;

	if (shmid < 0)
		return -EINVAL;
	if (addr) {
		if (addr & (SHMLBA_ - 1)) {
			if (!(shmflg & SHM_RND))
				return -EINVAL;
			addr &= ~(SHMLBA_ - 1);
			if (!addr && (shmflg & SHM_REMAP))
				return -EINVAL;
		}
		/* Rounded down to 0, Linux maps at 0 (where mmap lets it). */
		flags |= (shmflg & SHM_REMAP) || !addr ? MAP_FIXED : MAP_FIXED_NOREPLACE;
	} else if (shmflg & SHM_REMAP) {
		return -EINVAL;
	}
	if (shmflg & SHM_RDONLY) {
		prot = PROT_READ;
		acc = S_IRUGO;
		oflags = O_RDONLY;
	} else {
		prot = PROT_READ | PROT_WRITE;
		acc = S_IRUGO | S_IWUGO;
		oflags = O_RDWR;
	}
	if (shmflg & SHM_EXEC) {
		prot |= PROT_EXEC;
		acc |= S_IXUGO;
	}
	h = uipc__handle_get(&shm_ops, shmid, &e);
	if (!h && e == -EACCES)
		h = uipc__handle_read(&shm_ops, shmid, &e);
	if (!h)
		return e;
	err = -EACCES;
	if (uipc__ipcperms(c, &hobj(h)->perm, acc) || !h->writable)
		goto out_put;
	if ((err = seg_lock(h, shmid)))
		goto out_put;
	s = hseg(h);
	err = -EIDRM;
	if (atomic_load(&s->obj.state) != OBJ_LIVE || !(r = own_record(h, &e))) {
		if (atomic_load(&s->obj.state) == OBJ_LIVE)
			err = e;
		uipc__unlock(h);
		goto out_put;
	}
	/* Counted first: a death before the mapping is reaped with it. */
	txn_begin(&t, s);
	txn_set(&t, &r->count, r->count + 1);
	uipc__txn_commit(&s->obj, &t);
	size = pages(s->segsz) * PAGE;
	segsz = s->segsz;
	seg_flags = s->flags;
	uipc__unlock(h);
	/* Wrapping around: Linux's own check (on the size asked), or mmap's. */
	if (addr && addr + size < addr) {
		err = (flags & MAP_FIXED_NOREPLACE) && addr + segsz < addr ? -EINVAL : -ENOMEM;
		goto undo;
	}
	if (!shmaddr && !(shmflg & (SHM_EXEC | SHM_RDONLY)) && !(seg_flags & SEG_HUGE) &&
	    (p = attach_view(h, size)) != MAP_FAILED) {
		if (!s->data_ino)
			s->data_ino = (uint64_t)h->data_ino;
		err = 0;
		goto mapped;
	}
	uipc__data_path(path, sizeof(path), &shm_ops, shmid);
	/* Huge pages are mapped at huge page boundaries (Linux): reserve one. */
	if (!addr && (seg_flags & SEG_HUGE) && (p = mmap(NULL, size + HUGE_ALIGN, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) != MAP_FAILED) {
		addr = ((uintptr_t)p + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
		munmap(p, size + HUGE_ALIGN);
		flags |= MAP_FIXED_NOREPLACE;
		p = MAP_FAILED;
	}
	fd = open(path, oflags | O_CLOEXEC | O_NOFOLLOW);
	err = fd < 0 ? (errno == ENOENT ? -EIDRM : -EACCES) : 0;
	/* The data file of a slot keeps its inode while it is recycled. */
	if (fd >= 0 && (s->data_ino || fstat(fd, &st) == 0)) {
		if (!s->data_ino)
			s->data_ino = (uint64_t)st.st_ino;
		p = mmap((void *)addr, size, prot, flags, fd, DATA_AT);
		if (p == MAP_FAILED)
			err = errno == EEXIST ? -EINVAL : -errno;	/* in the way: EINVAL */
	} else if (fd >= 0) {
		err = -EIDRM;
	}
	if (fd >= 0)
		close(fd);
mapped:
	/* SHM_REMAP replaced whole attachments: they are detached. */
	while (p != MAP_FAILED && (shmflg & SHM_REMAP) && forget_within((uintptr_t)p, size, &old))
		change_count(old.id, DETACHED);
	if (p != MAP_FAILED && remember((uintptr_t)p, size, shmid)) {
		munmap(p, size);
		p = MAP_FAILED;
		err = -ENOMEM;
	}
undo:
	change_count(shmid, p == MAP_FAILED ? UNDO_ATTACH : ATTACHED);
	*out = p;
out_put:
	uipc__handle_put(h);
	return err;
}

static long do_shmdt(const void *shmaddr)
{
	struct attachment a;

	if (!forget((uintptr_t)shmaddr, &a))
		return -EINVAL;
	munmap((void *)a.addr, a.size);
	change_count(a.id, DETACHED);
	return 0;
}

/* ---- shmctl ---- */

static long shmctl_info(int cmd, void *buf)
{
	struct totals t = { 0, 0 };
	int max, in_use;

	max = uipc__for_each(&shm_ops, add_totals, &t, &in_use);
	if (cmd == IPC_INFO) {
		struct shminfo si;

		memset(&si, 0, sizeof(si));
		si.shmmax = (unsigned long)uipc__limit_fresh(LIM_SHMMAX);
		si.shmmin = (unsigned long)uipc__limit_fresh(LIM_SHMMIN);
		si.shmmni = si.shmseg = (unsigned long)uipc__limit_fresh(LIM_SHMMNI);
		si.shmall = (unsigned long)uipc__limit_fresh(LIM_SHMALL);
		if (uipc__copy_out(buf, &si, sizeof(si)))
			return -EFAULT;
	} else {
		struct shm_info si;

		memset(&si, 0, sizeof(si));
		si.used_ids = in_use;
		si.shm_tot = t.pages;
		si.shm_rss = t.rss;
		if (uipc__copy_out(buf, &si, sizeof(si)))
			return -EFAULT;
	}
	return max < 0 ? 0 : max;
}

static long shmctl_stat(int shmid, int cmd, struct shmid_ds *buf)
{
	int e, want;
	struct handle *h = uipc__stat_get(&shm_ops, shmid, cmd != IPC_STAT, cmd == SHM_STAT_ANY, &e);
	struct shmid_ds ds;
	struct shm_seg *s;
	long err;

	if (!h)
		return e;
	want = cmd == IPC_STAT ? shmid : h->id;
	if (h->writable && (err = seg_lock(h, want))) {
		uipc__handle_put(h);
		return err;
	}
	s = hseg(h);
	if (h->writable && (s->flags & SHM_DEST_) && nattch(s) == 0) {
		unlock_or_destroy(h);	/* its last attachment went: gone */
		uipc__handle_put(h);
		return -EINVAL;
	}
	memset(&ds, 0, sizeof(ds));
	uipc__fill_perm(&ds.shm_perm, &s->obj);
	ds.shm_perm.mode |= (unsigned short)(s->flags & (SHM_DEST_ | SHM_LOCKED_));
	ds.shm_segsz = s->segsz;
	ds.shm_atime = (time_t)s->atime;
	ds.shm_dtime = (time_t)s->dtime;
	ds.shm_ctime = (time_t)s->obj.ctime;
	ds.shm_cpid = (pid_t)s->cpid;
	ds.shm_lpid = (pid_t)s->lpid;
	ds.shm_nattch = nattch(s);
	if (h->writable)
		unlock_or_destroy(h);
	/* Read without the lock: the files may hold another segment now. */
	err = s->obj.id != want ? -EINVAL : cmd == IPC_STAT ? 0 : h->id;
	uipc__handle_put(h);
	if (err < 0)
		return err;
	if (uipc__copy_out(buf, &ds, sizeof(ds)))
		return -EFAULT;
	return err;
}

struct locked {
	uint64_t uid, pages;
};

static void add_locked(struct uipc_obj *o, void *arg)
{
	struct shm_seg *s = (struct shm_seg *)o;
	struct locked *l = arg;

	if ((s->flags & SHM_LOCKED_) && s->locker == l->uid)
		l->pages += pages(s->segsz);
}

/*
 * May the caller lock n more pages?  Linux counts the pages of the
 * segments each user locked against that user's RLIMIT_MEMLOCK.
 */
static bool memlock_allows(const struct creds *c, uint64_t n)
{
	struct locked l = { c->euid, 0 };
	struct rlimit rl;
	int in_use;

	if (uipc__capable(c, UIPC_CAP_IPC_LOCK) || getrlimit(RLIMIT_MEMLOCK, &rl) < 0 ||
	    rl.rlim_cur == RLIM_INFINITY)
		return true;
	uipc__for_each(&shm_ops, add_locked, &l, &in_use);
	return l.pages + n <= rl.rlim_cur / PAGE;
}

static long shmctl_lock(int shmid, int cmd)
{
	const struct creds *c = uipc__creds_refresh();
	struct rlimit rl;
	struct handle *h;
	struct shm_seg *s;
	struct txn t;
	long err;
	int e;

	h = uipc__handle_get(&shm_ops, shmid, &e);
	if (!h && e == -EACCES)
		h = uipc__handle_read(&shm_ops, shmid, &e);
	if (!h)
		return e;
	err = -EPERM;
	if (!uipc__capable(c, UIPC_CAP_IPC_LOCK) &&
	    ((c->euid != hobj(h)->perm.uid && c->euid != hobj(h)->perm.cuid) ||
	     (cmd == SHM_LOCK && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == 0)))
		goto out;
	err = -EACCES;	/* permitted, but the files keep the caller out */
	if (!h->writable)
		goto out;
	if ((err = seg_lock(h, shmid)))
		goto out;
	s = hseg(h);
	err = -EIDRM;
	if (atomic_load(&s->obj.state) != OBJ_LIVE)
		goto out_unlock;
	err = 0;
	/* Huge pages are always locked: nothing to do (Linux). */
	if ((s->flags & SEG_HUGE) || (cmd == SHM_LOCK) == !!(s->flags & SHM_LOCKED_))
		goto out_unlock;
	err = -ENOMEM;
	if (cmd == SHM_LOCK && !memlock_allows(c, pages(s->segsz)))
		goto out_unlock;
	txn_begin(&t, s);
	txn_set(&t, &s->flags, cmd == SHM_LOCK ? s->flags | SHM_LOCKED_ : s->flags & ~SHM_LOCKED_);
	txn_set(&t, &s->locker, c->euid);
	uipc__txn_commit(&s->obj, &t);
	err = 0;
out_unlock:
	unlock_or_destroy(h);
out:
	uipc__handle_put(h);
	return err;
}

static long shmctl_down(int shmid, int cmd, struct shmid_ds *buf)
{
	struct shmid_ds in;
	struct handle *h;
	struct shm_seg *s;
	struct txn t;
	long err;
	int e;

	if (cmd == IPC_SET && uipc__copy_in(&in, buf, sizeof(in)))
		return -EFAULT;
	if (!(h = uipc__ctl_get(&shm_ops, shmid, &e)))
		return e;
	if ((err = seg_lock(h, shmid)))
		goto out;
	s = hseg(h);
	err = -EIDRM;
	if (atomic_load(&s->obj.state) != OBJ_LIVE) {
		uipc__unlock(h);
		goto out;
	}
	if (cmd == IPC_RMID) {
		if (nattch(s) == 0) {
			err = uipc__remove(h, &shm_ops);
			goto out;
		}
		/* Attached: SHM_DEST, and the key is given up (Linux). */
		txn_begin(&t, s);
		txn_set(&t, &s->flags, s->flags | SHM_DEST_);
		uipc__commit_forget_key(h, &shm_ops, &t);
		uipc__unlock(h);
		err = 0;
		goto out;
	}
	err = -EINVAL;
	if (in.shm_perm.uid != (uid_t)-1 && in.shm_perm.gid != (gid_t)-1) {
		txn_begin(&t, s);
		txn_set(&t, &s->obj.perm.uid, in.shm_perm.uid);
		txn_set(&t, &s->obj.perm.gid, in.shm_perm.gid);
		txn_set(&t, &s->obj.perm.mode, in.shm_perm.mode & 0777);
		txn_set(&t, &s->obj.ctime, (uint64_t)uipc__now());
		uipc__txn_commit(&s->obj, &t);
		err = 0;
	}
	uipc__unlock(h);
	if (!err)
		uipc__set_file_mode(h);
out:
	uipc__handle_put(h);
	return err;
}

static long do_shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	if (shmid < 0 || cmd < 0)
		return -EINVAL;
	if (cmd == IPC_INFO || cmd == SHM_INFO)
		uipc__limits_expire();
	switch (cmd) {
	case IPC_INFO:
	case SHM_INFO:
		return shmctl_info(cmd, buf);
	case IPC_STAT:
	case SHM_STAT:
	case SHM_STAT_ANY:
		return shmctl_stat(shmid, cmd, buf);
	case SHM_LOCK:
	case SHM_UNLOCK:
		return shmctl_lock(shmid, cmd);
	case IPC_SET:
	case IPC_RMID:
		return shmctl_down(shmid, cmd, buf);
	default:
		return -EINVAL;
	}
}

/* ---- the API ---- */

/* The segment was asked for with SHM_HUGETLB (its creator says so). */
static void mark_huge(int id)
{
	struct handle *h;
	struct txn t;
	int e;

	if (!(h = uipc__handle_get(&shm_ops, id, &e)))
		return;
	if (h->writable && !seg_lock(h, id)) {
		txn_begin(&t, hseg(h));
		txn_set(&t, &hseg(h)->flags, hseg(h)->flags | SEG_HUGE);
		uipc__txn_commit(&hseg(h)->obj, &t);
		uipc__unlock(h);
	}
	uipc__handle_put(h);
}

/* Read a number from a file under /proc or /sys; -1 if it cannot. */
static long long read_number(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

/*
 * SHM_HUGETLB, as Linux's newseg checks it after the sizes: a page size
 * the machine has (EINVAL), the privilege (CAP_IPC_LOCK or the group
 * vm.hugetlb_shm_group: EPERM), free huge pages unless SHM_NORESERVE
 * (ENOMEM).  What passes gets an ordinary segment (README: uipc has no huge
 * pages).  Returns 0 or -errno.
 */
static long hugetlb_checks(size_t size, int shmflg)
{
	const struct creds *c = uipc__creds_refresh();
	unsigned log = ((unsigned)shmflg >> SHM_HUGE_SHIFT) & SHM_HUGE_MASK;
	unsigned long long kb = log ? (1ull << log) / 1024 : 2048, need;
	char path[96];
	long long group, free_pages;
	long r;
	int i;

	if ((r = shm_new_size((long)size, shmflg | SHM_NORESERVE_)) < 0)
		return r;
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages",
		 kb);
	if (log >= 64 || (free_pages = read_number(path)) < 0)
		return -EINVAL;
	group = read_number("/proc/sys/vm/hugetlb_shm_group");
	if (!uipc__capable(c, UIPC_CAP_IPC_LOCK)) {
		bool member = group >= 0 && (gid_t)group == c->egid;

		for (i = 0; !member && group >= 0 && i < c->ngroups; i++)
			member = c->groups[i] == (gid_t)group;
		if (!member)
			return -EPERM;
	}
	need = (size + kb * 1024 - 1) / (kb * 1024);
	if (!(shmflg & SHM_NORESERVE_) && (unsigned long long)free_pages < need)
		return -ENOMEM;
	return 0;
}

__attribute__((visibility("default")))
int uipc_shmget(key_t key, size_t size, int shmflg)
{
	long r;

	if (!(shmflg & SHM_HUGETLB_))
		return (int)ret(uipc__get(&shm_ops, key, shmflg, (long)size));
	/* An existing segment is found as usual; only a new one is checked. */
	if (key != IPC_PRIVATE) {
		r = uipc__get(&shm_ops, key, shmflg & ~(IPC_CREAT | IPC_EXCL), (long)size);
		if (r != -ENOENT)
			return (int)ret((shmflg & IPC_CREAT) && (shmflg & IPC_EXCL) ? -EEXIST : r);
		if (!(shmflg & IPC_CREAT))
			return (int)ret(-ENOENT);
	}
	if ((r = hugetlb_checks(size, shmflg)))
		return (int)ret(r);
	r = uipc__get(&shm_ops, key, shmflg & ~SHM_HUGETLB_, (long)size);
	if (r >= 0)
		mark_huge((int)r);
	return (int)ret(r);
}

__attribute__((visibility("default")))
void *uipc_shmat(int shmid, const void *shmaddr, int shmflg)
{
	void *p = (void *)-1;
	long err = do_shmat(shmid, shmaddr, shmflg, &p);

	if (err) {
		errno = (int)-err;
		return (void *)-1;
	}
	return p;
}

__attribute__((visibility("default")))
int uipc_shmdt(const void *shmaddr)
{
	return (int)ret(do_shmdt(shmaddr));
}

__attribute__((visibility("default")))
int uipc_shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	return (int)ret(do_shmctl(shmid, cmd, buf));
}
