/*
 * msg_bench.c - System V message queues: the kernel against uipc.
 *
 * Runs each workload on the kernel's queues and on uipc's in the same
 * program, alternating (kernel, uipc, kernel, uipc, ...) so that both see the
 * same machine noise, and prints for each the median time per operation of
 * each side and the ratio (uipc ops/s divided by kernel ops/s, that is the
 * kernel's median time over uipc's).  The machines this runs on are shared and
 * noisy: read medians and ratios, not absolute numbers.  Workloads:
 *
 *   (a) msgsnd+msgrcv of a 64-byte message in one process (time per pair);
 *   (b) ping-pong between two processes with blocking calls on one queue,
 *       type 1 one way and type 2 back (time per round trip);
 *   (c) one-way throughput between two processes: a producer sends N
 *       messages, the consumer receives N, both blocking; 64 B and 4 KiB
 *       (time per message, from the start signal to the last receive).
 *
 * Each run creates a fresh IPC_PRIVATE queue and removes it afterwards.  The
 * kernel's queues live in a private IPC namespace when unshare(CLONE_NEWIPC)
 * is allowed (so nothing can leak into the machine's namespace), otherwise in
 * the shared one.  uipc's live under $UIPC_ROOT; when it is not set the bench
 * makes a private root under /dev/shm, re-executes itself with it (so that the
 * library sees it from its first call) and removes it at the end.  Both
 * queues have the same size (msg_qbytes is set to the kernel's default on
 * both).
 *
 * The targets ((a) >= 10x, (b) >= 10x, (c) >= 5x) are printed next to
 * the ratios; the bench never fails on timing, only on an error.
 *
 * Environment: UIPC_BENCH_SCALE (default 1) multiplies the iteration counts;
 * UIPC_BENCH_RUNS (default 7) is the number of runs of each side;
 * UIPC_BENCH_VERBOSE=1 prints every run.  With the
 * defaults the whole bench takes well under a minute here.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "uipc.h"
#define BENCH_NAME "msg_bench"
#include "bench.h"

#define MAXRUNS 31
#define WATCHDOG_SECS 60

struct impl {
	const char *name;
	int (*get)(key_t, int);
	int (*snd)(int, const void *, size_t, int);
	ssize_t (*rcv)(int, void *, size_t, long, int);
	int (*ctl)(int, int, struct msqid_ds *);
};

static const struct impl kernel = { "kernel", msgget, msgsnd, msgrcv, msgctl };
static const struct impl uipc = { "uipc", uipc_msgget, uipc_msgsnd, uipc_msgrcv, uipc_msgctl };

struct msg4k {
	long mtype;
	char mtext[4096];
};

static unsigned long qbytes;	/* msg_qbytes given to every queue */

static void die(const char *what, const struct impl *im)
{
	bench_fail(im ? im->name : NULL, what);
}

static int new_queue(const struct impl *im)
{
	struct msqid_ds ds;
	int id = im->get(IPC_PRIVATE, IPC_CREAT | 0600);

	if (id < 0)
		die("msgget", im);
	if (im->ctl(id, IPC_STAT, &ds) != 0)
		die("msgctl IPC_STAT", im);
	if (ds.msg_qbytes != qbytes) {
		ds.msg_qbytes = qbytes;
		if (im->ctl(id, IPC_SET, &ds) != 0)
			die("msgctl IPC_SET", im);
	}
	return id;
}

static void del_queue(const struct impl *im, int id)
{
	if (im->ctl(id, IPC_RMID, NULL) != 0)
		die("msgctl IPC_RMID", im);
}

/* Fork a child that dies with us; it runs fn and exits 0, or 1 on error. */
static pid_t spawn(void (*fn)(const struct impl *, int, long, size_t), const struct impl *im,
		   int id, long n, size_t size)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(im, id, n, size);
		_exit(0);
	}
	kid = pid;
	return pid;
}

/* (a) One process: send and receive one 64-byte message, n times. */
static double bench_pair(const struct impl *im, long n)
{
	struct msg4k m = { 1, { 0 } };
	int id = new_queue(im);

	for (int i = 0; i < 100; i++)
		if (im->snd(id, &m, 64, 0) != 0 || im->rcv(id, &m, 64, 0, 0) != 64)
			die("msgsnd/msgrcv", im);
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		m.mtype = 1;
		if (im->snd(id, &m, 64, 0) != 0)
			die("msgsnd", im);
		if (im->rcv(id, &m, 64, 0, 0) != 64)
			die("msgrcv", im);
	}
	double t = now_ns() - t0;
	del_queue(im, id);
	return t / n;
}

#define PP_WARMUP 200

/* (b) The echo side: receive type 1, send it back as type 2. */
static void pong(const struct impl *im, int id, long n, size_t size)
{
	struct msg4k m;

	for (long i = 0; i < n + PP_WARMUP; i++) {
		if (im->rcv(id, &m, sizeof(m.mtext), 1, 0) != (ssize_t)size)
			bench_child_fail(im->name, "msgrcv");
		m.mtype = 2;
		if (im->snd(id, &m, size, 0) != 0)
			bench_child_fail(im->name, "msgsnd");
	}
}

static double bench_pingpong(const struct impl *im, long n)
{
	struct msg4k m = { 1, { 0 } };
	int id = new_queue(im);
	pid_t pid = spawn(pong, im, id, n, 64);
	double t0 = 0;

	for (long i = 0; i < n + PP_WARMUP; i++) {
		if (i == PP_WARMUP)
			t0 = now_ns();
		m.mtype = 1;
		if (im->snd(id, &m, 64, 0) != 0)
			die("msgsnd", im);
		if (im->rcv(id, &m, sizeof(m.mtext), 2, 0) != 64)
			die("msgrcv", im);
	}
	double t = now_ns() - t0;
	bench_reap(im->name, pid);
	del_queue(im, id);
	return t / n;
}

static int go_pipe[2];

/* (c) The producer: wait for the start signal, then send n messages. */
static void produce(const struct impl *im, int id, long n, size_t size)
{
	struct msg4k m;
	char c;

	memset(m.mtext, 'x', sizeof(m.mtext));
	close(go_pipe[1]);
	if (read(go_pipe[0], &c, 1) != 1)
		bench_child_fail(im->name, "read");
	for (long i = 0; i < n; i++) {
		m.mtype = 1 + (i & 7);
		if (im->snd(id, &m, size, 0) != 0)
			bench_child_fail(im->name, "msgsnd");
	}
}

static double bench_oneway(const struct impl *im, long n, size_t size)
{
	struct msg4k m;
	int id = new_queue(im);

	if (pipe(go_pipe) != 0)
		die("pipe", NULL);
	pid_t pid = spawn(produce, im, id, n, size);
	close(go_pipe[0]);
	double t0 = now_ns();
	if (write(go_pipe[1], "g", 1) != 1)
		die("write", NULL);
	for (long i = 0; i < n; i++)
		if (im->rcv(id, &m, sizeof(m.mtext), 0, 0) != (ssize_t)size ||
		    m.mtype != 1 + (i & 7))
			die("msgrcv (or wrong message)", im);
	double t = now_ns() - t0;
	close(go_pipe[1]);
	bench_reap(im->name, pid);
	del_queue(im, id);
	return t / n;
}

enum { W_PAIR, W_PINGPONG, W_ONEWAY };

struct workload {
	const char *label;
	int kind;
	long n;		/* iterations per run, before scaling */
	size_t size;
	double target;
	const char *unit; /* what one operation is */
};

static const struct workload workloads[] = {
	{ "msgsnd+msgrcv 64B (1 proc)", W_PAIR, 200000, 64, 10, "pair" },
	{ "ping-pong 64B (2 procs)", W_PINGPONG, 10000, 64, 10, "round trip" },
	{ "one-way 64B (2 procs)", W_ONEWAY, 200000, 64, 5, "message" },
	{ "one-way 4KiB (2 procs)", W_ONEWAY, 50000, 4096, 5, "message" },
};

static double run_one(const struct workload *w, const struct impl *im, long n)
{
	double r = 0;

	alarm(WATCHDOG_SECS);
	switch (w->kind) {
	case W_PAIR:
		r = bench_pair(im, n);
		break;
	case W_PINGPONG:
		r = bench_pingpong(im, n);
		break;
	case W_ONEWAY:
		r = bench_oneway(im, n, w->size);
		break;
	}
	alarm(0);
	return r;
}

int main(int argc, char **argv)
{
	double scale = 1;
	int runs = 7, verbose = 0;

	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_start(argv, &scale, &runs, MAXRUNS, &verbose);

	int own_ns = unshare(CLONE_NEWIPC) == 0;

	/* Both sides get the kernel's default queue size. */
	struct msqid_ds ds;
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (id < 0 || msgctl(id, IPC_STAT, &ds) != 0)
		die("msgget/IPC_STAT", &kernel);
	qbytes = ds.msg_qbytes;
	del_queue(&kernel, id);

	printf("uipc message queues vs the kernel: median of %d alternating runs each, "
	       "scale %g, %ld CPUs\n", runs, scale, sysconf(_SC_NPROCESSORS_ONLN));
	printf("uipc root %s; kernel queues in %s IPC namespace; msg_qbytes %lu\n",
	       uipc_root(), own_ns ? "a private" : "the shared", qbytes);
	printf("times are medians per operation: a pair (msgsnd+msgrcv), a round trip, or a\n"
	       "message received; ratio = uipc ops/s / kernel ops/s = kernel time / uipc time\n\n");

	for (size_t w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
		const struct workload *wl = &workloads[w];
		long n = (long)(wl->n * scale);
		double k[MAXRUNS], u[MAXRUNS];
		char b1[32], b2[32];

		if (n < 1)
			n = 1;
		for (int r = 0; r < runs; r++) {
			k[r] = run_one(wl, &kernel, n);
			u[r] = run_one(wl, &uipc, n);
		}
		if (verbose) {
			printf("  %s, %ld per run, ns per %s:\n    kernel", wl->label, n, wl->unit);
			for (int r = 0; r < runs; r++)
				printf(" %.1f", k[r]);
			printf("\n    uipc  ");
			for (int r = 0; r < runs; r++)
				printf(" %.1f", u[r]);
			printf("\n");
		}
		double km = median(k, runs), um = median(u, runs);
		double ratio = km / um;
		printf("%-27s kernel %9s  uipc %9s  ratio %6.1fx  target >=%.0fx%s\n", wl->label,
		       fmt_ns(b1, sizeof(b1), km), fmt_ns(b2, sizeof(b2), um), ratio,
		       wl->target, ratio >= wl->target ? "" : "  (below target)");
	}
	remove_root();
	return 0;
}
