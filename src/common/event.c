/*
 * event.c - interned field names and the per-thread event matched by the engine.
 *
 * The field table is an open-addressing hash of names to dense ids; it grows while rules
 * compile and is only read afterwards, so lookups need no lock.
 */
#include <string.h>

#include "bannin/event.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "common/hash.h"

struct bn_fieldtab {
    char **names;      /* id -> owned name */
    uint32_t *lens;
    uint32_t count;
    uint32_t names_cap;
    uint32_t *slots;   /* hash slot -> id+1, 0 = empty */
    uint32_t nslots;   /* power of two */
};

struct bn_fieldtab *
bn_fieldtab_new(void)
{
    struct bn_fieldtab *ft = bn_calloc(1, sizeof(*ft));
    if (!ft)
        return NULL;
    ft->nslots = 64;
    ft->slots = bn_calloc(ft->nslots, sizeof(*ft->slots));
    if (!ft->slots) {
        bn_free(ft);
        return NULL;
    }
    return ft;
}

void
bn_fieldtab_free(struct bn_fieldtab *ft)
{
    if (!ft)
        return;
    for (uint32_t i = 0; i < ft->count; i++)
        bn_free(ft->names[i]);
    bn_free(ft->names);
    bn_free(ft->lens);
    bn_free(ft->slots);
    bn_free(ft);
}

uint32_t
bn_fieldtab_lookup(const struct bn_fieldtab *ft, const char *name, size_t len)
{
    uint32_t mask = ft->nslots - 1;
    uint32_t i = (uint32_t)bn__hash(name, len, 0) & mask;
    for (;;) {
        uint32_t s = ft->slots[i];
        if (s == 0)
            return BN_FIELD_NONE;
        if (ft->lens[s - 1] == len && memcmp(ft->names[s - 1], name, len) == 0)
            return s - 1;
        i = (i + 1) & mask;
    }
}

static int
grow_slots(struct bn_fieldtab *ft)
{
    uint32_t n = ft->nslots * 2;
    uint32_t *slots = bn_calloc(n, sizeof(*slots));
    if (!slots)
        return BN_ENOMEM;
    for (uint32_t id = 0; id < ft->count; id++) {
        uint32_t i = (uint32_t)bn__hash(ft->names[id], ft->lens[id], 0) & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
    bn_free(ft->slots);
    ft->slots = slots;
    ft->nslots = n;
    return 0;
}

int
bn_fieldtab_intern(struct bn_fieldtab *ft, const char *name, size_t len, uint32_t *id)
{
    uint32_t found = bn_fieldtab_lookup(ft, name, len);
    if (found != BN_FIELD_NONE) {
        *id = found;
        return 0;
    }
    if (ft->count >= BN_FIELDS_MAX || len > BN_FIELD_NAME_MAX)
        return BN_ETOOBIG;
    if ((ft->count + 1) * 2 > ft->nslots && grow_slots(ft))
        return BN_ENOMEM;
    if (ft->count == ft->names_cap) {
        uint32_t cap = ft->names_cap ? ft->names_cap * 2 : 32;
        char **names = bn_reallocarray(ft->names, cap, sizeof(*names));
        if (!names)
            return BN_ENOMEM;
        ft->names = names;
        uint32_t *lens = bn_reallocarray(ft->lens, cap, sizeof(*lens));
        if (!lens)
            return BN_ENOMEM;
        ft->lens = lens;
        ft->names_cap = cap;
    }
    char *copy = bn_strndup(name, len);
    if (!copy)
        return BN_ENOMEM;
    uint32_t nid = ft->count++;
    ft->names[nid] = copy;
    ft->lens[nid] = (uint32_t)len;
    uint32_t mask = ft->nslots - 1;
    uint32_t i = (uint32_t)bn__hash(name, len, 0) & mask;
    while (ft->slots[i])
        i = (i + 1) & mask;
    ft->slots[i] = nid + 1;
    *id = nid;
    return 0;
}

const char *
bn_fieldtab_name(const struct bn_fieldtab *ft, uint32_t id)
{
    return id < ft->count ? ft->names[id] : NULL;
}

uint32_t
bn_fieldtab_count(const struct bn_fieldtab *ft)
{
    return ft->count;
}

int
bn_event_init(struct bn_event *ev, uint32_t nfields)
{
    memset(ev, 0, sizeof(*ev));
    ev->nfields = nfields;
    ev->first = bn_calloc(nfields ? nfields : 1, sizeof(*ev->first));
    if (!ev->first)
        return BN_ENOMEM;
    ev->ls_id = BN_FIELD_NONE;
    ev->ts_ns = INT64_MIN;
    return 0;
}

void
bn_event_release(struct bn_event *ev)
{
    bn_free(ev->first);
    bn_free(ev->vals);
    memset(ev, 0, sizeof(*ev));
}

void
bn_event_clear(struct bn_event *ev)
{
    for (uint32_t i = 0; i < ev->nvals; i++)
        if (ev->vals[i].field != BN_FIELD_NONE)
            ev->first[ev->vals[i].field] = 0;
    ev->nvals = 0;
    ev->product = ev->category = ev->service = NULL;
    ev->ls_id = BN_FIELD_NONE;
    ev->ts_ns = INT64_MIN;
    ev->host = NULL;
    ev->host_len = 0;
    ev->tenant = NULL;
    ev->rec = NULL;
}

int
bn_event_add(struct bn_event *ev, uint32_t field, const char *name, size_t name_len,
             const char *s, size_t len, enum bn_vtype type, uint32_t kv)
{
    if (ev->nvals == ev->cap) {
        if (ev->cap >= BN_RECORD_FIELDS_MAX * 2)
            return BN_ETOOBIG;
        uint32_t cap = ev->cap ? ev->cap * 2 : 64;
        struct bn_fval *v = bn_reallocarray(ev->vals, cap, sizeof(*v));
        if (!v)
            return BN_ENOMEM;
        ev->vals = v;
        ev->cap = cap;
    }
    if (len > UINT32_MAX)
        return BN_ETOOBIG;
    uint32_t idx = ev->nvals++;
    struct bn_fval *v = &ev->vals[idx];
    v->s = s;
    v->len = (uint32_t)len;
    v->field = field < ev->nfields ? field : BN_FIELD_NONE;
    v->next = 0;
    v->kv = kv;
    v->name = name;
    v->name_len = (uint32_t)name_len;
    v->type = (uint8_t)type;
    if (v->field != BN_FIELD_NONE) {
        /* Append at the end of the field's chain so values keep their source order. */
        uint32_t *link = &ev->first[v->field];
        while (*link)
            link = &ev->vals[*link - 1].next;
        *link = idx + 1;
    }
    return 0;
}
