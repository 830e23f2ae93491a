/*
 * fuzz_evtx.c - libFuzzer target for the EVTX reader: file header, chunk checks, records,
 * BinXML templates and substitution values, through bn_reader_open_mem(..., BN_FMT_EVTX).
 * Every pair is read back (so ASan sees any bad pointer) and rendered as JSON.
 *
 * Seeds (tests/fuzz/corpus/evtx/): files built by tests/unit/evtx (good records, bad chunk
 * magic, out-of-bounds name, template loop, deep nesting, truncation) and corpus files cut
 * to their used bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "input/reader_int.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* reader.c refers to the EVTX ops weakly; keep evtx.o in the link. */
    if (!bn__reader_evtx.name)
        return 0;
    bn_log_set_level(BN_LOG_ERROR); /* damaged input warns on every run */
    struct bn_reader *r = NULL;
    struct bn_diag d;
    if (bn_reader_open_mem(&r, data, size, "fuzz.evtx", BN_FMT_EVTX, &d) != 0)
        return 0;
    struct bn_buf b;
    bn_buf_init(&b, 1u << 24);
    struct bn_record *rec;
    unsigned sum = 0;
    for (int i = 0; i < 100000 && !bn_reader_done(r); i++) {
        int rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF)
            break;
        if (rc) {
            sum += (unsigned)strlen(d.msg);
            continue;
        }
        for (uint32_t k = 0; k < rec->n; k++) {
            const struct bn_kv *kv = &rec->kv[k];
            for (uint32_t j = 0; j < kv->key_len; j++)
                sum += (unsigned char)kv->key[j];
            for (uint32_t j = 0; j < kv->val_len; j++)
                sum += (unsigned char)kv->val[j];
        }
        bn_buf_reset(&b);
        (void)bn_record_to_json(rec, &b);
    }
    bn_buf_release(&b);
    bn_reader_free(r);
    return sum == 0xdeadbeef;
}
