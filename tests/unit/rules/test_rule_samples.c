/*
 * test_rule_samples.c - every rule we ship under rules/ parses, compiles, fires on each event
 * of its <rule>.positive.ndjson and never on its <rule>.negative.ndjson (docs/RULES.md).
 *
 * Events go through the same path as `bannin hunt`: NDJSON reader, default mappings, event
 * builder, compiled rule set. Correlation rules are checked on the whole file instead: the
 * positive sequence must raise at least one correlation alert, the negative one none.
 *
 * The demo logs of samples/ (what `make run` shows) are checked too: the intrusion raises
 * exactly the expected set of rules, and the benign hosts and the benign workload stay quiet.
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
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/correlate.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/mapping.h"
#include "bannin/reader.h"
#include "bannin/sigma.h"

#ifndef BN_SOURCE_DIR
#define BN_SOURCE_DIR "."
#endif

struct diags {
    int count;
    char last[1024];
};

static void
on_parse_diag(void *ctx, const struct bn_diag *d)
{
    struct diags *ds = ctx;
    char buf[800];
    ds->count++;
    snprintf(ds->last, sizeof(ds->last), "%s", bn_diag_format(d, buf, sizeof(buf)));
    print_error("rule parse: %s\n", buf);
}

static void
on_compile_diag(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    struct diags *ds = ctx;
    char buf[800];
    ds->count++;
    snprintf(ds->last, sizeof(ds->last), "%s", bn_diag_format(d, buf, sizeof(buf)));
    print_error("rule compile: %s (%s)\n", buf, rule && rule->title ? rule->title : "?");
}

/* Everything one sample file is run through. */
struct harness {
    struct bn_ruleset *rs;
    struct bn_mapping *m;
    struct bn_evbuilder *b;
    struct bn_scratch *sc;
    struct bn_event ev;
};

static const char *
rules_dir(void)
{
    static char dir[2048];
    const char *src = getenv("BN_SOURCE_DIR");
    snprintf(dir, sizeof(dir), "%s/rules", src ? src : BN_SOURCE_DIR);
    return dir;
}

static int
setup(void **state)
{
    struct harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    const char *paths[] = {rules_dir()};
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    struct diags pd = {0}, cd = {0};
    assert_int_equal(sigma_parse_paths(paths, 1, &rules, &n, on_parse_diag, &pd), 0);
    if (pd.count)
        fail_msg("%d rule document(s) do not parse; last: %s", pd.count, pd.last);
    if (n < 30)
        fail_msg("only %zu rules under %s", n, paths[0]);
    assert_int_equal(bn_ruleset_compile(&h->rs, rules, n, NULL, on_compile_diag, &cd), 0);
    bn_free(rules);
    if (cd.count)
        fail_msg("%d rule(s) do not compile; last: %s", cd.count, cd.last);
    assert_int_equal(bn_ruleset_count(h->rs), n);

    struct bn_diag d;
    if (bn_mapping_load_default(&h->m, &d) != 0) {
        char buf[800];
        fail_msg("cannot load the default mappings: %s", bn_diag_format(&d, buf, sizeof(buf)));
    }
    const struct bn_fieldtab *ft = bn_ruleset_fields(h->rs);
    h->b = bn_evbuilder_new(h->m, ft);
    h->sc = bn_scratch_new(h->rs);
    assert_non_null(h->b);
    assert_non_null(h->sc);
    assert_int_equal(bn_event_init(&h->ev, bn_fieldtab_count(ft)), 0);
    *state = h;
    return 0;
}

static int
teardown(void **state)
{
    struct harness *h = *state;
    if (!h)
        return 0;
    bn_event_release(&h->ev);
    bn_scratch_free(h->sc);
    bn_evbuilder_free(h->b);
    bn_mapping_free(h->m);
    bn_ruleset_free(h->rs);
    free(h);
    return 0;
}

/* Returns the sidecar path of a rule file: rules/x/y.yml -> rules/x/y.<kind>.ndjson. */
static void
sidecar(const char *rule_file, const char *kind, char *out, size_t size)
{
    size_t len = strlen(rule_file);
    size_t stem = len;
    if (len > 4 && strcmp(rule_file + len - 4, ".yml") == 0)
        stem = len - 4;
    else if (len > 5 && strcmp(rule_file + len - 5, ".yaml") == 0)
        stem = len - 5;
    snprintf(out, size, "%.*s.%s.ndjson", (int)stem, rule_file, kind);
}

static bool
file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

struct corr_count {
    uint32_t rule;
    int alerts;
};

static void
on_corr(void *ctx, const struct bn_corr_alert *a)
{
    struct corr_count *cc = ctx;
    if (a->rule == cc->rule)
        cc->alerts++;
}

/*
 * Runs the naive oracle first (its hits live in the same scratch, so the fast matcher's
 * result, used afterwards, must come last) and returns a copy of its hits in slow[].
 */
static size_t
naive_hits(struct harness *h, uint32_t *slow, size_t cap, const char *path, int event)
{
    const uint32_t *hits;
    size_t nhits;
    assert_int_equal(bn_ruleset_match_naive(h->rs, h->sc, &h->ev, &hits, &nhits), 0);
    if (nhits > cap)
        fail_msg("%s: event %d fired %zu rules", path, event, nhits);
    memcpy(slow, hits, nhits * sizeof(*hits));
    return nhits;
}

/*
 * Runs every event of path through the set. For a detection rule idx returns how many events
 * it fired on (and the event count in *events); for a correlation rule, how many alerts it
 * raised over the whole file.
 */
static int
run_file(struct harness *h, uint32_t idx, const char *path, int *events, int *first_miss,
         int *first_hit)
{
    const struct sigma_rule *rule = bn_ruleset_rule(h->rs, idx);
    bool corr = rule->kind == SIGMA_KIND_CORRELATION;
    struct corr_count cc = {.rule = idx};
    struct bn_correlator *c = corr ? bn_correlator_new(h->rs, on_corr, &cc) : NULL;
    struct bn_reader *r = NULL;
    struct bn_diag d;
    int hits_total = 0;
    *events = 0;
    *first_miss = *first_hit = 0;
    if (corr)
        assert_non_null(c);
    if (bn_reader_open(&r, path, BN_FMT_NDJSON, &d) != 0) {
        char buf[800];
        fail_msg("cannot open '%s': %s", path, bn_diag_format(&d, buf, sizeof(buf)));
    }
    for (;;) {
        struct bn_record *rec;
        int rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF)
            break;
        if (rc != 0) {
            char buf[800];
            fail_msg("bad sample event in '%s': %s", path, bn_diag_format(&d, buf, sizeof(buf)));
        }
        (*events)++;
        bn_event_clear(&h->ev);
        assert_int_equal(bn_evbuilder_build(h->b, rec, &h->ev), 0);
        const uint32_t *hits;
        size_t nhits;
        uint32_t slow[64];
        size_t nslow = naive_hits(h, slow, BN_ARRAY_SIZE(slow), path, *events);
        assert_int_equal(bn_ruleset_match(h->rs, h->sc, &h->ev, &hits, &nhits), 0);
        if (nslow != nhits || (nhits && memcmp(slow, hits, nhits * sizeof(*hits)) != 0))
            fail_msg("%s: event %d: matcher and naive oracle disagree (%zu vs %zu hits)", path,
                     *events, nhits, nslow);
        if (corr) {
            assert_int_equal(bn_correlator_feed(c, NULL, &h->ev, hits, nhits), 0);
            continue;
        }
        bool hit = false;
        for (size_t i = 0; i < nhits; i++)
            hit |= hits[i] == idx;
        if (hit) {
            hits_total++;
            if (!*first_hit)
                *first_hit = *events;
        } else if (!*first_miss) {
            *first_miss = *events;
        }
    }
    bn_reader_free(r);
    if (corr) {
        bn_correlator_expire(c, INT64_MAX);
        bn_correlator_free(c);
        hits_total = cc.alerts;
    }
    return hits_total;
}

static void
test_samples(void **state)
{
    struct harness *h = *state;
    size_t n = bn_ruleset_count(h->rs);
    int failures = 0, detection = 0, correlation = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct sigma_rule *rule = bn_ruleset_rule(h->rs, i);
        char pos[2048], neg[2048];
        sidecar(rule->file, "positive", pos, sizeof(pos));
        sidecar(rule->file, "negative", neg, sizeof(neg));
        if (!file_exists(pos) || !file_exists(neg)) {
            print_error("%s: missing sample file %s\n", rule->file, file_exists(pos) ? neg : pos);
            failures++;
            continue;
        }
        int pev, nev, miss, hit;
        int phits = run_file(h, i, pos, &pev, &miss, &hit);
        bool corr = rule->kind == SIGMA_KIND_CORRELATION;
        if (pev == 0) {
            print_error("%s: positive file has no events\n", rule->file);
            failures++;
        } else if (corr ? phits == 0 : phits != pev) {
            if (corr)
                print_error("%s: '%s' raised no alert on its positive sequence\n", rule->file,
                            rule->title);
            else
                print_error("%s: '%s' missed positive event %d (%d of %d fired)\n", rule->file,
                            rule->title, miss, phits, pev);
            failures++;
        }
        int nhits = run_file(h, i, neg, &nev, &miss, &hit);
        if (nev < (corr ? 1 : 2)) {
            print_error("%s: negative file needs at least 2 events, has %d\n", rule->file, nev);
            failures++;
        } else if (nhits != 0) {
            if (corr)
                print_error("%s: '%s' raised %d alert(s) on its negative sequence\n", rule->file,
                            rule->title, nhits);
            else
                print_error("%s: '%s' fired on negative event %d\n", rule->file, rule->title, hit);
            failures++;
        }
        if (corr)
            correlation++;
        else
            detection++;
    }
    printf("rule samples: %d detection and %d correlation rules checked, %d failure(s)\n",
           detection, correlation, failures);
    assert_int_equal(failures, 0);
}

/* The rules (file stems) the demo logs must raise, per file; nothing else may alert. */
static const char *const demo_ndjson[] = {
    "proc_creation_lnx_webserver_spawn_shell",  "lnx_discovery_burst",
    "proc_creation_lnx_download_to_tmp",        "proc_creation_lnx_chmod_exec_tmp",
    "proc_creation_lnx_exec_from_hidden_dir",   "proc_creation_lnx_exec_from_tmp",
    "proc_creation_lnx_reverse_shell_dev_tcp",  "net_connection_lnx_shell_outbound",
    "proc_creation_lnx_crontab_modification",   "proc_creation_lnx_ssh_authorized_keys_append",
    "file_event_lnx_ssh_authorized_keys_write", "proc_creation_lnx_useradd_uid0",
    "proc_creation_lnx_shadow_file_read",       "proc_creation_lnx_security_tool_tampering",
    "proc_creation_lnx_clear_shell_history",    NULL,
};
static const char *const demo_auth[] = {
    "lnx_sshd_brute_force",
    "lnx_sudo_auth_failure",
    NULL,
};
static const char *const demo_audit[] = {
    "lnx_auditd_exec_from_tmp",
    "lnx_auditd_reverse_shell_execve",
    NULL,
};

struct demo {
    struct harness *h;
    bool *fired;          /* per rule index */
    int alerts_elsewhere; /* alerts on a host other than the compromised one */
    const char *victim;
};

/* Writes the file stem of a rule ("rules/linux/x.yml" -> "x"). */
static void
rule_stem(const struct sigma_rule *r, char *out, size_t size)
{
    const char *base = strrchr(r->file, '/');
    base = base ? base + 1 : r->file;
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".yml") == 0)
        len -= 4;
    snprintf(out, size, "%.*s", (int)len, base);
}

static void
on_demo_corr(void *ctx, const struct bn_corr_alert *a)
{
    struct demo *dm = ctx;
    dm->fired[a->rule] = true;
    for (size_t i = 0; i < a->ngroup; i++) {
        if ((strcmp(a->group_names[i], "host") == 0 ||
             strcmp(a->group_names[i], "Computer") == 0) &&
            a->group_values[i] && strcmp(a->group_values[i], dm->victim) != 0)
            dm->alerts_elsewhere++;
    }
}

static void
run_demo(struct harness *h, const char *name, const char *victim, const char *const *want)
{
    char path[2048];
    const char *src = getenv("BN_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/samples/%s", src ? src : BN_SOURCE_DIR, name);
    size_t n = bn_ruleset_count(h->rs);
    struct demo dm = {.h = h, .fired = calloc(n, sizeof(bool)), .victim = victim};
    assert_non_null(dm.fired);
    struct bn_correlator *c = bn_correlator_new(h->rs, on_demo_corr, &dm);
    assert_non_null(c);
    struct bn_reader *r = NULL;
    struct bn_diag d;
    if (bn_reader_open(&r, path, BN_FMT_AUTO, &d) != 0) {
        char buf[800];
        fail_msg("cannot open '%s': %s", path, bn_diag_format(&d, buf, sizeof(buf)));
    }
    int records = 0;
    for (;;) {
        struct bn_record *rec;
        int rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF)
            break;
        if (rc != 0) {
            char buf[800];
            fail_msg("unreadable demo record: %s", bn_diag_format(&d, buf, sizeof(buf)));
        }
        records++;
        bn_event_clear(&h->ev);
        assert_int_equal(bn_evbuilder_build(h->b, rec, &h->ev), 0);
        const uint32_t *hits;
        size_t nhits;
        assert_int_equal(bn_ruleset_match(h->rs, h->sc, &h->ev, &hits, &nhits), 0);
        for (size_t i = 0; i < nhits; i++) {
            if (!bn_ruleset_rule_alerts(h->rs, hits[i]))
                continue;
            dm.fired[hits[i]] = true;
            if (!h->ev.host || h->ev.host_len != strlen(victim) ||
                memcmp(h->ev.host, victim, h->ev.host_len) != 0) {
                print_error("%s: record %d on another host raised '%s'\n", name, records,
                            bn_ruleset_rule(h->rs, hits[i])->title);
                dm.alerts_elsewhere++;
            }
        }
        assert_int_equal(bn_correlator_feed(c, NULL, &h->ev, hits, nhits), 0);
    }
    bn_correlator_expire(c, INT64_MAX);
    bn_reader_free(r);
    bn_correlator_free(c);

    int wrong = 0, fired = 0;
    for (uint32_t i = 0; i < n; i++) {
        fired += dm.fired[i];
        char stem[512];
        rule_stem(bn_ruleset_rule(h->rs, i), stem, sizeof(stem));
        bool wanted = false;
        for (size_t k = 0; want[k]; k++)
            wanted |= strcmp(want[k], stem) == 0;
        if (wanted != dm.fired[i]) {
            print_error("%s: rule %s %s\n", name, stem,
                        wanted ? "did not fire" : "fired but is not expected");
            wrong++;
        }
    }
    printf("demo %s: %d records, %d rule(s) fired, %d unexpected result(s)\n", name, records, fired,
           wrong);
    free(dm.fired);
    assert_true(records > 0);
    assert_int_equal(dm.alerts_elsewhere, 0);
    assert_int_equal(wrong, 0);
}

static void
test_demo_samples(void **state)
{
    struct harness *h = *state;
    run_demo(h, "linux-intrusion.ndjson", "web-01", demo_ndjson);
    run_demo(h, "auth.log", "bastion-01", demo_auth);
    run_demo(h, "audit.log", "web-01", demo_audit);
}

/* Every rule file in rules/ has both sample files, even one the parser would skip. */
static void
check_dir(const char *dir, int *files, int *missing)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            check_dir(path, files, missing);
            continue;
        }
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".yml") != 0)
            continue;
        (*files)++;
        const char *kinds[] = {"positive", "negative"};
        for (int k = 0; k < 2; k++) {
            char sc[2048];
            sidecar(path, kinds[k], sc, sizeof(sc));
            if (!file_exists(sc)) {
                print_error("%s: missing %s\n", path, sc);
                (*missing)++;
            }
        }
    }
    closedir(dp);
}

static void
test_every_rule_has_samples(void **state)
{
    (void)state;
    int files = 0, missing = 0;
    check_dir(rules_dir(), &files, &missing);
    assert_true(files >= 30);
    assert_int_equal(missing, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rule_has_samples),
        cmocka_unit_test_setup_teardown(test_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demo_samples, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
