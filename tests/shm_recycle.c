/*
 * shm_recycle.c - segments' files are recycled (src/slot_files.c), and
 * recycling never shows one segment's memory to another or to another user.
 *
 * - a segment made in recycled files is zero-filled, whatever its size and
 *   whatever the last one wrote (the files really are recycled: the inodes
 *   stay);
 * - the id of a removed segment stays invalid (EINVAL) once its slot holds
 *   a newer segment;
 * - removal frees the memory at once (the data file holds no block), also
 *   at the last detach of a segment removed while attached;
 * - the files of a segment whose mode let others in (at its creation or by
 *   IPC_SET, even if narrowed again) are unlinked, never recycled;
 * - another user's creator (root too) passes a slot holding a user's free
 *   files by, and leaves them as they are.
 * Run as root (the case that changes user is skipped otherwise).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "uipc.h"
#include "t.h"

#define SLOTS 32768
#define WINDOW 64		/* the kernel's cycle of slots with few objects */
#define PAGE 4096

static int slot_of(int id)
{
	return id % SLOTS;
}

/* The inode of root file shm.<slot>[suffix], or 0 if there is none. */
static ino_t slot_file(int slot, const char *suffix, struct stat *out)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/shm.%d%s", uipc_root(), slot, suffix);
	if (stat(path, &st) < 0)
		return 0;
	if (out)
		*out = st;
	return st.st_ino;
}

/* A new segment of 'size', attached: its bytes must all be 0; then filled. */
static int new_filled(size_t size, int mode)
{
	int id = uipc_shmget(IPC_PRIVATE, size, IPC_CREAT | mode);
	unsigned char *p;
	size_t i, nonzero = 0;

	if (id < 0) {
		T_FAIL("shmget(%zu): %s", size, strerror(errno));
		return -1;
	}
	p = uipc_shmat(id, NULL, 0);
	if (p == (void *)-1) {
		T_FAIL("shmat(%d): %s", id, strerror(errno));
		return id;
	}
	for (i = 0; i < size; i++)
		nonzero += p[i] != 0;
	if (nonzero)
		T_FAIL("segment %d (slot %d) of %zu bytes: %zu bytes not 0", id, slot_of(id), size,
		       nonzero);
	memset(p, 0xa5, size);
	CHECK_EQ(uipc_shmdt(p), 0);
	return id;
}

static void recycled_zeroed(void)
{
	static const size_t sizes[] = { PAGE, 3 * PAGE, 2 * PAGE, 5 * PAGE + 1 };
	ino_t first[WINDOW] = { 0 };
	int i, id, recycled = 0;

	t_case("recycled_zeroed");
	for (i = 0; i < 3 * WINDOW; i++) {
		id = new_filled(sizes[i % 4], 0600);
		if (id < 0)
			break;
		if (slot_of(id) < WINDOW) {
			if (!first[slot_of(id)])
				first[slot_of(id)] = slot_file(slot_of(id), ".data", NULL);
			else
				recycled += slot_file(slot_of(id), ".data", NULL) ==
					    first[slot_of(id)];
		}
		CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
	}
	/* Two rounds of the window came back to files made in the first. */
	CHECK(recycled >= WINDOW);
	t_done();
}

static void stale_id(void)
{
	int old, id, n = 0;
	struct shmid_ds ds;

	t_case("stale_id");
	old = uipc_shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
	CHECK(old >= 0);
	CHECK_EQ(uipc_shmctl(old, IPC_RMID, NULL), 0);
	do {	/* until the slot holds a new segment */
		id = uipc_shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
		if (slot_of(id) != slot_of(old))
			CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
	} while (id >= 0 && slot_of(id) != slot_of(old) && ++n < 4 * WINDOW);
	CHECK_EQ(slot_of(id), slot_of(old));
	CHECK(id != old);
	CHECK_ERR(uipc_shmat(old, NULL, 0), EINVAL);
	CHECK_ERR(uipc_shmctl(old, IPC_STAT, &ds), EINVAL);
	CHECK_ERR(uipc_shmctl(old, IPC_RMID, NULL), EINVAL);
	CHECK_EQ(uipc_shmctl(id, IPC_STAT, &ds), 0);
	CHECK_EQ(ds.shm_segsz, PAGE);
	CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
	t_done();
}

/* Touch every page of a fresh segment of 'size'; returns the id. */
static int touched(size_t size, char **at)
{
	int id = uipc_shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);

	*at = id >= 0 ? uipc_shmat(id, NULL, 0) : (void *)-1;
	if (*at == (void *)-1) {
		T_FAIL("shmget and shmat: %s", strerror(errno));
		return -1;
	}
	memset(*at, 1, size);
	return id;
}

/*
 * (recycled_zeroed frees through a handle's view of the data file, as the
 * view covers it; here the data file grew beyond the process's view and is
 * punched through the file.)
 */
static void memory_freed(void)
{
	struct stat st;
	char *p;
	int id;

	t_case("memory_freed");
	id = touched(1 << 20, &p);
	if (id >= 0) {
		CHECK(slot_file(slot_of(id), ".data", &st) && st.st_blocks >= (1 << 20) / 512);
		CHECK_EQ(uipc_shmdt(p), 0);
		CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
		CHECK(slot_file(slot_of(id), ".data", &st));
		CHECK_EQ(st.st_blocks, 0);
	}
	/* Removed while attached: freed at the last detach. */
	id = touched(1 << 20, &p);
	if (id >= 0) {
		CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
		CHECK(slot_file(slot_of(id), ".data", &st) && st.st_blocks >= (1 << 20) / 512);
		CHECK_EQ(uipc_shmdt(p), 0);
		CHECK(slot_file(slot_of(id), ".data", &st));
		CHECK_EQ(st.st_blocks, 0);
	}
	t_done();
}

static void shared_not_recycled(void)
{
	struct shmid_ds ds;
	struct stat st;
	int id;

	t_case("shared_not_recycled");
	id = new_filled(PAGE, 0644);
	CHECK(slot_file(slot_of(id), ".data", &st) && (st.st_mode & S_ISVTX));
	CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
	CHECK_EQ(slot_file(slot_of(id), "", NULL), 0);
	CHECK_EQ(slot_file(slot_of(id), ".data", NULL), 0);

	/* Opened to the group by IPC_SET, then closed again: still not recycled. */
	id = new_filled(PAGE, 0600);
	CHECK(slot_file(slot_of(id), ".data", &st) && !(st.st_mode & S_ISVTX));
	CHECK_EQ(uipc_shmctl(id, IPC_STAT, &ds), 0);
	ds.shm_perm.mode = 0660;
	CHECK_EQ(uipc_shmctl(id, IPC_SET, &ds), 0);
	CHECK(slot_file(slot_of(id), ".data", &st) && (st.st_mode & S_ISVTX));
	ds.shm_perm.mode = 0600;
	CHECK_EQ(uipc_shmctl(id, IPC_SET, &ds), 0);
	CHECK(slot_file(slot_of(id), ".data", &st) && (st.st_mode & 07777) == (S_ISVTX | 0600));
	CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
	CHECK_EQ(slot_file(slot_of(id), "", NULL), 0);
	CHECK_EQ(slot_file(slot_of(id), ".data", NULL), 0);
	t_done();
}

/*
 * In a child as 'uid' (unless 0): segments made and removed through the
 * kernel's window of slots twice (so past 'slot' at least once), none in
 * 'slot'.
 */
static int window_avoids(uid_t uid, int slot)
{
	int bad = 0, status, i, id;
	pid_t pid = fork();

	if (pid == 0) {
		if (uid && (setgid(uid) || setuid(uid)))
			_exit(2);
		for (i = 0; i < 2 * WINDOW; i++) {
			id = uipc_shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
			bad += id < 0 || slot_of(id) == slot || uipc_shmctl(id, IPC_RMID, NULL);
		}
		_exit(bad ? 1 : 0);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

/* In a child as user 1000: a segment made and removed; its slot, or -1. */
static int freed_by_1000(void)
{
	int fds[2], slot = -1, status;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		int id;

		if (setgid(1000) || setuid(1000))
			_exit(2);
		id = uipc_shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
		slot = id >= 0 && uipc_shmctl(id, IPC_RMID, NULL) == 0 ? slot_of(id) : -1;
		_exit(write(fds[1], &slot, sizeof(slot)) == sizeof(slot) ? 0 : 1);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &slot, sizeof(slot)) != sizeof(slot))
		slot = -1;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return slot;
}

/*
 * A user's free files are recycled by that user only: another user's
 * creator (root too, who could open them) passes their slot by, and the
 * files stay as they were, the owner's and empty.
 */
static void passed_by(uid_t owner, int slot, uid_t creator)
{
	struct stat before, after;

	CHECK(slot_file(slot, ".data", &before) && before.st_uid == owner);
	CHECK(window_avoids(creator, slot));
	CHECK(slot_file(slot, ".data", &after));
	CHECK_EQ(after.st_ino, before.st_ino);
	CHECK_EQ(after.st_uid, owner);
	CHECK_EQ(after.st_blocks, 0);
}

static void other_user_passes_by(void)
{
	int id, slot;

	t_case("other_user_passes_by");
	slot = freed_by_1000();
	CHECK(slot >= 0);
	passed_by(1000, slot, 0);
	id = new_filled(PAGE, 0600);
	slot = slot_of(id);
	CHECK_EQ(uipc_shmctl(id, IPC_RMID, NULL), 0);
	passed_by(0, slot, 1000);
	t_done();
}

int main(void)
{
	if (geteuid() == 0)
		other_user_passes_by();	/* first: on a root with no files yet */
	recycled_zeroed();
	stale_id();
	memory_freed();
	shared_not_recycled();
	return t_exit();
}
