/*
 * msg_proto.h - the messages msg_server and msg_client exchange on one queue.
 * Requests have type REQUEST and carry the client's pid; a reply's type is
 * that pid, so each client receives only its own replies.  A SHUTDOWN
 * message stops the server.
 */
#ifndef MSG_PROTO_H
#define MSG_PROTO_H

#include <sys/types.h>

#define REQUEST 1
#define SHUTDOWN 2
#define PROJ_ID 'U'		/* ftok(keyfile, PROJ_ID) names the queue */

struct request {
	long mtype;
	pid_t client;
	char text[128];
};

struct reply {
	long mtype;
	char text[128];
};

#endif
