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
 * derived state, counted again from the list by msg__rebuild() after a death.  So
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
 * Files:  msg.c has the calls; msg_list.c the list, its blocks and the send
 * lock; msg_wait.c the waiters; msg.h what they share.
 *
 * EFAULT:  the caller's buffers are checked as the kernel's copies would
 * check them (uaccess.c: process_vm_readv/writev the first time a page is
 * used, nothing after): the sender's before it locks the queue, the
 * receiver's before it copies the message (which it consumes even then, as
 * Linux does).  A page unmapped after it was used faults like memcpy; the
 * receiver writes the caller's buffer before it commits, so even that
 * never damages the queue.
 */
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "msg.h"

/*
 * The fields of the caller's struct msgbuf, by address only: the pointer
 * may be NULL or bad (EFAULT), so it is never dereferenced to get them.
 */
#define MTYPE(mb) ((long *)(uintptr_t)(mb))
#define MTEXT(mb) ((char *)((uintptr_t)(mb) + offsetof(struct msgbuf, mtext)))

/* Compile-time values Linux reports in IPC_INFO (include/uapi/linux/msg.h). */
#define MSGPOOL_DEFAULT (32000 * 16384 / 1024)
#define MSGMAP_DEFAULT 16384
#define MSGTQL_DEFAULT 16384
#define MSGSSZ 16
#define MSGSEG 0xffff

static const struct obj_ops msg_ops;

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

/* The mapping must cover every block: another process may have grown it. */
int msg__map_all(struct handle *h)
{
	uint64_t n = hq(h)->nblocks;

	if (n > (1ull << 33))
		return -EINVAL;
	return uipc__handle_ensure(h, file_size(n));
}

/* After a death under the queue lock (its log replayed): count again. */
static void msg_recover(struct handle *h)
{
	if (msg__send_lock(h, false) < 0)
		return;
	msg__rebuild(h);
	msg__send_unlock(h);
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
	.wake_all = msg__wake_all,
	.recover = msg_recover,
	.check = msg__check,
};

const struct obj_ops *uipc__msg_ops(void)
{
	return &msg_ops;
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
	return msg__map_all(h);
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
		return msg__poll_queue(h, st == W_RECV);
	}
	if (wt->slot < 0) {
		wt->slot = msg__waiter_register(q, st, type, mode, size);
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
			if (msg__send_lock(h, true) == 0)
				msg__send_unlock(h);
			return 0;
		}
	} else {
		atomic_store(&q->w[wt->slot].futex, 0);
	}
	uipc__unlock(h);
	wt->intr = msg__waiter_sleep(q, wt->slot) == -EINTR;
	if ((err = uipc__lock(h)) && wt->slot >= 0)
		pthread_mutex_unlock(&q->w[wt->slot].alive);
	return err;
}

/* The end of a send or a receive: give up the slot, unlock. */
static long round_end(struct handle *h, struct wait *wt, long err)
{
	if (wt->slot >= 0)
		msg__waiter_release(hq(h), wt->slot);
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
	if (!msg__map_all(h) && msg__find_prev(hq(h), mi, &prev) && (m = mhead(hq(h), mi)) &&
	    m->owner == 0)
		msg__hand_off(hq(h), mi);
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
	if ((err = msg__send_lock(h, false)))
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
	mi = msg__enqueue(q, mtype, text, msgsz);
	err = mi < 0 ? -EINVAL : mi == 0 ? SEND_SLOW : 0;
	if (mi > 0)
		count_op(&q->sends);
	late = mi > 0 && any_waiter(q->recv_mask);	/* see wait_round */
out:
	msg__send_unlock(h);
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
		if ((err = msg__send_lock(h, true)))
			break;
		q = hq(h);
		msg__take_kept(q);
		mi = 0;
		if (fits(q, msgsz)) {
			msg__prewake(q, true, mtype);
			mi = msg__enqueue(q, mtype, text, msgsz);
		}
		if (mi > 0)
			count_op(&q->sends);
		msg__send_unlock(h);
		err = -EINVAL;
		if (mi < 0)
			break;
		if (mi > 0) {
			msg__hand_off(q, (uint64_t)mi);
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

	if (uipc__copy_in(&mtype, MTYPE(mb), sizeof(mtype)))
		return -EFAULT;
	if ((long)msgsz < 0 || msqid < 0 ||
	    ((long long)msgsz > uipc__limit(LIM_MSGMAX) &&
	     (long long)msgsz > uipc__limit_fresh(LIM_MSGMAX)))
		return -EINVAL;
	if (mtype < 1)
		return -EINVAL;
	if (uipc__user_readable(MTEXT(mb), msgsz))
		return -EFAULT;
	touch(MTEXT(mb), msgsz);
	h = uipc__handle_get(&msg_ops, msqid, &e);
	if (!h)
		return e;
	err = msg_send(h, mtype, MTEXT(mb), msgsz, msgflg);
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
	long r = (long)n, mtype = m->type;

	if (uipc__copy_out(MTYPE(mb), &mtype, sizeof(mtype)) ||
	    uipc__user_writable(MTEXT(mb), n)) {
		r = -EFAULT;
	} else if (!msg__copy_out(q, m, MTEXT(mb), n)) {
		return -EINVAL;
	}
	msg__prewake(q, false, 0);
	if (!msg__dequeue(h, mi, prev, stamp))
		return -EINVAL;
	count_op(&q->receives);
	msg__wake_senders(q);
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
	long mtype;
	long err;

	prefetch_block(h, &hq(h)->head, false);
	if ((err = uipc__lock(h)))
		return err;
	for (;;) {
		if ((err = round_checks(h, c, S_IRUGO)))
			break;
		q = hq(h);
		mi = msg__find_msg(q, msgtyp, mode, &prev);
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
			mtype = m->type;
			if (uipc__copy_out(MTYPE(mb), &mtype, sizeof(mtype)) ||
			    uipc__user_writable(MTEXT(mb), m->len))
				break;
			err = msg__copy_out(q, m, MTEXT(mb), m->len) ? (long)m->len : -EINVAL;
			break;
		}
		/* A sender died under the send lock: its message may be due. */
		if (__atomic_load_n(&q->send_lock.__data.__lock, __ATOMIC_RELAXED) & FUTEX_OWNER_DIED) {
			if ((err = msg__send_lock(h, true)))
				break;
			msg__send_unlock(h);
			continue;
		}
		err = -ENOMSG;
		if (msgflg & IPC_NOWAIT)
			break;
		if ((err = wait_round(h, &wt, W_RECV, msgtyp, mode,
				      (msgflg & MSG_NOERROR) ? INT_MAX : bufsz)))
			return err;
		if ((err = msg__map_all(h)))
			break;
		q = hq(h);
		/* A message handed over comes first, even after a signal (Linux). */
		if (wt.slot >= 0 && q->w[wt.slot].result > 0) {
			mi = q->w[wt.slot].result;
			err = -EINVAL;
			if (mhead(q, (uint64_t)mi) && msg__find_prev(q, (uint64_t)mi, &prev))
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
	if (h->writable && (err = msg__send_lock(h, true))) {
		uipc__unlock(h);
		uipc__handle_put(h);
		return err;
	}
	fill_ds(hq(h), &ds);
	if (h->writable) {
		msg__send_unlock(h);
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
	if ((err = msg__send_lock(h, true)))
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
	msg__wake_all(&q->obj);
	err = 0;
out_unlock_send:
	msg__send_unlock(h);
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
	uipc__limits_expire();
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
