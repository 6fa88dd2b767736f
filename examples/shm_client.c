/*
 * shm_client.c - the interactive client of shm_server: reads lines from
 * its standard input and sends each through the shared segment.  For each
 * piece of a line (a line longer than the segment's text area goes in
 * several) it takes the mutex, writes the text into the segment, releases
 * the mutex and sends "data ready" on the queue; when "done" comes back it
 * takes the mutex again, reads the server's answer (the text upper-cased)
 * and checks it.  It prints each line's answer, and at the end of its input
 * detaches and sends "quit", which stops the server.
 *
 * The server may start a little after the client: the client waits up to
 * 10 s for the queue, which the server creates last.
 *
 * usage: shm_client KEYFILE   (lines on stdin; a prompt when it is a tty)
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>
#include "shm_proto.h"

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
	struct area *area;
	struct note n;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lines = 0;
	int shmid, semid, qid, tty, tries = 0;
	key_t key;

	if (argc != 2) {
		fprintf(stderr, "usage: %s KEYFILE\n", argv[0]);
		return 2;
	}
	if ((key = ftok(argv[1], PROJ_ID)) == -1)
		die("shm_client: ftok");
	while ((qid = msgget(key, 0)) == -1 && errno == ENOENT && tries++ < 1000)
		usleep(10000);
	if (qid == -1)
		die("shm_client: msgget (is the server running?)");
	if ((shmid = shmget(key, 0, 0)) == -1)
		die("shm_client: shmget");
	if ((semid = semget(key, 0, 0)) == -1)
		die("shm_client: semget");
	if ((area = shmat(shmid, NULL, 0)) == (void *)-1)
		die("shm_client: shmat");

	tty = isatty(0);
	for (;;) {
		if (tty) {
			printf("> ");
			fflush(stdout);
		}
		if ((len = getline(&line, &cap, stdin)) == -1)
			break;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		/* In place: each piece of the line becomes its answer. */
		ssize_t off = 0;
		do {
			unsigned piece = len - off > TEXT_MAX ? TEXT_MAX : (unsigned)(len - off);

			if (mutex(semid, -1) == -1)
				die("shm_client: semop P");
			memcpy(area->text, line + off, piece);
			area->len = piece;
			if (mutex(semid, 1) == -1)
				die("shm_client: semop V");
			n.mtype = DATA_READY;
			if (msgsnd(qid, &n, 0, 0) == -1)
				die("shm_client: msgsnd");
			if (msgrcv(qid, &n, sizeof(n.mtext), DONE, 0) == -1)
				die("shm_client: msgrcv");
			if (mutex(semid, -1) == -1)
				die("shm_client: semop P");
			for (unsigned i = 0; i < piece; i++)
				if (area->text[i] != (char)toupper((unsigned char)line[off + i])) {
					fprintf(stderr, "shm_client: bad answer at byte %zd of '%s'\n",
						off + i, line);
					return 1;
				}
			memcpy(line + off, area->text, piece);
			if (mutex(semid, 1) == -1)
				die("shm_client: semop V");
			off += piece;
		} while (off < len);
		printf("client: %s\n", line);
		fflush(stdout);
		lines++;
	}
	if (ferror(stdin))
		die("shm_client: stdin");
	if (tty)
		printf("\n");
	free(line);
	if (shmdt(area) == -1)
		die("shm_client: shmdt");
	printf("client: %lu line%s went through the segment; asking the server to quit\n",
	       lines, lines == 1 ? "" : "s");
	fflush(stdout);
	n.mtype = QUIT;
	if (msgsnd(qid, &n, 0, 0) == -1)
		die("shm_client: msgsnd quit");
	return 0;
}
