/*
 * store_sqlite_admin.c - tenants, enrolment tokens and agents: what enrolment and the link
 * need, plus the API's scoped lists and updates of them.
 */
#include <stdio.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_int.h"

/* ---- tenants -------------------------------------------------------------------------- */

#define TENANT_COLS                                                                                \
    "id, name, mode, notify_min_severity, retention_days, retention_bytes, "                       \
    "created_ns"

static void
tenant_row(sqlite3_stmt *s, struct store_tenant *t)
{
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(s, 0);
    bn__store_col_copy(s, 1, t->name, sizeof(t->name));
    t->mode = sqlite3_column_int(s, 2);
    t->notify_min_severity = sqlite3_column_int(s, 3);
    t->retention_days = sqlite3_column_int64(s, 4);
    t->retention_bytes = sqlite3_column_int64(s, 5);
    t->created_ns = sqlite3_column_int64(s, 6);
}

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
    bn__store_bind_text(s, 1, t->name);
    sqlite3_bind_int(s, 2, t->mode);
    sqlite3_bind_int(s, 3, t->notify_min_severity);
    sqlite3_bind_int64(s, 4, t->retention_days);
    sqlite3_bind_int64(s, 5, t->retention_bytes);
    sqlite3_bind_int64(s, 6, t->created_ns ? t->created_ns : bn__store_now_ns());
    rc = bn__store_step_done(st, s, "create tenant");
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int
tenant_one(struct store *st, const char *sql, int64_t id, const char *name,
           struct store_tenant *out)
{
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, sql, &rc);
    if (!s)
        return rc;
    if (name)
        bn__store_bind_text(s, 1, name);
    else
        sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        tenant_row(s, out);
    else if (r == SQLITE_DONE)
        rc = BN_ENOTFOUND;
    else
        rc = bn__store_err(st, r, "get tenant");
    bn__store_done(s);
    return rc;
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
    tenant_row(s, &t);
    return ((store_tenant_cb)cb)(ctx, &t);
}

int
store_tenant_list(struct store *st, const struct store_scope *sc, store_tenant_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " TENANT_COLS " FROM tenants WHERE ", "id", sc,
                                 " ORDER BY id");
    return rc ? rc : bn__store_run_list(st, &b, tenant_cb_row, (void *)cb, ctx);
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
    bn__store_bind_text(s, 1, t->name);
    sqlite3_bind_int(s, 2, t->mode);
    sqlite3_bind_int(s, 3, t->notify_min_severity);
    sqlite3_bind_int64(s, 4, t->retention_days);
    sqlite3_bind_int64(s, 5, t->retention_bytes);
    sqlite3_bind_int64(s, 6, t->id);
    rc = bn__store_step_done(st, s, "update tenant");
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = BN_ENOTFOUND;
    return rc;
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
    rc = bn__store_step_done(st, s, "create enrolment token");
    if (rc == BN_EINVAL)
        bn__store_seterr(st, "create enrolment token: tenant %lld does not exist",
                         (long long)tenant_id);
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
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

static int
token_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_token t;
    memset(&t, 0, sizeof(t));
    t.id = sqlite3_column_int64(s, 0);
    t.tenant_id = sqlite3_column_int64(s, 1);
    t.uses_left = sqlite3_column_int(s, 2);
    t.expires_ns = sqlite3_column_int64(s, 3);
    t.revoked = sqlite3_column_int(s, 4);
    bn__store_col_copy(s, 5, t.created_by, sizeof(t.created_by));
    t.created_ns = sqlite3_column_int64(s, 6);
    return ((store_token_cb)cb)(ctx, &t);
}

int
store_token_list(struct store *st, const struct store_scope *sc, store_token_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b,
                                 "SELECT id, tenant_id, uses_left, expires_ns, revoked, created_by,"
                                 " created_ns FROM enroll_tokens WHERE ",
                                 "tenant_id", sc, " ORDER BY id");
    return rc ? rc : bn__store_run_list(st, &b, token_cb_row, (void *)cb, ctx);
}

/* ---- agents ---------------------------------------------------------------------------- */

#define AGENT_COLS                                                                                 \
    "id, tenant_id, uid, hostname, cert_fp, sign_pk, revoked, tier, "                              \
    "last_seen_ns, last_seq, heartbeat_interval_ms, health_json, "                                 \
    "asset_criticality, enrolled_ns"

static void
agent_row(sqlite3_stmt *s, struct store_agent *a)
{
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(s, 0);
    a->tenant_id = sqlite3_column_int64(s, 1);
    bn__store_col_copy(s, 2, a->uid, sizeof(a->uid));
    bn__store_col_copy(s, 3, a->hostname, sizeof(a->hostname));
    bn__store_col_copy(s, 4, a->cert_fp, sizeof(a->cert_fp));
    bn__store_col_copy(s, 5, a->sign_pk, sizeof(a->sign_pk));
    a->revoked = sqlite3_column_int(s, 6);
    a->tier = sqlite3_column_int(s, 7);
    a->last_seen_ns = sqlite3_column_int64(s, 8);
    a->last_seq = sqlite3_column_int64(s, 9);
    a->heartbeat_interval_ms = sqlite3_column_int64(s, 10);
    bn__store_col_copy(s, 11, a->health_json, sizeof(a->health_json));
    a->asset_criticality = sqlite3_column_int(s, 12);
    a->enrolled_ns = sqlite3_column_int64(s, 13);
}

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
    sqlite3_bind_int64(s, 1, a->tenant_id);
    bn__store_bind_text(s, 2, a->uid);
    bn__store_bind_text(s, 3, a->hostname);
    bn__store_bind_text(s, 4, a->cert_fp);
    bn__store_bind_text(s, 5, a->sign_pk);
    sqlite3_bind_int(s, 6, a->revoked);
    sqlite3_bind_int(s, 7, a->tier);
    sqlite3_bind_int64(s, 8, a->last_seen_ns);
    sqlite3_bind_int64(s, 9, a->last_seq);
    sqlite3_bind_int64(s, 10, a->heartbeat_interval_ms > 0 ? a->heartbeat_interval_ms : 30000);
    bn__store_bind_text(s, 11, a->health_json[0] ? a->health_json : "{}");
    sqlite3_bind_int(s, 12, a->asset_criticality);
    sqlite3_bind_int64(s, 13, a->enrolled_ns ? a->enrolled_ns : bn__store_now_ns());
    rc = bn__store_step_done(st, s, "create agent");
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int
agent_one(struct store *st, const char *sql, int64_t id, const char *key, struct store_agent *out)
{
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, sql, &rc);
    if (!s)
        return rc;
    if (key)
        bn__store_bind_text(s, 1, key);
    else
        sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        agent_row(s, out);
    else if (r == SQLITE_DONE)
        rc = BN_ENOTFOUND;
    else
        rc = bn__store_err(st, r, "get agent");
    bn__store_done(s);
    return rc;
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
    rc = bn__store_step_done(st, s, "agent seen");
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = BN_ENOTFOUND;
    return rc;
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
    agent_row(s, &a);
    return ((store_agent_cb)cb)(ctx, &a);
}

int
store_agent_list(struct store *st, const struct store_scope *sc, store_agent_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " AGENT_COLS " FROM agents WHERE ", "tenant_id", sc,
                                 " ORDER BY id");
    return rc ? rc : bn__store_run_list(st, &b, agent_cb_row, (void *)cb, ctx);
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
