/*
 * crash.h - the kill-test machinery of msg_crash.c, sem_crash.c and
 * torture.c: worker processes do random IPC calls, the parent SIGKILLs them
 * at random moments, starts new ones, and at the end accounts for every call.
 *
 * Random numbers: rnd() (xorshift64, seeded with mix64()).  Worker errors:
 * werr() writes into a struct worker_errors in the test's MAP_SHARED region
 * (shared_map()), which the parent reports with report_worker_errors().
 *
 * Incarnation records.  Each incarnation of a worker has a struct
 * incarnation in shared memory (inside the test's own record): before a call
 * the worker stores what the call is, then call_begin() ("in call");
 * call_end() either puts in force the worker's new sums (its ledger, copied
 * into the spare of two ledgers and published with one store of 'pub') or
 * just leaves the call.  So a kill at any instruction leaves each call
 * counted or not, never half, and in_call() tells the parent whether the
 * dead worker was in a call of unknown fate.
 *
 * Worker slots (a test that defines CRASH_SLOTS, their number, before
 * including this): wpid[]/wid[] are the pid and record number of each slot's
 * worker; the test provides spawn(slot) (which ends with start_worker()) and
 * worker_gone(slot, status) (accounts for a dead worker, counts nkills).
 * kill_workers() is the killer loop: it sleeps a random time, reaps, SIGKILLs
 * the victims that the test's choice names (marking their records 'killed'
 * first, and noting their /proc state in vstate[]), reaps them and starts new
 * workers, until 'target' kills or the records run out (ids_exhausted).
 *
 * The end: start_checker() re-executes this program (argv built with
 * arg_word()/arg_int()) as a fresh process whose stdout the parent reads;
 * finish_checker() waits for it.  subset_sum() judges a counter against the
 * deltas of unknown fate.
 */
#ifndef UIPC_CRASH_H
#define UIPC_CRASH_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "proc_state.h"

#define CRASH_MAX_ERRS 16

/* ---- random numbers, time, environment ---- */

static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static inline double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The number of kills asked for in environment variable 'name': 300 by default, at least 1. */
static inline long kills_from_env(const char *name)
{
	const char *env = getenv(name);
	long target = 300;

	if (env && *env)
		target = strtol(env, NULL, 10);
	return target < 1 ? 1 : target;
}

/* ---- the parent's hang detector, memory, processes ---- */

static const char *hang_message;

static void on_hang_alarm(int sig)
{
	(void)sig;
	if (write(1, hang_message, strlen(hang_message)) < 0)
		_exit(1);
	_exit(1);
}

/* After 'seconds', print 'message' (a FAIL line) and exit 1. */
static inline void arm_hang_alarm(const char *message, unsigned seconds)
{
	hang_message = message;
	signal(SIGALRM, on_hang_alarm);
	alarm(seconds);
}

/* Zeroed memory shared with the children (MAP_FAILED on failure). */
static inline void *shared_map(size_t size)
{
	return mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

static inline pid_t fork_or_exit(void)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	return pid;
}

/* Appends *x to the array *a of *n elements, *cap allocated. */
static inline void push(void **a, int *n, int *cap, const void *x, size_t size)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		*a = realloc(*a, (size_t)*cap * size);
		if (!*a)
			abort();
	}
	memcpy((char *)*a + (size_t)(*n)++ * size, x, size);
}

/* Is d a sum of some of the n deltas u[] (each -2..2)? */
static inline int subset_sum(const int *u, int n, long long d)
{
	int span = 2 * n;
	char *can = calloc((size_t)(2 * span + 1), 1);
	int ok;

	if (!can)
		abort();
	can[span] = 1;
	for (int i = 0; i < n; i++) {
		if (u[i] > 0) {
			for (int s = 2 * span; s >= u[i]; s--)
				can[s] |= can[s - u[i]];
		} else {
			for (int s = 0; s <= 2 * span + u[i]; s++)
				can[s] |= can[s - u[i]];
		}
	}
	ok = d >= -span && d <= span && can[span + d];
	free(can);
	return ok;
}

/* ---- worker errors ---- */

struct worker_errors {
	_Atomic int n;
	char msg[CRASH_MAX_ERRS][200];
};

static struct worker_errors *worker_errors;	/* in the test's shared region */

static void werr(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void werr(const char *fmt, ...)
{
	int i = atomic_fetch_add(&worker_errors->n, 1);
	if (i < CRASH_MAX_ERRS) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(worker_errors->msg[i], sizeof(worker_errors->msg[i]), fmt, ap);
		va_end(ap);
	}
}

/* Fails the case with each worker error; returns their number. */
static inline int report_worker_errors(void)
{
	int n = atomic_load(&worker_errors->n);
	for (int i = 0; i < n && i < CRASH_MAX_ERRS; i++)
		T_FAIL("%s", worker_errors->msg[i]);
	if (n > CRASH_MAX_ERRS)
		T_FAIL("... %d worker errors in all", n);
	return n;
}

/* ---- incarnation records ---- */

struct incarnation {
	_Atomic uint64_t pub;	/* calls done << 1 | the ledger in force */
	_Atomic uint64_t call;	/* calls done, + 1 while in a call */
	_Atomic int killed;	/* the parent is about to SIGKILL it */
	int slot;
};

/* The ledger in force of a record x whose ledgers are x->l[2] and incarnation x->rec. */
#define LEDGER_IN_FORCE(x) (&(x)->l[atomic_load(&(x)->rec.pub) & 1])

static inline void call_begin(struct incarnation *r)
{
	atomic_store(&r->call, (atomic_load(&r->pub) >> 1) + 1);
}

/*
 * The call returned.  done: the new sums *ledger (size bytes) go into the
 * spare of ledgers[2] and are put in force with one store, which also ends
 * the call; else the call did nothing.
 */
static inline void call_end(struct incarnation *r, void *ledgers, const void *ledger, size_t size,
			    int done)
{
	uint64_t pub = atomic_load(&r->pub), n = pub >> 1;

	if (done) {
		unsigned spare = !(pub & 1);
		memcpy((char *)ledgers + spare * size, ledger, size);
		atomic_store(&r->pub, (n + 1) << 1 | spare);
	} else {
		atomic_store(&r->call, n);
	}
}

static inline int in_call(struct incarnation *r)
{
	return atomic_load(&r->call) != atomic_load(&r->pub) >> 1;
}

/* ---- the checker: this program again, in a new process ---- */

#define CHECKER_MAX_ARGS 16

struct checker_args {
	char word[CHECKER_MAX_ARGS][24];
	char *argv[CHECKER_MAX_ARGS + 1];
	int n;
};

static inline void arg_word(struct checker_args *a, const char *s)
{
	snprintf(a->word[a->n], sizeof(a->word[0]), "%s", s);
	a->argv[a->n] = a->word[a->n];
	a->argv[++a->n] = NULL;
}

static inline void arg_int(struct checker_args *a, int v)
{
	char s[24];
	snprintf(s, sizeof(s), "%d", v);
	arg_word(a, s);
}

/* Runs /proc/self/exe with a->argv; returns its stdout (NULL if no pipe). */
static inline FILE *start_checker(struct checker_args *a, pid_t *pid)
{
	int pfd[2];

	fflush(stdout);
	if (pipe(pfd) != 0)
		return NULL;
	*pid = fork_or_exit();
	if (*pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv("/proc/self/exe", a->argv);
		_exit(127);
	}
	close(pfd[1]);
	return fdopen(pfd[0], "r");
}

/* Waits for the checker; returns 0 if it exited with 0, else its wait status (or -1). */
static inline int finish_checker(FILE *f, pid_t pid)
{
	int st = 0;
	if (f)
		fclose(f);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : st ? st : -1;
}

/* ---- worker slots and the killer ---- */

#ifdef CRASH_SLOTS

static pid_t wpid[CRASH_SLOTS];		/* 0: the slot is empty */
static int wid[CRASH_SLOTS];		/* the record number of its worker */
static struct incarnation *wrec[CRASH_SLOTS];
static char vstate[CRASH_SLOTS];	/* /proc state of a victim before the kill */
static int nkills, ids_exhausted;

static void spawn(int slot);
static void worker_gone(int slot, int st);

/* Forks worker(id) with record rec into slot. */
static inline void start_worker(int slot, int id, struct incarnation *rec,
				void (*worker)(int id))
{
	pid_t pid = fork_or_exit();
	if (pid == 0)
		worker(id);
	wpid[slot] = pid;
	wid[slot] = id;
	wrec[slot] = rec;
	vstate[slot] = 0;
}

/* Reaps workers that ended by themselves; starts new ones if 'restart'. */
static inline void reap(int restart)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (int i = 0; i < CRASH_SLOTS; i++)
			if (wpid[i] == pid)
				worker_gone(i, st);
	if (restart)
		for (int i = 0; i < CRASH_SLOTS; i++)
			if (!wpid[i] && !ids_exhausted)
				spawn(i);
}

static inline int alive(void)
{
	int n = 0;
	for (int i = 0; i < CRASH_SLOTS; i++)
		n += wpid[i] != 0;
	return n;
}

/* A random live slot whose worker fits(slot, mode), any one if none does; -1 if none lives. */
static inline int pick_slot(int mode, int (*fits)(int slot, int mode))
{
	int cand[CRASH_SLOTS], n = 0;

	for (int i = 0; i < CRASH_SLOTS; i++)
		if (wpid[i] && (mode == 0 || fits(i, mode)))
			cand[n++] = i;
	if (n == 0)
		return mode ? pick_slot(0, fits) : -1;
	return cand[rnd() % (unsigned)n];
}

/* SIGKILLs the workers of the nv slots victim[] (-1: none, a repeat: once) and reaps them. */
static inline void kill_slots(int *victim, int nv)
{
	for (int i = 0; i < nv; i++) {
		for (int j = 0; j < i; j++)
			if (victim[j] == victim[i])
				victim[i] = -1;
		if (victim[i] < 0)
			continue;
		int s = victim[i];
		vstate[s] = proc_state(wpid[s]);
		atomic_store(&wrec[s]->killed, 1);
		kill(wpid[s], SIGKILL);
	}
	for (int i = 0; i < nv; i++) {
		int st, s = victim[i];
		if (s >= 0 && waitpid(wpid[s], &st, 0) == wpid[s])
			worker_gone(s, st);
	}
}

/*
 * The killer: until 'target' kills, sleeps 0..2*avg_kill_us, kills the
 * slots choose() names (it returns how many, at most 3), then restarts them
 * and calls after_kill().  Returns the seconds it took.
 */
static inline double kill_workers(long target, int avg_kill_us, int (*choose)(int victim[3]),
				  void (*after_kill)(void))
{
	reap(1);
	double t0 = now();
	while (nkills < target && !ids_exhausted) {
		usleep((useconds_t)(rnd() % (2 * (unsigned)avg_kill_us)));
		reap(1);
		int victim[3], nv = choose(victim);
		kill_slots(victim, nv);
		reap(1);
		after_kill();
	}
	return now() - t0;
}

/* SIGKILLs the workers still there (marked killed) and reaps them. */
static inline void kill_all_slots(void)
{
	for (int i = 0; i < CRASH_SLOTS; i++) {
		int st;
		if (!wpid[i])
			continue;
		atomic_store(&wrec[i]->killed, 1);
		kill(wpid[i], SIGKILL);
		if (waitpid(wpid[i], &st, 0) == wpid[i])
			worker_gone(i, st);
	}
}

#endif /* CRASH_SLOTS */

#endif
