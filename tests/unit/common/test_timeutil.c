/*
 * test_timeutil.c - timestamp parsing and formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/error.h"
#include "bannin/timeutil.h"

static int64_t
parse(const char *s)
{
    int64_t ns = -1;
    assert_int_equal(bn_time_parse(s, strlen(s), &ns), 0);
    return ns;
}

static void
test_forms(void **state)
{
    (void)state;
    assert_true(parse("1970-01-01T00:00:00Z") == 0);
    assert_true(parse("2025-11-26T05:11:27.927693Z") == 1764133887927693000LL);
    assert_true(parse("2025-11-26 05:11:27.927") == 1764133887927000000LL);
    assert_true(parse("2025-11-26T07:11:27+02:00") == 1764133887000000000LL);
    assert_true(parse("2025-11-26T00:11:27-0500") == 1764133887000000000LL);
    assert_true(parse("2025-11-26") == 1764115200000000000LL);
    assert_true(parse("1364481363.243") == 1364481363243000000LL);
    assert_true(parse("2000-02-29T12:00:00Z") == 951825600000000000LL);
    assert_true(parse("1969-12-31T23:59:59Z") == -1000000000LL);
}

static void
test_bad(void **state)
{
    (void)state;
    const char *bad[] = {"", "2025-1", "-5", "2025-13-01", "2025-11-26X", "2025-11-26T25:00:00",
                         "2025-11-26T10:00:00Zjunk", "abc", "12.3.4", "2025-11-26T10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ns;
        assert_int_equal(bn_time_parse(bad[i], strlen(bad[i]), &ns), BN_EPARSE);
    }
}

static void
test_format_roundtrip(void **state)
{
    (void)state;
    char buf[40];
    assert_string_equal(bn_time_format(1764133887927693000LL, buf, sizeof(buf)),
                        "2025-11-26T05:11:27.927Z");
    assert_string_equal(bn_time_format(-1000000000LL, buf, sizeof(buf)),
                        "1969-12-31T23:59:59.000Z");
    for (int64_t t = -5000000000000000000LL; t < 5000000000000000000LL;
         t += 123456789012345678LL) {
        int64_t ms = t / 1000000 * 1000000;
        bn_time_format(ms, buf, sizeof(buf));
        assert_true(parse(buf) == ms);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_format_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
