/*
 * test_http_connect.c - an accepted HTTP CONNECT is a protocol change, as Suricata reports
 * it (suricata-verify http-connect-tls, http-connect-fail): the flow keeps `http` as
 * app_proto_orig, the tunnel's first client bytes decide the new protocol (a TLS record
 * header makes it tls), and bytes the server sends before the client spoke decide nothing;
 * eve's http.protocol, which is the request's; responses stay with their requests when
 * more are pipelined than the parser keeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"

#define S(s) s, sizeof(s) - 1

static void
connect_ok(void)
{
    at_open(&run, &net_app_http, IPPROTO_TCP, 8002);
    at_feed(&run, NET_TOSERVER, S("CONNECT abc:443 HTTP/1.1\r\nUser-Agent: V/1.0\r\n\r\n\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 200 OK\r\nServer: S/1.0\r\n\r\n\n"));
}

static void
test_connect_tls(void **state)
{
    (void)state;
    connect_ok();
    assert_int_equal(run.f.app_orig, NET_APP_HTTP);
    assert_int_equal(run.f.app, NET_APP_HTTP); /* the server's stray "\n" decided nothing */
    static const uint8_t rec[14] = {0x16, 0x03, 0x00};
    at_feed(&run, NET_TOSERVER, rec, sizeof(rec));
    assert_int_equal(run.f.app, NET_APP_TLS);
    assert_int_equal(run.f.app_orig, NET_APP_HTTP);
    assert_int_equal(run.sink.n, 1);
    assert_int_equal(at_int(run.sink.eve[0], "http.status"), 200);
}

static void
test_connect_other(void **state)
{
    (void)state;
    connect_ok();
    at_feed(&run, NET_TOCLIENT, S("\x05\x00\x00\x05\x00"));
    at_feed(&run, NET_TOSERVER, S("\x05\x00\x0b\x03"));
    assert_int_equal(run.f.app, NET_APP_HTTP);
    assert_int_equal(run.f.app_orig, NET_APP_HTTP);
}

static void
test_refused_connect_is_no_change(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 8002);
    at_feed(&run, NET_TOSERVER, S("CONNECT abc:443 HTTP/1.1\r\n\r\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"));
    assert_int_equal(run.f.app_orig, NET_APP_UNKNOWN);
}

/* eve's http.protocol is the request's (libhtp's request_protocol): a response that came
 * without its request has none (suricata-verify http-protocol-nodup counts on it). */
static void
test_response_only_has_no_protocol(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
    at_feed(&run, NET_TOSERVER, S("GET /a HTTP/1.0\r\n\r\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    at_close(&run);
    assert_int_equal(run.sink.n, 2);
    assert_false(at_has(run.sink.eve[0], "http.protocol"));
    assert_int_equal(at_int(run.sink.eve[0], "http.status"), 404);
    assert_string_equal(at_str(run.sink.eve[1], "http.protocol"), "HTTP/1.0");
}

/* More pipelined requests than NET_HTTP_PENDING_MAX: the oldest is reported alone and the
 * response that answers it does not shift onto the next request. */
static void
test_pipeline_overflow_keeps_pairs(void **state)
{
    (void)state;
    char req[64], resp[96];
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    for (int i = 0; i <= NET_HTTP_PENDING_MAX; i++) {
        int n = snprintf(req, sizeof(req), "GET /%d HTTP/1.1\r\n\r\n", i);
        at_feed(&run, NET_TOSERVER, req, (size_t)n);
    }
    assert_int_equal(run.sink.n, 1); /* /0 pushed out unanswered */
    for (int i = 0; i <= NET_HTTP_PENDING_MAX; i++) {
        int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", 200 + i);
        at_feed(&run, NET_TOCLIENT, resp, (size_t)n);
    }
    at_close(&run);
    assert_int_equal(run.sink.n, NET_HTTP_PENDING_MAX + 2);
    assert_string_equal(at_str(run.sink.eve[0], "http.url"), "/0");
    assert_false(at_has(run.sink.eve[0], "http.status"));
    assert_int_equal(at_int(run.sink.eve[1], "http.status"), 200); /* /0's answer, alone */
    assert_false(at_has(run.sink.eve[1], "http.url"));
    for (int i = 1; i <= NET_HTTP_PENDING_MAX; i++) {
        char u[16];
        snprintf(u, sizeof(u), "/%d", i);
        assert_string_equal(at_str(run.sink.eve[i + 1], "http.url"), u);
        assert_int_equal(at_int(run.sink.eve[i + 1], "http.status"), 200 + i);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_connect_tls, at_teardown),
        cmocka_unit_test_teardown(test_connect_other, at_teardown),
        cmocka_unit_test_teardown(test_refused_connect_is_no_change, at_teardown),
        cmocka_unit_test_teardown(test_response_only_has_no_protocol, at_teardown),
        cmocka_unit_test_teardown(test_pipeline_overflow_keeps_pairs, at_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
