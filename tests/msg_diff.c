/*
 * msg_diff.c - differential test of System V message queues: kernel vs uipc.
 *
 * Every scenario is written once, against a table of operations {get, snd,
 * rcv, ctl} that is either the kernel's (msgget, msgsnd, ...) or uipc's
 * (uipc_msgget, ...).  A scenario never asserts anything itself: each helper
 * appends what a program could observe to a result log - return values
 * (ids only as booleans: "valid", "same as that one"), errno, received bytes
 * (length, mtype, a hash, and whether the bytes past the end of the message
 * were left alone), and the msqid_ds fields msg_perm.__key/uid/gid/cuid/cgid/
 * mode, msg_qnum, __msg_cbytes, msg_qbytes, msg_lspid/msg_lrpid (as "0" or
 * "the Nth process of this scenario") and whether the times are still 0.
 * IPC_INFO/MSG_INFO log the whole struct msginfo and whether the return value
 * is the highest index in use; MSG_STAT/MSG_STAT_ANY log whether they returned
 * the id of the queue at that index.  Ids themselves and times are not
 * compared (DESIGN.md section 2).
 *
 * The machinery is diff.h's: each scenario runs on both sides in a fresh IPC
 * namespace whose /proc/sys/kernel/msg{max,mnb,mni} it may change (uipc reads
 * them when a root has no limit of its own), children that change their
 * credentials (setgroups/setresgid/setresuid, or capset() to drop
 * capabilities while staying uid 0) log into the same log, and the parent
 * compares the two logs entry by entry.
 *
 * Coverage: every error of msgget(2), msgop(2) and msgctl(2) except EIDRM
 * (which needs a blocked caller) and ENOMEM; type selection (0, >0, <0,
 * MSG_EXCEPT, LONG_MIN), MSG_NOERROR, MSG_COPY, E2BIG leaving the message
 * queued, EAGAIN by bytes and by count (a queue holds at most msg_qbytes
 * messages), IPC_SET and its effect on later permission checks, the kernel's
 * ipcperms() rules (owner or creator, owner's or creator's group,
 * supplementary groups, CAP_IPC_OWNER, CAP_SYS_ADMIN, CAP_SYS_RESOURCE) for
 * root, root without each capability, nobody, and users 1000..1004; limits
 * changed through /proc; a 1 MiB message with msgmax 1 MiB and msgmnb 4 MiB.
 * Some kernel quirks are checked on purpose: a msgrcv() into a NULL buffer
 * consumes the message before failing with EFAULT, MSG_COPY|MSG_NOERROR into
 * a short buffer (or one longer than msgmax, which the kernel clamps the copy
 * buffer to) is EINVAL, IPC_SET truncates msg_qbytes to an int.  Processes
 * that change credentials run with umask 077, which the kernel ignores for
 * IPC objects (uipc must not let it narrow its files' modes).
 *
 * Environment (diff.h): MSG_DIFF_ONLY=name, MSG_DIFF_VERBOSE=1 (2: uipc's
 * log too), MSG_DIFF_ALL=1.  Needs root (else exit 77).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/syscall.h>

#include "uipc.h"
#include "diff.h"

/* ---- the operations under test ---- */

struct ops {
	const char *name;
	int (*get)(key_t key, int flg);
	int (*snd)(int q, const void *p, size_t sz, int flg);
	ssize_t (*rcv)(int q, void *p, size_t sz, long type, int flg);
	int (*ctl)(int q, int cmd, struct msqid_ds *buf);
};

/*
 * The kernel's side goes straight to the system calls: under the sanitizers
 * libc's msgsnd and msgrcv are intercepted, and the interceptor itself
 * faults on the bad buffers and sizes these tests pass on purpose.
 */
static int k_get(key_t key, int flg)
{
	return (int)syscall(SYS_msgget, key, flg);
}

static int k_snd(int q, const void *p, size_t sz, int flg)
{
	return (int)syscall(SYS_msgsnd, q, p, sz, flg);
}

static ssize_t k_rcv(int q, void *p, size_t sz, long type, int flg)
{
	return syscall(SYS_msgrcv, q, p, sz, type, flg);
}

static int k_ctl(int q, int cmd, struct msqid_ds *buf)
{
	return (int)syscall(SYS_msgctl, q, cmd, buf);
}

static const struct ops kernel_ops = {
	"kernel", k_get, k_snd, k_rcv, k_ctl,
};
static const struct ops uipc_ops = {
	"uipc", uipc_msgget, uipc_msgsnd, uipc_msgrcv, uipc_msgctl,
};

static const struct ops *O;	/* the operations of the current run */

/* ---- message buffers and contents ---- */

#define BIG (1024 * 1024)
#define GUARD 64
struct mbuf {
	long mtype;
	unsigned char mtext[BIG + GUARD];
};
static struct mbuf *sb, *rb;

/* Byte i of every message of type t (independent of its length, so that a
 * truncated message is a prefix of the whole one). */
static unsigned char pat(long t, size_t i)
{
	return (unsigned char)((unsigned long)t * 37u + i * 7u + (i >> 8) * 13u +
			       (i >> 16));
}

static size_t minz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- logged operations ---- */

static int get_(int line, key_t key, int flg)
{
	errno = 0;
	int r = O->get(key, flg);
	int e = errno;

	rec(line, K_BOOL, "get ok", r >= 0);
	rec(line, K_ERRNO, "get errno", r < 0 ? e : 0);
	return r;
}
#define GET(k, f) get_(__LINE__, (key_t)(k), (f))

static void get_same_(int line, key_t key, int flg, int id)
{
	int r = get_(line, key, flg);

	rec(line, K_BOOL, "get same id", r == id);
}
#define GET_SAME(k, f, id) get_same_(__LINE__, (key_t)(k), (f), (id))

static int snd_ptr_(int line, int q, const void *p, size_t len, int flg)
{
	errno = 0;
	int r = O->snd(q, p, len, flg);
	int e = errno;

	rec(line, K_VAL, "snd ret", r);
	rec(line, K_ERRNO, "snd errno", r < 0 ? e : 0);
	return r;
}
#define SND_PTR(q, p, len, f) snd_ptr_(__LINE__, (q), (p), (len), (f))

static int snd_(int line, int q, long type, size_t len, int flg)
{
	sb->mtype = type;
	for (size_t i = 0; i < minz(len, BIG); i++)
		sb->mtext[i] = pat(type, i);
	return snd_ptr_(line, q, sb, len, flg);
}
#define SND(q, t, len, f) snd_(__LINE__, (q), (t), (len), (f))

static ssize_t rcv_(int line, int q, size_t bufsz, long type, int flg)
{
	size_t avail = minz(bufsz, BIG) + GUARD;

	rb->mtype = 0x5555;
	memset(rb->mtext, 0xee, avail);
	errno = 0;
	ssize_t r = O->rcv(q, rb, bufsz, type, flg);
	int e = errno;

	rec(line, K_VAL, "rcv ret", r);
	rec(line, K_ERRNO, "rcv errno", r < 0 ? e : 0);
	if (r < 0) {
		int untouched = rb->mtype == 0x5555;
		for (size_t i = 0; i < avail; i++)
			untouched &= rb->mtext[i] == 0xee;
		rec(line, K_BOOL, "rcv buf untouched", untouched);
		return r;
	}
	if ((size_t)r > BIG) {
		rec(line, K_BOOL, "rcv len sane", 0);
		return r;
	}
	int match = 1, tail = 1;
	for (ssize_t i = 0; i < r; i++)
		match &= rb->mtext[i] == pat(rb->mtype, (size_t)i);
	for (size_t i = (size_t)r; i < (size_t)r + GUARD && i < BIG + GUARD; i++)
		tail &= rb->mtext[i] == 0xee;
	rec(line, K_VAL, "rcv mtype", rb->mtype);
	rec(line, K_BOOL, "rcv content ok", match);
	rec(line, K_VAL, "rcv hash", fnv(rb->mtext, (size_t)r));
	rec(line, K_BOOL, "rcv tail untouched", tail);
	return r;
}
#define RCV(q, sz, t, f) rcv_(__LINE__, (q), (sz), (t), (f))

static ssize_t rcv_ptr_(int line, int q, void *p, size_t bufsz, long type, int flg)
{
	errno = 0;
	ssize_t r = O->rcv(q, p, bufsz, type, flg);
	int e = errno;

	rec(line, K_VAL, "rcv ret", r);
	rec(line, K_ERRNO, "rcv errno", r < 0 ? e : 0);
	return r;
}
#define RCV_PTR(q, p, sz, t, f) rcv_ptr_(__LINE__, (q), (p), (sz), (t), (f))

static int ctl_(int line, int q, int cmd, void *buf)
{
	errno = 0;
	int r = O->ctl(q, cmd, buf);
	int e = errno;

	rec(line, K_VAL, "ctl ret", r);
	rec(line, K_ERRNO, "ctl errno", r < 0 ? e : 0);
	return r;
}
#define CTL(q, cmd, buf) ctl_(__LINE__, (q), (cmd), (buf))
#define RMID(q) ctl_(__LINE__, (q), IPC_RMID, NULL)

static void dump_ds(int line, const struct msqid_ds *d)
{
	rec(line, K_VAL, "key", d->msg_perm.__key);
	rec(line, K_VAL, "uid", d->msg_perm.uid);
	rec(line, K_VAL, "gid", d->msg_perm.gid);
	rec(line, K_VAL, "cuid", d->msg_perm.cuid);
	rec(line, K_VAL, "cgid", d->msg_perm.cgid);
	rec(line, K_VAL, "mode", d->msg_perm.mode);
	rec(line, K_VAL, "qnum", (long long)d->msg_qnum);
	rec(line, K_VAL, "cbytes", (long long)d->__msg_cbytes);
	rec(line, K_VAL, "qbytes", (long long)d->msg_qbytes);
	rec(line, K_VAL, "lspid", pidcat(d->msg_lspid));
	rec(line, K_VAL, "lrpid", pidcat(d->msg_lrpid));
	rec(line, K_BOOL, "stime==0", d->msg_stime == 0);
	rec(line, K_BOOL, "rtime==0", d->msg_rtime == 0);
	rec(line, K_BOOL, "ctime==0", d->msg_ctime == 0);
}

static void stat_(int line, int q)
{
	struct msqid_ds ds;

	memset(&ds, 0xab, sizeof(ds));
	errno = 0;
	int r = O->ctl(q, IPC_STAT, &ds);
	int e = errno;

	rec(line, K_VAL, "stat ret", r);
	rec(line, K_ERRNO, "stat errno", r < 0 ? e : 0);
	if (r == 0)
		dump_ds(line, &ds);
}
#define STAT(q) stat_(__LINE__, (q))

/* MSG_STAT or MSG_STAT_ANY of index i, which should be queue id. */
static void mstat_(int line, int i, int cmd, int id)
{
	struct msqid_ds ds;

	memset(&ds, 0xab, sizeof(ds));
	errno = 0;
	int r = O->ctl(i, cmd, &ds);
	int e = errno;

	rec(line, K_BOOL, "mstat ret ok", r >= 0);
	rec(line, K_BOOL, "mstat ret==id", r == id);
	rec(line, K_ERRNO, "mstat errno", r < 0 ? e : 0);
	if (r >= 0)
		dump_ds(line, &ds);
}
#define MSTAT(i, cmd, id) mstat_(__LINE__, (i), (cmd), (id))

/* IPC_INFO or MSG_INFO; ids[] are the queues in use (-1 entries skipped). */
static void info_(int line, int cmd, const int *ids, int n)
{
	struct msginfo mi;

	memset(&mi, 0xab, sizeof(mi));
	errno = 0;
	int r = O->ctl(0, cmd, (struct msqid_ds *)(void *)&mi);
	int e = errno;

	rec(line, K_BOOL, "info ret==maxidx", r == maxidx(ids, n));
	rec(line, K_ERRNO, "info errno", r < 0 ? e : 0);
	if (r < 0)
		return;
	rec(line, K_VAL, "msgpool", mi.msgpool);
	rec(line, K_VAL, "msgmap", mi.msgmap);
	rec(line, K_VAL, "msgmax", mi.msgmax);
	rec(line, K_VAL, "msgmnb", mi.msgmnb);
	rec(line, K_VAL, "msgmni", mi.msgmni);
	rec(line, K_VAL, "msgssz", mi.msgssz);
	rec(line, K_VAL, "msgtql", mi.msgtql);
	rec(line, K_VAL, "msgseg", mi.msgseg);
}
#define INFO(cmd, ids, n) info_(__LINE__, (cmd), (ids), (n))
#define INFO0(cmd) info_(__LINE__, (cmd), NULL, 0)

/* IPC_SET of the four settable fields; 'garbage' fills the others. */
static int set_(int line, int q, uid_t uid, gid_t gid, unsigned mode,
		unsigned long qbytes, int garbage)
{
	struct msqid_ds ds;

	memset(&ds, garbage ? 0xa5 : 0, sizeof(ds));
	ds.msg_perm.uid = uid;
	ds.msg_perm.gid = gid;
	ds.msg_perm.mode = mode;
	ds.msg_qbytes = qbytes;
	errno = 0;
	int r = O->ctl(q, IPC_SET, &ds);
	int e = errno;

	rec(line, K_VAL, "set ret", r);
	rec(line, K_ERRNO, "set errno", r < 0 ? e : 0);
	return r;
}
#define SET(q, u, g, m, qb) set_(__LINE__, (q), (u), (g), (m), (qb), 0)
#define SET_G(q, u, g, m, qb) set_(__LINE__, (q), (u), (g), (m), (qb), 1)

/* Receive everything (IPC_NOWAIT) and log how many and the final errno. */
static void drain_(int line, int q)
{
	int n = 0;

	errno = 0;
	while (n < 100000 && O->rcv(q, rb, BIG, 0, IPC_NOWAIT | MSG_NOERROR) >= 0)
		n++;
	rec(line, K_VAL, "drained", n);
	rec(line, K_ERRNO, "drain errno", errno);
}
#define DRAIN(q) drain_(__LINE__, (q))

/* ---- limits of the namespace ---- */

static void setlim_(int line, const char *name, long long v)
{
	char path[64], b[32];
	int n = snprintf(b, sizeof(b), "%lld\n", v);
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 && write(fd, b, (size_t)n) == n;
	if (fd >= 0)
		close(fd);
	rec(line, K_BOOL, "setlim ok", ok);
	/*
	 * uipc reads the tunables again at every get and ctl call (and every
	 * 100 ms); between two of them msgsnd trusts the value it read, so
	 * that its fast path makes no system call (README).  Look at the
	 * limits once, as a program that changes them would, on both sides.
	 */
	struct msginfo mi;
	O->ctl(0, IPC_INFO, (struct msqid_ds *)(void *)&mi);
}
#define SETLIM(name, v) setlim_(__LINE__, (name), (v))

static long long getlim(const char *name)
{
	char path[64], b[32];
	long long v = -1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n > 0) {
		b[n] = 0;
		v = strtoll(b, NULL, 10);
	}
	return v;
}

/* ---- identities of this test (the common ones are diff.h's) ---- */

static const struct ident ROOT_NONE = { "root-3caps", 0, 0, 0, { 0 },
	CAPB(CAP_IPC_OWNER) | CAPB(CAP_SYS_ADMIN) | CAPB(CAP_SYS_RESOURCE), -1 };

#define KEY(n) ((key_t)(0x5a000000 + (n)))

/* =============================== scenarios =============================== */

/* msgget: creation, lookup, IPC_CREAT/IPC_EXCL, IPC_PRIVATE, stale ids. */
static void body_get(void)
{
	int live[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	int a, b, c, q, q2, q3, q4;

	INFO(IPC_INFO, live, 8);
	INFO(MSG_INFO, live, 8);
	a = live[0] = GET(IPC_PRIVATE, 0600);
	b = live[1] = GET(IPC_PRIVATE, 0600);
	REC_B("private ids distinct", a != b);
	c = live[2] = GET(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0644);
	REC_B("private ids distinct", c != a && c != b);
	STAT(a);
	STAT(c);
	GET(KEY(1), 0);
	GET(KEY(1), 0600);
	GET(KEY(1), IPC_EXCL | 0600);
	q = live[3] = GET(KEY(1), IPC_CREAT | 0640);
	STAT(q);
	GET_SAME(KEY(1), IPC_CREAT | 0640, q);
	GET_SAME(KEY(1), 0, q);
	GET_SAME(KEY(1), IPC_CREAT, q);
	GET_SAME(KEY(1), 0640, q);
	GET_SAME(KEY(1), IPC_EXCL, q);
	GET_SAME(KEY(1), IPC_NOWAIT | 0600, q);
	GET(KEY(1), IPC_CREAT | IPC_EXCL | 0640);
	GET(KEY(1), IPC_CREAT | IPC_EXCL);
	q2 = live[4] = GET(KEY(2), IPC_CREAT | IPC_EXCL | IPC_NOWAIT | 07777);
	STAT(q2);
	q3 = live[5] = GET((key_t)0xdeadbeef, IPC_CREAT | 0400);
	STAT(q3);
	GET_SAME((key_t)0xdeadbeef, 0, q3);
	GET(KEY(3), IPC_CREAT | 0);
	live[6] = GET(KEY(3), 0);
	STAT(live[6]);
	INFO(IPC_INFO, live, 8);
	INFO(MSG_INFO, live, 8);

	/* removal: the id goes stale, the key is free again */
	SND(q, 3, 10, IPC_NOWAIT);
	RMID(q);
	live[3] = -1;
	STAT(q);
	SND(q, 1, 1, IPC_NOWAIT);
	RCV(q, 64, 0, IPC_NOWAIT);
	RCV(q, 64, 0, IPC_NOWAIT | MSG_COPY);
	RMID(q);
	SET(q, 0, 0, 0600, 100);
	MSTAT(idx(q), MSG_STAT, -1);
	MSTAT(idx(q), MSG_STAT_ANY, -1);
	GET(KEY(1), 0);
	q4 = live[3] = GET(KEY(1), IPC_CREAT | 0600);
	REC_B("new id differs", q4 != q);
	STAT(q4);
	GET_SAME(KEY(1), 0, q4);
	INFO(MSG_INFO, live, 8);

	/*
	 * A stale id whose slot is in use again (the kernel allocates slots
	 * cyclically, so this takes up to 64 rounds): still EINVAL.  The
	 * rounds are not logged, as slot allocation is not compared.
	 */
	{
		int old = GET(IPC_PRIVATE, 0600), cur = -1;

		RMID(old);
		for (int i = 0; i < 300 && cur < 0; i++) {
			cur = O->get(IPC_PRIVATE, 0600);
			if (cur >= 0 && idx(cur) != idx(old)) {
				O->ctl(cur, IPC_RMID, NULL);
				cur = -1;
			}
		}
		if (cur < 0)
			cur = O->get(IPC_PRIVATE, 0600);
		STAT(old);
		SND(old, 1, 1, IPC_NOWAIT);
		RCV(old, 64, 0, IPC_NOWAIT);
		SET(old, 0, 0, 0600, 100);
		RMID(old);
		STAT(cur);
		RMID(cur);
	}

	/* bad ids */
	STAT(-1);
	STAT(BADID);
	STAT(INT_MAX);
	CTL(-5, IPC_RMID, NULL);
	CTL(BADID, IPC_RMID, NULL);
	SND(-1, 1, 1, IPC_NOWAIT);
	SND(BADID, 1, 1, IPC_NOWAIT);
	RCV(-1, 64, 0, IPC_NOWAIT);
	RCV(BADID, 64, 0, IPC_NOWAIT);

	for (int i = 0; i < 8; i++) {
		if (live[i] >= 0)
			RMID(live[i]);
		live[i] = -1;
	}
	INFO(IPC_INFO, live, 8);
	INFO(MSG_INFO, live, 8);
	GET(KEY(1), 0);
	GET(KEY(2), 0);
}

static void sc_get(void)
{
	body_get();
}

static void sc_get_nobody(void)
{
	AS(NOBODY, body_get);
}

/* ENOSPC: msgmni reached (and 0); only creation fails. */
static void sc_enospc(void)
{
	int live[4] = { -1, -1, -1, -1 };

	SETLIM("msgmni", 3);
	INFO(IPC_INFO, live, 4);
	live[0] = GET(IPC_PRIVATE, 0600);
	live[1] = GET(KEY(1), IPC_CREAT | 0600);
	live[2] = GET(KEY(2), IPC_CREAT | IPC_EXCL | 0600);
	GET(IPC_PRIVATE, 0600);
	GET(KEY(3), IPC_CREAT | 0600);
	GET(KEY(3), IPC_CREAT | IPC_EXCL | 0600);
	GET(KEY(3), 0);
	GET_SAME(KEY(1), IPC_CREAT | 0600, live[1]);
	GET(KEY(1), IPC_CREAT | IPC_EXCL | 0600);
	INFO(IPC_INFO, live, 4);
	INFO(MSG_INFO, live, 4);
	RMID(live[0]);
	live[0] = -1;
	live[3] = GET(KEY(3), IPC_CREAT | 0600);
	GET(IPC_PRIVATE, 0600);
	SETLIM("msgmni", 1);
	GET(IPC_PRIVATE, 0600);
	GET(KEY(4), IPC_CREAT | 0600);
	SND(live[1], 1, 10, IPC_NOWAIT);
	RCV(live[1], 64, 0, IPC_NOWAIT);
	GET_SAME(KEY(2), 0, live[2]);
	SETLIM("msgmni", 0);
	INFO(IPC_INFO, live, 4);
	GET(IPC_PRIVATE, 0600);
	for (int i = 0; i < 4; i++) {
		if (live[i] >= 0)
			RMID(live[i]);
		live[i] = -1;
	}
	GET(IPC_PRIVATE, 0600);
	GET(KEY(5), IPC_CREAT | 0600);
	SETLIM("msgmni", 1);
	live[0] = GET(KEY(5), IPC_CREAT | 0600);
	GET(KEY(6), IPC_CREAT | 0600);
	RMID(live[0]);
	SETLIM("msgmni", 32000);
}

/* Sending and receiving: msqid_ds after each step, zero-length messages. */
static void body_sndrcv(void)
{
	int q = GET(IPC_PRIVATE, 0600);
	int live[1] = { q };

	STAT(q);
	SND(q, 1, 10, IPC_NOWAIT);
	STAT(q);
	SND(q, 2, 0, 0);
	STAT(q);
	SND(q, 3, 100, IPC_NOWAIT);
	SND(q, 1, 5, 0);
	STAT(q);
	INFO(MSG_INFO, live, 1);
	RCV(q, 200, 0, IPC_NOWAIT);
	STAT(q);
	RCV(q, 200, 0, IPC_NOWAIT);
	STAT(q);
	RCV(q, 100, 0, 0);
	RCV(q, 5, 0, IPC_NOWAIT);
	STAT(q);
	RCV(q, 200, 0, IPC_NOWAIT);
	STAT(q);
	INFO(MSG_INFO, live, 1);
	SND(q, 5, 0, IPC_NOWAIT);
	RCV(q, 0, 5, IPC_NOWAIT);
	RCV(q, 0, 0, IPC_NOWAIT);
	for (int i = 1; i <= 20; i++)
		SND(q, i, (size_t)i * 13, IPC_NOWAIT);
	STAT(q);
	INFO(MSG_INFO, live, 1);
	for (int i = 1; i <= 21; i++)
		RCV(q, 1000, 0, IPC_NOWAIT);
	STAT(q);
	RMID(q);
}

static void sc_sndrcv(void)
{
	body_sndrcv();
}

static void sc_sndrcv_nobody(void)
{
	AS(NOBODY, body_sndrcv);
}

/* msg_lspid / msg_lrpid follow the process that sent / received last. */
static void pids_send(void)
{
	SND(S->scratch[0], 7, 7, IPC_NOWAIT);
	STAT(S->scratch[0]);
}

static void pids_recv(void)
{
	RCV(S->scratch[0], 64, 0, IPC_NOWAIT);
	STAT(S->scratch[0]);
}

static void sc_pids(void)
{
	int q = S->scratch[0] = GET(IPC_PRIVATE, 0666);

	AS(ROOT, pids_send);
	STAT(q);
	AS(NOBODY, pids_send);
	STAT(q);
	AS(ROOT, pids_recv);
	STAT(q);
	SND(q, 1, 1, IPC_NOWAIT);
	STAT(q);
	RCV(q, 64, 0, IPC_NOWAIT);
	STAT(q);
	AS(U1000, pids_recv);
	STAT(q);
	RMID(q);
}

/* Type selection: 0, > 0, < 0 (lowest type <= |t|), MSG_EXCEPT, LONG_MIN. */
static void body_types(void)
{
	static const long types[] = { 5, 3, 7, 3, 1, 9, 2, 5 };
	int q = GET(IPC_PRIVATE, 0600);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		SND(q, types[i], i + 1, IPC_NOWAIT);
	RCV(q, 64, 3, IPC_NOWAIT);		/* first 3 (len 2) */
	RCV(q, 64, 4, IPC_NOWAIT);		/* ENOMSG */
	RCV(q, 64, -4, IPC_NOWAIT);		/* 1 */
	RCV(q, 64, -4, IPC_NOWAIT);		/* 2 */
	RCV(q, 64, -4, IPC_NOWAIT);		/* 3 (len 4) */
	RCV(q, 64, -4, IPC_NOWAIT);		/* ENOMSG: 5 7 9 5 left */
	RCV(q, 64, 5, IPC_NOWAIT | MSG_EXCEPT);	/* 7 */
	RCV(q, 64, 0, IPC_NOWAIT | MSG_EXCEPT);	/* any: 5 (len 1) */
	RCV(q, 64, -6, IPC_NOWAIT | MSG_EXCEPT);	/* <= 6: 5 (len 8) */
	RCV(q, 64, 9, IPC_NOWAIT | MSG_EXCEPT);	/* ENOMSG: only 9 left */
	RCV(q, 64, -8, IPC_NOWAIT);		/* ENOMSG */
	RCV(q, 64, LONG_MIN, IPC_NOWAIT);	/* |LONG_MIN| clamps: 9 */
	RCV(q, 64, 0, IPC_NOWAIT);		/* ENOMSG */
	STAT(q);

	SND(q, LONG_MAX, 3, IPC_NOWAIT);
	SND(q, 1, 4, IPC_NOWAIT);
	SND(q, LONG_MAX, 5, IPC_NOWAIT);
	RCV(q, 64, LONG_MIN, IPC_NOWAIT);	/* 1 */
	RCV(q, 64, -LONG_MAX, IPC_NOWAIT);	/* LONG_MAX (len 3) */
	RCV(q, 64, LONG_MAX, IPC_NOWAIT);	/* LONG_MAX (len 5) */
	RCV(q, 64, 1, IPC_NOWAIT | MSG_EXCEPT);	/* ENOMSG */

	/* equal lowest types: the first of them */
	SND(q, 4, 1, IPC_NOWAIT);
	SND(q, 2, 2, IPC_NOWAIT);
	SND(q, 2, 3, IPC_NOWAIT);
	SND(q, 4, 4, IPC_NOWAIT);
	SND(q, 3, 5, IPC_NOWAIT);
	RCV(q, 64, -10, IPC_NOWAIT);		/* 2 len 2 */
	RCV(q, 64, 2, IPC_NOWAIT | MSG_EXCEPT);	/* 4 len 1 */
	RCV(q, 64, -10, IPC_NOWAIT);		/* 2 len 3 */
	RCV(q, 64, -1, IPC_NOWAIT);		/* ENOMSG */
	RCV(q, 64, -3, IPC_NOWAIT);		/* 3 */
	RCV(q, 64, 4, IPC_NOWAIT | MSG_EXCEPT);	/* ENOMSG */
	RCV(q, 64, 0, IPC_NOWAIT);		/* 4 len 4 */
	STAT(q);
	RMID(q);
}

static void sc_types(void)
{
	body_types();
}

static void sc_types_nobody(void)
{
	AS(NOBODY, body_types);
}

/* E2BIG leaves the message queued; MSG_NOERROR truncates; size limits. */
static void body_sizes(void)
{
	int q = GET(IPC_PRIVATE, 0600);

	SND(q, 1, 100, IPC_NOWAIT);
	RCV(q, 99, 0, IPC_NOWAIT);
	STAT(q);
	RCV(q, 0, 0, IPC_NOWAIT);
	RCV(q, 50, 0, IPC_NOWAIT | MSG_NOERROR);
	STAT(q);
	SND(q, 2, 100, IPC_NOWAIT);
	RCV(q, 100, 0, IPC_NOWAIT);
	SND(q, 3, 0, IPC_NOWAIT);
	RCV(q, 0, 0, IPC_NOWAIT);
	SND(q, 4, 10, IPC_NOWAIT);
	RCV(q, 0, 0, IPC_NOWAIT | MSG_NOERROR);
	STAT(q);
	RCV(q, (size_t)-1, 0, IPC_NOWAIT);
	RCV(q, (size_t)LONG_MAX + 1, 0, IPC_NOWAIT);
	SND(q, 5, 10, IPC_NOWAIT);
	RCV(q, (size_t)-1, 0, IPC_NOWAIT);
	RCV(q, (size_t)LONG_MAX, 0, IPC_NOWAIT);	/* the kernel copies 10 */
	SND(q, 6, 20, IPC_NOWAIT);
	SND(q, 7, 5, IPC_NOWAIT);
	RCV(q, 10, 6, IPC_NOWAIT);
	RCV(q, 10, 0, IPC_NOWAIT);
	RCV(q, 10, -7, IPC_NOWAIT);
	RCV(q, 10, 7, IPC_NOWAIT);
	RCV(q, 10, 6, IPC_NOWAIT | MSG_EXCEPT);
	RCV(q, 10, 8, IPC_NOWAIT);
	RCV(q, 10, -7, IPC_NOWAIT | MSG_NOERROR);
	STAT(q);
	RCV(q, 10, 0, IPC_NOWAIT | MSG_NOERROR);
	RMID(q);
}

static void sc_sizes(void)
{
	body_sizes();
}

static void sc_sizes_nobody(void)
{
	AS(NOBODY, body_sizes);
}

/* msgsnd's EINVAL and EFAULT cases, and their order. */
static void body_snd_errors(void)
{
	int q = GET(IPC_PRIVATE, 0600);

	SND(q, 1, 8193, IPC_NOWAIT);
	SND(q, 1, 8192, IPC_NOWAIT);
	SND(q, 1, (size_t)-1, IPC_NOWAIT);
	SND(q, 1, (size_t)LONG_MAX + 1, IPC_NOWAIT);
	SND(q, 0, 1, IPC_NOWAIT);
	SND(q, -1, 1, IPC_NOWAIT);
	SND(q, LONG_MIN, 0, IPC_NOWAIT);
	SND(q, 0, 8193, IPC_NOWAIT);
	SND(-1, 1, 1, IPC_NOWAIT);
	SND(-1, 0, 1, IPC_NOWAIT);
	SND(BADID, 1, 1, IPC_NOWAIT);
	SND(BADID, 0, 1, IPC_NOWAIT);
	SND(BADID, 1, 8193, IPC_NOWAIT);
	SND(INT_MAX, 1, 0, IPC_NOWAIT);
	SND_PTR(q, NULL, 0, IPC_NOWAIT);
	SND_PTR(q, NULL, 10, IPC_NOWAIT);
	SND_PTR(q, NULL, 9000, IPC_NOWAIT);
	SND_PTR(-1, NULL, 10, IPC_NOWAIT);
	SND_PTR(BADID, NULL, 10, IPC_NOWAIT);
	STAT(q);
	RCV(q, 8192, 0, IPC_NOWAIT);
	STAT(q);
	RMID(q);
}

static void sc_snd_errors(void)
{
	body_snd_errors();
}

static void sc_snd_errors_nobody(void)
{
	AS(NOBODY, body_snd_errors);
}

/* EAGAIN: full by bytes, by count (at most msg_qbytes messages), qbytes 0. */
static void body_full(void)
{
	int q = GET(IPC_PRIVATE, 0600);
	int q2 = GET(IPC_PRIVATE, 0600);
	int q3 = GET(IPC_PRIVATE, 0600);

	SND(q, 1, 8192, IPC_NOWAIT);
	SND(q, 2, 8192, IPC_NOWAIT);
	SND(q, 3, 1, IPC_NOWAIT);
	SND(q, 4, 0, IPC_NOWAIT);		/* fits: 0 bytes, 3 <= 16384 */
	STAT(q);
	RCV(q, 8192, 0, IPC_NOWAIT);
	SND(q, 5, 8192, IPC_NOWAIT);
	SND(q, 6, 1, IPC_NOWAIT);
	STAT(q);
	SET(q, getuid(), getgid(), 0600, 100);	/* below what it holds */
	STAT(q);
	SND(q, 7, 0, IPC_NOWAIT);
	DRAIN(q);
	SND(q, 8, 101, IPC_NOWAIT);
	SND(q, 8, 100, IPC_NOWAIT);
	SND(q, 9, 0, IPC_NOWAIT);
	SND(q, 10, 1, IPC_NOWAIT);
	STAT(q);

	SET(q2, getuid(), getgid(), 0600, 3);
	SND(q2, 1, 0, IPC_NOWAIT);
	SND(q2, 2, 0, IPC_NOWAIT);
	SND(q2, 3, 0, IPC_NOWAIT);
	SND(q2, 4, 0, IPC_NOWAIT);		/* 4 messages > qbytes 3 */
	STAT(q2);
	RCV(q2, 10, 0, IPC_NOWAIT);
	SND(q2, 5, 1, IPC_NOWAIT);
	SND(q2, 6, 0, IPC_NOWAIT);
	STAT(q2);
	SET(q2, getuid(), getgid(), 0600, 5);
	SND(q2, 7, 2, IPC_NOWAIT);
	SND(q2, 8, 2, IPC_NOWAIT);
	SND(q2, 9, 1, IPC_NOWAIT);
	STAT(q2);

	SET(q3, getuid(), getgid(), 0600, 0);
	STAT(q3);
	SND(q3, 1, 0, IPC_NOWAIT);
	SND(q3, 1, 1, IPC_NOWAIT);
	SET(q3, getuid(), getgid(), 0600, 1);
	SND(q3, 1, 0, IPC_NOWAIT);
	SND(q3, 1, 0, IPC_NOWAIT);
	SND(q3, 1, 1, IPC_NOWAIT);
	STAT(q3);
	RMID(q);
	RMID(q2);
	RMID(q3);
}

static void sc_full(void)
{
	body_full();
}

static void sc_full_nobody(void)
{
	AS(NOBODY, body_full);
}

/* MSG_COPY: index n, the queue unchanged, and its error cases. */
static void body_copy(void)
{
	int q = GET(IPC_PRIVATE, 0600);

	RCV(q, 64, 0, MSG_COPY | IPC_NOWAIT);
	SND(q, 5, 3, IPC_NOWAIT);
	SND(q, 6, 0, IPC_NOWAIT);
	SND(q, 7, 20, IPC_NOWAIT);
	RCV(q, 64, 0, MSG_COPY);
	RCV(q, 64, 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT);
	RCV(q, 64, 0, MSG_COPY | MSG_EXCEPT);
	RCV(q, 64, 0, MSG_COPY | IPC_NOWAIT);
	RCV(q, 64, 1, MSG_COPY | IPC_NOWAIT);
	RCV(q, 64, 2, MSG_COPY | IPC_NOWAIT);
	RCV(q, 64, 3, MSG_COPY | IPC_NOWAIT);
	RCV(q, 64, -1, MSG_COPY | IPC_NOWAIT);
	RCV(q, 64, LONG_MIN, MSG_COPY | IPC_NOWAIT);
	RCV(q, 64, 2, MSG_COPY | IPC_NOWAIT | MSG_NOERROR);
	STAT(q);
	RCV(q, 10, 2, MSG_COPY | IPC_NOWAIT);		/* E2BIG */
	RCV(q, 10, 2, MSG_COPY | IPC_NOWAIT | MSG_NOERROR); /* EINVAL */
	RCV(q, 20, 2, MSG_COPY | IPC_NOWAIT | MSG_NOERROR);
	RCV(q, 0, 1, MSG_COPY | IPC_NOWAIT);
	RCV(-1, 64, 0, MSG_COPY | IPC_NOWAIT);
	RCV(BADID, 64, 0, MSG_COPY | IPC_NOWAIT);
	RCV(q, (size_t)-1, 0, MSG_COPY | IPC_NOWAIT);
	STAT(q);
	RCV(q, 64, 0, IPC_NOWAIT);
	RCV(q, 64, 0, MSG_COPY | IPC_NOWAIT);
	RCV(q, 64, 1, MSG_COPY | IPC_NOWAIT);
	RCV(q, 64, 2, MSG_COPY | IPC_NOWAIT);
	STAT(q);
	RMID(q);
}

static void sc_copy(void)
{
	body_copy();
}

static void sc_copy_nobody(void)
{
	AS(NOBODY, body_copy);
}

/* EFAULT: NULL message buffers and NULL msgctl buffers. */
static void body_efault(void)
{
	int q = GET(IPC_PRIVATE, 0600);

	SND(q, 1, 10, IPC_NOWAIT);
	SND_PTR(q, NULL, 10, IPC_NOWAIT);
	STAT(q);
	RCV_PTR(q, NULL, 64, 0, IPC_NOWAIT | MSG_COPY);
	STAT(q);
	RCV_PTR(q, NULL, 64, 0, IPC_NOWAIT);	/* the kernel consumes it */
	STAT(q);
	RCV_PTR(q, NULL, 64, 0, IPC_NOWAIT);	/* ENOMSG */
	SND(q, 2, 100, IPC_NOWAIT);
	RCV_PTR(q, NULL, 10, 0, IPC_NOWAIT);	/* E2BIG */
	RCV_PTR(q, NULL, 64, 3, IPC_NOWAIT);	/* ENOMSG */
	RCV_PTR(-1, NULL, 64, 0, IPC_NOWAIT);	/* EINVAL */
	RCV_PTR(BADID, NULL, 64, 0, IPC_NOWAIT);	/* EINVAL */
	STAT(q);
	CTL(q, IPC_STAT, NULL);
	CTL(BADID, IPC_STAT, NULL);
	CTL(q, IPC_SET, NULL);
	CTL(BADID, IPC_SET, NULL);
	CTL(-1, IPC_SET, NULL);
	CTL(0, IPC_INFO, NULL);
	CTL(0, MSG_INFO, NULL);
	CTL(-1, IPC_INFO, NULL);
	CTL(idx(q), MSG_STAT, NULL);
	CTL(idx(q), MSG_STAT_ANY, NULL);
	CTL(BADID, MSG_STAT, NULL);
	STAT(q);
	RMID(q);
}

/*
 * EFAULT from buffers that are mapped around a hole: three pages, the
 * middle one unmapped, the last read-only.  A message whose type is
 * readable but whose text runs into the hole; receives into the hole, into
 * the read-only page, and across into the hole (the kernel writes the type,
 * then faults: the message is consumed); MSG_COPY into the read-only page.
 */
static void body_efault_hole(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 3 * (size_t)pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int q = GET(IPC_PRIVATE, 0600);
	struct msgbuf *edge;

	if (m == MAP_FAILED || munmap(m + pg, (size_t)pg) ||
	    mprotect(m + 2 * pg, (size_t)pg, PROT_READ)) {
		rec(__LINE__, K_BOOL, "mapped a hole", 0);
		return;
	}
	edge = (struct msgbuf *)(m + pg - sizeof(long));	/* mtype, then the hole */
	edge->mtype = 7;
	SND_PTR(q, m + pg, 10, IPC_NOWAIT);		/* the type in the hole */
	SND_PTR(q, edge, 10, IPC_NOWAIT);		/* the text in the hole */
	SND_PTR(q, edge, 0, IPC_NOWAIT);		/* no text: sent */
	SND_PTR(q, m + 2 * pg, 10, IPC_NOWAIT);		/* a read-only buffer: sent */
	STAT(q);
	SND(q, 3, 100, IPC_NOWAIT);
	SND(q, 4, 100, IPC_NOWAIT);
	SND(q, 5, 100, IPC_NOWAIT);
	STAT(q);
	RCV_PTR(q, m + 2 * pg, 100, 3, IPC_NOWAIT | MSG_COPY);	/* read-only: EFAULT */
	STAT(q);
	RCV_PTR(q, m + pg, 100, 3, IPC_NOWAIT);		/* into the hole: consumed */
	STAT(q);
	RCV_PTR(q, m + 2 * pg, 100, 4, IPC_NOWAIT);	/* read-only: consumed */
	STAT(q);
	RCV_PTR(q, edge, 100, 5, IPC_NOWAIT);		/* across: consumed */
	STAT(q);
	RCV_PTR(q, edge, 0, 7, IPC_NOWAIT);		/* no text to write: received */
	RCV(q, 64, 0, IPC_NOWAIT);
	STAT(q);
	RMID(q);
	munmap(m, (size_t)pg);
	munmap(m + 2 * pg, (size_t)pg);
}

static void sc_efault(void)
{
	body_efault();
	body_efault_hole();
}

static void sc_efault_nobody(void)
{
	AS(NOBODY, body_efault);
	AS(NOBODY, body_efault_hole);
}

/* msgctl: bad commands, IPC_SET of mode/uid/gid/qbytes. */
static void body_ctl(void)
{
	struct msqid_ds ds;
	struct msginfo mi;
	long long mnb = getlim("msgmnb");
	int q = GET(KEY(1), IPC_CREAT | 0640);
	int live[1] = { q };

	memset(&ds, 0, sizeof(ds));
	CTL(q, -1, &ds);
	CTL(q, 4, &ds);
	CTL(q, 10, &ds);
	CTL(q, 14, &ds);
	CTL(q, 100, &ds);
	CTL(q, INT_MAX, &ds);
	CTL(q, INT_MIN, &ds);
	CTL(q, IPC_STAT | 0x100, &ds);
	CTL(-1, IPC_STAT, &ds);
	CTL(-1, IPC_INFO, &mi);
	CTL(-1, MSG_INFO, &mi);
	CTL(-1, MSG_STAT, &ds);
	CTL(-1, MSG_STAT_ANY, &ds);
	CTL(-1, -1, &ds);
	CTL(BADID, -1, &ds);
	CTL(BADID, 100, &ds);
	info_(__LINE__, IPC_INFO, live, 1);
	memset(&mi, 0, sizeof(mi));
	errno = 0;
	int r = O->ctl(BADID, IPC_INFO, (struct msqid_ds *)(void *)&mi);
	REC_B("info any id ok", r == idx(q));
	REC_V("info any id errno", r < 0 ? errno : 0);

	STAT(q);
	SET(q, getuid(), getgid(), 07777, (unsigned long)mnb);
	STAT(q);
	SET(q, getuid(), getgid(), 0, (unsigned long)mnb);
	STAT(q);
	SET(q, getuid(), getgid(), 0640, (unsigned long)mnb);
	SET(q, (uid_t)-1, getgid(), 0600, (unsigned long)mnb);
	SET(q, getuid(), (gid_t)-1, 0600, (unsigned long)mnb);
	STAT(q);
	SET(q, (uid_t)-1, getgid(), 0600, (unsigned long)mnb + 1);
	STAT(q);
	SET_G(q, getuid(), 2000, 0660, (unsigned long)mnb - 1);
	STAT(q);
	SET(q, getuid(), getgid(), 0640, (unsigned long)mnb * 2);
	STAT(q);
	SET(q, getuid(), getgid(), 0640, (unsigned long)mnb + 1);
	STAT(q);
	SET(q, getuid(), getgid(), 0640, 1);
	STAT(q);
	SND(q, 1, 1, IPC_NOWAIT);
	SND(q, 1, 0, IPC_NOWAIT);
	STAT(q);
	/* give it away: the creator keeps the rights of an owner */
	SET(q, 1000, 1000, 0600, 10);
	STAT(q);
	SND(q, 2, 0, IPC_NOWAIT);
	RCV(q, 64, 0, IPC_NOWAIT);
	SET(q, 1001, 1001, 0606, 10);
	STAT(q);
	SET(q, 1001, 1001, 0660, 10);
	STAT(q);
	RCV(q, 64, 0, IPC_NOWAIT);
	SND(q, 3, 0, IPC_NOWAIT);
	SET(q, 1001, 1001, 0000, 10);
	STAT(q);
	GET_SAME(KEY(1), 0, q);
	GET_SAME(KEY(1), 0400, q);
	MSTAT(idx(q), MSG_STAT, q);
	MSTAT(idx(q), MSG_STAT_ANY, q);
	RMID(q);
	STAT(q);
}

static void sc_ctl(void)
{
	body_ctl();
}

static void sc_ctl_nobody(void)
{
	AS(NOBODY, body_ctl);
}

static void sc_ctl_noresource(void)
{
	AS(ROOT_NORES, body_ctl);
}

/* IPC_INFO, MSG_INFO, MSG_STAT, MSG_STAT_ANY. */
static void sc_info(void)
{
	int live[4] = { -1, -1, -1, -1 };
	int unused;

	INFO(IPC_INFO, live, 4);
	INFO(MSG_INFO, live, 4);
	live[0] = GET(IPC_PRIVATE, 0600);
	live[1] = GET(KEY(1), IPC_CREAT | 0640);
	live[2] = GET(KEY(2), IPC_CREAT | 0000);
	SND(live[0], 1, 10, IPC_NOWAIT);
	SND(live[0], 2, 20, IPC_NOWAIT);
	SND(live[1], 3, 0, IPC_NOWAIT);
	INFO(IPC_INFO, live, 4);
	INFO(MSG_INFO, live, 4);
	for (int i = 0; i < 3; i++) {
		MSTAT(idx(live[i]), MSG_STAT, live[i]);
		MSTAT(idx(live[i]), MSG_STAT_ANY, live[i]);
		MSTAT(live[i], MSG_STAT, live[i]);
	}
	unused = 0;
	for (int i = 0; i < 3; i++)
		if (idx(live[i]) >= unused)
			unused = idx(live[i]) + 5;
	MSTAT(unused, MSG_STAT, -1);
	MSTAT(unused, MSG_STAT_ANY, -1);
	MSTAT(32767, MSG_STAT, -1);
	MSTAT(-1, MSG_STAT, -1);
	MSTAT(-1, MSG_STAT_ANY, -1);
	RCV(live[0], 64, 0, IPC_NOWAIT);
	INFO(MSG_INFO, live, 4);
	MSTAT(idx(live[0]), MSG_STAT, live[0]);
	int gone = live[1];
	RMID(live[1]);
	live[1] = -1;
	MSTAT(idx(gone), MSG_STAT, -1);
	MSTAT(idx(gone), MSG_STAT_ANY, -1);
	INFO(MSG_INFO, live, 4);
	live[3] = GET(KEY(3), IPC_CREAT | 0600);
	MSTAT(idx(live[3]), MSG_STAT, live[3]);
	INFO(IPC_INFO, live, 4);
	INFO(MSG_INFO, live, 4);
	RMID(live[2]);
	live[2] = -1;
	INFO(MSG_INFO, live, 4);
	RMID(live[0]);
	live[0] = -1;
	INFO(MSG_INFO, live, 4);
	RMID(live[3]);
	live[3] = -1;
	INFO(IPC_INFO, live, 4);
	INFO(MSG_INFO, live, 4);
}

/* Limits changed through /proc in the namespace are in force at once. */
static void sc_limits(void)
{
	int live[3] = { -1, -1, -1 };
	int q, q2, q3;

	INFO0(IPC_INFO);
	q = live[0] = GET(IPC_PRIVATE, 0600);
	SETLIM("msgmax", 100);
	INFO(IPC_INFO, live, 3);
	SND(q, 1, 101, IPC_NOWAIT);
	SND(q, 1, 100, IPC_NOWAIT);
	SETLIM("msgmax", 0);
	SND(q, 1, 1, IPC_NOWAIT);
	SND(q, 1, 0, IPC_NOWAIT);
	SETLIM("msgmax", 8192);
	RCV(q, 100, 0, IPC_NOWAIT);
	RCV(q, 100, 0, IPC_NOWAIT);
	STAT(q);
	SETLIM("msgmnb", 1000);
	INFO(IPC_INFO, live, 3);
	q2 = live[1] = GET(IPC_PRIVATE, 0600);
	STAT(q2);
	STAT(q);
	SND(q2, 1, 1000, IPC_NOWAIT);
	SND(q2, 1, 1, IPC_NOWAIT);
	SET(q2, 0, 0, 0600, 2000);
	STAT(q2);
	SND(q2, 1, 1000, IPC_NOWAIT);
	SETLIM("msgmax", 20000);
	SETLIM("msgmnb", 16384);
	q3 = live[2] = GET(IPC_PRIVATE, 0600);
	SND(q3, 1, 17000, IPC_NOWAIT);
	SND(q3, 1, 16384, IPC_NOWAIT);
	STAT(q3);
	RCV(q3, 20000, 0, IPC_NOWAIT);
	SETLIM("msgmni", 7);
	INFO(IPC_INFO, live, 3);
	INFO(MSG_INFO, live, 3);
	SETLIM("msgmax", 8192);
	for (int i = 0; i < 3; i++)
		RMID(live[i]);
}

/*
 * MSG_COPY's copy buffer is min(msgsz, msgmax): with msgmax lowered below the
 * size of a queued message, the copy fails with EINVAL although msgsz is
 * enough (and a normal receive works).
 */
static void sc_copy_clamp(void)
{
	int q = GET(IPC_PRIVATE, 0600);

	SND(q, 1, 100, IPC_NOWAIT);
	SETLIM("msgmax", 50);
	RCV(q, 100, 0, IPC_NOWAIT | MSG_COPY);
	RCV(q, 200, 0, IPC_NOWAIT | MSG_COPY | MSG_NOERROR);
	STAT(q);
	RCV(q, 100, 0, IPC_NOWAIT);
	SETLIM("msgmax", 8192);
	RMID(q);
}

/* msgmax 1 MiB, msgmnb 4 MiB: a 1 MiB message arrives intact. */
static void sc_large(void)
{
	int q;

	SETLIM("msgmax", BIG);
	SETLIM("msgmnb", 4 * BIG);
	q = GET(IPC_PRIVATE, 0600);
	STAT(q);
	INFO0(IPC_INFO);
	for (int t = 1; t <= 4; t++)
		SND(q, t, BIG, IPC_NOWAIT);
	SND(q, 5, 1, IPC_NOWAIT);
	SND(q, 5, 0, IPC_NOWAIT);
	SND(q, 6, BIG + 1, IPC_NOWAIT);
	STAT(q);
	RCV(q, BIG, 0, IPC_NOWAIT);
	RCV(q, BIG - 1, 0, IPC_NOWAIT);
	RCV(q, BIG, 1, MSG_COPY | IPC_NOWAIT);
	RCV(q, 1000, 0, IPC_NOWAIT | MSG_NOERROR);
	RCV(q, BIG, 4, IPC_NOWAIT);
	STAT(q);
	SND(q, 7, BIG, IPC_NOWAIT);
	RCV(q, BIG, -7, IPC_NOWAIT);
	RCV(q, BIG, 0, IPC_NOWAIT);
	RCV(q, BIG, 0, IPC_NOWAIT);
	STAT(q);
	RMID(q);
}

/* IPC_SET passes msg_qbytes to the kernel's msgctl_down() as an int. */
static void body_qbytes_trunc(void)
{
	int q = GET(IPC_PRIVATE, 0600);

	SET(q, getuid(), getgid(), 0600, 1ul << 32);
	STAT(q);
	SET(q, getuid(), getgid(), 0600, (1ul << 32) + 7);
	STAT(q);
	SET(q, getuid(), getgid(), 0600, 0xfffffffful);
	STAT(q);
	SET(q, getuid(), getgid(), 0600, 0x80000000ul);
	STAT(q);
	SET(q, getuid(), getgid(), 0600, (unsigned long)-1);
	STAT(q);
	SND(q, 1, 100, IPC_NOWAIT);
	STAT(q);
	RMID(q);
}

static void sc_qbytes_trunc(void)
{
	body_qbytes_trunc();
	AS(NOBODY, body_qbytes_trunc);
}

/* ---- the permission matrix (diff.h) ---- */

#define NMODES 12
static const unsigned modes[NMODES] = {
	0000, 0400, 0200, 0600, 0040, 0020, 0060, 0004, 0002, 0006, 0644, 0466,
};

#define MKEY(i) KEY(0x100 + (i))
#define VKEY KEY(0x1ff)

static long long matrix_mnb;	/* msgmnb when the matrix began */

static void mx_begin(void)
{
	matrix_mnb = getlim("msgmnb");
}

/* As the creator: the queues, each with one message, then the owner and mode. */
static void mx_create(void)
{
	for (int i = 0; i < NMODES; i++) {
		int id = S->ids[i] = GET(MKEY(i), IPC_CREAT | IPC_EXCL | 0600);
		SND(id, i + 1, (size_t)10 + i, IPC_NOWAIT);
		SET(id, S->ouid, S->ogid, modes[i], (unsigned long)matrix_mnb);
	}
}

static void mx_victim(void)
{
	S->victim = GET(VKEY, IPC_CREAT | IPC_EXCL | 0600);
	SET(S->victim, S->ouid, S->ogid, 0600, (unsigned long)matrix_mnb);
}

/* As the accessor: everything a program may try on each queue. */
static void mx_access(void)
{
	for (int i = 0; i < NMODES; i++) {
		int id = S->ids[i];

		GET_SAME(MKEY(i), 0, id);
		GET_SAME(MKEY(i), 0400, id);
		GET_SAME(MKEY(i), 0200, id);
		GET_SAME(MKEY(i), 0600, id);
		GET_SAME(MKEY(i), 0066, id);
		GET_SAME(MKEY(i), 0004, id);
		GET_SAME(MKEY(i), IPC_CREAT | 0444, id);
		GET(MKEY(i), IPC_CREAT | IPC_EXCL | 0666);
		STAT(id);
		MSTAT(idx(id), MSG_STAT, id);
		MSTAT(idx(id), MSG_STAT_ANY, id);
		RCV(id, 64, 0, MSG_COPY | IPC_NOWAIT);
		RCV(id, 2, 0, IPC_NOWAIT);		/* E2BIG or EACCES */
		SND(id, 50, 3, IPC_NOWAIT);
		RCV(id, 64, 0, IPC_NOWAIT);
		RCV(id, 64, -100, IPC_NOWAIT);
		RCV(id, 64, 0, IPC_NOWAIT);
		SET(id, S->ouid, S->ogid, modes[i], (unsigned long)matrix_mnb + 1);
		SET(id, S->ouid, S->ogid, modes[i], (unsigned long)matrix_mnb);
	}
	int live[NMODES + 1];

	memcpy(live, S->ids, NMODES * sizeof(live[0]));
	live[NMODES] = S->victim;
	INFO(MSG_INFO, live, NMODES + 1);
	int r = RMID(S->victim);
	live[NMODES] = r == 0 ? -1 : S->victim;
	INFO(MSG_INFO, live, NMODES + 1);
	STAT(S->victim);
	GET(VKEY, 0);
	if (r == 0)
		S->victim = -1;
}

/* As root, between accessors: one message in each queue, mode and owner. */
static void mx_refill(void)
{
	for (int i = 0; i < NMODES; i++) {
		int id = S->ids[i];

		DRAIN(id);
		SND(id, i + 1, (size_t)10 + i, IPC_NOWAIT);
		SET(id, S->ouid, S->ogid, modes[i], (unsigned long)matrix_mnb);
		STAT(id);
	}
	if (S->victim >= 0)
		RMID(S->victim);
	S->victim = -1;
}

static void rmid_(int line, int q)
{
	ctl_(line, q, IPC_RMID, NULL);
}

static const struct perm_matrix msg_matrix = {
	.nmodes = NMODES, .begin = mx_begin, .create = mx_create,
	.victim = mx_victim, .access = mx_access, .refill = mx_refill,
	.stat = stat_, .remove = rmid_,
	.caps_accessors = { &ROOT_NOIPC, &ROOT_NOADM, &ROOT_NORES, &ROOT_NONE },
};

/* ================================ driver ================================= */

static const struct scenario scenarios[] = {
	{ "get", sc_get },
	{ "get_nobody", sc_get_nobody },
	{ "enospc", sc_enospc },
	{ "sndrcv", sc_sndrcv },
	{ "sndrcv_nobody", sc_sndrcv_nobody },
	{ "pids", sc_pids },
	{ "types", sc_types },
	{ "types_nobody", sc_types_nobody },
	{ "sizes", sc_sizes },
	{ "sizes_nobody", sc_sizes_nobody },
	{ "snd_errors", sc_snd_errors },
	{ "snd_errors_nobody", sc_snd_errors_nobody },
	{ "full", sc_full },
	{ "full_nobody", sc_full_nobody },
	{ "copy", sc_copy },
	{ "copy_nobody", sc_copy_nobody },
	{ "efault", sc_efault },
	{ "efault_nobody", sc_efault_nobody },
	{ "ctl", sc_ctl },
	{ "ctl_nobody", sc_ctl_nobody },
	{ "ctl_noresource", sc_ctl_noresource },
	{ "info", sc_info },
	{ "limits", sc_limits },
	{ "copy_clamp", sc_copy_clamp },
	{ "large", sc_large },
	{ "qbytes_trunc", sc_qbytes_trunc },
	PERM_SCENARIOS,
};

static void start_run(int uipc)
{
	O = uipc ? &uipc_ops : &kernel_ops;
	sb = malloc(sizeof(*sb));
	rb = malloc(sizeof(*rb));
	if (!sb || !rb)
		_exit(92);
}

int main(void)
{
	static const struct diff_test msg_test = {
		.name = "msg_diff",
		.env = "MSG_DIFF",
		.scenarios = scenarios,
		.nscenarios = sizeof(scenarios) / sizeof(scenarios[0]),
		.matrix = &msg_matrix,
		.start_run = start_run,
	};

	return diff_main(&msg_test);
}
