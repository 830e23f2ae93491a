/*
 * store.h - the manager's storage interface. The single-node product implements it on
 * SQLite in WAL mode (store_sqlite*.c, one data directory); a PostgreSQL backend comes with
 * scale-out, so nothing outside src/manager/store_*.c sees SQL or sqlite3 types.
 *
 * Threading: a struct store is used by one thread at a time; each manager thread (ingest,
 * API, triage, notifier) opens its own handle on the same data directory. Every function
 * returns 0 or a negative BN_E* code (bannin/error.h) and, on error, fills err when given.
 *
 * Ids are int64 row ids; times are ns since the epoch (int64); JSON columns are UTF-8 text.
 */
#ifndef BANNIN_MANAGER_STORE_H
#define BANNIN_MANAGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/common.h"

struct store;

struct store_err {
    char msg[256];
};

/* Opens (creating and migrating) the store in dir: dir/bannin.db. */
int store_open(struct store **out, const char *dir, struct store_err *err);

/*
 * Durability: the database runs in WAL mode. With sync_full = 0 (synchronous=NORMAL, the
 * default) a committed transaction survives a kill -9 of the process (it is in the WAL, in
 * the kernel's page cache) but the last transactions may be lost on power loss; sync_full = 1
 * (synchronous=FULL) fsyncs the WAL on every commit. docs/MANAGER.md "Store" has the figures.
 */
struct store_opts {
    int sync_full;              /* 1: synchronous=FULL; 0: NORMAL */
    int64_t busy_timeout_ms;    /* waiting for another handle's write lock; 0 = 10 s */
    int64_t cache_kib;          /* page cache per handle; 0 = 16 MiB */
    int64_t autocheckpoint;     /* WAL pages before a commit checkpoints; 0 = 16384 (64 MiB),
                                 * -1 = never (a maintenance thread calls store_checkpoint) */
    int64_t max_pages;          /* test seam: PRAGMA max_page_count (0 = no limit) */
    int max_version;            /* test seam: migrate only up to this version (0 = latest) */
    int64_t low_space_bytes;    /* store_health raises the alarm below this much free space
                                 * on the data filesystem; 0 = 64 MiB, -1 = never */
    int compress;               /* zstd level 1..19 for stored event JSON, with a dictionary
                                 * trained on the first events; 0 = level 1 in blocks, plain
                                 * text in rows (row_events) */
    int row_events;             /* 1: the layout before schema 6, each event's JSON in its
                                 * own row (compressed only when compress > 0); 0: the JSON
                                 * of each insert call in one zstd block (the default) */
};
int store_open_ex(struct store **out, const char *dir, const struct store_opts *opts,
                  struct store_err *err);
/* The schema version this build migrates to. */
int store_schema_latest(void);
/* A description of the last error on this handle (never NULL). */
const char *store_errmsg(struct store *st);

/*
 * Disk-full alarm. A write or commit that fails with SQLITE_FULL (or an I/O error with
 * ENOSPC/EDQUOT) is rolled back, returns BN_EFULL and raises the alarm on the handle: the
 * caller must not acknowledge. The alarm clears on the next successful commit. Every handle
 * (the API's too) also reports the alarm while the data filesystem has less free space than
 * store_opts.low_space_bytes, so it shows wherever it is asked for, and before writes fail.
 */
struct store_health {
    int full;                   /* the alarm: a write failed for lack of space, or space low */
    int low_space;              /* raised (also) because free space is below the threshold */
    int io_error;               /* last write failed with another I/O error */
    int64_t alarm_ns;           /* when the alarm was raised */
    char alarm[256];            /* what failed */
    int64_t db_bytes;           /* bannin.db size */
    int64_t wal_bytes;          /* bannin.db-wal size */
    int64_t fs_free_bytes;      /* free space for unprivileged users on the data filesystem */
    int64_t full_count;         /* writes refused for lack of space since open */
};
int store_health(struct store *st, struct store_health *out);
/*
 * Copies committed WAL pages into the database (PASSIVE: never waits for, nor blocks, the
 * writers), so the ingest thread does not pay for checkpoints; with truncate = 1 it waits for
 * the writers and truncates the WAL (for idle moments). *wal_pages and *done when given.
 */
int store_checkpoint(struct store *st, int truncate, int64_t *wal_pages, int64_t *done);
void store_close(struct store *st);
int store_schema_version(struct store *st);
/* PRAGMA integrity_check (and foreign_key_check): 0 when ok, BN_ECORRUPT with the first problem. */
int store_check(struct store *st, struct store_err *err);

/* Transactions group writes (one per ingested batch: the ack follows the commit). */
int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);
/*
 * Group commit with the sync taken off the writer's thread (the link's pipeline,
 * docs/MANAGER.md "Store"): store_begin_deferred opens a transaction whose COMMIT writes the
 * WAL without waiting for the disk (synchronous=NORMAL for it, the handle's own setting back
 * after the commit or rollback); store_wal_sync then makes every transaction committed on
 * the database before the call durable (fdatasync of the WAL). Nothing of a deferred
 * transaction may be acknowledged before a store_wal_sync that started after its commit
 * returned 0. store_wal_sync touches only a file descriptor: any thread may call it while
 * the handle's thread goes on writing. A failed sync is sticky (the kernel may have dropped
 * the pages it could not write, so a later sync proves nothing): every later call fails too,
 * until the store is reopened. With synchronous=NORMAL chosen for the handle
 * (store_opts.sync_full = 0) there is nothing to sync: store_needs_sync() is false.
 */
int store_begin_deferred(struct store *st);
int store_wal_sync(struct store *st);
bool store_needs_sync(const struct store *st);

/* ---- tenants, users, tokens ---------------------------------------------------------- */

enum store_mode {
    STORE_MODE_SEMI = 0,   /* semi-managed: containment waits for a customer_admin */
    STORE_MODE_FULL = 1,   /* fully-managed */
};

struct store_tenant {
    int64_t id;
    char name[128];
    int mode;                   /* enum store_mode */
    int notify_min_severity;    /* incidents at or above notify (0 info .. 4 critical) */
    int64_t retention_days;
    int64_t retention_bytes;
    int64_t created_ns;
};

enum store_role {
    STORE_ROLE_PROVIDER_ADMIN = 0,
    STORE_ROLE_ANALYST,
    STORE_ROLE_CUSTOMER_ADMIN,
    STORE_ROLE_CUSTOMER_VIEWER,
};

const char *store_role_name(int role);
int store_role_parse(const char *name);  /* -1 when unknown */

struct store_user {
    int64_t id;
    int64_t tenant_id;          /* 0 for provider users (all tenants) */
    char name[128];
    int role;                   /* enum store_role */
    char pwhash[192];           /* libsodium crypto_pwhash_str (Argon2id) */
    int disabled;
    int64_t created_ns;
};

/* ---- agents ------------------------------------------------------------------------- */

struct store_agent {
    int64_t id;
    int64_t tenant_id;
    char uid[64];               /* agent id: hex of the public key hash */
    char hostname[256];
    char cert_fp[96];           /* SHA-256 of the client certificate, hex */
    char sign_pk[96];           /* Ed25519 batch-signing public key, hex */
    int revoked;
    int tier;
    int64_t last_seen_ns;
    int64_t last_seq;           /* highest sequence number stored */
    int64_t heartbeat_interval_ms;
    char health_json[1024];     /* last heartbeat: tier, drops, cpu, rss, spool depth */
    int asset_criticality;      /* 0 low .. 3 crown jewel */
    int64_t enrolled_ns;
};

/* ---- events, alerts, incidents -------------------------------------------------------- */

/* One stored event: the agent's NDJSON object plus indexed columns. */
struct store_event {
    int64_t id;
    int64_t tenant_id;
    int64_t agent_id;
    int64_t seq;                /* the agent's sequence number: (agent_id, seq) is unique */
    int64_t ts_ns;              /* event time */
    int64_t received_ns;        /* manager receipt time (MTTD) */
    int event_id;               /* Sysmon EventID, or 0 */
    const char *host;
    const char *image;          /* process image, when the event has one */
    const char *user;
    const char *json;           /* the whole event as received */
    size_t json_len;
};

struct store_alert {
    int64_t id;
    int64_t tenant_id;
    int64_t agent_id;
    int64_t incident_id;        /* 0 until grouped */
    char rule_id[64];
    char rule_title[256];
    int level;                  /* 0 informational .. 4 critical */
    int score;                  /* 0..100 */
    char tactics[256];          /* comma separated ATT&CK tactics */
    char techniques[256];
    char dedupe_key[256];       /* rule + host + key fields */
    int64_t count;              /* de-duplicated repeats */
    int64_t first_ns;
    int64_t last_ns;
    int64_t event_ts_ns;        /* time of the triggering event (MTTD) */
    char host[256];
    char user[128];
    char source[16];            /* "agent" (local), "central", "ioc", "sensor", "health" */
    const char *json;           /* trigger event and context */
};

enum store_incident_status {
    STORE_INC_NEW = 0,
    STORE_INC_ACKNOWLEDGED,
    STORE_INC_INVESTIGATING,
    STORE_INC_CONTAINED,
    STORE_INC_RESOLVED,
    STORE_INC_FALSE_POSITIVE,
};

struct store_incident {
    int64_t id;
    int64_t tenant_id;
    char title[256];
    int severity;               /* 0..4 */
    int status;                 /* enum store_incident_status */
    int64_t assignee_id;
    char group_key[256];        /* host or user the incident groups on */
    char tactics[256];
    int64_t alert_count;
    int64_t first_ns;
    int64_t last_ns;
    int64_t created_ns;
    int64_t acknowledged_ns;    /* MTTA */
    int64_t resolved_ns;        /* MTTR */
    int notified_severity;      /* the severity the last notification carried (-1 none) */
};

/* ---- core operations (the link, ingest and enrolment depend on these) ------------------ */

int store_tenant_create(struct store *st, const struct store_tenant *t, int64_t *id);
int store_tenant_get(struct store *st, int64_t id, struct store_tenant *out);
int store_tenant_by_name(struct store *st, const char *name, struct store_tenant *out);

/* Enrolment tokens: only the SHA-256 (hex) of a token is stored. */
int store_token_create(struct store *st, int64_t tenant_id, const char *hash_hex, int uses,
                       int64_t expires_ns, const char *created_by, int64_t *id);
/* Uses one use of a token: BN_EDENIED when unknown, expired, revoked or used up. */
int store_token_consume(struct store *st, const char *hash_hex, int64_t now_ns,
                        int64_t *tenant_id);
int store_token_revoke(struct store *st, int64_t tenant_id, int64_t id);

int store_agent_create(struct store *st, const struct store_agent *a, int64_t *id);
int store_agent_get(struct store *st, int64_t id, struct store_agent *out);
int store_agent_by_uid(struct store *st, const char *uid, struct store_agent *out);
int store_agent_by_cert(struct store *st, const char *cert_fp, struct store_agent *out);
int store_agent_revoke(struct store *st, int64_t tenant_id, int64_t id);
int store_agent_seen(struct store *st, int64_t id, int64_t now_ns, int tier,
                     const char *health_json);
/* Agents whose last_seen_ns + 3 x heartbeat interval < now_ns (silent: outage or tampering). */
int store_agent_silent(struct store *st, int64_t now_ns, int64_t *ids, size_t max, size_t *n);

/*
 * Inserts a batch of events inside the caller's transaction. An event whose (agent_id, seq)
 * is already stored is skipped and counted in *dups. Updates the agent's last_seq. With
 * schema 6 (unless opts.row_events) the events' JSON goes into zstd blocks of at most 2 MiB
 * of text, one tenant each: one block per call for a batch of one agent (docs/MANAGER.md,
 * "Event blocks"); callers pass a batch, not single events, to get the compression.
 */
int store_events_insert(struct store *st, const struct store_event *ev, size_t n,
                        size_t *inserted, size_t *dups);
int64_t store_events_count(struct store *st, int64_t tenant_id);

/* ---- audit ------------------------------------------------------------------------- */

/* Appends an audit entry whose hash chains to the previous one (SHA-256, hex). */
int store_audit(struct store *st, int64_t tenant_id, const char *actor, const char *action,
                const char *object, const char *detail_json);
/* Walks the chain: 0 when every entry's hash matches, BN_ECORRUPT with the first bad id. */
int store_audit_verify(struct store *st, int64_t *bad_id);

/* ==== API (M3) and triage (M4) operations ============================================== */
/*
 * Tenant scope. Every list, search and by-id access from the API takes the caller's scope:
 * the tenant ids it may see, or all = 1 (provider roles only: the caller decides). A row of
 * a tenant outside the scope is never returned and never written: by-id calls answer
 * BN_ENOTFOUND, exactly as for a row that does not exist. n = 0 and all = 0 sees nothing.
 * Rows of tenant 0 (provider users, global IOC lists and rules, provider audit entries) are
 * visible only with all = 1.
 */
struct store_scope {
    int all;
    const int64_t *ids;
    size_t n;
};

/*
 * List callbacks: called once per row; the row and its strings are borrowed for the call.
 * Return 0 to go on, 1 to stop (the list then returns 0), a negative BN_E* to abort (the list
 * returns it).
 */

/* Paging: rows come newest first; pass the last row's cursor to get the next page. */
struct store_cursor {
    int64_t ts_ns;              /* 0 = from the newest */
    int64_t id;
};

/* ---- tenants ---- */
typedef int (*store_tenant_cb)(void *ctx, const struct store_tenant *t);
int store_tenant_list(struct store *st, const struct store_scope *sc, store_tenant_cb cb,
                      void *ctx);
/* Updates name, mode, notify_min_severity, retention_days and retention_bytes of t->id. */
int store_tenant_update(struct store *st, const struct store_scope *sc,
                        const struct store_tenant *t);

/* ---- users ---- */
typedef int (*store_user_cb)(void *ctx, const struct store_user *u);
/* BN_EEXIST when the name is taken (names are unique across tenants: they log in by name). */
int store_user_create(struct store *st, const struct store_user *u, int64_t *id);
int store_user_get(struct store *st, const struct store_scope *sc, int64_t id,
                   struct store_user *out);
/* Unscoped: for the login. */
int store_user_by_name(struct store *st, const char *name, struct store_user *out);
int store_user_list(struct store *st, const struct store_scope *sc, store_user_cb cb,
                    void *ctx);
/* Updates role, pwhash and disabled of u->id (tenant and name do not change). */
int store_user_update(struct store *st, const struct store_scope *sc,
                      const struct store_user *u);
/* Deletes the user and revokes its sessions and API tokens. */
int store_user_delete(struct store *st, const struct store_scope *sc, int64_t id);

/* ---- sessions and API tokens: only the SHA-256 (hex) of the secret is stored ---- */
enum store_auth_kind {
    STORE_AUTH_SESSION = 0,
    STORE_AUTH_API_TOKEN = 1,
};
struct store_auth {
    int64_t id;
    int64_t user_id;
    int64_t tenant_id;          /* the user's */
    int kind;                   /* enum store_auth_kind */
    char name[128];             /* API token label; "" for sessions */
    int64_t created_ns;
    int64_t expires_ns;         /* 0 = never */
    int64_t last_used_ns;
    int revoked;
};
typedef int (*store_auth_cb)(void *ctx, const struct store_auth *a);
int store_auth_create(struct store *st, int kind, int64_t user_id, const char *hash_hex,
                      const char *name, int64_t now_ns, int64_t expires_ns, int64_t *id);
/*
 * Finds a live session or token by hash and its user: BN_EDENIED when unknown, expired,
 * revoked, or the user is disabled or deleted. Updates last_used_ns (at most once a minute).
 */
int store_auth_lookup(struct store *st, const char *hash_hex, int64_t now_ns,
                      struct store_auth *auth, struct store_user *user);
int store_auth_revoke(struct store *st, const struct store_scope *sc, int64_t id);
int store_auth_revoke_hash(struct store *st, const char *hash_hex);   /* logout */
/* Lists the sessions and tokens of users in scope (user_id 0 = all such users). */
int store_auth_list(struct store *st, const struct store_scope *sc, int64_t user_id,
                    store_auth_cb cb, void *ctx);
/* Deletes sessions and tokens expired before now_ns; *n = how many. */
int store_auth_expire(struct store *st, int64_t now_ns, int64_t *n);

/* ---- enrolment tokens ---- */
struct store_token {
    int64_t id;
    int64_t tenant_id;
    int uses_left;
    int64_t expires_ns;
    int revoked;
    char created_by[128];
    int64_t created_ns;
};
typedef int (*store_token_cb)(void *ctx, const struct store_token *t);
int store_token_list(struct store *st, const struct store_scope *sc, store_token_cb cb,
                     void *ctx);

/* ---- agents ---- */
typedef int (*store_agent_cb)(void *ctx, const struct store_agent *a);
int store_agent_list(struct store *st, const struct store_scope *sc, store_agent_cb cb,
                     void *ctx);
int store_agent_get_scoped(struct store *st, const struct store_scope *sc, int64_t id,
                           struct store_agent *out);
int store_agent_set_criticality(struct store *st, const struct store_scope *sc, int64_t id,
                                int criticality);

/* ---- event search ---- */
enum store_field_op {
    STORE_FIELD_EQ = 0,         /* json_extract(event, path) = value */
    STORE_FIELD_CONTAINS,       /* value is a substring (case-sensitive) */
};
struct store_field_filter {
    const char *field;          /* "CommandLine", nested with dots: "process.parent.name" */
    const char *value;
    int op;                     /* enum store_field_op */
};
struct store_event_query {
    struct store_scope scope;
    int64_t from_ns;            /* event time >= from_ns (0 = open) */
    int64_t to_ns;              /* event time < to_ns (0 = open) */
    int64_t agent_id;           /* 0 = any */
    const char *host;           /* exact, NULL = any */
    int event_id;               /* 0 = any */
    const char *image_sub;      /* substring of the image, NULL = any */
    const char *user;           /* exact, NULL = any */
    const struct store_field_filter *fields;
    size_t nfields;             /* <= BN_STORE_FIELD_FILTERS_MAX */
    size_t limit;               /* 0 = 100; at most BN_STORE_QUERY_ROWS_MAX */
    struct store_cursor after;  /* paging: rows older than this (ts_ns, id) */
};
typedef int (*store_event_cb)(void *ctx, const struct store_event *ev);
/*
 * Calls cb for the matching events, newest first. *next (when given) is the cursor of the
 * last row returned, and *more is 1 when the page was full (there may be more).
 */
int store_event_search(struct store *st, const struct store_event_query *q, store_event_cb cb,
                       void *ctx, struct store_cursor *next, int *more);
/* One event by (agent_id, seq) within scope. json is valid until the next call on st. */
int store_event_get(struct store *st, const struct store_scope *sc, int64_t agent_id,
                    int64_t seq, struct store_event *out);

/* ---- alerts ---- */
/*
 * Stores an alert, or merges it into the alert of the same tenant and dedupe_key whose
 * last_ns is within window_ns before a->first_ns: count += a->count (1 when 0), last_ns and
 * score/level raised to the max. *id is the stored alert; *merged = 1 when merged.
 */
int store_alert_upsert(struct store *st, const struct store_alert *a, int64_t window_ns,
                       int64_t *id, int *merged);
/* out->json is valid until the next call on st. */
int store_alert_get(struct store *st, const struct store_scope *sc, int64_t id,
                    struct store_alert *out);
struct store_alert_query {
    struct store_scope scope;
    int64_t from_ns;            /* last_ns >= from_ns */
    int64_t to_ns;              /* first_ns < to_ns (0 = open) */
    const char *rule_id;
    const char *host;
    const char *source;
    int min_level;
    int64_t incident_id;        /* -1 = any, 0 = not grouped, else that incident */
    int64_t agent_id;           /* 0 = any */
    size_t limit;               /* 0 = 100; at most BN_STORE_QUERY_ROWS_MAX */
    struct store_cursor after;  /* cursor over (last_ns, id) */
};
typedef int (*store_alert_cb)(void *ctx, const struct store_alert *a);
int store_alert_list(struct store *st, const struct store_alert_query *q, store_alert_cb cb,
                     void *ctx, struct store_cursor *next, int *more);
int store_alert_set_incident(struct store *st, const struct store_scope *sc, int64_t alert_id,
                             int64_t incident_id);
/*
 * Links an event (agent_id, seq) to the alert, for the incident timeline. At most
 * BN_STORE_ALERT_EVENTS_MAX per alert: past it the link is not stored and BN_DECLINED is
 * returned (the alert's count still counts every repeat).
 */
int store_alert_add_event(struct store *st, int64_t alert_id, int64_t agent_id, int64_t seq);

/* ---- incidents ---- */
int store_incident_create(struct store *st, const struct store_incident *inc, int64_t *id);
int store_incident_get(struct store *st, const struct store_scope *sc, int64_t id,
                       struct store_incident *out);
/*
 * Writes title, severity, status, assignee_id, group_key, tactics, alert_count, first_ns,
 * last_ns, acknowledged_ns, resolved_ns and notified_severity of inc->id.
 */
int store_incident_update(struct store *st, const struct store_scope *sc,
                          const struct store_incident *inc);
/*
 * Sets the status; the first move out of NEW stamps acknowledged_ns, the first move to
 * RESOLVED or FALSE_POSITIVE stamps resolved_ns (MTTA, MTTR).
 */
int store_incident_set_status(struct store *st, const struct store_scope *sc, int64_t id,
                              int status, int64_t now_ns);
int store_incident_set_assignee(struct store *st, const struct store_scope *sc, int64_t id,
                                int64_t assignee_id);
int store_incident_set_notified(struct store *st, int64_t id, int notified_severity);
/* The newest open (not resolved / false positive) incident of tenant + group_key whose
 * last_ns >= since_ns: for grouping. BN_ENOTFOUND when none. */
int store_incident_find_open(struct store *st, int64_t tenant_id, const char *group_key,
                             int64_t since_ns, struct store_incident *out);
struct store_incident_query {
    struct store_scope scope;
    int status;                 /* -1 = any, -2 = open (not resolved/false positive) */
    int min_severity;
    int64_t assignee_id;        /* 0 = any */
    int64_t from_ns;            /* last_ns >= from_ns */
    int64_t to_ns;              /* first_ns < to_ns (0 = open) */
    size_t limit;
    struct store_cursor after;  /* cursor over (last_ns, id) */
};
typedef int (*store_incident_cb)(void *ctx, const struct store_incident *inc);
int store_incident_list(struct store *st, const struct store_incident_query *q,
                        store_incident_cb cb, void *ctx, struct store_cursor *next, int *more);
struct store_note {
    int64_t id;
    int64_t incident_id;
    char author[128];
    const char *text;
    int64_t created_ns;
};
typedef int (*store_note_cb)(void *ctx, const struct store_note *n);
int store_incident_note_add(struct store *st, const struct store_scope *sc, int64_t incident_id,
                            const char *author, const char *text, int64_t now_ns, int64_t *id);
int store_incident_notes(struct store *st, const struct store_scope *sc, int64_t incident_id,
                         store_note_cb cb, void *ctx);
/*
 * Timeline: the incident's alerts (oldest first), each followed by its linked events
 * (event_cb may be NULL).
 */
int store_incident_timeline(struct store *st, const struct store_scope *sc, int64_t incident_id,
                            store_alert_cb alert_cb, store_event_cb event_cb, void *ctx);
typedef int (*store_host_cb)(void *ctx, const char *host, int64_t alerts, int64_t first_ns,
                             int64_t last_ns);
int store_incident_hosts(struct store *st, const struct store_scope *sc, int64_t incident_id,
                         store_host_cb cb, void *ctx);

/* ---- suppressions ---- */
struct store_suppression {
    int64_t id;
    int64_t tenant_id;
    char host[256];             /* "" = any host */
    char rule_id[64];           /* "" = any rule */
    const char *fields_json;    /* {"field": "value", ...} all must match; "{}" or NULL = any */
    int64_t expires_ns;         /* 0 = never */
    char reason[512];
    char author[128];
    int64_t created_ns;
    int64_t hits;
};
typedef int (*store_suppression_cb)(void *ctx, const struct store_suppression *s);
int store_suppression_create(struct store *st, const struct store_suppression *s, int64_t *id);
int store_suppression_list(struct store *st, const struct store_scope *sc, int include_expired,
                           int64_t now_ns, store_suppression_cb cb, void *ctx);
int store_suppression_delete(struct store *st, const struct store_scope *sc, int64_t id);
/* The unexpired suppressions of the tenant that apply to rule_id (theirs or any rule). */
int store_suppression_active(struct store *st, int64_t tenant_id, const char *rule_id,
                             int64_t now_ns, store_suppression_cb cb, void *ctx);
int store_suppression_hit(struct store *st, int64_t id, int64_t n);

/* ---- IOC lists ---- */
struct store_ioc_list {
    int64_t id;
    int64_t tenant_id;          /* 0 = global (all tenants) */
    char name[128];
    char source[128];
    int64_t created_ns;
    int64_t entries;
};
struct store_ioc {
    const char *type;           /* "md5" "sha1" "sha256" "ip" "domain" "url" ... */
    const char *value;          /* normalised by the caller (lower-case hashes, domains) */
    const char *source;         /* where it came from (feed, STIX id), may be NULL */
    int64_t list_id;            /* filled on lookup and iteration */
};
typedef int (*store_ioc_list_cb)(void *ctx, const struct store_ioc_list *l);
typedef int (*store_ioc_cb)(void *ctx, const struct store_ioc *e);
/* BN_EEXIST when the tenant already has a list of that name. */
int store_ioc_list_create(struct store *st, int64_t tenant_id, const char *name,
                          const char *source, int64_t now_ns, int64_t *id);
int store_ioc_list_list(struct store *st, const struct store_scope *sc, store_ioc_list_cb cb,
                        void *ctx);
int store_ioc_list_delete(struct store *st, const struct store_scope *sc, int64_t id);
/* Bulk insert into a list in one transaction; existing (type, value) are skipped. */
int store_ioc_add(struct store *st, const struct store_scope *sc, int64_t list_id,
                  const struct store_ioc *e, size_t n, size_t *added);
/* Lookup in the tenant's and the global lists: 0 and *out filled, or BN_ENOTFOUND. */
int store_ioc_lookup(struct store *st, int64_t tenant_id, const char *type, const char *value,
                     struct store_ioc *out);
/* Every entry the tenant sees (its lists and the global ones), for an in-memory matcher. */
int store_ioc_each(struct store *st, int64_t tenant_id, store_ioc_cb cb, void *ctx);
int store_ioc_entries(struct store *st, const struct store_scope *sc, int64_t list_id,
                      store_ioc_cb cb, void *ctx);

/* ---- notification channels and outbox ---- */
struct store_channel {
    int64_t id;
    int64_t tenant_id;
    char name[128];
    char type[16];              /* webhook slack teams smtp syslog */
    const char *config_json;
    int enabled;
    int64_t created_ns;
};
typedef int (*store_channel_cb)(void *ctx, const struct store_channel *c);
int store_channel_create(struct store *st, const struct store_channel *c, int64_t *id);
/* config_json is valid until the next call on st. */
int store_channel_get(struct store *st, const struct store_scope *sc, int64_t id,
                      struct store_channel *out);
/* Updates name, type, config_json and enabled of c->id. */
int store_channel_update(struct store *st, const struct store_scope *sc,
                         const struct store_channel *c);
int store_channel_delete(struct store *st, const struct store_scope *sc, int64_t id);
int store_channel_list(struct store *st, const struct store_scope *sc, store_channel_cb cb,
                       void *ctx);

enum store_outbox_state {
    STORE_OUTBOX_PENDING = 0,
    STORE_OUTBOX_SENT = 1,
    STORE_OUTBOX_DEAD = 2,
};
struct store_outbox {
    int64_t id;
    int64_t tenant_id;
    int64_t channel_id;
    int64_t incident_id;        /* 0 for a "send test" */
    const char *payload;
    int64_t created_ns;
    int64_t next_attempt_ns;
    int attempts;
    int state;                  /* enum store_outbox_state */
    int64_t sent_ns;
    char last_error[256];
};
typedef int (*store_outbox_cb)(void *ctx, const struct store_outbox *o);
/*
 * Enqueues a message. With collapse = 1 and a pending message for the same channel and
 * incident, that message's payload is replaced instead (updates collapse into one); *id is
 * the message either way.
 */
int store_outbox_enqueue(struct store *st, const struct store_outbox *o, int collapse,
                         int64_t *id);
/* Pending messages with next_attempt_ns <= now_ns, oldest first, at most max. */
int store_outbox_due(struct store *st, int64_t now_ns, size_t max, store_outbox_cb cb,
                     void *ctx);
int store_outbox_sent(struct store *st, int64_t id, int64_t now_ns);
/* Counts a failed attempt; DEAD once attempts reaches max_attempts, else retried then. */
int store_outbox_failed(struct store *st, int64_t id, int64_t next_attempt_ns,
                        const char *error, int max_attempts);
int store_outbox_list(struct store *st, const struct store_scope *sc, int state,
                      size_t limit, store_outbox_cb cb, void *ctx);

/* ---- rules state ---- */
struct store_rule_state {
    int64_t tenant_id;          /* 0 = all tenants */
    char rule_id[64];
    int enabled;
    char updated_by[128];
    int64_t updated_ns;
};
typedef int (*store_rule_state_cb)(void *ctx, const struct store_rule_state *r);
int store_rule_set_enabled(struct store *st, int64_t tenant_id, const char *rule_id,
                           int enabled, const char *by, int64_t now_ns);
int store_rule_states(struct store *st, const struct store_scope *sc, store_rule_state_cb cb,
                      void *ctx);
struct store_rule_upload {
    int64_t id;
    int64_t tenant_id;          /* 0 = all tenants */
    char rule_id[64];
    char title[256];
    const char *yaml;
    char author[128];
    int64_t created_ns;
};
typedef int (*store_rule_upload_cb)(void *ctx, const struct store_rule_upload *r);
/* Stores (or replaces, same tenant + rule_id) an uploaded rule's YAML, validated by the caller. */
int store_rule_upload(struct store *st, const struct store_rule_upload *r, int64_t *id);
int store_rule_uploads(struct store *st, const struct store_scope *sc,
                       store_rule_upload_cb cb, void *ctx);
int store_rule_upload_delete(struct store *st, const struct store_scope *sc, int64_t id);

/* ---- SOC metrics ---- */
struct store_metric_stats {
    int64_t n;
    int64_t avg_ns;
    int64_t p50_ns;
    int64_t p90_ns;
};
struct store_metrics {
    int64_t tenant_id;
    char rule_id[64];           /* "" for the tenant's totals */
    struct store_metric_stats mttd;   /* alert first_ns - event_ts_ns, alerts in range */
    struct store_metric_stats mtta;   /* acknowledged_ns - created_ns, incidents in range */
    struct store_metric_stats mttr;   /* resolved_ns - created_ns */
};
typedef int (*store_metrics_cb)(void *ctx, const struct store_metrics *m);
/*
 * Metrics of alerts and incidents created in [from_ns, to_ns), one row per tenant in scope
 * and, with per_rule, one more per tenant and rule (an incident counts for each rule of its
 * alerts).
 */
int store_metrics(struct store *st, const struct store_scope *sc, int64_t from_ns,
                  int64_t to_ns, int per_rule, store_metrics_cb cb, void *ctx);

/* ---- audit list ---- */
struct store_audit_entry {
    int64_t id;
    int64_t ts_ns;
    int64_t tenant_id;
    const char *actor;
    const char *action;
    const char *object;
    const char *detail_json;
    char hash[65];
};
typedef int (*store_audit_cb)(void *ctx, const struct store_audit_entry *e);
/* Newest first; before_id 0 = from the newest; limit 0 = 100. */
int store_audit_list(struct store *st, const struct store_scope *sc, int64_t before_id,
                     size_t limit, store_audit_cb cb, void *ctx);

/* ---- retention ---- */
struct store_retention_stats {
    int64_t deleted_age;        /* events older than the tenant's retention_days */
    int64_t deleted_size;       /* oldest events over the tenant's retention_bytes */
    int64_t tenants;            /* tenants examined */
    int more;                   /* 1 when the budget ran out before all work was done */
};
/*
 * One step of retention: deletes at most budget events (0 = 20000), in transactions of at
 * most BN_STORE_RETENTION_TX_ROWS rows so ingest is never held up for long. Call it
 * periodically, and again soon while stats->more is set.
 */
int store_retention_step(struct store *st, int64_t now_ns, int64_t budget,
                         struct store_retention_stats *stats);
/* Stored event bytes of a tenant (what retention_bytes is compared with). */
int64_t store_events_bytes(struct store *st, int64_t tenant_id);


/* ==== response actions (issue 5, R4: store_sqlite_actions.c) ============================ */
/*
 * An action is asked for (API, playbook), waits for approval or is queued at once, is sent
 * to its agent when the agent is connected, and ends done/failed (the agent's result),
 * rejected (an approver said no) or expired (not sent, or not approved, before expires_ns).
 */
enum store_action_state {
    STORE_ACT_PENDING_APPROVAL = 0,
    STORE_ACT_QUEUED = 1,
    STORE_ACT_SENT = 2,
    STORE_ACT_DONE = 3,
    STORE_ACT_FAILED = 4,
    STORE_ACT_REJECTED = 5,
    STORE_ACT_EXPIRED = 6,
    STORE_ACT_PENDING_OBJECTION = 7, /* fully-managed: runs when the objection window passes
                                      * unless an authorised user rejects it first */
};
const char *store_action_state_name(int state);
int store_action_state_parse(const char *name); /* -1 when unknown */

/* Per tenant and action type: what a request leads to. */
enum store_action_policy {
    STORE_POLICY_AUTO = 0,      /* queued at once */
    STORE_POLICY_APPROVAL = 1,  /* pending until a customer_admin or provider_admin approves */
    STORE_POLICY_FORBIDDEN = 2, /* refused */
};
const char *store_action_policy_name(int policy);
int store_action_policy_parse(const char *name); /* -1 when unknown */

struct store_action {
    int64_t id;
    int64_t tenant_id;
    int64_t agent_id;
    int64_t incident_id; /* 0 = none */
    char type[40];
    const char *params_json; /* borrowed */
    int state;               /* enum store_action_state */
    char requested_by[128];  /* user name, or "playbook" */
    char approved_by[128];   /* who approved or rejected ("" = nobody yet) */
    const char *reason;      /* why it was asked for (borrowed) */
    const char *decision_reason; /* why it was approved or rejected (borrowed) */
    int64_t created_ns, decided_ns, sent_ns, done_ns, expires_ns;
    const char *result_json; /* the agent's result ("" before one; borrowed) */
    int64_t run_at_ns;       /* PENDING_OBJECTION: when it runs unless rejected (0 = n/a) */
};
typedef int (*store_action_cb)(void *ctx, const struct store_action *a);

/* Inserts a (id ignored; state as given, PENDING_APPROVAL or QUEUED). */
int store_action_create(struct store *st, const struct store_action *a, int64_t *id);
/* Calls cb once with the action; BN_ENOTFOUND when it does not exist or is out of scope. */
int store_action_get(struct store *st, const struct store_scope *sc, int64_t id,
                     store_action_cb cb, void *ctx);
/* Newest first; agent_id 0 = all, state -1 = all, incident_id 0 = all. */
int store_action_list(struct store *st, const struct store_scope *sc, int64_t agent_id,
                      int64_t incident_id, int state, size_t limit, store_action_cb cb,
                      void *ctx);
/*
 * Approves (to QUEUED) or rejects (to REJECTED) a pending action. BN_ENOTFOUND out of scope,
 * BN_EINVAL (with the current state in the message) when it is not pending approval.
 */
int store_action_decide(struct store *st, const struct store_scope *sc, int64_t id, int approve,
                        const char *by, const char *reason);
/* QUEUED -> SENT. */
int store_action_mark_sent(struct store *st, int64_t id);
/*
 * The agent's result: SENT/QUEUED -> DONE (ok) or FAILED. BN_ENOTFOUND when the action is not
 * this agent's; BN_EEXIST when it already has a result (a resent RESULT: nothing changes).
 */
int store_action_set_result(struct store *st, int64_t agent_id, int64_t id, int ok,
                            int expired, const char *result_json);
/* Queued actions of all agents, oldest first (the link sends those of connected agents). */
int store_action_queued_all(struct store *st, size_t limit, store_action_cb cb, void *ctx);
/* Queued actions of an agent, oldest first (what to send on connect). */
int store_action_queued(struct store *st, int64_t agent_id, size_t limit, store_action_cb cb,
                        void *ctx);
/*
 * Moves PENDING_APPROVAL and QUEUED actions past expires_ns to EXPIRED, and calls cb for each
 * (for the audit log and escalation). *n: how many.
 */
int store_action_expire(struct store *st, int64_t now_ns, store_action_cb cb, void *ctx,
                        int64_t *n);
/*
 * An action created in PENDING_OBJECTION (store_action_create with a->run_at_ns) runs
 * (QUEUED) at run_at_ns unless rejected first (store_action_decide with approve = 0 accepts
 * PENDING_OBJECTION too). This moves those whose time has come to QUEUED and calls cb for
 * each before the move (audit). *n: how many.
 */
int store_action_release_objections(struct store *st, int64_t now_ns, store_action_cb cb,
                                    void *ctx, int64_t *n);

/* Tenant action policy. Types with no row: APPROVAL in semi-managed, AUTO in fully-managed. */
int store_action_policy_get(struct store *st, int64_t tenant_id, const char *type, int *policy,
                            int *explicit_row);
int store_action_policy_set(struct store *st, int64_t tenant_id, const char *type, int policy);
typedef int (*store_policy_cb)(void *ctx, const char *type, int policy);
int store_action_policy_list(struct store *st, int64_t tenant_id, store_policy_cb cb, void *ctx);

/* Tenant response settings. */
struct store_response_conf {
    int64_t approval_timeout_s; /* pending approvals escalate (and expire) after this */
    int full_min_severity;      /* fully-managed: playbooks run at or above (0..4) */
    int64_t queue_expiry_s;     /* queued actions for an offline host expire after this */
    int64_t objection_window_s; /* fully-managed: playbook actions wait this long for an
                                 * objection before they run (0 = run at once) */
};
int store_response_conf_get(struct store *st, int64_t tenant_id, struct store_response_conf *c);
int store_response_conf_set(struct store *st, int64_t tenant_id,
                            const struct store_response_conf *c);

/* ==== attachments (issue 5: forensic packages uploaded by agents; store_sqlite_actions.c) ==== */
struct store_attachment {
    int64_t id;
    int64_t tenant_id;
    int64_t agent_id;
    int64_t incident_id; /* the action's incident, 0 = none */
    int64_t action_id;
    char name[136];      /* the file name the agent gave (BN_ATTACH_NAME_MAX) */
    int64_t size;
    char sha256[65];     /* lower-case hex */
    char path[512];      /* the blob, relative to the data directory */
    int64_t created_ns;
};
typedef int (*store_attachment_cb)(void *ctx, const struct store_attachment *a);
/* The data directory the store was opened on (blobs live below it). */
const char *store_dir(const struct store *st);
/* Inserts a (id ignored). BN_EEXIST when the action already has one. */
int store_attachment_create(struct store *st, const struct store_attachment *a, int64_t *id);
/* BN_ENOTFOUND when none or out of scope. */
int store_attachment_get(struct store *st, const struct store_scope *sc, int64_t id,
                         struct store_attachment *out);
/* The attachment of an action (unscoped: the link's check of a resent upload). */
int store_attachment_by_action(struct store *st, int64_t action_id, struct store_attachment *out);
/* Newest first; incident_id 0 = all in scope. */
int store_attachment_list(struct store *st, const struct store_scope *sc, int64_t incident_id,
                          size_t limit, store_attachment_cb cb, void *ctx);

#endif
