/*
 * ndr_int.h - what the detection families (ndr_*.c) share: the detector object, the bounded
 * LRU hash table every per-source state lives in, address and CIDR helpers, small counting
 * sketches and the alert emitter with its de-duplication. Private to src/sensor/ndr_*.c.
 */
#ifndef BANNIN_SENSOR_NDR_INT_H
#define BANNIN_SENSOR_NDR_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sensor/ndr.h"

#define NDR_NS_PER_MS      1000000ull
#define NDR_NS_PER_S       1000000000ull
#define NDR_CIDR_MAX       64 /* entries in one CIDR list */
#define NDR_PORTS_MAX      32 /* entries in one port list */
#define NDR_BEACON_RING    64 /* connection starts kept per beacon pair */
#define NDR_HOUSEKEEP_NS   NDR_NS_PER_S
#define NDR_ANSWERED_SLOTS 65536      /* direct-mapped cache of answered connections (one per
                                         * flow of the default flow table: 512 KiB) */
#define NDR_EXFIL_SLOTS    8192       /* direct-mapped accumulators of bulk bytes */
#define NDR_EXFIL_FLUSH    (1u << 20) /* bytes gathered in a slot before it reaches the table */

struct ndr_exfil_slot;

/* A cheap, unkeyed mix for direct-mapped caches (collisions only cost a table lookup). */
static inline uint64_t
ndr_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* struct net_flow's ndr_answered bits: the scan detector's answered orientations (bits 0-1,
 * reset by a new SYN) and the exfil detector's cache of which endpoints are internal (set
 * once per flow: addresses and configuration do not change during it). */
#define NDR_FLOW_ANSWERED 0x03
#define NDR_FLOW_IN_KNOWN 0x10 /* the two bits below are set */
#define NDR_FLOW_CLI_IN   0x20 /* the flow's client is internal */
#define NDR_FLOW_SRV_IN   0x40 /* the flow's server is internal */

/* ---- bounded LRU hash table ---- */

/*
 * Entries are fixed-size: a header, the key (key_size bytes, compared with memcmp, so keys
 * are built from zeroed structs) and the value (val_size bytes, zeroed when created). The
 * list is in order of creation; a later ndr_tab_put or ndr_tab_touch only records the time
 * (seen_ns), and the entry moves to the young end when expiry or eviction reaches it (second
 * chance, as CLOCK does): a lookup of a live entry touches no other entry's memory. When the
 * table is full the oldest entry not seen since it was queued is reused (evictions).
 *
 * The index is open addressing with linear probing (load at most 1/2 while it can grow,
 * backward-shift deletion, no tombstones): a slot holds 32 bits of the entry's hash and its
 * number, so a probe reads one cache line of slots and only the entry whose hash bits match.
 * Entries live in slabs of NDR_TAB_SLAB entries, numbered; freed ones are reused first.
 */
#define NDR_TAB_SLAB_SHIFT 8
#define NDR_TAB_SLAB       (1u << NDR_TAB_SLAB_SHIFT)

struct ndr_ent {
    struct ndr_ent *prev;
    struct ndr_ent *next; /* also the spare list's link */
    uint64_t t_ns;        /* the time the entry was queued at (list order) */
    uint64_t seen_ns;     /* the last put or touch */
    uint64_t hash;
    uint32_t idx; /* its number: slab idx >> NDR_TAB_SLAB_SHIFT, place in it the low bits */
};

struct ndr_slot {
    uint32_t hash; /* the low 32 bits of the entry's hash */
    uint32_t idx;  /* the entry's number + 1; 0: empty */
};

struct ndr_tab {
    const char *name;
    size_t key_size;
    size_t val_size;
    size_t key_off;  /* offset of the key in an entry */
    size_t val_off;  /* offset of the value in an entry */
    size_t ent_size; /* val_off + val_size, rounded to 16 */
    size_t max;
    size_t n;
    size_t nslots; /* power of two */
    struct ndr_slot *slots;
    char **slabs; /* NDR_TAB_SLAB entries each */
    size_t nslabs, slabs_cap;
    size_t used;           /* entries ever taken from the slabs (numbers below it exist) */
    struct ndr_ent lru;    /* sentinel: lru.next is the oldest */
    struct ndr_ent *spare; /* freed entries, reused before new slab space */
    size_t nspare;
    uint64_t evictions;
    uint64_t nomem;      /* puts that failed for lack of memory */
    const uint8_t *hkey; /* SipHash key (the detector's) */
};

int ndr_tab_init(struct ndr_tab *t, const char *name, size_t key_size, size_t val_size, size_t max,
                 const uint8_t *hkey);
void ndr_tab_release(struct ndr_tab *t);
/* Returns the value for key or NULL; does not touch the LRU order. */
void *ndr_tab_get(struct ndr_tab *t, const void *key);
/*
 * Returns the value for key, creating it (zeroed, *created = true) when absent, and moves
 * it to the LRU tail with time now. NULL only when memory runs out (counted in nomem).
 */
void *ndr_tab_put(struct ndr_tab *t, const void *key, uint64_t now_ns, bool *created);
/*
 * The same with the key's hash computed beforehand (ndr_tab_hash: the table's SipHash), so
 * a caller about to look up several tables can hash all its keys, prefetch their slots
 * (ndr_tab_prefetch) and then their entries (ndr_tab_prefetch_ent), and take the cache
 * misses of the lookups together instead of one after the other. h must be
 * ndr_tab_hash(t, key); prefetching is only a hint (a table grown since costs a wasted load).
 */
uint64_t ndr_tab_hash(const struct ndr_tab *t, const void *key);
void *ndr_tab_get_h(struct ndr_tab *t, const void *key, uint64_t h);
void *ndr_tab_put_h(struct ndr_tab *t, const void *key, uint64_t h, uint64_t now_ns,
                    bool *created);
/* Reads the slot run of h (waits for it) and prefetches the entry whose tag matches. */
void ndr_tab_prefetch_ent(const struct ndr_tab *t, uint64_t h);

static inline void
ndr_tab_prefetch(const struct ndr_tab *t, uint64_t h)
{
    if (t->slots)
        __builtin_prefetch(&t->slots[(uint32_t)h & (t->nslots - 1)]);
}

/* Moves the entry of val to the LRU tail with time now. */
void ndr_tab_touch(struct ndr_tab *t, void *val, uint64_t now_ns);
/* Removes the entry of val. */
void ndr_tab_del(struct ndr_tab *t, void *val);
/* Removes every entry last put or touched before cutoff_ns. Returns how many. */
size_t ndr_tab_expire(struct ndr_tab *t, uint64_t cutoff_ns);
/* The key of an entry given its value. */
const void *ndr_tab_key(const struct ndr_tab *t, const void *val);
/* Iteration in LRU order (oldest first): first value or NULL, next value or NULL. */
void *ndr_tab_first(struct ndr_tab *t);
void *ndr_tab_next(struct ndr_tab *t, void *val);

/* ---- addresses ---- */

struct ndr_cidr {
    uint8_t fam;
    uint8_t bits;
    uint8_t a[16];
    uint32_t net4; /* IPv4: network and mask in host order (the per-packet fast path) */
    uint32_t mask4;
};

struct ndr_cidrs {
    size_t n;
    struct ndr_cidr v[NDR_CIDR_MAX];
};

/* Parses "10.0.0.0/8, fc00::/7" (a bare address is a host). 0 or BN_EINVAL with err. */
int ndr_cidrs_parse(struct ndr_cidrs *out, const char *list, char *err, size_t err_size);
bool ndr_cidrs_match(const struct ndr_cidrs *c, const struct net_addr *a);
/* Parses "445,3389" into ports; returns the count or BN_EINVAL with err. */
int ndr_ports_parse(uint16_t *ports, size_t max, const char *list, char *err, size_t err_size);

/* A net_addr with the unused bytes zeroed, usable inside table keys. */
static inline struct net_addr
ndr_addr(const struct net_addr *a)
{
    struct net_addr k;
    memset(&k, 0, sizeof(k));
    k.fam = a->fam;
    memcpy(k.a, a->a, a->fam == 6 ? 16 : 4);
    return k;
}

static inline bool
ndr_addr_eq(const struct net_addr *x, const struct net_addr *y)
{
    return x->fam == y->fam && memcmp(x->a, y->a, x->fam == 6 ? 16 : 4) == 0;
}

/* ---- distinct-count sketch (linear counting over 512 bits) ---- */

struct ndr_distinct {
    uint64_t bits[8];
};

static inline void
ndr_distinct_add(struct ndr_distinct *s, uint64_t h)
{
    unsigned b = (unsigned)(h & 511);
    s->bits[b >> 6] |= 1ull << (b & 63);
}

/* Estimated number of distinct values added (exact enough below ~1000). */
double ndr_distinct_count(const struct ndr_distinct *s);

/* SipHash of bytes with the detector's key. */
uint64_t ndr_hash(const struct ndr *d, const void *p, size_t n);

/* ---- per-family state ---- */

struct ndr_window {
    uint64_t start_ns; /* 0 = no window open */
    uint64_t last_ns;
    uint8_t alerted; /* the threshold already fired in this window */
};

/* Opens a new window when none is open or the current one is older than len_ns. */
static inline void
ndr_window_roll(struct ndr_window *w, uint64_t now_ns, uint64_t len_ns, void *counters,
                size_t counters_size)
{
    if (w->start_ns == 0 || now_ns < w->start_ns || now_ns - w->start_ns > len_ns) {
        w->start_ns = now_ns ? now_ns : 1;
        w->alerted = 0;
        if (counters)
            memset(counters, 0, counters_size);
    }
    w->last_ns = now_ns;
}

struct ndr {
    struct ndr_config cfg; /* strings owned */
    struct ndr_cidrs internal;
    struct ndr_cidrs ignore;
    struct ndr_cidrs ignore_dst;
    uint16_t lateral_ports[NDR_PORTS_MAX];
    size_t n_lateral_ports;
    uint16_t beacon_ignore[NDR_PORTS_MAX];
    size_t n_beacon_ignore;
    uint8_t hkey[16];
    uint64_t first_ns; /* first packet or record time */
    uint64_t now_ns;   /* latest time seen */
    uint64_t housekept_ns;
    struct ndr_stats st;
    struct ndr_tab dedup;
    struct ndr_tab scan_probe;
    struct ndr_tab scan_v;
    struct ndr_tab scan_h;
    struct ndr_tab sweep_pair;
    struct ndr_tab sweep_src;
    struct ndr_tab brute;
    struct ndr_tab beacon;
    struct ndr_tab dns_dom;
    struct ndr_tab dns_cli;
    struct ndr_tab lat_known;
    struct ndr_tab lat_src;
    struct ndr_tab exfil;
    /* Connections whose probe is known answered: spares the per-data-packet lookup. */
    uint64_t scan_answered[NDR_ANSWERED_SLOTS];
    /* Outbound bytes gathered per (internal, external) pair before they reach the table. */
    struct ndr_exfil_slot *exfil_slots;
    const struct bn_ioc_set *ioc;
};

/* Is the address inside the configured internal networks / an ignored source? */
static inline bool
ndr_internal(const struct ndr *d, const struct net_addr *a)
{
    return ndr_cidrs_match(&d->internal, a);
}

static inline bool
ndr_ignored(const struct ndr *d, const struct net_addr *a)
{
    return d->ignore.n > 0 && ndr_cidrs_match(&d->ignore, a);
}

/*
 * An alert in the making: the family fills sig, src, (dst, ports), score, first/last and
 * detail; ndr_alert_emit fills the signature's static description, applies the
 * de-duplication (key: src + sig + disc) and emits. flow and pcap_cnt may be NULL / 0.
 */
void ndr_alert_init(struct net_alert *a, enum ndr_sig sig, const struct net_addr *src);
void ndr_alert_detail(struct net_alert *a, const char *fmt, ...) BN_PRINTF(2, 3);
void ndr_alert_emit(struct ndr *d, struct net_sink *sink, struct net_alert *a, uint64_t disc,
                    const struct net_flow *flow, uint64_t pcap_cnt);

/* ---- the families (ndr_scan.c, ...) ---- */

int ndr_scan_init(struct ndr *d);
void ndr_scan_packet(struct ndr *d, const struct net_pkt *p, struct net_flow *f,
                     struct net_sink *sink);
void ndr_scan_flow(struct ndr *d, const struct net_flow *f, uint64_t ts_ns, struct net_sink *sink);
int ndr_sweep_init(struct ndr *d);
void ndr_sweep_packet(struct ndr *d, const struct net_pkt *p, struct net_sink *sink);
int ndr_brute_init(struct ndr *d);
void ndr_brute_flow(struct ndr *d, const struct net_flow *f, uint64_t ts_ns, struct net_sink *sink);
int ndr_beacon_init(struct ndr *d);
void ndr_beacon_flow(struct ndr *d, const struct net_flow *f, uint64_t ts_ns,
                     struct net_sink *sink);
int ndr_dns_init(struct ndr *d);
void ndr_dns_record(struct ndr *d, const struct net_record *rec, struct net_sink *sink);
int ndr_lateral_init(struct ndr *d);
void ndr_lateral_flow(struct ndr *d, const struct net_flow *f, uint64_t ts_ns,
                      struct net_sink *sink);
int ndr_exfil_init(struct ndr *d);
/* f: the packet's flow when known (its endpoints' internal-ness is cached on it), or NULL. */
void ndr_exfil_packet(struct ndr *d, const struct net_pkt *p, struct net_flow *f,
                      struct net_sink *sink);
/* Moves every gathered byte into the table (housekeeping, end of capture). */
void ndr_exfil_flush(struct ndr *d, struct net_sink *sink);
void ndr_exfil_release(struct ndr *d);
void ndr_ioc_record(struct ndr *d, const struct net_record *rec, struct net_sink *sink);

/* Helpers the DNS family exports for tests (ndr_dnstun.c). */
/* Length of the registrable domain suffix of name ("example.co.uk" of "a.example.co.uk"). */
size_t ndr_dns_base_len(const char *name, size_t len);
/* Shannon entropy of s in bits per character. */
double ndr_entropy(const char *s, size_t n);
/* 0..1: how much a domain label looks machine-generated (see ndr_dnstun.c). */
double ndr_dga_score(const char *label, size_t n);

#endif
