/*
 * shm_bench.c - System V shared memory: the kernel against uipc.
 *
 * Runs each workload on the kernel's segments and semaphores and on uipc's in
 * the same program, alternating (kernel, uipc, kernel, uipc, ...) so that
 * both see the same machine noise, and prints for each the median of each
 * side and the ratio (uipc's rate divided by the kernel's, that is the
 * kernel's median time over uipc's).  The machines this runs on are shared
 * and noisy: read medians and ratios, not absolute numbers.  Workloads:
 *
 *   (a) the life of a segment in one process: shmget(IPC_PRIVATE, 4096),
 *       shmat at an address the system chooses, shmdt, shmctl(IPC_RMID)
 *       (time per cycle; the page is not touched);
 *   (b) a producer and a consumer process moving 64-byte records through a
 *       segment guarded by semaphores: the classic bounded buffer, a ring
 *       of 64 slots of one record and two counting semaphores, "empty" (at
 *       64) and "full" (at 0).  The producer does P(empty), copies a record
 *       into the next slot, V(full); the consumer P(full), copies the
 *       record out and checks it (its sequence number, and a checksum of
 *       the payload at the end), V(empty): one semaphore operation pair per
 *       record on each side, as the issue reads ("64 B records through a
 *       segment guarded by semaphores").  One producer and one consumer
 *       need no mutex besides the two counters.  256 MiB by default (the
 *       issue's 1 GiB is UIPC_BENCH_SCALE=4); the rate is bytes moved over
 *       the time from a common start to the consumer's last record;
 *   (b') the same ring, but each slot is a batch of 64 records (4 KiB, 16
 *       slots): one semaphore pair per 64 records, so that the copying
 *       rather than the semaphores is most of the cost (informational, no
 *       target).
 *
 * Each run creates fresh IPC_PRIVATE objects and removes them afterwards.
 * In (b) and (b') the parent creates the segment and the set, forks the
 * consumer, and each process attaches the segment by id.  The kernel's
 * objects live in a private IPC namespace when unshare(CLONE_NEWIPC) is
 * allowed (so nothing can leak into the machine's namespace), otherwise in
 * the shared one.  uipc's live under $UIPC_ROOT; when it is not set the
 * bench makes a private root under /dev/shm, re-executes itself with it (so
 * that the library sees it from its first call) and removes it at the end.
 *
 * The targets ((a) no slower than the kernel, >= 1x; (b) >= 5x;
 * (b') none) are printed next to the ratios; the bench never fails on
 * timing, only on an error or a record that arrived wrong.
 *
 * Environment: UIPC_BENCH_SCALE (default 1) multiplies the iteration counts
 * and the bytes moved; UIPC_BENCH_RUNS (default 7 for (a), 3 for (b) and
 * (b')) is the number of runs of each side; UIPC_BENCH_VERBOSE=1 prints
 * every run.  With the defaults the whole bench takes 15-25 s here.
 */
#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
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
#define BENCH_NAME "shm_bench"
#include "bench.h"

#define MAXRUNS 31
#define WATCHDOG_SECS 120	/* per run; multiplied by UIPC_BENCH_SCALE when above 1 */
#define REC 64			/* bytes per record */

struct impl {
	const char *name;
	int (*shmget)(key_t, size_t, int);
	void *(*shmat)(int, const void *, int);
	int (*shmdt)(const void *);
	int (*shmctl)(int, int, struct shmid_ds *);
	int (*semget)(key_t, int, int);
	int (*semop)(int, struct sembuf *, size_t);
	int (*semctl)(int, int, int, ...);
};

static const struct impl kernel = {
	"kernel", shmget, shmat, shmdt, shmctl, semget, semop, semctl
};
static const struct impl uipc = {
	"uipc", uipc_shmget, uipc_shmat, uipc_shmdt, uipc_shmctl, uipc_semget, uipc_semop,
	uipc_semctl
};

struct record {
	uint64_t seq;
	unsigned char payload[REC - sizeof(uint64_t)];
};

/* The ring's geometry for (b) and (b'). */
struct ring {
	int slots;		/* in the ring */
	int per_slot;		/* records in a slot, moved by one semaphore pair */
};

/* What the producer and the consumer share besides the segment. */
struct ctl {
	volatile double end_ns;		/* when the consumer took its last record */
	volatile int ready, go;		/* the start barrier */
	volatile uint64_t sum;		/* the consumer's checksum of the payloads */
};

enum { EMPTY, FULL };	/* the semaphores of (b) */

static struct ctl *ctl;
static unsigned watchdog = WATCHDOG_SECS;

static void die(const char *what, const struct impl *im)
{
	bench_fail(im ? im->name : NULL, what);
}

/* (a) n times: shmget, shmat, shmdt, shmctl(IPC_RMID). */
static double bench_cycle(const struct impl *im, long n)
{
	double t0 = 0;

	for (long i = -20; i < n; i++) {	/* 20 rounds of warm-up */
		if (i == 0)
			t0 = now_ns();
		int id = im->shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
		if (id < 0)
			die("shmget", im);
		void *p = im->shmat(id, NULL, 0);
		if (p == (void *)-1)
			die("shmat", im);
		if (im->shmdt(p) != 0)
			die("shmdt", im);
		if (im->shmctl(id, IPC_RMID, NULL) != 0)
			die("shmctl IPC_RMID", im);
	}
	return (now_ns() - t0) / n;
}

/* One operation on semaphore num; 0 or -1 as semop. */
static inline int sop(const struct impl *im, int id, unsigned short num, short op)
{
	struct sembuf sb = { num, op, 0 };

	return im->semop(id, &sb, 1);
}

/* The payload of record seq: 56 bytes that differ from record to record. */
static void fill(struct record *r, uint64_t seq)
{
	for (size_t i = 0; i < sizeof(r->payload); i += 8) {
		uint64_t v = seq * 0x9e3779b97f4a7c15ull + i;
		memcpy(r->payload + i, &v, 8);
	}
	r->seq = seq;
}

static uint64_t payload_sum(const struct record *r)
{
	uint64_t s = 0, v;

	for (size_t i = 0; i < sizeof(r->payload); i += 8) {
		memcpy(&v, r->payload + i, 8);
		s += v;
	}
	return s;
}

/*
 * The consumer (the child): attaches the segment, takes n records out of the
 * ring in order, checks each one's sequence number and sums the payloads.
 */
static void consumer(const struct impl *im, int shmid, int semid, const struct ring *g, long n)
{
	struct record *ring = im->shmat(shmid, NULL, SHM_RDONLY), buf[64];
	uint64_t sum = 0;
	long slot = 0;

	if (ring == (void *)-1)
		bench_child_fail(im->name, "shmat");
	__atomic_store_n(&ctl->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE))
		sched_yield();
	for (long i = 0; i < n; i += g->per_slot) {
		if (sop(im, semid, FULL, -1) != 0)
			bench_child_fail(im->name, "semop P(full)");
		memcpy(buf, ring + slot * g->per_slot, sizeof(buf[0]) * g->per_slot);
		if (sop(im, semid, EMPTY, 1) != 0)
			bench_child_fail(im->name, "semop V(empty)");
		for (int k = 0; k < g->per_slot; k++) {
			if (buf[k].seq != (uint64_t)(i + k)) {
				fprintf(stderr, "shm_bench: %s: record %ld arrived as %llu\n",
					im->name, i + k, (unsigned long long)buf[k].seq);
				_exit(1);
			}
			sum += payload_sum(&buf[k]);
		}
		if (++slot == g->slots)
			slot = 0;
	}
	ctl->end_ns = now_ns();
	ctl->sum = sum;
	if (im->shmdt(ring) != 0)
		bench_child_fail(im->name, "shmdt");
	_exit(0);
}

/* (b), (b') Returns ns per record; n is a multiple of g->per_slot. */
static double bench_ring(const struct impl *im, const struct ring *g, long n)
{
	size_t size = (size_t)g->slots * g->per_slot * REC;
	int shmid = im->shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
	int semid = im->semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	struct record buf[64];
	uint64_t sum = 0;
	long slot = 0;
	int status;

	if (shmid < 0)
		die("shmget", im);
	if (semid < 0)
		die("semget", im);
	if (im->semctl(semid, EMPTY, SETVAL, g->slots) != 0)
		die("semctl SETVAL", im);
	ctl->ready = ctl->go = 0;
	ctl->end_ns = 0;
	ctl->sum = 0;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		consumer(im, shmid, semid, g, n);
	}
	kid = pid;
	struct record *ring = im->shmat(shmid, NULL, 0);
	if (ring == (void *)-1)
		die("shmat", im);
	while (!__atomic_load_n(&ctl->ready, __ATOMIC_ACQUIRE))
		sched_yield();
	double t0 = now_ns();
	__atomic_store_n(&ctl->go, 1, __ATOMIC_RELEASE);
	for (long i = 0; i < n; i += g->per_slot) {
		for (int k = 0; k < g->per_slot; k++) {
			fill(&buf[k], i + k);
			sum += payload_sum(&buf[k]);
		}
		if (sop(im, semid, EMPTY, -1) != 0)
			die("semop P(empty)", im);
		memcpy(ring + slot * g->per_slot, buf, sizeof(buf[0]) * g->per_slot);
		if (sop(im, semid, FULL, 1) != 0)
			die("semop V(full)", im);
		if (++slot == g->slots)
			slot = 0;
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid", NULL);
	kid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "shm_bench: %s consumer failed (status %#x)\n", im->name, status);
		remove_root();
		exit(1);
	}
	if (ctl->sum != sum) {
		fprintf(stderr, "shm_bench: %s: the payloads' checksum differs\n", im->name);
		remove_root();
		exit(1);
	}
	if (im->semctl(semid, EMPTY, GETVAL) != g->slots || im->semctl(semid, FULL, GETVAL) != 0)
		die("semctl GETVAL (or a wrong value)", im);
	if (im->shmdt(ring) != 0)
		die("shmdt", im);
	if (im->shmctl(shmid, IPC_RMID, NULL) != 0)
		die("shmctl IPC_RMID", im);
	if (im->semctl(semid, 0, IPC_RMID) != 0)
		die("semctl IPC_RMID", im);
	return (ctl->end_ns - t0) / n;
}

enum { W_CYCLE, W_RING };

struct workload {
	const char *label;
	int kind;
	long n;			/* cycles, or records, per run before scaling */
	int runs;		/* default runs of each side */
	double target;		/* 0: none */
	struct ring ring;
};

static const struct workload workloads[] = {
	{ "get+at+dt+rmid cycle", W_CYCLE, 2000, 7, 1, { 0, 0 } },
	{ "64 B records, 1 per P/V", W_RING, (256l << 20) / REC, 3, 5, { 64, 1 } },
	{ "64 B records, 64 per P/V", W_RING, (256l << 20) / REC, 3, 0, { 16, 64 } },
};

static double run_one(const struct workload *w, const struct impl *im, long n)
{
	double r = 0;

	alarm(watchdog);
	switch (w->kind) {
	case W_CYCLE:
		r = bench_cycle(im, n);
		break;
	case W_RING:
		r = bench_ring(im, &w->ring, n);
		break;
	}
	alarm(0);
	return r;
}

/* A time per cycle with a unit that keeps 3-4 digits, or a rate of records. */
static const char *fmt(char *buf, size_t len, double ns, int records)
{
	if (records)
		snprintf(buf, len, "%.0f MiB/s", 1e9 / ns * REC / (1 << 20));
	else
		fmt_ns(buf, len, ns);
	return buf;
}

int main(int argc, char **argv)
{
	double scale = 1;
	int runs = 0, verbose = 0;

	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_start(argv, &scale, &runs, MAXRUNS, &verbose);
	if (scale > 1)
		watchdog = (unsigned)(WATCHDOG_SECS * scale);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		die("mmap", NULL);

	int own_ns = unshare(CLONE_NEWIPC) == 0;

	printf("uipc shared memory vs the kernel: median of alternating runs, scale %g, %ld CPUs\n",
	       scale, sysconf(_SC_NPROCESSORS_ONLN));
	printf("uipc root %s; kernel objects in %s IPC namespace\n", uipc_root(),
	       own_ns ? "a private" : "the shared");
	printf("medians: time per cycle, or bytes moved per second; "
	       "ratio = uipc rate / kernel rate\n\n");

	for (size_t w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
		const struct workload *wl = &workloads[w];
		long n = (long)(wl->n * scale);
		int r_runs = runs ? runs : wl->runs;
		double k[MAXRUNS], u[MAXRUNS];
		char b1[32], b2[32], tgt[48], what[64];

		if (wl->kind == W_RING) {
			n -= n % wl->ring.per_slot;
			if (n < wl->ring.per_slot)
				n = wl->ring.per_slot;
			snprintf(what, sizeof(what), "%.0f MiB per run",
				 (double)n * REC / (1 << 20));
		} else {
			if (n < 1)
				n = 1;
			snprintf(what, sizeof(what), "%ld cycles per run", n);
		}
		for (int r = 0; r < r_runs; r++) {
			k[r] = run_one(wl, &kernel, n);
			u[r] = run_one(wl, &uipc, n);
		}
		if (verbose) {
			printf("  %s, %s, ns per %s:\n    kernel", wl->label, what,
			       wl->kind == W_RING ? "record" : "cycle");
			for (int r = 0; r < r_runs; r++)
				printf(" %.1f", k[r]);
			printf("\n    uipc  ");
			for (int r = 0; r < r_runs; r++)
				printf(" %.1f", u[r]);
			printf("\n");
		}
		double km = median(k, r_runs), um = median(u, r_runs);
		double ratio = km / um;
		if (wl->target)
			snprintf(tgt, sizeof(tgt), "target >=%.0fx%s", wl->target,
				 ratio >= wl->target ? "" : "  (below target)");
		else
			snprintf(tgt, sizeof(tgt), "(no target)");
		printf("%-25s kernel %11s  uipc %11s  ratio %5.2fx  %s  (%d runs, %s)\n",
		       wl->label, fmt(b1, sizeof(b1), km, wl->kind == W_RING),
		       fmt(b2, sizeof(b2), um, wl->kind == W_RING), ratio, tgt, r_runs, what);
	}
	remove_root();
	return 0;
}
