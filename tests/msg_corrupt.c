/*
 * msg_corrupt.c - a damaged or hostile file under the root never crashes or
 * hangs a process: every call returns, with a result or -1 and an errno.
 *
 * Design.  NLANES lane processes run in parallel, each in its own directory
 * under $UIPC_ROOT (given to the library through UIPC_ROOT, read at its first
 * call).  Neither the parent nor a lane ever calls the library, so every
 * child forked from a lane opens the files afresh.  A lane:
 *  1. creates, in a child, a keyed queue holding messages of many sizes (and
 *     a free list: some were received) and a second queue, and finds the
 *     queue's file: msg.<id> (or msg.<slot>; the same in a fresh root), and
 *     its other files msg.<id>.* if there are;
 *  2. snapshots its directory tree (regular files with their bytes and
 *     modes, symlinks with their targets, directories);
 *  3. for each of its iterations: restores the tree exactly (content, size,
 *     names; what the library removed or added is put back or removed),
 *     damages one of the queue's files (or, one iteration in 9, the
 *     'namespace' file) as the iteration's PRNG says - random bytes at random
 *     or at live (non-zero) offsets, ranges zeroed or set to 0xff, header
 *     fields set to edge values, the file truncated or extended - and forks a
 *     child that calls msgctl IPC_STAT/MSG_STAT/MSG_STAT_ANY/MSG_INFO/
 *     IPC_INFO/IPC_SET/IPC_RMID, msgget, msgsnd and msgrcv (all IPC_NOWAIT,
 *     with types, MSG_EXCEPT, MSG_NOERROR, MSG_COPY) on it.  One iteration in
 *     5 damages the file in place while the child has it mapped already.
 *     The child checks each result (-1 with an errno in 1..133, or a value in
 *     range; msgrcv and msgctl write nothing past the buffer they were given)
 *     and reports by its exit status; alarm() before each call catches a
 *     hang.  A call that takes over a second ends the iteration early
 *     (counted as "slow", not a failure): it keeps the run short when a
 *     damaged lock makes every call wait.
 *  4. sweeps the header: each 8-byte word of the first KiB of the queue's
 *     file set to 0, ~0, 2^40 and 0x7fffffff, and each word of the first 2
 *     KiB of its other file to 0 and ~0, one change per child, as above;
 *  5. restores the tree once more and checks that the queue works.
 * Another lane puts foreign things at an unused msg.<slot>, at the symlinks
 * that name the queue's slot and key (found as symlinks to the id, named
 * after the slot or key) and at namespace: empty files, random bytes, a
 * truncated or misplaced copy of a real queue, a directory, a FIFO, a
 * socket, symlinks (to /dev/zero, dangling, looping), links to odd ids; the
 * calls must return, and except for the namespace cases the real queue and
 * the creation and use of a new queue must work.
 *
 * The machinery (lanes, snapshot and restore, damage, checked calls,
 * counting, foreign files, report) is tests/corrupt.h's.
 *
 * Reproduce one iteration: UIPC_CORRUPT_ONLY=<n> (prints what it damaged);
 * UIPC_CORRUPT_SEED and UIPC_CORRUPT_ITERS change the run.  Truncating a
 * file that a process has mapped is not tested: the kernel sends SIGBUS on
 * access beyond the end of a mapped file, which no library can prevent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "uipc.h"

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

#define DEFAULT_ITERS 1600
#define BUFSZ 8192
#define KEY_BASE 0x5eed0000

enum {
	C_STAT, C_MSG_STAT, C_MSG_STAT_ANY, C_MSG_INFO, C_IPC_INFO, C_GET, C_RCV, C_RCV_NOERROR,
	C_RCV_EXCEPT, C_RCV_COPY, C_SND, C_SND_BIG, C_DRAIN, C_FILL, C_SET, C_GET_CREAT,
	C_GET_EXCL, C_RMID, C_GET_AGAIN, C_GET_PRIVATE, NCALLS
};
static const char *const call_name[NCALLS] = {
	"IPC_STAT", "MSG_STAT", "MSG_STAT_ANY", "MSG_INFO", "IPC_INFO", "msgget(key, 0)",
	"msgrcv(0)", "msgrcv(-3, MSG_NOERROR)", "msgrcv(2, MSG_EXCEPT)", "msgrcv(MSG_COPY)",
	"msgsnd(small)", "msgsnd(8192)", "msgrcv until error", "msgsnd until error", "IPC_SET",
	"msgget(key, IPC_CREAT)", "msgget(key, IPC_CREAT|IPC_EXCL)", "IPC_RMID",
	"msgget(key, IPC_CREAT) again", "msgget(IPC_PRIVATE)",
};

#define OBJ "msg"
#define OBJ_NOUN "queue"
#define FILES_PHASE "msg file"
#define SWEEP_PHASE "msg file header sweep"
#define EDGE_VALUES                                                                      \
	0, 1, 2, 3, 7, 8, 24, 25, 40, 88, 127, 128, 129, 255, 4096, 32767, 32768, 0x7fff,  \
	0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x40000000, 0x40000001,        \
	0xc0000000, 0x3fffffff, 0x100000000ull, 0x7fffffffffffffffull,                     \
	0x8000000000000000ull, 0xffffffffffffffffull
#define HEAD_BYTES 512
#define NAME_EACH_DAMAGE 0	/* an iteration damages one file, named first */
#define CLEAR_ERRNO 0
#include "corrupt.h"

/* The lane's queue in its snapshot. */
static struct {
	int msg_entry;			/* msg.<id> in lane.e[] */
	int part[4], nparts;		/* its other files: msg.<id>.* */
	int nmsgs;			/* in the queue after setup */
} queue;

/* ---- the calls ---- */

struct rbuf {
	long mtype;
	unsigned char text[BUFSZ + GUARD];
};

/* msgrcv into a guarded buffer of bufsz bytes. */
static long rcv(int c, int id, size_t bufsz, long typ, int flg)
{
	static struct rbuf b;
	memset(b.text, 0xa5, bufsz + GUARD);
	begin();
	ssize_t n = uipc_msgrcv(id, &b, bufsz, typ, flg);
	int e = errno;
	end(c, n, e, n >= 0 && (size_t)n <= bufsz && guard_ok(b.text, bufsz, bufsz + GUARD));
	return n;
}

static int snd(int c, int id, size_t len, long typ)
{
	static struct rbuf b;
	b.mtype = typ;
	for (size_t i = 0; i < len; i++)
		b.text[i] = (unsigned char)(i * 7);
	begin();
	int r = uipc_msgsnd(id, &b, len, IPC_NOWAIT);
	int e = errno;
	end(c, r, e, r == 0);
	return r;
}

static void ctl_stat(int c, int id, int cmd, struct msqid_ds *ds)
{
	static unsigned char g[sizeof(struct msqid_ds) + GUARD];
	memset(g, 0xa5, sizeof(g));
	begin();
	int r = uipc_msgctl(id, cmd, (struct msqid_ds *)g);
	int e = errno;
	int ok = guard_ok(g, sizeof(struct msqid_ds), sizeof(g));
	if (ds)
		memcpy(ds, g, sizeof(*ds));
	end(c, r, e, ok && (cmd == IPC_STAT ? r == 0 : 1));
}

static void get(int c, key_t key, int flg)
{
	begin();
	int r = uipc_msgget(key, flg);
	int e = errno;
	end(c, r, e, 1);
}

/*
 * Every call on queue 'id' (slot 'slot', key 'key').  With sync_fd >= 0,
 * after the first call (which maps the file) tell the lane and wait for it
 * to damage the file.
 */
static void calls(int id, int slot, key_t key, int sync_fd)
{
	struct msqid_ds ds;
	int stat_ok;

	memset(&ds, 0, sizeof(ds));
	ctl_stat(C_STAT, id, IPC_STAT, &ds);
	stat_ok = fail_code == 0 && ds.msg_qbytes != 0;
	if (sync_fd >= 0)
		wait_for_damage(sync_fd);
	ctl_stat(C_MSG_STAT, slot, MSG_STAT, NULL);
	ctl_stat(C_MSG_STAT_ANY, slot, MSG_STAT_ANY, NULL);
	ctl_stat(C_MSG_INFO, 0, MSG_INFO, NULL);
	ctl_stat(C_IPC_INFO, 0, IPC_INFO, NULL);
	get(C_GET, key, 0);
	rcv(C_RCV, id, BUFSZ, 0, IPC_NOWAIT);
	rcv(C_RCV_NOERROR, id, 50, -3, IPC_NOWAIT | MSG_NOERROR);
	rcv(C_RCV_EXCEPT, id, BUFSZ, 2, IPC_NOWAIT | MSG_EXCEPT);
	rcv(C_RCV_COPY, id, BUFSZ, 1, IPC_NOWAIT | MSG_COPY);
	snd(C_SND, id, rnd_below(300), 1 + (long)rnd_below(5));
	snd(C_SND_BIG, id, BUFSZ, 4);
	for (int i = 0; i < 64; i++)
		if (rcv(C_DRAIN, id, BUFSZ, 0, IPC_NOWAIT) < 0)
			break;
	for (int i = 0; i < 64; i++)
		if (snd(C_FILL, id, rnd_below(2000), 1 + (long)rnd_below(5)) < 0)
			break;
	if (!stat_ok) {
		ds.msg_perm.mode = 0600;
		ds.msg_qbytes = 16384;
	}
	ds.msg_perm.mode = (ds.msg_perm.mode & 0777) | 0600;
	begin();
	int r = uipc_msgctl(id, IPC_SET, &ds);
	end(C_SET, r, errno, r == 0);
	get(C_GET_CREAT, key, IPC_CREAT | 0600);
	get(C_GET_EXCL, key, IPC_CREAT | IPC_EXCL | 0600);
	begin();
	r = uipc_msgctl(id, IPC_RMID, NULL);
	end(C_RMID, r, errno, r == 0);
	get(C_GET_AGAIN, key, IPC_CREAT | 0600);
	get(C_GET_PRIVATE, IPC_PRIVATE, IPC_CREAT | 0600);
}

/* ---- a lane ---- */

static const size_t setup_sizes[] = { 0, 1, 40, 87, 88, 89, 120, 121, 200, 1000, 4000, 8192, 5, 300 };

/* In a child: create the lane's queue, fill it, leave some free blocks. */
static void __attribute__((noreturn)) setup_child(int *out_id)
{
	static struct rbuf b;
	struct msqid_ds ds;

	alarm(CALL_ALARM);
	int id = uipc_msgget(lane.key, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0)
		_exit(10);
	int n = (int)(sizeof(setup_sizes) / sizeof(setup_sizes[0]));
	for (int i = 0; i < n; i++) {
		b.mtype = 1 + i % 5;
		memset(b.text, 'a' + i, setup_sizes[i]);
		if (uipc_msgsnd(id, &b, setup_sizes[i], IPC_NOWAIT) != 0)
			_exit(11);
	}
	/* Receive two from the middle: free blocks, a list with a hole. */
	if (uipc_msgrcv(id, &b, BUFSZ, 4, IPC_NOWAIT) != (ssize_t)setup_sizes[3] ||
	    uipc_msgrcv(id, &b, BUFSZ, 5, IPC_NOWAIT) != (ssize_t)setup_sizes[4])
		_exit(12);
	if (uipc_msgctl(id, IPC_STAT, &ds) != 0 || ds.msg_qnum != (msgqnum_t)(n - 2))
		_exit(13);
	/* A second queue, without a key, so that the root holds two. */
	if (uipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0)
		_exit(14);
	*out_id = id;
	_exit(0);
}

/* The queue as setup left it: IPC_STAT, then every message in order. */
static int pristine_check(const char *when)
{
	pid_t pid = fork();
	if (pid == 0) {
		static struct rbuf b;
		struct msqid_ds ds;
		int n = (int)(sizeof(setup_sizes) / sizeof(setup_sizes[0]));
		unsigned long bytes = 0;
		alarm(CALL_ALARM);
		for (int i = 0; i < n; i++)
			if (i != 3 && i != 4)
				bytes += setup_sizes[i];
		if (uipc_msgctl(lane.id, IPC_STAT, &ds) != 0)
			_exit(20);
		if (ds.msg_qnum != (msgqnum_t)(n - 2) || ds.__msg_cbytes != bytes)
			_exit(21);
		for (int i = 0; i < n; i++) {
			if (i == 3 || i == 4)
				continue;
			ssize_t r = uipc_msgrcv(lane.id, &b, BUFSZ, 0, IPC_NOWAIT);
			if (r != (ssize_t)setup_sizes[i] || b.mtype != 1 + i % 5 ||
			    (r > 0 && (b.text[0] != 'a' + i || b.text[r - 1] != 'a' + i)))
				_exit(22);
		}
		if (uipc_msgrcv(lane.id, &b, BUFSZ, 0, IPC_NOWAIT) != -1 || errno != ENOMSG)
			_exit(23);
		if (uipc_msgget(lane.key, 0) != lane.id)
			_exit(24);
		_exit(0);
	}
	int status = wait_child(pid, 3 * CALL_ALARM);
	if (status != 0) {
		int i = atomic_fetch_add(&res->pristine_bad, 1);
		if (i <= NLANES)
			snprintf(res->pristine_msg[i], sizeof(res->pristine_msg[i]),
				 "lane %d, %s: the restored queue does not work: status %#x "
				 "(exit 20 IPC_STAT, 21 counters, 22 messages, 23 extra message, "
				 "24 msgget)", lane.no, when, status);
		return -1;
	}
	return 0;
}

static void record_outcome(int ph, const char *label, int status, int mapped)
{
	char why[200];

	enum outcome o = count_outcome(ph, status, why, sizeof(why));
	if (o == O_CLEAN || o == O_SLOW)
		return;
	int i = atomic_fetch_add(&res->nfail, 1);
	if (i < MAX_FAILS)
		snprintf(res->fail[i], sizeof(res->fail[i]), "%s %s%s: %s; damage:%.250s",
			 phase_name[ph], label, mapped ? " (file mapped)" : "", why, desc);
}

/* One iteration: damage the target, run the calls in a child. */
static void iteration(long iter, int verbose)
{
	int ph = (iter % 9 == 8 && lane.ns_entry >= 0) ? PH_NS : PH_FILES;
	int sv[2] = { -1, -1 };
	char label[64];

	rs = mix64(base_seed ^ ((uint64_t)iter * 0x2545f4914f6cdd1dull));
	/* The queue's main file, or one of its other files (msg.<id>.data). */
	int which = ph == PH_NS ? lane.ns_entry : queue.msg_entry;
	if (ph == PH_FILES && queue.nparts && rnd_below(2))
		which = queue.part[rnd_below((uint64_t)queue.nparts)];
	struct entry *e = &lane.e[which];
	clear_note();
	note(" %s", e->name);
	if (restore_lane())
		return;
	int mapped = rnd_below(5) == 0;
	if (mapped && socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		mapped = 0;
	int fd = openat(lane.dfd, e->name, O_RDWR);
	if (fd < 0) {
		lane_fail("lane %d: cannot open %s: %s", lane.no, e->name, strerror(errno));
		return;
	}
	int nops = 1 + (int)rnd_below(3);
	if (!mapped) {
		for (int i = 0; i < nops; i++)
			damage_inplace(fd, e);
		if (rnd_below(4) == 0)
			damage_size(fd, e);
	}
	uint64_t child_seed = rnd();
	res->detail[lane.no][0] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fd);
		if (mapped)
			close(sv[0]);
		rs = child_seed;
		phase_now = ph;
		calls(lane.id, lane.slot, lane.key, mapped ? sv[1] : -1);
		_exit(0);
	}
	if (mapped) {
		close(sv[1]);
		if (child_has_mapped(sv[0])) {
			for (int i = 0; i < nops; i++)
				damage_inplace(fd, e);
			let_child_go(sv[0]);
		}
		close(sv[0]);
	}
	close(fd);
	int status = wait_child(pid, 3 * CALL_ALARM);
	if (verbose)
		printf("# iteration %ld%s: damage:%s -> status %#x\n", iter,
		       mapped ? " (file mapped)" : "", desc, status);
	snprintf(label, sizeof(label), "iteration %ld", iter);
	record_outcome(ph, label, status, mapped);
}

/*
 * The sweep: every 8-byte word of the first SWEEP_MAIN bytes of the queue's
 * main file set to each of sweep_main[], and of the first SWEEP_PART bytes
 * of its first other file (if any) to each of sweep_part[].
 */
#define SWEEP_MAIN 1024
#define SWEEP_PART 2048
static const uint64_t sweep_main[] = { 0, ~0ull, 1ull << 40, 0x7fffffff };
static const uint64_t sweep_part[] = { 0, ~0ull };
#define NSWEEP_MAIN (sizeof(sweep_main) / sizeof(sweep_main[0]))
#define NSWEEP_PART (sizeof(sweep_part) / sizeof(sweep_part[0]))

static long sweep_words(int entry, size_t limit)
{
	size_t size = lane.e[entry].size < limit ? lane.e[entry].size : limit;
	return (long)(size / 8);
}

static long sweep_count(void)
{
	long n = sweep_words(queue.msg_entry, SWEEP_MAIN) * (long)NSWEEP_MAIN;
	if (queue.nparts)
		n += sweep_words(queue.part[0], SWEEP_PART) * (long)NSWEEP_PART;
	return n;
}

static void sweep_iteration(long j)
{
	long mainn = sweep_words(queue.msg_entry, SWEEP_MAIN) * (long)NSWEEP_MAIN;
	const struct entry *e;
	uint64_t val;
	size_t off;
	char label[64];

	if (j < mainn) {
		e = &lane.e[queue.msg_entry];
		off = (size_t)(j / (long)NSWEEP_MAIN) * 8;
		val = sweep_main[j % (long)NSWEEP_MAIN];
	} else {
		j -= mainn;
		e = &lane.e[queue.part[0]];
		off = (size_t)(j / (long)NSWEEP_PART) * 8;
		val = sweep_part[j % (long)NSWEEP_PART];
		j += mainn;
	}
	clear_note();
	note(" %s u64@%zu=%#llx", e->name, off, (unsigned long long)val);
	if (restore_lane())
		return;
	int fd = openat(lane.dfd, e->name, O_RDWR);
	if (fd < 0) {
		lane_fail("lane %d: cannot open %s: %s", lane.no, e->name, strerror(errno));
		return;
	}
	put(fd, &val, 8, off);
	close(fd);
	res->detail[lane.no][0] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		rs = mix64(base_seed ^ 0x5eeb ^ (uint64_t)j);
		phase_now = PH_SWEEP;
		calls(lane.id, lane.slot, lane.key, -1);
		_exit(0);
	}
	snprintf(label, sizeof(label), "iteration %ld", j);
	record_outcome(PH_SWEEP, label, wait_child(pid, 3 * CALL_ALARM), 0);
}

/* Creates the lane's directory and queue; snapshots it; finds msg.<slot>. */
static int lane_setup(int no, const char *sub)
{
	char names[600], want[64];

	queue.msg_entry = -1;
	if (lane_dir(no, KEY_BASE + no, sub))
		return -1;
	int *id = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (id == MAP_FAILED)
		return -1;
	*id = -1;
	pid_t pid = fork();
	if (pid == 0)
		setup_child(id);
	int status = wait_child(pid, 3 * CALL_ALARM);
	lane.id = *id;
	munmap(id, 4096);
	if (status != 0 || lane.id < 0) {
		lane_fail("lane %d: setting up the queue failed: status %#x", no, status);
		return -1;
	}
	lane.slot = lane.id % 32768;
	if (snapshot(&lane)) {
		lane_fail("lane %d: cannot snapshot %s: %s", no, lane.dir, snap_err);
		return -1;
	}
	list_names(names, sizeof(names));
	/* The queue's file: msg.<slot> or msg.<id> (the same in a fresh root). */
	snprintf(want, sizeof(want), "msg.%d", lane.id);
	for (int i = 0; i < lane.n; i++) {
		char alt[64];
		snprintf(alt, sizeof(alt), "msg.%d", lane.slot);
		if ((!strcmp(lane.e[i].name, want) || !strcmp(lane.e[i].name, alt)) &&
		    lane.e[i].type == E_FILE)
			queue.msg_entry = i;
		size_t wl = strlen(want);
		if (!strncmp(lane.e[i].name, want, wl) && lane.e[i].name[wl] == '.' &&
		    lane.e[i].type == E_FILE && queue.nparts < 4)
			queue.part[queue.nparts++] = i;
	}
	if (queue.msg_entry < 0) {
		lane_fail("lane %d: queue id %d but no regular file %s; the root holds:%s", no,
			  lane.id, want, names);
		return -1;
	}
	if (no == 0)
		printf("# names in a root with two queues:%s (@: symlink, /: directory)\n", names);
	return 0;
}

static void lane_main(int no)
{
	char sub[32];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(sub, sizeof(sub), "lane%d", no);
	if (lane_setup(no, sub))
		_exit(1);
	if (pristine_check("before damage"))
		_exit(1);
	for (long i = no; i < iters; i += NLANES) {
		if (only >= 0 && i != only)
			continue;
		if (total_hangs() >= MAX_HANGS)
			break;
		iteration(i, only >= 0);
	}
	long nsweep = sweep_count();
	if (no == 0)
		res->nsweep[0] = nsweep;	/* the lanes share one sweep */
	for (long j = no; only < 0 && j < nsweep && total_hangs() < MAX_HANGS; j += NLANES)
		sweep_iteration(j);
	if (restore(&lane) || pristine_check("after the damage, restored"))
		_exit(1);
	_exit(0);
}

/* ---- foreign files ---- */

/* In a child: the calls around a foreign thing (corrupt.h: foreign_cases()). */
static void __attribute__((noreturn)) foreign_child(int fslot, key_t fkey, int others)
{
	static struct rbuf b;
	struct msqid_ds ds;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	phase_now = PH_FOREIGN;
	for (int seq = 0; seq < 3; seq++)
		ctl_stat(C_STAT, seq * 32768 + fslot, IPC_STAT, NULL);
	ctl_stat(C_MSG_STAT, fslot, MSG_STAT, NULL);
	ctl_stat(C_MSG_STAT_ANY, fslot, MSG_STAT_ANY, NULL);
	ctl_stat(C_MSG_INFO, 0, MSG_INFO, NULL);
	ctl_stat(C_IPC_INFO, 0, IPC_INFO, NULL);
	rcv(C_RCV, fslot, BUFSZ, 0, IPC_NOWAIT);
	rcv(C_RCV_COPY, fslot, BUFSZ, 0, IPC_NOWAIT | MSG_COPY);
	snd(C_SND, fslot, 10, 1);
	get(C_GET, fkey, 0);
	get(C_GET_CREAT, fkey, IPC_CREAT | 0600);
	get(C_GET_EXCL, fkey, IPC_CREAT | IPC_EXCL | 0600);
	begin();
	int r = uipc_msgctl(fslot, IPC_RMID, NULL);
	end(C_RMID, r, errno, r == 0);
	if (!others)
		_exit(0);
	/* A foreign name beside them does not disturb the real queue ... */
	char *d = res->detail[lane.no];
	size_t dsz = sizeof(res->detail[lane.no]);
	alarm(CALL_ALARM);
	if ((r = uipc_msgctl(lane.id, IPC_STAT, &ds)) != 0 || ds.msg_qnum != (msgqnum_t)queue.nmsgs) {
		snprintf(d, dsz, "IPC_STAT of the real queue: %d %s, msg_qnum %lu", r,
			 r ? strerror(errno) : "", (unsigned long)ds.msg_qnum);
		_exit(5);
	}
	if ((r = uipc_msgget(lane.key, 0)) != lane.id) {
		snprintf(d, dsz, "msgget of the real queue's key: %d %s", r, strerror(errno));
		_exit(5);
	}
	/* ... nor the creation and use of a new one. */
	int id = uipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	b.mtype = 3;
	memset(b.text, 'z', 100);
	if (id < 0) {
		snprintf(d, dsz, "msgget(IPC_PRIVATE): %s", strerror(errno));
		_exit(5);
	}
	if (uipc_msgsnd(id, &b, 100, IPC_NOWAIT) != 0 ||
	    uipc_msgrcv(id, &b, BUFSZ, 3, IPC_NOWAIT) != 100 ||
	    uipc_msgctl(id, IPC_RMID, NULL) != 0) {
		snprintf(d, dsz, "new queue %d: msgsnd/msgrcv/IPC_RMID: %s", id, strerror(errno));
		_exit(5);
	}
	_exit(0);
}

static void foreign_main(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rs = mix64(base_seed ^ 0xf0f0f0f0);
	if (lane_setup(NLANES, "foreign"))
		_exit(1);
	queue.nmsgs = (int)(sizeof(setup_sizes) / sizeof(setup_sizes[0])) - 2;
	foreign_cases(&lane.e[queue.msg_entry]);
	if (restore(&lane) || pristine_check("after the foreign files, restored"))
		_exit(1);
	_exit(0);
}

/* ---- main ---- */

int main(void)
{
	const char *env;

	setvbuf(stdout, NULL, _IOLBF, 0);
	read_settings(0x5eed, DEFAULT_ITERS);
	if ((env = getenv("UIPC_CORRUPT_ONLY")) && *env) {
		only = strtol(env, NULL, 0);
		if (only >= iters)
			iters = only + 1;
	}
	/* Never call the library here: lanes must fork children that have not. */
	if (make_root())
		return 77;
	if (!map_results(0)) {
		perror("mmap");
		return 77;
	}
	int lanes_ok = run_lanes(only >= 0 ? (int)(only % NLANES) : -1, lane_main, foreign_main);

	t_case("msg_corrupt: set up queues, find msg.<slot>, restore them intact");
	check_setup(lanes_ok);
	t_done();

	long expect_ns = namespace_iterations();
	for (int ph = 0; ph < NPHASES; ph++) {
		char name[128];
		long it = atomic_load(&res->iters[ph]);
		if (only >= 0 && (ph == PH_FOREIGN || ph == PH_SWEEP))
			continue;
		snprintf(name, sizeof(name), "msg_corrupt: %s: every call returns, no signal",
			 phase_name[ph]);
		t_case(name);
		check_phase(ph);
		if (ph == PH_FILES && total_hangs() < MAX_HANGS)
			CHECK_EQ(it, (only >= 0 ? 1 : iters) - expect_ns);
		if (ph == PH_NS && total_hangs() < MAX_HANGS)
			CHECK_EQ(it, expect_ns);
		if (ph == PH_SWEEP && only < 0 && total_hangs() < MAX_HANGS)
			CHECK_EQ(it, res->nsweep[0]);
		print_phase(ph);
		t_done();
	}
	if (print_failures())
		fprintf(stderr, "reproduce one with UIPC_CORRUPT_SEED=%#llx UIPC_CORRUPT_ONLY=<n>\n",
			(unsigned long long)base_seed);
	if (total_hangs() >= MAX_HANGS)
		fprintf(stderr, "stopped after %d hangs\n", MAX_HANGS);
	remove_own_root();
	return t_exit();
}
