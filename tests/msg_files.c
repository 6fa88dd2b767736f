/*
 * msg_files.c - what the kernel enforces for uipc: the files behind a queue.
 *
 *  - The data file's mode follows the IPC mode, so that a user whom the mode
 *    excludes cannot even open it (the kernel refuses, not uipc), while the
 *    header stays readable by everyone, as the kernel shows every queue to
 *    everyone through MSG_STAT_ANY.  IPC_SET changes the files' modes.
 *  - A queue given away with IPC_SET and removed by its new owner (who may
 *    not unlink the creator's files in the sticky root) disappears at once
 *    for everyone; its files go at the creator's next namespace walk.
 * Needs root (it switches users); exits 77 otherwise.
 */
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "uipc.h"
#include "t.h"

#define U1 1101
#define U2 1102

static char hdr[4096], data[4096];

static void paths(int id)
{
	snprintf(hdr, sizeof(hdr), "%s/msg.%d", uipc_root(), id);
	snprintf(data, sizeof(data), "%s/msg.%d.data", uipc_root(), id);
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_mode & 07777 : 0xffff;
}

/* Run fn as uid/gid u in a child; returns its exit status. */
static int as_user(uid_t u, int (*fn)(int), int arg)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(u) || setuid(u))
			_exit(99);
		_exit(fn(arg));
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 98;
}

/* As another user: the data file is closed, the header open, msgsnd EACCES. */
static int excluded(int id)
{
	struct msqid_ds ds;
	struct { long t; char c; } m = { 1, 'x' };
	int fd;

	paths(id);
	if ((fd = open(data, O_RDONLY)) >= 0 || errno != EACCES)
		return 1;
	if ((fd = open(hdr, O_RDONLY)) < 0)
		return 2;
	close(fd);
	if (uipc_msgsnd(id, &m, 1, IPC_NOWAIT) != -1 || errno != EACCES)
		return 3;
	if (uipc_msgctl(id % 32768, MSG_STAT_ANY, &ds) != id || ds.msg_perm.uid != U1)
		return 4;
	return 0;
}

/* As another user, after the mode let others in: both files open. */
static int admitted(int id)
{
	struct { long t; char c; } m = { 1, 'x' };
	int fd;

	paths(id);
	if ((fd = open(data, O_RDWR)) < 0)
		return 1;
	close(fd);
	return uipc_msgsnd(id, &m, 1, IPC_NOWAIT) == 0 ? 0 : 2;
}

static int create_private(int mode)
{
	return uipc_msgget(IPC_PRIVATE, mode);
}

static int give_away(int id)
{
	struct msqid_ds ds;

	if (uipc_msgctl(id, IPC_STAT, &ds))
		return 1;
	ds.msg_perm.uid = U2;
	return uipc_msgctl(id, IPC_SET, &ds) ? 2 : 0;
}

static int remove_it(int id)
{
	return uipc_msgctl(id, IPC_RMID, NULL) ? 1 : 0;
}

static int walk(int unused)
{
	struct msginfo mi;

	(void)unused;
	return uipc_msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi) < 0;
}

static int create_in_child(int mode)
{
	int id = create_private(mode);

	return id < 0 ? 255 : id;	/* small ids only: a fresh root */
}

int main(void)
{
	struct msqid_ds ds;
	int id;

	if (geteuid() != 0)
		return 77;
	umask(077);	/* the IPC mode, not the umask, decides */

	t_case("data file mode follows the IPC mode; header readable by all");
	id = as_user(U1, create_in_child, 0600);
	CHECK(id >= 0 && id < 255);
	paths(id);
	CHECK_EQ(mode_of(data), 0600);
	CHECK_EQ(mode_of(hdr), 0644);
	t_done();

	t_case("a user the mode excludes cannot open the data file");
	CHECK_EQ(as_user(U2, excluded, id), 0);
	t_done();

	t_case("IPC_SET opens the files to others");
	CHECK_EQ(uipc_msgctl(id, IPC_STAT, &ds), 0);
	ds.msg_perm.mode = 0622;
	CHECK_EQ(uipc_msgctl(id, IPC_SET, &ds), 0);
	paths(id);
	/* Any IPC bit of a class opens the file to it: a receiver that may only
	 * read still changes the queue. */
	CHECK_EQ(mode_of(data), 0666);
	CHECK_EQ(mode_of(hdr), 0666);
	CHECK_EQ(as_user(U2, admitted, id), 0);
	t_done();

	t_case("removed by the owner it was given to: gone, files reaped later");
	CHECK_EQ(as_user(U1, give_away, id), 0);
	CHECK_EQ(as_user(U2, remove_it, id), 0);
	CHECK_ERR(uipc_msgctl(id, IPC_STAT, &ds), EINVAL);
	paths(id);
	CHECK(access(hdr, F_OK) == 0);	/* U2 could not unlink U1's file */
	CHECK_EQ(as_user(U1, walk, 0), 0);
	CHECK(access(hdr, F_OK) != 0 && errno == ENOENT);
	CHECK(access(data, F_OK) != 0 && errno == ENOENT);
	t_done();
	return t_exit();
}
