/*
 * buf.c - bounded growable buffer and JSON string escaping.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "bannin/buf.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

const char bn_dec_pairs[201] = "0001020304050607080910111213141516171819"
                               "2021222324252627282930313233343536373839"
                               "4041424344454647484950515253545556575859"
                               "6061626364656667686970717273747576777879"
                               "8081828384858687888990919293949596979899";

void
bn_buf_init(struct bn_buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void
bn_buf_release(struct bn_buf *b)
{
    bn_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void
bn_buf_reset(struct bn_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

int
bn_buf_reserve(struct bn_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return BN_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = bn_realloc(b->p, cap);
    if (!p)
        return BN_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int
bn_buf_append(struct bn_buf *b, const void *data, size_t n)
{
    int rc = bn_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int
bn_buf_putc(struct bn_buf *b, char c)
{
    return bn_buf_append(b, &c, 1);
}

int
bn_buf_puts(struct bn_buf *b, const char *s)
{
    return bn_buf_append(b, s, strlen(s));
}

int
bn_buf_printf(struct bn_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return BN_EINVAL;
    if ((size_t)n < sizeof(small))
        return bn_buf_append(b, small, (size_t)n);
    int rc = bn_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) { len = 2; min = 0x80; c &= 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; min = 0x800; c &= 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

bool
bn_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(u + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

/* Writes the escape of c (below 0x80 and not plain) at o; returns its length. */
static size_t
json_esc(char *o, unsigned c)
{
    static const char hex[] = "0123456789abcdef";
    o[0] = '\\';
    switch (c) {
    case '"': o[1] = '"'; return 2;
    case '\\': o[1] = '\\'; return 2;
    case '\n': o[1] = 'n'; return 2;
    case '\r': o[1] = 'r'; return 2;
    case '\t': o[1] = 't'; return 2;
    case '\b': o[1] = 'b'; return 2;
    case '\f': o[1] = 'f'; return 2;
    default:
        o[1] = 'u'; o[2] = '0'; o[3] = '0';
        o[4] = hex[c >> 4]; o[5] = hex[c & 15];
        return 6;
    }
}

/* Printable ASCII but '"' and '\\': the bytes a JSON string body takes as they are. */
static inline bool
json_plain(unsigned c)
{
    return c - 0x20u < 0x60u && c != '"' && c != '\\';
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* True when all 8 bytes of x are plain. Each term is exact as "some byte is ...": below
 * 0x20, 0x80 or above, '"', '\\' (the borrow tricks only err in bytes above a true hit). */
static inline bool
json_plain8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), bs = x ^ (ONES * '\\');
    uint64_t bad = ((x - ONES * 0x20) & ~x) | x | ((q - ONES) & ~q) | ((bs - ONES) & ~bs);
    return (bad & HIGHS) == 0;
}

#ifdef __SSE2__
/* Bit k set when byte k of x is not plain: below 0x20 or 0x80 and above (negative as a signed
 * byte: one signed compare takes both), '"' or '\\'. */
static inline unsigned
json_bad16(__m128i x)
{
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                               _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
    return (unsigned)_mm_movemask_epi8(bad);
}
#endif

/*
 * The common case: room for the worst (6 bytes out per byte in) is there, so the output is
 * written straight into the buffer, 16 (SSE2) or 8 plain bytes at a time, with one bounds
 * check for the whole string instead of an append per run. Same bytes as the general loop
 * below.
 */
static void
json_escape_fast(struct bn_buf *b, const unsigned char *u, size_t n, size_t i)
{
    /* u[0..i) are plain and already written at b->p + b->len (bn_buf_json_escape_z) */
    char *o = b->p + b->len + i;
    while (i < n) {
        uint64_t x;
#ifdef __SSE2__
        if (n - i >= 16) {
            /*
             * 16 bytes stored whatever they are (the room for 6 per byte in covers them);
             * the output moves on by the plain ones before the first that is not, which
             * the byte steps below then take, and the rest is written again.
             */
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
            unsigned m = json_bad16(v);
            _mm_storeu_si128((__m128i *)(void *)o, v);
            if (!m) {
                o += 16;
                i += 16;
                continue;
            }
            unsigned k = (unsigned)__builtin_ctz(m);
            o += k;
            i += k;
        } else if (n >= 16) {
            /* fewer than 16 left: the last 16 as one store when plain (as for 8 below) */
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + n - 16));
            if (!json_bad16(v)) {
                _mm_storeu_si128((__m128i *)(void *)(o - (16 - (n - i))), v);
                o += n - i;
                break;
            }
        }
#endif
        if (n - i >= 8 && (memcpy(&x, u + i, 8), json_plain8(x))) {
            memcpy(o, &x, 8);
            o += 8;
            i += 8;
            continue;
        }
        /*
         * Fewer than 8 bytes left of a string of 8 or more: when its last 8 bytes are all
         * plain, they go in as one word ending where the output ends. The word's first
         * bytes were already handled; being plain, each was written as itself, so the
         * last 8 - (n - i) bytes written are those same bytes and writing them again
         * changes nothing.
         */
        if (n - i < 8 && n >= 8 && (memcpy(&x, u + n - 8, 8), json_plain8(x))) {
            memcpy(o - (8 - (n - i)), &x, 8);
            o += n - i;
            break;
        }
        unsigned c = u[i];
        if (json_plain(c)) {
            *o++ = (char)c;
            i++;
        } else if (c >= 0x80) {
            size_t l = utf8_seq(u + i, n - i);
            if (l) {
                memcpy(o, u + i, l);
                o += l;
                i += l;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i++;
            }
        } else {
            o += json_esc(o, c);
            i++;
        }
    }
    *o = '\0';
    b->len = (size_t)(o - b->p);
}

int
bn_buf_json_escape(struct bn_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int rc;
    /* room for 6n more and the NUL: the fast path (a buffer near its maximum that cannot
     * take 6n goes the general way, so errors and partial output are as before) */
    if (n < (SIZE_MAX - 1) / 6 &&
        (6 * n < b->cap - b->len || (b->len + 6 * n <= b->max && bn_buf_reserve(b, 6 * n) == 0))) {
        json_escape_fast(b, u, n, 0);
        return 0;
    }
    while (i < n) {
        unsigned c = u[i];
        if (json_plain(c)) {
            i++;
            run++;
            continue;
        }
        if (run && (rc = bn_buf_append(b, s + i - run, run)))
            return rc;
        run = 0;
        if (c >= 0x80) {
            size_t l = utf8_seq(u + i, n - i);
            if (l) {
                if ((rc = bn_buf_append(b, s + i, l)))
                    return rc;
                i += l;
            } else {
                if ((rc = bn_buf_append(b, "\\ufffd", 6)))
                    return rc;
                i++;
            }
            continue;
        }
        char esc[6];
        if ((rc = bn_buf_append(b, esc, json_esc(esc, c))))
            return rc;
        i++;
    }
    if (run && (rc = bn_buf_append(b, s + n - run, run)))
        return rc;
    return bn_buf_reserve(b, 0);
}

int
bn_buf_json_escape_z(struct bn_buf *b, const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    /*
     * With room for 6 * max: the words before the first one that is not all plain are
     * copied while the string's length is still unknown (a NUL is not plain), which saves
     * the strlen pass; that word's lowest zero byte (exact: the borrow trick errs only
     * above a true zero) or else strnlen gives the length, and the fast path goes on
     * from there as for a known length. (With SSE2, below, 16 bytes a step.)
     */
    if (max < (SIZE_MAX - 1) / 6 && 6 * max < b->cap - b->len) {
        char *o = b->p + b->len;
        size_t i = 0, n;
        uint64_t x = 0, zero;
#ifdef __SSE2__
        /*
         * 16 bytes at a time; the last block is the array's last 16 bytes, overlapping
         * bytes already found plain (written again as themselves). When the first byte that
         * is not plain is the NUL, that is the whole string: no second pass at all.
         */
        while (max >= 16) {
            size_t at = max - i >= 16 ? i : max - 16;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + at));
            unsigned m = json_bad16(v) >> (i - at);
            _mm_storeu_si128((__m128i *)(void *)(o + at), v);
            if (!m) {
                i = at + 16;
                if (i < max)
                    continue;
                n = max; /* no NUL in the array */
            } else {
                i += (size_t)__builtin_ctz(m);
                if (u[i]) {
                    n = i + strnlen(s + i, max - i);
                    json_escape_fast(b, u, n, i);
                    return 0;
                }
                n = i;
            }
            b->len += n;
            b->p[b->len] = '\0';
            return 0;
        }
#endif
        for (; max - i >= 8; i += 8) {
            memcpy(&x, u + i, 8);
            if (!json_plain8(x))
                break;
            memcpy(o + i, &x, 8);
        }
        if (max - i >= 8 && (zero = (x - ONES) & ~x & HIGHS) != 0)
            n = i + (size_t)__builtin_ctzll(zero) / 8;
        else
            n = i + strnlen(s + i, max - i);
        json_escape_fast(b, u, n, i);
        return 0;
    }
    return bn_buf_json_escape(b, s, strnlen(s, max));
}

char *
bn_buf_detach(struct bn_buf *b)
{
    char *p = b->p;
    if (!p)
        p = bn_strdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
