/*
 * mapping.c - the event builder: turns a reader's record into the event the engine matches,
 * using a mapping loaded by mapping_load.c.
 *
 * This is on the hunt hot path, so each builder (one per thread) caches, per distinct raw
 * key, everything the mapping says about it: which detect bit it sets, and per source kind
 * its mapped name, its field id in the rule set's table and its logsource-condition slot.
 *
 * On top of that it remembers the last few record shapes (the exact key sequence and
 * format): consecutive records of one file nearly always have the same keys in the same
 * order. For a known shape the builder keeps the kind and logsource rule it picked, the
 * values those choices read, and the finished value list with its per-field chains as a
 * template. A record of a known shape whose deciding values (Channel, EventID, ...) are
 * byte-equal to the last ones then costs a key compare, a template copy with the record's
 * values patched in, and the host/time lookups; no hashing, no rule evaluation.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/mapping.h"
#include "bannin/pool.h"
#include "bannin/timeutil.h"
#include "detect/mapping_int.h"

/* Distinct raw keys one builder remembers; past it the cache starts over (between records,
 * never during one, since events borrow names from it). Bounds memory on hostile input. */
#define CACHE_KEYS_MAX 65536

enum {
    OVR_PRODUCT = 1,
    OVR_CATEGORY,
    OVR_SERVICE,
};

/* What one source kind makes of a key. */
struct kinfo {
    const char *name;
    uint32_t name_len;
    uint32_t fid;
    uint32_t type_len; /* length of the TYPE. prefix split off (record_type_field), or 0 */
    uint16_t slot;     /* logsource/host/time slot, MAP_NONE16 if none */
    uint16_t asrc;     /* alias source index, MAP_NONE16 if none */
    bool ready;
};

struct centry {
    uint64_t hash;
    const char *key;
    uint32_t key_len;
    uint8_t override;  /* OVR_* for logsource.product/category/service */
    uint8_t has_bit;
    uint8_t bit;       /* detect bit when has_bit */
    struct kinfo ki[]; /* nkinds + 1 (the last: no kind recognised) */
};

/* Record shapes (key sequences) one builder remembers, least recently used replaced. Files
 * that mix event types (evtx_dump JSON: one shape per EventID) use several. */
#define SHAPES_MAX 8
/* Larger records are built without remembering their shape. */
#define SHAPE_PAIRS_MAX 1024
#define SHAPE_KEY_BYTES_MAX 32768
/* Bytes of deciding values a shape keeps; past it the decisions are re-evaluated per record. */
#define SHAPE_VAL_BYTES_MAX 1024

/* A value a shape's decisions read: pair kv, its length (UINT32_MAX = null) and its copy at
 * off in the shape's dbuf. */
struct dval {
    uint32_t kv;
    uint32_t len;
    uint32_t off;
};

/* One record shape and what the builder decided for it. */
struct shape {
    bool valid;           /* keys below are a lookup target */
    bool vals_ok;         /* dv holds every value the decision read */
    bool plan_ok;         /* tmpl is the output for kidx/rule with nfields fields */
    bool have_ovr;
    const char *format;
    uint32_t n;
    uint32_t fp;          /* fingerprint of n and the key lengths */
    uint64_t used;        /* LRU tick */
    uint32_t *klen;       /* length of each key */
    uint32_t klen_cap;
    char *kbytes;         /* keys, concatenated */
    uint32_t kbytes_cap;
    struct centry **ents; /* cache entry of each pair */
    uint32_t ents_cap;
    uint64_t mask;        /* detect bits present */
    uint32_t det_kv[MAP_DETECT_KEYS_MAX];
    uint32_t ovr[3];
    /* decision */
    uint32_t kidx;
    const struct map_lsrule *rule;
    uint32_t ls;
    uint32_t *slot_kv;    /* pair index of each slot's first value for kind kidx */
    struct dval *dv;
    uint32_t ndv;
    char *dbuf;           /* SHAPE_VAL_BYTES_MAX */
    /* plan: the event's values with s/len/type to be taken from the record */
    uint32_t nfields;
    struct bn_fval *tmpl;
    uint32_t ntmpl;
    uint32_t tmpl_cap;
    uint32_t *consts;     /* template indices whose value is not a pair's (record types) */
    uint32_t nconsts;
    uint32_t consts_cap;
    uint32_t *firsts;     /* field, index+1 of its first value: pairs */
    uint32_t nfirsts;
    uint32_t firsts_cap;  /* uint32_t elements */
};

struct bn_evbuilder {
    const struct bn_mapping *m;
    const struct bn_fieldtab *ft;
    struct bn_pool *pool;      /* cache entries and names */
    struct centry **slots;     /* open addressing; NULL = empty */
    uint32_t nslots;           /* power of two */
    uint32_t count;
    uint64_t seed;
    uint32_t max_slots;
    uint32_t **atgt_fid;       /* per kind: field id of each alias target */
    uint32_t *type_fid;        /* per kind: field id of record_type_field */
    uint16_t **vslots;         /* per kind: slots whose values rule conditions compare */
    uint32_t *nvslots;
    uint64_t value_bits;       /* detect bits whose values some clause compares */
    uint32_t *tail;            /* per field: index of its last value while building */
    uint32_t tail_cap;
    struct shape shapes[SHAPES_MAX + 1]; /* the last one: records too big to remember */
    uint32_t mru;
    uint64_t tick;
    struct bn__evbuilder_stats st;
    char ovr_text[3][128];     /* logsource.* values of the last record, NUL-terminated */
};
static inline uint64_t
load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t
key_hash(const char *p, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ull);
    uint64_t w = 0;
    if (n >= 8) {
        /* whole words, then the last 8 bytes (overlapping): no byte-wise tail */
        const char *end = p + n;
        for (; n > 8; p += 8, n -= 8) {
            h = (h ^ load8(p)) * 0xff51afd7ed558ccdull;
            h = (h << 31) | (h >> 33);
        }
        w = load8(end - 8);
    } else {
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)(unsigned char)p[i] << (8 * i);
    }
    h ^= w;
    /* murmur3 fmix64: every input bit reaches the low bits the table uses */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* Equality of two keys of length n without a libc call (keys are short). */
static inline bool
key_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (load8(a + i) != load8(b + i))
                return false;
        return load8(a + n - 8) == load8(b + n - 8);
    }
    return memcmp(a, b, n) == 0;
}

/* --- names ----------------------------------------------------------------------------- */

static const char *
find_rename(char *const *from, char *const *to, uint32_t n, const char *s, size_t len)
{
    for (uint32_t i = 0; i < n; i++)
        if (strlen(from[i]) == len && memcmp(from[i], s, len) == 0)
            return to[i];
    return NULL;
}

static bool
is_type_prefix(const char *s, size_t len)
{
    if (!len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

char *
bn__mapping_name(const struct map_kind *k, const char *key, size_t len, struct bn_pool *pool,
                 uint32_t *type_len)
{
    *type_len = 0;
    if (!k)
        return bn_pool_strndup(pool, key, len);
    const char *r = find_rename(k->rn_from, k->rn_to, k->nrename, key, len);
    if (r)
        return bn_pool_strdup(pool, r);

    const char *cur = key;
    size_t clen = len;
    if (k->type_field) {
        const char *dot = memchr(cur, '.', clen);
        if (dot && is_type_prefix(cur, (size_t)(dot - cur))) {
            *type_len = (uint32_t)(dot - cur);
            clen -= (size_t)(dot - cur) + 1;
            cur = dot + 1;
        }
    }
    const char *to = "";
    for (uint32_t i = 0; i < k->nstrips; i++) {
        const struct map_strip *s = &k->strips[i];
        if (clen < s->plen || memcmp(cur, s->prefix, s->plen) != 0)
            continue;
        cur += s->plen;
        clen -= s->plen;
        for (uint32_t j = 0; j < s->skip; j++) {
            const char *dot = memchr(cur, '.', clen);
            if (!dot)
                break;
            clen -= (size_t)(dot - cur) + 1;
            cur = dot + 1;
        }
        to = s->to;
        break;
    }
    size_t tlen = strlen(to);
    char *name = bn_pool_alloc(pool, tlen + clen + 1);
    if (!name)
        return NULL;
    memcpy(name, to, tlen);
    memcpy(name + tlen, cur, clen);
    size_t nlen = tlen + clen;
    name[nlen] = 0;

    for (uint32_t i = 0; i < k->nreplaces; i++) {
        const struct map_replace *rp = &k->replaces[i];
        size_t tl = strlen(rp->to);
        if (rp->suffix) {
            if (nlen >= rp->flen && memcmp(name + nlen - rp->flen, rp->from, rp->flen) == 0 &&
                nlen > rp->flen) {
                char *n2 = bn_pool_alloc(pool, nlen - rp->flen + tl + 1);
                if (!n2)
                    return NULL;
                memcpy(n2, name, nlen - rp->flen);
                memcpy(n2 + nlen - rp->flen, rp->to, tl);
                nlen = nlen - rp->flen + tl;
                n2[nlen] = 0;
                name = n2;
            }
            continue;
        }
        size_t hits = 0;
        for (const char *p = name; (p = strstr(p, rp->from)); p += rp->flen)
            hits++;
        if (!hits)
            continue;
        char *n2 = bn_pool_alloc(pool, nlen - hits * rp->flen + hits * tl + 1);
        if (!n2)
            return NULL;
        char *w = n2;
        const char *p = name, *q;
        while ((q = strstr(p, rp->from))) {
            memcpy(w, p, (size_t)(q - p));
            w += q - p;
            memcpy(w, rp->to, tl);
            w += tl;
            p = q + rp->flen;
        }
        size_t rest = strlen(p);
        memcpy(w, p, rest);
        w[rest] = 0;
        nlen = (size_t)(w - n2) + rest;
        name = n2;
    }
    r = find_rename(k->rn_from, k->rn_to, k->nrename, name, nlen);
    if (r)
        return bn_pool_strdup(pool, r);
    return name;
}

/* --- cache ----------------------------------------------------------------------------- */

static void
cache_reset(struct bn_evbuilder *b)
{
    memset(b->slots, 0, b->nslots * sizeof(*b->slots));
    b->count = 0;
    bn_pool_reset(b->pool);
}

static int
cache_grow(struct bn_evbuilder *b)
{
    uint32_t n = b->nslots * 2;
    struct centry **s = bn_calloc(n, sizeof(*s));
    if (!s)
        return BN_ENOMEM;
    for (uint32_t i = 0; i < b->nslots; i++) {
        struct centry *e = b->slots[i];
        if (!e)
            continue;
        uint32_t j = (uint32_t)e->hash & (n - 1);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = e;
    }
    bn_free(b->slots);
    b->slots = s;
    b->nslots = n;
    return 0;
}

static struct centry *
cache_add(struct bn_evbuilder *b, const char *key, size_t len, uint64_t h, uint32_t slot)
{
    const struct bn_mapping *m = b->m;
    size_t sz = sizeof(struct centry) + (m->nkinds + 1) * sizeof(struct kinfo);
    struct centry *e = bn_pool_calloc(b->pool, 1, sz);
    char *k = e ? bn_pool_strndup(b->pool, key, len) : NULL;
    if (!k)
        return NULL;
    e->hash = h;
    e->key = k;
    e->key_len = (uint32_t)len;
    for (uint32_t i = 0; i < m->ndetect; i++)
        if (m->detect_lens[i] == len && memcmp(m->detect_keys[i], key, len) == 0) {
            e->has_bit = 1;
            e->bit = (uint8_t)i;
            break;
        }
    if (len > 10 && memcmp(key, "logsource.", 10) == 0) {
        if (len == 17 && memcmp(key + 10, "product", 7) == 0)
            e->override = OVR_PRODUCT;
        else if (len == 18 && memcmp(key + 10, "category", 8) == 0)
            e->override = OVR_CATEGORY;
        else if (len == 17 && memcmp(key + 10, "service", 7) == 0)
            e->override = OVR_SERVICE;
    }
    b->slots[slot] = e;
    b->count++;
    return e;
}

static inline struct centry *
cache_get(struct bn_evbuilder *b, const char *key, size_t len, int *rc)
{
    uint64_t h = key_hash(key, len, b->seed);
    uint32_t mask = b->nslots - 1;
    uint32_t i = (uint32_t)h & mask;
    for (;;) {
        struct centry *e = b->slots[i];
        if (!e)
            break;
        if (e->hash == h && e->key_len == len && key_eq(e->key, key, len))
            return e;
        i = (i + 1) & mask;
    }
    if ((b->count + 1) * 2 > b->nslots) {
        if ((*rc = cache_grow(b)))
            return NULL;
        mask = b->nslots - 1;
        i = (uint32_t)h & mask;
        while (b->slots[i])
            i = (i + 1) & mask;
    }
    struct centry *e = cache_add(b, key, len, h, i);
    if (!e)
        *rc = BN_ENOMEM;
    return e;
}

static uint16_t
name_index(char *const *names, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return (uint16_t)i;
    return MAP_NONE16;
}

/* Fills what kind kidx (nkinds = none) makes of e. */
static int
kinfo_fill(struct bn_evbuilder *b, struct centry *e, uint32_t kidx)
{
    const struct map_kind *k = kidx < b->m->nkinds ? &b->m->kinds[kidx] : NULL;
    struct kinfo *ki = &e->ki[kidx];
    uint32_t tl;
    char *name = bn__mapping_name(k, e->key, e->key_len, b->pool, &tl);
    if (!name)
        return BN_ENOMEM;
    ki->name = name;
    ki->name_len = (uint32_t)strlen(name);
    ki->type_len = tl;
    ki->fid = bn_fieldtab_lookup(b->ft, name, ki->name_len);
    ki->slot = k ? name_index(k->slot_names, k->nslots, name) : MAP_NONE16;
    ki->asrc = k ? name_index(k->asrc, k->nasrc, name) : MAP_NONE16;
    ki->ready = true;
    return 0;
}

/* --- builder --------------------------------------------------------------------------- */

struct bn_evbuilder *
bn_evbuilder_new(const struct bn_mapping *m, const struct bn_fieldtab *ft)
{
    struct bn_evbuilder *b = bn_calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->m = m;
    b->ft = ft;
    b->nslots = 1024;
    b->pool = bn_pool_new(65536);
    b->slots = bn_calloc(b->nslots, sizeof(*b->slots));
    b->atgt_fid = bn_calloc(m->nkinds + 1, sizeof(*b->atgt_fid));
    b->type_fid = bn_calloc(m->nkinds + 1, sizeof(*b->type_fid));
    b->vslots = bn_calloc(m->nkinds + 1, sizeof(*b->vslots));
    b->nvslots = bn_calloc(m->nkinds + 1, sizeof(*b->nvslots));
    for (uint32_t i = 0; i < m->nkinds; i++)
        if (m->kinds[i].nslots > b->max_slots)
            b->max_slots = m->kinds[i].nslots;
    if (!b->pool || !b->slots || !b->atgt_fid || !b->type_fid || !b->vslots || !b->nvslots)
        goto fail;
    for (uint32_t i = 0; i <= SHAPES_MAX; i++) {
        struct shape *sh = &b->shapes[i];
        sh->slot_kv = bn_calloc(b->max_slots + 1, sizeof(*sh->slot_kv));
        sh->dbuf = bn_malloc(SHAPE_VAL_BYTES_MAX);
        sh->dv = bn_calloc(MAP_DETECT_KEYS_MAX + b->max_slots + 1, sizeof(*sh->dv));
        if (!sh->slot_kv || !sh->dbuf || !sh->dv)
            goto fail;
    }
    for (uint32_t i = 0; i < m->nkinds; i++) {
        const struct map_kind *k = &m->kinds[i];
        b->type_fid[i] = k->type_field
                             ? bn_fieldtab_lookup(ft, k->type_field, strlen(k->type_field))
                             : BN_FIELD_NONE;
        b->atgt_fid[i] = bn_calloc(k->natgt + 1, sizeof(uint32_t));
        b->vslots[i] = bn_calloc(k->nslots + 1, sizeof(uint16_t));
        if (!b->atgt_fid[i] || !b->vslots[i])
            goto fail;
        for (uint32_t j = 0; j < k->natgt; j++)
            b->atgt_fid[i][j] = bn_fieldtab_lookup(ft, k->atgt[j], strlen(k->atgt[j]));
        for (uint32_t r = 0; r < k->nrules; r++)
            for (uint32_t c = 0; c < k->rules[r].nconds; c++) {
                const struct map_cond *cd = &k->rules[r].conds[c];
                uint32_t j;
                if (cd->exists)
                    continue;
                for (j = 0; j < b->nvslots[i] && b->vslots[i][j] != cd->slot; j++)
                    ;
                if (j == b->nvslots[i])
                    b->vslots[i][b->nvslots[i]++] = cd->slot;
            }
        for (uint32_t c = 0; c < k->nclauses; c++)
            for (uint32_t v = 0; v < k->clauses[c].nvalues; v++)
                b->value_bits |= 1ull << k->clauses[c].values[v].bit;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    b->seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)b;
    return b;
fail:
    bn_evbuilder_free(b);
    return NULL;
}

void
bn_evbuilder_free(struct bn_evbuilder *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i <= b->m->nkinds; i++) {
        if (b->atgt_fid)
            bn_free(b->atgt_fid[i]);
        if (b->vslots)
            bn_free(b->vslots[i]);
    }
    for (uint32_t i = 0; i <= SHAPES_MAX; i++) {
        struct shape *sh = &b->shapes[i];
        bn_free(sh->klen);
        bn_free(sh->kbytes);
        bn_free(sh->ents);
        bn_free(sh->slot_kv);
        bn_free(sh->dv);
        bn_free(sh->dbuf);
        bn_free(sh->tmpl);
        bn_free(sh->consts);
        bn_free(sh->firsts);
    }
    bn_free(b->atgt_fid);
    bn_free(b->type_fid);
    bn_free(b->vslots);
    bn_free(b->nvslots);
    bn_free(b->tail);
    bn_free(b->slots);
    bn_pool_free(b->pool);
    bn_free(b);
}

void
bn__evbuilder_stats(const struct bn_evbuilder *b, struct bn__evbuilder_stats *st)
{
    *st = b->st;
}

/* bn_event_add without the per-call capacity check and call: room for every value of the
 * record is reserved once per build. Same chaining as bn_event_add (source order). */
static int
ev_reserve(struct bn_event *ev, uint32_t need)
{
    if (need <= ev->cap)
        return 0;
    if (need > BN_RECORD_FIELDS_MAX * 2)
        return BN_ETOOBIG;
    uint32_t cap = ev->cap ? ev->cap : 64;
    while (cap < need)
        cap *= 2;
    struct bn_fval *v = bn_reallocarray(ev->vals, cap, sizeof(*v));
    if (!v)
        return BN_ENOMEM;
    ev->vals = v;
    ev->cap = cap;
    return 0;
}

/* Appends a value and links it behind the field's last one, kept in b->tail (valid while
 * ev->first[field] is set), instead of walking the chain. */
static inline void
ev_put(struct bn_evbuilder *b, struct bn_event *ev, uint32_t field, const char *name,
       uint32_t name_len, const char *s, uint32_t len, uint8_t type, uint32_t kv)
{
    uint32_t idx = ev->nvals++;
    struct bn_fval *v = &ev->vals[idx];
    v->s = s;
    v->len = len;
    v->field = field < ev->nfields ? field : BN_FIELD_NONE;
    v->next = 0;
    v->kv = kv;
    v->name = name;
    v->name_len = name_len;
    v->type = type;
    if (v->field != BN_FIELD_NONE) {
        uint32_t f = v->field;
        if (ev->first[f])
            ev->vals[b->tail[f]].next = idx + 1;
        else
            ev->first[f] = idx + 1;
        b->tail[f] = idx;
    }
}

static inline bool
eq_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y) {
            if (x >= 'A' && x <= 'Z')
                x = (unsigned char)(x + 32);
            if (y >= 'A' && y <= 'Z')
                y = (unsigned char)(y + 32);
            if (x != y)
                return false;
        }
    }
    return true;
}

static bool
any_value(const struct bn_kv *kv, const struct map_str *vals, uint32_t n)
{
    if (!kv->val)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (eq_nocase(kv->val, kv->val_len, vals[i].s, vals[i].len))
            return true;
    return false;
}

/* Picks the source kind from the detect bits present (mask, with det_kv the pair of each),
 * the values some clauses compare, and the reader's format. */
static const struct map_kind *
pick_kind(const struct bn_evbuilder *b, const struct bn_record *rec, uint64_t mask,
          const uint32_t *det_kv, uint32_t *kidx)
{
    const struct bn_mapping *m = b->m;
    for (uint32_t i = 0; i < m->nkinds; i++) {
        const struct map_kind *k = &m->kinds[i];
        for (uint32_t c = 0; c < k->nclauses; c++) {
            const struct map_clause *cl = &k->clauses[c];
            if ((mask & cl->mask) != cl->mask)
                continue;
            if (cl->format && (!rec->format || strcmp(rec->format, cl->format) != 0))
                continue;
            uint32_t v;
            for (v = 0; v < cl->nvalues; v++)
                if (!any_value(&rec->kv[det_kv[cl->values[v].bit]], cl->values[v].vals,
                               cl->values[v].nvals))
                    break;
            if (v < cl->nvalues)
                continue;
            *kidx = i;
            return k;
        }
    }
    *kidx = m->nkinds;
    return NULL;
}

static const struct map_lsrule *
pick_rule(const struct map_kind *k, const struct bn_record *rec, const uint32_t *slot_kv)
{
    for (uint32_t i = 0; i < k->nrules; i++) {
        const struct map_lsrule *r = &k->rules[i];
        uint32_t c;
        for (c = 0; c < r->nconds; c++) {
            const struct map_cond *cd = &r->conds[c];
            uint32_t at = slot_kv[cd->slot];
            if (at == UINT32_MAX)
                break;
            if (!cd->exists && !any_value(&rec->kv[at], cd->vals, cd->nvals))
                break;
        }
        if (c == r->nconds)
            return r;
    }
    return NULL;
}

/* Applies logsource.product/category/service from the record. Known triples keep their
 * static strings and id; others borrow the record's text and get no id. */
static void
apply_override(struct bn_evbuilder *b, const struct bn_record *rec, const uint32_t *ovr,
               struct bn_event *ev)
{
    const struct bn_mapping *m = b->m;
    const char *s[3];
    size_t l[3];
    for (int i = 0; i < 3; i++) {
        const struct bn_kv *kv = ovr[i] != UINT32_MAX ? &rec->kv[ovr[i]] : NULL;
        s[i] = kv && kv->val && kv->val_len ? kv->val : NULL;
        l[i] = s[i] ? kv->val_len : 0;
    }
    for (uint32_t t = 0; t < m->ntriples; t++) {
        const struct map_triple *tr = &m->triples[t];
        const char *ts[3] = {tr->product, tr->category, tr->service};
        int i;
        for (i = 0; i < 3; i++) {
            if (!ts[i] != !s[i])
                break;
            if (s[i] && (strlen(ts[i]) != l[i] || memcmp(ts[i], s[i], l[i]) != 0))
                break;
        }
        if (i == 3) {
            ev->product = tr->product;
            ev->category = tr->category;
            ev->service = tr->service;
            ev->ls_id = t;
            return;
        }
    }
    /* Record values need not be NUL-terminated: copy them into the builder (valid until
     * the next build). Longer than any logsource name is treated as unset. */
    const char **dst[3] = {&ev->product, &ev->category, &ev->service};
    for (int i = 0; i < 3; i++) {
        *dst[i] = NULL;
        if (s[i] && l[i] < sizeof(b->ovr_text[i]) && !memchr(s[i], 0, l[i])) {
            memcpy(b->ovr_text[i], s[i], l[i]);
            b->ovr_text[i][l[i]] = 0;
            *dst[i] = b->ovr_text[i];
        }
    }
    ev->ls_id = BN_FIELD_NONE;
}

/* --- shapes ---------------------------------------------------------------------------- */

/* Equality of n bytes without a libc call and without reading past either end. */
static inline bool
bytes_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8)
        return key_eq(a, b, n);
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return x0 == y0 && x1 == y1;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Fingerprint of a record's shape from its key lengths (touches no key bytes). */
static inline uint32_t
shape_fp(const struct bn_record *rec)
{
    uint32_t h = rec->n;
    for (uint32_t i = 0; i < rec->n; i++)
        h = h * 31 + rec->kv[i].key_len;
    return h;
}

/* Whether rec has sh's keys in sh's order; fp (0 = not computed) skips most other shapes. */
static inline bool
shape_is(const struct shape *sh, const struct bn_record *rec, uint32_t fp)
{
    if (!sh->valid || sh->n != rec->n || sh->format != rec->format || (fp && sh->fp != fp))
        return false;
    const char *p = sh->kbytes;
    for (uint32_t i = 0; i < sh->n; i++) {
        const struct bn_kv *kv = &rec->kv[i];
        if (kv->key_len != sh->klen[i] || !bytes_eq(p, kv->key, kv->key_len))
            return false;
        p += kv->key_len;
    }
    return true;
}

/* Finds rec's shape: the last one used first (no fingerprint needed), then the others. */
static struct shape *
shape_find(struct bn_evbuilder *b, const struct bn_record *rec, uint32_t *fp)
{
    struct shape *sh = &b->shapes[b->mru];
    if (!shape_is(sh, rec, 0)) {
        uint32_t i;
        *fp = shape_fp(rec);
        for (i = 0; i < SHAPES_MAX; i++)
            if (i != b->mru && shape_is(&b->shapes[i], rec, *fp))
                break;
        if (i == SHAPES_MAX)
            return NULL;
        b->mru = i;
        sh = &b->shapes[i];
    }
    sh->used = ++b->tick;
    return sh;
}

/* Grows *p (n elements of size sz) to hold need; 0 or BN_ENOMEM. */
static int
grow(void **p, uint32_t *cap, uint32_t need, size_t sz)
{
    if (need <= *cap && *p)
        return 0;
    uint32_t c = BN_MAX(need, 16u);
    void *q = bn_reallocarray(*p, c, sz);
    if (!q)
        return BN_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* Takes a shape slot for rec's keys (the least recently used, or the spare one for records
 * too big to remember) and looks every key up in the key cache. */
static int
shape_new(struct bn_evbuilder *b, const struct bn_record *rec, uint32_t fp, struct shape **out)
{
    uint32_t n = rec->n;
    size_t kb = 0;
    for (uint32_t i = 0; i < n; i++)
        kb += rec->kv[i].key_len;
    bool keep = n <= SHAPE_PAIRS_MAX && kb <= SHAPE_KEY_BYTES_MAX;
    struct shape *sh = &b->shapes[SHAPES_MAX];
    if (keep) {
        uint32_t v = 0;
        for (uint32_t i = 0; i < SHAPES_MAX; i++) {
            if (!b->shapes[i].valid) {
                v = i;
                break;
            }
            if (b->shapes[i].used < b->shapes[v].used)
                v = i;
        }
        sh = &b->shapes[v];
        b->mru = v;
    }
    sh->valid = sh->vals_ok = sh->plan_ok = false;
    if (b->count + n > CACHE_KEYS_MAX) {
        /* shapes point into the cache: forget them with it */
        cache_reset(b);
        for (uint32_t i = 0; i < SHAPES_MAX; i++)
            b->shapes[i].valid = false;
    }
    int rc = grow((void **)&sh->ents, &sh->ents_cap, n, sizeof(*sh->ents));
    if (!rc)
        rc = grow((void **)&sh->klen, &sh->klen_cap, n, sizeof(*sh->klen));
    if (!rc && keep)
        rc = grow((void **)&sh->kbytes, &sh->kbytes_cap, (uint32_t)kb, 1);
    if (rc)
        return rc;

    uint64_t mask = 0;
    sh->ovr[0] = sh->ovr[1] = sh->ovr[2] = UINT32_MAX;
    sh->have_ovr = false;
    char *kp = sh->kbytes;
    for (uint32_t i = 0; i < n; i++) {
        const struct bn_kv *kv = &rec->kv[i];
        struct centry *e = cache_get(b, kv->key, kv->key_len, &rc);
        if (!e)
            return rc;
        sh->ents[i] = e;
        if (BN_UNLIKELY(e->has_bit) && !(mask & (1ull << e->bit))) {
            mask |= 1ull << e->bit;
            sh->det_kv[e->bit] = i;
        }
        if (BN_UNLIKELY(e->override) && sh->ovr[e->override - 1] == UINT32_MAX) {
            sh->ovr[e->override - 1] = i;
            sh->have_ovr = true;
        }
        if (keep) {
            sh->klen[i] = kv->key_len;
            memcpy(kp, kv->key, kv->key_len);
            kp += kv->key_len;
        }
    }
    sh->n = n;
    sh->fp = fp;
    sh->format = rec->format;
    sh->mask = mask;
    sh->kidx = UINT32_MAX;
    sh->rule = NULL;
    sh->used = ++b->tick;
    sh->valid = keep;
    *out = sh;
    return 0;
}

static bool
dvals_equal(const struct shape *sh, const struct bn_record *rec)
{
    for (uint32_t j = 0; j < sh->ndv; j++) {
        const struct dval *d = &sh->dv[j];
        const struct bn_kv *kv = &rec->kv[d->kv];
        if (!kv->val) {
            if (d->len != UINT32_MAX)
                return false;
        } else if (kv->val_len != d->len || !bytes_eq(kv->val, sh->dbuf + d->off, d->len)) {
            return false;
        }
    }
    return true;
}

/* Remembers the value of pair at as one the decision read; false if dbuf is full. */
static bool
dval_add(struct shape *sh, const struct bn_record *rec, uint32_t at, uint32_t *off)
{
    for (uint32_t j = 0; j < sh->ndv; j++)
        if (sh->dv[j].kv == at)
            return true;
    const struct bn_kv *kv = &rec->kv[at];
    struct dval *d = &sh->dv[sh->ndv];
    d->kv = at;
    d->off = *off;
    d->len = UINT32_MAX;
    if (kv->val) {
        if (kv->val_len > SHAPE_VAL_BYTES_MAX - *off)
            return false;
        d->len = kv->val_len;
        memcpy(sh->dbuf + *off, kv->val, kv->val_len);
        *off += kv->val_len;
    }
    sh->ndv++;
    return true;
}

/* Picks kind and logsource rule for a record of shape sh and remembers the values that
 * decided them: a later record of the shape with the same values gets the same answer. */
static int
shape_decide(struct bn_evbuilder *b, struct shape *sh, const struct bn_record *rec)
{
    uint32_t kidx;
    int rc;
    sh->vals_ok = false;
    b->st.decisions++;
    const struct map_kind *k = pick_kind(b, rec, sh->mask, sh->det_kv, &kidx);
    if (k)
        memset(sh->slot_kv, 0xff, k->nslots * sizeof(*sh->slot_kv));
    for (uint32_t i = 0; i < sh->n; i++) {
        struct kinfo *ki = &sh->ents[i]->ki[kidx];
        if (BN_UNLIKELY(!ki->ready) && (rc = kinfo_fill(b, sh->ents[i], kidx)))
            return rc;
        if (ki->slot != MAP_NONE16 && sh->slot_kv[ki->slot] == UINT32_MAX)
            sh->slot_kv[ki->slot] = i;
    }
    const struct map_lsrule *rule = k ? pick_rule(k, rec, sh->slot_kv) : NULL;
    if (kidx != sh->kidx || rule != sh->rule)
        sh->plan_ok = false;
    sh->kidx = kidx;
    sh->rule = rule;
    sh->ls = rule ? rule->ls : k ? k->def_ls : BN_FIELD_NONE;

    if (sh == &b->shapes[SHAPES_MAX])
        return 0;
    uint32_t off = 0;
    bool ok = true;
    sh->ndv = 0;
    for (uint64_t bits = sh->mask & b->value_bits; bits && ok; bits &= bits - 1)
        ok = dval_add(sh, rec, sh->det_kv[__builtin_ctzll(bits)], &off);
    for (uint32_t j = 0; k && j < b->nvslots[kidx] && ok; j++) {
        uint32_t at = sh->slot_kv[b->vslots[kidx][j]];
        if (at != UINT32_MAX)
            ok = dval_add(sh, rec, at, &off);
    }
    sh->vals_ok = ok;
    return 0;
}

/* Builds ev's values pair by pair from the shape's cache entries; with snap, keeps the
 * result as the shape's template. */
static int
emit_direct(struct bn_evbuilder *b, struct shape *sh, const struct bn_record *rec,
            struct bn_event *ev, bool snap)
{
    const struct map_kind *k = sh->kidx < b->m->nkinds ? &b->m->kinds[sh->kidx] : NULL;
    const uint16_t *alias = sh->rule ? sh->rule->alias : NULL;
    const char *prev_type = NULL;
    uint32_t prev_tlen = 0, n = sh->n, kidx = sh->kidx;
    int rc;

    if ((rc = grow((void **)&b->tail, &b->tail_cap, ev->nfields, sizeof(*b->tail))))
        return rc;
    if (snap && (rc = grow((void **)&sh->consts, &sh->consts_cap, n, sizeof(*sh->consts))))
        return rc;
    if ((rc = ev_reserve(ev, n)))
        return rc;
    sh->plan_ok = false;
    sh->nconsts = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* At most three values per pair: a record type, the value and one alias. */
        if (BN_UNLIKELY(ev->nvals + 3 > ev->cap) && (rc = ev_reserve(ev, ev->nvals + 3)))
            return rc;
        const struct bn_kv *kv = &rec->kv[i];
        const struct centry *e = sh->ents[i];
        const struct kinfo *ki = &e->ki[kidx];
        if (BN_UNLIKELY(ki->type_len) && k->type_emit &&
            (ki->type_len != prev_tlen || memcmp(prev_type, e->key, prev_tlen) != 0)) {
            prev_type = e->key;
            prev_tlen = ki->type_len;
            if (snap)
                sh->consts[sh->nconsts++] = ev->nvals;
            ev_put(b, ev, b->type_fid[kidx], k->type_field, (uint32_t)strlen(k->type_field),
                   e->key, ki->type_len, BN_VT_STR, i);
        }
        ev_put(b, ev, ki->fid, ki->name, ki->name_len, kv->val, kv->val_len, kv->type, i);
        if (alias && ki->asrc != MAP_NONE16 && alias[ki->asrc] != MAP_NONE16) {
            uint16_t t = alias[ki->asrc];
            ev_put(b, ev, b->atgt_fid[kidx][t], k->atgt[t], (uint32_t)strlen(k->atgt[t]),
                   kv->val, kv->val_len, kv->type, i);
        }
    }
    if (!snap)
        return 0;

    /* Without room for a template this time the event itself is still complete. */
    uint32_t nv = ev->nvals;
    if (grow((void **)&sh->tmpl, &sh->tmpl_cap, nv, sizeof(*sh->tmpl)) ||
        grow((void **)&sh->firsts, &sh->firsts_cap, nv * 2, sizeof(*sh->firsts)))
        return 0;
    if (nv)
        memcpy(sh->tmpl, ev->vals, nv * sizeof(*sh->tmpl));
    sh->nfirsts = 0;
    for (uint32_t i = 0; i < nv; i++) {
        uint32_t f = ev->vals[i].field;
        if (f != BN_FIELD_NONE && ev->first[f] == i + 1) {
            sh->firsts[sh->nfirsts * 2] = f;
            sh->firsts[sh->nfirsts * 2 + 1] = i + 1;
            sh->nfirsts++;
        }
    }
    sh->ntmpl = nv;
    sh->nfields = ev->nfields;
    sh->plan_ok = true;
    b->st.plans++;
    return 0;
}

/* Builds ev's values from the shape's template: the record's values patched in. */
static inline int
emit_plan(const struct shape *sh, const struct bn_record *rec, struct bn_event *ev)
{
    int rc;
    if ((rc = ev_reserve(ev, sh->ntmpl)))
        return rc;
    struct bn_fval *v = ev->vals;
    const struct bn_fval *t = sh->tmpl;
    const struct bn_kv *kv = rec->kv;
    if (sh->ntmpl)
        memcpy(v, t, sh->ntmpl * sizeof(*v));
    for (uint32_t j = 0; j < sh->ntmpl; j++) {
        const struct bn_kv *p = &kv[t[j].kv];
        v[j].s = p->val;
        v[j].len = p->val_len;
        v[j].type = p->type;
    }
    for (uint32_t c = 0; c < sh->nconsts; c++) {
        uint32_t j = sh->consts[c];
        v[j].s = t[j].s;
        v[j].len = t[j].len;
        v[j].type = t[j].type;
    }
    for (uint32_t f = 0; f < sh->nfirsts; f++)
        ev->first[sh->firsts[f * 2]] = sh->firsts[f * 2 + 1];
    ev->nvals = sh->ntmpl;
    return 0;
}

int
bn_evbuilder_build(struct bn_evbuilder *b, const struct bn_record *rec, struct bn_event *ev)
{
    const struct bn_mapping *m = b->m;
    int rc;

    bn_event_clear(ev);
    ev->rec = rec;
    if (rec->n > BN_RECORD_FIELDS_MAX)
        return BN_ETOOBIG;
    uint32_t fp = 0;
    struct shape *sh = shape_find(b, rec, &fp);
    if (sh) {
        b->st.shape_hits++;
        if ((!sh->vals_ok || !dvals_equal(sh, rec)) && (rc = shape_decide(b, sh, rec)))
            return rc;
    } else {
        b->st.shape_misses++;
        if (!fp)
            fp = shape_fp(rec);
        if ((rc = shape_new(b, rec, fp, &sh)) || (rc = shape_decide(b, sh, rec)))
            return rc;
    }
    if (sh->plan_ok && sh->nfields == ev->nfields)
        rc = emit_plan(sh, rec, ev);
    else
        rc = emit_direct(b, sh, rec, ev, sh->valid);
    if (rc)
        return rc;

    if (sh->ls != BN_FIELD_NONE) {
        ev->product = m->triples[sh->ls].product;
        ev->category = m->triples[sh->ls].category;
        ev->service = m->triples[sh->ls].service;
        ev->ls_id = sh->ls;
    }
    if (sh->have_ovr)
        apply_override(b, rec, sh->ovr, ev);
    ev->ts_ns = rec->ts_ns;
    if (sh->kidx < m->nkinds) {
        const struct map_kind *k = &m->kinds[sh->kidx];
        for (uint32_t i = 0; i < k->nhost; i++) {
            uint32_t at = sh->slot_kv[k->host_slots[i]];
            if (at != UINT32_MAX && rec->kv[at].val && rec->kv[at].val_len) {
                ev->host = rec->kv[at].val;
                ev->host_len = rec->kv[at].val_len;
                break;
            }
        }
        for (uint32_t i = 0; i < k->ntime && ev->ts_ns == INT64_MIN; i++) {
            uint32_t at = sh->slot_kv[k->time_slots[i]];
            int64_t ns;
            if (at != UINT32_MAX && rec->kv[at].val &&
                bn_time_parse(rec->kv[at].val, rec->kv[at].val_len, &ns) == 0)
                ev->ts_ns = ns;
        }
    }
    return 0;
}

/* --- logsource taxonomy ---------------------------------------------------------------- */

static bool
in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

bool
bn_logsource_applies(const char *product, const char *category, const char *service,
                     const char *ev_product, const char *ev_category, const char *ev_service)
{
    static const char *const registry[] = {"registry_add", "registry_delete", "registry_set",
                                           "registry_rename", NULL};
    static const char *const auth[] = {"sshd", "sudo", "su", "login", "passwd", "auth", NULL};

    if (product && !*product)
        product = NULL;
    if (category && !*category)
        category = NULL;
    if (service && !*service)
        service = NULL;
    if (product && (!ev_product || strcasecmp(product, ev_product) != 0))
        return false;
    if (category) {
        if (!ev_category)
            return false;
        if (strcasecmp(category, ev_category) != 0 &&
            !(!strcasecmp(category, "registry_event") && in_list(ev_category, registry)))
            return false;
    }
    if (service) {
        if (!ev_service)
            return false;
        if (!strcasecmp(service, ev_service))
            return true;
        if (!ev_product || strcasecmp(ev_product, "linux") != 0)
            return false;
        if (!strcasecmp(service, "syslog"))
            return strcmp(ev_service, "auditd") != 0;
        if (!strcasecmp(service, "auth"))
            return in_list(ev_service, auth);
        return false;
    }
    return true;
}

