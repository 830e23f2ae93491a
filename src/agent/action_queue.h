/*
 * action_queue.h - actions the manager sends (ACTION frames) run here on a worker thread,
 * never on the uplink's I/O path; their results are kept in the state directory
 * (state_dir/actions/<id>.res, written atomically) until the manager acknowledges them
 * (RESULT_ACK), so a result survives a disconnect or a restart and is sent again.
 */
#ifndef BANNIN_AGENT_ACTION_QUEUE_H
#define BANNIN_AGENT_ACTION_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"

struct respond;

#define ACTION_QUEUE_INBOX 64 /* actions waiting to run; more are refused with a result */

struct action_queue;

struct action_queue_stats {
    uint64_t received, ran, expired, refused_full, duplicates, results_pending, acked;
    uint64_t write_errors;
    uint64_t uploads_pending, uploads_stored, uploads_refused, uploads_dropped;
};

/*
 * Runs one action on the worker thread: appends the result JSON object to out; 0 when the
 * action ran (its own success or failure is in the result), else an error.
 */
typedef int (*action_exec_fn)(void *ctx, uint64_t action_id, const char *type,
                              const char *params, size_t params_len, struct bn_buf *out);

/* Creates state_dir/actions (0700), loads the unacknowledged results and starts the worker,
 * which runs each action through exec(exec_ctx, ...). The queue is part of bannin_link
 * (spool, uplink, actions), which knows nothing of the agent's executors. */
int action_queue_new_exec(struct action_queue **out, action_exec_fn exec, void *exec_ctx,
                          const char *state_dir);
/* The agent's queue: actions run through agent_respond_ex(r, id, "manager", ...); r borrowed.
 * (action_queue_respond.c, in bannin_agent.) */
int action_queue_new(struct action_queue **out, struct respond *r, const char *state_dir);
/* Stops the worker (waits for the action running, bounded by its executor) and frees. */
void action_queue_free(struct action_queue *q);

/*
 * Hands one action over (copied); returns at once. An action whose id already has a result
 * is not run again; one past expires_ns (unix ns, 0 = never) gets an "expired" result; a
 * full inbox gets a "busy" failure result. 0, or BN_ENOMEM/BN_EIO.
 */
int action_queue_push(struct action_queue *q, uint64_t id, const char *type, size_t type_len,
                      const char *params, size_t params_len, uint64_t expires_ns);

/*
 * Calls cb for each unacknowledged result not sent in the last resend_ms (status: enum
 * bn_wire_action_status). cb returns 0 when it sent it (the time is noted), else stops.
 */
typedef int (*action_result_fn)(void *ctx, uint64_t id, uint32_t status, const char *json,
                                size_t len);
int action_queue_results(struct action_queue *q, int64_t resend_ms, action_result_fn cb,
                         void *ctx);
/* A new session: every pending result is due again. */
void action_queue_session(struct action_queue *q);
/* The manager stored the result: forget it (file removed). */
int action_queue_ack(struct action_queue *q, uint64_t id);
void action_queue_get_stats(struct action_queue *q, struct action_queue_stats *s);

/*
 * Files to upload to the manager (docs/RESPONSE.md "Upload and attachment"): a forensics
 * action that succeeded leaves its package here (state_dir/actions/<id>.up: path, size,
 * SHA-256), kept across restarts until the manager has stored it (the package is then
 * deleted) or refused it (the package is kept, the refusal logged). At most
 * BN_ATTACH_UPLOADS_MAX wait; past that the package stays on disk, not queued, and is counted.
 */
struct action_upload {
    uint64_t id; /* the action */
    char path[4096];
    char name[129]; /* base name (a plain file name: the manager's attachment name) */
    uint64_t size;
    uint8_t sha256[32];
};
/* The waiting upload with the lowest id above after_id: 0, or BN_ENOTFOUND. */
int action_queue_upload_next(struct action_queue *q, uint64_t after_id, struct action_upload *u);
/* Forgets an upload: stored (delete_file: the package is removed) or refused (kept). */
int action_queue_upload_done(struct action_queue *q, uint64_t id, bool delete_file);
/* Queues a file for upload (what a forensics result does; tests). 0, BN_EEXIST, BN_EFULL. */
int action_queue_upload_add(struct action_queue *q, const struct action_upload *u);

#endif
