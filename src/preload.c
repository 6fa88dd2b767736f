/*
 * preload.c - libuipc-preload.so: the libc names of the IPC calls, for
 * LD_PRELOAD (see `uipc run`).  Each wrapper calls the uipc_ function; no
 * call reaches the kernel's System V IPC.  Nothing runs at load time: no
 * constructor, no thread, no file opened until a program calls one of them.
 *
 * The credential-changing calls are wrapped too, only to tell creds.c that
 * its cache is stale; they then call libc's own function (RTLD_NEXT).
 */
#include <dlfcn.h>
#include <grp.h>
#include <stdarg.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

#define EXPORT __attribute__((visibility("default")))

int capset(cap_user_header_t h, const cap_user_data_t d);

EXPORT int msgget(key_t key, int msgflg)
{
	return uipc_msgget(key, msgflg);
}

EXPORT int msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg)
{
	return uipc_msgsnd(msqid, msgp, msgsz, msgflg);
}

EXPORT ssize_t msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg)
{
	return uipc_msgrcv(msqid, msgp, msgsz, msgtyp, msgflg);
}

EXPORT int msgctl(int msqid, int cmd, struct msqid_ds *buf)
{
	return uipc_msgctl(msqid, cmd, buf);
}

EXPORT int semget(key_t key, int nsems, int semflg)
{
	return uipc_semget(key, nsems, semflg);
}

EXPORT int semop(int semid, struct sembuf *sops, size_t nsops)
{
	return uipc_semop(semid, sops, nsops);
}

EXPORT int semtimedop(int semid, struct sembuf *sops, size_t nsops,
		      const struct timespec *timeout)
{
	return uipc_semtimedop(semid, sops, nsops, timeout);
}

/* The fourth argument, when there is one, is a union semun: pass it on. */
EXPORT int semctl(int semid, int semnum, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return uipc_semctl(semid, semnum, cmd, arg);
}

EXPORT int shmget(key_t key, size_t size, int shmflg)
{
	return uipc_shmget(key, size, shmflg);
}

EXPORT void *shmat(int shmid, const void *shmaddr, int shmflg)
{
	return uipc_shmat(shmid, shmaddr, shmflg);
}

EXPORT int shmdt(const void *shmaddr)
{
	return uipc_shmdt(shmaddr);
}

EXPORT int shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	return uipc_shmctl(shmid, cmd, buf);
}

/* Look up libc's function once; fail with ENOSYS if it cannot be found. */
#define NEXT(ret_type, name, params, args)                                   \
	EXPORT ret_type name params                                          \
	{                                                                    \
		static ret_type (*next) params;                              \
		ret_type result;                                             \
		if (!next)                                                   \
			next = (ret_type (*) params)dlsym(RTLD_NEXT, #name); \
		if (!next) {                                                 \
			errno = ENOSYS;                                      \
			return -1;                                           \
		}                                                            \
		result = next args;                                          \
		uipc__creds_changed();                                       \
		return result;                                               \
	}

NEXT(int, setuid, (uid_t u), (u))
NEXT(int, seteuid, (uid_t u), (u))
NEXT(int, setreuid, (uid_t ru, uid_t eu), (ru, eu))
NEXT(int, setresuid, (uid_t ru, uid_t eu, uid_t su), (ru, eu, su))
NEXT(int, setgid, (gid_t g), (g))
NEXT(int, setegid, (gid_t g), (g))
NEXT(int, setregid, (gid_t rg, gid_t eg), (rg, eg))
NEXT(int, setresgid, (gid_t rg, gid_t eg, gid_t sg), (rg, eg, sg))
NEXT(int, setgroups, (size_t n, const gid_t *l), (n, l))
NEXT(int, capset, (cap_user_header_t h, const cap_user_data_t d), (h, d))
