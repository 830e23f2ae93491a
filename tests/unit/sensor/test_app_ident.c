/*
 * test_app_ident.c - the identification-only probes added for Suricata's app_proto names
 * (DNP3, BitTorrent DHT, PostgreSQL, RFB, DCE/RPC, DHCP, IKE, IMAP, POP3, SIP, NTP): each
 * with bytes of the protocol (1), bytes of another (0) and a short start (-1 where the
 * probe waits); the registry through net_app_identify (probe order, IKE/NTP only through
 * the port hint, a bare QUIT left to the port), the names and the port hints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"
#include "sensor/app_ident.h"

#define S(lit) ((const uint8_t *)(lit)), (sizeof(lit) - 1)

/* A DNP3 link header with its CRC (computed here bit by bit, independently of app.c). */
static void
dnp3_frame(uint8_t h[10], uint8_t len, uint8_t ctrl)
{
    static const uint8_t base[8] = {0x05, 0x64, 0, 0, 0x04, 0x00, 0x03, 0x00};
    memcpy(h, base, 8);
    h[2] = len;
    h[3] = ctrl;
    uint16_t crc = 0;
    for (int i = 0; i < 8; i++)
        for (int b = 0; b < 8; b++) {
            int bit = ((h[i] >> b) & 1) ^ (crc & 1);
            crc >>= 1;
            if (bit)
                crc ^= 0xA6BC;
        }
    crc = (uint16_t)~crc;
    h[8] = (uint8_t)(crc & 0xff);
    h[9] = (uint8_t)(crc >> 8);
}

static void
test_dnp3(void **state)
{
    (void)state;
    uint8_t h[10];
    dnp3_frame(h, 5, 0xc9); /* request link status, the first frame of a master */
    assert_int_equal(app_probe_dnp3(h, 10, NET_TOSERVER), 1);
    assert_int_equal(app_probe_dnp3(h, 10, NET_TOCLIENT), 1);
    assert_int_equal(app_probe_dnp3(h, 6, NET_TOSERVER), -1);
    assert_int_equal(net_app_identify(IPPROTO_TCP, h, 10, NET_TOSERVER), NET_APP_DNP3);
    h[8] ^= 1; /* CRC broken */
    assert_int_equal(app_probe_dnp3(h, 10, NET_TOSERVER), 0);
    dnp3_frame(h, 4, 0xc9); /* length below the minimum */
    assert_int_equal(app_probe_dnp3(h, 10, NET_TOSERVER), 0);
    assert_int_equal(app_probe_dnp3(S("GET / HTTP/1.1\r\n"), NET_TOSERVER), 0);
}

static void
test_bt_dht(void **state)
{
    (void)state;
    assert_int_equal(app_probe_bt_dht(S("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"),
                                      NET_TOSERVER),
                     1);
    assert_int_equal(app_probe_bt_dht(S("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re"),
                                      NET_TOCLIENT),
                     1);
    assert_int_equal(net_app_identify(IPPROTO_UDP,
                                      S("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"),
                                      NET_TOSERVER),
                     NET_APP_BT_DHT);
    /* bencoded, but no KRPC message type; a torrent file's dictionary */
    assert_int_equal(app_probe_bt_dht(S("d1:ad2:id20:abcdefghij0123456789ee"), NET_TOSERVER), 0);
    assert_int_equal(app_probe_bt_dht(S("d8:announce3:urle"), NET_TOSERVER), 0);
    assert_int_equal(app_probe_bt_dht(S("d1:ad2:id20:abcdefghij0123456789e1:y1:q"), NET_TOSERVER),
                     0); /* not closed */
}

static void
test_pgsql(void **state)
{
    (void)state;
    /* StartupMessage: length 0x29, protocol 3.0, "user\0postgres\0database\0db\0\0" */
    static const uint8_t startup[] = {0, 0, 0, 0x29, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0};
    static const uint8_t sslreq[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
    static const uint8_t cancel[] = {0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t auth_md5[] = {'R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4};
    static const uint8_t auth_ok[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0};
    static const uint8_t bad_ver[] = {0, 0, 0, 0x29, 0, 2, 0, 0, 'u', 's', 'e', 'r', 0};
    static const uint8_t bad_auth[] = {'R', 0, 0, 0, 8, 0, 0, 0, 99};
    assert_int_equal(app_probe_pgsql(startup, sizeof(startup), NET_TOSERVER), 1);
    assert_int_equal(app_probe_pgsql(sslreq, sizeof(sslreq), NET_TOSERVER), 1);
    assert_int_equal(app_probe_pgsql(cancel, sizeof(cancel), NET_TOSERVER), 1);
    assert_int_equal(app_probe_pgsql(auth_md5, sizeof(auth_md5), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_pgsql(auth_ok, sizeof(auth_ok), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_pgsql(startup, 5, NET_TOSERVER), -1);
    assert_int_equal(app_probe_pgsql(bad_ver, sizeof(bad_ver), NET_TOSERVER), 0);
    assert_int_equal(app_probe_pgsql(bad_auth, sizeof(bad_auth), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_pgsql(S("RFB 003.008\n"), NET_TOCLIENT), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, startup, sizeof(startup), NET_TOSERVER),
                     NET_APP_PGSQL);
}

static void
test_rfb(void **state)
{
    (void)state;
    assert_int_equal(app_probe_rfb(S("RFB 003.008\n"), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_rfb(S("RFB 003.003\n"), NET_TOSERVER), 1);
    assert_int_equal(app_probe_rfb(S("RFB 00"), NET_TOCLIENT), -1);
    assert_int_equal(app_probe_rfb(S("RFB 003.008 "), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_rfb(S("RFB 0x3.008\n"), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_rfb(S("SSH-2.0-x\r\n"), NET_TOCLIENT), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, S("RFB 003.008\n"), NET_TOCLIENT), NET_APP_RFB);
}

static void
test_dcerpc(void **state)
{
    (void)state;
    /* bind: v5.0, type 11, flags 3, drep 10 00 00 00, frag 72, auth 0, call id 1 */
    static const uint8_t bind[16] = {5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0};
    static const uint8_t bind_be[16] = {5, 0, 11, 3, 0x00, 0, 0, 0, 0, 72, 0, 0, 0, 0, 0, 1};
    uint8_t bad[16];
    assert_int_equal(app_probe_dcerpc(bind, 16, NET_TOSERVER), 1);
    assert_int_equal(app_probe_dcerpc(bind_be, 16, NET_TOSERVER), 1);
    assert_int_equal(app_probe_dcerpc(bind, 8, NET_TOSERVER), -1);
    memcpy(bad, bind, 16);
    bad[1] = 2; /* minor version */
    assert_int_equal(app_probe_dcerpc(bad, 16, NET_TOSERVER), 0);
    memcpy(bad, bind, 16);
    bad[2] = 40; /* PDU type */
    assert_int_equal(app_probe_dcerpc(bad, 16, NET_TOSERVER), 0);
    memcpy(bad, bind, 16);
    bad[8] = 10; /* fragment shorter than the header */
    assert_int_equal(app_probe_dcerpc(bad, 16, NET_TOSERVER), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, bind, 16, NET_TOSERVER), NET_APP_DCERPC);
}

static void
test_dhcp(void **state)
{
    (void)state;
    uint8_t m[300] = {1, 1, 6, 0};
    m[236] = 99, m[237] = 130, m[238] = 83, m[239] = 99;
    m[240] = 53, m[241] = 1, m[242] = 1, m[243] = 255; /* DHCPDISCOVER */
    assert_int_equal(app_probe_dhcp(m, sizeof(m), NET_TOSERVER), 1);
    assert_int_equal(net_app_identify(IPPROTO_UDP, m, sizeof(m), NET_TOSERVER), NET_APP_DHCP);
    assert_int_equal(app_probe_dhcp(m, 239, NET_TOSERVER), 0); /* too short for the cookie */
    m[238] = 84;
    assert_int_equal(app_probe_dhcp(m, sizeof(m), NET_TOSERVER), 0);
    m[238] = 83;
    m[0] = 3; /* op */
    assert_int_equal(app_probe_dhcp(m, sizeof(m), NET_TOSERVER), 0);
}

static void
test_ike(void **state)
{
    (void)state;
    /* IKEv2 IKE_SA_INIT request: SPIi, SPIr 0, next payload SA (33), 2.0, type 34, len 28 */
    uint8_t h[32] = {0};
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)(0x11 * (i + 1));
    h[16] = 33, h[17] = 0x20, h[18] = 34, h[19] = 0x08, h[27] = 28;
    assert_int_equal(app_probe_ike(h, 28, NET_TOSERVER), 1);
    /* content alone is not enough: IKE is tried only for a flow on port 500/4500 */
    assert_int_equal(net_app_identify(IPPROTO_UDP, h, 28, NET_TOSERVER), NET_APP_UNKNOWN);
    assert_int_equal(net_app_port_hint(IPPROTO_UDP, 500), NET_APP_IKE);
    assert_int_equal(net_app_port_hint(IPPROTO_UDP, 4500), NET_APP_IKE);
    /* port 4500: behind the 4-byte non-ESP marker */
    uint8_t nat[32] = {0};
    memcpy(nat + 4, h, 28);
    assert_int_equal(app_probe_ike(nat, 32, NET_TOSERVER), 1);
    /* IKEv1 main mode (2), version 1.0 */
    h[16] = 1, h[17] = 0x10, h[18] = 2;
    assert_int_equal(app_probe_ike(h, 28, NET_TOSERVER), 1);
    assert_int_equal(app_probe_ike(h, 30, NET_TOSERVER), 0); /* length field disagrees */
    h[18] = 99;
    assert_int_equal(app_probe_ike(h, 28, NET_TOSERVER), 0); /* exchange type */
    h[18] = 2, h[17] = 0x30;
    assert_int_equal(app_probe_ike(h, 28, NET_TOSERVER), 0); /* major version 3 */
    memset(h, 0, 8), h[17] = 0x10;
    assert_int_equal(app_probe_ike(h, 28, NET_TOSERVER), 0); /* no initiator SPI */
}

static void
test_imap_pop3(void **state)
{
    (void)state;
    assert_int_equal(app_probe_imap(S("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"),
                                    NET_TOCLIENT),
                     1);
    assert_int_equal(app_probe_imap(S("* PREAUTH ready\r\n"), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_imap(S("* OK [CAPAB"), NET_TOCLIENT), -1);
    assert_int_equal(app_probe_imap(S("* NO go away\r\n"), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_imap(S("+OK POP3 ready\r\n"), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_imap(S("a001 CAPABILITY\r\n"), NET_TOSERVER), 1);
    assert_int_equal(app_probe_imap(S("A1 login bob secret\r\n"), NET_TOSERVER), 1);
    assert_int_equal(app_probe_imap(S("a001 FETCH 1 BODY[]\r\n"), NET_TOSERVER), 0);
    assert_int_equal(app_probe_imap(S("GET / HTTP/1.1\r\n"), NET_TOSERVER), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, S("* OK IMAP4 ready\r\n"), NET_TOCLIENT),
                     NET_APP_IMAP);

    assert_int_equal(app_probe_pop3(S("+OK POP3 server ready <1896.697170952@dbc.mtview>\r\n"),
                                    NET_TOCLIENT),
                     1);
    assert_int_equal(app_probe_pop3(S("+OK POP3"), NET_TOCLIENT), -1);
    assert_int_equal(app_probe_pop3(S("-ERR no\r\n"), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_pop3(S("CAPA\r\n"), NET_TOSERVER), 1);
    assert_int_equal(app_probe_pop3(S("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
                                    NET_TOSERVER),
                     1);
    assert_int_equal(app_probe_pop3(S("CAPABILITY\r\n"), NET_TOSERVER), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, S("+OK ready\r\n"), NET_TOCLIENT),
                     NET_APP_POP3);
}

static void
test_sip(void **state)
{
    (void)state;
    static const char invite[] = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
                                 "Via: SIP/2.0/UDP pc33.atlanta.example.com\r\n\r\n";
    assert_int_equal(app_probe_sip(S(invite), NET_TOSERVER), 1);
    assert_int_equal(app_probe_sip(S("REGISTER sips:registrar.example.com SIP/2.0\r\n"),
                                   NET_TOSERVER),
                     1);
    assert_int_equal(app_probe_sip(S("SIP/2.0 200 OK\r\n"), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_sip(S("INVITE sip:bob@bil"), NET_TOSERVER), -1);
    assert_int_equal(app_probe_sip(S("OPTIONS * HTTP/1.1\r\n"), NET_TOSERVER), 0);
    assert_int_equal(app_probe_sip(S("SIP/2.0 999 What\r\n"), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_sip(S("GET / HTTP/1.1\r\n"), NET_TOSERVER), 0);
    /* SIP over TCP is not taken for HTTP; HTTP's OPTIONS still is HTTP */
    assert_int_equal(net_app_identify(IPPROTO_TCP, S(invite), NET_TOSERVER), NET_APP_SIP);
    assert_int_equal(net_app_identify(IPPROTO_UDP, S(invite), NET_TOSERVER), NET_APP_SIP);
    assert_int_equal(net_app_identify(IPPROTO_TCP, S("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
                                      NET_TOSERVER),
                     NET_APP_HTTP);
}

static void
test_ntp(void **state)
{
    (void)state;
    uint8_t m[48] = {0x23}; /* LI 0, version 4, mode 3 (client) */
    assert_int_equal(app_probe_ntp(m, 48, NET_TOSERVER), 1);
    assert_int_equal(net_app_identify(IPPROTO_UDP, m, 48, NET_TOSERVER), NET_APP_UNKNOWN);
    assert_int_equal(net_app_port_hint(IPPROTO_UDP, 123), NET_APP_NTP);
    m[0] = 0x1c; /* version 3, mode 4 (server) */
    assert_int_equal(app_probe_ntp(m, 48, NET_TOCLIENT), 1);
    assert_int_equal(app_probe_ntp(m, 47, NET_TOCLIENT), 0);
    m[0] = 0x13; /* version 2 */
    assert_int_equal(app_probe_ntp(m, 48, NET_TOSERVER), 0);
    m[0] = 0x27; /* version 4, mode 7 (private) */
    assert_int_equal(app_probe_ntp(m, 48, NET_TOSERVER), 0);
}

/* A client's bare QUIT is SMTP's and FTP's: content refuses to choose, the port does. */
static void
test_quit_port_decides(void **state)
{
    (void)state;
    assert_int_equal(net_app_identify(IPPROTO_TCP, S("QUIT\r\n"), NET_TOSERVER), NET_APP_UNKNOWN);
    assert_int_equal(app_probe_smtp(S("QUIT\r\n"), NET_TOSERVER), 1);
    assert_int_equal(app_probe_ftp(S("QUIT\r\n"), NET_TOSERVER), 1);
    assert_int_equal(app_probe_smtp(S("QUI"), NET_TOSERVER), -1);
    assert_int_equal(app_probe_ftp(S("QUITS\r\n"), NET_TOSERVER), 0);
    assert_int_equal(net_app_port_hint(IPPROTO_TCP, 25), NET_APP_SMTP);
    assert_int_equal(net_app_port_hint(IPPROTO_TCP, 21), NET_APP_FTP);
    /* a later identification is not affected by the weak one */
    assert_int_equal(net_app_identify(IPPROTO_TCP, S("EHLO me\r\n"), NET_TOSERVER), NET_APP_SMTP);
}

static void
test_names(void **state)
{
    (void)state;
    static const struct {
        enum net_app app;
        const char *name;
    } want[] = {
        {NET_APP_DNP3, "dnp3"}, {NET_APP_BT_DHT, "bittorrent-dht"}, {NET_APP_PGSQL, "pgsql"},
        {NET_APP_RFB, "rfb"},   {NET_APP_DCERPC, "dcerpc"},         {NET_APP_DHCP, "dhcp"},
        {NET_APP_IKE, "ike"},   {NET_APP_IMAP, "imap"},             {NET_APP_POP3, "pop3"},
        {NET_APP_SIP, "sip"},   {NET_APP_NTP, "ntp"},               {NET_APP_FAILED, "failed"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_string_equal(net_app_name(want[i].app), want[i].name);
        if (want[i].app != NET_APP_FAILED)
            assert_non_null(net_app_parser_for(want[i].app, want[i].app == NET_APP_DHCP ||
                                                                    want[i].app == NET_APP_IKE ||
                                                                    want[i].app == NET_APP_NTP ||
                                                                    want[i].app == NET_APP_BT_DHT
                                                                ? IPPROTO_UDP
                                                                : IPPROTO_TCP));
    }
    /* every value below NET_APP__COUNT has a name of its own */
    for (int a = 0; a < NET_APP__COUNT; a++) {
        assert_non_null(net_app_name((enum net_app)a));
        for (int b = 0; b < a; b++)
            assert_string_not_equal(net_app_name((enum net_app)a), net_app_name((enum net_app)b));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dnp3),   cmocka_unit_test(test_bt_dht),
        cmocka_unit_test(test_pgsql),  cmocka_unit_test(test_rfb),
        cmocka_unit_test(test_dcerpc), cmocka_unit_test(test_dhcp),
        cmocka_unit_test(test_ike),    cmocka_unit_test(test_imap_pop3),
        cmocka_unit_test(test_sip),    cmocka_unit_test(test_ntp),
        cmocka_unit_test(test_quit_port_decides), cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
