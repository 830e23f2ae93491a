/*
 * app_test.h - shared by the application parser tests (test_app_*.c): a hand-built flow and
 * a sink that keeps a copy of every record plus its eve and Zeek renderings.
 */
#ifndef BANNIN_TEST_APP_TEST_H
#define BANNIN_TEST_APP_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sensor/app.h"
#include "sensor/app_int.h"
#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"

#define AT_MAX 64

struct at_sink {
    struct net_sink base;
    size_t n;
    enum net_rec_type type[AT_MAX];
    void *body[AT_MAX];
    char *eve[AT_MAX];  /* "{" + net_app_eve + "}" */
    char *zeek[AT_MAX]; /* net_app_zeek, NULL when declined */
    const struct net_flow *flow;
};

static inline size_t
at_body_size(enum net_rec_type t)
{
    switch (t) {
    case NET_REC_DNS: return sizeof(struct net_dns_rec);
    case NET_REC_HTTP: return sizeof(struct net_http_rec);
    case NET_REC_TLS: return sizeof(struct net_tls_rec);
    case NET_REC_SSH: return sizeof(struct net_ssh_rec);
    default: return 0;
    }
}

static void
at_emit(struct net_sink *self, const struct net_record *rec)
{
    struct at_sink *s = (struct at_sink *)self;
    if (s->n >= AT_MAX)
        return;
    size_t sz = at_body_size(rec->type);
    void *copy = malloc(sz);
    memcpy(copy, rec->body, sz);
    struct bn_buf b;
    bn_buf_init(&b, 1u << 22);
    bn_buf_putc(&b, '{');
    int rc = net_app_eve(rec->type, rec->body, &b);
    bn_buf_putc(&b, '}');
    s->eve[s->n] = rc == 0 ? strdup(b.p) : NULL;
    bn_buf_reset(&b);
    rc = net_app_zeek(rec->type, rec->flow, rec->ts_ns, rec->body, &b);
    s->zeek[s->n] = rc == 0 ? strdup(b.p) : NULL;
    bn_buf_release(&b);
    s->type[s->n] = rec->type;
    s->body[s->n] = copy;
    s->n++;
}

static inline void
at_sink_init(struct at_sink *s)
{
    memset(s, 0, sizeof(*s));
    s->base.emit = at_emit;
}

static inline void
at_sink_reset(struct at_sink *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->body[i]);
        free(s->eve[i]);
        free(s->zeek[i]);
    }
    s->n = 0;
}

/* A flow cli:cport -> srv:sport (IPv4 dotted quads). */
static inline void
at_flow(struct net_flow *f, uint8_t proto, const char *cli, uint16_t cport, const char *srv,
        uint16_t sport)
{
    memset(f, 0, sizeof(*f));
    f->id = 1;
    f->proto = proto;
    f->cli.fam = f->srv.fam = 4;
    inet_pton(AF_INET, cli, f->cli.a);
    inet_pton(AF_INET, srv, f->srv.a);
    f->cport = cport;
    f->sport = sport;
    snprintf(f->community_id, sizeof(f->community_id), "1:testflow");
}

/* Opens the parser for f, feeds chunks with at_feed, closes with at_close. */
struct at_run {
    const struct net_app_parser *p;
    struct net_flow f;
    void *st;
    struct at_sink sink;
    uint64_t ts;
};

static inline void
at_open(struct at_run *r, const struct net_app_parser *p, uint8_t proto, uint16_t sport)
{
    at_flow(&r->f, proto, "10.0.0.1", 40000, "10.0.0.2", sport);
    r->p = p;
    r->f.parser = p;
    r->f.app = (uint8_t)p->app;
    at_sink_init(&r->sink);
    r->st = p->open(&r->f);
    r->ts = 1700000000ull * 1000000000ull;
}

static inline void
at_feed(struct at_run *r, enum net_dir dir, const void *d, size_t n)
{
    r->ts += 1000000; /* 1 ms per chunk */
    r->p->data(r->st, &r->f, dir, d, n, r->ts, &r->sink.base);
}

/* Feeds n bytes in pieces of at most step bytes. */
static inline void
at_feed_steps(struct at_run *r, enum net_dir dir, const void *d, size_t n, size_t step)
{
    const uint8_t *p = d;
    while (n) {
        size_t k = n < step ? n : step;
        at_feed(r, dir, p, k);
        p += k;
        n -= k;
    }
}

static inline void
at_close(struct at_run *r)
{
    if (r->st)
        r->p->close(r->st, &r->f, r->ts, &r->sink.base);
    r->st = NULL;
}

static inline void
at_done(struct at_run *r)
{
    at_close(r);
    at_sink_reset(&r->sink);
}

/* The run a test file's cases share (`run`), closed and emptied after each case by
 * at_teardown (cmocka_unit_test_teardown(case, at_teardown)). */
static struct at_run run __attribute__((unused));

static inline int
at_teardown(void **state)
{
    (void)state;
    at_done(&run);
    return 0;
}

/* Looks up a dotted path ("dns.answers[1].rdata") in a JSON text; returns a new reference. */
static inline json_t *
at_json_path(const char *text, const char *path)
{
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    if (!root)
        return NULL;
    json_t *cur = json_object_get(root, path); /* Zeek's flat "id.orig_h" keys */
    if (cur) {
        json_incref(cur);
        json_decref(root);
        return cur;
    }
    cur = root;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        char *br = strchr(tok, '[');
        if (br)
            *br = '\0';
        cur = json_object_get(cur, tok);
        while (br && cur) {
            long idx = strtol(br + 1, NULL, 10);
            cur = json_array_get(cur, (size_t)idx);
            br = strchr(br + 1, '[');
        }
    }
    if (cur)
        json_incref(cur);
    json_decref(root);
    return cur;
}

/* The string at path, copied into a static buffer ("" when absent or not a string). */
static inline const char *
at_str(const char *text, const char *path)
{
    static char out[4096];
    json_t *v = at_json_path(text, path);
    out[0] = '\0';
    if (v && json_is_string(v))
        snprintf(out, sizeof(out), "%s", json_string_value(v));
    json_decref(v);
    return out;
}

/* The integer at path, or -1. */
static inline long long
at_int(const char *text, const char *path)
{
    json_t *v = at_json_path(text, path);
    long long r = v && json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(v);
    return r;
}

static inline bool
at_has(const char *text, const char *path)
{
    json_t *v = at_json_path(text, path);
    bool r = v != NULL;
    json_decref(v);
    return r;
}

/* Big-endian writers for hand-built messages. */
struct at_bytes {
    uint8_t b[65536 + 16];
    size_t n;
};

static inline void
at_put(struct at_bytes *m, const void *d, size_t n)
{
    memcpy(m->b + m->n, d, n);
    m->n += n;
}

static inline void
at_u8(struct at_bytes *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)v;
}

static inline void
at_u16(struct at_bytes *m, unsigned v)
{
    at_u8(m, v >> 8);
    at_u8(m, v & 0xff);
}

static inline void
at_u24(struct at_bytes *m, unsigned v)
{
    at_u8(m, (v >> 16) & 0xff);
    at_u16(m, v & 0xffff);
}

static inline void
at_u32(struct at_bytes *m, uint32_t v)
{
    at_u16(m, v >> 16);
    at_u16(m, v & 0xffff);
}

static inline void
at_str_bytes(struct at_bytes *m, const char *s)
{
    at_put(m, s, strlen(s));
}

/* A TLS record (TLS 1.2 record version) of type holding d[0..n). */
static inline void
at_tls_record(struct at_bytes *m, unsigned type, const uint8_t *d, size_t n)
{
    at_u8(m, type);
    at_u16(m, 0x0303);
    at_u16(m, (unsigned)n);
    at_put(m, d, n);
}

/* Writes at offset off a big-endian 16/24-bit length (to patch after building). */
static inline void
at_patch16(struct at_bytes *m, size_t off, unsigned v)
{
    m->b[off] = (uint8_t)(v >> 8);
    m->b[off + 1] = (uint8_t)v;
}

static inline void
at_patch24(struct at_bytes *m, size_t off, unsigned v)
{
    m->b[off] = (uint8_t)(v >> 16);
    at_patch16(m, off + 1, v & 0xffff);
}

#endif
