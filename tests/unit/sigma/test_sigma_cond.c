/*
 * test_sigma_cond.c - the Sigma condition parser (precedence, every form, errors with
 * columns, Sigma 1 aggregation rejection) and the modifier and level name tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/pool.h"
#include "bannin/sigma.h"

static void
append(char *buf, size_t size, const char *s)
{
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s", s);
}

/* Renders a tree as a fully parenthesised prefix string, e.g. "(or a (and b (not c)))". */
static void
render(const struct sigma_cond *c, char *buf, size_t size)
{
    size_t len = strlen(buf);
    char *p = buf + len;
    size_t left = size - len;
    switch (c->op) {
    case SIGMA_C_AND:
    case SIGMA_C_OR:
        snprintf(p, left, "(%s ", c->op == SIGMA_C_AND ? "and" : "or");
        render(c->a, buf, size);
        append(buf, size, " ");
        render(c->b, buf, size);
        append(buf, size, ")");
        break;
    case SIGMA_C_NOT:
        snprintf(p, left, "(not ");
        render(c->a, buf, size);
        append(buf, size, ")");
        break;
    case SIGMA_C_ID:
        snprintf(p, left, "%s", c->name);
        break;
    case SIGMA_C_ONE_OF:
        snprintf(p, left, "1of:%s", c->name);
        break;
    case SIGMA_C_ALL_OF:
        snprintf(p, left, "allof:%s", c->name);
        break;
    case SIGMA_C_ONE_OF_THEM:
        snprintf(p, left, "1of:them");
        break;
    case SIGMA_C_ALL_OF_THEM:
        snprintf(p, left, "allof:them");
        break;
    }
}

static void
expect_tree(const char *text, const char *want)
{
    struct bn_pool *pool = bn_pool_new(0);
    struct sigma_cond *c = (struct sigma_cond *)1;
    struct bn_diag d;
    char buf[1024] = "";
    assert_non_null(pool);
    int rc = sigma_cond_parse(text, strlen(text), pool, &c, &d);
    if (rc != 0)
        fail_msg("'%s': unexpected error %d col %lu: %s", text, rc, d.col, d.msg);
    assert_non_null(c);
    render(c, buf, sizeof(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("'%s': got %s, want %s", text, buf, want);
    bn_pool_free(pool);
}

static void
expect_error(const char *text, int code, unsigned long col, const char *msg_part)
{
    struct bn_pool *pool = bn_pool_new(0);
    struct sigma_cond *c = (struct sigma_cond *)1;
    struct bn_diag d;
    assert_non_null(pool);
    int rc = sigma_cond_parse(text, strlen(text), pool, &c, &d);
    if (rc != code)
        fail_msg("'%s': rc %d, want %d (%s)", text, rc, code, d.msg);
    assert_null(c);
    assert_int_equal(d.code, code);
    if (col && d.col != col)
        fail_msg("'%s': col %lu, want %lu (%s)", text, d.col, col, d.msg);
    if (msg_part && !strstr(d.msg, msg_part))
        fail_msg("'%s': message '%s' lacks '%s'", text, d.msg, msg_part);
    bn_pool_free(pool);
}

static void
test_precedence(void **state)
{
    (void)state;
    expect_tree("a", "a");
    expect_tree("a or b and c", "(or a (and b c))");
    expect_tree("a and b or c", "(or (and a b) c)");
    expect_tree("not a and b", "(and (not a) b)");
    expect_tree("a or b and not c", "(or a (and b (not c)))");
    expect_tree("not not a", "(not (not a))");
    expect_tree("a and not 1 of filter*", "(and a (not 1of:filter*))");
}

static void
test_left_associative(void **state)
{
    (void)state;
    expect_tree("a and b and c", "(and (and a b) c)");
    expect_tree("a or b or c", "(or (or a b) c)");
}

static void
test_parentheses(void **state)
{
    (void)state;
    expect_tree("(a or b) and c", "(and (or a b) c)");
    expect_tree("selection1 and (keywords1 or keywords2)",
                "(and selection1 (or keywords1 keywords2))");
    expect_tree("((a))", "a");
    expect_tree("not (a or b)", "(not (or a b))");
}

static void
test_of_forms(void **state)
{
    (void)state;
    expect_tree("1 of selection*", "1of:selection*");
    expect_tree("all of selection*", "allof:selection*");
    expect_tree("any of sel_*", "1of:sel_*");
    expect_tree("1 of them", "1of:them");
    expect_tree("all of them", "allof:them");
    expect_tree("1 of selection* and not 1 of filter*", "(and 1of:selection* (not 1of:filter*))");
    expect_tree("all of sel*_a*", "allof:sel*_a*");
    expect_tree("1 of exact", "1of:exact");
    /* "all" and "1" not followed by "of" are ordinary identifiers */
    expect_tree("all and x", "(and all x)");
}

static void
test_case_insensitive(void **state)
{
    (void)state;
    expect_tree("a AND NOT b OR c", "(or (and a (not b)) c)");
    expect_tree("ALL OF Them", "allof:them");
    expect_tree("1 OF sel*", "1of:sel*");
    expect_tree("a\tand\n b", "(and a b)");
}

static void
test_columns(void **state)
{
    (void)state;
    struct bn_pool *pool = bn_pool_new(0);
    struct sigma_cond *c;
    struct bn_diag d;
    const char *t = "sel and not  filter";
    assert_int_equal(sigma_cond_parse(t, strlen(t), pool, &c, &d), 0);
    assert_int_equal(c->op, SIGMA_C_AND);
    assert_int_equal(c->col, 5);
    assert_int_equal(c->a->col, 1);
    assert_int_equal(c->b->op, SIGMA_C_NOT);
    assert_int_equal(c->b->col, 9);
    assert_int_equal(c->b->a->col, 14);
    bn_pool_free(pool);
}

static void
test_errors(void **state)
{
    (void)state;
    expect_error("", BN_EPARSE, 1, "empty");
    expect_error("   ", BN_EPARSE, 0, "empty");
    expect_error("a and", BN_EPARSE, 6, "ends early");
    expect_error("(a or b", BN_EPARSE, 1, "never closed");
    expect_error("a or b)", BN_EPARSE, 7, "without a matching");
    expect_error("a b", BN_EPARSE, 3, "unexpected 'b'");
    expect_error("sel*", BN_EPARSE, 1, "only allowed in");
    expect_error("a and or b", BN_EPARSE, 7, "unexpected 'or'");
    expect_error("1 of", BN_EPARSE, 0, "after 'of'");
    expect_error("all of and", BN_EPARSE, 8, "after 'of'");
    expect_error("a & b", BN_EPARSE, 3, "'&'");
    expect_error("not", BN_EPARSE, 0, "ends early");
    expect_error("()", BN_EPARSE, 2, "unexpected ')'");
}

static void
test_aggregation_rejected(void **state)
{
    (void)state;
    expect_error("selection | count() by SourceIp > 5", BN_EUNSUP, 11,
                 "Sigma 1 aggregation '| count()' is not supported; rewrite it as a "
                 "correlation rule");
    expect_error("selection | count(TargetUserName) by Host > 10", BN_EUNSUP, 11,
                 "'| count()'");
    expect_error("selection | near other", BN_EUNSUP, 11,
                 "Sigma 1 aggregation '| near' is not supported");
    expect_error("1 of sel* | sum(bytes) > 5", BN_EUNSUP, 11, "'| sum()'");
}

static void
test_limits(void **state)
{
    (void)state;
    char deep[512];
    size_t n = 0;
    for (int i = 0; i < BN_COND_DEPTH_MAX + 1; i++)
        deep[n++] = '(';
    deep[n++] = 'a';
    for (int i = 0; i < BN_COND_DEPTH_MAX + 1; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    expect_error(deep, BN_ETOOBIG, BN_COND_DEPTH_MAX + 1, "too deeply");
    deep[0] = ' '; /* exactly at the limit is fine */
    deep[n - 1] = '\0';
    expect_tree(deep, "a");

    static char nots[BN_COND_DEPTH_MAX * 4 + 16];
    n = 0;
    for (int i = 0; i < BN_COND_DEPTH_MAX + 1; i++) {
        memcpy(nots + n, "not ", 4);
        n += 4;
    }
    nots[n++] = 'a';
    nots[n] = '\0';
    expect_error(nots, BN_ETOOBIG, 0, "too deeply");

    static char big[BN_COND_LEN_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_error(big, BN_ETOOBIG, 1, "BN_COND_LEN_MAX");

    struct bn_pool *pool = bn_pool_new(0);
    struct sigma_cond *c;
    struct bn_diag d;
    assert_int_equal(sigma_cond_parse("a\0b", 3, pool, &c, &d), BN_EPARSE);
    assert_int_equal(d.col, 2);
    bn_pool_free(pool);
}

static void
test_cond_oom(void **state)
{
    (void)state;
    const char *t = "(sel1 or sel2) and not 1 of filter* and not all of them";
    for (unsigned long n = 1; n < 64; n++) {
        struct bn_pool *pool = bn_pool_new(64);
        struct sigma_cond *c = NULL;
        struct bn_diag d;
        bn_alloc_fail_after(pool ? n : 0);
        int rc = pool ? sigma_cond_parse(t, strlen(t), pool, &c, &d) : BN_ENOMEM;
        bn_alloc_fail_after(0);
        assert_true(rc == 0 || rc == BN_ENOMEM);
        if (rc == 0)
            assert_non_null(c);
        bn_pool_free(pool);
    }
}

static void
test_mod_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "contains", "startswith", "endswith", "all", "re", "i", "m", "s", "cidr", "base64",
        "base64offset", "utf16le", "utf16be", "utf16", "windash", "lt", "lte", "gt", "gte",
        "neq", "exists", "fieldref", "cased", "expand", "minute", "hour", "day", "week",
        "month", "year",
    };
    assert_int_equal(BN_ARRAY_SIZE(names), SIGMA_MOD__COUNT);
    for (int m = 0; m < SIGMA_MOD__COUNT; m++) {
        assert_string_equal(sigma_mod_name((enum sigma_mod)m), names[m]);
        assert_int_equal(sigma_mod_parse(names[m], strlen(names[m])), m);
    }
    assert_int_equal(sigma_mod_parse("wide", 4), SIGMA_MOD_UTF16LE);
    assert_int_equal(sigma_mod_parse("containsX", 8), SIGMA_MOD_CONTAINS); /* length bound */
    assert_int_equal(sigma_mod_parse("contain", 7), -1);
    assert_int_equal(sigma_mod_parse("CONTAINS", 8), -1);
    assert_int_equal(sigma_mod_parse("", 0), -1);
    assert_int_equal(sigma_mod_parse(NULL, 3), -1);
}

static void
test_level_names(void **state)
{
    (void)state;
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++) {
        enum sigma_level l = sigma_level_parse(names[i]);
        assert_int_equal(l, SIGMA_LEVEL_INFORMATIONAL + i);
        assert_string_equal(sigma_level_name(l), names[i]);
    }
    assert_int_equal(sigma_level_parse("High"), SIGMA_LEVEL_HIGH);
    assert_int_equal(sigma_level_parse("severe"), SIGMA_LEVEL_NONE);
    assert_int_equal(sigma_level_parse(NULL), SIGMA_LEVEL_NONE);
    assert_string_equal(sigma_level_name(SIGMA_LEVEL_NONE), "none");
    assert_string_equal(sigma_level_name((enum sigma_level)99), "?");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_left_associative),
        cmocka_unit_test(test_parentheses),
        cmocka_unit_test(test_of_forms),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_aggregation_rejected),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_cond_oom),
        cmocka_unit_test(test_mod_names),
        cmocka_unit_test(test_level_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
