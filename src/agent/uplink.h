/*
 * uplink.h - the agent's link to the manager (docs/MANAGER.md): one thread reads the spool
 * past the acknowledged seq, packs batches (zstd, signed with the agent's Ed25519 key over
 * the session nonce), keeps a window of batches in flight, advances the spool's ack when the
 * manager acknowledges (after its commit), sends heartbeats with health, and reconnects with
 * exponential backoff and jitter. Nothing within the spool bound is lost: unacknowledged
 * records stay in the spool and are sent again after a reconnect (the manager drops the
 * duplicates).
 *
 * The spool belongs to the agent's loop thread; the uplink touches it only under spool_mu.
 */
#ifndef BANNIN_AGENT_UPLINK_H
#define BANNIN_AGENT_UPLINK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/action_queue.h"
#include "agent/spool.h"
#include "bannin/buf.h"

#define UPLINK_DIR_DEFAULT "/var/lib/bannin-agent/link"

struct uplink_conf {
    const char *link_dir; /* enrolment (bannin-agent enroll); borrowed */
    const char *server;   /* HOST:PORT, NULL or "" = the enrolled one; borrowed */
    const char *hostname; /* borrowed */
    int64_t heartbeat_ms;
    size_t batch_events;       /* 0 = 2000 */
    size_t batch_bytes;        /* raw bytes per batch; 0 = 1 MiB */
    unsigned window;           /* batches in flight; 0 = 4 */
    int64_t backoff_min_ms;    /* 0 = 250 */
    int64_t backoff_max_ms;    /* 0 = 30000 */
    int64_t ack_timeout_ms;    /* no ack this long with batches in flight: reconnect; 0 = 30000 */
    struct agent_spool *spool; /* borrowed, shared with the loop */
    pthread_mutex_t *spool_mu; /* guards spool */
    /* Health for heartbeats: appends a JSON object to out and sets *tier. */
    void (*health)(void *ctx, struct bn_buf *out, int *tier);
    void *health_ctx;
    /* Response actions (ACTION frames) are handed to this queue, its results sent as RESULT
     * frames until acknowledged, and its files (forensic packages) uploaded in signed chunks,
     * resumed after a reconnect; NULL = this agent refuses actions with a failed result. */
    struct action_queue *actions;
};

struct uplink_stats {
    uint64_t connects; /* sessions opened */
    uint64_t connect_failures;
    uint64_t batches_sent;
    uint64_t batches_acked;
    uint64_t events_acked;
    uint64_t heartbeats;
    uint64_t refusals; /* ERROR frames from the manager */
    uint64_t actions_received, results_sent, results_acked;
    uint64_t uploads_stored, uploads_refused, upload_bytes; /* forensic packages to the manager */
    uint64_t acked_seq;
    bool connected;
    char last_error[256];
};

struct uplink;

/* Loads the enrolment and starts the thread. Errors with err (BN_ENOTFOUND: not enrolled). */
int uplink_start(struct uplink **out, const struct uplink_conf *c, char *err, size_t errsz);
/* Stops the thread (within about a second) and frees. NULL is a no-op. */
void uplink_stop(struct uplink *u);
void uplink_stats(struct uplink *u, struct uplink_stats *s);

#endif
