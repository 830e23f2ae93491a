/*
 * api_soc.c - the SOC handlers: event search, alerts (and suppression from an alert),
 * incidents (status, assignee, notes, timeline, affected hosts, ATT&CK tactics), rules
 * (state, Sigma upload validated by the libbannin parser and compiler), suppressions, IOC
 * lists, notification channels (+ "send test" through the outbox) and SOC metrics.
 * Reads and writes are scoped to the caller's tenants; state changes are audited.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "manager/api_int.h"
#include "manager/detect.h"
#include "manager/notify.h"
#include "manager/store.h"
#include "manager/triage.h"
#include "bannin/alloc.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/ioc.h"
#include "bannin/limits.h"
#include "bannin/sigma.h"
#include "bannin/timeutil.h"

#define NS_PER_S ((int64_t)1000000000)

static const char *const status_names[] = {"new",       "acknowledged", "investigating",
                                           "contained", "resolved",     "false_positive"};

static int
status_parse(const char *s)
{
    for (size_t i = 0; i < BN_ARRAY_SIZE(status_names); i++)
        if (strcmp(s, status_names[i]) == 0)
            return (int)i;
    return -1;
}

static json_t *
csv_array(const char *s)
{
    json_t *a = json_array();
    const char *p = s;
    while (a && p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
        if (n > 0)
            json_array_append_new(a, json_stringn(p, n));
        p = e ? e + 1 : NULL;
    }
    return a;
}

/* Ends a paged list handler: like api_reply_items, with the cursor of the next page (null
 * on the last). */
static int
page_reply(struct api_req *r, int rc, json_t *arr, const struct store_cursor *next, int more,
           const char *what)
{
    if (rc < 0) {
        json_decref(arr);
        return api_fail_rc(r, rc, what);
    }
    json_t *cur = json_null();
    if (more) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64, next->ts_ns, next->id);
        cur = json_string(buf);
    }
    return api_reply(r, 200, json_pack("{s:o,s:o}", "items", arr, "next_cursor", cur));
}

static int
cursor_arg(struct api_req *r, struct store_cursor *c)
{
    memset(c, 0, sizeof(*c));
    const char *s = api_query(r, "cursor");
    if (!s)
        return 0;
    long long ts, id;
    char tail;
    if (sscanf(s, "%lld:%lld%c", &ts, &id, &tail) != 2 || ts < 0 || id < 0)
        return api_fail(r, 400, "invalid_parameter", "cursor",
                        "cursor must be the next_cursor of the previous page");
    c->ts_ns = ts;
    c->id = id;
    return 0;
}

static int
common_list_args(struct api_req *r, struct store_scope *sc, int64_t *idb, int64_t *from,
                 int64_t *to, int64_t *limit, struct store_cursor *cur)
{
    if (api_scope(r, sc, idb) < 0 || api_query_time(r, "from", from) < 0 ||
        api_query_time(r, "to", to) < 0 ||
        api_query_int(r, "limit", 1, BN_API_PAGE_MAX, 100, limit) < 0 || cursor_arg(r, cur) < 0)
        return BN_EINVAL;
    return 0;
}

/* ---- events ---------------------------------------------------------------------------- */

static json_t *
event_json(const struct store_event *ev)
{
    json_t *body = ev->json ? json_loadb(ev->json, ev->json_len, 0, NULL) : NULL;
    return json_pack("{s:I,s:I,s:I,s:I,s:o,s:o,s:i,s:s?,s:s?,s:s?,s:o}", "id",
                     (json_int_t)ev->id, "tenant_id", (json_int_t)ev->tenant_id, "agent_id",
                     (json_int_t)ev->agent_id, "seq", (json_int_t)ev->seq, "time",
                     api_jtime(ev->ts_ns), "received_at", api_jtime(ev->received_ns),
                     "event_id", ev->event_id, "host", ev->host, "image", ev->image, "user",
                     ev->user, "event", body ? body : json_null());
}

static int
event_cb(void *ctx, const struct store_event *ev)
{
    return api_push(ctx, event_json(ev));
}

struct field_args {
    struct store_field_filter f[BN_STORE_FIELD_FILTERS_MAX];
    size_t n;
    int too_many;
    const char *bad;
};

static enum MHD_Result
field_arg_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct field_args *fa = cls;
    int op;
    const char *name;
    if (strncmp(key, "field.", 6) == 0) {
        op = STORE_FIELD_EQ;
        name = key + 6;
    } else if (strncmp(key, "contains.", 9) == 0) {
        op = STORE_FIELD_CONTAINS;
        name = key + 9;
    } else {
        return MHD_YES;
    }
    if (!*name || !value || strlen(name) > BN_STORE_FILTER_VALUE_MAX ||
        strlen(value) > BN_STORE_FILTER_VALUE_MAX) {
        fa->bad = key;
        return MHD_NO;
    }
    if (fa->n == BN_ARRAY_SIZE(fa->f)) {
        fa->too_many = 1;
        return MHD_NO;
    }
    fa->f[fa->n].field = name;
    fa->f[fa->n].value = value;
    fa->f[fa->n].op = op;
    fa->n++;
    return MHD_YES;
}

int
api_h_event_search(struct api_req *r)
{
    struct store_event_query q;
    memset(&q, 0, sizeof(q));
    int64_t idb, limit, agent_id, event_id;
    if (common_list_args(r, &q.scope, &idb, &q.from_ns, &q.to_ns, &limit, &q.after) < 0 ||
        api_query_int(r, "agent_id", 1, INT64_MAX, 0, &agent_id) < 0 ||
        api_query_int(r, "event_id", 1, 65535, 0, &event_id) < 0)
        return BN_EINVAL;
    struct field_args fa;
    memset(&fa, 0, sizeof(fa));
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, field_arg_cb, &fa);
    if (fa.too_many)
        return api_fail(r, 400, "invalid_parameter", "field",
                        "at most %u field filters", (unsigned)BN_STORE_FIELD_FILTERS_MAX);
    if (fa.bad)
        return api_fail(r, 400, "invalid_parameter", fa.bad,
                        "field filter '%.64s' needs a field name and a value of at most %u bytes",
                        fa.bad, (unsigned)BN_STORE_FILTER_VALUE_MAX);
    q.agent_id = agent_id;
    q.event_id = (int)event_id;
    q.host = api_query(r, "host");
    q.image_sub = api_query(r, "image");
    q.user = api_query(r, "user");
    q.fields = fa.f;
    q.nfields = fa.n;
    q.limit = (size_t)limit;
    struct api_collect c = {json_array(), r, 0};
    struct store_cursor next = {0, 0};
    int more = 0;
    int rc = c.arr ? store_event_search(r->st, &q, event_cb, &c, &next, &more) : BN_ENOMEM;
    return page_reply(r, rc, c.arr, &next, more, "event search");
}

struct find_sup {
    int64_t id;
    int64_t tenant_id;
    char rule_id[64];
    int found;
    json_t *json;
};

static json_t *suppression_json(const struct store_suppression *s);

static int
find_sup_cb(void *ctx, const struct store_suppression *s)
{
    struct find_sup *f = ctx;
    if (s->id != f->id)
        return 0;
    f->found = 1;
    f->tenant_id = s->tenant_id;
    snprintf(f->rule_id, sizeof(f->rule_id), "%s", s->rule_id);
    json_decref(f->json);
    f->json = suppression_json(s);
    return 1;
}

/* ---- alerts ---------------------------------------------------------------------------- */

static json_t *
alert_json(const struct store_alert *a)
{
    json_t *ctx = a->json ? json_loads(a->json, 0, NULL) : NULL;
    return json_pack("{s:I,s:I,s:I,s:I,s:s,s:s,s:i,s:i,s:o,s:o,s:I,s:o,s:o,s:o,s:s,s:s,s:s,"
                     "s:o}",
                     "id", (json_int_t)a->id, "tenant_id", (json_int_t)a->tenant_id, "agent_id",
                     (json_int_t)a->agent_id, "incident_id", (json_int_t)a->incident_id,
                     "rule_id", a->rule_id, "rule_title", a->rule_title, "level", a->level,
                     "score", a->score, "tactics", csv_array(a->tactics), "techniques",
                     csv_array(a->techniques), "count", (json_int_t)a->count, "first_seen",
                     api_jtime(a->first_ns), "last_seen", api_jtime(a->last_ns), "event_time",
                     api_jtime(a->event_ts_ns), "host", a->host, "user", a->user, "source",
                     a->source, "context", ctx ? ctx : json_null());
}

static int
alert_cb(void *ctx, const struct store_alert *a)
{
    return api_push(ctx, alert_json(a));
}

int
api_h_alert_list(struct api_req *r)
{
    struct store_alert_query q;
    memset(&q, 0, sizeof(q));
    int64_t idb, limit, min_level, incident_id, agent_id;
    if (common_list_args(r, &q.scope, &idb, &q.from_ns, &q.to_ns, &limit, &q.after) < 0 ||
        api_query_int(r, "min_level", 0, 4, 0, &min_level) < 0 ||
        api_query_int(r, "incident_id", -1, INT64_MAX, -1, &incident_id) < 0 ||
        api_query_int(r, "agent_id", 1, INT64_MAX, 0, &agent_id) < 0)
        return BN_EINVAL;
    q.rule_id = api_query(r, "rule_id");
    q.host = api_query(r, "host");
    q.source = api_query(r, "source");
    q.min_level = (int)min_level;
    q.incident_id = incident_id;
    q.agent_id = agent_id;
    q.limit = (size_t)limit;
    struct api_collect c = {json_array(), r, 0};
    struct store_cursor next = {0, 0};
    int more = 0;
    int rc = c.arr ? store_alert_list(r->st, &q, alert_cb, &c, &next, &more) : BN_ENOMEM;
    return page_reply(r, rc, c.arr, &next, more, "alerts");
}

static int
alert_load(struct api_req *r, struct store_alert *a)
{
    int64_t id, idb;
    if (api_param_id(r, "alert_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    int rc = store_alert_get(r->st, &sc, id, a);
    return rc < 0 ? api_fail_rc(r, rc, "alert") : 0;
}

int
api_h_alert_get(struct api_req *r)
{
    struct store_alert a;
    if (alert_load(r, &a) < 0)
        return BN_EINVAL;
    return api_reply(r, 200, alert_json(&a));
}

static json_t *
suppression_json(const struct store_suppression *s)
{
    json_t *f = s->fields_json ? json_loads(s->fields_json, 0, NULL) : NULL;
    return json_pack("{s:I,s:I,s:s,s:s,s:o,s:o,s:s,s:s,s:o,s:I}", "id", (json_int_t)s->id,
                     "tenant_id", (json_int_t)s->tenant_id, "host", s->host, "rule_id",
                     s->rule_id, "fields", f ? f : json_object(), "expires_at",
                     api_jtime(s->expires_ns), "reason", s->reason, "author", s->author,
                     "created_at", api_jtime(s->created_ns), "hits", (json_int_t)s->hits);
}

int
api_h_alert_suppress(struct api_req *r)
{
    static const char *const keys[] = {"reason", "expires_in_s", "with_host", "fields", NULL};
    struct store_alert a;
    if (alert_load(r, &a) < 0)
        return BN_EINVAL;
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *reason;
    int64_t ttl = 0;
    int with_host = 1, rc = 0;
    const char *names[32];
    size_t nnames = 0;
    if (api_body_str(b, "reason", 1, 511, &reason, &e) < 0 ||
        api_body_int(b, "expires_in_s", 0, 0, 3660 * 86400LL, &ttl, &e) < 0 ||
        api_body_bool(b, "with_host", 0, &with_host, &e) < 0) {
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
        goto out;
    }
    json_t *f = json_object_get(b, "fields");
    if (f) {
        size_t i;
        json_t *v;
        if (!json_is_array(f) || json_array_size(f) > BN_ARRAY_SIZE(names)) {
            rc = api_fail(r, 400, "invalid_field", "fields",
                          "field 'fields' must be an array of at most %zu field names",
                          BN_ARRAY_SIZE(names));
            goto out;
        }
        json_array_foreach(f, i, v) {
            const char *nm = json_string_value(v);
            if (!nm || !*nm || strlen(nm) > BN_FIELD_NAME_MAX) {
                rc = api_fail(r, 400, "invalid_field", "fields",
                              "fields[%zu] must be a field name of 1..%u bytes", i,
                              (unsigned)BN_FIELD_NAME_MAX);
                goto out;
            }
            names[nnames++] = nm;
        }
    }
    /* Triage builds the suppression (tenant, rule, host, the event's values of the named
     * fields) and audits it as "suppression.create". */
    int64_t idb, id, now = api__now_ns();
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    char err[256] = "";
    rc = triage_suppress_from_alert(r->st, &sc, a.id, nnames ? names : NULL, nnames, with_host,
                                    ttl ? now + ttl * NS_PER_S : 0, reason, r->who.name, now,
                                    &id, err, sizeof(err));
    if (rc == BN_EINVAL) {
        rc = api_fail(r, 400, "invalid_field", "fields", "%s",
                      err[0] ? err : "the alert cannot be suppressed so");
        goto out;
    }
    if (rc < 0) {
        rc = api_fail_rc(r, rc, "suppression");
        goto out;
    }
    api_changed(r->api, API_CHANGE_SUPPRESSIONS);
    /* Read it back through the list to answer with what was stored. */
    struct find_sup fs = {.id = id};
    rc = store_suppression_list(r->st, &sc, 1, now, find_sup_cb, &fs);
    if (rc < 0 || !fs.found) {
        rc = api_fail_rc(r, rc < 0 ? rc : BN_ENOTFOUND, "suppression");
        goto out;
    }
    rc = api_reply(r, 201, fs.json);
    fs.json = NULL;
out:
    json_decref(b);
    return rc;
}

/* ---- incidents ------------------------------------------------------------------------- */

static json_t *
incident_json(const struct store_incident *i)
{
    return json_pack("{s:I,s:I,s:s,s:i,s:s,s:I,s:s,s:o,s:I,s:o,s:o,s:o,s:o,s:o}", "id",
                     (json_int_t)i->id, "tenant_id", (json_int_t)i->tenant_id, "title",
                     i->title, "severity", i->severity, "status",
                     (unsigned)i->status < BN_ARRAY_SIZE(status_names) ? status_names[i->status]
                                                                     : "unknown",
                     "assignee_id", (json_int_t)i->assignee_id, "group_key", i->group_key,
                     "tactics", csv_array(i->tactics), "alert_count",
                     (json_int_t)i->alert_count, "first_seen", api_jtime(i->first_ns),
                     "last_seen", api_jtime(i->last_ns), "created_at", api_jtime(i->created_ns),
                     "acknowledged_at", api_jtime(i->acknowledged_ns), "resolved_at",
                     api_jtime(i->resolved_ns));
}

static int
incident_cb(void *ctx, const struct store_incident *i)
{
    return api_push(ctx, incident_json(i));
}

int
api_h_incident_list(struct api_req *r)
{
    struct store_incident_query q;
    memset(&q, 0, sizeof(q));
    int64_t idb, limit, min_sev, assignee;
    if (common_list_args(r, &q.scope, &idb, &q.from_ns, &q.to_ns, &limit, &q.after) < 0 ||
        api_query_int(r, "min_severity", 0, 4, 0, &min_sev) < 0 ||
        api_query_int(r, "assignee_id", 1, INT64_MAX, 0, &assignee) < 0)
        return BN_EINVAL;
    q.status = -1;
    const char *st = api_query(r, "status");
    if (st && strcmp(st, "open") == 0)
        q.status = -2;
    else if (st && (q.status = status_parse(st)) < 0)
        return api_fail(r, 400, "invalid_parameter", "status",
                        "status must be open, new, acknowledged, investigating, contained, "
                        "resolved or false_positive");
    q.min_severity = (int)min_sev;
    q.assignee_id = assignee;
    q.limit = (size_t)limit;
    struct api_collect c = {json_array(), r, 0};
    struct store_cursor next = {0, 0};
    int more = 0;
    int rc = c.arr ? store_incident_list(r->st, &q, incident_cb, &c, &next, &more) : BN_ENOMEM;
    return page_reply(r, rc, c.arr, &next, more, "incidents");
}

static int
incident_load(struct api_req *r, struct store_incident *inc, struct store_scope *sc,
              int64_t *idb)
{
    int64_t id;
    if (api_param_id(r, "incident_id", &id) < 0)
        return BN_EINVAL;
    api_scope_caller(r, sc, idb);
    int rc = store_incident_get(r->st, sc, id, inc);
    return rc < 0 ? api_fail_rc(r, rc, "incident") : 0;
}

static int
host_cb(void *ctx, const char *host, int64_t alerts, int64_t first_ns, int64_t last_ns)
{
    return api_push(ctx,
                    json_pack("{s:s,s:I,s:o,s:o}", "host", host, "alerts", (json_int_t)alerts,
                              "first_seen", api_jtime(first_ns), "last_seen", api_jtime(last_ns)));
}

static int
note_cb(void *ctx, const struct store_note *n)
{
    return api_push(ctx, json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)n->id, "author",
                                   n->author, "text", n->text ? n->text : "", "created_at",
                                   api_jtime(n->created_ns)));
}

int
api_h_incident_get(struct api_req *r)
{
    struct store_incident inc;
    struct store_scope sc;
    int64_t idb;
    if (incident_load(r, &inc, &sc, &idb) < 0)
        return BN_EINVAL;
    struct api_collect hosts = {json_array(), r, 0}, notes = {json_array(), r, 0};
    int rc = hosts.arr && notes.arr ? 0 : BN_ENOMEM;
    if (rc == 0)
        rc = store_incident_hosts(r->st, &sc, inc.id, host_cb, &hosts);
    if (rc == 0)
        rc = store_incident_notes(r->st, &sc, inc.id, note_cb, &notes);
    json_t *j = rc == 0 ? incident_json(&inc) : NULL;
    if (rc < 0 || !j) {
        json_decref(hosts.arr);
        json_decref(notes.arr);
        json_decref(j);
        return api_fail_rc(r, rc < 0 ? rc : BN_ENOMEM, "incident");
    }
    json_object_set_new(j, "hosts", hosts.arr);
    json_object_set_new(j, "notes", notes.arr);
    return api_reply(r, 200, j);
}

int
api_h_incident_update(struct api_req *r)
{
    static const char *const keys[] = {"status", "assignee_id", NULL};
    struct store_incident inc;
    struct store_scope sc;
    int64_t idb;
    if (incident_load(r, &inc, &sc, &idb) < 0)
        return BN_EINVAL;
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *st = NULL;
    int64_t assignee = -1;
    int rc = 0;
    if (api_body_str(b, "status", 0, 32, &st, &e) < 0 ||
        api_body_int(b, "assignee_id", 0, 0, INT64_MAX, &assignee, &e) < 0) {
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
        goto out;
    }
    if (!st && assignee < 0) {
        rc = api_fail(r, 400, "missing_field", "status", "give a status, an assignee_id or both");
        goto out;
    }
    int status = -1;
    if (st && (status = status_parse(st)) < 0) {
        rc = api_fail(r, 400, "invalid_field", "status",
                      "status must be new, acknowledged, investigating, contained, resolved or "
                      "false_positive");
        goto out;
    }
    if ((rc = api_tx(r)) < 0)
        goto out;
    if (assignee > 0) {
        /* The assignee is a provider user or a user of the incident's tenant. */
        struct store_scope all = {.all = 1};
        struct store_user u;
        if (store_user_get(r->st, &all, assignee, &u) < 0 || u.disabled ||
            (u.tenant_id != 0 && u.tenant_id != inc.tenant_id)) {
            rc = api_fail(r, 400, "invalid_field", "assignee_id",
                          "user %" PRId64 " cannot be assigned this incident", assignee);
            goto out;
        }
        if ((rc = store_incident_set_assignee(r->st, &sc, inc.id, assignee)) < 0) {
            rc = api_fail_rc(r, rc, "incident");
            goto out;
        }
    } else if (assignee == 0 &&
               (rc = store_incident_set_assignee(r->st, &sc, inc.id, 0)) < 0) {
        rc = api_fail_rc(r, rc, "incident");
        goto out;
    }
    if (status >= 0 &&
        (rc = store_incident_set_status(r->st, &sc, inc.id, status, api__now_ns())) < 0) {
        rc = api_fail_rc(r, rc, "incident");
        goto out;
    }
    if ((rc = store_incident_get(r->st, &sc, inc.id, &inc)) < 0) {
        rc = api_fail_rc(r, rc, "incident");
        goto out;
    }
    api_audit(r, inc.tenant_id, "incident.update", inc.title, json_deep_copy(b));
    rc = api_reply(r, 200, incident_json(&inc));
out:
    json_decref(b);
    return rc;
}

int
api_h_incident_note(struct api_req *r)
{
    static const char *const keys[] = {"text", NULL};
    struct store_incident inc;
    struct store_scope sc;
    int64_t idb;
    if (incident_load(r, &inc, &sc, &idb) < 0)
        return BN_EINVAL;
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *text;
    int rc = api_body_str(b, "text", 1, 16384, &text, &e);
    if (rc < 0) {
        json_decref(b);
        return api_fail(r, e.status, e.code, e.field, "%s", e.message);
    }
    int64_t now = api__now_ns(), id;
    rc = api_tx(r) < 0 ? BN_EINVAL
                       : store_incident_note_add(r->st, &sc, inc.id, r->who.name, text, now, &id);
    if (rc < 0) {
        json_decref(b);
        return api_fail_rc(r, rc, "note");
    }
    api_audit(r, inc.tenant_id, "incident.note", inc.title,
              json_pack("{s:I,s:I}", "incident_id", (json_int_t)inc.id, "note_id", id));
    rc = api_reply(r, 201, json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)id, "author",
                                     r->who.name, "text", text, "created_at", api_jtime(now)));
    json_decref(b);
    return rc;
}

static int
tl_alert_cb(void *ctx, const struct store_alert *a)
{
    json_t *j = alert_json(a);
    if (j)
        json_object_set_new(j, "kind", json_string("alert"));
    return api_push(ctx, j);
}

static int
tl_event_cb(void *ctx, const struct store_event *ev)
{
    json_t *j = event_json(ev);
    if (j)
        json_object_set_new(j, "kind", json_string("event"));
    return api_push(ctx, j);
}

int
api_h_incident_timeline(struct api_req *r)
{
    struct store_incident inc;
    struct store_scope sc;
    int64_t idb;
    if (incident_load(r, &inc, &sc, &idb) < 0)
        return BN_EINVAL;
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_incident_timeline(r->st, &sc, inc.id, tl_alert_cb, tl_event_cb, &c)
                   : BN_ENOMEM;
    if (rc < 0) {
        json_decref(c.arr);
        return api_fail_rc(r, rc, "timeline");
    }
    return api_reply(r, 200, json_pack("{s:I,s:o,s:o}", "incident_id", (json_int_t)inc.id,
                                       "tactics", csv_array(inc.tactics), "items", c.arr));
}

/* ---- rules ----------------------------------------------------------------------------- */

/* Effective state of each rule for one tenant: its own row, else the all-tenants row. */
struct rule_states {
    json_t *arr;                 /* rows for the reply */
    json_t *own;                 /* rule_id -> enabled, rows of the tenant */
    json_t *global;              /* rule_id -> enabled, rows of tenant 0 */
    int64_t tenant;
};

static int
rule_state_cb(void *ctx, const struct store_rule_state *st)
{
    struct rule_states *rs = ctx;
    if (!rs->arr) {
        /* only the all-tenants rows, for the effective state */
        if (st->tenant_id == 0 &&
            json_object_set_new(rs->global, st->rule_id, json_boolean(st->enabled)) < 0)
            return BN_ENOMEM;
        return 0;
    }
    json_t *row = json_pack("{s:I,s:s,s:b,s:s,s:o}", "tenant_id", (json_int_t)st->tenant_id,
                            "rule_id", st->rule_id, "enabled", st->enabled, "updated_by",
                            st->updated_by, "updated_at", api_jtime(st->updated_ns));
    if (!row || json_array_append_new(rs->arr, row) < 0)
        return BN_ENOMEM;
    json_t *map = st->tenant_id == 0 ? rs->global
                  : st->tenant_id == rs->tenant ? rs->own
                                                : NULL;
    if (map && json_object_set_new(map, st->rule_id, json_boolean(st->enabled)) < 0)
        return BN_ENOMEM;
    return 0;
}

static int
rule_upload_cb(void *ctx, const struct store_rule_upload *u)
{
    struct api_collect *c = ctx;
    return api_push(c, json_pack("{s:I,s:I,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)u->id,
                                 "tenant_id", (json_int_t)u->tenant_id, "rule_id", u->rule_id,
                                 "title", u->title, "author", u->author, "created_at",
                                 api_jtime(u->created_ns), "yaml", u->yaml ? u->yaml : ""));
}

static int
icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return n == 0;
}

int
api_h_rule_list(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0)
        return BN_EINVAL;
    const char *q = api_query(r, "q");
    struct rule_states rs = {json_array(), json_object(), json_object(), sc.all ? 0 : idb};
    struct api_collect ups = {json_array(), r, 0};
    json_t *shipped = json_array();
    int rc = rs.arr && rs.own && rs.global && ups.arr && shipped ? 0 : BN_ENOMEM;
    if (rc == 0)
        rc = store_rule_states(r->st, &sc, rule_state_cb, &rs);
    if (rc == 0 && !sc.all) {
        /* The all-tenants rows (tenant 0) apply to the tenant too; a customer's scope does not
         * return them, so they are read for the effective state only, not listed. */
        struct store_scope all = {.all = 1};
        struct rule_states g = {NULL, NULL, rs.global, -1};
        rc = store_rule_states(r->st, &all, rule_state_cb, &g);
    }
    if (rc == 0)
        rc = store_rule_uploads(r->st, &sc, rule_upload_cb, &ups);
    /* The shipped rules with their effective state for the tenant in view (providers with no
     * tenant_id: the all-tenants state). */
    for (size_t i = 0; rc == 0 && i < r->api->nrules; i++) {
        const struct api_rule_meta *m = &r->api->rules[i];
        if (q && !icontains(m->id, q) && !icontains(m->title, q) && !icontains(m->tags, q))
            continue;
        json_t *en = json_object_get(rs.own, m->id);
        if (!en)
            en = json_object_get(rs.global, m->id);
        json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:o,s:b}", "rule_id", m->id, "title",
                                m->title, "level", m->level, "kind", m->kind, "tags",
                                csv_array(m->tags), "enabled", en ? json_is_true(en) : 1);
        if (!row || json_array_append_new(shipped, row) < 0)
            rc = BN_ENOMEM;
    }
    json_decref(rs.own);
    json_decref(rs.global);
    if (rc < 0) {
        json_decref(rs.arr);
        json_decref(ups.arr);
        json_decref(shipped);
        return api_fail_rc(r, rc, "rules");
    }
    return api_reply(r, 200, json_pack("{s:o,s:I,s:o,s:o}", "rules", shipped, "rules_failed",
                                       (json_int_t)r->api->rules_failed, "states", rs.arr,
                                       "uploads", ups.arr));
}

static int
valid_rule_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

int
api_h_rule_upload(struct api_req *r)
{
    static const char *const keys[] = {"yaml", "tenant_id", NULL};
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *yaml;
    int64_t tid = 0;
    int rc;
    if (api_body_str(b, "yaml", 1, BN_RULE_FILE_MAX, &yaml, &e) < 0 ||
        api_body_int(b, "tenant_id", 0, 0, INT64_MAX, &tid, &e) < 0) {
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
        goto out;
    }
    if (tid != 0 && (rc = api_tenant_arg(r, tid, &tid)) < 0)
        goto out;
    if (tid != 0) {
        struct store_tenant t;
        if (store_tenant_get(r->st, tid, &t) < 0) {
            rc = api_fail(r, 400, "invalid_field", "tenant_id",
                          "tenant %" PRId64 " does not exist", tid);
            goto out;
        }
    }
    /* Detection's own validation: it parses and compiles against the shipped mappings, so
     * what is accepted here loads in the pipeline. */
    struct store_rule_upload up;
    memset(&up, 0, sizeof(up));
    struct bn_diag d;
    bn_diag_clear(&d);
    rc = detect_rule_validate(yaml, strlen(yaml), up.rule_id, sizeof(up.rule_id), up.title,
                              sizeof(up.title), &d);
    if (rc == BN_ENOMEM) {
        rc = api_fail_rc(r, rc, "rule");
        goto out;
    }
    if (rc < 0) {
        mgr_metric_add(r->api->m, MGR_M_API_BAD_BODY, 1);
        rc = api_fail(r, 422, "invalid_rule", "yaml", "yaml:%lu:%lu: %s", d.line, d.col,
                      d.msg[0] ? d.msg : bn_strerror(rc));
        goto out;
    }
    if (!valid_rule_id(up.rule_id)) {
        rc = api_fail(r, 422, "invalid_rule", "yaml",
                      "the rule's id must be 1..63 letters, digits, '-', '_' or '.'");
        goto out;
    }
    up.tenant_id = tid;
    snprintf(up.author, sizeof(up.author), "%s", r->who.name);
    up.yaml = yaml;
    up.created_ns = api__now_ns();
    if ((rc = api_tx(r)) < 0 || (rc = store_rule_upload(r->st, &up, &up.id)) < 0) {
        rc = api_fail_rc(r, rc, "rule");
        goto out;
    }
    api_changed(r->api, API_CHANGE_RULES);
    api_audit(r, tid, "rule.upload", up.rule_id,
              json_pack("{s:I,s:s}", "id", (json_int_t)up.id, "title", up.title));
    rc = api_reply(r, 201, json_pack("{s:I,s:I,s:s,s:s}", "id", (json_int_t)up.id, "tenant_id",
                                     (json_int_t)tid, "rule_id", up.rule_id, "title",
                                     up.title));
out:
    json_decref(b);
    return rc;
}

int
api_h_rule_update(struct api_req *r)
{
    static const char *const keys[] = {"enabled", "tenant_id", NULL};
    const char *rule_id = r->nparams > 0 ? r->pvals[0] : "";
    if (!valid_rule_id(rule_id))
        return api_fail(r, 400, "invalid_parameter", "rule_id",
                        "rule_id must be 1..63 letters, digits, '-', '_' or '.'");
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    int enabled = 1;
    int64_t tid = 0;
    int rc = 0;
    if (api_body_bool(b, "enabled", 1, &enabled, &e) < 0 ||
        api_body_int(b, "tenant_id", 0, 0, INT64_MAX, &tid, &e) < 0)
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
    json_decref(b);
    if (rc < 0)
        return rc;
    /* Customers switch rules for their own tenant; providers for one tenant or all (0). */
    if (!auth_is_provider(&r->who) || tid != 0)
        if (api_tenant_arg(r, tid, &tid) < 0)
            return BN_EINVAL;
    if (tid != 0) {
        struct store_tenant t;
        if (store_tenant_get(r->st, tid, &t) < 0)
            return api_fail(r, 400, "invalid_field", "tenant_id",
                            "tenant %" PRId64 " does not exist", tid);
    }
    int64_t now = api__now_ns();
    rc = api_tx(r) < 0 ? BN_EINVAL
                       : store_rule_set_enabled(r->st, tid, rule_id, enabled, r->who.name, now);
    if (rc < 0)
        return api_fail_rc(r, rc, "rule");
    api_changed(r->api, API_CHANGE_RULE_STATE);
    api_audit(r, tid, enabled ? "rule.enable" : "rule.disable", rule_id, NULL);
    return api_reply(r, 200, json_pack("{s:I,s:s,s:b,s:s,s:o}", "tenant_id", (json_int_t)tid,
                                       "rule_id", rule_id, "enabled", enabled, "updated_by",
                                       r->who.name, "updated_at", api_jtime(now)));
}

/* ---- suppressions ---------------------------------------------------------------------- */

static int
suppression_cb(void *ctx, const struct store_suppression *s)
{
    return api_push(ctx, suppression_json(s));
}

int
api_h_suppression_list(struct api_req *r)
{
    int64_t idb, expired;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0 ||
        api_query_int(r, "include_expired", 0, 1, 0, &expired) < 0)
        return BN_EINVAL;
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_suppression_list(r->st, &sc, (int)expired, api__now_ns(),
                                            suppression_cb, &c)
                   : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "suppressions");
}

int
api_h_suppression_delete(struct api_req *r)
{
    int64_t id, idb;
    if (api_param_id(r, "suppression_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    struct find_sup f = {.id = id};
    int rc = store_suppression_list(r->st, &sc, 1, api__now_ns(), find_sup_cb, &f);
    if (rc == 0 && !f.found)
        rc = BN_ENOTFOUND;
    if (rc == 0)
        rc = api_tx(r) < 0 ? BN_EINVAL : store_suppression_delete(r->st, &sc, id);
    json_decref(f.json);
    if (rc < 0)
        return api_fail_rc(r, rc, "suppression");
    api_changed(r->api, API_CHANGE_SUPPRESSIONS);
    api_audit(r, f.tenant_id, "suppression.delete", f.rule_id, json_pack("{s:I}", "id", id));
    return api_reply(r, 200, json_pack("{s:b}", "deleted", 1));
}

/* ---- IOC lists ------------------------------------------------------------------------- */

static json_t *
ioc_list_json(const struct store_ioc_list *l)
{
    return json_pack("{s:I,s:I,s:s,s:s,s:o,s:I}", "id", (json_int_t)l->id, "tenant_id",
                     (json_int_t)l->tenant_id, "name", l->name, "source", l->source,
                     "created_at", api_jtime(l->created_ns), "entries", (json_int_t)l->entries);
}

static int
ioc_list_cb(void *ctx, const struct store_ioc_list *l)
{
    return api_push(ctx, ioc_list_json(l));
}

int
api_h_ioc_list_list(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0)
        return BN_EINVAL;
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_ioc_list_list(r->st, &sc, ioc_list_cb, &c) : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "IOC lists");
}

struct ioc_page {
    json_t *arr;
    size_t skip;
    size_t limit;
    size_t seen;
};

static int
ioc_entry_cb(void *ctx, const struct store_ioc *e)
{
    struct ioc_page *p = ctx;
    if (p->seen++ < p->skip)
        return 0;
    if (json_array_size(p->arr) >= p->limit)
        return 1;
    json_t *j = json_pack("{s:s,s:s,s:s?}", "type", e->type, "value", e->value, "source",
                          e->source);
    if (!j || json_array_append_new(p->arr, j) < 0)
        return BN_ENOMEM;
    return 0;
}

int
api_h_ioc_list_entries(struct api_req *r)
{
    int64_t id, idb, limit, offset;
    if (api_param_id(r, "list_id", &id) < 0 ||
        api_query_int(r, "limit", 1, BN_API_PAGE_MAX, 100, &limit) < 0 ||
        api_query_int(r, "offset", 0, INT64_MAX, 0, &offset) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    struct ioc_page p = {json_array(), (size_t)offset, (size_t)limit, 0};
    int rc = p.arr ? store_ioc_entries(r->st, &sc, id, ioc_entry_cb, &p) : BN_ENOMEM;
    if (rc < 0) {
        json_decref(p.arr);
        return api_fail_rc(r, rc, "IOC list");
    }
    return api_reply(r, 200, json_pack("{s:I,s:o}", "list_id", (json_int_t)id, "items", p.arr));
}

/* Indicators of an import, normalised by libbannin's IOC set: owned strings in keep. */
struct ioc_collect {
    struct store_ioc *e;
    size_t n;
    size_t cap;
    json_t *seen;                /* "type\tvalue" -> true, and owns the strings */
    const char *source;
};

static int
ioc_collect_add(struct ioc_collect *c, const struct bn_ioc_match *m)
{
    char key[BN_IOC_VALUE_MAX + 32];
    snprintf(key, sizeof(key), "%s\t%s", bn_ioc_type_name(m->type), m->value);
    if (json_object_get(c->seen, key))
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        struct store_ioc *p = bn_reallocarray(c->e, cap, sizeof(*p));
        if (!p)
            return BN_ENOMEM;
        c->e = p;
        c->cap = cap;
    }
    json_t *pair = json_pack("[s,s,s]", bn_ioc_type_name(m->type), m->value,
                             m->source && m->source[0] ? m->source : c->source);
    if (!pair || json_object_set_new(c->seen, key, pair) < 0)
        return BN_ENOMEM;
    c->e[c->n].type = json_string_value(json_array_get(pair, 0));
    c->e[c->n].value = json_string_value(json_array_get(pair, 1));
    c->e[c->n].source = json_string_value(json_array_get(pair, 2));
    c->n++;
    return 0;
}

static int
ioc_collect_cb(void *ctx, const struct bn_ioc_match *m)
{
    return ioc_collect_add(ctx, m);
}

static int
ioc_import(struct api_req *r, json_t *b, const char *format, const char *source,
           struct ioc_collect *c, struct bn_ioc_load_stats *ls)
{
    struct bn_ioc_set *set = bn_ioc_set_new();
    if (!set)
        return api_fail_rc(r, BN_ENOMEM, "IOC import");
    struct bn_diag d;
    bn_diag_clear(&d);
    int rc = 0;
    if (strcmp(format, "entries") == 0) {
        json_t *arr = json_object_get(b, "entries");
        size_t n = json_array_size(arr);
        if (!json_is_array(arr) || n == 0 || n > BN_STORE_IOC_BATCH_MAX) {
            rc = api_fail(r, 400, "invalid_field", "entries",
                          "field 'entries' must be an array of 1..%u {type, value} objects",
                          (unsigned)BN_STORE_IOC_BATCH_MAX);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *it = json_array_get(arr, i);
            const char *ts = json_string_value(json_object_get(it, "type"));
            const char *vs = json_string_value(json_object_get(it, "value"));
            char field[48];
            snprintf(field, sizeof(field), "entries[%zu]", i);
            ls->records++;
            int type = ts ? bn_ioc_type_parse(ts, strlen(ts)) : -1;
            if (!vs || type == -1) {
                rc = api_fail(r, 400, "invalid_field", field,
                              "%s needs a known 'type' (sha256, ip, domain, url, ...) and a "
                              "string 'value'",
                              field);
                goto out;
            }
            int arc = bn_ioc_add(set, type, vs, strlen(vs), source, NULL, &d);
            if (arc == BN_EEXIST) {
                ls->duplicates++;
                continue;
            }
            if (arc < 0) {
                rc = api_fail(r, 400, "invalid_field", field, "%s: %s", field,
                              d.msg[0] ? d.msg : bn_strerror(arc));
                goto out;
            }
            ls->added++;
        }
    } else {
        const char *content;
        struct api_error e = {0};
        if (api_body_str(b, "content", 1, BN_API_IMPORT_BODY_MAX, &content, &e) < 0) {
            rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
            goto out;
        }
        size_t n = strlen(content);
        if (strcmp(format, "csv") == 0)
            rc = bn_ioc_load_csv(set, content, n, "content", source, ls, &d);
        else
            rc = bn_ioc_load_stix(set, content, n, "content", source, api__now_ns(), ls, &d);
        if (rc < 0) {
            char buf[BN_DIAG_MSG_MAX + 64];
            rc = api_fail(r, 400, "invalid_field", "content", "%s",
                          bn_diag_format(&d, buf, sizeof(buf)));
            goto out;
        }
        if (ls->added == 0) {
            char buf[BN_DIAG_MSG_MAX + 64];
            rc = api_fail(r, 400, "invalid_field", "content", "no indicator loaded%s%s",
                          d.msg[0] ? ": " : "", d.msg[0] ? bn_diag_format(&d, buf, sizeof(buf))
                                                      : "");
            goto out;
        }
    }
    if ((rc = bn_ioc_foreach(set, ioc_collect_cb, c)) < 0) {
        rc = api_fail_rc(r, rc, "IOC import");
        goto out;
    }
out:
    bn_ioc_set_free(set);
    return rc;
}

int
api_h_ioc_list_create(struct api_req *r)
{
    static const char *const keys[] = {"name", "tenant_id", "source", "format", "entries",
                                       "content", NULL};
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *name, *source, *format;
    int64_t tid = 0;
    struct ioc_collect c = {0};
    c.seen = json_object();
    struct bn_ioc_load_stats ls;
    memset(&ls, 0, sizeof(ls));
    size_t added = 0;
    int rc;
    if (!c.seen) {
        rc = api_fail_rc(r, BN_ENOMEM, "IOC import");
        goto out;
    }
    if (api_body_str(b, "name", 1, 127, &name, &e) < 0 ||
        api_body_str(b, "source", 0, 127, &source, &e) < 0 ||
        api_body_str(b, "format", 1, 16, &format, &e) < 0 ||
        api_body_int(b, "tenant_id", 0, 0, INT64_MAX, &tid, &e) < 0) {
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
        goto out;
    }
    if (strcmp(format, "entries") != 0 && strcmp(format, "csv") != 0 &&
        strcmp(format, "stix") != 0) {
        rc = api_fail(r, 400, "invalid_field", "format",
                      "format must be \"csv\", \"stix\" (STIX 2.1 bundle) or \"entries\"");
        goto out;
    }
    /* Global lists (tenant 0) are for providers; customers import into their own tenant. */
    if ((!auth_is_provider(&r->who) || tid != 0) && (rc = api_tenant_arg(r, tid, &tid)) < 0)
        goto out;
    if (tid != 0) {
        struct store_tenant t;
        if (store_tenant_get(r->st, tid, &t) < 0) {
            rc = api_fail(r, 400, "invalid_field", "tenant_id",
                          "tenant %" PRId64 " does not exist", tid);
            goto out;
        }
    }
    c.source = source ? source : name;
    if ((rc = ioc_import(r, b, format, c.source, &c, &ls)) < 0)
        goto out;
    int64_t id;
    if ((rc = api_tx(r)) < 0 ||
        (rc = store_ioc_list_create(r->st, tid, name, source ? source : "", api__now_ns(),
                                    &id)) < 0) {
        rc = api_fail_rc(r, rc, "IOC list");
        goto out;
    }
    int64_t idb;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    if (c.n > 0 && (rc = store_ioc_add(r->st, &sc, id, c.e, c.n, &added)) < 0) {
        rc = api_fail_rc(r, rc, "IOC entries");
        goto out;
    }
    json_t *skipped = json_pack("{s:I,s:I,s:I,s:I,s:I}", "type", (json_int_t)ls.skipped_type,
                                "value", (json_int_t)ls.skipped_value, "syntax",
                                (json_int_t)ls.skipped_syntax, "expired",
                                (json_int_t)ls.skipped_expired, "other",
                                (json_int_t)ls.skipped_other);
    api_changed(r->api, API_CHANGE_IOC);
    api_audit(r, tid, "ioc_list.create", name,
              json_pack("{s:I,s:s,s:I}", "id", id, "format", format, "entries",
                        (json_int_t)added));
    rc = api_reply(r, 201,
                   json_pack("{s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:o}", "id", (json_int_t)id,
                             "tenant_id", (json_int_t)tid, "name", name, "format", format,
                             "records", (json_int_t)ls.records, "entries", (json_int_t)added,
                             "duplicates", (json_int_t)ls.duplicates, "skipped", skipped));
out:
    bn_free(c.e);
    json_decref(c.seen);
    json_decref(b);
    return rc;
}

int
api_h_ioc_list_delete(struct api_req *r)
{
    int64_t id, idb;
    if (api_param_id(r, "list_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    api_scope_caller(r, &sc, &idb);
    /* Customers may not delete global lists: their scope does not include tenant 0. */
    int rc = api_tx(r) < 0 ? BN_EINVAL : store_ioc_list_delete(r->st, &sc, id);
    if (rc < 0)
        return api_fail_rc(r, rc, "IOC list");
    api_changed(r->api, API_CHANGE_IOC);
    api_audit(r, auth_is_provider(&r->who) ? 0 : r->who.tenant_id, "ioc_list.delete", "list",
              json_pack("{s:I}", "id", id));
    return api_reply(r, 200, json_pack("{s:b}", "deleted", 1));
}

/* ---- notification channels ------------------------------------------------------------- */

static json_t *
channel_json(const struct store_channel *c, int with_config)
{
    json_t *cfg = with_config && c->config_json ? json_loads(c->config_json, 0, NULL) : NULL;
    return json_pack("{s:I,s:I,s:s,s:s,s:b,s:o,s:o}", "id", (json_int_t)c->id, "tenant_id",
                     (json_int_t)c->tenant_id, "name", c->name, "type", c->type, "enabled",
                     c->enabled, "config", cfg ? cfg : json_null(), "created_at",
                     api_jtime(c->created_ns));
}

struct chan_collect {
    json_t *arr;
    int with_config;
};

static int
channel_cb(void *ctx, const struct store_channel *c)
{
    struct chan_collect *cc = ctx;
    json_t *j = channel_json(c, cc->with_config);
    if (!j || json_array_append_new(cc->arr, j) < 0)
        return BN_ENOMEM;
    return 0;
}

int
api_h_channel_list(struct api_req *r)
{
    int64_t idb;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0)
        return BN_EINVAL;
    /* Channel configs hold webhook URLs and SMTP credentials: admins only see them. */
    struct chan_collect c = {json_array(), r->who.role != STORE_ROLE_ANALYST};
    int rc = c.arr ? store_channel_list(r->st, &sc, channel_cb, &c) : BN_ENOMEM;
    return api_reply_items(r, rc, c.arr, "channels");
}

int
api_h_channel_create(struct api_req *r)
{
    static const char *const keys[] = {"tenant_id", "name", "type", "config", "enabled", NULL};
    static const char *const types[] = {"webhook", "slack", "teams", "smtp", "syslog"};
    json_t *b = api_body(r, keys);
    if (!b)
        return BN_EINVAL;
    struct api_error e = {0};
    const char *name, *type;
    int64_t tid = 0;
    int enabled = 1, rc;
    char *cfg = NULL;
    if (api_body_str(b, "name", 1, 127, &name, &e) < 0 ||
        api_body_str(b, "type", 1, 15, &type, &e) < 0 ||
        api_body_int(b, "tenant_id", 0, 1, INT64_MAX, &tid, &e) < 0 ||
        api_body_bool(b, "enabled", 0, &enabled, &e) < 0) {
        rc = api_fail(r, e.status, e.code, e.field, "%s", e.message);
        goto out;
    }
    int ok = 0;
    for (size_t i = 0; i < BN_ARRAY_SIZE(types); i++)
        ok |= strcmp(type, types[i]) == 0;
    if (!ok) {
        rc = api_fail(r, 400, "invalid_field", "type",
                      "type must be webhook, slack, teams, smtp or syslog");
        goto out;
    }
    json_t *c = json_object_get(b, "config");
    if (!json_is_object(c)) {
        rc = api_fail(r, 400, json_object_get(b, "config") ? "invalid_field" : "missing_field",
                      "config", "field 'config' must be an object (url, host, port, ...)");
        goto out;
    }
    if ((rc = api_tenant_arg(r, tid, &tid)) < 0)
        goto out;
    if (tid == 0) {
        rc = api_fail(r, 400, "missing_field", "tenant_id", "field 'tenant_id' is required");
        goto out;
    }
    struct store_tenant t;
    if (store_tenant_get(r->st, tid, &t) < 0) {
        rc = api_fail(r, 400, "invalid_field", "tenant_id", "tenant %" PRId64 " does not exist",
                      tid);
        goto out;
    }
    cfg = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    struct store_channel ch;
    memset(&ch, 0, sizeof(ch));
    ch.tenant_id = tid;
    snprintf(ch.name, sizeof(ch.name), "%s", name);
    snprintf(ch.type, sizeof(ch.type), "%s", type);
    ch.config_json = cfg ? cfg : "{}";
    ch.enabled = enabled;
    ch.created_ns = api__now_ns();
    if ((rc = api_tx(r)) < 0 || (rc = store_channel_create(r->st, &ch, &ch.id)) < 0) {
        rc = api_fail_rc(r, rc, "channel");
        goto out;
    }
    api_changed(r->api, API_CHANGE_CHANNELS);
    api_audit(r, tid, "channel.create", ch.name,
              json_pack("{s:I,s:s}", "id", (json_int_t)ch.id, "type", ch.type));
    rc = api_reply(r, 201, channel_json(&ch, 1));
out:
    free(cfg);
    json_decref(b);
    return rc;
}

static int
channel_load(struct api_req *r, struct store_channel *c, struct store_scope *sc, int64_t *idb)
{
    int64_t id;
    if (api_param_id(r, "channel_id", &id) < 0)
        return BN_EINVAL;
    api_scope_caller(r, sc, idb);
    int rc = store_channel_get(r->st, sc, id, c);
    return rc < 0 ? api_fail_rc(r, rc, "channel") : 0;
}

int
api_h_channel_delete(struct api_req *r)
{
    struct store_channel c;
    struct store_scope sc;
    int64_t idb;
    if (channel_load(r, &c, &sc, &idb) < 0)
        return BN_EINVAL;
    char name[sizeof(c.name)];
    snprintf(name, sizeof(name), "%s", c.name);
    int rc = api_tx(r) < 0 ? BN_EINVAL : store_channel_delete(r->st, &sc, c.id);
    if (rc < 0)
        return api_fail_rc(r, rc, "channel");
    api_changed(r->api, API_CHANGE_CHANNELS);
    api_audit(r, c.tenant_id, "channel.delete", name, json_pack("{s:I}", "id", c.id));
    return api_reply(r, 200, json_pack("{s:b}", "deleted", 1));
}

int
api_h_channel_test(struct api_req *r)
{
    struct store_channel c;
    struct store_scope sc;
    int64_t idb;
    if (channel_load(r, &c, &sc, &idb) < 0)
        return BN_EINVAL;
    char name[sizeof(c.name)];
    snprintf(name, sizeof(name), "%s", c.name);
    /* Delivered at once (no outbox) so the caller sees whether the channel works. */
    char err[256] = "";
    int rc = notify_send_test(r->st, &sc, c.id, api__now_ns(), err, sizeof(err));
    api_audit(r, c.tenant_id, "channel.test", name,
              json_pack("{s:I,s:b,s:s}", "channel_id", (json_int_t)c.id, "delivered", rc == 0,
                        "error", err));
    if (rc == BN_ENOTFOUND)
        return api_fail_rc(r, rc, "channel");
    if (rc < 0)
        return api_fail(r, 502, "delivery_failed", NULL, "test notification not delivered: %s",
                        err[0] ? err : bn_strerror(rc));
    return api_reply(r, 200, json_pack("{s:I,s:b}", "channel_id", (json_int_t)c.id,
                                       "delivered", 1));
}

/* ---- SOC metrics ----------------------------------------------------------------------- */

static json_t *
stats_json(const struct store_metric_stats *s)
{
    return json_pack("{s:I,s:f,s:f,s:f}", "n", (json_int_t)s->n, "avg_s", s->avg_ns / 1e9,
                     "p50_s", s->p50_ns / 1e9, "p90_s", s->p90_ns / 1e9);
}

static int
metrics_cb(void *ctx, const struct store_metrics *m)
{
    return api_push(ctx, json_pack("{s:I,s:s?,s:o,s:o,s:o}", "tenant_id", (json_int_t)m->tenant_id,
                                   "rule_id", m->rule_id[0] ? m->rule_id : NULL, "mttd",
                                   stats_json(&m->mttd), "mtta", stats_json(&m->mtta), "mttr",
                                   stats_json(&m->mttr)));
}

int
api_h_soc_metrics(struct api_req *r)
{
    int64_t idb, from, to, per_rule;
    struct store_scope sc;
    if (api_scope(r, &sc, &idb) < 0 || api_query_time(r, "from", &from) < 0 ||
        api_query_time(r, "to", &to) < 0 || api_query_int(r, "per_rule", 0, 1, 0, &per_rule) < 0)
        return BN_EINVAL;
    if (to == 0)
        to = api__now_ns() + NS_PER_S;
    if (from == 0)
        from = to - 30 * 86400 * NS_PER_S;
    struct api_collect c = {json_array(), r, 0};
    int rc = c.arr ? store_metrics(r->st, &sc, from, to, (int)per_rule, metrics_cb, &c)
                   : BN_ENOMEM;
    if (rc < 0) {
        json_decref(c.arr);
        return api_fail_rc(r, rc, "metrics");
    }
    return api_reply(r, 200, json_pack("{s:o,s:o,s:o}", "from", api_jtime(from), "to",
                                       api_jtime(to), "items", c.arr));
}
