/*
 * notify.c - notification formats (generic JSON, Slack, Teams, e-mail, RFC 5424, CEF),
 * delivery (libcurl for HTTP and SMTP, plain sockets for syslog) and the outbox worker
 * thread with exponential backoff (see notify.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/timeutil.h"
#include "manager/metrics.h"
#include "manager/notify.h"
#include "manager/triage.h"

#define NS_PER_SEC ((int64_t)1000000000)
#define NS_PER_MS ((int64_t)1000000)

static const char *const sev_names[5] = {"informational", "low", "medium", "high", "critical"};

static const char *
sev_name(int s)
{
    return (s >= 0 && s < 5) ? sev_names[s] : "unknown";
}

static const char *const status_names[] = {"new",       "acknowledged", "investigating",
                                           "contained", "resolved",     "false_positive"};

static int64_t
now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* ---- payload ----------------------------------------------------------------------------- */

static int
put_str(struct bn_buf *b, const char *key, const char *v)
{
    int rc = bn_buf_printf(b, "\"%s\":\"", key);
    if (rc == 0)
        rc = bn_buf_json_escape(b, v ? v : "", v ? strlen(v) : 0);
    if (rc == 0)
        rc = bn_buf_puts(b, "\",");
    return rc;
}

int
notify_payload(const struct store_incident *inc, const char *tenant_name,
               const char *const *hosts, size_t nhosts, const char *url, int test,
               struct bn_buf *out)
{
    char t1[40], t2[40];
    bn_buf_reset(out);
    int rc = bn_buf_printf(out, "{\"kind\":\"%s\",", test ? "test" : "incident");
    rc = rc ? rc : put_str(out, "tenant", tenant_name);
    rc = rc ? rc
            : bn_buf_printf(out, "\"tenant_id\":%" PRId64 ",\"incident_id\":%" PRId64 ",",
                            inc->tenant_id, inc->id);
    rc = rc ? rc : put_str(out, "title", inc->title);
    rc = rc ? rc
            : bn_buf_printf(out, "\"severity\":\"%s\",\"severity_level\":%d,",
                            sev_name(inc->severity), inc->severity);
    rc = rc ? rc
            : put_str(out, "status",
                      (inc->status >= 0 && inc->status < (int)BN_ARRAY_SIZE(status_names))
                          ? status_names[inc->status]
                          : "new");
    rc = rc ? rc : bn_buf_puts(out, "\"tactics\":[");
    const char *p = inc->tactics;
    bool first = true;
    while (rc == 0 && p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l) {
            rc = bn_buf_puts(out, first ? "\"" : ",\"");
            rc = rc ? rc : bn_buf_json_escape(out, p, l);
            rc = rc ? rc : bn_buf_putc(out, '"');
            first = false;
        }
        p += l + (e ? 1 : 0);
    }
    rc = rc ? rc : bn_buf_printf(out, "],\"alert_count\":%" PRId64 ",\"hosts\":[", inc->alert_count);
    for (size_t i = 0; rc == 0 && i < nhosts; i++) {
        rc = bn_buf_puts(out, i ? ",\"" : "\"");
        rc = rc ? rc : bn_buf_json_escape(out, hosts[i], strlen(hosts[i]));
        rc = rc ? rc : bn_buf_putc(out, '"');
    }
    rc = rc ? rc : bn_buf_puts(out, "],");
    rc = rc ? rc : put_str(out, "first_seen", bn_time_format(inc->first_ns, t1, sizeof(t1)));
    rc = rc ? rc : put_str(out, "last_seen", bn_time_format(inc->last_ns, t2, sizeof(t2)));
    rc = rc ? rc : put_str(out, "url", url);
    if (rc == 0) {
        out->len--; /* the last ',' */
        rc = bn_buf_putc(out, '}');
    }
    return rc;
}

/* ---- approvals and objection windows ------------------------------------------------------ */

/* Appends j (consumed; NULL means it could not be built) to out as compact JSON. */
static int
dump_into(json_t *j, struct bn_buf *out)
{
    if (!j)
        return BN_ENOMEM;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return BN_ENOMEM;
    int rc = bn_buf_puts(out, s);
    free(s);
    return rc;
}

struct approvers {
    json_t *names;
    int64_t tenant;
};

static int
on_approver(void *ctx, const struct store_user *u)
{
    struct approvers *a = ctx;
    if (u->disabled || json_array_size(a->names) >= 20)
        return 0;
    if (u->role == STORE_ROLE_PROVIDER_ADMIN ||
        (u->role == STORE_ROLE_CUSTOMER_ADMIN && u->tenant_id == a->tenant))
        json_array_append_new(a->names, json_string(u->name));
    return 0;
}

int
notify_approval_payload(struct store *st, const struct store_incident *inc,
                        const char *tenant_name, const struct notify_approval_item *it, size_t n,
                        struct bn_buf *out)
{
    bn_buf_reset(out);
    bool objection = n && it[0].state == STORE_ACT_PENDING_OBJECTION;
    json_t *actions = json_array(), *hosts = json_array(), *tactics = json_array();
    char what[600] = "";
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *params = json_loads(it[i].params_json ? it[i].params_json : "{}", 0, NULL);
        json_t *a = json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)it[i].action_id, "type",
                              it[i].type, "host", it[i].host ? it[i].host : "", "params",
                              params ? params : json_object());
        if (a) {
            char path[80];
            snprintf(path, sizeof(path), "POST /api/v1/actions/%lld/%s",
                     (long long)it[i].action_id, objection ? "reject" : "approve");
            json_object_set_new(a, objection ? "object" : "approve", json_string(path));
            if (objection) {
                char t[40];
                json_object_set_new(a, "runs_at",
                                    json_string(bn_time_format(it[i].run_at_ns, t, sizeof(t))));
            }
            json_array_append_new(actions, a);
        }
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen |= it[k].host && it[i].host && strcmp(it[k].host, it[i].host) == 0;
        if (!seen && it[i].host)
            json_array_append_new(hosts, json_string(it[i].host));
        if (w < sizeof(what))
            w += (size_t)snprintf(what + w, sizeof(what) - w, "%s%s #%lld on %s", i ? ", " : "",
                                  it[i].type, (long long)it[i].action_id,
                                  it[i].host ? it[i].host : "?");
    }
    const char *p = inc->tactics;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l)
            json_array_append_new(tactics, json_stringn(p, l));
        p += l + (e ? 1 : 0);
    }
    struct approvers ap = {json_array(), inc->tenant_id};
    /* provider users (tenant 0) are in no tenant's scope: all users, filtered by on_approver */
    struct store_scope sc = {1, NULL, 0};
    int rc = st ? store_user_list(st, &sc, on_approver, &ap) : 0;
    char title[1000], who[300], t1[40], t2[40];
    snprintf(who, sizeof(who), "a customer_admin of %s or a provider_admin", tenant_name);
    if (objection)
        snprintf(title, sizeof(title),
                 "Containment runs unless someone objects - incident %lld (%s): %s",
                 (long long)inc->id, inc->title, what);
    else
        snprintf(title, sizeof(title), "Approval needed - incident %lld (%s): %s",
                 (long long)inc->id, inc->title, what);
    json_t *j = json_pack(
        "{s:s,s:s,s:I,s:I,s:s,s:s,s:i,s:s,s:o,s:I,s:o,s:s,s:s,s:s,s:o,s:{s:s,s:[s,s],s:o}}",
        "kind", objection ? "objection_window" : "approval_needed", "tenant", tenant_name,
        "tenant_id", (json_int_t)inc->tenant_id, "incident_id", (json_int_t)inc->id, "title",
        title, "severity", sev_name(inc->severity), "severity_level", inc->severity, "status",
        objection ? "pending_objection" : "pending_approval", "tactics", tactics, "alert_count",
        (json_int_t)inc->alert_count, "hosts", hosts, "first_seen",
        bn_time_format(inc->first_ns, t1, sizeof(t1)), "last_seen",
        bn_time_format(inc->last_ns, t2, sizeof(t2)), "url", "", "actions", actions,
        "approvers", "who", who, "roles", "customer_admin", "provider_admin", "users", ap.names);
    int wrc = dump_into(j, out);
    return rc < 0 ? rc : wrc;
}

struct appr_ctx {
    struct store *st;
    const char *payload;
    int64_t tenant, now;
    int enqueued;
    int rc;
};

static int
on_appr_channel(void *ctx, const struct store_channel *ch)
{
    struct appr_ctx *c = ctx;
    if (!ch->enabled)
        return 0;
    /* Not filed under the incident (incident_id 0; the payload names it): the incident's
     * own updates collapse into the newest pending message of (channel, incident), and must
     * never replace this one. Both go out. */
    struct store_outbox o = {
        .tenant_id = c->tenant,
        .channel_id = ch->id,
        .incident_id = 0,
        .payload = c->payload,
        .created_ns = c->now,
        .next_attempt_ns = c->now,
        .state = STORE_OUTBOX_PENDING,
    };
    int64_t id;
    c->rc = store_outbox_enqueue(c->st, &o, 0, &id);
    if (c->rc)
        return c->rc;
    c->enqueued++;
    return 0;
}

int
notify_approval(struct store *st, int64_t tenant_id, int64_t incident_id,
                const struct notify_approval_item *it, size_t n, int64_t now_ns, int *enqueued)
{
    if (enqueued)
        *enqueued = 0;
    if (!n)
        return 0;
    struct store_tenant t;
    int rc = store_tenant_get(st, tenant_id, &t);
    struct store_incident inc;
    memset(&inc, 0, sizeof(inc));
    int64_t ids[1] = {tenant_id};
    struct store_scope sc = {0, ids, 1};
    if (rc == 0 && incident_id)
        rc = store_incident_get(st, &sc, incident_id, &inc);
    if (rc)
        return rc;
    if (!incident_id) {
        inc.tenant_id = tenant_id;
        snprintf(inc.title, sizeof(inc.title), "no incident");
    }
    struct bn_buf b;
    bn_buf_init(&b, 256u << 10);
    rc = notify_approval_payload(st, &inc, t.name, it, n, &b);
    struct appr_ctx c = {st, b.p, tenant_id, now_ns, 0, 0};
    if (rc == 0)
        rc = store_channel_list(st, &sc, on_appr_channel, &c);
    if (rc == 0)
        rc = c.rc;
    bn_buf_release(&b);
    if (enqueued)
        *enqueued = c.enqueued;
    return rc;
}

/* ---- rendering --------------------------------------------------------------------------- */

struct pl {
    json_t *root;
    const char *kind, *tenant, *title, *severity, *status, *first, *last, *url;
    int64_t incident_id, tenant_id, alert_count;
    int sev;
    char tactics[512];
    char hosts[512];
};

static const char *
jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void
join_array(json_t *a, char *out, size_t size)
{
    out[0] = '\0';
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v);
        if (!s)
            continue;
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used ? ", " : "", s);
    }
}

static int
pl_parse(struct pl *p, const char *payload)
{
    memset(p, 0, sizeof(*p));
    p->root = json_loads(payload ? payload : "", 0, NULL);
    if (!json_is_object(p->root)) {
        json_decref(p->root);
        p->root = NULL;
        return BN_EPARSE;
    }
    p->kind = jstr(p->root, "kind");
    p->tenant = jstr(p->root, "tenant");
    p->title = jstr(p->root, "title");
    p->severity = jstr(p->root, "severity");
    p->status = jstr(p->root, "status");
    p->first = jstr(p->root, "first_seen");
    p->last = jstr(p->root, "last_seen");
    p->url = jstr(p->root, "url");
    p->incident_id = json_integer_value(json_object_get(p->root, "incident_id"));
    p->tenant_id = json_integer_value(json_object_get(p->root, "tenant_id"));
    p->alert_count = json_integer_value(json_object_get(p->root, "alert_count"));
    p->sev = (int)json_integer_value(json_object_get(p->root, "severity_level"));
    join_array(json_object_get(p->root, "tactics"), p->tactics, sizeof(p->tactics));
    join_array(json_object_get(p->root, "hosts"), p->hosts, sizeof(p->hosts));
    return 0;
}

static void
headline(const struct pl *p, char *out, size_t size)
{
    if (strcmp(p->kind, "test") == 0)
        snprintf(out, size, "Bannin test notification for %s", p->tenant);
    else if (strcmp(p->kind, "approval_needed") == 0 || strcmp(p->kind, "objection_window") == 0)
        snprintf(out, size, "[%s] %s", p->severity, p->title);
    else
        snprintf(out, size, "[%s] Incident %" PRId64 ": %s", p->severity, p->incident_id,
                 p->title);
}

static int
render_slack(const struct pl *p, struct bn_buf *out)
{
    char head[400], facts[1400];
    headline(p, head, sizeof(head));
    snprintf(facts, sizeof(facts),
             "*Tenant:* %s\n*Severity:* %s\n*Status:* %s\n*Alerts:* %" PRId64
             "\n*Hosts:* %s\n*Tactics:* %s\n*First seen:* %s\n*Last seen:* %s%s%s",
             p->tenant, p->severity, p->status, p->alert_count, p->hosts[0] ? p->hosts : "-",
             p->tactics[0] ? p->tactics : "-", p->first, p->last, p->url[0] ? "\n" : "",
             p->url);
    json_t *j = json_pack("{s:s,s:[{s:s,s:{s:s,s:s}},{s:s,s:{s:s,s:s}}]}", "text", head,
                          "blocks", "type", "header", "text", "type", "plain_text", "text", head,
                          "type", "section", "text", "type", "mrkdwn", "text", facts);
    return dump_into(j, out);
}

static int
render_teams(const struct pl *p, struct bn_buf *out)
{
    char head[400], count[32];
    static const char *const colors[5] = {"808080", "2E86C1", "F1C40F", "E67E22", "C0392B"};
    headline(p, head, sizeof(head));
    snprintf(count, sizeof(count), "%" PRId64, p->alert_count);
    json_t *facts = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},"
                              "{s:s,s:s}]",
                              "name", "Tenant", "value", p->tenant, "name", "Severity", "value",
                              p->severity, "name", "Status", "value", p->status, "name",
                              "Alerts", "value", count, "name", "Hosts", "value", p->hosts,
                              "name", "Tactics", "value", p->tactics, "name", "First seen",
                              "value", p->first);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:o}]}", "@type", "MessageCard",
                          "@context", "https://schema.org/extensions", "summary", head,
                          "themeColor", colors[(p->sev >= 0 && p->sev < 5) ? p->sev : 0],
                          "title", head, "sections", "activityTitle", p->tenant, "facts", facts);
    return dump_into(j, out);
}

/* Copies s without CR and LF (header injection). */
static void
one_line(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 1 < size; s++)
        out[o++] = (*s == '\r' || *s == '\n') ? ' ' : *s;
    out[o] = '\0';
}

static int
render_email(const struct pl *p, const struct notify_render_opts *o, struct bn_buf *out)
{
    char head[400], subj[420], from[256], to[1024], date[64];
    headline(p, head, sizeof(head));
    one_line(subj, sizeof(subj), head);
    one_line(from, sizeof(from), o && o->from ? o->from : "bannin@localhost");
    one_line(to, sizeof(to), o && o->to ? o->to : "");
    time_t t = (time_t)((o && o->now_ns ? o->now_ns : now_real()) / NS_PER_SEC);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
        rnd = (uint64_t)t;
    int rc = bn_buf_printf(out,
                           "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: [Bannin] %s\r\n"
                           "Message-ID: <bannin-%" PRId64 "-%016" PRIx64 "@bannin>\r\n"
                           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n\r\n",
                           date, from, to, subj, p->incident_id, rnd);
    if (rc == 0)
        rc = bn_buf_printf(out,
                           "%s\r\n\r\nTenant:     %s\r\nSeverity:   %s\r\nStatus:     %s\r\n"
                           "Alerts:     %" PRId64 "\r\nHosts:      %s\r\nTactics:    %s\r\n"
                           "First seen: %s\r\nLast seen:  %s\r\n%s%s%s",
                           subj, p->tenant, p->severity, p->status, p->alert_count, p->hosts,
                           p->tactics, p->first, p->last, p->url[0] ? "\r\n" : "", p->url,
                           p->url[0] ? "\r\n" : "");
    return rc;
}

/* syslog severity of an incident severity: critical -> 2 (crit) .. informational -> 6 */
static int
syslog_sev(int s)
{
    static const int map[5] = {6, 5, 4, 3, 2};
    return (s >= 0 && s < 5) ? map[s] : 5;
}

static int
sd_escape(struct bn_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        if (*s == '"' || *s == '\\' || *s == ']')
            rc = bn_buf_putc(b, '\\');
        if (rc == 0)
            rc = bn_buf_putc(b, (*s == '\n' || *s == '\r') ? ' ' : *s);
    }
    return rc;
}

static void
syslog_host(const struct notify_render_opts *o, char *out, size_t size)
{
    if (o && o->hostname && o->hostname[0]) {
        snprintf(out, size, "%s", o->hostname);
    } else if (gethostname(out, size) != 0 || !out[0]) {
        snprintf(out, size, "-");
    }
    out[size - 1] = '\0';
    for (char *c = out; *c; c++)
        if (*c <= ' ' || *c >= 127)
            *c = '_';
}

static int
render_rfc5424(const struct pl *p, const struct notify_render_opts *o, struct bn_buf *out)
{
    char host[256], ts[64], head[400], msg[420];
    int fac = o && o->facility >= 0 && o->facility <= 23 ? o->facility : 16;
    syslog_host(o, host, sizeof(host));
    int64_t now = o && o->now_ns ? o->now_ns : now_real();
    time_t t = (time_t)(now / NS_PER_SEC);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03dZ", (int)((now % NS_PER_SEC) / NS_PER_MS));
    headline(p, head, sizeof(head));
    one_line(msg, sizeof(msg), head);
    char app[49];
    one_line(app, sizeof(app), o && o->app_name && o->app_name[0] ? o->app_name : "bannin");
    for (char *c = app; *c; c++)
        if (*c <= ' ' || *c >= 127)
            *c = '_';
    int rc = bn_buf_printf(out, "<%d>1 %s %s %s %d %s [bannin@32473 tenant=\"",
                           fac * 8 + syslog_sev(p->sev), ts, host, app, (int)getpid(),
                           strcmp(p->kind, "test") == 0 ? "test" : "incident");
    rc = rc ? rc : sd_escape(out, p->tenant);
    rc = rc ? rc
            : bn_buf_printf(out, "\" tenant_id=\"%" PRId64 "\" incident_id=\"%" PRId64
                                 "\" severity=\"%s\" alerts=\"%" PRId64 "\" hosts=\"",
                            p->tenant_id, p->incident_id, p->severity, p->alert_count);
    rc = rc ? rc : sd_escape(out, p->hosts);
    rc = rc ? rc : bn_buf_puts(out, "\" tactics=\"");
    rc = rc ? rc : sd_escape(out, p->tactics);
    rc = rc ? rc : bn_buf_puts(out, "\"] \xef\xbb\xbf");
    rc = rc ? rc : bn_buf_puts(out, msg);
    return rc;
}

/* CEF: '|' and '\' escaped in the header; '=' and '\' in extension values, newlines as \n. */
static int
cef_escape(struct bn_buf *b, const char *s, bool header)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        if (*s == '\\' || (header && *s == '|') || (!header && *s == '='))
            rc = bn_buf_putc(b, '\\');
        if (*s == '\n' || *s == '\r') {
            rc = rc ? rc : bn_buf_puts(b, header ? " " : "\\n");
            continue;
        }
        rc = rc ? rc : bn_buf_putc(b, *s);
    }
    return rc;
}

static int
render_cef(const struct pl *p, const struct notify_render_opts *o, struct bn_buf *out)
{
    static const int cef_sev[5] = {1, 3, 5, 8, 10};
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char host[256], head[400];
    int fac = o && o->facility >= 0 && o->facility <= 23 ? o->facility : 16;
    syslog_host(o, host, sizeof(host));
    int64_t now = o && o->now_ns ? o->now_ns : now_real();
    time_t t = (time_t)(now / NS_PER_SEC);
    struct tm tm;
    gmtime_r(&t, &tm);
    headline(p, head, sizeof(head));
    int rc = bn_buf_printf(out, "<%d>%s %2d %02d:%02d:%02d %s CEF:0|Bannin|Bannin MDR|1.0|%s|",
                           fac * 8 + syslog_sev(p->sev), mon[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                           tm.tm_min, tm.tm_sec, host,
                           strcmp(p->kind, "test") == 0 ? "test" : "incident");
    rc = rc ? rc : cef_escape(out, head, true);
    rc = rc ? rc
            : bn_buf_printf(out, "|%d|rt=%" PRId64 " cn1Label=incidentId cn1=%" PRId64
                                 " cn2Label=alertCount cn2=%" PRId64 " cs1Label=tenant cs1=",
                            cef_sev[(p->sev >= 0 && p->sev < 5) ? p->sev : 0], now / NS_PER_MS,
                            p->incident_id, p->alert_count);
    rc = rc ? rc : cef_escape(out, p->tenant, false);
    rc = rc ? rc : bn_buf_puts(out, " cs2Label=tactics cs2=");
    rc = rc ? rc : cef_escape(out, p->tactics, false);
    rc = rc ? rc : bn_buf_puts(out, " cs3Label=status cs3=");
    rc = rc ? rc : cef_escape(out, p->status, false);
    if (p->hosts[0]) {
        rc = rc ? rc : bn_buf_puts(out, " dhost=");
        rc = rc ? rc : cef_escape(out, p->hosts, false);
    }
    rc = rc ? rc : bn_buf_puts(out, " msg=");
    rc = rc ? rc : cef_escape(out, p->title, false);
    return rc;
}

int
notify_render(int fmt, const char *payload, const struct notify_render_opts *o,
              struct bn_buf *out)
{
    bn_buf_reset(out);
    if (fmt == NOTIFY_FMT_GENERIC)
        return bn_buf_puts(out, payload ? payload : "");
    struct pl p;
    int rc = pl_parse(&p, payload);
    if (rc)
        return rc;
    switch (fmt) {
    case NOTIFY_FMT_SLACK:
        rc = render_slack(&p, out);
        break;
    case NOTIFY_FMT_TEAMS:
        rc = render_teams(&p, out);
        break;
    case NOTIFY_FMT_EMAIL:
        rc = render_email(&p, o, out);
        break;
    case NOTIFY_FMT_RFC5424:
        rc = render_rfc5424(&p, o, out);
        break;
    case NOTIFY_FMT_CEF:
        rc = render_cef(&p, o, out);
        break;
    default:
        rc = BN_EINVAL;
    }
    json_decref(p.root);
    return rc;
}

/* ---- delivery ---------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
notify_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

static size_t
discard_cb(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static long
cfg_timeout_ms(json_t *cfg)
{
    json_int_t t = json_integer_value(json_object_get(cfg, "timeout_ms"));
    return t > 0 && t <= 120000 ? (long)t : 10000;
}

static void
hmac_hex(const char *key, const char *body, size_t len, char *out /* 65 */)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body, len, mac, &ml);
    for (unsigned i = 0; i < ml && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    out[64] = '\0';
}

static int
deliver_http(json_t *cfg, int fmt, const char *payload, char *err, size_t errlen)
{
    const char *url = json_string_value(json_object_get(cfg, "url"));
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(err, errlen, "bad channel config: 'url' must be an http(s) URL");
        return BN_EINVAL;
    }
    struct bn_buf body;
    bn_buf_init(&body, BN_NOTIFY_BODY_MAX);
    int rc = notify_render(fmt, payload, NULL, &body);
    if (rc) {
        snprintf(err, errlen, "cannot render the message: %s", bn_strerror(rc));
        bn_buf_release(&body);
        return rc;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = NULL;
    if (!c) {
        bn_buf_release(&body);
        return BN_ENOMEM;
    }
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "User-Agent: bannind");
    json_t *hs = json_object_get(cfg, "headers");
    const char *hk;
    json_t *hv;
    json_object_foreach(hs, hk, hv) {
        const char *v = json_string_value(hv);
        if (!v || strpbrk(hk, "\r\n:") || strpbrk(v, "\r\n"))
            continue;
        char line[1024];
        snprintf(line, sizeof(line), "%s: %s", hk, v);
        hdr = curl_slist_append(hdr, line);
    }
    const char *secret = json_string_value(json_object_get(cfg, "secret"));
    if (secret && secret[0]) {
        char mac[65], line[100];
        hmac_hex(secret, body.p ? body.p : "", body.len, mac);
        snprintf(line, sizeof(line), "X-Bannin-Signature: sha256=%s", mac);
        hdr = curl_slist_append(hdr, line);
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.p ? body.p : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg_timeout_ms(cfg));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "POST %s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
        rc = BN_EIO;
    } else if (code < 200 || code > 299) {
        snprintf(err, errlen, "HTTP %ld from %s", code, url);
        rc = BN_EIO;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    bn_buf_release(&body);
    return rc;
}

struct mail_src {
    const char *p;
    size_t left;
};

static size_t
mail_read(char *buf, size_t size, size_t n, void *ctx)
{
    struct mail_src *m = ctx;
    size_t k = size * n < m->left ? size * n : m->left;
    memcpy(buf, m->p, k);
    m->p += k;
    m->left -= k;
    return k;
}

static int
deliver_smtp(json_t *cfg, const char *payload, int64_t now_ns, char *err, size_t errlen)
{
    const char *url = json_string_value(json_object_get(cfg, "url"));
    const char *from = json_string_value(json_object_get(cfg, "from"));
    json_t *to = json_object_get(cfg, "to");
    if (json_is_string(to)) {
        /* one recipient as a string */
    } else if (!json_is_array(to) || json_array_size(to) == 0) {
        to = NULL;
    }
    if (!url || (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) || !from ||
        !to) {
        snprintf(err, errlen, "bad channel config: smtp needs 'url' (smtp:// or smtps://), "
                              "'from' and 'to'");
        return BN_EINVAL;
    }
    struct curl_slist *rcpt = NULL;
    char tolist[1024] = "";
    size_t i;
    json_t *v;
    if (json_is_string(to)) {
        rcpt = curl_slist_append(rcpt, json_string_value(to));
        snprintf(tolist, sizeof(tolist), "%s", json_string_value(to));
    } else {
        json_array_foreach(to, i, v) {
            const char *s = json_string_value(v);
            if (!s || strpbrk(s, "\r\n<>"))
                continue;
            rcpt = curl_slist_append(rcpt, s);
            size_t used = strlen(tolist);
            snprintf(tolist + used, sizeof(tolist) - used, "%s%s", used ? ", " : "", s);
        }
    }
    if (!rcpt) {
        snprintf(err, errlen, "bad channel config: no valid recipient in 'to'");
        return BN_EINVAL;
    }
    struct bn_buf msg;
    bn_buf_init(&msg, BN_NOTIFY_BODY_MAX);
    struct notify_render_opts ro = {.from = from, .to = tolist, .now_ns = now_ns};
    int rc = notify_render(NOTIFY_FMT_EMAIL, payload, &ro, &msg);
    if (rc) {
        snprintf(err, errlen, "cannot render the message: %s", bn_strerror(rc));
        curl_slist_free_all(rcpt);
        bn_buf_release(&msg);
        return rc;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        curl_slist_free_all(rcpt);
        bn_buf_release(&msg);
        return BN_ENOMEM;
    }
    char mfrom[300], cerr[CURL_ERROR_SIZE] = "";
    snprintf(mfrom, sizeof(mfrom), "<%s>", from);
    struct mail_src src = {msg.p, msg.len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mfrom);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &src);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg_timeout_ms(cfg));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    const char *user = json_string_value(json_object_get(cfg, "username"));
    const char *pass = json_string_value(json_object_get(cfg, "password"));
    if (user)
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
    if (pass)
        curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
    if (json_is_true(json_object_get(cfg, "starttls")))
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "SMTP %s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
        rc = BN_EIO;
    }
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    bn_buf_release(&msg);
    return rc;
}

static int
write_all(int fd, const char *p, size_t n, int timeout_ms)
{
    while (n) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr == 0)
            return -ETIMEDOUT;
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
deliver_syslog(json_t *cfg, const char *payload, int64_t now_ns, char *err, size_t errlen)
{
    const char *host = json_string_value(json_object_get(cfg, "host"));
    json_int_t port = json_integer_value(json_object_get(cfg, "port"));
    const char *proto = json_string_value(json_object_get(cfg, "protocol"));
    const char *fmtname = json_string_value(json_object_get(cfg, "format"));
    if (!host || !host[0]) {
        snprintf(err, errlen, "bad channel config: syslog needs 'host'");
        return BN_EINVAL;
    }
    if (port == 0)
        port = 514;
    if (port < 1 || port > 65535) {
        snprintf(err, errlen, "bad channel config: 'port' out of range");
        return BN_EINVAL;
    }
    bool tcp = proto && strcmp(proto, "tcp") == 0;
    if (proto && !tcp && strcmp(proto, "udp") != 0) {
        snprintf(err, errlen, "bad channel config: 'protocol' must be udp or tcp");
        return BN_EINVAL;
    }
    int fmt = NOTIFY_FMT_RFC5424;
    if (fmtname && strcmp(fmtname, "cef") == 0)
        fmt = NOTIFY_FMT_CEF;
    else if (fmtname && strcmp(fmtname, "rfc5424") != 0) {
        snprintf(err, errlen, "bad channel config: 'format' must be rfc5424 or cef");
        return BN_EINVAL;
    }
    json_t *fj = json_object_get(cfg, "facility");
    struct notify_render_opts ro = {
        .facility = fj ? (int)json_integer_value(fj) : 16,
        .app_name = json_string_value(json_object_get(cfg, "app_name")),
        .hostname = json_string_value(json_object_get(cfg, "hostname")),
        .now_ns = now_ns,
    };
    struct bn_buf msg;
    bn_buf_init(&msg, BN_NOTIFY_BODY_MAX);
    int rc = notify_render(fmt, payload, &ro, &msg);
    if (rc) {
        snprintf(err, errlen, "cannot render the message: %s", bn_strerror(rc));
        bn_buf_release(&msg);
        return rc;
    }
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", (int)port);
    struct addrinfo hints = {.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "syslog host '%s': %s", host, gai_strerror(gai));
        bn_buf_release(&msg);
        return BN_EIO;
    }
    int timeout_ms = (int)cfg_timeout_ms(cfg);
    rc = BN_EIO;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        int e = 0;
        if (tcp) {
            if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
                e = -errno;
            } else {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                int pr = poll(&pfd, 1, timeout_ms);
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                if (pr <= 0)
                    e = pr == 0 ? -ETIMEDOUT : -errno;
                else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
                    e = -soerr;
            }
            if (e == 0) {
                /* RFC 6587 octet counting: "LEN SP MSG" */
                char pre[24];
                int pl = snprintf(pre, sizeof(pre), "%zu ", msg.len);
                e = write_all(fd, pre, (size_t)pl, timeout_ms);
                if (e == 0)
                    e = write_all(fd, msg.p, msg.len, timeout_ms);
            }
        } else {
            ssize_t w = sendto(fd, msg.p, msg.len, MSG_NOSIGNAL, a->ai_addr, a->ai_addrlen);
            if (w < 0)
                e = -errno;
        }
        close(fd);
        if (e == 0) {
            rc = 0;
            break;
        }
        snprintf(err, errlen, "syslog %s %s:%s: %s", tcp ? "tcp" : "udp", host, portstr,
                 strerror(-e));
    }
    freeaddrinfo(ai);
    bn_buf_release(&msg);
    return rc;
}

int
notify_deliver(const struct store_channel *c, const char *payload, int64_t now_ns, char *err,
               size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    notify_global_init();
    json_error_t je;
    json_t *cfg = json_loads(c->config_json ? c->config_json : "{}", 0, &je);
    if (!json_is_object(cfg)) {
        snprintf(err, errlen, "bad channel config: not a JSON object (%s)", je.text);
        json_decref(cfg);
        return BN_EINVAL;
    }
    int rc;
    const char *fmt = json_string_value(json_object_get(cfg, "format"));
    if (strcmp(c->type, "webhook") == 0) {
        int f = NOTIFY_FMT_GENERIC;
        if (fmt && strcmp(fmt, "slack") == 0)
            f = NOTIFY_FMT_SLACK;
        else if (fmt && strcmp(fmt, "teams") == 0)
            f = NOTIFY_FMT_TEAMS;
        else if (fmt && strcmp(fmt, "generic") != 0) {
            snprintf(err, errlen, "bad channel config: 'format' must be generic, slack or teams");
            json_decref(cfg);
            return BN_EINVAL;
        }
        rc = deliver_http(cfg, f, payload, err, errlen);
    } else if (strcmp(c->type, "slack") == 0) {
        rc = deliver_http(cfg, NOTIFY_FMT_SLACK, payload, err, errlen);
    } else if (strcmp(c->type, "teams") == 0) {
        rc = deliver_http(cfg, NOTIFY_FMT_TEAMS, payload, err, errlen);
    } else if (strcmp(c->type, "smtp") == 0 || strcmp(c->type, "email") == 0) {
        rc = deliver_smtp(cfg, payload, now_ns, err, errlen);
    } else if (strcmp(c->type, "syslog") == 0) {
        rc = deliver_syslog(cfg, payload, now_ns, err, errlen);
    } else {
        snprintf(err, errlen, "unknown channel type '%.16s'", c->type);
        rc = BN_EINVAL;
    }
    json_decref(cfg);
    return rc;
}

int64_t
notify_backoff_ns(int attempts, int64_t base_ns, int64_t max_ns)
{
    if (attempts < 1)
        attempts = 1;
    int64_t d = base_ns;
    for (int i = 1; i < attempts && d < max_ns; i++)
        d *= 2;
    return d > max_ns ? max_ns : d;
}

