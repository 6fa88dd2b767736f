/*
 * handle.c - a process's handles on objects: the id -> mapping cache.
 *
 * A handle is one process's mapping of one object (store.c opens and maps
 * it).  Handles come from a pool that is never freed, so a pointer to one
 * stays valid memory forever; what protects a mapping is the reference
 * count, whose high 32 bits are a generation.  Taking a reference is a
 * compare-and-swap that fails once the handle was reclaimed (count 0,
 * generation bumped), so a racing thread can never revive a stale handle.
 *
 * The cache maps (kind, slot) to a handle with one 64-bit word, generation
 * << 32 | pool index + 1, and holds one reference of its own, dropped when
 * the object turns out removed or its slot holds a newer id.
 *
 * Each thread also keeps a reference to the handles it used last
 * (tls_cache), so that its next call on the same object takes no atomic
 * read-modify-write at all: the fast path is a few loads.
 *
 * When an object grows, its handle gets a larger view; the old views stay
 * mapped until the handle is reclaimed, so a pointer taken from any view
 * stays valid for the whole call that took it.
 *
 * Locking: 'pool_lock' serialises the pool (allocation and reclaiming); it
 * is held across fork().  'grow' in each handle serialises its view swaps.
 * Everything else is atomic.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include "internal.h"

struct view {
	void *base;
	size_t len;
	struct view *next;
};

#define CHUNK 256
#define MAX_CHUNKS 4096
static struct handle *chunks[MAX_CHUNKS];
static uint32_t pool_used;
static struct handle *free_handles;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t cache[KIND_COUNT][IPC_SLOTS];

static void atfork_prepare(void) { pthread_mutex_lock(&pool_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&pool_lock); }
static void atfork_child(void) { pthread_mutex_init(&pool_lock, NULL); }
static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static struct handle *handle_at(uint32_t index)
{
	return &chunks[index / CHUNK][index % CHUNK];
}

/* A new handle on a mapping, holding one reference. */
struct handle *uipc__handle_new(int kind, int id, ino_t ino, char *base, size_t len, bool writable)
{
	struct handle *h;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&pool_lock);
	h = free_handles;
	if (h) {
		free_handles = h->next_free;
	} else if (pool_used / CHUNK < MAX_CHUNKS &&
		   (chunks[pool_used / CHUNK] ||
		    (chunks[pool_used / CHUNK] = calloc(CHUNK, sizeof(struct handle))))) {
		h = handle_at(pool_used);
		h->index = pool_used++;
		pthread_mutex_init(&h->grow, NULL);
	}
	pthread_mutex_unlock(&pool_lock);
	if (!h)
		return NULL;
	h->id = id;
	h->kind = kind;
	h->ino = ino;
	h->data_ino = 0;
	h->old = NULL;
	h->writable = writable;
	h->undo_pid = 0;
	h->undo_index = 0;
	h->pinned = false;
	h->free_bytes = -1;
	h->free_mode = 0;
	atomic_store(&h->base, base);
	atomic_store(&h->len, len);
	atomic_store(&h->rc, (atomic_load(&h->rc) >> 32) << 32 | 1);
	return h;
}

static uint64_t cache_word(struct handle *h)
{
	return (atomic_load(&h->rc) >> 32) << 32 | (h->index + 1);
}

/* Take a reference if the handle is still of generation 'gen'. */
static bool handle_ref(struct handle *h, uint64_t gen)
{
	uint64_t c = atomic_load_explicit(&h->rc, memory_order_acquire);

	while (c >> 32 == gen && (uint32_t)c != 0)
		if (atomic_compare_exchange_weak(&h->rc, &c, c + 1))
			return true;
	return false;
}

void uipc__handle_unref(struct handle *h)
{
	uint64_t c = atomic_fetch_sub(&h->rc, 1);
	struct view *v, *next;

	if ((uint32_t)c != 1)
		return;
	/* Last reference: nobody can take another (handle_ref needs one). */
	atomic_store(&h->rc, ((c >> 32) + 1) << 32);
	munmap(atomic_load(&h->base), atomic_load(&h->len));
	for (v = h->old; v; v = next) {
		next = v->next;
		munmap(v->base, v->len);
		free(v);
	}
	h->old = NULL;
	pthread_mutex_lock(&pool_lock);
	h->next_free = free_handles;
	free_handles = h;
	pthread_mutex_unlock(&pool_lock);
}

/* Replace the handle's view by a larger one; called with h->grow held. */
int uipc__handle_swap_view(struct handle *h, char *base, size_t len)
{
	struct view *v = malloc(sizeof(*v));

	if (!v) {
		munmap(base, len);
		return -ENOMEM;
	}
	v->base = atomic_load(&h->base);
	v->len = atomic_load(&h->len);
	v->next = h->old;
	h->old = v;
	atomic_store(&h->base, base);
	atomic_store(&h->len, len);
	return 0;
}

/* Drop the cache's reference to h, if the cache still holds it. */
void uipc__handle_retire(struct handle *h)
{
	_Atomic uint64_t *c = &cache[h->kind][id_slot(h->id)];
	uint64_t word = cache_word(h);

	if (atomic_compare_exchange_strong(c, &word, 0))
		uipc__handle_unref(h);
}

/*
 * Keep h mapped for the life of the process: a thread holds a robust mutex
 * in it, and the kernel walks that thread's robust list at its exit.
 */
void uipc__handle_pin(struct handle *h)
{
	atomic_fetch_add(&h->rc, 1);
}

/* Put a fresh handle into the cache, which takes a reference of its own. */
void uipc__handle_install(struct handle *h)
{
	_Atomic uint64_t *c = &cache[h->kind][id_slot(h->id)];
	uint64_t old;
	struct handle *prev;

	atomic_fetch_add(&h->rc, 1);
	old = atomic_exchange(c, cache_word(h));
	if (old) {
		prev = handle_at((uint32_t)old - 1);
		if (handle_ref(prev, old >> 32)) {
			uipc__handle_unref(prev);	/* ours */
			uipc__handle_unref(prev);	/* the cache's */
		}
	}
}

/* The handle the cache holds for a slot, with a reference, or NULL. */
struct handle *uipc__handle_of_slot(int kind, int slot)
{
	uint64_t w = atomic_load_explicit(&cache[kind][slot], memory_order_acquire);
	struct handle *h;

	if (!w)
		return NULL;
	h = handle_at((uint32_t)w - 1);
	return handle_ref(h, w >> 32) ? h : NULL;
}

/* A read-write handle for id, from the cache or opened; one reference. */
static struct handle *handle_lookup(const struct obj_ops *ops, int id, int *err)
{
	_Atomic uint64_t *c = &cache[ops->kind][id_slot(id)];
	uint64_t w = atomic_load_explicit(c, memory_order_acquire);
	struct handle *h;

	if (likely(w)) {
		h = handle_at((uint32_t)w - 1);
		if (likely(handle_ref(h, w >> 32))) {
			if (likely(hobj(h)->id == id &&
				   atomic_load_explicit(&hobj(h)->state, memory_order_relaxed) == OBJ_LIVE))
				return h;
			/* Files waiting to be recycled stay (slot_files.c). */
			if (atomic_load(&hobj(h)->state) == OBJ_REMOVED &&
			    atomic_compare_exchange_strong(c, &w, 0))
				uipc__handle_unref(h);	/* the cache's */
			uipc__handle_unref(h);
		}
	}
	h = uipc__open_id(ops, id, false, err);
	if (h)
		uipc__handle_install(h);
	return h;
}

/* The thread's own references (internal.h: uipc__handle_get). */
__thread struct tls_entry uipc__tls_cache[TLS_ENTRIES];
#define tls_cache uipc__tls_cache
static __thread bool tls_registered;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_drop(void *unused)
{
	int i;

	(void)unused;
	for (i = 0; i < TLS_ENTRIES; i++)
		if (tls_cache[i].h && !tls_cache[i].busy) {
			uipc__handle_unref(tls_cache[i].h);
			tls_cache[i].h = NULL;
		}
}

static void tls_key_create(void)
{
	pthread_key_create(&tls_key, tls_drop);
}

/* The slow part of uipc__handle_get (internal.h): not the thread's last. */
struct handle *uipc__handle_get_slow(const struct obj_ops *ops, int id, int *err)
{
	struct tls_entry *e;
	struct handle *h;

	if (id < 0) {
		*err = -EINVAL;
		return NULL;
	}
	e = tls_entry_of(ops->kind, id);
	h = e->h;
	if (h && !e->busy) {	/* stale or another object: let it go */
		e->h = NULL;
		uipc__handle_unref(h);
	}
	h = handle_lookup(ops, id, err);
	if (h && !e->h) {
		if (!tls_registered) {
			pthread_once(&tls_once, tls_key_create);
			pthread_setspecific(tls_key, &tls_registered);
			tls_registered = true;
		}
		e->h = h;	/* the caller's reference becomes the thread's */
		e->id = id;
		e->kind = ops->kind;
		e->busy = 1;
	}
	return h;
}


