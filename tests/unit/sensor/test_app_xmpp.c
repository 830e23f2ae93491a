/*
 * test_app_xmpp.c - XMPP identification (app.c, Zeek's dpd_xmpp rule) and its STARTTLS: the
 * TLS that follows <proceed/> reaches the TLS parser, so the session gets its tls record and
 * Zeek ssl.log line (Zeek's xmpp/starttls and server-dialback baselines).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"
#include "sensor/app_ident.h"

#define S(s) (const uint8_t *)s, sizeof(s) - 1

#include "unit/sensor/tls_hello.h"

static void
test_probe(void **state)
{
    (void)state;
    assert_int_equal(
        app_probe_xmpp(S("<stream:stream xmlns='jabber:client' to='a'>"), NET_TOSERVER), 1);
    assert_int_equal(
        app_probe_xmpp(S("<?xml version='1.0'?>\n <stream:stream xmlns='jabber:server'>"),
                       NET_TOCLIENT),
        1);
    assert_int_equal(app_probe_xmpp(S("<?xml version='1.0'?><stre"), NET_TOSERVER), -1);
    assert_int_equal(app_probe_xmpp(S("<?xm"), NET_TOSERVER), -1);
    assert_int_equal(app_probe_xmpp(S("<?xml version='1.0'?><html>"), NET_TOSERVER), 0);
    assert_int_equal(app_probe_xmpp(S("GET / HTTP/1.1\r\n"), NET_TOSERVER), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, S("<stream:stream to='x'>"), NET_TOSERVER),
                     NET_APP_XMPP);
    assert_int_equal(net_app_port_hint(IPPROTO_TCP, 5222), NET_APP_XMPP);
    assert_int_equal(net_app_port_hint(IPPROTO_TCP, 5269), NET_APP_XMPP);
    assert_string_equal(net_app_name(NET_APP_XMPP), "xmpp");
}

static void
test_starttls(void **state)
{
    (void)state;
    const struct net_app_parser *p = net_app_parser_for(NET_APP_XMPP, IPPROTO_TCP);
    assert_non_null(p);
    at_open(&run, p, IPPROTO_TCP, 5222);
    at_feed(&run, NET_TOSERVER, S("<stream:stream xmlns='jabber:client' to='example.com'>"));
    at_feed(&run, NET_TOCLIENT, S("<?xml version='1.0'?><stream:stream id='1'>"));
    at_feed(&run, NET_TOCLIENT,
            S("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
              "</stream:features>"));
    at_feed(&run, NET_TOSERVER, S("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    at_feed(&run, NET_TOCLIENT, S("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    struct at_bytes m;
    m.n = 0;
    at_u8(&m, 0x16);
    at_u16(&m, 0x0301);
    at_u16(&m, (unsigned)sizeof(client_hello));
    at_put(&m, client_hello, sizeof(client_hello));
    at_feed(&run, NET_TOSERVER, m.b, m.n);
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    assert_int_equal(run.sink.type[0], NET_REC_TLS);
    assert_string_equal(at_str(run.sink.zeek[0], "server_name"), "www.example.com");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe),
        cmocka_unit_test_teardown(test_starttls, at_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
