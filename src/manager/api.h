/*
 * api.h - the manager's HTTP+JSON API (docs/openapi.yaml describes every route).
 *
 * libmicrohttpd with its internal thread pool on epoll serves the requests; each pool thread
 * opens its own store handle on the data directory (store.h: one thread per handle). Callers
 * authenticate with a bearer token: a session token from POST /api/v1/auth/login or an API
 * token from POST /api/v1/tokens; both are stored only as SHA-256. Every route checks the
 * caller's role and scopes what it reads and writes to the caller's tenants; every
 * state-changing call writes an audit entry.
 */
#ifndef BANNIN_MANAGER_API_H
#define BANNIN_MANAGER_API_H

#include <stddef.h>
#include <stdint.h>

#include "manager/metrics.h"

struct api;

/* What an API call changed, for the components that cache it (detection, the link). */
enum api_change {
    API_CHANGE_IOC = 1 << 0,          /* IOC lists or entries */
    API_CHANGE_RULE_STATE = 1 << 1,   /* a rule enabled or disabled */
    API_CHANGE_RULES = 1 << 2,        /* a Sigma rule uploaded */
    API_CHANGE_SUPPRESSIONS = 1 << 3,
    API_CHANGE_CHANNELS = 1 << 4,
    API_CHANGE_AGENTS = 1 << 5,       /* revoked, or asset criticality changed */
    API_CHANGE_TENANTS = 1 << 6,      /* mode, notification threshold, retention */
};
/* Called on the API's threads after the change is committed; must be quick and thread-safe
 * (e.g. detect_ingest_changed, which sets a flag). */
typedef void (*api_change_cb)(void *ctx, unsigned what);

struct api_config {
    const char *data_dir;         /* the store's directory (borrowed for api_start only) */
    const char *listen_host;      /* numeric IPv4/IPv6 address; NULL = "127.0.0.1" */
    uint16_t port;                /* 0 = any free port (api_port() tells which) */
    unsigned threads;             /* thread pool size; 0 = 2 */
    int64_t session_ttl_s;        /* session lifetime; 0 = 8 hours */
    struct mgr_metrics *metrics;  /* shared counters (borrowed, may be NULL: the API keeps
                                     its own) */
    api_change_cb on_change;      /* may be NULL */
    void *on_change_ctx;
    const char *const *rule_paths; /* the shipped rules detection loads (files or
                                      directories), listed by GET /api/v1/rules; borrowed
                                      for api_start only; may be NULL */
    size_t nrule_paths;
};

/* Starts the API server. Returns 0 and an owned *out, or a negative BN_E* code. */
int api_start(const struct api_config *cfg, struct api **out);
/* Stops the server (waits for requests in flight) and frees it; NULL is a no-op. */
void api_stop(struct api *api);
/* The TCP port the server listens on. */
uint16_t api_port(const struct api *api);

/*
 * Creates the first tenant (when tenant_name is not NULL and absent) and a provider_admin
 * user named admin_name with a fresh random password written to password (at least 33
 * bytes). Returns BN_EEXIST when the user already exists. For `bannind --init`.
 */
int api_bootstrap(const char *data_dir, const char *tenant_name, const char *admin_name,
                  char *password, size_t password_size);

/* One registered route, for GET /api/v1/_routes and `--print-routes`. */
struct api_route_info {
    const char *method;
    const char *path;             /* OpenAPI template: /api/v1/incidents/{incident_id} */
    const char *operation;        /* the spec's operationId (the handler's name) */
};
/* The routes the server registers (a static table); *n receives the count. */
const struct api_route_info *api_routes(size_t *n);

#endif
