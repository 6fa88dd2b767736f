/*
 * msg_list.c - a queue's messages: the list, its blocks, the send lock.
 *
 * The list starts with a dummy block; senders link after the tail under
 * the send lock (enqueue), receivers move the head or unlink under the
 * queue lock (dequeue); free blocks go from receivers to senders in batches
 * (give_back, take_kept); after a death everything but the list is counted
 * again (rebuild).  msg.c's opening comment has the whole design.
 *
 * Locking: enqueue with the send lock held; everything else with the queue
 * lock held (and the send lock too where said).
 */
#include <stdlib.h>
#include "msg.h"

/*
 * Walk the message list from the dummy at 'head', marking the blocks it
 * uses in 'used' (a bit per block), counting its messages and bytes.  A
 * message whose chain leaves the file, or reuses a block, is where the
 * damage starts: with 'cut' the list is cut there, else the walk stops and
 * reports it.  Returns false when the list was damaged.  *last gets the last
 * message (the tail), *top one past the highest block used.
 */
struct list_walk {
	uint64_t num, bytes, last, top;
};

static bool walk_list(struct msg_queue *q, uint8_t *used, struct list_walk *w, bool cut)
{
	uint64_t n = q->nblocks, i, k, c, prev = q->head;
	struct msg_head *m;
	uint64_t *link;

	*w = (struct list_walk){ 0, 0, prev, prev + 1 };
	used[prev / 8] |= (uint8_t)(1u << (prev % 8));
	link = &mhead(q, prev)->next_msg;
	for (i = *link; i; prev = i, link = &m->next_msg, i = m->next_msg) {
		m = mhead(q, i);
		for (k = i, c = m ? blocks_for_len(m->len) : 0; c && c <= n; c--, k = blk(q, k)->next) {
			if (!blk(q, k) || used[k / 8] & (1u << (k % 8)))
				break;
			used[k / 8] |= (uint8_t)(1u << (k % 8));
			if (k >= w->top)
				w->top = k + 1;
		}
		if (!m || c) {	/* damaged: the list ends before this message */
			w->last = prev;
			if (cut)
				*link = 0;
			return false;
		}
		w->num++;
		w->bytes += m->len;
	}
	w->last = prev;
	return true;
}

/*
 * Count everything again from the message list: the list (the dummy at
 * 'head' and the next_msg links, changed only through the redo logs) is the
 * truth, the rest is derived from it: tail, the send side's counters, the
 * free blocks and bump.  A list or a chain that is damaged is cut where the
 * damage starts.  Called with both locks held, after a death.
 */
void msg__rebuild(struct handle *h)
{
	uint64_t n, k, bump, free_list = 0;
	struct list_walk w;
	struct msg_queue *q;
	uint8_t *used;

	if (msg__map_all(h) || !(used = calloc(hq(h)->nblocks / 8 + 1, 1)))
		return;
	q = hq(h);
	n = q->nblocks;
	if (!mhead(q, q->head)) {
		if (!blk(q, 1)) {
			free(used);
			return;
		}
		q->head = 1;
		mhead(q, 1)->next_msg = 0;
	}
	walk_list(q, used, &w, true);
	bump = q->bump > w.top ? q->bump : w.top;
	if (bump > n + 1)
		bump = n + 1;
	for (k = bump - 1; k >= 1; k--)
		if (!(used[k / 8] & (1u << (k % 8)))) {
			blk(q, k)->next = free_list;
			free_list = k;
		}
	free(used);
	q->tail = w.last;
	q->sent_num = q->recv_num + w.num;
	q->sent_bytes = q->recv_bytes + w.bytes;
	q->seen_num = q->recv_num;
	q->seen_bytes = q->recv_bytes;
	q->send_free = free_list;
	atomic_store(&q->recv_free, 0);
	q->keep_head = q->keep_tail = q->keep_count = 0;
	q->bump = bump;
	q->send_dirty = 0;
	msg__offer_queued(q);
}

/*
 * Count the free blocks of a chain into 'used' (each must be below bump
 * and in no message nor other chain); false if the chain is damaged.
 */
static bool walk_free(struct msg_queue *q, uint64_t i, uint8_t *used, uint64_t *count)
{
	for (; i; i = blk(q, i)->next) {
		if (!blk(q, i) || i >= q->bump || used[i / 8] & (1u << (i % 8)))
			return false;
		used[i / 8] |= (uint8_t)(1u << (i % 8));
		++*count;
	}
	return true;
}

/*
 * uipc check: the message list is whole, the counters and the tail are
 * the ones it implies, and every block below bump is in a message or in
 * exactly one free chain.  With repair, msg__rebuild() makes it so (cutting
 * a damaged list).  Called with the queue lock held; takes the send lock.
 */
int msg__check(struct handle *h, struct check_log *log)
{
	uint64_t free_blocks = 0, k, in_use = 0;
	struct list_walk w;
	struct msg_queue *q;
	int problems = 0;
	uint8_t *used;
	bool whole;

	if (uipc__holder_died(&hq(h)->send_lock)) {
		problems += uipc__check_say(log, "its send lock holder died in a call%s",
					    log->repair ? ": its change was rolled forward or back" :
					    ": its change is rolled forward or back at the next use");
		if (!log->repair)
			return problems;
	}
	if (hq(h)->send_dirty && !log->repair)	/* taking the send lock would count */
		return problems + uipc__check_say(log, "its free blocks are counted again at the "
						   "next use (a sender died)");
	if (msg__send_lock(h, true) < 0 || msg__map_all(h) < 0)
		return -1;
	q = hq(h);
	if (!mhead(q, q->head) || !(used = calloc(q->nblocks / 8 + 1, 1))) {
		msg__send_unlock(h);
		return -1;
	}
	whole = walk_list(q, used, &w, false);
	if (!whole)
		problems += uipc__check_say(log, "the message list is damaged after %llu messages",
					    (unsigned long long)w.num);
	if (whole && (q->tail != w.last || qnum(q) != w.num || cbytes(q) != w.bytes))
		problems += uipc__check_say(log,
			"counters say %llu messages (%llu bytes), the list holds %llu (%llu bytes)",
			(unsigned long long)qnum(q), (unsigned long long)cbytes(q),
			(unsigned long long)w.num, (unsigned long long)w.bytes);
	for (k = 1; k < w.top; k++)
		in_use += (used[k / 8] >> (k % 8)) & 1;
	if (whole && (w.top > q->bump || !walk_free(q, q->send_free, used, &free_blocks) ||
		      !walk_free(q, atomic_load(&q->recv_free), used, &free_blocks) ||
		      !walk_free(q, q->keep_head, used, &free_blocks) ||
		      in_use + free_blocks != q->bump - 1))
		problems += uipc__check_say(log, "the free blocks are not what the list leaves");
	free(used);
	if (problems && log->repair) {
		msg__rebuild(h);
		uipc__check_say(log, "counted again from the list%s", whole ? "" :
				", which was cut where it was damaged");
	}
	msg__send_unlock(h);
	return problems;
}

/*
 * Take the send lock.  If its holder died, replay its log (the send side's
 * truth is whole again) and mark the free blocks to be counted again, which
 * needs the queue lock too: done here when the caller holds it (have_queue),
 * else by the next caller that does (senders take the slow way meanwhile).
 */
int msg__send_lock(struct handle *h, bool have_queue)
{
	struct msg_queue *q = hq(h);
	int r = uipc__lock_mutex(h, &q->send_lock);

	if (r < 0)
		return r;
	if (r == 1) {
		uipc__redo_replay(&q->obj, &q->send_redo, atomic_load(&h->len), &q->send_lock);
		q->send_dirty = 1;
		pthread_mutex_consistent(&q->send_lock);
	}
	if (have_queue && hq(h)->send_dirty)
		msg__rebuild(h);
	return 0;
}

void msg__send_unlock(struct handle *h)
{
	FAULT_STEP();
	pthread_mutex_unlock(&hq(h)->send_lock);
}

bool msg__testmsg(int64_t mtype, int64_t type, uint64_t mode)
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

/*
 * Find a free message as the kernel's msg__find_msg(): messages handed to a live
 * waiter are not free.  Sets *prev to the message before it.  Returns 0 if
 * none, or -EINVAL for a damaged list.
 */
int64_t msg__find_msg(struct msg_queue *q, int64_t type, uint64_t mode, uint64_t *prev_out)
{
	uint64_t i, prev = q->head, found = 0, found_prev = 0, steps = 0;
	int64_t count = 0;
	struct msg_head *m = mhead(q, prev);

	if (!m)
		return -EINVAL;
	for (i = next_of(m); i; prev = i, i = next_of(m)) {
		if (!(m = mhead(q, i)) || ++steps > q->nblocks)
			return -EINVAL;
		if (m->owner && m->owner <= MSG_WAITERS && msg__waiter_alive(q, (int)m->owner - 1))
			continue;
		if (!msg__testmsg(m->type, type, mode))
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
bool msg__copy_out(struct msg_queue *q, struct msg_head *m, char *dst, uint64_t n)
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
void msg__take_kept(struct msg_queue *q)
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
bool msg__dequeue(struct handle *h, uint64_t mi, uint64_t prev, bool set_receiver)
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
			if (msg__send_lock(h, true))
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
		msg__send_unlock(h);
	give_back(q, first_free, last, blocks_for_len(m->len));
	return true;
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
int64_t msg__enqueue(struct msg_queue *q, long mtype, const char *src, uint64_t len)
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

/* Find the message before mi; false if mi is not in the list. */
bool msg__find_prev(struct msg_queue *q, uint64_t mi, uint64_t *prev)
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
