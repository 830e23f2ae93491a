/*
 * evtx.h - internal view of the EVTX reader's damage counters, for tests and `hunt --stats`.
 *
 * The public reader stats count skipped records; these say what kind of damage an EVTX file
 * had (chunks with a bad magic or header checksum, data checksums that did not match but
 * whose records were still read).
 */
#ifndef BANNIN_INPUT_EVTX_H
#define BANNIN_INPUT_EVTX_H

#include "bannin/common.h"

struct bn_reader;

struct bn__evtx_counters {
    uint64_t chunks;             /* chunks whose records were read */
    uint64_t chunks_empty;       /* all-zero (never used) chunks, skipped silently */
    uint64_t chunks_bad_magic;   /* skipped: no "ElfChnk\0" */
    uint64_t chunks_bad_header;  /* skipped: header checksum mismatch or bad header fields */
    uint64_t chunks_bad_data_crc; /* records checksum mismatch; records still read */
    uint64_t records_bad;        /* records skipped (bad header, size or BinXML) */
    uint64_t templates;          /* templates compiled (cache misses) */
};

/* Copies the counters of an EVTX reader into out. Returns 0, or BN_EINVAL if r is not an
 * EVTX reader. */
int bn__evtx_counters(const struct bn_reader *r, struct bn__evtx_counters *out);

#endif
