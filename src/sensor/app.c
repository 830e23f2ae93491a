/*
 * app.c - the application parser registry, protocol identification by content (with ports
 * only as a hint), the parsers' counters and the byte helpers they share.
 *
 * DNS, HTTP, TLS and SSH have full parsers (app_dns.c, app_http.c, app_tls.c, app_ssh.c).
 * SMB, RDP, SMTP and FTP are identified from their first bytes only: their registry entries
 * claim the flow (so flow records say what it is); SMTP, FTP and RDP flows that switch to
 * TLS get the TLS parser from that point. So are DNP3, BitTorrent DHT, PostgreSQL, RFB,
 * DCE/RPC, DHCP, IKE, IMAP, POP3, SIP and NTP (flow app_proto only, Suricata's names); the
 * rule of each probe is written above it. IKE and NTP are too loose by content alone: like
 * Suricata, which registers them on their ports, they are only tried on a flow whose server
 * port is theirs (port_only below).
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

/* app_digest uses the low-level digest functions (see there) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "sensor/app_int.h"
#include "sensor/app_ident.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

/* ---- counters ---- */

static _Thread_local struct net_app_stats tl_private;
static _Thread_local struct net_app_stats *tl_stats;

void
net_app_stats_bind(struct net_app_stats *s)
{
    tl_stats = s;
}

struct net_app_stats *
net_app_stats(void)
{
    return tl_stats ? tl_stats : &tl_private;
}

void
net_app_stats_add(struct net_app_stats *total, const struct net_app_stats *a)
{
    for (size_t i = 0; i < NET_REC__COUNT; i++)
        total->records[i] += a->records[i];
    total->truncated_fields += a->truncated_fields;
    total->dropped_items += a->dropped_items;
    for (size_t p = 0; p < NET_APP__COUNT; p++) {
        for (size_t e = 0; e < NET_APP_ERR__COUNT; e++)
            total->errors[p][e] += a->errors[p][e];
        total->probes[p] += a->probes[p];
    }
}

static const char *const err_names[NET_APP_ERR__COUNT] = {
    [NET_APP_ERR_TRUNCATED] = "truncated",
    [NET_APP_ERR_MALFORMED] = "malformed",
    [NET_APP_ERR_LIMIT] = "limit",
    [NET_APP_ERR_NAME_LOOP] = "name_loop",
    [NET_APP_ERR_GAP] = "gap",
    [NET_APP_ERR_UNEXPECTED] = "unexpected",
    [NET_APP_ERR_CERT] = "cert",
    [NET_APP_ERR_NOMEM] = "nomem",
};

const char *
net_app_err_name(enum net_app_err e)
{
    return (unsigned)e < NET_APP_ERR__COUNT ? err_names[e] : "unknown";
}

static const char *const rec_names[NET_REC__COUNT] = {
    "flow", "dns", "http", "tls", "ssh", "alert",
};

int
net_app_stats_json(const struct net_app_stats *s, struct bn_buf *out)
{
    int rc = bn_buf_puts(out, "{\"records\":{");
    for (size_t i = NET_REC_DNS; !rc && i <= NET_REC_SSH; i++)
        rc = bn_buf_printf(out, "%s\"%s\":%llu", i == NET_REC_DNS ? "" : ",", rec_names[i],
                           (unsigned long long)s->records[i]);
    if (!rc)
        rc = bn_buf_printf(out, "},\"truncated_fields\":%llu,\"dropped_items\":%llu,\"errors\":{",
                           (unsigned long long)s->truncated_fields,
                           (unsigned long long)s->dropped_items);
    static const enum net_app parsed[] = {NET_APP_DNS, NET_APP_HTTP, NET_APP_TLS, NET_APP_SSH};
    for (size_t i = 0; !rc && i < BN_ARRAY_SIZE(parsed); i++) {
        rc = bn_buf_printf(out, "%s\"%s\":{", i ? "," : "", net_app_name(parsed[i]));
        for (size_t e = 0; !rc && e < NET_APP_ERR__COUNT; e++)
            rc = bn_buf_printf(out, "%s\"%s\":%llu", e ? "," : "", err_names[e],
                               (unsigned long long)s->errors[parsed[i]][e]);
        if (!rc)
            rc = bn_buf_putc(out, '}');
    }
    if (!rc)
        rc = bn_buf_puts(out, "},\"identified\":{");
    for (size_t p = NET_APP_DNS; !rc && p < NET_APP_FAILED; p++)
        rc = bn_buf_printf(out, "%s\"%s\":%llu", p == NET_APP_DNS ? "" : ",",
                           net_app_name((enum net_app)p), (unsigned long long)s->probes[p]);
    if (!rc)
        rc = bn_buf_puts(out, "}}");
    return rc;
}

void
app_err(enum net_app app, enum net_app_err e)
{
    if ((unsigned)app < NET_APP__COUNT && (unsigned)e < NET_APP_ERR__COUNT)
        net_app_stats()->errors[app][e]++;
}

void
app_dropped(uint64_t n)
{
    net_app_stats()->dropped_items += n;
}

void
app_emit(struct net_sink *sink, enum net_rec_type t, uint64_t ts_ns, const struct net_flow *f,
         const void *body)
{
    net_app_stats()->records[t]++;
    if (sink)
        net_emit(sink, t, ts_ns, f, 0, body);
}

/* ---- recycled records ---- */

/*
 * TLS records (13.5 KB) and HTTP transactions (5.5 KB) are allocated per handshake / per
 * request and freed once emitted, HTTP/2 header lists (18 KB) per header block and the HPACK
 * decoder's string scratch (16 KB) per block decoded. Fresh heap for each was a page fault
 * per 4 KiB (the record's calloc and first touch were 2.6% of the run for TLS alone); a few
 * freed ones are kept per thread (records zeroed again, header lists and scratch only reset).
 * A thread's spares are freed when it exits. (Keeping up to 8 MiB of each kind instead of
 * 64 blocks took a few thousand malloc/free pairs off a run of the bench mix and added 3 MB
 * to its peak: the spares of one kind sit unused while another kind needs fresh heap.)
 */
#define APP_RECYCLE_MAX 64 /* spares kept per kind and thread */

struct recycle_bin {
    void *head[APP_RC_COUNT]; /* singly linked through each record's first bytes */
    unsigned n[APP_RC_COUNT];
    void *scratch[APP_TS_COUNT]; /* app_thread_scratch, owned */
};

static _Thread_local struct recycle_bin *tl_bin;
static pthread_once_t bin_once = PTHREAD_ONCE_INIT;
static pthread_key_t bin_key;

static void
bin_free(void *v)
{
    struct recycle_bin *b = v;
    for (int k = 0; k < APP_RC_COUNT; k++) {
        while (b->head[k]) {
            void *next;
            memcpy(&next, b->head[k], sizeof(next));
            bn_free(b->head[k]);
            b->head[k] = next;
        }
    }
    for (int k = 0; k < APP_TS_COUNT; k++)
        bn_free(b->scratch[k]);
    bn_free(b);
}

static void
bin_key_make(void)
{
    if (pthread_key_create(&bin_key, bin_free) != 0)
        bin_key = (pthread_key_t)-1;
}

static struct recycle_bin *
bin_get(void)
{
    if (tl_bin)
        return tl_bin;
    pthread_once(&bin_once, bin_key_make);
    if (bin_key == (pthread_key_t)-1)
        return NULL;
    struct recycle_bin *b = bn_calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (pthread_setspecific(bin_key, b) != 0) {
        bn_free(b);
        return NULL;
    }
    tl_bin = b;
    return b;
}

void *
app_rec_alloc(enum app_rc kind, size_t size)
{
    struct recycle_bin *b = tl_bin;
    if ((unsigned)kind < APP_RC_COUNT && b && b->head[kind]) {
        void *p = b->head[kind];
        memcpy(&b->head[kind], p, sizeof(void *));
        b->n[kind]--;
        memset(p, 0, size);
        return p;
    }
    return bn_calloc(1, size);
}

void *
app_rec_alloc_head(enum app_rc kind, size_t size, size_t zero)
{
    void *p = app_buf_alloc(kind, size);
    if (p)
        memset(p, 0, BN_MIN(zero, size));
    return p;
}

void *
app_buf_alloc(enum app_rc kind, size_t size)
{
    struct recycle_bin *b = tl_bin;
    if ((unsigned)kind < APP_RC_COUNT && b && b->head[kind]) {
        void *p = b->head[kind];
        memcpy(&b->head[kind], p, sizeof(void *));
        b->n[kind]--;
        return p;
    }
    return bn_malloc(size);
}

struct net_http_rec *
app_http_rec_new(void)
{
    /* zeroing all 5.5 KB per transaction was 0.6% of a --no-ndr run on the bench mix and
     * touched 86 cache lines, most of them never written */
    struct net_http_rec *r = app_buf_alloc(APP_RC_HTTP, sizeof(*r));
    if (!r)
        return NULL;
    memset(r, 0, offsetof(struct net_http_rec, method));
    r->method[0] = r->uri[0] = r->host[0] = r->user_agent[0] = r->referer[0] = '\0';
    r->req_content_type[0] = r->content_type[0] = r->protocol[0] = r->status_msg[0] = '\0';
    r->status_string[0] = r->location[0] = r->xff[0] = '\0';
    /* a text field added between method and xff must be emptied above too */
    _Static_assert(offsetof(struct net_http_rec, version2) ==
                       offsetof(struct net_http_rec, xff) + NET_HTTP_XFF_MAX &&
                   offsetof(struct net_http_rec, method) + NET_HTTP_METHOD_MAX + NET_HTTP_URI_MAX +
                           NET_HTTP_HOST_MAX + NET_HTTP_UA_MAX + NET_HTTP_REFERER_MAX +
                           2 * NET_HTTP_CTYPE_MAX + NET_HTTP_PROTO_MAX +
                           NET_HTTP_STATUS_MSG_MAX + 16 + NET_HTTP_LOCATION_MAX ==
                       offsetof(struct net_http_rec, xff),
                   "net_http_rec's text fields changed: update app_http_rec_new");
    memset(&r->version2, 0, sizeof(*r) - offsetof(struct net_http_rec, version2));
    return r;
}

struct net_http_hdrs *
app_hdrs_new(void)
{
    struct net_http_hdrs *l = app_buf_alloc(APP_RC_HDRS, sizeof(*l));
    if (l)
        l->n = l->len = 0; /* entries are written whole as they are added (app_hdrs_add) */
    return l;
}

void
app_rec_free(enum app_rc kind, void *p)
{
    if (!p)
        return;
    struct recycle_bin *b = (unsigned)kind < APP_RC_COUNT ? bin_get() : NULL;
    if (!b || b->n[kind] >= APP_RECYCLE_MAX) {
        bn_free(p);
        return;
    }
    memcpy(p, &b->head[kind], sizeof(void *));
    b->head[kind] = p;
    b->n[kind]++;
}

/* ---- byte helpers ---- */

/* The length of the longest prefix of s[0..n) of ASCII bytes other than NUL. */
static size_t
ascii_prefix(const uint8_t *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        /* a byte 0x80 or above, or (exact when none is) a zero byte */
        if ((x | ((x - ones) & ~x)) & highs)
            break;
    }
    while (i < n && s[i] && s[i] < 0x80)
        i++;
    return i;
}

size_t
app_copy(char *dst, size_t dsz, const void *src, size_t n, uint8_t *trunc)
{
    static const char hexd[] = "0123456789abcdef";
    const uint8_t *s = src;
    size_t o = 0;
    bool cut = false;
    if (!dsz)
        return 0;
    /*
     * The common case first: a prefix of ASCII without NUL is copied as it is by the loop
     * below, so it goes in with one memcpy (and when it is all of s and fits, that is the
     * whole copy). Its bytes are single UTF-8 sequences: the rest is valid UTF-8 exactly
     * when all of s is, so only the rest is checked.
     */
    size_t a = ascii_prefix(s, n);
    if (a == n && n < dsz) {
        if (n)
            memcpy(dst, s, n);
        dst[n] = '\0';
        return n;
    }
    size_t i = BN_MIN(a, dsz - 1);
    if (i)
        memcpy(dst, s, i);
    o = i;
    /* Suricata's rule: valid UTF-8 is kept, otherwise bytes past ASCII become \xNN */
    bool esc_high = !bn_utf8_valid((const char *)s + a, n - a);
    for (; i < n; i++) {
        if (s[i] == 0 || (esc_high && s[i] >= 0x80)) {
            if (o + 4 >= dsz) {
                cut = true;
                break;
            }
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hexd[s[i] >> 4];
            dst[o++] = hexd[s[i] & 15];
            continue;
        }
        if (o + 1 >= dsz) {
            cut = true;
            /* do not leave half a UTF-8 sequence behind */
            if (!esc_high && s[i] >= 0x80 && (s[i] & 0xc0) == 0x80) {
                while (o > 0 && ((uint8_t)dst[o - 1] & 0xc0) == 0x80)
                    o--;
                if (o > 0 && ((uint8_t)dst[o - 1] & 0xc0) == 0xc0)
                    o--;
            }
            break;
        }
        dst[o++] = (char)s[i];
    }
    dst[o] = '\0';
    if (cut) {
        net_app_stats()->truncated_fields++;
        if (trunc)
            *trunc = 1;
    }
    return o;
}

size_t
app_hex(char *dst, size_t dsz, const uint8_t *b, size_t n, char sep, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t need = n * (sep ? 3 : 2);
    if (sep && n)
        need--;
    if (!dsz || need + 1 > dsz) {
        if (dsz)
            dst[0] = '\0';
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (sep && i)
            dst[o++] = sep;
        dst[o++] = digits[b[i] >> 4];
        dst[o++] = digits[b[i] & 15];
    }
    dst[o] = '\0';
    return o;
}

/*
 * The digests by OpenSSL's low-level functions (deprecated in 3.0, still exported and still
 * the same assembly): EVP_DigestInit_ex2/Update/Final on a reused context cost twice the
 * hashing of the short JA3/JA4 strings (the provider's dispatch, its context's cleanse and
 * a lock-free but not free reference count per message), 90 against 50 ns for 40 bytes.
 */
int
app_digest(enum app_md which, const void *s, size_t n, uint8_t *out, unsigned *outlen)
{
    int ok;
    switch (which) {
    case APP_MD_MD5: {
        MD5_CTX c;
        ok = MD5_Init(&c) && MD5_Update(&c, s, n) && MD5_Final(out, &c);
        *outlen = MD5_DIGEST_LENGTH;
        break;
    }
    case APP_MD_SHA1: {
        SHA_CTX c;
        ok = SHA1_Init(&c) && SHA1_Update(&c, s, n) && SHA1_Final(out, &c);
        *outlen = SHA_DIGEST_LENGTH;
        break;
    }
    case APP_MD_SHA256: {
        SHA256_CTX c;
        ok = SHA256_Init(&c) && SHA256_Update(&c, s, n) && SHA256_Final(out, &c);
        *outlen = SHA256_DIGEST_LENGTH;
        break;
    }
    default: return BN_EINVAL;
    }
    return ok ? 0 : BN_EINTERNAL;
}

static int
digest(enum app_md which, const void *s, size_t n, uint8_t *out, unsigned *outlen)
{
    return app_digest(which, s, n, out, outlen);
}

/*
 * The fingerprint digests (JA3 and JA3S MD5, JA4's two SHA-256 parts, HASSH) hash strings
 * that repeat: a fingerprint names a client or server build, and a network has few of them
 * (37 distinct JA3 strings in the 21,850 ClientHellos of the bench mix). Each thread keeps its
 * last APP_MEMO_N inputs of up to FP_MEMO_MAX bytes per kind with their hex digest, and a
 * repeated input is answered by a compare of its bytes instead of the hash (the hashes were
 * 0.8 % of a --no-ndr run on the mix). The compare is of the whole input, so an answer is
 * always the digest of these bytes; crafted inputs can only make it miss.
 */
#define FP_MEMO_MAX 1024
enum { FP_MD5, FP_SHA256_12, FP_KINDS };

/* One kind's entries: lengths and tags apart from the inputs and digests, so a lookup reads
 * the two lines of lengths, a tag where the length matches and the bytes of a likely match. */
struct fp_memo_kind {
    struct app_memo_ix ix;
    char hex[APP_MEMO_N][33];
    uint8_t in[APP_MEMO_N][FP_MEMO_MAX];
};

struct fp_memo {
    struct fp_memo_kind k[FP_KINDS];
};

void *
app_thread_scratch(enum app_ts which, size_t size)
{
    struct recycle_bin *b = (unsigned)which < APP_TS_COUNT ? bin_get() : NULL;
    if (b && !b->scratch[which])
        b->scratch[which] = bn_calloc(1, size);
    return b ? b->scratch[which] : NULL;
}

static struct fp_memo *
fp_memo(void)
{
    return app_thread_scratch(APP_TS_FP, sizeof(struct fp_memo));
}

/* Its first and last 8 bytes (inputs of one length often share their start: a
 * fingerprint's version and first cipher). */
uint64_t
app_memo_tag(const void *key, size_t n)
{
    uint64_t h = 0, t = 0;
    memcpy(&h, key, BN_MIN(n, sizeof(h)));
    if (n > sizeof(t))
        memcpy(&t, (const char *)key + n - sizeof(t), sizeof(t));
    return h ^ t * 0x9e3779b97f4a7c15ull;
}

int
app_memo_find(const struct app_memo_ix *ix, const uint8_t *keys, size_t stride,
              const void *key, size_t n, uint64_t tag)
{
    for (unsigned i = 0; i < APP_MEMO_N; i++)
        if (ix->n[i] == n && ix->tag[i] == tag && memcmp(keys + i * stride, key, n) == 0)
            return (int)i;
    return -1;
}

unsigned
app_memo_put(struct app_memo_ix *ix, uint8_t *keys, size_t stride, const void *key, size_t n,
             uint64_t tag)
{
    unsigned i = ix->next;
    ix->next = (i + 1) % APP_MEMO_N;
    ix->n[i] = (uint32_t)n;
    ix->tag[i] = tag;
    memcpy(keys + i * stride, key, n);
    return i;
}

/* The hex digest of s[0..n) (hexlen digits) for kind, from the memo or computed. */
static int
fp_hex(unsigned kind, const void *s, size_t n, char *out, size_t hexlen)
{
    struct fp_memo *m = n && n <= FP_MEMO_MAX ? fp_memo() : NULL;
    struct fp_memo_kind *k = m ? &m->k[kind] : NULL;
    uint64_t tag = 0;
    if (k) {
        tag = app_memo_tag(s, n);
        int i = app_memo_find(&k->ix, (const uint8_t *)k->in, FP_MEMO_MAX, s, n, tag);
        if (i >= 0) {
            memcpy(out, k->hex[i], hexlen + 1);
            return 0;
        }
    }
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    out[0] = '\0';
    int rc = digest(kind == FP_MD5 ? APP_MD_MD5 : APP_MD_SHA256, s, n, md, &len);
    if (rc)
        return rc;
    app_hex(out, hexlen + 1, md, hexlen / 2, 0, false);
    if (k) {
        unsigned i = app_memo_put(&k->ix, (uint8_t *)k->in, FP_MEMO_MAX, s, n, tag);
        memcpy(k->hex[i], out, hexlen + 1);
    }
    return 0;
}

int
app_md5_hex(const void *s, size_t n, char out[33])
{
    return fp_hex(FP_MD5, s, n, out, 32);
}

int
app_sha256_12(const void *s, size_t n, char out[13])
{
    return fp_hex(FP_SHA256_12, s, n, out, 12);
}

bool
app_prefix_ci(const uint8_t *s, size_t n, const char *p)
{
    size_t i = 0;
    for (; p[i]; i++) {
        if (i >= n)
            return false;
        uint8_t a = s[i], b = (uint8_t)p[i];
        if (a >= 'A' && a <= 'Z')
            a = (uint8_t)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (uint8_t)(b + 32);
        if (a != b)
            return false;
    }
    return true;
}

/*
 * An accumulator's first buffer. Buffers of this size come from and go back to the thread's
 * recycled spares: HTTP keeps each request's header lines until its headers end (for a
 * possible h2c upgrade) and then releases them, TLS its handshake records, so a fresh
 * malloc + free (and the first touch of new heap) per message was 1-2% of a --no-ndr run.
 */
#define ACC_FIRST 1024

int
app_acc_add(struct app_acc *a, const uint8_t *d, size_t n, size_t max)
{
    if (n > max || a->len > max - n)
        return BN_ETOOBIG;
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap : ACC_FIRST;
        while (cap < a->len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        uint8_t *p = !a->cap && cap == ACC_FIRST ? app_buf_alloc(APP_RC_ACC, ACC_FIRST)
                                                 : bn_realloc(a->p, cap);
        if (!p)
            return BN_ENOMEM;
        a->p = p;
        a->cap = cap;
    }
    if (n)
        memcpy(a->p + a->len, d, n);
    a->len += n;
    return 0;
}

void
app_acc_reserve(struct app_acc *a, size_t need, size_t max)
{
    if (need > max)
        need = max;
    if (need <= a->cap || need <= ACC_FIRST)
        return;
    uint8_t *p;
    if (a->cap > ACC_FIRST) {
        if (!(p = bn_realloc(a->p, need)))
            return;
    } else {
        if (!(p = bn_malloc(need)))
            return;
        if (a->len)
            memcpy(p, a->p, a->len);
        if (a->cap)
            app_rec_free(APP_RC_ACC, a->p); /* cap == ACC_FIRST: a recycled first buffer */
    }
    a->p = p;
    a->cap = need;
}

void
app_acc_consume(struct app_acc *a, size_t n)
{
    if (n >= a->len) {
        a->len = 0;
        return;
    }
    memmove(a->p, a->p + n, a->len - n);
    a->len -= n;
}

void
app_acc_release(struct app_acc *a)
{
    if (a->cap == ACC_FIRST)
        app_rec_free(APP_RC_ACC, a->p);
    else
        bn_free(a->p);
    a->p = NULL;
    a->len = a->cap = 0;
}

/* ---- identification-only protocols ---- */

/* SMB1/2/3 in a NetBIOS session message (TCP 139 and 445 both frame it this way). */
int
app_probe_smb(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    static const uint8_t magic[3] = {'S', 'M', 'B'};
    if (n < 1)
        return -1;
    if (n >= 4 && d[1] == 0 &&
        ((d[0] == 0x81 && app_be16(d + 2) == 68) || (d[0] == 0x82 && app_be16(d + 2) == 0)))
        return 1; /* NetBIOS session request (two encoded names) / positive answer: TCP 139 */
    if (d[0] != 0x00)
        return (d[0] == 0x81 || d[0] == 0x82) && n < 4 ? -1 : 0;
    if (n < 8)
        return -1;
    uint32_t len = app_be24(d + 1);
    if (len < 4 || (d[4] != 0xff && d[4] != 0xfe && d[4] != 0xfd))
        return 0;
    return memcmp(d + 5, magic, 3) == 0 ? 1 : 0;
}

/* RDP: a TPKT (RFC 1006) carrying an X.224 Connection Request (client) or Confirm. */
int
app_probe_rdp(const uint8_t *d, size_t n, enum net_dir dir)
{
    if (n < 1)
        return -1;
    if (d[0] != 0x03)
        return 0;
    if (n < 6)
        return -1;
    uint16_t len = app_be16(d + 2);
    if (d[1] != 0x00 || len < 11 || d[4] + 5u > len)
        return 0;
    uint8_t code = d[5] & 0xf0;
    return (dir == NET_TOSERVER ? code == 0xe0 : code == 0xd0) ? 1 : 0;
}

/* Searches needle case-insensitively in the first line of d. */
static bool
line_has(const uint8_t *d, size_t n, const char *needle)
{
    for (size_t i = 0; i < n && d[i] != '\n'; i++)
        if (app_prefix_ci(d + i, n - i, needle))
            return true;
    return false;
}

/* A server greeting "220 " / "220-" (the start is enough to keep asking). */
static int
greeting(const uint8_t *d, size_t n)
{
    static const char g[] = "220";
    for (size_t i = 0; i < 3; i++) {
        if (i >= n)
            return -1;
        if (d[i] != (uint8_t)g[i])
            return 0;
    }
    if (n < 4)
        return -1;
    if (d[3] != ' ' && d[3] != '-')
        return 0;
    if (!memchr(d, '\n', n))
        return n < NET_PROBE_MAX ? -1 : 0;
    return 1;
}

/*
 * While net_app_identify runs the probes on content alone, "weak" evidence (bytes two
 * protocols share) is refused; the same probe called for the flow's server port hint (the
 * pipeline's fallback after content identification) accepts it: the port decides.
 */
static _Thread_local bool tl_identifying;
static _Thread_local bool tl_weak_seen;

static int
weak(void)
{
    if (tl_identifying)
        tl_weak_seen = true;
    return tl_identifying ? 0 : 1;
}

/* The first min(n, strlen(p)) bytes agree with p (case-insensitive), n > 0. */
static bool
starts_ci(const uint8_t *d, size_t n, const char *p)
{
    char head[16];
    size_t k = strlen(p);
    if (n >= k || k >= sizeof(head))
        return app_prefix_ci(d, n, p);
    if (!n)
        return false;
    memcpy(head, p, n);
    head[n] = '\0';
    return app_prefix_ci(d, n, head);
}

/* "QUIT" as a client's first line: SMTP and FTP both have it (Suricata 8: port decides). */
static int
quit_line(const uint8_t *d, size_t n)
{
    if (n < 5)
        return starts_ci(d, n, "QUIT") ? -1 : 0;
    if (!app_prefix_ci(d, n, "QUIT") || (d[4] != '\r' && d[4] != '\n'))
        return 0;
    return weak();
}

int
app_probe_smtp(const uint8_t *d, size_t n, enum net_dir dir)
{
    if (dir == NET_TOCLIENT) {
        int g = greeting(d, n);
        if (g != 1)
            return g;
        if (line_has(d, n, "FTP"))
            return 0;
        return line_has(d, n, "SMTP") || line_has(d, n, " mail") ? 1 : 0;
    }
    if (starts_ci(d, n, "QUIT"))
        return quit_line(d, n);
    if (n < 5)
        return (app_prefix_ci(d, n, "EHLO") || app_prefix_ci(d, n, "HELO")) && n < 5 ? -1 : 0;
    return (app_prefix_ci(d, n, "EHLO ") || app_prefix_ci(d, n, "HELO ")) ? 1 : 0;
}

int
app_probe_ftp(const uint8_t *d, size_t n, enum net_dir dir)
{
    if (dir == NET_TOCLIENT) {
        int g = greeting(d, n);
        if (g != 1)
            return g;
        return line_has(d, n, "FTP") && !line_has(d, n, "SMTP") ? 1 : 0;
    }
    if (starts_ci(d, n, "QUIT"))
        return quit_line(d, n);
    if (n < 5)
        return app_prefix_ci(d, n, "USER") ? -1 : 0;
    return app_prefix_ci(d, n, "USER ") ? 1 : 0;
}

/* ---- identification only, Suricata's app_proto names (flow records) ---- */

/* Reads one CRLF- or LF-ended line's length; -1 when no line end in the first n bytes. */
static long
line_len(const uint8_t *d, size_t n)
{
    const uint8_t *e = memchr(d, '\n', n);
    return e ? (long)(e - d) : -1;
}

/* DNP3 link-layer CRC (poly 0x3D65, reflected 0xA6BC, complemented), little-endian. */
static uint16_t
dnp3_crc(const uint8_t *d, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= d[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA6BC) : (uint16_t)(crc >> 1);
    }
    return (uint16_t)~crc;
}

/*
 * DNP3 (TCP 20000, either direction; Suricata parses DNP3 over TCP only): a link header of
 * 10 bytes: start 0x05 0x64, a length byte >= 5 (control, destination, source and the user
 * data), control, destination and source, then the header's CRC over the first 8 bytes —
 * as Suricata's DNP3ProbingParser (start bytes, minimum length, header CRC).
 */
int
app_probe_dnp3(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    if (n < 1)
        return -1;
    if (d[0] != 0x05)
        return 0;
    if (n < 2)
        return -1;
    if (d[1] != 0x64)
        return 0;
    if (n < 10)
        return -1;
    if (d[2] < 5)
        return 0;
    uint16_t crc = dnp3_crc(d, 8);
    return (d[8] == (crc & 0xff) && d[9] == (crc >> 8)) ? 1 : 0;
}

static bool
has_bytes(const uint8_t *d, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(d + i, needle, k) == 0)
            return true;
    return false;
}

/*
 * BitTorrent DHT (UDP, any port; BEP 5 KRPC): a bencoded dictionary — "d", then a key
 * "1:a", "1:e", "1:r", "1:t", "1:v", "1:y" or "2:ip" — that carries the message type
 * "1:y1:q" (query), "1:y1:r" (response) or "1:y1:e" (error) and ends in "e". Suricata's
 * probe parses the same KRPC dictionary.
 */
int
app_probe_bt_dht(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    static const char *const keys[] = {"d1:a", "d1:e", "d1:r", "d1:t", "d1:v", "d1:y", "d2:ip"};
    bool key = false;
    if (n < 8 || d[0] != 'd' || d[n - 1] != 'e')
        return 0;
    for (size_t i = 0; i < BN_ARRAY_SIZE(keys) && !key; i++)
        key = n >= strlen(keys[i]) && memcmp(d, keys[i], strlen(keys[i])) == 0;
    if (!key)
        return 0;
    return has_bytes(d, n, "1:y1:q") || has_bytes(d, n, "1:y1:r") || has_bytes(d, n, "1:y1:e")
               ? 1
               : 0;
}

/*
 * PostgreSQL (TCP 5432). To the server: a startup-phase message, which has no type byte —
 * a 32-bit big-endian length (8..10000) then the protocol code 3.0 (0x00030000; the length
 * must leave room for "user"), SSLRequest (length 8, 80877103), GSSENCRequest (8,
 * 80877104) or CancelRequest (16, 80877102). To the client: an Authentication message
 * 'R', length 8..2048, auth code 0..12, or 'E' (error) with a length that fits. The
 * one-byte answers 'S'/'N' to SSLRequest are too short to say anything alone.
 */
int
app_probe_pgsql(const uint8_t *d, size_t n, enum net_dir dir)
{
    if (dir == NET_TOSERVER) {
        if (n < 8)
            return n && d[0] == 0 ? -1 : 0;
        uint32_t len = app_be32(d), code = app_be32(d + 4);
        if (len == 8 && (code == 80877103u || code == 80877104u))
            return 1;
        if (len == 16 && code == 80877102u)
            return 1;
        return code == 0x00030000u && len >= 13 && len <= 10000 ? 1 : 0;
    }
    if (n < 1)
        return -1;
    if (d[0] != 'R' && d[0] != 'E')
        return 0;
    if (n < 9)
        return -1;
    uint32_t len = app_be32(d + 1);
    if (d[0] == 'R')
        return len >= 8 && len <= 2048 && app_be32(d + 5) <= 12 ? 1 : 0;
    /* ErrorResponse: fields "S..." with a NUL-ended severity, then the message ends in 0 */
    return len >= 8 && len <= 10000 && (d[5] == 'S' || d[5] == 'V') ? 1 : 0;
}

/* RFB / VNC (TCP 5900-5906, both ways): the 12-byte ProtocolVersion "RFB xxx.yyy\n". */
int
app_probe_rfb(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    static const char pre[] = "RFB ";
    for (size_t i = 0; i < 4; i++) {
        if (i >= n)
            return -1;
        if (d[i] != (uint8_t)pre[i])
            return 0;
    }
    if (n < 12)
        return -1;
    for (size_t i = 4; i < 11; i++)
        if (i == 7 ? d[i] != '.' : (d[i] < '0' || d[i] > '9'))
            return 0;
    return d[11] == '\n' ? 1 : 0;
}

/*
 * DCE/RPC connection-oriented (TCP 135 and any port, both ways): the 16-byte common
 * header: version 5, minor version 0 or 1, a PDU type 0..19, a data representation whose
 * first byte is 0x10 (little-endian, ASCII) or 0x00 (big-endian) and next bytes 0, a
 * fragment length >= 16 in that byte order and an auth length smaller than it. Suricata's
 * probe reads the same header.
 */
int
app_probe_dcerpc(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    if (n < 1)
        return -1;
    if (d[0] != 5)
        return 0;
    if (n < 16)
        return -1;
    if (d[1] > 1 || d[2] > 19 || (d[4] != 0x10 && d[4] != 0x00) || d[6] != 0 || d[7] != 0)
        return 0;
    bool le = d[4] == 0x10;
    uint16_t frag = le ? (uint16_t)(d[8] | d[9] << 8) : app_be16(d + 8);
    uint16_t auth = le ? (uint16_t)(d[10] | d[11] << 8) : app_be16(d + 10);
    return frag >= 16 && auth < frag ? 1 : 0;
}

/*
 * DHCP (UDP 67/68): a BOOTP message (op 1 request / 2 reply, hlen <= 16) of at least 240
 * bytes with the magic cookie 99.130.83.99 at offset 236 (RFC 2131).
 */
int
app_probe_dhcp(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    static const uint8_t cookie[4] = {99, 130, 83, 99};
    if (n < 240 || (d[0] != 1 && d[0] != 2) || d[2] > 16)
        return 0;
    return memcmp(d + 236, cookie, 4) == 0 ? 1 : 0;
}

/*
 * IKE (UDP 500, and 4500 after the 4-byte zero non-ESP marker): the 28-byte ISAKMP header:
 * a non-zero initiator SPI, a responder SPI that is zero in a request of the first
 * exchange, next payload < 128, major version 1 or 2, an exchange type of IKEv1 (1..6,
 * 32..35) or IKEv2 (34..37, 43) and a length equal to the datagram's. Only tried on flows
 * whose server port is 500 or 4500 (port_only), as Suricata registers IKE there.
 */
int
app_probe_ike(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    static const uint8_t zero[8];
    if (n >= 4 && memcmp(d, zero, 4) == 0) { /* RFC 3948 non-ESP marker (port 4500) */
        d += 4;
        n -= 4;
    }
    if (n < 28 || memcmp(d, zero, 8) == 0 || d[16] >= 128)
        return 0;
    uint8_t major = d[17] >> 4, x = d[18];
    if (major == 1 ? !((x >= 1 && x <= 6) || (x >= 32 && x <= 35))
                   : major != 2 || !((x >= 34 && x <= 37) || x == 43))
        return 0;
    return app_be32(d + 24) == n ? 1 : 0;
}

/*
 * IMAP (TCP 143). To the client: the greeting "* OK" or "* PREAUTH" (or "* BYE"), a full
 * line. To the server: a tag (letters, digits, '.') and a command CAPABILITY, LOGIN,
 * AUTHENTICATE, STARTTLS or NOOP.
 */
int
app_probe_imap(const uint8_t *d, size_t n, enum net_dir dir)
{
    if (dir == NET_TOCLIENT) {
        if (n < 2)
            return n && d[0] == '*' ? -1 : 0;
        if (d[0] != '*' || d[1] != ' ')
            return 0;
        if (line_len(d, n) < 0)
            return n < NET_PROBE_MAX ? -1 : 0;
        return app_prefix_ci(d + 2, n - 2, "OK") || app_prefix_ci(d + 2, n - 2, "PREAUTH") ||
                       app_prefix_ci(d + 2, n - 2, "BYE")
                   ? 1
                   : 0;
    }
    static const char *const cmds[] = {"CAPABILITY", "LOGIN ", "AUTHENTICATE ", "STARTTLS",
                                       "NOOP"};
    size_t t = 0;
    while (t < n && t < 32 &&
           ((d[t] >= 'a' && d[t] <= 'z') || (d[t] >= 'A' && d[t] <= 'Z') ||
            (d[t] >= '0' && d[t] <= '9') || d[t] == '.'))
        t++;
    if (t == n)
        return t < 32 ? -1 : 0;
    if (t == 0 || d[t] != ' ')
        return 0;
    long ll = line_len(d, n);
    if (ll < 0)
        return n < NET_PROBE_MAX ? -1 : 0;
    for (size_t i = 0; i < BN_ARRAY_SIZE(cmds); i++)
        if (app_prefix_ci(d + t + 1, n - t - 1, cmds[i]))
            return 1;
    return 0;
}

/*
 * POP3 (TCP 110). To the client: a greeting line starting "+OK" (the commands' answers
 * start the same way). To the server: "CAPA", "STLS" or "APOP " first (USER belongs to the
 * FTP probe, tried before; a POP3 server speaks first anyway).
 */
int
app_probe_pop3(const uint8_t *d, size_t n, enum net_dir dir)
{
    if (dir == NET_TOCLIENT) {
        static const char ok[] = "+OK";
        for (size_t i = 0; i < 3; i++) {
            if (i >= n)
                return -1;
            if (d[i] != (uint8_t)ok[i])
                return 0;
        }
        if (line_len(d, n) < 0)
            return n < NET_PROBE_MAX ? -1 : 0;
        return 1;
    }
    if (n < 4)
        return app_prefix_ci(d, n, "CAPA") || app_prefix_ci(d, n, "STLS") ||
                       app_prefix_ci(d, n, "APOP")
                   ? -1
                   : 0;
    if (app_prefix_ci(d, n, "CAPA") || app_prefix_ci(d, n, "STLS"))
        return n < 5 ? -1 : (d[4] == '\r' || d[4] == '\n') ? 1 : 0;
    return app_prefix_ci(d, n, "APOP ") ? 1 : 0;
}

/*
 * SIP (UDP/TCP 5060, any port): a start line "METHOD sip:... SIP/2.0" with one of the RFC
 * 3261/3262/3265/3311/3428/3515/3903/6086 methods, or a status line "SIP/2.0 NNN".
 */
int
app_probe_sip(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    static const char *const methods[] = {"INVITE ",  "ACK ",     "BYE ",      "CANCEL ",
                                          "OPTIONS ", "REGISTER ", "PRACK ",   "SUBSCRIBE ",
                                          "NOTIFY ",  "PUBLISH ", "INFO ",     "REFER ",
                                          "MESSAGE ", "UPDATE "};
    /* the first letters of "SIP/2.0 " and of the methods: any other first byte matches none
     * of them, so the answer is 0 without the compares or the search for the line's end
     * (the probe runs on every undecided flow's data, most of it no SIP at all) */
    const uint32_t first = 1u << ('A' - 'A') | 1u << ('B' - 'A') | 1u << ('C' - 'A') |
                           1u << ('I' - 'A') | 1u << ('M' - 'A') | 1u << ('N' - 'A') |
                           1u << ('O' - 'A') | 1u << ('P' - 'A') | 1u << ('R' - 'A') |
                           1u << ('S' - 'A') | 1u << ('U' - 'A');
    if (n && ((unsigned)(d[0] - 'A') >= 26 || !(first >> (d[0] - 'A') & 1)))
        return 0;
    if (n >= 8 && memcmp(d, "SIP/2.0 ", 8) == 0)
        return n >= 11 && d[8] >= '1' && d[8] <= '6' ? 1 : n < 11 ? -1 : 0;
    if (n < 8 && memcmp(d, "SIP/2.0 ", n) == 0)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < BN_ARRAY_SIZE(methods) && !m; i++) {
        size_t k = strlen(methods[i]);
        if (n < k && memcmp(d, methods[i], n) == 0)
            return -1;
        if (n >= k && memcmp(d, methods[i], k) == 0)
            m = k;
    }
    if (!m)
        return 0;
    long ll = line_len(d, n);
    if (ll < 0)
        return n < NET_PROBE_MAX ? -1 : 0;
    size_t end = (size_t)ll;
    if (end && d[end - 1] == '\r')
        end--;
    if (end < m + 4 + 8 || !app_prefix_ci(d + m, end - m, "sip"))
        return 0;
    return memcmp(d + end - 8, " SIP/2.0", 8) == 0 ? 1 : 0;
}

/*
 * NTP (UDP 123): at least the 48-byte header, version 3 or 4 and a mode 1..5 — Suricata's
 * rule (its NTP parser accepts versions 3 and 4). Only tried on flows whose server port is
 * 123 (port_only): 48 bytes with two bit fields say little alone.
 */
int
app_probe_ntp(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    if (n < 48)
        return 0;
    uint8_t ver = (d[0] >> 3) & 7, mode = d[0] & 7;
    return (ver == 3 || ver == 4) && mode >= 1 && mode <= 5 ? 1 : 0;
}

/*
 * XMPP (RFC 6120), as Zeek's dpd_xmpp signature finds it: an optional XML declaration,
 * white space, then the <stream:stream opening tag, either way. Identified so that its
 * STARTTLS (<starttls/>, <proceed/>) hands the TLS that follows to the TLS parser below.
 */
int
app_probe_xmpp(const uint8_t *d, size_t n, enum net_dir dir)
{
    static const char decl[] = "<?xml", tag[] = "<stream:stream";
    size_t i = 0;
    (void)dir;
    if (n < sizeof(decl) - 1)
        return memcmp(d, decl, n) == 0 || memcmp(d, tag, n) == 0 ? -1 : 0;
    if (memcmp(d, decl, sizeof(decl) - 1) == 0) {
        while (i + 1 < n && !(d[i] == '?' && d[i + 1] == '>'))
            i++;
        if (i + 1 >= n)
            return n < NET_PROBE_MAX ? -1 : 0;
        i += 2;
    }
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
        i++;
    size_t k = BN_MIN(n - i, sizeof(tag) - 1);
    if (memcmp(d + i, tag, k) != 0)
        return 0;
    return k == sizeof(tag) - 1 ? 1 : n < NET_PROBE_MAX ? -1 : 0;
}

/*
 * Flows of identified-only protocols: nothing is parsed, except that SMTP, FTP and RDP may
 * switch to TLS (STARTTLS, AUTH TLS, RDP's TLS security): a chunk that starts with a TLS
 * hello hands the rest of the flow to the TLS parser, so the session's tls record (and
 * Zeek's ssl.log line) is still produced. SMB, DCERPC and DNP3 have no such upgrade (nor do
 * Suricata's and Zeek's parsers of them): their flows keep no state, and their bytes are
 * skipped unread (on the bench mix DCERPC's small request/response chunks were 1.3 M
 * probe calls).
 */
struct ident_state {
    void *tls; /* the TLS parser's state once the flow switched */
};

static char ident_marker; /* open() result for SMB, DCERPC, DNP3: no state */

static void *
ident_open(struct net_flow *f)
{
    if (f && (f->app == NET_APP_SMB || f->app == NET_APP_DCERPC || f->app == NET_APP_DNP3 ||
              f->proto != IPPROTO_TCP))
        return &ident_marker;
    struct ident_state *st = net_slab_state_new(sizeof(*st));
    if (!st)
        app_err((enum net_app)(f ? f->app : NET_APP_UNKNOWN), NET_APP_ERR_NOMEM);
    return st;
}

static void
ident_data(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
           uint64_t ts_ns, struct net_sink *sink)
{
    if (!vst || vst == &ident_marker)
        return;
    struct ident_state *st = vst;
    if (!st->tls) {
        if (app_tls_probe(d, n, dir) != 1)
            return;
        st->tls = net_app_tls.open(f);
        if (!st->tls)
            return;
    }
    net_app_tls.data(st->tls, f, dir, d, n, ts_ns, sink);
}

static void
ident_gap(void *vst, struct net_flow *f, enum net_dir dir, size_t n)
{
    struct ident_state *st = vst;
    if (st && vst != &ident_marker && st->tls)
        net_app_tls.gap(st->tls, f, dir, n);
}

/* Before STARTTLS each chunk's first bytes are probed: nothing is skipped until then. */
static size_t
ident_skippable(void *vst, enum net_dir dir)
{
    struct ident_state *st = vst;
    if (!st || vst == &ident_marker)
        return SIZE_MAX; /* nothing is parsed */
    return st->tls ? net_app_tls.skippable(st->tls, dir) : 0;
}

static bool
ident_skip(void *vst, struct net_flow *f, enum net_dir dir, size_t n, uint64_t ts_ns,
           struct net_sink *sink)
{
    struct ident_state *st = vst;
    if (!st || vst == &ident_marker)
        return true;
    if (!st->tls) { /* not reached: no skip range before the TLS */
        ident_gap(vst, f, dir, n);
        return false;
    }
    return net_app_tls.skip(st->tls, f, dir, n, ts_ns, sink);
}

static void
ident_close(void *vst, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct ident_state *st = vst;
    if (!st || vst == &ident_marker)
        return;
    if (st->tls)
        net_app_tls.close(st->tls, f, ts_ns, sink);
    net_slab_state_free(st, sizeof(*st));
}

#define IDENT_PARSER_P(var, nm, appid, probefn, l4, p0, p1)                                        \
    static const struct net_app_parser var = {                                                     \
        .name = nm,                                                                                \
        .app = appid,                                                                              \
        .proto = l4,                                                                               \
        .ports = {p0, p1, 0, 0},                                                                   \
        .probe = probefn,                                                                          \
        .open = ident_open,                                                                        \
        .data = ident_data,                                                                        \
        .gap = ident_gap,                                                                          \
        .close = ident_close,                                                                      \
        .skippable = ident_skippable,                                                              \
        .skip = ident_skip,                                                                        \
    }
#define IDENT_PARSER(var, nm, appid, probefn, p0, p1)                                              \
    IDENT_PARSER_P(var, nm, appid, probefn, IPPROTO_TCP, p0, p1)

IDENT_PARSER(ident_smb, "smb", NET_APP_SMB, app_probe_smb, 445, 139);
IDENT_PARSER(ident_rdp, "rdp", NET_APP_RDP, app_probe_rdp, 3389, 0);
IDENT_PARSER(ident_smtp, "smtp", NET_APP_SMTP, app_probe_smtp, 25, 587);
IDENT_PARSER(ident_ftp, "ftp", NET_APP_FTP, app_probe_ftp, 21, 0);
IDENT_PARSER(ident_dnp3, "dnp3", NET_APP_DNP3, app_probe_dnp3, 20000, 0);
IDENT_PARSER_P(ident_bt_dht, "bittorrent-dht", NET_APP_BT_DHT, app_probe_bt_dht, IPPROTO_UDP, 0,
               0);
IDENT_PARSER(ident_pgsql, "pgsql", NET_APP_PGSQL, app_probe_pgsql, 5432, 0);
IDENT_PARSER(ident_rfb, "rfb", NET_APP_RFB, app_probe_rfb, 5900, 5901);
IDENT_PARSER(ident_dcerpc, "dcerpc", NET_APP_DCERPC, app_probe_dcerpc, 135, 0);
IDENT_PARSER_P(ident_dhcp, "dhcp", NET_APP_DHCP, app_probe_dhcp, IPPROTO_UDP, 67, 68);
IDENT_PARSER_P(ident_ike, "ike", NET_APP_IKE, app_probe_ike, IPPROTO_UDP, 500, 4500);
IDENT_PARSER(ident_imap, "imap", NET_APP_IMAP, app_probe_imap, 143, 0);
IDENT_PARSER(ident_pop3, "pop3", NET_APP_POP3, app_probe_pop3, 110, 0);
IDENT_PARSER(ident_sip_tcp, "sip", NET_APP_SIP, app_probe_sip, 5060, 0);
IDENT_PARSER_P(ident_sip, "sip", NET_APP_SIP, app_probe_sip, IPPROTO_UDP, 5060, 0);
IDENT_PARSER_P(ident_ntp, "ntp", NET_APP_NTP, app_probe_ntp, IPPROTO_UDP, 123, 0);
IDENT_PARSER(ident_xmpp, "xmpp", NET_APP_XMPP, app_probe_xmpp, 5222, 5269);

/*
 * Probe order: the most specific signatures first, DNS over TCP (a length word) last. SIP
 * goes before HTTP (its start line looks like a request line); IKE and NTP are port_only.
 */
const struct net_app_parser *const net_app_parsers[] = {
    &net_app_tls,  &net_app_ssh,    &ident_sip_tcp,   &net_app_http, &ident_smb,
    &ident_rdp,    &ident_smtp,     &ident_ftp,       &ident_rfb,    &ident_pgsql,
    &ident_dcerpc, &ident_dnp3,     &ident_imap,      &ident_pop3,   &ident_xmpp,
    &net_app_dns_tcp,
    &net_app_quic, &net_app_dtls,   &ident_dhcp,      &ident_sip,    &ident_bt_dht,
    &net_app_dns_udp, &ident_ike,   &ident_ntp,
};
const size_t net_app_parser_count = BN_ARRAY_SIZE(net_app_parsers);

static const char *const app_names[NET_APP__COUNT] = {
    [NET_APP_UNKNOWN] = "unknown", [NET_APP_DNS] = "dns",   [NET_APP_HTTP] = "http",
    [NET_APP_TLS] = "tls",         [NET_APP_SSH] = "ssh",   [NET_APP_SMB] = "smb",
    [NET_APP_RDP] = "rdp",         [NET_APP_SMTP] = "smtp", [NET_APP_FTP] = "ftp",
    [NET_APP_DNP3] = "dnp3",       [NET_APP_BT_DHT] = "bittorrent-dht",
    [NET_APP_PGSQL] = "pgsql",     [NET_APP_RFB] = "rfb",   [NET_APP_DCERPC] = "dcerpc",
    [NET_APP_DHCP] = "dhcp",       [NET_APP_IKE] = "ike",   [NET_APP_IMAP] = "imap",
    [NET_APP_POP3] = "pop3",       [NET_APP_SIP] = "sip",   [NET_APP_NTP] = "ntp",
    [NET_APP_HTTP2] = "http2",     [NET_APP_DOH2] = "doh2", [NET_APP_XMPP] = "xmpp",
    [NET_APP_FAILED] = "failed",
};

const char *
net_app_name(enum net_app app)
{
    return (unsigned)app < NET_APP__COUNT ? app_names[app] : "unknown";
}

/*
 * Parsers whose content rule is too loose alone: tried only through the server port hint.
 * DNS over UDP too: a short binary datagram (ONC RPC, NetBIOS name service) can pass for a
 * DNS message, and Suricata tries DNS over UDP on port 53 only (the hint: 53, 5353, 5355).
 */
static bool
port_only(const struct net_app_parser *p)
{
    return p == &ident_ike || p == &ident_ntp || p == &net_app_dns_udp;
}

int
net_app_identify(uint8_t proto, const uint8_t *d, size_t n, enum net_dir dir)
{
    bool more = false;
    if (n > NET_PROBE_MAX)
        n = NET_PROBE_MAX;
    tl_weak_seen = false;
    for (size_t i = 0; i < net_app_parser_count; i++) {
        const struct net_app_parser *p = net_app_parsers[i];
        if (p->proto != proto || port_only(p))
            continue;
        tl_identifying = true;
        int r = p->probe(d, n, dir);
        tl_identifying = false;
        if (r == 1) {
            net_app_stats()->probes[p->app]++;
            return (int)p->app;
        }
        if (r < 0)
            more = true;
    }
    /* bytes that two protocols share are a whole message: content has said all it can, the
     * caller's port hint decides now rather than after more bytes that may never come */
    if (tl_weak_seen)
        return NET_APP_UNKNOWN;
    return more ? -1 : NET_APP_UNKNOWN;
}

enum net_app
net_app_port_hint(uint8_t proto, uint16_t port)
{
    static const struct {
        uint8_t proto;
        uint16_t port;
        enum net_app app;
    } hints[] = {
        {IPPROTO_UDP, 53, NET_APP_DNS},    {IPPROTO_UDP, 5353, NET_APP_DNS},
        {IPPROTO_UDP, 5355, NET_APP_DNS},  {IPPROTO_TCP, 53, NET_APP_DNS},
        {IPPROTO_TCP, 80, NET_APP_HTTP},   {IPPROTO_TCP, 8080, NET_APP_HTTP},
        {IPPROTO_TCP, 8000, NET_APP_HTTP}, {IPPROTO_TCP, 3128, NET_APP_HTTP},
        {IPPROTO_TCP, 443, NET_APP_TLS},   {IPPROTO_TCP, 8443, NET_APP_TLS},
        {IPPROTO_TCP, 465, NET_APP_TLS},   {IPPROTO_TCP, 636, NET_APP_TLS},
        {IPPROTO_TCP, 853, NET_APP_TLS},   {IPPROTO_TCP, 993, NET_APP_TLS},
        {IPPROTO_TCP, 995, NET_APP_TLS},   {IPPROTO_TCP, 22, NET_APP_SSH},
        {IPPROTO_TCP, 445, NET_APP_SMB},   {IPPROTO_TCP, 139, NET_APP_SMB},
        {IPPROTO_TCP, 3389, NET_APP_RDP},  {IPPROTO_TCP, 25, NET_APP_SMTP},
        {IPPROTO_TCP, 587, NET_APP_SMTP},  {IPPROTO_TCP, 21, NET_APP_FTP},
        {IPPROTO_TCP, 20000, NET_APP_DNP3},
        {IPPROTO_TCP, 5432, NET_APP_PGSQL}, {IPPROTO_TCP, 5900, NET_APP_RFB},
        {IPPROTO_TCP, 5901, NET_APP_RFB},   {IPPROTO_TCP, 135, NET_APP_DCERPC},
        {IPPROTO_UDP, 67, NET_APP_DHCP},    {IPPROTO_UDP, 68, NET_APP_DHCP},
        {IPPROTO_UDP, 500, NET_APP_IKE},    {IPPROTO_UDP, 4500, NET_APP_IKE},
        {IPPROTO_TCP, 143, NET_APP_IMAP},   {IPPROTO_TCP, 110, NET_APP_POP3},
        {IPPROTO_UDP, 5060, NET_APP_SIP},   {IPPROTO_TCP, 5060, NET_APP_SIP},
        {IPPROTO_UDP, 123, NET_APP_NTP},    {IPPROTO_TCP, 5222, NET_APP_XMPP},
        {IPPROTO_TCP, 5269, NET_APP_XMPP},
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(hints); i++)
        if (hints[i].proto == proto && hints[i].port == port)
            return hints[i].app;
    return NET_APP_UNKNOWN;
}

const struct net_app_parser *
net_app_parser_for(enum net_app app, uint8_t proto)
{
    for (size_t i = 0; i < net_app_parser_count; i++)
        if (net_app_parsers[i]->app == app && net_app_parsers[i]->proto == proto)
            return net_app_parsers[i];
    return NULL;
}
