/*
 * test_frame_action.c - the ACTION and RESULT frames of response actions: round trip, and
 * refusals with a reason for a bad type name, over-limit params, trailing or short bytes,
 * an unknown status, action id 0 and non-UTF-8 text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/wire.h"

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

static struct bn_str
S(const char *s)
{
    struct bn_str r = {s, strlen(s)};
    return r;
}

static void
test_action_roundtrip(void **state)
{
    (void)state;
    struct bn_buf b;
    bn_buf_init(&b, 1u << 20);
    struct bn_wire_action a = {42, S("kill_tree"), S("{\"pid\":123}"), 1700000000000000000ull};
    assert_int_equal(bn_wire_action_encode(&b, &a), 0);
    uint32_t len;
    const uint8_t *p = payload(&b, BN_WIRE_ACTION, &len);
    struct bn_wire_action d;
    struct bn_wire_err e;
    assert_int_equal(bn_wire_action_decode(p, len, &d, &e), 0);
    assert_int_equal(d.action_id, 42);
    assert_int_equal(d.type.len, 9);
    assert_memory_equal(d.type.p, "kill_tree", 9);
    assert_int_equal(d.params.len, strlen("{\"pid\":123}"));
    assert_int_equal(d.expires_ns, 1700000000000000000ull);
    assert_string_equal(bn_wire_type_name(BN_WIRE_ACTION), "action");
    assert_string_equal(bn_wire_type_name(BN_WIRE_RESULT), "result");

    /* short and trailing bytes */
    assert_int_equal(bn_wire_action_decode(p, len - 1, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "expires_ns"));
    uint8_t big[256];
    memcpy(big, p, len);
    big[len] = 0;
    assert_int_equal(bn_wire_action_decode(big, len + 1, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "trailing"));

    /* a type that is not a plain name */
    bn_buf_reset(&b);
    a.type = S("kill;rm");
    assert_int_equal(bn_wire_action_encode(&b, &a), 0);
    p = payload(&b, BN_WIRE_ACTION, &len);
    assert_int_equal(bn_wire_action_decode(p, len, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "'type' byte 4"));
    bn_buf_reset(&b);
    a.type = S("");
    assert_int_equal(bn_wire_action_encode(&b, &a), 0);
    p = payload(&b, BN_WIRE_ACTION, &len);
    assert_int_equal(bn_wire_action_decode(p, len, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "empty"));

    /* action id 0 */
    bn_buf_reset(&b);
    a.type = S("kill");
    a.action_id = 0;
    assert_int_equal(bn_wire_action_encode(&b, &a), 0);
    p = payload(&b, BN_WIRE_ACTION, &len);
    assert_int_equal(bn_wire_action_decode(p, len, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "action_id 0"));

    /* params over the limit: the encoder refuses, and so does the decoder */
    bn_buf_reset(&b);
    char *huge = bn_malloc(BN_WIRE_ACTION_PARAMS_MAX + 2);
    memset(huge, 'a', BN_WIRE_ACTION_PARAMS_MAX + 1);
    huge[BN_WIRE_ACTION_PARAMS_MAX + 1] = 0;
    a.action_id = 7;
    a.params = S(huge);
    assert_int_equal(bn_wire_action_encode(&b, &a), BN_ETOOBIG);
    assert_int_equal(b.len, 0);
    /* hand-made frame: id, type "kill", params length over the limit */
    uint8_t raw[32] = {0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 4, 'k', 'i', 'l', 'l', 0, 1, 0, 1};
    assert_int_equal(bn_wire_action_decode(raw, 20, &d, &e), BN_ETOOBIG);
    assert_non_null(strstr(e.msg, "params"));
    bn_free(huge);
    bn_buf_release(&b);
}

static void
test_result_roundtrip(void **state)
{
    (void)state;
    struct bn_buf b;
    bn_buf_init(&b, 4u << 20);
    struct bn_wire_result r = {42, BN_WIRE_ACT_DONE, S("{\"ok\":true,\"killed\":3}")};
    assert_int_equal(bn_wire_result_encode(&b, &r), 0);
    uint32_t len;
    const uint8_t *p = payload(&b, BN_WIRE_RESULT, &len);
    struct bn_wire_result d;
    struct bn_wire_err e;
    assert_int_equal(bn_wire_result_decode(p, len, &d, &e), 0);
    assert_int_equal(d.action_id, 42);
    assert_int_equal(d.status, BN_WIRE_ACT_DONE);
    assert_int_equal(d.result.len, r.result.len);
    assert_memory_equal(d.result.p, r.result.p, r.result.len);

    bn_buf_reset(&b);
    r.status = 9;
    assert_int_equal(bn_wire_result_encode(&b, &r), 0);
    p = payload(&b, BN_WIRE_RESULT, &len);
    assert_int_equal(bn_wire_result_decode(p, len, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "status 9"));

    bn_buf_reset(&b);
    r.status = BN_WIRE_ACT_EXPIRED;
    r.result = S("{\"ok\":false,\"error\":\"\xff\"}");
    assert_int_equal(bn_wire_result_encode(&b, &r), 0);
    p = payload(&b, BN_WIRE_RESULT, &len);
    assert_int_equal(bn_wire_result_decode(p, len, &d, &e), BN_EPROTO);
    assert_non_null(strstr(e.msg, "UTF-8"));

    bn_buf_reset(&b);
    assert_int_equal(bn_wire_result_ack_encode(&b, 99), 0);
    p = payload(&b, BN_WIRE_RESULT_ACK, &len);
    uint64_t id = 0;
    assert_int_equal(bn_wire_result_ack_decode(p, len, &id, &e), 0);
    assert_int_equal(id, 99);
    assert_int_equal(bn_wire_result_ack_decode(p, len - 1, &id, &e), BN_EPROTO);
    bn_buf_reset(&b);
    assert_int_equal(bn_wire_result_ack_encode(&b, 0), 0);
    p = payload(&b, BN_WIRE_RESULT_ACK, &len);
    assert_int_equal(bn_wire_result_ack_decode(p, len, &id, &e), BN_EPROTO);
    bn_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_roundtrip),
        cmocka_unit_test(test_result_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
