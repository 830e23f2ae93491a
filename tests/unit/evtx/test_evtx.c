/*
 * test_evtx.c - the EVTX reader on hand-built files: value types and evtx_dump's JSON
 * layout, template reuse, and every damage path (bad magic, checksums, truncation, names
 * and templates out of bounds, template loops, nesting limits, allocation failures).
 *
 * With BN_EVTX_DUMP_SEEDS=<dir> the built files are also written there (fuzz seeds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "evtx_build.h"
#include "input/evtx.h"
#include "input/reader_int.h"
#include "bannin/timeutil.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/reader.h"

#define FT_2025 133980000000000000ull /* 2025-07-26T...Z in FILETIME ticks */

static void
dump_seed(const struct eb *b, size_t len, const char *name)
{
    const char *dir = getenv("BN_EVTX_DUMP_SEEDS");
    if (!dir)
        return;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b->file, 1, len, f);
        fclose(f);
    }
}

/* The event template: System with the usual children, EventData with named, unnamed,
 * typed, null and nested-BinXML Data elements. Writes the body only. */
static void
event_body(struct eb *b)
{
    eb_fragment(b);
    eb_open(b, "Event", true, true);
    eb_attr(b, "xmlns");
    eb_text(b, "http://schemas.microsoft.com/win/2004/08/events/event");
    eb_close_start(b);
    eb_open(b, "System", false, true);
    eb_close_start(b);
    eb_open(b, "Provider", true, true);
    eb_attr(b, "Name");
    eb_subst(b, 0, 0x01, true);
    eb_attr(b, "Guid");
    eb_subst(b, 1, 0x0f, true);
    eb_close_empty(b);
    eb_open(b, "EventID", true, true);
    eb_attr(b, "Qualifiers");
    eb_subst(b, 2, 0x06, true);
    eb_close_start(b);
    eb_subst(b, 3, 0x06, false);
    eb_end(b);
    eb_open(b, "TimeCreated", true, true);
    eb_attr(b, "SystemTime");
    eb_subst(b, 4, 0x11, true);
    eb_close_empty(b);
    eb_open(b, "Correlation", true, true);
    eb_attr(b, "ActivityID");
    eb_subst(b, 5, 0x0f, true);
    eb_close_empty(b);
    eb_open(b, "Channel", false, true);
    eb_close_start(b);
    eb_subst(b, 6, 0x01, true);
    eb_end(b);
    eb_open(b, "Security", true, true);
    eb_attr(b, "UserID");
    eb_subst(b, 7, 0x13, true);
    eb_close_empty(b);
    eb_end(b); /* System */
    eb_open(b, "EventData", false, true);
    eb_close_start(b);
    static const char *const named[] = {"CommandLine", "ProcessId", "Signed",  "Hashes",
                                        "Bin",         "Empty",     "Count",   "Ratio",
                                        "Small",       "When"};
    for (unsigned i = 0; i < 10; i++) {
        eb_open(b, "Data", true, true);
        eb_attr(b, "Name");
        eb_text(b, named[i]);
        eb_close_start(b);
        eb_subst(b, 8 + i, 0, true);
        eb_end(b);
    }
    for (unsigned i = 0; i < 2; i++) {
        eb_open(b, "Data", false, true);
        eb_close_start(b);
        eb_subst(b, 18 + i, 0x01, true);
        eb_end(b);
    }
    eb_open(b, "Data", true, true);
    eb_attr(b, "Name");
    eb_text(b, "Nested");
    eb_close_start(b);
    eb_subst(b, 20, 0x21, true);
    eb_end(b);
    eb_end(b); /* EventData */
    eb_end(b); /* Event */
    eb_eof(b);
}

/* A BinXML value <Inner><A>x</A></Inner> written at b->pos (layout without dependency id). */
static unsigned
nested_value(struct eb *b, unsigned char *out)
{
    /* Build it in place inside the chunk at a scratch position, then copy. */
    uint32_t save = b->pos;
    unsigned char *c = b->c;
    (void)c;
    eb_fragment(b);
    eb_open(b, "Inner", false, false);
    eb_close_start(b);
    eb_open(b, "A", false, false);
    eb_close_start(b);
    eb_text(b, "x");
    eb_end(b);
    eb_end(b);
    eb_eof(b);
    unsigned n = b->pos - save;
    memcpy(out, b->c + save, n);
    b->pos = save;
    return n;
}

static const unsigned char guid_bytes[16] = {0x5f, 0x38, 0x70, 0x57, 0x2a, 0xc2, 0xe0, 0x43,
                                             0xbf, 0x4c, 0x06, 0xf5, 0x69, 0x8f, 0xfb, 0xd9};
static const unsigned char sid_bytes[12] = {1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0};

static void
u16s(unsigned char *out, const char *s, unsigned *size)
{
    unsigned n = 0;
    for (; *s; s++) {
        out[n++] = (unsigned char)*s;
        out[n++] = 0;
    }
    *size = n;
}

/* Writes one record of the event template; nested BinXML values are relocated because
 * their inline names carry chunk offsets. */
static void
event_record(struct eb *b, uint32_t *def_off, bool qualifiers, const char *cmdline)
{
    static unsigned char prov[128], chan[128], cmd[256], hashes[128], d1[32], d2[32];
    unsigned prov_n, chan_n, cmd_n, d1_n, d2_n;
    u16s(prov, "Microsoft-Windows-Sysmon", &prov_n);
    u16s(chan, "Microsoft-Windows-Sysmon/Operational", &chan_n);
    u16s(cmd, cmdline, &cmd_n);
    /* "MD5=AB", "SHA1=CD" as a string array, plus trailing spaces trimmed on cmd. */
    unsigned hn = 0, k;
    u16s(hashes, "MD5=AB", &k);
    hn = k + 2;
    hashes[k] = hashes[k + 1] = 0;
    u16s(hashes + hn, "SHA1=CD", &k);
    hn += k;
    u16s(d1, "first", &d1_n);
    u16s(d2, "second ", &d2_n);
    static const unsigned char pid[8] = {0x9c, 0x02, 0, 0, 0, 0, 0, 0};
    static const unsigned char yes[4] = {1, 0, 0, 0};
    static const unsigned char bin[3] = {0xde, 0xad, 0x01};
    static const unsigned char cnt[4] = {0xff, 0xff, 0xff, 0xff}; /* int32 -1 */
    static const unsigned char small[1] = {0x80};                  /* int8 -128 */
    double ratio = 0.5;
    unsigned char ratio_b[8];
    memcpy(ratio_b, &ratio, 8);
    static const unsigned char qual[2] = {0x00, 0x80};
    static const unsigned char eid[2] = {1, 0};
    unsigned char ft[8], when[8];
    eb_put64(ft, FT_2025 + 1234567);
    eb_put64(when, 116444736000000000ull); /* 1970-01-01 */

    eb_record_begin(b, FT_2025 + 1234567);
    eb_fragment(b);
    uint32_t vals_nested_at;
    if (*def_off == 0) {
        uint32_t size_at = eb_tdef_begin(b, def_off);
        event_body(b);
        eb_tdef_end(b, size_at);
    } else {
        eb_tref(b, *def_off);
    }
    /* The nested value lands after the descriptors and the values before it. */
    unsigned char nested[128];
    struct eb_val v[21] = {
        {0x01, prov, prov_n},
        {0x0f, guid_bytes, 16},
        {qualifiers ? 0x06 : 0x00, qual, qualifiers ? 2 : 0},
        {0x06, eid, 2},
        {0x11, ft, 8},
        {0x00, NULL, 0},
        {0x01, chan, chan_n},
        {0x13, sid_bytes, 12},
        {0x01, cmd, cmd_n},
        {0x15, pid, 8},
        {0x0d, yes, 4},
        {0x81, hashes, hn},
        {0x0e, bin, 3},
        {0x00, NULL, 0},
        {0x07, cnt, 4},
        {0x0c, ratio_b, 8},
        {0x03, small, 1},
        {0x11, when, 8},
        {0x01, d1, d1_n},
        {0x01, d2, d2_n},
        {0x21, nested, 0},
    };
    uint32_t at = b->pos + 4 + 21 * 4;
    for (unsigned i = 0; i < 20; i++)
        at += v[i].size;
    vals_nested_at = at;
    uint32_t save = b->pos;
    b->pos = vals_nested_at;
    v[20].size = nested_value(b, nested);
    b->pos = save;
    eb_values(b, v, 21);
    eb_eof(b);
    eb_record_end(b);
}

static size_t
build_good(struct eb *b, unsigned records)
{
    eb_init(b);
    eb_chunk_begin(b);
    uint32_t def = 0;
    for (unsigned i = 0; i < records; i++)
        event_record(b, &def, i % 2 == 1, "cmd.exe /c whoami  ");
    eb_chunk_end(b);
    return eb_finish(b);
}

static const char *
get(const struct bn_record *rec, const char *key, int *type)
{
    const struct bn_kv *kv = bn_record_get(rec, key);
    if (!kv)
        return NULL;
    if (type)
        *type = kv->type;
    return kv->val ? kv->val : "(null)";
}

static int
count_key(const struct bn_record *rec, const char *key)
{
    int n = 0;
    for (uint32_t i = 0; i < rec->n; i++)
        if (strlen(key) == rec->kv[i].key_len && memcmp(rec->kv[i].key, key, rec->kv[i].key_len) == 0)
            n++;
    return n;
}

static struct bn_reader *
open_mem(const void *data, size_t len, struct bn_diag *d)
{
    struct bn_reader *r = NULL;
    int rc = bn_reader_open_mem(&r, data, len, "t.evtx", BN_FMT_AUTO, d);
    assert_int_equal(rc, 0);
    assert_int_equal(bn_reader_format(r), BN_FMT_EVTX);
    return r;
}

static struct eb B;

static void
test_values_and_layout(void **state)
{
    (void)state;
    size_t len = build_good(&B, 2);
    dump_seed(&B, len, "good-2.evtx");
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, len, &d);
    struct bn_record *rec;
    int t = -1;

    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    assert_string_equal(get(rec, "Event.#attributes.xmlns", NULL),
                        "http://schemas.microsoft.com/win/2004/08/events/event");
    assert_string_equal(get(rec, "Event.System.Provider.#attributes.Name", NULL),
                        "Microsoft-Windows-Sysmon");
    assert_string_equal(get(rec, "Event.System.Provider.#attributes.Guid", NULL),
                        "5770385F-C22A-43E0-BF4C-06F5698FFBD9");
    /* Qualifiers is null in the first record: plain EventID, typed as a number. */
    assert_string_equal(get(rec, "Event.System.EventID", &t), "1");
    assert_int_equal(t, BN_VT_NUM);
    assert_null(get(rec, "Event.System.EventID.#attributes.Qualifiers", NULL));
    assert_string_equal(get(rec, "Event.System.TimeCreated.#attributes.SystemTime", NULL),
                        "2025-07-26T10:40:00.123456Z");
    assert_string_equal(get(rec, "Event.System.Correlation", &t), "(null)");
    assert_int_equal(t, BN_VT_NULL);
    assert_string_equal(get(rec, "Event.System.Channel", NULL),
                        "Microsoft-Windows-Sysmon/Operational");
    assert_string_equal(get(rec, "Event.System.Security.#attributes.UserID", NULL), "S-1-5-18");
    assert_string_equal(get(rec, "Event.EventData.CommandLine", &t), "cmd.exe /c whoami");
    assert_int_equal(t, BN_VT_STR);
    assert_string_equal(get(rec, "Event.EventData.ProcessId", NULL), "0x29c");
    assert_string_equal(get(rec, "Event.EventData.Signed", &t), "true");
    assert_int_equal(t, BN_VT_BOOL);
    assert_int_equal(count_key(rec, "Event.EventData.Hashes"), 2);
    assert_string_equal(get(rec, "Event.EventData.Hashes", NULL), "MD5=AB");
    assert_string_equal(get(rec, "Event.EventData.Bin", NULL), "DEAD01");
    assert_string_equal(get(rec, "Event.EventData.Empty", &t), "(null)");
    assert_int_equal(t, BN_VT_NULL);
    assert_string_equal(get(rec, "Event.EventData.Count", &t), "-1");
    assert_int_equal(t, BN_VT_NUM);
    assert_string_equal(get(rec, "Event.EventData.Ratio", NULL), "0.5");
    assert_string_equal(get(rec, "Event.EventData.Small", NULL), "-128");
    assert_string_equal(get(rec, "Event.EventData.When", NULL), "1970-01-01T00:00:00.000000Z");
    assert_int_equal(count_key(rec, "Event.EventData.Data.#text"), 2);
    assert_string_equal(get(rec, "Event.EventData.Data.#text", NULL), "first");
    assert_string_equal(get(rec, "Event.EventData.Nested.Inner.A", NULL), "x");
    /* The event's TimeCreated (2025-07-26T10:40:00.123456Z), not the header's written time. */
    int64_t created;
    assert_int_equal(bn_time_parse("2025-07-26T10:40:00.123456Z", 27, &created), 0);
    assert_int_equal(rec->ts_ns, created);
    assert_true(rec->ts_ns != (int64_t)(FT_2025 + 1234567 - 116444736000000000ull) * 100);
    assert_int_equal(rec->offset, 4096 + 512);
    assert_string_equal(rec->format, "evtx");

    /* Second record: template by reference, Qualifiers present -> "#text". */
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    assert_string_equal(get(rec, "Event.System.EventID.#text", NULL), "1");
    assert_string_equal(get(rec, "Event.System.EventID.#attributes.Qualifiers", NULL), "32768");
    assert_null(get(rec, "Event.System.EventID", NULL));
    assert_string_equal(get(rec, "Event.EventData.Nested.Inner.A", NULL), "x");
    assert_int_equal(rec->index, 1);

    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    struct bn__evtx_counters c;
    assert_int_equal(bn__evtx_counters(r, &c), 0);
    assert_int_equal(c.templates, 1); /* compiled once, reused by the second record */
    assert_int_equal(c.chunks, 1);
    bn_reader_free(r);
}

static void
test_shared_names_and_many_records(void **state)
{
    (void)state;
    eb_init(&B);
    B.shared_names = true;
    eb_chunk_begin(&B);
    uint32_t def = 0;
    for (unsigned i = 0; i < 50; i++)
        event_record(&B, &def, false, "x");
    eb_chunk_end(&B);
    eb_chunk_begin(&B);
    def = 0;
    for (unsigned i = 0; i < 3; i++)
        event_record(&B, &def, true, "y");
    eb_chunk_end(&B);
    size_t len = eb_finish(&B);
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, len, &d);
    struct bn_record *rec;
    unsigned n = 0;
    int rc;
    while ((rc = bn_reader_next(r, &rec, &d)) == 0) {
        assert_string_equal(get(rec, "Event.EventData.CommandLine", NULL), n < 50 ? "x" : "y");
        n++;
    }
    assert_int_equal(rc, BN_EOF);
    assert_int_equal(n, 53);
    assert_int_equal(bn_reader_stats(r)->skipped, 0);
    bn_reader_free(r);
}

static void
test_bad_file_magic(void **state)
{
    (void)state;
    size_t len = build_good(&B, 1);
    B.file[0] = 'X';
    struct bn_reader *r = NULL;
    struct bn_diag d;
    bn_diag_clear(&d);
    int rc = bn_reader_open_mem(&r, B.file, len, "t.evtx", BN_FMT_EVTX, &d);
    assert_int_equal(rc, BN_EFORMAT);
    assert_null(r);
    assert_non_null(strstr(d.msg, "ElfFile"));
}

static void
test_truncated_header(void **state)
{
    (void)state;
    build_good(&B, 1);
    struct bn_reader *r = NULL;
    struct bn_diag d;
    int rc = bn_reader_open_mem(&r, B.file, 1000, "t.evtx", BN_FMT_EVTX, &d);
    assert_int_equal(rc, BN_ETRUNC);
    assert_null(r);
    assert_non_null(strstr(d.msg, "truncated"));
}

/* Two chunks; the first is damaged in the given way, the second holds one good record. */
static size_t
build_two(struct eb *b)
{
    eb_init(b);
    for (int k = 0; k < 2; k++) {
        eb_chunk_begin(b);
        uint32_t def = 0;
        event_record(b, &def, false, k ? "second" : "first");
        eb_chunk_end(b);
    }
    return eb_finish(b);
}

static void
test_bad_chunk_magic(void **state)
{
    (void)state;
    size_t len = build_two(&B);
    memcpy(B.file + 4096, "ElfJunk", 8);
    dump_seed(&B, len, "bad-chunk-magic.evtx");
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, len, &d);
    struct bn_record *rec;
    int rc = bn_reader_next(r, &rec, &d);
    assert_int_equal(rc, BN_EFORMAT);
    assert_non_null(strstr(d.msg, "chunk 0 at offset 4096"));
    assert_non_null(strstr(d.msg, "magic"));
    assert_false(bn_reader_done(r));
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    assert_string_equal(get(rec, "Event.EventData.CommandLine", NULL), "second");
    assert_int_equal(rec->offset, 4096 + 65536 + 512);
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    struct bn__evtx_counters c;
    bn__evtx_counters(r, &c);
    assert_int_equal(c.chunks_bad_magic, 1);
    bn_reader_free(r);
}

static void
test_checksums(void **state)
{
    (void)state;
    /* Bad header checksum: the chunk is skipped. */
    size_t len = build_two(&B);
    B.file[4096 + 130] ^= 0xff; /* inside the string table, covered by the header CRC */
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, len, &d);
    struct bn_record *rec;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EFORMAT);
    assert_non_null(strstr(d.msg, "header checksum"));
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    assert_string_equal(get(rec, "Event.EventData.CommandLine", NULL), "second");
    bn_reader_free(r);

    /* Bad data checksum: counted, records still read. */
    len = build_two(&B);
    B.file[4096 + 52] ^= 0x01;
    uLong crc = crc32(0L, B.file + 4096, 120);
    crc = crc32(crc, B.file + 4096 + 128, 384);
    eb_put32(B.file + 4096 + 124, (uint32_t)crc);
    r = open_mem(B.file, len, &d);
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    assert_string_equal(get(rec, "Event.EventData.CommandLine", NULL), "first");
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    struct bn__evtx_counters c;
    bn__evtx_counters(r, &c);
    assert_int_equal(c.chunks_bad_data_crc, 1);
    bn_reader_free(r);
}

static void
test_truncated_chunk(void **state)
{
    (void)state;
    size_t len = build_good(&B, 3);
    (void)len;
    /* Cut the file inside the second record. */
    uint32_t rec1 = 512 + (uint32_t)(B.file[4096 + 512 + 4] | B.file[4096 + 512 + 5] << 8);
    size_t cut = 4096 + rec1 + 40;
    dump_seed(&B, cut, "truncated.evtx");
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, cut, &d);
    struct bn_record *rec;
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    int rc = bn_reader_next(r, &rec, &d);
    assert_int_equal(rc, BN_ETRUNC);
    assert_non_null(strstr(d.msg, "truncated"));
    assert_non_null(strstr(d.msg, "chunk 0"));
    assert_true(bn_reader_done(r));
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    bn_reader_free(r);

    /* Cut inside the chunk header. */
    r = open_mem(B.file, 4096 + 100, &d);
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_ETRUNC);
    assert_true(bn_reader_done(r));
    bn_reader_free(r);
}

/* A chunk with: a record whose element name offset points outside the chunk, then a good
 * record. */
static void
test_name_out_of_bounds(void **state)
{
    (void)state;
    eb_init(&B);
    eb_chunk_begin(&B);
    eb_record_begin(&B, FT_2025);
    eb_fragment(&B);
    eb_u8(&B, 0x01);
    eb_u16(&B, 0xffff);
    eb_u32(&B, 0);
    eb_u32(&B, 0x7ffffff0); /* name offset far outside */
    eb_close_empty(&B);
    eb_eof(&B);
    eb_record_end(&B);
    uint32_t def = 0;
    event_record(&B, &def, false, "after");
    eb_chunk_end(&B);
    size_t len = eb_finish(&B);
    dump_seed(&B, len, "name-oob.evtx");
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, len, &d);
    struct bn_record *rec;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
    assert_non_null(strstr(d.msg, "name offset"));
    assert_non_null(strstr(d.msg, "record 1"));
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    assert_string_equal(get(rec, "Event.EventData.CommandLine", NULL), "after");
    assert_int_equal(bn_reader_stats(r)->skipped, 1);
    bn_reader_free(r);
}

/* A template whose body instantiates itself; and one whose definition runs off the chunk. */
static void
test_template_loop(void **state)
{
    (void)state;
    eb_init(&B);
    eb_chunk_begin(&B);
    eb_record_begin(&B, FT_2025);
    eb_fragment(&B);
    uint32_t def;
    uint32_t size_at = eb_tdef_begin(&B, &def);
    eb_fragment(&B);
    eb_open(&B, "Loop", false, true);
    eb_close_start(&B);
    eb_tref(&B, def);
    eb_values(&B, NULL, 0);
    eb_end(&B);
    eb_eof(&B);
    eb_tdef_end(&B, size_at);
    eb_values(&B, NULL, 0);
    eb_eof(&B);
    eb_record_end(&B);

    /* Template reference far outside the chunk. */
    eb_record_begin(&B, FT_2025);
    eb_fragment(&B);
    eb_tref(&B, 0x00fffff0);
    eb_values(&B, NULL, 0);
    eb_eof(&B);
    eb_record_end(&B);

    uint32_t d2 = 0;
    event_record(&B, &d2, false, "ok");
    eb_chunk_end(&B);
    size_t len = eb_finish(&B);
    dump_seed(&B, len, "template-loop.evtx");
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, len, &d);
    struct bn_record *rec;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
    assert_non_null(strstr(d.msg, "includes itself"));
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
    assert_non_null(strstr(d.msg, "template offset"));
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    assert_string_equal(get(rec, "Event.EventData.CommandLine", NULL), "ok");
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    struct bn__evtx_counters c;
    bn__evtx_counters(r, &c);
    assert_int_equal(c.records_bad, 2);
    bn_reader_free(r);
}

/* Elements nested past BN_EVTX_XML_DEPTH_MAX. */
static void
test_depth_limit(void **state)
{
    (void)state;
    eb_init(&B);
    B.shared_names = true;
    eb_chunk_begin(&B);
    eb_record_begin(&B, FT_2025);
    eb_fragment(&B);
    for (int i = 0; i < 200; i++) {
        eb_open(&B, "E", false, true);
        eb_close_start(&B);
    }
    for (int i = 0; i < 200; i++)
        eb_end(&B);
    eb_eof(&B);
    eb_record_end(&B);
    eb_chunk_end(&B);
    size_t len = eb_finish(&B);
    dump_seed(&B, len, "deep.evtx");
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, len, &d);
    struct bn_record *rec;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_ETOOBIG);
    assert_non_null(strstr(d.msg, "BN_EVTX_XML_DEPTH_MAX"));
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    bn_reader_free(r);
}

/* Record size fields that lie: past the chunk, and too small. */
static void
test_bad_record_sizes(void **state)
{
    (void)state;
    size_t len = build_good(&B, 2);
    eb_put32(B.file + 4096 + 512 + 4, 60000);
    struct bn_diag d;
    struct bn_reader *r = open_mem(B.file, len, &d);
    struct bn_record *rec;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
    assert_non_null(strstr(d.msg, "bad size"));
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    bn_reader_free(r);

    len = build_good(&B, 2);
    eb_put32(B.file + 4096 + 512, 0x12345678);
    r = open_mem(B.file, len, &d);
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EPARSE);
    assert_non_null(strstr(d.msg, "bad magic"));
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    bn_reader_free(r);
}

/* Every allocation failing in turn: clean errors, no leaks (ASan), no crash. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    size_t len = build_good(&B, 2);
    for (unsigned long n = 1; n < 200; n++) {
        struct bn_reader *r = NULL;
        struct bn_diag d;
        bn_alloc_fail_after(n);
        int rc = bn_reader_open_mem(&r, B.file, len, "t.evtx", BN_FMT_EVTX, &d);
        if (rc == 0) {
            struct bn_record *rec;
            for (int i = 0; i < 5 && !bn_reader_done(r); i++)
                (void)bn_reader_next(r, &rec, &d);
            bn_reader_free(r);
        }
        bn_alloc_fail_after(0);
    }
}

/* Random corruption of a good file: must never crash (ASan/UBSan watch). */
static void
test_corruption_sweep(void **state)
{
    (void)state;
    size_t len = build_good(&B, 3);
    static unsigned char copy[sizeof(B.file)];
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        memcpy(copy, B.file, len);
        for (int k = 0; k < 8; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = 4096 + 512 + (seed >> 8) % 3000;
            copy[at] = (unsigned char)(seed >> 3);
        }
        struct bn_reader *r = NULL;
        struct bn_diag d;
        if (bn_reader_open_mem(&r, copy, len, "t.evtx", BN_FMT_EVTX, &d) == 0) {
            struct bn_record *rec;
            for (int i = 0; i < 20 && !bn_reader_done(r); i++)
                (void)bn_reader_next(r, &rec, &d);
            bn_reader_free(r);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_layout),
        cmocka_unit_test(test_shared_names_and_many_records),
        cmocka_unit_test(test_bad_file_magic),
        cmocka_unit_test(test_truncated_header),
        cmocka_unit_test(test_bad_chunk_magic),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_truncated_chunk),
        cmocka_unit_test(test_name_out_of_bounds),
        cmocka_unit_test(test_template_loop),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_bad_record_sizes),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_corruption_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
