/*
 * reader_int.h - what a log format reader implements, and the byte source it reads from.
 *
 * reader.c owns the public bn_reader_* API, format detection and the byte source
 * (plain file, gzip or zstd, or memory); each format (reader_json.c, reader_syslog.c,
 * reader_auditd.c, evtx.c, ...) provides one struct bn_reader_ops.
 */
#ifndef BANNIN_READER_INT_H
#define BANNIN_READER_INT_H

#include <sys/types.h>

#include "bannin/reader.h"

struct bn_source;

/* Reads up to n decoded (decompressed) bytes. Returns the count, 0 at end of input, or a
 * negative BN_E* / -errno (a corrupt compressed stream is BN_EFORMAT with a message logged
 * through the diag given to bn_reader_next). */
ssize_t bn__source_read(struct bn_source *s, void *buf, size_t n);
/* Decoded bytes consumed so far (offset of the next byte bn__source_read returns). */
uint64_t bn__source_offset(const struct bn_source *s);

struct bn_reader;

struct bn_reader_ops {
    const char *name;     /* "ndjson", "evtx", ... */
    enum bn_format format;
    /* Scores how likely the first decoded bytes are this format: 0 (no) .. 100 (certain). */
    int (*probe)(const unsigned char *head, size_t len);
    /* Sets up r->state. 0 or an error with d. */
    int (*open)(struct bn_reader *r, struct bn_diag *d);
    /* Fills rec (already reset) with the next record: same contract as bn_reader_next. Set
     * r->done when the rest of the input cannot be read. */
    int (*next)(struct bn_reader *r, struct bn_record *rec, struct bn_diag *d);
    void (*close)(struct bn_reader *r);
};

struct bn_reader {
    const struct bn_reader_ops *ops;
    struct bn_source *src;
    const char *path;           /* borrowed, for messages */
    void *state;                /* the format's own state */
    struct bn_record rec;       /* handed out by bn_reader_next */
    struct bn_reader_stats stats;
    bool done;
};

extern const struct bn_reader_ops bn__reader_ndjson;
extern const struct bn_reader_ops bn__reader_json;
extern const struct bn_reader_ops bn__reader_evtx;
extern const struct bn_reader_ops bn__reader_auditd;
extern const struct bn_reader_ops bn__reader_syslog;
extern const struct bn_reader_ops bn__reader_journal;

#endif
