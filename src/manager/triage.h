/*
 * triage.h - from raised alerts to curated incidents: scoring, de-duplication, grouping into
 * incidents with ATT&CK progression, suppressions, and the decision to notify.
 *
 * Every alert source (central detection, IOC matches, alerts agents raised locally, the sensor,
 * agent health) hands a struct triage_alert_in to triage_alert(), which:
 *   1. drops it when an active suppression of the tenant matches (counted, hit recorded);
 *   2. scores it (rule level, confidence, asset criticality, ATT&CK tactic);
 *   3. stores it, merged into the alert of the same rule, host and key seen within the
 *      de-duplication window (one alert with a count);
 *   4. groups a new alert into the open incident its process tree already belongs to, else
 *      of its host, else the one its named user was seen in on another host (or, without a
 *      host, of its user), active within the incident window, else opens one; progression
 *      through ATT&CK tactics raises the severity;
 *   5. once an incident reaches the tenant's notify threshold, enqueues one notification per
 *      enabled channel in the outbox; later updates collapse into the pending message, and an
 *      incident is notified once.
 *
 * A struct triage is used by one thread with its own store handle (store.h). The pure parts
 * (scoring, tags, severity, suppression matching) are exported for the API and tests.
 */
#ifndef BANNIN_MANAGER_TRIAGE_H
#define BANNIN_MANAGER_TRIAGE_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/common.h"
#include "manager/store.h"

struct mgr_metrics;

/* ATT&CK enterprise tactics in kill-chain order (bit i of a tactic mask). */
enum triage_tactic {
    TRIAGE_T_RECONNAISSANCE = 0,
    TRIAGE_T_RESOURCE_DEVELOPMENT,
    TRIAGE_T_INITIAL_ACCESS,
    TRIAGE_T_EXECUTION,
    TRIAGE_T_PERSISTENCE,
    TRIAGE_T_PRIVILEGE_ESCALATION,
    TRIAGE_T_DEFENSE_EVASION,
    TRIAGE_T_CREDENTIAL_ACCESS,
    TRIAGE_T_DISCOVERY,
    TRIAGE_T_LATERAL_MOVEMENT,
    TRIAGE_T_COLLECTION,
    TRIAGE_T_COMMAND_AND_CONTROL,
    TRIAGE_T_EXFILTRATION,
    TRIAGE_T_IMPACT,
    TRIAGE_T__COUNT
};

/* Sigma name of a tactic ("initial_access"), or NULL. */
const char *triage_tactic_name(int t);
/* Tactic of a name, with or without "attack." and with '-' or '_' ("Initial-Access" ok); -1. */
int triage_tactic_parse(const char *s, size_t len);

/*
 * Splits Sigma tags ("attack.execution,attack.t1059.004,cve.2021-4034" or space separated)
 * into a tactic mask and comma-separated tactic and technique lists (T1059.004); both
 * outputs are cut to fit and always NUL-terminated. Returns the tactic mask.
 */
uint32_t triage_tags_parse(const char *tags, char *tactics, size_t tactics_size,
                           char *techniques, size_t techniques_size);
/* Tactic mask of a comma-separated tactic list as stored in alerts and incidents. */
uint32_t triage_tactics_mask(const char *tactics);
/* Writes a mask as a comma-separated list in kill-chain order. */
void triage_tactics_format(uint32_t mask, char *out, size_t size);

/*
 * Alert score 0..100: the level sets the base (informational 10, low 25, medium 45, high 70,
 * critical 90), scaled by confidence (0..100: half weight at 0), plus asset criticality
 * (0 low .. 3 crown jewel: +0/+4/+8/+15) and the most dangerous tactic in the mask (+0..+10).
 */
int triage_score(int level, int confidence, int criticality, uint32_t tactics);

/*
 * Incident severity 0..4: the highest alert level, +1 when the incident spans three or more
 * tactics, +1 more when it progresses from an early stage (initial access, execution,
 * persistence, privilege escalation) to a late one (credential access, lateral movement,
 * collection, command and control, exfiltration, impact), +1 on a crown-jewel asset
 * (criticality 3) when already medium or above. Capped at 4 (critical).
 */
int triage_severity(int max_level, uint32_t tactics, int criticality);

/* Parses a level name ("informational", "low", "medium", "high", "critical"); -1. */
int triage_level_parse(const char *s);
const char *triage_level_name(int level);

/* One field of the triggering event, for suppression matching. */
struct triage_field {
    const char *name;
    const char *value;
    size_t name_len;
    size_t value_len;
};

/*
 * Tells whether suppression s applies to an alert: tenant, host ("" = any, case-insensitive),
 * rule ("" = any), not expired at now_ns, and every "field": "value" of s->fields_json equal
 * to a value of that field (a name also matches "trigger.<name>" and "event.<name>"; a value
 * with * or ? is a glob). A fields_json that is not a JSON object never matches.
 */
bool triage_suppression_matches(const struct store_suppression *s, int64_t tenant_id,
                                const char *host, const char *rule_id,
                                const struct triage_field *fields, size_t nfields,
                                int64_t now_ns);

/* An alert as raised by a source; everything borrowed for the call. */
struct triage_alert_in {
    int64_t tenant_id;
    int64_t agent_id;            /* 0 when not from an agent */
    int64_t seq;                 /* the triggering event (agent_id, seq); -1 = none */
    const char *rule_id;         /* required */
    const char *rule_title;
    int level;                   /* 0 informational .. 4 critical */
    int confidence;              /* 1..100; 0 = the source's default */
    const char *tags;            /* Sigma tags, comma or space separated */
    const char *host;
    const char *user;
    const char *key;             /* what else tells repeats apart (image, IOC value, group) */
    const char *process_guid;    /* acting process and its parent, for process-tree grouping */
    const char *parent_guid;
    const char *source;          /* "central", "agent", "ioc", "sensor", "health" */
    int64_t event_ts_ns;         /* event time (MTTD), 0 = unknown */
    int64_t received_ns;         /* manager receipt of the event, 0 = unknown */
    const struct triage_field *fields;
    size_t nfields;
    const char *json;            /* alert context: {"rule":...,"event":...}; NULL = "{}" */
};

struct triage_result {
    int suppressed;              /* 1: dropped by suppression suppression_id */
    int64_t suppression_id;
    int64_t alert_id;
    int merged;                  /* 1: folded into an existing alert (count raised) */
    int score;
    int64_t incident_id;
    int incident_new;
    int severity;                /* the incident's, after this alert */
    int enqueued;                /* outbox messages enqueued or collapsed */
};

struct triage_opts {
    int64_t dedupe_window_ns;    /* 0 = 10 minutes */
    int64_t incident_window_ns;  /* 0 = 1 hour */
    int own_transactions;        /* 1: each triage_alert() is one store transaction */
    struct mgr_metrics *metrics; /* may be NULL */
};

struct triage;

/* Returns an owned triage over st (borrowed, used by this thread only), or NULL. */
struct triage *triage_new(struct store *st, const struct triage_opts *opts);
void triage_free(struct triage *t);

/* Runs one alert through the steps above; res (may be NULL) says what happened. */
int triage_alert(struct triage *t, const struct triage_alert_in *a, int64_t now_ns,
                 struct triage_result *res);

/* Counters since triage_new. */
struct triage_stats {
    uint64_t alerts;
    uint64_t suppressed;
    uint64_t merged;
    uint64_t incidents;
    uint64_t grouped;            /* new alerts that joined an open incident */
    uint64_t enqueued;
    uint64_t errors;             /* store failures (the alert is lost only if the store is) */
    uint64_t index_resets;       /* process-tree / user index cleared at BN_TRIAGE_OPEN_MAX */
};
void triage_get_stats(const struct triage *t, struct triage_stats *st);

/*
 * Creates a suppression from a stored alert in one call (the API's POST
 * /alerts/{id}/suppress): scoped to the alert's tenant and rule, to its host when
 * with_host, and to the values the alert's event has for each name in fields (NULL/0 =
 * none). Requires a reason and an author; expires_ns 0 = never. Audited as
 * "suppression.create". Returns 0 and *id, BN_ENOTFOUND (alert outside scope), BN_EINVAL
 * (missing reason, a field the event lacks: err says which).
 */
int triage_suppress_from_alert(struct store *st, const struct store_scope *sc, int64_t alert_id,
                               const char *const *fields, size_t nfields, int with_host,
                               int64_t expires_ns, const char *reason, const char *author,
                               int64_t now_ns, int64_t *id, char *err, size_t errlen);

#endif
