/*
 * uipc.h - Unix IPC in user space.
 *
 * Every uipc_* function has exactly the signature, return convention (-1 and
 * errno on failure) and semantics of the libc function of the same name
 * without the prefix, as implemented by Linux.  Objects live in files under a
 * root directory (UIPC_ROOT, default /dev/shm/uipc) instead of the kernel.
 */
#ifndef UIPC_H
#define UIPC_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* System V message queues: msgget(2), msgop(2), msgctl(2). */
int uipc_msgget(key_t key, int msgflg);
int uipc_msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg);
ssize_t uipc_msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg);
int uipc_msgctl(int msqid, int cmd, struct msqid_ds *buf);

/* System V semaphore sets: semget(2), semop(2), semctl(2). */
int uipc_semget(key_t key, int nsems, int semflg);
int uipc_semop(int semid, struct sembuf *sops, size_t nsops);
int uipc_semtimedop(int semid, struct sembuf *sops, size_t nsops,
		    const struct timespec *timeout);
int uipc_semctl(int semid, int semnum, int cmd, ...);

/* System V shared memory: shmget(2), shmop(2), shmctl(2). */
int uipc_shmget(key_t key, size_t size, int shmflg);
void *uipc_shmat(int shmid, const void *shmaddr, int shmflg);
int uipc_shmdt(const void *shmaddr);
int uipc_shmctl(int shmid, int cmd, struct shmid_ds *buf);

/*
 * Limits of the current root.  Names are the kernel's tunables: "msgmax",
 * "msgmnb", "msgmni", "semmsl", "semmns", "semopm", "semmni" (the four fields
 * of /proc/sys/kernel/sem), "semvmx" (a constant, 32767, in Linux), "shmmax",
 * "shmall", "shmmni" and "shmmin" (a constant, 1, in Linux).  A
 * limit that was never set for the root follows the kernel's value
 * (/proc/sys/kernel/NAME or .../sem), or Linux's default where that cannot
 * be read.
 *
 * uipc_limit_get() stores the value in force in *value and whether it was set
 * for the root in *is_set (may be NULL).  uipc_limit_set() sets it for the
 * root; a negative value unsets it, and only the owner of the root directory
 * or a process with CAP_SYS_RESOURCE may.  Both return 0, or -1 with errno
 * EINVAL (unknown name or value out of range), EPERM or EACCES.
 */
int uipc_limit_get(const char *name, long long *value, int *is_set);
int uipc_limit_set(const char *name, long long value);

/* The root directory in use (UIPC_ROOT or the default). */
const char *uipc_root(void);

#ifdef UIPC_FAULT
/*
 * Fault injection, in libraries built with -DUIPC_FAULT (make fault) only.
 * uipc_fault_arm(k): from now on count, in this process, the steps that
 * change shared state; the k-th kills the process with SIGKILL just before it
 * is taken (k = 0: count only; k < 0: stop counting).  uipc_fault_steps():
 * the steps counted since the last arm.  uipc_fault_site(i): the source
 * position ("src/msg.c:123") of the i-th of them (from 1), NULL past the end
 * or past the first 4096.
 */
void uipc_fault_arm(long step);
long uipc_fault_steps(void);
const char *uipc_fault_site(long i);
#endif

#ifdef __cplusplus
}
#endif
#endif
