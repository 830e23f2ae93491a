/*
 * link.h - the manager's agent link: a TLS 1.3 server on libuv (OpenSSL through memory BIOs)
 * that enrols agents, authenticates them by client certificate against the tenant CAs,
 * checks revocation, takes signed batches into ingest (acknowledged after the group commit),
 * records heartbeats and raises health findings for silent agents (docs/MANAGER.md).
 *
 * Threads: link_run() runs the event loop on the calling thread until link_stop() (any
 * thread). The store given to link_new belongs to that thread while it runs.
 */
#ifndef BANNIN_MANAGER_LINK_H
#define BANNIN_MANAGER_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "bannin/diag.h"
#include "manager/enroll.h"
#include "manager/ingest.h"
#include "manager/metrics.h"

struct link_opts {
    const char *host;        /* listen address ("127.0.0.1", "0.0.0.0", "::") */
    int port;                /* 0 = any free port (link_port tells) */
    int64_t housekeeping_ms; /* silence and revocation checks; 0 = 1000 */
    int64_t handshake_ms;    /* TLS handshake and first frame; 0 = 10000 */
    int64_t idle_ms;         /* a session silent this long is closed; 0 = 3 x heartbeat + 30 s */
    size_t max_conns;        /* 0 = 8192 */
    int backlog;             /* 0 = 1024 */
    struct mgr_metrics *metrics; /* shared Prometheus counters (borrowed, may be NULL) */
    /* experimental: batches are inserted, run through detection and committed on a writer
     * thread while the loop thread does TLS, verification and decoding (acks still after
     * the commit); the store and the hooks are then used under a lock by both threads */
    bool writer_thread;
    /* the group commit waits for the disk on the loop thread (before the sync pipeline):
     * otherwise (default, with a synchronous=FULL store) the commit only writes the WAL, a
     * sync thread fdatasyncs it while the loop reads, verifies, decodes and inserts the next
     * group, and the acks follow the sync (docs/MANAGER.md, "Guarantees") */
    bool sync_inline;
    int64_t group_ms; /* a group is committed once its oldest batch is this old; 0 = 10 ms */
};

struct link_counters {
    uint64_t accepted;        /* TCP connections accepted */
    uint64_t refused_full;    /* refused over max_conns */
    uint64_t tls_failures;    /* handshakes that failed (wrong CA, not TLS 1.3, garbage) */
    uint64_t unknown_cert;    /* valid chain but no agent with that certificate */
    uint64_t revoked_refused; /* revoked agents refused at connect */
    uint64_t revoked_closed;  /* sessions closed because the agent was revoked */
    uint64_t enrolled;        /* agents enrolled */
    uint64_t enroll_refused;  /* bad tokens, CSRs */
    uint64_t sessions;        /* HELLOs accepted */
    uint64_t frames_in;
    uint64_t bad_frames; /* malformed or unexpected frames (connection closed) */
    uint64_t oversized;  /* frames or batches over the limits */
    uint64_t bad_signatures;
    uint64_t replays;
    uint64_t heartbeats;
    uint64_t acks;
    uint64_t idle_closed;
    uint64_t conns_open; /* now */
    struct ingest_counters ingest;
};

struct link;

/* Listens on o->host:o->port. st, en and hooks are borrowed. Errors with d. */
int link_new(struct link **out, const struct link_opts *o, struct store *st, struct enroll *en,
             const struct ingest_hooks *hooks, struct bn_diag *d);
/* Runs the loop until link_stop; closes every connection before it returns. */
int link_run(struct link *l);
/* Asks the loop to stop (thread-safe, async-signal-unsafe). */
void link_stop(struct link *l);
/* Frees a link whose loop is not running. NULL is a no-op. */
void link_free(struct link *l);
/* The port listened on. */
int link_port(const struct link *l);
/* A snapshot of the counters (thread-safe). */
void link_counters(struct link *l, struct link_counters *c);

#endif
