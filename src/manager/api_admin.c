/*
 * api_admin.c - administration handlers: health, login/logout, the caller, routes,
 * Prometheus metrics, tenants, users, API tokens, enrolment tokens, agents and the audit log.
 * Every handler reads and writes only inside the caller's tenant scope (store_scope), and
 * every state-changing one writes an audit entry.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "manager/api_int.h"
#include "manager/enroll.h"
#include "manager/store.h"
#include "bannin/error.h"
#include "bannin/limits.h"

#define NS_PER_S ((int64_t)1000000000)

static const char *const mode_names[] = {"semi", "full"};

/* ---- JSON views (never a password hash or a token hash) ------------------------------- */

static json_t *
tenant_json(const struct store_tenant *t)
{
    return json_pack("{s:I,s:s,s:s,s:i,s:I,s:I,s:o}", "id", (json_int_t)t->id, "name", t->name,
                     "mode", mode_names[t->mode == STORE_MODE_FULL], "notify_min_severity",
                     t->notify_min_severity, "retention_days", (json_int_t)t->retention_days,
                     "retention_bytes", (json_int_t)t->retention_bytes, "created_at",
                     api_jtime(t->created_ns));
}

static json_t *
user_json(const struct store_user *u)
{
    return json_pack("{s:I,s:I,s:s,s:s,s:b,s:o}", "id", (json_int_t)u->id, "tenant_id",
                     (json_int_t)u->tenant_id, "username", u->name, "role",
                     store_role_name(u->role), "disabled", u->disabled, "created_at",
                     api_jtime(u->created_ns));
}

static json_t *
agent_json(const struct store_agent *a)
{
    json_t *health = NULL;
    if (a->health_json[0])
        health = json_loads(a->health_json, 0, NULL);
    return json_pack("{s:I,s:I,s:s,s:s,s:s,s:b,s:i,s:o,s:I,s:I,s:o,s:i,s:o}", "id",
                     (json_int_t)a->id, "tenant_id", (json_int_t)a->tenant_id, "uid", a->uid,
                     "hostname", a->hostname, "cert_fingerprint", a->cert_fp, "revoked",
                     a->revoked, "tier", a->tier, "last_seen", api_jtime(a->last_seen_ns),
                     "last_seq", (json_int_t)a->last_seq, "heartbeat_interval_ms",
                     (json_int_t)a->heartbeat_interval_ms, "health",
                     health ? health : json_null(), "asset_criticality", a->asset_criticality,
                     "enrolled_at", api_jtime(a->enrolled_ns));
}

/* ---- health, login, logout, me, routes, metrics --------------------------------------- */

int
api_h_health(struct api_req *r)
{
    struct store_health h;
    memset(&h, 0, sizeof(h));
    int rc = store_health(r->st, &h);
    if (rc < 0)
        return api_fail_rc(r, rc, "store health");
    /* "degraded" while the store refuses writes for lack of space (acks are withheld). */
    return api_reply(r, 200,
                     json_pack("{s:s,s:s,s:i,s:b}", "status", h.full ? "degraded" : "ok",
                               "version", BN_VERSION, "schema_version",
                               store_schema_version(r->st), "disk_full", h.full));
}

int
api_h_login(struct api_req *r)
{
    static const char *const keys[] = {"username", "password", NULL};
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    const char *name, *pw;
    struct api_error e = {0};
    if (api_body_str(b, "username", 1, 127, &name, &e) < 0 ||
        api_body_str(b, "password", 1, AUTH_PASSWORD_MAX, &pw, &e) < 0) {
        json_decref(b);
        return api_fail(r, e.status, e.code, e.field, "%s", e.message);
    }
    snprintf(r->who.name, sizeof(r->who.name), "%s", name);
    int64_t now = api__now_ns();
    int64_t wait = api_login_wait(r->api, name, now);
    if (wait > 0) {
        json_decref(b);
        mgr_metric_add(r->api->m, MGR_M_API_AUTH_FAILED, 1);
        return api_fail(r, 429, "too_many_attempts", "username",
                        "%d failed logins for this user: try again in %lld s",
                        API_LOGIN_FAILS_MAX, (long long)wait);
    }
    struct store_user u;
    int rc = store_user_by_name(r->st, name, &u);
    if (rc < 0 && rc != BN_ENOTFOUND) {
        json_decref(b);
        return api_fail_rc(r, rc, "login");
    }
    /* Unknown users cost the same Argon2id work as known ones. */
    int ok = auth_password_verify(rc == 0 ? u.pwhash : "", pw) == 0 && rc == 0 && !u.disabled;
    json_decref(b);
    api_login_result(r->api, r->who.name, ok, now);
    if (!ok) {
        mgr_metric_add(r->api->m, MGR_M_API_AUTH_FAILED, 1);
        api_audit(r, rc == 0 ? u.tenant_id : 0, "auth.login_failed", r->who.name, NULL);
        return api_fail(r, 401, "unauthorized", NULL,
                        "unknown user, wrong password or disabled account");
    }
    char tok[AUTH_TOKEN_LEN + 1], hash[AUTH_HASH_HEX_LEN + 1];
    rc = auth_token_new('s', tok, sizeof(tok));
    if (rc < 0)
        return api_fail_rc(r, rc, "session");
    auth_sha256_hex(tok, strlen(tok), hash);
    int64_t id, expired;
    int64_t exp = now + r->api->session_ttl_ns;
    if (api_tx(r) < 0)
        return BN_EINVAL;
    /* Logins are rare: a good moment to drop expired sessions and tokens. */
    (void)store_auth_expire(r->st, now, &expired);
    rc = store_auth_create(r->st, STORE_AUTH_SESSION, u.id, hash, "", now, exp, &id);
    if (rc < 0)
        return api_fail_rc(r, rc, "session");
    r->who.user_id = u.id;
    r->who.tenant_id = u.tenant_id;
    r->who.role = u.role;
    api_audit(r, u.tenant_id, "auth.login", u.name, json_pack("{s:I}", "session_id", id));
    return api_reply(r, 200,
                     json_pack("{s:s,s:s,s:o,s:o}", "token", tok, "token_type", "Bearer",
                               "expires_at", api_jtime(exp), "user", user_json(&u)));
}

int
api_h_logout(struct api_req *r)
{
    /* The bearer token was checked by authenticate(): revoke exactly that one. */
    const char *h = r->bearer;
    if (!h)
        return api_fail(r, 400, "bad_request", NULL, "no bearer token to revoke");
    char hash[AUTH_HASH_HEX_LEN + 1];
    auth_sha256_hex(h, strlen(h), hash);
    int rc = api_tx(r) < 0 ? BN_EINVAL : store_auth_revoke_hash(r->st, hash);
    if (rc < 0)
        return api_fail_rc(r, rc, "logout");
    api_audit(r, r->who.tenant_id, "auth.logout", r->who.name, NULL);
    return api_reply(r, 200, json_pack("{s:b}", "revoked", 1));
}

int
api_h_me(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    struct store_user u;
    int rc = store_user_get(r->st, &sc, r->who.user_id, &u);
    if (rc < 0)
        return api_fail_rc(r, rc, "user");
    json_t *j = user_json(&u);
    if (j)
        json_object_set_new(j, "via_api_token", json_boolean(r->who.via_api_token));
    return api_reply(r, 200, j);
}

int
api_h_routes(struct api_req *r)
{
    size_t n;
    const struct api_route_info *ri = api_routes(&n);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "method", ri[i].method, "path",
                                             ri[i].path, "operation", ri[i].operation));
    return api_reply(r, 200, json_pack("{s:o}", "items", arr));
}

int
api_h_prom_metrics(struct api_req *r)
{
    int rc = mgr_metrics_format(r->api->m, &r->text);
    struct store_health h;
    if (rc == 0 && store_health(r->st, &h) == 0)
        rc = bn_buf_printf(&r->text,
                           "# HELP bannin_store_disk_full Store disk-full alarm (1 = raised).\n"
                           "# TYPE bannin_store_disk_full gauge\nbannin_store_disk_full %d\n"
                           "# HELP bannin_store_db_bytes Size of bannin.db.\n"
                           "# TYPE bannin_store_db_bytes gauge\nbannin_store_db_bytes %" PRId64
                           "\n# HELP bannin_store_wal_bytes Size of the write-ahead log.\n"
                           "# TYPE bannin_store_wal_bytes gauge\nbannin_store_wal_bytes %" PRId64
                           "\n",
                           h.full, h.db_bytes, h.wal_bytes);
    if (rc < 0)
        return api_fail_rc(r, rc, "metrics");
    r->text_type = "text/plain; version=0.0.4";
    return 0;
}

/* ---- tenants --------------------------------------------------------------------------- */

static int
tenant_cb(void *ctx, const struct store_tenant *t)
{
    return api_push(ctx, tenant_json(t));
}

int
api_h_tenant_list(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_tenant_list(r->st, &sc, tenant_cb, &c) : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "tenants");
}

/* Reads the tenant fields of a create or update body into t. */
static int
tenant_fields(struct api_req *r, json_t *b, struct store_tenant *t, int create)
{
    struct api_error e = {0};
    const char *name = NULL, *mode = NULL;
    int64_t sev = t->notify_min_severity, days = t->retention_days, bytes = t->retention_bytes;
    if (api_body_str(b, "name", create, sizeof(t->name) - 1, &name, &e) < 0 ||
        api_body_str(b, "mode", 0, 8, &mode, &e) < 0 ||
        api_body_int(b, "notify_min_severity", 0, 0, 4, &sev, &e) < 0 ||
        api_body_int(b, "retention_days", 0, 0, 36500, &days, &e) < 0 ||
        api_body_int(b, "retention_bytes", 0, 0, INT64_MAX, &bytes, &e) < 0)
        return api_fail(r, e.status, e.code, e.field, "%s", e.message);
    if (mode) {
        if (strcmp(mode, "semi") == 0)
            t->mode = STORE_MODE_SEMI;
        else if (strcmp(mode, "full") == 0)
            t->mode = STORE_MODE_FULL;
        else
            return api_fail(r, 400, "invalid_field", "mode",
                            "field 'mode' must be \"semi\" or \"full\"");
    }
    if (name)
        snprintf(t->name, sizeof(t->name), "%s", name);
    t->notify_min_severity = (int)sev;
    t->retention_days = days;
    t->retention_bytes = bytes;
    return 0;
}

static const char *const tenant_keys[] = {"name", "mode", "notify_min_severity",
                                          "retention_days", "retention_bytes", NULL};

int
api_h_tenant_create(struct api_req *r)
{
    json_t *b = api_body(r, tenant_keys);
    if (!b)
        return BN_EINVAL;
    struct store_tenant t = {0};
    t.notify_min_severity = 3;
    t.retention_days = 90;
    t.created_ns = api__now_ns();
    int rc = tenant_fields(r, b, &t, 1);
    json_decref(b);
    if (rc < 0)
        return rc;
    if (api_tx(r) < 0)
        return BN_EINVAL;
    rc = store_tenant_create(r->st, &t, &t.id);
    if (rc < 0)
        return api_fail_rc(r, rc, "tenant");
    api_audit(r, t.id, "tenant.create", t.name, tenant_json(&t));
    return api_reply(r, 201, tenant_json(&t));
}

int
api_h_tenant_get(struct api_req *r)
{
    int64_t id;
    if (api_param_id(r, "tenant_id", &id) < 0 || api_check_tenant(r, id) < 0)
        return BN_EINVAL;
    struct store_tenant t;
    int rc = store_tenant_get(r->st, id, &t);
    if (rc < 0)
        return api_fail_rc(r, rc, "tenant");
    return api_reply(r, 200, tenant_json(&t));
}

int
api_h_tenant_update(struct api_req *r)
{
    int64_t id;
    if (api_param_id(r, "tenant_id", &id) < 0 || api_check_tenant(r, id) < 0)
        return BN_EINVAL;
    json_t *b = api_body(r, tenant_keys);
    if (!b)
        return BN_EINVAL;
    struct store_tenant t;
    int rc = store_tenant_get(r->st, id, &t);
    if (rc < 0) {
        json_decref(b);
        return api_fail_rc(r, rc, "tenant");
    }
    rc = tenant_fields(r, b, &t, 0);
    if (rc == 0) {
        int64_t idb;
        struct store_scope sc;
        api_scope_caller(r, &sc, &idb);
        rc = api_tx(r) < 0 ? BN_EINVAL : store_tenant_update(r->st, &sc, &t);
        if (rc < 0)
            api_fail_rc(r, rc, "tenant");
        else {
            api_changed(r->api, API_CHANGE_TENANTS);
            api_audit(r, t.id, "tenant.update", t.name, json_deep_copy(b));
        }
    }
    json_decref(b);
    return rc < 0 ? rc : api_reply(r, 200, tenant_json(&t));
}

/* ---- users ----------------------------------------------------------------------------- */

static int
user_cb(void *ctx, const struct store_user *u)
{
    return api_push(ctx, user_json(u));
}

int
api_h_user_list(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0)
        return BN_EINVAL;
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_user_list(r->st, &sc, user_cb, &c) : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "users");
}

static int
is_customer_role(int role)
{
    return role == STORE_ROLE_CUSTOMER_ADMIN || role == STORE_ROLE_CUSTOMER_VIEWER;
}

/* A customer_admin grants only customer roles: no escalation to provider roles. */
static int
check_grant(struct api_req *r, int role)
{
    if (r->who.role == STORE_ROLE_PROVIDER_ADMIN || is_customer_role(role))
        return 0;
    mgr_metric_add(r->api->m, MGR_M_API_DENIED, 1);
    return api_fail(r, 403, "forbidden", "role", "role %s may not grant role %s",
                    store_role_name(r->who.role), store_role_name(role));
}

static int
parse_role(struct api_req *r, const char *s, int *out)
{
    int role = store_role_parse(s);
    if (role < 0)
        return api_fail(r, 400, "invalid_field", "role",
                        "unknown role '%.40s' (provider_admin, analyst, customer_admin, "
                        "customer_viewer)",
                        s);
    *out = role;
    return 0;
}

int
api_h_user_create(struct api_req *r)
{
    static const char *const keys[] = {"username", "password", "role", "tenant_id", NULL};
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *name, *pw, *role_s;
    int64_t tid = 0;
    int rc;
    if (api_body_str(b, "username", 1, 127, &name, &e) < 0 ||
        api_body_str(b, "password", 1, AUTH_PASSWORD_MAX, &pw, &e) < 0 ||
        api_body_str(b, "role", 1, 32, &role_s, &e) < 0 ||
        api_body_int(b, "tenant_id", 0, 0, INT64_MAX, &tid, &e) < 0) {
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
        goto out;
    }
    struct store_user u = {0};
    if ((rc = parse_role(r, role_s, &u.role)) < 0 || (rc = check_grant(r, u.role)) < 0)
        goto out;
    if (is_customer_role(u.role)) {
        if (!auth_is_provider(&r->who) && tid == 0)
            tid = r->who.tenant_id;
        if (tid == 0) {
            rc = api_fail(r, 400, "missing_field", "tenant_id",
                          "a %s user needs a tenant_id", role_s);
            goto out;
        }
        if ((rc = api_tenant_arg(r, tid, &tid)) < 0)
            goto out;
        struct store_tenant t;
        if ((rc = store_tenant_get(r->st, tid, &t)) < 0) {
            rc = api_fail(r, 400, "invalid_field", "tenant_id",
                          "tenant %" PRId64 " does not exist", tid);
            goto out;
        }
    } else if (tid != 0) {
        rc = api_fail(r, 400, "invalid_field", "tenant_id",
                      "provider roles see every tenant: leave tenant_id out");
        goto out;
    }
    const char *why;
    if (auth_password_policy(pw, &why) < 0) {
        rc = api_fail(r, 400, "invalid_field", "password", "%s", why);
        goto out;
    }
    snprintf(u.name, sizeof(u.name), "%s", name);
    u.tenant_id = tid;
    u.created_ns = api__now_ns();
    if ((rc = auth_password_hash(pw, u.pwhash, sizeof(u.pwhash))) < 0 || (rc = api_tx(r)) < 0 ||
        (rc = store_user_create(r->st, &u, &u.id)) < 0) {
        rc = api_fail_rc(r, rc, "user");
        goto out;
    }
    api_audit(r, u.tenant_id, "user.create", u.name,
              json_pack("{s:I,s:s}", "id", (json_int_t)u.id, "role", role_s));
    rc = api_reply(r, 201, user_json(&u));
out:
    json_decref(b);
    return rc;
}

/* Loads a user in the caller's scope; a customer_admin may only manage customer users. */
static int
user_load(struct api_req *r, struct store_user *u)
{
    int64_t id, idb;
    if (api_param_id(r, "user_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    int rc = store_user_get(r->st, &sc, id, u);
    if (rc < 0)
        return api_fail_rc(r, rc, "user");
    return 0;
}

int
api_h_user_get(struct api_req *r)
{
    struct store_user u;
    if (user_load(r, &u) < 0)
        return BN_EINVAL;
    return api_reply(r, 200, user_json(&u));
}

struct sessions {
    int64_t user_id;
    int64_t keep;
    int64_t ids[256];
    size_t n;
};

static int
session_cb(void *ctx, const struct store_auth *a)
{
    struct sessions *s = ctx;
    if (a->user_id == s->user_id && a->kind == STORE_AUTH_SESSION && !a->revoked &&
        a->id != s->keep && s->n < BN_ARRAY_SIZE(s->ids))
        s->ids[s->n++] = a->id;
    return 0;
}

/* Revokes user_id's sessions but the caller's own; *n = how many. */
static int
end_sessions(struct api_req *r, const struct store_scope *sc, int64_t user_id, int64_t *n)
{
    struct sessions s = {user_id, r->who.auth_id, {0}, 0};
    int rc = store_auth_list(r->st, sc, user_id, session_cb, &s);
    for (size_t i = 0; rc == 0 && i < s.n; i++)
        rc = store_auth_revoke(r->st, sc, s.ids[i]);
    *n = (int64_t)s.n;
    return rc;
}

int
api_h_user_update(struct api_req *r)
{
    static const char *const keys[] = {"role", "password", "current_password", "disabled",
                                       NULL};
    struct store_user u;
    if (user_load(r, &u) < 0)
        return BN_EINVAL;
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *role_s, *pw;
    int disabled = u.disabled, rc;
    if (api_body_str(b, "role", 0, 32, &role_s, &e) < 0 ||
        api_body_str(b, "password", 0, AUTH_PASSWORD_MAX, &pw, &e) < 0 ||
        api_body_bool(b, "disabled", 0, &disabled, &e) < 0) {
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
        goto out;
    }
    if ((rc = check_grant(r, u.role)) < 0)
        goto out;
    if (role_s) {
        int role = -1;
        if ((rc = parse_role(r, role_s, &role)) < 0 || (rc = check_grant(r, role)) < 0)
            goto out;
        /* Nobody locks themselves out: another admin changes one's own role. */
        if (u.id == r->who.user_id && role != u.role) {
            rc = api_fail(r, 409, "conflict", "role", "you cannot change your own role");
            goto out;
        }
        if (is_customer_role(role) != is_customer_role(u.role)) {
            rc = api_fail(r, 400, "invalid_field", "role",
                          "a user cannot move between provider and customer roles");
            goto out;
        }
        u.role = role;
    }
    if (pw) {
        const char *why, *cur = NULL;
        /* A stolen session cannot take the account over: one's own password change needs
         * the current one. */
        if (u.id == r->who.user_id) {
            if (api_body_str(b, "current_password", 0, AUTH_PASSWORD_MAX, &cur, &e) < 0 ||
                !cur || auth_password_verify(u.pwhash, cur) != 0) {
                mgr_metric_add(r->api->m, MGR_M_API_AUTH_FAILED, 1);
                rc = api_fail(r, 403, "forbidden", "current_password",
                              "changing your own password needs the current one");
                goto out;
            }
        }
        if (auth_password_policy(pw, &why) < 0) {
            rc = api_fail(r, 400, "invalid_field", "password", "%s", why);
            goto out;
        }
        if ((rc = auth_password_hash(pw, u.pwhash, sizeof(u.pwhash))) < 0) {
            rc = api_fail_rc(r, rc, "password");
            goto out;
        }
    }
    if (u.id == r->who.user_id && disabled != u.disabled) {
        rc = api_fail(r, 409, "conflict", "disabled", "you cannot disable yourself");
        goto out;
    }
    u.disabled = disabled;
    int64_t idb;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    if ((rc = api_tx(r)) < 0 || (rc = store_user_update(r->st, &sc, &u)) < 0) {
        rc = api_fail_rc(r, rc, "user");
        goto out;
    }
    /* A new password ends the user's other sessions (API tokens stay: they are revoked one
     * by one). */
    int64_t ended = 0;
    if (pw && (rc = end_sessions(r, &sc, u.id, &ended)) < 0) {
        rc = api_fail_rc(r, rc, "sessions");
        goto out;
    }
    api_audit(r, u.tenant_id, "user.update", u.name,
              json_pack("{s:I,s:s?,s:b,s:b,s:I}", "id", (json_int_t)u.id, "role", role_s,
                        "password_changed", pw != NULL, "disabled", u.disabled,
                        "sessions_ended", (json_int_t)ended));
    rc = api_reply(r, 200, user_json(&u));
out:
    json_decref(b);
    return rc;
}

int
api_h_user_delete(struct api_req *r)
{
    struct store_user u;
    if (user_load(r, &u) < 0 || check_grant(r, u.role) < 0)
        return BN_EINVAL;
    if (u.id == r->who.user_id)
        return api_fail(r, 409, "conflict", NULL, "you cannot delete yourself");
    int64_t idb;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    int rc = api_tx(r) < 0 ? BN_EINVAL : store_user_delete(r->st, &sc, u.id);
    if (rc < 0)
        return api_fail_rc(r, rc, "user");
    api_audit(r, u.tenant_id, "user.delete", u.name, json_pack("{s:I}", "id", (json_int_t)u.id));
    return api_reply(r, 200, json_pack("{s:b}", "deleted", 1));
}

/* ---- API tokens (and sessions) of the caller ------------------------------------------- */

static json_t *
auth_json(const struct store_auth *a)
{
    return json_pack("{s:I,s:I,s:s,s:s,s:o,s:o,s:o,s:b}", "id", (json_int_t)a->id, "user_id",
                     (json_int_t)a->user_id, "kind",
                     a->kind == STORE_AUTH_API_TOKEN ? "api_token" : "session", "name", a->name,
                     "created_at", api_jtime(a->created_ns), "expires_at",
                     api_jtime(a->expires_ns), "last_used_at", api_jtime(a->last_used_ns),
                     "revoked", a->revoked);
}

static int
auth_cb(void *ctx, const struct store_auth *a)
{
    return api_push(ctx, auth_json(a));
}

int
api_h_token_list(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_auth_list(r->st, &sc, r->who.user_id, auth_cb, &c) : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "tokens");
}

int
api_h_token_create(struct api_req *r)
{
    static const char *const keys[] = {"name", "expires_in_s", NULL};
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *name;
    int64_t ttl = 0;
    if (api_body_str(b, "name", 1, 127, &name, &e) < 0 ||
        api_body_int(b, "expires_in_s", 0, 0, 10 * 366 * 86400LL, &ttl, &e) < 0) {
        json_decref(b);
        return api_fail(r, e.status, e.code, e.field, "%s", e.message);
    }
    char tok[AUTH_TOKEN_LEN + 1], hash[AUTH_HASH_HEX_LEN + 1];
    int rc = auth_token_new('a', tok, sizeof(tok));
    int64_t now = api__now_ns(), id = 0;
    int64_t exp = ttl ? now + ttl * NS_PER_S : 0;
    if (rc == 0) {
        auth_sha256_hex(tok, strlen(tok), hash);
        rc = api_tx(r) < 0 ? BN_EINVAL
                           : store_auth_create(r->st, STORE_AUTH_API_TOKEN, r->who.user_id,
                                               hash, name, now, exp, &id);
    }
    if (rc < 0) {
        json_decref(b);
        return api_fail_rc(r, rc, "token");
    }
    api_audit(r, r->who.tenant_id, "token.create", name, json_pack("{s:I}", "id", id));
    rc = api_reply(r, 201,
                   json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)id, "name", name, "token",
                             tok, "expires_at", api_jtime(exp)));
    json_decref(b);
    return rc;
}

struct find_auth {
    int64_t id;
    int found;
};

static int
find_auth_cb(void *ctx, const struct store_auth *a)
{
    struct find_auth *f = ctx;
    if (a->id == f->id) {
        f->found = 1;
        return 1;
    }
    return 0;
}

int
api_h_token_delete(struct api_req *r)
{
    int64_t id, idb;
    if (api_param_id(r, "token_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    /* Admins revoke any token in their scope; others only their own. */
    int admin = r->who.role == STORE_ROLE_PROVIDER_ADMIN ||
                r->who.role == STORE_ROLE_CUSTOMER_ADMIN;
    struct find_auth f = {id, 0};
    int rc = store_auth_list(r->st, &sc, admin ? 0 : r->who.user_id, find_auth_cb, &f);
    if (rc < 0)
        return api_fail_rc(r, rc, "token");
    if (!f.found)
        return api_fail(r, 404, "not_found", NULL, "token %" PRId64 " not found", id);
    rc = api_tx(r) < 0 ? BN_EINVAL : store_auth_revoke(r->st, &sc, id);
    if (rc < 0)
        return api_fail_rc(r, rc, "token");
    api_audit(r, r->who.tenant_id, "token.revoke", "token", json_pack("{s:I}", "id", id));
    return api_reply(r, 200, json_pack("{s:b}", "revoked", 1));
}

/* ---- enrolment tokens ------------------------------------------------------------------ */

static json_t *
enroll_json(const struct store_token *t)
{
    return json_pack("{s:I,s:I,s:i,s:o,s:b,s:s,s:o}", "id", (json_int_t)t->id, "tenant_id",
                     (json_int_t)t->tenant_id, "uses_left", t->uses_left, "expires_at",
                     api_jtime(t->expires_ns), "revoked", t->revoked, "created_by",
                     t->created_by, "created_at", api_jtime(t->created_ns));
}

static int
enroll_cb(void *ctx, const struct store_token *t)
{
    return api_push(ctx, enroll_json(t));
}

int
api_h_enroll_list(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0)
        return BN_EINVAL;
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_token_list(r->st, &sc, enroll_cb, &c) : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "enrollment tokens");
}

/* The server CA fingerprint; the PKI is created when bannind's link has not made it yet. */
static int
server_ca_fp(struct api_req *r, char fp[ENROLL_FP_HEX])
{
    if (enroll_server_fp_read(r->api->data_dir, fp) == 0)
        return 0;
    struct bn_diag d;
    bn_diag_clear(&d);
    struct enroll *e = NULL;
    int rc = enroll_open(&e, r->api->data_dir, &d);
    if (rc == 0) {
        snprintf(fp, ENROLL_FP_HEX, "%s", enroll_server_ca_fp(e));
        enroll_free(e);
        return 0;
    }
    return api_fail(r, 503, "unavailable", NULL, "the manager's PKI is not usable: %s",
                    d.msg[0] ? d.msg : bn_strerror(rc));
}

int
api_h_enroll_create(struct api_req *r)
{
    static const char *const keys[] = {"tenant_id", "uses", "expires_in_s", NULL};
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    int64_t tid = 0, uses = 1, ttl = 86400;
    int rc = 0;
    if (api_body_int(b, "tenant_id", 0, 1, INT64_MAX, &tid, &e) < 0 ||
        api_body_int(b, "uses", 0, 1, 100000, &uses, &e) < 0 ||
        api_body_int(b, "expires_in_s", 0, 60, 90 * 86400LL, &ttl, &e) < 0)
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
    json_decref(b);
    if (rc < 0 || api_tenant_arg(r, tid, &tid) < 0)
        return BN_EINVAL;
    if (tid == 0)
        return api_fail(r, 400, "missing_field", "tenant_id", "field 'tenant_id' is required");
    struct store_tenant t;
    if (store_tenant_get(r->st, tid, &t) < 0)
        return api_fail(r, 400, "invalid_field", "tenant_id",
                        "tenant %" PRId64 " does not exist", tid);
    /* The token pins the manager's server CA (M1's format "bnt1.<secret>.<CA SHA-256>"), so
     * the agent can check the server before it sends anything. */
    char fp[ENROLL_FP_HEX], tok[ENROLL_TOKEN_MAX], hash[ENROLL_FP_HEX];
    if ((rc = server_ca_fp(r, fp)) < 0)
        return rc;
    if ((rc = enroll_token_make(fp, tok, sizeof(tok), hash)) < 0)
        return api_fail_rc(r, rc, "enrollment token");
    int64_t exp = api__now_ns() + ttl * NS_PER_S, id;
    rc = api_tx(r) < 0 ? BN_EINVAL
                       : store_token_create(r->st, tid, hash, (int)uses, exp, r->who.name, &id);
    if (rc < 0)
        return api_fail_rc(r, rc, "enrollment token");
    api_audit(r, tid, "enrollment_token.create", t.name,
              json_pack("{s:I,s:I,s:I}", "id", id, "uses", uses, "expires_in_s", ttl));
    return api_reply(r, 201,
                     json_pack("{s:I,s:I,s:s,s:I,s:o}", "id", (json_int_t)id, "tenant_id",
                               (json_int_t)tid, "token", tok, "uses", (json_int_t)uses,
                               "expires_at", api_jtime(exp)));
}

struct find_token {
    int64_t id;
    struct store_token t;
    int found;
};

static int
find_token_cb(void *ctx, const struct store_token *t)
{
    struct find_token *f = ctx;
    if (t->id != f->id)
        return 0;
    f->t = *t;
    f->found = 1;
    return 1;
}

int
api_h_enroll_delete(struct api_req *r)
{
    int64_t id, idb;
    if (api_param_id(r, "token_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    struct find_token f = {.id = id};
    int rc = store_token_list(r->st, &sc, find_token_cb, &f);
    if (rc < 0)
        return api_fail_rc(r, rc, "enrollment token");
    if (!f.found)
        return api_fail(r, 404, "not_found", NULL, "enrollment token %" PRId64 " not found", id);
    rc = api_tx(r) < 0 ? BN_EINVAL : store_token_revoke(r->st, f.t.tenant_id, id);
    if (rc < 0)
        return api_fail_rc(r, rc, "enrollment token");
    api_audit(r, f.t.tenant_id, "enrollment_token.revoke", "token", json_pack("{s:I}", "id", id));
    return api_reply(r, 200, json_pack("{s:b}", "revoked", 1));
}

/* ---- agents ---------------------------------------------------------------------------- */

static int
agent_cb(void *ctx, const struct store_agent *a)
{
    return api_push(ctx, agent_json(a));
}

int
api_h_agent_list(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0)
        return BN_EINVAL;
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_agent_list(r->st, &sc, agent_cb, &c) : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "agents");
}

static int
agent_load(struct api_req *r, struct store_agent *a)
{
    int64_t id, idb;
    if (api_param_id(r, "agent_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    int rc = store_agent_get_scoped(r->st, &sc, id, a);
    return rc < 0 ? api_fail_rc(r, rc, "agent") : 0;
}

int
api_h_agent_get(struct api_req *r)
{
    struct store_agent a;
    if (agent_load(r, &a) < 0)
        return BN_EINVAL;
    return api_reply(r, 200, agent_json(&a));
}

int
api_h_agent_update(struct api_req *r)
{
    static const char *const keys[] = {"asset_criticality", NULL};
    struct store_agent a;
    if (agent_load(r, &a) < 0)
        return BN_EINVAL;
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    int64_t crit = a.asset_criticality;
    int rc = api_body_int(b, "asset_criticality", 1, 0, 3, &crit, &e);
    json_decref(b);
    if (rc < 0)
        return api_fail(r, e.status, e.code, e.field, "%s", e.message);
    int64_t idb;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    rc = api_tx(r) < 0 ? BN_EINVAL : store_agent_set_criticality(r->st, &sc, a.id, (int)crit);
    if (rc < 0)
        return api_fail_rc(r, rc, "agent");
    a.asset_criticality = (int)crit;
    api_changed(r->api, API_CHANGE_AGENTS);
    api_audit(r, a.tenant_id, "agent.update", a.hostname,
              json_pack("{s:I,s:I}", "id", (json_int_t)a.id, "asset_criticality", crit));
    return api_reply(r, 200, agent_json(&a));
}

int
api_h_agent_revoke(struct api_req *r)
{
    struct store_agent a;
    if (agent_load(r, &a) < 0)
        return BN_EINVAL;
    int rc = api_tx(r) < 0 ? BN_EINVAL : store_agent_revoke(r->st, a.tenant_id, a.id);
    if (rc < 0)
        return api_fail_rc(r, rc, "agent");
    a.revoked = 1;
    api_changed(r->api, API_CHANGE_AGENTS);
    api_audit(r, a.tenant_id, "agent.revoke", a.hostname,
              json_pack("{s:I,s:s}", "id", (json_int_t)a.id, "uid", a.uid));
    return api_reply(r, 200, agent_json(&a));
}

/* ---- audit log ------------------------------------------------------------------------- */

static int
audit_cb(void *ctx, const struct store_audit_entry *e)
{
    json_t *detail = e->detail_json ? json_loads(e->detail_json, 0, NULL) : NULL;
    return api_push(ctx,
                    json_pack("{s:I,s:o,s:I,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)e->id, "time",
                              api_jtime(e->ts_ns), "tenant_id", (json_int_t)e->tenant_id, "actor",
                              e->actor ? e->actor : "", "action", e->action ? e->action : "",
                              "object", e->object ? e->object : "", "detail",
                              detail ? detail : json_null(), "hash", e->hash));
}

int
api_h_audit_list(struct api_req *r)
{
    int64_t idb, before, limit;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0 ||
        api_query_int(r, "before_id", 1, INT64_MAX, 0, &before) < 0 ||
        api_query_int(r, "limit", 1, BN_API_PAGE_MAX, 100, &limit) < 0)
        return BN_EINVAL;
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_audit_list(r->st, &sc, before, (size_t)limit, audit_cb, &c)
                   : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "audit log");
}
