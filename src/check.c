/*
 * check.c - uipc check [--repair]: verify every object of the namespace,
 * and make what can be made whole again whole.
 *
 * For each kind, every object file <kind>.<id> in the root (<kind>.<slot>
 * for a kind whose files are recycled, obj_ops.by_slot: FREE files wait
 * for the next object of their slot, and that kind has no slot names):
 *   - it must be a file uipc made: a regular file of the header's size with
 *     the magic, version, kind and id of its name, a data file, and a header
 *     the kind accepts (ops->validate).  Damaged: with repair the object is
 *     removed (marked removed when its header can be trusted that far, so
 *     that processes using it get EIDRM, then its names and files go).
 *   - its state: a creation whose creator died is settled (rolled forward
 *     if it got its key, else back) and a removed object whose files are
 *     still there is unlinked, as the next lookup would do.
 *   - its lock: a holder that died in a call left a change to roll forward
 *     or back; with repair the lock is taken, which recovers (sync.c).
 *   - the kind's invariants (ops->check), verified with the object locked.
 * Then the names: a slot or key name must point to a live object with that
 * slot or key (else it is stale: unlinked), and a live object must have
 * its names (else they are made again).  Last, the namespace file's counts
 * of objects.
 *
 * Without repair nothing is written: an object whose lock holder died is
 * reported and not looked into (taking its lock would recover it).  The
 * check runs while other processes use the objects: the invariants are
 * verified under the objects' locks, and what changes meanwhile (an object
 * created or removed during the walk) is at worst reported once.
 *
 * Locking: the object lock (and the kind's own locks, in ops->check), one
 * object at a time.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

int uipc__check_say(struct check_log *log, const char *fmt, ...)
{
	va_list ap;

	fprintf(log->out, "%s %d: ", log->kind, log->id);
	va_start(ap, fmt);
	vfprintf(log->out, fmt, ap);
	va_end(ap);
	fputc('\n', log->out);
	return 1;
}

/* Did the thread holding robust mutex m die (its change is not recovered)? */
bool uipc__holder_died(pthread_mutex_t *m)
{
	uint32_t v = __atomic_load_n((uint32_t *)&m->__data.__lock, __ATOMIC_RELAXED);
	int tid = (int)(v & FUTEX_TID_MASK);

	return (v & FUTEX_OWNER_DIED) || (tid && kill(tid, 0) < 0 && errno == ESRCH);
}

/* Unlink a file of the root whatever it is (a directory if empty). */
static void remove_path(const char *path)
{
	if (unlink(path) < 0 && errno == EISDIR)
		rmdir(path);
}

/*
 * Remove a damaged object (fd: its header file, or -1 if it cannot be
 * opened): REMOVED if its header is ours that far, so that processes that
 * use it see EIDRM; then its names and files.
 */
static void remove_damaged(const struct obj_ops *ops, int id, int fd)
{
	struct uipc_obj o;
	char path[PATH_MAX];
	bool ours;
	void *map;

	ours = fd >= 0 && pread(fd, &o, sizeof(o), 0) == (ssize_t)sizeof(o) &&
	       o.magic == UIPC_MAGIC && o.kind == ops->kind && o.id == id;
	if (ours && (map = mmap(NULL, sizeof(o), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) !=
			    MAP_FAILED) {
		atomic_store(&((struct uipc_obj *)map)->state, OBJ_REMOVED);
		munmap(map, sizeof(o));
	}
	if (ours && o.key != IPC_PRIVATE) {
		uipc__key_name(path, sizeof(path), ops, o.key);
		uipc__unlink_name(path, id);
	}
	uipc__slot_name(path, sizeof(path), ops, id_slot(id));
	uipc__unlink_name(path, id);
	uipc__data_path(path, sizeof(path), ops, id);
	remove_path(path);
	uipc__obj_path(path, sizeof(path), ops, id);
	remove_path(path);
}

/*
 * The header of object 'id' as its file says, read without mapping or
 * settling anything; false if there is no such uipc object file.
 */
static bool peek(const struct obj_ops *ops, int id, struct uipc_obj *o)
{
	char path[PATH_MAX];
	struct stat st;
	bool ok;
	int fd;

	uipc__obj_path(path, sizeof(path), ops, id);
	if (id < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)) < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == ops->hdr_bytes &&
	     pread(fd, o, sizeof(*o), 0) == (ssize_t)sizeof(*o) && o->magic == UIPC_MAGIC &&
	     o->version == UIPC_VERSION && o->kind == ops->kind && o->id == id;
	close(fd);
	return ok;
}

/* What is wrong with object file 'fd' (of object 'id'), or NULL. */
static const char *file_damage(const struct obj_ops *ops, int id, int fd, struct uipc_obj *o)
{
	char path[PATH_MAX];
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return "not a regular file";
	if ((size_t)st.st_size != ops->hdr_bytes)
		return "not of a header's size";
	if (pread(fd, o, sizeof(*o), 0) != (ssize_t)sizeof(*o) || o->magic != UIPC_MAGIC)
		return "not a uipc object";
	if (o->version != UIPC_VERSION || o->kind != ops->kind || o->id != id)
		return "of another version, kind or id";
	uipc__data_path(path, sizeof(path), ops, id);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return "its data file is missing";
	return NULL;
}

struct walk {
	struct check_log *log;
	int live;				/* objects found live */
};

/* Check object 'id' of a kind; count it in w->live if it is live. */
static void check_object(const struct obj_ops *ops, int id, struct walk *w)
{
	struct check_log *log = w->log;
	const char *damage;
	char path[PATH_MAX];
	struct uipc_obj o;
	struct handle *h;
	int fd, err, found;

	log->id = id;
	uipc__obj_path(path, sizeof(path), ops, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return;		/* removed meanwhile */
		if (errno != ELOOP && errno != ENXIO) {	/* not a symbolic link, a socket */
			uipc__check_say(log, "cannot be opened (%s): not checked", strerror(errno));
			return;
		}
		log->problems += uipc__check_say(log, "not a regular file%s",
						 log->repair ? ": removed" : "");
		if (log->repair)
			remove_damaged(ops, id, -1);
		return;
	}
	/* A by_slot kind's file is named by slot: the id is the header's. */
	if (ops->by_slot && pread(fd, &o, sizeof(o), 0) == (ssize_t)sizeof(o) && o.id >= 0 &&
	    id_slot(o.id) == id)
		log->id = id = o.id;
	if ((damage = file_damage(ops, id, fd, &o))) {
		log->problems += uipc__check_say(log, "%s%s", damage,
						 log->repair ? ": removed" : "");
		if (log->repair)
			remove_damaged(ops, id, fd);
		close(fd);
		return;
	}
	if (atomic_load(&o.state) == OBJ_CREATING && flock(fd, LOCK_EX | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		close(fd);
		log->problems += uipc__check_say(log, "its creator died while making it%s",
						 log->repair ? ": settled" : "");
		if (!log->repair) {
			/* It counts if it will live: its key name is its own. */
			uipc__key_name(path, sizeof(path), ops, o.key);
			w->live += o.key != IPC_PRIVATE && uipc__read_id(path) == id;
			return;
		}
		if ((h = uipc__open_id(ops, id, true, &err)))	/* settles */
			uipc__handle_unref(h);
	} else if (atomic_load(&o.state) == OBJ_FREE && ops->by_slot) {
		close(fd);	/* files waiting for the next object of the slot */
		return;
	} else if (atomic_load(&o.state) == OBJ_REMOVED) {
		log->problems += uipc__check_say(log, "removed, but its files are still there%s",
						 log->repair ? ": unlinked" : "");
		if (log->repair)
			uipc__unlink_names(ops, id, IPC_PRIVATE, fd);
		close(fd);
		return;
	} else {
		close(fd);
	}
	if (atomic_load(&o.state) == OBJ_CREATING && !log->repair)
		return;		/* being made: its creator is alive */
	h = uipc__open_id(ops, id, false, &err);
	if (!h) {
		if (err == -EINVAL && (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
			if (pread(fd, &o, sizeof(o), 0) == (ssize_t)sizeof(o) &&
			    atomic_load(&o.state) == OBJ_LIVE) {
				log->problems += uipc__check_say(log, "its header is damaged%s",
								 log->repair ? ": removed" : "");
				if (log->repair)
					remove_damaged(ops, id, fd);
			}
			close(fd);
		} else if (err == -EACCES) {
			w->live++;
			uipc__check_say(log, "not readable by this user: not checked");
		}
		return;
	}
	w->live++;
	if (uipc__holder_died(&hobj(h)->lock)) {
		log->problems += uipc__check_say(log, "its lock holder died in a call%s",
						 log->repair ? ": its change was rolled forward or back" :
						 ": its change is rolled forward or back at the next use");
		if (!log->repair) {
			uipc__handle_unref(h);
			return;
		}
	}
	if (uipc__lock(h) < 0) {
		log->problems += uipc__check_say(log, "its lock is damaged%s",
						 log->repair ? ": removed" : "");
		if (log->repair && (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
			remove_damaged(ops, id, fd);
			close(fd);
		}
		uipc__handle_unref(h);
		return;
	}
	found = ops->check(h, log);
	if (found < 0) {
		log->problems++;
		uipc__check_say(log, "beyond repair%s", log->repair ? ": removed" : "");
		if (log->repair) {
			uipc__remove(h, ops);	/* unlocks */
			uipc__handle_unref(h);
			return;
		}
	}
	log->problems += found > 0 ? found : 0;
	uipc__unlock(h);
	uipc__handle_unref(h);
}

/* An object is <prefix>.<id>: its id, or -1 for another name. */
static int object_id(const struct obj_ops *ops, const char *name)
{
	size_t plen = strlen(ops->prefix);
	char *end;
	long id;

	if (strncmp(name, ops->prefix, plen) || name[plen] != '.')
		return -1;
	id = strtol(name + plen + 1, &end, 10);
	return *end || end == name + plen + 1 || id < 0 || id > INT_MAX ? -1 : (int)id;
}

/*
 * A name: <prefix>.<slot> or <prefix>key.<8 hex digits>.  Stale when it
 * does not point to a live object with that slot or key.
 */
static void check_name(const struct obj_ops *ops, const char *name, struct check_log *log)
{
	size_t plen = strlen(ops->prefix);
	char path[PATH_MAX], *end;
	bool is_key = !strncmp(name + plen, "key.", 4);
	struct uipc_obj o;
	long long which;
	bool stale;
	int id;

	if (strncmp(name, ops->prefix, plen))
		return;
	if (uipc__aside_name_dead(name)) {
		log->id = -1;
		log->problems += uipc__check_say(log, "the name %s was left by a remover that died%s",
						 name, log->repair ? ": unlinked" : "");
		snprintf(path, sizeof(path), "%s/names/%s", uipc_root(), name);
		if (log->repair)
			unlink(path);
		return;
	}
	if (!is_key && name[plen] != '.')
		return;
	which = strtoll(name + plen + (is_key ? 4 : 1), &end, is_key ? 16 : 10);
	if (*end)
		return;		/* a remover's name in passing */
	snprintf(path, sizeof(path), "%s/names/%s", uipc_root(), name);
	id = uipc__read_id(path);
	stale = !peek(ops, id, &o) || atomic_load(&o.state) == OBJ_REMOVED ||
		atomic_load(&o.state) == OBJ_FREE ||
		(is_key ? (long long)(unsigned)o.key != which :
			  ops->by_slot || id_slot(id) != which);
	if (!stale)
		return;
	log->id = id;
	log->problems += uipc__check_say(log, "the name %s is stale%s", name,
					 log->repair ? ": unlinked" : "");
	if (log->repair)
		uipc__unlink_name(path, id);
}

/* A live object's slot and key names must point to it. */
static void check_names_of(const struct obj_ops *ops, int id, struct check_log *log)
{
	char path[PATH_MAX], idbuf[16];
	struct uipc_obj o;
	key_t key;

	if (!peek(ops, id, &o) || atomic_load(&o.state) != OBJ_LIVE)
		return;
	key = o.key;
	log->id = id;
	snprintf(idbuf, sizeof(idbuf), "%d", id);
	uipc__slot_name(path, sizeof(path), ops, id_slot(id));
	if (!ops->by_slot && uipc__read_id(path) != id) {
		log->problems += uipc__check_say(log, "its slot name is missing%s",
						 log->repair ? ": made again" : "");
		if (log->repair)
			(void)!symlink(idbuf, path);
	}
	if (key == IPC_PRIVATE)
		return;
	uipc__key_name(path, sizeof(path), ops, key);
	if (uipc__read_id(path) != id) {
		log->problems += uipc__check_say(log, "its key name is missing%s",
						 log->repair ? ": made again" : "");
		if (log->repair)
			(void)!symlink(idbuf, path);
	}
}

static void check_kind(const struct obj_ops *ops, struct check_log *log)
{
	char path[PATH_MAX];
	struct ns_file *ns = uipc__ns();
	struct walk w = { log, 0 };
	uint32_t state;
	struct dirent *d;
	int id, n = 0, max = 0, i;
	int *ids = NULL, *more;
	DIR *dir;

	log->kind = ops->prefix;
	if ((dir = opendir(uipc_root()))) {
		while ((d = readdir(dir))) {
			if ((id = object_id(ops, d->d_name)) < 0)
				continue;
			if (n == max) {
				max = max ? 2 * max : 64;
				if (!(more = realloc(ids, (size_t)max * sizeof(*ids))))
					break;
				ids = more;
			}
			ids[n++] = id;
		}
		closedir(dir);
	}
	for (i = 0; i < n; i++)
		check_object(ops, ids[i], &w);
	snprintf(path, sizeof(path), "%s/names", uipc_root());
	if ((dir = opendir(path))) {
		while ((d = readdir(dir)))
			check_name(ops, d->d_name, log);
		closedir(dir);
	}
	for (i = 0; i < n; i++)
		check_names_of(ops, ops->by_slot ? uipc__slot_id(ops, ids[i], &state) : ids[i], log);
	free(ids);
	log->id = -1;
	if (ns && atomic_load(&ns->kinds[ops->kind].in_use) != w.live) {
		log->problems += uipc__check_say(log, "the namespace counts %lld objects, there are %d%s",
						 (long long)atomic_load(&ns->kinds[ops->kind].in_use),
						 w.live, log->repair ? ": set" : "");
		if (log->repair)
			atomic_store(&ns->kinds[ops->kind].in_use, w.live);
	}
}

/*
 * Check (and with repair, mend) the whole namespace, printing a line per
 * finding on 'out' (a FILE).  Returns the number of problems found.
 */
int uipc__check(bool repair, void *out)
{
	struct check_log log = { repair, out, "", -1, 0 };
	int k;

	for (k = 0; k < KIND_COUNT; k++)
		check_kind(uipc__ops((enum uipc_kind)k), &log);
	return log.problems;
}
