/*
 * uplink_net.c - the network sensor's link to the manager (see uplink_net.h): eve lines from
 * the pipeline's FILE into the durable spool (bannin_link), the uplink thread started with
 * the sensor's health and no action queue, and `bannin-sensor enroll`.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/spool.h"
#include "agent/uplink.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/wire.h"
#include "sensor/pipeline.h"
#include "sensor/uplink_net.h"

struct net_link {
    FILE *fp;  /* the cookie FILE the pipeline writes to */
    FILE *tee; /* borrowed */
    char host[256];
    char spool_dir[4096];
    struct agent_spool *spool;
    pthread_mutex_t spool_mu; /* the spool is shared with the uplink thread */
    struct uplink *up;
    struct bn_buf partial; /* a line cut by a write, waiting for its end */
    bool overlong;         /* the partial line went over the record limit */
    struct bn_buf rec;     /* stats records */
    pthread_mutex_t health_mu;
    char health[NET_LINK_HEALTH_MAX + 1];
    size_t health_len;
    struct net_link_counters c; /* capture thread (spool_mu for what the uplink reads) */
};

static uint64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The spool class of an eve line, from its event_type (near the start of the line). */
static enum agent_prio
line_prio(const char *p, size_t n)
{
    static const char key[] = "\"event_type\":\"";
    const char *k = memmem(p, BN_MIN(n, 256), key, sizeof(key) - 1);
    if (!k)
        return AGENT_PRIO_NORMAL;
    const char *v = k + sizeof(key) - 1;
    size_t left = n - (size_t)(v - p);
#define IS(s) (left > sizeof(s) - 1 && memcmp(v, s "\"", sizeof(s)) == 0)
    if (IS("alert"))
        return AGENT_PRIO_CRITICAL;
    if (IS("stats"))
        return AGENT_PRIO_HIGH;
    if (IS("flow"))
        return AGENT_PRIO_BULK;
#undef IS
    return AGENT_PRIO_NORMAL;
}

static int
spool_line(struct net_link *l, const char *p, size_t n, enum agent_prio prio)
{
    uint64_t seq;
    pthread_mutex_lock(&l->spool_mu);
    int rc = agent_spool_append(l->spool, p, n, prio, &seq);
    if (rc == 0)
        l->c.spooled++;
    else
        l->c.refused++;
    pthread_mutex_unlock(&l->spool_mu);
    if (rc && l->c.refused == 1)
        BN_WARN("sensor",
                "a record was not spooled for the manager: %s (counted as "
                "link.refused)",
                bn_strerror(rc));
    return rc;
}

/* One complete eve line (without its newline). */
static void
on_line(struct net_link *l, const char *p, size_t n)
{
    l->c.lines++;
    if (l->tee && (fwrite(p, 1, n, l->tee) != n || fputc('\n', l->tee) == EOF))
        l->c.tee_errors++;
    if (n == 0)
        return;
    spool_line(l, p, n, line_prio(p, n));
}

/* fopencookie write: splits what the pipeline writes into lines. Never fails (a failed
 * write would put the pipeline's FILE in an error state): what is lost is counted. */
static ssize_t
cookie_write(void *cookie, const char *buf, size_t size)
{
    struct net_link *l = cookie;
    const char *p = buf, *end = buf + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!nl || l->partial.len || l->overlong) {
            if (!l->overlong && bn_buf_append(&l->partial, p, n) != 0)
                l->overlong = true;
            if (nl) {
                if (l->overlong) {
                    pthread_mutex_lock(&l->spool_mu);
                    l->c.lines++;
                    l->c.too_long++;
                    pthread_mutex_unlock(&l->spool_mu);
                } else {
                    on_line(l, l->partial.p, l->partial.len);
                }
                bn_buf_reset(&l->partial);
                l->overlong = false;
            }
        } else {
            on_line(l, p, n);
        }
        p += n + (nl ? 1 : 0);
    }
    return (ssize_t)size;
}

static int
cookie_close(void *cookie)
{
    (void)cookie;
    return 0;
}

/* Heartbeat health (uplink thread). */
static void
health_cb(void *ctx, struct bn_buf *out, int *tier)
{
    struct net_link *l = ctx;
    struct agent_spool_stats ss;
    uint64_t refused, too_long;
    *tier = 0;
    pthread_mutex_lock(&l->spool_mu);
    agent_spool_stats(l->spool, &ss);
    refused = l->c.refused;
    too_long = l->c.too_long;
    pthread_mutex_unlock(&l->spool_mu);
    int rc = bn_buf_puts(out, "{\"kind\":\"sensor\"");
    pthread_mutex_lock(&l->health_mu);
    if (rc == 0 && l->health_len) {
        rc = bn_buf_putc(out, ',');
        rc = rc ? rc : bn_buf_append(out, l->health, l->health_len);
    }
    pthread_mutex_unlock(&l->health_mu);
    rc = rc ? rc
            : bn_buf_printf(out,
                            ",\"link\":{\"spool_depth\":%" PRIu64 ",\"spool_bytes\":%" PRIu64
                            ",\"spool_dropped\":%" PRIu64 ",\"spool_corrupt\":%" PRIu64
                            ",\"refused\":%" PRIu64 "}}",
                            ss.next_seq - 1 - ss.acked_seq, ss.bytes,
                            ss.dropped[0] + ss.dropped[1] + ss.dropped[2] + ss.dropped[3],
                            ss.corrupt, refused + too_long);
    if (rc) {
        bn_buf_reset(out);
        bn_buf_puts(out, "{\"kind\":\"sensor\",\"health\":\"too long\"}");
    }
}

int
net_link_open(struct net_link **out, const struct net_link_opts *o, char *err, size_t errsz)
{
    *out = NULL;
    if (!o->link_dir) {
        snprintf(err, errsz, "the manager link needs a link directory (--link-dir)");
        return BN_EINVAL;
    }
    /* not enrolled: say so before creating anything */
    struct bn_wire_ident id;
    int rc = bn_wire_ident_load(o->link_dir, &id, err, errsz);
    sodium_memzero(&id, sizeof(id));
    if (rc == BN_ENOTFOUND)
        snprintf(err, errsz,
                 "'%s' holds no enrolment: run bannin-sensor enroll --server HOST:PORT "
                 "--token TOKEN --dir %s",
                 o->link_dir, o->link_dir);
    if (rc)
        return rc;
    struct net_link *l = bn_calloc(1, sizeof(*l));
    if (!l)
        return BN_ENOMEM;
    pthread_mutex_init(&l->spool_mu, NULL);
    pthread_mutex_init(&l->health_mu, NULL);
    bn_buf_init(&l->partial, AGENT_SPOOL_RECORD_MAX);
    bn_buf_init(&l->rec, AGENT_SPOOL_RECORD_MAX);
    l->tee = o->tee;
    if (o->hostname && o->hostname[0]) {
        snprintf(l->host, sizeof(l->host), "%s", o->hostname);
    } else if (gethostname(l->host, sizeof(l->host) - 1) != 0) {
        snprintf(l->host, sizeof(l->host), "sensor");
    }
    if (o->spool_dir)
        snprintf(l->spool_dir, sizeof(l->spool_dir), "%s", o->spool_dir);
    else
        snprintf(l->spool_dir, sizeof(l->spool_dir), "%.4000s/spool", o->link_dir);

    struct agent_spool_opts so;
    agent_spool_opts_init(&so);
    so.dir = l->spool_dir;
    so.max_bytes = o->spool_max;
    /* a sensor writes tens of thousands of records a second: fdatasync by time only (every
     * 200 ms while records arrive), not every 256 records. A killed process loses nothing
     * either way (appends are in the page cache); a machine crash at most 200 ms. */
    so.sync_every = UINT32_MAX;
    rc = agent_spool_open(&l->spool, &so);
    if (rc) {
        snprintf(err, errsz, "cannot open the spool '%s': %s", l->spool_dir, bn_strerror(rc));
        net_link_close(l);
        return rc;
    }
    /* the first heartbeat goes out as the session opens, before the capture loop reports */
    if (o->source) {
        char src[NET_LINK_HEALTH_MAX];
        struct bn_buf sb;
        bn_buf_init(&sb, sizeof(src));
        if (bn_buf_puts(&sb, "\"source\":\"") == 0 &&
            bn_buf_json_escape(&sb, o->source, BN_MIN(strlen(o->source), 200)) == 0 &&
            bn_buf_putc(&sb, '"') == 0)
            net_link_set_health(l, sb.p, sb.len);
        bn_buf_release(&sb);
    }
    struct uplink_conf uc = {
        .link_dir = o->link_dir,
        .server = o->server,
        .hostname = l->host,
        .heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : 30000,
        .spool = l->spool,
        .spool_mu = &l->spool_mu,
        .health = health_cb,
        .health_ctx = l,
        .actions = NULL, /* the sensor refuses response actions */
    };
    rc = uplink_start(&l->up, &uc, err, errsz);
    if (rc) {
        net_link_close(l);
        return rc;
    }
    static const cookie_io_functions_t io = {.write = cookie_write, .close = cookie_close};
    l->fp = fopencookie(l, "w", io);
    if (!l->fp) {
        snprintf(err, errsz, "cannot open the link's output: %s", strerror(errno));
        net_link_close(l);
        return BN_ENOMEM;
    }
    /* unbuffered: each record reaches the spool when the pipeline writes it (one write per
     * line), so a record the pipeline wrote is on disk even if the process is killed */
    setvbuf(l->fp, NULL, _IONBF, 0);
    *out = l;
    return 0;
}

FILE *
net_link_file(struct net_link *l)
{
    return l->fp;
}

int
net_link_stats_record(struct net_link *l, const char *body, size_t len)
{
    char ts[40];
    bn_buf_reset(&l->rec);
    int rc = bn_buf_printf(&l->rec, "{\"timestamp\":\"%s\",\"event_type\":\"stats\",",
                           net_eve_time(wall_ns(), ts, sizeof(ts)));
    rc = rc ? rc : bn_buf_append(&l->rec, body, len);
    rc = rc ? rc : bn_buf_putc(&l->rec, '}');
    if (rc) {
        pthread_mutex_lock(&l->spool_mu);
        l->c.refused++;
        pthread_mutex_unlock(&l->spool_mu);
        return rc;
    }
    rc = spool_line(l, l->rec.p, l->rec.len, AGENT_PRIO_HIGH);
    if (rc == 0)
        l->c.stats_records++;
    return rc;
}

int
net_link_set_health(struct net_link *l, const char *members, size_t len)
{
    if (len > NET_LINK_HEALTH_MAX)
        return BN_ETOOBIG;
    pthread_mutex_lock(&l->health_mu);
    memcpy(l->health, members, len);
    l->health_len = len;
    pthread_mutex_unlock(&l->health_mu);
    return 0;
}

void
net_link_tick(struct net_link *l)
{
    pthread_mutex_lock(&l->spool_mu);
    agent_spool_tick(l->spool);
    pthread_mutex_unlock(&l->spool_mu);
}

void
net_link_counters(struct net_link *l, struct net_link_counters *c)
{
    struct agent_spool_stats ss;
    pthread_mutex_lock(&l->spool_mu);
    *c = l->c;
    agent_spool_stats(l->spool, &ss);
    pthread_mutex_unlock(&l->spool_mu);
    c->spool_next_seq = ss.next_seq;
    c->spool_acked_seq = ss.acked_seq;
    c->spool_bytes = ss.bytes;
    c->spool_dropped = ss.dropped[0] + ss.dropped[1] + ss.dropped[2] + ss.dropped[3];
    c->spool_corrupt = ss.corrupt;
    if (l->up) {
        struct uplink_stats us;
        uplink_stats(l->up, &us);
        c->connected = us.connected;
        c->connects = us.connects;
        c->connect_failures = us.connect_failures;
        c->batches_acked = us.batches_acked;
        c->events_acked = us.events_acked;
        c->heartbeats = us.heartbeats;
        c->refusals = us.refusals;
        snprintf(c->last_error, sizeof(c->last_error), "%s", us.last_error);
    }
}

int
net_link_counters_json(struct net_link *l, struct bn_buf *out)
{
    struct net_link_counters c;
    net_link_counters(l, &c);
    int rc = bn_buf_printf(
        out,
        "{\"connected\":%s,\"lines\":%" PRIu64 ",\"spooled\":%" PRIu64 ",\"refused\":%" PRIu64
        ",\"too_long\":%" PRIu64 ",\"tee_errors\":%" PRIu64 ",\"stats_records\":%" PRIu64
        ",\"spool_next_seq\":%" PRIu64 ",\"spool_acked_seq\":%" PRIu64 ",\"spool_bytes\":%" PRIu64
        ",\"spool_dropped\":%" PRIu64 ",\"spool_corrupt\":%" PRIu64 ",\"connects\":%" PRIu64
        ",\"connect_failures\":%" PRIu64 ",\"batches_acked\":%" PRIu64 ",\"events_acked\":%" PRIu64
        ",\"heartbeats\":%" PRIu64 ",\"refusals\":%" PRIu64 ",\"last_error\":\"",
        c.connected ? "true" : "false", c.lines, c.spooled, c.refused, c.too_long, c.tee_errors,
        c.stats_records, c.spool_next_seq, c.spool_acked_seq, c.spool_bytes, c.spool_dropped,
        c.spool_corrupt, c.connects, c.connect_failures, c.batches_acked, c.events_acked,
        c.heartbeats, c.refusals);
    rc = rc ? rc : bn_buf_json_escape(out, c.last_error, strlen(c.last_error));
    return rc ? rc : bn_buf_puts(out, "\"}");
}

bool
net_link_drain(struct net_link *l, int64_t timeout_ms)
{
    fflush(l->fp);
    if (l->tee)
        fflush(l->tee);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct agent_spool_stats ss;
        pthread_mutex_lock(&l->spool_mu);
        agent_spool_sync(l->spool);
        agent_spool_stats(l->spool, &ss);
        pthread_mutex_unlock(&l->spool_mu);
        if (ss.acked_seq + 1 >= ss.next_seq)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= timeout_ms)
            return false;
        struct timespec ts = {0, 20 * 1000000l};
        nanosleep(&ts, NULL);
    }
}

void
net_link_close(struct net_link *l)
{
    if (!l)
        return;
    if (l->fp)
        fclose(l->fp);
    l->fp = NULL;
    if (l->partial.len || l->overlong) {
        /* a last line without its newline (the eve writer always ends its lines) */
        l->c.lines++;
        l->c.refused++;
        BN_WARN("sensor", "a cut last record was not spooled for the manager");
    }
    if (l->tee)
        fflush(l->tee);
    uplink_stop(l->up);
    l->up = NULL;
    agent_spool_close(l->spool);
    bn_buf_release(&l->partial);
    bn_buf_release(&l->rec);
    pthread_mutex_destroy(&l->spool_mu);
    pthread_mutex_destroy(&l->health_mu);
    bn_free(l);
}

/* ---- bannin-sensor enroll ---- */

static void
enroll_usage(int to_stderr)
{
    fputs("usage: bannin-sensor enroll --server HOST:PORT --token TOKEN [--dir DIR] [--host NAME]\n"
          "                            [--heartbeat MS]\n"
          "  --dir DIR   link directory (default " NET_LINK_DIR_DEFAULT ")\n"
          "  --host NAME the name the manager lists this sensor under (default: host name)\n",
          to_stderr ? stderr : stdout);
}

int
net_link_enroll_main(int argc, char **argv)
{
    static const struct bn_wire_enroll_cli cli = {
        .prog = "bannin-sensor",
        .role = "sensor",
        .dir = NET_LINK_DIR_DEFAULT,
        .heartbeat_ms = 30000,
        .host_fallback = "sensor",
        .usage = enroll_usage,
    };
    return bn_wire_enroll_main(&cli, argc, argv);
}
