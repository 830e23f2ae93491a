/*
 * ndr_table.c - the bounded LRU hash table behind every piece of NDR state (per source, per
 * pair, per probe), plus the detector's SipHash and the distinct-count sketch.
 *
 * Open addressing keyed by SipHash-2-4 with a per-detector random key, so an attacker who
 * picks addresses and ports cannot aim at one run of slots. The table doubles its slots up
 * to twice its entry bound; at the bound, the oldest entry not seen since it was queued is
 * reused (evictions; approximate LRU with second chances, see ndr_int.h). Entries come from
 * slabs and stay there until the table is released (at most `max` of them: a table's memory
 * is its high-water mark, bounded by its configuration).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "bannin/alloc.h"
#include "bannin/error.h"

#include "sensor/ndr_int.h"

#define INITIAL_SLOTS  128
#define SECOND_CHANCES 8 /* entries requeued before one is evicted regardless */

static size_t
align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static uint64_t
tab_hash(const struct ndr_tab *t, const void *key)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, key, t->key_size, t->hkey);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h;
}

uint64_t
ndr_hash(const struct ndr *d, const void *p, size_t n)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, p, n, d->hkey);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h;
}

static inline void *
ent_key(const struct ndr_tab *t, struct ndr_ent *e)
{
    return (char *)e + t->key_off;
}

static inline void *
ent_val(const struct ndr_tab *t, struct ndr_ent *e)
{
    return (char *)e + t->val_off;
}

static inline struct ndr_ent *
val_ent(const struct ndr_tab *t, const void *val)
{
    return (struct ndr_ent *)((char *)val - t->val_off);
}

/* The entry numbered idx (idx < t->used). */
static inline struct ndr_ent *
ent_at(const struct ndr_tab *t, uint32_t idx)
{
    return (struct ndr_ent *)(t->slabs[idx >> NDR_TAB_SLAB_SHIFT] +
                              (size_t)(idx & (NDR_TAB_SLAB - 1)) * t->ent_size);
}

/* Slots for max entries at load 1/2 (a power of two, at least INITIAL_SLOTS). */
static size_t
slots_max(size_t max)
{
    size_t n = INITIAL_SLOTS;
    while (n < max * 2 && n < ((size_t)1 << 32))
        n *= 2;
    return n;
}

int
ndr_tab_init(struct ndr_tab *t, const char *name, size_t key_size, size_t val_size, size_t max,
             const uint8_t *hkey)
{
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->key_size = key_size;
    t->val_size = val_size;
    t->key_off = align16(sizeof(struct ndr_ent));
    t->val_off = t->key_off + align16(key_size);
    t->ent_size = align16(t->val_off + val_size);
    t->max = max ? max : 1;
    if (t->max > UINT32_MAX - 1)
        t->max = UINT32_MAX - 1; /* entry numbers are 32 bits */
    t->hkey = hkey;
    t->lru.next = t->lru.prev = &t->lru;
    t->nslots = INITIAL_SLOTS;
    t->slots = bn_calloc(t->nslots, sizeof(*t->slots));
    return t->slots ? 0 : BN_ENOMEM;
}

void
ndr_tab_release(struct ndr_tab *t)
{
    if (!t->slots && !t->slabs)
        return;
    for (size_t i = 0; i < t->nslabs; i++)
        bn_free(t->slabs[i]);
    bn_free(t->slabs);
    bn_free(t->slots);
    memset(t, 0, sizeof(*t));
}

static struct ndr_ent *
find(const struct ndr_tab *t, const void *key, uint64_t h)
{
    size_t mask = t->nslots - 1;
    uint32_t h32 = (uint32_t)h;
    for (size_t i = h32 & mask;; i = (i + 1) & mask) {
        const struct ndr_slot *s = &t->slots[i];
        if (!s->idx)
            return NULL;
        if (s->hash != h32)
            continue;
        struct ndr_ent *e = ent_at(t, s->idx - 1);
        if (e->hash == h && memcmp(ent_key(t, e), key, t->key_size) == 0)
            return e;
    }
}

uint64_t
ndr_tab_hash(const struct ndr_tab *t, const void *key)
{
    return tab_hash(t, key);
}

void
ndr_tab_prefetch_ent(const struct ndr_tab *t, uint64_t h)
{
    if (t->n == 0)
        return;
    size_t mask = t->nslots - 1;
    uint32_t h32 = (uint32_t)h;
    /* the first entry of the run whose tag matches (a few slots at most at load 1/2) */
    for (size_t i = h32 & mask, k = 0; k < 4; i = (i + 1) & mask, k++) {
        const struct ndr_slot *s = &t->slots[i];
        if (!s->idx)
            return;
        if (s->hash == h32) {
            __builtin_prefetch(ent_at(t, s->idx - 1));
            return;
        }
    }
}

void *
ndr_tab_get_h(struct ndr_tab *t, const void *key, uint64_t h)
{
    if (t->n == 0)
        return NULL;
    struct ndr_ent *e = find(t, key, h);
    return e ? ent_val(t, e) : NULL;
}

void *
ndr_tab_get(struct ndr_tab *t, const void *key)
{
    if (t->n == 0)
        return NULL;
    return ndr_tab_get_h(t, key, tab_hash(t, key));
}

static void
lru_unlink(struct ndr_ent *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void
lru_append(struct ndr_tab *t, struct ndr_ent *e)
{
    e->prev = t->lru.prev;
    e->next = &t->lru;
    t->lru.prev->next = e;
    t->lru.prev = e;
}

/* Moves e to the young end, queued at the time it was last seen. */
static void
requeue(struct ndr_tab *t, struct ndr_ent *e)
{
    lru_unlink(e);
    e->t_ns = e->seen_ns;
    lru_append(t, e);
}

static void
slot_put(struct ndr_slot *slots, size_t nslots, uint32_t h32, uint32_t idx)
{
    size_t mask = nslots - 1;
    size_t i = h32 & mask;
    while (slots[i].idx)
        i = (i + 1) & mask;
    slots[i].hash = h32;
    slots[i].idx = idx + 1;
}

/* Removes e's slot; the slots after it in its run move back (backward-shift deletion). */
static void
slot_unlink(struct ndr_tab *t, const struct ndr_ent *e)
{
    size_t mask = t->nslots - 1;
    size_t i = (uint32_t)e->hash & mask;
    while (t->slots[i].idx != e->idx + 1)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; t->slots[j].idx; j = (j + 1) & mask) {
        size_t home = t->slots[j].hash & mask;
        /* the slot at j may move to the hole at i if i lies on its way from home to j */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].idx = 0;
}

/* Doubles the slots while the load is over 1/2 (failure is harmless up to 7/8: longer
 * probes, still correct). */
static void
maybe_grow(struct ndr_tab *t)
{
    if (t->n * 2 <= t->nslots || t->nslots >= slots_max(t->max))
        return;
    size_t ns = t->nslots * 2;
    struct ndr_slot *s = bn_calloc(ns, sizeof(*s));
    if (!s)
        return;
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i].idx)
            slot_put(s, ns, t->slots[i].hash, t->slots[i].idx - 1);
    bn_free(t->slots);
    t->slots = s;
    t->nslots = ns;
}

/* A fresh entry from the spare list or the slabs; NULL when memory runs out. */
static struct ndr_ent *
ent_new(struct ndr_tab *t)
{
    if (t->spare) {
        struct ndr_ent *e = t->spare;
        t->spare = e->next;
        t->nspare--;
        return e;
    }
    if (t->used == t->nslabs * NDR_TAB_SLAB) {
        if (t->nslabs == t->slabs_cap) {
            size_t cap = t->slabs_cap ? t->slabs_cap * 2 : 4;
            char **v = bn_realloc(t->slabs, cap * sizeof(*v));
            if (!v)
                return NULL;
            t->slabs = v;
            t->slabs_cap = cap;
        }
        /* small tables get a small first slab */
        size_t per = t->max < NDR_TAB_SLAB ? t->max : NDR_TAB_SLAB;
        char *slab = bn_malloc(per * t->ent_size);
        if (!slab)
            return NULL;
        t->slabs[t->nslabs++] = slab; /* used never passes max: n + nspare == used */
    }
    uint32_t idx = (uint32_t)t->used++;
    struct ndr_ent *e = ent_at(t, idx);
    e->idx = idx;
    return e;
}

void *
ndr_tab_put(struct ndr_tab *t, const void *key, uint64_t now_ns, bool *created)
{
    return ndr_tab_put_h(t, key, tab_hash(t, key), now_ns, created);
}

void *
ndr_tab_put_h(struct ndr_tab *t, const void *key, uint64_t h, uint64_t now_ns, bool *created)
{
    struct ndr_ent *e = find(t, key, h);
    if (created)
        *created = false;
    if (e) {
        if (now_ns > e->seen_ns)
            e->seen_ns = now_ns;
        return ent_val(t, e);
    }
    if (t->n >= t->max) {
        e = t->lru.next; /* the oldest; seen since it was queued: a second chance */
        for (int i = 0; i < SECOND_CHANCES && e->seen_ns > e->t_ns; i++) {
            requeue(t, e);
            e = t->lru.next;
        }
        lru_unlink(e);
        slot_unlink(t, e);
        t->n--;
        t->evictions++;
    } else {
        maybe_grow(t);
        if ((t->n + 1) * 8 > t->nslots * 7 || !(e = ent_new(t))) {
            t->nomem++;
            return NULL;
        }
    }
    uint32_t idx = e->idx;
    memset(e, 0, t->val_off + t->val_size);
    memcpy(ent_key(t, e), key, t->key_size);
    e->idx = idx;
    e->hash = h;
    e->t_ns = e->seen_ns = now_ns;
    slot_put(t->slots, t->nslots, (uint32_t)h, idx);
    lru_append(t, e);
    t->n++;
    if (created)
        *created = true;
    return ent_val(t, e);
}

void
ndr_tab_touch(struct ndr_tab *t, void *val, uint64_t now_ns)
{
    struct ndr_ent *e = val_ent(t, val);
    if (now_ns > e->seen_ns)
        e->seen_ns = now_ns;
}

void
ndr_tab_del(struct ndr_tab *t, void *val)
{
    struct ndr_ent *e = val_ent(t, val);
    lru_unlink(e);
    slot_unlink(t, e);
    t->n--;
    e->next = t->spare;
    t->spare = e;
    t->nspare++;
}

size_t
ndr_tab_expire(struct ndr_tab *t, uint64_t cutoff_ns)
{
    size_t n = 0;
    while (t->lru.next != &t->lru && t->lru.next->t_ns < cutoff_ns) {
        struct ndr_ent *e = t->lru.next;
        if (e->seen_ns >= cutoff_ns) {
            requeue(t, e); /* still in use: now queued at or after the cutoff */
            continue;
        }
        ndr_tab_del(t, ent_val(t, e));
        n++;
    }
    return n;
}

const void *
ndr_tab_key(const struct ndr_tab *t, const void *val)
{
    return (const char *)val - t->val_off + t->key_off;
}

void *
ndr_tab_first(struct ndr_tab *t)
{
    return t->lru.next != &t->lru ? ent_val(t, t->lru.next) : NULL;
}

void *
ndr_tab_next(struct ndr_tab *t, void *val)
{
    struct ndr_ent *e = val_ent(t, val)->next;
    return e != &t->lru ? ent_val(t, e) : NULL;
}

double
ndr_distinct_count(const struct ndr_distinct *s)
{
    unsigned set = 0;
    for (size_t i = 0; i < 8; i++)
        set += (unsigned)__builtin_popcountll(s->bits[i]);
    if (set == 0)
        return 0;
    unsigned zeros = 512 - set;
    if (zeros == 0)
        zeros = 1; /* saturated: report the largest estimate the sketch can give */
    return -512.0 * log((double)zeros / 512.0);
}
