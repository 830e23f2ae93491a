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
/* Files added since the baseline are quarantined through v (borrowed) instead of removed. */
void resp_baseline_set_vault(struct resp_baseline *m, struct resp_vault *v);

int resp_baseline_snapshot(struct resp_baseline *m, const char *params, size_t len,
                           struct bn_buf *out);
int resp_baseline_list(struct resp_baseline *m, const char *params, size_t len,
                       struct bn_buf *out);
int resp_baseline_diff(struct resp_baseline *m, const char *params, size_t len,
                       struct bn_buf *out);
int resp_baseline_restore(struct resp_baseline *m, const char *params, size_t len,
                          struct bn_buf *out);
int resp_baseline_approve(struct resp_baseline *m, const char *params, size_t len,
                          struct bn_buf *out);

#endif
