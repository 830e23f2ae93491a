/*
 * app_http2.c - HTTP/2 (RFC 9113) over cleartext TCP: the connection preface, frames of each
 * direction (9-byte header, payload streamed through: DATA is only counted, the other types
 * are kept up to BN_NET_H2_FRAME_BUF_MAX), header blocks (HEADERS / PUSH_PROMISE +
 * CONTINUATION, BN_NET_H2_HBLOCK_MAX) decoded by HPACK (app_http2_hpack.c), and streams.
 *
 * Records, as Suricata's http2 transactions: one per stream (request and response headers,
 * its priority and RST_STREAM error code), emitted when both sides ended it (END_STREAM or
 * RST_STREAM from each) or at flow end; one per SETTINGS or GOAWAY frame of stream 0. Up to
 * BN_NET_H2_STREAMS_MAX streams are open at once: past that the oldest is emitted early
 * (counted as a limit error). Frame length, padding and stream-id errors are counted as
 * malformed and end the parsing of that direction (framing cannot be trusted after them).
 *
 * DNS over HTTPS (RFC 8484) in cleartext HTTP/2: a GET whose :path carries a base64url "dns"
 * parameter, or a message whose content-type is application/dns-message (its body, kept up
 * to BN_NET_H2_BODY_MAX), goes to a DNS parser of the connection when the stream is
 * reported: one dns record per stream as Suricata logs DoH, the response when the server
 * answered with one, else the query.
 */
#include <stdbool.h>
#include <string.h>

#include "sensor/app_http2.h"
#include "sensor/app_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

enum {
    F_DATA = 0,
    F_HEADERS = 1,
    F_PRIORITY = 2,
    F_RST_STREAM = 3,
    F_SETTINGS = 4,
    F_PUSH_PROMISE = 5,
    F_PING = 6,
    F_GOAWAY = 7,
    F_WINDOW_UPDATE = 8,
    F_CONTINUATION = 9,
};

#define FL_END_STREAM  0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED      0x8
#define FL_PRIORITY    0x20

struct h2_stream {
    uint32_t id;
    bool used;
    uint8_t slot; /* its index in h2_conn.s */
    bool end[2];
    struct net_http2_info info;
    struct net_http_hdrs *hdrs[2];
    uint8_t truncated;
    uint32_t tx_id;
    uint64_t body[2];
    bool doh[2];              /* this side's body is a DNS message */
    bool doh_done[2];         /* ... and it ended */
    struct app_acc dohmsg[2]; /* the message, kept until the stream is reported */
};

struct h2_dir {
    size_t preface; /* preface bytes still expected (client side) */
    bool dead;
    uint8_t hdr[9];
    uint8_t hlen;
    /* the frame being read */
    uint32_t flen, left, sid;
    uint8_t type, flags;
    bool keep;           /* payload gathered in pay */
    bool data_pad_known; /* DATA: its pad length byte was read */
    uint8_t data_pad;
    struct app_acc pay;
    /* a header block waiting for CONTINUATION */
    bool in_block;
    uint32_t hb_sid;
    bool hb_end_stream;
    uint32_t hb_target; /* stream the headers belong to (the promised one for PUSH_PROMISE) */
    enum net_dir hb_side;
    struct app_acc hblock;
    struct hpack hp;
};

_Static_assert(BN_NET_H2_STREAMS_MAX <= 64, "open streams are a 64-bit mask");

struct h2_conn {
    struct h2_dir d[2];
    /* the open streams' ids apart from the ~400-byte slots: a lookup reads 256 bytes, not
     * a line of every slot. Slots are allocated at their first use and kept until the
     * connection ends (a connection rarely has more than a few streams open: 64 slots
     * inline were 26 KB per connection, most of it never used) */
    uint64_t open;                        /* bit i: s[i] is in use */
    uint32_t sid[BN_NET_H2_STREAMS_MAX]; /* s[i]->id */
    struct h2_stream *s[BN_NET_H2_STREAMS_MAX];
    uint32_t next_tx_id;
    void *dns; /* the DNS parser of the DoH messages (opened on the first) */
};

struct h2_conn *
app_h2_open(uint32_t first_tx_id, size_t preface_done)
{
    struct h2_conn *c = net_slab_state_new(sizeof(*c));
    if (!c) {
        app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
        return NULL;
    }
    c->next_tx_id = first_tx_id;
    for (int i = 0; i < 2; i++)
        hpack_init(&c->d[i].hp);
    c->d[NET_TOSERVER].preface =
        preface_done < APP_H2_PREFACE_LEN ? APP_H2_PREFACE_LEN - preface_done : 0;
    return c;
}

/* ---- records ---- */

static bool
name_is(const struct net_http_hdrs *l, const struct net_http_hdr *h, const char *name)
{
    size_t n = strlen(name);
    return !h->is_size_update && h->name_len == n && !memcmp(l->bytes + h->name_off, name, n);
}

enum h2_name { H2_OTHER, H2_METHOD, H2_PATH, H2_HOST, H2_UA, H2_STATUS, H2_CLEN };

/* Which of the names a record takes h is (by its length first: one compare per header). */
static enum h2_name
common_name(const struct net_http_hdrs *l, const struct net_http_hdr *h)
{
    const char *b = l->bytes + h->name_off;
    if (h->is_size_update)
        return H2_OTHER;
    switch (h->name_len) {
    case 4: return !memcmp(b, "host", 4) ? H2_HOST : H2_OTHER;
    case 5: return !memcmp(b, ":path", 5) ? H2_PATH : H2_OTHER;
    case 7:
        return !memcmp(b, ":method", 7)   ? H2_METHOD
               : !memcmp(b, ":status", 7) ? H2_STATUS
                                          : H2_OTHER;
    case 10:
        return !memcmp(b, ":authority", 10)   ? H2_HOST
               : !memcmp(b, "user-agent", 10) ? H2_UA
                                              : H2_OTHER;
    case 14: return !memcmp(b, "content-length", 14) ? H2_CLEN : H2_OTHER;
    default: return H2_OTHER;
    }
}

static void
take_value(const struct net_http_hdrs *l, const struct net_http_hdr *h, char *dst, size_t dsz,
           uint8_t *trunc)
{
    app_copy(dst, dsz, l->bytes + h->value_off, h->value_len, trunc);
}

static bool
side_has(const struct net_http2_side *s)
{
    return s->n_settings || s->has_error_code || s->has_priority;
}

/* Fills a record from the stream's headers (Suricata's common fields) and emits it. */
static void
emit_rec(struct h2_conn *c, const struct net_http2_info *info, struct net_http_hdrs *const hdrs[2],
         uint8_t truncated, uint32_t tx_id, bool settings_rec, const uint64_t body[2],
         struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    (void)c;
    if (!hdrs[0] && !hdrs[1] && !side_has(&info->side[0]) && !side_has(&info->side[1]) &&
        !settings_rec)
        return; /* nothing Suricata would log (DATA or WINDOW_UPDATE only) */
    if (!sink)
        return;
    /* the request's list was written when it came, long before: its entries and first
     * bytes load while the record is made */
    for (int side = 0; side < 2; side++) {
        const struct net_http_hdrs *l = hdrs[side];
        if (l) {
            __builtin_prefetch(l);
            __builtin_prefetch((const char *)l + 64);
            __builtin_prefetch((const char *)l + 128);
            __builtin_prefetch((const char *)l + 192);
            __builtin_prefetch(l->bytes);
            __builtin_prefetch(l->bytes + 64);
        }
    }
    struct net_http_rec *r = app_http_rec_new();
    if (!r) {
        app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
        return;
    }
    r->version2 = 1;
    r->tx_id = tx_id;
    r->trans_depth = tx_id + 1;
    r->truncated = truncated;
    r->h2 = info;
    r->has_request = hdrs[0] != NULL;
    r->has_response = hdrs[1] != NULL;
    r->request_body_len = body ? body[0] : 0;
    r->response_body_len = body ? body[1] : 0;
    for (int side = 0; side < 2; side++) {
        const struct net_http_hdrs *l = hdrs[side];
        r->hdrs[side] = l;
        for (uint32_t i = 0; l && i < l->n; i++) {
            const struct net_http_hdr *h = &l->h[i];
            switch (common_name(l, h)) {
            case H2_METHOD: take_value(l, h, r->method, sizeof(r->method), &r->truncated); break;
            case H2_PATH: take_value(l, h, r->uri, sizeof(r->uri), &r->truncated); break;
            case H2_HOST: take_value(l, h, r->host, sizeof(r->host), &r->truncated); break;
            case H2_UA:
                take_value(l, h, r->user_agent, sizeof(r->user_agent), &r->truncated);
                break;
            case H2_STATUS:
            case H2_CLEN: {
                uint64_t v = 0;
                size_t k = 0;
                const char *p = l->bytes + h->value_off;
                for (; k < h->value_len && k < 19 && p[k] >= '0' && p[k] <= '9'; k++)
                    v = v * 10 + (uint64_t)(p[k] - '0');
                if (k == 0 || k != h->value_len)
                    continue; /* not a number: not reported as one */
                if (common_name(l, h) == H2_STATUS) {
                    r->status = v < 1000 ? (int)v : 0;
                } else {
                    r->content_length = v;
                    r->has_content_length = 1;
                }
                break;
            }
            default: break;
            }
        }
    }
    app_emit(sink, NET_REC_HTTP, ts_ns, f, r);
    app_rec_free(APP_RC_HTTP, r);
}

static void
stream_free(struct h2_stream *s)
{
    app_rec_free(APP_RC_HDRS, s->hdrs[0]);
    app_rec_free(APP_RC_HDRS, s->hdrs[1]);
    app_acc_release(&s->dohmsg[0]);
    app_acc_release(&s->dohmsg[1]);
    memset(s, 0, sizeof(*s));
}

/* ---- DNS over HTTPS ---- */

static void
doh_message(struct h2_conn *c, struct net_flow *f, enum net_dir dir, const uint8_t *m, size_t n,
            uint64_t ts_ns, struct net_sink *sink)
{
    (void)c;
    if (!n || !sink)
        return;
    if (!c->dns)
        c->dns = net_app_dns_udp.open(f);
    if (c->dns)
        net_app_dns_udp.data(c->dns, f, dir, m, n, ts_ns, sink);
}

static long b64url_decode(const char *in, size_t n, uint8_t *out, size_t osz);

/* A side's headers are complete: is its body (or its :path) a DNS message? */
static void
doh_headers(struct h2_conn *c, struct h2_stream *s, enum net_dir dir, struct net_flow *f,
            uint64_t ts_ns, struct net_sink *sink)
{
    const struct net_http_hdrs *l = s->hdrs[dir];
    const char *ct = "application/dns-message";
    for (uint32_t i = 0; l && i < l->n; i++) {
        const struct net_http_hdr *h = &l->h[i];
        const char *v = l->bytes + h->value_off;
        if (name_is(l, h, "content-type") && h->value_len >= strlen(ct) &&
            app_prefix_ci((const uint8_t *)v, h->value_len, ct)) {
            s->doh[dir] = true;
            if (f && f->app != NET_APP_DOH2) {
                f->app_orig = NET_APP_HTTP2;
                f->app = NET_APP_DOH2;
            }
        }
        if (dir == NET_TOSERVER && name_is(l, h, ":path")) {
            /* GET /dns-query?dns=<base64url message> */
            const char *q = memchr(v, '?', h->value_len);
            size_t k = q ? (size_t)(q - v) : h->value_len;
            while (k + 5 <= h->value_len) {
                if ((v[k] == '?' || v[k] == '&') && !memcmp(v + k + 1, "dns=", 4)) {
                    const char *b = v + k + 5;
                    size_t bl = 0;
                    while (b + bl < v + h->value_len && b[bl] != '&')
                        bl++;
                    uint8_t *m = bl <= BN_NET_H2_BODY_MAX * 2 ? bn_malloc(bl * 3 / 4 + 3) : NULL;
                    long ml = m ? b64url_decode(b, bl, m, bl * 3 / 4 + 3) : -1;
                    app_acc_release(&s->dohmsg[NET_TOSERVER]);
                    if (ml > 0 && app_acc_add(&s->dohmsg[NET_TOSERVER], m, (size_t)ml,
                                              BN_NET_H2_BODY_MAX) == 0)
                        s->doh_done[NET_TOSERVER] = true;
                    else
                        app_err(NET_APP_HTTP, m ? NET_APP_ERR_MALFORMED : NET_APP_ERR_LIMIT);
                    bn_free(m);
                    break;
                }
                k++;
            }
        }
    }
}

static void doh_message(struct h2_conn *c, struct net_flow *f, enum net_dir dir, const uint8_t *m,
                        size_t n, uint64_t ts_ns, struct net_sink *sink);

static void
stream_emit(struct h2_conn *c, struct h2_stream *s, struct net_flow *f, uint64_t ts_ns,
            struct net_sink *sink)
{
    emit_rec(c, &s->info, s->hdrs, s->truncated, s->tx_id, false, s->body, f, ts_ns, sink);
    enum net_dir d = s->doh_done[NET_TOCLIENT] ? NET_TOCLIENT : NET_TOSERVER;
    if (s->doh_done[d])
        doh_message(c, f, d, s->dohmsg[d].p, s->dohmsg[d].len, ts_ns, sink);
    size_t slot = s->slot;
    stream_free(s);
    s->slot = (uint8_t)slot;
    c->open &= ~(1ull << slot);
}

static struct h2_stream *
stream_get(struct h2_conn *c, uint32_t id, bool create, struct net_flow *f, uint64_t ts_ns,
           struct net_sink *sink)
{
    struct h2_stream *free_slot = NULL, *oldest = NULL;
    size_t oi = 0;
    for (uint64_t u = c->open; u; u &= u - 1) {
        size_t i = (size_t)__builtin_ctzll(u);
        if (c->sid[i] == id)
            return c->s[i];
        if (!oldest || c->sid[i] < c->sid[oi]) {
            oldest = c->s[i];
            oi = i;
        }
    }
    if (!create)
        return NULL;
    for (size_t i = 0; i < BN_NET_H2_STREAMS_MAX; i++) { /* the lowest slot not in use */
        if (!(c->open & (1ull << i))) {
            if (!c->s[i]) {
                c->s[i] = net_slab_state_new(sizeof(*c->s[i]));
                if (!c->s[i]) {
                    app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
                    return NULL;
                }
                c->s[i]->slot = (uint8_t)i;
            }
            free_slot = c->s[i];
            break;
        }
    }
    if (!free_slot) {
        /* too many open streams: the oldest is reported as it stands */
        app_err(NET_APP_HTTP, NET_APP_ERR_LIMIT);
        stream_emit(c, oldest, f, ts_ns, sink);
        free_slot = oldest;
    }
    size_t slot = free_slot->slot;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->slot = (uint8_t)slot;
    free_slot->used = true;
    free_slot->id = id;
    c->sid[slot] = id;
    c->open |= 1ull << slot;
    free_slot->info.stream_id = id;
    free_slot->tx_id = c->next_tx_id++;
    return free_slot;
}

static void
stream_end(struct h2_conn *c, struct h2_stream *s, enum net_dir dir, struct net_flow *f,
           uint64_t ts_ns, struct net_sink *sink)
{
    if (s->doh[dir] && !s->end[dir] && s->dohmsg[dir].len)
        s->doh_done[dir] = true;
    s->end[dir] = true;
    if (s->end[0] && s->end[1])
        stream_emit(c, s, f, ts_ns, sink);
}

/* ---- frames ---- */

static void
settings_parse(struct net_http2_side *side, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i += 6) {
        if (side->n_settings >= BN_ARRAY_SIZE(side->settings)) {
            app_dropped(1);
            continue;
        }
        side->settings[side->n_settings].id = app_be16(p + i);
        side->settings[side->n_settings].value = app_be32(p + i + 2);
        side->n_settings++;
    }
}

/* A stream 0 frame with settings or an error code: a record of its own. */
static void
global_rec(struct h2_conn *c, enum net_dir dir, uint8_t type, const uint8_t *p, size_t n,
           struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct net_http2_info info;
    struct net_http_hdrs *none[2] = {NULL, NULL};
    memset(&info, 0, sizeof(info));
    if (type == F_SETTINGS) {
        settings_parse(&info.side[dir], p, n);
    } else { /* GOAWAY: last stream id, error code */
        info.side[dir].has_error_code = 1;
        info.side[dir].error_code = app_be32(p + 4);
    }
    emit_rec(c, &info, none, 0, c->next_tx_id++, type == F_SETTINGS, NULL, f, ts_ns, sink);
}

static void
dir_fail(struct h2_dir *hd, enum net_app_err e)
{
    app_err(NET_APP_HTTP, e);
    hd->dead = true;
    hd->in_block = false;
    hd->hblock.len = 0;
}

/* A complete header block, blk[0..n): decoded into its stream's list for that side. */
static void
block_done(struct h2_conn *c, struct h2_dir *hd, const uint8_t *blk, size_t n,
           struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    hd->in_block = false;
    struct h2_stream *s = stream_get(c, hd->hb_target, true, f, ts_ns, sink);
    if (!s)
        return;
    if (!s->hdrs[hd->hb_side]) {
        s->hdrs[hd->hb_side] = app_hdrs_new();
        if (!s->hdrs[hd->hb_side]) {
            app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
            hd->hblock.len = 0;
            return;
        }
    }
    int rc = hpack_decode(&hd->hp, blk, n, s->hdrs[hd->hb_side], &s->truncated);
    hd->hblock.len = 0;
    if (rc == BN_EPROTO) {
        s->truncated = 1;
        dir_fail(hd, NET_APP_ERR_MALFORMED); /* the HPACK table is lost with it */
        return;
    }
    if (rc) {
        s->truncated = 1;
        dir_fail(hd, rc == BN_ENOMEM ? NET_APP_ERR_NOMEM : NET_APP_ERR_LIMIT);
        return;
    }
    doh_headers(c, s, hd->hb_side, f, ts_ns, sink);
    if (hd->hb_end_stream)
        stream_end(c, s, hd->hb_side, f, ts_ns, sink);
}

static void
block_add(struct h2_dir *hd, const uint8_t *p, size_t n)
{
    int rc = app_acc_add(&hd->hblock, p, n, BN_NET_H2_HBLOCK_MAX);
    if (rc)
        dir_fail(hd, rc == BN_ENOMEM ? NET_APP_ERR_NOMEM : NET_APP_ERR_LIMIT);
}

/*
 * The payload of a non-DATA frame is complete: pay[0..n), hd->pay or, when the frame came
 * whole in one chunk, borrowed from it.
 */
static void
frame_done(struct h2_conn *c, struct h2_dir *hd, enum net_dir dir, const uint8_t *pay,
           size_t n, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    static const uint8_t empty[1];
    const uint8_t *p = pay ? pay : empty; /* a frame without payload */
    uint8_t t = hd->type, fl = hd->flags;
    uint32_t sid = hd->sid;

    if (hd->in_block && t != F_CONTINUATION) {
        dir_fail(hd, NET_APP_ERR_UNEXPECTED); /* 6.10: only CONTINUATION may follow */
        return;
    }
    switch (t) {
    case F_HEADERS:
    case F_PUSH_PROMISE: {
        size_t off = 0, pad = 0;
        if (sid == 0) {
            dir_fail(hd, NET_APP_ERR_MALFORMED);
            return;
        }
        if (fl & FL_PADDED) {
            if (n < 1) {
                dir_fail(hd, NET_APP_ERR_MALFORMED);
                return;
            }
            pad = p[0];
            off = 1;
        }
        uint32_t target = sid;
        enum net_dir side = dir;
        struct h2_stream *s = stream_get(c, sid, true, f, ts_ns, sink);
        if (t == F_HEADERS && (fl & FL_PRIORITY)) {
            if (n < off + 5) {
                dir_fail(hd, NET_APP_ERR_MALFORMED);
                return;
            }
            if (s) {
                struct net_http2_side *sd = &s->info.side[dir];
                if (!sd->has_priority) {
                    sd->has_priority = 1;
                    sd->priority = p[off + 4];
                } else if (!sd->multiple) {
                    sd->multiple = 2;
                }
            }
            off += 5;
        }
        if (t == F_PUSH_PROMISE) {
            if (n < off + 4) {
                dir_fail(hd, NET_APP_ERR_MALFORMED);
                return;
            }
            target = app_be32(p + off) & 0x7fffffffu; /* the promised stream's request */
            side = NET_TOSERVER;
            off += 4;
        }
        if (pad > n - off) {
            dir_fail(hd, NET_APP_ERR_MALFORMED);
            return;
        }
        hd->in_block = true;
        hd->hb_sid = sid;
        hd->hb_target = target;
        hd->hb_side = side;
        hd->hb_end_stream = t == F_HEADERS && (fl & FL_END_STREAM);
        hd->hblock.len = 0;
        if (fl & FL_END_HEADERS) {
            /* the whole block is this frame's: decoded where it lies */
            if (n - off - pad > BN_NET_H2_HBLOCK_MAX)
                dir_fail(hd, NET_APP_ERR_LIMIT);
            else
                block_done(c, hd, p + off, n - off - pad, f, ts_ns, sink);
            return;
        }
        block_add(hd, p + off, n - off - pad);
        return;
    }
    case F_CONTINUATION:
        if (!hd->in_block || sid != hd->hb_sid) {
            dir_fail(hd, NET_APP_ERR_UNEXPECTED);
            return;
        }
        block_add(hd, p, n);
        if (!hd->dead && (fl & FL_END_HEADERS))
            block_done(c, hd, hd->hblock.p, hd->hblock.len, f, ts_ns, sink);
        return;
    case F_SETTINGS:
        if (sid != 0 || n % 6 != 0 || ((fl & 1) && n)) {
            dir_fail(hd, NET_APP_ERR_MALFORMED);
            return;
        }
        global_rec(c, dir, t, p, n, f, ts_ns, sink);
        return;
    case F_GOAWAY:
        if (sid != 0 || n < 8) {
            dir_fail(hd, NET_APP_ERR_MALFORMED);
            return;
        }
        global_rec(c, dir, t, p, n, f, ts_ns, sink);
        return;
    case F_RST_STREAM: {
        if (sid == 0 || n != 4) {
            dir_fail(hd, NET_APP_ERR_MALFORMED);
            return;
        }
        struct h2_stream *s = stream_get(c, sid, true, f, ts_ns, sink);
        if (!s)
            return;
        struct net_http2_side *sd = &s->info.side[dir];
        if (!sd->has_error_code) {
            sd->has_error_code = 1;
            sd->error_code = app_be32(p);
        } else if (!sd->multiple) {
            sd->multiple = 1;
        }
        /* the sender is done with the stream; frames the peer had in flight may still come
         * (a cancelled DoH query's answer): it is reported once the peer ends too, or at
         * the flow's end */
        stream_end(c, s, dir, f, ts_ns, sink);
        return;
    }
    case F_PRIORITY: {
        if (sid == 0 || n != 5) {
            dir_fail(hd, NET_APP_ERR_MALFORMED);
            return;
        }
        struct h2_stream *s = stream_get(c, sid, true, f, ts_ns, sink);
        if (!s)
            return;
        struct net_http2_side *sd = &s->info.side[dir];
        if (!sd->has_priority) {
            sd->has_priority = 1;
            sd->priority = p[4];
        } else if (!sd->multiple) {
            sd->multiple = 2;
        }
        return;
    }
    default: return; /* PING, WINDOW_UPDATE, extension frames: nothing logged */
    }
}

/* Start of a frame: its 9-byte header has been read. */
static void
frame_start(struct h2_conn *c, struct h2_dir *hd, enum net_dir dir, struct net_flow *f,
            uint64_t ts_ns, struct net_sink *sink)
{
    hd->flen = app_be24(hd->hdr);
    hd->type = hd->hdr[3];
    hd->flags = hd->hdr[4];
    hd->sid = app_be32(hd->hdr + 5) & 0x7fffffffu;
    hd->left = hd->flen;
    hd->pay.len = 0;
    hd->data_pad_known = false;
    hd->data_pad = 0;
    if (hd->type == F_DATA) {
        hd->keep = false;
        if (hd->sid == 0) {
            dir_fail(hd, NET_APP_ERR_MALFORMED);
            return;
        }
    } else if (hd->flen > BN_NET_H2_FRAME_BUF_MAX) {
        /* a frame this long: skipped and counted; a header block lost with it breaks HPACK */
        app_err(NET_APP_HTTP, NET_APP_ERR_LIMIT);
        app_dropped(1);
        hd->keep = false;
        if (hd->type == F_HEADERS || hd->type == F_CONTINUATION || hd->type == F_PUSH_PROMISE) {
            hd->dead = true;
            return;
        }
    } else {
        hd->keep = true;
    }
    if (hd->left == 0) {
        if (hd->keep)
            frame_done(c, hd, dir, NULL, 0, f, ts_ns, sink);
        else if (hd->type == F_DATA && (hd->flags & FL_END_STREAM)) {
            struct h2_stream *s = stream_get(c, hd->sid, false, f, ts_ns, sink);
            if (s)
                stream_end(c, s, dir, f, ts_ns, sink);
        }
    }
}

void
app_h2_data(struct h2_conn *c, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
            uint64_t ts_ns, struct net_sink *sink)
{
    if (!c || (unsigned)dir > 1)
        return;
    if (f && f->app == NET_APP_HTTP)
        f->app = NET_APP_HTTP2; /* prior knowledge; an upgrade set it already */
    struct h2_dir *hd = &c->d[dir];
    while (n > 0 && !hd->dead) {
        if (hd->preface) {
            size_t done = APP_H2_PREFACE_LEN - hd->preface;
            size_t k = BN_MIN(n, hd->preface);
            if (memcmp(d, &APP_H2_PREFACE[done], k) != 0) {
                dir_fail(hd, NET_APP_ERR_UNEXPECTED);
                return;
            }
            hd->preface -= k;
            d += k;
            n -= k;
            continue;
        }
        if (hd->hlen < 9) {
            size_t k = BN_MIN(n, (size_t)(9 - hd->hlen));
            memcpy(hd->hdr + hd->hlen, d, k);
            hd->hlen = (uint8_t)(hd->hlen + k);
            d += k;
            n -= k;
            if (hd->hlen == 9)
                frame_start(c, hd, dir, f, ts_ns, sink);
            if (hd->hlen == 9 && hd->left == 0)
                hd->hlen = 0;
            continue;
        }
        size_t k = (size_t)BN_MIN((uint64_t)n, (uint64_t)hd->left);
        const uint8_t *whole = NULL; /* the frame's whole payload is in this chunk */
        if (hd->keep && hd->pay.len == 0 && k == hd->left) {
            whole = d;
        } else if (hd->keep) {
            if (app_acc_add(&hd->pay, d, k, BN_NET_H2_FRAME_BUF_MAX) != 0) {
                dir_fail(hd, NET_APP_ERR_NOMEM);
                return;
            }
        } else if (hd->type == F_DATA) {
            size_t body = k;
            if ((hd->flags & FL_PADDED) && !hd->data_pad_known) {
                hd->data_pad = d[0];
                hd->data_pad_known = true;
                body--;
            }
            struct h2_stream *s = stream_get(c, hd->sid, false, f, ts_ns, sink);
            if (s)
                s->body[dir] += body;
            if (s && s->doh[dir]) {
                int rc = app_acc_add(&s->dohmsg[dir], d + (k - body), body, BN_NET_H2_BODY_MAX);
                if (rc) { /* longer than a DNS message can be: not one, counted */
                    app_err(NET_APP_HTTP, rc == BN_ENOMEM ? NET_APP_ERR_NOMEM : NET_APP_ERR_LIMIT);
                    s->doh[dir] = false;
                    app_acc_release(&s->dohmsg[dir]);
                }
            }
        }
        hd->left -= (uint32_t)k;
        d += k;
        n -= k;
        if (hd->left == 0) {
            hd->hlen = 0;
            if (whole) {
                frame_done(c, hd, dir, whole, k, f, ts_ns, sink);
            } else if (hd->keep) {
                frame_done(c, hd, dir, hd->pay.p, hd->pay.len, f, ts_ns, sink);
            } else if (hd->type == F_DATA) {
                struct h2_stream *s = stream_get(c, hd->sid, false, f, ts_ns, sink);
                if (s && hd->data_pad <= s->body[dir])
                    s->body[dir] -= hd->data_pad; /* the padding is not body */
                if (s && s->doh[dir])
                    s->dohmsg[dir].len -= BN_MIN(s->dohmsg[dir].len, (size_t)hd->data_pad);
                if (s && (hd->flags & FL_END_STREAM))
                    stream_end(c, s, dir, f, ts_ns, sink);
            }
        }
    }
}

/* ---- h2c upgrade ---- */

static int
b64url_val(uint8_t ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '-' || ch == '+')
        return 62;
    if (ch == '_' || ch == '/')
        return 63;
    return -1;
}

/* base64url (RFC 7540 3.2.1, no padding; '=' tolerated) into out; the length or -1. */
static long
b64url_decode(const char *in, size_t n, uint8_t *out, size_t osz)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '=')
            break;
        int v = b64url_val((uint8_t)in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= osz)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

void
app_h2_upgrade(struct h2_conn *c, const struct net_http_rec *req,
               const struct net_http_hdrs *req_hdrs, struct net_flow *f, uint64_t ts_ns,
               struct net_sink *sink)
{
    if (!c || !req)
        return;
    if (f && f->app == NET_APP_HTTP) {
        f->app_orig = NET_APP_HTTP;
        f->app = NET_APP_HTTP2;
    }
    struct h2_stream *s = stream_get(c, 1, true, f, ts_ns, sink);
    if (!s)
        return;
    struct net_http_hdrs *l = app_hdrs_new();
    if (!l) {
        app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
        return;
    }
    s->hdrs[NET_TOSERVER] = l;
    app_hdrs_add(l, ":method", 7, req->method, strlen(req->method), &s->truncated);
    app_hdrs_add(l, ":path", 5, req->uri, strlen(req->uri), &s->truncated);
    for (uint32_t i = 0; req_hdrs && i < req_hdrs->n; i++) {
        const struct net_http_hdr *h = &req_hdrs->h[i];
        const char *name = req_hdrs->bytes + h->name_off, *val = req_hdrs->bytes + h->value_off;
        if (h->is_size_update)
            continue;
        if (app_prefix_ci((const uint8_t *)name, h->name_len, "http2-settings") &&
            h->name_len == 14) {
            uint8_t set[BN_ARRAY_SIZE(((struct net_http2_side *)0)->settings) * 6];
            long k = b64url_decode(val, h->value_len, set, sizeof(set));
            if (k < 0 || k % 6) {
                app_err(NET_APP_HTTP, NET_APP_ERR_MALFORMED);
                continue;
            }
            global_rec(c, NET_TOSERVER, F_SETTINGS, set, (size_t)k, f, ts_ns, sink);
        } else if (h->name_len == 4 && app_prefix_ci((const uint8_t *)name, 4, "host")) {
            app_hdrs_add(l, ":authority", 10, val, h->value_len, &s->truncated);
        } else {
            app_hdrs_add(l, name, h->name_len, val, h->value_len, &s->truncated);
        }
    }
    s->end[NET_TOSERVER] = true; /* the HTTP/1 request was the whole request */
}

void
app_h2_gap(struct h2_conn *c, enum net_dir dir)
{
    if (!c || (unsigned)dir > 1 || c->d[dir].dead)
        return;
    dir_fail(&c->d[dir], NET_APP_ERR_GAP);
}

void
app_h2_close(struct h2_conn *c, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    if (!c)
        return;
    /* streams in id order, as they were opened */
    while (c->open) {
        size_t fi = (size_t)__builtin_ctzll(c->open);
        for (uint64_t u = c->open; u; u &= u - 1) {
            size_t i = (size_t)__builtin_ctzll(u);
            if (c->sid[i] < c->sid[fi])
                fi = i;
        }
        stream_emit(c, c->s[fi], f, ts_ns, sink);
    }
    for (size_t i = 0; i < BN_NET_H2_STREAMS_MAX; i++)
        net_slab_state_free(c->s[i], sizeof(*c->s[i]));
    if (c->dns)
        net_app_dns_udp.close(c->dns, f, ts_ns, sink);
    for (int i = 0; i < 2; i++) {
        if (c->d[i].in_block || c->d[i].left)
            app_err(NET_APP_HTTP, NET_APP_ERR_TRUNCATED);
        app_acc_release(&c->d[i].pay);
        app_acc_release(&c->d[i].hblock);
        hpack_free(&c->d[i].hp);
    }
    net_slab_state_free(c, sizeof(*c));
}
