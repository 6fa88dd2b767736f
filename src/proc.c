/*
 * proc.c - telling a process from the one that had its pid before.
 *
 * A process is named by its pid and its start time (field 22 of
 * /proc/PID/stat, in clock ticks since boot): pids are reused, a pid and a
 * start time never are.  Used to decide whether the process behind a robust
 * mutex that the kernel marked (its holding thread ended) is gone, or still
 * there (another thread of it, or the same process after exec): sem.c's
 * SEM_UNDO records.
 *
 * Also: how many mappings of a file a process has (/proc/PID/maps).
 *
 * Locking: none.  The start time of the calling process is cached; the
 * cache is keyed by pid, so a forked child reads its own.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

/*
 * A process's start time (field 22 of /proc/PID/stat): 0 if there is no
 * such process, or if it is a zombie or exiting (flag PF_EXITING in field 9:
 * the kernel releases the robust mutexes of a dying thread before the
 * process becomes a zombie) with no other thread left (a thread group
 * leader that ended while other threads run is a zombie too: field 20, the
 * thread count, tells); (uint64_t)-1 if /proc cannot tell.
 */
#define PF_EXITING 0x4

static uint64_t proc_start(pid_t pid)
{
	char path[64], buf[1024], *p, state;
	uint64_t start = 0, threads = 0, flags = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : (uint64_t)-1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');	/* the name may hold anything */
	if (!p || p[1] != ' ')
		return 0;
	state = p[2];
	for (field = 3, p += 2; field < 22 && p; field++) {
		if ((p = strchr(p, ' ')))
			p++;
		if (p && field + 1 == 9)
			flags = strtoull(p, NULL, 10);
		if (p && field + 1 == 20)
			threads = strtoull(p, NULL, 10);
	}
	if (p)
		start = strtoull(p, NULL, 10);
	if ((state == 'Z' || state == 'X' || (flags & PF_EXITING)) && threads <= 1)
		return 0;
	return start;
}

/* The calling process's start time. */
uint64_t uipc__self_start(void)
{
	static _Atomic uint64_t start;
	static _Atomic pid_t of;
	pid_t me = uipc__pid();
	uint64_t s;

	if (atomic_load_explicit(&of, memory_order_acquire) == me)
		return atomic_load_explicit(&start, memory_order_relaxed);
	s = proc_start(me);
	atomic_store_explicit(&start, s, memory_order_relaxed);
	atomic_store_explicit(&of, me, memory_order_release);
	return s;
}

/* Does the process (pid, start) still exist? */
bool uipc__process_alive(uint64_t pid, uint64_t start)
{
	uint64_t now;

	if (pid == 0 || pid > INT_MAX)
		return false;
	now = proc_start((pid_t)pid);
	if (now == (uint64_t)-1)	/* /proc closed to us: the pid alone */
		return kill((pid_t)pid, 0) == 0 || errno == EPERM;
	return now != 0 && now == start;
}

/* Count the mappings of inode 'ino' in one maps file; -1 if unreadable. */
static int count_maps(const char *path, ino_t ino, long long at)
{
	char line[512], *p;
	int n = 0, field;
	FILE *f = fopen(path, "re");

	if (!f)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	while (fgets(line, sizeof(line), f)) {
		/* address perms offset dev inode path */
		p = strchr(line, ' ');
		p = p ? strchr(p + 1, ' ') : NULL;	/* the offset */
		if (!p || (at >= 0 && strtoull(p + 1, NULL, 16) != (unsigned long long)at))
			continue;
		for (field = 2; p && field < 4; field++)
			p = strchr(p + 1, ' ');
		if (p && strtoull(p, NULL, 10) == (unsigned long long)ino)
			n++;
	}
	fclose(f);
	return n;
}

/*
 * How many mappings of the file with inode 'ino' process 'pid' has (only
 * those that start at file offset 'at' if it is not -1), 0 if there is no such
 * process, -1 if its maps cannot be read.  The maps are the process's, read
 * through any of its threads: a thread group leader that ended while other
 * threads run shows none of its own.
 */
int uipc__maps_of(pid_t pid, ino_t ino, long long at)
{
	char path[96];
	struct dirent *d;
	int n, best;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	best = count_maps(path, ino, at);
	if (best != 0)
		return best;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(dir = opendir(path)))
		return 0;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/maps", (int)pid, d->d_name);
		if ((n = count_maps(path, ino, at)) > best)
			best = n;
	}
	closedir(dir);
	return best;
}
