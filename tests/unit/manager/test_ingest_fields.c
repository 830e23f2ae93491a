/*
 * test_ingest_fields.c - ingest_event_fields(), the per-event scan of the ingest hot path
 * (strings are skipped with memchr: a quote closes a string only after an even number of
 * backslashes): escaped quotes and backslashes, nested values holding quotes and brackets,
 * truncated and malformed events, and every prefix of a real event (no read past the end).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bannin/alloc.h"
#include "manager/ingest.h"

static int
fields(const char *json, struct store_event *e, char *scratch, size_t size)
{
    memset(e, 0, sizeof(*e));
    return ingest_event_fields(json, strlen(json), e, scratch, size);
}

static void
test_escapes(void **state)
{
    (void)state;
    char scratch[512];
    struct store_event e;
    /* "a\"b\\" then "x\\\\": the quote after one backslash does not close, after two does */
    assert_int_equal(fields("{\"Image\":\"a\\\"b\\\\\",\"User\":\"x\\\\\\\\\",\"EventID\":3,"
                            "\"n\":{\"a\":[1,\"]\\\"}\"]},\"Computer\":\"h-1\"}",
                            &e, scratch, sizeof(scratch)),
                     0);
    assert_string_equal(e.image, "a\"b\\");
    assert_string_equal(e.user, "x\\\\");
    assert_int_equal(e.event_id, 3);
    assert_string_equal(e.host, "h-1");
    /* a key with an escaped quote is not "User" */
    assert_int_equal(fields("{\"Us\\\"er\":\"no\",\"User\":\"yes\"}", &e, scratch, sizeof(scratch)),
                     0);
    assert_string_equal(e.user, "yes");
    /* an escaped quote at the very end: the string never closes */
    assert_int_equal(fields("{\"Image\":\"abc\\\"}", &e, scratch, sizeof(scratch)), -1);
    assert_int_equal(fields("{\"Image\":\"abc\\\\\"}", &e, scratch, sizeof(scratch)), 0);
    assert_string_equal(e.image, "abc\\");
    assert_int_equal(fields("{\"a\":\"\\", &e, scratch, sizeof(scratch)), -1);
    assert_int_equal(fields("{\"a\":\"", &e, scratch, sizeof(scratch)), -1);
    assert_int_equal(fields("\"x\"", &e, scratch, sizeof(scratch)), -1);
}

/* Every prefix of a real event, each in an exact-size buffer: ASan catches a read past it. */
static void
test_prefixes(void **state)
{
    (void)state;
    static const char ev[] =
        "{\"EventID\":1,\"UtcTime\":\"2026-11-26 00:00:01.000\",\"Computer\":\"web-1\","
        "\"Image\":\"/usr/bin/curl\",\"CommandLine\":\"curl -H \\\"a: \\\\\\\"b\\\" x\","
        "\"User\":\"root\",\"Hashes\":{\"SHA256\":\"00ff\"},\"List\":[\"[\",\"{\"]}";
    char scratch[512];
    struct store_event e;
    size_t n = sizeof(ev) - 1;
    int ok = 0;
    for (size_t len = 0; len <= n; len++) {
        char *p = bn_malloc(len ? len : 1);
        assert_non_null(p);
        memcpy(p, ev, len);
        memset(&e, 0, sizeof(e));
        int rc = ingest_event_fields(p, len, &e, scratch, sizeof(scratch));
        if (len == n) {
            assert_int_equal(rc, 0);
            assert_string_equal(e.host, "web-1");
            assert_string_equal(e.image, "/usr/bin/curl");
            assert_string_equal(e.user, "root");
            assert_int_equal(e.event_id, 1);
            assert_true(e.ts_ns > 0);
        } else {
            ok += rc == 0;
        }
        bn_free(p);
    }
    assert_int_equal(ok, 0); /* no proper prefix is a whole object */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
