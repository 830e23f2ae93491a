/*
 * test_api_rbac.c - holds the API to docs/openapi.yaml. For every operation in the spec and
 * every caller (no credentials, provider_admin, analyst, customer_admin and customer_viewer
 * of tenant A, customer_admin and customer_viewer of tenant B) it sends a real request to a
 * running server against fresh objects of tenant A and checks the status against x-roles and
 * x-tenant-scoped: 401 without credentials, 403 for a role not listed, success for a listed
 * role of tenant A or a provider, and for tenant B's callers no access to tenant A (403/404
 * when the request names A's objects, and never a row of A in a reply). A refused request
 * must not write (the audit log does not move). Every reply's status must be declared by the
 * operation and its JSON must match the declared schema. The server's own route list must
 * equal the spec's operations, so a new endpoint cannot escape this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_api_common.h"
#include "notify_peers.h"

enum { C_NONE = -1 };

/* A real loopback webhook the fixture channels point at (send test delivers to it). */
static int webhook_port;

struct fixtures {
    int64_t agent, alert, incident, suppression, ioc_list, channel, enroll, user, token, action;
    int64_t attachment;
};

static int
make_fixtures(struct tenv *e, int caller, struct fixtures *f)
{
    int64_t a = e->tenant_a, now = tenv_now();
    unsigned k = ++e->counter;
    int rc;
    memset(f, 0, sizeof(*f));

    struct store_agent ag;
    memset(&ag, 0, sizeof(ag));
    ag.tenant_id = a;
    snprintf(ag.uid, sizeof(ag.uid), "rbac-agent-%u", k);
    snprintf(ag.hostname, sizeof(ag.hostname), "host-%s-%u", TENV_MARK_A, k);
    snprintf(ag.cert_fp, sizeof(ag.cert_fp), "%064u", k);
    ag.heartbeat_interval_ms = 30000;
    ag.enrolled_ns = now;
    ag.last_seen_ns = now;
    if ((rc = store_agent_create(e->st, &ag, &f->agent)) < 0)
        return rc;

    struct store_alert al;
    memset(&al, 0, sizeof(al));
    al.tenant_id = a;
    al.agent_id = f->agent;
    snprintf(al.rule_id, sizeof(al.rule_id), "rbac-rule");
    snprintf(al.rule_title, sizeof(al.rule_title), "rule %s", TENV_MARK_A);
    al.level = 3;
    al.score = 70;
    snprintf(al.tactics, sizeof(al.tactics), "execution");
    snprintf(al.dedupe_key, sizeof(al.dedupe_key), "rbac-%u", k);
    al.count = 1;
    al.first_ns = al.last_ns = now;
    al.event_ts_ns = now - 1000000;
    snprintf(al.host, sizeof(al.host), "%s", ag.hostname);
    snprintf(al.source, sizeof(al.source), "central");
    al.json = "{\"CommandLine\":\"cat /etc/shadow\",\"User\":\"root\"}";
    int merged;
    if ((rc = store_alert_upsert(e->st, &al, 0, &f->alert, &merged)) < 0)
        return rc;

    /* a response action waiting for approval (approve / reject / get) */
    struct store_action act;
    memset(&act, 0, sizeof(act));
    act.tenant_id = a;
    act.agent_id = f->agent;
    snprintf(act.type, sizeof(act.type), "kill_tree");
    act.params_json = "{\"pid\":4242}";
    act.state = STORE_ACT_PENDING_APPROVAL;
    snprintf(act.requested_by, sizeof(act.requested_by), "an");
    act.reason = "rbac";
    act.created_ns = now;
    act.expires_ns = now + 3600 * 1000000000ll;
    if ((rc = store_action_create(e->st, &act, &f->action)) < 0)
        return rc;

    struct store_incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.tenant_id = a;
    snprintf(inc.title, sizeof(inc.title), "incident %s %u", TENV_MARK_A, k);
    inc.severity = 3;
    snprintf(inc.group_key, sizeof(inc.group_key), "%s", ag.hostname);
    snprintf(inc.tactics, sizeof(inc.tactics), "execution");
    inc.alert_count = 1;
    inc.first_ns = inc.last_ns = inc.created_ns = now;
    inc.notified_severity = -1;
    if ((rc = store_incident_create(e->st, &inc, &f->incident)) < 0)
        return rc;
    struct store_scope all = {.all = 1};
    if ((rc = store_alert_set_incident(e->st, &all, f->alert, f->incident)) < 0)
        return rc;

    /* a file attached to the incident (what a forensics upload leaves), with its blob */
    struct store_attachment att;
    memset(&att, 0, sizeof(att));
    att.tenant_id = a;
    att.agent_id = f->agent;
    att.incident_id = f->incident;
    att.action_id = f->action;
    snprintf(att.name, sizeof(att.name), "forensics-%u.tar.zst", k);
    char blob[64], bdir[128], bpath[700];
    int blen = snprintf(blob, sizeof(blob), "blob %s %u", TENV_MARK_A, k);
    snprintf(att.path, sizeof(att.path), "attachments/rbac-%u", k);
    snprintf(bdir, sizeof(bdir), "%s/attachments", e->dir);
    snprintf(bpath, sizeof(bpath), "%s/%s", e->dir, att.path);
    mkdir(bdir, 0700);
    FILE *bf = fopen(bpath, "w");
    if (!bf || fwrite(blob, 1, (size_t)blen, bf) != (size_t)blen || fclose(bf) != 0)
        return BN_EIO;
    att.size = blen;
    auth_sha256_hex(blob, (size_t)blen, att.sha256);
    if ((rc = store_attachment_create(e->st, &att, &f->attachment)) < 0)
        return rc;

    struct store_suppression s;
    memset(&s, 0, sizeof(s));
    s.tenant_id = a;
    snprintf(s.host, sizeof(s.host), "%s", ag.hostname);
    snprintf(s.rule_id, sizeof(s.rule_id), "rbac-rule");
    s.fields_json = "{}";
    snprintf(s.reason, sizeof(s.reason), "reason %s", TENV_MARK_A);
    snprintf(s.author, sizeof(s.author), "test");
    s.created_ns = now;
    if ((rc = store_suppression_create(e->st, &s, &f->suppression)) < 0)
        return rc;

    char name[128];
    snprintf(name, sizeof(name), "iocs-%s-%u", TENV_MARK_A, k);
    if ((rc = store_ioc_list_create(e->st, a, name, "test", now, &f->ioc_list)) < 0)
        return rc;
    struct store_ioc ioc = {"ip", "203.0.113.9", "test", 0};
    size_t added;
    if ((rc = store_ioc_add(e->st, &all, f->ioc_list, &ioc, 1, &added)) < 0)
        return rc;

    struct store_channel ch;
    memset(&ch, 0, sizeof(ch));
    ch.tenant_id = a;
    snprintf(ch.name, sizeof(ch.name), "chan-%s-%u", TENV_MARK_A, k);
    snprintf(ch.type, sizeof(ch.type), "webhook");
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "{\"url\":\"http://127.0.0.1:%d/hook\"}", webhook_port);
    ch.config_json = cfg;
    ch.enabled = 1;
    ch.created_ns = now;
    if ((rc = store_channel_create(e->st, &ch, &f->channel)) < 0)
        return rc;

    char hash[AUTH_HASH_HEX_LEN + 1];
    snprintf(name, sizeof(name), "enroll-%u", k);
    auth_sha256_hex(name, strlen(name), hash);
    if ((rc = store_token_create(e->st, a, hash, 3, now + 3600000000000LL, "test", &f->enroll)) <
        0)
        return rc;

    snprintf(name, sizeof(name), "fixture-%s-%u", TENV_MARK_A, k);
    if ((rc = tenv_user(e, name, STORE_ROLE_CUSTOMER_VIEWER, a, &f->user)) < 0)
        return rc;

    /* A token the caller may revoke when in scope: its own; for tenant B, one of A's. */
    int64_t owner = caller == C_NONE || caller >= T_CA_B ? e->uid[T_CA_A] : e->uid[caller];
    snprintf(name, sizeof(name), "fixture-token-%u", k);
    auth_sha256_hex(name, strlen(name), hash);
    return store_auth_create(e->st, STORE_AUTH_API_TOKEN, owner, hash, "fixture", now, 0,
                             &f->token);
}

static int64_t
param_value(const struct tenv *e, const struct fixtures *f, const char *name)
{
    if (strcmp(name, "tenant_id") == 0)
        return e->tenant_a;
    if (strcmp(name, "user_id") == 0)
        return f->user;
    if (strcmp(name, "agent_id") == 0)
        return f->agent;
    if (strcmp(name, "alert_id") == 0)
        return f->alert;
    if (strcmp(name, "incident_id") == 0)
        return f->incident;
    if (strcmp(name, "suppression_id") == 0)
        return f->suppression;
    if (strcmp(name, "list_id") == 0)
        return f->ioc_list;
    if (strcmp(name, "channel_id") == 0)
        return f->channel;
    if (strcmp(name, "action_id") == 0)
        return f->action;
    if (strcmp(name, "attachment_id") == 0)
        return f->attachment;
    return -1;
}

/* Fills the path template; token_id depends on the route (API token or enrolment token). */
static int
build_path(const struct tenv *e, const struct fixtures *f, const char *tmpl, char *out,
           size_t size, int *names_a)
{
    size_t o = 0;
    *names_a = 0;
    for (const char *p = tmpl; *p && o + 32 < size;) {
        if (*p != '{') {
            out[o++] = *p++;
            continue;
        }
        const char *q = strchr(p, '}');
        if (!q)
            return -1;
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(q - p - 1), p + 1);
        *names_a = 1;
        int w;
        if (strcmp(name, "rule_id") == 0)
            w = snprintf(out + o, size - o, "rbac-rule");
        else if (strcmp(name, "token_id") == 0)
            w = snprintf(out + o, size - o, "%lld",
                         (long long)(strstr(tmpl, "enrollment") ? f->enroll : f->token));
        else {
            int64_t v = param_value(e, f, name);
            if (v < 0) {
                fprintf(stderr, "no fixture for path parameter '%s'\n", name);
                return -1;
            }
            w = snprintf(out + o, size - o, "%lld", (long long)v);
        }
        o += (size_t)w;
        p = q + 1;
    }
    out[o] = '\0';
    return 0;
}

static int
has_query_param(json_t *op, json_t *path_item, const char *name, json_t *spec)
{
    json_t *lists[2] = {json_object_get(op, "parameters"),
                        json_object_get(path_item, "parameters")};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *p;
        json_array_foreach(lists[l], i, p) {
            const char *ref = json_string_value(json_object_get(p, "$ref"));
            if (ref && strncmp(ref, "#/components/parameters/", 24) == 0)
                p = json_object_get(json_object_get(json_object_get(spec, "components"),
                                                    "parameters"),
                                    ref + 24);
            const char *n = json_string_value(json_object_get(p, "name"));
            const char *in = json_string_value(json_object_get(p, "in"));
            if (n && in && strcmp(n, name) == 0 && strcmp(in, "query") == 0)
                return 1;
        }
    }
    return 0;
}

static int
role_listed(json_t *roles, const char *role)
{
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r) {
        if (json_is_string(r) && strcmp(json_string_value(r), role) == 0)
            return 1;
    }
    return 0;
}

/* True when a reply holds something of tenant A: a tenant_id of A or A's marker text. */
static int
leaks_tenant_a(const struct tenv *e, const char *body)
{
    if (strstr(body, TENV_MARK_A))
        return 1;
    char pat[64];
    snprintf(pat, sizeof(pat), "\"tenant_id\":%lld,", (long long)e->tenant_a);
    if (strstr(body, pat))
        return 1;
    snprintf(pat, sizeof(pat), "\"tenant_id\":%lld}", (long long)e->tenant_a);
    return strstr(body, pat) != NULL;
}

/* The newest audit entry that records a change. Refusals that are audited on purpose
 * ("*.refused": response actions asked for or approved by someone who may not) are not
 * changes. */
static int
audit_last_cb(void *ctx, const struct store_audit_entry *en)
{
    size_t n = strlen(en->action);
    if (n > 8 && strcmp(en->action + n - 8, ".refused") == 0)
        return 0;
    *(int64_t *)ctx = en->id;
    return 1;
}

static int64_t
audit_last(struct tenv *e)
{
    struct store_scope all = {.all = 1};
    int64_t id = 0;
    store_audit_list(e->st, &all, 0, 1000, audit_last_cb, &id);
    return id;
}

/* ---- responses against the spec's schemas ---------------------------------------------- */

static json_t *
resolve(json_t *spec, json_t *schema)
{
    for (int i = 0; i < 8 && schema; i++) {
        const char *ref = json_string_value(json_object_get(schema, "$ref"));
        if (!ref || strncmp(ref, "#/components/", 13) != 0)
            return schema;
        char kind[32], name[96];
        if (sscanf(ref + 13, "%31[^/]/%95s", kind, name) != 2)
            return NULL;
        schema = json_object_get(json_object_get(json_object_get(spec, "components"), kind),
                                 name);
    }
    return schema;
}

/* Checks v against schema: types, nullable, enums, and no undocumented object keys. */
static int
check_schema(json_t *spec, json_t *schema, json_t *v, const char *where, char *why, size_t n)
{
    schema = resolve(spec, schema);
    if (!schema)
        return 0;
    if (json_is_null(v))
        return json_is_true(json_object_get(schema, "nullable"))
                   ? 0
                   : (snprintf(why, n, "%s is null, not nullable", where), -1);
    const char *type = json_string_value(json_object_get(schema, "type"));
    int ok = !type || (strcmp(type, "integer") == 0 && json_is_integer(v)) ||
             (strcmp(type, "number") == 0 && json_is_number(v)) ||
             (strcmp(type, "string") == 0 && json_is_string(v)) ||
             (strcmp(type, "boolean") == 0 && json_is_boolean(v)) ||
             (strcmp(type, "array") == 0 && json_is_array(v)) ||
             (strcmp(type, "object") == 0 && json_is_object(v));
    if (!ok) {
        snprintf(why, n, "%s is not of type %s", where, type);
        return -1;
    }
    json_t *en = json_object_get(schema, "enum");
    if (en && json_is_string(v)) {
        size_t i;
        json_t *x;
        int found = 0;
        json_array_foreach(en, i, x) {
            found |= json_is_string(x) && strcmp(json_string_value(x), json_string_value(v)) == 0;
        }
        if (!found) {
            snprintf(why, n, "%s = '%s' is not in its enum", where, json_string_value(v));
            return -1;
        }
    }
    char sub[256];
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
            if (check_schema(spec, json_object_get(schema, "items"), x, sub, why, n) < 0)
                return -1;
        }
    } else if (json_is_object(v)) {
        json_t *props = json_object_get(schema, "properties");
        if (!props)
            return 0; /* free-form object */
        int open = json_is_true(json_object_get(schema, "additionalProperties"));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            json_t *ps = json_object_get(props, k);
            snprintf(sub, sizeof(sub), "%s.%s", where, k);
            if (!ps) {
                if (open)
                    continue;
                snprintf(why, n, "%s is not documented", sub);
                return -1;
            }
            if (check_schema(spec, ps, x, sub, why, n) < 0)
                return -1;
        }
    }
    return 0;
}

/* Every schema property is an object: a prose comma in a YAML flow mapping makes a bogus
 * property with an empty value, which this catches. */
static int
lint_properties(json_t *x, const char *where)
{
    int bad = 0;
    if (json_is_object(x)) {
        const char *k;
        json_t *v;
        json_t *props = json_object_get(x, "properties");
        if (json_is_object(props)) {
            json_object_foreach(props, k, v) {
                if (!json_is_object(v)) {
                    fprintf(stderr, "spec: %s: property '%s' is not a schema\n", where, k);
                    bad++;
                }
            }
        }
        json_object_foreach(x, k, v) {
            bad += lint_properties(v, k);
        }
    } else if (json_is_array(x)) {
        size_t i;
        json_t *v;
        json_array_foreach(x, i, v) {
            bad += lint_properties(v, where);
        }
    }
    return bad;
}

/* The reply's status must be declared by the operation, and a JSON reply must match the
 * declared schema (error replies: the Error schema). */
static int
check_response(json_t *spec, json_t *op, long status, const char *body, char *why, size_t n)
{
    char code[8];
    snprintf(code, sizeof(code), "%ld", status);
    json_t *resp = resolve(spec, json_object_get(json_object_get(op, "responses"), code));
    if (!resp && status != 401 && status != 403 && status != 429) {
        snprintf(why, n, "status %ld is not declared in the spec", status);
        return -1;
    }
    json_t *schema = json_object_get(
        json_object_get(json_object_get(resp, "content"), "application/json"), "schema");
    if (!schema)
        return 0;
    json_t *j = json_loads(body, 0, NULL);
    if (!j) {
        snprintf(why, n, "status %ld: the reply is not JSON", status);
        return -1;
    }
    int rc = check_schema(spec, schema, j, "reply", why, n);
    json_decref(j);
    return rc;
}

/* The example body of the operation, adapted: tenant A, unique names, real credentials. */
static char *
build_body(struct tenv *e, json_t *op, const char *path, int *names_a)
{
    json_t *rb = json_object_get(op, "requestBody");
    if (!rb)
        return NULL;
    json_t *ex = json_object_get(json_object_get(json_object_get(rb, "content"), "application/json"),
                         "example");
    json_t *b = ex ? json_deep_copy(ex) : json_object();
    if (json_object_get(b, "tenant_id")) {
        json_object_set_new(b, "tenant_id", json_integer(e->tenant_a));
        *names_a = 1;
    }
    char uniq[160];
    const char *keys[] = {"username", "name"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = json_string_value(json_object_get(b, keys[i]));
        if (v) {
            snprintf(uniq, sizeof(uniq), "%s-%u", v, ++e->counter);
            json_object_set_new(b, keys[i], json_string(uniq));
        }
    }
    if (strcmp(path, "/api/v1/auth/login") == 0) {
        json_object_set_new(b, "username", json_string("pa"));
        json_object_set_new(b, "password", json_string(TENV_PASSWORD));
    }
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

static void
test_rbac_from_spec(void **state)
{
    (void)state;
    struct tenv e;
    int rc = tenv_setup(&e);
    if (rc < 0) {
        fprintf(stderr, "setup failed: %s\n", bn_strerror(rc));
        fail();
    }
    struct http_peer hook;
    assert_int_equal(http_peer_start(&hook, 0, 200), 0);
    webhook_port = hook.port;
    json_t *spec = load_openapi();
    assert_non_null(spec);
    json_t *paths = json_object_get(spec, "paths");
    assert_true(json_object_size(paths) > 10);
    assert_int_equal(lint_properties(spec, "spec"), 0);

    /* 1. The server's routes and the spec's operations are the same set. */
    char tok[128];
    assert_int_equal(tenv_token(&e, e.uid[T_PA], tok, sizeof(tok)), 0);
    struct tresp r;
    assert_int_equal(tenv_http(&e, "GET", "/api/v1/_routes", tok, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *routes = json_loads(r.body, 0, NULL);
    free(r.body);
    json_t *items = json_object_get(routes, "items");
    size_t nroutes = json_array_size(items), nops = 0;
    size_t i;
    json_t *it;
    int missing = 0;
    json_array_foreach(items, i, it) {
        const char *m = json_string_value(json_object_get(it, "method"));
        const char *p = json_string_value(json_object_get(it, "path"));
        char lower[16];
        size_t k;
        for (k = 0; m[k] && k < sizeof(lower) - 1; k++)
            lower[k] = (char)(m[k] | 0x20);
        lower[k] = '\0';
        json_t *sop = json_object_get(json_object_get(paths, p), lower);
        const char *opname = json_string_value(json_object_get(it, "operation"));
        const char *sopid = json_string_value(json_object_get(sop, "operationId"));
        if (!sop) {
            fprintf(stderr, "route %s %s is not in docs/openapi.yaml\n", m, p);
            missing++;
        } else if (!opname || !sopid || strcmp(opname, sopid) != 0) {
            fprintf(stderr, "route %s %s: the server's operation '%s' is not the spec's "
                            "operationId '%s'\n",
                    m, p, opname ? opname : "", sopid ? sopid : "");
            missing++;
        }
    }
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            if (strcmp(method, "parameters") == 0)
                continue;
            nops++;
            if (!json_object_get(op, "x-roles") || !json_object_get(op, "x-tenant-scoped")) {
                fprintf(stderr, "%s %s lacks x-roles or x-tenant-scoped\n", method, path);
                missing++;
            }
        }
    }
    if (nops != nroutes)
        fprintf(stderr, "spec has %zu operations, the server %zu routes\n", nops, nroutes);
    assert_int_equal(missing, 0);
    assert_int_equal(nops, nroutes);
    json_decref(routes);

    /* 2. Every operation x every caller. */
    static const char *const role_names[T_USERS] = {"provider_admin", "analyst",
                                                    "customer_admin", "customer_viewer",
                                                    "customer_admin", "customer_viewer"};
    int failures = 0;
    size_t requests = 0;
    json_object_foreach(paths, path, item) {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            if (strcmp(method, "parameters") == 0)
                continue;
            json_t *roles = json_object_get(op, "x-roles");
            int public_op = role_listed(roles, "public");
            int scoped = json_is_true(json_object_get(op, "x-tenant-scoped"));
            char upper[16];
            size_t k;
            for (k = 0; method[k] && k < sizeof(upper) - 1; k++)
                upper[k] = (char)(method[k] & ~0x20);
            upper[k] = '\0';
            for (int caller = C_NONE; caller < T_USERS; caller++) {
                struct fixtures f;
                rc = make_fixtures(&e, caller, &f);
                if (rc < 0) {
                    fprintf(stderr, "fixtures: %s (%s)\n", bn_strerror(rc),
                            store_errmsg(e.st));
                    fail();
                }
                int names_a = 0, body_names_a = 0;
                char url[1024];
                assert_int_equal(build_path(&e, &f, path, url, sizeof(url) - 64, &names_a), 0);
                if (has_query_param(op, item, "tenant_id", spec)) {
                    size_t n = strlen(url);
                    snprintf(url + n, sizeof(url) - n, "?tenant_id=%lld",
                             (long long)e.tenant_a);
                    names_a = 1;
                }
                char *body = build_body(&e, op, path, &body_names_a);
                names_a |= body_names_a;
                char *tp = NULL;
                if (caller != C_NONE) {
                    assert_int_equal(tenv_token(&e, e.uid[caller], tok, sizeof(tok)), 0);
                    tp = tok;
                }
                int64_t audit_before = audit_last(&e);
                rc = tenv_http(&e, upper, url, tp, body, body ? strlen(body) : 0, &r);
                assert_int_equal(rc, 0);
                requests++;
                int64_t audit_after = audit_last(&e);
                const char *who = caller == C_NONE ? "anonymous" : tenv_user_names[caller];
                char why[512] = "";
                long st = r.status;
                int ok2xx = st >= 200 && st < 300;
                if (public_op) {
                    if (st == 401 || st == 403 || st >= 500)
                        snprintf(why, sizeof(why), "public operation answered %ld", st);
                } else if (caller == C_NONE) {
                    if (st != 401)
                        snprintf(why, sizeof(why), "no credentials: want 401, got %ld", st);
                } else if (!role_listed(roles, role_names[caller])) {
                    if (st != 403)
                        snprintf(why, sizeof(why), "role not in x-roles: want 403, got %ld",
                                 st);
                } else if (caller >= T_CA_B && scoped && names_a) {
                    if (st != 403 && st != 404)
                        snprintf(why, sizeof(why),
                                 "tenant B on tenant A's objects: want 403/404, got %ld", st);
                } else if (!ok2xx) {
                    snprintf(why, sizeof(why), "allowed caller: want 2xx, got %ld", st);
                }
                if (!why[0] && !(r.status == 401 || r.status == 403))
                    check_response(spec, op, r.status, r.body, why, sizeof(why));
                if (!why[0] && caller >= T_CA_B && ok2xx && leaks_tenant_a(&e, r.body))
                    snprintf(why, sizeof(why), "tenant B's reply holds tenant A's data");
                if (!why[0] && (st == 401 || st == 403 || st == 404) && !public_op &&
                    audit_after != audit_before)
                    snprintf(why, sizeof(why), "refused request (%ld) wrote to the audit log",
                             st);
                if (getenv("BN_RBAC_VERBOSE"))
                    fprintf(stderr, "%ld %s %s as %s\n", st, upper, url, who);
                if (why[0]) {
                    fprintf(stderr, "FAIL %s %s as %s: %s\n  body: %.300s\n", upper, url, who,
                            why, r.body);
                    failures++;
                }
                free(r.body);
                free(body);
            }
        }
    }
    fprintf(stderr, "rbac: %zu operations, %zu requests, %d failures\n", nops, requests,
            failures);
    assert_int_equal(failures, 0);
    json_decref(spec);
    http_peer_stop(&hook);
    http_peer_free(&hook);
    tenv_teardown(&e);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rbac_from_spec),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
