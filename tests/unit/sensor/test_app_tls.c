/*
 * test_app_tls.c - the TLS parser on hand-built handshakes: ClientHello with GREASE (JA3 and
 * JA4 against values from an independent implementation of both specifications),
 * ServerHello (JA3S, ALPN), a real certificate (subject, issuer, serial, SHA-1 fingerprint,
 * validity, subjectAltName, chain SHA-256 as printed by the openssl tool), record and
 * handshake fragmentation at every byte, eve and Zeek renderings, limits, hostile lengths,
 * garbage certificates and gaps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "unit/sensor/app_test.h"

#include "unit/sensor/tls_hello.h"

static const uint8_t server_hello[] = {
    0x02, 0x00, 0x00, 0x5c, 0x03, 0x03, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
    0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
    0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x20, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
    0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
    0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0xc0, 0x2f, 0x00, 0x00, 0x14, 0xff, 0x01, 0x00, 0x01,
    0x00, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, 0x68, 0x32,
};

static const uint8_t cert_der[] = {
    0x30, 0x82, 0x02, 0x47, 0x30, 0x82, 0x01, 0xed, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x14, 0x5a,
    0x33, 0xee, 0x4c, 0x44, 0x86, 0x2f, 0x36, 0xd6, 0xdc, 0x18, 0x67, 0x26, 0xdf, 0x41, 0x72, 0xf0,
    0x24, 0xe5, 0xc0, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30,
    0x62, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x46, 0x52, 0x31, 0x0c,
    0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x08, 0x0c, 0x03, 0x49, 0x44, 0x46, 0x31, 0x0e, 0x30, 0x0c,
    0x06, 0x03, 0x55, 0x04, 0x07, 0x0c, 0x05, 0x50, 0x61, 0x72, 0x69, 0x73, 0x31, 0x0f, 0x30, 0x0d,
    0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x06, 0x53, 0x74, 0x61, 0x6d, 0x75, 0x73, 0x31, 0x0e, 0x30,
    0x0c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x05, 0x53, 0x45, 0x4c, 0x4b, 0x53, 0x31, 0x14, 0x30,
    0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01, 0x16, 0x05, 0x61, 0x40,
    0x62, 0x2e, 0x63, 0x30, 0x1e, 0x17, 0x0d, 0x32, 0x36, 0x31, 0x31, 0x32, 0x36, 0x30, 0x30, 0x34,
    0x32, 0x32, 0x39, 0x5a, 0x17, 0x0d, 0x32, 0x37, 0x31, 0x31, 0x32, 0x36, 0x30, 0x30, 0x34, 0x32,
    0x32, 0x39, 0x5a, 0x30, 0x62, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02,
    0x46, 0x52, 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x08, 0x0c, 0x03, 0x49, 0x44, 0x46,
    0x31, 0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04, 0x07, 0x0c, 0x05, 0x50, 0x61, 0x72, 0x69, 0x73,
    0x31, 0x0f, 0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x06, 0x53, 0x74, 0x61, 0x6d, 0x75,
    0x73, 0x31, 0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x05, 0x53, 0x45, 0x4c, 0x4b,
    0x53, 0x31, 0x14, 0x30, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01,
    0x16, 0x05, 0x61, 0x40, 0x62, 0x2e, 0x63, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42,
    0x00, 0x04, 0xec, 0x67, 0x79, 0x80, 0xc9, 0x6c, 0xe1, 0xbf, 0x7a, 0x31, 0x0b, 0xfd, 0x4b, 0x36,
    0xe6, 0x5e, 0xfe, 0x7d, 0xbc, 0x9b, 0xd2, 0x10, 0xbf, 0x11, 0x0e, 0x88, 0x2c, 0x43, 0x1b, 0x76,
    0x49, 0xf7, 0x99, 0xde, 0x3a, 0x1d, 0x2d, 0xe0, 0x18, 0x51, 0xf5, 0x8f, 0xee, 0x2f, 0x52, 0x99,
    0x27, 0xec, 0x9c, 0xf2, 0x53, 0x16, 0xd3, 0xf0, 0xcf, 0x55, 0xf5, 0x25, 0x6a, 0x17, 0x06, 0x69,
    0x17, 0xbb, 0xa3, 0x81, 0x80, 0x30, 0x7e, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16,
    0x04, 0x14, 0xf9, 0x17, 0x5f, 0xba, 0xce, 0x9f, 0xd8, 0x6b, 0x0b, 0xe3, 0x1d, 0xc6, 0x9c, 0x31,
    0x48, 0x10, 0x9d, 0x6b, 0x95, 0x02, 0x30, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23, 0x04, 0x18, 0x30,
    0x16, 0x80, 0x14, 0xf9, 0x17, 0x5f, 0xba, 0xce, 0x9f, 0xd8, 0x6b, 0x0b, 0xe3, 0x1d, 0xc6, 0x9c,
    0x31, 0x48, 0x10, 0x9d, 0x6b, 0x95, 0x02, 0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01,
    0xff, 0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff, 0x30, 0x2b, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04,
    0x24, 0x30, 0x22, 0x82, 0x0d, 0x73, 0x65, 0x6c, 0x6b, 0x73, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70,
    0x6c, 0x65, 0x82, 0x11, 0x77, 0x77, 0x77, 0x2e, 0x73, 0x65, 0x6c, 0x6b, 0x73, 0x2e, 0x65, 0x78,
    0x61, 0x6d, 0x70, 0x6c, 0x65, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03,
    0x02, 0x03, 0x48, 0x00, 0x30, 0x45, 0x02, 0x21, 0x00, 0x80, 0x2e, 0x9a, 0xae, 0x4a, 0x9b, 0x9c,
    0xda, 0x03, 0xe3, 0x0c, 0xa1, 0x90, 0x78, 0xd6, 0x0d, 0x16, 0x83, 0xd1, 0x75, 0xc4, 0xd1, 0xd3,
    0x8d, 0x18, 0x6d, 0x86, 0xa9, 0x42, 0x6d, 0x4c, 0xdc, 0x02, 0x20, 0x2f, 0xd7, 0xf5, 0x6d, 0xdf,
    0xef, 0xf2, 0x6d, 0x37, 0xdb, 0x93, 0x2c, 0x01, 0xba, 0x00, 0x9d, 0xd1, 0x99, 0xb1, 0xd7, 0x86,
    0x4d, 0x82, 0xdc, 0x3a, 0xe7, 0xf7, 0x86, 0x46, 0x11, 0xd6, 0x7c,
};

#define JA3_STR                                                                                    \
    "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"            \
    "0-23-65281-10-11-35-16-5-13-18-51-45-43,29-23-24,0"
#define JA3_HASH  "fc2c7908e8da0d57385d66926b4b9e92"
#define JA4_STR   "t13d1513h2_8daaf6152771_1eb89897b454"
#define JA3S_STR  "771,49199,65281-11-16"
#define JA3S_HASH "1089ea6f0461a29006cc96dfe7a11d80"
static const uint8_t client_hello_plain[] = {
    0x01, 0x00, 0x00, 0xe0, 0x03, 0x03, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x20, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
    0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
    0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x00, 0x1e, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0,
    0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x13, 0xc0, 0x14, 0x00,
    0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35, 0x01, 0x00, 0x00, 0x79, 0x00, 0x17, 0x00, 0x00, 0xff,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
    0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x12, 0x00, 0x10, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05,
    0x03, 0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x33, 0x00,
    0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x2b, 0x00,
    0x03, 0x02, 0x03, 0x03,
};

#define JA4_PLAIN "t12i151100_8daaf6152771_1eb89897b454"
/* From `openssl x509 -noout -serial -fingerprint -sha1 -dates -subject` and sha256sum. */
#define CERT_SUBJECT   "C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS, Email=a@b.c"
#define CERT_SERIAL    "5A:33:EE:4C:44:86:2F:36:D6:DC:18:67:26:DF:41:72:F0:24:E5:C0"
#define CERT_SHA1      "b9:a8:59:6a:7c:8d:66:f4:67:36:d6:50:49:2e:90:39:4b:29:cb:40"
#define CERT_NOTBEFORE "2026-11-26T00:42:29"
#define CERT_NOTAFTER  "2027-11-26T00:42:29"
#define CERT_SHA256    "ffa52ec1cc7b89ca0285b1f2e34ddeebd52efae48ae72d61f5ab17b391ed0197"

/* The server's first flight: ServerHello, Certificate, ServerHelloDone in one record. */
static void
server_flight(struct at_bytes *s)
{
    struct at_bytes hs;
    hs.n = 0;
    at_put(&hs, server_hello, sizeof(server_hello));
    at_u8(&hs, 11);
    at_u24(&hs, (unsigned)sizeof(cert_der) + 6);
    at_u24(&hs, (unsigned)sizeof(cert_der) + 3);
    at_u24(&hs, (unsigned)sizeof(cert_der));
    at_put(&hs, cert_der, sizeof(cert_der));
    at_u8(&hs, 14);
    at_u24(&hs, 0);
    s->n = 0;
    at_tls_record(s, 22, hs.b, hs.n);
    static const uint8_t ccs = 1;
    at_tls_record(s, 20, &ccs, 1);
    static const uint8_t enc[40] = {0x99};
    at_tls_record(s, 22, enc, sizeof(enc)); /* encrypted Finished: opaque */
}

static void
feed_handshake(struct at_run *r, size_t step)
{
    struct at_bytes c, s, app;
    c.n = app.n = 0;
    at_tls_record(&c, 22, client_hello, sizeof(client_hello));
    server_flight(&s);
    static const uint8_t data[64] = {0x17};
    at_tls_record(&app, 23, data, sizeof(data));
    at_feed_steps(r, NET_TOSERVER, c.b, c.n, step);
    at_feed_steps(r, NET_TOCLIENT, s.b, s.n, step);
    at_feed_steps(r, NET_TOSERVER, app.b, app.n, step);
    at_feed_steps(r, NET_TOCLIENT, app.b, app.n, step);
}

static void
test_full_handshake(void **state)
{
    (void)state;
    at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
    feed_handshake(&run, 1u << 20);
    assert_int_equal(run.sink.n, 1);
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "tls.sni"), "www.example.com");
    assert_string_equal(at_str(e, "tls.version"), "TLS 1.2");
    assert_string_equal(at_str(e, "tls.ja3.string"), JA3_STR);
    assert_string_equal(at_str(e, "tls.ja3.hash"), JA3_HASH);
    assert_string_equal(at_str(e, "tls.ja3s.string"), JA3S_STR);
    assert_string_equal(at_str(e, "tls.ja3s.hash"), JA3S_HASH);
    assert_string_equal(at_str(e, "tls.ja4"), JA4_STR);
    assert_string_equal(at_str(e, "tls.client_alpns[0]"), "h2");
    assert_string_equal(at_str(e, "tls.client_alpns[1]"), "http/1.1");
    assert_string_equal(at_str(e, "tls.server_alpns[0]"), "h2");
    assert_string_equal(at_str(e, "tls.subject"), CERT_SUBJECT);
    assert_string_equal(at_str(e, "tls.issuerdn"), CERT_SUBJECT);
    assert_string_equal(at_str(e, "tls.serial"), CERT_SERIAL);
    assert_string_equal(at_str(e, "tls.fingerprint"), CERT_SHA1);
    assert_string_equal(at_str(e, "tls.notbefore"), CERT_NOTBEFORE);
    assert_string_equal(at_str(e, "tls.notafter"), CERT_NOTAFTER);
    assert_string_equal(at_str(e, "tls.subjectaltname[0]"), "selks.example");
    assert_string_equal(at_str(e, "tls.subjectaltname[1]"), "www.selks.example");
    assert_false(at_has(e, "tls.session_resumed"));

    const char *z = run.sink.zeek[0];
    assert_string_equal(at_str(z, "_path"), "ssl");
    assert_string_equal(at_str(z, "version"), "TLSv12");
    assert_string_equal(at_str(z, "cipher"), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    assert_string_equal(at_str(z, "server_name"), "www.example.com");
    assert_string_equal(at_str(z, "next_protocol"), "h2");
    assert_string_equal(at_str(z, "cert_chain_fps[0]"), CERT_SHA256);
    assert_string_equal(at_str(z, "subject"), CERT_SUBJECT);
    json_t *m = at_json_path(z, "sni_matches_cert"); /* www.example.com vs *selks.example */
    assert_true(json_is_false(m));
    json_decref(m);
    /* reported at ServerHelloDone, like Suricata: completion is not known yet */
    assert_false(at_has(z, "established"));

    /* the same bytes in 1-byte and 7-byte segments give the same record (and these runs take
     * the leaf certificate from the per-thread certificate cache: a hit must give the same
     * subject, issuer, serial, fingerprint, validity and names as the decode) */
    char *whole = strdup(e);
    for (size_t step = 1; step <= 7; step += 6) {
        struct at_run r2;
        at_open(&r2, &net_app_tls, IPPROTO_TCP, 443);
        feed_handshake(&r2, step);
        assert_int_equal(r2.sink.n, 1);
        assert_string_equal(r2.sink.eve[0], whole);
        at_done(&r2);
    }
    free(whole);
}

/* A ClientHello split over two records (handshake fragmentation), without SNI and ALPN. */
static void
test_fragmented_hello_client_only(void **state)
{
    (void)state;
    struct at_bytes c;
    c.n = 0;
    size_t half = sizeof(client_hello_plain) / 2;
    at_tls_record(&c, 22, client_hello_plain, half);
    at_tls_record(&c, 22, client_hello_plain + half, sizeof(client_hello_plain) - half);
    at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
    at_feed(&run, NET_TOSERVER, c.b, c.n);
    assert_int_equal(run.sink.n, 0);
    at_close(&run); /* no server answer: reported at flow end */
    assert_int_equal(run.sink.n, 1);
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "tls.ja4"), JA4_PLAIN);
    assert_string_equal(at_str(e, "tls.version"), "TLS 1.2"); /* the client's offer */
    assert_false(at_has(e, "tls.sni"));
    assert_false(at_has(e, "tls.ja3s"));
}

static void
test_probe(void **state)
{
    (void)state;
    struct at_bytes c;
    c.n = 0;
    at_tls_record(&c, 22, client_hello, sizeof(client_hello));
    assert_int_equal(app_tls_probe(c.b, c.n, NET_TOSERVER), 1);
    assert_int_equal(app_tls_probe(c.b, 3, NET_TOSERVER), -1);
    assert_int_equal(app_tls_probe(c.b, c.n, NET_TOCLIENT), 0); /* not a ServerHello */
    assert_int_equal(app_tls_probe((const uint8_t *)"GET /", 5, NET_TOSERVER), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, c.b, c.n, NET_TOSERVER), NET_APP_TLS);
}

/* Hostile lengths and garbage: counted, never a crash or an over-read. */
static void
test_hostile(void **state)
{
    (void)state;
    struct net_app_stats *st = net_app_stats();
    uint64_t mal = st->errors[NET_APP_TLS][NET_APP_ERR_MALFORMED];
    uint64_t lim = st->errors[NET_APP_TLS][NET_APP_ERR_LIMIT];
    uint64_t cert = st->errors[NET_APP_TLS][NET_APP_ERR_CERT];

    /* a record longer than TLS allows */
    static const uint8_t big[] = {22, 3, 3, 0xff, 0xff, 1, 0, 0, 0};
    at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
    at_feed(&run, NET_TOSERVER, big, sizeof(big));
    assert_int_equal(st->errors[NET_APP_TLS][NET_APP_ERR_MALFORMED], mal + 1);
    at_done(&run);

    /* a handshake message claiming 16 MB */
    static const uint8_t huge[] = {22, 3, 3, 0, 4, 1, 0xff, 0xff, 0xff};
    at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
    at_feed(&run, NET_TOSERVER, huge, sizeof(huge));
    assert_int_equal(st->errors[NET_APP_TLS][NET_APP_ERR_LIMIT], lim + 1);
    at_done(&run);

    /* a certificate that is not DER */
    struct at_bytes s, hs;
    hs.n = s.n = 0;
    at_put(&hs, server_hello, sizeof(server_hello));
    at_u8(&hs, 11);
    at_u24(&hs, 16);
    at_u24(&hs, 13);
    at_u24(&hs, 10);
    at_str_bytes(&hs, "not a cert");
    at_tls_record(&s, 22, hs.b, hs.n);
    at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
    at_feed(&run, NET_TOCLIENT, s.b, s.n);
    at_close(&run);
    assert_int_equal(st->errors[NET_APP_TLS][NET_APP_ERR_CERT], cert + 1);
    assert_int_equal(run.sink.n, 1);
    assert_false(at_has(run.sink.eve[0], "tls.subject"));
    at_done(&run);

    /* every prefix of the client's record, each in its own flow */
    struct at_bytes c;
    c.n = 0;
    at_tls_record(&c, 22, client_hello, sizeof(client_hello));
    for (size_t n = 0; n < c.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, c.b, n);
        at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
        at_feed(&run, NET_TOSERVER, copy, n);
        at_done(&run);
        free(copy);
    }
    /* a ClientHello whose inner lengths lie (every byte of the body set to 0xff in turn) */
    for (size_t i = 0; i < sizeof(client_hello); i++) {
        uint8_t m[sizeof(client_hello)];
        memcpy(m, client_hello, sizeof(m));
        m[i] = 0xff;
        struct at_bytes r;
        r.n = 0;
        at_tls_record(&r, 22, m, sizeof(m));
        at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
        at_feed(&run, NET_TOSERVER, r.b, r.n);
        at_done(&run);
    }
}

/* A gap stops parsing of that direction; what was seen is still reported. */
static void
test_gap(void **state)
{
    (void)state;
    struct at_bytes c;
    c.n = 0;
    at_tls_record(&c, 22, client_hello, sizeof(client_hello));
    uint64_t gaps = net_app_stats()->errors[NET_APP_TLS][NET_APP_ERR_GAP];
    at_open(&run, &net_app_tls, IPPROTO_TCP, 443);
    at_feed(&run, NET_TOSERVER, c.b, c.n);
    run.p->gap(run.st, &run.f, NET_TOCLIENT, 1000);
    at_feed(&run, NET_TOCLIENT, server_hello, sizeof(server_hello)); /* ignored */
    at_close(&run);
    assert_int_equal(net_app_stats()->errors[NET_APP_TLS][NET_APP_ERR_GAP], gaps + 1);
    assert_int_equal(run.sink.n, 1);
    assert_string_equal(at_str(run.sink.eve[0], "tls.sni"), "www.example.com");
    assert_false(at_has(run.sink.eve[0], "tls.ja3s"));
}

/* ---- QUIC: an Initial built here with the keys RFC 9001 appendix A.1 lists ---- */

static const uint8_t rfc_dcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
static const uint8_t rfc_key[16] = {0x1f, 0x36, 0x96, 0x13, 0xdd, 0x76, 0xd5, 0x46,
                                    0x77, 0x30, 0xef, 0xcb, 0xe3, 0xb1, 0xa2, 0x2d};
static const uint8_t rfc_iv[12] = {0xfa, 0x04, 0x4b, 0x2f, 0x42, 0xa3,
                                   0xfd, 0x3b, 0x46, 0xfb, 0x25, 0x5c};
static const uint8_t rfc_hp[16] = {0x9f, 0x50, 0x44, 0x9e, 0x04, 0xa0, 0xe8, 0x10,
                                   0x28, 0x3a, 0x1e, 0x99, 0x33, 0xad, 0xed, 0xd2};

static void
crypto_frame(struct at_bytes *m, size_t off, const uint8_t *d, size_t n)
{
    at_u8(m, 0x06);
    at_u16(m, 0x4000 | (unsigned)off); /* 2-byte varints */
    at_u16(m, 0x4000 | (unsigned)n);
    at_put(m, d, n);
}

/* A protected client Initial carrying the ClientHello in two CRYPTO frames, out of order. */
static size_t
quic_initial(uint8_t *out)
{
    struct at_bytes pl, pkt;
    pl.n = pkt.n = 0;
    size_t half = sizeof(client_hello) / 2;
    crypto_frame(&pl, half, client_hello + half, sizeof(client_hello) - half);
    crypto_frame(&pl, 0, client_hello, half);
    while (pl.n < 1170)
        at_u8(&pl, 0); /* PADDING up to the 1200-byte minimum */
    at_u8(&pkt, 0xc3); /* long header, Initial, 4-byte packet number */
    at_u32(&pkt, 1);
    at_u8(&pkt, sizeof(rfc_dcid));
    at_put(&pkt, rfc_dcid, sizeof(rfc_dcid));
    at_u8(&pkt, 0); /* no SCID */
    at_u8(&pkt, 0); /* no token */
    at_u16(&pkt, 0x4000 | (unsigned)(4 + pl.n + 16));
    size_t pn_off = pkt.n;
    at_u32(&pkt, 2); /* packet number 2 */
    uint8_t nonce[12];
    memcpy(nonce, rfc_iv, 12);
    nonce[11] ^= 2;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0;
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL), 1);
    assert_int_equal(EVP_EncryptInit_ex(c, NULL, NULL, rfc_key, nonce), 1);
    assert_int_equal(EVP_EncryptUpdate(c, NULL, &l, pkt.b, (int)pkt.n), 1);
    assert_int_equal(EVP_EncryptUpdate(c, pkt.b + pkt.n, &l, pl.b, (int)pl.n), 1);
    pkt.n += (size_t)l;
    assert_int_equal(EVP_EncryptFinal_ex(c, pkt.b + pkt.n, &l), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, pkt.b + pkt.n), 1);
    pkt.n += 16;
    EVP_CIPHER_CTX_free(c);
    /* header protection: AES-ECB of the sample 4 bytes after the packet number start */
    uint8_t mask[16];
    c = EVP_CIPHER_CTX_new();
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, rfc_hp, NULL), 1);
    EVP_CIPHER_CTX_set_padding(c, 0);
    assert_int_equal(EVP_EncryptUpdate(c, mask, &l, pkt.b + pn_off + 4, 16), 1);
    EVP_CIPHER_CTX_free(c);
    pkt.b[0] ^= mask[0] & 0x0f;
    for (int i = 0; i < 4; i++)
        pkt.b[pn_off + (size_t)i] ^= mask[1 + i];
    memcpy(out, pkt.b, pkt.n);
    return pkt.n;
}

static void
test_quic_initial(void **state)
{
    (void)state;
    static uint8_t dgram[2048];
    size_t n = quic_initial(dgram);
    assert_true(n >= 1200);
    assert_int_equal(app_quic_probe(dgram, NET_PROBE_MAX, NET_TOSERVER), 1);
    assert_int_equal(net_app_identify(IPPROTO_UDP, dgram, n, NET_TOSERVER), NET_APP_TLS);
    at_open(&run, &net_app_quic, IPPROTO_UDP, 443);
    at_feed(&run, NET_TOSERVER, dgram, n);
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "tls.sni"), "www.example.com");
    assert_string_equal(at_str(e, "tls.ja3.hash"), JA3_HASH);
    char ja4[64];
    snprintf(ja4, sizeof(ja4), "q%s", JA4_STR + 1);
    assert_string_equal(at_str(e, "tls.ja4"), ja4);
    at_done(&run);

    /* a flipped ciphertext byte: the tag check fails, counted, no hello */
    uint64_t mal = net_app_stats()->errors[NET_APP_TLS][NET_APP_ERR_MALFORMED];
    dgram[100] ^= 1;
    at_open(&run, &net_app_quic, IPPROTO_UDP, 443);
    at_feed(&run, NET_TOSERVER, dgram, n);
    at_close(&run);
    assert_int_equal(run.sink.n, 0);
    assert_true(net_app_stats()->errors[NET_APP_TLS][NET_APP_ERR_MALFORMED] > mal);
    /* every prefix of the datagram */
    for (size_t k = 0; k < n; k += 37) {
        at_done(&run);
        at_open(&run, &net_app_quic, IPPROTO_UDP, 443);
        at_feed(&run, NET_TOSERVER, dgram, k);
    }
}

/* A DTLS record of epoch 0 carrying one unfragmented handshake message. */
static void
dtls_record(struct at_bytes *m, const uint8_t *hs, size_t n, unsigned seq)
{
    at_u8(m, 22);
    at_u16(m, 0xfefd);
    at_u16(m, 0); /* epoch */
    at_u16(m, 0);
    at_u32(m, seq);
    at_u16(m, (unsigned)(n + 8)); /* TLS's 4-byte header becomes DTLS's 12 */
    at_u8(m, hs[0]);
    at_put(m, hs + 1, 3); /* length */
    at_u16(m, seq);       /* message_seq */
    at_u24(m, 0);         /* fragment_offset */
    at_put(m, hs + 1, 3); /* fragment_length = length */
    at_put(m, hs + 4, n - 4);
}

static void
test_dtls(void **state)
{
    (void)state;
    /* the ClientHello with an empty cookie after the session id */
    struct at_bytes ch, sh, c, s;
    ch.n = sh.n = c.n = s.n = 0;
    size_t sid_end = 4 + 2 + 32 + 1 + client_hello[4 + 2 + 32];
    at_put(&ch, client_hello, sid_end);
    at_u8(&ch, 0);
    at_put(&ch, client_hello + sid_end, sizeof(client_hello) - sid_end);
    at_patch24(&ch, 1, (unsigned)(ch.n - 4));
    at_put(&sh, server_hello, sizeof(server_hello));
    sh.b[4] = 0xfe; /* DTLS 1.2 */
    sh.b[5] = 0xfd;
    static const uint8_t done[4] = {14, 0, 0, 0};
    dtls_record(&c, ch.b, ch.n, 0);
    dtls_record(&s, sh.b, sh.n, 0);
    dtls_record(&s, done, sizeof(done), 1);
    assert_int_equal(app_dtls_probe(c.b, c.n, NET_TOSERVER), 1);
    assert_int_equal(app_dtls_probe(s.b, s.n, NET_TOCLIENT), 1);
    assert_int_equal(app_dtls_probe(c.b, c.n, NET_TOCLIENT), 0);
    assert_int_equal(net_app_identify(IPPROTO_UDP, c.b, c.n, NET_TOSERVER), NET_APP_TLS);
    at_open(&run, &net_app_dtls, IPPROTO_UDP, 4433);
    at_feed(&run, NET_TOSERVER, c.b, c.n);
    at_feed(&run, NET_TOCLIENT, s.b, s.n); /* ServerHelloDone: reported */
    assert_int_equal(run.sink.n, 1);
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "tls.sni"), "www.example.com");
    assert_string_equal(at_str(e, "tls.version"), "DTLS 1.2");
    char ja4[64];
    snprintf(ja4, sizeof(ja4), "d%s", JA4_STR + 1);
    assert_string_equal(at_str(e, "tls.ja4"), ja4);
    assert_string_equal(at_str(run.sink.zeek[0], "version"), "DTLSv12");
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    /* a record length past the datagram is counted */
    uint64_t mal = net_app_stats()->errors[NET_APP_TLS][NET_APP_ERR_MALFORMED];
    at_done(&run);
    at_open(&run, &net_app_dtls, IPPROTO_UDP, 4433);
    at_feed(&run, NET_TOSERVER, c.b, c.n - 1);
    assert_int_equal(net_app_stats()->errors[NET_APP_TLS][NET_APP_ERR_MALFORMED], mal + 1);
}

/* The N-th allocation fails, for every N: TLS over TCP and inside QUIC. No crash, no leak. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    static uint8_t dgram[2048];
    size_t dn = quic_initial(dgram);
    for (unsigned long n = 1; n < 40; n++) {
        struct at_run r;
        bn_alloc_fail_after(n);
        at_open(&r, &net_app_tls, IPPROTO_TCP, 443);
        feed_handshake(&r, 100);
        bn_alloc_fail_after(0);
        at_done(&r);
        bn_alloc_fail_after(n);
        at_open(&r, &net_app_quic, IPPROTO_UDP, 443);
        at_feed(&r, NET_TOSERVER, dgram, dn);
        bn_alloc_fail_after(0);
        at_done(&r);
    }
}

static bool
zeek_sni_match(const struct net_tls_rec *r)
{
    struct net_flow f;
    at_flow(&f, IPPROTO_TCP, "10.0.0.1", 1, "10.0.0.2", 443);
    struct bn_buf b;
    bn_buf_init(&b, 1 << 16);
    assert_int_equal(net_app_zeek(NET_REC_TLS, &f, 1, r, &b), 0);
    json_t *m = at_json_path(b.p, "sni_matches_cert");
    bool v = json_is_true(m);
    json_decref(m);
    bn_buf_release(&b);
    return v;
}

static void
test_sni_matches_cert(void **state)
{
    (void)state;
    struct net_tls_rec *r = calloc(1, sizeof(*r));
    r->has_cert = 1;
    r->n_san = 1;
    snprintf(r->san[0], sizeof(r->san[0]), "*.example.com");
    snprintf(r->sni, sizeof(r->sni), "www.Example.com");
    assert_true(zeek_sni_match(r));
    snprintf(r->sni, sizeof(r->sni), "a.b.example.com"); /* a wildcard is one label */
    assert_false(zeek_sni_match(r));
    r->n_san = 0;
    snprintf(r->cert.subject, sizeof(r->cert.subject), "C=US, CN=host.example");
    snprintf(r->sni, sizeof(r->sni), "HOST.example");
    assert_true(zeek_sni_match(r));
    free(r);
}

static void
test_names(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(net_tls_version_name(0x0301, b, sizeof(b)), "TLSv1");
    assert_string_equal(net_tls_version_name(0x0304, b, sizeof(b)), "TLS 1.3");
    assert_string_equal(net_tls_version_name(0x7f17, b, sizeof(b)), "TLS 1.3 draft-23");
    assert_string_equal(net_tls_version_name(0x7f0e, b, sizeof(b)), "TLS 1.3 draft-<16");
    assert_string_equal(net_tls_version_name(0, b, sizeof(b)), "UNDETERMINED");
    assert_string_equal(net_tls_cipher_name(0x1301, b, sizeof(b)), "TLS_AES_128_GCM_SHA256");
    assert_string_equal(net_tls_cipher_name(0x0a0a, b, sizeof(b)), "unknown-2570");
}

/* eve tls session-resumption: resumed sessions are logged unless it is turned off */
static void
test_eve_session_resumption(void **state)
{
    (void)state;
    struct net_tls_rec *r = calloc(1, sizeof(*r));
    struct bn_buf b;
    bn_buf_init(&b, 1u << 20);
    r->resumed = 1;
    r->version = 0x0303;
    assert_true(net_app_tls_session_resumption_on());
    assert_int_equal(net_app_eve(NET_REC_TLS, r, &b), 0);
    assert_non_null(strstr(b.p, "\"session_resumed\":true"));
    net_app_tls_session_resumption(false);
    bn_buf_reset(&b);
    assert_int_equal(net_app_eve(NET_REC_TLS, r, &b), BN_DECLINED);
    r->resumed = 0;
    assert_int_equal(net_app_eve(NET_REC_TLS, r, &b), 0); /* full handshakes still are */
    net_app_tls_session_resumption(true);
    bn_buf_release(&b);
    free(r);
}

/*
 * Feeds n bytes in pieces of at most step bytes the way the pipeline does once a parser
 * declares what it skips: the skippable prefix of each piece goes through skip (no content),
 * the rest through data. Logs the record count after each piece.
 */
static void
feed_skipping(struct at_run *r, enum net_dir dir, const uint8_t *d, size_t n, size_t step,
              size_t *skipped, size_t *log, size_t *nlog)
{
    while (n) {
        size_t k = n < step ? n : step, sk = r->p->skippable(r->st, dir);
        r->ts += 1000000;
        if (sk > k)
            sk = k;
        if (sk) {
            assert_true((r->p->skip)(r->st, &r->f, dir, sk, r->ts, &r->sink.base));
            *skipped += sk;
        }
        if (k > sk)
            r->p->data(r->st, &r->f, dir, d + sk, k - sk, r->ts, &r->sink.base);
        log[(*nlog)++] = r->sink.n;
        d += k;
        n -= k;
    }
}

/* Encrypted records' bodies taken by count give the same records at the same moment, the
 * same errors, as their bytes did (TLS 1.3 style: the record is emitted at the client's
 * first application data, and a heartbeat record later is still malformed). */
static void
test_skip_unread_records(void **state)
{
    (void)state;
    static uint8_t body[3000];
    struct at_bytes c, sv, c2, s2;
    c.n = sv.n = c2.n = s2.n = 0;
    at_tls_record(&c, 22, client_hello, sizeof(client_hello));
    at_tls_record(&sv, 22, server_hello, sizeof(server_hello));
    static const uint8_t ccs = 1;
    at_tls_record(&sv, 20, &ccs, 1);
    at_tls_record(&sv, 23, body, 1500);
    at_tls_record(&c2, 20, &ccs, 1);
    at_tls_record(&c2, 23, body, sizeof(body));
    at_tls_record(&c2, 23, body, 10);
    at_tls_record(&s2, 23, body, 2000);
    at_tls_record(&s2, 24, body, 700); /* heartbeat: not a type record() takes */
    at_tls_record(&s2, 23, body, 100);
    for (size_t step = 1; step <= 1500; step = step * 7 + 3) {
        struct at_run r[2];
        static size_t log[2][16384], log3[16384];
        size_t skipped[2] = {0, 0}, nlog[2] = {0, 0};
        uint64_t err[2];
        for (int k = 0; k < 2; k++) {
            struct net_app_stats *stt = net_app_stats();
            uint64_t e0 = stt->errors[NET_APP_TLS][NET_APP_ERR_MALFORMED];
            at_open(&r[k], &net_app_tls, IPPROTO_TCP, 443);
            if (k == 0) { /* every byte through data */
                at_feed_steps(&r[k], NET_TOSERVER, c.b, c.n, step);
                at_feed_steps(&r[k], NET_TOCLIENT, sv.b, sv.n, step);
                at_feed_steps(&r[k], NET_TOSERVER, c2.b, c2.n, step);
                at_feed_steps(&r[k], NET_TOCLIENT, s2.b, s2.n, step);
                nlog[k] = 0;
            } else {
                feed_skipping(&r[k], NET_TOSERVER, c.b, c.n, step, &skipped[k], log[k], &nlog[k]);
                feed_skipping(&r[k], NET_TOCLIENT, sv.b, sv.n, step, &skipped[k], log[k],
                              &nlog[k]);
                feed_skipping(&r[k], NET_TOSERVER, c2.b, c2.n, step, &skipped[k], log[k],
                              &nlog[k]);
                feed_skipping(&r[k], NET_TOCLIENT, s2.b, s2.n, step, &skipped[k], log[k],
                              &nlog[k]);
            }
            err[k] = stt->errors[NET_APP_TLS][NET_APP_ERR_MALFORMED] - e0;
        }
        /* the same record, emitted after the same piece */
        struct at_run r3;
        size_t nlog3 = 0;
        at_open(&r3, &net_app_tls, IPPROTO_TCP, 443);
        for (size_t i = 0; i < c.n; i += step) /* data only, logged like feed_skipping */
            at_feed(&r3, NET_TOSERVER, c.b + i, BN_MIN(step, c.n - i)), log3[nlog3++] = r3.sink.n;
        for (size_t i = 0; i < sv.n; i += step)
            at_feed(&r3, NET_TOCLIENT, sv.b + i, BN_MIN(step, sv.n - i)), log3[nlog3++] = r3.sink.n;
        for (size_t i = 0; i < c2.n; i += step)
            at_feed(&r3, NET_TOSERVER, c2.b + i, BN_MIN(step, c2.n - i)), log3[nlog3++] = r3.sink.n;
        for (size_t i = 0; i < s2.n; i += step)
            at_feed(&r3, NET_TOCLIENT, s2.b + i, BN_MIN(step, s2.n - i)), log3[nlog3++] = r3.sink.n;
        assert_int_equal(nlog3, nlog[1]);
        assert_memory_equal(log3, log[1], nlog3 * sizeof(log3[0]));
        assert_int_equal(r[0].sink.n, 1);
        assert_int_equal(r[1].sink.n, 1);
        assert_string_equal(r[0].sink.eve[0], r[1].sink.eve[0]);
        assert_string_equal(r[0].sink.zeek[0], r[1].sink.zeek[0]);
        assert_int_equal(err[0], 1); /* the heartbeat record */
        assert_int_equal(err[1], 1);
        if (step < 1500) /* most of the encrypted bytes went by count */
            assert_true(skipped[1] > 4000);
        /* dead after the heartbeat: everything is skippable */
        assert_int_equal(r[1].p->skippable(r[1].st, NET_TOCLIENT), SIZE_MAX);
        at_done(&r[0]);
        at_done(&r[1]);
        at_done(&r3);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_full_handshake, at_teardown),
        cmocka_unit_test_teardown(test_fragmented_hello_client_only, at_teardown),
        cmocka_unit_test(test_probe),
        cmocka_unit_test_teardown(test_hostile, at_teardown),
        cmocka_unit_test_teardown(test_gap, at_teardown),
        cmocka_unit_test_teardown(test_quic_initial, at_teardown),
        cmocka_unit_test_teardown(test_dtls, at_teardown),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_sni_matches_cert),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_eve_session_resumption),
        cmocka_unit_test(test_skip_unread_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
