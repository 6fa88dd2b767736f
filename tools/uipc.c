/*
 * uipc.c - the uipc command-line tool: ipcs, ipcmk, ipcrm, limits, run.
 *
 * "uipc ipcs", "uipc ipcmk" and "uipc ipcrm" take the options of util-linux's
 * ipcs, ipcmk and ipcrm and print the same lines, messages and exit statuses
 * (util-linux 2.38 is the model), so that scripts written for those keep
 * working when pointed at a uipc root.  Diagnostics start with "uipc CMD:"
 * where util-linux writes "CMD:".
 *
 * Everything goes through the public API, the way util-linux works where
 * /proc/sysvipc is missing: msgctl(0, MSG_INFO) or semctl(0, 0, SEM_INFO)
 * returns the highest slot in use, MSG_STAT_ANY or SEM_STAT_ANY on each slot
 * 0..max the id and state of the queue or semaphore set there (EINVAL: a
 * free slot), IPC_INFO the limits; GETVAL, GETNCNT, GETZCNT and GETPID the
 * semaphores of a set for "ipcs -s -i".  Where util-linux reads /proc, it
 * sees every object whatever its permissions, and so do the *_STAT_ANY
 * commands; where it uses MSG_STAT or SEM_STAT ("ipcrm -a"), so do we.
 * Shared memory the same way: shmctl(0, SHM_INFO) gives the highest slot
 * and the status summary, SHM_STAT_ANY each segment (its nattch, and the
 * SHM_DEST and SHM_LOCKED bits of its mode for the status column, as
 * /proc/sysvipc/shm shows them to util-linux), IPC_INFO the limits (which
 * util-linux reads in /proc/sys/kernel/shm*).  "ipcmk -M" takes the sizes
 * util-linux's strtosize() takes ("1.5K", "10KiB", "10KB", "0x1000"), with
 * its rounding.
 *
 * "uipc check" is the exception: it verifies the objects' own invariants,
 * which only the library knows (check.c), so it calls into the library's
 * internals; the tool links the static library for that.
 *
 * "uipc run" puts libuipc-preload.so in front of LD_PRELOAD and execs the
 * program.  The library is looked for next to this binary (the build tree),
 * then in ../lib relative to it (an installed tree).
 */
#include "uipc.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif
#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif

static const char *prog = "uipc";	/* "uipc ipcs" etc. once a command runs */

/* ---- diagnostics ---- */

static void __attribute__((format(printf, 1, 2))) complain(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define die(...) (complain(__VA_ARGS__), exit(EXIT_FAILURE))
#define try_help() \
	(fprintf(stderr, "Try '%s --help' for more information.\n", prog), exit(EXIT_FAILURE))
#define usage_error(...) (complain(__VA_ARGS__), try_help())

/* util-linux's strtos32_or_err(): a decimal int or exit. */
static int parse_int(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!errno && (v < INT_MIN || v > INT_MAX))
		errno = ERANGE;
	if (errno)
		die("%s: '%s': %s", what, s, strerror(errno));
	if (end == s || *end)
		die("%s: '%s'", what, s);
	return (int)v;
}

/* ---- sizes, names, JSON ---- */

/* UNIT_KB: the default of "max seg size" under ipcs -m -l. */
enum unit { UNIT_DEFAULT, UNIT_BYTES, UNIT_HUMAN, UNIT_KB };

/* util-linux's size_to_human_string(SIZE_SUFFIX_1LETTER): "0B", "1.5K", "16E". */
static void human_size(char *buf, size_t len, uint64_t bytes)
{
	int exp = 0;
	uint64_t dec = bytes, frac = 0;

	while (exp < 60 && bytes >= (1ULL << (exp + 10)))
		exp += 10;
	if (exp) {
		dec = bytes >> exp;
		frac = bytes & ((1ULL << exp) - 1);
	}
	if (frac) {	/* one rounded decimal, as util-linux */
		if (frac >= UINT64_MAX / 1000)
			frac = ((frac / 1024) * 1000) / (1ULL << (exp - 10));
		else
			frac = (frac * 1000) / (1ULL << exp);
		frac = (frac + 50) / 100;
		if (frac == 10) {
			dec++;
			frac = 0;
		}
	}
	if (frac)	/* dec < 1024, frac < 10 */
		snprintf(buf, len, "%u.%u%c", (unsigned)dec, (unsigned)frac, "BKMGTPE"[exp / 10]);
	else
		snprintf(buf, len, "%u%c", (unsigned)dec, "BKMGTPE"[exp / 10]);
}

/*
 * util-linux's ipc_print_size(): "label (bytes) = N", "label (kbytes) = N/1024",
 * "label = 8K", "label=N".
 */
static void print_size(enum unit unit, const char *label, uint64_t size,
		       const char *end, int width)
{
	char buf[32];

	if (label && label[strlen(label) - 1] == '=')
		fputs(label, stdout);
	else if (label && unit == UNIT_BYTES)
		printf("%s (bytes) = ", label);
	else if (label && unit == UNIT_KB)
		printf("%s (kbytes) = ", label);
	else if (label)
		printf("%s = ", label);
	if (unit == UNIT_HUMAN) {
		human_size(buf, sizeof(buf), size);
		printf("%*s", width, buf);
	} else {
		printf("%*" PRIu64, width, unit == UNIT_KB ? size / 1024 : size);
	}
	if (end)
		fputs(end, stdout);
}

/*
 * The user's name, or the number where it has none (as util-linux prints),
 * in buf: getpwuid()'s result does not survive the next call.
 */
static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
	return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned)gid);
	return buf;
}

/* A JSON string; control characters and quotes escaped. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_time(const char *name, time_t t)
{
	if (t)
		printf(", \"%s\": %lld", name, (long long)t);
	else
		printf(", \"%s\": null", name);
}

/* ---- objects ---- */

#define NAME_LEN 256	/* a user or group name, as LOGIN_NAME_MAX */

/* The kinds, in the order of ipcrm's "shm|msg|sem"; K_ALL: every kind. */
enum kind { K_SHM, K_MSG, K_SEM, K_ALL };

static const char *const kind_names[] = { "shm", "msg", "sem" };

/* The argument of semctl(), which the caller defines (semctl(2)). */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

/* What IPC_INFO and MSG_INFO, SEM_INFO or SHM_INFO fill in. */
union ipc_info {
	struct msginfo msg;
	struct seminfo sem;
	struct shminfo shm;		/* shmctl(IPC_INFO) */
	struct shm_info shm_status;	/* shmctl(SHM_INFO) */
};

/* One queue, semaphore set or segment, as MSG_STAT, SEM_STAT or SHM_STAT fill it in. */
struct obj {
	int id;
	union {
		struct msqid_ds msg;
		struct semid_ds sem;
		struct shmid_ds shm;
	} ds;
};

/* The *_INFO command of kind k. */
static const int info_cmds[] = { SHM_INFO, MSG_INFO, SEM_INFO };

/* msgctl(0, cmd), semctl(0, 0, cmd) or shmctl(0, cmd) for IPC_INFO or info_cmds[k]. */
static int get_info(enum kind k, int cmd, union ipc_info *info)
{
	if (k == K_MSG)
		return uipc_msgctl(0, cmd, (struct msqid_ds *)(void *)&info->msg);
	if (k == K_SHM)
		return uipc_shmctl(0, cmd, (struct shmid_ds *)(void *)&info->shm);
	return uipc_semctl(0, 0, cmd, (union semun){ .__buf = &info->sem });
}

/*
 * Every object of kind k (not K_ALL) in the root, in slot order, into *out
 * (free it).  MSG_INFO, SEM_INFO or SHM_INFO give the highest slot in use;
 * MSG_STAT_ANY, SEM_STAT_ANY or SHM_STAT_ANY on each slot the id and state of
 * the object there (EINVAL: a free slot).  With readable_only, MSG_STAT,
 * SEM_STAT or SHM_STAT instead, which skip the objects the caller may not
 * read, as util-linux's "ipcrm -a" walks them.  Returns the count, or exits.
 */
static int collect(enum kind k, int readable_only, struct obj **out)
{
	static const char *const what[] = {
		"shared memory segments", "message queues", "semaphore sets"
	};
	union ipc_info info;
	struct obj *v;
	int max, i, id, n = 0;

	max = get_info(k, info_cmds[k], &info);
	if (max < 0)
		die("cannot list %s in %s: %s", what[k], uipc_root(), strerror(errno));
	v = calloc((size_t)max + 1, sizeof(*v));
	if (!v)
		die("out of memory");
	for (i = 0; i <= max; i++) {
		if (k == K_MSG)
			id = uipc_msgctl(i, readable_only ? MSG_STAT : MSG_STAT_ANY, &v[n].ds.msg);
		else if (k == K_SHM)
			id = uipc_shmctl(i, readable_only ? SHM_STAT : SHM_STAT_ANY, &v[n].ds.shm);
		else
			id = uipc_semctl(i, 0, readable_only ? SEM_STAT : SEM_STAT_ANY,
					 (union semun){ .buf = &v[n].ds.sem });
		if (id >= 0)
			v[n++].id = id;
	}
	*out = v;
	return n;
}

/* One semaphore of a set, as ipcs -s -i shows it. */
struct sem_elem {
	int val, ncount, zcount, pid;
};

static int sem_get(int id, size_t num, int cmd, const char *name)
{
	int r = uipc_semctl(id, (int)num, cmd, (union semun){ .val = 0 });

	if (r < 0)
		die("%s failed: %s", name, strerror(errno));
	return r;
}

/*
 * The semaphores of a set (free them), fetched before anything is printed,
 * or exit as util-linux's get_sem_elements() does: the caller may list a set
 * it may not read, but not look at its semaphores.
 */
static struct sem_elem *sem_elements(const struct obj *o)
{
	size_t i, n = o->ds.sem.sem_nsems;
	struct sem_elem *e = calloc(n ? n : 1, sizeof(*e));

	if (!e)
		die("out of memory");
	for (i = 0; i < n; i++) {
		e[i].val = sem_get(o->id, i, GETVAL, "semctl(GETVAL)");
		e[i].ncount = sem_get(o->id, i, GETNCNT, "semctl(GETNCNT)");
		e[i].zcount = sem_get(o->id, i, GETZCNT, "semctl(GETZCNT)");
		e[i].pid = sem_get(o->id, i, GETPID, "semctl(GETPID)");
	}
	return e;
}

/* ---- ipcs ---- */

enum format { F_LIST, F_LIMITS, F_STATUS, F_CREATOR, F_TIME, F_PID };

struct ipcs_opts {
	int msg, shm, sem;	/* sections selected */
	enum format format;
	enum unit unit;
	int json;
	int specific, id;	/* -i id */
};

static const char *ctime16(time_t t)	/* "Nov 22 20:35:16 " or "Not set" */
{
	return t ? ctime(&t) + 4 : "Not set";
}

static const char *ctime24(time_t t)	/* "Sun Nov 22 20:35:16 2026" or "Not set" */
{
	return t ? ctime(&t) : "Not set";
}

static void print_perms(int id, const struct ipc_perm *p)
{
	char b[4][NAME_LEN];

	printf("%-10d %-10o %-10s %-10s %-10s %-10s\n", id, p->mode & 0777,
	       user_name(p->cuid, b[0], NAME_LEN), group_name(p->cgid, b[1], NAME_LEN),
	       user_name(p->uid, b[2], NAME_LEN), group_name(p->gid, b[3], NAME_LEN));
}

/* The message queue section of ipcs output, as util-linux's do_msg(). */
static int ipcs_msg(const struct ipcs_opts *o)
{
	union ipc_info info;
	const struct msginfo *mi = &info.msg;
	struct obj *v;
	char ub[NAME_LEN];
	int i, n;

	if (o->format == F_LIMITS) {
		if (get_info(K_MSG, IPC_INFO, &info) < 0) {
			complain("IPC_INFO: %s", strerror(errno));
			printf("unable to fetch message limits\n");
			return 1;
		}
		printf("------ Messages Limits --------\n");
		printf("max queues system wide = %d\n", mi->msgmni);
		print_size(o->unit ? o->unit : UNIT_BYTES, "max size of message",
			   (uint64_t)mi->msgmax, "\n", 0);
		print_size(o->unit ? o->unit : UNIT_BYTES, "default max size of queue",
			   (uint64_t)mi->msgmnb, "\n", 0);
		return 0;
	}
	if (o->format == F_STATUS) {
		if (get_info(K_MSG, MSG_INFO, &info) < 0) {
			complain("MSG_INFO: %s", strerror(errno));
			return 1;
		}
		printf("------ Messages Status --------\n");
		printf("allocated queues = %d\n", mi->msgpool);
		printf("used headers = %d\n", mi->msgmap);
		print_size(o->unit, "used space", (uint64_t)mi->msgtql,
			   o->unit == UNIT_DEFAULT ? " bytes\n" : "\n", 0);
		return 0;
	}
	switch (o->format) {
	case F_CREATOR:
		printf("------ Message Queues Creators/Owners --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s %-10s\n",
		       "msqid", "perms", "cuid", "cgid", "uid", "gid");
		break;
	case F_TIME:
		printf("------ Message Queues Send/Recv/Change Times --------\n");
		printf("%-8s %-10s %-20s %-20s %-20s\n",
		       "msqid", "owner", "send", "recv", "change");
		break;
	case F_PID:
		printf("------ Message Queues PIDs --------\n");
		printf("%-10s %-10s %-10s %-10s\n", "msqid", "owner", "lspid", "lrpid");
		break;
	default:
		printf("------ Message Queues --------\n");
		printf("%-10s %-10s %-10s %-10s %-12s %-12s\n", "key", "msqid",
		       "owner", "perms", o->unit == UNIT_HUMAN ? "size" : "used-bytes",
		       "messages");
		break;
	}
	n = collect(K_MSG, 0, &v);
	for (i = 0; i < n; i++) {
		const struct msqid_ds *d = &v[i].ds.msg;
		const char *owner = user_name(d->msg_perm.uid, ub, sizeof(ub));

		switch (o->format) {
		case F_CREATOR:
			print_perms(v[i].id, &d->msg_perm);
			break;
		case F_TIME:
			printf("%-8d %-10.10s", v[i].id, owner);
			printf(" %-20.16s", ctime16(d->msg_stime));
			printf(" %-20.16s", ctime16(d->msg_rtime));
			printf(" %-20.16s\n", ctime16(d->msg_ctime));
			break;
		case F_PID:
			printf("%-8d %-10.10s  %5d     %5d\n", v[i].id, owner,
			       d->msg_lspid, d->msg_lrpid);
			break;
		default:
			printf("0x%08x %-10d %-10.10s %-10o ", (unsigned)d->msg_perm.__key,
			       v[i].id, owner, d->msg_perm.mode & 0777);
			if (o->unit == UNIT_HUMAN)
				print_size(o->unit, NULL, d->__msg_cbytes, "      ", 6);
			else
				print_size(o->unit, NULL, d->__msg_cbytes, NULL, -12);
			printf(" %-12ju\n", (uintmax_t)d->msg_qnum);
			break;
		}
	}
	free(v);
	return 0;
}

/* x * m, or the largest multiple of m when that overflows, as util-linux. */
static uint64_t mul_clamped(uint64_t x, uint64_t m)
{
	uint64_t r = x * m;

	if (x && r / x != m)
		r = UINT64_MAX - UINT64_MAX % m;
	return r;
}

/*
 * The shared memory section of ipcs output, as util-linux's do_shm(): -l
 * prints the segment size in kbytes by default and shmall (pages) as kbytes
 * or bytes; -p prints the creator's and the last shmat/shmdt's pids.
 */
static int ipcs_shm(const struct ipcs_opts *o)
{
	union ipc_info info;
	struct obj *v;
	char ub[NAME_LEN];
	int i, n;

	if (o->format == F_LIMITS) {
		const struct shminfo *si = &info.shm;
		uint64_t pgsz = (uint64_t)getpagesize();

		if (get_info(K_SHM, IPC_INFO, &info) < 0) {
			complain("IPC_INFO: %s", strerror(errno));
			printf("unable to fetch shared memory limits\n");
			return 1;
		}
		printf("------ Shared Memory Limits --------\n");
		printf("max number of segments = %ju\n", (uintmax_t)si->shmmni);
		print_size(o->unit ? o->unit : UNIT_KB, "max seg size", si->shmmax, "\n", 0);
		if (o->unit == UNIT_DEFAULT)
			print_size(UNIT_DEFAULT, "max total shared memory (kbytes)",
				   mul_clamped(si->shmall, pgsz / 1024), "\n", 0);
		else
			print_size(o->unit, "max total shared memory",
				   mul_clamped(si->shmall, pgsz), "\n", 0);
		print_size(o->unit ? o->unit : UNIT_BYTES, "min seg size", si->shmmin, "\n", 0);
		return 0;
	}
	if (o->format == F_STATUS) {
		const struct shm_info *st = &info.shm_status;

		if (get_info(K_SHM, SHM_INFO, &info) < 0) {
			complain("SHM_INFO: %s", strerror(errno));
			return 1;
		}
		printf("------ Shared Memory Status --------\n");
		printf("segments allocated %d\npages allocated %ld\npages resident  %ld\n"
		       "pages swapped   %ld\nSwap performance: %ld attempts\t %ld successes\n",
		       st->used_ids, (long)st->shm_tot, (long)st->shm_rss, (long)st->shm_swp,
		       (long)st->swap_attempts, (long)st->swap_successes);
		return 0;
	}
	switch (o->format) {
	case F_CREATOR:
		printf("------ Shared Memory Segment Creators/Owners --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s %-10s\n",
		       "shmid", "perms", "cuid", "cgid", "uid", "gid");
		break;
	case F_TIME:
		printf("------ Shared Memory Attach/Detach/Change Times --------\n");
		printf("%-10s %-10s %-20s %-20s %-20s\n",
		       "shmid", "owner", "attached", "detached", "changed");
		break;
	case F_PID:
		printf("------ Shared Memory Creator/Last-op PIDs --------\n");
		printf("%-10s %-10s %-10s %-10s\n", "shmid", "owner", "cpid", "lpid");
		break;
	default:
		printf("------ Shared Memory Segments --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s %-10s %-12s\n", "key", "shmid",
		       "owner", "perms", o->unit == UNIT_HUMAN ? "size" : "bytes",
		       "nattch", "status");
		break;
	}
	n = collect(K_SHM, 0, &v);
	for (i = 0; i < n; i++) {
		const struct shmid_ds *d = &v[i].ds.shm;
		const char *owner = user_name(d->shm_perm.uid, ub, sizeof(ub));

		switch (o->format) {
		case F_CREATOR:
			print_perms(v[i].id, &d->shm_perm);
			break;
		case F_TIME:
			printf("%-10d %-10.10s", v[i].id, owner);
			printf(" %-20.16s", ctime16(d->shm_atime));
			printf(" %-20.16s", ctime16(d->shm_dtime));
			printf(" %-20.16s\n", ctime16(d->shm_ctime));
			break;
		case F_PID:
			printf("%-10d %-10.10s %-10u %-10u\n", v[i].id, owner,
			       (unsigned)d->shm_cpid, (unsigned)d->shm_lpid);
			break;
		default:
			printf("0x%08x %-10d %-10.10s %-10o ", (unsigned)d->shm_perm.__key,
			       v[i].id, owner, d->shm_perm.mode & 0777);
			if (o->unit == UNIT_HUMAN)
				print_size(o->unit, NULL, d->shm_segsz, "    ", 6);
			else
				print_size(o->unit, NULL, d->shm_segsz, NULL, -10);
			printf(" %-10ju %-6s %-6s\n", (uintmax_t)d->shm_nattch,
			       d->shm_perm.mode & SHM_DEST ? "dest" : " ",
			       d->shm_perm.mode & SHM_LOCKED ? "locked" : " ");
			break;
		}
	}
	free(v);
	return 0;
}

/*
 * The semaphore section of ipcs output, as util-linux's do_sem(): no sizes,
 * so -b and --human change nothing, and -p prints nothing at all.
 */
static int ipcs_sem(const struct ipcs_opts *o)
{
	union ipc_info info;
	const struct seminfo *si = &info.sem;
	struct obj *v;
	char ub[NAME_LEN];
	int i, n;

	if (o->format == F_LIMITS) {
		if (get_info(K_SEM, IPC_INFO, &info) < 0) {
			complain("IPC_INFO: %s", strerror(errno));
			printf("unable to fetch semaphore limits\n");
			return 1;
		}
		printf("------ Semaphore Limits --------\n");
		printf("max number of arrays = %d\n", si->semmni);
		printf("max semaphores per array = %d\n", si->semmsl);
		printf("max semaphores system wide = %d\n", si->semmns);
		printf("max ops per semop call = %d\n", si->semopm);
		printf("semaphore max value = %d\n", si->semvmx);
		return 0;
	}
	if (o->format == F_STATUS) {
		if (get_info(K_SEM, SEM_INFO, &info) < 0) {
			complain("SEM_INFO: %s", strerror(errno));
			return 1;
		}
		printf("------ Semaphore Status --------\n");
		printf("used arrays = %d\n", si->semusz);
		printf("allocated semaphores = %d\n", si->semaem);
		return 0;
	}
	switch (o->format) {
	case F_CREATOR:
		printf("------ Semaphore Arrays Creators/Owners --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s %-10s\n",
		       "semid", "perms", "cuid", "cgid", "uid", "gid");
		break;
	case F_TIME:
		printf("------ Semaphore Operation/Change Times --------\n");
		printf("%-8s %-10s %-26.24s %-26.24s\n",
		       "semid", "owner", "last-op", "last-changed");
		break;
	case F_PID:
		return 0;
	default:
		printf("------ Semaphore Arrays --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s\n",
		       "key", "semid", "owner", "perms", "nsems");
		break;
	}
	n = collect(K_SEM, 0, &v);
	for (i = 0; i < n; i++) {
		const struct semid_ds *d = &v[i].ds.sem;
		const char *owner = user_name(d->sem_perm.uid, ub, sizeof(ub));

		switch (o->format) {
		case F_CREATOR:
			print_perms(v[i].id, &d->sem_perm);
			break;
		case F_TIME:
			printf("%-8d %-10.10s", v[i].id, owner);
			printf("  %-26.24s", ctime24(d->sem_otime));
			printf(" %-26.24s\n", ctime24(d->sem_ctime));
			break;
		default:
			printf("0x%08x %-10d %-10.10s %-10o %-10ju\n", (unsigned)d->sem_perm.__key,
			       v[i].id, owner, d->sem_perm.mode & 0777, (uintmax_t)d->sem_nsems);
			break;
		}
	}
	free(v);
	return 0;
}

/*
 * ipcs -q -i id: details of one queue, as util-linux's print_msg(), which
 * takes qbytes from IPC_STAT: 0 for a queue the caller may not read.
 */
static int ipcs_msg_id(const struct ipcs_opts *o, const struct obj *q)
{
	const struct msqid_ds *d = &q->ds.msg;
	struct msqid_ds st;
	int human = o->unit == UNIT_HUMAN;

	if (uipc_msgctl(q->id, IPC_STAT, &st) < 0)
		st.msg_qbytes = 0;
	printf("\nMessage Queue msqid=%d\n", q->id);
	printf("uid=%u\tgid=%u\tcuid=%u\tcgid=%u\tmode=%#o\n", d->msg_perm.uid,
	       d->msg_perm.gid, d->msg_perm.cuid, d->msg_perm.cgid, d->msg_perm.mode);
	print_size(o->unit, human ? "csize=" : "cbytes=", d->__msg_cbytes, "\t", 0);
	print_size(o->unit, human ? "qsize=" : "qbytes=", st.msg_qbytes, "\t", 0);
	printf("qnum=%ju\tlspid=%d\tlrpid=%d\n", (uintmax_t)d->msg_qnum,
	       d->msg_lspid, d->msg_lrpid);
	printf("send_time=%-26.24s\n", ctime24(d->msg_stime));
	printf("rcv_time=%-26.24s\n", ctime24(d->msg_rtime));
	printf("change_time=%-26.24s\n", ctime24(d->msg_ctime));
	printf("\n");
	return 0;
}

/* ipcs -m -i id: details of one segment, as util-linux's print_shm(). */
static int ipcs_shm_id(const struct ipcs_opts *o, const struct obj *m)
{
	const struct shmid_ds *d = &m->ds.shm;
	time_t ct = d->shm_ctime;

	printf("\nShared memory Segment shmid=%d\n", m->id);
	printf("uid=%u\tgid=%u\tcuid=%u\tcgid=%u\n", d->shm_perm.uid, d->shm_perm.gid,
	       d->shm_perm.cuid, d->shm_perm.cgid);
	printf("mode=%#o\taccess_perms=%#o\n", d->shm_perm.mode, d->shm_perm.mode & 0777);
	print_size(o->unit, o->unit == UNIT_HUMAN ? "size=" : "bytes=", d->shm_segsz, "\t", 0);
	printf("lpid=%u\tcpid=%u\tnattch=%ju\n", (unsigned)d->shm_lpid, (unsigned)d->shm_cpid,
	       (uintmax_t)d->shm_nattch);
	printf("att_time=%-26.24s\n", ctime24(d->shm_atime));
	printf("det_time=%-26.24s\n", ctime24(d->shm_dtime));
	printf("change_time=%-26.24s\n", ctime(&ct));	/* even 0: util-linux does */
	printf("\n");
	return 0;
}

/* ipcs -s -i id: details of one set and its semaphores, as print_sem(). */
static int ipcs_sem_id(const struct obj *s)
{
	const struct semid_ds *d = &s->ds.sem;
	struct sem_elem *e = sem_elements(s);
	time_t ct = d->sem_ctime;
	size_t i;

	printf("\nSemaphore Array semid=%d\n", s->id);
	printf("uid=%u\t gid=%u\t cuid=%u\t cgid=%u\n", d->sem_perm.uid,
	       d->sem_perm.gid, d->sem_perm.cuid, d->sem_perm.cgid);
	printf("mode=%#o, access_perms=%#o\n", d->sem_perm.mode, d->sem_perm.mode & 0777);
	printf("nsems = %ju\n", (uintmax_t)d->sem_nsems);
	printf("otime = %-26.24s\n", ctime24(d->sem_otime));
	printf("ctime = %-26.24s\n", ctime(&ct));	/* even 0: util-linux does */
	printf("%-10s %-10s %-10s %-10s %-10s\n", "semnum", "value", "ncount", "zcount", "pid");
	for (i = 0; i < d->sem_nsems; i++)
		printf("%-10zu %-10d %-10d %-10d %-10d\n", i, e[i].val, e[i].ncount,
		       e[i].zcount, e[i].pid);
	printf("\n");
	free(e);
	return 0;
}

/* The members every object has in --json. */
static void json_perm(int id, const struct ipc_perm *p)
{
	char ub[NAME_LEN];

	printf("    {\"key\": \"0x%08x\", \"id\": %d, \"owner\": ", (unsigned)p->__key, id);
	json_str(user_name(p->uid, ub, sizeof(ub)));
	printf(", \"perms\": \"%03o\", \"uid\": %u, \"gid\": %u, \"cuid\": %u, \"cgid\": %u",
	       p->mode & 0777, p->uid, p->gid, p->cuid, p->cgid);
}

static void json_msq(const struct obj *q)
{
	const struct msqid_ds *d = &q->ds.msg;

	json_perm(q->id, &d->msg_perm);
	printf(", \"used-bytes\": %ju, \"messages\": %ju, \"qbytes\": %ju",
	       (uintmax_t)d->__msg_cbytes, (uintmax_t)d->msg_qnum, (uintmax_t)d->msg_qbytes);
	printf(", \"lspid\": %d, \"lrpid\": %d", d->msg_lspid, d->msg_lrpid);
	json_time("send-time", d->msg_stime);
	json_time("recv-time", d->msg_rtime);
	json_time("change-time", d->msg_ctime);
	printf("}");
}

/* A set, and its semaphores e unless NULL. */
static void json_sem(const struct obj *s, const struct sem_elem *e)
{
	const struct semid_ds *d = &s->ds.sem;
	size_t i;

	json_perm(s->id, &d->sem_perm);
	printf(", \"nsems\": %ju", (uintmax_t)d->sem_nsems);
	json_time("op-time", d->sem_otime);
	json_time("change-time", d->sem_ctime);
	if (e) {
		printf(", \"elements\": [");
		for (i = 0; i < d->sem_nsems; i++)
			printf("%s{\"semnum\": %zu, \"value\": %d, \"ncount\": %d, \"zcount\": %d, "
			       "\"pid\": %d}", i ? ", " : "", i, e[i].val, e[i].ncount,
			       e[i].zcount, e[i].pid);
		printf("]");
	}
	printf("}");
}

static void json_shm(const struct obj *m)
{
	const struct shmid_ds *d = &m->ds.shm;

	json_perm(m->id, &d->shm_perm);
	printf(", \"bytes\": %ju, \"nattch\": %ju, \"dest\": %s, \"locked\": %s",
	       (uintmax_t)d->shm_segsz, (uintmax_t)d->shm_nattch,
	       d->shm_perm.mode & SHM_DEST ? "true" : "false",
	       d->shm_perm.mode & SHM_LOCKED ? "true" : "false");
	printf(", \"cpid\": %d, \"lpid\": %d", d->shm_cpid, d->shm_lpid);
	json_time("attach-time", d->shm_atime);
	json_time("detach-time", d->shm_dtime);
	json_time("change-time", d->shm_ctime);
	printf("}");
}

/*
 * The --json member of one kind after sep: "messages", "shared-memory" or
 * "semaphores", or their -l or -u forms.  Under -s -i the set's semaphores
 * are fetched before anything is printed, as in text, since the caller may
 * not read them.
 */
static void json_kind(enum kind k, const struct ipcs_opts *o, const char *sep)
{
	static const char *const names[] = { "shared-memory", "messages", "semaphores" };
	static const char *const info_names[] = { "SHM_INFO", "MSG_INFO", "SEM_INFO" };
	const char *name = names[k];
	struct sem_elem *e = NULL;
	union ipc_info info;
	struct obj *v;
	int i, n, first = 1;

	if (o->format == F_LIMITS) {
		if (get_info(k, IPC_INFO, &info) < 0)
			die("IPC_INFO: %s", strerror(errno));
		if (k == K_MSG)
			printf("%s\n  \"message-limits\": {\"msgmni\": %d, \"msgmax\": %d, \"msgmnb\": %d}",
			       sep, info.msg.msgmni, info.msg.msgmax, info.msg.msgmnb);
		else if (k == K_SHM)
			printf("%s\n  \"shared-memory-limits\": {\"shmmni\": %ju, \"shmmax\": %ju, "
			       "\"shmall\": %ju, \"shmmin\": %ju}", sep, (uintmax_t)info.shm.shmmni,
			       (uintmax_t)info.shm.shmmax, (uintmax_t)info.shm.shmall,
			       (uintmax_t)info.shm.shmmin);
		else
			printf("%s\n  \"semaphores-limits\": {\"semmni\": %d, \"semmsl\": %d, "
			       "\"semmns\": %d, \"semopm\": %d, \"semvmx\": %d}", sep, info.sem.semmni,
			       info.sem.semmsl, info.sem.semmns, info.sem.semopm, info.sem.semvmx);
		return;
	}
	if (o->format == F_STATUS) {
		if (get_info(k, info_cmds[k], &info) < 0)
			die("%s: %s", info_names[k], strerror(errno));
		if (k == K_MSG)
			printf("%s\n  \"message-status\": {\"queues\": %d, \"headers\": %d, \"bytes\": %d}",
			       sep, info.msg.msgpool, info.msg.msgmap, info.msg.msgtql);
		else if (k == K_SHM)
			printf("%s\n  \"shared-memory-status\": {\"segments\": %d, \"pages\": %ju, "
			       "\"resident\": %ju, \"swapped\": %ju}", sep, info.shm_status.used_ids,
			       (uintmax_t)info.shm_status.shm_tot, (uintmax_t)info.shm_status.shm_rss,
			       (uintmax_t)info.shm_status.shm_swp);
		else
			printf("%s\n  \"semaphores-status\": {\"arrays\": %d, \"semaphores\": %d}",
			       sep, info.sem.semusz, info.sem.semaem);
		return;
	}
	n = collect(k, 0, &v);
	for (i = 0; k == K_SEM && o->specific && i < n; i++)
		if (v[i].id == o->id)
			e = sem_elements(&v[i]);
	printf("%s\n  \"%s\": [", sep, name);
	for (i = 0; i < n; i++) {
		if (o->specific && v[i].id != o->id)
			continue;
		printf("%s\n", first ? "" : ",");
		if (k == K_MSG)
			json_msq(&v[i]);
		else if (k == K_SHM)
			json_shm(&v[i]);
		else
			json_sem(&v[i], e);
		first = 0;
	}
	printf("%s]", first ? "" : "\n  ");
	free(e);
	free(v);
}

/* ipcs --json: the schema is in the usage text. */
static int ipcs_json(const struct ipcs_opts *o)
{
	const char *sep = "{";	/* at least one kind is selected */

	if (o->msg) {
		json_kind(K_MSG, o, sep);
		sep = ",";
	}
	if (o->shm) {
		json_kind(K_SHM, o, sep);
		sep = ",";
	}
	if (o->sem)
		json_kind(K_SEM, o, sep);
	printf("\n}\n");
	return 0;
}

/* ipcs -q|-m|-s -i id: util-linux warns and exits 0 when there is no such id. */
static int ipcs_one(const struct ipcs_opts *o)
{
	enum kind k = o->msg ? K_MSG : o->sem ? K_SEM : K_SHM;
	struct obj *v = NULL;
	int i, n = collect(k, 0, &v), rc = 0;

	for (i = 0; i < n && v[i].id != o->id; i++)
		;
	if (i == n)
		complain("id %d not found", o->id);
	else if (k == K_MSG)
		rc = ipcs_msg_id(o, &v[i]);
	else if (k == K_SHM)
		rc = ipcs_shm_id(o, &v[i]);
	else
		rc = ipcs_sem_id(&v[i]);
	free(v);
	return rc;
}

static int cmd_ipcs(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "queues", no_argument, NULL, 'q' },
		{ "shmems", no_argument, NULL, 'm' },
		{ "semaphores", no_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ "time", no_argument, NULL, 't' },
		{ "pid", no_argument, NULL, 'p' },
		{ "creator", no_argument, NULL, 'c' },
		{ "limits", no_argument, NULL, 'l' },
		{ "summary", no_argument, NULL, 'u' },
		{ "human", no_argument, NULL, 'H' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ipcs_opts o = { 0 };
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "i:qmsatpclubh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o.id = parse_int(optarg, "failed to parse id argument");
			  o.specific = 1; break;
		case 'q': o.msg = 1; break;
		case 'm': o.shm = 1; break;
		case 's': o.sem = 1; break;
		case 'a': o.msg = o.shm = o.sem = 1; break;
		case 't': o.format = F_TIME; break;
		case 'p': o.format = F_PID; break;
		case 'c': o.format = F_CREATOR; break;
		case 'l': o.format = F_LIMITS; break;
		case 'u': o.format = F_STATUS; break;
		case 'H': o.unit = UNIT_HUMAN; break;
		case 'b': o.unit = UNIT_BYTES; break;
		case 'J': o.json = 1; break;
		case 'h': return -1;
		default: try_help();	/* getopt said why */
		}
	}
	if (optind < argc)
		usage_error("unknown argument: %s", argv[optind]);
	if (o.specific && o.msg + o.shm + o.sem != 1)
		die("when using an ID, a single resource must be specified");
	if (!o.msg && !o.shm && !o.sem)
		o.msg = o.shm = o.sem = 1;
	if (o.json)
		return ipcs_json(&o);
	if (o.specific)
		return ipcs_one(&o);
	printf("\n");
	if (o.msg) {
		rc |= ipcs_msg(&o);
		printf("\n");
	}
	if (o.shm) {
		rc |= ipcs_shm(&o);
		printf("\n");
	}
	if (o.sem) {
		rc |= ipcs_sem(&o);
		printf("\n");
	}
	return rc;
}

/* ---- ipcmk ---- */

/*
 * A new queue, set (of size semaphores) or segment (of size bytes) with a
 * fresh random key, or -1 with errno.  util-linux may hit an existing key;
 * IPC_EXCL makes sure we do not.
 */
static int create(enum kind k, uintmax_t size, int mode)
{
	int id, tries;

	for (tries = 0;; tries++) {
		key_t key;

		if (getrandom(&key, sizeof(key), 0) != sizeof(key))
			die("getrandom: %s", strerror(errno));
		if (key == IPC_PRIVATE)
			continue;
		if (k == K_MSG)
			id = uipc_msgget(key, mode | IPC_CREAT | IPC_EXCL);
		else if (k == K_SHM)
			id = uipc_shmget(key, (size_t)size, mode | IPC_CREAT | IPC_EXCL);
		else
			id = uipc_semget(key, (int)size, mode | IPC_CREAT | IPC_EXCL);
		if (id >= 0 || errno != EEXIST || tries == 100)
			return id;
	}
}

/* x *= base^power, or -ERANGE. */
static int scale(uintmax_t *x, unsigned base, int power)
{
	while (power--) {
		if (UINTMAX_MAX / base < *x)
			return -ERANGE;
		*x *= base;
	}
	return 0;
}

/*
 * util-linux's parse_size() (strtosize()), quirks included: a number (base
 * 0: "0x1000" and "010" too) with an optional fraction and one suffix,
 * K M G T P E Z Y (or k m g ...) for powers of 1024, KiB for the same, KB
 * for powers of 1000.  The fraction is added digit by digit, each as
 * unit / (divisor / digit) rounded down, and util-linux's divisor is one
 * power of ten short when the digits after the leading zeros are exactly a
 * power of ten ("1.10K" is 2048 bytes): the same here.  0 or -errno.
 */
static int parse_size(const char *str, uintmax_t *res)
{
	static const char suf[] = "KMGTPEZY", suf2[] = "kmgtpezy";
	uintmax_t x, frac = 0;
	unsigned base = 1024;
	int rc, pwr, frac_zeros = 0;
	const char *p = str, *q, *sp;
	char *end;

	*res = 0;
	while (isspace((unsigned char)*p))
		p++;
	if (!*str || *p == '-')
		return -EINVAL;
	errno = 0;
	x = strtoumax(str, &end, 0);
	q = p + (*p == '+');
	if (q[0] == '0' && (q[1] == 'b' || q[1] == 'B'))	/* C23's binary: not util-linux's */
		x = 0, end = (char *)q + 1, errno = 0;
	if (end == str || (errno && (x == UINTMAX_MAX || x == 0)))
		return errno ? -errno : -EINVAL;
	if (!*end)
		goto done;
	p = end;
	for (;;) {	/* the suffix, after a fraction */
		if (p[1] == 'i' && (p[2] == 'B' || p[2] == 'b') && !p[3]) {
			base = 1024;
		} else if ((p[1] == 'B' || p[1] == 'b') && !p[2]) {
			base = 1000;
		} else if (p[1]) {
			const char *fstr;

			if (frac || *p != '.')
				return -EINVAL;
			for (p++; *p == '0'; p++)
				frac_zeros++;
			fstr = p;
			if (isdigit((unsigned char)*fstr)) {
				errno = 0;
				frac = strtoumax(fstr, &end, 0);
				if (end == fstr || (errno && (frac == UINTMAX_MAX || frac == 0)))
					return errno ? -errno : -EINVAL;
			} else {
				end = (char *)p;
			}
			if (!*end)	/* a fraction without a suffix */
				return -EINVAL;
			p = end;
			continue;
		}
		break;
	}
	if ((sp = strchr(suf, *p)) != NULL)
		pwr = (int)(sp - suf) + 1;
	else if ((sp = strchr(suf2, *p)) != NULL)
		pwr = (int)(sp - suf2) + 1;
	else
		return -EINVAL;
	rc = scale(&x, base, pwr);
	if (frac) {
		uintmax_t frac_div = 10, frac_poz = 1, frac_base = 1;
		int i;

		scale(&frac_base, base, pwr);
		while (frac_div < frac) {
			if (frac_div <= UINTMAX_MAX / 10)
				frac_div *= 10;
			else
				frac /= 10;
		}
		for (i = 0; i < frac_zeros; i++) {
			if (frac_div <= UINTMAX_MAX / 10)
				frac_div *= 10;
			else
				frac /= 10;
		}
		do {
			unsigned seg = (unsigned)(frac % 10);
			uintmax_t seg_div = frac_div / frac_poz;

			frac /= 10;
			frac_poz *= 10;
			if (seg && seg_div / seg)
				x += frac_base / (seg_div / seg);
		} while (frac);
	}
	if (rc < 0)
		return rc;
done:
	*res = x;
	return 0;
}

static int cmd_ipcmk(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "shmem", required_argument, NULL, 'M' },
		{ "semaphore", required_argument, NULL, 'S' },
		{ "queue", no_argument, NULL, 'Q' },
		{ "mode", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, mode = 0644, msg = 0, shm = 0, sem = 0, nsems = 0, id;
	uintmax_t size = 0;
	unsigned long m;
	char *end;

	while ((c = getopt_long(argc, argv, "M:S:Qp:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'M':
			if ((errno = -parse_size(optarg, &size)) != 0)
				die("failed to parse size: '%s': %s", optarg, strerror(errno));
			shm = 1;
			break;
		case 'S':
			nsems = parse_int(optarg, "failed to parse elements");
			sem = 1;
			break;
		case 'Q': msg = 1; break;
		case 'p':
			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (errno || end == optarg || *end || m > UINT32_MAX)
				die("failed to parse mode: '%s'", optarg);
			mode = (int)(m & 0777);
			break;
		case 'h': return -1;
		default: try_help();	/* getopt said why */
		}
	}
	if (optind < argc)
		usage_error("unknown argument: %s", argv[optind]);
	if (!msg && !shm && !sem)
		usage_error("bad usage");
	/* util-linux's order: shared memory, queue, semaphores. */
	if (shm) {
		if ((id = create(K_SHM, size, mode)) < 0)
			die("create share memory failed: %s", strerror(errno));
		printf("Shared memory id: %d\n", id);
	}
	if (msg) {
		if ((id = create(K_MSG, 0, mode)) < 0)
			die("create message queue failed: %s", strerror(errno));
		printf("Message queue id: %d\n", id);
	}
	if (sem) {
		if ((id = create(K_SEM, (uintmax_t)nsems, mode)) < 0)
			die("create semaphore failed: %s", strerror(errno));
		printf("Semaphore id: %d\n", id);
	}
	return 0;
}

/* ---- ipcrm ---- */

/* Remove one object; a message and 1 on failure, as util-linux's remove_id(). */
static int rm_id(enum kind k, int iskey, int id, int verbose)
{
	static const char *const what[] = { "shared memory segment", "message queue", "semaphore" };
	const char *msg;
	int r = -1;

	if (verbose)
		printf("removing %s id `%d'\n", what[k], id);
	if (k == K_MSG)
		r = uipc_msgctl(id, IPC_RMID, NULL);
	else if (k == K_SEM)
		r = uipc_semctl(id, 0, IPC_RMID, (union semun){ .val = 0 });
	else
		r = uipc_shmctl(id, IPC_RMID, NULL);
	if (r == 0)
		return 0;
	switch (errno) {
	case EACCES:
	case EPERM: msg = iskey ? "permission denied for key" : "permission denied for id"; break;
	case EINVAL: msg = iskey ? "invalid key" : "invalid id"; break;
	case EIDRM: msg = iskey ? "already removed key" : "already removed id"; break;
	default: die("%s: %s", iskey ? "key failed" : "id failed", strerror(errno));
	}
	complain("%s (%d)", msg, id);
	return 1;
}

/* The id for a key argument (hex or decimal), or -1 after a message. */
static int key_to_id(enum kind k, const char *s)
{
	unsigned long v;
	const char *msg;
	char *end;
	key_t key;
	int id = -1;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno)
		die("failed to parse argument: '%s': %s", s, strerror(errno));
	if (!*s || end == s || *end)
		die("failed to parse argument: '%s'", s);
	key = (key_t)v;
	if (key == IPC_PRIVATE) {
		complain("illegal key (%s)", s);
		return -1;
	}
	if (k == K_MSG)
		id = uipc_msgget(key, 0);
	else if (k == K_SEM)
		id = uipc_semget(key, 0, 0);
	else
		id = uipc_shmget(key, 0, 0);
	if (id >= 0)
		return id;
	switch (errno) {
	case EACCES: msg = "permission denied for key"; break;
	case EIDRM: msg = "already removed key"; break;
	case ENOENT: msg = "invalid key"; break;
	default: die("key failed: %s", strerror(errno));
	}
	complain("%s (%s)", msg, s);
	return -1;
}

/*
 * ipcrm -a: as util-linux, segments, semaphore sets, then queues, each
 * walked with SHM_STAT, SEM_STAT or MSG_STAT, so that what the caller may
 * not even read is left alone without a message.  A segment removed but
 * still attached is listed, and removed again (its key is already gone).
 */
static int rm_all(enum kind all, int verbose)
{
	static const enum kind order[] = { K_SHM, K_SEM, K_MSG };
	struct obj *v;
	size_t k;
	int i, n, ret = 0;

	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		if (all != K_ALL && all != order[k])
			continue;
		n = collect(order[k], 1, &v);
		for (i = 0; i < n; i++)
			ret |= rm_id(order[k], 0, v[i].id, verbose);
		free(v);
	}
	return ret;
}

static int cmd_ipcrm(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "shmem-id", required_argument, NULL, 'm' },
		{ "shmem-key", required_argument, NULL, 'M' },
		{ "queue-id", required_argument, NULL, 'q' },
		{ "queue-key", required_argument, NULL, 'Q' },
		{ "semaphore-id", required_argument, NULL, 's' },
		{ "semaphore-key", required_argument, NULL, 'S' },
		{ "all", optional_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	enum kind k, all = K_ALL;
	int c, i, id, ret = 0, rm_every = 0, verbose = 0;

	if (argc == 1)	/* util-linux does nothing, successfully */
		return 0;
	/* The old syntax: ipcrm shm|msg|sem id... */
	for (k = K_SHM; k < K_ALL; k++) {
		if (strcmp(argv[1], kind_names[k]))
			continue;
		if (argc < 3)
			usage_error("not enough arguments");
		for (i = 2; i < argc; i++) {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(argv[i], &end, 10);
			if (errno || end == argv[i] || *end) {
				complain("invalid id: %s", argv[i]);
				ret = 1;
			} else {
				ret |= rm_id(k, 0, (int)v, 0);
			}
		}
		if (ret)
			return 1;
		printf("resource(s) deleted\n");
		return 0;
	}
	while ((c = getopt_long(argc, argv, "q:m:s:Q:M:S:a::vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': case 'q': case 's':
			k = c == 'm' ? K_SHM : c == 'q' ? K_MSG : K_SEM;
			id = parse_int(optarg, "failed to parse argument");
			ret += rm_id(k, 0, id, verbose);
			break;
		case 'M': case 'Q': case 'S':
			k = c == 'M' ? K_SHM : c == 'Q' ? K_MSG : K_SEM;
			id = key_to_id(k, optarg);
			ret += id < 0 ? 1 : rm_id(k, 1, id, verbose);
			break;
		case 'a':
			rm_every = 1;
			all = K_ALL;
			for (k = K_SHM; optarg && k < K_ALL && strcmp(optarg, kind_names[k]); k++)
				;
			if (optarg && k == K_ALL)
				die("unknown argument: %s", optarg);
			if (optarg)
				all = k;
			break;
		case 'v': verbose = 1; break;
		case 'h': return -1;
		default: try_help();	/* getopt said why */
		}
	}
	if (rm_every && rm_all(all, verbose))
		ret++;
	if (optind < argc)
		usage_error("unknown argument: %s", argv[optind]);
	return ret ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- limits ---- */

/* ulong: the kernel's is an unsigned long, which uipc_limit_get() returns as its bits. */
static const struct {
	const char *name, *desc;
	int ulong;
} limits[] = {
	{ "msgmax", "max size of message (bytes)", 0 },
	{ "msgmnb", "default max size of queue (bytes)", 0 },
	{ "msgmni", "max queues system wide", 0 },
	{ "semmsl", "max semaphores per array", 0 },
	{ "semmns", "max semaphores system wide", 0 },
	{ "semopm", "max ops per semop call", 0 },
	{ "semmni", "max number of arrays", 0 },
	{ "semvmx", "semaphore max value", 0 },
	{ "shmmax", "max seg size (bytes)", 1 },
	{ "shmall", "max total shared memory (pages)", 1 },
	{ "shmmni", "max number of segments", 0 },
	{ "shmmin", "min seg size (bytes)", 0 },
};

static int limits_set(int argc, char **argv)
{
	int i;
	size_t l;

	if (argc < 1)
		usage_error("NAME=VALUE expected");
	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '='), *end;
		long long v;

		if (!eq || eq == argv[i] || !eq[1])
			usage_error("NAME=VALUE expected, not '%s'", argv[i]);
		*eq = '\0';
		for (l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
			if (!strcmp(argv[i], limits[l].name))
				break;
		if (l == sizeof(limits) / sizeof(limits[0]))
			usage_error("unknown limit '%s'", argv[i]);
		if (!strcmp(eq + 1, "default") || !strcmp(eq + 1, "kernel")) {
			v = -1;
		} else {
			errno = 0;
			v = strtoll(eq + 1, &end, 10);
			if (errno || end == eq + 1 || *end || v < 0)
				usage_error("invalid value for %s: '%s'", argv[i], eq + 1);
		}
		if (uipc_limit_set(argv[i], v) < 0)
			die("cannot set %s=%s in %s: %s", argv[i], eq + 1, uipc_root(),
			    strerror(errno));
	}
	return 0;
}

static int cmd_limits(int argc, char **argv)
{
	size_t l;

	if (argc > 1 && !strcmp(argv[1], "--help"))
		return -1;
	if (argc > 1 && !strcmp(argv[1], "set"))
		return limits_set(argc - 2, argv + 2);
	if (argc > 1)
		usage_error("unknown argument: %s", argv[1]);
	printf("root: %s\n", uipc_root());
	printf("%-8s %12s  %-6s  %s\n", "NAME", "VALUE", "SOURCE", "DESCRIPTION");
	for (l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		long long v;
		int set;

		if (uipc_limit_get(limits[l].name, &v, &set) < 0)
			die("cannot read %s: %s", limits[l].name, strerror(errno));
		if (limits[l].ulong)
			printf("%-8s %12llu  %-6s  %s\n", limits[l].name, (unsigned long long)v,
			       set ? "set" : "kernel", limits[l].desc);
		else
			printf("%-8s %12lld  %-6s  %s\n", limits[l].name, v,
			       set ? "set" : "kernel", limits[l].desc);
	}
	return 0;
}

/* ---- check ---- */

/* In libuipc.a, not exported by libuipc.so (src/check.c). */
int uipc__check(bool repair, void *out);

static int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool repair = false;
	int c, found;

	while ((c = getopt_long(argc, argv, "rh", longopts, NULL)) != -1) {
		if (c == 'r')
			repair = true;
		else if (c == 'h')
			return -1;
		else
			try_help();	/* getopt said why */
	}
	if (optind < argc)
		usage_error("unknown argument: %s", argv[optind]);
	found = uipc__check(repair, stdout);
	printf("uipc check: %s: %d problem%s found%s\n", uipc_root(), found, found == 1 ? "" : "s",
	       found && repair ? ", repaired as said" : "");
	return found && !repair ? 1 : 0;
}

/* ---- run ---- */

/* libuipc-preload.so next to this binary, or in ../lib; 0 or -1. */
static int find_preload(char *out, size_t len)
{
	static const char *const rel[] = { "/libuipc-preload.so", "/../lib/libuipc-preload.so" };
	char exe[PATH_MAX], path[PATH_MAX + 32], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", exe, rel[i]);
		if (access(path, R_OK) == 0 && realpath(path, out) && strlen(out) < len)
			return 0;
	}
	return -1;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char lib[PATH_MAX], cwd[PATH_MAX], *env, *root = NULL, *old;
	int c;

	while ((c = getopt_long(argc, argv, "+r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'h': return -1;
		default: try_help();	/* getopt said why */
		}
	}
	if (optind >= argc)
		usage_error("no program given");
	if (find_preload(lib, sizeof(lib)) < 0)
		die("cannot find libuipc-preload.so next to this program or in ../lib");
	old = getenv("LD_PRELOAD");
	if (old && *old) {
		if (asprintf(&env, "%s:%s", lib, old) < 0)
			die("out of memory");
		setenv("LD_PRELOAD", env, 1);
		free(env);
	} else {
		setenv("LD_PRELOAD", lib, 1);
	}
	if (root) {	/* absolute, so that a chdir() in the program keeps it */
		if (root[0] != '/' && getcwd(cwd, sizeof(cwd))) {
			if (asprintf(&env, "%s/%s", cwd, root) < 0)
				die("out of memory");
			root = env;
		}
		setenv("UIPC_ROOT", root, 1);
	}
	execvp(argv[optind], argv + optind);
	complain("cannot run '%s': %s", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

/* ---- dispatch ---- */

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "ipcs", cmd_ipcs,
	  " uipc ipcs [-q|-m|-s|-a]... [-t|-p|-c|-l|-u] [-b|--human] [--json]\n"
	  " uipc ipcs -q|-m|-s -i <id> [-b|--human] [--json]\n"
	  "   Show the IPC objects of the root, as ipcs(1): -q message queues, -m shared\n"
	  "   memory segments, -s semaphore sets, -a all three (the default);\n"
	  "   -i, --id <id> one object (a set with its semaphores); -t, --time times;\n"
	  "   -p, --pid PIDs; -c, --creator creator and owner; -l, --limits limits;\n"
	  "   -u, --summary status; -b, --bytes sizes in bytes; --human sizes as 1.5K.\n"
	  "   --json prints one object, with a member per kind selected:\n"
	  "     \"messages\": [{\"key\": \"0x1234abcd\", \"id\", \"owner\" (a name), \"perms\": \"644\",\n"
	  "       \"uid\", \"gid\", \"cuid\", \"cgid\", \"used-bytes\", \"messages\", \"qbytes\",\n"
	  "       \"lspid\", \"lrpid\", \"send-time\", \"recv-time\", \"change-time\"}, ...]\n"
	  "     \"shared-memory\": [{\"key\", \"id\", \"owner\", \"perms\", \"uid\", \"gid\", \"cuid\",\n"
	  "       \"cgid\", \"bytes\", \"nattch\", \"dest\" and \"locked\" (true or false), \"cpid\",\n"
	  "       \"lpid\", \"attach-time\", \"detach-time\", \"change-time\"}, ...]\n"
	  "     \"semaphores\": [{\"key\", \"id\", \"owner\", \"perms\", \"uid\", \"gid\", \"cuid\",\n"
	  "       \"cgid\", \"nsems\", \"op-time\", \"change-time\"}, ...], with -i also\n"
	  "       \"elements\": [{\"semnum\", \"value\", \"ncount\", \"zcount\", \"pid\"}, ...]\n"
	  "     (numbers; times in seconds since the epoch, null if never)\n"
	  "     with -l: \"message-limits\": {\"msgmni\", \"msgmax\", \"msgmnb\"},\n"
	  "       \"shared-memory-limits\": {\"shmmni\", \"shmmax\" (bytes), \"shmall\" (pages),\n"
	  "       \"shmmin\"}, \"semaphores-limits\": {\"semmni\", \"semmsl\", \"semmns\",\n"
	  "       \"semopm\", \"semvmx\"}\n"
	  "     with -u: \"message-status\": {\"queues\", \"headers\", \"bytes\"},\n"
	  "       \"shared-memory-status\": {\"segments\", \"pages\", \"resident\", \"swapped\"},\n"
	  "       \"semaphores-status\": {\"arrays\", \"semaphores\"}\n"
	  "     -t, -p and -c do not change it.\n" },
	{ "ipcmk", cmd_ipcmk,
	  " uipc ipcmk -M <size>|-Q|-S <nsems>... [-p <mode>]\n"
	  "   Create a shared memory segment of <size> bytes (-M, --shmem <size>; 4K,\n"
	  "   1.5MiB and 10KB are 4096, 1572864 and 10000), a message queue (-Q, --queue)\n"
	  "   or a set of <nsems> semaphores (-S, --semaphore <nsems>), or several, with\n"
	  "   random keys, as ipcmk(1); -p, --mode <mode> octal permissions (default 0644).\n" },
	{ "ipcrm", cmd_ipcrm,
	  " uipc ipcrm [-q <id>] [-Q <key>] [-m <id>] [-M <key>] [-s <id>] [-S <key>]...\n"
	  "            [-a[=shm|msg|sem]] [-v]\n"
	  " uipc ipcrm shm|msg|sem <id>...\n"
	  "   Remove IPC objects by id or key, or all of them, as ipcrm(1); exits 1 if\n"
	  "   any could not be removed.\n" },
	{ "limits", cmd_limits,
	  " uipc limits\n"
	  " uipc limits set NAME=VALUE...\n"
	  "   Show the limits of the root (msgmax, msgmnb, msgmni, semmsl, semmns,\n"
	  "   semopm, semmni, semvmx, shmmax, shmall, shmmni, shmmin), each with its\n"
	  "   value and its source: \"set\" for the root, or \"kernel\" (follows the\n"
	  "   kernel's /proc/sys/kernel/NAME or .../sem; semvmx is 32767 and shmmin 1\n"
	  "   in Linux). \"set\" sets them; VALUE \"default\" or \"kernel\" unsets one.\n" },
	{ "check", cmd_check,
	  " uipc check [--repair]\n"
	  "   Verify every object of the root: its files, its state, its lock (a holder\n"
	  "   that died in a call), the invariants of its kind, its names, and the\n"
	  "   namespace's counts; print a line per problem.  Exits 1 if any was found.\n"
	  "   -r, --repair: roll forward or back what a dead process left half done,\n"
	  "   count again what is derived, unlink stale names and make missing ones,\n"
	  "   and remove the objects that cannot be recovered, saying what it did\n"
	  "   (exits 0 then).\n" },
	{ "run", cmd_run,
	  " uipc run [--root DIR] [--] PROGRAM [ARG...]\n"
	  "   Run PROGRAM with libuipc-preload.so in LD_PRELOAD, so that it and its\n"
	  "   children use uipc instead of the kernel; --root sets UIPC_ROOT.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out, const struct command *only)
{
	size_t i;

	fprintf(out, "Usage:\n");
	for (i = 0; i < NCOMMANDS; i++)
		if (!only || only == &commands[i])
			fputs(commands[i].usage, out);
	if (!only)
		fprintf(out, " uipc help [COMMAND]\n\n"
			"System V IPC objects in user space (uipc), in the root directory\n"
			"UIPC_ROOT (default /dev/shm/uipc).\n");
}

int main(int argc, char **argv)
{
	static char name[64];
	const struct command *cmd = NULL;
	const char *arg = argc > 1 ? argv[1] : NULL;
	size_t i;
	int rc;

	if (!arg)
		usage_error("no command given");
	if (!strcmp(arg, "help") || !strcmp(arg, "--help") || !strcmp(arg, "-h")) {
		for (i = 0; argc > 2 && i < NCOMMANDS; i++)
			if (!strcmp(argv[2], commands[i].name))
				cmd = &commands[i];
		if (argc > 2 && !cmd)
			usage_error("unknown command '%s'", argv[2]);
		usage(stdout, cmd);
		return 0;
	}
	for (i = 0; i < NCOMMANDS && !cmd; i++)
		if (!strcmp(arg, commands[i].name))
			cmd = &commands[i];
	if (!cmd)
		usage_error("unknown command '%s'", arg);
	snprintf(name, sizeof(name), "uipc %s", cmd->name);
	prog = name;
	argv[1] = name;	/* getopt's messages start with argv[0] */
	rc = cmd->fn(argc - 1, argv + 1);
	if (rc < 0) {	/* --help */
		usage(stdout, cmd);
		rc = 0;
	}
	if (fflush(stdout) || ferror(stdout))
		die("write error: %s", strerror(errno));
	return rc;
}
