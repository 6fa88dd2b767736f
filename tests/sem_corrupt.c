/*
 * sem_corrupt.c - a damaged or hostile semaphore set file never crashes or
 * hangs a process: every call returns, with a result or -1 and an errno.
 *
 * Design (msg_corrupt.c's, for the two files of a set: sem.<id>, the header
 * with the object header, the counters and 128 sleeper slots, and
 * sem.<id>.data, with the semaphores, the journal and the undo records).
 * NLANES lane processes run in parallel, each in its own directory under
 * $UIPC_ROOT (given to the library through UIPC_ROOT, read at its first
 * call).  Neither the parent nor a lane ever calls the library, so every
 * child forked from a lane opens the files afresh.  A lane:
 *  1. builds, with children and helper processes it forks, a keyed set in a
 *     state of its own (scenarios[]): values only; undo records of processes
 *     that died (not yet applied); undo records of live helpers, of a live
 *     helper whose holding thread ended and of one already seen orphaned;
 *     sleepers on their semaphores' lists, sleeping arrays with the single
 *     operations merged onto the set's list, a sleeper with SEM_UNDO and one
 *     watching a live holder's record (the sleepers are then stopped with
 *     SIGSTOP, so that their slots stay taken by live threads and nothing
 *     moves); a journal left non-empty by a process SIGKILLed in the middle
 *     of an operation (the lock's owner dead); 250 semaphores; one.  Plus a
 *     second set, without a key;
 *  2. snapshots its directory tree, checks that the files have the layout
 *     this test knows (a copy of src/sem.c's structures, below) and lists
 *     the meaningful fields of this set: the object header, the counters,
 *     the slots in use (mutex, state, list, position, nsops, blocking,
 *     status, pid, undo, watch, operations), the semaphores (lo, hi, gen,
 *     refs), the journal (count, cap, entries), the undo records in use
 *     (mutex, state, pid, start, since, adjustments);
 *  3. runs a probe (IPC_STAT, semget, GETALL and every semaphore's GETPID,
 *     GETNCNT, GETZCNT) twice, restoring in between: the reference state;
 *  4. for each of its iterations: restores the tree exactly, damages the set
 *     (or, one iteration in 9, the 'namespace' file) as the iteration's PRNG
 *     says - random bytes at random or live offsets, ranges zeroed or set to
 *     0xff, words or named fields set to edge values (field-specific ones:
 *     a list number past the semaphores, nsops past SLOT_SOPS, an undo index
 *     past nundo, a journal entry aimed at the lock, a mutex marked
 *     owner-died or not recoverable...), a file truncated or extended, or
 *     a coherent new geometry (nsems, nundo, the journal's cap and the file
 *     size changed together, so that the set passes validation) - and forks
 *     a child that calls, on it: semctl IPC_STAT, SEM_STAT, SEM_STAT_ANY,
 *     SEM_INFO, IPC_INFO, GETVAL, GETPID, GETNCNT, GETZCNT, GETALL, SETVAL,
 *     SETALL, IPC_SET, IPC_RMID; semget by key; semop and semtimedop single
 *     and arrays, with and without SEM_UNDO and IPC_NOWAIT, waiting for a
 *     millisecond (semtimedop), or until a timer's signal interrupts it
 *     (semop), past SLOT_SOPS operations, past the semaphores.  One
 *     iteration in 5 damages the files in place while the child has them
 *     mapped already (after its IPC_STAT and maybe a SEM_UNDO operation).
 *     The child checks each result (-1 with an errno in 1..133, or a value
 *     in range; semctl writes nothing past the buffer it was given) and
 *     reports by its exit status; alarm() before each call catches a hang.
 *     A call that takes over a second ends the iteration early (counted as
 *     "slow", not a failure): a damaged lock word makes every call wait 3 s
 *     (sync.c: lock_wedged);
 *  5. sweeps its fields: each set to each of 1-4 values of its kind (the
 *     object header's fields shared out among the lanes), then 7 coherent
 *     geometries (nundo 0, 1, one less; nsems one more, one less; ...), one
 *     change per child, as above;
 *  6. restores the tree once more and checks that the probe gives the
 *     reference state again.
 * Another lane puts foreign things at an unused sem.<slot>, at the symlinks
 * that name the set's slot and key and at namespace: empty files, random
 * bytes, a truncated or misplaced copy of a real set, a directory, a FIFO,
 * a socket, symlinks (to /dev/zero, dangling, looping), links to odd ids;
 * the calls must return, and except for the namespace cases the real set
 * and the creation and use of a new set must work.
 *
 * An access past the end of a view would often land unseen in the next
 * mapping: the test's own mmap() (the library's calls bind to it) fences
 * every view the library reserves with inaccessible pages, so that it
 * faults; and the results shared with the lanes sit between inaccessible
 * regions, which a run-away loop in a child hits first.  Wrong results are
 * reported by call and kind (the first example of each), crashes and hangs
 * one by one, with what was damaged.
 *
 * The machinery (lanes, snapshot and restore, damage, checked calls,
 * counting, foreign files, report) is tests/corrupt.h's.
 *
 * Reproduce one iteration: UIPC_CORRUPT_ONLY=<n> (prints what it damaged),
 * or UIPC_CORRUPT_ONLY=s<lane>.<j> for the sweep's change j of a lane;
 * UIPC_CORRUPT_SEED and UIPC_CORRUPT_ITERS change the run.  The state of the
 * killed-in-the-middle lane depends on when the kill landed.  Truncating a
 * file that a process has mapped is not tested: the kernel sends SIGBUS on
 * access beyond the end of a mapped file, which no library can prevent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uipc.h"

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif

#define DEFAULT_ITERS 1200
#define MAX_SLOW 16
#define KEY_BASE 0x5e3a0000
#define MAX_HELPERS 16
#define MAX_FIELDS 400
#define MAX_SWEEP 1200
#define PROBE_SEMS 256
#define BIG_OPS 40		/* more than SLOT_SOPS */

/*
 * Views fenced in: every address range the library reserves for a view of
 * a set (store.c: map_view, an anonymous PROT_NONE mapping that the files
 * are mapped over) gets an inaccessible MiB on each side, so that an access
 * just past a view faults instead of landing, unseen, in the next mapping.
 * Not under AddressSanitizer, which has its own mmap, and only where the
 * mmap system call takes mmap()'s arguments (64-bit x86 and ARM).
 */
#ifdef __SANITIZE_ADDRESS__
#define UNDER_ASAN 1
#endif
#ifdef __has_feature
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if !defined(UNDER_ASAN) && (defined(__x86_64__) || defined(__aarch64__)) && !defined(__ILP32__)
#define VIEW_FENCE ((size_t)1 << 20)
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (!addr && prot == PROT_NONE && fd == -1 && (flags & MAP_ANONYMOUS) &&
	    !(flags & MAP_FIXED) && len < ((size_t)1 << 46)) {
		long p = syscall(SYS_mmap, NULL, len + 2 * VIEW_FENCE, prot, flags, fd, off);
		return p == -1 ? MAP_FAILED : (char *)p + VIEW_FENCE;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
#endif

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

/* ---- the layout of a set's files: a copy of src/sem.c's and src/internal.h's ---- */

#define M_MAGIC 0x63706975u
#define M_VERSION 4
#define M_KIND_SEM 1
#define M_SLEEPERS 128
#define M_SLOT_SOPS 32
#define M_REDO_MAX 24
#define M_MAX_NSEMS (1ull << 24)
#define M_MAX_UNDO (1ull << 16)
#define M_L_ALTER ((uint64_t)-1)
#define M_L_CONST ((uint64_t)-2)
#define M_SEM_SLOW (1ull << 63)
#define M_REF_SLEEPER (1ull << 32)
#define M_PTHREAD_MUTEX_NOTRECOVERABLE 0x7fffffff

struct m_obj {
	uint32_t magic;
	uint16_t version, kind;
	uint32_t state;
	int32_t id, key;
	uint32_t hdr_size;
	uint64_t size;
	uint64_t uid, gid, cuid, cgid, mode;
	uint64_t ctime;
	_Alignas(64) pthread_mutex_t lock;
	struct {
		uint64_t count;
		struct { uint64_t off, val; } e[M_REDO_MAX];
	} redo;
};

struct m_slot {
	pthread_mutex_t alive;
	uint64_t state, list, pos, nsops, blocking;
	int64_t status;
	uint64_t pid, undo, watch;
	uint32_t futex, sleeping, ready, pad;
	struct sembuf sops[M_SLOT_SOPS];
};

struct m_set {
	struct m_obj obj;
	uint64_t nsems, nundo, otime, pos, complex_count, queued, orphan_at, orphans;
	uint32_t poll, pad;
	struct m_slot w[M_SLEEPERS];
};

struct m_sem {
	_Alignas(16) uint64_t lo;
	uint64_t hi, gen, refs;
};

struct m_undo {
	pthread_mutex_t alive;
	uint64_t state, pid, start, since;
	uint64_t adj[];
};

#define M_HDR ((sizeof(struct m_set) + 4095) & ~(size_t)4095)
#define MUTEX_OFF(f) offsetof(pthread_mutex_t, __data.f)

static uint64_t m_jcap(uint64_t nsems)
{
	return 3 * nsems + 4 * M_SLEEPERS + 64;
}

/* Offsets in the data file (which follows the header in a mapping). */
static uint64_t m_joff(uint64_t nsems)
{
	return nsems * sizeof(struct m_sem);
}

static uint64_t m_uoff(uint64_t nsems)
{
	uint64_t end = M_HDR + m_joff(nsems) + 16 + m_jcap(nsems) * 16;
	return ((end + 63) & ~(uint64_t)63) - M_HDR;
}

static uint64_t m_usize(uint64_t nsems)
{
	return (sizeof(struct m_undo) + nsems * 8 + 63) & ~(uint64_t)63;
}

static uint64_t m_file_size(uint64_t nsems, uint64_t nundo)
{
	return M_HDR + m_uoff(nsems) + nundo * m_usize(nsems);
}

/* ---- shared results ---- */

enum {
	C_STAT, C_SEM_STAT, C_SEM_STAT_ANY, C_SEM_INFO, C_IPC_INFO, C_GET, C_GET_NSEMS,
	C_GETVAL, C_GETPID, C_GETNCNT, C_GETZCNT, C_GETALL, C_FIRST_UNDO, C_OP_NOWAIT, C_OP_INC,
	C_OP_ZERO, C_OP_UNDO, C_OP_ARRAY, C_OP_ARRAY_UNDO, C_OP_EFBIG, C_OP_BIG, C_TIMED,
	C_TIMED_ZERO, C_TIMED_ARRAY, C_TIMED_UNDO, C_OP_BLOCK, C_DRAIN, C_SETVAL, C_SETALL, C_SET,
	C_GET_CREAT, C_GET_EXCL, C_RMID, C_GET_AGAIN, C_GET_PRIVATE, NCALLS
};
static const char *const call_name[NCALLS] = {
	"IPC_STAT", "SEM_STAT", "SEM_STAT_ANY", "SEM_INFO", "IPC_INFO", "semget(key, 0, 0)",
	"semget(key, nsems, 0)", "GETVAL", "GETPID", "GETNCNT", "GETZCNT", "GETALL",
	"semop(+1, SEM_UNDO) first", "semop(-1, IPC_NOWAIT)", "semop(+1)", "semop(0, IPC_NOWAIT)",
	"semop(+-1, SEM_UNDO)", "semop(array, IPC_NOWAIT)", "semop(array, SEM_UNDO)",
	"semop(past nsems)", "semtimedop(40 ops, 1 ms)", "semtimedop(-1, 1 ms)",
	"semtimedop(0, 1 ms)", "semtimedop(array, 1 ms)", "semtimedop(-2, SEM_UNDO, 1 ms)",
	"semop(-3) until a signal", "semop(-1) until error", "SETVAL", "SETALL", "IPC_SET",
	"semget(key, IPC_CREAT)", "semget(key, IPC_CREAT|IPC_EXCL)", "IPC_RMID",
	"semget(key, IPC_CREAT) again", "semget(IPC_PRIVATE)",
};

#define OBJ "sem"
#define OBJ_NOUN "set"
#define FILES_PHASE "set files"
#define SWEEP_PHASE "set files field sweep"
#define EDGE_VALUES                                                                      \
	0, 1, 2, 3, 7, 8, 24, 25, 31, 32, 33, 40, 127, 128, 129, 255, 4096, 32767, 32768,  \
	0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x40000000,            \
	0x40000001, 0xc0000000, 0x3fffffff, 0x100000000ull, 0x7fffffffffffffffull,         \
	0x8000000000000000ull, 0xffffffffffffffffull
#define HEAD_BYTES 1024
#define NAME_EACH_DAMAGE 1	/* an iteration damages two files */
#define CLEAR_ERRNO 1
#include "corrupt.h"

struct probe {
	int status;		/* 0: done; else the step that failed */
	int nsems, getid;
	unsigned short val[PROBE_SEMS];
	short ncnt[PROBE_SEMS], zcnt[PROBE_SEMS];
	int pid[PROBE_SEMS];
};

/* This test's results beside corrupt.h's, shared by all processes. */
struct stats {
	_Atomic long lane_iters[NLANES + 1], lane_sweep_done[NLANES + 1];
	double lane_secs[NLANES + 1];
	_Atomic long nbad[NCALLS][3];	/* bad results by call and kind */
	char bad_example[NCALLS][3][640];
	_Atomic int nslow;
	char slow_msg[MAX_SLOW][480];
	char lane_desc[NLANES + 1][300];
	struct probe probe[NLANES + 1][3];
	int setup_id[NLANES + 1];
};
static struct stats *st;

enum { P_HDR, P_DATA };

struct field {
	char name[48];
	uint8_t part;			/* P_HDR or P_DATA */
	uint8_t width;			/* 4 or 8 bytes */
	uint8_t type;			/* enum ftype */
	uint8_t common;			/* swept by one lane only */
	size_t off;
	uint64_t aux;			/* FT_ADJ: the semaphore's generation */
};

/* The lane's set in its snapshot, its helpers, its fields, its sweep. */
static struct {
	const struct scenario *sc;
	uint64_t nsems, nundo, jcount, queued, records;
	int hdr_entry, data_entry;	/* sem.<id>, sem.<id>.data in lane.e[], or -1 */
	pid_t helper[MAX_HELPERS];
	int hold[MAX_HELPERS];		/* write end of the helper's pipe, or -1 */
	char hkind[MAX_HELPERS];
	int nhelpers;
	struct field f[MAX_FIELDS];
	int nf;
	int sw_field[MAX_SWEEP];
	uint8_t sw_val[MAX_SWEEP];
	int nsw;
} set;

/* ---- named fields and their edge values ---- */

enum ftype {
	FT_WORD, FT_COUNT, FT_OBJSTATE, FT_NSEMS, FT_NUNDO, FT_OBJLOCK, FT_LOCK, FT_OWNER, FT_MKIND,
	FT_MLIST, FT_RCOUNT, FT_ROFF, FT_STATE, FT_LIST, FT_POS, FT_NSOPS, FT_BLOCKING,
	FT_STATUS, FT_PID, FT_IDX, FT_SOPS, FT_LO, FT_HI, FT_GEN, FT_REFS, FT_JCOUNT, FT_JCAP,
	FT_JOFF, FT_START, FT_ADJ, NFTYPES
};

/* How many of a kind's values (the first ones) the sweep sets. */
static const uint8_t sweep_n[NFTYPES] = {
	[FT_WORD] = 2, [FT_COUNT] = 2, [FT_OBJSTATE] = 3, [FT_NSEMS] = 3, [FT_NUNDO] = 4,
	[FT_OBJLOCK] = 2, [FT_LOCK] = 2, [FT_OWNER] = 1, [FT_MKIND] = 1, [FT_MLIST] = 1,
	[FT_RCOUNT] = 2, [FT_ROFF] = 2, [FT_STATE] = 3, [FT_LIST] = 3, [FT_POS] = 1,
	[FT_NSOPS] = 3, [FT_BLOCKING] = 2, [FT_STATUS] = 1, [FT_PID] = 2, [FT_IDX] = 2,
	[FT_SOPS] = 2, [FT_LO] = 2, [FT_HI] = 2, [FT_GEN] = 1, [FT_REFS] = 2, [FT_JCOUNT] = 4,
	[FT_JCAP] = 1, [FT_JOFF] = 4, [FT_START] = 1, [FT_ADJ] = 2,
};

static uint64_t snap_word(int part, size_t off, int width)
{
	const struct entry *e = &lane.e[part == P_HDR ? set.hdr_entry : set.data_entry];
	uint64_t v = 0;
	if (off + (size_t)width <= e->size)
		memcpy(&v, e->data + off, (size_t)width);
	return v;
}

static uint64_t sembuf_word(unsigned num, int op, int flg, uint64_t old)
{
	return (uint64_t)(uint16_t)num | (uint64_t)(uint16_t)op << 16 |
	       (uint64_t)(uint16_t)flg << 32 | (old & 0xffff000000000000ull);
}

/* The values a field of its kind is set to, the sweep's first.  Returns how many. */
static int field_values(const struct field *f, uint64_t *v)
{
	uint64_t old = snap_word(f->part, f->off, f->width), ns = set.nsems, nu = set.nundo;
	uint64_t cap = m_jcap(ns), pidpart = old & 0xffffffff00000000ull;
	uint64_t len = lane.e[set.data_entry].size + M_HDR;
	int n = 0;

#define VALUES(...)                                                        \
	do {                                                               \
		const uint64_t a_[] = { __VA_ARGS__ };                     \
		memcpy(v, a_, sizeof(a_));                                 \
		n = (int)(sizeof(a_) / sizeof(a_[0]));                     \
	} while (0)
	switch ((enum ftype)f->type) {
	case FT_WORD:
		VALUES(0, ~0ull, old ^ 1, old + 1, 0x7fffffff, 1ull << 40, rnd());
		break;
	case FT_COUNT:
		VALUES(0, ~0ull, old + 1, old - 1, 1ull << 40, 0x7fffffff);
		break;
	case FT_OBJSTATE:
		VALUES(1, 3, 0, 0xffffffff, 4);
		break;
	case FT_NSEMS:
		VALUES(ns + 1, ns - 1, 0, M_MAX_NSEMS, M_MAX_NSEMS + 1, ~0ull, 1);
		break;
	case FT_NUNDO:
		VALUES(0, nu - 1, nu + 1, M_MAX_UNDO + 1, 1, M_MAX_UNDO, ~0ull);
		break;
	case FT_OBJLOCK:	/* no live owner's tid: a call would wait 3 s */
		VALUES(0, FUTEX_OWNER_DIED, FUTEX_OWNER_DIED | 1, 0xffffffff,
		       FUTEX_WAITERS | FUTEX_OWNER_DIED | 1, 0x7fffffff);
		break;
	case FT_LOCK:
		VALUES(0, FUTEX_OWNER_DIED, FUTEX_OWNER_DIED | 1, 0xffffffff,
		       FUTEX_WAITERS | FUTEX_OWNER_DIED | 1, 0x3fffffff, 1);
		break;
	case FT_OWNER:
		VALUES(M_PTHREAD_MUTEX_NOTRECOVERABLE, 0, 0xffffffff);
		break;
	case FT_MKIND:
		VALUES(old ^ 0x10, 0, 0xffffffff, old | 0x100);
		break;
	case FT_MLIST:
		VALUES(1, 0, ~0ull, 0x1000);
		break;
	case FT_RCOUNT:
		VALUES(1, M_REDO_MAX + 1, M_REDO_MAX, ~0ull);
		break;
	case FT_ROFF:
		VALUES(offsetof(struct m_set, nsems), offsetof(struct m_obj, lock), 0, 7, len - 8,
		       len, ~0ull);
		break;
	case FT_STATE:
		VALUES(1, 2, 3, 0, ~0ull);
		break;
	case FT_LIST:
		VALUES(2 * ns, M_L_ALTER, M_L_CONST, 2 * ns + 1, 0, 1, 2 * 65535ull, M_L_CONST - 1);
		break;
	case FT_POS:
		VALUES(0, ~0ull, old + 1, old - 1);
		break;
	case FT_NSOPS:
		VALUES(M_SLOT_SOPS + 1, 0, 1ull << 20, ~0ull, 1, 2, M_SLOT_SOPS, 1000);
		break;
	case FT_BLOCKING:
		VALUES(M_SLOT_SOPS, 1ull << 20, ~0ull, M_SLOT_SOPS - 1, 1000, 0, 1);
		break;
	case FT_STATUS:
		VALUES(~0ull, 0, (uint64_t)-4, 1);
		break;
	case FT_PID:
		VALUES(0, (uint64_t)INT_MAX + 1, 1, INT_MAX, ~0ull, (uint64_t)getpid());
		break;
	case FT_IDX:
		VALUES(nu + 1, ~0ull, nu, 0, 1, 1ull << 32);
		break;
	case FT_SOPS:
		VALUES(sembuf_word((unsigned)ns, -1, 0, old), sembuf_word(65535, 1, 0, old),
		       sembuf_word(0, -32768, SEM_UNDO, old),
		       sembuf_word((unsigned)ns - 1, 32767, 0, old), sembuf_word(0, 0, -1, old),
		       sembuf_word((unsigned)ns + 1, 0, IPC_NOWAIT, old), ~0ull, 0);
		break;
	case FT_LO:
		VALUES(pidpart | 0xffffffff, pidpart | 0x80000000, pidpart | 32768, pidpart | 32767,
		       0xffffffff00000000ull | (old & 0xffffffff), 0, ~0ull);
		break;
	case FT_HI:
		VALUES(old ^ M_SEM_SLOW, ~0ull, 0, M_SEM_SLOW, 0x7fffffffffffffffull);
		break;
	case FT_GEN:
		VALUES(old + 1, ~0ull, 0, old - 1, old + (1ull << 32));
		break;
	case FT_REFS:
		VALUES(0, ~0ull, old + M_REF_SLEEPER, old - 1, old + 1, M_REF_SLEEPER - 1);
		break;
	case FT_JCOUNT:
		VALUES(1, cap, cap + 1, ~0ull, cap - 1, 0, 2, 1ull << 40);
		break;
	case FT_JCAP:
		VALUES(cap + 1, 0, cap - 1, ~0ull, 1ull << 40);
		break;
	case FT_JOFF:	/* the geometry, the lock, the journal, outside, a mutex */
		VALUES(offsetof(struct m_set, nsems), offsetof(struct m_set, nundo),
		       offsetof(struct m_obj, lock), M_HDR + m_joff(ns), len, len - 8, 0, 7, ~0ull,
		       old + 8, M_HDR + m_joff(ns) + 8,
		       offsetof(struct m_set, w) + offsetof(struct m_slot, alive));
		break;
	case FT_START:
		VALUES(old + 1, 0, ~0ull);
		break;
	case FT_ADJ:	/* aux: the semaphore's generation */
		VALUES(f->aux << 32 | 0x7fff, f->aux << 32 | 0x80000000, f->aux << 32 | 0xffff8000,
		       (f->aux + 1) << 32 | 5, ~0ull, f->aux << 32 | 1, f->aux << 32 | 0xffffffff, 0);
		break;
	case NFTYPES:
		break;
	}
#undef VALUES
	return n;
}

static void add_field(int part, size_t off, int width, int type, int common,
		      uint64_t aux, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void add_field(int part, size_t off, int width, int type, int common,
		      uint64_t aux, const char *fmt, ...)
{
	const struct entry *e = &lane.e[part == P_HDR ? set.hdr_entry : set.data_entry];
	struct field *f;
	va_list ap;

	if (set.nf == MAX_FIELDS || off + (size_t)width > e->size)
		return;
	f = &set.f[set.nf++];
	f->part = (uint8_t)part;
	f->off = off;
	f->width = (uint8_t)width;
	f->type = (uint8_t)type;
	f->common = (uint8_t)common;
	f->aux = aux;
	va_start(ap, fmt);
	vsnprintf(f->name, sizeof(f->name), fmt, ap);
	va_end(ap);
}

static void add_mutex(int part, size_t off, int common, const char *what)
{
	add_field(part, off + MUTEX_OFF(__lock), 4,
		  off == offsetof(struct m_set, obj.lock) ? FT_OBJLOCK : FT_LOCK, common, 0,
		  "%s.__lock", what);
	add_field(part, off + MUTEX_OFF(__owner), 4, FT_OWNER, common, 0, "%s.__owner", what);
	add_field(part, off + MUTEX_OFF(__kind), 4, FT_MKIND, common, 0, "%s.__kind", what);
	add_field(part, off + MUTEX_OFF(__list.__next), 8, FT_MLIST, 1, 0, "%s.__list.__next",
		  what);
}

/* The fields of the lane's set worth aiming at, from its snapshot. */
static void list_fields(void)
{
	const struct m_set *s = (const struct m_set *)lane.e[set.hdr_entry].data;
	uint64_t ns = set.nsems, first_free = M_SLEEPERS, i;
	char what[48];

#define H(member, type, common)                                                     \
	add_field(P_HDR, offsetof(struct m_set, member), sizeof(s->member), type, common, 0, \
		  "%s", #member)
	set.nf = 0;
	add_field(P_HDR, 0, 8, FT_WORD, 1, 0, "obj.magic+version+kind");
	H(obj.state, FT_OBJSTATE, 1);
	H(obj.id, FT_WORD, 1);
	H(obj.key, FT_WORD, 1);
	H(obj.hdr_size, FT_WORD, 1);
	H(obj.size, FT_COUNT, 1);
	H(obj.uid, FT_WORD, 1);
	H(obj.gid, FT_WORD, 1);
	H(obj.cuid, FT_WORD, 1);
	H(obj.mode, FT_WORD, 1);
	H(obj.ctime, FT_COUNT, 1);
	add_mutex(P_HDR, offsetof(struct m_set, obj.lock), 0, "obj.lock");
	H(obj.redo.count, FT_RCOUNT, 1);
	H(obj.redo.e[0].off, FT_ROFF, 1);
	H(obj.redo.e[0].val, FT_WORD, 1);
	H(nsems, FT_NSEMS, 0);
	H(nundo, FT_NUNDO, 0);
	H(otime, FT_COUNT, 1);
	H(pos, FT_POS, 0);
	H(complex_count, FT_COUNT, 0);
	H(queued, FT_COUNT, 0);
	H(orphan_at, FT_COUNT, 1);
	H(orphans, FT_COUNT, 0);
	add_field(P_HDR, offsetof(struct m_set, poll), 8, FT_WORD, 1, 0, "poll+pad");
#undef H
	/* The slots in use, and the first free one. */
	for (i = 0; i < M_SLEEPERS; i++) {
		const struct m_slot *w = &s->w[i];
		size_t o = offsetof(struct m_set, w) + i * sizeof(struct m_slot);
		if (w->state == 0 && first_free < M_SLEEPERS)
			continue;
		if (w->state == 0)
			first_free = i;
#define W(member, type)                                                             \
	add_field(P_HDR, o + offsetof(struct m_slot, member), 8, type, 0, 0, "w[%d].%s", \
		  (int)i, #member)
		snprintf(what, sizeof(what), "w[%d].alive", (int)i);
		add_mutex(P_HDR, o, 0, what);
		W(state, FT_STATE);
		W(list, FT_LIST);
		W(pos, FT_POS);
		W(nsops, FT_NSOPS);
		W(blocking, FT_BLOCKING);
		W(status, FT_STATUS);
		W(pid, FT_PID);
		W(undo, FT_IDX);
		W(watch, FT_IDX);
		W(futex, FT_WORD);
#undef W
		add_field(P_HDR, o + offsetof(struct m_slot, sops), 8, FT_SOPS, 0, 0,
			  "w[%d].sops[0]", (int)i);
		if (w->nsops > 1 && w->nsops <= M_SLOT_SOPS)
			add_field(P_HDR, o + offsetof(struct m_slot, sops) +
				  (w->nsops - 1) * sizeof(struct sembuf), 6, FT_SOPS, 0, 0,
				  "w[%d].sops[%d]", (int)i, (int)w->nsops - 1);
	}
	/* The data file: the first four semaphores and the last. */
	for (i = 0; i < ns; i++) {
		size_t o = i * sizeof(struct m_sem);
		if (i >= 4 && i != ns - 1)
			continue;
		add_field(P_DATA, o + offsetof(struct m_sem, lo), 8, FT_LO, 0, 0, "sem[%d].lo", (int)i);
		add_field(P_DATA, o + offsetof(struct m_sem, hi), 8, FT_HI, 0, 0, "sem[%d].hi", (int)i);
		add_field(P_DATA, o + offsetof(struct m_sem, gen), 8, FT_GEN, 0, 0, "sem[%d].gen", (int)i);
		add_field(P_DATA, o + offsetof(struct m_sem, refs), 8, FT_REFS, 0, 0, "sem[%d].refs", (int)i);
	}
	/* The journal. */
	size_t jo = m_joff(ns);
	add_field(P_DATA, jo, 8, FT_JCOUNT, 0, 0, "journal.count");
	add_field(P_DATA, jo + 8, 8, FT_JCAP, 0, 0, "journal.cap");
	if (set.jcount && set.jcount <= m_jcap(ns)) {
		uint64_t idx[3] = { 0, set.jcount / 2, set.jcount - 1 };
		for (int k = 0; k < 3; k++) {
			if (k && idx[k] == idx[k - 1])
				continue;
			add_field(P_DATA, jo + 16 + idx[k] * 16, 8, FT_JOFF, 0, 0,
				  "journal.e[%d].off", (int)idx[k]);
			add_field(P_DATA, jo + 24 + idx[k] * 16, 8, FT_WORD, 0, 0,
				  "journal.e[%d].old", (int)idx[k]);
		}
	}
	/* The undo records in use, and the first free one. */
	uint64_t ufree = set.nundo;
	for (i = 0; i < set.nundo; i++) {
		size_t o = m_uoff(ns) + i * m_usize(ns);
		uint64_t state = snap_word(P_DATA, o + offsetof(struct m_undo, state), 8), k, nz = 0;
		if (state == 0 && ufree < set.nundo)
			continue;
		if (state == 0)
			ufree = i;
		snprintf(what, sizeof(what), "undo[%d].alive", (int)i);
		add_mutex(P_DATA, o, 0, what);
#define U(member, type)                                                               \
	add_field(P_DATA, o + offsetof(struct m_undo, member), 8, type, 0, 0, "undo[%d].%s", \
		  (int)i, #member)
		U(state, FT_STATE);
		U(pid, FT_PID);
		U(start, FT_START);
		U(since, FT_COUNT);
#undef U
		for (k = 0; k < ns; k++)
			if (snap_word(P_DATA, o + sizeof(struct m_undo) + k * 8, 8) & 0xffffffff) {
				nz = k;
				break;
			}
		uint64_t ks[2] = { nz, ns - 1 };
		for (int j = 0; j < 2; j++) {
			if (j && ks[j] == ks[0])
				continue;
			uint64_t gen = snap_word(P_DATA, ks[j] * sizeof(struct m_sem) +
						 offsetof(struct m_sem, gen), 8) & 0xffffffff;
			add_field(P_DATA, o + sizeof(struct m_undo) + ks[j] * 8, 8, FT_ADJ, 0, gen,
				  "undo[%d].adj[%d]", (int)i, (int)ks[j]);
		}
	}
}

/*
 * The sweep: each field to each of its first sweep_n values (the common
 * fields shared out among the lanes), then the geometries.
 */
#define NGEOMETRY 7
static void list_sweep(void)
{
	uint64_t v[16];
	int common = 0;

	set.nsw = 0;
	for (int i = 0; i < set.nf; i++) {
		const struct field *f = &set.f[i];
		if (f->common && common++ % NLANES != lane.no % NLANES)
			continue;
		int n = field_values(f, v);
		if (n > sweep_n[f->type])
			n = sweep_n[f->type];
		for (int k = 0; k < n && set.nsw < MAX_SWEEP; k++) {
			set.sw_field[set.nsw] = i;
			set.sw_val[set.nsw++] = (uint8_t)k;
		}
	}
	for (int g = 0; g < NGEOMETRY && set.nsw < MAX_SWEEP; g++) {	/* sweep_geometry() */
		set.sw_field[set.nsw] = -1;
		set.sw_val[set.nsw++] = (uint8_t)g;
	}
}

static void set_field(int hfd, int dfd, const struct field *f, uint64_t val)
{
	put(f->part == P_HDR ? hfd : dfd, &val, f->width, f->off);
	note(" %s=%#llx", f->name, (unsigned long long)(f->width == 8 ? val :
		val & ((1ull << (f->width * 8)) - 1)));
}

/* A named field set to one of its kind's values (or any edge value). */
static void damage_field(int hfd, int dfd)
{
	uint64_t v[16];
	const struct field *f = &set.f[rnd_below((uint64_t)set.nf)];
	int n = field_values(f, v);
	uint64_t val = rnd_below(4) ? v[rnd_below((uint64_t)n)]
				    : edge_value(&lane.e[f->part == P_HDR ? set.hdr_entry : set.data_entry],
						 snap_word(f->part, f->off, f->width));
	set_field(hfd, dfd, f, val);
}

/*
 * A coherent new geometry: nsems, nundo, the journal's cap and the sizes
 * changed together, so that the set passes validation with its words in
 * the wrong places.  With grow_only (the files are mapped: a shorter file
 * would give SIGBUS), one that makes the data file longer, if any.
 */
static void set_geometry(int hfd, int dfd, uint64_t nns, uint64_t nnu, int zero_count)
{
	uint64_t cap = m_jcap(nns), size = m_file_size(nns, nnu);

	put(hfd, &nns, 8, offsetof(struct m_set, nsems));
	put(hfd, &nnu, 8, offsetof(struct m_set, nundo));
	put(hfd, &size, 8, offsetof(struct m_set, obj.size));
	if (ftruncate(dfd, (off_t)(size - M_HDR)))
		note("[ftruncate failed: %s]", strerror(errno));
	put(dfd, &cap, 8, m_joff(nns) + 8);
	note(" geometry(nsems %llu, nundo %llu, data %llu bytes)", (unsigned long long)nns,
	     (unsigned long long)nnu, (unsigned long long)(size - M_HDR));
	if (zero_count) {
		uint64_t zero = 0;
		put(dfd, &zero, 8, m_joff(nns));
		note(" journal.count=0");
	}
}

static void damage_geometry(int hfd, int dfd, int grow_only)
{
	uint64_t ns = set.nsems, nu = set.nundo, nns, nnu, size;
	const uint64_t nsv[] = { 1, ns > 1 ? ns - 1 : 2, ns + 1, 2 * ns, ns + 7, 300 };
	const uint64_t nuv[] = { 0, 1, nu - 1, nu, nu + 1, 2 * nu, 3 };
	int tries = 0;

	do {
		nns = nsv[rnd_below(6)];
		nnu = nuv[rnd_below(7)];
		size = m_file_size(nns, nnu);
		if (++tries > 16)
			return;
	} while (grow_only && size - M_HDR < lane.e[set.data_entry].size);
	set_geometry(hfd, dfd, nns, nnu, rnd_below(2));
}

/*
 * The sweep's geometries: nundo 0 (also with enough semaphores that a
 * record's adjustments would not fit in the file's last page), 1 and one
 * less; nsems one more and one less; both doubled.
 */
static void sweep_geometry(int hfd, int dfd, int g)
{
	uint64_t ns = set.nsems, nu = set.nundo;
	const uint64_t nsv[NGEOMETRY] = { ns, 520, ns, ns, ns + 1, ns > 1 ? ns - 1 : 2, 2 * ns };
	const uint64_t nuv[NGEOMETRY] = { 0, 0, 1, nu - 1, nu, nu, 2 * nu };

	set_geometry(hfd, dfd, nsv[g], nuv[g], 0);
}

/* One in-place change of the set (or of the namespace file). */
static void damage_one(int ph, int hfd, int dfd, int nsfd)
{
	if (ph == PH_NS) {
		damage_inplace(nsfd, &lane.e[lane.ns_entry]);
		return;
	}
	if (rnd_below(5) < 2) {
		damage_field(hfd, dfd);
		return;
	}
	if (rnd_below(2))
		damage_inplace(hfd, &lane.e[set.hdr_entry]);
	else
		damage_inplace(dfd, &lane.e[set.data_entry]);
}

/* ---- the calls ---- */

static unsigned short *io;	/* GETALL/SETALL: room for M_MAX_NSEMS values and a guard */
#define IO_BYTES (M_MAX_NSEMS * 2 + 4096)
static timer_t sig_timer;
static volatile sig_atomic_t got_sig;

static void on_sig(int sig)
{
	(void)sig;
	got_sig = 1;
}

/* IPC_STAT, SEM_STAT, SEM_STAT_ANY into a guarded buffer. */
static int ctl_stat(int c, int id, int cmd, struct semid_ds *ds)
{
	static unsigned char g[sizeof(struct semid_ds) + GUARD];
	memset(g, 0xa5, sizeof(g));
	begin();
	int r = uipc_semctl(id, 0, cmd, (union semun){ .buf = (struct semid_ds *)g });
	int e = errno;
	int ok = guard_ok(g, sizeof(struct semid_ds), sizeof(g)) && (cmd == IPC_STAT ? r == 0 : 1);
	if (ds)
		memcpy(ds, g, sizeof(*ds));
	end(c, r, e, ok);
	return r;
}

static void ctl_info(int c, int cmd)
{
	static unsigned char g[sizeof(struct seminfo) + GUARD];
	memset(g, 0xa5, sizeof(g));
	begin();
	int r = uipc_semctl(0, 0, cmd, (union semun){ .__buf = (struct seminfo *)g });
	int e = errno;
	end(c, r, e, guard_ok(g, sizeof(struct seminfo), sizeof(g)));
}

/* GETVAL, GETPID, GETNCNT, GETZCNT. */
static int ctl_num(int c, int id, int num, int cmd)
{
	begin();
	int r = uipc_semctl(id, num, cmd);
	int e = errno;
	end(c, r, e, 1);
	return r;
}

/* The number of semaphores the set has now, as IPC_STAT says (or the most). */
static size_t nsems_now(int id)
{
	struct semid_ds ds;
	memset(&ds, 0, sizeof(ds));
	alarm(CALL_ALARM);
	int r = uipc_semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds });
	alarm(0);
	return r == 0 && ds.sem_nsems <= M_MAX_NSEMS ? ds.sem_nsems : M_MAX_NSEMS;
}

static void getall(int c, int id)
{
	size_t n = nsems_now(id);
	unsigned char *g = (unsigned char *)io + n * 2;
	memset(g, 0xa5, GUARD);
	begin();
	int r = uipc_semctl(id, 0, GETALL, (union semun){ .array = io });
	int e = errno;
	end(c, r, e, r == 0 && guard_ok(g, 0, GUARD));
}

static void setall(int c, int id)
{
	size_t n = nsems_now(id);
	for (size_t i = 0; i < n && i < 4096; i++)
		io[i] = (unsigned short)rnd_below(rnd_below(4) ? 10 : 32768);
	begin();
	int r = uipc_semctl(id, 0, SETALL, (union semun){ .array = io });
	int e = errno;
	end(c, r, e, r == 0);
}

static void setval(int c, int id, int num, int val)
{
	begin();
	int r = uipc_semctl(id, num, SETVAL, (union semun){ .val = val });
	int e = errno;
	end(c, r, e, r == 0);
}

static int get(int c, key_t key, int nsems, int flg)
{
	begin();
	int r = uipc_semget(key, nsems, flg);
	int e = errno;
	end(c, r, e, 1);
	return r;
}

/* semop (timeout_ns 0) or semtimedop. */
static int opn(int c, int id, struct sembuf *sops, size_t n, long timeout_ns)
{
	struct timespec ts = { 0, timeout_ns };
	begin();
	int r = timeout_ns ? uipc_semtimedop(id, sops, n, &ts) : uipc_semop(id, sops, n);
	int e = errno;
	end(c, r, e, r == 0);
	return r;
}

static int op1(int c, int id, unsigned num, int sem_op, int flg, long timeout_ns)
{
	struct sembuf b = { .sem_num = (unsigned short)num, .sem_op = (short)sem_op,
			    .sem_flg = (short)flg };
	return opn(c, id, &b, 1, timeout_ns);
}

/* A blocking semop that a timer's signal (every 2 ms) interrupts. */
static void op_until_signal(int c, int id, unsigned num, int sem_op)
{
	struct itimerspec its = { { 0, 2000000 }, { 0, 2000000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sembuf b = { .sem_num = (unsigned short)num, .sem_op = (short)sem_op };
	if (timer_settime(sig_timer, 0, &its, NULL))
		return;
	begin();
	int r = uipc_semop(id, &b, 1);
	int e = errno;
	timer_settime(sig_timer, 0, &off, NULL);
	end(c, r, e, r == 0);
}

/* An array of n random operations on semaphores below nsems. */
static void rand_ops(struct sembuf *b, int n, int nsems, int flg)
{
	for (int i = 0; i < n; i++) {
		b[i].sem_num = (unsigned short)rnd_below((uint64_t)nsems);
		b[i].sem_op = (short)((int)rnd_below(5) - 2);
		b[i].sem_flg = (short)(flg | (rnd_below(3) == 0 ? IPC_NOWAIT : 0));
	}
}

static void child_init(void)
{
	struct sigaction sa;
	struct sigevent sev;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;		/* no SA_RESTART: semop fails with EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &sig_timer))
		_exit(6);
}

/*
 * Every call on set 'id' (slot 'slot', key 'key', made with 'nsems'
 * semaphores).  With sync_fd >= 0, after the first calls (which map the
 * files) tell the lane and wait for it to damage them.
 */
static void calls(int id, int slot, key_t key, int nsems, int sync_fd)
{
	struct sembuf b[BIG_OPS];
	struct semid_ds ds;
	int k[3], a, i;

	child_init();
	memset(&ds, 0, sizeof(ds));
	int stat_ok = ctl_stat(C_STAT, id, IPC_STAT, &ds) == 0;
	if (sync_fd >= 0) {
		if (rnd_below(2))
			op1(C_FIRST_UNDO, id, 0, 1, SEM_UNDO, 0);
		wait_for_damage(sync_fd);
	}
	ctl_stat(C_SEM_STAT, slot, SEM_STAT, NULL);
	ctl_stat(C_SEM_STAT_ANY, slot, SEM_STAT_ANY, NULL);
	ctl_info(C_SEM_INFO, SEM_INFO);
	ctl_info(C_IPC_INFO, IPC_INFO);
	get(C_GET, key, 0, 0);
	get(C_GET_NSEMS, key, nsems, 0);
	k[0] = 0;
	k[1] = nsems - 1;
	k[2] = (int)rnd_below((uint64_t)nsems);
	for (i = 0; i < 3; i++) {
		ctl_num(C_GETVAL, id, k[i], GETVAL);
		ctl_num(C_GETPID, id, k[i], GETPID);
		ctl_num(C_GETNCNT, id, k[i], GETNCNT);
		ctl_num(C_GETZCNT, id, k[i], GETZCNT);
	}
	ctl_num(C_GETVAL, id, nsems, GETVAL);
	getall(C_GETALL, id);
	a = k[2];
	op1(C_OP_NOWAIT, id, (unsigned)a, -1, IPC_NOWAIT, 0);
	op1(C_OP_INC, id, (unsigned)a, 1, 0, 0);
	op1(C_OP_ZERO, id, (unsigned)rnd_below((uint64_t)nsems), 0, IPC_NOWAIT, 0);
	op1(C_OP_UNDO, id, (unsigned)a, 1, SEM_UNDO, 0);
	op1(C_OP_UNDO, id, (unsigned)rnd_below((uint64_t)nsems), -1, SEM_UNDO | IPC_NOWAIT, 0);
	for (i = 0; i < 2; i++) {
		int n = 2 + (int)rnd_below(5);
		rand_ops(b, n, nsems, IPC_NOWAIT);
		opn(C_OP_ARRAY, id, b, (size_t)n, 0);
		rand_ops(b, n, nsems, IPC_NOWAIT | SEM_UNDO);
		opn(C_OP_ARRAY_UNDO, id, b, (size_t)n, 0);
	}
	op1(C_OP_EFBIG, id, (unsigned)nsems, -1, IPC_NOWAIT, 0);
	op1(C_OP_EFBIG, id, 65535, 1, 0, 0);
	rand_ops(b, BIG_OPS, nsems, 0);
	if (rnd_below(2))	/* increments only: it may succeed */
		for (i = 0; i < BIG_OPS; i++)
			b[i].sem_op = 1;
	opn(C_OP_BIG, id, b, BIG_OPS, 1000000);
	op1(C_TIMED, id, (unsigned)a, -1, 0, 1000000);
	op1(C_TIMED_ZERO, id, (unsigned)rnd_below((uint64_t)nsems), 0, 0, 1000000);
	b[0] = (struct sembuf){ .sem_num = (unsigned short)a, .sem_op = -1 };
	b[1] = (struct sembuf){ .sem_num = (unsigned short)rnd_below((uint64_t)nsems), .sem_op = -2 };
	b[2] = (struct sembuf){ .sem_num = (unsigned short)rnd_below((uint64_t)nsems), .sem_op = 1 };
	opn(C_TIMED_ARRAY, id, b, 3, 1000000);
	op1(C_TIMED_UNDO, id, (unsigned)rnd_below((uint64_t)nsems), -2, SEM_UNDO, 1000000);
	op_until_signal(C_OP_BLOCK, id, (unsigned)rnd_below((uint64_t)nsems), -3);
	for (i = 0; i < 64; i++)
		if (op1(C_DRAIN, id, (unsigned)rnd_below((uint64_t)nsems), -1, IPC_NOWAIT, 0) < 0)
			break;
	for (i = 0; i < 3; i++) {
		ctl_num(C_GETNCNT, id, k[i], GETNCNT);
		ctl_num(C_GETZCNT, id, k[i], GETZCNT);
	}
	setval(C_SETVAL, id, a, (int)rnd_below(32768));
	setval(C_SETVAL, id, nsems, 1);
	setall(C_SETALL, id);
	getall(C_GETALL, id);
	if (!stat_ok) {
		memset(&ds, 0, sizeof(ds));
		ds.sem_perm.uid = getuid();
		ds.sem_perm.gid = getgid();
	}
	ds.sem_perm.mode = (ds.sem_perm.mode & 0777) | 0600;
	begin();
	int r = uipc_semctl(id, 0, IPC_SET, (union semun){ .buf = &ds });
	end(C_SET, r, errno, r == 0);
	get(C_GET_CREAT, key, nsems, IPC_CREAT | 0600);
	get(C_GET_EXCL, key, nsems, IPC_CREAT | IPC_EXCL | 0600);
	begin();
	r = uipc_semctl(id, 0, IPC_RMID);
	end(C_RMID, r, errno, r == 0);
	get(C_GET_AGAIN, key, nsems, IPC_CREAT | 0600);
	get(C_GET_PRIVATE, IPC_PRIVATE, 3, IPC_CREAT | 0600);
}

/* ---- a lane's set up: scenarios ---- */

#define OP(n, o, f) { .sem_num = (n), .sem_op = (o), .sem_flg = (f) }
#define U SEM_UNDO

/*
 * A step: 'L' a helper does the operations and lives on (its undo record
 * held); 'D' one does them and exits once the set is complete (its record
 * left for the next caller to apply); 'T' a thread of a helper does them and
 * ends, the helper lives on (an orphan record); 'S' a helper sleeps in them
 * (stopped by SIGSTOP once all are queued); 'K' processes doing operations
 * are killed until one dies holding the lock with the journal non-empty.
 */
struct step {
	char kind;
	int nops;
	struct sembuf ops[4];
};

struct scenario {
	const char *name;
	int nsems;
	unsigned short init[8];		/* values; a semaphore i >= 8 has i % 7 */
	struct step steps[10];
};

static const struct scenario scenarios[NLANES + 1] = {
	{ "values", 5, { 0, 1, 2, 100, 32767 }, { { 0, 0, { OP(0, 0, 0) } } } },
	{ "undo records of 6 dead processes", 6, { 5, 5, 5, 5, 5, 5 }, {
		{ 'D', 2, { OP(0, 1, U), OP(1, -2, U) } },
		{ 'D', 1, { OP(2, 3, U) } },
		{ 'D', 2, { OP(3, -1, U), OP(3, -1, U) } },
		{ 'D', 2, { OP(4, 1, U), OP(5, -5, U) } },
		{ 'D', 1, { OP(0, -1, U) } },
		{ 'D', 2, { OP(5, 2, U), OP(2, -1, U) } },
	} },
	{ "undo records: live, orphaned, thread ended, dead", 4, { 3, 3, 3, 3 }, {
		{ 'L', 2, { OP(0, -1, U), OP(1, 2, U) } },
		{ 'T', 1, { OP(2, -1, U) } },
		{ 'D', 2, { OP(0, 1, U), OP(3, -1, U) } },
		{ 'D', 1, { OP(1, -1, U) } },
		{ 'T', 1, { OP(3, 1, U) } },
	} },
	{ "sleepers on their semaphores' lists", 4, { 0, 3, 1, 0 }, {
		{ 'L', 1, { OP(2, -1, U) } },
		{ 'S', 1, { OP(0, -1, 0) } },
		{ 'S', 1, { OP(1, 0, 0) } },
		{ 'S', 1, { OP(2, -1, 0) } },
		{ 'S', 1, { OP(0, -1, U) } },
		{ 'S', 1, { OP(3, -2, 0) } },
	} },
	{ "killed in the middle of an operation", 40, { 0 }, { { 'K', 0, { OP(0, 0, 0) } } } },
	{ "250 semaphores", 250, { 0 }, {
		{ 'L', 4, { OP(0, 1, U), OP(10, -1, U), OP(100, 2, U), OP(249, -1, U) } },
		{ 'D', 2, { OP(1, 1, U), OP(200, -2, U) } },
		{ 'D', 1, { OP(3, 1, U) } },
		{ 'S', 1, { OP(249, -5, 0) } },
		{ 'S', 3, { OP(0, -2, 0), OP(100, 1, 0), OP(7, 0, 0) } },
	} },
	{ "sleeping arrays, merged lists", 3, { 0, 0, 2 }, {
		{ 'L', 1, { OP(2, -1, U) } },
		{ 'D', 1, { OP(2, 1, U) } },
		{ 'S', 1, { OP(1, -1, 0) } },
		{ 'S', 2, { OP(0, -1, 0), OP(1, 1, 0) } },
		{ 'S', 1, { OP(2, 0, 0) } },
		{ 'S', 2, { OP(0, 0, 0), OP(2, 0, 0) } },
		{ 'S', 1, { OP(2, -3, U) } },
	} },
	{ "one semaphore", 1, { 1 }, {
		{ 'D', 1, { OP(0, 1, U) } },
		{ 'S', 1, { OP(0, -3, 0) } },
		{ 'S', 1, { OP(0, 0, 0) } },
		{ 'S', 1, { OP(0, -5, U) } },
	} },
	{ "values (foreign files)", 5, { 0, 1, 2, 100, 32767 }, { { 0, 0, { OP(0, 0, 0) } } } },
};

static unsigned short init_value(const struct scenario *sc, int i)
{
	return i < 8 ? sc->init[i] : (unsigned short)(i % 7);
}

/* In a child: create the lane's set with its values, and a second set. */
static void __attribute__((noreturn)) create_child(void)
{
	const struct scenario *sc = set.sc;
	unsigned short v[256];
	struct sembuf b[2] = { OP(1, 1, 0), OP(1, -1, 0) };

	alarm(CALL_ALARM);
	int id = uipc_semget(lane.key, sc->nsems, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0)
		_exit(10);
	for (int i = 0; i < sc->nsems; i++)
		v[i] = init_value(sc, i);
	if (uipc_semctl(id, 0, SETALL, (union semun){ .array = v }) != 0)
		_exit(11);
	/* sempid and sem_otime through the fast path, one after the other. */
	if (sc->nsems > 1 && (uipc_semop(id, &b[0], 1) != 0 || uipc_semop(id, &b[1], 1) != 0))
		_exit(12);
	if (uipc_semget(IPC_PRIVATE, 2, IPC_CREAT | 0600) < 0)
		_exit(13);
	st->setup_id[lane.no] = id;
	_exit(0);
}

static int hold_fd = -1;

static void *thread_ops(void *arg)
{
	const struct step *s = arg;
	struct sembuf b[4];
	memcpy(b, s->ops, sizeof(b));
	return (void *)(intptr_t)uipc_semop(lane.id, b, (size_t)s->nops);
}

/* A helper: the step's operations, then wait for the lane (EOF on hold_fd). */
static void __attribute__((noreturn)) helper_main(const struct step *s, int ready)
{
	struct sembuf b[4];
	char ch = 'r';
	long r = 0;
	pthread_t t;

	alarm(0);
	memcpy(b, s->ops, sizeof(b));
	if (s->kind == 'S') {
		if (write(ready, &ch, 1) != 1)
			_exit(1);
		uipc_semop(lane.id, b, (size_t)s->nops);
		ch = 'x';	/* it should sleep until stopped and killed */
	} else if (s->kind == 'T') {
		void *ret;
		if (pthread_create(&t, NULL, thread_ops, (void *)s) || pthread_join(t, &ret))
			_exit(1);
		r = (long)(intptr_t)ret;
	} else {
		r = uipc_semop(lane.id, b, (size_t)s->nops);
	}
	if (r != 0)
		ch = 'e';
	if (write(ready, &ch, 1) != 1)
		_exit(1);
	while (read(hold_fd, &ch, 1) > 0)
		;
	_exit(0);
}

/* Reads up to len bytes at off of the lane's header (P_HDR) or data file. */
static int read_set(int part, size_t off, void *buf, size_t len)
{
	char name[64];
	snprintf(name, sizeof(name), part == P_HDR ? "sem.%d" : "sem.%d.data", lane.id);
	int fd = openat(lane.dfd, name, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t k = pread(fd, buf, len, (off_t)off);
	close(fd);
	return k == (ssize_t)len ? 0 : -1;
}

static int queued_slots(void)
{
	static struct m_slot w[M_SLEEPERS];
	int n = 0;
	if (read_set(P_HDR, offsetof(struct m_set, w), w, sizeof(w)))
		return -1;
	for (int i = 0; i < M_SLEEPERS; i++)
		n += w[i].state == 1;
	return n;
}

/* The lock word, and the journal's count. */
static int lock_state(uint32_t *lock, uint64_t *jcount)
{
	if (read_set(P_HDR, offsetof(struct m_set, obj.lock) + MUTEX_OFF(__lock), lock, 4) ||
	    read_set(P_DATA, m_joff((uint64_t)set.sc->nsems), jcount, 8))
		return -1;
	return 0;
}

static pid_t spawn_helper(const struct step *s)
{
	int rp[2], hp[2];
	char ch = 0;

	if (set.nhelpers == MAX_HELPERS || pipe(rp))
		return -1;
	if (pipe(hp)) {
		close(rp[0]);
		close(rp[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rp[0]);
		close(hp[1]);
		for (int i = 0; i < set.nhelpers; i++)
			if (set.hold[i] >= 0)
				close(set.hold[i]);
		hold_fd = hp[0];
		helper_main(s, rp[1]);
	}
	close(rp[1]);
	close(hp[0]);
	if (pid < 0) {
		close(rp[0]);
		close(hp[1]);
		return -1;
	}
	set.helper[set.nhelpers] = pid;
	set.hold[set.nhelpers] = hp[1];
	set.hkind[set.nhelpers++] = s->kind;
	struct pollfd p = { .fd = rp[0], .events = POLLIN };
	int pr = poll(&p, 1, CALL_ALARM * 1000);
	if (pr != 1 || read(rp[0], &ch, 1) != 1 || ch != 'r') {
		int status = 0;
		close(rp[0]);
		waitpid(pid, &status, WNOHANG);
		lane_fail("lane %d (%s): a '%c' helper failed: poll %d, answer '%c', status %#x",
			  lane.no, set.sc->name, s->kind, pr, ch ? ch : '-', status);
		return -1;
	}
	close(rp[0]);
	return pid;
}

/* A process doing operations for ever: SETALL, arrays with SEM_UNDO, SETVAL. */
static void __attribute__((noreturn)) worker_main(void)
{
	int n = set.sc->nsems;
	unsigned short v[256];
	struct sembuf b[12];

	rs = mix64((uint64_t)getpid());
	for (;;) {
		switch (rnd_below(4)) {
		case 0:
			for (int i = 0; i < n; i++)
				v[i] = (unsigned short)rnd_below(8);
			uipc_semctl(lane.id, 0, SETALL, (union semun){ .array = v });
			break;
		case 1:
			rand_ops(b, 12, n, SEM_UNDO | IPC_NOWAIT);
			uipc_semop(lane.id, b, 12);
			break;
		case 2:
			uipc_semctl(lane.id, (int)rnd_below((uint64_t)n), SETVAL,
				    (union semun){ .val = (int)rnd_below(8) });
			break;
		default:
			rand_ops(b, 6, n, IPC_NOWAIT);
			uipc_semop(lane.id, b, 6);
			break;
		}
	}
}

/* Kill workers until one dies holding the lock with a change half made. */
static int kill_in_the_middle(void)
{
	uint32_t lock = 0;
	uint64_t jcount = 0;

	for (int tries = 0; tries < 400; tries++) {
		pid_t pid = fork();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			worker_main();
		}
		if (pid < 0)
			return -1;
		usleep(300 + (useconds_t)rnd_below(3000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (lock_state(&lock, &jcount))
			return -1;
		if ((lock & FUTEX_OWNER_DIED) && jcount)
			return tries + 1;
	}
	return 0;
}

static int kills;	/* the kills it took to leave the journal non-empty */

/* Builds the lane's scenario.  0, or -1 (lane_fail called). */
static int build_scenario(void)
{
	const struct scenario *sc = set.sc;
	int want_queued = 0;

	for (int i = 0; i < (int)(sizeof(sc->steps) / sizeof(sc->steps[0])); i++) {
		const struct step *s = &sc->steps[i];
		if (!s->kind)
			break;
		if (s->kind == 'K') {
			int n = kill_in_the_middle();
			if (n < 0) {
				lane_fail("lane %d (%s): cannot kill workers", lane.no, sc->name);
				return -1;
			}
			if (n == 0)
				printf("# lane %d: no kill in 400 left the lock held with the journal "
				       "non-empty; its set has a dead lock owner at most\n", lane.no);
			kills = n;
			continue;
		}
		if (spawn_helper(s) < 0)
			return -1;
		if (s->kind == 'S') {
			want_queued++;
			int q = -1;
			for (int t = 0; t < 5000 && (q = queued_slots()) < want_queued; t++)
				usleep(1000);
			if (q != want_queued) {
				lane_fail("lane %d (%s): %d sleepers queued, expected %d", lane.no,
					  sc->name, q, want_queued);
				return -1;
			}
		}
	}
	/* Stop the sleepers where none holds the lock. */
	for (int tries = 0; want_queued; tries++) {
		uint32_t lock = 0;
		uint64_t jcount = 0;
		int status;
		for (int i = 0; i < set.nhelpers; i++)
			if (set.hkind[i] == 'S') {
				kill(set.helper[i], SIGSTOP);
				waitpid(set.helper[i], &status, WUNTRACED);
			}
		if (lock_state(&lock, &jcount) == 0 && lock == 0 && jcount == 0 &&
		    queued_slots() == want_queued)
			break;
		if (tries == 100) {
			lane_fail("lane %d (%s): the sleepers never left the set unlocked "
				  "(lock %#x, journal %llu)", lane.no, sc->name, lock,
				  (unsigned long long)jcount);
			return -1;
		}
		for (int i = 0; i < set.nhelpers; i++)
			if (set.hkind[i] == 'S')
				kill(set.helper[i], SIGCONT);
		usleep(2000);
	}
	/* The 'D' helpers die now: nothing applies their records before the snapshot. */
	for (int i = 0; i < set.nhelpers; i++)
		if (set.hkind[i] == 'D') {
			close(set.hold[i]);
			set.hold[i] = -1;
			if (wait_child(set.helper[i], CALL_ALARM) != 0) {
				lane_fail("lane %d (%s): a 'D' helper did not exit cleanly", lane.no,
					  sc->name);
				return -1;
			}
			set.helper[i] = 0;
		}
	return 0;
}

static void end_helpers(void)
{
	for (int i = 0; i < set.nhelpers; i++)
		if (set.helper[i] > 0) {
			kill(set.helper[i], SIGKILL);
			waitpid(set.helper[i], NULL, 0);
			set.helper[i] = 0;
		}
}

/* In a child: the probe, into st->probe[lane][k]. */
static void __attribute__((noreturn)) probe_child(int k)
{
	struct probe *p = &st->probe[lane.no][k];
	struct semid_ds ds;
	static unsigned short v[M_MAX_NSEMS > 65536 ? 65536 : M_MAX_NSEMS];

	memset(p, 0, sizeof(*p));
	p->status = 1;
	alarm(CALL_ALARM);
	if (uipc_semctl(lane.id, 0, IPC_STAT, (union semun){ .buf = &ds }) != 0)
		_exit(1);
	p->nsems = (int)ds.sem_nsems;
	p->status = 2;
	if ((p->getid = uipc_semget(lane.key, 0, 0)) < 0 || p->nsems > 65536)
		_exit(1);
	p->status = 3;
	if (uipc_semctl(lane.id, 0, GETALL, (union semun){ .array = v }) != 0)
		_exit(1);
	for (int i = 0; i < p->nsems && i < PROBE_SEMS; i++) {
		p->status = 4;
		p->val[i] = v[i];
		if ((p->ncnt[i] = (short)uipc_semctl(lane.id, i, GETNCNT)) < 0 ||
		    (p->zcnt[i] = (short)uipc_semctl(lane.id, i, GETZCNT)) < 0 ||
		    (p->pid[i] = uipc_semctl(lane.id, i, GETPID)) < 0)
			_exit(1);
	}
	p->status = 0;
	_exit(0);
}

static int run_probe(int k)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		probe_child(k);
	}
	int status = wait_child(pid, 3 * CALL_ALARM);
	return status == 0 && st->probe[lane.no][k].status == 0 ? 0 : -1;
}

static void probe_diff(int k, char *buf, size_t n)
{
	const struct probe *a = &st->probe[lane.no][0], *b = &st->probe[lane.no][k];
	if (b->status) {
		snprintf(buf, n, "the probe failed at step %d (1 IPC_STAT, 2 semget, 3 GETALL, "
			 "4 GETNCNT/GETZCNT/GETPID)", b->status);
		return;
	}
	if (a->nsems != b->nsems || a->getid != b->getid) {
		snprintf(buf, n, "nsems %d, semget %d; expected %d, %d", b->nsems, b->getid,
			 a->nsems, a->getid);
		return;
	}
	for (int i = 0; i < a->nsems && i < PROBE_SEMS; i++)
		if (a->val[i] != b->val[i] || a->ncnt[i] != b->ncnt[i] || a->zcnt[i] != b->zcnt[i] ||
		    a->pid[i] != b->pid[i]) {
			snprintf(buf, n, "semaphore %d: value %d ncnt %d zcnt %d pid %d; expected "
				 "%d %d %d %d", i, b->val[i], b->ncnt[i], b->zcnt[i], b->pid[i],
				 a->val[i], a->ncnt[i], a->zcnt[i], a->pid[i]);
			return;
		}
	snprintf(buf, n, "?");
}

/* The set as set up: the probe gives the reference state again. */
static int pristine_check(int k, const char *when)
{
	char why[200];
	if (run_probe(k) == 0 &&
	    !memcmp(&st->probe[lane.no][0], &st->probe[lane.no][k], sizeof(struct probe)))
		return 0;
	probe_diff(k, why, sizeof(why));
	int i = atomic_fetch_add(&res->pristine_bad, 1);
	if (i <= NLANES)
		snprintf(res->pristine_msg[i], sizeof(res->pristine_msg[i]),
			 "lane %d (%s), %s: the restored set differs: %s", lane.no, set.sc->name,
			 when, why);
	return -1;
}

/* The layout this test knows is the library's. */
static int check_layout(char *why, size_t n)
{
	const struct entry *h = &lane.e[set.hdr_entry], *d = &lane.e[set.data_entry];
	const struct m_set *s = (const struct m_set *)h->data;

	if (h->size != M_HDR) {
		snprintf(why, n, "header file of %zu bytes, expected %zu", h->size, (size_t)M_HDR);
		return -1;
	}
	if (s->obj.magic != M_MAGIC || s->obj.version != M_VERSION || s->obj.kind != M_KIND_SEM ||
	    s->obj.hdr_size != sizeof(struct m_set) || s->nsems != (uint64_t)set.sc->nsems) {
		snprintf(why, n, "magic %#x version %u kind %u hdr_size %u nsems %llu; expected "
			 "%#x %u %u %zu %d", s->obj.magic, s->obj.version, s->obj.kind,
			 s->obj.hdr_size, (unsigned long long)s->nsems, M_MAGIC, M_VERSION,
			 M_KIND_SEM, sizeof(struct m_set), set.sc->nsems);
		return -1;
	}
	if (s->nundo < 4 || s->nundo > M_MAX_UNDO || d->size != m_file_size(s->nsems, s->nundo) - M_HDR ||
	    snap_word(P_DATA, m_joff(s->nsems) + 8, 8) != m_jcap(s->nsems)) {
		snprintf(why, n, "nundo %llu, data file of %zu bytes, journal cap %llu; expected "
			 "%llu bytes, cap %llu", (unsigned long long)s->nundo, d->size,
			 (unsigned long long)snap_word(P_DATA, m_joff(s->nsems) + 8, 8),
			 (unsigned long long)(m_file_size(s->nsems, s->nundo) - M_HDR),
			 (unsigned long long)m_jcap(s->nsems));
		return -1;
	}
	return 0;
}

/* Creates the lane's directory and set; snapshots it; finds the files. */
static int lane_setup(int no, const char *sub)
{
	char names[600], want[64], data[80], why[300];

	set.sc = &scenarios[no];
	set.hdr_entry = set.data_entry = -1;
	if (lane_dir(no, KEY_BASE + no, sub))
		return -1;
	st->setup_id[no] = -1;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		create_child();
	}
	int status = wait_child(pid, 3 * CALL_ALARM);
	lane.id = st->setup_id[no];
	if (status != 0 || lane.id < 0) {
		lane_fail("lane %d: creating the set failed: status %#x", no, status);
		return -1;
	}
	lane.slot = lane.id % 32768;
	if (build_scenario())
		return -1;
	if (snapshot(&lane)) {
		lane_fail("lane %d: cannot snapshot %s: %s", no, lane.dir, snap_err);
		return -1;
	}
	list_names(names, sizeof(names));
	snprintf(want, sizeof(want), "sem.%d", lane.id);
	snprintf(data, sizeof(data), "%s.data", want);
	for (int i = 0; i < lane.n; i++) {
		if (lane.e[i].type != E_FILE)
			continue;
		if (!strcmp(lane.e[i].name, want))
			set.hdr_entry = i;
		if (!strcmp(lane.e[i].name, data))
			set.data_entry = i;
	}
	if (set.hdr_entry < 0 || set.data_entry < 0) {
		lane_fail("lane %d: set id %d but no regular files %s and %s.data; the root "
			  "holds:%s", no, lane.id, want, want, names);
		return -1;
	}
	if (check_layout(why, sizeof(why))) {
		lane_fail("lane %d: the layout of the set's files is not the one this test knows "
			  "(update its copy of src/sem.c's structures): %s", no, why);
		return -1;
	}
	const struct m_set *s = (const struct m_set *)lane.e[set.hdr_entry].data;
	set.nsems = s->nsems;
	set.nundo = s->nundo;
	set.jcount = snap_word(P_DATA, m_joff(set.nsems), 8);
	set.queued = 0;
	for (int i = 0; i < M_SLEEPERS; i++)
		set.queued += s->w[i].state == 1;
	set.records = 0;
	for (uint64_t i = 0; i < set.nundo; i++)
		set.records += snap_word(P_DATA, m_uoff(set.nsems) + i * m_usize(set.nsems) +
					  offsetof(struct m_undo, state), 8) != 0;
	list_fields();
	list_sweep();
	res->nsweep[no] = set.nsw;
	uint32_t lock = s->obj.lock.__data.__lock;
	snprintf(st->lane_desc[no], sizeof(st->lane_desc[no]),
		 "%s: %llu semaphores, %llu sleepers, %llu undo records of %llu, lock %#x, journal "
		 "%llu%s%.0d; %d fields", set.sc->name, (unsigned long long)set.nsems,
		 (unsigned long long)set.queued, (unsigned long long)set.records,
		 (unsigned long long)set.nundo, lock, (unsigned long long)set.jcount,
		 kills ? " after kills: " : "", kills, set.nf);
	if (no == 0)
		printf("# names in a root with two sets:%s (@: symlink, /: directory)\n", names);
	return 0;
}

static void record_outcome(int ph, const char *what_iter, int status, int mapped)
{
	char why[200];
	int i;

	switch (count_outcome(ph, status, why, sizeof(why))) {
	case O_CLEAN:
		return;
	case O_SLOW:
		i = atomic_fetch_add(&st->nslow, 1);
		if (i < MAX_SLOW)
			snprintf(st->slow_msg[i], sizeof(st->slow_msg[i]), "lane %d, %s %s%s: %.100s; "
				 "damage:%.300s", lane.no, phase_name[ph], what_iter,
				 mapped ? " (files mapped)" : "", res->detail[lane.no], desc);
		return;
	case O_BAD_RESULT: {
		/* Kept by call and kind of result: the first example of each. */
		int c = WEXITSTATUS(status) - 10, k = res->detail_kind[lane.no];
		if (k < 0 || k > 2)
			k = 0;
		if (atomic_fetch_add(&st->nbad[c][k], 1) == 0)
			snprintf(st->bad_example[c][k], sizeof(st->bad_example[c][k]),
				 "lane %d (%s), %s %s%s: %.150s; damage:%.300s", lane.no,
				 set.sc->name, phase_name[ph], what_iter,
				 mapped ? " (files mapped)" : "", res->detail[lane.no], desc);
		return;
	}
	case O_FAILED:
		break;
	}
	i = atomic_fetch_add(&res->nfail, 1);
	if (i < MAX_FAILS)
		snprintf(res->fail[i], sizeof(res->fail[i]), "lane %d (%s), %s %s%s: %s; damage:%.300s",
			 lane.no, set.sc->name, phase_name[ph], what_iter,
			 mapped ? " (files mapped)" : "", why, desc);
}

static int open_part(int entry)
{
	int fd = openat(lane.dfd, lane.e[entry].name, O_RDWR);
	if (fd < 0)
		lane_fail("lane %d: cannot open %s: %s", lane.no, lane.e[entry].name, strerror(errno));
	return fd;
}

/* One iteration: damage the set (or the namespace), run the calls in a child. */
static void iteration(long iter, int verbose)
{
	int ph = (iter % 9 == 8 && lane.ns_entry >= 0) ? PH_NS : PH_FILES;
	int sv[2] = { -1, -1 }, hfd, dfd, nsfd = -1;
	char it[64];

	rs = mix64(base_seed ^ ((uint64_t)iter * 0x2545f4914f6cdd1dull));
	clear_note();
	if (restore_lane())
		return;
	int mapped = rnd_below(5) == 0;
	if (mapped && socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		mapped = 0;
	if ((hfd = open_part(set.hdr_entry)) < 0 || (dfd = open_part(set.data_entry)) < 0 ||
	    (ph == PH_NS && (nsfd = open_part(lane.ns_entry)) < 0))
		_exit(1);
	int nops = 1 + (int)rnd_below(3);
	if (!mapped) {
		for (int i = 0; i < nops; i++)
			damage_one(ph, hfd, dfd, nsfd);
		if (rnd_below(4) == 0) {
			if (ph == PH_NS)
				damage_size(nsfd, &lane.e[lane.ns_entry]);
			else if (rnd_below(3) == 0)
				damage_geometry(hfd, dfd, 0);
			else if (rnd_below(2))
				damage_size(dfd, &lane.e[set.data_entry]);
			else
				damage_size(hfd, &lane.e[set.hdr_entry]);
		}
	}
	uint64_t child_seed = rnd();
	res->detail[lane.no][0] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(hfd);
		close(dfd);
		if (nsfd >= 0)
			close(nsfd);
		if (mapped)
			close(sv[0]);
		rs = child_seed;
		phase_now = ph;
		calls(lane.id, lane.slot, lane.key, (int)set.nsems, mapped ? sv[1] : -1);
		_exit(0);
	}
	if (mapped) {
		close(sv[1]);
		if (child_has_mapped(sv[0])) {
			for (int i = 0; i < nops; i++)
				damage_one(ph, hfd, dfd, nsfd);
			if (ph == PH_FILES && rnd_below(8) == 0)
				damage_geometry(hfd, dfd, 1);
			let_child_go(sv[0]);
		}
		close(sv[0]);
	}
	close(hfd);
	close(dfd);
	if (nsfd >= 0)
		close(nsfd);
	int status = wait_child(pid, 3 * CALL_ALARM);
	if (verbose)
		printf("# iteration %ld (lane %d)%s: damage:%s -> status %#x\n", iter, lane.no,
		       mapped ? " (files mapped)" : "", desc, status);
	snprintf(it, sizeof(it), "iteration %ld", iter);
	record_outcome(ph, it, status, mapped);
	atomic_fetch_add(&st->lane_iters[lane.no], 1);
}

/* The sweep's change j: one field set to one of its values, or a geometry. */
static void sweep_iteration(long j, int verbose)
{
	uint64_t v[16];
	char it[64];
	int hfd, dfd;

	clear_note();
	if (restore_lane())
		return;
	if ((hfd = open_part(set.hdr_entry)) < 0 || (dfd = open_part(set.data_entry)) < 0)
		_exit(1);
	if (set.sw_field[j] < 0) {
		sweep_geometry(hfd, dfd, set.sw_val[j]);
	} else {
		field_values(&set.f[set.sw_field[j]], v);
		set_field(hfd, dfd, &set.f[set.sw_field[j]], v[set.sw_val[j]]);
	}
	close(hfd);
	close(dfd);
	res->detail[lane.no][0] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		rs = mix64(base_seed ^ 0x5eeb ^ (uint64_t)j ^ (uint64_t)lane.no << 32);
		phase_now = PH_SWEEP;
		calls(lane.id, lane.slot, lane.key, (int)set.nsems, -1);
		_exit(0);
	}
	int status = wait_child(pid, 3 * CALL_ALARM);
	if (verbose)
		printf("# sweep s%d.%ld:%s -> status %#x\n", lane.no, j, desc, status);
	snprintf(it, sizeof(it), "sweep s%d.%ld", lane.no, j);
	record_outcome(PH_SWEEP, it, status, 0);
	atomic_fetch_add(&st->lane_sweep_done[lane.no], 1);
}

static long only_sweep = -1;	/* the one sweep change to run, or -1 */

static void lane_main(int no)
{
	double t0 = now();
	char sub[32];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rs = mix64(base_seed ^ (uint64_t)no * 0x1234567);
	snprintf(sub, sizeof(sub), "lane%d", no);
	if (lane_setup(no, sub) || run_probe(0) || restore(&lane) ||
	    pristine_check(1, "before damage")) {
		if (!atomic_load(&res->setup_failed) && !atomic_load(&res->pristine_bad))
			lane_fail("lane %d (%s): the probe of the set as set up failed", no,
				  set.sc->name);
		end_helpers();
		_exit(1);
	}
	if (only_sweep < 0) {
		for (long i = no; i < iters; i += NLANES) {
			if (only >= 0 && i != only)
				continue;
			if (total_hangs() >= MAX_HANGS)
				break;
			iteration(i, only >= 0);
		}
	}
	for (long j = 0; only < 0 && j < set.nsw && total_hangs() < MAX_HANGS; j++)
		if (only_sweep < 0 || j == only_sweep)
			sweep_iteration(j, only_sweep >= 0);
	if (restore(&lane) || pristine_check(2, "after the damage, restored")) {
		end_helpers();
		_exit(1);
	}
	end_helpers();
	st->lane_secs[no] = now() - t0;
	_exit(0);
}

/* ---- foreign files ---- */

/*
 * In a child: the calls around a foreign thing in slot fslot / key fkey.
 * With 'others' also checks that the real set and creation still work
 * (exit 5 if not).
 */
static void __attribute__((noreturn)) foreign_child(int fslot, key_t fkey, int others)
{
	static unsigned short v[16];
	struct semid_ds ds;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	child_init();
	phase_now = PH_FOREIGN;
	for (int seq = 0; seq < 3; seq++)
		ctl_stat(C_STAT, seq * 32768 + fslot, IPC_STAT, NULL);
	ctl_stat(C_SEM_STAT, fslot, SEM_STAT, NULL);
	ctl_stat(C_SEM_STAT_ANY, fslot, SEM_STAT_ANY, NULL);
	ctl_info(C_SEM_INFO, SEM_INFO);
	ctl_info(C_IPC_INFO, IPC_INFO);
	ctl_num(C_GETVAL, fslot, 0, GETVAL);
	ctl_num(C_GETNCNT, fslot, 0, GETNCNT);
	getall(C_GETALL, fslot);
	op1(C_OP_NOWAIT, fslot, 0, -1, IPC_NOWAIT, 0);
	op1(C_OP_UNDO, fslot, 0, 1, SEM_UNDO, 0);
	op1(C_TIMED, fslot, 0, -1, 0, 1000000);
	setval(C_SETVAL, fslot, 0, 1);
	get(C_GET, fkey, 0, 0);
	get(C_GET_CREAT, fkey, 1, IPC_CREAT | 0600);
	get(C_GET_EXCL, fkey, 1, IPC_CREAT | IPC_EXCL | 0600);
	begin();
	r = uipc_semctl(fslot, 0, IPC_RMID);
	end(C_RMID, r, errno, r == 0);
	if (!others)
		_exit(0);
	/* A foreign name beside them does not disturb the real set ... */
	char *d = res->detail[lane.no];
	size_t dsz = sizeof(res->detail[lane.no]);
	alarm(CALL_ALARM);
	if ((r = uipc_semctl(lane.id, 0, IPC_STAT, (union semun){ .buf = &ds })) != 0 ||
	    ds.sem_nsems != set.nsems) {
		snprintf(d, dsz, "IPC_STAT of the real set: %d %s, sem_nsems %lu", r,
			 r ? strerror(errno) : "", (unsigned long)ds.sem_nsems);
		_exit(5);
	}
	if ((r = uipc_semget(lane.key, 0, 0)) != lane.id) {
		snprintf(d, dsz, "semget of the real set's key: %d %s", r, strerror(errno));
		_exit(5);
	}
	if (uipc_semctl(lane.id, 0, GETALL, (union semun){ .array = v }) != 0 ||
	    v[4] != init_value(set.sc, 4)) {
		snprintf(d, dsz, "GETALL of the real set: %s, semaphore 4 is %d", strerror(errno),
			 v[4]);
		_exit(5);
	}
	/* ... nor the creation and use of a new one. */
	int id = uipc_semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	struct sembuf b = OP(1, 2, SEM_UNDO);
	if (id < 0) {
		snprintf(d, dsz, "semget(IPC_PRIVATE): %s", strerror(errno));
		_exit(5);
	}
	if (uipc_semop(id, &b, 1) != 0 || uipc_semctl(id, 1, GETVAL) != 2 ||
	    uipc_semctl(id, 0, IPC_RMID) != 0) {
		snprintf(d, dsz, "new set %d: semop/GETVAL/IPC_RMID: %s", id, strerror(errno));
		_exit(5);
	}
	_exit(0);
}

static void foreign_main(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rs = mix64(base_seed ^ 0xf0f0f0f0);
	if (lane_setup(NLANES, "foreign") || run_probe(0)) {
		end_helpers();
		_exit(1);
	}
	foreign_cases(&lane.e[set.hdr_entry]);
	if (restore(&lane) || pristine_check(2, "after the foreign files, restored")) {
		end_helpers();
		_exit(1);
	}
	end_helpers();
	_exit(0);
}

/* ---- main ---- */

int main(void)
{
	const char *env;
	int only_lane = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	read_settings(0x5e3a, DEFAULT_ITERS);
	if ((env = getenv("UIPC_CORRUPT_ONLY")) && *env) {
		if (env[0] == 's') {	/* s<lane>.<j>: a change of a lane's sweep */
			char *end;
			only_lane = (int)strtol(env + 1, &end, 10);
			only_sweep = *end == '.' ? strtol(end + 1, NULL, 10) : -1;
			if (only_lane < 0 || only_lane >= NLANES || only_sweep < 0) {
				fprintf(stderr, "UIPC_CORRUPT_ONLY=s<lane>.<j>, lane below %d\n", NLANES);
				return 2;
			}
		} else {
			only = strtol(env, NULL, 0);
			if (only >= iters)
				iters = only + 1;
			only_lane = (int)(only % NLANES);
		}
	}
	/* The children interrupt a blocked semop with a timer's signal. */
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	if (timer_create(CLOCK_MONOTONIC, &sev, &sig_timer)) {
		perror("timer_create");
		return 77;
	}
	timer_delete(sig_timer);
	/* Never call the library here: lanes must fork children that have not. */
	if (make_root())
		return 77;
	st = map_results(sizeof(*st));
	io = mmap(NULL, IO_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		  -1, 0);
	if (!st || io == MAP_FAILED) {
		perror("mmap");
		return 77;
	}
	int lanes_ok = run_lanes(only_lane, lane_main, foreign_main);

	t_case("sem_corrupt: set up sets in their states, find sem.<id>, restore them intact");
	check_setup(lanes_ok);
	for (int i = 0; i <= NLANES; i++)
		if (st->lane_desc[i][0])
			printf("# lane %d: %s; %ld iterations, %ld of %ld sweep changes, %.1f s\n", i,
			       st->lane_desc[i], atomic_load(&st->lane_iters[i]),
			       atomic_load(&st->lane_sweep_done[i]), i < NLANES ? res->nsweep[i] : 0,
			       st->lane_secs[i]);
	t_done();

	long expect_ns = namespace_iterations(), expect_sweep = 0;
	for (int i = 0; i < NLANES; i++)
		expect_sweep += res->nsweep[i];
	for (int ph = 0; ph < NPHASES; ph++) {
		char name[128];
		long it = atomic_load(&res->iters[ph]);
		if (only_lane >= 0 && (ph == PH_FOREIGN || (ph == PH_SWEEP) != (only_sweep >= 0)))
			continue;
		if (only_sweep >= 0 && ph == PH_NS)
			continue;
		snprintf(name, sizeof(name), "sem_corrupt: %s: every call returns, no signal",
			 phase_name[ph]);
		t_case(name);
		check_phase(ph);
		if (ph == PH_FILES && total_hangs() < MAX_HANGS && lanes_ok)
			CHECK_EQ(it, (only >= 0 ? 1 : iters) - expect_ns);
		if (ph == PH_NS && total_hangs() < MAX_HANGS && lanes_ok)
			CHECK_EQ(it, expect_ns);
		if (ph == PH_SWEEP && only < 0 && total_hangs() < MAX_HANGS && lanes_ok)
			CHECK_EQ(it, only_sweep >= 0 ? 1 : expect_sweep);
		print_phase(ph);
		t_done();
	}
	int nf = print_failures();
	for (int c = 0; c < NCALLS; c++)
		for (int k = 0; k < 3; k++)
			if (atomic_load(&st->nbad[c][k])) {
				static const char *const kind[] = { "out of range", "-1 without errno",
								    "negative" };
				fprintf(stderr, "bad result (%s %s) %ld times, first: %s\n",
					call_name[c], kind[k], atomic_load(&st->nbad[c][k]),
					st->bad_example[c][k]);
				nf++;
			}
	for (int i = 0; i < atomic_load(&st->nslow) && i < MAX_SLOW; i++)
		printf("# slow: %s\n", st->slow_msg[i]);
	if (nf)
		fprintf(stderr, "reproduce one with UIPC_CORRUPT_SEED=%#llx UIPC_CORRUPT_ONLY=<n> "
			"(or s<lane>.<j> for a sweep change)\n", (unsigned long long)base_seed);
	if (total_hangs() >= MAX_HANGS)
		fprintf(stderr, "stopped after %d hangs\n", MAX_HANGS);
	remove_own_root();
	return t_exit();
}
