/*
 * test_sigma_regression.c - the acceptance test of rules + mapping + engine + readers:
 * SigmaHQ's regression data (../shared/corpora/sigma/regression/MANIFEST.tsv). For every
 * listed rule: parse it, compile it alone, read its events once as evtx_dump JSON and once
 * from the .evtx file, build events with the default mapping and match. A rule passes a
 * format when it hits at least match_count times (at least once when None).
 *
 * Prints each failure with the reason (compile error, no events, or the logsources and
 * field names the events had) and the share of passing rules per format. Fails below
 * PASS_MIN percent for either format; the target is 100%.
 */
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
#include "bannin/diag.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/mapping.h"
#include "bannin/reader.h"
#include "bannin/sigma.h"

#define PASS_MIN 100.0

static const char *g_corpora;
static struct bn_mapping *g_map;

struct diag_note {
    char text[600];
};

static void
on_parse_diag(void *ctx, const struct bn_diag *d)
{
    struct diag_note *n = ctx;
    char buf[600];
    snprintf(n->text, sizeof(n->text), "parse: %s", bn_diag_format(d, buf, sizeof(buf)));
}

static void
on_compile_diag(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    struct diag_note *n = ctx;
    char buf[600];
    (void)rule;
    snprintf(n->text, sizeof(n->text), "compile: %s", bn_diag_format(d, buf, sizeof(buf)));
}

/* What the events of one file looked like, for the failure message. */
struct seen {
    char ls[4][160];
    int nls;
    char fields[400];
    uint64_t events;
};

static void
note_event(struct seen *s, const struct bn_event *ev)
{
    char t[160];
    snprintf(t, sizeof(t), "%s/%s/%s", ev->product ? ev->product : "-",
             ev->category ? ev->category : "-", ev->service ? ev->service : "-");
    int i;
    for (i = 0; i < s->nls; i++)
        if (!strcmp(s->ls[i], t))
            break;
    if (i == s->nls && s->nls < 4)
        snprintf(s->ls[s->nls++], sizeof(s->ls[0]), "%s", t);
    if (s->events++ == 0) {
        size_t off = 0;
        for (uint32_t v = 0; v < ev->nvals && off + 40 < sizeof(s->fields); v++) {
            int n = snprintf(s->fields + off, sizeof(s->fields) - off, "%s%.*s%s",
                             v ? "," : "", (int)BN_MIN(ev->vals[v].name_len, 30u),
                             ev->vals[v].name, ev->vals[v].field != BN_FIELD_NONE ? "*" : "");
            if (n < 0)
                break;
            off += (size_t)n;
        }
    }
}

/* Counts the hits of rules with id rule_id on the events of path. -1 if it cannot be read. */
static long
run_file(const struct bn_ruleset *rs, const char *path, enum bn_format fmt, const char *rule_id,
         struct seen *seen, char *why, size_t whylen)
{
    struct bn_reader *rd = NULL;
    struct bn_diag d;
    char buf[600];
    struct bn_event ev;
    long hits = 0;
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    struct bn_evbuilder *b = bn_evbuilder_new(g_map, ft);
    struct bn_scratch *sc = bn_scratch_new(rs);

    if (!b || !sc || bn_event_init(&ev, bn_fieldtab_count(ft)) != 0) {
        snprintf(why, whylen, "out of memory");
        bn_evbuilder_free(b);
        bn_scratch_free(sc);
        return -1;
    }
    if (bn_reader_open(&rd, path, fmt, &d) != 0) {
        snprintf(why, whylen, "cannot read: %s", bn_diag_format(&d, buf, sizeof(buf)));
        hits = -1;
        goto out;
    }
    for (;;) {
        struct bn_record *rec;
        int rc = bn_reader_next(rd, &rec, &d);
        if (rc == BN_EOF)
            break;
        if (rc) {
            snprintf(why, whylen, "record skipped: %s", bn_diag_format(&d, buf, sizeof(buf)));
            if (bn_reader_done(rd))
                break;
            continue;
        }
        if ((rc = bn_evbuilder_build(b, rec, &ev)) != 0) {
            snprintf(why, whylen, "build: %s", bn_strerror(rc));
            continue;
        }
        note_event(seen, &ev);
        const uint32_t *h;
        size_t nh;
        if ((rc = bn_ruleset_match(rs, sc, &ev, &h, &nh)) != 0) {
            snprintf(why, whylen, "match: %s", bn_strerror(rc));
            continue;
        }
        for (size_t i = 0; i < nh; i++) {
            const struct sigma_rule *r = bn_ruleset_rule(rs, h[i]);
            if (!r->id || !rule_id || !strcmp(r->id, rule_id))
                hits++;
        }
    }
out:
    bn_reader_free(rd);
    bn_event_release(&ev);
    bn_evbuilder_free(b);
    bn_scratch_free(sc);
    return hits;
}

struct tally {
    unsigned pass, total;
};

static void
test_regression(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/sigma/regression/MANIFEST.tsv", g_corpora);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    struct tally json = {0}, evtx = {0};
    unsigned lineno = 0;

    while (fgets(line, sizeof(line), f)) {
        if (lineno++ == 0)
            continue; /* header */
        line[strcspn(line, "\r\n")] = 0;
        char *col[8] = {0};
        int nc = 0;
        for (char *p = line; nc < 8;) {
            col[nc++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = 0;
            p = tab + 1;
        }
        if (nc < 7)
            continue;
        const char *dir = col[0], *rule_id = col[1], *rule_path = col[2];
        long need = strcmp(col[6], "None") ? strtol(col[6], NULL, 10) : 1;
        if (need < 1)
            need = 1;

        struct diag_note note = {{0}};
        struct sigma_rule **rules = NULL;
        size_t nrules = 0;
        struct bn_ruleset *rs = NULL;
        char rpath[4096];
        snprintf(rpath, sizeof(rpath), "%s/sigma/rules/%s", g_corpora, rule_path);
        int rc = sigma_parse_file(rpath, &rules, &nrules, on_parse_diag, &note);
        if (rc == 0 && nrules) {
            struct bn_compile_opts opts = {0};
            rc = bn_ruleset_compile(&rs, rules, nrules, &opts, on_compile_diag, &note);
        } else if (rc == 0) {
            rc = BN_EPARSE;
        }
        bn_free(rules);
        bool usable = rc == 0 && rs && bn_ruleset_count(rs) > 0;

        static const struct {
            const char *ext;
            enum bn_format fmt;
        } forms[] = {{"json", BN_FMT_JSON}, {"evtx", BN_FMT_EVTX}};
        for (size_t fi = 0; fi < 2; fi++) {
            struct tally *t = fi == 0 ? &json : &evtx;
            char epath[16384], why[700] = "";
            struct seen seen = {0};
            long hits = -1;
            snprintf(epath, sizeof(epath), "%s/sigma/regression/%s/%s.%s", g_corpora, dir,
                     rule_id, forms[fi].ext);
            struct stat st;
            if (stat(epath, &st) != 0)
                continue; /* this rule has no data in this format */
            t->total++;
            if (usable)
                hits = run_file(rs, epath, forms[fi].fmt, rule_id, &seen, why, sizeof(why));
            if (hits >= need) {
                t->pass++;
                continue;
            }
            if (!usable)
                printf("FAIL %-4s %s: rule unusable: %s\n", forms[fi].ext, rule_path,
                       note.text[0] ? note.text : "no rule compiled");
            else
                printf("FAIL %-4s %s: %ld of %ld hits; %llu events, logsources %s%s%s%s%s%s%s "
                       "(rule %s/%s/%s); fields %s%s%s\n",
                       forms[fi].ext, rule_path, hits < 0 ? 0 : hits, need,
                       (unsigned long long)seen.events, seen.ls[0],
                       seen.nls > 1 ? " " : "", seen.ls[1], seen.nls > 2 ? " " : "", seen.ls[2],
                       seen.nls > 3 ? " " : "", seen.ls[3],
                       bn_ruleset_rule(rs, 0)->logsource.product
                           ? bn_ruleset_rule(rs, 0)->logsource.product : "-",
                       bn_ruleset_rule(rs, 0)->logsource.category
                           ? bn_ruleset_rule(rs, 0)->logsource.category : "-",
                       bn_ruleset_rule(rs, 0)->logsource.service
                           ? bn_ruleset_rule(rs, 0)->logsource.service : "-",
                       seen.fields, why[0] ? "; " : "", why);
        }
        bn_ruleset_free(rs);
    }
    fclose(f);
    double js = json.total ? 100.0 * json.pass / json.total : 0;
    double es = evtx.total ? 100.0 * evtx.pass / evtx.total : 0;
    printf("sigma regression: json %u/%u (%.1f%%), evtx %u/%u (%.1f%%)\n", json.pass,
           json.total, js, evtx.pass, evtx.total, es);
    assert_true(json.total > 0);
    assert_true(js >= PASS_MIN);
    assert_true(evtx.total > 0);
    assert_true(es >= PASS_MIN);
}

int
main(void)
{
    char path[4096];
    struct stat st;
    struct bn_diag d;
    char buf[1024];

    g_corpora = getenv("BN_CORPORA");
    if (!g_corpora || !*g_corpora)
        g_corpora = "../shared/corpora";
    snprintf(path, sizeof(path), "%s/sigma/regression/MANIFEST.tsv", g_corpora);
    if (stat(path, &st) != 0) {
        printf("SKIP: no SigmaHQ regression corpus at '%s' (set BN_CORPORA)\n", path);
        return 77;
    }
    if (bn_mapping_load_default(&g_map, &d) != 0) {
        fprintf(stderr, "cannot load default mappings: %s\n",
                bn_diag_format(&d, buf, sizeof(buf)));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regression),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bn_mapping_free(g_map);
    return rc;
}
