/*
 * limits.c - the tunables: msgmax, msgmnb, msgmni, the four of
 * /proc/sys/kernel/sem (semmsl, semmns, semopm, semmni) and semvmx.
 *
 * A limit set for the root with `uipc limits set` lives in the namespace file
 * and binds every process using that root.  A limit that was not set follows
 * the kernel's tunable in /proc/sys/kernel (programs change those, and an IPC
 * namespace has its own), or Linux's default where it cannot be read.
 *
 * Reading /proc costs system calls, and msgsnd needs msgmax on every call, so
 * a value read from /proc is trusted for 100 ms (measured on the vDSO's coarse
 * clock, no system call), and get and ctl calls read it again.  Each thread
 * also answers 63 calls in 64 from its own copy (even of a value set for the
 * root), which the fast paths of msgsnd and semop need.  A check that
 * would fail on a cached value reads it again first (uipc__limit_fresh), so a
 * raised tunable takes effect at once; a lowered one at the next get or ctl
 * call or within 100 ms.  shmget is the exception: it checks shmmax, shmall
 * and shmmni on cached values too (a program that creates and removes
 * segments in a loop would spend most of its time reading /proc), so a
 * lowered shm tunable binds it within 100 ms, or at once after the
 * process's IPC_INFO or SHM_INFO, which read them.  The sem tunables are
 * taken as the kernel takes
 * them, negative values included (semopm -1 lets any array through, semmns
 * -1 refuses every new set); semvmx is a constant in Linux (32767) and
 * can only be lowered, per root.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

struct limit_def {
	const char *name;
	long long def;		/* Linux's default */
	long long max;		/* the largest value uipc accepts */
	const char *proc;	/* the file under /proc/sys/kernel, or NULL */
	int field;		/* which of its numbers */
};

static const struct limit_def defs[LIM_COUNT] = {
	[LIM_MSGMAX] = { "msgmax", 8192, INT_MAX, "msgmax", 0 },
	[LIM_MSGMNB] = { "msgmnb", 16384, INT_MAX, "msgmnb", 0 },
	[LIM_MSGMNI] = { "msgmni", 32000, IPC_SLOTS, "msgmni", 0 },
	[LIM_SEMMSL] = { "semmsl", 32000, 1 << 24, "sem", 0 },
	[LIM_SEMMNS] = { "semmns", 1024000000, INT_MAX, "sem", 1 },
	[LIM_SEMOPM] = { "semopm", 500, INT_MAX, "sem", 2 },
	[LIM_SEMMNI] = { "semmni", 32000, IPC_SLOTS, "sem", 3 },
	[LIM_SEMVMX] = { "semvmx", 32767, 32767, NULL, 0 },
	/* The kernel's are unsigned longs: kept as their bit patterns. */
	[LIM_SHMMAX] = { "shmmax", (long long)(~0ull - (1ull << 24)), LLONG_MAX, "shmmax", 0 },
	[LIM_SHMALL] = { "shmall", (long long)(~0ull - (1ull << 24)), LLONG_MAX, "shmall", 0 },
	[LIM_SHMMNI] = { "shmmni", 4096, IPC_SLOTS, "shmmni", 0 },
	[LIM_SHMMIN] = { "shmmin", 1, 1, NULL, 0 },
};

#define CACHE_NS 100000000ll

static struct {
	_Atomic long long value;
	_Atomic long long read_at;	/* coarse monotonic ns; 0: never */
} cache[LIM_COUNT];

static long long coarse_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec + 1;
}

static long long read_proc(enum uipc_limit l)
{
	char path[64], buf[128], *p = buf;
	long long v = defs[l].def;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", defs[l].proc ? defs[l].proc : "");
	fd = defs[l].proc ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			for (i = 0; i < defs[l].field && p; i++)
				p = strpbrk(p + strspn(p, " \t"), " \t");
			if (p && (l == LIM_SHMMAX || l == LIM_SHMALL))
				v = (long long)strtoull(p, NULL, 10);
			else if (p)
				v = strtoll(p, NULL, 10);
			/* The msg tunables cannot be negative; sem's are taken as they are. */
			if (v < 0 && (l <= LIM_MSGMNI || l == LIM_SHMMNI))
				v = defs[l].def;
		}
		close(fd);
	}
	atomic_store(&cache[l].value, v);
	atomic_store(&cache[l].read_at, coarse_now());
	return v;
}

static bool set_for_root(enum uipc_limit l, long long *v)
{
	struct ns_file *ns = uipc__ns();

	if (!ns || !atomic_load_explicit(&ns->limits[l].set, memory_order_acquire))
		return false;
	*v = atomic_load_explicit(&ns->limits[l].value, memory_order_relaxed);
	if (*v < 0 || *v > defs[l].max || ((l == LIM_SEMVMX || l == LIM_SHMMIN) && *v < 1))	/* damaged */
		*v = defs[l].def;
	return true;
}

/* Each thread answers 63 calls in 64 from its own copy (uipc__limit). */
__thread struct limit_copy uipc__mine[LIM_COUNT];

long long uipc__limit_slow(enum uipc_limit l)
{
	long long v, at;

	if (!set_for_root(l, &v)) {
		at = atomic_load_explicit(&cache[l].read_at, memory_order_acquire);
		if (at && coarse_now() - at < CACHE_NS)
			v = atomic_load_explicit(&cache[l].value, memory_order_relaxed);
		else
			v = read_proc(l);
	}
	uipc__mine[l].value = v;
	uipc__mine[l].left = 63;
	return v;
}

/* Get and ctl calls (slow paths) see the tunables as they are now. */
void uipc__limits_expire(void)
{
	int i;

	for (i = 0; i < LIM_COUNT; i++) {
		atomic_store_explicit(&cache[i].read_at, 0, memory_order_relaxed);
		uipc__mine[i].left = 0;
	}
}

long long uipc__limit_fresh(enum uipc_limit l)
{
	long long v;

	if (!set_for_root(l, &v))
		v = read_proc(l);
	uipc__mine[l].value = v;
	uipc__mine[l].left = 63;
	return v;
}

static int lookup(const char *name)
{
	int i;

	for (i = 0; name && i < LIM_COUNT; i++)
		if (!strcmp(name, defs[i].name))
			return i;
	return -EINVAL;
}

__attribute__((visibility("default")))
int uipc_limit_get(const char *name, long long *value, int *is_set)
{
	int l = lookup(name);
	long long v;

	if (l < 0 || !value)
		return (int)ret(-EINVAL);
	if (is_set)
		*is_set = set_for_root((enum uipc_limit)l, &v);
	*value = uipc__limit_fresh((enum uipc_limit)l);
	return 0;
}

__attribute__((visibility("default")))
int uipc_limit_set(const char *name, long long value)
{
	int l = lookup(name);
	const struct creds *c;
	struct ns_file *ns;
	struct stat st;

	if (l < 0 || value > defs[l].max || ((l == LIM_SEMVMX || l == LIM_SHMMIN) && value == 0))
		return (int)ret(-EINVAL);
	/* As the kernel's tunables need privilege: the root's owner, or root. */
	c = uipc__creds_refresh();
	if ((stat(uipc_root(), &st) < 0 || st.st_uid != c->euid) &&
	    !uipc__capable(c, UIPC_CAP_SYS_RESOURCE))
		return (int)ret(-EPERM);
	ns = uipc__ns();
	if (!ns)
		return (int)ret(-EACCES);
	if (value < 0) {
		atomic_store(&ns->limits[l].set, 0);
		return 0;
	}
	atomic_store(&ns->limits[l].value, value);
	atomic_store_explicit(&ns->limits[l].set, 1, memory_order_release);
	return 0;
}
