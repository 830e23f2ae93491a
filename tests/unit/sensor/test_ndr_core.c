/*
 * test_ndr_core.c - the detector's frame (ndr.c, ndr_table.c): configuration defaults,
 * YAML loading through the config table, bad lists rejected with a sentence, merging the
 * keys into another component's table, the eve alert member (parsed back with jansson),
 * bounded state under a flood of sources (evictions counted), allocation failure at every
 * step, the LRU table itself, and a benign office hour through every detection at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "netgen.h"

#include "bannin/alloc.h"
#include "bannin/config.h"
#include "bannin/diag.h"
#include "bannin/error.h"

#include "sensor/ndr_int.h"

static void
test_config(void **state)
{
    (void)state;
    struct ndr_config c;
    assert_int_equal(ndr_config_init(&c), 0);
    assert_string_equal(c.internal, "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7");
    assert_int_equal(c.scan_vertical_ports, 100);
    assert_int_equal(c.scan_window_ms, 60000);
    assert_int_equal(c.exfil_bytes, 1ull << 30);
    assert_int_equal(c.brute_max_bytes, 20 * 1024);
    assert_true(c.beacon_external_only);

    static const char yaml[] = "ndr:\n"
                               "  internal: 10.0.0.0/8, 2001:db8::/32\n"
                               "  scan:\n"
                               "    vertical_ports: 50\n"
                               "    window: 2m\n"
                               "  exfil:\n"
                               "    bytes: 500m\n"
                               "  beacon:\n"
                               "    external_only: false\n";
    struct bn_diag d;
    assert_int_equal(bn_conf_load_yaml_mem(ndr_conf_defs, ndr_conf_ndefs, &c, yaml,
                                           sizeof(yaml) - 1, "sensor.yml", &d),
                     0);
    assert_int_equal(c.scan_vertical_ports, 50);
    assert_int_equal(c.scan_window_ms, 120000);
    assert_int_equal(c.exfil_bytes, 500ull << 20);
    assert_false(c.beacon_external_only);
    assert_int_equal(ndr_check_config(&c, NULL, 0), 0);
    struct ndr *n = ndr_new(&c);
    assert_non_null(n);
    ndr_free(n);

    /* Unknown keys and out-of-range values are errors with file:line. */
    static const char bad[] = "ndr:\n  scan:\n    vertical_prots: 50\n";
    assert_int_not_equal(bn_conf_load_yaml_mem(ndr_conf_defs, ndr_conf_ndefs, &c, bad,
                                               sizeof(bad) - 1, "sensor.yml", &d),
                         0);
    char msg[600];
    bn_diag_format(&d, msg, sizeof(msg));
    assert_non_null(strstr(msg, "sensor.yml:3"));
    static const char range[] = "ndr:\n  scan:\n    fail_percent: 101\n";
    assert_int_not_equal(bn_conf_load_yaml_mem(ndr_conf_defs, ndr_conf_ndefs, &c, range,
                                               sizeof(range) - 1, "sensor.yml", &d),
                         0);

    /* Lists are checked by ndr_check_config; ndr_new refuses them. */
    char err[200];
    bn_free(c.internal);
    c.internal = bn_strdup("10.0.0.0/8, 10.300.0.0/16");
    assert_int_equal(ndr_check_config(&c, err, sizeof(err)), BN_EINVAL);
    assert_string_equal(err, "ndr.internal: '10.300.0.0' is not an IPv4 or IPv6 address");
    assert_null(ndr_new(&c));
    bn_free(c.internal);
    c.internal = bn_strdup("10.0.0.0/33");
    assert_int_equal(ndr_check_config(&c, err, sizeof(err)), BN_EINVAL);
    assert_non_null(strstr(err, "at most 32"));
    bn_free(c.internal);
    c.internal = bn_strdup("192.168.0.0/16");
    bn_free(c.lateral_ports);
    c.lateral_ports = bn_strdup("445, 70000");
    assert_int_equal(ndr_check_config(&c, err, sizeof(err)), BN_EINVAL);
    assert_string_equal(err, "ndr.lateral.ports: port '70000' is not a number in 1..65535");
    ndr_config_release(&c);
}

/* A file of ndr.* keys, as `bannin pcap --ndr-config` would load it. */
static void
test_config_file(void **state)
{
    (void)state;
    char path[] = "/tmp/bn-ndr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("ndr:\n  exfil:\n    bytes: 100m\n  ignore_dst: 198.51.100.0/24\n", f);
    fclose(f);
    struct ndr_config c;
    struct bn_diag d;
    assert_int_equal(ndr_config_init(&c), 0);
    assert_int_equal(ndr_config_load(&c, path, &d), 0);
    assert_int_equal(c.exfil_bytes, 100ull << 20);
    assert_string_equal(c.ignore_dst, "198.51.100.0/24");
    f = fopen(path, "w");
    fputs("ndr:\n  ignore_dst: 198.51.100.0/24, nonsense\n", f);
    fclose(f);
    assert_int_equal(ndr_config_load(&c, path, &d), BN_EINVAL);
    char msg[600];
    bn_diag_format(&d, msg, sizeof(msg));
    assert_non_null(strstr(msg, "ndr.ignore_dst: 'nonsense' is not an IPv4 or IPv6 address"));
    assert_non_null(strstr(msg, path));
    unlink(path);
    ndr_config_release(&c);
}

/* Another component embeds struct ndr_config and merges the keys into its table. */
struct host_config {
    int64_t other;
    struct ndr_config ndr;
};

static void
test_defs_at(void **state)
{
    (void)state;
    struct bn_conf_def defs[128];
    defs[0] = (struct bn_conf_def){"capture.snaplen",
                                   BN_CONF_INT,
                                   "65535",
                                   64,
                                   262144,
                                   NULL,
                                   false,
                                   offsetof(struct host_config, other),
                                   "snap length"};
    size_t n = 1 + ndr_conf_defs_at(defs + 1, 127, offsetof(struct host_config, ndr));
    assert_int_equal(n, 1 + ndr_conf_ndefs);
    struct host_config h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(bn_conf_defaults(defs, n, &h), 0);
    assert_int_equal(h.other, 65535);
    assert_int_equal(h.ndr.sweep_icmp_hosts, 64);
    struct bn_diag d;
    assert_int_equal(bn_conf_set(defs, n, &h, "ndr.sweep.icmp_hosts", "200", &d), 0);
    assert_int_equal(h.ndr.sweep_icmp_hosts, 200);
    bn_conf_release(defs, n, &h);
}

static void
test_eve(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr atk = ng_ip("203.0.113.50"), tgt = ng_ip("192.168.1.10");
    for (unsigned p = 1; p <= 200; p++)
        ng_packet(&g, 1700000000 * NG_S + p * NG_MS, &atk, 5555, &tgt, (uint16_t)p, 6, NET_TCP_SYN,
                  0);
    assert_int_equal(g.n_alerts, 1);
    /* A detail with quotes and a control character still renders valid JSON. */
    struct net_alert a = g.alerts[0];
    struct bn_buf b;
    bn_buf_init(&b, 1 << 16);
    assert_int_equal(bn_buf_putc(&b, '{'), 0);
    assert_int_equal(net_alert_eve(&a, &b), 0);
    assert_int_equal(bn_buf_putc(&b, '}'), 0);
    json_error_t je;
    json_t *j = json_loads(b.p, 0, &je);
    assert_non_null(j);
    json_t *al = json_object_get(j, "alert");
    assert_non_null(al);
    assert_string_equal(json_string_value(json_object_get(al, "signature")),
                        "BANNIN NDR vertical port scan");
    assert_int_equal(json_integer_value(json_object_get(al, "signature_id")), 9100001);
    assert_int_equal(json_integer_value(json_object_get(al, "severity")), 3);
    assert_string_equal(json_string_value(json_object_get(al, "category")),
                        "Detection of a Network Scan");
    json_t *mt = json_object_get(json_object_get(al, "metadata"), "mitre_technique_id");
    assert_true(json_is_array(mt));
    assert_string_equal(json_string_value(json_array_get(mt, 0)), "T1046");
    assert_int_equal(json_integer_value(json_object_get(al, "count")), 1);
    assert_non_null(strstr(json_string_value(json_object_get(al, "detail")), "100 TCP ports"));
    json_decref(j);

    bn_buf_reset(&b);
    snprintf(a.detail, sizeof(a.detail), "say \"hi\"\n\x01 \xff");
    assert_int_equal(bn_buf_putc(&b, '{'), 0);
    assert_int_equal(net_alert_eve(&a, &b), 0);
    assert_int_equal(bn_buf_putc(&b, '}'), 0);
    j = json_loads(b.p, 0, &je);
    assert_non_null(j);
    json_decref(j);
    /* Too small a buffer: BN_ETOOBIG, not a cut line. */
    struct bn_buf small;
    bn_buf_init(&small, 40);
    assert_int_equal(net_alert_eve(&a, &small), BN_ETOOBIG);
    bn_buf_release(&small);
    bn_buf_release(&b);
    assert_null(ndr_sig_info(NDR_SIG__COUNT));
    assert_int_equal(ndr_sig_info(NDR_SIG_EXFIL)->sid, NDR_SID_BASE + NDR_SIG_EXFIL);
    ng_release(&g);
}

/* 100,000 scanning sources against tables bounded at 1,024 entries. */
static void
test_bounds(void **state)
{
    (void)state;
    struct ndr_config c;
    assert_int_equal(ndr_config_init(&c), 0);
    c.max_sources = 1024;
    c.scan_probes_max = 2048;
    struct netgen g;
    assert_int_equal(ng_init(&g, &c), 0);
    uint64_t t = 1700000000 * NG_S;
    for (unsigned i = 0; i < 100000; i++) {
        struct net_addr src = ng_ip4(100, 64 + (i >> 16), (i >> 8) & 255, i & 255);
        struct net_addr dst = ng_ip4(10, 0, (i >> 8) & 255, i & 255);
        ng_packet(&g, t + i * 10000, &src, 1234, &dst, (uint16_t)(1 + i % 1000), 6, NET_TCP_SYN, 0);
        ng_icmp_echo(&g, t + i * 10000 + 1, &src, &dst, false);
    }
    struct ndr_stats st;
    ndr_stats(g.d, &st);
    fprintf(stderr, "entries %llu, evictions %llu\n", (unsigned long long)st.entries,
            (unsigned long long)st.evictions);
    /* scan_probe 2048 + sweep_pair 2048 + scan_v, scan_h, sweep_src 1024 each. */
    assert_true(st.entries <= 2048 + 2048 + 3 * 1024 + 16);
    assert_true(st.evictions >= 5 * 90000);
    assert_int_equal(st.packets, 200000);
    assert_int_equal(ng_total(&g), 0);
    struct bn_buf b;
    bn_buf_init(&b, 1 << 16);
    assert_int_equal(ndr_stats_json(&st, &b), 0);
    json_error_t je;
    json_t *j = json_loads(b.p, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "packets")), 200000);
    assert_int_equal(json_integer_value(json_object_get(j, "evictions")), st.evictions);
    assert_non_null(json_object_get(json_object_get(j, "suppressed"), "ioc_ja4"));
    assert_non_null(json_object_get(json_object_get(j, "ignored"), "beacon"));
    json_decref(j);
    bn_buf_release(&b);
    ng_release(&g);
    ndr_config_release(&c);
}

/* Run a little of everything; every allocation failure must be survivable. */
static void
drive(struct netgen *g)
{
    uint64_t t = 1700000000 * NG_S;
    struct net_addr atk = ng_ip("203.0.113.50"), tgt = ng_ip("192.168.1.10");
    struct net_addr res = ng_ip("192.168.1.1");
    for (unsigned p = 1; p <= 120; p++)
        ng_packet(g, t + p * NG_MS, &atk, 5555, &tgt, (uint16_t)p, 6, NET_TCP_SYN, 0);
    for (unsigned h = 1; h <= 70; h++) {
        struct net_addr x = ng_ip4(192, 168, 1, h);
        ng_icmp_echo(g, t + NG_S + h * NG_MS, &atk, &x, false);
        ng_arp(g, t + NG_S + h * NG_MS, &tgt, &x, 1);
    }
    for (unsigned i = 0; i < 60; i++) {
        char name[96];
        snprintf(name, sizeof(name), "%016llx%016llx.t.example.com", (unsigned long long)ng_rand(g),
                 (unsigned long long)ng_rand(g));
        ng_dns(g, t + 2 * NG_S + i * NG_MS, &tgt, &res, name, 16, 3);
    }
    for (unsigned i = 0; i < 25; i++) {
        struct ng_conn c = {0};
        c.cli = tgt;
        c.srv = ng_ip4(192, 168, 2, 1 + i);
        c.cport = (uint16_t)(40000 + i);
        c.sport = i % 2 ? 445 : 22;
        c.start = t + 3 * NG_S + i * NG_S;
        c.dur = NG_S;
        c.up = 3000;
        c.down = 3000;
        ng_conn(g, &c);
    }
}

static void
test_oom(void **state)
{
    (void)state;
    struct netgen full;
    assert_int_equal(ng_init(&full, NULL), 0);
    drive(&full);
    uint64_t want = ng_total(&full);
    assert_true(want >= 5);
    ng_release(&full);
    for (unsigned long n = 1;; n++) {
        struct netgen g;
        bn_alloc_fail_after(n);
        int rc = ng_init(&g, NULL);
        if (rc == 0)
            drive(&g);
        bn_alloc_fail_after(0);
        bool done = rc == 0 && ng_total(&g) == want;
        if (rc == 0) {
            struct ndr_stats st;
            ndr_stats(g.d, &st);
            /* Whatever was lost to failed allocations is counted, never silent. */
            if (ng_total(&g) != want)
                assert_true(st.nomem > 0);
        }
        ng_release(&g);
        if (done)
            break;
        assert_true(n < 5000);
    }
}

static void
test_table(void **state)
{
    (void)state;
    uint8_t key[16] = {1, 2, 3};
    struct ndr_tab t;
    assert_int_equal(ndr_tab_init(&t, "t", sizeof(uint32_t), sizeof(uint64_t), 100, key), 0);
    for (uint32_t i = 0; i < 1000; i++) {
        bool created;
        uint64_t *v = ndr_tab_put(&t, &i, i, &created);
        assert_non_null(v);
        assert_true(created);
        *v = i * 10;
    }
    assert_int_equal(t.n, 100);
    assert_int_equal(t.evictions, 900);
    uint32_t k = 950;
    assert_int_equal(*(uint64_t *)ndr_tab_get(&t, &k), 9500);
    k = 899;
    assert_null(ndr_tab_get(&t, &k));
    /* Touching 900 makes it the youngest; expiring up to 950 keeps it. */
    k = 900;
    ndr_tab_touch(&t, ndr_tab_get(&t, &k), 2000);
    assert_int_equal(ndr_tab_expire(&t, 950), 49);
    assert_non_null(ndr_tab_get(&t, &k));
    assert_int_equal(t.n, 51);
    size_t seen = 0;
    for (void *v = ndr_tab_first(&t); v; v = ndr_tab_next(&t, v))
        seen++;
    assert_int_equal(seen, 51);
    assert_int_equal(*(const uint32_t *)ndr_tab_key(&t, ndr_tab_first(&t)), 950);
    ndr_tab_del(&t, ndr_tab_get(&t, &k));
    assert_null(ndr_tab_get(&t, &k));
    assert_int_equal(t.n, 50);
    ndr_tab_release(&t);

    struct ndr_distinct s;
    memset(&s, 0, sizeof(s));
    for (uint64_t i = 0; i < 100; i++)
        ndr_distinct_add(&s, i * 0x9e3779b97f4a7c15ull >> 7);
    double est = ndr_distinct_count(&s);
    assert_true(est > 85 && est < 115);
    ndr_free(NULL);
}

/* Open addressing with backward-shift deletion against a plain array: random puts, gets and
 * deletes over a key space larger than the table (no evictions: max is above the live count),
 * then the same with a small bound (evictions keep n at max, every live key still found). */
static void
test_table_model(void **state)
{
    (void)state;
    uint8_t key[16] = {9, 8, 7};
    enum { KEYS = 4096, OPS = 200000 };
    static uint32_t model[KEYS]; /* 0: absent, else value + 1 */
    memset(model, 0, sizeof(model));
    struct ndr_tab t;
    assert_int_equal(ndr_tab_init(&t, "m", sizeof(uint32_t), sizeof(uint32_t), KEYS, key), 0);
    uint64_t x = 0x243f6a8885a308d3ull;
    size_t live = 0;
    for (uint32_t op = 0; op < OPS; op++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t k = (uint32_t)(x >> 8) % KEYS;
        uint32_t *v = ndr_tab_get(&t, &k);
        assert_int_equal(v != NULL, model[k] != 0);
        if (v)
            assert_int_equal(*v + 1, model[k]);
        if ((x & 3) == 0 && v) {
            ndr_tab_del(&t, v);
            model[k] = 0;
            live--;
        } else {
            bool created;
            v = ndr_tab_put(&t, &k, op, &created);
            assert_non_null(v);
            assert_int_equal(created, model[k] == 0);
            live += created;
            *v = op;
            model[k] = op + 1;
        }
        assert_int_equal(t.n, live);
    }
    assert_int_equal(t.evictions, 0);
    assert_true(t.used <= KEYS);
    ndr_tab_release(&t);

    assert_int_equal(ndr_tab_init(&t, "e", sizeof(uint32_t), sizeof(uint32_t), 300, key), 0);
    for (uint32_t k = 0; k < 10000; k++) {
        uint32_t *v = ndr_tab_put(&t, &k, k, NULL);
        assert_non_null(v);
        *v = k;
        assert_true(t.n <= 300);
    }
    assert_int_equal(t.n, 300);
    assert_int_equal(t.evictions, 10000 - 300);
    size_t found = 0;
    for (uint32_t k = 0; k < 10000; k++) {
        uint32_t *v = ndr_tab_get(&t, &k);
        if (v) {
            assert_int_equal(*v, k);
            found++;
        }
    }
    assert_int_equal(found, 300);
    assert_true(t.used <= 300);
    ndr_tab_release(&t);
}

static void
test_benign_hour(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    ng_benign_hour(&g, 1700000000 * NG_S);
    for (size_t i = 0; i < g.n_alerts; i++)
        fprintf(stderr, "unexpected: %s: %s\n", g.alerts[i].signature, g.alerts[i].detail);
    assert_int_equal(ng_total(&g), 0);
    struct ndr_stats st;
    ndr_stats(g.d, &st);
    fprintf(stderr, "benign hour: %llu packets, %llu records, %llu entries\n",
            (unsigned long long)st.packets, (unsigned long long)st.records,
            (unsigned long long)st.entries);
    assert_true(st.packets > 100000);
    ndr_flush(g.d, &g.sink);
    ng_release(&g);
}

int
main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_defs_at),
        cmocka_unit_test(test_eve),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_model),
        cmocka_unit_test(test_benign_hour),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
