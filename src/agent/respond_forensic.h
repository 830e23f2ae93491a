/*
 * respond_forensic.h - the agent's `forensics` action: a forensic package of the host as a
 * zstd-compressed ustar archive in state_dir/forensics/.
 *
 * params: {"files":["/etc/passwd", ...],   optional: chosen files (each capped)
 *          "events":N,                     last N lines of the events file (default 1000)
 *          "events_path":"/path",          the agent's spool/output file with events
 *          "watch":["/etc/cron.d", ...]}   optional: persistence paths (default list)
 * archive members: manifest.json, processes.json, connections.json, open_files.json,
 *          users.json, persistence.json, events.jsonl (when events_path), files/<path>
 * result: {"ok":true,"path":"...tar.zst","size":N,"sha256":"hex","manifest":{...}}
 */
#ifndef BANNIN_AGENT_RESPOND_FORENSIC_H
#define BANNIN_AGENT_RESPOND_FORENSIC_H

#include "agent/respond.h"

struct resp_forensic;

int resp_forensic_new(struct resp_forensic **out, const struct respond_paths *paths);
void resp_forensic_free(struct resp_forensic *m);
int resp_forensics(struct resp_forensic *m, const char *params, size_t len, struct bn_buf *out);
/*
 * The parameter checks on their own, reading nothing (tests/fuzz/fuzz_agent_forensic_params.c):
 * 0 with {"ok":true,"params":{...}} appended to out, or BN_EINVAL with the failed result.
 */
int resp_forensic_check(const char *params, size_t len, struct bn_buf *out);

#endif
