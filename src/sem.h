/*
 * sem.h - what the files of the semaphore sets share: sem.c (the calls),
 * sem_queue.c (sleepers, served as Linux serves them) and sem_undo.c
 * (SEM_UNDO records).  The design and locking rules are in sem.c's opening
 * comment: everything here is used with the set's lock held, except the
 * fast path's reads of a semaphore (sem_val, sem_pid).
 */
#ifndef UIPC_SEM_H
#define UIPC_SEM_H

#include <linux/futex.h>
#include <string.h>
#include <sys/sem.h>
#include "internal.h"

#define S_IRUGO 0444
#define S_IWUGO 0222
#define MAX_SLEEPERS 128
#define SLOT_SOPS 32
#define SLEEP_MS 1000
#define WATCH_MS 10		/* sleep while undo records need looking at */
#define ORPHAN_CHECK_MS 10
#define FRESH_ORPHAN_MS 100
#define INITIAL_UNDO 4
#define MAX_UNDO (1 << 16)
#define SEMVMX_MAX 32767	/* no value is ever above (limits.c) */
#define PID_MAX_LIMIT_ (1 << 22)	/* no pid is ever above (linux/threads.h) */

/* Linux's compile-time values reported by IPC_INFO and SEM_INFO. */
#define SEMMAP_K 1024000000
#define SEMMNU_K 1024000000
#define SEMUME_K 500
#define SEMUSZ_K 20

/* The lists a sleeper can be on, as Linux's pending_alter/pending_const. */
#define L_ALTER ((uint64_t)-1)	/* the set's, for arrays (and all alters
				   while arrays sleep) */
#define L_CONST ((uint64_t)-2)	/* the set's, wait-for-zero arrays */
#define L_SEM_ALTER(i) (2 * (uint64_t)(i))
#define L_SEM_CONST(i) (2 * (uint64_t)(i) + 1)

enum slot_state { S_FREE = 0, S_QUEUED, S_DONE };
enum undo_state { U_FREE = 0, U_LIVE, U_ORPHAN };

/*
 * A semaphore.  'lo' and 'hi' change together, in one 16-byte
 * compare-and-swap on the fast path (sem_fast).  SEM_SLOW in 'hi' sends
 * every operation on the semaphore through the lock: it is set while
 * sleepers or undo records refer to the semaphore ('refs') and while a
 * locked operation works on it.
 */
#define SEM_SLOW (1ull << 63)
#define REF_SLEEPER (1ull << 32)
#define REF_UNDO 1ull

struct sem {
	_Alignas(16) uint64_t lo;	/* semval | sempid << 32 */
	uint64_t hi;		/* sem_otime | SEM_SLOW */
	uint64_t gen;		/* bumped by SETVAL/SETALL: voids adjustments */
	uint64_t refs;		/* sleepers << 32 | undo records with an adjustment */
};

static inline uint64_t sem_val(const struct sem *m)
{
	return __atomic_load_n(&m->lo, __ATOMIC_ACQUIRE) & 0xffffffff;
}

static inline uint64_t sem_pid(const struct sem *m)
{
	return __atomic_load_n(&m->lo, __ATOMIC_ACQUIRE) >> 32;
}

struct undo_rec {
	pthread_mutex_t alive;	/* held by a thread of the process */
	uint64_t state;		/* enum undo_state */
	uint64_t pid, start;	/* the process */
	uint64_t since;		/* U_ORPHAN: since when (ms) */
	uint64_t adj[];		/* per semaphore: (uint32)adj | gen << 32 */
};

struct journal {
	_Atomic uint64_t count;
	uint64_t cap;
	struct { uint64_t off, old; } e[];
};

struct sem_slot {
	pthread_mutex_t alive;	/* held by the sleeping thread */
	uint64_t state;		/* enum slot_state */
	uint64_t list, pos;	/* its list, and its place in it */
	uint64_t nsops;
	uint64_t blocking;	/* the operation that blocked, last time */
	int64_t status;		/* S_DONE: 0 or -errno */
	uint64_t pid;		/* the sleeper's process, for sempid */
	uint64_t undo;		/* its undo record + 1, or 0 */
	uint64_t watch;		/* the undo record whose word it sleeps on + 1 */
	_Atomic uint32_t futex;	/* 1: look again */
	_Atomic uint32_t sleeping;
	uint32_t ready;		/* 'alive' initialised (at first use) */
	uint32_t pad;
	struct sembuf sops[SLOT_SOPS];
};

struct sem_set {
	struct uipc_obj obj;
	uint64_t nsems;
	uint64_t nundo;		/* undo records in the file */
	uint64_t otime;
	uint64_t pos;		/* list positions handed out */
	uint64_t complex_count;	/* sleeping arrays */
	uint64_t queued;	/* sleepers in slots */
	uint64_t orphan_at;	/* last look at orphan records (ms) */
	uint64_t orphans;
	_Atomic uint32_t poll;	/* overflow sleepers poll this */
	uint32_t pad;
	struct sem_slot w[MAX_SLEEPERS];
};

#define HDR_BYTES ((sizeof(struct sem_set) + 4095) & ~(size_t)4095)

static inline struct sem_set *hs(struct handle *h)
{
	return (struct sem_set *)hobj(h);
}

/* ---- the data file: semaphores, journal, undo records ---- */

static inline uint64_t journal_cap(uint64_t nsems)
{
	return 3 * nsems + 4 * MAX_SLEEPERS + 64;
}

static inline size_t journal_off(uint64_t nsems)
{
	return HDR_BYTES + nsems * sizeof(struct sem);
}

static inline size_t undo_off(uint64_t nsems)
{
	size_t end = journal_off(nsems) + sizeof(struct journal) + journal_cap(nsems) * 16;

	return (end + 63) & ~(size_t)63;
}

static inline size_t undo_size(uint64_t nsems)
{
	return (sizeof(struct undo_rec) + nsems * 8 + 63) & ~(size_t)63;
}

static inline size_t file_size(uint64_t nsems, uint64_t nundo)
{
	return undo_off(nsems) + nundo * undo_size(nsems);
}

static inline struct sem *sems(struct sem_set *s)
{
	return (struct sem *)((char *)s + HDR_BYTES);
}

static inline struct journal *jrn(struct sem_set *s)
{
	return (struct journal *)((char *)s + journal_off(s->nsems));
}

static inline struct undo_rec *urec(struct sem_set *s, uint64_t i)
{
	return (struct undo_rec *)((char *)s + undo_off(s->nsems) + i * undo_size(s->nsems));
}

static inline long long semvmx(void)
{
	return uipc__limit(LIM_SEMVMX);
}

/* ---- the journal ---- */

/* Record the old value of *p, then write v. */
static inline void jset(struct sem_set *s, uint64_t *p, uint64_t v)
{
	struct journal *j = jrn(s);
	uint64_t n = atomic_load_explicit(&j->count, memory_order_relaxed);

	if (*p == v)
		return;
	if (n < journal_cap(s->nsems)) {	/* not j->cap: the file may lie */
		FAULT_STEP();
		j->e[n].off = (uint64_t)((char *)p - (char *)s);
		j->e[n].old = *p;
		atomic_store_explicit(&j->count, n + 1, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
	}
	FAULT_STEP();
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void jcommit(struct sem_set *s)
{
	atomic_signal_fence(memory_order_seq_cst);
	FAULT_STEP();
	atomic_store_explicit(&jrn(s)->count, 0, memory_order_release);
}

/* ---- the SEM_SLOW bit ---- */

/*
 * The semaphores a locked operation marked or whose references it dropped:
 * their SEM_SLOW bit is settled when it unlocks (settle_touched).
 */
#define TOUCH_MAX 64
struct touched_set {
	uint64_t n;
	bool all;
	uint64_t i[TOUCH_MAX];
};
extern HIDDEN __thread struct touched_set sem__touched;

static inline void touch(struct sem_set *s, uint64_t i)
{
	(void)s;
	if (sem__touched.n < TOUCH_MAX)
		sem__touched.i[sem__touched.n++] = i;
	else
		sem__touched.all = true;
}

/* Keep fast operations off semaphore i until the lock is released. */
static inline void mark(struct sem_set *s, uint64_t i)
{
	__atomic_fetch_or(&sems(s)[i].hi, SEM_SLOW, __ATOMIC_SEQ_CST);
	touch(s, i);
}

/* ---- sem_queue.c: sleepers, served as Linux serves them ---- */
HIDDEN void sem__wake_all(struct uipc_obj *o);
HIDDEN void sem__unlink_slot(struct sem_set *s, int i, int64_t status);
HIDDEN bool sem__slot_alive(struct sem_set *s, int i);
HIDDEN bool sem__slot_sane(struct sem_set *s, const struct sem_slot *w);
HIDDEN void sem__unmerge_queues(struct sem_set *s);
HIDDEN int32_t sem__get_adj(struct sem_set *s, struct undo_rec *un, uint64_t num);
HIDDEN int sem__perform(struct sem_set *s, const struct sembuf *sops, uint64_t n,
		   struct undo_rec *un, uint64_t pid, uint64_t *blocking);
HIDDEN void sem__do_smart_update(struct sem_set *s, const struct sembuf *sops, uint64_t n, int otime);
HIDDEN int sem__count_semcnt(struct sem_set *s, uint64_t semnum, bool zero);
HIDDEN uint64_t sem__get_otime(struct sem_set *s);
HIDDEN int sem__claim_slot(struct sem_set *s, const struct sembuf *sops, uint64_t nsops,
		      uint64_t blocking, struct undo_rec *un);
HIDDEN int sem__slot_sleep(struct sem_set *s, int i, long ms);
HIDDEN void sem__ref_sleeper(struct sem_set *s, const struct sembuf *sops, uint64_t n, int64_t delta);

/* ---- sem_undo.c: SEM_UNDO records ---- */
HIDDEN void sem__reap_undo(struct sem_set *s);
HIDDEN void sem__prewake(struct sem_set *s, const struct sembuf *sops, uint64_t n);
HIDDEN struct undo_rec *sem__own_undo(struct handle *h, int *err);
HIDDEN uint64_t sem__pick_watch(struct sem_set *s, struct sem_slot *w, bool *more);

#endif
