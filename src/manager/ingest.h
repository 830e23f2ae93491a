/*
 * ingest.h - agent batches into the store (docs/MANAGER.md, "The link and ingest").
 *
 * The link hands every verified, unpacked batch to ingest_batch(): events the agent already
 * had stored (seq <= its last stored seq) are dropped as duplicates, the rest are inserted in
 * the open group transaction (one transaction for the batches of one loop turn: group
 * commit); ingest_commit() makes them durable, and only then does the link acknowledge.
 * Gaps in the sequence, replays, bad signatures, malformed frames and silent agents are
 * counted, logged and handed to the health hook, which triage (M4) turns into alerts.
 *
 * Threads: one ingest and its store belong to the link's thread.
 */
#ifndef BANNIN_MANAGER_INGEST_H
#define BANNIN_MANAGER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/wire.h"
#include "manager/store.h"

/* The agent a batch or a health finding is about (borrowed for the call). */
struct ingest_agent {
    int64_t id;
    int64_t tenant_id;
    const char *uid;
    const char *hostname;
};

enum ingest_health {
    INGEST_HEALTH_GAP = 0,       /* seqs missing: spool shed events, or tampering */
    INGEST_HEALTH_REPLAY,        /* a batch at or before one already received this session */
    INGEST_HEALTH_BAD_SIGNATURE, /* batch signature does not verify (or another session's) */
    INGEST_HEALTH_MALFORMED,     /* undecodable frame or event from an authenticated agent */
    INGEST_HEALTH_SILENT,        /* no heartbeat for 3 intervals: outage or tampering */
    INGEST_HEALTH_REVOKED,       /* a revoked agent tried to connect or was disconnected */
    INGEST_HEALTH_BACK,          /* a silent agent was heard from again */
};

/* Name of a health kind ("gap"). */
const char *ingest_health_name(enum ingest_health kind);

/*
 * Triage plugs in here without editing the link. Both callbacks run on the link's thread and
 * must not block for long. on_batch_stored gets the events just inserted (duplicates left
 * out; borrowed for the call) inside the open transaction, so alerts the hook writes with
 * the same store handle (ingest_store) commit atomically with the events; if the commit
 * fails, neither is kept and the agent sends the batch again.
 */
struct ingest_hooks {
    void *ctx;
    void (*on_batch_stored)(void *ctx, const struct ingest_agent *agent,
                            const struct store_event *ev, size_t n);
    void (*on_health)(void *ctx, const struct ingest_agent *agent, enum ingest_health kind,
                      const char *detail);
    /* Housekeeping on the link's thread, every link_opts.housekeeping_ms (may be NULL). */
    void (*on_tick)(void *ctx, int64_t now_ns);
    /* Alerts the hooks have written so far (may be NULL): a batch during which it grows
     * raised alerts, and its receipt -> durable time is also counted as receipt -> alert. */
    uint64_t (*alerts_raised)(void *ctx);
    /* Detection on another thread (all three set, on_batch_stored NULL): a stored chunk is
     * handed over with its batch's tag (its index in the group); before_commit, called by
     * ingest_commit before the COMMIT, waits for the matching of the group and writes its
     * alerts in the transaction, calling alerted(arg, tag) for each batch that raised one;
     * on_rollback drops what the group's batches raised. */
    void (*on_batch_queued)(void *ctx, const struct ingest_agent *agent,
                            const struct store_event *ev, size_t n, uint32_t tag);
    void (*before_commit)(void *ctx, void (*alerted)(void *arg, uint32_t tag), void *arg);
    void (*on_rollback)(void *ctx);
};

struct ingest_counters {
    uint64_t batches;      /* batches taken */
    uint64_t events;       /* events in them */
    uint64_t inserted;     /* events stored */
    uint64_t dups;         /* duplicates dropped (already stored) */
    uint64_t bad_events;   /* events that are not JSON objects: stored with event_id -1 */
    uint64_t commits;      /* group transactions committed */
    uint64_t store_errors; /* failed inserts or commits (nothing acknowledged) */
    uint64_t gaps;         /* batches that skipped seqs */
    uint64_t missing;      /* seqs skipped */
    uint64_t health[INGEST_HEALTH_BACK + 1]; /* findings by kind */
    /* batch receipt -> the commit that made it (and the alerts central detection raised
     * from it, written in the same transaction) durable: batches measured, and percentiles
     * in ms (1 ms buckets up to 10 s; 10000 means 10 s or more) */
    uint64_t lat_batches;
    uint32_t lat_p50_ms, lat_p99_ms, lat_max_ms;
    /* the same for the batches central detection raised alerts from: receipt -> the alert
     * durable (hooks.alerts_raised) */
    uint64_t alert_batches;
    uint32_t alert_p50_ms, alert_p99_ms, alert_max_ms;
};

struct ingest;

/* Returns an owned ingest writing through st (borrowed; the caller's thread only). */
int ingest_new(struct ingest **out, struct store *st, const struct ingest_hooks *hooks);
void ingest_free(struct ingest *in);
struct store *ingest_store(struct ingest *in);

/*
 * Inserts a batch of agent a (events borrowed for the call) into the open group transaction
 * (begun when needed). *last_seq is the agent's highest stored seq, updated. Fills *ack.
 * Returns 0, or a store error (the transaction is rolled back: nothing of the group is kept
 * and nothing may be acknowledged).
 */
int ingest_batch(struct ingest *in, const struct ingest_agent *a, int64_t *last_seq,
                 const struct bn_wire_event *ev, size_t n, int64_t received_ns,
                 struct bn_wire_ack *ack);
/* Opens the group transaction if none is open, so small writes (heartbeats, last seen) join
 * the next group commit instead of paying for their own. 0 or a store error. */
int ingest_begin(struct ingest *in);
/* True while a group transaction is open. */
bool ingest_pending(const struct ingest *in);
/* Batches, and events inserted, in the open group transaction. */
size_t ingest_pending_batches(const struct ingest *in);
size_t ingest_pending_events(const struct ingest *in);
/* Commits the group transaction (nothing open: 0). On failure it is rolled back. */
int ingest_commit(struct ingest *in);
/*
 * Deferred mode (off by default; only with a synchronous=FULL store): group transactions
 * begin with store_begin_deferred, so ingest_commit writes the WAL without waiting for the
 * disk and the caller must store_wal_sync() before acknowledging anything of the group; it
 * then reports the sync with ingest_durable(in, gen, ok), gen being ingest_commit_gen() read
 * after the commit (the receipt -> durable latencies are counted then).
 */
void ingest_set_deferred(struct ingest *in, bool on);
bool ingest_deferred(const struct ingest *in);
uint64_t ingest_commit_gen(const struct ingest *in);
void ingest_durable(struct ingest *in, uint64_t gen, bool ok);
/* Receipt time of the oldest batch in the open group, 0 when none. */
int64_t ingest_group_first_ns(const struct ingest *in);
/* Rolls back the group transaction, if any. */
void ingest_rollback(struct ingest *in);

/* Calls the on_tick hook, if any. */
void ingest_tick(struct ingest *in, int64_t now_ns);

/* Counts a health finding, logs it and calls the hook. */
void ingest_health(struct ingest *in, const struct ingest_agent *a, enum ingest_health kind,
                   const char *fmt, ...) BN_PRINTF(4, 5);

void ingest_counters(const struct ingest *in, struct ingest_counters *c);

/*
 * Fills the indexed columns of e from one event's JSON (borrowed; e points into it or into
 * scratch, 512 bytes): EventID, UtcTime, Computer, Image, User. -1 when not a JSON object.
 */
int ingest_event_fields(const char *json, size_t len, struct store_event *e, char *scratch,
                        size_t scratch_size);

#endif
