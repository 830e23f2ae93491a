/*
 * reader.h - log file readers for `bannin hunt`: NDJSON, concatenated JSON objects (evtx_dump
 * style), EVTX, auditd, syslog (RFC 3164 / 5424) and `journalctl -o json`, each possibly
 * gzip- or zstd-compressed. The format is detected from the first bytes unless forced.
 *
 * A reader is used by one thread at a time. Every record that cannot be read is skipped
 * with a diagnostic (file, line or offset, reason) and counted in the stats; the reader
 * then goes on with the next record when the format allows it.
 */
#ifndef BANNIN_READER_H
#define BANNIN_READER_H

#include "bannin/common.h"
#include "bannin/diag.h"
#include "bannin/record.h"

enum bn_format {
    BN_FMT_AUTO = 0,
    BN_FMT_NDJSON,  /* one JSON object per line */
    BN_FMT_JSON,    /* concatenated JSON objects (or one top-level array of objects) */
    BN_FMT_EVTX,
    BN_FMT_AUDITD,
    BN_FMT_SYSLOG,
    BN_FMT_JOURNAL, /* journalctl -o json (NDJSON with journald field names) */
};

/* Counters of one reader; skipped records are counted by reason. */
struct bn_reader_stats {
    uint64_t records;        /* records returned */
    uint64_t bytes;          /* input bytes consumed (compressed size for compressed files) */
    uint64_t bytes_decoded;  /* bytes after decompression */
    uint64_t skipped;        /* records skipped, all reasons */
    uint64_t skipped_parse;  /* malformed */
    uint64_t skipped_toobig; /* over a limit from limits.h */
    uint64_t skipped_other;
};

struct bn_reader;

/* Parses "auto", "ndjson", "json", "evtx", "auditd", "syslog", "journal". Returns -1 if unknown. */
int bn_format_parse(const char *name);
const char *bn_format_name(enum bn_format fmt);

/* Opens path (borrowed; must outlive the reader) with the given format or BN_FMT_AUTO.
 * Returns 0 and an owned reader, or an error with d filled. */
int bn_reader_open(struct bn_reader **out, const char *path, enum bn_format fmt,
                   struct bn_diag *d);
/* Opens in-memory bytes (borrowed) - used by tests and fuzz targets. name is for messages. */
int bn_reader_open_mem(struct bn_reader **out, const void *data, size_t len, const char *name,
                       enum bn_format fmt, struct bn_diag *d);
/*
 * Parses one NDJSON line (one JSON object; a trailing newline and surrounding blanks are
 * allowed) held in memory into rec (reset first; rec from bn_record_init), exactly as the
 * NDJSON reader does for a line of a file: the same keys, values, types, raw bytes and time,
 * format "ndjson", file name, line 1. For callers that render one event and match it at
 * once (the agent's local detection): no reader or source to set up per event. p is
 * borrowed and must outlive rec's use. Returns 0, or an error with d (line 1, column).
 */
int bn_record_parse_ndjson(struct bn_record *rec, const char *p, size_t len, const char *name,
                           struct bn_diag *d);
/*
 * Reads the next record. Returns 0 with *rec set (borrowed, valid until the next call),
 * BN_EOF at the end, or a negative error: the record at d's position was skipped; call again
 * to continue unless bn_reader_done() is now true (the rest of the file is unreadable).
 */
int bn_reader_next(struct bn_reader *r, struct bn_record **rec, struct bn_diag *d);
bool bn_reader_done(const struct bn_reader *r);
enum bn_format bn_reader_format(const struct bn_reader *r);
const struct bn_reader_stats *bn_reader_stats(const struct bn_reader *r);
/* Approximate progress: compressed input bytes consumed so far and the file size (0 if unknown). */
void bn_reader_progress(const struct bn_reader *r, uint64_t *done, uint64_t *total);
void bn_reader_free(struct bn_reader *r);

#endif
