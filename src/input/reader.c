/*
 * reader.c - the public bn_reader_* API of `bannin hunt`: opens the byte source, detects
 * the log format by letting every format score the first decoded bytes, and hands out
 * records while keeping the statistics (records, bytes, skips by reason).
 *
 * The formats themselves live in reader_json.c, reader_syslog.c, reader_auditd.c and
 * evtx*.c, each behind a struct bn_reader_ops. The timestamp helpers every format shares
 * are here too.
 */
#include <string.h>

#include "input/reader_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"

#define PROBE_BYTES (64u << 10)

static const struct bn_reader_ops *
ops_for(enum bn_format fmt)
{
    switch (fmt) {
    case BN_FMT_NDJSON:
        return &bn__reader_ndjson;
    case BN_FMT_JSON:
        return &bn__reader_json;
    case BN_FMT_EVTX:
        return &bn__reader_evtx;
    case BN_FMT_AUDITD:
        return &bn__reader_auditd;
    case BN_FMT_SYSLOG:
        return &bn__reader_syslog;
    case BN_FMT_JOURNAL:
        return &bn__reader_journal;
    default:
        return NULL;
    }
}

static const char *const format_names[] = {
    [BN_FMT_AUTO] = "auto",     [BN_FMT_NDJSON] = "ndjson", [BN_FMT_JSON] = "json",
    [BN_FMT_EVTX] = "evtx",     [BN_FMT_AUDITD] = "auditd", [BN_FMT_SYSLOG] = "syslog",
    [BN_FMT_JOURNAL] = "journal",
};

int
bn_format_parse(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < BN_ARRAY_SIZE(format_names); i++)
        if (strcmp(name, format_names[i]) == 0)
            return (int)i;
    if (strcmp(name, "jsonl") == 0)
        return BN_FMT_NDJSON;
    return -1;
}

const char *
bn_format_name(enum bn_format fmt)
{
    if ((size_t)fmt < BN_ARRAY_SIZE(format_names) && format_names[fmt])
        return format_names[fmt];
    return "unknown";
}

/* Picks the format whose probe scores the first decoded bytes highest. */
static int
detect(struct bn_reader *r, struct bn_diag *d)
{
    static const enum bn_format order[] = {
        BN_FMT_EVTX, BN_FMT_JOURNAL, BN_FMT_NDJSON, BN_FMT_JSON, BN_FMT_AUDITD, BN_FMT_SYSLOG,
    };
    int rc = bn__source_fill(r->src, PROBE_BYTES);
    if (rc)
        return bn_diag_set(d, rc, r->path, 0, 0, "cannot read '%s': %s", r->path,
                           *bn__source_error(r->src) ? bn__source_error(r->src)
                                                     : bn_strerror(rc));
    size_t n;
    const unsigned char *head = (const unsigned char *)bn__source_peek(r->src, &n);
    if (n > PROBE_BYTES)
        n = PROBE_BYTES;
    int best = 0;
    const struct bn_reader_ops *pick = NULL;
    for (size_t i = 0; i < BN_ARRAY_SIZE(order); i++) {
        const struct bn_reader_ops *ops = ops_for(order[i]);
        if (!ops || !ops->probe)
            continue;
        int score = ops->probe(head, n);
        if (score > best) {
            best = score;
            pick = ops;
        }
    }
    if (!pick) {
        if (n == 0) {
            /* An empty file has no records in any format. */
            r->ops = &bn__reader_ndjson;
            return 0;
        }
        return bn_diag_set(d, BN_EFORMAT, r->path, 0, 0,
                           "cannot tell the log format of '%s' (%s data); name it with "
                           "--format", r->path, bn__source_kind(r->src));
    }
    r->ops = pick;
    return 0;
}

static int
reader_setup(struct bn_reader *r, enum bn_format fmt, struct bn_diag *d)
{
    int rc = bn_record_init(&r->rec);
    if (rc)
        return bn_diag_set(d, rc, r->path, 0, 0, "out of memory");
    if (fmt == BN_FMT_AUTO) {
        rc = detect(r, d);
        if (rc)
            return rc;
    } else {
        r->ops = ops_for(fmt);
        if (!r->ops)
            return bn_diag_set(d, BN_EUNSUP, r->path, 0, 0,
                               "format '%s' is not supported by this build", bn_format_name(fmt));
    }
    if (r->ops->open) {
        rc = r->ops->open(r, d);
        if (rc)
            return rc;
    }
    return 0;
}

int
bn_reader_open(struct bn_reader **out, const char *path, enum bn_format fmt, struct bn_diag *d)
{
    *out = NULL;
    bn_diag_clear(d);
    struct bn_reader *r = bn_calloc(1, sizeof(*r));
    if (!r)
        return bn_diag_set(d, BN_ENOMEM, path, 0, 0, "out of memory");
    r->path = path;
    int rc = bn__source_open_file(&r->src, path, d);
    if (!rc)
        rc = reader_setup(r, fmt, d);
    if (rc) {
        bn_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int
bn_reader_open_mem(struct bn_reader **out, const void *data, size_t len, const char *name,
                   enum bn_format fmt, struct bn_diag *d)
{
    *out = NULL;
    bn_diag_clear(d);
    struct bn_reader *r = bn_calloc(1, sizeof(*r));
    if (!r)
        return bn_diag_set(d, BN_ENOMEM, name, 0, 0, "out of memory");
    r->path = name ? name : "<memory>";
    int rc = bn__source_open_mem(&r->src, data, len, r->path, d);
    if (!rc)
        rc = reader_setup(r, fmt, d);
    if (rc) {
        bn_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int
bn_reader_next(struct bn_reader *r, struct bn_record **rec, struct bn_diag *d)
{
    *rec = NULL;
    if (r->done)
        return BN_EOF;
    bn_record_reset(&r->rec);
    r->rec.format = r->ops->name;
    r->rec.file = r->path;
    r->rec.line = 0;
    r->rec.offset = 0;
    int rc = r->ops->next(r, &r->rec, d);
    uint64_t total;
    bn__source_progress(r->src, &r->stats.bytes, &total);
    r->stats.bytes_decoded = bn__source_offset(r->src);
    if (rc == 0) {
        r->rec.index = r->stats.records++;
        *rec = &r->rec;
        return 0;
    }
    if (rc == BN_EOF) {
        r->done = true;
        return BN_EOF;
    }
    /* A stream error (corrupt or truncated compressed data, read error) ends the file;
     * the formats set r->done and the source's own words are the better message. */
    if (r->done && *bn__source_error(r->src))
        bn_diag_set(d, rc, r->path, 0, 0, "%s", bn__source_error(r->src));
    r->stats.skipped++;
    if (rc == BN_ETOOBIG)
        r->stats.skipped_toobig++;
    else if (rc == BN_EPARSE || rc == BN_EFORMAT || rc == BN_ETRUNC)
        r->stats.skipped_parse++;
    else
        r->stats.skipped_other++;
    return rc;
}

bool
bn_reader_done(const struct bn_reader *r)
{
    return r->done;
}

enum bn_format
bn_reader_format(const struct bn_reader *r)
{
    return r->ops ? r->ops->format : BN_FMT_AUTO;
}

const struct bn_reader_stats *
bn_reader_stats(const struct bn_reader *r)
{
    return &r->stats;
}

void
bn_reader_progress(const struct bn_reader *r, uint64_t *done, uint64_t *total)
{
    bn__source_progress(r->src, done, total);
}

void
bn_reader_free(struct bn_reader *r)
{
    if (!r)
        return;
    if (r->ops && r->ops->close)
        r->ops->close(r);
    bn__source_free(r->src);
    if (r->rec.pool)
        bn_record_release(&r->rec);
    bn_free(r);
}

