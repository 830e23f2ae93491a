/*
 * api.c - the API server: libmicrohttpd (internal thread pool on epoll) accepts requests,
 * this file matches the route, bounds and collects the body, authenticates the bearer token,
 * checks the caller's role, runs the handler with a pooled store handle and sends the JSON
 * reply. Refusals are {"error": {"code", "message", "field"}} and counted in the metrics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "manager/api_int.h"
#include "manager/store.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/sigma.h"
#include "bannin/timeutil.h"

#define MOD "api"

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- store pool ------------------------------------------------------------------------ */

struct store *
api_store_get(struct api *api)
{
    struct store *st = NULL;
    pthread_mutex_lock(&api->mu);
    if (api->nstores > 0)
        st = api->stores[--api->nstores];
    pthread_mutex_unlock(&api->mu);
    if (st)
        return st;
    struct store_err err = {{0}};
    int rc = store_open(&st, api->data_dir, &err);
    if (rc < 0) {
        BN_ERROR(MOD, "cannot open the store in '%s': %s", api->data_dir, err.msg);
        return NULL;
    }
    return st;
}

void
api_store_put(struct api *api, struct store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&api->mu);
    if (api->nstores == api->stores_cap) {
        size_t cap = api->stores_cap ? api->stores_cap * 2 : 8;
        struct store **p = bn_reallocarray(api->stores, cap, sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&api->mu);
            store_close(st);
            return;
        }
        api->stores = p;
        api->stores_cap = cap;
    }
    api->stores[api->nstores++] = st;
    pthread_mutex_unlock(&api->mu);
}

/* ---- replies --------------------------------------------------------------------------- */

int
api_fail(struct api_req *r, int status, const char *code, const char *field, const char *fmt,
         ...)
{
    if (r->failed)
        return BN_EINVAL;
    r->failed = 1;
    r->err.status = status;
    snprintf(r->err.code, sizeof(r->err.code), "%s", code);
    snprintf(r->err.field, sizeof(r->err.field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
    va_end(ap);
    return BN_EINVAL;
}

int
api_fail_rc(struct api_req *r, int rc, const char *what)
{
    switch (rc) {
    case BN_ENOTFOUND:
        return api_fail(r, 404, "not_found", NULL, "%s not found", what);
    case BN_EEXIST:
        return api_fail(r, 409, "conflict", NULL, "%s already exists", what);
    case BN_EDENIED:
        return api_fail(r, 403, "forbidden", NULL, "%s: not allowed", what);
    case BN_EINVAL:
    case BN_EPARSE:
    case BN_EFORMAT:
        return api_fail(r, 400, "invalid", NULL, "%s: %s", what, bn_strerror(rc));
    case BN_ETOOBIG:
        return api_fail(r, 413, "too_large", NULL, "%s: %s", what, bn_strerror(rc));
    case BN_EFULL:
        return api_fail(r, 507, "storage_full", NULL, "%s: the store is out of space", what);
    default:
        BN_ERROR(MOD, "%s failed: %s", what, bn_strerror(rc));
        return api_fail(r, 500, "internal", NULL, "%s failed: %s", what, bn_strerror(rc));
    }
}

int
api_reply(struct api_req *r, int status, json_t *j)
{
    if (!j)
        return api_fail(r, 500, "internal", NULL, "out of memory building the reply");
    json_decref(r->resp);
    r->resp = j;
    r->status = status;
    return 0;
}

int
api_push(struct api_collect *c, json_t *j)
{
    if (!j || json_array_append_new(c->arr, j) < 0)
        return BN_ENOMEM;
    return 0;
}

int
api_reply_items(struct api_req *r, int rc, json_t *items, const char *what)
{
    if (rc < 0) {
        json_decref(items);
        return api_fail_rc(r, rc, what);
    }
    return api_reply(r, 200, json_pack("{s:o}", "items", items));
}

static int
parse_id(const char *s, int64_t *out)
{
    if (!s || !*s)
        return BN_EINVAL;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10)
            return BN_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (v <= 0)
        return BN_EINVAL;
    *out = v;
    return 0;
}

int
api_param_id(struct api_req *r, const char *name, int64_t *out)
{
    for (size_t i = 0; i < r->nparams; i++) {
        if (strcmp(r->pnames[i], name) == 0) {
            if (parse_id(r->pvals[i], out) < 0)
                return api_fail(r, 400, "invalid_parameter", name,
                                "path parameter '%s' must be a positive integer", name);
            return 0;
        }
    }
    return api_fail(r, 500, "internal", name, "route has no parameter '%s'", name);
}

const char *
api_query(struct api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int
api_query_int(struct api_req *r, const char *name, int64_t min, int64_t max, int64_t dflt,
              int64_t *out)
{
    const char *s = api_query(r, name);
    *out = dflt;
    if (!s)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return api_fail(r, 400, "invalid_parameter", name,
                        "query argument '%s' must be an integer in %" PRId64 "..%" PRId64, name,
                        min, max);
    *out = v;
    return 0;
}

int
api_tx(struct api_req *r)
{
    if (r->in_tx)
        return 0;
    int rc = store_begin(r->st);
    if (rc < 0)
        return api_fail_rc(r, rc, "transaction");
    r->in_tx = 1;
    return 0;
}

void
api_audit(struct api_req *r, int64_t tenant_id, const char *action, const char *object,
          json_t *detail)
{
    char *d = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char actor[160];
    snprintf(actor, sizeof(actor), "%s%s", r->who.name[0] ? r->who.name : "anonymous",
             r->who.via_api_token ? " (api token)" : "");
    int rc = store_audit(r->st, tenant_id, actor, action, object, d ? d : "{}");
    if (rc < 0) {
        BN_ERROR(MOD, "cannot write the audit entry for '%s %s': %s", action, object,
                 bn_strerror(rc));
        api_fail_rc(r, rc, "audit entry");
    }
    free(d);
    json_decref(detail);
}

int
api_tenant_arg(struct api_req *r, int64_t requested, int64_t *out)
{
    *out = 0;
    if (auth_is_provider(&r->who)) {
        *out = requested;
        return 0;
    }
    if (requested != 0 && requested != r->who.tenant_id) {
        mgr_metric_add(r->api->m, MGR_M_API_DENIED, 1);
        return api_fail(r, 403, "forbidden", "tenant_id",
                        "tenant %" PRId64 " is not yours", requested);
    }
    *out = r->who.tenant_id;
    return 0;
}

int
api_check_tenant(struct api_req *r, int64_t tenant_id)
{
    if (auth_tenant_allowed(&r->who, tenant_id))
        return 0;
    mgr_metric_add(r->api->m, MGR_M_API_DENIED, 1);
    return api_fail(r, 404, "not_found", NULL, "not found");
}

/* ---- routing --------------------------------------------------------------------------- */

/* Matches path against a template; fills the parameters. 1 on a match. */
static int
route_match(const char *tmpl, const char *path, struct api_req *r)
{
    size_t np = 0;
    const char *t = tmpl, *p = path;
    while (*t && *p) {
        if (*t == '{') {
            const char *te = strchr(t, '}');
            const char *pe = strchr(p, '/');
            if (!te)
                return 0;
            if (!pe)
                pe = p + strlen(p);
            size_t len = (size_t)(pe - p);
            size_t nlen = (size_t)(te - t - 1);
            if (len == 0 || len >= sizeof(r->pvals[0]) || nlen >= sizeof(r->pnames[0]) ||
                np >= API_PARAMS_MAX)
                return 0;
            memcpy(r->pvals[np], p, len);
            r->pvals[np][len] = '\0';
            memcpy(r->pnames[np], t + 1, nlen);
            r->pnames[np][nlen] = '\0';
            np++;
            t = te + 1;
            p = pe;
            continue;
        }
        if (*t != *p)
            return 0;
        t++;
        p++;
    }
    if (*t || *p)
        return 0;
    r->nparams = np;
    return 1;
}

/* Finds the route; *path_matched tells a 405 from a 404. */
static const struct api_route *
route_find(struct api_req *r, const char *method, const char *path, int *path_matched)
{
    *path_matched = 0;
    for (size_t i = 0; i < api_route_count; i++) {
        const struct api_route *rt = &api_route_table[i];
        if (!route_match(rt->path, path, r))
            continue;
        *path_matched = 1;
        if (strcmp(rt->method, method) == 0)
            return rt;
    }
    r->nparams = 0;
    return NULL;
}

static struct api_route_info route_info[256];
static size_t route_info_n;

static void
route_info_init(void)
{
    size_t n = BN_MIN(api_route_count, BN_ARRAY_SIZE(route_info));
    for (size_t i = 0; i < n; i++) {
        route_info[i].method = api_route_table[i].method;
        route_info[i].path = api_route_table[i].path;
        route_info[i].operation = api_route_table[i].name;
    }
    route_info_n = n;
}

const struct api_route_info *
api_routes(size_t *n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, route_info_init);
    *n = route_info_n;
    return route_info;
}

void
api_changed(struct api *api, unsigned what)
{
    if (api->on_change)
        api->on_change(api->on_change_ctx, what);
}

/* ---- login throttle -------------------------------------------------------------------- */

static uint64_t
name_key(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h | 1;
}

int64_t
api_login_wait(struct api *api, const char *name, int64_t now_ns)
{
    uint64_t k = name_key(name);
    struct api_login_slot *sl = &api->login[k % API_LOGIN_SLOTS];
    int64_t wait = 0;
    pthread_mutex_lock(&api->login_mu);
    if (sl->key == k && sl->fails >= API_LOGIN_FAILS_MAX &&
        now_ns - sl->window_start_ns < API_LOGIN_WINDOW_NS)
        wait = (sl->window_start_ns + API_LOGIN_WINDOW_NS - now_ns) / 1000000000 + 1;
    pthread_mutex_unlock(&api->login_mu);
    return wait;
}

void
api_login_result(struct api *api, const char *name, int ok, int64_t now_ns)
{
    uint64_t k = name_key(name);
    struct api_login_slot *sl = &api->login[k % API_LOGIN_SLOTS];
    pthread_mutex_lock(&api->login_mu);
    if (ok) {
        if (sl->key == k)
            memset(sl, 0, sizeof(*sl));
    } else {
        if (sl->key != k || now_ns - sl->window_start_ns >= API_LOGIN_WINDOW_NS) {
            sl->key = k;
            sl->window_start_ns = now_ns;
            sl->fails = 0;
        }
        sl->fails++;
    }
    pthread_mutex_unlock(&api->login_mu);
}

/* ---- authentication -------------------------------------------------------------------- */

static int
authenticate(struct api_req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) {
        mgr_metric_add(r->api->m, MGR_M_API_AUTH_FAILED, 1);
        return api_fail(r, 401, "unauthorized", NULL,
                        "credentials required: send 'Authorization: Bearer <token>'");
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        mgr_metric_add(r->api->m, MGR_M_API_AUTH_FAILED, 1);
        return api_fail(r, 401, "unauthorized", NULL,
                        "the Authorization header must be 'Bearer <token>'");
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    size_t n = strlen(tok);
    if (n == 0 || n > 256) {
        mgr_metric_add(r->api->m, MGR_M_API_AUTH_FAILED, 1);
        return api_fail(r, 401, "unauthorized", NULL, "the bearer token is malformed");
    }
    char hash[AUTH_HASH_HEX_LEN + 1];
    auth_sha256_hex(tok, n, hash);
    r->bearer = tok;
    struct store_auth a;
    struct store_user u;
    int rc = store_auth_lookup(r->st, hash, now_ns(), &a, &u);
    if (rc == BN_EDENIED || rc == BN_ENOTFOUND) {
        mgr_metric_add(r->api->m, MGR_M_API_AUTH_FAILED, 1);
        return api_fail(r, 401, "unauthorized", NULL,
                        "the token is unknown, expired or revoked, or its user is disabled");
    }
    if (rc < 0)
        return api_fail_rc(r, rc, "authentication");
    r->who.user_id = u.id;
    r->who.tenant_id = u.tenant_id;
    r->who.role = u.role;
    r->who.via_api_token = a.kind == STORE_AUTH_API_TOKEN;
    r->who.auth_id = a.id;
    snprintf(r->who.name, sizeof(r->who.name), "%s", u.name);
    /* A provider role bound to a tenant, or a customer role without one, is a broken
     * record: it gets nothing rather than a guess. */
    int provider = u.role == STORE_ROLE_PROVIDER_ADMIN || u.role == STORE_ROLE_ANALYST;
    if (provider != (u.tenant_id == 0) || u.role < 0 || u.role > STORE_ROLE_CUSTOMER_VIEWER) {
        mgr_metric_add(r->api->m, MGR_M_API_DENIED, 1);
        return api_fail(r, 403, "forbidden", NULL, "user '%s' has an inconsistent role",
                        u.name);
    }
    r->authenticated = 1;
    return 0;
}

/* ---- request lifecycle ----------------------------------------------------------------- */

static void
req_free(struct api_req *r)
{
    if (!r)
        return;
    bn_buf_release(&r->body);
    bn_buf_release(&r->text);
    json_decref(r->resp);
    if (r->file_set)
        close(r->file_fd);
    if (r->st)
        api_store_put(r->api, r->st);
    bn_free(r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result
send_reply(struct api_req *r)
{
    struct mgr_metrics *m = r->api->m;
    int status = r->status ? r->status : 200;
    char *body = NULL;
    size_t len = 0;
    const char *ctype = "application/json";
    if (r->failed) {
        status = r->err.status;
        json_t *inner = json_pack("{s:s,s:s}", "code", r->err.code, "message", r->err.message);
        if (inner && r->err.field[0])
            json_object_set_new(inner, "field", json_string(r->err.field));
        json_t *e = inner ? json_pack("{s:o}", "error", inner) : NULL;
        body = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        if (status >= 500)
            mgr_metric_add(m, MGR_M_API_5XX, 1);
        else
            mgr_metric_add(m, MGR_M_API_4XX, 1);
    } else if (r->text_type) {
        ctype = r->text_type;
    } else if (r->resp) {
        body = json_dumps(r->resp, JSON_COMPACT);
        if (!body) {
            status = 500;
            mgr_metric_add(m, MGR_M_API_5XX, 1);
        }
    }
    struct MHD_Response *resp;
    if (r->file_set && !r->failed) {
        ctype = "application/octet-stream";
        resp = MHD_create_response_from_fd64(r->file_size, r->file_fd);
        if (resp) {
            r->file_set = 0; /* libmicrohttpd closes it */
            MHD_add_response_header(resp, "X-Content-SHA256", r->file_sha256);
        }
    } else if (r->text_type && !r->failed) {
        resp = MHD_create_response_from_buffer(r->text.len, r->text.p ? r->text.p : (void *)"",
                                               MHD_RESPMEM_MUST_COPY);
    } else {
        if (body)
            len = strlen(body);
        resp = MHD_create_response_from_buffer(len, body ? body : (void *)"",
                                               MHD_RESPMEM_MUST_COPY);
    }
    free(body);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Authenticates the caller and checks its role for the route. */
static int
check_caller(struct api_req *r)
{
    if (authenticate(r) < 0)
        return BN_EDENIED;
    if (!(r->route->roles & (1u << r->who.role))) {
        mgr_metric_add(r->api->m, MGR_M_API_DENIED, 1);
        return api_fail(r, 403, "forbidden", NULL, "role %s may not %s %s",
                        store_role_name(r->who.role), r->route->method, r->route->path);
    }
    return 0;
}

/* Runs the route once the whole body is in. */
static void
dispatch(struct api_req *r)
{
    struct api *api = r->api;
    if (r->body_nomem) {
        api_fail(r, 503, "unavailable", NULL, "out of memory reading the body");
        return;
    }
    if (r->body_too_big) {
        mgr_metric_add(api->m, MGR_M_API_BAD_BODY, 1);
        api_fail(r, 413, "body_too_large", NULL, "body is larger than %zu bytes", r->body_max);
        return;
    }
    r->st = api_store_get(api);
    if (!r->st) {
        api_fail(r, 503, "unavailable", NULL, "the store cannot be opened");
        return;
    }
    if (!(r->route->flags & API_F_PUBLIC) && !r->authenticated && check_caller(r) < 0)
        return;
    int rc = r->route->fn(r);
    if (rc < 0 && !r->failed)
        api_fail_rc(r, rc, r->route->path);
    if (r->in_tx) {
        r->in_tx = 0;
        if (r->failed) {
            store_rollback(r->st);
        } else if ((rc = store_commit(r->st)) < 0) {
            json_decref(r->resp);
            r->resp = NULL;
            api_fail_rc(r, rc, "commit");
        }
    }
    if (r->failed && (strcmp(r->err.code, "invalid_json") == 0 ||
                      strcmp(r->err.code, "body_too_large") == 0 ||
                      strcmp(r->err.code, "unknown_field") == 0 ||
                      strcmp(r->err.code, "missing_field") == 0 ||
                      strcmp(r->err.code, "invalid_field") == 0))
        mgr_metric_add(api->m, MGR_M_API_BAD_BODY, 1);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **con_cls)
{
    (void)version;
    struct api *api = cls;
    struct api_req *r = *con_cls;
    if (!r) {
        r = bn_calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->api = api;
        r->conn = conn;
        r->method = method;
        r->url = url;
        *con_cls = r;
        mgr_metric_add(api->m, MGR_M_API_REQUESTS, 1);
        int path_matched = 0;
        if (strlen(url) > BN_API_URL_MAX) {
            api_fail(r, 414, "uri_too_long", NULL, "the URL is longer than %u bytes",
                     (unsigned)BN_API_URL_MAX);
        } else {
            r->route = route_find(r, method, url, &path_matched);
            if (!r->route && path_matched)
                api_fail(r, 405, "method_not_allowed", NULL, "%s is not allowed on %s", method,
                         url);
            else if (!r->route)
                api_fail(r, 404, "not_found", NULL, "no route %s %s", method, url);
        }
        if (!r->failed && MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) >
                              BN_API_QUERY_ARGS_MAX)
            api_fail(r, 400, "invalid_parameter", NULL, "more than %u query arguments",
                     (unsigned)BN_API_QUERY_ARGS_MAX);
        /* Public routes (login) take small bodies: nobody is known yet. */
        r->body_max = !r->route                           ? BN_API_BODY_MAX
                      : (r->route->flags & API_F_PUBLIC) ? BN_API_PUBLIC_BODY_MAX
                      : (r->route->flags & API_F_IMPORT) ? BN_API_IMPORT_BODY_MAX
                                                         : BN_API_BODY_MAX;
        bn_buf_init(&r->body, r->body_max);
        bn_buf_init(&r->text, BN_API_RESPONSE_MAX);
        /* Credentials and role are checked on the headers, before any body is read: an
         * unauthenticated or unauthorised caller cannot make the server buffer a body. */
        if (!r->failed && !(r->route->flags & API_F_PUBLIC)) {
            r->st = api_store_get(api);
            if (!r->st)
                api_fail(r, 503, "unavailable", NULL, "the store cannot be opened");
            else
                (void)check_caller(r);
            api_store_put(api, r->st);
            r->st = NULL;
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!r->failed && cl && strtoull(cl, NULL, 10) > r->body_max)
            r->body_too_big = 1;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!r->body_too_big && !r->body_nomem && !r->failed) {
            int rc = bn_buf_append(&r->body, upload_data, *upload_data_size);
            if (rc == BN_ETOOBIG)
                r->body_too_big = 1;
            else if (rc < 0)
                r->body_nomem = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!r->failed)
        dispatch(r);
    /* The handle goes back before the reply is sent: a slow reader does not hold one, so
     * the pool never grows past the number of server threads. */
    api_store_put(api, r->st);
    r->st = NULL;
    return send_reply(r);
}

/* ---- the shipped rules (metadata for GET /api/v1/rules) -------------------------------- */

static void
rules_diag(void *ctx, const struct bn_diag *d)
{
    (void)d;
    (*(size_t *)ctx)++;
}

static int
meta_cmp(const void *a, const void *b)
{
    return strcmp(((const struct api_rule_meta *)a)->id, ((const struct api_rule_meta *)b)->id);
}

static void
rules_meta_free(struct api *api)
{
    for (size_t i = 0; i < api->nrules; i++) {
        struct api_rule_meta *m = &api->rules[i];
        bn_free(m->id);
        bn_free(m->title);
        bn_free(m->level);
        bn_free(m->tags);
        bn_free(m->kind);
    }
    bn_free(api->rules);
    api->rules = NULL;
    api->nrules = 0;
}

/* Parses the rules once (metadata only: detection compiles its own copy). */
static int
rules_meta_load(struct api *api, const char *const *paths, size_t npaths)
{
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    int rc = sigma_parse_paths(paths, npaths, &rules, &n, rules_diag, &api->rules_failed);
    if (rc == 0 && n > 0 && !(api->rules = bn_calloc(n, sizeof(*api->rules))))
        rc = BN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct sigma_rule *r = rules[i];
        if (rc == 0 && r->id && r->id[0]) {
            struct api_rule_meta *m = &api->rules[api->nrules];
            struct bn_buf tags;
            bn_buf_init(&tags, 4096);
            for (uint32_t t = 0; t < r->ntags && tags.len < 3800; t++)
                (void)bn_buf_printf(&tags, "%s%s", t ? "," : "", r->tags[t]);
            m->id = bn_strdup(r->id);
            m->title = bn_strdup(r->title ? r->title : "");
            m->level = bn_strdup(sigma_level_name(r->level));
            m->tags = bn_strdup(tags.p ? tags.p : "");
            m->kind = bn_strdup(r->kind == SIGMA_KIND_CORRELATION ? "correlation"
                                : r->kind == SIGMA_KIND_FILTER    ? "filter"
                                                             : "detection");
            bn_buf_release(&tags);
            api->nrules++;
            if (!m->id || !m->title || !m->level || !m->tags || !m->kind)
                rc = BN_ENOMEM;
        }
        sigma_rule_free(rules[i]);
    }
    bn_free(rules);
    if (rc == 0 && api->nrules > 1)
        qsort(api->rules, api->nrules, sizeof(*api->rules), meta_cmp);
    if (rc == 0)
        BN_INFO(MOD, "%zu rules listed, %zu rule documents did not parse", api->nrules,
                api->rules_failed);
    return rc;
}

/* ---- start / stop ---------------------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap) BN_PRINTF(2, 0);

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    BN_WARN(MOD, "libmicrohttpd: %s", msg);
}

int
api_start(const struct api_config *cfg, struct api **out)
{
    *out = NULL;
    if (!cfg || !cfg->data_dir)
        return BN_EINVAL;
    struct api *api = bn_calloc(1, sizeof(*api));
    if (!api)
        return BN_ENOMEM;
    pthread_mutex_init(&api->mu, NULL);
    pthread_mutex_init(&api->login_mu, NULL);
    api->m = cfg->metrics ? cfg->metrics : &api->own_metrics;
    api->session_ttl_ns = (cfg->session_ttl_s > 0 ? cfg->session_ttl_s : 8 * 3600) *
                          (int64_t)1000000000;
    api->data_dir = bn_strdup(cfg->data_dir);
    api->on_change = cfg->on_change;
    api->on_change_ctx = cfg->on_change_ctx;
    if (!api->data_dir) {
        api_stop(api);
        return BN_ENOMEM;
    }
    if (cfg->rule_paths && cfg->nrule_paths > 0) {
        int rc = rules_meta_load(api, cfg->rule_paths, cfg->nrule_paths);
        if (rc < 0) {
            BN_ERROR(MOD, "cannot list the rules: %s", bn_strerror(rc));
            api_stop(api);
            return rc;
        }
    }
    /* Open one handle now: a store that cannot open fails the start, not the first call. */
    struct store *st = api_store_get(api);
    if (!st) {
        api_stop(api);
        return BN_EIO;
    }
    api_store_put(api, st);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    const char *host = cfg->listen_host ? cfg->listen_host : "127.0.0.1";
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(cfg->port);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        BN_ERROR(MOD, "cannot listen on '%s': not a numeric IPv4 or IPv6 address", host);
        api_stop(api);
        return BN_EINVAL;
    }
    unsigned threads = cfg->threads ? cfg->threads : 2;
    api->daemon = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        api, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)BN_API_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(BN_API_HEADER_MAX + 16384),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, api, MHD_OPTION_END);
    if (!api->daemon) {
        BN_ERROR(MOD, "cannot start the API server on %s:%u", host, (unsigned)cfg->port);
        api_stop(api);
        return BN_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    api->port = di ? di->port : cfg->port;
    BN_INFO(MOD, "API listening on %s:%u", host, (unsigned)api->port);
    *out = api;
    return 0;
}

void
api_stop(struct api *api)
{
    if (!api)
        return;
    if (api->daemon)
        MHD_stop_daemon(api->daemon);
    for (size_t i = 0; i < api->nstores; i++)
        store_close(api->stores[i]);
    bn_free(api->stores);
    pthread_mutex_destroy(&api->mu);
    pthread_mutex_destroy(&api->login_mu);
    rules_meta_free(api);
    bn_free(api->data_dir);
    bn_free(api);
}

uint16_t
api_port(const struct api *api)
{
    return api ? api->port : 0;
}

int64_t api__now_ns(void);
int64_t
api__now_ns(void)
{
    return now_ns();
}

int
api_bootstrap(const char *data_dir, const char *tenant_name, const char *admin_name,
              char *password, size_t password_size)
{
    if (!data_dir || !admin_name || !password || password_size < 33)
        return BN_EINVAL;
    password[0] = '\0';
    struct store *st = NULL;
    struct store_err err = {{0}};
    int rc = store_open(&st, data_dir, &err);
    if (rc < 0) {
        BN_ERROR(MOD, "cannot open the store in '%s': %s", data_dir, err.msg);
        return rc;
    }
    struct store_user u;
    if (store_user_by_name(st, admin_name, &u) == 0) {
        store_close(st);
        return BN_EEXIST;
    }
    if (tenant_name) {
        struct store_tenant t;
        if (store_tenant_by_name(st, tenant_name, &t) == BN_ENOTFOUND) {
            memset(&t, 0, sizeof(t));
            snprintf(t.name, sizeof(t.name), "%s", tenant_name);
            t.mode = STORE_MODE_SEMI;
            t.notify_min_severity = 3;
            t.retention_days = 90;
            t.created_ns = now_ns();
            int64_t tid;
            rc = store_tenant_create(st, &t, &tid);
            if (rc < 0)
                goto out;
            store_audit(st, tid, "bootstrap", "tenant.create", tenant_name, "{}");
        }
    }
    char pw[64];
    rc = auth_password_new(pw, sizeof(pw));
    if (rc < 0)
        goto out;
    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "%s", admin_name);
    u.role = STORE_ROLE_PROVIDER_ADMIN;
    u.created_ns = now_ns();
    rc = auth_password_hash(pw, u.pwhash, sizeof(u.pwhash));
    if (rc < 0)
        goto out;
    int64_t uid;
    rc = store_user_create(st, &u, &uid);
    if (rc < 0)
        goto out;
    store_audit(st, 0, "bootstrap", "user.create", admin_name, "{\"role\":\"provider_admin\"}");
    snprintf(password, password_size, "%s", pw);
out:
    store_close(st);
    return rc;
}

/* ---- helpers shared by the handlers ---------------------------------------------------- */

void
api_scope_caller(const struct api_req *r, struct store_scope *sc, int64_t *idbuf)
{
    memset(sc, 0, sizeof(*sc));
    if (auth_is_provider(&r->who)) {
        sc->all = 1;
        return;
    }
    *idbuf = r->who.tenant_id;
    sc->ids = idbuf;
    sc->n = 1;
}

int
api_scope(struct api_req *r, struct store_scope *sc, int64_t *idbuf)
{
    api_scope_caller(r, sc, idbuf);
    int64_t want = 0;
    int rc = api_query_int(r, "tenant_id", 1, INT64_MAX, 0, &want);
    if (rc < 0)
        return rc;
    if (want == 0)
        return 0;
    if (!auth_tenant_allowed(&r->who, want)) {
        mgr_metric_add(r->api->m, MGR_M_API_DENIED, 1);
        return api_fail(r, 403, "forbidden", "tenant_id", "tenant %" PRId64 " is not yours",
                        want);
    }
    *idbuf = want;
    sc->all = 0;
    sc->ids = idbuf;
    sc->n = 1;
    return 0;
}

json_t *
api_body(struct api_req *r, const char *const *allowed)
{
    struct api_error e = {0};
    json_t *j = api_body_parse(r->body.p ? r->body.p : "", r->body.len, r->body_max, &e);
    if (j && allowed && api_body_keys(j, allowed, &e) < 0) {
        json_decref(j);
        j = NULL;
    }
    if (!j) {
        api_fail(r, e.status, e.code, e.field[0] ? e.field : NULL, "%s", e.message);
        return NULL;
    }
    return j;
}

int
api_query_time(struct api_req *r, const char *name, int64_t *out)
{
    const char *s = api_query(r, name);
    *out = 0;
    if (!s)
        return 0;
    if (bn_time_parse(s, strlen(s), out) < 0)
        return api_fail(r, 400, "invalid_parameter", name,
                        "query argument '%s' must be an RFC 3339 time or epoch seconds", name);
    return 0;
}

json_t *
api_jtime(int64_t ns)
{
    if (ns == 0)
        return json_null();
    char buf[40];
    return json_string(bn_time_format(ns, buf, sizeof(buf)));
}
