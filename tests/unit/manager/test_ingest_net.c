/*
 * test_ingest_net.c - the network sensor's eve records rendered with Zeek names for central
 * detection (src/manager/ingest_net.c): each record type, a DNS response turned round, what
 * passes unchanged, the batch view detection gets, and records that are not eve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bannin/error.h"
#include "bannin/ioc.h"
#include "manager/detect.h"
#include "manager/ingest.h"
#include "manager/ingest_net.h"
#include "manager/triage.h"

static json_t *
render(const char *eve, size_t *oo, size_t *ol, struct bn_buf *b)
{
    bn_buf_reset(b);
    int rc = ingest_net_zeek(eve, strlen(eve), b, oo, ol);
    assert_int_equal(rc, 0);
    json_error_t e;
    json_t *o = json_loadb(b->p, b->len, 0, &e);
    if (!o)
        fail_msg("not JSON: %.*s (%s)", (int)b->len, b->p, e.text);
    return o;
}

static const char *
s_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static void
test_flow(void **state)
{
    (void)state;
    static const char eve[] =
        "{\"timestamp\":\"2016-08-07T12:59:40.138288+0000\",\"flow_id\":1,\"event_type\":\"flow\","
        "\"src_ip\":\"10.0.2.15\",\"src_port\":49762,\"dest_ip\":\"93.184.216.34\",\"dest_port\":"
        "80,\"proto\":\"TCP\",\"ip_v\":4,\"app_proto\":\"http\",\"flow\":{\"pkts_toserver\":8,"
        "\"pkts_toclient\":5,\"bytes_toserver\":828,\"bytes_toclient\":2276,\"start\":"
        "\"2016-08-07T12:59:39.148133+0000\",\"end\":\"2016-08-07T12:59:40.138288+0000\","
        "\"age\":1,\"state\":\"closed\",\"reason\":\"shutdown\",\"alerted\":false},"
        "\"community_id\":\"1:f2B2qNxyQFMGwa3nHO7FrFCPSrU=\"}";
    struct bn_buf b;
    size_t oo, ol;
    bn_buf_init(&b, 1 << 20);
    json_t *o = render(eve, &oo, &ol, &b);
    assert_string_equal(s_of(o, "_path"), "conn");
    assert_string_equal(s_of(o, "uid"), "1:f2B2qNxyQFMGwa3nHO7FrFCPSrU=");
    assert_string_equal(s_of(o, "community_id"), "1:f2B2qNxyQFMGwa3nHO7FrFCPSrU=");
    assert_string_equal(s_of(o, "id.orig_h"), "10.0.2.15");
    assert_string_equal(s_of(o, "id.resp_h"), "93.184.216.34");
    assert_int_equal(json_integer_value(json_object_get(o, "id.resp_p")), 80);
    assert_string_equal(s_of(o, "proto"), "tcp");
    assert_string_equal(s_of(o, "service"), "http");
    assert_int_equal(json_integer_value(json_object_get(o, "orig_pkts")), 8);
    assert_int_equal(json_integer_value(json_object_get(o, "resp_ip_bytes")), 2276);
    assert_true(json_real_value(json_object_get(o, "duration")) > 0.99);
    assert_true(json_real_value(json_object_get(o, "ts")) > 1470574780.0);
    assert_int_equal(ol, strlen("10.0.2.15"));
    assert_memory_equal(b.p + oo, "10.0.2.15", ol);
    json_decref(o);
    bn_buf_release(&b);
}

static void
test_dns_response_turned(void **state)
{
    (void)state;
    static const char eve[] =
        "{\"timestamp\":\"2013-03-19T18:06:36.798286+0000\",\"flow_id\":1,\"event_type\":\"dns\","
        "\"src_ip\":\"222.195.43.124\",\"src_port\":53,\"dest_ip\":\"55.247.223.174\","
        "\"dest_port\":27285,\"proto\":\"UDP\",\"dns\":{\"version\":3,\"type\":\"response\","
        "\"id\":21140,\"flags\":\"8410\",\"qr\":true,\"aa\":true,\"rcode\":\"NOERROR\","
        "\"queries\":[{\"rrname\":\"www.cmu.edu\",\"rrtype\":\"A\"}],\"answers\":[{\"rrname\":"
        "\"www.cmu.edu\",\"rrtype\":\"CNAME\",\"ttl\":86400,\"rdata\":\"www-cmu.andrew.cmu.edu\"},"
        "{\"rrname\":\"www-cmu.andrew.cmu.edu\",\"rrtype\":\"A\",\"ttl\":300,\"rdata\":"
        "\"128.2.10.163\"}]},\"community_id\":\"1:P8XAPPHi/de7Kftmay10tlguodI=\"}";
    struct bn_buf b;
    size_t oo, ol;
    bn_buf_init(&b, 1 << 20);
    json_t *o = render(eve, &oo, &ol, &b);
    assert_string_equal(s_of(o, "_path"), "dns");
    /* the originator is the client, though the response travelled from the server */
    assert_string_equal(s_of(o, "id.orig_h"), "55.247.223.174");
    assert_int_equal(json_integer_value(json_object_get(o, "id.orig_p")), 27285);
    assert_string_equal(s_of(o, "id.resp_h"), "222.195.43.124");
    assert_memory_equal(b.p + oo, "55.247.223.174", ol);
    assert_string_equal(s_of(o, "query"), "www.cmu.edu");
    assert_string_equal(s_of(o, "qtype_name"), "A");
    assert_string_equal(s_of(o, "rcode_name"), "NOERROR");
    assert_true(json_is_true(json_object_get(o, "AA")));
    assert_true(json_is_false(json_object_get(o, "RD")));
    assert_int_equal(json_integer_value(json_object_get(o, "Z")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "trans_id")), 21140);
    json_t *ans = json_object_get(o, "answers");
    assert_int_equal(json_array_size(ans), 2);
    assert_string_equal(json_string_value(json_array_get(ans, 1)), "128.2.10.163");
    assert_string_equal(s_of(o, "QueryResults"), "128.2.10.163");
    json_decref(o);
    bn_buf_release(&b);
}

static void
test_http_tls_ssh(void **state)
{
    (void)state;
    struct bn_buf b;
    size_t oo, ol;
    bn_buf_init(&b, 1 << 20);
    json_t *o = render(
        "{\"timestamp\":\"2016-08-07T12:59:40.138255+0000\",\"event_type\":\"http\",\"src_ip\":"
        "\"10.0.2.15\",\"src_port\":49762,\"dest_ip\":\"93.184.216.34\",\"dest_port\":80,"
        "\"proto\":\"TCP\",\"http\":{\"hostname\":\"www.example.net\",\"url\":\"/a\\\"b\","
        "\"http_user_agent\":\"curl/7.50.1\",\"http_content_type\":\"text/html\",\"http_method\":"
        "\"GET\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"length\":1270}}",
        &oo, &ol, &b);
    assert_string_equal(s_of(o, "_path"), "http");
    assert_string_equal(s_of(o, "method"), "GET");
    assert_string_equal(s_of(o, "host"), "www.example.net");
    assert_string_equal(s_of(o, "http.hostname"), "www.example.net");
    assert_string_equal(s_of(o, "uri"), "/a\"b");
    assert_string_equal(s_of(o, "user_agent"), "curl/7.50.1");
    assert_string_equal(s_of(o, "version"), "1.1");
    assert_int_equal(json_integer_value(json_object_get(o, "status_code")), 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "resp_mime_types"), 0)),
                        "text/html");
    json_decref(o);

    o = render("{\"timestamp\":\"2013-01-04T19:47:28.592113+0000\",\"event_type\":\"tls\","
               "\"src_ip\":\"10.0.0.80\",\"src_port\":56637,\"dest_ip\":\"68.233.76.12\","
               "\"dest_port\":443,\"proto\":\"TCP\",\"tls\":{\"subject\":\"CN=*.taleo.net\","
               "\"issuerdn\":\"CN=COMODO\",\"sni\":\"www.taleo.net\",\"version\":\"TLS 1.2\","
               "\"ja3\":{\"hash\":\"bd9c99b3a0f752c3ab8b052a79e9de3e\",\"string\":\"771\"},"
               "\"ja3s\":{\"hash\":\"4192c0a946c5bd9b544b4656d9f624a4\"},\"ja4\":"
               "\"t12d0910h1_b8b7f5f4e3e3_4a9d3e2f1c0b\"}}",
               &oo, &ol, &b);
    assert_string_equal(s_of(o, "_path"), "ssl");
    assert_string_equal(s_of(o, "server_name"), "www.taleo.net");
    assert_string_equal(s_of(o, "version"), "TLSv12");
    assert_string_equal(s_of(o, "issuer"), "CN=COMODO");
    assert_string_equal(s_of(o, "ja3"), "bd9c99b3a0f752c3ab8b052a79e9de3e");
    assert_string_equal(s_of(o, "ja3s"), "4192c0a946c5bd9b544b4656d9f624a4");
    assert_string_equal(s_of(o, "ja4"), "t12d0910h1_b8b7f5f4e3e3_4a9d3e2f1c0b");
    json_decref(o);

    o = render("{\"timestamp\":\"2014-12-29T16:23:16.127391+0000\",\"event_type\":\"ssh\","
               "\"src_ip\":\"192.168.2.1\",\"src_port\":57189,\"dest_ip\":\"192.168.2.158\","
               "\"dest_port\":22,\"proto\":\"TCP\",\"ssh\":{\"client\":{\"proto_version\":"
               "\"2.0\",\"software_version\":\"OpenSSH_6.2\",\"hassh\":{\"hash\":"
               "\"1f120ecfc2c57fbdeaf66b93a3bf26ee\"}},\"server\":{\"proto_version\":\"2.0\","
               "\"software_version\":\"OpenSSH_6.6\"}}}",
               &oo, &ol, &b);
    assert_string_equal(s_of(o, "_path"), "ssh");
    assert_string_equal(s_of(o, "client"), "SSH-2.0-OpenSSH_6.2");
    assert_string_equal(s_of(o, "server"), "SSH-2.0-OpenSSH_6.6");
    assert_string_equal(s_of(o, "hassh"), "1f120ecfc2c57fbdeaf66b93a3bf26ee");
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 2);
    json_decref(o);
    bn_buf_release(&b);
}

static void
test_declined_and_bad(void **state)
{
    (void)state;
    struct bn_buf b;
    bn_buf_init(&b, 1 << 20);
    static const char alert[] = "{\"timestamp\":\"2016-01-01T00:00:00.000000+0000\","
                                "\"event_type\":\"alert\",\"alert\":{\"signature_id\":1}}";
    assert_int_equal(ingest_net_zeek(alert, strlen(alert), &b, NULL, NULL), BN_DECLINED);
    static const char stats[] = "{\"timestamp\":\"x\",\"event_type\":\"stats\",\"stats\":{}}";
    assert_int_equal(ingest_net_zeek(stats, strlen(stats), &b, NULL, NULL), BN_DECLINED);
    assert_int_equal(ingest_net_zeek("{\"timestamp\":", 13, &b, NULL, NULL), BN_EPARSE);
    assert_int_equal(ingest_net_zeek("[1,2]", 5, &b, NULL, NULL), BN_EPARSE);
    assert_int_equal(ingest_net_zeek("{\"a\":1}", 7, &b, NULL, NULL), BN_EPARSE);
    assert_int_equal(b.len, 0);
    bn_buf_release(&b);
}

static void
test_batch_view(void **state)
{
    (void)state;
    struct ingest_net *n;
    assert_int_equal(ingest_net_new(&n), 0);
    static const char agent[] = "{\"EventID\":1,\"UtcTime\":\"2024-01-01 00:00:00.000\"}";
    static const char flow[] =
        "{\"timestamp\":\"2016-08-07T12:59:40.138288+0000\",\"event_type\":\"flow\",\"src_ip\":"
        "\"10.0.2.15\",\"src_port\":1,\"dest_ip\":\"10.0.2.16\",\"dest_port\":2,\"proto\":"
        "\"UDP\",\"flow\":{}}";
    static const char alert[] = "{\"timestamp\":\"2016-01-01T00:00:00.000000+0000\","
                                "\"event_type\":\"alert\",\"alert\":{\"signature_id\":1}}";
    struct store_event ev[3];
    memset(ev, 0, sizeof(ev));
    const char *js[3] = {agent, flow, alert};
    for (int i = 0; i < 3; i++) {
        ev[i].seq = i + 1;
        ev[i].agent_id = 7;
        ev[i].host = "sensor-1";
        ev[i].json = js[i];
        ev[i].json_len = strlen(js[i]);
    }
    /* agents only: the batch itself */
    assert_ptr_equal(ingest_net_for_detect(n, ev, 1), ev);
    const struct store_event *v = ingest_net_for_detect(n, ev, 3);
    assert_ptr_not_equal(v, ev);
    assert_ptr_equal(v[0].json, agent);
    assert_ptr_equal(v[2].json, alert);
    assert_int_equal(v[1].seq, 2);
    assert_int_equal(v[1].agent_id, 7);
    assert_string_equal(v[1].host, "10.0.2.15");
    assert_true(v[1].json_len > 0 && memcmp(v[1].json, "{\"_path\":\"conn\"", 15) == 0);
    assert_int_equal(strlen(v[1].json), v[1].json_len); /* NUL after each rendering */
    /* a second batch of two renderings: each its own object */
    struct store_event two[2] = {ev[1], ev[1]};
    v = ingest_net_for_detect(n, two, 2);
    for (int i = 0; i < 2; i++) {
        json_error_t je;
        json_t *o = json_loadb(v[i].json, v[i].json_len, 0, &je);
        assert_non_null(o);
        json_decref(o);
    }
    struct ingest_net_stats st;
    ingest_net_get_stats(n, &st);
    assert_int_equal(st.records, 4);
    assert_int_equal(st.rendered, 3);
    assert_int_equal(st.passed, 1);
    ingest_net_free(n);
}

/* ---- central detection on the rendering: a Zeek dns Sigma rule, IOC address and domain ---- */

struct got {
    char rule[8][64];
    char host[8][64];
    int n;
};

static int
on_alert(void *ctx, const struct triage_alert_in *a)
{
    struct got *g = ctx;
    if (g->n < 8) {
        snprintf(g->rule[g->n], sizeof(g->rule[0]), "%s", a->rule_id);
        snprintf(g->host[g->n], sizeof(g->host[0]), "%s", a->host ? a->host : "");
        g->n++;
    }
    return 0;
}

static int
has(const struct got *g, const char *rule, const char *host)
{
    int k = 0;
    for (int i = 0; i < g->n; i++)
        k += strcmp(g->rule[i], rule) == 0 && strcmp(g->host[i], host) == 0;
    return k;
}

static void
test_detection(void **state)
{
    (void)state;
    static const char rule[] = "title: test pool\n"
                               "id: 6d1b2c3a-0000-4000-8000-00000000b6e6\n"
                               "logsource:\n  product: zeek\n  service: dns\n"
                               "detection:\n  sel:\n    query|endswith: '.sigma-test.example'\n"
                               "  condition: sel\nlevel: high\n";
    struct detect_rules *rules;
    struct detect_load_stats ls;
    memset(&ls, 0, sizeof(ls));
    assert_int_equal(detect_rules_load_mem(&rules, rule, strlen(rule), "t.yml", &ls), 0);
    struct got g;
    memset(&g, 0, sizeof(g));
    struct detect *d;
    assert_int_equal(detect_new(&d, rules, on_alert, &g, NULL), 0);
    struct bn_ioc_set *set = bn_ioc_set_new();
    assert_non_null(set);
    static const char csv[] = "type,value\nip,198.51.100.77\ndomain,ioc-test.example\n";
    struct bn_ioc_load_stats is;
    struct bn_diag dg;
    memset(&is, 0, sizeof(is));
    assert_int_equal(bn_ioc_load_csv(set, csv, strlen(csv), "t.csv", "test", &is, &dg), 0);
    assert_int_equal(detect_set_iocs(d, 1, set), 0);
    assert_int_equal(is.added, 2);

    static const char *const eve[] = {
        "{\"timestamp\":\"2026-01-01T00:00:01.000000+0000\",\"event_type\":\"dns\",\"src_ip\":"
        "\"10.66.0.53\",\"src_port\":53,\"dest_ip\":\"10.66.0.5\",\"dest_port\":4000,\"proto\":"
        "\"UDP\",\"dns\":{\"version\":3,\"type\":\"response\",\"id\":1,\"flags\":\"8180\","
        "\"rcode\":\"NOERROR\",\"queries\":[{\"rrname\":\"pool.sigma-test.example\",\"rrtype\":"
        "\"A\"}],\"answers\":[{\"rrname\":\"pool.sigma-test.example\",\"rrtype\":\"A\",\"ttl\":60,"
        "\"rdata\":\"192.0.2.50\"}]}}",
        "{\"timestamp\":\"2026-01-01T00:00:02.000000+0000\",\"event_type\":\"dns\",\"src_ip\":"
        "\"10.66.0.7\",\"src_port\":4001,\"dest_ip\":\"10.66.0.53\",\"dest_port\":53,\"proto\":"
        "\"UDP\",\"dns\":{\"version\":3,\"type\":\"request\",\"id\":2,\"flags\":\"0100\","
        "\"rcode\":\"NOERROR\",\"queries\":[{\"rrname\":\"cdn.ioc-test.example\",\"rrtype\":"
        "\"A\"}]}}",
        "{\"timestamp\":\"2026-01-01T00:00:03.000000+0000\",\"event_type\":\"flow\",\"src_ip\":"
        "\"10.66.0.5\",\"src_port\":50123,\"dest_ip\":\"198.51.100.77\",\"dest_port\":80,"
        "\"proto\":\"TCP\",\"app_proto\":\"http\",\"flow\":{\"pkts_toserver\":6}}",
    };
    struct store_event ev[3];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 3; i++) {
        ev[i].tenant_id = 1;
        ev[i].agent_id = 9;
        ev[i].seq = i + 1;
        ev[i].host = "sensor-1";
        ev[i].json = eve[i];
        ev[i].json_len = strlen(eve[i]);
    }
    struct ingest_net *n;
    assert_int_equal(ingest_net_new(&n), 0);
    const struct store_event *v = ingest_net_for_detect(n, ev, 3);
    assert_int_equal(detect_batch(d, 1, v, 3, 1), 0);
    struct detect_stats ds;
    detect_get_stats(d, &ds);
    assert_int_equal(ds.events, 3);
    assert_int_equal(ds.unreadable, 0);
    assert_int_equal(has(&g, "6d1b2c3a-0000-4000-8000-00000000b6e6", "10.66.0.5"), 1);
    assert_int_equal(has(&g, "ioc.domain", "10.66.0.7"), 1);
    assert_int_equal(has(&g, "ioc.ip", "10.66.0.5"), 1);
    assert_int_equal(g.n, 3);
    ingest_net_free(n);
    detect_free(d);
    bn_ioc_set_free(set);
    detect_rules_free(rules);
}

/* ingest.c reads an eve record's time from "timestamp" (agents: UtcTime) */
static void
test_event_time(void **state)
{
    (void)state;
    static const char eve[] = "{\"timestamp\":\"2016-08-07T12:59:40.138288+0000\",\"event_type\":"
                              "\"flow\",\"src_ip\":\"10.0.2.15\"}";
    struct store_event e;
    char scratch[2048];
    memset(&e, 0, sizeof(e));
    assert_int_equal(ingest_event_fields(eve, strlen(eve), &e, scratch, sizeof(scratch)), 0);
    assert_int_equal(e.ts_ns, 1470574780138288000ll);
    assert_int_equal(e.event_id, 0);
    assert_null(e.host); /* the sensor's enrolled name is filled in by the ingest */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow),         cmocka_unit_test(test_dns_response_turned),
        cmocka_unit_test(test_http_tls_ssh), cmocka_unit_test(test_declined_and_bad),
        cmocka_unit_test(test_batch_view),   cmocka_unit_test(test_detection),
        cmocka_unit_test(test_event_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
