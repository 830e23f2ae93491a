/*
 * app_http2_hpack.c - HPACK (RFC 7541): prefix integers, Huffman-coded strings, the static
 * table, a bounded dynamic table per direction, and the header list the decoded fields go
 * to. Everything read is bounds-checked against the block; an encoding error stops the
 * block (BN_EPROTO) and is never guessed around.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "sensor/app_http2.h"
#include "sensor/app_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

/* ---- Huffman code (RFC 7541 appendix B) ---- */

/*
 * The code is canonical: codes of one length are consecutive and ordered by symbol, and
 * each length starts where the previous one ended, shifted. So the bit length of each of
 * the 257 symbols (256 = EOS) defines it entirely; the decoder tables are built from them.
 */
/* clang-format off: 16 symbols a row */
static const uint8_t huff_len[257] = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6,  10, 10, 12, 13, 6,  8,  11, 10, 10, 8,  11, 8,  6,  6,  6,
    5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8,  15, 6,  12, 10, 13, 6,  7,  7,  7,  7,  7,  7,
    7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8,  13, 19, 13, 14, 6,
    15, 5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,  6,  7,  6,  5,  5,  6,  7,  7,
    7,  7,  7,  15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21,
    23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24,
    21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
};
/* clang-format on */

#define HUFF_MAXLEN 30

struct huff_tab {
    uint32_t first[HUFF_MAXLEN + 1];  /* first code of each length */
    uint16_t count[HUFF_MAXLEN + 1];  /* codes of each length */
    uint16_t offset[HUFF_MAXLEN + 1]; /* index of its first symbol in sym[] */
    uint16_t sym[257];                /* symbols ordered by (length, value) */
};

static struct huff_tab huff;
static pthread_once_t huff_once = PTHREAD_ONCE_INIT;

static void
huff_build(void)
{
    struct huff_tab t;
    uint32_t code = 0;
    uint16_t k = 0;
    memset(&t, 0, sizeof(t));
    for (unsigned len = 1; len <= HUFF_MAXLEN; len++) {
        code <<= 1;
        t.first[len] = code;
        t.offset[len] = k;
        for (unsigned s = 0; s < 257; s++) {
            if (huff_len[s] == len) {
                t.sym[k++] = (uint16_t)s;
                t.count[len]++;
            }
        }
        code += t.count[len];
    }
    huff = t;
}

/*
 * Canonical decoding: the next up to 64 bits sit left-aligned in a word, and for each
 * symbol the code lengths are tried from the shortest (5) up; the first length whose
 * leading bits fall in that length's range of codes is the symbol's (a shorter prefix that
 * is no code lies below its length's first code, so it is passed over). The same results
 * as reading bit by bit: -1 for EOS inside the string, for more than 30 bits that make no
 * code, for a symbol past osz, and for padding longer than 7 bits or not all ones.
 */
long
hpack_huffman_decode(const uint8_t *in, size_t n, char *out, size_t osz)
{
    size_t i = 0, o = 0;
    uint64_t acc = 0; /* the next `bits` bits of the input, from bit 63 down */
    unsigned bits = 0;

    pthread_once(&huff_once, huff_build);
    for (;;) {
        while (bits <= 56 && i < n) {
            acc |= (uint64_t)in[i++] << (56 - bits);
            bits += 8;
        }
        unsigned max = bits < HUFF_MAXLEN ? bits : HUFF_MAXLEN, len = 5;
        uint32_t idx = 0;
        for (; len <= max; len++) {
            idx = (uint32_t)(acc >> (64 - len)) - huff.first[len];
            if (idx < huff.count[len])
                break;
        }
        if (len > max) {
            if (bits >= HUFF_MAXLEN)
                return -1; /* 30 bits and no code */
            break;         /* the input's end: what is left is padding */
        }
        uint16_t s = huff.sym[huff.offset[len] + idx];
        if (s == 256)
            return -1; /* EOS inside a string is an error (5.2) */
        if (o >= osz)
            return -1;
        out[o++] = (char)s;
        acc <<= len;
        bits -= len;
    }
    /* padding: at most 7 bits, the EOS prefix (all ones) */
    if (bits > 7 || (bits && (acc >> (64 - bits)) != (1u << bits) - 1))
        return -1;
    return (long)o;
}

/* ---- static table (RFC 7541 appendix A) ---- */

static const char *const static_tab[61][2] = {
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};

/* ---- dynamic table ---- */

void
hpack_init(struct hpack *h)
{
    memset(h, 0, sizeof(*h));
    h->max_size = 4096; /* SETTINGS_HEADER_TABLE_SIZE's initial value */
}

void
hpack_free(struct hpack *h)
{
    bn_free(h->ent);
    bn_free(h->bytes);
    memset(h, 0, sizeof(*h));
}

/* Evicts the oldest entries until size <= limit. */
static void
dyn_evict(struct hpack *h, uint32_t limit)
{
    while (h->n && h->size > limit) {
        struct hpack_entry *e = &h->ent[(h->head + h->n - 1) & (h->cap - 1)];
        h->size -= e->name_len + e->value_len + 32;
        h->n--;
    }
}

/*
 * Room for need more bytes at the end of h's buffer: the live run moved to its start, into
 * a new buffer of one and a half times the live bytes and need when they would fill more
 * than four fifths of it (so a move comes at most once per fifth of the buffer added). Live
 * bytes are fewer than max_size, so the buffer stays under 1.5 BN_NET_H2_DYN_TABLE_MAX;
 * a 4096-byte table (the usual) fills about 5 KB.
 */
static int
bytes_room(struct hpack *h, uint32_t need)
{
    if (h->bytes && (uint64_t)(h->end - h->base) + need <= h->bcap)
        return 0;
    uint32_t oldest = h->n ? h->ent[(h->head + h->n - 1) & (h->cap - 1)].off : h->end;
    uint32_t live = h->end - oldest, want = live + need;
    if (!h->bytes || want + want / 4 > h->bcap) {
        uint32_t cap = ((want + want / 2) | 255u) + 1;
        char *nb = bn_malloc(cap);
        if (!nb)
            return BN_ENOMEM;
        if (live)
            memcpy(nb, h->bytes + (oldest - h->base), live);
        bn_free(h->bytes);
        h->bytes = nb;
        h->bcap = cap;
    } else if (live) {
        memmove(h->bytes, h->bytes + (oldest - h->base), live);
    }
    h->base = oldest;
    return 0;
}

static int
dyn_add(struct hpack *h, const char *name, size_t nl, const char *value, size_t vl)
{
    uint64_t esz = (uint64_t)nl + vl + 32;
    if (esz > h->max_size) {
        dyn_evict(h, 0); /* larger than the table: the table ends empty (4.4) */
        return 0;
    }
    dyn_evict(h, (uint32_t)(h->max_size - esz));
    if (h->n == h->cap) { /* a power of two: ring positions are masked, not divided */
        uint32_t cap = h->cap ? h->cap * 2 : 16;
        struct hpack_entry *ne = bn_calloc(cap, sizeof(*ne));
        if (!ne)
            return BN_ENOMEM;
        for (uint32_t i = 0; i < h->n; i++)
            ne[i] = h->ent[(h->head + i) & (h->cap - 1)];
        bn_free(h->ent);
        h->ent = ne;
        h->cap = cap;
        h->head = 0;
    }
    if (bytes_room(h, (uint32_t)(nl + vl)) != 0)
        return BN_ENOMEM;
    char *data = h->bytes + (h->end - h->base);
    memcpy(data, name, nl);
    memcpy(data + nl, value, vl);
    h->head = (h->head + h->cap - 1) & (h->cap - 1);
    h->ent[h->head] = (struct hpack_entry){(uint32_t)nl, (uint32_t)vl, h->end};
    h->end += (uint32_t)(nl + vl);
    h->n++;
    h->size += (uint32_t)esz;
    return 0;
}

/* Index (1-based, static then dynamic) to name and value; false when out of range. */
static bool
lookup(const struct hpack *h, uint64_t idx, const char **name, size_t *nl, const char **value,
       size_t *vl)
{
    if (idx == 0)
        return false;
    if (idx <= 61) {
        *name = static_tab[idx - 1][0];
        *nl = strlen(*name);
        *value = static_tab[idx - 1][1];
        *vl = strlen(*value);
        return true;
    }
    idx -= 62;
    if (idx >= h->n)
        return false;
    const struct hpack_entry *e = &h->ent[(h->head + idx) & (h->cap - 1)];
    *name = h->bytes + (e->off - h->base);
    *nl = e->name_len;
    *value = *name + e->name_len;
    *vl = e->value_len;
    return true;
}

/* ---- the header list ---- */

bool
app_hdrs_add(struct net_http_hdrs *l, const char *name, size_t nl, const char *value, size_t vl,
             uint8_t *trunc)
{
    if (l->n >= BN_NET_HTTP_HDRLIST_MAX || nl + vl > sizeof(l->bytes) - l->len) {
        app_dropped(1);
        *trunc = 1;
        return false;
    }
    struct net_http_hdr *e = &l->h[l->n++];
    memset(e, 0, sizeof(*e));
    e->name_off = l->len;
    e->name_len = (uint32_t)nl;
    memcpy(l->bytes + l->len, name, nl);
    l->len += (uint32_t)nl;
    e->value_off = l->len;
    e->value_len = (uint32_t)vl;
    memcpy(l->bytes + l->len, value, vl);
    l->len += (uint32_t)vl;
    return true;
}

static void
hdrs_size_update(struct net_http_hdrs *l, uint32_t size, uint8_t *trunc)
{
    if (l->n >= BN_NET_HTTP_HDRLIST_MAX) {
        app_dropped(1);
        *trunc = 1;
        return;
    }
    struct net_http_hdr *e = &l->h[l->n++];
    memset(e, 0, sizeof(*e));
    e->is_size_update = 1;
    e->size_update = size;
}

/* ---- decoding ---- */

/* A prefix integer of `bits` bits at d[*pos]; false on overflow or end of block. */
static bool
rd_int(const uint8_t *d, size_t n, size_t *pos, unsigned bits, uint64_t *out)
{
    if (*pos >= n)
        return false;
    uint64_t max = (1u << bits) - 1, v = d[(*pos)++] & max;
    if (v < max) {
        *out = v;
        return true;
    }
    for (unsigned shift = 0; shift <= 28; shift += 7) {
        if (*pos >= n)
            return false;
        uint8_t b = d[(*pos)++];
        v += (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false; /* more than 4 continuation bytes: beyond any size we accept */
}

/*
 * A string literal into buf[BN_NET_H2_STRING_MAX]; *len its length. Returns 0, BN_EPROTO
 * (past the block, bad Huffman) or BN_ETOOBIG (longer than the buffer: skipped whole).
 */
static int
rd_str(const uint8_t *d, size_t n, size_t *pos, char *buf, size_t *len)
{
    if (*pos >= n)
        return BN_EPROTO;
    bool huffman = d[*pos] & 0x80;
    uint64_t sl;
    if (!rd_int(d, n, pos, 7, &sl) || sl > n - *pos)
        return BN_EPROTO;
    const uint8_t *s = d + *pos;
    *pos += sl;
    if (huffman) {
        if (sl * 8 / 5 > BN_NET_H2_STRING_MAX) /* may decode to more than the buffer */
            return BN_ETOOBIG;
        long r = hpack_huffman_decode(s, sl, buf, BN_NET_H2_STRING_MAX);
        if (r < 0)
            return BN_EPROTO;
        *len = (size_t)r;
        return 0;
    }
    if (sl > BN_NET_H2_STRING_MAX)
        return BN_ETOOBIG;
    memcpy(buf, s, sl);
    *len = sl;
    return 0;
}

int
hpack_decode(struct hpack *h, const uint8_t *d, size_t n, struct net_http_hdrs *out, uint8_t *trunc)
{
    char *nbuf = app_buf_alloc(APP_RC_H2STR, 2 * BN_NET_H2_STRING_MAX);
    if (!nbuf)
        return BN_ENOMEM;
    char *vbuf = nbuf + BN_NET_H2_STRING_MAX;
    size_t pos = 0;
    int rc = 0;

    while (pos < n && rc == 0) {
        uint8_t b = d[pos];
        uint64_t idx;
        const char *name, *value;
        size_t nl, vl;
        if (b & 0x80) { /* indexed field (6.1) */
            if (!rd_int(d, n, &pos, 7, &idx) || !lookup(h, idx, &name, &nl, &value, &vl)) {
                rc = BN_EPROTO;
                break;
            }
            app_hdrs_add(out, name, nl, value, vl, trunc);
            continue;
        }
        if ((b & 0xe0) == 0x20) { /* dynamic table size update (6.3) */
            if (!rd_int(d, n, &pos, 5, &idx) || idx > BN_NET_H2_DYN_TABLE_MAX) {
                rc = BN_EPROTO;
                break;
            }
            h->max_size = (uint32_t)idx;
            dyn_evict(h, h->max_size);
            hdrs_size_update(out, (uint32_t)idx, trunc);
            continue;
        }
        /* literal: with incremental indexing (01), without (0000) or never indexed (0001) */
        bool incr = (b & 0xc0) == 0x40;
        if (!rd_int(d, n, &pos, incr ? 6 : 4, &idx)) {
            rc = BN_EPROTO;
            break;
        }
        int r1 = 0, r2;
        if (idx) {
            const char *iv;
            size_t ivl;
            if (!lookup(h, idx, &name, &nl, &iv, &ivl)) {
                rc = BN_EPROTO;
                break;
            }
            memcpy(nbuf, name, nl); /* the entry may be evicted when this one is added */
        } else {
            r1 = rd_str(d, n, &pos, nbuf, &nl);
            if (r1 == BN_EPROTO) {
                rc = r1;
                break;
            }
        }
        r2 = rd_str(d, n, &pos, vbuf, &vl);
        if (r2 == BN_EPROTO) {
            rc = r2;
            break;
        }
        if (r1 || r2) {
            /* too long to keep: the field is lost, and the table would differ from the
             * peer's, so an indexed one makes the rest of the connection unreliable */
            app_err(NET_APP_HTTP, NET_APP_ERR_LIMIT);
            app_dropped(1);
            *trunc = 1;
            if (incr)
                rc = BN_ETOOBIG;
            continue;
        }
        app_hdrs_add(out, nbuf, nl, vbuf, vl, trunc);
        if (incr)
            rc = dyn_add(h, nbuf, nl, vbuf, vl);
    }
    app_rec_free(APP_RC_H2STR, nbuf);
    return rc;
}
