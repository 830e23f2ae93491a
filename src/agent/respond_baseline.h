/*
 * respond_baseline.h - configuration and persistence baselines (issue 5, module "baseline").
 *
 * The agent keeps a copy (content-addressed by SHA-256) and the metadata (owner, mode) of
 * every file of a watch list - cron, systemd units and timers, authorized_keys, sudoers, PAM,
 * ld.so.preload, shell profiles, passwd/shadow/group - under baseline_dir, shows what changed
 * as a unified line diff, restores a file to its baseline atomically and lets an operator
 * approve a change (the current file becomes the baseline).
 *
 * Actions (params and results are JSON objects, see respond.h):
 *   baseline_snapshot {}               -> {"ok":true,"files":N}   (first start: all watched)
 *   baseline_list     {}               -> {"ok":true,"files":[...],"changed":[..],
 *                                          "added":[..],"removed":[..]}
 *   baseline_diff     {"path":"/etc/x"}-> {"ok":true,"status":"changed","diff":"--- ...",
 *                                          "meta":[{"field":"mode","baseline":..,"current":..}]}
 *   baseline_restore  {"path":"/etc/x"}-> {"ok":true,"action":"restored|removed|quarantined"}
 *   baseline_approve  {"path":"/etc/x"}-> {"ok":true,"sha256":"..."}
 */
#ifndef BANNIN_AGENT_RESPOND_BASELINE_H
#define BANNIN_AGENT_RESPOND_BASELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/respond.h"

struct resp_baseline;
struct resp_vault;

/* Opens (creates 0700) the store at paths->baseline_dir, or state_dir/baseline; owned. */
int resp_baseline_new(struct resp_baseline **out, const struct respond_paths *paths);
void resp_baseline_free(struct resp_baseline *m);

/*
 * Makes every watched path relative to root (borrowed, copied): "/etc/crontab" is looked up
 * at root + "/etc/crontab". Default "" (the real root). Tests use a temp dir.
 */
int resp_baseline_set_root(struct resp_baseline *m, const char *root);
/* Number of baselined paths; 0 before the first snapshot (the agent then runs one). */
size_t resp_baseline_count(const struct resp_baseline *m);
/* Files added since the baseline are quarantined through v (borrowed) instead of removed. */
void resp_baseline_set_vault(struct resp_baseline *m, struct resp_vault *v);

int resp_baseline_snapshot(struct resp_baseline *m, const char *params, size_t len,
                           struct bn_buf *out);
int resp_baseline_list(struct resp_baseline *m, const char *params, size_t len, struct bn_buf *out);
int resp_baseline_diff(struct resp_baseline *m, const char *params, size_t len, struct bn_buf *out);
int resp_baseline_restore(struct resp_baseline *m, const char *params, size_t len,
                          struct bn_buf *out);
int resp_baseline_approve(struct resp_baseline *m, const char *params, size_t len,
                          struct bn_buf *out);

/*
 * Appends the unified diff (3 lines of context, "--- label (baseline)" / "+++ label
 * (current)" header) turning a[0..an) into b[0..bn) to out; nothing when they are equal.
 * Sets *approx when more than BN_BASELINE_DIFF_D_MAX edits made it a (valid, non-minimal)
 * full replace. redact hides the second ':' field of every line (shadow password hashes).
 * Returns 0, BN_ETOOBIG (more than BN_BASELINE_DIFF_LINES_MAX lines, or out is full), BN_ENOMEM.
 */
int resp_baseline_udiff(const char *a, size_t an, const char *b, size_t bn, const char *label,
                        bool redact, struct bn_buf *out, bool *approx);

#endif
