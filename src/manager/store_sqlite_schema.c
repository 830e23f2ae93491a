/*
 * store_sqlite_schema.c - the schema and its migrations. schema_version records each applied
 * step; steps run in order, each in its own transaction, so a crash mid-migration leaves the
 * database at the last whole version. A database newer than this build is refused.
 *
 * Version 1: what enrolment, the link and ingest need (tenants, users, enrolment tokens,
 * agents, events, per-tenant usage, the audit log). Version 2: the API and triage (sessions
 * and API tokens, alerts, incidents, notes, suppressions, IOC lists, notification channels
 * and outbox, rules state).
 *
 * events is the hot table: besides its rowid it carries two indexes, chosen for the API's
 * searches and for de-duplication: (agent_id, seq) unique, which also serves host searches
 * (host -> the agents of that host name -> their events in seq order), and (tenant_id, ts_ns)
 * for every time-ranged search and for retention. event_id, image, user and JSON field
 * filters run over the tenant+time range. A third index (tenant_id, host, ts_ns) cost about
 * a quarter of the insert rate (bench/bench_manager_store.c --host-index).
 */
#include <stdio.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/log.h"
#include "manager/store_sqlite_int.h"

static const char V1[] = "CREATE TABLE tenants("
                         "  id INTEGER PRIMARY KEY,"
                         "  name TEXT NOT NULL UNIQUE,"
                         "  mode INTEGER NOT NULL DEFAULT 0,"
                         "  notify_min_severity INTEGER NOT NULL DEFAULT 3,"
                         "  retention_days INTEGER NOT NULL DEFAULT 90,"
                         "  retention_bytes INTEGER NOT NULL DEFAULT 0,"
                         "  created_ns INTEGER NOT NULL);"
                         "CREATE TABLE users("
                         "  id INTEGER PRIMARY KEY,"
                         "  tenant_id INTEGER NOT NULL," /* 0: provider user */
                         "  name TEXT NOT NULL UNIQUE,"
                         "  role INTEGER NOT NULL,"
                         "  pwhash TEXT NOT NULL,"
                         "  disabled INTEGER NOT NULL DEFAULT 0,"
                         "  created_ns INTEGER NOT NULL);"
                         "CREATE INDEX users_tenant ON users(tenant_id);"
                         "CREATE TABLE enroll_tokens("
                         "  id INTEGER PRIMARY KEY,"
                         "  tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
                         "  hash TEXT NOT NULL UNIQUE,"
                         "  uses_left INTEGER NOT NULL,"
                         "  expires_ns INTEGER NOT NULL,"
                         "  revoked INTEGER NOT NULL DEFAULT 0,"
                         "  created_by TEXT NOT NULL DEFAULT '',"
                         "  created_ns INTEGER NOT NULL);"
                         "CREATE INDEX enroll_tokens_tenant ON enroll_tokens(tenant_id);"
                         "CREATE TABLE agents("
                         "  id INTEGER PRIMARY KEY,"
                         "  tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
                         "  uid TEXT NOT NULL UNIQUE,"
                         "  hostname TEXT NOT NULL DEFAULT '',"
                         "  cert_fp TEXT NOT NULL UNIQUE,"
                         "  sign_pk TEXT NOT NULL DEFAULT '',"
                         "  revoked INTEGER NOT NULL DEFAULT 0,"
                         "  tier INTEGER NOT NULL DEFAULT 0,"
                         "  last_seen_ns INTEGER NOT NULL DEFAULT 0,"
                         "  last_seq INTEGER NOT NULL DEFAULT 0,"
                         "  heartbeat_interval_ms INTEGER NOT NULL DEFAULT 30000,"
                         "  health_json TEXT NOT NULL DEFAULT '{}',"
                         "  asset_criticality INTEGER NOT NULL DEFAULT 1,"
                         "  enrolled_ns INTEGER NOT NULL);"
                         "CREATE INDEX agents_tenant ON agents(tenant_id);"
                         "CREATE TABLE events("
                         "  id INTEGER PRIMARY KEY,"
                         "  tenant_id INTEGER NOT NULL,"
                         "  agent_id INTEGER NOT NULL,"
                         "  seq INTEGER NOT NULL,"
                         "  ts_ns INTEGER NOT NULL,"
                         "  received_ns INTEGER NOT NULL,"
                         "  event_id INTEGER NOT NULL DEFAULT 0,"
                         "  host TEXT,"
                         "  image TEXT,"
                         "  user TEXT,"
                         "  json TEXT NOT NULL);"
                         "CREATE UNIQUE INDEX events_agent_seq ON events(agent_id, seq);"
                         "CREATE INDEX events_tenant_ts ON events(tenant_id, ts_ns);"
                         "CREATE TABLE tenant_usage("
                         "  tenant_id INTEGER PRIMARY KEY,"
                         "  events INTEGER NOT NULL DEFAULT 0,"
                         "  bytes INTEGER NOT NULL DEFAULT 0);"
                         "CREATE TABLE audit("
                         "  id INTEGER PRIMARY KEY,"
                         "  ts_ns INTEGER NOT NULL,"
                         "  tenant_id INTEGER NOT NULL,"
                         "  actor TEXT NOT NULL,"
                         "  action TEXT NOT NULL,"
                         "  object TEXT NOT NULL,"
                         "  detail TEXT NOT NULL,"
                         "  prev_hash TEXT NOT NULL,"
                         "  hash TEXT NOT NULL);"
                         "CREATE INDEX audit_tenant ON audit(tenant_id, id);"
                         "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                         "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
                         "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                         "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

static const char V2[] =
    "CREATE TABLE auth_tokens("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  kind INTEGER NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  created_ns INTEGER NOT NULL,"
    "  expires_ns INTEGER NOT NULL DEFAULT 0,"
    "  last_used_ns INTEGER NOT NULL DEFAULT 0,"
    "  revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX auth_tokens_user ON auth_tokens(user_id);"
    "CREATE TABLE alerts("
    "  id INTEGER PRIMARY KEY,"
    "  tenant_id INTEGER NOT NULL,"
    "  agent_id INTEGER NOT NULL DEFAULT 0,"
    "  incident_id INTEGER NOT NULL DEFAULT 0,"
    "  rule_id TEXT NOT NULL,"
    "  rule_title TEXT NOT NULL DEFAULT '',"
    "  level INTEGER NOT NULL DEFAULT 0,"
    "  score INTEGER NOT NULL DEFAULT 0,"
    "  tactics TEXT NOT NULL DEFAULT '',"
    "  techniques TEXT NOT NULL DEFAULT '',"
    "  dedupe_key TEXT NOT NULL,"
    "  count INTEGER NOT NULL DEFAULT 1,"
    "  first_ns INTEGER NOT NULL,"
    "  last_ns INTEGER NOT NULL,"
    "  event_ts_ns INTEGER NOT NULL DEFAULT 0,"
    "  host TEXT NOT NULL DEFAULT '',"
    "  user TEXT NOT NULL DEFAULT '',"
    "  source TEXT NOT NULL DEFAULT 'central',"
    "  json TEXT NOT NULL DEFAULT '{}',"
    "  nevents INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX alerts_dedupe ON alerts(tenant_id, dedupe_key, last_ns);"
    "CREATE INDEX alerts_tenant_last ON alerts(tenant_id, last_ns);"
    "CREATE INDEX alerts_incident ON alerts(incident_id);"
    "CREATE TABLE alert_events("
    "  alert_id INTEGER NOT NULL,"
    "  agent_id INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY(alert_id, agent_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE incidents("
    "  id INTEGER PRIMARY KEY,"
    "  tenant_id INTEGER NOT NULL,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  severity INTEGER NOT NULL DEFAULT 0,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  assignee_id INTEGER NOT NULL DEFAULT 0,"
    "  group_key TEXT NOT NULL DEFAULT '',"
    "  tactics TEXT NOT NULL DEFAULT '',"
    "  alert_count INTEGER NOT NULL DEFAULT 0,"
    "  first_ns INTEGER NOT NULL,"
    "  last_ns INTEGER NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  acknowledged_ns INTEGER NOT NULL DEFAULT 0,"
    "  resolved_ns INTEGER NOT NULL DEFAULT 0,"
    "  notified_severity INTEGER NOT NULL DEFAULT -1);"
    "CREATE INDEX incidents_tenant_last ON incidents(tenant_id, last_ns);"
    "CREATE INDEX incidents_group ON incidents(tenant_id, group_key, last_ns);"
    "CREATE TABLE incident_notes("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  author TEXT NOT NULL,"
    "  text TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL);"
    "CREATE INDEX incident_notes_incident ON incident_notes(incident_id);"
    "CREATE TABLE suppressions("
    "  id INTEGER PRIMARY KEY,"
    "  tenant_id INTEGER NOT NULL,"
    "  host TEXT NOT NULL DEFAULT '',"
    "  rule_id TEXT NOT NULL DEFAULT '',"
    "  fields_json TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(fields_json)),"
    "  expires_ns INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  author TEXT NOT NULL DEFAULT '',"
    "  created_ns INTEGER NOT NULL,"
    "  hits INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX suppressions_tenant_rule ON suppressions(tenant_id, rule_id);"
    "CREATE TABLE ioc_lists("
    "  id INTEGER PRIMARY KEY,"
    "  tenant_id INTEGER NOT NULL," /* 0: global */
    "  name TEXT NOT NULL,"
    "  source TEXT NOT NULL DEFAULT '',"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE(tenant_id, name));"
    "CREATE TABLE ioc_entries("
    "  list_id INTEGER NOT NULL REFERENCES ioc_lists(id) ON DELETE CASCADE,"
    "  type TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  source TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY(list_id, type, value)) WITHOUT ROWID;"
    "CREATE INDEX ioc_entries_value ON ioc_entries(type, value);"
    "CREATE TABLE channels("
    "  id INTEGER PRIMARY KEY,"
    "  tenant_id INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  config_json TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(config_json)),"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  created_ns INTEGER NOT NULL);"
    "CREATE INDEX channels_tenant ON channels(tenant_id);"
    "CREATE TABLE outbox("
    "  id INTEGER PRIMARY KEY,"
    "  tenant_id INTEGER NOT NULL,"
    "  channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,"
    "  incident_id INTEGER NOT NULL DEFAULT 0,"
    "  payload TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  next_attempt_ns INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  sent_ns INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX outbox_due ON outbox(state, next_attempt_ns);"
    "CREATE INDEX outbox_channel_incident ON outbox(channel_id, incident_id, state);"
    "CREATE TABLE rule_states("
    "  tenant_id INTEGER NOT NULL,"
    "  rule_id TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL,"
    "  updated_by TEXT NOT NULL DEFAULT '',"
    "  updated_ns INTEGER NOT NULL,"
    "  PRIMARY KEY(tenant_id, rule_id)) WITHOUT ROWID;"
    "CREATE TABLE rule_uploads("
    "  id INTEGER PRIMARY KEY,"
    "  tenant_id INTEGER NOT NULL,"
    "  rule_id TEXT NOT NULL,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  yaml TEXT NOT NULL,"
    "  author TEXT NOT NULL DEFAULT '',"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE(tenant_id, rule_id));";

/* Version 3: zstd dictionaries for event JSON (store_opts.compress). */
static const char V3[] = "CREATE TABLE zdicts("
                         "  id INTEGER PRIMARY KEY,"
                         "  dict BLOB NOT NULL,"
                         "  samples INTEGER NOT NULL,"
                         "  created_ns INTEGER NOT NULL);";

/* Version 4: response actions (issue 5): the actions, per tenant and type policy, and the
 * tenant's approval timeout, playbook severity and offline queue expiry. */
static const char V4[] = "CREATE TABLE actions("
                         "  id INTEGER PRIMARY KEY,"
                         "  tenant_id INTEGER NOT NULL,"
                         "  agent_id INTEGER NOT NULL,"
                         "  incident_id INTEGER NOT NULL DEFAULT 0,"
                         "  type TEXT NOT NULL,"
                         "  params_json TEXT NOT NULL DEFAULT '{}',"
                         "  state INTEGER NOT NULL,"
                         "  requested_by TEXT NOT NULL DEFAULT '',"
                         "  approved_by TEXT NOT NULL DEFAULT '',"
                         "  reason TEXT NOT NULL DEFAULT '',"
                         "  decision_reason TEXT NOT NULL DEFAULT '',"
                         "  created_ns INTEGER NOT NULL,"
                         "  decided_ns INTEGER NOT NULL DEFAULT 0,"
                         "  sent_ns INTEGER NOT NULL DEFAULT 0,"
                         "  done_ns INTEGER NOT NULL DEFAULT 0,"
                         "  expires_ns INTEGER NOT NULL DEFAULT 0,"
                         "  result_json TEXT NOT NULL DEFAULT '');"
                         "CREATE INDEX actions_tenant ON actions(tenant_id, created_ns);"
                         "CREATE INDEX actions_agent_state ON actions(agent_id, state);"
                         "CREATE INDEX actions_state ON actions(state, expires_ns);"
                         "CREATE TABLE action_policy("
                         "  tenant_id INTEGER NOT NULL,"
                         "  type TEXT NOT NULL,"
                         "  policy INTEGER NOT NULL,"
                         "  PRIMARY KEY(tenant_id, type));"
                         "CREATE TABLE tenant_response("
                         "  tenant_id INTEGER PRIMARY KEY,"
                         "  approval_timeout_s INTEGER NOT NULL DEFAULT 3600,"
                         "  full_min_severity INTEGER NOT NULL DEFAULT 4,"
                         "  queue_expiry_s INTEGER NOT NULL DEFAULT 86400);";

/* Version 5: forensic packages attached to incidents (issue 5: uploaded by agents over the
 * link, blobs under data_dir/attachments) and "contain unless someone objects within N
 * seconds" for fully-managed tenants (the tenant's window, the action's run time). */
static const char V5[] = "CREATE TABLE attachments("
                         "  id INTEGER PRIMARY KEY,"
                         "  tenant_id INTEGER NOT NULL,"
                         "  agent_id INTEGER NOT NULL,"
                         "  incident_id INTEGER NOT NULL DEFAULT 0,"
                         "  action_id INTEGER NOT NULL UNIQUE,"
                         "  name TEXT NOT NULL,"
                         "  size INTEGER NOT NULL,"
                         "  sha256 TEXT NOT NULL,"
                         "  path TEXT NOT NULL,"
                         "  created_ns INTEGER NOT NULL);"
                         "CREATE INDEX attachments_incident ON attachments(tenant_id, incident_id);"
                         "ALTER TABLE tenant_response ADD COLUMN objection_window_s INTEGER "
                         "NOT NULL DEFAULT 0;"
                         "ALTER TABLE actions ADD COLUMN run_at_ns INTEGER NOT NULL DEFAULT 0;";

/* Version 6: event JSON in compressed blocks (store_sqlite_zstd.c). An insert call's events
 * are stored as one zstd frame (their texts, each followed by a NUL); each event row keeps
 * its indexed columns and, in json, a small reference BLOB ("BNK1", block id, offset,
 * length). live counts the rows still referring to the block (retention frees it at 0).
 * Rows written before version 6 keep their JSON inline and read as before. */
static const char V6[] = "CREATE TABLE event_blocks("
                         "  id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: caches */
                         "  tenant_id INTEGER NOT NULL,"
                         "  live INTEGER NOT NULL,"
                         "  raw_len INTEGER NOT NULL,"
                         "  data BLOB NOT NULL);";

/* Version 7: event spans instead of the (tenant_id, ts_ns) index. An index entry per event,
 * inserted at a scattered place (events of many agents arrive with interleaved times), cost
 * about 1.5 us of the ~4.5 us an event cost to ingest, and a commit rewrote every index page
 * the group touched, so frequent (low-latency) commits multiplied the WAL bytes. A span is
 * one row per run of events of one tenant and agent inserted together (ingest: up to 256
 * events of one batch): their time range and rowid range. A time-ranged search walks the
 * spans newest first (event_spans_tenant_max), reads each span's rows by rowid and stops
 * once no span left can hold a newer match; retention walks them oldest first
 * (event_spans_tenant_min). A span's ranges only have to contain its rows' values: deleting
 * rows keeps that true; a span with no row of its tenant left is deleted. The migration
 * makes spans of the existing rows (per tenant, agent and 256 rowids: one pass over the
 * table) and drops the index. */
static const char V7[] = "CREATE TABLE event_spans("
                         "  id INTEGER PRIMARY KEY,"
                         "  tenant_id INTEGER NOT NULL,"
                         "  agent_id INTEGER NOT NULL,"
                         "  min_ts INTEGER NOT NULL,"
                         "  max_ts INTEGER NOT NULL,"
                         "  first_id INTEGER NOT NULL,"
                         "  last_id INTEGER NOT NULL);"
                         "INSERT INTO event_spans(tenant_id, agent_id, min_ts, max_ts, first_id,"
                         "  last_id) SELECT tenant_id, agent_id, MIN(ts_ns), MAX(ts_ns), MIN(id),"
                         "  MAX(id) FROM events GROUP BY tenant_id, agent_id, id / 256;"
                         "CREATE INDEX event_spans_tenant_max ON event_spans(tenant_id, max_ts);"
                         "CREATE INDEX event_spans_tenant_min ON event_spans(tenant_id, min_ts);"
                         "DROP INDEX events_tenant_ts;";

struct migration {
    int version;
    const char *sql;
};

static const struct migration migrations[] = {
    {1, V1},
    {2, V2},
    {3, V3},
    {4, V4},
    {5, V5},
    {6, V6},
    {7, V7},
};

int
bn__store_migrate(struct store *st, int target)
{
    int rc = bn__store_exec(st,
                            "CREATE TABLE IF NOT EXISTS schema_version("
                            "  version INTEGER PRIMARY KEY,"
                            "  applied_ns INTEGER NOT NULL)",
                            "create schema_version");
    if (rc != 0)
        return rc;
    int cur = store_schema_version(st);
    if (cur < 0)
        return cur;
    if (cur > STORE_LATEST_VERSION) {
        bn__store_seterr(st,
                         "'%s' has schema version %d, newer than this build's %d: "
                         "upgrade bannind",
                         st->path, cur, STORE_LATEST_VERSION);
        return BN_EUNSUP;
    }
    for (size_t i = 0; i < BN_ARRAY_SIZE(migrations); i++) {
        const struct migration *m = &migrations[i];
        if (m->version <= cur || m->version > target)
            continue;
        rc = bn__store_exec(st, "BEGIN IMMEDIATE", "begin migration");
        if (rc != 0)
            return rc;
        /* Another handle may have migrated while we waited for the lock. */
        if (store_schema_version(st) >= m->version) {
            bn__store_exec(st, "ROLLBACK", "rollback");
            continue;
        }
        char what[64];
        snprintf(what, sizeof(what), "migration to version %d", m->version);
        rc = bn__store_exec(st, m->sql, what);
        if (rc == 0) {
            char ins[128];
            snprintf(ins, sizeof(ins),
                     "INSERT INTO schema_version(version, applied_ns) VALUES(%d, %lld)", m->version,
                     (long long)bn__store_now_ns());
            rc = bn__store_exec(st, ins, what);
        }
        if (rc == 0)
            rc = bn__store_exec(st, "COMMIT", what);
        if (rc != 0) {
            char keep[sizeof(st->errmsg)];
            memcpy(keep, st->errmsg, sizeof(keep));
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            memcpy(st->errmsg, keep, sizeof(keep));
            return rc;
        }
        BN_INFO("store", "'%s' migrated to schema version %d", st->path, m->version);
    }
    return 0;
}
