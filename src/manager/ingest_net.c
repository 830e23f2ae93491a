/*
 * ingest_net.c - the network sensor's eve records rendered with Zeek's field names for
 * central detection (see ingest_net.h). Field mapping (eve -> Zeek):
 *
 *   all      timestamp -> ts (epoch seconds), community_id -> uid and community_id,
 *            src_ip/src_port/dest_ip/dest_port -> id.orig_h/.orig_p/.resp_h/.resp_p (a DNS
 *            response's addresses are turned round: the originator is the client),
 *            proto -> proto (lower case)
 *   flow     -> conn: app_proto -> service (tls -> ssl), flow.start/end -> duration,
 *            flow.pkts_toserver/toclient -> orig_pkts/resp_pkts,
 *            flow.bytes_toserver/toclient -> orig_ip_bytes/resp_ip_bytes, flow.state
 *   dns      -> dns: dns.queries[0].rrname (or dns.rrname) -> query, rrtype -> qtype_name,
 *            dns.id -> trans_id, rcode -> rcode_name, aa/tc/rd/ra -> AA/TC/RD/RA,
 *            flags bits 4-6 -> Z, answers[].rdata / .ttl -> answers / TTLs, REFUSED ->
 *            rejected; the A/AAAA answers also as QueryResults (for IOC matching)
 *   http     -> http: http_method, hostname, url, http_user_agent, status, protocol,
 *            http_refer, http_content_type, length -> method, host, uri, user_agent,
 *            status_code, version, referrer, resp_mime_types, response_body_len; the host
 *            also as http.hostname (IOC matching)
 *   tls      -> ssl: sni -> server_name, version ("TLS 1.2" -> "TLSv12"), subject,
 *            issuerdn -> issuer, ja3.hash -> ja3, ja3s.hash -> ja3s, ja4
 *   ssh      -> ssh: client/server banners -> client/server, hassh.hash -> hassh/
 *            hasshServer, proto_version -> version
 *
 * Limits: a record is at most BN_WIRE_EVENT_MAX bytes (the link refuses bigger ones), JSON
 * nesting as jansson allows; at most 64 answers are rendered per DNS record.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/timeutil.h"
#include "manager/ingest_net.h"

#define ANSWERS_MAX 64
#define HOST_MAX    64 /* bytes kept of the originator address for the alert's host */

struct ingest_net {
    struct bn_buf arena;    /* the renderings of one batch */
    struct store_event *ev; /* the batch as detection sees it */
    size_t cap;
    size_t *off, *host_off; /* per event: arena offsets (SIZE_MAX = not rendered) */
    size_t offcap;
    struct ingest_net_stats st;
};

static const char EVE_PREFIX[] = "{\"timestamp\":\"";

int
ingest_net_new(struct ingest_net **out)
{
    *out = NULL;
    struct ingest_net *n = bn_calloc(1, sizeof(*n));
    if (!n)
        return BN_ENOMEM;
    bn_buf_init(&n->arena, 256u << 20);
    *out = n;
    return 0;
}

void
ingest_net_free(struct ingest_net *n)
{
    if (!n)
        return;
    bn_buf_release(&n->arena);
    bn_free(n->ev);
    bn_free(n->off);
    bn_free(n->host_off);
    bn_free(n);
}

void
ingest_net_get_stats(const struct ingest_net *n, struct ingest_net_stats *st)
{
    *st = n->st;
}

/* ---- jansson helpers ---- */

/* The value at a dotted path ("flow.start"), or NULL. */
static json_t *
jpath(json_t *o, const char *path)
{
    char key[64];
    while (o && json_is_object(o)) {
        const char *dot = strchr(path, '.');
        if (!dot)
            return json_object_get(o, path);
        size_t n = (size_t)(dot - path);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        path = dot + 1;
    }
    return NULL;
}

static const char *
jstr(json_t *o, const char *path)
{
    json_t *v = jpath(o, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
put_key(struct bn_buf *b, const char *key)
{
    /* the first member follows the object's brace (renderings share one buffer) */
    int rc = bn_buf_puts(b, b->len && b->p[b->len - 1] == '{' ? "\"" : ",\"");
    rc = rc ? rc : bn_buf_puts(b, key);
    return rc ? rc : bn_buf_puts(b, "\":");
}

static int
put_str(struct bn_buf *b, const char *key, const char *v)
{
    if (!v)
        return 0;
    int rc = put_key(b, key);
    rc = rc ? rc : bn_buf_putc(b, '"');
    rc = rc ? rc : bn_buf_json_escape(b, v, strlen(v));
    return rc ? rc : bn_buf_putc(b, '"');
}

/* A number or boolean copied as it is (integers stay integers). */
static int
put_json(struct bn_buf *b, const char *key, json_t *v)
{
    if (json_is_integer(v)) {
        int rc = put_key(b, key);
        return rc ? rc : bn_buf_printf(b, "%lld", (long long)json_integer_value(v));
    }
    if (json_is_real(v)) {
        int rc = put_key(b, key);
        return rc ? rc : bn_buf_printf(b, "%.6f", json_real_value(v));
    }
    if (json_is_boolean(v)) {
        int rc = put_key(b, key);
        return rc ? rc : bn_buf_puts(b, json_is_true(v) ? "true" : "false");
    }
    if (json_is_string(v))
        return put_str(b, key, json_string_value(v));
    return 0;
}

static int
put_bool(struct bn_buf *b, const char *key, bool v)
{
    int rc = put_key(b, key);
    return rc ? rc : bn_buf_puts(b, v ? "true" : "false");
}

static bool
time_of(json_t *o, const char *path, int64_t *ns)
{
    const char *s = jstr(o, path);
    return s && bn_time_parse(s, strlen(s), ns) == 0;
}

/* ---- the renderings ---- */

static int
common(struct bn_buf *b, json_t *o, const char *path, bool turn, size_t *orig_off, size_t *orig_len)
{
    int64_t ns;
    int rc = bn_buf_puts(b, "{");
    rc = rc ? rc : put_str(b, "_path", path);
    if (rc == 0 && time_of(o, "timestamp", &ns)) {
        rc = put_key(b, "ts");
        rc = rc ? rc
                : bn_buf_printf(b, "%lld.%06lld", (long long)(ns / 1000000000),
                                (long long)((ns % 1000000000) / 1000));
    }
    const char *cid = jstr(o, "community_id");
    if (rc == 0 && cid)
        rc = put_str(b, "uid", cid);
    const char *oh = jstr(o, turn ? "dest_ip" : "src_ip");
    const char *rh = jstr(o, turn ? "src_ip" : "dest_ip");
    if (rc == 0 && oh) {
        rc = put_str(b, "id.orig_h", oh);
        if (orig_off) {
            *orig_off = b->len - 1 - strlen(oh); /* escaping never touches an address */
            *orig_len = strlen(oh);
        }
    }
    rc = rc ? rc : put_json(b, "id.orig_p", jpath(o, turn ? "dest_port" : "src_port"));
    rc = rc ? rc : put_str(b, "id.resp_h", rh);
    rc = rc ? rc : put_json(b, "id.resp_p", jpath(o, turn ? "src_port" : "dest_port"));
    const char *proto = jstr(o, "proto");
    if (rc == 0 && proto) {
        char lp[16];
        size_t i = 0;
        for (; proto[i] && i < sizeof(lp) - 1; i++)
            lp[i] = (char)tolower((unsigned char)proto[i]);
        lp[i] = '\0';
        rc = put_str(b, "proto", lp);
    }
    if (rc == 0 && cid)
        rc = put_str(b, "community_id", cid);
    return rc;
}

static int
conn(struct bn_buf *b, json_t *o)
{
    const char *svc = jstr(o, "app_proto");
    int rc = 0;
    /* Zeek's service names: ssl for tls; http for HTTP/2 and DNS over it (as conn.c) */
    if (svc && (strcmp(svc, "http2") == 0 || strcmp(svc, "doh2") == 0))
        svc = "http";
    if (svc && strcmp(svc, "failed") != 0)
        rc = put_str(b, "service", strcmp(svc, "tls") == 0 ? "ssl" : svc);
    int64_t s, e;
    if (rc == 0 && time_of(o, "flow.start", &s) && time_of(o, "flow.end", &e) && e >= s) {
        rc = put_key(b, "duration");
        rc = rc ? rc
                : bn_buf_printf(b, "%lld.%06lld", (long long)((e - s) / 1000000000),
                                (long long)(((e - s) % 1000000000) / 1000));
    }
    rc = rc ? rc : put_json(b, "orig_pkts", jpath(o, "flow.pkts_toserver"));
    rc = rc ? rc : put_json(b, "orig_ip_bytes", jpath(o, "flow.bytes_toserver"));
    rc = rc ? rc : put_json(b, "resp_pkts", jpath(o, "flow.pkts_toclient"));
    rc = rc ? rc : put_json(b, "resp_ip_bytes", jpath(o, "flow.bytes_toclient"));
    rc = rc ? rc : put_json(b, "flow_state", jpath(o, "flow.state"));
    return rc;
}

static int
dns(struct bn_buf *b, json_t *o)
{
    json_t *d = json_object_get(o, "dns");
    json_t *qs = json_object_get(d, "queries");
    json_t *q0 = json_is_array(qs) ? json_array_get(qs, 0) : d;
    int rc = put_str(b, "query", jstr(q0, "rrname"));
    rc = rc ? rc : put_str(b, "qtype_name", jstr(q0, "rrtype"));
    rc = rc ? rc : put_json(b, "trans_id", json_object_get(d, "id"));
    const char *rcode = jstr(d, "rcode");
    rc = rc ? rc : put_str(b, "rcode_name", rcode);
    static const char *const fl[][2] = {{"aa", "AA"}, {"tc", "TC"}, {"rd", "RD"}, {"ra", "RA"}};
    for (size_t i = 0; rc == 0 && i < BN_ARRAY_SIZE(fl); i++)
        rc = put_bool(b, fl[i][1], json_is_true(json_object_get(d, fl[i][0])));
    const char *flags = jstr(d, "flags");
    if (rc == 0 && flags) {
        unsigned long f = strtoul(flags, NULL, 16);
        rc = put_key(b, "Z");
        rc = rc ? rc : bn_buf_printf(b, "%lu", (f >> 4) & 7);
    }
    if (rc == 0 && rcode)
        rc = put_bool(b, "rejected", strcmp(rcode, "REFUSED") == 0);
    json_t *ans = json_object_get(d, "answers");
    size_t na = json_is_array(ans) ? BN_MIN(json_array_size(ans), ANSWERS_MAX) : 0;
    if (rc == 0 && na) {
        rc = put_key(b, "answers");
        rc = rc ? rc : bn_buf_putc(b, '[');
        size_t k = 0;
        for (size_t i = 0; rc == 0 && i < na; i++) {
            const char *rd = jstr(json_array_get(ans, i), "rdata");
            if (!rd)
                continue;
            rc = bn_buf_puts(b, k++ ? ",\"" : "\"");
            rc = rc ? rc : bn_buf_json_escape(b, rd, strlen(rd));
            rc = rc ? rc : bn_buf_putc(b, '"');
        }
        rc = rc ? rc : bn_buf_puts(b, "],\"TTLs\":[");
        k = 0;
        for (size_t i = 0; rc == 0 && i < na; i++) {
            json_t *ttl = json_object_get(json_array_get(ans, i), "ttl");
            if (json_is_integer(ttl))
                rc = bn_buf_printf(b, "%s%lld.0", k++ ? "," : "",
                                   (long long)json_integer_value(ttl));
        }
        rc = rc ? rc : bn_buf_putc(b, ']');
        /* the addresses of the answer, as ioc matching reads them */
        k = 0;
        for (size_t i = 0; rc == 0 && i < na; i++) {
            json_t *a = json_array_get(ans, i);
            const char *t = jstr(a, "rrtype"), *rd = jstr(a, "rdata");
            if (!t || !rd || (strcmp(t, "A") != 0 && strcmp(t, "AAAA") != 0))
                continue;
            rc = k++ ? bn_buf_putc(b, ';') : put_key(b, "QueryResults");
            rc = rc ? rc : k == 1 ? bn_buf_putc(b, '"') : 0;
            rc = rc ? rc : bn_buf_json_escape(b, rd, strlen(rd));
        }
        if (rc == 0 && k)
            rc = bn_buf_putc(b, '"');
    }
    return rc;
}

static int
http(struct bn_buf *b, json_t *o)
{
    json_t *h = json_object_get(o, "http");
    int rc = put_str(b, "method", jstr(h, "http_method"));
    rc = rc ? rc : put_str(b, "host", jstr(h, "hostname"));
    rc = rc ? rc : put_str(b, "http.hostname", jstr(h, "hostname"));
    rc = rc ? rc : put_str(b, "uri", jstr(h, "url"));
    rc = rc ? rc : put_str(b, "user_agent", jstr(h, "http_user_agent"));
    rc = rc ? rc : put_str(b, "referrer", jstr(h, "http_refer"));
    rc = rc ? rc : put_json(b, "status_code", json_object_get(h, "status"));
    rc = rc ? rc : put_json(b, "response_body_len", json_object_get(h, "length"));
    const char *proto = jstr(h, "protocol");
    if (rc == 0 && proto)
        rc = put_str(b, "version", strncmp(proto, "HTTP/", 5) == 0 ? proto + 5 : proto);
    const char *ct = jstr(h, "http_content_type");
    if (rc == 0 && ct) {
        rc = put_key(b, "resp_mime_types");
        rc = rc ? rc : bn_buf_puts(b, "[\"");
        rc = rc ? rc : bn_buf_json_escape(b, ct, strlen(ct));
        rc = rc ? rc : bn_buf_puts(b, "\"]");
    }
    return rc;
}

static int
ssl(struct bn_buf *b, json_t *o)
{
    json_t *t = json_object_get(o, "tls");
    int rc = put_str(b, "server_name", jstr(t, "sni"));
    const char *v = jstr(t, "version");
    if (rc == 0 && v) {
        /* "TLS 1.2" -> "TLSv12", "SSLv3" stays */
        char zv[32];
        if (strncmp(v, "TLS ", 4) == 0 && strlen(v) < 12) {
            size_t k = 0;
            k += (size_t)snprintf(zv, sizeof(zv), "TLSv");
            for (const char *p = v + 4; *p && k < sizeof(zv) - 1; p++)
                if (*p != '.')
                    zv[k++] = *p;
            zv[k] = '\0';
            rc = put_str(b, "version", zv);
        } else {
            rc = put_str(b, "version", v);
        }
    }
    rc = rc ? rc : put_str(b, "subject", jstr(t, "subject"));
    rc = rc ? rc : put_str(b, "issuer", jstr(t, "issuerdn"));
    rc = rc ? rc : put_str(b, "ja3", jstr(t, "ja3.hash"));
    rc = rc ? rc : put_str(b, "ja3s", jstr(t, "ja3s.hash"));
    rc = rc ? rc : put_str(b, "ja4", jstr(t, "ja4"));
    return rc;
}

static int
banner(struct bn_buf *b, const char *key, json_t *side)
{
    const char *pv = jstr(side, "proto_version"), *sv = jstr(side, "software_version");
    if (!pv || !sv)
        return 0;
    char s[512];
    snprintf(s, sizeof(s), "SSH-%.40s-%.400s", pv, sv);
    return put_str(b, key, s);
}

static int
ssh(struct bn_buf *b, json_t *o)
{
    json_t *s = json_object_get(o, "ssh");
    json_t *c = json_object_get(s, "client"), *sv = json_object_get(s, "server");
    int rc = banner(b, "client", c);
    rc = rc ? rc : banner(b, "server", sv);
    rc = rc ? rc : put_str(b, "hassh", jstr(c, "hassh.hash"));
    rc = rc ? rc : put_str(b, "hasshServer", jstr(sv, "hassh.hash"));
    const char *pv = jstr(c, "proto_version");
    if (!pv)
        pv = jstr(sv, "proto_version");
    if (rc == 0 && pv) {
        rc = put_key(b, "version");
        rc = rc ? rc : bn_buf_puts(b, strncmp(pv, "1.", 2) == 0 ? "1" : "2");
    }
    return rc;
}

int
ingest_net_zeek(const char *json, size_t len, struct bn_buf *out, size_t *orig_off,
                size_t *orig_len)
{
    if (orig_off) {
        *orig_off = 0;
        *orig_len = 0;
    }
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return BN_EPARSE;
    }
    const char *et = jstr(o, "event_type");
    static const struct {
        const char *type, *path;
        int (*fn)(struct bn_buf *, json_t *);
    } kinds[] = {{"flow", "conn", conn},
                 {"dns", "dns", dns},
                 {"http", "http", http},
                 {"tls", "ssl", ssl},
                 {"ssh", "ssh", ssh}};
    int rc = et ? BN_DECLINED : BN_EPARSE;
    for (size_t i = 0; et && i < BN_ARRAY_SIZE(kinds); i++) {
        if (strcmp(et, kinds[i].type) != 0)
            continue;
        size_t start = out->len;
        /* a DNS response is written from the server's side: the client is the destination */
        const char *dt = jstr(o, "dns.type");
        bool turn = strcmp(et, "dns") == 0 && dt && strcmp(dt, "response") == 0;
        rc = common(out, o, kinds[i].path, turn, orig_off, orig_len);
        rc = rc ? rc : kinds[i].fn(out, o);
        rc = rc ? rc : bn_buf_putc(out, '}');
        if (rc)
            out->len = start;
        break;
    }
    json_decref(o);
    return rc;
}

static bool
looks_eve(const struct store_event *e)
{
    return e->json && e->json_len > sizeof(EVE_PREFIX) &&
           memcmp(e->json, EVE_PREFIX, sizeof(EVE_PREFIX) - 1) == 0;
}

const struct store_event *
ingest_net_for_detect(struct ingest_net *n, const struct store_event *ev, size_t count)
{
    size_t i = 0;
    while (i < count && !looks_eve(&ev[i]))
        i++;
    if (i == count)
        return ev; /* no sensor record: detection reads the batch as stored */
    if (n->cap < count) {
        struct store_event *ne = bn_reallocarray(n->ev, count, sizeof(*ne));
        size_t *no = bn_reallocarray(n->off, count, sizeof(*no));
        if (no)
            n->off = no;
        size_t *nh = no ? bn_reallocarray(n->host_off, count, sizeof(*nh)) : NULL;
        if (nh)
            n->host_off = nh;
        if (ne)
            n->ev = ne;
        if (!ne || !no || !nh)
            return ev; /* out of memory: detection sees the records as stored */
        n->cap = count;
    }
    bn_buf_reset(&n->arena);
    memcpy(n->ev, ev, count * sizeof(*ev));
    for (i = 0; i < count; i++) {
        n->off[i] = SIZE_MAX;
        if (!looks_eve(&ev[i]))
            continue;
        n->st.records++;
        size_t start = n->arena.len, oo = 0, ol = 0;
        int rc = ingest_net_zeek(ev[i].json, ev[i].json_len, &n->arena, &oo, &ol);
        if (rc == BN_DECLINED) {
            n->st.passed++;
            continue;
        }
        if (rc) {
            if (rc == BN_EPARSE)
                n->st.unreadable++;
            n->arena.len = start;
            continue;
        }
        /* the originator's address, NUL-terminated, for the alert's host */
        char host[HOST_MAX];
        size_t hl = BN_MIN(ol, sizeof(host));
        memcpy(host, n->arena.p + oo, hl);
        size_t host_at = n->arena.len;
        if (bn_buf_putc(&n->arena, '\0') != 0 || (hl && bn_buf_append(&n->arena, host, hl) != 0) ||
            bn_buf_putc(&n->arena, '\0') != 0) {
            n->arena.len = start;
            continue;
        }
        n->st.rendered++;
        n->off[i] = start;
        n->host_off[i] = hl ? host_at + 1 : SIZE_MAX;
        n->ev[i].json_len = host_at - start;
    }
    /* the arena may have moved while it grew: pointers only now */
    for (i = 0; i < count; i++) {
        if (n->off[i] == SIZE_MAX)
            continue;
        n->ev[i].json = n->arena.p + n->off[i];
        if (n->host_off[i] != SIZE_MAX)
            n->ev[i].host = n->arena.p + n->host_off[i];
    }
    return n->ev;
}
