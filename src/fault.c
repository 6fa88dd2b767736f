/*
 * fault.c - deterministic fault injection, in builds with -DUIPC_FAULT only
 * (make fault; the normal build compiles this file to nothing and every
 * FAULT_STEP() to nothing).
 *
 * Every step of a path that changes shared state (taking an object or record
 * lock, each store of a redo log or journal, each file operation of creating
 * or removing an object, registering a sleeper, releasing a lock) is marked
 * with FAULT_STEP() just before it.  A test arms the process with
 * uipc_fault_arm(k): the steps are counted from then on, and the k-th kills
 * the process with SIGKILL before it is taken, so that a test can walk every
 * step of an operation (k = 1, 2, ... until the operation completes) and
 * check after each death that the objects are consistent and usable.  The
 * sites ("src/msg.c:123") of the first SITES_MAX steps are kept, for the test
 * to report which distinct steps it covered.
 *
 * Locking: the counters are atomics; a forked child inherits the parent's
 * arming (and re-arms, usually, since it runs the operation to walk).
 */
#ifdef UIPC_FAULT
#include <signal.h>
#include <unistd.h>
#include "internal.h"

#define SITES_MAX 4096

static _Atomic bool armed;
static _Atomic long kill_at;		/* 0: count only */
static _Atomic long counted;
static const char *_Atomic sites[SITES_MAX];

void uipc__fault_step(const char *site)
{
	long n;

	if (!atomic_load_explicit(&armed, memory_order_acquire))
		return;
	n = atomic_fetch_add(&counted, 1) + 1;
	if (n <= SITES_MAX)
		atomic_store_explicit(&sites[n - 1], site, memory_order_relaxed);
	if (n == atomic_load(&kill_at)) {
		kill(getpid(), SIGKILL);
		for (;;)
			pause();
	}
}

__attribute__((visibility("default")))
void uipc_fault_arm(long step)
{
	atomic_store(&armed, false);
	atomic_store(&counted, 0);
	atomic_store(&kill_at, step > 0 ? step : 0);
	atomic_store_explicit(&armed, step >= 0, memory_order_release);
}

__attribute__((visibility("default")))
long uipc_fault_steps(void)
{
	return atomic_load(&counted);
}

__attribute__((visibility("default")))
const char *uipc_fault_site(long i)
{
	if (i < 1 || i > SITES_MAX || i > atomic_load(&counted))
		return NULL;
	return atomic_load_explicit(&sites[i - 1], memory_order_relaxed);
}
#endif
