/*
 * msg_nosyscall.c - the message queue fast path makes no system call.
 *
 * DESIGN.md section 4: "a send to a queue with room, a receive of a present
 * message ... makes no system call".  This test proves it with seccomp rather
 * than by timing or by reading the code:
 *
 *   - A fixed sequence of operations (one "round") is written once, against a
 *     table of msgsnd/msgrcv functions, with exact expected results: a 64-byte
 *     message received whole into a larger buffer (bytes beyond it untouched),
 *     a zero-length message, typed receives with msgtyp > 0 and msgtyp < 0
 *     (lowest type <= |msgtyp|, and ENOMSG when only higher types are left),
 *     and IPC_NOWAIT receives on an empty queue returning ENOMSG.
 *   - The round is first checked against the kernel (the oracle, on an
 *     IPC_PRIVATE queue that is removed afterwards), then on uipc without any
 *     filter, so that a wrong result is told apart from a system call.
 *   - A forked child does one warm-up msgsnd+msgrcv pair on uipc (which may
 *     open and map the object, or notice the fork), then installs a seccomp
 *     filter, written by hand in classic BPF, that returns SECCOMP_RET_TRAP for
 *     every system call except rt_sigreturn, exit_group and write.  A SIGSYS
 *     handler counts the traps (and records the first syscall numbers), and
 *     makes the trapped call fail with ENOSYS.  The child then runs:
 *       phase 1: getppid() - the control: must be counted exactly once;
 *       phase 2: 10 kernel msgsnd+msgrcv pairs - must be counted 20 times, so
 *                a system-call-based implementation would fail this test;
 *       phase 3: 1000 rounds on uipc - must be counted 0 times, with exact
 *                data.
 *     The child writes everything to a MAP_SHARED result block (no system
 *     call needed) and leaves with a direct exit_group.  Nothing in the
 *     filtered part uses stdio or malloc.
 *   - The parent bounds its wait, then checks the counts, the data, and the
 *     queue's state afterwards (empty; msg_lspid and msg_lrpid = the child, so
 *     a fast path that skipped the bookkeeping would be caught too).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "uipc.h"
#include "t.h"
#include "nosyscall.h"

#define ROUNDS 1000
#define KERNEL_PAIRS 10

#ifndef ARCH_NR
int main(void)
{
	printf("SKIP: no seccomp syscall-result register known for this architecture\n");
	return 77;
}
#else

struct msgbuf128 {
	long mtype;
	unsigned char mtext[128];
};

struct ops {
	int (*snd)(int, const void *, size_t, int);
	ssize_t (*rcv)(int, void *, size_t, long, int);
};

static const struct ops kernel_ops = { msgsnd, msgrcv };
static const struct ops uipc_ops = { uipc_msgsnd, uipc_msgrcv };

/* The first wrong result of a round: which round, which step, what came back. */
struct fail {
	int round, step;
	long long ret;
	int err;
	long mtype;
	int byte; /* index of the first wrong byte, or -1 */
};

/* Shared between the filtered child and the parent. */
struct result {
	struct traps traps;
	volatile int rounds_done;
	volatile int warmup_ok;
	volatile int finished;
	struct fail fail;
	int failed;
};

static struct result *res;

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t j = 0; j < n; j++)
		p[j] = (unsigned char)(seed * 131u + j * 7u + 1u);
}

/* The first index where p differs from fill(seed), or -1. */
static int diff(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t j = 0; j < n; j++)
		if (p[j] != (unsigned char)(seed * 131u + j * 7u + 1u))
			return (int)j;
	return -1;
}

/* The first index in [from, to) where p is not 0xEE, or -1. */
static int untouched(const unsigned char *p, size_t from, size_t to)
{
	for (size_t j = from; j < to; j++)
		if (p[j] != 0xEE)
			return (int)j;
	return -1;
}

/*
 * The buffers are static, as a program's are that keeps its messages in the
 * same places: uipc checks a page of the caller's the first time it is used
 * (process_vm_readv/writev), and the warm-up rounds must use the pages the
 * filtered rounds use (buffers on the stack move with its depth).
 */
static struct msgbuf128 snd_buf, rcv_buf;

static int snd(const struct ops *o, int id, long type, size_t len, unsigned seed,
	       struct fail *f, int round, int step)
{
	struct msgbuf128 *m = &snd_buf;

	m->mtype = type;
	fill(m->mtext, len, seed);
	errno = 0;
	int r = o->snd(id, m, len, 0);
	if (r != 0) {
		*f = (struct fail){ round, step, r, errno, type, -1 };
		return -1;
	}
	return 0;
}

/* Receive with msgtyp/flags; expect a message of type want_type, len bytes. */
static int rcv(const struct ops *o, int id, long msgtyp, int flags, long want_type,
	       size_t len, unsigned seed, struct fail *f, int round, int step)
{
	struct msgbuf128 *m = &rcv_buf;

	m->mtype = -12345;
	memset(m->mtext, 0xEE, sizeof(m->mtext));
	errno = 0;
	ssize_t r = o->rcv(id, m, sizeof(m->mtext), msgtyp, flags);
	int err = errno;
	int bad = -1;
	if (r == (ssize_t)len && m->mtype == want_type) {
		bad = diff(m->mtext, len, seed);
		if (bad < 0)
			bad = untouched(m->mtext, len, sizeof(m->mtext));
		if (bad < 0)
			return 0;
	}
	*f = (struct fail){ round, step, r, err, m->mtype, bad };
	return -1;
}

/* Expect -1 ENOMSG, nothing written to the buffer. */
static int rcv_nomsg(const struct ops *o, int id, long msgtyp, struct fail *f,
		     int round, int step)
{
	struct msgbuf128 *m = &rcv_buf;

	m->mtype = -12345;
	memset(m->mtext, 0xEE, sizeof(m->mtext));
	errno = 0;
	ssize_t r = o->rcv(id, m, sizeof(m->mtext), msgtyp, IPC_NOWAIT);
	int err = errno;
	int bad = untouched(m->mtext, 0, sizeof(m->mtext));
	if (r == -1 && err == ENOMSG && m->mtype == -12345 && bad < 0)
		return 0;
	*f = (struct fail){ round, step, r, err, m->mtype, bad };
	return -1;
}

/*
 * One round on an empty queue; leaves it empty.  Returns 0, or -1 with the
 * first wrong result in *f.  Steps are numbered for the report.
 */
static int round_ops(const struct ops *o, int id, int i, struct fail *f)
{
	unsigned s = (unsigned)i * 16u;
	long t = 1 + i % 100;

	/* 64 bytes, any type, into a 128-byte buffer. */
	if (snd(o, id, t, 64, s, f, i, 1) || rcv(o, id, 0, 0, t, 64, s, f, i, 2))
		return -1;
	/* Zero-length message. */
	if (snd(o, id, 5, 0, s + 1, f, i, 3) || rcv(o, id, 0, 0, 5, 0, s + 1, f, i, 4))
		return -1;
	/* Types 7, 3, 9 queued in that order. */
	if (snd(o, id, 7, 16, s + 2, f, i, 5) || snd(o, id, 3, 17, s + 3, f, i, 6) ||
	    snd(o, id, 9, 18, s + 4, f, i, 7))
		return -1;
	/* msgtyp > 0: the first message of exactly that type. */
	if (rcv(o, id, 9, 0, 9, 18, s + 4, f, i, 8))
		return -1;
	/* msgtyp < 0: the lowest type <= |msgtyp| (3, not 7 which is first). */
	if (rcv(o, id, -7, 0, 3, 17, s + 3, f, i, 9))
		return -1;
	/* msgtyp < 0 with only a higher type left: ENOMSG with IPC_NOWAIT. */
	if (rcv_nomsg(o, id, -6, f, i, 10))
		return -1;
	/* msgtyp > 0 with no such type: ENOMSG. */
	if (rcv_nomsg(o, id, 3, f, i, 11))
		return -1;
	if (rcv(o, id, 7, 0, 7, 16, s + 2, f, i, 12))
		return -1;
	/* The queue is empty now. */
	if (rcv_nomsg(o, id, 0, f, i, 13) || rcv_nomsg(o, id, -100, f, i, 14))
		return -1;
	return 0;
}

static int run_rounds(const struct ops *o, int id, int n, struct fail *f, volatile int *done)
{
	for (int i = 0; i < n; i++) {
		if (round_ops(o, id, i, f))
			return -1;
		if (done)
			*done = i + 1;
	}
	return 0;
}

static void report_fail(const char *who, const struct fail *f)
{
	T_FAIL("%s: round %d step %d: returned %lld errno %d (%s), mtype %ld, "
	       "first wrong byte %d", who, f->round, f->step, f->ret, f->err,
	       strerror(f->err), f->mtype, f->byte);
}

static void child(int id)
{
	struct fail f;

	/* Warm-up: may open and map the object, notice the fork, etc. */
	res->warmup_ok = snd(&uipc_ops, id, 1, 64, 99, &f, -1, 1) == 0 &&
			 rcv(&uipc_ops, id, 0, 0, 1, 64, 99, &f, -1, 2) == 0;
	if (!res->warmup_ok) {
		res->fail = f;
		_exit(0);
	}

	if (start_trapping() != 0)
		_exit(0);

	/*
	 * Phase 2: a syscall-based implementation would be counted.  The id is
	 * invalid (-1), so that nothing happens should a call get through.
	 */
	traps->phase = 2;
	for (int i = 0; i < KERNEL_PAIRS; i++) {
		struct msgbuf128 m = { 1, { 0 } };
		(void)msgsnd(-1, &m, 64, IPC_NOWAIT);
		(void)msgrcv(-1, &m, 64, 0, IPC_NOWAIT);
	}

	/* Phase 3: uipc. */
	traps->phase = 3;
	if (run_rounds(&uipc_ops, id, ROUNDS, &f, &res->rounds_done)) {
		res->fail = f;
		res->failed = 1;
	}
	res->finished = 1;
	leave_child();
}

int main(void)
{
	struct fail f;
	int kid, id;

	setvbuf(stdout, NULL, _IOLBF, 0);

	t_case("kernel (oracle): the round's expected results hold on the kernel");
	kid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	CHECK(kid >= 0);
	if (kid >= 0) {
		if (run_rounds(&kernel_ops, kid, 3, &f, NULL))
			report_fail("kernel", &f);
		CHECK_EQ(msgctl(kid, IPC_RMID, NULL), 0);
	}
	t_done();

	id = uipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (id < 0) {
		perror("uipc_msgget");
		return 1;
	}

	t_case("uipc: the round's results, without a filter");
	if (run_rounds(&uipc_ops, id, 3, &f, NULL))
		report_fail("uipc", &f);
	t_done();

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset((void *)res, 0, sizeof(*res));
	traps = &res->traps;
	pid_t pid;
	int status = run_child(child, id, &pid);
	if (status == -2)
		return 1;
	if (filter_unavailable(res->warmup_ok)) {
		uipc_msgctl(id, IPC_RMID, NULL);
		return 77;
	}

	t_case("child: warm-up pair, filter installed, exited normally");
	if (!res->warmup_ok)
		report_fail("uipc warm-up", &res->fail);
	check_child_ended(status, res->finished, res->rounds_done);
	t_done();

	check_control();

	t_case("control: kernel msgsnd+msgrcv under the filter are counted");
	CHECK_EQ(traps->count[2], 2 * KERNEL_PAIRS);
	t_done();

	t_case("uipc: 1000 rounds of msgsnd+msgrcv make no system call");
	CHECK_EQ(traps->count[3], 0);
	if (traps->nnrs[3] > 0)
		T_FAIL("system calls made (numbers, first %d):%s", MAX_NRS, trapped_numbers(3));
	t_done();

	t_case("uipc: 1000 rounds under the filter return exact data");
	if (res->failed)
		report_fail("uipc filtered", &res->fail);
	CHECK_EQ(res->rounds_done, ROUNDS);
	t_done();

	t_case("uipc: queue state after the filtered child");
	struct msqid_ds ds;
	memset(&ds, 0, sizeof(ds));
	CHECK_EQ(uipc_msgctl(id, IPC_STAT, &ds), 0);
	CHECK_EQ(ds.msg_qnum, 0);
	CHECK_EQ(ds.__msg_cbytes, 0);
	CHECK_EQ(ds.msg_lspid, pid);
	CHECK_EQ(ds.msg_lrpid, pid);
	CHECK(ds.msg_stime != 0 && ds.msg_rtime != 0);
	CHECK_EQ(uipc_msgctl(id, IPC_RMID, NULL), 0);
	t_done();

	return t_exit();
}
#endif /* ARCH_NR */
