/*
 * test_app_http2.c - HTTP/2 in the sensor: HPACK (RFC 7541 appendix C examples, Huffman,
 * dynamic table, encoding errors), frames over the HTTP parser (prior-knowledge preface and
 * h2c upgrade, CONTINUATION, padding, RST_STREAM, GOAWAY, every segmentation), the eve
 * records Suricata's http2 logger writes, limits (header block, frame size, open streams)
 * and HTTP/1 header lists (dump-all-headers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"
#include "sensor/app_http2.h"

static int
teardown(void **state)
{
    (void)state;
    at_done(&run);
    net_app_http_dump_headers(false);
    return 0;
}

/* hex text ("82 86 84") to bytes; returns the length */
static size_t
unhex(const char *h, uint8_t *out, size_t osz)
{
    size_t n = 0;
    while (*h && n < osz) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

static const char *
hname(const struct net_http_hdrs *l, uint32_t i, char *buf, size_t sz)
{
    snprintf(buf, sz, "%.*s", (int)l->h[i].name_len, l->bytes + l->h[i].name_off);
    return buf;
}

static const char *
hval(const struct net_http_hdrs *l, uint32_t i, char *buf, size_t sz)
{
    snprintf(buf, sz, "%.*s", (int)l->h[i].value_len, l->bytes + l->h[i].value_off);
    return buf;
}

static void
test_huffman(void **state)
{
    (void)state;
    uint8_t b[64];
    char out[64];
    size_t n = unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff", b, sizeof(b));
    long k = hpack_huffman_decode(b, n, out, sizeof(out));
    assert_int_equal(k, 15);
    assert_memory_equal(out, "www.example.com", 15);
    n = unhex("a8eb 1064 9cbf", b, sizeof(b));
    k = hpack_huffman_decode(b, n, out, sizeof(out));
    assert_int_equal(k, 8);
    assert_memory_equal(out, "no-cache", 8);
    n = unhex("25a8 49e9 5bb8 e8b4 bf", b, sizeof(b));
    k = hpack_huffman_decode(b, n, out, sizeof(out));
    assert_int_equal(k, 12);
    assert_memory_equal(out, "custom-value", 12);
    /* RFC 7541 C.6.1: a response with a date */
    n = unhex("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", b, sizeof(b));
    k = hpack_huffman_decode(b, n, out, sizeof(out));
    assert_int_equal(k, 29);
    assert_memory_equal(out, "Mon, 21 Oct 2013 20:13:21 GMT", 29);
    /* padding longer than 7 bits, padding not all ones, EOS inside, output too small */
    n = unhex("ffff", b, sizeof(b));
    assert_int_equal(hpack_huffman_decode(b, n, out, sizeof(out)), -1);
    n = unhex("f1e3 c2e5 f23a 6ba0 ab90 f4fe", b, sizeof(b));
    assert_int_equal(hpack_huffman_decode(b, n, out, sizeof(out)), -1);
    n = unhex("ffff fffc", b, sizeof(b)); /* 30 ones: EOS */
    assert_int_equal(hpack_huffman_decode(b, n, out, sizeof(out)), -1);
    n = unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff", b, sizeof(b));
    assert_int_equal(hpack_huffman_decode(b, n, out, 4), -1);
    assert_int_equal(hpack_huffman_decode(b, 0, out, sizeof(out)), 0);
}

/* RFC 7541 C.3 / C.4: three requests on one connection share the dynamic table. */
static void
check_rfc_requests(const char *const blocks[3])
{
    struct hpack hp;
    uint8_t b[128];
    char x[64], y[64];
    uint8_t trunc = 0;
    hpack_init(&hp);
    struct net_http_hdrs *l = calloc(1, sizeof(*l));
    size_t n = unhex(blocks[0], b, sizeof(b));
    assert_int_equal(hpack_decode(&hp, b, n, l, &trunc), 0);
    assert_int_equal(l->n, 4);
    assert_string_equal(hname(l, 3, x, sizeof(x)), ":authority");
    assert_string_equal(hval(l, 3, y, sizeof(y)), "www.example.com");
    assert_int_equal(hp.size, 57);
    memset(l, 0, sizeof(*l));
    n = unhex(blocks[1], b, sizeof(b));
    assert_int_equal(hpack_decode(&hp, b, n, l, &trunc), 0);
    assert_int_equal(l->n, 5);
    assert_string_equal(hval(l, 3, y, sizeof(y)), "www.example.com"); /* from the table */
    assert_string_equal(hname(l, 4, x, sizeof(x)), "cache-control");
    assert_string_equal(hval(l, 4, y, sizeof(y)), "no-cache");
    assert_int_equal(hp.size, 110);
    memset(l, 0, sizeof(*l));
    n = unhex(blocks[2], b, sizeof(b));
    assert_int_equal(hpack_decode(&hp, b, n, l, &trunc), 0);
    assert_int_equal(l->n, 5);
    assert_string_equal(hval(l, 1, y, sizeof(y)), "https");
    assert_string_equal(hval(l, 2, y, sizeof(y)), "/index.html");
    assert_string_equal(hval(l, 3, y, sizeof(y)), "www.example.com");
    assert_string_equal(hname(l, 4, x, sizeof(x)), "custom-key");
    assert_string_equal(hval(l, 4, y, sizeof(y)), "custom-value");
    assert_int_equal(hp.size, 164);
    assert_int_equal(hp.n, 3);
    assert_int_equal(trunc, 0);
    free(l);
    hpack_free(&hp);
}

static void
test_hpack_rfc(void **state)
{
    (void)state;
    static const char *const plain[3] = {
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    };
    static const char *const huff[3] = {
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    };
    check_rfc_requests(plain);
    check_rfc_requests(huff);
}

static void
test_hpack_errors_and_eviction(void **state)
{
    (void)state;
    struct hpack hp;
    uint8_t b[128];
    uint8_t trunc = 0;
    struct net_http_hdrs *l = calloc(1, sizeof(*l));
    hpack_init(&hp);
    /* index 0, an index past the tables, a string longer than the block, an integer that
     * never ends, a size update above our maximum */
    static const char *const bad[] = {"80", "be", "400a 6375 7374", "ff ff ff ff ff ff ff",
                                      "3f e1 ff 7f"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(bad); i++) {
        size_t n = unhex(bad[i], b, sizeof(b));
        assert_int_equal(hpack_decode(&hp, b, n, l, &trunc), BN_EPROTO);
    }
    /* a size update to 60 keeps one 57-byte entry: the second evicts the first */
    memset(l, 0, sizeof(*l));
    /* (:authority, 18 x 'a') is 60 bytes; (:authority, "b") 43 */
    size_t n =
        unhex("3f1d 4112 6161 6161 6161 6161 6161 6161 6161 6161 6161 4101 62", b, sizeof(b));
    assert_int_equal(hpack_decode(&hp, b, n, l, &trunc), 0);
    assert_int_equal(l->n, 3);
    assert_true(l->h[0].is_size_update);
    assert_int_equal(l->h[0].size_update, 60);
    assert_int_equal(hp.n, 1);
    assert_int_equal(hp.size, 10 + 1 + 32);
    /* an entry larger than the table empties it */
    n = unhex("3f01", b, sizeof(b)); /* size 32 */
    assert_int_equal(hpack_decode(&hp, b, n, l, &trunc), 0);
    assert_int_equal(hp.n, 0);
    free(l);
    hpack_free(&hp);
}

/* ---- frames through the HTTP parser ---- */

struct fb {
    uint8_t b[1 << 17];
    size_t n;
};

static void
frame(struct fb *o, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
    uint8_t *h = o->b + o->n;
    h[0] = (uint8_t)(n >> 16);
    h[1] = (uint8_t)(n >> 8);
    h[2] = (uint8_t)n;
    h[3] = type;
    h[4] = flags;
    h[5] = (uint8_t)(sid >> 24);
    h[6] = (uint8_t)(sid >> 16);
    h[7] = (uint8_t)(sid >> 8);
    h[8] = (uint8_t)sid;
    memcpy(h + 9, p, n);
    o->n += 9 + n;
}

/* A literal header without indexing, new name, raw strings. */
static size_t
lit(uint8_t *o, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), k = 0;
    o[k++] = 0x00;
    o[k++] = (uint8_t)nl;
    memcpy(o + k, name, nl);
    k += nl;
    o[k++] = (uint8_t)vl;
    memcpy(o + k, value, vl);
    return k + vl;
}

static struct fb cli, srv;

static void
build_conversation(void)
{
    uint8_t blk[512];
    size_t k = 0;
    memset(&cli, 0, sizeof(cli));
    memset(&srv, 0, sizeof(srv));
    memcpy(cli.b, APP_H2_PREFACE, APP_H2_PREFACE_LEN);
    cli.n = APP_H2_PREFACE_LEN;
    static const uint8_t set_c[] = {0, 3, 0, 0, 0, 100, 0, 2, 0, 0, 0, 0};
    frame(&cli, 4, 0, 0, set_c, sizeof(set_c));
    /* stream 1: GET /a with priority, split over HEADERS + CONTINUATION, padded */
    blk[k++] = 0x82; /* :method GET */
    blk[k++] = 0x86; /* :scheme http */
    k += lit(blk + k, ":path", "/a");
    uint8_t h1[256];
    size_t h1n = 0;
    h1[h1n++] = 3;                               /* pad length */
    memcpy(h1 + h1n, "\x00\x00\x00\x00\x0f", 5); /* priority: weight 15 */
    h1n += 5;
    memcpy(h1 + h1n, blk, k);
    h1n += k;
    memset(h1 + h1n, 0, 3);
    h1n += 3;
    frame(&cli, 1, 0x01 | 0x08 | 0x20, 1, h1, h1n); /* END_STREAM, PADDED, PRIORITY */
    k = 0;
    k += lit(blk + k, ":authority", "h2.example");
    k += lit(blk + k, "user-agent", "t/1");
    frame(&cli, 9, 0x04, 1, blk, k);
    /* stream 3: POST, then reset by the client */
    k = 0;
    blk[k++] = 0x83; /* :method POST */
    k += lit(blk + k, ":path", "/b");
    frame(&cli, 1, 0x04, 3, blk, k);
    frame(&cli, 0, 0, 3, "xyz", 3);
    frame(&cli, 3, 0, 3, "\x00\x00\x00\x08", 4);                 /* CANCEL */
    frame(&cli, 7, 0, 0, "\x00\x00\x00\x03\x00\x00\x00\x00", 8); /* GOAWAY NO_ERROR */

    static const uint8_t set_s[] = {0, 1, 0, 0, 0x20, 0};
    frame(&srv, 4, 0, 0, set_s, sizeof(set_s));
    frame(&srv, 4, 1, 0, "", 0); /* ACK */
    k = 0;
    blk[k++] = 0x88; /* :status 200 */
    k += lit(blk + k, "content-length", "5");
    frame(&srv, 1, 0x04, 1, blk, k);
    frame(&srv, 8, 0, 1, "\x00\x00\x10\x00", 4);            /* WINDOW_UPDATE: nothing logged */
    frame(&srv, 0, 0x01 | 0x08, 1, "\x02hello\x00\x00", 8); /* padded DATA, END_STREAM */
}

static const char *
find_stream(struct at_sink *s, long long sid, size_t nth)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->eve[i] && at_int(s->eve[i], "http.http2.stream_id") == sid && nth-- == 0)
            return s->eve[i];
    }
    return NULL;
}

static void
check_conversation(struct at_sink *s)
{
    /* client settings, goaway; server settings, ack; stream 1; stream 3 */
    assert_int_equal(s->n, 6);
    const char *e = find_stream(s, 1, 0);
    assert_non_null(e);
    assert_string_equal(at_str(e, "http.version"), "2");
    assert_string_equal(at_str(e, "http.http_method"), "GET");
    assert_string_equal(at_str(e, "http.url"), "/a");
    assert_string_equal(at_str(e, "http.hostname"), "h2.example");
    assert_string_equal(at_str(e, "http.http_user_agent"), "t/1");
    assert_int_equal(at_int(e, "http.status"), 200);
    assert_int_equal(at_int(e, "http.length"), 5);
    assert_string_equal(at_str(e, "http.request_headers[3].name"), ":authority");
    assert_string_equal(at_str(e, "http.response_headers[1].value"), "5");
    assert_int_equal(at_int(e, "http.http2.request.priority"), 15);
    const struct net_http_rec *r = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->eve[i] == e)
            r = s->body[i];
    assert_int_equal(r->response_body_len, 5); /* padding is not body */
    assert_null(s->zeek[0]);                   /* Zeek's http.log has no HTTP/2 */
    e = find_stream(s, 3, 0);
    assert_non_null(e);
    assert_string_equal(at_str(e, "http.http_method"), "POST");
    assert_string_equal(at_str(e, "http.http2.request.error_code"), "CANCEL");
    e = find_stream(s, 0, 0);
    assert_string_equal(at_str(e, "http.http2.request.settings[0].settings_id"),
                        "SETTINGSMAXCONCURRENTSTREAMS");
    assert_int_equal(at_int(e, "http.http2.request.settings[1].settings_value"), 0);
    int goaway = 0, hts = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!strcmp(at_str(s->eve[i], "http.http2.request.error_code"), "NOERROR"))
            goaway++;
        if (at_int(s->eve[i], "http.http2.response.settings[0].settings_value") == 8192)
            hts++;
    }
    assert_int_equal(goaway, 1);
    assert_int_equal(hts, 1);
}

static void
test_prior_knowledge(void **state)
{
    (void)state;
    build_conversation();
    for (size_t step = 1; step <= 19; step += 3) {
        at_open(&run, &net_app_http, IPPROTO_TCP, 80);
        at_feed_steps(&run, NET_TOSERVER, cli.b, cli.n, step);
        at_feed_steps(&run, NET_TOCLIENT, srv.b, srv.n, step);
        at_close(&run);
        check_conversation(&run.sink);
        at_done(&run);
    }
    assert_int_equal(app_http_probe((const uint8_t *)APP_H2_PREFACE, 24, NET_TOSERVER), 1);
}

static void
test_upgrade(void **state)
{
    (void)state;
    static const char req[] = "GET /r.txt HTTP/1.1\r\n"
                              "Host: up.example\r\n"
                              "Connection: Upgrade, HTTP2-Settings\r\n"
                              "Upgrade: h2c\r\n"
                              "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
                              "\r\n";
    static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    uint8_t blk[64];
    size_t k = 0;
    struct fb *s2 = calloc(1, sizeof(*s2));
    memcpy(s2->b, resp, sizeof(resp) - 1);
    s2->n = sizeof(resp) - 1;
    blk[k++] = 0x8d; /* :status 404 */
    frame(s2, 1, 0x05, 1, blk, k);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, req, sizeof(req) - 1);
    at_feed(&run, NET_TOCLIENT, s2->b, s2->n);
    at_feed(&run, NET_TOSERVER, APP_H2_PREFACE, APP_H2_PREFACE_LEN);
    at_close(&run);
    free(s2);
    /* the HTTP/1 101, the HTTP2-Settings settings, stream 1 */
    assert_int_equal(run.sink.n, 3);
    const char *e = find_stream(&run.sink, 1, 0);
    assert_non_null(e);
    assert_string_equal(at_str(e, "http.request_headers[0].name"), ":method");
    assert_string_equal(at_str(e, "http.request_headers[1].value"), "/r.txt");
    assert_string_equal(at_str(e, "http.request_headers[2].name"), ":authority");
    assert_string_equal(at_str(e, "http.request_headers[2].value"), "up.example");
    assert_int_equal(at_int(e, "http.status"), 404);
    e = find_stream(&run.sink, 0, 0);
    assert_string_equal(at_str(e, "http.http2.request.settings[2].settings_id"),
                        "SETTINGSENABLEPUSH");
    const char *h1 = NULL;
    for (size_t i = 0; i < run.sink.n; i++)
        if (at_int(run.sink.eve[i], "http.status") == 101)
            h1 = run.sink.eve[i];
    assert_non_null(h1);
    assert_string_equal(at_str(h1, "http.protocol"), "HTTP/1.1");
    assert_null(at_json_path(h1, "http.request_headers")); /* not dumped */
}

static void
test_limits_and_errors(void **state)
{
    (void)state;
    struct net_app_stats *st = net_app_stats();
    uint64_t lim0 = st->errors[NET_APP_HTTP][NET_APP_ERR_LIMIT];
    uint64_t mal0 = st->errors[NET_APP_HTTP][NET_APP_ERR_MALFORMED];
    uint8_t *big = calloc(1, BN_NET_H2_HBLOCK_MAX + 16);

    /* a header block past its limit over CONTINUATION frames: counted, the side stops */
    struct fb *o = calloc(1, sizeof(*o));
    memcpy(o->b, APP_H2_PREFACE, APP_H2_PREFACE_LEN);
    o->n = APP_H2_PREFACE_LEN;
    frame(o, 1, 0, 1, big, 40000);
    frame(o, 9, 0, 1, big, 40000);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, o->b, o->n);
    at_done(&run);
    assert_int_equal(st->errors[NET_APP_HTTP][NET_APP_ERR_LIMIT], lim0 + 1);

    /* a SETTINGS frame longer than the frame buffer: skipped and counted, parsing goes on */
    o->n = APP_H2_PREFACE_LEN;
    frame(o, 4, 0, 0, big, BN_NET_H2_FRAME_BUF_MAX + 6);
    uint8_t blk[16] = {0x82, 0x84};
    frame(o, 1, 0x05, 1, blk, 2);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed_steps(&run, NET_TOSERVER, o->b, o->n, 1400);
    at_close(&run);
    assert_int_equal(st->errors[NET_APP_HTTP][NET_APP_ERR_LIMIT], lim0 + 2);
    assert_int_equal(run.sink.n, 1);
    assert_string_equal(at_str(run.sink.eve[0], "http.url"), "/");
    at_done(&run);

    /* more open streams than the table holds: the oldest are reported early */
    o->n = APP_H2_PREFACE_LEN;
    for (uint32_t sid = 1; sid < 2 * BN_NET_H2_STREAMS_MAX + 20; sid += 2)
        frame(o, 1, 0x04, sid, blk, 2);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, o->b, o->n);
    assert_int_equal(run.sink.n, 10);
    at_close(&run);
    assert_true(run.sink.n == BN_NET_H2_STREAMS_MAX + 10 || run.sink.n == AT_MAX);
    at_done(&run);

    /* malformed: SETTINGS on a stream, a bad HPACK index, CONTINUATION out of place */
    static const uint8_t bad_idx[] = {0x80};
    const struct {
        uint8_t type, flags;
        uint32_t sid;
        const uint8_t *p;
        size_t n;
    } bad[] = {
        {4, 0, 1, (const uint8_t *)"\0\1\0\0\0\0", 6},
        {1, 0x04, 1, bad_idx, 1},
        {2, 0, 0, (const uint8_t *)"\0\0\0\0\1", 5},
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(bad); i++) {
        o->n = APP_H2_PREFACE_LEN;
        frame(o, bad[i].type, bad[i].flags, bad[i].sid, bad[i].p, bad[i].n);
        frame(o, 1, 0x05, 5, blk, 2); /* not parsed any more */
        at_open(&run, &net_app_http, IPPROTO_TCP, 80);
        at_feed(&run, NET_TOSERVER, o->b, o->n);
        at_close(&run);
        assert_int_equal(st->errors[NET_APP_HTTP][NET_APP_ERR_MALFORMED], mal0 + i + 1);
        for (size_t j = 0; j < run.sink.n; j++)
            assert_int_not_equal(at_int(run.sink.eve[j], "http.http2.stream_id"), 5);
        at_done(&run);
    }
    o->n = APP_H2_PREFACE_LEN;
    frame(o, 9, 0x04, 1, blk, 2);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, o->b, o->n);
    at_done(&run);
    assert_true(st->errors[NET_APP_HTTP][NET_APP_ERR_UNEXPECTED] > 0);
    free(o);
    free(big);
}

static void
test_http1_dump_headers(void **state)
{
    (void)state;
    static const char req[] = "GET / HTTP/1.1\r\nHost: a.example\r\nX-Two:  2 \r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: s\r\n\r\nok";
    net_app_http_dump_headers(true);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed_steps(&run, NET_TOSERVER, req, sizeof(req) - 1, 5);
    at_feed_steps(&run, NET_TOCLIENT, resp, sizeof(resp) - 1, 5);
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "http.request_headers[0].name"), "Host");
    assert_string_equal(at_str(e, "http.request_headers[1].value"), "2");
    assert_string_equal(at_str(e, "http.response_headers[1].name"), "Server");
    json_t *a = at_json_path(e, "http.response_headers");
    assert_int_equal(json_array_size(a), 2);
    json_decref(a);
    at_done(&run);
    net_app_http_dump_headers(false);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, req, sizeof(req) - 1);
    at_feed(&run, NET_TOCLIENT, resp, sizeof(resp) - 1);
    at_close(&run);
    assert_null(at_json_path(run.sink.eve[0], "http.request_headers"));
}

static void
test_request_line_cut_by_close(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, "GET /", 5);
    at_feed(&run, NET_TOCLIENT, "<html>hi</html>", 15);
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    assert_string_equal(at_str(run.sink.eve[0], "http.url"), "/");
}

/* eve http extended: no (Suricata's basic HTTP fields only) */
static void
test_http1_basic_fields(void **state)
{
    (void)state;
    static const char req[] = "GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Agent: u\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    net_app_http_extended(false);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, req, sizeof(req) - 1);
    at_feed(&run, NET_TOCLIENT, resp, sizeof(resp) - 1);
    at_close(&run);
    net_app_http_extended(true);
    assert_int_equal(run.sink.n, 1);
    json_t *h = at_json_path(run.sink.eve[0], "http");
    assert_int_equal(json_object_size(h), 3); /* hostname, url, http_user_agent */
    assert_string_equal(at_str(run.sink.eve[0], "http.url"), "/x");
    json_decref(h);
}

/* DNS over HTTPS in cleartext HTTP/2: one dns record per stream, the answer if any */
static void
test_doh(void **state)
{
    (void)state;
    static const uint8_t query[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0,   0,
                                    0,    0,    7,    'e',  'x', 'a', 'm', 'p', 'l', 'e',
                                    3,    'c',  'o',  'm',  0,   0,   1,   0,   1};
    uint8_t answer[64];
    memcpy(answer, query, sizeof(query));
    answer[2] = 0x81;
    answer[3] = 0x80;
    answer[7] = 1; /* ancount */
    static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4};
    memcpy(answer + sizeof(query), rr, sizeof(rr));
    size_t alen = sizeof(query) + sizeof(rr);
    uint8_t blk[256];
    size_t k;
    struct fb *o = calloc(1, sizeof(*o)), *r = calloc(1, sizeof(*r));
    memcpy(o->b, APP_H2_PREFACE, APP_H2_PREFACE_LEN);
    o->n = APP_H2_PREFACE_LEN;
    /* stream 1: POST with the query as body; stream 3: GET ?dns=, cancelled, answered after */
    k = 0;
    blk[k++] = 0x83;
    k += lit(blk + k, ":path", "/dns-query");
    k += lit(blk + k, "content-type", "application/dns-message");
    frame(o, 1, 0x04, 1, blk, k);
    frame(o, 0, 0x01, 1, query, sizeof(query));
    k = 0;
    blk[k++] = 0x82;
    k += lit(blk + k, ":path", "/dns-query?dns=EjQBAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE");
    frame(o, 1, 0x05, 3, blk, k);
    frame(o, 3, 0, 3, "\x00\x00\x00\x08", 4);
    /* answers: stream 1 padded DATA in two frames, stream 3 after the cancel */
    for (uint32_t sid = 1; sid <= 3; sid += 2) {
        k = 0;
        blk[k++] = 0x88;
        k += lit(blk + k, "content-type", "application/dns-message");
        frame(r, 1, 0x04, sid, blk, k);
        uint8_t d1[64];
        d1[0] = 2;
        memcpy(d1 + 1, answer, 10);
        d1[11] = d1[12] = 0;
        frame(r, 0, 0x08, sid, d1, 13);
        frame(r, 0, 0x01, sid, answer + 10, alen - 10);
    }
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed_steps(&run, NET_TOSERVER, o->b, o->n, 7);
    at_feed_steps(&run, NET_TOCLIENT, r->b, r->n, 5);
    at_close(&run);
    int dns = 0, http = 0;
    for (size_t i = 0; i < run.sink.n; i++) {
        if (run.sink.type[i] == NET_REC_DNS) {
            dns++;
            assert_string_equal(at_str(run.sink.eve[i], "dns.type"), "response");
            assert_string_equal(at_str(run.sink.eve[i], "dns.queries[0].rrname"), "example.com");
            assert_string_equal(at_str(run.sink.eve[i], "dns.answers[0].rdata"), "1.2.3.4");
        } else if (at_int(run.sink.eve[i], "http.http2.stream_id") > 0) {
            http++;
        }
    }
    assert_int_equal(dns, 2);
    assert_int_equal(http, 2); /* the cancelled stream is reported once, with its answer */
    at_done(&run);

    /* no answer: the query is the stream's dns record */
    o->n = APP_H2_PREFACE_LEN;
    frame(o, 1, 0x05, 1, blk, 0);
    k = 0;
    blk[k++] = 0x82;
    k += lit(blk + k, ":path", "/q?x=1&dns=EjQBAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE");
    frame(o, 1, 0x05, 5, blk, k);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, o->b, o->n);
    at_close(&run);
    dns = 0;
    for (size_t i = 0; i < run.sink.n; i++) {
        /* the query, then at the end its Zeek-only "unanswered" copy (no eve form) */
        if (run.sink.type[i] == NET_REC_DNS && run.sink.eve[i]) {
            dns++;
            assert_string_equal(at_str(run.sink.eve[i], "dns.type"), "request");
        }
    }
    assert_int_equal(dns, 1);
    free(o);
    free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huffman),
        cmocka_unit_test(test_hpack_rfc),
        cmocka_unit_test(test_hpack_errors_and_eviction),
        cmocka_unit_test_teardown(test_prior_knowledge, teardown),
        cmocka_unit_test_teardown(test_upgrade, teardown),
        cmocka_unit_test_teardown(test_limits_and_errors, teardown),
        cmocka_unit_test_teardown(test_http1_dump_headers, teardown),
        cmocka_unit_test_teardown(test_request_line_cut_by_close, teardown),
        cmocka_unit_test_teardown(test_http1_basic_fields, teardown),
        cmocka_unit_test_teardown(test_doh, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
