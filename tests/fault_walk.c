/*
 * fault_walk.c - every step of every mutating path, killed in turn: the
 * objects stay exact and usable (built against the -DUIPC_FAULT library).
 *
 * Design.  A scenario is a known state (set up by this process, the
 * parent, sometimes with helper processes sleeping in a call or holding a
 * SEM_UNDO adjustment or an attachment) and one operation, run in a forked
 * child armed with uipc_fault_arm(k), which kills it with SIGKILL just
 * before its k-th step that changes shared state.  First the operation runs
 * armed with 0, to completion, and the child passes the sites of its steps
 * back through shared memory; then k = 1, 2, ... each on a fresh state,
 * until the child completes.  After each death (and the completion) the
 * parent checks, through the API only:
 *  - the state is exactly "done" or exactly "not done": queue contents in
 *    order, qnum, cbytes, lspid/lrpid; every semaphore's value and sempid,
 *    semncnt/semzcnt; shm_nattch equal to the live attachments; an object
 *    wholly there (usable, found by its key) or wholly gone (its key free
 *    for a new object); and the completed run is "done";
 *  - SEM_UNDO adjustments of the dead are applied exactly once (the values
 *    are chosen so that never, once and twice differ);
 *  - helpers sleeping in a call were served if the operation was done,
 *    still sleep if not, and end with the result they must have;
 *  - the object is usable: operations give the exact expected results;
 *  - nothing is left: once every object is removed, *_INFO counts none and
 *    the root holds no object file and no name (what is left is reported,
 *    then removed, so that the next run starts clean).
 * A scenario is a t_case.  The summary counts the deaths walked and the
 * distinct sites ("src/msg.c:123") of the steps killed at; run from the
 * source tree, it also names the FAULT_STEP() sites of src/ never reached.
 *
 * Waiting for another process (to sleep in a call, to end) is bounded: one
 * that does not is a failure, never a timing threshold.  A process sleeps
 * when /proc/PID/stat says 'S' (uipc's callers sleep only on futexes).
 * FAULT_WALK_VERBOSE=1 prints every step walked; FAULT_WALK_ONLY=text walks
 * only the scenarios whose names contain text.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uipc.h"
#include "t.h"
#include "proc_state.h"

#define NS 3			/* semaphores per set */
#define SEG_SIZE 8192
#define KEY ((key_t)0x7a110c05)
#define MAX_STEPS 1024
#define SITE_LEN 48
#define MAX_SITES 512
#define MAX_HELPERS 4
#define EXTRA_STEPS 16		/* steps a walk may take beyond the counted ones */
#define WAIT_SECONDS 10		/* bound on any wait for another process */
#define REPORTS_PER_CASE 12
#define WHY_LEN 160

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

enum { K_MSG, K_SEM, K_SHM };

struct scenario {
	const char *name;
	void (*setup)(void);		/* parent: the known state */
	int (*prep)(void);		/* child, not armed yet (may be NULL) */
	int (*op)(void);		/* child, armed: 0 when the result is right */
	void (*during)(void);		/* parent, while the child runs (may be NULL) */
	int (*check)(bool completed);	/* 1 done, 0 not done, -1 no difference */
	int kind;			/* of the object, for what all kinds do */
	key_t key;			/* of the object the state has */
	const char *state;		/* a queue's types ("12"), a set's values ("500") */
	int qbytes;			/* the queue's msg_qbytes (0: the default) */
	long type;			/* msgsnd, msgrcv: the type */
	int flg;			/* msgrcv: the flags */
	long expect;			/* msgrcv: the type received */
	struct sembuf sops[3];		/* semop: the operations */
	int nsops;
	/*
	 * The states allowed after the operation, "done|not done" (or more
	 * pairs: several operations), see queue_is() and sems_are(); one
	 * alone: the operation leaves no trace.
	 */
	const char *alts;
};

struct helper_out {
	long steps;		/* steps taken, when armed */
	long got;		/* a message type received */
	int ready;		/* it did its operation and holds */
	char why[WHY_LEN];
};

/* Shared by the parent, the walked child and the helpers. */
struct shared {
	long steps;		/* the count run: steps of the operation */
	char site[MAX_STEPS][SITE_LEN];
	int id;			/* an id the walked operation made */
	int release;		/* helpers that hold go on */
	char why[WHY_LEN];	/* the walked operation's wrong result */
	struct helper_out h[MAX_HELPERS];
};

static struct shared *sh;
static const struct scenario *cur;
static long cur_k;		/* the step killed at, 0 the count run, -1 completed */
static const char *cur_site;
static char *why;		/* this process's sh->why or sh->h[i].why */
static int self;		/* in a helper: its index */
static pid_t me, child;
static int child_status;
static bool child_ended;
static pid_t hp[MAX_HELPERS];
static int hstatus[MAX_HELPERS], nh;
static bool hended[MAX_HELPERS];
static int q = -1, s = -1, m = -1;	/* the scenario's objects */
static void *attached;		/* the walked child's attachment */
static long violations, reported, deaths_total;
static char sites_seen[MAX_SITES][SITE_LEN];
static int nsites_seen;

/* ---- reporting ---- */

static void bad(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(int line, const char *fmt, ...)
{
	va_list ap;

	violations++;
	t_case_failed = 1;
	if (++reported > REPORTS_PER_CASE)
		return;
	fprintf(stderr, "fault_walk.c:%d: [%s] ", line, cur->name);
	if (cur_k > 0)
		fprintf(stderr, "killed at step %ld (%s): ", cur_k, cur_site ? cur_site : "uncounted");
	else
		fprintf(stderr, "%s: ", cur_k < 0 ? "completed" : "count run");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
#define BAD(...) bad(__LINE__, __VA_ARGS__)
#define EXPECT_EQ(a, b)                                                            \
	do {                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                \
		if (a_ != b_)                                                      \
			BAD("%s == %lld, expected %lld", #a, a_, b_);              \
	} while (0)
#define EXPECT_ERR(call, err)                                                      \
	do {                                                                       \
		errno = 0;                                                         \
		long long r_ = (long long)(call);                                  \
		if (r_ != -1 || errno != (err))                                    \
			BAD("%s returned %lld (%s), expected -1 (%s)", #call, r_,     \
			    strerror(errno), strerror(err));                       \
	} while (0)

/* A step of the parent that cannot fail: the walk cannot go on without it. */
static void must(bool ok, const char *what)
{
	if (ok)
		return;
	printf("FAIL %s\n", cur->name);
	fprintf(stderr, "fault_walk: [%s] %s: %s\n", cur->name, what, strerror(errno));
	exit(1);
}

/* In a child: the call gave r (and errno); 0 if that is 'expect', else 1. */
static int want(long r, long expect, const char *what)
{
	if (r == expect)
		return 0;
	snprintf(why, WHY_LEN, "%s returned %ld (%s), expected %ld", what, r,
		 r == -1 ? strerror(errno) : "", expect);
	return 1;
}

/* The same for a call that may be refused with EIDRM (then 2). */
static int want_or_idrm(long r, long expect, const char *what)
{
	return r == -1 && errno == EIDRM ? 2 : want(r, expect, what);
}

/*
 * Which of the alternatives ("abc|de|") str is: its index, or -1.  '.' in
 * an alternative matches any character.
 */
static int alternative(const char *alts, const char *str)
{
	size_t n, k;
	int i;

	for (i = 0;; i++, alts += n + 1) {
		n = strcspn(alts, "|");
		for (k = 0; n == strlen(str) && k < n && (alts[k] == '.' || alts[k] == str[k]); k++)
			;
		if (n == strlen(str) && k == n)
			return i;
		if (!alts[n])
			return -1;
	}
}

/* What an alternative means: even ones are "done", a lone one "no trace". */
static int done_of(int which)
{
	return which < 0 || !strchr(cur->alts, '|') ? -1 : which % 2 == 0;
}

/* ---- processes ---- */

static void on_alarm(int sig)
{
	(void)sig;	/* interrupts a wait */
}

/* Wait for pid to end, at most WAIT_SECONDS; kill it if it does not. */
static bool reap(pid_t pid, int *status, const char *who)
{
	pid_t r;

	alarm(WAIT_SECONDS);
	r = waitpid(pid, status, 0);
	alarm(0);
	if (r == pid)
		return true;
	BAD("%s (pid %d) did not end", who, (int)pid);
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return false;
}

/* Wait until pid sleeps (in a call) or ends; true if it sleeps. */
static bool sleeps(pid_t pid, int *status, bool *ended, const char *who)
{
	time_t t0 = time(NULL);

	for (;;) {
		if (waitpid(pid, status, WNOHANG) == pid) {
			*ended = true;
			return false;
		}
		if (proc_state(pid) == 'S')
			return true;
		if (time(NULL) - t0 > WAIT_SECONDS) {
			BAD("%s (pid %d) neither slept nor ended", who, (int)pid);
			return false;
		}
		sched_yield();
	}
}

/* Start a helper: fn, armed with k (k < 0: not armed); its status fn's. */
static int spawn_armed(int (*fn)(void), long k)
{
	int i = nh++;
	pid_t pid;

	sh->h[i] = (struct helper_out){ 0 };
	fflush(NULL);
	pid = fork();
	must(pid >= 0, "fork");
	if (pid == 0) {
		int r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		why = sh->h[i].why;
		self = i;
		if (k >= 0)
			uipc_fault_arm(k);
		r = fn();
		sh->h[i].steps = uipc_fault_steps();
		_exit(r);
	}
	hp[i] = pid;
	hended[i] = false;
	return i;
}

static int spawn(int (*fn)(void))
{
	return spawn_armed(fn, -1);
}

/* The exit status of helper i (waiting for it), or -signal. */
static int helper_end(int i)
{
	char who[16];

	snprintf(who, sizeof(who), "helper %c", 'a' + i);
	if (!hended[i]) {
		hended[i] = true;
		if (!reap(hp[i], &hstatus[i], who))
			return -SIGKILL;
	}
	if (WIFEXITED(hstatus[i]) && WEXITSTATUS(hstatus[i]) == 1)
		BAD("helper %c: %s", 'a' + i, sh->h[i].why);
	return WIFEXITED(hstatus[i]) ? WEXITSTATUS(hstatus[i]) : -WTERMSIG(hstatus[i]);
}

/* Helper i must end with status 'expect' (2: its call got EIDRM). */
static void helper_ends(int i, int expect)
{
	int st = helper_end(i);

	if (st != expect && st != 1)
		BAD("helper %c ended with %d, expected %d", 'a' + i, st, expect);
}

static void helper_sleeps(int i)
{
	char who[16];

	snprintf(who, sizeof(who), "helper %c", 'a' + i);
	if (!sleeps(hp[i], &hstatus[i], &hended[i], who))
		BAD("helper %c ended before it slept (status %#x): %s", 'a' + i, hstatus[i],
		    sh->h[i].why);
}

/* Wait for helper i to have done its operation (it then holds). */
static void helper_ready(int i)
{
	time_t t0 = time(NULL);

	while (!__atomic_load_n(&sh->h[i].ready, __ATOMIC_ACQUIRE)) {
		if (waitpid(hp[i], &hstatus[i], WNOHANG) == hp[i]) {
			hended[i] = true;
			must(false, sh->h[i].why);
		}
		must(time(NULL) - t0 <= WAIT_SECONDS, "a helper never got ready");
		usleep(50);
	}
}

/* In a helper: say it is ready, wait for the parent's release. */
static void hold(void)
{
	__atomic_store_n(&sh->h[self].ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&sh->release, __ATOMIC_ACQUIRE))
		usleep(100);
}

static void release_helpers(void)
{
	__atomic_store_n(&sh->release, 1, __ATOMIC_RELEASE);
}

static char who(pid_t pid)
{
	int i;

	if (pid == me)
		return 'p';
	if (pid == child)
		return 'w';
	for (i = 0; i < nh; i++)
		if (pid == hp[i])
			return (char)('a' + i);
	return pid ? '?' : '0';
}

/* ---- what every kind does ---- */

static const char *const kind_names[] = { "msg", "sem", "shm" };

static int get(key_t key, int flg)
{
	switch (cur->kind) {
	case K_MSG:
		return uipc_msgget(key, flg);
	case K_SEM:
		return uipc_semget(key, NS, flg);
	default:
		return uipc_shmget(key, SEG_SIZE, flg);
	}
}

static int rm(int kind, int id)
{
	switch (kind) {
	case K_MSG:
		return uipc_msgctl(id, IPC_RMID, NULL);
	case K_SEM:
		return uipc_semctl(id, 0, IPC_RMID);
	default:
		return uipc_shmctl(id, IPC_RMID, NULL);
	}
}

/* IPC_STAT (0 or -1), or a *_STAT by index (the id or -1). */
static int stat_of(int kind, int id, bool by_index)
{
	struct msqid_ds md;
	struct semid_ds sd;
	struct shmid_ds hd;

	switch (kind) {
	case K_MSG:
		return uipc_msgctl(id, by_index ? MSG_STAT : IPC_STAT, &md);
	case K_SEM:
		return uipc_semctl(id, 0, by_index ? SEM_STAT : IPC_STAT, (union semun){ .buf = &sd });
	default:
		return uipc_shmctl(id, by_index ? SHM_STAT : IPC_STAT, &hd);
	}
}

/* *_INFO: the highest index in use, *n the number of objects. */
static int info(int kind, int *n)
{
	struct msginfo mi;
	struct seminfo si;
	struct shm_info hi;
	int r;

	switch (kind) {
	case K_MSG:
		r = uipc_msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
		*n = mi.msgpool;
		break;
	case K_SEM:
		r = uipc_semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si });
		*n = si.semusz;
		break;
	default:
		r = uipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&hi);
		*n = hi.used_ids;
		break;
	}
	if (r < 0)
		BAD("%s *_INFO: %s", kind_names[kind], strerror(errno));
	return r;
}

static int in_use(void)
{
	int n;

	info(cur->kind, &n);
	return n;
}

/* ---- messages: type t has len_of(t) bytes, each a function of t ---- */

#define MAXTEXT 1024
struct mbuf {
	long mtype;
	char mtext[MAXTEXT];
};

static size_t len_of(long type)
{
	return type == 8 ? 1000 : 40;
}

static char byte_of(long type, size_t j)
{
	return (char)(type * 37 + (long)j * 11);
}

static int snd(long type, int flg)
{
	struct mbuf b;
	size_t j;

	b.mtype = type;
	for (j = 0; j < len_of(type); j++)
		b.mtext[j] = byte_of(type, j);
	return uipc_msgsnd(q, &b, len_of(type), flg);
}

/* Receive: the type, checked with its bytes (else -1, EBADMSG), or -1. */
static long rcv(long type, int flg)
{
	struct mbuf b;
	ssize_t n = uipc_msgrcv(q, &b, MAXTEXT, type, flg);
	size_t j;

	if (n < 0)
		return -1;
	for (j = 0; (size_t)n == len_of(b.mtype) && j < (size_t)n; j++)
		if (b.mtext[j] != byte_of(b.mtype, j))
			break;
	if ((size_t)n != len_of(b.mtype) || j != (size_t)n) {
		errno = EBADMSG;
		return -1;
	}
	return b.mtype;
}

/* A queue that holds the messages of the types in 'types' ("12"). */
static void new_queue(key_t key, const char *types, int qbytes)
{
	struct msqid_ds ds;

	q = uipc_msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	must(q >= 0, "msgget");
	if (qbytes) {
		must(uipc_msgctl(q, IPC_STAT, &ds) == 0, "msgctl IPC_STAT");
		ds.msg_qbytes = (msglen_t)qbytes;
		must(uipc_msgctl(q, IPC_SET, &ds) == 0, "msgctl IPC_SET");
	}
	for (; *types; types++)
		must(snd(*types - '0', IPC_NOWAIT) == 0, "msgsnd");
}

static bool queue_usable(void)
{
	return snd(6, IPC_NOWAIT) == 0 && rcv(0, IPC_NOWAIT) == 6 && rcv(0, IPC_NOWAIT) == -1 &&
	       errno == ENOMSG;
}

static struct msqid_ds qds;	/* the queue as queue_is() found it */

/*
 * The queue holds one of the alternatives ("23|2": the types in order):
 * its index, else -1.  Its counters and bytes are checked, then it is
 * drained and used.
 */
static int queue_is(const char *alts)
{
	char got[32];
	size_t bytes = 0;
	long t = 0;
	int n = 0, which;

	if (uipc_msgctl(q, IPC_STAT, &qds) != 0) {
		BAD("msgctl IPC_STAT: %s", strerror(errno));
		return -1;
	}
	while (n < 30 && (t = rcv(0, IPC_NOWAIT)) > 0) {
		got[n++] = (char)('0' + t);
		bytes += len_of(t);
	}
	got[n] = 0;
	if (t != -1 || errno != ENOMSG)
		BAD("msgrcv after \"%s\": %s", got, t == -1 ? strerror(errno) : "more messages");
	EXPECT_EQ(qds.msg_qnum, n);
	EXPECT_EQ(qds.__msg_cbytes, bytes);
	if ((which = alternative(alts, got)) < 0)
		BAD("the queue holds \"%s\", expected one of \"%s\"", got, alts);
	if (!queue_usable())
		BAD("the queue is not usable: %s", strerror(errno));
	return which;
}

/* ---- semaphores ---- */

#define SEMOP(...)                                                                 \
	uipc_semop(s, (struct sembuf[]){ __VA_ARGS__ },                            \
		   sizeof((struct sembuf[]){ __VA_ARGS__ }) / sizeof(struct sembuf))

static int semctl_arg(int num, int cmd, union semun a)
{
	return uipc_semctl(s, num, cmd, a);
}

/* A set of NS semaphores with the values in 'values' ("500"). */
static void new_set(key_t key, const char *values)
{
	unsigned short v[NS];
	int i;

	s = uipc_semget(key, NS, IPC_CREAT | IPC_EXCL | 0600);
	must(s >= 0, "semget");
	for (i = 0; i < NS; i++)
		v[i] = (unsigned short)(values[i] - '0');
	must(semctl_arg(0, SETALL, (union semun){ .array = v }) == 0, "semctl SETALL");
}

/*
 * The set is one of the alternatives, each the values then who set them
 * last ("510wwp": p the parent, w the walked child, a.. the helpers, .
 * anyone): its index, else -1.
 */
static int sems_are(const char *alts)
{
	unsigned short v[NS];
	char got[2 * NS + 1];
	int i, which;

	if (semctl_arg(0, GETALL, (union semun){ .array = v }) != 0) {
		BAD("semctl GETALL: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < NS; i++) {
		got[i] = v[i] > 9 ? '+' : (char)('0' + v[i]);
		got[NS + i] = who(uipc_semctl(s, i, GETPID));
	}
	got[2 * NS] = 0;
	if ((which = alternative(alts, got)) < 0)
		BAD("the set is \"%s\" (values, who set them), expected one of \"%s\"", got, alts);
	return which;
}

/* semncnt then semzcnt of each semaphore ("010000"). */
static void waiters_are(const char *expect)
{
	char got[2 * NS + 1];
	int i;

	for (i = 0; i < NS; i++) {
		got[i] = (char)('0' + uipc_semctl(s, i, GETNCNT));
		got[NS + i] = (char)('0' + uipc_semctl(s, i, GETZCNT));
	}
	got[2 * NS] = 0;
	if (strcmp(got, expect))
		BAD("semncnt, semzcnt are \"%s\", expected \"%s\"", got, expect);
}

/* Each semaphore goes up and down, alone and in an array; nobody waits. */
static void set_usable(void)
{
	unsigned short before[NS], after[NS];
	int i;

	waiters_are("000000");
	must(semctl_arg(0, GETALL, (union semun){ .array = before }) == 0, "semctl GETALL");
	for (i = 0; i < NS; i++)
		if (SEMOP({ (unsigned short)i, 1, IPC_NOWAIT }) ||
		    SEMOP({ (unsigned short)i, -1, IPC_NOWAIT }))
			BAD("semop on semaphore %d: %s", i, strerror(errno));
	if (SEMOP({ 0, 1, 0 }, { 1, 1, 0 }, { 2, 1, 0 }) ||
	    SEMOP({ 0, -1, IPC_NOWAIT }, { 1, -1, IPC_NOWAIT }, { 2, -1, IPC_NOWAIT }))
		BAD("semop array: %s", strerror(errno));
	must(semctl_arg(0, GETALL, (union semun){ .array = after }) == 0, "semctl GETALL");
	if (memcmp(before, after, sizeof(before)))
		BAD("the values moved: %d %d %d, then %d %d %d", before[0], before[1], before[2],
		    after[0], after[1], after[2]);
}

/* ---- shared memory ---- */

static struct shmid_ds sds;	/* the segment as seg_nattch() found it */

static long seg_nattch(void)
{
	if (uipc_shmctl(m, IPC_STAT, &sds) != 0) {
		BAD("shmctl IPC_STAT: %s", strerror(errno));
		return -1;
	}
	return (long)sds.shm_nattch;
}

/* Two attachments of the parent see the same memory; nattch follows. */
static void seg_usable(long others)
{
	char *a = uipc_shmat(m, NULL, 0), *b = uipc_shmat(m, NULL, 0);

	if (a == (void *)-1 || b == (void *)-1) {
		BAD("shmat: %s", strerror(errno));
	} else {
		EXPECT_EQ(seg_nattch(), others + 2);
		a[SEG_SIZE - 1] = 0x5a;
		EXPECT_EQ(b[SEG_SIZE - 1], 0x5a);
	}
	if ((a != (void *)-1 && uipc_shmdt(a)) || (b != (void *)-1 && uipc_shmdt(b)))
		BAD("shmdt: %s", strerror(errno));
	EXPECT_EQ(seg_nattch(), others);
}

/* Object id of the scenario's kind works (and its state is left as it was). */
static bool usable(int id)
{
	switch (cur->kind) {
	case K_MSG:
		q = id;
		return queue_usable();
	case K_SEM:
		s = id;
		return SEMOP({ 1, 1, 0 }) == 0 && SEMOP({ 1, -1, IPC_NOWAIT }) == 0 &&
		       uipc_semctl(s, 1, GETVAL) >= 0;
	default:
		m = id;
		seg_usable(seg_nattch());
		return true;
	}
}

/* ---- before and after a run ---- */

/* Remove every object of every kind (those the walked child made too). */
static void remove_all(void)
{
	int kind, n, max, i, id;

	for (kind = K_MSG; kind <= K_SHM; kind++) {
		max = info(kind, &n);
		for (i = 0; i <= max; i++)
			if ((id = stat_of(kind, i, true)) >= 0 && rm(kind, id) != 0 &&
			    errno != EIDRM && errno != EINVAL)
				BAD("%s IPC_RMID of %d: %s", kind_names[kind], id, strerror(errno));
	}
}

/*
 * Is root file 'name' one of a segment slot's recycled files (shm.<slot> or
 * shm.<slot>.data, src/slot_files.c): a header in state FREE (its state is
 * the 32-bit word at byte 8, after magic, version and kind) whose data file
 * holds no memory?
 */
static bool free_slot_file(const char *dirpath, const char *name)
{
	char path[4400], *end;
	uint32_t state = 0;
	struct stat st;
	long slot;
	int fd;

	if (strncmp(name, "shm.", 4))
		return false;
	slot = strtol(name + 4, &end, 10);
	if (end == name + 4 || (*end && strcmp(end, ".data")))
		return false;
	snprintf(path, sizeof(path), "%s/shm.%ld", dirpath, slot);
	if ((fd = open(path, O_RDONLY)) < 0)
		return false;
	if (pread(fd, &state, sizeof(state), 8) != (ssize_t)sizeof(state))
		state = 0;
	close(fd);
	snprintf(path, sizeof(path), "%s/shm.%ld.data", dirpath, slot);
	return state == 4 && stat(path, &st) == 0 && st.st_blocks == 0;
}

/*
 * Nothing left: no object counted, no file but the namespace and segment
 * slots' recycled files, no name.  What is left is reported, then removed:
 * the next run starts clean.
 */
static void root_is_clean(void)
{
	char dirpath[4096], path[4400];
	struct dirent *d;
	int kind, n, pass;
	DIR *dir;

	for (kind = K_MSG; kind <= K_SHM; kind++)
		if (info(kind, &n) >= 0 && n != 0)
			BAD("%s objects left after every one was removed: %d", kind_names[kind], n);
	for (pass = 0; pass < 2; pass++) {
		snprintf(dirpath, sizeof(dirpath), "%s%s", uipc_root(), pass ? "/names" : "");
		must((dir = opendir(dirpath)) != NULL, "opendir of the root");
		while ((d = readdir(dir))) {
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
			    (!pass && (!strcmp(d->d_name, "namespace") || !strcmp(d->d_name, "names") ||
				       free_slot_file(dirpath, d->d_name))))
				continue;
			BAD("left in the root: %s%s", pass ? "names/" : "", d->d_name);
			snprintf(path, sizeof(path), "%s/%s", dirpath, d->d_name);
			unlink(path);
		}
		closedir(dir);
	}
}

/* Everything the run made goes: helpers, objects; nothing may be left. */
static void finish(void)
{
	int i;

	release_helpers();
	remove_all();	/* helpers sleeping in a call get EIDRM */
	for (i = 0; i < nh; i++)
		if (!hended[i]) {
			hended[i] = true;
			reap(hp[i], &hstatus[i], "a helper");
		}
	remove_all();	/* a segment whose last attachment went with a helper */
	root_is_clean();
	nh = 0;
	q = s = m = -1;
}

/* ---- get and IPC_RMID, every kind ---- */

static void setup_none(void)
{
}

static void setup_keyed(void)
{
	int id = get(KEY, IPC_CREAT | IPC_EXCL | 0600);

	must(id >= 0, "get");
	q = s = m = id;
}

static int op_get_private(void)
{
	sh->id = get(IPC_PRIVATE, IPC_CREAT | 0600);
	return want(sh->id < 0 ? -1 : 0, 0, "get(IPC_PRIVATE)");
}

static int op_get_key(void)
{
	sh->id = get(KEY, IPC_CREAT | IPC_EXCL | 0600);
	return want(sh->id < 0 ? -1 : 0, 0, "get(KEY, IPC_CREAT | IPC_EXCL)");
}

/* The scenario's object. */
static int obj(void)
{
	return cur->kind == K_MSG ? q : cur->kind == K_SEM ? s : m;
}

static int op_rm(void)
{
	return want(rm(cur->kind, obj()), 0, "IPC_RMID");
}

static int check_get_private(bool completed)
{
	int n = in_use(), id, ignored;

	if (n != 0 && n != 1) {
		BAD("%d objects after one get", n);
		return -1;
	}
	if (n == 1) {
		id = stat_of(cur->kind, info(cur->kind, &ignored), true);
		if (completed)
			EXPECT_EQ(id, sh->id);
		if (!usable(id))
			BAD("the new object is not usable: %s", strerror(errno));
	}
	return n;
}

/*
 * The object with KEY: 1 if it is there (and usable), 0 if it is absent
 * (and a new one can take the key).  The kind has 'others' objects besides.
 */
static int keyed_there(int expect_id, int others)
{
	int id = get(KEY, 0), n = in_use();

	if (id < 0 && errno != ENOENT)
		BAD("get(KEY, 0): %s", strerror(errno));
	EXPECT_EQ(n, others + (id >= 0));
	if (id < 0) {
		if ((id = get(KEY, IPC_CREAT | IPC_EXCL | 0600)) < 0 || !usable(id))
			BAD("a new object with the key: %s", strerror(errno));
		return 0;
	}
	if (expect_id >= 0)
		EXPECT_EQ(id, expect_id);
	if (!usable(id))
		BAD("the object is not usable: %s", strerror(errno));
	EXPECT_ERR(get(KEY, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	return 1;
}

static int check_get_key(bool completed)
{
	return keyed_there(completed ? sh->id : -1, 0);
}

/* Removed (1): its id is invalid; else (0) it is there. */
static int removed(int id)
{
	if (stat_of(cur->kind, id, false) == 0)
		return 0;
	if (errno != EINVAL)
		BAD("IPC_STAT: %s, expected EINVAL or success", strerror(errno));
	return 1;
}

/* Removed, and its key free; or there, with its key. */
static int removed_with_key(int id)
{
	int gone = removed(id);

	if (keyed_there(gone ? -1 : id, 0) == gone)
		BAD("the key and the id disagree: removed %d", gone);
	return gone;
}

static int check_rm(bool completed)
{
	(void)completed;
	return removed_with_key(obj());
}

/* ---- message queues ---- */

static void setup_queue(void)
{
	new_queue(cur->key, cur->state, cur->qbytes);
}

static int op_send(void)
{
	return want(snd(cur->type, 0), 0, "msgsnd");
}

static int op_recv(void)
{
	return want(rcv(cur->type, cur->flg), cur->expect, "msgrcv");
}

static int check_queue(bool completed)
{
	(void)completed;
	return done_of(queue_is(cur->alts));
}

/* A send done made the walked child msg_lspid; one not done did not. */
static int check_sent(bool completed)
{
	int done = check_queue(completed);

	if (done >= 0 && (who(qds.msg_lspid) == 'w') != done)
		BAD("msg_lspid is %c, the send done: %d", who(qds.msg_lspid), done);
	return done;
}

static int check_received(bool completed)
{
	int done = check_queue(completed);

	if (done >= 0 && (who(qds.msg_lrpid) == 'w') != done)
		BAD("msg_lrpid is %c, the receive done: %d", who(qds.msg_lrpid), done);
	return done;
}

/* Helpers: a receiver of any type, one of type 9, senders of 3 and 2. */
static int helper_recv_any(void)
{
	long t = rcv(0, 0);

	sh->h[self].got = t;
	return t > 0 ? 0 : want_or_idrm(t, 1, "msgrcv");
}

static int helper_recv9(void)
{
	return want_or_idrm(rcv(9, 0), 9, "msgrcv(type 9)");
}

static int helper_send3(void)
{
	return want_or_idrm(snd(3, 0), 0, "msgsnd(type 3)");
}

static int helper_send2(void)
{
	return want_or_idrm(snd(2, 0), 0, "msgsnd(type 2)");
}

static void setup_queue_recv9(void)
{
	setup_queue();
	helper_sleeps(spawn(helper_recv9));
}

static int check_sent_recv9(bool completed)
{
	int done = check_sent(completed);

	must(snd(9, IPC_NOWAIT) == 0, "msgsnd(type 9)");
	helper_ends(0, 0);
	return done;
}

static void setup_queue_recv_any(void)
{
	setup_queue();
	helper_sleeps(spawn(helper_recv_any));
}

/* The receiver waiting gets the message sent, or the parent's next one. */
static int check_hand_off(bool completed)
{
	long got;

	(void)completed;
	must(snd(5, IPC_NOWAIT) == 0, "msgsnd(type 5)");
	helper_ends(0, 0);
	got = sh->h[0].got;
	if (got != 2 && got != 5) {
		BAD("the waiting receiver got %ld, expected 2 (sent) or 5 (not sent)", got);
		return -1;
	}
	if (queue_is(got == 2 ? "5" : "|2") == 1)
		BAD("message 2 was queued and the waiting receiver got the later 5");
	return got == 2;
}

/* The parent makes room once the walked sender sleeps (or died). */
static void during_make_room(void)
{
	sleeps(child, &child_status, &child_ended, "the walked process");
	if (rcv(0, IPC_NOWAIT) != 1)
		BAD("msgrcv while the sender waits: %s", strerror(errno));
}

/* The parent sends once the walked receiver sleeps (or died). */
static void during_send4(void)
{
	sleeps(child, &child_status, &child_ended, "the walked process");
	if (snd(4, IPC_NOWAIT) != 0)
		BAD("msgsnd while the receiver waits: %s", strerror(errno));
}

static void setup_queue_send3(void)
{
	setup_queue();
	helper_sleeps(spawn(helper_send3));
}

/* The sender waiting for room got it if the receive was done. */
static int check_sender_woken(bool completed)
{
	long first;

	(void)completed;
	/* 1 then 2 if it was not done; 2 if it was; then the sender's 3. */
	alarm(WAIT_SECONDS);
	first = rcv(0, 0);
	if (first == 1 && rcv(0, 0) != 2)
		first = -1;
	alarm(0);
	if (first != 1 && first != 2) {
		BAD("msgrcv: %s", strerror(errno));
		return -1;
	}
	helper_ends(0, 0);
	queue_is("3");
	return first == 2;
}

/*
 * Recovery walked: helper a was killed in the middle of an operation (the
 * step counted once per scenario, on the same state), and the walked
 * operation is the next one on the object.
 */
static long mid_send, mid_recv, mid_semop;

static int send2(void)
{
	return want(snd(2, 0), 0, "msgsnd(type 2)");
}

static int recv1(void)
{
	return want(rcv(0, 0), 1, "msgrcv");
}

/* After helper a's receive, the walked one takes 2, or 1 if a's was not done. */
static int recv_1_or_2(void)
{
	long t = rcv(0, 0);

	return t == 1 ? 0 : want(t, 2, "msgrcv");
}

static int semop_array(void)
{
	return want(SEMOP({ 0, -1, 0 }, { 1, 1, 0 }), 0, "semop array");
}

static void die_midway(int (*fn)(void), long *mid, void (*state)(void))
{
	int i;

	if (!*mid) {
		state();
		i = spawn_armed(fn, 0);
		helper_ends(i, 0);
		*mid = sh->h[i].steps / 2 + 1;
		finish();
	}
	state();
	helper_end(spawn_armed(fn, *mid));
}

static void setup_send_after_death(void)
{
	die_midway(send2, &mid_send, setup_queue);
}

static void setup_recv_after_death(void)
{
	die_midway(recv1, &mid_recv, setup_queue);
}

/* Both receives took the first message left; msg_lrpid says who was last. */
static int check_recv_after_death(bool completed)
{
	int which = queue_is("3|23|123");
	char last = who(qds.msg_lrpid);

	(void)completed;
	if (which >= 0 && !strchr(which == 0 ? "w" : which == 1 ? "wa" : "0", last))
		BAD("msg_lrpid is %c, the queue \"%s\"", last, which == 0 ? "3" : which == 1 ? "23" : "123");
	return which < 0 ? -1 : last == 'w';
}

/* IPC_SET: mode and msg_qbytes, grown beyond what the file was made for. */
static void setup_queue_small(void)
{
	must(uipc_limit_set("msgmnb", 2048) == 0, "uipc_limit_set msgmnb");
	setup_queue();
	must(uipc_limit_set("msgmnb", -1) == 0, "uipc_limit_set msgmnb");
}

static int op_msg_set(void)
{
	struct msqid_ds ds;

	if (uipc_msgctl(q, IPC_STAT, &ds))
		return want(-1, 0, "msgctl IPC_STAT");
	ds.msg_perm.mode = 0640;
	ds.msg_qbytes = 4096;
	return want(uipc_msgctl(q, IPC_SET, &ds), 0, "msgctl IPC_SET");
}

static int check_msg_set(bool completed)
{
	struct msqid_ds ds;
	int n, done;

	(void)completed;
	if (uipc_msgctl(q, IPC_STAT, &ds)) {
		BAD("msgctl IPC_STAT: %s", strerror(errno));
		return -1;
	}
	done = ds.msg_qbytes == 4096;
	EXPECT_EQ(ds.msg_qbytes, done ? 4096 : 2048);
	EXPECT_EQ(ds.msg_perm.mode & 0777, done ? 0640 : 0600);
	for (n = 0; n < 10 && snd(8, IPC_NOWAIT) == 0; n++)
		;
	EXPECT_EQ(n, done ? 4 : 2);
	if (errno != EAGAIN)
		BAD("msgsnd on the full queue: %s", strerror(errno));
	queue_is(done ? "8888" : "88");
	return done;
}

/* IPC_RMID with a sender waiting for room and a receiver for type 9. */
static void setup_queue_waiters(void)
{
	setup_queue();
	helper_sleeps(spawn(helper_send2));
	helper_sleeps(spawn(helper_recv9));
}

static int check_rm_waiters(bool completed)
{
	int gone = removed(q);

	(void)completed;
	if (gone) {
		helper_ends(0, 2);
		helper_ends(1, 2);
	} else {
		/* Room for the sender's 2, then room for the receiver's 9. */
		if (rcv(0, IPC_NOWAIT) != 1)
			BAD("msgrcv: %s", strerror(errno));
		helper_ends(0, 0);
		if (rcv(0, IPC_NOWAIT) != 2 || snd(9, IPC_NOWAIT) != 0)
			BAD("msgrcv of 2, msgsnd of 9: %s", strerror(errno));
		helper_ends(1, 0);
		queue_is("");
	}
	if (keyed_there(gone ? -1 : q, 0) == gone)
		BAD("the key and the id disagree: removed %d", gone);
	return gone;
}

/* ---- semaphore sets ---- */

static void setup_set(void)
{
	new_set(cur->key, cur->state);
}

static int op_semop(void)
{
	struct sembuf sops[3];

	memcpy(sops, cur->sops, sizeof(sops));
	return want(uipc_semop(s, sops, (size_t)cur->nsops), 0, "semop");
}

static int check_set(bool completed)
{
	int done = done_of(sems_are(cur->alts));

	(void)completed;
	set_usable();
	return done;
}

static int prep_undo(void)
{
	return want(SEMOP({ 0, -1, SEM_UNDO }), 0, "semop SEM_UNDO");
}

/* The parent's V, once the walked child sleeps in its P (or died). */
static void during_v0(void)
{
	sleeps(child, &child_status, &child_ended, "the walked process");
	if (SEMOP({ 0, 1, 0 }))
		BAD("semop V: %s", strerror(errno));
}

/* Helpers: a P, a P on semaphore 1, a wait for zero; P with SEM_UNDO. */
static int helper_p0(void)
{
	return want(SEMOP({ 0, -1, 0 }), 0, "semop P");
}

static int helper_p1(void)
{
	return want_or_idrm(SEMOP({ 1, -1, 0 }), 0, "semop P(1)");
}

static int helper_z0(void)
{
	return want(SEMOP({ 0, 0, 0 }), 0, "semop Z");
}

static int helper_undo_hold(void)
{
	int r = want(SEMOP({ 0, -1, SEM_UNDO }), 0, "semop SEM_UNDO");

	hold();
	return r;
}

static int helper_undo2_hold(void)
{
	int r = want(SEMOP({ 0, -1, SEM_UNDO }, { 1, -1, SEM_UNDO }), 0, "semop SEM_UNDO");

	hold();
	return r;
}

static int helper_undo_exit(void)
{
	return want(SEMOP({ 0, -1, SEM_UNDO }), 0, "semop SEM_UNDO");
}

static void setup_set_p0(void)
{
	setup_set();
	helper_sleeps(spawn(helper_p0));
}

static void setup_set_z0(void)
{
	setup_set();
	helper_sleeps(spawn(helper_z0));
}

/*
 * The walked operation served the sleeping helper a (then sempid is a's),
 * or a still sleeps (counted in semncnt/semzcnt: 'waiting') and the
 * parent's 'serve' serves it.
 */
static int check_served(const char *waiting, struct sembuf serve)
{
	int which = sems_are(cur->alts);

	if (which == 1) {
		waiters_are(waiting);
		if (uipc_semop(s, &serve, 1))
			BAD("semop: %s", strerror(errno));
	}
	helper_ends(0, 0);
	sems_are("000app");
	set_usable();
	return done_of(which);
}

static int check_served_p(bool completed)
{
	(void)completed;
	return check_served("100000", (struct sembuf){ 0, 1, 0 });
}

static int check_served_z(bool completed)
{
	(void)completed;
	return check_served("000100", (struct sembuf){ 0, -1, 0 });
}

static int op_timeout(void)
{
	struct timespec ts = { 0, 2000000 };
	int r = uipc_semtimedop(s, (struct sembuf[]){ { 0, -1, 0 } }, 1, &ts);

	if (r == -1 && errno == EAGAIN)
		return 0;
	snprintf(why, WHY_LEN, "semtimedop returned %d (%s), expected EAGAIN", r, strerror(errno));
	return 1;
}

/* SETVAL, SETALL, IPC_SET while helper a holds SEM_UNDO adjustments. */
static void setup_set_undo(void)
{
	setup_set();
	helper_ready(spawn(helper_undo_hold));
}

static void setup_set_undo2(void)
{
	setup_set();
	helper_ready(spawn(helper_undo2_hold));
}

static int op_setval(void)
{
	return want(semctl_arg(0, SETVAL, (union semun){ .val = 9 }), 0, "semctl SETVAL");
}

static int op_setall(void)
{
	unsigned short v[NS] = { 7, 8, 9 };

	return want(semctl_arg(0, SETALL, (union semun){ .array = v }), 0, "semctl SETALL");
}

static int op_sem_set(void)
{
	struct semid_ds ds;

	if (semctl_arg(0, IPC_STAT, (union semun){ .buf = &ds }))
		return want(-1, 0, "semctl IPC_STAT");
	ds.sem_perm.mode = 0640;
	return want(semctl_arg(0, IPC_SET, (union semun){ .buf = &ds }), 0, "semctl IPC_SET");
}

/*
 * Then helper a ends: its adjustments are applied, those SETVAL or SETALL
 * voided excepted.  alts: the states done|not done, then (third and
 * fourth) after a ended.
 */
static int check_then_undo(bool completed)
{
	char before[4 * NS + 2], after[2 * NS + 1];
	int which;

	(void)completed;
	snprintf(before, sizeof(before), "%s", cur->alts);
	which = sems_are(before);
	release_helpers();
	helper_ends(0, 0);
	if (which >= 0) {
		snprintf(after, sizeof(after), "%s", cur->alts + (2 + which) * (2 * NS + 1));
		sems_are(after);
	}
	set_usable();
	return done_of(which);
}

static int check_sem_set(bool completed)
{
	struct semid_ds ds;
	int mode = -1;

	(void)completed;
	if (semctl_arg(0, IPC_STAT, (union semun){ .buf = &ds }) == 0)
		mode = ds.sem_perm.mode & 0777;
	if (mode != 0640 && mode != 0600)
		BAD("mode %#o, expected 0640 or 0600", mode);
	check_then_undo(completed);
	return mode == 0640;
}

/* IPC_RMID with helper a holding an adjustment and b sleeping. */
static void setup_set_rm(void)
{
	setup_set();
	helper_ready(spawn(helper_undo_hold));
	helper_sleeps(spawn(helper_p1));
}

static int check_set_rm(bool completed)
{
	int gone = removed(s);

	(void)completed;
	if (gone) {
		helper_ends(1, 2);
	} else {
		sems_are("200app");
		waiters_are("010000");
		must(SEMOP({ 1, 1, 0 }) == 0, "semop V(1)");
		helper_ends(1, 0);
	}
	release_helpers();
	helper_ends(0, 0);
	if (!gone) {
		sems_are("300abp");
		set_usable();
	}
	if (keyed_there(gone ? -1 : s, 0) == gone)
		BAD("the key and the id disagree: removed %d", gone);
	return gone;
}

/* Helper a died with an adjustment; the walked array's lock applies it. */
static void setup_set_dead_undo(void)
{
	setup_set();
	helper_ends(spawn(helper_undo_exit), 0);
}

/* Every undo record in use by a live helper: the walked one adds records. */
static void setup_set_undo_full(void)
{
	int i;

	setup_set();
	for (i = 0; i < MAX_HELPERS; i++)
		helper_ready(spawn(helper_undo_hold));
}

static int check_undo_full(bool completed)
{
	int which = sems_are(cur->alts), i;

	(void)completed;
	release_helpers();
	for (i = 0; i < MAX_HELPERS; i++)
		helper_ends(i, 0);
	sems_are(which == 0 ? "910.wp" : "900.pp");
	set_usable();
	return done_of(which);
}

static void setup_semop_after_death(void)
{
	die_midway(semop_array, &mid_semop, setup_set);
}

/* ---- shared memory segments ---- */

static int helper_attach_hold(void)
{
	void *p = uipc_shmat(m, NULL, 0);

	if (p == (void *)-1)
		return want(-1, 0, "shmat");
	hold();
	return want(uipc_shmdt(p), 0, "shmdt");
}

static int helper_attach_exit(void)
{
	return want(uipc_shmat(m, NULL, 0) == (void *)-1 ? -1 : 0, 0, "shmat");
}

static void setup_seg(void)
{
	m = uipc_shmget(cur->key, SEG_SIZE, IPC_CREAT | IPC_EXCL | 0600);
	must(m >= 0, "shmget");
}

/*
 * The next segment goes to a slot whose files wait to be recycled
 * (src/slot_files.c): segments are made and removed until slot 0 was taken
 * and the last of the kernel's window of 64 slots, 63, too.
 */
static void setup_seg_recycled(void)
{
	bool seen0 = false;
	int id;

	do {
		id = uipc_shmget(IPC_PRIVATE, SEG_SIZE, IPC_CREAT | 0600);
		must(id >= 0 && uipc_shmctl(id, IPC_RMID, NULL) == 0, "shmget and IPC_RMID");
		seen0 = seen0 || id % 32768 == 0;
	} while (!seen0 || id % 32768 != 63);
}

/* A segment others may open: its files are never recycled, removal unlinks them. */
static void setup_seg_shared(void)
{
	m = uipc_shmget(KEY, SEG_SIZE, IPC_CREAT | IPC_EXCL | 0666);
	must(m >= 0, "shmget");
}

static void setup_seg_attached(void)
{
	setup_seg();
	helper_ready(spawn(helper_attach_hold));
}

static void setup_seg_dead_attach(void)
{
	setup_seg();
	helper_ends(spawn(helper_attach_exit), 0);
}

static int op_attach(void)
{
	attached = uipc_shmat(m, NULL, 0);
	return want(attached == (void *)-1 ? -1 : 0, 0, "shmat");
}

static int op_detach(void)
{
	return want(uipc_shmdt(attached), 0, "shmdt");
}

static int prep_attach_rm(void)
{
	return op_attach() || want(uipc_shmctl(m, IPC_RMID, NULL), 0, "shmctl IPC_RMID");
}

/*
 * The walked child is dead: its attachments count no more, helper a's
 * does.  An attachment it counted made it shm_lpid (when reaped, too).
 */
static int check_attach(bool completed)
{
	char lpid;

	(void)completed;
	EXPECT_EQ(seg_nattch(), 1);
	lpid = who(sds.shm_lpid);
	if (lpid != 'w' && (cur->prep || lpid != 'a'))
		BAD("shm_lpid is %c", lpid);
	seg_usable(1);
	release_helpers();
	helper_ends(0, 0);
	EXPECT_EQ(seg_nattch(), 0);
	return cur->prep ? -1 : lpid == 'w';
}

static int check_nattch0(bool completed)
{
	(void)completed;
	EXPECT_EQ(seg_nattch(), 0);
	seg_usable(0);
	return -1;
}

/* The last attachment of a removed segment went: the segment is gone. */
static int check_destroyed(bool completed)
{
	(void)completed;
	EXPECT_ERR(uipc_shmctl(m, IPC_STAT, &sds), EINVAL);
	EXPECT_ERR(uipc_shmget(KEY, 0, 0), ENOENT);
	return -1;
}

static int op_shm_rm(void)
{
	return want(uipc_shmctl(m, IPC_RMID, NULL), 0, "shmctl IPC_RMID");
}

/* Marked SHM_DEST and without its key, or untouched; gone at the detach. */
static int check_rm_attached(bool completed)
{
	int dest, found, seg = m;

	(void)completed;
	EXPECT_EQ(seg_nattch(), 1);
	dest = (sds.shm_perm.mode & SHM_DEST) != 0;
	found = uipc_shmget(KEY, 0, 0);
	if (dest != (sds.shm_perm.__key == IPC_PRIVATE) || dest == (found == m))
		BAD("half done: SHM_DEST %d, key %#x, shmget(key, 0) %d (the segment is %d)", dest,
		    (unsigned)sds.shm_perm.__key, found, m);
	else if (keyed_there(dest ? -1 : m, dest) == dest)
		BAD("the key and SHM_DEST disagree: SHM_DEST %d", dest);
	release_helpers();
	helper_ends(0, 0);
	m = seg;
	if (dest)
		EXPECT_ERR(uipc_shmctl(m, IPC_STAT, &sds), EINVAL);
	else
		seg_usable(0);
	return dest;
}

static int op_shm_lock(void)
{
	return want(uipc_shmctl(m, SHM_LOCK, NULL), 0, "shmctl SHM_LOCK");
}

static int check_shm_lock(bool completed)
{
	int locked;

	(void)completed;
	EXPECT_EQ(seg_nattch(), 0);
	locked = (sds.shm_perm.mode & SHM_LOCKED) != 0;
	if (uipc_shmctl(m, SHM_UNLOCK, NULL))
		BAD("shmctl SHM_UNLOCK: %s", strerror(errno));
	EXPECT_EQ(seg_nattch(), 0);
	EXPECT_EQ(sds.shm_perm.mode & SHM_LOCKED, 0);
	seg_usable(0);
	return locked;
}

static int op_shm_set(void)
{
	struct shmid_ds ds;

	if (uipc_shmctl(m, IPC_STAT, &ds))
		return want(-1, 0, "shmctl IPC_STAT");
	ds.shm_perm.mode = 0640;
	return want(uipc_shmctl(m, IPC_SET, &ds), 0, "shmctl IPC_SET");
}

static int check_shm_set(bool completed)
{
	int mode;

	(void)completed;
	EXPECT_EQ(seg_nattch(), 0);
	mode = sds.shm_perm.mode & 0777;
	if (mode != 0640 && mode != 0600)
		BAD("mode %#o, expected 0640 or 0600", mode);
	seg_usable(0);
	return mode == 0640;
}

/* ---- the scenarios ---- */

#define U SEM_UNDO
static const struct scenario scenarios[] = {
	{ "msgget IPC_PRIVATE", setup_none, NULL, op_get_private, NULL, check_get_private,
	  .kind = K_MSG },
	{ "msgget key IPC_CREAT|IPC_EXCL", setup_none, NULL, op_get_key, NULL, check_get_key,
	  .kind = K_MSG },
	{ "msgsnd fast path", setup_queue, NULL, op_send, NULL, check_sent, .state = "1",
	  .type = 2, .alts = "12|1" },
	{ "msgsnd of 1000 bytes (9 blocks)", setup_queue, NULL, op_send, NULL, check_sent,
	  .state = "1", .type = 8, .alts = "18|1" },
	{ "msgsnd slow path, a receiver of another type waits", setup_queue_recv9, NULL, op_send,
	  NULL, check_sent_recv9, .state = "1", .type = 2, .alts = "12|1" },
	{ "msgsnd hands off to a waiting receiver", setup_queue_recv_any, NULL, op_send, NULL,
	  check_hand_off, .state = "", .type = 2 },
	{ "msgsnd blocks on a full queue, woken by a msgrcv", setup_queue, NULL, op_send,
	  during_make_room, check_sent, .state = "12", .qbytes = 80, .type = 3, .alts = "23|2" },
	{ "msgsnd after a sender died mid-send (recovery)", setup_send_after_death, NULL, op_send,
	  NULL, check_queue, .state = "1", .type = 3, .alts = "123|12|13|1" },
	{ "msgrcv of the first message", setup_queue, NULL, op_recv, NULL, check_received,
	  .state = "12", .expect = 1, .alts = "2|12" },
	{ "msgrcv of 1000 bytes (9 blocks)", setup_queue, NULL, op_recv, NULL, check_received,
	  .state = "81", .expect = 8, .alts = "1|81" },
	{ "msgrcv by type, a middle message", setup_queue, NULL, op_recv, NULL, check_received,
	  .state = "123", .type = 2, .expect = 2, .alts = "13|123" },
	{ "msgrcv by type, the last message (moves the tail)", setup_queue, NULL, op_recv, NULL,
	  check_received, .state = "123", .type = 3, .expect = 3, .alts = "12|123" },
	{ "msgrcv negative type", setup_queue, NULL, op_recv, NULL, check_received,
	  .state = "312", .type = -2, .expect = 1, .alts = "32|312" },
	{ "msgrcv MSG_EXCEPT", setup_queue, NULL, op_recv, NULL, check_received, .state = "112",
	  .type = 1, .flg = MSG_EXCEPT, .expect = 2, .alts = "11|112" },
	{ "msgrcv MSG_COPY", setup_queue, NULL, op_recv, NULL, check_queue, .state = "123",
	  .type = 1, .flg = MSG_COPY | IPC_NOWAIT, .expect = 2, .alts = "123" },
	{ "msgrcv waits, handed a message by a msgsnd", setup_queue, NULL, op_recv, during_send4,
	  check_queue, .state = "", .expect = 4, .alts = "|4" },
	{ "msgrcv wakes a sender waiting for room", setup_queue_send3, NULL, op_recv, NULL,
	  check_sender_woken, .state = "12", .qbytes = 80, .expect = 1 },
	{ "msgrcv after a receiver died mid-receive (recovery)", setup_recv_after_death, NULL,
	  recv_1_or_2, NULL, check_recv_after_death, .state = "123" },
	{ "msgctl IPC_SET mode and a larger msg_qbytes", setup_queue_small, NULL, op_msg_set, NULL,
	  check_msg_set, .state = "" },
	{ "msgctl IPC_RMID", setup_keyed, NULL, op_rm, NULL, check_rm, .kind = K_MSG },
	{ "msgctl IPC_RMID with a sender and a receiver waiting", setup_queue_waiters, NULL, op_rm,
	  NULL, check_rm_waiters, .key = KEY, .state = "1", .qbytes = 40 },

	{ "semget IPC_PRIVATE", setup_none, NULL, op_get_private, NULL, check_get_private,
	  .kind = K_SEM },
	{ "semget key IPC_CREAT|IPC_EXCL", setup_none, NULL, op_get_key, NULL, check_get_key,
	  .kind = K_SEM },
	{ "semop one operation, fast path", setup_set, NULL, op_semop, NULL, check_set,
	  .kind = K_SEM, .state = "000", .sops = { { 0, 1, 0 } }, .nsops = 1,
	  .alts = "100wpp|000ppp" },
	{ "semop array", setup_set, NULL, op_semop, NULL, check_set, .kind = K_SEM,
	  .state = "200", .sops = { { 0, -1, 0 }, { 1, 1, 0 }, { 2, 2, 0 } }, .nsops = 3,
	  .alts = "112www|200ppp" },
	{ "semop SEM_UNDO, first use (new undo record)", setup_set, NULL, op_semop, NULL,
	  check_set, .kind = K_SEM, .state = "500", .sops = { { 0, -1, U }, { 1, 1, 0 } },
	  .nsops = 2, .alts = "510wwp|500ppp" },
	{ "semop SEM_UNDO, later use", setup_set, prep_undo, op_semop, NULL, check_set,
	  .kind = K_SEM, .state = "500", .sops = { { 0, -1, U }, { 1, 1, 0 } }, .nsops = 2,
	  .alts = "510wwp|500wpp" },
	{ "semop SEM_UNDO, the undo records full (file grows)", setup_set_undo_full, NULL,
	  op_semop, NULL, check_undo_full, .kind = K_SEM, .state = "900",
	  .sops = { { 0, -1, U }, { 1, 1, 0 } }, .nsops = 2, .alts = "510wwp|500.pp" },
	{ "semop P blocks, woken by a V", setup_set, NULL, op_semop, during_v0, check_set,
	  .kind = K_SEM, .state = "000", .sops = { { 0, -1, 0 } }, .nsops = 1,
	  .alts = "000wpp|100ppp" },
	{ "semop SEM_UNDO array blocks, woken by a V", setup_set, NULL, op_semop, during_v0,
	  check_set, .kind = K_SEM, .state = "000", .sops = { { 0, -1, U }, { 1, 1, 0 } },
	  .nsops = 2, .alts = "110wwp|100ppp" },
	{ "semop V serves a sleeping P", setup_set_p0, NULL, op_semop, NULL, check_served_p,
	  .kind = K_SEM, .state = "000", .sops = { { 0, 1, 0 } }, .nsops = 1,
	  .alts = "000app|000ppp" },
	{ "semop P serves a sleeping wait-for-zero", setup_set_z0, NULL, op_semop, NULL,
	  check_served_z, .kind = K_SEM, .state = "100", .sops = { { 0, -1, 0 } }, .nsops = 1,
	  .alts = "000app|100ppp" },
	{ "semtimedop times out", setup_set, NULL, op_timeout, NULL, check_set, .kind = K_SEM,
	  .state = "000", .alts = "000ppp" },
	{ "semop applies a dead process's SEM_UNDO", setup_set_dead_undo, NULL, op_semop, NULL,
	  check_set, .kind = K_SEM, .state = "500", .sops = { { 1, 1, 0 }, { 2, 1, 0 } },
	  .nsops = 2, .alts = "511aww|500app" },
	{ "semop after a holder died mid-operation (recovery)", setup_semop_after_death, NULL,
	  op_semop, NULL, check_set, .kind = K_SEM, .state = "200",
	  .sops = { { 2, 1, 0 }, { 1, 1, 0 } }, .nsops = 2, .alts = "121...|110...|211...|200..." },
	{ "semctl SETVAL with an undo record", setup_set_undo, NULL, op_setval, NULL,
	  check_then_undo, .kind = K_SEM, .state = "300", .alts = "900wpp|200app|900wpp|300app" },
	{ "semctl SETALL with an undo record", setup_set_undo2, NULL, op_setall, NULL,
	  check_then_undo, .kind = K_SEM, .state = "330", .alts = "789www|220aap|789www|330aap" },
	{ "semctl IPC_SET with an undo record", setup_set_undo, NULL, op_sem_set, NULL,
	  check_sem_set, .kind = K_SEM, .state = "300", .alts = "200app|200app|300app|300app" },
	{ "semctl IPC_RMID", setup_keyed, NULL, op_rm, NULL, check_rm, .kind = K_SEM },
	{ "semctl IPC_RMID with an undo record and a sleeper", setup_set_rm, NULL, op_rm, NULL,
	  check_set_rm, .kind = K_SEM, .key = KEY, .state = "300" },

	{ "shmget IPC_PRIVATE", setup_none, NULL, op_get_private, NULL, check_get_private,
	  .kind = K_SHM },
	{ "shmget IPC_PRIVATE in recycled files", setup_seg_recycled, NULL, op_get_private, NULL,
	  check_get_private, .kind = K_SHM },
	{ "shmget key in recycled files", setup_seg_recycled, NULL, op_get_key, NULL,
	  check_get_key, .kind = K_SHM },
	{ "shmget key IPC_CREAT|IPC_EXCL", setup_none, NULL, op_get_key, NULL, check_get_key,
	  .kind = K_SHM },
	{ "shmat, the process's first (new record)", setup_seg_attached, NULL, op_attach, NULL,
	  check_attach, .kind = K_SHM },
	{ "shmat, the process's second", setup_seg_attached, op_attach, op_attach, NULL,
	  check_attach, .kind = K_SHM },
	{ "shmat settles a dead process's attachment", setup_seg_dead_attach, NULL, op_attach,
	  NULL, check_nattch0, .kind = K_SHM },
	{ "shmdt", setup_seg_attached, op_attach, op_detach, NULL, check_attach, .kind = K_SHM },
	{ "shmdt, the last of a removed segment (destroys)", setup_seg, prep_attach_rm, op_detach,
	  NULL, check_destroyed, .kind = K_SHM, .key = KEY },
	{ "shmctl IPC_RMID, attached (deferred)", setup_seg_attached, NULL, op_shm_rm, NULL,
	  check_rm_attached, .kind = K_SHM, .key = KEY },
	{ "shmctl IPC_RMID", setup_keyed, NULL, op_rm, NULL, check_rm, .kind = K_SHM },
	{ "shmctl IPC_RMID, open to others (files unlinked)", setup_seg_shared, NULL, op_rm, NULL,
	  check_rm, .kind = K_SHM },
	{ "shmctl SHM_LOCK", setup_seg, NULL, op_shm_lock, NULL, check_shm_lock, .kind = K_SHM },
	{ "shmctl IPC_SET", setup_seg, NULL, op_shm_set, NULL, check_shm_set, .kind = K_SHM },
};

/* ---- the walk ---- */

/*
 * One run: the state, then the operation in a child armed with k (0: count
 * its steps, the sites into sh), the checks, the clean-up.  Returns true
 * if the child was killed; *done what the check found.
 */
static bool run(long k, int *done)
{
	bool killed;

	sh->release = 0;
	sh->id = -1;
	sh->why[0] = 0;
	cur->setup();
	fflush(NULL);
	child = fork();
	must(child >= 0, "fork");
	if (child == 0) {
		long i, n;
		int r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		why = sh->why;
		if (cur->prep && cur->prep())
			_exit(3);
		uipc_fault_arm(k);
		r = cur->op();
		n = uipc_fault_steps();
		for (i = 0; k == 0 && i < n && i < MAX_STEPS; i++)
			snprintf(sh->site[i], SITE_LEN, "%s",
				 uipc_fault_site(i + 1) ? uipc_fault_site(i + 1) : "?");
		sh->steps = n;
		_exit(r ? 3 : 0);
	}
	child_ended = false;
	if (cur->during)
		cur->during();
	if (!child_ended) {
		child_ended = true;
		reap(child, &child_status, "the walked process");
	}
	killed = WIFSIGNALED(child_status) && WTERMSIG(child_status) == SIGKILL;
	if (!killed)
		cur_k = -1;
	if (!killed && (!WIFEXITED(child_status) || WEXITSTATUS(child_status)))
		BAD("the operation ended with status %#x: %s", child_status, sh->why);
	*done = cur->check(!killed);
	if (!killed && *done == 0)
		BAD("the operation completed, yet the state says it was not done");
	finish();
	return killed;
}

static void count_site(char (*set)[SITE_LEN], int *n, const char *site)
{
	int i;

	for (i = 0; i < *n && strcmp(set[i], site); i++)
		;
	if (i == *n && *n < MAX_SITES)
		snprintf(set[(*n)++], SITE_LEN, "%s", site);
}

static void walk(const struct scenario *sc, bool verbose)
{
	static char sites[MAX_STEPS][SITE_LEN], mine[MAX_SITES][SITE_LEN];
	long n, k, deaths = 0, ndone = 0, nnot = 0;
	int done, nmine = 0;

	cur = sc;
	cur_k = 0;
	cur_site = NULL;
	reported = 0;
	t_case(sc->name);
	sh->steps = -1;
	if (run(0, &done) || sh->steps < 0) {
		BAD("the count run did not complete");
		t_done();
		return;
	}
	n = sh->steps < MAX_STEPS ? sh->steps : MAX_STEPS;
	memcpy(sites, sh->site, sizeof(sites));
	for (k = 1;; k++) {
		if (k > n + EXTRA_STEPS) {
			BAD("the walk did not end: killed at step %ld of %ld counted", k - 1, n);
			break;
		}
		cur_k = k;
		cur_site = k <= n ? sites[k - 1] : NULL;
		if (!run(k, &done))
			break;
		deaths++;
		ndone += done == 1;
		nnot += done == 0;
		if (verbose)
			printf("    step %3ld %-24s %s\n", k, cur_site ? cur_site : "(uncounted)",
			       done == 1 ? "done" : done == 0 ? "not done" : "");
		if (cur_site) {
			count_site(sites_seen, &nsites_seen, cur_site);
			count_site(mine, &nmine, cur_site);
		}
	}
	deaths_total += deaths;
	printf("  %-52s %3ld steps, %3ld deaths (%ld done, %ld not done), %2d sites\n", sc->name, n,
	       deaths, ndone, nnot, nmine);
	t_done();
}

/* Run from the source tree: the FAULT_STEP() sites of src/ never killed at. */
static void sites_missed(void)
{
	char path[300], line[512], site[320];
	int lineno, i, total = 0, missed = 0;
	struct dirent *d;
	DIR *dir = opendir("src");
	FILE *f;

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		snprintf(path, sizeof(path), "src/%s", d->d_name);
		if (!strstr(d->d_name, ".c") && !strstr(d->d_name, ".h"))
			continue;
		if (!(f = fopen(path, "r")))
			continue;
		for (lineno = 1; fgets(line, sizeof(line), f); lineno++) {
			if (!strstr(line, "FAULT_STEP();"))
				continue;
			total++;
			snprintf(site, sizeof(site), "%s:%d", path, lineno);
			for (i = 0; i < nsites_seen && strcmp(sites_seen[i], site); i++)
				;
			if (i == nsites_seen)
				printf("  %s: never killed at (%d)\n", site, ++missed);
		}
		fclose(f);
	}
	closedir(dir);
	printf("  %d of the %d FAULT_STEP() sites of src/ killed at\n", total - missed, total);
}

int main(void)
{
	const char *only = getenv("FAULT_WALK_ONLY"), *v = getenv("FAULT_WALK_VERBOSE");
	struct sigaction sa;
	int walked = 0;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: a wait returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	me = getpid();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!only || strstr(scenarios[i].name, only)) {
			walk(&scenarios[i], v && atoi(v) > 0);
			walked++;
		}
	if (!only)
		sites_missed();
	printf("fault_walk: %d scenarios, %ld deaths walked, %d distinct steps covered, "
	       "%ld violations\n", walked, deaths_total, nsites_seen, violations);
	return t_exit();
}
