/*
 * notify.h - customer notifications: the outbox worker and the channel formats.
 *
 * Triage enqueues one message per incident and channel in the store's outbox (payload: the
 * generic incident JSON built by notify_payload()); the worker thread delivers due messages,
 * rendering them for the channel at send time, and on failure retries with exponential
 * backoff (base * 2^attempts, capped, with jitter) so an outage of a channel loses nothing: a
 * message is marked sent only after the peer accepted it (HTTP 2xx, SMTP 250 after DATA, a
 * syslog datagram or TCP write).
 *
 * Channels (store_channel.type and config_json):
 *   webhook  {"url": "https://...", "format": "generic"|"slack"|"teams", "headers": {..},
 *             "secret": "..." (adds X-Bannin-Signature: sha256=<HMAC of the body>),
 *             "timeout_ms": 10000}
 *   slack, teams  as webhook with that format
 *   smtp     {"url": "smtp://host:25" | "smtps://...", "from": "a@b", "to": ["c@d", ...],
 *             "username": "..", "password": "..", "starttls": true, "timeout_ms": 10000}
 *   syslog   {"host": "192.0.2.1", "port": 514, "protocol": "udp"|"tcp",
 *             "format": "rfc5424"|"cef", "facility": 16 (local0), "app_name": "bannin"}
 */
#ifndef BANNIN_MANAGER_NOTIFY_H
#define BANNIN_MANAGER_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "bannin/common.h"
#include "manager/store.h"

struct mgr_metrics;

/*
 * Builds the generic JSON payload of an incident notification into out (reset first):
 * {"kind":"incident","tenant":..,"tenant_id":..,"incident_id":..,"title":..,
 *  "severity":"high","severity_level":3,"status":..,"tactics":[..],"alert_count":..,
 *  "hosts":[..],"first_seen":..,"last_seen":..,"url":..}; test = 1 marks a "send test".
 * hosts and url may be NULL.
 */
int notify_payload(const struct store_incident *inc, const char *tenant_name,
                   const char *const *hosts, size_t nhosts, const char *url, int test,
                   struct bn_buf *out);

/* Formats of the same payload, for channels and tests. */
/*
 * Response actions that wait for a human (docs/RESPONSE.md "Service modes"): one message per
 * enabled channel of the tenant for one batch of proposals of an incident (not one per
 * action), naming the incident, the hosts, the actions and who may approve (the tenant's
 * customer_admins and the provider_admins, by name). kind "approval_needed" for actions in
 * pending_approval; "objection_window" for actions that run at run_at_ns unless someone
 * rejects them first. Enqueued in the outbox (delivered by the notifier like incidents).
 */
struct notify_approval_item {
    int64_t action_id;
    const char *type;
    const char *host;
    const char *params_json; /* NULL = {} */
    int state;               /* STORE_ACT_PENDING_APPROVAL or STORE_ACT_PENDING_OBJECTION */
    int64_t run_at_ns;       /* pending_objection: when it runs */
};
/* The message's JSON (st NULL: no approver names). */
int notify_approval_payload(struct store *st, const struct store_incident *inc,
                            const char *tenant_name, const struct notify_approval_item *it,
                            size_t n, struct bn_buf *out);
int notify_approval(struct store *st, int64_t tenant_id, int64_t incident_id,
                    const struct notify_approval_item *it, size_t n, int64_t now_ns,
                    int *enqueued);

enum notify_format {
    NOTIFY_FMT_GENERIC = 0,      /* the payload itself */
    NOTIFY_FMT_SLACK,            /* {"text":..,"blocks":[..]} */
    NOTIFY_FMT_TEAMS,            /* MessageCard */
    NOTIFY_FMT_EMAIL,            /* RFC 5322 message (headers + text body) */
    NOTIFY_FMT_RFC5424,          /* one syslog message, no framing */
    NOTIFY_FMT_CEF,              /* CEF:0|... inside an RFC 3164-style syslog header */
};
/*
 * Renders payload (generic JSON) in format fmt into out (reset first). For e-mail, from and
 * to are used in the headers (to: comma-separated); for syslog, facility and app_name.
 * now_ns stamps syslog and e-mail dates. Returns 0, BN_EPARSE (payload not JSON) or BN_ETOOBIG.
 */
struct notify_render_opts {
    const char *from;
    const char *to;
    int facility;                /* syslog facility 0..23; 16 = local0 */
    const char *app_name;
    const char *hostname;        /* syslog HOSTNAME; NULL = gethostname() */
    int64_t now_ns;
};
int notify_render(int fmt, const char *payload, const struct notify_render_opts *o,
                  struct bn_buf *out);

/* Initialises libcurl once per process (thread-safe; notify_deliver and notify_start call it). */
void notify_global_init(void);

/*
 * Delivers payload on channel c now (no outbox, no retry). Returns 0 when the peer accepted
 * it, else a negative BN_E* with a reason in err ("HTTP 503 from https://...",
 * "connect: Connection refused", "bad channel config: 'url' missing").
 */
int notify_deliver(const struct store_channel *c, const char *payload, int64_t now_ns,
                   char *err, size_t errlen);

/*
 * "Send test": delivers a test notification on channel id (within scope) at once and
 * reports the result in err. Returns 0 when delivered, BN_ENOTFOUND, or the delivery error.
 */
int notify_send_test(struct store *st, const struct store_scope *sc, int64_t channel_id,
                     int64_t now_ns, char *err, size_t errlen);

/* Backoff before attempt n+1 after n failed attempts: base * 2^(n-1), capped at max. */
int64_t notify_backoff_ns(int attempts, int64_t base_ns, int64_t max_ns);

struct notify_opts {
    const char *data_dir;        /* the store's directory: the worker opens its own handle */
    int64_t poll_ns;             /* idle poll interval; 0 = 1 s (notify_kick wakes it early) */
    int64_t backoff_base_ns;     /* 0 = 5 s */
    int64_t backoff_max_ns;      /* 0 = 15 min */
    int max_attempts;            /* 0 = 200 (at the cap: about two days of outage) */
    struct mgr_metrics *metrics;
};

struct notify;

/* Starts the outbox worker thread. Returns 0 and an owned worker, or an error. */
int notify_start(struct notify **out, const struct notify_opts *opts);
/* Wakes the worker (new messages were enqueued). Thread-safe. */
void notify_kick(struct notify *n);
/* Stops the worker (finishing the message in flight) and frees it. NULL is a no-op. */
void notify_stop(struct notify *n);

struct notify_stats {
    uint64_t sent;
    uint64_t failed;             /* attempts that failed and were rescheduled */
    uint64_t dead;               /* given up after max_attempts */
    uint64_t passes;             /* outbox scans */
};
void notify_get_stats(struct notify *n, struct notify_stats *st);

#endif
