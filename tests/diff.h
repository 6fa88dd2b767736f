/*
 * diff.h - the machinery of the differential tests msg_diff.c, sem_diff.c and
 * shm_diff.c: every scenario runs against the kernel and against uipc, and
 * the two runs must observe the same.
 *
 * A test writes each scenario once against its own table of operations (the
 * kernel's raw system calls or uipc's functions, chosen by its start_run
 * hook).  A scenario asserts nothing itself: the test's helpers append what a
 * program could observe to a result log with rec() - the source line of the
 * step, which process of the scenario logged it, what, and a value.
 *
 * diff_main() runs each scenario twice, each time in a forked child that
 * first calls unshare(CLONE_NEWIPC): the kernel side gets a private, empty
 * namespace whose /proc/sys/kernel limits it may change, the uipc side the
 * same and a fresh UIPC_ROOT (mkdtemp under /dev/shm, mode 01777, removed
 * after).  The logs live in a MAP_SHARED|MAP_ANONYMOUS mapping, so that the
 * children a scenario starts with as_() - as another user, or as root
 * without some capabilities (setgroups/setresgid/setresuid, capset(),
 * RLIMIT_MEMLOCK) - log into it too.  The parent then compares the two logs
 * entry by entry; the first difference fails the scenario's case, with the
 * source line of the step and the entries around it.  Every run is bounded by
 * alarm() (a hang shows as "uipc run ended with signal 14"), and scenarios not
 * started within 40 s fail as "not run".
 *
 * The permission matrix is here too: perm_run() has the test's objects, one
 * per mode, created by one identity and tried by others; the test says what
 * creating and trying means (struct perm_matrix).  The steps perm_run() logs
 * itself carry line numbers of this file.
 *
 * Environment, for a test named x_diff: X_DIFF_ONLY=name runs one scenario
 * (also one that runs only when asked for); X_DIFF_VERBOSE=1 prints the
 * kernel's log of every scenario (2: uipc's too); X_DIFF_ALL=1 lists every
 * difference while the logs stay aligned, not only the first.  Needs root
 * (else exit 77).
 */
#ifndef UIPC_DIFF_H
#define UIPC_DIFF_H

#include <errno.h>
#include <ftw.h>
#include <grp.h>
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "t.h"

/* ---- the result log, shared with the children ---- */

enum kind { K_VAL, K_ERRNO, K_BOOL, K_UVAL };

struct entry {
	int line;		/* source line of the step */
	short kind;		/* enum kind: how to print val */
	short proc;		/* which process of the scenario logged it */
	char what[24];
	long long val;
};

#define MAXE 131072
struct rlog {
	int n, lost;
	struct entry e[MAXE];
};

#define MAXPIDS 128
#define MAXMODES 16
struct shared {
	struct rlog log[2];	/* [0] kernel, [1] uipc */
	pid_t pids[MAXPIDS];	/* processes of the running scenario */
	int npids;
	uid_t ouid;		/* owner the matrix objects are given to */
	gid_t ogid;
	int ids[MAXMODES];	/* the matrix objects */
	int victim;		/* an object the accessor tries to remove */
	int scratch[4];		/* ids a scenario hands to its children */
};

static struct shared *S;
static struct rlog *L;		/* the log of the current run */
static int me;			/* index of this process in S->pids */

static void rec(int line, int kind, const char *what, long long v)
{
	struct entry *e;

	if (L->n >= MAXE) {
		L->lost++;
		return;
	}
	e = &L->e[L->n];
	e->line = line;
	e->kind = (short)kind;
	e->proc = (short)me;
	snprintf(e->what, sizeof(e->what), "%s", what);
	e->val = v;
	L->n++;
}

#define REC_V(what, v) rec(__LINE__, K_VAL, what, (long long)(v))
#define REC_B(what, v) rec(__LINE__, K_BOOL, what, !!(v))

static void register_self(void)
{
	me = S->npids;
	if (S->npids < MAXPIDS)
		S->pids[S->npids++] = getpid();
}

/* 0 for pid 0, i + 1 for the i-th process of the scenario, -1 otherwise. */
static long long pidcat(pid_t p)
{
	if (p == 0)
		return 0;
	for (int i = 0; i < S->npids; i++)
		if (S->pids[i] == p)
			return i + 1;
	return -1;
}

static long long fnv(const void *p, size_t n)
{
	const volatile unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return (long long)(h & 0x7fffffffffffffffull);
}

/* The index of an id in its table (ids are index + 32768 * sequence). */
static int idx(int id)
{
	return id < 0 ? -1 : id % 32768;
}

/* The highest index among ids[] (-1 entries skipped), 0 if none. */
static int maxidx(const int *ids, int n)
{
	int m = 0;

	for (int i = 0; i < n; i++)
		if (ids[i] >= 0 && idx(ids[i]) > m)
			m = idx(ids[i]);
	return m;
}

/* ---- identities ---- */

struct ident {
	const char *name;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[4];
	unsigned long long drop;	/* capabilities to drop (stays uid 0) */
	long memlock;			/* RLIMIT_MEMLOCK in bytes, or -1 */
};

#define CAPB(c) (1ull << (c))
static const struct ident ROOT = { "root", 0, 0, 0, { 0 }, 0, -1 };
static const struct ident NOBODY = { "nobody", 65534, 65534, 0, { 0 }, 0, -1 };
static const struct ident U1000 = { "u1000", 1000, 1000, 0, { 0 }, 0, -1 };
static const struct ident U1001 = { "u1001", 1001, 1001, 0, { 0 }, 0, -1 };
static const struct ident U1001G = { "u1001+g1000", 1001, 1001, 1, { 1000 }, 0, -1 };
static const struct ident U1002P = { "u1002/g1000", 1002, 1000, 0, { 0 }, 0, -1 };
static const struct ident U1003 = { "u1003/g1001", 1003, 1001, 0, { 0 }, 0, -1 };
static const struct ident U1003S = { "u1003+g1001", 1003, 1003, 2, { 1007, 1001 }, 0, -1 };
static const struct ident U1004 = { "u1004", 1004, 1004, 0, { 0 }, 0, -1 };
static const struct ident ROOT_NOIPC = { "root-CAP_IPC_OWNER", 0, 0, 0, { 0 },
	CAPB(CAP_IPC_OWNER), -1 };
static const struct ident ROOT_NOADM = { "root-CAP_SYS_ADMIN", 0, 0, 0, { 0 },
	CAPB(CAP_SYS_ADMIN), -1 };
static const struct ident ROOT_NORES = { "root-CAP_SYS_RESOURCE", 0, 0, 0, { 0 },
	CAPB(CAP_SYS_RESOURCE), -1 };
static const struct ident ROOT_NODAC = { "root-DAC", 0, 0, 0, { 0 },
	CAPB(CAP_DAC_OVERRIDE) | CAPB(CAP_DAC_READ_SEARCH) | CAPB(CAP_FOWNER), -1 };
/* The same credentials as the parent: a plain child process. */
static const struct ident SAME = { "same", 0, 0, 0, { 0 }, 0, -1 };

static int drop_caps(unsigned long long mask)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	for (int i = 0; i < 2; i++) {
		uint32_t m = (uint32_t)(mask >> (32 * i));
		d[i].effective &= ~m;
		d[i].permitted &= ~m;
		d[i].inheritable &= ~m;
	}
	return (int)syscall(SYS_capset, &h, d);
}

static int become(const struct ident *id)
{
	if (id == &SAME)
		return 0;
	if (id->memlock >= 0) {
		struct rlimit rl = { (rlim_t)id->memlock, (rlim_t)id->memlock };

		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			return -1;
	}
	if (id->uid != 0 || id->gid != 0 || id->ngroups) {
		if (setgroups((size_t)id->ngroups, id->groups) ||
		    setresgid(id->gid, id->gid, id->gid) ||
		    setresuid(id->uid, id->uid, id->uid))
			return -1;
	}
	if (id->drop && drop_caps(id->drop))
		return -1;
	return 0;
}

/*
 * Run fn in a child process with identity id (and umask 077, which the
 * kernel ignores for IPC objects), wait for it to exit normally, and log how
 * it ended.  Children may nest (SAME: a plain child of a child).  The child
 * inherits what its parent has (shm: its attachments), as any forked process.
 */
static void as_(int line, const struct ident *id, void (*fn)(void))
{
	pid_t parent = getpid(), pid;
	int st, self = me;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rec(line, K_VAL, "fork failed", errno);
		return;
	}
	if (pid == 0) {
		/* never outlive the scenario's process: the log is shared */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		register_self();
		alarm(8);
		umask(077);
		int ok = become(id) == 0;
		rec(line, K_BOOL, "became ident", ok);
		if (ok)
			fn();
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	me = self;
	rec(line, K_VAL, "child status", st);
}
#define AS(id, fn) as_(__LINE__, &(id), (fn))

#define BADID 12345	/* an id (index 12345) no scenario creates */

/* ---- the permission matrix ---- */

/*
 * What the matrix means for one kind of object.  create runs as the creator
 * and fills S->ids[0..nmodes-1] (nmodes <= MAXMODES), each given to
 * S->ouid/S->ogid with its mode; victim (as the creator) makes S->victim;
 * access runs as each accessor and tries everything on every object; refill
 * (as root, between accessors) undoes what the accessor did.  begin, if set,
 * runs first, in the scenario's process.  stat logs IPC_STAT of an id,
 * remove the result of IPC_RMID.  caps_accessors are root without each of
 * the three capabilities the kernel's checks for this kind of object use,
 * then root without any of them.
 */
struct perm_matrix {
	int nmodes;
	void (*begin)(void);
	void (*create)(void);
	void (*victim)(void);
	void (*access)(void);
	void (*refill)(void);
	void (*stat)(int line, int id);
	void (*remove)(int line, int id);
	const struct ident *caps_accessors[4];
};

static const struct perm_matrix *matrix;	/* the running test's */

static void perm_run(const struct ident *creator, uid_t ouid, gid_t ogid,
		     const struct ident *const *acc, int nacc)
{
	if (matrix->begin)
		matrix->begin();
	S->ouid = ouid;
	S->ogid = ogid;
	S->victim = -1;
	for (int i = 0; i < matrix->nmodes; i++)
		S->ids[i] = -1;
	as_(__LINE__, creator, matrix->create);
	for (int i = 0; i < matrix->nmodes; i++)
		matrix->stat(__LINE__, S->ids[i]);
	for (int a = 0; a < nacc; a++) {
		as_(__LINE__, creator, matrix->victim);
		as_(__LINE__, acc[a], matrix->access);
		matrix->refill();
	}
	for (int i = 0; i < matrix->nmodes; i++)
		matrix->remove(__LINE__, S->ids[i]);
}

static void sc_perm_root(void)
{
	const struct ident *acc[] = { &ROOT };

	perm_run(&ROOT, 0, 0, acc, 1);
}

static void sc_perm_root_to_users(void)
{
	const struct ident *acc[] = { &NOBODY, &U1000 };

	perm_run(&ROOT, 0, 0, acc, 2);
}

static void sc_perm_nobody(void)
{
	const struct ident *acc[] = { &NOBODY, &U1000 };

	perm_run(&NOBODY, 65534, 65534, acc, 2);
}

static void sc_perm_users(void)
{
	const struct ident *acc[] = { &U1000, &U1001, &U1001G, &U1002P };

	perm_run(&U1000, 1000, 1000, acc, 4);
}

static void sc_perm_caps(void)
{
	perm_run(&U1000, 1000, 1000, matrix->caps_accessors, 4);
}

/*
 * Run only when asked for: a root that keeps CAP_IPC_OWNER or CAP_SYS_ADMIN
 * but drops CAP_DAC_OVERRIDE cannot open the files of an object whose mode
 * excludes it, so uipc refuses what the kernel allows (README, known
 * differences).  Kept to show the difference: X_DIFF_ONLY=perm_caps_nodac.
 */
static void sc_perm_caps_nodac(void)
{
	const struct ident *acc[] = { &ROOT_NODAC };

	perm_run(&U1000, 1000, 1000, acc, 1);
}

static void sc_perm_given_away(void)
{
	const struct ident *acc[] = { &U1000, &U1001, &U1002P, &U1003, &U1003S,
				      &U1004 };

	perm_run(&U1000, 1001, 1001, acc, 6);
}

/* The matrix's owner set by root, for root-created objects. */
static void sc_perm_root_given(void)
{
	const struct ident *acc[] = { matrix->caps_accessors[3], &U1000, &U1001 };

	perm_run(&ROOT, 1000, 1001, acc, 3);
}

/* ---- the driver ---- */

struct scenario {
	const char *name;
	void (*fn)(void);
};

/* The permission matrix's entries of a test's table of scenarios. */
#define PERM_SCENARIOS                                             \
	{ "perm_root", sc_perm_root },                             \
	{ "perm_root_to_users", sc_perm_root_to_users },           \
	{ "perm_nobody", sc_perm_nobody },                         \
	{ "perm_users", sc_perm_users },                           \
	{ "perm_caps", sc_perm_caps },                             \
	{ "perm_caps_nodac", sc_perm_caps_nodac },                 \
	{ "perm_given_away", sc_perm_given_away },                 \
	{ "perm_root_given", sc_perm_root_given }

struct diff_test {
	const char *name;		/* "msg_diff" */
	const char *env;		/* prefix of its variables: "MSG_DIFF" */
	const struct scenario *scenarios;
	size_t nscenarios;
	/* besides perm_caps_nodac, run only when asked for (NULL-ended) */
	const char *const *on_request;
	const struct perm_matrix *matrix;
	/*
	 * In each run's child, before the scenario: choose the kernel's (0)
	 * or uipc's (1) operations, and set up what the scenarios share;
	 * _exit(92) and above if that fails.
	 */
	void (*start_run)(int uipc);
};

static const struct diff_test *this_test;

static const char *test_env(const char *suffix)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_%s", this_test->env, suffix);
	return getenv(name);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Run one scenario in a fresh IPC namespace (and, for uipc, a fresh root). */
static int run(const struct scenario *sc, int which, const char *root)
{
	pid_t pid;
	int st;

	L = &S->log[which];
	L->n = 0;
	L->lost = 0;
	S->npids = 0;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm(10);
		if (unshare(CLONE_NEWIPC))
			_exit(90);
		if (which == 1 && setenv("UIPC_ROOT", root, 1))
			_exit(91);
		umask(022);
		this_test->start_run(which);
		register_self();
		sc->fn();
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static const char *errname(long long e)
{
	static char b[64];

	if (e == 0)
		return "0";
	snprintf(b, sizeof(b), "%lld (%s)", e, strerror((int)e));
	return b;
}

static void fmt_entry(char *out, size_t n, const struct entry *e)
{
	if (e->kind == K_ERRNO)
		snprintf(out, n, "line %d p%d %s = %s", e->line, e->proc, e->what,
			 errname(e->val));
	else if (e->kind == K_BOOL)
		snprintf(out, n, "line %d p%d %s = %s", e->line, e->proc, e->what,
			 e->val ? "true" : "false");
	else if (e->kind == K_UVAL)
		snprintf(out, n, "line %d p%d %s = %llu", e->line, e->proc,
			 e->what, (unsigned long long)e->val);
	else
		snprintf(out, n, "line %d p%d %s = %lld", e->line, e->proc,
			 e->what, e->val);
}

static void describe_status(char *out, size_t n, int st)
{
	if (WIFEXITED(st))
		snprintf(out, n, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, n, "signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(out, n, "status 0x%x", st);
}

/* Print the step (the run of entries from one source line) around entry i. */
static void print_step(const char *side, const struct rlog *l, int i)
{
	char a[160];
	int s = i, e = i;

	if (i >= l->n)
		return;
	while (s > 0 && s > i - 6 && l->e[s - 1].line == l->e[i].line &&
	       l->e[s - 1].proc == l->e[i].proc)
		s--;
	while (e + 1 < l->n && e < i + 16 && l->e[e + 1].line == l->e[i].line &&
	       l->e[e + 1].proc == l->e[i].proc)
		e++;
	for (int j = s; j <= e; j++) {
		fmt_entry(a, sizeof(a), &l->e[j]);
		fprintf(stderr, "    %s %s %s\n", side, j == i ? "->" : "  ", a);
	}
}

/*
 * Report the first difference, with its whole step on both sides.  With
 * X_DIFF_ALL set, go on and list every entry that differs while the two logs
 * stay aligned (the state may have diverged: read those with care).
 */
static void compare(const struct scenario *sc, int st0, int st1)
{
	const struct rlog *k = &S->log[0], *u = &S->log[1];
	int all = test_env("ALL") != NULL, ndiff = 0;
	int n = k->n < u->n ? k->n : u->n;
	char a[160], b[160];

	t_case(sc->name);
	if (st0 != 0) {
		describe_status(a, sizeof(a), st0);
		T_FAIL("kernel run ended with %s", a);
	}
	if (st1 != 0) {
		describe_status(a, sizeof(a), st1);
		T_FAIL("uipc run ended with %s", a);
	}
	if (k->lost || u->lost)
		T_FAIL("result log overflow");
	for (int i = 0; i < n; i++) {
		const struct entry *x = &k->e[i], *y = &u->e[i];

		if (x->line == y->line && x->val == y->val &&
		    !strcmp(x->what, y->what))
			continue;
		fmt_entry(a, sizeof(a), x);
		fmt_entry(b, sizeof(b), y);
		if (ndiff++ == 0) {
			T_FAIL("result %d differs (line %d):", i, x->line);
			print_step("kernel", k, i);
			print_step("uipc  ", u, i);
		} else {
			fprintf(stderr, "    also result %d: kernel %s | uipc %s\n",
				i, a, b);
		}
		if (!all || x->line != y->line)
			break;
	}
	if (k->n != u->n && (ndiff == 0 || all)) {
		const struct entry *x = k->n > u->n ? &k->e[n] : &u->e[n];

		fmt_entry(a, sizeof(a), x);
		T_FAIL("kernel logged %d results, uipc %d; next on the %s side: %s",
		       k->n, u->n, k->n > u->n ? "kernel" : "uipc", a);
	}
	t_done();
}

static int on_request(const char *name)
{
	if (!strcmp(name, "perm_caps_nodac"))
		return 1;
	for (const char *const *r = this_test->on_request; r && *r; r++)
		if (!strcmp(name, *r))
			return 1;
	return 0;
}

/* Run every scenario (or X_DIFF_ONLY's) on both sides, compare, report. */
static int diff_main(const struct diff_test *t)
{
	const char *only, *verbose;
	int found = 0;
	struct timespec t0, now;

	this_test = t;
	matrix = t->matrix;
	only = test_env("ONLY");
	verbose = test_env("VERBOSE");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (geteuid() != 0) {
		printf("SKIP %s: needs root (unshare(CLONE_NEWIPC), setuid)\n",
		       t->name);
		return 77;
	}
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t i = 0; i < t->nscenarios; i++) {
		const struct scenario *sc = &t->scenarios[i];
		char root[64];
		int st0, st1;

		if (only && strcmp(only, sc->name))
			continue;
		if (!only && on_request(sc->name))
			continue;
		found = 1;
		/* A hang costs one alarm (10 s) per run; bound the total. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 40) {
			t_case(sc->name);
			T_FAIL("not run: earlier scenarios used up the time budget");
			t_done();
			continue;
		}
		st0 = run(sc, 0, NULL);
		if (st0 != -1 && WIFEXITED(st0) && WEXITSTATUS(st0) == 90) {
			printf("SKIP %s: unshare(CLONE_NEWIPC) failed\n", t->name);
			return 77;
		}
		snprintf(root, sizeof(root), "/dev/shm/%s.XXXXXX", t->name);
		if (!mkdtemp(root) || chmod(root, 01777)) {
			perror(root);
			return 1;
		}
		st1 = run(sc, 1, root);
		rm_rf(root);
		if (verbose) {
			char line[160];

			for (int w = 0; w <= (atoi(verbose) > 1); w++)
				for (int j = 0; j < S->log[w].n; j++) {
					fmt_entry(line, sizeof(line), &S->log[w].e[j]);
					fprintf(stderr, "%s%s[%d] %s\n", w ? "uipc:" : "",
						sc->name, j, line);
				}
		}
		compare(sc, st0, st1);
	}
	if (only && !found) {
		fprintf(stderr, "no scenario %s\n", only);
		return 1;
	}
	return t_exit();
}

#endif
