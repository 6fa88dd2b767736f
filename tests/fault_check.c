/*
 * fault_check.c - `uipc check [--repair]` on namespaces damaged on purpose
 * (built against the -DUIPC_FAULT library).
 *
 * Design.  Each scenario (a t_case) runs in a process of its own, in a root
 * of its own ($UIPC_ROOT/<n>, given to the library through UIPC_ROOT before
 * its first call; the parent never calls the library).  It makes objects
 * through the API, then damages them: it edits their files (the offsets are
 * found by searching a file for values the scenario wrote, or come from the
 * layouts of src/internal.h, mirrored below and checked against the file),
 * plants or removes names and files, or has a child killed at a chosen step
 * of a call.  For the last, the call's steps are first counted by a child
 * running it to completion on a scratch object in the same state
 * (uipc_fault_arm(0)), and the step is picked by the source line it comes
 * just before (the test runs from the source tree, or finds it from $B).
 * Then it runs the tool ($B/uipc, else build/uipc, in a child, bounded in
 * time: a run that hangs or dies by a signal fails) three times:
 *  1. `uipc check`: exit 1 with exactly the expected finding lines (in any
 *     order) and summary; every file and name under the root must be byte
 *     for byte what it was (a check writes nothing; if it did, the root is
 *     put back as it was, so that the repair still meets the damage);
 *  2. `uipc check --repair`: exit 0, the findings with what was done;
 *  3. `uipc check`: "0 problems found", exit 0.
 * Last, the objects must be usable with the exact expected state: values,
 * pids, messages, qnum, nattch, ids that their keys find, names and files
 * gone.  The summary counts the finding lines verified.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uipc.h"
#include "t.h"

#define TOOL_SECONDS 10		/* bound on one run of the tool: beyond, it hangs */
#define SCENARIO_SECONDS 120	/* bound on a scenario, likewise */
#define MAX_LINES 64
#define LINE_LEN 256
#define MAX_STEPS 256
#define SITE_LEN 64
#define SLOTS 32768		/* an id's slot is id % SLOTS (the kernel's IPCMNI) */
#define SEMVMX 32767

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

/* The first words of every object file (struct uipc_obj, src/internal.h). */
struct obj_head {
	uint32_t magic;
	uint16_t version, kind;
	uint32_t state;
	int32_t id, key;
};
enum { OBJ_CREATING = 1, OBJ_LIVE, OBJ_REMOVED };

/* The namespace file (struct ns_file, src/internal.h). */
enum { KIND_MSG, KIND_SEM, KIND_SHM };
struct ns_mirror {
	uint32_t magic, version;
	int64_t limits[32][2];
	struct {
		uint64_t seq, next_idx;
		int64_t in_use;
	} kinds[3];
};

struct msg {
	long mtype;
	char mtext[4096];
};

/* Shared by the parent, the scenarios and their children. */
struct shared {
	int findings;			/* expected finding lines seen */
	long nsteps;			/* the steps a counted call took */
	char site[MAX_STEPS][SITE_LEN];	/* and their sites */
};
static struct shared *sh;
static char root[PATH_MAX];		/* the scenario's root */

/* ---- files under the root ---- */

static void path_of(char *buf, size_t n, const char *fmt, va_list ap)
{
	size_t len = (size_t)snprintf(buf, n, "%s/", root);

	vsnprintf(buf + len, n - len, fmt, ap);
}

static __attribute__((format(printf, 2, 3))) void under(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	path_of(buf, PATH_MAX, fmt, ap);
	va_end(ap);
}

static __attribute__((format(printf, 1, 2))) bool exists(const char *fmt, ...)
{
	char path[PATH_MAX];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	path_of(path, sizeof(path), fmt, ap);
	va_end(ap);
	return lstat(path, &st) == 0;
}

/* A whole file (not following a symbolic link), or NULL. */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1))) {
		n = pread(fd, buf, (size_t)st.st_size, 0);
		*len = n > 0 ? (size_t)n : 0;
	}
	close(fd);
	return buf;
}

static void put_bytes(const char *rel, off_t off, const void *p, size_t n)
{
	char path[PATH_MAX];
	int fd;

	under(path, "%s", rel);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, p, n, off) != (ssize_t)n)
		T_FAIL("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * The offset of the only place, at a multiple of 'align' plus 'at', where
 * the n words 'pat' are in file 'rel'; -1 (a failure) if none or several.
 */
static long find_words(const char *rel, const uint64_t *pat, int n, size_t align, size_t at)
{
	char path[PATH_MAX];
	size_t len, off, bytes = (size_t)n * 8;
	long found = -1;
	int count = 0;
	char *buf;

	under(path, "%s", rel);
	if (!(buf = slurp(path, &len))) {
		T_FAIL("cannot read %s", path);
		return -1;
	}
	for (off = at; off + bytes <= len; off += align)
		if (!memcmp(buf + off, pat, bytes) && count++ == 0)
			found = (long)off;
	free(buf);
	if (count != 1)
		T_FAIL("%s holds the words %#llx... %d times, not once", rel,
		       (unsigned long long)pat[0], count);
	return count == 1 ? found : -1;
}

/* The state of object file 'rel' (OBJ_*), or -1. */
static int obj_state(const char *rel)
{
	char path[PATH_MAX];
	struct obj_head o;
	int fd;

	under(path, "%s", rel);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (pread(fd, &o, sizeof(o), 0) != (ssize_t)sizeof(o))
		o.state = (uint32_t)-1;
	close(fd);
	return (int)o.state;
}

/* The only msg.<id> whose state is CREATING, or -1. */
static int creating_queue(void)
{
	char rel[64];
	struct dirent *d;
	int id, found = -1, n = 0;
	DIR *dir = opendir(root);

	while (dir && (d = readdir(dir))) {
		if (sscanf(d->d_name, "msg.%d%n", &id, &n) != 1 || d->d_name[n])
			continue;
		snprintf(rel, sizeof(rel), "msg.%d", id);
		if (obj_state(rel) == OBJ_CREATING)
			found = found < 0 ? id : -2;
	}
	if (dir)
		closedir(dir);
	if (found < 0)
		T_FAIL("not exactly one queue is being created (%d)", found);
	return found < 0 ? -1 : found;
}

static void mirror_ns(struct ns_mirror *ns)
{
	char path[PATH_MAX];
	size_t len;
	char *buf;

	under(path, "namespace");
	buf = slurp(path, &len);
	memset(ns, 0, sizeof(*ns));
	if (!buf || len != sizeof(*ns))
		T_FAIL("the namespace file has %zu bytes, struct ns_file %zu", len, sizeof(*ns));
	else
		memcpy(ns, buf, len);
	free(buf);
}

/* ---- snapshots of the root: a check must write nothing ---- */

struct entry {
	char name[NAME_MAX + 8];
	mode_t mode;
	size_t len;
	char *bytes;			/* a file's bytes, a link's target */
};

struct snapshot {
	int n;
	struct entry *e;
};

static void snap_dir(struct snapshot *s, const char *sub)
{
	char dir[PATH_MAX + 8], path[PATH_MAX + NAME_MAX + 8];
	struct dirent *d;
	struct entry *e;
	struct stat st;
	ssize_t n;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/%s", root, sub);
	if (!(dp = opendir(dir)))
		return;
	while ((d = readdir(dp))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
		    (!*sub && !strcmp(d->d_name, "names")))
			continue;
		if (!(e = realloc(s->e, (size_t)(s->n + 1) * sizeof(*e))))
			break;
		s->e = e;
		e = &s->e[s->n];
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s%s", sub, d->d_name);
		snprintf(path, sizeof(path), "%s/%s", root, e->name);
		if (lstat(path, &st) < 0)
			continue;
		e->mode = st.st_mode;
		if (S_ISREG(st.st_mode)) {
			e->bytes = slurp(path, &e->len);
		} else if (S_ISLNK(st.st_mode) && (e->bytes = calloc(1, PATH_MAX))) {
			n = readlink(path, e->bytes, PATH_MAX - 1);
			e->len = n > 0 ? (size_t)n : 0;
		}
		s->n++;
	}
	closedir(dp);
}

static void take_snapshot(struct snapshot *s)
{
	s->n = 0;
	s->e = NULL;
	snap_dir(s, "");
	snap_dir(s, "names/");
}

static void free_snapshot(struct snapshot *s)
{
	while (s->n)
		free(s->e[--s->n].bytes);
	free(s->e);
}

static const struct entry *find_entry(const struct snapshot *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->e[i].name, name))
			return &s->e[i];
	return NULL;
}

static bool same_entry(const struct entry *a, const struct entry *b)
{
	return a->mode == b->mode && a->len == b->len &&
	       (!a->len || !memcmp(a->bytes, b->bytes, a->len));
}

/*
 * The first byte where b differs from a, or -1.  Allowed: a 4-byte word at
 * 4 mod 8 going from 0 to 1, the __count of a robust mutex locked for the
 * first time (glibc sets it, unlock leaves it): a check takes the locks of
 * the objects it verifies.
 */
static long differs(const struct entry *a, const struct entry *b)
{
	uint32_t was, now;
	size_t i, w;

	if (a->mode != b->mode || a->len != b->len)
		return 0;
	for (i = 0; i < a->len; i++) {
		if (a->bytes[i] == b->bytes[i])
			continue;
		w = i & ~(size_t)3;
		memcpy(&was, a->bytes + w, 4);
		memcpy(&now, b->bytes + w, 4);
		if (w % 8 != 4 || was != 0 || now != 1 || !S_ISREG(a->mode))
			return (long)i;
	}
	return -1;
}

/* Is 'now' what 'was' was?  Every difference is a failure of 'who'. */
static bool same_snapshot(const struct snapshot *was, const struct snapshot *now, const char *who)
{
	const struct entry *a, *b;
	bool same = true;
	long at;
	int i;

	for (i = 0; i < was->n; i++) {
		a = &was->e[i];
		if (!(b = find_entry(now, a->name))) {
			T_FAIL("%s removed %s", who, a->name);
			same = false;
		} else if ((at = differs(a, b)) >= 0) {
			T_FAIL("%s changed %s (mode %o, %zu bytes; now %o, %zu bytes; at byte %ld)",
			       who, a->name, a->mode, a->len, b->mode, b->len, at);
			same = false;
		}
	}
	for (i = 0; i < now->n; i++)
		if (!find_entry(was, now->e[i].name)) {
			T_FAIL("%s made %s", who, now->e[i].name);
			same = false;
		}
	return same;
}

/* Put the root back as snapshot s has it (files rewritten in place). */
static void restore_snapshot(const struct snapshot *s)
{
	char path[PATH_MAX + NAME_MAX + 8];
	const struct entry *e, *was;
	struct snapshot now;
	int i, fd;

	take_snapshot(&now);
	for (i = 0; i < now.n; i++) {
		e = &now.e[i];
		was = find_entry(s, e->name);
		if (was && same_entry(was, e))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, e->name);
		if (was && S_ISREG(was->mode) && S_ISREG(e->mode))
			continue;	/* rewritten in place below */
		if (S_ISDIR(e->mode))
			rmdir(path);
		else
			unlink(path);
	}
	for (i = 0; i < s->n; i++) {
		e = &s->e[i];
		if ((was = find_entry(&now, e->name)) && same_entry(was, e))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, e->name);
		if (S_ISREG(e->mode)) {
			fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
				  e->mode & 07777);
			if (fd < 0 || ftruncate(fd, (off_t)e->len) < 0 ||
			    pwrite(fd, e->bytes, e->len, 0) != (ssize_t)e->len)
				T_FAIL("cannot restore %s", path);
			if (fd >= 0)
				close(fd);
		} else if (S_ISLNK(e->mode)) {
			if (symlink(e->bytes, path) < 0)
				T_FAIL("cannot restore %s", path);
		} else if (S_ISDIR(e->mode)) {
			mkdir(path, e->mode & 07777);
		} else if (S_ISFIFO(e->mode)) {
			mkfifo(path, e->mode & 07777);
		}
	}
	free_snapshot(&now);
}

/* ---- the tool ---- */

struct lines {
	int n;
	char s[MAX_LINES][LINE_LEN];
};

static void add_line(struct lines *l, const char *done, const char *fmt, va_list ap)
{
	char *s;

	if (!l)
		return;
	if (l->n == MAX_LINES) {
		T_FAIL("more than %d lines", MAX_LINES);
		return;
	}
	s = l->s[l->n++];
	vsnprintf(s, LINE_LEN, fmt, ap);
	if (done)
		snprintf(s + strlen(s), LINE_LEN - strlen(s), ": %s", done);
}

/*
 * A finding: the line the check says (into ck) and the one the repair says
 * (into rp), with ": done" after it unless done is NULL.  Either may be NULL.
 */
static __attribute__((format(printf, 4, 5))) void finding(struct lines *ck, struct lines *rp,
							   const char *done, const char *fmt, ...)
{
	va_list ap, aq;

	va_start(ap, fmt);
	va_copy(aq, ap);
	add_line(ck, NULL, fmt, ap);
	add_line(rp, done, fmt, aq);
	va_end(aq);
	va_end(ap);
}

static const char *tool(void)
{
	static char path[PATH_MAX];
	const char *b = getenv("B");

	snprintf(path, sizeof(path), "%s/uipc", b && *b ? b : "build");
	return path;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run `uipc check [--repair]`, its output in out: its exit status, or -1. */
static int run_tool(bool repair, char *out, size_t cap)
{
	double end = now_s() + TOOL_SECONDS;
	struct pollfd p;
	size_t len = 0;
	char sink[4096];
	bool hung = false;
	int fd[2], st;
	ssize_t n;
	pid_t pid;

	if (pipe(fd) < 0) {
		T_FAIL("pipe: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execl(tool(), "uipc", "check", repair ? "--repair" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	p = (struct pollfd){ fd[0], POLLIN, 0 };
	for (;;) {
		if (now_s() > end) {
			hung = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (len + 1 < cap)
			n = read(fd[0], out + len, cap - 1 - len);
		else
			n = read(fd[0], sink, sizeof(sink));	/* too much: the rest is dropped */
		if (n <= 0)
			break;
		if (len + 1 < cap)
			len += (size_t)n;
	}
	out[len] = 0;
	close(fd[0]);
	waitpid(pid, &st, 0);
	if (hung) {
		T_FAIL("uipc check%s did not end in %d s", repair ? " --repair" : "", TOOL_SECONDS);
		return -1;
	}
	if (WIFSIGNALED(st)) {
		T_FAIL("uipc check%s died by signal %d", repair ? " --repair" : "", WTERMSIG(st));
		return -1;
	}
	if (WEXITSTATUS(st) == 127)
		T_FAIL("cannot run %s", tool());
	return WEXITSTATUS(st);
}

static int by_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Run the tool: it must print exactly the lines 'want' (in any order), then
 * its summary of 'problems', and exit as it must.
 */
static void expect_tool(bool repair, int problems, const struct lines *want)
{
	static char out[1 << 16];
	static struct lines got, w;
	const char *cmd = repair ? "uipc check --repair" : "uipc check";
	char summary[LINE_LEN + PATH_MAX], *line, *save = NULL, *last = NULL;
	int rc = run_tool(repair, out, sizeof(out)), want_rc = problems && !repair, i = 0, j = 0;

	if (rc < 0)
		return;
	got.n = 0;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (last && got.n < MAX_LINES)
			snprintf(got.s[got.n++], LINE_LEN, "%s", last);
		else if (last)
			T_FAIL("%s said too much: %s", cmd, last);
		last = line;
	}
	snprintf(summary, sizeof(summary), "uipc check: %s: %d problem%s found%s", root, problems,
		 problems == 1 ? "" : "s", problems && repair ? ", repaired as said" : "");
	if (!last || strcmp(last, summary))
		T_FAIL("%s ended with \"%s\", expected \"%s\"", cmd, last ? last : "", summary);
	if (rc != want_rc)
		T_FAIL("%s exited with %d, expected %d", cmd, rc, want_rc);
	w = *want;
	qsort(got.s, (size_t)got.n, LINE_LEN, by_text);
	qsort(w.s, (size_t)w.n, LINE_LEN, by_text);
	while (i < w.n || j < got.n) {
		int c = i == w.n ? 1 : j == got.n ? -1 : strcmp(w.s[i], got.s[j]);

		if (c < 0)
			T_FAIL("%s did not say: %s", cmd, w.s[i++]);
		else if (c > 0)
			T_FAIL("%s said: %s", cmd, got.s[j++]);
		else
			i++, j++, sh->findings++;
	}
}

/*
 * The three runs: the check finds 'ck' (ck_problems of them problems) and
 * changes nothing; the repair says 'rp' (rp_problems); the check after finds
 * nothing.
 */
static void check_repair_check(const struct lines *ck, int ck_problems, const struct lines *rp,
			       int rp_problems)
{
	static const struct lines none;
	struct snapshot before, after;

	take_snapshot(&before);
	expect_tool(false, ck_problems, ck);
	take_snapshot(&after);
	if (!same_snapshot(&before, &after, "uipc check (without --repair)"))
		restore_snapshot(&before);
	free_snapshot(&before);
	free_snapshot(&after);
	expect_tool(true, rp_problems, rp);
	expect_tool(false, 0, &none);
}

/* ---- a call killed at a chosen step ---- */

struct call {
	int id;
	key_t key;
	long type;
	size_t len;
};
typedef int (*op_fn)(const struct call *c);

static void fill(char *p, long type, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)('a' + ((unsigned long)type * 7 + i) % 26);
}

static int send_msg(int q, long type, size_t len)
{
	static struct msg m;

	m.mtype = type;
	fill(m.mtext, type, len);
	return uipc_msgsnd(q, &m, len, IPC_NOWAIT);
}

static int op_send(const struct call *c)
{
	return send_msg(c->id, c->type, c->len);
}

static int op_recv(const struct call *c)
{
	static struct msg m;

	return uipc_msgrcv(c->id, &m, sizeof(m.mtext), 0, IPC_NOWAIT) < 0 ? -1 : 0;
}

/* Semaphore 0 down 2, semaphore 1 up 3: an array, hence locked (journal). */
static int op_semop(const struct call *c)
{
	struct sembuf ops[2] = { { 0, -2, 0 }, { 1, 3, 0 } };

	return uipc_semop(c->id, ops, 2);
}

static int op_create(const struct call *c)
{
	return uipc_msgget(c->key, IPC_CREAT | 0600) < 0 ? -1 : 0;
}

static int op_remove(const struct call *c)
{
	return uipc_msgctl(c->id, IPC_RMID, NULL);
}

/* Count the steps of op run to completion in a child; their sites go to sh. */
static long count_steps(op_fn op, const struct call *c)
{
	long i, n;
	pid_t pid;
	int st;

	sh->nsteps = 0;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		uipc_fault_arm(0);
		if (op(c) < 0)
			_exit(1);
		n = uipc_fault_steps();
		for (i = 1; i <= n && i <= MAX_STEPS; i++)
			snprintf(sh->site[i - 1], SITE_LEN, "%s", uipc_fault_site(i));
		sh->nsteps = n < MAX_STEPS ? n : MAX_STEPS;
		_exit(0);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		T_FAIL("the call to count failed (status %#x)", st);
	return sh->nsteps;
}

/* Does the source line after 'site' ("src/sync.c:148") contain 'text'? */
static bool comes_before(const char *site, const char *file, const char *text)
{
	const char *colon = strrchr(site, ':'), *b = getenv("B");
	char path[PATH_MAX], line[512] = "";
	int want, n = 0;
	FILE *f;

	if (!colon || (size_t)(colon - site) != strlen(file) || strncmp(site, file, strlen(file)))
		return false;
	want = atoi(colon + 1) + 1;
	if (!(f = fopen(file, "r")) && b) {
		snprintf(path, sizeof(path), "%s/../%s", b, file);
		f = fopen(path, "r");
	}
	if (!f)
		return false;
	while (n < want && fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n == want && strstr(line, text);
}

/* The counted step just before the nth source line of file containing text. */
static long step_before(const char *file, const char *text, int nth)
{
	long i;

	for (i = 1; i <= sh->nsteps; i++)
		if (comes_before(sh->site[i - 1], file, text) && --nth == 0)
			return i;
	T_FAIL("no step before \"%s\" in %s among the %ld counted (run from the source tree)",
	       text, file, sh->nsteps);
	return 0;
}

/* Run op in a child killed at its step k: its pid. */
static pid_t killed_at(long k, op_fn op, const struct call *c)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		uipc_fault_arm(k);
		op(c);
		_exit(3);
	}
	waitpid(pid, &st, 0);
	if (k <= 0 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		T_FAIL("the child was not killed at step %ld (status %#x)", k, st);
	return pid;
}

/* ---- the objects' state, through the API ---- */

static struct msqid_ds qstat(int q)
{
	struct msqid_ds ds;

	memset(&ds, 0, sizeof(ds));
	if (uipc_msgctl(q, IPC_STAT, &ds) < 0)
		T_FAIL("msgctl(%d, IPC_STAT): %s", q, strerror(errno));
	return ds;
}

/* The next message of q is (type, len) with its bytes. */
static void expect_msg(int q, long type, size_t len)
{
	static struct msg m;
	static char want[sizeof(m.mtext)];
	ssize_t n = uipc_msgrcv(q, &m, sizeof(m.mtext), 0, IPC_NOWAIT);

	fill(want, type, len);
	if (n != (ssize_t)len || m.mtype != type || memcmp(m.mtext, want, len))
		T_FAIL("queue %d gave %zd bytes of type %ld (%s), expected %zu of type %ld", q, n,
		       n < 0 ? 0 : m.mtype, n < 0 ? strerror(errno) : "", len, type);
}

static void expect_empty(int q)
{
	static struct msg m;

	CHECK_ERR(uipc_msgrcv(q, &m, sizeof(m.mtext), 0, IPC_NOWAIT), ENOMSG);
}

/* A queue that works: a message goes through. */
static void expect_usable_queue(int q)
{
	CHECK_EQ(send_msg(q, 9, 333), 0);
	expect_msg(q, 9, 333);
	expect_empty(q);
}

static int semval(int s, int i)
{
	return uipc_semctl(s, i, GETVAL);
}

static int new_queue(key_t key)
{
	int q = uipc_msgget(key, IPC_CREAT | IPC_EXCL | 0600);

	if (q < 0)
		T_FAIL("msgget(%#x): %s", (unsigned)key, strerror(errno));
	return q;
}

static int new_set(key_t key, int n, const unsigned short *vals)
{
	int s = uipc_semget(key, n, IPC_CREAT | IPC_EXCL | 0600);

	if (s < 0 || uipc_semctl(s, 0, SETALL, (union semun){ .array = (unsigned short *)vals }))
		T_FAIL("semget(%#x) or SETALL: %s", (unsigned)key, strerror(errno));
	return s;
}

/*
 * A process that attaches segment m and writes "held" at its start, and if
 * s >= 0 adds 1 to semaphore 0 of set s with SEM_UNDO; then it waits until
 * *go is closed, detaches and exits.  Returns its pid.
 */
static pid_t holder(int m, int s, int *go)
{
	struct sembuf up = { 0, 1, SEM_UNDO };
	int ready[2], wait_go[2];
	char c = '!';
	pid_t pid;

	if (pipe(ready) < 0 || pipe(wait_go) < 0) {
		T_FAIL("pipe: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		char *p = uipc_shmat(m, NULL, 0);

		close(wait_go[1]);
		if (p != (char *)-1 && (s < 0 || uipc_semop(s, &up, 1) == 0)) {
			memcpy(p, "held", 5);
			c = 'x';
		}
		if (write(ready[1], &c, 1) != 1 || read(wait_go[0], &c, 1) < 0)
			_exit(1);
		_exit(p != (char *)-1 && uipc_shmdt(p) == 0 ? 0 : 1);
	}
	close(ready[1]);
	close(wait_go[0]);
	if (read(ready[0], &c, 1) != 1 || c != 'x')
		T_FAIL("the holder could not attach");
	close(ready[0]);
	*go = wait_go[1];
	return pid;
}

static struct shmid_ds shmstat(int m)
{
	struct shmid_ds ds;

	memset(&ds, 0, sizeof(ds));
	if (uipc_shmctl(m, IPC_STAT, &ds) < 0)
		T_FAIL("shmctl(%d, IPC_STAT): %s", m, strerror(errno));
	return ds;
}

/* Segment m holds the text 'want' at its start. */
static void expect_segment(int m, const char *want)
{
	char *p = uipc_shmat(m, NULL, 0);

	if (p == (char *)-1) {
		T_FAIL("shmat(%d): %s", m, strerror(errno));
		return;
	}
	if (strcmp(p, want))
		T_FAIL("segment %d holds \"%.8s\", expected \"%s\"", m, p, want);
	uipc_shmdt(p);
}

/* Object <kind>.<id> is gone: its files, its slot name, its key name. */
static void expect_gone(const char *kind, int id, key_t key)
{
	CHECK(!exists("%s.%d", kind, id));
	CHECK(!exists("%s.%d.data", kind, id));
	CHECK(!exists("names/%s.%d", kind, id % SLOTS));
	CHECK(!exists("names/%skey.%08x", kind, (unsigned)key));
}

/* ---- the scenarios ---- */

/* A clean namespace: nothing found, nothing changed. */
static void scenario_clean(void)
{
	static const unsigned short vals[3] = { 1, 2, 3 };
	static const struct lines none;
	struct sembuf up = { 0, 1, SEM_UNDO };
	unsigned short got[3] = { 0 };
	struct snapshot before, after;
	int q = new_queue(0x51), s = new_set(0x52, 3, vals), go, st;
	int m = uipc_shmget(0x53, 8192, IPC_CREAT | 0600);
	pid_t pid;

	CHECK_EQ(send_msg(q, 1, 10), 0);
	CHECK_EQ(send_msg(q, 2, 300), 0);
	CHECK_EQ(send_msg(q, 3, 50), 0);
	expect_msg(q, 1, 10);
	CHECK_EQ(uipc_semop(s, &up, 1), 0);
	pid = holder(m, -1, &go);

	take_snapshot(&before);
	expect_tool(false, 0, &none);
	expect_tool(true, 0, &none);
	take_snapshot(&after);
	same_snapshot(&before, &after, "uipc check and uipc check --repair of a clean namespace");
	free_snapshot(&before);
	free_snapshot(&after);

	CHECK_EQ(uipc_msgget(0x51, 0), q);
	CHECK_EQ(qstat(q).msg_qnum, 2);
	expect_msg(q, 2, 300);
	expect_msg(q, 3, 50);
	expect_usable_queue(q);
	CHECK_EQ(uipc_semget(0x52, 0, 0), s);
	CHECK_EQ(uipc_semctl(s, 0, GETALL, (union semun){ .array = got }), 0);
	CHECK(got[0] == 2 && got[1] == 2 && got[2] == 3);
	CHECK_EQ(uipc_shmget(0x53, 0, 0), m);
	CHECK_EQ(shmstat(m).shm_nattch, 1);
	expect_segment(m, "held");
	close(go);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ(shmstat(m).shm_nattch, 0);
}

static __attribute__((format(printf, 2, 3))) void link_name(const char *target,
							    const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	path_of(path, sizeof(path), fmt, ap);
	va_end(ap);
	unlink(path);
	if (symlink(target, path) < 0)
		T_FAIL("symlink %s: %s", path, strerror(errno));
}

/* Stale names are unlinked, missing ones made again. */
static void scenario_names(void)
{
	static const unsigned short one[1] = { 4 };
	int qa = new_queue(0x2a), qb = new_queue(0x2b), s = new_set(0x2c, 1, one);
	int ghost = 5 * SLOTS + 100;
	struct lines ck = { 0 }, rp = { 0 };
	char idbuf[16], path[PATH_MAX];
	ssize_t n;

	CHECK_EQ(send_msg(qa, 1, 100), 0);
	snprintf(idbuf, sizeof(idbuf), "%d", ghost);
	link_name(idbuf, "names/msg.100");		/* an id that does not exist */
	link_name("424242", "names/semkey.0badc0de");
	link_name("garbage", "names/msg.101");
	snprintf(idbuf, sizeof(idbuf), "%d", qb);
	link_name(idbuf, "names/msgkey.00002bad");	/* a live queue of another key */
	snprintf(idbuf, sizeof(idbuf), "%d", s);
	link_name(idbuf, "names/sem.%d", s % SLOTS + 1);	/* ... of another slot */
	under(path, "names/msgkey.0000002a");
	CHECK_EQ(unlink(path), 0);
	under(path, "names/msg.%d", qa % SLOTS);
	CHECK_EQ(unlink(path), 0);

	finding(&ck, &rp, "unlinked", "msg %d: the name msg.100 is stale", ghost);
	finding(&ck, &rp, "unlinked", "msg -1: the name msg.101 is stale");
	finding(&ck, &rp, "unlinked", "msg %d: the name msgkey.00002bad is stale", qb);
	finding(&ck, &rp, "unlinked", "sem 424242: the name semkey.0badc0de is stale");
	finding(&ck, &rp, "unlinked", "sem %d: the name sem.%d is stale", s, s % SLOTS + 1);
	finding(&ck, &rp, "made again", "msg %d: its slot name is missing", qa);
	finding(&ck, &rp, "made again", "msg %d: its key name is missing", qa);
	check_repair_check(&ck, 7, &rp, 7);

	CHECK(!exists("names/msg.100") && !exists("names/msg.101"));
	CHECK(!exists("names/semkey.0badc0de") && !exists("names/msgkey.00002bad"));
	CHECK(!exists("names/sem.%d", s % SLOTS + 1));
	under(path, "names/msg.%d", qa % SLOTS);
	n = readlink(path, idbuf, sizeof(idbuf) - 1);
	idbuf[n > 0 ? n : 0] = 0;
	CHECK_EQ(atoi(idbuf), qa);
	CHECK_EQ(uipc_msgget(0x2a, 0), qa);
	expect_msg(qa, 1, 100);
	expect_usable_queue(qa);
	CHECK_EQ(uipc_msgget(0x2b, 0), qb);
	expect_usable_queue(qb);
	CHECK_ERR(uipc_msgget(0x2bad, 0), ENOENT);
	CHECK_EQ(uipc_semget(0x2c, 0, 0), s);
	CHECK_EQ(semval(s, 0), 4);
}

/* Object files that are not whole objects: removed with their names. */
static void scenario_files(void)
{
	static const unsigned short two[2] = { 4, 9 };
	int sg = new_set(0x3a, 2, two), mw = new_queue(0x3b), mv = new_queue(0x3c);
	int sd = uipc_shmget(0x3d, 4096, IPC_CREAT | 0600), mk = new_queue(0x3e);
	int sk = new_set(0x3f, 2, two), shk = uipc_shmget(0x40, 4096, IPC_CREAT | 0600);
	unsigned short got[2] = { 0 };
	struct lines ck = { 0 }, rp = { 0 };
	uint16_t version = 99;
	char path[PATH_MAX], rel[64], *junk;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	struct stat st;
	size_t i;
	char *p;

	CHECK(sd >= 0 && shk >= 0);
	CHECK_EQ(send_msg(mw, 1, 10), 0);
	CHECK_EQ(send_msg(mk, 1, 500), 0);
	CHECK_EQ(send_msg(mk, 2, 5), 0);
	if ((p = uipc_shmat(shk, NULL, 0)) != (char *)-1) {
		strcpy(p, "kept");
		uipc_shmdt(p);
	}
	/* The set's header: garbage bytes of the right size. */
	under(path, "sem.%d", sg);
	CHECK_EQ(stat(path, &st), 0);
	if ((junk = malloc((size_t)st.st_size))) {
		for (i = 0; i < (size_t)st.st_size; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			junk[i] = (char)x;
		}
		junk[0] = 0;	/* not the magic */
		snprintf(rel, sizeof(rel), "sem.%d", sg);
		put_bytes(rel, 0, junk, (size_t)st.st_size);
		free(junk);
	}
	under(path, "msg.%d", mw);
	CHECK_EQ(truncate(path, 4096), 0);
	snprintf(rel, sizeof(rel), "msg.%d", mv);
	put_bytes(rel, offsetof(struct obj_head, version), &version, sizeof(version));
	under(path, "shm.%d.data", sd % SLOTS);	/* named by slot */
	CHECK_EQ(unlink(path), 0);

	finding(&ck, &rp, "removed", "sem %d: not a uipc object", sg);
	finding(&ck, NULL, NULL, "sem %d: the name sem.%d is stale", sg, sg % SLOTS);
	finding(&ck, &rp, "unlinked", "sem %d: the name semkey.0000003a is stale", sg);
	finding(&ck, &rp, "set", "sem -1: the namespace counts 2 objects, there are 1");
	finding(&ck, &rp, "removed", "msg %d: not of a header's size", mw);
	finding(&ck, NULL, NULL, "msg %d: the name msg.%d is stale", mw, mw % SLOTS);
	finding(&ck, NULL, NULL, "msg %d: the name msgkey.0000003b is stale", mw);
	finding(&ck, &rp, "removed", "msg %d: of another version, kind or id", mv);
	finding(&ck, NULL, NULL, "msg %d: the name msg.%d is stale", mv, mv % SLOTS);
	finding(&ck, NULL, NULL, "msg %d: the name msgkey.0000003c is stale", mv);
	finding(&ck, &rp, "set", "msg -1: the namespace counts 3 objects, there are 1");
	finding(&ck, &rp, "removed", "shm %d: its data file is missing", sd);
	/* (Its names still point to its header, which is whole.) */
	finding(&ck, &rp, "set", "shm -1: the namespace counts 2 objects, there are 1");
	check_repair_check(&ck, 13, &rp, 8);

	expect_gone("sem", sg, 0x3a);
	expect_gone("msg", mw, 0x3b);
	expect_gone("msg", mv, 0x3c);
	expect_gone("shm", sd, 0x3d);
	CHECK_EQ(uipc_msgget(0x3e, 0), mk);
	expect_msg(mk, 1, 500);
	expect_msg(mk, 2, 5);
	expect_usable_queue(mk);
	CHECK_EQ(uipc_semget(0x3f, 0, 0), sk);
	CHECK_EQ(uipc_semctl(sk, 0, GETALL, (union semun){ .array = got }), 0);
	CHECK(got[0] == 4 && got[1] == 9);
	CHECK_EQ(uipc_shmget(0x40, 0, 0), shk);
	expect_segment(shk, "kept");
	/* The keys are free again. */
	CHECK(uipc_semget(0x3a, 1, IPC_CREAT | IPC_EXCL | 0600) >= 0);
	CHECK(new_queue(0x3b) >= 0 && new_queue(0x3c) >= 0);
	CHECK(uipc_shmget(0x3d, 4096, IPC_CREAT | IPC_EXCL | 0600) >= 0);
}

/* Lock holders killed in a call: reported; rolled forward or back. */
static void scenario_lock_holders(void)
{
	static const unsigned short five_seven[2] = { 5, 7 };
	struct lines ck = { 0 }, rp = { 0 };
	struct call c = { 0, 0, 2, 200 };
	unsigned short got[2] = { 0 };
	uint64_t pat;
	long committed, uncommitted, k;
	int q1, q2, q3, s;
	pid_t p1, p3, p4;
	char rel[64];

	/* A send, on a queue holding a message: killed in its commit, or before. */
	c.id = new_queue(0x4f);
	CHECK_EQ(send_msg(c.id, 1, 100), 0);
	count_steps(op_send, &c);
	committed = step_before("src/sync.c", "t->e[i].p", 2);
	uncommitted = step_before("src/sync.c", "(uint64_t)t->n", 1);
	CHECK_EQ(uipc_msgctl(c.id, IPC_RMID, NULL), 0);
	c.id = q1 = new_queue(0x4a);
	CHECK_EQ(send_msg(q1, 1, 100), 0);
	p1 = killed_at(committed, op_send, &c);
	c.id = q2 = new_queue(0x4b);
	CHECK_EQ(send_msg(q2, 1, 100), 0);
	killed_at(uncommitted, op_send, &c);

	/* A receive, of the first of two messages: killed in its commit. */
	c.id = new_queue(0x4e);
	CHECK_EQ(send_msg(c.id, 1, 100), 0);
	CHECK_EQ(send_msg(c.id, 2, 200), 0);
	count_steps(op_recv, &c);
	k = step_before("src/sync.c", "t->e[i].p", 2);
	CHECK_EQ(uipc_msgctl(c.id, IPC_RMID, NULL), 0);
	c.id = q3 = new_queue(0x4c);
	CHECK_EQ(send_msg(q3, 1, 100), 0);
	CHECK_EQ(send_msg(q3, 2, 200), 0);
	p3 = killed_at(k, op_recv, &c);

	/* A semop {0 -2, 1 +3} on {5, 7}: killed before its journal commits. */
	c.id = new_set(0x4d, 2, five_seven);
	count_steps(op_semop, &c);
	k = step_before("src/sem.h", "&jrn(s)->count, 0", 1);
	CHECK_EQ(uipc_semctl(c.id, 0, IPC_RMID), 0);
	c.id = s = new_set(0x4d, 2, five_seven);
	p4 = killed_at(k, op_semop, &c);
	/* The set holds the half-done change: {3, 10} by the dead child. */
	snprintf(rel, sizeof(rel), "sem.%d.data", s);
	pat = 3 | (uint64_t)p4 << 32;
	find_words(rel, &pat, 1, 8, 0);
	pat = 10 | (uint64_t)p4 << 32;
	find_words(rel, &pat, 1, 8, 0);

	finding(&ck, NULL, NULL, "msg %d: its send lock holder died in a call: its change is "
		"rolled forward or back at the next use", q1);
	finding(NULL, &rp, NULL, "msg %d: its send lock holder died in a call: its change was "
		"rolled forward or back", q1);
	finding(NULL, &rp, NULL, "msg %d: counted again from the list", q1);
	finding(&ck, NULL, NULL, "msg %d: its send lock holder died in a call: its change is "
		"rolled forward or back at the next use", q2);
	finding(NULL, &rp, NULL, "msg %d: its send lock holder died in a call: its change was "
		"rolled forward or back", q2);
	finding(NULL, &rp, NULL, "msg %d: counted again from the list", q2);
	finding(&ck, NULL, NULL, "msg %d: its lock holder died in a call: its change is rolled "
		"forward or back at the next use", q3);
	finding(NULL, &rp, NULL, "msg %d: its lock holder died in a call: its change was rolled "
		"forward or back", q3);
	finding(&ck, NULL, NULL, "sem %d: its lock holder died in a call: its change is rolled "
		"forward or back at the next use", s);
	finding(NULL, &rp, NULL, "sem %d: its lock holder died in a call: its change was rolled "
		"forward or back", s);
	check_repair_check(&ck, 4, &rp, 4);

	/* Committed: the message is there, once. */
	CHECK_EQ(qstat(q1).msg_qnum, 2);
	CHECK_EQ(qstat(q1).msg_lspid, p1);
	expect_msg(q1, 1, 100);
	expect_msg(q1, 2, 200);
	expect_empty(q1);
	expect_usable_queue(q1);
	/* Not committed: it is not. */
	CHECK_EQ(qstat(q2).msg_qnum, 1);
	CHECK_EQ(qstat(q2).msg_lspid, getpid());
	expect_msg(q2, 1, 100);
	expect_empty(q2);
	expect_usable_queue(q2);
	/* The receive was committed: the first message is gone. */
	CHECK_EQ(qstat(q3).msg_qnum, 1);
	CHECK_EQ(qstat(q3).msg_lrpid, p3);
	expect_msg(q3, 2, 200);
	expect_empty(q3);
	expect_usable_queue(q3);
	/* The semop is rolled back exactly. */
	CHECK_EQ(uipc_semctl(s, 0, GETALL, (union semun){ .array = got }), 0);
	CHECK(got[0] == 5 && got[1] == 7);
	CHECK_EQ(uipc_semctl(s, 0, GETPID), getpid());
	CHECK_EQ(uipc_semctl(s, 1, GETPID), getpid());
	CHECK_EQ(op_semop(&c), 0);
	CHECK(semval(s, 0) == 3 && semval(s, 1) == 10);
}

/* A process with an attachment and a SEM_UNDO adjustment killed. */
static void scenario_dead_process(void)
{
	static const unsigned short zero[1] = { 0 };
	struct lines ck = { 0 }, rp = { 0 };
	int s = new_set(0x5a, 1, zero), m = uipc_shmget(0x5b, 8192, IPC_CREAT | 0600), go, st;
	pid_t pid = holder(m, s, &go);
	uint64_t pat = 1 | (uint64_t)pid << 32;
	char rel[64];

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(go);
	snprintf(rel, sizeof(rel), "sem.%d.data", s);
	find_words(rel, &pat, 1, 8, 0);		/* the child's +1 is there */

	finding(&ck, &rp, NULL, "sem %d: process %d died or called exec: its adjustments wait "
		"for the next call", s, pid);
	finding(NULL, &rp, NULL, "sem %d: rolled back what was half done, applied the adjustments "
		"of dead processes, counted again", s);
	finding(&ck, &rp, NULL, "shm %d: process %d died or called exec: its 1 attachments are "
		"counted until the next call", m, pid);
	finding(NULL, &rp, NULL, "shm %d: counted again: 0 attachments, were 1", m);
	check_repair_check(&ck, 2, &rp, 2);

	CHECK_EQ(semval(s, 0), 0);
	CHECK_EQ(uipc_semctl(s, 0, GETPID), pid);
	CHECK_EQ(shmstat(m).shm_nattch, 0);
	CHECK_EQ(shmstat(m).shm_lpid, pid);
	expect_segment(m, "held");
	CHECK_EQ(uipc_semop(s, &(struct sembuf){ 0, 2, 0 }, 1), 0);
	CHECK_EQ(semval(s, 0), 2);
}

/* Creations and a removal interrupted: settled forward or back, unlinked. */
static void scenario_create_remove(void)
{
	struct lines ck = { 0 }, rp = { 0 };
	struct call c = { 0, 0x6f, 0, 0 };
	long live_step, key_step, rename_step;
	int a, b, q, fresh;
	char rel[64];

	/* The steps of a creation, counted on a scratch key. */
	count_steps(op_create, &c);
	live_step = step_before("src/store.c", "OBJ_LIVE", 1);
	key_step = step_before("src/store.c", "symlink(idbuf, path) < 0", 1);
	CHECK_EQ(uipc_msgctl(uipc_msgget(0x6f, 0), IPC_RMID, NULL), 0);

	/* Killed after its key name was made: settled forward. */
	c.key = 0x6a;
	killed_at(live_step, op_create, &c);
	a = creating_queue();	/* (a lookup would settle it: none before the check) */
	snprintf(rel, sizeof(rel), "msg.%d", a);
	finding(&ck, &rp, "settled", "msg %d: its creator died while making it", a);
	check_repair_check(&ck, 1, &rp, 1);
	CHECK_EQ(obj_state(rel), OBJ_LIVE);
	CHECK_EQ(uipc_msgget(0x6a, 0), a);
	expect_usable_queue(a);

	/* Killed before: settled back, the key makes a new queue. */
	c.key = 0x6b;
	killed_at(key_step, op_create, &c);
	b = creating_queue();
	ck.n = rp.n = 0;
	finding(&ck, &rp, "settled", "msg %d: its creator died while making it", b);
	finding(&ck, &rp, "set", "msg -1: the namespace counts 2 objects, there are 1");
	check_repair_check(&ck, 2, &rp, 2);
	expect_gone("msg", b, 0x6b);
	CHECK_ERR(uipc_msgget(0x6b, 0), ENOENT);
	fresh = new_queue(0x6b);
	CHECK(fresh >= 0 && fresh != b);
	expect_usable_queue(fresh);

	/* A removal killed after REMOVED, before any name or file went. */
	c.id = new_queue(0x6e);
	CHECK_EQ(send_msg(c.id, 1, 10), 0);
	count_steps(op_remove, &c);
	rename_step = step_before("src/store.c", "rename(path, tmp)", 1);
	c.id = q = new_queue(0x6c);
	CHECK_EQ(send_msg(q, 1, 10), 0);
	killed_at(rename_step, op_remove, &c);
	snprintf(rel, sizeof(rel), "msg.%d", q);
	CHECK_EQ(obj_state(rel), OBJ_REMOVED);
	ck.n = rp.n = 0;
	finding(&ck, &rp, "unlinked", "msg %d: removed, but its files are still there", q);
	finding(&ck, NULL, NULL, "msg %d: the name msg.%d is stale", q, q % SLOTS);
	finding(&ck, &rp, "unlinked", "msg %d: the name msgkey.0000006c is stale", q);
	finding(&ck, &rp, "set", "msg -1: the namespace counts 3 objects, there are 2");
	check_repair_check(&ck, 4, &rp, 3);
	expect_gone("msg", q, 0x6c);
	CHECK_ERR(uipc_msgctl(q, IPC_STAT, &(struct msqid_ds){ 0 }), EINVAL);
	CHECK_ERR(uipc_msgget(0x6c, 0), ENOENT);
	expect_usable_queue(new_queue(0x6c));
}

/* Invariants broken by editing bytes of the files. */
static void scenario_invariants(void)
{
	static const unsigned short vals[2] = { 12345, 7 };
	const long odd_type = 0x0123456789abcdefl;
	struct lines ck = { 0 }, rp = { 0 };
	int sv = new_set(0x7a, 2, vals), ml = new_queue(0x7b), mc = new_queue(0x7c);
	uint64_t pat[2], v;
	struct ns_mirror ns;
	char rel[64];
	long off;

	/* A semaphore above semvmx: 12345 by this process, found, made 40000. */
	snprintf(rel, sizeof(rel), "sem.%d.data", sv);
	pat[0] = 12345 | (uint64_t)getpid() << 32;
	if ((off = find_words(rel, pat, 1, 8, 0)) >= 0) {
		v = 40000 | (uint64_t)getpid() << 32;
		put_bytes(rel, off, &v, 8);
	}
	/* Three messages; the second's len (the word after its type) made huge. */
	CHECK_EQ(send_msg(ml, 1, 20), 0);
	CHECK_EQ(send_msg(ml, odd_type, 300), 0);
	CHECK_EQ(send_msg(ml, 3, 40), 0);
	snprintf(rel, sizeof(rel), "msg.%d.data", ml);
	pat[0] = (uint64_t)odd_type;
	pat[1] = 300;
	if ((off = find_words(rel, pat, 2, 128, 16)) >= 0) {
		v = 1ull << 40;
		put_bytes(rel, off + 8, &v, 8);
	}
	/* sent_num (3, followed by sent_bytes 3777) off by 3. */
	CHECK_EQ(send_msg(mc, 1, 1000), 0);
	CHECK_EQ(send_msg(mc, 2, 2000), 0);
	CHECK_EQ(send_msg(mc, 3, 777), 0);
	expect_msg(mc, 1, 1000);
	snprintf(rel, sizeof(rel), "msg.%d", mc);
	pat[0] = 3;
	pat[1] = 3777;
	if ((off = find_words(rel, pat, 2, 8, 0)) >= 0) {
		v = 6;
		put_bytes(rel, off, &v, 8);
	}
	/* The namespace counts 4 sets. */
	mirror_ns(&ns);
	CHECK_EQ(ns.kinds[KIND_SEM].in_use, 1);
	v = 4;
	put_bytes("namespace", offsetof(struct ns_mirror, kinds[KIND_SEM].in_use), &v, 8);

	finding(&ck, &rp, NULL, "sem %d: semaphore 0 holds 40000 (pid %d), out of range", sv,
		getpid());
	finding(NULL, &rp, NULL, "sem %d: rolled back what was half done, applied the adjustments "
		"of dead processes, counted again", sv);
	finding(&ck, &rp, "set", "sem -1: the namespace counts 4 objects, there are 1");
	finding(&ck, &rp, NULL, "msg %d: the message list is damaged after 1 messages", ml);
	finding(NULL, &rp, NULL, "msg %d: counted again from the list, which was cut where it was "
		"damaged", ml);
	finding(&ck, &rp, NULL, "msg %d: counters say 5 messages (2777 bytes), the list holds 2 "
		"(2777 bytes)", mc);
	finding(NULL, &rp, NULL, "msg %d: counted again from the list", mc);
	check_repair_check(&ck, 4, &rp, 4);

	CHECK_EQ(semval(sv, 0), SEMVMX);
	CHECK_EQ(semval(sv, 1), 7);
	CHECK_EQ(uipc_semctl(sv, 0, GETPID), getpid());
	CHECK_EQ(uipc_semop(sv, &(struct sembuf){ 0, -1, 0 }, 1), 0);
	CHECK_EQ(semval(sv, 0), SEMVMX - 1);
	CHECK_EQ(qstat(ml).msg_qnum, 1);
	CHECK_EQ(qstat(ml).__msg_cbytes, 20);
	expect_msg(ml, 1, 20);
	expect_empty(ml);
	expect_usable_queue(ml);
	CHECK_EQ(qstat(mc).msg_qnum, 2);
	CHECK_EQ(qstat(mc).__msg_cbytes, 2777);
	expect_msg(mc, 2, 2000);
	expect_msg(mc, 3, 777);
	expect_empty(mc);
	expect_usable_queue(mc);
	mirror_ns(&ns);
	CHECK_EQ(ns.kinds[KIND_SEM].in_use, 1);
	CHECK_EQ(ns.kinds[KIND_MSG].in_use, 2);
}

/* Object files that are not files: no hang, no crash, reported, removed. */
static void scenario_hostile(void)
{
	struct lines ck = { 0 }, rp = { 0 };
	int q = new_queue(0x81), fd;
	char path[PATH_MAX], target[32];

	CHECK_EQ(send_msg(q, 1, 64), 0);
	under(path, "msg.900");
	CHECK_EQ(mkfifo(path, 0600), 0);
	snprintf(target, sizeof(target), "msg.%d", q);
	link_name(target, "sem.901");
	under(path, "shm.902");
	CHECK_EQ(mkdir(path, 0700), 0);
	under(path, "msg.903");
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);

	finding(&ck, &rp, "removed", "msg 900: not a regular file");
	finding(&ck, &rp, "removed", "msg 903: not of a header's size");
	finding(&ck, &rp, "removed", "sem 901: not a regular file");
	finding(&ck, &rp, "removed", "shm 902: not a regular file");
	check_repair_check(&ck, 4, &rp, 4);

	CHECK(!exists("msg.900") && !exists("sem.901") && !exists("shm.902") && !exists("msg.903"));
	CHECK(exists("msg.%d", q));
	CHECK_EQ(uipc_msgget(0x81, 0), q);
	expect_msg(q, 1, 64);
	expect_usable_queue(q);
}

static const struct {
	const char *name;
	void (*run)(void);
} scenarios[] = {
	{ "check_clean", scenario_clean },
	{ "check_names", scenario_names },
	{ "check_damaged_files", scenario_files },
	{ "check_dead_lock_holders", scenario_lock_holders },
	{ "check_dead_processes", scenario_dead_process },
	{ "check_interrupted_create_remove", scenario_create_remove },
	{ "check_invariants", scenario_invariants },
	{ "check_hostile_files", scenario_hostile },
};

#define NSCENARIOS (int)(sizeof(scenarios) / sizeof(scenarios[0]))

int main(void)
{
	char made[] = "/dev/shm/fault_check.XXXXXX", cmd[PATH_MAX + 16];
	const char *base = getenv("UIPC_ROOT");
	bool own_base = !base || !*base;
	int i, st, failed = 0;
	pid_t pid;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || (own_base && !(base = mkdtemp(made)))) {
		perror("fault_check");
		return 1;
	}
	for (i = 0; i < NSCENARIOS; i++) {
		snprintf(root, sizeof(root), "%s/%d", base, i + 1);
		if (mkdir(root, 0700) < 0 && errno != EEXIST) {
			perror(root);
			return 1;
		}
		fflush(stdout);
		if ((pid = fork()) == 0) {
			setenv("UIPC_ROOT", root, 1);
			alarm(SCENARIO_SECONDS);
			t_case(scenarios[i].name);
			scenarios[i].run();
			t_done();
			_exit(t_exit());
		}
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st))
			printf("FAIL %s: died by signal %d\n", scenarios[i].name, WTERMSIG(st));
		failed |= st != 0;
	}
	printf("fault_check: %d scenarios, %d findings verified\n", NSCENARIOS, sh->findings);
	if (own_base) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "fault_check: could not remove %s\n", base);
	}
	return failed;
}
