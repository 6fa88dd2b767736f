/*
 * sem_parent_child.c - the classic "parent waits for its child through a
 * semaphore", written for the kernel's semget/semop/semctl and run unchanged
 * on uipc with `uipc run -- sem_parent_child`.
 *
 * The parent creates a set of two semaphores: "done" at 0 and "lock" at 1.
 * The child takes the lock with SEM_UNDO, does its work (a sum, written into
 * a file the two share), signals "done" with V and exits without releasing
 * the lock.  The parent waits with P on "done", reads the result, and once
 * the child is gone takes the lock without waiting: the kernel (or uipc)
 * undid the child's decrement when it exited.  Then it removes the set.
 *
 * usage: sem_parent_child [KEYFILE]   (the set's key: ftok(KEYFILE, 'S'),
 *                                      IPC_PRIVATE without one)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

enum { DONE, LOCK };

union semun {		/* the caller defines it, as semctl(2) says */
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int sem_change(int id, unsigned short num, short op, short flg)
{
	struct sembuf sb = { .sem_num = num, .sem_op = op, .sem_flg = flg };

	return semop(id, &sb, 1);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned short init[2] = { [DONE] = 0, [LOCK] = 1 };
	union semun arg = { .array = init };
	key_t key = IPC_PRIVATE;
	long sum = 0, got = 0;
	FILE *shared;
	pid_t child;
	int id, i, status;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [KEYFILE]\n", argv[0]);
		return 2;
	}
	if (argc == 2 && (key = ftok(argv[1], 'S')) == -1)
		die("sem_parent_child: ftok");
	id = semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1)
		die("sem_parent_child: semget");
	if (semctl(id, 0, SETALL, arg) == -1)
		die("sem_parent_child: semctl SETALL");
	if (!(shared = tmpfile()))
		die("sem_parent_child: tmpfile");
	printf("parent: created a set of 2 semaphores, done = 0, lock = 1\n");
	fflush(stdout);

	child = fork();
	if (child == -1)
		die("sem_parent_child: fork");
	if (child == 0) {
		if (sem_change(id, LOCK, -1, SEM_UNDO) == -1)
			die("child: P(lock)");
		for (i = 1; i <= 1000; i++)
			sum += i;
		if (fprintf(shared, "%ld\n", sum) < 0 || fflush(shared) == EOF)
			die("child: write");
		printf("child: took the lock, wrote 1 + ... + 1000 = %ld, V(done)\n", sum);
		fflush(stdout);
		if (sem_change(id, DONE, 1, 0) == -1)
			die("child: V(done)");
		_exit(0);	/* still holding the lock: SEM_UNDO gives it back */
	}

	while (sem_change(id, DONE, -1, 0) == -1)
		if (errno != EINTR)
			die("parent: P(done)");
	rewind(shared);
	if (fscanf(shared, "%ld", &got) != 1)
		die("parent: read");
	printf("parent: P(done) returned, the child's result is %ld\n", got);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "parent: the child failed\n");
		return 1;
	}
	if (sem_change(id, LOCK, -1, IPC_NOWAIT) == -1)
		die("parent: P(lock) after the child's exit");
	printf("parent: the child exited holding the lock; SEM_UNDO released it\n");
	if (semctl(id, 0, IPC_RMID) == -1)
		die("parent: semctl IPC_RMID");
	printf("parent: removed the set\n");
	return got == 500500 ? 0 : 1;
}
