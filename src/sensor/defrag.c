/*
 * defrag.c - IPv4 and IPv6 fragment reassembly for the decoder.
 *
 * A fixed number of datagram slots (NET_DEFRAG_DATAGRAMS by default), each with one 64 KiB
 * buffer allocated the first time the slot is used and kept, and a bitmap of the 8-byte
 * blocks received. Overlapping data keeps the first copy and is counted; a datagram that
 * does not complete within the timeout, or is evicted because every slot is busy, is counted
 * as timed out. Time comes from packet timestamps only. Lookups scan the slots: fragments
 * are rare and the table is small; slots are taken lowest first, so a scan (and the free at
 * the end) stops at the highest ever used instead of reading all 256 slots' lines (a
 * capture without fragments touches none of them).
 */
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "sensor/sensor.h"

#define DG_MAX 65535u                     /* payload bytes of one datagram */
#define DG_HDR 40u                        /* room for the rebuilt header */
#define DG_BLOCKS ((DG_MAX + 7) / 8)

struct dg {
    bool used;
    uint8_t fam;
    uint8_t proto;
    uint8_t ttl;
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t id;
    uint32_t total;                       /* payload length, known once the last fragment came */
    bool have_last;
    uint32_t got;                         /* blocks received */
    uint64_t first_ns;
    uint8_t *buf;                         /* DG_HDR + DG_MAX, owned, kept across uses */
    uint64_t map[(DG_BLOCKS + 63) / 64];  /* blocks received */
};

struct net_defrag {
    struct dg *slots;
    size_t n;
    size_t hw;           /* slots[hw..n) were never used: scans and the free stop there */
    uint64_t timeout_ns;
};

struct net_defrag *
net_defrag_new(size_t max, uint64_t timeout_ns)
{
    struct net_defrag *df = bn_calloc(1, sizeof(*df));

    if (!df)
        return NULL;
    df->slots = bn_calloc(max ? max : 1, sizeof(*df->slots));
    if (!df->slots) {
        bn_free(df);
        return NULL;
    }
    df->n = max ? max : 1;
    df->timeout_ns = timeout_ns;
    return df;
}

void
net_defrag_free(struct net_defrag *df)
{
    if (!df)
        return;
    for (size_t i = 0; i < df->hw; i++)
        bn_free(df->slots[i].buf);
    bn_free(df->slots);
    bn_free(df);
}

static bool
block_get(const struct dg *g, uint32_t b)
{
    return (g->map[b / 64] >> (b % 64)) & 1;
}

static void
block_set(struct dg *g, uint32_t b)
{
    g->map[b / 64] |= 1ull << (b % 64);
}

static void
slot_clear(struct dg *g)
{
    uint8_t *buf = g->buf;

    memset(g, 0, sizeof(*g));
    g->buf = buf;
}

static bool
same(const struct dg *g, const struct net_frag *fr)
{
    size_t alen = fr->fam == 4 ? 4 : 16;

    return g->used && g->fam == fr->fam && g->id == fr->id && g->proto == fr->proto &&
           memcmp(g->src, fr->src, alen) == 0 && memcmp(g->dst, fr->dst, alen) == 0;
}

/* Writes a minimal header before the payload; returns the packet start. */
static const uint8_t *
rebuild(struct dg *g, uint32_t *len)
{
    uint8_t *h;

    if (g->fam == 4) {
        uint32_t tot = g->total + 20;
        h = g->buf + DG_HDR - 20;
        memset(h, 0, 20);
        h[0] = 0x45;
        h[2] = (uint8_t)(tot >> 8);
        h[3] = (uint8_t)tot;
        h[4] = (uint8_t)(g->id >> 8);
        h[5] = (uint8_t)g->id;
        h[8] = g->ttl;
        h[9] = g->proto;
        memcpy(h + 12, g->src, 4);
        memcpy(h + 16, g->dst, 4);
        *len = tot;
    } else {
        h = g->buf;
        memset(h, 0, 40);
        h[0] = 0x60;
        h[4] = (uint8_t)(g->total >> 8);
        h[5] = (uint8_t)g->total;
        h[6] = g->proto;
        h[7] = g->ttl;
        memcpy(h + 8, g->src, 16);
        memcpy(h + 24, g->dst, 16);
        *len = g->total + 40;
    }
    return h;
}

int
net_defrag_add(struct net_defrag *df, const struct net_frag *fr, uint64_t ts_ns,
               struct net_decode_stats *st, const uint8_t **out, uint32_t *out_len)
{
    struct dg *g = NULL, *freeslot = NULL, *oldest = NULL;
    uint32_t end, b0, b1;
    bool overlap = false;

    *out = NULL;
    *out_len = 0;
    end = fr->off + fr->len;
    if (end > DG_MAX || fr->len == 0 || (fr->more && (fr->len % 8) != 0))
        return BN_EINVAL;
    for (size_t i = 0; i < df->hw; i++) {
        struct dg *s = &df->slots[i];
        if (s->used && ts_ns > s->first_ns + df->timeout_ns) {
            st->frag_timeout++;
            slot_clear(s);
        }
        if (!s->used) {
            if (!freeslot)
                freeslot = s;
            continue;
        }
        if (same(s, fr)) {
            g = s;
            break;
        }
        if (!oldest || s->first_ns < oldest->first_ns)
            oldest = s;
    }
    if (!g) {
        if (!freeslot && df->hw < df->n)
            freeslot = &df->slots[df->hw++]; /* the first never used */
        if (!freeslot) {
            /* every slot busy: the oldest datagram gives way (counted) */
            st->frag_timeout++;
            slot_clear(oldest);
            freeslot = oldest;
        }
        g = freeslot;
        if (!g->buf) {
            g->buf = bn_malloc(DG_HDR + DG_MAX);
            if (!g->buf)
                return BN_EFULL;
        }
        g->used = true;
        g->fam = fr->fam;
        g->proto = fr->proto;
        g->id = fr->id;
        memcpy(g->src, fr->src, fr->fam == 4 ? 4 : 16);
        memcpy(g->dst, fr->dst, fr->fam == 4 ? 4 : 16);
        g->first_ns = ts_ns;
    }
    if (fr->off == 0)
        g->ttl = fr->ttl;
    if (!fr->more) {
        if (g->have_last && g->total != end) {
            st->frag_overlap++;
            return BN_EINVAL; /* two different ends */
        }
        g->have_last = true;
        g->total = end;
    }
    if (g->have_last && end > g->total) {
        st->frag_overlap++;
        return BN_EINVAL;
    }
    b0 = fr->off / 8;
    b1 = (end + 7) / 8;
    for (uint32_t b = b0; b < b1; b++) {
        if (block_get(g, b)) {
            overlap = true;
            continue; /* first copy wins */
        }
        uint32_t s = b * 8, e = BN_MIN(s + 8, end);
        memcpy(g->buf + DG_HDR + s, fr->data + (s - fr->off), e - s);
        block_set(g, b);
        g->got++;
    }
    if (overlap)
        st->frag_overlap++;
    if (!g->have_last || g->got < (g->total + 7) / 8)
        return 0;
    *out = rebuild(g, out_len);
    st->frag_reassembled++;
    /* the buffer stays valid until the next call; the slot is free for reuse now */
    slot_clear(g);
    return 1;
}
