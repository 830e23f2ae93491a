/*
 * test_frame_file.c - the file upload frames (FILE_OFFER, FILE_CHUNK, FILE_END signed over
 * the session nonce; FILE_STATUS): round trip, signatures that fail for another nonce, another
 * key, another frame type's domain and any flipped byte, and refusals with a reason for a bad
 * name, an empty or over-limit chunk, a chunk past the attachment limit, trailing bytes,
 * action id 0 and an unknown status.
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
#include "bannin/limits.h"
#include "bannin/wire.h"

static uint8_t pk[BN_WIRE_PK], sk[BN_WIRE_SK], pk2[BN_WIRE_PK], sk2[BN_WIRE_SK];
static uint8_t nonce[BN_WIRE_NONCE], nonce2[BN_WIRE_NONCE];

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    randombytes_buf(nonce, sizeof(nonce));
    randombytes_buf(nonce2, sizeof(nonce2));
    return 0;
}

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
test_offer(void **state)
{
    (void)state;
    uint8_t sha[32];
    memset(sha, 0xab, sizeof(sha));
    struct bn_buf b;
    bn_buf_init(&b, 1 << 20);
    struct bn_wire_file_offer m = {42, {"forensics-1.tar.zst", 19}, 12345, sha, NULL, NULL, 0};
    assert_int_equal(bn_wire_file_offer_encode(&b, &m, nonce, sk), 0);
    uint32_t len;
    const uint8_t *p = payload(&b, BN_WIRE_FILE_OFFER, &len);
    struct bn_wire_file_offer d;
    struct bn_wire_err e;
    assert_int_equal(bn_wire_file_offer_decode(p, len, &d, &e), 0);
    assert_int_equal(d.action_id, 42);
    assert_int_equal(d.size, 12345);
    assert_int_equal(d.name.len, 19);
    assert_memory_equal(d.name.p, "forensics-1.tar.zst", 19);
    assert_memory_equal(d.sha256, sha, 32);
    assert_int_equal(bn_wire_file_verify(BN_WIRE_FILE_OFFER, d.signed_part, d.signed_len, d.sig,
                                         nonce, pk),
                     0);
    /* another session, another key, another frame's domain */
    assert_int_equal(bn_wire_file_verify(BN_WIRE_FILE_OFFER, d.signed_part, d.signed_len, d.sig,
                                         nonce2, pk),
                     BN_EPROTO);
    assert_int_equal(bn_wire_file_verify(BN_WIRE_FILE_OFFER, d.signed_part, d.signed_len, d.sig,
                                         nonce, pk2),
                     BN_EPROTO);
    assert_int_equal(bn_wire_file_verify(BN_WIRE_FILE_END, d.signed_part, d.signed_len, d.sig,
                                         nonce, pk),
                     BN_EPROTO);
    /* every signed byte counts */
    uint8_t *q = (uint8_t *)b.p + BN_WIRE_HDR;
    for (size_t i = 0; i < d.signed_len; i++) {
        q[i] ^= 0x01;
        struct bn_wire_file_offer x;
        if (bn_wire_file_offer_decode(q, len, &x, &e) == 0)
            assert_int_equal(bn_wire_file_verify(BN_WIRE_FILE_OFFER, x.signed_part, x.signed_len,
                                                 x.sig, nonce, pk),
                             BN_EPROTO);
        q[i] ^= 0x01;
    }
    /* trailing byte, short */
    assert_int_equal(bn_buf_putc(&b, 0), 0);
    assert_int_equal(bn_wire_file_offer_decode(q, len + 1, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "trailing"));
    assert_int_equal(bn_wire_file_offer_decode(q, len - 1, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "signature"));
    /* names: not plain file names are refused by both ends */
    const char *bad[] = {"", ".", "..", "a/b", "x y", "../etc", "a\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bn_wire_file_offer n = {42, {bad[i], strlen(bad[i])}, 1, sha, NULL, NULL, 0};
        bn_buf_reset(&b);
        assert_int_equal(bn_wire_file_offer_encode(&b, &n, nonce, sk), BN_EINVAL);
    }
    /* a hand-made offer with a slash in the name */
    bn_buf_reset(&b);
    struct bn_wire_file_offer ok = {42, {"aaaa", 4}, 1, sha, NULL, NULL, 0};
    assert_int_equal(bn_wire_file_offer_encode(&b, &ok, nonce, sk), 0);
    p = payload(&b, BN_WIRE_FILE_OFFER, &len);
    ((uint8_t *)b.p)[BN_WIRE_HDR + 12 + 1] = '/';
    assert_int_equal(bn_wire_file_offer_decode(p, len, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "not a plain file name"));
    /* action id 0 */
    ((uint8_t *)b.p)[BN_WIRE_HDR + 12 + 1] = 'a';
    memset(b.p + BN_WIRE_HDR, 0, 8);
    assert_int_equal(bn_wire_file_offer_decode(p, len, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "action_id 0"));
    bn_buf_release(&b);
}

static void
test_chunk_end_status(void **state)
{
    (void)state;
    struct bn_buf b;
    bn_buf_init(&b, BN_WIRE_HDR + BN_WIRE_FRAME_MAX);
    static uint8_t data[BN_WIRE_CHUNK_MAX + 1];
    memset(data, 'z', sizeof(data));
    struct bn_wire_file_chunk c = {7, 1000, data, BN_WIRE_CHUNK_MAX, NULL, NULL, 0};
    assert_int_equal(bn_wire_file_chunk_encode(&b, &c, nonce, sk), 0);
    uint32_t len;
    const uint8_t *p = payload(&b, BN_WIRE_FILE_CHUNK, &len);
    struct bn_wire_file_chunk d;
    struct bn_wire_err e;
    assert_int_equal(bn_wire_file_chunk_decode(p, len, &d, &e), 0);
    assert_int_equal(d.offset, 1000);
    assert_int_equal(d.len, BN_WIRE_CHUNK_MAX);
    assert_memory_equal(d.data, data, d.len);
    assert_int_equal(bn_wire_file_verify(BN_WIRE_FILE_CHUNK, d.signed_part, d.signed_len, d.sig,
                                         nonce, pk),
                     0);
    assert_int_equal(bn_wire_file_verify(BN_WIRE_FILE_OFFER, d.signed_part, d.signed_len, d.sig,
                                         nonce, pk),
                     BN_EPROTO);
    /* over the chunk limit and empty: refused by the encoder */
    bn_buf_reset(&b);
    c.len = BN_WIRE_CHUNK_MAX + 1;
    assert_int_equal(bn_wire_file_chunk_encode(&b, &c, nonce, sk), BN_ETOOBIG);
    c.len = 0;
    assert_int_equal(bn_wire_file_chunk_encode(&b, &c, nonce, sk), BN_EINVAL);
    /* past the attachment limit: refused by the decoder */
    c.len = 10;
    c.offset = BN_ATTACH_SIZE_MAX - 5;
    assert_int_equal(bn_wire_file_chunk_encode(&b, &c, nonce, sk), 0);
    p = payload(&b, BN_WIRE_FILE_CHUNK, &len);
    assert_int_equal(bn_wire_file_chunk_decode(p, len, &d, &e), BN_ETOOBIG);
    assert_non_null(strstr(e.msg, "attachment limit"));
    /* a data length over the limit written by hand */
    uint8_t *q = (uint8_t *)b.p + BN_WIRE_HDR + 16;
    q[0] = 0x7f;
    assert_int_equal(bn_wire_file_chunk_decode(p, len, &d, &e), BN_ETOOBIG);
    assert_non_null(strstr(e.msg, "'data'"));

    uint8_t sha[32];
    memset(sha, 3, 32);
    bn_buf_reset(&b);
    struct bn_wire_file_end en = {7, 99, sha, NULL, NULL, 0};
    assert_int_equal(bn_wire_file_end_encode(&b, &en, nonce, sk), 0);
    p = payload(&b, BN_WIRE_FILE_END, &len);
    struct bn_wire_file_end de;
    assert_int_equal(bn_wire_file_end_decode(p, len, &de, &e), 0);
    assert_int_equal(de.size, 99);
    assert_memory_equal(de.sha256, sha, 32);
    assert_int_equal(bn_wire_file_verify(BN_WIRE_FILE_END, de.signed_part, de.signed_len, de.sig,
                                         nonce, pk),
                     0);
    assert_int_equal(bn_wire_file_end_decode(p, len - 64, &de, &e), BN_EPROTO);

    bn_buf_reset(&b);
    struct bn_wire_file_status s = {7, BN_WIRE_FILE_SEND, 4096, {"send from byte 4096", 19}};
    assert_int_equal(bn_wire_file_status_encode(&b, &s), 0);
    p = payload(&b, BN_WIRE_FILE_STATUS, &len);
    struct bn_wire_file_status ds;
    assert_int_equal(bn_wire_file_status_decode(p, len, &ds, &e), 0);
    assert_int_equal(ds.state, BN_WIRE_FILE_SEND);
    assert_int_equal(ds.offset, 4096);
    ((uint8_t *)b.p)[BN_WIRE_HDR + 11] = 3;
    assert_int_equal(bn_wire_file_status_decode(p, len, &ds, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "state 3"));
    assert_string_equal(bn_wire_type_name(BN_WIRE_FILE_STATUS), "file_status");
    /* type 16 is not a frame type */
    uint8_t h[BN_WIRE_HDR];
    bn_wire_hdr_encode(h, 16, 0);
    int type;
    assert_int_equal(bn_wire_hdr_decode(h, sizeof(h), &type, &len, &e), BN_EPROTO);
    bn_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer),
        cmocka_unit_test(test_chunk_end_status),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
