/*
 * app_http2.h - HTTP/2 (RFC 9113) frames and HPACK (RFC 7541) header compression, private to
 * src/sensor. The HTTP parser (app_http.c) hands a connection over to it after the client's
 * connection preface ("PRI * HTTP/2.0", prior knowledge) or an accepted h2c upgrade; every
 * stream becomes one struct net_http_rec with version2 set, and every frame of stream 0 that
 * carries settings or an error code one record of its own (Suricata's http2 transactions).
 */
#ifndef BANNIN_SENSOR_APP_HTTP2_H
#define BANNIN_SENSOR_APP_HTTP2_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/app.h"

/* The client connection preface (RFC 9113 section 3.4). */
#define APP_H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define APP_H2_PREFACE_LEN 24

/* ---- HPACK ---- */

struct hpack_entry {
    uint32_t name_len, value_len;
    uint32_t off; /* its name then value at bytes + (off - base) */
};

/*
 * One direction's decoder: the dynamic table, newest entry first. The entries' bytes are
 * appended to one buffer in the order they were added, so the live ones (eviction takes the
 * oldest) are one run, from the oldest's offset to the end; when the buffer's end is reached
 * that run moves to its start (base makes the offsets follow without touching the entries).
 */
struct hpack {
    struct hpack_entry *ent; /* ring of cap entries (a power of two) */
    uint32_t cap, head, n;
    uint32_t size;     /* RFC 7541 size: sum of name + value + 32 */
    uint32_t max_size; /* current limit (size updates), <= BN_NET_H2_DYN_TABLE_MAX */
    char *bytes;       /* bcap bytes, owned */
    uint32_t bcap;
    uint32_t base; /* offset of bytes[0] */
    uint32_t end;  /* offset of the next entry */
};

void hpack_init(struct hpack *h);
void hpack_free(struct hpack *h);

/*
 * Decodes one header block into out (appending). Returns 0, BN_EPROTO for an encoding error
 * (bad index, bad Huffman code, integer overflow, string past the block: the rest of the
 * block is not decoded and the decoder's table can no longer be trusted), BN_ENOMEM.
 * Headers that do not fit out (or longer than BN_NET_H2_STRING_MAX) are decoded, counted
 * in net_app_stats.dropped_items and set *trunc.
 */
int hpack_decode(struct hpack *h, const uint8_t *d, size_t n, struct net_http_hdrs *out,
                 uint8_t *trunc);

/*
 * Decodes n bytes of HPACK Huffman code (RFC 7541 appendix B) into out[0..osz). Returns
 * the decoded length, or -1 for an invalid code (EOS inside, padding longer than 7 bits or
 * not all ones) or when out is too small.
 */
long hpack_huffman_decode(const uint8_t *in, size_t n, char *out, size_t osz);

/* Appends a header to a list; false (counted, *trunc set) when it does not fit. */
bool app_hdrs_add(struct net_http_hdrs *l, const char *name, size_t nl, const char *value,
                  size_t vl, uint8_t *trunc);

/* ---- connections ---- */

struct h2_conn;

/* tx ids start at first_tx_id; preface_done bytes of the client preface were read already. */
struct h2_conn *app_h2_open(uint32_t first_tx_id, size_t preface_done);
/*
 * An h2c upgrade: the HTTP/1 request (method, URI and its header list in order) becomes
 * stream 1's request as Suricata builds it (":method", ":path", Host as ":authority"), and its
 * HTTP2-Settings header a stream 0 settings record of the client.
 */
void app_h2_upgrade(struct h2_conn *c, const struct net_http_rec *req,
                    const struct net_http_hdrs *req_hdrs, struct net_flow *f, uint64_t ts_ns,
                    struct net_sink *sink);
void app_h2_data(struct h2_conn *c, struct net_flow *f, enum net_dir dir, const uint8_t *d,
                 size_t n, uint64_t ts_ns, struct net_sink *sink);
/* Bytes lost in a direction: framing cannot be recovered, that direction stops. */
void app_h2_gap(struct h2_conn *c, enum net_dir dir);
/* Emits the streams still open (flow end) and frees. */
void app_h2_close(struct h2_conn *c, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink);

#endif
