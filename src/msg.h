/*
 * msg.h - what the files of the message queues share: msg.c (the calls),
 * msg_list.c (the message list, its blocks and the send lock) and
 * msg_wait.c (waiters, polling before waiting, hand-offs).  The design and
 * the locking rules are in msg.c's opening comment.
 */
#ifndef UIPC_MSG_H
#define UIPC_MSG_H

#include <string.h>
#include <sys/msg.h>
#include "internal.h"

#define S_IRUGO 0444
#define S_IWUGO 0222
#define BLOCK 128
#define HEAD_DATA (BLOCK - 40)
#define BLOCK_DATA (BLOCK - 8)
#define MSG_WAITERS 128
#define MASK_WORDS (MSG_WAITERS / 64)
#define SLEEP_MS 1000

enum search_mode { SEARCH_ANY = 1, SEARCH_EQUAL, SEARCH_NOTEQUAL, SEARCH_LESSEQUAL, SEARCH_NUMBER };
enum waiter_state { W_FREE = 0, W_RECV, W_SEND };

struct msg_block {
	uint64_t next;			/* next block of the message, or free */
	char data[BLOCK_DATA];
};

struct msg_head {
	uint64_t next;			/* must stay first: as in msg_block */
	uint64_t next_msg;		/* next message in the queue */
	int64_t type;
	uint64_t len;
	uint64_t owner;			/* waiter slot + 1 it is handed to */
	char data[HEAD_DATA];
};

struct msg_waiter {
	pthread_mutex_t alive;		/* held by the registered thread */
	uint64_t state;			/* enum waiter_state */
	uint64_t ticket;		/* FIFO order */
	int64_t type;			/* receiver: converted msgtyp */
	uint64_t mode;			/* receiver: enum search_mode */
	uint64_t size;			/* receiver: max size; sender: msgsz */
	int64_t result;			/* receiver: message block, or -errno */
	uint64_t pid;
	_Atomic uint32_t futex;		/* 1: look again */
	_Atomic uint32_t sleeping;
	uint32_t ready;			/* 'alive' initialised (at first use) */
	uint32_t pad;
};

struct msg_queue {
	struct uipc_obj obj;		/* obj.lock is the queue lock */
	/* Read-mostly: changed by IPC_SET and by waiters registering. */
	uint64_t qbytes, nblocks;
	uint64_t ticket;
	uint64_t recv_mask[MASK_WORDS];	/* slots of registered receivers */
	uint64_t send_mask[MASK_WORDS];	/* slots of registered senders */
	_Atomic uint32_t poll;		/* overflow sleepers poll this */
	/* The receive side, under the queue lock. */
	_Alignas(64) uint64_t head;	/* the dummy block: messages follow it */
	uint64_t recv_num, recv_bytes;	/* messages and bytes ever received */
	uint64_t rtime, lrpid;
	uint64_t keep_head, keep_tail, keep_count;	/* freed, not yet given back */
	/* Blocks receivers gave back; senders take them all at once. */
	_Alignas(64) _Atomic uint64_t recv_free;
	/* The send side, under send_lock (and its own redo log). */
	_Alignas(64) pthread_mutex_t send_lock;
	uint64_t tail;			/* the last message, or the dummy */
	uint64_t sent_num, sent_bytes;	/* messages and bytes ever sent */
	uint64_t seen_num, seen_bytes;	/* recv_num/recv_bytes, as last read */
	uint64_t send_free, bump;
	uint64_t stime, lspid;
	uint64_t send_dirty;		/* free blocks must be counted again */
	struct redo_log send_redo;
	/*
	 * Bumped by every send and every receive (not logged: hints only).
	 * A caller that polls the queue before it registers watches the one
	 * the other side bumps: a counter that only grows, unlike qnum, cannot
	 * come back to the value it had while the poller looked away.
	 */
	_Alignas(64) _Atomic uint64_t sends;
	_Alignas(64) _Atomic uint64_t receives;
	uint32_t pad;
	struct msg_waiter w[MSG_WAITERS];
};

#define BLOCKS_OFF ((sizeof(struct msg_queue) + 4095) & ~(size_t)4095)

static inline struct msg_queue *hq(struct handle *h)
{
	return (struct msg_queue *)hobj(h);
}

/* Blocks for the worst case msg_qbytes allows, and the dummy. */
static inline uint64_t blocks_for_qbytes(uint64_t qbytes)
{
	return qbytes + qbytes / HEAD_DATA + 2;
}

static inline size_t file_size(uint64_t nblocks)
{
	return BLOCKS_OFF + nblocks * BLOCK;
}

static inline uint64_t blocks_for_len(uint64_t len)
{
	return len <= HEAD_DATA ? 1 : 1 + (len - HEAD_DATA + BLOCK_DATA - 1) / BLOCK_DATA;
}

/* Block i, or NULL if i is out of range (a damaged file). */
static inline struct msg_block *blk(struct msg_queue *q, uint64_t i)
{
	if (unlikely(i == 0 || i > q->nblocks))
		return NULL;
	return (struct msg_block *)((char *)q + BLOCKS_OFF + (i - 1) * BLOCK);
}

static inline struct msg_head *mhead(struct msg_queue *q, uint64_t i)
{
	return (struct msg_head *)blk(q, i);
}

static inline uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* The link to the next message: a sender may be writing it. */
static inline uint64_t next_of(const struct msg_head *m)
{
	return load(&m->next_msg);
}

/* msg_qnum and __msg_cbytes: exact when both locks are held. */
static inline uint64_t qnum(struct msg_queue *q)
{
	uint64_t received = load(&q->recv_num);

	return load(&q->sent_num) - received;
}

static inline uint64_t cbytes(struct msg_queue *q)
{
	uint64_t received = load(&q->recv_bytes);

	return load(&q->sent_bytes) - received;
}

/* Would msgsz more bytes fit, counting received what was as given? */
static inline bool fits_after(struct msg_queue *q, uint64_t msgsz, uint64_t rnum, uint64_t rbytes)
{
	uint64_t num = q->sent_num - rnum, bytes = q->sent_bytes - rbytes;

	return msgsz + bytes <= q->qbytes && 1 + num <= q->qbytes;
}

static inline bool fits(struct msg_queue *q, uint64_t msgsz)
{
	return fits_after(q, msgsz, load(&q->recv_num), load(&q->recv_bytes));
}

static inline bool any_waiter(const uint64_t *mask)
{
	int i;

	for (i = 0; i < MASK_WORDS; i++)
		if (mask[i])
			return true;
	return false;
}

/* Visit the slots set in a mask (a copy: the body may change the mask). */
#define for_each_slot(mask, i, bits, word)                                        \
	for (word = 0; word < MASK_WORDS; word++)                                 \
		for (bits = (mask)[word]; bits && (i = word * 64 + __builtin_ctzll(bits), 1); \
		     bits &= bits - 1)

/* Count a send or a receive; the queue lock serialises the writers. */
static inline void count_op(_Atomic uint64_t *counter)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* ---- msg.c ---- */
HIDDEN int msg__map_all(struct handle *h);

/* ---- msg_list.c: the message list, its blocks, the send lock ---- */
HIDDEN void msg__rebuild(struct handle *h);
HIDDEN int msg__check(struct handle *h, struct check_log *log);
HIDDEN int msg__send_lock(struct handle *h, bool have_queue);
HIDDEN void msg__send_unlock(struct handle *h);
HIDDEN bool msg__testmsg(int64_t mtype, int64_t type, uint64_t mode);
HIDDEN int64_t msg__find_msg(struct msg_queue *q, int64_t type, uint64_t mode, uint64_t *prev_out);
HIDDEN bool msg__copy_out(struct msg_queue *q, struct msg_head *m, char *dst, uint64_t n);
HIDDEN bool msg__dequeue(struct handle *h, uint64_t mi, uint64_t prev, bool set_receiver);
HIDDEN int64_t msg__enqueue(struct msg_queue *q, long mtype, const char *src, uint64_t len);
HIDDEN bool msg__find_prev(struct msg_queue *q, uint64_t mi, uint64_t *prev);
HIDDEN void msg__take_kept(struct msg_queue *q);

/* ---- msg_wait.c: waiters, polling, hand-offs ---- */
HIDDEN bool msg__waiter_alive(struct msg_queue *q, int i);
HIDDEN int msg__waiter_register(struct msg_queue *q, enum waiter_state state, int64_t type,
			   uint64_t mode, uint64_t size);
HIDDEN void msg__waiter_release(struct msg_queue *q, int i);
HIDDEN int msg__waiter_sleep(struct msg_queue *q, int slot);
HIDDEN int msg__poll_queue(struct handle *h, bool receiver);
HIDDEN void msg__wake_all(struct uipc_obj *o);
HIDDEN void msg__wake_senders(struct msg_queue *q);
HIDDEN void msg__hand_off(struct msg_queue *q, uint64_t mi);
HIDDEN void msg__prewake(struct msg_queue *q, bool receiver, int64_t mtype);
HIDDEN void msg__offer_queued(struct msg_queue *q);

#endif
