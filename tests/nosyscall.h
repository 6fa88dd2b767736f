/*
 * nosyscall.h - the seccomp trap of msg_nosyscall.c and sem_nosyscall.c,
 * which prove that a fast path makes no system call.
 *
 * A forked child, after its warm-up, calls start_trapping(): a SIGSYS
 * handler, every signal unblocked, and a seccomp filter (classic BPF) that
 * returns SECCOMP_RET_TRAP for every system call but rt_sigreturn,
 * exit_group and write.  The handler counts the traps per phase (the child
 * sets traps->phase before each) in a struct traps that the test keeps in a
 * MAP_SHARED block, records the first syscall numbers of each phase and,
 * when traps->watched_path is set, how many were an openat of that path; the
 * trapped call fails with ENOSYS.  start_trapping() then runs phase 1, the
 * control: one getppid(), which must be counted once.  The child ends with
 * leave_child() (a direct exit_group) and writes only to shared memory in
 * between: no stdio, no malloc.
 *
 * The parent runs the child with run_child(), then check_child_ended() and
 * check_control() are the cases every such test has; trapped_numbers()
 * lists what a phase trapped, for a report.
 */
#ifndef UIPC_NOSYSCALL_H
#define UIPC_NOSYSCALL_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "t.h"

/* Where the trapped call's result and its second argument are; unknown elsewhere. */
#if defined(__x86_64__)
#define ARCH_NR AUDIT_ARCH_X86_64
#define SET_SYSCALL_RESULT(uc, v) ((uc)->uc_mcontext.gregs[REG_RAX] = (v))
#define SYSCALL_ARG1(uc) ((uc)->uc_mcontext.gregs[REG_RSI])
#elif defined(__aarch64__)
#define ARCH_NR AUDIT_ARCH_AARCH64
#define SET_SYSCALL_RESULT(uc, v) ((uc)->uc_mcontext.regs[0] = (v))
#define SYSCALL_ARG1(uc) ((uc)->uc_mcontext.regs[1])
#endif

#ifdef ARCH_NR

#define TRAP_PHASES 6
#define MAX_NRS 16

struct traps {
	volatile int installed;			/* 1 filter in force, -errno if not */
	volatile int phase;			/* which count the handler adds to */
	volatile long count[TRAP_PHASES];	/* SIGSYS per phase */
	volatile long watched[TRAP_PHASES];	/* of which openat(watched_path) */
	volatile int nrs[TRAP_PHASES][MAX_NRS];	/* syscall numbers trapped, per phase */
	volatile int nnrs[TRAP_PHASES];
	const char *watched_path;		/* or NULL */
};

static struct traps *traps;

/* Is the string at p s?  (Read in the handler: no library call.) */
static inline int same_string(const volatile char *p, const char *s)
{
	for (; *s; p++, s++)
		if (*p != *s)
			return 0;
	return *p == 0;
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	int ph = traps->phase;

	(void)sig;
	traps->count[ph]++;
	if (traps->watched_path && si->si_syscall == __NR_openat &&
	    same_string((const volatile char *)SYSCALL_ARG1(uc), traps->watched_path))
		traps->watched[ph]++;
	if (traps->nnrs[ph] < MAX_NRS)
		traps->nrs[ph][traps->nnrs[ph]++] = si->si_syscall;
	/*
	 * The trapped call did not run; its result register still holds the
	 * syscall number.  Make it fail with ENOSYS instead.
	 */
	SET_SYSCALL_RESULT(uc, -ENOSYS);
}

static inline int install_filter(void)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { sizeof(prog) / sizeof(prog[0]), prog };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
		return -errno;
	return 0;
}

/*
 * In the child: from now on every system call traps (see above); then phase
 * 1, the control.  Sets traps->installed; returns 0, or -1 if the filter is
 * not available (the child should then just exit).
 */
static inline int start_trapping(void)
{
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	traps->installed = install_filter();
	if (traps->installed != 0)
		return -1;
	traps->installed = 1;

	/* Phase 1, the control: one system call, counted once. */
	traps->phase = 1;
	(void)getppid();
	return 0;
}

static inline void __attribute__((noreturn)) leave_child(void)
{
	traps->phase = 0;
	/* Straight to exit_group: _exit() may be intercepted (sanitizers). */
	syscall(SYS_exit_group, 0);
	_exit(0);
}

/* Wait for pid at most secs seconds, then kill it.  Returns the status or -1. */
static inline int wait_bounded(pid_t pid, int secs)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int status;

	for (int i = 0; i < secs * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/*
 * Forks child(id) (which must not return) and waits for it at most 30 s.
 * Returns its status, -1 if it did not finish, -2 (after perror) if no fork.
 */
static inline int run_child(void (*child)(int id), int id, pid_t *pid)
{
	fflush(NULL);
	*pid = fork();
	if (*pid < 0) {
		perror("fork");
		return -2;
	}
	if (*pid == 0)
		child(id);
	return wait_bounded(*pid, 30);
}

/* The child's warm-up worked but the filter could not be installed: says SKIP. */
static inline int filter_unavailable(int warmup_ok)
{
	if (!warmup_ok || traps->installed >= 0)
		return 0;
	printf("SKIP: seccomp filter not available: %s\n", strerror(-traps->installed));
	return 1;
}

/* The filter was in force, and the child (status from wait_bounded()) finished. */
static inline void check_child_ended(int status, int finished, int rounds_done)
{
	CHECK_EQ(traps->installed, 1);
	CHECK(status != -1);
	if (status != -1) {
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		if (WIFSIGNALED(status))
			T_FAIL("child killed by signal %d", WTERMSIG(status));
	} else {
		T_FAIL("child did not finish in 30 s (phase %d, %d rounds done)",
		       traps->phase, rounds_done);
	}
	CHECK_EQ(finished, 1);
}

/* The case of phase 1. */
static inline void check_control(void)
{
	t_case("control: getppid() under the filter is counted once");
	CHECK_EQ(traps->count[1], 1);
	t_done();
}

/* " n1 n2 ...": the first syscall numbers phase ph trapped. */
static inline const char *trapped_numbers(int ph)
{
	static char list[MAX_NRS * 12];

	list[0] = 0;
	for (int i = 0; i < traps->nnrs[ph]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), " %d",
			 traps->nrs[ph][i]);
	return list;
}

#endif /* ARCH_NR */

#endif
