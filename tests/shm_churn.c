/*
 * shm_churn.c - segments made and removed, their files recycled
 * (src/slot_files.c), by processes killed at any instruction: a new segment
 * is all zeros, whatever segment its files held before and however that
 * one's owner died, and the dead leave nothing behind.
 *
 * Design.  NWORK worker processes loop: each holds up to HOLD segments and
 * at random makes one or retires one.  Making: shmget of 1 to 5 pages (half
 * the time not a whole number of pages), IPC_PRIVATE or, one time in four,
 * one of NKEYS keys with IPC_CREAT | IPC_EXCL (EEXIST: another worker has
 * it), mode 0600 or, one time in sixteen, 0644 (files that must be unlinked
 * at removal, never recycled); shmat, sometimes read-only first (through
 * the data file rather than the handle's view); every byte of the attached
 * pages, the whole last page too, must be 0, else the worker records a
 * violation (id, slot, offset, byte); then it fills the pages with a
 * pattern of the id and sometimes attaches a second time (the pattern must
 * show there).  Retiring: the pattern must still be in every attachment
 * (nobody else wrote the segment); then either detach and IPC_RMID, or
 * IPC_RMID while attached (IPC_STAT shows SHM_DEST, the attachments, no
 * key) and detach (the last shmdt removes it).  After that the id is
 * invalid (IPC_STAT: EINVAL; ids are not used again so soon), the key no
 * longer names it, and a 0644 segment's data file is gone (a file in its
 * slot is a new one: another inode).  Nor is a 0600 segment ever made in a
 * data file once open to others: the workers note the inodes of those of
 * 0644 segments, and after a shmget of one that failed with EEXIST, of
 * those it may have left (they look at the root).  A worker keeps, in a
 * MAP_SHARED region, the call it is in and the ids it holds, each marked
 * "being removed" before its removal starts.
 *
 * The parent SIGKILLs a worker at random moments, UIPC_CRASH_KILLS times
 * (default 300; more for a longer run): half the time the first one it sees
 * in IPC_RMID or shmdt (where the memory is freed and the files left FREE),
 * a quarter of the time one in shmget (where files are recycled), else any;
 * sometimes two or three at once.  It reaps them, starts new ones (crash.h)
 * and removes what the dead left: IPC_RMID of each id a dead worker held
 * must succeed (or give EINVAL if it was removing it) and leave IPC_STAT
 * with EINVAL (a dead process's attachments no longer count); walks of
 * SHM_INFO and SHM_STAT remove the segments whose shm_cpid is a dead
 * worker's that it did not hold: at most one, made by a shmget it was
 * killed in.
 *
 * End.  The workers stop, retiring their segments (one still there after
 * END_BOUND seconds hangs).  Then nothing may be left: the walk finds no
 * segment, SHM_INFO counts none, no key names one, no key name is left in
 * names/ once each key was looked up (a remover killed may leave a stale
 * one, which the next lookup unlinks), and every shm.* file of the root is
 * a FREE header (state word 4) with its data file, or a data file without
 * a block that never granted access to others, with its header.
 * `$B/uipc check` (skipped without B) finds no problem but the namespace's
 * count of segments, which each death may leave off by one (store.c
 * claim_slot).  Last, the parent makes and removes FINAL segments: all
 * zero-filled, most in the free files the workers left.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "uipc.h"
#include "t.h"

#define NWORK 4			/* worker processes at any time */
#define CRASH_SLOTS NWORK
#include "crash.h"

#define PAGE 4096
#define MAX_PAGES 5
#define HOLD 2			/* segments a worker holds at most */
#define NKEYS 8
#define KEY_BASE 0x5c4e0000
#define SLOTS 32768		/* slot = id % SLOTS */
#define TRACK 1024		/* slots whose data file's inode is followed */
#define FREE_STATE 4		/* OBJ_FREE: the word at byte 8 of a header */
#define MAX_VIOL 16
#define AVG_KILL_US 35000	/* mean time between two kills */
#define WATCH_US 2000		/* how long the killer watches for its victim */
#define END_BOUND 10		/* seconds: hang detector of the end */
#define FINAL 200		/* segments the parent makes at the end */
#define TOOL_LINES 20		/* lines of uipc check shown, and its summary */

/* Where a worker is: the call it is in, or W_IDLE between calls. */
enum where { W_IDLE, W_GET, W_AT, W_DT, W_RMID, W_STAT, W_COUNT };
static const char *where_name[W_COUNT] = { "between calls", "in shmget", "in shmat",
					   "in shmdt", "in IPC_RMID", "in IPC_STAT" };

enum held_state { H_LIVE = 1, H_REMOVING };

struct held {
	_Atomic int id;		/* -1: none */
	_Atomic int state;	/* enum held_state */
};

struct inc {			/* one incarnation of a worker */
	struct incarnation rec;	/* only 'killed' is used */
	_Atomic int where;
	struct held held[HOLD];
};

struct violation {
	int id, pid, recycled;
	size_t size, off;
	unsigned byte;
};

struct shared {
	_Atomic int stop;
	_Atomic long made, recycled, keyed, eexist, open, deferred, twice, rdonly;
	_Atomic int nviol;
	struct violation viol[MAX_VIOL];
	_Atomic uint64_t ino[TRACK];	/* the data inode last seen in each slot */
	_Atomic uint64_t opened[TRACK];	/* ... and the last seen open to others */
	struct worker_errors errs;
	struct inc inc[];		/* [max_inc] */
};

static struct shared *sh;
static int max_inc;
static pid_t parent_pid;

static int slot_of(int id)
{
	return id % SLOTS;
}

/* The inode of the data file of 'slot', 0 if there is none. */
static ino_t data_ino(int slot)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/shm.%d.data", uipc_root(), slot);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Byte 'off' of segment 'id' as its owner fills it: never 0. */
static unsigned char pattern(int id, size_t off)
{
	return (unsigned char)(0x80 | (((unsigned)id * 13 + off) & 0x7f));
}

static void fill(unsigned char *p, size_t size, int id)
{
	for (size_t i = 0; i < size; i++)
		p[i] = pattern(id, i);
}

/* The offset of the first byte of p[0..size) (whole pages) not 0, or size. */
static size_t first_nonzero(const unsigned char *p, size_t size)
{
	static const unsigned char zero[PAGE];

	for (size_t off = 0; off < size; off += PAGE)
		if (memcmp(p + off, zero, PAGE))
			for (size_t i = off;; i++)
				if (p[i])
					return i;
	return size;
}

/* The offset of the first byte of p[0..size) not segment id's pattern, or size. */
static size_t first_wrong(const unsigned char *p, size_t size, int id)
{
	for (size_t i = 0; i < size; i++)
		if (p[i] != pattern(id, i))
			return i;
	return size;
}

/*
 * Note in sh->opened[] the data files of the root open to others: those of
 * 0644 segments, and those a failed shmget of one may have left.
 */
static void note_opened(void)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	int slot, len;
	DIR *d = opendir(uipc_root());

	while (d && (e = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", uipc_root(), e->d_name);
		len = 0;
		if (sscanf(e->d_name, "shm.%d.data%n", &slot, &len) == 1 && len && slot >= 0 &&
		    slot < TRACK && stat(path, &st) == 0 && (st.st_mode & (077 | S_ISVTX)))
			atomic_store(&sh->opened[slot], st.st_ino);
	}
	if (d)
		closedir(d);
}

/* ---- the workers ---- */

struct seg {			/* a segment the worker holds */
	int id, mode, nat;
	key_t key;
	size_t size;		/* whole pages */
	unsigned char *at[2];	/* its attachments */
};

static struct inc *me;
static struct seg mine[HOLD];

static void set_where(enum where w)
{
	atomic_store(&me->where, w);
}

static void violation(const struct seg *s, size_t off, unsigned byte, bool recycled)
{
	int i = atomic_fetch_add(&sh->nviol, 1);

	if (i < MAX_VIOL)
		sh->viol[i] = (struct violation){ s->id, (int)getpid(), recycled, s->size, off, byte };
}

/* Attach s once more (flags: 0 or SHM_RDONLY); NULL on failure. */
static unsigned char *attach(struct seg *s, int flags)
{
	unsigned char *p;

	set_where(W_AT);
	p = uipc_shmat(s->id, NULL, flags);
	set_where(W_IDLE);
	if (p == (void *)-1) {
		werr("shmat(%d, %#o): %s", s->id, flags, strerror(errno));
		return NULL;
	}
	s->at[s->nat++] = p;
	return p;
}

static void detach_all(struct seg *s)
{
	set_where(W_DT);
	for (int i = 0; i < s->nat; i++)
		if (uipc_shmdt(s->at[i]) != 0)
			werr("shmdt of segment %d: %s", s->id, strerror(errno));
	s->nat = 0;
	set_where(W_IDLE);
}

static void make(int k)
{
	struct seg *s = &mine[k];
	size_t pages = 1 + rnd() % MAX_PAGES;
	size_t bytes = pages * PAGE - (rnd() % 2 ? rnd() % PAGE : 0), off;
	key_t key = rnd() % 4 ? IPC_PRIVATE : (key_t)(KEY_BASE + rnd() % NKEYS);
	int mode = rnd() % 16 ? 0600 : 0644, id, slot;
	unsigned char *p, *q;
	bool recycled;
	ino_t ino;

	set_where(W_GET);
	id = uipc_shmget(key, bytes, IPC_CREAT | (key == IPC_PRIVATE ? 0 : IPC_EXCL) | mode);
	if (id < 0) {
		set_where(W_IDLE);
		if (key != IPC_PRIVATE && errno == EEXIST) {
			atomic_fetch_add(&sh->eexist, 1);
			if (mode & 077)
				note_opened();
		} else {
			werr("shmget(%#x, %zu, %#o): %s", (unsigned)key, bytes, (unsigned)mode,
			     strerror(errno));
		}
		return;
	}
	atomic_store(&me->held[k].state, H_LIVE);
	atomic_store(&me->held[k].id, id);
	set_where(W_IDLE);
	*s = (struct seg){ .id = id, .mode = mode, .key = key, .size = pages * PAGE };
	slot = slot_of(id);
	ino = data_ino(slot);
	recycled = slot < TRACK && ino && atomic_exchange(&sh->ino[slot], ino) == ino;
	if (slot < TRACK && ino && (mode & 077))
		atomic_store(&sh->opened[slot], ino);
	else if (slot < TRACK && ino && atomic_load(&sh->opened[slot]) == ino)
		werr("segment %d, mode %#o, made in the files of slot %d, which were open to "
		     "others (inode %lu)", id, (unsigned)mode, slot, (unsigned long)ino);
	atomic_fetch_add(&sh->made, 1);
	atomic_fetch_add(&sh->recycled, recycled);
	atomic_fetch_add(&sh->keyed, key != IPC_PRIVATE);
	atomic_fetch_add(&sh->open, mode == 0644);

	/* The first attachment shows the new pages: read-only one time in four. */
	if (rnd() % 4 == 0 && attach(s, SHM_RDONLY))
		atomic_fetch_add(&sh->rdonly, 1);
	if (!(p = attach(s, 0)))
		return;
	off = first_nonzero(s->at[0], s->size);
	if (off < s->size)
		violation(s, off, s->at[0][off], recycled);
	fill(p, s->size, id);
	if (s->nat == 1 && rnd() % 4 == 0 && (q = attach(s, 0))) {
		atomic_fetch_add(&sh->twice, 1);
		if ((off = first_wrong(q, s->size, id)) < s->size)
			werr("segment %d attached twice: byte %zu is %#x in the second "
			     "attachment, %#x in the first", id, off, q[off], p[off]);
	}
}

static void retire(int k)
{
	struct seg *s = &mine[k];
	bool deferred = s->nat && rnd() % 3 == 0;
	ino_t ino = s->mode & 077 ? data_ino(slot_of(s->id)) : 0;
	struct shmid_ds ds;
	size_t off;

	for (int i = 0; i < s->nat; i++)
		if ((off = first_wrong(s->at[i], s->size, s->id)) < s->size)
			werr("segment %d (slot %d): byte %zu of attachment %d is %#x, not the "
			     "%#x its owner wrote", s->id, slot_of(s->id), off, i, s->at[i][off],
			     pattern(s->id, off));
	if (!deferred)
		detach_all(s);
	atomic_store(&me->held[k].state, H_REMOVING);
	set_where(W_RMID);
	if (uipc_shmctl(s->id, IPC_RMID, NULL) != 0)
		werr("IPC_RMID of segment %d: %s", s->id, strerror(errno));
	if (deferred) {
		atomic_fetch_add(&sh->deferred, 1);
		set_where(W_STAT);
		if (uipc_shmctl(s->id, IPC_STAT, &ds) != 0)
			werr("IPC_STAT of segment %d, removed while attached: %s", s->id,
			     strerror(errno));
		else if (!(ds.shm_perm.mode & SHM_DEST) || ds.shm_nattch != (shmatt_t)s->nat ||
			 ds.shm_perm.__key != IPC_PRIVATE)
			werr("segment %d removed while attached %d times: mode %#o, nattch %lu, "
			     "key %#x", s->id, s->nat, (unsigned)ds.shm_perm.mode,
			     (unsigned long)ds.shm_nattch, (unsigned)ds.shm_perm.__key);
		detach_all(s);
	}
	set_where(W_STAT);
	if (uipc_shmctl(s->id, IPC_STAT, &ds) == 0)
		werr("segment %d, removed, is there: %zu bytes, made by %s (pid %d), nattch %lu",
		     s->id, (size_t)ds.shm_segsz, ds.shm_cpid == getpid() ? "its owner" : "another",
		     (int)ds.shm_cpid, (unsigned long)ds.shm_nattch);
	else if (errno != EINVAL)
		werr("IPC_STAT of segment %d after its removal: %s", s->id, strerror(errno));
	if (s->key != IPC_PRIVATE && uipc_shmget(s->key, 0, 0) == s->id)
		werr("key %#x still names removed segment %d", (unsigned)s->key, s->id);
	set_where(W_IDLE);
	if (ino && data_ino(slot_of(s->id)) == ino)
		werr("segment %d, mode %#o, removed: its data file (inode %lu) was kept",
		     s->id, (unsigned)s->mode, (unsigned long)ino);
	atomic_store(&me->held[k].id, -1);
	s->id = -1;
}

static void __attribute__((noreturn)) worker_main(int n)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)	/* it died before the prctl */
		_exit(1);
	me = &sh->inc[n];
	rng_state = mix64(((uint64_t)getpid() << 20) ^ (uint64_t)n) | 1;
	for (int k = 0; k < HOLD; k++)
		mine[k].id = -1;
	while (!atomic_load(&sh->stop)) {
		int k = (int)(rnd() % HOLD);

		if (mine[k].id >= 0)
			retire(k);
		else
			make(k);
	}
	for (int k = 0; k < HOLD; k++)
		if (mine[k].id >= 0)
			retire(k);
	_exit(0);
}

/* ---- the parent ---- */

struct dead {			/* a worker gone, whose orphans are not yet looked for */
	pid_t pid;
	int n, where, orphans;
};

static struct dead dead[CRASH_SLOTS * 3];
static int ndead, next_inc, nremoved, norphans;
static int kills_at[W_COUNT];

static void spawn(int slot)
{
	struct inc *in;

	if (next_inc >= max_inc) {
		ids_exhausted = 1;
		wpid[slot] = 0;
		return;
	}
	in = &sh->inc[next_inc];
	memset(in, 0, sizeof(*in));
	in->rec.slot = slot;
	for (int k = 0; k < HOLD; k++)
		atomic_store(&in->held[k].id, -1);
	start_worker(slot, next_inc++, &in->rec, worker_main);
}

/*
 * The worker of 'slot' is gone (status st): the segments it held must be
 * there, unless it was removing them, and go with IPC_RMID; the walk for
 * segments it made but did not hold yet is left to remove_orphans().
 */
static void worker_gone(int slot, int st)
{
	struct inc *in = &sh->inc[wid[slot]];
	int w = atomic_load(&in->where), killed = 0;
	pid_t pid = wpid[slot];
	struct shmid_ds ds;

	wpid[slot] = 0;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && atomic_load(&in->rec.killed)) {
		killed = 1;
		nkills++;
		kills_at[w]++;
	} else if (WIFSIGNALED(st)) {
		T_FAIL("worker %d (pid %d) died %s: signal %d (%s)", wid[slot], (int)pid,
		       where_name[w], WTERMSIG(st), strsignal(WTERMSIG(st)));
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		T_FAIL("worker %d (pid %d) died %s: status %#x", wid[slot], (int)pid,
		       where_name[w], st);
	}
	for (int k = 0; k < HOLD; k++) {
		int id = atomic_load(&in->held[k].id);
		int removing = atomic_load(&in->held[k].state) == H_REMOVING;

		if (id < 0)
			continue;
		if (!killed)
			T_FAIL("worker %d (pid %d) ended holding segment %d", wid[slot], (int)pid, id);
		if (uipc_shmctl(id, IPC_RMID, NULL) == 0)
			nremoved++;
		else if (!removing || errno != EINVAL)
			T_FAIL("IPC_RMID of segment %d, which dead worker %d (pid %d, killed %s) "
			       "held%s: %s", id, wid[slot], (int)pid, where_name[w],
			       removing ? " and was removing" : "", strerror(errno));
		if (uipc_shmctl(id, IPC_STAT, &ds) == 0)
			T_FAIL("segment %d of dead worker %d (pid %d) still there after IPC_RMID: "
			       "nattch %lu, mode %#o", id, wid[slot], (int)pid,
			       (unsigned long)ds.shm_nattch, (unsigned)ds.shm_perm.mode);
		else if (errno != EINVAL)
			T_FAIL("segment %d of dead worker %d (pid %d): IPC_STAT after IPC_RMID: %s",
			       id, wid[slot], (int)pid, strerror(errno));
	}
	if (ndead < (int)(sizeof(dead) / sizeof(dead[0])))
		dead[ndead++] = (struct dead){ pid, wid[slot], w, 0 };
	else
		T_FAIL("too many deaths between two walks");
}

/*
 * Walk the segments (SHM_INFO for the highest index, SHM_STAT of each) and
 * remove those that match: made by a worker in dead[], or all if 'all'.
 * Returns how many were removed.
 */
static int walk_remove(bool all)
{
	struct shm_info info;
	struct shmid_ds ds;
	int max = uipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&info), n = 0, id, j;

	if (max < 0)
		T_FAIL("SHM_INFO: %s", strerror(errno));
	for (int i = 0; i <= max; i++) {
		if ((id = uipc_shmctl(i, SHM_STAT, &ds)) < 0) {
			if (errno != EINVAL && errno != EIDRM)
				T_FAIL("SHM_STAT %d: %s", i, strerror(errno));
			continue;
		}
		for (j = 0; j < ndead && dead[j].pid != ds.shm_cpid; j++)
			;
		if (!all && j == ndead)
			continue;
		if (j < ndead)
			dead[j].orphans++;
		if (all)
			printf("# left: segment %d (index %d) of %zu bytes, made by pid %d, nattch "
			       "%lu, mode %#o\n", id, i, (size_t)ds.shm_segsz, (int)ds.shm_cpid,
			       (unsigned long)ds.shm_nattch, (unsigned)ds.shm_perm.mode);
		if (uipc_shmctl(id, IPC_RMID, NULL) == 0)
			n++;
		else
			T_FAIL("IPC_RMID of segment %d: %s", id, strerror(errno));
	}
	return n;
}

/*
 * After the deaths: remove the segments the dead made and did not hold,
 * at most one each, made by the shmget it was killed in.  Twice: a walk
 * may meet a dead creator's segment still CREATING and roll it forward
 * (its key name was made), after SHM_INFO had counted the segments.
 */
static void remove_orphans(void)
{
	if (!ndead)
		return;
	norphans += walk_remove(false);
	norphans += walk_remove(false);
	for (int j = 0; j < ndead; j++)
		if (dead[j].orphans > (dead[j].where == W_GET))
			T_FAIL("dead worker %d (pid %d, %s) left %d segments it did not hold",
			       dead[j].n, (int)dead[j].pid, where_name[dead[j].where],
			       dead[j].orphans);
	ndead = 0;
}

/* Is the worker of 'slot' in IPC_RMID or shmdt (mode 1), or in shmget (mode 2)? */
static int fits(int slot, int mode)
{
	int w = atomic_load(&sh->inc[wid[slot]].where);

	return (mode == 1 && (w == W_RMID || w == W_DT)) || (mode == 2 && w == W_GET);
}

/*
 * A live worker that fits(slot, mode), SIGKILLed as soon as one is seen
 * (watched for up to WATCH_US), else any; -1 if none lives.
 */
static int kill_one(int mode)
{
	double end = now() + WATCH_US / 1e6;
	int s;

	do {
		for (s = 0; s < NWORK; s++)
			if (wpid[s] && !atomic_load(&sh->inc[wid[s]].rec.killed) && fits(s, mode))
				break;
	} while (mode && s == NWORK && now() < end);
	if (s == NWORK)
		s = pick_slot(0, fits);
	if (s >= 0 && !atomic_load(&sh->inc[wid[s]].rec.killed)) {
		atomic_store(&sh->inc[wid[s]].rec.killed, 1);
		kill(wpid[s], SIGKILL);
	}
	return s;
}

/*
 * The killer: until 'target' kills, sleeps 0..2*AVG_KILL_US, then kills one
 * worker (sometimes two or three): half the time one in IPC_RMID or shmdt,
 * a quarter of the time one in shmget, else any; reaps them, removes what
 * they left and starts new workers.  Returns the seconds it took.
 */
static double kill_workers_now(long target)
{
	double t0 = now();
	int victim[3], nv, st;

	reap(1);
	while (nkills < target && !ids_exhausted) {
		usleep((useconds_t)(rnd() % (2 * AVG_KILL_US)));
		reap(1);
		nv = rnd() % 8 ? 1 : 2 + (int)(rnd() % 2);
		for (int i = 0; i < nv; i++)
			victim[i] = kill_one(rnd() % 2 ? 1 : (int)(rnd() % 2) * 2);
		for (int i = 0; i < nv; i++)
			if (victim[i] >= 0 && wpid[victim[i]] &&
			    waitpid(wpid[victim[i]], &st, 0) == wpid[victim[i]])
				worker_gone(victim[i], st);
		remove_orphans();
		reap(1);
	}
	return now() - t0;
}

/*
 * The shm.* files of the root: FREE headers with their data files, data
 * files with their headers, without a block, that never granted access to
 * others.  fino[slot] gets the data inodes (slots below TRACK).  Returns
 * the number of files.
 */
static int check_files(ino_t *fino)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	uint32_t state;
	int slot, len, nfiles = 0, fd;
	DIR *d = opendir(uipc_root());

	if (!d) {
		T_FAIL("opendir %s: %s", uipc_root(), strerror(errno));
		return 0;
	}
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "shm.", 4))
			continue;
		nfiles++;
		len = 0;
		if (sscanf(e->d_name, "shm.%d%n", &slot, &len) != 1 || slot < 0 || slot >= SLOTS ||
		    (e->d_name[len] && strcmp(e->d_name + len, ".data"))) {
			T_FAIL("%s: a file uipc does not make", e->d_name);
			continue;
		}
		snprintf(path, sizeof(path), "%s/shm.%d.data", uipc_root(), slot);
		if (lstat(path, &st) < 0) {
			T_FAIL("%s: no data file", e->d_name);
			continue;
		}
		if (e->d_name[len]) {
			if (st.st_blocks)
				T_FAIL("%s: %ld blocks of memory", e->d_name, (long)st.st_blocks);
			if (!S_ISREG(st.st_mode) || (st.st_mode & (077 | S_ISVTX)))
				T_FAIL("%s: mode %#o, kept", e->d_name, (unsigned)st.st_mode);
			if (fino && slot < TRACK)
				fino[slot] = st.st_ino;
			snprintf(path, sizeof(path), "%s/shm.%d", uipc_root(), slot);
			if (access(path, F_OK))
				T_FAIL("%s: no header", e->d_name);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", uipc_root(), e->d_name);
		if ((fd = open(path, O_RDONLY)) < 0 ||
		    pread(fd, &state, sizeof(state), 8) != (ssize_t)sizeof(state))
			T_FAIL("%s: unreadable: %s", e->d_name, strerror(errno));
		else if (state != FREE_STATE)
			T_FAIL("%s: state %u, not FREE (%d)", e->d_name, state, FREE_STATE);
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	return nfiles;
}

/* No key name of a segment left in names/. */
static void check_names(void)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/names", uipc_root());
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "shm", 3))
			T_FAIL("names/%s left", e->d_name);
	closedir(d);
}

/* SHM_INFO counts no segment. */
static void check_none(void)
{
	struct shm_info info;

	memset(&info, 0xff, sizeof(info));
	CHECK(uipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&info) >= 0);
	CHECK_EQ(info.used_ids, 0);
	CHECK_EQ(info.shm_tot, 0);
	CHECK_EQ(info.shm_rss, 0);
}

/*
 * `$B/uipc check` on the root: no problem, but for the namespace's count of
 * segments, which each death may leave off by one (store.c claim_slot);
 * exit 0, or 1 for that count alone.
 */
static void tool_check(void)
{
	const char *b = getenv("B"), *c;
	char path[PATH_MAX], line[1024];
	int fds[2], st = -1, found = -1, there, counts = 0, others = 0;
	long long counted, off = 0;
	FILE *f;
	pid_t pid;

	if (!b || !*b) {
		printf("# B unset: uipc check skipped\n");
		return;
	}
	t_case("shm_churn check clean");
	snprintf(path, sizeof(path), "%s/uipc", b);
	if (pipe(fds)) {
		T_FAIL("pipe: %s", strerror(errno));
		t_done();
		return;
	}
	fflush(stdout);
	if ((pid = fork_or_exit()) == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execl(path, "uipc", "check", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	if ((f = fdopen(fds[0], "r"))) {
		while (fgets(line, sizeof(line), f)) {
			if ((c = strstr(line, "the namespace counts ")) &&
			    sscanf(c, "the namespace counts %lld objects, there are %d", &counted,
				   &there) == 2) {
				off = counted - there;
				counts++;
			} else if (strncmp(line, "uipc check: ", 12) || !(c = strrchr(line, ':')) ||
				   sscanf(c, ": %d problem", &found) != 1) {
				others++;	/* not the summary */
			}
			if (others + counts <= TOOL_LINES || found >= 0)
				printf("# uipc check: %s", line);
		}
		fclose(f);
	}
	waitpid(pid, &st, 0);
	if (others + counts > TOOL_LINES)
		printf("# uipc check: %d more lines not shown\n", others + counts - TOOL_LINES);
	if (found < 0)
		T_FAIL("%s check: no summary, status %#x", path, st);
	else if (others || found != counts || (off < 0 ? -off : off) > nkills)
		T_FAIL("%s check: %d problems found: %d other than the count of segments, which "
		       "is off by %lld after %d kills", path, found, others, off, nkills);
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != (found ? 1 : 0))
		T_FAIL("%s check: status %#x", path, st);
	t_done();
}

/*
 * The parent makes and removes FINAL segments (removed after or before
 * their detach): each is zero-filled.  fino[]: the data inodes of the free
 * files.  Returns how many were made in recycled files.
 */
static int final_round(ino_t *fino)
{
	int recycled = 0;

	for (int i = 0; i < FINAL; i++) {
		size_t size = (1 + rnd() % MAX_PAGES) * PAGE, off;
		int id = uipc_shmget(IPC_PRIVATE, size, IPC_CREAT | 0600), slot;
		unsigned char *p;
		ino_t ino;
		bool rec;

		if (id < 0) {
			T_FAIL("shmget(%zu): %s", size, strerror(errno));
			break;
		}
		slot = slot_of(id);
		ino = data_ino(slot);
		rec = slot < TRACK && ino && fino[slot] == ino;
		recycled += rec;
		if ((p = uipc_shmat(id, NULL, 0)) == (void *)-1) {
			T_FAIL("shmat(%d): %s", id, strerror(errno));
			CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
			continue;
		}
		if ((off = first_nonzero(p, size)) < size)
			T_FAIL("segment %d (slot %d) of %zu bytes, %s files: byte %zu is %#x, not 0",
			       id, slot, size, rec ? "recycled" : "new", off, p[off]);
		fill(p, size, id);
		if (i % 2)
			CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
		CHECK_EQ(uipc_shmdt(p), 0);
		if (i % 2 == 0)
			CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
		if (slot < TRACK)
			fino[slot] = data_ino(slot);
	}
	return recycled;
}

int main(void)
{
	static ino_t fino[TRACK];
	long target = kills_from_env("UIPC_CRASH_KILLS");
	int nviol, left, recycled, nfiles;
	double secs, deadline;

	setvbuf(stdout, NULL, _IOLBF, 0);
	arm_hang_alarm("FAIL shm_churn: the parent hung\n",
		       (unsigned)(60 + target * AVG_KILL_US / 1000000 * 3));
	max_inc = (int)target + 4 * NWORK + 64;
	sh = shared_map(sizeof(struct shared) + (size_t)max_inc * sizeof(struct inc));
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 77;
	}
	worker_errors = &sh->errs;
	parent_pid = getpid();
	rng_state = mix64((uint64_t)getpid()) | 1;

	t_case("shm_churn dead workers' segments accounted for");
	secs = kill_workers_now(target);
	t_done();

	t_case("shm_churn no worker stuck");
	atomic_store(&sh->stop, 1);
	deadline = now() + END_BOUND;
	while (alive() && now() < deadline) {
		reap(0);
		usleep(1000);
	}
	for (int i = 0; i < NWORK; i++)
		if (wpid[i])
			T_FAIL("worker %d (pid %d) still there after %d s, %s, /proc state %c",
			       wid[i], (int)wpid[i], END_BOUND,
			       where_name[atomic_load(&sh->inc[wid[i]].where)], proc_state(wpid[i]));
	kill_all_slots();
	remove_orphans();
	t_done();

	t_case("shm_churn no worker error");
	report_worker_errors();
	t_done();

	t_case("shm_churn zero-filled");
	nviol = atomic_load(&sh->nviol);
	for (int i = 0; i < nviol && i < MAX_VIOL; i++) {
		struct violation *v = &sh->viol[i];
		T_FAIL("segment %d (slot %d) of %zu bytes, made by pid %d in %s files: byte %zu "
		       "is %#x, not 0", v->id, slot_of(v->id), v->size, v->pid,
		       v->recycled ? "recycled" : "other", v->off, v->byte);
	}
	if (nviol > MAX_VIOL)
		T_FAIL("... %d segments not zero-filled in all", nviol);
	CHECK(atomic_load(&sh->made) > 0);
	t_done();

	t_case("shm_churn nothing left");
	left = walk_remove(true);
	CHECK_EQ(left, 0);
	CHECK_EQ(walk_remove(true), 0);
	check_none();
	/* A dead remover may leave a key name: the next lookup unlinks it. */
	for (int k = 0; k < NKEYS; k++)
		CHECK_ERR(uipc_shmget(KEY_BASE + k, 0, 0), ENOENT);
	check_names();
	nfiles = check_files(fino);
	t_done();

	tool_check();

	t_case("shm_churn recycled after the kills");
	recycled = final_round(fino);
	check_none();
	check_files(NULL);
	CHECK(recycled >= FINAL / 2);
	t_done();

	printf("# %d kills in %.1f s (%s); killed", nkills, secs,
	       ids_exhausted ? "records exhausted: ended early" : "as asked");
	for (int w = 0; w < W_COUNT; w++)
		printf("%s %s %d", w ? "," : "", where_name[w], kills_at[w]);
	printf("\n# %ld segments made (%ld in recycled files, %ld with a key, %ld EEXIST, %ld "
	       "mode 0644, %ld attached read-only first, %ld attached twice, %ld removed while "
	       "attached); dead workers' segments removed by the parent: %d held, %d not yet "
	       "held; %d left at the end; %d violations (segments not zero-filled)\n",
	       atomic_load(&sh->made), atomic_load(&sh->recycled), atomic_load(&sh->keyed),
	       atomic_load(&sh->eexist), atomic_load(&sh->open), atomic_load(&sh->rdonly),
	       atomic_load(&sh->twice), atomic_load(&sh->deferred), nremoved, norphans, left,
	       nviol);
	printf("# after the workers: %d shm.* files in the root; then %d of %d segments made "
	       "in recycled files\n", nfiles, recycled, FINAL);
	return t_exit();
}
