/*
 * auth.c - password hashing (Argon2id), bearer tokens and role checks for the manager API.
 * libsodium does the cryptography; nothing here logs or keeps a secret longer than a call.
 */
#include <string.h>

#include <sodium.h>

#include "manager/auth.h"
#include "manager/store.h"
#include "bannin/buf.h"
#include "bannin/error.h"

static int
auth_init(void)
{
    /* sodium_init is idempotent and thread-safe; -1 only when no entropy source works. */
    return sodium_init() < 0 ? BN_EINTERNAL : 0;
}

bool
auth_tenant_allowed(const struct auth_principal *p, int64_t tenant_id)
{
    if (!p)
        return false;
    if (auth_is_provider(p))
        return true;
    return tenant_id != 0 && p->tenant_id == tenant_id;
}

bool
auth_is_provider(const struct auth_principal *p)
{
    return p && p->tenant_id == 0 &&
           (p->role == STORE_ROLE_PROVIDER_ADMIN || p->role == STORE_ROLE_ANALYST);
}

int
auth_password_policy(const char *password, const char **why)
{
    const char *w = NULL;
    size_t n = password ? strlen(password) : 0;
    if (n < AUTH_PASSWORD_MIN)
        w = "password must have at least 12 characters";
    else if (n > AUTH_PASSWORD_MAX)
        w = "password must have at most 256 bytes";
    else if (!bn_utf8_valid(password, n))
        w = "password must be valid UTF-8";
    if (why)
        *why = w;
    return w ? BN_EINVAL : 0;
}

int
auth_password_hash(const char *password, char *out, size_t size)
{
    if (size < crypto_pwhash_STRBYTES || !password)
        return BN_EINVAL;
    int rc = auth_init();
    if (rc < 0)
        return rc;
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return BN_ENOMEM; /* libsodium fails here only when it cannot allocate */
    return 0;
}

int
auth_password_verify(const char *hash, const char *password)
{
    if (!hash || !password || auth_init() < 0)
        return BN_EDENIED;
    if (hash[0] == '\0') {
        /* No hash stored (disabled login): spend the same work so timing does not tell. */
        char dummy[crypto_pwhash_STRBYTES];
        (void)auth_password_hash("bannin-no-such-user", dummy, sizeof(dummy));
        return BN_EDENIED;
    }
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 ? 0 : BN_EDENIED;
}

static int
random_b64(char *out, size_t size, size_t nbytes)
{
    unsigned char raw[32];
    if (nbytes > sizeof(raw))
        return BN_EINVAL;
    int rc = auth_init();
    if (rc < 0)
        return rc;
    if (size < sodium_base64_ENCODED_LEN(nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return BN_EINVAL;
    randombytes_buf(raw, nbytes);
    sodium_bin2base64(out, size, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    return 0;
}

int
auth_token_new(char kind, char *out, size_t size)
{
    if (size < AUTH_TOKEN_LEN + 1 || (kind != 's' && kind != 'a' && kind != 'e'))
        return BN_EINVAL;
    out[0] = 'b';
    out[1] = 'n';
    out[2] = kind;
    out[3] = '_';
    return random_b64(out + 4, size - 4, 32);
}

int
auth_password_new(char *out, size_t size)
{
    return random_b64(out, size, 18); /* 18 bytes -> 24 chars */
}

void
auth_sha256_hex(const void *s, size_t n, char out[AUTH_HASH_HEX_LEN + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, s, n);
    sodium_bin2hex(out, AUTH_HASH_HEX_LEN + 1, h, sizeof(h));
}
