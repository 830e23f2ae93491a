/*
 * auth.h - credentials and roles for the manager API: Argon2id password hashes (libsodium
 * crypto_pwhash_str), random bearer tokens stored only as their SHA-256, and the role model.
 *
 * Roles: provider_admin (everything, all tenants), analyst (read and triage on all tenants,
 * no user or tenant administration), customer_admin (their own tenant: users, tokens,
 * channels, triage), customer_viewer (read their own tenant).
 */
#ifndef BANNIN_MANAGER_AUTH_H
#define BANNIN_MANAGER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/common.h"

#define AUTH_TOKEN_LEN 47          /* "bn" + type letter + "_" + 43 base64url chars */
#define AUTH_HASH_HEX_LEN 64       /* SHA-256 in hex */
#define AUTH_PWHASH_MAX 128        /* crypto_pwhash_STRBYTES */
#define AUTH_PASSWORD_MIN 12
#define AUTH_PASSWORD_MAX 256

/* Role bits (1 << enum store_role), used by the route table. */
#define AUTH_R_PROVIDER_ADMIN (1u << 0)
#define AUTH_R_ANALYST (1u << 1)
#define AUTH_R_CUSTOMER_ADMIN (1u << 2)
#define AUTH_R_CUSTOMER_VIEWER (1u << 3)
#define AUTH_R_ANY 0xfu
#define AUTH_R_PROVIDER (AUTH_R_PROVIDER_ADMIN | AUTH_R_ANALYST)

/* The authenticated caller of one request. */
struct auth_principal {
    int64_t user_id;
    int64_t tenant_id;             /* 0 for provider roles (all tenants) */
    int role;                      /* enum store_role */
    char name[128];
    int via_api_token;             /* 1 = API token, 0 = session */
    int64_t auth_id;               /* the session or token of this request */
};

/* True when the principal may see and act on tenant_id (provider roles: every tenant). */
bool auth_tenant_allowed(const struct auth_principal *p, int64_t tenant_id);
/* True for provider_admin and analyst. */
bool auth_is_provider(const struct auth_principal *p);

/* Hashes password with Argon2id (interactive limits) into out (AUTH_PWHASH_MAX bytes). */
int auth_password_hash(const char *password, char *out, size_t size);
/* 0 when password matches hash, BN_EDENIED otherwise. Constant work for a wrong password. */
int auth_password_verify(const char *hash, const char *password);
/* Checks the password policy: length AUTH_PASSWORD_MIN..AUTH_PASSWORD_MAX bytes, UTF-8. */
int auth_password_policy(const char *password, const char **why);

/*
 * Makes a fresh random token "bn<kind>_<43 base64url chars>" (256 bits) in out
 * (at least AUTH_TOKEN_LEN + 1 bytes): kind 's' session, 'a' API token, 'e' enrolment.
 */
int auth_token_new(char kind, char *out, size_t size);
/* SHA-256 of s[0..n) as 64 lowercase hex digits plus NUL in out (65 bytes). */
void auth_sha256_hex(const void *s, size_t n, char out[AUTH_HASH_HEX_LEN + 1]);
/* Fresh random password (base64url, 24 chars) for bootstrap. */
int auth_password_new(char *out, size_t size);

#endif
