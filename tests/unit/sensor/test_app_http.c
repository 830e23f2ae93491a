/*
 * test_app_http.c - the HTTP/1.x parser: request/response fields, pipelining, bodies framed
 * by Content-Length, chunks and connection close (with text that looks like HTTP inside),
 * HEAD, 1xx, 204, CONNECT tunnels (plain HTTP or TLS inside), gaps and resynchronisation,
 * line/header/queue limits, every segmentation, eve and Zeek renderings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"

#define S(x) (const uint8_t *)(x), sizeof(x) - 1

static const char req2[] = "GET /index.html?a=1 HTTP/1.1\r\n"
                           "Host: www.Example.COM:8080\r\n"
                           "User-Agent: curl/8.0\r\n"
                           "Referer: http://ref.example/\r\n"
                           "X-Forwarded-For: 1.2.3.4\r\n"
                           "\r\n"
                           "POST /upload HTTP/1.1\r\n"
                           "Host: up.example\r\n"
                           "Content-Type: application/octet-stream\r\n"
                           "Content-Length: 20\r\n"
                           "\r\n"
                           "GET / HTTP/1.1\r\n\r\nxx"; /* a body that looks like a request */

static const char resp2[] = "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 200 OK\r\n"
                            "Content-Type: text/html; charset=utf-8\r\n"
                            "Transfer-Encoding: chunked\r\n"
                            "\r\n"
                            "5\r\nHTTP/\r\n"
                            "1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                            "0\r\nTrailer: x\r\n\r\n"
                            "HTTP/1.1 302 Found\r\n"
                            "Location: /elsewhere\r\n"
                            "Content-Length: 3\r\n"
                            "\r\n"
                            "abc";

static void
check_pipelined(struct at_sink *s)
{
    assert_int_equal(s->n, 2);
    const struct net_http_rec *a = s->body[0], *b = s->body[1];
    assert_string_equal(a->method, "GET");
    assert_string_equal(a->uri, "/index.html?a=1");
    assert_string_equal(a->host, "www.example.com");
    assert_int_equal(a->port, 8080);
    assert_int_equal(a->status, 200);
    assert_int_equal(a->response_body_len, 5 + 26);
    assert_true(a->resp_chunked);
    assert_int_equal(a->trans_depth, 1);
    assert_string_equal(b->method, "POST");
    assert_int_equal(b->request_body_len, 20);
    assert_int_equal(b->status, 302);
    assert_string_equal(b->location, "/elsewhere");
    assert_int_equal(b->response_body_len, 3);

    const char *e = s->eve[0];
    assert_int_equal(at_int(e, "tx_id"), 0);
    assert_string_equal(at_str(e, "http.hostname"), "www.example.com");
    assert_int_equal(at_int(e, "http.http_port"), 8080);
    assert_string_equal(at_str(e, "http.url"), "/index.html?a=1");
    assert_string_equal(at_str(e, "http.http_user_agent"), "curl/8.0");
    assert_string_equal(at_str(e, "http.http_refer"), "http://ref.example/");
    assert_string_equal(at_str(e, "http.xff"), "1.2.3.4");
    assert_string_equal(at_str(e, "http.http_method"), "GET");
    assert_string_equal(at_str(e, "http.protocol"), "HTTP/1.1");
    assert_string_equal(at_str(e, "http.http_content_type"), "text/html");
    assert_int_equal(at_int(e, "http.status"), 200);
    assert_int_equal(at_int(e, "http.length"), 31);
    e = s->eve[1];
    assert_int_equal(at_int(e, "tx_id"), 1);
    assert_string_equal(at_str(e, "http.redirect"), "/elsewhere");

    const char *z = s->zeek[0];
    assert_string_equal(at_str(z, "_path"), "http");
    assert_string_equal(at_str(z, "method"), "GET");
    assert_string_equal(at_str(z, "host"), "www.example.com:8080"); /* as sent */
    assert_string_equal(at_str(z, "uri"), "/index.html?a=1");
    assert_string_equal(at_str(z, "version"), "1.1");
    assert_string_equal(at_str(z, "user_agent"), "curl/8.0");
    assert_string_equal(at_str(z, "referrer"), "http://ref.example/");
    assert_int_equal(at_int(z, "status_code"), 200);
    assert_string_equal(at_str(z, "status_msg"), "OK");
    assert_int_equal(at_int(z, "trans_depth"), 1);
    assert_int_equal(at_int(z, "response_body_len"), 31);
    assert_string_equal(at_str(z, "resp_mime_types[0]"), "text/html");
    assert_int_equal(at_int(s->zeek[1], "request_body_len"), 20);
}

static void
test_pipelined(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, S(req2));
    at_feed(&run, NET_TOCLIENT, S(resp2));
    check_pipelined(&run.sink);
}

/*
 * Up to 32 requests wait for their responses (two in the state, more in an array grown to
 * 32): the 33rd reports the oldest alone (and its response comes alone), the others pair in
 * order, and what is still waiting is reported at the flow's end.
 */
static void
test_many_pipelined(void **state)
{
    (void)state;
    char buf[64];
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    for (int i = 1; i <= 34; i++) {
        int k = snprintf(buf, sizeof(buf), "GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
        at_feed(&run, NET_TOSERVER, buf, (size_t)k);
    }
    assert_int_equal(run.sink.n, 2); /* /r1 and /r2 pushed out, unanswered so far */
    assert_string_equal(((const struct net_http_rec *)run.sink.body[0])->uri, "/r1");
    assert_string_equal(((const struct net_http_rec *)run.sink.body[1])->uri, "/r2");
    static const char resp[] = "HTTP/1.1 204 No Content\r\n\r\n";
    for (int i = 0; i < 4; i++)
        at_feed(&run, NET_TOCLIENT, resp, sizeof(resp) - 1);
    /* the first two responses answer the requests pushed out (reported alone: response
     * only), the next two /r3 and /r4 */
    assert_int_equal(run.sink.n, 6);
    const struct net_http_rec *r;
    for (int i = 2; i < 6; i++) {
        r = run.sink.body[i];
        assert_string_equal(r->uri, i < 4 ? "" : i == 4 ? "/r3" : "/r4");
        assert_int_equal(r->status, 204);
    }
    at_close(&run);
    assert_int_equal(run.sink.n, 36);
    for (int i = 6; i < 36; i++) {
        snprintf(buf, sizeof(buf), "/r%d", i - 1);
        r = run.sink.body[i];
        assert_string_equal(r->uri, buf);
        assert_int_equal(r->status, 0);
    }
}

/* Every segment size from 1 to 17 gives the same transactions. */
static void
test_segmentation(void **state)
{
    (void)state;
    for (size_t step = 1; step <= 17; step++) {
        at_open(&run, &net_app_http, IPPROTO_TCP, 80);
        at_feed_steps(&run, NET_TOSERVER, S(req2), step);
        at_feed_steps(&run, NET_TOCLIENT, S(resp2), step);
        check_pipelined(&run.sink);
        at_done(&run);
    }
}

static void
test_head_204_close(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER,
            S("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n"
              "DELETE /b HTTP/1.1\r\nHost: h\r\n\r\n"
              "GET /c HTTP/1.0\r\n\r\n"));
    /* HEAD: Content-Length describes a body that is not sent */
    at_feed(&run, NET_TOCLIENT,
            S("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
              "HTTP/1.1 204 No Content\r\n\r\n"
              "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
              "body until the connection closes"));
    assert_int_equal(run.sink.n, 2);
    at_close(&run);
    assert_int_equal(run.sink.n, 3);
    const struct net_http_rec *c = run.sink.body[2];
    assert_string_equal(c->uri, "/c");
    assert_int_equal(c->response_body_len, 32);
    assert_int_equal(((const struct net_http_rec *)run.sink.body[0])->response_body_len, 0);
}

static void
test_unanswered_and_unsolicited(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
    assert_int_equal(run.sink.n, 1);
    assert_false(((const struct net_http_rec *)run.sink.body[0])->has_request);
    assert_false(at_has(run.sink.eve[0], "http.url"));
    at_feed(&run, NET_TOSERVER, S("GET /never HTTP/1.1\r\n\r\n"));
    at_close(&run);
    assert_int_equal(run.sink.n, 2);
    const struct net_http_rec *r = run.sink.body[1];
    assert_true(r->has_request);
    assert_false(r->has_response);
    assert_false(at_has(run.sink.eve[1], "http.status"));
}

/* CONNECT, then TLS inside: the TLS parser takes over and the flow becomes TLS. */
static void
test_connect_tls(void **state)
{
    (void)state;
    static const uint8_t hello[] = {
        22, 3, 1, 0, 45, 1, 0, 0, 41, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0,    0, 0,
        0,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x13, 0x01, 1, 0,
    };
    at_open(&run, &net_app_http, IPPROTO_TCP, 3128);
    at_feed(&run, NET_TOSERVER,
            S("CONNECT example.com:443 HTTP/1.1\r\n"
              "Host: example.com:443\r\n\r\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 200 Connection established\r\n\r\n"));
    assert_int_equal(run.sink.n, 1);
    assert_string_equal(at_str(run.sink.eve[0], "http.http_method"), "CONNECT");
    at_feed(&run, NET_TOSERVER, hello, 3); /* the probe waits for more bytes */
    at_feed(&run, NET_TOSERVER, hello + 3, sizeof(hello) - 3);
    assert_int_equal(run.f.app, NET_APP_TLS);
    at_close(&run);
    assert_int_equal(run.sink.n, 2);
    assert_int_equal(run.sink.type[1], NET_REC_TLS);
    assert_string_equal(at_str(run.sink.eve[1], "tls.ja3.string"), "771,4865,,,");
}

/* CONNECT, then plain HTTP inside: parsing restarts with transaction ids from 0. */
static void
test_connect_http(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 3128);
    at_feed(&run, NET_TOSERVER, S("CONNECT abc:80 HTTP/1.1\r\n\r\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 200 OK\r\n\r\n"));
    at_feed(&run, NET_TOSERVER, S("GE"));
    at_feed(&run, NET_TOSERVER, S("T /inner HTTP/1.1\r\n\r\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert_int_equal(run.sink.n, 2);
    assert_string_equal(at_str(run.sink.eve[1], "http.url"), "/inner");
    assert_int_equal(at_int(run.sink.eve[1], "tx_id"), 0);
}

/* A gap in a response body past its end: the next message is found again. */
static void
test_gap_resync(void **state)
{
    (void)state;
    uint64_t gaps = net_app_stats()->errors[NET_APP_HTTP][NET_APP_ERR_GAP];
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, S("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    run.p->gap(run.st, &run.f, NET_TOCLIENT, 4); /* inside the body: counted as body */
    at_feed(&run, NET_TOCLIENT, S("def"));
    assert_int_equal(run.sink.n, 1);
    assert_int_equal(((const struct net_http_rec *)run.sink.body[0])->response_body_len, 10);
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 200 OK\r\nContent-Len"));
    run.p->gap(run.st, &run.f, NET_TOCLIENT, 100); /* inside headers: framing lost */
    at_feed(&run, NET_TOCLIENT, S("garbage\r\nmore garbage\r\n"));
    at_feed(&run, NET_TOSERVER, S("GET /3 HTTP/1.1\r\n\r\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"));
    at_close(&run);
    assert_int_equal(net_app_stats()->errors[NET_APP_HTTP][NET_APP_ERR_GAP], gaps + 1);
    assert_int_equal(run.sink.n, 3);
    const struct net_http_rec *t2 = run.sink.body[1], *t3 = run.sink.body[2];
    assert_string_equal(t2->uri, "/2");
    assert_true(t2->truncated);
    assert_string_equal(t3->uri, "/3");
    assert_int_equal(t3->status, 201);
}

static void
test_limits(void **state)
{
    (void)state;
    struct net_app_stats *st = net_app_stats();
    uint64_t lim = st->errors[NET_APP_HTTP][NET_APP_ERR_LIMIT];
    uint64_t cut = st->truncated_fields;

    /* a URI longer than the field: cut and flagged */
    char *line = malloc(NET_HTTP_LINE_MAX + 64);
    int n = snprintf(line, 64, "GET /");
    memset(line + n, 'a', NET_HTTP_URI_MAX + 100);
    n += NET_HTTP_URI_MAX + 100;
    n += snprintf(line + n, 64, " HTTP/1.1\r\n\r\n");
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, line, (size_t)n);
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    const struct net_http_rec *r = run.sink.body[0];
    assert_true(r->truncated);
    assert_int_equal(strlen(r->uri), NET_HTTP_URI_MAX - 1);
    assert_true(st->truncated_fields > cut);
    assert_true(at_has(run.sink.eve[0], "http.truncated"));
    at_done(&run);

    /* a line longer than the line limit: the direction stops, counted */
    memset(line, 'b', NET_HTTP_LINE_MAX + 10);
    memcpy(line, "GET /", 5);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed_steps(&run, NET_TOSERVER, line, NET_HTTP_LINE_MAX + 10, 1000);
    assert_int_equal(st->errors[NET_APP_HTTP][NET_APP_ERR_LIMIT], lim + 1);
    at_done(&run);
    free(line);

    /* more headers than kept: counted once per message */
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, S("GET / HTTP/1.1\r\n"));
    for (int i = 0; i < NET_HTTP_HEADERS_MAX + 5; i++)
        at_feed(&run, NET_TOSERVER, S("X-A: b\r\n"));
    at_feed(&run, NET_TOSERVER, S("User-Agent: late\r\n\r\n"));
    at_close(&run);
    assert_int_equal(st->errors[NET_APP_HTTP][NET_APP_ERR_LIMIT], lim + 2);
    assert_int_equal(run.sink.n, 1);
    assert_string_equal(((const struct net_http_rec *)run.sink.body[0])->user_agent, "");
    at_done(&run);

    /* more pipelined requests than the queue holds: the oldest are reported alone */
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    for (int i = 0; i < NET_HTTP_PENDING_MAX + 3; i++)
        at_feed(&run, NET_TOSERVER, S("GET /q HTTP/1.1\r\n\r\n"));
    assert_int_equal(run.sink.n, 3);
    at_close(&run);
    assert_int_equal(run.sink.n, NET_HTTP_PENDING_MAX + 3);
}

static void
test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "HTTP/1.1 2XX Weird\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nab",
        "junk that is not http\r\n",
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(bad); i++) {
        at_open(&run, &net_app_http, IPPROTO_TCP, 80);
        at_feed(&run, NET_TOSERVER, S("GET / HTTP/1.1\r\n\r\n"));
        at_feed(&run, NET_TOCLIENT, bad[i], strlen(bad[i]));
        at_close(&run);
        if (i == 0) {
            assert_string_equal(at_str(run.sink.eve[0], "http.status_string"), "2XX");
            assert_false(at_has(run.sink.eve[0], "http.status"));
        }
        at_done(&run);
    }
}

/* Zeek logs the URI %-decoded, non-printable bytes as \xNN; eve keeps it as sent. */
static void
test_zeek_uri(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, S("GET /a%20b%fc%zz HTTP/1.1\r\n\r\n"));
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    assert_string_equal(at_str(run.sink.eve[0], "http.url"), "/a%20b%fc%zz");
    assert_string_equal(at_str(run.sink.zeek[0], "uri"), "/a b\\xfc%zz");
}

/* The server answers before the request body is complete (uploads refused early). */
static void
test_early_response(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, S("POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"));
    assert_int_equal(run.sink.n, 1);
    const struct net_http_rec *r = run.sink.body[0];
    assert_string_equal(r->method, "POST");
    assert_int_equal(r->status, 413);
    at_feed(&run, NET_TOSERVER, S("defghij")); /* the rest of the body: skipped */
    at_feed(&run, NET_TOSERVER, S("GET /next HTTP/1.1\r\n\r\n"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert_int_equal(run.sink.n, 2);
    assert_string_equal(((const struct net_http_rec *)run.sink.body[1])->uri, "/next");
    /* same, with a gap in the body after the answer, and the flow ending mid-body */
    at_done(&run);
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, S("PUT /x HTTP/1.1\r\nContent-Length: 100000\r\n\r\nab"));
    at_feed(&run, NET_TOCLIENT, S("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n"));
    run.p->gap(run.st, &run.f, NET_TOSERVER, 200000);
    at_feed(&run, NET_TOCLIENT, S("no"));
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    assert_int_equal(((const struct net_http_rec *)run.sink.body[0])->status, 403);
}

static void
test_http09(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, S("GET /old.html\r\n"));
    at_feed(&run, NET_TOCLIENT, S("<html>no status line</html>\n"));
    at_close(&run);
    /* and the empty entry Zeek logs after an HTTP/0.9 exchange: http.log only */
    assert_int_equal(run.sink.n, 2);
    assert_true(((const struct net_http_rec *)run.sink.body[1])->zeek_empty);
    assert_null(run.sink.eve[1]);
    assert_int_equal(at_int(run.sink.zeek[1], "trans_depth"), 2);
    assert_false(at_has(run.sink.zeek[1], "method"));
    const struct net_http_rec *r = run.sink.body[0];
    assert_true(r->http09);
    assert_string_equal(r->uri, "/old.html");
    assert_int_equal(r->response_body_len, 28);
    const char *z = run.sink.zeek[0];
    assert_string_equal(at_str(z, "version"), "0.9");
    assert_int_equal(at_int(z, "status_code"), 0);
    assert_false(at_has(run.sink.eve[0], "http.status"));
    at_done(&run);

    /* no version but header lines: an HTTP/1.x request that forgot it (libhtp's rule) */
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, S("GET /\nFakeHeader\nHost: localhost\nUser-Agent: myscript\n\n"));
    at_feed(&run, NET_TOCLIENT, S("<!DOCTYPE HTML>\n<html></html>\n"));
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    assert_string_equal(at_str(run.sink.eve[0], "http.http_user_agent"), "myscript");
    assert_string_equal(at_str(run.sink.eve[0], "http.hostname"), "localhost");
}

/* The N-th allocation fails, for every N until the session goes through: no crash, no leak. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    for (unsigned long n = 1; n < 40; n++) {
        struct at_run r;
        bn_alloc_fail_after(n);
        at_open(&r, &net_app_http, IPPROTO_TCP, 80);
        at_feed_steps(&r, NET_TOSERVER, S(req2), 9);
        at_feed_steps(&r, NET_TOCLIENT, S(resp2), 9);
        at_feed(&r, NET_TOSERVER, S("CONNECT x:443 HTTP/1.1\r\n\r\n"));
        at_feed(&r, NET_TOCLIENT, S("HTTP/1.1 200 OK\r\n\r\n"));
        at_feed(&r, NET_TOSERVER, S("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"));
        bn_alloc_fail_after(0);
        at_done(&r);
    }
}

static void
test_probe(void **state)
{
    (void)state;
    assert_int_equal(app_http_probe(S("GET / HTTP/1.1\r\n"), NET_TOSERVER), 1);
    assert_int_equal(app_http_probe(S("PROPFIND /x"), NET_TOSERVER), 1);
    assert_int_equal(app_http_probe(S("GE"), NET_TOSERVER), -1);
    assert_int_equal(app_http_probe(S("GETX /"), NET_TOSERVER), 0);
    assert_int_equal(app_http_probe(S("HTTP/1.1 200"), NET_TOCLIENT), 1);
    assert_int_equal(app_http_probe(S("HTT"), NET_TOCLIENT), -1);
    assert_int_equal(app_http_probe(S("SSH-2.0"), NET_TOCLIENT), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pipelined, at_teardown),
        cmocka_unit_test_teardown(test_many_pipelined, at_teardown),
        cmocka_unit_test_teardown(test_segmentation, at_teardown),
        cmocka_unit_test_teardown(test_head_204_close, at_teardown),
        cmocka_unit_test_teardown(test_unanswered_and_unsolicited, at_teardown),
        cmocka_unit_test_teardown(test_connect_tls, at_teardown),
        cmocka_unit_test_teardown(test_connect_http, at_teardown),
        cmocka_unit_test_teardown(test_gap_resync, at_teardown),
        cmocka_unit_test_teardown(test_limits, at_teardown),
        cmocka_unit_test_teardown(test_malformed, at_teardown),
        cmocka_unit_test_teardown(test_zeek_uri, at_teardown),
        cmocka_unit_test_teardown(test_early_response, at_teardown),
        cmocka_unit_test_teardown(test_http09, at_teardown),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
