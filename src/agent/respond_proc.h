/*
 * respond_proc.h - process response actions (issue 5): kill one process, kill a whole tree,
 * suspend and resume a tree for investigation.
 *
 * Processes are addressed by pid and, optionally, their boot-relative start time in ns
 * ("start_ns", as in agent events) so a recycled pid is never signalled. Signals go through
 * pidfds (pidfd_open + pidfd_send_signal): once a pidfd is open, the pid it names cannot be
 * reused under it. A tree is found through /proc/<pid>/task/<tid>/children, frozen top-down
 * with SIGSTOP so nothing forks away while it is walked, then killed with SIGKILL.
 *
 * Params and results (JSON):
 *   kill       {"pid":N,"start_ns":optional}  -> {"ok":true,"pids":[N],"method":"pidfd"}
 *   kill_tree  {"pid":N,"start_ns":optional}  -> {"ok":true,"pids":[...],"survivors":[...]}
 *   suspend    {"pid":N,"start_ns":optional}  ->
 * {"ok":true,"pids":[...],"method":"sigstop"|"cgroup"} resume     {"pid":N,"start_ns":optional}  ->
 * {"ok":true,"pids":[...],"method":"sigcont"|"cgroup"} suspend uses the cgroup v2 freezer when the
 * tree is exactly the members of one cgroup (other than the root cgroup), else SIGSTOP to every
 * member; resume undoes either. The agent itself, pid 1 and kernel threads are refused.
 */
#ifndef BANNIN_AGENT_RESPOND_PROC_H
#define BANNIN_AGENT_RESPOND_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "agent/respond.h"

struct resp_proc;

/* Counters of what the module did since it was created. */
struct resp_proc_stats {
    uint64_t killed;    /* processes sent SIGKILL */
    uint64_t stopped;   /* processes sent SIGSTOP (suspend or kill_tree's freeze) */
    uint64_t continued; /* processes sent SIGCONT */
    uint64_t frozen;    /* cgroups frozen */
    uint64_t thawed;    /* cgroups thawed */
    uint64_t refused;   /* requests refused (bad pid, start time mismatch, protected) */
};

/* Creates the module (paths is unused today; may be NULL). */
int resp_proc_new(struct resp_proc **out, const struct respond_paths *paths);
/* Frees m; NULL is a no-op. */
void resp_proc_free(struct resp_proc *m);
/* Copies the counters. */
void resp_proc_stats(const struct resp_proc *m, struct resp_proc_stats *out);

/* Actions: params is a JSON object of len bytes (borrowed); the result is appended to out. */
int resp_kill(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out);
int resp_kill_tree(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out);
int resp_suspend(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out);
int resp_resume(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out);

/*
 * The parameter parser the four actions share, on its own (never touches a process: the
 * fuzz target's entry, tests/fuzz/fuzz_agent_proc_params.c). 0 with {"ok":true,"pid":N,
 * "start_ns":S} (the canonical form) appended to out, or BN_EINVAL with the failed result.
 */
int resp_proc_check(const char *params, size_t len, struct bn_buf *out);

#endif
