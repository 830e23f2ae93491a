/*
 * test_ndr_exfil.c - unusually large outbound transfers (ndr_exfil.c): a 2 GB upload to an
 * external host, packet by packet; an external client pulling 1.5 GB from an internal
 * server; benign: a 20 GB backup to an internal host, a 3 GB download, a 1.2 GB two-way
 * sync, a 150 MB upload (below the threshold, then above a lowered one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "netgen.h"

static void
transfer(struct netgen *g, uint64_t t, const char *cli, const char *srv, uint16_t port, uint64_t up,
         uint64_t down, uint64_t dur, uint32_t mss)
{
    struct ng_conn c = {0};
    c.cli = ng_ip(cli);
    c.srv = ng_ip(srv);
    c.cport = 51515;
    c.sport = port;
    c.start = t;
    c.dur = dur;
    c.up = up;
    c.down = down;
    c.mss = mss;
    c.packets = true;
    ng_conn(g, &c);
}

static void
test_upload_2gb(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    /* 2 GB in 1448-byte segments over 20 minutes: ~1.5 million packets. */
    transfer(&g, 1700000000 * NG_S, "192.168.1.10", "198.51.100.20", 443, 2000000000ull,
             20000000ull, 1200 * NG_S, NG_MSS);
    assert_int_equal(ng_count(&g, NDR_SIG_EXFIL), 1);
    assert_int_equal(ng_total(&g), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_EXFIL);
    assert_non_null(a);
    assert_true(ng_addr_eq(&a->src, &(struct net_addr){4, {192, 168, 1, 10}}));
    assert_int_equal(a->dport, 443);
    assert_non_null(strstr(a->detail, "GB sent to external 198.51.100.20:443"));
    /* Fired while the upload ran (at 1 GiB), not when the flow ended. */
    assert_true(a->last_ns < 1700000000 * NG_S + 1000 * NG_S);
    fprintf(stderr, "%llu packets\n", (unsigned long long)g.packets);
    ng_release(&g);
}

static void
test_pulled_from_inside(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    /* An external client downloads 1.5 GB from an internal server: outbound all the same. */
    transfer(&g, 1700000000 * NG_S, "203.0.113.70", "10.0.0.80", 21, 100000, 1500000000ull,
             600 * NG_S, 9000);
    assert_int_equal(ng_count(&g, NDR_SIG_EXFIL), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_EXFIL);
    assert_non_null(a);
    assert_true(ng_addr_eq(&a->src, &(struct net_addr){4, {10, 0, 0, 80}}));
    ng_release(&g);
}

static void
test_benign(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    uint64_t t = 1700000000 * NG_S;
    transfer(&g, t, "192.168.1.20", "192.168.1.30", 445, 20ull << 30, 40ull << 20, 3000 * NG_S,
             65000);
    transfer(&g, t, "192.168.1.10", "151.101.1.1", 443, 30ull << 20, 3ull << 30, 1800 * NG_S, 9000);
    /* Two-way sync: 1.2 GB up, 600 MB down (ratio 2, not an upload). */
    transfer(&g, t, "192.168.1.11", "52.95.150.11", 443, 1200ull << 20, 600ull << 20, 1800 * NG_S,
             9000);
    transfer(&g, t, "192.168.1.12", "52.95.150.12", 443, 150ull << 20, 2ull << 20, 120 * NG_S,
             9000);
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);

    /* A site that wants to hear of anything over 100 MB. */
    struct ndr_config cfg;
    assert_int_equal(ndr_config_init(&cfg), 0);
    cfg.exfil_bytes = 100ull << 20;
    assert_int_equal(ng_init(&g, &cfg), 0);
    transfer(&g, t, "192.168.1.12", "52.95.150.12", 443, 150ull << 20, 2ull << 20, 120 * NG_S,
             9000);
    assert_int_equal(ng_count(&g, NDR_SIG_EXFIL), 1);
    ng_release(&g);
    ndr_config_release(&cfg);
}

/* The last bytes of an upload still gathered in the accumulator are counted at the end. */
static void
test_flush_at_end(void **state)
{
    (void)state;
    struct ndr_config cfg;
    assert_int_equal(ndr_config_init(&cfg), 0);
    cfg.exfil_bytes = 100ull << 20;
    struct netgen g;
    assert_int_equal(ng_init(&g, &cfg), 0);
    struct net_addr in = ng_ip("192.168.1.10"), out = ng_ip("198.51.100.20");
    uint64_t t = 1700000000 * NG_S;
    /* 100 MiB + 500 KB in 200 ms: no housekeeping pass, the tail stays in the slot. */
    uint64_t total = (100ull << 20) + 500000, sent = 0;
    for (unsigned i = 0; sent < total; i++) {
        uint32_t len = (uint32_t)BN_MIN((uint64_t)8960, total - sent);
        ng_packet(&g, t + i * 10000, &in, 50000, &out, 443, 6, NET_TCP_ACK, len);
        sent += len + 52; /* the detector counts IP bytes */
        if (sent >= total)
            break;
    }
    assert_int_equal(ng_count(&g, NDR_SIG_EXFIL), 0);
    ndr_flush(g.d, &g.sink);
    assert_int_equal(ng_count(&g, NDR_SIG_EXFIL), 1);
    ng_release(&g);
    ndr_config_release(&cfg);
}

int
main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_2gb),
        cmocka_unit_test(test_pulled_from_inside),
        cmocka_unit_test(test_benign),
        cmocka_unit_test(test_flush_at_end),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
