/*
 * ndr_table.c - the bounded LRU hash table behind every piece of NDR state (per source, per
 * pair, per probe), plus the detector's SipHash and the distinct-count sketch.
 *
 * Chained buckets keyed by SipHash-2-4 with a per-detector random key, so an attacker who
 * picks addresses and ports cannot aim at one chain. The table doubles its buckets up to
 * its entry bound; at the bound, the oldest entry not seen since it was queued is reused
 * (evictions; approximate LRU with second chances, see ndr_int.h).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "bannin/alloc.h"
#include "bannin/error.h"

#include "sensor/ndr_int.h"

#define INITIAL_BUCKETS 64
#define SECOND_CHANCES  8 /* entries requeued before one is evicted regardless */

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
    t->max = max ? max : 1;
    t->hkey = hkey;
    t->lru.next = t->lru.prev = &t->lru;
    t->nbuckets = INITIAL_BUCKETS;
    t->buckets = bn_calloc(t->nbuckets, sizeof(*t->buckets));
    return t->buckets ? 0 : BN_ENOMEM;
}

void
ndr_tab_release(struct ndr_tab *t)
{
    if (!t->buckets && !t->spare)
        return;
    struct ndr_ent *e = t->lru.next;
    while (e && e != &t->lru) {
        struct ndr_ent *next = e->next;
        bn_free(e);
        e = next;
    }
    while (t->spare) {
        struct ndr_ent *next = t->spare->hnext;
        bn_free(t->spare);
        t->spare = next;
    }
    bn_free(t->buckets);
    memset(t, 0, sizeof(*t));
}

static struct ndr_ent *
find(struct ndr_tab *t, const void *key, uint64_t h)
{
    for (struct ndr_ent *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && memcmp(ent_key(t, e), key, t->key_size) == 0)
            return e;
    return NULL;
}

void *
ndr_tab_get(struct ndr_tab *t, const void *key)
{
    if (t->n == 0)
        return NULL;
    struct ndr_ent *e = find(t, key, tab_hash(t, key));
    return e ? ent_val(t, e) : NULL;
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
bucket_unlink(struct ndr_tab *t, struct ndr_ent *e)
{
    struct ndr_ent **pp = &t->buckets[e->hash & (t->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
}

/* Doubles the buckets while there are more entries than buckets (failure is harmless). */
static void
maybe_grow(struct ndr_tab *t)
{
    if (t->n < t->nbuckets || t->nbuckets >= t->max)
        return;
    size_t nb = t->nbuckets * 2;
    struct ndr_ent **b = bn_calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (struct ndr_ent *e = t->lru.next; e != &t->lru; e = e->next) {
        size_t i = e->hash & (nb - 1);
        e->hnext = b[i];
        b[i] = e;
    }
    bn_free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

void *
ndr_tab_put(struct ndr_tab *t, const void *key, uint64_t now_ns, bool *created)
{
    uint64_t h = tab_hash(t, key);
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
        bucket_unlink(t, e);
        t->n--;
        t->evictions++;
    } else if (t->spare) {
        e = t->spare;
        t->spare = e->hnext;
        t->nspare--;
    } else {
        e = bn_malloc(t->val_off + t->val_size);
        if (!e) {
            t->nomem++;
            return NULL;
        }
    }
    memset(e, 0, t->val_off + t->val_size);
    memcpy(ent_key(t, e), key, t->key_size);
    e->hash = h;
    e->t_ns = e->seen_ns = now_ns;
    size_t i = h & (t->nbuckets - 1);
    e->hnext = t->buckets[i];
    t->buckets[i] = e;
    lru_append(t, e);
    t->n++;
    maybe_grow(t);
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
    bucket_unlink(t, e);
    t->n--;
    e->hnext = t->spare;
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
    /* Keep the spare list from pinning memory after a burst: free beyond a quarter. */
    size_t keep = t->max / 4 + 16;
    while (t->nspare > keep) {
        struct ndr_ent *e = t->spare;
        t->spare = e->hnext;
        t->nspare--;
        bn_free(e);
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
