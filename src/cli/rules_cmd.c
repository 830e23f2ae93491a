/*
 * rules_cmd.c - `bannin rules check` (does every rule load, and if not why) and
 * `bannin rules test` (does every rule fire on its positive samples and stay quiet on its
 * negative ones).
 *
 * Sample convention: next to rule file X.yml, X.positive.ndjson holds events that must fire
 * a rule of X.yml and X.negative.ndjson events that must not (any reader format works; the
 * extension is only a convention).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "bannin/alloc.h"
#include "bannin/correlate.h"
#include "bannin/error.h"
#include "bannin/mapping.h"
#include "bannin/reader.h"

static void
rules_usage(FILE *f)
{
    fprintf(f,
        "usage: bannin rules check [-v] PATH...\n"
        "       bannin rules test [-v] [--require-samples] PATH...\n"
        "\n"
        "check  parses and compiles every rule under PATH and reports each one that is not\n"
        "       ok as 'unsupported' (a valid rule using a feature Bannin lacks) or 'error',\n"
        "       with file:line and the reason. Exit 1 if any rule has an error.\n"
        "test   runs each rule file X.yml against X.positive.ndjson (every event must fire a\n"
        "       rule of the file) and X.negative.ndjson (no event may). Exit 1 on a failure.\n");
}

/* ---- check ---- */

struct reason_count {
    char reason[96];
    size_t n;
};

static int
cmp_reason(const void *a, const void *b)
{
    const struct reason_count *x = a, *y = b;
    return (x->n < y->n) - (x->n > y->n);
}

static int
rules_check(const char *const *paths, size_t n, bool verbose)
{
    struct cli_rules cr;
    int rc = cli_rules_load(paths, n, NULL, NULL, &cr);
    if (rc) {
        fprintf(stderr, "bannin rules check: %s\n", bn_strerror(rc));
        return 2;
    }
    char msg[1024];
    for (size_t i = 0; i < cr.nissues; i++) {
        const struct cli_rule_issue *is = &cr.issues[i];
        printf("%-12s %s%s%s%s\n", is->diag.code == BN_EUNSUP ? "unsupported" : "error",
               bn_diag_format(&is->diag, msg, sizeof(msg)), is->title[0] ? " [" : "", is->title,
               is->title[0] ? "]" : "");
    }
    if (verbose) {
        for (size_t i = 0; i < bn_ruleset_count(cr.rs); i++) {
            const struct sigma_rule *r = bn_ruleset_rule(cr.rs, (uint32_t)i);
            printf("%-12s %s:%u [%s]\n", "ok", r->file ? r->file : "?", r->line,
                   r->title ? r->title : "");
        }
    }
    /* Group reasons: the message up to its first quote or colon is the kind of problem. */
    struct reason_count *rcnt = bn_calloc(cr.nissues ? cr.nissues : 1, sizeof(*rcnt));
    size_t nr = 0;
    for (size_t i = 0; rcnt && i < cr.nissues; i++) {
        char key[96];
        snprintf(key, sizeof(key), "%s: %.80s", cr.issues[i].diag.code == BN_EUNSUP ? "unsupported"
                                                                                  : "error",
                 cr.issues[i].diag.msg);
        key[strcspn(key + 13, "'\"(0123456789") + 13] = '\0';
        size_t k = 0;
        while (k < nr && strcmp(rcnt[k].reason, key) != 0)
            k++;
        if (k == nr)
            snprintf(rcnt[nr++].reason, sizeof(rcnt[0].reason), "%s", key);
        rcnt[k].n++;
    }
    if (rcnt)
        qsort(rcnt, nr, sizeof(*rcnt), cmp_reason);
    size_t ok = bn_ruleset_count(cr.rs);
    size_t total = ok + cr.unsupported + cr.errors;
    printf("\n%zu rules: %zu ok, %zu unsupported, %zu errors (%.2f%% ok) in %.2f s\n", total, ok,
           cr.unsupported, cr.errors, total ? 100.0 * (double)ok / (double)total : 100.0,
           cr.load_seconds);
    for (size_t i = 0; i < nr; i++)
        printf("  %6zu  %s\n", rcnt[i].n, rcnt[i].reason);
    bn_free(rcnt);
    int ret = cr.errors ? 1 : 0;
    cli_rules_release(&cr);
    return ret;
}

/* ---- test ---- */

/*
 * The whole rule set under the given paths is loaded once, as in production, so a
 * correlation in one file can reference base rules in another; each sample file is then
 * judged only by the rules of its own rule file.
 */

struct test_totals {
    size_t files, passed, failed, no_samples, events;
};

struct test_ctx {
    struct cli_rules cr;
    struct bn_mapping *m;
    char **rule_real;      /* realpath of each compiled rule's file (NULL if unknown) */
    const char *cur_real;  /* realpath of the rule file under test */
    uint64_t corr_alerts;  /* correlation alerts of rules of the file under test */
    bool verbose, require;
    struct test_totals t;
};

static bool
rule_in_file(struct test_ctx *tc, uint32_t idx)
{
    return tc->rule_real[idx] && strcmp(tc->rule_real[idx], tc->cur_real) == 0;
}

static void
on_test_corr(void *ctx, const struct bn_corr_alert *a)
{
    struct test_ctx *tc = ctx;
    if (rule_in_file(tc, a->rule))
        tc->corr_alerts++;
}

/* Runs one sample file; counts the events that break the expectation in *bad. */
static int
run_samples(struct test_ctx *tc, const char *path, bool positive, bool has_detection,
            size_t *bad, size_t *events)
{
    struct bn_ruleset *rs = tc->cr.rs;
    struct bn_reader *r;
    struct bn_diag d;
    char msg[1024];
    bn_diag_clear(&d);
    int rc = bn_reader_open(&r, path, BN_FMT_AUTO, &d);
    if (rc) {
        printf("    cannot read samples: %s\n", bn_diag_format(&d, msg, sizeof(msg)));
        return rc;
    }
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    struct bn_evbuilder *eb = bn_evbuilder_new(tc->m, ft);
    struct bn_scratch *s = bn_scratch_new(rs);
    struct bn_correlator *corr = bn_correlator_new(rs, on_test_corr, tc);
    struct bn_event ev;
    rc = bn_event_init(&ev, bn_fieldtab_count(ft));
    tc->corr_alerts = 0;
    if (!eb || !s || !corr || rc) {
        rc = BN_ENOMEM;
        goto out;
    }
    for (;;) {
        struct bn_record *rec;
        rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF) {
            rc = 0;
            break;
        }
        if (rc < 0) {
            printf("    bad sample: %s\n", bn_diag_format(&d, msg, sizeof(msg)));
            (*bad)++;
            if (bn_reader_done(r))
                break;
            continue;
        }
        (*events)++;
        bn_event_clear(&ev);
        const uint32_t *hits;
        size_t nhits = 0;
        if ((rc = bn_evbuilder_build(eb, rec, &ev)) != 0 ||
            (rc = bn_ruleset_match(rs, s, &ev, &hits, &nhits)) != 0 ||
            (rc = bn_correlator_feed(corr, NULL, &ev, hits, nhits)) != 0)
            break;
        /* A base rule a correlation keeps quiet (generate: false) still has to match. */
        size_t mine = 0;
        for (size_t i = 0; i < nhits; i++)
            if (rule_in_file(tc, hits[i]))
                mine++;
        bool wrong = positive ? (has_detection && mine == 0) : mine > 0;
        if (wrong) {
            (*bad)++;
            printf("    %s sample %llu (line %llu) %s\n", positive ? "positive" : "negative",
                   (unsigned long long)rec->index + 1, (unsigned long long)rec->line,
                   positive ? "did not fire" : "fired");
            if (tc->verbose || !positive)
                printf("      logsource %s/%s/%s\n", ev.product ? ev.product : "-",
                       ev.category ? ev.category : "-", ev.service ? ev.service : "-");
        }
    }
    bn_correlator_expire(corr, INT64_MAX);
    if (!rc && !has_detection && positive && tc->corr_alerts == 0) {
        (*bad)++;
        printf("    positive sequence raised no correlation alert\n");
    }
    if (!rc && !positive && tc->corr_alerts) {
        (*bad)++;
        printf("    negative sequence raised %llu correlation alert(s)\n",
               (unsigned long long)tc->corr_alerts);
    }
out:
    bn_correlator_free(corr);
    bn_event_release(&ev);
    bn_scratch_free(s);
    bn_evbuilder_free(eb);
    bn_reader_free(r);
    return rc;
}

static bool
exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void
test_file(struct test_ctx *tc, const char *path)
{
    struct test_totals *t = &tc->t;
    size_t len = strlen(path);
    const char *ext = len > 5 && strcmp(path + len - 5, ".yaml") == 0 ? ".yaml" : ".yml";
    size_t stem = len - strlen(ext);
    char pos[4096], neg[4096];
    snprintf(pos, sizeof(pos), "%.*s.positive.ndjson", (int)stem, path);
    snprintf(neg, sizeof(neg), "%.*s.negative.ndjson", (int)stem, path);
    bool hp = exists(pos), hn = exists(neg);
    if (!hp && !hn) {
        t->no_samples++;
        if (tc->require) {
            t->failed++;
            printf("FAIL %s: no sample files (%s, %s)\n", path, pos, neg);
        } else if (tc->verbose) {
            printf("skip %s: no samples\n", path);
        }
        return;
    }
    t->files++;
    char *real = realpath(path, NULL);
    if (!real) {
        t->failed++;
        printf("FAIL %s: %s\n", path, strerror(errno));
        return;
    }
    tc->cur_real = real;
    size_t nmine = 0, ndet = 0;
    for (uint32_t i = 0; i < bn_ruleset_count(tc->cr.rs); i++) {
        if (!rule_in_file(tc, i))
            continue;
        nmine++;
        if (bn_ruleset_rule(tc->cr.rs, i)->kind == SIGMA_KIND_DETECTION)
            ndet++;
    }
    size_t bad = 0, events = 0;
    for (size_t i = 0; i < tc->cr.nissues; i++) {
        char *ir = realpath(tc->cr.issues[i].diag.file, NULL);
        if (ir && strcmp(ir, real) == 0) {
            char msg[1024];
            printf("    %s\n", bn_diag_format(&tc->cr.issues[i].diag, msg, sizeof(msg)));
            bad++;
        }
        free(ir);
    }
    if (nmine == 0) {
        t->failed++;
        printf("FAIL %s: the rule does not load\n", path);
        free(real);
        return;
    }
    if (!hp || !hn) {
        bad++;
        printf("    missing %s sample file\n", hp ? "negative" : "positive");
    }
    if (hp && run_samples(tc, pos, true, ndet > 0, &bad, &events))
        bad++;
    if (hn && run_samples(tc, neg, false, ndet > 0, &bad, &events))
        bad++;
    t->events += events;
    if (bad) {
        t->failed++;
        printf("FAIL %s (%zu problems)\n", path, bad);
    } else {
        t->passed++;
        if (tc->verbose)
            printf("ok   %s (%zu events)\n", path, events);
    }
    free(real);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_walk(struct test_ctx *tc, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("FAIL %s: %s\n", path, strerror(errno));
        tc->t.failed++;
        return;
    }
    if (S_ISREG(st.st_mode)) {
        size_t l = strlen(path);
        if ((l > 4 && strcmp(path + l - 4, ".yml") == 0) ||
            (l > 5 && strcmp(path + l - 5, ".yaml") == 0))
            test_file(tc, path);
        return;
    }
    DIR *d = opendir(path);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **nn = bn_reallocarray(names, n + 1, sizeof(char *));
        if (!nn)
            break;
        names = nn;
        size_t pl = strlen(path);
        while (pl > 1 && path[pl - 1] == '/')
            pl--;
        size_t l = pl + strlen(e->d_name) + 2;
        names[n] = bn_malloc(l);
        if (!names[n])
            break;
        snprintf(names[n], l, "%.*s/%s", (int)pl, path, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        test_walk(tc, names[i]);
        bn_free(names[i]);
    }
    bn_free(names);
}

static int
rules_test(const char *const *paths, size_t n, bool verbose, bool require)
{
    struct test_ctx tc;
    struct bn_diag d;
    char msg[1024];
    memset(&tc, 0, sizeof(tc));
    tc.verbose = verbose;
    tc.require = require;
    bn_diag_clear(&d);
    if (bn_mapping_load_default(&tc.m, &d) != 0) {
        fprintf(stderr, "bannin rules test: cannot load mappings: %s\n",
                bn_diag_format(&d, msg, sizeof(msg)));
        return 2;
    }
    int rc = cli_rules_load(paths, n, NULL, NULL, &tc.cr);
    if (rc) {
        fprintf(stderr, "bannin rules test: cannot load rules: %s\n", bn_strerror(rc));
        bn_mapping_free(tc.m);
        return 2;
    }
    size_t nr = bn_ruleset_count(tc.cr.rs);
    tc.rule_real = bn_calloc(nr ? nr : 1, sizeof(char *));
    for (uint32_t i = 0; tc.rule_real && i < nr; i++) {
        const char *f = bn_ruleset_rule(tc.cr.rs, i)->file;
        tc.rule_real[i] = f ? realpath(f, NULL) : NULL;
    }
    if (tc.rule_real)
        for (size_t i = 0; i < n; i++)
            test_walk(&tc, paths[i]);
    for (uint32_t i = 0; tc.rule_real && i < nr; i++)
        free(tc.rule_real[i]);
    bn_free(tc.rule_real);
    cli_rules_release(&tc.cr);
    bn_mapping_free(tc.m);
    printf("\n%zu rule files tested: %zu passed, %zu failed, %zu sample events; %zu files "
           "without samples\n",
           tc.t.files, tc.t.passed, tc.t.failed, tc.t.events, tc.t.no_samples);
    return tc.t.failed ? 1 : 0;
}

int
cmd_rules(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        rules_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    bool verbose = false, require = false;
    const char **paths = bn_calloc((size_t)argc, sizeof(char *));
    size_t n = 0;
    if (!paths)
        return 2;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else if (strcmp(argv[i], "--require-samples") == 0)
            require = true;
        else if (strcmp(argv[i], "-r") == 0 || strcmp(argv[i], "--rules") == 0)
            continue; /* `-r PATH` as in `bannin hunt`: the next word is a path */
        else
            paths[n++] = argv[i];
    }
    int ret = 2;
    if (n == 0) {
        rules_usage(stderr);
    } else if (strcmp(sub, "check") == 0) {
        ret = rules_check(paths, n, verbose);
    } else if (strcmp(sub, "test") == 0) {
        ret = rules_test(paths, n, verbose, require);
    } else {
        fprintf(stderr, "bannin rules: unknown subcommand '%s'\n", sub);
        rules_usage(stderr);
    }
    bn_free(paths);
    return ret;
}
