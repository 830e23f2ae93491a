/*
 * test_pipeline_udp.c - the whole packet path on hand-built Ethernet frames: a one-way UDP
 * flow whose datagrams no parser recognises ends with app_proto "failed" when no parser is
 * registered for its port (Suricata, suricata-verify dns/bug-1158: NetBIOS name service
 * broadcasts), stays without app_proto on a port with a parser (more datagrams may come),
 * a two-way unknown flow fails too; and app_proto_tc, the server side's own protocol when
 * it differs from the flow's (smtp-tls-protodetect, dcerpc-request-http-response).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/dlt.h>

#include "sensor/pipeline.h"

/* Ethernet + IPv4 + UDP frame from a:sp to b:dp carrying n bytes of pay. */
static size_t
frame(uint8_t *f, const char *a, uint16_t sp, const char *b, uint16_t dp, const void *pay, size_t n)
{
    memset(f, 0, 42);
    memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((28 + n) >> 8);
    ip[3] = (uint8_t)(28 + n);
    ip[8] = 64;
    ip[9] = 17;
    inet_pton(AF_INET, a, ip + 12);
    inet_pton(AF_INET, b, ip + 16);
    uint8_t *u = ip + 20;
    u[0] = (uint8_t)(sp >> 8);
    u[1] = (uint8_t)sp;
    u[2] = (uint8_t)(dp >> 8);
    u[3] = (uint8_t)dp;
    u[4] = (uint8_t)((8 + n) >> 8);
    u[5] = (uint8_t)(8 + n);
    memcpy(u + 8, pay, n);
    return 42 + n;
}

static char *
run(const char *const *srcs, const uint16_t *sps, const char *const *dsts, const uint16_t *dps,
    size_t npk)
{
    char *out = NULL;
    size_t outn = 0;
    FILE *fp = open_memstream(&out, &outn);
    assert_non_null(fp);
    struct net_pipeline_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    net_flow_cfg_default(&cfg.flow);
    cfg.eve = fp;
    struct net_pipeline *p;
    assert_int_equal(net_pipeline_new(&p, &cfg, DLT_EN10MB), 0);
    static const uint8_t junk[40] = {0x81, 0x22, 0x01, 0x10, 0x00, 0x01, 0x7f, 0x33, 0xfe};
    uint8_t f[128];
    for (size_t i = 0; i < npk; i++) {
        size_t n = frame(f, srcs[i], sps[i], dsts[i], dps[i], junk, sizeof(junk));
        net_pipeline_frame(p, f, (uint32_t)n, (uint32_t)n, (1700000000ull + i) * 1000000000ull);
    }
    net_pipeline_finish(p);
    net_pipeline_free(p);
    fclose(fp);
    return out;
}

static void
test_one_way_unknown_port(void **state)
{
    (void)state;
    const char *s[] = {"10.0.0.1", "10.0.0.1", "10.0.0.1"};
    const char *d[] = {"10.0.0.255", "10.0.0.255", "10.0.0.255"};
    const uint16_t sp[] = {137, 137, 137}, dp[] = {137, 137, 137};
    char *out = run(s, sp, d, dp, 3);
    assert_non_null(strstr(out, "\"event_type\":\"flow\""));
    assert_non_null(strstr(out, "\"app_proto\":\"failed\""));
    assert_non_null(strstr(out, "\"pkts_toserver\":3,\"pkts_toclient\":0"));
    free(out);
}

static void
test_one_way_parser_port(void **state)
{
    (void)state;
    const char *s[] = {"10.0.0.1"};
    const char *d[] = {"10.0.0.2"};
    const uint16_t sp[] = {40000}, dp[] = {53};
    char *out = run(s, sp, d, dp, 1);
    assert_non_null(strstr(out, "\"event_type\":\"flow\""));
    assert_null(strstr(out, "\"app_proto\""));
    free(out);
}

static void
test_two_way_unknown(void **state)
{
    (void)state;
    const char *s[] = {"10.0.0.1", "10.0.0.2"};
    const char *d[] = {"10.0.0.2", "10.0.0.1"};
    const uint16_t sp[] = {40000, 7777}, dp[] = {7777, 40000};
    char *out = run(s, sp, d, dp, 2);
    assert_non_null(strstr(out, "\"app_proto\":\"failed\""));
    assert_non_null(strstr(out, "\"pkts_toserver\":1,\"pkts_toclient\":1"));
    free(out);
}

/* Ethernet + IPv4 + TCP frame (20-byte header, flags, seq/ack) carrying n bytes. */
static size_t
tcp_frame(uint8_t *f, bool to_srv, uint8_t flags, uint32_t seq, uint32_t ack, const void *pay,
          size_t n)
{
    memset(f, 0, 54);
    memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((40 + n) >> 8);
    ip[3] = (uint8_t)(40 + n);
    ip[8] = 64;
    ip[9] = 6;
    inet_pton(AF_INET, to_srv ? "10.0.0.1" : "10.0.0.2", ip + 12);
    inet_pton(AF_INET, to_srv ? "10.0.0.2" : "10.0.0.1", ip + 16);
    uint8_t *t = ip + 20;
    uint16_t sp = to_srv ? 40000 : 465, dp = to_srv ? 465 : 40000;
    t[0] = (uint8_t)(sp >> 8);
    t[1] = (uint8_t)sp;
    t[2] = (uint8_t)(dp >> 8);
    t[3] = (uint8_t)dp;
    for (int i = 0; i < 4; i++) {
        t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    t[12] = 5 << 4;
    t[13] = flags;
    t[14] = 0xff;
    if (n)
        memcpy(t + 20, pay, n);
    return 54 + n;
}

/* A TLS hello from the client and an SMTP banner from the server (suricata-verify
 * smtp-tls-protodetect): app_proto tls, app_proto_tc smtp. */
static void
test_app_proto_tc(void **state)
{
    (void)state;
    char *out = NULL;
    size_t outn = 0;
    FILE *fp = open_memstream(&out, &outn);
    assert_non_null(fp);
    struct net_pipeline_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    net_flow_cfg_default(&cfg.flow);
    cfg.eve = fp;
    cfg.ips = true; /* bytes reach detection as they arrive */
    struct net_pipeline *p;
    assert_int_equal(net_pipeline_new(&p, &cfg, DLT_EN10MB), 0);
    static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00,
                                    0x00, 0x04, 0x03, 0x03, 0x00, 0x00};
    static const char banner[] = "220 mail.example.com ESMTP\r\n";
    uint8_t f[256];
    uint64_t ts = 1700000000ull * 1000000000ull;
    size_t n = tcp_frame(f, true, 0x02, 100, 0, NULL, 0);
    net_pipeline_frame(p, f, (uint32_t)n, (uint32_t)n, ts);
    n = tcp_frame(f, false, 0x12, 500, 101, NULL, 0);
    net_pipeline_frame(p, f, (uint32_t)n, (uint32_t)n, ts + 1000);
    n = tcp_frame(f, true, 0x10, 101, 501, NULL, 0);
    net_pipeline_frame(p, f, (uint32_t)n, (uint32_t)n, ts + 2000);
    n = tcp_frame(f, true, 0x18, 101, 501, hello, sizeof(hello));
    net_pipeline_frame(p, f, (uint32_t)n, (uint32_t)n, ts + 3000);
    n = tcp_frame(f, false, 0x18, 501, 101 + sizeof(hello), banner, sizeof(banner) - 1);
    net_pipeline_frame(p, f, (uint32_t)n, (uint32_t)n, ts + 4000);
    net_pipeline_finish(p);
    net_pipeline_free(p);
    fclose(fp);
    char *flow = strstr(out, "\"event_type\":\"flow\"");
    assert_non_null(flow);
    assert_non_null(strstr(flow, "\"app_proto\":\"tls\""));
    assert_non_null(strstr(flow, "\"app_proto_tc\":\"smtp\""));
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_way_unknown_port),
        cmocka_unit_test(test_one_way_parser_port),
        cmocka_unit_test(test_two_way_unknown),
        cmocka_unit_test(test_app_proto_tc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
