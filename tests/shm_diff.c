/*
 * shm_diff.c - differential test of System V shared memory: kernel vs uipc.
 *
 * The machinery is diff.h's, as for msg_diff.c and sem_diff.c.  Every
 * scenario is written once, against a table of operations {get, at, dt,
 * ctl} that is either the kernel's (shmget, shmat, shmdt, shmctl as raw
 * system calls) or uipc's (uipc_shmget, ...).  A scenario never asserts anything itself: each helper
 * appends what a program could observe to a result log - return values (ids
 * only as booleans: "valid", "same as that one"), errno, and the shmid_ds
 * fields shm_perm.__key/uid/gid/cuid/cgid/mode (SHM_DEST and SHM_LOCKED
 * included), shm_segsz, shm_nattch, shm_cpid/shm_lpid (as "0" or "the Nth
 * process of this scenario"), whether shm_atime, shm_dtime and shm_ctime are
 * still 0, and whether every other byte of the structure (__seq aside) is 0
 * as the kernel leaves it.  Addresses are never logged: an attach logs
 * whether it landed where it was asked to (after SHM_RND's rounding), or, when
 * the system chose, whether the address is page aligned and not NULL.  Memory
 * is logged by content: a byte, a hash of a range, "all zero", and, from a
 * forked probe process, whether a read, a write or a call at an address
 * completed or died by which signal.  IPC_INFO logs the whole struct shminfo,
 * SHM_INFO the whole struct shm_info (shm_rss exactly in the "rss" scenario
 * only, elsewhere whether rss <= shm_tot), both with whether the return value
 * is the highest index in use; SHM_STAT/SHM_STAT_ANY log whether they returned
 * the id of the segment at that index.  Ids and times are not compared
 * (DESIGN.md section 2).
 *
 * Each scenario runs on both sides in a fresh IPC namespace whose
 * /proc/sys/kernel/shm{max,all,mni} it may change (after writing one, a
 * scenario calls IPC_INFO once, as a program that changes them would).
 * Addresses given to shmat come from a PROT_NONE reservation made at the
 * start of each run: a hole is unmapped just before an attach there, and
 * reserved again after the detach, so that the system never places anything
 * else in it, and the reservation around a hole is a guard that faults.
 *
 * Coverage, in the kernel's check order (ipc/shm.c, ipc/util.c, mm/):
 * - shmget: a missing key is ENOENT without IPC_CREAT whatever the size;
 *   creation checks size < 1 or > shmmax (EINVAL), the rounding of size to
 *   pages overflowing (ENOSPC, reachable with shmmax = ULONG_MAX), shmall
 *   (ENOSPC), then SHM_HUGETLB (EINVAL for an unknown page size, EPERM without
 *   CAP_IPC_LOCK nor the group of vm.hugetlb_shm_group, ENOMEM without huge
 *   pages unless SHM_NORESERVE), the memory (EINVAL beyond the largest file,
 *   2^63 - 1 bytes, then ENOMEM beyond what the overcommit policy grants
 *   unless SHM_NORESERVE), and shmmni (ENOSPC) last; an existing key is EEXIST with IPC_CREAT|IPC_EXCL,
 *   then EINVAL when size exceeds shm_segsz (not its pages: segsz + 1 is
 *   EINVAL; shmmax is not looked at), then EACCES (the x bit of shmflg
 *   counts).  shm_segsz keeps the size asked for, the mapping and shm_tot
 *   use whole pages, and the tail of the last page belongs to the segment.
 *   shmmni segments (4096) can be created.
 * - shmat: shmid < 0, then the address (unaligned without SHM_RND, SHM_REMAP
 *   without an address, SHM_RND|SHM_REMAP rounding to 0: EINVAL), then the id
 *   (EINVAL), then the permissions (r for SHM_RDONLY, rw otherwise, x more for
 *   SHM_EXEC: EACCES), then an existing mapping in the way without SHM_REMAP
 *   or an address range that wraps (EINVAL), then mmap's own errors (ENOMEM
 *   above the address space; EPERM below vm.mmap_min_addr without
 *   CAP_SYS_RAWIO: SHM_RND below SHMLBA attaches at address 0 for root).
 *   SHM_RDONLY: reads work, a write dies by SIGSEGV, mprotect(PROT_WRITE) is
 *   EACCES; SHM_EXEC: code in the segment runs, and without it a call dies
 *   (mprotect(PROT_EXEC) of a plain attachment is allowed).
 * - shmdt: EINVAL unless a segment's attachment starts at the address (NULL,
 *   unaligned, the middle, the end, another mapping, twice).
 * - shmctl: cmd < 0 or shmid < 0 is EINVAL for every command (IPC_INFO too);
 *   IPC_INFO/SHM_INFO ignore the id; IPC_STAT/SHM_STAT check read permission
 *   before writing the buffer (EFAULT); SHM_STAT takes an index (a full id
 *   works too); SHM_STAT_ANY needs no permission; IPC_SET reads its buffer
 *   (EFAULT) before looking at the id, then EPERM, then EINVAL for uid/gid -1,
 *   and changes only the low nine mode bits; IPC_RMID on an attached segment
 *   sets SHM_DEST, makes the key IPC_PRIVATE, leaves shmat by id working and
 *   destroys the segment at the last detach, whoever does it; SHM_LOCK/
 *   SHM_UNLOCK: EPERM for neither owner nor creator without CAP_IPC_LOCK, and
 *   for SHM_LOCK with RLIMIT_MEMLOCK 0, ENOMEM beyond RLIMIT_MEMLOCK (counted
 *   per user over all its locked segments), SHM_LOCKED in the mode, no
 *   permission bits needed, a no-op returning 0 on hugetlb segments.  The
 *   count is the user's over the whole machine: the ENOMEM case runs as
 *   user 1004, which nothing else here locks memory as.
 * - nattch, lpid and the times: shmat and fork count (shm_lpid becomes the
 *   forking process), shmdt, exit, exec and death by SIGSEGV, SIGTERM or
 *   SIGKILL detach (shm_lpid becomes the detaching process, shm_dtime is
 *   set), a failed shmat changes nothing.
 * - The contents: zero-filled, shared at once between attachments in one
 *   process and in two live processes, kept across detach and reattach, lost
 *   with the segment.
 * - The kernel's ipcperms() rules for root, root without CAP_IPC_OWNER /
 *   CAP_SYS_ADMIN / CAP_IPC_LOCK, nobody and users 1000..1004 with primary
 *   and supplementary groups, as owner, creator or neither.  Processes that
 *   change credentials run with umask 077, which the kernel ignores.
 *
 * Kernel quirks checked on purpose, in a scenario of their own ("vma"): the
 * kernel counts mappings, not attaches, so mprotect() on part of an
 * attachment raises shm_nattch (one per piece, and mprotect back does not
 * merge them); munmap() of part of an attachment keeps it, of all of it
 * detaches; shmdt() at the start of an attachment whose first page was
 * unmapped still detaches the rest; mremap() moves an attachment; a
 * SHM_REMAP attach over the middle of another one splits it.  EIDRM (a race
 * with the removal) and shm_rmid_forced are not covered.
 *
 * Environment (diff.h): SHM_DIFF_ONLY=name, SHM_DIFF_VERBOSE=1 (2: uipc's
 * log too), SHM_DIFF_ALL=1.  Needs root (else exit 77).
 * "shm_diff --exec-probe R G" is the image a scenario's child execs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "uipc.h"
#include "diff.h"

#ifndef SHM_HUGE_SHIFT
#define SHM_HUGE_SHIFT 26
#endif
/* The page size bits of shmflg: log2 of the size. */
#define HUGE_LOG(n) ((int)((unsigned)(n) << SHM_HUGE_SHIFT))
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* ---- the operations under test ---- */

struct ops {
	const char *name;
	int (*get)(key_t key, size_t size, int flg);
	void *(*at)(int id, const void *addr, int flg);
	int (*dt)(const void *addr);
	int (*ctl)(int id, int cmd, struct shmid_ds *buf);
};

/*
 * The kernel's side goes straight to the system calls, as msg_diff.c does:
 * the bad pointers these tests pass on purpose must reach the kernel.
 */
static int k_get(key_t key, size_t size, int flg)
{
	return (int)syscall(SYS_shmget, key, size, flg);
}

static void *k_at(int id, const void *addr, int flg)
{
	return (void *)syscall(SYS_shmat, id, addr, flg);
}

static int k_dt(const void *addr)
{
	return (int)syscall(SYS_shmdt, addr);
}

static int k_ctl(int id, int cmd, struct shmid_ds *buf)
{
	return (int)syscall(SYS_shmctl, id, cmd, buf);
}

static const struct ops kernel_ops = {
	"kernel", k_get, k_at, k_dt, k_ctl,
};
static const struct ops uipc_ops = {
	"uipc", uipc_shmget, uipc_shmat, uipc_shmdt, uipc_shmctl,
};

static const struct ops *O;	/* the operations of the current run */
static char *edge;		/* a page followed by a PROT_NONE page */
static char *resv;		/* RESV pages of PROT_NONE: room for holes */
static size_t P;		/* the page size */
static char *inh;		/* an attachment forked children inherit */

#define RESV 512
#define FAILED ((char *)-1)

/* ---- logged operations ---- */

static int get_(int line, key_t key, size_t size, int flg)
{
	errno = 0;
	int r = O->get(key, size, flg);
	int e = errno;

	rec(line, K_BOOL, "get ok", r >= 0);
	rec(line, K_ERRNO, "get errno", r < 0 ? e : 0);
	return r;
}
#define GET(k, n, f) get_(__LINE__, (key_t)(k), (size_t)(n), (f))

static void get_same_(int line, key_t key, size_t size, int flg, int id)
{
	int r = get_(line, key, size, flg);

	rec(line, K_BOOL, "get same id", r == id);
}
#define GET_SAME(k, n, f, id) \
	get_same_(__LINE__, (key_t)(k), (size_t)(n), (f), (id))

static int dt_(int line, const void *addr);

/*
 * shmat.  Where it landed: at the address asked for (rounded down to SHMLBA
 * with SHM_RND), or, when the system chose, page aligned and not NULL.
 * Returns the address or FAILED.
 */
static char *at_(int line, int id, const void *addr, int flg)
{
	uintptr_t want = (uintptr_t)addr;

	if (want && (flg & SHM_RND))
		want &= ~(uintptr_t)(SHMLBA - 1);
	errno = 0;
	void *r = O->at(id, addr, flg);
	int e = errno;
	int ok = r != (void *)-1;

	rec(line, K_BOOL, "at ok", ok);
	rec(line, K_ERRNO, "at errno", ok ? 0 : e);
	if (!ok)
		return FAILED;
	if (addr) {
		rec(line, K_BOOL, "at where asked", (uintptr_t)r == want);
	} else {
		rec(line, K_BOOL, "at page aligned", (uintptr_t)r % P == 0);
		rec(line, K_BOOL, "at not NULL", r != NULL);
	}
	return r;
}
#define AT(id, a, f) at_(__LINE__, (id), (a), (f))

/* shmat, then shmdt at once if it worked. */
static void at_dt_(int line, int id, const void *addr, int flg)
{
	char *a = at_(line, id, addr, flg);

	if (a != FAILED)
		dt_(line, a);
}
#define AT_DT(id, a, f) at_dt_(__LINE__, (id), (a), (f))

static int dt_(int line, const void *addr)
{
	errno = 0;
	int r = O->dt(addr);
	int e = errno;

	rec(line, K_VAL, "dt ret", r);
	rec(line, K_ERRNO, "dt errno", r < 0 ? e : 0);
	return r;
}
#define DT(a) dt_(__LINE__, (a))

static int ctl_(int line, int id, int cmd, void *buf)
{
	errno = 0;
	int r = O->ctl(id, cmd, buf);
	int e = errno;

	rec(line, K_VAL, "ctl ret", r);
	rec(line, K_ERRNO, "ctl errno", r < 0 ? e : 0);
	return r;
}
#define CTL(id, cmd, p) ctl_(__LINE__, (id), (cmd), (p))
#define RMID(id) CTL((id), IPC_RMID, NULL)
#define LOCK(id) CTL((id), SHM_LOCK, NULL)
#define UNLOCK(id) CTL((id), SHM_UNLOCK, NULL)

static void dump_ds(int line, const struct shmid_ds *d)
{
	struct shmid_ds z = *d;

	rec(line, K_VAL, "key", d->shm_perm.__key);
	rec(line, K_VAL, "uid", d->shm_perm.uid);
	rec(line, K_VAL, "gid", d->shm_perm.gid);
	rec(line, K_VAL, "cuid", d->shm_perm.cuid);
	rec(line, K_VAL, "cgid", d->shm_perm.cgid);
	rec(line, K_VAL, "mode", d->shm_perm.mode);
	rec(line, K_UVAL, "segsz", (long long)d->shm_segsz);
	rec(line, K_VAL, "nattch", (long long)d->shm_nattch);
	rec(line, K_VAL, "cpid", pidcat(d->shm_cpid));
	rec(line, K_VAL, "lpid", pidcat(d->shm_lpid));
	rec(line, K_BOOL, "atime==0", d->shm_atime == 0);
	rec(line, K_BOOL, "dtime==0", d->shm_dtime == 0);
	rec(line, K_BOOL, "ctime==0", d->shm_ctime == 0);
	/* the kernel clears the whole structure before filling it in */
	z.shm_perm.__key = 0;
	z.shm_perm.uid = 0;
	z.shm_perm.gid = 0;
	z.shm_perm.cuid = 0;
	z.shm_perm.cgid = 0;
	z.shm_perm.mode = 0;
	z.shm_perm.__seq = 0;
	z.shm_segsz = 0;
	z.shm_nattch = 0;
	z.shm_cpid = 0;
	z.shm_lpid = 0;
	z.shm_atime = 0;
	z.shm_dtime = 0;
	z.shm_ctime = 0;
	int zero = 1;
	for (size_t i = 0; i < sizeof(z); i++)
		zero &= ((const unsigned char *)&z)[i] == 0;
	rec(line, K_BOOL, "ds rest zero", zero);
}

static void stat_(int line, int id)
{
	struct shmid_ds ds;

	memset(&ds, 0xab, sizeof(ds));
	errno = 0;
	int r = O->ctl(id, IPC_STAT, &ds);
	int e = errno;

	rec(line, K_VAL, "stat ret", r);
	rec(line, K_ERRNO, "stat errno", r < 0 ? e : 0);
	if (r == 0)
		dump_ds(line, &ds);
}
#define STAT(id) stat_(__LINE__, (id))

/* Only shm_nattch (and the mode): for steps that count attachments. */
static void nattch_(int line, int id)
{
	struct shmid_ds ds;

	memset(&ds, 0xab, sizeof(ds));
	errno = 0;
	int r = O->ctl(id, IPC_STAT, &ds);
	int e = errno;

	rec(line, K_ERRNO, "nattch errno", r < 0 ? e : 0);
	if (r == 0) {
		rec(line, K_VAL, "nattch", (long long)ds.shm_nattch);
		rec(line, K_VAL, "nattch mode", ds.shm_perm.mode);
	}
}
#define NATTCH(id) nattch_(__LINE__, (id))

/* SHM_STAT or SHM_STAT_ANY of index i, which should be segment id. */
static void mstat_(int line, int i, int cmd, int id)
{
	struct shmid_ds ds;

	memset(&ds, 0xab, sizeof(ds));
	errno = 0;
	int r = O->ctl(i, cmd, &ds);
	int e = errno;

	rec(line, K_BOOL, "mstat ret ok", r >= 0);
	rec(line, K_BOOL, "mstat ret==id", r == id);
	rec(line, K_ERRNO, "mstat errno", r < 0 ? e : 0);
	if (r >= 0)
		dump_ds(line, &ds);
}
#define MSTAT(i, cmd, id) mstat_(__LINE__, (i), (cmd), (id))

/* IPC_INFO with shmid arg; n < 0: do not check the return value's index. */
static void info_(int line, int arg, const int *ids, int n)
{
	struct shminfo si;

	memset(&si, 0xab, sizeof(si));
	errno = 0;
	int r = O->ctl(arg, IPC_INFO, (struct shmid_ds *)(void *)&si);
	int e = errno;

	if (n >= 0)
		rec(line, K_BOOL, "info ret==maxidx", r == maxidx(ids, n));
	else
		rec(line, K_BOOL, "info ret>=0", r >= 0);
	rec(line, K_ERRNO, "info errno", r < 0 ? e : 0);
	if (r < 0)
		return;
	rec(line, K_UVAL, "shmmax", (long long)si.shmmax);
	rec(line, K_VAL, "shmmin", (long long)si.shmmin);
	rec(line, K_VAL, "shmmni", (long long)si.shmmni);
	rec(line, K_VAL, "shmseg", (long long)si.shmseg);
	rec(line, K_UVAL, "shmall", (long long)si.shmall);
	rec(line, K_BOOL, "info reserved zero",
	    !si.__glibc_reserved1 && !si.__glibc_reserved2 &&
	    !si.__glibc_reserved3 && !si.__glibc_reserved4);
}
#define INFO(ids, n) info_(__LINE__, 0, (ids), (n))
#define INFO_AT(arg, ids, n) info_(__LINE__, (arg), (ids), (n))
#define INFO0() info_(__LINE__, 0, NULL, -1)

/*
 * SHM_INFO; n < 0: do not check the return value's index.  shm_rss exactly
 * when exact_rss, else only whether rss <= shm_tot.
 */
static void sinfo_(int line, int arg, const int *ids, int n, int exact_rss)
{
	struct shm_info si;

	memset(&si, 0xab, sizeof(si));
	errno = 0;
	int r = O->ctl(arg, SHM_INFO, (struct shmid_ds *)(void *)&si);
	int e = errno;

	if (n >= 0)
		rec(line, K_BOOL, "sinfo ret==maxidx", r == maxidx(ids, n));
	else
		rec(line, K_BOOL, "sinfo ret>=0", r >= 0);
	rec(line, K_ERRNO, "sinfo errno", r < 0 ? e : 0);
	if (r < 0)
		return;
	rec(line, K_VAL, "used_ids", si.used_ids);
	rec(line, K_UVAL, "shm_tot", (long long)si.shm_tot);
	if (exact_rss)
		rec(line, K_VAL, "shm_rss", (long long)si.shm_rss);
	else
		rec(line, K_BOOL, "shm_rss<=shm_tot", si.shm_rss <= si.shm_tot);
	rec(line, K_VAL, "shm_swp", (long long)si.shm_swp);
	rec(line, K_VAL, "swap_attempts", (long long)si.swap_attempts);
	rec(line, K_VAL, "swap_successes", (long long)si.swap_successes);
	/* the padding after used_ids */
	struct shm_info z = si;
	int zero = 1;
	z.used_ids = 0;
	z.shm_tot = z.shm_rss = z.shm_swp = 0;
	z.swap_attempts = z.swap_successes = 0;
	for (size_t i = 0; i < sizeof(z); i++)
		zero &= ((const unsigned char *)&z)[i] == 0;
	rec(line, K_BOOL, "sinfo rest zero", zero);
}
#define SINFO(ids, n) sinfo_(__LINE__, 0, (ids), (n), 0)
#define SINFO_AT(arg, ids, n) sinfo_(__LINE__, (arg), (ids), (n), 0)
#define SINFO0() sinfo_(__LINE__, 0, NULL, -1, 0)
#define SINFO_RSS() sinfo_(__LINE__, 0, NULL, -1, 1)

/* IPC_SET of uid, gid and mode; 'garbage' fills the other fields. */
static int set_(int line, int id, uid_t uid, gid_t gid, unsigned mode,
		int garbage)
{
	struct shmid_ds ds;

	memset(&ds, garbage ? 0xa5 : 0, sizeof(ds));
	ds.shm_perm.uid = uid;
	ds.shm_perm.gid = gid;
	ds.shm_perm.mode = (unsigned short)mode;
	errno = 0;
	int r = O->ctl(id, IPC_SET, &ds);
	int e = errno;

	rec(line, K_VAL, "set ret", r);
	rec(line, K_ERRNO, "set errno", r < 0 ? e : 0);
	return r;
}
#define SET(id, u, g, m) set_(__LINE__, (id), (u), (g), (m), 0)
#define SET_G(id, u, g, m) set_(__LINE__, (id), (u), (g), (m), 1)

/* ---- memory ---- */

static void peek_(int line, const char *base, size_t off)
{
	if (base == FAILED) {
		rec(line, K_BOOL, "peek: no mapping", 1);
		return;
	}
	rec(line, K_VAL, "peek", ((const volatile unsigned char *)base)[off]);
}
#define PEEK(b, off) peek_(__LINE__, (b), (off))

static void poke_(int line, char *base, size_t off, unsigned char v)
{
	if (base == FAILED) {
		rec(line, K_BOOL, "poke: no mapping", 1);
		return;
	}
	((volatile unsigned char *)base)[off] = v;
}
#define POKE(b, off, v) poke_(__LINE__, (b), (off), (v))

static void hash_(int line, const char *base, size_t off, size_t n)
{
	if (base == FAILED) {
		rec(line, K_BOOL, "hash: no mapping", 1);
		return;
	}
	rec(line, K_VAL, "hash", fnv(base + off, n));
}
#define HASH(b, off, n) hash_(__LINE__, (b), (off), (n))

static void zero_(int line, const char *base, size_t off, size_t n)
{
	const volatile unsigned char *p = (const volatile unsigned char *)base;
	int z = 1;

	if (base == FAILED) {
		rec(line, K_BOOL, "zero: no mapping", 1);
		return;
	}
	for (size_t i = 0; i < n; i++)
		z &= p[off + i] == 0;
	rec(line, K_BOOL, "all zero", z);
}
#define ZERO(b, off, n) zero_(__LINE__, (b), (off), (n))

/* Fill n bytes with a pattern that depends on seed. */
static void fill(char *base, size_t off, size_t n, unsigned seed)
{
	if (base == FAILED)
		return;
	for (size_t i = 0; i < n; i++)
		base[off + i] = (char)((i * 31 + seed) & 0xff);
}

/* A hole of n pages at page 'slot' of the reservation. */
static char *hole(int slot, int n)
{
	char *p = resv + (size_t)slot * P;

	munmap(p, (size_t)n * P);
	return p;
}

/* Reserve again the pages of n from p that nothing uses any more. */
static void refill(char *p, int n)
{
	for (int i = 0; i < n; i++)
		mmap(p + (size_t)i * P, P, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		     MAP_FIXED_NOREPLACE, -1, 0);
}

/* The default action for sig, bypassing sanitizers' handlers. */
static void default_signal(int sig)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} ksa = { NULL, 0, NULL, 0 };	/* SIG_DFL */

	syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
}

enum probe { PR_READ, PR_WRITE, PR_CALL };

/*
 * In a forked process of the scenario: read, write v, or call at base + off.
 * Logs 0 when it completed, else 1000 + the signal that killed it.
 */
static void probe_(int line, char *base, size_t off, int kind, unsigned char v)
{
	pid_t pid;
	int st;

	if (base == FAILED) {
		rec(line, K_BOOL, "probe: no mapping", 1);
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rec(line, K_VAL, "fork failed", errno);
		return;
	}
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };
		volatile unsigned char *p = (volatile unsigned char *)base + off;

		register_self();
		alarm(5);
		setrlimit(RLIMIT_CORE, &nocore);
		default_signal(SIGSEGV);
		default_signal(SIGBUS);
		if (kind == PR_READ) {
			(void)*p;
		} else if (kind == PR_WRITE) {
			*p = v;
		} else {
			void (*fn)(void);
			void *q = base + off;

			memcpy(&fn, &q, sizeof(fn));
			fn();
		}
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	rec(line, K_VAL, kind == PR_READ ? "probe read" :
	    kind == PR_WRITE ? "probe write" : "probe call",
	    WIFSIGNALED(st) ? 1000 + WTERMSIG(st) : WEXITSTATUS(st));
}
#define PROBE_R(b, off) probe_(__LINE__, (b), (off), PR_READ, 0)
#define PROBE_W(b, off, v) probe_(__LINE__, (b), (off), PR_WRITE, (v))
#define PROBE_X(b, off) probe_(__LINE__, (b), (off), PR_CALL, 0)

/* Machine code that returns, for PROBE_X; 0 bytes where unknown. */
static size_t put_ret(char *base)
{
#if defined(__x86_64__) || defined(__i386__)
	static const unsigned char code[] = { 0xc3 };
#elif defined(__aarch64__)
	static const unsigned char code[] = { 0xc0, 0x03, 0x5f, 0xd6 };
#else
	static const unsigned char code[] = { 0 };
	return 0;
#endif
	if (base == FAILED)
		return 0;
	memcpy(base, code, sizeof(code));
	__builtin___clear_cache(base, base + sizeof(code));
	return sizeof(code);
}

static void mprotect_(int line, char *base, size_t off, size_t len, int prot)
{
	if (base == FAILED) {
		rec(line, K_BOOL, "mprotect: no mapping", 1);
		return;
	}
	errno = 0;
	int r = mprotect(base + off, len, prot);
	rec(line, K_VAL, "mprotect ret", r);
	rec(line, K_ERRNO, "mprotect errno", r < 0 ? errno : 0);
}
#define MPROTECT(b, off, len, prot) mprotect_(__LINE__, (b), (off), (len), (prot))

static void munmap_(int line, char *base, size_t off, size_t len)
{
	if (base == FAILED) {
		rec(line, K_BOOL, "munmap: no mapping", 1);
		return;
	}
	errno = 0;
	int r = munmap(base + off, len);
	rec(line, K_VAL, "munmap ret", r);
	rec(line, K_ERRNO, "munmap errno", r < 0 ? errno : 0);
}
#define MUNMAP(b, off, len) munmap_(__LINE__, (b), (off), (len))

/* Spin until the byte at base + off is v (bounded by the run's alarm). */
static void await_byte(const char *base, size_t off, unsigned char v)
{
	if (base == FAILED)
		return;
	while (__atomic_load_n((const unsigned char *)base + off,
			       __ATOMIC_ACQUIRE) != v)
		sched_yield();
}

static void store_byte(char *base, size_t off, unsigned char v)
{
	if (base != FAILED)
		__atomic_store_n((unsigned char *)base + off, v,
				 __ATOMIC_RELEASE);
}

/* ---- limits of the namespace: /proc/sys/kernel/shm* ---- */

#define DEF_SHMMAX (ULONG_MAX - (1UL << 24))
#define DEF_SHMALL (ULONG_MAX - (1UL << 24))
#define DEF_SHMMNI 4096

static void setlim_(int line, const char *name, unsigned long v)
{
	char path[64], b[32];
	int fd, n, ok;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	n = snprintf(b, sizeof(b), "%lu\n", v);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 && write(fd, b, (size_t)n) == n;
	if (fd >= 0)
		close(fd);
	rec(line, K_BOOL, "setlim ok", ok);
	/* look at them once, as a program that changes them would */
	struct shminfo si;
	O->ctl(0, IPC_INFO, (struct shmid_ds *)(void *)&si);
}
#define SETLIM(name, v) setlim_(__LINE__, (name), (v))
#define SETLIM_DEFAULT()                        \
	do {                                    \
		SETLIM("shmmax", DEF_SHMMAX);   \
		SETLIM("shmall", DEF_SHMALL);   \
		SETLIM("shmmni", DEF_SHMMNI);   \
	} while (0)

/* ---- identities of this test (the common ones are diff.h's) ---- */

/* in group 0, the default vm.hugetlb_shm_group */
static const struct ident U1003G0 = { "u1003+g0", 1003, 1003, 1, { 0 }, 0, -1 };
static const struct ident U1004NOLOCK = { "u1004,memlock 0", 1004, 1004, 0, { 0 }, 0, 0 };
static const struct ident U1004LOCK3 = { "u1004,memlock 3p", 1004, 1004, 0, { 0 }, 0, 3 * 4096 };
static const struct ident ROOT_NOLOCK = { "root-CAP_IPC_LOCK", 0, 0, 0, { 0 },
	CAPB(CAP_IPC_LOCK), -1 };
static const struct ident ROOT_NOLOCK0 = { "root-CAP_IPC_LOCK,memlock 0", 0, 0, 0,
	{ 0 }, CAPB(CAP_IPC_LOCK), 0 };
static const struct ident ROOT_NORAWIO = { "root-CAP_SYS_RAWIO", 0, 0, 0, { 0 },
	CAPB(CAP_SYS_RAWIO), -1 };
static const struct ident ROOT_NONE = { "root-3caps", 0, 0, 0, { 0 },
	CAPB(CAP_IPC_OWNER) | CAPB(CAP_SYS_ADMIN) | CAPB(CAP_IPC_LOCK), -1 };

/*
 * A child that stays alive until told: kid_spawn() forks it (fn runs in the
 * child, then the child says it is ready and waits, or execs this program
 * as "--exec-probe", which says it is ready and waits); kid_ready() waits
 * for the word; kid_end() tells it to exit (sig 0) or kills it with sig, and
 * logs how it ended.
 */
struct kid {
	pid_t pid;
	int rd, go;
};

static void kid_spawn_(int line, struct kid *k, void (*fn)(void), int exec)
{
	int r[2], g[2];
	pid_t parent = getpid();
	int self = me;

	k->pid = -1;
	if (pipe(r) || pipe(g)) {
		rec(line, K_VAL, "pipe failed", errno);
		return;
	}
	fflush(NULL);
	k->pid = fork();
	if (k->pid < 0) {
		rec(line, K_VAL, "fork failed", errno);
		return;
	}
	if (k->pid == 0) {
		char c = 'r';

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		register_self();
		alarm(8);
		close(r[0]);
		close(g[1]);
		if (fn)
			fn();
		if (exec) {
			char rs[16], gs[16];

			snprintf(rs, sizeof(rs), "%d", r[1]);
			snprintf(gs, sizeof(gs), "%d", g[0]);
			execl("/proc/self/exe", "shm_diff", "--exec-probe", rs, gs,
			      (char *)NULL);
			_exit(3);
		}
		if (write(r[1], &c, 1) != 1)
			_exit(4);
		while (read(g[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	me = self;
	close(r[1]);
	close(g[0]);
	k->rd = r[0];
	k->go = g[1];
}
#define KID_SPAWN(k, fn) kid_spawn_(__LINE__, (k), (fn), 0)
#define KID_EXEC(k, fn) kid_spawn_(__LINE__, (k), (fn), 1)

static void kid_ready_(int line, struct kid *k)
{
	char c = 0;
	ssize_t n;

	if (k->pid < 0)
		return;
	while ((n = read(k->rd, &c, 1)) < 0 && errno == EINTR)
		;
	rec(line, K_VAL, "kid ready", n == 1 ? c : -1);
}
#define KID_READY(k) kid_ready_(__LINE__, (k))
#define KID(k, fn)                     \
	do {                           \
		KID_SPAWN((k), (fn));  \
		KID_READY(k);          \
	} while (0)

static void kid_end_(int line, struct kid *k, int sig)
{
	int st;

	if (k->pid < 0)
		return;
	if (sig)
		kill(k->pid, sig);
	else if (write(k->go, "g", 1) != 1)
		rec(line, K_VAL, "kid go failed", errno);
	while (waitpid(k->pid, &st, 0) < 0 && errno == EINTR)
		;
	close(k->rd);
	close(k->go);
	k->pid = -1;
	rec(line, K_VAL, "kid ended",
	    WIFSIGNALED(st) ? 1000 + WTERMSIG(st) : WEXITSTATUS(st));
}
#define KID_GO(k) kid_end_(__LINE__, (k), 0)
#define KID_KILL(k, sig) kid_end_(__LINE__, (k), (sig))

#define KEY(n) ((key_t)(0x5c000000 + (n)))

/* =============================== scenarios =============================== */

/* shmget: sizes, lookup, IPC_CREAT/IPC_EXCL, the order of errors, stale ids. */
static void body_get(void)
{
	int live[12];
	int s, s2, s3, s4, k3;
	const size_t sizes[] = { 1, P - 1, P, P + 1, 3 * P, 2 * P - 1 };

	for (int i = 0; i < 12; i++)
		live[i] = -1;
	INFO(live, 12);
	SINFO(live, 12);
	for (int i = 0; i < 6; i++) {
		live[i] = GET(IPC_PRIVATE, sizes[i], 0600);
		STAT(live[i]);
	}
	REC_B("private ids distinct", live[0] != live[1] && live[1] != live[2]);
	SINFO(live, 12);
	GET(IPC_PRIVATE, 0, 0600);
	GET(IPC_PRIVATE, 0, IPC_CREAT | IPC_EXCL | 0600);
	GET(IPC_PRIVATE, SIZE_MAX, 0600);
	GET(IPC_PRIVATE, DEF_SHMMAX + 1, 0600);
	GET(IPC_PRIVATE, DEF_SHMMAX + 1, SHM_HUGETLB | 0600);
	GET(IPC_PRIVATE, 0, SHM_HUGETLB | SHM_NORESERVE | 0600);
	SINFO(live, 12);

	/* a missing key: ENOENT whatever the size */
	GET(KEY(1), P, 0);
	GET(KEY(1), 0, 0);
	GET(KEY(1), SIZE_MAX, 0);
	GET(KEY(1), P, IPC_EXCL | 0600);
	GET(KEY(1), P, SHM_HUGETLB | 0600);
	GET(KEY(1), 0, IPC_CREAT | 0600);
	GET(KEY(1), 0, IPC_CREAT | IPC_EXCL | 0600);
	GET(KEY(1), SIZE_MAX, IPC_CREAT | 0600);
	GET(KEY(1), DEF_SHMMAX + 1, IPC_CREAT | IPC_EXCL | 0600);
	GET(KEY(1), 0, 0);

	/* an existing key */
	s = live[6] = GET(KEY(1), 2 * P + 10, IPC_CREAT | 0640);
	STAT(s);
	GET_SAME(KEY(1), 2 * P + 10, IPC_CREAT | 0640, s);
	GET_SAME(KEY(1), 0, 0, s);
	GET_SAME(KEY(1), 1, 0, s);
	GET_SAME(KEY(1), 2 * P + 10, 0600, s);
	GET_SAME(KEY(1), 0, IPC_CREAT, s);
	GET_SAME(KEY(1), 0, IPC_EXCL, s);
	GET_SAME(KEY(1), P, SHM_HUGETLB | 0600, s);
	GET_SAME(KEY(1), P, SHM_NORESERVE | SHM_RDONLY | SHM_RND | 0600, s);
	GET_SAME(KEY(1), 0, IPC_CREAT | 0777, s);
	GET(KEY(1), 0, IPC_CREAT | 07777);		/* IPC_EXCL is 02000 */
	GET(KEY(1), 2 * P + 11, 0);		/* segsz, not its pages */
	GET(KEY(1), 3 * P, IPC_CREAT | 0640);
	GET(KEY(1), SIZE_MAX, 0);
	GET(KEY(1), 2 * P + 10, IPC_CREAT | IPC_EXCL | 0640);
	GET(KEY(1), 2 * P + 11, IPC_CREAT | IPC_EXCL);	/* EEXIST first */
	GET(KEY(1), 0, IPC_CREAT | IPC_EXCL);
	GET(KEY(1), SIZE_MAX, IPC_CREAT | IPC_EXCL | SHM_HUGETLB);
	GET(KEY(2), 1, IPC_CREAT | IPC_EXCL | 07777);	/* SHM_HUGETLB 04000 */
	s2 = live[7] = GET(KEY(2), 1, IPC_CREAT | IPC_EXCL | SHM_RND |
			   SHM_REMAP | SHM_EXEC | 0777);
	STAT(s2);
	s3 = live[8] = GET((key_t)0xdeadbeef, 5 * P, IPC_CREAT | 0400);
	STAT(s3);
	GET_SAME((key_t)0xdeadbeef, 0, 0, s3);
	GET_SAME((key_t)0xdeadbeef, 5 * P, 0400, s3);
	GET((key_t)0xdeadbeef, 5 * P, 0200);	/* EACCES but for root */
	GET((key_t)0xdeadbeef, 5 * P, 0100);
	k3 = live[9] = GET(KEY(3), 1, IPC_CREAT | 0);
	GET_SAME(KEY(3), 0, 0, k3);
	GET(KEY(3), 0, 0400);
	GET(KEY(3), 2, 0400);				/* EINVAL first */
	STAT(k3);
	INFO(live, 12);
	SINFO(live, 12);

	/* removal: the id goes stale, the key is free again */
	RMID(s);
	live[6] = -1;
	STAT(s);
	AT(s, NULL, 0);
	AT(s, NULL, SHM_RDONLY);
	SET(s, 0, 0, 0600);
	LOCK(s);
	UNLOCK(s);
	RMID(s);
	MSTAT(idx(s), SHM_STAT, -1);
	MSTAT(idx(s), SHM_STAT_ANY, -1);
	SINFO(live, 12);
	GET(KEY(1), 0, 0);
	s4 = live[6] = GET(KEY(1), P, IPC_CREAT | 0600);
	REC_B("new id differs", s4 != s);
	STAT(s4);
	GET_SAME(KEY(1), 0, 0, s4);
	GET(KEY(1), P + 1, 0);
	SINFO(live, 12);

	/*
	 * A stale id whose slot is in use again (the kernel allocates slots
	 * cyclically, so this takes up to 64 rounds): still EINVAL.  The
	 * rounds are not logged, as slot allocation is not compared.
	 */
	{
		int old = GET(IPC_PRIVATE, 1, 0600), cur = -1;

		RMID(old);
		for (int i = 0; i < 300 && cur < 0; i++) {
			cur = O->get(IPC_PRIVATE, 1, 0600);
			if (cur >= 0 && idx(cur) != idx(old)) {
				O->ctl(cur, IPC_RMID, NULL);
				cur = -1;
			}
		}
		if (cur < 0)
			cur = O->get(IPC_PRIVATE, 1, 0600);
		STAT(old);
		AT(old, NULL, 0);
		SET(old, 0, 0, 0600);
		LOCK(old);
		RMID(old);
		STAT(cur);
		RMID(cur);
	}

	/* bad ids */
	STAT(-1);
	STAT(BADID);
	STAT(INT_MAX);
	STAT(INT_MIN);
	CTL(-5, IPC_RMID, NULL);
	RMID(BADID);
	AT(-1, NULL, 0);
	AT(INT_MIN, NULL, SHM_RDONLY);
	AT(BADID, NULL, 0);
	AT(INT_MAX, NULL, 0);
	SET(BADID, 0, 0, 0600);
	LOCK(BADID);
	UNLOCK(-1);

	for (int i = 0; i < 12; i++) {
		if (live[i] >= 0)
			RMID(live[i]);
		live[i] = -1;
	}
	INFO(live, 12);
	SINFO(live, 12);
	GET(KEY(1), 0, 0);
	GET(KEY(2), 0, 0);
}

static void sc_get(void)
{
	body_get();
}

static void sc_get_nobody(void)
{
	AS(NOBODY, body_get);
}

/* At shmall 0: ENOSPC comes before SHM_HUGETLB's EPERM. */
static void enospc_huge(void)
{
	GET(IPC_PRIVATE, P, SHM_HUGETLB | 0600);
	GET(IPC_PRIVATE, 0, SHM_HUGETLB | 0600);
}

/* shmmni, shmall and shmmax through /proc, and the order of the errors. */
static void sc_enospc(void)
{
	int live[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	char *a;

	SETLIM("shmmni", 3);
	INFO(live, 8);
	live[0] = GET(IPC_PRIVATE, 1, 0600);
	live[1] = GET(KEY(1), P, IPC_CREAT | 0600);
	live[2] = GET(IPC_PRIVATE, 2 * P, 0600);
	SINFO(live, 8);
	GET(IPC_PRIVATE, 1, 0600);
	GET(KEY(2), 1, IPC_CREAT | 0600);
	GET(KEY(2), 1, IPC_CREAT | IPC_EXCL | 0600);
	GET(KEY(2), 0, IPC_CREAT | 0600);		/* EINVAL first */
	GET(KEY(2), SIZE_MAX, IPC_CREAT | 0600);
	GET(KEY(2), 1, 0);				/* ENOENT */
	GET(KEY(1), 1, IPC_CREAT | IPC_EXCL | 0600);	/* EEXIST */
	GET(KEY(1), P + 1, IPC_CREAT | 0600);		/* EINVAL */
	GET_SAME(KEY(1), P, IPC_CREAT | 0600, live[1]);
	RMID(live[0]);
	live[0] = -1;
	live[3] = GET(IPC_PRIVATE, 1, 0600);
	GET(IPC_PRIVATE, 1, 0600);
	SETLIM("shmmni", 0);
	INFO(live, 8);
	GET(IPC_PRIVATE, 1, 0600);
	GET(KEY(3), 1, IPC_CREAT | 0600);
	GET_SAME(KEY(1), 0, 0, live[1]);
	a = AT(live[1], NULL, 0);
	DT(a);
	SETLIM("shmmni", DEF_SHMMNI);

	/* shmall, in pages: 1 + 2 + 1 in use */
	SETLIM("shmall", 5);
	INFO(live, 8);
	SINFO(live, 8);
	GET(IPC_PRIVATE, P + 1, 0600);
	live[4] = GET(IPC_PRIVATE, P, 0600);		/* 5 of 5 */
	SINFO(live, 8);
	GET(IPC_PRIVATE, 1, 0600);
	GET(KEY(2), 1, IPC_CREAT | 0600);
	GET(KEY(2), 0, IPC_CREAT | 0600);		/* EINVAL first */
	GET(KEY(2), SIZE_MAX, IPC_CREAT | 0600);
	GET_SAME(KEY(1), P, 0, live[1]);
	RMID(live[2]);
	live[2] = -1;
	SINFO(live, 8);
	live[5] = GET(IPC_PRIVATE, 2 * P, 0600);	/* 5 of 5 again */
	GET(IPC_PRIVATE, 1, 0600);
	/* a removed segment still attached still counts */
	a = AT(live[5], NULL, 0);
	RMID(live[5]);
	SINFO(live, 8);
	GET(IPC_PRIVATE, 1, 0600);
	DT(a);
	live[5] = -1;
	SINFO(live, 8);
	live[6] = GET(IPC_PRIVATE, 1, 0600);
	/* lowered below what is in use */
	SETLIM("shmall", 1);
	INFO(live, 8);
	GET(IPC_PRIVATE, 1, 0600);
	GET_SAME(KEY(1), P, 0, live[1]);
	SETLIM("shmall", 0);
	GET(IPC_PRIVATE, 1, 0600);
	AS(NOBODY, enospc_huge);
	enospc_huge();
	SETLIM("shmall", DEF_SHMALL);

	/* shmmax: creation only; an existing bigger segment is still found */
	live[7] = GET(KEY(3), 3 * P, IPC_CREAT | 0600);
	SETLIM("shmmax", 2 * P);
	INFO(live, 8);
	live[0] = GET(IPC_PRIVATE, 2 * P, 0600);
	GET(IPC_PRIVATE, 2 * P + 1, 0600);
	GET_SAME(KEY(3), 3 * P, 0, live[7]);
	GET(KEY(3), 3 * P + 1, 0);
	GET(KEY(4), 3 * P, IPC_CREAT | 0600);
	SETLIM("shmmax", 0);
	GET(IPC_PRIVATE, 1, 0600);
	GET(IPC_PRIVATE, 0, 0600);
	INFO(live, 8);

	/*
	 * shmmax = ULONG_MAX: the rounding of size to pages overflows from
	 * SIZE_MAX - P + 2 on (ENOSPC); SIZE_MAX - P + 1 rounds, passes
	 * shmall and fails as a file larger than the largest (EINVAL), unless
	 * shmall is lower (ENOSPC).
	 */
	SETLIM("shmmax", ULONG_MAX);
	INFO(live, 8);
	GET(IPC_PRIVATE, SIZE_MAX, 0600);
	GET(IPC_PRIVATE, SIZE_MAX - P + 2, 0600);
	GET(IPC_PRIVATE, SIZE_MAX - P + 1, 0600);
	GET(IPC_PRIVATE, SIZE_MAX - P + 1, SHM_NORESERVE | 0600);
	GET(KEY(5), SIZE_MAX, IPC_CREAT | 0600);
	SETLIM("shmall", (SIZE_MAX >> 12) - 1);
	GET(IPC_PRIVATE, SIZE_MAX - P + 1, 0600);
	SETLIM("shmall", ULONG_MAX);
	INFO(live, 8);
	GET(IPC_PRIVATE, SIZE_MAX - P + 1, 0600);
	SETLIM_DEFAULT();
	INFO(live, 8);
	for (int i = 0; i < 8; i++) {
		if (live[i] >= 0)
			RMID(live[i]);
		live[i] = -1;
	}
	SINFO(live, 8);
}

/* shmmni (4096) segments can be created; one more is ENOSPC. */
static void sc_shmmni_full(void)
{
	static int ids[DEF_SHMMNI];
	int n = 0, err = 0, again;
	char *a;

	INFO0();
	for (int i = 0; i < DEF_SHMMNI; i++) {
		ids[i] = O->get(IPC_PRIVATE, 1, 0600);
		if (ids[i] >= 0)
			n++;
		else if (!err)
			err = errno;
	}
	REC_V("created", n);
	REC_V("first errno", err);
	GET(IPC_PRIVATE, 1, 0600);
	GET(KEY(1), 1, IPC_CREAT | 0600);
	INFO(ids, DEF_SHMMNI);
	SINFO(ids, DEF_SHMMNI);
	STAT(ids[DEF_SHMMNI - 1]);
	a = AT(ids[DEF_SHMMNI - 1], NULL, 0);
	POKE(a, 0, 9);
	DT(a);
	RMID(ids[100]);
	again = ids[100] = GET(IPC_PRIVATE, 1, 0600);
	GET(IPC_PRIVATE, 1, 0600);
	STAT(again);
	n = 0;
	for (int i = 0; i < DEF_SHMMNI; i++)
		if (ids[i] >= 0 && O->ctl(ids[i], IPC_RMID, NULL) == 0)
			n++;
	REC_V("removed", n);
	INFO0();
	SINFO0();
}

/*
 * Memory: without SHM_NORESERVE a segment must fit the overcommit policy
 * (ENOMEM), with it only the largest file size (EINVAL beyond 2^63 - 1).
 */
static void sc_noreserve(void)
{
	const size_t big = (size_t)1 << 44;
	int s, t, r;
	char *a;

	/* both sides follow vm.overcommit_memory: 0 or 2 here, not 1 */
	if ((r = GET(IPC_PRIVATE, big, 0600)) >= 0)
		RMID(r);
	if ((r = GET(KEY(1), big, IPC_CREAT | 0600)) >= 0)
		RMID(r);
	s = GET(IPC_PRIVATE, big, SHM_NORESERVE | 0600);
	STAT(s);
	SINFO0();
	a = AT(s, NULL, 0);
	PEEK(a, big - 1);
	POKE(a, big - 1, 77);
	PEEK(a, big - 1);
	ZERO(a, 0, P);
	DT(a);
	RMID(s);
	GET(IPC_PRIVATE, (size_t)1 << 63, SHM_NORESERVE | 0600);
	GET(IPC_PRIVATE, (size_t)1 << 63, 0600);
	if ((r = GET(IPC_PRIVATE, ((size_t)1 << 63) - 1, 0600)) >= 0)
		RMID(r);
	t = GET(IPC_PRIVATE, ((size_t)1 << 63) - 1, SHM_NORESERVE | 0600);
	STAT(t);
	SINFO0();
	AT(t, NULL, SHM_RDONLY);
	RMID(t);
	SINFO0();
}

/* SHM_HUGETLB: the page size, the privilege, the pages. */
static void body_huge(void)
{
	int h, k;
	char *a;

	GET(IPC_PRIVATE, 0, SHM_HUGETLB | 0600);
	GET(IPC_PRIVATE, P, SHM_HUGETLB | HUGE_LOG(22) | 0600);
	GET(IPC_PRIVATE, P, SHM_HUGETLB | HUGE_LOG(63) | 0600);
	GET(IPC_PRIVATE, P, SHM_HUGETLB | 0600);
	GET(KEY(9), P, IPC_CREAT | SHM_HUGETLB | 0600);
	h = GET(IPC_PRIVATE, P, SHM_HUGETLB | SHM_NORESERVE | 0600);
	if (h >= 0) {
		STAT(h);
		SINFO0();
		LOCK(h);				/* a no-op */
		NATTCH(h);
		a = AT(h, NULL, 0);
		REC_B("at 2M aligned", a != FAILED && (uintptr_t)a % (2u << 20) == 0);
		NATTCH(h);
		DT(a);
		UNLOCK(h);
		RMID(h);
	}
	h = GET(IPC_PRIVATE, P, SHM_HUGETLB | SHM_NORESERVE |
		HUGE_LOG(21) | 0600);
	if (h >= 0)
		RMID(h);
	h = GET(IPC_PRIVATE, P, SHM_HUGETLB | SHM_NORESERVE |
		HUGE_LOG(30) | 0600);
	if (h >= 0) {
		STAT(h);
		RMID(h);
	}
	/* the page size bits alone are ignored */
	h = GET(IPC_PRIVATE, P, HUGE_LOG(22) | 0600);
	RMID(h);
	/* an existing key: SHM_HUGETLB does not matter */
	k = GET(KEY(1), P, IPC_CREAT | 0600);
	GET_SAME(KEY(1), 0, SHM_HUGETLB, k);
	GET_SAME(KEY(1), P, SHM_HUGETLB | HUGE_LOG(22), k);
	RMID(k);
	SINFO0();
}

static void sc_hugetlb(void)
{
	body_huge();
	AS(NOBODY, body_huge);
	AS(U1000, body_huge);
	AS(U1003G0, body_huge);
	AS(ROOT_NOLOCK, body_huge);
	/* at shmmni: the hugetlb file is made before the id */
	SETLIM("shmmni", 0);
	GET(IPC_PRIVATE, P, SHM_HUGETLB | 0600);
	GET(IPC_PRIVATE, P, SHM_HUGETLB | SHM_NORESERVE | 0600);
	AS(NOBODY, enospc_huge);
	SETLIM("shmmni", DEF_SHMMNI);
}

/* shmat: the address (none, given, unaligned, SHM_RND, SHM_REMAP), flags. */
static void body_attach(void)
{
	int s = GET(IPC_PRIVATE, 3 * P, 0600);
	int t = GET(IPC_PRIVATE, 1, 0600);
	char *a, *b, *c, *h;
	char *m[20];

	STAT(s);
	/* the system's choice */
	a = AT(s, NULL, 0);
	STAT(s);
	b = AT(s, NULL, SHM_RDONLY);
	c = AT(s, NULL, SHM_RND);
	NATTCH(s);
	AT(s, NULL, SHM_REMAP);
	AT(s, NULL, SHM_REMAP | SHM_RND);
	AT(s, NULL, SHM_REMAP | SHM_RDONLY);
	AT(-1, NULL, SHM_REMAP);
	AT(BADID, NULL, SHM_REMAP);
	NATTCH(s);
	DT(a);
	DT(b);
	DT(c);
	STAT(s);
	/* flag bits shmat does not know are ignored */
	a = AT(s, NULL, 0777 | IPC_CREAT | IPC_EXCL | SHM_HUGETLB);
	DT(a);
	a = AT(s, NULL, SHM_RDONLY | SHM_RND | IPC_NOWAIT);
	DT(a);

	/* a given address: a hole in the reservation */
	h = hole(8, 3);
	a = AT(s, h, 0);
	POKE(a, 0, 1);
	NATTCH(s);
	AT(s, h, 0);				/* in the way */
	AT(t, h + 2 * P, SHM_RDONLY);
	DT(a);
	refill(h, 3);
	AT(s, h, 0);				/* the reservation is in the way */
	AT(t, h + P, 0);
	a = AT(s, h, SHM_REMAP);		/* replaces it */
	PEEK(a, 0);
	NATTCH(s);
	DT(a);
	DT(a);
	refill(h, 3);
	/* a hole too small */
	h = hole(16, 2);
	AT(s, h, 0);
	AT(s, h, SHM_RDONLY);
	a = AT(t, h, 0);
	b = AT(t, h + P, SHM_RDONLY);
	NATTCH(t);
	DT(a);
	DT(b);
	refill(h, 2);
	/* unaligned: EINVAL, or rounded down with SHM_RND */
	h = hole(24, 5);
	AT(s, h + 1, 0);
	AT(s, h + P / 2, SHM_RDONLY);
	AT(s, h + P - 1, SHM_REMAP);
	AT(BADID, h + 1, 0);
	AT(-1, h + 1, SHM_RND);
	a = AT(s, h + P - 1, SHM_RND);
	NATTCH(s);
	DT(a);
	a = AT(s, h + 100, SHM_RND | SHM_RDONLY);
	DT(a);
	a = AT(s, h + P + 1, SHM_RND);
	DT(a);
	a = AT(s, h + 2 * P, SHM_RND);		/* aligned: SHM_RND changes nothing */
	DT(a);
	AT(s, h + 3 * P, SHM_RND);		/* the reservation */
	a = AT(s, h + 3 * P + 5, SHM_RND | SHM_REMAP);	/* past the hole */
	DT(a);
	refill(h, 6);
	a = AT(s, h + 100, SHM_RND | SHM_REMAP);
	DT(a);
	refill(h, 5);
	NATTCH(s);

	/* no room at the end of the address space; a range that wraps */
	AT_DT(s, (void *)(uintptr_t)0x7ffffffff000ull, 0);
	AT_DT(t, (void *)(uintptr_t)0x7ffffffff000ull, 0);
	AT_DT(s, (void *)-(intptr_t)P, 0);
	AT_DT(s, (void *)-(intptr_t)P, SHM_REMAP);
	AT_DT(t, (void *)-(intptr_t)P, 0);
	AT_DT(s, (void *)-(intptr_t)(2 * P), 0);
	NATTCH(s);

	/* SHM_REMAP over an attachment of the same segment */
	a = AT(t, NULL, 0);
	POKE(a, 0, 5);
	b = AT(t, a, SHM_REMAP);
	NATTCH(t);
	PEEK(b, 0);
	DT(a);
	NATTCH(t);
	DT(b);

	/* many attachments */
	for (int i = 0; i < 20; i++)
		m[i] = AT(s, NULL, i % 2 ? SHM_RDONLY : 0);
	NATTCH(s);
	for (int i = 0; i < 20; i++)
		DT(m[i]);
	STAT(s);
	STAT(t);
	RMID(s);
	RMID(t);
}

static void sc_attach(void)
{
	body_attach();
}

static void sc_attach_nobody(void)
{
	AS(NOBODY, body_attach);
}

/*
 * Below SHMLBA: SHM_RND rounds to 0, which with SHM_REMAP is EINVAL and
 * without it attaches at address 0 where mmap allows it (CAP_SYS_RAWIO).
 */
static void attach_low(void)
{
	int s = S->scratch[0];
	char *a;

	AT(s, (void *)100, SHM_RND | SHM_REMAP);
	AT(s, (void *)1, SHM_RND | SHM_REMAP | SHM_RDONLY);
	AT(s, (void *)100, 0);
	AT(s, (void *)(uintptr_t)(SHMLBA - 1), SHM_REMAP);
	a = AT(s, (void *)100, SHM_RND);
	NATTCH(s);
	if (a != FAILED)
		DT(a);
	a = AT(s, (void *)(uintptr_t)(SHMLBA - 1), SHM_RND | SHM_RDONLY);
	if (a != FAILED)
		DT(a);
	NATTCH(s);
}

static void sc_attach_low(void)
{
	int s = S->scratch[0] = GET(IPC_PRIVATE, P, 0666);
	char *a = AT(s, NULL, 0);

	POKE(a, 0, 3);
	DT(a);
	attach_low();
	AS(ROOT_NORAWIO, attach_low);
	AS(NOBODY, attach_low);
	STAT(s);
	RMID(s);
}

/* SHM_RDONLY: reads see the segment, writes fault. */
static void body_rdonly(void)
{
	int s = GET(IPC_PRIVATE, 2 * P, 0600);
	char *a = AT(s, NULL, 0);
	char *r = AT(s, NULL, SHM_RDONLY);

	POKE(a, 0, 'A');
	POKE(a, P, 'B');
	PEEK(r, 0);
	PEEK(r, P);
	PROBE_R(r, P + 7);
	PROBE_W(r, 0, 'x');
	PROBE_W(r, 2 * P - 1, 'x');
	PEEK(a, 0);
	PEEK(a, 2 * P - 1);
	PROBE_W(a, 0, 'y');
	PEEK(r, 0);
	STAT(s);
	MPROTECT(r, 0, 2 * P, PROT_READ | PROT_WRITE);
	MPROTECT(r, 0, 2 * P, PROT_WRITE);
	PROBE_W(r, 0, 'z');
	NATTCH(s);
	DT(r);
	/* read permission is enough for SHM_RDONLY, not for a write attach */
	SET(s, getuid(), getgid(), 0400);
	r = AT(s, NULL, SHM_RDONLY);
	PEEK(r, 0);
	AT_DT(s, NULL, 0);
	DT(r);
	SET(s, getuid(), getgid(), 0200);
	AT_DT(s, NULL, SHM_RDONLY);
	AT_DT(s, NULL, 0);
	DT(a);
	STAT(s);
	RMID(s);
}

static void sc_rdonly(void)
{
	body_rdonly();
}

static void sc_rdonly_nobody(void)
{
	AS(NOBODY, body_rdonly);
}

/* SHM_EXEC: needs x in the mode; code in the segment runs. */
static void body_exec(void)
{
	int s = GET(IPC_PRIVATE, P, 0700);
	char *w = AT(s, NULL, 0);
	char *x, *xw;
	size_t n = put_ret(w);

	REC_B("have code", n > 0);
	x = AT(s, NULL, SHM_EXEC | SHM_RDONLY);
	xw = AT(s, NULL, SHM_EXEC);
	NATTCH(s);
	if (n) {
		PROBE_X(x, 0);
		PROBE_X(xw, 0);
		PROBE_X(w, 0);
	}
	PROBE_W(x, 1, 0);
	DT(x);
	DT(xw);
	/* mprotect(PROT_EXEC) of a plain attachment */
	MPROTECT(w, 0, P, PROT_READ | PROT_EXEC);
	if (n)
		PROBE_X(w, 0);
	NATTCH(s);
	DT(w);
	SET(s, getuid(), getgid(), 0600);
	AT_DT(s, NULL, SHM_EXEC);
	AT_DT(s, NULL, SHM_EXEC | SHM_RDONLY);
	SET(s, getuid(), getgid(), 0500);
	x = AT(s, NULL, SHM_EXEC | SHM_RDONLY);
	if (n)
		PROBE_X(x, 0);
	DT(x);
	AT_DT(s, NULL, SHM_EXEC);
	SET(s, getuid(), getgid(), 0100);
	AT_DT(s, NULL, SHM_EXEC | SHM_RDONLY);
	SET(s, getuid(), getgid(), 0300);
	AT_DT(s, NULL, SHM_EXEC);
	STAT(s);
	RMID(s);
}

static void sc_exec(void)
{
	body_exec();
}

static void sc_exec_nobody(void)
{
	AS(NOBODY, body_exec);
}

/* shmdt: only the start of an attachment. */
static void body_detach(void)
{
	int s = GET(IPC_PRIVATE, 3 * P, 0600);
	int local = 0;
	char *h = hole(40, 3);
	char *a = AT(s, h, 0);
	char *b;

	DT(NULL);
	DT(a + 1);
	DT(a + P - 1);
	DT(a + P);
	DT(a + 2 * P);
	DT(a + 3 * P);				/* the reservation after it */
	DT(a - P);				/* the reservation before it */
	DT(resv);
	DT(edge);
	DT(&local);
	DT((void *)-(intptr_t)P);
	DT((void *)(uintptr_t)0x7ffffffff000ull);
	NATTCH(s);
	PEEK(a, 0);
	DT(a);
	DT(a);
	NATTCH(s);
	refill(h, 3);
	/* two attachments: each its own */
	a = AT(s, NULL, 0);
	b = AT(s, NULL, SHM_RDONLY);
	POKE(a, 5, 6);
	DT(b);
	NATTCH(s);
	PEEK(a, 5);
	DT(b);
	DT(a);
	NATTCH(s);
	STAT(s);
	RMID(s);
}

static void sc_detach(void)
{
	body_detach();
}

static void sc_detach_nobody(void)
{
	AS(NOBODY, body_detach);
}

/* ---- contents ---- */

static void contents_child(void)
{
	int s = S->scratch[0];
	char *c = AT(s, NULL, 0);

	HASH(c, 0, 3 * P);
	POKE(c, 1, 0x42);
	DT(c);
}

/* A live peer: each waits for the other's write through its own attach. */
static void contents_peer(void)
{
	char *c = AT(S->scratch[0], NULL, 0);

	store_byte(c, 3 * P + 10, 1);
	await_byte(c, 3 * P + 11, 1);
	store_byte(c, 3 * P + 12, 2);
	await_byte(c, 3 * P + 13, 2);
	PEEK(c, 3 * P + 13);
}

/* The inherited attachment, written by the child. */
static void contents_inherit(void)
{
	store_byte(inh, 20, 0x77);
}

static void sc_contents(void)
{
	const size_t sz = 3 * P + 100;
	int s = S->scratch[0] = GET(KEY(1), sz, IPC_CREAT | 0600);
	char *a = AT(s, NULL, 0);
	char *b = AT(s, NULL, 0);
	struct kid k;

	ZERO(a, 0, 4 * P);			/* the whole last page too */
	POKE(a, 5, 7);
	PEEK(b, 5);
	POKE(b, 3 * P + 50, 9);			/* past segsz, in its page */
	PEEK(a, 3 * P + 50);
	fill(a, 0, 3 * P, 1);
	HASH(b, 0, 3 * P);
	/* another process, attached on its own, after and while we are */
	AS(SAME, contents_child);
	PEEK(a, 1);
	KID_SPAWN(&k, contents_peer);
	await_byte(a, 3 * P + 10, 1);
	PEEK(b, 3 * P + 10);
	store_byte(b, 3 * P + 11, 1);
	await_byte(a, 3 * P + 12, 2);
	PEEK(a, 3 * P + 12);
	store_byte(a, 3 * P + 13, 2);
	KID_READY(&k);
	KID_GO(&k);
	/* through the attachment a forked child inherits */
	inh = a;
	AS(SAME, contents_inherit);
	PEEK(b, 20);
	/* kept across detach and reattach, even by no one */
	DT(a);
	DT(b);
	STAT(s);
	a = AT(s, NULL, SHM_RDONLY);
	HASH(a, 0, 3 * P);
	PEEK(a, 1);
	PEEK(a, 20);
	PEEK(a, 3 * P + 50);
	DT(a);
	/* lost with the segment: a new one under the key is zero-filled */
	RMID(s);
	s = GET(KEY(1), sz, IPC_CREAT | 0600);
	a = AT(s, NULL, 0);
	ZERO(a, 0, 4 * P);
	DT(a);
	RMID(s);
}

/* Sizes: shm_segsz as asked, the mapping in whole pages, a guard after. */
static void sc_rounding(void)
{
	const size_t sizes[] = { 1, P - 1, P, P + 1, 2 * P - 1, 3 * P };

	for (int i = 0; i < 6; i++) {
		size_t sz = sizes[i], len = (sz + P - 1) / P * P;
		int s = GET(IPC_PRIVATE, sz, 0600);
		char *h = hole(64 + 8 * i, (int)(len / P));
		char *a = AT(s, h, 0);
		char *r;

		STAT(s);
		SINFO0();
		ZERO(a, 0, len);
		PROBE_W(a, len - 1, 0x5a);
		PROBE_W(a, len, 0x5a);		/* the reservation */
		PROBE_R(a, len);
		PEEK(a, len - 1);
		ZERO(a, 0, len - 1);
		r = AT(s, NULL, SHM_RDONLY);
		PEEK(r, len - 1);
		PEEK(r, sz - 1);
		DT(r);
		DT(a);
		refill(h, (int)(len / P));
		RMID(s);
	}
}

/* ---- nattch, lpid, times across fork, exit, exec and signals ---- */

static void fork_detach(void)
{
	int s = S->scratch[0];
	NATTCH(s);
	DT(inh);
	DT(inh);
	STAT(s);
}

static void fork_attach(void)
{
	AT(S->scratch[0], NULL, SHM_RDONLY);
	NATTCH(S->scratch[0]);
}

static void fork_grandchild(void)
{
	struct kid g;

	NATTCH(S->scratch[0]);
	KID(&g, NULL);
	NATTCH(S->scratch[0]);
	KID_GO(&g);
	NATTCH(S->scratch[0]);
}

/* Attaches that fail, after the id was found: nothing changes. */
static void fork_fail_attach(void)
{
	int u = S->scratch[1];

	AT(u, resv, 0);				/* in the way */
	AT(u, resv, SHM_RDONLY | SHM_EXEC);
	AT(u, NULL, SHM_EXEC);			/* EACCES: no x */
	AT(u, (void *)-(intptr_t)P, 0);		/* wraps */
	AT(u, (void *)(uintptr_t)0x7ffffffff000ull, SHM_RDONLY);
	STAT(u);
}

static void sc_fork(void)
{
	int s = S->scratch[0] = GET(IPC_PRIVATE, 2 * P, 0600);
	char *a = AT(s, NULL, 0);
	char *b = AT(s, NULL, SHM_RDONLY);
	struct kid k;

	STAT(s);
	inh = a;
	/* a forked child counts at once: fork itself attaches */
	KID_SPAWN(&k, NULL);
	STAT(s);
	KID_READY(&k);
	STAT(s);
	KID_GO(&k);
	STAT(s);
	/* the child detaches an inherited attachment itself */
	AS(SAME, fork_detach);
	STAT(s);
	/* exit with an attachment of its own */
	AS(SAME, fork_attach);
	STAT(s);
	/* a grandchild */
	AS(SAME, fork_grandchild);
	STAT(s);
	/* exec detaches */
	KID_EXEC(&k, fork_attach);
	KID_READY(&k);
	STAT(s);
	KID_GO(&k);
	STAT(s);
	/* death by a signal detaches */
	KID(&k, fork_attach);
	NATTCH(s);
	KID_KILL(&k, SIGKILL);
	STAT(s);
	KID(&k, fork_attach);
	KID_KILL(&k, SIGTERM);
	STAT(s);
	PROBE_W(b, 0, 1);			/* dies by SIGSEGV */
	STAT(s);
	/* failed attaches, by another process, leave every field alone */
	S->scratch[1] = GET(IPC_PRIVATE, 2 * P, 0644);
	AS(ROOT_NOIPC, fork_fail_attach);
	AS(NOBODY, fork_fail_attach);
	STAT(S->scratch[1]);
	RMID(S->scratch[1]);
	/* removed while only a child is attached: gone at its exit */
	KID(&k, NULL);
	DT(a);
	DT(b);
	RMID(s);
	STAT(s);
	a = AT(s, NULL, 0);
	NATTCH(s);
	DT(a);
	NATTCH(s);
	KID_GO(&k);
	STAT(s);
	AT(s, NULL, 0);
	SINFO0();
}

/* ---- the kernel counts mappings: mprotect, munmap, mremap ---- */

static void sc_vma(void)
{
	int s = GET(IPC_PRIVATE, 4 * P, 0600);
	int t = GET(IPC_PRIVATE, 2 * P, 0600);
	char *a, *b, *n;

	/* mprotect on part of an attachment splits it: one count a piece */
	a = AT(s, NULL, 0);
	fill(a, 0, 4 * P, 3);
	MPROTECT(a, P, P, PROT_READ);
	STAT(s);
	MPROTECT(a, P, P, PROT_READ | PROT_WRITE);
	NATTCH(s);
	MPROTECT(a, 0, 4 * P, PROT_READ | PROT_WRITE);
	NATTCH(s);
	DT(a + P);
	DT(a + 2 * P);
	DT(a);
	STAT(s);
	/* munmap of a part keeps the attachment, of the rest detaches */
	a = AT(s, NULL, 0);
	MUNMAP(a, 3 * P, P);
	NATTCH(s);
	PEEK(a, 2 * P);
	MUNMAP(a, 0, 3 * P);
	STAT(s);
	DT(a);
	/* shmdt at the start of an attachment whose first page is gone */
	a = AT(s, NULL, 0);
	MUNMAP(a, 0, P);
	NATTCH(s);
	DT(a + P);
	DT(a);
	NATTCH(s);
	/* the rest of a split attachment goes with the first piece */
	a = AT(s, NULL, SHM_RDONLY);
	MPROTECT(a, 2 * P, P, PROT_NONE);
	NATTCH(s);
	DT(a);
	NATTCH(s);
	/* mremap moves an attachment; shmdt at the new place */
	a = AT(s, NULL, 0);
	n = hole(128, 4);
	b = mremap(a, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, n);
	REC_B("mremap moved", b == n);
	NATTCH(s);
	HASH(n, 0, 4 * P);
	DT(a);
	DT(n);
	NATTCH(s);
	refill(n, 4);
	/* SHM_REMAP of another segment over the middle of an attachment */
	a = AT(s, NULL, 0);
	b = AT(t, a + P, SHM_REMAP);
	NATTCH(s);
	NATTCH(t);
	PEEK(a, 0);
	PEEK(a, 3 * P);
	DT(a + P);				/* t's */
	NATTCH(t);
	DT(a);					/* both pieces of s */
	NATTCH(s);
	DT(a + 3 * P);
	n = hole(140, 4);
	b = AT(t, n, 0);
	a = AT(s, b, SHM_REMAP);		/* over all of t's, and more */
	NATTCH(t);
	NATTCH(s);
	DT(a);					/* b is a */
	DT(b);
	refill(n, 4);
	/* a split attachment of a removed segment */
	a = AT(s, NULL, 0);
	MPROTECT(a, P, P, PROT_READ);
	RMID(s);
	STAT(s);
	DT(a);
	STAT(s);
	STAT(t);
	RMID(t);
	SINFO0();
}

/* ---- shmctl ---- */

static void body_ctl(void)
{
	struct shminfo si;
	int s = GET(KEY(1), 2 * P + 1, IPC_CREAT | 0640);
	int live[1] = { s };
	int r;
	char *a;

	/* unknown commands, and cmd < 0 or shmid < 0 for every command */
	CTL(s, -1, NULL);
	for (int cmd = 4; cmd <= 10; cmd++)
		CTL(s, cmd, NULL);
	CTL(s, 16, NULL);
	CTL(s, 100, NULL);
	CTL(s, INT_MAX, NULL);
	CTL(s, INT_MIN, NULL);
	CTL(s, IPC_STAT | 0x100, NULL);
	CTL(s, IPC_RMID | 0x100, NULL);
	CTL(s, SHM_LOCK | 0x100, NULL);
	CTL(-1, -1, NULL);
	CTL(BADID, 100, NULL);
	CTL(-1, IPC_INFO, &si);
	CTL(-1, SHM_INFO, &si);
	CTL(INT_MIN, IPC_INFO, &si);
	CTL(0, -1, &si);
	MSTAT(-1, SHM_STAT, -1);
	MSTAT(-1, SHM_STAT_ANY, -1);
	STAT(-1);
	SET(-1, 0, 0, 0600);
	RMID(-1);
	LOCK(-1);
	UNLOCK(-1);
	INFO(live, 1);
	memset(&si, 0, sizeof(si));
	errno = 0;
	r = O->ctl(BADID, IPC_INFO, (struct shmid_ds *)(void *)&si);
	REC_B("info any id ok", r == idx(s));
	REC_V("info any id errno", r < 0 ? errno : 0);
	INFO_AT(INT_MAX, live, 1);
	SINFO_AT(BADID, live, 1);

	/* a new segment, attached, detached */
	STAT(s);
	a = AT(s, NULL, 0);
	STAT(s);
	DT(a);
	STAT(s);

	/* IPC_SET: the low nine mode bits, uid, gid */
	SET(s, getuid(), getgid(), 07777);
	STAT(s);
	SET(s, getuid(), getgid(), 0);
	STAT(s);
	AT_DT(s, NULL, SHM_RDONLY);
	SET(s, getuid(), getgid(), 0640);
	SET(s, (uid_t)-1, getgid(), 0600);
	SET(s, getuid(), (gid_t)-1, 0600);
	STAT(s);
	SET_G(s, getuid(), 2000, 0660);
	STAT(s);
	SET(s, getuid(), getgid(), 0400);
	a = AT(s, NULL, SHM_RDONLY);
	AT_DT(s, NULL, 0);
	DT(a);
	SET(s, getuid(), getgid(), 0200);
	AT_DT(s, NULL, SHM_RDONLY);
	AT_DT(s, NULL, 0);
	STAT(s);
	/* SHM_LOCKED and SHM_DEST survive IPC_SET */
	SET(s, getuid(), getgid(), 0600);
	LOCK(s);
	SET(s, getuid(), getgid(), 0644);
	STAT(s);
	UNLOCK(s);
	STAT(s);

	/* give it away: the creator keeps the rights of an owner */
	SET(s, 1000, 1000, 0600);
	STAT(s);
	a = AT(s, NULL, 0);
	DT(a);
	SET(s, 1001, 1001, 0606);
	STAT(s);
	SET(s, 1001, 1001, 0060);
	STAT(s);
	a = AT(s, NULL, SHM_RDONLY);
	DT(a);
	LOCK(s);
	UNLOCK(s);
	SET(s, 1001, 1001, 0000);
	STAT(s);
	GET_SAME(KEY(1), 0, 0, s);
	GET_SAME(KEY(1), 0, 0400, s);
	GET_SAME(KEY(1), 2 * P + 1, 0600, s);
	MSTAT(idx(s), SHM_STAT, s);
	MSTAT(idx(s), SHM_STAT_ANY, s);
	SET(s, getuid(), getgid(), 0600);
	STAT(s);
	CTL(s, IPC_RMID, (void *)edge);		/* the buffer is not read */
	STAT(s);
	GET(KEY(1), 0, 0);
}

static void sc_ctl(void)
{
	body_ctl();
}

static void sc_ctl_nobody(void)
{
	AS(NOBODY, body_ctl);
}

static void sc_ctl_noipc(void)
{
	AS(ROOT_NOIPC, body_ctl);
}

/* ---- IPC_RMID ---- */

static void rmid_child(void)
{
	int s = S->scratch[0];

	RMID(s);
	STAT(s);
}

static void rmid_child_attach(void)
{
	int s = S->scratch[0];
	char *c = AT(s, NULL, 0);

	PEEK(c, 0);
	NATTCH(s);
}

static void sc_rmid(void)
{
	int s, t, u;
	char *a, *b;
	struct kid k;

	/* not attached: gone at once */
	s = GET(KEY(1), P, IPC_CREAT | 0600);
	SINFO0();
	RMID(s);
	STAT(s);
	RMID(s);
	AT(s, NULL, 0);
	GET(KEY(1), 0, 0);
	SINFO0();

	/* attached: SHM_DEST, the key is IPC_PRIVATE, shmat by id works */
	s = S->scratch[0] = GET(KEY(1), 2 * P, IPC_CREAT | 0600);
	a = AT(s, NULL, 0);
	POKE(a, 0, 5);
	RMID(s);
	STAT(s);
	SINFO0();
	GET(KEY(1), 0, 0);
	GET(KEY(1), 2 * P, 0600);
	t = GET(KEY(1), P, IPC_CREAT | IPC_EXCL | 0600);
	REC_B("new id differs", t != s);
	STAT(t);
	b = AT(s, NULL, SHM_RDONLY);
	PEEK(b, 0);
	STAT(s);
	MSTAT(idx(s), SHM_STAT, s);
	MSTAT(idx(s), SHM_STAT_ANY, s);
	SINFO0();
	RMID(s);
	STAT(s);
	SET(s, getuid(), getgid(), 0640);
	LOCK(s);
	STAT(s);
	UNLOCK(s);
	STAT(s);
	/* a forked child counts; the segment stays until the last detach */
	AS(SAME, rmid_child_attach);
	DT(a);
	STAT(s);
	DT(b);
	STAT(s);
	AT(s, NULL, 0);
	RMID(s);
	SET(s, getuid(), getgid(), 0600);
	MSTAT(idx(s), SHM_STAT_ANY, -1);
	SINFO0();
	RMID(t);

	/* removed by another process while we are attached */
	s = S->scratch[0] = GET(IPC_PRIVATE, P, 0600);
	a = AT(s, NULL, 0);
	AS(SAME, rmid_child);
	STAT(s);
	DT(a);
	STAT(s);

	/* removed while only a child is attached; the child detaches */
	s = S->scratch[0] = GET(KEY(2), P, IPC_CREAT | 0600);
	a = AT(s, NULL, 0);
	KID(&k, NULL);
	DT(a);
	RMID(s);
	STAT(s);
	GET(KEY(2), 0, 0);
	u = GET(KEY(2), P, IPC_CREAT | 0600);
	STAT(u);
	KID_GO(&k);
	STAT(s);
	RMID(u);
	SINFO0();
}

/* ---- SHM_LOCK and SHM_UNLOCK ---- */

static void lock_own(void)
{
	int s = GET(IPC_PRIVATE, 2 * P, 0600);

	LOCK(s);
	NATTCH(s);
	LOCK(s);
	UNLOCK(s);
	UNLOCK(s);
	NATTCH(s);
	LOCK(s);
	RMID(s);
	/* the locks of someone else's segment */
	LOCK(S->scratch[0]);
	UNLOCK(S->scratch[0]);
	NATTCH(S->scratch[0]);
	/* the creator's rights, after giving it away */
	s = GET(IPC_PRIVATE, P, 0600);
	SET(s, 1001, 1001, 0000);
	LOCK(s);
	NATTCH(s);
	UNLOCK(s);
	RMID(s);
}

/* RLIMIT_MEMLOCK of 3 pages: counted over all the user's locked segments. */
static void lock_rlimit(void)
{
	int s = GET(IPC_PRIVATE, 2 * P, 0600);
	int t = GET(IPC_PRIVATE, 2 * P, 0600);
	int u = GET(IPC_PRIVATE, 1, 0600);
	int v = GET(IPC_PRIVATE, 4 * P, 0600);

	LOCK(s);
	LOCK(t);
	LOCK(u);
	NATTCH(t);
	LOCK(v);
	UNLOCK(s);
	LOCK(t);
	NATTCH(t);
	UNLOCK(t);
	UNLOCK(u);
	LOCK(v);
	RMID(s);
	RMID(t);
	RMID(u);
	RMID(v);
}

static void lock_s(void)
{
	LOCK(S->scratch[0]);
	NATTCH(S->scratch[0]);
}

static void sc_lock(void)
{
	int s = S->scratch[0] = GET(IPC_PRIVATE, 2 * P, 0666);
	char *a;

	LOCK(s);
	STAT(s);
	LOCK(s);
	SINFO0();
	a = AT(s, NULL, 0);
	POKE(a, 0, 1);
	STAT(s);
	UNLOCK(s);
	STAT(s);
	UNLOCK(s);
	LOCK(s);
	/* others: EPERM unless owner, creator or CAP_IPC_LOCK */
	AS(NOBODY, lock_own);
	AS(U1000, lock_own);
	AS(ROOT_NOLOCK, lock_own);
	AS(ROOT_NOLOCK0, lock_own);
	AS(U1004NOLOCK, lock_own);
	AS(U1004LOCK3, lock_rlimit);
	STAT(s);
	SET(s, 1000, 1000, 0600);
	AS(U1000, lock_s);
	AS(ROOT_NOLOCK, lock_s);
	STAT(s);
	DT(a);
	RMID(s);
	STAT(s);
}

/* ---- IPC_INFO, SHM_INFO, SHM_STAT, SHM_STAT_ANY ---- */

static void sc_info(void)
{
	int live[4] = { -1, -1, -1, -1 };
	int unused, gone;
	char *a;

	INFO(live, 4);
	SINFO(live, 4);
	INFO_AT(BADID, live, 4);
	live[0] = GET(IPC_PRIVATE, 1, 0600);
	live[1] = GET(KEY(1), 5 * P, IPC_CREAT | 0640);
	live[2] = GET(KEY(2), 2 * P + 1, IPC_CREAT | 0000);
	a = AT(live[0], NULL, 0);
	INFO(live, 4);
	SINFO(live, 4);
	for (int i = 0; i < 3; i++) {
		MSTAT(idx(live[i]), SHM_STAT, live[i]);
		MSTAT(idx(live[i]), SHM_STAT_ANY, live[i]);
		MSTAT(live[i], SHM_STAT, live[i]);
		MSTAT(idx(live[i]) + 5 * 32768, SHM_STAT_ANY, live[i]);
	}
	unused = 0;
	for (int i = 0; i < 3; i++)
		if (idx(live[i]) >= unused)
			unused = idx(live[i]) + 5;
	MSTAT(unused, SHM_STAT, -1);
	MSTAT(unused, SHM_STAT_ANY, -1);
	MSTAT(32767, SHM_STAT, -1);
	MSTAT(INT_MAX, SHM_STAT, -1);
	gone = live[1];
	RMID(live[1]);
	live[1] = -1;
	MSTAT(idx(gone), SHM_STAT, -1);
	MSTAT(idx(gone), SHM_STAT_ANY, -1);
	SINFO(live, 4);
	live[3] = GET(KEY(3), 3 * P, IPC_CREAT | 0600);
	MSTAT(idx(live[3]), SHM_STAT, live[3]);
	INFO(live, 4);
	SINFO(live, 4);
	RMID(live[2]);
	live[2] = -1;
	SINFO(live, 4);
	/* removed but attached: still counted, still at its index */
	RMID(live[0]);
	SINFO(live, 4);
	MSTAT(idx(live[0]), SHM_STAT, live[0]);
	DT(a);
	live[0] = -1;
	SINFO(live, 4);
	RMID(live[3]);
	live[3] = -1;
	INFO(live, 4);
	SINFO(live, 4);
}

/* shm_rss exactly: the pages touched, by whom and how. */
static void rss_write(void)
{
	POKE(inh, 4 * P, 1);
}

static void sc_rss(void)
{
	int s = GET(IPC_PRIVATE, 8 * P, 0600);
	int t = GET(IPC_PRIVATE, 3 * P, 0600);
	char *a, *b, *r;

	SINFO_RSS();
	a = AT(s, NULL, 0);
	SINFO_RSS();
	POKE(a, 0, 1);
	SINFO_RSS();
	PEEK(a, 2 * P);				/* a read fault allocates too */
	SINFO_RSS();
	POKE(a, 8 * P - 1, 1);
	POKE(a, 8 * P - 2, 1);
	SINFO_RSS();
	b = AT(t, NULL, 0);
	POKE(b, P, 1);
	SINFO_RSS();
	inh = a;
	AS(SAME, rss_write);
	SINFO_RSS();
	r = AT(s, NULL, SHM_RDONLY);
	PEEK(r, 5 * P);
	SINFO_RSS();
	DT(a);
	DT(b);
	DT(r);
	SINFO_RSS();				/* detaching frees nothing */
	LOCK(s);
	SINFO_RSS();
	UNLOCK(s);
	RMID(t);
	SINFO_RSS();
	RMID(s);
	SINFO_RSS();
}

/* ---- EFAULT ---- */

static void efault_other(void)
{
	int s = S->scratch[0];

	CTL(s, IPC_STAT, NULL);			/* EACCES: checked first */
	CTL(idx(s), SHM_STAT, NULL);
	CTL(idx(s), SHM_STAT_ANY, NULL);
	CTL(s, IPC_SET, NULL);			/* EFAULT: read first */
	CTL(s, IPC_SET, edge);			/* EPERM */
	CTL(s, IPC_INFO, NULL);
	CTL(s, SHM_INFO, NULL);
}

static void body_efault(void)
{
	struct shmid_ds *halfds = (struct shmid_ds *)(void *)(edge + P - 16);
	void *halfinfo = edge + P - 16;
	int s = GET(IPC_PRIVATE, P, 0600);

	CTL(s, IPC_STAT, NULL);
	CTL(s, IPC_STAT, halfds);
	CTL(s, IPC_STAT, edge + P);
	CTL(BADID, IPC_STAT, NULL);
	CTL(-1, IPC_STAT, NULL);
	CTL(s, IPC_SET, NULL);
	CTL(s, IPC_SET, halfds);
	CTL(BADID, IPC_SET, NULL);		/* EFAULT: read first */
	CTL(-1, IPC_SET, NULL);
	CTL(0, IPC_INFO, NULL);
	CTL(0, SHM_INFO, NULL);
	CTL(BADID, IPC_INFO, halfinfo);
	CTL(BADID, SHM_INFO, halfinfo);
	CTL(-1, IPC_INFO, NULL);
	CTL(idx(s), SHM_STAT, NULL);
	CTL(idx(s), SHM_STAT_ANY, NULL);
	CTL(idx(s), SHM_STAT, halfds);
	CTL(BADID, SHM_STAT, NULL);
	CTL(BADID, SHM_STAT_ANY, NULL);
	CTL(s, IPC_RMID, edge + P);		/* not read */
	STAT(s);
	s = GET(IPC_PRIVATE, P, 0600);
	LOCK(s);
	CTL(s, SHM_UNLOCK, edge + P);
	STAT(s);

	/* another user, without permission: the checks before the copy */
	S->scratch[0] = s;
	if (geteuid() == 0)
		AS(NOBODY, efault_other);
	STAT(s);
	RMID(s);
}

static void sc_efault(void)
{
	body_efault();
}

static void sc_efault_nobody(void)
{
	AS(U1000, body_efault);
}

/* ---- the permission matrix (diff.h) ---- */

#define NMODES 14
static const unsigned modes[NMODES] = {
	0000, 0400, 0200, 0600, 0700, 0500, 0100,
	0040, 0020, 0060, 0004, 0006, 0007, 0644,
};

#define MKEY(i) KEY(0x100 + (i))
#define VKEY KEY(0x1ff)

/* As the creator: the segments (a byte written), then the owner and mode. */
static void mx_create(void)
{
	for (int i = 0; i < NMODES; i++) {
		int id = S->ids[i] = GET(MKEY(i), P, IPC_CREAT | IPC_EXCL | 0600);
		char *a = AT(id, NULL, 0);

		POKE(a, 0, (unsigned char)(i + 1));
		DT(a);
		SET(id, S->ouid, S->ogid, modes[i]);
	}
}

static void mx_victim(void)
{
	S->victim = GET(VKEY, 1, IPC_CREAT | IPC_EXCL | 0600);
	SET(S->victim, S->ouid, S->ogid, 0600);
}

/* As the accessor: everything a program may try on each segment. */
static void mx_access(void)
{
	char *h = resv + 200 * P;		/* reserved: in the way */

	for (int i = 0; i < NMODES; i++) {
		int id = S->ids[i];
		char *a;

		GET_SAME(MKEY(i), 0, 0, id);
		GET_SAME(MKEY(i), 0, 0400, id);
		GET_SAME(MKEY(i), 0, 0200, id);
		GET_SAME(MKEY(i), P, 0600, id);
		GET_SAME(MKEY(i), 0, 0100, id);
		GET_SAME(MKEY(i), 0, 0066, id);
		GET_SAME(MKEY(i), 1, 0004, id);
		GET_SAME(MKEY(i), 0, IPC_CREAT | 0444, id);
		GET_SAME(MKEY(i), 0, SHM_HUGETLB | 0040, id);
		GET(MKEY(i), P + 1, 0);			/* EINVAL first */
		GET(MKEY(i), P + 1, 0600);
		GET(MKEY(i), P, IPC_CREAT | IPC_EXCL | 0666);
		STAT(id);
		MSTAT(idx(id), SHM_STAT, id);
		MSTAT(idx(id), SHM_STAT_ANY, id);
		a = AT(id, NULL, SHM_RDONLY);
		PEEK(a, 0);
		if (a != FAILED)
			DT(a);
		a = AT(id, NULL, 0);
		if (a != FAILED) {
			POKE(a, 1, (unsigned char)(i + 1));
			DT(a);
		}
		a = AT(id, NULL, SHM_EXEC | SHM_RDONLY);
		if (a != FAILED)
			DT(a);
		a = AT(id, NULL, SHM_EXEC);
		if (a != FAILED)
			DT(a);
		AT(id, h + 1, SHM_RDONLY);		/* EINVAL first */
		AT(id, NULL, SHM_REMAP);		/* EINVAL first */
		AT(id, h, SHM_RDONLY);			/* in the way: after */
		LOCK(id);
		UNLOCK(id);
		CTL(id, IPC_STAT, NULL);
		SET(id, S->ouid, S->ogid, modes[i]);
	}
	int live[NMODES + 1];

	memcpy(live, S->ids, NMODES * sizeof(live[0]));
	live[NMODES] = S->victim;
	SINFO(live, NMODES + 1);
	int r = RMID(S->victim);
	live[NMODES] = r == 0 ? -1 : S->victim;
	SINFO(live, NMODES + 1);
	STAT(S->victim);
	GET(VKEY, 0, 0);
	if (r == 0)
		S->victim = -1;
}

/* As root, between accessors: what they did, then mode and owner again. */
static void mx_refill(void)
{
	for (int i = 0; i < NMODES; i++) {
		int id = S->ids[i];
		char *a = AT(id, NULL, 0);

		PEEK(a, 0);
		PEEK(a, 1);
		POKE(a, 1, 0);
		DT(a);
		UNLOCK(id);
		SET(id, S->ouid, S->ogid, modes[i]);
		STAT(id);
	}
	if (S->victim >= 0)
		RMID(S->victim);
	S->victim = -1;
}

static void rmid_(int line, int id)
{
	ctl_(line, id, IPC_RMID, NULL);
}

static const struct perm_matrix shm_matrix = {
	.nmodes = NMODES, .create = mx_create,
	.victim = mx_victim, .access = mx_access, .refill = mx_refill,
	.stat = stat_, .remove = rmid_,
	.caps_accessors = { &ROOT_NOIPC, &ROOT_NOADM, &ROOT_NOLOCK, &ROOT_NONE },
};

/* ================================ driver ================================= */

static const struct scenario scenarios[] = {
	{ "get", sc_get },
	{ "get_nobody", sc_get_nobody },
	{ "enospc", sc_enospc },
	{ "shmmni_full", sc_shmmni_full },
	{ "noreserve", sc_noreserve },
	{ "hugetlb", sc_hugetlb },
	{ "attach", sc_attach },
	{ "attach_nobody", sc_attach_nobody },
	{ "attach_low", sc_attach_low },
	{ "rdonly", sc_rdonly },
	{ "rdonly_nobody", sc_rdonly_nobody },
	{ "exec", sc_exec },
	{ "exec_nobody", sc_exec_nobody },
	{ "detach", sc_detach },
	{ "detach_nobody", sc_detach_nobody },
	{ "contents", sc_contents },
	{ "rounding", sc_rounding },
	{ "fork", sc_fork },
	{ "vma", sc_vma },
	{ "ctl", sc_ctl },
	{ "ctl_nobody", sc_ctl_nobody },
	{ "ctl_noipc", sc_ctl_noipc },
	{ "rmid", sc_rmid },
	{ "lock", sc_lock },
	{ "info", sc_info },
	{ "rss", sc_rss },
	{ "efault", sc_efault },
	{ "efault_nobody", sc_efault_nobody },
	PERM_SCENARIOS,
};

/*
 * Known, documented differences (README), run only when asked for: fork (its
 * counts match, but its fork_fail_attach drops CAP_IPC_OWNER with a raw
 * capset(), which uipc, caching credentials, sees only through the preload
 * library's capset: the attach with SHM_EXEC goes on); vma (Linux counts the
 * pieces mprotect, munmap and mremap make of an attachment, uipc the
 * attachments).
 */
static const char *const on_request_only[] = { "fork", "vma", NULL };

static void start_run(int uipc)
{
	O = uipc ? &uipc_ops : &kernel_ops;
	edge = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (edge == MAP_FAILED || mprotect(edge + P, P, PROT_NONE))
		_exit(92);
	resv = mmap(NULL, RESV * P, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED)
		_exit(93);
}

/* The image a scenario's child execs: ready, then wait for the word. */
static int exec_probe(const char *rfd, const char *gfd)
{
	char c = 'e';

	alarm(8);
	if (write(atoi(rfd), &c, 1) != 1)
		return 4;
	while (read(atoi(gfd), &c, 1) < 0 && errno == EINTR)
		;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct diff_test shm_test = {
		.name = "shm_diff",
		.env = "SHM_DIFF",
		.scenarios = scenarios,
		.nscenarios = sizeof(scenarios) / sizeof(scenarios[0]),
		.on_request = on_request_only,
		.matrix = &shm_matrix,
		.start_run = start_run,
	};

	if (argc == 4 && !strcmp(argv[1], "--exec-probe"))
		return exec_probe(argv[2], argv[3]);
	P = (size_t)sysconf(_SC_PAGESIZE);
	return diff_main(&shm_test);
}
