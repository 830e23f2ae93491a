/*
 * store_sqlite_actions.c - response actions (issue 5): the actions table and its state
 * machine, per tenant and type policy, and the tenant's response settings (store.h
 * "response actions").
 *
 *   pending_approval --approve--> queued --sent--> sent --result--> done | failed
 *          |                         |
 *          +--reject--> rejected     +--(expires_ns passed)--> expired   (also from pending)
 *   pending_objection --(run_at_ns passed, or approve)--> queued
 *          +--reject (an objection)--> rejected
 *
 * Every transition is a conditional UPDATE on the current state, so two approvers, a late
 * result or a second RESULT frame cannot move an action twice.
 */
#include <stdio.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_util.h"

static const char *const state_names[] = {"pending_approval", "queued",   "sent",
                                          "done",             "failed",   "rejected",
                                          "expired",          "pending_objection"};

const char *
store_action_state_name(int state)
{
    if (state >= 0 && state < (int)BN_ARRAY_SIZE(state_names))
        return state_names[state];
    return "unknown";
}

int
store_action_state_parse(const char *name)
{
    for (size_t i = 0; name && i < BN_ARRAY_SIZE(state_names); i++)
        if (strcmp(name, state_names[i]) == 0)
            return (int)i;
    return -1;
}

static const char *const policy_names[] = {"auto", "approval", "forbidden"};

const char *
store_action_policy_name(int policy)
{
    if (policy >= 0 && policy < (int)BN_ARRAY_SIZE(policy_names))
        return policy_names[policy];
    return "unknown";
}

int
store_action_policy_parse(const char *name)
{
    for (size_t i = 0; name && i < BN_ARRAY_SIZE(policy_names); i++)
        if (strcmp(name, policy_names[i]) == 0)
            return (int)i;
    return -1;
}

#define ACT_COLS                                                                                   \
    "id, tenant_id, agent_id, incident_id, type, params_json, state, requested_by, approved_by, "  \
    "reason, decision_reason, created_ns, decided_ns, sent_ns, done_ns, expires_ns, result_json, " \
    "run_at_ns"

/* In the order of ACT_COLS. */
static const struct store_col act_cols[] = {
    STORE_NUM(struct store_action, id),
    STORE_NUM(struct store_action, tenant_id),
    STORE_NUM(struct store_action, agent_id),
    STORE_NUM(struct store_action, incident_id),
    STORE_CHARS(struct store_action, type),
    STORE_TEXT(struct store_action, params_json),
    STORE_NUM(struct store_action, state),
    STORE_CHARS(struct store_action, requested_by),
    STORE_CHARS(struct store_action, approved_by),
    STORE_TEXT(struct store_action, reason),
    STORE_TEXT(struct store_action, decision_reason),
    STORE_NUM(struct store_action, created_ns),
    STORE_NUM(struct store_action, decided_ns),
    STORE_NUM(struct store_action, sent_ns),
    STORE_NUM(struct store_action, done_ns),
    STORE_NUM(struct store_action, expires_ns),
    STORE_TEXT(struct store_action, result_json),
    STORE_NUM(struct store_action, run_at_ns),
};

static int
act_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_action a;
    bn__store_cols_read(s, 0, act_cols, BN_ARRAY_SIZE(act_cols), &a, sizeof(a));
    return ((store_action_cb)cb)(ctx, &a);
}

int
store_action_create(struct store *st, const struct store_action *a, int64_t *id)
{
    const char *params = a->params_json ? a->params_json : "{}";
    const char *reason = a->reason ? a->reason : "";
    if (strlen(params) > BN_RESPOND_PARAMS_MAX || strlen(reason) > BN_ACTIONS_REASON_MAX) {
        bn__store_seterr(st, "action parameters or reason over the limit");
        return BN_ETOOBIG;
    }
    if (a->state != STORE_ACT_PENDING_APPROVAL && a->state != STORE_ACT_QUEUED &&
        a->state != STORE_ACT_PENDING_OBJECTION) {
        bn__store_seterr(st,
                         "a new action is pending_approval, pending_objection or queued, not %s",
                         store_action_state_name(a->state));
        return BN_EINVAL;
    }
    int rc;
    sqlite3_stmt *s = bn__store_prep(st,
                                     "INSERT INTO actions(tenant_id, agent_id, incident_id, type, "
                                     "params_json, state, requested_by, reason, created_ns, "
                                     "decided_ns, approved_by, expires_ns, run_at_ns) "
                                     "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                     &rc);
    if (!s)
        return rc;
    int64_t now = a->created_ns ? a->created_ns : bn__store_now_ns();
    sqlite3_bind_int64(s, 1, a->tenant_id);
    sqlite3_bind_int64(s, 2, a->agent_id);
    sqlite3_bind_int64(s, 3, a->incident_id);
    bn__store_bind_text(s, 4, a->type);
    bn__store_bind_text(s, 5, params);
    sqlite3_bind_int(s, 6, a->state);
    bn__store_bind_text(s, 7, a->requested_by);
    bn__store_bind_text(s, 8, reason);
    sqlite3_bind_int64(s, 9, now);
    /* queued at once (policy auto): decided by the policy at creation */
    sqlite3_bind_int64(s, 10, a->state == STORE_ACT_QUEUED ? now : 0);
    bn__store_bind_text(s, 11, a->approved_by);
    sqlite3_bind_int64(s, 12, a->expires_ns);
    sqlite3_bind_int64(s, 13, a->state == STORE_ACT_PENDING_OBJECTION ? a->run_at_ns : 0);
    return bn__store_step_insert(st, s, "insert action", id);
}

int
store_action_get(struct store *st, const struct store_scope *sc, int64_t id, store_action_cb cb,
                 void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " ACT_COLS " FROM actions WHERE ", "tenant_id", sc,
                                 "");
    if (rc == 0)
        rc = bn_buf_printf(&b, " AND id = %lld", (long long)id);
    if (rc != 0) {
        bn_buf_release(&b);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    rc = bn__store_prepare_dyn(st, b.p, &s);
    bn_buf_release(&b);
    if (rc != 0)
        return rc;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        rc = act_row(s, (void *)cb, ctx);
    else
        rc = r == SQLITE_DONE ? BN_ENOTFOUND : bn__store_err(st, r, "get action");
    sqlite3_finalize(s);
    return rc > 0 ? 0 : rc;
}

int
store_action_list(struct store *st, const struct store_scope *sc, int64_t agent_id,
                  int64_t incident_id, int state, size_t limit, store_action_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " ACT_COLS " FROM actions WHERE ", "tenant_id", sc,
                                 "");
    if (rc == 0 && agent_id)
        rc = bn_buf_printf(&b, " AND agent_id = %lld", (long long)agent_id);
    if (rc == 0 && incident_id)
        rc = bn_buf_printf(&b, " AND incident_id = %lld", (long long)incident_id);
    if (rc == 0 && state >= 0)
        rc = bn_buf_printf(&b, " AND state = %d", state);
    if (rc == 0)
        rc = bn_buf_printf(&b, " ORDER BY id DESC LIMIT %zu", bn__store_limit(limit));
    return bn__store_list_end(st, rc, &b, act_row, (void *)cb, ctx);
}

static int
current_state(struct store *st, int64_t id, int *state)
{
    int rc;
    sqlite3_stmt *s = bn__store_prep(st, "SELECT state FROM actions WHERE id = ?", &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    rc = bn__store_step_row(st, s, "action");
    if (rc == 0)
        *state = sqlite3_column_int(s, 0);
    bn__store_done(s);
    return rc;
}

int
store_action_decide(struct store *st, const struct store_scope *sc, int64_t id, int approve,
                    const char *by, const char *reason)
{
    if (reason && strlen(reason) > BN_ACTIONS_REASON_MAX) {
        bn__store_seterr(st, "reason longer than %d bytes", BN_ACTIONS_REASON_MAX);
        return BN_ETOOBIG;
    }
    /* scope check first: out of scope is exactly "not found" */
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT id FROM actions WHERE ", "tenant_id", sc, "");
    if (rc == 0)
        rc = bn_buf_printf(&b, " AND id = %lld", (long long)id);
    if (rc != 0) {
        bn_buf_release(&b);
        return rc;
    }
    sqlite3_stmt *q = NULL;
    rc = bn__store_prepare_dyn(st, b.p, &q);
    bn_buf_release(&b);
    if (rc != 0)
        return rc;
    int r = sqlite3_step(q);
    sqlite3_finalize(q);
    if (r != SQLITE_ROW)
        return r == SQLITE_DONE ? BN_ENOTFOUND : bn__store_err(st, r, "action");

    sqlite3_stmt *s = bn__store_prep(st,
                                     "UPDATE actions SET state = ?, approved_by = ?, "
                                     "decision_reason = ?, decided_ns = ? "
                                     "WHERE id = ? AND state IN (0, 7)",
                                     &rc);
    if (!s)
        return rc;
    sqlite3_bind_int(s, 1, approve ? STORE_ACT_QUEUED : STORE_ACT_REJECTED);
    bn__store_bind_text(s, 2, by ? by : "");
    bn__store_bind_text(s, 3, reason ? reason : "");
    sqlite3_bind_int64(s, 4, bn__store_now_ns());
    sqlite3_bind_int64(s, 5, id);
    rc = bn__store_step_done(st, s, "decide action");
    if (rc != 0)
        return rc;
    if (sqlite3_changes(st->db) == 0) {
        int cur = -1;
        current_state(st, id, &cur);
        bn__store_seterr(st, "action %lld is %s, not pending_approval or pending_objection",
                         (long long)id,
                         store_action_state_name(cur));
        return BN_EINVAL;
    }
    return 0;
}

int
store_action_mark_sent(struct store *st, int64_t id)
{
    int rc;
    sqlite3_stmt *s = bn__store_prep(
        st, "UPDATE actions SET state = 2, sent_ns = ? WHERE id = ? AND state = 1", &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, bn__store_now_ns());
    sqlite3_bind_int64(s, 2, id);
    return bn__store_step_changed(st, s, "action sent");
}

int
store_action_set_result(struct store *st, int64_t agent_id, int64_t id, int ok, int expired,
                        const char *result_json)
{
    const char *res = result_json ? result_json : "{}";
    if (strlen(res) > BN_RESPOND_RESULT_MAX) {
        bn__store_seterr(st, "action result over %u bytes", BN_RESPOND_RESULT_MAX);
        return BN_ETOOBIG;
    }
    int rc;
    sqlite3_stmt *s = bn__store_prep(st,
                                     "UPDATE actions SET state = ?, done_ns = ?, result_json = ? "
                                     "WHERE id = ? AND agent_id = ? AND state IN (1, 2)",
                                     &rc);
    if (!s)
        return rc;
    sqlite3_bind_int(s, 1, expired ? STORE_ACT_EXPIRED : ok ? STORE_ACT_DONE : STORE_ACT_FAILED);
    sqlite3_bind_int64(s, 2, bn__store_now_ns());
    bn__store_bind_text(s, 3, res);
    sqlite3_bind_int64(s, 4, id);
    sqlite3_bind_int64(s, 5, agent_id);
    rc = bn__store_step_done(st, s, "action result");
    if (rc != 0 || sqlite3_changes(st->db) > 0)
        return rc;
    /* not this agent's, or already final */
    sqlite3_stmt *q = bn__store_prep(st, "SELECT agent_id FROM actions WHERE id = ?", &rc);
    if (!q)
        return rc;
    sqlite3_bind_int64(q, 1, id);
    int r = sqlite3_step(q);
    rc = (r == SQLITE_ROW && sqlite3_column_int64(q, 0) == agent_id) ? BN_EEXIST : BN_ENOTFOUND;
    bn__store_done(q);
    return rc;
}

int
store_action_queued_all(struct store *st, size_t limit, store_action_cb cb, void *ctx)
{
    struct bn_buf b;
    bn_buf_init(&b, 4096);
    int rc = bn_buf_printf(&b, "SELECT " ACT_COLS " FROM actions WHERE state = 1 ORDER BY id LIMIT %zu",
                           bn__store_limit(limit));
    return bn__store_list_end(st, rc, &b, act_row, (void *)cb, ctx);
}

int
store_action_queued(struct store *st, int64_t agent_id, size_t limit, store_action_cb cb,
                    void *ctx)
{
    struct bn_buf b;
    bn_buf_init(&b, 4096);
    int rc = bn_buf_printf(&b,
                           "SELECT " ACT_COLS " FROM actions WHERE agent_id = %lld AND state = 1 "
                           "ORDER BY id LIMIT %zu",
                           (long long)agent_id, bn__store_limit(limit));
    return bn__store_list_end(st, rc, &b, act_row, (void *)cb, ctx);
}

/*
 * In one transaction: lists to cb (when given) the actions WHERE `cond` <= now_ns, then runs
 * `update` (its two ? bound to now_ns) on the same rows; *n = rows changed.
 */
static int
act_sweep(struct store *st, int64_t now_ns, const char *cond, const char *update,
          const char *what, store_action_cb cb, void *ctx, int64_t *n)
{
    if (n)
        *n = 0;
    int owned = 0;
    int rc = bn__store_tx_begin(st, &owned);
    if (rc != 0)
        return rc;
    if (cb) {
        struct bn_buf b;
        bn_buf_init(&b, 4096);
        rc = bn_buf_printf(&b, "SELECT " ACT_COLS " FROM actions WHERE %s <= %lld ORDER BY id",
                           cond, (long long)now_ns);
        rc = bn__store_list_end(st, rc, &b, act_row, (void *)cb, ctx);
    }
    if (rc == 0) {
        sqlite3_stmt *s = bn__store_prep(st, update, &rc);
        if (s) {
            sqlite3_bind_int64(s, 1, now_ns);
            sqlite3_bind_int64(s, 2, now_ns);
            rc = bn__store_step_done(st, s, what);
            if (rc == 0 && n)
                *n = sqlite3_changes(st->db);
        }
    }
    return bn__store_tx_end(st, owned, rc);
}

int
store_action_expire(struct store *st, int64_t now_ns, store_action_cb cb, void *ctx, int64_t *n)
{
    return act_sweep(st, now_ns, "state IN (0, 1) AND expires_ns > 0 AND expires_ns",
                     "UPDATE actions SET state = 6, done_ns = ? "
                     "WHERE state IN (0, 1) AND expires_ns > 0 AND expires_ns <= ?",
                     "expire actions", cb, ctx, n);
}

/* ---- policy and settings -------------------------------------------------------------- */

int
store_action_release_objections(struct store *st, int64_t now_ns, store_action_cb cb, void *ctx,
                                int64_t *n)
{
    return act_sweep(st, now_ns, "state = 7 AND run_at_ns",
                     "UPDATE actions SET state = 1, decided_ns = ?, "
                     "approved_by = 'objection window' WHERE state = 7 AND run_at_ns <= ?",
                     "release objection windows", cb, ctx, n);
}

int
store_action_policy_get(struct store *st, int64_t tenant_id, const char *type, int *policy,
                        int *explicit_row)
{
    int rc;
    if (explicit_row)
        *explicit_row = 0;
    sqlite3_stmt *s = bn__store_prep(
        st, "SELECT policy FROM action_policy WHERE tenant_id = ? AND type = ?", &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    bn__store_bind_text(s, 2, type);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *policy = sqlite3_column_int(s, 0);
        if (explicit_row)
            *explicit_row = 1;
        bn__store_done(s);
        return 0;
    }
    bn__store_done(s);
    if (r != SQLITE_DONE)
        return bn__store_err(st, r, "action policy");
    struct store_tenant t;
    rc = store_tenant_get(st, tenant_id, &t);
    if (rc != 0)
        return rc;
    *policy = t.mode == STORE_MODE_FULL ? STORE_POLICY_AUTO : STORE_POLICY_APPROVAL;
    return 0;
}

int
store_action_policy_set(struct store *st, int64_t tenant_id, const char *type, int policy)
{
    if (policy < STORE_POLICY_AUTO || policy > STORE_POLICY_FORBIDDEN)
        return BN_EINVAL;
    int rc;
    sqlite3_stmt *s = bn__store_prep(st,
                                     "INSERT INTO action_policy(tenant_id, type, policy) "
                                     "VALUES(?,?,?) ON CONFLICT(tenant_id, type) "
                                     "DO UPDATE SET policy = excluded.policy",
                                     &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    bn__store_bind_text(s, 2, type);
    sqlite3_bind_int(s, 3, policy);
    return bn__store_step_done(st, s, "set action policy");
}

int
store_action_policy_list(struct store *st, int64_t tenant_id, store_policy_cb cb, void *ctx)
{
    int rc;
    sqlite3_stmt *s = bn__store_prep(
        st, "SELECT type, policy FROM action_policy WHERE tenant_id = ? ORDER BY type", &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    int r;
    rc = 0;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rc = cb(ctx, bn__store_col_text(s, 0), sqlite3_column_int(s, 1));
        if (rc != 0)
            break;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "action policies");
    bn__store_done(s);
    return rc > 0 ? 0 : rc;
}

int
store_response_conf_get(struct store *st, int64_t tenant_id, struct store_response_conf *c)
{
    c->approval_timeout_s = 3600;
    c->full_min_severity = 4;
    c->queue_expiry_s = 86400;
    c->objection_window_s = 0;
    int rc;
    sqlite3_stmt *s = bn__store_prep(st,
                                     "SELECT approval_timeout_s, full_min_severity, queue_expiry_s, "
                                     "objection_window_s FROM tenant_response WHERE tenant_id = ?",
                                     &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        c->approval_timeout_s = sqlite3_column_int64(s, 0);
        c->full_min_severity = sqlite3_column_int(s, 1);
        c->queue_expiry_s = sqlite3_column_int64(s, 2);
        c->objection_window_s = sqlite3_column_int64(s, 3);
    }
    rc = (r == SQLITE_ROW || r == SQLITE_DONE) ? 0 : bn__store_err(st, r, "response settings");
    bn__store_done(s);
    return rc;
}

int
store_response_conf_set(struct store *st, int64_t tenant_id, const struct store_response_conf *c)
{
    if (c->approval_timeout_s < 1 || c->approval_timeout_s > 30 * 86400 ||
        c->full_min_severity < 0 || c->full_min_severity > 4 || c->queue_expiry_s < 1 ||
        c->queue_expiry_s > 30 * 86400 || c->objection_window_s < 0 ||
        c->objection_window_s > 86400) {
        bn__store_seterr(st, "response settings out of range (timeouts 1 s..30 days, "
                             "severity 0..4, objection window 0..86400 s)");
        return BN_EINVAL;
    }
    int rc;
    sqlite3_stmt *s = bn__store_prep(
        st,
        "INSERT INTO tenant_response(tenant_id, approval_timeout_s, full_min_severity, "
        "queue_expiry_s, objection_window_s) VALUES(?,?,?,?,?) ON CONFLICT(tenant_id) DO UPDATE "
        "SET approval_timeout_s = excluded.approval_timeout_s, "
        "full_min_severity = excluded.full_min_severity, queue_expiry_s = excluded.queue_expiry_s, "
        "objection_window_s = excluded.objection_window_s",
        &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    sqlite3_bind_int64(s, 2, c->approval_timeout_s);
    sqlite3_bind_int(s, 3, c->full_min_severity);
    sqlite3_bind_int64(s, 4, c->queue_expiry_s);
    sqlite3_bind_int64(s, 5, c->objection_window_s);
    return bn__store_step_done(st, s, "set response settings");
}

/* ---- attachments ------------------------------------------------------------------------ */

const char *
store_dir(const struct store *st)
{
    return st->dir;
}

#define ATT_COLS                                                                                   \
    "id, tenant_id, agent_id, incident_id, action_id, name, size, sha256, path, created_ns"

/* In the order of ATT_COLS; the INSERT binds all but id. */
static const struct store_col att_cols[] = {
    STORE_NUM(struct store_attachment, id),        STORE_NUM(struct store_attachment, tenant_id),
    STORE_NUM(struct store_attachment, agent_id),  STORE_NUM(struct store_attachment, incident_id),
    STORE_NUM(struct store_attachment, action_id), STORE_CHARS(struct store_attachment, name),
    STORE_NUM(struct store_attachment, size),      STORE_CHARS(struct store_attachment, sha256),
    STORE_CHARS(struct store_attachment, path),    STORE_NUM(struct store_attachment, created_ns),
};

static int
att_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_attachment a;
    bn__store_cols_read(s, 0, att_cols, BN_ARRAY_SIZE(att_cols), &a, sizeof(a));
    return ((store_attachment_cb)cb)(ctx, &a);
}

int
store_attachment_create(struct store *st, const struct store_attachment *a, int64_t *id)
{
    if (strlen(a->name) == 0 || strlen(a->name) > BN_ATTACH_NAME_MAX || strlen(a->sha256) != 64 ||
        a->size < 0 || (uint64_t)a->size > BN_ATTACH_SIZE_MAX || !a->path[0]) {
        bn__store_seterr(st, "attachment: bad name, size, sha256 or path");
        return BN_EINVAL;
    }
    int rc;
    sqlite3_stmt *s = bn__store_prep(st,
                                     "INSERT INTO attachments(tenant_id, agent_id, incident_id, "
                                     "action_id, name, size, sha256, path, created_ns) "
                                     "VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(action_id) DO NOTHING",
                                     &rc);
    if (!s)
        return rc;
    struct store_attachment v = *a;
    if (!v.created_ns)
        v.created_ns = bn__store_now_ns();
    bn__store_cols_bind(s, 1, att_cols + 1, BN_ARRAY_SIZE(att_cols) - 1, &v);
    rc = bn__store_step_changed(st, s, "insert attachment");
    if (rc == BN_ENOTFOUND) {
        bn__store_seterr(st, "action %lld already has an attachment", (long long)a->action_id);
        return BN_EEXIST;
    }
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

struct att_one {
    struct store_attachment *out;
    int found;
};

static int
att_keep(void *ctx, const struct store_attachment *a)
{
    struct att_one *o = ctx;
    *o->out = *a;
    o->found = 1;
    return 1;
}

int
store_attachment_get(struct store *st, const struct store_scope *sc, int64_t id,
                     struct store_attachment *out)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " ATT_COLS " FROM attachments WHERE ", "tenant_id",
                                 sc, "");
    if (rc == 0)
        rc = bn_buf_printf(&b, " AND id = %lld", (long long)id);
    struct att_one o = {out, 0};
    rc = bn__store_list_end(st, rc, &b, att_row, (void *)att_keep, &o);
    if (rc == 0 && !o.found)
        rc = BN_ENOTFOUND;
    return rc;
}

int
store_attachment_by_action(struct store *st, int64_t action_id, struct store_attachment *out)
{
    static const char SQL[] = "SELECT " ATT_COLS " FROM attachments WHERE action_id = ?";
    return bn__store_get_row(st, SQL, action_id, NULL, att_cols, BN_ARRAY_SIZE(att_cols), out,
                             sizeof(*out), "attachment");
}

int
store_attachment_list(struct store *st, const struct store_scope *sc, int64_t incident_id,
                      size_t limit, store_attachment_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " ATT_COLS " FROM attachments WHERE ", "tenant_id",
                                 sc, "");
    if (rc == 0 && incident_id)
        rc = bn_buf_printf(&b, " AND incident_id = %lld", (long long)incident_id);
    if (rc == 0)
        rc = bn_buf_printf(&b, " ORDER BY id DESC LIMIT %zu", bn__store_limit(limit));
    return bn__store_list_end(st, rc, &b, att_row, (void *)cb, ctx);
}
