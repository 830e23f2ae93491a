/*
 * playbook.c - response actions on the manager side (playbook.h): request checks, the
 * tenant's mode and per-type policy, approvals, expiry with escalation, the audit trail, and
 * the incident playbook.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "manager/notify.h"
#include "manager/playbook.h"

/* What the agents' executors run (src/agent/respond.h). */
static const char *const known_types[] = {
    "capabilities", "isolate",       "release",          "isolation_status", "kill",
    "kill_tree",    "suspend",       "resume",           "block_add",        "block_remove",
    "block_list",   "quarantine",    "unquarantine",     "vault_list",       "baseline_diff",
    "baseline_restore", "baseline_approve", "baseline_list", "forensics",    "scan",
    "baseline_snapshot",
};

/*
 * Response path policy: files an action may touch (quarantine, scan, block by path) lie under
 * one of these. System directories, /proc, /sys, /dev and the agent's own files are outside.
 */
static const char *const path_roots[] = {
    "/home/", "/root/", "/tmp/", "/var/tmp/", "/dev/shm/", "/opt/", "/srv/",
    "/usr/local/", "/var/www/", "/run/user/", "/var/spool/cron/", "/etc/cron.d/",
    "/etc/systemd/system/", "/var/lib/bannin-agent/vault/",
};

int
actions_type_known(const char *type)
{
    for (size_t i = 0; type && i < BN_ARRAY_SIZE(known_types); i++)
        if (strcmp(type, known_types[i]) == 0)
            return 1;
    return 0;
}

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
set_err(struct action_err *e, int http, int code, const char *fmt, ...) BN_PRINTF(4, 5);

static int
set_err(struct action_err *e, int http, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        e->http = http;
    }
    return code;
}

/* Audit detail: {"type":..,"agent_id":..,"state"|"error":..,"reason":..}. */
static void
audit(struct store *st, int64_t tenant, const char *actor, const char *what, int64_t action_id,
      const char *type, int64_t agent_id, const char *key, const char *val, const char *reason)
{
    struct bn_buf d;
    char obj[40];
    bn_buf_init(&d, 8192);
    int rc = bn_buf_printf(&d, "{\"action_id\":%lld,\"agent_id\":%lld,\"type\":\"",
                           (long long)action_id, (long long)agent_id);
    if (!rc)
        rc = bn_buf_json_escape(&d, type ? type : "", type ? strlen(type) : 0);
    if (!rc)
        rc = bn_buf_printf(&d, "\",\"%s\":\"", key);
    if (!rc)
        rc = bn_buf_json_escape(&d, val ? val : "", val ? strlen(val) : 0);
    if (!rc)
        rc = bn_buf_puts(&d, "\",\"reason\":\"");
    if (!rc && reason)
        rc = bn_buf_json_escape(&d, reason, strnlen(reason, BN_ACTIONS_REASON_MAX));
    if (!rc)
        rc = bn_buf_puts(&d, "\"}");
    snprintf(obj, sizeof(obj), "action/%lld", (long long)action_id);
    if (!rc)
        rc = store_audit(st, tenant, actor ? actor : "?", what, obj, d.p);
    if (rc)
        BN_ERROR("actions", "audit of %s (action %lld) not written: %s", what,
                 (long long)action_id, bn_strerror(rc));
    bn_buf_release(&d);
}

static int
hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static int
path_normal(const char *p, const char **why)
{
    if (p[0] != '/') {
        *why = "is not an absolute path";
        return 0;
    }
    if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") ||
        (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0)) {
        *why = "is not a normalised path (., .. or //)";
        return 0;
    }
    if (strlen(p) >= 4096) {
        *why = "is longer than 4095 bytes";
        return 0;
    }
    return 1;
}

static int
path_in_policy(const char *p, const char **why)
{
    if (p[0] != '/') {
        *why = "is not an absolute path";
        return 0;
    }
    if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") ||
        (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0)) {
        *why = "is not a normalised path (., .. or //)";
        return 0;
    }
    if (strlen(p) >= 4096) {
        *why = "is longer than 4095 bytes";
        return 0;
    }
    for (size_t i = 0; i < BN_ARRAY_SIZE(path_roots); i++)
        if (strncmp(p, path_roots[i], strlen(path_roots[i])) == 0 &&
            p[strlen(path_roots[i])] != '\0')
            return 1;
    *why = "is outside the response path policy (allowed under /home, /root, /tmp, /var/tmp, "
           "/dev/shm, /opt, /srv, /usr/local, /var/www, /run/user, cron and systemd unit dirs)";
    return 0;
}

/* Checks the fields every executor shares: sha256, path(s), pid. */
static int
check_params(const char *type, json_t *o, struct action_err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "sha256") == 0) {
            if (!json_is_string(v) || !hex64(json_string_value(v)))
                return set_err(e, 400, BN_EINVAL,
                               "%s: 'sha256' must be 64 hexadecimal digits (a SHA-256)", type);
        } else if (strcmp(key, "path") == 0 || strcmp(key, "paths") == 0) {
            json_t *arr = json_is_array(v) ? v : NULL;
            size_t n = arr ? json_array_size(arr) : 1;
            if (n > 256)
                return set_err(e, 400, BN_EINVAL, "%s: more than 256 paths", type);
            for (size_t i = 0; i < n; i++) {
                json_t *pv = arr ? json_array_get(arr, i) : v;
                const char *why = NULL;
                if (!json_is_string(pv))
                    return set_err(e, 400, BN_EINVAL, "%s: '%s' must be a string path", type,
                                   key);
                /* read-only actions (scan, forensics) may look anywhere absolute */
                int ro = strcmp(type, "scan") == 0 || strcmp(type, "forensics") == 0;
                if (!(ro ? path_normal(json_string_value(pv), &why)
                         : path_in_policy(json_string_value(pv), &why)))
                    return set_err(e, 400, BN_EINVAL, "%s: path '%.120s' %s", type,
                                   json_string_value(pv), why);
            }
        } else if (strcmp(key, "pid") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) <= 1 ||
                json_integer_value(v) > 4194304)
                return set_err(e, 400, BN_EINVAL,
                               "%s: 'pid' must be an integer process id 2..4194304", type);
        }
    }
    return 0;
}

int
actions_request(struct store *st, const struct store_scope *sc, const struct action_actor *who,
                const struct action_request *rq, int64_t *id, int *state, struct action_err *e)
{
    const char *type = rq->type ? rq->type : "";
    int64_t tenant = who->tenant_id;
    int rc;
    *id = 0;
    /* roles: analyst and provider_admin anywhere in scope, customer_admin for their tenant */
    if (who->role == STORE_ROLE_CUSTOMER_VIEWER) {
        rc = set_err(e, 403, BN_EDENIED, "role %s may not request response actions",
                     store_role_name(who->role));
        goto refused;
    }
    struct store_agent ag;
    rc = store_agent_get_scoped(st, sc, rq->agent_id, &ag);
    if (rc == BN_ENOTFOUND) {
        rc = set_err(e, 404, BN_ENOTFOUND, "unknown host: no agent %lld in your tenant(s)",
                     (long long)rq->agent_id);
        goto refused;
    }
    if (rc) {
        set_err(e, 500, rc, "agent lookup failed: %s", store_errmsg(st));
        goto refused;
    }
    tenant = ag.tenant_id;
    if (ag.revoked) {
        rc = set_err(e, 409, BN_EINVAL, "agent %lld (%s) is revoked", (long long)ag.id,
                     ag.hostname);
        goto refused;
    }
    if (!actions_type_known(type)) {
        rc = set_err(e, 400, BN_EINVAL, "unknown action type '%.40s'", type);
        goto refused;
    }
    const char *params = rq->params_json ? rq->params_json : "{}";
    if (strlen(params) > BN_RESPOND_PARAMS_MAX) {
        rc = set_err(e, 413, BN_ETOOBIG, "%s: parameters over %u bytes", type,
                     BN_RESPOND_PARAMS_MAX);
        goto refused;
    }
    if (rq->reason && strlen(rq->reason) > BN_ACTIONS_REASON_MAX) {
        rc = set_err(e, 400, BN_EINVAL, "reason over %d bytes", BN_ACTIONS_REASON_MAX);
        goto refused;
    }
    json_error_t jerr;
    json_t *o = json_loads(params, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        rc = set_err(e, 400, BN_EINVAL, "%s: parameters must be a JSON object", type);
        goto refused;
    }
    rc = check_params(type, o, e);
    json_decref(o);
    if (rc)
        goto refused;
    int policy = STORE_POLICY_APPROVAL;
    rc = store_action_policy_get(st, tenant, type, &policy, NULL);
    if (rc) {
        set_err(e, 500, rc, "policy lookup failed: %s", store_errmsg(st));
        goto refused;
    }
    if (policy == STORE_POLICY_FORBIDDEN) {
        rc = set_err(e, 403, BN_EDENIED, "%s is forbidden by the tenant's action policy", type);
        goto refused;
    }
    struct store_response_conf rcf;
    rc = store_response_conf_get(st, tenant, &rcf);
    if (rc) {
        set_err(e, 500, rc, "response settings: %s", store_errmsg(st));
        goto refused;
    }
    struct store_action a;
    memset(&a, 0, sizeof(a));
    a.tenant_id = tenant;
    a.agent_id = ag.id;
    a.incident_id = rq->incident_id;
    snprintf(a.type, sizeof(a.type), "%s", type);
    a.params_json = params;
    a.reason = rq->reason ? rq->reason : "";
    snprintf(a.requested_by, sizeof(a.requested_by), "%s", who->name ? who->name : "?");
    int64_t now = now_ns();
    a.created_ns = now;
    /* auto runs at once; pending approvals expire (and escalate) after the approval timeout */
    a.state = policy == STORE_POLICY_AUTO ? STORE_ACT_QUEUED : STORE_ACT_PENDING_APPROVAL;
    int64_t exp_s = rq->expires_s > 0 ? rq->expires_s
                    : a.state == STORE_ACT_QUEUED ? rcf.queue_expiry_s
                                                  : rcf.approval_timeout_s;
    a.expires_ns = now + exp_s * 1000000000ll;
    if (a.state == STORE_ACT_QUEUED && rq->objection_s > 0) {
        /* "contain unless someone objects within N": queued when the window passes */
        a.state = STORE_ACT_PENDING_OBJECTION;
        a.run_at_ns = now + rq->objection_s * 1000000000ll;
        a.expires_ns = a.run_at_ns + exp_s * 1000000000ll;
    }
    if (a.state == STORE_ACT_QUEUED)
        snprintf(a.approved_by, sizeof(a.approved_by), "policy:auto");
    rc = store_action_create(st, &a, id);
    if (rc) {
        set_err(e, 500, rc, "storing the action failed: %s", store_errmsg(st));
        goto refused;
    }
    *state = a.state;
    audit(st, tenant, a.requested_by, "action.request", *id, type, ag.id, "state",
          store_action_state_name(a.state), a.reason);
    return 0;

refused:
    audit(st, tenant, who->name, "action.refused", 0, type, rq->agent_id, "error",
          e ? e->msg : "", rq->reason);
    return rc;
}

struct one {
    struct store_action a;
};

static int
keep_one(void *ctx, const struct store_action *a)
{
    struct one *o = ctx;
    o->a = *a;
    o->a.params_json = o->a.reason = o->a.decision_reason = o->a.result_json = NULL;
    return 1;
}

int
actions_decide(struct store *st, const struct store_scope *sc, const struct action_actor *who,
               int64_t id, int approve, const char *reason, struct action_err *e)
{
    const char *what = approve ? "action.approve" : "action.reject";
    struct one o;
    memset(&o, 0, sizeof(o));
    if (who->role != STORE_ROLE_PROVIDER_ADMIN && who->role != STORE_ROLE_CUSTOMER_ADMIN) {
        int drc = set_err(e, 403, BN_EDENIED, "role %s may not %s actions",
                          store_role_name(who->role), approve ? "approve" : "reject");
        audit(st, who->tenant_id, who->name, "action.refused", id, "", 0, "error", e->msg,
              reason);
        return drc;
    }
    int rc = store_action_get(st, sc, id, keep_one, &o);
    if (rc == BN_ENOTFOUND) {
        set_err(e, 404, rc, "no action %lld in your tenant(s)", (long long)id);
        audit(st, who->tenant_id, who->name, "action.refused", id, "", 0, "error", e->msg, reason);
        return rc;
    }
    if (rc)
        return set_err(e, 500, rc, "action lookup failed: %s", store_errmsg(st));
    int may = who->role == STORE_ROLE_PROVIDER_ADMIN ||
              (who->role == STORE_ROLE_CUSTOMER_ADMIN && who->tenant_id == o.a.tenant_id);
    if (!may) {
        rc = set_err(e, 403, BN_EDENIED, "role %s may not %s actions",
                     store_role_name(who->role), approve ? "approve" : "reject");
        audit(st, o.a.tenant_id, who->name, "action.refused", id, o.a.type, o.a.agent_id, "error",
              e->msg, reason);
        return rc;
    }
    if (!approve && o.a.state == STORE_ACT_PENDING_OBJECTION)
        what = "action.object";
    rc = store_action_decide(st, sc, id, approve, who->name, reason);
    if (rc == BN_EINVAL) {
        set_err(e, 409, rc, "%s", store_errmsg(st));
        audit(st, o.a.tenant_id, who->name, "action.refused", id, o.a.type, o.a.agent_id, "error",
              e->msg, reason);
        return rc;
    }
    if (rc)
        return set_err(e, rc == BN_ETOOBIG ? 400 : 500, rc, "%s", store_errmsg(st));
    audit(st, o.a.tenant_id, who->name, what, id, o.a.type, o.a.agent_id, "state",
          approve ? "queued" : "rejected", reason);
    return 0;
}

int
actions_result(struct store *st, int64_t agent_id, int64_t id, int status, const char *result_json,
               size_t len)
{
    int ok = 0;
    json_t *j = json_loadb(result_json, len, 0, NULL);
    if (j && json_is_object(j))
        ok = json_is_true(json_object_get(j, "ok"));
    json_decref(j);
    struct bn_buf b;
    bn_buf_init(&b, BN_RESPOND_RESULT_MAX + 1);
    int rc = bn_buf_append(&b, result_json, len);
    if (rc) {
        bn_buf_release(&b);
        return rc;
    }
    if (!b.p) /* empty result */
        rc = bn_buf_puts(&b, "{}");
    rc = store_action_set_result(st, agent_id, id, status == 0 && ok, status == 2, b.p);
    if (rc == 0) {
        struct store_scope all = {1, NULL, 0};
        struct one o;
        memset(&o, 0, sizeof(o));
        if (store_action_get(st, &all, id, keep_one, &o) == 0)
            audit(st, o.a.tenant_id, "agent", "action.result", id, o.a.type, agent_id, "state",
                  store_action_state_name(o.a.state), b.p);
    }
    bn_buf_release(&b);
    return rc;
}

struct exp_row {
    int64_t id, tenant, agent, incident;
    int state;
    char type[40];
};

struct exp_list {
    struct exp_row r[256];
    size_t n;
};

static int
collect_exp(void *ctx, const struct store_action *a)
{
    struct exp_list *l = ctx;
    if (l->n >= BN_ARRAY_SIZE(l->r))
        return 1;
    struct exp_row *r = &l->r[l->n++];
    r->id = a->id;
    r->tenant = a->tenant_id;
    r->agent = a->agent_id;
    r->incident = a->incident_id;
    r->state = a->state;
    snprintf(r->type, sizeof(r->type), "%s", a->type);
    return 0;
}

int
actions_expire(struct store *st, int64_t now, int64_t *n)
{
    struct exp_list *l = bn_calloc(1, sizeof(*l));
    if (!l)
        return BN_ENOMEM;
    /* objection windows that passed with no objection: the actions run now */
    int64_t released = 0;
    int rc = store_action_release_objections(st, now, collect_exp, l, &released);
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        audit(st, l->r[i].tenant, "system", "action.objection_window_passed", l->r[i].id,
              l->r[i].type, l->r[i].agent, "state", "queued",
              "no objection within the tenant's objection window");
    if (rc) {
        bn_free(l);
        return rc;
    }
    l->n = 0;
    rc = store_action_expire(st, now, collect_exp, l, n);
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        struct exp_row *r = &l->r[i];
        int was_pending = r->state == STORE_ACT_PENDING_APPROVAL;
        audit(st, r->tenant, "system", "action.expire", r->id, r->type, r->agent, "state",
              was_pending ? "expired waiting for approval" : "expired in the queue", NULL);
        bool escalated = false; /* once per incident in a pass, however many expired */
        for (size_t k = 0; k < i; k++)
            escalated |= l->r[k].incident == r->incident &&
                         l->r[k].state == STORE_ACT_PENDING_APPROVAL;
        if (was_pending && r->incident && !escalated) {
            /* nobody answered in time: escalate (notify again at critical) */
            store_incident_set_notified(st, r->incident, -1);
            char obj[40];
            snprintf(obj, sizeof(obj), "incident/%lld", (long long)r->incident);
            store_audit(st, r->tenant, "system", "incident.escalate", obj,
                        "{\"why\":\"a proposed response action was not approved in time\"}");
        }
    }
    bn_free(l);
    return rc;
}

#define PLAYBOOK_ITEMS_MAX 48 /* actions of one batch named in its notification */

struct dup {
    const char *type;
    const char *params;
    int found;
};

/* The same type with the same parameters (isolate once; kill_tree once per process). */
static int
find_type(void *ctx, const struct store_action *a)
{
    struct dup *d = ctx;
    if (strcmp(a->type, d->type) == 0 && a->params_json && strcmp(a->params_json, d->params) == 0) {
        d->found = 1;
        return 1;
    }
    return 0;
}

/* Counts the actions waiting for a human (pending approval or objection). */
static int
count_waiting(void *ctx, const struct store_action *a)
{
    if (a->state == STORE_ACT_PENDING_APPROVAL || a->state == STORE_ACT_PENDING_OBJECTION)
        (*(int *)ctx)++;
    return 0;
}

int
playbook_incident(struct store *st, int64_t tenant_id, int64_t incident_id, int severity,
                  const struct playbook_target *t, size_t nt, int *n)
{
    *n = 0;
    struct store_tenant tn;
    int rc = store_tenant_get(st, tenant_id, &tn);
    if (rc)
        return rc;
    struct store_response_conf rcf;
    rc = store_response_conf_get(st, tenant_id, &rcf);
    if (rc)
        return rc;
    int threshold = tn.mode == STORE_MODE_FULL ? rcf.full_min_severity : 4;
    if (severity < threshold)
        return 0;
    struct store_scope sc = {0, &tenant_id, 1};
    struct action_actor who = {"playbook", -1, tenant_id};
    /* what waits for a human: told once for this batch (notify_approval) */
    struct notify_approval_item wait[PLAYBOOK_ITEMS_MAX];
    char hosts[PLAYBOOK_ITEMS_MAX][256], params_of[PLAYBOOK_ITEMS_MAX][96];
    size_t nwait = 0, nobj = 0;
    int64_t objection_s = tn.mode == STORE_MODE_FULL ? rcf.objection_window_s : 0;
    /* approvers already told about this incident's waiting actions are not told again for
     * each repeat alert: they see the new ones in the same list */
    int waiting_before = 0;
    rc = store_action_list(st, &sc, 0, incident_id, -1, 1000, count_waiting, &waiting_before);
    if (rc)
        return rc;
    for (size_t i = 0; i < nt; i++) {
        const char *types[3] = {"isolate", "kill_tree", "forensics"};
        struct store_agent ag;
        memset(&ag, 0, sizeof(ag));
        if (store_agent_get_scoped(st, &sc, t[i].agent_id, &ag) != 0)
            snprintf(ag.hostname, sizeof(ag.hostname), "agent %lld", (long long)t[i].agent_id);
        for (int k = 0; k < 3; k++) {
            if (k == 1 && t[i].pid <= 1)
                continue;
            char params[96];
            if (k == 1)
                snprintf(params, sizeof(params), "{\"pid\":%lld}", (long long)t[i].pid);
            else
                snprintf(params, sizeof(params), "{}");
            /* proposed once per incident, host, type and parameters (a rejection stands) */
            struct dup d = {types[k], params, 0};
            rc = store_action_list(st, &sc, t[i].agent_id, incident_id, -1, 1000, find_type, &d);
            if (rc)
                return rc;
            if (d.found)
                continue;
            struct action_request rq = {t[i].agent_id, incident_id, types[k], params, NULL, 0,
                                        objection_s};
            char reason[160];
            snprintf(reason, sizeof(reason), "playbook: incident %lld reached severity %d",
                     (long long)incident_id, severity);
            rq.reason = reason;
            int64_t id;
            int state;
            struct action_err e;
            rc = actions_request(st, &sc, &who, &rq, &id, &state, &e);
            if (rc == 0) {
                (*n)++;
                bool waits = state == STORE_ACT_PENDING_APPROVAL ||
                             state == STORE_ACT_PENDING_OBJECTION;
                if (waits && nwait < PLAYBOOK_ITEMS_MAX) {
                    snprintf(hosts[nwait], sizeof(hosts[nwait]), "%s", ag.hostname);
                    snprintf(params_of[nwait], sizeof(params_of[nwait]), "%s", params);
                    wait[nwait] = (struct notify_approval_item){
                        id,    types[k], hosts[nwait], params_of[nwait], state,
                        state == STORE_ACT_PENDING_OBJECTION ? now_ns() + objection_s * 1000000000ll
                                                             : 0};
                    nwait++;
                    nobj += state == STORE_ACT_PENDING_OBJECTION;
                }
            } else if (rc == BN_EDENIED || rc == BN_EINVAL || rc == BN_ENOTFOUND)
                BN_WARN("playbook", "incident %lld: %s not proposed: %s",
                        (long long)incident_id, types[k], e.msg);
            else
                return rc;
        }
    }
    if (nwait && waiting_before) {
        BN_INFO("playbook", "incident %lld: %zu more actions wait for a human (with %d already "
                "waiting: not told again)", (long long)incident_id, nwait, waiting_before);
    } else if (nwait) {
        /* one message per batch; objection-window items first decide its kind */
        if (nobj && nobj < nwait) {
            for (size_t i = 0, j = 0; i < nwait; i++)
                if (wait[i].state == STORE_ACT_PENDING_OBJECTION) {
                    struct notify_approval_item tmp = wait[j];
                    wait[j++] = wait[i];
                    wait[i] = tmp;
                }
        }
        int sent = 0;
        int nrc = notify_approval(st, tenant_id, incident_id, wait, nobj ? nobj : nwait,
                                  now_ns(), &sent);
        if (nrc == 0 && nobj && nobj < nwait)
            nrc = notify_approval(st, tenant_id, incident_id, wait + nobj, nwait - nobj, now_ns(),
                                  &sent);
        if (nrc)
            BN_WARN("playbook", "incident %lld: approval notification not queued: %s",
                    (long long)incident_id, bn_strerror(nrc));
        else
            BN_INFO("playbook", "incident %lld: %zu actions wait for a human (%s); %d messages "
                    "queued", (long long)incident_id, nwait,
                    nobj ? "objection window" : "approval", sent);
    }
    return 0;
}
