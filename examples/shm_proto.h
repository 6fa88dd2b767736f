/*
 * shm_proto.h - what shm_server and shm_client share: one key, ftok(KEYFILE,
 * PROJ_ID), names a segment (struct area), a set of one semaphore (the
 * mutex that guards the area, at 1 when free) and a queue.  On the queue the
 * client sends DATA_READY when it has put a piece of text in the area, or
 * QUIT; the server answers DATA_READY with DONE once the area holds the text
 * in upper case.  The server creates the queue last: once the client finds
 * the queue, the segment and the semaphore are ready.
 */
#ifndef SHM_PROTO_H
#define SHM_PROTO_H

#include <sys/types.h>

#define PROJ_ID 'M'

/* Message types.  The server receives types <= QUIT, the client DONE. */
#define DATA_READY 1
#define QUIT 2
#define DONE 3

#define TEXT_MAX 4000		/* bytes of text the area holds at a time */

struct area {
	unsigned len;		/* bytes in text (no terminating 0) */
	unsigned served;	/* pieces the server has upper-cased so far */
	char text[TEXT_MAX];
};

struct note {			/* a message on the queue: the type says it all */
	long mtype;
	char mtext[1];
};

#endif
