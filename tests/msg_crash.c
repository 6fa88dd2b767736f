/*
 * msg_crash.c - message queues survive processes killed at any instruction.
 *
 * Design.  NQ queues, NSEND sender and NRECV receiver processes.  Senders
 * block or use IPC_NOWAIT at random; half the receivers never block (they
 * keep the queues moving), the others block half the time, with msgtyp 0,
 * k, -k, MSG_EXCEPT, MSG_NOERROR, MSG_COPY and short buffers.  The parent SIGKILLs a
 * random worker (sometimes two or three at once) at random moments and
 * starts a new one in its place, UIPC_CRASH_KILLS times (default 300).  Then it stops the workers, checks
 * that none is stuck, drains the queues in a new process (exec of this
 * program with --drain) and accounts for every message.
 *
 * Messages.  Every incarnation of a sender has its own id s (0 is the parent,
 * which sends the wake-up messages of the end phase) and numbers its messages
 * 0, 1, 2...  A message's queue, type, size (0..2000 bytes) and content are a
 * function of (s, seq), so any receiver can regenerate and compare it.  A
 * message of 16 bytes or more starts with {s, seq, size, checksum} and has a
 * type 1..NTYPES; a shorter one carries (s, seq) in its type, TINY_BASE +
 * (s << 14) + seq, which no negative-type selector of the receivers reaches.
 *
 * Bookkeeping, in a MAP_SHARED anonymous region.  A sender stores "in call,
 * seq" before msgsnd and "acked = seq + 1, idle" after it returns 0; a seq
 * is used again after EAGAIN.  A receiver stores its call (queue, msgtyp,
 * msgflg, size) and "in call" before msgrcv and, once it returned, counts the
 * message in a per-(s, seq) counter, then "idle", then checks the content.
 * When the parent kills a worker it reads its state: a sender killed in call
 * leaves one message of unknown fate (seq = acked), a receiver killed in call
 * may have taken a message that it never counted.
 *
 * End.  'stop' is set; workers exit before their next call.  Those blocked in
 * a call must come out: the parent takes messages from the queues while a
 * sender lives and sends messages of every type to every queue while a
 * receiver lives, and fails the test if a worker is still there after
 * END_BOUND seconds (a hang detector, not a timing requirement).  A new
 * process then checks every queue: IPC_STAT's msg_qnum and __msg_cbytes equal
 * what msgrcv drains, the queue is empty after, a message can be sent and
 * received, and a receiver blocked in msgrcv gets EIDRM from IPC_RMID.
 *
 * Checks.  Every acknowledged message was received or drained exactly once,
 * except at most one per receiver killed in call (reported): each lost
 * message is matched to a different killed call that could have taken it
 * (same queue, selector matching its type, buffer large enough); a message of
 * unknown fate at most once; no message twice, none with a bad checksum or
 * content, none from the wrong queue, none that its sender had not started to
 * send, none that does not match the receiver's selector (type, -type,
 * MSG_EXCEPT); no error other than those the call may give (EAGAIN, ENOMSG
 * with IPC_NOWAIT, E2BIG with a short buffer); IPC_STAT consistent during the
 * run (msg_cbytes <= msg_qbytes, no bytes without messages).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uipc.h"
#include "t.h"
#include "crash.h"

#define NQ 3			/* queues */
#define NSEND 4			/* sender processes at any time */
#define NRECV 4			/* receiver processes at any time */
#define NTYPES 5		/* types of messages of HDR bytes or more */
#define HDR 16			/* {s, seq, size, csum} */
#define MAXMSG 2000
#define MAXSEQ 16384		/* messages per sender incarnation */
#define SEQ_BITS 14
#define TINY_BASE (1L << 30)	/* + (s << 14) + seq, fits a 32-bit long */
#define MAX_IDS 65535
#define AVG_KILL_US 35000	/* mean time between two kills */
#define END_BOUND 10		/* seconds: hang detector of the end phase */

enum { IDLE = 0, IN_CALL = 1 };

struct sender {
	_Atomic int state;
	_Atomic uint32_t inflight;	/* seq of the current/last call */
	_Atomic uint32_t acked;		/* seqs below were sent */
	int unknown;			/* parent: killed in call, seq = acked */
};

struct receiver {
	_Atomic int state;
	/* The current/last call: queue, msgtyp, msgflg, buffer size. */
	_Atomic int q;
	_Atomic long typ;
	_Atomic int flags;
	_Atomic size_t bufsz;
	pid_t pid;
};

struct shared {
	_Atomic int stop;
	_Atomic int next_id;		/* sender ids handed out */
	_Atomic unsigned long long received, copied;
	int qid[NQ];
	struct worker_errors errs;
	struct receiver recv[NRECV];
	struct sender snd[];		/* [max_ids] */
};

static struct shared *sh;
static _Atomic uint8_t *cnt;		/* [max_ids * MAXSEQ] */
static int max_ids;

struct rmsg {
	long mtype;
	unsigned char mtext[MAXMSG + 64];
};

/* ---- deterministic messages ---- */

struct mdesc {
	int q;
	long type;
	size_t size;
	uint64_t h;
};

static void describe(uint32_t s, uint32_t seq, struct mdesc *d)
{
	uint64_t h = mix64(((uint64_t)s << 32) | seq);

	d->h = h;
	if (s == 0) {	/* the parent's wake-up messages: every queue, type */
		d->q = seq % NQ;
		d->type = (seq / NQ) % NTYPES + 1;
		d->size = HDR + seq % 32;
		return;
	}
	d->q = h % NQ;
	unsigned r = (h >> 8) % 100;
	if (r < 5)
		d->size = 0;
	else if (r < 10)
		d->size = 1 + (h >> 16) % (HDR - 1);
	else
		d->size = HDR + (h >> 16) % (MAXMSG - HDR + 1);
	if (d->size < HDR)
		d->type = TINY_BASE + ((long)s << SEQ_BITS) + seq;
	else
		d->type = 1 + (h >> 40) % NTYPES;
}

/* The payload bytes: a xorshift stream seeded by the message's hash. */
static void pattern(uint64_t h, unsigned char *p, size_t n)
{
	uint64_t x = h | 1;
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		p[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

static uint32_t checksum(const unsigned char *p, size_t n)
{
	uint32_t c = 2166136261u;
	for (size_t i = 0; i < n; i++)
		c = (c ^ p[i]) * 16777619u;
	return c;
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Builds message (s, seq); returns its size. */
static size_t build(uint32_t s, uint32_t seq, struct rmsg *m, int *q)
{
	struct mdesc d;

	describe(s, seq, &d);
	m->mtype = d.type;
	if (d.size < HDR) {
		pattern(d.h, m->mtext, d.size);
	} else {
		put32(m->mtext, s);
		put32(m->mtext + 4, seq);
		put32(m->mtext + 8, (uint32_t)d.size);
		pattern(d.h, m->mtext + HDR, d.size - HDR);
		put32(m->mtext + 12, checksum(m->mtext + HDR, d.size - HDR) ^
			s ^ (seq * 7u) ^ ((uint32_t)d.size * 13u));
	}
	*q = d.q;
	return d.size;
}

/* Identifies a received message of n bytes: NULL and (s, seq), or what is wrong. */
static const char *identify(const struct rmsg *m, size_t n, uint32_t *ps, uint32_t *pseq)
{
	uint32_t s, seq;

	if (m->mtype >= TINY_BASE) {
		s = (uint32_t)((m->mtype - TINY_BASE) >> SEQ_BITS);
		seq = (uint32_t)((m->mtype - TINY_BASE) & (MAXSEQ - 1));
	} else if (m->mtype >= 1 && m->mtype <= NTYPES) {
		if (n < HDR)
			return "message of a body type shorter than its header";
		s = get32(m->mtext);
		seq = get32(m->mtext + 4);
	} else {
		return "message with an unknown type";
	}
	if (s >= (uint32_t)max_ids || seq >= MAXSEQ)
		return "message from an unknown sender or seq";
	*ps = s;
	*pseq = seq;
	return NULL;
}

/*
 * Identifies and checks a received message: n bytes returned by msgrcv on
 * queue q with a buffer of bufsz bytes (truncated: MSG_NOERROR).  Returns
 * NULL and (s, seq), or what is wrong.
 */
static const char *verify(const struct rmsg *m, size_t n, size_t bufsz, int truncated,
			  int q, uint32_t *ps, uint32_t *pseq)
{
	static struct rmsg ref;
	const char *bad = identify(m, n, ps, pseq);
	uint32_t s = *ps, seq = *pseq;
	int rq;

	if (bad)
		return bad;
	size_t size = build(s, seq, &ref, &rq);
	if (ref.mtype != m->mtype)
		return "type does not match the message's (s, seq)";
	if (rq != q)
		return "message received from another queue than it was sent to";
	size_t want = size;
	if (truncated && bufsz < size)
		want = bufsz;
	if (n != want)
		return "wrong size";
	if (size >= HDR && !truncated) {
		uint32_t c = checksum(m->mtext + HDR, size - HDR) ^ s ^ (seq * 7u) ^
			     ((uint32_t)size * 13u);
		if (get32(m->mtext + 8) != size || get32(m->mtext + 12) != c)
			return "bad checksum";
	}
	if (memcmp(ref.mtext, m->mtext, n) != 0)
		return "content differs from what was sent";
	return NULL;
}

/* ---- workers ---- */

/* Counts message (s, seq): checks that its sender had started to send it. */
static void count(uint32_t s, uint32_t seq, const char *who)
{
	if (s >= (uint32_t)atomic_load(&sh->next_id) || seq > (uint32_t)atomic_load(&sh->snd[s].inflight))
		werr("%s: received message (%u, %u) that was never sent", who, s, seq);
	atomic_fetch_add(&cnt[(size_t)s * MAXSEQ + seq], 1);
	atomic_fetch_add(&sh->received, 1);
}

static void worker_setup(uint64_t seed)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rng_state = mix64(seed) | 1;
}

static void __attribute__((noreturn)) sender_main(uint32_t s)
{
	struct sender *me = &sh->snd[s];
	static struct rmsg m;
	uint32_t seq = 0;
	int q;

	worker_setup(((uint64_t)getpid() << 20) ^ s);
	while (!atomic_load(&sh->stop) && seq < MAXSEQ) {
		size_t size = build(s, seq, &m, &q);
		int nowait = rnd() & 1;
		atomic_store(&me->inflight, seq);
		atomic_store(&me->state, IN_CALL);
		int r = uipc_msgsnd(sh->qid[q], &m, size, nowait ? IPC_NOWAIT : 0);
		int e = errno;
		if (r == 0) {
			atomic_store(&me->acked, seq + 1);
			atomic_store(&me->state, IDLE);
			seq++;
			continue;
		}
		atomic_store(&me->state, IDLE);
		if (r == -1 && e == EAGAIN && nowait)
			continue;
		werr("sender %u: msgsnd(q%d, size %zu, %s) = %d errno %s", s, q, size,
		     nowait ? "IPC_NOWAIT" : "0", r, strerror(e));
		_exit(1);
	}
	_exit(0);
}

static void __attribute__((noreturn)) receiver_main(int slot)
{
	struct receiver *me = &sh->recv[slot];
	static struct rmsg m;
	char who[32];

	/*
	 * Half the receivers never block: they keep the queues moving while the
	 * others wait for types that may not come (and would otherwise leave
	 * everybody blocked until the next kill).
	 */
	int busy = slot < NRECV / 2;

	snprintf(who, sizeof(who), "receiver %d", (int)getpid());
	worker_setup(((uint64_t)getpid() << 20) ^ (uint64_t)slot ^ 0xabcdef);
	while (!atomic_load(&sh->stop)) {
		int q = rnd() % NQ;
		int mode = rnd() % 9;
		int flags = (busy || (rnd() & 1)) ? IPC_NOWAIT : 0;
		long k = 1 + rnd() % NTYPES, typ = 0;
		size_t bufsz = MAXMSG + 64;

		switch (mode) {
		case 0: typ = 0; break;
		case 1: typ = k; break;
		case 2: typ = -k; break;
		case 3: typ = k; flags |= MSG_EXCEPT; break;
		case 4: typ = -LONG_MAX; break;
		case 5: bufsz = HDR + rnd() % 200; break;	/* may be E2BIG */
		case 6: bufsz = HDR + rnd() % 200; flags |= MSG_NOERROR;
			typ = (rnd() & 1) ? k : 0; break;
		case 7: typ = TINY_BASE + (long)(rnd() % TINY_BASE); flags |= MSG_EXCEPT; break;
		case 8: typ = (long)(rnd() % 8); flags = IPC_NOWAIT | MSG_COPY; break;
		}
		atomic_store(&me->q, q);
		atomic_store(&me->typ, typ);
		atomic_store(&me->flags, flags);
		atomic_store(&me->bufsz, bufsz);
		atomic_store(&me->state, IN_CALL);
		ssize_t n = uipc_msgrcv(sh->qid[q], &m, bufsz, typ, flags);
		int e = errno;
		if (n < 0) {
			atomic_store(&me->state, IDLE);
			if (n == -1 && ((e == ENOMSG && (flags & IPC_NOWAIT)) ||
					(e == E2BIG && mode == 5)))
				continue;
			werr("%s: msgrcv(q%d, %zu, %ld, %#x) = %zd errno %s", who, q, bufsz,
			     typ, flags, n, strerror(e));
			_exit(1);
		}
		/* Count first (a short window for a kill), then check the content. */
		uint32_t s = 0, seq = 0;
		const char *bad = identify(&m, (size_t)n, &s, &seq);
		if (!bad && (flags & MSG_COPY)) {	/* a copy: the message stays */
			if (s >= (uint32_t)atomic_load(&sh->next_id) ||
			    seq > (uint32_t)atomic_load(&sh->snd[s].inflight))
				werr("%s: MSG_COPY returned message (%u, %u) that was never sent",
				     who, s, seq);
			atomic_fetch_add(&sh->copied, 1);
		} else if (!bad) {
			count(s, seq, who);
		}
		atomic_store(&me->state, IDLE);
		if (!bad)
			bad = verify(&m, (size_t)n, bufsz, !!(flags & MSG_NOERROR), q, &s, &seq);
		if (bad) {
			werr("%s: %s: q%d mode %d type %ld size %zd (s %u seq %u)", who, bad, q,
			     mode, m.mtype, n, s, seq);
		} else if ((mode == 1 && m.mtype != typ) || (mode == 2 && m.mtype > k) ||
			   ((flags & MSG_EXCEPT) && m.mtype == typ) ||
			   (mode == 6 && typ && m.mtype != typ)) {
			werr("%s: msgrcv(type %ld, flags %#x) returned type %ld", who, typ, flags,
			     m.mtype);
		}
	}
	_exit(0);
}

/* ---- the drainer: a new process (exec) that empties and checks the queues ---- */

/* Waits until pid sleeps (state S): blocked in msgrcv.  0, or -1 after 10 s. */
static int wait_sleeping(pid_t pid)
{
	for (int i = 0; i < 10000; i++) {
		if (proc_state(pid) == 'S')
			return 0;
		usleep(1000);
	}
	return -1;
}

static int drain_main(int argc, char **argv)
{
	static struct rmsg m;
	int qid[NQ];

	if (argc != 3 + NQ)
		return 2;
	max_ids = atoi(argv[2]);
	for (int q = 0; q < NQ; q++)
		qid[q] = atoi(argv[3 + q]);
	alarm(3 * END_BOUND);		/* hang detector */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	for (int q = 0; q < NQ; q++) {
		struct msqid_ds ds;
		if (uipc_msgctl(qid[q], IPC_STAT, &ds) != 0) {
			printf("ERR q%d IPC_STAT: %s\n", q, strerror(errno));
			continue;
		}
		printf("PRE %d %lu %lu\n", q, (unsigned long)ds.msg_qnum,
		       (unsigned long)ds.__msg_cbytes);
		ssize_t n;
		while ((n = uipc_msgrcv(qid[q], &m, sizeof(m.mtext), 0, IPC_NOWAIT)) >= 0) {
			uint32_t s = 0, seq = 0;
			const char *bad = verify(&m, (size_t)n, sizeof(m.mtext), 0, q, &s, &seq);
			if (bad)
				printf("BAD %d %zd %s: type %ld (s %u seq %u)\n", q, n, bad, m.mtype,
				       s, seq);
			else
				printf("MSG %d %zd %u %u\n", q, n, s, seq);
		}
		if (errno != ENOMSG)
			printf("ERR q%d drain: msgrcv = %zd %s\n", q, n, strerror(errno));
		if (uipc_msgctl(qid[q], IPC_STAT, &ds) != 0)
			printf("ERR q%d IPC_STAT after drain: %s\n", q, strerror(errno));
		else
			printf("POST %d %lu %lu\n", q, (unsigned long)ds.msg_qnum,
			       (unsigned long)ds.__msg_cbytes);

		/* The queue is usable: one message there and back. */
		struct rmsg out;
		out.mtype = 7;
		for (int i = 0; i < 100; i++)
			out.mtext[i] = (unsigned char)(i * 3 + q);
		if (uipc_msgsnd(qid[q], &out, 100, IPC_NOWAIT) != 0)
			printf("ERR q%d msgsnd after drain: %s\n", q, strerror(errno));
		n = uipc_msgrcv(qid[q], &m, sizeof(m.mtext), 7, IPC_NOWAIT);
		if (n != 100 || m.mtype != 7 || memcmp(m.mtext, out.mtext, 100) != 0)
			printf("ERR q%d msgrcv after drain: %zd %s\n", q, n,
			       n < 0 ? strerror(errno) : "wrong message");
		fflush(stdout);

		/* A receiver blocked in msgrcv gets EIDRM from IPC_RMID. */
		pid_t pid = fork();
		if (pid == 0) {
			alarm(2 * END_BOUND);
			n = uipc_msgrcv(qid[q], &m, sizeof(m.mtext), 0, 0);
			_exit(n == -1 && errno == EIDRM ? 0 : n >= 0 ? 3 : 4);
		}
		if (pid < 0 || wait_sleeping(pid) != 0)
			printf("ERR q%d: the receiver did not block in msgrcv\n", q);
		if (uipc_msgctl(qid[q], IPC_RMID, NULL) != 0)
			printf("ERR q%d IPC_RMID: %s\n", q, strerror(errno));
		int st = 0;
		if (pid > 0 && waitpid(pid, &st, 0) == pid) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				printf("ERR q%d: blocked receiver after IPC_RMID: %s %d (0 = EIDRM, "
				       "3 = got a message, 4 = another error)\n", q,
				       WIFEXITED(st) ? "exit" : "signal",
				       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
		if (uipc_msgctl(qid[q], IPC_STAT, &ds) != -1 || errno != EINVAL)
			printf("ERR q%d: IPC_STAT after IPC_RMID did not fail with EINVAL\n", q);
		printf("DONE %d\n", q);
	}
	fflush(stdout);
	return 0;
}

/* ---- the parent ---- */

static pid_t spid[NSEND];
static uint32_t sid[NSEND];
static pid_t rpid[NRECV];
static int nrecv_inflight_q[NQ];

/* The calls of the receivers killed in msgrcv, and the matching of losses. */
struct kcall {
	int q, flags;
	long typ;
	size_t bufsz;
	int lost;		/* index of the lost message matched to it, or -1 */
};
static struct kcall *kc;
static int nkc, kc_cap;
struct lostmsg {
	int q;
	long type;
	size_t size;
	uint32_t s, seq;
};
static struct lostmsg *lm;
static int nlm, lm_cap;
static int nrecv_inflight, nsend_inflight, nkills, ids_exhausted;
static unsigned long long parent_moved;

static int spawn_sender(int slot)
{
	int s = atomic_load(&sh->next_id);
	if (s >= max_ids) {
		ids_exhausted = 1;
		spid[slot] = 0;
		return -1;
	}
	atomic_store(&sh->snd[s].inflight, 0);
	atomic_store(&sh->snd[s].acked, 0);
	atomic_store(&sh->snd[s].state, IDLE);
	atomic_store(&sh->next_id, s + 1);
	pid_t pid = fork_or_exit();
	if (pid == 0)
		sender_main((uint32_t)s);
	spid[slot] = pid;
	sid[slot] = (uint32_t)s;
	return 0;
}

static void spawn_receiver(int slot)
{
	atomic_store(&sh->recv[slot].state, IDLE);
	pid_t pid = fork_or_exit();
	if (pid == 0)
		receiver_main(slot);
	rpid[slot] = pid;
	sh->recv[slot].pid = pid;
}

/* A worker is gone (status st; killed: by our SIGKILL): account for it. */
static void worker_gone(pid_t pid, int st, int killed)
{
	for (int i = 0; i < NSEND; i++) {
		if (spid[i] != pid)
			continue;
		struct sender *sn = &sh->snd[sid[i]];
		spid[i] = 0;
		if (killed && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
			if (atomic_load(&sn->state) == IN_CALL &&
			    atomic_load(&sn->inflight) == atomic_load(&sn->acked)) {
				sn->unknown = 1;
				nsend_inflight++;
			}
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			T_FAIL("sender %u (pid %d) died: status %#x", sid[i], (int)pid, st);
		}
		return;
	}
	for (int i = 0; i < NRECV; i++) {
		if (rpid[i] != pid)
			continue;
		rpid[i] = 0;
		if (killed && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
			/* A MSG_COPY call takes nothing. */
			if (atomic_load(&sh->recv[i].state) == IN_CALL &&
			    !(atomic_load(&sh->recv[i].flags) & MSG_COPY)) {
				struct receiver *r = &sh->recv[i];
				nrecv_inflight++;
				nrecv_inflight_q[atomic_load(&r->q)]++;
				struct kcall c = { atomic_load(&r->q), atomic_load(&r->flags),
						   atomic_load(&r->typ), atomic_load(&r->bufsz), -1 };
				push((void **)&kc, &nkc, &kc_cap, &c, sizeof(c));
			}
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			T_FAIL("receiver %d (pid %d) died: status %#x", i, (int)pid, st);
		}
		return;
	}
}

/* Reaps workers that ended by themselves; restarts them unless stopping. */
static int reap(int restart)
{
	int st, n = 0;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		worker_gone(pid, st, 0);
		n++;
	}
	if (!restart)
		return n;
	for (int i = 0; i < NSEND; i++)
		if (!spid[i] && !ids_exhausted)
			spawn_sender(i);
	for (int i = 0; i < NRECV; i++)
		if (!rpid[i])
			spawn_receiver(i);
	return n;
}

static void stat_check(int qid, int q)
{
	struct msqid_ds ds;
	if (uipc_msgctl(qid, IPC_STAT, &ds) != 0) {
		T_FAIL("IPC_STAT q%d during the run: %s", q, strerror(errno));
		return;
	}
	if (ds.__msg_cbytes > ds.msg_qbytes || (ds.msg_qnum == 0 && ds.__msg_cbytes != 0) ||
	    ds.__msg_cbytes > ds.msg_qnum * MAXMSG)
		T_FAIL("IPC_STAT q%d inconsistent: qnum %lu cbytes %lu qbytes %lu", q,
		       (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
		       (unsigned long)ds.msg_qbytes);
}

/* Could the killed call k have taken lost message m? */
static int could_take(const struct kcall *k, const struct lostmsg *m)
{
	if (k->q != m->q || (!(k->flags & MSG_NOERROR) && m->size > k->bufsz))
		return 0;
	if (k->typ == 0)
		return 1;
	if (k->typ < 0)
		return m->type <= -k->typ;
	if (k->flags & MSG_EXCEPT)
		return m->type != k->typ;
	return m->type == k->typ;
}

/* Kuhn's augmenting path: matches lost message i to a killed call. */
static int augment(int i, char *seen)
{
	for (int k = 0; k < nkc; k++) {
		if (seen[k] || !could_take(&kc[k], &lm[i]))
			continue;
		seen[k] = 1;
		if (kc[k].lost < 0 || augment(kc[k].lost, seen)) {
			kc[k].lost = i;
			return 1;
		}
	}
	return 0;
}

/* The parent takes one message from queue q (helping blocked senders). */
static void parent_receive(int q)
{
	static struct rmsg m;
	ssize_t n = uipc_msgrcv(sh->qid[q], &m, sizeof(m.mtext), 0, IPC_NOWAIT);
	if (n < 0) {
		if (errno != ENOMSG)
			T_FAIL("parent msgrcv q%d: %s", q, strerror(errno));
		return;
	}
	uint32_t s = 0, seq = 0;
	const char *bad = verify(&m, (size_t)n, sizeof(m.mtext), 0, q, &s, &seq);
	if (bad)
		T_FAIL("parent: %s: q%d type %ld size %zd", bad, q, m.mtype, n);
	else {
		count(s, seq, "parent");
		parent_moved++;
	}
}

/* The parent sends its next wake-up message (sender id 0). */
static void parent_send(void)
{
	static struct rmsg m;
	struct sender *me = &sh->snd[0];
	uint32_t seq = atomic_load(&me->acked);
	int q;

	if (seq >= MAXSEQ)
		return;
	size_t size = build(0, seq, &m, &q);
	atomic_store(&me->inflight, seq);
	if (uipc_msgsnd(sh->qid[q], &m, size, IPC_NOWAIT) == 0) {
		atomic_store(&me->acked, seq + 1);
		parent_moved++;
	} else if (errno == EAGAIN) {
		parent_receive(q);	/* full of what nobody waits for */
	} else {
		T_FAIL("parent msgsnd q%d: %s", q, strerror(errno));
	}
}

static int alive(void)
{
	int n = 0;
	for (int i = 0; i < NSEND; i++)
		n += spid[i] != 0;
	for (int i = 0; i < NRECV; i++)
		n += rpid[i] != 0;
	return n;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--drain") == 0)
		return drain_main(argc, argv);

	long target = kills_from_env("UIPC_CRASH_KILLS");
	max_ids = 4 * (int)(target + NSEND) + 4096;
	if (max_ids > MAX_IDS)
		max_ids = MAX_IDS;
	setvbuf(stdout, NULL, _IOLBF, 0);
	arm_hang_alarm("FAIL msg_crash: the parent hung in a uipc call\n",
		       (unsigned)(60 + target * AVG_KILL_US / 1000000 * 2));

	sh = shared_map(sizeof(struct shared) + (size_t)max_ids * sizeof(struct sender));
	cnt = shared_map((size_t)max_ids * MAXSEQ);
	if (sh == MAP_FAILED || cnt == MAP_FAILED) {
		perror("mmap");
		return 77;
	}
	worker_errors = &sh->errs;

	t_case("msg_crash: create queues");
	for (int q = 0; q < NQ; q++) {
		sh->qid[q] = uipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
		if (sh->qid[q] < 0) {
			T_FAIL("msgget: %s", strerror(errno));
			t_done();
			return t_exit();
		}
	}
	t_done();

	t_case("msg_crash: kill workers at random");
	atomic_store(&sh->next_id, 1);	/* id 0: the parent */
	rng_state = mix64((uint64_t)getpid()) | 1;
	reap(1);
	double t0 = now();
	while (nkills < target && !ids_exhausted) {
		usleep((useconds_t)(rnd() % (2 * AVG_KILL_US)));
		reap(1);
		/* Usually one victim; sometimes two or three at the same moment. */
		pid_t victim[3];
		int nv = rnd() % 8 ? 1 : 2 + (int)(rnd() % 2);
		for (int i = 0; i < nv; i++) {
			int w = rnd() % (NSEND + NRECV);
			victim[i] = w < NSEND ? spid[w] : rpid[w - NSEND];
			for (int j = 0; j < i; j++)
				if (victim[j] == victim[i])
					victim[i] = 0;
			if (victim[i] > 0)
				kill(victim[i], SIGKILL);
		}
		for (int i = 0; i < nv; i++) {
			int st;
			if (victim[i] > 0 && waitpid(victim[i], &st, 0) == victim[i]) {
				worker_gone(victim[i], st, 1);
				if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
					nkills++;
			}
		}
		reap(1);
		stat_check(sh->qid[nkills % NQ], nkills % NQ);
	}
	double t1 = now();
	t_done();

	t_case("msg_crash: no worker stuck after the run");
	atomic_store(&sh->stop, 1);
	double deadline = now() + END_BOUND;
	while (alive() && now() < deadline) {
		reap(0);
		int senders = 0, receivers = 0;
		for (int i = 0; i < NSEND; i++)
			senders += spid[i] != 0;
		for (int i = 0; i < NRECV; i++)
			receivers += rpid[i] != 0;
		if (senders)
			for (int q = 0; q < NQ; q++)
				parent_receive(q);
		if (receivers)
			parent_send();
		if (senders || receivers)
			usleep(1000);
	}
	if (alive()) {
		for (int i = 0; i < NSEND; i++)
			if (spid[i])
				T_FAIL("sender %u (pid %d) still there, %s", sid[i], (int)spid[i],
				       atomic_load(&sh->snd[sid[i]].state) ? "in msgsnd" : "idle");
		for (int i = 0; i < NRECV; i++)
			if (rpid[i])
				T_FAIL("receiver %d (pid %d) still there, %s", i, (int)rpid[i],
				       atomic_load(&sh->recv[i].state) ? "in msgrcv" : "idle");
		for (int i = 0; i < NSEND; i++)
			if (spid[i]) {
				kill(spid[i], SIGKILL);
				waitpid(spid[i], NULL, 0);
			}
		for (int i = 0; i < NRECV; i++)
			if (rpid[i]) {
				kill(rpid[i], SIGKILL);
				waitpid(rpid[i], NULL, 0);
			}
		printf("FAIL msg_crash: workers stuck, accounting skipped\n");
		return 1;
	}
	t_done();

	t_case("msg_crash: no worker error");
	report_worker_errors();
	t_done();

	/* Drain and check the queues in a new process. */
	t_case("msg_crash: drain in a new process: msg_qnum, __msg_cbytes, usable, EIDRM");
	struct checker_args args = { .n = 0 };
	pid_t dpid;
	arg_word(&args, "msg_crash");
	arg_word(&args, "--drain");
	arg_int(&args, max_ids);
	for (int q = 0; q < NQ; q++)
		arg_int(&args, sh->qid[q]);
	FILE *f = start_checker(&args, &dpid);
	if (!f) {
		perror("pipe");
		return 1;
	}
	char line[512];
	unsigned long qnum[NQ] = {0}, qbytes[NQ] = {0}, dn[NQ] = {0}, db[NQ] = {0};
	int got_stat[NQ] = {0}, done[NQ] = {0};
	unsigned long long drained = 0;
	while (f && fgets(line, sizeof(line), f)) {
		int q;
		long n;
		unsigned s, seq;
		unsigned long a, b;
		if (sscanf(line, "MSG %d %ld %u %u", &q, &n, &s, &seq) == 4 && q >= 0 && q < NQ) {
			dn[q]++;
			db[q] += n;
			drained++;
			atomic_fetch_add(&cnt[(size_t)s * MAXSEQ + seq], 1);
			if (s >= (uint32_t)atomic_load(&sh->next_id) ||
			    seq > (uint32_t)atomic_load(&sh->snd[s].inflight))
				T_FAIL("drained message (%u, %u) that was never sent", s, seq);
		} else if (sscanf(line, "PRE %d %lu %lu", &q, &a, &b) == 3 && q >= 0 && q < NQ) {
			qnum[q] = a;
			qbytes[q] = b;
			got_stat[q] = 1;
		} else if (sscanf(line, "POST %d %lu %lu", &q, &a, &b) == 3) {
			if (a != 0 || b != 0)
				T_FAIL("q%d after draining: msg_qnum %lu __msg_cbytes %lu", q, a, b);
		} else if (sscanf(line, "DONE %d", &q) == 1 && q >= 0 && q < NQ) {
			done[q] = 1;
		} else {
			line[strcspn(line, "\n")] = 0;
			T_FAIL("drainer: %s", line);
		}
	}
	int st = finish_checker(f, dpid);
	if (st != 0)
		T_FAIL("drainer died: status %#x", st);
	for (int q = 0; q < NQ; q++) {
		if (!got_stat[q] || !done[q]) {
			T_FAIL("drainer did not finish q%d", q);
			continue;
		}
		if (qnum[q] != dn[q] || qbytes[q] != db[q])
			T_FAIL("q%d: IPC_STAT says %lu messages, %lu bytes; drained %lu, %lu", q,
			       qnum[q], qbytes[q], dn[q], db[q]);
	}
	t_done();

	t_case("msg_crash: every message accounted for");
	int next = atomic_load(&sh->next_id);
	unsigned long long acked = 0, unaccounted = 0, dups = 0, inflight_seen = 0;
	unsigned long long unaccounted_q[NQ] = {0};
	for (int s = 0; s < next; s++) {
		struct sender *sn = &sh->snd[s];
		uint32_t a = atomic_load(&sn->acked);
		acked += a;
		for (uint32_t seq = 0; seq <= a && seq < MAXSEQ; seq++) {
			unsigned c = atomic_load(&cnt[(size_t)s * MAXSEQ + seq]);
			if (seq < a) {
				if (c == 0) {
					struct mdesc d;
					describe((uint32_t)s, seq, &d);
					unaccounted_q[d.q]++;
					unaccounted++;
					struct lostmsg x = { d.q, d.type, d.size, (uint32_t)s, seq };
					push((void **)&lm, &nlm, &lm_cap, &x, sizeof(x));
				}
				if (c > 1 && dups++ < 10)
					T_FAIL("message (%d, %u) received %u times", s, seq, c);
			} else if (sn->unknown) {
				if (c > 1 && dups++ < 10)
					T_FAIL("in-flight message (%d, %u) received %u times", s, seq, c);
				inflight_seen += c;
			} else if (c != 0) {
				T_FAIL("message (%d, %u) received but never acknowledged", s, seq);
			}
		}
	}
	/*
	 * Each receiver killed in msgrcv may have taken one message that its
	 * call could take (its queue, its selector, its buffer): every lost
	 * message must be matched to a different such receiver.
	 */
	for (int q = 0; q < NQ; q++)
		if (unaccounted_q[q] > (unsigned long long)nrecv_inflight_q[q])
			T_FAIL("q%d: %llu acknowledged messages lost; only %d receivers were killed "
			       "in msgrcv on it", q, unaccounted_q[q], nrecv_inflight_q[q]);
	for (int i = 0; i < nlm; i++) {
		char *seen = calloc((size_t)nkc + 1, 1);
		if (!seen || !augment(i, seen))
			T_FAIL("lost message (%u, %u) (q%d, type %ld, %zu bytes): no receiver "
			       "killed in a msgrcv that could take it is left to account for it",
			       lm[i].s, lm[i].seq, lm[i].q, lm[i].type, lm[i].size);
		free(seen);
	}
	CHECK(acked > 0);
	printf("# %d kills in %.1f s (%d senders, %d receivers killed in a call), %d sender "
	       "incarnations%s\n", nkills, t1 - t0, nsend_inflight, nrecv_inflight, next - 1,
	       ids_exhausted ? " (ids exhausted: ended early)" : "");
	printf("# %llu messages acknowledged, %llu received by workers (and %llu copied with "
	       "MSG_COPY), %llu drained, %llu in-flight sends delivered, %llu unaccounted (at most "
	       "%d allowed)\n", acked, (unsigned long long)atomic_load(&sh->received),
	       (unsigned long long)atomic_load(&sh->copied), drained, inflight_seen, unaccounted,
	       nrecv_inflight);
	t_done();
	(void)parent_moved;
	return t_exit();
}
