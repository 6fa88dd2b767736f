/*
 * msg_wait.c - waiting on a queue: waiter slots, polling, hand-offs.
 *
 * A blocked caller first polls the queue a bounded time without waiting in
 * line (poll_queue); then it takes a slot in the waiter table (FIFO by
 * ticket), holding the slot's robust 'alive' mutex, and sleeps on the
 * slot's futex (waiter_sleep).  A sender hands a new message to the first
 * waiting receiver it matches (hand_off); a receiver wakes the senders
 * whose message now fits (wake_senders).  A slot whose mutex reports its
 * owner dead is freed by whoever meets it (waiter_alive).
 *
 * Locking: with the queue lock held, except the sleeping and polling
 * themselves; wake-ups are made after unlocking (sync.c).
 */
#include <unistd.h>
#include "msg.h"

/* Wake the waiter in slot w (once the queue is unlocked: sync.c). */
static void wake_slot(struct msg_waiter *w)
{
	atomic_store(&w->futex, 1);
	if (atomic_load(&w->sleeping))
		uipc__wake_later(&w->futex, 1);
}

void msg__wake_all(struct uipc_obj *o)
{
	struct msg_queue *q = (struct msg_queue *)o;
	int i;

	for (i = 0; i < MSG_WAITERS; i++)
		if (q->w[i].state != W_FREE)
			wake_slot(&q->w[i]);
	atomic_fetch_add(&q->poll, 1);
	uipc__futex_wake(&q->poll, INT_MAX);
}

/*
 * The oldest waiter in 'state' with a ticket after 'after': for W_RECV, one
 * not yet handed a message that would take a message of type mtype.  -1 if
 * none.
 */
static int oldest_waiter(struct msg_queue *q, enum waiter_state state, int64_t mtype,
			 uint64_t after)
{
	uint64_t *mask = state == W_RECV ? q->recv_mask : q->send_mask, bits;
	int i, word, best = -1;

	for_each_slot(mask, i, bits, word) {
		struct msg_waiter *w = &q->w[i];
		if (w->state != state || w->ticket <= after)
			continue;
		if (state == W_RECV && (w->result != 0 || !msg__testmsg(mtype, w->type, w->mode)))
			continue;
		if (best < 0 || w->ticket < q->w[best].ticket)
			best = i;
	}
	return best;
}

/*
 * Before a change that may serve a waiter: wake it now, the receiver the
 * message of type mtype would be handed to (receiver), or the oldest
 * sender (a message is about to leave), so that it comes to the lock.  The
 * wake-ups this holder decides are made after it unlocks; were it to die
 * before, the kernel would hand that waiter the dead lock, and its recovery
 * would serve everyone.
 */
void msg__prewake(struct msg_queue *q, bool receiver, int64_t mtype)
{
	int best;

	if (!any_waiter(receiver ? q->recv_mask : q->send_mask))
		return;
	best = oldest_waiter(q, receiver ? W_RECV : W_SEND, mtype, 0);
	if (best >= 0) {
		atomic_store(&q->w[best].futex, 1);
		if (atomic_load(&q->w[best].sleeping))
			uipc__futex_wake(&q->w[best].futex, 1);
	}
}

/* ---- waiters ---- */

/* The word of the registration mask that holds slot i. */
static uint64_t *wmask(struct msg_queue *q, uint64_t state, int i)
{
	return &(state == W_RECV ? q->recv_mask : q->send_mask)[i / 64];
}

/*
 * Is the waiter in slot i alive?  If its thread died, free the slot and
 * release the message handed to it.  Called with the queue locked.
 */
bool msg__waiter_alive(struct msg_queue *q, int i)
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

int msg__waiter_register(struct msg_queue *q, enum waiter_state state, int64_t type,
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
		FAULT_STEP();
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

void msg__waiter_release(struct msg_queue *q, int i)
{
	struct msg_waiter *w = &q->w[i];
	struct txn t;

	txn_begin(&t, q);
	txn_set(&t, &w->state, W_FREE);
	txn_set(&t, wmask(q, w->state, i), *wmask(q, w->state, i) & ~(1ull << (i % 64)));
	uipc__txn_commit(&q->obj, &t);
	FAULT_STEP();
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
int msg__waiter_sleep(struct msg_queue *q, int slot)
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

int msg__poll_queue(struct handle *h, bool receiver)
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

/* Wake the sleeping senders whose message now fits (the kernel's ss_wakeup). */
void msg__wake_senders(struct msg_queue *q)
{
	uint64_t bits;
	int i, word;

	if (!any_waiter(q->send_mask))
		return;
	for_each_slot(q->send_mask, i, bits, word)
		if (q->w[i].state == W_SEND && fits(q, q->w[i].size) && msg__waiter_alive(q, i))
			wake_slot(&q->w[i]);
	atomic_fetch_add(&q->poll, 1);
}

/*
 * After a death: offer the queued messages nobody was handed, in order, to
 * the waiting receivers, as their senders would have (a sender killed
 * between its commit and its hand-off leaves its message queued while a
 * receiver waits).  Called with the queue lock held.
 */
void msg__offer_queued(struct msg_queue *q)
{
	uint64_t i, steps = 0;
	struct msg_head *m = mhead(q, q->head);

	for (i = m ? next_of(m) : 0; i && any_waiter(q->recv_mask) && steps++ <= q->nblocks;
	     i = next_of(m)) {
		if (!(m = mhead(q, i)))
			return;
		if (!m->owner)
			msg__hand_off(q, i);
	}
}

/*
 * Offer the new message mi to the waiting receivers, oldest first (the
 * kernel's pipelined_send).  A receiver whose buffer is too small gets E2BIG
 * and the next one is tried.
 */
void msg__hand_off(struct msg_queue *q, uint64_t mi)
{
	struct msg_head *m = mhead(q, mi);
	uint64_t done = 0;
	struct txn t;
	int best;

	while (any_waiter(q->recv_mask)) {
		best = oldest_waiter(q, W_RECV, m->type, done);
		if (best < 0 || !msg__waiter_alive(q, best)) {
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
