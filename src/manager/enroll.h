/*
 * enroll.h - the manager's PKI and enrolment tokens (docs/MANAGER.md, "Enrolment").
 *
 * In DATA/pki: a server CA (server-ca.crt/.key) that signs the manager's TLS server
 * certificate (server.crt/.key), and one CA per tenant (tenant-<id>.crt/.key, created at the
 * tenant's first enrolment) that signs its agents' client certificates. Keys are EC P-256,
 * files 0600, written to a temporary name and renamed.
 *
 * An enrolment token reads "bnt1.<32 hex secret>.<64 hex SHA-256 of the server CA>": the
 * agent pins the server CA by that fingerprint before it sends anything; the store keeps only
 * the SHA-256 of the secret.
 *
 * Threads: an enroll handle belongs to one thread (the link's), except enroll_token_new and
 * the read-only accessors, which only read what enroll_open set.
 */
#ifndef BANNIN_MANAGER_ENROLL_H
#define BANNIN_MANAGER_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bannin/diag.h"

struct store;
struct enroll;

#define ENROLL_FP_HEX    65 /* SHA-256 hex + NUL */
#define ENROLL_TOKEN_MAX 160
#define ENROLL_CERT_DAYS 825 /* agent certificates */
#define ENROLL_CA_DAYS   3650

/* Opens DATA/pki (created, with the server CA and certificate, when missing). Errors with d. */
int enroll_open(struct enroll **out, const char *data_dir, struct bn_diag *d);
void enroll_free(struct enroll *e);

/* SHA-256 (hex) of the server CA certificate: what tokens pin. Borrowed. */
const char *enroll_server_ca_fp(const struct enroll *e);
/* The server CA certificate, PEM, NUL-terminated. Borrowed. */
const char *enroll_server_ca_pem(const struct enroll *e);

/*
 * Puts the server certificate, its key and chain into ctx and every tenant CA into ctx's
 * verify store (tenant CAs created later are added too: ctx is remembered, borrowed).
 */
int enroll_configure_tls(struct enroll *e, SSL_CTX *ctx, struct bn_diag *d);

/*
 * Signs the PEM CSR (proof of possession checked) for an agent of tenant_id with the tenant's
 * CA (created on first use), subject CN = uid. Returns 0 with an owned PEM in *cert_pem and
 * the certificate's fingerprint in fp; BN_EPARSE / BN_EDENIED with d.
 */
int enroll_sign_csr(struct enroll *e, int64_t tenant_id, const char *csr_pem, size_t len,
                    const char *uid, char **cert_pem, char fp[ENROLL_FP_HEX], struct bn_diag *d);

/*
 * Creates a token for tenant_id (uses >= 1, expires_ns 0 = never) and stores its hash.
 * The token text goes to out (ENROLL_TOKEN_MAX bytes); show it once, it is not kept.
 */
int enroll_token_new(struct enroll *e, struct store *st, int64_t tenant_id, int uses,
                     int64_t expires_ns, const char *created_by, char *out, size_t size,
                     int64_t *id);

/*
 * For other threads and processes (the API): reads the server CA fingerprint from
 * data_dir/pki/server-ca.crt (the link creates it at bannind's first start) into fp.
 * 0, or -ENOENT / BN_EPARSE.
 */
int enroll_server_fp_read(const char *data_dir, char fp[ENROLL_FP_HEX]);
/*
 * Makes a fresh token pinning ca_fp into token (ENROLL_TOKEN_MAX bytes) and the hash the
 * store keeps (store_token_create) into hash. 0 or BN_EINTERNAL.
 */
int enroll_token_make(const char *ca_fp, char *token, size_t size, char hash[ENROLL_FP_HEX]);

/* Splits a token into the hash of its secret and the pinned CA fingerprint. 0 or BN_EINVAL. */
int enroll_token_parse(const char *tok, size_t len, char hash[ENROLL_FP_HEX],
                       char ca_fp[ENROLL_FP_HEX]);

/* SHA-256 (hex) of a certificate's DER encoding. */
int enroll_cert_fp(X509 *x, char fp[ENROLL_FP_HEX]);

#endif
