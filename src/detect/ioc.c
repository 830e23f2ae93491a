/*
 * ioc.c - indicator-of-compromise sets (see bannin/ioc.h): loaders for CSV and STIX 2.1
 * bundles, normalisation, and allocation-free lookups.
 *
 * Every indicator is one entry; exact values (hashes as binary, single addresses as 4 or 16
 * bytes, names as lower-case text) live in one open-addressing table keyed by (type, bytes)
 * with a per-set random seed, so hostile feeds cannot force collisions. CIDR ranges go into
 * a binary trie per family; the deepest range on an address's path is the match.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/ioc.h"
#include "bannin/limits.h"
#include "bannin/pool.h"
#include "bannin/timeutil.h"
#include "bannin/hex.h"
#include "../common/hash.h"

#define IOC_TRIE_NODES_MAX (32u << 20)

struct ioc_ent {
    const uint8_t *key;    /* normalised lookup bytes (pool) */
    uint32_t klen;
    uint8_t type;
    const char *value;     /* printable normalised value (pool) */
    const char *source;
    const char *comment;
};

struct trie_node {
    uint32_t child[2];     /* node index, 0 = none (node 0 and 1 are the roots) */
    uint32_t ent;          /* entry index + 1 of a range ending here, 0 = none */
};

struct bn_ioc_set {
    struct bn_pool *pool;
    struct ioc_ent *ents;
    size_t nents, capents;
    uint64_t *slots;       /* high 32 bits: hash tag; low 32: entry index + 1, 0 = empty */
    size_t nslots;         /* power of two */
    uint64_t *bloom;       /* nslots * 8 bits, two per key: most misses stay in cache */
    uint64_t seed;
    struct trie_node *nodes;
    size_t nnodes, capnodes;
    size_t count[BN_IOC_TYPES];
};

static const char *const type_names[BN_IOC_TYPES] = {
    "sha256", "sha1", "md5", "ip", "domain", "url", "sni", "ja3", "ja4",
};

const char *
bn_ioc_type_name(int type)
{
    return (type >= 0 && type < BN_IOC_TYPES) ? type_names[type] : "?";
}

static bool
ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

int
bn_ioc_type_parse(const char *s, size_t len)
{
    static const struct {
        const char *name;
        int type;
    } alias[] = {
        {"sha256", BN_IOC_SHA256}, {"sha-256", BN_IOC_SHA256}, {"sha1", BN_IOC_SHA1},
        {"sha-1", BN_IOC_SHA1},    {"md5", BN_IOC_MD5},        {"hash", -2},
        {"ip", BN_IOC_IP},         {"ipv4", BN_IOC_IP},        {"ipv6", BN_IOC_IP},
        {"cidr", BN_IOC_IP},       {"ip-src", BN_IOC_IP},      {"ip-dst", BN_IOC_IP},
        {"ipv4-addr", BN_IOC_IP},  {"ipv6-addr", BN_IOC_IP},   {"domain", BN_IOC_DOMAIN},
        {"hostname", BN_IOC_DOMAIN}, {"domain-name", BN_IOC_DOMAIN}, {"fqdn", BN_IOC_DOMAIN},
        {"url", BN_IOC_URL},       {"uri", BN_IOC_URL},        {"sni", BN_IOC_SNI},
        {"ja3", BN_IOC_JA3},       {"ja3s", BN_IOC_JA3},       {"ja4", BN_IOC_JA4},
    };
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < BN_ARRAY_SIZE(alias); i++)
        if (ieq(s, len, alias[i].name))
            return alias[i].type;
    return -1;
}

struct bn_ioc_set *
bn_ioc_set_new(void)
{
    struct bn_ioc_set *set = bn_calloc(1, sizeof(*set));
    if (!set)
        return NULL;
    set->pool = bn_pool_new(64 << 10);
    set->nslots = 1024;
    set->slots = bn_calloc(set->nslots, sizeof(*set->slots));
    set->bloom = bn_calloc(set->nslots / 8, sizeof(*set->bloom));
    set->capnodes = 64;
    set->nodes = bn_calloc(set->capnodes, sizeof(*set->nodes));
    if (!set->pool || !set->slots || !set->bloom || !set->nodes) {
        bn_ioc_set_free(set);
        return NULL;
    }
    set->nnodes = 2; /* roots: IPv4, IPv6 */
    if (getrandom(&set->seed, sizeof(set->seed), GRND_NONBLOCK) != (ssize_t)sizeof(set->seed))
        set->seed = (uint64_t)(uintptr_t)set ^ (uint64_t)time(NULL);
    return set;
}

void
bn_ioc_set_free(struct bn_ioc_set *set)
{
    if (!set)
        return;
    bn_pool_free(set->pool);
    bn_free(set->ents);
    bn_free(set->slots);
    bn_free(set->bloom);
    bn_free(set->nodes);
    bn_free(set);
}

size_t
bn_ioc_count(const struct bn_ioc_set *set, int type)
{
    if (!set)
        return 0;
    if (type == BN_IOC_TYPES)
        return set->nents;
    return (type >= 0 && type < BN_IOC_TYPES) ? set->count[type] : 0;
}

int
bn_ioc_foreach(const struct bn_ioc_set *set, bn_ioc_each_cb cb, void *ctx)
{
    if (!set || !cb)
        return 0;
    for (size_t i = 0; i < set->nents; i++) {
        const struct ioc_ent *en = &set->ents[i];
        struct bn_ioc_match m = {en->type, en->value, en->source, en->comment};
        int rc = cb(ctx, &m);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- normalisation ----------------------------------------------------------------------- */

static size_t
hash_len(int type)
{
    switch (type) {
    case BN_IOC_SHA256:
        return 32;
    case BN_IOC_SHA1:
        return 20;
    case BN_IOC_MD5:
    case BN_IOC_JA3:
        return 16;
    default:
        return 0;
    }
}

/*
 * Undoes the usual defanging of shared indicators ("hxxp://", "evil[.]com", "1.2.3(.)4")
 * while copying s into out (size BN_IOC_VALUE_MAX + 1) and trimming blanks. Returns the length,
 * or SIZE_MAX when too long.
 */
static size_t
refang(const char *s, size_t len, char *out)
{
    while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
                       s[len - 1] == '\n'))
        len--;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (i + 3 <= len && (s[i] == '[' || s[i] == '(') && s[i + 1] == '.' &&
            (s[i + 2] == ']' || s[i + 2] == ')')) {
            if (o >= BN_IOC_VALUE_MAX)
                return SIZE_MAX;
            out[o++] = '.';
            i += 3;
            continue;
        }
        if (i == 0 && len >= 4 && (s[0] == 'h' || s[0] == 'H') && (s[1] == 'x' || s[1] == 'X') &&
            (s[2] == 'x' || s[2] == 'X') && (s[3] == 'p' || s[3] == 'P')) {
            if (o + 4 > BN_IOC_VALUE_MAX)
                return SIZE_MAX;
            memcpy(out, "http", 4);
            o = 4;
            i = 4;
            continue;
        }
        if (o >= BN_IOC_VALUE_MAX)
            return SIZE_MAX;
        out[o++] = s[i++];
    }
    out[o] = '\0';
    return o;
}

static void
lower(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
}

/* Lower-cases a DNS name in place, drops "*." and a trailing dot; false if not a name. */
static bool
norm_domain(char *s, size_t *len)
{
    size_t n = *len;
    if (n >= 2 && s[0] == '*' && s[1] == '.') {
        memmove(s, s + 2, n - 2);
        n -= 2;
    }
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            s[i] = c = (char)(c - 'A' + 'a');
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        if (++label > 63)
            return false;
    }
    if (label == 0)
        return false;
    s[n] = '\0';
    *len = n;
    return true;
}

/*
 * Parses an address or CIDR (text, NUL-terminated). IPv4-mapped IPv6 becomes IPv4.
 * Sets family (4 or 6), addr (host bits cleared) and prefix length.
 */
static bool
parse_ip(const char *s, size_t len, int *fam, uint8_t addr[16], unsigned *plen)
{
    char tmp[INET6_ADDRSTRLEN + 8];
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (alen == 0 || alen >= INET6_ADDRSTRLEN)
        return false;
    memcpy(tmp, s, alen);
    tmp[alen] = '\0';
    /* a zone id (fe80::1%eth0) names a link, not a host anywhere else: drop it */
    char *pct = strchr(tmp, '%');
    if (pct)
        *pct = '\0';
    unsigned maxp;
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, tmp, addr) == 1) {
        *fam = 4;
        maxp = 32;
    } else if (inet_pton(AF_INET6, tmp, addr) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        *fam = 6;
        maxp = 128;
        if (memcmp(addr, mapped, 12) == 0) {
            memmove(addr, addr + 12, 4);
            memset(addr + 4, 0, 12);
            *fam = 4;
            maxp = 32;
            if (slash)
                return false; /* a prefix on a mapped address is ambiguous */
        }
    } else {
        return false;
    }
    unsigned p = maxp;
    if (slash) {
        size_t i = alen + 1;
        if (i >= len || len - i > 3)
            return false;
        p = 0;
        for (; i < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            p = p * 10 + (unsigned)(s[i] - '0');
        }
        if (p > maxp)
            return false;
    }
    for (unsigned b = p; b < maxp; b++)
        addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
    *plen = p;
    return true;
}

/* ---- the table --------------------------------------------------------------------------- */

static uint64_t
ent_hash(const struct bn_ioc_set *set, int type, const uint8_t *k, size_t klen)
{
    return bn__hash(k, klen, set->seed ^ ((uint64_t)type * 0x9e3779b97f4a7c15ull));
}

static void
bloom_set(uint64_t *bloom, size_t nslots, uint64_t h)
{
    size_t bits = nslots * 8 - 1;
    size_t a = (size_t)(h >> 17) & bits, b = (size_t)((h >> 41) ^ (h << 7)) & bits;
    bloom[a / 64] |= 1ull << (a % 64);
    bloom[b / 64] |= 1ull << (b % 64);
}

static bool
bloom_has(const uint64_t *bloom, size_t nslots, uint64_t h)
{
    size_t bits = nslots * 8 - 1;
    size_t a = (size_t)(h >> 17) & bits, b = (size_t)((h >> 41) ^ (h << 7)) & bits;
    return (bloom[a / 64] >> (a % 64) & 1) && (bloom[b / 64] >> (b % 64) & 1);
}

/* A slot keeps the high half of the hash: most mismatches never touch the entry. */
static const struct ioc_ent *
table_find(const struct bn_ioc_set *set, int type, const uint8_t *k, size_t klen)
{
    size_t mask = set->nslots - 1;
    uint64_t h = ent_hash(set, type, k, klen), tag = h >> 32;
    if (!bloom_has(set->bloom, set->nslots, h))
        return NULL;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint64_t sl = set->slots[i];
        if (sl == 0)
            return NULL;
        if ((sl >> 32) != tag)
            continue;
        const struct ioc_ent *en = &set->ents[(uint32_t)sl - 1];
        if (en->type == type && en->klen == klen && memcmp(en->key, k, klen) == 0)
            return en;
    }
}

static int
table_grow(struct bn_ioc_set *set)
{
    size_t n = set->nslots * 2;
    uint64_t *slots = bn_calloc(n, sizeof(*slots));
    uint64_t *bloom = bn_calloc(n / 8, sizeof(*bloom));
    if (!slots || !bloom) {
        bn_free(slots);
        bn_free(bloom);
        return BN_ENOMEM;
    }
    for (size_t i = 0; i < set->nslots; i++) {
        uint64_t e = set->slots[i];
        if (e == 0)
            continue;
        const struct ioc_ent *en = &set->ents[(uint32_t)e - 1];
        uint64_t h = ent_hash(set, en->type, en->key, en->klen);
        size_t j = h & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = e;
        bloom_set(bloom, n, h);
    }
    bn_free(set->slots);
    bn_free(set->bloom);
    set->slots = slots;
    set->bloom = bloom;
    set->nslots = n;
    return 0;
}

/* Appends an entry (key copied) and returns its index in *idx. */
static int
ent_new(struct bn_ioc_set *set, int type, const uint8_t *k, size_t klen, const char *value,
        size_t vlen, const char *source, const char *comment, size_t *idx)
{
    if (set->nents >= BN_IOC_ENTRIES_MAX)
        return BN_ETOOBIG;
    if (set->nents == set->capents) {
        size_t cap = set->capents ? set->capents * 2 : 256;
        struct ioc_ent *e = bn_reallocarray(set->ents, cap, sizeof(*e));
        if (!e)
            return BN_ENOMEM;
        set->ents = e;
        set->capents = cap;
    }
    struct ioc_ent *en = &set->ents[set->nents];
    memset(en, 0, sizeof(*en));
    uint8_t *key = NULL;
    if (klen) {
        key = bn_pool_alloc(set->pool, klen);
        if (!key)
            return BN_ENOMEM;
        memcpy(key, k, klen);
    }
    size_t sl = source ? strnlen(source, BN_IOC_TEXT_MAX) : 0;
    size_t cl = comment ? strnlen(comment, BN_IOC_TEXT_MAX) : 0;
    en->value = bn_pool_strndup(set->pool, value, vlen);
    en->source = bn_pool_strndup(set->pool, source ? source : "", sl);
    en->comment = bn_pool_strndup(set->pool, comment ? comment : "", cl);
    if (!en->value || !en->source || !en->comment)
        return BN_ENOMEM;
    en->key = key;
    en->klen = (uint32_t)klen;
    en->type = (uint8_t)type;
    *idx = set->nents++;
    set->count[type]++;
    return 0;
}

static int
table_add(struct bn_ioc_set *set, int type, const uint8_t *k, size_t klen, const char *value,
          size_t vlen, const char *source, const char *comment)
{
    if (table_find(set, type, k, klen))
        return BN_EEXIST;
    if ((set->nents + 1) * 2 > set->nslots) {
        int rc = table_grow(set);
        if (rc)
            return rc;
    }
    size_t idx;
    int rc = ent_new(set, type, k, klen, value, vlen, source, comment, &idx);
    if (rc)
        return rc;
    size_t mask = set->nslots - 1;
    uint64_t h = ent_hash(set, type, k, klen);
    size_t i = h & mask;
    while (set->slots[i])
        i = (i + 1) & mask;
    set->slots[i] = (h >> 32) << 32 | (uint64_t)(idx + 1);
    bloom_set(set->bloom, set->nslots, h);
    return 0;
}

static int
trie_add(struct bn_ioc_set *set, int fam, const uint8_t *addr, unsigned plen, const char *value,
         size_t vlen, const char *source, const char *comment)
{
    uint32_t node = fam == 4 ? 0 : 1;
    for (unsigned b = 0; b < plen; b++) {
        unsigned bit = (addr[b / 8] >> (7 - b % 8)) & 1;
        if (set->nodes[node].child[bit] == 0) {
            if (set->nnodes >= IOC_TRIE_NODES_MAX)
                return BN_ETOOBIG;
            if (set->nnodes == set->capnodes) {
                size_t cap = set->capnodes * 2;
                struct trie_node *nn = bn_reallocarray(set->nodes, cap, sizeof(*nn));
                if (!nn)
                    return BN_ENOMEM;
                set->nodes = nn;
                set->capnodes = cap;
            }
            memset(&set->nodes[set->nnodes], 0, sizeof(set->nodes[0]));
            set->nodes[node].child[bit] = (uint32_t)set->nnodes++;
        }
        node = set->nodes[node].child[bit];
    }
    if (set->nodes[node].ent)
        return BN_EEXIST;
    size_t idx;
    int rc = ent_new(set, BN_IOC_IP, NULL, 0, value, vlen, source, comment, &idx);
    if (rc)
        return rc;
    set->nodes[node].ent = (uint32_t)(idx + 1);
    return 0;
}

int
bn_ioc_add(struct bn_ioc_set *set, int type, const char *value, size_t len, const char *source,
           const char *comment, struct bn_diag *d)
{
    char v[BN_IOC_VALUE_MAX + 1];
    uint8_t key[32];
    if (!set || !value || (type != -2 && (type < 0 || type >= BN_IOC_TYPES)))
        return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0, "unknown indicator type %d", type);
    size_t n = refang(value, len, v);
    if (n == SIZE_MAX)
        return bn_diag_set(d, BN_ETOOBIG, "<input>", 0, 0,
                           "indicator value longer than %u bytes (BN_IOC_VALUE_MAX)",
                           (unsigned)BN_IOC_VALUE_MAX);
    if (n == 0)
        return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0, "empty indicator value");
    if (type == -2) {
        type = n == 64 ? BN_IOC_SHA256 : n == 40 ? BN_IOC_SHA1 : n == 32 ? BN_IOC_MD5 : -1;
        if (type < 0)
            return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0,
                               "hash of %zu characters is none of MD5 (32), SHA-1 (40), "
                               "SHA-256 (64)", n);
    }
    switch (type) {
    case BN_IOC_SHA256:
    case BN_IOC_SHA1:
    case BN_IOC_MD5:
    case BN_IOC_JA3: {
        size_t hl = hash_len(type);
        if (bn_hex_decode(v, n, key, hl, NULL) != 0)
            return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0,
                               "%s must be %zu hex digits: '%.80s'", bn_ioc_type_name(type),
                               2 * hl, v);
        lower(v, n);
        return table_add(set, type, key, hl, v, n, source, comment);
    }
    case BN_IOC_IP: {
        int fam;
        unsigned plen;
        uint8_t addr[16];
        if (!parse_ip(v, n, &fam, addr, &plen))
            return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0,
                               "not an IPv4/IPv6 address or CIDR range: '%.80s'", v);
        char txt[INET6_ADDRSTRLEN + 8];
        inet_ntop(fam == 4 ? AF_INET : AF_INET6, addr, txt, INET6_ADDRSTRLEN);
        if (plen == (fam == 4 ? 32u : 128u))
            return table_add(set, BN_IOC_IP, addr, fam == 4 ? 4 : 16, txt, strlen(txt), source,
                             comment);
        size_t tl = strlen(txt);
        snprintf(txt + tl, sizeof(txt) - tl, "/%u", plen);
        return trie_add(set, fam, addr, plen, txt, strlen(txt), source, comment);
    }
    case BN_IOC_DOMAIN:
    case BN_IOC_SNI:
        if (!norm_domain(v, &n))
            return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0, "not a DNS name: '%.80s'", v);
        return table_add(set, type, (const uint8_t *)v, n, v, n, source, comment);
    case BN_IOC_URL: {
        /* scheme and host are case-insensitive: lower-case up to the first '/' after "://" */
        const char *sep = strstr(v, "://");
        if (!sep || sep == v)
            return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0,
                               "URL without a scheme (scheme://host/...): '%.80s'", v);
        size_t hostend = (size_t)(sep - v) + 3;
        while (hostend < n && v[hostend] != '/' && v[hostend] != '?' && v[hostend] != '#')
            hostend++;
        lower(v, hostend);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)v[i] < 0x20)
                return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0,
                                   "control character in URL: '%.80s'", v);
        return table_add(set, type, (const uint8_t *)v, n, v, n, source, comment);
    }
    case BN_IOC_JA4:
        for (size_t i = 0; i < n; i++) {
            char c = v[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_') ||
                n > 128)
                return bn_diag_set(d, BN_EINVAL, "<input>", 0, 0,
                                   "not a JA4 fingerprint: '%.80s'", v);
        }
        lower(v, n);
        return table_add(set, type, (const uint8_t *)v, n, v, n, source, comment);
    default:
        return BN_EINVAL;
    }
}

/* ---- lookups ----------------------------------------------------------------------------- */

static bool
fill(const struct ioc_ent *en, struct bn_ioc_match *m)
{
    if (!en)
        return false;
    if (m) {
        m->type = en->type;
        m->value = en->value;
        m->source = en->source;
        m->comment = en->comment;
    }
    return true;
}

static bool
match_addr(const struct bn_ioc_set *set, int fam, const uint8_t *addr, struct bn_ioc_match *m)
{
    const struct ioc_ent *en = table_find(set, BN_IOC_IP, addr, fam == 4 ? 4 : 16);
    if (en)
        return fill(en, m);
    uint32_t node = fam == 4 ? 0 : 1, best = set->nodes[node].ent;
    unsigned bits = fam == 4 ? 32 : 128;
    for (unsigned b = 0; b < bits; b++) {
        unsigned bit = (addr[b / 8] >> (7 - b % 8)) & 1;
        node = set->nodes[node].child[bit];
        if (node == 0)
            break;
        if (set->nodes[node].ent)
            best = set->nodes[node].ent;
    }
    return best ? fill(&set->ents[best - 1], m) : false;
}

bool
bn_ioc_match_addr(const struct bn_ioc_set *set, int family, const void *addr,
                  struct bn_ioc_match *m)
{
    if (!set || !addr)
        return false;
    if (family == AF_INET)
        return match_addr(set, 4, addr, m);
    if (family != AF_INET6)
        return false;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, mapped, 12) == 0)
        return match_addr(set, 4, (const uint8_t *)addr + 12, m);
    return match_addr(set, 6, addr, m);
}

static bool
match_name(const struct bn_ioc_set *set, int type, char *v, size_t n, bool parents,
           struct bn_ioc_match *m)
{
    const struct ioc_ent *en = table_find(set, type, (const uint8_t *)v, n);
    if (en || !parents)
        return fill(en, m);
    for (size_t i = 0; i < n; i++) {
        if (v[i] != '.')
            continue;
        en = table_find(set, type, (const uint8_t *)v + i + 1, n - i - 1);
        if (en)
            return fill(en, m);
    }
    return false;
}

bool
bn_ioc_match(const struct bn_ioc_set *set, int type, const char *s, size_t len,
             struct bn_ioc_match *m)
{
    char v[BN_IOC_VALUE_MAX + 1];
    uint8_t key[32];
    if (!set || !s || len == 0 || len > BN_IOC_VALUE_MAX)
        return false;
    switch (type) {
    case BN_IOC_SHA256:
    case BN_IOC_SHA1:
    case BN_IOC_MD5:
    case BN_IOC_JA3: {
        size_t hl = hash_len(type);
        if (set->count[type] == 0 || bn_hex_decode(s, len, key, hl, NULL) != 0)
            return false;
        return fill(table_find(set, type, key, hl), m);
    }
    case BN_IOC_IP: {
        if (set->count[BN_IOC_IP] == 0 || len > INET6_ADDRSTRLEN + 4)
            return false;
        int fam;
        unsigned plen;
        uint8_t addr[16];
        memcpy(v, s, len);
        v[len] = '\0';
        /* "[::1]" as written in URLs and some logs */
        const char *p = v;
        size_t pl = len;
        if (pl > 2 && p[0] == '[' && p[pl - 1] == ']') {
            p++;
            pl -= 2;
        }
        if (memchr(p, '/', pl) || !parse_ip(p, pl, &fam, addr, &plen))
            return false;
        return match_addr(set, fam, addr, m);
    }
    case BN_IOC_DOMAIN:
    case BN_IOC_SNI: {
        if (set->count[BN_IOC_DOMAIN] == 0 && set->count[BN_IOC_SNI] == 0)
            return false;
        memcpy(v, s, len);
        size_t n = len;
        if (!norm_domain(v, &n))
            return false;
        if (type == BN_IOC_SNI && match_name(set, BN_IOC_SNI, v, n, false, m))
            return true;
        return match_name(set, BN_IOC_DOMAIN, v, n, true, m);
    }
    case BN_IOC_URL: {
        if (set->count[BN_IOC_URL] == 0)
            return false;
        memcpy(v, s, len);
        v[len] = '\0';
        const char *sep = strstr(v, "://");
        if (!sep)
            return false;
        size_t hostend = (size_t)(sep - v) + 3;
        while (hostend < len && v[hostend] != '/' && v[hostend] != '?' && v[hostend] != '#')
            hostend++;
        lower(v, hostend);
        return fill(table_find(set, BN_IOC_URL, (const uint8_t *)v, len), m);
    }
    case BN_IOC_JA4:
        if (set->count[BN_IOC_JA4] == 0 || len > 128)
            return false;
        memcpy(v, s, len);
        lower(v, len);
        return fill(table_find(set, BN_IOC_JA4, (const uint8_t *)v, len), m);
    default:
        return false;
    }
}

bool
bn_ioc_match_hash(const struct bn_ioc_set *set, const char *s, size_t len,
                  struct bn_ioc_match *m)
{
    int type = len == 64 ? BN_IOC_SHA256 : len == 40 ? BN_IOC_SHA1 : len == 32 ? BN_IOC_MD5 : -1;
    return type >= 0 && bn_ioc_match(set, type, s, len, m);
}

/* ---- CSV --------------------------------------------------------------------------------- */

static void
count_add(struct bn_ioc_load_stats *st, int rc, int type)
{
    (void)type;
    if (rc == 0)
        st->added++;
    else if (rc == BN_EEXIST)
        st->duplicates++;
    else if (rc == BN_EINVAL)
        st->skipped_value++;
}

/* Keeps the first problem of a load in d (the load itself goes on). */
static void
note(struct bn_diag *d, bool *noted, int code, const char *name, unsigned long line,
     unsigned long col, const char *msg)
{
    if (*noted || !d)
        return;
    *noted = true;
    bn_diag_set(d, code, name, line, col, "%s", msg);
}

int
bn_ioc_load_csv(struct bn_ioc_set *set, const char *buf, size_t len, const char *name,
                const char *source, struct bn_ioc_load_stats *st, struct bn_diag *d)
{
    struct bn_ioc_load_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    bn_diag_clear(d);
    if (!name)
        name = "<csv>";
    if (!source)
        source = name;
    if (!set || (!buf && len))
        return BN_EINVAL;
    if (len > BN_IOC_FILE_MAX)
        return bn_diag_set(d, BN_ETOOBIG, name, 0, 0,
                           "IOC file of %zu bytes is over the %u byte limit (BN_IOC_FILE_MAX)",
                           len, (unsigned)BN_IOC_FILE_MAX);
    char *field = bn_malloc(BN_IOC_CSV_LINE_MAX + 1);
    if (!field)
        return BN_ENOMEM;
    bool noted = false, header_checked = false;
    int rc = 0;
    size_t pos = 0;
    unsigned long line = 1;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len) {
        size_t start = pos;
        unsigned long start_line = line;
        /* fields: offsets into field[] */
        size_t off[5] = {0}, flen[5] = {0};
        size_t nf = 0, o = 0;
        bool bad = false, toolong = false, quoted_open = false;
        const char *why = NULL;
        unsigned long why_col = 0;
        /* blank and comment lines */
        if (buf[pos] == '#' || buf[pos] == '\n' || buf[pos] == '\r') {
            while (pos < len && buf[pos] != '\n')
                pos++;
            if (pos < len)
                pos++;
            line++;
            continue;
        }
        for (;;) { /* one field per iteration */
            size_t fstart = o;
            if (pos < len && buf[pos] == '"') {
                pos++;
                quoted_open = true;
                while (pos < len) {
                    if (buf[pos] == '"') {
                        if (pos + 1 < len && buf[pos + 1] == '"') {
                            pos += 2;
                            if (o < BN_IOC_CSV_LINE_MAX)
                                field[o++] = '"';
                            else
                                toolong = true;
                            continue;
                        }
                        pos++;
                        quoted_open = false;
                        break;
                    }
                    if (buf[pos] == '\n')
                        line++;
                    if (o < BN_IOC_CSV_LINE_MAX)
                        field[o++] = buf[pos];
                    else
                        toolong = true;
                    pos++;
                }
                if (quoted_open) {
                    bad = true;
                    why = "quoted field not closed before the end of the file";
                    why_col = 1;
                    break;
                }
                /* only blanks may follow a closing quote */
                while (pos < len && (buf[pos] == ' ' || buf[pos] == '\t'))
                    pos++;
                if (pos < len && buf[pos] != ',' && buf[pos] != '\n' && buf[pos] != '\r') {
                    bad = true;
                    why = "text after a closing quote (a quote inside a field is written \"\")";
                    why_col = pos - start + 1;
                }
            } else {
                while (pos < len && buf[pos] != ',' && buf[pos] != '\n') {
                    if (o < BN_IOC_CSV_LINE_MAX)
                        field[o++] = buf[pos];
                    else
                        toolong = true;
                    pos++;
                }
                if (o > fstart && field[o - 1] == '\r')
                    o--;
            }
            if (nf < BN_ARRAY_SIZE(off)) {
                off[nf] = fstart;
                flen[nf] = o - fstart;
            }
            nf++;
            if (o < BN_IOC_CSV_LINE_MAX)
                field[o++] = '\0';
            else
                toolong = true;
            if (bad)
                break;
            if (pos < len && buf[pos] == ',') {
                pos++;
                continue;
            }
            break;
        }
        /* skip to the end of the line */
        while (pos < len && buf[pos] != '\n') {
            if (!bad && buf[pos] != '\r') {
                bad = true;
                why = "unexpected text at the end of the line";
                why_col = pos - start + 1;
            }
            pos++;
        }
        if (pos < len)
            pos++;
        line++;
        if (toolong) {
            bad = true;
            why = "line longer than BN_IOC_CSV_LINE_MAX bytes";
            why_col = 1;
        }
        if (!header_checked) {
            header_checked = true;
            if (!bad && nf >= 2 && ieq(field + off[0], flen[0], "type"))
                continue;
        }
        st->records++;
        if (bad) {
            st->skipped_syntax++;
            note(d, &noted, BN_EPARSE, name, start_line, why_col, why);
            continue;
        }
        if (nf < 2) {
            st->skipped_syntax++;
            note(d, &noted, BN_EPARSE, name, start_line, 1,
                 "expected type,value[,source,comment]");
            continue;
        }
        int type = bn_ioc_type_parse(field + off[0], flen[0]);
        if (type == -1) {
            char msg[200];
            snprintf(msg, sizeof(msg), "unknown indicator type '%.64s'", field + off[0]);
            st->skipped_type++;
            note(d, &noted, BN_EPARSE, name, start_line, 1, msg);
            continue;
        }
        const char *src = nf >= 3 && flen[2] ? field + off[2] : source;
        const char *cmt = nf >= 4 ? field + off[3] : "";
        struct bn_diag vd;
        int arc = bn_ioc_add(set, type, field + off[1], flen[1], src, cmt, &vd);
        count_add(st, arc, type);
        if (arc == BN_EINVAL || (arc == BN_ETOOBIG && flen[1] > BN_IOC_VALUE_MAX)) {
            if (arc == BN_ETOOBIG)
                st->skipped_value++;
            note(d, &noted, arc, name, start_line, flen[0] + 2, vd.msg);
            continue;
        }
        if (arc != 0 && arc != BN_EEXIST) {
            rc = arc;
            if (arc == BN_ETOOBIG)
                bn_diag_set(d, arc, name, start_line, 1,
                            "IOC set is full (%u indicators, BN_IOC_ENTRIES_MAX)",
                            (unsigned)BN_IOC_ENTRIES_MAX);
            else
                bn_diag_set(d, arc, name, start_line, 1, "cannot add indicator: %s",
                            bn_strerror(arc));
            break;
        }
    }
    bn_free(field);
    return rc;
}

/* ---- STIX 2.1 ---------------------------------------------------------------------------- */

struct pat_term {
    int type;         /* BN_IOC_*, or -1 for an object path we do not match */
    const char *val;  /* unescaped value in the caller's buffer */
    size_t len;
};

static void
skip_ws(const char *p, size_t n, size_t *i)
{
    while (*i < n && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n' || p[*i] == '\r'))
        (*i)++;
}

static bool
kw(const char *p, size_t n, size_t i, const char *w)
{
    size_t l = strlen(w);
    if (i + l > n || !ieq(p + i, l, w))
        return false;
    return i + l == n || p[i + l] == ' ' || p[i + l] == '\t' || p[i + l] == '[' ||
           p[i + l] == '\n' || p[i + l] == '\r';
}

static int
path_type(const char *path, size_t len)
{
    static const struct {
        const char *path;
        int type;
    } paths[] = {
        {"ipv4-addr:value", BN_IOC_IP},
        {"ipv6-addr:value", BN_IOC_IP},
        {"domain-name:value", BN_IOC_DOMAIN},
        {"url:value", BN_IOC_URL},
        {"file:hashes.sha-256", BN_IOC_SHA256},
        {"file:hashes.sha256", BN_IOC_SHA256},
        {"file:hashes.sha-1", BN_IOC_SHA1},
        {"file:hashes.sha1", BN_IOC_SHA1},
        {"file:hashes.md5", BN_IOC_MD5},
        {"x509-certificate:hashes.sha-256", BN_IOC_SHA256},
        {"x509-certificate:hashes.sha-1", BN_IOC_SHA1},
        {"x509-certificate:hashes.md5", BN_IOC_MD5},
        {"network-traffic:extensions.'tls-ext'.sni", BN_IOC_SNI},
    };
    char norm[128];
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (path[i] == '\'' || path[i] == '"')
            continue;
        if (o + 1 >= sizeof(norm))
            return -1;
        char c = path[i];
        norm[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    for (size_t i = 0; i < BN_ARRAY_SIZE(paths); i++)
        if (ieq(norm, o, paths[i].path))
            return paths[i].type;
    return -1;
}

/*
 * Parses a pattern of OR-ed equality comparisons, in one or several observation
 * expressions: [a = 'x' OR b = 'y'] OR [c = 'z']. Unescaped values are written into out
 * (capacity >= len). Returns the number of terms, or -1 with *why for anything else.
 */
static int
parse_pattern(const char *p, size_t n, char *out, struct pat_term *terms, size_t maxterms,
              const char **why)
{
    size_t i = 0, o = 0, nt = 0;
    bool need_obs = true;
    skip_ws(p, n, &i);
    for (;;) {
        if (i >= n || p[i] != '[') {
            *why = "pattern is not a list of [comparison] observation expressions";
            return -1;
        }
        i++;
        for (;;) { /* comparisons inside one observation */
            skip_ws(p, n, &i);
            size_t ps = i;
            bool inq = false;
            while (i < n && (inq || (p[i] != ' ' && p[i] != '=' && p[i] != '!' && p[i] != '\t' &&
                                     p[i] != ']' && p[i] != '<' && p[i] != '>'))) {
                if (p[i] == '\'')
                    inq = !inq;
                i++;
            }
            size_t pe = i;
            if (pe == ps) {
                *why = "expected an object path such as ipv4-addr:value";
                return -1;
            }
            skip_ws(p, n, &i);
            if (i >= n || p[i] != '=' || (i + 1 < n && p[i + 1] == '=')) {
                *why = "only '=' comparisons are supported";
                return -1;
            }
            i++;
            skip_ws(p, n, &i);
            if (i >= n || p[i] != '\'') {
                *why = "expected a quoted string after '='";
                return -1;
            }
            i++;
            size_t vs = o;
            bool closed = false;
            while (i < n) {
                if (p[i] == '\\' && i + 1 < n) {
                    out[o++] = p[i + 1];
                    i += 2;
                    continue;
                }
                if (p[i] == '\'') {
                    closed = true;
                    i++;
                    break;
                }
                out[o++] = p[i++];
            }
            if (!closed) {
                *why = "string not closed";
                return -1;
            }
            if (nt >= maxterms) {
                *why = "too many comparisons (BN_IOC_STIX_TERMS_MAX)";
                return -1;
            }
            terms[nt].type = path_type(p + ps, pe - ps);
            terms[nt].val = out + vs;
            terms[nt].len = o - vs;
            nt++;
            skip_ws(p, n, &i);
            if (kw(p, n, i, "or")) {
                i += 2;
                continue;
            }
            if (i < n && p[i] == ']') {
                i++;
                break;
            }
            *why = "only OR between comparisons is supported (AND, LIKE, MATCHES, ... are not)";
            return -1;
        }
        need_obs = false;
        skip_ws(p, n, &i);
        if (i >= n)
            break;
        if (kw(p, n, i, "or")) {
            i += 2;
            skip_ws(p, n, &i);
            need_obs = true;
            continue;
        }
        *why = "only OR between observation expressions is supported (no AND, FOLLOWEDBY, "
               "WITHIN, REPEATS)";
        return -1;
    }
    if (need_obs) {
        *why = "empty pattern";
        return -1;
    }
    return (int)nt;
}

static int
stix_indicator(struct bn_ioc_set *set, json_t *o, const char *name, const char *source,
               int64_t now_ns, struct bn_ioc_load_stats *st, struct bn_diag *d, bool *noted,
               size_t index, char *scratch, struct pat_term *terms)
{
    char msg[300];
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type) {
        st->skipped_syntax++;
        snprintf(msg, sizeof(msg), "object %zu has no \"type\"", index);
        note(d, noted, BN_EPARSE, name, 0, 0, msg);
        return 0;
    }
    if (strcmp(type, "indicator") != 0) {
        st->skipped_other++;
        return 0;
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!id)
        id = "";
    if (json_is_true(json_object_get(o, "revoked"))) {
        st->skipped_expired++;
        return 0;
    }
    const char *vu = json_string_value(json_object_get(o, "valid_until"));
    int64_t until;
    if (vu && now_ns > 0 && bn_time_parse(vu, strlen(vu), &until) == 0 && until < now_ns) {
        st->skipped_expired++;
        return 0;
    }
    const char *ptype = json_string_value(json_object_get(o, "pattern_type"));
    if (ptype && strcmp(ptype, "stix") != 0) {
        st->skipped_type++;
        snprintf(msg, sizeof(msg), "indicator %.100s: pattern_type '%.40s' is not supported "
                 "(only stix)", id, ptype);
        note(d, noted, BN_EUNSUP, name, 0, 0, msg);
        return 0;
    }
    json_t *pj = json_object_get(o, "pattern");
    const char *pat = json_string_value(pj);
    if (!pat) {
        st->skipped_syntax++;
        snprintf(msg, sizeof(msg), "indicator %.100s has no \"pattern\" string", id);
        note(d, noted, BN_EPARSE, name, 0, 0, msg);
        return 0;
    }
    size_t plen = json_string_length(pj);
    if (plen > BN_IOC_STIX_PATTERN_MAX) {
        st->skipped_syntax++;
        snprintf(msg, sizeof(msg), "indicator %.100s: pattern of %zu bytes is over "
                 "BN_IOC_STIX_PATTERN_MAX", id, plen);
        note(d, noted, BN_ETOOBIG, name, 0, 0, msg);
        return 0;
    }
    const char *why = NULL;
    int nt = parse_pattern(pat, plen, scratch, terms, BN_IOC_STIX_TERMS_MAX, &why);
    if (nt < 0) {
        st->skipped_syntax++;
        snprintf(msg, sizeof(msg), "indicator %.100s: %s: '%.80s'", id, why, pat);
        note(d, noted, BN_EUNSUP, name, 0, 0, msg);
        return 0;
    }
    const char *iname = json_string_value(json_object_get(o, "name"));
    const char *comment = iname ? iname : id;
    bool any = false;
    for (int t = 0; t < nt; t++) {
        if (terms[t].type < 0)
            continue;
        any = true;
        struct bn_diag vd;
        int rc = bn_ioc_add(set, terms[t].type, terms[t].val, terms[t].len, source, comment, &vd);
        count_add(st, rc, terms[t].type);
        if (rc == BN_EINVAL) {
            snprintf(msg, sizeof(msg), "indicator %.100s: %.180s", id, vd.msg);
            note(d, noted, rc, name, 0, 0, msg);
        } else if (rc == BN_ETOOBIG && terms[t].len > BN_IOC_VALUE_MAX) {
            st->skipped_value++;
        } else if (rc != 0 && rc != BN_EEXIST) {
            return rc;
        }
    }
    if (!any) {
        st->skipped_type++;
        snprintf(msg, sizeof(msg), "indicator %.100s: no comparison on an object we match "
                 "(ip, domain, url, hashes): '%.80s'", id, pat);
        note(d, noted, BN_EUNSUP, name, 0, 0, msg);
    }
    return 0;
}

int
bn_ioc_load_stix(struct bn_ioc_set *set, const char *buf, size_t len, const char *name,
                 const char *source, int64_t now_ns, struct bn_ioc_load_stats *st,
                 struct bn_diag *d)
{
    struct bn_ioc_load_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    bn_diag_clear(d);
    if (!name)
        name = "<stix>";
    if (!source)
        source = name;
    if (!set || (!buf && len))
        return BN_EINVAL;
    if (len > BN_IOC_FILE_MAX)
        return bn_diag_set(d, BN_ETOOBIG, name, 0, 0,
                           "STIX bundle of %zu bytes is over the %u byte limit "
                           "(BN_IOC_FILE_MAX)", len, (unsigned)BN_IOC_FILE_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bn_diag_set(d, BN_EPARSE, name, (unsigned long)(jerr.line > 0 ? jerr.line : 0),
                           (unsigned long)(jerr.column > 0 ? jerr.column : 0),
                           "not a STIX bundle: %s", jerr.text);
    int rc = 0;
    char *scratch = bn_malloc(BN_IOC_STIX_PATTERN_MAX + 1);
    struct pat_term *terms = bn_calloc(BN_IOC_STIX_TERMS_MAX, sizeof(*terms));
    if (!scratch || !terms) {
        rc = BN_ENOMEM;
        goto out;
    }
    bool noted = false;
    const char *type = json_string_value(json_object_get(root, "type"));
    if (type && strcmp(type, "bundle") == 0) {
        json_t *objs = json_object_get(root, "objects");
        if (objs && !json_is_array(objs)) {
            rc = bn_diag_set(d, BN_EPARSE, name, 0, 0, "bundle \"objects\" is not an array");
            goto out;
        }
        size_t i;
        json_t *o;
        json_array_foreach(objs, i, o) {
            st->records++;
            if (!json_is_object(o)) {
                st->skipped_syntax++;
                char msg[100];
                snprintf(msg, sizeof(msg), "bundle object %zu is not a JSON object", i);
                note(d, &noted, BN_EPARSE, name, 0, 0, msg);
                continue;
            }
            rc = stix_indicator(set, o, name, source, now_ns, st, d, &noted, i, scratch, terms);
            if (rc)
                break;
        }
    } else if (type && strcmp(type, "indicator") == 0) {
        st->records++;
        rc = stix_indicator(set, root, name, source, now_ns, st, d, &noted, 0, scratch, terms);
    } else {
        rc = bn_diag_set(d, BN_EPARSE, name, 1, 1,
                         "not a STIX 2.1 bundle: top-level \"type\" is not \"bundle\"");
    }
    if (rc == BN_ETOOBIG)
        bn_diag_set(d, rc, name, 0, 0, "IOC set is full (%u indicators, BN_IOC_ENTRIES_MAX)",
                    (unsigned)BN_IOC_ENTRIES_MAX);
    else if (rc == BN_ENOMEM)
        bn_diag_set(d, rc, name, 0, 0, "out of memory");
out:
    bn_free(scratch);
    bn_free(terms);
    json_decref(root);
    return rc;
}

int
bn_ioc_load_file(struct bn_ioc_set *set, const char *path, int64_t now_ns,
                 struct bn_ioc_load_stats *st, struct bn_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bn_diag_set(d, -errno, path, 0, 0, "cannot open '%s': %s", path,
                           strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return bn_diag_set(d, BN_EINVAL, path, 0, 0, "'%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > BN_IOC_FILE_MAX) {
        close(fd);
        return bn_diag_set(d, BN_ETOOBIG, path, 0, 0,
                           "IOC file of %lld bytes is over the %u byte limit (BN_IOC_FILE_MAX)",
                           (long long)sb.st_size, (unsigned)BN_IOC_FILE_MAX);
    }
    size_t size = (size_t)sb.st_size, got = 0;
    char *buf = bn_malloc(size + 1);
    if (!buf) {
        close(fd);
        return BN_ENOMEM;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    size_t i = 0;
    while (i < got && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    int rc = (i < got && buf[i] == '{')
                 ? bn_ioc_load_stix(set, buf, got, path, base, now_ns, st, d)
                 : bn_ioc_load_csv(set, buf, got, path, base, st, d);
    bn_free(buf);
    return rc;
}
