/*
 * ndr_dnstun.c - DNS tunnelling and DGA-like lookups, seen in DNS records.
 *
 * Tunnelling: a client sends data in the names it asks for, so under one registered domain
 * it asks for many distinct, long, high-entropy names (often TXT or NULL, whose answers carry
 * the most bytes back). Per (client, domain) in a window: distinct names, mean length,
 * entropy and randomness (the letter-pair model below: encoded data reads like no language,
 * cloud host names such as shop-api-prod-7.eu-west-1.elb do) of the part left of the
 * domain, and TXT/NULL queries for distinct long names.
 *
 * DGA: malware computes many domain names a day and tries them until one resolves, so a
 * client looks up many distinct registered domains whose label reads like no language
 * (letter-pair model below), most of them answered NXDOMAIN. Per client in a window: such
 * domains, and NXDOMAIN answers for them.
 *
 * The registered domain is the last two labels, three under a two-letter country code whose
 * second level is a generic one (co.uk, com.au, ...): no public suffix list, so a name under
 * a multi-label suffix this rule does not know is taken one label too short.
 */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sensor/app.h"
#include "sensor/ndr_int.h"

#define BASE_SHOWN         64
#define EXAMPLE_SHOWN      96
#define TUNNEL_ENTROPY_MIN 3.5 /* bits per character of the subdomain part, on average */
#define TUNNEL_RANDOM_MIN  0.5 /* mean ndr_dga_score of the subdomain parts: encoded data */
#define TUNNEL_TXT_SUB_MIN 8   /* a TXT/NULL query counts when its subdomain is this long */
#define DGA_LIKE           0.5 /* ndr_dga_score at or above: machine-generated */
#define SEEN_EXACT         64  /* names per window remembered exactly (32-bit fingerprints) */

/*
 * -log2 P(next letter | letter) in 1/16 bit, add-one smoothed, computed from the English
 * text of Debian 12's /usr/share/common-licenses and its first 3,000 section-1 man pages.
 * Real names average 3-5 bits per letter pair; uniformly random letters 6.5-9.
 */
static const uint8_t bigram_bits[26][26] = {
    /* a */ {194, 73,  59, 84,  173, 128, 63, 227, 70, 203, 128, 49,  68,
             41,  255, 77, 147, 54,  78,  41, 87,  96, 152, 125, 101, 164},
    /* b */ {55,  124, 96,  99,  31, 129, 110, 144, 61,  117, 155, 42, 116,
             103, 65,  121, 151, 83, 85,  123, 45,  154, 152, 176, 65, 131},
    /* c */ {59,  181, 70,  164, 42, 180, 198, 64, 65,  226, 76,  51, 141,
             211, 34,  128, 181, 69, 114, 52,  83, 213, 146, 198, 93, 255},
    /* d */ {58,  108, 136, 78,  17, 160, 127, 178, 44,  175, 131, 116, 119,
             121, 64,  87,  160, 87, 61,  138, 91,  139, 148, 198, 128, 246},
    /* e */ {76, 131, 56, 54,  99, 88, 89, 164, 132, 209, 177, 72,  83,
             47, 158, 96, 114, 40, 42, 60, 146, 110, 112, 76,  103, 214},
    /* f */ {78,  43, 163, 176, 98, 107, 195, 240, 32,  255, 233, 65,  195,
             190, 54, 86,  182, 27, 156, 113, 94,  244, 235, 228, 100, 255},
    /* g */ {84, 150, 41,  163, 38, 164, 100, 71, 47,  203, 129, 73,  133,
             88, 80,  123, 145, 60, 51,  106, 50, 170, 225, 246, 166, 175},
    /* h */ {42,  175, 166, 178, 15,  213, 218, 176, 46,  255, 239, 167, 122,
             159, 66,  86,  250, 118, 155, 66,  121, 219, 246, 255, 126, 153},
    /* i */ {91, 92, 66, 76,  70, 65, 76, 175, 141, 198, 135, 60,  81,
             38, 51, 75, 185, 86, 48, 56, 155, 96,  176, 117, 200, 106},
    /* j */ {112, 193, 141, 171, 5,   166, 205, 214, 147, 214, 198, 193, 168,
             230, 55,  150, 198, 189, 70,  230, 86,  214, 147, 230, 230, 230},
    /* k */ {67,  141, 98,  130, 15,  126, 76,  219, 66,  212, 196, 84,  76,
             106, 150, 160, 163, 118, 59,  133, 45,  207, 142, 228, 164, 207},
    /* l */ {49,  161, 172, 84,  38,  148, 173, 206, 44,  239, 197, 55, 188,
             181, 41,  63,  188, 161, 72,  73,  76,  156, 158, 235, 66, 233},
    /* m */ {32,  85, 161, 142, 32,  182, 203, 208, 55,  213, 198, 117, 53,
             140, 64, 47,  214, 189, 97,  157, 76,  185, 187, 203, 92,  249},
    /* n */ {52, 171, 69,  44,  51,  80, 49, 161, 85, 198, 140, 93,  114,
             97, 63,  137, 214, 144, 57, 40, 99,  96, 231, 255, 108, 191},
    /* o */ {116, 112, 83, 90,  145, 69, 94, 197, 117, 84, 107, 77,  55,
             34,  93,  76, 204, 43,  86, 73, 45,  87,  91, 131, 131, 229},
    /* p */ {61,  230, 126, 91,  42, 185, 140, 61, 66,  255, 118, 58,  164,
             138, 54,  71,  207, 40, 72,  65,  58, 126, 191, 227, 124, 255},
    /* q */ {158, 192, 160, 98,  169, 157, 192, 167, 155, 217, 217, 76,  173,
             128, 180, 122, 201, 148, 118, 122, 2,   164, 201, 201, 192, 217},
    /* r */ {62,  111, 78,  97,  28, 118, 75, 201, 55, 255, 97,  105, 79,
             102, 47,  132, 193, 83, 56,  74, 83,  85, 129, 224, 85,  255},
    /* s */ {97,  193, 73, 134, 37,  141, 186, 56, 54,  255, 107, 109, 138,
             124, 59,  52, 153, 144, 56,  38,  84, 173, 149, 221, 94,  229},
    /* t */ {60,  170, 117, 161, 40, 137, 196, 30,  47,  251, 228, 110, 152,
             168, 53,  63,  246, 74, 75,  77,  107, 214, 109, 185, 88,  243},
    /* u */ {92, 87,  102, 48,  74, 159, 116, 255, 81,  255, 246, 60,  61,
             54, 128, 59,  255, 49, 47,  41,  203, 217, 255, 157, 255, 246},
    /* v */ {30,  144, 157, 189, 24,  183, 221, 197, 27,  255, 237, 150, 88,
             161, 85,  96,  255, 173, 144, 175, 155, 174, 221, 168, 247, 221},
    /* w */ {51, 197, 182, 148, 66, 190, 211, 50,  17,  243, 157, 76,  211,
             92, 49,  171, 255, 96, 89,  169, 130, 243, 94,  188, 234, 234},
    /* x */ {34,  196, 76, 137, 64,  138, 187, 147, 44,  238, 238, 150, 123,
             200, 170, 32, 222, 126, 139, 40,  136, 187, 174, 100, 68,  175},
    /* y */ {85, 144, 122, 85,  83, 165, 184, 186, 43,  227, 227, 108, 79,
             48, 35,  40,  243, 84, 46,  85,  144, 135, 140, 218, 132, 127},
    /* z */ {40,  204, 138, 158, 24,  165, 143, 204, 78,  188, 188, 140, 131,
             179, 22,  204, 220, 158, 147, 183, 85,  183, 220, 220, 146, 122},
};

double
ndr_dga_score(const char *label, size_t n)
{
    if (n < 8 || (n >= 4 && memcmp(label, "xn--", 4) == 0))
        return 0; /* too short to judge; punycode is an encoding, not randomness */
    size_t digits = 0, letters = 0, pairs = 0;
    unsigned bits16 = 0;
    for (size_t i = 0; i < n; i++) {
        int c = tolower((unsigned char)label[i]);
        if (isdigit(c))
            digits++;
        if (c < 'a' || c > 'z')
            continue;
        letters++;
        int nx = i + 1 < n ? tolower((unsigned char)label[i + 1]) : 0;
        if (nx >= 'a' && nx <= 'z') {
            bits16 += bigram_bits[c - 'a'][nx - 'a'];
            pairs++;
        }
    }
    double s = 0;
    if (pairs >= 3) {
        double avg = bits16 / 16.0 / (double)pairs;
        s = (avg - 5.0) / 3.0; /* 6.5 bits per pair -> 0.5, 8 -> 1 */
    }
    /* Letters and digits mixed through a long label: a hash or counter rendered as a name. */
    double df = (double)digits / (double)n, lf = (double)letters / (double)n;
    if (n >= 12 && df >= 0.2 && lf >= 0.2)
        s = BN_MAX(s, 0.6);
    s *= BN_MIN(1.0, 0.85 + 0.05 * (double)(n - 8)); /* 8 letters: little evidence */
    return s < 0 ? 0 : s > 1 ? 1 : s;
}

double
ndr_entropy(const char *s, size_t n)
{
    unsigned cnt[256] = {0};
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        cnt[(unsigned char)s[i]]++;
    double h = 0;
    for (size_t i = 0; i < 256; i++) {
        if (!cnt[i])
            continue;
        double p = (double)cnt[i] / (double)n;
        h -= p * log2(p);
    }
    return h;
}

static bool
generic_sld(const char *s, size_t n)
{
    static const char *const g[] = {"co", "com", "net", "org", "gov", "edu", "ac",  "or",
                                    "ne", "go",  "gob", "mil", "nic", "ltd", "plc", "sch"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(g); i++)
        if (strlen(g[i]) == n && memcmp(g[i], s, n) == 0)
            return true;
    return false;
}

size_t
ndr_dns_base_len(const char *name, size_t len)
{
    /* dots[0] is the last dot, dots[1] the one before, ... */
    size_t dots[3];
    size_t nd = 0;
    for (size_t i = len; i > 0 && nd < 3; i--)
        if (name[i - 1] == '.')
            dots[nd++] = i - 1;
    if (nd == 0)
        return len;
    size_t tld_len = len - dots[0] - 1;
    size_t base = len - (nd >= 2 ? dots[1] + 1 : 0);
    if (tld_len == 2 && nd >= 2) {
        const char *sld = name + dots[1] + 1;
        if (generic_sld(sld, dots[0] - dots[1] - 1))
            base = len - (nd >= 3 ? dots[2] + 1 : 0);
    }
    return base;
}

/*
 * Which names a window has seen. The first SEEN_EXACT distinct names are kept as 32-bit
 * fingerprints of their keyed hash, so up to and past the thresholds (50 names, 30 TXT) a
 * name is counted once and never lost to a collision; beyond, a 512-bit sketch answers
 * (a colliding new name is then taken for a repeat: an undercount, never an overcount).
 * With the sketch alone, ~5 % of the bins collide by 50 names and which names were skipped
 * moved with the per-run hash key, so a trace near a threshold alerted in some runs only.
 */
struct seen_names {
    struct ndr_distinct sketch;
    uint32_t fp[SEEN_EXACT];
    uint32_t nfp;
};

/* Records h; true when it was not seen before in this window. */
static bool
seen_add(struct seen_names *s, uint64_t h)
{
    unsigned bit = (unsigned)(h & 511);
    bool in_sketch = (s->sketch.bits[bit >> 6] >> (bit & 63)) & 1;
    if (s->nfp < SEEN_EXACT) {
        uint32_t fp = (uint32_t)(h >> 32);
        for (uint32_t i = 0; i < s->nfp; i++)
            if (s->fp[i] == fp)
                return false;
        s->fp[s->nfp++] = fp;
    } else if (in_sketch) {
        return false;
    }
    ndr_distinct_add(&s->sketch, h);
    return true;
}

struct dom_key {
    struct net_addr cli;
    uint64_t base_hash;
};

struct dom_counts {
    uint32_t names; /* distinct names (first sighting in the sketch) */
    uint32_t queries;
    uint32_t txt; /* TXT/NULL queries for distinct long names */
    uint32_t max_sub;
    uint64_t sub_len; /* over distinct names */
    double entropy;   /* sum over distinct names with a subdomain part */
    double random;    /* sum of ndr_dga_score of the subdomain parts */
    struct seen_names seen;
};

struct dom_val {
    struct ndr_window w;
    struct dom_counts c;
    char base[BASE_SHOWN];
    char example[EXAMPLE_SHOWN];
};

struct cli_key {
    struct net_addr cli;
};

struct cli_counts {
    uint32_t dga; /* distinct DGA-like registered domains */
    uint32_t nx;  /* NXDOMAIN answers for DGA-like names */
    uint32_t lookups;
    struct seen_names seen;
    char example[EXAMPLE_SHOWN];
};

struct cli_val {
    struct ndr_window w;
    struct cli_counts c;
};

int
ndr_dns_init(struct ndr *d)
{
    int rc = ndr_tab_init(&d->dns_dom, "dns_domain", sizeof(struct dom_key), sizeof(struct dom_val),
                          (size_t)d->cfg.dns_domains_max, d->hkey);
    if (!rc)
        rc = ndr_tab_init(&d->dns_cli, "dns_client", sizeof(struct cli_key), sizeof(struct cli_val),
                          (size_t)d->cfg.max_sources, d->hkey);
    return rc;
}

/* Lower-cased name without the trailing dot in out; 0 when it is not worth looking at. */
static size_t
normalize(const char *in, char *out, size_t size)
{
    size_t n = strnlen(in, NET_DNS_NAME_MAX);
    while (n > 0 && in[n - 1] == '.')
        n--;
    if (n == 0 || n >= size)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '\0';
    static const char *const skip[] = {".arpa", ".local", ".localdomain", ".home.arpa"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(skip); i++) {
        size_t l = strlen(skip[i]);
        if (n >= l && memcmp(out + n - l, skip[i], l) == 0)
            return 0;
    }
    if (!memchr(out, '.', n))
        return 0; /* a bare host name (search-domain lookups) */
    return n;
}

static void
copy_shown(char *dst, size_t size, const char *s, size_t n)
{
    n = BN_MIN(n, size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void
tunnel_query(struct ndr *d, const struct net_record *rec, const char *name, size_t n,
             uint16_t qtype, struct net_sink *sink)
{
    const struct net_flow *f = rec->flow;
    size_t bl = ndr_dns_base_len(name, n);
    const char *base = name + n - bl;
    size_t sub = n > bl ? n - bl - 1 : 0;
    struct dom_key k;
    memset(&k, 0, sizeof(k));
    k.cli = ndr_addr(&f->cli);
    k.base_hash = ndr_hash(d, base, bl);
    bool created;
    struct dom_val *v = ndr_tab_put(&d->dns_dom, &k, d->now_ns, &created);
    if (!v)
        return;
    if (created)
        copy_shown(v->base, sizeof(v->base), base, bl);
    uint64_t now = d->now_ns;
    ndr_window_roll(&v->w, now, (uint64_t)d->cfg.dns_window_ms * NDR_NS_PER_MS, &v->c,
                    sizeof(v->c));
    v->c.queries++;
    if (sub == 0 || !seen_add(&v->c.seen, ndr_hash(d, name, n)))
        return;
    /* The subdomain part without its dots: what carries the data. */
    char buf[NET_DNS_NAME_MAX];
    size_t m = 0;
    for (size_t i = 0; i < sub; i++)
        if (name[i] != '.')
            buf[m++] = name[i];
    v->c.names++;
    v->c.sub_len += sub;
    v->c.max_sub = BN_MAX(v->c.max_sub, (uint32_t)sub);
    v->c.entropy += ndr_entropy(buf, m);
    v->c.random += ndr_dga_score(buf, m);
    if ((qtype == 16 || qtype == 10) && sub >= TUNNEL_TXT_SUB_MIN)
        v->c.txt++;
    if (sub > strlen(v->example))
        copy_shown(v->example, sizeof(v->example), name, n);
    if (v->w.alerted)
        return;
    double mean_len = (double)v->c.sub_len / v->c.names;
    double mean_h = v->c.entropy / v->c.names;
    double mean_r = v->c.random / v->c.names;
    bool encoded = mean_h >= TUNNEL_ENTROPY_MIN && mean_r >= TUNNEL_RANDOM_MIN;
    bool by_names = v->c.names >= (uint64_t)d->cfg.dns_tunnel_names &&
                    mean_len >= (double)d->cfg.dns_tunnel_label_len && encoded;
    bool by_txt = v->c.txt >= (uint64_t)d->cfg.dns_tunnel_txt && encoded;
    if (!by_names && !by_txt)
        return;
    v->w.alerted = 1;
    struct net_alert a;
    ndr_alert_init(&a, NDR_SIG_DNS_TUNNEL, &f->cli);
    a.dst = ndr_addr(&f->srv);
    a.has_dst = 1;
    a.dport = f->sport;
    a.has_ports = 1;
    a.proto = f->proto;
    a.first_ns = v->w.start_ns;
    a.last_ns = now;
    double len_part = BN_MIN(1.0, mean_len / 63.0), h_part = BN_MIN(1.0, mean_h / 5.0);
    a.score = BN_MIN(100.0, 40 * len_part + 40 * h_part +
                                20 * BN_MIN(1.0, v->c.names / (2.0 * d->cfg.dns_tunnel_names)));
    ndr_alert_detail(&a,
                     "%u distinct names under %s in %.0f s (%u queries, %u TXT/NULL), mean "
                     "subdomain %.0f chars (max %u), %.2f bits/char, randomness %.2f, e.g. %.60s",
                     v->c.names, v->base, (double)(now - v->w.start_ns) / 1e9, v->c.queries,
                     v->c.txt, mean_len, v->c.max_sub, mean_h, mean_r, v->example);
    ndr_alert_emit(d, sink, &a, k.base_hash, f, rec->pcap_cnt);
}

/* The registered domain's own label ("example" of "a.example.co.uk"). */
static void
base_label(const char *name, size_t n, const char **lab, size_t *lab_len)
{
    size_t bl = ndr_dns_base_len(name, n);
    const char *b = name + n - bl;
    const char *dot = memchr(b, '.', bl);
    *lab = b;
    *lab_len = dot ? (size_t)(dot - b) : bl;
}

static void
dga_query(struct ndr *d, const struct net_record *rec, const char *name, size_t n, bool is_response,
          uint8_t rcode, struct net_sink *sink)
{
    const char *lab;
    size_t lab_len;
    base_label(name, n, &lab, &lab_len);
    if (ndr_dga_score(lab, lab_len) < DGA_LIKE)
        return;
    const struct net_flow *f = rec->flow;
    struct cli_key k;
    memset(&k, 0, sizeof(k));
    k.cli = ndr_addr(&f->cli);
    struct cli_val *v = ndr_tab_put(&d->dns_cli, &k, d->now_ns, NULL);
    if (!v)
        return;
    uint64_t now = d->now_ns;
    ndr_window_roll(&v->w, now, (uint64_t)d->cfg.dns_window_ms * NDR_NS_PER_MS, &v->c,
                    sizeof(v->c));
    if (is_response) {
        if (rcode == 3 && v->c.nx < v->c.dga)
            v->c.nx++;
    } else {
        v->c.lookups++;
        size_t bl = ndr_dns_base_len(name, n);
        if (!seen_add(&v->c.seen, ndr_hash(d, name + n - bl, bl)))
            return;
        v->c.dga++;
        if (!v->c.example[0])
            copy_shown(v->c.example, sizeof(v->c.example), name + n - bl, bl);
    }
    uint64_t thr = (uint64_t)d->cfg.dns_dga_names;
    if (v->w.alerted || v->c.dga < thr || (v->c.nx * 2 < v->c.dga && v->c.dga < 3 * thr))
        return;
    v->w.alerted = 1;
    struct net_alert a;
    ndr_alert_init(&a, NDR_SIG_DNS_DGA, &f->cli);
    a.dst = ndr_addr(&f->srv);
    a.has_dst = 1;
    a.dport = f->sport;
    a.has_ports = 1;
    a.proto = f->proto;
    a.first_ns = v->w.start_ns;
    a.last_ns = now;
    a.score = BN_MIN(100.0, 50.0 * v->c.dga / (double)thr * (0.5 + 0.5 * v->c.nx / v->c.dga));
    ndr_alert_detail(&a,
                     "%u distinct machine-generated-looking domains in %.0f s, %u answered "
                     "NXDOMAIN, e.g. %s",
                     v->c.dga, (double)(now - v->w.start_ns) / 1e9, v->c.nx, v->c.example);
    ndr_alert_emit(d, sink, &a, 0, f, rec->pcap_cnt);
}

void
ndr_dns_record(struct ndr *d, const struct net_record *rec, struct net_sink *sink)
{
    const struct net_dns_rec *r = rec->body;
    size_t nq = BN_MIN((size_t)r->n_queries, (size_t)NET_DNS_QUERIES_MAX);
    char name[NET_DNS_NAME_MAX];
    for (size_t i = 0; i < nq; i++) {
        size_t n = normalize(r->queries[i].name, name, sizeof(name));
        if (n == 0)
            continue;
        if (!r->is_response)
            tunnel_query(d, rec, name, n, r->queries[i].type, sink);
        dga_query(d, rec, name, n, r->is_response, r->rcode, sink);
    }
}
