/*
 * spool.h - the agent's durable on-disk spool: every event the agent produces is appended
 * here as one NDJSON line, survives a crash (kill -9 or power loss after a sync) and waits
 * until the manager link acknowledges it.
 *
 * On disk: a directory of append-only segment files "seg-<first seq, 20 digits>.bns". A
 * segment starts with a 16-byte file header; each record is a 24-byte header (magic, payload
 * length, seq, priority, flags, CRC-32 of header and payload) followed by the payload. The
 * newest segment is the active one; the others are immutable except for shedding, which
 * rewrites a whole segment into a temporary file and renames it over the old one, so a
 * crash at any point leaves either the old or the new segment, never a mix.
 *
 * Guarantees: seq numbers are strictly increasing across restarts; a record whose append
 * returned is on disk for a process crash, and after agent_spool_sync() (or the automatic
 * sync every sync_every records / sync_ms milliseconds) for a machine crash; a torn record at
 * the tail of the newest segment is truncated at open and counted; a damaged record anywhere
 * is skipped by the reader and counted, and reading goes on with the next whole record.
 * Nothing is dropped while the total size stays under max_bytes; over it, whole priority
 * classes are shed oldest segment first, lowest priority first (bulk, then normal, then
 * high, then critical, never a class above the incoming record's), and each dropped record
 * is counted by priority.
 *
 * Threads: a spool belongs to one thread (the agent's loop); nothing here locks.
 */
#ifndef BANNIN_AGENT_SPOOL_H
#define BANNIN_AGENT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "agent/agent.h"

#define AGENT_SPOOL_RECORD_MAX (1u << 20)          /* payload bytes of one record */
#define AGENT_SPOOL_SEGMENT_DEFAULT (4u << 20)     /* a segment rolls over at this size */
#define AGENT_SPOOL_SEGMENT_MIN 4096u
#define AGENT_SPOOL_MAX_DEFAULT (256ull << 20)     /* total bound of a spool directory */
#define AGENT_SPOOL_SYNC_EVERY_DEFAULT 256         /* fdatasync after this many records */
#define AGENT_SPOOL_SYNC_MS_DEFAULT 200            /* ... or when this much time passed */
#define AGENT_SPOOL_SEGMENTS_MAX 65536             /* segment files in one directory */

#define AGENT_SPOOL_FILE_HDR 16u                   /* bytes of a segment file header */
#define AGENT_SPOOL_REC_HDR 24u                    /* bytes of a record header */
#define AGENT_SPOOL_PRIOS 4                        /* enum agent_prio has four values */

struct agent_spool_opts {
    const char *dir;          /* borrowed; created (one level) if missing */
    uint64_t max_bytes;       /* 0 = AGENT_SPOOL_MAX_DEFAULT */
    uint32_t segment_bytes;   /* 0 = AGENT_SPOOL_SEGMENT_DEFAULT; at least SEGMENT_MIN */
    uint32_t sync_every;      /* 0 = default; UINT32_MAX = never by count */
    uint32_t sync_ms;         /* 0 = default; UINT32_MAX = never by time */
    /* Clock seam for tests: milliseconds of a monotonic clock. NULL = CLOCK_MONOTONIC. */
    int64_t (*now_ms)(void *ctx);
    void *now_ctx;
};

struct agent_spool_stats {
    uint64_t appended;                  /* records appended since open */
    uint64_t dropped[AGENT_SPOOL_PRIOS];/* records shed (or refused) over the bound, by prio */
    uint64_t torn;                      /* torn tail records truncated at open */
    uint64_t corrupt;                   /* damaged records skipped (CRC, framing) */
    uint64_t syncs;                     /* fdatasync calls */
    uint64_t compactions;               /* segments rewritten to shed a class */
    uint64_t bytes;                     /* bytes on disk now, file headers included */
    uint64_t segments;                  /* segment files now */
    uint64_t next_seq;                  /* seq the next append gets */
    uint64_t synced_seq;                /* every seq up to this one is synced */
    uint64_t acked_seq;                 /* highest acknowledged seq */
};

/* One record handed out by the reader: borrowed, valid until the next spool call. */
struct agent_spool_rec {
    uint64_t seq;
    enum agent_prio prio;
    const char *data;
    size_t len;
};

struct agent_spool;

/* Fills o with the defaults (dir stays NULL). */
void agent_spool_opts_init(struct agent_spool_opts *o);

/*
 * Opens (or creates) the spool in o->dir: scans the newest segment, truncates a torn tail,
 * recovers the next seq and the acknowledged seq, and removes leftover temporary files.
 * o is copied (o->dir too). Returns 0 and an owned spool in *out, or an error (-errno,
 * BN_ENOMEM, BN_EINVAL) with *out NULL.
 */
int agent_spool_open(struct agent_spool **out, const struct agent_spool_opts *o);

/*
 * Appends one record (data borrowed, copied to disk) with priority prio and returns its seq
 * in *seq. Syncs when the policy says so. Over the bound, sheds lower classes first; if
 * nothing sheddable is left the record itself is refused, counted, and BN_ETOOBIG returned
 * (likewise for a record longer than AGENT_SPOOL_RECORD_MAX or than the whole bound).
 * Returns 0, BN_ETOOBIG, BN_EINVAL or -errno (the spool stays usable).
 */
int agent_spool_append(struct agent_spool *s, const void *data, size_t len,
                       enum agent_prio prio, uint64_t *seq);

/*
 * Appends n records (payloads[i] borrowed, priority prios[i]) in order, with one writev()
 * for the whole batch where a run of single appends would write them back to back: the
 * batch is cut into chunks only where a single append would roll the segment, shed, sync
 * (count or time policy) or refuse a record, and at IOV_MAX / 2 records. Seq numbers,
 * shedding, drop counters, segment rolls and syncs are exactly those of n calls of
 * agent_spool_append (with the clock read once per chunk). Records [0, *done) are appended
 * with the seqs *first_seq, *first_seq + 1, ... when the call returns (either pointer may be
 * NULL). Returns 0 (all n appended); BN_ETOOBIG: record *done was refused and counted as
 * agent_spool_append does, the ones after it were not tried (call again with the rest);
 * BN_EINVAL for a bad record *done; or -errno (a chunk whose write failed is taken back out;
 * the spool stays usable).
 */
int agent_spool_append_many(struct agent_spool *s, const struct iovec *payloads,
                            const enum agent_prio *prios, size_t n, uint64_t *first_seq,
                            size_t *done);

/* Makes every appended record durable now (fdatasync). Returns 0 or -errno. */
int agent_spool_sync(struct agent_spool *s);

/* Syncs if records are pending and sync_ms has passed since the last sync: the loop calls
 * this from a timer so a quiet agent still honours the time policy. Returns 0 or -errno. */
int agent_spool_tick(struct agent_spool *s);

/*
 * Reads the next record after the reader cursor (which starts after the acknowledged seq).
 * Returns 0 with *rec filled (borrowed until the next spool call), BN_EOF when the reader
 * has caught up, or -errno. Damaged records are skipped and counted, never returned.
 */
int agent_spool_next(struct agent_spool *s, struct agent_spool_rec *rec);

/* Moves the reader cursor so the next record returned has a seq greater than seq. */
void agent_spool_rewind(struct agent_spool *s, uint64_t seq);

/*
 * Acknowledges every record up to seq: remembered on disk (so a restart does not resend
 * them) and every segment wholly acknowledged is deleted (never the active one).
 * Returns 0 or -errno.
 */
int agent_spool_ack(struct agent_spool *s, uint64_t seq);

/* Copies the counters into *st. */
void agent_spool_stats(const struct agent_spool *s, struct agent_spool_stats *st);

/* Syncs, closes and frees. NULL is a no-op. */
void agent_spool_close(struct agent_spool *s);

/*
 * Segment parser, exposed for the fuzz target and tests: walks the bytes of one segment file
 * (borrowed) and calls cb for each whole record with a good CRC (rec borrowed for the call;
 * a non-zero return from cb stops the walk and is returned). Damaged records are skipped and
 * counted in *corrupt; *good_end is the offset just past the last good record (where a torn
 * tail would be truncated). Returns 0, cb's value, or BN_EFORMAT for a bad file header.
 */
typedef int (*agent_spool_scan_cb)(void *ctx, const struct agent_spool_rec *rec,
                                   size_t offset);
int agent_spool_scan_mem(const void *data, size_t len, agent_spool_scan_cb cb, void *ctx,
                         uint64_t *corrupt, size_t *good_end);

#endif
