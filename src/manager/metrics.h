/*
 * metrics.h - the manager's shared counters, exported by the API as Prometheus text on
 * GET /metrics. One struct mgr_metrics lives in bannind for the process; the link, ingest,
 * triage, notifier and API threads increment it lock-free (relaxed atomics) and never read it
 * for decisions. Adding a counter: one enum value and one line in metrics.c's table.
 */
#ifndef BANNIN_MANAGER_METRICS_H
#define BANNIN_MANAGER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "bannin/buf.h"

enum mgr_metric {
    /* link (agent connections, frames) */
    MGR_M_LINK_CONNECTIONS = 0,   /* connections accepted */
    MGR_M_LINK_CONNECTIONS_OPEN,  /* gauge: connections open now */
    MGR_M_LINK_REFUSED_CERT,      /* TLS handshakes refused: unknown CA, bad or revoked cert */
    MGR_M_LINK_FRAMES,            /* frames decoded */
    MGR_M_LINK_FRAMES_BAD,        /* malformed or oversized frames refused */
    MGR_M_LINK_BAD_SIGNATURE,     /* batches whose signature did not verify */
    MGR_M_LINK_REPLAYS,           /* batches with an already acknowledged sequence */
    MGR_M_LINK_GAPS,              /* sequence gaps seen */
    MGR_M_LINK_HEARTBEATS,
    MGR_M_ENROLLMENTS,            /* agents enrolled */
    MGR_M_ENROLLMENTS_REFUSED,    /* enrolment refused (token unknown, used up, expired) */
    /* ingest */
    MGR_M_INGEST_BATCHES,         /* batches committed and acknowledged */
    MGR_M_INGEST_EVENTS,          /* events stored */
    MGR_M_INGEST_DUPLICATES,      /* events dropped as (agent, seq) duplicates */
    MGR_M_INGEST_FULL,            /* commits refused for a full disk (acks withheld) */
    MGR_M_AGENTS_SILENT,          /* silence alerts raised */
    /* forensic uploads (attach.c) */
    MGR_M_ATTACH_OFFERS,          /* upload offers taken (new or resumed) */
    MGR_M_ATTACH_RESUMED,         /* offers that resumed a partial upload */
    MGR_M_ATTACH_BYTES,           /* chunk bytes received */
    MGR_M_ATTACH_STORED,          /* packages stored and attached */
    MGR_M_ATTACH_REFUSED,         /* offers or ends refused (not a forensics action, size, hash) */
    /* triage and detection */
    MGR_M_DETECT_EVENTS,          /* events run through central detection */
    MGR_M_ALERTS,                 /* alerts raised (before dedupe) */
    MGR_M_ALERTS_DEDUPED,         /* alerts folded into an existing one */
    MGR_M_ALERTS_SUPPRESSED,      /* alerts dropped by a suppression */
    MGR_M_IOC_MATCHES,
    MGR_M_INCIDENTS,              /* incidents opened */
    /* notifications */
    MGR_M_NOTIFY_SENT,
    MGR_M_NOTIFY_FAILED,          /* attempts that failed (retried) */
    MGR_M_NOTIFY_DEAD,            /* messages given up after the last retry */
    /* API */
    MGR_M_API_REQUESTS,
    MGR_M_API_4XX,
    MGR_M_API_5XX,
    MGR_M_API_BAD_BODY,           /* bodies refused: not JSON, too big, too deep, wrong types */
    MGR_M_API_AUTH_FAILED,        /* missing, unknown or expired credentials; bad passwords */
    MGR_M_API_DENIED,             /* authenticated but not allowed (role or tenant) */
    MGR_M__COUNT
};

struct mgr_metrics {
    _Atomic uint64_t v[MGR_M__COUNT];
};

static inline void
mgr_metric_add(struct mgr_metrics *m, enum mgr_metric id, uint64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->v[id], n, memory_order_relaxed);
}

static inline void
mgr_metric_sub(struct mgr_metrics *m, enum mgr_metric id, uint64_t n)
{
    if (m)
        atomic_fetch_sub_explicit(&m->v[id], n, memory_order_relaxed);
}

static inline uint64_t
mgr_metric_get(const struct mgr_metrics *m, enum mgr_metric id)
{
    return atomic_load_explicit((_Atomic uint64_t *)&m->v[id], memory_order_relaxed);
}

/* Prometheus name of a metric ("bannin_link_frames_bad_total"), or NULL when out of range. */
const char *mgr_metric_name(enum mgr_metric id);

/* Appends the Prometheus text exposition (version 0.0.4) of every metric to out. */
int mgr_metrics_format(const struct mgr_metrics *m, struct bn_buf *out);

#endif
