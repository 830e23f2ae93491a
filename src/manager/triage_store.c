/*
 * triage_store.c - the triage flow over the store (see triage.h). One triage object per
 * thread; the store does the durable work (alert upsert with a dedupe window, open-incident
 * lookup, outbox with collapse), this file decides. The process-tree index (process GUID ->
 * incident) is the only grouping state kept in memory; it is bounded and, when full, dropped
 * and counted (grouping then falls back to host and user, which the store answers).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "common/hash.h"
#include "manager/metrics.h"
#include "manager/notify.h"
#include "manager/playbook.h"
#include "manager/triage.h"

#define NS_PER_SEC ((int64_t)1000000000)

/* ---- the triage object ------------------------------------------------------------------- */

struct tree_slot {
    uint64_t h;                  /* hash of (tenant, guid); 0 = empty */
    int64_t incident_id;
    int64_t last_ns;
};

struct level_slot {
    int64_t incident_id;         /* 0 = empty */
    int max_level;
};

#define LEVEL_SLOTS 4096

struct triage {
    struct store *st;
    struct triage_opts o;
    struct tree_slot *tree;
    size_t ntree, captree;       /* captree: power of two, load <= 1/2 */
    uint64_t tree_resets;
    struct level_slot levels[LEVEL_SLOTS]; /* direct-mapped cache: incident -> max alert level */
    struct triage_stats stats;
    struct bn_buf payload;
};

struct triage *
triage_new(struct store *st, const struct triage_opts *opts)
{
    struct triage *t = bn_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->st = st;
    if (opts)
        t->o = *opts;
    if (t->o.dedupe_window_ns <= 0)
        t->o.dedupe_window_ns = 600 * NS_PER_SEC;
    if (t->o.incident_window_ns <= 0)
        t->o.incident_window_ns = 3600 * NS_PER_SEC;
    t->captree = 1024;
    t->tree = bn_calloc(t->captree, sizeof(*t->tree));
    if (!t->tree) {
        bn_free(t);
        return NULL;
    }
    bn_buf_init(&t->payload, BN_NOTIFY_BODY_MAX);
    return t;
}

void
triage_free(struct triage *t)
{
    if (!t)
        return;
    bn_free(t->tree);
    bn_buf_release(&t->payload);
    bn_free(t);
}

void
triage_get_stats(const struct triage *t, struct triage_stats *st)
{
    *st = t->stats;
    st->index_resets = t->tree_resets;
}

static uint64_t
tree_hash(int64_t tenant, const char *guid)
{
    uint64_t h = bn__hash(guid, strlen(guid), (uint64_t)tenant * 0x9e3779b97f4a7c15ull);
    return h ? h : 1;
}

static struct tree_slot *
tree_find(struct triage *t, uint64_t h)
{
    size_t mask = t->captree - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (t->tree[i].h == h)
            return &t->tree[i];
        if (t->tree[i].h == 0)
            return NULL;
    }
}

static void
tree_put(struct triage *t, int64_t tenant, const char *guid, int64_t incident, int64_t now_ns)
{
    if (!guid || !guid[0])
        return;
    uint64_t h = tree_hash(tenant, guid);
    struct tree_slot *s = tree_find(t, h);
    if (s) {
        s->incident_id = incident;
        s->last_ns = now_ns;
        return;
    }
    if ((t->ntree + 1) * 2 > t->captree) {
        if (t->captree * 2 > (size_t)BN_TRIAGE_OPEN_MAX * 2) {
            /* bounded: forget the process trees (grouping by host and user goes on) */
            memset(t->tree, 0, t->captree * sizeof(*t->tree));
            t->ntree = 0;
            t->tree_resets++;
            BN_WARN("triage", "process-tree index full (%zu entries): cleared", t->captree / 2);
        } else {
            size_t cap = t->captree * 2;
            struct tree_slot *n = bn_calloc(cap, sizeof(*n));
            if (!n)
                return;
            for (size_t i = 0; i < t->captree; i++) {
                if (!t->tree[i].h)
                    continue;
                size_t j = t->tree[i].h & (cap - 1);
                while (n[j].h)
                    j = (j + 1) & (cap - 1);
                n[j] = t->tree[i];
            }
            bn_free(t->tree);
            t->tree = n;
            t->captree = cap;
        }
    }
    size_t mask = t->captree - 1;
    size_t i = h & mask;
    while (t->tree[i].h)
        i = (i + 1) & mask;
    t->tree[i].h = h;
    t->tree[i].incident_id = incident;
    t->tree[i].last_ns = now_ns;
    t->ntree++;
}

static int64_t
tree_lookup(struct triage *t, int64_t tenant, const char *guid, int64_t since_ns)
{
    if (!guid || !guid[0])
        return 0;
    struct tree_slot *s = tree_find(t, tree_hash(tenant, guid));
    return (s && s->last_ns >= since_ns) ? s->incident_id : 0;
}

static int
level_get(struct triage *t, int64_t incident, int fallback)
{
    struct level_slot *s = &t->levels[(uint64_t)incident % LEVEL_SLOTS];
    return s->incident_id == incident ? s->max_level : fallback;
}

static void
level_set(struct triage *t, int64_t incident, int level)
{
    struct level_slot *s = &t->levels[(uint64_t)incident % LEVEL_SLOTS];
    s->incident_id = incident;
    s->max_level = level;
}

static void
copy_str(char *dst, size_t size, const char *src)
{
    if (!src)
        src = "";
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Accounts that say nothing about who acted: not a grouping key. */
static bool
generic_user(const char *u)
{
    static const char *const generic[] = {"root", "system", "nt authority\\system", "-",
                                          "unknown", "nobody", "0"};
    if (!u || !u[0])
        return true;
    for (size_t i = 0; i < BN_ARRAY_SIZE(generic); i++)
        if (strcasecmp(u, generic[i]) == 0)
            return true;
    return false;
}

struct supp_ctx {
    const struct triage_alert_in *a;
    int64_t now_ns;
    int64_t hit;
};

static int
on_suppression(void *ctx, const struct store_suppression *s)
{
    struct supp_ctx *c = ctx;
    if (triage_suppression_matches(s, c->a->tenant_id, c->a->host, c->a->rule_id, c->a->fields,
                                   c->a->nfields, c->now_ns)) {
        c->hit = s->id;
        return 1;
    }
    return 0;
}

struct chan_ctx {
    struct triage *t;
    const struct store_incident *inc;
    int64_t now_ns;
    int enqueued;
    int rc;
    const int64_t *only;         /* collapse pass: channels with a pending message */
    size_t nonly;
};

static int
on_channel(void *ctx, const struct store_channel *ch)
{
    struct chan_ctx *c = ctx;
    if (!ch->enabled)
        return 0;
    if (c->only) {
        bool pending = false;
        for (size_t i = 0; i < c->nonly; i++)
            pending |= c->only[i] == ch->id;
        if (!pending)
            return 0;
    }
    struct store_outbox o = {
        .tenant_id = c->inc->tenant_id,
        .channel_id = ch->id,
        .incident_id = c->inc->id,
        .payload = c->t->payload.p,
        .created_ns = c->now_ns,
        .next_attempt_ns = c->now_ns,
        .state = STORE_OUTBOX_PENDING,
    };
    int64_t id;
    int rc = store_outbox_enqueue(c->t->st, &o, 1, &id);
    if (rc) {
        c->rc = rc;
        return rc;
    }
    c->enqueued++;
    return 0;
}

struct pending_ctx {
    int64_t incident_id;
    int64_t chans[64];
    size_t n;
};

static int
on_pending(void *ctx, const struct store_outbox *o)
{
    struct pending_ctx *p = ctx;
    if (o->incident_id == p->incident_id && p->n < BN_ARRAY_SIZE(p->chans))
        p->chans[p->n++] = o->channel_id;
    return 0;
}

struct hosts_ctx {
    char names[16][256];
    const char *ptr[16];
    size_t n;
};

static int
on_host(void *ctx, const char *host, int64_t alerts, int64_t first_ns, int64_t last_ns)
{
    (void)alerts;
    (void)first_ns;
    (void)last_ns;
    struct hosts_ctx *h = ctx;
    if (h->n >= BN_ARRAY_SIZE(h->names))
        return 1;
    copy_str(h->names[h->n], sizeof(h->names[0]), host);
    h->ptr[h->n] = h->names[h->n];
    h->n++;
    return 0;
}

/* Enqueues (or collapses into the pending message) the notification of an incident. */
static int
notify_incident(struct triage *t, struct store_incident *inc, const char *host, int64_t now_ns,
                int *enqueued)
{
    struct store_tenant ten;
    int rc = store_tenant_get(t->st, inc->tenant_id, &ten);
    if (rc)
        return rc;
    if (inc->severity < ten.notify_min_severity)
        return 0;
    /* the incident's hosts (first 16), this alert's when the store has none yet */
    struct hosts_ctx *hc = bn_calloc(1, sizeof(*hc));
    if (!hc)
        return BN_ENOMEM;
    struct store_scope all = {.all = 1};
    rc = store_incident_hosts(t->st, &all, inc->id, on_host, hc);
    if (rc == 0 && hc->n == 0 && host && host[0]) {
        copy_str(hc->names[0], sizeof(hc->names[0]), host);
        hc->ptr[0] = hc->names[0];
        hc->n = 1;
    }
    if (rc == 0)
        rc = notify_payload(inc, ten.name, hc->ptr, hc->n, NULL, 0, &t->payload);
    bn_free(hc);
    if (rc)
        return rc;
    struct store_scope sc = {.all = 0, .ids = &inc->tenant_id, .n = 1};
    struct chan_ctx c = {.t = t, .inc = inc, .now_ns = now_ns};
    struct pending_ctx p = {.incident_id = inc->id};
    if (inc->notified_severity >= 0) {
        /* notified once already: only a message still waiting in the outbox takes the update */
        rc = store_outbox_list(t->st, &sc, STORE_OUTBOX_PENDING, 1000, on_pending, &p);
        if (rc)
            return rc;
        if (p.n == 0)
            return 0;
        c.only = p.chans;
        c.nonly = p.n;
    }
    rc = store_channel_list(t->st, &sc, on_channel, &c);
    if (rc == 0 && c.rc)
        rc = c.rc;
    if (rc)
        return rc;
    if (inc->notified_severity < 0) {
        rc = store_incident_set_notified(t->st, inc->id, inc->severity);
        if (rc)
            return rc;
        inc->notified_severity = inc->severity;
    }
    *enqueued = c.enqueued;
    return 0;
}

/* dedupe key: rule|host|key, hashed when it would not fit */
static void
dedupe_key(const struct triage_alert_in *a, char *out, size_t size)
{
    int n = snprintf(out, size, "%s|%s|%s", a->rule_id, a->host ? a->host : "",
                     a->key ? a->key : "");
    if (n < 0 || (size_t)n < size)
        return;
    uint64_t h = bn__hash(a->key ? a->key : "", a->key ? strlen(a->key) : 0, 0x5eed);
    snprintf(out, size, "%.60s|%.120s|#%016" PRIx64, a->rule_id, a->host ? a->host : "", h);
}

static json_t *ctx_field(json_t *root, const char *name);

/* Response playbook (playbook.c): containment proposed (semi-managed) or queued
 * (fully-managed) for an incident on an agent's host at the tenant's threshold. */
static int
run_playbook(struct triage *t, const struct triage_alert_in *a, const struct store_incident *inc)
{
    if (a->agent_id <= 0 || inc->severity < 3)
        return 0;
    int64_t pid = 0;
    json_t *root = a->json ? json_loads(a->json, 0, NULL) : NULL;
    json_t *v = root ? ctx_field(root, "ProcessId") : NULL;
    if (json_is_integer(v))
        pid = json_integer_value(v);
    else if (json_is_string(v))
        pid = strtoll(json_string_value(v), NULL, 10);
    json_decref(root);
    struct playbook_target tg = {a->agent_id, pid > 1 ? pid : 0};
    int n = 0;
    int rc = playbook_incident(t->st, a->tenant_id, inc->id, inc->severity, &tg, 1, &n);
    if (rc)
        BN_WARN("triage", "incident %lld: response playbook failed: %s", (long long)inc->id,
                bn_strerror(rc));
    return rc;
}

static int
triage_one(struct triage *t, const struct triage_alert_in *a, int64_t now_ns,
           struct triage_result *r)
{
    int rc;
    /* 1. suppressions */
    struct supp_ctx sc = {.a = a, .now_ns = now_ns};
    rc = store_suppression_active(t->st, a->tenant_id, a->rule_id, now_ns, on_suppression, &sc);
    if (rc)
        return rc;
    if (sc.hit) {
        r->suppressed = 1;
        r->suppression_id = sc.hit;
        t->stats.suppressed++;
        mgr_metric_add(t->o.metrics, MGR_M_ALERTS_SUPPRESSED, 1);
        return store_suppression_hit(t->st, sc.hit, 1);
    }

    /* 2. score */
    int crit = 0;
    if (a->agent_id > 0) {
        struct store_agent ag;
        if (store_agent_get(t->st, a->agent_id, &ag) == 0)
            crit = ag.asset_criticality;
    }
    struct store_alert al;
    memset(&al, 0, sizeof(al));
    uint32_t mask = triage_tags_parse(a->tags, al.tactics, sizeof(al.tactics), al.techniques,
                                      sizeof(al.techniques));
    int level = a->level < 0 ? 0 : a->level > 4 ? 4 : a->level;
    r->score = triage_score(level, a->confidence, crit, mask);

    /* 3. store, de-duplicated */
    al.tenant_id = a->tenant_id;
    al.agent_id = a->agent_id;
    copy_str(al.rule_id, sizeof(al.rule_id), a->rule_id);
    copy_str(al.rule_title, sizeof(al.rule_title), a->rule_title ? a->rule_title : a->rule_id);
    al.level = level;
    al.score = r->score;
    dedupe_key(a, al.dedupe_key, sizeof(al.dedupe_key));
    al.count = 1;
    al.first_ns = now_ns;
    al.last_ns = now_ns;
    al.event_ts_ns = a->event_ts_ns ? a->event_ts_ns : now_ns;
    copy_str(al.host, sizeof(al.host), a->host);
    copy_str(al.user, sizeof(al.user), a->user);
    copy_str(al.source, sizeof(al.source), a->source ? a->source : "central");
    al.json = a->json ? a->json : "{}";
    rc = store_alert_upsert(t->st, &al, t->o.dedupe_window_ns, &r->alert_id, &r->merged);
    if (rc)
        return rc;
    if (a->agent_id > 0 && a->seq >= 0) {
        rc = store_alert_add_event(t->st, r->alert_id, a->agent_id, a->seq);
        if (rc && rc != BN_DECLINED)
            return rc;
    }
    struct store_scope all = {.all = 1};
    struct store_incident inc;
    if (r->merged) {
        t->stats.merged++;
        mgr_metric_add(t->o.metrics, MGR_M_ALERTS_DEDUPED, 1);
        /* keep the incident of the merged alert active */
        struct store_alert prev;
        rc = store_alert_get(t->st, &all, r->alert_id, &prev);
        if (rc)
            return rc;
        if (prev.incident_id > 0 &&
            store_incident_get(t->st, &all, prev.incident_id, &inc) == 0) {
            r->incident_id = inc.id;
            r->severity = inc.severity;
            if (now_ns > inc.last_ns) {
                inc.last_ns = now_ns;
                rc = store_incident_update(t->st, &all, &inc);
            }
            /* a repeat in an open incident (the same binary run again): its process too */
            if (rc == 0 && inc.status != STORE_INC_RESOLVED &&
                inc.status != STORE_INC_FALSE_POSITIVE)
                run_playbook(t, a, &inc);
            tree_put(t, a->tenant_id, a->process_guid, inc.id, now_ns);
        }
        return rc;
    }

    /* 4. group */
    int64_t since = now_ns - t->o.incident_window_ns;
    int64_t found = tree_lookup(t, a->tenant_id, a->process_guid, since);
    if (!found)
        found = tree_lookup(t, a->tenant_id, a->parent_guid, since);
    bool have = false;
    if (found && store_incident_get(t->st, &all, found, &inc) == 0 &&
        inc.status != STORE_INC_RESOLVED && inc.status != STORE_INC_FALSE_POSITIVE)
        have = true;
    char gkey[256];
    if (a->host && a->host[0])
        snprintf(gkey, sizeof(gkey), "host:%s", a->host);
    else if (!generic_user(a->user))
        snprintf(gkey, sizeof(gkey), "user:%s", a->user);
    else
        snprintf(gkey, sizeof(gkey), "rule:%s", a->rule_id);
    if (!have) {
        rc = store_incident_find_open(t->st, a->tenant_id, gkey, since, &inc);
        if (rc == 0)
            have = true;
        else if (rc != BN_ENOTFOUND)
            return rc;
    }
    /* the same (named) user active in an open incident on another host: one campaign */
    char ukey[160] = "";
    if (!generic_user(a->user))
        snprintf(ukey, sizeof(ukey), "\x01user:%s", a->user);
    if (!have && ukey[0] && (found = tree_lookup(t, a->tenant_id, ukey, since)) != 0 &&
        store_incident_get(t->st, &all, found, &inc) == 0 &&
        inc.status != STORE_INC_RESOLVED && inc.status != STORE_INC_FALSE_POSITIVE)
        have = true;
    if (have) {
        int maxl = level_get(t, inc.id, level);
        if (level > maxl)
            maxl = level;
        uint32_t imask = triage_tactics_mask(inc.tactics) | mask;
        int sev = triage_severity(maxl, imask, crit);
        if (sev < inc.severity)
            sev = inc.severity;
        if (level >= maxl && a->rule_title && sev > inc.severity)
            snprintf(inc.title, sizeof(inc.title), "%s on %s", a->rule_title,
                     gkey + (strchr(gkey, ':') - gkey) + 1);
        inc.severity = sev;
        triage_tactics_format(imask, inc.tactics, sizeof(inc.tactics));
        inc.alert_count++;
        if (now_ns > inc.last_ns)
            inc.last_ns = now_ns;
        rc = store_incident_update(t->st, &all, &inc);
        if (rc)
            return rc;
        level_set(t, inc.id, maxl);
        t->stats.grouped++;
    } else {
        memset(&inc, 0, sizeof(inc));
        inc.tenant_id = a->tenant_id;
        snprintf(inc.title, sizeof(inc.title), "%s on %s",
                 a->rule_title ? a->rule_title : a->rule_id, strchr(gkey, ':') + 1);
        inc.severity = triage_severity(level, mask, crit);
        inc.status = STORE_INC_NEW;
        copy_str(inc.group_key, sizeof(inc.group_key), gkey);
        triage_tactics_format(mask, inc.tactics, sizeof(inc.tactics));
        inc.alert_count = 1;
        inc.first_ns = now_ns;
        inc.last_ns = now_ns;
        inc.created_ns = now_ns;
        inc.notified_severity = -1;
        rc = store_incident_create(t->st, &inc, &inc.id);
        if (rc)
            return rc;
        level_set(t, inc.id, level);
        r->incident_new = 1;
        t->stats.incidents++;
        mgr_metric_add(t->o.metrics, MGR_M_INCIDENTS, 1);
    }
    rc = store_alert_set_incident(t->st, &all, r->alert_id, inc.id);
    if (rc)
        return rc;
    tree_put(t, a->tenant_id, a->process_guid, inc.id, now_ns);
    tree_put(t, a->tenant_id, a->parent_guid, inc.id, now_ns);
    if (ukey[0])
        tree_put(t, a->tenant_id, ukey, inc.id, now_ns);
    r->incident_id = inc.id;
    r->severity = inc.severity;
    run_playbook(t, a, &inc); /* a failure is logged; the alert still stands */

    /* 5. notify */
    rc = notify_incident(t, &inc, a->host, now_ns, &r->enqueued);
    if (rc == 0 && r->enqueued)
        t->stats.enqueued += (uint64_t)r->enqueued;
    return rc;
}

int
triage_alert(struct triage *t, const struct triage_alert_in *a, int64_t now_ns,
             struct triage_result *res)
{
    struct triage_result dummy;
    struct triage_result *r = res ? res : &dummy;
    memset(r, 0, sizeof(*r));
    if (!t || !a || !a->rule_id || !a->rule_id[0])
        return BN_EINVAL;
    t->stats.alerts++;
    mgr_metric_add(t->o.metrics, MGR_M_ALERTS, 1);
    int rc;
    if (t->o.own_transactions && (rc = store_begin(t->st)) != 0) {
        t->stats.errors++;
        return rc;
    }
    rc = triage_one(t, a, now_ns, r);
    if (t->o.own_transactions) {
        if (rc == 0)
            rc = store_commit(t->st);
        if (rc)
            store_rollback(t->st);
    }
    if (rc) {
        t->stats.errors++;
        BN_WARN("triage", "alert '%s' on '%s' not triaged: %s", a->rule_id,
                a->host ? a->host : "", bn_strerror(rc));
    }
    return rc;
}

/* ---- suppression from an alert ----------------------------------------------------------- */

/* Finds a field in the alert context: event.<name>, event.trigger.<name>, then top level;
 * dotted names walk nested objects. */
static json_t *
ctx_field(json_t *root, const char *name)
{
    json_t *bases[3] = {json_object_get(root, "event"), NULL, root};
    bases[1] = json_object_get(bases[0], "trigger");
    for (size_t b = 0; b < 3; b++) {
        json_t *cur = bases[b];
        if (!json_is_object(cur))
            continue;
        json_t *direct = json_object_get(cur, name);
        if (direct)
            return direct;
        const char *p = name;
        while (cur && *p) {
            const char *dot = strchr(p, '.');
            size_t l = dot ? (size_t)(dot - p) : strlen(p);
            cur = json_object_getn(cur, p, l);
            p += l + (dot ? 1 : 0);
            if (!dot)
                break;
        }
        if (cur && !json_is_object(cur) && !json_is_array(cur))
            return cur;
    }
    return NULL;
}

int
triage_suppress_from_alert(struct store *st, const struct store_scope *sc, int64_t alert_id,
                           const char *const *fields, size_t nfields, int with_host,
                           int64_t expires_ns, const char *reason, const char *author,
                           int64_t now_ns, int64_t *id, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    *id = 0;
    if (!reason || !reason[0]) {
        snprintf(err, errlen, "a suppression needs a reason");
        return BN_EINVAL;
    }
    if (!author || !author[0]) {
        snprintf(err, errlen, "a suppression needs an author");
        return BN_EINVAL;
    }
    if (expires_ns && expires_ns <= now_ns) {
        snprintf(err, errlen, "expiry is in the past");
        return BN_EINVAL;
    }
    if (nfields > 32) {
        snprintf(err, errlen, "at most 32 fields");
        return BN_ETOOBIG;
    }
    struct store_alert a;
    int rc = store_alert_get(st, sc, alert_id, &a);
    if (rc) {
        snprintf(err, errlen, "alert %" PRId64 " not found", alert_id);
        return rc;
    }
    json_t *ctx = json_loads(a.json ? a.json : "{}", 0, NULL);
    json_t *want = json_object();
    if (!want) {
        json_decref(ctx);
        return BN_ENOMEM;
    }
    for (size_t i = 0; i < nfields; i++) {
        json_t *v = ctx ? ctx_field(ctx, fields[i]) : NULL;
        json_t *sv = NULL;
        if (json_is_string(v))
            sv = json_string(json_string_value(v));
        else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
            char *txt = json_dumps(v, JSON_ENCODE_ANY);
            sv = txt ? json_string(txt) : NULL;
            free(txt);
        }
        if (!sv) {
            snprintf(err, errlen, "the alert's event has no field '%.100s'", fields[i]);
            json_decref(want);
            json_decref(ctx);
            return BN_EINVAL;
        }
        json_object_set_new(want, fields[i], sv);
    }
    char *fj = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(want);
    json_decref(ctx);
    if (!fj)
        return BN_ENOMEM;
    struct store_suppression s;
    memset(&s, 0, sizeof(s));
    s.tenant_id = a.tenant_id;
    if (with_host)
        copy_str(s.host, sizeof(s.host), a.host);
    copy_str(s.rule_id, sizeof(s.rule_id), a.rule_id);
    s.fields_json = fj;
    s.expires_ns = expires_ns;
    copy_str(s.reason, sizeof(s.reason), reason);
    copy_str(s.author, sizeof(s.author), author);
    s.created_ns = now_ns;
    rc = store_begin(st);
    if (rc == 0)
        rc = store_suppression_create(st, &s, id);
    if (rc == 0) {
        char object[64];
        snprintf(object, sizeof(object), "suppression/%" PRId64, *id);
        json_t *detail = json_pack("{sIsssssssosIss}", "alert_id", (json_int_t)alert_id,
                                   "rule_id", s.rule_id, "host", s.host, "reason", s.reason,
                                   "fields", json_loads(fj, 0, NULL), "expires_ns",
                                   (json_int_t)expires_ns, "author", s.author);
        char *dj = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(detail);
        rc = dj ? store_audit(st, a.tenant_id, author, "suppression.create", object, dj)
                : BN_ENOMEM;
        free(dj);
    }
    if (rc == 0)
        rc = store_commit(st);
    if (rc) {
        store_rollback(st);
        snprintf(err, errlen, "cannot store the suppression: %s", bn_strerror(rc));
        *id = 0;
    }
    free(fj);
    return rc;
}
