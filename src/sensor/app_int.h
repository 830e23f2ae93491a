/*
 * app_int.h - helpers shared by the application parsers (app_*.c), private to src/sensor.
 */
#ifndef BANNIN_SENSOR_APP_INT_H
#define BANNIN_SENSOR_APP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/app.h"

/* Counts a parse error of a protocol under a reason. */
void app_err(enum net_app app, enum net_app_err e);
/* Counts items (queries, RRs, ALPN entries, certificates) dropped at a limit. */
void app_dropped(uint64_t n);
/* Emits a record and counts it. */
void app_emit(struct net_sink *sink, enum net_rec_type t, uint64_t ts_ns, const struct net_flow *f,
              const void *body);

/*
 * Copies n bytes of src into dst[dsz] as a NUL-terminated string. A NUL byte in src becomes
 * the text "\x00" so the value is not cut short. When the value does not fit it is cut at
 * a UTF-8 character boundary, *trunc is set and the cut is counted. Returns the length.
 */
size_t app_copy(char *dst, size_t dsz, const void *src, size_t n, uint8_t *trunc);

/* Lower-case hex of n bytes, sep between bytes when not 0. Returns the length or 0 if cut. */
size_t app_hex(char *dst, size_t dsz, const uint8_t *b, size_t n, char sep, bool upper);

/*
 * Records allocated per handshake/transaction, recycled per thread: app_rec_alloc returns
 * size zeroed bytes (NULL when out of memory); app_rec_free takes back one of the same kind
 * and size (any heap block of that size may be given, and one from app_rec_alloc may also be
 * freed with bn_free).
 */
enum app_rc { APP_RC_TLS, APP_RC_HTTP, APP_RC_HDRS, APP_RC_H2STR, APP_RC_ACC, APP_RC_COUNT };
void *app_rec_alloc(enum app_rc kind, size_t size);
void app_rec_free(enum app_rc kind, void *p);
/* As app_rec_alloc without the zeroing (scratch buffers). */
void *app_buf_alloc(enum app_rc kind, size_t size);
/* As app_rec_alloc with only the first zero bytes zeroed (a record whose tail is an array
 * read up to a count kept before it). */
void *app_rec_alloc_head(enum app_rc kind, size_t size, size_t zero);
/* An empty HTTP transaction, recycled as APP_RC_HTTP: the numbers and pointers zeroed and
 * each text field an empty string (the bytes after a field's NUL are not zeroed: every field
 * is written by app_copy, which ends it with a NUL, and read as a string). */
struct net_http_rec *app_http_rec_new(void);
/* An empty header list (n = len = 0; the rest not zeroed), recycled as APP_RC_HDRS. */
struct net_http_hdrs *app_hdrs_new(void);

/* Per-thread scratch: size zeroed bytes at the first call for which (the same size at every
 * call), kept until the thread exits (freed with its recycled records); NULL when out of
 * memory. */
enum app_ts { APP_TS_FP, APP_TS_CH, APP_TS_COUNT };
void *app_thread_scratch(enum app_ts which, size_t size);

/* The index of a per-thread memo of recent inputs (app.c): APP_MEMO_N entries whose keys of
 * at most `stride` bytes lie at keys + i * stride, found by their length, a tag of their
 * first and last 8 bytes and a compare of the whole key (so an answer is always for these
 * bytes: crafted inputs can only miss), replaced round robin. The memo's owner keeps the
 * keys and what each entry answers. */
#define APP_MEMO_N 64
struct app_memo_ix {
    uint32_t n[APP_MEMO_N]; /* key bytes (0: unused) */
    uint64_t tag[APP_MEMO_N];
    unsigned next; /* the entry to replace next */
};
/* The tag of key[0..n) (n > 0). */
uint64_t app_memo_tag(const void *key, size_t n);
/* The entry holding key[0..n) with this tag, or -1. */
int app_memo_find(const struct app_memo_ix *ix, const uint8_t *keys, size_t stride,
                  const void *key, size_t n, uint64_t tag);
/* Takes the next entry for key[0..n) (n <= stride; the key is copied to its place) and
 * returns its index, for the owner to store the answer. */
unsigned app_memo_put(struct app_memo_ix *ix, uint8_t *keys, size_t stride, const void *key,
                      size_t n, uint64_t tag);

/* Digest of s[0..n) into out (EVP_MAX_MD_SIZE bytes), its length in *outlen. Returns 0,
 * BN_EINVAL (which) or BN_EINTERNAL. */
enum app_md { APP_MD_MD5, APP_MD_SHA1, APP_MD_SHA256, APP_MD_COUNT };
int app_digest(enum app_md which, const void *s, size_t n, uint8_t *out, unsigned *outlen);

/* MD5 of s[0..n) as 32 lower-case hex digits into out[33]. Returns 0 or BN_EINTERNAL. */
int app_md5_hex(const void *s, size_t n, char out[33]);
/* SHA-256 of s[0..n), the first 12 hex digits into out[13] (JA4 parts). */
int app_sha256_12(const void *s, size_t n, char out[13]);

/* Case-insensitive: does s[0..n) start with the NUL-terminated prefix p? */
bool app_prefix_ci(const uint8_t *s, size_t n, const char *p);

/* Big-endian readers (callers check bounds). */
static inline uint16_t
app_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
app_be24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static inline uint32_t
app_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* A per-direction byte accumulator for framed protocols, bounded by max. */
struct app_acc {
    uint8_t *p;
    size_t len;
    size_t cap;
};

/* Appends n bytes; BN_ETOOBIG past max (nothing appended), BN_ENOMEM. */
int app_acc_add(struct app_acc *a, const uint8_t *d, size_t n, size_t max);
/* Makes room for need bytes in all (at most max) when that is more than a first buffer: a
 * message whose length is known goes to one buffer of its size instead of doubling into it
 * (a realloc and a copy per step). Failure is left to app_acc_add to count. */
void app_acc_reserve(struct app_acc *a, size_t need, size_t max);
/* Drops the first n bytes. */
void app_acc_consume(struct app_acc *a, size_t n);
void app_acc_release(struct app_acc *a);

/*
 * The TLS handshake parser without the record layer, for QUIC (app_quic.c): open, feed the
 * in-order CRYPTO bytes of each direction, ask whether the hello of a side was parsed,
 * close (emits the tls record once, then frees).
 */
void *app_tls_hs_open(bool quic);
void app_tls_hs_data(void *st, enum net_dir dir, const uint8_t *d, size_t n);
bool app_tls_hs_seen(void *st, enum net_dir dir);
void app_tls_hs_close(void *st, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink);

/* Probes for the identified-only protocols (app.c). */
int app_probe_smb(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_rdp(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_smtp(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_ftp(const uint8_t *d, size_t n, enum net_dir dir);

/* Content probes of the parsers (also used by net_app_identify). */
int app_dns_probe_udp(const uint8_t *d, size_t n, enum net_dir dir);
int app_dns_probe_tcp(const uint8_t *d, size_t n, enum net_dir dir);
int app_http_probe(const uint8_t *d, size_t n, enum net_dir dir);
int app_tls_probe(const uint8_t *d, size_t n, enum net_dir dir);
int app_ssh_probe(const uint8_t *d, size_t n, enum net_dir dir);
int app_quic_probe(const uint8_t *d, size_t n, enum net_dir dir);
int app_dtls_probe(const uint8_t *d, size_t n, enum net_dir dir);

#endif
