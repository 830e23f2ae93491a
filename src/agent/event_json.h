/*
 * event_json.h - turns an agent event into one NDJSON line in the Sysmon-for-Linux schema
 * (Channel "Linux-Sysmon/Operational", EventID, UtcTime, Computer, Image, CommandLine, ...),
 * the form mappings/linux.yml and the rules under rules/linux expect, so our rules and
 * SigmaHQ's Linux rules run on agent events unchanged. Events with no Sysmon id (100 and
 * up) also carry "logsource.product"/"logsource.category"/"logsource.service".
 */
#ifndef BANNIN_AGENT_EVENT_JSON_H
#define BANNIN_AGENT_EVENT_JSON_H

#include "agent/agent.h"
#include "bannin/buf.h"

/*
 * Appends ev (borrowed) to out as one JSON object, without a newline. Strings are escaped;
 * invalid UTF-8 becomes U+FFFD. Thread-safe. Returns 0, or BN_ETOOBIG if the maximum of out
 * would be exceeded (out is then left as it was) or BN_ENOMEM.
 */
int agent_event_to_json(const struct agent_event *ev, struct bn_buf *out);

/*
 * agent_event_to_json, and beside it the record bn_record_parse_ndjson(rec, line, len, name)
 * would read from the line written (the same keys, values, types, raw bytes and time; values
 * point into out, so rec is valid until out changes), without parsing the line back. rec
 * (from bn_record_init) is reset. *rec_ok is true when rec was filled; false when the event
 * has a member this does not give exactly as the reader would (a value or key that needed
 * escaping, nested JSON, a second time key): the caller then parses the line. Returns as
 * agent_event_to_json.
 */
struct bn_record;
int agent_event_to_json_rec(const struct agent_event *ev, struct bn_buf *out, struct bn_record *rec,
                            const char *name, bool *rec_ok);

/*
 * agent_event_to_json_rec, but a string value the reader reads back as its own bytes although
 * the line holds it escaped (ASCII with quotes, backslashes or control characters: command
 * lines with quoted arguments) does not stop the record: the record holds a copy of it in
 * rec's pool, as the reader's record would hold it decoded. Such a value does not point into
 * out; every key, value, type and the time are the reader's. rec is valid until it is reset
 * or out changes.
 */
int agent_event_to_json_rec_copy(const struct agent_event *ev, struct bn_buf *out,
                                 struct bn_record *rec, const char *name, bool *rec_ok);

/*
 * Sets the "Computer" name and the boot id (36-character UUID text) ProcessGuid is derived
 * from; both borrowed for the call. NULL keeps the current value. Without a call the host
 * name and /proc/sys/kernel/random/boot_id are read on first use. Not thread-safe with
 * concurrent agent_event_to_json calls: call it at start-up (or in tests).
 */
void agent_json_set_host(const char *computer, const char *boot_id);

/* Writes the ProcessGuid of (pid, start_ns) into buf (at least 40 bytes). Returns buf. */
const char *agent_process_guid(pid_t pid, uint64_t start_ns, char *buf, size_t size);

/* Name of a tier as it appears in "bannin.tier": "bpf", "netlink", "poll" or "none". */
const char *agent_tier_name(enum agent_tier t);

#endif
