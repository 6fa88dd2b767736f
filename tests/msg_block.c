/*
 * msg_block.c - blocking message-queue operations across processes and
 * threads, differential against the kernel.
 *
 * Each scenario is a function written against an ops table {get,snd,rcv,ctl}
 * and runs twice, each time in a fresh "runner" child: once with the kernel's
 * msgget/msgsnd/msgrcv/msgctl in a runner that called unshare(CLONE_NEWIPC),
 * once with uipc_*.  The runner starts workers (forked processes, or threads)
 * that make one call each and report ret/errno/message in a shared-memory
 * slot.  Orders are made deterministic by starting waiters one at a time and
 * waiting until each is really asleep in the call: state 'S' in
 * /proc/<pid>/task/<tid>/stat and a wchan naming the sleep (do_msgrcv or
 * do_msgsnd for the kernel, a futex wait for uipc).
 *
 * The runner CHECKs exact results (return values, errno, message type and
 * bytes, msg_qnum/msg_cbytes/msg_lspid/msg_lrpid) and also writes a
 * transcript of everything it observed, with pids as symbolic names ("runner",
 * "w3", "w3.thread"); the uipc transcript must equal the kernel's line by
 * line.  Only deterministic facts go into a transcript: where the kernel leaves
 * an order to the scheduler (several blocked senders woken at once race for
 * the queue; receivers woken by IPC_SET re-queue in any order) the scenario
 * records what is certain (how many proceeded, the set of messages).
 *
 * Kernel facts these scenarios pin down (ipc/msg.c): a sent message goes to the
 * first waiting receiver whose type matches (FIFO); a waiting receiver whose
 * buffer is too small (no MSG_NOERROR) is woken with E2BIG and the message
 * goes on to the next waiter or to the queue; a blocked sender proceeds as
 * soon as its own message fits, even ahead of an earlier blocked sender whose
 * message does not; msg_lrpid after a direct hand-off is the receiving
 * thread's id (task_pid), after a dequeue the receiver's process id; msgrcv and
 * msgsnd fail with EINTR after a signal handler ran, SA_RESTART or not, and
 * resume transparently after SIGSTOP/SIGCONT, but while stopped a process is
 * not among the waiters (the next waiter gets the message or the room); a
 * waiter killed by SIGKILL leaves no trace.
 *
 * "msg_block -v" prints every transcript on stderr; "msg_block [-v] NAME"
 * runs the scenarios whose name contains NAME.
 *
 * Nothing can hang: every poll has a deadline, the runner and every worker
 * have an alarm(), workers die with their runner (PR_SET_PDEATHSIG), the
 * parent kills a runner that overstays, and every child is killed and reaped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uipc.h"
#include "t.h"

/* What a sleeping uipc caller shows in /proc/<tid>/wchan. */
#ifndef UIPC_WCHAN
#define UIPC_WCHAN "futex"
#endif

#define NSLOT 16
#define MAXTEXT 128
#define LOGSZ 16384

struct ops {
	const char *name;
	int kernel;			/* run in a new kernel IPC namespace */
	const char *wchan_rcv, *wchan_snd;	/* sleep of a blocked call */
	int (*get)(key_t, int);
	int (*snd)(int, const void *, size_t, int);
	ssize_t (*rcv)(int, void *, size_t, long, int);
	int (*ctl)(int, int, struct msqid_ds *);
};

static const struct ops kernel_ops = {
	"kernel", 1, "msgrcv", "msgsnd", msgget, msgsnd, msgrcv, msgctl,
};
static const struct ops uipc_ops = {
	"uipc", 0, UIPC_WCHAN, UIPC_WCHAN,
	uipc_msgget, uipc_msgsnd, uipc_msgrcv, uipc_msgctl,
};

enum { OP_RCV = 1, OP_SND };
enum { ST_NEW, ST_CALLING, ST_DONE };

/* One worker: the request (set by the runner), then the result. */
struct slot {
	int op, qid, flags, sig;	/* sig: SIGH_* */
	long type;		/* mtype to send, or msgtyp to receive */
	size_t size;		/* bytes to send, or receive buffer size */
	int state;		/* ST_*, accessed with __atomic */
	int is_thread;
	pid_t pid, tid;
	long ret;
	int err;
	long rtype;
	char rtext[MAXTEXT];
	int handler_runs;
	int restart;		/* SA_RESTART in the handler installed */
};

/* Shared by the parent, the runner and the workers (MAP_SHARED). */
struct shared {
	struct slot slot[NSLOT];
	int overflow;
	size_t loglen;
	char log[LOGSZ];
};

struct mbuf {
	long mtype;
	char mtext[MAXTEXT];
};

#include "block.h"

/*
 * Slots of senders that race (bit i: worker i): which of them sends last is
 * up to the scheduler, so a msg_lspid naming one of them is written "racer".
 */
static unsigned racers;
static pthread_t threads[NSLOT];
static int thread_started[NSLOT];

/* The bytes of a message of type t: i-th byte. */
static char pat(long t, size_t i)
{
	return (char)('a' + (unsigned long)(t * 7 + (long)i) % 26);
}

static void fill(char *p, long t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(t, i);
}

static int text_ok(const char *p, long t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(t, i))
			return 0;
	return 1;
}

/* ---- transcript ---- */

/* A pid as a name that is the same in every run. */
static const char *pidname(pid_t p, char *buf, size_t n)
{
	if (p == 0)
		return "0";
	if (p == runner_pid)
		return "runner";
	for (int i = 0; i < NSLOT; i++)
		if (SH->slot[i].tid == p && (racers & 1u << i))
			return "racer";
	for (int i = 0; i < NSLOT; i++)
		if (SH->slot[i].tid == p) {
			snprintf(buf, n, "w%d%s", i,
				 SH->slot[i].is_thread ? ".thread" : "");
			return buf;
		}
	return "other";
}

/* ---- queue helpers (runner) ---- */

/*
 * A new private queue.  Its msg_qbytes is set explicitly: the default
 * (msgmnb) of a new kernel IPC namespace need not be the one uipc follows.
 */
static int mkq(void)
{
	int q = O->get(IPC_PRIVATE, IPC_CREAT | 0600);
	struct msqid_ds ds;

	if (q < 0) {
		T_FAIL("msgget: %s", strerror(errno));
		return q;
	}
	if (O->ctl(q, IPC_STAT, &ds) != 0)
		T_FAIL("IPC_STAT: %s", strerror(errno));
	ds.msg_qbytes = 4096;
	if (O->ctl(q, IPC_SET, &ds) != 0)
		T_FAIL("IPC_SET: %s", strerror(errno));
	return q;
}

static void set_qbytes(int q, unsigned long n)
{
	struct msqid_ds ds;

	CHECK_EQ(O->ctl(q, IPC_STAT, &ds), 0);
	ds.msg_qbytes = n;
	CHECK_EQ(O->ctl(q, IPC_SET, &ds), 0);
	note("set qbytes %lu", n);
}

static void rmq(int q)
{
	CHECK_EQ(O->ctl(q, IPC_RMID, NULL), 0);
}

/* IPC_STAT, noted, and checked against qnum and cbytes. */
static struct msqid_ds qstat(int q, const char *what, long qnum, long cbytes)
{
	struct msqid_ds ds;
	char a[32], b[32];

	memset(&ds, 0, sizeof(ds));
	if (O->ctl(q, IPC_STAT, &ds) != 0) {
		T_FAIL("IPC_STAT (%s): %s", what, strerror(errno));
		note("stat %s: error %d", what, errno);
		return ds;
	}
	note("stat %s: qnum=%lu cbytes=%lu qbytes=%lu lspid=%s lrpid=%s "
	     "stime=%s rtime=%s", what, (unsigned long)ds.msg_qnum,
	     (unsigned long)ds.msg_cbytes, (unsigned long)ds.msg_qbytes,
	     pidname(ds.msg_lspid, a, sizeof(a)),
	     pidname(ds.msg_lrpid, b, sizeof(b)),
	     ds.msg_stime ? "set" : "0", ds.msg_rtime ? "set" : "0");
	if ((long)ds.msg_qnum != qnum || (long)ds.msg_cbytes != cbytes)
		T_FAIL("%s: qnum %lu cbytes %lu, expected %ld %ld", what,
		       (unsigned long)ds.msg_qnum,
		       (unsigned long)ds.msg_cbytes, qnum, cbytes);
	return ds;
}

/* Check msg_lspid and msg_lrpid against the expected pids. */
static void check_pids(const struct msqid_ds *ds, pid_t lspid, pid_t lrpid)
{
	char a[32], b[32];

	if (ds->msg_lspid != lspid)
		T_FAIL("msg_lspid is %s (%d), expected %s",
		       pidname(ds->msg_lspid, a, sizeof(a)),
		       (int)ds->msg_lspid, pidname(lspid, b, sizeof(b)));
	if (ds->msg_lrpid != lrpid)
		T_FAIL("msg_lrpid is %s (%d), expected %s",
		       pidname(ds->msg_lrpid, a, sizeof(a)),
		       (int)ds->msg_lrpid, pidname(lrpid, b, sizeof(b)));
}

static int snd(int q, long type, size_t size, int flags)
{
	struct mbuf m;
	int r;

	m.mtype = type;
	fill(m.mtext, type, size);
	errno = 0;
	r = O->snd(q, &m, size, flags);
	note("runner snd type=%ld size=%zu flags=%#x -> %d %s", type, size,
	     flags, r, r < 0 ? strerrorname_np(errno) : "");
	return r;
}

/* Send that must succeed without blocking. */
static void put(int q, long type, size_t size)
{
	if (snd(q, type, size, IPC_NOWAIT) != 0)
		T_FAIL("send type %ld size %zu: %s", type, size,
		       strerror(errno));
}

/* A receive by the runner that must return a message of type t, n bytes. */
static void get(int q, size_t bufsz, long msgtyp, int flags, long t, long n)
{
	struct mbuf m;
	ssize_t r;

	memset(&m, 0, sizeof(m));
	errno = 0;
	r = O->rcv(q, &m, bufsz, msgtyp, flags);
	note("runner rcv msgtyp=%ld size=%zu flags=%#x -> %zd %s type=%ld",
	     msgtyp, bufsz, flags, r, r < 0 ? strerrorname_np(errno) : "",
	     r < 0 ? 0 : m.mtype);
	if (r != n || (r >= 0 && m.mtype != t) ||
	    (r >= 0 && !text_ok(m.mtext, m.mtype, (size_t)r)))
		T_FAIL("msgrcv(msgtyp %ld) returned %zd type %ld (%s), "
		       "expected %ld type %ld", msgtyp, r, m.mtype,
		       r < 0 ? strerror(errno) : "ok", n, t);
}

/* A receive by the runner that must fail with err. */
static void get_err(int q, size_t bufsz, long msgtyp, int flags, int err)
{
	struct mbuf m;
	ssize_t r;
	int e;

	errno = 0;
	r = O->rcv(q, &m, bufsz, msgtyp, flags);
	e = errno;
	note("runner rcv msgtyp=%ld size=%zu flags=%#x -> %zd %s", msgtyp,
	     bufsz, flags, r, r < 0 ? strerrorname_np(e) : "");
	if (r != -1 || e != err)
		T_FAIL("msgrcv(msgtyp %ld) returned %zd (%s), expected -1 %s",
		       msgtyp, r, strerror(e), strerrorname_np(err));
}

/* ---- workers ---- */

/* Make the call described by s and store its outcome in s. */
static void worker_call(struct slot *s)
{
	struct mbuf m;
	long r;

	memset(&m, 0, sizeof(m));
	if (s->op == OP_SND) {
		m.mtype = s->type;
		fill(m.mtext, s->type, s->size);
	}
	__atomic_store_n(&s->state, ST_CALLING, __ATOMIC_SEQ_CST);
	errno = 0;
	if (s->op == OP_SND)
		r = O->snd(s->qid, &m, s->size, s->flags);
	else
		r = (long)O->rcv(s->qid, &m, s->size, s->type, s->flags);
	s->err = r < 0 ? errno : 0;
	s->ret = r;
	if (s->op == OP_RCV && r >= 0) {
		s->rtype = m.mtype;
		memcpy(s->rtext, m.mtext, sizeof(s->rtext));
	}
	s->handler_runs = handler_runs;
	__atomic_store_n(&s->state, ST_DONE, __ATOMIC_SEQ_CST);
}

static void set_req(int i, int op, int q, long type, size_t size, int flags,
		    int sig)
{
	struct slot *s = &SH->slot[i];

	memset(s, 0, sizeof(*s));
	s->op = op;
	s->qid = q;
	s->type = type;
	s->size = size;
	s->flags = flags;
	s->sig = sig;
}

/* Worker i is a new process making one call. */
static void start_proc(int i, int op, int q, long type, size_t size,
		       int flags, int sig)
{
	struct slot *s = &SH->slot[i];
	pid_t p;

	set_req(i, op, q, type, size, flags, sig);
	p = fork_worker();
	if (p < 0) {
		__atomic_store_n(&s->state, ST_DONE, __ATOMIC_SEQ_CST);
		s->ret = -2;
		return;
	}
	if (p == 0) {
		worker_signals(s->sig, &s->restart);
		worker_call(s);
		_exit(0);
	}
	s->pid = s->tid = p;
	record_worker(p);
	note("w%d: %s q type=%ld size=%zu flags=%#x sig=%d", i,
	     op == OP_SND ? "snd" : "rcv", type, size, flags, sig);
}

static void *thread_main(void *arg)
{
	struct slot *s = arg;

	s->tid = my_tid();
	worker_call(s);
	return NULL;
}

/* Worker i is a new thread of the runner making one call. */
static void start_thread(int i, int op, int q, long type, size_t size,
			 int flags)
{
	struct slot *s = &SH->slot[i];

	set_req(i, op, q, type, size, flags, SIGH_NONE);
	s->is_thread = 1;
	s->pid = runner_pid;
	if (pthread_create(&threads[i], NULL, thread_main, s) != 0) {
		T_FAIL("pthread_create failed");
		__atomic_store_n(&s->state, ST_DONE, __ATOMIC_SEQ_CST);
		s->ret = -2;
		return;
	}
	thread_started[i] = 1;
	note("w%d: thread %s q type=%ld size=%zu flags=%#x", i,
	     op == OP_SND ? "snd" : "rcv", type, size, flags);
}

static int state_of(int i)
{
	return __atomic_load_n(&SH->slot[i].state, __ATOMIC_SEQ_CST);
}

static int is_done(int i)
{
	return state_of(i) == ST_DONE;
}

/* Scheduler state and wchan of worker i; 0 on success. */
static int task_state(int i, char *st, char *wchan, size_t wn)
{
	struct slot *s = &SH->slot[i];
	char path[96], state = proc_task_state(s->pid, s->tid);
	ssize_t n;
	int fd;

	if (!state)
		return -1;
	*st = state;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", (int)s->pid,
		 (int)s->tid);
	wchan[0] = 0;
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, wchan, wn - 1);
		close(fd);
		wchan[n > 0 ? n : 0] = 0;
	}
	return 0;
}

/*
 * Wait until worker i sleeps in its call: it has announced the call, and its
 * task is in state S with the wchan of a blocked msgrcv/msgsnd (kernel) or of
 * a futex wait (uipc).  Fails if the call returns instead.
 */
static int wait_blocked(int i)
{
	struct slot *s = &SH->slot[i];
	const char *want = s->op == OP_RCV ? O->wchan_rcv : O->wchan_snd;
	double end = now() + poll_bound;
	char st = '?', wchan[128] = "";

	for (;;) {
		int state = state_of(i);

		if (state == ST_DONE) {
			T_FAIL("w%d returned %ld (%s) instead of blocking", i,
			       s->ret, strerror(s->err));
			note("w%d did not block", i);
			return -1;
		}
		if (state == ST_CALLING && s->tid &&
		    task_state(i, &st, wchan, sizeof(wchan)) == 0 &&
		    st == 'S' && strstr(wchan, want)) {
			note("w%d blocked", i);
			return 0;
		}
		if (now() > end) {
			T_FAIL("w%d not seen blocked (state %c, wchan '%s', "
			       "want '%s')", i, st, wchan, want);
			timed_out();
			note("w%d did not block", i);
			return -1;
		}
		sleep_ms(1);
	}
}

/* Wait until worker i is stopped (SIGSTOP). */
static int wait_stopped(int i)
{
	double end = now() + poll_bound;
	char st = '?', wchan[128];

	for (;;) {
		if (task_state(i, &st, wchan, sizeof(wchan)) == 0 &&
		    (st == 'T' || st == 't')) {
			note("w%d stopped", i);
			return 0;
		}
		if (now() > end) {
			T_FAIL("w%d not seen stopped (state %c)", i, st);
			timed_out();
			note("w%d did not stop", i);
			return -1;
		}
		sleep_ms(1);
	}
}

static int wait_done(int i)
{
	double end = now() + poll_bound;

	while (!is_done(i)) {
		if (now() > end) {
			T_FAIL("w%d still blocked", i);
			timed_out();
			note("w%d still blocked", i);
			return -1;
		}
		sleep_ms(1);
	}
	return 0;
}

/* Wait until at least n of the workers in idx[0..k) are done; return count. */
static int wait_count(const int *idx, int k, int n)
{
	double end = now() + poll_bound;
	int c;

	for (;;) {
		c = 0;
		for (int j = 0; j < k; j++)
			c += is_done(idx[j]);
		if (c >= n || now() > end)
			break;
		sleep_ms(1);
	}
	if (c < n) {
		T_FAIL("only %d of %d workers returned, expected %d", c, k, n);
		timed_out();
	}
	return c;
}

/*
 * Worker i must return ret with errno err; a receive returning a message must
 * return type t (the bytes are checked against the pattern of type t).
 */
static void expect(int i, long ret, int err, long t)
{
	struct slot *s = &SH->slot[i];

	if (wait_done(i) != 0)
		return;
	note("w%d -> %ld %s type=%ld handler=%d", i, s->ret,
	     s->ret < 0 ? strerrorname_np(s->err) : "",
	     s->op == OP_RCV && s->ret >= 0 ? s->rtype : 0, s->handler_runs);
	if (s->ret != ret || (ret < 0 && s->err != err))
		T_FAIL("w%d returned %ld (%s), expected %ld (%s)", i, s->ret,
		       s->ret < 0 ? strerror(s->err) : "ok", ret,
		       ret < 0 ? strerror(err) : "ok");
	if (s->op == OP_RCV && s->ret >= 0 && ret >= 0) {
		if (s->rtype != t)
			T_FAIL("w%d received type %ld, expected %ld", i,
			       s->rtype, t);
		else if (!text_ok(s->rtext, t, (size_t)s->ret))
			T_FAIL("w%d received wrong bytes", i);
	}
}

/* Worker i has not returned (it cannot have: nothing it waits for exists). */
static void still_waiting(int i)
{
	note("w%d %s", i, is_done(i) ? "returned" : "waiting");
	if (is_done(i))
		T_FAIL("w%d returned %ld (%s) but should still wait", i,
		       SH->slot[i].ret, strerror(SH->slot[i].err));
}

/* Wait for worker process i to exit and reap it. */
static void reap(int i)
{
	pid_t p = SH->slot[i].pid;
	int status;

	if (reap_bounded(p, &status) == 1)
		T_FAIL("w%d did not exit", i);
	forget_worker(p);
}

static void kill_worker(int i)
{
	kill(SH->slot[i].pid, SIGKILL);
	reap(i);
	note("w%d killed", i);
}

static void join_threads(void)
{
	for (int i = 0; i < NSLOT; i++) {
		struct timespec ts;

		if (!thread_started[i])
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)poll_bound + 1;
		if (pthread_timedjoin_np(threads[i], NULL, &ts) != 0) {
			T_FAIL("thread w%d did not finish", i);
			timed_out();
		}
		thread_started[i] = 0;
	}
}

/* After a scenario: join the threads, kill and reap the workers. */
static void cleanup(void)
{
	join_threads();
	kill_workers();
}

/* ==== scenarios ==== */

/* (1) A receiver blocked on an empty queue wakes when a message arrives. */
static void sc_wake(void)
{
	int q = mkq();
	struct msqid_ds ds;

	ds = qstat(q, "new", 0, 0);
	check_pids(&ds, 0, 0);
	start_proc(0, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(0);
	still_waiting(0);
	CHECK_EQ(snd(q, 5, 11, 0), 0);
	expect(0, 11, 0, 5);
	ds = qstat(q, "after hand-off", 0, 0);
	check_pids(&ds, runner_pid, SH->slot[0].pid);
	CHECK(ds.msg_stime != 0 && ds.msg_rtime != 0);

	/* A receiver of type 7 sleeps through messages of other types. */
	start_proc(1, OP_RCV, q, 7, 64, 0, SIGH_NONE);
	wait_blocked(1);
	put(q, 3, 5);
	qstat(q, "type 3 queued", 1, 5);
	still_waiting(1);
	put(q, 7, 9);
	expect(1, 9, 0, 7);
	ds = qstat(q, "type 7 handed off", 1, 5);
	check_pids(&ds, runner_pid, SH->slot[1].pid);
	get(q, 64, 0, IPC_NOWAIT, 3, 5);

	/* A zero-length message wakes a receiver too. */
	start_proc(2, OP_RCV, q, 0, 0, 0, SIGH_NONE);
	wait_blocked(2);
	put(q, 4, 0);
	expect(2, 0, 0, 4);
	qstat(q, "empty", 0, 0);
	rmq(q);
}

/* (2) Waiting receivers are served in the order they started waiting. */
static void sc_fifo(void)
{
	int q = mkq(), i;
	struct msqid_ds ds;

	for (i = 0; i < 5; i++) {
		start_proc(i, OP_RCV, q, 0, 64, 0, SIGH_NONE);
		wait_blocked(i);
	}
	for (i = 0; i < 5; i++)
		put(q, 10 + i, 8 + (size_t)i);
	for (i = 0; i < 5; i++)
		expect(i, 8 + i, 0, 10 + i);
	ds = qstat(q, "all handed off", 0, 0);
	check_pids(&ds, runner_pid, SH->slot[4].pid);

	/* The first waiter whose type matches gets it, in waiting order. */
	start_proc(5, OP_RCV, q, 2, 64, 0, SIGH_NONE);
	wait_blocked(5);
	start_proc(6, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(6);
	start_proc(7, OP_RCV, q, 2, 64, 0, SIGH_NONE);
	wait_blocked(7);
	start_proc(8, OP_RCV, q, 1, 64, 0, SIGH_NONE);
	wait_blocked(8);
	put(q, 1, 3);		/* w6 (any type) comes before w8 (type 1) */
	expect(6, 3, 0, 1);
	still_waiting(8);
	put(q, 2, 4);		/* w5 */
	expect(5, 4, 0, 2);
	put(q, 2, 5);		/* w7 */
	expect(7, 5, 0, 2);
	put(q, 1, 6);		/* w8 */
	expect(8, 6, 0, 1);
	qstat(q, "end", 0, 0);
	rmq(q);
}

/* (3) Direct hand-off by type, negative types, MSG_EXCEPT, E2BIG. */
static void sc_types(void)
{
	int q = mkq();
	struct msqid_ds ds;

	start_proc(0, OP_RCV, q, 2, 64, 0, SIGH_NONE);
	wait_blocked(0);
	start_proc(1, OP_RCV, q, 1, 64, 0, SIGH_NONE);
	wait_blocked(1);
	put(q, 1, 10);
	expect(1, 10, 0, 1);
	still_waiting(0);
	put(q, 2, 20);
	expect(0, 20, 0, 2);
	qstat(q, "by type", 0, 0);

	/* msgtyp -3: the first message sent with type <= 3. */
	start_proc(2, OP_RCV, q, -3, 64, 0, SIGH_NONE);
	wait_blocked(2);
	put(q, 7, 7);
	qstat(q, "type 7 queued", 1, 7);
	still_waiting(2);
	put(q, 3, 3);
	expect(2, 3, 0, 3);
	put(q, 1, 1);
	qstat(q, "7 and 1 queued", 2, 8);
	/* From a queue: the lowest type <= 3, then the next lowest. */
	put(q, 3, 3);
	put(q, 2, 2);
	get(q, 64, -3, IPC_NOWAIT, 1, 1);
	get(q, 64, -3, IPC_NOWAIT, 2, 2);
	get(q, 64, -3, IPC_NOWAIT, 3, 3);
	get_err(q, 64, -3, IPC_NOWAIT, ENOMSG);
	get(q, 64, 0, IPC_NOWAIT, 7, 7);

	/* MSG_EXCEPT: any type but 1. */
	start_proc(3, OP_RCV, q, 1, 64, MSG_EXCEPT, SIGH_NONE);
	wait_blocked(3);
	put(q, 1, 11);
	qstat(q, "type 1 queued", 1, 11);
	still_waiting(3);
	put(q, 4, 14);
	expect(3, 14, 0, 4);
	get(q, 64, 0, IPC_NOWAIT, 1, 11);

	/*
	 * Buffer too small: each waiting receiver it matches is woken with
	 * E2BIG on the way, and the message goes to the next one that fits.
	 */
	start_proc(4, OP_RCV, q, 0, 4, 0, SIGH_NONE);
	wait_blocked(4);
	start_proc(5, OP_RCV, q, 0, 9, 0, SIGH_NONE);
	wait_blocked(5);
	start_proc(6, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(6);
	put(q, 6, 10);
	expect(4, -1, E2BIG, 0);
	expect(5, -1, E2BIG, 0);
	expect(6, 10, 0, 6);
	ds = qstat(q, "after E2BIG hand-off", 0, 0);
	check_pids(&ds, runner_pid, SH->slot[6].pid);

	/* With nobody else waiting, the message stays queued. */
	start_proc(7, OP_RCV, q, 0, 4, 0, SIGH_NONE);
	wait_blocked(7);
	put(q, 8, 10);
	expect(7, -1, E2BIG, 0);
	ds = qstat(q, "E2BIG, message kept", 1, 10);
	check_pids(&ds, runner_pid, SH->slot[6].pid);
	get_err(q, 4, 0, IPC_NOWAIT, E2BIG);
	get_err(q, 4, 0, 0, E2BIG);
	get(q, 10, 0, IPC_NOWAIT, 8, 10);

	/* MSG_NOERROR: the waiter takes the message, truncated. */
	start_proc(8, OP_RCV, q, 0, 4, MSG_NOERROR, SIGH_NONE);
	wait_blocked(8);
	put(q, 9, 10);
	expect(8, 4, 0, 9);
	qstat(q, "truncated hand-off", 0, 0);

	/* A too-small waiter of another type does not see the message. */
	start_proc(9, OP_RCV, q, 5, 2, 0, SIGH_NONE);
	wait_blocked(9);
	put(q, 4, 10);
	qstat(q, "type 4 queued", 1, 10);
	still_waiting(9);
	put(q, 5, 2);
	expect(9, 2, 0, 5);
	get(q, 64, 0, IPC_NOWAIT, 4, 10);
	rmq(q);
}

/*
 * (4) Senders blocked on a queue full by bytes wake when space frees.  The
 * kernel wakes every blocked sender whose message fits and lets them race,
 * so of two equal senders and room for one, exactly one proceeds (which one
 * is up to the scheduler); a sender whose message fits goes ahead of an
 * earlier one whose message does not.
 */
static void sc_full_bytes(void)
{
	int q = mkq(), two[2] = { 1, 2 };
	long a, b;

	set_qbytes(q, 64);
	for (int i = 0; i < 4; i++)
		put(q, 1 + i, 16);
	qstat(q, "full", 4, 64);
	CHECK_ERR(snd(q, 9, 1, IPC_NOWAIT), EAGAIN);
	CHECK_EQ(snd(q, 9, 0, IPC_NOWAIT), 0);	/* 0 bytes still fit */
	qstat(q, "plus empty message", 5, 64);

	start_proc(0, OP_SND, q, 10, 16, 0, SIGH_NONE);
	wait_blocked(0);
	still_waiting(0);
	get(q, 64, 0, IPC_NOWAIT, 1, 16);
	expect(0, 0, 0, 0);
	qstat(q, "sender 0 in", 5, 64);

	/* Two blocked senders, room for one: exactly one gets in. */
	racers = 1u << 1 | 1u << 2;
	start_proc(1, OP_SND, q, 11, 16, 0, SIGH_NONE);
	wait_blocked(1);
	start_proc(2, OP_SND, q, 12, 16, 0, SIGH_NONE);
	wait_blocked(2);
	get(q, 64, 0, IPC_NOWAIT, 2, 16);
	note("senders returned: %d", wait_count(two, 2, 1));
	qstat(q, "one of two in", 5, 64);
	CHECK_EQ(is_done(1) + is_done(2), 1);
	get(q, 64, 0, IPC_NOWAIT, 3, 16);
	note("senders returned: %d", wait_count(two, 2, 2));
	expect(1, 0, 0, 0);
	expect(2, 0, 0, 0);
	qstat(q, "both in", 5, 64);
	get(q, 64, 0, IPC_NOWAIT, 4, 16);
	get(q, 64, 0, IPC_NOWAIT, 9, 0);
	get(q, 64, 0, IPC_NOWAIT, 10, 16);
	/* 11 and 12 in the order the race went */
	a = SH->slot[1].type;
	b = SH->slot[2].type;
	{
		struct mbuf m1, m2;
		ssize_t r1 = O->rcv(q, &m1, 64, 0, IPC_NOWAIT);
		ssize_t r2 = O->rcv(q, &m2, 64, 0, IPC_NOWAIT);

		CHECK_EQ(r1, 16);
		CHECK_EQ(r2, 16);
		CHECK((m1.mtype == a && m2.mtype == b) ||
		      (m1.mtype == b && m2.mtype == a));
		note("received 11 and 12: %d",
		     (m1.mtype == a && m2.mtype == b) ||
		     (m1.mtype == b && m2.mtype == a));
	}
	qstat(q, "drained", 0, 0);

	/* A small sender overtakes an earlier, bigger one. */
	for (int i = 0; i < 4; i++)
		put(q, 1 + i, 16);
	start_proc(3, OP_SND, q, 20, 32, 0, SIGH_NONE);
	wait_blocked(3);
	start_proc(4, OP_SND, q, 21, 16, 0, SIGH_NONE);
	wait_blocked(4);
	get(q, 64, 0, IPC_NOWAIT, 1, 16);	/* 16 free: only w4 fits */
	expect(4, 0, 0, 0);
	still_waiting(3);
	qstat(q, "small one in", 4, 64);
	get(q, 64, 0, IPC_NOWAIT, 2, 16);	/* 16 free: w3 still waits */
	qstat(q, "16 free", 3, 48);
	still_waiting(3);
	get(q, 64, 0, IPC_NOWAIT, 3, 16);	/* 32 free */
	expect(3, 0, 0, 0);
	qstat(q, "big one in", 3, 64);
	get(q, 64, 0, IPC_NOWAIT, 4, 16);
	get(q, 64, 0, IPC_NOWAIT, 21, 16);
	get(q, 64, 0, IPC_NOWAIT, 20, 32);
	qstat(q, "drained again", 0, 0);
	rmq(q);
}

/* (4) A queue full by count: msg_qnum may not exceed msg_qbytes. */
static void sc_full_count(void)
{
	int q = mkq();

	set_qbytes(q, 4);
	for (int i = 0; i < 4; i++)
		put(q, 1 + i, 0);
	qstat(q, "full by count", 4, 0);
	CHECK_ERR(snd(q, 9, 0, IPC_NOWAIT), EAGAIN);
	racers = 1u << 0 | 1u << 1;
	start_proc(0, OP_SND, q, 10, 0, 0, SIGH_NONE);
	wait_blocked(0);
	start_proc(1, OP_SND, q, 11, 1, 0, SIGH_NONE);
	wait_blocked(1);
	get(q, 64, 1, IPC_NOWAIT, 1, 0);
	/* Both fit alone; only one gets in. */
	{
		int two[2] = { 0, 1 };

		note("senders returned: %d", wait_count(two, 2, 1));
		CHECK_EQ(is_done(0) + is_done(1), 1);
		get(q, 64, 2, IPC_NOWAIT, 2, 0);
		note("senders returned: %d", wait_count(two, 2, 2));
	}
	expect(0, 0, 0, 0);
	expect(1, 0, 0, 0);
	qstat(q, "full again", 4, 1);
	get(q, 64, 3, IPC_NOWAIT, 3, 0);
	get(q, 64, 4, IPC_NOWAIT, 4, 0);
	get(q, 64, 10, IPC_NOWAIT, 10, 0);
	get(q, 64, 11, IPC_NOWAIT, 11, 1);
	qstat(q, "empty", 0, 0);

	/* One sender, in order: count limit then byte limit. */
	set_qbytes(q, 2);
	put(q, 1, 1);
	put(q, 2, 0);
	start_proc(2, OP_SND, q, 3, 1, 0, SIGH_NONE);
	wait_blocked(2);
	get(q, 64, 2, IPC_NOWAIT, 2, 0);	/* count ok, bytes 1+1 <= 2 */
	expect(2, 0, 0, 0);
	qstat(q, "bytes full", 2, 2);
	rmq(q);
}

/* (5) IPC_SET raising msg_qbytes wakes the senders that now fit. */
static void sc_ipc_set(void)
{
	int q = mkq(), three[3] = { 1, 2, 3 };

	set_qbytes(q, 32);
	put(q, 1, 16);
	put(q, 2, 16);
	start_proc(0, OP_SND, q, 10, 16, 0, SIGH_NONE);
	wait_blocked(0);
	set_qbytes(q, 40);		/* 8 free: not enough */
	still_waiting(0);
	qstat(q, "raised to 40", 2, 32);
	set_qbytes(q, 48);
	expect(0, 0, 0, 0);
	qstat(q, "raised to 48", 3, 48);

	racers = 1u << 1 | 1u << 2 | 1u << 3;
	start_proc(1, OP_SND, q, 11, 16, 0, SIGH_NONE);
	wait_blocked(1);
	start_proc(2, OP_SND, q, 12, 8, 0, SIGH_NONE);
	wait_blocked(2);
	start_proc(3, OP_SND, q, 13, 32, 0, SIGH_NONE);
	wait_blocked(3);
	set_qbytes(q, 48 + 16 + 8 + 32);
	note("senders returned: %d", wait_count(three, 3, 3));
	expect(1, 0, 0, 0);
	expect(2, 0, 0, 0);
	expect(3, 0, 0, 0);
	qstat(q, "all in", 6, 104);
	get(q, 64, 11, IPC_NOWAIT, 11, 16);
	get(q, 64, 12, IPC_NOWAIT, 12, 8);
	get(q, 64, 13, IPC_NOWAIT, 13, 32);

	/*
	 * A receiver survives IPC_SET (the kernel wakes it and it waits
	 * again) and still gets the next message.
	 */
	get(q, 64, 0, IPC_NOWAIT, 1, 16);
	get(q, 64, 0, IPC_NOWAIT, 2, 16);
	get(q, 64, 0, IPC_NOWAIT, 10, 16);
	start_proc(4, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(4);
	set_qbytes(q, 100);
	wait_blocked(4);
	put(q, 5, 5);
	expect(4, 5, 0, 5);
	qstat(q, "empty", 0, 0);

	/*
	 * Lowering msg_qbytes below msg_cbytes keeps the messages; a blocked
	 * sender gets in only when its message fits under the new limit.
	 */
	put(q, 1, 16);
	put(q, 2, 16);
	put(q, 3, 16);
	set_qbytes(q, 16);
	qstat(q, "over the limit", 3, 48);
	CHECK_ERR(snd(q, 9, 0, IPC_NOWAIT), EAGAIN);
	start_proc(5, OP_SND, q, 4, 8, 0, SIGH_NONE);
	wait_blocked(5);
	get(q, 64, 0, IPC_NOWAIT, 1, 16);
	get(q, 64, 0, IPC_NOWAIT, 2, 16);
	qstat(q, "at the limit", 1, 16);
	still_waiting(5);
	get(q, 64, 0, IPC_NOWAIT, 3, 16);
	expect(5, 0, 0, 0);
	qstat(q, "under the limit", 1, 8);
	get(q, 64, 0, IPC_NOWAIT, 4, 8);
	rmq(q);
}

/* (6) IPC_RMID wakes every blocked receiver and sender with EIDRM. */
static void sc_rmid(void)
{
	int q = mkq(), q2 = mkq();
	struct msqid_ds ds;

	set_qbytes(q, 32);
	put(q, 1, 16);
	put(q, 1, 16);
	start_proc(0, OP_RCV, q, 2, 64, 0, SIGH_NONE);
	wait_blocked(0);
	start_proc(1, OP_RCV, q, 5, 64, 0, SIGH_NONE);
	wait_blocked(1);
	start_proc(2, OP_SND, q, 3, 16, 0, SIGH_NONE);
	wait_blocked(2);
	start_proc(3, OP_SND, q, 4, 1, 0, SIGH_NONE);
	wait_blocked(3);
	/* a waiter on another queue is not disturbed */
	start_proc(5, OP_RCV, q2, 0, 64, 0, SIGH_NONE);
	wait_blocked(5);
	start_thread(4, OP_RCV, q, 7, 64, 0);
	wait_blocked(4);

	CHECK_EQ(O->ctl(q, IPC_RMID, NULL), 0);
	note("removed");
	expect(0, -1, EIDRM, 0);
	expect(1, -1, EIDRM, 0);
	expect(2, -1, EIDRM, 0);
	expect(3, -1, EIDRM, 0);
	expect(4, -1, EIDRM, 0);
	join_threads();
	still_waiting(5);

	/* The id is stale now: EINVAL, not EIDRM. */
	CHECK_ERR(O->ctl(q, IPC_STAT, &ds), EINVAL);
	CHECK_ERR(snd(q, 1, 1, 0), EINVAL);
	get_err(q, 64, 0, 0, EINVAL);
	CHECK_ERR(O->ctl(q, IPC_RMID, NULL), EINVAL);

	put(q2, 3, 3);
	expect(5, 3, 0, 3);
	rmq(q2);
}

/* (7) A signal handler makes a blocked call fail with EINTR. */
static void sc_eintr(void)
{
	int q = mkq();
	static const int how[2] = { SIGH_SIGNAL, SIGH_SIGACTION };

	for (int k = 0; k < 2; k++) {
		int r = 2 * k, s = 2 * k + 1;

		start_proc(r, OP_RCV, q, 0, 64, 0, how[k]);
		wait_blocked(r);
		CHECK_EQ(SH->slot[r].restart, k == 0);
		kill(SH->slot[r].pid, SIGUSR1);
		expect(r, -1, EINTR, 0);
		CHECK_EQ(SH->slot[r].handler_runs, 1);
		reap(r);
		/* it no longer waits: the message stays queued */
		put(q, 1, 8);
		qstat(q, "after interrupted receive", 1, 8);
		get(q, 64, 0, IPC_NOWAIT, 1, 8);

		set_qbytes(q, 16);
		put(q, 2, 16);
		start_proc(s, OP_SND, q, 3, 8, 0, how[k]);
		wait_blocked(s);
		CHECK_EQ(SH->slot[s].restart, k == 0);
		kill(SH->slot[s].pid, SIGUSR1);
		expect(s, -1, EINTR, 0);
		CHECK_EQ(SH->slot[s].handler_runs, 1);
		reap(s);
		qstat(q, "after interrupted send", 1, 16);
		get(q, 64, 0, IPC_NOWAIT, 2, 16);
		qstat(q, "nothing sent", 0, 0);
		get_err(q, 64, 0, IPC_NOWAIT, ENOMSG);
		set_qbytes(q, 1024);
	}

	/* The interrupted receiver leaves the line; the others keep order. */
	start_proc(4, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(4);
	start_proc(5, OP_RCV, q, 0, 64, 0, SIGH_SIGACTION);
	wait_blocked(5);
	start_proc(6, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(6);
	kill(SH->slot[5].pid, SIGUSR1);
	expect(5, -1, EINTR, 0);
	put(q, 1, 1);
	put(q, 2, 2);
	expect(4, 1, 0, 1);
	expect(6, 2, 0, 2);
	qstat(q, "after line", 0, 0);

	/* An ignored signal, and a blocked one, interrupt nothing. */
	start_proc(7, OP_RCV, q, 0, 64, 0, SIGH_IGNORE);
	wait_blocked(7);
	kill(SH->slot[7].pid, SIGUSR2);
	start_proc(8, OP_RCV, q, 0, 64, 0, SIGH_MASK);
	wait_blocked(8);
	kill(SH->slot[8].pid, SIGUSR1);
	wait_blocked(7);
	wait_blocked(8);
	put(q, 3, 3);
	put(q, 4, 4);
	expect(7, 3, 0, 3);
	expect(8, 4, 0, 4);
	CHECK_EQ(SH->slot[8].handler_runs, 0);
	qstat(q, "end", 0, 0);
	rmq(q);
}

/* (7) SIGSTOP/SIGCONT: no handler runs, the call goes on waiting. */
static void sc_stop(void)
{
	int q = mkq();
	struct msqid_ds ds;

	start_proc(0, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(0);
	kill(SH->slot[0].pid, SIGSTOP);
	wait_stopped(0);
	still_waiting(0);
	kill(SH->slot[0].pid, SIGCONT);
	wait_blocked(0);
	still_waiting(0);
	put(q, 1, 7);
	expect(0, 7, 0, 1);
	qstat(q, "received after SIGCONT", 0, 0);

	/* A message sent while the receiver is stopped. */
	start_proc(1, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(1);
	kill(SH->slot[1].pid, SIGSTOP);
	wait_stopped(1);
	put(q, 2, 9);
	still_waiting(1);
	kill(SH->slot[1].pid, SIGCONT);
	expect(1, 9, 0, 2);
	ds = qstat(q, "received what came while stopped", 0, 0);
	check_pids(&ds, runner_pid, SH->slot[1].pid);

	/* A stopped and continued sender. */
	set_qbytes(q, 10);
	put(q, 3, 10);
	start_proc(2, OP_SND, q, 4, 10, 0, SIGH_NONE);
	wait_blocked(2);
	kill(SH->slot[2].pid, SIGSTOP);
	wait_stopped(2);
	kill(SH->slot[2].pid, SIGCONT);
	wait_blocked(2);
	still_waiting(2);
	get(q, 64, 0, IPC_NOWAIT, 3, 10);
	expect(2, 0, 0, 0);
	ds = qstat(q, "sent after SIGCONT", 1, 10);
	check_pids(&ds, SH->slot[2].pid, runner_pid);
	get(q, 64, 0, IPC_NOWAIT, 4, 10);
	rmq(q);
}

/*
 * A stopped waiter is not waiting: when SIGSTOP wakes it the kernel takes it
 * off the queue's list of waiters (it waits again, at the back, after
 * SIGCONT).  A message sent meanwhile goes to the next waiting receiver, and
 * room freed meanwhile lets the next blocked sender in.
 */
static void sc_stopped_skipped(void)
{
	int q = mkq();

	start_proc(0, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(0);
	start_proc(1, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(1);
	kill(SH->slot[0].pid, SIGSTOP);
	wait_stopped(0);
	put(q, 5, 5);
	expect(1, 5, 0, 5);
	qstat(q, "next receiver served", 0, 0);
	still_waiting(0);
	kill(SH->slot[0].pid, SIGCONT);
	wait_blocked(0);
	put(q, 6, 6);
	expect(0, 6, 0, 6);
	qstat(q, "continued receiver served", 0, 0);

	set_qbytes(q, 10);
	put(q, 4, 10);
	start_proc(2, OP_SND, q, 7, 10, 0, SIGH_NONE);
	wait_blocked(2);
	start_proc(3, OP_SND, q, 8, 10, 0, SIGH_NONE);
	wait_blocked(3);
	kill(SH->slot[2].pid, SIGSTOP);
	wait_stopped(2);
	get(q, 64, 0, IPC_NOWAIT, 4, 10);
	expect(3, 0, 0, 0);
	still_waiting(2);
	kill(SH->slot[2].pid, SIGCONT);
	wait_blocked(2);
	get(q, 64, 0, IPC_NOWAIT, 8, 10);
	expect(2, 0, 0, 0);
	get(q, 64, 0, IPC_NOWAIT, 7, 10);
	qstat(q, "end", 0, 0);
	rmq(q);
}

/* (8) IPC_NOWAIT never blocks, whoever else waits. */
static void sc_nowait(void)
{
	int q = mkq();

	start_proc(0, OP_RCV, q, 0, 64, IPC_NOWAIT, SIGH_NONE);
	expect(0, -1, ENOMSG, 0);
	start_proc(1, OP_RCV, q, -5, 64, IPC_NOWAIT, SIGH_NONE);
	expect(1, -1, ENOMSG, 0);
	start_proc(2, OP_RCV, q, 3, 64, IPC_NOWAIT | MSG_EXCEPT, SIGH_NONE);
	expect(2, -1, ENOMSG, 0);
	/* MSG_COPY needs IPC_NOWAIT: without it, EINVAL rather than a wait */
	start_proc(13, OP_RCV, q, 0, 64, MSG_COPY, SIGH_NONE);
	expect(13, -1, EINVAL, 0);
	start_proc(14, OP_RCV, q, 0, 64, MSG_COPY | IPC_NOWAIT, SIGH_NONE);
	expect(14, -1, ENOMSG, 0);

	/* with a receiver of type 9 waiting */
	start_proc(3, OP_RCV, q, 9, 64, 0, SIGH_NONE);
	wait_blocked(3);
	start_proc(4, OP_RCV, q, 9, 64, IPC_NOWAIT, SIGH_NONE);
	expect(4, -1, ENOMSG, 0);
	put(q, 8, 8);
	start_proc(5, OP_RCV, q, 9, 64, IPC_NOWAIT, SIGH_NONE);
	expect(5, -1, ENOMSG, 0);
	start_proc(6, OP_RCV, q, 0, 4, IPC_NOWAIT, SIGH_NONE);
	expect(6, -1, E2BIG, 0);
	still_waiting(3);
	qstat(q, "one queued", 1, 8);

	/* full queue, with a sender waiting */
	set_qbytes(q, 16);
	put(q, 8, 8);
	start_proc(7, OP_SND, q, 1, 1, IPC_NOWAIT, SIGH_NONE);
	expect(7, -1, EAGAIN, 0);
	start_proc(8, OP_SND, q, 1, 16, 0, SIGH_NONE);
	wait_blocked(8);
	start_proc(9, OP_SND, q, 1, 0, IPC_NOWAIT, SIGH_NONE);
	expect(9, 0, 0, 0);	/* 0 bytes fit */
	start_proc(10, OP_SND, q, 1, 1, IPC_NOWAIT, SIGH_NONE);
	expect(10, -1, EAGAIN, 0);
	get(q, 64, 8, IPC_NOWAIT, 8, 8);
	/* 8 bytes free: a non-blocking 8-byte send passes the waiter */
	start_proc(11, OP_SND, q, 2, 8, IPC_NOWAIT, SIGH_NONE);
	expect(11, 0, 0, 0);
	still_waiting(8);
	qstat(q, "full", 3, 16);
	start_proc(12, OP_SND, q, 1, 1, IPC_NOWAIT, SIGH_NONE);
	expect(12, -1, EAGAIN, 0);

	put(q, 9, 0);		/* to the waiting receiver */
	expect(3, 0, 0, 9);
	get(q, 64, 0, IPC_NOWAIT, 8, 8);
	get(q, 64, 0, IPC_NOWAIT, 1, 0);
	get(q, 64, 0, IPC_NOWAIT, 2, 8);
	expect(8, 0, 0, 0);
	get(q, 64, 0, IPC_NOWAIT, 1, 16);
	qstat(q, "empty", 0, 0);
	rmq(q);
}

/* (9) msg_lspid and msg_lrpid name the sending and receiving processes. */
static void sc_pids(void)
{
	int q = mkq();
	struct msqid_ds ds;

	start_proc(0, OP_SND, q, 1, 4, 0, SIGH_NONE);
	expect(0, 0, 0, 0);
	ds = qstat(q, "sent by w0", 1, 4);
	check_pids(&ds, SH->slot[0].pid, 0);
	CHECK(ds.msg_stime != 0);
	CHECK(ds.msg_rtime == 0);

	start_proc(1, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	expect(1, 4, 0, 1);
	ds = qstat(q, "received by w1", 0, 0);
	check_pids(&ds, SH->slot[0].pid, SH->slot[1].pid);

	/* hand-off between two workers */
	start_proc(2, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(2);
	start_proc(3, OP_SND, q, 2, 5, 0, SIGH_NONE);
	expect(3, 0, 0, 0);
	expect(2, 5, 0, 2);
	ds = qstat(q, "w3 to w2", 0, 0);
	check_pids(&ds, SH->slot[3].pid, SH->slot[2].pid);

	/* a blocked sender let in by a receiving worker */
	set_qbytes(q, 8);
	put(q, 3, 8);
	start_proc(4, OP_SND, q, 4, 8, 0, SIGH_NONE);
	wait_blocked(4);
	ds = qstat(q, "w4 waiting", 1, 8);
	check_pids(&ds, runner_pid, SH->slot[2].pid);
	start_proc(5, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	expect(5, 8, 0, 3);
	expect(4, 0, 0, 0);
	ds = qstat(q, "w5 received, w4 sent", 1, 8);
	check_pids(&ds, SH->slot[4].pid, SH->slot[5].pid);

	/* E2BIG and failed calls change neither */
	start_proc(6, OP_RCV, q, 0, 2, IPC_NOWAIT, SIGH_NONE);
	expect(6, -1, E2BIG, 0);
	start_proc(7, OP_SND, q, 5, 1, IPC_NOWAIT, SIGH_NONE);
	expect(7, -1, EAGAIN, 0);
	ds = qstat(q, "after failures", 1, 8);
	check_pids(&ds, SH->slot[4].pid, SH->slot[5].pid);
	get(q, 64, 0, IPC_NOWAIT, 4, 8);
	rmq(q);
}

/*
 * Threads: a receiver blocked in one thread and a sender in another thread
 * of the same process, and the reverse.  After a direct hand-off the kernel
 * records the receiving thread's id in msg_lrpid (task_pid, not task_tgid),
 * after a dequeue the process id.
 */
static void sc_threads(void)
{
	int q = mkq();
	struct msqid_ds ds;

	start_thread(0, OP_RCV, q, 0, 64, 0);
	wait_blocked(0);
	start_thread(1, OP_SND, q, 6, 12, 0);
	expect(1, 0, 0, 0);
	expect(0, 12, 0, 6);
	join_threads();
	ds = qstat(q, "thread to thread", 0, 0);
	check_pids(&ds, runner_pid, SH->slot[0].tid);

	/* a sender thread blocked on a full queue, a receiver thread */
	set_qbytes(q, 4);
	put(q, 1, 4);
	start_thread(2, OP_SND, q, 2, 4, 0);
	wait_blocked(2);
	start_thread(3, OP_RCV, q, 0, 64, 0);
	expect(3, 4, 0, 1);
	expect(2, 0, 0, 0);
	join_threads();
	ds = qstat(q, "sender thread let in", 1, 4);
	check_pids(&ds, runner_pid, runner_pid);

	/* main thread receives from a queue, a thread waits for type 9 */
	start_thread(4, OP_RCV, q, 9, 64, 0);
	wait_blocked(4);
	get(q, 64, 0, IPC_NOWAIT, 2, 4);
	put(q, 9, 3);
	expect(4, 3, 0, 9);
	join_threads();
	ds = qstat(q, "main to thread", 0, 0);
	check_pids(&ds, runner_pid, SH->slot[4].tid);

	/* two receiver threads, FIFO, and a thread receiving from a queue */
	start_thread(5, OP_RCV, q, 0, 64, 0);
	wait_blocked(5);
	start_thread(6, OP_RCV, q, 0, 64, 0);
	wait_blocked(6);
	put(q, 1, 1);
	put(q, 2, 2);
	expect(5, 1, 0, 1);
	expect(6, 2, 0, 2);
	join_threads();
	put(q, 3, 3);
	start_thread(7, OP_RCV, q, 0, 64, 0);
	expect(7, 3, 0, 3);
	join_threads();
	ds = qstat(q, "dequeued by thread", 0, 0);
	check_pids(&ds, runner_pid, runner_pid);

	/*
	 * A signal aimed at one blocked thread interrupts that thread's call
	 * only, whether the handler has SA_RESTART (signal()) or not.
	 */
	for (int k = 0; k < 2; k++) {
		int a = 8 + 2 * k, b = 9 + 2 * k;

		if (k == 0) {
			signal(SIGUSR1, on_sig);
		} else {
			struct sigaction sa;

			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_sig;
			sigemptyset(&sa.sa_mask);
			sigaction(SIGUSR1, &sa, NULL);
		}
		handler_runs = 0;
		start_thread(a, OP_RCV, q, 0, 64, 0);
		wait_blocked(a);
		start_thread(b, OP_RCV, q, 0, 64, 0);
		wait_blocked(b);
		syscall(SYS_tgkill, (int)runner_pid, (int)SH->slot[a].tid,
			SIGUSR1);
		expect(a, -1, EINTR, 0);
		CHECK_EQ(handler_runs, 1);
		still_waiting(b);
		put(q, 5, 3);
		expect(b, 3, 0, 5);
		join_threads();
		qstat(q, "after interrupted thread", 0, 0);
	}
	signal(SIGUSR1, SIG_DFL);
	rmq(q);
}

/*
 * A blocked sender let in by a receive hands its message straight to a
 * blocked receiver: the message never shows in the queue.
 */
static void sc_chain(void)
{
	int q = mkq();
	struct msqid_ds ds;

	set_qbytes(q, 16);
	put(q, 1, 16);
	start_proc(0, OP_RCV, q, 2, 64, 0, SIGH_NONE);
	wait_blocked(0);
	start_proc(1, OP_SND, q, 2, 12, 0, SIGH_NONE);
	wait_blocked(1);
	get(q, 64, 1, IPC_NOWAIT, 1, 16);
	expect(1, 0, 0, 0);
	expect(0, 12, 0, 2);
	ds = qstat(q, "sender to receiver", 0, 0);
	check_pids(&ds, SH->slot[1].pid, SH->slot[0].pid);

	/* the same, the sender let in by IPC_SET */
	put(q, 1, 16);
	start_proc(2, OP_RCV, q, 2, 64, 0, SIGH_NONE);
	wait_blocked(2);
	start_proc(3, OP_SND, q, 2, 8, 0, SIGH_NONE);
	wait_blocked(3);
	set_qbytes(q, 24);
	expect(3, 0, 0, 0);
	expect(2, 8, 0, 2);
	ds = qstat(q, "let in by IPC_SET", 1, 16);
	check_pids(&ds, SH->slot[3].pid, SH->slot[2].pid);
	get(q, 64, 0, IPC_NOWAIT, 1, 16);
	rmq(q);
}

/*
 * A waiter killed with SIGKILL leaves no trace: a later message is neither
 * lost to a dead receiver nor is a dead sender's message ever sent.
 */
static void sc_killed(void)
{
	int q = mkq();

	start_proc(0, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(0);
	kill_worker(0);
	put(q, 1, 5);
	qstat(q, "after killed receiver", 1, 5);
	get(q, 64, 0, IPC_NOWAIT, 1, 5);

	start_proc(1, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(1);
	start_proc(2, OP_RCV, q, 0, 64, 0, SIGH_NONE);
	wait_blocked(2);
	kill_worker(1);
	put(q, 2, 6);
	expect(2, 6, 0, 2);
	qstat(q, "second receiver served", 0, 0);

	set_qbytes(q, 8);
	put(q, 3, 8);
	start_proc(3, OP_SND, q, 4, 8, 0, SIGH_NONE);
	wait_blocked(3);
	start_proc(4, OP_SND, q, 5, 8, 0, SIGH_NONE);
	wait_blocked(4);
	kill_worker(3);
	get(q, 64, 0, IPC_NOWAIT, 3, 8);
	expect(4, 0, 0, 0);
	qstat(q, "live sender in", 1, 8);
	get(q, 64, 0, IPC_NOWAIT, 5, 8);
	qstat(q, "empty", 0, 0);
	get_err(q, 64, 0, IPC_NOWAIT, ENOMSG);
	rmq(q);
}

/* ==== driver ==== */

static const struct scenario scenarios[] = {
	{ "wake_on_arrival", sc_wake },
	{ "receiver_fifo", sc_fifo },
	{ "handoff_by_type", sc_types },
	{ "senders_full_bytes", sc_full_bytes },
	{ "senders_full_count", sc_full_count },
	{ "ipc_set_wakes_senders", sc_ipc_set },
	{ "rmid_wakes_all", sc_rmid },
	{ "eintr", sc_eintr },
	{ "stop_cont", sc_stop },
	{ "stopped_waiter_skipped", sc_stopped_skipped },
	{ "nowait", sc_nowait },
	{ "lspid_lrpid", sc_pids },
	{ "threads", sc_threads },
	{ "sender_to_receiver", sc_chain },
	{ "killed_waiters", sc_killed },
};

static const struct block_test test = {
	scenarios, sizeof(scenarios) / sizeof(scenarios[0]),
	&kernel_ops, &uipc_ops, "queues",
	/*
	 * A known, documented difference (README): uipc cannot tell that a
	 * waiter is stopped.  Runs with UIPC_BLOCK_ALL=1 or when named.
	 */
	"stopped_waiter_skipped", "UIPC_BLOCK_ALL",
	NULL, cleanup,
};

int main(int argc, char **argv)
{
	return run_scenarios(&test, parse_options(argc, argv));
}
