/*
 * test_ndr_ioc.c - IOC matches (ndr_ioc.c) with a set loaded from CSV the way the manager
 * ships it: a flow to a listed address and to a listed range, a DNS lookup of a listed
 * domain's subdomain, an HTTP host, a TLS SNI, JA3 and JA4; repeats fold into one alert per
 * source and indicator; benign traffic (the office hour) raises nothing with the set on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netgen.h"

#include "bannin/diag.h"
#include "bannin/ioc.h"

static const char csv[] = "type,value,source,comment\n"
                          "ip,198.51.100.66,feed-a,c2 server\n"
                          "cidr,203.0.113.128/25,feed-a,bulletproof hosting\n"
                          "domain,evil.example,feed-b,phishing kit\n"
                          "sni,c2.example.net,feed-b,\n"
                          "ja3,e35df3e00ca4ef31d42b34bebaa2f86e,feed-c,malware tls client\n"
                          "ja4,t13d190900_9dc949149365_97f8aa674fd9,feed-c,\n";

static struct bn_ioc_set *
load(void)
{
    struct bn_ioc_set *s = bn_ioc_set_new();
    struct bn_ioc_load_stats st;
    struct bn_diag d;
    memset(&st, 0, sizeof(st));
    assert_non_null(s);
    assert_int_equal(bn_ioc_load_csv(s, csv, sizeof(csv) - 1, "test.csv", NULL, &st, &d), 0);
    assert_int_equal(st.added, 6);
    return s;
}

static void
conn(struct netgen *g, uint64_t t, const char *cli, const char *srv, uint16_t port)
{
    struct ng_conn c = {0};
    c.cli = ng_ip(cli);
    c.srv = ng_ip(srv);
    c.cport = 50123;
    c.sport = port;
    c.start = t;
    c.dur = 2 * NG_S;
    c.up = 500;
    c.down = 900;
    ng_conn(g, &c);
}

static void
test_matches(void **state)
{
    (void)state;
    struct bn_ioc_set *set = load();
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    ndr_set_ioc(g.d, set);
    uint64_t t = 1700000000 * NG_S;
    struct net_addr cli = ng_ip("192.168.1.10"), res = ng_ip("192.168.1.1");
    conn(&g, t, "192.168.1.10", "198.51.100.66", 443);
    conn(&g, t + NG_S, "192.168.1.11", "203.0.113.200", 8080);
    ng_dns(&g, t + 2 * NG_S, &cli, &res, "login.evil.example", 1, 0);
    ng_tls(&g, t + 3 * NG_S, &cli, &(struct net_addr){4, {93, 184, 216, 34}}, "c2.example.net",
           NULL, NULL);
    ng_tls(&g, t + 4 * NG_S, &cli, &(struct net_addr){4, {93, 184, 216, 35}}, "www.example.org",
           "e35df3e00ca4ef31d42b34bebaa2f86e", "t13d190900_9dc949149365_97f8aa674fd9");
    assert_int_equal(ng_count(&g, NDR_SIG_IOC_IP), 2);
    assert_int_equal(ng_count(&g, NDR_SIG_IOC_DOMAIN), 1);
    assert_int_equal(ng_count(&g, NDR_SIG_IOC_SNI), 1);
    assert_int_equal(ng_count(&g, NDR_SIG_IOC_JA3), 1);
    assert_int_equal(ng_count(&g, NDR_SIG_IOC_JA4), 1);
    assert_int_equal(ng_total(&g), 6);
    const struct net_alert *a = ng_find(&g, NDR_SIG_IOC_IP);
    assert_non_null(strstr(a->detail, "198.51.100.66"));
    assert_non_null(strstr(a->detail, "feed-a"));
    assert_non_null(strstr(a->detail, "c2 server"));
    assert_int_equal(a->severity, 1);
    a = ng_find(&g, NDR_SIG_IOC_DOMAIN);
    assert_non_null(strstr(a->detail, "login.evil.example"));

    /* The same host reaching the same C2 a hundred more times: folded, counted. */
    for (unsigned i = 0; i < 100; i++)
        conn(&g, t + 10 * NG_S + i * NG_S, "192.168.1.10", "198.51.100.66", 443);
    assert_int_equal(ng_count(&g, NDR_SIG_IOC_IP), 2);
    struct ndr_stats st;
    ndr_stats(g.d, &st);
    assert_int_equal(st.suppressed[NDR_SIG_IOC_IP], 100);
    assert_true(st.ioc_lookups > 200);
    ng_release(&g);
    bn_ioc_set_free(set);
}

/* A DNS answer resolving to a listed address. */
static void
test_dns_answer(void **state)
{
    (void)state;
    struct bn_ioc_set *set = load();
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    ndr_set_ioc(g.d, set);
    struct net_flow f;
    memset(&f, 0, sizeof(f));
    f.cli = ng_ip("192.168.1.10");
    f.srv = ng_ip("192.168.1.1");
    f.cport = 40000;
    f.sport = 53;
    f.proto = 17;
    struct net_dns_rec *r = g.dns;
    memset(r, 0, sizeof(*r));
    r->is_response = 1;
    r->n_queries = 1;
    snprintf(r->queries[0].name, sizeof(r->queries[0].name), "updates.harmless.example");
    r->n_rrs = 2;
    r->rrs[0].section = NET_DNS_ANSWER;
    r->rrs[0].type = 1;
    snprintf(r->rrs[0].rdata, sizeof(r->rrs[0].rdata), "192.0.2.10");
    r->rrs[1].section = NET_DNS_ANSWER;
    r->rrs[1].type = 1;
    snprintf(r->rrs[1].rdata, sizeof(r->rrs[1].rdata), "203.0.113.140");
    struct net_record rec = {NET_REC_DNS, 1700000000 * NG_S, &f, 0, r};
    ndr_record(g.d, &rec, &g.sink);
    assert_int_equal(ng_count(&g, NDR_SIG_IOC_IP), 1);
    assert_int_equal(ng_total(&g), 1);
    assert_non_null(strstr(ng_find(&g, NDR_SIG_IOC_IP)->detail, "203.0.113.128/25"));
    ng_release(&g);
    bn_ioc_set_free(set);
}

static void
test_benign_with_set(void **state)
{
    (void)state;
    struct bn_ioc_set *set = load();
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    ndr_set_ioc(g.d, set);
    ng_benign_hour(&g, 1700000000 * NG_S);
    assert_int_equal(ng_total(&g), 0);
    /* Detached: listed traffic no longer matches. */
    ndr_set_ioc(g.d, NULL);
    conn(&g, 1700000000 * NG_S + 4000 * NG_S, "192.168.1.10", "198.51.100.66", 443);
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
    bn_ioc_set_free(set);
}

int
main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_dns_answer),
        cmocka_unit_test(test_benign_with_set),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
