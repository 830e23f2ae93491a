/*
 * test_sigma_parse.c - parses the whole SigmaHQ rule repository and the specification's
 * example rules from the shared corpora (../shared/corpora, env BN_CORPORA).
 *
 * Prints, per set, how many rule files parsed, were unsupported or failed, with every
 * reason grouped, and requires 99.5% of the maintained rule sets to parse. deprecated/ and
 * unsupported/ are reported but carry no requirement. The correlation examples (pySigma and
 * the specification's schema tests) must all parse, except the three metric correlation
 * types Bannin does not implement, which must be reported as unsupported.
 * Exits 77 (skipped) when the corpora is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/sigma.h"

#define REASONS_MAX 256

struct reason {
    char msg[BN_DIAG_MSG_MAX];
    int code;
    unsigned count;
    char example[BN_DIAG_MSG_MAX + 300];
};

struct tally {
    size_t files_failed; /* diagnostics (one per failed document or file) */
    size_t unsupported;
    size_t errors;
    struct reason reasons[REASONS_MAX];
    size_t nreasons;
};

static const char *corpora;

/* Groups messages by their text with quoted names blanked, so one reason is one line. */
static void
normalise(const char *msg, char *out, size_t size)
{
    size_t o = 0;
    bool in_quote = false;
    for (const char *p = msg; *p && o + 1 < size; p++) {
        if (*p == '\'') {
            if (!in_quote && o + 4 < size) {
                memcpy(out + o, "'..'", 4);
                o += 4;
            }
            in_quote = !in_quote;
            continue;
        }
        if (!in_quote)
            out[o++] = *p;
    }
    out[o] = '\0';
}

static void
on_diag(void *ctx, const struct bn_diag *d)
{
    struct tally *t = ctx;
    char key[BN_DIAG_MSG_MAX];
    if (d->code == BN_EUNSUP)
        t->unsupported++;
    else
        t->errors++;
    /* Aggregation messages are already specific: keep them verbatim. */
    if (strstr(d->msg, "aggregation") || strstr(d->msg, "correlation type"))
        snprintf(key, sizeof(key), "%s", d->msg);
    else
        normalise(d->msg, key, sizeof(key));
    for (size_t i = 0; i < t->nreasons; i++) {
        if (t->reasons[i].code == d->code && strcmp(t->reasons[i].msg, key) == 0) {
            t->reasons[i].count++;
            return;
        }
    }
    if (t->nreasons == REASONS_MAX)
        return;
    struct reason *r = &t->reasons[t->nreasons++];
    snprintf(r->msg, sizeof(r->msg), "%s", key);
    r->code = d->code;
    r->count = 1;
    bn_diag_format(d, r->example, sizeof(r->example));
}

struct result {
    size_t rules;
    struct tally t;
    double ms;
};

static void
parse_set(const char *const *rel, size_t nrel, struct result *res)
{
    char paths[8][1024];
    const char *pp[8];
    size_t n = 0;
    assert_true(nrel <= 8);
    for (size_t i = 0; i < nrel; i++) {
        struct stat st;
        snprintf(paths[n], sizeof(paths[n]), "%s/%s", corpora, rel[i]);
        if (stat(paths[n], &st) != 0)
            continue; /* a set that is absent in this corpora version */
        pp[n] = paths[n];
        n++;
    }
    struct sigma_rule **rules = NULL;
    memset(res, 0, sizeof(*res));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = sigma_parse_paths(pp, n, &rules, &res->rules, on_diag, &res->t);
    clock_gettime(CLOCK_MONOTONIC, &b);
    res->ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < res->rules; i++) {
        /* Every rule handed back is complete enough for the compiler. */
        const struct sigma_rule *r = rules[i];
        assert_non_null(r->title);
        if (r->kind != SIGMA_KIND_CORRELATION) {
            assert_non_null(r->cond);
            assert_true(r->nsearches > 0);
        }
        sigma_rule_free(rules[i]);
    }
    bn_free(rules);
}

static void
print_result(const char *name, const struct result *res)
{
    size_t bad = res->t.unsupported + res->t.errors;
    printf("%s: %zu rules parsed, %zu unsupported, %zu errors (%.1f ms)\n", name, res->rules,
           res->t.unsupported, res->t.errors, res->ms);
    for (size_t i = 0; i < res->t.nreasons; i++)
        printf("    %4u x %s: %s\n         e.g. %s\n", res->t.reasons[i].count,
               res->t.reasons[i].code == BN_EUNSUP ? "unsupported" : "error",
               res->t.reasons[i].msg, res->t.reasons[i].example);
    (void)bad;
}

static void
test_sigmahq_rules(void **state)
{
    (void)state;
    static const char *const sets[] = {
        "sigma/rules/rules",           "sigma/rules/rules-emerging-threats",
        "sigma/rules/rules-threat-hunting", "sigma/rules/rules-compliance",
        "sigma/rules/rules-dfir",
    };
    struct result *res = calloc(1, sizeof(*res));
    assert_non_null(res);
    parse_set(sets, BN_ARRAY_SIZE(sets), res);
    print_result("SigmaHQ rules", res);
    size_t total = res->rules + res->t.unsupported + res->t.errors;
    assert_true(total >= 3000); /* the corpora really is the whole repository */
    double ok = (double)res->rules / (double)total;
    printf("SigmaHQ rules: %.2f%% parse ok (required: 99.5%%)\n", ok * 100.0);
    assert_true(ok >= 0.995);
    free(res);
}

static void
test_sigmahq_deprecated_unsupported(void **state)
{
    (void)state;
    static const char *const dep[] = {"sigma/rules/deprecated"};
    static const char *const uns[] = {"sigma/rules/unsupported"};
    static const char *const ph[] = {"sigma/rules/rules-placeholder"};
    struct result *res = calloc(1, sizeof(*res));
    assert_non_null(res);
    /* No requirement: these must only never crash. */
    parse_set(dep, 1, res);
    print_result("deprecated", res);
    parse_set(uns, 1, res);
    print_result("unsupported", res);
    parse_set(ph, 1, res);
    print_result("placeholder", res);
    free(res);
}

static void
test_correlation_examples(void **state)
{
    (void)state;
    static const char *const sets[] = {"sigma/correlation/pysigma",
                                       "sigma/correlation/sigma-specification/tests"};
    struct result *res = calloc(1, sizeof(*res));
    assert_non_null(res);
    parse_set(sets, BN_ARRAY_SIZE(sets), res);
    print_result("correlation and specification examples", res);
    assert_true(res->rules >= 10);
    assert_int_equal(res->t.errors, 0);
    /* value_sum, value_avg and value_percentile are the only ones not supported */
    assert_true(res->t.unsupported <= 3);
    for (size_t i = 0; i < res->t.nreasons; i++)
        assert_non_null(strstr(res->t.reasons[i].msg, "correlation type 'value_"));
    free(res);
}

int
main(void)
{
    struct stat st;
    char probe[1024];
    corpora = getenv("BN_CORPORA");
    if (!corpora || !*corpora)
        corpora = "../shared/corpora";
    snprintf(probe, sizeof(probe), "%s/sigma/rules", corpora);
    if (stat(probe, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: Sigma corpora not found at '%s' (set BN_CORPORA)\n", probe);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigmahq_rules),
        cmocka_unit_test(test_sigmahq_deprecated_unsupported),
        cmocka_unit_test(test_correlation_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
