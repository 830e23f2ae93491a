/*
 * test_sigma_compile.c - the whole SigmaHQ rule set loads AND compiles: every rule under
 * rules/, rules-emerging-threats/, rules-threat-hunting/, rules-compliance/ and rules-dfir/
 * is parsed and compiled into one set, as `bannin hunt` does; the share that makes it must be
 * at least 99.5%, and every rule that does not is listed with its reason. deprecated/ and
 * unsupported/ are loaded the same way and reported separately (no requirement: they must
 * only never crash). Exits 77 (skipped) when ../shared/corpora is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/sigma.h"

static const char *g_root;

struct tally {
    size_t parse_err, parse_unsup, compile_err, compile_unsup;
};

static void
on_parse(void *ctx, const struct bn_diag *d)
{
    struct tally *t = ctx;
    char msg[1024];
    if (d->code == BN_EUNSUP)
        t->parse_unsup++;
    else
        t->parse_err++;
    printf("  %s  %s\n", d->code == BN_EUNSUP ? "unsupported" : "error      ",
           bn_diag_format(d, msg, sizeof(msg)));
}

static void
on_compile(void *ctx, const struct sigma_rule *r, const struct bn_diag *d)
{
    struct tally *t = ctx;
    char msg[1024];
    if (d->code == BN_EUNSUP)
        t->compile_unsup++;
    else
        t->compile_err++;
    printf("  %s  %s [%s]\n", d->code == BN_EUNSUP ? "unsupported" : "error      ",
           bn_diag_format(d, msg, sizeof(msg)), r && r->title ? r->title : "?");
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loads and compiles the given subdirectories; returns the share that compiled (percent). */
static double
load(const char *const *subdirs, size_t nsub, const char *label, size_t *ok_out)
{
    char paths[8][1024];
    const char *pp[8];
    for (size_t i = 0; i < nsub; i++) {
        snprintf(paths[i], sizeof(paths[i]), "%s/%s", g_root, subdirs[i]);
        pp[i] = paths[i];
    }
    struct tally t = {0};
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    printf("%s: rules that do not load or compile:\n", label);
    double t0 = now();
    assert_int_equal(sigma_parse_paths(pp, nsub, &rules, &n, on_parse, &t), 0);
    double t1 = now();
    struct bn_ruleset *rs = NULL;
    assert_int_equal(bn_ruleset_compile(&rs, rules, n, NULL, on_compile, &t), 0);
    double t2 = now();
    bn_free(rules);
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    size_t ok = bn_ruleset_count(rs);
    size_t total = ok + t.parse_err + t.parse_unsup + t.compile_err + t.compile_unsup;
    double share = total ? 100.0 * (double)ok / (double)total : 100.0;
    printf("%s: %zu rules, %zu ok (%.2f%%): parse errors %zu, parse unsupported %zu, compile "
           "errors %zu, compile unsupported %zu; parse %.2f s, compile %.2f s (sanitizer build)\n",
           label, total, ok, share, t.parse_err, t.parse_unsup, t.compile_err, t.compile_unsup,
           t1 - t0, t2 - t1);
    printf("%s: %zu detection, %zu correlation, %zu filter rules; %zu fields, %zu literals, "
           "%zu regexes, %zu always evaluated\n",
           label, st.detection_rules, st.correlation_rules, st.filter_rules, st.fields,
           st.literals, st.regexes, st.always_eval);
    bn_ruleset_free(rs);
    if (ok_out)
        *ok_out = ok;
    return share;
}

static void
test_maintained_sets(void **state)
{
    (void)state;
    const char *sets[] = {"rules", "rules-emerging-threats", "rules-threat-hunting",
                          "rules-compliance", "rules-dfir"};
    size_t ok = 0;
    double share = load(sets, 5, "SigmaHQ maintained rules", &ok);
    assert_true(ok > 3000);
    assert_true(share >= 99.5);
}

static void
test_deprecated_and_unsupported(void **state)
{
    (void)state;
    const char *dep[] = {"deprecated"};
    const char *uns[] = {"unsupported"};
    /* Reported, never required: these folders hold rules SigmaHQ itself no longer runs. */
    load(dep, 1, "SigmaHQ deprecated/", NULL);
    load(uns, 1, "SigmaHQ unsupported/", NULL);
}

int
main(void)
{
    static char root[1024];
    const char *corpora = getenv("BN_CORPORA");
    if (!corpora)
        corpora = "../shared/corpora";
    snprintf(root, sizeof(root), "%s/sigma/rules", corpora);
    struct stat st;
    char probe[1100];
    snprintf(probe, sizeof(probe), "%s/rules", root);
    if (stat(probe, &st) != 0) {
        printf("SKIP: SigmaHQ rules not found at '%s' (set BN_CORPORA)\n", probe);
        return 77;
    }
    g_root = root;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maintained_sets),
        cmocka_unit_test(test_deprecated_and_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
