/*
 * sem_bench.c - System V semaphore sets: the kernel against uipc.
 *
 * Runs each workload on the kernel's semaphores and on uipc's in the same
 * program, alternating (kernel, uipc, kernel, uipc, ...) so that both see the
 * same machine noise, and prints for each the median of each side and the
 * ratio (uipc ops/s divided by kernel ops/s, that is the kernel's median time
 * over uipc's).  The machines this runs on are shared and noisy: read medians
 * and ratios, not absolute numbers.  Workloads:
 *
 *   (a) an uncontended P+V pair in one process: semop {0,-1,0} then
 *       {0,+1,0} on a semaphore at 1 (time per pair); (a') the same with
 *       SEM_UNDO on both;
 *   (b) ping-pong between two processes through two semaphores at 0:
 *       A does V(s1) P(s0), B does P(s1) V(s0) (time per round trip);
 *   (c) two processes contending for one semaphore used as a mutex: each
 *       does P, a tiny critical section (an increment of a shared counter,
 *       checked at the end: 2n means the semaphore excluded), V, n times,
 *       from a common start (a barrier in shared memory); the rate is both
 *       processes' pairs over the time until the later one finished (pairs/s
 *       summed).  Left to the scheduler, the kernel's two processes often
 *       end up sharing one CPU (a sleeper woken by V is pulled to the
 *       waker's CPU) and take turns by time slices, so that they rarely
 *       meet, and sometimes run apart and collide all the time: the
 *       kernel's rate swings between runs (40 k/s to 1.6 M/s here).  (c')
 *       is the same with the processes pinned to two different CPUs, where
 *       every collision is a sleep and a wake-up (informational, no target;
 *       skipped with fewer than 2 CPUs).
 *
 * Each run creates a fresh IPC_PRIVATE set and removes it afterwards.  The
 * kernel's sets live in a private IPC namespace when unshare(CLONE_NEWIPC)
 * is allowed (so nothing can leak into the machine's namespace), otherwise in
 * the shared one.  uipc's live under $UIPC_ROOT; when it is not set the bench
 * makes a private root under /dev/shm, re-executes itself with it (so that the
 * library sees it from its first call) and removes it at the end.
 *
 * The targets ((a) >= 20x, (b) >= 10x, (c) >= 5x; (a') and (c')
 * none) are
 * printed next to the ratios; the bench never fails on timing, only on an
 * error.
 *
 * Environment: UIPC_BENCH_SCALE (default 1) multiplies the iteration counts;
 * UIPC_BENCH_RUNS (default 7) is the number of runs of each side;
 * UIPC_BENCH_VERBOSE=1 prints every run.  With the defaults the whole bench
 * takes well under a minute here.
 */
#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "uipc.h"
#define BENCH_NAME "sem_bench"
#include "bench.h"

#define MAXRUNS 31
#define WATCHDOG_SECS 60

struct impl {
	const char *name;
	int (*get)(key_t, int, int);
	int (*op)(int, struct sembuf *, size_t);
	int (*ctl)(int, int, int, ...);
};

static const struct impl kernel = { "kernel", semget, semop, semctl };
static const struct impl uipc = { "uipc", uipc_semget, uipc_semop, uipc_semctl };

/* What the two processes of (c) share. */
struct shared {
	volatile long counter;		/* incremented in the critical section */
	volatile double end_ns;		/* when the child finished its loop */
	volatile int ready, go;		/* the start barrier */
	volatile int pinned;		/* (c'): the child pins itself */
};

static struct shared *shm;
static cpu_set_t all_cpus;	/* our affinity at the start */
static int pin_cpu[2] = { -1, -1 };	/* the first two CPUs in it, for (c') */

static void die(const char *what, const struct impl *im)
{
	bench_fail(im ? im->name : NULL, what);
}

/* A new set of nsems semaphores, each at val. */
static int new_set(const struct impl *im, int nsems, int val)
{
	int id = im->get(IPC_PRIVATE, nsems, IPC_CREAT | 0600);

	if (id < 0)
		die("semget", im);
	for (int i = 0; i < nsems && val; i++)
		if (im->ctl(id, i, SETVAL, val) != 0)
			die("semctl SETVAL", im);
	return id;
}

static void del_set(const struct impl *im, int id)
{
	if (im->ctl(id, 0, IPC_RMID) != 0)
		die("semctl IPC_RMID", im);
}

/* Fork a child that dies with us; it runs fn and exits 0, or 1 on error. */
static pid_t spawn(void (*fn)(const struct impl *, int, long), const struct impl *im, int id,
		   long n)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(im, id, n);
		_exit(0);
	}
	kid = pid;
	return pid;
}

/* One operation on semaphore num; 0 or -1 as semop. */
static inline int sop(const struct impl *im, int id, unsigned short num, short op, short flg)
{
	struct sembuf sb = { num, op, flg };

	return im->op(id, &sb, 1);
}

/* (a), (a') One process: P then V on a semaphore at 1, n times. */
static double bench_pair(const struct impl *im, long n, short flg)
{
	int id = new_set(im, 1, 1);

	for (int i = 0; i < 100; i++)
		if (sop(im, id, 0, -1, flg) != 0 || sop(im, id, 0, 1, flg) != 0)
			die("semop", im);
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (sop(im, id, 0, -1, flg) != 0)
			die("semop P", im);
		if (sop(im, id, 0, 1, flg) != 0)
			die("semop V", im);
	}
	double t = now_ns() - t0;
	if (im->ctl(id, 0, GETVAL) != 1)
		die("semctl GETVAL (or a wrong value)", im);
	del_set(im, id);
	return t / n;
}

#define PP_WARMUP 200

/* (b) Side B: P(s1), V(s0). */
static void pong(const struct impl *im, int id, long n)
{
	for (long i = 0; i < n + PP_WARMUP; i++) {
		if (sop(im, id, 1, -1, 0) != 0)
			bench_child_fail(im->name, "semop P(s1)");
		if (sop(im, id, 0, 1, 0) != 0)
			bench_child_fail(im->name, "semop V(s0)");
	}
}

/* (b) Side A: V(s1), P(s0). */
static double bench_pingpong(const struct impl *im, long n)
{
	int id = new_set(im, 2, 0);
	pid_t pid = spawn(pong, im, id, n);
	double t0 = 0;

	for (long i = 0; i < n + PP_WARMUP; i++) {
		if (i == PP_WARMUP)
			t0 = now_ns();
		if (sop(im, id, 1, 1, 0) != 0)
			die("semop V(s1)", im);
		if (sop(im, id, 0, -1, 0) != 0)
			die("semop P(s0)", im);
	}
	double t = now_ns() - t0;
	bench_reap(im->name, pid);
	del_set(im, id);
	return t / n;
}

/* (c) n times: P, increment the shared counter, V. */
static int contend(const struct impl *im, int id, long n)
{
	for (long i = 0; i < n; i++) {
		if (sop(im, id, 0, -1, 0) != 0)
			return -1;
		shm->counter = shm->counter + 1;
		if (sop(im, id, 0, 1, 0) != 0)
			return -1;
	}
	return 0;
}

/*
 * The child says it is ready and waits for the go, yielding: both start
 * within a microsecond, so that they do contend from the start (a start
 * signal through a pipe or a futex would wake the child tens of microseconds
 * late, after the parent ran alone).
 */
static void pin(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) != 0)
		die("sched_setaffinity", NULL);
}

static void contender(const struct impl *im, int id, long n)
{
	if (shm->pinned)
		pin(pin_cpu[1]);
	__atomic_store_n(&shm->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&shm->go, __ATOMIC_ACQUIRE))
		sched_yield();
	if (contend(im, id, n))
		bench_child_fail(im->name, "semop");
	shm->end_ns = now_ns();
}

/* Returns ns per pair (the inverse of both processes' pairs/s). */
static double bench_contended(const struct impl *im, long n, int pinned)
{
	int id = new_set(im, 1, 1);

	shm->counter = 0;
	shm->end_ns = 0;
	shm->ready = shm->go = 0;
	shm->pinned = pinned;
	if (pinned)
		pin(pin_cpu[0]);
	pid_t pid = spawn(contender, im, id, n);
	while (!__atomic_load_n(&shm->ready, __ATOMIC_ACQUIRE))
		sched_yield();
	double t0 = now_ns();
	__atomic_store_n(&shm->go, 1, __ATOMIC_RELEASE);
	if (contend(im, id, n))
		die("semop", im);
	double mine = now_ns();
	bench_reap(im->name, pid);
	if (pinned && sched_setaffinity(0, sizeof(all_cpus), &all_cpus) != 0)
		die("sched_setaffinity", NULL);
	double end = shm->end_ns > mine ? shm->end_ns : mine;
	if (shm->counter != 2 * n) {
		fprintf(stderr, "sem_bench: %s: counter %ld after 2 x %ld pairs: the semaphore did "
			"not exclude\n", im->name, shm->counter, n);
		remove_root();
		exit(1);
	}
	if (im->ctl(id, 0, GETVAL) != 1)
		die("semctl GETVAL (or a wrong value)", im);
	del_set(im, id);
	return (end - t0) / (2.0 * n);
}

enum { W_PAIR, W_PAIR_UNDO, W_PINGPONG, W_CONTENDED, W_PINNED };

struct workload {
	const char *label;
	int kind;
	long n;		/* iterations per run (per process for W_CONTENDED), before scaling */
	double target;	/* 0: none */
	const char *unit; /* what one operation is */
	int rate;	/* print pairs/s rather than time per operation */
};

static const struct workload workloads[] = {
	{ "P+V pair (1 proc)", W_PAIR, 200000, 20, "pair", 0 },
	{ "P+V pair SEM_UNDO (1 proc)", W_PAIR_UNDO, 200000, 0, "pair", 0 },
	{ "ping-pong (2 procs)", W_PINGPONG, 10000, 10, "round trip", 0 },
	{ "mutex, 2 procs contending", W_CONTENDED, 20000, 5, "pair", 1 },
	{ "mutex, 2 procs, 2 CPUs pinned", W_PINNED, 5000, 0, "pair", 1 },
};

static double run_one(const struct workload *w, const struct impl *im, long n)
{
	double r = 0;

	alarm(WATCHDOG_SECS);
	switch (w->kind) {
	case W_PAIR:
		r = bench_pair(im, n, 0);
		break;
	case W_PAIR_UNDO:
		r = bench_pair(im, n, SEM_UNDO);
		break;
	case W_PINGPONG:
		r = bench_pingpong(im, n);
		break;
	case W_CONTENDED:
	case W_PINNED:
		r = bench_contended(im, n, w->kind == W_PINNED);
		break;
	}
	alarm(0);
	return r;
}

/*
 * A time per operation in ns, printed with a unit that keeps 3-4 digits, or
 * as operations per second.
 */
static const char *fmt(char *buf, size_t len, double ns, int rate)
{
	double r = 1e9 / ns;

	if (rate && r >= 1e6)
		snprintf(buf, len, "%.2f M/s", r / 1e6);
	else if (rate)
		snprintf(buf, len, "%.1f k/s", r / 1e3);
	else
		fmt_ns(buf, len, ns);
	return buf;
}

int main(int argc, char **argv)
{
	double scale = 1;
	int runs = 7, verbose = 0;

	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_start(argv, &scale, &runs, MAXRUNS, &verbose);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		die("mmap", NULL);

	int own_ns = unshare(CLONE_NEWIPC) == 0;

	if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus) == 0)
		for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
			if (CPU_ISSET(c, &all_cpus))
				pin_cpu[k++] = c;

	printf("uipc semaphore sets vs the kernel: median of %d alternating runs each, "
	       "scale %g, %ld CPUs\n", runs, scale, sysconf(_SC_NPROCESSORS_ONLN));
	printf("uipc root %s; kernel sets in %s IPC namespace\n", uipc_root(),
	       own_ns ? "a private" : "the shared");
	printf("medians per operation: time per pair (P+V) or round trip, or pairs/s of both\n"
	       "contending processes summed; ratio = uipc ops/s / kernel ops/s\n\n");

	for (size_t w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
		const struct workload *wl = &workloads[w];
		long n = (long)(wl->n * scale);
		double k[MAXRUNS], u[MAXRUNS];
		char b1[32], b2[32], tgt[32];

		if (n < 1)
			n = 1;
		if (wl->kind == W_PINNED && pin_cpu[1] < 0) {
			printf("%-29s skipped: fewer than 2 CPUs to pin to\n", wl->label);
			continue;
		}
		for (int r = 0; r < runs; r++) {
			k[r] = run_one(wl, &kernel, n);
			u[r] = run_one(wl, &uipc, n);
		}
		if (verbose) {
			printf("  %s, %ld per run%s, ns per %s:\n    kernel", wl->label, n,
			       wl->kind >= W_CONTENDED ? " and process" : "", wl->unit);
			for (int r = 0; r < runs; r++)
				printf(" %.1f", k[r]);
			printf("\n    uipc  ");
			for (int r = 0; r < runs; r++)
				printf(" %.1f", u[r]);
			printf("\n");
		}
		double km = median(k, runs), um = median(u, runs);
		double ratio = km / um;
		if (wl->target)
			snprintf(tgt, sizeof(tgt), "target >=%.0fx%s", wl->target,
				 ratio >= wl->target ? "" : "  (below target)");
		else
			snprintf(tgt, sizeof(tgt), "(no target)");
		printf("%-29s kernel %10s  uipc %10s  ratio %6.1fx  %s\n", wl->label,
		       fmt(b1, sizeof(b1), km, wl->rate), fmt(b2, sizeof(b2), um, wl->rate), ratio,
		       tgt);
	}
	remove_root();
	return 0;
}
