/*
 * respond_log.h - the agent-side plumbing around respond.h's agent_respond (R4): the
 * EventID 150/151 events every request and result produces, the action id and source the
 * manager link passes along, and the list of action types this agent can run.
 */
#ifndef BANNIN_AGENT_RESPOND_LOG_H
#define BANNIN_AGENT_RESPOND_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "agent/respond.h"
#include "bannin/buf.h"

#define RESPOND_EVENT_REQUEST 150 /* an action was asked for (before it runs) */
#define RESPOND_EVENT_RESULT 151  /* an action's result */

/*
 * Receives each event as one JSON object (Channel "Bannin/Response", EventID 150 or 151,
 * UtcTime, ActionId, Source, Action, Params or Result, Status, DurationUs), borrowed for the
 * call. Called on the thread running the action; must not call back into respond.
 */
typedef void (*respond_event_fn)(void *arg, const char *json, size_t len);

/* Sets the event sink (NULL: events are only logged at info level). */
void respond_set_event_cb(struct respond *r, respond_event_fn fn, void *arg);
/* The manager "host:port" (IP literal) an isolate without a "manager" list keeps reachable. */
void respond_set_manager(struct respond *r, const char *hostport);
/* The "Computer" the events carry (copied; default: none). */
void respond_set_host(struct respond *r, const char *host);

/*
 * agent_respond with the manager's action id (0 = none) and where the request came from
 * ("manager", "local", "cli"), both echoed in the events. Same results as agent_respond.
 */
int agent_respond_ex(struct respond *r, uint64_t action_id, const char *source, const char *type,
                     const char *params, size_t params_len, struct bn_buf *out);

/* Appends the JSON array of the action types this agent can run, e.g. ["capabilities"]. */
int respond_types_json(const struct respond *r, struct bn_buf *out);

/* Counters since respond_new. */
struct respond_stats {
    uint64_t requested, ran, refused, failed_ok_false;
};
void respond_get_stats(struct respond *r, struct respond_stats *s);

/*
 * Exec blocking where the configuration says (mount points or directories, comma-separated;
 * "" = nowhere); every denied exec becomes an EventID 152 event through the event sink
 * (Channel "Bannin/Response": ProcessId, Image, Hashes, RuleKind, Rule, RuleId).
 */
#define RESPOND_EVENT_EXEC_DENIED 152
int respond_block_setup(struct respond *r, const char *marks_csv, bool fail_closed,
                        uint32_t deadline_us);
/* Takes the first configuration baseline when none exists yet (agent start). */
int respond_baseline_first(struct respond *r);

#endif
