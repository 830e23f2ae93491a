/*
 * store_sqlite_users.c - API users, their sessions and API tokens (only the SHA-256 hex of a
 * secret is stored, so a copy of the database grants no access).
 */
#include <stdio.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_int.h"

#define USER_COLS "id, tenant_id, name, role, pwhash, disabled, created_ns"

static void
user_row(sqlite3_stmt *s, int c0, struct store_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(s, c0 + 0);
    u->tenant_id = sqlite3_column_int64(s, c0 + 1);
    bn__store_col_copy(s, c0 + 2, u->name, sizeof(u->name));
    u->role = sqlite3_column_int(s, c0 + 3);
    bn__store_col_copy(s, c0 + 4, u->pwhash, sizeof(u->pwhash));
    u->disabled = sqlite3_column_int(s, c0 + 5);
    u->created_ns = sqlite3_column_int64(s, c0 + 6);
}

static int
valid_user(struct store *st, const struct store_user *u)
{
    if (!u->name[0] || strnlen(u->name, sizeof(u->name)) >= sizeof(u->name) ||
        strnlen(u->pwhash, sizeof(u->pwhash)) >= sizeof(u->pwhash) || u->role < 0 ||
        u->role > STORE_ROLE_CUSTOMER_VIEWER) {
        bn__store_seterr(st, "user: empty or unterminated name, or unknown role %d", u->role);
        return BN_EINVAL;
    }
    /* A provider_admin belongs to tenant 0, customer roles to a tenant; an analyst is the
     * provider's (tenant 0) or assigned to one tenant. */
    int bad = (u->role == STORE_ROLE_PROVIDER_ADMIN && u->tenant_id != 0) ||
              ((u->role == STORE_ROLE_CUSTOMER_ADMIN || u->role == STORE_ROLE_CUSTOMER_VIEWER) &&
               u->tenant_id <= 0) ||
              u->tenant_id < 0;
    if (bad) {
        bn__store_seterr(st, "user '%s': role %s does not fit tenant %lld", u->name,
                         store_role_name(u->role), (long long)u->tenant_id);
        return BN_EINVAL;
    }
    return 0;
}

int
store_user_create(struct store *st, const struct store_user *u, int64_t *id)
{
    static const char SQL[] = "INSERT INTO users(tenant_id, name, role, pwhash, disabled,"
                              " created_ns) VALUES(?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    int rc = valid_user(st, u);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, u->tenant_id);
    bn__store_bind_text(s, 2, u->name);
    sqlite3_bind_int(s, 3, u->role);
    bn__store_bind_text(s, 4, u->pwhash);
    sqlite3_bind_int(s, 5, u->disabled);
    sqlite3_bind_int64(s, 6, u->created_ns ? u->created_ns : bn__store_now_ns());
    rc = bn__store_step_done(st, s, "create user");
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int
user_one(struct store *st, const char *sql, int64_t id, const char *name, struct store_user *out)
{
    int rc = 0;
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = bn__store_prep(st, sql, &rc);
    if (!s)
        return rc;
    if (name)
        bn__store_bind_text(s, 1, name);
    else
        sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        user_row(s, 0, out);
    else if (r == SQLITE_DONE)
        rc = BN_ENOTFOUND;
    else
        rc = bn__store_err(st, r, "get user");
    bn__store_done(s);
    return rc;
}

/* A provider user (tenant 0) is in scope only for "all". */
static int
user_in_scope(const struct store_scope *sc, int64_t tenant_id)
{
    return sc && (sc->all || bn__store_in_scope(sc, tenant_id));
}

int
store_user_get(struct store *st, const struct store_scope *sc, int64_t id, struct store_user *out)
{
    static const char SQL[] = "SELECT " USER_COLS " FROM users WHERE id = ?";
    int rc = user_one(st, SQL, id, NULL, out);
    if (rc == 0 && !user_in_scope(sc, out->tenant_id)) {
        memset(out, 0, sizeof(*out));
        rc = BN_ENOTFOUND;
    }
    return rc;
}

int
store_user_by_name(struct store *st, const char *name, struct store_user *out)
{
    static const char SQL[] = "SELECT " USER_COLS " FROM users WHERE name = ?";
    return name ? user_one(st, SQL, 0, name, out) : BN_EINVAL;
}

static int
user_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_user u;
    user_row(s, 0, &u);
    return ((store_user_cb)cb)(ctx, &u);
}

int
store_user_list(struct store *st, const struct store_scope *sc, store_user_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " USER_COLS " FROM users WHERE ", "tenant_id", sc,
                                 " ORDER BY id");
    return rc ? rc : bn__store_run_list(st, &b, user_cb_row, (void *)cb, ctx);
}

int
store_user_update(struct store *st, const struct store_scope *sc, const struct store_user *u)
{
    static const char SQL[] = "UPDATE users SET role = ?, pwhash = ?, disabled = ? WHERE id = ?";
    struct store_user cur;
    int rc = store_user_get(st, sc, u->id, &cur);
    if (rc != 0)
        return rc;
    struct store_user chk = cur;
    chk.role = u->role;
    snprintf(chk.pwhash, sizeof(chk.pwhash), "%s", u->pwhash);
    rc = valid_user(st, &chk);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int(s, 1, u->role);
    bn__store_bind_text(s, 2, u->pwhash);
    sqlite3_bind_int(s, 3, u->disabled);
    sqlite3_bind_int64(s, 4, u->id);
    return bn__store_step_done(st, s, "update user");
}

int
store_user_delete(struct store *st, const struct store_scope *sc, int64_t id)
{
    static const char SQL[] = "DELETE FROM users WHERE id = ?";
    struct store_user cur;
    int rc = store_user_get(st, sc, id, &cur);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    /* auth_tokens go with it (ON DELETE CASCADE). */
    return bn__store_step_done(st, s, "delete user");
}

/* ---- sessions and API tokens ---------------------------------------------------------- */

static int
valid_hash(const char *h)
{
    if (!h || strlen(h) != 64)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

int
store_auth_create(struct store *st, int kind, int64_t user_id, const char *hash_hex,
                  const char *name, int64_t now_ns, int64_t expires_ns, int64_t *id)
{
    static const char SQL[] = "INSERT INTO auth_tokens(user_id, kind, hash, name, created_ns,"
                              " expires_ns) VALUES(?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    if ((kind != STORE_AUTH_SESSION && kind != STORE_AUTH_API_TOKEN) || !valid_hash(hash_hex) ||
        (name && strlen(name) >= sizeof(((struct store_auth *)0)->name))) {
        bn__store_seterr(st, "auth token: bad kind, hash (64 lower-case hex) or name");
        return BN_EINVAL;
    }
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, kind);
    bn__store_bind_text(s, 3, hash_hex);
    bn__store_bind_text(s, 4, name ? name : "");
    sqlite3_bind_int64(s, 5, now_ns);
    sqlite3_bind_int64(s, 6, expires_ns);
    rc = bn__store_step_done(st, s, "create auth token");
    if (rc == BN_EINVAL)
        bn__store_seterr(st, "auth token: user %lld does not exist", (long long)user_id);
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

#define AUTH_COLS                                                                                  \
    "a.id, a.user_id, u.tenant_id, a.kind, a.name, a.created_ns, a.expires_ns, "                   \
    "a.last_used_ns, a.revoked"

static void
auth_row(sqlite3_stmt *s, struct store_auth *a)
{
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(s, 0);
    a->user_id = sqlite3_column_int64(s, 1);
    a->tenant_id = sqlite3_column_int64(s, 2);
    a->kind = sqlite3_column_int(s, 3);
    bn__store_col_copy(s, 4, a->name, sizeof(a->name));
    a->created_ns = sqlite3_column_int64(s, 5);
    a->expires_ns = sqlite3_column_int64(s, 6);
    a->last_used_ns = sqlite3_column_int64(s, 7);
    a->revoked = sqlite3_column_int(s, 8);
}

int
store_auth_lookup(struct store *st, const char *hash_hex, int64_t now_ns, struct store_auth *auth,
                  struct store_user *user)
{
    static const char SQL[] = "SELECT " AUTH_COLS ", u.id, u.tenant_id, u.name, u.role, u.pwhash,"
                              " u.disabled, u.created_ns FROM auth_tokens a"
                              " JOIN users u ON u.id = a.user_id WHERE a.hash = ?";
    static const char TOUCH[] = "UPDATE auth_tokens SET last_used_ns = ? WHERE id = ?";
    struct store_auth a;
    struct store_user u;
    if (auth)
        memset(auth, 0, sizeof(*auth));
    if (user)
        memset(user, 0, sizeof(*user));
    if (!valid_hash(hash_hex))
        return BN_EDENIED;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    bn__store_bind_text(s, 1, hash_hex);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        auth_row(s, &a);
        user_row(s, 9, &u);
    } else if (r == SQLITE_DONE) {
        rc = BN_EDENIED;
    } else {
        rc = bn__store_err(st, r, "auth lookup");
    }
    bn__store_done(s);
    if (rc != 0)
        return rc;
    if (a.revoked || (a.expires_ns && a.expires_ns <= now_ns) || u.disabled) {
        bn__store_seterr(st, "credential revoked, expired or its user disabled");
        return BN_EDENIED;
    }
    if (now_ns - a.last_used_ns > 60LL * 1000000000LL) {
        s = bn__store_prep(st, TOUCH, &rc);
        if (!s)
            return rc;
        sqlite3_bind_int64(s, 1, now_ns);
        sqlite3_bind_int64(s, 2, a.id);
        rc = bn__store_step_done(st, s, "auth touch");
        if (rc != 0)
            return rc;
        a.last_used_ns = now_ns;
    }
    if (auth)
        *auth = a;
    if (user)
        *user = u;
    return 0;
}

int
store_auth_revoke(struct store *st, const struct store_scope *sc, int64_t id)
{
    static const char GET[] = "SELECT u.tenant_id FROM auth_tokens a JOIN users u"
                              " ON u.id = a.user_id WHERE a.id = ?";
    static const char SQL[] = "UPDATE auth_tokens SET revoked = 1 WHERE id = ?";
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, GET, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if (!user_in_scope(sc, sqlite3_column_int64(s, 0)))
            rc = BN_ENOTFOUND;
    } else {
        rc = r == SQLITE_DONE ? BN_ENOTFOUND : bn__store_err(st, r, "revoke auth token");
    }
    bn__store_done(s);
    if (rc != 0)
        return rc;
    s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    return bn__store_step_done(st, s, "revoke auth token");
}

int
store_auth_revoke_hash(struct store *st, const char *hash_hex)
{
    static const char SQL[] = "UPDATE auth_tokens SET revoked = 1 WHERE hash = ?";
    if (!valid_hash(hash_hex))
        return BN_ENOTFOUND;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    bn__store_bind_text(s, 1, hash_hex);
    rc = bn__store_step_done(st, s, "logout");
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = BN_ENOTFOUND;
    return rc;
}

static int
auth_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_auth a;
    auth_row(s, &a);
    return ((store_auth_cb)cb)(ctx, &a);
}

int
store_auth_list(struct store *st, const struct store_scope *sc, int64_t user_id, store_auth_cb cb,
                void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b,
                                 "SELECT " AUTH_COLS " FROM auth_tokens a JOIN users u"
                                 " ON u.id = a.user_id WHERE ",
                                 "u.tenant_id", sc, "");
    if (rc == 0 && user_id > 0)
        rc = bn_buf_printf(&b, " AND a.user_id = %lld", (long long)user_id);
    if (rc == 0)
        rc = bn_buf_puts(&b, " ORDER BY a.id");
    if (rc != 0) {
        bn_buf_release(&b);
        return rc;
    }
    return bn__store_run_list(st, &b, auth_cb_row, (void *)cb, ctx);
}

int
store_auth_expire(struct store *st, int64_t now_ns, int64_t *n)
{
    static const char SQL[] = "DELETE FROM auth_tokens WHERE expires_ns > 0 AND expires_ns <= ?";
    if (n)
        *n = 0;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, now_ns);
    rc = bn__store_step_done(st, s, "expire auth tokens");
    if (rc == 0 && n)
        *n = sqlite3_changes(st->db);
    return rc;
}
