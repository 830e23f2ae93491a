/*
 * test_http_connect.c - an accepted HTTP CONNECT is a protocol change, as Suricata reports
 * it (suricata-verify http-connect-tls, http-connect-fail): the flow keeps `http` as
 * app_proto_orig, the tunnel's first client bytes decide the new protocol (a TLS record
 * header makes it tls), and bytes the server sends before the client spoke decide nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"

#define S(s) s, sizeof(s) - 1

static struct at_run run;

static int
teardown(void **state)
{
    (void)state;
    at_done(&run);
    return 0;
}

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_connect_tls, teardown),
        cmocka_unit_test_teardown(test_connect_other, teardown),
        cmocka_unit_test_teardown(test_refused_connect_is_no_change, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
