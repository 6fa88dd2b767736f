/*
 * msg.c - System V message queues: msgget(2), msgop(2), msgctl(2).
 *
 * User space visible behaviour: Linux's, down to the order of the checks
 * (each function below follows the kernel's ipc/msg.c), including its quirks:
 * msgrcv with an invalid buffer consumes the message and fails with EFAULT;
 * MSG_COPY with MSG_NOERROR and a short buffer is EINVAL; a queue is full
 * when its bytes or its message count would exceed msg_qbytes.
 *
 * Layout:  the header file holds struct msg_queue (the common object
 * header, the msqid_ds fields, the message list and the waiter table); the
 * data file, mapped right after it, holds 'nblocks' blocks of 128 bytes.  A
 * message is a chain of blocks: its first block holds the header (struct
 * msg_head) and the first bytes, the following blocks the rest.  The queue
 * is a singly linked list of first blocks that starts with a dummy block
 * (the message received last, or the initial one), so that senders, who
 * link after the tail, and receivers, who move the head, never write the
 * same word.  Blocks are numbered from 1 (0 is "none").  Free blocks form
 * lists linked through the same 'next' word as message chains: the
 * senders' list, and the one receivers give blocks back to, which a sender
 * takes in one exchange when its own runs out; blocks at or above 'bump'
 * were never used, so a queue's memory is what it has held at most, however
 * large msg_qbytes is.  nblocks is enough for the worst case msg_qbytes
 * allows (every message costs at most 1 + len/88 blocks, and there are at
 * most msg_qbytes messages) and the dummy, so a message that fits by the
 * kernel's rule always finds blocks.
 *
 * Locking:  two robust locks, each with its own redo log (sync.c).  The
 * queue lock (obj.lock) serialises receivers, msgctl, waiter registration
 * and hand-offs; the send lock serialises senders.  Lock order: the queue
 * lock, then the send lock.  A send takes the send lock alone (send_fast)
 * while no receiver waits in the table and the queue has room, so a sender
 * and a receiver work at once and their state sits on separate cache lines:
 * each side counts what it did (sent_num/sent_bytes, recv_num/recv_bytes,
 * which only grow) and msg_qnum and __msg_cbytes are the differences.  Other
 * sends take the queue lock, then the send lock.  A receiver that unlinks
 * the last message moves the tail, and takes the send lock for that.
 *
 * Crash safety:  the message list (head and the next_msg links) and the
 * counters are the truth; they change only in redo-log transactions, with
 * the times and pids that go with the change.  The free lists and bump are
 * derived state, counted again from the list by rebuild() after a death.  So
 * a process killed at any instruction leaves a send or a receive either done
 * or not done:
 *  - send: the bytes are copied into free blocks first, then one
 *    transaction of the send side links the message (the link is its last
 *    store, which publishes the message to receivers);
 *  - receive: the bytes are copied to the caller first, then one transaction
 *    unlinks the message.  A receiver killed before it commits leaves the
 *    message queued.
 * Waiter registration and hand-offs are redo-log transactions of their own.
 *
 * Waiting:  a sleeper takes a slot in the waiter table (FIFO by ticket) and
 * holds the slot's robust 'alive' mutex while registered.  A sender hands a
 * new message to the first waiting receiver it matches (as the kernel's
 * pipelined_send): the message stays in the list, reserved to that slot, and
 * the receiver dequeues it when it wakes.  A slot whose 'alive' mutex reports
 * its owner dead is freed by whoever meets it, and a message reserved to it
 * becomes free again, so a receiver killed before it dequeued a handed
 * message loses nothing.  Wakers set the slot's futex word and call
 * FUTEX_WAKE only if the sleeper said it sleeps; sleepers spin a bounded time
 * first (sync.c), and sleep with a timeout so that signals give EINTR.
 * Removal and recovery wake every slot.  More than MSG_WAITERS concurrent
 * sleepers on one queue poll every millisecond instead, losing FIFO order
 * among themselves.
 *
 * EFAULT:  NULL, the low page and kernel addresses are caught without a
 * system call (bad_user_ptr); any other unmapped buffer faults like memcpy.
 * The sender touches its buffer before it locks the queue, and the receiver
 * writes the caller's buffer before it commits, so even such a fault never
 * damages the queue.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

#define S_IRUGO 0444
#define S_IWUGO 0222
#define BLOCK 128
#define HEAD_DATA (BLOCK - 40)
#define BLOCK_DATA (BLOCK - 8)
#define MSG_WAITERS 128
#define MASK_WORDS (MSG_WAITERS / 64)
#define SLEEP_MS 1000

/* Compile-time values Linux reports in IPC_INFO (include/uapi/linux/msg.h). */
#define MSGPOOL_DEFAULT (32000 * 16384 / 1024)
#define MSGMAP_DEFAULT 16384
#define MSGTQL_DEFAULT 16384
#define MSGSSZ 16
#define MSGSEG 0xffff

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

static const struct obj_ops msg_ops;

static inline struct msg_queue *hq(struct handle *h)
{
	return (struct msg_queue *)hobj(h);
}

/* Blocks for the worst case msg_qbytes allows, and the dummy. */
static uint64_t blocks_for_qbytes(uint64_t qbytes)
{
	return qbytes + qbytes / HEAD_DATA + 2;
}

static size_t file_size(uint64_t nblocks)
{
	return BLOCKS_OFF + nblocks * BLOCK;
}

static uint64_t blocks_for_len(uint64_t len)
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
static uint64_t qnum(struct msg_queue *q)
{
	uint64_t received = load(&q->recv_num);

	return load(&q->sent_num) - received;
}

static uint64_t cbytes(struct msg_queue *q)
{
	uint64_t received = load(&q->recv_bytes);

	return load(&q->sent_bytes) - received;
}

/* Would msgsz more bytes fit, counting received what was as given? */
static bool fits_after(struct msg_queue *q, uint64_t msgsz, uint64_t rnum, uint64_t rbytes)
{
	uint64_t num = q->sent_num - rnum, bytes = q->sent_bytes - rbytes;

	return msgsz + bytes <= q->qbytes && 1 + num <= q->qbytes;
}

static bool fits(struct msg_queue *q, uint64_t msgsz)
{
	return fits_after(q, msgsz, load(&q->recv_num), load(&q->recv_bytes));
}

/* ---- object operations ---- */

static long msg_new_size(long arg, int flg)
{
	(void)arg, (void)flg;
	return (long)file_size(blocks_for_qbytes((uint64_t)uipc__limit_fresh(LIM_MSGMNB)));
}

static int msg_init(struct uipc_obj *o, long arg)
{
	struct msg_queue *q = (struct msg_queue *)o;

	(void)arg;
	o->hdr_size = sizeof(*q);
	q->qbytes = (uint64_t)uipc__limit_fresh(LIM_MSGMNB);
	q->nblocks = blocks_for_qbytes(q->qbytes);
	q->head = q->tail = 1;		/* block 1, zero: the first dummy */
	q->bump = 2;
	return uipc__robust_init(&q->send_lock);
}

static int msg_more_checks(struct uipc_obj *o, long arg)
{
	(void)o;
	(void)arg;
	return 0;
}

static int msg_validate(struct uipc_obj *o, size_t len)
{
	struct msg_queue *q = (struct msg_queue *)o;

	if (o->hdr_size != sizeof(*q) || len < BLOCKS_OFF ||
	    q->nblocks > (len - BLOCKS_OFF) / BLOCK || q->bump > q->nblocks + 1)
		return -EINVAL;
	return 0;
}

/* Wake the waiter in slot w (once the queue is unlocked: sync.c). */
static void wake_slot(struct msg_waiter *w)
{
	atomic_store(&w->futex, 1);
	if (atomic_load(&w->sleeping))
		uipc__wake_later(&w->futex, 1);
}

static void msg_wake_all(struct uipc_obj *o)
{
	struct msg_queue *q = (struct msg_queue *)o;
	int i;

	for (i = 0; i < MSG_WAITERS; i++)
		if (q->w[i].state != W_FREE)
			wake_slot(&q->w[i]);
	atomic_fetch_add(&q->poll, 1);
	uipc__futex_wake(&q->poll, INT_MAX);
}

/* The mapping must cover every block: another process may have grown it. */
static int msg_map_all(struct handle *h)
{
	uint64_t n = hq(h)->nblocks;

	if (n > (1ull << 33))
		return -EINVAL;
	return uipc__handle_ensure(h, file_size(n));
}

/*
 * Count everything again from the message list: the list (the dummy at
 * 'head' and the next_msg links, changed only through the redo logs) is the
 * truth, the rest is derived from it: tail, the send side's counters, the
 * free blocks and bump.  A list or a chain that is damaged is cut where the
 * damage starts.  Called with both locks held, after a death.
 */
static void rebuild(struct handle *h)
{
	uint64_t n, i, k, c, prev, num = 0, bytes = 0, bump, free_list = 0;
	struct msg_queue *q;
	struct msg_head *m;
	uint64_t *link;
	uint8_t *used;

	if (msg_map_all(h) || !(used = calloc(hq(h)->nblocks / 8 + 1, 1)))
		return;
	q = hq(h);
	n = q->nblocks;
	bump = q->bump;
	if (!mhead(q, q->head)) {
		if (!blk(q, 1)) {
			free(used);
			return;
		}
		q->head = 1;
		mhead(q, 1)->next_msg = 0;
	}
	prev = q->head;
	used[prev / 8] |= (uint8_t)(1u << (prev % 8));
	if (prev >= bump)
		bump = prev + 1;
	link = &mhead(q, prev)->next_msg;
	for (i = *link; i; prev = i, link = &m->next_msg, i = m->next_msg) {
		m = mhead(q, i);
		for (k = i, c = m ? blocks_for_len(m->len) : 0; c && c <= n; c--, k = blk(q, k)->next) {
			if (!blk(q, k) || used[k / 8] & (1u << (k % 8)))
				break;
			used[k / 8] |= (uint8_t)(1u << (k % 8));
			if (k >= bump)
				bump = k + 1;
		}
		if (!m || c) {	/* damaged: the list ends before this message */
			*link = 0;
			break;
		}
		num++;
		bytes += m->len;
	}
	if (bump > n + 1)
		bump = n + 1;
	for (k = bump - 1; k >= 1; k--)
		if (!(used[k / 8] & (1u << (k % 8)))) {
			blk(q, k)->next = free_list;
			free_list = k;
		}
	free(used);
	q->tail = prev;
	q->sent_num = q->recv_num + num;
	q->sent_bytes = q->recv_bytes + bytes;
	q->seen_num = q->recv_num;
	q->seen_bytes = q->recv_bytes;
	q->send_free = free_list;
	atomic_store(&q->recv_free, 0);
	q->keep_head = q->keep_tail = q->keep_count = 0;
	q->bump = bump;
	q->send_dirty = 0;
}

/*
 * Take the send lock.  If its holder died, replay its log (the send side's
 * truth is whole again) and mark the free blocks to be counted again, which
 * needs the queue lock too: done here when the caller holds it (have_queue),
 * else by the next caller that does (senders take the slow way meanwhile).
 */
static int send_lock(struct handle *h, bool have_queue)
{
	struct msg_queue *q = hq(h);
	int r = uipc__lock_mutex(h, &q->send_lock);

	if (r < 0)
		return r;
	if (r == 1) {
		uipc__redo_replay(&q->obj, &q->send_redo, atomic_load(&h->len),
				  offsetof(struct msg_queue, send_lock),
				  offsetof(struct msg_queue, send_redo) + sizeof(q->send_redo));
		q->send_dirty = 1;
		pthread_mutex_consistent(&q->send_lock);
	}
	if (have_queue && hq(h)->send_dirty)
		rebuild(h);
	return 0;
}

static void send_unlock(struct handle *h)
{
	pthread_mutex_unlock(&hq(h)->send_lock);
}

/* After a death under the queue lock (its log replayed): count again. */
static void msg_recover(struct handle *h)
{
	if (send_lock(h, false) < 0)
		return;
	rebuild(h);
	send_unlock(h);
}

static const struct obj_ops msg_ops = {
	.kind = KIND_MSG,
	.prefix = "msg",
	.mni = LIM_MSGMNI,
	.hdr_bytes = BLOCKS_OFF,
	.new_size = msg_new_size,
	.init = msg_init,
	.more_checks = msg_more_checks,
	.validate = msg_validate,
	.wake_all = msg_wake_all,
	.recover = msg_recover,
};

const struct obj_ops *uipc__msg_ops(void)
{
	return &msg_ops;
}

/* ---- waiters ---- */

/* The word of the registration mask that holds slot i. */
static uint64_t *wmask(struct msg_queue *q, uint64_t state, int i)
{
	return &(state == W_RECV ? q->recv_mask : q->send_mask)[i / 64];
}

static bool any_waiter(const uint64_t *mask)
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

/*
 * Is the waiter in slot i alive?  If its thread died, free the slot and
 * release the message handed to it.  Called with the queue locked.
 */
static bool waiter_alive(struct msg_queue *q, int i)
{
	struct msg_waiter *w = &q->w[i];
	struct msg_head *m;
	struct txn t;
	int r = uipc__robust_ok(&w->alive) ? pthread_mutex_trylock(&w->alive) : EINVAL;

	if (r == EBUSY)
		return true;
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&w->alive);
	txn_begin(&t, q);
	if (w->result > 0 && (m = mhead(q, (uint64_t)w->result)) && m->owner == (uint64_t)i + 1)
		txn_set(&t, &m->owner, 0);
	txn_set(&t, &w->state, W_FREE);
	txn_set(&t, wmask(q, w->state, i), *wmask(q, w->state, i) & ~(1ull << (i % 64)));
	uipc__txn_commit(&q->obj, &t);
	if (r == 0 || r == EOWNERDEAD)
		pthread_mutex_unlock(&w->alive);
	return false;
}

static int waiter_register(struct msg_queue *q, enum waiter_state state, int64_t type,
			   uint64_t mode, uint64_t size)
{
	struct msg_waiter *w;
	struct txn t;
	int i, r;

	for (i = 0; i < MSG_WAITERS; i++) {
		w = &q->w[i];
		if (w->state != W_FREE)
			continue;
		/* Initialised at first use: a queue's unused slots cost no memory. */
		if (!w->ready) {
			if (uipc__robust_init(&w->alive))
				continue;
			w->ready = 1;
		}
		r = uipc__robust_ok(&w->alive) ? pthread_mutex_trylock(&w->alive) : EINVAL;
		if (r == EOWNERDEAD)
			pthread_mutex_consistent(&w->alive);
		else if (r)
			continue;
		atomic_store(&w->futex, 0);
		atomic_store(&w->sleeping, 0);
		txn_begin(&t, q);
		txn_set(&t, &q->ticket, q->ticket + 1);
		txn_set(&t, &w->ticket, q->ticket + 1);
		txn_set(&t, (uint64_t *)&w->type, (uint64_t)type);
		txn_set(&t, &w->mode, mode);
		txn_set(&t, &w->size, size);
		txn_set(&t, (uint64_t *)&w->result, 0);
		/* As Linux's pipelined_send: a hand-off records the thread id. */
		txn_set(&t, &w->pid, (uint64_t)gettid());
		txn_set(&t, &w->state, state);
		txn_set(&t, wmask(q, state, i), *wmask(q, state, i) | 1ull << (i % 64));
		uipc__txn_commit(&q->obj, &t);
		return i;
	}
	return -1;
}

static void waiter_release(struct msg_queue *q, int i)
{
	struct msg_waiter *w = &q->w[i];
	struct txn t;

	txn_begin(&t, q);
	txn_set(&t, &w->state, W_FREE);
	txn_set(&t, wmask(q, w->state, i), *wmask(q, w->state, i) & ~(1ull << (i % 64)));
	uipc__txn_commit(&q->obj, &t);
	pthread_mutex_unlock(&w->alive);
}

static bool word_set(const void *word)
{
	return atomic_load_explicit((_Atomic uint32_t *)word, memory_order_acquire) != 0;
}

/*
 * Sleep until woken, a signal, or the timeout.  Called with the queue
 * unlocked.  Returns -EINTR after a signal handler ran.
 */
static int waiter_sleep(struct msg_queue *q, int slot)
{
	_Atomic uint32_t *word = slot >= 0 ? &q->w[slot].futex : &q->poll;
	uint32_t seen = slot >= 0 ? 0 : atomic_load(&q->poll);
	int r = 0;

	if (slot < 0)
		return uipc__futex_wait(word, seen, 1) == -EINTR ? -EINTR : 0;
	if (uipc__spin_until(word_set, word, 1))
		return 0;
	atomic_store(&q->w[slot].sleeping, 1);
	if (!atomic_load(word))
		r = uipc__futex_wait(word, 0, SLEEP_MS);
	atomic_store(&q->w[slot].sleeping, 0);
	return r == -EINTR ? -EINTR : 0;
}

/*
 * Before registering as a waiter, wait a little for the queue to change (a
 * message or room arriving): when the peer runs on another CPU this saves
 * the hand-off and the wake-up.  Once the other side's counter moves, keep
 * watching while it goes on moving, up to POLL_BATCH steps, until it stays
 * still for POLL_QUIET_STREAM pauses, or until the queue is half full (for a
 * receiver) or half empty (for a sender): a peer that streams then works on
 * a batch without the poller contending for the lock at every step.  A
 * peer that made one step (sent one message and waits for the answer) costs
 * POLL_QUIET pauses only.  Called with the queue locked; returns with
 * it locked.  A waiter that registers keeps FIFO order from then on.
 */
#define POLL_QUIET 16
#define POLL_QUIET_STREAM 64
#define POLL_BATCH 200

struct poll_arg {
	struct msg_queue *q;
	bool receiver;		/* waits for messages (else for room) */
	_Atomic uint64_t *word;
	uint64_t seen, last;
	int quiet;
};

/* Half full for a receiver, half empty for a sender: no point waiting on. */
static bool half_way(const struct poll_arg *p)
{
	uint64_t qbytes = __atomic_load_n(&p->q->qbytes, __ATOMIC_RELAXED);
	uint64_t used = 2 * cbytes(p->q), num = 2 * qnum(p->q);

	return p->receiver ? used >= qbytes || num >= qbytes : used <= qbytes && num <= qbytes;
}

/* Count a send or a receive; the queue lock serialises the writers. */
static void count_op(_Atomic uint64_t *counter)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static bool poll_settled(const void *arg)
{
	struct poll_arg *p = (struct poll_arg *)arg;
	uint64_t v = atomic_load_explicit(p->word, memory_order_relaxed);

	if (v != p->last) {
		p->last = v;
		p->quiet = 0;
		return v - p->seen >= POLL_BATCH || half_way(p);
	}
	/* One step, then quiet: an answer.  Steps on steps: a stream. */
	return v != p->seen && ++p->quiet >= (v - p->seen > 1 ? POLL_QUIET_STREAM : POLL_QUIET);
}

static int poll_queue(struct handle *h, bool receiver)
{
	struct msg_queue *q = hq(h);
	_Atomic uint64_t *word = receiver ? &q->sends : &q->receives;
	struct poll_arg p = { q, receiver, word, 0, 0, 0 };

	if (!uipc__spin_limit())
		return 0;
	p.seen = p.last = atomic_load_explicit(word, memory_order_relaxed);
	uipc__unlock(h);
	uipc__spin_until(poll_settled, &p, 1);
	return uipc__lock(h);
}

/* ---- messages ---- */

static bool testmsg(int64_t mtype, int64_t type, uint64_t mode)
{
	switch (mode) {
	case SEARCH_ANY:
	case SEARCH_NUMBER:
		return true;
	case SEARCH_LESSEQUAL:
		return mtype <= type;
	case SEARCH_EQUAL:
		return mtype == type;
	case SEARCH_NOTEQUAL:
		return mtype != type;
	}
	return false;
}

static uint64_t convert_mode(long *msgtyp, int msgflg)
{
	if (msgflg & MSG_COPY)
		return SEARCH_NUMBER;
	if (*msgtyp == 0)
		return SEARCH_ANY;
	if (*msgtyp < 0) {
		*msgtyp = *msgtyp == LONG_MIN ? LONG_MAX : -*msgtyp;
		return SEARCH_LESSEQUAL;
	}
	if (msgflg & MSG_EXCEPT)
		return SEARCH_NOTEQUAL;
	return SEARCH_EQUAL;
}

/*
 * Find a free message as the kernel's find_msg(): messages handed to a live
 * waiter are not free.  Sets *prev to the message before it.  Returns 0 if
 * none, or -EINVAL for a damaged list.
 */
static int64_t find_msg(struct msg_queue *q, int64_t type, uint64_t mode, uint64_t *prev_out)
{
	uint64_t i, prev = q->head, found = 0, found_prev = 0, steps = 0;
	int64_t count = 0;
	struct msg_head *m = mhead(q, prev);

	if (!m)
		return -EINVAL;
	for (i = next_of(m); i; prev = i, i = next_of(m)) {
		if (!(m = mhead(q, i)) || ++steps > q->nblocks)
			return -EINVAL;
		if (m->owner && m->owner <= MSG_WAITERS && waiter_alive(q, (int)m->owner - 1))
			continue;
		if (!testmsg(m->type, type, mode))
			continue;
		if (mode == SEARCH_LESSEQUAL && m->type != 1) {
			type = m->type - 1;
			found = i;
			found_prev = prev;
		} else if (mode == SEARCH_NUMBER) {
			if (type == count) {
				*prev_out = prev;
				return (int64_t)i;
			}
		} else {
			*prev_out = prev;
			return (int64_t)i;
		}
		count++;
	}
	*prev_out = found_prev;
	return (int64_t)found;
}

/* Copy a message's bytes out; returns false on a damaged chain. */
static bool copy_out(struct msg_queue *q, struct msg_head *m, char *dst, uint64_t n)
{
	uint64_t chunk = n < HEAD_DATA ? n : HEAD_DATA, i = m->next;
	struct msg_block *b;

	memcpy(dst, m->data, chunk);
	for (dst += chunk, n -= chunk; n; dst += chunk, n -= chunk, i = b->next) {
		if (!(b = blk(q, i)))
			return false;
		chunk = n < BLOCK_DATA ? n : BLOCK_DATA;
		memcpy(dst, b->data, chunk);
	}
	return true;
}

/* The last block of message m, checking the chain against its length. */
static uint64_t last_block(struct msg_queue *q, uint64_t mi)
{
	uint64_t n = blocks_for_len(mhead(q, mi)->len), i = mi;

	if (n > q->nblocks)
		return 0;
	while (--n) {
		i = blk(q, i)->next;
		if (!blk(q, i))
			return 0;
	}
	return i;
}

/*
 * Free the chain first..last of n blocks: kept by the receivers, and given
 * back to the senders (see enqueue) KEEP_BATCH blocks or more at a time, so
 * that the two sides exchange the word that passes them on rarely.  Called
 * with the queue lock held.
 */
#define KEEP_BATCH 16

static void give_back(struct msg_queue *q, uint64_t first, uint64_t last, uint64_t n)
{
	uint64_t old;

	blk(q, last)->next = q->keep_head;
	if (!q->keep_head)
		q->keep_tail = last;
	q->keep_head = first;
	q->keep_count += n;
	if (q->keep_count < KEEP_BATCH || !blk(q, q->keep_tail))
		return;
	old = atomic_load(&q->recv_free);
	do
		blk(q, q->keep_tail)->next = old;
	while (!atomic_compare_exchange_weak(&q->recv_free, &old, q->keep_head));
	q->keep_head = q->keep_tail = q->keep_count = 0;
}

/* Move the blocks receivers keep to the senders' list; both locks held. */
static void take_kept(struct msg_queue *q)
{
	if (!q->keep_head || !blk(q, q->keep_tail))
		return;
	blk(q, q->keep_tail)->next = q->send_free;
	q->send_free = q->keep_head;
	q->keep_head = q->keep_tail = q->keep_count = 0;
}

/*
 * Dequeue message mi (after prev) in one transaction with the receive
 * counters, then give its blocks back.  The first message becomes the new
 * dummy (the sender may be linking a message to it: it stays in the list),
 * and the old dummy and the new one's other blocks are freed.  Any other
 * message is unlinked; unlinking the last one also moves the tail, which
 * needs the send lock.  Returns false on a damaged chain.  Called with the
 * queue lock held.
 */
static bool dequeue(struct handle *h, uint64_t mi, uint64_t prev, bool set_receiver)
{
	struct msg_queue *q = hq(h);
	struct msg_head *m = mhead(q, mi);
	uint64_t last = last_block(q, mi), first_free = mi, next;
	bool send_locked = false;
	struct txn t;

	if (!last || m->len > cbytes(q) || qnum(q) == 0)
		return false;
	txn_begin(&t, q);
	if (prev == q->head) {
		txn_set(&t, &q->head, mi);
		first_free = prev;
		if (last != mi)
			blk(q, prev)->next = m->next;
		else
			last = prev;
	} else {
		next = next_of(m);
		if (next == 0) {
			if (send_lock(h, true))
				return false;
			send_locked = true;
			next = next_of(m);
			if (next == 0 && q->tail == mi)
				txn_set(&t, &q->tail, prev);
		}
		txn_set(&t, &mhead(q, prev)->next_msg, next);
	}
	txn_set(&t, &q->recv_num, q->recv_num + 1);
	txn_set(&t, &q->recv_bytes, q->recv_bytes + m->len);
	if (set_receiver) {
		txn_set(&t, &q->rtime, (uint64_t)uipc__now());
		txn_set(&t, &q->lrpid, (uint64_t)uipc__pid());
	}
	uipc__txn_commit(&q->obj, &t);
	if (send_locked)
		send_unlock(h);
	give_back(q, first_free, last, blocks_for_len(m->len));
	return true;
}

/* Wake the sleeping senders whose message now fits (the kernel's ss_wakeup). */
static void wake_senders(struct msg_queue *q)
{
	uint64_t bits;
	int i, word;

	if (!any_waiter(q->send_mask))
		return;
	for_each_slot(q->send_mask, i, bits, word)
		if (q->w[i].state == W_SEND && fits(q, q->w[i].size) && waiter_alive(q, i))
			wake_slot(&q->w[i]);
	atomic_fetch_add(&q->poll, 1);
}

/*
 * Offer the new message mi to the waiting receivers, oldest first (the
 * kernel's pipelined_send).  A receiver whose buffer is too small gets E2BIG
 * and the next one is tried.
 */
static void hand_off(struct msg_queue *q, uint64_t mi)
{
	struct msg_head *m = mhead(q, mi);
	uint64_t done = 0, bits;
	struct txn t;
	int i, best, word;

	while (any_waiter(q->recv_mask)) {
		best = -1;
		for_each_slot(q->recv_mask, i, bits, word) {
			struct msg_waiter *w = &q->w[i];
			if (w->state == W_RECV && w->result == 0 && w->ticket > done &&
			    testmsg(m->type, w->type, w->mode) &&
			    (best < 0 || w->ticket < q->w[best].ticket))
				best = i;
		}
		if (best < 0 || !waiter_alive(q, best)) {
			if (best < 0)
				return;
			continue;
		}
		txn_begin(&t, q);
		if (q->w[best].size < m->len) {
			txn_set(&t, (uint64_t *)&q->w[best].result, (uint64_t)-E2BIG);
			uipc__txn_commit(&q->obj, &t);
			wake_slot(&q->w[best]);
			done = q->w[best].ticket;
			continue;
		}
		txn_set(&t, (uint64_t *)&q->w[best].result, mi);
		txn_set(&t, &m->owner, (uint64_t)best + 1);
		txn_set(&t, &q->rtime, (uint64_t)uipc__now());
		txn_set(&t, &q->lrpid, q->w[best].pid);
		uipc__txn_commit(&q->obj, &t);
		wake_slot(&q->w[best]);
		return;
	}
}

/*
 * Put a message in free blocks and link it after the tail, in one
 * transaction of the send side with its counters.  Blocks come from the
 * sender's free list (their 'next' words already chain them), which takes in
 * the list the receivers gave back when it runs short, then from the
 * never-used ones at 'bump', whose 'next' words are written.  Nothing a
 * message holds changes before the commit; what a sender killed before it
 * did to free blocks is counted again (send_dirty).  Returns the first block,
 * 0 if there are not enough blocks, -EINVAL if the free list is damaged.
 * Called with the send lock held.
 */
static int64_t enqueue(struct msg_queue *q, long mtype, const char *src, uint64_t len)
{
	uint64_t need = blocks_for_len(len), have = 0, last = 0, bump = q->bump;
	uint64_t i, rest, more, first, prev, next, n, chunk, left = len;
	struct msg_head *m;
	struct msg_block *b = NULL;
	struct txn t;

	if (!mhead(q, q->tail) || bump < 1 || bump > q->nblocks + 1)
		return -EINVAL;
	for (i = q->send_free; have < need; i = b->next, have++) {
		if (!i) {
			if (!(more = atomic_exchange(&q->recv_free, 0)))
				break;
			if (last)
				blk(q, last)->next = more;
			else
				q->send_free = more;
			i = more;
		}
		if (!(b = blk(q, i)))
			return -EINVAL;
		last = i;
	}
	rest = have == need ? i : 0;
	if (have < need && need - have > q->nblocks + 1 - bump)
		return 0;
	first = have ? q->send_free : bump;
	for (n = 0, i = first, prev = 0; n < need; n++, prev = i, i = next) {
		if (n >= have) {
			i = bump++;
			b = blk(q, i);
			b->next = 0;
			if (prev)
				blk(q, prev)->next = i;
		} else {
			b = blk(q, i);
		}
		next = n + 1 < have ? b->next : 0;
		if (n == 0) {
			m = (struct msg_head *)b;
			m->next_msg = 0;
			m->type = mtype;
			m->len = len;
			m->owner = 0;
			chunk = left < HEAD_DATA ? left : HEAD_DATA;
			memcpy(m->data, src, chunk);
		} else {
			chunk = left < BLOCK_DATA ? left : BLOCK_DATA;
			memcpy(b->data, src, chunk);
		}
		src += chunk;
		left -= chunk;
	}
	txn_begin(&t, q);
	txn_set(&t, &q->sent_num, q->sent_num + 1);
	txn_set(&t, &q->sent_bytes, q->sent_bytes + len);
	txn_set(&t, &q->send_free, rest);
	txn_set(&t, &q->bump, bump);
	txn_set(&t, &q->stime, (uint64_t)uipc__now());
	txn_set(&t, &q->lspid, (uint64_t)uipc__pid());
	txn_set(&t, &q->tail, first);
	/* Last: this store publishes the message to receivers. */
	txn_set(&t, &mhead(q, q->tail)->next_msg, first);
	uipc__txn_commit_to(&q->send_redo, &t);
	return (int64_t)first;
}

/* Read one byte of each page of the caller's buffer, outside the lock. */
static void touch(const char *p, size_t n)
{
	const volatile char *v = p;
	size_t off;

	for (off = 0; off < n; off += 4096)
		(void)v[off];
	if (n)
		(void)v[n - 1];
}

/* The checks that open each round of a send or a receive, queue locked. */
static int round_checks(struct handle *h, const struct creds *c, int perm)
{
	if (uipc__ipcperms(c, &hq(h)->obj.perm, perm))
		return -EACCES;
	if (atomic_load(&hq(h)->obj.state) != OBJ_LIVE)
		return -EIDRM;
	return msg_map_all(h);
}

/* A blocking call's progress through its waits. */
struct wait {
	int slot;		/* its waiter slot, -1 while not registered */
	bool polled;		/* it polled the queue once already */
	bool intr;		/* a signal handler ran during its last sleep */
};

/*
 * One wait of a blocking send or receive for the queue to change: the first
 * time, poll it (unlocked, bounded); then register in a slot (FIFO from
 * then on) and sleep.  Called with the queue locked, returns with it locked;
 * an error means the lock could not be taken again, and the slot is gone.
 */
static int wait_round(struct handle *h, struct wait *wt, enum waiter_state st, int64_t type,
		      uint64_t mode, uint64_t size)
{
	struct msg_queue *q = hq(h);
	int err;

	if (!wt->polled) {
		wt->polled = true;
		return poll_queue(h, st == W_RECV);
	}
	if (wt->slot < 0) {
		wt->slot = waiter_register(q, st, type, mode, size);
		/*
		 * A sender on the fast way (send_fast) does not look at the
		 * waiter table before it has linked its message.  Passing
		 * through the send lock after registering orders this
		 * receiver with every such sender: one that took the lock
		 * before has linked its message, and the receiver looks at
		 * the queue once more before it sleeps; one that takes it
		 * after sees the registration and hands its message over.
		 */
		if (wt->slot >= 0 && st == W_RECV) {
			if (send_lock(h, true) == 0)
				send_unlock(h);
			return 0;
		}
	} else {
		atomic_store(&q->w[wt->slot].futex, 0);
	}
	uipc__unlock(h);
	wt->intr = waiter_sleep(q, wt->slot) == -EINTR;
	if ((err = uipc__lock(h)) && wt->slot >= 0)
		pthread_mutex_unlock(&q->w[wt->slot].alive);
	return err;
}

/* The end of a send or a receive: give up the slot, unlock. */
static long round_end(struct handle *h, struct wait *wt, long err)
{
	if (wt->slot >= 0)
		waiter_release(hq(h), wt->slot);
	uipc__unlock(h);
	return err;
}

/*
 * Before taking the lock, bring the block the call will most likely touch
 * (the first free one for a send, the first message for a receive) into
 * this CPU's cache: its last writer was the other side, and a miss taken
 * here does not lengthen the time the lock is held.  The read is racy and
 * only a hint; the index is checked like any other.
 */
static void prefetch_block(struct handle *h, const uint64_t *index, bool for_write)
{
	struct msg_queue *q = hq(h);
	uint64_t i = __atomic_load_n(index, __ATOMIC_RELAXED);
	struct msg_block *b;

	if (!i || i > q->nblocks || BLOCKS_OFF + i * BLOCK > atomic_load(&h->len))
		return;
	b = blk(q, i);
	if (for_write)
		__builtin_prefetch(b, 1);
	else
		__builtin_prefetch(b, 0);
}

/* Find the message before mi; false if mi is not in the list. */
static bool find_prev(struct msg_queue *q, uint64_t mi, uint64_t *prev)
{
	uint64_t i, p = q->head, steps = 0;
	struct msg_head *m = mhead(q, p);

	if (!m)
		return false;
	for (i = next_of(m); i && i != mi; p = i, i = next_of(m))
		if (!(m = mhead(q, i)) || ++steps > q->nblocks)
			return false;
	*prev = p;
	return i == mi && mi != 0;
}

/*
 * A receiver registered while this sender linked message mi on the fast
 * way: offer mi to the waiters as a slow send would have, if it is still
 * queued and free.  The send is done whatever happens here.
 */
static long hand_off_late(struct handle *h, uint64_t mi)
{
	uint64_t prev;
	struct msg_head *m;

	if (uipc__lock(h))
		return 0;
	if (!msg_map_all(h) && find_prev(hq(h), mi, &prev) && (m = mhead(hq(h), mi)) &&
	    m->owner == 0)
		hand_off(hq(h), mi);
	uipc__unlock(h);
	return 0;
}

#define SEND_SLOW 1	/* send_fast cannot: take the queue lock */

/*
 * A send the fast way: under the send lock alone, when no receiver waits
 * in the table and the queue has room.  The room is reckoned with the
 * receive counters as the senders last read them (they only grow, so the
 * queue can only be emptier than it looks), read again when the message
 * does not seem to fit.  Returns 0, -errno, or SEND_SLOW.
 */
static long send_fast(struct handle *h, const struct creds *c, long mtype, const char *text,
		      size_t msgsz, int msgflg)
{
	struct msg_queue *q = hq(h);
	bool late = false;
	int64_t mi = 0;
	long err;

	if (any_waiter(q->recv_mask))
		return SEND_SLOW;
	prefetch_block(h, &q->send_free, true);
	if ((err = send_lock(h, false)))
		return err;
	err = SEND_SLOW;
	if (hq(h)->send_dirty)
		goto out;
	if ((err = round_checks(h, c, S_IWUGO)))
		goto out;
	q = hq(h);
	if (!fits_after(q, msgsz, q->seen_num, q->seen_bytes)) {
		q->seen_num = load(&q->recv_num);
		q->seen_bytes = load(&q->recv_bytes);
		err = (msgflg & IPC_NOWAIT) ? -EAGAIN : SEND_SLOW;
		if (!fits_after(q, msgsz, q->seen_num, q->seen_bytes))
			goto out;
	}
	mi = enqueue(q, mtype, text, msgsz);
	err = mi < 0 ? -EINVAL : mi == 0 ? SEND_SLOW : 0;
	if (mi > 0)
		count_op(&q->sends);
	late = mi > 0 && any_waiter(q->recv_mask);	/* see wait_round */
out:
	send_unlock(h);
	return late ? hand_off_late(h, (uint64_t)mi) : err;
}

static long msg_send(struct handle *h, long mtype, const char *text, size_t msgsz, int msgflg)
{
	const struct creds *c = uipc__creds();
	struct wait wt = { -1, false, false };
	struct msg_queue *q;
	int64_t mi;
	long err = send_fast(h, c, mtype, text, msgsz, msgflg);

	if (err != SEND_SLOW)
		return err;
	if ((err = uipc__lock(h)))
		return err;
	for (;;) {
		if ((err = round_checks(h, c, S_IWUGO)))
			break;
		if ((err = send_lock(h, true)))
			break;
		q = hq(h);
		take_kept(q);
		mi = fits(q, msgsz) ? enqueue(q, mtype, text, msgsz) : 0;
		if (mi > 0)
			count_op(&q->sends);
		send_unlock(h);
		err = -EINVAL;
		if (mi < 0)
			break;
		if (mi > 0) {
			hand_off(q, (uint64_t)mi);
			err = 0;
			break;
		}
		err = -EAGAIN;
		if (msgflg & IPC_NOWAIT)
			break;
		if ((err = wait_round(h, &wt, W_SEND, 0, 0, msgsz)))
			return err;
		err = -EIDRM;
		if (atomic_load(&hq(h)->obj.state) != OBJ_LIVE)
			break;
		err = -EINTR;
		if (wt.intr)
			break;
	}
	return round_end(h, &wt, err);
}

static long do_msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg)
{
	const struct msgbuf *mb = msgp;
	struct handle *h;
	long mtype, err;
	int e;

	if (bad_user_ptr(msgp, sizeof(long)))
		return -EFAULT;
	mtype = mb->mtype;
	if ((long)msgsz < 0 || msqid < 0 ||
	    ((long long)msgsz > uipc__limit(LIM_MSGMAX) &&
	     (long long)msgsz > uipc__limit_fresh(LIM_MSGMAX)))
		return -EINVAL;
	if (mtype < 1)
		return -EINVAL;
	if (msgsz && bad_user_ptr(mb->mtext, msgsz))
		return -EFAULT;
	touch(mb->mtext, msgsz);
	h = uipc__handle_get(&msg_ops, msqid, &e);
	if (!h)
		return e;
	err = msg_send(h, mtype, mb->mtext, msgsz, msgflg);
	uipc__handle_put(h);
	return err;
}

/*
 * Give message mi to the caller and dequeue it.  As in Linux, a buffer that
 * cannot be written still consumes the message (EFAULT).
 */
static long take(struct handle *h, uint64_t mi, uint64_t prev, void *msgp, size_t bufsz,
		 bool stamp)
{
	struct msg_queue *q = hq(h);
	struct msg_head *m = mhead(q, mi);
	struct msgbuf *mb = msgp;
	uint64_t n = m->len < bufsz ? m->len : bufsz;
	long r = (long)n;

	if (bad_user_ptr(msgp, sizeof(long)) || (n && bad_user_ptr(mb->mtext, n))) {
		r = -EFAULT;
	} else {
		mb->mtype = m->type;
		if (!copy_out(q, m, mb->mtext, n))
			return -EINVAL;
	}
	if (!dequeue(h, mi, prev, stamp))
		return -EINVAL;
	count_op(&q->receives);
	wake_senders(q);
	return r;
}

static long msg_receive(struct handle *h, void *msgp, size_t bufsz, long msgtyp, int msgflg,
			size_t copy_max)
{
	const struct creds *c = uipc__creds();
	uint64_t mode = convert_mode(&msgtyp, msgflg), prev;
	struct wait wt = { -1, false, false };
	struct msg_queue *q;
	struct msg_head *m;
	struct msgbuf *mb = msgp;
	int64_t mi;
	long err;

	prefetch_block(h, &hq(h)->head, false);
	if ((err = uipc__lock(h)))
		return err;
	for (;;) {
		if ((err = round_checks(h, c, S_IRUGO)))
			break;
		q = hq(h);
		mi = find_msg(q, msgtyp, mode, &prev);
		err = -EINVAL;
		if (mi < 0)
			break;
		if (mi > 0) {
			m = mhead(q, (uint64_t)mi);
			err = -E2BIG;
			if (bufsz < m->len && !(msgflg & MSG_NOERROR))
				break;
			if (!(msgflg & MSG_COPY)) {
				err = take(h, (uint64_t)mi, prev, msgp, bufsz, true);
				break;
			}
			err = -EINVAL;
			if (m->len > copy_max)
				break;
			err = -EFAULT;
			if (bad_user_ptr(msgp, sizeof(long)) || (m->len && bad_user_ptr(mb->mtext, m->len)))
				break;
			mb->mtype = m->type;
			err = copy_out(q, m, mb->mtext, m->len) ? (long)m->len : -EINVAL;
			break;
		}
		err = -ENOMSG;
		if (msgflg & IPC_NOWAIT)
			break;
		if ((err = wait_round(h, &wt, W_RECV, msgtyp, mode,
				      (msgflg & MSG_NOERROR) ? INT_MAX : bufsz)))
			return err;
		if ((err = msg_map_all(h)))
			break;
		q = hq(h);
		/* A message handed over comes first, even after a signal (Linux). */
		if (wt.slot >= 0 && q->w[wt.slot].result > 0) {
			mi = q->w[wt.slot].result;
			err = -EINVAL;
			if (mhead(q, (uint64_t)mi) && find_prev(q, (uint64_t)mi, &prev))
				err = take(h, (uint64_t)mi, prev, msgp, bufsz, false);
			break;
		}
		if (wt.slot >= 0 && q->w[wt.slot].result < 0) {
			err = q->w[wt.slot].result;
			break;
		}
		err = -EIDRM;
		if (atomic_load(&q->obj.state) != OBJ_LIVE)
			break;
		err = -EINTR;
		if (wt.intr)
			break;
	}
	return round_end(h, &wt, err);
}

static long do_msgrcv(int msqid, void *msgp, size_t bufsz, long msgtyp, int msgflg)
{
	size_t copy_max = 0;
	struct handle *h;
	long err;
	int e;

	if (msqid < 0 || (long)bufsz < 0)
		return -EINVAL;
	if (msgflg & MSG_COPY) {
		if ((msgflg & MSG_EXCEPT) || !(msgflg & IPC_NOWAIT))
			return -EINVAL;
		copy_max = (size_t)uipc__limit(LIM_MSGMAX);
		if (bufsz < copy_max)
			copy_max = bufsz;
	}
	h = uipc__handle_get(&msg_ops, msqid, &e);
	if (!h)
		return e;
	err = msg_receive(h, msgp, bufsz, msgtyp, msgflg, copy_max);
	uipc__handle_put(h);
	return err;
}

/* ---- msgctl ---- */

static void fill_ds(struct msg_queue *q, struct msqid_ds *ds)
{
	memset(ds, 0, sizeof(*ds));
	uipc__fill_perm(&ds->msg_perm, &q->obj);
	ds->msg_stime = (time_t)q->stime;
	ds->msg_rtime = (time_t)q->rtime;
	ds->msg_ctime = (time_t)q->obj.ctime;
	ds->__msg_cbytes = cbytes(q);
	ds->msg_qnum = qnum(q);
	ds->msg_qbytes = q->qbytes;
	ds->msg_lspid = (pid_t)q->lspid;
	ds->msg_lrpid = (pid_t)q->lrpid;
}

struct totals {
	uint64_t msgs, bytes;
};

static void add_totals(struct uipc_obj *o, void *arg)
{
	struct msg_queue *q = (struct msg_queue *)o;
	struct totals *t = arg;

	t->msgs += qnum(q);
	t->bytes += cbytes(q);
}

static long msgctl_info(int cmd, struct msginfo *out)
{
	struct msginfo mi;
	struct totals t = { 0, 0 };
	int max, in_use;

	memset(&mi, 0, sizeof(mi));
	mi.msgmni = (int)uipc__limit_fresh(LIM_MSGMNI);
	mi.msgmax = (int)uipc__limit_fresh(LIM_MSGMAX);
	mi.msgmnb = (int)uipc__limit_fresh(LIM_MSGMNB);
	mi.msgssz = MSGSSZ;
	mi.msgseg = MSGSEG;
	max = uipc__for_each(&msg_ops, cmd == MSG_INFO ? add_totals : NULL, &t, &in_use);
	if (cmd == MSG_INFO) {
		mi.msgpool = in_use;
		mi.msgmap = (int)t.msgs;
		mi.msgtql = (int)t.bytes;
	} else {
		mi.msgpool = MSGPOOL_DEFAULT;
		mi.msgmap = MSGMAP_DEFAULT;
		mi.msgtql = MSGTQL_DEFAULT;
	}
	if (bad_user_ptr(out, sizeof(*out)))
		return -EFAULT;
	memcpy(out, &mi, sizeof(mi));
	return max < 0 ? 0 : max;
}

static long msgctl_stat(int msqid, int cmd, struct msqid_ds *buf)
{
	int e;
	struct handle *h = uipc__stat_get(&msg_ops, msqid, cmd != IPC_STAT, cmd == MSG_STAT_ANY, &e);
	struct msqid_ds ds;
	long err;

	if (!h)
		return e;
	/* A read-only view cannot take the locks: read the fields as they are. */
	if (h->writable && (err = uipc__lock(h))) {
		uipc__handle_put(h);
		return err;
	}
	if (h->writable && (err = send_lock(h, true))) {
		uipc__unlock(h);
		uipc__handle_put(h);
		return err;
	}
	fill_ds(hq(h), &ds);
	if (h->writable) {
		send_unlock(h);
		uipc__unlock(h);
	}
	err = cmd == IPC_STAT ? 0 : h->id;
	uipc__handle_put(h);
	if (bad_user_ptr(buf, sizeof(*buf)))
		return -EFAULT;
	memcpy(buf, &ds, sizeof(ds));
	return err;
}

#define MAX_BLOCKS (1ull << 28)

static long msgctl_set(struct handle *h, const struct msqid_ds *in)
{
	const struct creds *c = uipc__creds();
	/* Linux passes msg_qbytes on as an int, compared as unsigned. */
	int qbytes_int = (int)in->msg_qbytes;
	uint64_t qbytes = (uint64_t)(int64_t)qbytes_int, nblocks;
	struct msg_queue *q;
	struct txn t;
	long err;

	if ((unsigned)qbytes_int > (unsigned)uipc__limit_fresh(LIM_MSGMNB) &&
	    !uipc__capable(c, UIPC_CAP_SYS_RESOURCE))
		return -EPERM;
	if ((err = uipc__lock(h)))
		return err;
	if ((err = send_lock(h, true)))
		goto out_unlock;
	q = hq(h);
	err = -EINVAL;
	if (in->msg_perm.uid == (uid_t)-1 || in->msg_perm.gid == (gid_t)-1)
		goto out_unlock_send;
	nblocks = blocks_for_qbytes(qbytes);
	if (nblocks > MAX_BLOCKS || nblocks < qbytes)
		nblocks = MAX_BLOCKS;
	if (nblocks > q->nblocks) {
		if ((err = uipc__grow_file(h, file_size(nblocks))))
			goto out_unlock_send;
		q = hq(h);
	} else {
		nblocks = q->nblocks;
	}
	txn_begin(&t, q);
	txn_set(&t, &q->obj.perm.uid, in->msg_perm.uid);
	txn_set(&t, &q->obj.perm.gid, in->msg_perm.gid);
	txn_set(&t, &q->obj.perm.mode, in->msg_perm.mode & 0777);
	txn_set(&t, &q->qbytes, qbytes);
	txn_set(&t, &q->obj.ctime, (uint64_t)uipc__now());
	txn_set(&t, &q->nblocks, nblocks);
	atomic_store(&q->obj.size, file_size(nblocks));
	uipc__txn_commit(&q->obj, &t);
	/* Sleepers re-check: permissions may now refuse them, room may be there. */
	count_op(&q->receives);
	msg_wake_all(&q->obj);
	err = 0;
out_unlock_send:
	send_unlock(h);
out_unlock:
	uipc__unlock(h);
	if (!err)
		uipc__set_file_mode(h);
	return err;
}

static long msgctl_down(int msqid, int cmd, struct msqid_ds *buf)
{
	struct msqid_ds in;
	struct handle *h;
	long err;
	int e;

	if (cmd == IPC_SET) {
		if (bad_user_ptr(buf, sizeof(*buf)))
			return -EFAULT;
		memcpy(&in, buf, sizeof(in));
	}
	if (!(h = uipc__ctl_get(&msg_ops, msqid, &e)))
		return e;
	if (cmd == IPC_SET) {
		err = msgctl_set(h, &in);
	} else if (!(err = uipc__lock(h))) {
		err = -EIDRM;
		if (atomic_load(&hobj(h)->state) == OBJ_LIVE)
			err = uipc__remove(h, &msg_ops);
		else
			uipc__unlock(h);
	}
	uipc__handle_put(h);
	return err;
}

static long do_msgctl(int msqid, int cmd, struct msqid_ds *buf)
{
	if (msqid < 0 || cmd < 0)
		return -EINVAL;
	/* The commands that read tunables see them as they are now. */
	if (cmd == IPC_INFO || cmd == MSG_INFO || cmd == IPC_SET)
		uipc__limits_expire();
	switch (cmd) {
	case IPC_INFO:
	case MSG_INFO:
		return msgctl_info(cmd, (struct msginfo *)buf);
	case MSG_STAT:
	case MSG_STAT_ANY:
	case IPC_STAT:
		return msgctl_stat(msqid, cmd, buf);
	case IPC_SET:
	case IPC_RMID:
		return msgctl_down(msqid, cmd, buf);
	default:
		return -EINVAL;
	}
}

/* ---- the API ---- */

__attribute__((visibility("default")))
int uipc_msgget(key_t key, int msgflg)
{
	return (int)ret(uipc__get(&msg_ops, key, msgflg, 0));
}

__attribute__((visibility("default")))
int uipc_msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg)
{
	return (int)ret(do_msgsnd(msqid, msgp, msgsz, msgflg));
}

__attribute__((visibility("default")))
ssize_t uipc_msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg)
{
	return ret(do_msgrcv(msqid, msgp, msgsz, msgtyp, msgflg));
}

__attribute__((visibility("default")))
int uipc_msgctl(int msqid, int cmd, struct msqid_ds *buf)
{
	return (int)ret(do_msgctl(msqid, cmd, buf));
}
