/*
 * slot_files.c - recycled object files, for the kinds whose files are named
 * by slot (obj_ops.by_slot: shared memory segments).
 *
 * Making a tmpfs file and unlinking it costs more here than the kernel's
 * whole shmget+shmat+shmdt+IPC_RMID (about 6 and 5 us against 10 us), so a
 * by_slot kind's files, <prefix>.<slot> and <prefix>.<slot>.data, outlive
 * their objects: removal empties the data file (fallocate PUNCH_HOLE frees
 * its memory) and leaves the header OBJ_FREE, and the next object created
 * in that slot by the same user takes the files over.  The header's name is
 * the slot's claim (there is no slot name in names/); the id is in the
 * header, so an id whose slot holds a newer object is stale (EINVAL).
 *
 * Which files are recycled: those whose data nobody but their owner could
 * ever open, since whoever opened them may still hold a descriptor: a data
 * file that never granted group or other access.  One whose mode ever did
 * carries S_ISVTX (uipc__data_mode), which only its owner can set and uipc
 * never clears.  Such files are recycled by processes of their owner only
 * (euid = the data file's uid); another user's creator passes the slot by,
 * looking beyond the kernel's window of slots if it must (store.c
 * claim_slot).  Files that may not be recycled are unlinked.
 *
 * Locking: a slot's files change hands under the header's object lock:
 * FREE -> CREATING -> LIVE by a recycler, which holds the lock throughout
 * (settle() takes a CREATING object whose lock is held for one being made),
 * and REMOVED -> FREE by a remover.  By_slot files are unlinked only under
 * that lock, in state REMOVED, and while the header is still linked, so the
 * files of a newer object in the slot are never unlinked.  A recycler killed
 * while CREATING leaves its lock to the kernel (robust): the next opener
 * settles the object as a dead creator's.  A remover killed between REMOVED
 * and FREE leaves REMOVED files, which the next creator reclaims.
 *
 * A process remembers the slots it freed itself (handle->free_bytes) and
 * recycles them through its cached mapping without a system call; it looks
 * at other FREE files (fstat) before it recycles them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

unsigned uipc__data_mode(const struct obj_ops *ops, unsigned mode)
{
	return ops->by_slot && (mode & 077) ? mode | S_ISVTX : mode;
}

/* Is the data file 'st' says one that only its owner could ever open? */
static bool private_data(const struct stat *st)
{
	return S_ISREG(st->st_mode) && !(st->st_mode & (077 | S_ISVTX)) && st->st_size > 0 &&
	       (uint64_t)st->st_size <= MAX_OBJ_SIZE;
}

/* May the caller recycle the data file 'fd': private, and its own? */
static bool data_recyclable(int fd, struct stat *st)
{
	return fstat(fd, st) == 0 && private_data(st) && st->st_uid == uipc__creds()->euid;
}

/* Under the lock, state REMOVED: unlink the files if the header is still h's. */
void uipc__slot_unlink(const struct obj_ops *ops, struct handle *h)
{
	char path[PATH_MAX];
	struct stat st;

	uipc__obj_path(path, sizeof(path), ops, hobj(h)->id);
	if (stat(path, &st) < 0 || st.st_ino != h->ino)
		return;
	uipc__data_path(path, sizeof(path), ops, hobj(h)->id);
	FAULT_STEP();
	unlink(path);
	uipc__obj_path(path, sizeof(path), ops, hobj(h)->id);
	FAULT_STEP();
	unlink(path);
}

/*
 * Free the memory of h's data file: through h's view where it maps the whole
 * file (madvise MADV_REMOVE punches the file itself), else through the file.
 * 'st' describes the file.
 */
static bool punch(const struct obj_ops *ops, struct handle *h, const char *path,
		  const struct stat *st)
{
	size_t hsize = ops->hdr_bytes, len = atomic_load(&h->len);
	char *base = atomic_load(&h->base);
	bool done;
	int fd;

	if (h->data_ino == st->st_ino && len - hsize >= (size_t)st->st_size && st->st_size)
		return madvise(base + hsize, (size_t)st->st_size, MADV_REMOVE) == 0;
	if ((fd = open(path, O_RDWR | OBJ_OPEN)) < 0)
		return false;
	done = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, st->st_size) == 0;
	close(fd);
	return done;
}

/*
 * Under the lock, state REMOVED: free the data file's memory, and leave the
 * files FREE for the next object of the slot if they may be recycled; else
 * unlink them.
 */
void uipc__slot_free(struct handle *h, const struct obj_ops *ops)
{
	char path[PATH_MAX];
	struct stat st;
	bool punched;

	uipc__data_path(path, sizeof(path), ops, hobj(h)->id);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		uipc__slot_unlink(ops, h);
		return;
	}
	punched = punch(ops, h, path, &st);
	if (punched && private_data(&st)) {
		FAULT_STEP();
		atomic_store(&hobj(h)->state, OBJ_FREE);
		/* Remembered for the files' owner only (a root remover's are not). */
		h->free_bytes = st.st_uid == uipc__creds()->euid ? st.st_size : -1;
		h->free_mode = st.st_mode & 0777;
		h->free_uid = st.st_uid;
	} else {
		uipc__slot_unlink(ops, h);
	}
}

/*
 * Make object 'id' in the FREE files of h (this process's, or looked at):
 * under the lock, as uipc__make_fresh and create() would in fresh files.
 * 0 (the object is live), -EBUSY (the files are no longer free), -EAGAIN
 * (another creator gave the id out first), -EEXIST (another creator got the
 * key first), or another error.
 */
static int recycle(const struct obj_ops *ops, struct handle *h, int id, struct newobj *n)
{
	size_t need = (size_t)n->size - ops->hdr_bytes;
	struct uipc_obj *o = hobj(h);
	char path[PATH_MAX], idbuf[16];
	struct stat st;
	unsigned mode;
	int err;

	if (uipc__lock(h) < 0)
		return -EBUSY;
	if (atomic_load(&o->state) != OBJ_FREE) {
		h->free_bytes = -1;
		uipc__unlock(h);
		return -EBUSY;
	}
	/*
	 * Data files only grow: another process may have grown this one since
	 * free_bytes was noted, and views of it reach that far.
	 */
	if ((long long)need > h->free_bytes) {
		uipc__data_path(path, sizeof(path), ops, id);
		if (stat(path, &st) < 0 ||
		    (st.st_size < (off_t)need && truncate(path, (off_t)need) < 0)) {
			uipc__unlock(h);
			return -ENOMEM;
		}
		h->free_bytes = st.st_size > (off_t)need ? st.st_size : (long long)need;
	}
	if (!uipc__commit_id(n, id)) {
		uipc__unlock(h);
		return -EAGAIN;
	}
	FAULT_STEP();
	atomic_store(&o->state, OBJ_CREATING);
	uipc__init_header(ops, o, n);
	o->id = id;
	err = ops->init(o, n->arg);
	if (!err && n->key != IPC_PRIVATE) {
		uipc__key_name(path, sizeof(path), ops, n->key);
		snprintf(idbuf, sizeof(idbuf), "%d", id);
		FAULT_STEP();
		if (symlink(idbuf, path) < 0)
			err = errno == EEXIST ? -EEXIST : -ENOSPC;
	}
	/* The mode last: files that go back FREE were never open to others. */
	mode = uipc__file_mode(&o->perm);
	if (!err && mode != h->free_mode) {
		uipc__obj_path(path, sizeof(path), ops, id);
		chmod(path, mode | 0444);
		uipc__data_path(path, sizeof(path), ops, id);
		chmod(path, uipc__data_mode(ops, mode));
		h->free_mode = mode;
	}
	FAULT_STEP();
	atomic_store(&o->state, err ? OBJ_FREE : OBJ_LIVE);
	if (!err) {
		h->free_bytes = -1;
		h->id = id;
		n->recycled = true;
	}
	uipc__unlock(h);
	return err;
}

/*
 * Look at the files of 'slot' that this process did not free itself:
 * FREE files it may recycle become a cached handle (with a reference).
 * *present: the slot has a header file.  With 'reclaim', REMOVED files
 * and a dead creator's are unlinked, if the caller may, and the slot is
 * then free.
 */
static struct handle *adopt(const struct obj_ops *ops, int slot, bool reclaim, bool *present)
{
	size_t hsize = ops->hdr_bytes;
	struct handle *h = NULL;
	char path[PATH_MAX];
	struct uipc_obj *o;
	struct stat hst, dst;
	uint32_t state;
	int hfd, dfd, err, id;
	size_t len;

	uipc__obj_path(path, sizeof(path), ops, slot);
	hfd = open(path, O_RDWR | OBJ_OPEN);
	*present = hfd >= 0 || errno != ENOENT;
	if (hfd < 0)
		return NULL;
	uipc__data_path(path, sizeof(path), ops, slot);
	dfd = open(path, O_RDWR | OBJ_OPEN);
	if (dfd < 0 || !data_recyclable(dfd, &dst))
		dst.st_size = 0;	/* the header alone, to look at */
	len = hsize + uipc__view_size(ops, dst.st_size);
	o = fstat(hfd, &hst) == 0 && S_ISREG(hst.st_mode) && (size_t)hst.st_size == hsize ?
		    (struct uipc_obj *)uipc__map_view(hfd, len > hsize ? dfd : -1, hsize,
						      len - hsize, true) : NULL;
	if (!o || o->magic != UIPC_MAGIC || o->version != UIPC_VERSION ||
	    o->kind != ops->kind || id_slot(o->id) != slot || o->id < 0 ||
	    !(h = uipc__handle_new(ops->kind, o->id, hst.st_ino, (char *)o, len, true))) {
		if (o)
			munmap(o, len);
		goto out;
	}
	state = atomic_load(&o->state);
	if (state == OBJ_FREE && dst.st_size) {
		h->data_ino = len > hsize ? dst.st_ino : 0;
		h->free_uid = dst.st_uid;
		h->free_bytes = dst.st_size;
		h->free_mode = dst.st_mode & 0777;
		uipc__handle_install(h);
		goto out;
	}
	if (reclaim && state == OBJ_CREATING) {	/* settled if its creator died */
		id = o->id;
		uipc__handle_unref(h);
		h = uipc__open_id(ops, id, true, &err);
	} else if (reclaim && state == OBJ_REMOVED && uipc__lock(h) == 0) {
		if (atomic_load(&o->state) == OBJ_REMOVED)
			uipc__slot_unlink(ops, h);
		uipc__unlock(h);
	}
	if (h)
		uipc__handle_unref(h);
	h = NULL;
	uipc__obj_path(path, sizeof(path), ops, slot);
	*present = access(path, F_OK) == 0 || errno != ENOENT;
out:
	close(hfd);
	if (dfd >= 0)
		close(dfd);
	return h;
}

/* A namespace walk met the files of 'slot': unlink them if they are left over. */
void uipc__slot_reap(const struct obj_ops *ops, int slot)
{
	struct handle *h;
	bool present;

	if ((h = adopt(ops, slot, true, &present)))
		uipc__handle_unref(h);
}

/*
 * Take 'slot' for object 'id': recycle its FREE files, or link n's fresh
 * files (made now if need be) into it if it has none.  0, -EBUSY if the
 * slot is taken, -EAGAIN if another creator gave the id out first, or
 * another error (-EEXIST: another creator got the key).
 */
int uipc__take_slot_file(const struct obj_ops *ops, int slot, int id, struct newobj *n,
			 bool reclaim)
{
	struct handle *h = uipc__handle_of_slot(ops->kind, slot);
	bool present = true;
	uint32_t state;
	int err;

	if (h) {
		state = atomic_load(&hobj(h)->state);
		if (state == OBJ_LIVE || state == OBJ_CREATING) {
			/* Unlinked only after REMOVED: the slot is taken. */
			uipc__handle_unref(h);
			return -EBUSY;
		}
		if (state != OBJ_FREE || h->free_bytes < 0 || h->free_uid != uipc__creds()->euid) {
			uipc__handle_unref(h);
			h = NULL;
		}
	}
	if (!h)
		h = adopt(ops, slot, reclaim, &present);
	if (h) {
		err = recycle(ops, h, id, n);
		uipc__handle_unref(h);
		return err;
	}
	if (present)
		return -EBUSY;
	if (!n->o && (err = uipc__make_fresh(ops, n)) < 0)
		return err;
	n->o->id = id;
	if ((err = uipc__link_files(ops, id, n->hfd, n->dfd)) == 0 && !uipc__commit_id(n, id))
		err = uipc__give_back(ops, id, n);
	return err;
}

/*
 * The id of the object in 'slot' and its state, read from its header
 * without mapping it; -1 with errno ENOENT (no such file) or EINVAL.
 */
int uipc__slot_id(const struct obj_ops *ops, int slot, uint32_t *state)
{
	char path[PATH_MAX];
	struct uipc_obj o;
	bool ok;
	int fd;

	uipc__obj_path(path, sizeof(path), ops, slot);
	if ((fd = open(path, O_RDONLY | OBJ_OPEN)) < 0)
		return -1;
	ok = pread(fd, &o, sizeof(o), 0) == (ssize_t)sizeof(o) && o.magic == UIPC_MAGIC &&
	     o.version == UIPC_VERSION && o.kind == ops->kind && o.id >= 0 &&
	     id_slot(o.id) == slot;
	close(fd);
	if (!ok) {
		errno = EINVAL;
		return -1;
	}
	*state = atomic_load(&o.state);
	return o.id;
}
