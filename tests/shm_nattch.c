/*
 * shm_nattch.c - shm_nattch and the lifetime of shared memory segments across
 * processes, threads, fork, exec and deaths, differential against the kernel.
 *
 * Each scenario is a function written against an ops table {get, at, dt,
 * ctl} and runs twice, each time in a fresh "runner" child: once with the
 * kernel's shmget/shmat/shmdt/shmctl in a runner that called
 * unshare(CLONE_NEWIPC), once with uipc_*.  The runner creates the segments
 * (so shm_cpid is the runner) and drives worker processes named A, B, C, ...:
 * each worker reads requests from its own pipe (attach, detach, read, write,
 * mprotect, fork, reap a child, exec, start a thread, end in some way),
 * carries them out and answers on its own reply pipe.  Every pipe is made by
 * the runner before any worker exists, so a worker's fork child (a worker of
 * its own, inheriting its parent's attachments) uses the pipes of its slot.
 * The runner alone writes the transcript, one line per request and its
 * outcome ("A: shmat S -> #0", "B: read #1+64 -> \"child\"") and one per state
 * it looks at ("runner: S A forked B: nattch=4 cpid=runner lpid=A atime=set
 * dtime=0 ctime=set mode=600 key=K segsz=4096").  The uipc transcript must
 * equal the kernel's line by line; the runner also checks shm_nattch (or that
 * the segment is gone) against the value the scenario expects.
 *
 * The order is that of the runner's script; nothing depends on timing:
 *  - a request is answered when it is done (a fork when the child runs: the
 *    child answers too);
 *  - after a process died (exit, exec, signal), the runner reaps it - or its
 *    parent worker does, on request - then polls (at most 2 s) until
 *    shm_nattch is the value expected (or IPC_STAT fails with EINVAL), waits
 *    20 ms more in case a late, wrong update follows, and writes what it
 *    sees; after an exec it first waits until /proc/PID/comm names the new
 *    program;
 *  - pids are written as the worker's name ("runner", "A", ...), the key as
 *    "K" (the scenario's key) or "0", addresses as "#n+offset" (the worker's
 *    n-th attachment), times as "0" or "set" - or, after the runner's "tick"
 *    (it waited for the wall clock's second to change), "old" (before the
 *    tick) or "new" (after it).
 * Reads and writes go through a SIGSEGV/SIGBUS handler, so a fault is an
 * outcome ("-> SIGSEGV"), not a death; a death by SIGSEGV is a store into a
 * SHM_RDONLY attachment with the default action.
 *
 * Kernel facts these scenarios pin down (ipc/shm.c, mm/, Linux 6.18):
 *  - shm_nattch counts the VMAs that map the segment, not shmat calls:
 *    shmat makes one; fork copies every one (the child's count adds to the
 *    parent's at fork, before the child runs); mprotect of a part of an
 *    attachment splits its VMA and each new piece counts (a middle page:
 *    +2, the first page: +1), and the pieces never merge back (changing the
 *    protection back, or of the whole attachment, leaves the count); mprotect
 *    of a whole attachment changes nothing.  (This contradicts the belief
 *    that mprotect leaves shm_nattch alone; the counting has its own
 *    scenario, mprotect_nattch, so that mprotect_detach tests the rest.)
 *  - shmdt of an attachment's start detaches the whole attachment, split or
 *    not (every page then faults); shmdt of any other address is EINVAL, also
 *    the start of a split-off piece, also an address already detached;
 *  - exit, _exit, abort, SIGSEGV, SIGKILL (also of a stopped process), SIGTERM
 *    and execve detach every attachment; the kernel has done it when the
 *    parent can reap (exec: when /proc/PID/comm shows the new program); a
 *    failed execve detaches nothing;
 *  - attachments belong to the process: a thread that attached and exited
 *    leaves its attachment (another thread may shmdt it); the main thread
 *    exiting alone leaves them too;
 *  - shm_lpid is the process of the last attach or detach: the forking
 *    process for a fork (the parent, not the child; it sets shm_atime too),
 *    the dying or exec'ing process for a death or an exec (and shm_dtime),
 *    the caller of mprotect for a split (and shm_atime); IPC_SET sets
 *    shm_ctime, IPC_RMID does not;
 *  - IPC_RMID of an attached segment sets SHM_DEST (mode 01000) and makes the
 *    key IPC_PRIVATE (shmget of the key: ENOENT; IPC_CREAT makes a new
 *    segment); shmat by id still works and counts, so does a fork; a second
 *    IPC_RMID is 0; IPC_SET keeps SHM_DEST; the memory keeps its content;
 *    the segment (SHM_INFO: used_ids, shm_tot) stays until the last detach,
 *    whichever way it happens (shmdt, exit, SIGKILL), then IPC_STAT, shmat
 *    and IPC_RMID fail with EINVAL; IPC_RMID of an unattached segment removes
 *    it at once;
 *  - two attachments, in one process or in two, see each other's stores at
 *    once; a store into a SHM_RDONLY attachment faults;
 *  - shm_segsz is the size asked for (2 pages - 100 stays so), every page of
 *    the rounded size is mapped.
 *
 * "shm_nattch -v" prints every transcript on stderr; "shm_nattch [-v] NAME"
 * runs the scenarios whose name contains NAME.
 *
 * Nothing can hang: every wait has a deadline, the runner and every worker
 * have an alarm(), workers the runner forks die with it (PR_SET_PDEATHSIG),
 * the runner is the subreaper of its workers' children, the parent kills a
 * runner that overstays, and every process is killed and reaped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uipc.h"
#include "t.h"

#define NSLOT 12		/* workers A..L */
#define NATT 32			/* attachments per worker */
#define LOGSZ 32768
#define GONE (-1)		/* "nattch" of a segment that no longer exists */
#define FAULT NULL		/* a read expected to fault */

struct ops {
	const char *name;
	int kernel;			/* run in a new kernel IPC namespace */
	int (*get)(key_t, size_t, int);
	void *(*at)(int, const void *, int);
	int (*dt)(const void *);
	int (*ctl)(int, int, struct shmid_ds *);
};

static const struct ops kernel_ops = {
	"kernel", 1, shmget, shmat, shmdt, shmctl,
};
static const struct ops uipc_ops = {
	"uipc", 0, uipc_shmget, uipc_shmat, uipc_shmdt, uipc_shmctl,
};

/* Requests to a worker. */
enum {
	OP_ATTACH = 1,	/* shmat(a, NULL, b): the next index, or -1 */
	OP_DETACH,	/* shmdt(#a + b) */
	OP_WRITE,	/* copy s (and its NUL) to #a + b; -1 EFAULT on a fault */
	OP_READ,	/* a string (d = 0) or an int (d = 1) at #a + b */
	OP_MPROTECT,	/* mprotect(#a + b, c, d) */
	OP_FORK,	/* fork; the child becomes worker a and answers too */
	OP_REAP,	/* waitpid(a): val is the status */
	OP_END,		/* end as b says (END_*), with attachment a */
	OP_EXEC,	/* execv of the words of s, stdin from fd a if >= 0 */
	OP_THREAD_ATTACH, /* a thread does shmat(a, NULL, 0) and exits */
	OP_MAIN_EXIT,	/* a new thread goes on serving, the main thread exits */
	OP_ADD,		/* c atomic increments of the int at #a + b */
	OP_PINGPONG,	/* c rounds of a turn flag at #a + b, as player d */
};

/* How a worker ends (OP_END). */
enum {
	END_EXIT,	/* exit(0) */
	END__EXIT,	/* _exit(0) */
	END_ABORT,	/* abort(): SIGABRT */
	END_SEGV,	/* a store into its SHM_RDONLY attachment a: SIGSEGV */
};

struct req {
	int seq, op, a, b, c, d;
	char s[64];
};

struct rep {
	int seq, err;
	long ret, val;
	char s[64];
};

/* The transcript, shared by the parent and the runner (MAP_SHARED). */
struct shared {
	int overflow;
	size_t loglen;
	char log[LOGSZ];
};

#include "block.h"

/* Runner state. */
static long PG;
static key_t seg_key;
static int cmdp[NSLOT][2], repp[NSLOT][2];
static int seq;
static time_t tick_ref;
static struct {
	char name[8];
	int used, alive, parent;	/* parent: a slot, or -1: the runner */
	pid_t pid;
} W[NSLOT];

/* Worker state. */
static int me;
static char *att[NATT];
static int natt;
static sigjmp_buf probe_jmp;

/* ---- transcript ---- */

/* A pid as a name that is the same in every run. */
static const char *pidname(pid_t p)
{
	if (p == 0)
		return "0";
	if (p == runner_pid)
		return "runner";
	for (int i = 0; i < NSLOT; i++)
		if (W[i].used && W[i].pid == p)
			return W[i].name;
	return "other";
}

/* ==== workers ==== */

static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(probe_jmp, 1);
}

/* Copy n bytes; -1 if an access faults (SIGSEGV or SIGBUS). */
static int probe_copy(volatile char *dst, const volatile char *src, size_t n)
{
	struct sigaction sa, old_segv, old_bus;
	int faulted = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(probe_jmp, 1) == 0) {
		for (size_t k = 0; k < n; k++)
			dst[k] = src[k];
	} else {
		faulted = 1;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return faulted ? -1 : 0;
}

static void no_core(void)
{
	struct rlimit rl = { 0, 0 };

	prctl(PR_SET_DUMPABLE, 0);
	setrlimit(RLIMIT_CORE, &rl);
}

static char *addr_of(int k, int off)
{
	if (k < 0 || k >= NATT || !att[k])
		return NULL;
	return att[k] + off;
}

static int thread_attach_id;

static void *th_attach(void *arg)
{
	char *p = O->at(thread_attach_id, NULL, 0);
	struct rep *r = arg;

	r->err = errno;
	if (p == (char *)-1) {
		r->ret = -1;
	} else {
		att[natt] = p;
		r->ret = natt++;
	}
	return NULL;
}

static int serve(void);

/* The thread that goes on serving after OP_MAIN_EXIT. */
static void *th_serve(void *arg)
{
	struct rep *r = arg;

	if (write(repp[me][1], r, sizeof(*r)) != sizeof(*r))
		_exit(91);
	exit(serve());
}

/* OP_PINGPONG: player d waits for the flag to be its turn, then passes. */
static long pingpong(int *flag, int rounds, int player)
{
	double end = now() + 5;

	for (int r = 0; r < rounds; r++) {
		int mine = 2 * r + player;

		while (__atomic_load_n(flag, __ATOMIC_SEQ_CST) != mine) {
			if (now() > end)
				return r;
			sched_yield();
		}
		__atomic_store_n(flag, mine + 1, __ATOMIC_SEQ_CST);
	}
	return rounds;
}

static void do_exec(const struct req *q, struct rep *r)
{
	char buf[64], *argv[8], *save = NULL;
	int n = 0, fd;

	snprintf(buf, sizeof(buf), "%s", q->s);
	for (char *w = strtok_r(buf, " ", &save); w && n < 7;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 1) < 0 || (q->a >= 0 && dup2(q->a, 0) < 0)) {
		r->ret = -1;
		r->err = errno;
		return;
	}
	fflush(NULL);
	execv(argv[0], argv);
	r->ret = -1;
	r->err = errno;
}

/* Carry out one request; 1 if the answer is sent elsewhere (or never). */
static int handle(const struct req *q, struct rep *r)
{
	char *p = addr_of(q->a, q->b);
	int st = 0;
	pthread_t t;
	pid_t pid;

	switch (q->op) {
	case OP_ATTACH:
		p = O->at(q->a, NULL, q->b);
		r->err = errno;
		if (p == (char *)-1 || natt >= NATT) {
			r->ret = -1;
		} else {
			att[natt] = p;
			r->ret = natt++;
		}
		break;
	case OP_DETACH:
		r->ret = O->dt(p);
		r->err = errno;
		break;
	case OP_WRITE:
		r->ret = probe_copy(p, q->s, strlen(q->s) + 1);
		r->err = r->ret ? EFAULT : 0;
		break;
	case OP_READ:
		if (q->d) {
			int v = 0;

			r->ret = probe_copy((char *)&v, p, sizeof(v));
			r->val = v;
		} else {
			r->ret = probe_copy(r->s, p, sizeof(r->s) - 1);
			r->s[sizeof(r->s) - 1] = 0;
		}
		r->err = r->ret ? EFAULT : 0;
		break;
	case OP_MPROTECT:
		r->ret = mprotect(p, (size_t)q->c, q->d);
		r->err = errno;
		break;
	case OP_FORK:
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			alarm(WORKER_ALARM);
			me = q->a;
			r->ret = 0;
			r->val = getpid();
			return 0;
		}
		r->ret = pid < 0 ? -1 : 0;
		r->err = errno;
		r->val = pid;
		break;
	case OP_REAP: {
		double end = now() + POLL_SECONDS;

		while ((pid = waitpid(q->a, &st, WNOHANG)) == 0 && now() < end)
			sleep_ms(1);
		r->ret = pid;
		r->err = errno;
		r->val = st;
		break;
	}
	case OP_END:
		fflush(NULL);
		switch (q->b) {
		case END_EXIT:
			exit(0);
		case END_ABORT:
			no_core();
			abort();
		case END_SEGV:
			no_core();
			signal(SIGSEGV, SIG_DFL);
			if (p)
				*(volatile char *)p = 1;
			_exit(98);
		default:
			_exit(0);
		}
	case OP_EXEC:
		do_exec(q, r);
		break;
	case OP_THREAD_ATTACH:
		thread_attach_id = q->a;
		r->ret = -1;
		r->err = EAGAIN;
		if (pthread_create(&t, NULL, th_attach, r) == 0)
			pthread_join(t, NULL);
		break;
	case OP_MAIN_EXIT: {
		static struct rep keep;

		keep = *r;
		if (pthread_create(&t, NULL, th_serve, &keep) != 0) {
			r->ret = -1;
			r->err = EAGAIN;
			break;
		}
		pthread_exit(NULL);
	}
	case OP_ADD:
		for (int k = 0; k < q->c; k++)
			__atomic_add_fetch((int *)p, 1, __ATOMIC_SEQ_CST);
		break;
	case OP_PINGPONG:
		r->ret = pingpong((int *)p, q->c, q->d);
		break;
	default:
		r->ret = -1;
		r->err = ENOSYS;
	}
	return 0;
}

/* A worker's loop: answer requests until told to end. */
static int serve(void)
{
	for (;;) {
		struct req q;
		struct rep r;
		ssize_t n = read(cmdp[me][0], &q, sizeof(q));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(q))
			return 90;
		memset(&r, 0, sizeof(r));
		r.seq = q.seq;
		if (handle(&q, &r))
			continue;
		if (write(repp[me][1], &r, sizeof(r)) != sizeof(r))
			return 91;
	}
}

/* ==== runner: workers ==== */

/* Worker i becomes a new process, child of the runner. */
static void spawn(int i)
{
	pid_t p;

	memset(&W[i], 0, sizeof(W[i]));
	W[i].used = 1;
	W[i].parent = -1;
	W[i].name[0] = (char)('A' + i);
	note("start %s", W[i].name);
	p = fork_worker();
	if (p < 0)
		return;
	if (p == 0) {
		me = i;
		_exit(serve());
	}
	W[i].pid = p;
	W[i].alive = 1;
}

/* Wait for worker i's answer to request number n. */
static int get_reply(int i, int n, struct rep *r)
{
	double end = now() + poll_bound;

	for (;;) {
		struct pollfd pfd = { repp[i][0], POLLIN, 0 };
		int ms = (int)((end - now()) * 1000), k;

		k = poll(&pfd, 1, ms < 0 ? 0 : ms);
		if (k == 1) {
			if (read(repp[i][0], r, sizeof(*r)) != sizeof(*r)) {
				T_FAIL("%s: short reply", W[i].name);
				return -1;
			}
			if (r->seq == n)
				return 0;
			continue;	/* a late answer to a request given up */
		}
		if (k < 0 && errno == EINTR)
			continue;
		T_FAIL("%s: no answer", W[i].name);
		note("%s: no answer", W[i].name);
		timed_out();
		return -1;
	}
}

static int send_req(int i, struct req *q)
{
	q->seq = ++seq;
	if (write(cmdp[i][1], q, sizeof(*q)) != sizeof(*q)) {
		T_FAIL("request to %s: %s", W[i].name, strerror(errno));
		return -1;
	}
	return 0;
}

static int call(int i, struct req *q, struct rep *r)
{
	memset(r, 0, sizeof(*r));
	r->ret = -1;
	r->err = EIO;
	if (send_req(i, q) != 0)
		return -1;
	return get_reply(i, q->seq, r);
}

static struct req mkreq(int op, int a, int b, int c, int d)
{
	struct req q;

	memset(&q, 0, sizeof(q));
	q.op = op;
	q.a = a;
	q.b = b;
	q.c = c;
	q.d = d;
	return q;
}

/* " -> 0" or " -> -1 EINVAL"; checks the outcome against want (errno err). */
static void outcome(const char *who, const char *what, const struct rep *r,
		    long want, int err)
{
	if (r->ret < 0)
		note("%s: %s -> %ld %s", who, what, r->ret, errname(r->err));
	else
		note("%s: %s -> %ld", who, what, r->ret);
	if ((want < 0) != (r->ret < 0) || (want >= 0 && r->ret != want) ||
	    (want < 0 && r->err != err))
		T_FAIL("%s: %s returned %ld (%s), expected %ld (%s)", who, what,
		       r->ret, r->ret < 0 ? errname(r->err) : "ok", want,
		       want < 0 ? errname(err) : "ok");
}

static const char *flagname(int flags)
{
	return flags & SHM_RDONLY ? " rdonly" : "";
}

/*
 * Worker i attaches segment id; want is the index expected (the worker's
 * attachments are numbered from 0 in the order made, inherited by a fork
 * child), or -1 with errno err.
 */
static void w_attach(int i, int id, int flags, int want, int err)
{
	struct req q = mkreq(OP_ATTACH, id, flags, 0, 0);
	char what[64];
	struct rep r;

	call(i, &q, &r);
	snprintf(what, sizeof(what), "shmat %s%s", id_name(id),
		 flagname(flags));
	if (r.ret >= 0)
		note("%s: %s -> #%ld", W[i].name, what, r.ret);
	else
		note("%s: %s -> -1 %s", W[i].name, what, errname(r.err));
	if (r.ret != want || (want < 0 && r.err != err))
		T_FAIL("%s: %s returned %ld (%s), expected %d (%s)", W[i].name,
		       what, r.ret, r.ret < 0 ? errname(r.err) : "ok", want,
		       want < 0 ? errname(err) : "ok");
}

static void w_detach(int i, int k, int off, long want, int err)
{
	struct req q = mkreq(OP_DETACH, k, off, 0, 0);
	char what[64];
	struct rep r;

	call(i, &q, &r);
	snprintf(what, sizeof(what), "shmdt #%d+%d", k, off);
	outcome(W[i].name, what, &r, want, err);
}

/* A store of s at #k+off; fault: whether it must fault. */
static void w_write(int i, int k, int off, const char *s, int fault)
{
	struct req q = mkreq(OP_WRITE, k, off, 0, 0);
	struct rep r;

	snprintf(q.s, sizeof(q.s), "%s", s);
	call(i, &q, &r);
	note("%s: write #%d+%d \"%s\" -> %s", W[i].name, k, off, s,
	     r.ret == 0 ? "ok" : r.err == EFAULT ? "SIGSEGV" : errname(r.err));
	if (fault ? r.ret != -1 || r.err != EFAULT : r.ret != 0)
		T_FAIL("%s: write #%d+%d %s", W[i].name, k, off,
		       fault ? "did not fault" : "failed");
}

/* The string at #k+off must be want, or the read must fault (FAULT). */
static void w_read(int i, int k, int off, const char *want)
{
	struct req q = mkreq(OP_READ, k, off, 0, 0);
	struct rep r;

	call(i, &q, &r);
	if (r.ret == 0)
		note("%s: read #%d+%d -> \"%s\"", W[i].name, k, off, r.s);
	else
		note("%s: read #%d+%d -> %s", W[i].name, k, off,
		     r.err == EFAULT ? "SIGSEGV" : errname(r.err));
	if (want ? r.ret != 0 || strcmp(r.s, want) != 0 :
		   r.ret != -1 || r.err != EFAULT)
		T_FAIL("%s: read #%d+%d gave %s \"%s\", expected %s",
		       W[i].name, k, off, r.ret ? "a fault" : "", r.s,
		       want ? want : "a fault");
}

static void w_read_int(int i, int k, int off, long want)
{
	struct req q = mkreq(OP_READ, k, off, 0, 1);
	struct rep r;

	call(i, &q, &r);
	note("%s: read int #%d+%d -> %ld", W[i].name, k, off,
	     r.ret ? -1L : r.val);
	if (r.ret != 0 || r.val != want)
		T_FAIL("%s: read int #%d+%d -> %ld, expected %ld", W[i].name,
		       k, off, r.val, want);
}

static const char *protname(int prot)
{
	return prot == PROT_READ ? "r" : prot == (PROT_READ | PROT_WRITE) ?
	       "rw" : prot == PROT_NONE ? "none" : "?";
}

static void w_mprotect(int i, int k, int off, long len, int prot)
{
	struct req q = mkreq(OP_MPROTECT, k, off, (int)len, prot);
	char what[64];
	struct rep r;

	call(i, &q, &r);
	snprintf(what, sizeof(what), "mprotect #%d+%d len=%ld %s", k, off,
		 len, protname(prot));
	outcome(W[i].name, what, &r, 0, 0);
}

/* Worker i forks worker j, which starts with i's attachments. */
static void w_fork(int i, int j)
{
	struct req q = mkreq(OP_FORK, j, 0, 0, 0);
	struct rep r, rc;

	memset(&W[j], 0, sizeof(W[j]));
	W[j].name[0] = (char)('A' + j);
	if (call(i, &q, &r) != 0 || r.ret != 0) {
		T_FAIL("%s: fork failed: %s", W[i].name, errname(r.err));
		note("%s: fork -> failed", W[i].name);
		return;
	}
	W[j].used = 1;
	W[j].alive = 1;
	W[j].parent = i;
	W[j].pid = (pid_t)r.val;
	note("%s: fork %s -> ok", W[i].name, W[j].name);
	if (get_reply(j, q.seq, &rc) == 0)
		note("%s: started, child of %s", W[j].name, W[i].name);
}

/* Worker i ends as how says (its attachment k for END_SEGV). */
static void w_end(int i, int how, int k)
{
	static const char *const names[] = { "exit(0)", "_exit(0)", "abort()",
					     "store into its read-only #" };
	struct req q = mkreq(OP_END, k, how, 0, 0);

	if (how == END_SEGV)
		note("%s: %s%d", W[i].name, names[how], k);
	else
		note("%s: %s", W[i].name, names[how]);
	send_req(i, &q);
}

static void kill_worker(int i, int sig)
{
	kill(W[i].pid, sig);
	note("runner: kill %s SIG%s", W[i].name, sigabbrev_np(sig));
}

/*
 * Reap worker i: the runner does if it is the parent (or became it, as
 * subreaper, when the parent died); else its parent worker does, on request.
 */
static void reap(int i)
{
	int p = W[i].parent;

	if (p >= 0) {
		struct req q = mkreq(OP_REAP, W[i].pid, 0, 0, 0);
		struct rep r;

		if (call(p, &q, &r) != 0 || r.ret != W[i].pid) {
			T_FAIL("%s did not reap %s", W[p].name, W[i].name);
			note("%s did not reap %s", W[p].name, W[i].name);
			return;
		}
		note_exit(W[i].name, (int)r.val);
	} else {
		reap_worker(W[i].name, W[i].pid);
	}
	W[i].alive = 0;
	for (int j = 0; j < NSLOT; j++)
		if (W[j].used && W[j].parent == i)
			W[j].parent = -1;	/* reparented to the runner */
}

/* Read /proc/PID/comm of worker i into buf; 0, or -1. */
static int comm_of(int i, char *buf, size_t n)
{
	char path[64];
	ssize_t k;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)W[i].pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	k = read(fd, buf, n - 1);
	close(fd);
	if (k <= 0)
		return -1;
	buf[k] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/*
 * Worker i executes cmd ("/bin/cat", "/bin/sleep 60"), stdin from fd
 * (-1: unchanged).  If want_err is 0 the exec must succeed: wait until
 * /proc/PID/comm names the program; else it must fail with want_err.
 */
static void w_exec(int i, const char *cmd, int fd, int want_err)
{
	struct req q = mkreq(OP_EXEC, fd, 0, 0, 0);
	char comm[32], prog[32];
	const char *base;
	struct rep r;
	double end;

	snprintf(q.s, sizeof(q.s), "%s", cmd);
	note("%s: exec %s", W[i].name, cmd);
	if (want_err) {
		call(i, &q, &r);
		outcome(W[i].name, "exec", &r, -1, want_err);
		return;
	}
	snprintf(prog, sizeof(prog), "%.*s", (int)strcspn(cmd, " "), cmd);
	base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
	if (send_req(i, &q) != 0)
		return;
	end = now() + poll_bound;
	for (;;) {
		struct pollfd pfd = { repp[i][0], POLLIN, 0 };

		if (comm_of(i, comm, sizeof(comm)) == 0 && !strcmp(comm, base)) {
			note("%s runs %s", W[i].name, base);
			return;
		}
		if (poll(&pfd, 1, 0) == 1) {
			get_reply(i, q.seq, &r);
			T_FAIL("%s: exec %s failed: %s", W[i].name, cmd,
			       errname(r.err));
			note("%s: exec failed %s", W[i].name, errname(r.err));
			return;
		}
		if (now() > end) {
			T_FAIL("%s: not seen running %s", W[i].name, base);
			note("%s does not run %s", W[i].name, base);
			timed_out();
			return;
		}
		sleep_ms(1);
	}
}

static void w_thread_attach(int i, int id, int want)
{
	struct req q = mkreq(OP_THREAD_ATTACH, id, 0, 0, 0);
	struct rep r;

	call(i, &q, &r);
	if (r.ret >= 0)
		note("%s: a thread: shmat %s -> #%ld, thread exited", W[i].name,
		     id_name(id), r.ret);
	else
		note("%s: a thread: shmat %s -> -1 %s", W[i].name,
		     id_name(id), errname(r.err));
	if (r.ret != want)
		T_FAIL("%s: thread's shmat -> %ld, expected %d", W[i].name,
		       r.ret, want);
}

/* Wait until worker i's main thread is in one of the states (e.g. "Z"). */
static void wait_state(int i, const char *states, const char *what)
{
	wait_task_state(W[i].name, W[i].pid, W[i].pid, states, what);
}

/* Worker i's main thread exits; a new thread serves its requests. */
static void w_main_exit(int i)
{
	struct req q = mkreq(OP_MAIN_EXIT, 0, 0, 0, 0);
	struct rep r;

	if (call(i, &q, &r) != 0 || r.ret != 0) {
		T_FAIL("%s: no serving thread", W[i].name);
		return;
	}
	note("%s: main thread exits, another thread serves", W[i].name);
	wait_state(i, "Z", "main thread gone");
}

/* Kill and reap every worker still around (the runner is their reaper). */
static void cleanup(void)
{
	for (int i = 0; i < NSLOT; i++)
		if (W[i].used && W[i].alive && W[i].pid > 0)
			kill(W[i].pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	for (int i = 0; i < nnamed_ids; i++)
		O->ctl(named_ids[i].id, IPC_RMID, NULL);
}

/* ==== runner: segments ==== */

/* A new segment of size bytes, with the scenario's key or IPC_PRIVATE. */
static int mkseg(const char *name, size_t size, int keyed)
{
	int id = O->get(keyed ? seg_key : IPC_PRIVATE, size,
			IPC_CREAT | IPC_EXCL | 0600);

	note("runner: shmget %s key=%s size=%zu -> %s", name,
	     keyed ? "K" : "0", size, id >= 0 ? "ok" : errname(errno));
	if (id < 0) {
		T_FAIL("shmget %s: %s", name, strerror(errno));
		return id;
	}
	for (int i = 0; i < nnamed_ids; i++)
		if (named_ids[i].id == id)
			T_FAIL("%s has the id of %s", name, named_ids[i].name);
	name_id(id, name);
	return id;
}

static void rmid(int id, int want, int err)
{
	struct rep r = { 0 };
	char what[64];

	errno = 0;
	r.ret = O->ctl(id, IPC_RMID, NULL);
	r.err = errno;
	snprintf(what, sizeof(what), "IPC_RMID %s", id_name(id));
	outcome("runner", what, &r, want, err);
}

/* IPC_SET of the permission bits. */
static void set_mode(int id, int mode)
{
	struct shmid_ds d;
	struct rep r = { 0 };
	char what[64];

	errno = 0;
	r.ret = O->ctl(id, IPC_STAT, &d);
	if (r.ret == 0) {
		d.shm_perm.mode = (unsigned short)mode;
		r.ret = O->ctl(id, IPC_SET, &d);
	}
	r.err = errno;
	snprintf(what, sizeof(what), "IPC_SET %s mode=%o", id_name(id), mode);
	outcome("runner", what, &r, 0, 0);
}

/* shmget of the scenario's key by the runner. */
static void get_key(size_t size, int flags, long want, int err)
{
	struct rep r = { 0 };
	char what[64];

	errno = 0;
	r.ret = O->get(seg_key, size, flags);
	r.err = errno;
	snprintf(what, sizeof(what), "shmget K size=%zu flags=%#o", size,
		 flags);
	if (r.ret >= 0 && want >= 0) {
		note("runner: %s -> %s", what, id_name((int)r.ret));
		if (r.ret != want)
			T_FAIL("%s gave %s", what, id_name((int)r.ret));
		return;
	}
	outcome("runner", what, &r, want, err);
}

static void shminfo(const char *label)
{
	struct shm_info si;
	int r = O->ctl(0, SHM_INFO, (struct shmid_ds *)(void *)&si);

	if (r < 0) {
		note("runner: SHM_INFO %s: -1 %s", label, errname(errno));
		T_FAIL("SHM_INFO: %s", strerror(errno));
		return;
	}
	note("runner: SHM_INFO %s: used_ids=%d shm_tot=%lu", label,
	     si.used_ids, (unsigned long)si.shm_tot);
}

/* Wait until the wall clock's second changes; times are then old or new. */
static void tick(void)
{
	time_t t;

	sleep_ms(10);	/* a timestamp taken before is in a past second */
	t = time(NULL);
	while (time(NULL) == t)
		sleep_ms(1);
	tick_ref = time(NULL);
	note("runner: tick");
}

static const char *tname(time_t t)
{
	if (t == 0)
		return "0";
	if (!tick_ref)
		return "set";
	return t >= tick_ref ? "new" : "old";
}

static const char *keyname(key_t k)
{
	static char buf[32];

	if (k == IPC_PRIVATE)
		return "0";
	if (k == seg_key)
		return "K";
	snprintf(buf, sizeof(buf), "%#x", (unsigned)k);
	return buf;
}

/* shm_nattch of id, GONE when IPC_STAT fails with EINVAL, -2 otherwise. */
static int nattch_of(int id)
{
	struct shmid_ds d;

	if (O->ctl(id, IPC_STAT, &d) != 0)
		return errno == EINVAL ? GONE : -2;
	return (int)d.shm_nattch;
}

/* Write the state of segment id. */
static void show(int id, const char *label)
{
	struct shmid_ds d;

	if (O->ctl(id, IPC_STAT, &d) != 0) {
		note("runner: %s %s: IPC_STAT -> -1 %s", id_name(id), label,
		     errname(errno));
		return;
	}
	note("runner: %s %s: nattch=%lu cpid=%s lpid=%s atime=%s dtime=%s "
	     "ctime=%s mode=%o key=%s segsz=%zu", id_name(id), label,
	     (unsigned long)d.shm_nattch, pidname(d.shm_cpid),
	     pidname(d.shm_lpid), tname(d.shm_atime), tname(d.shm_dtime),
	     tname(d.shm_ctime), (unsigned)d.shm_perm.mode,
	     keyname(d.shm_perm.__key), (size_t)d.shm_segsz);
}

/* The state now: shm_nattch must be want (GONE: the segment is gone). */
static void check(int id, int want, const char *label)
{
	int n = nattch_of(id);

	if (n != want)
		T_FAIL("%s %s: nattch %d, expected %d", id_name(id), label, n,
		       want);
	show(id, label);
}

/*
 * After a death: poll (bounded) until shm_nattch is want, look again a
 * little later, and write the state.
 */
static void settle(int id, int want, const char *label)
{
	settle_until(nattch_of(id) == want);
	check(id, want, label);
}

/* ==== scenarios ==== */

/*
 * (1) One process: each shmat counts, each shmdt uncounts; attachments of
 * one segment see each other's stores; shmdt needs an attachment's start.
 */
static void sc_one(void)
{
	int S = mkseg("S", (size_t)(2 * PG - 100), 1);
	int P = (int)PG;

	show(S, "new");
	spawn(0);
	w_attach(0, S, 0, 0, 0);
	check(S, 1, "A attached");
	w_attach(0, S, 0, 1, 0);
	w_attach(0, S, 0, 2, 0);
	check(S, 3, "A attached 3 times");
	w_write(0, 0, 0, "one", 0);
	w_read(0, 1, 0, "one");
	w_write(0, 2, P + 8, "two", 0);
	w_read(0, 0, P + 8, "two");
	w_attach(0, S, SHM_RDONLY, 3, 0);
	check(S, 4, "A attached read-only");
	w_read(0, 3, P + 8, "two");
	w_write(0, 3, 0, "ro", 1);
	w_read(0, 0, 0, "one");
	w_detach(0, 1, 0, 0, 0);
	check(S, 3, "A detached #1");
	w_read(0, 1, 0, FAULT);
	w_detach(0, 1, 0, -1, EINVAL);
	w_detach(0, 0, P, -1, EINVAL);
	w_detach(0, 0, 8, -1, EINVAL);
	check(S, 3, "after failed shmdt");
	w_read(0, 2, 0, "one");
	w_detach(0, 0, 0, 0, 0);
	w_detach(0, 2, 0, 0, 0);
	check(S, 1, "A detached #0 and #2");
	w_detach(0, 3, 0, 0, 0);
	check(S, 0, "A detached all");
	w_attach(0, S, 0, 4, 0);
	w_detach(0, 4, 0, 0, 0);
	check(S, 0, "A attached and detached again");
	w_end(0, END_EXIT, 0);
	reap(0);
	settle(S, 0, "A exited");
	rmid(S, 0, 0);
	check(S, GONE, "removed");
}

/*
 * (2) A fork child inherits its parent's attachments and they count; the
 * child's detach, exit, SIGKILL and SIGSEGV take back its own; a parent
 * exiting leaves its children's.
 */
static void sc_fork(void)
{
	int S = mkseg("S", (size_t)PG, 0);

	spawn(0);
	w_attach(0, S, 0, 0, 0);
	w_attach(0, S, 0, 1, 0);
	w_write(0, 0, 0, "parent", 0);
	check(S, 2, "A attached twice");
	w_fork(0, 1);
	check(S, 4, "A forked B");
	w_read(1, 1, 0, "parent");
	w_write(1, 0, 64, "child", 0);
	w_read(0, 1, 64, "child");
	w_detach(1, 0, 0, 0, 0);
	check(S, 3, "B detached #0");
	w_read(0, 0, 64, "child");
	w_read(1, 0, 0, FAULT);
	w_end(1, END_EXIT, 0);
	reap(1);
	settle(S, 2, "B exited");

	w_fork(0, 2);
	check(S, 4, "A forked C");
	kill_worker(2, SIGKILL);
	reap(2);
	settle(S, 2, "C killed");

	w_attach(0, S, SHM_RDONLY, 2, 0);
	check(S, 3, "A attached read-only");
	w_fork(0, 3);
	check(S, 6, "A forked D");
	w_end(3, END_SEGV, 2);
	reap(3);
	settle(S, 3, "D killed");

	w_fork(0, 4);
	w_fork(4, 5);
	check(S, 9, "A forked E, E forked F");
	w_end(0, END_EXIT, 0);
	reap(0);
	settle(S, 6, "A exited, E and F live");
	w_read(5, 1, 64, "child");
	kill_worker(4, SIGKILL);
	reap(4);
	settle(S, 3, "E killed, F lives");
	w_detach(5, 2, 0, 0, 0);
	check(S, 2, "F detached #2");
	w_end(5, END__EXIT, 0);
	reap(5);
	settle(S, 0, "F exited");
	rmid(S, 0, 0);
}

static int cat_in[2] = { -1, -1 };

/*
 * (3) execve detaches everything, when the new program starts (not when it
 * ends); a failed execve detaches nothing.
 */
static void sc_exec(void)
{
	int S = mkseg("S", (size_t)PG, 0);

	if (pipe2(cat_in, O_CLOEXEC) != 0) {
		T_FAIL("pipe: %s", strerror(errno));
		return;
	}
	spawn(0);
	close(cat_in[0]);
	w_attach(0, S, 0, 0, 0);
	w_attach(0, S, 0, 1, 0);
	check(S, 2, "A attached twice");
	w_exec(0, "/nonexistent/program", -1, ENOENT);
	check(S, 2, "A's exec failed");
	w_exec(0, "/bin/cat", cat_in[0], 0);
	settle(S, 0, "A runs cat");
	close(cat_in[1]);
	note("runner: closed cat's input");
	reap(0);
	settle(S, 0, "cat exited");

	spawn(1);
	w_attach(1, S, 0, 0, 0);
	w_fork(1, 2);
	check(S, 2, "B attached, forked C");
	w_exec(2, "/bin/true", -1, 0);
	settle(S, 1, "C runs true");
	reap(2);
	settle(S, 1, "true exited");
	w_exec(1, "/bin/sleep 60", -1, 0);
	settle(S, 0, "B runs sleep");
	kill_worker(1, SIGKILL);
	reap(1);
	settle(S, 0, "sleep killed");
	rmid(S, 0, 0);
}

/*
 * (4) Every way of ending detaches a process's attachments: exit, _exit,
 * abort, SIGSEGV, SIGKILL (running, or stopped), SIGTERM.  Worker A holds
 * one attachment throughout.
 */
static void sc_ends(void)
{
	static const struct {
		int how, sig, stop;
		const char *label;
	} way[] = {
		{ END_EXIT, 0, 0, "B exited" },
		{ END__EXIT, 0, 0, "C _exited" },
		{ END_ABORT, 0, 0, "D aborted" },
		{ END_SEGV, 0, 0, "E killed by SIGSEGV" },
		{ -1, SIGKILL, 0, "F killed" },
		{ -1, SIGKILL, 1, "G killed while stopped" },
		{ -1, SIGTERM, 0, "H terminated" },
	};
	int S = mkseg("S", (size_t)PG, 0);

	spawn(0);
	w_attach(0, S, 0, 0, 0);
	for (int k = 0; k < (int)(sizeof(way) / sizeof(way[0])); k++) {
		int i = k + 1;

		spawn(i);
		w_attach(i, S, 0, 0, 0);
		w_attach(i, S, SHM_RDONLY, 1, 0);
		check(S, 3, "attached");
		if (way[k].how >= 0) {
			w_end(i, way[k].how, 1);
		} else {
			if (way[k].stop) {
				kill_worker(i, SIGSTOP);
				wait_state(i, "T", "stopped");
			}
			kill_worker(i, way[k].sig);
		}
		reap(i);
		settle(S, 1, way[k].label);
	}
	w_detach(0, 0, 0, 0, 0);
	check(S, 0, "A detached");
	rmid(S, 0, 0);
}

/*
 * (5) Attachments belong to the process: a thread's stay after it exits;
 * the main thread exiting alone changes nothing.
 */
static void sc_threads(void)
{
	int S = mkseg("S", (size_t)PG, 0);

	spawn(0);
	w_thread_attach(0, S, 0);
	check(S, 1, "A's thread attached and exited");
	w_write(0, 0, 0, "thread", 0);
	w_read(0, 0, 0, "thread");
	w_detach(0, 0, 0, 0, 0);
	check(S, 0, "A's main thread detached the thread's #0");
	w_thread_attach(0, S, 1);
	w_thread_attach(0, S, 2);
	check(S, 2, "two threads attached and exited");
	w_main_exit(0);
	settle(S, 2, "A's main thread gone");
	w_attach(0, S, 0, 3, 0);
	w_read(0, 1, 0, "thread");
	check(S, 3, "A's other thread attached");
	w_end(0, END_EXIT, 0);
	reap(0);
	settle(S, 0, "A exited");
	rmid(S, 0, 0);
}

/*
 * (6) mprotect of a part of an attachment, then shmdt of its start: the
 * whole attachment goes, pieces included; shmdt of a piece is EINVAL.  The
 * state is looked at only while nothing is split (see (7) for the counts).
 */
static void sc_mprotect_detach(void)
{
	int S = mkseg("S", (size_t)(3 * PG), 0);
	int P = (int)PG;

	spawn(0);
	w_attach(0, S, 0, 0, 0);
	w_write(0, 0, 0, "p0", 0);
	w_write(0, 0, P, "p1", 0);
	w_write(0, 0, 2 * P, "p2", 0);
	check(S, 1, "A attached");
	w_mprotect(0, 0, P, PG, PROT_READ);
	w_write(0, 0, P, "x", 1);
	w_read(0, 0, P, "p1");
	w_write(0, 0, 2 * P, "q2", 0);
	w_mprotect(0, 0, P, PG, PROT_READ | PROT_WRITE);
	w_write(0, 0, P, "q1", 0);
	w_detach(0, 0, P, -1, EINVAL);
	w_detach(0, 0, 2 * P, -1, EINVAL);
	w_read(0, 0, 2 * P, "q2");
	w_detach(0, 0, 0, 0, 0);
	check(S, 0, "A detached #0");
	w_read(0, 0, 0, FAULT);
	w_read(0, 0, P, FAULT);
	w_read(0, 0, 2 * P, FAULT);

	w_attach(0, S, 0, 1, 0);
	w_mprotect(0, 1, 0, PG, PROT_READ);
	w_mprotect(0, 1, 2 * P, PG, PROT_NONE);
	w_read(0, 1, P, "q1");
	w_read(0, 1, 2 * P, FAULT);
	w_detach(0, 1, 0, 0, 0);
	check(S, 0, "A detached #1");
	w_read(0, 1, P, FAULT);

	w_attach(0, S, 0, 2, 0);
	w_mprotect(0, 2, 0, 3 * PG, PROT_READ);
	check(S, 1, "a whole attachment read-only");
	w_write(0, 2, 0, "x", 1);
	w_read(0, 2, 2 * P, "q2");
	w_detach(0, 2, 0, 0, 0);
	check(S, 0, "A detached #2");
	w_end(0, END_EXIT, 0);
	reap(0);
	settle(S, 0, "A exited");
	rmid(S, 0, 0);
}

/*
 * (7) The kernel counts the pieces (VMAs) of a split attachment, in the
 * process and in its fork children, and never merges them back; a split is
 * an attach by the caller of mprotect (shm_lpid, shm_atime).
 */
static void sc_mprotect_nattch(void)
{
	int S = mkseg("S", (size_t)(4 * PG), 0);
	int P = (int)PG;

	spawn(0);
	w_attach(0, S, 0, 0, 0);
	check(S, 1, "A attached");
	w_mprotect(0, 0, P, PG, PROT_READ);
	check(S, 3, "second page read-only");
	w_mprotect(0, 0, P, PG, PROT_READ | PROT_WRITE);
	check(S, 3, "second page writable again");
	w_detach(0, 0, P, -1, EINVAL);
	check(S, 3, "after a failed shmdt");
	w_fork(0, 1);
	check(S, 6, "A forked B");
	w_end(1, END_EXIT, 0);
	reap(1);
	settle(S, 3, "B exited");
	tick();
	w_mprotect(0, 0, 3 * P, PG, PROT_READ);
	check(S, 4, "last page read-only");
	w_detach(0, 0, 0, 0, 0);
	check(S, 0, "A detached #0");

	w_attach(0, S, 0, 1, 0);
	w_mprotect(0, 1, 0, PG, PROT_READ);
	check(S, 2, "first page read-only");
	w_mprotect(0, 1, 0, 4 * PG, PROT_READ);
	check(S, 2, "all read-only");
	kill_worker(0, SIGKILL);
	reap(0);
	settle(S, 0, "A killed");
	rmid(S, 0, 0);
}

/*
 * (8) IPC_RMID of an attached segment: SHM_DEST, key IPC_PRIVATE, attach by
 * id still works; gone at the last detach, however it happens.
 */
static void sc_rmid(void)
{
	int S = mkseg("S", (size_t)PG, 1), S2, S3;

	get_key(0, 0, S, 0);
	shminfo("one segment");
	spawn(0);
	w_attach(0, S, 0, 0, 0);
	w_write(0, 0, 0, "kept", 0);
	check(S, 1, "A attached");
	rmid(S, 0, 0);
	check(S, 1, "removed while attached");
	shminfo("removed, attached");
	get_key(0, 0, -1, ENOENT);
	spawn(1);
	w_attach(1, S, 0, 0, 0);
	check(S, 2, "B attached by id");
	w_read(1, 0, 0, "kept");
	w_write(1, 0, 8, "more", 0);
	w_read(0, 0, 8, "more");

	S2 = mkseg("S2", (size_t)PG, 1);
	get_key(0, 0, S2, 0);
	shminfo("S removed, S2 new");
	rmid(S2, 0, 0);
	check(S2, GONE, "removed unattached");
	shminfo("S2 gone");

	rmid(S, 0, 0);
	set_mode(S, 0640);
	check(S, 2, "removed twice, IPC_SET");
	w_fork(1, 2);
	check(S, 3, "B forked C");
	w_end(2, END_EXIT, 0);
	reap(2);
	settle(S, 2, "C exited");
	w_detach(0, 0, 0, 0, 0);
	check(S, 1, "A detached");
	w_attach(0, S, 0, 1, 0);
	check(S, 2, "A attached again");
	w_end(0, END_EXIT, 0);
	reap(0);
	settle(S, 1, "A exited");
	w_read(1, 0, 0, "kept");
	kill_worker(1, SIGKILL);
	reap(1);
	settle(S, GONE, "B, the last, killed");
	shminfo("S gone");
	spawn(3);
	w_attach(3, S, 0, -1, EINVAL);
	rmid(S, -1, EINVAL);

	/* the last detach by shmdt */
	S3 = mkseg("S3", (size_t)PG, 0);
	w_attach(3, S3, 0, 0, 0);
	w_attach(3, S3, 0, 1, 0);
	rmid(S3, 0, 0);
	w_detach(3, 0, 0, 0, 0);
	check(S3, 1, "removed, D detached #0");
	w_read(3, 1, 0, "");
	w_detach(3, 1, 0, 0, 0);
	check(S3, GONE, "D detached the last");
	w_read(3, 1, 0, FAULT);
	shminfo("S3 gone");
	w_end(3, END_EXIT, 0);
	reap(3);
}

/* (9) Two processes exchange data through one segment. */
static void sc_two(void)
{
	int S = mkseg("S", (size_t)PG, 0);
	struct req qa, qb;
	struct rep ra, rb;

	spawn(0);
	spawn(1);
	w_attach(0, S, 0, 0, 0);
	w_attach(1, S, 0, 0, 0);
	w_attach(1, S, SHM_RDONLY, 1, 0);
	check(S, 3, "A and B attached");
	w_read(1, 0, 0, "");
	w_write(0, 0, 0, "ping", 0);
	w_read(1, 0, 0, "ping");
	w_read(1, 1, 0, "ping");
	w_write(1, 0, 16, "pong", 0);
	w_read(0, 0, 16, "pong");
	w_write(1, 1, 16, "ro", 1);

	/* both at once */
	qa = mkreq(OP_ADD, 0, 256, 100000, 0);
	qb = mkreq(OP_ADD, 0, 256, 100000, 0);
	send_req(0, &qa);
	send_req(1, &qb);
	get_reply(0, qa.seq, &ra);
	get_reply(1, qb.seq, &rb);
	note("A, B: 100000 atomic increments each");
	w_read_int(0, 0, 256, 200000);
	qa = mkreq(OP_PINGPONG, 0, 512, 2000, 0);
	qb = mkreq(OP_PINGPONG, 0, 512, 2000, 1);
	send_req(0, &qa);
	send_req(1, &qb);
	ra.ret = rb.ret = -1;
	get_reply(0, qa.seq, &ra);
	get_reply(1, qb.seq, &rb);
	note("A, B: ping-pong -> %ld, %ld rounds", ra.ret, rb.ret);
	if (ra.ret != 2000 || rb.ret != 2000)
		T_FAIL("ping-pong: %ld, %ld rounds of 2000", ra.ret, rb.ret);
	w_read_int(1, 1, 512, 4000);
	w_end(0, END_EXIT, 0);
	reap(0);
	settle(S, 2, "A exited");
	w_end(1, END_EXIT, 0);
	reap(1);
	settle(S, 0, "B exited");
	rmid(S, 0, 0);
}

/* (10) Which events set shm_atime, shm_dtime and shm_ctime. */
static void sc_times(void)
{
	int S = mkseg("S", (size_t)PG, 0);

	show(S, "new");
	spawn(0);
	w_attach(0, S, 0, 0, 0);
	check(S, 1, "A attached");
	tick();
	w_fork(0, 1);
	check(S, 2, "A forked B");
	tick();
	w_end(1, END_EXIT, 0);
	reap(1);
	settle(S, 1, "B exited");
	tick();
	set_mode(S, 0640);
	check(S, 1, "IPC_SET");
	tick();
	rmid(S, 0, 0);
	check(S, 1, "IPC_RMID");
	kill_worker(0, SIGKILL);
	reap(0);
	settle(S, GONE, "A killed");
}

/* ==== driver ==== */

static const struct scenario scenarios[] = {
	{ "one_process", sc_one },
	{ "fork", sc_fork },
	{ "exec", sc_exec },
	{ "ends", sc_ends },
	{ "threads", sc_threads },
	{ "mprotect_detach", sc_mprotect_detach },
	{ "mprotect_nattch", sc_mprotect_nattch },
	{ "rmid", sc_rmid },
	{ "two_processes", sc_two },
	{ "times", sc_times },
};

/*
 * Before a scenario: the runner adopts orphaned workers, and has every
 * worker's pipes.
 */
static void prepare_runner(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (int i = 0; i < NSLOT; i++)
		if (pipe2(cmdp[i], O_CLOEXEC) != 0 ||
		    pipe2(repp[i], O_CLOEXEC) != 0) {
			T_FAIL("pipe: %s", strerror(errno));
			_exit(1);
		}
}

static const struct block_test test = {
	scenarios, sizeof(scenarios) / sizeof(scenarios[0]),
	&kernel_ops, &uipc_ops, NULL,
	/*
	 * A known difference (README): Linux counts the pieces that mprotect
	 * splits an attachment into; uipc counts attachments.  Runs with
	 * UIPC_SHM_ALL=1 or when named.
	 */
	"mprotect_nattch", "UIPC_SHM_ALL",
	prepare_runner, cleanup,
};

/*
 * fork counts at once: nattch, read by the parent the moment each fork
 * returns, already counts the child's inherited attachments (Linux copies
 * the mappings inside fork).  With the same results on the kernel (in
 * IPC_PRIVATE) and on uipc: two attachments, FORKS children blocked on a
 * pipe, then all gone.  Returns the number of wrong counts.
 */
#define FORKS 20

static int fork_counts_at_once(const struct ops *o)
{
	int id = o->get(IPC_PRIVATE, 4096, IPC_CREAT | 0600), wrong = 0, k, hold[2];
	void *a = o->at(id, NULL, 0), *b = o->at(id, NULL, SHM_RDONLY);
	pid_t kids[FORKS];
	struct shmid_ds ds;

	if (id < 0 || a == (void *)-1 || b == (void *)-1 || pipe(hold) < 0)
		return -1;
	for (k = 0; k < FORKS; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			char c;

			close(hold[1]);
			_exit(read(hold[0], &c, 1) == 0 ? 0 : 1);
		}
		if (kids[k] < 0 || o->ctl(id, IPC_STAT, &ds) < 0 ||
		    ds.shm_nattch != (shmatt_t)(2 * (k + 2))) {
			T_FAIL("%s: after fork %d nattch is %lu, expected %d", o->name, k + 1,
			       (unsigned long)ds.shm_nattch, 2 * (k + 2));
			wrong++;
		}
	}
	close(hold[0]);
	close(hold[1]);
	for (k = 0; k < FORKS; k++)
		if (kids[k] > 0)
			waitpid(kids[k], NULL, 0);
	if (o->ctl(id, IPC_STAT, &ds) < 0 || ds.shm_nattch != 2) {
		T_FAIL("%s: after the children ended nattch is %lu, expected 2", o->name,
		       (unsigned long)ds.shm_nattch);
		wrong++;
	}
	o->dt(a);
	o->dt(b);
	o->ctl(id, IPC_RMID, NULL);
	return wrong;
}

int main(int argc, char **argv)
{
	struct options opt = parse_options(argc, argv);

	PG = sysconf(_SC_PAGESIZE);
	seg_key = (key_t)(0x53480000 | (getpid() & 0xffff));
	if (run_scenarios(&test, opt) == 77)
		return 77;
	if (!opt.only || strstr("fork_counts_at_once", opt.only)) {
		t_case("fork_counts_at_once [kernel]");
		CHECK_EQ(fork_counts_at_once(&kernel_ops), 0);
		t_done();
		t_case("fork_counts_at_once [uipc]");
		CHECK_EQ(fork_counts_at_once(&uipc_ops), 0);
		t_done();
	}
	return t_exit();
}
