/*
 * store_sqlite_admin.c - tenants, enrolment tokens and agents: what enrolment and the link
 * need, plus the API's scoped lists and updates of them.
 */
#include <stdio.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_util.h"

/* ---- tenants -------------------------------------------------------------------------- */

#define TENANT_COLS                                                                                \
    "id, name, mode, notify_min_severity, retention_days, retention_bytes, "                       \
    "created_ns"

/* In the order of TENANT_COLS; the INSERT binds all but id. */
static const struct store_col tenant_cols[] = {
    STORE_NUM(struct store_tenant, id),
    STORE_CHARS(struct store_tenant, name),
    STORE_NUM(struct store_tenant, mode),
    STORE_NUM(struct store_tenant, notify_min_severity),
    STORE_NUM(struct store_tenant, retention_days),
    STORE_NUM(struct store_tenant, retention_bytes),
    STORE_NUM(struct store_tenant, created_ns),
};

int
store_tenant_create(struct store *st, const struct store_tenant *t, int64_t *id)
{
    static const char SQL[] =
        "INSERT INTO tenants(name, mode, notify_min_severity, retention_days, retention_bytes,"
        " created_ns) VALUES(?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    if (!t->name[0] || strnlen(t->name, sizeof(t->name)) >= sizeof(t->name)) {
        bn__store_seterr(st, "tenant name empty or not terminated");
        return BN_EINVAL;
    }
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    struct store_tenant v = *t;
    if (!v.created_ns)
        v.created_ns = bn__store_now_ns();
    bn__store_cols_bind(s, 1, tenant_cols + 1, BN_ARRAY_SIZE(tenant_cols) - 1, &v);
    return bn__store_step_insert(st, s, "create tenant", id);
}

static int
tenant_one(struct store *st, const char *sql, int64_t id, const char *name,
           struct store_tenant *out)
{
    return bn__store_get_row(st, sql, id, name, tenant_cols, BN_ARRAY_SIZE(tenant_cols), out,
                             sizeof(*out), "get tenant");
}

int
store_tenant_get(struct store *st, int64_t id, struct store_tenant *out)
{
    static const char SQL[] = "SELECT " TENANT_COLS " FROM tenants WHERE id = ?";
    return tenant_one(st, SQL, id, NULL, out);
}

int
store_tenant_by_name(struct store *st, const char *name, struct store_tenant *out)
{
    static const char SQL[] = "SELECT " TENANT_COLS " FROM tenants WHERE name = ?";
    return tenant_one(st, SQL, 0, name, out);
}

static int
tenant_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_tenant t;
    bn__store_cols_read(s, 0, tenant_cols, BN_ARRAY_SIZE(tenant_cols), &t, sizeof(t));
    return ((store_tenant_cb)cb)(ctx, &t);
}

int
store_tenant_list(struct store *st, const struct store_scope *sc, store_tenant_cb cb, void *ctx)
{
    return bn__store_list_scoped(st, "SELECT " TENANT_COLS " FROM tenants WHERE ", "id", sc,
                                 " ORDER BY id", tenant_cb_row, (void *)cb, ctx);
}

int
store_tenant_update(struct store *st, const struct store_scope *sc, const struct store_tenant *t)
{
    static const char SQL[] =
        "UPDATE tenants SET name = ?, mode = ?, notify_min_severity = ?, retention_days = ?,"
        " retention_bytes = ? WHERE id = ?";
    if (!bn__store_in_scope(sc, t->id))
        return BN_ENOTFOUND;
    if (!t->name[0] || strnlen(t->name, sizeof(t->name)) >= sizeof(t->name))
        return BN_EINVAL;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    /* name .. retention_bytes, then the id */
    bn__store_cols_bind(s, 1, tenant_cols + 1, 5, t);
    sqlite3_bind_int64(s, 6, t->id);
    return bn__store_step_changed(st, s, "update tenant");
}

/* ---- enrolment tokens ------------------------------------------------------------------ */

int
store_token_create(struct store *st, int64_t tenant_id, const char *hash_hex, int uses,
                   int64_t expires_ns, const char *created_by, int64_t *id)
{
    static const char SQL[] =
        "INSERT INTO enroll_tokens(tenant_id, hash, uses_left, expires_ns, created_by,"
        " created_ns) VALUES(?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    if (!hash_hex || strlen(hash_hex) != 64 || uses <= 0)
        return BN_EINVAL;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    bn__store_bind_text(s, 2, hash_hex);
    sqlite3_bind_int(s, 3, uses);
    sqlite3_bind_int64(s, 4, expires_ns);
    bn__store_bind_text(s, 5, created_by ? created_by : "");
    sqlite3_bind_int64(s, 6, bn__store_now_ns());
    rc = bn__store_step_insert(st, s, "create enrolment token", id);
    if (rc == BN_EINVAL)
        bn__store_seterr(st, "create enrolment token: tenant %lld does not exist",
                         (long long)tenant_id);
    return rc;
}

int
store_token_consume(struct store *st, const char *hash_hex, int64_t now_ns, int64_t *tenant_id)
{
    static const char SQL[] = "UPDATE enroll_tokens SET uses_left = uses_left - 1"
                              " WHERE hash = ? AND revoked = 0 AND uses_left > 0"
                              " AND (expires_ns = 0 OR expires_ns > ?) RETURNING tenant_id";
    *tenant_id = 0;
    if (!hash_hex)
        return BN_EDENIED;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    bn__store_bind_text(s, 1, hash_hex);
    sqlite3_bind_int64(s, 2, now_ns);
    int r = sqlite3_step(s);
    int64_t t = 0;
    if (r == SQLITE_ROW) {
        t = sqlite3_column_int64(s, 0);
        r = sqlite3_step(s);
    }
    if (r != SQLITE_DONE) {
        rc = bn__store_err(st, r, "consume enrolment token");
    } else if (t == 0) {
        bn__store_seterr(st, "enrolment token unknown, expired, revoked or used up");
        rc = BN_EDENIED;
    } else {
        *tenant_id = t;
    }
    bn__store_done(s);
    return rc;
}

int
store_token_revoke(struct store *st, int64_t tenant_id, int64_t id)
{
    static const char SQL[] = "UPDATE enroll_tokens SET revoked = 1 WHERE id = ? AND tenant_id = ?";
    const int64_t args[] = {id, tenant_id};
    return bn__store_update_ids(st, SQL, "revoke enrolment token", args, 2);
}

static const struct store_col token_cols[] = {
    STORE_NUM(struct store_token, id),         STORE_NUM(struct store_token, tenant_id),
    STORE_NUM(struct store_token, uses_left),  STORE_NUM(struct store_token, expires_ns),
    STORE_NUM(struct store_token, revoked),    STORE_CHARS(struct store_token, created_by),
    STORE_NUM(struct store_token, created_ns),
};

static int
token_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_token t;
    bn__store_cols_read(s, 0, token_cols, BN_ARRAY_SIZE(token_cols), &t, sizeof(t));
    return ((store_token_cb)cb)(ctx, &t);
}

int
store_token_list(struct store *st, const struct store_scope *sc, store_token_cb cb, void *ctx)
{
    return bn__store_list_scoped(st,
                                 "SELECT id, tenant_id, uses_left, expires_ns, revoked, created_by,"
                                 " created_ns FROM enroll_tokens WHERE ",
                                 "tenant_id", sc, " ORDER BY id", token_cb_row, (void *)cb, ctx);
}

/* ---- agents ---------------------------------------------------------------------------- */

#define AGENT_COLS                                                                                 \
    "id, tenant_id, uid, hostname, cert_fp, sign_pk, revoked, tier, "                              \
    "last_seen_ns, last_seq, heartbeat_interval_ms, health_json, "                                 \
    "asset_criticality, enrolled_ns"

/* In the order of AGENT_COLS; the INSERT binds all but id. */
static const struct store_col agent_cols[] = {
    STORE_NUM(struct store_agent, id),
    STORE_NUM(struct store_agent, tenant_id),
    STORE_CHARS(struct store_agent, uid),
    STORE_CHARS(struct store_agent, hostname),
    STORE_CHARS(struct store_agent, cert_fp),
    STORE_CHARS(struct store_agent, sign_pk),
    STORE_NUM(struct store_agent, revoked),
    STORE_NUM(struct store_agent, tier),
    STORE_NUM(struct store_agent, last_seen_ns),
    STORE_NUM(struct store_agent, last_seq),
    STORE_NUM(struct store_agent, heartbeat_interval_ms),
    STORE_CHARS(struct store_agent, health_json),
    STORE_NUM(struct store_agent, asset_criticality),
    STORE_NUM(struct store_agent, enrolled_ns),
};

int
store_agent_create(struct store *st, const struct store_agent *a, int64_t *id)
{
    static const char SQL[] =
        "INSERT INTO agents(tenant_id, uid, hostname, cert_fp, sign_pk, revoked, tier,"
        " last_seen_ns, last_seq, heartbeat_interval_ms, health_json, asset_criticality,"
        " enrolled_ns) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    if (!a->uid[0] || !a->cert_fp[0] || a->tenant_id <= 0)
        return BN_EINVAL;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    struct store_agent v = *a;
    if (v.heartbeat_interval_ms <= 0)
        v.heartbeat_interval_ms = 30000;
    if (!v.health_json[0])
        memcpy(v.health_json, "{}", 3);
    if (!v.enrolled_ns)
        v.enrolled_ns = bn__store_now_ns();
    bn__store_cols_bind(s, 1, agent_cols + 1, BN_ARRAY_SIZE(agent_cols) - 1, &v);
    return bn__store_step_insert(st, s, "create agent", id);
}

static int
agent_one(struct store *st, const char *sql, int64_t id, const char *key, struct store_agent *out)
{
    return bn__store_get_row(st, sql, id, key, agent_cols, BN_ARRAY_SIZE(agent_cols), out,
                             sizeof(*out), "get agent");
}

int
store_agent_get(struct store *st, int64_t id, struct store_agent *out)
{
    static const char SQL[] = "SELECT " AGENT_COLS " FROM agents WHERE id = ?";
    return agent_one(st, SQL, id, NULL, out);
}

int
store_agent_by_uid(struct store *st, const char *uid, struct store_agent *out)
{
    static const char SQL[] = "SELECT " AGENT_COLS " FROM agents WHERE uid = ?";
    return uid ? agent_one(st, SQL, 0, uid, out) : BN_EINVAL;
}

int
store_agent_by_cert(struct store *st, const char *cert_fp, struct store_agent *out)
{
    static const char SQL[] = "SELECT " AGENT_COLS " FROM agents WHERE cert_fp = ?";
    return cert_fp ? agent_one(st, SQL, 0, cert_fp, out) : BN_EINVAL;
}

int
store_agent_get_scoped(struct store *st, const struct store_scope *sc, int64_t id,
                       struct store_agent *out)
{
    int rc = store_agent_get(st, id, out);
    if (rc == 0 && !bn__store_in_scope(sc, out->tenant_id)) {
        memset(out, 0, sizeof(*out));
        rc = BN_ENOTFOUND;
    }
    return rc;
}

int
store_agent_revoke(struct store *st, int64_t tenant_id, int64_t id)
{
    static const char SQL[] = "UPDATE agents SET revoked = 1 WHERE id = ? AND tenant_id = ?";
    const int64_t args[] = {id, tenant_id};
    return bn__store_update_ids(st, SQL, "revoke agent", args, 2);
}

int
store_agent_seen(struct store *st, int64_t id, int64_t now_ns, int tier, const char *health_json)
{
    static const char SQL[] =
        "UPDATE agents SET last_seen_ns = ?, tier = ?, health_json = COALESCE(?, health_json)"
        " WHERE id = ?";
    if (health_json && strlen(health_json) >= sizeof(((struct store_agent *)0)->health_json)) {
        bn__store_seterr(st, "health JSON of agent %lld longer than %zu bytes", (long long)id,
                         sizeof(((struct store_agent *)0)->health_json) - 1);
        return BN_ETOOBIG;
    }
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, now_ns);
    sqlite3_bind_int(s, 2, tier);
    bn__store_bind_text(s, 3, health_json);
    sqlite3_bind_int64(s, 4, id);
    return bn__store_step_changed(st, s, "agent seen");
}

int
store_agent_silent(struct store *st, int64_t now_ns, int64_t *ids, size_t max, size_t *n)
{
    static const char SQL[] =
        "SELECT id FROM agents WHERE revoked = 0 AND last_seen_ns > 0"
        " AND last_seen_ns + 3 * heartbeat_interval_ms * 1000000 < ? ORDER BY id LIMIT ?";
    *n = 0;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, now_ns);
    sqlite3_bind_int64(s, 2, (int64_t)BN_MIN(max, (size_t)INT64_MAX));
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < max)
        ids[(*n)++] = sqlite3_column_int64(s, 0);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "silent agents");
    bn__store_done(s);
    return rc;
}

static int
agent_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_agent a;
    bn__store_cols_read(s, 0, agent_cols, BN_ARRAY_SIZE(agent_cols), &a, sizeof(a));
    return ((store_agent_cb)cb)(ctx, &a);
}

int
store_agent_list(struct store *st, const struct store_scope *sc, store_agent_cb cb, void *ctx)
{
    return bn__store_list_scoped(st, "SELECT " AGENT_COLS " FROM agents WHERE ", "tenant_id", sc,
                                 " ORDER BY id", agent_cb_row, (void *)cb, ctx);
}

int
store_agent_set_criticality(struct store *st, const struct store_scope *sc, int64_t id,
                            int criticality)
{
    static const char SQL[] = "UPDATE agents SET asset_criticality = ? WHERE id = ?";
    if (criticality < 0 || criticality > 3)
        return BN_EINVAL;
    struct store_agent a;
    int rc = store_agent_get_scoped(st, sc, id, &a);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int(s, 1, criticality);
    sqlite3_bind_int64(s, 2, id);
    return bn__store_step_done(st, s, "set agent criticality");
}
