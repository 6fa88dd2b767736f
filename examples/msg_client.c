/*
 * msg_client.c - a client of msg_server: sends COUNT requests and checks
 * that every reply is its request in upper case.  With "stop" as COUNT it
 * asks the server to shut down.
 *
 * usage: msg_client KEYFILE COUNT|stop
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
	char want[128];
	int id, i, j, count;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: %s KEYFILE COUNT|stop\n", argv[0]);
		return 2;
	}
	id = msgget(ftok(argv[1], PROJ_ID), 0);
	if (id == -1) {
		perror("msg_client: msgget");
		return 1;
	}
	req.client = getpid();
	if (!strcmp(argv[2], "stop")) {
		req.mtype = SHUTDOWN;
		req.text[0] = 0;
		return msgsnd(id, &req, sizeof(req) - sizeof(long), 0) == 0 ? 0 : 1;
	}
	count = atoi(argv[2]);
	for (i = 0; i < count; i++) {
		req.mtype = REQUEST;
		snprintf(req.text, sizeof(req.text), "hello %d from client %d", i, (int)getpid());
		if (msgsnd(id, &req, sizeof(req) - sizeof(long), 0) < 0) {
			perror("msg_client: msgsnd");
			return 1;
		}
		n = msgrcv(id, &rep, sizeof(rep.text), getpid(), 0);
		for (j = 0; req.text[j]; j++)
			want[j] = (char)toupper((unsigned char)req.text[j]);
		want[j] = 0;
		if (n != (ssize_t)strlen(want) + 1 || strcmp(rep.text, want)) {
			fprintf(stderr, "msg_client: bad reply '%s' to '%s'\n", rep.text, req.text);
			return 1;
		}
		if (i == 0 || i == count - 1)
			printf("client %d: '%s' -> '%s'\n", (int)getpid(), req.text, rep.text);
	}
	return 0;
}
