/*
 * flow.c - the bounded flow table: packets to flows, counters each way, TCP state, timeouts
 * and the Community ID of every flow.
 *
 * Storage is allocated once: an array of max_flows entries and an open-addressing index
 * (linear probing, power-of-two size at least twice max_flows, backward-shift deletion) of
 * (hash, entry) pairs. Nothing allocates per packet. The hash is symmetric (both directions
 * of a flow hash alike) and keyed with a random seed so crafted traffic cannot aim at one
 * bucket. The key is what Suricata's is: protocol, both endpoints, VLAN ids and the tunnel
 * depth.
 *
 * Every flow sits on one of five idle lists by timeout class (TCP new / established /
 * closed, other new / established), least recently seen first, so timeouts and the
 * eviction of the oldest flow when the table is full cost O(1) per flow ended. Time comes
 * from packets only.
 *
 * TCP state follows Suricata's stream engine closely enough for its eve fields (tcp.state,
 * flow.state): SYN, SYN-ACK, ACK -> established; a FIN to the server -> close_wait, a FIN to
 * the client -> fin_wait1, and so on to closed; a RST closes.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "bannin/alloc.h"
#include "bannin/community_id.h"
#include "bannin/error.h"
#include "sensor/pipeline.h"
#include "sensor/sensor.h"

#define NS 1000000000ull
#define NIL UINT32_MAX

enum cls {
    C_TCP_NEW = 0,
    C_TCP_EST,
    C_TCP_CLOSED,
    C_NEW,
    C_EST,
    C__COUNT,
};

/* 64-byte aligned (384 bytes): struct net_flow's first line is its key (sensor.h) */
struct ent {
    struct net_flow f;
    uint64_t queued_ns;  /* last_ns when the entry was put at its list's tail */
    uint32_t hash;
    uint32_t prev;
    uint32_t next;
    uint8_t cls;
    uint8_t used;
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct ent) == 384, "a flow entry is six cache lines (sensor.h)");

struct islot {
    uint32_t hash;
    uint32_t idx;  /* entry index + 1; 0 = empty */
};

struct lru {
    uint32_t head;
    uint32_t tail;
};

struct net_flowtab {
    struct net_flow_cfg cfg;
    struct ent *e;       /* 64-byte aligned, inside mem (after the index) */
    void *mem;
    uint32_t nent;
    uint32_t free_head;  /* entries freed by ended flows, newest first */
    uint32_t fresh;      /* entries fresh..nent-1 were never used (and never touched) */
    struct islot *ix;
    uint32_t mask;
    struct lru lists[C__COUNT];
    uint64_t to[C__COUNT];
    uint64_t seed;
    uint64_t next_id;
    uint64_t last_expire_ns;
    const struct net_pkt *peek_pkt;  /* net_flow_peek's packet and its key's hash */
    uint32_t peek_hash;
    /* what net_flow_peek found for peek_pkt (entry, NIL for none, and match()'s answer;
     * peek_m < 0: not looked up, only hashed) */
    uint32_t peek_entry;
    int peek_m;
    net_flow_end_cb end;
    void *ctx;
    struct net_flow_stats st;
};

/*
 * Asks for transparent huge pages on the 2 MiB-aligned interior of a large table: every
 * packet touches one random entry, and with 4 KiB pages most of those touches also miss
 * the TLB. Advisory only (a kernel without THP, or "never", simply ignores it).
 */
static void
advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = 2u << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(huge - 1);

    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

void
net_flow_cfg_default(struct net_flow_cfg *c)
{
    c->max_flows = NET_FLOWS_DEFAULT;
    c->tcp_new_ns = 60 * NS;
    c->tcp_est_ns = 600 * NS;
    c->tcp_closed_ns = 60 * NS;
    c->udp_new_ns = 30 * NS;
    c->udp_est_ns = 300 * NS;
}

struct net_flowtab *
net_flowtab_new(const struct net_flow_cfg *cfg, net_flow_end_cb end, void *ctx)
{
    struct net_flowtab *t = bn_calloc(1, sizeof(*t));
    size_t cap = 16;

    if (!t)
        return NULL;
    if (cfg)
        t->cfg = *cfg;
    else
        net_flow_cfg_default(&t->cfg);
    if (t->cfg.max_flows < 1)
        t->cfg.max_flows = 1;
    if (t->cfg.max_flows > NET_FLOWS_MAX)
        t->cfg.max_flows = NET_FLOWS_MAX;
    while (cap < t->cfg.max_flows * 2)
        cap *= 2;
    t->nent = (uint32_t)t->cfg.max_flows;
    /*
     * One allocation: the index, then the entries (the index's size, a power of two of at
     * least 128 bytes, keeps them on a cache line). A large table starts on a 2 MiB
     * boundary so the index, touched by every packet at a random place, sits on a huge page
     * with the first entries (on its own, 1 MiB at the default bound, it had no aligned
     * 2 MiB inside and each of its 256 small pages missed the TLB in turn); a small one
     * only needs room to start on a cache line.
     */
    size_t ixn = cap * sizeof(*t->ix), en = (size_t)t->nent * sizeof(*t->e);
    size_t align = ixn + en >= (4u << 20) ? (2u << 20) : 64;
    t->mem = bn_calloc(1, align + ixn + en);
    if (!t->mem) {
        net_flowtab_free(t);
        return NULL;
    }
    t->ix = (struct islot *)(((uintptr_t)t->mem + align - 1) & ~(uintptr_t)(align - 1));
    t->e = (struct ent *)((char *)t->ix + ixn);
    advise_huge(t->ix, ixn + en);
    t->mask = (uint32_t)cap - 1;
    /*
     * Entries are handed out in index order the first time, then freed ones newest first
     * (the order a free list threaded through all of them gave), but an entry's memory is
     * first written when a flow takes it: calloc's fresh pages stay untouched until then,
     * so a table sized for more flows than a capture has costs no memory or page clearing
     * for the rest (threading the list wrote to every page of it at start).
     */
    t->free_head = NIL;
    t->fresh = 0;
    for (int i = 0; i < C__COUNT; i++)
        t->lists[i].head = t->lists[i].tail = NIL;
    t->to[C_TCP_NEW] = t->cfg.tcp_new_ns;
    t->to[C_TCP_EST] = t->cfg.tcp_est_ns;
    t->to[C_TCP_CLOSED] = t->cfg.tcp_closed_ns;
    t->to[C_NEW] = t->cfg.udp_new_ns;
    t->to[C_EST] = t->cfg.udp_est_ns;
    if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
        t->seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)t;
    t->end = end;
    t->ctx = ctx;
    return t;
}

void
net_flowtab_free(struct net_flowtab *t)
{
    if (!t)
        return;
    bn_free(t->mem);
    bn_free(t);
}

/* ---- hashing ---- */

/* wyhash's folded 64x64->128 multiply: the key words are mixed by independent products. */
static inline uint64_t
mum(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define HK0 0xa0761d6478bd642full
#define HK1 0xe7037ed1a0b428dbull
#define HK2 0x8ebc6af09c88c6e3ull
#define HK3 0x589965cc75374cc3ull

static uint64_t
addr_word(const struct net_addr *a, int i)
{
    uint64_t w;
    memcpy(&w, a->a + i * 8, 8);
    return w;
}

/*
 * The hash of a flow key given as words: each address as two 64-bit words of its 16 bytes
 * (unused bytes zero, as decode.c leaves them), the ports, and the rest of the key packed
 * in w (protocol, tunnel depth, IP version) and v (the VLAN ids). The endpoints are ordered
 * first so both directions hash alike: any total order does (the hash is seeded per table),
 * and comparing the words needs no call to memcmp.
 */
static inline uint32_t
key_hash(uint64_t seed, uint64_t a0, uint64_t a1, uint16_t pa, uint64_t b0, uint64_t b1,
         uint16_t pb, uint64_t w, uint64_t v)
{
    uint64_t h = seed;

    if (a0 > b0 || (a0 == b0 && (a1 > b1 || (a1 == b1 && pa > pb)))) {
        uint64_t x0 = a0, x1 = a1;
        uint16_t px = pa;
        a0 = b0;
        a1 = b1;
        pa = pb;
        b0 = x0;
        b1 = x1;
        pb = px;
    }
    w |= ((uint64_t)pa << 48) | ((uint64_t)pb << 32);
    /* both factors of each product keyed (a factor an attacker could zero would cancel the
     * other); three independent products overlap in the pipeline, a fourth folds them */
    uint64_t r = (h >> 23) | (h << 41);
    h = mum(a0 ^ h ^ HK0, b0 ^ r ^ HK1) ^ mum(a1 ^ h ^ HK2, b1 ^ r ^ HK3) ^
        mum(w ^ h ^ HK1, v ^ r ^ HK2);
    h = mum(h ^ HK3, seed ^ HK0);
    return (uint32_t)(h ^ (h >> 32));
}

static inline uint64_t
key_w(uint8_t proto, uint8_t layer, uint8_t ip_v)
{
    return ((uint64_t)proto << 24) | ((uint64_t)layer << 16) | ip_v;
}

static inline uint64_t
key_v(uint16_t vlan0, uint16_t vlan1, uint16_t vlan3)
{
    return ((uint64_t)vlan3 << 32) | ((uint64_t)vlan0 << 16) | vlan1;
}

static uint32_t
pkt_hash(const struct net_flowtab *t, const struct net_pkt *p, uint16_t sp, uint16_t dp)
{
    return key_hash(t->seed, addr_word(&p->src, 0), addr_word(&p->src, 1), sp,
                    addr_word(&p->dst, 0), addr_word(&p->dst, 1), dp,
                    key_w(p->proto, p->layer, p->ip_v), key_v(p->vlan[0], p->vlan[1], p->vlan3));
}

static bool
addr_eq(const struct net_addr *a, const struct net_addr *b)
{
    /* unused bytes are zero (decode.c): two words, no memcmp call */
    return a->fam == b->fam && addr_word(a, 0) == addr_word(b, 0) &&
           addr_word(a, 1) == addr_word(b, 1);
}

/* 0: not this flow; 1: to server; 2: to client. */
static int
match(const struct net_flow *f, const struct net_pkt *p, uint16_t sp, uint16_t dp)
{
    if (f->proto != p->proto || f->layer != p->layer || f->vlan[0] != p->vlan[0] ||
        f->vlan[1] != p->vlan[1] || f->vlan3 != p->vlan3)
        return 0;
    if (f->cport == sp && f->sport == dp && addr_eq(&f->cli, &p->src) &&
        addr_eq(&f->srv, &p->dst))
        return 1;
    if (f->cport == dp && f->sport == sp && addr_eq(&f->cli, &p->dst) &&
        addr_eq(&f->srv, &p->src))
        return 2;
    return 0;
}

/* ---- lists ---- */

static void
lru_unlink(struct net_flowtab *t, uint32_t i)
{
    struct ent *e = &t->e[i];
    struct lru *l = &t->lists[e->cls];

    if (e->prev != NIL)
        t->e[e->prev].next = e->next;
    else
        l->head = e->next;
    if (e->next != NIL)
        t->e[e->next].prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NIL;
}

static void
lru_push(struct net_flowtab *t, uint32_t i, uint8_t cls)
{
    struct ent *e = &t->e[i];
    struct lru *l = &t->lists[cls];

    e->cls = cls;
    e->queued_ns = e->f.last_ns;
    e->next = NIL;
    e->prev = l->tail;
    if (l->tail != NIL)
        t->e[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
}

static uint8_t
class_of(const struct net_flow *f)
{
    if (f->proto == IPPROTO_TCP)
        return f->state == NET_FLOW_NEW ? C_TCP_NEW
               : f->state == NET_FLOW_ESTABLISHED ? C_TCP_EST
                                                 : C_TCP_CLOSED;
    return f->state == NET_FLOW_NEW ? C_NEW : C_EST;
}

/* ---- ending flows ---- */

static void
ix_remove(struct net_flowtab *t, uint32_t entry)
{
    uint32_t i = t->e[entry].hash & t->mask;

    while (t->ix[i].idx != entry + 1) {
        if (t->ix[i].idx == 0)
            return; /* not indexed: cannot happen */
        i = (i + 1) & t->mask;
    }
    /* backward-shift deletion keeps probe sequences unbroken */
    for (;;) {
        uint32_t j = (i + 1) & t->mask;
        t->ix[i].idx = 0;
        for (;;) {
            if (t->ix[j].idx == 0)
                return;
            uint32_t home = t->ix[j].hash & t->mask;
            /* can the entry at j move to i? yes unless home lies cyclically in (i, j] */
            bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays)
                break;
            j = (j + 1) & t->mask;
        }
        t->ix[i] = t->ix[j];
        i = j;
    }
}

/* Starts loading every line of entry i: a flow about to end is read whole (its record).
 * Macros: gcc judges a function of nothing but __builtin_prefetch side-effect free and
 * drops the call (as pipeline.c's PREFETCH_STATE notes). */
#define PREFETCH_WHOLE(t, i)                                                                   \
    do {                                                                                       \
        const char *pw_ = (const char *)&(t)->e[i];                                            \
        for (size_t off_ = 0; off_ < sizeof(struct ent); off_ += 64)                           \
            __builtin_prefetch(pw_ + off_);                                                    \
    } while (0)

/* Starts loading what a flow's end touches after its record is out: its index slot and the
 * list neighbours it is unlinked from (their lines are cold: the end callback writes the
 * record meanwhile, so each load has microseconds to arrive instead of stalling in turn). */
#define PREFETCH_UNLINK(t, e)                                                                  \
    do {                                                                                       \
        __builtin_prefetch(&(t)->ix[(e)->hash & (t)->mask], 1);                                \
        if ((e)->prev != NIL)                                                                  \
            __builtin_prefetch(&(t)->e[(e)->prev].next, 1);                                    \
        if ((e)->next != NIL)                                                                  \
            __builtin_prefetch(&(t)->e[(e)->next].prev, 1);                                    \
    } while (0)

static void
end_flow(struct net_flowtab *t, uint32_t i, uint8_t why)
{
    struct ent *e = &t->e[i];

    PREFETCH_UNLINK(t, e);
    e->f.end = why;
    if (why == NET_END_TIMEOUT)
        t->st.ended_timeout++;
    else if (why == NET_END_FORCED)
        t->st.ended_forced++;
    else
        t->st.ended_shutdown++;
    if (t->end)
        t->end(t->ctx, &e->f);
    lru_unlink(t, i);
    ix_remove(t, i);
    e->used = 0;
    e->next = t->free_head;
    t->free_head = i;
    t->st.active--;
}

/*
 * The idle lists are ordered by the time each flow was queued, not by its latest packet: a
 * packet only moves its flow when the timeout class changes, so the common case touches no
 * neighbouring entries. A head that has seen packets since it was queued is re-queued when
 * it comes up (amortised O(1) per packet).
 */
static void
requeue(struct net_flowtab *t, uint32_t i)
{
    uint8_t c = t->e[i].cls;

    lru_unlink(t, i);
    lru_push(t, i, c);
}

void
net_flow_expire(struct net_flowtab *t, uint64_t now_ns)
{
    for (int c = 0; c < C__COUNT; c++) {
        uint32_t i;
        while ((i = t->lists[c].head) != NIL && t->e[i].queued_ns + t->to[c] < now_ns) {
            /* the next head's clock lines, read by the next round (a walk of cold entries) */
            uint32_t nx = t->e[i].next;
            if (nx != NIL) {
                __builtin_prefetch(&t->e[nx].f.last_ns);
                __builtin_prefetch(&t->e[nx].queued_ns);
            }
            if (t->e[i].f.last_ns + t->to[c] < now_ns) {
                PREFETCH_WHOLE(t, i);
                end_flow(t, i, NET_END_TIMEOUT);
            } else {
                requeue(t, i);
            }
        }
    }
}

void
net_flow_flush(struct net_flowtab *t, uint8_t end)
{
    for (int c = 0; c < C__COUNT; c++) {
        uint32_t i;
        while ((i = t->lists[c].head) != NIL) {
            if (t->e[i].next != NIL)
                PREFETCH_WHOLE(t, t->e[i].next);
            end_flow(t, i, end);
        }
    }
}

/* Out of line: it runs only when the table is full, and inlined it made the common path of
 * net_flow_packet longer (register pressure: +4 instructions a packet). */
static __attribute__((noinline)) void
evict_oldest(struct net_flowtab *t)
{
    uint32_t best = NIL;

    for (int c = 0; c < C__COUNT; c++) {
        uint32_t i;
        /* bring each list's head up to date: heads seen since they were queued go back */
        for (uint32_t n = 0; (i = t->lists[c].head) != NIL && n < t->nent; n++) {
            if (t->e[i].f.last_ns == t->e[i].queued_ns)
                break;
            requeue(t, i);
        }
        if (i != NIL && (best == NIL || t->e[i].f.last_ns < t->e[best].f.last_ns))
            best = i;
    }
    if (best != NIL) {
        PREFETCH_WHOLE(t, best);
        end_flow(t, best, NET_END_FORCED);
    }
}

/* ---- TCP state ---- */

static void
tcp_update(struct net_flow *f, enum net_dir dir, uint8_t fl, bool midstream)
{
    uint8_t s = f->tcp_state;
    bool ts = dir == NET_TOSERVER;

    if (fl & NET_TCP_RST) {
        if (s != NET_TCP_NONE)
            f->tcp_state = NET_TCP_CLOSED;
        goto out;
    }
    switch (s) {
    case NET_TCP_NONE:
        if ((fl & (NET_TCP_SYN | NET_TCP_ACK)) == NET_TCP_SYN && ts)
            f->tcp_state = NET_TCP_SYN_SENT;
        else if ((fl & (NET_TCP_SYN | NET_TCP_ACK)) == (NET_TCP_SYN | NET_TCP_ACK) && !ts)
            f->tcp_state = NET_TCP_SYN_RECV;
        else if (midstream && !(fl & NET_TCP_SYN))
            f->tcp_state = (fl & NET_TCP_FIN) ? (ts ? NET_TCP_CLOSE_WAIT : NET_TCP_FIN_WAIT)
                                              : NET_TCP_ESTABLISHED;
        break;
    case NET_TCP_SYN_SENT:
        if ((fl & (NET_TCP_SYN | NET_TCP_ACK)) == (NET_TCP_SYN | NET_TCP_ACK) && !ts)
            f->tcp_state = NET_TCP_SYN_RECV;
        break;
    case NET_TCP_SYN_RECV:
        if (ts && (fl & NET_TCP_ACK) && !(fl & NET_TCP_SYN))
            f->tcp_state = (fl & NET_TCP_FIN) ? NET_TCP_CLOSE_WAIT : NET_TCP_ESTABLISHED;
        break;
    case NET_TCP_ESTABLISHED:
        if (fl & NET_TCP_FIN)
            f->tcp_state = ts ? NET_TCP_CLOSE_WAIT : NET_TCP_FIN_WAIT;
        break;
    case NET_TCP_FIN_WAIT: /* the server sent its FIN */
        if (ts && (fl & NET_TCP_FIN))
            f->tcp_state = (fl & NET_TCP_ACK) ? NET_TCP_TIME_WAIT : NET_TCP_CLOSING;
        else if (ts && (fl & NET_TCP_ACK))
            f->tcp_state = NET_TCP_FIN_WAIT2;
        break;
    case NET_TCP_FIN_WAIT2:
        if (ts && (fl & NET_TCP_FIN))
            f->tcp_state = NET_TCP_TIME_WAIT;
        break;
    case NET_TCP_CLOSING:
        if (fl & NET_TCP_ACK)
            f->tcp_state = NET_TCP_TIME_WAIT;
        break;
    case NET_TCP_CLOSE_WAIT: /* the client sent its FIN */
        if (!ts && (fl & NET_TCP_FIN))
            f->tcp_state = NET_TCP_LAST_ACK;
        break;
    case NET_TCP_LAST_ACK:
        if (ts && (fl & NET_TCP_ACK))
            f->tcp_state = NET_TCP_CLOSED;
        break;
    case NET_TCP_TIME_WAIT:
        if (!ts && (fl & NET_TCP_ACK))
            f->tcp_state = NET_TCP_CLOSED;
        break;
    default:
        break;
    }
out:
    switch (f->tcp_state) {
    case NET_TCP_ESTABLISHED:
    case NET_TCP_FIN_WAIT:
    case NET_TCP_FIN_WAIT2:
    case NET_TCP_CLOSING:
    case NET_TCP_CLOSE_WAIT:
        f->state = NET_FLOW_ESTABLISHED;
        break;
    case NET_TCP_LAST_ACK:
    case NET_TCP_TIME_WAIT:
    case NET_TCP_CLOSED:
        f->state = NET_FLOW_CLOSED;
        break;
    default:
        break;
    }
}

/* ---- packets ---- */

static bool
flow_proto(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_TCP:
    case IPPROTO_UDP:
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
    case IPPROTO_SCTP:
    case IPPROTO_ESP:
    case IPPROTO_IPIP:
    case IPPROTO_IPV6:
        return true;
    default:
        return false;
    }
}

/*
 * Zeek logs a conn.log row (proto unknown_transport, ports 0) for every IP protocol it does
 * not parse (OSPF, VRRP, PIM, IGMP, ...), where Suricata makes no flow: those packets get a
 * flow marked zeek_only, which reaches the Zeek writer and Sigma but not eve or the detectors.
 * GRE carriers (a tunnel for both) and IPv6's "no next header" (Teredo bubbles) make none.
 */
static bool
zeek_only_proto(uint8_t proto)
{
    return !flow_proto(proto) && proto != IPPROTO_GRE && proto != IPPROTO_NONE;
}

static void
mac_add(struct net_flow *f, int side, const uint8_t *mac)
{
    for (unsigned i = 0; i < f->nmacs[side]; i++)
        if (memcmp(f->macs[side][i], mac, 6) == 0)
            return;
    if (f->nmacs[side] < NET_FLOW_MACS)
        memcpy(f->macs[side][f->nmacs[side]++], mac, 6);
}

/* A SYN opening a new connection on the tuple of a closed (or closing) one. */
static bool
tcp_reused(const struct net_flow *f, const struct net_pkt *p)
{
    if ((p->tcp_flags & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST)) != NET_TCP_SYN)
        return false;
    return f->tcp_state == NET_TCP_CLOSED || f->tcp_state == NET_TCP_TIME_WAIT ||
           f->tcp_state == NET_TCP_LAST_ACK;
}

/*
 * The history string's length (16: no NUL) and whether c is in it, reading its 16 bytes as
 * two words (every packet asks: strnlen and memchr calls were 3 % of a flows-only run). In
 * a word, (x - 0x01..01) & ~x & 0x80..80 marks every zero byte, and its lowest mark is
 * exact (a false mark can only follow a true one); bytes after the NUL may be stale
 * (zk_split empties the string by its first byte), so only a c before the NUL counts.
 */
#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static size_t
hist_find(const char *h, char c, bool *has)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w[2], cc = ONES * (uint8_t)c;
    unsigned n = 16, at = 16;

    memcpy(w, h, 16);
    for (int i = 1; i >= 0; i--) {
        uint64_t z = (w[i] - ONES) & ~w[i] & HIGHS;
        uint64_t m = ((w[i] ^ cc) - ONES) & ~(w[i] ^ cc) & HIGHS;
        if (z)
            n = (unsigned)(8 * i + __builtin_ctzll(z) / 8);
        if (m)
            at = (unsigned)(8 * i + __builtin_ctzll(m) / 8);
    }
    *has = at < n;
    return n;
#else
    size_t n = strnlen(h, 16);
    *has = memchr(h, c, n) != NULL;
    return n;
#endif
}

/* Adds c to the history unless it is there; whether it is there now (false: the string is
 * full). */
static bool
history_add(struct net_flow *f, char c)
{
    _Static_assert(sizeof(f->history) == 16, "hist_find reads 16 bytes");
    bool has;
    size_t n = hist_find(f->history, c, &has);

    if (has)
        return true;
    if (n + 1 >= sizeof(f->history))
        return false;
    f->history[n] = c;
    f->history[n + 1] = '\0';
    return true;
}

/* history_add for a letter with a bit in hist_bits: most packets repeat A or D, whose search
 * of the string the bit saves */
static inline void
history_once(struct net_flow *f, char c, uint8_t bit)
{
    if (!(f->hist_bits & bit) && history_add(f, c))
        f->hist_bits |= bit;
}

/* Zeek's conn history letters for one packet. */
static void
history(struct net_flow *f, enum net_dir dir, const struct net_pkt *p)
{
    int up = dir == NET_TOSERVER ? 0 : 'a' - 'A';
    unsigned sh = dir == NET_TOSERVER ? 0 : 4; /* hist_bits: A 1, D 2, F 4, R 8 per side */
    uint8_t fl = p->tcp_flags;

    if (p->proto != IPPROTO_TCP) {
        if (p->payload_len)
            history_once(f, (char)('D' + up), (uint8_t)(2u << sh));
        return;
    }
    if ((fl & (NET_TCP_SYN | NET_TCP_ACK)) == NET_TCP_SYN)
        history_add(f, (char)('S' + up));
    else if ((fl & (NET_TCP_SYN | NET_TCP_ACK)) == (NET_TCP_SYN | NET_TCP_ACK))
        history_add(f, (char)('H' + up));
    else if ((fl & NET_TCP_ACK) && !p->payload_len && !(fl & (NET_TCP_FIN | NET_TCP_RST)))
        history_once(f, (char)('A' + up), (uint8_t)(1u << sh));
    if (p->payload_len)
        history_once(f, (char)('D' + up), (uint8_t)(2u << sh));
    if (fl & NET_TCP_FIN)
        history_once(f, (char)('F' + up), (uint8_t)(4u << sh));
    if (fl & NET_TCP_RST)
        history_once(f, (char)('R' + up), (uint8_t)(8u << sh));
}

static void
init_flow(struct net_flowtab *t, struct net_flow *f, const struct net_pkt *p, uint16_t sp,
          uint16_t dp, bool reverse)
{
    memset(f, 0, sizeof(*f));
    f->zeek_only = zeek_only_proto(p->proto);
    f->id = f->zeek_only ? 0 : ++t->next_id; /* eve flow_ids stay Suricata's sequence */
    f->cli = reverse ? p->dst : p->src;
    f->srv = reverse ? p->src : p->dst;
    f->cport = reverse ? dp : sp;
    f->sport = reverse ? sp : dp;
    f->proto = p->proto;
    f->vlan[0] = p->vlan[0];
    f->vlan[1] = p->vlan[1];
    f->vlan3 = p->vlan3;
    f->ip_v = p->ip_v;
    f->layer = p->layer;
    f->tunnel = p->tunnel;
    f->first_ns = p->ts_ns;
    int fam = p->ip_v == 6 ? AF_INET6 : AF_INET;
    if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)
        bn_community_id(t->cfg.cid_seed, fam, p->proto, p->src.a, p->dst.a, p->sport,
                        p->dport, f->community_id, sizeof(f->community_id));
    else
        bn_community_id(t->cfg.cid_seed, fam, p->proto, f->cli.a, f->srv.a, f->cport,
                        f->sport, f->community_id, sizeof(f->community_id));
}

/* ---- Zeek's connections inside a flow ----
 *
 * Zeek ends a connection where Suricata's flow goes on, and logs what follows as a new one
 * (conn.log rows, Sigma): a SYN nobody answered within 5 s (tcp_attempt_delay), 5 s after a
 * close (a RST, or a FIN when the peer already closed or never spoke: tcp_close_delay), a
 * new initial sequence number on a pure SYN (connection reuse), inactivity (TCP 5 min, UDP
 * and ICMP 1 min) and, for DNS over UDP, a pause of 9 s or more seen by its 10 s session
 * timer. The flow keeps counting for eve; the Zeek connection that ended is handed to the end
 * callback as a copy marked zeek_only (counters relative to its start), and the flow's Zeek
 * fields (zk_*, history, ip_bytes, sequence range) start again. Per packet this costs a few
 * comparisons; the copy is made only at a split.
 */
#define ZK_ATTEMPT_NS (5 * NS)
#define ZK_CLOSE_MS   5000u
#define ZK_DNS_NS     (10 * NS)

static uint64_t
zk_start(const struct net_flow *f)
{
    return f->zk_first_ns ? f->zk_first_ns : f->first_ns;
}

static bool
hist_has(const struct net_flow *f, char c)
{
    bool has;
    (void)hist_find(f->history, c, &has);
    return has;
}

/* Does Zeek see this packet (m: 1 to server, 2 to client) start a new connection? */
static bool
zk_split_due(const struct net_flow *f, const struct net_pkt *p, int m)
{
    uint64_t ts = p->ts_ns, start;

    if (ts <= f->last_ns)
        return false;
    if (f->proto == IPPROTO_TCP) {
        if (ts - f->last_ns > 300 * NS)
            return true;
        /* An open connection's packets read only the flow's first cache lines: zk_close_ns
         * (line 1) is set only after a FIN or RST (tcp_flags keeps them), the start
         * (first_ns) is read only when the attempt timer may fire, and zk_pkts0 is 0 while
         * zk_first_ns is (no split yet: a split sets zk_first_ns to a packet's time,
         * > last_ns >= 0). */
        bool closing = ((f->tcp_flags[0] | f->tcp_flags[1]) & (NET_TCP_FIN | NET_TCP_RST)) != 0;
        if (closing && f->zk_close_ns && ts >= f->zk_close_ns)
            return true;
        /* the attempt timer: a pure SYN opened it, no answer and no close since */
        if (f->history[0] == 'S' &&
            (uint32_t)f->pkts[NET_TOCLIENT] == (f->zk_first_ns ? f->zk_pkts0[NET_TOCLIENT] : 0) &&
            ts >= zk_start(f) + ZK_ATTEMPT_NS && !hist_has(f, 'F') && !hist_has(f, 'R'))
            return true;
        /* reuse: the client's pure SYN with another initial sequence number */
        uint8_t fl = p->tcp_flags & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST);
        return m == 1 && fl == NET_TCP_SYN && f->seq_init[NET_TOSERVER] &&
               p->tcp_seq + 1 != f->seq_first[NET_TOSERVER];
    }
    if (f->proto == IPPROTO_UDP || f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
        if (ts - f->last_ns > 60 * NS)
            return true;
        if (f->proto == IPPROTO_UDP && f->app == NET_APP_DNS && ts - f->last_ns >= 9 * NS) {
            /* the DNS session timer fires every 10 s from the start and ends the connection
             * when the last packet is 9 s or more before it */
            start = zk_start(f);
            uint64_t k = (f->last_ns + 9 * NS - start + ZK_DNS_NS - 1) / ZK_DNS_NS;
            return start + (k ? k : 1) * ZK_DNS_NS <= ts;
        }
    }
    return false;
}

/* Hands the Zeek connection that ended to the end callback and starts the next one at ts. */
static void
zk_split(struct net_flowtab *t, struct net_flow *f, uint64_t ts)
{
    struct net_flow c = *f;

    c.zeek_only = 1;
    c.end = NET_END_ZEEK;
    c.stream = NULL;
    c.app_state = NULL;
    c.parser = NULL;
    c.first_ns = zk_start(f);
    c.zk_first_ns = 0;
    for (int d = 0; d < 2; d++) {
        c.pkts[d] = (uint32_t)((uint32_t)f->pkts[d] - f->zk_pkts0[d]);
        c.payload_bytes[d] = (uint32_t)((uint32_t)f->payload_bytes[d] - f->zk_pay0[d]);
        c.zk_pkts0[d] = c.zk_pay0[d] = 0;
        f->zk_pkts0[d] = (uint32_t)f->pkts[d];
        f->zk_pay0[d] = (uint32_t)f->payload_bytes[d];
        f->ip_bytes[d] = 0;
        f->seq_init[d] = 0;
    }
    c.zk_close_ns = 0;
    t->st.zeek_splits++;
    if (t->end)
        t->end(t->ctx, &c);
    f->zk_first_ns = ts;
    f->zk_close_ns = 0;
    f->history[0] = '\0';
    f->hist_bits = 0;
}

/* After a packet with FIN or RST from dir: has Zeek seen the close complete? */
static void
zk_closed(struct net_flow *f, enum net_dir dir, uint8_t fl, uint64_t ts)
{
    enum net_dir peer = dir == NET_TOSERVER ? NET_TOCLIENT : NET_TOSERVER;
    bool done = (fl & NET_TCP_RST) != 0;

    if (f->zk_close_ns || !(fl & (NET_TCP_FIN | NET_TCP_RST)))
        return;
    if (!done)
        done = (uint32_t)f->pkts[peer] == f->zk_pkts0[peer] ||
               hist_has(f, peer == NET_TOSERVER ? 'F' : 'f') ||
               hist_has(f, peer == NET_TOSERVER ? 'R' : 'r');
    if (done) {
        /* Zeek's timer counts whole ms from the connection's start (the bound as when this
         * was kept as 32-bit ms) */
        uint64_t start = zk_start(f), since = ts - start;
        uint64_t ms = (since + 999999u) / 1000000u + ZK_CLOSE_MS;
        f->zk_close_ns = start + (ms < UINT32_MAX ? ms : UINT32_MAX) * 1000000u;
    }
}

/* The flow key's ports; false when the packet makes no flow. */
static bool
key_ports_slow(const struct net_pkt *p, uint16_t *sp, uint16_t *dp)
{
    /* As in Suricata, flows are made for TCP, UDP, ICMP, SCTP, ESP and IP-in-IP carriers;
     * GRE carriers make none (counted); other protocols (IGMP, OSPF, PIM, ...) make Zeek-only
     * flows (zeek_only_proto) */
    if (p->is_arp || !p->ip_v || (!flow_proto(p->proto) && !zeek_only_proto(p->proto)))
        return false;
    *sp = *dp = 0;
    if (p->l4_ok && (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)) {
        /* Suricata's ICMP key: this message's type/code and its counterpart's, so a request
         * and its reply share a flow but two requests the other way round do not */
        int peer = bn_icmp_peer_type(p->proto, (uint8_t)p->sport);
        *sp = (uint16_t)(p->sport << 8 | p->dport);
        *dp = peer < 0 ? *sp : (uint16_t)(peer << 8 | p->dport);
    } else if (p->l4_ok) {
        *sp = p->sport;
        *dp = p->dport;
    }
    return true;
}

/* The flow key's ports (key_ports_slow), TCP and UDP without a call. */
static inline bool
key_ports(const struct net_pkt *p, uint16_t *sp, uint16_t *dp)
{
    if (p->l4_ok && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) && !p->is_arp &&
        p->ip_v) {
        *sp = p->sport;
        *dp = p->dport;
        return true;
    }
    return key_ports_slow(p, sp, dp);
}

/* ---- looking ahead (prefetch hints for frames the pipeline has not reached yet) ---- */

static uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t
rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The first word of a 16-byte address holding 4 bytes (x, as loaded from them) and zeros. */
static inline uint64_t
v4_word(uint32_t x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return x;
#else
    return (uint64_t)x << 32;
#endif
}

/* An address given as key_hash's two words into a key (stores only: reading back the bytes
 * of a struct just written in pieces stalls on store forwarding). */
static void
put_addr_words(struct net_addr *a, uint8_t fam, uint64_t w0, uint64_t w1)
{
    a->fam = fam;
    memcpy(a->a, &w0, 8);
    memcpy(a->a + 8, &w1, 8);
}

uint32_t
net_flow_frame_hash(const struct net_flowtab *t, const uint8_t *f, uint32_t n, bool *ok,
                    struct net_flow_fkey *key)
{
    uint32_t off = 14;
    uint16_t type, vlan[2] = {0, 0};
    uint64_t a0, a1, b0, b1;
    uint8_t proto, ipv;
    int nv = 0;

    *ok = false;
    if (n < 14)
        return 0;
    type = rd16(f + 12);
    while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
        if (n < off + 4 || nv == 2)
            return 0;
        vlan[nv++] = rd16(f + off) & 0x0fff;
        type = rd16(f + off + 2);
        off += 4;
    }
    const uint8_t *l4;
    /* the addresses as decode.c stores them (an IPv4 address in the first 4 of 16 bytes,
     * the rest zero), read as words */
    if (type == 0x0800) {
        const uint8_t *ip = f + off;
        if (n < off + 20 || (ip[0] >> 4) != 4 || (rd16(ip + 6) & 0x3fff))
            return 0; /* not IPv4, or a fragment */
        uint32_t hl = (ip[0] & 15u) * 4, x, y;
        if (hl < 20 || n < off + hl + 4)
            return 0;
        ipv = 4;
        proto = ip[9];
        memcpy(&x, ip + 12, 4);
        memcpy(&y, ip + 16, 4);
        a0 = v4_word(x);
        b0 = v4_word(y);
        a1 = b1 = 0;
        l4 = ip + hl;
    } else if (type == 0x86dd) {
        const uint8_t *ip = f + off;
        if (n < off + 44 || (ip[0] >> 4) != 6)
            return 0;
        ipv = 6;
        proto = ip[6];
        a0 = rd64(ip + 8);
        a1 = rd64(ip + 16);
        b0 = rd64(ip + 24);
        b1 = rd64(ip + 32);
        l4 = ip + 40;
    } else {
        return 0;
    }
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
        return 0;
    *ok = true;
    put_addr_words(&key->src, ipv, a0, a1);
    put_addr_words(&key->dst, ipv, b0, b1);
    key->sport = rd16(l4);
    key->dport = rd16(l4 + 2);
    key->vlan[0] = vlan[0];
    key->vlan[1] = vlan[1];
    key->proto = proto;
    key->ip_v = ipv;
    /* frame_hash's layer and third VLAN are 0 (net_flow_hash_hint checks the packet's) */
    return key_hash(t->seed, a0, a1, key->sport, b0, b1, key->dport, key_w(proto, 0, ipv),
                    key_v(vlan[0], vlan[1], 0));
}

void
net_flow_hash_hint(struct net_flowtab *t, const struct net_pkt *p, const struct net_flow_fkey *key,
                   uint32_t h)
{
    /* every field pkt_hash reads (frame_hash's layer and third VLAN are 0), and the ports
     * key_ports gives a TCP or UDP packet whose header was there */
    if (p->layer == 0 && p->vlan3 == 0 && p->l4_ok && !p->is_arp && p->proto == key->proto &&
        p->ip_v == key->ip_v && p->sport == key->sport && p->dport == key->dport &&
        p->vlan[0] == key->vlan[0] && p->vlan[1] == key->vlan[1] && addr_eq(&p->src, &key->src) &&
        addr_eq(&p->dst, &key->dst)) {
        t->peek_pkt = p;
        t->peek_hash = h;
        t->peek_m = -1;
    }
}

void
net_flow_prefetch_slot(const struct net_flowtab *t, uint32_t h)
{
    __builtin_prefetch(&t->ix[h & t->mask]);
}

struct net_flow *
net_flow_prefetch_entry(const struct net_flowtab *t, uint32_t h)
{
    for (uint32_t i = h & t->mask; t->ix[i].idx; i = (i + 1) & t->mask) {
        if (t->ix[i].hash == h) {
            struct net_flow *f = &t->e[t->ix[i].idx - 1].f;
            __builtin_prefetch(f);
            __builtin_prefetch((const char *)f + 64);
            __builtin_prefetch(&f->bytes, 1);
            __builtin_prefetch(&f->history, 1);
            return f;
        }
    }
    return NULL;
}

/*
 * The flow this packet belongs to now, if any, without changing anything: the pipeline asks
 * before running the detectors so the flow's per-flow state can be prefetched while they
 * work (the result is only a hint: the packet may still end, evict or create flows). The
 * key's hash is kept for the net_flow_packet call on the same packet that follows.
 */
struct net_flow *
net_flow_peek(struct net_flowtab *t, const struct net_pkt *p)
{
    uint16_t sp, dp;
    uint32_t h, i;

    if (!key_ports(p, &sp, &dp))
        return NULL;
    h = t->peek_pkt == p ? t->peek_hash : pkt_hash(t, p, sp, dp);
    t->peek_pkt = p;
    t->peek_hash = h;
    t->peek_entry = NIL;
    t->peek_m = 0;
    for (i = h & t->mask; t->ix[i].idx; i = (i + 1) & t->mask) {
        struct net_flow *f = &t->e[t->ix[i].idx - 1].f;
        int m;
        if (t->ix[i].hash == h && (m = match(f, p, sp, dp)) != 0) {
            /* the counters net_flow_packet will write (lines 2-3 of the entry) */
            __builtin_prefetch(&f->bytes, 1);
            __builtin_prefetch(&f->history, 1);
            t->peek_entry = t->ix[i].idx - 1;
            t->peek_m = m;
            return f;
        }
    }
    return NULL;
}

struct net_flow *
net_flow_packet(struct net_flowtab *t, const struct net_pkt *p, enum net_dir *dir)
{
    uint16_t sp = 0, dp = 0;
    uint32_t h, i, entry = NIL;
    int m = 0;
    struct net_flow *f;

    t->st.packets++;
    if (!key_ports(p, &sp, &dp)) {
        t->st.no_flow++;
        return NULL;
    }
    /* what net_flow_peek found for this very packet, if it looked (nothing changes the
     * table between the two: only the detectors run, and they read it) */
    bool peeked = t->peek_pkt == p && t->peek_m >= 0;
    if (p->ts_ns >= t->last_expire_ns + NS) {
        net_flow_expire(t, p->ts_ns);
        t->last_expire_ns = p->ts_ns;
        peeked = false; /* flows may have ended: look again */
    }
    /* the hash computed for this very packet (look-ahead or peek), if it was */
    h = t->peek_pkt == p ? t->peek_hash : pkt_hash(t, p, sp, dp);
    t->peek_pkt = NULL;
    if (peeked) {
        entry = t->peek_entry;
        m = t->peek_m;
    } else {
        for (i = h & t->mask; t->ix[i].idx; i = (i + 1) & t->mask) {
            if (t->ix[i].hash != h)
                continue;
            m = match(&t->e[t->ix[i].idx - 1].f, p, sp, dp);
            if (m) {
                entry = t->ix[i].idx - 1;
                break;
            }
        }
    }
    if (entry != NIL && p->proto == IPPROTO_TCP && tcp_reused(&t->e[entry].f, p)) {
        /* a new connection on the tuple of a finished one: the old flow ends here */
        t->st.tcp_reused++;
        end_flow(t, entry, NET_END_SHUTDOWN);
        entry = NIL;
    }
    if (entry != NIL && zk_split_due(&t->e[entry].f, p, m))
        zk_split(t, &t->e[entry].f, p->ts_ns);
    if (entry == NIL) {
        bool reverse = false;
        if (t->free_head == NIL && t->fresh < t->nent) {
            entry = t->fresh++;
        } else {
            if (t->free_head == NIL) {
                evict_oldest(t);
                /* the index may have shifted: find the insertion slot again below */
            }
            entry = t->free_head;
            t->free_head = t->e[entry].next;
        }
        if (p->proto == IPPROTO_TCP) {
            uint8_t fl = p->tcp_flags & (NET_TCP_SYN | NET_TCP_ACK);
            if (fl == (NET_TCP_SYN | NET_TCP_ACK)) {
                reverse = true;
                t->st.tcp_reversed++;
            } else if (fl != NET_TCP_SYN) {
                t->st.tcp_midstream++;
            }
        }
        init_flow(t, &t->e[entry].f, p, sp, dp, reverse);
        t->e[entry].hash = h;
        t->e[entry].used = 1;
        for (i = h & t->mask; t->ix[i].idx; i = (i + 1) & t->mask)
            ;
        t->ix[i].hash = h;
        t->ix[i].idx = entry + 1;
        lru_push(t, entry, p->proto == IPPROTO_TCP ? C_TCP_NEW : C_NEW);
        t->st.created++;
        t->st.active++;
        if (t->st.active > t->st.active_max)
            t->st.active_max = t->st.active;
        m = reverse ? 2 : 1;
    }
    f = &t->e[entry].f;
    /* the flow's timeout class before this packet: the entry's cls (line 5 of the entry,
     * which a packet then need not touch) always equals class_of() between calls */
    uint8_t cls0 = class_of(f);
    /* the direction in a local: the stores to f below could alias *dir for all the
     * compiler knows, and it reloaded *dir after each (a chain of store-to-load forwards) */
    enum net_dir d = m == 1 ? NET_TOSERVER : NET_TOCLIENT;
    *dir = d;
    f->pkts[d]++;
    f->bytes[d] += p->pkt_len;
    f->payload_bytes[d] += p->payload_len;
    f->ip_bytes[d] += p->ip_len;
    if (p->ts_ns > f->last_ns)
        f->last_ns = p->ts_ns;
    history(f, d, p);
    if (p->eth) {
        /* the packet's source MAC is on its sender's side, the destination on the other */
        mac_add(f, d == NET_TOSERVER ? 0 : 1, p->eth + 6);
        mac_add(f, d == NET_TOSERVER ? 1 : 0, p->eth);
    }
    if (p->proto == IPPROTO_TCP) {
        uint32_t start = p->tcp_seq + ((p->tcp_flags & NET_TCP_SYN) ? 1 : 0);
        uint32_t end = start + p->payload_len;
        if (!(p->tcp_flags & NET_TCP_RST)) {
            if (!f->seq_init[d]) {
                f->seq_first[d] = start;
                f->seq_end[d] = end;
                f->seq_init[d] = 1;
                f->seq_wraps[d] = 0;
            } else if ((p->payload_len || (p->tcp_flags & NET_TCP_FIN)) &&
                       (int32_t)(end - f->seq_end[d]) > 0) {
                /* a FIN's sequence number counts too (Zeek: data it never saw is still sent
                 * bytes, as missed_bytes) */
                if (end < f->seq_end[d] && f->seq_wraps[d] < UINT8_MAX)
                    f->seq_wraps[d]++;
                f->seq_end[d] = end;
            }
        }
        f->tcp_flags[d] |= p->tcp_flags;
        tcp_update(f, d, p->tcp_flags, t->cfg.midstream);
        if (p->tcp_flags & (NET_TCP_FIN | NET_TCP_RST))
            zk_closed(f, d, p->tcp_flags, p->ts_ns);
    } else {
        if ((p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) && f->pkts[d] == 1) {
            f->icmp_type[d] = (uint8_t)p->sport;
            f->icmp_code[d] = (uint8_t)p->dport;
        }
        if (f->pkts[NET_TOSERVER] && f->pkts[NET_TOCLIENT])
            f->state = NET_FLOW_ESTABLISHED;
    }
    /* a new timeout class moves the flow to the tail of that list; otherwise it stays and
     * is re-queued lazily when it reaches the head (see net_flow_expire) */
    uint8_t cls = class_of(f);
    if (cls != cls0) {
        lru_unlink(t, entry);
        lru_push(t, entry, cls);
    }
    return f;
}

#define SWAP(a, b)                                                                             \
    do {                                                                                       \
        __typeof__(a) tmp_ = (a);                                                              \
        (a) = (b);                                                                             \
        (b) = tmp_;                                                                            \
    } while (0)

void
net_flow_swap(struct net_flow *f)
{
    SWAP(f->cli, f->srv);
    SWAP(f->cport, f->sport);
    SWAP(f->tcp_flags[0], f->tcp_flags[1]);
    SWAP(f->pkts[0], f->pkts[1]);
    SWAP(f->bytes[0], f->bytes[1]);
    SWAP(f->payload_bytes[0], f->payload_bytes[1]);
    SWAP(f->ip_bytes[0], f->ip_bytes[1]);
    SWAP(f->seq_first[0], f->seq_first[1]);
    SWAP(f->seq_end[0], f->seq_end[1]);
    SWAP(f->seq_init[0], f->seq_init[1]);
    SWAP(f->seq_wraps[0], f->seq_wraps[1]);
    SWAP(f->gaps[0], f->gaps[1]);
    SWAP(f->icmp_type[0], f->icmp_type[1]);
    SWAP(f->icmp_code[0], f->icmp_code[1]);
    SWAP(f->app_dir_done[0], f->app_dir_done[1]);
    SWAP(f->ooo_dropped[0], f->ooo_dropped[1]);
    SWAP(f->nmacs[0], f->nmacs[1]);
    SWAP(f->zk_pkts0[0], f->zk_pkts0[1]);
    SWAP(f->zk_pay0[0], f->zk_pay0[1]);
    uint8_t m[NET_FLOW_MACS][6];
    memcpy(m, f->macs[0], sizeof(m));
    memcpy(f->macs[0], f->macs[1], sizeof(m));
    memcpy(f->macs[1], m, sizeof(m));
    for (char *c = f->history; *c; c++)
        *c = (char)(*c >= 'a' ? *c - ('a' - 'A') : *c + ('a' - 'A'));
    f->hist_bits = (uint8_t)(f->hist_bits << 4 | f->hist_bits >> 4);
}

uint64_t
net_flow_app_bytes(const struct net_flow *f, enum net_dir dir)
{
    if (f->proto != IPPROTO_TCP || !f->seq_init[dir])
        return f->payload_bytes[dir];
    if (f->seq_wraps[dir]) /* over 4 GiB: the sequence numbers went round, as Zeek counts */
        return ((uint64_t)f->seq_wraps[dir] << 32) + f->seq_end[dir] - f->seq_first[dir];
    /* a span larger than what was seen is a wild sequence number: trust the count */
    uint32_t span = f->seq_end[dir] - f->seq_first[dir];
    return span <= f->payload_bytes[dir] + 65536u ? span : f->payload_bytes[dir];
}

void
net_flowtab_stats(const struct net_flowtab *t, struct net_flow_stats *st)
{
    *st = t->st;
}
