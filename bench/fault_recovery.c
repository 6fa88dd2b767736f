/*
 * fault_recovery.c - how soon after a holder's death another process has
 * its operation on the object done (built against the -DUIPC_FAULT library,
 * whose uipc_fault_arm(k) kills the calling process at its k-th step that
 * changes shared state).
 *
 * Three measurements, each repeated (default 51 runs, a fresh object each),
 * printed as median and p90 next to the target, < 1 ms:
 *
 *  (a) A lock holder killed mid-operation: a msgsnd (the send lock held),
 *      a semop array (the set's lock), a shmat (the segment's lock), each
 *      killed at the middle one of its steps (counted once, on the same
 *      state): the lock taken, part of the change stored.  The parent sees
 *      the death (waitpid returns: t0) and at once makes an operation on the
 *      object (msgsnd, semop array, shmat): t1 when it returns.  t0 is the
 *      first moment another process can know of the death, and the kernel
 *      has released the dead holder's robust mutexes before it (early in the
 *      exit; the exit notification comes at its end), so t1 - t0 is what
 *      uipc costs: the lock found owner-dead, the change replayed or rolled
 *      back, the derived state counted again, the operation.  Shown beside:
 *      from the victim's timestamp taken right before its call to t0.
 *  (b) A sleeper: a process sleeps in msgrcv (in a semop P) for the message
 *      (the V) that the holder is making; the holder is killed at its last
 *      step, before it unlocks: its operation is complete, the wake-ups it
 *      makes after unlocking are not (the sleeper its change serves was
 *      woken before the change, and comes to the dead lock: msg__prewake,
 *      sem_queue.c's prewake).  Nobody else touches the object.  t0:
 *      the victim's timestamp right before its call (the death follows
 *      within microseconds), t1: the sleeper's return.  Runs are capped at
 *      SLEEPER_BUDGET_S seconds per object (at least 3 runs).
 *  (c) A user-level holder: a process holding a semaphore taken as a mutex
 *      with SEM_UNDO is SIGKILLed while another sleeps in semop(-1) on it:
 *      t0 right before kill(), t1 when the sleeper's semop returns; the
 *      kernel's semaphores and uipc's side by side (the kernel's in a
 *      private IPC namespace when unshare(CLONE_NEWIPC) is allowed, else
 *      IPC_PRIVATE sets in the shared one).
 *
 * The bench fails on errors only, never on times.  Environment:
 * UIPC_BENCH_RUNS (default 51), UIPC_BENCH_VERBOSE=1 prints every run.
 * The default run takes under a second here.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "uipc.h"
#define BENCH_NAME "fault_recovery"
#include "bench.h"
#include "../tests/proc_state.h"

#define MAXRUNS 201
#define WATCHDOG_SECS 20
#define SLEEPER_BUDGET_S 3.0
#define TARGET_NS 1e6

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* Written by the processes of a run, read by the parent. */
struct shared {
	double t_victim;	/* right before the victim's call */
	double t_done;		/* when the sleeper's call returned */
	long steps;		/* a counting run's steps */
	int ready;		/* the holder holds */
};

enum kind { MSG, SEM, SHM };
static const char *const kind_names[] = { "message queue", "semaphore set", "shm segment" };

static struct shared *sh;
static int verbose;

/* The victim's operation, set before it is started. */
static enum kind victim_kind;
static bool victim_v;		/* semop: a V (for (b)) rather than an array */
static long victim_k;		/* killed at this step; 0: not killed */

struct msgbuf64 {
	long mtype;
	char mtext[64];
};

/* ---- processes ---- */

static pid_t start(void (*fn)(int), int id)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) < 0)
		bench_fail(NULL, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(id);
		_exit(0);
	}
	return pid;
}

/* Wait for pid; its status must be 'killed' (SIGKILL) or a clean exit. */
static void end(pid_t pid, int killed, const char *who)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		bench_fail(who, "waitpid");
	if (killed ? WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL : WIFEXITED(st) && !WEXITSTATUS(st))
		return;
	fprintf(stderr, BENCH_NAME ": %s ended with status %#x, expected %s\n", who, st,
		killed ? "a SIGKILL" : "exit 0");
	if (kid > 0)
		kill(kid, SIGKILL);
	remove_root();
	exit(1);
}

/* Wait until pid sleeps in its call (callers of both sleep on futexes). */
static void until_sleeping(pid_t pid)
{
	while (proc_state(pid) != 'S')
		sched_yield();
}

static void until_ready(void)
{
	while (!__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE))
		sched_yield();
}

/* ---- (a) and (b): a victim killed at step k of its operation ---- */

static int new_object(enum kind kind)
{
	unsigned short v[3] = { 1, 0, 0 };
	int id;

	switch (kind) {
	case MSG:
		id = uipc_msgget(IPC_PRIVATE, 0600);
		break;
	case SEM:
		id = uipc_semget(IPC_PRIVATE, 3, 0600);
		if (id >= 0 && uipc_semctl(id, 0, SETALL, (union semun){ .array = v }))
			bench_fail("uipc", "semctl SETALL");
		break;
	default:
		id = uipc_shmget(IPC_PRIVATE, 4096, 0600);
		break;
	}
	if (id < 0)
		bench_fail("uipc", "get");
	return id;
}

static void remove_object(enum kind kind, int id)
{
	int r = kind == MSG ? uipc_msgctl(id, IPC_RMID, NULL)
		: kind == SEM ? uipc_semctl(id, 0, IPC_RMID)
			      : uipc_shmctl(id, IPC_RMID, NULL);

	if (r)
		bench_fail("uipc", "IPC_RMID");
}

/* The victim: a msgsnd, a semop (an array, or a V), a shmat; armed. */
static void victim(int id)
{
	struct msgbuf64 m = { 1, "from the victim" };
	struct sembuf array[2] = { { 0, -1, 0 }, { 1, 1, 0 } }, v = { 0, 1, 0 };
	int r;

	sh->t_victim = now_ns();
	uipc_fault_arm(victim_k);
	if (victim_kind == MSG)
		r = uipc_msgsnd(id, &m, sizeof(m.mtext), 0);
	else if (victim_kind == SEM)
		r = victim_v ? uipc_semop(id, &v, 1) : uipc_semop(id, array, 2);
	else
		r = uipc_shmat(id, NULL, 0) == (void *)-1 ? -1 : 0;
	sh->steps = uipc_fault_steps();
	if (r)
		_exit(1);
}

/* The parent's next operation on the object after the death. */
static void next_op(enum kind kind, int id)
{
	struct msgbuf64 m = { 2, "from the next one" };
	struct sembuf array[2] = { { 1, 1, 0 }, { 2, 1, 0 } };
	void *p;

	switch (kind) {
	case MSG:
		if (uipc_msgsnd(id, &m, sizeof(m.mtext), IPC_NOWAIT))
			bench_fail("uipc", "msgsnd after the death");
		break;
	case SEM:
		if (uipc_semop(id, array, 2))
			bench_fail("uipc", "semop after the death");
		break;
	default:
		if ((p = uipc_shmat(id, NULL, 0)) == (void *)-1)
			bench_fail("uipc", "shmat after the death");
		uipc_shmdt(p);
		break;
	}
}

/* (b) The sleeper: a msgrcv, or a semop P on semaphore 0 (at 0). */
static void sleeper(int id)
{
	struct msgbuf64 m;
	struct sembuf p = { 0, -1, 0 };

	if (victim_kind == MSG ? uipc_msgrcv(id, &m, sizeof(m.mtext), 0, 0) < 0 || m.mtype != 1
			: uipc_semop(id, &p, 1) != 0)
		_exit(1);
	sh->t_done = now_ns();
}

static pid_t start_sleeper(int id)
{
	struct sembuf p = { 0, -1, IPC_NOWAIT };
	pid_t pid;

	if (victim_kind == SEM && uipc_semop(id, &p, 1))	/* from 1 to 0 */
		bench_fail("uipc", "semop");
	kid = pid = start(sleeper, id);
	until_sleeping(pid);
	return pid;
}

/* The steps of the victim's operation on a fresh object (with a sleeper). */
static long count_steps(bool with_sleeper)
{
	int id = new_object(victim_kind);
	pid_t s = with_sleeper ? start_sleeper(id) : 0;

	victim_k = 0;
	end(start(victim, id), 0, "a counting victim");
	if (s)
		end(s, 0, "a sleeper");
	remove_object(victim_kind, id);
	return sh->steps;
}

/*
 * (a) One run: ns from the parent's waitpid to the end of its next
 * operation; *seen: from the victim's call to the waitpid.
 */
static double run_next_op(double *seen)
{
	int id = new_object(victim_kind);
	pid_t v = start(victim, id);
	double t0, t1;

	end(v, victim_k > 0, "the victim");
	t0 = now_ns();
	next_op(victim_kind, id);
	t1 = now_ns();
	*seen = t0 - sh->t_victim;
	remove_object(victim_kind, id);
	return t1 - t0;
}

/* (b) One run: ns from the victim's call to the sleeper's return. */
static double run_sleeper(void)
{
	int id = new_object(victim_kind);
	pid_t s = start_sleeper(id);

	end(start(victim, id), 1, "the victim");
	end(s, 0, "the sleeper");
	kid = 0;
	remove_object(victim_kind, id);
	return sh->t_done - sh->t_victim;
}

/* ---- (c) a SEM_UNDO mutex holder killed, a sleeper takes the mutex ---- */

struct impl {
	const char *name;
	int (*get)(key_t, int, int);
	int (*op)(int, struct sembuf *, size_t);
	int (*ctl)(int, int, int, ...);
};

static const struct impl impls[] = {
	{ "kernel", semget, semop, semctl },
	{ "uipc", uipc_semget, uipc_semop, uipc_semctl },
};
static const struct impl *im;

static void holder(int id)
{
	struct sembuf p = { 0, -1, SEM_UNDO };

	if (im->op(id, &p, 1))
		_exit(1);
	__atomic_store_n(&sh->ready, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
}

static void taker(int id)
{
	struct sembuf p = { 0, -1, SEM_UNDO };

	if (im->op(id, &p, 1))
		_exit(1);
	sh->t_done = now_ns();
}

/* One run: ns from kill() of the holder to the taker's return. */
static double run_holder_death(void)
{
	int id = im->get(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	pid_t h, t;
	double t0;

	if (id < 0 || im->ctl(id, 0, SETVAL, 1))
		bench_fail(im->name, "semget, SETVAL");
	sh->ready = 0;
	h = start(holder, id);
	until_ready();
	kid = t = start(taker, id);
	until_sleeping(t);
	while (im->ctl(id, 0, GETNCNT) != 1)
		sched_yield();
	t0 = now_ns();
	kill(h, SIGKILL);
	end(t, 0, "the taker");
	end(h, 1, "the holder");
	kid = 0;
	/* Both undone: the holder's adjustment when it died, the taker's when it ended. */
	if (im->ctl(id, 0, GETVAL) != 1)
		bench_fail(im->name, "GETVAL after the deaths (or not 1)");
	if (im->ctl(id, 0, IPC_RMID))
		bench_fail(im->name, "IPC_RMID");
	return sh->t_done - t0;
}

/* ---- printing ---- */

static double p90(const double *sorted, int n)
{
	int i = (9 * n + 9) / 10 - 1;

	return sorted[i < 0 ? 0 : i];
}

/* Median and p90 of v[0..n) (sorted here), the target next to them. */
static void report(const char *label, double *v, int n, const char *extra)
{
	char b1[32], b2[32];
	double med;
	int i;

	if (verbose) {
		printf("    %s, ns:", label);
		for (i = 0; i < n; i++)
			printf(" %.0f", v[i]);
		printf("\n");
	}
	med = median(v, n);
	printf("  %-46s median %10s  p90 %10s  target < 1 ms%s%s\n", label,
	       fmt_ns(b1, sizeof(b1), med), fmt_ns(b2, sizeof(b2), p90(v, n)),
	       med < TARGET_NS ? "" : "  (above target)", extra);
}

int main(int argc, char **argv)
{
	static double t[MAXRUNS], seen[MAXRUNS], base[MAXRUNS];
	double scale = 1, spent;
	int runs = 51, own_ns, n, r;
	char label[96], extra[64], b1[32], b2[32];
	long steps, k;
	size_t i;

	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_start(argv, &scale, &runs, MAXRUNS, &verbose);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bench_fail(NULL, "mmap");
	own_ns = unshare(CLONE_NEWIPC) == 0;
	printf("recovery after a death: median and p90 of %d runs each; uipc root %s\n", runs,
	       uipc_root());

	printf("(a) a lock holder killed mid-operation; the parent's next operation, from its "
	       "waitpid seeing the death:\n");
	victim_v = false;
	for (victim_kind = MSG; victim_kind <= SHM; victim_kind++) {
		steps = count_steps(false);
		k = steps / 2 + 1;
		for (r = 0; r < runs; r++) {
			alarm(WATCHDOG_SECS);
			victim_k = k;
			t[r] = run_next_op(&seen[r]);
			victim_k = 0;
			base[r] = run_next_op(&spent);
			alarm(0);
		}
		snprintf(label, sizeof(label), "%s (%s killed at step %ld of %ld)",
			 kind_names[victim_kind], victim_kind == MSG ? "msgsnd" :
			 victim_kind == SEM ? "semop" : "shmat", k, steps);
		report(label, t, runs, "");
		printf("  %-46s (the same with no death: %s; from the victim's call to waitpid: %s)\n",
		       "", fmt_ns(b1, sizeof(b1), median(base, runs)),
		       fmt_ns(b2, sizeof(b2), median(seen, runs)));
	}

	printf("(b) a process sleeping on the object; the holder killed at its last step, "
	       "before it unlocks:\n");
	victim_v = true;
	for (victim_kind = MSG; victim_kind <= SEM; victim_kind++) {
		victim_k = steps = count_steps(true);
		spent = 0;
		for (n = 0; n < runs && (n < 3 || spent < SLEEPER_BUDGET_S * 1e9); n++) {
			alarm(WATCHDOG_SECS);
			t[n] = run_sleeper();
			alarm(0);
			spent += t[n];
		}
		snprintf(label, sizeof(label), "%s (%s sleeping, %ld steps)",
			 kind_names[victim_kind], victim_kind == MSG ? "msgrcv" : "semop P", steps);
		extra[0] = 0;
		if (n < runs)
			snprintf(extra, sizeof(extra), "  (%d runs: the time budget)", n);
		report(label, t, n, extra);
	}

	printf("(c) a SEM_UNDO mutex holder SIGKILLed, a semop(-1) sleeper takes it, from "
	       "kill() (kernel sets in %s IPC namespace):\n", own_ns ? "a private" : "the shared");
	for (i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
		im = &impls[i];
		for (r = 0; r < runs; r++) {
			alarm(WATCHDOG_SECS);
			t[r] = run_holder_death();
			alarm(0);
		}
		report(im->name, t, runs, "");
	}
	remove_root();
	return 0;
}
