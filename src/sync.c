/*
 * sync.c - the object lock, the redo log, futex waits and bounded spinning.
 *
 * The object lock is a robust, process-shared pthread mutex in the object's
 * header.  glibc registers every thread's robust list with the kernel, so an
 * uncontended lock and unlock are one atomic instruction each, and when a
 * holder dies the kernel marks the mutex FUTEX_OWNER_DIED: the next locker
 * gets EOWNERDEAD and repairs the object (uipc__lock below) before it goes on.
 * Death is therefore detected by an event the kernel guarantees, never by a
 * timeout or a pid.
 *
 * Repair is simple because every change of the true state goes through the
 * redo log (internal.h): replay a committed log, drop an uncommitted one, let
 * the mechanism derive its other state again (ops->recover), then wake every
 * waiter so each re-examines the state it sleeps on.
 *
 * Contention: before sleeping on the mutex a locker spins with exponential
 * backoff, and only when it may run on more than one CPU (a spin cannot pay
 * when the holder cannot run at the same time).  A lock that stays held for
 * seconds by nobody who could release it (which a sane holder never does: no
 * critical section blocks) means the file was damaged: the call fails with
 * EINVAL instead of hanging (lock_wedged).
 *
 * Sleeping on futexes always uses a timeout.  An untimed FUTEX_WAIT is
 * restarted transparently after a SA_RESTART handler, but msgsnd/msgrcv must
 * fail with EINTR after any handler; a timed wait returns EINTR.
 */
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define SPIN_MAX 2000
#define SPIN_MIN 200
#define SPIN_FAILS 3

/*
 * Spinning cannot pay when this process may run on one CPU only (the peer
 * it waits for would need that CPU): no spin then.  Looked up once.
 */
int uipc__spin_limit(void)
{
	static _Atomic int limit = -1;
	int l = atomic_load_explicit(&limit, memory_order_relaxed);
	cpu_set_t set;

	if (unlikely(l < 0)) {
		l = sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 1 &&
		    sysconf(_SC_NPROCESSORS_ONLN) > 1 ? SPIN_MAX : 0;
		atomic_store_explicit(&limit, l, memory_order_relaxed);
	}
	return l;
}

/*
 * Spin until done(arg) or the thread's budget runs out, looking every
 * 'look' pauses (looking pulls the cache line away from the writer it waits
 * for).  SPIN_MAX pauses are about 50 us here, what a futex wake-up of
 * a halted CPU costs, so a spin that ends in a sleep at most doubles the cost
 * of sleeping at once.  After SPIN_FAILS spins in a
 * row that did not pay (the peer cannot run meanwhile: the CPUs are busy),
 * the thread spins SPIN_MIN pauses only, except one wait in 16 that spins
 * the full limit to find out whether spinning pays again.
 */
bool uipc__spin_until(bool (*done)(const void *arg), const void *arg, int look)
{
	static __thread unsigned fails, waits;
	int limit = uipc__spin_limit(), n;

	if (fails >= SPIN_FAILS && ++waits % 16 && limit > SPIN_MIN) {
		limit = SPIN_MIN;
	}
	for (n = 0; n < limit; n++) {
		if (n % look == 0 && done(arg)) {
			fails = 0;
			return true;
		}
		cpu_relax();
	}
	fails++;
	return done(arg);
}

/*
 * The type word glibc gives our mutexes (robust, process-shared).  A mutex
 * whose type word was damaged is refused before glibc acts on it: some
 * types run instructions this CPU may not have (lock elision).
 */
static int robust_kind(void)
{
	static _Atomic int kind = -1;
	pthread_mutex_t m;

	if (atomic_load_explicit(&kind, memory_order_relaxed) < 0 && uipc__robust_init(&m) == 0) {
		atomic_store_explicit(&kind, m.__data.__kind, memory_order_relaxed);
		pthread_mutex_destroy(&m);
	}
	return atomic_load_explicit(&kind, memory_order_relaxed);
}

bool uipc__robust_ok(pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == robust_kind();
}

int uipc__robust_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int err;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	err = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -err;
}

/*
 * Commit a transaction to log r: copy it into the log, publish it with one
 * store of the count, apply it, clear the count.  The compiler must not move
 * the applying stores above the publishing store, nor the clearing store
 * above them: a process can die between any two of them.  Compiler fences
 * are enough for that: only the dying thread's own program order matters,
 * and the next holder of the lock gets the stores through the kernel.  The
 * applying stores are release stores, in the transaction's order, for
 * readers that do not hold the lock (a receiver reading the link a sender
 * adds: msg.c).
 */
void uipc__txn_commit_to(struct redo_log *r, struct txn *t)
{
	int i;

	for (i = 0; i < t->n; i++) {
		r->e[i].off = (uint64_t)((char *)t->e[i].p - t->base);
		r->e[i].val = t->e[i].val;
	}
	FAULT_STEP();
	atomic_store_explicit(&r->count, (uint64_t)t->n, memory_order_release);
	atomic_signal_fence(memory_order_seq_cst);
	for (i = 0; i < t->n; i++) {
		FAULT_STEP();
		__atomic_store_n(t->e[i].p, t->e[i].val, __ATOMIC_RELEASE);
	}
	FAULT_STEP();
	atomic_store_explicit(&r->count, 0, memory_order_release);
	t->n = 0;
}

/*
 * Replay log r, left by a dead holder of 'lock', on the object o of 'len'
 * bytes.  A log that is garbage is dropped: one that would write the
 * identity (magic to id; the key may change), the object lock and log, or
 * the lock and log it belongs to.
 */
void uipc__redo_replay(struct uipc_obj *o, struct redo_log *r, size_t len,
		       const pthread_mutex_t *lock)
{
	uint64_t n = atomic_load(&r->count), i;
	uint64_t lock_off = (uint64_t)((const char *)lock - (const char *)o);
	uint64_t log_off = (uint64_t)((char *)r - (char *)o);

	for (i = 0; i < n && n <= REDO_MAX; i++) {
		uint64_t off = r->e[i].off;
		if (off % 8 || off < offsetof(struct uipc_obj, key) || off > len - 8 ||
		    (off >= offsetof(struct uipc_obj, lock) && off < sizeof(*o)) ||
		    (off >= lock_off && off < lock_off + sizeof(*lock)) ||
		    (off >= log_off && off < log_off + sizeof(*r)))
			n = 0;
	}
	for (i = 0; i < n && n <= REDO_MAX; i++) {
		FAULT_STEP();
		__atomic_store_n((uint64_t *)((char *)o + r->e[i].off), r->e[i].val,
				 __ATOMIC_RELAXED);
	}
	FAULT_STEP();
	atomic_store(&r->count, 0);
}

static void after_owner_died(struct handle *h)
{
	struct uipc_obj *o = hobj(h);
	const struct obj_ops *ops = uipc__ops((enum uipc_kind)h->kind);

	uipc__redo_replay(o, &o->redo, atomic_load(&h->len), &o->lock);
	ops->recover(h);
	ops->wake_all(hobj(h));
	FAULT_STEP();
	pthread_mutex_consistent(&o->lock);
}

/*
 * Is the lock held by nobody who could ever release it?  Asked after the
 * lock stayed taken for seconds, which no critical section does.  The owner
 * field (glibc keeps the owner's thread id in the futex word) names a thread
 * that does not exist, or none, or us, or a process that does not even map
 * the object: the word was damaged, the object is unusable.  A live owner
 * that maps it (stopped in a debugger, say) is waited for; one whose maps
 * cannot be read (another user's process, or /proc closed to us) cannot be
 * told from a damaged word and is given up on too.
 */
static bool lock_wedged(struct handle *h, pthread_mutex_t *m)
{
	int tid = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) & FUTEX_TID_MASK;

	if (tid == 0 || tid == gettid())
		return true;
	if (kill(tid, 0) < 0 && errno == ESRCH)
		return true;
	return uipc__maps_of(tid, h->ino, -1) <= 0;
}

#define WEDGED_AFTER_S 3

/*
 * Take the robust mutex m of h's object.  Returns 1 when its last owner died
 * holding it (the caller repairs what it guards, then calls
 * pthread_mutex_consistent), 0, or -EINVAL for a damaged or wedged mutex.
 */
int uipc__lock_mutex(struct handle *h, pthread_mutex_t *m)
{
	int err, spins = uipc__spin_limit(), waited = 0, backoff, i;
	struct timespec ts;

	if (unlikely(!uipc__robust_ok(m)))
		return -EINVAL;
	err = pthread_mutex_trylock(m);
	for (backoff = 1; err == EBUSY && spins > 0; backoff = backoff < 64 ? backoff * 2 : 64) {
		for (i = 0; i < backoff; i++)
			cpu_relax();
		spins -= backoff;
		if (__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0)
			err = pthread_mutex_trylock(m);
	}
	while (err == EBUSY || err == ETIMEDOUT) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		err = pthread_mutex_timedlock(m, &ts);
		if (err == ETIMEDOUT && ++waited >= WEDGED_AFTER_S && lock_wedged(h, m))
			return -EINVAL;
	}
	if (err && err != EOWNERDEAD)	/* EINVAL, ENOTRECOVERABLE: a damaged mutex */
		return -EINVAL;
	FAULT_STEP();
	return err == EOWNERDEAD;
}

/* The first wake-up of this critical section was made (see uipc__wake_later). */
static __thread bool first_wake_made = true;	/* true outside a section */

int uipc__lock(struct handle *h)
{
	int r = uipc__lock_mutex(h, &hobj(h)->lock);

	if (r == 1) {
		after_owner_died(h);
		r = 0;
	}
	if (r == 0)
		first_wake_made = false;
	return r;
}

/*
 * Wake-ups decided under an object lock are made after it is released (as
 * the kernel's wake_q): a sleeper woken earlier would run into the lock
 * still held, and on one CPU it preempts the waker to find just that.
 *
 * But the first of a critical section is made at once: were the holder to
 * die before unlocking, the wake-ups its change called for would be lost,
 * and their sleepers would sleep on until they look again by themselves.
 * Woken at once, the first sleeper comes to the lock; if the holder died,
 * the kernel hands it the dead lock, and its recovery wakes everyone.
 */
#define WAKES_MAX 32
static __thread struct {
	int n;
	_Atomic uint32_t *word[WAKES_MAX];
	int count[WAKES_MAX];
} wakes;

void uipc__wake_later(_Atomic uint32_t *word, int n)
{
	if (!first_wake_made || wakes.n == WAKES_MAX) {
		first_wake_made = true;
		uipc__futex_wake(word, n);
		return;
	}
	wakes.word[wakes.n] = word;
	wakes.count[wakes.n++] = n;
}

void uipc__unlock(struct handle *h)
{
	int i, n = wakes.n;

	FAULT_STEP();
	first_wake_made = true;
	pthread_mutex_unlock(&hobj(h)->lock);
	wakes.n = 0;
	for (i = 0; i < n; i++)
		uipc__futex_wake(wakes.word[i], wakes.count[i]);
}

int uipc__futex_wait(_Atomic uint32_t *word, uint32_t val, long timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000 };

	if (syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0) < 0)
		return -errno;
	return 0;
}

void uipc__futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}
