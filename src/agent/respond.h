/*
 * respond.h - response actions the agent executes (issue 5): the one entry point the
 * manager link, local autonomous containment and the `bannin-agent action` command share,
 * and the executors behind it (each in its own file).
 *
 *   manager (API, playbook) ──ACTION frame──► uplink ──► agent_respond() ──► executor
 *   local critical detection (tenant allows) ──────────► agent_respond()      │
 *   bannin-agent action TYPE JSON (operator, tests) ───► agent_respond()      ▼
 *                                                         result JSON ──RESULT frame──► manager
 *
 * An action is a type and a JSON object of parameters; its result is a JSON object
 * {"ok":bool,"error":"...",...type-specific fields}. Executors never block longer than their
 * own bound and never exit the agent; every request and result is also logged as an agent
 * event (EventID 150 request, 151 result) so the manager's audit trail has the endpoint side.
 *
 * Executors and their files:
 *   isolate, release, isolation_status  respond_isolate.c  (nftables table at top priority)
 *   kill, kill_tree, suspend, resume     respond_proc.c     (pidfd, SIGSTOP/SIGCONT of a tree)
 *   block_add, block_remove, block_list  respond_block.c    (fanotify FAN_OPEN_EXEC_PERM)
 *   quarantine, unquarantine, vault_list respond_vault.c    (libsodium sealed vault)
 *   baseline_diff, baseline_restore,
 *   baseline_approve, baseline_list      respond_baseline.c (persistence/config baselines)
 *   forensics                            respond_forensic.c (a tar.zst package)
 *   scan                                 respond_scan.c     (libyara over paths)
 */
#ifndef BANNIN_AGENT_RESPOND_H
#define BANNIN_AGENT_RESPOND_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "bannin/common.h"

/* Where the executors keep their state (created 0700 when missing). */
struct respond_paths {
    const char *state_dir;    /* e.g. /var/lib/bannin-agent: isolation state, block list */
    const char *vault_dir;    /* quarantine vault (default state_dir/vault) */
    const char *baseline_dir; /* baselines (default state_dir/baseline) */
};

struct respond;

/* One per agent; starts what must run continuously (isolation watchdog, exec blocker). */
int respond_new(struct respond **out, const struct respond_paths *paths);
void respond_free(struct respond *r);

/*
 * Every executor module follows one pattern (respond_<module>.h):
 *   int  resp_<module>_new(struct resp_<module> **out, const struct respond_paths *paths);
 *   void resp_<module>_free(struct resp_<module> *m);
 *   int  resp_<action>(struct resp_<module> *m, const char *params, size_t len,
 *                      struct bn_buf *out);   one per action type
 * so respond.c's table maps a type name to (module, function).
 */

/*
 * Executes one action. type: see above; params: a JSON object (params_len bytes, need not
 * be NUL-terminated). The result JSON object is appended to out. Returns 0 when the action
 * ran (its own success or failure is in the result), BN_EINVAL for an unknown type or bad
 * parameters (a result with the reason is still written), BN_ENOMEM.
 */
int agent_respond(struct respond *r, const char *type, const char *params, size_t params_len,
                  struct bn_buf *out);

/* Executor signature: each respond_<x>.c registers its types in respond.c's table. */
typedef int (*respond_fn)(struct respond *r, const char *params, size_t params_len,
                          struct bn_buf *out);

#endif
