/*
 * sem_undo.c - SEM_UNDO: a process's adjustments, applied when it dies.
 *
 * A process's adjustments for a set live in an undo record in the set's
 * file, found by (pid, start time: proc.c), which survives exec and which a
 * forked child does not share.  A thread of the process holds the record's
 * robust mutex 'alive'; when the process dies the kernel marks the mutex
 * (FUTEX_OWNER_DIED) and wakes a sleeper waiting on it: every locked
 * operation looks for marked records (reap_undo) and applies their
 * adjustments as Linux's exit_sem does, clamped to 0..semvmx.  The mark
 * also comes when only the holding thread ended or the process called exec:
 * then the process still exists, and the record waits, unheld ("orphan"),
 * for the process to use it again or to be seen gone by a check made at
 * most every ORPHAN_CHECK_MS (every time while the orphan is new: a dying
 * process releases its robust mutexes before it is a zombie).  A sleeper
 * whose operation waits for a holder's adjustment sleeps on that holder's
 * 'alive' futex word (pick_watch), so that the kernel wakes it when the
 * holder dies.
 *
 * Locking: with the set's lock held; changes through the journal (sem.h).
 */
#include <time.h>
#include "sem.h"

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
		if (!(adj = sem__get_adj(s, r, i)))
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
	sem__do_smart_update(s, NULL, 0, 1);
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
void sem__reap_undo(struct sem_set *s)
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
struct undo_rec *sem__own_undo(struct handle *h, int *err)
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
		FAULT_STEP();
		s->nundo = n;
		atomic_store(&s->obj.size, file_size(s->nsems, s->nundo));
	}
	r = urec(s, found & ~(1ull << 63));
	if (found >> 63) {	/* a new record: fill it while it is free */
		if ((*err = uipc__robust_init(&r->alive)))
			return NULL;
		FAULT_STEP();
		memset(r->adj, 0, s->nsems * 8);
		r->pid = pid;
		r->start = start;
		FAULT_STEP();
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

/*
 * The undo record a sleeper should watch: one of another live process
 * holding an adjustment that its death would apply in the sleeper's
 * favour.  *more: there are several (or orphans), so sleep shortly.
 */
uint64_t sem__pick_watch(struct sem_set *s, struct sem_slot *w, bool *more)
{
	uint64_t i, first = 0, n = 0, pid = (uint64_t)uipc__pid();
	struct sembuf *b;
	struct undo_rec *r;
	int32_t adj;

	*more = true;
	if (!sem__slot_sane(s, w))
		return 0;
	b = &w->sops[w->blocking];
	for (i = 0; i < s->nundo; i++) {
		r = urec(s, i);
		if (r->state != U_LIVE || r->pid == pid)
			continue;
		adj = sem__get_adj(s, r, b->sem_num);
		if ((b->sem_op < 0 && adj > 0) || (b->sem_op == 0 && adj < 0)) {
			if (!n++)
				first = i + 1;
		}
	}
	*more = n > 1 || s->orphans;
	return first;
}
