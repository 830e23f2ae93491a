/*
 * ingest.c - verified agent batches into the store with group commit, duplicate and gap
 * accounting, and the hooks triage plugs into (see ingest.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/timeutil.h"

#include "manager/ingest.h"

#define CHUNK             256  /* events converted and inserted per store call */
#define SCRATCH           2048 /* bytes of unescaped index columns per event */
#define GROUP_BATCHES_MAX 256
#define LAT_MS_MAX        10000 /* receipt -> commit histogram: 1 ms buckets up to 10 s */

/* a committed batch waiting for the sync that makes it durable (deferred mode), or a batch of
 * the open group */
struct rx_mark {
    uint64_t gen;  /* the commit it belongs to (deferred mode) */
    int64_t rx_ns; /* its receipt */
    bool alert;    /* central detection raised an alert from it */
};

struct lat_hist {
    uint64_t *b; /* LAT_MS_MAX + 1 buckets of 1 ms */
    uint32_t max;
};

struct ingest {
    struct store *st;
    struct ingest_hooks hooks;
    bool open;
    bool deferred; /* groups commit without waiting for the disk (ingest_set_deferred) */
    uint64_t gen;  /* successful group commits */
    size_t group_batches;
    size_t group_events; /* inserted in the open group */
    struct ingest_counters cnt;
    struct store_event ev[CHUNK];
    char *scratch;              /* CHUNK * SCRATCH */
    struct store_event *stored; /* the inserted events of the batch, for the hook */
    size_t stored_cap;
    struct rx_mark *group_rx; /* the open group's batches */
    size_t group_rx_cap;
    struct rx_mark *unsynced; /* deferred mode: committed batches waiting for their sync */
    size_t nunsynced, unsynced_cap;
    struct lat_hist lat;  /* receipt -> durable, every batch */
    struct lat_hist alat; /* receipt -> durable, batches that raised alerts */
};

const char *
ingest_health_name(enum ingest_health kind)
{
    static const char *const names[] = {"gap",    "replay",  "bad_signature", "malformed",
                                        "silent", "revoked", "back"};
    return (unsigned)kind < BN_ARRAY_SIZE(names) ? names[kind] : "unknown";
}

int
ingest_new(struct ingest **out, struct store *st, const struct ingest_hooks *hooks)
{
    *out = NULL;
    struct ingest *in = bn_calloc(1, sizeof(*in));
    if (!in)
        return BN_ENOMEM;
    in->scratch = bn_malloc((size_t)CHUNK * SCRATCH);
    in->lat.b = bn_calloc(LAT_MS_MAX + 1, sizeof(*in->lat.b));
    in->alat.b = bn_calloc(LAT_MS_MAX + 1, sizeof(*in->alat.b));
    if (!in->scratch || !in->lat.b || !in->alat.b) {
        bn_free(in->scratch);
        bn_free(in->lat.b);
        bn_free(in->alat.b);
        bn_free(in);
        return BN_ENOMEM;
    }
    in->st = st;
    if (hooks)
        in->hooks = *hooks;
    *out = in;
    return 0;
}

void
ingest_free(struct ingest *in)
{
    if (!in)
        return;
    ingest_rollback(in);
    bn_free(in->scratch);
    bn_free(in->stored);
    bn_free(in->group_rx);
    bn_free(in->unsynced);
    bn_free(in->lat.b);
    bn_free(in->alat.b);
    bn_free(in);
}

struct store *
ingest_store(struct ingest *in)
{
    return in->st;
}

bool
ingest_pending(const struct ingest *in)
{
    return in->open;
}

size_t
ingest_pending_batches(const struct ingest *in)
{
    return in->group_batches;
}

size_t
ingest_pending_events(const struct ingest *in)
{
    return in->group_events;
}

void
ingest_set_deferred(struct ingest *in, bool on)
{
    in->deferred = on && store_needs_sync(in->st);
}

bool
ingest_deferred(const struct ingest *in)
{
    return in->deferred;
}

uint64_t
ingest_commit_gen(const struct ingest *in)
{
    return in->gen;
}

int64_t
ingest_group_first_ns(const struct ingest *in)
{
    return in->open && in->group_batches && in->group_rx_cap ? in->group_rx[0].rx_ns : 0;
}

/* p50, p99 (nearest rank) of a histogram */
static uint64_t
lat_pct(const struct lat_hist *h, uint32_t *p50, uint32_t *p99, uint32_t *max)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= LAT_MS_MAX; i++)
        n += h->b[i];
    *p50 = *p99 = 0;
    *max = h->max;
    if (!n)
        return 0;
    uint64_t r50 = (n * 50 + 99) / 100, r99 = (n * 99 + 99) / 100, seen = 0;
    bool got50 = false;
    for (size_t i = 0; i <= LAT_MS_MAX; i++) {
        seen += h->b[i];
        if (!got50 && seen >= r50) {
            *p50 = (uint32_t)i;
            got50 = true;
        }
        if (seen >= r99) {
            *p99 = (uint32_t)i;
            break;
        }
    }
    return n;
}

void
ingest_counters(const struct ingest *in, struct ingest_counters *c)
{
    *c = in->cnt;
    c->lat_batches = lat_pct(&in->lat, &c->lat_p50_ms, &c->lat_p99_ms, &c->lat_max_ms);
    c->alert_batches = lat_pct(&in->alat, &c->alert_p50_ms, &c->alert_p99_ms, &c->alert_max_ms);
}

void
ingest_tick(struct ingest *in, int64_t now_ns)
{
    if (in->hooks.on_tick)
        in->hooks.on_tick(in->hooks.ctx, now_ns);
}

void
ingest_health(struct ingest *in, const struct ingest_agent *a, enum ingest_health kind,
              const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if ((unsigned)kind <= INGEST_HEALTH_BACK)
        in->cnt.health[kind]++;
    BN_WARN("ingest", "agent %lld '%s' (%s): %s: %s", a ? (long long)a->id : 0LL,
            a && a->hostname ? a->hostname : "?", a && a->uid ? a->uid : "?",
            ingest_health_name(kind), detail);
    if (in->hooks.on_health)
        in->hooks.on_health(in->hooks.ctx, a, kind, detail);
}

/* ---- the indexed columns of one event ------------------------------------------------ */

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at the opening quote; returns the position after the closing quote, or NULL. A quote is
 * found with memchr (the hot path: most strings have no escapes); it closes the string when
 * an even number of backslashes precedes it. */
static const char *
skip_string(const char *p, const char *end)
{
    const char *s = ++p;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return NULL;
        const char *b = q;
        while (b > s && b[-1] == '\\')
            b--;
        if (((q - b) & 1) == 0)
            return q + 1;
        p = q + 1;
    }
    return NULL;
}

/* Skips one value (object, array, string, number, literal); NULL when malformed. */
static const char *
skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                if (!p)
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[') {
                if (++depth > BN_JSON_DEPTH_MAX)
                    return NULL;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    const char *s = p;
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
           *p != '\t' && *p != '\r')
        p++;
    return p > s ? p : NULL;
}

/* Copies the JSON string body [s, e) into out, undoing simple escapes; returns out. */
static const char *
unescape(const char *s, const char *e, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = s; p < e && o + 1 < size; p++) {
        char c = *p;
        if (c == '\\' && p + 1 < e) {
            c = *++p;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u':
                /* kept as the escape text: index columns only, the JSON keeps the truth */
                c = '?';
                p += BN_MIN(4, e - p - 1);
                break;
            default: break;
            }
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

int
ingest_event_fields(const char *json, size_t len, struct store_event *ev, char *scratch,
                    size_t size)
{
    const char *p = json, *end = json + len;
    size_t part = size / 4;
    char *hs = scratch, *is = scratch + part, *us = scratch + 2 * part, *ts = scratch + 3 * part;
    ev->event_id = -1;
    ev->ts_ns = 0;
    ev->host = ev->image = ev->user = NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        goto done;
    for (;;) {
        if (p >= end || *p != '"')
            return -1;
        const char *ks = p + 1;
        const char *ke = skip_string(p, end);
        if (!ke)
            return -1;
        size_t klen = (size_t)(ke - 1 - ks);
        p = skip_ws(ke, end);
        if (p >= end || *p != ':')
            return -1;
        p = skip_ws(p + 1, end);
        const char *vs = p;
        const char *ve = skip_value(p, end);
        if (!ve)
            return -1;
        bool str = *vs == '"';
        const char *ss = vs + 1, *se = ve - 1;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(ks, k, sizeof(k) - 1) == 0)
        if (KEY("EventID") && !str) {
            long v = 0;
            const char *q = vs;
            bool neg = q < ve && *q == '-';
            for (q += neg; q < ve && *q >= '0' && *q <= '9' && v < 100000000; q++)
                v = v * 10 + (*q - '0');
            ev->event_id = (int)(neg ? -v : v);
        } else if ((KEY("UtcTime") || KEY("timestamp")) && str) {
            /* UtcTime: agent events; timestamp: the network sensor's eve records */
            int64_t ns;
            unescape(ss, se, ts, part);
            if (bn_time_parse(ts, strlen(ts), &ns) == 0)
                ev->ts_ns = ns;
        } else if (KEY("Computer") && str) {
            ev->host = unescape(ss, se, hs, part);
        } else if (KEY("Image") && str) {
            ev->image = unescape(ss, se, is, part);
        } else if (KEY("User") && str) {
            ev->user = unescape(ss, se, us, part);
        }
#undef KEY
        p = skip_ws(ve, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            break;
        return -1;
    }
done:
    if (ev->event_id < 0)
        ev->event_id = 0;
    return 0;
}

/* ---- batches ----------------------------------------------------------------------------- */

int
ingest_batch(struct ingest *in, const struct ingest_agent *a, int64_t *last_seq,
             const struct bn_wire_event *ev, size_t n, int64_t received_ns, struct bn_wire_ack *ack)
{
    int rc;
    memset(ack, 0, sizeof(*ack));
    if (!n)
        return BN_EINVAL;
    ack->first_seq = ev[0].seq;
    ack->last_seq = ev[n - 1].seq;
    in->cnt.batches++;
    in->cnt.events += n;

    /* gaps: before the batch (the agent's spool shed events, or someone removed them) and
     * inside it */
    uint64_t missing = 0;
    if (*last_seq > 0 && ev[0].seq > (uint64_t)*last_seq + 1)
        missing += ev[0].seq - (uint64_t)*last_seq - 1;
    uint64_t inside = (ev[n - 1].seq - ev[0].seq + 1) - n;
    missing += inside;
    if (missing) {
        in->cnt.gaps++;
        in->cnt.missing += missing;
        ingest_health(in, a, INGEST_HEALTH_GAP,
                      "%llu events missing before seq %llu (last stored %lld, batch %llu..%llu)",
                      (unsigned long long)missing, (unsigned long long)ev[n - 1].seq,
                      (long long)*last_seq, (unsigned long long)ev[0].seq,
                      (unsigned long long)ev[n - 1].seq);
    }

    if ((rc = ingest_begin(in)) != 0)
        return rc;
    in->group_batches++;
    if (in->stored_cap < n) {
        struct store_event *ns = bn_reallocarray(in->stored, n, sizeof(*ns));
        if (!ns) {
            ingest_rollback(in);
            return BN_ENOMEM;
        }
        in->stored = ns;
        in->stored_cap = n;
    }
    size_t nstored = 0, i = 0;
    int64_t max_seq = *last_seq;
    uint64_t alerts0 = in->hooks.alerts_raised ? in->hooks.alerts_raised(in->hooks.ctx) : 0;
    while (i < n) {
        size_t k = 0;
        for (; i < n && k < CHUNK; i++) {
            if ((int64_t)ev[i].seq <= *last_seq) {
                ack->dups++;
                continue;
            }
            struct store_event *e = &in->ev[k];
            memset(e, 0, sizeof(*e));
            e->tenant_id = a->tenant_id;
            e->agent_id = a->id;
            e->seq = (int64_t)ev[i].seq;
            e->received_ns = received_ns;
            e->json = ev[i].data;
            e->json_len = ev[i].len;
            if (ingest_event_fields(ev[i].data, ev[i].len, e, in->scratch + k * SCRATCH, SCRATCH) !=
                0) {
                e->event_id = -1; /* kept as received, counted */
                in->cnt.bad_events++;
            }
            if (!e->ts_ns)
                e->ts_ns = received_ns;
            if (!e->host)
                e->host = a->hostname;
            k++;
        }
        if (!k)
            continue;
        size_t ins = 0, dups = 0;
        rc = store_events_insert(in->st, in->ev, k, &ins, &dups);
        if (rc) {
            in->cnt.store_errors++;
            ingest_rollback(in);
            return rc;
        }
        ack->inserted += (uint32_t)ins;
        ack->dups += (uint32_t)dups;
        /* the hook gets the events the store took (a dup here is rare: another session) */
        if (!dups) {
            memcpy(in->stored + nstored, in->ev, k * sizeof(*in->ev));
            nstored += k;
        }
        if (in->ev[k - 1].seq > max_seq)
            max_seq = in->ev[k - 1].seq;
        /* the strings of in->ev point into scratch, reused by the next chunk: hand them to
         * the hook now */
        if (in->hooks.on_batch_queued && nstored) {
            in->hooks.on_batch_queued(in->hooks.ctx, a, in->stored, nstored,
                                      (uint32_t)(in->group_batches - 1));
            nstored = 0;
        } else if (in->hooks.on_batch_stored && nstored) {
            in->hooks.on_batch_stored(in->hooks.ctx, a, in->stored, nstored);
            nstored = 0;
        }
    }
    *last_seq = max_seq;
    in->cnt.inserted += ack->inserted;
    in->cnt.dups += ack->dups;
    in->group_events += ack->inserted;
    /* its receipt time, for the receipt -> commit latency (not measured if no room) */
    if (in->group_batches > in->group_rx_cap) {
        size_t nc = in->group_rx_cap ? in->group_rx_cap * 2 : 64;
        struct rx_mark *p = bn_reallocarray(in->group_rx, nc, sizeof(*p));
        if (p) {
            in->group_rx = p;
            in->group_rx_cap = nc;
        }
    }
    if (in->group_batches <= in->group_rx_cap) {
        struct rx_mark *m = &in->group_rx[in->group_batches - 1];
        m->gen = 0;
        m->rx_ns = received_ns;
        m->alert = in->hooks.alerts_raised && in->hooks.alerts_raised(in->hooks.ctx) != alerts0;
    }
    return 0;
}

static int64_t
wall_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void
lat_add(struct lat_hist *h, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms > LAT_MS_MAX)
        ms = LAT_MS_MAX;
    h->b[ms]++;
    if ((uint32_t)ms > h->max)
        h->max = (uint32_t)ms;
}

static void
count_marks(struct ingest *in, const struct rx_mark *m, size_t n, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        int64_t ms = (now - m[i].rx_ns) / 1000000;
        lat_add(&in->lat, ms);
        if (m[i].alert)
            lat_add(&in->alat, ms);
    }
}

/* The committed group's batches: counted now (durable), or kept until their sync. */
static void
count_latency(struct ingest *in)
{
    size_t n = BN_MIN(in->group_batches, in->group_rx_cap);
    if (!in->deferred) {
        count_marks(in, in->group_rx, n, wall_now_ns());
        return;
    }
    if (in->nunsynced + n > in->unsynced_cap) {
        size_t nc = BN_MAX(in->unsynced_cap * 2, in->nunsynced + n + 64);
        struct rx_mark *p = bn_reallocarray(in->unsynced, nc, sizeof(*p));
        if (!p)
            return; /* not measured */
        in->unsynced = p;
        in->unsynced_cap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        in->unsynced[in->nunsynced] = in->group_rx[i];
        in->unsynced[in->nunsynced++].gen = in->gen;
    }
}

void
ingest_durable(struct ingest *in, uint64_t gen, bool ok)
{
    size_t k = 0;
    while (k < in->nunsynced && in->unsynced[k].gen <= gen)
        k++;
    if (!k)
        return;
    if (ok)
        count_marks(in, in->unsynced, k, wall_now_ns());
    memmove(in->unsynced, in->unsynced + k, (in->nunsynced - k) * sizeof(*in->unsynced));
    in->nunsynced -= k;
}

int
ingest_begin(struct ingest *in)
{
    if (in->open)
        return 0;
    int rc = in->deferred ? store_begin_deferred(in->st) : store_begin(in->st);
    if (rc) {
        in->cnt.store_errors++;
        return rc;
    }
    in->open = true;
    in->group_batches = 0;
    in->group_events = 0;
    return 0;
}

/* before_commit: a batch of the group raised an alert */
static void
mark_alerted(void *arg, uint32_t tag)
{
    struct ingest *in = arg;
    if (tag < BN_MIN(in->group_batches, in->group_rx_cap))
        in->group_rx[tag].alert = true;
}

int
ingest_commit(struct ingest *in)
{
    if (!in->open)
        return 0;
    if (in->hooks.before_commit)
        in->hooks.before_commit(in->hooks.ctx, mark_alerted, in);
    int rc = store_commit(in->st);
    in->open = false;
    if (rc) {
        in->group_batches = 0;
        in->group_events = 0;
        in->cnt.store_errors++;
        store_rollback(in->st);
        return rc;
    }
    in->gen++;
    count_latency(in);
    in->group_batches = 0;
    in->group_events = 0;
    in->cnt.commits++;
    return 0;
}

void
ingest_rollback(struct ingest *in)
{
    if (!in->open)
        return;
    if (in->hooks.on_rollback)
        in->hooks.on_rollback(in->hooks.ctx);
    store_rollback(in->st);
    in->open = false;
    in->group_batches = 0;
    in->group_events = 0;
}
