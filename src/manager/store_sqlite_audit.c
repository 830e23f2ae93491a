/*
 * store_sqlite_audit.c - the append-only audit log. Triggers forbid UPDATE and DELETE; each
 * entry carries the SHA-256 of the previous entry's hash and its own fields, so an edit, a
 * removal or a reordering made behind the store's back (a raw connection that drops the
 * triggers) breaks the chain and store_audit_verify names the first bad entry.
 *
 * hash = SHA-256("bannin-audit-v1" || prev_hash || id || ts_ns || tenant_id || actor ||
 * action || object || detail), integers as 8 bytes little-endian, strings as an 8-byte
 * length and the bytes.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_util.h"

static const char GENESIS[] = "0000000000000000000000000000000000000000000000000000000000000000";

static void
put_u64(crypto_hash_sha256_state *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    crypto_hash_sha256_update(h, b, 8);
}

static void
put_str(crypto_hash_sha256_state *h, const char *s, size_t n)
{
    put_u64(h, n);
    crypto_hash_sha256_update(h, (const uint8_t *)s, n);
}

static void
entry_hash(const char *prev, int64_t id, int64_t ts_ns, int64_t tenant_id, const char *actor,
           const char *action, const char *object, const char *detail, char out[65])
{
    crypto_hash_sha256_state h;
    uint8_t d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    put_str(&h, "bannin-audit-v1", 15);
    put_str(&h, prev, strlen(prev));
    put_u64(&h, (uint64_t)id);
    put_u64(&h, (uint64_t)ts_ns);
    put_u64(&h, (uint64_t)tenant_id);
    put_str(&h, actor, strlen(actor));
    put_str(&h, action, strlen(action));
    put_str(&h, object, strlen(object));
    put_str(&h, detail, strlen(detail));
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(out, 65, d, sizeof(d));
}

int
store_audit(struct store *st, int64_t tenant_id, const char *actor, const char *action,
            const char *object, const char *detail_json)
{
    static const char LAST[] = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1";
    static const char INS[] =
        "INSERT INTO audit(id, ts_ns, tenant_id, actor, action, object, detail, prev_hash, hash)"
        " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    actor = actor ? actor : "";
    action = action ? action : "";
    object = object ? object : "";
    detail_json = detail_json ? detail_json : "{}";
    if (!*action ||
        strlen(actor) + strlen(action) + strlen(object) + strlen(detail_json) > BN_STORE_TEXT_MAX) {
        bn__store_seterr(st, "audit entry without action or over %u bytes", BN_STORE_TEXT_MAX);
        return BN_EINVAL;
    }
    int owned;
    int rc = bn__store_tx_begin(st, &owned);
    if (rc != 0)
        return rc;
    char prev[65];
    int64_t id = 1;
    memcpy(prev, GENESIS, sizeof(prev));
    sqlite3_stmt *s = bn__store_prep(st, LAST, &rc);
    if (s) {
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            id = sqlite3_column_int64(s, 0) + 1;
            bn__store_col_copy(s, 1, prev, sizeof(prev));
        } else if (r != SQLITE_DONE) {
            rc = bn__store_err(st, r, "audit head");
        }
        bn__store_done(s);
    }
    int64_t ts = bn__store_now_ns();
    char hash[65];
    if (rc == 0) {
        entry_hash(prev, id, ts, tenant_id, actor, action, object, detail_json, hash);
        s = bn__store_prep(st, INS, &rc);
    }
    if (rc == 0 && s) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, ts);
        sqlite3_bind_int64(s, 3, tenant_id);
        bn__store_bind_text(s, 4, actor);
        bn__store_bind_text(s, 5, action);
        bn__store_bind_text(s, 6, object);
        bn__store_bind_text(s, 7, detail_json);
        bn__store_bind_text(s, 8, prev);
        bn__store_bind_text(s, 9, hash);
        rc = bn__store_step_done(st, s, "append audit entry");
    }
    return bn__store_tx_end(st, owned, rc);
}

static int
trigger_present(struct store *st, const char *name)
{
    static const char SQL[] = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'"
                              " AND name = ? AND tbl_name = 'audit'";
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    bn__store_bind_text(s, 1, name);
    int ok = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
    bn__store_done(s);
    return ok;
}

int
store_audit_verify(struct store *st, int64_t *bad_id)
{
    *bad_id = 0;
    if (trigger_present(st, "audit_no_update") != 1 ||
        trigger_present(st, "audit_no_delete") != 1) {
        bn__store_seterr(st, "audit log: the append-only triggers are missing");
        return BN_ECORRUPT;
    }
    sqlite3_stmt *s = NULL;
    int rc = bn__store_prepare_dyn(st,
                                   "SELECT id, ts_ns, tenant_id, actor, action, object, detail,"
                                   " prev_hash, hash FROM audit ORDER BY id",
                                   &s);
    if (rc != 0)
        return rc;
    char prev[65];
    memcpy(prev, GENESIS, sizeof(prev));
    int64_t expect_id = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        const char *row_prev = bn__store_col_text(s, 7);
        const char *row_hash = bn__store_col_text(s, 8);
        char h[65];
        entry_hash(prev, id, sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                   bn__store_col_text(s, 3), bn__store_col_text(s, 4), bn__store_col_text(s, 5),
                   bn__store_col_text(s, 6), h);
        const char *why = NULL;
        if (expect_id && id != expect_id)
            why = "entries before it are missing";
        else if (strcmp(row_prev, prev) != 0)
            why = "it does not chain to the previous entry";
        else if (strcmp(row_hash, h) != 0)
            why = "its content does not match its hash";
        if (why) {
            bn__store_seterr(st, "audit log: entry %lld is bad: %s", (long long)id, why);
            *bad_id = id;
            rc = BN_ECORRUPT;
            break;
        }
        memcpy(prev, h, sizeof(prev));
        expect_id = id + 1;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "audit verify");
    sqlite3_finalize(s);
    return rc;
}

static const struct store_col audit_cols[] = {
    STORE_NUM(struct store_audit_entry, id),           STORE_NUM(struct store_audit_entry, ts_ns),
    STORE_NUM(struct store_audit_entry, tenant_id),    STORE_TEXT(struct store_audit_entry, actor),
    STORE_TEXT(struct store_audit_entry, action),      STORE_TEXT(struct store_audit_entry, object),
    STORE_TEXT(struct store_audit_entry, detail_json), STORE_CHARS(struct store_audit_entry, hash),
};

static int
audit_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_audit_entry e;
    bn__store_cols_read(s, 0, audit_cols, BN_ARRAY_SIZE(audit_cols), &e, sizeof(e));
    return ((store_audit_cb)cb)(ctx, &e);
}

int
store_audit_list(struct store *st, const struct store_scope *sc, int64_t before_id, size_t limit,
                 store_audit_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b,
                                 "SELECT id, ts_ns, tenant_id, actor, action, object, detail,"
                                 " hash FROM audit WHERE ",
                                 "tenant_id", sc, "");
    if (rc == 0 && before_id > 0)
        rc = bn_buf_printf(&b, " AND id < %lld", (long long)before_id);
    if (rc == 0)
        rc = bn_buf_printf(&b, " ORDER BY id DESC LIMIT %zu", bn__store_limit(limit));
    return bn__store_list_end(st, rc, &b, audit_cb_row, (void *)cb, ctx);
}
