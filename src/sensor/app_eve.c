/*
 * app_eve.c - renders application records: the protocol member of a Suricata eve record
 * (Suricata 8 shapes: eve dns version 3, http, tls, ssh) and flat Zeek-named objects
 * (dns.log, http.log, ssl.log, ssh.log fields) for Sigma's zeek mapping.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sensor/app_int.h"
#include "bannin/error.h"
#include "bannin/timeutil.h"
#include "bannin/hex.h"

/* ---- a tiny JSON writer over bn_buf: first error sticks ---- */

struct jw {
    struct bn_buf *b;
    int rc;
    bool comma;
};

static void
jw_c(struct jw *w, char c)
{
    if (!w->rc)
        w->rc = net_buf_putc(w->b, c);
}

static void
jw_sep(struct jw *w)
{
    if (w->comma)
        jw_c(w, ',');
    w->comma = true;
}

/*
 * Keys are our own literals: no escaping needed. `,"key":` goes in with one bounds check
 * when the buffer has room (it nearly always has: eve batches into a 256 KiB buffer). The
 * functions taking a key get its length from the macros of the same name below, where
 * strlen of a literal key is a constant.
 */

/* Writes [,]"key": at o, which has room for kn + 4 bytes; returns the end. */
static inline char *
jw_key_at(struct jw *w, char *o, const char *k, size_t kn)
{
    if (w->comma)
        *o++ = ',';
    *o++ = '"';
    net_copy_short(o, k, kn);
    o += kn;
    *o++ = '"';
    *o++ = ':';
    w->comma = true;
    return o;
}

static void
jw_key_n(struct jw *w, const char *k, size_t n)
{
    struct bn_buf *b = w->b;
    if (!w->rc && n + 4 < b->cap - b->len) {
        char *o = jw_key_at(w, b->p + b->len, k, n);
        *o = '\0';
        b->len = (size_t)(o - b->p);
        return;
    }
    jw_sep(w);
    jw_c(w, '"');
    if (!w->rc)
        w->rc = net_buf_add(w->b, k, n);
    if (!w->rc)
        w->rc = net_buf_add(w->b, "\":", 2);
}

/*
 * A string value. vmax: the size of the array v lies in (a record's text field), so the
 * escape finds the NUL as it goes instead of a strlen pass first; 0 when v is a pointer
 * (JW_VMAX below tells them apart).
 */
static void
jw_strval(struct jw *w, const char *v, size_t vmax)
{
    jw_c(w, '"');
    if (!w->rc)
        w->rc = vmax ? bn_buf_json_escape_z(w->b, v, vmax) : bn_buf_json_escape(w->b, v, strlen(v));
    jw_c(w, '"');
}

static void
jw_str_n(struct jw *w, const char *k, size_t kn, const char *v, size_t vmax)
{
    struct bn_buf *b = w->b;
    /*
     * A text field with room for its worst case: key, quotes and value behind one bounds
     * check (the escape then takes its fast path) instead of one per piece.
     */
    if (!w->rc && vmax && vmax < SIZE_MAX / 8 && kn + 6 * vmax + 8 < b->cap - b->len) {
        char *o = jw_key_at(w, b->p + b->len, k, kn);
        *o++ = '"';
        b->len = (size_t)(o - b->p);
        w->rc = bn_buf_json_escape_z(b, v, vmax);
        if (!w->rc) {
            b->p[b->len++] = '"';
            b->p[b->len] = '\0';
        }
        return;
    }
    jw_key_n(w, k, kn);
    jw_strval(w, v, vmax);
}

/*
 * A value of our own making (a name from one of our tables, digits): printable ASCII without
 * '"' or '\\', so escaping would copy it unchanged; it is copied directly.
 */
static inline __attribute__((always_inline)) void
jw_str_c_n(struct jw *w, const char *k, size_t kn, const char *v)
{
    /* inlined: the length of a literal value (or a choice of two) is a constant */
    size_t n = strlen(v);
    struct bn_buf *b = w->b;
    if (!w->rc && kn + n + 6 < b->cap - b->len) {
        char *o = jw_key_at(w, b->p + b->len, k, kn);
        *o++ = '"';
        net_copy_short(o, v, n);
        o += n;
        *o++ = '"';
        *o = '\0';
        b->len = (size_t)(o - b->p);
        return;
    }
    jw_key_n(w, k, kn);
    jw_c(w, '"');
    if (!w->rc)
        w->rc = bn_buf_json_escape(w->b, v, n);
    jw_c(w, '"');
}

/* A string member only when v is not empty. */
static void
jw_str_ne_n(struct jw *w, const char *k, size_t kn, const char *v, size_t vmax)
{
    if (v[0])
        jw_str_n(w, k, kn, v, vmax);
}

static void
jw_u64_n(struct jw *w, const char *k, size_t kn, uint64_t v)
{
    char t[24];
    size_t i = bn_u64_dec(t, v), n = sizeof(t) - i;
    struct bn_buf *b = w->b;
    if (!w->rc && kn + n + 4 < b->cap - b->len) {
        /* key and number behind one bounds check, as jw_str */
        char *o = jw_key_at(w, b->p + b->len, k, kn);
        net_copy_short(o, t + i, n);
        o += n;
        *o = '\0';
        b->len = (size_t)(o - b->p);
        return;
    }
    jw_key_n(w, k, kn);
    if (!w->rc)
        w->rc = net_buf_add(w->b, t + i, n);
}

static void
jw_bool_n(struct jw *w, const char *k, size_t kn, bool v)
{
    struct bn_buf *b = w->b;
    if (!w->rc && kn + 9 < b->cap - b->len) {
        char *o = jw_key_at(w, b->p + b->len, k, kn);
        if (v)
            memcpy(o, "true", 5); /* with its NUL */
        else
            memcpy(o, "false", 6);
        b->len = (size_t)(o + (v ? 4 : 5) - b->p);
        return;
    }
    jw_key_n(w, k, kn);
    if (!w->rc)
        w->rc = v ? net_buf_add(w->b, "true", 4) : net_buf_add(w->b, "false", 5);
}

/* k NULL: an array element (no key) */
static void
jw_open_n(struct jw *w, const char *k, size_t kn, char c)
{
    if (k)
        jw_key_n(w, k, kn);
    else
        jw_sep(w);
    jw_c(w, c == '{' ? '{' : '[');
    w->comma = false;
}

static void
jw_close(struct jw *w, char c)
{
    jw_c(w, c == '}' ? '}' : ']');
    w->comma = true;
}

/* An array element string. */
static void
jw_elem_n(struct jw *w, const char *v, size_t vmax)
{
    jw_sep(w);
    jw_strval(w, v, vmax);
}

/* Seconds with microseconds, Zeek's ts. */
static void
jw_ts_n(struct jw *w, const char *k, size_t kn, uint64_t ns)
{
    jw_key_n(w, k, kn);
    if (!w->rc)
        w->rc = bn_buf_printf(w->b, "%" PRIu64 ".%06" PRIu64, ns / 1000000000u,
                              (ns % 1000000000u) / 1000u);
}

/* "2016-09-29T09:01:48" as Suricata prints certificate times (UTC). */
static void
jw_time_n(struct jw *w, const char *k, size_t kn, int64_t secs)
{
    struct tm tm;
    time_t t = (time_t)secs;
    char buf[32];
    if (!gmtime_r(&t, &tm))
        return;
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    jw_str_n(w, k, kn, buf, sizeof(buf));
}

/* The key's length: a constant for a literal (inlined), 0 for NULL. */
static inline __attribute__((always_inline)) size_t
jw_klen(const char *k)
{
    return k ? strlen(k) : 0;
}

/* sizeof(v) when v is an array, 0 when it is a pointer (jw_strval) */
#define JW_VMAX(v)                                                                             \
    __builtin_choose_expr(__builtin_types_compatible_p(__typeof__(v), __typeof__(&(v)[0])),  \
                          (size_t)0, sizeof(v))

#define jw_key(w, k)       jw_key_n((w), (k), jw_klen(k))
#define jw_str(w, k, v)    jw_str_n((w), (k), jw_klen(k), (v), JW_VMAX(v))
#define jw_str_ne(w, k, v) jw_str_ne_n((w), (k), jw_klen(k), (v), JW_VMAX(v))
#define jw_elem(w, v)      jw_elem_n((w), (v), JW_VMAX(v))
#define jw_str_c(w, k, v)  jw_str_c_n((w), (k), jw_klen(k), (v))
#define jw_u64(w, k, v)    jw_u64_n((w), (k), jw_klen(k), (v))
#define jw_bool(w, k, v)   jw_bool_n((w), (k), jw_klen(k), (v))
#define jw_open(w, k, c)   jw_open_n((w), (k), jw_klen(k), (c))
#define jw_ts(w, k, v)     jw_ts_n((w), (k), jw_klen(k), (v))
#define jw_time(w, k, v)   jw_time_n((w), (k), jw_klen(k), (v))

/* ---- names ---- */

const char *
net_dns_rrtype_name(uint16_t type, char *buf, size_t size)
{
    static const char *const names[] = {
        [1] = "A",      [2] = "NS",        [3] = "MD",          [4] = "MF",     [5] = "CNAME",
        [6] = "SOA",    [7] = "MB",        [8] = "MG",          [9] = "MR",     [10] = "NULL",
        [11] = "WKS",   [12] = "PTR",      [13] = "HINFO",      [14] = "MINFO", [15] = "MX",
        [16] = "TXT",   [17] = "RP",       [18] = "AFSDB",      [19] = "X25",   [20] = "ISDN",
        [21] = "RT",    [22] = "NSAP",     [23] = "NSAPPTR",    [24] = "SIG",   [25] = "KEY",
        [26] = "PX",    [27] = "GPOS",     [28] = "AAAA",       [29] = "LOC",   [30] = "NXT",
        [33] = "SRV",   [34] = "ATMA",     [35] = "NAPTR",      [36] = "KX",    [37] = "CERT",
        [38] = "A6",    [39] = "DNAME",    [41] = "OPT",        [42] = "APL",   [43] = "DS",
        [44] = "SSHFP", [45] = "IPSECKEY", [46] = "RRSIG",      [47] = "NSEC",  [48] = "DNSKEY",
        [49] = "DHCID", [50] = "NSEC3",    [51] = "NSEC3PARAM", [52] = "TLSA",  [55] = "HIP",
        [59] = "CDS",   [60] = "CDNSKEY",  [64] = "SVCB",       [65] = "HTTPS", [99] = "SPF",
    };
    const char *n = NULL;
    if (type < BN_ARRAY_SIZE(names))
        n = names[type];
    else if (type == 249)
        n = "TKEY";
    else if (type == 250)
        n = "TSIG";
    else if (type == 251)
        n = "IXFR";
    else if (type == 252)
        n = "AXFR";
    else if (type == 255)
        n = "ANY";
    else if (type == 256)
        n = "URI";
    else if (type == 257)
        n = "CAA";
    if (n)
        return n;
    snprintf(buf, size, "%u", type);
    return buf;
}

const char *
net_dns_rcode_name(uint8_t rcode, char *buf, size_t size)
{
    static const char *const names[] = {
        "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
        "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",
    };
    if (rcode < BN_ARRAY_SIZE(names))
        return names[rcode];
    snprintf(buf, size, "%u", rcode);
    return buf;
}

/* ---- DNS ---- */

static void
dns_soa(struct jw *w, const char *k, const struct net_dns_rr *rr)
{
    jw_open(w, k, '{');
    jw_str(w, "mname", rr->rdata);
    jw_str(w, "rname", rr->rdata2);
    jw_u64(w, "serial", rr->n[0]);
    jw_u64(w, "refresh", rr->n[1]);
    jw_u64(w, "retry", rr->n[2]);
    jw_u64(w, "expire", rr->n[3]);
    jw_u64(w, "minimum", rr->n[4]);
    jw_close(w, '}');
}

static void
dns_srv(struct jw *w, const char *k, const struct net_dns_rr *rr)
{
    jw_open(w, k, '{');
    jw_u64(w, "priority", rr->n[0]);
    jw_u64(w, "weight", rr->n[1]);
    jw_u64(w, "port", rr->n[2]);
    jw_str(w, "name", rr->rdata);
    jw_close(w, '}');
}

static void
dns_sshfp(struct jw *w, const char *k, const struct net_dns_rr *rr)
{
    jw_open(w, k, '{');
    jw_str(w, "fingerprint", rr->rdata);
    jw_u64(w, "algo", rr->n[0]);
    jw_u64(w, "type", rr->n[1]);
    jw_close(w, '}');
}

static void
dns_rrs(struct jw *w, const struct net_dns_rec *r, unsigned section, const char *key)
{
    char tb[16];
    bool open = false;
    for (size_t i = 0; i < r->n_rrs; i++) {
        const struct net_dns_rr *rr = &r->rrs[i];
        if (rr->section != section)
            continue;
        if (!open) {
            jw_open(w, key, '[');
            open = true;
        }
        jw_open(w, NULL, '{');
        jw_str(w, "rrname", rr->name);
        if (rr->name_truncated)
            jw_bool(w, "rrname_truncated", true);
        jw_str_c(w, "rrtype", net_dns_rrtype_name(rr->type, tb, sizeof(tb)));
        jw_u64(w, "ttl", rr->ttl);
        if (rr->type == 6)
            dns_soa(w, "soa", rr);
        else if (rr->type == 33)
            dns_srv(w, "srv", rr);
        else if (rr->type == 44)
            dns_sshfp(w, "sshfp", rr);
        else
            jw_str(w, "rdata", rr->rdata);
        jw_close(w, '}');
    }
    if (open)
        jw_close(w, ']');
}

/* "grouped": answers by type, in order of first appearance. */
static void
dns_grouped(struct jw *w, const struct net_dns_rec *r)
{
    uint16_t seen[NET_DNS_RRS_MAX];
    size_t n_seen = 0;
    char tb[16];
    bool open = false;
    for (size_t i = 0; i < r->n_rrs; i++) {
        const struct net_dns_rr *rr = &r->rrs[i];
        if (rr->section != NET_DNS_ANSWER)
            continue;
        bool dup = false;
        for (size_t j = 0; j < n_seen; j++)
            dup |= seen[j] == rr->type;
        if (dup)
            continue;
        seen[n_seen++] = rr->type;
        if (!open) {
            jw_open(w, "grouped", '{');
            open = true;
        }
        jw_open(w, net_dns_rrtype_name(rr->type, tb, sizeof(tb)), '[');
        for (size_t k = i; k < r->n_rrs; k++) {
            const struct net_dns_rr *x = &r->rrs[k];
            if (x->section != NET_DNS_ANSWER || x->type != rr->type)
                continue;
            if (x->type == 6)
                dns_soa(w, NULL, x);
            else if (x->type == 33)
                dns_srv(w, NULL, x);
            else if (x->type == 44)
                dns_sshfp(w, NULL, x);
            else
                jw_elem(w, x->rdata);
        }
        jw_close(w, ']');
    }
    if (open)
        jw_close(w, '}');
}

/* v in lower-case hex without leading zeros, as printf's "%x" (buf: 5 bytes). */
static void
hex_u16(char *buf, uint16_t v)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (int sh = 12; sh >= 0; sh -= 4)
        if ((v >> sh) || sh == 0 || n)
            buf[n++] = hex[(v >> sh) & 15];
    buf[n] = '\0';
}

static void
dns_eve(struct jw *w, const struct net_dns_rec *r)
{
    char tb[16], fl[8];
    jw_open(w, "dns", '{');
    jw_u64(w, "version", 3);
    jw_str_c(w, "type", r->is_response ? "response" : "request");
    jw_u64(w, "tx_id", r->tx_id);
    jw_u64(w, "id", r->id);
    hex_u16(fl, r->flags);
    jw_str_c(w, "flags", fl);
    if (r->is_response)
        jw_bool(w, "qr", true);
    if (r->aa)
        jw_bool(w, "aa", true);
    if (r->tc)
        jw_bool(w, "tc", true);
    if (r->rd)
        jw_bool(w, "rd", true);
    if (r->ra)
        jw_bool(w, "ra", true);
    if (r->z)
        jw_bool(w, "z", true);
    jw_u64(w, "opcode", r->opcode);
    jw_str_c(w, "rcode", net_dns_rcode_name(r->rcode, tb, sizeof(tb)));
    if (r->n_queries) {
        jw_open(w, "queries", '[');
        for (size_t i = 0; i < r->n_queries; i++) {
            jw_open(w, NULL, '{');
            jw_str(w, "rrname", r->queries[i].name);
            jw_str_c(w, "rrtype", net_dns_rrtype_name(r->queries[i].type, tb, sizeof(tb)));
            if (r->queries[i].name_truncated)
                jw_bool(w, "rrname_truncated", true);
            jw_close(w, '}');
        }
        jw_close(w, ']');
    }
    dns_rrs(w, r, NET_DNS_ANSWER, "answers");
    dns_grouped(w, r);
    dns_rrs(w, r, NET_DNS_AUTHORITY, "authorities");
    dns_rrs(w, r, NET_DNS_ADDITIONAL, "additionals");
    jw_close(w, '}');
}

/* Zeek's qclass names. */
static const char *
zeek_qclass(uint16_t c)
{
    switch (c) {
    case 1: return "C_INTERNET";
    case 3: return "C_CHAOS";
    case 4: return "C_HESIOD";
    case 254: return "C_NONE";
    case 255: return "C_ANY";
    default: return NULL;
    }
}

/* Lower-cases s in place (Zeek logs names in lower case). */
static char *
lower(char *s)
{
    for (char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return s;
}

/* Zeek's text for answer i (a TXT record: all its character-strings). */
static void
zeek_rdata(const struct net_dns_rec *r, size_t i, char *t, size_t tsz)
{
    const struct net_dns_rr *rr = &r->rrs[i];
    char tb[24];
    uint8_t a6[16];
    switch (rr->type) {
    case 16:
    case 99: {
        size_t o = 0;
        for (size_t k = i; k < r->n_rrs && (k == i || r->rrs[k].txt_more); k++) {
            int n =
                snprintf(t + o, tsz - o, "%s%s %zu %s", k == i ? "" : " ",
                         rr->type == 16 ? "TXT" : "SPF", strlen(r->rrs[k].rdata), r->rrs[k].rdata);
            if (n < 0 || (size_t)n >= tsz - o)
                break;
            o += (size_t)n;
        }
        return;
    }
    case 28:
        if (inet_pton(AF_INET6, rr->rdata, a6) == 1 && inet_ntop(AF_INET6, a6, t, (socklen_t)tsz))
            return;
        break;
    case 2:
    case 5:
    case 12:
    case 15:
    case 33:
    case 39:
    case 6:
        snprintf(t, tsz, "%s", rr->rdata);
        lower(t);
        return;
    case 44: {
        static const char pre[] = "SSHFP: ";
        size_t o = BN_MIN(sizeof(pre) - 1, tsz - 1);
        memcpy(t, pre, o);
        for (const char *p = rr->rdata; *p && o + 1 < tsz; p++)
            if (*p != ':')
                t[o++] = *p;
        t[o] = '\0';
        return;
    }
    case 46: {
        char signer[NET_DNS_NAME_MAX];
        snprintf(signer, sizeof(signer), "%s", rr->rdata2);
        snprintf(t, tsz, "RRSIG %u %s", rr->n[0], lower(signer));
        return;
    }
    case 29: /* as Zeek's dns_LOC handler writes a version 0 record: size and precisions */
        snprintf(t, tsz, "LOC:  %u %u %u", rr->n[1], rr->n[2], rr->n[3]);
        return;
    case 43: snprintf(t, tsz, "DS %u %u", rr->n[0], rr->n[1]); return;
    case 48: snprintf(t, tsz, "DNSKEY %u", rr->n[0]); return;
    case 51: snprintf(t, tsz, "NSEC3PARAM"); return;
    case 65534: snprintf(t, tsz, "BIND9 signing signal"); return;
    default: break;
    }
    (void)tb;
    snprintf(t, tsz, "%s", rr->rdata);
}

/*
 * A dynamic update's records as Zeek writes them (its forms seen in its test baselines): a
 * prerequisite that an RRset does not exist (class NONE, no data) "pre: NoRRSet TYPE name",
 * an RRset deleted (class ANY, no data) "del: RRSet TYPE", a record added (the zone's class)
 * "add: TYPE name data". Other prerequisites and deletions keep the plain answer text.
 */
static void
zeek_update(const struct net_dns_rr *rr, char *t, size_t tsz)
{
    char tb[24], nm[NET_DNS_NAME_MAX], pre[NET_DNS_NAME_MAX + 48];
    const char *tn = net_dns_rrtype_name(rr->type, tb, sizeof(tb));
    snprintf(nm, sizeof(nm), "%s", rr->name);
    lower(nm);
    if (rr->section == NET_DNS_ANSWER && rr->rclass == 254 && !rr->rdata[0])
        snprintf(t, tsz, "pre: NoRRSet %s %s", tn, nm);
    else if (rr->section == NET_DNS_AUTHORITY && rr->rclass == 255 && !rr->rdata[0])
        snprintf(t, tsz, "del: RRSet %s", tn);
    else if (rr->section == NET_DNS_AUTHORITY && rr->rclass != 254 && rr->rclass != 255) {
        int n = snprintf(pre, sizeof(pre), "add: %s %s ", tn, nm);
        size_t pl = n < 0 ? 0 : BN_MIN((size_t)n, sizeof(pre) - 1), dl = strlen(t);
        if (pl + 1 >= tsz)
            return;
        if (pl + dl + 1 > tsz)
            dl = tsz - pl - 1; /* cut, as every answer text is at its bound */
        memmove(t + pl, t, dl);
        memcpy(t, pre, pl);
        t[pl + dl] = '\0';
    }
}

static void
dns_zeek(struct jw *w, const struct net_dns_rec *r)
{
    char tb[24];
    jw_str(w, "proto", r->tcp ? "tcp" : "udp");
    jw_u64(w, "trans_id", r->id);
    if (r->query_seen) {
        jw_key(w, "rtt");
        if (!w->rc)
            w->rc = bn_buf_printf(w->b, "%.6f", (double)r->rtt_ns / 1e9);
    }
    /* Zeek knows query, qclass and qtype from the query; a reply it cannot pair gets only
     * the owner name of its first answer (Zeek's DNS::do_reply sets query from ans$query),
     * none when the reply has no answer */
    bool update = r->opcode == 5; /* RFC 2136: zone, prerequisites, updates */
    bool qinfo = (!r->is_response || r->query_seen) && !update;
    if (!qinfo) {
        for (size_t i = 0; i < r->n_rrs; i++) {
            const struct net_dns_rr *rr = &r->rrs[i];
            if (rr->section == NET_DNS_ANSWER && rr->type != 11 && rr->type != 249 &&
                rr->type != 250) {
                char qn[NET_DNS_NAME_MAX];
                snprintf(qn, sizeof(qn), "%s", rr->name);
                jw_str(w, "query", lower(qn));
                break;
            }
        }
    } else if (r->n_queries) {
        const struct net_dns_query *q = &r->queries[0];
        char qn[NET_DNS_QNAME_MAX];
        snprintf(qn, sizeof(qn), "%s", q->name);
        jw_str(w, "query", lower(qn));
        jw_u64(w, "qclass", q->qclass);
        const char *cn = zeek_qclass(q->qclass);
        if (cn)
            jw_str(w, "qclass_name", cn);
        jw_u64(w, "qtype", q->type);
        const char *tn = net_dns_rrtype_name(q->type, tb, sizeof(tb));
        if (tn == tb)
            snprintf(tb, sizeof(tb), "query-%u", q->type);
        jw_str(w, "qtype_name", tn);
    }
    if (r->is_response) {
        jw_u64(w, "rcode", r->rcode);
        jw_str(w, "rcode_name", net_dns_rcode_name(r->rcode, tb, sizeof(tb)));
    }
    jw_bool(w, "AA", r->aa);
    jw_bool(w, "TC", r->tc);
    jw_bool(w, "RD", r->rd);
    jw_bool(w, "RA", r->ra);
    jw_u64(w, "Z", (uint64_t)(r->z << 2 | r->ad << 1 | r->cd));
    /* Zeek's dns.log lists no answer for WKS, TKEY and TSIG records (its handlers of those
     * types add none) */
#define ZEEK_ANSWER(rr)                                                                            \
    (((rr)->section == NET_DNS_ANSWER || (update && (rr)->section == NET_DNS_AUTHORITY)) &&      \
     (rr)->type != 11 && (rr)->type != 249 && (rr)->type != 250)
    bool any = false;
    for (size_t i = 0; i < r->n_rrs; i++)
        any |= ZEEK_ANSWER(&r->rrs[i]);
    if (any) {
        jw_open(w, "answers", '[');
        for (size_t i = 0; i < r->n_rrs; i++) {
            const struct net_dns_rr *rr = &r->rrs[i];
            if (!ZEEK_ANSWER(rr) || rr->txt_more)
                continue;
            char t[8192];
            zeek_rdata(r, i, t, sizeof(t));
            if (update)
                zeek_update(rr, t, sizeof(t));
            jw_elem(w, t);
        }
        jw_close(w, ']');
        jw_open(w, "TTLs", '[');
        for (size_t i = 0; i < r->n_rrs; i++) {
            if (!ZEEK_ANSWER(&r->rrs[i]) || r->rrs[i].txt_more)
                continue;
            jw_sep(w);
            if (!w->rc)
                w->rc = bn_buf_printf(w->b, "%u.0", r->rrs[i].ttl);
        }
        jw_close(w, ']');
    }
#undef ZEEK_ANSWER
    jw_bool(w, "rejected", r->is_response && r->rcode == 5);
    jw_u64(w, "opcode", r->opcode);
}

/* ---- HTTP ---- */

/* "request_headers":[{"name":..,"value":..} | {"table_size_update":N}, ...] */
static void
http_hdrs_eve(struct jw *w, const char *key, const struct net_http_hdrs *l)
{
    if (!l)
        return;
    jw_open(w, key, '[');
    for (uint32_t i = 0; i < l->n; i++) {
        const struct net_http_hdr *h = &l->h[i];
        jw_open(w, NULL, '{');
        if (h->is_size_update) {
            jw_u64(w, "table_size_update", h->size_update);
        } else {
            jw_key(w, "name");
            jw_c(w, '"');
            if (!w->rc)
                w->rc = bn_buf_json_escape(w->b, l->bytes + h->name_off, h->name_len);
            jw_c(w, '"');
            jw_key(w, "value");
            jw_c(w, '"');
            if (!w->rc)
                w->rc = bn_buf_json_escape(w->b, l->bytes + h->value_off, h->value_len);
            jw_c(w, '"');
        }
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

/* Suricata's http2 "request" / "response" object: settings, error_code, priority. */
static void
http2_side_eve(struct jw *w, const char *key, const struct net_http2_side *s)
{
    static const char *const set_names[] = {
        NULL,
        "SETTINGSHEADERTABLESIZE",
        "SETTINGSENABLEPUSH",
        "SETTINGSMAXCONCURRENTSTREAMS",
        "SETTINGSINITIALWINDOWSIZE",
        "SETTINGSMAXFRAMESIZE",
        "SETTINGSMAXHEADERLISTSIZE",
    };
    static const char *const err_names[] = {
        "NOERROR",          "PROTOCOLERROR",  "INTERNALERROR",      "FLOWCONTROLERROR",
        "SETTINGSTIMEOUT",  "STREAMCLOSED",   "FRAMESIZEERROR",     "REFUSEDSTREAM",
        "CANCEL",           "COMPRESSIONERROR", "CONNECTERROR",     "ENHANCEYOURCALM",
        "INADEQUATESECURITY", "HTTP11REQUIRED", /* RFC 9113 section 7, in order */
    };
    jw_open(w, key, '{');
    if (s->n_settings) {
        jw_open(w, "settings", '[');
        for (unsigned i = 0; i < s->n_settings; i++) {
            char nb[32];
            uint16_t id = s->settings[i].id;
            jw_open(w, NULL, '{');
            if (id && id < sizeof(set_names) / sizeof(set_names[0])) {
                jw_str(w, "settings_id", set_names[id]);
            } else {
                snprintf(nb, sizeof(nb), "SETTINGS%u", id);
                jw_str(w, "settings_id", nb);
            }
            jw_u64(w, "settings_value", s->settings[i].value);
            jw_close(w, '}');
        }
        jw_close(w, ']');
    }
    if (s->has_error_code) {
        if (s->error_code < sizeof(err_names) / sizeof(err_names[0]))
            jw_str(w, "error_code", err_names[s->error_code]);
        else
            jw_u64(w, "error_code", s->error_code);
    }
    if (s->has_priority)
        jw_u64(w, "priority", s->priority);
    if (s->multiple)
        jw_str(w, "has_multiple", s->multiple == 1 ? "error_code" : "priority");
    jw_close(w, '}');
}

/* An HTTP/2 stream (or stream 0 frame), as Suricata's http2 logger writes it. */
static void
http2_eve(struct jw *w, const struct net_http_rec *r)
{
    jw_str_ne(w, "hostname", r->host);
    jw_str_ne(w, "url", r->uri);
    jw_str_ne(w, "http_user_agent", r->user_agent);
    jw_str_ne(w, "http_method", r->method);
    if (r->status)
        jw_u64(w, "status", (uint64_t)r->status);
    if (r->has_content_length)
        jw_u64(w, "length", r->content_length);
    jw_str(w, "version", "2");
    http_hdrs_eve(w, "request_headers", r->hdrs[0]);
    http_hdrs_eve(w, "response_headers", r->hdrs[1]);
    if (r->h2) {
        jw_open(w, "http2", '{');
        jw_u64(w, "stream_id", r->h2->stream_id);
        http2_side_eve(w, "request", &r->h2->side[0]);
        http2_side_eve(w, "response", &r->h2->side[1]);
        jw_close(w, '}');
    }
    if (r->truncated)
        jw_bool(w, "truncated", true);
}

static void
http_eve(struct jw *w, const struct net_http_rec *r)
{
    jw_u64(w, "tx_id", r->tx_id);
    jw_open(w, "http", '{');
    if (r->version2) {
        http2_eve(w, r);
        jw_close(w, '}');
        return;
    }
    jw_str_ne(w, "hostname", r->host);
    if (r->port)
        jw_u64(w, "http_port", r->port);
    if (r->has_request)
        jw_str(w, "url", r->uri);
    jw_str_ne(w, "http_user_agent", r->user_agent);
    jw_str_ne(w, "xff", r->xff);
    if (r->content_type[0]) {
        /* the media type only, as Suricata logs it ("text/html; charset=x" -> "text/html") */
        char mt[NET_HTTP_CTYPE_MAX];
        size_t n = strcspn(r->content_type, ";");
        while (n && (r->content_type[n - 1] == ' ' || r->content_type[n - 1] == '\t'))
            n--;
        memcpy(mt, r->content_type, n);
        mt[n] = '\0';
        jw_str(w, "http_content_type", mt);
    }
    if (!net_app_http_extended_on()) /* eve http extended: no */
        goto headers;
    jw_str_ne(w, "http_refer", r->referer);
    jw_str_ne(w, "http_method", r->method);
    jw_str_ne(w, "protocol", r->protocol);
    if (r->has_response && r->status)
        jw_u64(w, "status", (uint64_t)r->status);
    else if (r->has_response)
        jw_str_ne(w, "status_string", r->status_string);
    jw_str_ne(w, "redirect", r->location);
    jw_u64(w, "length", r->response_body_len);
headers:
    http_hdrs_eve(w, "request_headers", r->hdrs[0]); /* dump-all-headers */
    http_hdrs_eve(w, "response_headers", r->hdrs[1]);
    if (r->truncated)
        jw_bool(w, "truncated", true);
    jw_close(w, '}');
}

/*
 * Zeek logs the URI %-decoded, with the bytes that are not printable ASCII written as \xNN
 * (our stored URI may already hold \xNN escapes for bytes that were not UTF-8: kept).
 */
static void
zeek_unescape_uri(const char *in, char *out, size_t osz)
{
    static const char hexd[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; in[i] && o + 5 < osz; i++) {
        unsigned c = (uint8_t)in[i];
        int h1, h2;
        if (c == '%' && (h1 = bn_hexval((uint8_t)in[i + 1])) >= 0 &&
            (h2 = bn_hexval((uint8_t)in[i + 2])) >= 0) {
            c = (unsigned)(h1 << 4 | h2);
            i += 2;
        }
        if (c < 0x20 || c >= 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hexd[c >> 4];
            out[o++] = hexd[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static void
http_zeek(struct jw *w, const struct net_http_rec *r)
{
    jw_u64(w, "trans_depth", r->trans_depth);
    if (r->zeek_empty)
        return;
    jw_str_ne(w, "method", r->method);
    if (r->host[0] && r->port) {
        char hp[NET_HTTP_HOST_MAX + 8];
        snprintf(hp, sizeof(hp), "%s:%u", r->host, r->port);
        jw_str(w, "host", hp); /* Zeek logs the Host header as sent */
    } else {
        jw_str_ne(w, "host", r->host);
    }
    if (r->has_request) {
        char u[NET_HTTP_URI_MAX * 4];
        zeek_unescape_uri(r->uri, u, sizeof(u));
        jw_str(w, "uri", u);
    }
    jw_str_ne(w, "referrer", r->referer);
    const char *v = r->protocol;
    if (r->http09)
        jw_str(w, "version", "0.9");
    else if (strncmp(v, "HTTP/", 5) == 0)
        jw_str(w, "version", v + 5);
    jw_str_ne(w, "user_agent", r->user_agent);
    jw_u64(w, "request_body_len", r->request_body_len);
    jw_u64(w, "response_body_len", r->response_body_len);
    if (r->has_response && (r->status || r->http09)) {
        jw_u64(w, "status_code", (uint64_t)r->status); /* 0 for HTTP/0.9, as Zeek logs it */
        jw_str_ne(w, "status_msg", r->status_msg);
    }
    if (r->content_type[0]) {
        /* the MIME type without parameters, like Zeek's file analysis reports it */
        char mt[NET_HTTP_CTYPE_MAX];
        size_t n = strcspn(r->content_type, "; ");
        memcpy(mt, r->content_type, n);
        mt[n] = '\0';
        jw_open(w, "resp_mime_types", '[');
        jw_elem(w, mt);
        jw_close(w, ']');
    }
}

/* ---- TLS ---- */

const char *
net_tls_version_name(uint16_t v, char *buf, size_t size)
{
    switch (v) {
    case 0: return "UNDETERMINED";
    case 0x0200: return "SSLv2";
    case 0x0300: return "SSLv3";
    case 0x0301: return "TLSv1";
    case 0x0302: return "TLS 1.1";
    case 0x0303: return "TLS 1.2";
    case 0x0304: return "TLS 1.3";
    case 0xfeff: return "DTLS 1.0";
    case 0xfefd: return "DTLS 1.2";
    case 0xfefc: return "DTLS 1.3";
    default: break;
    }
    if ((v & 0xff00) == 0x7f00) {
        if ((v & 0xff) < 16)
            return "TLS 1.3 draft-<16";
        snprintf(buf, size, "TLS 1.3 draft-%u", v & 0xff);
        return buf;
    }
    if (v == 0xfb1a)
        return "TLS 1.3 draft-23-fb";
    snprintf(buf, size, "0x%04x", v);
    return buf;
}

static const char *
zeek_tls_version(uint16_t v, char *buf, size_t size)
{
    switch (v) {
    case 0x0200: return "SSLv2";
    case 0x0300: return "SSLv3";
    case 0x0301: return "TLSv10";
    case 0x0302: return "TLSv11";
    case 0x0303: return "TLSv12";
    case 0x0304: return "TLSv13";
    case 0xfeff: return "DTLSv10";
    case 0xfefd: return "DTLSv12";
    case 0xfefc: return "DTLSv13";
    default: break;
    }
    if ((v & 0xff00) == 0x7f00) {
        snprintf(buf, size, "TLSv13-draft%u", v & 0xff);
        return buf;
    }
    snprintf(buf, size, "unknown-%u", v);
    return buf;
}

static const char *
zeek_curve(uint16_t c)
{
    switch (c) {
    case 23: return "secp256r1";
    case 24: return "secp384r1";
    case 25: return "secp521r1";
    case 29: return "x25519";
    case 30: return "x448";
    case 256: return "ffdhe2048";
    case 257: return "ffdhe3072";
    case 258: return "ffdhe4096";
    case 0x11ec: return "X25519MLKEM768";
    default: return NULL;
    }
}

static void
tls_eve(struct jw *w, const struct net_tls_rec *r)
{
    char vb[32];
    jw_open(w, "tls", '{');
    if (r->has_cert) {
        jw_str(w, "subject", r->cert.subject);
        jw_str(w, "issuerdn", r->cert.issuer);
        jw_str(w, "serial", r->cert.serial);
        jw_str(w, "fingerprint", r->cert.fingerprint);
    }
    if (r->resumed)
        jw_bool(w, "session_resumed", true);
    jw_str_ne(w, "sni", r->sni);
    /* Suricata reports the server's version, or the client's offer when no ServerHello */
    uint16_t v = r->has_server_hello ? r->version : r->client_tls_version;
    jw_str_c(w, "version", net_tls_version_name(v, vb, sizeof(vb)));
    if (r->has_cert) {
        jw_time(w, "notbefore", r->cert.not_before);
        jw_time(w, "notafter", r->cert.not_after);
    }
    if (r->n_san) {
        jw_open(w, "subjectaltname", '[');
        for (size_t i = 0; i < r->n_san; i++)
            jw_elem(w, r->san[i]);
        jw_close(w, ']');
    }
    if (r->ja3_hash[0]) {
        jw_open(w, "ja3", '{');
        jw_str(w, "hash", r->ja3_hash);
        jw_str(w, "string", r->ja3);
        jw_close(w, '}');
    }
    if (r->ja3s_hash[0]) {
        jw_open(w, "ja3s", '{');
        jw_str(w, "hash", r->ja3s_hash);
        jw_str(w, "string", r->ja3s);
        jw_close(w, '}');
    }
    jw_str_ne(w, "ja4", r->ja4);
    if (r->n_client_alpn) {
        jw_open(w, "client_alpns", '[');
        for (size_t i = 0; i < r->n_client_alpn; i++)
            jw_elem(w, r->client_alpn[i]);
        jw_close(w, ']');
    }
    if (r->server_alpn[0]) {
        jw_open(w, "server_alpns", '[');
        jw_elem(w, r->server_alpn);
        jw_close(w, ']');
    }
    if (r->truncated)
        jw_bool(w, "truncated", true);
    jw_close(w, '}');
}

/* Case-insensitive host name match; "*.example.com" stands for exactly one label. */
static bool
host_match(const char *pattern, const char *host)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(host, '.');
        if (!dot || dot == host)
            return false;
        return strcasecmp(pattern + 1, dot) == 0;
    }
    return strcasecmp(pattern, host) == 0;
}

/* Zeek's sni_matches_cert: the SNI against the subjectAltName names, else the subject CN. */
static bool
sni_matches_cert(const struct net_tls_rec *r)
{
    for (size_t i = 0; i < r->n_san; i++)
        if (host_match(r->san[i], r->sni))
            return true;
    if (r->n_san)
        return false;
    const char *cn = strstr(r->cert.subject, "CN=");
    if (!cn || (cn != r->cert.subject && cn[-1] != ' '))
        return false;
    char name[NET_TLS_DN_MAX];
    size_t n = strcspn(cn + 3, ",");
    memcpy(name, cn + 3, n);
    name[n] = '\0';
    return host_match(name, r->sni);
}

static void
tls_zeek(struct jw *w, const struct net_tls_rec *r)
{
    char vb[32], cb[NET_TLS_CIPHER_NAME_MAX];
    if (r->has_server_hello) {
        jw_str(w, "version", zeek_tls_version(r->version, vb, sizeof(vb)));
        jw_str_c(w, "cipher", net_tls_cipher_name(r->cipher, cb, sizeof(cb)));
    }
    const char *curve = zeek_curve(r->curve);
    if (curve)
        jw_str(w, "curve", curve);
    jw_str_ne(w, "server_name", r->sni);
    jw_bool(w, "resumed", r->resumed);
    jw_str_ne(w, "next_protocol", r->server_alpn);
    if (r->established) /* unknown when reported at ServerHelloDone: left out, not false */
        jw_bool(w, "established", true);
    if (r->n_chain) {
        jw_open(w, "cert_chain_fps", '[');
        for (size_t i = 0; i < r->n_chain; i++)
            jw_elem(w, r->chain_fp[i]);
        jw_close(w, ']');
    }
    if (r->has_cert) {
        jw_str(w, "subject", r->cert.subject);
        jw_str(w, "issuer", r->cert.issuer);
    }
    if (r->has_cert && r->sni[0])
        jw_bool(w, "sni_matches_cert", sni_matches_cert(r));
    jw_str_ne(w, "ja3", r->ja3_hash);
    jw_str_ne(w, "ja3s", r->ja3s_hash);
    jw_str_ne(w, "ja4", r->ja4);
}

/* ---- SSH ---- */

static void
ssh_side_eve(struct jw *w, const char *k, const struct net_ssh_side *s)
{
    if (!s->has_banner && !s->has_kexinit)
        return;
    jw_open(w, k, '{');
    if (s->has_banner) {
        jw_str(w, "proto_version", s->proto_version);
        jw_str(w, "software_version", s->software_version);
    }
    if (s->has_kexinit) {
        jw_open(w, "hassh", '{');
        jw_str(w, "hash", s->hassh);
        jw_str(w, "string", s->hassh_string);
        jw_close(w, '}');
    }
    jw_close(w, '}');
}

static void
ssh_eve(struct jw *w, const struct net_ssh_rec *r)
{
    jw_open(w, "ssh", '{');
    ssh_side_eve(w, "client", &r->client);
    ssh_side_eve(w, "server", &r->server);
    jw_close(w, '}');
}

static void
ssh_zeek(struct jw *w, const struct net_ssh_rec *r)
{
    const char *pv = r->server.has_banner ? r->server.proto_version : r->client.proto_version;
    if (pv[0])
        jw_u64(w, "version", pv[0] == '1' && strcmp(pv, "1.99") != 0 ? 1 : 2);
    jw_str_ne(w, "client", r->client.banner);
    jw_str_ne(w, "server", r->server.banner);
    jw_str_ne(w, "cipher_alg", r->cipher_alg);
    jw_str_ne(w, "mac_alg", r->mac_alg);
    jw_str_ne(w, "compression_alg", r->compression_alg);
    jw_str_ne(w, "kex_alg", r->kex_alg);
    jw_str_ne(w, "host_key_alg", r->host_key_alg);
    jw_str_ne(w, "hassh", r->client.hassh);
    jw_str_ne(w, "hasshServer", r->server.hassh);
}

/* ---- entry points ---- */

#define PF(p) __builtin_prefetch(p)

void
net_app_eve_prefetch(enum net_rec_type t, const void *body)
{
    if (!body)
        return;
    if (t == NET_REC_HTTP) {
        /* each text field's first bytes are on a line of their own: read one after another
         * they were a cache miss each, behind the escaping of the field before */
        const struct net_http_rec *r = body;
        PF(r);
        PF(r->method);
        PF(r->uri);
        PF(r->host);
        PF(r->user_agent);
        PF(r->referer);
        PF(r->content_type);
        PF(r->protocol);
        PF(r->status_string);
        PF(r->location);
        PF(r->xff);
        PF(&r->version2);
    } else if (t == NET_REC_TLS) {
        const struct net_tls_rec *r = body;
        PF(r);
        PF(r->server_alpn);
        PF(r->sni);
        PF(r->ja3);
        PF(r->ja3_hash);
        PF(r->ja3s);
        PF(r->ja4);
        PF(r->cert.subject);
        PF(r->cert.issuer);
        PF(r->cert.serial);
    }
}

int
net_app_eve(enum net_rec_type t, const void *body, struct bn_buf *out)
{
    struct jw w = {out, 0, false};
    if (!body)
        return BN_EINVAL;
    switch (t) {
    case NET_REC_DNS:
        if (((const struct net_dns_rec *)body)->unanswered)
            return BN_DECLINED; /* already written as a request when it was seen */
        if (((const struct net_dns_rec *)body)->link_local)
            return BN_DECLINED; /* Suricata parses DNS on port 53 only */
        dns_eve(&w, body);
        break;
    case NET_REC_HTTP:
        if (((const struct net_http_rec *)body)->zeek_empty)
            return BN_DECLINED; /* Zeek's empty entry after HTTP/0.9: no eve form */
        http_eve(&w, body);
        break;
    case NET_REC_TLS:
        if (((const struct net_tls_rec *)body)->resumed && !net_app_tls_session_resumption_on())
            return BN_DECLINED; /* eve tls session-resumption: no */
        tls_eve(&w, body);
        break;
    case NET_REC_SSH: ssh_eve(&w, body); break;
    default: return BN_EINVAL;
    }
    return w.rc;
}

int
net_app_zeek(enum net_rec_type t, const struct net_flow *f, uint64_t ts_ns, const void *body,
             struct bn_buf *out)
{
    static const char *const paths[NET_REC__COUNT] = {
        [NET_REC_DNS] = "dns",
        [NET_REC_HTTP] = "http",
        [NET_REC_TLS] = "ssl",
        [NET_REC_SSH] = "ssh",
    };
    if (!body || !f || (unsigned)t >= NET_REC__COUNT || !paths[t])
        return BN_EINVAL;
    if (t == NET_REC_DNS && !((const struct net_dns_rec *)body)->is_response &&
        !((const struct net_dns_rec *)body)->unanswered)
        return BN_DECLINED; /* Zeek logs a transaction once: with its response */
    if (t == NET_REC_HTTP && ((const struct net_http_rec *)body)->version2)
        return BN_DECLINED; /* Zeek's http.log is HTTP/1 only (no HTTP/2 analyzer by default) */
    if (t == NET_REC_HTTP && ((const struct net_http_rec *)body)->http09 &&
        !((const struct net_http_rec *)body)->uri[0])
        return BN_DECLINED; /* Zeek refuses an HTTP/0.9 request line without a URI */
    struct jw w = {out, 0, false};
    char a[64];
    jw_open(&w, NULL, '{');
    jw_str(&w, "_path", paths[t]);
    jw_ts(&w, "ts", ts_ns);
    jw_str(&w, "uid", f->community_id);
    jw_str(&w, "id.orig_h", net_addr_str(&f->cli, a, sizeof(a)));
    jw_u64(&w, "id.orig_p", f->cport);
    jw_str(&w, "id.resp_h", net_addr_str(&f->srv, a, sizeof(a)));
    jw_u64(&w, "id.resp_p", f->sport);
    switch (t) {
    case NET_REC_DNS: dns_zeek(&w, body); break;
    case NET_REC_HTTP: http_zeek(&w, body); break;
    case NET_REC_TLS: tls_zeek(&w, body); break;
    default: ssh_zeek(&w, body); break;
    }
    jw_close(&w, '}');
    return w.rc;
}
