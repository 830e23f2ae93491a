/*
 * app_tls.c - TLS handshake metadata: the record layer (records and handshake messages
 * reassembled across segment and record boundaries, each bounded), ClientHello (SNI, ALPN,
 * versions, ciphers, extensions -> JA3 and JA4), ServerHello (chosen version and cipher,
 * JA3S, ALPN, key share group), the server's Certificate (TLS <= 1.2: subject, issuer,
 * serial, SHA-1 fingerprint, validity, subjectAltName, chain SHA-256 fingerprints, decoded
 * by OpenSSL) and ServerKeyExchange's named curve. One struct net_tls_rec per flow, emitted
 * when the handshake is over (first application data) or when the flow ends.
 *
 * JA3/JA3S: https://github.com/salesforce/ja3 ; JA4: https://github.com/FoxIO-LLC/ja4
 * (GREASE values excluded from every list, as both specifications say).
 */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sensor/app_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

/* eve tls session-resumption (Suricata's default: on; off when its tls entry has no options) */
static atomic_bool no_resumed;

void
net_app_tls_session_resumption(bool on)
{
    atomic_store(&no_resumed, !on);
}

bool
net_app_tls_session_resumption_on(void)
{
    return !atomic_load_explicit(&no_resumed, memory_order_relaxed);
}

#define TLS_HDR      5
#define TLS_LIST_MAX 256 /* ciphers / extensions / groups / sigalgs kept for fingerprints */

enum {
    REC_CCS = 20,
    REC_ALERT = 21,
    REC_HANDSHAKE = 22,
    REC_APPDATA = 23,
};

enum {
    HS_CLIENT_HELLO = 1,
    HS_SERVER_HELLO = 2,
    HS_CERTIFICATE = 11,
    HS_SERVER_KEY_EXCHANGE = 12,
    HS_SERVER_HELLO_DONE = 14,
};

struct tls_dir {
    struct app_acc rec; /* bytes of an incomplete record */
    struct app_acc hs;  /* bytes of incomplete handshake messages */
    bool encrypted;     /* ChangeCipherSpec seen (TLS <= 1.2): handshake records opaque */
    bool appdata;
    bool dead; /* not TLS any more (or lost sync): ignore the rest */
    /* a record whose content nothing reads (body_unread) goes by count, not copied:
     * body_left bytes of it to come (0: none in progress) */
    uint8_t body_type;
    uint16_t body_len;
    uint32_t body_left;
};

/*
 * The record (13.5 KB) exists only while the handshake is parsed: allocated at the first
 * handshake message and freed once emitted, so a long TLS flow keeps ~100 bytes of state.
 * Handshake messages after the emission cannot change any record and are not parsed.
 */
struct tls_state {
    struct tls_dir d[2];
    struct net_tls_rec *rec; /* NULL before the first handshake message and once emitted */
    bool emitted;
    bool client_hello_seen; /* rec->has_client_hello, kept past the record (SSLv2 framing) */
    bool quic;
    bool dtls;
    bool hello_done; /* ServerHelloDone seen: the metadata is complete (TLS <= 1.2) */
    bool server_ccs_before_cert;
    uint8_t cli_sid[32];
    uint8_t cli_sid_len;
};

static bool
grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* A cursor over a bounded byte range. */
struct cur {
    const uint8_t *p;
    size_t n;
    bool bad;
};

static bool
cur_take(struct cur *c, size_t k, const uint8_t **out)
{
    if (c->bad || c->n < k) {
        c->bad = true;
        return false;
    }
    if (out)
        *out = c->p;
    c->p += k;
    c->n -= k;
    return true;
}

static unsigned
cur_u8(struct cur *c)
{
    const uint8_t *p;
    return cur_take(c, 1, &p) ? p[0] : 0;
}

static unsigned
cur_u16(struct cur *c)
{
    const uint8_t *p;
    return cur_take(c, 2, &p) ? app_be16(p) : 0;
}

/* A sub-cursor of len bytes (the vector that follows a length prefix). */
static struct cur
cur_sub(struct cur *c, size_t len)
{
    struct cur s = {NULL, 0, true};
    const uint8_t *p;
    if (cur_take(c, len, &p)) {
        s.p = p;
        s.n = len;
        s.bad = false;
    }
    return s;
}

/* Appends "%u" values joined by sep to a string with bound; sets *cut when it overflows. */
static void
join_u16(char *dst, size_t dsz, size_t *o, const uint16_t *v, size_t n, char sep, bool *cut)
{
    char sc = sep == '-' ? '-' : ',';
    for (size_t i = 0; i < n; i++) {
        if (*o + 7 <= dsz) {
            /* room for the longest (separator, 5 digits, NUL): written in place, two digits
             * at a time (through a temporary and a memcpy call this was 0.5 % of the
             * instructions on the bench mix) */
            char *q = dst + *o;
            unsigned x = v[i];
            if (i)
                *q++ = sc;
            if (x >= 10000) {
                *q++ = (char)('0' + x / 10000);
                x %= 10000;
                memcpy(q, bn_dec_pairs + 2 * (x / 100), 2);
                memcpy(q + 2, bn_dec_pairs + 2 * (x % 100), 2);
                q += 4;
            } else if (x >= 1000) {
                memcpy(q, bn_dec_pairs + 2 * (x / 100), 2);
                memcpy(q + 2, bn_dec_pairs + 2 * (x % 100), 2);
                q += 4;
            } else if (x >= 100) {
                *q++ = (char)('0' + x / 100);
                memcpy(q, bn_dec_pairs + 2 * (x % 100), 2);
                q += 2;
            } else if (x >= 10) {
                memcpy(q, bn_dec_pairs + 2 * x, 2);
                q += 2;
            } else {
                *q++ = (char)('0' + x);
            }
            *q = '\0';
            *o = (size_t)(q - dst);
            continue;
        }
        char tmp[24];
        size_t k = bn_u64_dec(tmp, v[i]);
        if (i)
            tmp[--k] = sep == '-' ? '-' : ',';
        size_t len = sizeof(tmp) - k;
        if (*o + len + 1 > dsz) {
            *cut = true;
            return;
        }
        memcpy(dst + *o, tmp + k, len);
        *o += len;
        dst[*o] = '\0';
    }
}

/* Writes x in decimal at dst (room for 10 digits); returns the length (no NUL). */
static size_t
put_dec(char *dst, unsigned x)
{
    char tmp[24];
    size_t k = bn_u64_dec(tmp, x);
    memcpy(dst, tmp + k, sizeof(tmp) - k);
    return sizeof(tmp) - k;
}

/* Copies at most max bytes of the string src to dst (no NUL); returns the length. */
static size_t
put_strn(char *dst, const char *src, size_t max)
{
    size_t n = strnlen(src, max);
    memcpy(dst, src, n);
    return n;
}

/*
 * Ascending, in place: JA4's lists are at most TLS_LIST_MAX short values, where qsort's
 * merge sort (a scratch allocation, a call per compare) cost more than the sorting.
 * Insertion by binary search, the larger values moved up with one memmove: a ClientHello's
 * cipher list is far from sorted, and shifting one value at a time was a quarter of
 * client_hello.
 */
static void
sort_u16(uint16_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint16_t x = v[i];
        if (v[i - 1] <= x)
            continue;
        size_t lo = 0, hi = i - 1; /* the first value above x is in [lo, hi]; v[hi] is one */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (v[mid] > x)
                hi = mid;
            else
                lo = mid + 1;
        }
        memmove(v + lo + 1, v + lo, (i - lo) * sizeof(*v));
        v[lo] = x;
    }
}

/* "abcd,0a0b,..." of n values into buf (4 hex digits each). */
static size_t
hex_list(char *buf, size_t o, const uint16_t *v, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        if (i)
            buf[o++] = ',';
        buf[o++] = hex[v[i] >> 12];
        buf[o++] = hex[(v[i] >> 8) & 15];
        buf[o++] = hex[(v[i] >> 4) & 15];
        buf[o++] = hex[v[i] & 15];
    }
    buf[o] = '\0';
    return o;
}

static const char *
ja4_version(uint16_t v)
{
    switch (v) {
    case 0x0304: return "13";
    case 0x0303: return "12";
    case 0x0302: return "11";
    case 0x0301: return "10";
    case 0x0300: return "s3";
    case 0x0200: return "s2";
    case 0xfeff: return "d1";
    case 0xfefd: return "d2";
    case 0xfefc: return "d3";
    default: return "00";
    }
}

static bool
alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * ClientHello fingerprints by their inputs. JA3 and JA4 are functions of a few fields of the
 * hello (versions, the cipher, extension, group, point format and signature algorithm lists,
 * SNI and ALPN presence, the first ALPN value's ends, QUIC/DTLS), which repeat: the same
 * client build sends the same lists (37 distinct JA3 strings in the bench mix's 21,850
 * ClientHellos). Each thread keeps the last APP_MEMO_N inputs (as a byte key) with the three
 * strings they gave, and a hello whose key is one of them (compared whole) takes its strings
 * instead of building, sorting and hashing the lists again (~3,500 instructions a hello).
 * Inputs whose key or JA3 string is long, and hellos whose JA3 string was cut (they count
 * a truncation), are not kept.
 */
#define CH_KEY_MAX 1024
#define CH_JA3_KEEP 512

struct ch_memo {
    struct app_memo_ix ix;
    struct {
        uint16_t ja3_len;
        char ja3_hash[NET_TLS_HASH_MAX];
        char ja4[NET_TLS_JA4_MAX];
        char ja3[CH_JA3_KEEP];
    } out[APP_MEMO_N];
    uint8_t key[APP_MEMO_N][CH_KEY_MAX];
};

/* Appends n bytes to a key of *kn bytes in k[CH_KEY_MAX]; false when it would not fit. */
static bool
ch_key_add(uint8_t *k, size_t *kn, const void *p, size_t n)
{
    if (n > CH_KEY_MAX - *kn)
        return false;
    memcpy(k + *kn, p, n);
    *kn += n;
    return true;
}

static void
client_hello(struct tls_state *st, const uint8_t *d, size_t n)
{
    struct net_tls_rec *r = st->rec;
    struct cur c = {d, n, false};
    uint16_t ciphers[TLS_LIST_MAX], exts[TLS_LIST_MAX], groups[TLS_LIST_MAX];
    uint16_t sigalgs[TLS_LIST_MAX];
    uint8_t pfs[TLS_LIST_MAX];
    size_t n_ciphers = 0, n_exts = 0, n_groups = 0, n_sigalgs = 0, n_pfs = 0;
    uint16_t maxver = 0, tls13 = 0;
    bool have_sni = false;
    uint8_t alpn0[256];
    size_t alpn0_len = 0;
    bool have_alpn = false;

    r->has_client_hello = 1;
    r->client_version = (uint16_t)cur_u16(&c);
    cur_take(&c, 32, NULL);
    size_t sid_len = cur_u8(&c);
    const uint8_t *sid;
    if (cur_take(&c, sid_len, &sid) && sid_len <= 32) {
        memcpy(st->cli_sid, sid, sid_len);
        st->cli_sid_len = (uint8_t)sid_len;
    }
    if (r->dtls) /* DTLS: the cookie of a HelloVerifyRequest round trip */
        cur_take(&c, cur_u8(&c), NULL);
    struct cur cs = cur_sub(&c, cur_u16(&c));
    while (cs.n >= 2) {
        uint16_t v = (uint16_t)cur_u16(&cs);
        if (grease(v))
            continue;
        if (n_ciphers < TLS_LIST_MAX)
            ciphers[n_ciphers++] = v;
        else
            app_dropped(1);
    }
    struct cur comp = cur_sub(&c, cur_u8(&c));
    (void)comp;
    if (c.bad) {
        app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
        return;
    }
    struct cur ex = {NULL, 0, true};
    if (c.n >= 2)
        ex = cur_sub(&c, cur_u16(&c));
    while (!ex.bad && ex.n >= 4) {
        uint16_t type = (uint16_t)cur_u16(&ex);
        struct cur e = cur_sub(&ex, cur_u16(&ex));
        if (ex.bad)
            break;
        if (grease(type))
            continue;
        if (n_exts < TLS_LIST_MAX)
            exts[n_exts++] = type;
        else
            app_dropped(1);
        switch (type) {
        case 0: { /* server_name */
            struct cur l = cur_sub(&e, cur_u16(&e));
            while (!l.bad && l.n >= 3) {
                unsigned nt = cur_u8(&l);
                struct cur nm = cur_sub(&l, cur_u16(&l));
                if (!l.bad && nt == 0 && !have_sni) {
                    app_copy(r->sni, sizeof(r->sni), nm.p, nm.n, &r->truncated);
                    have_sni = true;
                }
            }
            have_sni = true;
            break;
        }
        case 16: { /* ALPN */
            struct cur l = cur_sub(&e, cur_u16(&e));
            while (!l.bad && l.n >= 1) {
                struct cur p = cur_sub(&l, cur_u8(&l));
                if (l.bad)
                    break;
                if (!have_alpn) {
                    memcpy(alpn0, p.p, p.n);
                    alpn0_len = p.n;
                    have_alpn = true;
                }
                if (r->n_client_alpn < NET_TLS_ALPN_N)
                    app_copy(r->client_alpn[r->n_client_alpn++], NET_TLS_ALPN_MAX, p.p, p.n,
                             &r->truncated);
                else
                    app_dropped(1);
            }
            break;
        }
        case 10: { /* supported_groups */
            struct cur l = cur_sub(&e, cur_u16(&e));
            while (!l.bad && l.n >= 2) {
                uint16_t g = (uint16_t)cur_u16(&l);
                if (!grease(g) && n_groups < TLS_LIST_MAX)
                    groups[n_groups++] = g;
            }
            break;
        }
        case 11: { /* ec_point_formats */
            struct cur l = cur_sub(&e, cur_u8(&e));
            while (!l.bad && l.n >= 1 && n_pfs < TLS_LIST_MAX)
                pfs[n_pfs++] = (uint8_t)cur_u8(&l);
            break;
        }
        case 13: { /* signature_algorithms */
            struct cur l = cur_sub(&e, cur_u16(&e));
            while (!l.bad && l.n >= 2) {
                uint16_t a = (uint16_t)cur_u16(&l);
                if (!grease(a) && n_sigalgs < TLS_LIST_MAX)
                    sigalgs[n_sigalgs++] = a;
            }
            break;
        }
        case 43: { /* supported_versions */
            struct cur l = cur_sub(&e, cur_u8(&e));
            while (!l.bad && l.n >= 2) {
                uint16_t v = (uint16_t)cur_u16(&l);
                if (grease(v))
                    continue;
                if (v > maxver)
                    maxver = v; /* JA4: the numerically highest */
                if (!tls13 && (v == 0x0304 || (v & 0xff00) == 0x7f00 || v == 0xfb1a))
                    tls13 = v; /* Suricata's version: the first TLS 1.3 flavour offered */
            }
            break;
        }
        default: break;
        }
    }
    r->client_max_version = BN_MAX(maxver, r->client_version);
    /* 0x0304 in the legacy field is how drafts before 16 spoke TLS 1.3 (Suricata: "<16") */
    r->client_tls_version = tls13                         ? tls13
                            : r->client_version == 0x0304 ? 0x7f00
                                                          : r->client_version;

    /* the fingerprints' inputs as a key, looked up in the thread's memo (ch_memo) */
    uint8_t key[CH_KEY_MAX];
    size_t kn = 0;
    uint8_t hd[16] = {0};
    memcpy(hd, &r->client_version, 2);
    memcpy(hd + 2, &r->client_max_version, 2);
    hd[4] = (uint8_t)((r->quic != 0) | (r->dtls != 0) << 1 | have_sni << 2 | have_alpn << 3 |
                      (alpn0_len > 0) << 4);
    hd[5] = alpn0_len ? alpn0[0] : 0;
    hd[6] = alpn0_len ? alpn0[alpn0_len - 1] : 0;
    hd[7] = (uint8_t)n_pfs;
    memcpy(hd + 8, &(uint16_t){(uint16_t)n_ciphers}, 2);
    memcpy(hd + 10, &(uint16_t){(uint16_t)n_exts}, 2);
    memcpy(hd + 12, &(uint16_t){(uint16_t)n_groups}, 2);
    memcpy(hd + 14, &(uint16_t){(uint16_t)n_sigalgs}, 2);
    bool keyed = n_pfs <= 255 && ch_key_add(key, &kn, hd, sizeof(hd)) &&
                 ch_key_add(key, &kn, ciphers, n_ciphers * 2) &&
                 ch_key_add(key, &kn, exts, n_exts * 2) &&
                 ch_key_add(key, &kn, groups, n_groups * 2) &&
                 ch_key_add(key, &kn, sigalgs, n_sigalgs * 2) && ch_key_add(key, &kn, pfs, n_pfs);
    struct ch_memo *m = keyed ? app_thread_scratch(APP_TS_CH, sizeof(struct ch_memo)) : NULL;
    uint64_t tag = m ? app_memo_tag(key, kn) : 0;
    int hit = m ? app_memo_find(&m->ix, (const uint8_t *)m->key, CH_KEY_MAX, key, kn, tag) : -1;
    if (hit >= 0) {
        memcpy(r->ja3, m->out[hit].ja3, m->out[hit].ja3_len);
        r->ja3[m->out[hit].ja3_len] = '\0';
        memcpy(r->ja3_hash, m->out[hit].ja3_hash, sizeof(r->ja3_hash));
        memcpy(r->ja4, m->out[hit].ja4, sizeof(r->ja4));
        return;
    }

    /* JA3: version,ciphers,extensions,groups,point formats */
    size_t o = 0;
    bool cut = false;
    /* the numbers are written digit by digit: snprintf per element was 0.5% of a run */
    o = put_dec(r->ja3, r->client_version);
    r->ja3[o++] = ',';
    r->ja3[o] = '\0';
    join_u16(r->ja3, sizeof(r->ja3), &o, ciphers, n_ciphers, '-', &cut);
    if (o + 2 < sizeof(r->ja3))
        r->ja3[o++] = ',', r->ja3[o] = '\0';
    join_u16(r->ja3, sizeof(r->ja3), &o, exts, n_exts, '-', &cut);
    if (o + 2 < sizeof(r->ja3))
        r->ja3[o++] = ',', r->ja3[o] = '\0';
    join_u16(r->ja3, sizeof(r->ja3), &o, groups, n_groups, '-', &cut);
    if (o + 2 < sizeof(r->ja3))
        r->ja3[o++] = ',', r->ja3[o] = '\0';
    if (!cut) {
        uint16_t pf16[TLS_LIST_MAX];
        for (size_t i = 0; i < n_pfs; i++)
            pf16[i] = pfs[i];
        join_u16(r->ja3, sizeof(r->ja3), &o, pf16, n_pfs, '-', &cut);
    }
    if (cut) {
        /* a cut string would give a wrong hash: report neither */
        r->ja3[0] = r->ja3_hash[0] = '\0';
        r->truncated = 1;
        net_app_stats()->truncated_fields++;
    } else {
        app_md5_hex(r->ja3, o, r->ja3_hash);
    }

    /* JA4_a */
    char a[16], alpn[3] = "00";
    if (have_alpn && alpn0_len > 0) {
        if (alnum(alpn0[0]) && alnum(alpn0[alpn0_len - 1])) {
            alpn[0] = (char)alpn0[0];
            alpn[1] = (char)alpn0[alpn0_len - 1];
        } else {
            static const char hexd[] = "0123456789abcdef";
            alpn[0] = hexd[alpn0[0] >> 4];
            alpn[1] = hexd[alpn0[alpn0_len - 1] & 15];
        }
    }
    /* "%c%.2s%c%02u%02u%.2s", written out */
    size_t al = 0;
    unsigned nc = (unsigned)BN_MIN(n_ciphers, 99u), ne = (unsigned)BN_MIN(n_exts, 99u);
    a[al++] = r->quic ? 'q' : r->dtls ? 'd' : 't';
    al += put_strn(a + al, ja4_version(r->client_max_version), 2);
    a[al++] = have_sni ? 'd' : 'i';
    a[al++] = (char)('0' + nc / 10);
    a[al++] = (char)('0' + nc % 10);
    a[al++] = (char)('0' + ne / 10);
    a[al++] = (char)('0' + ne % 10);
    al += put_strn(a + al, alpn, 2);
    a[al] = '\0';
    /* JA4_b: sorted ciphers */
    char b[13] = "000000000000", cc[13] = "000000000000";
    static _Thread_local char list[TLS_LIST_MAX * 5 * 2 + 8];
    if (n_ciphers) {
        sort_u16(ciphers, n_ciphers);
        size_t l = hex_list(list, 0, ciphers, n_ciphers);
        app_sha256_12(list, l, b);
    }
    /* JA4_c: sorted extensions without SNI and ALPN, "_", signature algorithms in order */
    size_t n_e = 0;
    for (size_t i = 0; i < n_exts; i++)
        if (exts[i] != 0x0000 && exts[i] != 0x0010)
            exts[n_e++] = exts[i];
    if (n_e) {
        sort_u16(exts, n_e);
        size_t l = hex_list(list, 0, exts, n_e);
        /* Suricata (and FoxIO's reference code) keep the '_' even without algorithms */
        list[l++] = '_';
        l = hex_list(list, l, sigalgs, n_sigalgs);
        app_sha256_12(list, l, cc);
    }
    /* "%.10s_%.12s_%.12s", written out */
    _Static_assert(NET_TLS_JA4_MAX >= 10 + 1 + 12 + 1 + 12 + 1, "JA4 buffer too small");
    size_t jl = put_strn(r->ja4, a, 10);
    r->ja4[jl++] = '_';
    jl += put_strn(r->ja4 + jl, b, 12);
    r->ja4[jl++] = '_';
    jl += put_strn(r->ja4 + jl, cc, 12);
    r->ja4[jl] = '\0';
    if (m && !cut && o < CH_JA3_KEEP && r->ja3_hash[0] && b[0] && cc[0]) {
        unsigned i = app_memo_put(&m->ix, (uint8_t *)m->key, CH_KEY_MAX, key, kn, tag);
        m->out[i].ja3_len = (uint16_t)o;
        memcpy(m->out[i].ja3, r->ja3, o);
        memcpy(m->out[i].ja3_hash, r->ja3_hash, sizeof(r->ja3_hash));
        memcpy(m->out[i].ja4, r->ja4, sizeof(r->ja4));
    }
}

static void
server_hello(struct tls_state *st, const uint8_t *d, size_t n)
{
    struct net_tls_rec *r = st->rec;
    struct cur c = {d, n, false};
    uint16_t exts[TLS_LIST_MAX];
    size_t n_exts = 0;
    r->has_server_hello = 1;
    uint16_t legacy = (uint16_t)cur_u16(&c);
    r->version = legacy == 0x0304 ? 0x7f00 : legacy; /* see client_hello */
    cur_take(&c, 32, NULL);
    size_t sid_len = cur_u8(&c);
    const uint8_t *sid = NULL;
    cur_take(&c, sid_len, &sid);
    r->cipher = (uint16_t)cur_u16(&c);
    cur_u8(&c);
    if (c.bad) {
        app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
        return;
    }
    if (sid && sid_len && sid_len == st->cli_sid_len && !memcmp(sid, st->cli_sid, sid_len))
        r->resumed = 1; /* cleared again if a Certificate follows */
    struct cur ex = {NULL, 0, true};
    if (c.n >= 2)
        ex = cur_sub(&c, cur_u16(&c));
    while (!ex.bad && ex.n >= 4) {
        uint16_t type = (uint16_t)cur_u16(&ex);
        struct cur e = cur_sub(&ex, cur_u16(&ex));
        if (ex.bad)
            break;
        if (!grease(type) && n_exts < TLS_LIST_MAX)
            exts[n_exts++] = type;
        switch (type) {
        case 43:
            if (e.n >= 2)
                r->version = (uint16_t)cur_u16(&e);
            break;
        case 16: {
            struct cur l = cur_sub(&e, cur_u16(&e));
            struct cur p = cur_sub(&l, cur_u8(&l));
            if (!l.bad)
                app_copy(r->server_alpn, sizeof(r->server_alpn), p.p, p.n, &r->truncated);
            break;
        }
        case 51:
            if (e.n >= 2)
                r->curve = (uint16_t)cur_u16(&e);
            break;
        case 41: /* pre_shared_key accepted: TLS 1.3 resumption */ r->resumed = 1; break;
        default: break;
        }
    }
    size_t o = put_dec(r->ja3s, legacy);
    r->ja3s[o++] = ',';
    o += put_dec(r->ja3s + o, r->cipher);
    r->ja3s[o++] = ',';
    r->ja3s[o] = '\0';
    bool cut = false;
    join_u16(r->ja3s, sizeof(r->ja3s), &o, exts, n_exts, '-', &cut);
    if (cut) {
        r->ja3s[0] = r->ja3s_hash[0] = '\0';
        r->truncated = 1;
        net_app_stats()->truncated_fields++;
    } else {
        app_md5_hex(r->ja3s, o, r->ja3s_hash);
    }
}

/*
 * Formats an X509_NAME the way Suricata (x509-parser) prints it: "C=US, O=Org, CN=name",
 * short attribute names, emailAddress as "Email", unknown attributes by OID.
 */
static void
dn_text(const X509_NAME *nm, char *dst, size_t dsz, uint8_t *trunc)
{
    char tmp[NET_TLS_DN_MAX * 2];
    size_t o = 0;
    bool cut = false;
    int n = X509_NAME_entry_count(nm);
    for (int i = 0; i < n && !cut; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, i);
        const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
        int nid = OBJ_obj2nid(obj);
        char key[80];
        const char *k = NULL;
        if (nid == NID_pkcs9_emailAddress)
            k = "Email";
        else if (nid != NID_undef)
            k = OBJ_nid2sn(nid);
        if (!k) {
            OBJ_obj2txt(key, sizeof(key), obj, 1);
            k = key;
        }
        unsigned char *val = NULL;
        int vl = ASN1_STRING_to_UTF8(&val, X509_NAME_ENTRY_get_data(e));
        int w = snprintf(tmp + o, sizeof(tmp) - o, "%s%s=%.*s", i ? ", " : "", k, vl > 0 ? vl : 0,
                         vl > 0 ? (const char *)val : "");
        OPENSSL_free(val);
        if (w < 0 || (size_t)w >= sizeof(tmp) - o) {
            cut = true;
            o = sizeof(tmp) - 1;
        } else {
            o += (size_t)w;
        }
    }
    app_copy(dst, dsz, tmp, o, trunc);
    if (cut && !*trunc) {
        *trunc = 1;
        net_app_stats()->truncated_fields++;
    }
}

static int64_t
asn1_secs(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

static bool
leaf_cert_decode(struct net_tls_rec *r, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!x) {
        app_err(NET_APP_TLS, NET_APP_ERR_CERT);
        return false;
    }
    struct net_tls_cert *c = &r->cert;
    r->has_cert = 1;
    dn_text(X509_get_subject_name(x), c->subject, sizeof(c->subject), &r->truncated);
    dn_text(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer), &r->truncated);
    /* the INTEGER's content octets as encoded (with the sign byte), like Suricata */
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    unsigned char *enc = NULL;
    int el = sn ? i2d_ASN1_INTEGER(sn, &enc) : 0;
    if (el > 2 && enc) {
        size_t hl = 2;
        if (enc[1] & 0x80)
            hl += enc[1] & 0x7f;
        if ((size_t)el > hl)
            app_hex(c->serial, sizeof(c->serial), enc + hl, (size_t)el - hl, ':', true);
    }
    OPENSSL_free(enc);
    if (app_digest(APP_MD_SHA1, der, len, md, &mdlen) == 0)
        app_hex(c->fingerprint, sizeof(c->fingerprint), md, mdlen, ':', false);
    c->not_before = asn1_secs(X509_get0_notBefore(x));
    c->not_after = asn1_secs(X509_get0_notAfter(x));
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        if (r->n_san >= NET_TLS_SAN_N) {
            app_dropped(1);
            continue;
        }
        const ASN1_IA5STRING *s = g->d.dNSName;
        app_copy(r->san[r->n_san++], NET_TLS_SNI_MAX, ASN1_STRING_get0_data(s),
                 (size_t)ASN1_STRING_length(s), &r->truncated);
    }
    GENERAL_NAMES_free(gens);
    X509_free(x);
    return true;
}


/*
 * Leaf certificates come back again and again (every connection to a server sends the same
 * chain), and decoding one with OpenSSL 3 (d2i_X509 decodes the public key through its
 * provider lookups) was a third of the sensor's CPU. A small cache per thread, keyed by the
 * DER's SHA-1 and length, keeps the logged fields; a hit replays the counters the decode
 * added (truncations, dropped names), so statistics do not depend on the cache. It is fully
 * associative with least-recently-used replacement (the keys packed apart from the ~9 KB
 * entries, so a lookup reads 2 KB): the direct-mapped version it replaces thrashed on
 * colliding certificates (25 distinct leaf certificates in the bench mix missed 1 in 9).
 */
#define TLS_CERT_CACHE 64

struct cert_cache_key {
    uint8_t sha1[20];
    uint32_t len;
    uint64_t used; /* last use (a per-thread counter); 0 = empty */
};

struct cert_cache_entry {
    struct net_tls_cert cert;
    uint8_t truncated;
    uint8_t n_san;
    char san[NET_TLS_SAN_N][NET_TLS_SNI_MAX];
    uint64_t trunc_fields;
    uint64_t dropped;
};

static __thread struct cert_cache_key cert_keys[TLS_CERT_CACHE];
static __thread struct cert_cache_entry cert_cache[TLS_CERT_CACHE];
static __thread uint64_t cert_clock;

/*
 * The digests of the certificates seen last: a server sends the same chain to every client,
 * and hashing each certificate twice per handshake (SHA-1 for the cache below and
 * tls.fingerprint's lookup, SHA-256 for Zeek's cert_chain_fps) was most of the TLS parser's
 * digest time. Keyed by length and a tag of the DER's bytes (its end is the signature),
 * confirmed by comparing the whole DER kept in the entry: a hit is the digest of exactly
 * these bytes. Fully associative, least recently used replaced; longer DERs are hashed
 * each time.
 */
#define TLS_DER_CACHE 64
#define TLS_DER_MAX   2048

struct der_key {
    uint64_t tag;
    uint32_t len;
    uint64_t used; /* last use (a per-thread counter); 0 = empty */
};

struct der_entry {
    uint8_t sha1[20];
    uint8_t sha256[32];
    uint8_t der[TLS_DER_MAX];
};

static __thread struct der_key der_keys[TLS_DER_CACHE];
static __thread struct der_entry der_cache[TLS_DER_CACHE];
static __thread uint64_t der_clock;

/* The SHA-1 and SHA-256 of der, from the cache or computed into it; NULL if not cached. */
static const struct der_entry *
der_digests(const uint8_t *der, size_t len)
{
    if (len < 16 || len > TLS_DER_MAX)
        return NULL;
    uint64_t a, b;
    memcpy(&a, der + len - 8, 8);
    memcpy(&b, der + len / 2, 8);
    uint64_t tag = (a ^ (b * 0x9e3779b97f4a7c15ull)) | 1;
    size_t slot = 0;
    uint64_t oldest = UINT64_MAX;
    for (size_t i = 0; i < TLS_DER_CACHE; i++) {
        struct der_key *k = &der_keys[i];
        if (k->used && k->tag == tag && k->len == len && !memcmp(der_cache[i].der, der, len)) {
            k->used = ++der_clock;
            return &der_cache[i];
        }
        if (k->used < oldest) {
            oldest = k->used;
            slot = i;
        }
    }
    uint8_t s1[EVP_MAX_MD_SIZE], s256[EVP_MAX_MD_SIZE];
    unsigned l1 = 0, l256 = 0;
    if (app_digest(APP_MD_SHA1, der, len, s1, &l1) != 0 || l1 != 20 ||
        app_digest(APP_MD_SHA256, der, len, s256, &l256) != 0 || l256 != 32)
        return NULL;
    struct der_entry *e = &der_cache[slot];
    memcpy(e->sha1, s1, 20);
    memcpy(e->sha256, s256, 32);
    memcpy(e->der, der, len);
    der_keys[slot] = (struct der_key){tag, (uint32_t)len, ++der_clock};
    return e;
}

/* de: der's cached digests, or NULL (computed here). */
static void
leaf_cert(struct net_tls_rec *r, const uint8_t *der, size_t len, const struct der_entry *de)
{
    uint8_t sha1[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (de) {
        memcpy(sha1, de->sha1, 20);
    } else if (len > UINT32_MAX || app_digest(APP_MD_SHA1, der, len, sha1, &mdlen) != 0 ||
               mdlen != 20) {
        leaf_cert_decode(r, der, len);
        return;
    }
    size_t slot = 0;
    uint64_t oldest = UINT64_MAX;
    struct cert_cache_entry *e = NULL;
    for (size_t i = 0; i < TLS_CERT_CACHE; i++) {
        struct cert_cache_key *k = &cert_keys[i];
        if (k->used && k->len == len && memcmp(k->sha1, sha1, 20) == 0) {
            e = &cert_cache[i];
            slot = i;
            break;
        }
        if (k->used < oldest) {
            oldest = k->used;
            slot = i;
        }
    }
    struct net_app_stats *stats = net_app_stats();
    if (e && r->n_san == 0) {
        cert_keys[slot].used = ++cert_clock;
        r->has_cert = 1;
        r->cert = e->cert;
        if (e->truncated)
            r->truncated = 1;
        r->n_san = e->n_san;
        memcpy(r->san, e->san, (size_t)e->n_san * NET_TLS_SNI_MAX);
        stats->truncated_fields += e->trunc_fields;
        stats->dropped_items += e->dropped;
        return;
    }
    uint64_t tf0 = stats->truncated_fields, dr0 = stats->dropped_items;
    uint8_t tr0 = r->truncated, san0 = r->n_san;
    r->truncated = 0;
    bool ok = leaf_cert_decode(r, der, len);
    uint8_t tr = r->truncated;
    r->truncated = tr0 | tr;
    if (!ok || san0 != 0)
        return; /* failures are not cached; nor a record that already had names */
    e = &cert_cache[slot]; /* the hit's own slot, or the least recently used one */
    cert_keys[slot].used = ++cert_clock;
    cert_keys[slot].len = (uint32_t)len;
    memcpy(cert_keys[slot].sha1, sha1, 20);
    e->cert = r->cert;
    e->truncated = tr;
    e->n_san = r->n_san;
    memcpy(e->san, r->san, (size_t)r->n_san * NET_TLS_SNI_MAX);
    e->trunc_fields = stats->truncated_fields - tf0;
    e->dropped = stats->dropped_items - dr0;
}

static void
certificate(struct tls_state *st, const uint8_t *d, size_t n)
{
    struct net_tls_rec *r = st->rec;
    struct cur c = {d, n, false};
    const uint8_t *p;
    if (r->version == 0x0304 || (r->version & 0xff00) == 0x7f00) {
        /* TLS 1.3 (plaintext only in odd captures): a context byte precedes the list */
        size_t ctx = cur_u8(&c);
        cur_take(&c, ctx, NULL);
    }
    if (!cur_take(&c, 3, &p))
        goto bad;
    struct cur l = cur_sub(&c, app_be24(p));
    if (l.bad)
        goto bad;
    bool first = !r->has_cert;
    while (l.n >= 3) {
        cur_take(&l, 3, &p);
        size_t clen = app_be24(p);
        const uint8_t *der;
        if (!cur_take(&l, clen, &der))
            goto bad;
        const struct der_entry *de =
            first || r->n_chain < NET_TLS_CERTS_MAX ? der_digests(der, clen) : NULL;
        if (first) {
            leaf_cert(r, der, clen, de);
            first = false;
        }
        if (r->n_chain < NET_TLS_CERTS_MAX) {
            uint8_t md[EVP_MAX_MD_SIZE];
            unsigned mdlen = 0;
            if (de)
                app_hex(r->chain_fp[r->n_chain++], NET_TLS_SHA256_MAX, de->sha256, 32, 0, false);
            else if (app_digest(APP_MD_SHA256, der, clen, md, &mdlen) == 0)
                app_hex(r->chain_fp[r->n_chain++], NET_TLS_SHA256_MAX, md, mdlen, 0, false);
        } else {
            app_dropped(1);
        }
        if (r->version == 0x0304 || (r->version & 0xff00) == 0x7f00) {
            struct cur e = cur_sub(&l, cur_u16(&l)); /* per-certificate extensions */
            (void)e;
        }
    }
    if (!st->server_ccs_before_cert)
        r->resumed = 0;
    return;
bad:
    app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
}

/* The record being built, allocated on first use; NULL once emitted (or out of memory). */
static struct net_tls_rec *
tls_rec(struct tls_state *st)
{
    if (st->rec || st->emitted)
        return st->rec;
    /*
     * Only the numbers are zeroed. The text fields are read as strings (eve, Zeek, the IoC
     * matcher), so each is emptied; the ALPN names, the chain's fingerprints and the
     * subjectAltName names are read up to their counts only, and each is written whole
     * when it is added. Zeroing the 5 KB of text (the 8 KB of names were not) was 0.5% of a
     * --no-ndr run on the bench mix.
     */
    struct net_tls_rec *r =
        app_rec_alloc_head(APP_RC_TLS, sizeof(*st->rec), offsetof(struct net_tls_rec, client_alpn));
    st->rec = r;
    if (!r) {
        app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
        return NULL;
    }
    r->server_alpn[0] = r->sni[0] = r->ja3[0] = r->ja3_hash[0] = r->ja3s[0] = '\0';
    r->ja3s_hash[0] = r->ja4[0] = '\0';
    r->n_chain = 0;
    r->cert.subject[0] = r->cert.issuer[0] = r->cert.serial[0] = r->cert.fingerprint[0] = '\0';
    r->cert.not_before = r->cert.not_after = 0;
    r->n_san = 0;
    /* a field added to the record or its certificate must be cleared above too */
    _Static_assert(offsetof(struct net_tls_rec, chain_fp) ==
                           offsetof(struct net_tls_rec, client_alpn) +
                               NET_TLS_ALPN_N * NET_TLS_ALPN_MAX + NET_TLS_ALPN_MAX +
                               NET_TLS_SNI_MAX + NET_TLS_JA3_STR_MAX + NET_TLS_HASH_MAX +
                               NET_TLS_JA3S_STR_MAX + NET_TLS_HASH_MAX + NET_TLS_JA4_MAX + 1 &&
                       sizeof(struct net_tls_cert) == 2 * NET_TLS_DN_MAX + NET_TLS_SERIAL_MAX +
                                                          NET_TLS_FP_MAX + 2 * sizeof(int64_t) &&
                       offsetof(struct net_tls_rec, san) == offsetof(struct net_tls_rec, cert) +
                                                                sizeof(struct net_tls_cert) + 1,
                   "net_tls_rec's fields changed: update tls_rec");
    st->rec->quic = st->quic;
    st->rec->dtls = st->dtls;
    return st->rec;
}

static void
handshake(struct tls_state *st, enum net_dir dir, unsigned type, const uint8_t *d, size_t n)
{
    switch (type) {
    case HS_CLIENT_HELLO:
    case HS_SERVER_HELLO:
    case HS_CERTIFICATE:
    case HS_SERVER_KEY_EXCHANGE:
        if (!tls_rec(st))
            return;
        break;
    default: break;
    }
    switch (type) {
    case HS_CLIENT_HELLO:
        if (dir == NET_TOSERVER && !st->rec->has_client_hello) {
            client_hello(st, d, n);
            st->client_hello_seen = true;
        }
        break;
    case HS_SERVER_HELLO:
        if (dir == NET_TOCLIENT)
            server_hello(st, d, n);
        break;
    case HS_CERTIFICATE:
        if (dir == NET_TOCLIENT && !st->rec->has_cert)
            certificate(st, d, n);
        break;
    case HS_SERVER_HELLO_DONE:
        if (dir == NET_TOCLIENT)
            st->hello_done = true;
        break;
    case HS_SERVER_KEY_EXCHANGE:
        /* ECDHE: curve_type named_curve (3), then the group */
        if (dir == NET_TOCLIENT && !st->rec->curve && n >= 3 && d[0] == 3) {
            char cb[NET_TLS_CIPHER_NAME_MAX];
            if (strstr(net_tls_cipher_name(st->rec->cipher, cb, sizeof(cb)), "ECDH"))
                st->rec->curve = app_be16(d + 1);
        }
        break;
    default: break;
    }
}

static void
tls_finish(struct tls_state *st, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    if (st->emitted || !st->rec || !(st->rec->has_client_hello || st->rec->has_server_hello))
        return;
    st->emitted = true;
    app_emit(sink, NET_REC_TLS, ts_ns, f, st->rec);
    app_rec_free(APP_RC_TLS, st->rec); /* a record body lives only during the emit */
    st->rec = NULL;
}

static void hs_stream(struct tls_state *st, enum net_dir dir, const uint8_t *d, size_t n);

static void
record(struct tls_state *st, struct net_flow *f, enum net_dir dir, unsigned type, const uint8_t *d,
       size_t n, uint64_t ts_ns, struct net_sink *sink)
{
    struct tls_dir *td = &st->d[dir];
    switch (type) {
    case REC_CCS:
        td->encrypted = true;
        if (dir == NET_TOCLIENT && !(st->rec && st->rec->has_cert))
            st->server_ccs_before_cert = true;
        return;
    case REC_ALERT: return;
    case REC_APPDATA:
        td->appdata = true;
        /* both sides switched to protected records: the handshake completed (Zeek) */
        if ((st->d[0].encrypted || st->d[0].appdata) && (st->d[1].encrypted || st->d[1].appdata))
            if (st->rec)
                st->rec->established = 1;
        /* the handshake is over (or encrypted from here, TLS 1.3): report it */
        if ((st->rec && st->rec->has_server_hello) || dir == NET_TOSERVER)
            tls_finish(st, f, ts_ns, sink);
        return;
    case REC_HANDSHAKE: break;
    default:
        app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
        td->dead = true;
        return;
    }
    if (td->encrypted)
        return; /* Finished and later handshake messages are encrypted */
    hs_stream(st, dir, d, n);
    /* like Suricata, report once the server's first flight is complete */
    if (st->hello_done)
        tls_finish(st, f, ts_ns, sink);
}

/*
 * Is a record of this type skipped by record() whatever it holds? Everything but a handshake
 * record before the direction's ChangeCipherSpec (record() decides by type, and
 * td->encrypted cannot change before this record ends: records are handled in order).
 */
static bool
body_unread(const struct tls_dir *td, unsigned type)
{
    return type != REC_HANDSHAKE || td->encrypted;
}

/* Takes up to n bytes of the unread record in progress; at its end the record is handled as
 * if it had come whole (its content is not read). Returns the bytes taken. */
static size_t
body_take(struct tls_state *st, struct net_flow *f, enum net_dir dir, size_t n, uint64_t ts_ns,
          struct net_sink *sink)
{
    struct tls_dir *td = &st->d[dir];
    size_t k = BN_MIN(n, (size_t)td->body_left);

    td->body_left -= (uint32_t)k;
    if (!td->body_left)
        record(st, f, dir, td->body_type, NULL, td->body_len, ts_ns, sink);
    return k;
}

/* An unread record of type with len body bytes starts; have of them are here. */
static void
body_start(struct tls_dir *td, unsigned type, size_t len, size_t have)
{
    td->body_type = (uint8_t)type;
    td->body_len = (uint16_t)len;
    td->body_left = (uint32_t)(len - have);
}

/* Handshake bytes in order (record payloads, or QUIC CRYPTO frames): complete messages. */
static void
hs_stream(struct tls_state *st, enum net_dir dir, const uint8_t *d, size_t n)
{
    struct tls_dir *td = &st->d[dir];
    if (td->dead)
        return;
    const uint8_t *p = d;
    size_t left = n;
    if (td->hs.len) {
        if (app_acc_add(&td->hs, d, n, NET_TLS_HS_MAX) != 0) {
            app_err(NET_APP_TLS, NET_APP_ERR_LIMIT);
            td->dead = true;
            return;
        }
        p = td->hs.p;
        left = td->hs.len;
    }
    size_t used = 0;
    while (left - used >= 4) {
        size_t mlen = app_be24(p + used + 1);
        if (mlen > NET_TLS_HS_MAX) {
            app_err(NET_APP_TLS, NET_APP_ERR_LIMIT);
            td->dead = true;
            return;
        }
        if (left - used < 4 + mlen)
            break;
        handshake(st, dir, p[used], p + used + 4, mlen);
        used += 4 + mlen;
    }
    if (td->hs.len) {
        app_acc_consume(&td->hs, used);
    } else if (used < left) {
        if (left - used >= 4) /* the message's length is known */
            app_acc_reserve(&td->hs, 4 + app_be24(p + used + 1), NET_TLS_HS_MAX);
        if (app_acc_add(&td->hs, p + used, left - used, NET_TLS_HS_MAX) != 0) {
            app_err(NET_APP_TLS, NET_APP_ERR_LIMIT);
            td->dead = true;
        }
    }
}

/*
 * An SSLv2-framed ClientHello (old clients open that way and then speak TLS records):
 * 2-byte length with the high bit set, msg type 1, version. Returns the bytes it used, 0
 * when more are needed, -1 when p is not one.
 */
static long
sslv2_hello(struct tls_state *st, const uint8_t *p, size_t n)
{
    if (n < 2)
        return 0;
    size_t len = ((size_t)(p[0] & 0x7f) << 8) | p[1];
    if (len < 9)
        return -1;
    if (n < 3)
        return 0;
    if (p[2] != 1)
        return -1;
    if (n < 2 + len)
        return 0;
    st->client_hello_seen = true;
    struct net_tls_rec *r = tls_rec(st);
    if (r) {
        r->has_client_hello = 1;
        uint16_t v = app_be16(p + 3);
        r->client_version = r->client_tls_version = r->client_max_version = v;
    }
    return (long)(2 + len);
}

static bool
sslv2_start(const struct tls_state *st, enum net_dir dir, const uint8_t *p)
{
    return dir == NET_TOSERVER && !st->client_hello_seen && (p[0] & 0x80);
}

/* ---- parser callbacks ---- */

static bool
record_header_ok(const uint8_t *h)
{
    return h[0] >= REC_CCS && h[0] <= 24 && (h[1] == 3 || (h[1] == 0xfe)) &&
           app_be16(h + 3) <= NET_TLS_RECORD_MAX;
}

int
app_tls_probe(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    if (n < 1)
        return -1;
    if (dir == NET_TOSERVER && (d[0] & 0x80)) {
        /* SSLv2-framed ClientHello offering SSL 3.0 or a TLS version */
        if (n < 5)
            return -1;
        return d[2] == 1 && d[3] == 3 && d[4] <= 4 ? 1 : 0;
    }
    if (d[0] != REC_HANDSHAKE)
        return 0;
    if (n < 6)
        return -1;
    if (!record_header_ok(d) || d[2] > 4)
        return 0;
    /* a ClientHello to the server, a ServerHello to the client */
    return d[5] == (dir == NET_TOSERVER ? HS_CLIENT_HELLO : HS_SERVER_HELLO) ? 1 : 0;
}

static void *
tls_open(struct net_flow *f)
{
    struct tls_state *st = net_slab_state_new(sizeof(*st));
    if (!st) {
        app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
        return NULL;
    }
    (void)f;
    return st;
}

static void
tls_data_in(struct tls_state *st, struct net_flow *f, enum net_dir dir, const uint8_t *d,
            size_t n, uint64_t ts_ns, struct net_sink *sink)
{
    struct tls_dir *td = &st->d[dir];
again:
    if (td->dead)
        return;
    if (td->body_left) {
        size_t k = body_take(st, f, dir, n, ts_ns, sink);
        d += k;
        n -= k;
        if (td->dead)
            return;
    }
    /* whole records straight from the chunk while nothing is pending */
    while (td->rec.len == 0 && n >= TLS_HDR) {
        if (sslv2_start(st, dir, d)) {
            long used = sslv2_hello(st, d, n);
            if (used == 0)
                break;
            if (used > 0) {
                d += used;
                n -= (size_t)used;
                continue;
            }
        }
        if (!record_header_ok(d)) {
            app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
            td->dead = true;
            tls_finish(st, f, ts_ns, sink);
            return;
        }
        size_t rl = app_be16(d + 3);
        if (n < TLS_HDR + rl) {
            if (body_unread(td, d[0])) { /* the rest of it goes by count */
                body_start(td, d[0], rl, n - TLS_HDR);
                return;
            }
            break;
        }
        record(st, f, dir, d[0], d + TLS_HDR, rl, ts_ns, sink);
        d += TLS_HDR + rl;
        n -= TLS_HDR + rl;
        if (td->dead)
            return;
    }
    if (n == 0)
        return;
    if (td->rec.len < TLS_HDR) {
        /* a record header split between chunks: complete it first; an unread record's
         * body then goes by count */
        size_t h = BN_MIN(n, (size_t)TLS_HDR - td->rec.len);
        if (app_acc_add(&td->rec, d, h, TLS_HDR + NET_TLS_RECORD_MAX) != 0) {
            app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
            td->dead = true;
            return;
        }
        d += h;
        n -= h;
        const uint8_t *hp = td->rec.p;
        if (td->rec.len == TLS_HDR && !sslv2_start(st, dir, hp) && record_header_ok(hp) &&
            body_unread(td, hp[0])) {
            body_start(td, hp[0], app_be16(hp + 3), 0);
            td->rec.len = 0;
            if (!td->body_left) {
                record(st, f, dir, td->body_type, NULL, 0, ts_ns, sink);
                if (td->dead)
                    return;
            }
            goto again;
        }
    }
    /* the record's length is known: one buffer for it and this chunk */
    const uint8_t *rh = td->rec.len >= TLS_HDR ? td->rec.p : td->rec.len == 0 && n >= TLS_HDR ? d
                                                                                              : NULL;
    if (rh && record_header_ok(rh))
        app_acc_reserve(&td->rec, BN_MAX((size_t)TLS_HDR + app_be16(rh + 3), td->rec.len + n),
                        TLS_HDR + NET_TLS_RECORD_MAX);
    if (app_acc_add(&td->rec, d, n, TLS_HDR + NET_TLS_RECORD_MAX) != 0) {
        /* more bytes than one record can hold: bulk data we do not need, keep framing */
        size_t room = TLS_HDR + NET_TLS_RECORD_MAX - td->rec.len;
        if (app_acc_add(&td->rec, d, room, TLS_HDR + NET_TLS_RECORD_MAX) != 0) {
            app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
            td->dead = true;
            return;
        }
        d += room;
        n -= room;
    } else {
        n = 0;
    }
    for (;;) {
        while (td->rec.len >= TLS_HDR) {
            if (sslv2_start(st, dir, td->rec.p)) {
                long used = sslv2_hello(st, td->rec.p, td->rec.len);
                if (used == 0)
                    break;
                if (used > 0) {
                    app_acc_consume(&td->rec, (size_t)used);
                    continue;
                }
            }
            if (!record_header_ok(td->rec.p)) {
                app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
                td->dead = true;
                app_acc_release(&td->rec);
                tls_finish(st, f, ts_ns, sink);
                return;
            }
            size_t rl = app_be16(td->rec.p + 3);
            if (td->rec.len < TLS_HDR + rl) {
                if (body_unread(td, td->rec.p[0])) {
                    /* the rest of it goes by count, then whatever is left of the chunk */
                    body_start(td, td->rec.p[0], rl, td->rec.len - TLS_HDR);
                    td->rec.len = 0;
                    goto again;
                }
                break;
            }
            record(st, f, dir, td->rec.p[0], td->rec.p + TLS_HDR, rl, ts_ns, sink);
            app_acc_consume(&td->rec, TLS_HDR + rl);
            if (td->dead)
                return;
        }
        if (n == 0)
            return;
        size_t room = TLS_HDR + NET_TLS_RECORD_MAX - td->rec.len;
        size_t k = BN_MIN(room, n);
        if (app_acc_add(&td->rec, d, k, TLS_HDR + NET_TLS_RECORD_MAX) != 0) {
            app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
            td->dead = true;
            return;
        }
        d += k;
        n -= k;
    }
}

static void
tls_data(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
         uint64_t ts_ns, struct net_sink *sink)
{
    struct tls_state *st = vst;
    if (!st || (unsigned)dir > 1)
        return;
    tls_data_in(st, f, dir, d, n, ts_ns, sink);
    /* once the handshake is reported or this side encrypts, an empty accumulator is rarely
     * needed again (a record header split between chunks): free it rather than keep up to
     * 16 KB per direction for the flow's lifetime (it was a tenth of the mix's peak heap) */
    struct tls_dir *td = &st->d[dir];
    if ((st->emitted || td->encrypted) && !td->rec.len && td->rec.cap)
        app_acc_release(&td->rec);
    if ((st->emitted || td->encrypted) && !td->hs.len && td->hs.cap)
        app_acc_release(&td->hs);
}

static void
tls_gap(void *vst, struct net_flow *f, enum net_dir dir, size_t n)
{
    struct tls_state *st = vst;
    (void)f, (void)n;
    if (!st || (unsigned)dir > 1)
        return;
    struct tls_dir *td = &st->d[dir];
    app_err(NET_APP_TLS, NET_APP_ERR_GAP);
    /* record framing is lost: handshake metadata after a gap would be guesswork */
    td->dead = true;
    td->body_left = 0;
    app_acc_release(&td->rec);
    app_acc_release(&td->hs);
}

/* Bytes of dir the parser takes by count: the rest of an unread record, or all (dead). */
static size_t
tls_skippable(void *vst, enum net_dir dir)
{
    struct tls_state *st = vst;
    if (!st || (unsigned)dir > 1)
        return 0;
    return st->d[dir].dead ? SIZE_MAX : st->d[dir].body_left;
}

static bool
tls_skip(void *vst, struct net_flow *f, enum net_dir dir, size_t n, uint64_t ts_ns,
         struct net_sink *sink)
{
    struct tls_state *st = vst;
    if (!st || (unsigned)dir > 1 || st->d[dir].dead)
        return true;
    if (n > st->d[dir].body_left) { /* not reached: nothing else moves a direction's records */
        tls_gap(st, f, dir, n);
        return false;
    }
    body_take(st, f, dir, n, ts_ns, sink);
    return true;
}

static void
tls_close(void *vst, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct tls_state *st = vst;
    if (!st)
        return;
    tls_finish(st, f, ts_ns, sink);
    for (int i = 0; i < 2; i++) {
        app_acc_release(&st->d[i].rec);
        app_acc_release(&st->d[i].hs);
    }
    app_rec_free(APP_RC_TLS, st->rec);
    net_slab_state_free(st, sizeof(*st));
}

const struct net_app_parser net_app_tls = {
    .name = "tls",
    .app = NET_APP_TLS,
    .proto = IPPROTO_TCP,
    .ports = {443, 8443, 993, 995},
    .probe = app_tls_probe,
    .open = tls_open,
    .data = tls_data,
    .gap = tls_gap,
    .close = tls_close,
    .skippable = tls_skippable,
    .skip = tls_skip,
};

/* ---- the handshake parser for QUIC (app_quic.c): CRYPTO streams instead of records ---- */

void *
app_tls_hs_open(bool quic)
{
    struct tls_state *st = net_slab_state_new(sizeof(*st));
    if (!st) {
        app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
        return NULL;
    }
    st->quic = quic;
    return st;
}

void
app_tls_hs_data(void *vst, enum net_dir dir, const uint8_t *d, size_t n)
{
    if (vst && (unsigned)dir <= 1)
        hs_stream(vst, dir, d, n);
}

bool
app_tls_hs_seen(void *vst, enum net_dir dir)
{
    const struct tls_state *st = vst;
    return st && st->rec &&
           (dir == NET_TOSERVER ? st->rec->has_client_hello : st->rec->has_server_hello);
}

void
app_tls_hs_close(void *vst, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct tls_state *st = vst;
    if (!st)
        return;
    tls_finish(st, f, ts_ns, sink);
    for (int i = 0; i < 2; i++)
        app_acc_release(&st->d[i].hs);
    app_rec_free(APP_RC_TLS, st->rec);
    net_slab_state_free(st, sizeof(*st));
}

/* ---- DTLS (RFC 6347, 9147): the unencrypted hellos of each datagram ---- */

#define DTLS_HDR    13
#define DTLS_HS_HDR 12

int
app_dtls_probe(const uint8_t *d, size_t n, enum net_dir dir)
{
    if (n < DTLS_HDR + DTLS_HS_HDR)
        return 0; /* datagrams are whole */
    if (d[0] != REC_HANDSHAKE || d[1] != 0xfe || (d[2] != 0xff && d[2] != 0xfd && d[2] != 0xfc))
        return 0;
    if (d[3] || d[4]) /* epoch 0: the hellos are not protected */
        return 0;
    unsigned hs = d[DTLS_HDR];
    return dir == NET_TOSERVER ? hs == HS_CLIENT_HELLO
                               : hs == HS_SERVER_HELLO || hs == 3 /* HelloVerifyRequest */;
}

static void *
dtls_open(struct net_flow *f)
{
    (void)f;
    struct tls_state *st = app_tls_hs_open(false);
    if (st)
        st->dtls = true;
    return st;
}

/*
 * One datagram: records of epoch 0 carry handshake fragments. A message in one fragment
 * goes to the handshake parser; fragmented hellos (rare: very large ClientHellos) are
 * counted and skipped. Protected records mean the hellos are over.
 */
static void
dtls_data(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
          uint64_t ts_ns, struct net_sink *sink)
{
    struct tls_state *st = vst;
    if (!st || (unsigned)dir > 1 || st->emitted)
        return;
    while (n >= DTLS_HDR) {
        unsigned type = d[0];
        bool epoch0 = !d[3] && !d[4];
        size_t rl = app_be16(d + 11);
        if (d[1] != 0xfe || rl > n - DTLS_HDR) {
            app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
            return;
        }
        const uint8_t *p = d + DTLS_HDR;
        if (type == REC_HANDSHAKE && epoch0) {
            size_t o = 0;
            while (rl - o >= DTLS_HS_HDR) {
                unsigned ht = p[o];
                size_t len = app_be24(p + o + 1), foff = app_be24(p + o + 6);
                size_t flen = app_be24(p + o + 9);
                if (flen > rl - o - DTLS_HS_HDR) {
                    app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
                    break;
                }
                if (foff == 0 && flen == len)
                    handshake(st, dir, ht, p + o + DTLS_HS_HDR, len);
                else if (ht == HS_CLIENT_HELLO || ht == HS_SERVER_HELLO)
                    app_err(NET_APP_TLS, NET_APP_ERR_UNEXPECTED); /* fragmented hello */
                o += DTLS_HS_HDR + flen;
            }
        } else if (type == REC_APPDATA || type == REC_CCS || !epoch0) {
            st->d[dir].encrypted = true;
        }
        d += DTLS_HDR + rl;
        n -= DTLS_HDR + rl;
    }
    if (st->hello_done ||
        (st->rec && st->rec->has_server_hello && (st->d[0].encrypted || st->d[1].encrypted)))
        tls_finish(st, f, ts_ns, sink);
}

static void
dtls_gap(void *st, struct net_flow *f, enum net_dir dir, size_t n)
{
    (void)st, (void)f, (void)dir, (void)n; /* datagrams: no gaps */
}

const struct net_app_parser net_app_dtls = {
    .name = "tls",
    .app = NET_APP_TLS,
    .proto = IPPROTO_UDP,
    .ports = {443, 4433, 5684, 0},
    .probe = app_dtls_probe,
    .open = dtls_open,
    .data = dtls_data,
    .gap = dtls_gap,
    .close = app_tls_hs_close,
};

/* IANA names of the cipher suites seen in practice (Zeek's ssl.log cipher). */
static const struct {
    uint16_t id;
    const char *name;
} cipher_names[] = {
    {0x0000, "TLS_NULL_WITH_NULL_NULL"},
    {0x0001, "TLS_RSA_WITH_NULL_MD5"},
    {0x0002, "TLS_RSA_WITH_NULL_SHA"},
    {0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
    {0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
    {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
    {0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"},
    {0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"},
    {0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
    {0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"},
    {0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"},
    {0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
    {0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"},
    {0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
    {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"},
    {0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
    {0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
    {0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
    {0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
    {0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
    {0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
    {0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
    {0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
    {0x008c, "TLS_PSK_WITH_AES_128_CBC_SHA"},
    {0x008d, "TLS_PSK_WITH_AES_256_CBC_SHA"},
    {0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
    {0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
    {0x1301, "TLS_AES_128_GCM_SHA256"},
    {0x1302, "TLS_AES_256_GCM_SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
    {0x1304, "TLS_AES_128_CCM_SHA256"},
    {0x1305, "TLS_AES_128_CCM_8_SHA256"},
    {0x5600, "TLS_FALLBACK_SCSV"},
    {0xc002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"},
    {0xc004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
    {0xc005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"},
    {0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
    {0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
    {0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
    {0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
    {0xc00c, "TLS_ECDH_RSA_WITH_RC4_128_SHA"},
    {0xc00e, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
    {0xc00f, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"},
    {0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
    {0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
    {0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
    {0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
    {0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
    {0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
    {0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
    {0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
    {0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0xc09c, "TLS_RSA_WITH_AES_128_CCM"},
    {0xc09d, "TLS_RSA_WITH_AES_256_CCM"},
    {0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
    {0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
    {0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xcc13, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD"},
    {0xcc14, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256_OLD"},
};

const char *
net_tls_cipher_name(uint16_t cs, char *buf, size_t size)
{
    for (size_t i = 0; i < BN_ARRAY_SIZE(cipher_names); i++)
        if (cipher_names[i].id == cs)
            return cipher_names[i].name;
    snprintf(buf, size, "unknown-%u", cs);
    return buf;
}
