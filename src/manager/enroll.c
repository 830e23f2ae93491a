/*
 * enroll.c - the manager's PKI (server CA, server certificate, one CA per tenant), CSR
 * signing and enrolment tokens, on OpenSSL 3's EVP/X509 APIs (see enroll.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/wire.h"
#include "bannin/hex.h"

#include "manager/enroll.h"
#include "manager/store.h"

#define TENANT_CAS_MAX 100000

struct tenant_ca {
    int64_t tenant_id;
    X509 *cert;
    EVP_PKEY *key;
};

struct enroll {
    char dir[4096]; /* DATA/pki */
    X509 *server_ca;
    EVP_PKEY *server_ca_key;
    X509 *server_cert;
    EVP_PKEY *server_key;
    char server_ca_fp[ENROLL_FP_HEX];
    char *server_ca_pem;
    struct tenant_ca *cas;
    size_t ncas, cap;
    X509_STORE *verify_store; /* the TLS context's, borrowed */
};

static int
ossl_fail(struct bn_diag *d, const char *what)
{
    char buf[256];
    unsigned long err = ERR_get_error();
    ERR_error_string_n(err, buf, sizeof(buf));
    ERR_clear_error();
    return bn_diag_set(d, BN_EINTERNAL, "<pki>", 0, 0, "%s: %s", what, err ? buf : "failed");
}

int
enroll_cert_fp(X509 *x, char fp[ENROLL_FP_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    fp[0] = '\0';
    if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32)
        return BN_EINTERNAL;
    bn_hex_encode(md, 32, fp);
    return 0;
}

/* ---- files -------------------------------------------------------------------------- */

static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            int rc = -errno;
            close(fd);
            unlink(tmp);
            return rc;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int rc = -errno;
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        int rc = -errno;
        unlink(tmp);
        return rc;
    }
    return 0;
}

static int
save_pem(const char *path, X509 *x, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return BN_ENOMEM;
    int ok =
        x ? PEM_write_bio_X509(b, x) : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    int rc = ok && n > 0 ? write_atomic(path, p, (size_t)n, x ? 0644 : 0600) : BN_EINTERNAL;
    BIO_free(b);
    return rc;
}

static X509 *
load_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static EVP_PKEY *
load_key(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

/* ---- certificates ---------------------------------------------------------------------- */

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return BN_EINTERNAL;
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok ? 0 : BN_EINTERNAL;
}

enum cert_kind {
    CERT_CA,
    CERT_SERVER,
    CERT_CLIENT,
};

/* Returns an owned certificate for pub, signed by issuer_key (self-signed when issuer NULL). */
static X509 *
make_cert(EVP_PKEY *pub, const char *cn, enum cert_kind kind, X509 *issuer, EVP_PKEY *issuer_key,
          long days)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    int ok = x && serial && X509_set_version(x, 2) && BN_rand(serial, 127, 0, 0) &&
             BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(x), days * 86400l) && X509_set_pubkey(x, pub);
    BN_free(serial);
    X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
    ok = ok &&
         X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Bannin", -1,
                                    -1, 0) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    ok = ok && X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : x;
    if (ok) {
        ok = add_ext(x, iss, NID_subject_key_identifier, "hash") == 0 &&
             add_ext(x, iss, NID_authority_key_identifier, "keyid:always") == 0;
        if (kind == CERT_CA)
            ok = ok && add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
                 add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") == 0;
        else
            ok = ok && add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
                 add_ext(x, iss, NID_key_usage, "critical,digitalSignature") == 0 &&
                 add_ext(x, iss, NID_ext_key_usage,
                         kind == CERT_SERVER ? "serverAuth" : "clientAuth") == 0;
    }
    ok = ok && X509_sign(x, issuer_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static char *
cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *p;
    if (b && PEM_write_bio_X509(b, x)) {
        long n = BIO_get_mem_data(b, &p);
        if (n > 0)
            out = bn_strndup(p, (size_t)n);
    }
    BIO_free(b);
    return out;
}

/* Loads path/<name>.crt and .key, or creates them (CA self-signed, others by issuer). */
static int
load_or_make(struct enroll *e, const char *name, const char *cn, enum cert_kind kind, X509 *issuer,
             EVP_PKEY *issuer_key, X509 **cert, EVP_PKEY **key, struct bn_diag *d)
{
    char cp[4200], kp[4200];
    snprintf(cp, sizeof(cp), "%s/%s.crt", e->dir, name);
    snprintf(kp, sizeof(kp), "%s/%s.key", e->dir, name);
    *cert = load_cert(cp);
    *key = load_key(kp);
    if (*cert && *key) {
        if (X509_check_private_key(*cert, *key) != 1)
            return bn_diag_set(d, BN_ECORRUPT, cp, 0, 0, "certificate does not match its key '%s'",
                               kp);
        return 0;
    }
    if (*cert || *key) {
        if (access(cp, F_OK) == 0 && access(kp, F_OK) == 0)
            return bn_diag_set(d, BN_ECORRUPT, cp, 0, 0, "cannot read certificate or key");
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
    }
    *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!*key)
        return ossl_fail(d, "cannot generate a key");
    *cert = make_cert(*key, cn, kind, issuer, issuer ? issuer_key : *key,
                      kind == CERT_CA ? ENROLL_CA_DAYS : ENROLL_CA_DAYS);
    if (!*cert)
        return ossl_fail(d, "cannot make a certificate");
    int rc = save_pem(kp, NULL, *key);
    if (!rc)
        rc = save_pem(cp, *cert, NULL);
    if (rc)
        return bn_diag_set(d, rc, cp, 0, 0, "cannot write: %s", bn_strerror(rc));
    BN_INFO("enroll", "created '%s'", cp);
    return 0;
}

static int
add_tenant_ca(struct enroll *e, int64_t tenant_id, X509 *cert, EVP_PKEY *key)
{
    if (e->ncas == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 8;
        if (nc > TENANT_CAS_MAX)
            return BN_ETOOBIG;
        struct tenant_ca *n = bn_reallocarray(e->cas, nc, sizeof(*n));
        if (!n)
            return BN_ENOMEM;
        e->cas = n;
        e->cap = nc;
    }
    e->cas[e->ncas].tenant_id = tenant_id;
    e->cas[e->ncas].cert = cert;
    e->cas[e->ncas].key = key;
    e->ncas++;
    if (e->verify_store)
        X509_STORE_add_cert(e->verify_store, cert);
    return 0;
}

static struct tenant_ca *
find_ca(struct enroll *e, int64_t tenant_id)
{
    for (size_t i = 0; i < e->ncas; i++)
        if (e->cas[i].tenant_id == tenant_id)
            return &e->cas[i];
    return NULL;
}

static int
tenant_ca(struct enroll *e, int64_t tenant_id, struct tenant_ca **out, struct bn_diag *d)
{
    *out = find_ca(e, tenant_id);
    if (*out)
        return 0;
    char name[64], cn[96];
    snprintf(name, sizeof(name), "tenant-%lld", (long long)tenant_id);
    snprintf(cn, sizeof(cn), "Bannin tenant %lld agent CA", (long long)tenant_id);
    X509 *c = NULL;
    EVP_PKEY *k = NULL;
    int rc = load_or_make(e, name, cn, CERT_CA, NULL, NULL, &c, &k, d);
    if (!rc)
        rc = add_tenant_ca(e, tenant_id, c, k);
    if (rc) {
        X509_free(c);
        EVP_PKEY_free(k);
        return rc;
    }
    *out = &e->cas[e->ncas - 1];
    return 0;
}

int
enroll_open(struct enroll **out, const char *data_dir, struct bn_diag *d)
{
    *out = NULL;
    struct enroll *e = bn_calloc(1, sizeof(*e));
    if (!e)
        return BN_ENOMEM;
    int rc;
    snprintf(e->dir, sizeof(e->dir), "%s/pki", data_dir);
    if (mkdir(e->dir, 0700) != 0 && errno != EEXIST) {
        rc = bn_diag_set(d, -errno, e->dir, 0, 0, "cannot create directory: %s", strerror(errno));
        goto fail;
    }
    rc = load_or_make(e, "server-ca", "Bannin manager CA", CERT_CA, NULL, NULL, &e->server_ca,
                      &e->server_ca_key, d);
    if (!rc)
        rc = load_or_make(e, "server", "bannind", CERT_SERVER, e->server_ca, e->server_ca_key,
                          &e->server_cert, &e->server_key, d);
    if (rc)
        goto fail;
    if ((rc = enroll_cert_fp(e->server_ca, e->server_ca_fp)) != 0 ||
        !(e->server_ca_pem = cert_pem(e->server_ca))) {
        rc = ossl_fail(d, "cannot encode the server CA");
        goto fail;
    }
    /* the tenant CAs made so far */
    DIR *dir = opendir(e->dir);
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            long long id;
            char tail[8];
            if (sscanf(de->d_name, "tenant-%lld.%7s", &id, tail) != 2 || strcmp(tail, "crt"))
                continue;
            struct tenant_ca *ca;
            if ((rc = tenant_ca(e, id, &ca, d)) != 0) {
                closedir(dir);
                goto fail;
            }
        }
        closedir(dir);
    }
    *out = e;
    return 0;
fail:
    enroll_free(e);
    return rc;
}

void
enroll_free(struct enroll *e)
{
    if (!e)
        return;
    X509_free(e->server_ca);
    EVP_PKEY_free(e->server_ca_key);
    X509_free(e->server_cert);
    EVP_PKEY_free(e->server_key);
    bn_free(e->server_ca_pem);
    for (size_t i = 0; i < e->ncas; i++) {
        X509_free(e->cas[i].cert);
        EVP_PKEY_free(e->cas[i].key);
    }
    bn_free(e->cas);
    bn_free(e);
}

const char *
enroll_server_ca_fp(const struct enroll *e)
{
    return e->server_ca_fp;
}

const char *
enroll_server_ca_pem(const struct enroll *e)
{
    return e->server_ca_pem;
}

int
enroll_configure_tls(struct enroll *e, SSL_CTX *ctx, struct bn_diag *d)
{
    if (SSL_CTX_use_certificate(ctx, e->server_cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, e->server_key) != 1 || SSL_CTX_check_private_key(ctx) != 1 ||
        SSL_CTX_add1_chain_cert(ctx, e->server_ca) != 1)
        return ossl_fail(d, "cannot set the server certificate");
    e->verify_store = SSL_CTX_get_cert_store(ctx);
    for (size_t i = 0; i < e->ncas; i++)
        X509_STORE_add_cert(e->verify_store, e->cas[i].cert);
    return 0;
}

int
enroll_sign_csr(struct enroll *e, int64_t tenant_id, const char *csr_pem, size_t len,
                const char *uid, char **cert_out, char fp[ENROLL_FP_HEX], struct bn_diag *d)
{
    *cert_out = NULL;
    fp[0] = '\0';
    if (len > BN_WIRE_PEM_MAX)
        return bn_diag_set(d, BN_ETOOBIG, "<csr>", 0, 0, "CSR of %zu bytes over %u", len,
                           BN_WIRE_PEM_MAX);
    BIO *b = BIO_new_mem_buf(csr_pem, (int)len);
    X509_REQ *req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    if (!req)
        return bn_diag_set(d, BN_EPARSE, "<csr>", 0, 0, "not a PEM certificate request");
    int rc = 0;
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (!pub || X509_REQ_verify(req, pub) != 1) {
        ERR_clear_error();
        rc = bn_diag_set(d, BN_EDENIED, "<csr>", 0, 0,
                         "certificate request is not signed by its own key");
        goto out;
    }
    if (EVP_PKEY_get_bits(pub) < 256 ||
        (EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC &&
         EVP_PKEY_get_base_id(pub) != EVP_PKEY_ED25519 &&
         (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pub) < 2048))) {
        rc = bn_diag_set(d, BN_EDENIED, "<csr>", 0, 0,
                         "certificate request key must be EC, Ed25519 or RSA >= 2048 bits");
        goto out;
    }
    struct tenant_ca *ca;
    if ((rc = tenant_ca(e, tenant_id, &ca, d)) != 0)
        goto out;
    X509 *x = make_cert(pub, uid, CERT_CLIENT, ca->cert, ca->key, ENROLL_CERT_DAYS);
    if (!x) {
        rc = ossl_fail(d, "cannot sign the agent certificate");
        goto out;
    }
    if ((rc = enroll_cert_fp(x, fp)) == 0 && !(*cert_out = cert_pem(x)))
        rc = BN_ENOMEM;
    X509_free(x);
out:
    X509_REQ_free(req);
    return rc;
}

/* ---- tokens ----------------------------------------------------------------------------- */

static void
sha256_hex(const void *p, size_t n, char out[ENROLL_FP_HEX])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    bn_hex_encode(md, 32, out);
}

int
enroll_token_parse(const char *tok, size_t len, char hash[ENROLL_FP_HEX], char ca_fp[ENROLL_FP_HEX])
{
    /* bnt1.<32 hex>.<64 hex> */
    uint8_t tmp[32];
    hash[0] = ca_fp[0] = '\0';
    if (len != 5 + 32 + 1 + 64 || memcmp(tok, "bnt1.", 5) != 0 || tok[37] != '.' ||
        bn_hex_decode(tok + 5, 32, tmp, 16, NULL) != 0 ||
        bn_hex_decode(tok + 38, 64, tmp, 32, NULL) != 0)
        return BN_EINVAL;
    sha256_hex(tok + 5, 32, hash);
    memcpy(ca_fp, tok + 38, 64);
    ca_fp[64] = '\0';
    for (int i = 0; i < 64; i++)
        if (ca_fp[i] >= 'A' && ca_fp[i] <= 'F')
            ca_fp[i] = (char)(ca_fp[i] + 32);
    return 0;
}

int
enroll_token_make(const char *ca_fp, char *token, size_t size, char hash[ENROLL_FP_HEX])
{
    uint8_t secret[16];
    char hex[33];
    token[0] = hash[0] = '\0';
    if (size < ENROLL_TOKEN_MAX || strlen(ca_fp) != 64)
        return BN_EINVAL;
    if (RAND_bytes(secret, sizeof(secret)) != 1)
        return BN_EINTERNAL;
    bn_hex_encode(secret, sizeof(secret), hex);
    sha256_hex(hex, 32, hash);
    snprintf(token, size, "bnt1.%s.%s", hex, ca_fp);
    return 0;
}

int
enroll_server_fp_read(const char *data_dir, char fp[ENROLL_FP_HEX])
{
    char path[4200];
    fp[0] = '\0';
    snprintf(path, sizeof(path), "%s/pki/server-ca.crt", data_dir);
    X509 *x = load_cert(path);
    if (!x) {
        ERR_clear_error();
        return access(path, F_OK) == 0 ? BN_EPARSE : -ENOENT;
    }
    int rc = enroll_cert_fp(x, fp);
    X509_free(x);
    return rc;
}

int
enroll_token_new(struct enroll *e, struct store *st, int64_t tenant_id, int uses,
                 int64_t expires_ns, const char *created_by, char *out, size_t size, int64_t *id)
{
    char hash[ENROLL_FP_HEX];
    if (uses < 1)
        return BN_EINVAL;
    int rc = enroll_token_make(e->server_ca_fp, out, size, hash);
    if (!rc)
        rc = store_token_create(st, tenant_id, hash, uses, expires_ns, created_by, id);
    if (rc)
        out[0] = '\0';
    return rc;
}
