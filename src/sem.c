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
 * SEM_UNDO: sem_undo.c.  Sleepers and the order of their service:
 * sem_queue.c.  A single operation without SEM_UNDO on a semaphore no
 * sleeper or undo record refers to takes no lock (sem_fast, SEM_SLOW).
 *
 * Waiting:  a sleeper takes a slot, spins a bounded time (sync.c), then
 * sleeps on its slot's futex (or the watched word) with a timeout, so that
 * signal handlers give EINTR as in Linux.  Killed sleepers are found by their
 * slot's robust 'alive' mutex and removed.  More than MAX_SLEEPERS sleepers,
 * or arrays of more than SLOT_SOPS operations, poll every millisecond
 * instead, trying their operations themselves.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include "sem.h"

static const struct obj_ops sem_ops;

/* ---- the journal (sem.h), after a death ---- */

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
	while (n--) {
		FAULT_STEP();
		__atomic_store_n((uint64_t *)((char *)s + j->e[n].off), j->e[n].old,
				 __ATOMIC_RELAXED);
	}
	FAULT_STEP();
	atomic_store(&j->count, 0);
}

/* The semaphores a locked operation marked or sem__touched (sem.h). */
__thread struct touched_set sem__touched;

/* SEM_SLOW as the references say.  Set locked. */
static void settle(struct sem_set *s, uint64_t i)
{
	struct sem *m = &sems(s)[i];

	FAULT_STEP();
	if (m->refs)
		__atomic_fetch_or(&m->hi, SEM_SLOW, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&m->hi, ~SEM_SLOW, __ATOMIC_RELEASE);
}

static void settle_touched(struct sem_set *s)
{
	uint64_t k;

	if (sem__touched.all) {
		for (k = 0; k < s->nsems; k++)
			settle(s, k);
	} else {
		for (k = 0; k < sem__touched.n; k++)
			if (sem__touched.i[k] < s->nsems)
				settle(s, sem__touched.i[k]);
	}
	sem__touched.n = 0;
	sem__touched.all = false;
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
	sem__touched.n = 0;
	sem__touched.all = false;
	sem__reap_undo(hs(h));
	return 0;
}

static void sem_unlock(struct handle *h)
{
	sem__unmerge_queues(hs(h));
	settle_touched(hs(h));
	uipc__unlock(h);
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
	if (undos && !(un = sem__own_undo(h, &err)))
		goto out;
	if ((err = round_checks(h, c, max, alter)))
		goto out;
	s = hs(h);
	for (i = 0; i < nsops; i++)
		mark(s, sops[i].sem_num);
	err = sem__perform(s, sops, nsops, un, (uint64_t)uipc__pid(), &blocking);
	if (err == 0) {
		jcommit(s);
		sem__do_smart_update(s, sops, nsops, 1);
		goto out;
	}
	if (err < 0)
		goto out;
	/* It must sleep. */
	slot = sem__claim_slot(s, sops, nsops, blocking, un);
	for (;;) {
		if (slot >= 0) {
			/* Locked, not served: sleep until woken again. */
			atomic_store(&s->w[slot].futex, 0);
			s->w[slot].watch = sem__pick_watch(s, &s->w[slot], &more);
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
			intr = sem__slot_sleep(s, slot, ms) == -EINTR;
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
			err = sem__perform(s, sops, nsops, un, (uint64_t)uipc__pid(), &blocking);
			if (err == 0) {
				jcommit(s);
				sem__do_smart_update(s, sops, nsops, 1);
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
			sem__unlink_slot(s, slot, err);
		jset(s, &s->w[slot].state, S_FREE);
		jcommit(s);
		FAULT_STEP();
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

/* Would operation op on a semaphore holding lo's value proceed at once? */
static bool fast_proceeds(const struct sembuf *op, uint64_t lo)
{
	int64_t res = (int64_t)(lo & 0xffffffff) + op->sem_op;

	return op->sem_op > 0 ? res <= semvmx() : op->sem_op < 0 ? res >= 0 : res == 0;
}

struct fast_wait {
	const struct sem *m;
	const struct sembuf *op;
};

/* Stop spinning: the operation would proceed, or the semaphore went slow. */
static bool fast_wait_over(const void *arg)
{
	const struct fast_wait *w = arg;

	return (__atomic_load_n(&w->m->hi, __ATOMIC_ACQUIRE) & SEM_SLOW) ||
	       fast_proceeds(w->op, __atomic_load_n(&w->m->lo, __ATOMIC_ACQUIRE));
}

/*
 * One operation without SEM_UNDO that can proceed at once, on a semaphore
 * that no sleeper and no undo record refers to and no locked operation
 * works on (SEM_SLOW clear): done without the lock, by one compare-and-swap
 * of the value, sempid and sem_otime together, so that a process killed at
 * any instruction leaves it done or not done.  No sleeper can be waiting for
 * the change.  An operation that would wait first spins a while (sync.c's
 * budget) for another process's fast change: registering as a sleeper
 * would send every operation on the semaphore the locked way.  Returns 0,
 * or NOT_FAST: take the lock (which also gives every error and every wait).
 */
static long sem_fast(struct handle *h, const struct sembuf *op)
{
	struct sem_set *s = hs(h);
	struct fast_wait wait;
	uint64_t lo, hi, nlo, now;
	bool spun = false;
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
		if (!fast_proceeds(op, lo)) {
			if (op->sem_op > 0 || (op->sem_flg & IPC_NOWAIT) || spun)
				return NOT_FAST;
			spun = true;
			wait = (struct fast_wait){ m, op };
			if (!uipc__spin_until(fast_wait_over, &wait, 16))
				return NOT_FAST;
			now = (uint64_t)uipc__now();
			continue;
		}
		nlo = ((lo & 0xffffffff) + (uint64_t)(int64_t)op->sem_op) & 0xffffffff;
		FAULT_STEP();
		if (cas16(m, lo, hi, nlo | (uint64_t)uipc__pid() << 32, now)) {
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
	long long sems;
};

static void add_totals(struct uipc_obj *o, void *arg)
{
	struct totals *t = arg;

	t->sems += (long long)((struct sem_set *)o)->nsems;
}

static long long used_sems(void)
{
	struct totals t = { 0 };
	int in_use;

	uipc__for_each(&sem_ops, add_totals, &t, &in_use);
	return t.sems;
}

static long semctl_info(int cmd, struct seminfo *out)
{
	struct totals t = { 0 };
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
	ds.sem_otime = (time_t)(h->writable ? sem__get_otime(s) : s->otime);
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
		sem__prewake(s, &(struct sembuf){ (unsigned short)semnum, 1, 0 }, 1);
		set_value(s, (uint64_t)semnum, (uint64_t)val);
		jset(s, &s->obj.ctime, (uint64_t)uipc__now());
		sem__do_smart_update(s, NULL, 0, 0);
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
		sem__prewake(s, NULL, 0);
		for (i = 0; i < nsems; i++)
			set_value(s, i, io[i]);
		jset(s, &s->obj.ctime, (uint64_t)uipc__now());
		jcommit(s);
		sem__do_smart_update(s, NULL, 0, 0);
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
		err = sem__count_semcnt(s, (uint64_t)semnum, cmd == GETZCNT);
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
			sem__slot_alive(s, i);
	/* Count the references again, from the sleepers and the records. */
	for (k = 0; k < s->nsems; k++)
		sems(s)[k].refs = 0;
	for (i = 0; i < MAX_SLEEPERS; i++) {
		if (s->w[i].state != S_QUEUED)
			continue;
		queued++;
		complex += s->w[i].nsops > 1;
		sem__ref_sleeper(s, s->w[i].sops, s->w[i].nsops < SLOT_SOPS ? s->w[i].nsops : SLOT_SOPS, 1);
	}
	for (r = 0; r < s->nundo; r++)
		for (k = 0; urec(s, r)->state != U_FREE && k < s->nsems; k++)
			if (sem__get_adj(s, urec(s, r), k))
				sems(s)[k].refs += REF_UNDO;
	jcommit(s);
	s->queued = queued;
	s->complex_count = complex;
	sem__touched.all = true;
	sem__do_smart_update(s, NULL, 0, 0);
	settle_touched(s);
}

/*
 * uipc check: no change half done, values and pids in range, sleepers and
 * undo records in states that exist, and the references (hence SEM_SLOW)
 * and the sleeper counts the ones the sleepers and the records imply.  With
 * repair, out-of-range values are clamped, records in no state are freed,
 * and the rest is counted again as after a death.  Called locked.
 */
static int sem_check(struct handle *h, struct check_log *log)
{
	uint64_t k, r, i, num, queued = 0, complex = 0, *refs, orphans = 0, lo;
	int problems = 0, bad_refs = 0;
	struct undo_rec *u;
	struct sem_set *s;
	struct sem *m;

	if (sem_map_all(h) || !(refs = calloc(hs(h)->nsems, sizeof(*refs))))
		return -1;
	s = hs(h);
	if (atomic_load(&jrn(s)->count)) {
		problems += uipc__check_say(log, "a change was left half done");
		if (log->repair)
			jrollback(s, atomic_load(&h->len));
	}
	for (i = 0; i < MAX_SLEEPERS; i++) {
		if (s->w[i].state > S_DONE ||
		    (s->w[i].state == S_QUEUED && !sem__slot_sane(s, &s->w[i]))) {
			uipc__check_say(log, "sleeper %llu is in no state a sleeper can be in",
					(unsigned long long)i);
			free(refs);
			return -1;
		}
		if (s->w[i].state != S_QUEUED)
			continue;
		queued++;
		complex += s->w[i].nsops > 1;
		for (k = 0; k < s->w[i].nsops; k++) {
			num = s->w[i].sops[k].sem_num;
			for (r = 0; r < k && s->w[i].sops[r].sem_num != num; r++)
				;
			if (r == k)
				refs[num] += REF_SLEEPER;
		}
	}
	for (r = 0; r < s->nundo; r++) {
		u = urec(s, r);
		if (u->state > U_ORPHAN) {
			problems += uipc__check_say(log, "undo record %llu is in no state a record "
					"can be in", (unsigned long long)r);
			if (log->repair)
				jset(s, &u->state, U_FREE);
			continue;
		}
		orphans += u->state == U_ORPHAN;
		lo = __atomic_load_n((uint32_t *)&u->alive.__data.__lock, __ATOMIC_RELAXED);
		if (u->state == U_LIVE && (!(lo & FUTEX_TID_MASK) || (lo & FUTEX_OWNER_DIED)))
			problems += uipc__check_say(log, "process %llu died or called exec: its "
					"adjustments wait for the next call", (unsigned long long)u->pid);
		for (k = 0; u->state != U_FREE && k < s->nsems; k++)
			if (sem__get_adj(s, u, k))
				refs[k] += REF_UNDO;
	}
	for (k = 0; k < s->nsems; k++) {
		m = &sems(s)[k];
		lo = m->lo;
		if ((lo & 0xffffffff) > SEMVMX_MAX || (lo >> 32) > PID_MAX_LIMIT_) {
			problems += uipc__check_say(log, "semaphore %llu holds %llu (pid %llu), out "
					"of range", (unsigned long long)k,
					(unsigned long long)(lo & 0xffffffff),
					(unsigned long long)(lo >> 32));
			if (log->repair)
				jset(s, &m->lo, ((lo >> 32) > PID_MAX_LIMIT_ ? 0 : lo >> 32 << 32) |
					((lo & 0xffffffff) > SEMVMX_MAX ? SEMVMX_MAX :
					 (lo & 0xffffffff)));
		}
		if (m->refs != refs[k] || (refs[k] && !(m->hi & SEM_SLOW)))
			bad_refs++;
	}
	if (log->repair)
		jcommit(s);
	free(refs);
	if (bad_refs || s->queued != queued || s->complex_count != complex || s->orphans != orphans)
		problems += uipc__check_say(log, "the references of %d semaphores, or the counts of "
				"sleepers and orphan records, are not what the sleepers and the records "
				"say", bad_refs);
	if (problems && log->repair) {
		jset(s, &s->orphans, orphans);
		jcommit(s);
		sem__touched.n = 0;
		sem__touched.all = false;
		sem__reap_undo(s);
		sem_recover(h);		/* counts again, serves the sleepers */
		sem__unmerge_queues(s);
		settle_touched(s);
		uipc__check_say(log, "rolled back what was half done, applied the adjustments of "
				"dead processes, counted again");
	}
	return problems;
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
	.wake_all = sem__wake_all,
	.recover = sem_recover,
	.check = sem_check,
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
