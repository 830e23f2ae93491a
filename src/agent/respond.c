/*
 * respond.c - the one entry point of response actions (respond.h): the dispatch table from
 * an action type to its executor module, the modules' lifetimes, parameter checks shared by
 * all actions, and the EventID 150 (request) / 151 (result) events.
 *
 * Actions run one at a time (a mutex): executors change host state (firewall, processes,
 * files) and are not written to race each other. Each executor bounds its own run time.
 *
 * Wiring a module: include its header, add its pointer to struct respond, create it in
 * respond_new (a module that cannot start here - no nftables, no fanotify - is left NULL and
 * its actions answer "unavailable" with the reason), free it in respond_free, and add one
 * wrapper and one table row per action type.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/timeutil.h"

#include "agent/respond.h"
#include "agent/respond_log.h"

struct respond {
    pthread_mutex_t lock;
    respond_event_fn ev_fn;
    void *ev_arg;
    struct respond_stats st;
    char state_dir[1024];
    char host[256];
};

/* ---- built-in actions -------------------------------------------------------------- */

/* capabilities: which action types this agent runs (the manager checks before sending). */
static int
act_capabilities(struct respond *r, const char *params, size_t len, struct bn_buf *out)
{
    (void)params;
    (void)len;
    int rc = bn_buf_puts(out, "{\"ok\":true,\"types\":");
    if (!rc)
        rc = respond_types_json(r, out);
    if (!rc)
        rc = bn_buf_putc(out, '}');
    return rc;
}

/* ---- the dispatch table -------------------------------------------------------------- */

struct action_def {
    const char *type;
    respond_fn fn;
};

static const struct action_def actions[] = {
    {"capabilities", act_capabilities},
};

#define N_ACTIONS (sizeof(actions) / sizeof(actions[0]))

static const struct action_def *
find_action(const char *type)
{
    for (size_t i = 0; i < N_ACTIONS; i++)
        if (strcmp(actions[i].type, type) == 0)
            return &actions[i];
    return NULL;
}

int
respond_types_json(const struct respond *r, struct bn_buf *out)
{
    (void)r;
    int rc = bn_buf_putc(out, '[');
    for (size_t i = 0; !rc && i < N_ACTIONS; i++)
        rc = bn_buf_printf(out, "%s\"%s\"", i ? "," : "", actions[i].type);
    if (!rc)
        rc = bn_buf_putc(out, ']');
    return rc;
}

/* ---- lifetime ------------------------------------------------------------------------ */

int
respond_new(struct respond **out, const struct respond_paths *paths)
{
    *out = NULL;
    struct respond *r = bn_calloc(1, sizeof(*r));
    if (!r)
        return BN_ENOMEM;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        bn_free(r);
        return BN_ENOMEM;
    }
    if (paths && paths->state_dir)
        snprintf(r->state_dir, sizeof(r->state_dir), "%s", paths->state_dir);
    *out = r;
    return 0;
}

void
respond_free(struct respond *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    bn_free(r);
}

void
respond_set_event_cb(struct respond *r, respond_event_fn fn, void *arg)
{
    pthread_mutex_lock(&r->lock);
    r->ev_fn = fn;
    r->ev_arg = arg;
    pthread_mutex_unlock(&r->lock);
}

void
respond_set_host(struct respond *r, const char *host)
{
    pthread_mutex_lock(&r->lock);
    snprintf(r->host, sizeof(r->host), "%s", host ? host : "");
    pthread_mutex_unlock(&r->lock);
}

void
respond_get_stats(struct respond *r, struct respond_stats *s)
{
    pthread_mutex_lock(&r->lock);
    *s = r->st;
    pthread_mutex_unlock(&r->lock);
}

/* ---- execution ----------------------------------------------------------------------- */

static int64_t
now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A refusal before any executor ran: {"ok":false,"error":"..."}. */
static int
refuse(struct bn_buf *out, const char *msg)
{
    int rc = bn_buf_puts(out, "{\"ok\":false,\"error\":\"");
    if (!rc)
        rc = bn_buf_json_escape(out, msg, strlen(msg));
    if (!rc)
        rc = bn_buf_puts(out, "\"}");
    return rc ? rc : BN_EINVAL;
}

static bool
type_ok(const char *type)
{
    size_t n = strlen(type);
    if (n == 0 || n > BN_RESPOND_TYPE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((type[i] >= 'a' && type[i] <= 'z') || type[i] == '_'))
            return false;
    return true;
}

/* Writes one event through the sink; json_part is a complete JSON value (params, result). */
static void
emit(struct respond *r, int id, uint64_t action_id, const char *source, const char *type,
     const char *key, const char *json_part, size_t json_len, const char *status,
     int64_t duration_us)
{
    char ts[40];
    struct bn_buf b;
    bn_buf_init(&b, BN_RESPOND_RESULT_MAX + 4096);
    bn_time_format(now_ns(CLOCK_REALTIME), ts, sizeof(ts));
    int rc = bn_buf_printf(&b,
                           "{\"Channel\":\"Bannin/Response\",\"EventID\":%d,\"UtcTime\":\"%s\","
                           "\"logsource\":{\"product\":\"linux\",\"service\":\"bannin-response\"},"
                           "\"ActionId\":%llu,\"Source\":\"",
                           id, ts, (unsigned long long)action_id);
    if (!rc)
        rc = bn_buf_json_escape(&b, source, strlen(source));
    if (!rc && r->host[0]) {
        rc = bn_buf_puts(&b, "\",\"Computer\":\"");
        if (!rc)
            rc = bn_buf_json_escape(&b, r->host, strlen(r->host));
    }
    if (!rc)
        rc = bn_buf_puts(&b, "\",\"Action\":\"");
    if (!rc)
        rc = bn_buf_json_escape(&b, type, strlen(type));
    if (!rc)
        rc = bn_buf_printf(&b, "\",\"%s\":", key);
    if (!rc)
        rc = bn_buf_append(&b, json_part, json_len);
    if (!rc && status)
        rc = bn_buf_printf(&b, ",\"Status\":\"%s\",\"DurationUs\":%lld", status,
                           (long long)duration_us);
    if (!rc)
        rc = bn_buf_putc(&b, '}');
    if (rc) {
        BN_WARN("respond", "event %d of action %s (id %llu) not written: %s", id, type,
                (unsigned long long)action_id, bn_strerror(rc));
    } else {
        BN_LOG(BN_LOG_INFO, "respond", "%s", b.p);
        if (r->ev_fn)
            r->ev_fn(r->ev_arg, b.p, b.len);
    }
    bn_buf_release(&b);
}

int
agent_respond_ex(struct respond *r, uint64_t action_id, const char *source, const char *type,
                 const char *params, size_t params_len, struct bn_buf *out)
{
    char why[300];
    size_t start = out->len;
    int rc;
    if (!source)
        source = "local";
    if (!type)
        type = "";
    pthread_mutex_lock(&r->lock);
    r->st.requested++;

    /* The request event carries the parameters only once they are known to be JSON. */
    json_error_t jerr;
    json_t *pj = NULL;
    const struct action_def *def = NULL;
    if (!type_ok(type)) {
        snprintf(why, sizeof(why), "action type '%.40s' is not a name of 1..%d letters a-z or _",
                 type, BN_RESPOND_TYPE_MAX);
        goto refused;
    }
    if (params_len > BN_RESPOND_PARAMS_MAX) {
        snprintf(why, sizeof(why), "%s: parameters are %zu bytes, limit %u", type, params_len,
                 BN_RESPOND_PARAMS_MAX);
        goto refused;
    }
    pj = json_loadb(params ? params : "", params_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!pj) {
        snprintf(why, sizeof(why), "%s: parameters are not JSON: %s at byte %d", type,
                 jerr.text, jerr.position);
        goto refused;
    }
    if (!json_is_object(pj)) {
        snprintf(why, sizeof(why), "%s: parameters must be a JSON object", type);
        goto refused;
    }
    json_decref(pj);
    pj = NULL;
    emit(r, RESPOND_EVENT_REQUEST, action_id, source, type, "Params", params, params_len, NULL,
         0);
    def = find_action(type);
    if (!def) {
        snprintf(why, sizeof(why), "unknown action type '%s' (this agent runs: see capabilities)",
                 type);
        goto refused_after_event;
    }

    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    rc = def->fn(r, params, params_len, out);
    int64_t dus = (now_ns(CLOCK_MONOTONIC) - t0) / 1000;
    if (rc == BN_ENOMEM || (rc && out->len == start)) {
        /* The executor could not write its result: say so in one. */
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
        snprintf(why, sizeof(why), "%s failed: %s", type, bn_strerror(rc));
        if (refuse(out, why) == BN_ENOMEM)
            rc = BN_ENOMEM;
    }
    const char *res = out->p ? out->p + start : "{}";
    size_t res_len = out->len - start;
    bool ok = false;
    json_t *rj = json_loadb(res, res_len, 0, NULL);
    if (rj && json_is_object(rj))
        ok = json_is_true(json_object_get(rj, "ok"));
    else if (rc == 0)
        BN_WARN("respond", "action %s wrote a result that is not a JSON object", type);
    json_decref(rj);
    if (rc == 0)
        r->st.ran++;
    else
        r->st.refused++;
    if (rc == 0 && !ok)
        r->st.failed_ok_false++;
    emit(r, RESPOND_EVENT_RESULT, action_id, source, type, "Result", res_len ? res : "{}",
         res_len ? res_len : 2, rc == 0 ? (ok ? "ok" : "failed") : "refused", dus);
    pthread_mutex_unlock(&r->lock);
    return rc;

refused:
    if (pj)
        json_decref(pj);
    emit(r, RESPOND_EVENT_REQUEST, action_id, source, type_ok(type) ? type : "invalid", "Params",
         "{}", 2, NULL, 0);
refused_after_event:
    r->st.refused++;
    out->len = start;
    if (out->p)
        out->p[start] = '\0';
    rc = refuse(out, why);
    {
        const char *rres = out->p ? out->p + start : "{}";
        size_t rlen = out->len - start;
        emit(r, RESPOND_EVENT_RESULT, action_id, source, type_ok(type) ? type : "invalid",
             "Result", rlen ? rres : "{}", rlen ? rlen : 2, "refused", 0);
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int
agent_respond(struct respond *r, const char *type, const char *params, size_t params_len,
              struct bn_buf *out)
{
    return agent_respond_ex(r, 0, "local", type, params, params_len, out);
}
