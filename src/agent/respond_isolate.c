/*
 * respond_isolate.c - host network isolation with an nftables table at priority -400
 * (see respond_isolate.h for the design and the action parameters).
 *
 * One mutex guards the libnftables context and the state; the watchdog thread takes it every
 * BN_RESP_ISO_WATCH_MS to compare the table with what was loaded and re-apply it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "respond_isolate.h"

#define TABLE "inet bannin_isolate"
#define STATE_FILE "isolation.json"
#define RULESET_FILE "isolation.ruleset"
#define LOCK_FILE "isolation.lock"
#define NFT_TEXT_MAX (64u << 10) /* bytes of the table definition we generate */

struct endpoint {
    int family;              /* AF_INET or AF_INET6 */
    char addr[INET6_ADDRSTRLEN]; /* canonical text from inet_ntop (safe inside nft syntax) */
    unsigned port;           /* 0 for DNS servers (port 53 implied) */
};

struct iso_conf {
    struct endpoint mgr[BN_RESP_ISO_ENDPOINTS_MAX];
    size_t n_mgr;
    struct endpoint dns[BN_RESP_ISO_DNS_MAX];
    size_t n_dns;
    char by[BN_RESP_ISO_TEXT_MAX + 1];
    char reason[BN_RESP_ISO_TEXT_MAX + 1];
    int64_t since; /* unix seconds */
};

struct resp_isolate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t watch;
    bool watch_started;
    bool stop;
    int nl_fd;             /* nftables change notifications (NFNLGRP_NFTABLES), or -1 */
    int wake[2];           /* wakes the watchdog for stop */
    uint64_t nl_events;    /* notification batches that triggered a check */
    struct nft_ctx *nft;
    char *state_path;
    char *ruleset_path;
    int lock_fd;           /* flock: one writer of the isolation state across processes */
    struct stat seen;      /* isolation.json as this process last wrote or read it */
    bool seen_exists;
    bool isolated;
    bool verified;
    struct iso_conf conf;
    struct endpoint defmgr[BN_RESP_ISO_ENDPOINTS_MAX]; /* used when a request names none */
    size_t n_defmgr;
    char *expect;          /* stateless listing of our table right after the last apply */
    size_t expect_rules;   /* rules we generated (verification) */
    uint64_t reapplied;
    uint64_t reapply_failed;
    uint64_t last_apply_us;
    char last_error[256];
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- libnftables ---------------------------------------------------------------------- */

/* Runs cmd; on failure copies nft's error text into m->last_error. Caller holds mu. */
static int nft_run(struct resp_isolate *m, const char *cmd, bool stateless)
{
    nft_ctx_output_set_flags(m->nft, stateless ? NFT_CTX_OUTPUT_STATELESS : 0);
    int rc = nft_run_cmd_from_buffer(m->nft, cmd);
    if (rc != 0) {
        const char *e = nft_ctx_get_error_buffer(m->nft);
        snprintf(m->last_error, sizeof(m->last_error), "nft: %s", e && *e ? e : "failed");
        size_t n = strlen(m->last_error);
        while (n > 0 && (m->last_error[n - 1] == '\n' || m->last_error[n - 1] == ' '))
            m->last_error[--n] = '\0';
        for (char *p = m->last_error; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        return BN_EINTERNAL;
    }
    return 0;
}

/* Returns an owned copy of the output of a list command, or NULL (missing table, ENOMEM). */
static char *nft_list(struct resp_isolate *m, const char *cmd, bool stateless)
{
    if (nft_run(m, cmd, stateless) != 0)
        return NULL;
    const char *o = nft_ctx_get_output_buffer(m->nft);
    return bn_strdup(o ? o : "");
}

/* ---- rules ---------------------------------------------------------------------------- */

static const char *ipk(const struct endpoint *e)
{
    return e->family == AF_INET ? "ip" : "ip6";
}

/* Builds the transaction that (re)creates our table; *n_rules gets the rule count. */
static int build_table(const struct iso_conf *c, struct bn_buf *b, size_t *n_rules)
{
    size_t in = 0, outr = 0;
    int rc = bn_buf_puts(b, "table " TABLE "\ndelete table " TABLE "\n"
                            "table " TABLE " {\n"
                            " chain input {\n"
                            "  type filter hook input priority -400; policy accept;\n"
                            "  iif \"lo\" accept\n");
    in++;
    for (size_t i = 0; rc == 0 && i < c->n_mgr; i++, in++)
        rc = bn_buf_printf(b, "  %s saddr %s tcp sport %u ct state established,related accept\n",
                           ipk(&c->mgr[i]), c->mgr[i].addr, c->mgr[i].port);
    for (size_t i = 0; rc == 0 && i < c->n_dns; i++, in += 2)
        rc = bn_buf_printf(b, "  %s saddr %s udp sport 53 accept\n"
                              "  %s saddr %s tcp sport 53 ct state established accept\n",
                           ipk(&c->dns[i]), c->dns[i].addr, ipk(&c->dns[i]), c->dns[i].addr);
    if (rc == 0)
        rc = bn_buf_puts(b, "  icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } "
                            "ip6 hoplimit 255 accept\n"
                            "  counter drop\n"
                            " }\n"
                            " chain output {\n"
                            "  type filter hook output priority -400; policy accept;\n"
                            "  oif \"lo\" accept\n");
    in += 2;
    outr++;
    for (size_t i = 0; rc == 0 && i < c->n_mgr; i++, outr++)
        rc = bn_buf_printf(b, "  %s daddr %s tcp dport %u accept\n", ipk(&c->mgr[i]),
                           c->mgr[i].addr, c->mgr[i].port);
    for (size_t i = 0; rc == 0 && i < c->n_dns; i++, outr += 2)
        rc = bn_buf_printf(b, "  %s daddr %s udp dport 53 accept\n"
                              "  %s daddr %s tcp dport 53 accept\n",
                           ipk(&c->dns[i]), c->dns[i].addr, ipk(&c->dns[i]), c->dns[i].addr);
    if (rc == 0)
        rc = bn_buf_puts(b, "  icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } "
                            "ip6 hoplimit 255 accept\n"
                            "  counter drop\n"
                            " }\n"
                            " chain forward {\n"
                            "  type filter hook forward priority -400; policy accept;\n"
                            "  counter drop\n"
                            " }\n"
                            "}\n");
    outr += 2;
    *n_rules = in + outr + 1;
    return rc;
}

/* Counts rule lines of a listing: lines ending in accept or drop that are not chain headers. */
static bool ends_with(const char *l, size_t len, const char *w)
{
    size_t n = strlen(w);
    return len >= n && memcmp(l + len - n, w, n) == 0;
}

static size_t count_rules(const char *l)
{
    size_t n = 0;
    while (*l) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if ((ends_with(l, len, "accept") || ends_with(l, len, "drop")) &&
            !memmem(l, len, "policy", 6))
            n++;
        l += len + (e ? 1 : 0);
    }
    return n;
}

/* Checks a stateless listing of our table: three base chains at -400, every rule present. */
static bool listing_ok(const struct resp_isolate *m, const char *l, size_t want_rules)
{
    static const char *const hooks[] = {
        "type filter hook input priority -400; policy accept;",
        "type filter hook output priority -400; policy accept;",
        "type filter hook forward priority -400; policy accept;",
    };
    for (size_t i = 0; i < 3; i++)
        if (!strstr(l, hooks[i]))
            return false;
    for (size_t i = 0; i < m->conf.n_mgr; i++)
        if (!strstr(l, m->conf.mgr[i].addr))
            return false;
    return count_rules(l) == want_rules;
}

/* Loads the table and verifies it. Caller holds mu. Sets verified, expect, last_apply_us. */
static int apply_locked(struct resp_isolate *m)
{
    uint64_t t0 = mono_us();
    struct bn_buf b;
    bn_buf_init(&b, NFT_TEXT_MAX);
    size_t n_rules = 0;
    int rc = build_table(&m->conf, &b, &n_rules);
    if (rc != 0) {
        snprintf(m->last_error, sizeof(m->last_error), "cannot build the table: %s",
                 bn_strerror(rc));
        goto out;
    }
    m->verified = false;
    rc = nft_run(m, b.p, false);
    if (rc != 0)
        goto out;
    char *l = nft_list(m, "list table " TABLE, true);
    if (!l) {
        rc = BN_EINTERNAL;
        goto out;
    }
    if (!listing_ok(m, l, n_rules)) {
        snprintf(m->last_error, sizeof(m->last_error),
                 "verification failed: the listed table is not what was loaded");
        bn_free(l);
        rc = BN_EINTERNAL;
        goto out;
    }
    bn_free(m->expect);
    m->expect = l;
    m->expect_rules = n_rules;
    m->verified = true;
    m->last_error[0] = '\0';
out:
    m->last_apply_us = mono_us() - t0;
    bn_buf_release(&b);
    return rc;
}

/* ---- state files ---------------------------------------------------------------------- */

static int write_file_atomic(const char *path, const char *data, size_t n)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return BN_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            unlink(tmp);
            return e;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    if (rename(tmp, path) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

/* Reads a whole file of at most max bytes; returns owned NUL-terminated text. */
static int read_file(const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct bn_buf b;
    bn_buf_init(&b, max);
    char chunk[8192];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        rc = bn_buf_append(&b, chunk, (size_t)r);
        if (rc != 0)
            break;
    }
    close(fd);
    if (rc == 0)
        rc = bn_buf_reserve(&b, 1);
    if (rc != 0) {
        bn_buf_release(&b);
        return rc;
    }
    b.p[b.len] = '\0';
    if (len)
        *len = b.len;
    *out = bn_buf_detach(&b);
    return 0;
}

static json_t *endpoints_json(const struct endpoint *e, size_t n, bool with_port)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        char s[INET6_ADDRSTRLEN + 16];
        if (!with_port)
            snprintf(s, sizeof(s), "%s", e[i].addr);
        else if (e[i].family == AF_INET6)
            snprintf(s, sizeof(s), "[%s]:%u", e[i].addr, e[i].port);
        else
            snprintf(s, sizeof(s), "%s:%u", e[i].addr, e[i].port);
        json_array_append_new(a, json_string(s));
    }
    return a;
}

static int save_state(struct resp_isolate *m)
{
    json_t *o = json_pack("{s:b,s:o,s:o,s:I,s:s,s:s}", "isolated", 1, "manager",
                          endpoints_json(m->conf.mgr, m->conf.n_mgr, true), "dns",
                          endpoints_json(m->conf.dns, m->conf.n_dns, false), "since",
                          (json_int_t)m->conf.since, "by", m->conf.by, "reason", m->conf.reason);
    if (!o)
        return BN_ENOMEM;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return BN_ENOMEM;
    int rc = write_file_atomic(m->state_path, s, strlen(s));
    free(s);
    return rc;
}

/* ---- parameters ----------------------------------------------------------------------- */

/* Parses "a.b.c.d:port", "[v6]:port" (with_port) or a bare address (DNS). */
static int parse_endpoint(const char *s, bool with_port, struct endpoint *e, char *why,
                          size_t whylen)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port = NULL;
    size_t n = strlen(s);
    if (n == 0 || n > BN_RESP_ISO_TEXT_MAX) {
        snprintf(why, whylen, "endpoint is empty or longer than %d bytes", BN_RESP_ISO_TEXT_MAX);
        return BN_EINVAL;
    }
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || (size_t)(rb - s - 1) >= sizeof(host))
            goto bad;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb[1] != '\0')
            goto bad;
    } else {
        const char *c = strchr(s, ':');
        const char *lc = strrchr(s, ':');
        size_t hl = n;
        if (c && c == lc && with_port) { /* IPv4 with port */
            hl = (size_t)(c - s);
            port = c + 1;
        }
        if (hl >= sizeof(host))
            goto bad;
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    unsigned char bin[16];
    if (inet_pton(AF_INET, host, bin) == 1)
        e->family = AF_INET;
    else if (inet_pton(AF_INET6, host, bin) == 1)
        e->family = AF_INET6;
    else
        goto bad;
    if (!inet_ntop(e->family, bin, e->addr, sizeof(e->addr)))
        goto bad;
    e->port = 0;
    if (with_port) {
        if (!port || !*port)
            goto bad;
        char *end;
        errno = 0;
        unsigned long p = strtoul(port, &end, 10);
        if (*end || errno || p == 0 || p > 65535 || port[0] < '0' || port[0] > '9')
            goto bad;
        e->port = (unsigned)p;
    } else if (port) {
        goto bad;
    }
    return 0;
bad:
    snprintf(why, whylen, "'%.*s' is not %s", 100, s,
             with_port ? "an IP literal with a port (192.0.2.1:7443 or [2001:db8::1]:7443)"
                       : "an IP address");
    return BN_EINVAL;
}

static int parse_list(json_t *v, const char *key, bool with_port, struct endpoint *e, size_t max,
                      size_t *n, char *why, size_t whylen)
{
    *n = 0;
    if (!v)
        return 0;
    if (json_is_string(v))
        return parse_endpoint(json_string_value(v), with_port, &e[(*n)++], why, whylen);
    if (!json_is_array(v)) {
        snprintf(why, whylen, "'%s' must be a string or an array of strings", key);
        return BN_EINVAL;
    }
    if (json_array_size(v) > max) {
        snprintf(why, whylen, "'%s' has %zu entries, at most %zu allowed", key,
                 json_array_size(v), max);
        return BN_EINVAL;
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_string(x)) {
            snprintf(why, whylen, "'%s'[%zu] is not a string", key, i);
            return BN_EINVAL;
        }
        int rc = parse_endpoint(json_string_value(x), with_port, &e[*n], why, whylen);
        if (rc != 0)
            return rc;
        (*n)++;
    }
    return 0;
}

static int text_field(json_t *o, const char *key, char *dst, size_t cap, char *why,
                      size_t whylen)
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= cap) {
        snprintf(why, whylen, "'%s' must be a string of at most %zu bytes", key, cap - 1);
        return BN_EINVAL;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* Parses params into *o (NULL params or "" mean {}). */
static int parse_params(const char *params, size_t len, json_t **o, char *why, size_t whylen)
{
    *o = NULL;
    if (!params || len == 0) {
        *o = json_object();
        return *o ? 0 : BN_ENOMEM;
    }
    if (len > BN_RESPOND_PARAMS_MAX) {
        snprintf(why, whylen, "params: %zu bytes, at most %u allowed", len,
                 (unsigned)BN_RESPOND_PARAMS_MAX);
        return BN_EINVAL;
    }
    json_error_t je;
    json_t *v = json_loadb(params, len, JSON_REJECT_DUPLICATES, &je);
    if (!v || !json_is_object(v)) {
        if (v)
            snprintf(why, whylen, "params must be a JSON object");
        else
            snprintf(why, whylen, "params: invalid JSON at byte %d: %s", je.position, je.text);
        json_decref(v);
        return BN_EINVAL;
    }
    *o = v;
    return 0;
}

/* ---- results -------------------------------------------------------------------------- */

static int put_error(struct bn_buf *out, const char *msg)
{
    int rc = bn_buf_puts(out, "{\"ok\":false,\"error\":\"");
    if (rc == 0)
        rc = bn_buf_json_escape(out, msg, strlen(msg));
    if (rc == 0)
        rc = bn_buf_puts(out, "\"}");
    return rc;
}

struct ctr {
    unsigned long long packets, bytes;
};

/* Reads the drop counter of each chain from a stateful listing of our table. */
static void read_counters(const char *l, struct ctr c[3])
{
    static const char *const chains[] = {"chain input {", "chain output {", "chain forward {"};
    for (size_t i = 0; i < 3; i++) {
        c[i].packets = c[i].bytes = 0;
        const char *p = l ? strstr(l, chains[i]) : NULL;
        const char *q = p ? strstr(p, "counter packets ") : NULL;
        if (q)
            sscanf(q, "counter packets %llu bytes %llu", &c[i].packets, &c[i].bytes);
    }
}

/* Appends the state fields (no braces) to out. Caller holds mu. */
static int put_state(struct resp_isolate *m, struct bn_buf *out)
{
    json_t *o = json_object();
    if (!o)
        return BN_ENOMEM;
    json_object_set_new(o, "isolated", json_boolean(m->isolated));
    json_object_set_new(o, "verified", json_boolean(m->isolated && m->verified));
    json_object_set_new(o, "reapplied", json_integer((json_int_t)m->reapplied));
    json_object_set_new(o, "reapply_failed", json_integer((json_int_t)m->reapply_failed));
    if (m->isolated) {
        json_object_set_new(o, "manager", endpoints_json(m->conf.mgr, m->conf.n_mgr, true));
        json_object_set_new(o, "dns", endpoints_json(m->conf.dns, m->conf.n_dns, false));
        json_object_set_new(o, "since", json_integer((json_int_t)m->conf.since));
        json_object_set_new(o, "by", json_string(m->conf.by));
        json_object_set_new(o, "reason", json_string(m->conf.reason));
        json_object_set_new(o, "apply_us", json_integer((json_int_t)m->last_apply_us));
        char *l = nft_list(m, "list table " TABLE, false);
        struct ctr c[3];
        read_counters(l, c);
        bn_free(l);
        json_t *cs = json_object();
        static const char *const names[] = {"input", "output", "forward"};
        for (size_t i = 0; cs && i < 3; i++)
            json_object_set_new(cs, names[i],
                                json_pack("{s:I,s:I}", "packets", (json_int_t)c[i].packets,
                                          "bytes", (json_int_t)c[i].bytes));
        json_object_set_new(o, "dropped", cs);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return BN_ENOMEM;
    /* strip the braces: the caller writes its own object around the fields */
    size_t n = strlen(s);
    int rc = n > 2 ? bn_buf_append(out, s + 1, n - 2) : 0;
    free(s);
    return rc;
}

static void sync_locked(struct resp_isolate *m);
static void unlock_state(struct resp_isolate *m);

/* ---- watchdog ------------------------------------------------------------------------- */

static void *watch_main(void *arg)
{
    struct resp_isolate *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        /* Another process holding the lock is changing the state: skip this tick. */
        bool locked = flock(m->lock_fd, LOCK_EX | LOCK_NB) == 0;
        if (locked)
            sync_locked(m);
        if (locked && m->isolated) {
            char *l = nft_list(m, "list table " TABLE, true);
            bool intact = l && m->expect && strcmp(l, m->expect) == 0;
            bn_free(l);
            if (!intact) {
                int rc = apply_locked(m);
                if (rc == 0) {
                    m->reapplied++;
                    BN_WARN("isolate", "isolation table removed or altered locally; re-applied "
                                       "in %" PRIu64 " us", m->last_apply_us);
                } else {
                    m->reapply_failed++;
                    BN_ERROR("isolate", "cannot re-apply the isolation table: %s",
                             m->last_error);
                }
            }
        }
        if (locked)
            unlock_state(m);
        if (m->nl_fd >= 0) {
            /* Sleep until an nftables change anywhere in this namespace (our own included)
             * or the period ends: a local flush is answered in milliseconds, not 200. */
            struct pollfd p[2] = {{.fd = m->nl_fd, .events = POLLIN},
                                  {.fd = m->wake[0], .events = POLLIN}};
            pthread_mutex_unlock(&m->mu);
            int n = poll(p, 2, BN_RESP_ISO_WATCH_MS);
            if (n > 0 && (p[0].revents & POLLIN)) {
                /* coalesce a burst (a transaction is several messages; at most ~300 checks
                 * a second however busy the ruleset is) */
                char buf[8192];
                for (int round = 0; round < 2; round++) {
                    while (recv(m->nl_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 ||
                           errno == ENOBUFS)
                        ;
                    if (round == 0)
                        usleep(3000);
                }
            }
            pthread_mutex_lock(&m->mu);
            if (n > 0 && (p[0].revents & POLLIN))
                m->nl_events++;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)BN_RESP_ISO_WATCH_MS * 1000000L;
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_nsec -= 1000000000L;
            ts.tv_sec++;
        }
        while (!m->stop) {
            int rc = pthread_cond_timedwait(&m->cv, &m->mu, &ts);
            if (rc == ETIMEDOUT)
                break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = bn_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Reads isolation.json into *c and *isolated (false when there is no file). */
static int load_state(struct resp_isolate *m, struct iso_conf *c, bool *isolated)
{
    *isolated = false;
    memset(c, 0, sizeof(*c));
    char *s = NULL;
    size_t n = 0;
    int rc = read_file(m->state_path, BN_RESP_ISO_STATE_MAX, &s, &n);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0) {
        BN_ERROR("isolate", "cannot read '%s': %s", m->state_path, bn_strerror(rc));
        return rc;
    }
    char why[256] = "";
    json_t *o = NULL;
    rc = parse_params(s, n, &o, why, sizeof(why));
    bn_free(s);
    if (rc == 0) {
        json_t *iso = json_object_get(o, "isolated");
        if (json_is_true(iso)) {
            rc = parse_list(json_object_get(o, "manager"), "manager", true, c->mgr,
                            BN_RESP_ISO_ENDPOINTS_MAX, &c->n_mgr, why, sizeof(why));
            if (rc == 0)
                rc = parse_list(json_object_get(o, "dns"), "dns", false, c->dns,
                                BN_RESP_ISO_DNS_MAX, &c->n_dns, why, sizeof(why));
            if (rc == 0)
                rc = text_field(o, "by", c->by, sizeof(c->by), why, sizeof(why));
            if (rc == 0)
                rc = text_field(o, "reason", c->reason, sizeof(c->reason), why, sizeof(why));
            if (rc == 0 && c->n_mgr == 0) {
                snprintf(why, sizeof(why), "no manager endpoint");
                rc = BN_EINVAL;
            }
            json_t *since = json_object_get(o, "since");
            c->since = json_is_integer(since) ? (int64_t)json_integer_value(since) : 0;
            if (rc == 0)
                *isolated = true;
        }
    }
    json_decref(o);
    if (rc != 0) {
        /* A damaged state file is reported and left for an operator (isolating with no
         * known manager link would cut the agent off). */
        BN_ERROR("isolate", "'%s': %s", m->state_path, why);
        return BN_ECORRUPT;
    }
    return 0;
}

/* Remembers isolation.json as it is now (after this process wrote, removed or read it). */
static void note_state_file(struct resp_isolate *m)
{
    m->seen_exists = stat(m->state_path, &m->seen) == 0;
}

/* Takes up our table as it is when it matches the state, else loads it. Caller holds mu. */
static int adopt_locked(struct resp_isolate *m)
{
    struct bn_buf b;
    bn_buf_init(&b, NFT_TEXT_MAX);
    size_t n_rules = 0;
    int rc = build_table(&m->conf, &b, &n_rules);
    bn_buf_release(&b);
    char *l = rc == 0 ? nft_list(m, "list table " TABLE, true) : NULL;
    if (l && listing_ok(m, l, n_rules)) {
        bn_free(m->expect);
        m->expect = l;
        m->expect_rules = n_rules;
        m->verified = true;
        return 0;
    }
    bn_free(l);
    return apply_locked(m);
}

/*
 * Follows isolation.json when another process (`bannin-agent action` next to the running
 * agent) changed it: isolated there -> watch that table; removed -> stop watching (that
 * process released and restored the ruleset). Caller holds mu and the flock.
 */
static void sync_locked(struct resp_isolate *m)
{
    struct stat st;
    bool exists = stat(m->state_path, &st) == 0;
    if (exists == m->seen_exists &&
        (!exists || (st.st_ino == m->seen.st_ino && st.st_size == m->seen.st_size &&
                     st.st_mtim.tv_sec == m->seen.st_mtim.tv_sec &&
                     st.st_mtim.tv_nsec == m->seen.st_mtim.tv_nsec)))
        return;
    note_state_file(m);
    struct iso_conf c;
    bool iso = false;
    if (load_state(m, &c, &iso) != 0)
        return; /* reported; keep what we have */
    if (iso) {
        m->conf = c;
        m->isolated = true;
        int rc = adopt_locked(m);
        BN_INFO("isolate", "isolation state changed by another process: isolated (%s)",
                rc == 0 ? "table verified" : m->last_error);
    } else if (m->isolated) {
        m->isolated = false;
        m->verified = false;
        bn_free(m->expect);
        m->expect = NULL;
        BN_INFO("isolate", "isolation state changed by another process: released");
    }
}

static void lock_state(struct resp_isolate *m)
{
    while (flock(m->lock_fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    sync_locked(m);
}

static void unlock_state(struct resp_isolate *m)
{
    flock(m->lock_fd, LOCK_UN);
}

int resp_isolate_new(struct resp_isolate **out, const struct respond_paths *paths)
{
    *out = NULL;
    if (!paths || !paths->state_dir)
        return BN_EINVAL;
    if (mkdir(paths->state_dir, 0700) != 0 && errno != EEXIST)
        return BN_EIO;
    struct resp_isolate *m = bn_calloc(1, sizeof(*m));
    if (!m)
        return BN_ENOMEM;
    int rc = BN_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    m->lock_fd = -1;
    m->nl_fd = -1;
    m->wake[0] = m->wake[1] = -1;
    m->state_path = join_path(paths->state_dir, STATE_FILE);
    m->ruleset_path = join_path(paths->state_dir, RULESET_FILE);
    char *lock_path = join_path(paths->state_dir, LOCK_FILE);
    if (!m->state_path || !m->ruleset_path || !lock_path) {
        bn_free(lock_path);
        goto fail;
    }
    m->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    bn_free(lock_path);
    if (m->lock_fd < 0) {
        rc = BN_EIO;
        goto fail;
    }
    m->nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!m->nft) {
        rc = BN_EINTERNAL;
        goto fail;
    }
    if (nft_ctx_buffer_output(m->nft) != 0 || nft_ctx_buffer_error(m->nft) != 0) {
        rc = BN_EINTERNAL;
        goto fail;
    }
    pthread_mutex_lock(&m->mu);
    while (flock(m->lock_fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    bool iso = false;
    rc = load_state(m, &m->conf, &iso);
    note_state_file(m);
    m->isolated = rc == 0 && iso;
    /* restart: the table is usually still there (adopt it, counters kept); reboot: load it */
    int arc = m->isolated ? adopt_locked(m) : 0;
    unlock_state(m);
    pthread_mutex_unlock(&m->mu);
    if (rc == BN_ECORRUPT)
        rc = 0; /* reported; the agent runs, isolation_status says not isolated */
    if (rc != 0)
        goto fail;
    if (m->isolated) {
        if (arc != 0)
            BN_ERROR("isolate", "cannot re-apply isolation at start: %s (the watchdog retries)",
                     m->last_error);
        else
            BN_INFO("isolate", "host isolated since %" PRId64 ": table in place and verified",
                    m->conf.since);
    }
    m->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
    if (m->nl_fd >= 0) {
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                                 .nl_groups = 1u << (NFNLGRP_NFTABLES - 1)};
        if (bind(m->nl_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
            close(m->nl_fd);
            m->nl_fd = -1;
        }
    }
    if (m->nl_fd < 0)
        BN_WARN("isolate", "no nftables notifications (%s): the watchdog polls every %d ms",
                strerror(errno), BN_RESP_ISO_WATCH_MS);
    if (pthread_create(&m->watch, NULL, watch_main, m) != 0) {
        rc = BN_EINTERNAL;
        goto fail;
    }
    m->watch_started = true;
    *out = m;
    return 0;
fail:
    resp_isolate_free(m);
    return rc;
}

void resp_isolate_free(struct resp_isolate *m)
{
    if (!m)
        return;
    if (m->watch_started) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
        if (m->wake[1] >= 0 && write(m->wake[1], "x", 1) < 0)
            BN_WARN("isolate", "cannot wake the watchdog: %s", strerror(errno));
        pthread_join(m->watch, NULL);
    }
    if (m->nft)
        nft_ctx_free(m->nft);
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    if (m->nl_fd >= 0)
        close(m->nl_fd);
    for (int i = 0; i < 2; i++)
        if (m->wake[i] >= 0)
            close(m->wake[i]);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    bn_free(m->expect);
    bn_free(m->state_path);
    bn_free(m->ruleset_path);
    bn_free(m);
}

int resp_isolate_set_manager(struct resp_isolate *m, const char *const *endpoints, size_t n)
{
    struct endpoint e[BN_RESP_ISO_ENDPOINTS_MAX];
    char why[300];
    if (n > BN_RESP_ISO_ENDPOINTS_MAX)
        return BN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!endpoints[i] || parse_endpoint(endpoints[i], true, &e[i], why, sizeof(why)) != 0) {
            BN_ERROR("isolate", "default manager endpoint: %s",
                     endpoints[i] ? why : "missing");
            return BN_EINVAL;
        }
    }
    pthread_mutex_lock(&m->mu);
    memcpy(m->defmgr, e, n * sizeof(e[0]));
    m->n_defmgr = n;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

uint64_t resp_isolate_reapplied(struct resp_isolate *m)
{
    pthread_mutex_lock(&m->mu);
    uint64_t n = m->reapplied;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* Removes "table inet bannin_isolate {...}" from a ruleset listing, in place. */
static int cut_our_table(char *rs)
{
    static const char head[] = "table " TABLE " {\n";
    char *p = rs;
    char *found = NULL;
    while ((p = strstr(p, head)) != NULL) {
        if (p == rs || p[-1] == '\n') {
            if (found)
                return BN_EINVAL;
            found = p;
        }
        p += sizeof(head) - 1;
    }
    if (!found)
        return BN_ENOTFOUND;
    char *end = strstr(found, "\n}\n");
    if (!end)
        return BN_EFORMAT;
    end += 3;
    memmove(found, end, strlen(end) + 1);
    return 0;
}

/* ---- actions -------------------------------------------------------------------------- */

/* Parses isolate's params into *c; why gets the reason on BN_EINVAL. */
static int parse_isolate(const char *params, size_t len, const struct endpoint *defmgr,
                         size_t n_defmgr, struct iso_conf *c, char *why, size_t whylen)
{
    json_t *o = NULL;
    memset(c, 0, sizeof(*c));
    int rc = parse_params(params, len, &o, why, whylen);
    if (rc == 0) {
        json_t *mg = json_object_get(o, "manager");
        if (!mg && n_defmgr > 0) {
            memcpy(c->mgr, defmgr, n_defmgr * sizeof(*defmgr));
            c->n_mgr = n_defmgr;
        } else if (!mg) {
            snprintf(why, whylen, "'manager' is required: the endpoints that stay "
                                  "reachable (\"192.0.2.1:7443\")");
            rc = BN_EINVAL;
        }
        if (rc == 0 && mg)
            rc = parse_list(mg, "manager", true, c->mgr, BN_RESP_ISO_ENDPOINTS_MAX, &c->n_mgr,
                            why, whylen);
        if (rc == 0 && c->n_mgr == 0) {
            snprintf(why, whylen, "'manager' is empty: isolation would cut the agent off");
            rc = BN_EINVAL;
        }
        if (rc == 0)
            rc = parse_list(json_object_get(o, "dns"), "dns", false, c->dns,
                            BN_RESP_ISO_DNS_MAX, &c->n_dns, why, whylen);
        if (rc == 0)
            rc = text_field(o, "by", c->by, sizeof(c->by), why, whylen);
        if (rc == 0)
            rc = text_field(o, "reason", c->reason, sizeof(c->reason), why, whylen);
    }
    json_decref(o);
    return rc;
}

int resp_isolate_check(const char *params, size_t len, struct bn_buf *out)
{
    char why[300] = "";
    struct iso_conf c;
    int rc = parse_isolate(params, len, NULL, 0, &c, why, sizeof(why));
    if (rc == BN_ENOMEM)
        return rc;
    if (rc != 0) {
        int wrc = put_error(out, why);
        return wrc == BN_ENOMEM ? wrc : BN_EINVAL;
    }
    json_t *o = json_pack("{s:b,s:o,s:o}", "ok", 1, "manager",
                          endpoints_json(c.mgr, c.n_mgr, true), "dns",
                          endpoints_json(c.dns, c.n_dns, false));
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!t)
        return BN_ENOMEM;
    rc = bn_buf_puts(out, t);
    free(t);
    return rc;
}

int resp_isolate(struct resp_isolate *m, const char *params, size_t len, struct bn_buf *out)
{
    char why[300] = "";
    struct iso_conf c;
    struct endpoint defmgr[BN_RESP_ISO_ENDPOINTS_MAX];
    pthread_mutex_lock(&m->mu);
    size_t n_defmgr = m->n_defmgr;
    memcpy(defmgr, m->defmgr, sizeof(defmgr));
    pthread_mutex_unlock(&m->mu);
    int rc = parse_isolate(params, len, defmgr, n_defmgr, &c, why, sizeof(why));
    if (rc == BN_ENOMEM)
        return rc;
    if (rc != 0) {
        int wrc = put_error(out, why);
        return wrc == BN_ENOMEM ? wrc : BN_EINVAL;
    }
    c.since = (int64_t)time(NULL);
    uint64_t t0 = mono_us();

    pthread_mutex_lock(&m->mu);
    lock_state(m);
    bool was = m->isolated;
    char *rs = NULL;
    if (was)
        c.since = m->conf.since; /* a new allow list; isolated since the first request */
    struct iso_conf prev = m->conf;
    m->conf = c;
    m->isolated = true;
    /* Containment first, bookkeeping second: the table is in effect before the state files
     * are written (two fsyncs), so a slow disk does not delay isolation. */
    rc = apply_locked(m);
    uint64_t effective_us = mono_us() - t0;
    if (rc != 0) {
        snprintf(why, sizeof(why), "%s", m->last_error);
        if (!was) {
            m->isolated = false;
            nft_run(m, "table " TABLE "\ndelete table " TABLE "\n", false);
        } else {
            m->conf = prev;
            apply_locked(m);
        }
        goto fail;
    }
    /* Persist: a failure here leaves the host isolated (safer than undoing containment
     * because a disk is full) and says that isolation will not survive a restart. */
    char perr[300] = "";
    if (!was) {
        /* The earlier ruleset, listed after containment (listing a big ruleset costs tens of
         * ms): everything but our table, which is cut out of the listing. */
        rs = nft_list(m, "list ruleset", true);
        if (!rs)
            snprintf(perr, sizeof(perr), "cannot list the ruleset: %s", m->last_error);
        else if (cut_our_table(rs) != 0)
            snprintf(perr, sizeof(perr), "our table is not once in the ruleset listing");
        else if (strlen(rs) > BN_RESP_ISO_RULESET_MAX)
            snprintf(perr, sizeof(perr), "the earlier ruleset is larger than %u bytes",
                     BN_RESP_ISO_RULESET_MAX);
    }
    if (rs && !perr[0]) {
        int wrc = write_file_atomic(m->ruleset_path, rs, strlen(rs));
        if (wrc != 0)
            snprintf(perr, sizeof(perr), "cannot save the earlier ruleset to '%s': %s",
                     m->ruleset_path, bn_strerror(wrc));
    }
    if (!perr[0]) {
        int wrc = save_state(m);
        if (wrc != 0)
            snprintf(perr, sizeof(perr), "cannot write '%s': %s", m->state_path,
                     bn_strerror(wrc));
    }
    bn_free(rs);
    rs = NULL;
    if (perr[0])
        BN_ERROR("isolate", "host isolated but not persisted (a restart ends it): %s", perr);
    BN_INFO("isolate", "host isolated (by '%s', reason '%s'): table in effect and verified in "
                       "%" PRIu64 " us", c.by, c.reason, effective_us);
    rc = bn_buf_printf(out, "{\"ok\":true,\"already\":%s,\"effective_us\":%" PRIu64
                            ",\"total_us\":%" PRIu64 ",\"persisted\":%s,",
                       was ? "true" : "false", effective_us, mono_us() - t0,
                       perr[0] ? "false" : "true");
    if (rc == 0 && perr[0]) {
        rc = bn_buf_puts(out, "\"persist_error\":\"");
        if (rc == 0)
            rc = bn_buf_json_escape(out, perr, strlen(perr));
        if (rc == 0)
            rc = bn_buf_puts(out, "\",");
    }
    if (rc == 0)
        rc = put_state(m, out);
    if (rc == 0)
        rc = bn_buf_putc(out, '}');
    note_state_file(m);
    unlock_state(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
fail:
    note_state_file(m);
    unlock_state(m);
    pthread_mutex_unlock(&m->mu);
    bn_free(rs);
    BN_ERROR("isolate", "isolate failed: %s", why);
    rc = put_error(out, why);
    return rc == BN_ENOMEM ? rc : 0;
}

int resp_release(struct resp_isolate *m, const char *params, size_t len, struct bn_buf *out)
{
    char why[300] = "";
    char by[BN_RESP_ISO_TEXT_MAX + 1], reason[BN_RESP_ISO_TEXT_MAX + 1];
    json_t *o = NULL;
    int rc = parse_params(params, len, &o, why, sizeof(why));
    if (rc == BN_ENOMEM)
        return rc;
    if (rc == 0)
        rc = text_field(o, "by", by, sizeof(by), why, sizeof(why));
    if (rc == 0)
        rc = text_field(o, "reason", reason, sizeof(reason), why, sizeof(why));
    json_decref(o);
    if (rc != 0) {
        int wrc = put_error(out, why);
        return wrc == BN_ENOMEM ? wrc : BN_EINVAL;
    }
    pthread_mutex_lock(&m->mu);
    lock_state(m);
    uint64_t t0 = mono_us();
    bool was = m->isolated;
    bool restored = false, same = true;
    char *saved = NULL;
    char *now = NULL;
    /* Stop the watchdog from re-applying before touching anything. */
    m->isolated = false;
    if (nft_run(m, "table " TABLE "\ndelete table " TABLE "\n", false) != 0) {
        snprintf(why, sizeof(why), "cannot delete the isolation table: %s", m->last_error);
        m->isolated = was;
        goto fail;
    }
    rc = read_file(m->ruleset_path, BN_RESP_ISO_RULESET_MAX, &saved, NULL);
    if (rc == 0) {
        now = nft_list(m, "list ruleset", true);
        if (!now) {
            snprintf(why, sizeof(why), "cannot list the ruleset: %s", m->last_error);
            goto fail;
        }
        if (strcmp(now, saved) != 0) {
            size_t n = strlen(saved) + 32;
            char *cmd = bn_malloc(n);
            if (!cmd) {
                snprintf(why, sizeof(why), "out of memory");
                goto fail;
            }
            snprintf(cmd, n, "flush ruleset\n%s", saved);
            int nrc = nft_run(m, cmd, false);
            bn_free(cmd);
            if (nrc != 0) {
                snprintf(why, sizeof(why), "cannot restore the saved ruleset: %s",
                         m->last_error);
                goto fail;
            }
            restored = true;
            bn_free(now);
            now = nft_list(m, "list ruleset", true);
            same = now && strcmp(now, saved) == 0;
        }
    } else if (rc != -ENOENT || was) {
        snprintf(why, sizeof(why), "cannot read the saved ruleset '%s': %s (isolation table "
                                   "removed, ruleset left as it is)", m->ruleset_path,
                 bn_strerror(rc));
        goto fail;
    }
    unlink(m->state_path);
    unlink(m->ruleset_path);
    m->verified = false;
    bn_free(m->expect);
    m->expect = NULL;
    BN_INFO("isolate", "isolation released (by '%s', reason '%s'); earlier ruleset %s", by,
            reason, restored ? "restored" : "untouched");
    rc = bn_buf_printf(out, "{\"ok\":%s,%s\"was_isolated\":%s,\"restored\":%s,"
                            "\"ruleset_matches_saved\":%s,\"release_us\":%" PRIu64 ",",
                       same ? "true" : "false",
                       same ? "" : "\"error\":\"the ruleset differs from the saved one after "
                                   "restoring it\",",
                       was ? "true" : "false", restored ? "true" : "false",
                       same ? "true" : "false", mono_us() - t0);
    if (rc == 0)
        rc = put_state(m, out);
    if (rc == 0)
        rc = bn_buf_putc(out, '}');
    note_state_file(m);
    unlock_state(m);
    pthread_mutex_unlock(&m->mu);
    bn_free(saved);
    bn_free(now);
    return rc;
fail:
    note_state_file(m);
    unlock_state(m);
    pthread_mutex_unlock(&m->mu);
    bn_free(saved);
    bn_free(now);
    BN_ERROR("isolate", "release failed: %s", why);
    rc = put_error(out, why);
    return rc == BN_ENOMEM ? rc : 0;
}

int resp_isolation_status(struct resp_isolate *m, const char *params, size_t len,
                          struct bn_buf *out)
{
    char why[300] = "";
    json_t *o = NULL;
    int rc = parse_params(params, len, &o, why, sizeof(why));
    json_decref(o);
    if (rc == BN_ENOMEM)
        return rc;
    if (rc != 0) {
        int wrc = put_error(out, why);
        return wrc == BN_ENOMEM ? wrc : BN_EINVAL;
    }
    pthread_mutex_lock(&m->mu);
    lock_state(m);
    /* Check the table now rather than report the watchdog's last view. */
    if (m->isolated) {
        char *l = nft_list(m, "list table " TABLE, true);
        m->verified = l && m->expect && strcmp(l, m->expect) == 0;
        bn_free(l);
    }
    rc = bn_buf_puts(out, "{\"ok\":true,");
    if (rc == 0)
        rc = put_state(m, out);
    if (rc == 0 && m->last_error[0]) {
        rc = bn_buf_puts(out, ",\"last_error\":\"");
        if (rc == 0)
            rc = bn_buf_json_escape(out, m->last_error, strlen(m->last_error));
        if (rc == 0)
            rc = bn_buf_putc(out, '"');
    }
    if (rc == 0)
        rc = bn_buf_putc(out, '}');
    unlock_state(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}
