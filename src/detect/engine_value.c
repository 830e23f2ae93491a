/*
 * engine_value.c - Sigma values as the engine sees them: escape and wildcard processing,
 * the transformation modifiers (contains/startswith/endswith, windash, base64, base64offset,
 * utf16*, expand), numbers, time parts, IP ranges, the reference wildcard matcher and the
 * translation of wildcard patterns into Vectorscan expressions.
 *
 * Everything here follows the Sigma 2.1 specification and pySigma where the specification is
 * silent (base64offset trimming, the windash word-start rule).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/timeutil.h"
#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/pool.h"
#include "detect/engine_int.h"

/* Placeholder markers while parsing `expand` values: BN__TOK_PH + index. */
#define TOK_PH 300
#define PH_MAX 64

struct vlist {
    struct bn__sstr *v;
    uint32_t n;
    uint32_t cap;
};

static int
vl_push(struct bn_pool *p, struct vlist *vl, const uint16_t *c, uint32_t n)
{
    if (vl->n >= BN_EXPAND_VARIANTS_MAX)
        return BN_ETOOBIG;
    if (vl->n == vl->cap) {
        uint32_t cap = vl->cap ? vl->cap * 2 : 4;
        struct bn__sstr *nv = bn_pool_alloc(p, (size_t)cap * sizeof(*nv));
        if (!nv)
            return BN_ENOMEM;
        if (vl->n)
            memcpy(nv, vl->v, vl->n * sizeof(*nv));
        vl->v = nv;
        vl->cap = cap;
    }
    uint16_t *copy = bn_pool_alloc(p, ((size_t)n + 1) * sizeof(*copy));
    if (!copy)
        return BN_ENOMEM;
    if (n)
        memcpy(copy, c, n * sizeof(*copy));
    vl->v[vl->n].c = copy;
    vl->v[vl->n].n = n;
    vl->n++;
    return 0;
}

/* A token vector being built (pool-backed, grows by copying). */
struct tvec {
    uint16_t *c;
    uint32_t n;
    uint32_t cap;
};

static int
tv_put(struct bn_pool *p, struct tvec *t, uint16_t tok)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        if (cap > BN_RULE_STRING_MAX * 8)
            return BN_ETOOBIG;
        uint16_t *nc = bn_pool_alloc(p, (size_t)cap * sizeof(*nc));
        if (!nc)
            return BN_ENOMEM;
        if (t->n)
            memcpy(nc, t->c, t->n * sizeof(*nc));
        t->c = nc;
        t->cap = cap;
    }
    t->c[t->n++] = tok;
    return 0;
}

static int
tv_bytes(struct bn_pool *p, struct tvec *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = tv_put(p, t, (unsigned char)s[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static bool
is_word(uint16_t c)
{
    return c < 256 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '_' || c >= 0x80);
}

/*
 * Escape rules of the specification: \* \? \\ are the literal characters, a backslash before
 * anything else (or at the end) is itself literal; unescaped * and ? are wildcards. With
 * expand, \% is a literal percent and %name% a placeholder (name made of word characters).
 */
static int
parse_string(struct bn_pool *p, const char *s, size_t len, bool expand, struct tvec *out,
             struct bn_str *phs, uint32_t *nph)
{
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            if (i + 1 < len) {
                char d = s[i + 1];
                if (d == '*' || d == '?' || d == '\\' || (expand && d == '%')) {
                    rc = tv_put(p, out, (unsigned char)d);
                    i++;
                    continue;
                }
            }
            rc = tv_put(p, out, '\\');
        } else if (c == '*') {
            rc = tv_put(p, out, BN__TOK_STAR);
        } else if (c == '?') {
            rc = tv_put(p, out, BN__TOK_QMARK);
        } else if (expand && c == '%') {
            size_t j = i + 1;
            while (j < len && is_word((unsigned char)s[j]) && (unsigned char)s[j] < 0x80)
                j++;
            if (j < len && s[j] == '%' && j > i + 1) {
                if (*nph >= PH_MAX)
                    return BN_ETOOBIG;
                phs[*nph].p = s + i + 1;
                phs[*nph].len = j - i - 1;
                rc = tv_put(p, out, (uint16_t)(TOK_PH + *nph));
                (*nph)++;
                i = j;
            } else {
                rc = tv_put(p, out, '%');
            }
        } else {
            rc = tv_put(p, out, c);
        }
    }
    return rc;
}

/* Expands placeholder markers of tokens (recursively, left to right) into vl. */
static int
expand_ph(struct bn_pool *p, const uint16_t *c, uint32_t n, struct tvec *acc,
          const struct vlist *phv, struct vlist *vl)
{
    uint32_t i = 0;
    uint32_t start = acc->n;
    int rc = 0;
    for (; i < n; i++) {
        if (c[i] >= TOK_PH)
            break;
        if ((rc = tv_put(p, acc, c[i])))
            return rc;
    }
    if (i == n) {
        rc = vl_push(p, vl, acc->c, acc->n);
    } else {
        const struct vlist *vals = &phv[c[i] - TOK_PH];
        uint32_t mark = acc->n;
        for (uint32_t k = 0; k < vals->n && rc == 0; k++) {
            acc->n = mark;
            for (uint32_t t = 0; t < vals->v[k].n && rc == 0; t++)
                rc = tv_put(p, acc, vals->v[k].c[t]);
            if (rc == 0)
                rc = expand_ph(p, c + i + 1, n - i - 1, acc, phv, vl);
        }
    }
    acc->n = start;
    return rc;
}

static int
mod_wildcards(struct bn_pool *p, struct vlist *vl, bool lead, bool trail)
{
    for (uint32_t i = 0; i < vl->n; i++) {
        struct bn__sstr *v = &vl->v[i];
        bool add_l = lead && (v->n == 0 || v->c[0] != BN__TOK_STAR);
        bool add_t = trail && (v->n == 0 || v->c[v->n - 1] != BN__TOK_STAR);
        uint32_t n = v->n + add_l + add_t;
        uint16_t *c = bn_pool_alloc(p, ((size_t)n + 1) * sizeof(*c));
        if (!c)
            return BN_ENOMEM;
        uint32_t k = 0;
        if (add_l)
            c[k++] = BN__TOK_STAR;
        if (v->n)
            memcpy(c + k, v->c, v->n * sizeof(*c));
        k += v->n;
        if (add_t)
            c[k++] = BN__TOK_STAR;
        v->c = c;
        v->n = n;
    }
    return 0;
}

static const char *const dashes[5] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};

/* pySigma: every '-' or '/' matching \B[-/]\b becomes each of the five dash characters. */
static int
windash_rec(struct bn_pool *p, const struct bn__sstr *v, uint32_t i, struct tvec *acc,
            struct vlist *out)
{
    int rc = 0;
    uint32_t start = acc->n;
    for (; i < v->n; i++) {
        uint16_t c = v->c[i];
        if ((c == '-' || c == '/') && (i == 0 || !is_word(v->c[i - 1])) && i + 1 < v->n &&
            is_word(v->c[i + 1]))
            break;
        if ((rc = tv_put(p, acc, c)))
            return rc;
    }
    if (i == v->n) {
        rc = vl_push(p, out, acc->c, acc->n);
    } else {
        uint32_t mark = acc->n;
        for (int k = 0; k < 5 && rc == 0; k++) {
            acc->n = mark;
            rc = tv_bytes(p, acc, dashes[k], strlen(dashes[k]));
            if (rc == 0)
                rc = windash_rec(p, v, i + 1, acc, out);
        }
    }
    acc->n = start;
    return rc;
}

static int
mod_windash(struct bn_pool *p, struct vlist *vl)
{
    struct vlist out = {0};
    struct tvec acc = {0};
    for (uint32_t i = 0; i < vl->n; i++) {
        int rc = windash_rec(p, &vl->v[i], 0, &acc, &out);
        if (rc)
            return rc;
    }
    *vl = out;
    return 0;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_encode(struct bn_pool *p, const uint8_t *in, size_t n, struct tvec *out)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        rc = tv_put(p, out, (uint8_t)b64chars[(v >> 18) & 63]);
        if (rc == 0)
            rc = tv_put(p, out, (uint8_t)b64chars[(v >> 12) & 63]);
        if (rc == 0)
            rc = tv_put(p, out, i + 1 < n ? (uint8_t)b64chars[(v >> 6) & 63] : '=');
        if (rc == 0)
            rc = tv_put(p, out, i + 2 < n ? (uint8_t)b64chars[v & 63] : '=');
    }
    return rc;
}

/* Copies the literal bytes of v; fails when v holds a wildcard. */
static int
plain_bytes(struct bn_pool *p, const struct bn__sstr *v, uint8_t **out)
{
    uint8_t *b = bn_pool_alloc(p, (size_t)v->n + 3);
    if (!b)
        return BN_ENOMEM;
    for (uint32_t i = 0; i < v->n; i++) {
        if (v->c[i] > 255)
            return BN_EPARSE;
        b[i + 2] = (uint8_t)v->c[i];
    }
    b[0] = b[1] = ' ';
    *out = b + 2;
    return 0;
}

static int
mod_base64(struct bn_pool *p, struct vlist *vl, bool offset)
{
    struct vlist out = {0};
    for (uint32_t i = 0; i < vl->n; i++) {
        uint8_t *b;
        int rc = plain_bytes(p, &vl->v[i], &b);
        if (rc)
            return rc;
        size_t n = vl->v[i].n;
        if (!offset) {
            struct tvec t = {0};
            if ((rc = b64_encode(p, b, n, &t)) || (rc = vl_push(p, &out, t.c, t.n)))
                return rc;
            continue;
        }
        /* pySigma: encode with 0..2 leading bytes, cut what depends on the neighbours. */
        static const int start_off[3] = {0, 2, 3};
        static const int end_off[3] = {0, 3, 2};
        for (int k = 0; k < 3; k++) {
            struct tvec t = {0};
            if ((rc = b64_encode(p, b - k, n + (size_t)k, &t)))
                return rc;
            uint32_t s0 = (uint32_t)start_off[k];
            uint32_t e0 = (uint32_t)end_off[(n + (size_t)k) % 3];
            uint32_t len = t.n > s0 + e0 ? t.n - s0 - e0 : 0;
            if ((rc = vl_push(p, &out, t.c ? t.c + s0 : NULL, len)))
                return rc;
        }
    }
    *vl = out;
    return 0;
}

/* Decodes one UTF-8 code point at c[*i] (literal tokens); invalid bytes stand for themselves. */
static uint32_t
utf8_next(const uint16_t *c, uint32_t n, uint32_t *i)
{
    uint32_t b0 = c[*i];
    uint32_t need = b0 >= 0xf0 && b0 < 0xf8   ? 3
                    : b0 >= 0xe0 && b0 < 0xf0 ? 2
                    : b0 >= 0xc2 && b0 < 0xe0 ? 1
                                              : 0;
    if (need == 0 || *i + need >= n) {
        (*i)++;
        return b0;
    }
    uint32_t cp = b0 & (0x3fu >> need);
    for (uint32_t k = 1; k <= need; k++) {
        uint16_t b = c[*i + k];
        if (b > 255 || (b & 0xc0) != 0x80) {
            (*i)++;
            return b0;
        }
        cp = (cp << 6) | (b & 0x3f);
    }
    *i += need + 1;
    return cp;
}

static int
put16(struct bn_pool *p, struct tvec *t, uint32_t u, bool be)
{
    int rc = tv_put(p, t, be ? (u >> 8) & 0xff : u & 0xff);
    if (rc == 0)
        rc = tv_put(p, t, be ? u & 0xff : (u >> 8) & 0xff);
    return rc;
}

static int
mod_utf16(struct bn_pool *p, struct vlist *vl, bool be, bool bom)
{
    for (uint32_t v = 0; v < vl->n; v++) {
        struct tvec t = {0};
        const struct bn__sstr *s = &vl->v[v];
        int rc = 0;
        if (bom)
            rc = put16(p, &t, 0xfeff, be);
        for (uint32_t i = 0; i < s->n && rc == 0;) {
            if (s->c[i] > 255) {
                rc = tv_put(p, &t, s->c[i]);
                i++;
                continue;
            }
            uint32_t cp = utf8_next(s->c, s->n, &i);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                rc = put16(p, &t, 0xd800 | (cp >> 10), be);
                if (rc == 0)
                    rc = put16(p, &t, 0xdc00 | (cp & 0x3ff), be);
            } else {
                rc = put16(p, &t, cp, be);
            }
        }
        if (rc)
            return rc;
        vl->v[v].c = t.c;
        vl->v[v].n = t.n;
    }
    return 0;
}

bool
bn__num_parse(const char *s, size_t len, struct bn__num *out)
{
    char tmp[64];
    if (!s || len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    size_t i = 0;
    bool neg = false;
    if (tmp[i] == '+' || tmp[i] == '-')
        neg = tmp[i++] == '-';
    if (tmp[i] == '0' && (tmp[i + 1] == 'x' || tmp[i + 1] == 'X')) {
        if (!tmp[i + 2])
            return false;
        for (size_t k = i + 2; tmp[k]; k++)
            if (!((tmp[k] >= '0' && tmp[k] <= '9') || (tmp[k] >= 'a' && tmp[k] <= 'f') ||
                  (tmp[k] >= 'A' && tmp[k] <= 'F')))
                return false;
        errno = 0;
        unsigned long long u = strtoull(tmp + i + 2, NULL, 16);
        if (errno || u > INT64_MAX)
            return false;
        out->is_int = true;
        out->i = neg ? -(int64_t)u : (int64_t)u;
        out->d = (double)out->i;
        return true;
    }
    /* decimal: digits [. digits] [e [+-] digits] */
    size_t k = i, digits = 0;
    bool is_int = true;
    while (tmp[k] >= '0' && tmp[k] <= '9')
        k++, digits++;
    if (tmp[k] == '.') {
        is_int = false;
        k++;
        while (tmp[k] >= '0' && tmp[k] <= '9')
            k++, digits++;
    }
    if (digits == 0)
        return false;
    if (tmp[k] == 'e' || tmp[k] == 'E') {
        is_int = false;
        k++;
        if (tmp[k] == '+' || tmp[k] == '-')
            k++;
        if (!(tmp[k] >= '0' && tmp[k] <= '9'))
            return false;
        while (tmp[k] >= '0' && tmp[k] <= '9')
            k++;
    }
    if (tmp[k])
        return false;
    errno = 0;
    out->d = strtod(tmp, NULL);
    out->is_int = false;
    if (is_int) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            out->is_int = true;
            out->i = v;
        }
    }
    return true;
}

bool
bn__num_eq(const struct bn__num *a, const struct bn__num *b)
{
    if (a->is_int && b->is_int)
        return a->i == b->i;
    return a->d == b->d;
}

bool
bn__num_cmp(const struct bn__num *a, const struct bn__num *b, int cmp)
{
    int c;
    if (a->is_int && b->is_int)
        c = a->i < b->i ? -1 : a->i > b->i;
    else if (a->d < b->d)
        c = -1;
    else if (a->d > b->d)
        c = 1;
    else if (a->d == b->d)
        c = 0;
    else
        return false; /* NaN cannot happen from bn__num_parse, but stay safe */
    switch (cmp) {
    case SIGMA_CMP_GT:
        return c > 0;
    case SIGMA_CMP_GTE:
        return c >= 0;
    case SIGMA_CMP_LT:
        return c < 0;
    case SIGMA_CMP_LTE:
        return c <= 0;
    case SIGMA_CMP_EQ:
        return c == 0;
    case SIGMA_CMP_NEQ:
        return c != 0;
    }
    return false;
}

static bool
digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* ISO 8601 week number (1..53). */
static int
iso_week(int y, int m, int d)
{
    int64_t days = bn_days_from_civil(y, (unsigned)m, (unsigned)d);
    int wd = (int)(((days % 7) + 7 + 3) % 7) + 1; /* 1 = Monday; 1970-01-01 was a Thursday */
    /* The week belongs to the year of its Thursday. */
    int64_t thu = days - wd + 4;
    int64_t jan1 = bn_days_from_civil(y, 1u, 1u);
    if (thu < jan1)
        jan1 = bn_days_from_civil(y - 1, 1u, 1u);
    else if (thu >= bn_days_from_civil(y + 1, 1u, 1u))
        jan1 = bn_days_from_civil(y + 1, 1u, 1u);
    return (int)((thu - jan1) / 7) + 1;
}

bool
bn__timepart(const char *s, size_t len, int part, int64_t *out)
{
    int y, mo, d, h, mi;
    if (!s || len < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) ||
        !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    bool has_time = len >= 16 && (s[10] == 'T' || s[10] == ' ' || s[10] == 't') &&
                    s[13] == ':' && digits(s + 11, 2, &h) && digits(s + 14, 2, &mi) && h < 24 &&
                    mi < 60;
    switch (part) {
    case SIGMA_MOD_YEAR:
        *out = y;
        return true;
    case SIGMA_MOD_MONTH:
        *out = mo;
        return true;
    case SIGMA_MOD_DAY:
        *out = d;
        return true;
    case SIGMA_MOD_WEEK:
        *out = iso_week(y, mo, d);
        return true;
    case SIGMA_MOD_HOUR:
        if (!has_time)
            return false;
        *out = h;
        return true;
    case SIGMA_MOD_MINUTE:
        if (!has_time)
            return false;
        *out = mi;
        return true;
    }
    return false;
}

bool
bn__ip_parse(const char *s, size_t len, uint8_t *af, uint8_t addr[16])
{
    char tmp[64];
    if (!s || len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *pct = strchr(tmp, '%'); /* IPv6 zone */
    if (pct)
        *pct = '\0';
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, tmp, addr) == 1) {
        *af = 4;
        return true;
    }
    if (inet_pton(AF_INET6, tmp, addr) == 1) {
        *af = 6;
        return true;
    }
    return false;
}

static bool
cidr_parse(const char *s, size_t len, struct bn__cval *cv)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (!bn__ip_parse(s, alen, &cv->af, cv->addr))
        return false;
    int maxbits = cv->af == 4 ? 32 : 128;
    int bits = maxbits;
    if (slash && !digits(slash + 1, len - alen - 1, &bits))
        return false;
    if (slash && (len - alen - 1 == 0 || len - alen - 1 > 3))
        return false;
    if (bits > maxbits)
        return false;
    cv->bits = (uint8_t)bits;
    return true;
}

static inline uint8_t
fold(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

bool
bn__glob_match(const struct bn__sstr *p, const char *s, size_t len, bool cased)
{
    const uint8_t *t = (const uint8_t *)s;
    size_t pi = 0, ti = 0, star_p = SIZE_MAX, star_t = 0;
    while (ti < len) {
        if (pi < p->n && p->c[pi] == BN__TOK_STAR) {
            star_p = pi++;
            star_t = ti;
        } else if (pi < p->n && (p->c[pi] == BN__TOK_QMARK ||
                                 (cased ? p->c[pi] == t[ti]
                                        : (p->c[pi] < 256 && fold((uint8_t)p->c[pi]) ==
                                                                 fold(t[ti]))))) {
            pi++;
            ti++;
        } else if (star_p != SIZE_MAX) {
            pi = star_p + 1;
            ti = ++star_t;
        } else {
            return false;
        }
    }
    while (pi < p->n && p->c[pi] == BN__TOK_STAR)
        pi++;
    return pi == p->n;
}

int
bn__glob_to_hs(const struct bn__sstr *p, struct bn_buf *buf)
{
    uint32_t a = 0, b = p->n;
    while (a < b && p->c[a] == BN__TOK_STAR)
        a++;
    while (b > a && p->c[b - 1] == BN__TOK_STAR)
        b--;
    bn_buf_reset(buf);
    int rc = 0;
    if (a == 0)
        rc = bn_buf_putc(buf, '^');
    for (uint32_t i = a; i < b && rc == 0; i++) {
        uint16_t c = p->c[i];
        if (c == BN__TOK_STAR)
            rc = bn_buf_puts(buf, ".*");
        else if (c == BN__TOK_QMARK)
            rc = bn_buf_putc(buf, '.');
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            rc = bn_buf_putc(buf, (char)c);
        else
            rc = bn_buf_printf(buf, "\\x%02x", (unsigned)c);
    }
    if (rc == 0 && b == p->n)
        rc = bn_buf_puts(buf, "\\z");
    return rc;
}

static int
bad(struct bn_diag *d, int code, const struct sigma_rule *r, const struct sigma_item *it,
    const struct sigma_value *v, const char *msg, const char *arg)
{
    return bn_diag_set(d, code, r->file ? r->file : "<input>", v && v->line ? v->line : it->line,
                       v && v->line ? v->col : it->col, "%s%s%s%s '%s'", msg,
                       arg ? " '" : "", arg ? arg : "", arg ? "'" : "",
                       it->field ? it->field : "keywords");
}

static const struct bn_placeholder *
find_placeholder(const struct bn_compile_opts *opts, const char *name, size_t len)
{
    for (size_t i = 0; opts && i < opts->nplaceholders; i++) {
        const char *n = opts->placeholders[i].name;
        if (n && strlen(n) == len && memcmp(n, name, len) == 0)
            return &opts->placeholders[i];
    }
    return NULL;
}

#define HAS(m) ((it->modmask & (1u << (m))) != 0)

static int
build_glob(struct bn_ruleset *rs, const struct sigma_rule *r, const struct sigma_item *it,
           const struct sigma_value *v, const struct bn_compile_opts *opts, const char *text,
           size_t len, struct bn__cval *out, struct bn_diag *d)
{
    struct bn_pool *p = rs->tmp;
    struct tvec t = {0};
    struct bn_str phs[PH_MAX];
    uint32_t nph = 0;
    bool expand = HAS(SIGMA_MOD_EXPAND);
    struct vlist vl = {0};
    int rc = parse_string(p, text, len, expand, &t, phs, &nph);
    if (rc == BN_ETOOBIG)
        return bad(d, BN_ETOOBIG, r, it, v, "too many placeholders or too long value of", NULL);
    if (rc)
        return rc;
    if (nph) {
        struct vlist phv[PH_MAX];
        memset(phv, 0, sizeof(phv));
        for (uint32_t i = 0; i < nph; i++) {
            const struct bn_placeholder *ph = find_placeholder(opts, phs[i].p, phs[i].len);
            if (!ph) {
                char name[128];
                snprintf(name, sizeof(name), "%%%.*s%%", (int)BN_MIN(phs[i].len, 100),
                         phs[i].p);
                return bad(d, BN_EUNSUP, r, it, v, "unknown placeholder", name);
            }
            for (size_t k = 0; k < ph->nvalues; k++) {
                struct tvec pt = {0};
                uint32_t dummy = 0;
                const char *pv = ph->values[k] ? ph->values[k] : "";
                if ((rc = parse_string(p, pv, strlen(pv), false, &pt, NULL, &dummy)) ||
                    (rc = vl_push(p, &phv[i], pt.c, pt.n)))
                    goto fail;
            }
        }
        struct tvec acc = {0};
        rc = expand_ph(p, t.c, t.n, &acc, phv, &vl);
    } else {
        rc = vl_push(p, &vl, t.c, t.n);
    }
    if (rc)
        goto fail;
    for (uint8_t m = 0; m < it->nmods && rc == 0; m++) {
        switch (it->mods[m]) {
        case SIGMA_MOD_CONTAINS:
            rc = mod_wildcards(p, &vl, true, true);
            break;
        case SIGMA_MOD_STARTSWITH:
            rc = mod_wildcards(p, &vl, false, true);
            break;
        case SIGMA_MOD_ENDSWITH:
            rc = mod_wildcards(p, &vl, true, false);
            break;
        case SIGMA_MOD_WINDASH:
            rc = mod_windash(p, &vl);
            break;
        case SIGMA_MOD_BASE64:
        case SIGMA_MOD_BASE64OFFSET:
            rc = mod_base64(p, &vl, it->mods[m] == SIGMA_MOD_BASE64OFFSET);
            if (rc == BN_EPARSE)
                return bad(d, BN_EPARSE, r, it, v, "base64 of a value with wildcards in", NULL);
            break;
        case SIGMA_MOD_UTF16LE:
            rc = mod_utf16(p, &vl, false, false);
            break;
        case SIGMA_MOD_UTF16BE:
            rc = mod_utf16(p, &vl, true, false);
            break;
        case SIGMA_MOD_UTF16:
            rc = mod_utf16(p, &vl, false, true);
            break;
        default:
            break;
        }
    }
    /* Keywords are full-text searches: the value may sit anywhere in a value of the event. */
    if (rc == 0 && !it->field)
        rc = mod_wildcards(p, &vl, true, true);
fail:
    if (rc == BN_ETOOBIG)
        return bad(d, BN_ETOOBIG, r, it, v, "too many value variants (windash/expand) for", NULL);
    if (rc)
        return rc;
    /* Final copy into the set's pool. */
    out->kind = BN__V_GLOB;
    out->nvars = vl.n;
    out->vars = bn_pool_calloc(rs->pool, vl.n ? vl.n : 1, sizeof(*out->vars));
    if (!out->vars)
        return BN_ENOMEM;
    for (uint32_t i = 0; i < vl.n; i++) {
        uint16_t *c = bn_pool_alloc(rs->pool, ((size_t)vl.v[i].n + 1) * sizeof(*c));
        if (!c)
            return BN_ENOMEM;
        if (vl.v[i].n)
            memcpy(c, vl.v[i].c, vl.v[i].n * sizeof(*c));
        out->vars[i].c = c;
        out->vars[i].n = vl.v[i].n;
    }
    return 0;
}

static int
add_regex(struct bn_ruleset *rs, pcre2_code *re)
{
    if (rs->nres == rs->res_cap) {
        uint32_t cap = rs->res_cap ? rs->res_cap * 2 : 64;
        pcre2_code **n = bn_reallocarray(rs->res, cap, sizeof(*n));
        if (!n)
            return BN_ENOMEM;
        rs->res = n;
        rs->res_cap = cap;
    }
    rs->res[rs->nres++] = re;
    return 0;
}

static bool
value_num(const struct sigma_value *v, struct bn__num *n)
{
    if (v->type == SIGMA_V_NUM) {
        n->d = v->num;
        n->i = v->i;
        n->is_int = v->is_int;
        return true;
    }
    if (v->type == SIGMA_V_STR)
        return bn__num_parse(v->s, v->len, n);
    return false;
}

int
bn__cval_build(struct bn_ruleset *rs, const struct sigma_rule *r, const struct sigma_item *it,
               const struct sigma_value *v, const struct bn_compile_opts *opts,
               struct bn__cval *out, struct bn_diag *d)
{
    memset(out, 0, sizeof(*out));
    out->pred = UINT32_MAX;
    const uint32_t strmods = (1u << SIGMA_MOD_CONTAINS) | (1u << SIGMA_MOD_STARTSWITH) |
                             (1u << SIGMA_MOD_ENDSWITH) | (1u << SIGMA_MOD_WINDASH) |
                             (1u << SIGMA_MOD_BASE64) | (1u << SIGMA_MOD_BASE64OFFSET) |
                             (1u << SIGMA_MOD_UTF16LE) | (1u << SIGMA_MOD_UTF16BE) |
                             (1u << SIGMA_MOD_UTF16) | (1u << SIGMA_MOD_EXPAND);
    const uint32_t cmpmods = (1u << SIGMA_MOD_LT) | (1u << SIGMA_MOD_LTE) |
                             (1u << SIGMA_MOD_GT) | (1u << SIGMA_MOD_GTE);
    const uint32_t timemods = (1u << SIGMA_MOD_MINUTE) | (1u << SIGMA_MOD_HOUR) |
                              (1u << SIGMA_MOD_DAY) | (1u << SIGMA_MOD_WEEK) |
                              (1u << SIGMA_MOD_MONTH) | (1u << SIGMA_MOD_YEAR);
    uint32_t mm = it->modmask;

    if (mm & (1u << SIGMA_MOD_EXISTS)) {
        if (v->type != SIGMA_V_BOOL)
            return bad(d, BN_EPARSE, r, it, v, "exists needs true or false on", NULL);
        if (mm & ~((1u << SIGMA_MOD_EXISTS) | (1u << SIGMA_MOD_ALL)))
            return bad(d, BN_EUNSUP, r, it, v, "exists combined with other modifiers on", NULL);
        out->kind = BN__V_EXISTS;
        out->exists = v->b;
        return 0;
    }
    if (v->type == SIGMA_V_NULL) {
        if (mm & (strmods | cmpmods | timemods | (1u << SIGMA_MOD_RE) | (1u << SIGMA_MOD_CIDR) |
                  (1u << SIGMA_MOD_FIELDREF)))
            return bad(d, BN_EUNSUP, r, it, v, "null with a value modifier on", NULL);
        out->kind = BN__V_NULL;
        return 0;
    }
    const char *text = v->s ? v->s : "";
    size_t len = v->s ? v->len : 0;
    if (v->type == SIGMA_V_BOOL) {
        text = v->b ? "true" : "false";
        len = strlen(text);
    }
    if (mm & (1u << SIGMA_MOD_RE)) {
        if (mm & (strmods | cmpmods | timemods | (1u << SIGMA_MOD_CIDR) |
                  (1u << SIGMA_MOD_FIELDREF)))
            return bad(d, BN_EUNSUP, r, it, v, "re combined with a transforming modifier on",
                       NULL);
        uint32_t flags = 0;
        if (mm & (1u << SIGMA_MOD_RE_I))
            flags |= PCRE2_CASELESS;
        if (mm & (1u << SIGMA_MOD_RE_M))
            flags |= PCRE2_MULTILINE;
        if (mm & (1u << SIGMA_MOD_RE_S))
            flags |= PCRE2_DOTALL;
        int err;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)text, len, flags, &err, &off, NULL);
        if (!re) {
            char emsg[160];
            pcre2_get_error_message(err, (PCRE2_UCHAR *)emsg, sizeof(emsg));
            char arg[200];
            snprintf(arg, sizeof(arg), "%s at offset %zu", emsg, (size_t)off);
            return bad(d, BN_EPARSE, r, it, v, "bad regular expression:", arg);
        }
        if (add_regex(rs, re)) {
            pcre2_code_free(re);
            return BN_ENOMEM;
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
        out->kind = BN__V_RE;
        out->re = re;
        return 0;
    }
    if (mm & (1u << SIGMA_MOD_CIDR)) {
        if (mm & (strmods | cmpmods | timemods | (1u << SIGMA_MOD_FIELDREF)))
            return bad(d, BN_EUNSUP, r, it, v, "cidr combined with another modifier on", NULL);
        out->kind = BN__V_CIDR;
        if (v->type != SIGMA_V_STR || !cidr_parse(text, len, out)) {
            char arg[80];
            snprintf(arg, sizeof(arg), "%.*s", (int)BN_MIN(len, 60), text);
            return bad(d, BN_EPARSE, r, it, v, "bad CIDR", arg);
        }
        return 0;
    }
    if (mm & (1u << SIGMA_MOD_FIELDREF)) {
        if (mm & (strmods | cmpmods | timemods))
            return bad(d, BN_EUNSUP, r, it, v, "fieldref combined with another modifier on",
                       NULL);
        if (v->type != SIGMA_V_STR || len == 0)
            return bad(d, BN_EPARSE, r, it, v, "fieldref needs a field name on", NULL);
        out->kind = BN__V_FIELDREF;
        int rc = bn_fieldtab_intern(rs->ft, text, len, &out->ref_field);
        if (rc == BN_ETOOBIG)
            return bad(d, BN_ETOOBIG, r, it, v, "too many fields or too long name in", NULL);
        return rc;
    }
    if (mm & (cmpmods | timemods) || (v->type == SIGMA_V_NUM && !(mm & strmods))) {
        if (mm & strmods)
            return bad(d, BN_EUNSUP, r, it, v, "numeric comparison with a string modifier on",
                       NULL);
        if (!value_num(v, &out->num)) {
            if (mm & (cmpmods | timemods))
                return bad(d, BN_EPARSE, r, it, v, "numeric modifier needs a number on", NULL);
        } else {
            out->kind = BN__V_NUMEQ;
            out->text = text;
            out->text_len = len;
            int cmp = -1;
            for (uint8_t m = 0; m < it->nmods; m++) {
                switch (it->mods[m]) {
                case SIGMA_MOD_LT:
                    cmp = SIGMA_CMP_LT;
                    break;
                case SIGMA_MOD_LTE:
                    cmp = SIGMA_CMP_LTE;
                    break;
                case SIGMA_MOD_GT:
                    cmp = SIGMA_CMP_GT;
                    break;
                case SIGMA_MOD_GTE:
                    cmp = SIGMA_CMP_GTE;
                    break;
                default:
                    break;
                }
            }
            if (cmp >= 0) {
                out->kind = BN__V_NUMCMP;
                out->cmp = (uint8_t)cmp;
            } else {
                char *copy = bn_pool_strndup(rs->pool, text, len);
                if (!copy)
                    return BN_ENOMEM;
                out->text = copy;
            }
            return 0;
        }
        /* A non-numeric string without a numeric modifier: plain string below. */
    }
    bn_pool_reset(rs->tmp);
    return build_glob(rs, r, it, v, opts, text, len, out, d);
}
