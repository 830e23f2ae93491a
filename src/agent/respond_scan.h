/*
 * respond_scan.h - the agent's `scan` action: YARA rules over paths on the host.
 *
 * params: {"paths":["/tmp", ...],           files or directories, and/or
 *          "pids":[1234, ...],              process memory (ptrace reader; not the agent)
 *          "rules":"rule x { ... }",        inline rule text, or
 *          "rule_dir":"/path",              rule files/directory (default state_dir/yara),
 *          "max_size":N, "timeout":S, "max_files":N, "max_matches":N}   optional limits
 * result: {"ok":true,"rules":N,"rule_errors":N,"matches":[{"rule","namespace","tags",
 *          "file" or "pid"}], "files_scanned":N,"files_matched":N,"skipped_size":N,"errors":N,
 *          "timeouts":N,"processes_scanned":N,"processes_matched":N,"process_errors":N,
 *          "error_files":[{"file","reason"}],"matches_dropped":N,"max_files_hit":bool,
 *          "deadline_hit":bool,"compile_seconds":F,"scan_seconds":F}
 */
#ifndef BANNIN_AGENT_RESPOND_SCAN_H
#define BANNIN_AGENT_RESPOND_SCAN_H

#include "agent/respond.h"

struct resp_scan;

int resp_scan_new(struct resp_scan **out, const struct respond_paths *paths);
void resp_scan_free(struct resp_scan *m);
int resp_scan(struct resp_scan *m, const char *params, size_t len, struct bn_buf *out);
/*
 * The parameter checks on their own: nothing compiled, read or scanned
 * (tests/fuzz/fuzz_agent_scan_params.c). 0 with {"ok":true,"params":{...}} appended to out,
 * or BN_EINVAL with the failed result the action would give.
 */
int resp_scan_check(const char *params, size_t len, struct bn_buf *out);

#endif
