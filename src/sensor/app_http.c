/*
 * app_http.c - HTTP/1.0 and 1.1: request and status lines, the headers we report, bodies
 * framed by Content-Length, chunked transfer coding or connection close (skipped, only
 * counted), pipelined requests matched to responses in order, interim 1xx responses, HEAD
 * and CONNECT. One struct net_http_rec per transaction, emitted when its response ends (or
 * at flow end for requests never answered). Lines, header counts and the queue of pending
 * requests are bounded; what exceeds them is counted. HTTP/2 - after the client's connection
 * preface or an accepted h2c upgrade - goes to app_http2.c. The header lines of each message
 * are kept (bounded) so that the request of an h2c upgrade, and with dump-all-headers every
 * message, carries its full header list.
 */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/app_http2.h"
#include "sensor/app_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

enum hstate {
    H_START = 0, /* request or status line */
    H_HEADERS,
    H_BODY_LEN, /* Content-Length bytes left */
    H_CHUNK_SIZE,
    H_CHUNK_DATA,
    H_CHUNK_END, /* CRLF after chunk data */
    H_TRAILERS,
    H_BODY_CLOSE, /* response body until the connection closes */
    H_TUNNEL,     /* CONNECT accepted / Upgrade: the tunnel's bytes go to st->inner */
    H_RESYNC,     /* after a gap: skip lines until a request / status line */
    H_H2,         /* HTTP/2: the bytes go to st->h2 */
    H_DEAD,
};

struct hdir {
    enum hstate state;
    struct app_acc line;
    uint64_t left; /* body or chunk bytes left */
    unsigned n_headers;
    bool chunked;
    bool have_len;
    uint64_t clen;
    bool interim;            /* a 1xx response */
    bool gap_tx;             /* tx is a response cut by a gap, emitted at the next message */
    bool maybe09;            /* request line without version: the next line decides */
    bool shared;             /* request side: its tx is answered already (the response owns it) */
    bool upgrade_h2c;        /* this message's Upgrade header offers / accepts h2c */
    struct net_http_rec *tx; /* the transaction being filled by this direction */
    uint64_t body_pend;      /* body bytes http_skip took, not yet added to tx (bodies_flush) */
    struct app_acc raw;      /* this message's header lines, '\n'-terminated (bounded) */
    bool raw_full;           /* lines past BN_NET_HTTP_HDRBYTES_MAX were not kept */
};

struct http_state {
    struct hdir d[2];
    /* a CONNECT tunnel: TLS inside gets the TLS parser (plain HTTP restarts this one) */
    const struct net_app_parser *inner;
    void *inner_st;
    bool tunnel_probed;
    struct app_acc tunnel_buf;                        /* first tunnel bytes until a probe decides */
    /* requests waiting for a response: two in the state, more in a heap array grown to
     * NET_HTTP_PENDING_MAX (32 pointers inline were half of an HTTP flow's parser state) */
    struct net_http_rec **queue; /* queue_inl or the heap array */
    size_t n_queue;
    size_t queue_cap;
    struct net_http_rec *queue_inl[2];
    uint32_t orphans; /* requests pushed out of the queue unanswered: their responses are next */
    uint32_t depth;
    struct h2_conn *h2; /* HTTP/2 after the preface or an h2c upgrade */
};

/* Room for one more pending request (the queue grown if it can be); false when full. */
static bool
queue_room(struct http_state *st)
{
    if (st->n_queue < st->queue_cap)
        return true;
    if (st->queue_cap >= NET_HTTP_PENDING_MAX)
        return false;
    size_t cap = BN_MIN(st->queue_cap * 2, (size_t)NET_HTTP_PENDING_MAX);
    struct net_http_rec **q = bn_malloc(cap * sizeof(*q));
    if (!q) {
        app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
        return false;
    }
    memcpy(q, st->queue, st->n_queue * sizeof(*q));
    if (st->queue != st->queue_inl)
        bn_free(st->queue);
    st->queue = q;
    st->queue_cap = cap;
    return true;
}

static atomic_bool dump_headers;
static atomic_bool basic_only; /* eve http extended: no */

void
net_app_http_dump_headers(bool on)
{
    atomic_store(&dump_headers, on);
}

void
net_app_http_extended(bool on)
{
    atomic_store(&basic_only, !on);
}

bool
net_app_http_extended_on(void)
{
    return !atomic_load_explicit(&basic_only, memory_order_relaxed);
}

static const char *const methods[] = {
    "GET",    "POST",     "HEAD",      "PUT",   "DELETE", "OPTIONS",   "CONNECT",     "TRACE",
    "PATCH",  "PROPFIND", "PROPPATCH", "MKCOL", "COPY",   "MOVE",      "LOCK",        "UNLOCK",
    "SEARCH", "REPORT",   "CHECKOUT",  "MERGE", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE",
    "PRI", /* the HTTP/2 connection preface, "PRI * HTTP/2.0" */
};

int
app_http_probe(const uint8_t *d, size_t n, enum net_dir dir)
{
    if (dir == NET_TOCLIENT) {
        static const char h[] = "HTTP/";
        size_t k = BN_MIN(n, sizeof(h) - 1);
        if (memcmp(d, h, k) != 0)
            return 0;
        return n >= sizeof(h) - 1 ? 1 : -1;
    }
    /* the methods' first letters: with any other first byte none can match (each compare
     * below reads that byte), so the answer is 0 without them (undecided flows' data) */
    const uint32_t first = 1u << ('C' - 'A') | 1u << ('D' - 'A') | 1u << ('G' - 'A') |
                           1u << ('H' - 'A') | 1u << ('L' - 'A') | 1u << ('M' - 'A') |
                           1u << ('N' - 'A') | 1u << ('O' - 'A') | 1u << ('P' - 'A') |
                           1u << ('R' - 'A') | 1u << ('S' - 'A') | 1u << ('T' - 'A') |
                           1u << ('U' - 'A');
    if (n && ((unsigned)(d[0] - 'A') >= 26 || !(first >> (d[0] - 'A') & 1)))
        return 0;
    bool partial = false;
    for (size_t i = 0; i < BN_ARRAY_SIZE(methods); i++) {
        size_t ml = strlen(methods[i]);
        if (n > ml) {
            if (!memcmp(d, methods[i], ml) && d[ml] == ' ')
                return 1;
        } else if (!memcmp(d, methods[i], n)) {
            partial = true;
        }
    }
    return partial ? -1 : 0;
}

static struct net_http_rec *
tx_new(struct http_state *st)
{
    struct net_http_rec *tx = app_http_rec_new();
    if (!tx) {
        app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
        return NULL;
    }
    tx->tx_id = st->depth;
    tx->trans_depth = ++st->depth;
    return tx;
}

static void
tx_free(struct net_http_rec *tx)
{
    app_rec_free(APP_RC_HDRS, (void *)tx->hdrs[0]);
    app_rec_free(APP_RC_HDRS, (void *)tx->hdrs[1]);
    app_rec_free(APP_RC_HTTP, tx);
}

static void
tx_emit(struct net_http_rec *tx, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    app_emit(sink, NET_REC_HTTP, ts_ns, f, tx);
    tx_free(tx);
}

/* The kept header lines of a message as a list (name as sent, value trimmed), or NULL. */
static struct net_http_hdrs *
hdrs_build(struct hdir *hd, uint8_t *trunc)
{
    /* a recycled list (HTTP/2's kind): calloc zeroed 18 KB per message here */
    struct net_http_hdrs *l = app_hdrs_new();
    if (!l) {
        app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
        return NULL;
    }
    if (hd->raw_full) {
        app_dropped(1);
        *trunc = 1;
    }
    if (!hd->raw.p)
        return l; /* no header lines */
    const uint8_t *p = hd->raw.p, *end = p + hd->raw.len;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const uint8_t *colon = memchr(p, ':', n);
        if (colon) {
            size_t kl = (size_t)(colon - p), vl = n - kl - 1;
            const uint8_t *v = colon + 1;
            while (kl && (p[kl - 1] == ' ' || p[kl - 1] == '\t'))
                kl--;
            while (vl && (v[0] == ' ' || v[0] == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            app_hdrs_add(l, (const char *)p, kl, (const char *)v, vl, trunc);
        }
        p += n + 1;
    }
    return l;
}

/* Emits a transaction the response side owns; the request side may still point at it. */
static void
resp_emit(struct http_state *st, struct net_http_rec *tx, struct net_flow *f, uint64_t ts_ns,
          struct net_sink *sink)
{
    if (st->d[NET_TOSERVER].tx == tx) {
        st->d[NET_TOSERVER].tx = NULL; /* the rest of its body is only skipped */
        st->d[NET_TOSERVER].shared = false;
    }
    tx_emit(tx, f, ts_ns, sink);
}

/* Trims spaces and tabs at both ends of s[0..*n). */
static const uint8_t *
trim(const uint8_t *s, size_t *n)
{
    while (*n && (s[0] == ' ' || s[0] == '\t'))
        s++, (*n)--;
    while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
        (*n)--;
    return s;
}

static bool
parse_u64(const uint8_t *s, size_t n, int base, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    if (!n)
        return false;
    for (; i < n; i++) {
        unsigned dgt;
        uint8_t c = s[i];
        if (c >= '0' && c <= '9')
            dgt = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            dgt = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            dgt = c - 'A' + 10;
        else
            break;
        if (v > (UINT64_MAX - dgt) / (unsigned)base)
            return false;
        v = v * (unsigned)base + dgt;
    }
    if (i == 0)
        return false;
    *out = v;
    return true;
}

static void
request_line(struct http_state *st, struct hdir *hd, const uint8_t *s, size_t n)
{
    const uint8_t *sp1 = memchr(s, ' ', n);
    if (!sp1) {
        app_err(NET_APP_HTTP, NET_APP_ERR_MALFORMED);
        hd->state = H_DEAD;
        return;
    }
    struct net_http_rec *tx = tx_new(st);
    if (!tx) {
        hd->state = H_DEAD;
        return;
    }
    tx->has_request = 1;
    app_copy(tx->method, sizeof(tx->method), s, (size_t)(sp1 - s), &tx->truncated);
    const uint8_t *u = sp1;
    while (u < s + n && *u == ' ')
        u++;
    const uint8_t *end = s + n;
    const uint8_t *sp2 = end;
    /* the protocol is the last word when it starts with HTTP/ */
    for (const uint8_t *p = end; p > u; p--) {
        if (p[-1] == ' ') {
            if (end - p >= 5 && !memcmp(p, "HTTP/", 5))
                sp2 = p - 1;
            break;
        }
    }
    const uint8_t *ue = sp2;
    while (ue > u && ue[-1] == ' ')
        ue--;
    app_copy(tx->uri, sizeof(tx->uri), u, (size_t)(ue - u), &tx->truncated);
    if (sp2 < end)
        app_copy(tx->protocol, sizeof(tx->protocol), sp2 + 1, (size_t)(end - sp2 - 1),
                 &tx->truncated);
    else
        tx->http09 = 1; /* no headers follow; the answer is the body, until close */
    /* absolute-form URI (proxies): the host comes from it */
    if ((size_t)(ue - u) > 7 && app_prefix_ci(u, (size_t)(ue - u), "http://")) {
        const uint8_t *h = u + 7;
        size_t hl = 0;
        while (h + hl < ue && h[hl] != '/' && h[hl] != ':' && h[hl] != '?')
            hl++;
        app_copy(tx->host, sizeof(tx->host), h, hl, &tx->truncated);
    }
    hd->tx = tx;
    hd->state = H_HEADERS;
    hd->n_headers = 0;
    hd->chunked = hd->have_len = false;
    hd->clen = 0;
    hd->raw.len = 0;
    hd->raw_full = false;
    hd->upgrade_h2c = false;
}

static void
status_line(struct http_state *st, struct hdir *hd, const uint8_t *s, size_t n, struct net_flow *f,
            uint64_t ts_ns, struct net_sink *sink)
{
    const uint8_t *sp1 = memchr(s, ' ', n);
    uint64_t code = 0;
    if (!sp1) {
        app_err(NET_APP_HTTP, NET_APP_ERR_MALFORMED);
        hd->state = H_DEAD;
        return;
    }
    const uint8_t *tok = sp1 + 1, *e = s + n;
    size_t tl = 0;
    while (tok + tl < e && tok[tl] != ' ')
        tl++;
    bool numeric = tl == 3 && tok[0] >= '0' && tok[0] <= '9' && tok[1] >= '0' && tok[1] <= '9' &&
                   tok[2] >= '0' && tok[2] <= '9' && parse_u64(tok, tl, 10, &code);
    if (!numeric) {
        app_err(NET_APP_HTTP, NET_APP_ERR_MALFORMED); /* kept: status_string says what */
        code = 0;
    }
    hd->interim = code >= 100 && code < 200 && code != 101;
    if (hd->tx && hd->gap_tx) {
        resp_emit(st, hd->tx, f, ts_ns, sink);
        hd->tx = NULL;
        hd->gap_tx = false;
    }
    struct net_http_rec *tx = NULL;
    if (!hd->interim) {
        struct hdir *rq = &st->d[NET_TOSERVER];
        if (st->orphans) {
            st->orphans--; /* the answer to a request already reported alone */
            tx = tx_new(st);
            if (!tx) {
                hd->state = H_DEAD;
                return;
            }
        } else if (st->n_queue) {
            tx = st->queue[0];
            memmove(st->queue, st->queue + 1, (st->n_queue - 1) * sizeof(st->queue[0]));
            st->n_queue--;
        } else if (rq->tx && !rq->tx->has_response && !rq->shared) {
            tx = rq->tx; /* answered before the request's body ended: the same transaction */
            rq->shared = true;
        } else {
            tx = tx_new(st); /* a response without a request we saw */
            if (!tx) {
                hd->state = H_DEAD;
                return;
            }
        }
        tx->has_response = 1;
        tx->status = (int)code;
        if (!numeric)
            app_copy(tx->status_string, sizeof(tx->status_string), tok, tl, &tx->truncated);
        /* eve's protocol is the request's (libhtp request_protocol): a response without its
         * request has none */
        if (!tx->protocol[0] && tx->has_request)
            app_copy(tx->protocol, sizeof(tx->protocol), s, (size_t)(sp1 - s), &tx->truncated);
        const uint8_t *m = sp1 + 1;
        while (m < s + n && *m != ' ')
            m++;
        if (m < s + n)
            app_copy(tx->status_msg, sizeof(tx->status_msg), m + 1, (size_t)(s + n - m - 1),
                     &tx->truncated);
    }
    hd->tx = tx;
    hd->state = H_HEADERS;
    hd->n_headers = 0;
    hd->chunked = hd->have_len = false;
    hd->clen = 0;
    hd->raw.len = 0;
    hd->raw_full = false;
    hd->upgrade_h2c = false;
}

static void
header(struct hdir *hd, enum net_dir dir, const uint8_t *s, size_t n)
{
    struct net_http_rec *tx = hd->tx;
    if (++hd->n_headers > NET_HTTP_HEADERS_MAX) {
        if (hd->n_headers == NET_HTTP_HEADERS_MAX + 1) {
            app_err(NET_APP_HTTP, NET_APP_ERR_LIMIT);
            app_dropped(1);
        }
        return;
    }
    if (dir == NET_TOSERVER || atomic_load_explicit(&dump_headers, memory_order_relaxed)) {
        /* kept for the header list (h2c upgrade, dump-all-headers); cut lines are counted */
        if (hd->raw_full || app_acc_add(&hd->raw, s, n, BN_NET_HTTP_HDRBYTES_MAX) != 0 ||
            app_acc_add(&hd->raw, (const uint8_t *)"\n", 1, BN_NET_HTTP_HDRBYTES_MAX) != 0)
            hd->raw_full = true;
    }
    const uint8_t *colon = memchr(s, ':', n);
    if (!colon)
        return; /* obs-fold continuation or junk: nothing we report */
    size_t kl = (size_t)(colon - s), vl = n - kl - 1;
    const uint8_t *v = trim(colon + 1, &vl);
    while (kl && (s[kl - 1] == ' ' || s[kl - 1] == '\t'))
        kl--;
#define IS(name) (kl == sizeof(name) - 1 && app_prefix_ci(s, kl, name))
    if (IS("content-length")) {
        uint64_t l;
        if (parse_u64(v, vl, 10, &l)) {
            hd->have_len = true;
            hd->clen = l;
        }
    } else if (IS("transfer-encoding")) {
        for (size_t i = 0; i + 7 <= vl; i++)
            if (app_prefix_ci(v + i, vl - i, "chunked"))
                hd->chunked = true;
    } else if (IS("upgrade")) {
        for (size_t i = 0; i + 3 <= vl; i++)
            if (app_prefix_ci(v + i, vl - i, "h2c") &&
                (i + 3 == vl || v[i + 3] == ',' || v[i + 3] == ' '))
                hd->upgrade_h2c = true;
    }
    if (!tx)
        return;
    if (dir == NET_TOSERVER) {
        if (IS("host") && !tx->host[0]) {
            size_t hl = vl;
            const uint8_t *c = NULL;
            if (vl && v[0] == '[') { /* [v6]:port */
                const uint8_t *rb = memchr(v, ']', vl);
                if (rb) {
                    hl = (size_t)(rb - v) + 1;
                    if (hl < vl && v[hl] == ':')
                        c = v + hl;
                }
            } else {
                c = memchr(v, ':', vl);
                if (c)
                    hl = (size_t)(c - v);
            }
            char lower[NET_HTTP_HOST_MAX];
            size_t ll = BN_MIN(hl, sizeof(lower));
            for (size_t i = 0; i < ll; i++)
                lower[i] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] + 32 : v[i]);
            app_copy(tx->host, sizeof(tx->host), lower, ll, &tx->truncated);
            if (hl > ll) {
                tx->truncated = 1;
                net_app_stats()->truncated_fields++;
            }
            uint64_t port;
            if (c && parse_u64(c + 1, (size_t)(v + vl - c - 1), 10, &port) && port < 65536)
                tx->port = (uint16_t)port;
        } else if (IS("user-agent")) {
            app_copy(tx->user_agent, sizeof(tx->user_agent), v, vl, &tx->truncated);
        } else if (IS("referer")) {
            app_copy(tx->referer, sizeof(tx->referer), v, vl, &tx->truncated);
        } else if (IS("content-type")) {
            app_copy(tx->req_content_type, sizeof(tx->req_content_type), v, vl, &tx->truncated);
        } else if (IS("x-forwarded-for")) {
            app_copy(tx->xff, sizeof(tx->xff), v, vl, &tx->truncated);
        }
    } else {
        if (IS("content-type"))
            app_copy(tx->content_type, sizeof(tx->content_type), v, vl, &tx->truncated);
        else if (IS("location"))
            app_copy(tx->location, sizeof(tx->location), v, vl, &tx->truncated);
    }
#undef IS
}

/* The message of this direction ended: queue the request or emit the transaction. */
static void
message_done(struct http_state *st, struct hdir *hd, enum net_dir dir, struct net_flow *f,
             uint64_t ts_ns, struct net_sink *sink)
{
    struct net_http_rec *tx = hd->tx;
    hd->tx = NULL;
    hd->state = H_START;
    if (!tx)
        return;
    if (dir == NET_TOSERVER && hd->shared) {
        hd->shared = false; /* the response side has it and will report it */
        return;
    }
    if (dir == NET_TOSERVER) {
        if (!queue_room(st) && st->n_queue) {
            /* the oldest request will never be matched: report it alone */
            app_err(NET_APP_HTTP, NET_APP_ERR_LIMIT);
            struct net_http_rec *old = st->queue[0];
            memmove(st->queue, st->queue + 1, (st->n_queue - 1) * sizeof(st->queue[0]));
            st->n_queue--;
            st->orphans++; /* the next response is its answer, not the new oldest's */
            tx_emit(old, f, ts_ns, sink);
        }
        st->queue[st->n_queue++] = tx;
    } else {
        resp_emit(st, tx, f, ts_ns, sink);
    }
}

/* End of headers: decide how the body is framed. */
static void
headers_done(struct http_state *st, struct hdir *hd, enum net_dir dir, struct net_flow *f,
             uint64_t ts_ns, struct net_sink *sink)
{
    struct net_http_rec *tx = hd->tx;
    bool dump = atomic_load_explicit(&dump_headers, memory_order_relaxed);
    if (tx && !tx->hdrs[dir] && (dump || (dir == NET_TOSERVER && hd->upgrade_h2c)))
        tx->hdrs[dir] = hdrs_build(hd, &tx->truncated);
    /* the lines are not needed any more: an idle keep-alive flow holds no buffer for them */
    app_acc_release(&hd->raw);
    hd->raw_full = false;
    if (dir == NET_TOCLIENT) {
        if (hd->interim) {
            hd->state = H_START;
            return;
        }
        /* the request this answers is the one just dequeued: HEAD / CONNECT matter */
        bool head = tx && !strcmp(tx->method, "HEAD");
        bool connect = tx && !strcmp(tx->method, "CONNECT");
        int status = tx ? tx->status : 0;
        if (tx)
            tx->resp_chunked = hd->chunked;
        if (status == 101 && hd->upgrade_h2c && tx && !st->h2) {
            /* h2c accepted: the upgraded request is HTTP/2 stream 1 */
            st->h2 = app_h2_open(st->depth, 0);
            app_h2_upgrade(st->h2, tx, tx->hdrs[NET_TOSERVER], f, ts_ns, sink);
            if (!dump) {
                app_rec_free(APP_RC_HDRS, (void *)tx->hdrs[NET_TOSERVER]);
                tx->hdrs[NET_TOSERVER] = NULL;
            }
            message_done(st, hd, dir, f, ts_ns, sink);
            hd->state = st->d[NET_TOSERVER].state = st->h2 ? H_H2 : H_DEAD;
            return;
        }
        if ((connect && status >= 200 && status < 300) || status == 101) {
            message_done(st, hd, dir, f, ts_ns, sink);
            if (connect && f)
                f->app_orig = NET_APP_HTTP; /* Suricata: a protocol change, detection again */
            hd->state = H_TUNNEL;
            st->d[NET_TOSERVER].state = H_TUNNEL;
            return;
        }
        if (head || status == 204 || status == 304) {
            message_done(st, hd, dir, f, ts_ns, sink);
            return;
        }
        if (hd->chunked) {
            hd->state = H_CHUNK_SIZE;
        } else if (hd->have_len) {
            hd->left = hd->clen;
            hd->state = H_BODY_LEN;
            if (!hd->left)
                message_done(st, hd, dir, f, ts_ns, sink);
        } else {
            hd->state = H_BODY_CLOSE;
        }
        return;
    }
    if (tx)
        tx->req_chunked = hd->chunked;
    if (hd->chunked) {
        hd->state = H_CHUNK_SIZE;
    } else if (hd->have_len && hd->clen) {
        hd->left = hd->clen;
        hd->state = H_BODY_LEN;
    } else {
        message_done(st, hd, dir, f, ts_ns, sink);
    }
}

static void
body_bytes(struct hdir *hd, enum net_dir dir, size_t k)
{
    if (!hd->tx)
        return;
    if (dir == NET_TOSERVER)
        hd->tx->request_body_len += k;
    else
        hd->tx->response_body_len += k;
}

/*
 * Bodies go by in many skipped chunks (http_skip), and adding each to its transaction was
 * a cache miss per chunk (the record is cold while its body streams): http_skip counts
 * them in the direction's state instead, and they are added here before anything can read
 * or replace a transaction: at the start of http_data, http_gap and http_close, and before
 * http_skip ends a message. Both directions: one side may emit the other's transaction.
 */
static void
bodies_flush(struct http_state *st)
{
    for (int d = 0; d < 2; d++) {
        struct hdir *hd = &st->d[d];
        if (hd->body_pend) {
            body_bytes(hd, (enum net_dir)d, hd->body_pend);
            hd->body_pend = 0;
        }
    }
}

/* Body bytes http_skip took: counted now, added to the transaction by bodies_flush. */
static void
body_skipped(struct hdir *hd, size_t k)
{
    if (hd->tx)
        hd->body_pend += k;
}

/* Handles one complete line (without the LF) in the current state. */
static void
line(struct http_state *st, struct hdir *hd, enum net_dir dir, const uint8_t *s, size_t n,
     struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    if (n && s[n - 1] == '\r')
        n--;
    switch (hd->state) {
    case H_START:
        if (n == 0)
            return; /* stray CRLF between messages */
        if (dir == NET_TOSERVER && n == 14 && !memcmp(s, APP_H2_PREFACE, 14) && !st->h2) {
            /* the client's HTTP/2 connection preface (prior knowledge): HTTP/2 from here on,
             * the preface's first line (and its CRLF) already read */
            st->h2 = app_h2_open(st->depth, 16);
            hd->state = st->d[NET_TOCLIENT].state = st->h2 ? H_H2 : H_DEAD;
            return;
        }
        if (dir == NET_TOSERVER) {
            request_line(st, hd, s, n);
            /* no version: HTTP/0.9 unless header lines follow (libhtp's rule) */
            hd->maybe09 = hd->tx && hd->tx->http09;
        } else if (n >= 5 && !memcmp(s, "HTTP/", 5))
            status_line(st, hd, s, n, f, ts_ns, sink);
        else {
            app_err(NET_APP_HTTP, NET_APP_ERR_UNEXPECTED);
            hd->state = H_DEAD;
        }
        return;
    case H_HEADERS:
        if (hd->maybe09) {
            hd->maybe09 = false;
            if (n > 0 && hd->tx) {
                hd->tx->http09 = 0; /* headers: a request that forgot its version */
                app_err(NET_APP_HTTP, NET_APP_ERR_MALFORMED);
            }
        }
        if (n == 0)
            headers_done(st, hd, dir, f, ts_ns, sink);
        else
            header(hd, dir, s, n);
        return;
    case H_CHUNK_SIZE: {
        uint64_t sz;
        if (!parse_u64(s, n, 16, &sz)) {
            app_err(NET_APP_HTTP, NET_APP_ERR_MALFORMED);
            hd->state = H_DEAD;
            return;
        }
        if (sz == 0) {
            hd->state = H_TRAILERS;
        } else {
            hd->left = sz;
            hd->state = H_CHUNK_DATA;
        }
        return;
    }
    case H_CHUNK_END: hd->state = H_CHUNK_SIZE; return;
    case H_TRAILERS:
        if (n == 0)
            message_done(st, hd, dir, f, ts_ns, sink);
        return;
    case H_RESYNC: {
        /* a request line ending in HTTP/x, or a status line, starts the next message */
        bool ok = dir == NET_TOSERVER
                      ? app_http_probe(s, n, dir) == 1 && n > 9 && !memcmp(s + n - 8, "HTTP/", 5)
                      : n > 8 && !memcmp(s, "HTTP/1.", 7);
        if (ok) {
            hd->state = H_START;
            line(st, hd, dir, s, n, f, ts_ns, sink);
        }
        return;
    }
    default: return;
    }
}

static void http_data(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
                      uint64_t ts_ns, struct net_sink *sink);

/*
 * Bytes inside an accepted CONNECT (or protocol upgrade). The first bytes decide: a TLS
 * ClientHello starts the TLS parser for the rest of the flow (and the flow becomes TLS, as
 * Suricata reports it); an HTTP request restarts HTTP parsing with transaction ids from 0.
 */
static void
tunnel_data(struct http_state *st, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
            uint64_t ts_ns, struct net_sink *sink)
{
    if (!st->tunnel_probed && dir == NET_TOCLIENT && app_tls_probe(d, n, dir) != 1)
        return; /* the client speaks first in a tunnel: the server's stray bytes decide nothing */
    if (!st->tunnel_probed) {
        /* the first bytes may come in pieces: keep them until the probes can decide */
        struct app_acc *b = &st->tunnel_buf;
        size_t take = BN_MIN(n, (size_t)NET_PROBE_MAX - b->len);
        if (app_acc_add(b, d, take, NET_PROBE_MAX) != 0) {
            app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
            st->tunnel_probed = true;
            return;
        }
        int tls = app_tls_probe(b->p, b->len, dir);
        /* Suricata's detection after the change matches a TLS record header (16 03 0x) */
        if (tls != 1 && dir == NET_TOSERVER && b->len >= 3 && b->p[0] == 0x16 && b->p[1] == 3 &&
            b->p[2] <= 4)
            tls = 1;
        int http = dir == NET_TOSERVER ? app_http_probe(b->p, b->len, dir) : 0;
        if (tls == 1) {
            st->inner = &net_app_tls;
            st->inner_st = net_app_tls.open(f);
            if (f)
                f->app = NET_APP_TLS;
        } else if (http == 1) {
            /* a message cut short by the switch (a request pipelined behind the CONNECT,
             * its headers unfinished) ends here, truncated: the restart must not drop it */
            struct hdir *rs = &st->d[NET_TOCLIENT], *rq = &st->d[NET_TOSERVER];
            if (rs->tx) { /* first: resp_emit clears the request side if it is the same */
                app_err(NET_APP_HTTP, NET_APP_ERR_TRUNCATED);
                resp_emit(st, rs->tx, f, ts_ns, sink);
                rs->tx = NULL;
            }
            if (rq->tx) {
                app_err(NET_APP_HTTP, NET_APP_ERR_TRUNCATED);
                tx_emit(rq->tx, f, ts_ns, sink);
                rq->tx = NULL;
            }
            st->depth = 0;
            st->d[0].state = st->d[1].state = H_START;
        } else if ((tls < 0 || http < 0) && b->len < NET_PROBE_MAX) {
            return; /* wait for more */
        }
        st->tunnel_probed = true;
        /* replay what was kept, then the rest of this chunk */
        struct app_acc held = *b;
        memset(b, 0, sizeof(*b));
        if (http == 1)
            http_data(st, f, dir, held.p, held.len, ts_ns, sink);
        else if (st->inner && st->inner_st)
            st->inner->data(st->inner_st, f, dir, held.p, held.len, ts_ns, sink);
        app_acc_release(&held);
        if (n == take)
            return;
        d += take;
        n -= take;
        if (http == 1) {
            http_data(st, f, dir, d, n, ts_ns, sink);
            return;
        }
    }
    if (st->inner && st->inner_st)
        st->inner->data(st->inner_st, f, dir, d, n, ts_ns, sink);
}

static void
http_data(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
          uint64_t ts_ns, struct net_sink *sink)
{
    struct http_state *st = vst;
    if (!st || (unsigned)dir > 1)
        return;
    bodies_flush(st);
    struct hdir *hd = &st->d[dir];
    while (n > 0) {
        switch (hd->state) {
        case H_DEAD: return;
        case H_H2: app_h2_data(st->h2, f, dir, d, n, ts_ns, sink); return;
        case H_TUNNEL: tunnel_data(st, f, dir, d, n, ts_ns, sink); return;
        case H_BODY_CLOSE: body_bytes(hd, dir, n); return;
        case H_BODY_LEN:
        case H_CHUNK_DATA: {
            size_t k = (size_t)BN_MIN((uint64_t)n, hd->left);
            body_bytes(hd, dir, k);
            hd->left -= k;
            d += k;
            n -= k;
            if (hd->left == 0) {
                if (hd->state == H_CHUNK_DATA)
                    hd->state = H_CHUNK_END;
                else
                    message_done(st, hd, dir, f, ts_ns, sink);
            }
            continue;
        }
        default: break;
        }
        /* an HTTP/0.9 request is answered by the bare body, read until the close */
        struct hdir *rq = &st->d[NET_TOSERVER];
        if (dir == NET_TOCLIENT && rq->maybe09 && !st->n_queue &&
            memcmp(d, "HTTP/", BN_MIN(n, (size_t)5)) != 0) {
            rq->maybe09 = false; /* the server answered before any header line: 0.9 */
            message_done(st, rq, NET_TOSERVER, f, ts_ns, sink);
        }
        if (dir == NET_TOCLIENT && hd->state == H_START && hd->line.len == 0 && st->n_queue &&
            st->queue[0]->http09 && memcmp(d, "HTTP/", BN_MIN(n, (size_t)5)) != 0) {
            struct net_http_rec *tx = st->queue[0];
            memmove(st->queue, st->queue + 1, (st->n_queue - 1) * sizeof(st->queue[0]));
            st->n_queue--;
            tx->has_response = 1;
            hd->tx = tx;
            hd->state = H_BODY_CLOSE;
            continue;
        }
        /* line-oriented states */
        const uint8_t *lf = memchr(d, '\n', n);
        size_t take = lf ? (size_t)(lf - d) + 1 : n;
        if (hd->line.len + take > NET_HTTP_LINE_MAX) {
            app_err(NET_APP_HTTP, NET_APP_ERR_LIMIT);
            hd->state = H_DEAD;
            hd->line.len = 0;
            return;
        }
        if (!lf) {
            if (app_acc_add(&hd->line, d, n, NET_HTTP_LINE_MAX) != 0) {
                app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
                hd->state = H_DEAD;
            }
            return;
        }
        if (hd->line.len) {
            if (app_acc_add(&hd->line, d, take - 1, NET_HTTP_LINE_MAX) != 0) {
                app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
                hd->state = H_DEAD;
                return;
            }
            line(st, hd, dir, hd->line.p, hd->line.len, f, ts_ns, sink);
            hd->line.len = 0;
        } else {
            line(st, hd, dir, d, take - 1, f, ts_ns, sink);
        }
        d += take;
        n -= take;
    }
}

static void *
http_open(struct net_flow *f)
{
    (void)f;
    struct http_state *st = net_slab_state_new(sizeof(*st));
    if (!st) {
        app_err(NET_APP_HTTP, NET_APP_ERR_NOMEM);
        return NULL;
    }
    st->queue = st->queue_inl;
    st->queue_cap = BN_ARRAY_SIZE(st->queue_inl);
    return st;
}

static void
http_gap(void *vst, struct net_flow *f, enum net_dir dir, size_t n)
{
    struct http_state *st = vst;
    (void)f;
    if (!st || (unsigned)dir > 1)
        return;
    bodies_flush(st);
    struct hdir *hd = &st->d[dir];
    /* a hole inside a counted body is harmless: count it as body and go on */
    if ((hd->state == H_BODY_LEN || hd->state == H_CHUNK_DATA) && n <= hd->left) {
        body_bytes(hd, dir, n);
        hd->left -= n;
        if (hd->left == 0)
            hd->state = hd->state == H_CHUNK_DATA ? H_CHUNK_END : hd->state;
        if (hd->left || hd->state == H_CHUNK_END)
            return;
    }
    if (hd->state == H_BODY_CLOSE) {
        body_bytes(hd, dir, n);
        return;
    }
    if (hd->state == H_TUNNEL) {
        if (st->inner && st->inner_st)
            st->inner->gap(st->inner_st, f, dir, n);
        return;
    }
    if (hd->state == H_H2) {
        app_h2_gap(st->h2, dir);
        return;
    }
    if (hd->state == H_DEAD || hd->state == H_RESYNC)
        return;
    /* framing is lost: the message in progress ends here, look for the next one */
    app_err(NET_APP_HTTP, NET_APP_ERR_GAP);
    if (hd->tx && dir == NET_TOSERVER && hd->shared) {
        hd->tx->truncated = 1;
        hd->tx = NULL; /* the response side reports it */
        hd->shared = false;
    } else if (hd->tx) {
        hd->tx->truncated = 1;
        if (dir == NET_TOSERVER && queue_room(st)) {
            st->queue[st->n_queue++] = hd->tx;
            hd->tx = NULL;
        } else if (dir == NET_TOCLIENT) {
            /* no sink here: keep it until the next message or the flow's end emits it */
            hd->gap_tx = true;
        }
    }
    hd->line.len = 0;
    hd->state = H_RESYNC;
}

/* Bytes of dir http_data would take without reading them: bodies, a dead direction. */
static size_t
http_skippable(void *vst, enum net_dir dir)
{
    struct http_state *st = vst;
    if (!st || (unsigned)dir > 1)
        return 0;
    const struct hdir *hd = &st->d[dir];
    switch (hd->state) {
    case H_DEAD:
    case H_BODY_CLOSE: return SIZE_MAX;
    case H_BODY_LEN:
    case H_CHUNK_DATA: return (size_t)BN_MIN(hd->left, (uint64_t)SIZE_MAX);
    case H_TUNNEL:
        if (!st->tunnel_probed)
            return 0; /* the first bytes decide what the tunnel holds */
        if (st->inner && st->inner_st)
            return st->inner->skippable ? st->inner->skippable(st->inner_st, dir) : 0;
        return SIZE_MAX;
    default: return 0;
    }
}

/* n bytes http_skippable allowed, without their content: what http_data does with them. */
static bool
http_skip(void *vst, struct net_flow *f, enum net_dir dir, size_t n, uint64_t ts_ns,
          struct net_sink *sink)
{
    struct http_state *st = vst;
    if (!st || (unsigned)dir > 1)
        return true;
    struct hdir *hd = &st->d[dir];
    if (n > http_skippable(st, dir)) {
        /* the other direction switched this one meanwhile (an upgrade, a CONNECT answered
         * while a body was still coming): the bytes were needed, they are a hole now */
        http_gap(st, f, dir, n);
        return false;
    }
    switch (hd->state) {
    case H_BODY_CLOSE: body_skipped(hd, n); return true;
    case H_BODY_LEN:
    case H_CHUNK_DATA:
        body_skipped(hd, n);
        hd->left -= n;
        if (hd->left == 0) {
            if (hd->state == H_CHUNK_DATA) {
                hd->state = H_CHUNK_END;
            } else {
                bodies_flush(st);
                message_done(st, hd, dir, f, ts_ns, sink);
            }
        }
        return true;
    case H_TUNNEL:
        if (st->inner && st->inner_st)
            return st->inner->skip(st->inner_st, f, dir, n, ts_ns, sink);
        return true;
    default: return true; /* H_DEAD */
    }
}

static void
http_close(void *vst, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct http_state *st = vst;
    if (!st)
        return;
    bodies_flush(st);
    /* a request line the connection ended before its end of line (libhtp parses it then) */
    struct hdir *rl = &st->d[NET_TOSERVER];
    if (rl->state == H_START && rl->line.len &&
        app_http_probe(rl->line.p, rl->line.len, NET_TOSERVER) == 1) {
        line(st, rl, NET_TOSERVER, rl->line.p, rl->line.len, f, ts_ns, sink);
        rl->line.len = 0;
    }
    /* a response read until close ends here; then requests never answered */
    struct hdir *rs = &st->d[NET_TOCLIENT];
    /* Zeek logs one more, empty, transaction when an HTTP/0.9 exchange ends the connection */
    bool zeek09 = rs->tx && rs->tx->http09 && rs->tx->uri[0];
    if (rs->tx) {
        if (rs->state != H_BODY_CLOSE)
            app_err(NET_APP_HTTP, NET_APP_ERR_TRUNCATED);
        resp_emit(st, rs->tx, f, ts_ns, sink);
        rs->tx = NULL;
    }
    if (st->inner && st->inner_st)
        st->inner->close(st->inner_st, f, ts_ns, sink);
    struct hdir *rq = &st->d[NET_TOSERVER];
    if (rq->tx) {
        /* a request whose headers or body did not complete */
        app_err(NET_APP_HTTP, NET_APP_ERR_TRUNCATED);
        if (queue_room(st))
            st->queue[st->n_queue++] = rq->tx;
        else
            tx_emit(rq->tx, f, ts_ns, sink);
        rq->tx = NULL;
    }
    for (size_t i = 0; i < st->n_queue; i++)
        tx_emit(st->queue[i], f, ts_ns, sink);
    struct net_http_rec *ze = zeek09 ? tx_new(st) : NULL;
    if (ze) {
        ze->zeek_empty = 1;
        tx_emit(ze, f, ts_ns, sink);
    }
    app_h2_close(st->h2, f, ts_ns, sink);
    for (int i = 0; i < 2; i++) {
        app_acc_release(&st->d[i].line);
        app_acc_release(&st->d[i].raw);
    }
    app_acc_release(&st->tunnel_buf);
    if (st->queue != st->queue_inl)
        bn_free(st->queue);
    net_slab_state_free(st, sizeof(*st));
}

const struct net_app_parser net_app_http = {
    .name = "http",
    .app = NET_APP_HTTP,
    .proto = IPPROTO_TCP,
    .ports = {80, 8080, 8000, 3128},
    .probe = app_http_probe,
    .open = http_open,
    .data = http_data,
    .gap = http_gap,
    .close = http_close,
    .skippable = http_skippable,
    .skip = http_skip,
};
