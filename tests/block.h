/*
 * block.h - the machinery of the multi-process differential tests
 * msg_block.c, sem_block.c and shm_nattch.c: a scenario drives worker
 * processes (and threads) against the kernel and against uipc, writes a
 * transcript of what it saw, and the two transcripts must be equal.
 *
 * run_scenarios() runs each scenario of a struct block_test twice, each time
 * in a fresh "runner" child: once with the test's kernel operations in a
 * runner that called unshare(CLONE_NEWIPC), once with its uipc operations.
 * The runner sets O (the operations), SH (the shared memory, cleared) and
 * runner_pid, runs the scenario between the test's setup and cleanup hooks
 * and exits 1 if a CHECK failed or the transcript overflowed.  The parent
 * then compares the uipc transcript with the kernel's line by line.
 *
 * The transcript lives in SH, a MAP_SHARED mapping of the test's struct
 * shared, so that the runner and its workers all write into it: note()
 * appends a line, lock-free, so that a worker killed anywhere blocks no one.
 *
 * For the runner: fork_worker() forks a worker that dies with its runner
 * (PR_SET_PDEATHSIG) and has an alarm(); record_worker() remembers its pid
 * for kill_workers(), the cleanup that kills and reaps what is left;
 * reap_worker() reaps one within the poll bound and writes how it ended;
 * settle_until() gives a death time to show; proc_task_state() and
 * wait_task_state() read a task's scheduler state in /proc.  Every wait is
 * bounded by poll_bound, cut short once one wait has timed out (timed_out())
 * so that a broken library fails fast.  For a worker: worker_signals()
 * installs the SIGH_* way of handling SIGUSR1 (counted in handler_runs) or
 * SIGUSR2.  Objects get names that are the same in every run ("S", "S2")
 * with name_id() and id_name().
 *
 * Before including this header the test defines LOGSZ, struct ops (with
 * name and kernel: run in a new IPC namespace) and struct shared (with
 * overflow, loglen and log[LOGSZ]).
 */
#ifndef UIPC_BLOCK_H
#define UIPC_BLOCK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

#define POLL_SECONDS 10		/* bound on any wait for another process */
#define POLL_AFTER_FAIL 0.5	/* the same, once a wait has timed out */
#define SETTLE_SECONDS 2	/* bound on noticing a death */
#define SETTLE_EXTRA_MS 20	/* look again after the expected state */
#define RUNNER_ALARM 30		/* bound on one scenario run */
#define WORKER_ALARM 35

/* Runner state (inherited by the workers it forks). */
static const struct ops *O;
static struct shared *SH;
static pid_t runner_pid;
static double poll_bound = POLL_SECONDS;
static pid_t worker_pids[64] __attribute__((unused));
static int nworker_pids __attribute__((unused));

/* Worker state: handler runs of on_sig(). */
static volatile sig_atomic_t handler_runs __attribute__((unused));

/* After one wait has timed out the run has failed: cut later waits short. */
static inline void timed_out(void)
{
	poll_bound = POLL_AFTER_FAIL;
}

static inline pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* ---- transcript ---- */

/* Append one line; lock-free, so that a worker killed anywhere blocks no one. */
static inline void log_line(const char *line)
{
	size_t n = strlen(line);
	size_t off = __atomic_fetch_add(&SH->loglen, n + 1, __ATOMIC_SEQ_CST);

	if (off + n + 1 >= LOGSZ) {
		SH->overflow = 1;
		return;
	}
	memcpy(SH->log + off, line, n);
	SH->log[off + n] = '\n';
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void note(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line(line);
}

/* ---- names of objects ("S", "S2"), the same in every run ---- */

static struct {
	int id;
	char name[8];
} named_ids[8] __attribute__((unused));
static int nnamed_ids __attribute__((unused));

static inline void name_id(int id, const char *name)
{
	if (nnamed_ids < (int)(sizeof(named_ids) / sizeof(named_ids[0]))) {
		named_ids[nnamed_ids].id = id;
		snprintf(named_ids[nnamed_ids].name,
			 sizeof(named_ids[nnamed_ids].name), "%s", name);
		nnamed_ids++;
	}
}

static inline const char *id_name(int id)
{
	for (int i = 0; i < nnamed_ids; i++)
		if (named_ids[i].id == id)
			return named_ids[i].name;
	return "S?";
}

/* ---- workers ---- */

/* How a worker sets up signals before its calls. */
enum {
	SIGH_NONE,
	SIGH_SIGNAL,	/* signal(SIGUSR1, h): glibc sets SA_RESTART */
	SIGH_SIGACTION,	/* sigaction(SIGUSR1) with sa_flags 0 */
	SIGH_IGNORE,	/* signal(SIGUSR2, SIG_IGN) */
	SIGH_MASK,	/* handler for SIGUSR1, but SIGUSR1 blocked */
};

static inline void on_sig(int sig)
{
	(void)sig;
	handler_runs++;
}

/* Set up signals as mode (SIGH_*) says; *restart: SA_RESTART for SIGUSR1. */
static inline void worker_signals(int mode, int *restart)
{
	struct sigaction sa;
	sigset_t set;

	switch (mode) {
	case SIGH_SIGNAL:
	case SIGH_MASK:
		signal(SIGUSR1, on_sig);
		if (mode == SIGH_MASK) {
			sigemptyset(&set);
			sigaddset(&set, SIGUSR1);
			sigprocmask(SIG_BLOCK, &set, NULL);
		}
		break;
	case SIGH_SIGACTION:
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sig;
		sa.sa_flags = 0;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		break;
	case SIGH_IGNORE:
		signal(SIGUSR2, SIG_IGN);
		break;
	}
	if (sigaction(SIGUSR1, NULL, &sa) == 0)
		*restart = !!(sa.sa_flags & SA_RESTART);
}

/*
 * fork() for a worker of the runner: in the child (0) it dies with the
 * runner and has an alarm; -1 (a failed CHECK) if the fork failed.
 */
static inline pid_t fork_worker(void)
{
	pid_t p;

	fflush(NULL);
	p = fork();
	if (p < 0) {
		T_FAIL("fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != runner_pid)
			_exit(99);
		alarm(WORKER_ALARM);
	}
	return p;
}

/* ---- the runner's children ---- */

/* Remember worker process p for kill_workers(). */
static inline void record_worker(pid_t p)
{
	if (nworker_pids < (int)(sizeof(worker_pids) / sizeof(worker_pids[0])))
		worker_pids[nworker_pids++] = p;
}

static inline void forget_worker(pid_t p)
{
	for (int k = 0; k < nworker_pids; k++)
		if (worker_pids[k] == p)
			worker_pids[k] = 0;
}

/* Kill and reap every recorded worker process still around. */
static inline void kill_workers(void)
{
	for (int k = 0; k < nworker_pids; k++)
		if (worker_pids[k] > 0)
			kill(worker_pids[k], SIGKILL);
	for (int k = 0; k < nworker_pids; k++)
		if (worker_pids[k] > 0)
			waitpid(worker_pids[k], NULL, 0);
	nworker_pids = 0;
}

/*
 * Reap child p into *status, waiting at most poll_bound: 0 once reaped, -1
 * if waitpid fails (errno), 1 if it did not exit in time (then it is killed
 * and reaped, and timed_out()).
 */
static inline int reap_bounded(pid_t p, int *status)
{
	double end = now() + poll_bound;

	for (;;) {
		pid_t r = waitpid(p, status, WNOHANG);

		if (r == p)
			return 0;
		if (r < 0)
			return -1;
		if (now() > end) {
			timed_out();
			kill(p, SIGKILL);
			waitpid(p, status, 0);
			return 1;
		}
		sleep_ms(1);
	}
}

/* Write how worker name ended: "A exited 0", "A killed by SIGKILL". */
static inline void note_exit(const char *name, int status)
{
	if (WIFEXITED(status))
		note("%s exited %d", name, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		note("%s killed by SIG%s", name,
		     sigabbrev_np(WTERMSIG(status)));
	else
		note("%s status %#x", name, status);
}

/*
 * Reap worker process pid, named name (killed if it does not exit within
 * the poll bound), and write how it ended; -1 if waitpid failed.
 */
static inline int reap_worker(const char *name, pid_t pid)
{
	int status = 0, r = reap_bounded(pid, &status);

	if (r < 0) {
		T_FAIL("waitpid %s: %s", name, strerror(errno));
		return -1;
	}
	if (r > 0) {
		T_FAIL("%s did not exit", name);
		note("%s did not exit", name);
	}
	note_exit(name, status);
	return 0;
}

/*
 * After a death: poll (at most SETTLE_SECONDS) until cond holds, then wait
 * SETTLE_EXTRA_MS more in case a late, wrong update follows.
 */
#define settle_until(cond)                                                 \
	do {                                                               \
		double settle_end_ = now() + SETTLE_SECONDS;               \
		while (!(cond) && now() < settle_end_)                     \
			sleep_ms(1);                                       \
		sleep_ms(SETTLE_EXTRA_MS);                                 \
	} while (0)

/* Scheduler state ('S', 'T', 'Z', ...) of task tid of process pid, or 0. */
static inline char proc_task_state(pid_t pid, pid_t tid)
{
	char path[96], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
		 (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	return p[2];
}

/*
 * Wait until task tid of process pid, named name in the transcript, is in
 * one of the states (e.g. "Tt"); write "name what" (or "name not what").
 */
static inline void wait_task_state(const char *name, pid_t pid, pid_t tid,
				   const char *states, const char *what)
{
	double end = now() + poll_bound;
	char st = 0;

	for (;;) {
		st = proc_task_state(pid, tid);
		if (st && strchr(states, st)) {
			note("%s %s", name, what);
			return;
		}
		if (now() > end) {
			T_FAIL("%s not seen %s (state %c)", name, what,
			       st ? st : '?');
			note("%s not %s", name, what);
			timed_out();
			return;
		}
		sleep_ms(1);
	}
}

/* ==== driver ==== */

struct scenario {
	const char *name;
	void (*fn)(void);
};

struct block_test {
	const struct scenario *scenarios;
	size_t nscenarios;
	const struct ops *kernel_ops, *uipc_ops;
	/*
	 * Without a new IPC namespace the kernel runs use IPC_PRIVATE objects
	 * of the current one, called so in a warning ("queues"); NULL: the
	 * test is skipped instead.
	 */
	const char *objects_without_namespace;
	/* A known difference: runs when named or with the variable set. */
	const char *known_difference, *known_difference_env;
	/* In the runner before the scenario (or NULL), and after it. */
	void (*setup)(void);
	void (*cleanup)(void);
};

/*
 * The command line: "-v" prints every transcript on stderr; another word
 * runs only the scenarios whose name contains it.
 */
struct options {
	int verbose;
	const char *only;
};

static inline struct options parse_options(int argc, char **argv)
{
	struct options opt = { 0, NULL };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			opt.verbose = 1;
		else
			opt.only = argv[i];
	}
	return opt;
}

static char case_name[128];

/*
 * Run one scenario with one backend in a runner child; its transcript ends
 * up in sh->log.  Returns the runner's wait status, or -1.
 */
static inline int run(const struct block_test *t, const struct scenario *sc,
		      const struct ops *ops, struct shared *sh)
{
	double end;
	int status;
	pid_t r;

	memset(sh, 0, sizeof(*sh));
	fflush(NULL);
	r = fork();
	if (r < 0) {
		T_FAIL("fork: %s", strerror(errno));
		return -1;
	}
	if (r == 0) {
		if (ops->kernel && unshare(CLONE_NEWIPC) != 0) {
			if (!t->objects_without_namespace) {
				fprintf(stderr, "unshare(CLONE_NEWIPC): %s\n",
					strerror(errno));
				_exit(77);
			}
			fprintf(stderr, "unshare(CLONE_NEWIPC): %s; kernel "
				"scenarios use IPC_PRIVATE %s of the current "
				"namespace\n", strerror(errno),
				t->objects_without_namespace);
		}
		alarm(RUNNER_ALARM);
		O = ops;
		SH = sh;
		runner_pid = getpid();
		t_case(case_name);
		if (t->setup)
			t->setup();
		sc->fn();
		t->cleanup();
		if (SH->overflow)
			T_FAIL("transcript overflow");
		_exit(t_case_failed ? 1 : 0);
	}
	end = now() + RUNNER_ALARM + 5;
	for (;;) {
		pid_t w = waitpid(r, &status, WNOHANG);

		if (w == r)
			return status;
		if (w < 0) {
			T_FAIL("waitpid: %s", strerror(errno));
			return -1;
		}
		if (now() > end) {
			T_FAIL("runner overstayed; killing it");
			kill(r, SIGKILL);
			waitpid(r, &status, 0);
			return -1;
		}
		sleep_ms(1);
	}
}

/* 0 (passed), 1 (failed) or 77 (the runner could not run). */
static inline int check_status(int status)
{
	if (status == -1)
		return 1;
	if (WIFSIGNALED(status)) {
		T_FAIL("runner killed by signal %d (%s)", WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
		return 1;
	}
	if (WEXITSTATUS(status) == 77)
		return 77;
	if (WEXITSTATUS(status) != 0)
		t_case_failed = 1;	/* the runner printed why */
	return t_case_failed;
}

/* Report the first line where two transcripts differ. */
static inline void compare(const char *klog, const char *ulog)
{
	int line = 1;

	while (*klog || *ulog) {
		size_t kn = strcspn(klog, "\n"), un = strcspn(ulog, "\n");

		if (kn != un || memcmp(klog, ulog, kn) != 0) {
			T_FAIL("transcript differs at line %d:\n  kernel: "
			       "%.*s\n  uipc:   %.*s", line, (int)kn,
			       *klog ? klog : "(end)", (int)un,
			       *ulog ? ulog : "(end)");
			return;
		}
		klog += kn + (klog[kn] == '\n');
		ulog += un + (ulog[un] == '\n');
		line++;
	}
}

/*
 * Run the scenarios opt selects, each as a case "name [kernel]" and a case
 * "name [uipc]"; the uipc case also fails when its transcript differs from
 * the kernel's.  Returns 77 when the kernel runs cannot have a namespace of
 * their own, else t_exit().
 */
static inline int run_scenarios(const struct block_test *t, struct options opt)
{
	struct shared *ksh, *ush;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ksh = mmap(NULL, sizeof(*ksh), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ush = mmap(NULL, sizeof(*ush), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ksh == MAP_FAILED || ush == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	for (size_t i = 0; i < t->nscenarios; i++) {
		const struct scenario *sc = &t->scenarios[i];
		int st;

		if (opt.only && !strstr(sc->name, opt.only))
			continue;
		if (t->known_difference && !opt.only &&
		    !strcmp(sc->name, t->known_difference) &&
		    !getenv(t->known_difference_env))
			continue;
		snprintf(case_name, sizeof(case_name), "%s [%s]", sc->name,
			 t->kernel_ops->name);
		t_case(case_name);
		st = run(t, sc, t->kernel_ops, ksh);
		t_case(case_name);
		if (check_status(st) == 77) {
			printf("SKIP: no new IPC namespace\n");
			return 77;
		}
		if (opt.verbose)
			fprintf(stderr, "---- %s\n%s", case_name, ksh->log);
		t_done();

		snprintf(case_name, sizeof(case_name), "%s [%s]", sc->name,
			 t->uipc_ops->name);
		t_case(case_name);
		st = run(t, sc, t->uipc_ops, ush);
		t_case(case_name);
		check_status(st);
		if (opt.verbose)
			fprintf(stderr, "---- %s\n%s", case_name, ush->log);
		compare(ksh->log, ush->log);
		t_done();
	}
	return t_exit();
}

#endif
