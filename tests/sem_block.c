/*
 * sem_block.c - blocking semaphore operations and SEM_UNDO across processes
 * and threads, differential against the kernel.
 *
 * Each scenario is a function written against an ops table {get,op,timedop,
 * ctl} and runs twice, each time in a fresh "runner" child: once with the
 * kernel's semget/semop/semtimedop/semctl in a runner that called
 * unshare(CLONE_NEWIPC), once with uipc_*.  The runner starts workers (forked
 * processes, and threads in them, named A, B, C, ...) that make semop calls
 * and die in the ways a scenario needs.  Everyone writes the lines of one
 * transcript in shared memory: the runner what it did and saw ("runner: semop
 * S 0:+1 -> 0", "runner: S after +1: val=0 ncnt=0 zcnt=0 pid=A"), a worker
 * each call it made and its outcome ("A: semop S 0:-1 -> 0").  The uipc
 * transcript must equal the kernel's line by line.
 *
 * The order of the lines is made deterministic by the scenario's own
 * synchronisation, never by timing:
 *  - a worker stores the outcome of a call, then waits for the runner's go
 *    before it writes its line; the runner gives it (expect()) at the point
 *    of its own script where it wants that line, and checks the outcome;
 *  - the runner knows a worker sleeps in semop when GETNCNT or GETZCNT of the
 *    semaphore the worker blocks on reaches the count expected (polled with
 *    1 ms sleeps); a stopped worker by its state in /proc;
 *  - a worker waits for the runner's word (tell()) before each next step of a
 *    script, and before it ends;
 *  - after a worker died, the runner reaps it and then polls (at most 2 s)
 *    until the semaphore shows the value expected, waits 20 ms more in case a
 *    late, wrong update follows, and writes what it sees.  The kernel applies
 *    SEM_UNDO before the parent can reap; uipc may take a moment to notice a
 *    death.
 * Semaphore notation: "0:-1u 1:+2n 2:0" is the sembuf array {0,-1,SEM_UNDO},
 * {1,+2,IPC_NOWAIT}, {2,0,0}; sets are named S, S2, ...; pids (GETPID) are
 * written as the worker's name.
 *
 * Kernel facts these scenarios pin down (ipc/sem.c, Linux 6.x):
 *  - the process that makes a sleeper's operation possible performs it, in
 *    its own call: when the waker's semop returns, the sleeper's operation is
 *    done (values, GETNCNT/GETZCNT and sempid = the sleeper already show it),
 *    and a zero-waiter released by that operation is released too;
 *  - waiters are scanned in arrival order and every one whose operation can
 *    proceed does (first fit, not strict FIFO): with A waiting for -2 and B
 *    for -1 behind it, +1 goes to B;
 *  - a new caller whose operation can proceed does, ahead of any sleeper; a
 *    sleeper reserves nothing;
 *  - GETNCNT/GETZCNT count a sleeper on the semaphore of the first operation
 *    of its array that blocked at its last attempt, so a multi-semaphore
 *    sleeper moves from one count to another as values change, and IPC_NOWAIT
 *    is the flag of that blocking operation: an array whose blocking
 *    operation has IPC_NOWAIT fails at once with EAGAIN, and a sleeper whose
 *    blocking operation becomes one with IPC_NOWAIT is woken with EAGAIN;
 *  - sempid is the process id (tgid) of the last process whose operation was
 *    performed on that semaphore, also for wait-for-zero operations, also for
 *    a thread's operation, also when another process performed it; SETVAL
 *    and SETALL set it to the caller; the exit of a process with a non-zero
 *    adjustment of that semaphore sets it to the exiting process (not when
 *    SETVAL had cleared the adjustment);
 *  - semop and semtimedop fail with EINTR after a signal handler ran, with or
 *    without SA_RESTART (never restarted); an ignored or blocked signal
 *    interrupts nothing; SIGSTOP takes a sleeper off the waiters (GETNCNT
 *    drops, increments made while it is stopped are not for it) and after
 *    SIGCONT its semop fails with EINTR, no handler involved;
 *  - semtimedop: a timeout that expires gives EAGAIN; an invalid timespec is
 *    EINVAL even when the operation would not block;
 *  - a sleeper killed by SIGKILL leaves the counts before its parent can
 *    reap it, and gets nothing;
 *  - IPC_RMID wakes every sleeper with EIDRM; the id is then stale (EINVAL);
 *  - SEM_UNDO adjustments belong to the process (shared by its threads):
 *    applied when the last thread exits however the process dies (exit,
 *    return from main, _exit, abort, SIGSEGV, SIGKILL whether or not it
 *    sleeps in semop), not when a thread exits, not inherited by a fork
 *    child, kept across execve; the result is clamped to 0..32767; sleepers
 *    the adjustment makes runnable proceed; SETVAL (for that semaphore) and
 *    SETALL (all) clear every process's adjustment; a removed set's
 *    adjustments are dropped quietly (and never reach a set created later);
 *    a sleeper's SEM_UNDO operation, performed by its waker, is the
 *    sleeper's adjustment;
 *  - an adjustment must stay within -32768..32767 (else ERANGE).
 *
 * "sem_block -v" prints every transcript on stderr; "sem_block [-v] NAME"
 * runs the scenarios whose name contains NAME.
 *
 * Nothing can hang: every poll has a deadline, the runner and every worker
 * have an alarm() (which survives exec), workers die with their runner
 * (PR_SET_PDEATHSIG), the parent kills a runner that overstays, and every
 * child is killed and reaped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uipc.h"
#include "t.h"

#define NSLOT 26		/* workers A..Z */
#define NSTEP 16		/* calls reported by one worker */
#define MAXSPEC 96
#define MAXSOPS 8
#define MAXSEMS 16
#define LOGSZ 32768
#define NOTMO (-1LL)		/* semop, not semtimedop */
#define TMO_BAD_NSEC (-2LL)	/* semtimedop with tv_nsec = 1e9 */
#define TMO_NEG_SEC (-3LL)	/* semtimedop with tv_sec = -1 */
#define MS 1000000LL

/* Linux leaves the definition of semctl's fourth argument to the caller. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

struct ops {
	const char *name;
	int kernel;			/* run in a new kernel IPC namespace */
	int (*get)(key_t, int, int);
	int (*op)(int, struct sembuf *, size_t);
	int (*timedop)(int, struct sembuf *, size_t, const struct timespec *);
	int (*ctl)(int, int, int, ...);
};

static const struct ops kernel_ops = {
	"kernel", 1, semget, semop, semtimedop, semctl,
};
static const struct ops uipc_ops = {
	"uipc", 0, uipc_semget, uipc_semop, uipc_semtimedop, uipc_semctl,
};

/* How a scripted worker ends once told to. */
enum {
	END_EXIT,	/* exit(0) */
	END_RETURN,	/* return 3 from the function standing in for main */
	END__EXIT,	/* _exit(0) */
	END_ABORT,	/* abort(): SIGABRT */
	END_SEGV,	/* a store to a read-only page: SIGSEGV */
	END_WAIT,	/* waits to be killed */
};

struct result {
	long ret;
	int err;
	int handler_runs;
};

/*
 * One worker: a process, or a thread of a worker process.  The request is
 * set by the runner before the fork; the counters are accessed with
 * __atomic: returned (calls whose result is stored), go (lines the runner
 * allows), logged (lines written), cmd (words from the runner).
 */
struct slot {
	char name[16];
	int used, is_thread, owner;
	pid_t pid, tid;
	int semid[2];
	char spec[MAXSPEC];	/* ops, or a script "ops|ops|..." */
	long long tmo_ns;
	int sigmode, end, restart;	/* sigmode: SIGH_* */
	int returned, go, logged, cmd;
	struct result res[NSTEP];
};

/* Shared by the parent, the runner and the workers (MAP_SHARED). */
struct shared {
	struct slot slot[NSLOT];
	int overflow;
	size_t loglen;
	char log[LOGSZ];
};

#include "block.h"

/* ---- transcript ---- */

/* A pid as a name that is the same in every run. */
static const char *pidname(pid_t p)
{
	if (p == 0)
		return "0";
	if (p == runner_pid)
		return "runner";
	for (int i = 0; i < NSLOT; i++)
		if (SH->slot[i].used && !SH->slot[i].is_thread &&
		    SH->slot[i].pid == p)
			return SH->slot[i].name;
	for (int i = 0; i < NSLOT; i++)
		if (SH->slot[i].used && SH->slot[i].is_thread &&
		    SH->slot[i].tid == p)
			return SH->slot[i].name;
	return "other";
}

/* ---- operations ---- */

/* Parse "0:-1u 1:+2n 2:0" into b[]; the number of operations, or -1. */
static int parse(const char *spec, struct sembuf *b, int max)
{
	const char *p = spec;
	int n = 0;

	while (*p) {
		char *e;
		long num, op;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (n == max)
			return -1;
		num = strtol(p, &e, 10);
		if (e == p || *e != ':')
			return -1;
		p = e + 1;
		op = strtol(p, &e, 10);
		if (e == p)
			return -1;
		p = e;
		b[n].sem_num = (unsigned short)num;
		b[n].sem_op = (short)op;
		b[n].sem_flg = 0;
		for (; *p == 'u' || *p == 'n'; p++)
			b[n].sem_flg |= *p == 'u' ? SEM_UNDO : IPC_NOWAIT;
		n++;
	}
	return n;
}

/* semop or semtimedop as spec says; -1 with errno on failure. */
static long do_call(int id, const char *spec, long long tmo_ns, char *what,
		    size_t wn)
{
	struct sembuf b[MAXSOPS];
	struct timespec ts;
	int n = parse(spec, b, MAXSOPS);

	if (n < 0) {
		snprintf(what, wn, "bad spec '%s'", spec);
		errno = EFAULT;
		return -1;
	}
	if (tmo_ns == NOTMO) {
		snprintf(what, wn, "semop %s %s", id_name(id), spec);
		errno = 0;
		return O->op(id, b, (size_t)n);
	}
	if (tmo_ns == TMO_BAD_NSEC) {
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000000;
		snprintf(what, wn, "semtimedop %s %s t={0,1e9}", id_name(id),
			 spec);
	} else if (tmo_ns == TMO_NEG_SEC) {
		ts.tv_sec = -1;
		ts.tv_nsec = 0;
		snprintf(what, wn, "semtimedop %s %s t={-1,0}", id_name(id),
			 spec);
	} else {
		ts.tv_sec = (time_t)(tmo_ns / 1000000000);
		ts.tv_nsec = (long)(tmo_ns % 1000000000);
		snprintf(what, wn, "semtimedop %s %s t=%lldms", id_name(id),
			 spec, tmo_ns / MS);
	}
	errno = 0;
	return O->timedop(id, b, (size_t)n, &ts);
}

/* ---- workers ---- */

/* Wait until *p >= v; 0, or -1 after the bound. */
static int wait_atomic(int *p, int v, double bound)
{
	double end = now() + bound;

	while (__atomic_load_n(p, __ATOMIC_SEQ_CST) < v) {
		if (now() > end)
			return -1;
		sleep_ms(1);
	}
	return 0;
}

/*
 * A worker's report of one call: store the outcome, wait for the runner's go,
 * write the line.
 */
static void w_report(struct slot *s, long ret, int err, const char *what)
{
	int k = __atomic_load_n(&s->returned, __ATOMIC_SEQ_CST);
	char line[512];

	if (k >= NSTEP)
		k = NSTEP - 1;
	s->res[k].ret = ret;
	s->res[k].err = err;
	s->res[k].handler_runs = handler_runs;
	__atomic_store_n(&s->returned, k + 1, __ATOMIC_SEQ_CST);
	wait_atomic(&s->go, k + 1, POLL_SECONDS);
	if (ret < 0)
		snprintf(line, sizeof(line), "%s: %s -> %ld %s", s->name, what,
			 ret, errname(err));
	else
		snprintf(line, sizeof(line), "%s: %s -> %ld", s->name, what,
			 ret);
	if (s->sigmode != SIGH_NONE)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 " (handler ran %d)", (int)handler_runs);
	log_line(line);
	__atomic_store_n(&s->logged, k + 1, __ATOMIC_SEQ_CST);
}

/* A line of a worker, reported like a call that returned 0. */
static void w_note(struct slot *s, const char *what)
{
	w_report(s, 0, 0, what);
}

/* Make a call and report it. */
static long w_call(struct slot *s, int id, const char *spec, long long tmo)
{
	char what[256];
	long r = do_call(id, spec, tmo, what, sizeof(what));

	w_report(s, r, r < 0 ? errno : 0, what);
	return r;
}

static long w_op(struct slot *s, int id, const char *spec)
{
	return w_call(s, id, spec, NOTMO);
}

/* Wait for the runner's n-th word. */
static void w_wait_cmd(struct slot *s, int n)
{
	wait_atomic(&s->cmd, n, POLL_SECONDS + 5);
}

typedef int (*worker_fn)(struct slot *);

/* Slot i, cleared and named, for a new worker. */
static struct slot *prep(int i)
{
	struct slot *s = &SH->slot[i];

	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->name[0] = (char)('A' + i);
	s->tmo_ns = NOTMO;
	return s;
}

/* Slot j for a thread that worker process i will start. */
static struct slot *prep_thread(int j, int i)
{
	struct slot *s = prep(j);

	s->is_thread = 1;
	s->owner = i;
	snprintf(s->name, sizeof(s->name), "%c.t", 'A' + j);
	return s;
}

/* Worker i (prepared) becomes a new process running fn, then _exit(fn()). */
static void spawn(int i, worker_fn fn, const char *desc)
{
	struct slot *s = &SH->slot[i];
	pid_t p;

	note("start %s: %s", s->name, desc);
	p = fork_worker();
	if (p < 0)
		return;
	if (p == 0) {
		s->pid = getpid();
		s->tid = my_tid();
		worker_signals(s->sigmode, &s->restart);
		_exit(fn(s));
	}
	s->pid = s->tid = p;
	record_worker(p);
}

/* The plain worker: one call. */
static int wk_call(struct slot *s)
{
	w_call(s, s->semid[0], s->spec, s->tmo_ns);
	return 0;
}

static void start_call(int i, int id, const char *spec, long long tmo,
		       int sigmode)
{
	struct slot *s = prep(i);
	char desc[160];

	s->semid[0] = id;
	snprintf(s->spec, sizeof(s->spec), "%s", spec);
	s->tmo_ns = tmo;
	s->sigmode = sigmode;
	if (tmo == NOTMO)
		snprintf(desc, sizeof(desc), "semop %s %s sig=%d",
			 id_name(id), spec, sigmode);
	else
		snprintf(desc, sizeof(desc), "semtimedop %s %s sig=%d",
			 id_name(id), spec, sigmode);
	spawn(i, wk_call, desc);
}

static void start_op(int i, int id, const char *spec)
{
	start_call(i, id, spec, NOTMO, SIGH_NONE);
}

/* End as s->end says. */
static int worker_end(struct slot *s)
{
	struct rlimit rl = { 0, 0 };
	volatile int *ro;

	switch (s->end) {
	case END_EXIT:
		exit(0);
	case END_RETURN:
		return 3;
	case END_ABORT:
	case END_SEGV:
		/* no core file */
		prctl(PR_SET_DUMPABLE, 0);
		setrlimit(RLIMIT_CORE, &rl);
		if (s->end == END_ABORT)
			abort();
		/* a store to a read-only page (a sanitizer's handler off) */
		signal(SIGSEGV, SIG_DFL);
		ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
		if (ro != MAP_FAILED)
			*ro = 1;
		return 98;
	case END_WAIT:
		w_wait_cmd(s, 1000);
		return 97;
	case END__EXIT:
	default:
		_exit(0);
	}
}

/*
 * The scripted worker: s->spec is "ops|ops|...", each part optionally
 * starting with "@1 " (the operations are on s->semid[1]).  Part k > 0 waits
 * for the runner's k-th word; after the last part the worker waits for one
 * more word and ends as s->end says.
 */
static int script_main(struct slot *s)
{
	char buf[MAXSPEC], *save = NULL, *part;
	int k = 0;

	snprintf(buf, sizeof(buf), "%s", s->spec);
	for (part = strtok_r(buf, "|", &save); part;
	     part = strtok_r(NULL, "|", &save), k++) {
		int id = s->semid[0];

		if (k > 0)
			w_wait_cmd(s, k);
		while (*part == ' ')
			part++;
		if (part[0] == '@') {
			id = s->semid[part[1] == '1'];
			for (part += 2; *part == ' '; part++)
				;
		}
		w_op(s, id, part);
	}
	if (s->end != END_WAIT)
		w_wait_cmd(s, k);
	return worker_end(s);
}

static int wk_script(struct slot *s)
{
	int rc = script_main(s);

	exit(rc);		/* "return from main" */
}

static void start_script(int i, int id, int id2, const char *script, int end)
{
	struct slot *s = prep(i);
	char desc[160];

	s->semid[0] = id;
	s->semid[1] = id2;
	s->end = end;
	snprintf(s->spec, sizeof(s->spec), "%s", script);
	snprintf(desc, sizeof(desc), "script %s '%s' end=%d", id_name(id),
		 script, end);
	spawn(i, wk_script, desc);
}

/* Start a thread in this worker process for slot j, running fn. */
static int w_thread(pthread_t *t, int j, void *(*fn)(void *))
{
	struct slot *s = &SH->slot[j];

	s->pid = getpid();
	if (pthread_create(t, NULL, fn, s) != 0) {
		w_report(s, -1, EAGAIN, "pthread_create");
		return -1;
	}
	return 0;
}

/* A thread making the call in its slot. */
static void *th_call(void *arg)
{
	struct slot *s = arg;

	__atomic_store_n(&s->tid, my_tid(), __ATOMIC_SEQ_CST);
	w_call(s, s->semid[0], s->spec, s->tmo_ns);
	return NULL;
}

/* ---- runner: synchronisation ---- */

static int returned_unlogged(int i)
{
	struct slot *s = &SH->slot[i];

	return __atomic_load_n(&s->returned, __ATOMIC_SEQ_CST) >
	       __atomic_load_n(&s->logged, __ATOMIC_SEQ_CST);
}

/*
 * Let worker i write the line of its next call; check that the call returned
 * ret (and errno err if ret < 0).
 */
static void expect(int i, long ret, int err)
{
	struct slot *s = &SH->slot[i];
	int k = __atomic_load_n(&s->logged, __ATOMIC_SEQ_CST);
	struct result *r;

	if (k >= NSTEP)
		k = NSTEP - 1;
	__atomic_store_n(&s->go, k + 1, __ATOMIC_SEQ_CST);
	if (wait_atomic(&s->logged, k + 1, poll_bound) != 0) {
		T_FAIL("%s: no result (still blocked?)", s->name);
		note("%s: no result", s->name);
		timed_out();
		return;
	}
	r = &s->res[k];
	if (r->ret != ret || (ret < 0 && r->err != err))
		T_FAIL("%s returned %ld (%s), expected %ld (%s)", s->name,
		       r->ret, r->ret < 0 ? errname(r->err) : "ok", ret,
		       ret < 0 ? errname(err) : "ok");
}

/* The handler runs seen by worker i at its last logged call. */
static int handler_of(int i)
{
	struct slot *s = &SH->slot[i];
	int k = __atomic_load_n(&s->logged, __ATOMIC_SEQ_CST);

	return k > 0 ? s->res[k - 1].handler_runs : -1;
}

/* Worker i has not returned from its call. */
static void still_waiting(int i)
{
	int r = returned_unlogged(i);

	note("%s %s", SH->slot[i].name, r ? "returned" : "waiting");
	if (r)
		T_FAIL("%s returned but should still wait", SH->slot[i].name);
}

static void tell(int i)
{
	__atomic_add_fetch(&SH->slot[i].cmd, 1, __ATOMIC_SEQ_CST);
}

static int semcnt(int id, int num, int cmd)
{
	return O->ctl(id, num, cmd);
}

static const char *cntname(int cmd)
{
	return cmd == GETNCNT ? "GETNCNT" : cmd == GETZCNT ? "GETZCNT" :
	       cmd == GETVAL ? "GETVAL" : "?";
}

/*
 * Wait until worker i sleeps in semop: GETNCNT or GETZCNT (cmd) of semaphore
 * num reaches n.  Fails if the worker returns instead.
 */
static int blocked(int i, int id, int num, int cmd, int n)
{
	double end = now() + poll_bound;
	int c = -1;

	for (;;) {
		c = semcnt(id, num, cmd);
		if (c == n) {
			note("%s blocked (%s %s %d = %d)", SH->slot[i].name,
			     id_name(id), cntname(cmd), num, n);
			return 0;
		}
		if (returned_unlogged(i)) {
			T_FAIL("%s returned instead of blocking",
			       SH->slot[i].name);
			note("%s did not block", SH->slot[i].name);
			expect(i, 0, 0);
			return -1;
		}
		if (now() > end) {
			T_FAIL("%s not seen blocked: %s %d is %d, want %d",
			       SH->slot[i].name, cntname(cmd), num, c, n);
			note("%s did not block (%s %d = %d)", SH->slot[i].name,
			     cntname(cmd), num, c);
			timed_out();
			return -1;
		}
		sleep_ms(1);
	}
}

/* Wait until the task of slot i is in one of the states (e.g. "Tt"). */
static void wait_state(int i, const char *states, const char *what)
{
	struct slot *s = &SH->slot[i];

	wait_task_state(s->name, s->pid, s->tid, states, what);
}

/* Reap worker process i and write how it ended. */
static void reap(int i)
{
	pid_t p = SH->slot[i].pid;

	if (reap_worker(SH->slot[i].name, p) == 0)
		forget_worker(p);
}

static void kill_worker(int i, int sig)
{
	kill(SH->slot[i].pid, sig);
	note("runner: kill %s SIG%s", SH->slot[i].name, sigabbrev_np(sig));
}

/* ---- runner: semaphore sets ---- */

static int mkset(int nsems, const char *name)
{
	int id = O->get(IPC_PRIVATE, nsems, IPC_CREAT | 0600);

	if (id < 0) {
		T_FAIL("semget(%d): %s", nsems, strerror(errno));
		return id;
	}
	name_id(id, name);
	note("runner: semget %s nsems=%d", name, nsems);
	return id;
}

static void rmset(int id)
{
	int r = O->ctl(id, 0, IPC_RMID);

	note("runner: IPC_RMID %s -> %d", id_name(id), r);
	if (r != 0)
		T_FAIL("IPC_RMID %s: %s", id_name(id), strerror(errno));
}

static void rop_t(int id, const char *spec, long long tmo, long ret, int err)
{
	char what[256];
	long r = do_call(id, spec, tmo, what, sizeof(what));
	int e = errno;

	if (r < 0)
		note("runner: %s -> %ld %s", what, r, errname(e));
	else
		note("runner: %s -> %ld", what, r);
	if (r != ret || (ret < 0 && e != err))
		T_FAIL("runner %s returned %ld (%s), expected %ld (%s)", what,
		       r, r < 0 ? errname(e) : "ok", ret,
		       ret < 0 ? errname(err) : "ok");
}

/* A semop by the runner that must return ret (errno err). */
static void rop(int id, const char *spec, long ret, int err)
{
	rop_t(id, spec, NOTMO, ret, err);
}

static void setval(int id, int num, int v)
{
	union semun a = { .val = v };
	int r = O->ctl(id, num, SETVAL, a);

	note("runner: SETVAL %s %d %d -> %d", id_name(id), num, v, r);
	if (r != 0)
		T_FAIL("SETVAL: %s", strerror(errno));
}

/* SETALL from a string of values "5,0,1". */
static void setall(int id, const char *vals)
{
	unsigned short v[MAXSEMS];
	union semun a = { .array = v };
	const char *p = vals;
	int n = 0, r;

	while (*p && n < MAXSEMS) {
		char *e;

		v[n++] = (unsigned short)strtoul(p, &e, 10);
		p = *e == ',' ? e + 1 : e;
		if (e == p && *e)
			break;
	}
	r = O->ctl(id, 0, SETALL, a);
	note("runner: SETALL %s %s -> %d", id_name(id), vals, r);
	if (r != 0)
		T_FAIL("SETALL: %s", strerror(errno));
}

static int nsems_of(int id)
{
	struct semid_ds ds;
	union semun a = { .buf = &ds };

	if (O->ctl(id, 0, IPC_STAT, a) != 0)
		return -1;
	return (int)ds.sem_nsems;
}

/* Write the whole state of set id: values, counts and pids. */
static void show(int id, const char *label)
{
	char line[512], *p = line, *end = line + sizeof(line);
	unsigned short v[MAXSEMS];
	union semun a = { .array = v };
	int n = nsems_of(id);

	if (n < 0 || n > MAXSEMS || O->ctl(id, 0, GETALL, a) != 0) {
		note("runner: %s %s: error %s", id_name(id), label,
		     errname(errno));
		T_FAIL("state of %s: %s", id_name(id), strerror(errno));
		return;
	}
	p += snprintf(p, (size_t)(end - p), "runner: %s %s: val=", id_name(id),
		      label);
	for (int i = 0; i < n && p < end; i++)
		p += snprintf(p, (size_t)(end - p), "%s%u", i ? "," : "",
			      v[i]);
	p += snprintf(p, (size_t)(end - p), " ncnt=");
	for (int i = 0; i < n && p < end; i++)
		p += snprintf(p, (size_t)(end - p), "%s%d", i ? "," : "",
			      semcnt(id, i, GETNCNT));
	p += snprintf(p, (size_t)(end - p), " zcnt=");
	for (int i = 0; i < n && p < end; i++)
		p += snprintf(p, (size_t)(end - p), "%s%d", i ? "," : "",
			      semcnt(id, i, GETZCNT));
	p += snprintf(p, (size_t)(end - p), " pid=");
	for (int i = 0; i < n && p < end; i++)
		p += snprintf(p, (size_t)(end - p), "%s%s", i ? "," : "",
			      pidname(semcnt(id, i, GETPID)));
	log_line(line);
}

/*
 * After a death: poll (bounded) until GETVAL/GETNCNT/GETZCNT (cmd) of num is
 * want, look again a little later, and write the state of the set.
 */
static void settle(int id, int num, int cmd, int want, const char *label)
{
	int c;

	settle_until(semcnt(id, num, cmd) == want);
	c = semcnt(id, num, cmd);
	if (c != want)
		T_FAIL("%s %s %d is %d, expected %d (%s)", id_name(id),
		       cntname(cmd), num, c, want, label);
	show(id, label);
}

/* ==== scenarios ==== */

/*
 * (1) A decrement sleeps until an increment makes it possible; the waker
 * performs it.  Wait-for-zero sleeps until the value is 0.
 */
static void sc_wake(void)
{
	int S = mkset(1, "S");

	show(S, "new");
	start_op(0, S, "0:-1");
	blocked(0, S, 0, GETNCNT, 1);
	show(S, "A waiting");
	rop(S, "0:+1", 0, 0);
	/* A's decrement is already done when the waker's semop returns */
	show(S, "after +1");
	expect(0, 0, 0);

	setval(S, 0, 2);
	start_op(1, S, "0:0");
	blocked(1, S, 0, GETZCNT, 1);
	rop(S, "0:-1", 0, 0);
	show(S, "at 1");
	still_waiting(1);
	rop(S, "0:-1", 0, 0);
	show(S, "at 0");
	expect(1, 0, 0);
	start_op(2, S, "0:0");		/* already 0: no wait */
	expect(2, 0, 0);

	/* a chain: +1 lets D take 3, which lets C's wait-for-zero go */
	setval(S, 0, 2);
	start_op(3, S, "0:0");
	blocked(3, S, 0, GETZCNT, 1);
	start_op(4, S, "0:-3");
	blocked(4, S, 0, GETNCNT, 1);
	show(S, "C and D waiting");
	rop(S, "0:+1", 0, 0);
	show(S, "after +1");
	expect(4, 0, 0);
	expect(3, 0, 0);

	/* a worker wakes a worker */
	start_op(5, S, "0:-2");
	blocked(5, S, 0, GETNCNT, 1);
	start_op(6, S, "0:+2");
	expect(6, 0, 0);
	show(S, "G woke F");
	expect(5, 0, 0);

	/* increments never wait; IPC_NOWAIT never waits */
	rop(S, "0:-1n", -1, EAGAIN);
	rop(S, "0:0n", 0, 0);
	rop(S, "0:+1n", 0, 0);
	rop(S, "0:0n", -1, EAGAIN);
	rop(S, "0:+32766", 0, 0);
	rop(S, "0:+1", -1, ERANGE);
	show(S, "at semvmx");
	rmset(S);
}

/*
 * (2) Waiters are tried in arrival order, and each one that can proceed does:
 * FIFO among equals, first fit among unequal demands.
 */
static void sc_fifo(void)
{
	int S = mkset(1, "S"), i;

	for (i = 0; i < 3; i++) {
		start_op(i, S, "0:-1");
		blocked(i, S, 0, GETNCNT, i + 1);
	}
	for (i = 0; i < 3; i++) {
		rop(S, "0:+1", 0, 0);
		show(S, "after +1");
		expect(i, 0, 0);
		for (int j = i + 1; j < 3; j++)
			still_waiting(j);
	}

	/* +2 serves the first two */
	for (i = 3; i < 6; i++) {
		start_op(i, S, "0:-1");
		blocked(i, S, 0, GETNCNT, i - 2);
	}
	rop(S, "0:+2", 0, 0);
	show(S, "after +2");
	expect(3, 0, 0);
	expect(4, 0, 0);
	still_waiting(5);
	rop(S, "0:+1", 0, 0);
	expect(5, 0, 0);

	/* G wants 2, H behind it wants 1: +1 goes to H */
	start_op(6, S, "0:-2");
	blocked(6, S, 0, GETNCNT, 1);
	start_op(7, S, "0:-1");
	blocked(7, S, 0, GETNCNT, 2);
	rop(S, "0:+1", 0, 0);
	show(S, "after first +1");
	expect(7, 0, 0);
	still_waiting(6);
	rop(S, "0:+1", 0, 0);
	show(S, "after second +1");
	still_waiting(6);
	rop(S, "0:+1", 0, 0);
	show(S, "after third +1");
	expect(6, 0, 0);

	/* -3, -1, -2 waiting: +3 serves I alone, another +3 J and K */
	start_op(8, S, "0:-3");
	blocked(8, S, 0, GETNCNT, 1);
	start_op(9, S, "0:-1");
	blocked(9, S, 0, GETNCNT, 2);
	start_op(10, S, "0:-2");
	blocked(10, S, 0, GETNCNT, 3);
	rop(S, "0:+3", 0, 0);
	show(S, "after +3");
	expect(8, 0, 0);
	still_waiting(9);
	still_waiting(10);
	rop(S, "0:+3", 0, 0);
	show(S, "after +3");
	expect(9, 0, 0);
	expect(10, 0, 0);

	/* a newcomer that can proceed does, ahead of a sleeper */
	start_op(11, S, "0:-2");
	blocked(11, S, 0, GETNCNT, 1);
	rop(S, "0:+1", 0, 0);
	show(S, "L waiting for 2, 1 there");
	start_op(12, S, "0:-1");
	expect(12, 0, 0);
	still_waiting(11);
	rop(S, "0:+2", 0, 0);
	expect(11, 0, 0);
	show(S, "end");
	rmset(S);
}

/*
 * (3) Operations on several semaphores: all or nothing, nothing reserved
 * while sleeping, and GETNCNT following the operation that blocks.
 */
static void sc_multi(void)
{
	int S = mkset(3, "S");

	start_op(0, S, "0:-1 1:-1");
	blocked(0, S, 0, GETNCNT, 1);
	show(S, "A waiting on 0 and 1");
	rop(S, "1:+1", 0, 0);
	show(S, "1 raised");
	still_waiting(0);
	rop(S, "1:-1n", 0, 0);		/* A reserved nothing */
	rop(S, "0:+1", 0, 0);
	show(S, "0 raised");		/* A now blocks on 1 */
	still_waiting(0);
	rop(S, "0:-1n", 0, 0);
	show(S, "0 taken back");	/* and on 0 again */
	start_op(1, S, "0:-1");
	blocked(1, S, 0, GETNCNT, 2);
	show(S, "B waiting behind A");
	rop(S, "0:+1", 0, 0);
	show(S, "0 raised again");	/* B, behind A, gets it */
	expect(1, 0, 0);
	still_waiting(0);
	rop(S, "1:+1", 0, 0);
	show(S, "1 raised again");
	still_waiting(0);
	rop(S, "0:+1", 0, 0);
	show(S, "both up");
	expect(0, 0, 0);

	/* one call both raising and lowering */
	start_op(2, S, "0:-1 1:-1");
	blocked(2, S, 0, GETNCNT, 1);
	rop(S, "0:+1 1:+1 2:+1", 0, 0);
	show(S, "one semop raised all");
	expect(2, 0, 0);
	rop(S, "2:-1 0:+2 2:+1", 0, 0);
	rop(S, "0:-1 0:-1 0:-1n", -1, EAGAIN);
	show(S, "all or nothing");
	rop(S, "0:-1 0:-1", 0, 0);

	/* a wait-for-zero and a decrement in one array */
	setall(S, "0,0,1");
	start_op(3, S, "2:0 0:-1");
	blocked(3, S, 2, GETZCNT, 1);
	show(S, "D waiting for 2 to be 0 and 0 to be 1");
	rop(S, "0:+1", 0, 0);
	show(S, "0 raised");
	still_waiting(3);
	rop(S, "2:-1", 0, 0);
	show(S, "2 lowered");
	expect(3, 0, 0);
	rmset(S);
}

/*
 * (4) GETNCNT and GETZCNT count a sleeper on the semaphore of the first
 * operation that blocks, and IPC_NOWAIT is that operation's flag.
 */
static void sc_counts(void)
{
	int S = mkset(3, "S");

	setall(S, "0,0,1");
	start_op(0, S, "0:-1 1:-1 2:0");
	blocked(0, S, 0, GETNCNT, 1);
	show(S, "A");
	start_op(1, S, "2:0 0:-1");
	blocked(1, S, 2, GETZCNT, 1);
	show(S, "A B");
	start_op(2, S, "0:+1 1:-1");
	blocked(2, S, 1, GETNCNT, 1);
	show(S, "A B C");
	start_op(3, S, "1:-1n 0:-1");
	expect(3, -1, EAGAIN);
	start_op(4, S, "0:-1 1:-1n");
	blocked(4, S, 0, GETNCNT, 2);
	show(S, "A B C E");
	/* E now blocks on its IPC_NOWAIT operation: it fails with EAGAIN */
	rop(S, "0:+1", 0, 0);
	show(S, "0 raised");
	expect(4, -1, EAGAIN);
	still_waiting(0);
	still_waiting(1);
	still_waiting(2);
	setall(S, "1,2,0");
	show(S, "after SETALL 1,2,0");
	expect(0, 0, 0);
	expect(1, 0, 0);
	expect(2, 0, 0);

	/* the counts of simple waiters */
	setall(S, "0,0,1");
	start_op(5, S, "0:-1");
	blocked(5, S, 0, GETNCNT, 1);
	start_op(6, S, "0:-5");
	blocked(6, S, 0, GETNCNT, 2);
	start_op(7, S, "2:0");
	blocked(7, S, 2, GETZCNT, 1);
	start_op(8, S, "2:0 2:0");
	blocked(8, S, 2, GETZCNT, 2);
	start_op(9, S, "1:0");		/* 1 is 0: no wait */
	expect(9, 0, 0);
	show(S, "F G H I");
	rop(S, "2:-1 0:+6", 0, 0);
	show(S, "all served");
	expect(5, 0, 0);
	expect(6, 0, 0);
	expect(7, 0, 0);
	expect(8, 0, 0);
	rmset(S);
}

/* (5) A waiter killed or interrupted no longer counts, and gets nothing. */
static void sc_gone(void)
{
	int S = mkset(2, "S");

	setval(S, 1, 1);
	start_op(0, S, "0:-1");
	blocked(0, S, 0, GETNCNT, 1);
	start_op(1, S, "0:-1");
	blocked(1, S, 0, GETNCNT, 2);
	start_op(2, S, "1:0");
	blocked(2, S, 1, GETZCNT, 1);
	start_op(3, S, "1:0");
	blocked(3, S, 1, GETZCNT, 2);
	start_call(4, S, "0:-1", NOTMO, SIGH_SIGACTION);
	blocked(4, S, 0, GETNCNT, 3);
	start_call(5, S, "1:0", NOTMO, SIGH_SIGACTION);
	blocked(5, S, 1, GETZCNT, 3);
	start_op(6, S, "0:-1 1:0");
	blocked(6, S, 0, GETNCNT, 4);
	show(S, "all waiting");

	kill_worker(0, SIGKILL);
	reap(0);
	settle(S, 0, GETNCNT, 3, "A killed");
	kill_worker(2, SIGKILL);
	reap(2);
	settle(S, 1, GETZCNT, 2, "C killed");
	kill_worker(6, SIGKILL);
	reap(6);
	settle(S, 0, GETNCNT, 2, "G killed");
	kill_worker(4, SIGUSR1);
	expect(4, -1, EINTR);
	show(S, "E interrupted");
	kill_worker(5, SIGUSR1);
	expect(5, -1, EINTR);
	show(S, "F interrupted");
	start_call(7, S, "0:-1", 30 * MS, SIGH_NONE);
	expect(7, -1, EAGAIN);
	show(S, "H timed out");

	rop(S, "0:+1", 0, 0);
	show(S, "0 raised");		/* for B, not for the dead A */
	expect(1, 0, 0);
	rop(S, "1:-1", 0, 0);
	show(S, "1 lowered");
	expect(3, 0, 0);
	rmset(S);
}

/* (6) semtimedop: timeouts, and a wake in time. */
static void sc_timeout(void)
{
	int S = mkset(2, "S");

	start_call(0, S, "0:-1", 50 * MS, SIGH_NONE);
	expect(0, -1, EAGAIN);
	show(S, "A timed out");
	start_call(1, S, "0:-1", 0, SIGH_NONE);
	expect(1, -1, EAGAIN);
	setval(S, 1, 1);
	start_call(2, S, "1:0", 40 * MS, SIGH_NONE);
	expect(2, -1, EAGAIN);
	start_call(3, S, "0:-1 1:-1", 40 * MS, SIGH_NONE);
	expect(3, -1, EAGAIN);
	show(S, "all timed out");

	start_call(4, S, "0:-1", 20000 * MS, SIGH_NONE);
	blocked(4, S, 0, GETNCNT, 1);
	rop(S, "0:+1", 0, 0);
	expect(4, 0, 0);
	start_call(5, S, "1:0", 20000 * MS, SIGH_NONE);
	blocked(5, S, 1, GETZCNT, 1);
	rop(S, "1:-1", 0, 0);
	expect(5, 0, 0);
	show(S, "woken in time");

	/* a timeout does not matter when the operation can proceed */
	rop_t(S, "0:+1", 0, 0, 0);
	rop_t(S, "0:-1", 1 * MS, 0, 0);
	/* IPC_NOWAIT wins over a timeout */
	rop_t(S, "0:-1n", 20000 * MS, -1, EAGAIN);
	/* an invalid timespec is EINVAL, even for an operation that can go */
	rop_t(S, "0:+1", TMO_BAD_NSEC, -1, EINVAL);
	rop_t(S, "0:+1", TMO_NEG_SEC, -1, EINVAL);
	show(S, "end");
	rmset(S);
}

/* A thread of worker process G waiting, for sc_rmid. */
static int wk_rmid_thread(struct slot *s)
{
	pthread_t t;

	if (w_thread(&t, 8, th_call) == 0)
		pthread_join(t, NULL);
	w_note(s, "joined");
	return 0;
}

/* (7) IPC_RMID wakes every waiter with EIDRM. */
static void sc_rmid(void)
{
	int S = mkset(3, "S"), S2 = mkset(1, "S2");
	struct slot *t;

	setval(S, 2, 1);
	start_op(0, S, "0:-1");
	blocked(0, S, 0, GETNCNT, 1);
	start_op(1, S, "1:-3");
	blocked(1, S, 1, GETNCNT, 1);
	start_op(2, S, "2:0");
	blocked(2, S, 2, GETZCNT, 1);
	start_op(3, S, "0:-1 1:-1");
	blocked(3, S, 0, GETNCNT, 2);
	start_op(4, S, "2:0 1:-1");
	blocked(4, S, 2, GETZCNT, 2);
	start_call(5, S, "1:-1", 20000 * MS, SIGH_NONE);
	blocked(5, S, 1, GETNCNT, 2);
	start_op(6, S2, "0:-1");	/* another set: not disturbed */
	blocked(6, S2, 0, GETNCNT, 1);
	t = prep_thread(8, 7);
	t->semid[0] = S;
	snprintf(t->spec, sizeof(t->spec), "0:-1");
	prep(7);
	spawn(7, wk_rmid_thread, "thread I.t: semop S 0:-1");
	blocked(8, S, 0, GETNCNT, 3);
	show(S, "all waiting");

	rmset(S);
	for (int i = 0; i <= 5; i++)
		expect(i, -1, EIDRM);
	expect(8, -1, EIDRM);
	expect(7, 0, 0);
	still_waiting(6);

	/* the id is stale now: EINVAL */
	rop(S, "0:+1", -1, EINVAL);
	start_op(9, S, "0:-1");
	expect(9, -1, EINVAL);
	CHECK_ERR(O->ctl(S, 0, GETVAL), EINVAL);
	CHECK_ERR(O->ctl(S, 0, IPC_RMID), EINVAL);
	rop(S2, "0:+1", 0, 0);
	expect(6, 0, 0);
	rmset(S2);
}

/* (8) EINTR after a handler ran, SA_RESTART or not; never restarted. */
static void sc_eintr(void)
{
	int S = mkset(2, "S");
	static const int how[2] = { SIGH_SIGNAL, SIGH_SIGACTION };

	setval(S, 1, 1);
	for (int k = 0; k < 2; k++) {
		int a = 3 * k, z = 3 * k + 1, t = 3 * k + 2;

		start_call(a, S, "0:-1", NOTMO, how[k]);
		blocked(a, S, 0, GETNCNT, 1);
		CHECK_EQ(SH->slot[a].restart, k == 0);
		note("%s SA_RESTART=%d", SH->slot[a].name,
		     SH->slot[a].restart);
		kill_worker(a, SIGUSR1);
		expect(a, -1, EINTR);
		CHECK_EQ(handler_of(a), 1);
		show(S, "after EINTR");
		rop(S, "0:+1", 0, 0);
		show(S, "nobody took it");
		rop(S, "0:-1", 0, 0);

		start_call(z, S, "1:0", NOTMO, how[k]);
		blocked(z, S, 1, GETZCNT, 1);
		kill_worker(z, SIGUSR1);
		expect(z, -1, EINTR);
		CHECK_EQ(handler_of(z), 1);

		start_call(t, S, "0:-1", 20000 * MS, how[k]);
		blocked(t, S, 0, GETNCNT, 1);
		kill_worker(t, SIGUSR1);
		expect(t, -1, EINTR);
		CHECK_EQ(handler_of(t), 1);
		show(S, "after EINTRs");
	}

	/* ignored and blocked signals interrupt nothing */
	start_call(6, S, "0:-1", NOTMO, SIGH_IGNORE);
	blocked(6, S, 0, GETNCNT, 1);
	start_call(7, S, "0:-1", NOTMO, SIGH_MASK);
	blocked(7, S, 0, GETNCNT, 2);
	kill_worker(6, SIGUSR2);
	kill_worker(6, SIGWINCH);	/* ignored by default */
	kill_worker(7, SIGUSR1);
	kill_worker(7, SIGCHLD);
	still_waiting(6);
	still_waiting(7);
	show(S, "G and H still waiting");
	rop(S, "0:+2", 0, 0);
	expect(6, 0, 0);
	expect(7, 0, 0);
	CHECK_EQ(handler_of(7), 0);

	/* the interrupted waiter leaves the line; the others keep order */
	start_op(8, S, "0:-1");
	blocked(8, S, 0, GETNCNT, 1);
	start_call(9, S, "0:-1", NOTMO, SIGH_SIGACTION);
	blocked(9, S, 0, GETNCNT, 2);
	start_op(10, S, "0:-1");
	blocked(10, S, 0, GETNCNT, 3);
	kill_worker(9, SIGUSR1);
	expect(9, -1, EINTR);
	show(S, "J interrupted");
	rop(S, "0:+1", 0, 0);
	expect(8, 0, 0);
	still_waiting(10);
	rop(S, "0:+1", 0, 0);
	expect(10, 0, 0);
	show(S, "end");
	rmset(S);
}

/* A waiter that waits again after EINTR, as programs do. */
static int wk_retry(struct slot *s)
{
	for (int i = 0; i < 4; i++)
		if (w_op(s, s->semid[0], s->spec) == 0 || errno != EINTR)
			break;
	return 0;
}

/*
 * (9) SIGSTOP/SIGCONT: the kernel takes a stopped waiter off the waiters
 * (GETNCNT drops; an increment meanwhile stays in the value), and its semop
 * fails with EINTR after SIGCONT, no handler involved.  Waiting again, it
 * gets its semaphore.
 */
static void sc_stop(void)
{
	int S = mkset(1, "S");
	struct slot *s;

	s = prep(0);
	s->semid[0] = S;
	snprintf(s->spec, sizeof(s->spec), "0:-1");
	spawn(0, wk_retry, "semop S 0:-1 until not EINTR");
	blocked(0, S, 0, GETNCNT, 1);
	kill_worker(0, SIGSTOP);
	wait_state(0, "Tt", "stopped");
	show(S, "A stopped");
	kill_worker(0, SIGCONT);
	expect(0, -1, EINTR);
	blocked(0, S, 0, GETNCNT, 1);
	rop(S, "0:+1", 0, 0);
	expect(0, 0, 0);
	show(S, "A served");

	/* an increment while the waiter is stopped */
	s = prep(1);
	s->semid[0] = S;
	snprintf(s->spec, sizeof(s->spec), "0:-1");
	spawn(1, wk_retry, "semop S 0:-1 until not EINTR");
	blocked(1, S, 0, GETNCNT, 1);
	kill_worker(1, SIGSTOP);
	wait_state(1, "Tt", "stopped");
	rop(S, "0:+1", 0, 0);
	show(S, "B stopped, +1");
	still_waiting(1);
	kill_worker(1, SIGCONT);
	expect(1, -1, EINTR);
	expect(1, 0, 0);
	show(S, "B served");

	/* a waiter behind a stopped one */
	s = prep(2);
	s->semid[0] = S;
	snprintf(s->spec, sizeof(s->spec), "0:-1");
	spawn(2, wk_retry, "semop S 0:-1 until not EINTR");
	blocked(2, S, 0, GETNCNT, 1);
	start_op(3, S, "0:-1");
	blocked(3, S, 0, GETNCNT, 2);
	kill_worker(2, SIGSTOP);
	wait_state(2, "Tt", "stopped");
	rop(S, "0:+1", 0, 0);
	show(S, "C stopped, +1");
	expect(3, 0, 0);
	kill_worker(2, SIGCONT);
	expect(2, -1, EINTR);
	blocked(2, S, 0, GETNCNT, 1);
	rop(S, "0:+1", 0, 0);
	expect(2, 0, 0);
	show(S, "end");
	rmset(S);
}

/*
 * The worker process of sc_threads: thread B.t (slot 1) waits on 0, the
 * main thread on 1; then thread C.t (slot 2) on 0 and thread D.t (slot 3)
 * on 0 with the main thread on 1 again.
 */
static int wk_threads(struct slot *s)
{
	pthread_t t1, t2, t3;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	if (w_thread(&t1, 1, th_call) != 0)
		return 1;
	w_wait_cmd(s, 1);
	w_op(s, s->semid[0], "1:-1");
	pthread_join(t1, NULL);
	w_note(s, "joined B.t");

	w_wait_cmd(s, 2);
	if (w_thread(&t2, 2, th_call) != 0)
		return 1;
	w_wait_cmd(s, 3);
	if (w_thread(&t3, 3, th_call) != 0)
		return 1;
	w_wait_cmd(s, 4);
	w_op(s, s->semid[0], "1:-1");
	pthread_join(t2, NULL);
	pthread_join(t3, NULL);
	w_note(s, "joined C.t and D.t");
	return 0;
}

/*
 * (10) Waiters in threads of a multi-threaded process: woken individually,
 * FIFO between threads, sempid is the process id, and a signal aimed at one
 * thread interrupts that thread's call only.
 */
static void sc_threads(void)
{
	int S = mkset(2, "S");
	struct slot *t;
	const char *tspec[4] = { NULL, "0:-1", "0:-1", "0:-1" };

	for (int j = 1; j <= 3; j++) {
		t = prep_thread(j, 0);
		t->semid[0] = S;
		snprintf(t->spec, sizeof(t->spec), "%s", tspec[j]);
	}
	t = prep(0);
	t->semid[0] = S;
	spawn(0, wk_threads, "threads");
	blocked(1, S, 0, GETNCNT, 1);
	tell(0);
	blocked(0, S, 1, GETNCNT, 1);
	show(S, "B.t and A waiting");
	rop(S, "1:+1", 0, 0);
	show(S, "after 1:+1");
	expect(0, 0, 0);
	still_waiting(1);
	rop(S, "0:+1", 0, 0);
	show(S, "after 0:+1");		/* sempid: A, not B.t's tid */
	expect(1, 0, 0);
	expect(0, 0, 0);		/* joined */

	tell(0);
	blocked(2, S, 0, GETNCNT, 1);
	tell(0);
	blocked(3, S, 0, GETNCNT, 2);
	tell(0);
	blocked(0, S, 1, GETNCNT, 1);
	show(S, "C.t D.t and A waiting");
	if (SH->slot[2].tid > 0)
		syscall(SYS_tgkill, (int)SH->slot[0].pid,
			(int)SH->slot[2].tid, SIGUSR1);
	note("runner: SIGUSR1 to thread C.t");
	expect(2, -1, EINTR);
	show(S, "C.t interrupted");
	still_waiting(3);
	still_waiting(0);
	rop(S, "0:+1", 0, 0);
	expect(3, 0, 0);
	rop(S, "1:+1", 0, 0);
	expect(0, 0, 0);
	expect(0, 0, 0);		/* joined */
	reap(0);
	show(S, "end");
	rmset(S);
}

/* A thread that waits on semaphore 8, for the END_THREAD case of sc_ends. */
static int wk_end_with_thread(struct slot *s)
{
	pthread_t t;

	if (w_thread(&t, 10, th_call) != 0)
		return 1;
	w_wait_cmd(s, 1);
	w_op(s, s->semid[0], s->spec);
	w_wait_cmd(s, 2);
	exit(0);
}

/*
 * (11) SEM_UNDO adjustments are applied at exit, however the process ends;
 * sempid then names the process.
 */
static void sc_ends(void)
{
	static const struct {
		int end;
		const char *spec;
		const char *what;
	} way[] = {
		{ END_EXIT, "0:+2u", "exit(0)" },
		{ END_RETURN, "1:+2u", "return from main" },
		{ END__EXIT, "2:+2u", "_exit(0)" },
		{ END_ABORT, "3:+2u", "abort()" },
		{ END_SEGV, "4:+2u", "SIGSEGV" },
		{ END_WAIT, "5:+2u", "SIGKILL" },
		{ END_WAIT, "6:-2u|8:-1", "SIGKILL while in semop" },
	};
	int S = mkset(9, "S");
	char label[64];
	struct slot *t;

	setall(S, "5,5,5,5,5,5,5,5,0");
	for (int i = 0; i < (int)(sizeof(way) / sizeof(way[0])); i++) {
		start_script(i, S, S, way[i].spec, way[i].end);
		expect(i, 0, 0);
		/* sempid: the runner's, until the exit */
		snprintf(label, sizeof(label), "%d:+1", i);
		rop(S, label, 0, 0);
		snprintf(label, sizeof(label), "%d:-1", i);
		rop(S, label, 0, 0);
		show(S, "holding");
		if (i == 6) {
			tell(i);
			blocked(i, S, 8, GETNCNT, 1);
			kill_worker(i, SIGKILL);
		} else if (way[i].end == END_WAIT) {
			kill_worker(i, SIGKILL);
		} else {
			tell(i);
		}
		reap(i);
		snprintf(label, sizeof(label), "after %s", way[i].what);
		settle(S, i, GETVAL, 5, label);
		if (i == 6)
			settle(S, 8, GETNCNT, 0, "no waiter left");
	}

	/* exit(0) while another thread sleeps in semop */
	t = prep_thread(10, 7);
	t->semid[0] = S;
	snprintf(t->spec, sizeof(t->spec), "8:-1");
	t = prep(7);
	t->semid[0] = S;
	snprintf(t->spec, sizeof(t->spec), "7:+2u");
	spawn(7, wk_end_with_thread, "thread K.t on 8, then 7:+2u, exit");
	blocked(10, S, 8, GETNCNT, 1);
	tell(7);
	expect(7, 0, 0);
	show(S, "holding");
	tell(7);
	reap(7);
	settle(S, 7, GETVAL, 5, "after exit with a thread in semop");
	settle(S, 8, GETNCNT, 0, "no waiter left");
	rmset(S);
}

/*
 * (12) The adjustment is clamped to 0..32767; it must stay in
 * -32768..32767; sleepers it makes runnable proceed.
 */
static void sc_clamp(void)
{
	int S = mkset(5, "S");

	start_script(0, S, S, "0:+5u", END_EXIT);
	expect(0, 0, 0);
	rop(S, "0:-4", 0, 0);
	show(S, "A +5u, runner -4");
	tell(0);
	reap(0);
	settle(S, 0, GETVAL, 0, "clamped to 0");

	setval(S, 1, 10);
	start_script(1, S, S, "1:-5u", END_EXIT);
	expect(1, 0, 0);
	rop(S, "1:+32760", 0, 0);
	show(S, "B -5u, runner +32760");
	tell(1);
	reap(1);
	settle(S, 1, GETVAL, 32767, "clamped to 32767");

	/* the range of an adjustment */
	start_script(2, S, S, "2:+32767u|2:+1u|2:+1u|2:+1|2:-1u", END_EXIT);
	expect(2, 0, 0);
	rop(S, "2:-32767", 0, 0);
	tell(2);
	expect(2, 0, 0);		/* adjustment -32768 */
	rop(S, "2:-1", 0, 0);
	tell(2);
	expect(2, -1, ERANGE);		/* would be -32769 */
	tell(2);
	expect(2, 0, 0);		/* without SEM_UNDO */
	tell(2);
	expect(2, 0, 0);		/* -1u: adjustment -32767 */
	show(S, "C adjustment -32767");
	rop(S, "2:+5", 0, 0);
	tell(2);
	reap(2);
	settle(S, 2, GETVAL, 0, "clamped to 0");

	/* a sleeper made runnable by the undo */
	setval(S, 3, 1);
	start_script(3, S, S, "3:-1u", END_WAIT);
	expect(3, 0, 0);
	start_op(4, S, "3:-1");
	blocked(4, S, 3, GETNCNT, 1);
	start_op(5, S, "3:-2");
	blocked(5, S, 3, GETNCNT, 2);
	show(S, "D holds, E and F wait");
	kill_worker(3, SIGKILL);
	reap(3);
	expect(4, 0, 0);
	settle(S, 3, GETNCNT, 1, "E got it");
	still_waiting(5);
	rop(S, "3:+2", 0, 0);
	expect(5, 0, 0);

	/* and a wait-for-zero */
	start_script(6, S, S, "4:+1u", END_EXIT);
	expect(6, 0, 0);
	start_op(7, S, "4:0");
	blocked(7, S, 4, GETZCNT, 1);
	tell(6);
	reap(6);
	expect(7, 0, 0);
	settle(S, 4, GETZCNT, 0, "H released");
	rmset(S);
}

/*
 * (13) A sleeper's SEM_UNDO operation, performed by the process that wakes
 * it, is the sleeper's adjustment, not the waker's.
 */
static void sc_undo_sleeper(void)
{
	int S = mkset(1, "S");

	start_script(0, S, S, "0:-2u", END_EXIT);
	blocked(0, S, 0, GETNCNT, 1);
	start_script(1, S, S, "0:+3", END_EXIT);
	expect(1, 0, 0);
	show(S, "B woke A");
	expect(0, 0, 0);
	tell(1);
	reap(1);
	settle(S, 0, GETVAL, 1, "waker B exited");
	tell(0);
	reap(0);
	settle(S, 0, GETVAL, 3, "sleeper A exited");

	/* the same with an adjustment of the waker's own */
	start_script(2, S, S, "0:-4u", END_EXIT);
	blocked(2, S, 0, GETNCNT, 1);
	start_script(3, S, S, "0:+2u", END_EXIT);
	expect(3, 0, 0);
	show(S, "D woke C");
	expect(2, 0, 0);
	tell(3);
	reap(3);
	settle(S, 0, GETVAL, 0, "waker D exited");
	tell(2);
	reap(2);
	settle(S, 0, GETVAL, 4, "sleeper C exited");

	/* and by the runner, which stays */
	start_script(4, S, S, "0:-5u", END_EXIT);
	blocked(4, S, 0, GETNCNT, 1);
	rop(S, "0:+1", 0, 0);
	show(S, "runner woke E");
	expect(4, 0, 0);
	tell(4);
	reap(4);
	settle(S, 0, GETVAL, 5, "sleeper E exited");
	rmset(S);
}

/* The parent half of sc_fork: fork a child (slot 1) that runs a script. */
static int wk_fork(struct slot *s)
{
	struct slot *c = &SH->slot[1];
	int status = 0;
	pid_t p;
	char what[64];

	w_op(s, s->semid[0], "0:+1u");
	w_wait_cmd(s, 1);
	fflush(NULL);
	p = fork();
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c->pid = c->tid = getpid();
		w_op(c, s->semid[0], "1:+1u");
		w_wait_cmd(c, 1);
		exit(0);
	}
	c->pid = c->tid = p;
	w_note(s, "forked B");
	waitpid(p, &status, 0);
	snprintf(what, sizeof(what), "B exited %d",
		 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	w_note(s, what);
	w_wait_cmd(s, 2);
	exit(0);
}

/*
 * (14) A fork child does not inherit its parent's adjustments; it has its
 * own.
 */
static void sc_fork(void)
{
	int S = mkset(2, "S");
	struct slot *s;

	setall(S, "5,0");
	prep(1);
	s = prep(0);
	s->semid[0] = S;
	spawn(0, wk_fork, "0:+1u, fork B: 1:+1u, exit");
	expect(0, 0, 0);
	tell(0);
	expect(0, 0, 0);		/* forked */
	expect(1, 0, 0);		/* B's own 1:+1u */
	show(S, "A and B hold");
	tell(1);
	expect(0, 0, 0);		/* B exited */
	settle(S, 1, GETVAL, 0, "B's own undo");
	settle(S, 0, GETVAL, 6, "A's adjustment not B's");
	tell(0);
	reap(0);
	settle(S, 0, GETVAL, 5, "A exited");
	rmset(S);
}

static int exec_in[2], exec_seen[2];

/* sc_exec's worker: 0:+2u, then exec cat reading the runner's pipe. */
static int wk_exec(struct slot *s)
{
	int e, fd;

	w_op(s, s->semid[0], "0:+2u");
	w_note(s, "exec /bin/cat");
	fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || dup2(exec_in[0], 0) < 0 || dup2(fd, 1) < 0)
		_exit(126);
	execl("/bin/cat", "cat", (char *)NULL);
	e = errno;
	if (write(exec_seen[1], &e, sizeof(e)) < 0)
		_exit(125);
	_exit(127);
}

/*
 * (15) Adjustments survive execve: they are applied when the program the
 * process exec'd exits.
 */
static void sc_exec(void)
{
	int S = mkset(1, "S"), e = 0;
	struct pollfd pfd;
	struct slot *s;
	ssize_t n;

	if (pipe2(exec_in, O_CLOEXEC) != 0 ||
	    pipe2(exec_seen, O_CLOEXEC) != 0) {
		T_FAIL("pipe: %s", strerror(errno));
		rmset(S);
		return;
	}
	s = prep(0);
	s->semid[0] = S;
	spawn(0, wk_exec, "0:+2u, exec cat");
	close(exec_in[0]);
	close(exec_seen[1]);
	expect(0, 0, 0);
	expect(0, 0, 0);
	/* the close-on-exec pipe reads EOF when the exec is done */
	pfd.fd = exec_seen[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, (int)(poll_bound * 1000)) != 1)
		T_FAIL("no sign of the exec");
	n = read(exec_seen[0], &e, sizeof(e));
	note("runner: exec %s", n == 0 ? "done" : "failed");
	if (n != 0)
		T_FAIL("exec /bin/cat failed: %s", strerror(e));
	settle(S, 0, GETVAL, 2, "cat running");
	close(exec_in[1]);		/* cat reads EOF and exits */
	note("runner: closed cat's input");
	reap(0);
	settle(S, 0, GETVAL, 0, "cat exited");
	close(exec_seen[0]);
	rmset(S);
}

/* A thread that does 0:+3u and exits, for sc_thread_exit. */
static void *th_undo(void *arg)
{
	struct slot *s = arg;

	s->tid = my_tid();
	w_op(s, s->semid[0], "0:+3u");
	return NULL;
}

/* A thread that ends the process when told, for sc_thread_exit. */
static void *th_exit_later(void *arg)
{
	struct slot *s = arg;

	s->tid = my_tid();
	w_note(s, "started");
	w_wait_cmd(s, 1);
	exit(0);
}

static int wk_thread_exit(struct slot *s)
{
	pthread_t t;

	if (w_thread(&t, 1, th_undo) != 0)
		return 1;
	pthread_join(t, NULL);
	w_note(s, "joined B.t");
	w_wait_cmd(s, 1);
	w_op(s, s->semid[0], "1:+1u");
	if (w_thread(&t, 2, th_exit_later) != 0)
		return 1;
	w_wait_cmd(s, 2);
	w_note(s, "main thread exits");
	pthread_exit(NULL);
}

/*
 * (16) The adjustments belong to the process: a thread that made them and
 * exits leaves them; so does the main thread exiting alone; they are
 * applied when the last thread exits.
 */
static void sc_thread_exit(void)
{
	int S = mkset(2, "S");
	struct slot *s;

	prep_thread(1, 0);
	prep_thread(2, 0);
	s = prep(0);
	s->semid[0] = S;
	SH->slot[1].semid[0] = S;
	spawn(0, wk_thread_exit, "thread B.t 0:+3u exits; 1:+1u; main exits");
	expect(1, 0, 0);
	expect(0, 0, 0);		/* joined */
	settle(S, 0, GETVAL, 3, "B.t gone");
	tell(0);
	expect(0, 0, 0);		/* 1:+1u */
	expect(2, 0, 0);		/* C.t started */
	tell(0);
	expect(0, 0, 0);		/* main thread exits */
	wait_state(0, "Z", "main thread gone");
	settle(S, 1, GETVAL, 1, "main thread gone, C.t alive");
	settle(S, 0, GETVAL, 3, "main thread gone, C.t alive");
	tell(2);
	reap(0);
	settle(S, 0, GETVAL, 0, "process gone");
	settle(S, 1, GETVAL, 0, "process gone");
	rmset(S);
}

/*
 * (17) SETVAL clears every process's adjustment of that semaphore, SETALL of
 * all; both wake the waiters the new values let through.
 */
static void sc_setval(void)
{
	int S = mkset(2, "S");

	start_script(0, S, S, "0:+2u 1:+3u", END_EXIT);
	expect(0, 0, 0);
	start_script(1, S, S, "0:+1u", END_EXIT);
	expect(1, 0, 0);
	setval(S, 0, 10);
	tell(0);
	reap(0);
	settle(S, 1, GETVAL, 0, "A exited after SETVAL 0");
	tell(1);
	reap(1);
	settle(S, 0, GETVAL, 10, "B exited after SETVAL 0");

	start_script(2, S, S, "0:+1u 1:+1u", END_EXIT);
	expect(2, 0, 0);
	setall(S, "4,4");
	tell(2);
	reap(2);
	settle(S, 0, GETVAL, 4, "C exited after SETALL");

	/* only the adjustments made after SETVAL remain */
	start_script(3, S, S, "0:+1u|0:+2u", END_EXIT);
	expect(3, 0, 0);
	setval(S, 0, 3);
	tell(3);
	expect(3, 0, 0);
	show(S, "D made +1u, SETVAL 3, +2u");
	tell(3);
	reap(3);
	settle(S, 0, GETVAL, 3, "D exited");

	/* SETVAL and SETALL wake waiters */
	start_op(4, S, "0:-5");
	blocked(4, S, 0, GETNCNT, 1);
	setval(S, 0, 5);
	show(S, "after SETVAL 5");
	expect(4, 0, 0);
	start_op(5, S, "1:0");
	blocked(5, S, 1, GETZCNT, 1);
	start_op(6, S, "0:-1");
	blocked(6, S, 0, GETNCNT, 1);
	setall(S, "1,0");
	show(S, "after SETALL 1,0");
	expect(5, 0, 0);
	expect(6, 0, 0);
	start_op(7, S, "1:0");		/* 1 is 0: no wait */
	expect(7, 0, 0);
	setval(S, 1, 2);
	start_op(8, S, "1:0");
	blocked(8, S, 1, GETZCNT, 1);
	setval(S, 1, 0);
	show(S, "after SETVAL 0");
	expect(8, 0, 0);
	rmset(S);
}

/*
 * (18) IPC_RMID drops the adjustments of the removed set: a process holding
 * some exits cleanly, and they reach no other set (not even one created
 * since); its adjustments of other sets still apply.
 */
static void sc_rmid_undo(void)
{
	int S = mkset(2, "S"), S2 = mkset(1, "S2"), S3;

	setval(S, 1, 3);
	start_script(0, S, S2, "0:+2u 1:-1u|@1 0:+1u|0:+1u|0:-5", END_EXIT);
	expect(0, 0, 0);
	tell(0);
	expect(0, 0, 0);
	show(S, "A holds");
	show(S2, "A holds");
	rmset(S);
	tell(0);
	expect(0, -1, EINVAL);		/* stale id */
	S3 = mkset(2, "S3");
	setall(S3, "5,5");
	tell(0);
	expect(0, -1, EINVAL);
	tell(0);
	reap(0);
	settle(S2, 0, GETVAL, 0, "A exited");
	settle(S3, 0, GETVAL, 5, "A exited");

	/* a holder sleeping on the set when it is removed */
	start_script(1, S3, S3, "0:+1u 1:-1u|0:-9", END_EXIT);
	expect(1, 0, 0);
	tell(1);
	blocked(1, S3, 0, GETNCNT, 1);
	rmset(S3);
	expect(1, -1, EIDRM);
	tell(1);
	reap(1);
	rop(S2, "0:+1", 0, 0);
	show(S2, "S2 still fine");
	rmset(S2);
}

/* ==== driver ==== */

static const struct scenario scenarios[] = {
	{ "wake", sc_wake },
	{ "fifo_first_fit", sc_fifo },
	{ "multi_semaphore", sc_multi },
	{ "counts_first_blocking", sc_counts },
	{ "killed_interrupted_waiters", sc_gone },
	{ "semtimedop", sc_timeout },
	{ "rmid_wakes_all", sc_rmid },
	{ "eintr", sc_eintr },
	{ "stop_cont", sc_stop },
	{ "threads", sc_threads },
	{ "undo_at_exit", sc_ends },
	{ "undo_clamp", sc_clamp },
	{ "undo_of_sleeper", sc_undo_sleeper },
	{ "undo_fork", sc_fork },
	{ "undo_exec", sc_exec },
	{ "undo_thread_exit", sc_thread_exit },
	{ "undo_setval_setall", sc_setval },
	{ "undo_rmid", sc_rmid_undo },
};

static const struct block_test test = {
	scenarios, sizeof(scenarios) / sizeof(scenarios[0]),
	&kernel_ops, &uipc_ops, "sets",
	/*
	 * A known difference (README): Linux takes a sleeper that is stopped
	 * off the waiters and fails its semop with EINTR after SIGCONT;
	 * uipc's sleeper keeps its place.  Runs with UIPC_BLOCK_ALL=1 or when
	 * named.
	 */
	"stop_cont", "UIPC_BLOCK_ALL",
	NULL, kill_workers,
};

int main(int argc, char **argv)
{
	return run_scenarios(&test, parse_options(argc, argv));
}
