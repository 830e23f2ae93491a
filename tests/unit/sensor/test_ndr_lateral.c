/*
 * test_ndr_lateral.c - new internal lateral fan-out (ndr_lateral.c): a host reaching 30
 * internal hosts over SMB, a mix of RDP, WinRM and SSH; benign: a backup to one internal
 * host, a workstation's daily file servers, a fan-out learnt during the learning period and
 * repeated later, connections that were never answered, outbound connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netgen.h"

static void
fan_out(struct netgen *g, uint64_t t, const char *cli, unsigned first, unsigned n,
        const uint16_t *ports, size_t nports, enum ng_answer ans)
{
    for (unsigned i = 0; i < n; i++) {
        struct ng_conn c = {0};
        c.cli = ng_ip(cli);
        c.srv = ng_ip4(192, 168, 2, first + i);
        c.cport = (uint16_t)(49000 + i);
        c.sport = ports[i % nports];
        c.answer = ans;
        c.start = t + i * 4 * NG_S;
        c.dur = 3 * NG_S;
        c.up = 5000;
        c.down = 7000;
        c.packets = true;
        ng_conn(g, &c);
    }
}

static void
test_smb_fan_out(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    static const uint16_t smb[] = {445};
    fan_out(&g, 1700000000 * NG_S, "192.168.1.50", 1, 30, smb, 1, NG_OPEN);
    assert_int_equal(ng_count(&g, NDR_SIG_LATERAL), 1);
    assert_int_equal(ng_total(&g), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_LATERAL);
    assert_non_null(strstr(a->detail, "20 internal servers newly reached"));
    assert_non_null(strstr(a->detail, "ports 445"));
    assert_string_equal(a->mitre, "T1021");
    ng_release(&g);
}

static void
test_mixed_ports(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    static const uint16_t mix[] = {3389, 5985, 22, 5986};
    fan_out(&g, 1700000000 * NG_S, "10.10.10.10", 100, 25, mix, 4, NG_OPEN);
    assert_int_equal(ng_count(&g, NDR_SIG_LATERAL), 1);
    assert_non_null(strstr(ng_find(&g, NDR_SIG_LATERAL)->detail, "ports 22,3389,5985,5986"));
    ng_release(&g);
}

static void
test_benign(void **state)
{
    (void)state;
    struct ndr_config cfg;
    assert_int_equal(ndr_config_init(&cfg), 0);
    cfg.lateral_learn_ms = 3600 * 1000;
    struct netgen g;
    assert_int_equal(ng_init(&g, &cfg), 0);
    uint64_t t = 1700000000 * NG_S;
    static const uint16_t smb[] = {445};
    /* Learning hour: an admin host touches 40 servers (a patch round). */
    fan_out(&g, t, "192.168.1.60", 1, 40, smb, 1, NG_OPEN);
    /* Next day, the same round: all known. */
    fan_out(&g, t + 86400 * NG_S, "192.168.1.60", 1, 40, smb, 1, NG_OPEN);
    /* A workstation mapping its 6 file servers every morning. */
    for (unsigned day = 0; day < 5; day++)
        fan_out(&g, t + day * 86400 * NG_S, "192.168.1.61", 200, 6, smb, 1, NG_OPEN);
    /* 50 connections never answered (a scan, for ndr_scan), outbound 445 to the internet. */
    fan_out(&g, t + 2 * 86400 * NG_S, "192.168.1.62", 1, 50, smb, 1, NG_FILTERED);
    for (unsigned i = 0; i < 30; i++) {
        struct ng_conn c = {0};
        c.cli = ng_ip("192.168.1.63");
        c.srv = ng_ip4(198, 51, 100, 1 + i);
        c.cport = (uint16_t)(50000 + i);
        c.sport = 22;
        c.start = t + 3 * 86400 * NG_S + i * NG_S;
        c.dur = NG_S;
        c.up = c.down = 3000;
        ng_conn(&g, &c);
    }
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
    ndr_config_release(&cfg);
}

int
main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smb_fan_out),
        cmocka_unit_test(test_mixed_ports),
        cmocka_unit_test(test_benign),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
