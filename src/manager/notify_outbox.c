/*
 * notify_outbox.c - the outbox worker thread and "send test" (see notify.h): the parts of
 * notifications that use the store. Formats and delivery are in notify.c.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "manager/metrics.h"
#include "manager/notify.h"

#define NS_PER_SEC ((int64_t)1000000000)

static int64_t
now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int
notify_send_test(struct store *st, const struct store_scope *sc, int64_t channel_id,
                 int64_t now_ns, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    struct store_channel c;
    int rc = store_channel_get(st, sc, channel_id, &c);
    if (rc) {
        snprintf(err, errlen, "channel %" PRId64 " not found", channel_id);
        return rc;
    }
    /* config_json is only valid until the next store call: keep a copy */
    char *cfg = bn_strdup(c.config_json ? c.config_json : "{}");
    if (!cfg)
        return BN_ENOMEM;
    c.config_json = cfg;
    struct store_tenant t;
    const char *tname = "";
    if (store_tenant_get(st, c.tenant_id, &t) == 0)
        tname = t.name;
    struct store_incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.tenant_id = c.tenant_id;
    snprintf(inc.title, sizeof(inc.title), "Test notification from Bannin (channel %s)", c.name);
    inc.severity = 2;
    inc.first_ns = inc.last_ns = inc.created_ns = now_ns;
    inc.notified_severity = -1;
    struct bn_buf pl;
    bn_buf_init(&pl, BN_NOTIFY_BODY_MAX);
    rc = notify_payload(&inc, tname, NULL, 0, NULL, 1, &pl);
    if (rc == 0)
        rc = notify_deliver(&c, pl.p, now_ns, err, errlen);
    bn_buf_release(&pl);
    bn_free(cfg);
    return rc;
}

/* ---- the outbox worker ------------------------------------------------------------------- */

struct due_msg {
    int64_t id;
    int64_t channel_id;
    int attempts;
    char *payload;
};

struct notify {
    struct notify_opts o;
    char *dir;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool kicked;
    struct notify_stats stats;   /* under mu */
};

struct due_ctx {
    struct due_msg msgs[32];
    size_t n;
};

static int
on_due(void *ctx, const struct store_outbox *o)
{
    struct due_ctx *d = ctx;
    if (d->n >= BN_ARRAY_SIZE(d->msgs))
        return 1;
    char *p = bn_strdup(o->payload ? o->payload : "");
    if (!p)
        return BN_ENOMEM;
    d->msgs[d->n++] = (struct due_msg){o->id, o->channel_id, o->attempts, p};
    return 0;
}

static void
stat_add(struct notify *n, uint64_t *field, uint64_t v)
{
    pthread_mutex_lock(&n->mu);
    *field += v;
    pthread_mutex_unlock(&n->mu);
}

/* One pass: delivers what is due. Returns how many messages it handled. */
static size_t
outbox_pass(struct notify *n, struct store *st)
{
    struct due_ctx d = {.n = 0};
    int64_t now = now_real();
    int rc = store_outbox_due(st, now, BN_ARRAY_SIZE(d.msgs), on_due, &d);
    stat_add(n, &n->stats.passes, 1);
    if (rc && d.n == 0) {
        BN_WARN("notify", "cannot read the outbox: %s", bn_strerror(rc));
        return 0;
    }
    struct store_scope all = {.all = 1};
    for (size_t i = 0; i < d.n; i++) {
        struct due_msg *m = &d.msgs[i];
        char err[256] = "";
        pthread_mutex_lock(&n->mu);
        bool stop = n->stop;
        pthread_mutex_unlock(&n->mu);
        if (stop)
            break; /* the rest stays pending for the next start */
        struct store_channel c;
        int drc = store_channel_get(st, &all, m->channel_id, &c);
        char *cfg = NULL;
        if (drc == 0) {
            cfg = bn_strdup(c.config_json ? c.config_json : "{}");
            c.config_json = cfg;
            if (!cfg)
                drc = BN_ENOMEM;
        }
        now = now_real();
        if (drc == BN_ENOTFOUND) {
            snprintf(err, sizeof(err), "channel %" PRId64 " was deleted", m->channel_id);
            store_outbox_failed(st, m->id, now, err, m->attempts + 1);
            stat_add(n, &n->stats.dead, 1);
            mgr_metric_add(n->o.metrics, MGR_M_NOTIFY_DEAD, 1);
        } else if (drc == 0 && !c.enabled) {
            /* a disabled channel keeps its messages until it is enabled again */
            snprintf(err, sizeof(err), "channel disabled");
            store_outbox_failed(st, m->id, now + n->o.backoff_max_ns, err, INT32_MAX);
        } else {
            if (drc == 0)
                drc = notify_deliver(&c, m->payload, now, err, sizeof(err));
            else
                snprintf(err, sizeof(err), "cannot read the channel: %s", bn_strerror(drc));
            if (drc == 0) {
                rc = store_outbox_sent(st, m->id, now_real());
                if (rc)
                    BN_WARN("notify", "message %" PRId64 " delivered but not marked sent: %s",
                            m->id, bn_strerror(rc));
                stat_add(n, &n->stats.sent, 1);
                mgr_metric_add(n->o.metrics, MGR_M_NOTIFY_SENT, 1);
            } else {
                int attempts = m->attempts + 1;
                int64_t delay = notify_backoff_ns(attempts, n->o.backoff_base_ns,
                                                  n->o.backoff_max_ns);
                uint64_t jitter = 0;
                if (getrandom(&jitter, sizeof(jitter), GRND_NONBLOCK) == sizeof(jitter))
                    delay += (int64_t)(jitter % (uint64_t)(delay / 4 + 1));
                store_outbox_failed(st, m->id, now + delay, err, n->o.max_attempts);
                bool dead = attempts >= n->o.max_attempts;
                stat_add(n, dead ? &n->stats.dead : &n->stats.failed, 1);
                mgr_metric_add(n->o.metrics, dead ? MGR_M_NOTIFY_DEAD : MGR_M_NOTIFY_FAILED, 1);
                BN_INFO("notify", "message %" PRId64 " attempt %d failed: %s", m->id, attempts,
                        err);
            }
        }
        bn_free(cfg);
    }
    for (size_t i = 0; i < d.n; i++)
        bn_free(d.msgs[i].payload);
    return d.n;
}

static void *
worker(void *arg)
{
    struct notify *n = arg;
    struct store *st = NULL;
    struct store_err se;
    for (;;) {
        pthread_mutex_lock(&n->mu);
        bool stop = n->stop;
        pthread_mutex_unlock(&n->mu);
        if (stop)
            break;
        if (!st && store_open(&st, n->dir, &se) != 0) {
            BN_WARN("notify", "cannot open the store in '%s': %s", n->dir, se.msg);
            st = NULL;
        }
        size_t handled = st ? outbox_pass(n, st) : 0;
        if (handled == 32)
            continue; /* more may be due */
        pthread_mutex_lock(&n->mu);
        if (!n->stop && !n->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = ts.tv_nsec + n->o.poll_ns;
            ts.tv_sec += ns / NS_PER_SEC;
            ts.tv_nsec = ns % NS_PER_SEC;
            pthread_cond_timedwait(&n->cv, &n->mu, &ts);
        }
        n->kicked = false;
        pthread_mutex_unlock(&n->mu);
    }
    store_close(st);
    return NULL;
}

int
notify_start(struct notify **out, const struct notify_opts *opts)
{
    *out = NULL;
    if (!opts || !opts->data_dir)
        return BN_EINVAL;
    notify_global_init();
    struct notify *n = bn_calloc(1, sizeof(*n));
    if (!n)
        return BN_ENOMEM;
    n->o = *opts;
    if (n->o.poll_ns <= 0)
        n->o.poll_ns = NS_PER_SEC;
    if (n->o.backoff_base_ns <= 0)
        n->o.backoff_base_ns = 5 * NS_PER_SEC;
    if (n->o.backoff_max_ns <= 0)
        n->o.backoff_max_ns = 900 * NS_PER_SEC;
    if (n->o.max_attempts <= 0)
        n->o.max_attempts = 200;
    n->dir = bn_strdup(opts->data_dir);
    if (!n->dir) {
        bn_free(n);
        return BN_ENOMEM;
    }
    n->o.data_dir = n->dir;
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    int e = pthread_create(&n->thread, NULL, worker, n);
    if (e) {
        pthread_cond_destroy(&n->cv);
        pthread_mutex_destroy(&n->mu);
        bn_free(n->dir);
        bn_free(n);
        return -e;
    }
    *out = n;
    return 0;
}

void
notify_kick(struct notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->kicked = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

void
notify_stop(struct notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    bn_free(n->dir);
    bn_free(n);
}

void
notify_get_stats(struct notify *n, struct notify_stats *st)
{
    pthread_mutex_lock(&n->mu);
    *st = n->stats;
    pthread_mutex_unlock(&n->mu);
}
