/*
 * bench.h - what the benches share: a private uipc root (made and removed
 * by the bench itself when UIPC_ROOT is not set), the watchdog, failing
 * cleanly (the child killed, the root removed), the environment
 * (UIPC_BENCH_SCALE, _RUNS, _VERBOSE), medians and times.
 *
 * Each bench is one program: it defines BENCH_NAME and includes this once.
 */
#ifndef UIPC_BENCH_H
#define UIPC_BENCH_H

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmp_root[64];	/* the private root we made, or "" */
static volatile pid_t kid;	/* the running child, for the watchdog */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void remove_root(void)
{
	if (tmp_root[0])
		nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Report what failed (and for whom: "kernel", "uipc" or NULL), and quit. */
static void bench_fail(const char *who, const char *what)
{
	fprintf(stderr, BENCH_NAME ": %s%s%s: %s\n", who ? who : "", who ? " " : "", what,
		strerror(errno));
	if (kid > 0)
		kill(kid, SIGKILL);
	remove_root();
	exit(1);
}

/* In a child: report what failed, and end it (its parent then fails). */
static __attribute__((unused)) void bench_child_fail(const char *who, const char *what)
{
	fprintf(stderr, BENCH_NAME ": %s child %s: %s\n", who, what, strerror(errno));
	_exit(1);
}

/* Wait for the child pid; a child that failed fails the bench. */
static __attribute__((unused)) void bench_reap(const char *who, pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		bench_fail(NULL, "waitpid");
	kid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, BENCH_NAME ": %s child failed (status %#x)\n", who, status);
		remove_root();
		exit(1);
	}
}

static void on_alarm(int sig)
{
	static const char m[] = BENCH_NAME ": a run took longer than the watchdog, giving up\n";

	(void)sig;
	if (kid > 0)
		kill(kid, SIGKILL);
	(void)!write(2, m, sizeof(m) - 1);
	remove_root();
	_exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A time in ns, printed with a unit that keeps 3-4 digits. */
static const char *fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%.1f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	return buf;
}

/*
 * Start a bench: with no UIPC_ROOT, make a private root and run again with
 * it set (so that the library sees it from its first call); read the
 * environment into *scale, *runs (at most maxruns) and *verbose, which keep
 * their values when it says nothing; arm the watchdog's handler.
 */
static void bench_start(char **argv, double *scale, int *runs, int maxruns, int *verbose)
{
	const char *e;

	if (!getenv("UIPC_ROOT")) {
		snprintf(tmp_root, sizeof(tmp_root), "/dev/shm/uipc-bench.XXXXXX");
		if (!mkdtemp(tmp_root))
			bench_fail(NULL, "mkdtemp");
		chmod(tmp_root, 01777);
		setenv("UIPC_ROOT", tmp_root, 1);
		setenv("UIPC_BENCH_OWN_ROOT", tmp_root, 1);
		execv("/proc/self/exe", argv);
		bench_fail(NULL, "execv /proc/self/exe");
	}
	if ((e = getenv("UIPC_BENCH_OWN_ROOT")) && strlen(e) < sizeof(tmp_root)) {
		strcpy(tmp_root, e);
		unsetenv("UIPC_BENCH_OWN_ROOT");
	}
	if ((e = getenv("UIPC_BENCH_SCALE")) && atof(e) > 0)
		*scale = atof(e);
	if ((e = getenv("UIPC_BENCH_VERBOSE")))
		*verbose = atoi(e) > 0;
	if ((e = getenv("UIPC_BENCH_RUNS")) && atoi(e) > 0)
		*runs = atoi(e) > maxruns ? maxruns : atoi(e);
	signal(SIGALRM, on_alarm);
}

#endif
