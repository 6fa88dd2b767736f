/*
 * sem_crash.c - semaphore sets survive processes killed at any instruction.
 *
 * Design.  NSETS sets of NSEMS semaphores: 0 is a mutex (1 = free) taken
 * with SEM_UNDO, 1 a counter changed without SEM_UNDO, 2 a gauge changed
 * only with SEM_UNDO (+1 to enter, -1 to leave: 0 once nobody is in), and
 * PRIV + w a private semaphore of worker slot w, which nobody else touches.
 * NWORK worker processes loop over random operations on a random set; the
 * parent SIGKILLs a random worker (sometimes one that holds a mutex,
 * sometimes one in a take of it, sometimes two or three at once) at random
 * moments and starts a new one in its place, UIPC_CRASH_KILLS times (default
 * 300).  Then it stops the workers, checks that none is stuck, checks the
 * sets in a new process (exec of this program with --check) and accounts for
 * every value.
 *
 * Operations.  A critical section takes the mutex with {0,-1,SEM_UNDO}:
 * alone, through semop, semtimedop (which may time out) or IPC_NOWAIT, or in
 * an array with a counter increment, a gauge entry or a private increment
 * (with or without SEM_UNDO), the blocking operation first or second.
 * Inside, the holder may sleep a little, make a timed counter decrement or a
 * private operation, then releases the mutex with {0,+1,SEM_UNDO}, alone or
 * in an array.  Outside, a worker increments the counter, decrements it
 * (with IPC_NOWAIT, semtimedop or a plain blocking semop), enters or leaves
 * the gauge, waits for the gauge to be zero, or changes its private
 * semaphore without blocking, with and without SEM_UNDO: it knows that
 * semaphore's value exactly and checks every result and, with GETVAL, the
 * value after each change.  Nobody can wait for ever: a holder blocks only
 * with a timeout, a worker waits for a gauge to be zero without one only
 * when it has no entry in any gauge (else two workers could wait for each
 * other's entries in two sets), and the blocked decrements of the counter
 * get what the others add (the parent adds at the end).
 *
 * Bookkeeping, in a MAP_SHARED anonymous region.  Every incarnation of a
 * worker has a record: before a call, the set and the call's deltas on the
 * counter and on its private semaphore (those without SEM_UNDO), then "in
 * call"; after a call that returned 0, the sums of the deltas done go into
 * the spare of two ledgers, which one store of 'pub' puts in force (so that
 * a kill never leaves a delta half counted).  The parent reads the record
 * after the worker died: a worker killed in call leaves one operation of
 * unknown fate.  A holder stores its record's number in the set's owner word
 * after its take returned and clears it before its release: finding there
 * on entry the number of a worker that the parent did not kill (it marks the
 * record before the kill; a holder killed inside leaves its number), or on
 * exit anything but its own, is a violation of mutual exclusion.
 *
 * Checks.  During the run: every result is one the call may give (EAGAIN
 * only for IPC_NOWAIT or a timeout); the mutex is never above 1; GETNCNT and
 * GETZCNT never count more sleepers than there are workers, and none on a
 * private semaphore.  After each death (the parent reaped the worker: the
 * kernel has applied its SEM_UNDO by then): the dead worker's private
 * semaphore in every set is exactly what its acknowledged operations without
 * SEM_UNDO imply (its SEM_UNDO ones undone), or that plus the delta of the
 * operation it was killed in.  At the end: no worker stuck (the parent adds
 * to a counter while someone waits on it; a worker still there END_BOUND
 * seconds after 'stop' is a hang), and in a new process: the mutex is exactly
 * 1, the gauge exactly 0, every private semaphore what the deaths left, the
 * counter what the acknowledged operations imply plus some subset of the
 * deltas of the operations of unknown fate, GETNCNT and GETZCNT 0
 * everywhere; semop works, with and without SEM_UNDO, a blocked semop is
 * woken, and IPC_RMID gives EIDRM to a blocked waiter.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
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

#define NSETS 2
#define NWORK 8			/* worker processes at any time */
#define CRASH_SLOTS NWORK
#include "crash.h"

#define MUTEX 0
#define COUNTER 1
#define GAUGE 2
#define PRIV 3			/* PRIV + slot: the slot's private semaphore */
#define NSEMS (PRIV + NWORK)
#define PRIV_HIGH 48		/* a private value above: prefer decrements */
#define AVG_KILL_US 25000	/* mean time between two kills */
#define END_BOUND 10		/* seconds: hang detector of the end phase */

/* Where a worker is, for the choice of victims and the report. */
enum where { W_IDLE, W_TAKE, W_HOLD, W_RELEASE, W_OP };

/* Sums of the deltas without SEM_UNDO of the calls that returned 0. */
struct ledger {
	int32_t cnt[NSETS];	/* on the counter */
	int32_t priv[NSETS];	/* on the private semaphore */
	int32_t undo[NSETS];	/* ... and its SEM_UNDO ones (a diagnostic) */
};

struct inc {			/* one incarnation of a worker */
	struct incarnation rec;
	struct ledger l[2];
	_Atomic int cset, dcnt, dpriv;	/* the current/last call */
	struct sembuf sops[2];		/* ... for the report of a hang */
	int nsops, tmo;
	_Atomic int where;
	int base[NSETS];	/* the private semaphores at its start */
};

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

struct shared {
	_Atomic int stop;
	_Atomic unsigned long long ops, entries, eagain;
	_Atomic int owner[NSETS];	/* record + 1 of the mutex holder */
	int semid[NSETS];
	struct worker_errors errs;
	struct inc inc[];		/* [max_inc] */
};

static struct shared *sh;
static int max_inc;
static pid_t parent_pid;

/* ---- workers ---- */

/* The worker's own view. */
static struct inc *me;
static int my_id;
static struct ledger L;		/* its sums, published after each call */
static int pv[NSETS];		/* private semaphore: base + non-undo sum */
static int pu[NSETS];		/* ... its SEM_UNDO part */
static int gauge_in[NSETS];	/* our SEM_UNDO entries in the gauge */

static const char *sops_str(const struct sembuf *b, int n)
{
	static char s[128];
	size_t o = 0;

	s[0] = 0;
	for (int i = 0; i < n && o < sizeof(s) - 32; i++)
		o += (size_t)snprintf(s + o, sizeof(s) - o, "%s{%d,%+d,%s%s}", i ? "," : "",
				      b[i].sem_num, b[i].sem_op,
				      (b[i].sem_flg & SEM_UNDO) ? "U" : "",
				      (b[i].sem_flg & IPC_NOWAIT) ? "N" : "");
	return s;
}

/*
 * One semop (tmo_ms < 0) or semtimedop call on set k, whose deltas on the
 * counter and the private semaphore are dc and dp (without SEM_UNDO) and du
 * (on the private one, with SEM_UNDO): in call before, published after it
 * returned 0.  Returns 0 or errno.
 */
static int call(int k, struct sembuf *b, int n, int tmo_ms, int dc, int dp, int du)
{
	int r, e;

	memcpy(me->sops, b, (size_t)n * sizeof(*b));
	me->nsops = n;
	me->tmo = tmo_ms;
	atomic_store(&me->cset, k);
	atomic_store(&me->dcnt, dc);
	atomic_store(&me->dpriv, dp);
	call_begin(&me->rec);
	if (tmo_ms < 0) {
		r = uipc_semop(sh->semid[k], b, (size_t)n);
	} else {
		struct timespec ts = { tmo_ms / 1000, (long)(tmo_ms % 1000) * 1000000 };
		r = uipc_semtimedop(sh->semid[k], b, (size_t)n, &ts);
	}
	e = errno;
	if (r == 0) {
		L.cnt[k] += dc;
		L.priv[k] += dp;
		L.undo[k] += du;
		call_end(&me->rec, me->l, &L, sizeof(L), 1);
		atomic_fetch_add(&sh->ops, 1);
		return 0;
	}
	call_end(&me->rec, me->l, &L, sizeof(L), 0);
	if (r != -1) {
		werr("pid %d: sem%s(set %d, %s) returned %d", (int)getpid(),
		     tmo_ms < 0 ? "op" : "timedop", k, sops_str(b, n), r);
		_exit(1);
	}
	return e;
}

/* A call that may fail with EAGAIN only, and only when 'may_eagain'. */
static int call_ok(int k, struct sembuf *b, int n, int tmo_ms, int dc, int dp, int du,
		   int may_eagain)
{
	int e = call(k, b, n, tmo_ms, dc, dp, du);

	if (e == EAGAIN && may_eagain) {
		atomic_fetch_add(&sh->eagain, 1);
		return e;
	}
	if (e) {
		werr("pid %d: sem%s(set %d, %s, %d ms) failed: %s", (int)getpid(),
		     tmo_ms < 0 ? "op" : "timedop", k, sops_str(b, n), tmo_ms, strerror(e));
		_exit(1);
	}
	return 0;
}

static int ctl(int k, int num, int cmd)
{
	return uipc_semctl(sh->semid[k], num, cmd);
}

/* The private semaphore of set k is what we know it is, nobody waits on it. */
static void check_private(int k, const char *after)
{
	int p = PRIV + me->rec.slot, v = ctl(k, p, GETVAL);

	if (v != pv[k] + pu[k])
		werr("pid %d: private semaphore %d of set %d is %d after %s, expected %d "
		     "(%d without SEM_UNDO + %d with)", (int)getpid(), p, k, v, after,
		     pv[k] + pu[k], pv[k], pu[k]);
	if (ctl(k, p, GETNCNT) != 0 || ctl(k, p, GETZCNT) != 0)
		werr("pid %d: private semaphore %d of set %d: GETNCNT %d GETZCNT %d", (int)getpid(),
		     p, k, ctl(k, p, GETNCNT), ctl(k, p, GETZCNT));
}

/* A non-blocking operation on our private semaphore of set k. */
static void private_op(int k)
{
	short p = (short)(PRIV + me->rec.slot);
	struct sembuf b = { p, 0, 0 };
	int high = pv[k] + pu[k] > PRIV_HIGH, e;

	switch (rnd() % 5) {
	case 0:
		if (high)
			goto down;
		b.sem_op = (short)(1 + rnd() % 3);
		call_ok(k, &b, 1, -1, 0, b.sem_op, 0, 0);
		pv[k] += b.sem_op;
		break;
	case 1:
		if (high)
			goto down;
		b.sem_op = 1;
		b.sem_flg = SEM_UNDO;
		call_ok(k, &b, 1, -1, 0, 0, 1, 0);
		pu[k]++;
		break;
	case 2:
	down:
		if (pv[k] == 0)
			return;
		b.sem_op = (short)-(1 + (int)(rnd() % (unsigned)pv[k]));
		b.sem_flg = IPC_NOWAIT;
		call_ok(k, &b, 1, -1, 0, b.sem_op, 0, 0);
		pv[k] += b.sem_op;
		break;
	case 3:
		if (pu[k] == 0)
			return;
		b.sem_op = -1;
		b.sem_flg = SEM_UNDO | IPC_NOWAIT;
		call_ok(k, &b, 1, -1, 0, 0, -1, 0);
		pu[k]--;
		break;
	case 4:		/* wait for zero, IPC_NOWAIT: succeeds iff it is 0 */
		b.sem_flg = IPC_NOWAIT;
		e = call(k, &b, 1, -1, 0, 0, 0);
		if (e != (pv[k] + pu[k] ? EAGAIN : 0))
			werr("pid %d: {%d,0,N} on a private semaphore of value %d: %s", (int)getpid(),
			     p, pv[k] + pu[k], e ? strerror(e) : "success");
		break;
	}
	check_private(k, "a private operation");
}

/* A counter operation without SEM_UNDO (may block, or time out). */
static void counter_op(int k)
{
	struct sembuf b = { COUNTER, 0, 0 };
	int tmo = -1, may = 0;

	/* With the critical sections' share, a little more taken than given. */
	switch (rnd() % 10) {
	case 0: case 1:
		b.sem_op = 1;
		break;
	case 2:
		b.sem_op = 2;
		break;
	case 3: case 4:
		b.sem_op = -1;
		b.sem_flg = IPC_NOWAIT;
		may = 1;
		break;
	case 5: case 6:
		b.sem_op = -1;
		tmo = (int)(rnd() % 31);
		may = 1;
		break;
	case 7: case 8:
		b.sem_op = -1;	/* blocks until someone adds */
		break;
	case 9:
		b.sem_op = -2;
		tmo = (int)(rnd() % 31);
		may = 1;
		break;
	}
	atomic_store(&me->where, W_OP);
	call_ok(k, &b, 1, tmo, b.sem_op, 0, 0, may);
	atomic_store(&me->where, W_IDLE);
}

/* Enter or leave the gauge (SEM_UNDO), or wait for it to be zero. */
static void gauge_op(int k)
{
	struct sembuf b[2] = { { GAUGE, 0, 0 }, { COUNTER, 1, 0 } };
	unsigned r = rnd() % 10;

	atomic_store(&me->where, W_OP);
	if (r < 4 && gauge_in[k] < 2) {
		b[0].sem_op = 1;
		b[0].sem_flg = SEM_UNDO;
		call_ok(k, b, 1, -1, 0, 0, 0, 0);
		gauge_in[k]++;
	} else if (r < 8 && gauge_in[k] > 0) {
		b[0].sem_op = -1;
		b[0].sem_flg = SEM_UNDO | (rnd() & 1 ? IPC_NOWAIT : 0);
		call_ok(k, b, 1, -1, 0, 0, 0, 0);	/* our own entry is there */
		gauge_in[k]--;
	} else if (gauge_in[k] == 0) {	/* we must not wait for ourselves */
		int held = 0;
		for (int i = 0; i < NSETS; i++)
			held += gauge_in[i];
		/*
		 * Not even for ourselves in another set, without a timeout: two
		 * workers would wait for each other for ever.
		 */
		if (r == 9 && !held && rnd() % 3 == 0)
			call_ok(k, b, 1, -1, 0, 0, 0, 0);
		else if (r == 9)
			call_ok(k, b, 2, (int)(rnd() % 21), 1, 0, 0, 1);
		else
			call_ok(k, b, 1, (int)(rnd() % 21), 0, 0, 0, 1);
	}
	atomic_store(&me->where, W_IDLE);
}

/* Take the mutex of set k, hold it a moment, release it. */
static void critical(int k)
{
	struct sembuf b[2], take = { MUTEX, -1, SEM_UNDO };
	short p = (short)(PRIV + me->rec.slot);
	int n = 1, tmo = -1, dc = 0, dp = 0, du = 0, dg = 0, may = 0;
	unsigned form = rnd() % 8;

	b[0] = take;
	switch (form) {
	case 0:			/* semop */
		break;
	case 1:			/* semtimedop */
		tmo = (int)(rnd() % 21);
		may = 1;
		break;
	case 2:
		b[0].sem_flg |= IPC_NOWAIT;
		may = 1;
		break;
	case 3:			/* with a counter increment */
		b[1] = (struct sembuf){ COUNTER, 1, 0 };
		n = 2;
		dc = 1;
		break;
	case 4:			/* the blocking operation second */
		b[0] = (struct sembuf){ COUNTER, 1, 0 };
		b[1] = take;
		n = 2;
		dc = 1;
		tmo = (int)(rnd() % 21);
		may = 1;
		break;
	case 5:			/* with a gauge entry */
		if (gauge_in[k] >= 2)
			break;
		b[0] = (struct sembuf){ GAUGE, 1, SEM_UNDO };
		b[1] = take;
		n = 2;
		dg = 1;
		break;
	case 6:			/* with a private increment */
	case 7:
		if (pv[k] + pu[k] > PRIV_HIGH)
			break;
		b[1] = (struct sembuf){ p, 1, (short)(form == 7 ? SEM_UNDO : 0) };
		n = 2;
		if (form == 7)
			du = 1;
		else
			dp = 1;
		if (rnd() & 1) {
			tmo = (int)(rnd() % 21);
			may = 1;
		}
		break;
	}
	atomic_store(&me->where, W_TAKE);
	if (call_ok(k, b, n, tmo, dc, dp, du, may) != 0) {
		atomic_store(&me->where, W_IDLE);
		return;
	}
	atomic_store(&me->where, W_HOLD);
	atomic_fetch_add(&sh->entries, 1);
	pv[k] += dp;
	pu[k] += du;
	gauge_in[k] += dg;

	int prev = atomic_exchange(&sh->owner[k], my_id + 1);
	if (prev && !atomic_load(&sh->inc[prev - 1].rec.killed))
		werr("set %d: pid %d took the mutex while record %d (not killed) held it",
		     k, (int)getpid(), prev - 1);
	if (dp || du)
		check_private(k, "a take with a private increment");

	/* Inside. */
	unsigned r = rnd() % 100;
	if (r < 40) {
		usleep((useconds_t)(rnd() % 1500));
	} else if (r < 65) {
		struct sembuf d = { COUNTER, -1, 0 };
		call_ok(k, &d, 1, (int)(rnd() % 6), -1, 0, 0, 1);
	} else if (r < 75) {
		private_op(k);
	}

	/* Release. */
	int mine = my_id + 1;
	atomic_store(&me->where, W_RELEASE);
	if (!atomic_compare_exchange_strong(&sh->owner[k], &mine, 0))
		werr("set %d: pid %d leaves the mutex, but the owner word says %d: someone "
		     "entered meanwhile", k, (int)getpid(), mine - 1);
	n = 1;
	dc = 0;
	dg = 0;
	b[0] = (struct sembuf){ MUTEX, 1, SEM_UNDO };
	switch (rnd() % 8) {
	default:
		break;
	case 1:
		b[0].sem_flg |= IPC_NOWAIT;
		break;
	case 2:
		b[1] = (struct sembuf){ COUNTER, 1, 0 };
		n = 2;
		dc = 1;
		break;
	case 3:
	case 4:
		if (gauge_in[k] == 0)
			break;
		b[1] = (struct sembuf){ GAUGE, -1, SEM_UNDO };
		n = 2;
		dg = -1;
		break;
	}
	call_ok(k, b, n, -1, dc, 0, 0, 0);
	gauge_in[k] += dg;
	atomic_store(&me->where, W_IDLE);
}

static void worker_main(int id)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)	/* it died before the prctl */
		_exit(1);
	me = &sh->inc[id];
	my_id = id;
	rng_state = mix64(((uint64_t)getpid() << 20) ^ (uint64_t)id) | 1;
	for (int k = 0; k < NSETS; k++)
		pv[k] = me->base[k];
	while (!atomic_load(&sh->stop)) {
		int k = (int)(rnd() % NSETS);
		unsigned r = rnd() % 100;
		if (r < 45)
			critical(k);
		else if (r < 70)
			counter_op(k);
		else if (r < 85)
			gauge_op(k);
		else
			private_op(k);
	}
	_exit(0);
}

/* ---- the checker: a new process (exec) that looks at the sets ---- */

static int check_ctl(int id, int num, int cmd, int arg)
{
	union semun a = { .val = arg };
	return uipc_semctl(id, num, cmd, a);
}

/* Waits until semaphore num of set id counts n sleepers (GETNCNT, or GETZCNT). */
static int wait_count(int id, int num, int cmd, int n)
{
	for (int i = 0; i < 10000; i++) {
		if (check_ctl(id, num, cmd, 0) == n)
			return 0;
		usleep(1000);
	}
	return -1;
}

static pid_t fork_semop(int id, struct sembuf *b, int n)
{
	pid_t pid = fork();
	if (pid == 0) {
		alarm(2 * END_BOUND);
		int r = uipc_semop(id, b, (size_t)n);
		_exit(r == 0 ? 0 : r == -1 && errno == EIDRM ? 5 : r == -1 ? 4 : 3);
	}
	return pid;
}

/* The child's exit status; -1 - status if it did not exit, -1000 if not waited for. */
static int child_status(pid_t pid)
{
	int st = 0;
	if (pid <= 0 || waitpid(pid, &st, 0) != pid)
		return -1000;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1 - st;
}

static int check_main(int argc, char **argv)
{
	int semid[NSETS];

	if (argc != 2 + NSETS)
		return 2;
	for (int k = 0; k < NSETS; k++)
		semid[k] = atoi(argv[2 + k]);
	alarm(3 * END_BOUND);		/* hang detector */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	for (int k = 0; k < NSETS; k++) {
		int id = semid[k];
		unsigned short v[NSEMS];
		union semun a = { .array = v };

		/* The values, as the first look of a new process finds them. */
		if (uipc_semctl(id, 0, GETALL, a) != 0) {
			printf("ERR set %d GETALL: %s\n", k, strerror(errno));
			continue;
		}
		for (int i = 0; i < NSEMS; i++)
			printf("VAL %d %d %d %d %d\n", k, i, v[i], check_ctl(id, i, GETNCNT, 0),
			       check_ctl(id, i, GETZCNT, 0));

		/* A semop without and with SEM_UNDO. */
		struct sembuf b[2] = { { MUTEX, -1, IPC_NOWAIT }, { COUNTER, 1, 0 } };
		if (uipc_semop(id, b, 2) != 0)
			printf("ERR set %d: semop {0,-1,N},{1,+1}: %s\n", k, strerror(errno));
		int c = check_ctl(id, COUNTER, GETVAL, 0);
		if (check_ctl(id, MUTEX, GETVAL, 0) != 0 || c != v[COUNTER] + 1 ||
		    check_ctl(id, MUTEX, GETPID, 0) != getpid())
			printf("ERR set %d: after {0,-1,N},{1,+1}: mutex %d counter %d (was %d) "
			       "pid %d\n", k, check_ctl(id, MUTEX, GETVAL, 0), c, v[COUNTER],
			       check_ctl(id, MUTEX, GETPID, 0));
		b[0] = (struct sembuf){ MUTEX, 1, 0 };
		b[1] = (struct sembuf){ COUNTER, -1, IPC_NOWAIT };
		if (uipc_semop(id, b, 2) != 0)
			printf("ERR set %d: semop {0,+1},{1,-1,N}: %s\n", k, strerror(errno));
		pid_t pid = fork();
		if (pid == 0) {
			struct sembuf u = { MUTEX, -1, SEM_UNDO };
			_exit(uipc_semop(id, &u, 1) == 0 && check_ctl(id, MUTEX, GETVAL, 0) == 0 ?
			      0 : 3);
		}
		int st = child_status(pid);
		if (st != 0 || check_ctl(id, MUTEX, GETVAL, 0) != 1)
			printf("ERR set %d: a child's {0,-1,SEM_UNDO}: exit %d, then the mutex is "
			       "%d, not 1\n", k, st, check_ctl(id, MUTEX, GETVAL, 0));

		/* A blocked semop is woken and done by our increment. */
		struct sembuf take = { MUTEX, -1, 0 }, give = { MUTEX, 1, 0 };
		if (uipc_semop(id, &take, 1) != 0)
			printf("ERR set %d: take: %s\n", k, strerror(errno));
		pid = fork_semop(id, &take, 1);
		if (wait_count(id, MUTEX, GETNCNT, 1) != 0)
			printf("ERR set %d: the child did not block (GETNCNT %d)\n", k,
			       check_ctl(id, MUTEX, GETNCNT, 0));
		if (uipc_semop(id, &give, 1) != 0)
			printf("ERR set %d: give: %s\n", k, strerror(errno));
		st = child_status(pid);
		if (st != 0 || check_ctl(id, MUTEX, GETVAL, 0) != 0 ||
		    check_ctl(id, MUTEX, GETPID, 0) != pid || check_ctl(id, MUTEX, GETNCNT, 0) != 0)
			printf("ERR set %d: woken child: exit %d, mutex %d pid %d (child %d) "
			       "ncnt %d\n", k, st, check_ctl(id, MUTEX, GETVAL, 0),
			       check_ctl(id, MUTEX, GETPID, 0), (int)pid,
			       check_ctl(id, MUTEX, GETNCNT, 0));
		if (uipc_semop(id, &give, 1) != 0)
			printf("ERR set %d: give: %s\n", k, strerror(errno));
		fflush(stdout);

		/* IPC_RMID gives EIDRM to blocked waiters: a decrement, a zero-wait. */
		struct sembuf zero = { MUTEX, 0, 0 }, big = { COUNTER, -30000, 0 };
		pid_t z = fork_semop(id, &zero, 1);
		pid = fork_semop(id, &big, 1);
		if (wait_count(id, MUTEX, GETZCNT, 1) != 0 ||
		    wait_count(id, COUNTER, GETNCNT, 1) != 0)
			printf("ERR set %d: the waiters did not block\n", k);
		if (check_ctl(id, 0, IPC_RMID, 0) != 0)
			printf("ERR set %d IPC_RMID: %s\n", k, strerror(errno));
		int sz = child_status(z);
		st = child_status(pid);
		if (sz != 5 || st != 5)
			printf("ERR set %d: blocked waiters after IPC_RMID: exit %d and %d (5 = "
			       "EIDRM, 0 = done, 4 = another error)\n", k, sz, st);
		if (check_ctl(id, 0, GETVAL, 0) != -1 || errno != EINVAL)
			printf("ERR set %d: GETVAL after IPC_RMID did not fail with EINVAL\n", k);
		printf("DONE %d\n", k);
	}
	fflush(stdout);
	return 0;
}

/* ---- the parent ---- */

static int pbase[NSETS][NWORK];		/* the private semaphores, as last seen */
static long long cnt_acked[NSETS];	/* counter: acknowledged deltas */
static int *unk[NSETS];			/* counter: deltas of unknown fate */
static int nunk[NSETS], unk_cap[NSETS];
static int next_id;
static int k_hold, k_take, k_take_asleep, k_op, k_op_asleep, k_idle;
static int priv_inflight_done, priv_inflight_not, priv_bad;

static void spawn(int slot)
{
	if (next_id >= max_inc) {
		ids_exhausted = 1;
		wpid[slot] = 0;
		return;
	}
	int id = next_id++;
	struct inc *in = &sh->inc[id];
	memset(in, 0, sizeof(*in));
	atomic_store(&in->where, W_IDLE);
	in->rec.slot = slot;
	for (int k = 0; k < NSETS; k++)
		in->base[k] = pbase[k][slot];
	start_worker(slot, id, &in->rec, worker_main);
}

/*
 * The worker of 'slot' is gone (status st): account for its record, and
 * check its private semaphores, which its death has settled.
 */
static void worker_gone(int slot, int st)
{
	struct inc *in = &sh->inc[wid[slot]];
	int ic = in_call(&in->rec);
	int cset = atomic_load(&in->cset), dc = atomic_load(&in->dcnt);
	int dp = atomic_load(&in->dpriv);
	const struct ledger *l = LEDGER_IN_FORCE(in);
	pid_t pid = wpid[slot];

	wpid[slot] = 0;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && atomic_load(&in->rec.killed)) {
		int w = atomic_load(&in->where), asleep = vstate[slot] == 'S';
		nkills++;
		if (w == W_HOLD || w == W_RELEASE)
			k_hold++;
		else if (w == W_TAKE) {
			k_take++;
			k_take_asleep += asleep && ic;
		} else if (ic) {
			k_op++;
			k_op_asleep += asleep;
		} else {
			k_idle++;
		}
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		T_FAIL("worker %d (pid %d) died: status %#x", wid[slot], (int)pid, st);
	} else if (ic) {
		T_FAIL("worker %d (pid %d) exited in a call", wid[slot], (int)pid);
	}
	for (int k = 0; k < NSETS; k++) {
		int here = ic && cset == k;
		cnt_acked[k] += l->cnt[k];
		if (here && dc)
			push((void **)&unk[k], &nunk[k], &unk_cap[k], &dc, sizeof(dc));
		int exp = pbase[k][slot] + l->priv[k];
		int v = uipc_semctl(sh->semid[k], PRIV + slot, GETVAL);
		if (here && dp && v == exp + dp)
			priv_inflight_done++;
		else if (here && dp && v == exp)
			priv_inflight_not++;
		else if (v != exp && ++priv_bad <= 10)
			T_FAIL("set %d: after the death of worker %d (pid %d, %s) and waitpid, "
			       "its private semaphore %d is %d, expected %d (its base %d, %+d "
			       "acknowledged, %+d in flight; %+d with SEM_UNDO%s)", k, wid[slot],
			       (int)pid, ic ? "in a call" : "not in a call", PRIV + slot, v,
			       exp, pbase[k][slot], l->priv[k], here ? dp : 0, l->undo[k],
			       l->undo[k] && (v == exp + l->undo[k] ||
					      (here && v == exp + dp + l->undo[k])) ?
			       ": its SEM_UNDO not undone" : "");
		pbase[k][slot] = v < 0 ? exp : v;
	}
}

/* Does the worker of 'slot' hold a mutex (mode 1), or take one (mode 2)? */
static int fits(int slot, int mode)
{
	int w = atomic_load(&sh->inc[wid[slot]].where);
	return (mode == 1 && w == W_HOLD) || (mode == 2 && w == W_TAKE);
}

/* One victim, a holder, a taker; sometimes two or three at once. */
static int choose(int victim[3])
{
	int nv = 1, mode = (int)(rnd() % 8);
	if (mode == 7)
		nv = 2 + (int)(rnd() % 2);
	for (int i = 0; i < nv; i++)
		victim[i] = pick_slot(mode >= 5 ? 0 : mode >= 3 ? 2 : mode >= 1 ? 1 : 0, fits);
	return nv;
}

/* The invariants the sets keep while everybody works. */
static void run_check(int k)
{
	unsigned short v[NSEMS];
	union semun a = { .array = v };
	int id = sh->semid[k];

	if (uipc_semctl(id, 0, GETALL, a) != 0) {
		T_FAIL("GETALL set %d during the run: %s", k, strerror(errno));
		return;
	}
	if (v[MUTEX] > 1)
		T_FAIL("set %d: the mutex is %d during the run", k, v[MUTEX]);
	for (int i = 0; i < NSEMS; i++) {
		int nc = uipc_semctl(id, i, GETNCNT), zc = uipc_semctl(id, i, GETZCNT);
		if (nc < 0 || zc < 0 || nc + zc > (i >= PRIV ? 0 : NWORK))
			T_FAIL("set %d semaphore %d: GETNCNT %d GETZCNT %d during the run", k, i,
			       nc, zc);
	}
}

static void check_a_set(void)
{
	run_check(nkills % NSETS);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--check") == 0)
		return check_main(argc, argv);

	long target = kills_from_env("UIPC_CRASH_KILLS");
	max_inc = (int)target + 4 * NWORK + 64;
	parent_pid = getpid();
	setvbuf(stdout, NULL, _IOLBF, 0);
	arm_hang_alarm("FAIL sem_crash: the parent hung\n",
		       (unsigned)(60 + target * AVG_KILL_US / 1000000 * 3));

	sh = shared_map(sizeof(struct shared) + (size_t)max_inc * sizeof(struct inc));
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 77;
	}
	worker_errors = &sh->errs;

	t_case("sem_crash: create the sets");
	for (int k = 0; k < NSETS; k++) {
		sh->semid[k] = uipc_semget(IPC_PRIVATE, NSEMS, IPC_CREAT | 0600);
		if (sh->semid[k] < 0) {
			printf("# semget(%d semaphores): %s: cannot run here\n", NSEMS,
			       strerror(errno));
			return 77;
		}
		union semun a = { .val = 1 };
		CHECK_EQ(uipc_semctl(sh->semid[k], MUTEX, SETVAL, a), 0);
	}
	t_done();

	t_case("sem_crash: kill workers at random");
	rng_state = mix64((uint64_t)getpid()) | 1;
	double run_seconds = kill_workers(target, AVG_KILL_US, choose, check_a_set);
	t_done();

	t_case("sem_crash: no worker stuck after the run");
	atomic_store(&sh->stop, 1);
	double deadline = now() + END_BOUND;
	long long parent_adds[NSETS] = { 0 };
	while (alive() && now() < deadline) {
		reap(0);
		/* Blocked counter decrements need someone to add. */
		for (int k = 0; k < NSETS; k++) {
			if (uipc_semctl(sh->semid[k], COUNTER, GETNCNT) > 0) {
				struct sembuf b = { COUNTER, 2, 0 };
				if (uipc_semop(sh->semid[k], &b, 1) == 0)
					parent_adds[k] += 2;
				else
					T_FAIL("parent: semop {1,+2} on set %d: %s", k, strerror(errno));
			}
		}
		usleep(1000);
	}
	if (alive()) {
		static const char *wn[] = { "idle", "in a take", "holding", "releasing",
					    "in an operation" };
		for (int i = 0; i < NWORK; i++) {
			if (!wpid[i])
				continue;
			struct inc *in = &sh->inc[wid[i]];
			int w = atomic_load(&in->where);
			int ic = in_call(&in->rec);
			T_FAIL("worker %d (pid %d) still there, %s, %s sem%s(set %d, %s, %d ms), "
			       "/proc state %c", wid[i], (int)wpid[i], wn[w < 5 && w >= 0 ? w : 0],
			       ic ? "in" : "after", in->tmo < 0 ? "op" : "timedop",
			       atomic_load(&in->cset), sops_str(in->sops, in->nsops), in->tmo,
			       proc_state(wpid[i]));
		}
		for (int k = 0; k < NSETS; k++) {
			char vals[256];
			size_t o = 0;
			for (int i = 0; i < NSEMS && o < sizeof(vals) - 40; i++)
				o += (size_t)snprintf(vals + o, sizeof(vals) - o, " %d:%d/%d/%d", i,
						      uipc_semctl(sh->semid[k], i, GETVAL),
						      uipc_semctl(sh->semid[k], i, GETNCNT),
						      uipc_semctl(sh->semid[k], i, GETZCNT));
			T_FAIL("set %d (value/GETNCNT/GETZCNT):%s", k, vals);
		}
		for (int i = 0; i < NWORK; i++)
			if (wpid[i]) {
				kill(wpid[i], SIGKILL);
				waitpid(wpid[i], NULL, 0);
			}
		t_done();
		printf("FAIL sem_crash: workers stuck, accounting skipped\n");
		return 1;
	}
	t_done();

	t_case("sem_crash: no worker error");
	report_worker_errors();
	t_done();

	/* Check the sets in a new process. */
	t_case("sem_crash: in a new process: values, counts, usable, EIDRM");
	struct checker_args args = { .n = 0 };
	pid_t cpid;
	arg_word(&args, "sem_crash");
	arg_word(&args, "--check");
	for (int k = 0; k < NSETS; k++)
		arg_int(&args, sh->semid[k]);
	FILE *f = start_checker(&args, &cpid);
	if (!f) {
		perror("pipe");
		return 1;
	}
	char line[512];
	int val[NSETS][NSEMS], got[NSETS][NSEMS], done[NSETS];
	memset(got, 0, sizeof(got));
	memset(done, 0, sizeof(done));
	while (f && fgets(line, sizeof(line), f)) {
		int k, i, v, nc, zc;
		if (sscanf(line, "VAL %d %d %d %d %d", &k, &i, &v, &nc, &zc) == 5 && k >= 0 &&
		    k < NSETS && i >= 0 && i < NSEMS) {
			val[k][i] = v;
			got[k][i] = 1;
			if (nc != 0 || zc != 0)
				T_FAIL("set %d semaphore %d: GETNCNT %d GETZCNT %d, nobody waits", k,
				       i, nc, zc);
		} else if (sscanf(line, "DONE %d", &k) == 1 && k >= 0 && k < NSETS) {
			done[k] = 1;
		} else {
			line[strcspn(line, "\n")] = 0;
			T_FAIL("checker: %s", line);
		}
	}
	int st = finish_checker(f, cpid);
	if (st != 0)
		T_FAIL("checker died: status %#x", st);
	for (int k = 0; k < NSETS; k++)
		if (!done[k])
			T_FAIL("the checker did not finish set %d", k);
	t_done();

	t_case("sem_crash: every value accounted for");
	long long unk_net[NSETS];
	for (int k = 0; k < NSETS; k++) {
		unk_net[k] = 0;
		for (int i = 0; i < NSEMS; i++)
			if (!got[k][i]) {
				T_FAIL("set %d semaphore %d: no value", k, i);
				val[k][i] = -1;
			}
		if (val[k][MUTEX] != 1)
			T_FAIL("set %d: the mutex is %d at the end, not 1", k, val[k][MUTEX]);
		if (val[k][GAUGE] != 0)
			T_FAIL("set %d: the gauge (SEM_UNDO only) is %d at the end, not 0", k,
			       val[k][GAUGE]);
		for (int w = 0; w < NWORK; w++)
			if (val[k][PRIV + w] != pbase[k][w])
				T_FAIL("set %d: private semaphore %d is %d, expected %d", k, PRIV + w,
				       val[k][PRIV + w], pbase[k][w]);
		long long known = cnt_acked[k] + parent_adds[k];
		unk_net[k] = val[k][COUNTER] - known;
		if (!subset_sum(unk[k], nunk[k], unk_net[k]))
			T_FAIL("set %d: the counter is %d; acknowledged operations make %lld, and "
			       "%lld is no sum of some of the %d operations of unknown fate", k,
			       val[k][COUNTER], known, unk_net[k], nunk[k]);
	}
	printf("# %d kills in %.1f s (ended early: %s), %d incarnations; killed holding a mutex "
	       "%d, in a take %d (asleep %d), in another call %d (asleep %d), between calls %d\n",
	       nkills, run_seconds, ids_exhausted ? "yes" : "no", next_id, k_hold, k_take,
	       k_take_asleep, k_op, k_op_asleep, k_idle);
	printf("# %llu operations done, %llu critical sections, %llu EAGAIN; private "
	       "operations killed in flight: %d done, %d not done\n",
	       (unsigned long long)atomic_load(&sh->ops),
	       (unsigned long long)atomic_load(&sh->entries),
	       (unsigned long long)atomic_load(&sh->eagain), priv_inflight_done,
	       priv_inflight_not);
	for (int k = 0; k < NSETS; k++)
		printf("# set %d: counter %d = %lld acknowledged + %lld added by the parent + "
		       "%lld of %d operations of unknown fate\n", k, val[k][COUNTER],
		       cnt_acked[k], parent_adds[k], unk_net[k], nunk[k]);
	if (priv_bad > 10)
		T_FAIL("... %d wrong private semaphores after a death in all", priv_bad);
	CHECK(atomic_load(&sh->entries) > 0);
	t_done();
	return t_exit();
}
