/*
 * test_evtx_samples.c - the EVTX reader on outside samples with known answers
 * (../shared/corpora/evtx):
 *
 *  1. omerbenamram-evtx/EXPECTED-record-counts.tsv: the number of records read from each
 *     file, damaged ones included (bad chunk magic, no CRC32, incomplete BinXML tokens and
 *     templates, invalid header flags), must equal the ok_records column. Our error count
 *     is printed next to the error_records column but not asserted: for
 *     sample_with_a_bad_chunk_magic.evtx evtx_dump reports 2 errors that we cannot place
 *     (its unused chunks are all zero and we skip them silently; its three damaged records
 *     decode, as they do in evtx_dump since the ok counts agree).
 *  2. chainsaw/security_sample.evtx: the two 4624 events chainsaw prints in
 *     clo_search_qj_simple_string.txt (JSON, attributes as "<Name>_attributes") must equal
 *     ours pair for pair, after renaming "X_attributes.Y" to "X.#attributes.Y" and ignoring
 *     trailing white space (chainsaw's older evtx kept it: "Advapi  "); and the time, event
 *     and record ids of clo_hunt_r_any_logon.txt.
 *
 * Exits 77 (skipped) when the corpora are absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "input/evtx.h"
#include "input/reader_int.h"
#include "bannin/error.h"
#include "bannin/reader.h"
#include "bannin/record.h"

static char base[1024];

static void
count_records(const char *path, unsigned long *ok, unsigned long *bad,
              struct bn__evtx_counters *c)
{
    struct bn_reader *r = NULL;
    struct bn_diag d;
    *ok = *bad = 0;
    int rc = bn_reader_open(&r, path, BN_FMT_AUTO, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(bn_reader_format(r), BN_FMT_EVTX);
    struct bn_record *rec;
    for (;;) {
        rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF)
            break;
        if (rc) {
            char buf[700];
            printf("  %s\n", bn_diag_format(&d, buf, sizeof(buf)));
            (*bad)++;
            if (bn_reader_done(r))
                break;
            continue;
        }
        (*ok)++;
        /* Every record has its System part (damaged ones with zeroed values included,
         * as evtx_dump shows them: "Provider": null, ...). */
        assert_true(bn_record_get(rec, "Event.System.EventID") ||
                    bn_record_get(rec, "Event.System.EventID.#text"));
        assert_non_null(bn_record_get(rec, "Event.System.Computer"));
    }
    assert_int_equal(bn__evtx_counters(r, c), 0);
    bn_reader_free(r);
}

static void
test_expected_counts(void **state)
{
    (void)state;
    char tsv[1200];
    snprintf(tsv, sizeof(tsv), "%s/omerbenamram-evtx/EXPECTED-record-counts.tsv", base);
    FILE *f = fopen(tsv, "r");
    assert_non_null(f);
    char line[1024];
    unsigned files = 0;
    while (fgets(line, sizeof(line), f)) {
        char name[512];
        unsigned long want_ok, want_err;
        if (strncmp(line, "file\t", 5) == 0)
            continue;
        if (sscanf(line, "%511[^\t]\t%lu\t%lu", name, &want_ok, &want_err) != 3)
            continue;
        char path[1600];
        snprintf(path, sizeof(path), "%s/omerbenamram-evtx/%s", base, name);
        unsigned long ok, bad;
        struct bn__evtx_counters c;
        count_records(path, &ok, &bad, &c);
        printf("%s: %lu records (expected %lu), %lu errors (evtx_dump: %lu); chunks %llu, "
               "unused %llu, bad magic %llu, bad header %llu, bad data crc %llu\n",
               name, ok, want_ok, bad, want_err, (unsigned long long)c.chunks,
               (unsigned long long)c.chunks_empty, (unsigned long long)c.chunks_bad_magic,
               (unsigned long long)c.chunks_bad_header,
               (unsigned long long)c.chunks_bad_data_crc);
        assert_int_equal(ok, want_ok);
        files++;
    }
    fclose(f);
    assert_int_equal(files, 5);
}

/* "Event.System.Provider_attributes.Name" -> "Event.System.Provider.#attributes.Name". */
static void
rename_key(const char *in, size_t len, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 16 < size; i++) {
        if (len - i >= 12 && memcmp(in + i, "_attributes.", 12) == 0) {
            memcpy(out + k, ".#attributes.", 13);
            k += 13;
            i += 11;
        } else {
            out[k++] = in[i];
        }
    }
    out[k] = '\0';
}

static size_t
rtrim(const char *s, size_t n)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

static void
test_chainsaw_security(void **state)
{
    (void)state;
    char path[1200], json[1200];
    snprintf(path, sizeof(path), "%s/chainsaw/security_sample.evtx", base);
    snprintf(json, sizeof(json), "%s/chainsaw/clo_search_qj_simple_string.txt", base);
    struct bn_reader *rj = NULL, *re = NULL;
    struct bn_diag d;
    assert_int_equal(bn_reader_open(&rj, json, BN_FMT_JSON, &d), 0);
    struct bn_record *want;
    unsigned compared = 0, pairs = 0;
    while (bn_reader_next(rj, &want, &d) == 0) {
        const struct bn_kv *rid = bn_record_get(want, "Event.System.EventRecordID");
        assert_non_null(rid);
        /* Find the record in the EVTX file. */
        assert_int_equal(bn_reader_open(&re, path, BN_FMT_EVTX, &d), 0);
        struct bn_record *got = NULL;
        while (bn_reader_next(re, &got, &d) == 0) {
            const struct bn_kv *k = bn_record_get(got, "Event.System.EventRecordID");
            if (k && k->val_len == rid->val_len && memcmp(k->val, rid->val, k->val_len) == 0)
                break;
            got = NULL;
        }
        assert_non_null(got);
        for (uint32_t i = 0; i < want->n; i++) {
            char key[1100];
            rename_key(want->kv[i].key, want->kv[i].key_len, key, sizeof(key));
            const struct bn_kv *k = bn_record_get(got, key);
            if (!k)
                fail_msg("record %.*s: key '%s' missing", (int)rid->val_len, rid->val, key);
            if (want->kv[i].type == BN_VT_NULL) {
                assert_int_equal(k->type, BN_VT_NULL);
            } else {
                size_t n = rtrim(want->kv[i].val, want->kv[i].val_len);
                if (k->val_len != n || memcmp(k->val, want->kv[i].val, n) != 0)
                    fail_msg("record %.*s: %s: want '%.*s', got '%.*s'", (int)rid->val_len,
                             rid->val, key, (int)n, want->kv[i].val, (int)k->val_len, k->val);
            }
            pairs++;
        }
        assert_int_equal(got->n, want->n);
        compared++;
        bn_reader_free(re);
        re = NULL;
    }
    bn_reader_free(rj);
    printf("chainsaw security_sample: %u records, %u pairs equal\n", compared, pairs);
    assert_int_equal(compared, 2);

    /* The hunt table: 2022-10-11 19:26:52 / 4624 / 31794 and 19:26:56 / 31799. */
    assert_int_equal(bn_reader_open(&re, path, BN_FMT_EVTX, &d), 0);
    struct bn_record *rec;
    unsigned logons = 0;
    while (bn_reader_next(re, &rec, &d) == 0) {
        const struct bn_kv *eid = bn_record_get(rec, "Event.System.EventID");
        if (!eid || eid->val_len != 4 || memcmp(eid->val, "4624", 4) != 0)
            continue;
        const struct bn_kv *rid = bn_record_get(rec, "Event.System.EventRecordID");
        assert_non_null(rid);
        if (logons == 0) {
            assert_memory_equal(rid->val, "31794", 5);
            assert_int_equal(rec->ts_ns / 1000000000, 1665516412); /* 2022-10-11 19:26:52 */
        } else {
            assert_memory_equal(rid->val, "31799", 5);
            assert_int_equal(rec->ts_ns / 1000000000, 1665516416);
        }
        logons++;
    }
    assert_int_equal(logons, 2);
    bn_reader_free(re);
}

int
main(void)
{
    const char *env = getenv("BN_CORPORA");
    snprintf(base, sizeof(base), "%s/evtx", env ? env : "../shared/corpora");
    struct stat st;
    if (stat(base, &st) != 0) {
        printf("skipped: corpora not found at '%s' (set BN_CORPORA)\n", base);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_counts),
        cmocka_unit_test(test_chainsaw_security),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
