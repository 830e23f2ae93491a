/*
 * test_ndr_beacon.c - beaconing (ndr_beacon.c): a 60 s beacon with 10% jitter over an hour,
 * a 5-minute beacon over two hours, a beacon with sleeps (missed check-ins), 20% jitter over
 * ten seeds; benign: a browser's bursty visits to one server (20 seeds), NTP, an internal
 * agent polling its server, an ignored destination.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "netgen.h"

/* n connections every period +- jitter (fraction, uniform) from cli to srv:port. */
static void
beacon(struct netgen *g, uint64_t t, const char *cli, const char *srv, uint16_t port, uint8_t proto,
       unsigned n, double period_s, double jitter)
{
    for (unsigned i = 0; i < n; i++) {
        double off = period_s * (double)i + period_s * jitter * (2 * ng_unit(g) - 1);
        struct ng_conn c = {0};
        c.cli = ng_ip(cli);
        c.srv = ng_ip(srv);
        c.cport = (uint16_t)(40000 + i);
        c.sport = port;
        c.proto = proto;
        c.start = t + (uint64_t)((off + period_s) * 1e9);
        c.dur = 300 * NG_MS;
        c.up = 400;
        c.down = 1200;
        c.packets = true;
        ng_conn(g, &c);
    }
}

static void
test_beacon_60s(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    beacon(&g, 1700000000 * NG_S, "192.168.1.10", "198.51.100.7", 443, 6, 60, 60, 0.10);
    assert_int_equal(ng_count(&g, NDR_SIG_BEACON), 1);
    assert_int_equal(ng_total(&g), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_BEACON);
    assert_non_null(a);
    assert_true(a->score >= 70);
    assert_int_equal(a->dport, 443);
    assert_non_null(strstr(a->detail, "to 198.51.100.7:443"));
    double period = 0;
    const char *p = strstr(a->detail, "period ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "period %lf", &period), 1);
    assert_true(period > 55 && period < 65);
    /* The hour's later connections are scored again but fold into the first alert. */
    struct ndr_stats st;
    ndr_stats(g.d, &st);
    assert_true(st.suppressed[NDR_SIG_BEACON] >= 1);
    ng_release(&g);
}

static void
test_beacon_5min_udp(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    beacon(&g, 1700000000 * NG_S, "10.2.3.4", "203.0.113.80", 8443, 17, 24, 300, 0.05);
    /* Two hours: one alert in each hour of de-duplication. */
    assert_int_equal(ng_count(&g, NDR_SIG_BEACON), 2);
    assert_int_equal(g.alerts[1].count, 1);
    assert_non_null(strstr(g.alerts[1].detail, "24 connections"));
    ng_release(&g);
}

/* +-20% jitter: caught in most runs (docs/SENSOR.md has the rates by jitter). */
static void
test_beacon_jitter20(void **state)
{
    (void)state;
    unsigned caught = 0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        struct netgen g;
        assert_int_equal(ng_init(&g, NULL), 0);
        ng_seed(&g, seed * 104729);
        beacon(&g, 1700000000 * NG_S, "192.168.1.10", "198.51.100.7", 443, 6, 60, 60, 0.20);
        caught += ng_count(&g, NDR_SIG_BEACON) > 0;
        assert_int_equal(ng_total(&g), ng_count(&g, NDR_SIG_BEACON));
        ng_release(&g);
    }
    fprintf(stderr, "20%% jitter beacons caught: %u of 10\n", caught);
    assert_true(caught >= 7);
}

/* Every fifth check-in missed (the implant slept): most intervals still match. */
static void
test_beacon_missed(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    uint64_t t = 1700000000 * NG_S;
    for (unsigned i = 0; i < 60; i++) {
        if (i % 5 == 4)
            continue;
        struct ng_conn c = {0};
        c.cli = ng_ip("192.168.1.10");
        c.srv = ng_ip("198.51.100.9");
        c.cport = (uint16_t)(40000 + i);
        c.sport = 80;
        c.start = t + (uint64_t)((120.0 * i + 8 * (2 * ng_unit(&g) - 1)) * 1e9) + 10 * NG_S;
        c.dur = NG_S;
        c.up = 300;
        c.down = 500;
        ng_conn(&g, &c);
    }
    /* Scored after 12 starts; again after 24 (folded: same hour) and 36 (next hour). */
    assert_int_equal(ng_count(&g, NDR_SIG_BEACON), 2);
    assert_int_equal(g.alerts[1].count, 2);
    ng_release(&g);
}

static void
test_benign(void **state)
{
    (void)state;
    uint64_t t = 1700000000 * NG_S;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct netgen g;
        assert_int_equal(ng_init(&g, NULL), 0);
        ng_seed(&g, seed * 7919);
        /* A user visiting one site now and then: bursts of connections, random gaps. */
        uint64_t s = t;
        for (unsigned visit = 0; visit < 25; visit++) {
            s += (uint64_t)(180.0 * NG_S * -log(1.0 - ng_unit(&g)));
            unsigned burst = (unsigned)ng_range(&g, 1, 6);
            for (unsigned i = 0; i < burst; i++) {
                struct ng_conn c = {0};
                c.cli = ng_ip("192.168.1.10");
                c.srv = ng_ip("151.101.1.140");
                c.cport = (uint16_t)(40000 + visit * 8 + i);
                c.sport = 443;
                c.start = s + ng_range(&g, 0, 2 * NG_S);
                c.dur = ng_range(&g, NG_S, 60 * NG_S);
                c.up = 2000;
                c.down = 80000;
                ng_conn(&g, &c);
            }
        }
        if (ng_total(&g) != 0)
            fprintf(stderr, "seed %lu: %s\n", (unsigned long)seed, g.alerts[0].detail);
        assert_int_equal(ng_total(&g), 0);
        ng_release(&g);
    }

    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    /* NTP every 64 s and an internal agent polling its manager every 60 s: expected. */
    beacon(&g, t, "192.168.1.10", "162.159.200.1", 123, 17, 60, 64, 0.0);
    beacon(&g, t, "192.168.1.10", "192.168.5.5", 8443, 6, 60, 60, 0.02);
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
}

/* A destination in ndr.ignore_dst (an update server of one's own) raises nothing, counted. */
static void
test_ignore_dst(void **state)
{
    (void)state;
    struct ndr_config cfg;
    assert_int_equal(ndr_config_init(&cfg), 0);
    bn_free(cfg.ignore_dst);
    cfg.ignore_dst = bn_strdup("198.51.100.0/28");
    struct netgen g;
    assert_int_equal(ng_init(&g, &cfg), 0);
    beacon(&g, 1700000000 * NG_S, "192.168.1.10", "198.51.100.7", 443, 6, 60, 60, 0.10);
    assert_int_equal(ng_total(&g), 0);
    struct ndr_stats st;
    ndr_stats(g.d, &st);
    assert_true(st.ignored[NDR_SIG_BEACON] >= 1);
    ng_release(&g);
    ndr_config_release(&cfg);
}

int
main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beacon_60s),
        cmocka_unit_test(test_beacon_5min_udp),
        cmocka_unit_test(test_beacon_missed),
        cmocka_unit_test(test_beacon_jitter20),
        cmocka_unit_test(test_benign),
        cmocka_unit_test(test_ignore_dst),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
