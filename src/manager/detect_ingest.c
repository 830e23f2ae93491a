/*
 * detect_ingest.c - the manager's detection pipeline behind the ingest hooks (see detect.h):
 * stored batch -> detect_batch() -> triage_alert() in the batch's transaction; agent health
 * findings -> "health" alerts; per-tenant IOC sets and rule states loaded from the store; and
 * the IOC import the API calls.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/ioc.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "manager/detect.h"
#include "manager/ingest.h"
#include "manager/ingest_net.h"
#include "manager/metrics.h"
#include "manager/notify.h"
#include "manager/triage.h"

#define NS_PER_SEC ((int64_t)1000000000)
#define TENANT_SETS_MAX 4096

struct tenant_set {
    int64_t tenant_id;
    struct bn_ioc_set *set;
};

struct detect_ingest {
    struct detect_ingest_opts o;
    struct detect *det;
    struct triage *tri;
    struct ingest_net *net;      /* the network sensor's records, rendered for detection */
    struct tenant_set *sets;
    size_t nsets;
    atomic_int changed;
    int64_t last_tick_ns;
    int64_t now_ns;              /* of the batch being processed */
    uint64_t enqueued_since_kick;
    uint64_t alerts_written;     /* alert rows written or raised by triage (not suppressed) */
    uint64_t health_alerts;
    uint64_t ioc_reloads;
    uint64_t ioc_load_errors;
    /* rule reloads: compiled on a thread, switched to on the link thread */
    char *data_dir;
    char **paths;
    size_t npaths;
    atomic_int rules_changed;
    bool compiling;
    pthread_t compiler;
    struct detect_rules *_Atomic ready;  /* compiled, waiting for the switch */
    atomic_int compile_failed;
    struct detect_rules *owned;          /* a set this pipeline loaded (freed by it) */
    uint64_t rule_reloads;
    uint64_t rule_reload_errors;
    /* offload (detect_ingest_opts.offload): matching on a worker thread (see struct off) */
    struct off *off;
};

/*
 * Matching on a second thread. The link thread copies each stored chunk into a slot of a
 * ring and goes on decoding and inserting; the worker runs detect_batch() on the slots in
 * order (the struct detect, its correlator and di->net are the worker's while slots are
 * queued) and keeps every alert as an owned copy. Triage (it writes through the link's store
 * handle) stays on the link thread: before the group's COMMIT (ingest hook before_commit),
 * the link waits for the ring to empty and triages the copies in the order they were raised,
 * so a batch's alerts commit with it and before its ack, as without the worker. Everything
 * else that touches the struct detect (tick, reloads, IOC sets, rule switch, health alerts)
 * first waits for the ring to empty (drain).
 */
#define OFF_SLOTS 16
#define TAG_NONE UINT32_MAX

struct off_job {
    int64_t tenant_id;
    int64_t now_ns;
    uint32_t tag;
    size_t n;
    struct store_event *ev;
    size_t ev_cap;
    char *bytes;
    size_t bytes_cap;
};

struct pend_alert {
    struct triage_alert_in a;    /* strings and fields point into the same block */
    int64_t now_ns;
    uint32_t tag;
};

struct off {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    bool stop;
    size_t head, count;          /* ring: slots head-count .. head-1 queued */
    bool busy;                   /* the oldest slot is being matched (by either thread) */
    struct off_job ring[OFF_SLOTS];
    uint32_t cur_tag;            /* worker: tag of the slot being matched */
    int64_t cur_now;
    /* alerts raised, not yet triaged: appended by whoever owns the detect (worker while
     * slots are queued, the link after a drain) */
    struct pend_alert **pend;
    size_t npend, pend_cap;
    uint64_t pend_dropped;       /* copies that could not be allocated (counted) */
    uint32_t *alerted;           /* tags triaged with an alert, reported at before_commit */
    size_t nalerted, alerted_cap;
    uint64_t jobs, waits;        /* slots matched; times the link waited for a full ring */
    uint64_t helped;             /* slots the link matched itself instead of waiting */
};

static int64_t
clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static size_t
slen(const char *p)
{
    return p ? strlen(p) + 1 : 0;
}

static char *
put_str(char **w, const char *p, size_t len)
{
    if (!p)
        return NULL;
    char *r = *w;
    memcpy(r, p, len);
    r[len] = '\0';
    *w += len + 1;
    return r;
}

/* A NUL-terminated copy of p (NULL stays NULL) at *w, which it advances. */
static char *
put_cstr(char **w, const char *p)
{
    return p ? put_str(w, p, strlen(p)) : NULL;
}

/* An owned copy of a borrowed alert (one block). */
static struct pend_alert *
alert_copy(const struct triage_alert_in *a)
{
    size_t n = sizeof(struct pend_alert) + a->nfields * sizeof(struct triage_field);
    const char *str[] = {a->rule_id, a->rule_title, a->tags, a->host, a->user,
                         a->key, a->process_guid, a->parent_guid, a->source, a->json};
    for (size_t i = 0; i < BN_ARRAY_SIZE(str); i++)
        n += slen(str[i]);
    for (size_t i = 0; i < a->nfields; i++)
        n += a->fields[i].name_len + a->fields[i].value_len + 2;
    struct pend_alert *p = bn_malloc(n);
    if (!p)
        return NULL;
    p->a = *a;
    struct triage_field *f = (struct triage_field *)(p + 1);
    char *w = (char *)(f + a->nfields);
    p->a.rule_id = put_cstr(&w, a->rule_id);
    p->a.rule_title = put_cstr(&w, a->rule_title);
    p->a.tags = put_cstr(&w, a->tags);
    p->a.host = put_cstr(&w, a->host);
    p->a.user = put_cstr(&w, a->user);
    p->a.key = put_cstr(&w, a->key);
    p->a.process_guid = put_cstr(&w, a->process_guid);
    p->a.parent_guid = put_cstr(&w, a->parent_guid);
    p->a.source = put_cstr(&w, a->source);
    p->a.json = put_cstr(&w, a->json);
    for (size_t i = 0; i < a->nfields; i++) {
        f[i] = a->fields[i];
        f[i].name = put_str(&w, a->fields[i].name ? a->fields[i].name : "", f[i].name_len);
        f[i].value = put_str(&w, a->fields[i].value ? a->fields[i].value : "", f[i].value_len);
    }
    p->a.fields = a->nfields ? f : NULL;
    return p;
}

static int
triage_one(struct detect_ingest *di, const struct triage_alert_in *a, bool *alerted)
{
    struct triage_result r;
    *alerted = false;
    /* a store failure is counted by triage; detection goes on with the next alert */
    if (triage_alert(di->tri, a, di->now_ns, &r) == 0) {
        if (r.enqueued)
            di->enqueued_since_kick += (uint64_t)r.enqueued;
        if (!r.suppressed) {
            di->alerts_written++;
            *alerted = true;
        }
    }
    return 0;
}

static int
on_alert(void *ctx, const struct triage_alert_in *a)
{
    struct detect_ingest *di = ctx;
    if (di->off) {
        struct off *o = di->off;
        struct pend_alert *p = NULL;
        if (o->npend == o->pend_cap) {
            size_t cap = o->pend_cap ? o->pend_cap * 2 : 64;
            struct pend_alert **np = bn_reallocarray(o->pend, cap, sizeof(*np));
            if (np) {
                o->pend = np;
                o->pend_cap = cap;
            }
        }
        if (o->npend < o->pend_cap && (p = alert_copy(a)) != NULL) {
            p->tag = o->cur_tag;
            p->now_ns = o->cur_now;
            o->pend[o->npend++] = p;
        } else {
            o->pend_dropped++;
            BN_WARN("detect", "alert %s not kept: out of memory", a->rule_id);
        }
        return 0;
    }
    bool alerted;
    return triage_one(di, a, &alerted);
}

/* Matches the oldest slot; the caller set busy (it owns the detect until it clears it). */
static void
off_match_oldest(struct detect_ingest *di)
{
    struct off *o = di->off;
    struct off_job *j = &o->ring[(o->head + OFF_SLOTS - o->count) % OFF_SLOTS];
    pthread_mutex_unlock(&o->mu);
    o->cur_tag = j->tag;
    o->cur_now = j->now_ns;
    const struct store_event *ev = ingest_net_for_detect(di->net, j->ev, j->n);
    int rc = detect_batch(di->det, j->tenant_id, ev, j->n, j->now_ns);
    if (rc)
        BN_WARN("detect", "batch of agent %" PRId64 " not fully matched: %s",
                j->n ? j->ev[0].agent_id : 0, bn_strerror(rc));
    o->cur_tag = TAG_NONE;
    pthread_mutex_lock(&o->mu);
    o->count--;
    o->jobs++;
    o->busy = false;
    pthread_cond_broadcast(&o->done);
}

static void *
off_main(void *arg)
{
    struct detect_ingest *di = arg;
    struct off *o = di->off;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while ((!o->count || o->busy) && !o->stop)
            pthread_cond_wait(&o->work, &o->mu);
        if (o->stop && (!o->count || o->busy))
            break;
        o->busy = true;
        off_match_oldest(di);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

/*
 * The link thread: until at most `keep` slots are queued, matches the oldest slot itself when
 * nobody is matching it (the worker may be off the CPU on a busy machine: the link does not
 * wait for it to be scheduled), else waits for the one in progress. Called with mu held.
 */
static void
off_help(struct detect_ingest *di, size_t keep)
{
    struct off *o = di->off;
    while (o->count > keep) {
        if (o->busy) {
            pthread_cond_wait(&o->done, &o->mu);
            continue;
        }
        o->busy = true;
        o->helped++;
        off_match_oldest(di);
    }
}

/* Every queued slot matched: the detect is the caller's (the link thread's) after it. */
static void
off_drain(struct detect_ingest *di)
{
    struct off *o = di->off;
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    off_help(di, 0);
    pthread_mutex_unlock(&o->mu);
}

/* Triages the alerts raised so far, in order (the link thread, after a drain). */
static void
off_triage(struct detect_ingest *di)
{
    struct off *o = di->off;
    for (size_t i = 0; i < o->npend; i++) {
        struct pend_alert *p = o->pend[i];
        bool alerted = false;
        di->now_ns = p->now_ns;
        triage_one(di, &p->a, &alerted);
        if (alerted && p->tag != TAG_NONE) {
            if (o->nalerted == o->alerted_cap) {
                size_t cap = o->alerted_cap ? o->alerted_cap * 2 : 64;
                uint32_t *na = bn_reallocarray(o->alerted, cap, sizeof(*na));
                if (na) {
                    o->alerted = na;
                    o->alerted_cap = cap;
                }
            }
            if (o->nalerted < o->alerted_cap)
                o->alerted[o->nalerted++] = p->tag;
        }
        bn_free(p);
    }
    o->npend = 0;
}

static void
off_free(struct off *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    pthread_cond_signal(&o->work);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL);
    for (size_t i = 0; i < OFF_SLOTS; i++) {
        bn_free(o->ring[i].ev);
        bn_free(o->ring[i].bytes);
    }
    for (size_t i = 0; i < o->npend; i++)
        bn_free(o->pend[i]);
    bn_free(o->pend);
    bn_free(o->alerted);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->work);
    pthread_cond_destroy(&o->done);
    bn_free(o);
}

static int
off_start(struct detect_ingest *di)
{
    struct off *o = bn_calloc(1, sizeof(*o));
    if (!o)
        return BN_ENOMEM;
    o->cur_tag = TAG_NONE;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->work, NULL);
    pthread_cond_init(&o->done, NULL);
    di->off = o;
    if (pthread_create(&o->thread, NULL, off_main, di) != 0) {
        pthread_mutex_destroy(&o->mu);
        pthread_cond_destroy(&o->work);
        pthread_cond_destroy(&o->done);
        bn_free(o);
        di->off = NULL;
        return BN_ENOMEM;
    }
    return 0;
}

static void
drop_sets(struct detect_ingest *di)
{
    off_drain(di);
    for (size_t i = 0; i < di->nsets; i++) {
        detect_set_iocs(di->det, di->sets[i].tenant_id, NULL);
        bn_ioc_set_free(di->sets[i].set);
    }
    di->nsets = 0;
}

struct rs_ctx {
    struct detect *det;
};

static int
on_rule_state(void *ctx, const struct store_rule_state *r)
{
    struct rs_ctx *c = ctx;
    detect_set_rule_enabled(c->det, r->tenant_id, r->rule_id, r->enabled != 0);
    return 0;
}

static void
reload(struct detect_ingest *di)
{
    drop_sets(di);
    struct store_scope all = {.all = 1};
    struct rs_ctx c = {di->det};
    int rc = store_rule_states(di->o.st, &all, on_rule_state, &c);
    if (rc)
        BN_WARN("detect", "cannot read rule states: %s", bn_strerror(rc));
}

struct load_ctx {
    struct bn_ioc_set *set;
    uint64_t bad;
};

static int
on_ioc(void *ctx, const struct store_ioc *e)
{
    struct load_ctx *c = ctx;
    int type = bn_ioc_type_parse(e->type ? e->type : "", e->type ? strlen(e->type) : 0);
    int rc = type == -1 ? BN_EINVAL
                        : bn_ioc_add(c->set, type, e->value ? e->value : "",
                                     e->value ? strlen(e->value) : 0, e->source, NULL, NULL);
    if (rc == BN_ENOMEM || (rc == BN_ETOOBIG && bn_ioc_count(c->set, BN_IOC_TYPES) > 0 &&
                            bn_ioc_count(c->set, BN_IOC_TYPES) >= BN_IOC_ENTRIES_MAX))
        return rc;
    if (rc && rc != BN_EEXIST)
        c->bad++;
    return 0;
}

/* The IOC set of a tenant (its lists and the global ones), loaded on first use. */
static void
ensure_set(struct detect_ingest *di, int64_t tenant)
{
    for (size_t i = 0; i < di->nsets; i++)
        if (di->sets[i].tenant_id == tenant)
            return;
    off_drain(di); /* detect_set_iocs below: the worker must not be matching */
    if (di->nsets >= TENANT_SETS_MAX)
        drop_sets(di);
    struct tenant_set *n = bn_reallocarray(di->sets, di->nsets + 1, sizeof(*n));
    if (!n)
        return;
    di->sets = n;
    struct load_ctx c = {bn_ioc_set_new(), 0};
    if (!c.set)
        return;
    int rc = store_ioc_each(di->o.st, tenant, on_ioc, &c);
    di->ioc_reloads++;
    if (rc || c.bad) {
        di->ioc_load_errors += c.bad + (rc ? 1 : 0);
        BN_WARN("detect", "tenant %" PRId64 " IOC lists: %s, %" PRIu64 " entries not loadable",
                tenant, rc ? bn_strerror(rc) : "loaded", c.bad);
    }
    di->sets[di->nsets++] = (struct tenant_set){tenant, c.set};
    /* an empty set costs nothing to match: keep it so the store is not asked again */
    detect_set_iocs(di->det, tenant, bn_ioc_count(c.set, BN_IOC_TYPES) ? c.set : NULL);
}

static void *
compile_main(void *arg)
{
    struct detect_ingest *di = arg;
    struct store *st = NULL;
    struct store_err se;
    struct detect_rules *r = NULL;
    struct detect_load_stats ls;
    int rc = store_open(&st, di->data_dir, &se);
    if (rc)
        BN_WARN("detect", "rule reload: cannot open the store: %s", se.msg);
    else if ((rc = detect_rules_load_store(&r, (const char *const *)di->paths, di->npaths, st,
                                           &ls)) != 0)
        BN_WARN("detect", "rule reload failed: %s:%lu: %s", ls.first.file, ls.first.line,
                ls.first.msg);
    store_close(st);
    if (rc) {
        atomic_store(&di->compile_failed, 1);
        return NULL;
    }
    if (ls.failed)
        BN_WARN("detect", "rule reload: %zu rules skipped (first: %s:%lu: %s)", ls.failed,
                ls.first.file, ls.first.line, ls.first.msg);
    atomic_store(&di->ready, r);
    return NULL;
}

static void
rules_housekeeping(struct detect_ingest *di)
{
    if (di->compiling) {
        struct detect_rules *r = atomic_exchange(&di->ready, NULL);
        bool failed = atomic_exchange(&di->compile_failed, 0);
        if (!r && !failed)
            return; /* still compiling */
        pthread_join(di->compiler, NULL);
        di->compiling = false;
        if (r && detect_ingest_set_rules(di, r) == 0) {
            detect_rules_free(di->owned);
            di->owned = r;
            di->rule_reloads++;
            BN_INFO("detect", "switched to %zu rules", detect_rules_count(r));
        } else {
            detect_rules_free(r);
            di->rule_reload_errors++;
        }
    }
    if (!di->compiling && di->data_dir && atomic_exchange(&di->rules_changed, 0)) {
        if (pthread_create(&di->compiler, NULL, compile_main, di) == 0)
            di->compiling = true;
        else
            di->rule_reload_errors++;
    }
}

void
detect_ingest_rules_changed(struct detect_ingest *di)
{
    if (di)
        atomic_store(&di->rules_changed, 1);
}

void
detect_ingest_tick(struct detect_ingest *di, int64_t now_ns)
{
    di->last_tick_ns = now_ns;
    if (di->off) {
        off_drain(di);
        off_triage(di); /* joins the open group transaction, if any */
    }
    rules_housekeeping(di);
    detect_tick(di->det, now_ns);
    if (atomic_exchange(&di->changed, 0))
        reload(di);
    if (di->off)
        off_triage(di); /* correlation windows closed by detect_tick */
    if (di->enqueued_since_kick && di->o.notify) {
        notify_kick(di->o.notify);
        di->enqueued_since_kick = 0;
    }
}

static void
on_batch_stored(void *ctx, const struct ingest_agent *agent, const struct store_event *ev,
                size_t n)
{
    struct detect_ingest *di = ctx;
    int64_t now = clock_ns();
    if (now - di->last_tick_ns >= NS_PER_SEC || atomic_load(&di->changed) ||
        atomic_load(&di->ready))
        detect_ingest_tick(di, now);
    di->now_ns = now;
    ensure_set(di, agent->tenant_id);
    ev = ingest_net_for_detect(di->net, ev, n); /* sensor records: their Zeek rendering */
    int rc = detect_batch(di->det, agent->tenant_id, ev, n, now);
    if (rc)
        BN_WARN("detect", "batch of agent %" PRId64 " not fully matched: %s", agent->id,
                bn_strerror(rc));
}

static size_t
ev_bytes(const struct store_event *e)
{
    return e->json_len + 1 + slen(e->host) + slen(e->image) + slen(e->user);
}

/* Offload: copies the chunk into a free slot of the ring for the worker. */
static void
on_batch_queued(void *ctx, const struct ingest_agent *agent, const struct store_event *ev,
                size_t n, uint32_t tag)
{
    struct detect_ingest *di = ctx;
    struct off *o = di->off;
    int64_t now = clock_ns();
    if (now - di->last_tick_ns >= NS_PER_SEC || atomic_load(&di->changed) ||
        atomic_load(&di->ready))
        detect_ingest_tick(di, now);
    ensure_set(di, agent->tenant_id);
    pthread_mutex_lock(&o->mu);
    if (o->count == OFF_SLOTS) {
        o->waits++;
        off_help(di, OFF_SLOTS - 1);
    }
    struct off_job *j = &o->ring[o->head]; /* not queued: the worker does not touch it */
    pthread_mutex_unlock(&o->mu);
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += ev_bytes(&ev[i]);
    if (j->ev_cap < n) {
        struct store_event *ne = bn_reallocarray(j->ev, n, sizeof(*ne));
        if (ne) {
            j->ev = ne;
            j->ev_cap = n;
        }
    }
    if (j->bytes_cap < need) {
        char *nb = bn_realloc(j->bytes, need);
        if (nb) {
            j->bytes = nb;
            j->bytes_cap = need;
        }
    }
    if (j->ev_cap < n || j->bytes_cap < need) {
        /* no memory for the copy: match it here, after the worker (same order) */
        off_drain(di);
        o->cur_tag = tag;
        o->cur_now = now;
        on_batch_stored(di, agent, ev, n);
        o->cur_tag = TAG_NONE;
        return;
    }
    char *w = j->bytes;
    for (size_t i = 0; i < n; i++) {
        struct store_event *e = &j->ev[i];
        *e = ev[i];
        e->json = put_str(&w, ev[i].json ? ev[i].json : "", ev[i].json_len);
        e->host = put_cstr(&w, ev[i].host);
        e->image = put_cstr(&w, ev[i].image);
        e->user = put_cstr(&w, ev[i].user);
    }
    j->tenant_id = agent->tenant_id;
    j->now_ns = now;
    j->tag = tag;
    j->n = n;
    pthread_mutex_lock(&o->mu);
    o->head = (o->head + 1) % OFF_SLOTS;
    o->count++;
    pthread_cond_signal(&o->work);
    pthread_mutex_unlock(&o->mu);
}

/* Offload: before the group's COMMIT, its alerts into its transaction. */
static void
before_commit(void *ctx, void (*alerted)(void *arg, uint32_t tag), void *arg)
{
    struct detect_ingest *di = ctx;
    off_drain(di);
    off_triage(di);
    for (size_t i = 0; i < di->off->nalerted; i++)
        alerted(arg, di->off->alerted[i]);
    di->off->nalerted = 0;
}

/* Offload: the group is rolled back; what its batches raised goes with it. */
static void
on_rollback(void *ctx)
{
    struct detect_ingest *di = ctx;
    struct off *o = di->off;
    off_drain(di);
    for (size_t i = 0; i < o->npend; i++)
        bn_free(o->pend[i]);
    o->npend = 0;
    o->nalerted = 0;
}

static void
on_health(void *ctx, const struct ingest_agent *agent, enum ingest_health kind,
          const char *detail)
{
    static const struct {
        const char *title;
        int level;
        const char *tags;
    } h[] = {
        [INGEST_HEALTH_GAP] = {"Agent events missing (sequence gap)", 2,
                               "attack.defense_evasion,attack.t1562.001"},
        [INGEST_HEALTH_REPLAY] = {"Agent batch replayed", 3, "attack.defense_evasion"},
        [INGEST_HEALTH_BAD_SIGNATURE] = {"Agent batch with a bad signature", 3,
                                         "attack.defense_evasion,attack.t1562.001"},
        [INGEST_HEALTH_MALFORMED] = {"Agent sent malformed data", 1, ""},
        [INGEST_HEALTH_SILENT] = {"Agent silent (outage or tampering)", 3,
                                  "attack.defense_evasion,attack.t1562.001"},
        [INGEST_HEALTH_REVOKED] = {"Revoked agent tried to connect", 2, ""},
        [INGEST_HEALTH_BACK] = {"Agent heard from again", 0, ""},
    };
    struct detect_ingest *di = ctx;
    if ((unsigned)kind >= BN_ARRAY_SIZE(h) || !h[kind].title)
        return;
    char rid[64], json[1024];
    snprintf(rid, sizeof(rid), "agent.health.%s", ingest_health_name(kind));
    struct bn_buf b;
    bn_buf_init(&b, sizeof(json));
    bn_buf_printf(&b, "{\"source\":\"health\",\"health\":{\"kind\":\"%s\",\"agent_uid\":\"",
                  ingest_health_name(kind));
    bn_buf_json_escape(&b, agent->uid ? agent->uid : "", agent->uid ? strlen(agent->uid) : 0);
    bn_buf_puts(&b, "\",\"detail\":\"");
    bn_buf_json_escape(&b, detail ? detail : "", detail ? strnlen(detail, 600) : 0);
    if (bn_buf_puts(&b, "\"}}") != 0) {
        bn_buf_reset(&b);
        bn_buf_puts(&b, "{\"source\":\"health\"}");
    }
    snprintf(json, sizeof(json), "%s", b.p ? b.p : "{}");
    bn_buf_release(&b);
    struct triage_alert_in a = {
        .tenant_id = agent->tenant_id,
        .agent_id = agent->id,
        .seq = -1,
        .rule_id = rid,
        .rule_title = h[kind].title,
        .level = h[kind].level,
        .confidence = 80,
        .tags = h[kind].tags,
        .host = agent->hostname,
        .key = ingest_health_name(kind),
        .source = "health",
        .json = json,
    };
    di->health_alerts++;
    if (di->off) { /* after the alerts raised before it, as without the worker */
        off_drain(di);
        off_triage(di);
    }
    di->now_ns = clock_ns();
    bool alerted;
    triage_one(di, &a, &alerted);
}

int
detect_ingest_new(struct detect_ingest **out, const struct detect_ingest_opts *o)
{
    *out = NULL;
    if (!o || !o->rules || !o->st)
        return BN_EINVAL;
    struct detect_ingest *di = bn_calloc(1, sizeof(*di));
    if (!di)
        return BN_ENOMEM;
    di->o = *o;
    di->o.rule_paths = NULL;
    di->o.data_dir = NULL;
    if (o->data_dir && !(di->data_dir = bn_strdup(o->data_dir))) {
        bn_free(di);
        return BN_ENOMEM;
    }
    if (o->nrule_paths) {
        di->paths = bn_calloc(o->nrule_paths, sizeof(*di->paths));
        for (size_t i = 0; di->paths && i < o->nrule_paths; i++)
            if ((di->paths[i] = bn_strdup(o->rule_paths[i])))
                di->npaths++;
        if (di->npaths != o->nrule_paths) {
            detect_ingest_free(di);
            return BN_ENOMEM;
        }
    }
    struct triage_opts to = {
        .dedupe_window_ns = o->dedupe_window_ns,
        .incident_window_ns = o->incident_window_ns,
        .own_transactions = 0, /* the batch's transaction */
        .metrics = o->metrics,
    };
    di->tri = triage_new(o->st, &to);
    int rc = di->tri ? detect_new(&di->det, o->rules, on_alert, di, o->metrics) : BN_ENOMEM;
    rc = rc ? rc : ingest_net_new(&di->net);
    if (rc) {
        detect_ingest_free(di);
        return rc;
    }
    if (o->offload && (rc = off_start(di)) != 0) {
        detect_ingest_free(di);
        return rc;
    }
    reload(di);
    *out = di;
    return 0;
}

void
detect_ingest_free(struct detect_ingest *di)
{
    if (!di)
        return;
    if (di->compiling)
        pthread_join(di->compiler, NULL);
    off_free(di->off); /* matches what is queued; its alerts are dropped (no transaction) */
    di->off = NULL;
    detect_rules_free(atomic_exchange(&di->ready, NULL));
    if (di->det)
        drop_sets(di);
    bn_free(di->sets);
    detect_free(di->det);
    ingest_net_free(di->net);
    triage_free(di->tri);
    detect_rules_free(di->owned);
    for (size_t i = 0; i < di->npaths; i++)
        bn_free(di->paths[i]);
    bn_free(di->paths);
    bn_free(di->data_dir);
    bn_free(di);
}

struct up_ctx {
    struct detect_upload *up;
    char **copies;
    size_t n, cap;
    int rc;
};

static int
on_upload(void *ctx, const struct store_rule_upload *r)
{
    struct up_ctx *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct detect_upload *u = bn_reallocarray(c->up, cap, sizeof(*u));
        if (u)
            c->up = u;
        char **cp = bn_reallocarray(c->copies, cap, sizeof(*cp));
        if (cp)
            c->copies = cp;
        if (!u || !cp)
            return c->rc = BN_ENOMEM;
        c->cap = cap;
    }
    /* the row's strings are borrowed for the call */
    size_t yl = r->yaml ? strlen(r->yaml) : 0, il = strlen(r->rule_id);
    char *copy = bn_malloc(yl + il + 2);
    if (!copy)
        return c->rc = BN_ENOMEM;
    memcpy(copy, r->yaml ? r->yaml : "", yl);
    copy[yl] = '\0';
    memcpy(copy + yl + 1, r->rule_id, il + 1);
    c->copies[c->n] = copy;
    c->up[c->n] = (struct detect_upload){r->tenant_id, copy + yl + 1, copy, yl};
    c->n++;
    return 0;
}

int
detect_rules_load_store(struct detect_rules **out, const char *const *paths, size_t npaths,
                        struct store *st, struct detect_load_stats *stats)
{
    struct detect_load_stats dummy;
    if (!stats)
        stats = &dummy;
    struct up_ctx c = {0};
    struct store_scope all = {.all = 1};
    int rc = store_rule_uploads(st, &all, on_upload, &c);
    if (rc == 0 && c.rc)
        rc = c.rc;
    if (rc == 0)
        rc = detect_rules_load_ex(out, paths, npaths, c.up, c.n, stats);
    else
        bn_diag_set(&stats->first, rc, "<store>", 0, 0, "cannot read uploaded rules: %s",
                    bn_strerror(rc));
    for (size_t i = 0; i < c.n; i++)
        bn_free(c.copies[i]);
    bn_free(c.copies);
    bn_free(c.up);
    return rc;
}

int
detect_ingest_set_rules(struct detect_ingest *di, const struct detect_rules *rules)
{
    struct detect *d;
    int rc = detect_new(&d, rules, on_alert, di, di->o.metrics);
    if (rc)
        return rc;
    drop_sets(di);
    detect_free(di->det);
    di->det = d;
    di->o.rules = rules;
    reload(di); /* rule states and IOC sets onto the new worker */
    return 0;
}

static void
on_tick(void *ctx, int64_t now_ns)
{
    detect_ingest_tick(ctx, now_ns);
}

static uint64_t
alerts_raised(void *ctx)
{
    return ((struct detect_ingest *)ctx)->alerts_written;
}

void
detect_ingest_hooks(struct detect_ingest *di, struct ingest_hooks *hooks)
{
    hooks->ctx = di;
    hooks->on_batch_stored = on_batch_stored;
    hooks->on_health = on_health;
    hooks->on_tick = on_tick;
    hooks->alerts_raised = alerts_raised;
    if (di->off) {
        hooks->on_batch_stored = NULL;
        hooks->alerts_raised = NULL; /* before_commit tells which batches alerted */
        hooks->on_batch_queued = on_batch_queued;
        hooks->before_commit = before_commit;
        hooks->on_rollback = on_rollback;
    }
}

void
detect_ingest_changed(struct detect_ingest *di)
{
    if (di)
        atomic_store(&di->changed, 1);
}

void
detect_ingest_get_stats(const struct detect_ingest *di, struct detect_ingest_stats *st)
{
    memset(st, 0, sizeof(*st));
    detect_get_stats(di->det, &st->detect);
    triage_get_stats(di->tri, &st->triage);
    st->health_alerts = di->health_alerts;
    st->ioc_reloads = di->ioc_reloads;
    st->ioc_load_errors = di->ioc_load_errors;
    st->rule_reloads = di->rule_reloads;
    st->rule_reload_errors = di->rule_reload_errors;
    if (di->off) {
        pthread_mutex_lock(&di->off->mu);
        st->offload_jobs = di->off->jobs;
        st->offload_waits = di->off->waits;
        st->offload_helped = di->off->helped;
        pthread_mutex_unlock(&di->off->mu);
        st->offload_dropped = di->off->pend_dropped;
    }
}

/* ---- IOC import -------------------------------------------------------------------------- */

#define IMPORT_CHUNK 4096

struct import_ctx {
    struct store *st;
    const struct store_scope *sc;
    int64_t list_id;
    struct store_ioc e[IMPORT_CHUNK];
    size_t n;
    size_t added;
};

static int
import_flush(struct import_ctx *c)
{
    if (c->n == 0)
        return 0;
    size_t added = 0;
    int rc = store_ioc_add(c->st, c->sc, c->list_id, c->e, c->n, &added);
    c->added += added;
    c->n = 0;
    return rc;
}

static int
import_each(void *ctx, const struct bn_ioc_match *m)
{
    struct import_ctx *c = ctx;
    c->e[c->n++] = (struct store_ioc){
        .type = bn_ioc_type_name(m->type),
        .value = m->value,
        .source = m->source,
        .list_id = c->list_id,
    };
    return c->n == IMPORT_CHUNK ? import_flush(c) : 0;
}

int
detect_ioc_import(struct store *st, const struct store_scope *sc, int64_t list_id,
                  const char *buf, size_t len, const char *name, int64_t now_ns,
                  struct bn_ioc_load_stats *lst, size_t *added, struct bn_diag *d)
{
    struct bn_ioc_load_stats dummy;
    if (!lst)
        lst = &dummy;
    if (added)
        *added = 0;
    struct bn_ioc_set *set = bn_ioc_set_new();
    if (!set)
        return BN_ENOMEM;
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    int rc = (i < len && buf[i] == '{')
                 ? bn_ioc_load_stix(set, buf, len, name, name, now_ns, lst, d)
                 : bn_ioc_load_csv(set, buf, len, name, name, lst, d);
    struct import_ctx *c = NULL;
    if (rc == 0) {
        c = bn_calloc(1, sizeof(*c));
        if (!c)
            rc = BN_ENOMEM;
    }
    if (rc == 0) {
        c->st = st;
        c->sc = sc;
        c->list_id = list_id;
        rc = bn_ioc_foreach(set, import_each, c);
        if (rc == 0)
            rc = import_flush(c);
        if (added)
            *added = c->added;
        if (rc && d && !d->msg[0])
            bn_diag_set(d, rc, name ? name : "<import>", 0, 0, "cannot store the IOC list: %s",
                        bn_strerror(rc));
    }
    bn_free(c);
    bn_ioc_set_free(set);
    return rc;
}
