/*
 * test_app_dns.c - the DNS parser on hand-built messages: queries and answers over UDP and
 * TCP (framing split anywhere), every rdata type we render, compression (backward, forward,
 * loops), TXT strings, limits and truncation, eve (Suricata 8 dns v3) and Zeek renderings,
 * cut and hostile messages, allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"

/* A name in wire form ("www.example.com" -> 3www7example3com0). */
static void
put_name(struct at_bytes *m, const char *name)
{
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        at_u8(m, (unsigned)l);
        at_put(m, p, l);
        p += l + (dot ? 1 : 0);
    }
    at_u8(m, 0);
}

static void
hdr(struct at_bytes *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns,
    unsigned ar)
{
    m->n = 0;
    at_u16(m, id);
    at_u16(m, flags);
    at_u16(m, qd);
    at_u16(m, an);
    at_u16(m, ns);
    at_u16(m, ar);
}

static void
question(struct at_bytes *m, const char *name, unsigned type)
{
    put_name(m, name);
    at_u16(m, type);
    at_u16(m, 1);
}

/* An RR whose owner is a pointer to offset 12 (the question name). */
static size_t
rr_begin(struct at_bytes *m, unsigned type, uint32_t ttl)
{
    at_u16(m, 0xc00c);
    at_u16(m, type);
    at_u16(m, 1);
    at_u32(m, ttl);
    size_t len_at = m->n;
    at_u16(m, 0);
    return len_at;
}

static void
rr_end(struct at_bytes *m, size_t len_at)
{
    at_patch16(m, len_at, (unsigned)(m->n - len_at - 2));
}

static void
test_query_and_answer_udp(void **state)
{
    (void)state;
    struct at_bytes q, a;
    hdr(&q, 36146, 0x0120, 1, 0, 0, 0);
    question(&q, "www.suricata-ids.org", 1);

    hdr(&a, 36146, 0x81a0, 1, 3, 0, 0);
    question(&a, "www.suricata-ids.org", 1);
    size_t l = rr_begin(&a, 5, 3544);
    size_t cname_at = a.n;
    put_name(&a, "suricata-ids.org");
    rr_end(&a, l);
    for (int i = 0; i < 2; i++) {
        at_u16(&a, 0xc000 | (unsigned)cname_at); /* compressed owner: the CNAME target */
        at_u16(&a, 1);
        at_u16(&a, 1);
        at_u32(&a, 244);
        at_u16(&a, 4);
        static const uint8_t ip[2][4] = {{192, 0, 78, 24}, {192, 0, 78, 25}};
        at_put(&a, ip[i], 4);
    }

    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    at_feed(&run, NET_TOSERVER, q.b, q.n);
    at_feed(&run, NET_TOCLIENT, a.b, a.n);
    assert_int_equal(run.sink.n, 2);

    const struct net_dns_rec *rq = run.sink.body[0];
    assert_false(rq->is_response);
    assert_int_equal(rq->id, 36146);
    assert_int_equal(rq->n_queries, 1);
    assert_string_equal(rq->queries[0].name, "www.suricata-ids.org");
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "dns.type"), "request");
    assert_int_equal(at_int(e, "dns.version"), 3);
    assert_int_equal(at_int(e, "dns.tx_id"), 0);
    assert_string_equal(at_str(e, "dns.flags"), "120");
    assert_string_equal(at_str(e, "dns.queries[0].rrtype"), "A");
    assert_null(run.sink.zeek[0]); /* Zeek logs the transaction with its response */

    const struct net_dns_rec *rs = run.sink.body[1];
    assert_true(rs->is_response);
    assert_int_equal(rs->n_rrs, 3);
    assert_int_equal(rs->rtt_ns, 1000000);
    e = run.sink.eve[1];
    assert_string_equal(at_str(e, "dns.type"), "response");
    assert_int_equal(at_int(e, "dns.tx_id"), 1);
    assert_string_equal(at_str(e, "dns.flags"), "81a0");
    assert_string_equal(at_str(e, "dns.rcode"), "NOERROR");
    assert_string_equal(at_str(e, "dns.answers[0].rrtype"), "CNAME");
    assert_string_equal(at_str(e, "dns.answers[0].rdata"), "suricata-ids.org");
    assert_int_equal(at_int(e, "dns.answers[0].ttl"), 3544);
    assert_string_equal(at_str(e, "dns.answers[1].rrname"), "suricata-ids.org");
    assert_string_equal(at_str(e, "dns.answers[2].rdata"), "192.0.78.25");
    assert_string_equal(at_str(e, "dns.grouped.A[1]"), "192.0.78.25");
    assert_string_equal(at_str(e, "dns.grouped.CNAME[0]"), "suricata-ids.org");

    const char *z = run.sink.zeek[1];
    assert_non_null(z);
    assert_string_equal(at_str(z, "_path"), "dns");
    assert_string_equal(at_str(z, "query"), "www.suricata-ids.org");
    assert_string_equal(at_str(z, "qtype_name"), "A");
    assert_string_equal(at_str(z, "rcode_name"), "NOERROR");
    assert_string_equal(at_str(z, "answers[2]"), "192.0.78.25");
    assert_string_equal(at_str(z, "id.orig_h"), "10.0.0.1");
    assert_int_equal(at_int(z, "id.resp_p"), 53);
    assert_string_equal(at_str(z, "uid"), "1:testflow");
}

static void
test_rdata_types(void **state)
{
    (void)state;
    struct at_bytes a;
    hdr(&a, 7, 0x8580, 1, 6, 1, 0);
    question(&a, "example.com", 255);
    size_t l = rr_begin(&a, 28, 60); /* AAAA */
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    at_put(&a, v6, 16);
    rr_end(&a, l);
    l = rr_begin(&a, 15, 60); /* MX */
    at_u16(&a, 10);
    put_name(&a, "mail.example.com");
    rr_end(&a, l);
    l = rr_begin(&a, 33, 60); /* SRV */
    at_u16(&a, 20);
    at_u16(&a, 1);
    at_u16(&a, 5060);
    put_name(&a, "sip.example.com");
    rr_end(&a, l);
    l = rr_begin(&a, 16, 60); /* TXT with two strings, the second empty */
    at_u8(&a, 5);
    at_str_bytes(&a, "hello");
    at_u8(&a, 0);
    rr_end(&a, l);
    l = rr_begin(&a, 12, 60); /* PTR, target compressed to the question name */
    at_u16(&a, 0xc00c);
    rr_end(&a, l);
    l = rr_begin(&a, 6, 300); /* SOA in the authority section */
    put_name(&a, "ns1.example.com");
    put_name(&a, "hostmaster.example.com");
    at_u32(&a, 2024010101);
    at_u32(&a, 7200);
    at_u32(&a, 3600);
    at_u32(&a, 1209600);
    at_u32(&a, 300);
    rr_end(&a, l);
    /* the header says 6 answers + 1 authority: the SOA is the 6th answer here, fix counts */
    at_patch16(&a, 6, 5);
    at_patch16(&a, 8, 1);

    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    at_feed(&run, NET_TOCLIENT, a.b, a.n);
    assert_int_equal(run.sink.n, 1);
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "dns.queries[0].rrtype"), "ANY");
    assert_string_equal(at_str(e, "dns.answers[0].rdata"),
                        "2001:0db8:0000:0000:0000:0000:0000:0001");
    assert_string_equal(at_str(e, "dns.answers[1].rdata"), "mail.example.com");
    assert_int_equal(at_int(e, "dns.answers[2].srv.port"), 5060);
    assert_int_equal(at_int(e, "dns.answers[2].srv.priority"), 20);
    assert_string_equal(at_str(e, "dns.answers[2].srv.name"), "sip.example.com");
    assert_string_equal(at_str(e, "dns.answers[3].rdata"), "hello");
    assert_string_equal(at_str(e, "dns.answers[4].rrtype"), "TXT");
    assert_string_equal(at_str(e, "dns.answers[4].rdata"), "");
    assert_string_equal(at_str(e, "dns.grouped.TXT[1]"), "");
    assert_string_equal(at_str(e, "dns.answers[5].rdata"), "example.com");
    assert_string_equal(at_str(e, "dns.authorities[0].soa.mname"), "ns1.example.com");
    assert_string_equal(at_str(e, "dns.authorities[0].soa.rname"), "hostmaster.example.com");
    assert_int_equal(at_int(e, "dns.authorities[0].soa.serial"), 2024010101);
    assert_true(at_has(e, "dns.aa"));
    const char *z = run.sink.zeek[0];
    assert_string_equal(at_str(z, "answers[3]"), "TXT 5 hello TXT 0 "); /* one per record */
    assert_string_equal(at_str(z, "answers[0]"), "2001:db8::1");
    assert_true(at_int(z, "opcode") == 0);
}

/* Names with pointers that loop, point forward, or run off the message. */
static void
test_compression_hostile(void **state)
{
    (void)state;
    struct at_bytes m;
    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    uint64_t loops = net_app_stats()->errors[NET_APP_DNS][NET_APP_ERR_NAME_LOOP];

    /* question name = pointer to itself */
    hdr(&m, 1, 0x0100, 1, 0, 0, 0);
    at_u16(&m, 0xc00c);
    at_u16(&m, 1);
    at_u16(&m, 1);
    at_feed(&run, NET_TOSERVER, m.b, m.n);
    assert_int_equal(run.sink.n, 0);
    assert_int_equal(net_app_stats()->errors[NET_APP_DNS][NET_APP_ERR_NAME_LOOP], loops + 1);

    /* two labels pointing at each other */
    hdr(&m, 2, 0x0100, 1, 0, 0, 0);
    at_u8(&m, 1);
    at_u8(&m, 'a');
    at_u16(&m, 0xc010); /* -> offset 16 */
    at_u16(&m, 0xc00c); /* offset 16: -> 12 */
    at_feed(&run, NET_TOSERVER, m.b, m.n);
    assert_int_equal(run.sink.n, 0);

    /* a forward pointer (real resolvers never do it, Suricata accepts it) */
    hdr(&m, 3, 0x0100, 1, 0, 0, 0);
    at_u16(&m, 0xc012); /* -> offset 18, after the question's type and class */
    at_u16(&m, 1);
    at_u16(&m, 1);
    put_name(&m, "codemonkey.net");
    at_feed(&run, NET_TOSERVER, m.b, m.n);
    assert_int_equal(run.sink.n, 1);
    assert_string_equal(at_str(run.sink.eve[0], "dns.queries[0].rrname"), "codemonkey.net");

    /* a pointer past the end */
    hdr(&m, 4, 0x0100, 1, 0, 0, 0);
    at_u16(&m, 0xc0ff);
    at_u16(&m, 1);
    at_u16(&m, 1);
    at_feed(&run, NET_TOSERVER, m.b, m.n);
    assert_int_equal(run.sink.n, 1);

    /* a label of type 0x40 */
    hdr(&m, 5, 0x0100, 1, 0, 0, 0);
    at_u8(&m, 0x41);
    at_u8(&m, 0);
    at_u16(&m, 1);
    at_u16(&m, 1);
    at_feed(&run, NET_TOSERVER, m.b, m.n);
    assert_int_equal(run.sink.n, 1);
}

/* A name built from many pointer hops is cut at the field size and flagged. */
static void
test_long_name_truncated(void **state)
{
    (void)state;
    struct at_bytes m;
    hdr(&m, 9, 0x0100, 1, 0, 0, 0);
    /* 60 labels of 30 bytes: 1860 characters, more than the 1025 kept */
    for (int i = 0; i < 60; i++) {
        at_u8(&m, 30);
        for (int k = 0; k < 30; k++)
            at_u8(&m, 'a' + (unsigned)(k % 26));
    }
    at_u8(&m, 0);
    at_u16(&m, 16);
    at_u16(&m, 1);
    uint64_t cut = net_app_stats()->truncated_fields;
    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    at_feed(&run, NET_TOSERVER, m.b, m.n);
    assert_int_equal(run.sink.n, 1);
    const struct net_dns_rec *r = run.sink.body[0];
    assert_true(r->truncated);
    assert_true(r->queries[0].name_truncated);
    assert_int_equal(strlen(r->queries[0].name), NET_DNS_QNAME_MAX - 1);
    assert_true(at_has(run.sink.eve[0], "dns.queries[0].rrname_truncated"));
    assert_true(net_app_stats()->truncated_fields > cut);
}

/* Every prefix of a valid response: no crash, no read past the bytes (ASan), errors counted. */
static void
test_every_prefix(void **state)
{
    (void)state;
    struct at_bytes a;
    hdr(&a, 11, 0x8180, 1, 2, 0, 0);
    question(&a, "prefix.example", 1);
    for (int i = 0; i < 2; i++) {
        size_t l = rr_begin(&a, 1, 5);
        at_u32(&a, 0x0a000001u + (unsigned)i);
        rr_end(&a, l);
    }
    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    uint64_t before = net_app_stats()->errors[NET_APP_DNS][NET_APP_ERR_TRUNCATED];
    for (size_t n = 0; n < a.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, a.b, n);
        at_feed(&run, NET_TOCLIENT, copy, n);
        free(copy);
    }
    assert_true(net_app_stats()->errors[NET_APP_DNS][NET_APP_ERR_TRUNCATED] > before);
    /* prefixes that keep the question give records with the answers read so far */
    const struct net_dns_rec *last = run.sink.body[run.sink.n - 1];
    assert_int_equal(last->n_rrs, 1);
}

/* DNS over TCP: two messages in one chunk, then one message one byte at a time. */
static void
test_tcp_framing(void **state)
{
    (void)state;
    struct at_bytes q, f;
    hdr(&q, 21, 0x0100, 1, 0, 0, 0);
    question(&q, "www.google.com", 1);
    f.n = 0;
    for (int i = 0; i < 2; i++) {
        at_u16(&f, (unsigned)q.n);
        at_put(&f, q.b, q.n);
    }
    at_open(&run, &net_app_dns_tcp, IPPROTO_TCP, 53);
    assert_int_equal(app_dns_probe_tcp(f.b, f.n, NET_TOSERVER), 1);
    at_feed(&run, NET_TOSERVER, f.b, f.n);
    assert_int_equal(run.sink.n, 2);
    at_feed_steps(&run, NET_TOSERVER, f.b, q.n + 2, 1);
    assert_int_equal(run.sink.n, 3);
    const struct net_dns_rec *r = run.sink.body[2];
    assert_true(r->tcp);
    assert_string_equal(r->queries[0].name, "www.google.com");

    /* after a gap the parser waits for a chunk that starts like a framed message */
    run.p->gap(run.st, &run.f, NET_TOSERVER, 100);
    at_feed(&run, NET_TOSERVER, f.b + 5, 20); /* mid-message garbage: ignored */
    assert_int_equal(run.sink.n, 3);
    at_feed(&run, NET_TOSERVER, f.b, f.n);
    assert_int_equal(run.sink.n, 5);

    /* a partial message at flow end is counted as truncated */
    uint64_t before = net_app_stats()->errors[NET_APP_DNS][NET_APP_ERR_TRUNCATED];
    at_feed(&run, NET_TOSERVER, f.b, 7);
    at_close(&run);
    assert_int_equal(net_app_stats()->errors[NET_APP_DNS][NET_APP_ERR_TRUNCATED], before + 1);
}

/* More questions and records than the record holds: kept up to the limit, rest counted. */
static void
test_limits(void **state)
{
    (void)state;
    struct at_bytes a;
    hdr(&a, 5, 0x8180, 10, NET_DNS_RRS_MAX + 6, 0, 0);
    for (int i = 0; i < 10; i++)
        question(&a, "q.example", 1);
    for (int i = 0; i < NET_DNS_RRS_MAX + 6; i++) {
        size_t l = rr_begin(&a, 1, 1);
        at_u32(&a, (uint32_t)i);
        rr_end(&a, l);
    }
    uint64_t dropped = net_app_stats()->dropped_items;
    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    at_feed(&run, NET_TOCLIENT, a.b, a.n);
    assert_int_equal(run.sink.n, 1);
    const struct net_dns_rec *r = run.sink.body[0];
    assert_int_equal(r->n_queries, NET_DNS_QUERIES_MAX);
    assert_int_equal(r->n_rrs, NET_DNS_RRS_MAX);
    assert_true(r->truncated);
    assert_int_equal(net_app_stats()->dropped_items - dropped, (10 - NET_DNS_QUERIES_MAX) + 6);
}

static void
test_probes(void **state)
{
    (void)state;
    struct at_bytes q;
    hdr(&q, 1, 0x0100, 1, 0, 0, 0);
    question(&q, "example.org", 1);
    assert_int_equal(app_dns_probe_udp(q.b, q.n, NET_TOSERVER), 1);
    assert_int_equal(app_dns_probe_udp((const uint8_t *)"GET / HTTP/1.1\r\n", 16, NET_TOSERVER), 0);
    assert_int_equal(app_dns_probe_udp(q.b, 5, NET_TOSERVER), 0);
    /* over UDP the content alone does not decide (port_only): the server port does */
    assert_int_equal(net_app_identify(IPPROTO_UDP, q.b, q.n, NET_TOSERVER), NET_APP_UNKNOWN);
    assert_int_equal(net_app_port_hint(IPPROTO_UDP, 53), NET_APP_DNS);
    assert_int_equal(net_app_port_hint(IPPROTO_UDP, 5353), NET_APP_DNS);
    assert_int_equal(net_app_port_hint(IPPROTO_UDP, 2049), NET_APP_UNKNOWN);
}

/* A query never answered is reported at flow end for Zeek only (no second eve record). */
static void
test_unanswered(void **state)
{
    (void)state;
    struct at_bytes q;
    hdr(&q, 77, 0x0100, 1, 0, 0, 0);
    question(&q, "Lost.Example", 28);
    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    at_feed(&run, NET_TOSERVER, q.b, q.n);
    assert_int_equal(run.sink.n, 1);
    at_close(&run);
    assert_int_equal(run.sink.n, 2);
    const struct net_dns_rec *r = run.sink.body[1];
    assert_true(r->unanswered);
    assert_null(run.sink.eve[1]);
    const char *z = run.sink.zeek[1];
    assert_non_null(z);
    assert_string_equal(at_str(z, "query"), "lost.example");
    assert_int_equal(at_int(z, "qtype"), 28);
    assert_int_equal(at_int(z, "trans_id"), 77);
    assert_false(at_has(z, "rcode"));
    assert_false(at_has(z, "answers"));
}

/*
 * Up to 32 queries are remembered per flow (the first two in the state, more in an array
 * grown to 32): the 33rd reports the oldest as unanswered, replies pair with their queries
 * wherever they sit, and the rest are reported at the flow's end, oldest first.
 */
static void
test_many_pending(void **state)
{
    (void)state;
    struct at_bytes q;
    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    for (unsigned id = 1; id <= 34; id++) {
        hdr(&q, id, 0x0100, 1, 0, 0, 0);
        question(&q, "many.example", 1);
        at_feed(&run, NET_TOSERVER, q.b, q.n);
    }
    assert_int_equal(run.sink.n, 36); /* 34 queries, q1 and q2 pushed out */
    const struct net_dns_rec *r = run.sink.body[32];
    assert_true(r->unanswered);
    assert_int_equal(r->id, 1);
    r = run.sink.body[34];
    assert_true(r->unanswered);
    assert_int_equal(r->id, 2);
    unsigned answer[] = {3, 34, 17, 1};
    for (size_t i = 0; i < BN_ARRAY_SIZE(answer); i++) {
        hdr(&q, answer[i], 0x8180, 1, 0, 0, 0);
        question(&q, "many.example", 1);
        at_feed(&run, NET_TOCLIENT, q.b, q.n);
        r = run.sink.body[36 + i];
        assert_false(r->unanswered);
        assert_int_equal(r->id, answer[i]);
        assert_int_equal(r->query_seen, answer[i] != 1); /* q1 was given up */
    }
    at_close(&run);
    assert_int_equal(run.sink.n, AT_MAX); /* 29 more; the sink keeps 64 */
    unsigned want = 4;
    for (size_t i = 40; i < AT_MAX; i++, want++) {
        if (want == 17)
            want++;
        r = run.sink.body[i];
        assert_true(r->unanswered);
        assert_int_equal(r->id, want);
    }
}

/* mDNS / LLMNR: parsed and rendered for Zeek, no eve form (Suricata does not log them). */
static void
test_link_local(void **state)
{
    (void)state;
    struct at_bytes q;
    hdr(&q, 0, 0x0000, 1, 0, 0, 0);
    question(&q, "printer.local", 1);
    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 5353);
    at_feed(&run, NET_TOSERVER, q.b, q.n);
    assert_int_equal(run.sink.n, 1);
    assert_true(((const struct net_dns_rec *)run.sink.body[0])->link_local);
    assert_null(run.sink.eve[0]);
    at_close(&run);
    assert_int_equal(run.sink.n, 2);
    assert_string_equal(at_str(run.sink.zeek[1], "query"), "printer.local");
}

/* Allocation failures at every step: the message is lost and counted, nothing leaks. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    struct at_bytes q;
    hdr(&q, 1, 0x0100, 1, 0, 0, 0);
    question(&q, "oom.example", 1);
    for (unsigned long n = 1; n < 10; n++) {
        struct at_run r;
        bn_alloc_fail_after(n);
        at_open(&r, &net_app_dns_tcp, IPPROTO_TCP, 53);
        uint8_t framed[512];
        framed[0] = 0;
        framed[1] = (uint8_t)q.n;
        memcpy(framed + 2, q.b, q.n);
        at_feed_steps(&r, NET_TOSERVER, framed, q.n + 2, 7);
        bn_alloc_fail_after(0);
        at_done(&r);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_query_and_answer_udp, at_teardown),
        cmocka_unit_test_teardown(test_rdata_types, at_teardown),
        cmocka_unit_test_teardown(test_compression_hostile, at_teardown),
        cmocka_unit_test_teardown(test_long_name_truncated, at_teardown),
        cmocka_unit_test_teardown(test_every_prefix, at_teardown),
        cmocka_unit_test_teardown(test_tcp_framing, at_teardown),
        cmocka_unit_test_teardown(test_limits, at_teardown),
        cmocka_unit_test_teardown(test_probes, at_teardown),
        cmocka_unit_test_teardown(test_unanswered, at_teardown),
        cmocka_unit_test_teardown(test_many_pending, at_teardown),
        cmocka_unit_test_teardown(test_link_local, at_teardown),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
