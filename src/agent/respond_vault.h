/*
 * respond_vault.h - the quarantine vault (issue 5, module "vault"): quarantine moves a file
 * into vault_dir encrypted with libsodium's crypto_secretstream_xchacha20poly1305 under a
 * per-vault key (vault_dir/vault.key, 0600), with its metadata (path, owner, mode, times,
 * size, SHA-256, who, why, when) in a JSON file bound to the ciphertext; unquarantine puts the
 * same bytes, owner, mode and times back at the original path.
 *
 * Actions (params and results are JSON objects, see respond.h):
 *   quarantine    {"path":"/abs/file","reason":"...","actor":"..."}
 *                 -> {"ok":true,"id":"<hex>","sha256":"...","size":N}
 *   unquarantine  {"id":"<hex>","force":false} -> {"ok":true,"path":"...","sha256":"..."}
 *   vault_list    {} -> {"ok":true,"items":[{metadata},...],"count":N}
 */
#ifndef BANNIN_AGENT_RESPOND_VAULT_H
#define BANNIN_AGENT_RESPOND_VAULT_H

#include <stddef.h>

#include "agent/respond.h"

struct resp_vault;

/* Opens (creates 0700) the vault at paths->vault_dir, or state_dir/vault; returns owned. */
int resp_vault_new(struct resp_vault **out, const struct respond_paths *paths);
void resp_vault_free(struct resp_vault *m);

int resp_quarantine(struct resp_vault *m, const char *params, size_t len, struct bn_buf *out);
int resp_unquarantine(struct resp_vault *m, const char *params, size_t len, struct bn_buf *out);
int resp_vault_list(struct resp_vault *m, const char *params, size_t len, struct bn_buf *out);
/*
 * The parameter checks of quarantine / unquarantine (type) on their own, touching no file
 * (tests/fuzz/fuzz_agent_vault_params.c): 0 with {"ok":true, the parameters used} appended
 * to out, or BN_EINVAL with the failed result the action would give.
 */
int resp_vault_check(const char *type, const char *params, size_t len, struct bn_buf *out);

/*
 * Quarantines path (borrowed) for in-process callers (the baseline module removing an added
 * file). id_out (>= 33 bytes) receives the item id. Returns 0, -errno or BN_E*; msg (may be
 * NULL, msg_len bytes) receives the reason of a failure.
 */
int resp_vault_put(struct resp_vault *m, const char *path, const char *reason, const char *actor,
                   char *id_out, char *msg, size_t msg_len);

#endif
