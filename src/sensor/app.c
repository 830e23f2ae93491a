/*
 * app.c - the application parser registry, protocol identification by content (with ports
 * only as a hint), the parsers' counters and the byte helpers they share.
 *
 * DNS, HTTP, TLS and SSH have full parsers (app_dns.c, app_http.c, app_tls.c, app_ssh.c).
 * SMB, RDP, SMTP and FTP are identified from their first bytes only: their registry entries
 * claim the flow (so flow records say what it is); SMTP, FTP and RDP flows that switch to
 * TLS get the TLS parser from that point.
 */
#include <netinet/in.h>
#include <string.h>

#include <openssl/evp.h>

#include "sensor/app_int.h"
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

/* ---- byte helpers ---- */

size_t
app_copy(char *dst, size_t dsz, const void *src, size_t n, uint8_t *trunc)
{
    static const char hexd[] = "0123456789abcdef";
    const uint8_t *s = src;
    size_t o = 0;
    bool cut = false;
    if (!dsz)
        return 0;
    /* Suricata's rule: valid UTF-8 is kept, otherwise bytes past ASCII become \xNN */
    bool esc_high = !bn_utf8_valid((const char *)s, n);
    for (size_t i = 0; i < n; i++) {
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

static int
digest(const EVP_MD *md, const void *s, size_t n, uint8_t *out, unsigned *outlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = BN_EINTERNAL;
    if (!ctx)
        return BN_ENOMEM;
    if (EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, s, n) == 1 &&
        EVP_DigestFinal_ex(ctx, out, outlen) == 1)
        rc = 0;
    EVP_MD_CTX_free(ctx);
    return rc;
}

int
app_md5_hex(const void *s, size_t n, char out[33])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    out[0] = '\0';
    int rc = digest(EVP_md5(), s, n, md, &len);
    if (rc)
        return rc;
    app_hex(out, 33, md, 16, 0, false);
    return 0;
}

int
app_sha256_12(const void *s, size_t n, char out[13])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    out[0] = '\0';
    int rc = digest(EVP_sha256(), s, n, md, &len);
    if (rc)
        return rc;
    app_hex(out, 13, md, 6, 0, false);
    return 0;
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

int
app_acc_add(struct app_acc *a, const uint8_t *d, size_t n, size_t max)
{
    if (n > max || a->len > max - n)
        return BN_ETOOBIG;
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap : 1024;
        while (cap < a->len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        uint8_t *p = bn_realloc(a->p, cap);
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
    if (n < 5)
        return app_prefix_ci(d, n, "USER") ? -1 : 0;
    return app_prefix_ci(d, n, "USER ") ? 1 : 0;
}

/*
 * Flows of identified-only protocols: nothing is parsed, except that SMTP, FTP and RDP may
 * switch to TLS (STARTTLS, AUTH TLS, RDP's TLS security): a chunk that starts with a TLS
 * hello hands the rest of the flow to the TLS parser, so the session's tls record (and
 * Zeek's ssl.log line) is still produced. SMB flows keep no state.
 */
struct ident_state {
    void *tls; /* the TLS parser's state once the flow switched */
};

static char ident_marker; /* open() result for SMB: no state */

static void *
ident_open(struct net_flow *f)
{
    if (f && f->app == NET_APP_SMB)
        return &ident_marker;
    struct ident_state *st = bn_calloc(1, sizeof(*st));
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

static void
ident_close(void *vst, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct ident_state *st = vst;
    if (!st || vst == &ident_marker)
        return;
    if (st->tls)
        net_app_tls.close(st->tls, f, ts_ns, sink);
    bn_free(st);
}

#define IDENT_PARSER(var, nm, appid, probefn, p0, p1)                                              \
    static const struct net_app_parser var = {                                                     \
        .name = nm,                                                                                \
        .app = appid,                                                                              \
        .proto = IPPROTO_TCP,                                                                      \
        .ports = {p0, p1, 0, 0},                                                                   \
        .probe = probefn,                                                                          \
        .open = ident_open,                                                                        \
        .data = ident_data,                                                                        \
        .gap = ident_gap,                                                                          \
        .close = ident_close,                                                                      \
    }

IDENT_PARSER(ident_smb, "smb", NET_APP_SMB, app_probe_smb, 445, 139);
IDENT_PARSER(ident_rdp, "rdp", NET_APP_RDP, app_probe_rdp, 3389, 0);
IDENT_PARSER(ident_smtp, "smtp", NET_APP_SMTP, app_probe_smtp, 25, 587);
IDENT_PARSER(ident_ftp, "ftp", NET_APP_FTP, app_probe_ftp, 21, 0);

/* Probe order: the most specific signatures first, DNS over TCP (a length word) last. */
const struct net_app_parser *const net_app_parsers[] = {
    &net_app_tls, &net_app_ssh,     &net_app_http, &ident_smb,    &ident_rdp,       &ident_smtp,
    &ident_ftp,   &net_app_dns_tcp, &net_app_quic, &net_app_dtls, &net_app_dns_udp,
};
const size_t net_app_parser_count = BN_ARRAY_SIZE(net_app_parsers);

static const char *const app_names[NET_APP__COUNT] = {
    [NET_APP_UNKNOWN] = "unknown", [NET_APP_DNS] = "dns",   [NET_APP_HTTP] = "http",
    [NET_APP_TLS] = "tls",         [NET_APP_SSH] = "ssh",   [NET_APP_SMB] = "smb",
    [NET_APP_RDP] = "rdp",         [NET_APP_SMTP] = "smtp", [NET_APP_FTP] = "ftp",
    [NET_APP_FAILED] = "failed",
};

const char *
net_app_name(enum net_app app)
{
    return (unsigned)app < NET_APP__COUNT ? app_names[app] : "unknown";
}

int
net_app_identify(uint8_t proto, const uint8_t *d, size_t n, enum net_dir dir)
{
    bool more = false;
    if (n > NET_PROBE_MAX)
        n = NET_PROBE_MAX;
    for (size_t i = 0; i < net_app_parser_count; i++) {
        const struct net_app_parser *p = net_app_parsers[i];
        if (p->proto != proto)
            continue;
        int r = p->probe(d, n, dir);
        if (r == 1) {
            net_app_stats()->probes[p->app]++;
            return (int)p->app;
        }
        if (r < 0)
            more = true;
    }
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
