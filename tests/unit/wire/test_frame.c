/*
 * test_frame.c - the link's frames: header checks, control messages round trip, batches
 * compress, sign, verify and split; tampering, a wrong nonce, bad framing and over-limit
 * sizes are refused with a reason; allocation failures fail cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/wire.h"
#include "bannin/hex.h"

static const uint8_t *
payload(const struct bn_buf *b, int want_type, uint32_t *len)
{
    int type;
    struct bn_wire_err e;
    assert_int_equal(bn_wire_hdr_decode((const uint8_t *)b->p, b->len, &type, len, &e), 0);
    assert_int_equal(type, want_type);
    assert_int_equal(*len, b->len - BN_WIRE_HDR);
    return (const uint8_t *)b->p + BN_WIRE_HDR;
}

static void
test_header(void **state)
{
    (void)state;
    uint8_t h[BN_WIRE_HDR];
    int type;
    uint32_t len;
    struct bn_wire_err e;
    bn_wire_hdr_encode(h, BN_WIRE_ACK, 28);
    assert_int_equal(bn_wire_hdr_decode(h, sizeof(h), &type, &len, &e), 0);
    assert_int_equal(type, BN_WIRE_ACK);
    assert_int_equal(len, 28);
    assert_int_equal(bn_wire_hdr_decode(h, 5, &type, &len, &e), BN_EPROTO);
    h[0] = 'G'; /* "GET /" from an HTTP client */
    assert_int_equal(bn_wire_hdr_decode(h, sizeof(h), &type, &len, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "magic"));
    bn_wire_hdr_encode(h, 99, 0);
    assert_int_equal(bn_wire_hdr_decode(h, sizeof(h), &type, &len, &e), BN_EPROTO);
    bn_wire_hdr_encode(h, BN_WIRE_BATCH, BN_WIRE_FRAME_MAX + 1);
    assert_int_equal(bn_wire_hdr_decode(h, sizeof(h), &type, &len, &e), BN_ETOOBIG);
    assert_non_null(strstr(e.msg, "over the limit"));
    bn_wire_hdr_encode(h, BN_WIRE_BATCH, 10);
    h[6] = 1;
    assert_int_equal(bn_wire_hdr_decode(h, sizeof(h), &type, &len, &e), BN_EPROTO);
}

static void
test_control_roundtrip(void **state)
{
    (void)state;
    struct bn_buf b;
    struct bn_wire_err e;
    uint32_t len;
    const uint8_t *p;
    bn_buf_init(&b, 1 << 20);

    uint8_t pk[BN_WIRE_PK];
    memset(pk, 7, sizeof(pk));
    struct bn_wire_enroll en = {{"tok", 3},   {"-----BEGIN", 10}, pk,
                                {"host1", 5}, {"0.1", 3},         60000};
    assert_int_equal(bn_wire_enroll_encode(&b, &en), 0);
    p = payload(&b, BN_WIRE_ENROLL, &len);
    struct bn_wire_enroll en2;
    assert_int_equal(bn_wire_enroll_decode(p, len, &en2, &e), 0);
    assert_int_equal(en2.token.len, 3);
    assert_memory_equal(en2.token.p, "tok", 3);
    assert_memory_equal(en2.sign_pk, pk, BN_WIRE_PK);
    assert_memory_equal(en2.hostname.p, "host1", 5);
    assert_int_equal(en2.heartbeat_ms, 60000);
    /* cut anywhere: refused with the field named */
    for (uint32_t cut = 0; cut < len; cut++) {
        assert_int_equal(bn_wire_enroll_decode(p, cut, &en2, &e), BN_EPROTO);
        assert_non_null(strstr(e.msg, "enroll frame"));
    }
    /* a trailing byte is refused too */
    bn_buf_putc(&b, 0);
    assert_int_equal(bn_wire_enroll_decode(p, len + 1, &en2, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "trailing"));

    bn_buf_reset(&b);
    struct bn_wire_hello h = {{"web-1", 5}, {"0.1.0", 5}, 5000, 41, 42};
    assert_int_equal(bn_wire_hello_encode(&b, &h), 0);
    p = payload(&b, BN_WIRE_HELLO, &len);
    struct bn_wire_hello h2;
    assert_int_equal(bn_wire_hello_decode(p, len, &h2, &e), 0);
    assert_int_equal(h2.heartbeat_ms, 5000);
    assert_int_equal(h2.acked_seq, 41);
    assert_int_equal(h2.next_seq, 42);

    bn_buf_reset(&b);
    h.heartbeat_ms = 1;
    assert_int_equal(bn_wire_hello_encode(&b, &h), 0);
    p = payload(&b, BN_WIRE_HELLO, &len);
    assert_int_equal(bn_wire_hello_decode(p, len, &h2, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "heartbeat"));

    bn_buf_reset(&b);
    struct bn_wire_ack a = {10, 19, 8, 2};
    assert_int_equal(bn_wire_ack_encode(&b, &a), 0);
    p = payload(&b, BN_WIRE_ACK, &len);
    struct bn_wire_ack a2;
    assert_int_equal(bn_wire_ack_decode(p, len, &a2, &e), 0);
    assert_int_equal(a2.first_seq, 10);
    assert_int_equal(a2.last_seq, 19);
    assert_int_equal(a2.inserted, 8);
    assert_int_equal(a2.dups, 2);

    bn_buf_reset(&b);
    struct bn_wire_heartbeat hb = {123, 2, {"{\"cpu\":1}", 9}};
    assert_int_equal(bn_wire_heartbeat_encode(&b, &hb), 0);
    p = payload(&b, BN_WIRE_HEARTBEAT, &len);
    struct bn_wire_heartbeat hb2;
    assert_int_equal(bn_wire_heartbeat_decode(p, len, &hb2, &e), 0);
    assert_int_equal(hb2.tier, 2);
    assert_memory_equal(hb2.health_json.p, "{\"cpu\":1}", 9);

    /* over-limit fields are refused by the encoder */
    bn_buf_reset(&b);
    static char big[BN_WIRE_HEALTH_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    hb.health_json.p = big;
    hb.health_json.len = sizeof(big) - 1;
    assert_int_equal(bn_wire_heartbeat_encode(&b, &hb), BN_ETOOBIG);
    assert_int_equal(b.len, 0);

    bn_buf_reset(&b);
    assert_int_equal(bn_wire_error_encode(&b, BN_EDENIED, "agent revoked"), 0);
    p = payload(&b, BN_WIRE_ERROR, &len);
    struct bn_wire_error er;
    assert_int_equal(bn_wire_error_decode(p, len, &er, &e), 0);
    assert_int_equal(-(int)er.code, BN_EDENIED);
    assert_memory_equal(er.msg.p, "agent revoked", 13);
    bn_buf_release(&b);
}

static void
test_batch_roundtrip(void **state)
{
    (void)state;
    uint8_t pk[BN_WIRE_PK], sk[BN_WIRE_SK], nonce[BN_WIRE_NONCE];
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(pk, sk);
    randombytes_buf(nonce, sizeof(nonce));
    struct bn_wire_packer *pk_ = NULL;
    struct bn_wire_unpacker *u = NULL;
    assert_int_equal(bn_wire_packer_new(&pk_, 1), 0);
    assert_int_equal(bn_wire_unpacker_new(&u), 0);
    char ev[256];
    for (uint64_t s = 100; s < 1100; s++) {
        int n = snprintf(ev, sizeof(ev), "{\"EventID\":1,\"seq\":%llu,\"Image\":\"/usr/bin/x\"}",
                         (unsigned long long)s);
        /* a gap at 500: the spool shed events */
        if (s == 500)
            continue;
        assert_int_equal(bn_wire_packer_add(pk_, s, ev, (size_t)n), 0);
    }
    assert_int_equal(bn_wire_packer_add(pk_, 1099, "x", 1), BN_EINVAL);
    assert_int_equal(bn_wire_packer_count(pk_), 999);
    struct bn_buf f;
    bn_buf_init(&f, BN_WIRE_FRAME_MAX + BN_WIRE_HDR);
    assert_int_equal(bn_wire_packer_seal(pk_, nonce, sk, &f), 0);
    uint32_t len;
    const uint8_t *p = payload(&f, BN_WIRE_BATCH, &len);
    assert_true(len < bn_wire_packer_raw_len(pk_) / 4); /* compressed */

    struct bn_wire_batch b;
    struct bn_wire_err e;
    assert_int_equal(bn_wire_batch_parse(p, len, &b, &e), 0);
    assert_int_equal(b.first_seq, 100);
    assert_int_equal(b.last_seq, 1099);
    assert_int_equal(b.count, 999);
    assert_int_equal(bn_wire_batch_verify(&b, nonce, pk), 0);
    const struct bn_wire_event *evs;
    size_t n;
    assert_int_equal(bn_wire_unpack(u, &b, &evs, &n, &e), 0);
    assert_int_equal(n, 999);
    assert_int_equal(evs[0].seq, 100);
    assert_int_equal(evs[400].seq, 501);
    assert_non_null(memmem(evs[400].data, evs[400].len, "\"seq\":501", 9));

    /* another session's nonce: the signature does not hold (a replayed recording) */
    uint8_t other[BN_WIRE_NONCE];
    memcpy(other, nonce, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(bn_wire_batch_verify(&b, other, pk), BN_EPROTO);
    /* another agent's key */
    uint8_t pk2[BN_WIRE_PK], sk2[BN_WIRE_SK];
    crypto_sign_keypair(pk2, sk2);
    assert_int_equal(bn_wire_batch_verify(&b, nonce, pk2), BN_EPROTO);
    /* any flipped byte of the payload breaks the signature or the parse */
    static uint8_t copy[1 << 20];
    assert_true(len <= sizeof(copy));
    for (uint32_t i = 0; i < len; i += 7) {
        memcpy(copy, p, len);
        copy[i] ^= 0x40;
        struct bn_wire_batch b2;
        if (bn_wire_batch_parse(copy, len, &b2, &e) == 0)
            assert_int_equal(bn_wire_batch_verify(&b2, nonce, pk), BN_EPROTO);
    }
    bn_buf_release(&f);
    bn_wire_packer_free(pk_);
    bn_wire_unpacker_free(u);
}

/* Builds an unsigned, uncompressed BATCH payload by hand to reach the body checks. */
static size_t
raw_batch(uint8_t *out, uint64_t first, uint64_t last, uint32_t count, const uint8_t *body,
          uint32_t body_len)
{
    size_t o = 0;
    for (int i = 7; i >= 0; i--)
        out[o++] = (uint8_t)(first >> (8 * i));
    for (int i = 7; i >= 0; i--)
        out[o++] = (uint8_t)(last >> (8 * i));
    for (int i = 3; i >= 0; i--)
        out[o++] = (uint8_t)(count >> (8 * i));
    out[o++] = BN_WIRE_CODEC_NONE;
    for (int k = 0; k < 2; k++)
        for (int i = 3; i >= 0; i--)
            out[o++] = (uint8_t)(body_len >> (8 * i));
    memcpy(out + o, body, body_len);
    o += body_len;
    memset(out + o, 0, BN_WIRE_SIG);
    return o + BN_WIRE_SIG;
}

static size_t
rec(uint8_t *out, uint64_t seq, const char *s, uint32_t len)
{
    for (int i = 7; i >= 0; i--)
        out[7 - i] = (uint8_t)(seq >> (8 * i));
    for (int i = 3; i >= 0; i--)
        out[11 - i] = (uint8_t)(len >> (8 * i));
    memcpy(out + 12, s, strlen(s));
    return 12 + strlen(s);
}

static void
test_batch_refusals(void **state)
{
    (void)state;
    static uint8_t buf[4096], body[1024];
    struct bn_wire_batch b;
    struct bn_wire_err e;
    struct bn_wire_unpacker *u;
    const struct bn_wire_event *ev;
    size_t n, bl;
    assert_int_equal(bn_wire_unpacker_new(&u), 0);

    /* good: two records */
    bl = rec(body, 5, "{}", 2);
    bl += rec(body + bl, 7, "{\"a\":1}", 7);
    size_t len = raw_batch(buf, 5, 7, 2, body, (uint32_t)bl);
    assert_int_equal(bn_wire_batch_parse(buf, len, &b, &e), 0);
    assert_int_equal(bn_wire_unpack(u, &b, &ev, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ev[1].seq, 7);

    /* seqs out of order */
    bl = rec(body, 5, "{}", 2);
    bl += rec(body + bl, 5, "{}", 2);
    len = raw_batch(buf, 5, 7, 2, body, (uint32_t)bl);
    assert_int_equal(bn_wire_batch_parse(buf, len, &b, &e), 0);
    assert_int_equal(bn_wire_unpack(u, &b, &ev, &n, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "out of order"));

    /* a record longer than what is left */
    bl = rec(body, 5, "{}", 200);
    len = raw_batch(buf, 5, 5, 1, body, (uint32_t)bl);
    assert_int_equal(bn_wire_batch_parse(buf, len, &b, &e), 0);
    assert_int_equal(bn_wire_unpack(u, &b, &ev, &n, &e), BN_EPROTO);

    /* header last_seq not matching the last record */
    bl = rec(body, 5, "{}", 2);
    len = raw_batch(buf, 5, 9, 1, body, (uint32_t)bl);
    assert_int_equal(bn_wire_batch_parse(buf, len, &b, &e), 0);
    assert_int_equal(bn_wire_unpack(u, &b, &ev, &n, &e), BN_EPROTO);

    /* too many events, zero events, impossible seq ranges */
    len = raw_batch(buf, 1, 1000000, BN_WIRE_BATCH_EVENTS_MAX + 1, body, 12);
    assert_int_equal(bn_wire_batch_parse(buf, len, &b, &e), BN_ETOOBIG);
    len = raw_batch(buf, 1, 1, 0, body, 12);
    assert_int_equal(bn_wire_batch_parse(buf, len, &b, &e), BN_EPROTO);
    len = raw_batch(buf, 5, 6, 3, body, 36);
    assert_int_equal(bn_wire_batch_parse(buf, len, &b, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "cannot hold"));

    /* a zstd body that is not zstd */
    bl = rec(body, 5, "{}", 2);
    len = raw_batch(buf, 5, 5, 1, body, (uint32_t)bl);
    buf[20] = BN_WIRE_CODEC_ZSTD;
    assert_int_equal(bn_wire_batch_parse(buf, len, &b, &e), 0);
    assert_int_equal(bn_wire_unpack(u, &b, &ev, &n, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "zstd"));
    bn_wire_unpacker_free(u);
}

static void
test_batch_limits(void **state)
{
    (void)state;
    struct bn_wire_packer *p;
    assert_int_equal(bn_wire_packer_new(&p, 1), 0);
    static char big[BN_WIRE_EVENT_MAX + 1];
    memset(big, 'a', sizeof(big));
    assert_int_equal(bn_wire_packer_add(p, 1, big, sizeof(big)), BN_ETOOBIG);
    assert_int_equal(bn_wire_packer_count(p), 0);
    uint64_t s = 1;
    int rc;
    while ((rc = bn_wire_packer_add(p, s, big, BN_WIRE_EVENT_MAX)) == 0)
        s++;
    assert_int_equal(rc, BN_ETOOBIG);
    assert_true(bn_wire_packer_raw_len(p) <= BN_WIRE_BATCH_RAW_MAX);
    bn_wire_packer_reset(p);
    assert_int_equal(bn_wire_packer_count(p), 0);
    bn_wire_packer_free(p);
}

static void
test_batch_alloc_failures(void **state)
{
    (void)state;
    uint8_t pk[BN_WIRE_PK], sk[BN_WIRE_SK], nonce[BN_WIRE_NONCE] = {0};
    crypto_sign_keypair(pk, sk);
    for (unsigned long fail_at = 1;; fail_at++) {
        struct bn_wire_packer *p = NULL;
        struct bn_wire_unpacker *u = NULL;
        struct bn_buf f;
        bn_buf_init(&f, 1 << 20);
        bn_alloc_fail_after(fail_at);
        int rc = bn_wire_packer_new(&p, 1);
        if (!rc)
            rc = bn_wire_unpacker_new(&u);
        for (uint64_t s = 1; !rc && s < 50; s++)
            rc = bn_wire_packer_add(p, s, "{\"x\":1}", 7);
        if (!rc)
            rc = bn_wire_packer_seal(p, nonce, sk, &f);
        struct bn_wire_batch b;
        struct bn_wire_err e;
        const struct bn_wire_event *ev;
        size_t n;
        if (!rc)
            rc = bn_wire_batch_parse((const uint8_t *)f.p + BN_WIRE_HDR, f.len - BN_WIRE_HDR, &b,
                                     &e);
        if (!rc)
            rc = bn_wire_unpack(u, &b, &ev, &n, &e);
        bn_alloc_fail_after(0);
        bn_buf_release(&f);
        bn_wire_packer_free(p);
        bn_wire_unpacker_free(u);
        if (rc == 0)
            break;
        assert_int_equal(rc, BN_ENOMEM);
        assert_true(fail_at < 100);
    }
}

static void
test_hex(void **state)
{
    (void)state;
    uint8_t in[4] = {0, 0xab, 0x10, 0xff}, out[4];
    char h[9];
    assert_string_equal(bn_hex_encode(in, 4, h), "00ab10ff");
    assert_int_equal(bn_hex_decode(h, 8, out, 4, NULL), 0);
    assert_memory_equal(in, out, 4);
    assert_int_equal(bn_hex_decode("00ab10fg", 8, out, 4, NULL), BN_EINVAL);
    size_t bad = 0;
    assert_int_equal(bn_hex_decode("00aB1x0f", 8, out, 4, &bad), BN_EINVAL);
    assert_int_equal(bad, 5);
    assert_int_equal(bn_hex_decode("00ab", 4, out, 4, &bad), BN_EINVAL);
    assert_int_equal(bad, 4);
    assert_int_equal(bn_hex_decode("00ab", 4, out, 4, NULL), BN_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_control_roundtrip),
        cmocka_unit_test(test_batch_roundtrip),
        cmocka_unit_test(test_batch_refusals),
        cmocka_unit_test(test_batch_limits),
        cmocka_unit_test(test_batch_alloc_failures),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
