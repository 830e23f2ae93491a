/*
 * test_notify.c - notification formats and delivery against real loopback peers: a webhook
 * HTTP server (generic JSON with HMAC signature and custom headers, Slack, Teams), its outage
 * (port closed, HTTP 503) reported as errors, an SMTP server accepting one mail, and syslog
 * receivers over UDP (RFC 5424) and TCP (CEF, octet-counted framing). The outbox worker's
 * outage-and-recovery test is in test_notify_outbox.c.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "notify_peers.h"

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "manager/notify.h"

static const int64_t T0 = 1764115200LL * 1000000000LL; /* 2025-11-26T00:00:00Z */

static void
incident(struct store_incident *inc)
{
    memset(inc, 0, sizeof(*inc));
    inc->id = 42;
    inc->tenant_id = 7;
    snprintf(inc->title, sizeof(inc->title), "Reverse shell | \"x\" = y ] on web-1\r\nBcc: evil");
    inc->severity = 3;
    inc->status = 0;
    snprintf(inc->tactics, sizeof(inc->tactics), "execution,command_and_control");
    inc->alert_count = 5;
    inc->first_ns = T0;
    inc->last_ns = T0 + 60000000000LL;
    inc->notified_severity = -1;
}

static char *
payload(void)
{
    struct store_incident inc;
    incident(&inc);
    struct bn_buf b;
    bn_buf_init(&b, 1 << 20);
    const char *hosts[] = {"web-1", "db-2"};
    assert_int_equal(notify_payload(&inc, "ACME Corp", hosts, 2, "https://soc/i/42", 0, &b), 0);
    return bn_buf_detach(&b);
}

static void
test_payload(void **state)
{
    (void)state;
    char *p = payload();
    json_error_t je;
    json_t *j = json_loads(p, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "incident");
    assert_string_equal(json_string_value(json_object_get(j, "tenant")), "ACME Corp");
    assert_int_equal(json_integer_value(json_object_get(j, "incident_id")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "severity")), "high");
    assert_int_equal(json_integer_value(json_object_get(j, "alert_count")), 5);
    assert_int_equal(json_array_size(json_object_get(j, "tactics")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "hosts"), 1)),
                        "db-2");
    assert_string_equal(json_string_value(json_object_get(j, "first_seen")),
                        "2025-11-26T00:00:00.000Z");
    json_decref(j);
    bn_free(p);
}

static void
test_formats(void **state)
{
    (void)state;
    char *p = payload();
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    struct notify_render_opts o = {.from = "soc@example.com", .to = "a@example.com",
                                   .facility = 16, .hostname = "mgr", .now_ns = T0};

    assert_int_equal(notify_render(NOTIFY_FMT_SLACK, p, &o, &out), 0);
    json_t *j = json_loads(out.p, 0, NULL);
    assert_non_null(j);
    assert_non_null(strstr(json_string_value(json_object_get(j, "text")), "[high] Incident 42"));
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "blocks"), 0),
                                          "type")),
        "header");
    json_decref(j);

    assert_int_equal(notify_render(NOTIFY_FMT_TEAMS, p, &o, &out), 0);
    j = json_loads(out.p, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "@type")), "MessageCard");
    assert_string_equal(json_string_value(json_object_get(j, "themeColor")), "E67E22");
    json_decref(j);

    assert_int_equal(notify_render(NOTIFY_FMT_EMAIL, p, &o, &out), 0);
    assert_non_null(strstr(out.p, "\r\nSubject: [Bannin] [high] Incident 42: Reverse shell"));
    assert_non_null(strstr(out.p, "Date: Wed, 26 Nov 2025 00:00:00 +0000\r\n"));
    /* the CR LF in the title cannot start a header */
    assert_null(strstr(out.p, "\r\nBcc:"));
    assert_non_null(strstr(out.p, "\r\n\r\n"));

    assert_int_equal(notify_render(NOTIFY_FMT_RFC5424, p, &o, &out), 0);
    /* local0 (16) * 8 + err (3) */
    assert_true(strncmp(out.p, "<131>1 2025-11-26T00:00:00.000Z mgr bannin ", 43) == 0);
    assert_non_null(strstr(out.p, "[bannin@32473 tenant=\"ACME Corp\" tenant_id=\"7\" "
                                  "incident_id=\"42\" severity=\"high\" alerts=\"5\""));
    assert_null(strchr(out.p, '\n'));

    assert_int_equal(notify_render(NOTIFY_FMT_CEF, p, &o, &out), 0);
    assert_non_null(strstr(out.p, "<131>Nov 26 00:00:00 mgr CEF:0|Bannin|Bannin MDR|1.0|"
                                  "incident|[high] Incident 42: Reverse shell \\| \"x\" = y ] "
                                  "on web-1  Bcc: evil|8|rt=1764115200000 "));
    assert_non_null(strstr(out.p, "msg=Reverse shell | \"x\" \\= y ] on web-1\\n\\nBcc: evil"));
    assert_non_null(strstr(out.p, " cs1Label=tenant cs1=ACME Corp "));

    assert_int_equal(notify_render(NOTIFY_FMT_SLACK, "not json", &o, &out), BN_EPARSE);
    assert_int_equal(notify_backoff_ns(1, 5, 1000), 5);
    assert_int_equal(notify_backoff_ns(3, 5, 1000), 20);
    assert_int_equal(notify_backoff_ns(40, 5, 1000), 1000);
    bn_buf_release(&out);
    bn_free(p);
}

static void
chan(struct store_channel *c, const char *type, const char *cfg)
{
    memset(c, 0, sizeof(*c));
    c->id = 1;
    c->tenant_id = 7;
    snprintf(c->name, sizeof(c->name), "test");
    snprintf(c->type, sizeof(c->type), "%s", type);
    c->config_json = cfg;
    c->enabled = 1;
}

/* "approval needed" and "objection window": the payload and how channels show it */
static void
test_approval(void **state)
{
    (void)state;
    struct store_incident inc;
    incident(&inc);
    struct notify_approval_item it[2] = {
        {12, "isolate", "web-1", NULL, STORE_ACT_PENDING_APPROVAL, 0},
        {13, "kill_tree", "web-1", "{\"pid\":4242}", STORE_ACT_PENDING_APPROVAL, 0},
    };
    struct bn_buf p, out;
    bn_buf_init(&p, 1 << 20);
    bn_buf_init(&out, 1 << 20);
    assert_int_equal(notify_approval_payload(NULL, &inc, "ACME Corp", it, 2, &p), 0);
    json_t *j = json_loads(p.p, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "approval_needed");
    assert_int_equal(json_integer_value(json_object_get(j, "incident_id")), 42);
    json_t *acts = json_object_get(j, "actions");
    assert_int_equal(json_array_size(acts), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(json_array_get(acts, 1), "params"),
                                           "pid")),
        4242);
    assert_string_equal(json_string_value(json_object_get(json_array_get(acts, 0), "approve")),
                        "POST /api/v1/actions/12/approve");
    assert_int_equal(json_array_size(json_object_get(j, "hosts")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "approvers"), "who")),
        "a customer_admin of ACME Corp or a provider_admin");
    json_decref(j);
    struct notify_render_opts o = {.from = "soc@example.com", .to = "a@example.com",
                                   .facility = 16, .hostname = "mgr", .now_ns = T0};
    assert_int_equal(notify_render(NOTIFY_FMT_SLACK, p.p, &o, &out), 0);
    assert_non_null(strstr(out.p, "[high] Approval needed - incident 42"));
    assert_non_null(strstr(out.p, "isolate #12 on web-1, kill_tree #13 on web-1"));
    bn_buf_reset(&out);
    assert_int_equal(notify_render(NOTIFY_FMT_EMAIL, p.p, &o, &out), 0);
    assert_non_null(strstr(out.p, "\r\nSubject: [Bannin] [high] Approval needed - incident 42"));
    assert_null(strstr(out.p, "\r\nBcc:")); /* the incident title's CR LF stays inside */

    it[0].state = it[1].state = STORE_ACT_PENDING_OBJECTION;
    it[0].run_at_ns = it[1].run_at_ns = T0 + 300000000000LL;
    assert_int_equal(notify_approval_payload(NULL, &inc, "ACME Corp", it, 2, &p), 0);
    j = json_loads(p.p, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "objection_window");
    acts = json_object_get(j, "actions");
    assert_string_equal(json_string_value(json_object_get(json_array_get(acts, 1), "object")),
                        "POST /api/v1/actions/13/reject");
    assert_string_equal(json_string_value(json_object_get(json_array_get(acts, 1), "runs_at")),
                        "2025-11-26T00:05:00.000Z");
    assert_non_null(strstr(json_string_value(json_object_get(j, "title")),
                           "runs unless someone objects"));
    json_decref(j);
    bn_buf_release(&p);
    bn_buf_release(&out);
}

static void
test_webhook(void **state)
{
    (void)state;
    struct http_peer h;
    assert_int_equal(http_peer_start(&h, 0, 200), 0);
    char *p = payload();
    char cfg[512], err[256];
    struct store_channel c;
    snprintf(cfg, sizeof(cfg),
             "{\"url\":\"http://127.0.0.1:%d/hook\",\"secret\":\"s3cret\","
             "\"headers\":{\"X-Tenant\":\"acme\",\"Bad\\r\\nHeader\":\"x\"}}", h.port);
    chan(&c, "webhook", cfg);
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), 0);

    snprintf(cfg, sizeof(cfg), "{\"url\":\"http://127.0.0.1:%d/slack\"}", h.port);
    chan(&c, "slack", cfg);
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), 0);
    snprintf(cfg, sizeof(cfg), "{\"url\":\"http://127.0.0.1:%d/t\",\"format\":\"teams\"}",
             h.port);
    chan(&c, "webhook", cfg);
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), 0);
    http_peer_stop(&h);

    assert_int_equal(h.nreq, 3);
    /* generic: the payload as is, signed */
    assert_true(strncmp(h.reqs[0].head, "POST /hook HTTP/1.1\r\n", 21) == 0);
    assert_string_equal(h.reqs[0].body, p);
    assert_non_null(strcasestr(h.reqs[0].head, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strcasestr(h.reqs[0].head, "\r\nX-Tenant: acme\r\n"));
    assert_null(strcasestr(h.reqs[0].head, "Header:"));
    unsigned char mac[32];
    unsigned ml = 0;
    HMAC(EVP_sha256(), "s3cret", 6, (unsigned char *)p, strlen(p), mac, &ml);
    char want[128] = "X-Bannin-Signature: sha256=";
    for (unsigned i = 0; i < ml; i++)
        snprintf(want + strlen(want), 3, "%02x", mac[i]);
    assert_non_null(strstr(h.reqs[0].head, want));
    /* slack and teams bodies */
    json_t *j = json_loads(h.reqs[1].body, 0, NULL);
    assert_non_null(json_object_get(j, "blocks"));
    json_decref(j);
    j = json_loads(h.reqs[2].body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "@type")), "MessageCard");
    json_decref(j);
    http_peer_free(&h);
    bn_free(p);
}

static void
test_webhook_failures(void **state)
{
    (void)state;
    char *p = payload();
    char cfg[256], err[256];
    struct store_channel c;
    /* a peer answering 503 */
    struct http_peer h;
    assert_int_equal(http_peer_start(&h, 0, 503), 0);
    snprintf(cfg, sizeof(cfg), "{\"url\":\"http://127.0.0.1:%d/x\"}", h.port);
    chan(&c, "webhook", cfg);
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), BN_EIO);
    assert_non_null(strstr(err, "HTTP 503"));
    int port = h.port;
    http_peer_stop(&h);
    http_peer_free(&h);
    /* nobody listening */
    snprintf(cfg, sizeof(cfg), "{\"url\":\"http://127.0.0.1:%d/x\"}", port);
    chan(&c, "webhook", cfg);
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), BN_EIO);
    assert_non_null(strstr(err, "POST http://127.0.0.1:"));
    /* configuration errors say what is wrong */
    chan(&c, "webhook", "{\"url\":\"ftp://x\"}");
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), BN_EINVAL);
    assert_non_null(strstr(err, "'url'"));
    chan(&c, "webhook", "[1]");
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), BN_EINVAL);
    chan(&c, "pager", "{}");
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), BN_EINVAL);
    assert_non_null(strstr(err, "unknown channel type"));
    chan(&c, "smtp", "{\"url\":\"smtp://127.0.0.1:1\"}");
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), BN_EINVAL);
    chan(&c, "syslog", "{\"host\":\"127.0.0.1\",\"protocol\":\"sctp\"}");
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), BN_EINVAL);
    bn_free(p);
}

static void
test_smtp(void **state)
{
    (void)state;
    struct smtp_peer s;
    assert_int_equal(smtp_peer_start(&s), 0);
    char *p = payload();
    char cfg[256], err[256];
    struct store_channel c;
    snprintf(cfg, sizeof(cfg),
             "{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"soc@example.com\","
             "\"to\":[\"a@example.com\",\"b@example.com\"]}", s.port);
    chan(&c, "smtp", cfg);
    int rc = notify_deliver(&c, p, T0, err, sizeof(err));
    smtp_peer_stop(&s);
    if (rc)
        fprintf(stderr, "smtp: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(s.done, 1);
    assert_string_equal(s.from, "<soc@example.com>");
    assert_int_equal(s.nrcpt, 2);
    assert_string_equal(s.rcpt[1], "<b@example.com>");
    assert_non_null(strstr(s.data, "Subject: [Bannin] [high] Incident 42: Reverse shell"));
    assert_non_null(strstr(s.data, "To: a@example.com, b@example.com\r\n"));
    assert_non_null(strstr(s.data, "Alerts:     5\r\n"));
    bn_free(p);
}

static void
test_syslog(void **state)
{
    (void)state;
    char *p = payload();
    char cfg[256], err[256], buf[8192];
    struct store_channel c;
    /* UDP, RFC 5424 */
    int u = peer_listen(SOCK_DGRAM, 0);
    assert_true(u >= 0);
    snprintf(cfg, sizeof(cfg), "{\"host\":\"127.0.0.1\",\"port\":%d,\"hostname\":\"mgr\"}",
             peer_port(u));
    chan(&c, "syslog", cfg);
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), 0);
    struct pollfd pf = {.fd = u, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 5000), 1);
    ssize_t n = recv(u, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_true(strncmp(buf, "<131>1 2025-11-26T00:00:00.000Z mgr bannin ", 43) == 0);
    assert_non_null(strstr(buf, " incident [bannin@32473 "));
    close(u);

    /* TCP, CEF, octet counting */
    int t = peer_listen(SOCK_STREAM, 0);
    assert_true(t >= 0);
    snprintf(cfg, sizeof(cfg),
             "{\"host\":\"127.0.0.1\",\"port\":%d,\"protocol\":\"tcp\",\"format\":\"cef\","
             "\"facility\":4}", peer_port(t));
    chan(&c, "syslog", cfg);
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), 0);
    int a = accept(t, NULL, NULL);
    assert_true(a >= 0);
    size_t have = 0;
    for (;;) {
        ssize_t r = peer_read(a, buf, sizeof(buf), have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    assert_true(have > 0);
    char *sp = strchr(buf, ' ');
    assert_non_null(sp);
    assert_int_equal(strtoul(buf, NULL, 10), have - (size_t)(sp + 1 - buf));
    /* auth (4) * 8 + err (3) */
    assert_true(strncmp(sp + 1, "<35>Nov 26 00:00:00 ", 20) == 0);
    assert_non_null(strstr(sp + 1, "CEF:0|Bannin|Bannin MDR|1.0|incident|"));
    close(a);
    /* the listener is gone: connection refused */
    int port = peer_port(t);
    close(t);
    snprintf(cfg, sizeof(cfg), "{\"host\":\"127.0.0.1\",\"port\":%d,\"protocol\":\"tcp\"}",
             port);
    chan(&c, "syslog", cfg);
    assert_int_equal(notify_deliver(&c, p, T0, err, sizeof(err)), BN_EIO);
    assert_non_null(strstr(err, "refused"));
    bn_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_approval),
        cmocka_unit_test(test_webhook),
        cmocka_unit_test(test_webhook_failures),
        cmocka_unit_test(test_smtp),
        cmocka_unit_test(test_syslog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
