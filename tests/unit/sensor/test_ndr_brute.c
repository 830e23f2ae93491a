/*
 * test_ndr_brute.c - SSH and RDP brute force (ndr_brute.c): 50 failed SSH logins as 50
 * short connections, an RDP password spray against one server; benign: one long SSH
 * session, a dozen quick `ssh host cmd` runs, scp copies (short but large), refused
 * connections (the scanner's business).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netgen.h"

static void
short_conns(struct netgen *g, uint64_t t, const char *cli, const char *srv, uint16_t port,
            uint8_t app, unsigned n, uint64_t gap, uint64_t down, enum ng_answer ans)
{
    for (unsigned i = 0; i < n; i++) {
        struct ng_conn c = {0};
        c.cli = ng_ip(cli);
        c.srv = ng_ip(srv);
        c.cport = (uint16_t)(42000 + i);
        c.sport = port;
        c.app = app;
        c.answer = ans;
        c.start = t + i * gap;
        c.dur = ng_range(g, 2 * NG_S, 6 * NG_S);
        c.up = 1800 + ng_range(g, 0, 600);
        c.down = down;
        c.packets = true;
        ng_conn(g, &c);
    }
}

static void
test_ssh_brute(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    uint64_t t = 1700000000 * NG_S;
    short_conns(&g, t, "203.0.113.9", "192.168.1.22", 22, NET_APP_SSH, 50, 2 * NG_S, 3200, NG_OPEN);
    assert_int_equal(ng_count(&g, NDR_SIG_BRUTE_SSH), 1);
    assert_int_equal(ng_total(&g), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_BRUTE_SSH);
    assert_non_null(a);
    assert_true(ng_addr_eq(&a->src, &(struct net_addr){0}) == false);
    assert_int_equal(a->dport, 22);
    assert_true(a->has_dst);
    assert_non_null(strstr(a->detail, "20 short SSH connections to 192.168.1.22:22"));
    assert_string_equal(a->mitre, "T1110.001");
    ng_release(&g);
}

static void
test_rdp_brute(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    uint64_t t = 1700000000 * NG_S;
    /* Content not identified (app unknown): the port decides. */
    short_conns(&g, t, "198.51.100.4", "10.1.1.40", 3389, NET_APP_UNKNOWN, 30, 3 * NG_S, 9000,
                NG_OPEN);
    assert_int_equal(ng_count(&g, NDR_SIG_BRUTE_RDP), 1);
    assert_int_equal(ng_total(&g), 1);
    ng_release(&g);
}

static void
test_benign(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    uint64_t t = 1700000000 * NG_S;
    /* One interactive session. */
    struct ng_conn s = {0};
    s.cli = ng_ip("192.168.1.10");
    s.srv = ng_ip("10.0.0.5");
    s.cport = 50000;
    s.sport = 22;
    s.app = NET_APP_SSH;
    s.start = t;
    s.dur = 3600 * NG_S;
    s.up = 200000;
    s.down = 3000000;
    s.packets = true;
    ng_conn(&g, &s);
    /* A dozen quick commands (under the threshold). */
    short_conns(&g, t + 10 * NG_S, "192.168.1.10", "10.0.0.6", 22, NET_APP_SSH, 12, 10 * NG_S, 6000,
                NG_OPEN);
    /* 40 scp copies of 2 MB each: short but large. */
    short_conns(&g, t + 300 * NG_S, "192.168.1.10", "10.0.0.7", 22, NET_APP_SSH, 40, 5 * NG_S,
                2000000, NG_OPEN);
    /* 60 refused connections (a port closed): nothing established. */
    short_conns(&g, t + 600 * NG_S, "192.168.1.11", "10.0.0.8", 22, NET_APP_UNKNOWN, 60, NG_S, 0,
                NG_CLOSED);
    /* HTTP on port 22 is not SSH. */
    short_conns(&g, t + 900 * NG_S, "192.168.1.12", "10.0.0.9", 22, NET_APP_HTTP, 60, NG_S, 900,
                NG_OPEN);
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
}

/* Attempts spread wider than the window never add up. */
static void
test_slow_below_window(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    short_conns(&g, 1700000000 * NG_S, "203.0.113.9", "192.168.1.22", 22, NET_APP_SSH, 60,
                20 * NG_S, 3000, NG_OPEN);
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
}

int
main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssh_brute),
        cmocka_unit_test(test_rdp_brute),
        cmocka_unit_test(test_benign),
        cmocka_unit_test(test_slow_below_window),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
