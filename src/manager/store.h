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
void store_close(struct store *st);
int store_schema_version(struct store *st);
/* PRAGMA integrity_check (and foreign_key_check): 0 when ok, BN_ECORRUPT with the first problem. */
int store_check(struct store *st, struct store_err *err);

/* Transactions group writes (one per ingested batch: the ack follows the commit). */
int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);

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
 * is already stored is skipped and counted in *dups. Updates the agent's last_seq.
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

#endif
