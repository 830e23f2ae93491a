/*
 * app_quic.c - the TLS handshake inside QUIC (RFC 9000/9001, v1 and v2 RFC 9369): Initial
 * packets are protected with keys every observer can derive from the client's first
 * Destination Connection ID, so the ClientHello (SNI, ALPN, JA3, JA4 with 'q') and the
 * ServerHello (version, cipher, group) can be read like TLS over TCP. Header protection is
 * removed (AES-ECB on a sample), the payload opened with AES-128-GCM, CRYPTO frames put back
 * in order (they arrive split and shuffled: Chrome does it on purpose) and handed to the TLS
 * handshake parser (app_tls.c). The flow is reported as TLS, one record per connection.
 *
 * Everything is bounded: CRYPTO data per direction (NET_QUIC_CRYPTO_MAX), Initial packets
 * decrypted per direction (NET_QUIC_INITIALS_MAX); what fails to decrypt or parse is counted.
 */
#include <netinet/in.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "sensor/app_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

#define NET_QUIC_CRYPTO_MAX   65536 /* CRYPTO stream bytes kept per direction */
#define NET_QUIC_INITIALS_MAX 16    /* Initial packets opened per direction */
#define QUIC_V1               0x00000001u
#define QUIC_V2               0x6b3343cfu

struct quic_keys {
    uint8_t key[16];
    uint8_t iv[12];
    uint8_t hp[16];
};

struct quic_dir {
    uint8_t *buf;  /* CRYPTO bytes by offset */
    uint8_t *have; /* one bit per byte of buf */
    size_t next;   /* bytes [0, next) handed to the handshake parser */
    unsigned initials;
    bool keys_ok;
    struct quic_keys k;
};

struct quic_state {
    void *tls;
    uint32_t version;
    bool have_dcid;
    uint8_t dcid[20]; /* the client's first Destination Connection ID */
    uint8_t dcid_len;
    bool done;
    struct quic_dir d[2];
};

/* ---- key derivation (RFC 9001 5.2) ---- */

static int
hkdf(int mode, const uint8_t *key, size_t klen, const uint8_t *salt, size_t slen,
     const uint8_t *info, size_t ilen, uint8_t *out, size_t olen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf)
        return BN_EINTERNAL;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return BN_ENOMEM;
    OSSL_PARAM params[6], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, klen);
    if (salt)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, slen);
    if (info)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, ilen);
    *p = OSSL_PARAM_construct_end();
    int rc = EVP_KDF_derive(ctx, out, olen, params) == 1 ? 0 : BN_EINTERNAL;
    EVP_KDF_CTX_free(ctx);
    return rc;
}

/* HKDF-Expand-Label (RFC 8446 7.1) with an empty context. */
static int
expand_label(const uint8_t *secret, const char *label, uint8_t *out, size_t olen)
{
    uint8_t info[64];
    size_t ll = strlen(label), n = 0;
    info[n++] = (uint8_t)(olen >> 8);
    info[n++] = (uint8_t)olen;
    info[n++] = (uint8_t)(6 + ll);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = 0;
    return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, 32, NULL, 0, info, n, out, olen);
}

static int
derive(struct quic_state *st, enum net_dir dir)
{
    static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                        0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
    static const uint8_t salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                        0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
    bool v2 = st->version == QUIC_V2;
    uint8_t initial[32], secret[32];
    int rc = hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, st->dcid, st->dcid_len, v2 ? salt_v2 : salt_v1,
                  20, NULL, 0, initial, 32);
    if (!rc)
        rc = expand_label(initial, dir == NET_TOSERVER ? "client in" : "server in", secret, 32);
    struct quic_keys *k = &st->d[dir].k;
    if (!rc)
        rc = expand_label(secret, v2 ? "quicv2 key" : "quic key", k->key, 16);
    if (!rc)
        rc = expand_label(secret, v2 ? "quicv2 iv" : "quic iv", k->iv, 12);
    if (!rc)
        rc = expand_label(secret, v2 ? "quicv2 hp" : "quic hp", k->hp, 16);
    st->d[dir].keys_ok = rc == 0;
    return rc;
}

/* ---- packet protection ---- */

/* A QUIC variable-length integer; false when it runs off. */
static bool
varint(const uint8_t *d, size_t n, size_t *off, uint64_t *v)
{
    if (*off >= n)
        return false;
    size_t len = (size_t)1 << (d[*off] >> 6);
    if (n - *off < len)
        return false;
    uint64_t x = d[*off] & 0x3f;
    for (size_t i = 1; i < len; i++)
        x = x << 8 | d[*off + i];
    *off += len;
    *v = x;
    return true;
}

static bool
aes_ecb_mask(const uint8_t key[16], const uint8_t sample[16], uint8_t mask[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0, ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL) == 1 &&
                    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
                    EVP_EncryptUpdate(c, mask, &l, sample, 16) == 1 && l == 16;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

static bool
aead_open(const struct quic_keys *k, uint64_t pn, const uint8_t *aad, size_t alen,
          const uint8_t *ct, size_t clen, uint8_t *out)
{
    if (clen < 16)
        return false;
    uint8_t nonce[12];
    memcpy(nonce, k->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0, l2 = 0;
    bool ok = c && EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
              EVP_DecryptInit_ex(c, NULL, NULL, k->key, nonce) == 1 &&
              EVP_DecryptUpdate(c, NULL, &l, aad, (int)alen) == 1 &&
              EVP_DecryptUpdate(c, out, &l, ct, (int)(clen - 16)) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(ct + clen - 16)) == 1 &&
              EVP_DecryptFinal_ex(c, out + l, &l2) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* ---- CRYPTO stream ---- */

static void
crypto_frame(struct quic_state *st, enum net_dir dir, uint64_t off, const uint8_t *d, size_t n)
{
    struct quic_dir *qd = &st->d[dir];
    if (off >= NET_QUIC_CRYPTO_MAX || n > NET_QUIC_CRYPTO_MAX - off) {
        app_err(NET_APP_TLS, NET_APP_ERR_LIMIT);
        return;
    }
    if (!qd->buf) {
        qd->buf = bn_malloc(NET_QUIC_CRYPTO_MAX);
        qd->have = bn_calloc(NET_QUIC_CRYPTO_MAX / 8, 1);
        if (!qd->buf || !qd->have) {
            app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
            bn_free(qd->buf);
            bn_free(qd->have);
            qd->buf = qd->have = NULL;
            return;
        }
    }
    memcpy(qd->buf + off, d, n);
    for (size_t i = (size_t)off; i < (size_t)off + n; i++)
        qd->have[i >> 3] |= (uint8_t)(1u << (i & 7));
    size_t start = qd->next;
    while (qd->next < NET_QUIC_CRYPTO_MAX && (qd->have[qd->next >> 3] >> (qd->next & 7)) & 1)
        qd->next++;
    if (qd->next > start)
        app_tls_hs_data(st->tls, dir, qd->buf + start, qd->next - start);
}

/* The frames of a decrypted Initial payload: CRYPTO kept, padding/ping/ack skipped. */
static void
frames(struct quic_state *st, enum net_dir dir, const uint8_t *p, size_t n)
{
    size_t o = 0;
    while (o < n) {
        uint64_t type, a, b, c;
        if (!varint(p, n, &o, &type))
            goto bad;
        switch (type) {
        case 0x00: /* PADDING */
        case 0x01: /* PING */ break;
        case 0x02: /* ACK */
        case 0x03: {
            uint64_t ranges;
            if (!varint(p, n, &o, &a) || !varint(p, n, &o, &b) || !varint(p, n, &o, &ranges) ||
                !varint(p, n, &o, &c) || ranges > n)
                goto bad;
            for (uint64_t i = 0; i < ranges * 2; i++)
                if (!varint(p, n, &o, &a))
                    goto bad;
            for (int i = 0; type == 0x03 && i < 3; i++)
                if (!varint(p, n, &o, &a))
                    goto bad;
            break;
        }
        case 0x06: /* CRYPTO */
            if (!varint(p, n, &o, &a) || !varint(p, n, &o, &b) || b > n - o)
                goto bad;
            crypto_frame(st, dir, a, p + o, (size_t)b);
            o += (size_t)b;
            break;
        case 0x1c: /* CONNECTION_CLOSE */ return;
        default: return; /* nothing else belongs in an Initial: stop here */
        }
    }
    return;
bad:
    app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
}

/* Is this long-header packet an Initial of a version we know? */
static bool
is_initial(const uint8_t *d, size_t n, uint32_t *version)
{
    *version = 0;
    if (n < 7 || (d[0] & 0xc0) != 0xc0)
        return false;
    uint32_t v = app_be32(d + 1);
    unsigned type = (d[0] >> 4) & 3;
    *version = v;
    return (v == QUIC_V1 && type == 0) || (v == QUIC_V2 && type == 1);
}

/* One datagram: every coalesced Initial in it is opened and its frames read. */
static void
datagram(struct quic_state *st, enum net_dir dir, const uint8_t *d, size_t n)
{
    while (n > 0) {
        uint32_t version = 0;
        if (!is_initial(d, n, &version)) {
            /* a Retry: the client's next Initial picks a new DCID, hence new keys */
            unsigned type = (d[0] >> 4) & 3;
            if (n >= 5)
                version = app_be32(d + 1);
            if (dir == NET_TOCLIENT && n >= 5 && (d[0] & 0xc0) == 0xc0 &&
                ((version == QUIC_V1 && type == 3) || (version == QUIC_V2 && type == 0))) {
                st->have_dcid = false;
                st->d[0].keys_ok = st->d[1].keys_ok = false;
            }
            return; /* Handshake/0-RTT/short packets: not readable by an observer */
        }
        size_t o = 5;
        size_t dl = d[o++];
        if (dl > 20 || o + dl + 1 > n)
            goto bad;
        const uint8_t *dcid = d + o;
        o += dl;
        size_t sl = d[o++];
        if (sl > 20 || o + sl > n)
            goto bad;
        o += sl;
        uint64_t tlen, plen;
        if (!varint(d, n, &o, &tlen) || tlen > n - o)
            goto bad;
        o += (size_t)tlen;
        if (!varint(d, n, &o, &plen) || plen > n - o || plen < 20)
            goto bad;
        size_t pn_off = o, end = o + (size_t)plen;
        if (!st->have_dcid && dir == NET_TOSERVER) {
            memcpy(st->dcid, dcid, dl);
            st->dcid_len = (uint8_t)dl;
            st->have_dcid = true;
            st->version = version;
        }
        struct quic_dir *qd = &st->d[dir];
        if (st->have_dcid && !qd->keys_ok && derive(st, dir) != 0)
            app_err(NET_APP_TLS, NET_APP_ERR_CERT);
        if (qd->keys_ok && qd->initials == NET_QUIC_INITIALS_MAX &&
            !app_tls_hs_seen(st->tls, dir)) {
            qd->initials++; /* counted once: the hello never completed within the limit */
            app_err(NET_APP_TLS, NET_APP_ERR_LIMIT);
        }
        if (qd->keys_ok && qd->initials < NET_QUIC_INITIALS_MAX && !app_tls_hs_seen(st->tls, dir)) {
            qd->initials++;
            uint8_t mask[16];
            if (pn_off + 4 + 16 > end || !aes_ecb_mask(qd->k.hp, d + pn_off + 4, mask))
                goto bad;
            uint8_t *hdr = bn_malloc(pn_off + 4); /* the header unprotected: the AAD */
            if (!hdr) {
                app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
                return;
            }
            memcpy(hdr, d, pn_off + 4);
            hdr[0] ^= mask[0] & 0x0f;
            size_t pnl = (hdr[0] & 3) + 1u;
            uint64_t pn = 0;
            for (size_t i = 0; i < pnl; i++) {
                hdr[pn_off + i] ^= mask[1 + i];
                pn = pn << 8 | hdr[pn_off + i];
            }
            size_t clen = end - pn_off - pnl;
            uint8_t *plain = bn_malloc(clen);
            if (!plain) {
                bn_free(hdr);
                app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
                return;
            }
            if (aead_open(&qd->k, pn, hdr, pn_off + pnl, d + pn_off + pnl, clen, plain))
                frames(st, dir, plain, clen - 16);
            else
                app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED); /* not ours, or corrupted */
            bn_free(plain);
            bn_free(hdr);
        }
        d += end;
        n -= end;
    }
    return;
bad:
    app_err(NET_APP_TLS, NET_APP_ERR_MALFORMED);
}

/* ---- parser callbacks ---- */

int
app_quic_probe(const uint8_t *d, size_t n, enum net_dir dir)
{
    uint32_t v;
    if (!is_initial(d, n, &v))
        return 0;
    /* a client's first Initial is padded to 1200 bytes (RFC 9000 14.1); the probe may see
     * only the first NET_PROBE_MAX of them */
    if (dir == NET_TOSERVER && n < 1200 && n < NET_PROBE_MAX)
        return 0;
    return d[5] <= 20 ? 1 : 0;
}

static void *
quic_open(struct net_flow *f)
{
    (void)f;
    struct quic_state *st = net_slab_state_new(sizeof(*st));
    if (!st) {
        app_err(NET_APP_TLS, NET_APP_ERR_NOMEM);
        return NULL;
    }
    st->tls = app_tls_hs_open(true);
    if (!st->tls) {
        net_slab_state_free(st, sizeof(*st));
        return NULL;
    }
    return st;
}

static void
quic_data(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
          uint64_t ts_ns, struct net_sink *sink)
{
    struct quic_state *st = vst;
    if (!st || (unsigned)dir > 1 || st->done)
        return;
    datagram(st, dir, d, n);
    /* both hellos read: everything after is encrypted with keys we cannot have */
    if (app_tls_hs_seen(st->tls, NET_TOSERVER) && app_tls_hs_seen(st->tls, NET_TOCLIENT)) {
        app_tls_hs_close(st->tls, f, ts_ns, sink);
        st->tls = NULL;
        st->done = true;
        for (int i = 0; i < 2; i++) {
            bn_free(st->d[i].buf);
            bn_free(st->d[i].have);
            st->d[i].buf = st->d[i].have = NULL;
        }
    }
}

static void
quic_gap(void *st, struct net_flow *f, enum net_dir dir, size_t n)
{
    (void)st, (void)f, (void)dir, (void)n; /* datagrams: no gaps */
}

static void
quic_close(void *vst, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct quic_state *st = vst;
    if (!st)
        return;
    if (st->tls)
        app_tls_hs_close(st->tls, f, ts_ns, sink);
    for (int i = 0; i < 2; i++) {
        bn_free(st->d[i].buf);
        bn_free(st->d[i].have);
    }
    net_slab_state_free(st, sizeof(*st));
}

const struct net_app_parser net_app_quic = {
    .name = "tls",
    .app = NET_APP_TLS,
    .proto = IPPROTO_UDP,
    .ports = {443, 853, 0, 0},
    .probe = app_quic_probe,
    .open = quic_open,
    .data = quic_data,
    .gap = quic_gap,
    .close = quic_close,
};
