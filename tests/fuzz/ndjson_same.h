/*
 * ndjson_same.h - differential check shared by test_reader and fuzz_json: one NDJSON line
 * parsed by bn_record_parse_ndjson must give what the NDJSON reader gives for the same line
 * (success or the same error code and column; the same pairs, types, raw bytes and time).
 */
#ifndef BN_TEST_NDJSON_SAME_H
#define BN_TEST_NDJSON_SAME_H

#include <string.h>

#include "bannin/error.h"
#include "bannin/reader.h"
#include "bannin/record.h"

/* Returns NULL when both agree on line (len bytes, no newline inside), else what differs.
 * A line the reader skips (blank) is not compared. */
static inline const char *
ndjson_same(const char *line, size_t len)
{
    struct bn_reader *r = NULL;
    struct bn_record *a = NULL, b;
    struct bn_diag d1, d2;
    const char *why = NULL;
    int rc1, rc2;

    if (bn_record_init(&b) != 0)
        return NULL; /* out of memory: nothing to compare */
    if (bn_reader_open_mem(&r, line, len, "x", BN_FMT_NDJSON, &d1) != 0) {
        bn_record_release(&b);
        return NULL;
    }
    rc1 = bn_reader_next(r, &a, &d1);
    rc2 = bn_record_parse_ndjson(&b, line, len, "x", &d2);
    if (rc1 == BN_EOF || rc1 == BN_ENOMEM || rc2 == BN_ENOMEM)
        goto out; /* a blank line, or allocation failure */
    if ((rc1 == 0) != (rc2 == 0) || (rc1 && rc1 != rc2)) {
        why = "result code";
        goto out;
    }
    if (rc1) {
        if (d1.col != d2.col)
            why = "error column";
        goto out;
    }
    if (a->n != b.n || a->raw_len != b.raw_len || memcmp(a->raw, b.raw, a->raw_len) != 0 ||
        a->ts_ns != b.ts_ns || strcmp(a->format, b.format) != 0) {
        why = "pair count, raw bytes, time or format";
        goto out;
    }
    for (uint32_t i = 0; i < a->n && !why; i++) {
        const struct bn_kv *x = &a->kv[i], *y = &b.kv[i];

        if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0 ||
            x->type != y->type || x->val_len != y->val_len ||
            (x->val_len && memcmp(x->val, y->val, x->val_len) != 0) ||
            (x->val == NULL) != (y->val == NULL))
            why = "a pair";
    }
out:
    bn_reader_free(r);
    bn_record_release(&b);
    return why;
}

#endif
