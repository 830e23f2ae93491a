/*
 * test_event_render.c - the renderer's shortcuts give what the slow forms gave: the time a
 * record built beside the line carries is the one the reader parses from its UtcTime, for
 * times at the edges (before 1970, around the ends of int64 nanoseconds: 1677 and 2262), the
 * digest in Hashes is upper-cased byte for byte as before, the process GUID's hex digits, and
 * an event copied into a reused queue entry renders the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/event_json.h"
#include "bannin/error.h"
#include "bannin/reader.h"
#include "bannin/record.h"

static struct agent_event
exec_event(int64_t ts_ns)
{
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_CREATE;
    ev.ts_ns = ts_ns;
    ev.proc.pid = 4242;
    ev.proc.start_ns = 0x123456789abcull;
    ev.proc.exe = "/usr/bin/true";
    ev.proc.cmdline = "true";
    ev.proc.cwd = "/";
    return ev;
}

/* The direct record's time against the reader's for one event time. */
static void
check_ts(struct bn_buf *b, struct bn_record *mine, struct bn_record *theirs, int64_t ts)
{
    struct agent_event ev = exec_event(ts);
    struct bn_diag d;
    bool ok = false;
    bn_buf_reset(b);
    assert_int_equal(agent_event_to_json_rec(&ev, b, mine, "agent", &ok), 0);
    assert_true(ok);
    assert_int_equal(bn_record_parse_ndjson(theirs, b->p, b->len, "agent", &d), 0);
    if (mine->ts_ns != theirs->ts_ns)
        fail_msg("time %lld: record %lld, reader %lld: %s", (long long)ts,
                 (long long)mine->ts_ns, (long long)theirs->ts_ns, b->p);
}

static void
test_times(void **state)
{
    (void)state;
    struct bn_record mine, theirs;
    struct bn_buf b;
    assert_int_equal(bn_record_init(&mine), 0);
    assert_int_equal(bn_record_init(&theirs), 0);
    bn_buf_init(&b, 1 << 20);
    agent_json_set_host("host-1", "0123abcd-1111-2222-3333-444455556666");
    const int64_t s = 1000000000;
    const int64_t edges[] = {
        1795600800123456789LL, 1,  -1, -999999, -1000000, -1000001, -s, -s - 1,
        -9223372036LL * s + 1,           /* 1677-09-21: the reader's bound */
        9223372035LL * s + 999999999,    /* 2262-04-11: the other one */
        INT64_MAX, INT64_MAX - s, INT64_MIN + 1, INT64_MIN + s, INT64_MIN,
        (INT64_MAX / s) * s - 1, (INT64_MAX / s - 1) * s, (INT64_MIN / s) * s,
        (INT64_MIN / s + 1) * s, (INT64_MIN / s + 1) * s - 1,
    };
    /* the reader keeps the previous record's time when it cannot parse one: start each
     * comparison from the same state */
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        check_ts(&b, &mine, &theirs, 1795600800123456789LL);
        check_ts(&b, &mine, &theirs, edges[i]);
        /* the same second again (the formatted second is reused) */
        check_ts(&b, &mine, &theirs, edges[i] > INT64_MIN + 2 ? edges[i] - 1 : edges[i]);
    }
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        check_ts(&b, &mine, &theirs, (int64_t)r >> (r % 40));
    }
    bn_buf_release(&b);
    bn_record_release(&mine);
    bn_record_release(&theirs);
}

/* Hashes: "SHA256=" and the digest with a-z upper-cased, other bytes as they are. */
static void
test_hashes(void **state)
{
    (void)state;
    struct bn_buf b;
    bn_buf_init(&b, 1 << 20);
    uint64_t r = 0x243f6a8885a308d3ull;
    static const char alpha[] = "0123456789abcdefghijklmnopqrstuvwxyzABCXYZ`{@[~ !/:";
    for (int i = 0; i < 5000; i++) {
        struct agent_event ev = exec_event(1795600800123456789LL);
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        size_t n = 1 + r % 64;
        char want[80] = "SHA256=";
        for (size_t k = 0; k < n; k++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            char c = i < 2500 ? "0123456789abcdef"[r % 16] : alpha[r % (sizeof(alpha) - 1)];
            ev.proc.sha256[k] = c;
            want[7 + k] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
        }
        want[7 + n] = '\0';
        bn_buf_reset(&b);
        assert_int_equal(agent_event_to_json(&ev, &b), 0);
        char key[128];
        snprintf(key, sizeof(key), "\"Hashes\":\"%s\"", want);
        if (!strstr(b.p, key))
            fail_msg("want %s in %s", key, b.p);
    }
    bn_buf_release(&b);
}

/* Host names (and user names) are written as they are only when escaping would not change
 * them: a host name that needs escaping reads back as it was. */
static void
test_hostile_host(void **state)
{
    (void)state;
    static const char *const hosts[] = {"vm", "ho\"st", "back\\slash", "tab\there", "caf\xc3\xa9",
                                        "bad\xff", "del\x7f", ""};
    struct bn_buf b;
    struct bn_record rec;
    struct bn_diag d;
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(bn_record_init(&rec), 0);
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        agent_json_set_host(hosts[i], "0123abcd-1111-2222-3333-444455556666");
        struct agent_event ev = exec_event(1795600800123456789LL);
        bn_buf_reset(&b);
        assert_int_equal(agent_event_to_json(&ev, &b), 0);
        assert_int_equal(bn_record_parse_ndjson(&rec, b.p, b.len, "agent", &d), 0);
        const struct bn_kv *kv = bn_record_get(&rec, "Computer");
        assert_non_null(kv);
        const char *want = strcmp(hosts[i], "bad\xff") ? hosts[i] : "bad\xef\xbf\xbd";
        if (kv->val_len != strlen(want) || memcmp(kv->val, want, kv->val_len))
            fail_msg("host %zu reads back as %.*s: %s", i, (int)kv->val_len, kv->val, b.p);
    }
    agent_json_set_host("host-1", "0123abcd-1111-2222-3333-444455556666");
    bn_record_release(&rec);
    bn_buf_release(&b);
}

/* An event copied by agent_event_copy into a reused queue entry (stale bytes, a released
 * event before) renders as the original does, extras included. */
static void
test_copy_extras(void **state)
{
    (void)state;
    static const char *const keys[] = {"user", "service", "result", "detail", "trigger"};
    static const char *const vals[] = {"root", "sshd", "fail\"ed", "", "x y z"};
    struct bn_buf a, b;
    bn_buf_init(&a, 1 << 20);
    bn_buf_init(&b, 1 << 20);
    struct agent_event *dst = malloc(sizeof(*dst));
    assert_non_null(dst);
    memset(dst, 0xa5, sizeof(*dst)); /* stale bytes, as in a reused entry */
    for (int i = 0; i < 200; i++) {
        struct agent_event ev = exec_event(1795600800123456789LL + i);
        ev.kind = i % 3 == 0 ? AGENT_EV_AUTH : i % 3 == 1 ? AGENT_EV_STATUS : AGENT_EV_PROCESS_CREATE;
        ev.nextra = (uint32_t)(i % 6);
        for (uint32_t k = 0; k < ev.nextra; k++) {
            ev.extra_keys[k] = keys[(i + k) % 5];
            ev.extra_vals[k] = k == 2 && i % 4 == 0 ? NULL : (char *)vals[(i * 7 + k) % 5];
        }
        ev.proc.tty = i % 2 ? "pts/1" : NULL;
        assert_int_equal(agent_event_copy(dst, &ev), 0);
        bn_buf_reset(&a);
        bn_buf_reset(&b);
        assert_int_equal(agent_event_to_json(&ev, &a), 0);
        assert_int_equal(agent_event_to_json(dst, &b), 0);
        if (a.len != b.len || memcmp(a.p, b.p, a.len))
            fail_msg("copy renders\n%s\nnot\n%s", b.p, a.p);
        agent_event_release(dst); /* the slots stay as they were: the next copy reuses them */
    }
    free(dst);
    bn_buf_release(&a);
    bn_buf_release(&b);
}

static void
test_guid(void **state)
{
    (void)state;
    char buf[64];
    agent_json_set_host("host-1", "0123abcd-1111-2222-3333-444455556666");
    agent_process_guid(0x7fedcba9, 0xfedcba9876543210ull, buf, sizeof(buf));
    assert_string_equal(buf, "{0123abcd-fedc-ba98-7654-32107fedcba9}");
    agent_process_guid(1, 0, buf, sizeof(buf));
    assert_string_equal(buf, "{0123abcd-0000-0000-0000-000000000001}");
    agent_process_guid(-1, 0xa0b0c0d0e0f00102ull, buf, sizeof(buf));
    assert_string_equal(buf, "{0123abcd-a0b0-c0d0-e0f0-0102ffffffff}");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_hostile_host),
        cmocka_unit_test(test_copy_extras),
        cmocka_unit_test(test_guid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
