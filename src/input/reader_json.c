/*
 * reader_json.c - the JSON log readers, the hot path of `bannin hunt`: NDJSON (one object
 * per line), concatenated objects as evtx_dump writes them (or one top-level array of
 * objects), and `journalctl -o json`.
 *
 * A small hand-written parser flattens each top-level object into record pairs with dotted
 * keys ("Event.System.Provider.#attributes.Name"); array elements repeat their key. It is
 * zero-copy where it can be: strings without escapes, numbers, booleans and top-level keys
 * point into the source window; only escaped strings and nested keys are written to the
 * record's pool. Generic JSON DOM libraries were measured too slow for ~1M events/s/core.
 *
 * Bad input is skipped record by record: an NDJSON line with file:line:col and the reason,
 * a concatenated object by resynchronising at the next line that starts with '{'. Invalid
 * UTF-8 passes through as bytes; the engine is byte-oriented.
 */
#include <stdio.h>
#include <string.h>

#include "input/reader_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/pool.h"

enum jmode {
    JM_NDJSON,
    JM_CONCAT,
    JM_JOURNAL,
};

struct jstate {
    enum jmode mode;
    bool started;      /* past the BOM / the opening '[' */
    bool in_array;     /* concatenated input is one top-level array */
    uint64_t line;     /* newlines consumed before the window start */
    uint64_t bol_off;  /* decoded offset of the start of the current line */
    char key[BN_KEY_MAX + 2];
};

/* One parse of one object. */
struct jp {
    const char *p;
    const char *end;
    struct bn_record *rec;
    struct jstate *st;
    bool journal;
    int err;            /* 0, BN_AGAIN (input ended), BN_EPARSE, BN_ETOOBIG, BN_ENOMEM */
    const char *err_at;
    const char *why;
    const char *last_key; /* the last key copied into the pool (arrays repeat keys) */
    uint32_t last_len;
};

static int
jfail(struct jp *j, const char *at, int code, const char *why)
{
    if (code == BN_EPARSE && at >= j->end) {
        code = BN_AGAIN;
        why = "input ends inside the object";
    }
    j->err = code;
    j->err_at = at;
    j->why = why;
    return code;
}

static inline const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool
hex4(const char *s, const char *end, unsigned *v)
{
    if (end - s < 4)
        return false;
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)s[i]);
        if (h < 0)
            return false;
        x = x << 4 | (unsigned)h;
    }
    *v = x;
    return true;
}

static size_t
put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Decodes the escaped string body s..e into o (room for e - s bytes is enough: every escape
 * is longer than what it decodes to). Returns the decoded length or -1 with *bad set.
 */
static ssize_t
unescape(const char *s, const char *e, char *o, const char **bad)
{
    char *o0 = o;
    while (s < e) {
        const char *bs = memchr(s, '\\', (size_t)(e - s));
        if (!bs) {
            memcpy(o, s, (size_t)(e - s));
            o += e - s;
            break;
        }
        memcpy(o, s, (size_t)(bs - s));
        o += bs - s;
        s = bs + 1;
        if (s >= e) {
            *bad = bs;
            return -1;
        }
        switch (*s++) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (!hex4(s, e, &cp)) {
                *bad = bs;
                return -1;
            }
            s += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (e - s >= 6 && s[0] == '\\' && s[1] == 'u' && hex4(s + 2, e, &lo) &&
                    lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                } else {
                    cp = 0xfffd; /* lone high surrogate */
                }
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                cp = 0xfffd; /* lone low surrogate */
            }
            o += put_utf8(o, cp);
            break;
        }
        default:
            *bad = bs;
            return -1;
        }
    }
    return o - o0;
}

/* Scans the string at j->p ('"'); sets the body and whether it holds escapes. */
static int
scan_string(struct jp *j, const char **b, const char **e, bool *esc)
{
    const char *s = j->p + 1;
    const char *q = memchr(s, '"', (size_t)(j->end - s));
    if (!q)
        return jfail(j, j->end, BN_EPARSE, "unterminated string");
    if (BN_LIKELY(!memchr(s, '\\', (size_t)(q - s)))) {
        *b = s;
        *e = q;
        *esc = false;
        j->p = q + 1;
        return 0;
    }
    const char *t = s;
    while (t < j->end) {
        if (*t == '\\') {
            t += 2;
            continue;
        }
        if (*t == '"')
            break;
        t++;
    }
    if (t >= j->end)
        return jfail(j, j->end, BN_EPARSE, "unterminated string");
    *b = s;
    *e = t;
    *esc = true;
    j->p = t + 1;
    return 0;
}

/* Adds a leaf under the current key (st->key[0..klen), or kz when it points at the same
 * bytes in the input). */
static int
emit(struct jp *j, size_t klen, const char *kz, const char *v, size_t vlen, enum bn_vtype t)
{
    const char *k = kz;
    if (!k) {
        if (j->last_key && j->last_len == klen && memcmp(j->last_key, j->st->key, klen) == 0) {
            k = j->last_key;
        } else {
            char *c = bn_pool_strndup(j->rec->pool, j->st->key, klen);
            if (!c)
                return jfail(j, j->p, BN_ENOMEM, "out of memory");
            j->last_key = c;
            j->last_len = (uint32_t)klen;
            k = c;
        }
    }
    int rc = bn_record_add(j->rec, k, klen, v, vlen, t);
    if (BN_UNLIKELY(rc))
        return jfail(j, j->p, rc,
                     rc == BN_ETOOBIG ? "more fields than BN_RECORD_FIELDS_MAX" : "out of memory");
    return 0;
}

static int parse_value(struct jp *j, size_t klen, const char *kz, int depth);

static int
parse_object(struct jp *j, size_t klen, int depth)
{
    if (depth > BN_JSON_DEPTH_MAX)
        return jfail(j, j->p, BN_ETOOBIG, "nesting deeper than BN_JSON_DEPTH_MAX");
    j->p = skip_ws(j->p + 1, j->end);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (j->p >= j->end)
            return jfail(j, j->p, BN_EPARSE, "");
        if (*j->p != '"')
            return jfail(j, j->p, BN_EPARSE, "expected a '\"' to start a key");
        const char *kb, *ke;
        bool esc;
        if (scan_string(j, &kb, &ke, &esc))
            return j->err;
        size_t nk = klen ? klen + 1 : 0;
        size_t raw = (size_t)(ke - kb);
        if (!esc && nk + raw > BN_KEY_MAX)
            return jfail(j, kb, BN_ETOOBIG, "key longer than BN_KEY_MAX");
        const char *kz = NULL;
        if (klen)
            j->st->key[klen] = '.';
        if (!esc) {
            memcpy(j->st->key + nk, kb, raw);
            nk += raw;
            if (!klen)
                kz = kb;
        } else {
            char tmp[BN_KEY_MAX + 1];
            const char *bad;
            if (raw > BN_KEY_MAX * 6)
                return jfail(j, kb, BN_ETOOBIG, "key longer than BN_KEY_MAX");
            /* Decode into a bounded scratch first; escapes only shrink. */
            char *big = raw > BN_KEY_MAX ? bn_malloc(raw) : tmp;
            if (!big)
                return jfail(j, kb, BN_ENOMEM, "out of memory");
            ssize_t n = unescape(kb, ke, big, &bad);
            if (n < 0 || nk + (size_t)n > BN_KEY_MAX) {
                if (big != tmp)
                    bn_free(big);
                return n < 0 ? jfail(j, bad, BN_EPARSE, "invalid escape in key")
                             : jfail(j, kb, BN_ETOOBIG, "key longer than BN_KEY_MAX");
            }
            memcpy(j->st->key + nk, big, (size_t)n);
            nk += (size_t)n;
            if (big != tmp)
                bn_free(big);
        }
        j->p = skip_ws(j->p, j->end);
        if (j->p >= j->end || *j->p != ':')
            return jfail(j, j->p, BN_EPARSE, "expected ':' after the key");
        j->p++;
        if (parse_value(j, nk, kz, depth))
            return j->err;
        j->p = skip_ws(j->p, j->end);
        if (j->p >= j->end)
            return jfail(j, j->p, BN_EPARSE, "");
        if (*j->p == ',') {
            j->p = skip_ws(j->p + 1, j->end);
            continue;
        }
        if (*j->p == '}') {
            j->p++;
            return 0;
        }
        return jfail(j, j->p, BN_EPARSE, "expected ',' or '}' after a member");
    }
}

/* journald writes binary field values as arrays of byte numbers: decode them to bytes. */
static int
journal_bytes(struct jp *j, size_t klen, const char *kz)
{
    const char *p = j->p + 1;
    size_t n = 0;
    for (;;) {
        p = skip_ws(p, j->end);
        if (p >= j->end || *p < '0' || *p > '9')
            return BN_DECLINED;
        unsigned v = 0;
        int nd = 0;
        while (p < j->end && *p >= '0' && *p <= '9' && nd < 4) {
            v = v * 10 + (unsigned)(*p++ - '0');
            nd++;
        }
        if (v > 255)
            return BN_DECLINED;
        n++;
        p = skip_ws(p, j->end);
        if (p < j->end && *p == ',') {
            p++;
            continue;
        }
        if (p < j->end && *p == ']')
            break;
        return BN_DECLINED;
    }
    char *o = bn_pool_alloc(j->rec->pool, n + 1);
    if (!o)
        return jfail(j, j->p, BN_ENOMEM, "out of memory");
    const char *q = j->p + 1;
    for (size_t i = 0; i < n; i++) {
        q = skip_ws(q, p);
        unsigned v = 0;
        while (*q >= '0' && *q <= '9')
            v = v * 10 + (unsigned)(*q++ - '0');
        o[i] = (char)v;
        q = skip_ws(q, p);
        if (*q == ',')
            q++;
    }
    o[n] = '\0';
    j->p = p + 1;
    return emit(j, klen, kz, o, n, BN_VT_STR);
}

static int
parse_array(struct jp *j, size_t klen, const char *kz, int depth)
{
    if (depth > BN_JSON_DEPTH_MAX)
        return jfail(j, j->p, BN_ETOOBIG, "nesting deeper than BN_JSON_DEPTH_MAX");
    if (j->journal) {
        int rc = journal_bytes(j, klen, kz);
        if (rc != BN_DECLINED)
            return rc;
    }
    j->p = skip_ws(j->p + 1, j->end);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (parse_value(j, klen, kz, depth))
            return j->err;
        j->p = skip_ws(j->p, j->end);
        if (j->p >= j->end)
            return jfail(j, j->p, BN_EPARSE, "");
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == ']') {
            j->p++;
            return 0;
        }
        return jfail(j, j->p, BN_EPARSE, "expected ',' or ']' in an array");
    }
}

static inline bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
parse_number(struct jp *j, size_t klen, const char *kz)
{
    const char *s = j->p, *p = j->p, *end = j->end;
    if (*p == '-')
        p++;
    if (p >= end)
        return jfail(j, p, BN_EPARSE, "");
    if (*p == '0') {
        p++;
    } else if (is_digit(*p)) {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return jfail(j, p, BN_EPARSE, "invalid number");
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return jfail(j, p, BN_EPARSE, "invalid number: digits must follow '.'");
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return jfail(j, p, BN_EPARSE, "invalid number: digits must follow the exponent");
        while (p < end && is_digit(*p))
            p++;
    }
    j->p = p;
    return emit(j, klen, kz, s, (size_t)(p - s), BN_VT_NUM);
}

static int
parse_literal(struct jp *j, size_t klen, const char *kz, const char *lit, size_t n,
              enum bn_vtype t)
{
    size_t have = (size_t)(j->end - j->p);
    if (have < n) {
        if (memcmp(j->p, lit, have) == 0)
            return jfail(j, j->end, BN_EPARSE, "");
        return jfail(j, j->p, BN_EPARSE, "invalid literal");
    }
    if (memcmp(j->p, lit, n) != 0)
        return jfail(j, j->p, BN_EPARSE, "invalid literal");
    const char *v = t == BN_VT_NULL ? NULL : j->p;
    j->p += n;
    return emit(j, klen, kz, v, t == BN_VT_NULL ? 0 : n, t);
}

static int
parse_value(struct jp *j, size_t klen, const char *kz, int depth)
{
    j->p = skip_ws(j->p, j->end);
    if (j->p >= j->end)
        return jfail(j, j->p, BN_EPARSE, "");
    switch (*j->p) {
    case '"': {
        const char *b, *e;
        bool esc;
        if (scan_string(j, &b, &e, &esc))
            return j->err;
        if (!esc)
            return emit(j, klen, kz, b, (size_t)(e - b), BN_VT_STR);
        char *o = bn_pool_alloc(j->rec->pool, (size_t)(e - b) + 1);
        if (!o)
            return jfail(j, b, BN_ENOMEM, "out of memory");
        const char *bad;
        ssize_t n = unescape(b, e, o, &bad);
        if (n < 0)
            return jfail(j, bad, BN_EPARSE, "invalid escape in a string");
        o[n] = '\0';
        return emit(j, klen, kz, o, (size_t)n, BN_VT_STR);
    }
    case '{':
        return parse_object(j, klen, depth + 1);
    case '[':
        return parse_array(j, klen, kz, depth + 1);
    case 't':
        return parse_literal(j, klen, kz, "true", 4, BN_VT_BOOL);
    case 'f':
        return parse_literal(j, klen, kz, "false", 5, BN_VT_BOOL);
    case 'n':
        return parse_literal(j, klen, kz, "null", 4, BN_VT_NULL);
    default:
        if (*j->p == '-' || is_digit(*j->p))
            return parse_number(j, klen, kz);
        return jfail(j, j->p, BN_EPARSE, "unexpected character where a value should be");
    }
}

/* Parses one object at p (which points at '{') into rec; on success j->p is past it. */
static int
parse_top(struct jp *j, struct jstate *st, struct bn_record *rec, const char *p,
          const char *end)
{
    memset(j, 0, sizeof(*j));
    j->p = p;
    j->end = end;
    j->rec = rec;
    j->st = st;
    j->journal = st->mode == JM_JOURNAL;
    return parse_object(j, 0, 1);
}

/* --- timestamps --- */

enum tskind {
    TS_ISO,       /* RFC 3339 text */
    TS_ANY,       /* RFC 3339 text or epoch seconds / ms / us / ns */
    TS_USEC,      /* journald microseconds */
};

static const struct {
    const char *key;
    uint32_t len;
    enum tskind kind;
} ts_keys[] = {
#define K(s, k) {s, sizeof(s) - 1, k}
    K("Event.System.TimeCreated.#attributes.SystemTime", TS_ISO),
    K("__REALTIME_TIMESTAMP", TS_USEC),
    K("@timestamp", TS_ANY),
    K("Event.EventData.UtcTime", TS_ISO),
    K("UtcTime", TS_ISO),
    K("timestamp", TS_ANY),
    K("ts", TS_ANY),
    K("EventTime", TS_ANY),
    K("TimeCreated", TS_ISO),
    K("time", TS_ANY),
#undef K
};

static int
epoch_any(const char *v, size_t n, int64_t *ns)
{
    size_t ip = 0;
    while (ip < n && is_digit(v[ip]))
        ip++;
    if (ip < 9)
        return BN_EPARSE;
    int64_t per = ip >= 18 ? 1000000000 : ip >= 15 ? 1000000 : ip >= 12 ? 1000 : 1;
    return bn_time_parse_epoch(v, n, per, ns);
}

static void
set_ts(struct bn_record *rec)
{
    size_t best = BN_ARRAY_SIZE(ts_keys);
    for (uint32_t i = 0; i < rec->n; i++) {
        const struct bn_kv *kv = &rec->kv[i];
        if (kv->type != BN_VT_STR && kv->type != BN_VT_NUM)
            continue;
        for (size_t t = 0; t < best; t++) {
            if (kv->key_len != ts_keys[t].len || memcmp(kv->key, ts_keys[t].key, kv->key_len))
                continue;
            int64_t ns;
            int rc;
            if (ts_keys[t].kind == TS_USEC)
                rc = bn_time_parse_epoch(kv->val, kv->val_len, 1000000, &ns);
            else if (ts_keys[t].kind == TS_ISO || kv->type == BN_VT_STR)
                rc = bn_time_parse(kv->val, kv->val_len, &ns);
            else
                rc = BN_EPARSE;
            if (rc && ts_keys[t].kind == TS_ANY)
                rc = epoch_any(kv->val, kv->val_len, &ns);
            if (rc == 0) {
                rec->ts_ns = ns;
                best = t;
            }
            break;
        }
        if (best == 0)
            break;
    }
}

/* --- NDJSON and journal --- */

static int
j_open(struct bn_reader *r, enum jmode mode, struct bn_diag *d)
{
    struct jstate *st = bn_calloc(1, sizeof(*st));
    if (!st)
        return bn_diag_set(d, BN_ENOMEM, r->path, 0, 0, "out of memory");
    st->mode = mode;
    r->state = st;
    return 0;
}

static int
ndjson_open(struct bn_reader *r, struct bn_diag *d)
{
    return j_open(r, JM_NDJSON, d);
}

static int
journal_open(struct bn_reader *r, struct bn_diag *d)
{
    return j_open(r, JM_JOURNAL, d);
}

static int
concat_open(struct bn_reader *r, struct bn_diag *d)
{
    return j_open(r, JM_CONCAT, d);
}

static void
j_close(struct bn_reader *r)
{
    bn_free(r->state);
    r->state = NULL;
}

static int
stream_error(struct bn_reader *r, int rc, uint64_t line, struct bn_diag *d)
{
    r->done = true;
    const char *msg = bn__source_error(r->src);
    return bn_diag_set(d, rc, r->path, line, 0, "%s", *msg ? msg : bn_strerror(rc));
}

/*
 * Parses one NDJSON line [start, end) (without its newline) into rec: a BOM on the first
 * line and blanks around the object are allowed. Returns 0 (rec filled, raw set), 1 for a
 * blank line, or an error with d (st->line, column).
 */
static int
ndjson_line(struct jstate *st, struct bn_record *rec, const char *start, const char *end,
            const char *path, struct bn_diag *d)
{
    const char *p = start;
    if (st->line == 1 && end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    p = skip_ws(p, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    if (p == end)
        return 1;
    struct jp j;
    if (*p != '{') {
        j.err = BN_EPARSE;
        j.err_at = p;
        j.why = "expected a JSON object ('{') at the start of the line";
    } else if (parse_top(&j, st, rec, p, end) == 0) {
        const char *q = skip_ws(j.p, end);
        if (q != end) {
            j.err = BN_EPARSE;
            j.err_at = q;
            j.why = "unexpected data after the object";
        }
    }
    if (j.err) {
        int code = j.err == BN_AGAIN ? BN_EPARSE : j.err;
        const char *why = j.err == BN_AGAIN ? "line ends inside the object" : j.why;
        return bn_diag_set(d, code, path, st->line, (unsigned long)(j.err_at - start) + 1, "%s",
                           why);
    }
    rec->raw = p;
    rec->raw_len = (size_t)(end - p);
    set_ts(rec);
    return 0;
}

static int
ndjson_next(struct bn_reader *r, struct bn_record *rec, struct bn_diag *d)
{
    struct jstate *st = r->state;
    for (;;) {
        uint64_t off = bn__source_offset(r->src);
        struct bn_str line;
        int rc = bn__source_line(r->src, BN_RECORD_MAX, &line);
        if (rc == BN_EOF)
            return BN_EOF;
        st->line++;
        if (rc == BN_ETOOBIG && !bn__source_failed(r->src))
            return bn_diag_set(d, rc, r->path, st->line, 0,
                               "line longer than %u bytes (BN_RECORD_MAX) skipped",
                               (unsigned)BN_RECORD_MAX);
        if (rc)
            return stream_error(r, rc, st->line, d);
        rc = ndjson_line(st, rec, line.p, line.p + line.len, r->path, d);
        if (rc == 1)
            continue;
        if (rc)
            return rc;
        rec->line = st->line;
        rec->offset = off + (uint64_t)(rec->raw - line.p);
        return 0;
    }
}

int
bn_record_parse_ndjson(struct bn_record *rec, const char *p, size_t len, const char *name,
                       struct bn_diag *d)
{
    struct jstate st;
    const char *end = p + len;

    bn_diag_clear(d);
    if (!name)
        name = "<memory>";
    if (len > BN_RECORD_MAX)
        return bn_diag_set(d, BN_ETOOBIG, name, 1, 0,
                           "line longer than %u bytes (BN_RECORD_MAX)", (unsigned)BN_RECORD_MAX);
    st.mode = JM_NDJSON;
    st.started = true;
    st.in_array = false;
    st.line = 1;
    st.bol_off = 0;
    bn_record_reset(rec);
    rec->format = "ndjson";
    rec->file = name;
    rec->index = 0;
    if (end > p && end[-1] == '\n')
        end--;
    int rc = ndjson_line(&st, rec, p, end, name, d);
    if (rc == 1)
        return bn_diag_set(d, BN_EPARSE, name, 1, (unsigned long)len + 1,
                           "expected a JSON object ('{') at the start of the line");
    if (rc)
        return rc;
    rec->line = 1;
    rec->offset = (uint64_t)(rec->raw - p);
    return 0;
}

/* --- concatenated objects / top-level array --- */

static size_t
count_nl(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] == '\n';
    return c;
}

/* Consumes n window bytes, keeping the line count and the line start offset. */
static void
jconsume(struct bn_reader *r, struct jstate *st, const char *p, size_t n)
{
    size_t c = count_nl(p, n);
    if (c) {
        st->line += c;
        const char *last = memrchr(p, '\n', n);
        st->bol_off = bn__source_offset(r->src) + (uint64_t)(last - p) + 1;
    }
    bn__source_consume(r->src, n);
}

static unsigned long
col_of(struct bn_reader *r, struct jstate *st, const char *win, const char *at,
       unsigned long *line)
{
    size_t n = (size_t)(at - win);
    size_t c = count_nl(win, n);
    *line = (unsigned long)(st->line + c + 1);
    if (c) {
        const char *last = memrchr(win, '\n', n);
        return (unsigned long)(at - last);
    }
    return (unsigned long)(bn__source_offset(r->src) + n - st->bol_off + 1);
}

/*
 * Skips the bad object whose first byte is at the window start: drops bytes until a line
 * that starts with '{' (after blanks, inside a top-level array), streaming.
 */
static int
resync(struct bn_reader *r, struct jstate *st)
{
    bool bol = false;
    size_t avail;
    const char *p = bn__source_peek(r->src, &avail);
    if (avail)
        jconsume(r, st, p, 1);
    for (;;) {
        p = bn__source_peek(r->src, &avail);
        if (avail == 0) {
            if (bn__source_eof(r->src))
                return 0;
            int rc = bn__source_fill(r->src, 64u << 10);
            if (rc)
                return rc;
            continue;
        }
        for (size_t i = 0; i < avail; i++) {
            char c = p[i];
            if (bol && c == '{') {
                jconsume(r, st, p, i);
                return 0;
            }
            if (c == '\n')
                bol = true;
            else if (!(bol && st->in_array && (c == ' ' || c == '\t' || c == '\r')))
                bol = false;
        }
        jconsume(r, st, p, avail);
    }
}

static int
concat_next(struct bn_reader *r, struct bn_record *rec, struct bn_diag *d)
{
    struct jstate *st = r->state;
    size_t want = 64u << 10;
    for (;;) {
        size_t avail;
        const char *w = bn__source_peek(r->src, &avail);
        const char *p = w, *end = w + avail;
        if (!st->started && avail < 3 && !bn__source_eof(r->src))
            goto more;
        if (!st->started) {
            if (avail >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
                bn__source_consume(r->src, 3);
                continue;
            }
            const char *q = skip_ws(p, end);
            if (q == end && !bn__source_eof(r->src)) {
                jconsume(r, st, p, avail);
                goto more;
            }
            st->started = true;
            if (q < end && *q == '[') {
                st->in_array = true;
                jconsume(r, st, p, (size_t)(q - p) + 1);
                continue;
            }
        }
        /* Skip blanks (and separators of a top-level array). */
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' ||
                           (st->in_array && (*p == ',' || *p == ']'))))
            p++;
        if (p > w) {
            jconsume(r, st, w, (size_t)(p - w));
            continue;
        }
        if (avail == 0) {
            if (bn__source_eof(r->src)) {
                if (*bn__source_error(r->src))
                    return stream_error(r, BN_EFORMAT, st->line + 1, d);
                return BN_EOF;
            }
            goto more;
        }
        unsigned long line, col;
        if (*p != '{') {
            col = col_of(r, st, w, p, &line);
            int rc = resync(r, st);
            if (rc)
                return stream_error(r, rc, line, d);
            return bn_diag_set(d, BN_EPARSE, r->path, line, col,
                               "expected a JSON object ('{'); skipped to the next line "
                               "that starts with '{'");
        }
        struct jp j;
        if (parse_top(&j, st, rec, p, end) == 0) {
            if ((size_t)(j.p - p) > BN_RECORD_MAX) {
                line = (unsigned long)st->line + 1;
                jconsume(r, st, p, (size_t)(j.p - p));
                return bn_diag_set(d, BN_ETOOBIG, r->path, line, 1,
                                   "object longer than %u bytes (BN_RECORD_MAX) skipped",
                                   (unsigned)BN_RECORD_MAX);
            }
            uint64_t off = bn__source_offset(r->src);
            rec->raw = p;
            rec->raw_len = (size_t)(j.p - p);
            rec->line = st->line + 1;
            rec->offset = off;
            set_ts(rec);
            jconsume(r, st, p, (size_t)(j.p - p));
            return 0;
        }
        if (j.err == BN_AGAIN && !bn__source_eof(r->src)) {
            if (avail > BN_RECORD_MAX) {
                line = (unsigned long)st->line + 1;
                int rc = resync(r, st);
                if (rc)
                    return stream_error(r, rc, line, d);
                return bn_diag_set(d, BN_ETOOBIG, r->path, line, 1,
                                   "object longer than %u bytes (BN_RECORD_MAX) skipped",
                                   (unsigned)BN_RECORD_MAX);
            }
            bn_record_reset(rec);
            want = BN_MIN(avail * 2 + 1, (size_t)BN_RECORD_MAX + 2);
            goto more;
        }
        int code = j.err == BN_AGAIN ? BN_EPARSE : j.err;
        if (j.err == BN_AGAIN) {
            line = (unsigned long)st->line + 1;
            col = 1;
        } else {
            col = col_of(r, st, w, j.err_at, &line);
        }
        char why[160];
        snprintf(why, sizeof(why), "%s", j.why);
        if (j.err == BN_AGAIN && *bn__source_error(r->src)) {
            jconsume(r, st, p, avail);
            return stream_error(r, BN_ETRUNC, line, d);
        }
        int rc = resync(r, st);
        if (rc)
            return stream_error(r, rc, line, d);
        return bn_diag_set(d, code, r->path, line, col,
                           "%s; skipped to the next line that starts with '{'", why);
    more:;
        size_t have;
        bn__source_peek(r->src, &have);
        int frc = bn__source_fill(r->src, BN_MAX(want, have + 1));
        if (frc)
            return stream_error(r, frc, st->line + 1, d);
    }
}

/* --- probes --- */

/* The first non-blank line: its start, length and whether it was cut off by the head. */
static const unsigned char *
first_line(const unsigned char *h, size_t n, size_t *len, bool *cut)
{
    size_t i = 0;
    if (n >= 3 && memcmp(h, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    const unsigned char *nl = memchr(h + i, '\n', n - i);
    size_t e = nl ? (size_t)(nl - h) : n;
    *cut = !nl;
    while (e > i && (h[e - 1] == ' ' || h[e - 1] == '\r' || h[e - 1] == '\t'))
        e--;
    *len = e - i;
    return h + i;
}

static int
ndjson_probe(const unsigned char *h, size_t n)
{
    size_t len;
    bool cut;
    const unsigned char *l = first_line(h, n, &len, &cut);
    if (len < 2 || l[0] != '{' || l[1] == '\n')
        return 0;
    if (cut)
        return 50;
    return l[len - 1] == '}' ? 80 : 0;
}

static int
journal_probe(const unsigned char *h, size_t n)
{
    if (ndjson_probe(h, n) < 50)
        return 0;
    size_t len;
    bool cut;
    const unsigned char *l = first_line(h, n, &len, &cut);
    if (memmem(l, len, "\"__REALTIME_TIMESTAMP\"", 22) || memmem(l, len, "\"__CURSOR\"", 10))
        return 90;
    return 0;
}

static int
json_probe(const unsigned char *h, size_t n)
{
    size_t len;
    bool cut;
    const unsigned char *l = first_line(h, n, &len, &cut);
    if (len == 0)
        return 0;
    if (l[0] == '[')
        return 75;
    if (l[0] != '{')
        return 0;
    if (!cut && l[len - 1] == '}')
        return 40;
    return 70;
}

const struct bn_reader_ops bn__reader_ndjson = {
    .name = "ndjson",
    .format = BN_FMT_NDJSON,
    .probe = ndjson_probe,
    .open = ndjson_open,
    .next = ndjson_next,
    .close = j_close,
};

const struct bn_reader_ops bn__reader_journal = {
    .name = "journal",
    .format = BN_FMT_JOURNAL,
    .probe = journal_probe,
    .open = journal_open,
    .next = ndjson_next,
    .close = j_close,
};

const struct bn_reader_ops bn__reader_json = {
    .name = "json",
    .format = BN_FMT_JSON,
    .probe = json_probe,
    .open = concat_open,
    .next = concat_next,
    .close = j_close,
};
