/*
 * ipc_many.c - as many objects as the limits allow can really be made.
 *
 * Creates message queues and semaphore sets with IPC_PRIVATE until the call
 * fails, as one process, and requires that exactly msgmni queues and semmni
 * sets (Linux's defaults, 32000, unless the machine's tunables say
 * otherwise) were made and that the next call fails with ENOSPC; that the
 * last object made works; and removes them all.  Shared memory's shmmni
 * (4096) is covered by tests/shm_diff.c (shmmni_full).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include "uipc.h"
#include "t.h"

static int make_queue(void)
{
	return uipc_msgget(IPC_PRIVATE, 0600);
}

static int make_set(void)
{
	return uipc_semget(IPC_PRIVATE, 1, 0600);
}

static int remove_queue(int id)
{
	return uipc_msgctl(id, IPC_RMID, NULL);
}

static int remove_set(int id)
{
	return uipc_semctl(id, 0, IPC_RMID);
}

/* Make objects until the call fails; check the count, errno and the last. */
static void fill(const char *name, const char *limit, int (*make)(void), int (*rm)(int),
		 int (*use)(int))
{
	long long max;
	int *ids, n = 0, id, e;

	t_case(name);
	if (uipc_limit_get(limit, &max, NULL) || max <= 0 || max > 32768) {
		T_FAIL("limit %s: %lld", limit, max);
		t_done();
		return;
	}
	ids = calloc((size_t)max + 1, sizeof(*ids));
	while (ids && n <= max && (id = make()) >= 0)
		ids[n++] = id;
	e = errno;
	CHECK_EQ(n, max);
	CHECK_EQ(e, ENOSPC);
	if (n > 0)
		CHECK_EQ(use(ids[n - 1]), 0);
	while (n > 0)
		CHECK_EQ(rm(ids[--n]), 0);
	CHECK_EQ(make() >= 0, 1);
	free(ids);
	t_done();
}

static int use_queue(int id)
{
	struct { long type; char text[8]; } m = { 1, "x" }, r;

	if (uipc_msgsnd(id, &m, 2, IPC_NOWAIT) || uipc_msgrcv(id, &r, 8, 0, IPC_NOWAIT) != 2)
		return -1;
	return strcmp(r.text, "x");
}

static int use_set(int id)
{
	struct sembuf v = { 0, 1, 0 };

	return uipc_semop(id, &v, 1) || uipc_semctl(id, 0, GETVAL) != 1;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	fill("ipc_many: msgmni queues", "msgmni", make_queue, remove_queue, use_queue);
	fill("ipc_many: semmni sets", "semmni", make_set, remove_set, use_set);
	return t_exit();
}
