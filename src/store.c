/*
 * store.c - the namespace: the root, object files, keys and ids.
 *
 * Names in the root (default /dev/shm/uipc, mode 01777 so that any user may
 * create objects and nobody may unlink another's object files):
 *   namespace           id cursors, object counts and the limits set for the root
 *   msg.<id>            the object file of the message queue with that id
 *   names/msg.<slot>    symlink to the decimal id living in that slot
 *   names/msgkey.<key>  symlink to the decimal id of the queue with that key
 *                       (key in 8 hex digits)
 * Shared memory segments (obj_ops.by_slot) differ: their files are named by
 * slot, shm.<slot> and shm.<slot>.data, the header file is the slot's claim
 * (there is no names/shm.<slot>), and the files are recycled from one
 * segment to the next (slot_files.c).
 * names/ is mode 0777 without the sticky bit: whoever may remove an object
 * (its creator, its owner, or a privileged process, as the kernel decides)
 * must be able to unlink its names, and a name left behind by a process
 * that died must be removable by the next one.  The object files themselves
 * stay protected by their modes and the sticky bit.
 *
 * Ids are the kernel's: seq * 32768 + slot.  Slots are allocated cyclically
 * like the kernel's idr_alloc_cyclic, and seq grows each time the allocation
 * wraps, so a removed object's id stays invalid for a long time.  The
 * sequence number and the next slot are one word of the namespace file that
 * a creator moves with a compare-and-swap once it holds a slot, from the
 * value it started from: two creators never give out one id
 * (uipc__commit_id).  Because the id is in the file name, open() tells a
 * stale id (ENOENT: EINVAL) from a live one the caller may not use (EACCES);
 * a by_slot kind finds another id in the header.
 *
 * Creating (uipc__get):  the object is built completely in an O_TMPFILE file
 * with state CREATING, held under flock() by its creator (or, by_slot, in a
 * slot's recycled files under their object lock); its slot is claimed
 * with symlink() (the first free slot wins; the file system settles races);
 * the file is linked as <kind>.<id>; its key name is made with symlink()
 * (which fails if the key exists: IPC_CREAT|IPC_EXCL races are settled there
 * too); then it becomes LIVE.  A creator that dies leaves a CREATING object
 * whose flock the kernel has released: whoever meets it rolls it forward if
 * its key name points to it, else removes it (settle()).
 *
 * Removing (uipc__remove):  under the object lock the state becomes REMOVED
 * (waiters wake and see EIDRM); then the key name, the slot name and the
 * object files are unlinked (the files only by their owner or root: another
 * remover leaves them, REMOVED, to be unlinked by the next namespace walk,
 * MSG_INFO or ipcs, of a process that may: reap_removed()).  An unlinked
 * file lives as long as some process maps it.  Names left behind by a
 * remover that died are recognised as stale (the id or the state does not
 * match) and unlinked by the next lookup.
 *
 * A process's mappings of objects are its handles (handle.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define NS_MAGIC 0x736e7075u
#define DEFAULT_ROOT "/dev/shm/uipc"
/* Files opened with OBJ_OPEN that are not regular are refused by file_size_of(). */

static const char *root_path;
/* ensure_root() succeeded once: a root removed later is made again by create(). */
static _Atomic bool root_ok;
static _Atomic(struct ns_file *) ns_map;

/* Seconds, as the kernel's ktime_get_real_seconds(); time() is a vDSO read. */
const struct obj_ops *uipc__ops(enum uipc_kind kind)
{
	return kind == KIND_SEM ? uipc__sem_ops() : kind == KIND_SHM ? uipc__shm_ops() :
								  uipc__msg_ops();
}

int64_t uipc__now(void)
{
	return (int64_t)time(NULL);
}

__attribute__((visibility("default")))
const char *uipc_root(void)
{
	const char *r = __atomic_load_n(&root_path, __ATOMIC_ACQUIRE);

	if (!r) {
		r = getenv("UIPC_ROOT");
		if (!r || !*r)
			r = DEFAULT_ROOT;
		__atomic_store_n(&root_path, r, __ATOMIC_RELEASE);
	}
	return r;
}

/* The number in an object's file names: its id, or (by_slot) its slot. */
static int file_number(const struct obj_ops *ops, int id)
{
	return ops->by_slot ? id_slot(id) : id;
}

void uipc__obj_path(char *buf, size_t n, const struct obj_ops *ops, int id)
{
	snprintf(buf, n, "%s/%s.%d", uipc_root(), ops->prefix, file_number(ops, id));
}

void uipc__slot_name(char *buf, size_t n, const struct obj_ops *ops, int slot)
{
	snprintf(buf, n, "%s/names/%s.%d", uipc_root(), ops->prefix, slot);
}

void uipc__key_name(char *buf, size_t n, const struct obj_ops *ops, key_t key)
{
	snprintf(buf, n, "%s/names/%skey.%08x", uipc_root(), ops->prefix, (unsigned)key);
}

/*
 * The id a name points to, or -1 with errno: ENOENT if there is no such
 * name, EINVAL if it is not one uipc made (anyone may write names/).
 */
int uipc__read_id(const char *path)
{
	char link[32], *end;
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	long id;

	if (n < 0)
		return -1;
	link[n] = 0;
	id = strtol(link, &end, 10);
	if (n == 0 || *end || id < 0 || id > INT_MAX) {
		errno = EINVAL;
		return -1;
	}
	return (int)id;
}

static int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		chmod(path, mode);	/* the umask applied to mkdir */
	else if (errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Make the root if it is missing, and refuse one that another user could
 * tamper with: it must be a directory (the default one not a symbolic link,
 * which anyone could have planted in /dev/shm) that belongs to the caller
 * or to root, or has the sticky bit.
 */
static int ensure_root(void)
{
	const char *root = uipc_root();
	char names[PATH_MAX];
	bool is_default = !strcmp(root, DEFAULT_ROOT);
	struct stat st;
	int err = make_dir(root, 01777);

	if (err)
		return err;
	if ((is_default ? lstat(root, &st) : stat(root, &st)) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0 && !(st.st_mode & S_ISVTX)))
		return -EACCES;
	snprintf(names, sizeof(names), "%s/names", root);
	return make_dir(names, 0777);
}

/* Link an O_TMPFILE file into place; fails with EEXIST if the name exists. */
static int link_tmpfile(int fd, const char *path)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno == ENOENT && linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
		return 0;
	return -errno;
}

static struct ns_file *ns_open(void)
{
	char path[PATH_MAX];
	struct ns_file *ns;
	struct stat st;
	int fd;

	if (ensure_root() < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/namespace", uipc_root());
	fd = open(path, O_RDWR | OBJ_OPEN);
	if (fd < 0 && errno == ENOENT) {
		fd = open(uipc_root(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
		if (fd < 0)
			return NULL;
		fchmod(fd, 0666);
		if (ftruncate(fd, sizeof(*ns)) < 0 ||
		    pwrite(fd, &(uint32_t[2]){ NS_MAGIC, UIPC_VERSION }, 8, 0) != 8) {
			close(fd);
			return NULL;
		}
		if (link_tmpfile(fd, path) < 0) {
			close(fd);
			fd = open(path, O_RDWR | OBJ_OPEN);
		}
	}
	if (fd < 0)
		return NULL;
	/* A namespace file of an older uipc is shorter: the new words are 0. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    ((size_t)st.st_size < sizeof(*ns) && ftruncate(fd, sizeof(*ns)) < 0)) {
		close(fd);
		return NULL;
	}
	ns = mmap(NULL, sizeof(*ns), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (ns == MAP_FAILED)
		return NULL;
	if (ns->magic != NS_MAGIC) {
		munmap(ns, sizeof(*ns));
		return NULL;
	}
	return ns;
}

struct ns_file *uipc__ns(void)
{
	struct ns_file *ns = atomic_load_explicit(&ns_map, memory_order_acquire), *fresh;

	if (likely(ns))
		return ns;
	fresh = ns_open();
	if (!fresh)
		return NULL;
	if (!atomic_compare_exchange_strong(&ns_map, &ns, fresh)) {
		munmap(fresh, sizeof(*fresh));
		return ns;
	}
	return fresh;
}

static int validate(const struct obj_ops *ops, struct uipc_obj *o, size_t len, int id)
{
	if (len < sizeof(*o) || o->magic != UIPC_MAGIC || o->version != UIPC_VERSION ||
	    o->kind != ops->kind || o->id != id ||
	    atomic_load(&o->size) > len)
		return -EINVAL;
	return ops->validate(o, len);
}

/*
 * A CREATING object whose creator died: roll it forward if its key name
 * points to it, else remove it.  Returns its state afterwards.  A caller
 * whose view of the header is read-only leaves that to others and is told
 * the object is not there (OBJ_REMOVED).
 */
static uint32_t settle(const struct obj_ops *ops, int fd, struct uipc_obj *o, bool can_write)
{
	char path[PATH_MAX];
	uint32_t state = atomic_load(&o->state);

	int e = 0;

	if (state != OBJ_CREATING || flock(fd, LOCK_EX | LOCK_NB) < 0)
		return state;
	/* A recycler (by_slot) makes the object under its lock, not its flock. */
	if (ops->by_slot && can_write) {
		e = uipc__robust_ok(&o->lock) ? pthread_mutex_trylock(&o->lock) : EINVAL;
		if (e == EBUSY) {
			flock(fd, LOCK_UN);
			return OBJ_CREATING;
		}
		if (e == EOWNERDEAD)
			pthread_mutex_consistent(&o->lock);
	}
	state = atomic_load(&o->state);
	if (state == OBJ_CREATING && !can_write) {
		state = OBJ_REMOVED;
	} else if (state == OBJ_CREATING) {
		uipc__key_name(path, sizeof(path), ops, o->key);
		if (o->key != IPC_PRIVATE && uipc__read_id(path) == o->id) {
			state = OBJ_LIVE;
		} else {
			state = OBJ_REMOVED;
			uipc__unlink_names(ops, o->id, IPC_PRIVATE, fd);
		}
		atomic_store(&o->state, state);
	}
	if (ops->by_slot && can_write && (e == 0 || e == EOWNERDEAD))
		pthread_mutex_unlock(&o->lock);
	flock(fd, LOCK_UN);
	return state;
}

/*
 * An object is two files: the header (<kind>.<id>: lock, counters, waiters;
 * readable by every user, as the kernel shows every object's msqid_ds to
 * everyone through MSG_STAT_ANY) and the data (<kind>.<id>.data: the
 * contents, closed to users the IPC mode excludes).  A view maps both
 * contiguously, so that the header's offsets reach into the data.  A
 * read-only view maps the header only (writable if hdr_rw: a header whose
 * data file is missing, which settle() may have to remove).
 */
/* How much of a data file of 'dsize' bytes a handle maps (obj_ops.view_max). */
size_t uipc__view_size(const struct obj_ops *ops, long long dsize)
{
	return dsize <= 0 || (ops->view_max && (uint64_t)dsize > ops->view_max) ? 0 : (size_t)dsize;
}

char *uipc__map_view(int hfd, int dfd, size_t hsize, size_t dsize, bool hdr_rw)
{
	size_t len = hsize + (dfd >= 0 ? dsize : 0);
	int prot = dfd >= 0 || hdr_rw ? PROT_READ | PROT_WRITE : PROT_READ;
	char *base;

	if (len == hsize) {	/* the header alone: one mapping */
		base = mmap(NULL, hsize, prot, MAP_SHARED, hfd, 0);
		return base == MAP_FAILED ? NULL : base;
	}
	base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mmap(base, hsize, prot, MAP_SHARED | MAP_FIXED, hfd, 0) == MAP_FAILED ||
	    (dfd >= 0 && dsize &&
	     mmap(base + hsize, dsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, dfd, 0) ==
		     MAP_FAILED)) {
		munmap(base, len);
		return NULL;
	}
	return base;
}

void uipc__data_path(char *buf, size_t n, const struct obj_ops *ops, int id)
{
	snprintf(buf, n, "%s/%s.%d.data", uipc_root(), ops->prefix, file_number(ops, id));
}

/* Size of a regular file, or -1 if it is not one of sane size. */
static long long file_size_of(int fd, ino_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_OBJ_SIZE)
		return -1;
	if (ino)
		*ino = st.st_ino;
	return st.st_size;
}

/*
 * Open and map the object with this id: read-write, or with allow_ro
 * read-only (header only) when the caller may not write it.  Returns a new
 * handle holding one reference (not in the cache).
 */
struct handle *uipc__open_id(const struct obj_ops *ops, int want_id, bool allow_ro, int *err)
{
	char path[PATH_MAX];
	struct handle *h;
	struct uipc_obj *o;
	long long dsize = 0;
	size_t hsize = ops->hdr_bytes;
	uint32_t state;
	int hfd, dfd = -1, e, tries = 0;
	ino_t ino = 0, dino = 0;
	size_t vsize;
	bool rw;
	char *base;

	*err = -EINVAL;
	if (want_id < 0)
		return NULL;
	uipc__obj_path(path, sizeof(path), ops, want_id);
	hfd = open(path, O_RDWR | OBJ_OPEN);
	rw = hfd >= 0;
	if (hfd < 0 && errno == EACCES && allow_ro)
		hfd = open(path, O_RDONLY | OBJ_OPEN);
	if (hfd < 0) {
		e = errno;
		*err = e == EACCES || e == ENFILE || e == EMFILE || e == ENOMEM ? -e : -EINVAL;
		return NULL;
	}
	if (file_size_of(hfd, &ino) != (long long)hsize)
		goto out_close;
	if (rw) {
		uipc__data_path(path, sizeof(path), ops, want_id);
		dfd = open(path, O_RDWR | OBJ_OPEN);
		if (dfd >= 0 && (dsize = file_size_of(dfd, &dino)) < 0)
			goto out_close;
	}
	if (dfd < 0 && !allow_ro) {	/* closed to the caller, or missing */
		*err = rw && errno == EACCES ? -EACCES : -EINVAL;
		goto out_close;
	}
	vsize = uipc__view_size(ops, dsize);
	base = uipc__map_view(hfd, dfd, hsize, vsize, rw);
	if (!base) {
		*err = -ENOMEM;
		goto out_close;
	}
	o = (struct uipc_obj *)base;
	if (validate(ops, o, dfd >= 0 ? hsize + (size_t)dsize : SIZE_MAX, want_id) < 0)
		goto out_unmap;
	while ((state = settle(ops, hfd, o, rw)) == OBJ_CREATING) {
		if (++tries > 1000)	/* its creator is alive but stopped */
			goto out_unmap;
		if (tries < 100)
			sched_yield();
		else
			usleep(1000);
	}
	if (state != OBJ_LIVE)
		goto out_unmap;
	h = uipc__handle_new(ops->kind, want_id, ino, base, hsize + (dfd >= 0 ? vsize : 0),
			     dfd >= 0);
	if (h)
		h->data_ino = vsize ? dino : 0;
	if (!h) {
		*err = -ENOMEM;
		goto out_unmap;
	}
	close(hfd);
	if (dfd >= 0)
		close(dfd);
	*err = 0;
	return h;
out_unmap:
	munmap(base, hsize + (dfd >= 0 ? vsize : 0));
out_close:
	close(hfd);
	if (dfd >= 0)
		close(dfd);
	return NULL;
}

/*
 * The id of the object in a slot, by its slot name, or for a by_slot kind
 * from its header; -1 with errno if there is none.  A by_slot slot's
 * leftover files (REMOVED, or a dead creator's) are reaped on the way.
 */
static int id_in_slot(const struct obj_ops *ops, int slot)
{
	char path[PATH_MAX];
	uint32_t state;
	int id;

	if (!ops->by_slot) {
		uipc__slot_name(path, sizeof(path), ops, slot);
		return uipc__read_id(path);
	}
	id = uipc__slot_id(ops, slot, &state);
	if (id >= 0 && state == OBJ_LIVE)
		return id;
	if (id >= 0 && state != OBJ_FREE)
		uipc__slot_reap(ops, slot);
	errno = id >= 0 ? ENOENT : errno;
	return -1;
}

/*
 * The object in a slot (MSG_STAT), by its slot name, or by id.  These
 * handles may be read-only (h->writable false): for reading the header.
 */
struct handle *uipc__handle_by_slot(const struct obj_ops *ops, int slot, int *err)
{
	return uipc__open_id(ops, id_in_slot(ops, slot), true, err);
}

struct handle *uipc__handle_read(const struct obj_ops *ops, int id, int *err)
{
	return uipc__open_id(ops, id, true, err);
}

/*
 * The object an IPC_STAT (by id), or a MSG_STAT/SEM_STAT (by_slot: id is a
 * slot index, as the kernel's), names, with a reference; -EACCES without
 * read permission unless 'any' (the *_STAT_ANY commands).  A caller the
 * files keep out gets a read-only view (h->writable false).
 */
struct handle *uipc__stat_get(const struct obj_ops *ops, int id, bool by_slot, bool any,
			      int *err)
{
	const struct creds *c = uipc__creds_refresh();
	struct handle *h;

	if (by_slot) {
		h = uipc__handle_by_slot(ops, id_slot(id), err);
	} else {
		h = uipc__handle_get(ops, id, err);
		if (!h && *err == -EACCES)
			h = uipc__handle_read(ops, id, err);
	}
	if (h && !any && uipc__ipcperms(c, &hobj(h)->perm, 0444)) {
		uipc__handle_put(h);
		*err = -EACCES;
		return NULL;
	}
	return h;
}

/*
 * The object an IPC_SET or IPC_RMID names, with a reference: -EPERM unless
 * the caller is its owner or creator (or CAP_SYS_ADMIN), -EACCES when it
 * may but the files' modes keep it out.
 */
struct handle *uipc__ctl_get(const struct obj_ops *ops, int id, int *err)
{
	const struct creds *c = uipc__creds_refresh();
	struct handle *h = uipc__handle_get(ops, id, err);

	if (!h && *err == -EACCES)
		h = uipc__handle_read(ops, id, err);
	if (!h)
		return NULL;
	*err = !uipc__may_change(c, &hobj(h)->perm) ? -EPERM : !h->writable ? -EACCES : 0;
	if (*err) {
		uipc__handle_put(h);
		return NULL;
	}
	return h;
}

/* The struct ipc_perm of an object, as IPC_STAT gives it. */
void uipc__fill_perm(struct ipc_perm *p, const struct uipc_obj *o)
{
	p->__key = o->key;
	p->uid = (uid_t)o->perm.uid;
	p->gid = (gid_t)o->perm.gid;
	p->cuid = (uid_t)o->perm.cuid;
	p->cgid = (gid_t)o->perm.cgid;
	p->mode = (unsigned short)o->perm.mode;
	p->__seq = (unsigned short)id_seq(o->id);
}

/*
 * Make sure the handle maps at least 'need' bytes of its file, which another
 * process may have grown.  The old view stays mapped until the handle goes.
 */
int uipc__handle_ensure(struct handle *h, size_t need)
{
	const struct obj_ops *ops = uipc__ops((enum uipc_kind)h->kind);
	char path[PATH_MAX];
	long long dsize;
	int hfd, dfd = -1, err = 0;
	ino_t ino = 0;
	char *base;

	if (likely(atomic_load_explicit(&h->len, memory_order_acquire) >= need))
		return 0;
	pthread_mutex_lock(&h->grow);
	if (atomic_load(&h->len) >= need)
		goto out;
	uipc__obj_path(path, sizeof(path), ops, h->id);
	hfd = open(path, O_RDWR | OBJ_OPEN);
	uipc__data_path(path, sizeof(path), ops, h->id);
	if (hfd >= 0)
		dfd = open(path, O_RDWR | OBJ_OPEN);
	err = -EIDRM;
	if (hfd < 0 || dfd < 0 || file_size_of(hfd, &ino) != (long long)ops->hdr_bytes ||
	    ino != h->ino || (dsize = file_size_of(dfd, NULL)) < 0 ||
	    ops->hdr_bytes + (size_t)dsize < need)
		goto out_close;
	base = uipc__map_view(hfd, dfd, ops->hdr_bytes, (size_t)dsize, true);
	err = base ? uipc__handle_swap_view(h, base, ops->hdr_bytes + (size_t)dsize) : -ENOMEM;
out_close:
	if (hfd >= 0)
		close(hfd);
	if (dfd >= 0)
		close(dfd);
out:
	pthread_mutex_unlock(&h->grow);
	return err;
}

/* Grow the object's data to reach 'size' bytes in all (header included). */
int uipc__grow_file(struct handle *h, size_t size)
{
	const struct obj_ops *ops = uipc__ops((enum uipc_kind)h->kind);
	char path[PATH_MAX];
	long long dsize;
	int fd, err = 0;

	uipc__data_path(path, sizeof(path), ops, h->id);
	fd = open(path, O_RDWR | OBJ_OPEN);
	if (fd < 0)
		return errno == ENOENT ? -EIDRM : -errno;
	dsize = file_size_of(fd, NULL);
	if (dsize < 0)
		err = -EINVAL;
	else if (ops->hdr_bytes + (size_t)dsize < size &&
		 ftruncate(fd, (off_t)(size - ops->hdr_bytes)) < 0)
		err = -ENOSPC;
	close(fd);
	return err ? err : uipc__handle_ensure(h, size);
}

int uipc__set_file_mode(struct handle *h)
{
	char path[PATH_MAX];
	const struct obj_ops *ops = uipc__ops((enum uipc_kind)h->kind);
	unsigned mode = uipc__file_mode(&hobj(h)->perm);
	struct stat st;
	int fd;

	/* Only the files' owner (the creator) or root may: see README. */
	uipc__obj_path(path, sizeof(path), ops, h->id);
	fd = open(path, O_RDONLY | OBJ_OPEN);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && st.st_ino == h->ino) {
		fchmod(fd, mode | 0444);
		uipc__data_path(path, sizeof(path), ops, h->id);
		/* The mark of a data file that was ever open to others stays. */
		if (stat(path, &st) == 0)
			chmod(path, uipc__data_mode(ops, mode) | (st.st_mode & S_ISVTX));
	}
	close(fd);
	return 0;
}

/* ---- keys ---- */

#define ASIDE ".stale."

/*
 * Is 'name' (in names/) one that uipc__unlink_name() moved aside, whose
 * process died before it unlinked it?  Such names are unlinked by the
 * namespace walks (uipc__for_each) and by uipc check.
 */
bool uipc__aside_name_dead(const char *name)
{
	const char *aside = strstr(name, ASIDE);
	int saved = errno;
	bool dead;
	char *end;
	long pid;

	if (!aside)
		return false;
	pid = strtol(aside + strlen(ASIDE), &end, 10);
	dead = *end == '.' && pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) < 0 &&
	       errno == ESRCH;
	errno = saved;
	return dead;
}

/*
 * Unlink a name if it still points to 'id', and nothing newer: move it aside
 * first (under a name with our pid), then look at what was moved.
 */
void uipc__unlink_name(const char *path, int id)
{
	char tmp[PATH_MAX + 48];

	if (uipc__read_id(path) != id)
		return;
	snprintf(tmp, sizeof(tmp), "%s" ASIDE "%d.%lx", path, uipc__pid(),
		 (unsigned long)pthread_self());
	FAULT_STEP();
	if (rename(path, tmp) < 0)
		return;
	if (uipc__read_id(tmp) == id) {
		FAULT_STEP();
		unlink(tmp);
		return;
	}
	/* A newer name replaced the stale one meanwhile: put it back. */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
		unlink(tmp);
}

/*
 * Commit transaction t, in which the object also gives up its key (its key
 * becomes IPC_PRIVATE), as an attached shared memory segment does at
 * IPC_RMID; then unlink the key's name.  A process killed between the two
 * leaves a name whose object no longer has that key: a stale name, which
 * lookups unlink.  Called with the object locked.
 */
_Static_assert(offsetof(struct uipc_obj, key) % 8 == 0 &&
	       offsetof(struct uipc_obj, hdr_size) == offsetof(struct uipc_obj, key) + 4,
	       "the key and hdr_size share a word the redo log can write");

void uipc__commit_forget_key(struct handle *h, const struct obj_ops *ops, struct txn *t)
{
	struct uipc_obj *o = hobj(h);
	struct { int32_t key; uint32_t hdr_size; } word = { IPC_PRIVATE, o->hdr_size };
	key_t key = o->key;
	char path[PATH_MAX];
	uint64_t val;

	if (key != IPC_PRIVATE) {
		memcpy(&val, &word, sizeof(val));
		txn_set(t, (uint64_t *)&o->key, val);
	}
	uipc__txn_commit(o, t);
	if (key != IPC_PRIVATE) {
		uipc__key_name(path, sizeof(path), ops, key);
		uipc__unlink_name(path, o->id);
	}
}

/*
 * Unlink the names of object 'id': its key name, its slot name and its file
 * (if the file is still the one open as 'fd', or fd < 0).  Unlinking the
 * file fails harmlessly for a remover that does not own it.
 */
void uipc__unlink_names(const struct obj_ops *ops, int id, key_t key, int fd)
{
	char path[PATH_MAX];
	struct stat st, cur;

	if (key != IPC_PRIVATE) {
		uipc__key_name(path, sizeof(path), ops, key);
		uipc__unlink_name(path, id);
	}
	if (!ops->by_slot) {
		uipc__slot_name(path, sizeof(path), ops, id_slot(id));
		uipc__unlink_name(path, id);
	}
	uipc__obj_path(path, sizeof(path), ops, id);
	/* The data first: a header left behind is still found (reap_removed). */
	if (fd < 0 || (fstat(fd, &st) == 0 && stat(path, &cur) == 0 && st.st_ino == cur.st_ino)) {
		uipc__data_path(path, sizeof(path), ops, id);
		FAULT_STEP();
		unlink(path);
		uipc__obj_path(path, sizeof(path), ops, id);
		FAULT_STEP();
		unlink(path);
	}
}

/* The number of objects of a kind, counted from the slot names. */
static int64_t count_slots(const struct obj_ops *ops)
{
	int in_use;

	uipc__for_each(ops, NULL, NULL, &in_use);
	return in_use;
}

/*
 * Link a new object's header, then its data file, as object 'id'.  The
 * header first: a creator that dies between the two leaves a CREATING
 * header, which the next lookup of its slot settles (removes), and not a
 * data file that nothing would ever find.  A by_slot kind's header name is
 * its slot's claim: -EBUSY if it exists; a data file found without a
 * header was left by a remover that died, and goes.
 */
int uipc__link_files(const struct obj_ops *ops, int id, int hfd, int dfd)
{
	char path[PATH_MAX];
	int err;

	uipc__obj_path(path, sizeof(path), ops, id);
	FAULT_STEP();
	if ((err = link_tmpfile(hfd, path)) < 0)
		return ops->by_slot && err == -EEXIST ? -EBUSY : err;
	uipc__data_path(path, sizeof(path), ops, id);
	FAULT_STEP();
	err = link_tmpfile(dfd, path);
	if (err == -EEXIST && ops->by_slot && unlink(path) == 0)
		err = link_tmpfile(dfd, path);
	if (err < 0) {
		uipc__obj_path(path, sizeof(path), ops, id);
		unlink(path);
	}
	return err;
}

/* Let go of n's fresh files, if any. */
void uipc__drop_fresh(struct newobj *n)
{
	if (n->o)
		munmap(n->o, n->mapped);
	if (n->hfd >= 0)
		close(n->hfd);
	if (n->dfd >= 0)
		close(n->dfd);
	n->o = NULL;
	n->hfd = n->dfd = -1;
}

/* Unlink the files named for object 'id', the data first. */
static void unlink_files(const struct obj_ops *ops, int id)
{
	char path[PATH_MAX];

	uipc__data_path(path, sizeof(path), ops, id);
	unlink(path);
	uipc__obj_path(path, sizeof(path), ops, id);
	unlink(path);
}

/*
 * n's fresh files are linked as 'id', which another creator gave out first
 * (uipc__commit_id): unlink them, and drop them (an O_TMPFILE file once
 * linked cannot be linked again).  -EAGAIN, for the caller to return.
 */
int uipc__give_back(const struct obj_ops *ops, int id, struct newobj *n)
{
	unlink_files(ops, id);
	uipc__drop_fresh(n);
	return -EAGAIN;
}

/*
 * The slot name 'slot_path' for 'id' is ours: the object o becomes 'id'
 * and its files are linked as such.
 * Files that are there already were left by a creator or remover of the id
 * that died (no live object has the id, since its slot name is ours), or
 * put there by someone else: they are unlinked if they can be.  On failure
 * the slot name goes again; -EEXIST: try another slot.
 */
static int link_claimed(const struct obj_ops *ops, const char *slot_path, int id,
			struct newobj *n)
{
	int err;

	n->o->id = id;
	err = uipc__link_files(ops, id, n->hfd, n->dfd);

	if (err == -EEXIST) {
		unlink_files(ops, id);
		err = uipc__link_files(ops, id, n->hfd, n->dfd);
	}
	if (!err && !uipc__commit_id(n, id))
		err = uipc__give_back(ops, id, n);
	if (err < 0)
		uipc__unlink_name(slot_path, id);
	return err;
}

/*
 * Take 'slot' for object 'id' with a slot name (symlink kinds): 0, -EBUSY
 * if the slot is taken, or another error.  The second round reclaims slots
 * whose names are stale.
 */
static int take_named_slot(const struct obj_ops *ops, int slot, int id, struct newobj *n,
			   int round)
{
	char path[PATH_MAX], idbuf[16];
	struct handle *h;
	int old, err;

	if (!n->o && (err = uipc__make_fresh(ops, n)) < 0)
		return err;
	uipc__slot_name(path, sizeof(path), ops, slot);
	snprintf(idbuf, sizeof(idbuf), "%d", id);
	FAULT_STEP();
	if (symlink(idbuf, path) == 0) {
		err = link_claimed(ops, path, id, n);
		return err == -EEXIST ? -EBUSY : err;	/* files no one can remove */
	}
	if (errno != EEXIST)
		return -ENOSPC;
	if (round == 0 || (old = uipc__read_id(path)) < 0)
		return -EBUSY;
	h = uipc__open_id(ops, old, true, &err);
	if (h) {
		uipc__handle_unref(h);
		return -EBUSY;
	}
	if (err != -EINVAL)	/* not stale: the object is there */
		return -EBUSY;
	uipc__unlink_name(path, old);
	if (symlink(idbuf, path) < 0)
		return -EBUSY;
	err = link_claimed(ops, path, id, n);
	return err == -EEXIST ? -EBUSY : err;
}

/*
 * Claim a slot for a new object, as the kernel's ipc_idr_alloc: ENOSPC
 * when msgmni/semmni objects exist; else the next free slot after the last
 * one given, cyclically, within the first max(in_use * 3 / 2, 64) slots,
 * and a slot at or before the last one bumps the sequence number.  The
 * number of objects is kept in the namespace file and counted again from
 * the names when it says the limit is reached (a process killed between a
 * change and its count leaves it off by one).  A by_slot kind may find
 * every slot of that window taken by recycled files it may not use
 * (another user's): it looks beyond, up to the last slot.
 * Returns the id; n->recycled tells a slot whose files were recycled (the
 * object is live: slot_files.c) from one where n's fresh files were linked.
 */
#define IPC_MIN_CYCLE 64

/*
 * The id a creator claimed a slot for is its own if the cursor it started
 * from did not move meanwhile: it moves it past the slot (one store), else
 * the caller gives the slot up and searches again.  Called before anything
 * makes the object visible (its key name, state LIVE).
 */
bool uipc__commit_id(struct newobj *n, int id)
{
	uint64_t next = (uint64_t)id_seq(id) << 32 | (uint64_t)(id_slot(id) + 1);

	FAULT_STEP();
	return atomic_compare_exchange_strong(n->cursor, &n->seen, next);
}

static int claim_slot(const struct obj_ops *ops, struct ns_file *ns, struct newobj *n)
{
	struct ns_kind *k = &ns->kinds[ops->kind];
	long long mni = uipc__limit(ops->mni);
	int64_t in_use = atomic_load(&k->in_use), window;
	int round, i, slot, id, err, last, tries = 0;
	uint64_t next, seq;

	if (in_use < 0 || in_use >= mni) {
		mni = uipc__limit_fresh(ops->mni);
		in_use = count_slots(ops);
		atomic_store(&k->in_use, in_use);
		if (in_use >= mni)
			return -ENOSPC;
	}
	window = in_use * 3 / 2 > IPC_MIN_CYCLE ? in_use * 3 / 2 : IPC_MIN_CYCLE;
	if (window > IPC_SLOTS)
		window = IPC_SLOTS;
	last = ops->by_slot ? 3 : 2;
	n->cursor = &k->cursor;
again:
	n->seen = atomic_load(&k->cursor);
	/* Reduced, as anyone may have written the namespace file. */
	seq = (n->seen >> 32) % IPC_SEQ_MAX;
	next = (uint32_t)n->seen;
	if (next > (uint64_t)window)
		next = (uint64_t)window;
	for (round = 0; round < last; round++) {
		for (i = 0; i < (round < 2 ? window : IPC_SLOTS - window); i++) {
			slot = round < 2 ? (int)((next + (uint64_t)i) % (uint64_t)window) :
					   (int)window + i;
			/* Wrapping around bumps the sequence, as idr_alloc_cyclic. */
			id = (int)(((uint64_t)slot < next ? (seq + 1) % IPC_SEQ_MAX : seq) *
				   IPC_SLOTS + (uint64_t)slot);
			err = ops->by_slot ? uipc__take_slot_file(ops, slot, id, n, round > 0) :
					     take_named_slot(ops, slot, id, n, round);
			if (err == 0)
				goto claimed;
			if (err == -EAGAIN && ++tries < 1000)	/* another creator came first */
				goto again;
			if (err != -EBUSY)
				return err == -EAGAIN ? -ENOSPC : err;
		}
	}
	return -ENOSPC;
claimed:
	FAULT_STEP();
	atomic_fetch_add(&k->in_use, 1);
	return id;
}

/* Fill the common header of a new object (its id comes with its slot). */
void uipc__init_header(const struct obj_ops *ops, struct uipc_obj *o, const struct newobj *n)
{
	const struct creds *c = uipc__creds();

	o->magic = UIPC_MAGIC;
	o->version = UIPC_VERSION;
	o->kind = (uint16_t)ops->kind;
	o->key = n->key;
	o->size = (uint64_t)n->size;
	o->perm = (struct uipc_perm){ c->euid, c->egid, c->euid, c->egid, (unsigned)n->flg & 0777 };
	o->ctime = (uint64_t)uipc__now();
}

/*
 * Build the new object in fresh O_TMPFILE files (n->hfd, n->dfd, mapped at
 * n->o), CREATING and held under flock() by its creator.
 */
int uipc__make_fresh(const struct obj_ops *ops, struct newobj *n)
{
	size_t hsize = ops->hdr_bytes;
	struct uipc_obj *o;
	unsigned mode;
	int err;

	n->hfd = open(uipc_root(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (n->hfd < 0 && errno == ENOENT && ensure_root() == 0)	/* the root was removed */
		n->hfd = open(uipc_root(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (n->hfd < 0)
		return errno == EACCES ? -EACCES : -ENOSPC;
	n->dfd = open(uipc_root(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (n->dfd < 0)
		return -ENOSPC;
	flock(n->hfd, LOCK_EX);
	if (ftruncate(n->hfd, (off_t)hsize) < 0 || ftruncate(n->dfd, n->size - (off_t)hsize) < 0)
		return -ENOMEM;
	n->mapped = hsize + uipc__view_size(ops, n->size - (long)hsize);
	o = (struct uipc_obj *)uipc__map_view(n->hfd, n->dfd, hsize, n->mapped - hsize, true);
	if (!o)
		return -ENOMEM;
	n->o = o;
	uipc__init_header(ops, o, n);
	atomic_store(&o->state, OBJ_CREATING);
	err = uipc__robust_init(&o->lock);
	if (!err)
		err = ops->init(o, n->arg);
	if (err)
		return err;
	mode = uipc__file_mode(&o->perm);
	fchmod(n->hfd, mode | 0444);
	fchmod(n->dfd, uipc__data_mode(ops, mode));
	return 0;
}

static int create(const struct obj_ops *ops, key_t key, int flg, long arg)
{
	struct newobj n = { key, flg, arg, ops->new_size(arg, flg), -1, -1, NULL, 0, false, NULL,
			    0 };
	char path[PATH_MAX], idbuf[32];
	struct ns_file *ns = uipc__ns();
	struct uipc_obj *o;
	struct handle *h;
	struct stat st;
	int id, err;

	if (n.size < 0)
		return (int)n.size;
	if (!ns)
		return -ENOSPC;
	id = claim_slot(ops, ns, &n);
	if ((err = id) < 0 || n.recycled)
		goto out;
	o = n.o;
	if (key != IPC_PRIVATE) {
		uipc__key_name(path, sizeof(path), ops, key);
		snprintf(idbuf, sizeof(idbuf), "%d", id);
		FAULT_STEP();
		if (symlink(idbuf, path) < 0) {
			/* Lost the race for the key: undo, the caller looks again. */
			err = errno == EEXIST ? -EEXIST : -ENOSPC;
			atomic_store(&o->state, OBJ_REMOVED);
			uipc__unlink_names(ops, id, IPC_PRIVATE, n.hfd);
			atomic_fetch_sub(&ns->kinds[ops->kind].in_use, 1);
			goto out;
		}
	}
	FAULT_STEP();
	atomic_store(&o->state, OBJ_LIVE);
	flock(n.hfd, LOCK_UN);
	/* The creator's mapping becomes its handle, as uipc__open_id's would. */
	h = fstat(n.hfd, &st) == 0 ?
		    uipc__handle_new(ops->kind, id, st.st_ino, (char *)o, n.mapped, true) : NULL;
	if (h) {
		n.o = NULL;
		if (n.mapped > ops->hdr_bytes && fstat(n.dfd, &st) == 0)
			h->data_ino = st.st_ino;
		uipc__handle_install(h);
		uipc__handle_unref(h);
	}
out:
	uipc__drop_fresh(&n);
	return err;
}

/* The kernel's ipcget(): find or create the object with 'key'. */
int uipc__get(const struct obj_ops *ops, key_t key, int flg, long arg)
{
	const struct creds *c = uipc__creds_refresh();
	char path[PATH_MAX];
	struct handle *h;
	int id, err, tries;

	if (!atomic_load_explicit(&root_ok, memory_order_relaxed)) {
		if ((err = ensure_root()) < 0)
			return err == -EACCES ? err : -ENOSPC;
		atomic_store_explicit(&root_ok, true, memory_order_relaxed);
	}
	if (key == IPC_PRIVATE)
		return create(ops, key, flg, arg);
	uipc__key_name(path, sizeof(path), ops, key);
	for (tries = 0; tries < 100; tries++) {
		id = uipc__read_id(path);
		if (id < 0 && errno == ENOENT) {
			if (!(flg & IPC_CREAT))
				return -ENOENT;
			err = create(ops, key, flg, arg);
			if (err != -EEXIST)
				return err;
			continue;	/* another creator won: look again */
		}
		if (id < 0) {	/* not a name uipc made: out of the way */
			uipc__unlink_name(path, -1);
			continue;
		}
		h = uipc__handle_get(ops, id, &err);
		if (!h && err == -EACCES)	/* the data is closed to the caller */
			h = uipc__handle_read(ops, id, &err);
		if (!h) {
			if (err != -EINVAL)
				return err;
			uipc__unlink_name(path, id);	/* stale */
			continue;
		}
		if (hobj(h)->key != key) {
			uipc__handle_put(h);
			uipc__unlink_name(path, id);
			continue;
		}
		if ((flg & IPC_CREAT) && (flg & IPC_EXCL))
			err = -EEXIST;
		else if ((err = ops->more_checks(hobj(h), arg)) == 0)
			err = uipc__ipcperms(c, &hobj(h)->perm, flg);
		uipc__handle_put(h);
		return err ? err : id;
	}
	return -EAGAIN;
}

/*
 * Remove the object: mark it removed under its lock, wake its waiters, then
 * unlink its names.  Called with the object locked; returns unlocked.
 */
int uipc__remove(struct handle *h, const struct obj_ops *ops)
{
	struct uipc_obj *o = hobj(h);
	int id = o->id;
	key_t key = o->key;
	char path[PATH_MAX];
	struct stat st;

	/*
	 * The waiters are woken first: the first wake-up is made at once
	 * (sync.c), so that if this remover dies before it unlocks, a waiter
	 * comes to the dead lock; the others are woken after the unlock, when
	 * the state says REMOVED.
	 */
	ops->wake_all(o);
	FAULT_STEP();
	atomic_store(&o->state, OBJ_REMOVED);
	if (ops->by_slot) {
		uipc__slot_free(h, ops);	/* FREE, or unlinked */
		uipc__unlock(h);
		if (key != IPC_PRIVATE) {
			uipc__key_name(path, sizeof(path), ops, key);
			uipc__unlink_name(path, id);
		}
	} else {
		uipc__unlock(h);
		uipc__obj_path(path, sizeof(path), ops, id);
		if (stat(path, &st) < 0 || st.st_ino != h->ino)
			goto out;
		uipc__unlink_names(ops, id, key, -1);
	}
	FAULT_STEP();
	if (uipc__ns())
		atomic_fetch_sub(&uipc__ns()->kinds[ops->kind].in_use, 1);
out:
	if (atomic_load(&o->state) != OBJ_FREE)
		uipc__handle_retire(h);
	return 0;
}

/*
 * Unlink the files of removed objects that their remover could not unlink
 * (it did not own them): the creator's own processes, or root, do it when
 * they walk the namespace.  (By_slot kinds: id_in_slot.)
 */
static void reap_removed(const struct obj_ops *ops)
{
	size_t plen = strlen(ops->prefix);
	uid_t euid = geteuid();
	char path[PATH_MAX], *end;
	struct uipc_obj o;
	struct dirent *d;
	struct stat st;
	DIR *dir;
	long id;
	int fd;

	dir = opendir(uipc_root());
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, ops->prefix, plen) || d->d_name[plen] != '.')
			continue;
		id = strtol(d->d_name + plen + 1, &end, 10);
		if (*end || id < 0 || id > INT_MAX)
			continue;
		snprintf(path, sizeof(path), "%s/%s", uipc_root(), d->d_name);
		fd = open(path, O_RDONLY | OBJ_OPEN);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_uid == euid || euid == 0) &&
		    pread(fd, &o, sizeof(o), 0) == (ssize_t)sizeof(o) && o.magic == UIPC_MAGIC &&
		    o.kind == ops->kind && o.id == id && atomic_load(&o.state) == OBJ_REMOVED)
			uipc__unlink_names(ops, o.id, IPC_PRIVATE, fd);
		close(fd);
	}
	closedir(dir);
}

/* Unlink the names a remover of this kind moved aside and left (it died). */
static void reap_aside(const struct obj_ops *ops)
{
	size_t plen = strlen(ops->prefix);
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/names", uipc_root());
	if (!(dir = opendir(path)))
		return;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, ops->prefix, plen) || !uipc__aside_name_dead(d->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/names/%s", uipc_root(), d->d_name);
		unlink(path);
	}
	closedir(dir);
}

/*
 * Walk the objects of a kind: call fn on each live one (unlocked; fn reads
 * racily, as the kernel's MSG_INFO reads counters).  Returns the highest slot
 * in use, or -1; *in_use gets the number of objects.  Stale slot names are
 * unlinked on the way.  The slots are the slot names in names/, or for a
 * by_slot kind the header files in the root.
 */
int uipc__for_each(const struct obj_ops *ops, void (*fn)(struct uipc_obj *o, void *arg), void *arg,
		   int *in_use)
{
	size_t plen = strlen(ops->prefix);
	char path[PATH_MAX];
	struct dirent *d;
	struct handle *h;
	int max = -1, slot, id, err;
	char *end;
	DIR *dir;

	*in_use = 0;
	snprintf(path, sizeof(path), "%s%s", uipc_root(), ops->by_slot ? "" : "/names");
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, ops->prefix, plen))
			continue;
		if (d->d_name[plen] != '.')
			continue;
		slot = (int)strtol(d->d_name + plen + 1, &end, 10);
		if (*end || end == d->d_name + plen + 1 || slot < 0 || slot >= IPC_SLOTS)
			continue;
		id = id_in_slot(ops, slot);
		h = uipc__open_id(ops, id, true, &err);
		if (!h && err == -EINVAL && id >= 0 && !ops->by_slot) {
			uipc__slot_name(path, sizeof(path), ops, slot);
			uipc__unlink_name(path, id);
		}
		if (!h && err != -EACCES)
			continue;
		if (slot > max)
			max = slot;
		++*in_use;
		if (h) {
			if (fn)
				fn(hobj(h), arg);
			uipc__handle_unref(h);
		}
	}
	closedir(dir);
	reap_aside(ops);
	if (!ops->by_slot)
		reap_removed(ops);
	return max;
}
