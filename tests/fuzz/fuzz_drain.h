/*
 * fuzz_drain.h - the loop every reader fuzz target runs: open the bytes as a format and read
 * to the end. Any input must end without a crash, a leak or an endless loop (each call must
 * make progress), and every returned pair is touched so ASan sees bad pointers.
 */
#ifndef BANNIN_FUZZ_DRAIN_H
#define BANNIN_FUZZ_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/error.h"
#include "bannin/reader.h"

static void
fuzz_drain(const uint8_t *data, size_t size, enum bn_format fmt)
{
    struct bn_reader *r;
    struct bn_diag d;
    if (bn_reader_open_mem(&r, data, size, "fuzz", fmt, &d) != 0)
        return;
    struct bn_record *rec;
    for (size_t calls = 0;; calls++) {
        if (calls > 2 * size + 16)
            __builtin_trap(); /* every call must make progress */
        int rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF || (rc != 0 && bn_reader_done(r)))
            break;
        if (rc == 0) {
            for (uint32_t i = 0; i < rec->n; i++) {
                volatile char sink = rec->kv[i].key_len ? rec->kv[i].key[0] : 0;
                if (rec->kv[i].val_len)
                    sink ^= rec->kv[i].val[rec->kv[i].val_len - 1];
                (void)sink;
            }
        }
    }
    bn_reader_free(r);
}

#endif
