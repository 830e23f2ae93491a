/*
 * store_sqlite_users.c - API users, their sessions and API tokens (only the SHA-256 hex of a
 * secret is stored, so a copy of the database grants no access).
 */
#include <stdio.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_util.h"

#define USER_COLS "id, tenant_id, name, role, pwhash, disabled, created_ns"

/* In the order of USER_COLS; the INSERT binds all but id. */
static const struct store_col user_cols[] = {
    STORE_NUM(struct store_user, id),         STORE_NUM(struct store_user, tenant_id),
    STORE_CHARS(struct store_user, name),     STORE_NUM(struct store_user, role),
    STORE_CHARS(struct store_user, pwhash),   STORE_NUM(struct store_user, disabled),
    STORE_NUM(struct store_user, created_ns),
};

static void
user_row(sqlite3_stmt *s, int c0, struct store_user *u)
{
    bn__store_cols_read(s, c0, user_cols, BN_ARRAY_SIZE(user_cols), u, sizeof(*u));
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
    struct store_user v = *u;
    if (!v.created_ns)
        v.created_ns = bn__store_now_ns();
    bn__store_cols_bind(s, 1, user_cols + 1, BN_ARRAY_SIZE(user_cols) - 1, &v);
    return bn__store_step_insert(st, s, "create user", id);
}

static int
user_one(struct store *st, const char *sql, int64_t id, const char *name, struct store_user *out)
{
    return bn__store_get_row(st, sql, id, name, user_cols, BN_ARRAY_SIZE(user_cols), out,
                             sizeof(*out), "get user");
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
    return bn__store_list_scoped(st, "SELECT " USER_COLS " FROM users WHERE ", "tenant_id", sc,
                                 " ORDER BY id", user_cb_row, (void *)cb, ctx);
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
    rc = bn__store_step_insert(st, s, "create auth token", id);
    if (rc == BN_EINVAL)
        bn__store_seterr(st, "auth token: user %lld does not exist", (long long)user_id);
    return rc;
}

#define AUTH_COLS                                                                                  \
    "a.id, a.user_id, u.tenant_id, a.kind, a.name, a.created_ns, a.expires_ns, "                   \
    "a.last_used_ns, a.revoked"

static const struct store_col auth_cols[] = {
    STORE_NUM(struct store_auth, id),         STORE_NUM(struct store_auth, user_id),
    STORE_NUM(struct store_auth, tenant_id),  STORE_NUM(struct store_auth, kind),
    STORE_CHARS(struct store_auth, name),     STORE_NUM(struct store_auth, created_ns),
    STORE_NUM(struct store_auth, expires_ns), STORE_NUM(struct store_auth, last_used_ns),
    STORE_NUM(struct store_auth, revoked),
};

static void
auth_row(sqlite3_stmt *s, struct store_auth *a)
{
    bn__store_cols_read(s, 0, auth_cols, BN_ARRAY_SIZE(auth_cols), a, sizeof(*a));
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
    rc = bn__store_step_row(st, s, "auth lookup");
    if (rc == 0) {
        auth_row(s, &a);
        user_row(s, (int)BN_ARRAY_SIZE(auth_cols), &u);
    } else if (rc == BN_ENOTFOUND) {
        rc = BN_EDENIED;
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
    rc = bn__store_step_row(st, s, "revoke auth token");
    if (rc == 0 && !user_in_scope(sc, sqlite3_column_int64(s, 0)))
        rc = BN_ENOTFOUND;
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
    return bn__store_step_changed(st, s, "logout");
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
    return bn__store_list_end(st, rc, &b, auth_cb_row, (void *)cb, ctx);
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
