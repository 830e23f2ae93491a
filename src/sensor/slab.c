/*
 * slab.c - per-flow states on 2 MiB slabs with transparent huge pages (see sensor.h).
 *
 * The pipeline touches a flow's parser state on most packets of the flow, in random order
 * over tens of thousands of flows. From malloc the states (100-1100 bytes) lie scattered
 * over the whole heap's 4 KiB pages, and each touch was also a TLB miss: a page walk,
 * costly under virtualisation (the look-ahead's prefetch of the state stalled on it). Here
 * they come from 2 MiB-aligned slabs advised as huge pages, in size classes of 16 bytes
 * (as malloc's chunks, without their 8-byte header: no more memory per flow than the heap;
 * each class is carved from runs of 16 KiB of its own, so an item is aligned to the largest
 * power of two up to 64 that divides its class, and a 64-byte multiple starts on a cache
 * line, without padding between items), recycled through a free list per class; the
 * slabs are kept until their allocator is released (a pipeline's lifetime), as malloc keeps
 * its heap.
 *
 * A thread's newest allocator serves net_slab_state_new (the pipeline binds its own); a
 * free is matched to its allocator by the slab its address lies in, so a state outlives the
 * binding of another allocator, and one from the heap (no allocator bound, too large, a
 * failed mmap) goes back to the heap. Under AddressSanitizer free items are poisoned.
 */
#include <string.h>
#include <sys/mman.h>

#include "bannin/alloc.h"
#include "sensor/sensor.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_SIZE (2u << 20)
#define GRAIN 16u
#define RUN (16u << 10) /* bytes a class takes from a slab at a time */

_Static_assert(NET_SLAB_CLASSES * GRAIN <= RUN / 8 && SLAB_SIZE % RUN == 0,
               "a run holds several items of any class, a slab whole runs");

/* The thread's allocators, newest first (net_slab_state_new uses the first). */
static _Thread_local struct net_slab *tl_slabs;

static size_t
class_of(size_t size)
{
    return (size + GRAIN - 1) / GRAIN - 1; /* 1..16 bytes: class 0 */
}

/* Bytes of an item of class c, and the alignment it gets. */
#define CLASS_BYTES(c) (((c) + 1) * GRAIN)


void
net_slab_init(struct net_slab *s)
{
    memset(s, 0, sizeof(*s));
}

void
net_slab_release(struct net_slab *s)
{
    net_slab_unbind(s);
    for (size_t i = 0; i < s->nslabs; i++) {
        UNPOISON(s->slabs[i], SLAB_SIZE);
        munmap(s->slabs[i], SLAB_SIZE);
    }
    bn_free(s->slabs);
    bn_free(s->set);
    memset(s, 0, sizeof(*s));
}

void
net_slab_bind(struct net_slab *s)
{
    net_slab_unbind(s);
    s->bound_next = tl_slabs;
    s->bound = true;
    tl_slabs = s;
}

void
net_slab_unbind(struct net_slab *s)
{
    if (!s->bound)
        return;
    for (struct net_slab **pp = &tl_slabs; *pp; pp = &(*pp)->bound_next) {
        if (*pp == s) {
            *pp = s->bound_next;
            break;
        }
    }
    s->bound = false;
    s->bound_next = NULL;
}

/* A slab's slot in the set: its address's bits above the slab size, mixed (slabs come
 * from mmap at neighbouring addresses). */
static inline size_t
set_slot(uintptr_t a, size_t mask)
{
    uint64_t h = (uint64_t)(a / SLAB_SIZE) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & mask;
}

static void
set_put(uintptr_t *set, size_t mask, uintptr_t a)
{
    size_t i = set_slot(a, mask);

    while (set[i])
        i = (i + 1) & mask;
    set[i] = a;
}

/* Room in the set for one more slab (at most a quarter full). */
static bool
set_grow(struct net_slab *s)
{
    if (s->set && (s->nslabs + 1) * 4 <= s->set_mask + 1)
        return true;
    size_t n = s->set ? (s->set_mask + 1) * 2 : 16;
    uintptr_t *set = bn_calloc(n, sizeof(*set));
    if (!set)
        return false;
    for (size_t i = 0; i < s->nslabs; i++)
        set_put(set, n - 1, (uintptr_t)s->slabs[i]);
    bn_free(s->set);
    s->set = set;
    s->set_mask = n - 1;
    return true;
}

/* A new 2 MiB-aligned slab (mapped twice the size, the unaligned ends returned). */
static bool
slab_new(struct net_slab *s)
{
    void **list = bn_reallocarray(s->slabs, s->nslabs + 1, sizeof(*list));
    if (!list)
        return false;
    s->slabs = list;
    if (!set_grow(s))
        return false;
    char *m = mmap(NULL, 2 * SLAB_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED)
        return false;
    char *a = (char *)(((uintptr_t)m + SLAB_SIZE - 1) & ~(uintptr_t)(SLAB_SIZE - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    munmap(a + SLAB_SIZE, (size_t)(m + 2 * SLAB_SIZE - (a + SLAB_SIZE)));
#ifdef MADV_HUGEPAGE
    (void)madvise(a, SLAB_SIZE, MADV_HUGEPAGE);
#endif
    POISON(a, SLAB_SIZE);
    s->slabs[s->nslabs++] = a;
    set_put(s->set, s->set_mask, (uintptr_t)a);
    s->next = a;
    s->end = a + SLAB_SIZE;
    return true;
}

void *
net_slab_alloc(struct net_slab *s, size_t size)
{
    size_t c = class_of(size ? size : 1);
    void *p;

    if (c >= NET_SLAB_CLASSES)
        return NULL;
    if (s->free_[c]) {
        p = s->free_[c];
        UNPOISON(p, CLASS_BYTES(c));
        memcpy(&s->free_[c], p, sizeof(void *));
        return p;
    }
    if ((size_t)(s->run_end_[c] - s->run_[c]) < CLASS_BYTES(c)) {
        /* a new run for the class (runs start on 16 KiB boundaries) */
        if (s->next == s->end && !slab_new(s))
            return NULL;
        s->run_[c] = s->next;
        s->run_end_[c] = s->next + RUN;
        s->next += RUN;
    }
    p = s->run_[c];
    s->run_[c] += CLASS_BYTES(c);
    UNPOISON(p, CLASS_BYTES(c));
    return p;
}

bool
net_slab_owns(const struct net_slab *s, const void *p)
{
    uintptr_t base = (uintptr_t)p & ~(uintptr_t)(SLAB_SIZE - 1);

    if (!s->set)
        return false;
    for (size_t i = set_slot(base, s->set_mask); s->set[i]; i = (i + 1) & s->set_mask)
        if (s->set[i] == base)
            return true;
    return false;
}

void
net_slab_put(struct net_slab *s, void *p, size_t size)
{
    size_t c = class_of(size ? size : 1);

    memcpy(p, &s->free_[c], sizeof(void *));
    s->free_[c] = p;
    POISON(p, CLASS_BYTES(c));
}

void *
net_slab_state_new(size_t size)
{
    struct net_slab *s = tl_slabs;
    void *p = s ? net_slab_alloc(s, size) : NULL;

    if (!p)
        return bn_calloc(1, size);
    memset(p, 0, size);
    return p;
}

void
net_slab_state_free(void *p, size_t size)
{
    if (!p)
        return;
    for (struct net_slab *s = tl_slabs; s; s = s->bound_next) {
        if (net_slab_owns(s, p)) {
            net_slab_put(s, p, size);
            return;
        }
    }
    bn_free(p);
}
