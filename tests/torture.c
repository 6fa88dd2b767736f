/*
 * torture.c - queues, semaphore sets and segments together, under worker
 * processes SIGKILLed at random moments.
 *
 * Design.  NQ message queues (small msg_qbytes, so that they fill), NSET
 * semaphore sets and NSEG segments.  NWORK worker processes loop over random
 * operations on all of them: msgsnd (blocking or IPC_NOWAIT), msgrcv (type 0,
 * k, -k, MSG_EXCEPT, short buffers with and without MSG_NOERROR; blocking or
 * not), critical sections under a set's mutex taken with SEM_UNDO (semop,
 * semtimedop, IPC_NOWAIT, alone or in an array with other operations),
 * counter operations without SEM_UNDO (blocking, timed, IPC_NOWAIT), a gauge
 * changed only with SEM_UNDO (and waits for it to be zero), a private
 * semaphore per worker slot (with and without SEM_UNDO), shmat/shmdt (also
 * SHM_RDONLY) and writes of data patterns into the segments.  The parent is
 * the killer: it SIGKILLs a random worker (or one in a call, or one holding a
 * mutex; sometimes two or three at once) at random moments, reaps it, checks
 * the invariants and starts a new worker in its place, UIPC_TORTURE_KILLS
 * times (default 300), with the random seed UIPC_TORTURE_SEED (printed).  Then
 * it stops the workers, requires all of them to come out of their calls, and
 * checks the objects in a new process (exec of this program with --check).
 * "torture --kernel" runs the same program against the kernel's calls in a
 * new IPC namespace: a check of the checker.
 *
 * Bookkeeping, in a MAP_SHARED anonymous region, robust to a kill at any
 * instruction.  Every worker incarnation has a record; before a call it
 * stores what the call is (kind, object, deltas, msgrcv's selector), then
 * "in call" (call = calls done + 1); after a call that did something it
 * writes the new sums (the ledger: messages sent, deltas on the counter and
 * on its private semaphore) into the spare of two ledgers and puts it in
 * force with one store of 'pub' (calls done << 1 | ledger), which also ends
 * "in call".  So a worker killed in a call leaves exactly one operation of
 * unknown fate, which the checks allow to be done or not.  The attachments
 * and gauge entries of a live worker are single words (count << 2 | a call
 * that changes them in progress), so the parent can compare them with
 * shm_nattch and the gauge's value while the workers run.
 *
 * Messages.  Message (id, seq) is the seq-th of incarnation id (0: the
 * parent); its queue, type, size and bytes are a function of (id, seq), so
 * any receiver regenerates and compares it.  Receivers count each message
 * received in a per-(id, seq) counter.  At the end every acknowledged message
 * was received exactly once or is still queued (drained by the checker),
 * except messages taken by receivers killed in msgrcv: each such message is
 * matched to a different killed call that could have taken it (its queue,
 * selector, buffer size).  A message of a sender killed in msgsnd counts at
 * most once; no message twice; none that was never sent; msg_qnum and
 * __msg_cbytes equal what the checker drained.
 *
 * Semaphores.  Set k: MUTEX (1 = free, taken and released with SEM_UNDO; the
 * holder puts its id in an owner word: finding there the id of a worker
 * that was not killed is a violation of mutual exclusion), COUNTER (changed
 * without SEM_UNDO: at the end, the acknowledged deltas plus some subset of
 * the deltas of unknown fate plus what the parent added to unblock the last
 * waiters), GAUGE (changed only with SEM_UNDO: during the run, the live
 * workers' entries; 0 at the end), PRIV + slot (only that slot's workers touch
 * it: they check its value after each change; after a death it is exactly
 * what the dead worker's acknowledged operations without SEM_UNDO left, or
 * that plus its operation of unknown fate: SEM_UNDO ones undone).
 *
 * Shared memory.  A segment holds NAREA areas: area 0 is written under the
 * mutex of the set of the same number, area 1 + slot by that slot's workers
 * only.  A write of generation g stores 'started = g', writes every word
 * (a function of segment, area, g and index), then 'complete = g'; a writer
 * killed in between leaves a mix.  So an area must hold words of generations
 * complete..started only, all of 'complete' when no write was cut short; the
 * mutex holder checks area 0 before and after its write, a worker its own
 * area after each attach and write, the checker every area at the end.
 * After each reap, shm_nattch must equal the attachments of the live workers
 * (each attach or detach in progress may count or not); a stale value is
 * looked at again for at most SETTLE_US (the time it took is reported).
 *
 * Nobody can wait for ever while the others work: the workers of the first
 * NBUSY slots make only timed or IPC_NOWAIT calls (but for a mutex take), so
 * they keep sending, receiving and adding for the others; a mutex holder
 * makes only timed or IPC_NOWAIT calls; a worker waits for the gauge to be
 * zero without a timeout only when it has no entry in any gauge (else two
 * could wait for each other's entries).  At the end 'stop' is
 * set, and while a worker is still in a call the parent takes messages from
 * the queues, sends messages of every type to every queue and adds to the
 * counters that have waiters: a worker still there END_BOUND seconds later
 * is stuck although what it waits for is available (a hang detector, not a
 * timing requirement).
 *
 * Output: the seed, statistics, and "torture: K kills survived, N operations,
 * V invariant violations"; cases torture_run (the run and its checks),
 * torture_stop (no worker stuck) and torture_invariants (the final checks).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uipc.h"
#include "t.h"

#define NQ 3			/* queues */
#define NSET 3			/* semaphore sets */
#define NSEG 3			/* segments */
#define NWORK 6			/* worker processes at any time */
#define CRASH_SLOTS NWORK
#include "crash.h"

#define NTYPES 4		/* message types 1..NTYPES */
#define HDR 16			/* message header: id, seq, hash */
#define MAXMSG 400		/* largest message */
#define QBYTES 2048		/* msg_qbytes of the queues */
#define MAXSEQ 16384		/* messages per incarnation */
#define MUTEX 0
#define COUNTER 1
#define GAUGE 2
#define PRIV 3			/* PRIV + slot: the slot's private semaphore */
#define NSEMS (PRIV + NWORK)
#define PRIV_HIGH 40		/* a private value above: prefer decrements */
#define AREA_WORDS 256
#define NAREA (1 + NWORK)	/* area 0: the mutex's; 1 + slot: the slot's */
#define SEGSZ ((size_t)NAREA * AREA_WORDS * 8)
#define MAXATT 3		/* attachments of a worker to one segment */
#define NBUSY 2			/* slots 0..NBUSY-1 never wait without a bound */
#define AVG_KILL_US 40000	/* mean time between two kills */
#define END_BOUND 10		/* seconds: hang detector of the end phase */
#define SETTLE_US 1000000	/* bound on a stale shm_nattch or gauge */

/* The calls under test: uipc's, or the kernel's (--kernel). */
struct calls {
	const char *name;
	int (*msgget)(key_t, int);
	int (*msgsnd)(int, const void *, size_t, int);
	ssize_t (*msgrcv)(int, void *, size_t, long, int);
	int (*msgctl)(int, int, struct msqid_ds *);
	int (*semget)(key_t, int, int);
	int (*semop)(int, struct sembuf *, size_t);
	int (*semtimedop)(int, struct sembuf *, size_t, const struct timespec *);
	int (*semctl)(int, int, int, ...);
	int (*shmget)(key_t, size_t, int);
	void *(*shmat)(int, const void *, int);
	int (*shmdt)(const void *);
	int (*shmctl)(int, int, struct shmid_ds *);
};

static const struct calls uipc_calls = {
	"uipc", uipc_msgget, uipc_msgsnd, uipc_msgrcv, uipc_msgctl, uipc_semget, uipc_semop,
	uipc_semtimedop, uipc_semctl, uipc_shmget, uipc_shmat, uipc_shmdt, uipc_shmctl,
};
static const struct calls kernel_calls = {
	"kernel", msgget, msgsnd, msgrcv, msgctl, semget, semop, semtimedop, semctl,
	shmget, shmat, shmdt, shmctl,
};
static const struct calls *O = &uipc_calls;

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* The sums of an incarnation's acknowledged calls. */
struct ledger {
	uint32_t acked;		/* its messages seq < acked were sent */
	int32_t cnt[NSET];	/* deltas on the counter (no SEM_UNDO) */
	int32_t priv[NSET];	/* on its private semaphore, without SEM_UNDO */
	int32_t upriv[NSET];	/* ... and with SEM_UNDO */
};

enum kind { K_NONE, K_MSGSND, K_MSGRCV, K_SEM, K_SHMAT, K_SHMDT };
static const char *const kind_name[] = { "-", "msgsnd", "msgrcv", "semop", "shmat", "shmdt" };

/* A call changing an attachment count or gauge entries is in progress. */
enum { UP = 1, DOWN = 2 };

struct inc {			/* one incarnation of a worker */
	struct incarnation rec;
	struct ledger l[2];
	/* The current or last call. */
	_Atomic int kind, obj;	/* obj: its queue, set or segment */
	_Atomic long typ;	/* msgrcv: msgtyp, msgflg, buffer size */
	_Atomic int flags;
	_Atomic size_t bufsz;
	_Atomic uint32_t sending;	/* msgsnd: the seq */
	_Atomic int dcnt, dpriv;	/* semop: deltas without SEM_UNDO */
	/* Attachments, gauge entries: count << 2 | UP or DOWN in a call. */
	_Atomic int attw[NSEG], gaugew[NSET];
	_Atomic int holding;	/* 1 + the set whose mutex it holds */
	int unknown_send;	/* parent: killed in msgsnd of seq acked */
	int base[NSET];		/* its private semaphores at its start */
};

struct area {
	_Atomic uint32_t started, complete;	/* generations */
};

struct shared {
	_Atomic int stop, next_id;
	_Atomic unsigned long long ops, fails, received;
	_Atomic int owner[NSET];	/* 1 + the id of the mutex holder */
	int qid[NQ], semid[NSET], shmid[NSEG];
	struct area area[NSEG][NAREA];
	struct worker_errors errs;
	struct inc inc[];		/* [max_inc]; 0 is the parent */
};

static struct shared *sh;
static _Atomic uint8_t *cnt;		/* [max_inc * MAXSEQ]: times received */
static int max_inc;
static pid_t parent_pid;
static uint64_t seed;

struct msg {
	long mtype;
	unsigned char mtext[MAXMSG];
};

/* ---- messages: a function of (id, seq) ---- */

struct mdesc {
	int q;
	long type;
	size_t size;
	uint64_t h;
};

static void describe(uint32_t id, uint32_t seq, struct mdesc *d)
{
	d->h = mix64((uint64_t)id << 32 | seq);
	if (id == 0) {		/* the parent's wake-up messages: every queue, type */
		d->q = (int)(seq % NQ);
		d->type = (long)(seq / NQ % NTYPES) + 1;
		d->size = HDR;
		return;
	}
	d->q = (int)(d->h % NQ);
	d->type = (long)((d->h >> 8) % NTYPES) + 1;
	d->size = HDR + (size_t)((d->h >> 16) % (MAXMSG - HDR + 1));
}

/* Builds message (id, seq) in m; returns its size and queue. */
static size_t build(uint32_t id, uint32_t seq, struct msg *m, int *q)
{
	struct mdesc d;
	uint64_t x;

	describe(id, seq, &d);
	m->mtype = d.type;
	memcpy(m->mtext, &id, 4);
	memcpy(m->mtext + 4, &seq, 4);
	memcpy(m->mtext + 8, &d.h, 8);
	x = d.h;
	for (size_t i = HDR; i < d.size; i++) {
		if ((i - HDR) % 8 == 0)
			x = mix64(x);
		m->mtext[i] = (unsigned char)(x >> (8 * ((i - HDR) % 8)));
	}
	*q = d.q;
	return d.size;
}

/*
 * Message m of n bytes, received from queue q with a buffer of bufsz bytes
 * (MSG_NOERROR: truncated to it): NULL, or what is wrong.  Its (id, seq),
 * when its header names one, in *pid and *pseq (else *pid is UINT32_MAX).
 */
static const char *verify(const struct msg *m, size_t n, size_t bufsz, int noerror, int q,
			  uint32_t *pid, uint32_t *pseq)
{
	static struct msg ref;
	uint32_t id, seq;
	int rq;

	*pid = UINT32_MAX;
	if (n < HDR)
		return "shorter than a header";
	memcpy(&id, m->mtext, 4);
	memcpy(&seq, m->mtext + 4, 4);
	if (id >= (uint32_t)max_inc || seq >= MAXSEQ)
		return "a header naming no message";
	*pid = id;
	*pseq = seq;
	size_t size = build(id, seq, &ref, &rq);
	if (ref.mtype != m->mtype)
		return "not the type of the message its header names";
	if (rq != q)
		return "received from another queue than the one it was sent to";
	if (n != (noerror && bufsz < size ? bufsz : size))
		return "wrong size";
	if (memcmp(ref.mtext, m->mtext, n) != 0)
		return "content differs from what was sent";
	return NULL;
}

/* Does selector (typ, flags) take a message of type t? */
static int selects(long typ, int flags, long t)
{
	if (typ == 0)
		return 1;
	if (typ < 0)
		return t <= -typ;
	return (flags & MSG_EXCEPT) ? t != typ : t == typ;
}

/* ---- the data areas of the segments ---- */

static uint64_t area_word(int k, int a, uint32_t gen, int i)
{
	if (gen == 0)
		return 0;	/* a new segment: zeros, generation 0 */
	return (uint64_t)gen << 32 |
	       (uint32_t)mix64((uint64_t)gen << 16 | (uint64_t)k << 12 | (uint64_t)a << 8 |
			       (uint64_t)i);
}

struct scan {
	int ok;			/* every word is its generation's word there */
	uint32_t min, max;	/* the generations seen */
};

static void area_scan(const volatile uint64_t *p, int k, int a, struct scan *s)
{
	s->ok = 1;
	s->min = UINT32_MAX;
	s->max = 0;
	for (int i = 0; i < AREA_WORDS; i++) {
		uint64_t w = p[i];
		uint32_t g = (uint32_t)(w >> 32);
		if (w != area_word(k, a, g, i))
			s->ok = 0;
		if (g < s->min)
			s->min = g;
		if (g > s->max)
			s->max = g;
	}
}

/* What is wrong with a scan of an area whose writes were complete..started. */
static const char *area_verdict(const struct scan *s, uint32_t complete, uint32_t started)
{
	if (!s->ok)
		return "a word that no write of the area wrote there";
	if (s->min < complete || s->max > started)
		return "a generation outside complete..started";
	return NULL;
}

/* ---- workers ---- */

static struct inc *me;
static int my_id;
static struct ledger L;		/* the worker's sums, published after each call */
static struct {
	void *p;
	int ro;
} att[NSEG][MAXATT];
static int natt[NSEG], gauge_in[NSET];
static int patient;		/* may wait for ever (not a busy slot) */

/* Counts message (id, seq), received; -1 if its sender had not started to send it. */
static int count(uint32_t id, uint32_t seq)
{
	atomic_fetch_add(&cnt[(size_t)id * MAXSEQ + seq], 1);
	if (id >= (uint32_t)atomic_load(&sh->next_id) || seq > atomic_load(&sh->inc[id].sending))
		return -1;
	return 0;
}

static void begin(int kind, int obj)
{
	atomic_store(&me->kind, kind);
	atomic_store(&me->obj, obj);
	call_begin(&me->rec);
}

/* The call returned: done (L published with one store) or it did nothing. */
static void end_call(int done)
{
	call_end(&me->rec, me->l, &L, sizeof(L), done);
	atomic_fetch_add(done ? &sh->ops : &sh->fails, 1);
}

static void __attribute__((noreturn)) wfail(const char *what, int e)
{
	werr("worker %d (pid %d): %s: %s", my_id, (int)getpid(), what, strerror(e));
	_exit(1);
}

static void op_msgsnd(void)
{
	static struct msg m;
	uint32_t seq = L.acked;
	int q, nowait = !patient || rnd() % 4 != 0;

	if (seq >= MAXSEQ)
		return;
	size_t size = build((uint32_t)my_id, seq, &m, &q);
	atomic_store(&me->sending, seq);
	begin(K_MSGSND, q);
	int r = O->msgsnd(sh->qid[q], &m, size, nowait ? IPC_NOWAIT : 0);
	int e = errno;
	if (r == 0) {
		L.acked = seq + 1;
		end_call(1);
		return;
	}
	end_call(0);
	if (r != -1 || e != EAGAIN || !nowait)
		wfail(nowait ? "msgsnd IPC_NOWAIT" : "msgsnd", r == -1 ? e : 0);
}

static void op_msgrcv(void)
{
	static struct msg m;
	int q = (int)(rnd() % NQ), flags = !patient || rnd() % 3 ? IPC_NOWAIT : 0;
	long k = 1 + (long)(rnd() % NTYPES), typ = 0;
	size_t bufsz = MAXMSG;

	switch (rnd() % 7) {
	case 0:
	case 1:
	case 2:
		break;
	case 3:
		typ = k;
		break;
	case 4:
		typ = -k;
		break;
	case 5:
		typ = k;
		flags |= MSG_EXCEPT;
		break;
	case 6:		/* E2BIG, or truncated with MSG_NOERROR */
		bufsz = HDR + rnd() % (MAXMSG - HDR);
		if (rnd() & 1)
			flags |= MSG_NOERROR;
		break;
	}
	atomic_store(&me->typ, typ);
	atomic_store(&me->flags, flags);
	atomic_store(&me->bufsz, bufsz);
	begin(K_MSGRCV, q);
	ssize_t n = O->msgrcv(sh->qid[q], &m, bufsz, typ, flags);
	int e = errno;
	if (n < 0) {
		end_call(0);
		if (n == -1 && ((e == ENOMSG && (flags & IPC_NOWAIT)) ||
				(e == E2BIG && bufsz < MAXMSG && !(flags & MSG_NOERROR))))
			return;
		wfail("msgrcv", n == -1 ? e : 0);
	}
	uint32_t id, seq;
	const char *bad = verify(&m, (size_t)n, bufsz, !!(flags & MSG_NOERROR), q, &id, &seq);
	if (id != UINT32_MAX && count(id, seq) != 0)
		werr("worker %d: received message (%u, %u), which was never sent", my_id, id, seq);
	atomic_fetch_add(&sh->received, 1);
	end_call(1);
	if (bad)
		werr("worker %d: msgrcv(q%d, %zu, %ld, %#x): %zd bytes, type %ld: %s", my_id, q,
		     bufsz, typ, flags, n, m.mtype, bad);
	else if (!selects(typ, flags, m.mtype))
		werr("worker %d: msgrcv(q%d, type %ld, %#x) returned type %ld", my_id, q, typ,
		     flags, m.mtype);
}

static int priv_value(int k)
{
	return me->base[k] + L.priv[k] + L.upriv[k];
}

/*
 * semop (tmo_ms < 0) or semtimedop on set k, whose deltas are dc on the
 * counter, dp (du with SEM_UNDO) on the private semaphore, dg on the gauge.
 * Returns 0, or EAGAIN when may_eagain; any other result is an error.
 */
static int sem_call(int k, struct sembuf *b, int n, int tmo_ms, int dc, int dp, int du, int dg,
		    int may_eagain)
{
	int r, e;

	atomic_store(&me->dcnt, dc);
	atomic_store(&me->dpriv, dp);
	if (dg)
		atomic_store(&me->gaugew[k], gauge_in[k] << 2 | (dg > 0 ? UP : DOWN));
	begin(K_SEM, k);
	if (tmo_ms < 0) {
		r = O->semop(sh->semid[k], b, (size_t)n);
	} else {
		struct timespec ts = { tmo_ms / 1000, (long)(tmo_ms % 1000) * 1000000 };
		r = O->semtimedop(sh->semid[k], b, (size_t)n, &ts);
	}
	e = errno;
	if (r == 0) {
		L.cnt[k] += dc;
		L.priv[k] += dp;
		L.upriv[k] += du;
		gauge_in[k] += dg;
		end_call(1);
	} else {
		end_call(0);
	}
	if (dg)
		atomic_store(&me->gaugew[k], gauge_in[k] << 2);
	if (r == 0)
		return 0;
	if (r == -1 && e == EAGAIN && may_eagain)
		return EAGAIN;
	char what[160];
	size_t o = (size_t)snprintf(what, sizeof(what), "sem%s(set %d", tmo_ms < 0 ? "op" : "timedop",
				    k);
	for (int i = 0; i < n && o < sizeof(what) - 24; i++)
		o += (size_t)snprintf(what + o, sizeof(what) - o, ", {%d,%+d,%#x}", b[i].sem_num,
				      b[i].sem_op, (unsigned)b[i].sem_flg);
	snprintf(what + o, sizeof(what) - o, ")");
	wfail(what, r == -1 ? e : 0);
}

/* Our private semaphore of set k has the value we know, and no waiter. */
static void check_private(int k)
{
	int p = PRIV + me->rec.slot, v = O->semctl(sh->semid[k], p, GETVAL);
	int nc = O->semctl(sh->semid[k], p, GETNCNT), zc = O->semctl(sh->semid[k], p, GETZCNT);

	if (v != priv_value(k) || nc != 0 || zc != 0)
		werr("worker %d: private semaphore %d of set %d: value %d (expected %d), GETNCNT "
		     "%d, GETZCNT %d", my_id, p, k, v, priv_value(k), nc, zc);
}

/* A non-blocking operation on our private semaphore of set k. */
static void op_private(int k)
{
	struct sembuf b = { (unsigned short)(PRIV + me->rec.slot), 0, 0 };
	int high = priv_value(k) > PRIV_HIGH, pv = me->base[k] + L.priv[k];

	switch (rnd() % 5) {
	case 0:
		if (high)
			goto down;
		b.sem_op = (short)(1 + rnd() % 3);
		sem_call(k, &b, 1, -1, 0, b.sem_op, 0, 0, 0);
		break;
	case 1:
		if (high)
			goto down;
		b.sem_op = 1;
		b.sem_flg = SEM_UNDO;
		sem_call(k, &b, 1, -1, 0, 0, 1, 0, 0);
		break;
	case 2:
	down:
		if (pv == 0)
			return;
		b.sem_op = (short)-(1 + (int)(rnd() % (unsigned)pv));
		b.sem_flg = IPC_NOWAIT;
		sem_call(k, &b, 1, -1, 0, b.sem_op, 0, 0, 0);
		break;
	case 3:
		if (L.upriv[k] == 0)
			return;
		b.sem_op = -1;
		b.sem_flg = SEM_UNDO | IPC_NOWAIT;
		sem_call(k, &b, 1, -1, 0, 0, -1, 0, 0);
		break;
	case 4:		/* wait for zero, IPC_NOWAIT: done iff it is 0 */
		b.sem_flg = IPC_NOWAIT;
		if (sem_call(k, &b, 1, -1, 0, 0, 0, 0, 1) != (priv_value(k) ? EAGAIN : 0))
			werr("worker %d: {%d,0,IPC_NOWAIT} on a private semaphore of value %d: "
			     "wrong result", my_id, b.sem_num, priv_value(k));
		break;
	}
	check_private(k);
}

/* A counter operation without SEM_UNDO: may block, time out, or not wait. */
static void op_counter(int k)
{
	struct sembuf b = { COUNTER, 0, 0 };
	int tmo = -1, may = 0;

	/* A little more taken than given, with the critical sections' share. */
	switch (rnd() % 10) {
	case 0:
	case 1:
		b.sem_op = 1;
		break;
	case 2:
		b.sem_op = 2;
		break;
	case 3:
	case 4:
		b.sem_op = -1;
		b.sem_flg = IPC_NOWAIT;
		may = 1;
		break;
	case 5:
	case 6:
		b.sem_op = (short)-(1 + (int)(rnd() % 2));
		tmo = (int)(rnd() % 20);
		may = 1;
		break;
	default:
		b.sem_op = -1;	/* blocks until someone adds */
		if (!patient) {
			tmo = (int)(rnd() % 20);
			may = 1;
		}
		break;
	}
	sem_call(k, &b, 1, tmo, b.sem_op, 0, 0, 0, may);
}

/* Enter or leave the gauge (SEM_UNDO), or wait for it to be zero. */
static void op_gauge(int k)
{
	struct sembuf b = { GAUGE, 0, 0 };
	unsigned r = rnd() % 10;
	int held = 0;

	for (int i = 0; i < NSET; i++)
		held += gauge_in[i];
	if (r < 3 && gauge_in[k] == 0) {
		b.sem_op = 1;
		b.sem_flg = SEM_UNDO;
		sem_call(k, &b, 1, -1, 0, 0, 0, 1, 0);
	} else if (r < 8 && gauge_in[k] > 0) {
		b.sem_op = -1;
		b.sem_flg = (short)(SEM_UNDO | (rnd() & 1 ? IPC_NOWAIT : 0));
		sem_call(k, &b, 1, -1, 0, 0, 0, -1, 0);	/* our own entry is there */
	} else if (gauge_in[k] == 0) {
		/*
		 * Without a timeout only when we hold no entry anywhere: two
		 * workers waiting for each other's entries would wait for ever.
		 */
		if (patient && !held && rnd() % 8 == 0)
			sem_call(k, &b, 1, -1, 0, 0, 0, 0, 0);
		else
			sem_call(k, &b, 1, (int)(rnd() % 3), 0, 0, 0, 0, 1);
	}
}

/* One of our attachments of segment k that we may write through, or NULL. */
static volatile uint64_t *writable(int k)
{
	for (int i = 0; i < natt[k]; i++)
		if (!att[k][i].ro)
			return att[k][i].p;
	return NULL;
}

/* Checks area a of segment k (attached at seg) against its generations. */
static void area_check(int k, int a, const volatile uint64_t *seg, const char *when)
{
	struct area *ar = &sh->area[k][a];
	uint32_t c = atomic_load(&ar->complete), s = atomic_load(&ar->started);
	struct scan sc;

	area_scan(seg + (size_t)a * AREA_WORDS, k, a, &sc);
	const char *bad = area_verdict(&sc, c, s);
	if (bad)
		werr("worker %d: segment %d area %d %s: %s (generations %u..%u, written %u..%u)",
		     my_id, k, a, when, bad, sc.min, sc.max, c, s);
}

static void area_write(int k, int a, volatile uint64_t *seg)
{
	struct area *ar = &sh->area[k][a];
	volatile uint64_t *p = seg + (size_t)a * AREA_WORDS;
	uint32_t g = atomic_load(&ar->started) + 1;

	atomic_store(&ar->started, g);
	for (int i = 0; i < AREA_WORDS; i++)
		p[i] = area_word(k, a, g, i);
	atomic_store(&ar->complete, g);
}

/* Take the mutex of set k (in some form), work inside, release it. */
static void op_critical(int k)
{
	struct sembuf b[2], take = { MUTEX, -1, SEM_UNDO };
	unsigned short p = (unsigned short)(PRIV + me->rec.slot);
	int n = 1, tmo = -1, dc = 0, dp = 0, du = 0, dg = 0, may = 0;

	b[0] = take;
	switch (rnd() % 7) {
	case 0:
		break;
	case 1:
		tmo = (int)(rnd() % 20);
		may = 1;
		break;
	case 2:
		b[0].sem_flg |= IPC_NOWAIT;
		may = 1;
		break;
	case 3:
		b[1] = (struct sembuf){ COUNTER, 1, 0 };
		n = 2;
		dc = 1;
		break;
	case 4:		/* the blocking operation second, timed */
		b[0] = (struct sembuf){ COUNTER, 1, 0 };
		b[1] = take;
		n = 2;
		dc = 1;
		tmo = (int)(rnd() % 20);
		may = 1;
		break;
	case 5:
		if (gauge_in[k])
			break;
		b[0] = (struct sembuf){ GAUGE, 1, SEM_UNDO };
		b[1] = take;
		n = 2;
		dg = 1;
		break;
	case 6:
		if (priv_value(k) > PRIV_HIGH)
			break;
		b[1] = (struct sembuf){ p, 1, 0 };
		n = 2;
		if (rnd() & 1) {
			b[1].sem_flg = SEM_UNDO;
			du = 1;
		} else {
			dp = 1;
		}
		break;
	}
	if (sem_call(k, b, n, tmo, dc, dp, du, dg, may) != 0)
		return;
	atomic_store(&me->holding, k + 1);
	int prev = atomic_exchange(&sh->owner[k], my_id + 1);
	if (prev && !atomic_load(&sh->inc[prev - 1].rec.killed))
		werr("set %d: worker %d took the mutex while worker %d (not killed) held it", k,
		     my_id, prev - 1);
	if (dp || du)
		check_private(k);

	/* Inside: only calls that cannot wait for ever. */
	volatile uint64_t *w = writable(k);
	if (w) {
		area_check(k, 0, w, "on entry");
		area_write(k, 0, w);
		area_check(k, 0, w, "after our write");
	}
	unsigned r = rnd() % 10;
	if (r < 3) {
		usleep((useconds_t)(rnd() % 300));
	} else if (r < 6) {
		struct sembuf d = { COUNTER, -1, 0 };
		sem_call(k, &d, 1, (int)(rnd() % 5), -1, 0, 0, 0, 1);
	} else if (r < 8) {
		op_private(k);
	}

	/* Release, alone or with another operation. */
	int mine = my_id + 1;
	if (!atomic_compare_exchange_strong(&sh->owner[k], &mine, 0))
		werr("set %d: worker %d leaves the mutex, but the owner word says %d", k, my_id,
		     mine - 1);
	n = 1;
	dc = dg = 0;
	b[0] = (struct sembuf){ MUTEX, 1, SEM_UNDO };
	switch (rnd() % 6) {
	case 1:
		b[0].sem_flg |= IPC_NOWAIT;
		break;
	case 2:
		b[1] = (struct sembuf){ COUNTER, 1, 0 };
		n = 2;
		dc = 1;
		break;
	case 3:
		if (gauge_in[k] == 0)
			break;
		b[1] = (struct sembuf){ GAUGE, -1, SEM_UNDO };
		n = 2;
		dg = -1;
		break;
	}
	sem_call(k, b, n, -1, dc, 0, 0, dg, 0);
	atomic_store(&me->holding, 0);
}

/* Attach segment k (read-only at times) or detach one of our attachments. */
static void op_shm(int k)
{
	if (natt[k] == MAXATT || (natt[k] && rnd() % 2)) {
		int i = (int)(rnd() % (unsigned)natt[k]);
		atomic_store(&me->attw[k], natt[k] << 2 | DOWN);
		begin(K_SHMDT, k);
		if (O->shmdt(att[k][i].p) != 0) {
			int e = errno;
			end_call(0);
			wfail("shmdt", e);
		}
		att[k][i] = att[k][--natt[k]];
		end_call(1);
	} else {
		int ro = rnd() % 4 == 0;
		atomic_store(&me->attw[k], natt[k] << 2 | UP);
		begin(K_SHMAT, k);
		void *a = O->shmat(sh->shmid[k], NULL, ro ? SHM_RDONLY : 0);
		if (a == (void *)-1) {
			int e = errno;
			end_call(0);
			wfail("shmat", e);
		}
		att[k][natt[k]].p = a;
		att[k][natt[k]++].ro = ro;
		end_call(1);
		area_check(k, 1 + me->rec.slot, a, "after an attach");
	}
	atomic_store(&me->attw[k], natt[k] << 2);
}

/* Write our own area of segment k, if we may. */
static void op_own_area(int k)
{
	volatile uint64_t *w = writable(k);

	if (w) {
		area_write(k, 1 + me->rec.slot, w);
		area_check(k, 1 + me->rec.slot, w, "after our write");
	}
}

static void worker_main(int id)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)	/* it died before the prctl */
		_exit(1);
	me = &sh->inc[id];
	my_id = id;
	patient = me->rec.slot >= NBUSY;
	rng_state = mix64(seed ^ mix64((uint64_t)id)) | 1;
	while (!atomic_load(&sh->stop)) {
		unsigned r = rnd() % 100;
		int k = (int)(rnd() % 3);
		if (r < 14)
			op_msgsnd();
		else if (r < 32)
			op_msgrcv();
		else if (r < 52)
			op_critical(k);
		else if (r < 62)
			op_counter(k);
		else if (r < 70)
			op_gauge(k);
		else if (r < 80)
			op_private(k);
		else if (r < 90)
			op_shm(k);
		else
			op_own_area(k);
	}
	_exit(0);
}

/* ---- the checker: a new process (exec) that looks at every object ---- */

static int check_main(int argc, char **argv)
{
	static struct msg m;
	int a = 3, qid[NQ], semid[NSET], shmid[NSEG];

	if (argc != 3 + NQ + NSET + NSEG + 1)
		return 2;
	if (strcmp(argv[2], "kernel") == 0)
		O = &kernel_calls;
	for (int q = 0; q < NQ; q++)
		qid[q] = atoi(argv[a++]);
	for (int k = 0; k < NSET; k++)
		semid[k] = atoi(argv[a++]);
	for (int k = 0; k < NSEG; k++)
		shmid[k] = atoi(argv[a++]);
	max_inc = atoi(argv[a]);
	alarm(3 * END_BOUND);		/* hang detector */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);

	for (int q = 0; q < NQ; q++) {
		struct msqid_ds ds;
		ssize_t n;
		if (O->msgctl(qid[q], IPC_STAT, &ds) != 0) {
			printf("ERR queue %d IPC_STAT: %s\n", q, strerror(errno));
			continue;
		}
		printf("Q %d %lu %lu\n", q, (unsigned long)ds.msg_qnum,
		       (unsigned long)ds.__msg_cbytes);
		while ((n = O->msgrcv(qid[q], &m, MAXMSG, 0, IPC_NOWAIT)) >= 0) {
			uint32_t id, seq;
			const char *bad = verify(&m, (size_t)n, MAXMSG, 0, q, &id, &seq);
			if (bad)
				printf("ERR queue %d: drained %zd bytes, type %ld: %s\n", q, n,
				       m.mtype, bad);
			else
				printf("M %d %u %u %zd\n", q, id, seq, n);
		}
		if (errno != ENOMSG)
			printf("ERR queue %d: msgrcv: %s\n", q, strerror(errno));
		if (O->msgctl(qid[q], IPC_STAT, &ds) != 0 || ds.msg_qnum || ds.__msg_cbytes)
			printf("ERR queue %d: after draining: IPC_STAT %s, %lu messages, %lu bytes\n",
			       q, strerror(errno), (unsigned long)ds.msg_qnum,
			       (unsigned long)ds.__msg_cbytes);
		/* Still usable: a message goes through. */
		m.mtype = NTYPES + 1;
		if (O->msgsnd(qid[q], &m, HDR, IPC_NOWAIT) != 0 ||
		    O->msgrcv(qid[q], &m, MAXMSG, NTYPES + 1, IPC_NOWAIT) != HDR)
			printf("ERR queue %d: a message does not go through: %s\n", q,
			       strerror(errno));
	}
	for (int k = 0; k < NSET; k++) {
		int id = semid[k];
		for (int i = 0; i < NSEMS; i++)
			printf("S %d %d %d %d %d\n", k, i, O->semctl(id, i, GETVAL),
			       O->semctl(id, i, GETNCNT), O->semctl(id, i, GETZCNT));
		/* Still usable: the mutex is taken and given back with SEM_UNDO. */
		struct sembuf take = { MUTEX, -1, SEM_UNDO | IPC_NOWAIT }, give = { MUTEX, 1, SEM_UNDO };
		if (O->semop(id, &take, 1) != 0 || O->semctl(id, MUTEX, GETVAL) != 0 ||
		    O->semop(id, &give, 1) != 0 || O->semctl(id, MUTEX, GETVAL) != 1)
			printf("ERR set %d: the mutex cannot be taken and given back: %s\n", k,
			       strerror(errno));
	}
	for (int k = 0; k < NSEG; k++) {
		struct shmid_ds ds;
		if (O->shmctl(shmid[k], IPC_STAT, &ds) != 0) {
			printf("ERR segment %d IPC_STAT: %s\n", k, strerror(errno));
			continue;
		}
		printf("N %d %lu\n", k, (unsigned long)ds.shm_nattch);
		const volatile uint64_t *p = O->shmat(shmid[k], NULL, SHM_RDONLY);
		if (p == (void *)-1) {
			printf("ERR segment %d: shmat: %s\n", k, strerror(errno));
			continue;
		}
		for (int i = 0; i < NAREA; i++) {
			struct scan s;
			area_scan(p + (size_t)i * AREA_WORDS, k, i, &s);
			printf("A %d %d %d %u %u\n", k, i, s.ok, s.min, s.max);
		}
		if (O->shmctl(shmid[k], IPC_STAT, &ds) != 0 || ds.shm_nattch != 1)
			printf("ERR segment %d: attached once, shm_nattch %lu\n", k,
			       (unsigned long)ds.shm_nattch);
		if (O->shmdt((const void *)p) != 0 || O->shmctl(shmid[k], IPC_STAT, &ds) != 0 ||
		    ds.shm_nattch != 0)
			printf("ERR segment %d: detached, shm_nattch %lu\n", k,
			       (unsigned long)ds.shm_nattch);
	}
	printf("DONE\n");
	fflush(stdout);
	return 0;
}

/* ---- the parent ---- */

static pid_t wpid[NWORK];
static int wid[NWORK];
static char vstate[NWORK];		/* /proc state of a victim before the kill */
static int pbase[NSET][NWORK];		/* the private semaphores, as last seen */
static long long cnt_acked[NSET], parent_adds[NSET];
static int *unk[NSET], nunk[NSET], unk_cap[NSET];	/* counter deltas of unknown fate */
static int k_call, k_asleep, k_hold, k_kind[K_SHMDT + 1], nviol;
static int settle_checks, settle_late, settle_unstable, settle_dropped;
static double settle_max;
static char settle_broken[2][NSEG > NSET ? NSEG : NSET];	/* failed once: not again */

/* The calls of receivers killed in msgrcv, and the lost messages matched to them. */
struct kcall {
	int q, flags;
	long typ;
	size_t bufsz;
	int lost;		/* the lost message matched to it, or -1 */
};
static struct kcall *kc;
static int nkc, kc_cap;
struct lost {
	int q;
	long type;
	size_t size;
	uint32_t id, seq;
};
static struct lost *lm;
static int nlm, lm_cap;

#define VIOLATION(...)                                                     \
	do {                                                               \
		nviol++;                                                   \
		T_FAIL(__VA_ARGS__);                                       \
	} while (0)

static void spawn(int slot)
{
	int id = atomic_load(&sh->next_id);

	if (id >= max_inc) {
		ids_exhausted = 1;
		wpid[slot] = 0;
		return;
	}
	struct inc *in = &sh->inc[id];
	memset(in, 0, sizeof(*in));
	in->rec.slot = slot;
	for (int k = 0; k < NSET; k++)
		in->base[k] = pbase[k][slot];
	atomic_store(&sh->next_id, id + 1);
	start_worker(slot, id, &in->rec, worker_main);
}

/*
 * The worker of 'slot' is gone (status st): account for its record, and
 * check its private semaphores, which its death has settled.
 */
static void worker_gone(int slot, int st)
{
	struct inc *in = &sh->inc[wid[slot]];
	int ic = in_call(&in->rec), kind = atomic_load(&in->kind), obj = atomic_load(&in->obj);
	const struct ledger *l = LEDGER_IN_FORCE(in);
	pid_t pid = wpid[slot];

	wpid[slot] = 0;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && atomic_load(&in->rec.killed)) {
		nkills++;
		k_call += ic;
		k_kind[kind] += ic;
		k_asleep += ic && vstate[slot] == 'S';
		k_hold += atomic_load(&in->holding) != 0;
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		VIOLATION("worker %d (pid %d) died: status %#x", wid[slot], (int)pid, st);
	} else if (ic) {
		VIOLATION("worker %d (pid %d) exited in a call", wid[slot], (int)pid);
	}
	if (ic && kind == K_MSGSND && atomic_load(&in->sending) == l->acked)
		in->unknown_send = 1;
	if (ic && kind == K_MSGRCV) {
		struct kcall c = { obj, atomic_load(&in->flags), atomic_load(&in->typ),
				   atomic_load(&in->bufsz), -1 };
		push((void **)&kc, &nkc, &kc_cap, &c, sizeof(c));
	}
	for (int k = 0; k < NSET; k++) {
		int here = ic && kind == K_SEM && obj == k;
		int dc = atomic_load(&in->dcnt), dp = atomic_load(&in->dpriv);
		cnt_acked[k] += l->cnt[k];
		if (here && dc)
			push((void **)&unk[k], &nunk[k], &unk_cap[k], &dc, sizeof(dc));
		int exp = pbase[k][slot] + l->priv[k];
		int v = O->semctl(sh->semid[k], PRIV + slot, GETVAL);
		if (v != exp && !(here && dp && v == exp + dp))
			VIOLATION("set %d: after the death of worker %d (%s%s), its private semaphore "
				  "is %d, expected %d (%+d in flight; %+d with SEM_UNDO, undone)", k,
				  wid[slot], ic ? "in " : "not in a call", ic ? kind_name[kind] : "",
				  v, exp, here ? dp : 0, l->upriv[k]);
		pbase[k][slot] = v < 0 ? exp : v;
	}
}

/* Is the worker of 'slot' in a call (mode 1), or holding a mutex (mode 2)? */
static int fits(int slot, int mode)
{
	struct inc *in = &sh->inc[wid[slot]];
	return (mode == 1 && in_call(&in->rec)) || (mode == 2 && atomic_load(&in->holding));
}

/* A worker, one in a call or a mutex holder; at times two or three. */
static int choose(int victim[3])
{
	int nv = rnd() % 8 ? 1 : 2 + (int)(rnd() % 2);
	for (int i = 0; i < nv; i++) {
		int mode = (int)(rnd() % 4);
		victim[i] = pick_slot(mode < 2 ? 0 : mode - 1, fits);
	}
	return nv;
}

/*
 * shm_nattch of segment k (what = 0) or the gauge of set k (what = 1)
 * against the live workers' words, read before and after the look: equal,
 * they are what the value must be, give or take the calls in progress.
 */
static void settle_check(int what, int k)
{
	int w0[NWORK], w1[NWORK], late = 0;
	long first = 0, first_lo = 0, first_hi = 0;
	double t0 = now();
	/*
	 * An attach in progress counts once in uipc; in Linux twice for a
	 * moment (do_shmat's own count, then the new mapping's, then it drops
	 * its own).
	 */
	int up = what == 0 && O == &kernel_calls ? 2 : 1;

	if (settle_broken[what][k]) {
		settle_dropped++;
		return;
	}
	settle_checks++;
	for (;;) {
		long v, lo = 0, hi = 0;
		for (int i = 0; i < NWORK; i++) {
			struct inc *in = &sh->inc[wid[i]];
			w0[i] = !wpid[i] ? 0 : what ? atomic_load(&in->gaugew[k]) :
						      atomic_load(&in->attw[k]);
		}
		if (what == 0) {
			struct shmid_ds ds;
			v = O->shmctl(sh->shmid[k], IPC_STAT, &ds) == 0 ? (long)ds.shm_nattch : -1;
		} else {
			v = O->semctl(sh->semid[k], GAUGE, GETVAL);
		}
		for (int i = 0; i < NWORK; i++) {
			struct inc *in = &sh->inc[wid[i]];
			w1[i] = !wpid[i] ? 0 : what ? atomic_load(&in->gaugew[k]) :
						      atomic_load(&in->attw[k]);
			lo += (w0[i] >> 2) - ((w0[i] & 3) == DOWN);
			hi += (w0[i] >> 2) + ((w0[i] & 3) == UP ? up : 0);
		}
		double t = now() - t0;
		if (memcmp(w0, w1, sizeof(w0)) != 0) {
			if (t * 1e6 > SETTLE_US) {
				settle_unstable++;
				return;
			}
			continue;
		}
		if (v >= lo && v <= hi) {
			settle_late += late;
			if (late && t > settle_max)
				settle_max = t;
			if (late && settle_late <= 5)
				printf("# stale: %s %d was %ld, the live workers said %ld..%ld; right "
				       "after %.1f ms\n", what ? "the gauge of set" : "shm_nattch of segment",
				       k, first, first_lo, first_hi, t * 1e3);
			return;
		}
		if (t * 1e6 > SETTLE_US) {
			VIOLATION("%s %d is %ld; the live workers' %s say %ld..%ld", what ? "the gauge of set" :
				  "shm_nattch of segment", k, v, what ? "entries" : "attachments",
				  lo, hi);
			settle_broken[what][k] = 1;
			return;
		}
		if (!late) {
			first = v;
			first_lo = lo;
			first_hi = hi;
			late = 1;
		}
		usleep(1000);
	}
}

/* The invariants that hold while everybody works, after a reap. */
static void run_checks(void)
{
	for (int k = 0; k < NSEG; k++)
		settle_check(0, k);
	for (int k = 0; k < NSET; k++) {
		int id = sh->semid[k], v = O->semctl(id, MUTEX, GETVAL);
		settle_check(1, k);
		if (v < 0 || v > 1)
			VIOLATION("set %d: the mutex is %d during the run", k, v);
		for (int i = 0; i < NSEMS; i++) {
			int nc = O->semctl(id, i, GETNCNT), zc = O->semctl(id, i, GETZCNT);
			if (nc < 0 || zc < 0 || nc + zc > (i >= PRIV ? 0 : NWORK))
				VIOLATION("set %d semaphore %d: GETNCNT %d GETZCNT %d during the run",
					  k, i, nc, zc);
		}
	}
	for (int q = 0; q < NQ; q++) {
		struct msqid_ds ds;
		if (O->msgctl(sh->qid[q], IPC_STAT, &ds) != 0)
			VIOLATION("queue %d IPC_STAT: %s", q, strerror(errno));
		else if (ds.__msg_cbytes > ds.msg_qbytes || ds.__msg_cbytes < HDR * ds.msg_qnum ||
			 ds.__msg_cbytes > MAXMSG * ds.msg_qnum)
			VIOLATION("queue %d during the run: %lu messages, %lu bytes, msg_qbytes %lu", q,
				  (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
				  (unsigned long)ds.msg_qbytes);
	}
}

/* The parent takes a message from queue q, for a blocked sender. */
static void parent_receive(int q)
{
	static struct msg m;
	uint32_t id, seq;
	ssize_t n = O->msgrcv(sh->qid[q], &m, MAXMSG, 0, IPC_NOWAIT);

	if (n < 0) {
		if (errno != ENOMSG)
			VIOLATION("parent: msgrcv(queue %d): %s", q, strerror(errno));
		return;
	}
	const char *bad = verify(&m, (size_t)n, MAXMSG, 0, q, &id, &seq);
	if (id != UINT32_MAX && count(id, seq) != 0)
		VIOLATION("parent: received message (%u, %u), which was never sent", id, seq);
	if (bad)
		VIOLATION("parent: queue %d: %zd bytes, type %ld: %s", q, n, m.mtype, bad);
}

/* The parent sends its next message (id 0), for a blocked receiver. */
static void parent_send(void)
{
	static struct msg m;
	struct inc *me0 = &sh->inc[0];
	uint32_t seq = me0->l[0].acked;
	int q;

	if (seq >= MAXSEQ)
		return;
	size_t size = build(0, seq, &m, &q);
	atomic_store(&me0->sending, seq);
	if (O->msgsnd(sh->qid[q], &m, size, IPC_NOWAIT) == 0)
		me0->l[0].acked = seq + 1;
	else if (errno == EAGAIN)
		parent_receive(q);	/* full of what nobody waits for */
	else
		VIOLATION("parent: msgsnd(queue %d): %s", q, strerror(errno));
}

/* Stops the workers; returns 0 when all came out of their calls. */
static int stop_workers(void)
{
	double deadline = now() + END_BOUND;

	atomic_store(&sh->stop, 1);
	while (alive() && now() < deadline) {
		int senders = 0, receivers = 0;
		reap(0);
		for (int i = 0; i < NWORK; i++) {
			struct inc *in = &sh->inc[wid[i]];
			if (wpid[i] && in_call(&in->rec)) {
				senders += atomic_load(&in->kind) == K_MSGSND;
				receivers += atomic_load(&in->kind) == K_MSGRCV;
			}
		}
		for (int q = 0; senders && q < NQ; q++)
			parent_receive(q);
		if (receivers)
			parent_send();
		for (int k = 0; k < NSET; k++) {
			if (O->semctl(sh->semid[k], COUNTER, GETNCNT) > 0) {
				struct sembuf b = { COUNTER, 2, 0 };
				if (O->semop(sh->semid[k], &b, 1) == 0)
					parent_adds[k] += 2;
				else
					VIOLATION("parent: semop(set %d, {1,+2}): %s", k, strerror(errno));
			}
		}
		usleep(1000);
	}
	if (!alive())
		return 0;
	for (int i = 0; i < NWORK; i++) {
		if (!wpid[i])
			continue;
		struct inc *in = &sh->inc[wid[i]];
		int kind = atomic_load(&in->kind);
		VIOLATION("worker %d (pid %d, /proc state %c) still there %d s after the stop, %s "
			  "%s on object %d", wid[i], (int)wpid[i], proc_state(wpid[i]), END_BOUND,
			  in_call(&in->rec) ? "in" : "after", kind_name[kind], atomic_load(&in->obj));
	}
	kill_all_slots();
	return -1;
}

/* Kuhn's augmenting path: matches lost message i to a killed msgrcv. */
static int augment(int i, char *seen)
{
	for (int c = 0; c < nkc; c++) {
		if (seen[c] || kc[c].q != lm[i].q || !selects(kc[c].typ, kc[c].flags, lm[i].type) ||
		    (lm[i].size > kc[c].bufsz && !(kc[c].flags & MSG_NOERROR)))
			continue;
		seen[c] = 1;
		if (kc[c].lost < 0 || augment(kc[c].lost, seen)) {
			kc[c].lost = i;
			return 1;
		}
	}
	return 0;
}

/* Runs the checker; judges its report against the bookkeeping. */
static void final_checks(void)
{
	struct checker_args args = { .n = 0 };
	pid_t cpid;
	arg_word(&args, "torture");
	arg_word(&args, "--check");
	arg_word(&args, O->name);
	for (int q = 0; q < NQ; q++)
		arg_int(&args, sh->qid[q]);
	for (int k = 0; k < NSET; k++)
		arg_int(&args, sh->semid[k]);
	for (int k = 0; k < NSEG; k++)
		arg_int(&args, sh->shmid[k]);
	arg_int(&args, max_inc);
	FILE *f = start_checker(&args, &cpid);
	if (!f) {
		VIOLATION("pipe: %s", strerror(errno));
		return;
	}
	char line[512];
	unsigned long qnum[NQ] = { 0 }, qbytes[NQ] = { 0 }, dn[NQ] = { 0 }, db[NQ] = { 0 };
	int val[NSET][NSEMS], nattch[NSEG], done = 0;
	unsigned long long drained = 0;
	memset(val, -1, sizeof(val));
	memset(nattch, -1, sizeof(nattch));
	while (f && fgets(line, sizeof(line), f)) {
		int q, k, i, v, nc, zc, ok;
		unsigned id, seq, lo, hi;
		unsigned long a, b;
		long n;
		if (sscanf(line, "M %d %u %u %ld", &q, &id, &seq, &n) == 4 && q >= 0 && q < NQ) {
			dn[q]++;
			db[q] += (unsigned long)n;
			drained++;
			if (id >= (uint32_t)max_inc || seq >= MAXSEQ || count(id, seq) != 0)
				VIOLATION("drained message (%u, %u), which was never sent", id, seq);
		} else if (sscanf(line, "Q %d %lu %lu", &q, &a, &b) == 3 && q >= 0 && q < NQ) {
			qnum[q] = a;
			qbytes[q] = b;
		} else if (sscanf(line, "S %d %d %d %d %d", &k, &i, &v, &nc, &zc) == 5 && k >= 0 &&
			   k < NSET && i >= 0 && i < NSEMS) {
			val[k][i] = v;
			if (nc != 0 || zc != 0)
				VIOLATION("set %d semaphore %d: GETNCNT %d GETZCNT %d; nobody waits", k,
					  i, nc, zc);
		} else if (sscanf(line, "N %d %d", &k, &v) == 2 && k >= 0 && k < NSEG) {
			nattch[k] = v;
		} else if (sscanf(line, "A %d %d %d %u %u", &k, &i, &ok, &lo, &hi) == 5 && k >= 0 &&
			   k < NSEG && i >= 0 && i < NAREA) {
			struct area *ar = &sh->area[k][i];
			struct scan s = { ok, lo, hi };
			const char *bad = area_verdict(&s, ar->complete, ar->started);
			if (bad)
				VIOLATION("segment %d area %d at the end: %s (generations %u..%u, "
					  "written %u..%u)", k, i, bad, lo, hi, ar->complete,
					  ar->started);
		} else if (strcmp(line, "DONE\n") == 0) {
			done = 1;
		} else {
			line[strcspn(line, "\n")] = 0;
			VIOLATION("checker: %s", line);
		}
	}
	int st = finish_checker(f, cpid);
	if (st != 0 || !done)
		VIOLATION("the checker did not finish: status %#x", st);

	/* Queues: what IPC_STAT said is what was drained. */
	for (int q = 0; q < NQ; q++)
		if (qnum[q] != dn[q] || qbytes[q] != db[q])
			VIOLATION("queue %d: IPC_STAT said %lu messages, %lu bytes; drained %lu, %lu",
				  q, qnum[q], qbytes[q], dn[q], db[q]);

	/* Every message accounted for. */
	int next = atomic_load(&sh->next_id);
	unsigned long long acked = 0, lost = 0, dups = 0, unknown_done = 0;
	for (int id = 0; id < next; id++) {
		struct inc *in = &sh->inc[id];
		uint32_t na = LEDGER_IN_FORCE(in)->acked;
		acked += na;
		for (uint32_t seq = 0; seq <= na && seq < MAXSEQ; seq++) {
			unsigned c = atomic_load(&cnt[(size_t)id * MAXSEQ + seq]);
			if (c > 1 && dups++ < 10)
				VIOLATION("message (%d, %u) received %u times", id, seq, c);
			if (seq < na && c == 0) {
				struct mdesc d;
				describe((uint32_t)id, seq, &d);
				struct lost x = { d.q, d.type, d.size, (uint32_t)id, seq };
				push((void **)&lm, &nlm, &lm_cap, &x, sizeof(x));
				lost++;
			} else if (seq == na && c && !in->unknown_send) {
				VIOLATION("message (%d, %u) received, but its msgsnd did not return 0 "
					  "and was not cut short", id, seq);
			} else if (seq == na) {
				unknown_done += c;
			}
		}
	}
	for (int i = 0; i < nlm; i++) {
		char *seen = calloc((size_t)nkc + 1, 1);
		if (!seen)
			abort();
		if (!augment(i, seen))
			VIOLATION("message (%u, %u) (queue %d, type %ld, %zu bytes) was sent and never "
				  "received, and no receiver killed in a msgrcv that could take it is "
				  "left to account for it", lm[i].id, lm[i].seq, lm[i].q, lm[i].type,
				  lm[i].size);
		free(seen);
	}
	printf("# messages: %llu sent, %llu received by workers, %llu drained; %llu taken by the "
	       "%d receivers killed in msgrcv; %llu of senders killed in msgsnd arrived\n", acked,
	       (unsigned long long)atomic_load(&sh->received), drained, lost, nkc,
	       unknown_done);

	/* Semaphores. */
	for (int k = 0; k < NSET; k++) {
		if (val[k][MUTEX] != 1)
			VIOLATION("set %d: the mutex is %d at the end, not 1", k, val[k][MUTEX]);
		if (val[k][GAUGE] != 0)
			VIOLATION("set %d: the gauge (SEM_UNDO only) is %d at the end, not 0", k,
				  val[k][GAUGE]);
		for (int s = 0; s < NWORK; s++)
			if (val[k][PRIV + s] != pbase[k][s])
				VIOLATION("set %d: private semaphore %d is %d at the end, not %d", k,
					  PRIV + s, val[k][PRIV + s], pbase[k][s]);
		long long d = val[k][COUNTER] - cnt_acked[k] - parent_adds[k];
		printf("# set %d: counter %d = %lld acknowledged + %lld added by the parent %+lld from "
		       "%d operations of unknown fate\n", k, val[k][COUNTER], cnt_acked[k],
		       parent_adds[k], d, nunk[k]);
		if (!subset_sum(unk[k], nunk[k], d))
			VIOLATION("set %d: the counter is %d at the end: %lld acknowledged, %lld added "
				  "by the parent, and no subset of the %d deltas of unknown fate makes "
				  "up the %+lld left", k, val[k][COUNTER], cnt_acked[k], parent_adds[k],
				  nunk[k], d);
	}

	/* Segments: nobody attached at the end. */
	for (int k = 0; k < NSEG; k++)
		if (nattch[k] != 0)
			VIOLATION("segment %d: shm_nattch %d at the end, not 0", k, nattch[k]);
}

static int setup(void)
{
	for (int q = 0; q < NQ; q++) {
		struct msqid_ds ds;
		sh->qid[q] = O->msgget(IPC_PRIVATE, IPC_CREAT | 0600);
		if (sh->qid[q] < 0 || O->msgctl(sh->qid[q], IPC_STAT, &ds) != 0)
			return -1;
		ds.msg_qbytes = QBYTES;
		if (O->msgctl(sh->qid[q], IPC_SET, &ds) != 0)
			return -1;
	}
	for (int k = 0; k < NSET; k++) {
		union semun a = { .val = 1 };
		sh->semid[k] = O->semget(IPC_PRIVATE, NSEMS, IPC_CREAT | 0600);
		if (sh->semid[k] < 0 || O->semctl(sh->semid[k], MUTEX, SETVAL, a) != 0)
			return -1;
	}
	for (int k = 0; k < NSEG; k++) {
		sh->shmid[k] = O->shmget(IPC_PRIVATE, SEGSZ, IPC_CREAT | 0600);
		if (sh->shmid[k] < 0)
			return -1;
	}
	return 0;
}

/* Removes every object; each must then be gone (EINVAL). */
static void remove_all(void)
{
	struct msqid_ds mds;
	struct shmid_ds sds;
	int r;

	for (int q = 0; q < NQ; q++) {
		if (O->msgctl(sh->qid[q], IPC_RMID, NULL) != 0)
			VIOLATION("queue %d: IPC_RMID: %s", q, strerror(errno));
		else if ((r = O->msgctl(sh->qid[q], IPC_STAT, &mds)) != -1 || errno != EINVAL)
			VIOLATION("queue %d: IPC_STAT after IPC_RMID: %d, %s", q, r, strerror(errno));
	}
	for (int k = 0; k < NSET; k++) {
		if (O->semctl(sh->semid[k], 0, IPC_RMID) != 0)
			VIOLATION("set %d: IPC_RMID: %s", k, strerror(errno));
		else if ((r = O->semctl(sh->semid[k], 0, GETVAL)) != -1 || errno != EINVAL)
			VIOLATION("set %d: GETVAL after IPC_RMID: %d, %s", k, r, strerror(errno));
	}
	for (int k = 0; k < NSEG; k++) {
		if (O->shmctl(sh->shmid[k], IPC_RMID, NULL) != 0)
			VIOLATION("segment %d: IPC_RMID: %s", k, strerror(errno));
		else if ((r = O->shmctl(sh->shmid[k], IPC_STAT, &sds)) != -1 || errno != EINVAL)
			VIOLATION("segment %d: IPC_STAT after IPC_RMID: %d%s%s", k, r,
				  r ? ", " : " (still attached?)", r ? strerror(errno) : "");
	}
}

int main(int argc, char **argv)
{
	long target = kills_from_env("UIPC_TORTURE_KILLS");
	const char *env;

	if (argc > 1 && strcmp(argv[1], "--check") == 0)
		return check_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--kernel") == 0) {
		if (unshare(CLONE_NEWIPC) != 0) {
			printf("# unshare(CLONE_NEWIPC): %s: cannot run against the kernel\n",
			       strerror(errno));
			return 77;
		}
		O = &kernel_calls;
	}
	seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	if ((env = getenv("UIPC_TORTURE_SEED")) && *env)
		seed = strtoull(env, NULL, 0);
	max_inc = (int)target + 4 * NWORK + 64;
	parent_pid = getpid();
	setvbuf(stdout, NULL, _IOLBF, 0);
	arm_hang_alarm("FAIL torture_run: the parent hung\n",
		       (unsigned)(120 + target * AVG_KILL_US / 1000000 * 4));
	printf("# torture against %s: %ld kills, UIPC_TORTURE_SEED=%llu\n", O->name, target,
	       (unsigned long long)seed);

	sh = shared_map(sizeof(struct shared) + (size_t)max_inc * sizeof(struct inc));
	cnt = shared_map((size_t)max_inc * MAXSEQ);
	if (sh == MAP_FAILED || cnt == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	worker_errors = &sh->errs;

	t_case("torture_run");
	if (setup() != 0) {
		VIOLATION("making the objects: %s", strerror(errno));
		t_done();
		return t_exit();
	}
	atomic_store(&sh->next_id, 1);	/* 0: the parent */
	rng_state = mix64(seed) | 1;
	double run_seconds = kill_workers(target, AVG_KILL_US, choose, run_checks);
	t_done();

	t_case("torture_stop");
	stop_workers();
	for (int k = 0; k < NSEG; k++)
		settle_check(0, k);	/* nobody left: 0 */
	nviol += report_worker_errors();
	t_done();

	t_case("torture_invariants");
	final_checks();
	remove_all();
	t_done();

	printf("# %d kills in %.1f s (%d in a call, %d of them asleep; %d holding a mutex), "
	       "%d incarnations%s\n", nkills, run_seconds, k_call, k_asleep, k_hold,
	       atomic_load(&sh->next_id) - 1, ids_exhausted ? " (ids exhausted: ended early)" : "");
	printf("# killed in a call: %d msgsnd, %d msgrcv, %d semop/semtimedop, %d shmat, %d shmdt\n",
	       k_kind[K_MSGSND], k_kind[K_MSGRCV], k_kind[K_SEM], k_kind[K_SHMAT], k_kind[K_SHMDT]);
	printf("# %llu calls done, %llu failed as they may (EAGAIN, ENOMSG, E2BIG)\n",
	       (unsigned long long)atomic_load(&sh->ops), (unsigned long long)atomic_load(&sh->fails));
	printf("# %d shm_nattch/gauge checks: %d saw a stale value first (longest %.1f ms), "
	       "%d skipped (the workers never paused), %d dropped (after a violation)\n",
	       settle_checks, settle_late, settle_max * 1e3, settle_unstable, settle_dropped);
	printf("torture: %d kills survived, %llu operations, %d invariant violations\n", nkills,
	       (unsigned long long)atomic_load(&sh->ops), nviol);
	return t_exit();
}
