/*
 * record.h - what an input reader produces: one log record as a flat list of key/value
 * pairs, before any mapping to Sigma field names.
 *
 * Keys are dotted paths of the source structure ("Event.EventData.Image",
 * "Event.System.Provider.#attributes.Name", "winlog.event_data.CommandLine", "comm").
 * Array elements repeat their key (a multi-valued field). Values are already decoded text:
 * JSON escapes resolved, numbers as their source text, booleans as "true"/"false", null as
 * type BN_VT_NULL with val NULL.
 *
 * Ownership: key and val are borrowed, either from the reader's input buffer or from the
 * record's pool; both stay valid until the next bn_reader_next() on the same reader.
 */
#ifndef BANNIN_RECORD_H
#define BANNIN_RECORD_H

#include "bannin/common.h"

struct bn_pool;

enum bn_vtype {
    BN_VT_NULL = 0,
    BN_VT_BOOL,
    BN_VT_NUM,
    BN_VT_STR,
};

struct bn_kv {
    const char *key;
    const char *val;
    uint32_t key_len;
    uint32_t val_len;
    uint8_t type; /* enum bn_vtype */
};

struct bn_record {
    struct bn_kv *kv;      /* owned by the record */
    uint32_t n;
    uint32_t cap;
    struct bn_pool *pool;  /* owned; scratch for decoded keys and values; reset per record */
    const char *raw;       /* the record's source bytes (NDJSON line, JSON object), or NULL */
    size_t raw_len;
    int64_t ts_ns;         /* event time in ns since the epoch if known, else INT64_MIN */
    const char *format;    /* static name of the reader: "ndjson", "evtx", "auditd", ... */
    const char *file;      /* borrowed path of the source file, for messages */
    uint64_t index;        /* 0-based record number within the file */
    uint64_t line;         /* 1-based line of the record start, 0 if not line-based */
    uint64_t offset;       /* byte offset of the record start in the (decompressed) input */
};

/* Initialises an embedded record with its own pool. Returns 0 or BN_ENOMEM. */
int bn_record_init(struct bn_record *r);
/* Frees what bn_record_init made. */
void bn_record_release(struct bn_record *r);
/* Drops all pairs and resets the pool; keeps storage. */
void bn_record_reset(struct bn_record *r);
/* Appends a pair; key and val are borrowed (copy into r->pool first if they are transient).
 * Returns 0, BN_ENOMEM, or BN_ETOOBIG past BN_RECORD_FIELDS_MAX. */
int bn_record_add(struct bn_record *r, const char *key, size_t key_len, const char *val,
                  size_t val_len, enum bn_vtype type);
/* Appends a pair, copying key and val into the record's pool. */
int bn_record_add_copy(struct bn_record *r, const char *key, size_t key_len, const char *val,
                       size_t val_len, enum bn_vtype type);
/* Returns the first pair whose key equals key, or NULL. */
const struct bn_kv *bn_record_get(const struct bn_record *r, const char *key);
/* Writes the record as one JSON object: nested by dotted key when rebuild is true is NOT
 * attempted; keys are written flat. Appends to buf (struct bn_buf *). */
int bn_record_to_json(const struct bn_record *r, void *buf);

#endif
