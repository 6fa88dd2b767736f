/*
 * sem_queue.c - semaphore sleepers, served as Linux's ipc/sem.c serves them.
 *
 * An operation array is tried as one, in array order, each operation seeing
 * the earlier ones (perform).  One that cannot proceed sleeps in a slot, on
 * a list as in Linux: a single operation on its semaphore's list (alter or
 * wait-for-zero), an array on the set's global lists; while arrays sleep,
 * single alter operations join the global list too (merge_queues/
 * unmerge_queues).  Whoever changes a semaphore tries the sleepers of the
 * lists concerned, oldest first, and performs the operations of those that
 * can proceed for them (update_queue, wake_const_ops, do_smart_update).
 *
 * Locking: everything with the set's lock held (sem.c), changes through the
 * journal (sem.h); wake-ups are made after unlocking (sync.c).
 */
#include <stdlib.h>
#include "sem.h"

/*
 * Wake the sleeper in slot i: once the set is unlocked (sync.c), or now
 * (prewake).
 */
static void wake_slot_when(struct sem_set *s, int i, bool now)
{
	void (*wake)(_Atomic uint32_t *, int) = now ? uipc__futex_wake : uipc__wake_later;
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
		wake(word, INT_MAX);
	}
	wake(&w->futex, 1);
}

static void wake_slot(struct sem_set *s, int i)
{
	wake_slot_when(s, i, false);
}

/*
 * Before operations sops change the semaphores (sops NULL: before any
 * change of values, SETALL): wake now the first sleeper with an operation
 * on one they change, the one the change may serve, so that it comes to
 * the lock.  The wake-ups this holder decides are made after it unlocks;
 * were it to die before, the kernel would hand that sleeper the dead lock,
 * and its recovery would serve everyone.
 */
void sem__prewake(struct sem_set *s, const struct sembuf *sops, uint64_t n)
{
	uint64_t i, j, k;
	struct sem_slot *w;

	for (i = 0; i < MAX_SLEEPERS && s->queued; i++) {
		w = &s->w[i];
		if (w->state != S_QUEUED || !sem__slot_sane(s, w))
			continue;
		if (!sops) {
			wake_slot_when(s, (int)i, true);
			return;
		}
		for (k = 0; k < w->nsops; k++)
			for (j = 0; j < n; j++)
				if (sops[j].sem_op && sops[j].sem_num == w->sops[k].sem_num) {
					wake_slot_when(s, (int)i, true);
					return;
				}
	}
}

void sem__wake_all(struct uipc_obj *o)
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
void sem__unlink_slot(struct sem_set *s, int i, int64_t status)
{
	struct sem_slot *w = &s->w[i];

	sem__ref_sleeper(s, w->sops, w->nsops < SLOT_SOPS ? w->nsops : SLOT_SOPS, -1);
	if (w->nsops > 1 && s->complex_count)
		jset(s, &s->complex_count, s->complex_count - 1);
	jset(s, (uint64_t *)&w->status, (uint64_t)status);
	jset(s, &w->state, S_DONE);
	if (s->queued)
		jset(s, &s->queued, s->queued - 1);
}

/* Is the sleeper in slot i alive?  A dead one is taken off its list. */
bool sem__slot_alive(struct sem_set *s, int i)
{
	struct sem_slot *w = &s->w[i];
	int r = uipc__robust_ok(&w->alive) ? pthread_mutex_trylock(&w->alive) : EINVAL;

	if (r == EBUSY)
		return true;
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&w->alive);
	if (w->state == S_QUEUED)
		sem__unlink_slot(s, i, -EIDRM);
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
void sem__unmerge_queues(struct sem_set *s)
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

int32_t sem__get_adj(struct sem_set *s, struct undo_rec *un, uint64_t num)
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
	int32_t old = sem__get_adj(s, un, num);

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
int sem__perform(struct sem_set *s, const struct sembuf *sops, uint64_t n,
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
		adj = k >= 0 ? t[k].adj : sem__get_adj(s, un, num);
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
	sem__prewake(s, sops, n);
	for (i = 0; i < n; i++) {
		num = sops[i].sem_num;
		for (k = (int64_t)i + 1; k < (int64_t)n && sops[k].sem_num != num; k++)
			;
		if (k < (int64_t)n)
			continue;
		jset(s, &sm[num].lo, (uint64_t)(uint32_t)t[i].val | pid << 32);
		if (un && t[i].adj != sem__get_adj(s, un, num))
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
bool sem__slot_sane(struct sem_set *s, const struct sem_slot *w)
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

	if (!sem__slot_alive(s, i))
		return 2;
	if (!sem__slot_sane(s, w)) {	/* damaged: its sleeper gets EIDRM */
		sem__unlink_slot(s, i, -EIDRM);
		jcommit(s);
		wake_slot(s, i);
		return 2;
	}
	err = sem__perform(s, w->sops, w->nsops, slot_undo(s, w), w->pid, &blocking);
	if (err > 0) {
		jset(s, &w->blocking, blocking);
	} else {
		sem__unlink_slot(s, i, err);
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
uint64_t sem__get_otime(struct sem_set *s)
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
void sem__do_smart_update(struct sem_set *s, const struct sembuf *sops, uint64_t n, int otime)
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
int sem__count_semcnt(struct sem_set *s, uint64_t semnum, bool zero)
{
	int slots[MAX_SLEEPERS], n, k, cnt = 0;
	struct sem_slot *w;
	struct sembuf *b;

	for (k = 0; k < MAX_SLEEPERS; k++)
		if (s->w[k].state == S_QUEUED)
			sem__slot_alive(s, k);
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

/* Count (delta) the sleeper of sops on each semaphore it names, once. */
void sem__ref_sleeper(struct sem_set *s, const struct sembuf *sops, uint64_t n, int64_t delta)
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

int sem__claim_slot(struct sem_set *s, const struct sembuf *sops, uint64_t nsops,
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
		FAULT_STEP();
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
		sem__ref_sleeper(s, sops, nsops, 1);
		jset(s, &s->queued, s->queued + 1);
		jset(s, &w->state, S_QUEUED);
		jcommit(s);
		return i;
	}
	return -1;
}

static bool word_set(const void *word)
{
	return atomic_load_explicit((_Atomic uint32_t *)word, memory_order_acquire) != 0;
}

/*
 * Sleep in slot i until woken, a signal, or ms milliseconds.  Set
 * unlocked.  Returns -EINTR after a signal handler ran.
 */
int sem__slot_sleep(struct sem_set *s, int i, long ms)
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
