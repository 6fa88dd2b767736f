/*
 * sem.c - System V semaphore sets: semget(2), semop(2), semctl(2).
 *
 * User space visible behaviour: Linux's (ipc/sem.c), down to the order of
 * the checks and the order in which sleepers are served.  An operation array
 * is tried as one, in array order, each operation seeing the earlier ones
 * (perform).  One that cannot proceed sleeps on a list, as in Linux: a
 * single operation on its semaphore's list (alter or wait-for-zero), an
 * array on the set's global lists; while arrays sleep, single alter
 * operations join the global list too (merge_queues/unmerge_queues).  Whoever
 * changes a semaphore tries the sleepers of the lists concerned, oldest
 * first, and performs the operations of those that can proceed for them
 * (update_queue, wake_const_ops), so a sleeper never loses its turn to a
 * later sleeper; a newcomer that can proceed does proceed, as in Linux.
 *
 * Layout:  the header file holds struct sem_set: the common object header,
 * the set's counters and MAX_SLEEPERS sleeper slots, each with its
 * operations (up to SLOT_SOPS of them), list, position and result.  The data
 * file holds the semaphores, the journal and the undo records.
 *
 * Locking and crash safety:  everything is under the object lock (sync.c).
 * A change of several words (an operation array, SETALL, a sleeper served,
 * the adjustments of a dead process applied) goes through the journal: the
 * old value of each word is recorded before the word is written, and the
 * change commits when the journal is emptied.  A process that finds the
 * lock's owner dead rolls back what the journal holds (sem_recover), so a
 * change is wholly done or not at all.  The journal holds enough words for
 * any one change: an operation array writes a value, a pid and an
 * adjustment per distinct semaphore, SETALL a value, a pid and a generation
 * per semaphore, moving the sleepers between lists three words per sleeper.
 *
 * SEM_UNDO:  a process's adjustments for a set live in an undo record in the
 * set's file, found by (pid, start time), which survives exec and which a
 * forked child does not share.  A thread of the process holds the record's
 * robust mutex 'alive'; when the process dies the kernel marks the mutex
 * (FUTEX_OWNER_DIED) and wakes a sleeper waiting on it: every locked
 * operation looks for marked records (reap_undo) and applies their
 * adjustments as Linux's exit_sem does, clamped to 0..semvmx.  The mark
 * also comes when only the holding thread ended or the process called exec:
 * then the process still exists (its pid and start time in /proc tell), and
 * the record waits, unheld ("orphan"), for the process to use it again or to
 * be seen gone by a check made at most every ORPHAN_CHECK_MS.  A sleeper
 * whose operation waits for a holder's adjustment (a decrement waiting for a
 * process that decremented with SEM_UNDO) sleeps on that holder's 'alive'
 * futex word, so that the kernel itself wakes it when the holder dies.
 *
 * Waiting:  a sleeper takes a slot, spins a bounded time (sync.c), then
 * sleeps on its slot's futex (or the watched word) with a timeout, so that
 * signal handlers give EINTR as in Linux.  Killed sleepers are found by their
 * slot's robust 'alive' mutex and removed.  More than MAX_SLEEPERS sleepers,
 * or arrays of more than SLOT_SOPS operations, poll every millisecond
 * instead, trying their operations themselves.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
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

static const struct obj_ops sem_ops;

static inline struct sem_set *hs(struct handle *h)
{
	return (struct sem_set *)hobj(h);
}

/* ---- the data file: semaphores, journal, undo records ---- */

static uint64_t journal_cap(uint64_t nsems)
{
	return 3 * nsems + 4 * MAX_SLEEPERS + 64;
}

static size_t journal_off(uint64_t nsems)
{
	return HDR_BYTES + nsems * sizeof(struct sem);
}

static size_t undo_off(uint64_t nsems)
{
	size_t end = journal_off(nsems) + sizeof(struct journal) + journal_cap(nsems) * 16;

	return (end + 63) & ~(size_t)63;
}

static size_t undo_size(uint64_t nsems)
{
	return (sizeof(struct undo_rec) + nsems * 8 + 63) & ~(size_t)63;
}

static size_t file_size(uint64_t nsems, uint64_t nundo)
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

static long long semvmx(void)
{
	return uipc__limit(LIM_SEMVMX);
}

/* ---- the journal ---- */

/* Record the old value of *p, then write v. */
static void jset(struct sem_set *s, uint64_t *p, uint64_t v)
{
	struct journal *j = jrn(s);
	uint64_t n = atomic_load_explicit(&j->count, memory_order_relaxed);

	if (*p == v)
		return;
	if (n < journal_cap(s->nsems)) {	/* not j->cap: the file may lie */
		j->e[n].off = (uint64_t)((char *)p - (char *)s);
		j->e[n].old = *p;
		atomic_store_explicit(&j->count, n + 1, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
	}
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void jcommit(struct sem_set *s)
{
	atomic_signal_fence(memory_order_seq_cst);
	atomic_store_explicit(&jrn(s)->count, 0, memory_order_release);
}

/*
 * Undo what a dead holder left half done.  A journal that would write
 * outside the set's words (the identity, the lock, the geometry, the
 * journal itself) is garbage and dropped.
 */
static void jrollback(struct sem_set *s, size_t len)
{
	struct journal *j = jrn(s);
	uint64_t n = atomic_load(&j->count), i, off, joff = journal_off(s->nsems);
	uint64_t jend = joff + sizeof(*j) + journal_cap(s->nsems) * 16;

	if (n > journal_cap(s->nsems))
		n = 0;
	for (i = 0; i < n; i++) {
		off = j->e[i].off;
		if (off % 8 || off < offsetof(struct uipc_obj, perm) || off > len - 8 ||
		    (off >= offsetof(struct uipc_obj, lock) && off < sizeof(struct uipc_obj)) ||
		    (off >= offsetof(struct sem_set, nsems) &&
		     off < offsetof(struct sem_set, nundo) + 8) ||
		    (off >= joff && off < jend))
			n = 0;
	}
	while (n--)
		__atomic_store_n((uint64_t *)((char *)s + j->e[n].off), j->e[n].old,
				 __ATOMIC_RELAXED);
	atomic_store(&j->count, 0);
}

/* ---- the SEM_SLOW bit ---- */

/*
 * The semaphores a locked operation marked or whose references it dropped:
 * their SEM_SLOW bit is settled when it unlocks (settle_touched).
 */
#define TOUCH_MAX 64
static __thread struct {
	uint64_t n;
	bool all;
	uint64_t i[TOUCH_MAX];
} touched;

static void touch(struct sem_set *s, uint64_t i)
{
	(void)s;
	if (touched.n < TOUCH_MAX)
		touched.i[touched.n++] = i;
	else
		touched.all = true;
}

/* Keep fast operations off semaphore i until the lock is released. */
static void mark(struct sem_set *s, uint64_t i)
{
	__atomic_fetch_or(&sems(s)[i].hi, SEM_SLOW, __ATOMIC_SEQ_CST);
	touch(s, i);
}

/* SEM_SLOW as the references say.  Set locked. */
static void settle(struct sem_set *s, uint64_t i)
{
	struct sem *m = &sems(s)[i];

	if (m->refs)
		__atomic_fetch_or(&m->hi, SEM_SLOW, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&m->hi, ~SEM_SLOW, __ATOMIC_RELEASE);
}

static void settle_touched(struct sem_set *s)
{
	uint64_t k;

	if (touched.all) {
		for (k = 0; k < s->nsems; k++)
			settle(s, k);
	} else {
		for (k = 0; k < touched.n; k++)
			if (touched.i[k] < s->nsems)
				settle(s, touched.i[k]);
	}
	touched.n = 0;
	touched.all = false;
}

/* Count (delta) the sleeper of sops on each semaphore it names, once. */
static void ref_sleeper(struct sem_set *s, const struct sembuf *sops, uint64_t n, int64_t delta)
{
	uint64_t i, k, num;
	struct sem *m;

	for (i = 0; i < n; i++) {
		num = sops[i].sem_num;
		for (k = 0; k < i && sops[k].sem_num != num; k++)
			;
		if (k < i || num >= s->nsems)
			continue;
		m = &sems(s)[num];
		jset(s, &m->refs, m->refs + (uint64_t)delta * REF_SLEEPER);
		touch(s, num);
	}
}

/* ---- object operations ---- */

static long long used_sems(void);

static long sem_new_size(long nsems, int flg)
{
	long long semmns;

	(void)flg;
	if (nsems == 0)
		return -EINVAL;
	semmns = uipc__limit_fresh(LIM_SEMMNS);
	/* Only count when the limit can bind: it costs a look at every set. */
	if (semmns < uipc__limit_fresh(LIM_SEMMNI) * uipc__limit_fresh(LIM_SEMMSL) &&
	    used_sems() + nsems > semmns)
		return -ENOSPC;
	return (long)file_size((uint64_t)nsems, INITIAL_UNDO);
}

static int sem_init(struct uipc_obj *o, long nsems)
{
	struct sem_set *s = (struct sem_set *)o;

	o->hdr_size = sizeof(*s);
	s->nsems = (uint64_t)nsems;
	s->nundo = INITIAL_UNDO;
	jrn(s)->cap = journal_cap(s->nsems);
	return 0;
}

static int sem_more_checks(struct uipc_obj *o, long nsems)
{
	return (uint64_t)nsems > ((struct sem_set *)o)->nsems ? -EINVAL : 0;
}

#define MAX_NSEMS (1ull << 24)

static int sem_validate(struct uipc_obj *o, size_t len)
{
	struct sem_set *s = (struct sem_set *)o;

	if (o->hdr_size != sizeof(*s) || s->nsems == 0 || s->nsems > MAX_NSEMS ||
	    s->nundo > MAX_UNDO)
		return -EINVAL;
	/* A read-only view (len SIZE_MAX) has the header only. */
	if (len != SIZE_MAX && (len < file_size(s->nsems, s->nundo) ||
				jrn(s)->cap != journal_cap(s->nsems)))
		return -EINVAL;
	return 0;
}

static int sem_map_all(struct handle *h)
{
	struct sem_set *s = hs(h);

	if (s->nsems == 0 || s->nsems > MAX_NSEMS || s->nundo > MAX_UNDO)
		return -EINVAL;
	return uipc__handle_ensure(h, file_size(s->nsems, s->nundo));
}

/* ---- sleepers ---- */

/* Wake the sleeper in slot i (once the set is unlocked: sync.c). */
static void wake_slot(struct sem_set *s, int i)
{
	struct sem_slot *w = &s->w[i];
	_Atomic uint32_t *word;
	uint32_t v;

	atomic_store(&w->futex, 1);
	if (!atomic_load(&w->sleeping))
		return;
	if (w->watch && w->watch <= s->nundo) {
		/* It sleeps on a holder's word: take our mark off, wake it. */
		word = (_Atomic uint32_t *)&urec(s, w->watch - 1)->alive.__data.__lock;
		v = atomic_load(word);
		while ((v & FUTEX_WAITERS) && !atomic_compare_exchange_weak(word, &v, v & ~FUTEX_WAITERS))
			;
		uipc__wake_later(word, INT_MAX);
	}
	uipc__wake_later(&w->futex, 1);
}

static void sem_wake_all(struct uipc_obj *o)
{
	struct sem_set *s = (struct sem_set *)o;
	int i;

	for (i = 0; i < MAX_SLEEPERS; i++)
		if (s->w[i].state != S_FREE)
			wake_slot(s, i);
	atomic_fetch_add(&s->poll, 1);
	uipc__futex_wake(&s->poll, INT_MAX);
}

/* Take slot i off its list (Linux's unlink_queue). */
static void unlink_slot(struct sem_set *s, int i, int64_t status)
{
	struct sem_slot *w = &s->w[i];

	ref_sleeper(s, w->sops, w->nsops < SLOT_SOPS ? w->nsops : SLOT_SOPS, -1);
	if (w->nsops > 1 && s->complex_count)
		jset(s, &s->complex_count, s->complex_count - 1);
	jset(s, (uint64_t *)&w->status, (uint64_t)status);
	jset(s, &w->state, S_DONE);
	if (s->queued)
		jset(s, &s->queued, s->queued - 1);
}

/* Is the sleeper in slot i alive?  A dead one is taken off its list. */
static bool slot_alive(struct sem_set *s, int i)
{
	struct sem_slot *w = &s->w[i];
	int r = uipc__robust_ok(&w->alive) ? pthread_mutex_trylock(&w->alive) : EINVAL;

	if (r == EBUSY)
		return true;
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&w->alive);
	if (w->state == S_QUEUED)
		unlink_slot(s, i, -EIDRM);
	jset(s, &w->state, S_FREE);
	jcommit(s);
	if (r == 0 || r == EOWNERDEAD)
		pthread_mutex_unlock(&w->alive);
	return false;
}

/* The queued slots on 'list', oldest first.  Returns how many. */
static int list_slots(struct sem_set *s, uint64_t list, int *out)
{
	int i, k, n = 0;

	for (i = 0; i < MAX_SLEEPERS; i++) {
		if (s->w[i].state != S_QUEUED || s->w[i].list != list)
			continue;
		for (k = n; k > 0 && s->w[out[k - 1]].pos > s->w[i].pos; k--)
			out[k] = out[k - 1];
		out[k] = i;
		n++;
	}
	return n;
}

static void put_on_list(struct sem_set *s, int i, uint64_t list)
{
	jset(s, &s->pos, s->pos + 1);
	jset(s, &s->w[i].list, list);
	jset(s, &s->w[i].pos, s->pos);
}

/*
 * Before an array sleeps: the single alter operations move from their
 * semaphores' lists to the set's (Linux's merge_queues splices each
 * semaphore's list in front of the set's, so the last semaphore's come
 * first).
 */
static void merge_queues(struct sem_set *s)
{
	int slots[MAX_SLEEPERS], n = 0, i, k;
	struct sem_slot *a, *b;

	for (i = 0; i < MAX_SLEEPERS; i++) {
		a = &s->w[i];
		if (a->state != S_QUEUED || a->list == L_ALTER || a->list == L_CONST ||
		    a->list % 2 != 0)
			continue;
		for (k = n; k > 0; k--) {
			b = &s->w[slots[k - 1]];
			if (b->list > a->list || (b->list == a->list && b->pos < a->pos))
				break;
			slots[k] = slots[k - 1];
		}
		slots[k] = i;
		n++;
	}
	for (k = 0; k < n; k++)
		put_on_list(s, slots[k], L_ALTER);
}

/* Once no array sleeps, single operations go back to their semaphores. */
static void unmerge_queues(struct sem_set *s)
{
	int slots[MAX_SLEEPERS], n, k;

	if (s->complex_count || !s->queued)
		return;
	n = list_slots(s, L_ALTER, slots);
	for (k = 0; k < n; k++)
		put_on_list(s, slots[k], L_SEM_ALTER(s->w[slots[k]].sops[0].sem_num));
	jcommit(s);
}

/* ---- operations ---- */

static int32_t get_adj(struct sem_set *s, struct undo_rec *un, uint64_t num)
{
	uint64_t e;

	if (!un)
		return 0;
	e = un->adj[num];
	return (uint32_t)(e >> 32) == (uint32_t)sems(s)[num].gen ? (int32_t)(uint32_t)e : 0;
}

/* Set an adjustment; the semaphore counts the records that have one. */
static void set_adj(struct sem_set *s, struct undo_rec *un, uint64_t num, int32_t adj)
{
	struct sem *m = &sems(s)[num];
	int32_t old = get_adj(s, un, num);

	if (!old && adj)
		jset(s, &m->refs, m->refs + REF_UNDO);
	else if (old && !adj)
		jset(s, &m->refs, m->refs - REF_UNDO);
	jset(s, &un->adj[num], (uint64_t)(uint32_t)adj | (uint64_t)(uint32_t)m->gen << 32);
}

struct tentative {
	int32_t val, adj;
};

/*
 * Try the operations sops[0..n) as one, in array order, each seeing the
 * earlier ones (Linux's perform_atomic_semop_slow, which gives the same
 * results as its fast variant wherever that one applies).  On success apply
 * them through the journal: values, adjustments, and sempid of every
 * semaphore named.  Returns 0, 1 if one would block (*blocking: its index),
 * -EAGAIN if that one has IPC_NOWAIT, or -ERANGE.  Set locked.
 */
static int perform(struct sem_set *s, const struct sembuf *sops, uint64_t n,
		   struct undo_rec *un, uint64_t pid, uint64_t *blocking)
{
	struct tentative small[SLOT_SOPS], *t = small;
	long long vmx = semvmx();
	struct sem *sm = sems(s);
	int64_t k, cur, res, adj;
	uint64_t i, num;
	int err = 0;

	if (n > SLOT_SOPS && !(t = malloc(n * sizeof(*t))))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		num = sops[i].sem_num;
		for (k = (int64_t)i - 1; k >= 0 && sops[k].sem_num != num; k--)
			;
		cur = k >= 0 ? t[k].val : (int64_t)sem_val(&sm[num]);
		adj = k >= 0 ? t[k].adj : get_adj(s, un, num);
		if (!sops[i].sem_op && cur)
			goto would_block;
		res = cur + sops[i].sem_op;
		if (res < 0)
			goto would_block;
		if (res > vmx) {
			err = -ERANGE;
			goto out;
		}
		if (sops[i].sem_flg & SEM_UNDO) {
			adj -= sops[i].sem_op;
			if (adj < -vmx - 1 || adj > vmx) {
				err = -ERANGE;
				goto out;
			}
		}
		t[i].val = (int32_t)res;
		t[i].adj = (int32_t)adj;
	}
	/* Apply the last state of each semaphore named (once: see journal). */
	for (i = 0; i < n; i++) {
		num = sops[i].sem_num;
		for (k = (int64_t)i + 1; k < (int64_t)n && sops[k].sem_num != num; k++)
			;
		if (k < (int64_t)n)
			continue;
		jset(s, &sm[num].lo, (uint64_t)(uint32_t)t[i].val | pid << 32);
		if (un && t[i].adj != get_adj(s, un, num))
			set_adj(s, un, num, t[i].adj);
	}
	goto out;
would_block:
	*blocking = i;
	err = (sops[i].sem_flg & IPC_NOWAIT) ? -EAGAIN : 1;
out:
	if (t != small)
		free(t);
	return err;
}

/* Are a slot's operations in range (a damaged file may say anything)? */
static bool slot_sane(struct sem_set *s, const struct sem_slot *w)
{
	uint64_t k;

	if (w->nsops < 1 || w->nsops > SLOT_SOPS || w->blocking >= w->nsops)
		return false;
	for (k = 0; k < w->nsops; k++)
		if (w->sops[k].sem_num >= s->nsems)
			return false;
	return true;
}

static struct undo_rec *slot_undo(struct sem_set *s, struct sem_slot *w)
{
	return w->undo && w->undo <= s->nundo ? urec(s, w->undo - 1) : NULL;
}

/*
 * Try the operation of the sleeper in slot i.  Returns 1 if it still
 * sleeps, 2 if it is gone (dead), else its result (0 or -errno), after
 * taking it off its list.  Commits.
 */
static int try_slot(struct sem_set *s, int i)
{
	struct sem_slot *w = &s->w[i];
	uint64_t blocking = w->blocking;
	int err;

	if (!slot_alive(s, i))
		return 2;
	if (!slot_sane(s, w)) {	/* damaged: its sleeper gets EIDRM */
		unlink_slot(s, i, -EIDRM);
		jcommit(s);
		wake_slot(s, i);
		return 2;
	}
	err = perform(s, w->sops, w->nsops, slot_undo(s, w), w->pid, &blocking);
	if (err > 0) {
		jset(s, &w->blocking, blocking);
	} else {
		unlink_slot(s, i, err);
	}
	jcommit(s);
	return err;
}

static int wake_const_ops(struct sem_set *s, int64_t semnum)
{
	int slots[MAX_SLEEPERS], n, k, err, completed = 0;

	n = list_slots(s, semnum < 0 ? L_CONST : L_SEM_CONST(semnum), slots);
	for (k = 0; k < n; k++) {
		if (s->w[slots[k]].state != S_QUEUED)
			continue;
		err = try_slot(s, slots[k]);
		if (err == 1 || err == 2)
			continue;
		wake_slot(s, slots[k]);
		if (err == 0)
			completed = 1;
	}
	return completed;
}

static int do_smart_wakeup_zero(struct sem_set *s, const struct sembuf *sops, uint64_t n)
{
	int completed = 0, got_zero = 0;
	uint64_t i;

	if (sops) {
		for (i = 0; i < n; i++)
			if (sem_val(&sems(s)[sops[i].sem_num]) == 0) {
				got_zero = 1;
				completed |= wake_const_ops(s, sops[i].sem_num);
			}
	} else {
		for (i = 0; i < s->nsems; i++)
			if (sem_val(&sems(s)[i]) == 0) {
				got_zero = 1;
				completed |= wake_const_ops(s, (int64_t)i);
			}
	}
	if (got_zero)
		completed |= wake_const_ops(s, -1);
	return completed;
}

/* Must the scan of the alter list start again after slot i proceeded? */
static bool check_restart(struct sem_set *s, int i)
{
	int slots[MAX_SLEEPERS];

	return list_slots(s, L_ALTER, slots) > 0 || s->w[i].nsops > 1;
}

static int update_queue(struct sem_set *s, int64_t semnum)
{
	uint64_t list = semnum < 0 ? L_ALTER : L_SEM_ALTER(semnum);
	int slots[MAX_SLEEPERS], n, k, err, completed = 0;
	bool restart;

again:
	n = list_slots(s, list, slots);
	for (k = 0; k < n; k++) {
		struct sem_slot *w = &s->w[slots[k]];

		if (w->state != S_QUEUED || w->list != list)
			continue;
		/* A zero semaphore lets no decrement through (Linux). */
		if (semnum >= 0 && sem_val(&sems(s)[semnum]) == 0)
			break;
		err = try_slot(s, slots[k]);
		if (err == 1 || err == 2)
			continue;
		restart = false;
		if (err == 0) {
			completed = 1;
			do_smart_wakeup_zero(s, w->sops, w->nsops);
			restart = check_restart(s, slots[k]);
		}
		wake_slot(s, slots[k]);
		if (restart)
			goto again;
	}
	return completed;
}

/* Linux's set_semotime: the time goes to the first semaphore named. */
static void set_otime(struct sem_set *s, const struct sembuf *sops)
{
	uint64_t num = sops ? sops[0].sem_num : 0, now = (uint64_t)uipc__now();
	struct sem *m = &sems(s)[num];

	mark(s, num);	/* sops were marked; semaphore 0 may not be */
	jset(s, &m->hi, now | SEM_SLOW);
	jset(s, &s->otime, now);
}

/* sem_otime: the latest of the semaphores' (Linux's get_semotime). */
static uint64_t get_otime(struct sem_set *s)
{
	uint64_t t = s->otime, i, v;

	for (i = 0; i < s->nsems; i++) {
		v = __atomic_load_n(&sems(s)[i].hi, __ATOMIC_RELAXED) & ~SEM_SLOW;
		if (v > t)
			t = v;
	}
	return t;
}

/*
 * After semaphores changed (sops[0..n), or all when sops is NULL): serve
 * the sleepers that can now proceed, as Linux's do_smart_update.  Commits.
 */
static void do_smart_update(struct sem_set *s, const struct sembuf *sops, uint64_t n, int otime)
{
	int slots[MAX_SLEEPERS];
	uint64_t i;

	if (s->queued) {
		otime |= do_smart_wakeup_zero(s, sops, n);
		if (list_slots(s, L_ALTER, slots) > 0) {
			otime |= update_queue(s, -1);
		} else if (!sops) {
			for (i = 0; i < s->nsems; i++)
				otime |= update_queue(s, (int64_t)i);
		} else {
			for (i = 0; i < n; i++)
				if (sops[i].sem_op > 0)
					otime |= update_queue(s, sops[i].sem_num);
		}
	}
	if (otime)
		set_otime(s, sops);
	jcommit(s);
}

/* GETNCNT/GETZCNT as Linux's count_semcnt. */
static int count_semcnt(struct sem_set *s, uint64_t semnum, bool zero)
{
	int slots[MAX_SLEEPERS], n, k, cnt = 0;
	struct sem_slot *w;
	struct sembuf *b;

	for (k = 0; k < MAX_SLEEPERS; k++)
		if (s->w[k].state == S_QUEUED)
			slot_alive(s, k);
	cnt += list_slots(s, zero ? L_SEM_CONST(semnum) : L_SEM_ALTER(semnum), slots);
	for (int pass = 0; pass < (zero ? 2 : 1); pass++) {
		n = list_slots(s, pass ? L_CONST : L_ALTER, slots);
		for (k = 0; k < n; k++) {
			w = &s->w[slots[k]];
			if (w->blocking >= w->nsops || w->blocking >= SLOT_SOPS)
				continue;
			b = &w->sops[w->blocking];
			if (b->sem_num == semnum && ((zero && b->sem_op == 0) || (!zero && b->sem_op < 0)))
				cnt++;
		}
	}
	return cnt;
}

/* ---- SEM_UNDO ---- */

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Apply the adjustments of record r, whose process is gone, as Linux's
 * exit_sem: each value clamped to 0..semvmx, sempid the dead process; then
 * serve the sleepers.  Commits.
 */
static void apply_undo(struct sem_set *s, struct undo_rec *r)
{
	long long vmx = semvmx();
	struct sem *sm = sems(s);
	int64_t v;
	int32_t adj;
	uint64_t i;

	for (i = 0; i < s->nsems; i++) {
		if (!(adj = get_adj(s, r, i)))
			continue;
		v = (int64_t)sem_val(&sm[i]) + adj;
		jset(s, &sm[i].lo, (uint64_t)(v < 0 ? 0 : v > vmx ? vmx : v) | r->pid << 32);
		jset(s, &sm[i].refs, sm[i].refs - REF_UNDO);
		touch(s, i);
	}
	if (r->state == U_ORPHAN && s->orphans)
		jset(s, &s->orphans, s->orphans - 1);
	jset(s, &r->state, U_FREE);
	jcommit(s);
	do_smart_update(s, NULL, 0, 1);
}

/*
 * Look at record r, whose holder is gone or which nobody holds: apply it if
 * its process is dead, else leave it unheld (an orphan) for the process.
 */
static void check_record(struct sem_set *s, struct undo_rec *r)
{
	int e = uipc__robust_ok(&r->alive) ? pthread_mutex_trylock(&r->alive) : EINVAL;

	if (e == EBUSY)
		return;
	if (e == EOWNERDEAD)
		pthread_mutex_consistent(&r->alive);
	if (e == EINVAL || !uipc__process_alive(r->pid, r->start)) {
		apply_undo(s, r);
	} else if (r->state == U_LIVE) {
		jset(s, &r->since, ms_now());
		jset(s, &r->state, U_ORPHAN);
		jset(s, &s->orphans, s->orphans + 1);
		jcommit(s);
	}
	if (e == 0 || e == EOWNERDEAD)
		pthread_mutex_unlock(&r->alive);
}

/* Apply the adjustments of the processes that died.  Set locked. */
static void reap_undo(struct sem_set *s)
{
	bool orphans = s->orphans && ms_now() - s->orphan_at >= ORPHAN_CHECK_MS;
	struct undo_rec *r;
	uint32_t v;
	uint64_t i;

	if (orphans)
		s->orphan_at = ms_now();
	for (i = 0; i < s->nundo; i++) {
		r = urec(s, i);
		/* A new orphan may be a process still dying: look every time. */
		if (r->state == U_FREE ||
		    (r->state == U_ORPHAN && !orphans && ms_now() - r->since > FRESH_ORPHAN_MS))
			continue;
		v = __atomic_load_n((uint32_t *)&r->alive.__data.__lock, __ATOMIC_RELAXED);
		if (r->state == U_LIVE && (v & FUTEX_TID_MASK) && !(v & FUTEX_OWNER_DIED))
			continue;
		check_record(s, r);
	}
}

/*
 * This process's undo record, created at its first SEM_UNDO operation, and
 * held by the calling thread if no thread of the process holds it.  Set
 * locked; may grow the file.
 */
static struct undo_rec *own_undo(struct handle *h, int *err)
{
	uint64_t pid = (uint64_t)uipc__pid(), start = uipc__self_start(), i, n, found = (uint64_t)-1;
	struct sem_set *s = hs(h);
	struct undo_rec *r;
	uint32_t v;
	int e;

	if (h->undo_pid == (pid_t)pid && h->undo_index < s->nundo &&
	    (r = urec(s, h->undo_index))->state != U_FREE && r->pid == pid && r->start == start) {
		found = h->undo_index;
	} else {
		for (i = 0; i < s->nundo; i++) {
			r = urec(s, i);
			if (r->state != U_FREE && r->pid == pid && r->start == start) {
				found = i;
				break;
			}
			if (r->state == U_FREE && found == (uint64_t)-1)
				found = i | 1ull << 63;
		}
	}
	if (found == (uint64_t)-1) {	/* no free record: twice as many */
		n = s->nundo ? s->nundo * 2 : INITIAL_UNDO;
		if (n > MAX_UNDO) {
			*err = -ENOSPC;
			return NULL;
		}
		if ((*err = uipc__grow_file(h, file_size(s->nsems, n))))
			return NULL;
		s = hs(h);
		found = s->nundo | 1ull << 63;
		s->nundo = n;
		atomic_store(&s->obj.size, file_size(s->nsems, s->nundo));
	}
	r = urec(s, found & ~(1ull << 63));
	if (found >> 63) {	/* a new record: fill it while it is free */
		if ((*err = uipc__robust_init(&r->alive)))
			return NULL;
		memset(r->adj, 0, s->nsems * 8);
		r->pid = pid;
		r->start = start;
		pthread_mutex_trylock(&r->alive);
		jset(s, &r->state, U_LIVE);
		jcommit(s);
	}
	v = __atomic_load_n((uint32_t *)&r->alive.__data.__lock, __ATOMIC_RELAXED);
	if ((v & FUTEX_TID_MASK) == 0 || (v & FUTEX_OWNER_DIED)) {
		/* Its holding thread ended, or the process called exec. */
		e = uipc__robust_ok(&r->alive) ? pthread_mutex_trylock(&r->alive) : EINVAL;
		if (e == EOWNERDEAD)
			pthread_mutex_consistent(&r->alive);
		if (e == EINVAL) {
			*err = -EINVAL;
			return NULL;
		}
		if (r->state == U_ORPHAN) {
			jset(s, &r->state, U_LIVE);
			if (s->orphans)
				jset(s, &s->orphans, s->orphans - 1);
			jcommit(s);
		}
	}
	h->undo_pid = (pid_t)pid;
	h->undo_index = (uint32_t)(found & ~(1ull << 63));
	/* The mutex is on this thread's robust list: never unmap it. */
	if (!h->pinned) {
		h->pinned = true;
		uipc__handle_pin(h);
	}
	return r;
}

/* ---- semop ---- */

/* The locked part of every call: lock, settle dead processes. */
static int sem_lock(struct handle *h)
{
	int err = uipc__lock(h);

	if (err)
		return err;
	if ((err = sem_map_all(h))) {
		uipc__unlock(h);
		return err;
	}
	touched.n = 0;
	touched.all = false;
	reap_undo(hs(h));
	return 0;
}

static void sem_unlock(struct handle *h)
{
	unmerge_queues(hs(h));
	settle_touched(hs(h));
	uipc__unlock(h);
}

static int claim_slot(struct sem_set *s, const struct sembuf *sops, uint64_t nsops,
		      uint64_t blocking, struct undo_rec *un)
{
	struct sem_slot *w;
	uint64_t list;
	int i, r;

	if (nsops > SLOT_SOPS)
		return -1;
	for (i = 0; i < MAX_SLEEPERS; i++) {
		w = &s->w[i];
		if (w->state != S_FREE)
			continue;
		if (!w->ready) {
			if (uipc__robust_init(&w->alive))
				continue;
			w->ready = 1;
		}
		r = uipc__robust_ok(&w->alive) ? pthread_mutex_trylock(&w->alive) : EINVAL;
		if (r == EOWNERDEAD)
			pthread_mutex_consistent(&w->alive);
		else if (r)
			continue;
		atomic_store(&w->futex, 0);
		atomic_store(&w->sleeping, 0);
		memcpy(w->sops, sops, nsops * sizeof(*sops));
		jset(s, &w->nsops, nsops);
		jset(s, &w->blocking, blocking);
		jset(s, &w->pid, (uint64_t)uipc__pid());
		jset(s, &w->undo, un ? (uint64_t)((char *)un - (char *)urec(s, 0)) /
				      undo_size(s->nsems) + 1 : 0);
		jset(s, &w->watch, 0);
		if (nsops == 1) {
			if (sops[0].sem_op == 0)
				list = L_SEM_CONST(sops[0].sem_num);
			else
				list = s->complex_count ? L_ALTER : L_SEM_ALTER(sops[0].sem_num);
		} else {
			if (!s->complex_count)
				merge_queues(s);
			list = L_CONST;
			for (uint64_t k = 0; k < nsops; k++)
				if (sops[k].sem_op)
					list = L_ALTER;
			jset(s, &s->complex_count, s->complex_count + 1);
		}
		put_on_list(s, i, list);
		ref_sleeper(s, sops, nsops, 1);
		jset(s, &s->queued, s->queued + 1);
		jset(s, &w->state, S_QUEUED);
		jcommit(s);
		return i;
	}
	return -1;
}

/*
 * The undo record a sleeper should watch: one of another live process
 * holding an adjustment that its death would apply in the sleeper's
 * favour.  *more: there are several (or orphans), so sleep shortly.
 */
static uint64_t pick_watch(struct sem_set *s, struct sem_slot *w, bool *more)
{
	uint64_t i, first = 0, n = 0, pid = (uint64_t)uipc__pid();
	struct sembuf *b;
	struct undo_rec *r;
	int32_t adj;

	*more = true;
	if (!slot_sane(s, w))
		return 0;
	b = &w->sops[w->blocking];
	for (i = 0; i < s->nundo; i++) {
		r = urec(s, i);
		if (r->state != U_LIVE || r->pid == pid)
			continue;
		adj = get_adj(s, r, b->sem_num);
		if ((b->sem_op < 0 && adj > 0) || (b->sem_op == 0 && adj < 0)) {
			if (!n++)
				first = i + 1;
		}
	}
	*more = n > 1 || s->orphans;
	return first;
}

static bool word_set(const void *word)
{
	return atomic_load_explicit((_Atomic uint32_t *)word, memory_order_acquire) != 0;
}

/*
 * Sleep in slot i until woken, a signal, or ms milliseconds.  Set
 * unlocked.  Returns -EINTR after a signal handler ran.
 */
static int slot_sleep(struct sem_set *s, int i, long ms)
{
	struct sem_slot *w = &s->w[i];
	_Atomic uint32_t *word = &w->futex;
	uint32_t expect = 0, v;
	int r = 0;

	if (uipc__spin_until(word_set, &w->futex, 1))
		return 0;
	atomic_store(&w->sleeping, 1);
	if (w->watch && w->watch <= s->nundo) {
		word = (_Atomic uint32_t *)&urec(s, w->watch - 1)->alive.__data.__lock;
		v = atomic_load(word);
		/* Mark the word so that the kernel wakes us when its owner dies. */
		while ((v & FUTEX_TID_MASK) && !(v & (FUTEX_OWNER_DIED | FUTEX_WAITERS)) &&
		       !atomic_compare_exchange_weak(word, &v, v | FUTEX_WAITERS))
			;
		if (!(v & FUTEX_TID_MASK) || (v & FUTEX_OWNER_DIED))
			ms = 0;	/* gone already: look now */
		expect = v | FUTEX_WAITERS;
	}
	atomic_thread_fence(memory_order_seq_cst);
	if (ms && !atomic_load(&w->futex))
		r = uipc__futex_wait(word, expect, ms);
	atomic_store(&w->sleeping, 0);
	return r == -EINTR ? -EINTR : 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* The checks every round of a semop makes, set locked (Linux's order). */
static int round_checks(struct handle *h, const struct creds *c, uint64_t max, bool alter)
{
	struct sem_set *s = hs(h);

	if (max >= s->nsems)
		return -EFBIG;
	if (uipc__ipcperms(c, &s->obj.perm, alter ? S_IWUGO : S_IRUGO))
		return -EACCES;
	if (atomic_load(&s->obj.state) != OBJ_LIVE)
		return -EIDRM;
	return 0;
}

static long semop_locked(struct handle *h, struct sembuf *sops, uint64_t nsops, bool undos,
			 bool alter, int64_t deadline)
{
	const struct creds *c = uipc__creds();
	uint64_t max = 0, blocking = 0, i;
	struct undo_rec *un = NULL;
	struct sem_set *s;
	int slot = -1, err;
	bool intr = false, more;
	long ms;

	for (i = 0; i < nsops; i++)
		if (sops[i].sem_num > max)
			max = sops[i].sem_num;
	if (!h->writable)	/* the files keep the caller out */
		return max >= hs(h)->nsems ? -EFBIG : -EACCES;
	if ((err = sem_lock(h)))
		return err;
	/* As Linux's find_alloc_undo, before the checks (see semctl_down). */
	if (undos && !(un = own_undo(h, &err)))
		goto out;
	if ((err = round_checks(h, c, max, alter)))
		goto out;
	s = hs(h);
	for (i = 0; i < nsops; i++)
		mark(s, sops[i].sem_num);
	err = perform(s, sops, nsops, un, (uint64_t)uipc__pid(), &blocking);
	if (err == 0) {
		jcommit(s);
		do_smart_update(s, sops, nsops, 1);
		goto out;
	}
	if (err < 0)
		goto out;
	/* It must sleep. */
	slot = claim_slot(s, sops, nsops, blocking, un);
	for (;;) {
		if (slot >= 0) {
			s->w[slot].watch = pick_watch(s, &s->w[slot], &more);
			ms = more ? WATCH_MS : SLEEP_MS;
		} else {
			ms = 1;
		}
		if (deadline >= 0) {
			int64_t left = deadline - mono_ns();
			if (left <= 0)
				ms = 0;
			else if (left / 1000000 + 1 < ms)
				ms = left / 1000000 + 1;
		}
		sem_unlock(h);
		if (slot >= 0 && ms)
			intr = slot_sleep(s, slot, ms) == -EINTR;
		else if (ms)
			intr = uipc__futex_wait(&s->poll, atomic_load(&s->poll), 1) == -EINTR;
		if ((err = sem_lock(h))) {
			if (slot >= 0)
				pthread_mutex_unlock(&s->w[slot].alive);
			return err;
		}
		s = hs(h);
		for (i = 0; i < nsops; i++)
			mark(s, sops[i].sem_num);
		if (slot >= 0 && s->w[slot].state == S_DONE) {
			err = (int)s->w[slot].status;
			break;
		}
		err = -EIDRM;
		if (atomic_load(&s->obj.state) != OBJ_LIVE)
			break;
		if (slot < 0) {	/* no slot: try again ourselves */
			err = perform(s, sops, nsops, un, (uint64_t)uipc__pid(), &blocking);
			if (err == 0) {
				jcommit(s);
				do_smart_update(s, sops, nsops, 1);
			}
			if (err <= 0)
				break;
		}
		err = -EINTR;
		if (intr)
			break;
		err = -EAGAIN;
		if (deadline >= 0 && mono_ns() >= deadline)
			break;
	}
	if (slot >= 0) {
		if (s->w[slot].state == S_QUEUED)
			unlink_slot(s, slot, err);
		jset(s, &s->w[slot].state, S_FREE);
		jcommit(s);
		pthread_mutex_unlock(&s->w[slot].alive);
	}
out:
	sem_unlock(h);
	return err;
}

#if defined(__x86_64__)
/* Replace m's {lo, hi} (its first 16 bytes) if it still holds {lo, hi}. */
static inline bool cas16(struct sem *m, uint64_t lo, uint64_t hi, uint64_t nlo, uint64_t nhi)
{
	bool ok;

	__asm__ __volatile__("lock cmpxchg16b %1"
			     : "=@ccz"(ok), "+m"(*m), "+a"(lo), "+d"(hi)
			     : "b"(nlo), "c"(nhi)
			     : "memory");
	return ok;
}
#define HAVE_FAST 1
#else
#define HAVE_FAST 0
static inline bool cas16(struct sem *m, uint64_t lo, uint64_t hi, uint64_t nlo, uint64_t nhi)
{
	(void)m, (void)lo, (void)hi, (void)nlo, (void)nhi;
	return false;
}
#endif

#define NOT_FAST 1

/*
 * One operation without SEM_UNDO that can proceed at once, on a semaphore
 * that no sleeper and no undo record refers to and no locked operation
 * works on (SEM_SLOW clear): done without the lock, by one compare-and-swap
 * of the value, sempid and sem_otime together, so that a process killed at
 * any instruction leaves it done or not done.  No sleeper can be waiting for
 * the change.  Returns 0, or NOT_FAST: take the lock (which also gives
 * every error and every wait).
 */
static long sem_fast(struct handle *h, const struct sembuf *op)
{
	struct sem_set *s = hs(h);
	uint64_t lo, hi, now;
	int64_t res;
	struct sem *m;
	int tries;

	/* The semaphore must be in the mapping: the file may lie about nsems. */
	if (!HAVE_FAST || op->sem_num >= s->nsems ||
	    HDR_BYTES + (op->sem_num + 1ul) * sizeof(struct sem) > atomic_load(&h->len) ||
	    atomic_load(&s->obj.state) != OBJ_LIVE ||
	    uipc__ipcperms(uipc__creds(), &s->obj.perm, op->sem_op ? S_IWUGO : S_IRUGO))
		return NOT_FAST;
	m = &sems(s)[op->sem_num];
	now = (uint64_t)uipc__now();
	for (tries = 0; tries < 8; tries++) {
		lo = __atomic_load_n(&m->lo, __ATOMIC_ACQUIRE);
		hi = __atomic_load_n(&m->hi, __ATOMIC_ACQUIRE);
		if (hi & SEM_SLOW)
			return NOT_FAST;
		res = (int64_t)(lo & 0xffffffff) + op->sem_op;
		if (op->sem_op > 0 ? res > semvmx() : op->sem_op < 0 ? res < 0 : res != 0)
			return NOT_FAST;
		if (cas16(m, lo, hi, (uint64_t)res | (uint64_t)uipc__pid() << 32, now)) {
			/* For readers that cannot map the semaphores (a hint). */
			if (__atomic_load_n(&s->otime, __ATOMIC_RELAXED) != now)
				__atomic_store_n(&s->otime, now, __ATOMIC_RELAXED);
			return 0;
		}
	}
	return NOT_FAST;
}

static long do_semtimedop(int semid, struct sembuf *tsops, size_t nsops_in,
			  const struct timespec *timeout)
{
	unsigned nsops = (unsigned)nsops_in;	/* an unsigned int in the syscall */
	struct sembuf small[SLOT_SOPS], *sops = small;
	struct timespec ts = { 0, 0 };
	int64_t deadline = -1;
	bool undos = false, alter = false;
	struct handle *h;
	long err;
	int e;

	if (timeout && uipc__copy_in(&ts, timeout, sizeof(ts)))
		return -EFAULT;
	if (nsops > (unsigned)uipc__limit(LIM_SEMOPM) &&
	    nsops > (unsigned)uipc__limit_fresh(LIM_SEMOPM))
		return -E2BIG;
	if (nsops < 1)
		return -EINVAL;
	if (nsops > SLOT_SOPS && !(sops = malloc((size_t)nsops * sizeof(*sops))))
		return -ENOMEM;
	err = -EFAULT;
	/* One operation: a copy of constant size, which the compiler inlines. */
	if (nsops == 1 ? uipc__copy_in(small, tsops, sizeof(small[0]))
		       : uipc__copy_in(sops, tsops, (size_t)nsops * sizeof(*sops)))
		goto out;
	err = -EINVAL;
	if (semid < 0)
		goto out;
	if (timeout) {
		if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
			goto out;
		deadline = mono_ns() + (ts.tv_sec > 1000000000 ? 1000000000ll : ts.tv_sec) *
					       1000000000ll + ts.tv_nsec;
	}
	for (unsigned i = 0; i < nsops; i++) {
		undos |= (sops[i].sem_flg & SEM_UNDO) != 0;
		alter |= sops[i].sem_op != 0;
	}
	h = uipc__handle_get(&sem_ops, semid, &e);
	if (!h && e == -EACCES)
		h = uipc__handle_read(&sem_ops, semid, &e);
	err = e;
	if (h) {
		err = NOT_FAST;
		if (nsops == 1 && !undos && h->writable)
			err = sem_fast(h, sops);
		if (err == NOT_FAST)
			err = semop_locked(h, sops, nsops, undos, alter, deadline);
		uipc__handle_put(h);
	}
out:
	if (sops != small)
		free(sops);
	return err;
}

/* ---- semctl ---- */

/* The fourth argument of semctl (union semun, which programs define). */
union sem_arg {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

struct totals {
	long long sets, sems;
};

static void add_totals(struct uipc_obj *o, void *arg)
{
	struct totals *t = arg;

	t->sets++;
	t->sems += (long long)((struct sem_set *)o)->nsems;
}

static long long used_sems(void)
{
	struct totals t = { 0, 0 };
	int in_use;

	uipc__for_each(&sem_ops, add_totals, &t, &in_use);
	return t.sems;
}

static long semctl_info(int cmd, struct seminfo *out)
{
	struct totals t = { 0, 0 };
	struct seminfo si;
	int max, in_use;

	memset(&si, 0, sizeof(si));
	si.semmni = (int)uipc__limit_fresh(LIM_SEMMNI);
	si.semmns = (int)uipc__limit_fresh(LIM_SEMMNS);
	si.semmsl = (int)uipc__limit_fresh(LIM_SEMMSL);
	si.semopm = (int)uipc__limit_fresh(LIM_SEMOPM);
	si.semvmx = (int)uipc__limit_fresh(LIM_SEMVMX);
	si.semmnu = SEMMNU_K;
	si.semmap = SEMMAP_K;
	si.semume = SEMUME_K;
	max = uipc__for_each(&sem_ops, add_totals, &t, &in_use);
	if (cmd == SEM_INFO) {
		si.semusz = in_use;
		si.semaem = (int)t.sems;
	} else {
		si.semusz = SEMUSZ_K;
		si.semaem = si.semvmx;
	}
	if (uipc__copy_out(out, &si, sizeof(si)))
		return -EFAULT;
	return max < 0 ? 0 : max;
}

static long semctl_stat(int semid, int cmd, struct semid_ds *buf)
{
	int e;
	struct handle *h = uipc__stat_get(&sem_ops, semid, cmd != IPC_STAT, cmd == SEM_STAT_ANY, &e);
	struct semid_ds ds;
	struct sem_set *s;
	long err;

	if (!h)
		return e;
	if (h->writable && (err = sem_lock(h))) {
		uipc__handle_put(h);
		return err;
	}
	s = hs(h);
	memset(&ds, 0, sizeof(ds));
	uipc__fill_perm(&ds.sem_perm, &s->obj);
	ds.sem_otime = (time_t)(h->writable ? get_otime(s) : s->otime);
	ds.sem_ctime = (time_t)s->obj.ctime;
	ds.sem_nsems = s->nsems;
	if (h->writable)
		sem_unlock(h);
	err = cmd == IPC_STAT ? 0 : h->id;
	uipc__handle_put(h);
	if (uipc__copy_out(buf, &ds, sizeof(ds)))
		return -EFAULT;
	return err;
}

/* SETVAL and SETALL: every process's adjustment of semaphore i is void. */
static void set_value(struct sem_set *s, uint64_t i, uint64_t val)
{
	struct sem *sm = &sems(s)[i];

	mark(s, i);
	jset(s, &sm->lo, val | (uint64_t)uipc__pid() << 32);
	jset(s, &sm->gen, (uint32_t)(sm->gen + 1));
	jset(s, &sm->refs, sm->refs & ~(REF_SLEEPER - 1));
}

static long semctl_setval(int semid, int semnum, int val)
{
	const struct creds *c = uipc__creds();
	struct handle *h;
	struct sem_set *s;
	long err;
	int e;

	if (val > semvmx() || val < 0)
		return -ERANGE;
	h = uipc__handle_get(&sem_ops, semid, &e);
	if (!h)
		return e;
	err = -EINVAL;
	if (semnum < 0 || (uint64_t)semnum >= hs(h)->nsems)
		goto out;
	err = -EACCES;
	if (uipc__ipcperms(c, &hobj(h)->perm, S_IWUGO))
		goto out;
	if ((err = sem_lock(h)))
		goto out;
	s = hs(h);
	err = -EIDRM;
	if (atomic_load(&s->obj.state) == OBJ_LIVE) {
		set_value(s, (uint64_t)semnum, (uint64_t)val);
		jset(s, &s->obj.ctime, (uint64_t)uipc__now());
		do_smart_update(s, NULL, 0, 0);
		err = 0;
	}
	sem_unlock(h);
out:
	uipc__handle_put(h);
	return err;
}

static long semctl_main(int semid, int semnum, int cmd, void *p)
{
	const struct creds *c = uipc__creds();
	unsigned short *io = NULL;
	struct handle *h;
	struct sem_set *s;
	uint64_t nsems, i;
	long err;
	int e;

	h = uipc__handle_get(&sem_ops, semid, &e);
	if (!h)
		return e;
	nsems = hs(h)->nsems;
	err = -EINVAL;
	if (nsems == 0 || nsems > MAX_NSEMS)	/* a damaged file */
		goto out;
	err = -EACCES;
	if (uipc__ipcperms(c, &hobj(h)->perm, cmd == SETALL ? S_IWUGO : S_IRUGO))
		goto out;
	if (cmd == GETALL || cmd == SETALL) {
		err = -ENOMEM;
		if (!(io = malloc(nsems * sizeof(*io))))
			goto out;
	}
	if (cmd == SETALL) {
		err = -EFAULT;
		if (uipc__copy_in(io, p, nsems * sizeof(*io)))
			goto out;
		err = -ERANGE;
		for (i = 0; i < nsems; i++)
			if (io[i] > semvmx())
				goto out;
	} else if (cmd != GETALL) {
		err = -EINVAL;
		if (semnum < 0 || (uint64_t)semnum >= nsems)
			goto out;
	}
	if ((err = sem_lock(h)))
		goto out;
	s = hs(h);
	err = -EIDRM;
	if (atomic_load(&s->obj.state) != OBJ_LIVE)
		goto out_unlock;
	switch (cmd) {
	case GETALL:
		for (i = 0; i < nsems; i++)
			io[i] = (unsigned short)sem_val(&sems(s)[i]);
		err = 0;
		break;
	case SETALL:
		for (i = 0; i < nsems; i++)
			set_value(s, i, io[i]);
		jset(s, &s->obj.ctime, (uint64_t)uipc__now());
		jcommit(s);
		do_smart_update(s, NULL, 0, 0);
		err = 0;
		break;
	case GETVAL:	/* a value or pid out of range: a damaged file */
		err = (long)sem_val(&sems(s)[semnum]);
		if (err > SEMVMX_MAX)
			err = -EINVAL;
		break;
	case GETPID:
		err = (long)sem_pid(&sems(s)[semnum]);
		if (err > PID_MAX_LIMIT_)
			err = -EINVAL;
		break;
	case GETNCNT:
	case GETZCNT:
		err = count_semcnt(s, (uint64_t)semnum, cmd == GETZCNT);
		break;
	}
out_unlock:
	sem_unlock(h);
	if (cmd == GETALL && err == 0 && uipc__copy_out(p, io, nsems * sizeof(*io)))
		err = -EFAULT;
out:
	free(io);
	uipc__handle_put(h);
	return err;
}

static long semctl_down(int semid, int cmd, struct semid_ds *buf)
{
	struct semid_ds in;
	struct handle *h;
	struct sem_set *s;
	long err;
	int e;

	if (cmd == IPC_SET && uipc__copy_in(&in, buf, sizeof(in)))
		return -EFAULT;
	if (!(h = uipc__ctl_get(&sem_ops, semid, &e)))
		return e;
	if ((err = sem_lock(h)))
		goto out;
	s = hs(h);
	err = -EIDRM;
	if (atomic_load(&s->obj.state) != OBJ_LIVE) {
		sem_unlock(h);
		goto out;
	}
	if (cmd == IPC_RMID) {
		err = uipc__remove(h, &sem_ops);
		goto out;
	}
	err = -EINVAL;
	if (in.sem_perm.uid != (uid_t)-1 && in.sem_perm.gid != (gid_t)-1) {
		jset(s, &s->obj.perm.uid, in.sem_perm.uid);
		jset(s, &s->obj.perm.gid, in.sem_perm.gid);
		jset(s, &s->obj.perm.mode, in.sem_perm.mode & 0777);
		jset(s, &s->obj.ctime, (uint64_t)uipc__now());
		jcommit(s);
		err = 0;
	}
	sem_unlock(h);
	if (!err)
		uipc__set_file_mode(h);
out:
	uipc__handle_put(h);
	return err;
}

static long do_semctl(int semid, int semnum, int cmd, union sem_arg arg)
{
	if (semid < 0)
		return -EINVAL;
	/* The commands that read tunables see them as they are now. */
	if (cmd == IPC_INFO || cmd == SEM_INFO || cmd == SETVAL || cmd == SETALL)
		uipc__limits_expire();
	switch (cmd) {
	case IPC_INFO:
	case SEM_INFO:
		return semctl_info(cmd, (struct seminfo *)arg.__buf);
	case IPC_STAT:
	case SEM_STAT:
	case SEM_STAT_ANY:
		return semctl_stat(semid, cmd, arg.buf);
	case GETALL:
	case GETVAL:
	case GETPID:
	case GETNCNT:
	case GETZCNT:
	case SETALL:
		return semctl_main(semid, semnum, cmd, arg.array);
	case SETVAL:
		return semctl_setval(semid, semnum, arg.val);
	case IPC_SET:
	case IPC_RMID:
		return semctl_down(semid, cmd, arg.buf);
	default:
		return -EINVAL;
	}
}

/* ---- recovery ---- */

/*
 * After a death under the lock: roll back the half-done change, take dead
 * sleepers off their lists, and serve the sleepers again.
 */
static void sem_recover(struct handle *h)
{
	uint64_t queued = 0, complex = 0, k, r;
	struct sem_set *s;
	int i;

	if (sem_map_all(h))
		return;
	s = hs(h);
	jrollback(s, atomic_load(&h->len));
	for (i = 0; i < MAX_SLEEPERS; i++)
		if (s->w[i].state == S_QUEUED)
			slot_alive(s, i);
	/* Count the references again, from the sleepers and the records. */
	for (k = 0; k < s->nsems; k++)
		sems(s)[k].refs = 0;
	for (i = 0; i < MAX_SLEEPERS; i++) {
		if (s->w[i].state != S_QUEUED)
			continue;
		queued++;
		complex += s->w[i].nsops > 1;
		ref_sleeper(s, s->w[i].sops, s->w[i].nsops < SLOT_SOPS ? s->w[i].nsops : SLOT_SOPS, 1);
	}
	for (r = 0; r < s->nundo; r++)
		for (k = 0; urec(s, r)->state != U_FREE && k < s->nsems; k++)
			if (get_adj(s, urec(s, r), k))
				sems(s)[k].refs += REF_UNDO;
	jcommit(s);
	s->queued = queued;
	s->complex_count = complex;
	touched.all = true;
	do_smart_update(s, NULL, 0, 0);
	settle_touched(s);
}

static const struct obj_ops sem_ops = {
	.kind = KIND_SEM,
	.prefix = "sem",
	.mni = LIM_SEMMNI,
	.hdr_bytes = HDR_BYTES,
	.new_size = sem_new_size,
	.init = sem_init,
	.more_checks = sem_more_checks,
	.validate = sem_validate,
	.wake_all = sem_wake_all,
	.recover = sem_recover,
};

const struct obj_ops *uipc__sem_ops(void)
{
	return &sem_ops;
}

/* ---- the API ---- */

__attribute__((visibility("default")))
int uipc_semget(key_t key, int nsems, int semflg)
{
	uipc__limits_expire();
	if (nsems < 0 || nsems > uipc__limit_fresh(LIM_SEMMSL))
		return (int)ret(-EINVAL);
	return (int)ret(uipc__get(&sem_ops, key, semflg, nsems));
}

__attribute__((visibility("default")))
int uipc_semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *timeout)
{
	return (int)ret(do_semtimedop(semid, sops, nsops, timeout));
}

__attribute__((visibility("default")))
int uipc_semop(int semid, struct sembuf *sops, size_t nsops)
{
	return (int)ret(do_semtimedop(semid, sops, nsops, NULL));
}

__attribute__((visibility("default")))
int uipc_semctl(int semid, int semnum, int cmd, ...)
{
	union sem_arg arg = { 0 };
	va_list ap;

	switch (cmd) {
	case SETVAL:
	case IPC_STAT:
	case IPC_SET:
	case SEM_STAT:
	case SEM_STAT_ANY:
	case IPC_INFO:
	case SEM_INFO:
	case GETALL:
	case SETALL:
		va_start(ap, cmd);
		arg = va_arg(ap, union sem_arg);
		va_end(ap);
		break;
	}
	return (int)ret(do_semctl(semid, semnum, cmd, arg));
}
