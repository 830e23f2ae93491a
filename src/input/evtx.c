/*
 * evtx.c - Windows EVTX reader: file header, 64 KiB chunks, event records, and BinXML
 * decoded straight into flat key/value pairs laid out like evtx_dump's JSON flattened with
 * dots ("Event.System.EventID", "Event.System.Provider.#attributes.Name",
 * "Event.EventData.<Name>").
 *
 * Why our own reader: Debian's libevtx is from 2018, only hands out records as XML text we
 * would have to parse a second time, and is not fuzzed by us. This reader decodes BinXML
 * directly into the record's pairs, applies our limits (limits.h) and is fuzzed in CI
 * (tests/fuzz/fuzz_evtx.c).
 *
 * How it works. Input is read sequentially through the byte source: the 4096-byte file
 * header, then one chunk at a time into a 64 KiB buffer. A chunk's templates are compiled
 * once into a small tree (struct cnode) kept in a per-chunk pool and looked up by offset;
 * each record then only parses its substitution array and walks the compiled template,
 * writing keys and values into the record's pool. Every offset read from the file is
 * checked against the chunk; element nesting (BN_EVTX_XML_DEPTH_MAX) and template nesting
 * (BN_EVTX_TEMPLATE_DEPTH_MAX) are bounded, a template that includes itself is an error,
 * and the work per record and per chunk is capped.
 *
 * Damage handling follows evtx_dump: a chunk with a bad magic or header checksum is skipped
 * with a diagnostic naming the chunk number and file offset; a chunk whose record-data
 * checksum does not match is still read (and counted); a record that cannot be decoded is
 * skipped and the next one read; a truncated file yields the records read so far, then an
 * error.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "input/reader_int.h"
#include "input/evtx.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/pool.h"

#define FILE_HEADER_SIZE 4096u
#define CHUNK_HEADER_SIZE 512u
#define RECORD_HEADER_SIZE 24u
#define RECORD_MIN_SIZE 28u     /* header + size copy */
#define FLAG_NO_CRC32 0x4u      /* file and chunk flag: checksums are not maintained */
#define NAME_SLOTS 4096u        /* per-chunk name cache (power of two) */
#define TPL_SLOTS 1024u         /* per-chunk template cache (power of two) */
#define CHUNK_COMPILE_MAX (16u * BN_EVTX_CHUNK_SIZE) /* template bytes compiled per chunk */
#define RENDER_STEPS_MAX (1u << 20) /* tokens parsed + nodes rendered for one record */
#define SUBST_MAX 65535u        /* values in one substitution array (u16 indices) */

/* BinXML tokens (without the 0x40 "more follows" flag). */
enum {
    TOK_EOF = 0x00,
    TOK_OPEN_START = 0x01,
    TOK_CLOSE_START = 0x02,
    TOK_CLOSE_EMPTY = 0x03,
    TOK_END_ELEMENT = 0x04,
    TOK_VALUE = 0x05,
    TOK_ATTRIBUTE = 0x06,
    TOK_CDATA = 0x07,
    TOK_CHARREF = 0x08,
    TOK_ENTITYREF = 0x09,
    TOK_PI_TARGET = 0x0a,
    TOK_PI_DATA = 0x0b,
    TOK_TEMPLATE = 0x0c,
    TOK_SUBST = 0x0d,
    TOK_SUBST_OPT = 0x0e,
    TOK_FRAGMENT = 0x0f,
};

/* BinXML value types. */
enum {
    VT_NULL = 0x00,
    VT_STRING = 0x01,
    VT_ANSI = 0x02,
    VT_INT8 = 0x03,
    VT_UINT8 = 0x04,
    VT_INT16 = 0x05,
    VT_UINT16 = 0x06,
    VT_INT32 = 0x07,
    VT_UINT32 = 0x08,
    VT_INT64 = 0x09,
    VT_UINT64 = 0x0a,
    VT_REAL32 = 0x0b,
    VT_REAL64 = 0x0c,
    VT_BOOL = 0x0d,
    VT_BINARY = 0x0e,
    VT_GUID = 0x0f,
    VT_SIZET = 0x10,
    VT_FILETIME = 0x11,
    VT_SYSTIME = 0x12,
    VT_SID = 0x13,
    VT_HEX32 = 0x14,
    VT_HEX64 = 0x15,
    VT_BINXML = 0x21,
    VT_ARRAY = 0x80,
};

/* A decoded value; arrays are chained through next (one pair per element). */
struct val {
    const char *p;
    uint32_t len;
    uint8_t type; /* enum bn_vtype */
    struct val *next;
};

enum cn_kind {
    CN_ELEM,
    CN_TEXT,
    CN_SUBST,
    CN_TINST,
};

struct tpl;

/* Compiled BinXML: elements, literal text, substitution slots, template instances. */
struct cnode {
    struct cnode *next;
    uint8_t kind;     /* enum cn_kind */
    uint8_t vtype;    /* CN_TEXT: enum bn_vtype of the literal */
    uint16_t idx;     /* CN_SUBST: substitution index */
    const char *s;    /* CN_ELEM: name; CN_TEXT: text */
    uint32_t len;
    uint32_t vals;    /* CN_TINST: chunk offset of the substitution array */
    struct cattr *attrs; /* CN_ELEM */
    struct cnode *kids;  /* CN_ELEM: content */
    struct tpl *tpl;     /* CN_TINST */
};

struct cattr {
    struct cattr *next;
    const char *name;
    uint32_t len;
    struct cnode *val;
};

enum tpl_state {
    TPL_COMPILING = 1,
    TPL_DONE,
    TPL_FAILED,
};

struct tpl {
    int state;
    struct cnode *body;
};

struct name_slot {
    uint32_t gen;
    uint32_t off;
    const char *s;
    uint32_t len;
};

struct tpl_slot {
    uint32_t gen;
    uint32_t off;
    struct tpl *t;
};

struct evtx {
    unsigned char *chunk;    /* BN_EVTX_CHUNK_SIZE bytes */
    uint32_t clen;           /* bytes of the current chunk actually read */
    uint64_t chunk_no;       /* 0-based number of the next chunk to load */
    uint64_t chunk_off;      /* file offset of the current chunk */
    uint32_t pos;            /* next record within the chunk */
    uint32_t limit;          /* end of record data within the chunk */
    uint64_t last_id;        /* chunk header's last record id */
    bool in_chunk;
    bool partial;            /* the current chunk was cut short by the end of the input */
    bool eof;
    bool no_crc;             /* file header says checksums are not kept */
    uint32_t gen;            /* cache generation, bumped per chunk */
    size_t compiled;         /* template bytes compiled in this chunk */
    struct bn_pool *cpool;   /* per chunk: decoded names, compiled templates */
    uint64_t next_index;
    struct bn__evtx_counters cnt;
    struct name_slot names[NAME_SLOTS];
    struct tpl_slot tpls[TPL_SLOTS];
};

/* One record being decoded. */
struct ctx {
    struct evtx *x;
    const unsigned char *c;  /* the chunk */
    uint32_t clen;
    struct bn_record *rec;
    struct bn_pool *pool;    /* the record's pool */
    int rc;
    char why[200];
    unsigned steps;
    uint32_t tdepth;         /* template nesting while compiling */
    size_t plen;             /* length of the current key path */
    char path[BN_KEY_MAX];
};

/* Bounded cursor over chunk bytes [pos, end). */
struct cur {
    uint32_t pos;
    uint32_t end;
};

/* A substitution value: chunk offset, size, type. */
struct sval {
    uint32_t off;
    uint32_t size;
    uint8_t type;
};

struct subs {
    uint32_t n;
    const struct sval *v;
};

static int parse_content(struct ctx *cx, struct cur *cu, struct bn_pool *pool, unsigned depth,
                         bool in_elem, struct cnode **out);
static int render_list(struct ctx *cx, const struct cnode *n, const struct subs *s,
                       unsigned tdepth, unsigned xdepth);
static int render_one(struct ctx *cx, const struct cnode *n, const struct subs *s,
                      unsigned tdepth, unsigned xdepth);

/* ---- little helpers ---------------------------------------------------------------- */

static inline uint16_t
rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t
rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t
rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static int fail(struct ctx *cx, int code, const char *fmt, ...) BN_PRINTF(3, 4);

/* Records the first failure of a record; returns code. */
static int
fail(struct ctx *cx, int code, const char *fmt, ...)
{
    if (cx->rc == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cx->why, sizeof(cx->why), fmt, ap);
        va_end(ap);
        cx->rc = code;
    }
    return code;
}

static int
need(struct ctx *cx, const struct cur *cu, uint32_t n, const char *what)
{
    if (cu->end - cu->pos < n)
        return fail(cx, BN_EPARSE, "%s at chunk offset %u runs past its data (end %u)", what,
                    cu->pos, cu->end);
    return 0;
}

/* Decodes n UTF-16LE units to UTF-8 into pool memory (NUL-terminated). */
static char *
utf16_to_utf8(struct bn_pool *pool, const unsigned char *p, size_t n, uint32_t *out_len)
{
    char *o = bn_pool_alloc(pool, n * 3 + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = rd16(p + 2 * i);
        if (u >= 0xd800 && u <= 0xdbff && i + 1 < n) {
            uint32_t l = rd16(p + 2 * i + 2);
            if (l >= 0xdc00 && l <= 0xdfff) {
                u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
                i++;
            } else {
                u = 0xfffd;
            }
        } else if (u >= 0xd800 && u <= 0xdfff) {
            u = 0xfffd;
        }
        if (u < 0x80) {
            o[k++] = (char)u;
        } else if (u < 0x800) {
            o[k++] = (char)(0xc0 | (u >> 6));
            o[k++] = (char)(0x80 | (u & 0x3f));
        } else if (u < 0x10000) {
            o[k++] = (char)(0xe0 | (u >> 12));
            o[k++] = (char)(0x80 | ((u >> 6) & 0x3f));
            o[k++] = (char)(0x80 | (u & 0x3f));
        } else {
            o[k++] = (char)(0xf0 | (u >> 18));
            o[k++] = (char)(0x80 | ((u >> 12) & 0x3f));
            o[k++] = (char)(0x80 | ((u >> 6) & 0x3f));
            o[k++] = (char)(0x80 | (u & 0x3f));
        }
    }
    o[k] = '\0';
    *out_len = (uint32_t)k;
    return o;
}

static char *
pool_fmt(struct bn_pool *pool, uint32_t *len, const char *fmt, ...) BN_PRINTF(3, 4);

static char *
pool_fmt(struct bn_pool *pool, uint32_t *len, const char *fmt, ...)
{
    char tmp[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    *len = (uint32_t)n;
    return bn_pool_strndup(pool, tmp, (size_t)n);
}

static char *
fmt_u64(struct bn_pool *pool, uint64_t v, bool neg, uint32_t *len)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        tmp[--i] = '-';
    *len = (uint32_t)(sizeof(tmp) - i);
    return bn_pool_strndup(pool, tmp + i, sizeof(tmp) - i);
}

static char *
fmt_i64(struct bn_pool *pool, int64_t v, uint32_t *len)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return fmt_u64(pool, m, v < 0, len);
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's civil_from_days). */
static void
civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* FILETIME (100 ns ticks since 1601) as "2025-11-26T05:11:27.927693Z", like evtx_dump. */
static char *
fmt_filetime(struct bn_pool *pool, uint64_t ft, uint32_t *len)
{
    int64_t secs = (int64_t)(ft / 10000000u) - 11644473600LL;
    unsigned us = (unsigned)(ft % 10000000u) / 10;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t y;
    unsigned mo, d;
    civil(days, &y, &mo, &d);
    return pool_fmt(pool, len, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)y, mo, d,
                    (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), us);
}

/* Shortest text that reads back as the same double (serde_json prints floats this way). */
static char *
fmt_real(struct bn_pool *pool, double v, uint32_t *len)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    size_t n = strlen(tmp);
    *len = (uint32_t)n;
    return bn_pool_strndup(pool, tmp, n);
}

static size_t
fixed_size(unsigned t)
{
    switch (t) {
    case VT_INT8:
    case VT_UINT8:
        return 1;
    case VT_INT16:
    case VT_UINT16:
        return 2;
    case VT_INT32:
    case VT_UINT32:
    case VT_REAL32:
    case VT_HEX32:
    case VT_BOOL:
        return 4;
    case VT_INT64:
    case VT_UINT64:
    case VT_REAL64:
    case VT_HEX64:
    case VT_FILETIME:
        return 8;
    case VT_GUID:
    case VT_SYSTIME:
        return 16;
    default:
        return 0;
    }
}

/*
 * Unicode White_Space. evtx_dump (the version that wrote the SigmaHQ regression JSON) trims
 * trailing white space from string values ("cmd.exe\" " -> "cmd.exe\""), so we do too.
 */
static bool
is_space16(uint32_t u)
{
    return (u >= 0x09 && u <= 0x0d) || u == 0x20 || u == 0x85 || u == 0xa0 || u == 0x1680 ||
           (u >= 0x2000 && u <= 0x200a) || u == 0x2028 || u == 0x2029 || u == 0x202f ||
           u == 0x205f || u == 0x3000;
}

/*
 * Decodes one scalar value of type t from p[0..n) into v (text in pool). Returns 0,
 * BN_DECLINED when the value is null (nothing to write), BN_ENOMEM, or BN_EUNSUP.
 */
static int
decode_scalar(struct bn_pool *pool, unsigned t, const unsigned char *p, uint32_t n,
              struct val *v)
{
    char *s = NULL;
    uint32_t len = 0;
    v->type = BN_VT_STR;
    v->next = NULL;
    switch (t) {
    case VT_NULL:
        return BN_DECLINED;
    case VT_STRING: {
        uint32_t units = n / 2;
        while (units && (rd16(p + 2 * (units - 1)) == 0 || is_space16(rd16(p + 2 * (units - 1)))))
            units--;
        s = utf16_to_utf8(pool, p, units, &len);
        break;
    }
    case VT_ANSI: {
        while (n && (p[n - 1] == 0 || is_space16(p[n - 1])))
            n--;
        /* Latin-1 to UTF-8 (evtx_dump decodes with the Windows code page; ASCII agrees). */
        s = bn_pool_alloc(pool, (size_t)n * 2 + 1);
        if (!s)
            return BN_ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            if (p[i] < 0x80) {
                s[len++] = (char)p[i];
            } else {
                s[len++] = (char)(0xc0 | (p[i] >> 6));
                s[len++] = (char)(0x80 | (p[i] & 0x3f));
            }
        }
        s[len] = '\0';
        break;
    }
    case VT_INT8:
    case VT_UINT8:
    case VT_INT16:
    case VT_UINT16:
    case VT_INT32:
    case VT_UINT32:
    case VT_INT64:
    case VT_UINT64:
        if (n < fixed_size(t))
            return BN_EUNSUP;
        v->type = BN_VT_NUM;
        switch (t) {
        case VT_INT8: s = fmt_i64(pool, (int8_t)p[0], &len); break;
        case VT_UINT8: s = fmt_u64(pool, p[0], false, &len); break;
        case VT_INT16: s = fmt_i64(pool, (int16_t)rd16(p), &len); break;
        case VT_UINT16: s = fmt_u64(pool, rd16(p), false, &len); break;
        case VT_INT32: s = fmt_i64(pool, (int32_t)rd32(p), &len); break;
        case VT_UINT32: s = fmt_u64(pool, rd32(p), false, &len); break;
        case VT_INT64: s = fmt_i64(pool, (int64_t)rd64(p), &len); break;
        default: s = fmt_u64(pool, rd64(p), false, &len); break;
        }
        break;
    case VT_REAL32:
    case VT_REAL64: {
        if (n < fixed_size(t))
            return BN_EUNSUP;
        double d;
        if (t == VT_REAL32) {
            float f;
            memcpy(&f, p, 4);
            d = f;
        } else {
            memcpy(&d, p, 8);
        }
        if (!isfinite(d))
            return BN_DECLINED; /* JSON has no NaN/inf; evtx_dump writes null */
        v->type = BN_VT_NUM;
        s = fmt_real(pool, d, &len);
        break;
    }
    case VT_BOOL: {
        uint32_t b = 0;
        if (n >= 4)
            b = rd32(p);
        else if (n >= 1)
            b = p[0];
        else
            return BN_EUNSUP;
        v->type = BN_VT_BOOL;
        s = b ? "true" : "false";
        len = b ? 4 : 5;
        break;
    }
    case VT_BINARY: {
        static const char hex[] = "0123456789ABCDEF";
        s = bn_pool_alloc(pool, (size_t)n * 2 + 1);
        if (!s)
            return BN_ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            s[2 * i] = hex[p[i] >> 4];
            s[2 * i + 1] = hex[p[i] & 15];
        }
        len = n * 2;
        s[len] = '\0';
        break;
    }
    case VT_GUID:
        if (n < 16)
            return BN_EUNSUP;
        s = pool_fmt(pool, &len, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", rd32(p),
                     rd16(p + 4), rd16(p + 6), p[8], p[9], p[10], p[11], p[12], p[13], p[14],
                     p[15]);
        break;
    case VT_SIZET:
        if (n == 4)
            s = pool_fmt(pool, &len, "0x%x", rd32(p));
        else if (n == 8)
            s = pool_fmt(pool, &len, "0x%llx", (unsigned long long)rd64(p));
        else
            return BN_EUNSUP;
        break;
    case VT_HEX32:
        if (n < 4)
            return BN_EUNSUP;
        s = pool_fmt(pool, &len, "0x%x", rd32(p));
        break;
    case VT_HEX64:
        if (n < 8)
            return BN_EUNSUP;
        s = pool_fmt(pool, &len, "0x%llx", (unsigned long long)rd64(p));
        break;
    case VT_FILETIME:
        if (n < 8)
            return BN_EUNSUP;
        s = fmt_filetime(pool, rd64(p), &len);
        break;
    case VT_SYSTIME:
        if (n < 16)
            return BN_EUNSUP;
        s = pool_fmt(pool, &len, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", rd16(p), rd16(p + 2),
                     rd16(p + 6), rd16(p + 8), rd16(p + 10), rd16(p + 12),
                     (unsigned)rd16(p + 14) * 1000u);
        break;
    case VT_SID: {
        if (n < 8)
            return BN_EUNSUP;
        unsigned cnt = p[1];
        if (n < 8 + 4 * cnt)
            return BN_EUNSUP;
        uint64_t auth = 0;
        for (int i = 2; i < 8; i++)
            auth = (auth << 8) | p[i];
        char tmp[16 + 20 + 15 * 11 * 18];
        int k = snprintf(tmp, sizeof(tmp), "S-%u-%llu", p[0], (unsigned long long)auth);
        for (unsigned i = 0; i < cnt && k > 0 && (size_t)k < sizeof(tmp); i++)
            k += snprintf(tmp + k, sizeof(tmp) - (size_t)k, "-%u", rd32(p + 8 + 4 * i));
        if (k < 0)
            return BN_EUNSUP;
        len = (uint32_t)BN_MIN((size_t)k, sizeof(tmp) - 1);
        s = bn_pool_strndup(pool, tmp, len);
        break;
    }
    default:
        return BN_EUNSUP;
    }
    if (!s)
        return BN_ENOMEM;
    v->p = s;
    v->len = len;
    return 0;
}

/* Decodes a value that may be an array (type | 0x80): one struct val per element. */
static int
decode_value(struct bn_pool *pool, unsigned t, const unsigned char *p, uint32_t n,
             struct val *v)
{
    if (!(t & VT_ARRAY))
        return decode_scalar(pool, t, p, n, v);
    unsigned et = t & 0x7f;
    struct val *first = NULL, **tail = &first;
    if (et == VT_STRING || et == VT_ANSI) {
        /* NUL-separated strings. */
        size_t unit = et == VT_STRING ? 2 : 1;
        uint32_t i = 0, start = 0;
        while (i + unit <= n) {
            bool nul = unit == 2 ? rd16(p + i) == 0 : p[i] == 0;
            i += (uint32_t)unit;
            if (nul || i + unit > n) {
                uint32_t end = nul ? i - (uint32_t)unit : i;
                struct val *e = bn_pool_alloc(pool, sizeof(*e));
                if (!e)
                    return BN_ENOMEM;
                int rc = decode_scalar(pool, et, p + start, end - start, e);
                start = i;
                if (rc == BN_DECLINED)
                    continue;
                if (rc)
                    return rc;
                *tail = e;
                tail = &e->next;
            }
        }
    } else {
        size_t es = fixed_size(et);
        if (!es || n % es)
            return BN_EUNSUP;
        for (uint32_t i = 0; i < n; i += (uint32_t)es) {
            struct val *e = bn_pool_alloc(pool, sizeof(*e));
            if (!e)
                return BN_ENOMEM;
            int rc = decode_scalar(pool, et, p + i, (uint32_t)es, e);
            if (rc == BN_DECLINED)
                continue;
            if (rc)
                return rc;
            *tail = e;
            tail = &e->next;
        }
    }
    if (!first)
        return BN_DECLINED;
    *v = *first;
    return 0;
}

/* ---- names and templates (per-chunk caches) ------------------------------------------ */

static inline uint32_t
slot_hash(uint32_t off)
{
    return (off * 2654435761u) >> 16;
}

/*
 * Returns the UTF-8 name of the name structure at chunk offset off (next offset, hash,
 * length, UTF-16 text, NUL). When off is the cursor position the structure is inline and
 * the cursor moves past it.
 */
static int
get_name(struct ctx *cx, uint32_t off, struct cur *cu, const char **s, uint32_t *len)
{
    struct evtx *x = cx->x;
    bool inline_name = cu && off == cu->pos;
    if (off < CHUNK_HEADER_SIZE || off > cx->clen || cx->clen - off < 8)
        return fail(cx, BN_EPARSE, "name offset %u is outside the chunk", off);
    uint32_t n = rd16(cx->c + off + 6);
    uint32_t size = 8 + 2 * n + 2;
    if (cx->clen - off < 8 + 2 * n)
        return fail(cx, BN_EPARSE, "name at chunk offset %u (%u characters) runs past the chunk",
                    off, n);
    if (inline_name) {
        if (cu->end - cu->pos < size)
            return fail(cx, BN_EPARSE, "inline name at chunk offset %u runs past its data", off);
        cu->pos += size;
    }
    uint32_t h = slot_hash(off);
    for (uint32_t i = 0; i < 16; i++) {
        struct name_slot *sl = &x->names[(h + i) & (NAME_SLOTS - 1)];
        if (sl->gen == x->gen && sl->off == off) {
            *s = sl->s;
            *len = sl->len;
            return 0;
        }
        if (sl->gen != x->gen) {
            char *u = utf16_to_utf8(x->cpool, cx->c + off + 8, n, len);
            if (!u)
                return fail(cx, BN_ENOMEM, "out of memory");
            sl->gen = x->gen;
            sl->off = off;
            sl->s = u;
            sl->len = *len;
            *s = u;
            return 0;
        }
    }
    /* Cache neighbourhood full: decode into the record's pool. */
    char *u = utf16_to_utf8(cx->pool, cx->c + off + 8, n, len);
    if (!u)
        return fail(cx, BN_ENOMEM, "out of memory");
    *s = u;
    return 0;
}

/* Returns the compiled template whose definition is at chunk offset off. */
static int
get_template(struct ctx *cx, uint32_t off, struct tpl **out)
{
    struct evtx *x = cx->x;
    *out = NULL;
    struct tpl_slot *slot = NULL;
    uint32_t h = slot_hash(off);
    for (uint32_t i = 0; i < 16; i++) {
        struct tpl_slot *sl = &x->tpls[(h + i) & (TPL_SLOTS - 1)];
        if (sl->gen == x->gen && sl->off == off) {
            if (sl->t->state == TPL_COMPILING)
                return fail(cx, BN_EPARSE, "template at chunk offset %u includes itself", off);
            if (sl->t->state == TPL_FAILED)
                return fail(cx, BN_EPARSE, "template at chunk offset %u is malformed", off);
            *out = sl->t;
            return 0;
        }
        if (sl->gen != x->gen) {
            slot = sl;
            break;
        }
    }
    if (cx->tdepth >= BN_EVTX_TEMPLATE_DEPTH_MAX)
        return fail(cx, BN_ETOOBIG, "templates nested deeper than %u (BN_EVTX_TEMPLATE_DEPTH_MAX)",
                    (unsigned)BN_EVTX_TEMPLATE_DEPTH_MAX);
    if (off < CHUNK_HEADER_SIZE || off > cx->clen || cx->clen - off < 24)
        return fail(cx, BN_EPARSE, "template offset %u is outside the chunk", off);
    uint32_t size = rd32(cx->c + off + 20);
    if (size > cx->clen - off - 24)
        return fail(cx, BN_EPARSE, "template at chunk offset %u (%u bytes) runs past the chunk",
                    off, size);
    if (x->compiled + size > CHUNK_COMPILE_MAX)
        return fail(cx, BN_ETOOBIG, "templates of this chunk exceed %u compiled bytes",
                    CHUNK_COMPILE_MAX);
    x->compiled += size;
    /* Cached templates live in the chunk pool; without a free slot, in the record's. */
    struct bn_pool *pool = slot ? x->cpool : cx->pool;
    struct tpl *t = bn_pool_calloc(pool, 1, sizeof(*t));
    if (!t)
        return fail(cx, BN_ENOMEM, "out of memory");
    t->state = TPL_COMPILING;
    if (slot) {
        slot->gen = x->gen;
        slot->off = off;
        slot->t = t;
    }
    struct cur body = {off + 24, off + 24 + size};
    cx->tdepth++;
    int rc = parse_content(cx, &body, pool, 0, false, &t->body);
    cx->tdepth--;
    t->state = rc ? TPL_FAILED : TPL_DONE;
    if (rc)
        return rc;
    x->cnt.templates++;
    *out = t;
    return 0;
}

/* ---- BinXML parsing into cnodes -------------------------------------------------------- */

static struct cnode *
cnode_new(struct ctx *cx, struct bn_pool *pool, enum cn_kind kind)
{
    struct cnode *n = bn_pool_calloc(pool, 1, sizeof(*n));
    if (!n) {
        fail(cx, BN_ENOMEM, "out of memory");
        return NULL;
    }
    n->kind = (uint8_t)kind;
    return n;
}

static struct cnode *
text_node(struct ctx *cx, struct bn_pool *pool, const char *s, uint32_t len, uint8_t vtype)
{
    struct cnode *n = cnode_new(cx, pool, CN_TEXT);
    if (n) {
        n->s = s;
        n->len = len;
        n->vtype = vtype;
    }
    return n;
}

/* Parses one content token that yields text or a substitution (value, CDATA, character or
 * entity reference, substitution). */
static int
parse_leaf(struct ctx *cx, struct cur *cu, struct bn_pool *pool, struct cnode **out)
{
    const unsigned char *c = cx->c;
    unsigned tok = c[cu->pos] & 0xbf;
    uint32_t at = cu->pos;
    *out = NULL;
    switch (tok) {
    case TOK_VALUE: {
        if (need(cx, cu, 2, "value token"))
            return cx->rc;
        unsigned t = c[cu->pos + 1];
        cu->pos += 2;
        struct val v;
        int rc;
        if (t == VT_STRING) {
            if (need(cx, cu, 2, "string value"))
                return cx->rc;
            uint32_t n = rd16(c + cu->pos);
            cu->pos += 2;
            if (need(cx, cu, 2 * n, "string value"))
                return cx->rc;
            rc = decode_scalar(pool, VT_STRING, c + cu->pos, 2 * n, &v);
            cu->pos += 2 * n;
        } else {
            size_t sz = fixed_size(t);
            if (!sz)
                return fail(cx, BN_EUNSUP, "value token of type 0x%02x at chunk offset %u is "
                            "not supported", t, at);
            if (need(cx, cu, (uint32_t)sz, "value"))
                return cx->rc;
            rc = decode_scalar(pool, t, c + cu->pos, (uint32_t)sz, &v);
            cu->pos += (uint32_t)sz;
        }
        if (rc == BN_DECLINED)
            return 0;
        if (rc)
            return fail(cx, rc, "cannot decode value at chunk offset %u", at);
        *out = text_node(cx, pool, v.p, v.len, v.type);
        break;
    }
    case TOK_CDATA: {
        if (need(cx, cu, 3, "CDATA"))
            return cx->rc;
        uint32_t n = rd16(c + cu->pos + 1);
        cu->pos += 3;
        if (need(cx, cu, 2 * n, "CDATA"))
            return cx->rc;
        uint32_t len;
        char *s = utf16_to_utf8(pool, c + cu->pos, n, &len);
        cu->pos += 2 * n;
        if (!s)
            return fail(cx, BN_ENOMEM, "out of memory");
        *out = text_node(cx, pool, s, len, BN_VT_STR);
        break;
    }
    case TOK_CHARREF: {
        if (need(cx, cu, 3, "character reference"))
            return cx->rc;
        uint32_t len;
        char *s = utf16_to_utf8(pool, c + cu->pos + 1, 1, &len);
        cu->pos += 3;
        if (!s)
            return fail(cx, BN_ENOMEM, "out of memory");
        *out = text_node(cx, pool, s, len, BN_VT_STR);
        break;
    }
    case TOK_ENTITYREF: {
        if (need(cx, cu, 5, "entity reference"))
            return cx->rc;
        uint32_t off = rd32(c + cu->pos + 1);
        cu->pos += 5;
        const char *name;
        uint32_t nlen;
        if (get_name(cx, off, cu, &name, &nlen))
            return cx->rc;
        static const struct {
            const char *name;
            const char *txt;
        } ent[] = {{"lt", "<"}, {"gt", ">"}, {"amp", "&"}, {"quot", "\""}, {"apos", "'"}};
        const char *txt = NULL;
        for (size_t i = 0; i < BN_ARRAY_SIZE(ent); i++)
            if (strlen(ent[i].name) == nlen && memcmp(ent[i].name, name, nlen) == 0)
                txt = ent[i].txt;
        uint32_t len;
        char *s = txt ? (char *)txt : pool_fmt(pool, &len, "&%.*s;", (int)BN_MIN(nlen, 80u), name);
        if (!s)
            return fail(cx, BN_ENOMEM, "out of memory");
        *out = text_node(cx, pool, s, txt ? (uint32_t)strlen(txt) : len, BN_VT_STR);
        break;
    }
    case TOK_SUBST:
    case TOK_SUBST_OPT: {
        if (need(cx, cu, 4, "substitution"))
            return cx->rc;
        struct cnode *n = cnode_new(cx, pool, CN_SUBST);
        if (!n)
            return cx->rc;
        n->idx = rd16(c + cu->pos + 1);
        n->vtype = c[cu->pos + 3];
        cu->pos += 4;
        *out = n;
        break;
    }
    default:
        return fail(cx, BN_EPARSE, "unexpected BinXML token 0x%02x at chunk offset %u",
                    c[at], at);
    }
    return *out ? 0 : cx->rc;
}

static bool
is_leaf(unsigned tok)
{
    tok &= 0xbf;
    return tok == TOK_VALUE || tok == TOK_CDATA || tok == TOK_CHARREF ||
           tok == TOK_ENTITYREF || tok == TOK_SUBST || tok == TOK_SUBST_OPT;
}

/* Whether off can be the offset of an element name seen from position inl. */
static bool
name_plausible(const struct ctx *cx, uint32_t off, uint32_t inl)
{
    if (off == inl)
        return true;
    if (off < CHUNK_HEADER_SIZE || off >= inl || cx->clen - off < 8)
        return false;
    return cx->clen - off - 8 >= 2u * rd16(cx->c + off + 6);
}

static int
parse_element(struct ctx *cx, struct cur *cu, struct bn_pool *pool, unsigned depth,
              struct cnode **out)
{
    const unsigned char *c = cx->c;
    uint32_t at = cu->pos;
    *out = NULL;
    if (depth >= BN_EVTX_XML_DEPTH_MAX)
        return fail(cx, BN_ETOOBIG, "elements nested deeper than %u (BN_EVTX_XML_DEPTH_MAX) at "
                    "chunk offset %u", (unsigned)BN_EVTX_XML_DEPTH_MAX, at);
    bool has_attrs = c[at] & 0x40;
    /* Token, dependency id (u16), data size (u32), name offset (u32). Inside substitution
     * values the dependency id is absent: the name offset tells which layout this is. */
    uint32_t name_off, p;
    if (cu->end - at >= 11 && name_plausible(cx, rd32(c + at + 7), at + 11)) {
        name_off = rd32(c + at + 7);
        p = at + 11;
    } else if (cu->end - at >= 9 && name_plausible(cx, rd32(c + at + 5), at + 9)) {
        name_off = rd32(c + at + 5);
        p = at + 9;
    } else {
        if (need(cx, cu, 11, "element start"))
            return cx->rc;
        return fail(cx, BN_EPARSE, "element at chunk offset %u has a bad name offset %u", at,
                    rd32(c + at + 7));
    }
    cu->pos = p;
    struct cnode *e = cnode_new(cx, pool, CN_ELEM);
    if (!e)
        return cx->rc;
    if (get_name(cx, name_off, cu, &e->s, &e->len))
        return cx->rc;
    if (has_attrs) {
        if (need(cx, cu, 4, "attribute list"))
            return cx->rc;
        cu->pos += 4;
        struct cattr **atail = &e->attrs;
        while (cu->pos < cu->end && (c[cu->pos] & 0xbf) == TOK_ATTRIBUTE) {
            if (need(cx, cu, 5, "attribute"))
                return cx->rc;
            uint32_t aoff = rd32(c + cu->pos + 1);
            cu->pos += 5;
            struct cattr *a = bn_pool_calloc(pool, 1, sizeof(*a));
            if (!a)
                return fail(cx, BN_ENOMEM, "out of memory");
            if (get_name(cx, aoff, cu, &a->name, &a->len))
                return cx->rc;
            struct cnode **vtail = &a->val;
            while (cu->pos < cu->end && is_leaf(c[cu->pos])) {
                struct cnode *v;
                if (parse_leaf(cx, cu, pool, &v))
                    return cx->rc;
                if (v) {
                    *vtail = v;
                    vtail = &v->next;
                }
            }
            *atail = a;
            atail = &a->next;
        }
    }
    if (need(cx, cu, 1, "element"))
        return cx->rc;
    unsigned tok = c[cu->pos];
    if (tok == TOK_CLOSE_EMPTY) {
        cu->pos++;
    } else if (tok == TOK_CLOSE_START) {
        cu->pos++;
        if (parse_content(cx, cu, pool, depth + 1, true, &e->kids))
            return cx->rc;
    } else {
        return fail(cx, BN_EPARSE, "element at chunk offset %u: expected the end of its start "
                    "tag, found token 0x%02x at %u", at, tok, cu->pos);
    }
    *out = e;
    return 0;
}

static int
parse_template_instance(struct ctx *cx, struct cur *cu, struct bn_pool *pool,
                        struct cnode **out)
{
    const unsigned char *c = cx->c;
    uint32_t at = cu->pos;
    *out = NULL;
    if (need(cx, cu, 10, "template instance"))
        return cx->rc;
    uint32_t def = rd32(c + at + 6);
    cu->pos += 10;
    if (def == cu->pos) {
        /* Inline definition: next offset, GUID, data size, data. */
        if (need(cx, cu, 24, "template definition"))
            return cx->rc;
        uint32_t size = rd32(c + cu->pos + 20);
        if (size > cu->end - cu->pos - 24)
            return fail(cx, BN_EPARSE, "template definition at chunk offset %u (%u bytes) runs "
                        "past its record", def, size);
        cu->pos += 24 + size;
    }
    struct cnode *n = cnode_new(cx, pool, CN_TINST);
    if (!n)
        return cx->rc;
    if (get_template(cx, def, &n->tpl))
        return cx->rc;
    /* Substitution array: count, (size u16, type u8, pad u8) descriptors, values. */
    if (need(cx, cu, 4, "substitution array"))
        return cx->rc;
    uint32_t cnt = rd32(c + cu->pos);
    n->vals = cu->pos;
    cu->pos += 4;
    if (cnt > SUBST_MAX || cnt > (cu->end - cu->pos) / 4)
        return fail(cx, BN_EPARSE, "substitution array at chunk offset %u claims %u values",
                    n->vals, cnt);
    uint64_t total = 0;
    for (uint32_t i = 0; i < cnt; i++)
        total += rd16(c + cu->pos + 4 * i);
    cu->pos += 4 * cnt;
    if (total > cu->end - cu->pos)
        return fail(cx, BN_EPARSE, "substitution values at chunk offset %u (%llu bytes) run "
                    "past their record", cu->pos, (unsigned long long)total);
    cu->pos += (uint32_t)total;
    *out = n;
    return 0;
}

/*
 * Parses BinXML tokens into a list of cnodes until the end of an element (in_elem), the
 * end-of-fragment token, or the end of the cursor.
 */
static int
parse_content(struct ctx *cx, struct cur *cu, struct bn_pool *pool, unsigned depth,
              bool in_elem, struct cnode **out)
{
    const unsigned char *c = cx->c;
    struct cnode **tail = out;
    *out = NULL;
    for (;;) {
        if (cu->pos >= cu->end) {
            if (in_elem)
                return fail(cx, BN_EPARSE, "element content runs past its data at chunk "
                            "offset %u", cu->pos);
            return 0;
        }
        if (++cx->steps > RENDER_STEPS_MAX)
            return fail(cx, BN_ETOOBIG, "record expands to more than %u BinXML nodes",
                        RENDER_STEPS_MAX);
        if (pool == cx->pool && bn_pool_used(pool) > BN_RECORD_MAX)
            return fail(cx, BN_ETOOBIG, "record decodes to more than %u bytes (BN_RECORD_MAX)",
                        BN_RECORD_MAX);
        unsigned tok = c[cu->pos];
        struct cnode *n = NULL;
        switch (tok & 0xbf) {
        case TOK_EOF:
            cu->pos++;
            if (in_elem)
                return fail(cx, BN_EPARSE, "end of fragment inside an element at chunk offset "
                            "%u", cu->pos - 1);
            return 0;
        case TOK_FRAGMENT:
            if (need(cx, cu, 4, "fragment header"))
                return cx->rc;
            cu->pos += 4;
            continue;
        case TOK_END_ELEMENT:
            if (!in_elem)
                return fail(cx, BN_EPARSE, "end of element without a start at chunk offset %u",
                            cu->pos);
            cu->pos++;
            return 0;
        case TOK_OPEN_START:
            if (parse_element(cx, cu, pool, depth, &n))
                return cx->rc;
            break;
        case TOK_TEMPLATE:
            if (parse_template_instance(cx, cu, pool, &n))
                return cx->rc;
            break;
        case TOK_PI_TARGET: {
            if (need(cx, cu, 5, "processing instruction"))
                return cx->rc;
            uint32_t off = rd32(c + cu->pos + 1);
            cu->pos += 5;
            const char *s;
            uint32_t len;
            if (get_name(cx, off, cu, &s, &len))
                return cx->rc;
            continue;
        }
        case TOK_PI_DATA: {
            if (need(cx, cu, 3, "processing instruction data"))
                return cx->rc;
            uint32_t k = rd16(c + cu->pos + 1);
            cu->pos += 3;
            if (need(cx, cu, 2 * k, "processing instruction data"))
                return cx->rc;
            cu->pos += 2 * k;
            continue;
        }
        default:
            if (!is_leaf(tok))
                return fail(cx, BN_EPARSE, "unexpected BinXML token 0x%02x at chunk offset %u",
                            tok, cu->pos);
            if (parse_leaf(cx, cu, pool, &n))
                return cx->rc;
            break;
        }
        if (n) {
            *tail = n;
            tail = &n->next;
        }
    }
}

/* ---- rendering: compiled tree + substitution values -> key/value pairs ---------------- */

static int
push_path(struct ctx *cx, const char *s, size_t n)
{
    size_t need_len = cx->plen + (cx->plen ? 1 : 0) + n;
    if (need_len >= sizeof(cx->path))
        return fail(cx, BN_ETOOBIG, "key longer than %u bytes (BN_KEY_MAX)", BN_KEY_MAX);
    if (cx->plen)
        cx->path[cx->plen++] = '.';
    memcpy(cx->path + cx->plen, s, n);
    cx->plen += n;
    return 0;
}

/* Adds path[+suffix] = v (every element of an array, or null when v is NULL). */
static int
emit(struct ctx *cx, const char *suffix, const struct val *v)
{
    size_t sl = suffix ? strlen(suffix) : 0;
    if (cx->plen + sl >= BN_KEY_MAX)
        return fail(cx, BN_ETOOBIG, "key longer than %u bytes (BN_KEY_MAX)", BN_KEY_MAX);
    char *k = bn_pool_alloc(cx->pool, cx->plen + sl + 1);
    if (!k)
        return fail(cx, BN_ENOMEM, "out of memory");
    memcpy(k, cx->path, cx->plen);
    if (sl)
        memcpy(k + cx->plen, suffix, sl);
    k[cx->plen + sl] = '\0';
    if (bn_pool_used(cx->pool) > BN_RECORD_MAX)
        return fail(cx, BN_ETOOBIG, "record decodes to more than %u bytes (BN_RECORD_MAX)",
                    BN_RECORD_MAX);
    int rc;
    if (!v) {
        rc = bn_record_add(cx->rec, k, cx->plen + sl, NULL, 0, BN_VT_NULL);
    } else {
        for (rc = 0; v && !rc; v = v->next)
            rc = bn_record_add(cx->rec, k, cx->plen + sl, v->p, v->len, (enum bn_vtype)v->type);
    }
    if (rc == BN_ETOOBIG)
        return fail(cx, rc, "record has more than %u fields (BN_RECORD_FIELDS_MAX)",
                    BN_RECORD_FIELDS_MAX);
    if (rc)
        return fail(cx, rc, "out of memory");
    return 0;
}

/* Decodes substitution i of s; BN_DECLINED when it is null or missing. */
static int
subst_value(struct ctx *cx, const struct subs *s, unsigned i, struct val *v)
{
    if (!s || i >= s->n)
        return BN_DECLINED;
    const struct sval *sv = &s->v[i];
    if (sv->type == VT_BINXML)
        return BN_DECLINED;
    int rc = decode_value(cx->pool, sv->type, cx->c + sv->off, sv->size, v);
    if (rc == BN_EUNSUP) {
        /* A type we cannot render (handles, EvtXml, odd sizes): leave it out, as null. */
        BN_DEBUG("evtx", "substitution %u of type 0x%02x (%u bytes) not rendered", i, sv->type,
                 sv->size);
        return BN_DECLINED;
    }
    if (rc && rc != BN_DECLINED)
        return fail(cx, rc, "out of memory");
    return rc;
}

/* Joins the text of a list of leaf nodes (attribute values). */
static int
resolve_text(struct ctx *cx, const struct cnode *n, const struct subs *s, struct val *out,
             bool *have)
{
    *have = false;
    for (; n; n = n->next) {
        struct val v;
        if (n->kind == CN_TEXT) {
            v.p = n->s;
            v.len = n->len;
            v.type = n->vtype;
            v.next = NULL;
        } else if (n->kind == CN_SUBST) {
            int rc = subst_value(cx, s, n->idx, &v);
            if (rc == BN_DECLINED)
                continue;
            if (rc)
                return rc;
        } else {
            continue;
        }
        if (!*have) {
            *out = v;
            *have = true;
        } else {
            /* Several pieces: one string. Array elements are joined in order. */
            size_t total = 0;
            for (const struct val *e = out; e; e = e->next)
                total += e->len;
            for (const struct val *e = &v; e; e = e->next)
                total += e->len;
            char *j = bn_pool_alloc(cx->pool, total + 1);
            if (!j)
                return fail(cx, BN_ENOMEM, "out of memory");
            size_t k = 0;
            for (const struct val *e = out; e; e = e->next) {
                memcpy(j + k, e->p, e->len);
                k += e->len;
            }
            for (const struct val *e = &v; e; e = e->next) {
                memcpy(j + k, e->p, e->len);
                k += e->len;
            }
            j[k] = '\0';
            out->p = j;
            out->len = (uint32_t)k;
            out->type = BN_VT_STR;
            out->next = NULL;
        }
    }
    return 0;
}

/* Renders nested BinXML (a substitution of type 0x21) at the current path. */
static int
render_binxml(struct ctx *cx, const struct sval *sv, unsigned tdepth, unsigned xdepth)
{
    if (tdepth >= BN_EVTX_TEMPLATE_DEPTH_MAX)
        return fail(cx, BN_ETOOBIG, "BinXML values nested deeper than %u "
                    "(BN_EVTX_TEMPLATE_DEPTH_MAX)", (unsigned)BN_EVTX_TEMPLATE_DEPTH_MAX);
    struct cur cu = {sv->off, sv->off + sv->size};
    struct cnode *list;
    if (parse_content(cx, &cu, cx->pool, xdepth, false, &list))
        return cx->rc;
    return render_list(cx, list, NULL, tdepth + 1, xdepth);
}

static int
render_tinst(struct ctx *cx, const struct cnode *n, unsigned tdepth, unsigned xdepth)
{
    if (tdepth >= BN_EVTX_TEMPLATE_DEPTH_MAX)
        return fail(cx, BN_ETOOBIG, "templates nested deeper than %u (BN_EVTX_TEMPLATE_DEPTH_MAX)",
                    (unsigned)BN_EVTX_TEMPLATE_DEPTH_MAX);
    const unsigned char *c = cx->c;
    uint32_t cnt = rd32(c + n->vals);
    struct sval *v = cnt ? bn_pool_alloc(cx->pool, cnt * sizeof(*v)) : NULL;
    if (cnt && !v)
        return fail(cx, BN_ENOMEM, "out of memory");
    /* Bounds were checked when the instance was parsed. */
    uint32_t d = n->vals + 4, off = d + 4 * cnt;
    for (uint32_t i = 0; i < cnt; i++) {
        v[i].size = rd16(c + d + 4 * i);
        v[i].type = c[d + 4 * i + 2];
        v[i].off = off;
        off += v[i].size;
    }
    struct subs s = {cnt, v};
    return render_list(cx, n->tpl->body, &s, tdepth + 1, xdepth);
}

static bool
is_name(const char *s, uint32_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(s, lit, n) == 0;
}

/*
 * Renders one element the way evtx_dump lays out JSON: attributes under "#attributes"
 * (null ones dropped), text as the element's value, or under "#text" when the element also
 * has attributes; an element with nothing in it is null. <Data Name="X">v</Data> becomes
 * "X": v; unnamed <Data> elements become "Data.#text" (repeated).
 */
static int
render_elem(struct ctx *cx, const struct cnode *e, const struct subs *s, unsigned tdepth,
            unsigned xdepth)
{
    if (xdepth >= BN_EVTX_XML_DEPTH_MAX)
        return fail(cx, BN_ETOOBIG, "elements nested deeper than %u (BN_EVTX_XML_DEPTH_MAX)",
                    (unsigned)BN_EVTX_XML_DEPTH_MAX);
    size_t saved = cx->plen;
    uint32_t before = cx->rec->n;
    int rc = 0;
    bool data = is_name(e->s, e->len, "Data");
    bool named = false, has_attrs = false;
    const char *text_suffix = NULL;

    /* Data Name="X": the key is X and the other attributes are dropped. */
    if (data) {
        for (const struct cattr *a = e->attrs; a; a = a->next) {
            if (!is_name(a->name, a->len, "Name"))
                continue;
            struct val nv;
            bool have;
            if ((rc = resolve_text(cx, a->val, s, &nv, &have)))
                goto out;
            if (have) {
                named = true;
                if ((rc = push_path(cx, nv.p, nv.len)))
                    goto out;
            }
            break;
        }
    }
    if (!named) {
        if ((rc = push_path(cx, e->s, e->len)))
            goto out;
        if (data) {
            text_suffix = ".#text";
        } else {
            for (const struct cattr *a = e->attrs; a; a = a->next) {
                struct val av;
                bool have;
                if ((rc = resolve_text(cx, a->val, s, &av, &have)))
                    goto out;
                if (!have)
                    continue;
                char suffix[BN_KEY_MAX];
                int k = snprintf(suffix, sizeof(suffix), ".#attributes.%.*s", (int)a->len,
                                 a->name);
                if (k < 0 || (size_t)k >= sizeof(suffix)) {
                    rc = fail(cx, BN_ETOOBIG, "key longer than %u bytes (BN_KEY_MAX)",
                              BN_KEY_MAX);
                    goto out;
                }
                if ((rc = emit(cx, suffix, &av)))
                    goto out;
                has_attrs = true;
            }
            if (has_attrs)
                text_suffix = ".#text";
        }
    }

    /* Content: text pieces are joined and written once; elements recurse. */
    struct val acc;
    bool have_text = false;
    for (const struct cnode *n = e->kids; n; n = n->next) {
        if (++cx->steps > RENDER_STEPS_MAX) {
            rc = fail(cx, BN_ETOOBIG, "record expands to more than %u BinXML nodes",
                      RENDER_STEPS_MAX);
            goto out;
        }
        if (n->kind == CN_ELEM || n->kind == CN_TINST) {
            if ((rc = render_one(cx, n, s, tdepth, xdepth + 1)))
                goto out;
            continue;
        }
        if (n->kind == CN_SUBST && s && n->idx < s->n && s->v[n->idx].type == VT_BINXML) {
            if ((rc = render_binxml(cx, &s->v[n->idx], tdepth, xdepth + 1)))
                goto out;
            continue;
        }
        struct cnode one = *n;
        one.next = NULL;
        struct val v;
        bool have;
        if ((rc = resolve_text(cx, &one, s, &v, &have)))
            goto out;
        if (!have)
            continue;
        if (!have_text) {
            acc = v;
            have_text = true;
        } else {
            /* Several pieces of text: one string. */
            size_t total = 0;
            for (const struct val *x = &acc; x; x = x->next)
                total += x->len;
            for (const struct val *x = &v; x; x = x->next)
                total += x->len;
            char *j = bn_pool_alloc(cx->pool, total + 1);
            if (!j) {
                rc = fail(cx, BN_ENOMEM, "out of memory");
                goto out;
            }
            size_t k = 0;
            for (const struct val *x = &acc; x; x = x->next) {
                memcpy(j + k, x->p, x->len);
                k += x->len;
            }
            for (const struct val *x = &v; x; x = x->next) {
                memcpy(j + k, x->p, x->len);
                k += x->len;
            }
            j[k] = '\0';
            acc.p = j;
            acc.len = (uint32_t)k;
            acc.type = BN_VT_STR;
            acc.next = NULL;
        }
    }
    if (have_text)
        rc = emit(cx, text_suffix, &acc);
    else if (cx->rec->n == before)
        rc = emit(cx, NULL, NULL);
out:
    cx->plen = saved;
    return rc;
}

/* Renders one node of a content list. */
static int
render_one(struct ctx *cx, const struct cnode *n, const struct subs *s, unsigned tdepth,
           unsigned xdepth)
{
    if (++cx->steps > RENDER_STEPS_MAX)
        return fail(cx, BN_ETOOBIG, "record expands to more than %u BinXML nodes",
                    RENDER_STEPS_MAX);
    switch (n->kind) {
    case CN_ELEM:
        return render_elem(cx, n, s, tdepth, xdepth);
    case CN_TINST:
        return render_tinst(cx, n, tdepth, xdepth);
    case CN_SUBST:
        if (s && n->idx < s->n && s->v[n->idx].type == VT_BINXML)
            return render_binxml(cx, &s->v[n->idx], tdepth, xdepth);
        return 0;
    default:
        /* Text outside any element has no key in evtx_dump's layout. */
        return 0;
    }
}

static int
render_list(struct ctx *cx, const struct cnode *n, const struct subs *s, unsigned tdepth,
            unsigned xdepth)
{
    for (; n; n = n->next) {
        int rc = render_one(cx, n, s, tdepth, xdepth);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- records and chunks -------------------------------------------------------------- */

/* Decodes the BinXML of the record at chunk offset at (size bytes) into rec. */
static int
decode_record(struct evtx *x, struct bn_record *rec, uint32_t at, uint32_t size,
              struct ctx *cx)
{
    cx->x = x;
    cx->c = x->chunk;
    cx->clen = x->clen;
    cx->rec = rec;
    cx->pool = rec->pool;
    cx->rc = 0;
    cx->why[0] = '\0';
    cx->steps = 0;
    cx->tdepth = 0;
    cx->plen = 0;
    struct cur cu = {at + RECORD_HEADER_SIZE, at + size - 4};
    struct cnode *list;
    if (parse_content(cx, &cu, rec->pool, 0, false, &list))
        return cx->rc;
    if (render_list(cx, list, NULL, 0, 0))
        return cx->rc;
    if (rec->n == 0)
        return fail(cx, BN_EPARSE, "record has no elements");
    return 0;
}

static ssize_t
read_full(struct bn_source *src, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = bn__source_read(src, (char *)buf + got, n - got);
        if (k < 0)
            return k;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/*
 * Reads the next chunk. Returns 0 with x->in_chunk set, BN_EOF at the end of the input,
 * BN_DECLINED for an unused (all-zero) chunk, or an error with d when the chunk is skipped
 * or the input is cut short.
 */
static int
load_chunk(struct bn_reader *r, struct evtx *x, struct bn_diag *d)
{
    uint64_t no = x->chunk_no;
    uint64_t off = FILE_HEADER_SIZE + no * BN_EVTX_CHUNK_SIZE;
    ssize_t got = read_full(r->src, x->chunk, BN_EVTX_CHUNK_SIZE);
    if (got < 0) {
        x->eof = true;
        r->done = true;
        return bn_diag_set(d, (int)got, r->path, 0, 0, "cannot read chunk %llu at offset %llu: "
                           "%s", (unsigned long long)no, (unsigned long long)off,
                           bn_strerror((int)got));
    }
    if (got == 0) {
        x->eof = true;
        return BN_EOF;
    }
    x->chunk_no++;
    x->chunk_off = off;
    x->clen = (uint32_t)got;
    x->partial = got < BN_EVTX_CHUNK_SIZE;
    if (x->partial)
        x->eof = true;
    if (got < (ssize_t)CHUNK_HEADER_SIZE) {
        r->done = true;
        return bn_diag_set(d, BN_ETRUNC, r->path, 0, 0, "file is truncated: chunk %llu at "
                           "offset %llu has only %zd of %u bytes", (unsigned long long)no,
                           (unsigned long long)off, got, BN_EVTX_CHUNK_SIZE);
    }
    const unsigned char *c = x->chunk;
    if (memcmp(c, "ElfChnk\0", 8) != 0) {
        if (all_zero(c, CHUNK_HEADER_SIZE)) {
            x->cnt.chunks_empty++;
            return BN_DECLINED;
        }
        x->cnt.chunks_bad_magic++;
        return bn_diag_set(d, BN_EFORMAT, r->path, 0, 0, "chunk %llu at offset %llu has a bad "
                           "magic (%02x %02x %02x %02x %02x %02x %02x %02x); skipped",
                           (unsigned long long)no, (unsigned long long)off, c[0], c[1], c[2],
                           c[3], c[4], c[5], c[6], c[7]);
    }
    uint32_t flags = rd32(c + 120);
    bool check = !x->no_crc && !(flags & FLAG_NO_CRC32);
    if (check) {
        uLong crc = crc32(0L, c, 120);
        crc = crc32(crc, c + 128, CHUNK_HEADER_SIZE - 128);
        if ((uint32_t)crc != rd32(c + 124)) {
            x->cnt.chunks_bad_header++;
            return bn_diag_set(d, BN_EFORMAT, r->path, 0, 0, "chunk %llu at offset %llu has a "
                               "bad header checksum (0x%08x, computed 0x%08x); skipped",
                               (unsigned long long)no, (unsigned long long)off, rd32(c + 124),
                               (unsigned)crc);
        }
    }
    uint32_t free_off = rd32(c + 48);
    if (free_off < CHUNK_HEADER_SIZE || free_off > BN_EVTX_CHUNK_SIZE) {
        x->cnt.chunks_bad_header++;
        return bn_diag_set(d, BN_EFORMAT, r->path, 0, 0, "chunk %llu at offset %llu has a bad "
                           "free space offset %u; skipped", (unsigned long long)no,
                           (unsigned long long)off, free_off);
    }
    if (check && free_off <= x->clen &&
        (uint32_t)crc32(0L, c + CHUNK_HEADER_SIZE, free_off - CHUNK_HEADER_SIZE) !=
            rd32(c + 52)) {
        /* Like evtx_dump: count it, warn, and still read what can be read. */
        x->cnt.chunks_bad_data_crc++;
        BN_WARN("evtx", "'%s': chunk %llu at offset %llu: records checksum mismatch, reading "
                "anyway", r->path, (unsigned long long)no, (unsigned long long)off);
    }
    x->limit = BN_MIN(free_off, x->clen);
    x->pos = CHUNK_HEADER_SIZE;
    x->last_id = rd64(c + 32);
    x->in_chunk = true;
    x->gen++;
    if (x->gen == 0) {
        memset(x->names, 0, sizeof(x->names));
        memset(x->tpls, 0, sizeof(x->tpls));
        x->gen = 1;
    }
    x->compiled = 0;
    bn_pool_reset(x->cpool);
    x->cnt.chunks++;
    return 0;
}

/*
 * Next record of the current chunk: 0 with rec filled, BN_DECLINED when the chunk has no
 * more records, or an error with d (the record was skipped).
 */
static int
next_record(struct bn_reader *r, struct evtx *x, struct bn_record *rec, struct bn_diag *d)
{
    uint32_t at = x->pos;
    if (x->limit < RECORD_HEADER_SIZE || at > x->limit - RECORD_HEADER_SIZE)
        return BN_DECLINED; /* for a partial chunk the caller reports the truncation */
    const unsigned char *p = x->chunk + at;
    uint64_t foff = x->chunk_off + at;
    uint32_t magic = rd32(p);
    if (magic != 0x00002a2a) {
        x->pos = x->limit;
        if (magic == 0)
            return BN_DECLINED; /* zero padding after the last record */
        x->cnt.records_bad++;
        x->next_index++;
        return bn_diag_set(d, BN_EPARSE, r->path, 0, 0, "record at offset %llu (chunk %llu) has "
                           "a bad magic 0x%08x; rest of the chunk skipped",
                           (unsigned long long)foff, (unsigned long long)(x->chunk_no - 1),
                           magic);
    }
    uint32_t size = rd32(p + 4);
    uint64_t id = rd64(p + 8);
    if (x->partial && size >= RECORD_MIN_SIZE && size <= BN_EVTX_CHUNK_SIZE - at &&
        size > x->limit - at)
        return BN_DECLINED; /* cut by the end of the file, not damaged */
    if (size < RECORD_MIN_SIZE || size > x->limit - at) {
        x->pos = x->limit;
        x->cnt.records_bad++;
        x->next_index++;
        return bn_diag_set(d, BN_EPARSE, r->path, 0, 0, "record %llu at offset %llu (chunk "
                           "%llu) has a bad size %u; rest of the chunk skipped",
                           (unsigned long long)id, (unsigned long long)foff,
                           (unsigned long long)(x->chunk_no - 1), size);
    }
    x->pos = at + size;
    if (id == x->last_id)
        x->pos = x->limit; /* the chunk header says this is its last record */
    uint64_t index = x->next_index++;
    if (rd32(p + size - 4) != size) {
        /* evtx_dump does not check the copy either: a record whose tail was zeroed often
         * still decodes (zero bytes end the BinXML fragment). */
        BN_DEBUG("evtx", "'%s': record %llu at offset %llu: size copy %u does not match size %u",
                 r->path, (unsigned long long)id, (unsigned long long)foff, rd32(p + size - 4),
                 size);
    }
    struct ctx *cx = bn_malloc(sizeof(*cx));
    if (!cx)
        return bn_diag_set(d, BN_ENOMEM, r->path, 0, 0, "out of memory");
    int rc = decode_record(x, rec, at, size, cx);
    if (rc) {
        x->cnt.records_bad++;
        bn_diag_set(d, rc, r->path, 0, 0, "record %llu at offset %llu: %s; skipped",
                    (unsigned long long)id, (unsigned long long)foff, cx->why);
        bn_free(cx);
        return rc;
    }
    bn_free(cx);
    uint64_t ft = rd64(p + 16);
    int64_t ns;
    if (ft >= 116444736000000000ull && ft - 116444736000000000ull <= (uint64_t)INT64_MAX / 100)
        ns = (int64_t)(ft - 116444736000000000ull) * 100;
    else if (ft < 116444736000000000ull && 116444736000000000ull - ft <= (uint64_t)INT64_MAX / 100)
        ns = -(int64_t)(116444736000000000ull - ft) * 100;
    else
        ns = INT64_MIN;
    /* The event's own TimeCreated wins over the record header's written time: they differ
     * when events were buffered, and Sigma tools time events by TimeCreated. */
    static const char tc_key[] = "Event.System.TimeCreated.#attributes.SystemTime";
    for (uint32_t i = 0; i < rec->n; i++) {
        const struct bn_kv *kv = &rec->kv[i];
        if (kv->key_len == sizeof(tc_key) - 1 && kv->val &&
            memcmp(kv->key, tc_key, sizeof(tc_key) - 1) == 0) {
            int64_t t;
            if (bn_time_parse(kv->val, kv->val_len, &t) == 0)
                ns = t;
            break;
        }
    }
    rec->ts_ns = ns;
    rec->format = "evtx";
    rec->file = r->path;
    rec->index = index;
    rec->line = 0;
    rec->offset = foff;
    return 0;
}

/* ---- reader ops ------------------------------------------------------------------------ */

static int
evtx_probe(const unsigned char *head, size_t len)
{
    return len >= 8 && memcmp(head, "ElfFile\0", 8) == 0 ? 100 : 0;
}

static void
evtx_close(struct bn_reader *r)
{
    struct evtx *x = r->state;
    if (!x)
        return;
    bn_free(x->chunk);
    bn_pool_free(x->cpool);
    bn_free(x);
    r->state = NULL;
}

static int
evtx_open(struct bn_reader *r, struct bn_diag *d)
{
    int rc = 0;
    unsigned char *hdr = NULL;
    struct evtx *x = bn_calloc(1, sizeof(*x));
    if (!x)
        return bn_diag_set(d, BN_ENOMEM, r->path, 0, 0, "out of memory");
    r->state = x;
    x->chunk = bn_malloc(BN_EVTX_CHUNK_SIZE);
    x->cpool = bn_pool_new(32768);
    hdr = bn_malloc(FILE_HEADER_SIZE);
    if (!x->chunk || !x->cpool || !hdr) {
        rc = bn_diag_set(d, BN_ENOMEM, r->path, 0, 0, "out of memory");
        goto out;
    }
    ssize_t got = read_full(r->src, hdr, FILE_HEADER_SIZE);
    if (got < 0) {
        rc = bn_diag_set(d, (int)got, r->path, 0, 0, "cannot read the file header: %s",
                         bn_strerror((int)got));
        goto out;
    }
    if (got < 8 || memcmp(hdr, "ElfFile\0", 8) != 0) {
        rc = bn_diag_set(d, BN_EFORMAT, r->path, 0, 0, "not an EVTX file: no \"ElfFile\" magic "
                         "at offset 0");
        goto out;
    }
    if (got < (ssize_t)FILE_HEADER_SIZE) {
        rc = bn_diag_set(d, BN_ETRUNC, r->path, 0, 0, "file is truncated: the file header has "
                         "%zd of %u bytes", got, FILE_HEADER_SIZE);
        goto out;
    }
    uint16_t major = rd16(hdr + 38), block = rd16(hdr + 40);
    uint32_t flags = rd32(hdr + 120);
    if (major != 3)
        BN_WARN("evtx", "'%s': unexpected format version %u.%u, reading anyway", r->path, major,
                rd16(hdr + 36));
    if (block != FILE_HEADER_SIZE)
        BN_WARN("evtx", "'%s': header block size %u, expected %u; chunks are read from offset "
                "%u", r->path, block, FILE_HEADER_SIZE, FILE_HEADER_SIZE);
    x->no_crc = flags & FLAG_NO_CRC32;
    if (!x->no_crc && (uint32_t)crc32(0L, hdr, 120) != rd32(hdr + 124))
        BN_WARN("evtx", "'%s': file header checksum mismatch, reading chunks anyway", r->path);
out:
    bn_free(hdr);
    if (rc)
        evtx_close(r);
    return rc;
}

static int
evtx_next(struct bn_reader *r, struct bn_record *rec, struct bn_diag *d)
{
    struct evtx *x = r->state;
    for (;;) {
        if (!x->in_chunk) {
            if (x->eof) {
                r->done = true;
                return BN_EOF;
            }
            int rc = load_chunk(r, x, d);
            if (rc == BN_DECLINED)
                continue;
            if (rc == BN_EOF) {
                r->done = true;
                return BN_EOF;
            }
            if (rc) {
                if (x->eof)
                    r->done = true;
                return rc;
            }
        }
        int rc = next_record(r, x, rec, d);
        if (rc != BN_DECLINED)
            return rc;
        x->in_chunk = false;
        if (x->partial) {
            r->done = true;
            return bn_diag_set(d, BN_ETRUNC, r->path, 0, 0, "file is truncated: chunk %llu at "
                               "offset %llu has only %u of %u bytes",
                               (unsigned long long)(x->chunk_no - 1),
                               (unsigned long long)x->chunk_off, x->clen, BN_EVTX_CHUNK_SIZE);
        }
    }
}

int
bn__evtx_counters(const struct bn_reader *r, struct bn__evtx_counters *out)
{
    memset(out, 0, sizeof(*out));
    if (!r || r->ops != &bn__reader_evtx || !r->state)
        return BN_EINVAL;
    *out = ((const struct evtx *)r->state)->cnt;
    return 0;
}

const struct bn_reader_ops bn__reader_evtx = {
    .name = "evtx",
    .format = BN_FMT_EVTX,
    .probe = evtx_probe,
    .open = evtx_open,
    .next = evtx_next,
    .close = evtx_close,
};
