/*
 * admin.c - `bannin api`: the administration client of the manager's HTTP API (libcurl +
 * jansson). It covers tenants, users, API tokens, enrolment tokens, agents, incidents, rules,
 * alerts and the audit log, and `raw` reaches any route in docs/openapi.yaml.
 *
 *   bannin api [--server URL] [--token T] [--json] <noun> <verb> [args]
 *
 * The server and token come from the options or BANNIN_SERVER / BANNIN_TOKEN; passwords are
 * read from BANNIN_PASSWORD or the first line of standard input, never from the command line.
 * Exit status: 0 ok, 1 the server refused (its error is printed), 2 usage or connection error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/fileio.h"
#include "bannin/hex.h"
#include "bannin/limits.h"

int cmd_admin(int argc, char **argv);

struct admin {
    const char *server;
    const char *token;
    int json_out;
};

static void
admin_usage(FILE *f)
{
    fprintf(f,
        "usage: bannin api [--server URL] [--token TOKEN] [--json] NOUN VERB [ARGS]\n"
        "\n"
        "  login USER                      print a session token (password: BANNIN_PASSWORD\n"
        "                                  or the first line of stdin)\n"
        "  whoami\n"
        "  tenants list | get ID | create NAME [--mode semi|full] [--notify-min 0-4]\n"
        "          [--retention-days N] | update ID [same options]\n"
        "  users list [--tenant ID] | get ID | create NAME --role ROLE [--tenant ID]\n"
        "        | update ID [--role ROLE] [--disable|--enable] [--password] | delete ID\n"
        "        (new passwords: BANNIN_NEW_PASSWORD or the first line of stdin; changing\n"
        "        your own also needs the current one in BANNIN_PASSWORD)\n"
        "  tokens list | create NAME [--expires-in SECONDS] | revoke ID\n"
        "  enroll list [--tenant ID] | create [--tenant ID] [--uses N] [--expires-in S]\n"
        "         | revoke ID\n"
        "  agents list [--tenant ID] | get ID | revoke ID | criticality ID 0-3\n"
        "  incidents list [--tenant ID] [--status S] [--limit N] | get ID | timeline ID\n"
        "            | update ID [--status S] [--assignee USER_ID] | note ID TEXT\n"
        "  alerts list [--tenant ID] [--limit N] | get ID | suppress ID --reason TEXT\n"
        "  events search [--tenant ID] [--host H] [--from T] [--to T] [--event-id N]\n"
        "         [--image SUBSTR] [--user U] [--field NAME=VALUE]... [--limit N]\n"
        "  rules list [--tenant ID] [--search TEXT] | upload FILE [--tenant ID]\n"
        "        | enable RULE_ID [--tenant ID]\n"
        "        | disable RULE_ID [--tenant ID]\n"
        "  suppressions list [--tenant ID] [--all] | delete ID\n"
        "  iocs list [--tenant ID] | entries ID [--limit N] [--offset N] | delete ID\n"
        "       | import NAME FILE [--format csv|stix] [--tenant ID] [--source TEXT]\n"
        "  channels list [--tenant ID] | test ID | delete ID\n"
        "           | create NAME --type webhook|slack|teams|smtp|syslog [--tenant ID]\n"
        "             [--url URL] [--set KEY=VALUE]... [--config JSON] [--disabled]\n"
        "  actions list [--tenant ID] [--agent ID] [--incident ID] [--state S] [--limit N]\n"
        "          | get ID | approve ID [--reason TEXT] | reject ID [--reason TEXT]\n"
        "          | request AGENT_ID TYPE [--param KEY=VALUE]... [--params JSON]\n"
        "            [--reason TEXT] [--incident ID] [--expires-in S]\n"
        "  policy get TENANT_ID | set TENANT_ID [--type TYPE=auto|approval|forbidden]...\n"
        "         [--approval-timeout S] [--queue-expiry S] [--objection-window S]\n"
        "         [--full-min-severity 0-4]\n"
        "  attachments list INCIDENT_ID | download ID --out FILE\n"
        "  metrics soc [--tenant ID] [--from T] [--to T] [--per-rule] | prometheus\n"
        "  audit list [--tenant ID] [--limit N]\n"
        "  raw METHOD PATH [JSON_BODY]\n"
        "\n"
        "Server and token also come from BANNIN_SERVER and BANNIN_TOKEN.\n");
}

/* ---- HTTP ------------------------------------------------------------------------------ */

struct resp {
    struct bn_buf body;
    long status;
    char sha256[65]; /* the X-Content-SHA256 header of a download, "" when absent */
};

/* Keeps the X-Content-SHA256 header (64 hex digits) of a reply. */
static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    static const char name[] = "x-content-sha256:";
    size_t len = sz * n, nl = sizeof(name) - 1;
    if (len > nl && strncasecmp(p, name, nl) == 0) {
        size_t i = nl;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        size_t j = i;
        while (j < len && j - i < 64 && isxdigit((unsigned char)p[j]))
            j++;
        if (j - i == 64) {
            memcpy(r->sha256, p + i, 64);
            r->sha256[64] = '\0';
        }
    }
    return len;
}

static size_t
on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    if (bn_buf_append(&r->body, p, sz * n) < 0)
        return 0; /* over BN_API_CLIENT_RESPONSE_MAX: curl aborts the transfer */
    return sz * n;
}

/* Sends a request; body (may be NULL) is consumed. Returns 0 and the reply, or -1. */
static int
http(const struct admin *a, const char *method, const char *path, json_t *body,
     struct resp *out)
{
    bn_buf_init(&out->body, BN_API_CLIENT_RESPONSE_MAX);
    out->status = 0;
    out->sha256[0] = '\0';
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    CURL *c = curl_easy_init();
    if (!c) {
        free(payload);
        return -1;
    }
    struct bn_buf url, auth;
    bn_buf_init(&url, BN_API_URL_MAX + 1024);
    bn_buf_init(&auth, 1024);
    int rc = bn_buf_printf(&url, "%s%s", a->server, path);
    if (rc == 0 && a->token)
        rc = bn_buf_printf(&auth, "Authorization: Bearer %s", a->token);
    struct curl_slist *h = NULL;
    if (a->token && rc == 0)
        h = curl_slist_append(h, auth.p);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url.p ? url.p : "");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (payload) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    CURLcode cc = rc == 0 ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        fprintf(stderr, "bannin api: cannot reach '%s': %s\n", a->server,
                curl_easy_strerror(cc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    bn_buf_release(&url);
    bn_buf_release(&auth);
    free(payload);
    return cc == CURLE_OK ? 0 : -1;
}

/* Prints a refusal: "bannin api: 403 forbidden: role ... (field x)". */
static int
print_error(const struct resp *r)
{
    json_t *j = r->body.len ? json_loadb(r->body.p, r->body.len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *field = json_string_value(json_object_get(e, "field"));
    if (code)
        fprintf(stderr, "bannin api: %ld %s: %s%s%s%s\n", r->status, code, msg ? msg : "",
                field ? " (field '" : "", field ? field : "", field ? "')" : "");
    else
        fprintf(stderr, "bannin api: HTTP %ld\n", r->status);
    json_decref(j);
    return 1;
}

/* ---- output ---------------------------------------------------------------------------- */

static void
cell(const json_t *v, char *out, size_t size)
{
    if (!v || json_is_null(v))
        snprintf(out, size, "-");
    else if (json_is_string(v))
        snprintf(out, size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, size, "%lld", (long long)json_integer_value(v));
    else if (json_is_true(v))
        snprintf(out, size, "yes");
    else if (json_is_false(v))
        snprintf(out, size, "no");
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, size, "%s", s ? s : "?");
        free(s);
    }
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

/* Prints items as a table of the given columns (NULL-terminated). */
static void
print_table(json_t *items, const char *const *cols)
{
    size_t ncol = 0, w[16] = {0};
    char buf[256];
    while (cols[ncol] && ncol < 16) {
        w[ncol] = strlen(cols[ncol]);
        ncol++;
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        for (size_t c = 0; c < ncol; c++) {
            cell(json_object_get(it, cols[c]), buf, 48);
            size_t n = strlen(buf);
            if (n > w[c])
                w[c] = n;
        }
    }
    /* The last column is not padded: no trailing blanks. */
    for (size_t c = 0; c < ncol; c++)
        printf("%-*s%s", c + 1 < ncol ? (int)w[c] : 0, cols[c], c + 1 < ncol ? "  " : "\n");
    json_array_foreach(items, i, it) {
        for (size_t c = 0; c < ncol; c++) {
            cell(json_object_get(it, cols[c]), buf, 48);
            printf("%-*s%s", c + 1 < ncol ? (int)w[c] : 0, buf, c + 1 < ncol ? "  " : "\n");
        }
    }
}

/* Runs the request and prints the reply: a table of cols for lists, else indented JSON. */
static int
run(const struct admin *a, const char *method, const char *path, json_t *body,
    const char *const *cols)
{
    struct resp r;
    if (http(a, method, path, body, &r) < 0) {
        bn_buf_release(&r.body);
        return 2;
    }
    int rc = 0;
    if (r.status < 200 || r.status > 299) {
        rc = print_error(&r);
    } else if (r.body.len) {
        json_t *j = json_loadb(r.body.p, r.body.len, 0, NULL);
        if (!j) {
            fwrite(r.body.p, 1, r.body.len, stdout); /* /metrics is text */
        } else if (cols && !a->json_out && json_is_array(json_object_get(j, "items"))) {
            print_table(json_object_get(j, "items"), cols);
            const char *next = json_string_value(json_object_get(j, "next_cursor"));
            if (next)
                printf("(more: --cursor %s)\n", next);
        } else {
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            printf("\n");
        }
        json_decref(j);
    }
    bn_buf_release(&r.body);
    return rc;
}

/* ---- argument helpers ------------------------------------------------------------------ */

/* Value of --name in argv (NULL when absent); flags take no value when value is 0. */
static const char *
opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return i + 1 < argc ? argv[i + 1] : "";
    }
    return NULL;
}

static int
flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static int
num(const char *s, long long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

/* Adds an integer option to body when present; -1 on a malformed value. */
static int
body_int(json_t *body, int argc, char **argv, const char *optname, const char *key)
{
    const char *s = opt(argc, argv, optname);
    long long v;
    if (!s)
        return 0;
    if (num(s, &v) < 0) {
        fprintf(stderr, "bannin api: %s needs a number, not '%s'\n", optname, s);
        return -1;
    }
    json_object_set_new(body, key, json_integer(v));
    return 0;
}

/* A secret from the environment or the first line of stdin (never argv). */
static int
read_secret(const char *env, char *out, size_t size)
{
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(out, size, "%s", e);
        return 0;
    }
    if (!fgets(out, (int)size, stdin))
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}

static int
path_id(char *out, size_t size, const char *prefix, const char *id)
{
    long long v;
    if (num(id, &v) < 0 || v <= 0) {
        fprintf(stderr, "bannin api: '%s' is not an id\n", id ? id : "");
        return -1;
    }
    snprintf(out, size, "%s%lld", prefix, v);
    return 0;
}

static void
path_append(char *path, size_t size, const char *tail)
{
    size_t n = strlen(path);
    snprintf(path + n, size - n, "%s", tail);
}

static void
query_add(char *q, size_t size, const char *key, const char *val)
{
    if (!val)
        return;
    size_t n = strlen(q);
    char *esc = curl_easy_escape(NULL, val, 0);
    snprintf(q + n, size - n, "%c%s=%s", strchr(q, '?') ? '&' : '?', key, esc ? esc : "");
    curl_free(esc);
}

/* ---- nouns ----------------------------------------------------------------------------- */

static const char *const tenant_cols[] = {"id", "name", "mode", "notify_min_severity",
                                          "retention_days", "created_at", NULL};
static const char *const user_cols[] = {"id", "username", "role", "tenant_id", "disabled",
                                        "created_at", NULL};
static const char *const token_cols[] = {"id", "kind", "name", "created_at", "expires_at",
                                         "last_used_at", "revoked", NULL};
static const char *const enroll_cols[] = {"id", "tenant_id", "uses_left", "expires_at",
                                          "revoked", "created_by", NULL};
static const char *const agent_cols[] = {"id", "tenant_id", "hostname", "tier", "last_seen",
                                         "revoked", "asset_criticality", NULL};
static const char *const incident_cols[] = {"id", "tenant_id", "severity", "status",
                                            "alert_count", "title", "last_seen", NULL};
static const char *const alert_cols[] = {"id", "tenant_id", "level", "count", "host",
                                         "rule_title", "incident_id", "last_seen", NULL};
static const char *const audit_cols[] = {"id", "time", "tenant_id", "actor", "action",
                                         "object", NULL};
static const char *const state_cols[] = {"rule_id", "tenant_id", "enabled", "updated_by",
                                         "updated_at", NULL};

static int
bad(const char *what)
{
    fprintf(stderr, "bannin api: %s (see `bannin api --help`)\n", what);
    return 2;
}

static int
tenants(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256];
    if (strcmp(verb, "list") == 0)
        return run(a, "GET", "/api/v1/tenants", NULL, tenant_cols);
    if (argc < 1)
        return bad("tenants: missing argument");
    if (strcmp(verb, "get") == 0)
        return path_id(path, sizeof(path), "/api/v1/tenants/", argv[0]) < 0
                   ? 2
                   : run(a, "GET", path, NULL, NULL);
    json_t *b = json_object();
    if (opt(argc, argv, "--mode"))
        json_object_set_new(b, "mode", json_string(opt(argc, argv, "--mode")));
    if (body_int(b, argc, argv, "--notify-min", "notify_min_severity") < 0 ||
        body_int(b, argc, argv, "--retention-days", "retention_days") < 0 ||
        body_int(b, argc, argv, "--retention-bytes", "retention_bytes") < 0) {
        json_decref(b);
        return 2;
    }
    if (strcmp(verb, "create") == 0) {
        json_object_set_new(b, "name", json_string(argv[0]));
        return run(a, "POST", "/api/v1/tenants", b, NULL);
    }
    if (strcmp(verb, "update") == 0) {
        if (path_id(path, sizeof(path), "/api/v1/tenants/", argv[0]) < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "PATCH", path, b, NULL);
    }
    json_decref(b);
    return bad("tenants: unknown verb");
}

static int
users(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256] = "/api/v1/users", pw[512];
    if (strcmp(verb, "list") == 0) {
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        return run(a, "GET", path, NULL, user_cols);
    }
    if (argc < 1)
        return bad("users: missing argument");
    if (strcmp(verb, "create") == 0) {
        const char *role = opt(argc, argv, "--role");
        if (!role)
            return bad("users create: --role is required");
        if (read_secret("BANNIN_NEW_PASSWORD", pw, sizeof(pw)) < 0)
            return bad("users create: no password (BANNIN_NEW_PASSWORD or stdin)");
        json_t *b = json_pack("{s:s,s:s,s:s}", "username", argv[0], "password", pw, "role",
                              role);
        if (body_int(b, argc, argv, "--tenant", "tenant_id") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "POST", "/api/v1/users", b, NULL);
    }
    if (path_id(path, sizeof(path), "/api/v1/users/", argv[0]) < 0)
        return 2;
    if (strcmp(verb, "get") == 0)
        return run(a, "GET", path, NULL, NULL);
    if (strcmp(verb, "delete") == 0)
        return run(a, "DELETE", path, NULL, NULL);
    if (strcmp(verb, "update") == 0) {
        json_t *b = json_object();
        if (opt(argc, argv, "--role"))
            json_object_set_new(b, "role", json_string(opt(argc, argv, "--role")));
        if (flag(argc, argv, "--disable"))
            json_object_set_new(b, "disabled", json_true());
        if (flag(argc, argv, "--enable"))
            json_object_set_new(b, "disabled", json_false());
        if (flag(argc, argv, "--password")) {
            if (read_secret("BANNIN_NEW_PASSWORD", pw, sizeof(pw)) < 0) {
                json_decref(b);
                return bad("users update: no password (BANNIN_NEW_PASSWORD or stdin)");
            }
            json_object_set_new(b, "password", json_string(pw));
            /* one's own password change needs the current one */
            const char *cur = getenv("BANNIN_PASSWORD");
            if (cur && *cur)
                json_object_set_new(b, "current_password", json_string(cur));
        }
        return run(a, "PATCH", path, b, NULL);
    }
    return bad("users: unknown verb");
}

static int
tokens(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256];
    if (strcmp(verb, "list") == 0)
        return run(a, "GET", "/api/v1/tokens", NULL, token_cols);
    if (argc < 1)
        return bad("tokens: missing argument");
    if (strcmp(verb, "create") == 0) {
        json_t *b = json_pack("{s:s}", "name", argv[0]);
        if (body_int(b, argc, argv, "--expires-in", "expires_in_s") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "POST", "/api/v1/tokens", b, NULL);
    }
    if (strcmp(verb, "revoke") == 0)
        return path_id(path, sizeof(path), "/api/v1/tokens/", argv[0]) < 0
                   ? 2
                   : run(a, "DELETE", path, NULL, NULL);
    return bad("tokens: unknown verb");
}

static int
enroll(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256] = "/api/v1/enrollment-tokens";
    if (strcmp(verb, "list") == 0) {
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        return run(a, "GET", path, NULL, enroll_cols);
    }
    if (strcmp(verb, "create") == 0) {
        json_t *b = json_object();
        if (body_int(b, argc, argv, "--tenant", "tenant_id") < 0 ||
            body_int(b, argc, argv, "--uses", "uses") < 0 ||
            body_int(b, argc, argv, "--expires-in", "expires_in_s") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "POST", path, b, NULL);
    }
    if (strcmp(verb, "revoke") == 0 && argc >= 1)
        return path_id(path, sizeof(path), "/api/v1/enrollment-tokens/", argv[0]) < 0
                   ? 2
                   : run(a, "DELETE", path, NULL, NULL);
    return bad("enroll: unknown verb or missing argument");
}

static int
agents(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256] = "/api/v1/agents";
    if (strcmp(verb, "list") == 0) {
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        return run(a, "GET", path, NULL, agent_cols);
    }
    if (argc < 1 || path_id(path, sizeof(path), "/api/v1/agents/", argv[0]) < 0)
        return 2;
    if (strcmp(verb, "get") == 0)
        return run(a, "GET", path, NULL, NULL);
    if (strcmp(verb, "revoke") == 0) {
        path_append(path, sizeof(path), "/revoke");
        return run(a, "POST", path, NULL, NULL);
    }
    if (strcmp(verb, "criticality") == 0 && argc >= 2) {
        long long v;
        if (num(argv[1], &v) < 0)
            return bad("agents criticality: give 0..3");
        return run(a, "PATCH", path, json_pack("{s:I}", "asset_criticality", (json_int_t)v),
                   NULL);
    }
    return bad("agents: unknown verb or missing argument");
}

static int
incidents(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[512] = "/api/v1/incidents";
    if (strcmp(verb, "list") == 0) {
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        query_add(path, sizeof(path), "status", opt(argc, argv, "--status"));
        query_add(path, sizeof(path), "limit", opt(argc, argv, "--limit"));
        query_add(path, sizeof(path), "cursor", opt(argc, argv, "--cursor"));
        return run(a, "GET", path, NULL, incident_cols);
    }
    if (argc < 1 || path_id(path, sizeof(path), "/api/v1/incidents/", argv[0]) < 0)
        return 2;
    if (strcmp(verb, "get") == 0)
        return run(a, "GET", path, NULL, NULL);
    if (strcmp(verb, "timeline") == 0) {
        path_append(path, sizeof(path), "/timeline");
        return run(a, "GET", path, NULL, NULL);
    }
    if (strcmp(verb, "update") == 0) {
        json_t *b = json_object();
        if (opt(argc, argv, "--status"))
            json_object_set_new(b, "status", json_string(opt(argc, argv, "--status")));
        if (body_int(b, argc, argv, "--assignee", "assignee_id") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "PATCH", path, b, NULL);
    }
    if (strcmp(verb, "note") == 0 && argc >= 2) {
        path_append(path, sizeof(path), "/notes");
        return run(a, "POST", path, json_pack("{s:s}", "text", argv[1]), NULL);
    }
    return bad("incidents: unknown verb or missing argument");
}

static int
alerts(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[512] = "/api/v1/alerts";
    if (strcmp(verb, "list") == 0) {
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        query_add(path, sizeof(path), "limit", opt(argc, argv, "--limit"));
        query_add(path, sizeof(path), "cursor", opt(argc, argv, "--cursor"));
        return run(a, "GET", path, NULL, alert_cols);
    }
    if (argc < 1 || path_id(path, sizeof(path), "/api/v1/alerts/", argv[0]) < 0)
        return 2;
    if (strcmp(verb, "get") == 0)
        return run(a, "GET", path, NULL, NULL);
    if (strcmp(verb, "suppress") == 0) {
        const char *reason = opt(argc, argv, "--reason");
        if (!reason)
            return bad("alerts suppress: --reason is required");
        path_append(path, sizeof(path), "/suppress");
        json_t *b = json_pack("{s:s}", "reason", reason);
        if (body_int(b, argc, argv, "--expires-in", "expires_in_s") < 0) {
            json_decref(b);
            return 2;
        }
        if (flag(argc, argv, "--any-host"))
            json_object_set_new(b, "with_host", json_false());
        return run(a, "POST", path, b, NULL);
    }
    return bad("alerts: unknown verb");
}

static const char *const event_cols[] = {"id", "time", "tenant_id", "host", "event_id", "image",
                                        "user", NULL};

static int
events(const struct admin *a, const char *verb, int argc, char **argv)
{
    if (strcmp(verb, "search") != 0)
        return bad("events: the verb is search");
    char path[BN_API_URL_MAX] = "/api/v1/events";
    static const char *const map[][2] = {{"--tenant", "tenant_id"}, {"--host", "host"},
                                         {"--from", "from"},        {"--to", "to"},
                                         {"--event-id", "event_id"}, {"--image", "image"},
                                         {"--user", "user"},        {"--limit", "limit"},
                                         {"--cursor", "cursor"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        query_add(path, sizeof(path), map[i][1], opt(argc, argv, map[i][0]));
    for (int i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--field") != 0)
            continue;
        const char *eq = strchr(argv[i + 1], '=');
        if (!eq || eq == argv[i + 1])
            return bad("events search: --field takes NAME=VALUE");
        char key[300];
        snprintf(key, sizeof(key), "field.%.*s", (int)(eq - argv[i + 1]), argv[i + 1]);
        query_add(path, sizeof(path), key, eq + 1);
    }
    return run(a, "GET", path, NULL, event_cols);
}

static int
rules(const struct admin *a, const char *verb, int argc, char **argv)
{
    if (strcmp(verb, "list") == 0) {
        char path[512] = "/api/v1/rules";
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        query_add(path, sizeof(path), "q", opt(argc, argv, "--search"));
        struct resp r;
        if (http(a, "GET", path, NULL, &r) < 0) {
            bn_buf_release(&r.body);
            return 2;
        }
        int rc = 0;
        json_t *j = json_loadb(r.body.p ? r.body.p : "", r.body.len, 0, NULL);
        if (r.status != 200) {
            rc = print_error(&r);
        } else if (a->json_out || !j) {
            fwrite(r.body.p, 1, r.body.len, stdout);
            printf("\n");
        } else {
            static const char *const up_cols[] = {"id", "rule_id", "tenant_id", "title",
                                                  "author", "created_at", NULL};
            static const char *const rule_cols[] = {"rule_id", "level", "kind", "enabled",
                                                    "title", NULL};
            print_table(json_object_get(j, "rules"), rule_cols);
            if (json_array_size(json_object_get(j, "states"))) {
                printf("\nstate set by hand:\n");
                print_table(json_object_get(j, "states"), state_cols);
            }
            if (json_array_size(json_object_get(j, "uploads"))) {
                printf("\nuploaded rules:\n");
                print_table(json_object_get(j, "uploads"), up_cols);
            }
        }
        json_decref(j);
        bn_buf_release(&r.body);
        return rc;
    }
    if (argc < 1)
        return bad("rules: missing argument");
    if (strcmp(verb, "upload") == 0) {
        FILE *f = fopen(argv[0], "rb");
        if (!f) {
            fprintf(stderr, "bannin api: cannot open '%s': %s\n", argv[0], strerror(errno));
            return 2;
        }
        struct bn_buf y;
        bn_buf_init(&y, BN_RULE_FILE_MAX);
        char chunk[65536];
        size_t n;
        int rc = 0;
        while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            rc = bn_buf_append(&y, chunk, n);
        fclose(f);
        if (rc < 0 || y.len == 0) {
            bn_buf_release(&y);
            fprintf(stderr, "bannin api: '%s' is empty or larger than %u bytes\n", argv[0],
                    (unsigned)BN_RULE_FILE_MAX);
            return 2;
        }
        json_t *b = json_object();
        json_object_set_new(b, "yaml", json_stringn(y.p, y.len));
        bn_buf_release(&y);
        if (body_int(b, argc, argv, "--tenant", "tenant_id") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "POST", "/api/v1/rules", b, NULL);
    }
    if (strcmp(verb, "enable") == 0 || strcmp(verb, "disable") == 0) {
        char path[256];
        char *esc = curl_easy_escape(NULL, argv[0], 0);
        snprintf(path, sizeof(path), "/api/v1/rules/%s", esc ? esc : "");
        curl_free(esc);
        json_t *b = json_pack("{s:b}", "enabled", strcmp(verb, "enable") == 0);
        if (body_int(b, argc, argv, "--tenant", "tenant_id") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "PATCH", path, b, NULL);
    }
    return bad("rules: unknown verb");
}

/* KEY=VALUE as JSON: an integer, true/false, or a string. */
static json_t *
kv_json(const char *v)
{
    long long n;
    if (num(v, &n) == 0)
        return json_integer(n);
    if (strcmp(v, "true") == 0)
        return json_true();
    if (strcmp(v, "false") == 0)
        return json_false();
    return json_string(v);
}

/* Adds every "--name KEY=VALUE" of argv to obj; -1 (said why) on a malformed one. */
static int
kv_collect(json_t *obj, int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], name) != 0)
            continue;
        const char *kv = i + 1 < argc ? argv[i + 1] : "";
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv || eq - kv > 127) {
            fprintf(stderr, "bannin api: %s takes KEY=VALUE, not '%s'\n", name, kv);
            return -1;
        }
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
        json_t *v = kv_json(eq + 1);
        if (!v || json_object_set_new(obj, key, v) != 0)
            return -1;
        i++;
    }
    return 0;
}

/* The JSON object given to option name merged into obj (0 when absent, -1 if malformed). */
static int
json_opt(json_t *obj, int argc, char **argv, const char *name)
{
    const char *s = opt(argc, argv, name);
    if (!s)
        return 0;
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!json_is_object(j)) {
        fprintf(stderr, "bannin api: %s needs a JSON object: %s\n", name,
                j ? "not an object" : je.text);
        json_decref(j);
        return -1;
    }
    json_object_update(obj, j);
    json_decref(j);
    return 0;
}

static void
body_str(json_t *body, int argc, char **argv, const char *optname, const char *key)
{
    const char *s = opt(argc, argv, optname);
    if (s)
        json_object_set_new(body, key, json_string(s));
}

static const char *const supp_cols[] = {"id", "tenant_id", "host", "rule_id", "hits",
                                        "expires_at", "author", "reason", NULL};

static int
suppressions(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256] = "/api/v1/suppressions";
    if (strcmp(verb, "list") == 0) {
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        if (flag(argc, argv, "--all"))
            query_add(path, sizeof(path), "include_expired", "1");
        return run(a, "GET", path, NULL, supp_cols);
    }
    if (strcmp(verb, "delete") == 0 && argc >= 1)
        return path_id(path, sizeof(path), "/api/v1/suppressions/", argv[0]) < 0
                   ? 2
                   : run(a, "DELETE", path, NULL, NULL);
    return bad("suppressions: unknown verb or missing argument");
}

static const char *const ioc_cols[] = {"id", "tenant_id", "name", "source", "entries",
                                       "created_at", NULL};
static const char *const ioc_entry_cols[] = {"type", "value", "source", NULL};

/* Reads a file the server will take whole (at most max bytes) into out. */
static int
slurp(const char *file, size_t max, struct bn_buf *out)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "bannin api: cannot open '%s': %s\n", file, strerror(errno));
        return -1;
    }
    bn_buf_init(out, max);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = bn_buf_append(out, chunk, n);
    if (ferror(f))
        rc = -1;
    fclose(f);
    if (rc < 0 || out->len == 0) {
        fprintf(stderr, "bannin api: '%s' is empty, unreadable or larger than %zu bytes\n",
                file, max);
        bn_buf_release(out);
        return -1;
    }
    return 0;
}

static int
iocs(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[512] = "/api/v1/ioc-lists";
    if (strcmp(verb, "list") == 0) {
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        return run(a, "GET", path, NULL, ioc_cols);
    }
    if (strcmp(verb, "import") == 0) {
        if (argc < 2)
            return bad("iocs import: give NAME FILE");
        struct bn_buf c;
        if (slurp(argv[1], BN_API_BODY_MAX / 2, &c) < 0)
            return 2;
        const char *fmt = opt(argc, argv, "--format");
        if (!fmt) { /* a STIX bundle is a JSON object; anything else is taken as CSV */
            size_t i = 0;
            while (i < c.len && (c.p[i] == ' ' || c.p[i] == '\n' || c.p[i] == '\r' ||
                                 c.p[i] == '\t'))
                i++;
            fmt = i < c.len && c.p[i] == '{' ? "stix" : "csv";
        }
        json_t *b = json_pack("{s:s,s:s,s:s%}", "name", argv[0], "format", fmt, "content",
                              c.p, c.len);
        bn_buf_release(&c);
        if (!b)
            return bad("iocs import: the file is not UTF-8 text");
        body_str(b, argc, argv, "--source", "source");
        if (body_int(b, argc, argv, "--tenant", "tenant_id") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "POST", path, b, NULL);
    }
    if (argc < 1 || path_id(path, sizeof(path), "/api/v1/ioc-lists/", argv[0]) < 0)
        return bad("iocs: unknown verb or missing id");
    if (strcmp(verb, "entries") == 0) {
        path_append(path, sizeof(path), "/entries");
        query_add(path, sizeof(path), "limit", opt(argc, argv, "--limit"));
        query_add(path, sizeof(path), "offset", opt(argc, argv, "--offset"));
        return run(a, "GET", path, NULL, ioc_entry_cols);
    }
    if (strcmp(verb, "delete") == 0)
        return run(a, "DELETE", path, NULL, NULL);
    return bad("iocs: unknown verb");
}

static const char *const channel_cols[] = {"id", "tenant_id", "name", "type", "enabled",
                                           "created_at", NULL};

static int
channels(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256] = "/api/v1/channels";
    if (strcmp(verb, "list") == 0) {
        query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
        return run(a, "GET", path, NULL, channel_cols);
    }
    if (argc < 1)
        return bad("channels: missing argument");
    if (strcmp(verb, "create") == 0) {
        const char *type = opt(argc, argv, "--type");
        if (!type || !*type)
            return bad("channels create: --type is required");
        json_t *cfg = json_object();
        body_str(cfg, argc, argv, "--url", "url");
        if (json_opt(cfg, argc, argv, "--config") < 0 ||
            kv_collect(cfg, argc, argv, "--set") < 0) {
            json_decref(cfg);
            return 2;
        }
        json_t *b = json_pack("{s:s,s:s,s:o}", "name", argv[0], "type", type, "config", cfg);
        if (flag(argc, argv, "--disabled"))
            json_object_set_new(b, "enabled", json_false());
        if (body_int(b, argc, argv, "--tenant", "tenant_id") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "POST", path, b, NULL);
    }
    if (path_id(path, sizeof(path), "/api/v1/channels/", argv[0]) < 0)
        return 2;
    if (strcmp(verb, "test") == 0) {
        path_append(path, sizeof(path), "/test");
        return run(a, "POST", path, NULL, NULL);
    }
    if (strcmp(verb, "delete") == 0)
        return run(a, "DELETE", path, NULL, NULL);
    return bad("channels: unknown verb");
}

static const char *const action_cols[] = {"id", "tenant_id", "agent_id", "incident_id", "type",
                                          "state", "requested_by", "created_at", NULL};

static int
actions(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[512] = "/api/v1/actions";
    if (strcmp(verb, "list") == 0) {
        static const char *const map[][2] = {{"--tenant", "tenant_id"}, {"--agent", "agent_id"},
                                             {"--incident", "incident_id"}, {"--state", "state"},
                                             {"--limit", "limit"}};
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            query_add(path, sizeof(path), map[i][1], opt(argc, argv, map[i][0]));
        return run(a, "GET", path, NULL, action_cols);
    }
    if (strcmp(verb, "request") == 0) {
        if (argc < 2 || path_id(path, sizeof(path), "/api/v1/agents/", argv[0]) < 0)
            return bad("actions request: give AGENT_ID TYPE");
        path_append(path, sizeof(path), "/actions");
        json_t *params = json_object();
        if (json_opt(params, argc, argv, "--params") < 0 ||
            kv_collect(params, argc, argv, "--param") < 0) {
            json_decref(params);
            return 2;
        }
        json_t *b = json_pack("{s:s,s:o}", "type", argv[1], "params", params);
        body_str(b, argc, argv, "--reason", "reason");
        if (body_int(b, argc, argv, "--incident", "incident_id") < 0 ||
            body_int(b, argc, argv, "--expires-in", "expires_s") < 0) {
            json_decref(b);
            return 2;
        }
        return run(a, "POST", path, b, NULL);
    }
    if (argc < 1 || path_id(path, sizeof(path), "/api/v1/actions/", argv[0]) < 0)
        return bad("actions: unknown verb or missing id");
    if (strcmp(verb, "get") == 0)
        return run(a, "GET", path, NULL, NULL);
    if (strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0 ||
        strcmp(verb, "object") == 0) {
        path_append(path, sizeof(path), verb[0] == 'a' ? "/approve" : "/reject");
        json_t *b = json_object();
        body_str(b, argc, argv, "--reason", "reason");
        return run(a, "POST", path, b, NULL);
    }
    return bad("actions: unknown verb");
}

static int
policy(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256];
    if (argc < 1 || path_id(path, sizeof(path), "/api/v1/tenants/", argv[0]) < 0)
        return bad("policy: give a tenant id");
    path_append(path, sizeof(path), "/response-policy");
    if (strcmp(verb, "get") == 0)
        return run(a, "GET", path, NULL, NULL);
    if (strcmp(verb, "set") != 0)
        return bad("policy: the verbs are get and set");
    json_t *types = json_object();
    if (kv_collect(types, argc, argv, "--type") < 0) {
        json_decref(types);
        return 2;
    }
    json_t *b = json_object();
    if (json_object_size(types))
        json_object_set_new(b, "policies", types);
    else
        json_decref(types);
    if (body_int(b, argc, argv, "--approval-timeout", "approval_timeout_s") < 0 ||
        body_int(b, argc, argv, "--queue-expiry", "queue_expiry_s") < 0 ||
        body_int(b, argc, argv, "--objection-window", "objection_window_s") < 0 ||
        body_int(b, argc, argv, "--full-min-severity", "full_min_severity") < 0) {
        json_decref(b);
        return 2;
    }
    return run(a, "PUT", path, b, NULL);
}

static const char *const attach_cols[] = {"id", "tenant_id", "agent_id", "name", "size",
                                          "sha256", "created_at", NULL};

/* Saves an attachment to a new file (never over an existing one) and prints its SHA-256. */
static int
attachment_download(const struct admin *a, const char *path, const char *file)
{
    struct resp r;
    if (http(a, "GET", path, NULL, &r) < 0) {
        bn_buf_release(&r.body);
        return 2;
    }
    if (r.status != 200) {
        int rc = print_error(&r);
        bn_buf_release(&r.body);
        return rc;
    }
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned hl = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    EVP_Digest(r.body.p ? r.body.p : "", r.body.len, h, &hl, EVP_sha256(), NULL);
    bn_hex_encode(h, hl, hex);
    if (r.sha256[0] && strcasecmp(r.sha256, hex) != 0) {
        fprintf(stderr, "bannin api: the download's SHA-256 is %s, the server sent %s: "
                        "not saved\n", hex, r.sha256);
        bn_buf_release(&r.body);
        return 1;
    }
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : bn_write_all(fd, r.body.p, r.body.len);
    if (fd >= 0 && rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        fprintf(stderr, "bannin api: writing '%s': %s\n", file, strerror(-rc));
        if (fd >= 0)
            unlink(file);
        bn_buf_release(&r.body);
        return 2;
    }
    printf("%s: %zu bytes, sha256 %s%s\n", file, r.body.len, hex,
           r.sha256[0] ? " (as the server checked it)" : "");
    bn_buf_release(&r.body);
    return 0;
}

static int
attachments(const struct admin *a, const char *verb, int argc, char **argv)
{
    char path[256];
    if (strcmp(verb, "list") == 0) {
        if (argc < 1 || path_id(path, sizeof(path), "/api/v1/incidents/", argv[0]) < 0)
            return bad("attachments list: give an incident id");
        path_append(path, sizeof(path), "/attachments");
        return run(a, "GET", path, NULL, attach_cols);
    }
    if (strcmp(verb, "download") == 0) {
        const char *out = opt(argc, argv, "--out");
        if (argc < 1 || !out || !*out)
            return bad("attachments download: give ID --out FILE");
        if (path_id(path, sizeof(path), "/api/v1/attachments/", argv[0]) < 0)
            return 2;
        return attachment_download(a, path, out);
    }
    return bad("attachments: unknown verb");
}

static int
metrics(const struct admin *a, const char *verb, int argc, char **argv)
{
    if (strcmp(verb, "prometheus") == 0)
        return run(a, "GET", "/metrics", NULL, NULL);
    if (strcmp(verb, "soc") != 0)
        return bad("metrics: the verbs are soc and prometheus");
    char path[512] = "/api/v1/soc-metrics";
    query_add(path, sizeof(path), "tenant_id", opt(argc, argv, "--tenant"));
    query_add(path, sizeof(path), "from", opt(argc, argv, "--from"));
    query_add(path, sizeof(path), "to", opt(argc, argv, "--to"));
    if (flag(argc, argv, "--per-rule"))
        query_add(path, sizeof(path), "per_rule", "1");
    return run(a, "GET", path, NULL, NULL);
}

static int
login(struct admin *a, int argc, char **argv)
{
    char pw[512];
    if (argc < 1)
        return bad("login: give a user name");
    if (read_secret("BANNIN_PASSWORD", pw, sizeof(pw)) < 0)
        return bad("login: no password (BANNIN_PASSWORD or stdin)");
    struct resp r;
    a->token = NULL;
    if (http(a, "POST", "/api/v1/auth/login",
             json_pack("{s:s,s:s}", "username", argv[0], "password", pw), &r) < 0) {
        bn_buf_release(&r.body);
        return 2;
    }
    int rc = 0;
    if (r.status != 200) {
        rc = print_error(&r);
    } else {
        json_t *j = json_loadb(r.body.p, r.body.len, 0, NULL);
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (a->json_out || !tok)
            printf("%.*s\n", (int)r.body.len, r.body.p);
        else
            printf("%s\n", tok);
        json_decref(j);
    }
    bn_buf_release(&r.body);
    return rc;
}

int
cmd_admin(int argc, char **argv)
{
    struct admin a = {getenv("BANNIN_SERVER"), getenv("BANNIN_TOKEN"), 0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            admin_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            a.json_out = 1;
        } else if ((strcmp(argv[i], "--server") == 0 || strcmp(argv[i], "--token") == 0) &&
                   i + 1 < argc) {
            if (argv[i][2] == 's')
                a.server = argv[++i];
            else
                a.token = argv[++i];
        } else {
            fprintf(stderr, "bannin api: unknown option '%s'\n", argv[i]);
            admin_usage(stderr);
            return 2;
        }
    }
    if (!a.server)
        a.server = "http://127.0.0.1:8080"; /* bannind's default --api */
    if (argc - i < 1) {
        admin_usage(stderr);
        return 2;
    }
    const char *noun = argv[i++];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 2;
    int rc;
    int rest = argc - i;
    char **args = argv + i;
    if (strcmp(noun, "login") == 0) {
        rc = login(&a, rest, args);
    } else if (strcmp(noun, "whoami") == 0) {
        rc = run(&a, "GET", "/api/v1/me", NULL, NULL);
    } else if (strcmp(noun, "raw") == 0) {
        if (rest < 2) {
            rc = bad("raw: give METHOD PATH [JSON_BODY]");
        } else {
            json_t *b = NULL;
            json_error_t je;
            if (rest >= 3 && !(b = json_loads(args[2], 0, &je))) {
                fprintf(stderr, "bannin api: body:%d:%d: %s\n", je.line, je.column, je.text);
                rc = 2;
            } else {
                rc = run(&a, args[0], args[1], b, NULL);
            }
        }
    } else if (rest < 1) {
        rc = bad("missing verb");
    } else {
        const char *verb = args[0];
        rest--;
        args++;
        if (strcmp(noun, "tenants") == 0)
            rc = tenants(&a, verb, rest, args);
        else if (strcmp(noun, "users") == 0)
            rc = users(&a, verb, rest, args);
        else if (strcmp(noun, "tokens") == 0)
            rc = tokens(&a, verb, rest, args);
        else if (strcmp(noun, "enroll") == 0 || strcmp(noun, "enrollment-tokens") == 0)
            rc = enroll(&a, verb, rest, args);
        else if (strcmp(noun, "agents") == 0)
            rc = agents(&a, verb, rest, args);
        else if (strcmp(noun, "incidents") == 0)
            rc = incidents(&a, verb, rest, args);
        else if (strcmp(noun, "alerts") == 0)
            rc = alerts(&a, verb, rest, args);
        else if (strcmp(noun, "rules") == 0)
            rc = rules(&a, verb, rest, args);
        else if (strcmp(noun, "events") == 0)
            rc = events(&a, verb, rest, args);
        else if (strcmp(noun, "suppressions") == 0)
            rc = suppressions(&a, verb, rest, args);
        else if (strcmp(noun, "iocs") == 0 || strcmp(noun, "ioc-lists") == 0)
            rc = iocs(&a, verb, rest, args);
        else if (strcmp(noun, "channels") == 0)
            rc = channels(&a, verb, rest, args);
        else if (strcmp(noun, "actions") == 0)
            rc = actions(&a, verb, rest, args);
        else if (strcmp(noun, "policy") == 0)
            rc = policy(&a, verb, rest, args);
        else if (strcmp(noun, "attachments") == 0)
            rc = attachments(&a, verb, rest, args);
        else if (strcmp(noun, "metrics") == 0)
            rc = metrics(&a, verb, rest, args);
        else if (strcmp(noun, "audit") == 0 && strcmp(verb, "list") == 0) {
            char path[256] = "/api/v1/audit";
            query_add(path, sizeof(path), "tenant_id", opt(rest, args, "--tenant"));
            query_add(path, sizeof(path), "limit", opt(rest, args, "--limit"));
            rc = run(&a, "GET", path, NULL, audit_cols);
        } else
            rc = bad("unknown noun");
    }
    curl_global_cleanup();
    return rc;
}
