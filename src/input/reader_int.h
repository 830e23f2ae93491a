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

/* --- byte source (source.c) ---
 * A source decodes a plain, gzip or zstd file (or memory) and keeps a window of decoded
 * bytes that readers parse in place: peek at the window, consume what was parsed, fill to
 * get more. Pointers into the window stay valid until the next fill, line or read call. */

/* Opens path (borrowed) and sniffs gzip/zstd magic. Returns 0 and an owned source, or an
 * error with d filled. */
int bn__source_open_file(struct bn_source **out, const char *path, struct bn_diag *d);
/* Wraps data (borrowed, must outlive the source); compressed data is detected too. */
int bn__source_open_mem(struct bn_source **out, const void *data, size_t len, const char *name,
                        struct bn_diag *d);
void bn__source_free(struct bn_source *s);
/* Makes at least want bytes available in the window, fewer only at end of input.
 * Returns 0 or a negative error (see bn__source_error()). */
int bn__source_fill(struct bn_source *s, size_t want);
/* Returns the window start (borrowed) and its length in *avail. */
const char *bn__source_peek(const struct bn_source *s, size_t *avail);
/* Drops n bytes (n <= avail) from the front of the window. */
void bn__source_consume(struct bn_source *s, size_t n);
/* True when no decoded bytes exist beyond the window. */
bool bn__source_eof(const struct bn_source *s);
/*
 * Returns the next line (without its '\n') in *line, borrowed until the next source call.
 * A line longer than max is consumed without being held in memory and BN_ETOOBIG is
 * returned; BN_EOF at the end; another negative code when the stream is unreadable.
 */
int bn__source_line(struct bn_source *s, size_t max, struct bn_str *line);
/* True once the stream failed (corrupt, truncated, bomb, read error): the rest is lost. */
bool bn__source_failed(const struct bn_source *s);
/* Message of the last stream error ("corrupt gzip stream at offset N: ..."), or "". */
const char *bn__source_error(const struct bn_source *s);
/* Raw (compressed) bytes consumed and the raw size (0 if unknown). */
void bn__source_progress(const struct bn_source *s, uint64_t *done, uint64_t *total);
/* Modification time of the file in seconds since the epoch, or the current time for memory. */
int64_t bn__source_mtime(const struct bn_source *s);
/* "plain", "gzip" or "zstd". */
const char *bn__source_kind(const struct bn_source *s);

/* --- helpers shared by the readers (reader.c) --- */

#include "bannin/timeutil.h"

#endif
