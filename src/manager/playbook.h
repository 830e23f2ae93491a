/*
 * playbook.h - response actions on the manager side (issue 5): checking and filing a
 * request under the tenant's mode and per-type policy, approvals and rejections, expiry and
 * escalation, and the incident playbook (docs/RESPONSE.md "Actions through the manager",
 * "Service modes"). Every request, refusal, approval, rejection, expiry and result goes to
 * the audit log with who, when and why.
 */
#ifndef BANNIN_MANAGER_PLAYBOOK_H
#define BANNIN_MANAGER_PLAYBOOK_H

#include <stddef.h>
#include <stdint.h>

#include "manager/store.h"

struct action_actor {
    const char *name; /* user name, or "playbook" */
    int role;         /* enum store_role; -1 for the playbook (the system) */
    int64_t tenant_id; /* the user's tenant (0 = provider) */
};

struct action_request {
    int64_t agent_id;
    int64_t incident_id; /* 0 = none */
    const char *type;
    const char *params_json; /* a JSON object */
    const char *reason;
    int64_t expires_s;       /* 0 = the tenant's queue expiry */
    /* > 0: an action the policy would queue at once waits this long in pending_objection
     * (the playbook of a fully-managed tenant with an objection window) */
    int64_t objection_s;
};

/* Why a request was refused; http is the status the API answers with. */
struct action_err {
    int http;
    char msg[300];
};

/*
 * Checks and files a request: the actor's role may ask for actions, the host exists and is
 * in the actor's scope (another tenant's host is "unknown host" too), the type is known and
 * not forbidden by the tenant's policy, the parameters are valid (SHA-256 as 64 hex digits,
 * paths absolute, normalised and inside the response path policy, pids > 1). The state is
 * queued (policy auto) or pending_approval. Refusals and requests are audited. Returns 0 with
 * *id and *state, or a BN_E* code with e (BN_EDENIED 403, BN_ENOTFOUND 404, BN_EINVAL 400).
 */
int actions_request(struct store *st, const struct store_scope *sc, const struct action_actor *who,
                    const struct action_request *rq, int64_t *id, int *state,
                    struct action_err *e);

/*
 * Approves or rejects a pending action: customer_admin of its tenant or provider_admin only
 * (BN_EDENIED 403 otherwise, audited). BN_EINVAL 409 when it is not pending. A rejected
 * pending_objection action is an objection (audited as action.object); approving one runs it
 * at once.
 */
int actions_decide(struct store *st, const struct store_scope *sc, const struct action_actor *who,
                   int64_t id, int approve, const char *reason, struct action_err *e);

/* Records an agent's result (audited). */
int actions_result(struct store *st, int64_t agent_id, int64_t id, int status,
                   const char *result_json, size_t len);

/*
 * Expires pending approvals past the tenant's approval timeout and queued actions past their
 * expiry; each is audited, and an expired approval escalates its incident (severity raised
 * to critical, the expiry noted in the audit log as an escalation). *n: how many expired.
 * Also queues the pending_objection actions whose window has passed with no objection
 * (audited as action.objection_window_passed).
 */
int actions_expire(struct store *st, int64_t now_ns, int64_t *n);

/*
 * The incident playbook: for an incident at critical (or at the tenant's full_min_severity
 * in fully-managed mode), proposes isolate of each host (agent) given, kill_tree of the
 * alerting process when its pid is known (pid > 1), and forensics of the host (the package is
 * uploaded and attached to the incident). Semi-managed: pending_approval, and one "approval
 * needed" notification per batch of proposals (notify_approval); fully-managed: queued at
 * once, or - with the tenant's objection_window_s > 0 - pending_objection, run when the
 * window passes unless someone objects (one "objection window" notification). Actions
 * already proposed for the incident are not proposed again. *n: how many.
 */
struct playbook_target {
    int64_t agent_id;
    int64_t pid; /* 0 = unknown */
};
int playbook_incident(struct store *st, int64_t tenant_id, int64_t incident_id, int severity,
                      const struct playbook_target *t, size_t nt, int *n);

/* True when type is an action type the manager knows. */
int actions_type_known(const char *type);

#endif
