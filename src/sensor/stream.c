/*
 * stream.c - TCP reassembly for one direction of a connection.
 *
 * In-order segments are handed on without a copy. A segment that arrives ahead of the stream
 * is copied into a small per-direction set of out-of-order segments, bounded in count
 * (NET_STREAM_SEGS_MAX) and bytes (NET_STREAM_OOO_MAX). When a segment cannot be kept, the
 * stream stops waiting for the hole: the missing bytes are reported as a gap (the parser
 * resynchronises or gives up) and what was buffered is handed on. Overlapping bytes keep the
 * first copy seen, as most stacks do. Sequence numbers compare modulo 2^32.
 */
#include <string.h>

#include "bannin/alloc.h"
#include "sensor/sensor.h"

/* Takes n bytes from the shared budget; false when it is spent. */
static bool
mem_take(struct net_stream *s, uint64_t n)
{
    if (!s->mem)
        return true;
    if (s->mem->used + n > s->mem->cap) {
        s->mem->refused++;
        return false;
    }
    s->mem->used += n;
    return true;
}

static void
mem_give(struct net_stream *s, uint64_t n)
{
    if (s->mem)
        s->mem->used -= BN_MIN(n, s->mem->used);
}

/*
 * Hold buffers. The budget counts a direction's hold as it always has (HOLD_MIN bytes at
 * first, doubling as it fills), but the buffer behind a hold of up to HOLD_MIN bytes is only
 * as large as its bytes need: a size class of 512 B to 4 KiB, twice what it first holds.
 * Most holds keep one small unacknowledged segment: at the peak of the bench mix 11,600
 * holds of 4 KiB and more (47 MB, a quarter of the process) kept 1 MB between them, and
 * every page of them was a page fault. Class buffers come from per-class caches in struct
 * net_stream_mem: one is taken for a direction's unacknowledged bytes and given back as
 * soon as they are all acknowledged, which is nearly every data packet (malloc/free of
 * 4 KiB chunks each time cost more than the rest of the stream layer). Each buffer carries
 * its size in a header before its bytes.
 */
#define HOLD_MIN 4096u       /* the budget's first unit, and the largest class */
#define HOLD_CLASS0 512u     /* the smallest class (NET_STREAM_HOLD_CLASSES of them) */
#define HOLD_CACHE_MAX 1024u /* spare buffers per pipeline, all classes (4 MiB at most) */
#define HDR 8u               /* the header: the buffer's size (uint32_t) */

_Static_assert(HOLD_CLASS0 << (NET_STREAM_HOLD_CLASSES - 1) == HOLD_MIN, "hold classes");

static uint32_t
hbuf_size(const uint8_t *b)
{
    uint32_t z;

    memcpy(&z, b - HDR, sizeof(z));
    return z;
}

/* A buffer of size bytes (a class, or more than HOLD_MIN). */
static uint8_t *
hbuf_get(struct net_stream *s, uint32_t size)
{
    struct net_stream_mem *m = s->mem;
    unsigned c = (unsigned)__builtin_ctz(size / HOLD_CLASS0);
    uint8_t *blk;

    if (size <= HOLD_MIN && m && m->cache[c]) {
        blk = m->cache[c];
        memcpy(&m->cache[c], blk, sizeof(m->cache[c]));
        m->ncache--;
    } else if (!(blk = bn_malloc(HDR + (size_t)size))) {
        return NULL;
    }
    memcpy(blk, &size, sizeof(size));
    return blk + HDR;
}

static void
hbuf_put(struct net_stream *s, uint8_t *b)
{
    struct net_stream_mem *m = s->mem;

    if (!b)
        return;
    uint8_t *blk = b - HDR;
    uint32_t size = hbuf_size(b);
    if (m && size <= HOLD_MIN && m->ncache < HOLD_CACHE_MAX) {
        unsigned c = (unsigned)__builtin_ctz(size / HOLD_CLASS0);
        memcpy(blk, &m->cache[c], sizeof(m->cache[c])); /* the list runs through the headers */
        m->cache[c] = blk;
        m->ncache++;
        return;
    }
    bn_free(blk);
}

/*
 * s's buffer made room for need bytes (the budget already counts cap >= need), its held
 * bytes kept; NULL when out of memory (the old buffer is still s->hold).
 */
static uint8_t *
hold_resize(struct net_stream *s, uint32_t need, uint32_t cap)
{
    uint8_t *old = s->hold;
    uint32_t size = cap; /* past the classes the buffer is what the budget counts */

    if (need <= HOLD_MIN)
        for (size = HOLD_CLASS0; size < 2 * need && size < HOLD_MIN; size *= 2)
            ;
    if (old && hbuf_size(old) > HOLD_MIN) {
        uint8_t *blk = bn_realloc(old - HDR, HDR + (size_t)size);
        if (!blk)
            return NULL;
        memcpy(blk, &size, sizeof(size));
        return blk + HDR;
    }
    uint8_t *nb = hbuf_get(s, size);
    if (nb && old) {
        memcpy(nb, old, s->hold_len);
        hbuf_put(s, old);
    }
    return nb;
}

void
net_stream_mem_release(struct net_stream_mem *m)
{
    for (unsigned c = 0; c < NET_STREAM_HOLD_CLASSES; c++) {
        while (m->cache[c]) {
            uint8_t *blk = m->cache[c];
            memcpy(&m->cache[c], blk, sizeof(m->cache[c]));
            bn_free(blk);
        }
    }
    m->ncache = 0;
}

/*
 * Copies of out-of-order segments: up to SEG_SLAB_MAX bytes (nearly all: one packet's
 * payload) from the pipeline's slab (net_slab_state_new; the heap when none is bound), longer
 * ones from the heap. A malloc + free of 1-2 KB per segment (past glibc's per-thread caches)
 * was ~0.8 % of a --no-ndr run on the bench mix, most of it misses on the neighbouring
 * chunks' headers.
 */
#define SEG_SLAB_MAX 2048u

static uint8_t *
seg_new(uint32_t n)
{
    return n <= SEG_SLAB_MAX ? net_slab_state_new(n) : bn_malloc(n);
}

static void
seg_free(uint8_t *p, uint32_t n)
{
    if (n <= SEG_SLAB_MAX)
        net_slab_state_free(p, n);
    else
        bn_free(p);
}

static inline uint32_t
sat_add(uint32_t a, uint64_t n)
{
    return n >= (uint64_t)(UINT32_MAX - a) ? UINT32_MAX : a + (uint32_t)n;
}

static inline int32_t
sdiff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

void
net_stream_init(struct net_stream *s)
{
    memset(s, 0, sizeof(*s));
}

void
net_stream_release(struct net_stream *s)
{
    for (unsigned i = 0; i < s->nseg; i++)
        seg_free(s->seg[i].data, s->seg[i].len);
    bn_free(s->seg);
    s->seg = NULL;
    mem_give(s, s->ooo_bytes + s->hold_cap);
    s->nseg = 0;
    s->ooo_bytes = 0;
    hbuf_put(s, s->hold);
    s->hold = NULL;
    s->hold_len = s->hold_cap = s->hold_virt = 0;
    s->skip_ok = 0;
}

/* Hands n held bytes on (the callback must not touch s's hold). */
static void
hand_on(struct net_stream *s, const uint8_t *d, size_t n, const struct net_stream_out *out)
{
    s->delivered = sat_add(s->delivered, n);
    s->fed += (uint32_t)n;
    if (out->data && n)
        out->data(out->ctx, d, n);
}

/* Hands n bytes of a declared skip range on without their content. */
static void
hand_skip(struct net_stream *s, uint32_t n, const struct net_stream_out *out)
{
    s->delivered = sat_add(s->delivered, n);
    s->fed += n;
    if (out->skip)
        out->skip(out->ctx, n);
    else if (out->gap) /* not reached: a skip range needs out->skip when it is made */
        out->gap(out->ctx, n);
}

void
net_stream_skip_hint(struct net_stream *s, uint64_t n)
{
    /* a bound far inside the sequence space's half (the compares are modulo 2^32) */
    s->skip_end = s->fed + (uint32_t)BN_MIN(n, (uint64_t)1 << 30);
    s->skip_ok = n != 0;
}

/* How many bytes from sequence number at on the consumer skips (0: none or no hint). */
static uint32_t
skip_room(const struct net_stream *s, uint32_t at)
{
    int32_t r = (int32_t)(s->skip_end - at);
    return s->skip_ok && r > 0 ? (uint32_t)r : 0;
}

/* A gap: the sequence jumps to next; what was skippable before it no longer is. */
static void
jumped(struct net_stream *s)
{
    s->fed = s->next;
    s->skip_ok = 0;
}

static void
hold_flush(struct net_stream *s, const struct net_stream_out *out)
{
    uint32_t v = s->hold_virt, n = s->hold_len;

    s->hold_virt = 0;
    if (v)
        hand_skip(s, v, out);
    if (!n)
        return;
    s->hold_len = 0;
    hand_on(s, s->hold, n, out);
}

/* Keeps in-order bytes until they are acknowledged; past the bound they go on unacked. */
static void
hold_add(struct net_stream *s, const uint8_t *d, uint32_t n, const struct net_stream_out *out)
{
    uint32_t held = s->hold_virt + s->hold_len;

    if (held + (uint64_t)n > NET_STREAM_HOLD_MAX) {
        s->hold_forced += held;
        hold_flush(s, out);
    }
    if (n > NET_STREAM_HOLD_MAX) {
        s->hold_forced += n;
        hand_on(s, d, n, out);
        return;
    }
    if (!s->hold_len && out->skip) {
        /* bytes the consumer skips: counted at the head of the hold, not copied */
        uint32_t m = BN_MIN(n, skip_room(s, s->fed + s->hold_virt));
        s->hold_virt += m;
        d += m;
        n -= m;
        if (!n)
            return;
    }
    uint32_t need = s->hold_len + n;
    if (need > s->hold_cap || (s->hold && need > hbuf_size(s->hold))) {
        uint32_t cap = s->hold_cap;
        if (need > cap) { /* what the budget counts: HOLD_MIN, then doubling */
            cap = cap ? cap : HOLD_MIN;
            while (cap < need)
                cap *= 2;
            if (cap > NET_STREAM_HOLD_MAX)
                cap = NET_STREAM_HOLD_MAX;
        }
        bool took = cap == s->hold_cap || mem_take(s, cap - s->hold_cap);
        uint8_t *nb = took ? hold_resize(s, need, cap) : NULL;
        if (!nb) { /* no memory or over budget: hand on now rather than lose bytes */
            if (took)
                mem_give(s, cap - s->hold_cap);
            s->hold_forced += s->hold_len + n;
            hold_flush(s, out);
            hand_on(s, d, n, out);
            return;
        }
        s->hold = nb;
        s->hold_cap = cap;
    }
    memcpy(s->hold + s->hold_len, d, n);
    s->hold_len += n;
}

void
net_stream_ack(struct net_stream *s, uint32_t ack, const struct net_stream_out *out)
{
    uint32_t held = s->hold_virt + s->hold_len, k, v, kd;
    int32_t rel;

    if (!held)
        return;
    rel = (int32_t)(ack - s->fed); /* fed: the first held byte */
    if (rel <= 0)
        return;
    k = (uint32_t)rel < held ? (uint32_t)rel : held;
    v = BN_MIN(k, s->hold_virt); /* skipped bytes first, then stored ones */
    kd = k - v;
    /* the callback may feed parsers that emit records: take the bytes out first */
    uint8_t *buf = s->hold;
    uint32_t len = s->hold_len, cap = s->hold_cap, virt = s->hold_virt - v;
    s->hold = NULL;
    s->hold_len = s->hold_cap = s->hold_virt = 0;
    if (v)
        hand_skip(s, v, out);
    if (kd)
        hand_on(s, buf, kd, out);
    if (s->hold || s->hold_len || s->hold_virt) {
        /* the callback held new bytes (it cannot, today): keep order by handing ours on */
        if (virt)
            hand_skip(s, virt, out);
        if (kd < len)
            hand_on(s, buf + kd, len - kd, out);
        mem_give(s, cap);
        hbuf_put(s, buf);
        return;
    }
    /* what is left: virt skipped bytes, then the stored ones from buf + kd; a stored prefix
     * the consumer now says it skips becomes a count too (no move of those bytes) */
    uint32_t rem = len - kd, m = 0;
    if (!virt && rem && out->skip)
        m = BN_MIN(rem, skip_room(s, s->fed));
    s->hold_virt = virt + m;
    rem -= m;
    if (!rem) {
        /* all acknowledged: the buffer goes back (kept, the idle flows' empty buffers used
         * up the shared budget, and later flows' bytes were handed on unacknowledged) */
        mem_give(s, cap);
        hbuf_put(s, buf);
        return;
    }
    if (kd + m)
        memmove(buf, buf + kd + m, rem);
    s->hold = buf;
    s->hold_len = rem;
    s->hold_cap = cap;
}

void
net_stream_syn(struct net_stream *s, uint32_t seq)
{
    if (s->init)
        return;
    s->next = seq + 1;
    s->init = 1;
    jumped(s);
}

static void
remove_seg(struct net_stream *s, unsigned i)
{
    s->ooo_bytes -= s->seg[i].len;
    mem_give(s, s->seg[i].len);
    seg_free(s->seg[i].data, s->seg[i].len);
    s->seg[i] = s->seg[s->nseg - 1];
    s->nseg--;
}

/* Hands on bytes from seq on (trimming what was already delivered). */
static void
deliver(struct net_stream *s, uint32_t seq, const uint8_t *d, uint32_t n,
        const struct net_stream_out *out)
{
    int32_t rel = sdiff(seq, s->next);

    if (rel > 0)
        return;
    if ((int64_t)n + rel <= 0)
        return;
    d += (uint32_t)-rel;
    n -= (uint32_t)-rel;
    s->next += n;
    if (s->ack_mode)
        hold_add(s, d, n, out);
    else
        hand_on(s, d, n, out);
}

/* Hands on buffered segments that have become contiguous. */
static void
drain(struct net_stream *s, const struct net_stream_out *out)
{
    bool again = true;

    while (again && s->nseg) {
        again = false;
        for (unsigned i = 0; i < s->nseg; i++) {
            if (sdiff(s->seg[i].seq, s->next) <= 0) {
                struct net_stream_seg g = s->seg[i];
                s->seg[i].data = NULL;
                remove_seg(s, i);
                deliver(s, g.seq, g.data, g.len, out);
                seg_free(g.data, g.len);
                again = true;
                break;
            }
        }
    }
}

/* Gives up the hole before the earliest buffered byte. */
static void
skip_hole(struct net_stream *s, const struct net_stream_out *out)
{
    unsigned lo = 0;

    if (!s->nseg)
        return;
    for (unsigned i = 1; i < s->nseg; i++)
        if (sdiff(s->seg[i].seq, s->seg[lo].seq) < 0)
            lo = i;
    uint32_t n = (uint32_t)sdiff(s->seg[lo].seq, s->next);
    s->gap_bytes = sat_add(s->gap_bytes, n);
    hold_flush(s, out); /* what came before the hole goes first */
    s->next = s->seg[lo].seq;
    jumped(s);
    if (out->gap)
        out->gap(out->ctx, n);
    drain(s, out);
}

void
net_stream_add(struct net_stream *s, uint32_t seq, const uint8_t *d, uint32_t n,
               const struct net_stream_out *out)
{
    if (n == 0)
        return;
    if (!s->init) {
        s->next = seq; /* picked up mid-stream */
        s->init = 1;
        jumped(s);
    }
    if (sdiff(seq, s->next) <= 0) {
        deliver(s, seq, d, n, out);
        drain(s, out);
        return;
    }
    /* ahead of the stream: keep a copy if the bounds allow */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (s->nseg < NET_STREAM_SEGS_MAX && s->ooo_bytes + n <= NET_STREAM_OOO_MAX &&
            (s->seg || (s->seg = bn_malloc(NET_STREAM_SEGS_MAX * sizeof(*s->seg)))) &&
            mem_take(s, n)) {
            uint8_t *c = seg_new(n);
            if (!c)
                mem_give(s, n);
            if (c) {
                memcpy(c, d, n);
                s->seg[s->nseg].seq = seq;
                s->seg[s->nseg].len = n;
                s->seg[s->nseg].data = c;
                s->nseg++;
                s->ooo_bytes += n;
                return;
            }
        }
        if (!s->nseg)
            break;
        /* full: stop waiting for the earliest hole */
        skip_hole(s, out);
        if (sdiff(seq, s->next) <= 0) {
            deliver(s, seq, d, n, out);
            drain(s, out);
            return;
        }
    }
    /* nothing buffered and this segment still cannot be kept: jump to it */
    uint32_t hole = (uint32_t)sdiff(seq, s->next);
    s->gap_bytes = sat_add(s->gap_bytes, hole);
    hold_flush(s, out);
    s->next = seq;
    jumped(s);
    if (out->gap)
        out->gap(out->ctx, hole);
    deliver(s, seq, d, n, out);
    drain(s, out);
}

void
net_stream_flush(struct net_stream *s, const struct net_stream_out *out)
{
    hold_flush(s, out);
    while (s->nseg)
        skip_hole(s, out);
    hold_flush(s, out);
}
