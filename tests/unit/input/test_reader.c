/*
 * test_reader.c - the log readers: JSON flattening and escapes, NDJSON / concatenated /
 * journal framing and recovery after bad records, limits, gzip and zstd sources, format
 * detection, syslog variants, auditd joining, and allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/reader.h"
#include "../../fuzz/ndjson_same.h"

/* Value of the n-th pair with key k (0-based among equal keys), or NULL. */
static const struct bn_kv *
kv_nth(const struct bn_record *r, const char *k, unsigned nth)
{
    size_t len = strlen(k);
    for (uint32_t i = 0; i < r->n; i++)
        if (r->kv[i].key_len == len && memcmp(r->kv[i].key, k, len) == 0 && nth-- == 0)
            return &r->kv[i];
    return NULL;
}

static void
assert_kv(const struct bn_record *r, const char *k, unsigned nth, const char *v)
{
    const struct bn_kv *kv = kv_nth(r, k, nth);
    if (!kv)
        fail_msg("key '%s'[%u] missing", k, nth);
    if (!v) {
        assert_int_equal(kv->type, BN_VT_NULL);
        assert_null(kv->val);
        return;
    }
    if (kv->val_len != strlen(v) || memcmp(kv->val, v, kv->val_len) != 0)
        fail_msg("key '%s': got '%.*s' want '%s'", k, (int)kv->val_len, kv->val, v);
}

static struct bn_reader *
open_str(const char *s, enum bn_format fmt)
{
    struct bn_reader *r;
    struct bn_diag d;
    int rc = bn_reader_open_mem(&r, s, strlen(s), "t", fmt, &d);
    if (rc)
        fail_msg("open: %s", d.msg);
    return r;
}

static struct bn_record *
next_ok(struct bn_reader *r)
{
    struct bn_record *rec;
    struct bn_diag d;
    int rc = bn_reader_next(r, &rec, &d);
    if (rc)
        fail_msg("next: %d %s (line %lu)", rc, d.msg, d.line);
    return rec;
}

static void
expect_eof(struct bn_reader *r)
{
    struct bn_record *rec;
    struct bn_diag d;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    assert_true(bn_reader_done(r));
}

static void
test_json_values(void **state)
{
    (void)state;
    struct bn_reader *r = open_str(
        "{\"a\":\"x\",\"n\":-12.5e3,\"t\":true,\"f\":false,\"z\":null,"
        "\"o\":{\"p\":{\"q\":1}},\"arr\":[1,\"two\",[3],{\"k\":4}],\"e\":{},\"ea\":[]}\n",
        BN_FMT_NDJSON);
    struct bn_record *rec = next_ok(r);
    assert_kv(rec, "a", 0, "x");
    assert_kv(rec, "n", 0, "-12.5e3");
    assert_int_equal(kv_nth(rec, "n", 0)->type, BN_VT_NUM);
    assert_kv(rec, "t", 0, "true");
    assert_int_equal(kv_nth(rec, "t", 0)->type, BN_VT_BOOL);
    assert_kv(rec, "f", 0, "false");
    assert_kv(rec, "z", 0, NULL);
    assert_kv(rec, "o.p.q", 0, "1");
    assert_kv(rec, "arr", 0, "1");
    assert_kv(rec, "arr", 1, "two");
    assert_kv(rec, "arr", 2, "3");
    assert_kv(rec, "arr.k", 0, "4");
    assert_null(kv_nth(rec, "e", 0));
    assert_null(kv_nth(rec, "ea", 0));
    assert_int_equal(rec->n, 10);
    assert_int_equal(rec->line, 1);
    assert_string_equal(rec->format, "ndjson");
    assert_int_equal(rec->raw_len, strlen(rec->raw) - 1);
    expect_eof(r);
    bn_reader_free(r);
}

static void
test_json_escapes(void **state)
{
    (void)state;
    struct bn_reader *r = open_str(
        "{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\",\"u\":\"\\u00e9\\u20ac\",\"p\":\"\\ud83d\\ude00\","
        "\"lone\":\"x\\ud800y\",\"low\":\"\\udc00\",\"k\\u0041\":1,\"path\":\"C:\\\\Windows\"}",
        BN_FMT_NDJSON);
    struct bn_record *rec = next_ok(r);
    assert_kv(rec, "s", 0, "a\"b\\c/d\n\t");
    assert_kv(rec, "u", 0, "\xc3\xa9\xe2\x82\xac");
    assert_kv(rec, "p", 0, "\xf0\x9f\x98\x80");
    assert_kv(rec, "lone", 0, "x\xef\xbf\xbdy");
    assert_kv(rec, "low", 0, "\xef\xbf\xbd");
    assert_kv(rec, "kA", 0, "1");
    assert_kv(rec, "path", 0, "C:\\Windows");
    bn_reader_free(r);
}

static void
test_ndjson_bad_line_skipped(void **state)
{
    (void)state;
    struct bn_reader *r = open_str("{\"a\":1}\n\n   \n{\"a\":2,}\n{\"a\":\"\\q\"}\nnot json\n"
                                   "{\"a\":3} x\n{\"a\":4\n{\"a\":5}\r\n",
                                   BN_FMT_NDJSON);
    struct bn_record *rec = next_ok(r);
    assert_kv(rec, "a", 0, "1");
    struct bn_diag d;
    int lines[] = {4, 5, 6, 7, 8};
    for (size_t i = 0; i < BN_ARRAY_SIZE(lines); i++) {
        assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
        assert_int_equal(d.line, lines[i]);
        assert_true(d.col >= 1);
        assert_string_equal(d.file, "t");
        assert_false(bn_reader_done(r));
    }
    rec = next_ok(r);
    assert_kv(rec, "a", 0, "5");
    assert_int_equal(rec->line, 9);
    expect_eof(r);
    const struct bn_reader_stats *st = bn_reader_stats(r);
    assert_int_equal(st->records, 2);
    assert_int_equal(st->skipped, 5);
    assert_int_equal(st->skipped_parse, 5);
    bn_reader_free(r);
}

static void
test_concat_objects(void **state)
{
    (void)state;
    const char *in = "{\n  \"Event\": {\n    \"System\": {\"EventID\": 1,\n"
                     "      \"TimeCreated\": {\"#attributes\": {\"SystemTime\": "
                     "\"2024-01-02T03:04:05.5Z\"}}}\n  }\n}\n"
                     "{\n  \"Event\": {\"EventData\": {\"Image\": \"c:\\\\a.exe\"}}\n}\n";
    struct bn_reader *r = open_str(in, BN_FMT_AUTO);
    assert_int_equal(bn_reader_format(r), BN_FMT_JSON);
    struct bn_record *rec = next_ok(r);
    assert_kv(rec, "Event.System.EventID", 0, "1");
    assert_int_equal(rec->ts_ns, 1704164645500000000LL);
    assert_int_equal(rec->line, 1);
    assert_int_equal(rec->raw[0], '{');
    assert_int_equal(rec->raw[rec->raw_len - 1], '}');
    rec = next_ok(r);
    assert_kv(rec, "Event.EventData.Image", 0, "c:\\a.exe");
    assert_int_equal(rec->line, 7);
    assert_int_equal(rec->index, 1);
    expect_eof(r);
    bn_reader_free(r);
}

static void
test_concat_resync(void **state)
{
    (void)state;
    const char *in = "{\n  \"a\": 1\n}\n{\n  \"a\": tru,\n  \"b\": 2\n}\n{\n  \"a\": 3\n}\n";
    struct bn_reader *r = open_str(in, BN_FMT_JSON);
    assert_kv(next_ok(r), "a", 0, "1");
    struct bn_record *rec;
    struct bn_diag d;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
    assert_int_equal(d.line, 5);
    assert_int_equal(d.col, 8);
    rec = next_ok(r);
    assert_kv(rec, "a", 0, "3");
    assert_int_equal(rec->line, 8);
    expect_eof(r);
    assert_int_equal(bn_reader_stats(r)->skipped_parse, 1);
    bn_reader_free(r);
}

static void
test_top_level_array(void **state)
{
    (void)state;
    struct bn_reader *r = open_str("[\n  {\"a\": 1},\n  {\"a\": 2}\n]\n", BN_FMT_AUTO);
    assert_int_equal(bn_reader_format(r), BN_FMT_JSON);
    assert_kv(next_ok(r), "a", 0, "1");
    assert_kv(next_ok(r), "a", 0, "2");
    expect_eof(r);
    bn_reader_free(r);
}

static void
test_truncated(void **state)
{
    (void)state;
    const char *cases[] = {"{\"a\":\"b", "{\"a\":", "{\"a\":1", "{\"a", "{\"a\":tr", "{\"a\":-"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(cases); i++) {
        for (int f = 0; f < 2; f++) {
            struct bn_reader *r = open_str(cases[i], f ? BN_FMT_JSON : BN_FMT_NDJSON);
            struct bn_record *rec;
            struct bn_diag d;
            assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
            assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
            bn_reader_free(r);
        }
    }
}

static void
test_invalid_utf8_passes(void **state)
{
    (void)state;
    struct bn_reader *r = open_str("{\"a\":\"\xff\xfe\xc3\",\"\x80\":1}\n", BN_FMT_NDJSON);
    struct bn_record *rec = next_ok(r);
    assert_kv(rec, "a", 0, "\xff\xfe\xc3");
    assert_kv(rec, "\x80", 0, "1");
    bn_reader_free(r);
}

static void
test_limits(void **state)
{
    (void)state;
    /* Depth over BN_JSON_DEPTH_MAX. */
    char deep[1024];
    size_t n = 0;
    for (int i = 0; i < BN_JSON_DEPTH_MAX + 2; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\":");
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "1");
    for (int i = 0; i < BN_JSON_DEPTH_MAX + 2; i++)
        deep[n++] = '}';
    deep[n++] = '\n';
    memcpy(deep + n, "{\"ok\":1}\n", 10);
    struct bn_reader *r = open_str(deep, BN_FMT_NDJSON);
    struct bn_record *rec;
    struct bn_diag d;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_ETOOBIG);
    assert_kv(next_ok(r), "ok", 0, "1");
    assert_int_equal(bn_reader_stats(r)->skipped_toobig, 1);
    bn_reader_free(r);

    /* A key over BN_KEY_MAX. */
    size_t kl = BN_KEY_MAX + 10;
    char *big = malloc(kl + 64);
    big[0] = '{';
    big[1] = '"';
    memset(big + 2, 'k', kl);
    snprintf(big + 2 + kl, 62, "\":1}\n{\"ok\":2}\n");
    r = open_str(big, BN_FMT_NDJSON);
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_ETOOBIG);
    assert_kv(next_ok(r), "ok", 0, "2");
    bn_reader_free(r);
    free(big);

    /* More fields than BN_RECORD_FIELDS_MAX. */
    size_t cap = (BN_RECORD_FIELDS_MAX + 10) * 8 + 64;
    char *many = malloc(cap);
    size_t m = (size_t)snprintf(many, cap, "{\"a\":[");
    for (int i = 0; i < BN_RECORD_FIELDS_MAX + 10; i++)
        m += (size_t)snprintf(many + m, cap - m, "%s1", i ? "," : "");
    snprintf(many + m, cap - m, "]}\n{\"ok\":3}\n");
    r = open_str(many, BN_FMT_NDJSON);
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_ETOOBIG);
    assert_kv(next_ok(r), "ok", 0, "3");
    bn_reader_free(r);
    free(many);
}

/* A line over BN_RECORD_MAX is skipped and the next line is read, from a real file (the
 * streaming source), without the window growing past the limit. */
static void
test_line_over_limit(void **state)
{
    (void)state;
    char path[] = "/tmp/bn_test_bigXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"a\":1}\n{\"big\":\"", f);
    char *chunk = malloc(1 << 20);
    memset(chunk, 'x', 1 << 20);
    for (unsigned i = 0; i < (BN_RECORD_MAX >> 20) + 2; i++)
        fwrite(chunk, 1, 1 << 20, f);
    free(chunk);
    fputs("\"}\n{\"a\":2}\n", f);
    fclose(f);
    for (int fmt = 0; fmt < 2; fmt++) {
        struct bn_reader *r;
        struct bn_diag d;
        assert_int_equal(bn_reader_open(&r, path, fmt ? BN_FMT_JSON : BN_FMT_NDJSON, &d), 0);
        assert_kv(next_ok(r), "a", 0, "1");
        struct bn_record *rec;
        assert_int_equal(bn_reader_next(r, &rec, &d), BN_ETOOBIG);
        assert_non_null(strstr(d.msg, "BN_RECORD_MAX"));
        rec = next_ok(r);
        assert_kv(rec, "a", 0, "2");
        assert_int_equal(rec->line, fmt ? 3 : 3);
        expect_eof(r);
        assert_int_equal(bn_reader_stats(r)->skipped_toobig, 1);
        bn_reader_free(r);
    }
    unlink(path);
}

static void
test_journal(void **state)
{
    (void)state;
    const char *in = "{\"__CURSOR\":\"s=1\",\"__REALTIME_TIMESTAMP\":\"1700000000123456\","
                     "\"_HOSTNAME\":\"h\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_PID\":\"42\","
                     "\"MESSAGE\":[104,105,10,0,255],\"TAGS\":[\"a\",\"b\"]}\n";
    struct bn_reader *r = open_str(in, BN_FMT_AUTO);
    assert_int_equal(bn_reader_format(r), BN_FMT_JOURNAL);
    struct bn_record *rec = next_ok(r);
    assert_int_equal(rec->ts_ns, 1700000000123456000LL);
    assert_kv(rec, "_HOSTNAME", 0, "h");
    const struct bn_kv *m = kv_nth(rec, "MESSAGE", 0);
    assert_non_null(m);
    assert_int_equal(m->val_len, 5);
    assert_memory_equal(m->val, "hi\n\0\xff", 5);
    assert_kv(rec, "TAGS", 1, "b");
    bn_reader_free(r);
}

static void
test_timestamps(void **state)
{
    (void)state;
    struct bn_reader *r = open_str(
        "{\"@timestamp\":\"2024-01-02T03:04:05+01:00\"}\n"
        "{\"UtcTime\":\"2024-01-02 03:04:05.123\"}\n"
        "{\"ts\":1320279566.452687}\n"
        "{\"timestamp\":\"2024-01-02T03:04:05.123456789-0230\"}\n"
        "{\"timestamp\":1700000000123}\n"
        "{\"x\":1}\n",
        BN_FMT_NDJSON);
    assert_int_equal(next_ok(r)->ts_ns, 1704161045000000000LL);
    assert_int_equal(next_ok(r)->ts_ns, 1704164645123000000LL);
    assert_int_equal(next_ok(r)->ts_ns, 1320279566452687000LL);
    assert_int_equal(next_ok(r)->ts_ns, 1704164645123456789LL + 9000LL * 1000000000LL);
    assert_int_equal(next_ok(r)->ts_ns, 1700000000123000000LL);
    assert_int_equal(next_ok(r)->ts_ns, INT64_MIN);
    bn_reader_free(r);
}

/* --- compressed sources --- */

static const char *sample =
    "{\"EventID\":1,\"Image\":\"C:\\\\Windows\\\\cmd.exe\"}\n{\"EventID\":2}\n";

static unsigned char *
gzip_of(const char *s, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, strlen(s));
    unsigned char *o = malloc(cap);
    z.next_in = (unsigned char *)(uintptr_t)s;
    z.avail_in = (unsigned)strlen(s);
    z.next_out = o;
    z.avail_out = (unsigned)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return o;
}

static void
read_all(const void *data, size_t len, int expect_records, int expect_rc)
{
    struct bn_reader *r;
    struct bn_diag d;
    assert_int_equal(bn_reader_open_mem(&r, data, len, "c", BN_FMT_AUTO, &d), 0);
    int got = 0, rc;
    struct bn_record *rec;
    while ((rc = bn_reader_next(r, &rec, &d)) != BN_EOF) {
        if (rc) {
            assert_int_equal(rc, expect_rc);
            assert_non_null(strstr(d.msg, "offset"));
            if (bn_reader_done(r))
                break;
            continue;
        }
        got++;
    }
    assert_int_equal(got, expect_records);
    bn_reader_free(r);
}

static void
test_gzip(void **state)
{
    (void)state;
    size_t n;
    unsigned char *gz = gzip_of(sample, &n);
    read_all(gz, n, 2, 0);
    /* Two members back to back (cat a.gz b.gz). */
    unsigned char *two = malloc(2 * n);
    memcpy(two, gz, n);
    memcpy(two + n, gz, n);
    read_all(two, 2 * n, 4, 0);
    /* Corrupt: flip bytes in the deflate body -> an error naming the offset. */
    unsigned char *bad = malloc(n);
    memcpy(bad, gz, n);
    for (size_t i = 12; i < n - 8; i++)
        bad[i] ^= 0x5a;
    struct bn_reader *r;
    struct bn_diag d;
    assert_int_equal(bn_reader_open_mem(&r, bad, n, "c", BN_FMT_NDJSON, &d), 0);
    struct bn_record *rec;
    int rc;
    while ((rc = bn_reader_next(r, &rec, &d)) == 0)
        ;
    assert_int_not_equal(rc, BN_EOF);
    assert_true(bn_reader_done(r));
    assert_non_null(strstr(d.msg, "gzip"));
    bn_reader_free(r);
    /* Truncated. */
    assert_int_equal(bn_reader_open_mem(&r, gz, n - 6, "c", BN_FMT_NDJSON, &d), 0);
    while ((rc = bn_reader_next(r, &rec, &d)) == 0)
        ;
    assert_int_not_equal(rc, BN_EOF);
    assert_non_null(strstr(d.msg, "truncated"));
    bn_reader_free(r);
    free(bad);
    free(two);
    free(gz);
}

static void
test_zstd(void **state)
{
    (void)state;
    size_t cap = ZSTD_compressBound(strlen(sample));
    unsigned char *z = malloc(2 * cap);
    size_t n = ZSTD_compress(z, cap, sample, strlen(sample), 3);
    assert_false(ZSTD_isError(n));
    read_all(z, n, 2, 0);
    /* Two frames. */
    memcpy(z + n, z, n);
    read_all(z, 2 * n, 4, 0);
    /* Truncated frame. */
    struct bn_reader *r;
    struct bn_diag d;
    assert_int_equal(bn_reader_open_mem(&r, z, n - 3, "c", BN_FMT_NDJSON, &d), 0);
    struct bn_record *rec;
    int rc;
    while ((rc = bn_reader_next(r, &rec, &d)) == 0)
        ;
    assert_int_not_equal(rc, BN_EOF);
    assert_non_null(strstr(d.msg, "zstd"));
    bn_reader_free(r);
    free(z);
}

static void
test_bomb(void **state)
{
    (void)state;
    /* 64 MiB of zeros lines compresses ~1000:1 with zstd far past the limit. */
    size_t big = 64u << 20;
    char *plain = malloc(big);
    memset(plain, ' ', big);
    plain[big - 1] = '\n';
    size_t cap = ZSTD_compressBound(big);
    unsigned char *z = malloc(cap);
    size_t n = ZSTD_compress(z, cap, plain, big, 19);
    assert_false(ZSTD_isError(n));
    assert_true(big / n > BN_DECOMPRESS_RATIO_MAX);
    struct bn_reader *r;
    struct bn_diag d;
    assert_int_equal(bn_reader_open_mem(&r, z, n, "bomb", BN_FMT_NDJSON, &d), 0);
    struct bn_record *rec;
    int rc;
    while ((rc = bn_reader_next(r, &rec, &d)) == 0 || (rc != BN_EOF && !bn_reader_done(r)))
        ;
    assert_int_equal(rc, BN_ETOOBIG);
    assert_non_null(strstr(d.msg, "bomb"));
    bn_reader_free(r);
    free(z);
    free(plain);
}

/* --- detection --- */

static void
test_detect(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum bn_format fmt;
    } cases[] = {
        {"{\"a\":1}\n{\"a\":2}\n", BN_FMT_NDJSON},
        {"{\n  \"a\": 1\n}\n", BN_FMT_JSON},
        {"[{\"a\":1}]", BN_FMT_JSON},
        {"{\"__CURSOR\":\"x\",\"MESSAGE\":\"m\"}\n", BN_FMT_JOURNAL},
        {"type=SYSCALL msg=audit(1.2:3): a=b\n", BN_FMT_AUDITD},
        {"node=h type=EOE msg=audit(1.2:3): \n", BN_FMT_AUDITD},
        {"Jan  5 10:00:00 host sshd[1]: hello\n", BN_FMT_SYSLOG},
        {"<34>1 2003-10-11T22:14:15.003Z host su - ID47 - msg\n", BN_FMT_SYSLOG},
        {"2024-01-05T10:00:00.123+01:00 host prog: hello\n", BN_FMT_SYSLOG},
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(cases); i++) {
        struct bn_reader *r = open_str(cases[i].in, BN_FMT_AUTO);
        if (bn_reader_format(r) != cases[i].fmt)
            fail_msg("case %zu: detected %s", i, bn_format_name(bn_reader_format(r)));
        next_ok(r);
        bn_reader_free(r);
    }
    struct bn_reader *r;
    struct bn_diag d;
    assert_int_equal(bn_reader_open_mem(&r, "hello world\n", 12, "x", BN_FMT_AUTO, &d),
                     BN_EFORMAT);
    assert_null(r);
    assert_int_equal(bn_format_parse("ndjson"), BN_FMT_NDJSON);
    assert_int_equal(bn_format_parse("journal"), BN_FMT_JOURNAL);
    assert_int_equal(bn_format_parse("nope"), -1);
    assert_string_equal(bn_format_name(BN_FMT_AUDITD), "auditd");
    /* A file on disk, gzip-compressed. */
    size_t n;
    unsigned char *gz = gzip_of("Jan  5 10:00:00 host sshd[1]: hello\n", &n);
    char path[] = "/tmp/bn_test_gzXXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, gz, n), (ssize_t)n);
    close(fd);
    assert_int_equal(bn_reader_open(&r, path, BN_FMT_AUTO, &d), 0);
    assert_int_equal(bn_reader_format(r), BN_FMT_SYSLOG);
    assert_kv(next_ok(r), "program", 0, "sshd");
    uint64_t done, total;
    expect_eof(r);
    bn_reader_progress(r, &done, &total);
    assert_int_equal(total, n);
    assert_int_equal(done, n);
    bn_reader_free(r);
    unlink(path);
    free(gz);
    assert_int_not_equal(bn_reader_open(&r, "/nonexistent/x", BN_FMT_AUTO, &d), 0);
    assert_non_null(strstr(d.msg, "cannot open"));
}

/* --- syslog --- */

static void
test_syslog(void **state)
{
    (void)state;
    struct bn_reader *r = open_str(
        "<38>Feb  3 04:05:06 web01 sshd[123]: Accepted password for bob\n"
        "Dec 31 23:59:59 h cron: tick  \n"
        "Jan  1 00:00:01 h kernel: year rolled\n"
        "Jun 19 04:09:11 combo syslogd 1.4.1: restart.\n"
        "Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2\n"
        "2024-03-04T05:06:07.5+00:00 host2 app[7]: iso form\n"
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        "[exampleSDID@32473 iut=\"3\" eventSource=\"Appl\\\"ication\"][x@1 a=\"b\"] "
        "\xef\xbb\xbf" "An application event\n"
        "<13>1 - - - - - -\n"
        "Mar  1 00:00:00 h no tag here\n",
        BN_FMT_SYSLOG);
    struct bn_record *rec = next_ok(r);
    assert_kv(rec, "facility", 0, "4");
    assert_kv(rec, "severity", 0, "6");
    assert_kv(rec, "timestamp", 0, "Feb  3 04:05:06");
    assert_kv(rec, "host", 0, "web01");
    assert_kv(rec, "program", 0, "sshd");
    assert_kv(rec, "pid", 0, "123");
    assert_kv(rec, "message", 0, "Accepted password for bob");
    int64_t feb = rec->ts_ns;
    rec = next_ok(r);
    assert_kv(rec, "program", 0, "cron");
    assert_kv(rec, "message", 0, "tick");
    int64_t dec = rec->ts_ns;
    assert_true(dec > feb);
    rec = next_ok(r);
    assert_true(rec->ts_ns > dec); /* Dec -> Jan rolls the year over */
    assert_true(rec->ts_ns - dec < 10LL * 1000000000LL);
    rec = next_ok(r);
    assert_kv(rec, "program", 0, "syslogd 1.4.1");
    assert_null(kv_nth(rec, "pid", 0));
    rec = next_ok(r);
    assert_kv(rec, "host", 0, "combo");
    assert_kv(rec, "program", 0, "-- root");
    assert_kv(rec, "pid", 0, "2421");
    rec = next_ok(r);
    assert_kv(rec, "host", 0, "host2");
    assert_kv(rec, "program", 0, "app");
    assert_int_equal(rec->ts_ns, 1709528767500000000LL);
    rec = next_ok(r);
    assert_kv(rec, "version", 0, "1");
    assert_kv(rec, "facility", 0, "20");
    assert_kv(rec, "severity", 0, "5");
    assert_kv(rec, "host", 0, "mymachine.example.com");
    assert_kv(rec, "program", 0, "evntslog");
    assert_null(kv_nth(rec, "pid", 0));
    assert_kv(rec, "msgid", 0, "ID47");
    assert_kv(rec, "sd.exampleSDID@32473.iut", 0, "3");
    assert_kv(rec, "sd.exampleSDID@32473.eventSource", 0, "Appl\"ication");
    assert_kv(rec, "sd.x@1.a", 0, "b");
    assert_kv(rec, "message", 0, "An application event");
    assert_int_equal(rec->ts_ns, 1065910455003000000LL);
    rec = next_ok(r);
    assert_null(kv_nth(rec, "host", 0));
    rec = next_ok(r);
    assert_null(kv_nth(rec, "program", 0));
    assert_kv(rec, "message", 0, "no tag here");
    expect_eof(r);
    bn_reader_free(r);

    r = open_str("garbage line\nJan  1 00:00:01 h k: ok\n", BN_FMT_SYSLOG);
    struct bn_diag d;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
    assert_int_equal(d.line, 1);
    assert_kv(next_ok(r), "message", 0, "ok");
    bn_reader_free(r);
}

/* --- auditd --- */

static void
test_auditd_join(void **state)
{
    (void)state;
    const char *in =
        "type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no "
        "exit=-2 comm=\"cat\" exe=2F62696E2F636174 key=\"x\"\n"
        "type=CWD msg=audit(1364481363.243:24287):  cwd=\"/root\"\n"
        "type=SYSCALL msg=audit(1364481364.000:24288): syscall=59 comm=\"sh\"\n"
        "type=PATH msg=audit(1364481363.243:24287): item=0 name=\"/etc/a\"\n"
        "type=PATH msg=audit(1364481363.243:24287): item=1 name=2F6574632F6220632F\n"
        "type=PROCTITLE msg=audit(1364481363.243:24287): proctitle=636174002F6574632F61\n"
        "type=EOE msg=audit(1364481363.243:24287): \n"
        "type=EXECVE msg=audit(1364481364.000:24288): argc=2 a0=\"sh\" a1=2D6320782079\n"
        "type=USER_LOGIN msg=audit(1364481365.000:24289): pid=1 uid=0 auid=4294967295 "
        "msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" res=failed'\x1dUID=\"root\" "
        "AUID=\"unset\"\n"
        "type=AVC msg=audit(1364481366.000:24290): avc:  denied  { read write } for  "
        "pid=5 comm=\"x\"\n";
    struct bn_reader *r = open_str(in, BN_FMT_AUTO);
    assert_int_equal(bn_reader_format(r), BN_FMT_AUDITD);
    struct bn_record *rec = next_ok(r); /* completed by EOE, ahead of 24288 */
    assert_kv(rec, "serial", 0, "24287");
    assert_int_equal(rec->ts_ns, 1364481363243000000LL);
    assert_kv(rec, "type", 0, "SYSCALL");
    assert_kv(rec, "type", 1, "CWD");
    assert_kv(rec, "type", 2, "PATH");
    assert_kv(rec, "type", 3, "PROCTITLE");
    assert_kv(rec, "type", 4, "EOE");
    assert_null(kv_nth(rec, "type", 5));
    assert_kv(rec, "SYSCALL.comm", 0, "cat");
    assert_kv(rec, "SYSCALL.exe", 0, "/bin/cat");
    assert_kv(rec, "SYSCALL.key", 0, "x");
    assert_kv(rec, "CWD.cwd", 0, "/root");
    assert_kv(rec, "PATH.name", 0, "/etc/a");
    assert_kv(rec, "PATH.name", 1, "/etc/b c/");
    assert_kv(rec, "PROCTITLE.proctitle", 0, "cat /etc/a");
    assert_int_equal(rec->line, 1);
    rec = next_ok(r);
    assert_kv(rec, "serial", 0, "24288");
    assert_kv(rec, "EXECVE.a1", 0, "-c x y");
    rec = next_ok(r);
    assert_kv(rec, "USER_LOGIN.op", 0, "login");
    assert_kv(rec, "USER_LOGIN.acct", 0, "root");
    assert_kv(rec, "USER_LOGIN.exe", 0, "/usr/sbin/sshd");
    assert_kv(rec, "USER_LOGIN.res", 0, "failed");
    assert_kv(rec, "USER_LOGIN.UID", 0, "root");
    assert_kv(rec, "USER_LOGIN.AUID", 0, "unset");
    assert_kv(rec, "USER_LOGIN.pid", 0, "1");
    rec = next_ok(r);
    assert_kv(rec, "AVC.seresult", 0, "denied");
    assert_kv(rec, "AVC.seperms", 0, "read,write");
    assert_kv(rec, "AVC.pid", 0, "5");
    expect_eof(r);
    bn_reader_free(r);

    r = open_str("type=SYSCALL msg=audit(1.0:1): a=b\nnonsense\ntype=EOE msg=audit(1.0:1): \n",
                 BN_FMT_AUDITD);
    struct bn_diag d;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
    assert_int_equal(d.line, 2);
    rec = next_ok(r);
    assert_kv(rec, "type", 1, "EOE");
    bn_reader_free(r);
}

/* Events that never see an EOE complete after a grace window of other records. */
static void
test_auditd_grace(void **state)
{
    (void)state;
    char buf[65536];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                          "type=SYSCALL msg=audit(10.0:1): syscall=1\n");
    for (int i = 2; i < 300; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                              "type=SYSCALL msg=audit(10.0:%d): syscall=1\n"
                              "type=CWD msg=audit(10.0:%d): cwd=\"/\"\n",
                              i, i);
    struct bn_reader *r = open_str(buf, BN_FMT_AUDITD);
    struct bn_record *rec = next_ok(r);
    assert_kv(rec, "serial", 0, "1");
    int count = 1;
    while (bn_reader_next(r, &rec, &(struct bn_diag){0}) == 0) {
        count++;
        assert_kv(rec, "type", 1, "CWD");
    }
    assert_int_equal(count, 299);
    bn_reader_free(r);
}

/* --- allocation failure --- */

static void
alloc_run(const char *in, enum bn_format fmt)
{
    for (unsigned long fail = 1; fail < 400; fail++) {
        bn_alloc_fail_after(fail);
        struct bn_reader *r;
        struct bn_diag d;
        int rc = bn_reader_open_mem(&r, in, strlen(in), "oom", fmt, &d);
        if (rc == 0) {
            struct bn_record *rec;
            for (int i = 0; i < 100; i++) {
                rc = bn_reader_next(r, &rec, &d);
                if (rc == BN_EOF || bn_reader_done(r))
                    break;
            }
            bn_reader_free(r);
        } else {
            assert_null(r);
        }
        bn_alloc_fail_after(0);
    }
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    alloc_run("{\"a\":{\"b\":[1,2,\"\\u00e9\"]},\"c\":\"x\"}\n{\"d\":1}\n", BN_FMT_NDJSON);
    alloc_run("{\n\"a\": {\"b\": \"\\n\"}\n}\n{\"d\":1}\n", BN_FMT_AUTO);
    alloc_run("<13>1 2003-10-11T22:14:15Z h a - - [x a=\"b\"] m\nJan  1 00:00:00 h p: m\n",
              BN_FMT_AUTO);
    alloc_run("type=SYSCALL msg=audit(1.0:1): a=b exe=2F62\ntype=EOE msg=audit(1.0:1): \n"
              "type=USER_LOGIN msg=audit(1.0:2): msg='op=x'\n",
              BN_FMT_AUTO);
    size_t n;
    unsigned char *gz = gzip_of(sample, &n);
    for (unsigned long fail = 1; fail < 100; fail++) {
        bn_alloc_fail_after(fail);
        struct bn_reader *r;
        struct bn_diag d;
        if (bn_reader_open_mem(&r, gz, n, "oom", BN_FMT_AUTO, &d) == 0) {
            struct bn_record *rec;
            while (bn_reader_next(r, &rec, &d) != BN_EOF && !bn_reader_done(r))
                ;
            bn_reader_free(r);
        }
        bn_alloc_fail_after(0);
    }
    free(gz);
}

/* bn_record_parse_ndjson (one line, no reader) gives what the NDJSON reader gives */
static void
test_parse_ndjson_same(void **state)
{
    (void)state;
    static const char *lines[] = {
        "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"UtcTime\":\"2026-11-26 11:00:00.123\","
        "\"Image\":\"/usr/bin/x\",\"CommandLine\":\"a \\\"b\\\" \\u00e9\\n\",\"bannin.seq\":7}",
        "  {\"a\":{\"b\":[1,2,{\"c\":null}],\"d\":true},\"e\":-1.5e3}  \r",
        "\xef\xbb\xbf{\"k\":\"v\"}",
        "{\"ts\":1700000000.5,\"x\":\"\\ud83d\\ude00\"}",
        "{\"k\":\"v\"} trailing",
        "[1,2]",
        "{\"k\":",
        "{\"k\":\"\\x\"}",
        "{\"a\":1,\"a\":2}",
        "{}",
        "   ",
        "{\"bad\":\"\xff\xfe\"}",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        const char *why = ndjson_same(lines[i], strlen(lines[i]));
        if (why)
            fail_msg("line %zu: %s differs", i, why);
    }
    /* and a trailing newline is allowed */
    struct bn_record r;
    struct bn_diag d;
    assert_int_equal(bn_record_init(&r), 0);
    assert_int_equal(bn_record_parse_ndjson(&r, "{\"k\":\"v\"}\n", 10, "x", &d), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(bn_record_parse_ndjson(&r, "{\"k\":", 5, "x", &d), BN_EPARSE);
    assert_int_equal(d.line, 1);
    bn_record_release(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ndjson_same),
        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_ndjson_bad_line_skipped),
        cmocka_unit_test(test_concat_objects),
        cmocka_unit_test(test_concat_resync),
        cmocka_unit_test(test_top_level_array),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_invalid_utf8_passes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_line_over_limit),
        cmocka_unit_test(test_journal),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_zstd),
        cmocka_unit_test(test_bomb),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_syslog),
        cmocka_unit_test(test_auditd_join),
        cmocka_unit_test(test_auditd_grace),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
