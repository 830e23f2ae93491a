/*
 * test_tls_fp_memo.c - the ClientHello fingerprint memo (app_tls.c) and the digest memo
 * (app.c) give what computing afresh gives. Variants of one ClientHello (each byte of the
 * handshake flipped in turn: other lists, versions, lengths, ALPN, SNI; far more of them
 * than the memos keep) are parsed twice in opposite orders, so the second pass mixes memo
 * answers and recomputed ones, and every record must come out the same both times; the
 * unmodified hello keeps its known JA3 and JA4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"

#include "unit/sensor/tls_hello.h"

#define JA3_HASH "fc2c7908e8da0d57385d66926b4b9e92"
#define JA4_STR  "t13d1513h2_8daaf6152771_1eb89897b454"

#define NV (sizeof(client_hello) + 1) /* the variants and the hello itself (last) */

/* The eve lines of variant v's flow joined with '\n' (owned), "" when it gave none. */
static char *
parse_variant(size_t v)
{
    uint8_t m[sizeof(client_hello)];
    memcpy(m, client_hello, sizeof(m));
    if (v < sizeof(client_hello))
        m[v] ^= 0x01;
    struct at_bytes r;
    r.n = 0;
    at_tls_record(&r, 22, m, sizeof(m));
    at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
    at_feed(&run, NET_TOSERVER, r.b, r.n);
    at_close(&run);
    size_t len = 1;
    for (size_t i = 0; i < run.sink.n; i++)
        len += strlen(run.sink.eve[i]) + 1;
    char *out = calloc(1, len);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < run.sink.n; i++) {
        size_t k = strlen(run.sink.eve[i]);
        memcpy(out + o, run.sink.eve[i], k);
        out[o + k] = '\n';
        o += k + 1;
    }
    at_sink_reset(&run.sink);
    return out;
}

static void
test_memo_same_as_fresh(void **state)
{
    (void)state;
    static char *first[NV];
    size_t with_ja3 = 0;
    for (size_t v = 0; v < NV; v++)
        first[v] = parse_variant(v);
    for (size_t k = NV; k-- > 0;) {
        char *again = parse_variant(k);
        assert_string_equal(again, first[k]);
        with_ja3 += strstr(again, "\"ja3\"") != NULL;
        free(again);
    }
    /* many variants are still hellos with fingerprints (the memos were exercised) */
    assert_true(with_ja3 > 40);
    /* the hello itself, after all the others: its known fingerprints */
    assert_string_equal(at_str(first[NV - 1], "tls.ja3.hash"), JA3_HASH);
    assert_string_equal(at_str(first[NV - 1], "tls.ja4"), JA4_STR);
    char *last = parse_variant(NV - 1);
    assert_string_equal(at_str(last, "tls.ja3.hash"), JA3_HASH);
    assert_string_equal(at_str(last, "tls.ja4"), JA4_STR);
    free(last);
    for (size_t v = 0; v < NV; v++)
        free(first[v]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_memo_same_as_fresh, at_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
