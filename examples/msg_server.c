/*
 * msg_server.c - a classic System V message-queue server, written for the
 * kernel's API and run unchanged on uipc with `uipc run -- msg_server`.
 *
 * Requests arrive with type 1 and carry the client's pid; each reply goes
 * back with the client's pid as its type, so every client receives only its
 * own replies from the one shared queue.  A request of type 2 stops the
 * server, which then removes the queue.
 *
 * usage: msg_server KEYFILE
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>
#include "msg_proto.h"

int main(int argc, char **argv)
{
	struct request req;
	struct reply rep;
	long served = 0;
	key_t key;
	ssize_t n;
	int id, i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s KEYFILE\n", argv[0]);
		return 2;
	}
	key = ftok(argv[1], PROJ_ID);
	id = msgget(key, IPC_CREAT | 0666);
	if (key == -1 || id == -1) {
		perror("msg_server: msgget");
		return 1;
	}
	printf("server: queue %d (key 0x%08x)\n", id, (unsigned)key);
	fflush(stdout);
	for (;;) {
		/* Lowest type first: all requests before the shutdown. */
		n = msgrcv(id, &req, sizeof(req) - sizeof(long), -SHUTDOWN, 0);
		if (n < 0) {
			perror("msg_server: msgrcv");
			return 1;
		}
		if (req.mtype == SHUTDOWN)
			break;
		rep.mtype = req.client;
		for (i = 0; req.text[i] && i < (int)sizeof(rep.text) - 1; i++)
			rep.text[i] = (char)toupper((unsigned char)req.text[i]);
		rep.text[i] = 0;
		if (msgsnd(id, &rep, strlen(rep.text) + 1, 0) < 0) {
			perror("msg_server: msgsnd");
			return 1;
		}
		served++;
	}
	printf("server: served %ld requests, removing queue\n", served);
	if (msgctl(id, IPC_RMID, NULL) < 0) {
		perror("msg_server: msgctl");
		return 1;
	}
	return 0;
}
