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
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/timeutil.h"

#include "agent/respond.h"
#include "agent/respond_baseline.h"
#include "agent/respond_block.h"
#include "agent/respond_forensic.h"
#include "agent/respond_isolate.h"
#include "agent/respond_log.h"
#include "agent/respond_proc.h"
#include "agent/respond_scan.h"
#include "agent/respond_vault.h"

struct respond {
    pthread_mutex_t lock;
    respond_event_fn ev_fn;
    void *ev_arg;
    struct respond_stats st;
    char state_dir[1024];
    char host[256];
    char manager[300]; /* the enrolled manager "host:port": isolate keeps it reachable */
    /* executor modules: NULL when it could not start here (the reason in *_err) */
    struct resp_proc *proc;
    struct resp_isolate *iso;
    struct resp_block *block;
    struct resp_vault *vault;
    struct resp_baseline *base;
    struct resp_scan *scan;
    struct resp_forensic *forensic;
    char proc_err[120], iso_err[120], block_err[120], vault_err[120], base_err[120];
    char scan_err[120], forensic_err[120];
};

static int refuse(struct bn_buf *out, const char *msg);

/* An action of a module that did not start: a failed result with the reason. */
static int
unavailable(struct bn_buf *out, const char *module, const char *why)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "%s actions are unavailable on this host: %s", module, why);
    int rc = refuse(out, msg);
    return rc == BN_EINVAL ? 0 : rc;
}

#define WRAP(type, mod, fn, name)                                                                  \
    static int act_##type(struct respond *r, const char *p, size_t n, struct bn_buf *out)          \
    {                                                                                              \
        if (!r->mod)                                                                               \
            return unavailable(out, name, r->mod##_err);                                           \
        return fn(r->mod, p, n, out);                                                              \
    }

WRAP(kill, proc, resp_kill, "process")
WRAP(kill_tree, proc, resp_kill_tree, "process")
WRAP(suspend, proc, resp_suspend, "process")
WRAP(resume, proc, resp_resume, "process")
WRAP(release, iso, resp_release, "isolation")
WRAP(isolation_status, iso, resp_isolation_status, "isolation")
WRAP(block_add, block, resp_block_add, "exec blocking")
WRAP(block_remove, block, resp_block_remove, "exec blocking")
WRAP(block_list, block, resp_block_list, "exec blocking")
WRAP(quarantine, vault, resp_quarantine, "vault")
WRAP(unquarantine, vault, resp_unquarantine, "vault")
WRAP(vault_list, vault, resp_vault_list, "vault")
WRAP(baseline_snapshot, base, resp_baseline_snapshot, "baseline")
WRAP(baseline_list, base, resp_baseline_list, "baseline")
WRAP(baseline_diff, base, resp_baseline_diff, "baseline")
WRAP(baseline_restore, base, resp_baseline_restore, "baseline")
WRAP(baseline_approve, base, resp_baseline_approve, "baseline")
WRAP(scan, scan, resp_scan, "scan")
WRAP(forensics, forensic, resp_forensics, "forensics")

/*
 * isolate: the manager the agent is enrolled with stays reachable. A request without a
 * "manager" list gets the enrolled endpoint added (the manager's playbook does not know
 * which of its addresses this agent uses).
 */
static int
act_isolate(struct respond *r, const char *p, size_t n, struct bn_buf *out)
{
    if (!r->iso)
        return unavailable(out, "isolation", r->iso_err);
    json_t *o = json_loadb(p, n, 0, NULL);
    int rc;
    if (o && json_is_object(o) && !json_object_get(o, "manager") && r->manager[0]) {
        json_object_set_new(o, "manager", json_string(r->manager));
        char *s = json_dumps(o, JSON_COMPACT);
        rc = s ? resp_isolate(r->iso, s, strlen(s), out) : BN_ENOMEM;
        free(s);
    } else {
        rc = resp_isolate(r->iso, p, n, out);
    }
    json_decref(o);
    return rc;
}

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
    {"kill", act_kill},
    {"kill_tree", act_kill_tree},
    {"suspend", act_suspend},
    {"resume", act_resume},
    {"isolate", act_isolate},
    {"release", act_release},
    {"isolation_status", act_isolation_status},
    {"block_add", act_block_add},
    {"block_remove", act_block_remove},
    {"block_list", act_block_list},
    {"quarantine", act_quarantine},
    {"unquarantine", act_unquarantine},
    {"vault_list", act_vault_list},
    {"baseline_snapshot", act_baseline_snapshot},
    {"baseline_list", act_baseline_list},
    {"baseline_diff", act_baseline_diff},
    {"baseline_restore", act_baseline_restore},
    {"baseline_approve", act_baseline_approve},
    {"scan", act_scan},
    {"forensics", act_forensics},
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
    /* Each module in its own subdirectory of the state dir unless told otherwise. */
    char sd[1100], vd[1100], bd[1100];
    if (!r->state_dir[0]) /* never the current directory */
        snprintf(r->state_dir, sizeof(r->state_dir), "/var/lib/bannin-agent/respond");
    const char *base = r->state_dir;
    snprintf(sd, sizeof(sd), "%s", base);
    snprintf(vd, sizeof(vd), "%s/vault", base);
    snprintf(bd, sizeof(bd), "%s/baseline", base);
    struct respond_paths p = {sd, paths && paths->vault_dir ? paths->vault_dir : vd,
                              paths && paths->baseline_dir ? paths->baseline_dir : bd};
    if (mkdir(sd, 0700) != 0 && errno != EEXIST)
        BN_WARN("respond", "cannot create the state directory %s: %s", sd, strerror(errno));
    int rc;
#define START(mod, call, name)                                                                     \
    if ((rc = (call)) != 0) {                                                                      \
        snprintf(r->mod##_err, sizeof(r->mod##_err), "%s", bn_strerror(rc));                       \
        BN_WARN("respond", "%s actions unavailable: %s", name, bn_strerror(rc));                   \
        r->mod = NULL;                                                                             \
    }
    START(proc, resp_proc_new(&r->proc, &p), "process");
    START(iso, resp_isolate_new(&r->iso, &p), "isolation");
    START(block, resp_block_new(&r->block, &p), "exec blocking");
    START(vault, resp_vault_new(&r->vault, &p), "vault");
    START(base, resp_baseline_new(&r->base, &p), "baseline");
    START(scan, resp_scan_new(&r->scan, &p), "scan");
    START(forensic, resp_forensic_new(&r->forensic, &p), "forensics");
#undef START
    if (r->base && r->vault)
        resp_baseline_set_vault(r->base, r->vault);
    *out = r;
    return 0;
}

void
respond_free(struct respond *r)
{
    if (!r)
        return;
    resp_forensic_free(r->forensic);
    resp_scan_free(r->scan);
    resp_baseline_free(r->base);
    resp_vault_free(r->vault);
    resp_block_free(r->block);
    resp_isolate_free(r->iso);
    resp_proc_free(r->proc);
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
respond_set_manager(struct respond *r, const char *hostport)
{
    pthread_mutex_lock(&r->lock);
    snprintf(r->manager, sizeof(r->manager), "%s", hostport ? hostport : "");
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

/* ---- exec blocking and the first baseline (agent start) ---- */

static void
on_exec_denied(void *ctx, const struct resp_block_denial *d)
{
    struct respond *r = ctx;
    char ts[40];
    struct bn_buf b;
    bn_buf_init(&b, 16384);
    bn_time_format(now_ns(CLOCK_REALTIME), ts, sizeof(ts));
    int rc = bn_buf_printf(&b,
                           "{\"Channel\":\"Bannin/Response\",\"EventID\":%d,\"UtcTime\":\"%s\","
                           "\"logsource\":{\"product\":\"linux\",\"service\":\"bannin-response\"},"
                           "\"Action\":\"exec_denied\",\"ProcessId\":%d,\"Image\":\"",
                           RESPOND_EVENT_EXEC_DENIED, ts, (int)d->pid);
    if (!rc && d->path)
        rc = bn_buf_json_escape(&b, d->path, strlen(d->path));
    if (!rc)
        rc = bn_buf_printf(&b, "\",\"Hashes\":\"%s%s\",\"RuleKind\":\"",
                           d->sha256 ? "SHA256=" : "", d->sha256 ? d->sha256 : "");
    if (!rc && d->rule_kind)
        rc = bn_buf_json_escape(&b, d->rule_kind, strlen(d->rule_kind));
    if (!rc)
        rc = bn_buf_puts(&b, "\",\"Rule\":\"");
    if (!rc && d->rule)
        rc = bn_buf_json_escape(&b, d->rule, strlen(d->rule));
    if (!rc)
        rc = bn_buf_printf(&b, "\",\"RuleId\":%llu", (unsigned long long)d->rule_id);
    if (!rc && r->host[0]) {
        rc = bn_buf_puts(&b, ",\"Computer\":\"");
        if (!rc)
            rc = bn_buf_json_escape(&b, r->host, strlen(r->host));
        if (!rc)
            rc = bn_buf_putc(&b, '"');
    }
    if (!rc)
        rc = bn_buf_putc(&b, '}');
    if (rc) {
        BN_WARN("respond", "exec denial of pid %d not reported: %s", (int)d->pid,
                bn_strerror(rc));
    } else {
        BN_LOG(BN_LOG_INFO, "respond", "%s", b.p);
        if (r->ev_fn)
            r->ev_fn(r->ev_arg, b.p, b.len);
    }
    bn_buf_release(&b);
}

int
respond_block_setup(struct respond *r, const char *marks_csv, bool fail_closed,
                    uint32_t deadline_us)
{
    if (!r->block)
        return BN_DECLINED;
    const char *marks[BN_RESPOND_BLOCK_MARKS_MAX];
    char *copy = bn_strdup(marks_csv ? marks_csv : "");
    size_t n = 0;
    if (!copy)
        return BN_ENOMEM;
    for (char *p = copy; *p;) {
        while (*p == ',' || *p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        if (n == BN_ARRAY_SIZE(marks)) {
            bn_free(copy);
            BN_WARN("respond", "response.block_marks: more than %d entries",
                    BN_RESPOND_BLOCK_MARKS_MAX);
            return BN_ETOOBIG;
        }
        marks[n++] = p;
        while (*p && *p != ',')
            p++;
    }
    for (size_t i = 0; i < n; i++) { /* trailing blanks */
        char *e = (char *)marks[i] + strlen(marks[i]);
        while (e > marks[i] && e[-1] == ' ')
            *--e = '\0';
    }
    struct resp_block_conf c;
    memset(&c, 0, sizeof(c));
    c.marks = marks;
    c.n_marks = n;
    c.fail_closed = fail_closed;
    c.deadline_us = deadline_us;
    c.on_deny = on_exec_denied;
    c.deny_ctx = r;
    int rc = resp_block_configure(r->block, &c);
    bn_free(copy);
    if (rc)
        BN_WARN("respond", "exec blocking not armed: %s", bn_strerror(rc));
    return rc;
}

int
respond_baseline_first(struct respond *r)
{
    if (!r->base || resp_baseline_count(r->base) != 0)
        return 0;
    struct bn_buf b;
    bn_buf_init(&b, 1u << 20);
    int rc = resp_baseline_snapshot(r->base, "{}", 2, &b);
    if (rc)
        BN_WARN("respond", "first configuration baseline not taken: %s", bn_strerror(rc));
    else
        BN_INFO("respond", "first configuration baseline taken");
    bn_buf_release(&b);
    return rc;
}
