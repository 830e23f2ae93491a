/*
 * test_correlation.c - correlation rules against outside material (../shared/corpora):
 *
 *  1. every correlation example of the pySigma test file, the sigma-specification schema
 *     tests and the ```yaml blocks of the correlation specification parses and compiles
 *     (references to rules the example does not contain get a stub rule; value_sum /
 *     value_avg / value_percentile must be refused as unsupported; fragments that only show
 *     one attribute are skipped and counted);
 *  2. the DeepBlueCLI password-spray EVTX, read with the EVTX reader, mapped with the
 *     default mapping, matched and correlated, raises the value_count spray alert for the
 *     source and host named in sigma/correlation/deepbluecli/EXPECTED-derived.md
 *     (IpAddress 172.16.144.128 on DESKTOP-JR78RLP, at most 41 distinct accounts in any
 *     5-minute window: gte 41 fires, gte 42 does not). An alert starts a new window, so
 *     gte 5 fires many times over the 294 attempts.
 *
 * Exits 77 (skipped) when the corpora are absent.
 */
#include <dirent.h>
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
#include "bannin/correlate.h"
#include "bannin/diag.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/mapping.h"
#include "bannin/reader.h"
#include "bannin/sigma.h"

static char corpora[1024];

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* --- part 1: the examples parse and compile --- */

struct tally {
    int examples;      /* YAML sources holding at least one complete correlation */
    int correlations;  /* correlation rules compiled */
    int unsupported;   /* refused as unsupported (value_sum, value_avg, value_percentile) */
    int fragments;     /* spec blocks showing one attribute, skipped */
    int stubs;         /* stub rules made for references the example does not contain */
};

struct diags {
    int errors;
    int unsup;
    char last[1024];
};

static void
on_parse_diag(void *ctx, const struct bn_diag *d)
{
    struct diags *x = ctx;
    char buf[600];
    bn_diag_format(d, buf, sizeof(buf));
    snprintf(x->last, sizeof(x->last), "%s", buf);
    if (d->code == BN_EUNSUP)
        x->unsup++;
    else
        x->errors++;
}

static void
on_compile_diag(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    struct diags *x = ctx;
    char buf[600];
    bn_diag_format(d, buf, sizeof(buf));
    snprintf(x->last, sizeof(x->last), "%s: %s", rule && rule->title ? rule->title : "?", buf);
    x->errors++;
}

static bool
names(const struct sigma_rule *r, const char *ref)
{
    return (r->name && strcmp(r->name, ref) == 0) || (r->id && strcmp(r->id, ref) == 0);
}

static bool
looks_like_uuid(const char *s)
{
    size_t n = strlen(s);
    return n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-';
}

/*
 * Parses and compiles one YAML source. Returns the correlation rules compiled, or -1 when
 * the source was refused as unsupported. expect_unsup: the source uses a correlation type
 * Bannin does not implement.
 */
static int
check_source(const char *yaml, size_t len, const char *name, struct tally *t)
{
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    struct diags pd = {0};
    assert_int_equal(sigma_parse_mem(yaml, len, name, &rules, &n, on_parse_diag, &pd), 0);
    if (pd.unsup) {
        for (size_t i = 0; i < n; i++)
            sigma_rule_free(rules[i]);
        bn_free(rules);
        printf("  %s: unsupported: %s\n", name, pd.last);
        t->unsupported++;
        return -1;
    }
    if (pd.errors)
        fail_msg("%s: does not parse: %s", name, pd.last);

    /* Stubs for references to rules that live elsewhere (by id or by name). */
    char stub[1024];
    size_t nparsed = n;
    for (size_t i = 0; i < nparsed; i++) {
        if (rules[i]->kind != SIGMA_KIND_CORRELATION)
            continue;
        for (uint32_t k = 0; k < rules[i]->corr.nrules; k++) {
            const char *ref = rules[i]->corr.rules[k];
            bool found = false;
            for (size_t j = 0; j < n && !found; j++)
                found = names(rules[j], ref);
            if (found)
                continue;
            int sl = snprintf(stub, sizeof(stub),
                              "title: stub for %s\n%s: %s\nlogsource:\n    product: test\n"
                              "detection:\n    selection:\n        stubfield: '%s'\n"
                              "    condition: selection\n",
                              ref, looks_like_uuid(ref) ? "id" : "name", ref, ref);
            assert_true(sl > 0 && (size_t)sl < sizeof(stub));
            struct diags sd = {0};
            assert_int_equal(
                sigma_parse_mem(stub, (size_t)sl, "stub", &rules, &n, on_parse_diag, &sd), 0);
            if (sd.errors || sd.unsup)
                fail_msg("stub for '%s' does not parse: %s", ref, sd.last);
            t->stubs++;
        }
    }

    struct bn_ruleset *rs = NULL;
    struct diags cd = {0};
    assert_int_equal(bn_ruleset_compile(&rs, rules, n, NULL, on_compile_diag, &cd), 0);
    bn_free(rules); /* the rules themselves are consumed */
    if (cd.errors)
        fail_msg("%s: does not compile: %s", name, cd.last);
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    /* The correlator resolves every correlation of the set. */
    struct bn_correlator *c = bn_correlator_new(rs, NULL, NULL);
    assert_non_null(c);
    for (uint32_t i = 0; i < bn_ruleset_count(rs); i++) {
        const struct sigma_rule *r = bn_ruleset_rule(rs, i);
        size_t nref = 0;
        if (r->kind != SIGMA_KIND_CORRELATION)
            continue;
        const uint32_t *refs = bn_ruleset_corr_refs(rs, i, &nref);
        assert_non_null(refs);
        assert_int_equal(nref, r->corr.nrules);
    }
    bn_correlator_free(c);
    bn_ruleset_free(rs);
    if (st.correlation_rules == 0)
        fail_msg("%s: no correlation rule compiled", name);
    t->examples++;
    t->correlations += (int)st.correlation_rules;
    printf("  %s: %zu correlation(s), %zu rule(s)\n", name, st.correlation_rules, st.rules);
    return (int)st.correlation_rules;
}

static bool
unsupported_type(const char *yaml)
{
    return strstr(yaml, "type: value_sum") || strstr(yaml, "type: value_avg") ||
           strstr(yaml, "type: value_percentile");
}

static void
check_file(const char *rel, struct tally *t)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", corpora, rel);
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf)
        fail_msg("cannot read '%s'", path);
    int rc = check_source(buf, len, rel, t);
    if (unsupported_type(buf))
        assert_int_equal(rc, -1);
    else
        assert_true(rc > 0);
    free(buf);
}

static void
test_examples_compile(void **state)
{
    (void)state;
    struct tally t = {0};
    check_file("sigma/correlation/pysigma/correlation_rule.yml", &t);

    /* The schema tests of the specification repository. */
    char dir[2048];
    snprintf(dir, sizeof(dir), "%s/sigma/correlation/sigma-specification/tests/schema/correlation",
             corpora);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    char *names_[64];
    size_t nn = 0;
    while ((de = readdir(d)) != NULL && nn < 64)
        if (strstr(de->d_name, ".yml"))
            names_[nn++] = strdup(de->d_name);
    closedir(d);
    assert_true(nn >= 8);
    for (size_t i = 0; i < nn; i++) {
        char rel[512];
        snprintf(rel, sizeof(rel), "sigma/correlation/sigma-specification/tests/schema/correlation/%s",
                 names_[i]);
        check_file(rel, &t);
        free(names_[i]);
    }

    /* The ```yaml / ```yml blocks of the specification that hold a correlation. */
    char path[2048];
    snprintf(path, sizeof(path),
             "%s/sigma/specification/specification/sigma-correlation-rules-specification.md",
             corpora);
    size_t len;
    char *md = read_file(path, &len);
    assert_non_null(md);
    int blocks = 0;
    for (char *p = md; (p = strstr(p, "```y")) != NULL;) {
        char *body = strchr(p, '\n');
        if (!body)
            break;
        body++;
        char *end = strstr(body, "\n```");
        if (!end)
            break;
        bool fence = strncmp(p, "```yaml", 7) == 0 || strncmp(p, "```yml", 6) == 0;
        p = end + 4;
        if (!fence)
            continue;
        size_t blen = (size_t)(end - body) + 1;
        char *blk = strndup(body, blen);
        assert_non_null(blk);
        if (!strstr(blk, "correlation:")) {
            free(blk);
            continue;
        }
        blocks++;
        char name[64];
        snprintf(name, sizeof(name), "specification block %d", blocks);
        /* A block showing only one attribute (e.g. `rules:` alone) is not a rule. */
        if (!strstr(blk, "type:") || !strstr(blk, "timespan:")) {
            printf("  %s: fragment, skipped\n", name);
            t.fragments++;
            free(blk);
            continue;
        }
        /* Examples that only show the correlation section get the title a rule needs. */
        char *src = blk;
        if (strncmp(blk, "title:", 6) != 0 && !strstr(blk, "\ntitle:")) {
            size_t need = blen + 64;
            src = malloc(need);
            assert_non_null(src);
            snprintf(src, need, "title: %s\n%s", name, blk);
        }
        int rc = check_source(src, strlen(src), name, &t);
        if (unsupported_type(src))
            assert_int_equal(rc, -1);
        else
            assert_true(rc > 0);
        if (src != blk)
            free(src);
        free(blk);
    }
    free(md);
    printf("correlation examples: %d sources compiled (%d correlation rules, %d stub rules), "
           "%d unsupported types refused, %d specification fragments skipped\n",
           t.examples, t.correlations, t.stubs, t.unsupported, t.fragments);
    assert_true(blocks >= 8);
    assert_true(t.examples >= 12);
    assert_int_equal(t.unsupported, 6); /* value_sum, value_avg, value_percentile x 2 */
}

/* --- part 2: the password spray --- */

static const char spray_rules[] =
    "title: Password spray - many accounts tried from one source\n"
    "id: 6f0e4a55-2d0b-4c52-9a57-0d3a0a9b1c11\n"
    "status: test\n"
    "description: One source address tries failed or explicit-credential logons against\n"
    "    many different accounts on a host within five minutes.\n"
    "correlation:\n"
    "    type: value_count\n"
    "    rules:\n"
    "        - logon_attempt_from_network\n"
    "    group-by:\n"
    "        - IpAddress\n"
    "        - Computer\n"
    "    timespan: 5m\n"
    "    condition:\n"
    "        gte: %d\n"
    "        field: TargetUserName\n"
    "level: medium\n"
    "---\n"
    "title: Failed or explicit-credential logon from a network address\n"
    "id: 0c8d3c1e-8a3f-4f0e-b8f3-5b6a1f2d7e21\n"
    "name: logon_attempt_from_network\n"
    "logsource:\n"
    "    product: windows\n"
    "    service: security\n"
    "detection:\n"
    "    selection:\n"
    "        EventID:\n"
    "            - 4625\n"
    "            - 4648\n"
    "    filter:\n"
    "        IpAddress: '-'\n"
    "    condition: selection and not filter\n";

struct spray {
    int alerts;
    char ip[64];
    char host[64];
    int64_t first_ns, last_ns;
    uint64_t max_count;
    bool other_group;
};

static void
on_spray(void *ctx, const struct bn_corr_alert *a)
{
    struct spray *s = ctx;
    const char *ip = NULL, *host = NULL;
    for (size_t j = 0; j < a->ngroup; j++) {
        if (strcmp(a->group_names[j], "IpAddress") == 0)
            ip = a->group_values[j];
        else if (strcmp(a->group_names[j], "Computer") == 0)
            host = a->group_values[j];
    }
    assert_non_null(ip);
    assert_non_null(host);
    if (s->alerts == 0) {
        snprintf(s->ip, sizeof(s->ip), "%s", ip);
        snprintf(s->host, sizeof(s->host), "%s", host);
        s->first_ns = a->first_ns;
    } else if (strcmp(s->ip, ip) != 0 || strcmp(s->host, host) != 0) {
        s->other_group = true;
    }
    s->last_ns = a->last_ns;
    if (a->count > s->max_count)
        s->max_count = a->count;
    s->alerts++;
}

/* Runs the EVTX through reader, mapping, matcher and correlator. Returns base-rule hits. */
static int
run_spray(int threshold, struct spray *out)
{
    char yaml[sizeof(spray_rules) + 16];
    int yl = snprintf(yaml, sizeof(yaml), spray_rules, threshold);
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    struct diags pd = {0};
    assert_int_equal(sigma_parse_mem(yaml, (size_t)yl, "spray", &rules, &n, on_parse_diag, &pd),
                     0);
    if (pd.errors || pd.unsup)
        fail_msg("spray rules: %s", pd.last);
    assert_int_equal(n, 2);
    struct bn_ruleset *rs = NULL;
    struct diags cd = {0};
    assert_int_equal(bn_ruleset_compile(&rs, rules, n, NULL, on_compile_diag, &cd), 0);
    bn_free(rules);
    if (cd.errors)
        fail_msg("spray rules: %s", cd.last);
    uint32_t base = UINT32_MAX;
    for (uint32_t i = 0; i < bn_ruleset_count(rs); i++)
        if (bn_ruleset_rule(rs, i)->kind == SIGMA_KIND_DETECTION)
            base = i;
    assert_true(base != UINT32_MAX);
    assert_false(bn_ruleset_rule_alerts(rs, base)); /* generate: false (the default) */

    struct bn_diag d;
    struct bn_mapping *m = NULL;
    int rc = bn_mapping_load_default(&m, &d);
    if (rc) {
        char buf[600];
        fail_msg("cannot load the default mapping: %s", bn_diag_format(&d, buf, sizeof(buf)));
    }
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    struct bn_evbuilder *b = bn_evbuilder_new(m, ft);
    struct bn_scratch *sc = bn_scratch_new(rs);
    struct bn_correlator *c = bn_correlator_new(rs, on_spray, out);
    assert_non_null(b);
    assert_non_null(sc);
    assert_non_null(c);
    struct bn_event ev;
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(ft)), 0);

    char path[2048];
    snprintf(path, sizeof(path), "%s/sigma/correlation/deepbluecli/password-spray.evtx", corpora);
    struct bn_reader *r = NULL;
    rc = bn_reader_open(&r, path, BN_FMT_EVTX, &d);
    if (rc) {
        char buf[600];
        fail_msg("cannot open the EVTX: %s", bn_diag_format(&d, buf, sizeof(buf)));
    }
    int records = 0, base_hits = 0;
    struct bn_record *rec;
    for (;;) {
        rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF)
            break;
        if (rc) {
            if (bn_reader_done(r))
                break;
            continue;
        }
        records++;
        bn_event_clear(&ev);
        assert_int_equal(bn_evbuilder_build(b, rec, &ev), 0);
        const uint32_t *hits;
        size_t nhits;
        assert_int_equal(bn_ruleset_match(rs, sc, &ev, &hits, &nhits), 0);
        for (size_t i = 0; i < nhits; i++)
            if (hits[i] == base)
                base_hits++;
        assert_int_equal(bn_correlator_feed(c, NULL, &ev, hits, nhits), 0);
    }
    bn_correlator_expire(c, INT64_MAX);
    printf("spray gte %d: %d records, %d base-rule hits, %d alert(s)", threshold, records,
           base_hits, out->alerts);
    if (out->alerts)
        printf(", first for IpAddress=%s Computer=%s, max %llu accounts", out->ip, out->host,
               (unsigned long long)out->max_count);
    printf("\n");
    assert_int_equal(records, 295);
    bn_event_release(&ev);
    bn_reader_free(r);
    bn_correlator_free(c);
    bn_scratch_free(sc);
    bn_evbuilder_free(b);
    bn_mapping_free(m);
    bn_ruleset_free(rs);
    return base_hits;
}

static void
test_password_spray(void **state)
{
    (void)state;
    struct spray s = {0};
    int hits = run_spray(5, &s);
    assert_int_equal(hits, 294); /* the 4648 events; the 1102 is not a logon */
    assert_true(s.alerts >= 1);
    assert_false(s.other_group);
    assert_string_equal(s.ip, "172.16.144.128");
    assert_string_equal(s.host, "DESKTOP-JR78RLP");
    /* 2019-04-30T19:27:02Z .. 19:32:17Z (the first and last base events) */
    struct tm tm = {.tm_year = 119, .tm_mon = 3, .tm_mday = 30, .tm_hour = 19, .tm_min = 27,
                    .tm_sec = 2};
    int64_t lo = (int64_t)timegm(&tm) * 1000000000ll;
    tm.tm_min = 32;
    tm.tm_sec = 18;
    int64_t hi = (int64_t)timegm(&tm) * 1000000000ll;
    printf("first alert window starts %lld ns after 19:27:02Z, last ends %lld ns before 19:32:18Z\n",
           (long long)(s.first_ns - lo), (long long)(hi - s.last_ns));
    assert_true(s.first_ns >= lo && s.first_ns < lo + 1000000000ll);
    assert_true(s.last_ns <= hi);

    /* The derived maximum: 41 distinct accounts in a 5-minute window. */
    struct spray s41 = {0};
    run_spray(41, &s41);
    assert_true(s41.alerts >= 1); /* each alert starts a new window, so it may fire again */
    assert_int_equal(s41.max_count, 41);
    assert_false(s41.other_group);
    struct spray s42 = {0};
    run_spray(42, &s42);
    assert_int_equal(s42.alerts, 0);
}

int
main(void)
{
    const char *env = getenv("BN_CORPORA");
    snprintf(corpora, sizeof(corpora), "%s", env && *env ? env : "../shared/corpora");
    char probe[2048];
    struct stat st;
    snprintf(probe, sizeof(probe), "%s/sigma/correlation", corpora);
    if (stat(probe, &st) != 0) {
        printf("skipped: corpora not found at '%s' (set BN_CORPORA)\n", probe);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_compile),
        cmocka_unit_test(test_password_spray),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
