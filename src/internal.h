/*
 * internal.h - declarations shared by the files of libuipc.
 *
 * Everything here is hidden (not exported from libuipc.so) and carries the
 * uipc__ prefix.  Internal functions return a value >= 0 or -errno; only the
 * public uipc_* functions set errno (see ret()).
 *
 * Every object is a file under the root, mapped MAP_SHARED by each process
 * that uses it.  Its first bytes are a struct uipc_obj; the mechanism's own
 * header follows.  Everything a process reads from a mapping is validated
 * before use: another process that may write the file may also damage it.
 */
#ifndef UIPC_INTERNAL_H
#define UIPC_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include "uipc.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Convert an internal result (>= 0 or -errno) to the libc convention. */
static inline long ret(long r)
{
	if (unlikely(r < 0)) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/*
 * A step that changes shared state: in builds with -DUIPC_FAULT a test may
 * have the process killed just before it (fault.c); otherwise nothing.
 */
#ifdef UIPC_FAULT
HIDDEN void uipc__fault_step(const char *site);
#define FAULT_STR_(x) #x
#define FAULT_STR(x) FAULT_STR_(x)
#define FAULT_STEP() uipc__fault_step(__FILE__ ":" FAULT_STR(__LINE__))
#else
#define FAULT_STEP() ((void)0)
#endif

/* ---- ids, as the kernel's ipc/util.h ---- */
#define IPC_SLOTS 32768			/* IPCMNI: slot = id % IPC_SLOTS */
#define IPC_SEQ_MAX (INT_MAX / IPC_SLOTS)
static inline int id_slot(int id) { return id % IPC_SLOTS; }
static inline int id_seq(int id) { return id / IPC_SLOTS; }

enum uipc_kind { KIND_MSG, KIND_SEM, KIND_SHM, KIND_COUNT };

/* ---- the shared header of every object file ---- */
#define UIPC_MAGIC 0x63706975u		/* "uipc" */
#define UIPC_VERSION 4

enum obj_state {
	OBJ_CREATING = 1,	/* linked under its slot name, not yet visible */
	OBJ_LIVE = 2,
	OBJ_REMOVED = 3,	/* IPC_RMID done: waiters see EIDRM */
	OBJ_FREE = 4,		/* recycled files (obj_ops.by_slot) waiting for an object */
};

/*
 * Redo log.  A critical section that changes several words records the new
 * values here and commits them with one store of 'count'; then it applies
 * them and clears 'count'.  A process that finds the lock's owner dead
 * re-applies a committed log (the stores are absolute, so doing them twice is
 * harmless) and discards an uncommitted one, whose changes never reached the
 * shared state.  All words changed through the log are 64-bit and aligned.
 */
#define REDO_MAX 24
struct redo_log {
	_Atomic uint64_t count;
	struct { uint64_t off, val; } e[REDO_MAX];
};

struct uipc_perm {
	uint64_t uid, gid, cuid, cgid, mode;	/* mode: S_IRWXUGO bits */
};

struct uipc_obj {
	uint32_t magic;
	uint16_t version;
	uint16_t kind;
	_Atomic uint32_t state;		/* enum obj_state */
	int32_t id;
	int32_t key;
	uint32_t hdr_size;		/* bytes of kind-specific header */
	_Atomic uint64_t size;		/* bytes of the file in use */
	struct uipc_perm perm;
	uint64_t ctime;
	/* On lines of their own: every locker writes them. */
	_Alignas(64) pthread_mutex_t lock;	/* robust, process-shared */
	struct redo_log redo;
};

/* A transaction under construction: process-local, then committed. */
struct txn {
	char *base;
	int n;
	struct { uint64_t *p; uint64_t val; } e[REDO_MAX];
};

static inline void txn_begin(struct txn *t, void *base)
{
	t->base = base;
	t->n = 0;
}

static inline void txn_set(struct txn *t, uint64_t *p, uint64_t val)
{
	t->e[t->n].p = p;
	t->e[t->n].val = val;
	t->n++;
}

HIDDEN void uipc__txn_commit_to(struct redo_log *r, struct txn *t);
static inline void uipc__txn_commit(struct uipc_obj *o, struct txn *t)
{
	uipc__txn_commit_to(&o->redo, t);
}
HIDDEN void uipc__redo_replay(struct uipc_obj *o, struct redo_log *r, size_t len,
			      const pthread_mutex_t *lock);

/* ---- sync.c: locks, futexes, spinning ---- */
struct handle;
HIDDEN int uipc__lock(struct handle *h);
HIDDEN int uipc__lock_mutex(struct handle *h, pthread_mutex_t *m);
HIDDEN void uipc__unlock(struct handle *h);
HIDDEN int uipc__robust_init(pthread_mutex_t *m);
HIDDEN bool uipc__robust_ok(pthread_mutex_t *m);
HIDDEN int uipc__futex_wait(_Atomic uint32_t *word, uint32_t val, long timeout_ms);
HIDDEN void uipc__futex_wake(_Atomic uint32_t *word, int n);
HIDDEN void uipc__wake_later(_Atomic uint32_t *word, int n);
HIDDEN int uipc__spin_limit(void);
HIDDEN bool uipc__spin_until(bool (*done)(const void *arg), const void *arg, int look);
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* ---- creds.c: credentials and ipcperms() ---- */
struct creds {
	uid_t euid;
	gid_t egid;
	int ngroups;
	uint64_t caps;			/* effective capabilities */
	gid_t groups[];
};
#define CAP_BIT(c) (1ull << (c))
#define UIPC_CAP_IPC_LOCK 14
#define UIPC_CAP_IPC_OWNER 15
#define UIPC_CAP_SYS_ADMIN 21
#define UIPC_CAP_SYS_RESOURCE 24
HIDDEN const struct creds *uipc__creds(void);
HIDDEN const struct creds *uipc__creds_refresh(void);
HIDDEN void uipc__creds_changed(void);
HIDDEN pid_t uipc__pid(void);
HIDDEN bool uipc__capable(const struct creds *c, int cap);
HIDDEN int uipc__ipcperms(const struct creds *c, const struct uipc_perm *p, int flag);
HIDDEN bool uipc__may_change(const struct creds *c, const struct uipc_perm *p);
HIDDEN unsigned uipc__file_mode(const struct uipc_perm *p);

/* ---- limits.c ---- */
enum uipc_limit {
	LIM_MSGMAX, LIM_MSGMNB, LIM_MSGMNI,
	LIM_SEMMSL, LIM_SEMMNS, LIM_SEMOPM, LIM_SEMMNI, LIM_SEMVMX,
	LIM_SHMMAX, LIM_SHMALL, LIM_SHMMNI, LIM_SHMMIN,
	LIM_COUNT
};
struct limit_copy {
	long long value;
	unsigned left;		/* calls it may still answer */
};
extern HIDDEN __thread struct limit_copy uipc__mine[LIM_COUNT];
HIDDEN long long uipc__limit_slow(enum uipc_limit l);

/* A limit's value, at most 100 ms or 64 of the thread's calls stale. */
static inline long long uipc__limit(enum uipc_limit l)
{
	if (likely(uipc__mine[l].left)) {
		uipc__mine[l].left--;
		return uipc__mine[l].value;
	}
	return uipc__limit_slow(l);
}
HIDDEN long long uipc__limit_fresh(enum uipc_limit l);
HIDDEN void uipc__limits_expire(void);

/* ---- store.c: the namespace and the object files ---- */
struct ns_kind {
	/*
	 * seq << 32 | the slot after the last object created: the sequence
	 * number of new ids and where the next search starts.  A creator
	 * commits its id with a compare-and-swap of the value it started from
	 * (store.c claim_slot): two creators never give out one id.
	 */
	_Atomic uint64_t cursor;
	uint64_t unused;		/* uipc 3's next slot */
	_Atomic int64_t in_use;		/* objects, counted at create and remove */
};
struct ns_limit {
	_Atomic int64_t value;
	_Atomic int64_t set;
};
struct ns_file {
	uint32_t magic;
	uint32_t version;
	struct ns_limit limits[32];
	struct ns_kind kinds[KIND_COUNT];
};
HIDDEN struct ns_file *uipc__ns(void);

/*
 * A process's mapping of one object.  Acquired by id through the cache
 * (uipc__handle_get), released with uipc__handle_put.  'base' may be replaced
 * by a larger view when the object grows; older views stay mapped until the
 * handle is reclaimed, so a pointer taken from any view remains valid for the
 * whole operation.
 */
struct view;
struct handle {
	_Atomic uint64_t rc;		/* generation << 32 | references */
	int id;
	int kind;
	ino_t ino;			/* the header's inode, to tell it from a successor */
	ino_t data_ino;			/* the data file's, if mapped */
	bool writable;			/* false: header mapped read-only, no data */
	_Atomic(char *) base;
	_Atomic size_t len;
	struct view *old;		/* superseded views */
	pthread_mutex_t grow;		/* serialises remaps */
	uint32_t index;
	struct handle *next_free;
	/* Semaphore sets: this process's undo record (sem.c). */
	pid_t undo_pid;			/* the process that looked it up */
	uint32_t undo_index;
	bool pinned;			/* never unmapped (see uipc__handle_pin) */
	/*
	 * obj_ops.by_slot: this process made the object OBJ_FREE and found its
	 * files its own alone: its data file's size, and the files' mode;
	 * -1: it may not recycle them without looking (store.c).
	 */
	long long free_bytes;
	unsigned free_mode;
	uid_t free_uid;			/* the euid that freed them */
};

static inline struct uipc_obj *hobj(struct handle *h)
{
	return (struct uipc_obj *)atomic_load_explicit(&h->base, memory_order_acquire);
}

struct check_log;
struct obj_ops {
	enum uipc_kind kind;
	const char *prefix;		/* file name prefix: "msg" */
	enum uipc_limit mni;		/* limit on the number of objects */
	size_t hdr_bytes;		/* size of the header file (page multiple) */
	/*
	 * Handles map the header and at most this much of the data (0: all of
	 * it); a larger data file is not mapped (h->data_ino 0).
	 */
	size_t view_max;
	/*
	 * Files named by slot, not id (<prefix>.<slot>, no slot name): removed
	 * objects' files are recycled (store.c).
	 */
	bool by_slot;
	/*
	 * Size of a new object's files (header and data); may fail with
	 * -EINVAL (e.g. nsems), -ENOSPC, -ENOMEM.  flg: the get call's flags.
	 */
	long (*new_size)(long arg, int flg);
	/* Initialise the kind-specific part of a new object. */
	int (*init)(struct uipc_obj *o, long arg);
	/* Checks on an existing object before the permission check (-EINVAL). */
	int (*more_checks)(struct uipc_obj *o, long arg);
	/* Validates an object file's kind-specific header (-EINVAL if bad). */
	int (*validate)(struct uipc_obj *o, size_t len);
	/* Wakes every waiter (after a removal or a recovery). */
	void (*wake_all)(struct uipc_obj *o);
	/* Repairs after a lock owner died, once the redo log was replayed. */
	void (*recover)(struct handle *h);
	/*
	 * uipc check (check.c): verify the kind's invariants, with the object
	 * locked; with log->repair make them hold again.  Returns the number
	 * of problems found, or -1 for an object beyond repair.
	 */
	int (*check)(struct handle *h, struct check_log *log);
};

/*
 * Opening a file of the namespace, which anyone may have replaced by a FIFO
 * (O_NONBLOCK: never wait for a writer) or a symbolic link (O_NOFOLLOW).
 */
#define OBJ_OPEN (O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
#define MAX_OBJ_SIZE ((uint64_t)LLONG_MAX)	/* the largest file uipc opens */
/*
 * An object being made (store.c): what its get call asked for, and its
 * fresh files once made (a by_slot kind may recycle a slot's files instead).
 */
struct newobj {
	key_t key;
	int flg;
	long arg;
	long size;			/* bytes of header and data */
	int hfd, dfd;			/* fresh O_TMPFILE files, or -1 */
	struct uipc_obj *o;		/* their mapping, or NULL */
	size_t mapped;
	bool recycled;			/* the object lives in recycled files */
	_Atomic uint64_t *cursor;	/* the kind's ns_kind.cursor, as seen: */
	uint64_t seen;
};
HIDDEN bool uipc__commit_id(struct newobj *n, int id);
HIDDEN void uipc__drop_fresh(struct newobj *n);
HIDDEN int uipc__give_back(const struct obj_ops *ops, int id, struct newobj *n);
HIDDEN int uipc__make_fresh(const struct obj_ops *ops, struct newobj *n);
HIDDEN void uipc__init_header(const struct obj_ops *ops, struct uipc_obj *o,
			      const struct newobj *n);
HIDDEN int uipc__link_files(const struct obj_ops *ops, int id, int hfd, int dfd);
/* slot_files.c */
HIDDEN int uipc__take_slot_file(const struct obj_ops *ops, int slot, int id, struct newobj *n,
				bool reclaim);
HIDDEN void uipc__slot_free(struct handle *h, const struct obj_ops *ops);
HIDDEN void uipc__slot_unlink(const struct obj_ops *ops, struct handle *h);
HIDDEN int uipc__slot_id(const struct obj_ops *ops, int slot, uint32_t *state);
HIDDEN void uipc__slot_reap(const struct obj_ops *ops, int slot);
HIDDEN unsigned uipc__data_mode(const struct obj_ops *ops, unsigned mode);
HIDDEN int uipc__get(const struct obj_ops *ops, key_t key, int flg, long arg);
HIDDEN struct handle *uipc__open_id(const struct obj_ops *ops, int id, bool allow_ro, int *err);
HIDDEN int uipc__handle_ensure(struct handle *h, size_t need);
HIDDEN struct handle *uipc__handle_by_slot(const struct obj_ops *ops, int slot, int *err);
HIDDEN struct handle *uipc__handle_read(const struct obj_ops *ops, int id, int *err);
HIDDEN struct handle *uipc__stat_get(const struct obj_ops *ops, int id, bool by_slot, bool any,
				     int *err);
struct ipc_perm;
HIDDEN void uipc__fill_perm(struct ipc_perm *p, const struct uipc_obj *o);
HIDDEN struct handle *uipc__ctl_get(const struct obj_ops *ops, int id, int *err);
HIDDEN int uipc__remove(struct handle *h, const struct obj_ops *ops);
HIDDEN int uipc__for_each(const struct obj_ops *ops, void (*fn)(struct uipc_obj *o, void *arg),
			  void *arg, int *in_use);
HIDDEN int uipc__grow_file(struct handle *h, size_t size);
HIDDEN int uipc__set_file_mode(struct handle *h);
HIDDEN const struct obj_ops *uipc__ops(enum uipc_kind kind);
HIDDEN const struct obj_ops *uipc__msg_ops(void);
HIDDEN const struct obj_ops *uipc__sem_ops(void);
HIDDEN const struct obj_ops *uipc__shm_ops(void);
HIDDEN void uipc__commit_forget_key(struct handle *h, const struct obj_ops *ops, struct txn *t);
HIDDEN void uipc__obj_path(char *buf, size_t n, const struct obj_ops *ops, int id);
HIDDEN void uipc__data_path(char *buf, size_t n, const struct obj_ops *ops, int id);
HIDDEN void uipc__slot_name(char *buf, size_t n, const struct obj_ops *ops, int slot);
HIDDEN void uipc__key_name(char *buf, size_t n, const struct obj_ops *ops, key_t key);
HIDDEN int uipc__read_id(const char *path);
HIDDEN void uipc__unlink_name(const char *path, int id);
HIDDEN bool uipc__aside_name_dead(const char *name);
HIDDEN void uipc__unlink_names(const struct obj_ops *ops, int id, key_t key, int fd);

/* ---- check.c: uipc check [--repair] ---- */
struct check_log {
	bool repair;			/* make the invariants hold again */
	void *out;			/* the FILE the findings go to */
	const char *kind;		/* the object being looked at: "msg" */
	int id;
	int problems;			/* found in the whole namespace */
};
HIDDEN int uipc__check_say(struct check_log *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
HIDDEN int uipc__check(bool repair, void *out);
HIDDEN bool uipc__holder_died(pthread_mutex_t *m);

/* ---- handle.c: the process's handles and their cache ---- */
HIDDEN char *uipc__map_view(int hfd, int dfd, size_t hsize, size_t dsize, bool hdr_rw);
struct obj_ops;
HIDDEN size_t uipc__view_size(const struct obj_ops *ops, long long dsize);
HIDDEN struct handle *uipc__handle_new(int kind, int id, ino_t ino, char *base, size_t len,
				       bool writable);
HIDDEN struct handle *uipc__handle_get_slow(const struct obj_ops *ops, int id, int *err);
HIDDEN void uipc__handle_unref(struct handle *h);

/*
 * The thread's own references (handle.c).  'busy' counts the calls of this
 * thread using the entry (a signal handler may call in while the thread is
 * inside a call); an entry is replaced only when idle.  The references are
 * dropped when the thread exits.
 */
#define TLS_ENTRIES 8
struct tls_entry {
	struct handle *h;
	int id;
	int kind;
	int busy;
};
extern HIDDEN __thread struct tls_entry uipc__tls_cache[TLS_ENTRIES];

static inline struct tls_entry *tls_entry_of(int kind, int id)
{
	return &uipc__tls_cache[(unsigned)(id_slot(id) + kind) % TLS_ENTRIES];
}

/* The handle of object 'id', with a reference: the fast path is inline. */
static inline struct handle *uipc__handle_get(const struct obj_ops *ops, int id, int *err)
{
	struct tls_entry *e = tls_entry_of(ops->kind, id);
	struct handle *h = e->h;

	if (likely(id >= 0 && h && e->id == id && e->kind == (int)ops->kind) &&
	    likely(atomic_load_explicit(&hobj(h)->state, memory_order_relaxed) == OBJ_LIVE &&
		   hobj(h)->id == id)) {
		e->busy++;
		return h;
	}
	return uipc__handle_get_slow(ops, id, err);
}

static inline void uipc__handle_put(struct handle *h)
{
	struct tls_entry *e = tls_entry_of(h->kind, h->id);

	if (likely(e->h == h && e->busy)) {
		e->busy--;
		return;
	}
	uipc__handle_unref(h);
}
HIDDEN void uipc__handle_install(struct handle *h);
HIDDEN void uipc__handle_retire(struct handle *h);
HIDDEN struct handle *uipc__handle_of_slot(int kind, int slot);
HIDDEN void uipc__handle_pin(struct handle *h);
HIDDEN int uipc__handle_swap_view(struct handle *h, char *base, size_t len);
HIDDEN int64_t uipc__now(void);

/*
 * Cheap pointer check without a system call: NULL, the never-mapped low
 * pages and kernel addresses fail with EFAULT.  Other unmapped addresses are
 * not caught (the copy faults, as memcpy would).
 */
static inline bool bad_user_ptr(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	return a < 4096 || a + len < a || a + len > ((uintptr_t)1 << 47);
}

/* ---- proc.c: processes by pid and start time ---- */
HIDDEN uint64_t uipc__self_start(void);
HIDDEN bool uipc__process_alive(uint64_t pid, uint64_t start);
HIDDEN int uipc__maps_of(pid_t pid, ino_t ino, long long at);

/* ---- uaccess.c: the caller's memory, with EFAULT ---- */
HIDDEN int uipc__copy_in_slow(void *dst, const void *src, size_t len);
extern HIDDEN __thread uintptr_t uipc__last_readable;

/* Copy from the caller's memory; -EFAULT where the kernel would say so. */
static inline int uipc__copy_in(void *dst, const void *src, size_t len)
{
	uintptr_t p = (uintptr_t)src;

	if (likely(len && (p & ~4095ul) == uipc__last_readable &&
		   ((p + len - 1) & ~4095ul) == uipc__last_readable)) {
		memcpy(dst, src, len);
		return 0;
	}
	return uipc__copy_in_slow(dst, src, len);
}
HIDDEN int uipc__copy_out(void *dst, const void *src, size_t len);
HIDDEN int uipc__probe_readable(const void *p, size_t len);
HIDDEN int uipc__probe_writable(void *p, size_t len);
extern HIDDEN __thread uintptr_t uipc__last_writable;

/* Is [p, p + len) within page 'page' (or empty)? */
static inline bool on_page(uintptr_t p, size_t len, uintptr_t page)
{
	return !len || ((p & ~4095ul) == page && ((p + len - 1) & ~4095ul) == page);
}

/* Can the caller read (write) all of [p, p + len)?  0 or -EFAULT. */
static inline int uipc__user_readable(const void *p, size_t len)
{
	if (likely(on_page((uintptr_t)p, len, uipc__last_readable)))
		return 0;
	return uipc__probe_readable(p, len);
}

static inline int uipc__user_writable(void *p, size_t len)
{
	if (likely(on_page((uintptr_t)p, len, uipc__last_writable)))
		return 0;
	return uipc__probe_writable(p, len);
}

#endif
