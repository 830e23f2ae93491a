/*
 * api_int.h - what the API's files share: the server, one request's state, the route table,
 * JSON body helpers with limits, and the error reply {"error": {"code", "message", "field"}}.
 * Private to src/manager/api*.c.
 */
#ifndef BANNIN_MANAGER_API_INT_H
#define BANNIN_MANAGER_API_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "manager/api.h"
#include "manager/auth.h"
#include "manager/metrics.h"
#include "bannin/buf.h"

struct MHD_Daemon;
struct MHD_Connection;
struct store;

/* Failed logins per user name (hashed into slots): past the limit, logins wait. */
#define API_LOGIN_SLOTS 1024
#define API_LOGIN_FAILS_MAX 5
#define API_LOGIN_WINDOW_NS (300 * (int64_t)1000000000)

struct api_login_slot {
    uint64_t key;
    int64_t window_start_ns;
    unsigned fails;
};

/* What GET /api/v1/rules shows of a shipped rule (parsed once at start). */
struct api_rule_meta {
    char *id;
    char *title;
    char *level;
    char *tags;                  /* comma separated */
    char *kind;                  /* "detection", "correlation" or "filter" */
};

struct api {
    struct MHD_Daemon *daemon;
    char *data_dir;
    api_change_cb on_change;
    void *on_change_ctx;
    struct mgr_metrics own_metrics;
    struct mgr_metrics *m;
    int64_t session_ttl_ns;
    uint16_t port;
    pthread_mutex_t mu;          /* guards the store pool */
    struct store **stores;       /* idle store handles */
    size_t nstores;
    size_t stores_cap;
    struct api_rule_meta *rules; /* sorted by id */
    size_t nrules;
    size_t rules_failed;         /* rule documents that did not parse */
    pthread_mutex_t login_mu;
    struct api_login_slot login[API_LOGIN_SLOTS];
};

/* A refused request: HTTP status and the JSON error object. */
struct api_error {
    int status;
    char code[32];
    char message[256];
    char field[128];
};

#define API_PARAMS_MAX 4

struct api_req {
    struct api *api;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    struct bn_buf body;
    size_t body_max;
    int body_too_big;
    int body_nomem;              /* the body could not be buffered: out of memory */
    const struct api_route *route;
    char pnames[API_PARAMS_MAX][48]; /* path parameters ({incident_id} -> "12") */
    char pvals[API_PARAMS_MAX][128];
    size_t nparams;
    struct auth_principal who;
    int authenticated;
    const char *bearer;          /* the caller's token (borrowed from the request headers) */
    struct store *st;            /* checked out from the pool for the handler's run */
    int in_tx;                   /* api_tx opened a transaction: committed after the handler */
    int status;                  /* reply status (200 unless set) */
    json_t *resp;                /* reply body (owned) */
    struct bn_buf text;          /* or a text reply (/metrics) */
    const char *text_type;
    int file_set;                /* or a file reply (attachments): file_fd is owned until */
    int file_fd;                 /* libmicrohttpd takes it; streamed, never read into memory */
    uint64_t file_size;
    char file_sha256[65];        /* its SHA-256, checked before, sent as X-Content-SHA256 */
    struct api_error err;
    int failed;
};

typedef int (*api_handler)(struct api_req *r);

enum {
    API_F_PUBLIC = 1,            /* no credentials needed */
    API_F_IMPORT = 2,            /* body may be up to BN_API_IMPORT_BODY_MAX */
};

struct api_route {
    const char *method;
    const char *path;
    unsigned roles;              /* AUTH_R_* allowed to call it */
    unsigned flags;
    api_handler fn;
    const char *name;            /* the handler's name = the spec's operationId */
};

/* ---- replies (api.c) ------------------------------------------------------------------ */

/* Records a refusal (first one wins) and returns BN_EINVAL so handlers can `return api_fail`. */
int api_fail(struct api_req *r, int status, const char *code, const char *field,
             const char *fmt, ...) BN_PRINTF(5, 6);
/* Maps a store/BN_E* error to a reply: BN_ENOTFOUND 404, BN_EEXIST 409, BN_EDENIED 403, ... */
int api_fail_rc(struct api_req *r, int rc, const char *what);
/* Sets the reply body (consumes j) and status. */
int api_reply(struct api_req *r, int status, json_t *j);

/* Rows of a list, appended to arr from the store's list callbacks. */
struct api_collect {
    json_t *arr;
    const struct api_req *r;
    int64_t user_id;
};
/* Appends j (consumed; NULL means it could not be built) to c->arr: 0 or BN_ENOMEM. */
int api_push(struct api_collect *c, json_t *j);
/* Ends a list handler: when rc < 0, frees items and fails the request (what names the list);
 * else replies 200 {"items": items} (consumed). */
int api_reply_items(struct api_req *r, int rc, json_t *items, const char *what);
/* Path parameter by name, parsed as a positive int64 (fails the request when not). */
int api_param_id(struct api_req *r, const char *name, int64_t *out);
/* Query argument (NULL when absent). */
const char *api_query(struct api_req *r, const char *name);
int api_query_int(struct api_req *r, const char *name, int64_t min, int64_t max, int64_t dflt,
                  int64_t *out);
/*
 * Opens the request's write transaction (BEGIN IMMEDIATE) just before its first write; the
 * dispatcher commits it after the handler, or rolls it back when the request failed, so a
 * change and its audit entry are stored together or not at all. Slow work (password hashing,
 * network) goes before it: the write lock holds up ingest.
 */
int api_tx(struct api_req *r);
/* Writes an audit entry for a state-changing call; a failure fails the request (and so rolls
 * back its transaction). Consumes detail. */
void api_audit(struct api_req *r, int64_t tenant_id, const char *action, const char *object,
               json_t *detail);
/* Tenant of a list/create request: customers get their own, providers ?tenant_id= or 0 (all).
 * Refuses (403) a tenant_id the caller may not use. */
int api_tenant_arg(struct api_req *r, int64_t requested, int64_t *out);
/* 404 unless the caller may see tenant_id (an object of another tenant is not disclosed). */
int api_check_tenant(struct api_req *r, int64_t tenant_id);

/* Scope of a list: the caller's tenants, narrowed by ?tenant_id= (403 for a tenant the caller
 * may not see). idbuf backs sc->ids and must outlive sc. */
struct store_scope;
int api_scope(struct api_req *r, struct store_scope *sc, int64_t *idbuf);
/* The caller's whole scope (no narrowing). */
void api_scope_caller(const struct api_req *r, struct store_scope *sc, int64_t *idbuf);
/* The request body as a JSON object (NULL with the request failed). Owned. */
json_t *api_body(struct api_req *r, const char *const *allowed);
/* Time query argument (RFC 3339 or epoch seconds). */
int api_query_time(struct api_req *r, const char *name, int64_t *out);
/* RFC 3339 string, or JSON null for 0. */
json_t *api_jtime(int64_t ns);
int64_t api__now_ns(void);

/* Tells the on_change callback what a call changed. */
void api_changed(struct api *api, unsigned what);
/* Login throttle: 0 when name may try now, else the seconds to wait. */
int64_t api_login_wait(struct api *api, const char *name, int64_t now_ns);
/* Records the outcome of a login attempt for name. */
void api_login_result(struct api *api, const char *name, int ok, int64_t now_ns);

/* ---- JSON bodies (api_json.c) --------------------------------------------------------- */

/*
 * Parses a request body: at most max bytes, BN_API_JSON_DEPTH_MAX deep,
 * BN_API_JSON_VALUES_MAX values, strings of valid UTF-8 up to BN_API_STRING_MAX bytes,
 * no duplicate keys, an object at the top. Returns an owned object, or NULL with err filled
 * (400 invalid_json / 413 body_too_large) and the line and column in the message.
 */
json_t *api_body_parse(const char *p, size_t n, size_t max, struct api_error *err);
/* Refuses keys not in allowed (NULL-terminated): 400 unknown_field naming the key. */
int api_body_keys(const json_t *obj, const char *const *allowed, struct api_error *err);
/* String field: required or not, at most maxlen bytes, non-empty when present.
 * *out is borrowed from obj (NULL when absent and optional). */
int api_body_str(const json_t *obj, const char *key, int required, size_t maxlen,
                 const char **out, struct api_error *err);
int api_body_int(const json_t *obj, const char *key, int required, int64_t min, int64_t max,
                 int64_t *out, struct api_error *err);
int api_body_bool(const json_t *obj, const char *key, int required, int *out,
                  struct api_error *err);
/* Fills err: returns BN_EINVAL. */
int api_error_set(struct api_error *err, int status, const char *code, const char *field,
                  const char *fmt, ...) BN_PRINTF(5, 6);

/* ---- route table (api_routes.c) ------------------------------------------------------- */

extern const struct api_route api_route_table[];
extern const size_t api_route_count;

/* Handlers (api_admin.c, api_soc.c; actions and response policy api_actions.c, attachments
 * attach_api.c). */
/* clang-format off */
#define API_HANDLERS(X)                                                                          \
    X(health) X(login) X(logout) X(me) X(routes) X(prom_metrics) X(tenant_list)                 \
    X(tenant_create) X(tenant_get) X(tenant_update) X(user_list) X(user_create) X(user_get)     \
    X(user_update) X(user_delete) X(token_list) X(token_create) X(token_delete)                 \
    X(enroll_list) X(enroll_create) X(enroll_delete) X(agent_list) X(agent_get)                 \
    X(agent_update) X(agent_revoke) X(event_search) X(alert_list) X(alert_get)                  \
    X(alert_suppress) X(incident_list) X(incident_get) X(incident_update) X(incident_note)      \
    X(incident_timeline) X(rule_list) X(rule_upload) X(rule_update) X(suppression_list)         \
    X(suppression_delete) X(ioc_list_list) X(ioc_list_create) X(ioc_list_entries)               \
    X(ioc_list_delete) X(channel_list) X(channel_create) X(channel_delete) X(channel_test)      \
    X(audit_list) X(soc_metrics) X(action_request) X(action_list) X(action_get)                 \
    X(action_approve) X(action_reject) X(response_policy_get) X(response_policy_set)            \
    X(attachment_list) X(attachment_get)
/* clang-format on */
#define API_DECLARE(name) int api_h_##name(struct api_req *r);
API_HANDLERS(API_DECLARE)
#undef API_DECLARE

/* Store handle pool (api.c). */
struct store *api_store_get(struct api *api);
void api_store_put(struct api *api, struct store *st);

#endif
