/*
 * api_actions.c - response actions through the API (docs/RESPONSE.md "Actions through the
 * manager"): request an action on a host, approve or reject it, list and get actions, and a
 * tenant's response policy (per action type auto / approval / forbidden, approval timeout,
 * fully-managed severity, offline queue expiry).
 *
 * The checks and the audit trail live in playbook.c, shared with the playbook. Refusals
 * (unknown host, another tenant's host, bad parameters, a role that may not ask or approve)
 * are audited as action.refused: they are written outside the request's transaction, so a
 * refused request's rollback does not take its audit entry with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/api_int.h"
#include "manager/playbook.h"
#include "manager/store.h"

static json_t *
parsed_or_string(const char *s)
{
    if (!s || !*s)
        return json_null();
    json_t *j = json_loads(s, 0, NULL);
    return j ? j : json_string(s);
}

static json_t *
action_json(const struct store_action *a)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                     "id", (json_int_t)a->id, "tenant_id", (json_int_t)a->tenant_id, "agent_id",
                     (json_int_t)a->agent_id, "incident_id", (json_int_t)a->incident_id, "type",
                     a->type, "params", parsed_or_string(a->params_json), "state",
                     store_action_state_name(a->state), "requested_by", a->requested_by,
                     "approved_by", a->approved_by, "reason", a->reason ? a->reason : "",
                     "decision_reason", a->decision_reason ? a->decision_reason : "",
                     "created_at", api_jtime(a->created_ns), "decided_at",
                     api_jtime(a->decided_ns), "sent_at", api_jtime(a->sent_ns), "done_at",
                     api_jtime(a->done_ns), "expires_at", api_jtime(a->expires_ns), "result",
                     parsed_or_string(a->result_json), "runs_at", api_jtime(a->run_at_ns));
}

static int
push_action(void *ctx, const struct store_action *a)
{
    json_t *j = action_json(a);
    if (!j)
        return BN_ENOMEM;
    return json_array_append_new(ctx, j) == 0 ? 0 : BN_ENOMEM;
}

static int
keep_action(void *ctx, const struct store_action *a)
{
    json_t **out = ctx;
    *out = action_json(a);
    return *out ? 1 : BN_ENOMEM;
}

/* Replies with action id as it is stored now (after a request or a decision). */
static int
action_reply(struct api_req *r, const struct store_scope *sc, int64_t id, int status)
{
    json_t *out = NULL;
    int rc = store_action_get(r->st, sc, id, keep_action, &out);
    if (rc < 0 || !out)
        return api_fail_rc(r, rc < 0 ? rc : BN_ENOMEM, "action");
    return api_reply(r, status, out);
}

static void
actor_of(const struct api_req *r, struct action_actor *who)
{
    who->name = r->who.name;
    who->role = r->who.role;
    who->tenant_id = r->who.tenant_id;
}

static int
fail_action(struct api_req *r, int rc, const struct action_err *e)
{
    int http = e->http ? e->http : 500;
    const char *code = http == 403   ? "forbidden"
                       : http == 404 ? "not_found"
                       : http == 409 ? "conflict"
                       : http == 413 ? "body_too_large"
                       : http >= 500 ? "internal"
                                     : "invalid_action";
    (void)rc;
    return api_fail(r, http, code, NULL, "%s", e->msg);
}

int
api_h_action_request(struct api_req *r)
{
    static const char *const keys[] = {"type", "params", "reason", "incident_id", "expires_s",
                                       NULL};
    int64_t agent_id;
    if (api_param_id(r, "agent_id", &agent_id) < 0)
        return BN_EINVAL;
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *type = NULL, *reason = NULL;
    int64_t incident = 0, exp_s = 0;
    int rc = api_body_str(b, "type", 1, BN_RESPOND_TYPE_MAX, &type, &e);
    if (rc == 0)
        rc = api_body_str(b, "reason", 0, BN_ACTIONS_REASON_MAX, &reason, &e);
    if (rc == 0)
        rc = api_body_int(b, "incident_id", 0, 0, INT64_MAX, &incident, &e);
    if (rc == 0)
        rc = api_body_int(b, "expires_s", 0, 1, 30 * 86400, &exp_s, &e);
    json_t *params = json_object_get(b, "params");
    if (rc == 0 && params && !json_is_object(params))
        rc = api_error_set(&e, 400, "invalid_field", "params", "'params' must be a JSON object");
    if (rc < 0) {
        json_decref(b);
        return api_fail(r, e.status, e.code, e.field, "%s", e.message);
    }
    char *ptxt = params ? json_dumps(params, JSON_COMPACT) : NULL;
    struct store_scope sc;
    int64_t idb;
    api_scope_caller(r, &sc, &idb);
    struct action_actor who;
    actor_of(r, &who);
    struct action_request rq = {agent_id, incident, type, ptxt ? ptxt : "{}", reason, exp_s};
    struct action_err ae = {0, ""};
    int64_t id = 0;
    int state = -1;
    rc = actions_request(r->st, &sc, &who, &rq, &id, &state, &ae);
    free(ptxt);
    json_decref(b);
    if (rc)
        return fail_action(r, rc, &ae);
    return action_reply(r, &sc, id, 201);
}

int
api_h_action_list(struct api_req *r)
{
    struct store_scope sc;
    int64_t idb;
    if (api_scope(r, &sc, &idb) < 0)
        return BN_EINVAL;
    int64_t agent = 0, incident = 0, limit = 100;
    if (api_query_int(r, "agent_id", 1, INT64_MAX, 0, &agent) < 0 ||
        api_query_int(r, "incident_id", 1, INT64_MAX, 0, &incident) < 0 ||
        api_query_int(r, "limit", 1, 1000, 100, &limit) < 0)
        return BN_EINVAL;
    int state = -1;
    const char *sq = api_query(r, "state");
    if (sq && (state = store_action_state_parse(sq)) < 0)
        return api_fail(r, 400, "invalid_query", "state",
                        "state '%.40s' is not one of pending_approval, pending_objection, queued, "
                        "sent, done, failed, rejected, expired",
                        sq);
    json_t *items = json_array();
    int rc = store_action_list(r->st, &sc, agent, incident, state, (size_t)limit, push_action,
                               items);
    return api_reply_items(r, rc, items, "actions");
}

int
api_h_action_get(struct api_req *r)
{
    int64_t id;
    if (api_param_id(r, "action_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    int64_t idb;
    api_scope_caller(r, &sc, &idb);
    return action_reply(r, &sc, id, 200);
}

static int
decide(struct api_req *r, int approve)
{
    static const char *const keys[] = {"reason", NULL};
    int64_t id;
    if (api_param_id(r, "action_id", &id) < 0)
        return BN_EINVAL;
    const char *reason = NULL;
    json_t *b = NULL;
    if (r->body.len) {
        b = api_body(r, keys);
        if (!b)
            return BN_EINVAL;
        struct api_error e = {0};
        if (api_body_str(b, "reason", 0, BN_ACTIONS_REASON_MAX, &reason, &e) < 0) {
            json_decref(b);
            return api_fail(r, e.status, e.code, e.field, "%s", e.message);
        }
    }
    struct store_scope sc;
    int64_t idb;
    api_scope_caller(r, &sc, &idb);
    struct action_actor who;
    actor_of(r, &who);
    struct action_err ae = {0, ""};
    int rc = actions_decide(r->st, &sc, &who, id, approve, reason, &ae);
    json_decref(b);
    if (rc)
        return fail_action(r, rc, &ae);
    return action_reply(r, &sc, id, 200);
}

int
api_h_action_approve(struct api_req *r)
{
    return decide(r, 1);
}

int
api_h_action_reject(struct api_req *r)
{
    return decide(r, 0);
}

static int
push_policy(void *ctx, const char *type, int policy)
{
    return json_object_set_new(ctx, type, json_string(store_action_policy_name(policy))) == 0
               ? 0
               : BN_ENOMEM;
}

static int
policy_reply(struct api_req *r, int64_t tenant, int status)
{
    struct store_tenant t;
    int rc = store_tenant_get(r->st, tenant, &t);
    struct store_response_conf c;
    if (rc == 0)
        rc = store_response_conf_get(r->st, tenant, &c);
    json_t *pol = json_object();
    if (rc == 0)
        rc = store_action_policy_list(r->st, tenant, push_policy, pol);
    if (rc < 0) {
        json_decref(pol);
        return api_fail_rc(r, rc, "response policy");
    }
    return api_reply(
        r, status,
        json_pack("{s:I,s:s,s:s,s:o,s:I,s:i,s:I,s:I}", "tenant_id", (json_int_t)tenant, "mode",
                  t.mode == STORE_MODE_FULL ? "full" : "semi", "default_policy",
                  t.mode == STORE_MODE_FULL ? "auto" : "approval", "policies", pol,
                  "approval_timeout_s", (json_int_t)c.approval_timeout_s, "full_min_severity",
                  c.full_min_severity, "queue_expiry_s", (json_int_t)c.queue_expiry_s,
                  "objection_window_s", (json_int_t)c.objection_window_s));
}

int
api_h_response_policy_get(struct api_req *r)
{
    int64_t id;
    if (api_param_id(r, "tenant_id", &id) < 0 || api_check_tenant(r, id) < 0)
        return BN_EINVAL;
    return policy_reply(r, id, 200);
}

int
api_h_response_policy_set(struct api_req *r)
{
    static const char *const keys[] = {"policies",       "approval_timeout_s", "full_min_severity",
                                       "queue_expiry_s", "objection_window_s", NULL};
    int64_t id;
    if (api_param_id(r, "tenant_id", &id) < 0 || api_check_tenant(r, id) < 0)
        return BN_EINVAL;
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct store_response_conf c;
    int rc = store_response_conf_get(r->st, id, &c);
    if (rc < 0) {
        json_decref(b);
        return api_fail_rc(r, rc, "response policy");
    }
    struct api_error e = {0};
    int64_t sev = c.full_min_severity;
    rc = api_body_int(b, "approval_timeout_s", 0, 1, 30 * 86400, &c.approval_timeout_s, &e);
    if (rc == 0)
        rc = api_body_int(b, "full_min_severity", 0, 0, 4, &sev, &e);
    if (rc == 0)
        rc = api_body_int(b, "queue_expiry_s", 0, 1, 30 * 86400, &c.queue_expiry_s, &e);
    if (rc == 0)
        rc = api_body_int(b, "objection_window_s", 0, 0, 86400, &c.objection_window_s, &e);
    c.full_min_severity = (int)sev;
    json_t *pol = json_object_get(b, "policies");
    if (rc == 0 && pol && !json_is_object(pol))
        rc = api_error_set(&e, 400, "invalid_field", "policies",
                           "'policies' maps action types to auto, approval or forbidden");
    const char *type;
    json_t *v;
    if (rc == 0 && pol) {
        json_object_foreach(pol, type, v) {
            if (!actions_type_known(type)) {
                rc = api_error_set(&e, 400, "invalid_field", "policies",
                                   "unknown action type '%.40s'", type);
                break;
            }
            if (!json_is_string(v) || store_action_policy_parse(json_string_value(v)) < 0) {
                rc = api_error_set(&e, 400, "invalid_field", "policies",
                                   "policy of '%.40s' must be auto, approval or forbidden", type);
                break;
            }
        }
    }
    if (rc < 0) {
        json_decref(b);
        return api_fail(r, e.status, e.code, e.field, "%s", e.message);
    }
    rc = api_tx(r) < 0 ? BN_EINVAL : store_response_conf_set(r->st, id, &c);
    if (rc == 0 && pol) {
        json_object_foreach(pol, type, v) {
            rc = store_action_policy_set(r->st, id, type,
                                         store_action_policy_parse(json_string_value(v)));
            if (rc)
                break;
        }
    }
    if (rc < 0) {
        json_decref(b);
        return api_fail_rc(r, rc, "response policy");
    }
    api_audit(r, id, "response.policy", "response-policy", json_deep_copy(b));
    json_decref(b);
    return policy_reply(r, id, 200);
}
