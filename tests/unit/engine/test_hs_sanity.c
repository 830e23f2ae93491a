/*
 * test_hs_sanity.c - the multi-literal matcher library the engine links must find every
 * literal. Debian 12's Vectorscan 5.4.9 misses literals that end a buffer longer than 64
 * bytes when a database holds several of them (it lost SigmaHQ detections such as
 * `TargetFilename|endswith: ['.bat', '.vbs']` on an 79-byte path); Intel Hyperscan 5.4.0
 * does not. This test fails on a library with that bug, so a build can never silently
 * link one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <hs/hs.h>

static int hits;

static int
on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (void)ctx;
    hits++;
    return 0;
}

static void
test_literal_at_buffer_end(void **state)
{
    (void)state;
    uint32_t seed = 1;
    int missed = 0, total = 0;
    for (int trial = 0; trial < 300; trial++) {
        int n = 2 + trial % 20;
        char lits[32][8];
        const char *e[32];
        unsigned fl[32], ids[32];
        size_t lens[32];
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            int len = 3 + (int)(seed % 4u);
            for (int k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                lits[i][k] = (char)('a' + (seed / 65536u) % 26u);
            }
            lits[i][len] = '\0';
            e[i] = lits[i];
            lens[i] = (size_t)len;
            fl[i] = HS_FLAG_CASELESS;
            ids[i] = (unsigned)i;
        }
        hs_database_t *db = NULL;
        hs_compile_error_t *err = NULL;
        assert_int_equal(hs_compile_lit_multi(e, fl, ids, lens, (unsigned)n, HS_MODE_BLOCK, NULL,
                                              &db, &err),
                         HS_SUCCESS);
        hs_scratch_t *s = NULL;
        assert_int_equal(hs_alloc_scratch(db, &s), HS_SUCCESS);
        for (int len = 8; len < 200; len += 7) {
            char buf[256];
            for (int k = 0; k < len; k++)
                buf[k] = (char)('0' + k % 10);
            int li = len % n;
            memcpy(buf + len - (int)lens[li], lits[li], lens[li]);
            hits = 0;
            assert_int_equal(hs_scan(db, buf, (unsigned)len, 0, s, on_match, NULL), HS_SUCCESS);
            total++;
            if (hits == 0)
                missed++;
        }
        hs_free_scratch(s);
        hs_free_database(db);
    }
    printf("literal-at-end scans: %d, missed: %d (hyperscan %s)\n", total, missed,
           hs_version());
    assert_int_equal(missed, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_at_buffer_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
