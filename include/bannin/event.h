/*
 * event.h - the event model the detection engine matches: interned field names and an event
 * whose values are reachable by field id in O(1) (an array indexed by id, not a hash map).
 *
 * A field table is built while rules compile and is immutable afterwards, so every thread
 * can look names up without locks. An event is per-thread scratch, reused record after record.
 */
#ifndef BANNIN_EVENT_H
#define BANNIN_EVENT_H

#include "bannin/common.h"
#include "bannin/record.h"

#define BN_FIELD_NONE UINT32_MAX

struct bn_fieldtab;

/* Returns an owned empty table, or NULL. */
struct bn_fieldtab *bn_fieldtab_new(void);
void bn_fieldtab_free(struct bn_fieldtab *ft);
/* Returns the id of name (adding it if new) in *id. 0, BN_ENOMEM or BN_ETOOBIG. */
int bn_fieldtab_intern(struct bn_fieldtab *ft, const char *name, size_t len, uint32_t *id);
/* Returns the id of name, or BN_FIELD_NONE. Exact, case-sensitive match. */
uint32_t bn_fieldtab_lookup(const struct bn_fieldtab *ft, const char *name, size_t len);
/* Returns the interned name (borrowed, NUL-terminated) of id, or NULL. */
const char *bn_fieldtab_name(const struct bn_fieldtab *ft, uint32_t id);
uint32_t bn_fieldtab_count(const struct bn_fieldtab *ft);

/* One value of an event. Values of one field are chained through next. */
struct bn_fval {
    const char *s;    /* borrowed text (see record.h); NULL for null */
    uint32_t len;
    uint32_t field;   /* field id, or BN_FIELD_NONE when no rule names the field */
    uint32_t next;    /* index+1 of the next value of the same field in vals[], 0 = last */
    uint32_t kv;      /* index of the source pair in the record (for output) */
    const char *name; /* field name after mapping (borrowed), for keyword search and output */
    uint32_t name_len;
    uint8_t type;     /* enum bn_vtype */
};

struct bn_event {
    uint32_t nfields;      /* size of first[]: bn_fieldtab_count() of the table it was built for */
    uint32_t *first;       /* first[id] = index+1 into vals of the field's first value, 0 = absent */
    struct bn_fval *vals;  /* every value of the record, known fields and others */
    uint32_t nvals;
    uint32_t cap;
    /* logsource derived by the mapping; NULL = not set. Borrowed, static for the mapping's life. */
    const char *product;
    const char *category;
    const char *service;
    uint32_t ls_id;        /* routing id assigned by the mapping (BN_FIELD_NONE = unknown) */
    int64_t ts_ns;         /* event time, INT64_MIN if unknown */
    const char *host;      /* borrowed, may be NULL */
    size_t host_len;
    const char *tenant;    /* borrowed, may be NULL */
    const struct bn_record *rec; /* the source record, borrowed */
};

/* Initialises an empty event for a table of nfields fields. 0 or BN_ENOMEM. */
int bn_event_init(struct bn_event *ev, uint32_t nfields);
void bn_event_release(struct bn_event *ev);
/* Clears values (cost proportional to the values present, not to nfields). */
void bn_event_clear(struct bn_event *ev);
/* Appends a value; links it into first[] when field != BN_FIELD_NONE. 0, BN_ENOMEM, BN_ETOOBIG. */
int bn_event_add(struct bn_event *ev, uint32_t field, const char *name, size_t name_len,
                 const char *s, size_t len, enum bn_vtype type, uint32_t kv);
/* Returns the first value of field id, or NULL. Follow ->next (index+1) for the others. */
static inline const struct bn_fval *
bn_event_first(const struct bn_event *ev, uint32_t field)
{
    if (field >= ev->nfields || ev->first[field] == 0)
        return NULL;
    return &ev->vals[ev->first[field] - 1];
}
static inline const struct bn_fval *
bn_event_next(const struct bn_event *ev, const struct bn_fval *v)
{
    return v->next ? &ev->vals[v->next - 1] : NULL;
}

#endif
