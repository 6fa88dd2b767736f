/*
 * shm_server.c - the classic System V shared-memory server, written for the
 * kernel's API and run unchanged on uipc with `uipc run -- shm_server`.
 *
 * It creates a segment, a semaphore that guards it (a mutex, at 1 when
 * free) and a message queue, all named by ftok(KEYFILE, 'M'), and waits on
 * the queue.  For each "data ready" message it takes the mutex, upper-cases
 * the text the client left in the segment, releases the mutex and answers
 * "done".  On "quit" it removes the three objects and exits.  The semaphore
 * operations use SEM_UNDO, so that a process killed holding the mutex
 * releases it.  See shm_proto.h for the protocol and shm_client.c for the
 * other side.
 *
 * usage: shm_server KEYFILE
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>
#include "shm_proto.h"

union semun {		/* the caller defines it, as semctl(2) says */
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int mutex(int semid, short op)
{
	struct sembuf sb = { .sem_num = 0, .sem_op = op, .sem_flg = SEM_UNDO };

	return semop(semid, &sb, 1);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	union semun arg = { .val = 1 };
	unsigned long pieces = 0, bytes = 0;
	struct shmid_ds ds;
	struct area *area;
	struct note n;
	int shmid, semid, qid;
	key_t key;

	if (argc != 2) {
		fprintf(stderr, "usage: %s KEYFILE\n", argv[0]);
		return 2;
	}
	if ((key = ftok(argv[1], PROJ_ID)) == -1)
		die("shm_server: ftok");
	/* IPC_EXCL: a leftover from an earlier server is an error, not reused. */
	if ((shmid = shmget(key, sizeof(*area), IPC_CREAT | IPC_EXCL | 0600)) == -1)
		die("shm_server: shmget");
	if ((area = shmat(shmid, NULL, 0)) == (void *)-1)
		die("shm_server: shmat");
	if ((semid = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600)) == -1)
		die("shm_server: semget");
	if (semctl(semid, 0, SETVAL, arg) == -1)
		die("shm_server: semctl SETVAL");
	if ((qid = msgget(key, IPC_CREAT | IPC_EXCL | 0600)) == -1)	/* last: "ready" */
		die("shm_server: msgget");
	printf("server: ready: a segment of %zu bytes, a semaphore as its mutex, a queue\n",
	       sizeof(*area));
	fflush(stdout);

	for (;;) {
		if (msgrcv(qid, &n, sizeof(n.mtext), -QUIT, 0) == -1)
			die("shm_server: msgrcv");
		if (n.mtype == QUIT)
			break;
		if (mutex(semid, -1) == -1)
			die("shm_server: semop P");
		for (unsigned i = 0; i < area->len && i < TEXT_MAX; i++)
			area->text[i] = (char)toupper((unsigned char)area->text[i]);
		area->served++;
		bytes += area->len;
		if (mutex(semid, 1) == -1)
			die("shm_server: semop V");
		if (pieces++ == 0) {
			if (shmctl(shmid, IPC_STAT, &ds) == -1)
				die("shm_server: shmctl IPC_STAT");
			printf("server: first piece of text; the segment is attached by %lu "
			       "processes\n", (unsigned long)ds.shm_nattch);
			fflush(stdout);
		}
		n.mtype = DONE;
		if (msgsnd(qid, &n, 0, 0) == -1)
			die("shm_server: msgsnd");
	}

	printf("server: quit after %lu pieces (%lu bytes); removing the segment, the "
	       "semaphore and the queue\n", pieces, bytes);
	if (shmdt(area) == -1)
		die("shm_server: shmdt");
	if (shmctl(shmid, IPC_RMID, NULL) == -1)
		die("shm_server: shmctl IPC_RMID");
	if (semctl(semid, 0, IPC_RMID) == -1)
		die("shm_server: semctl IPC_RMID");
	if (msgctl(qid, IPC_RMID, NULL) == -1)
		die("shm_server: msgctl IPC_RMID");
	return 0;
}
