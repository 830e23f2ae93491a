/*
 * store_sqlite_triage.c - what triage and notifications keep: suppressions, IOC lists and
 * entries, notification channels and the outbox (retries with backoff, dead after N tries,
 * updates of one incident collapsing into one pending message), and rules state (enabled per
 * tenant, uploaded Sigma YAML).
 */
#include <stdio.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_util.h"

static int
too_long(struct store *st, const char *what, const char *v, size_t max)
{
    if (v && strlen(v) >= max) {
        bn__store_seterr(st, "%s longer than %zu bytes", what, max - 1);
        return 1;
    }
    return 0;
}

/* Checks that id's row in table belongs to a tenant in scope (tenant 0 rows: "all" only). */
static int
owned_by_scope(struct store *st, const char *table, const struct store_scope *sc, int64_t id,
               int64_t *tenant)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT tenant_id FROM %s WHERE id = %lld", table, (long long)id);
    sqlite3_stmt *s = NULL;
    int rc = bn__store_prepare_dyn(st, sql, &s);
    if (rc != 0)
        return rc;
    rc = bn__store_step_row(st, s, table);
    if (rc == 0) {
        int64_t t = sqlite3_column_int64(s, 0);
        if (tenant)
            *tenant = t;
        if (!(sc && (sc->all || bn__store_in_scope(sc, t))))
            rc = BN_ENOTFOUND;
    }
    sqlite3_finalize(s);
    return rc;
}

static int
delete_by_id(struct store *st, const char *table, const struct store_scope *sc, int64_t id)
{
    int rc = owned_by_scope(st, table, sc, id, NULL);
    if (rc != 0)
        return rc;
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = %lld", table, (long long)id);
    return bn__store_exec(st, sql, table);
}

/* ---- suppressions ---------------------------------------------------------------------- */

#define SUP_COLS                                                                                   \
    "id, tenant_id, host, rule_id, fields_json, expires_ns, reason, author, "                      \
    "created_ns, hits"

/* In the order of SUP_COLS; the INSERT binds tenant_id .. created_ns. */
static const struct store_col sup_cols[] = {
    STORE_NUM(struct store_suppression, id),
    STORE_NUM(struct store_suppression, tenant_id),
    STORE_CHARS(struct store_suppression, host),
    STORE_CHARS(struct store_suppression, rule_id),
    STORE_TEXT(struct store_suppression, fields_json),
    STORE_NUM(struct store_suppression, expires_ns),
    STORE_CHARS(struct store_suppression, reason),
    STORE_CHARS(struct store_suppression, author),
    STORE_NUM(struct store_suppression, created_ns),
    STORE_NUM(struct store_suppression, hits),
};

static int
sup_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_suppression x;
    bn__store_cols_read(s, 0, sup_cols, BN_ARRAY_SIZE(sup_cols), &x, sizeof(x));
    return ((store_suppression_cb)cb)(ctx, &x);
}

int
store_suppression_create(struct store *st, const struct store_suppression *x, int64_t *id)
{
    static const char SQL[] =
        "INSERT INTO suppressions(tenant_id, host, rule_id, fields_json, expires_ns, reason,"
        " author, created_ns) VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    const char *fields = x->fields_json && *x->fields_json ? x->fields_json : "{}";
    if (x->tenant_id <= 0 || strlen(fields) > BN_STORE_TEXT_MAX) {
        bn__store_seterr(st, "suppression: no tenant, or fields over %u bytes", BN_STORE_TEXT_MAX);
        return BN_EINVAL;
    }
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    struct store_suppression v = *x;
    v.fields_json = fields;
    if (!v.created_ns)
        v.created_ns = bn__store_now_ns();
    bn__store_cols_bind(s, 1, sup_cols + 1, 8, &v);
    return bn__store_step_insert(st, s, "create suppression", id);
}

int
store_suppression_list(struct store *st, const struct store_scope *sc, int include_expired,
                       int64_t now_ns, store_suppression_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " SUP_COLS " FROM suppressions WHERE ", "tenant_id",
                                 sc, "");
    if (rc == 0 && !include_expired)
        rc = bn_buf_printf(&b, " AND (expires_ns = 0 OR expires_ns > %lld)", (long long)now_ns);
    if (rc == 0)
        rc = bn_buf_puts(&b, " ORDER BY id");
    return bn__store_list_end(st, rc, &b, sup_cb_row, (void *)cb, ctx);
}

int
store_suppression_delete(struct store *st, const struct store_scope *sc, int64_t id)
{
    return delete_by_id(st, "suppressions", sc, id);
}

int
store_suppression_active(struct store *st, int64_t tenant_id, const char *rule_id, int64_t now_ns,
                         store_suppression_cb cb, void *ctx)
{
    static const char SQL[] = "SELECT " SUP_COLS " FROM suppressions WHERE tenant_id = ?"
                              " AND rule_id IN ('', ?) AND (expires_ns = 0 OR expires_ns > ?)"
                              " ORDER BY id";
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    bn__store_bind_text(s, 2, rule_id ? rule_id : "");
    sqlite3_bind_int64(s, 3, now_ns);
    int r;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW)
        rc = sup_cb_row(s, (void *)cb, ctx);
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "active suppressions");
    bn__store_done(s);
    return rc > 0 ? 0 : rc;
}

int
store_suppression_hit(struct store *st, int64_t id, int64_t n)
{
    static const char SQL[] = "UPDATE suppressions SET hits = hits + ? WHERE id = ?";
    const int64_t args[] = {n, id};
    return bn__store_update_ids(st, SQL, "suppression hit", args, 2);
}

/* ---- IOC lists ------------------------------------------------------------------------- */

int
store_ioc_list_create(struct store *st, int64_t tenant_id, const char *name, const char *source,
                      int64_t now_ns, int64_t *id)
{
    static const char SQL[] = "INSERT INTO ioc_lists(tenant_id, name, source, created_ns)"
                              " VALUES(?, ?, ?, ?)";
    if (id)
        *id = 0;
    if (tenant_id < 0 || !name || !*name || too_long(st, "IOC list name", name, 128) ||
        too_long(st, "IOC list source", source, 128))
        return BN_EINVAL;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    bn__store_bind_text(s, 2, name);
    bn__store_bind_text(s, 3, source ? source : "");
    sqlite3_bind_int64(s, 4, now_ns);
    return bn__store_step_insert(st, s, "create IOC list", id);
}

static const struct store_col ioc_list_cols[] = {
    STORE_NUM(struct store_ioc_list, id),         STORE_NUM(struct store_ioc_list, tenant_id),
    STORE_CHARS(struct store_ioc_list, name),     STORE_CHARS(struct store_ioc_list, source),
    STORE_NUM(struct store_ioc_list, created_ns), STORE_NUM(struct store_ioc_list, entries),
};

static int
ioc_list_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_ioc_list l;
    bn__store_cols_read(s, 0, ioc_list_cols, BN_ARRAY_SIZE(ioc_list_cols), &l, sizeof(l));
    return ((store_ioc_list_cb)cb)(ctx, &l);
}

int
store_ioc_list_list(struct store *st, const struct store_scope *sc, store_ioc_list_cb cb, void *ctx)
{
    return bn__store_list_scoped(st,
                                 "SELECT l.id, l.tenant_id, l.name, l.source, l.created_ns,"
                                 " (SELECT COUNT(*) FROM ioc_entries e WHERE e.list_id = l.id)"
                                 " FROM ioc_lists l WHERE ",
                                 "l.tenant_id", sc, " ORDER BY l.id", ioc_list_cb_row, (void *)cb,
                                 ctx);
}

int
store_ioc_list_delete(struct store *st, const struct store_scope *sc, int64_t id)
{
    /* Entries go with the list (ON DELETE CASCADE). */
    return delete_by_id(st, "ioc_lists", sc, id);
}

int
store_ioc_add(struct store *st, const struct store_scope *sc, int64_t list_id,
              const struct store_ioc *e, size_t n, size_t *added)
{
    static const char SQL[] = "INSERT INTO ioc_entries(list_id, type, value, source)"
                              " VALUES(?, ?, ?, ?) ON CONFLICT DO NOTHING";
    if (added)
        *added = 0;
    if (n > BN_STORE_IOC_BATCH_MAX) {
        bn__store_seterr(st, "IOC import of %zu entries, at most %d at once", n,
                         BN_STORE_IOC_BATCH_MAX);
        return BN_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++) {
        if (!e[i].type || !*e[i].type || !e[i].value || !*e[i].value) {
            bn__store_seterr(st, "IOC entry %zu without type or value", i);
            return BN_EINVAL;
        }
        if (too_long(st, "IOC type", e[i].type, 32) ||
            too_long(st, "IOC value", e[i].value, BN_STORE_FILTER_VALUE_MAX) ||
            too_long(st, "IOC source", e[i].source, BN_STORE_FILTER_VALUE_MAX))
            return BN_EINVAL;
    }
    int rc = owned_by_scope(st, "ioc_lists", sc, list_id, NULL);
    if (rc != 0)
        return rc;
    int owned;
    rc = bn__store_tx_begin(st, &owned);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    size_t k = 0;
    for (size_t i = 0; s && rc == 0 && i < n; i++) {
        sqlite3_bind_int64(s, 1, list_id);
        bn__store_bind_text(s, 2, e[i].type);
        bn__store_bind_text(s, 3, e[i].value);
        bn__store_bind_text(s, 4, e[i].source ? e[i].source : "");
        rc = bn__store_step_done(st, s, "add IOC");
        if (rc == 0)
            k += (size_t)sqlite3_changes(st->db);
    }
    rc = bn__store_tx_end(st, owned, rc);
    if (rc == 0 && added)
        *added = k;
    return rc;
}

int
store_ioc_lookup(struct store *st, int64_t tenant_id, const char *type, const char *value,
                 struct store_ioc *out)
{
    static const char SQL[] = "SELECT e.list_id, e.source FROM ioc_entries e JOIN ioc_lists l"
                              " ON l.id = e.list_id WHERE e.type = ? AND e.value = ?"
                              " AND l.tenant_id IN (0, ?) ORDER BY l.tenant_id DESC LIMIT 1";
    memset(out, 0, sizeof(*out));
    if (!type || !value)
        return BN_EINVAL;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    bn__store_bind_text(s, 1, type);
    bn__store_bind_text(s, 2, value);
    sqlite3_bind_int64(s, 3, tenant_id);
    rc = bn__store_step_row(st, s, "IOC lookup");
    if (rc == 0) {
        out->list_id = sqlite3_column_int64(s, 0);
        out->type = type;
        out->value = value;
        rc = bn__store_scratch_text(st, s, 1, &out->source);
    }
    bn__store_done(s);
    return rc;
}

static int
ioc_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_ioc e = {
        .list_id = sqlite3_column_int64(s, 0),
        .type = bn__store_col_text(s, 1),
        .value = bn__store_col_text(s, 2),
        .source = bn__store_col_text(s, 3),
    };
    return ((store_ioc_cb)cb)(ctx, &e);
}

int
store_ioc_each(struct store *st, int64_t tenant_id, store_ioc_cb cb, void *ctx)
{
    struct bn_buf b;
    bn_buf_init(&b, 4096);
    int rc = bn_buf_printf(&b,
                           "SELECT e.list_id, e.type, e.value, e.source FROM ioc_entries e"
                           " JOIN ioc_lists l ON l.id = e.list_id"
                           " WHERE l.tenant_id IN (0, %lld) ORDER BY e.list_id",
                           (long long)tenant_id);
    return bn__store_list_end(st, rc, &b, ioc_cb_row, (void *)cb, ctx);
}

int
store_ioc_entries(struct store *st, const struct store_scope *sc, int64_t list_id, store_ioc_cb cb,
                  void *ctx)
{
    int rc = owned_by_scope(st, "ioc_lists", sc, list_id, NULL);
    if (rc != 0)
        return rc;
    struct bn_buf b;
    bn_buf_init(&b, 4096);
    rc = bn_buf_printf(&b,
                       "SELECT list_id, type, value, source FROM ioc_entries WHERE list_id = %lld"
                       " ORDER BY type, value",
                       (long long)list_id);
    return bn__store_list_end(st, rc, &b, ioc_cb_row, (void *)cb, ctx);
}

/* ---- notification channels -------------------------------------------------------------- */

static const char *const channel_types[] = {"webhook", "slack", "teams", "smtp", "syslog"};

static int
valid_channel(struct store *st, const struct store_channel *c)
{
    int ok = 0;
    for (size_t i = 0; i < BN_ARRAY_SIZE(channel_types); i++)
        ok |= strcmp(c->type, channel_types[i]) == 0;
    if (!ok || c->tenant_id <= 0 || !c->name[0] ||
        strnlen(c->name, sizeof(c->name)) >= sizeof(c->name) ||
        (c->config_json && strlen(c->config_json) > BN_STORE_TEXT_MAX)) {
        bn__store_seterr(st,
                         "channel: unknown type '%.16s' (webhook, slack, teams, smtp, "
                         "syslog), no tenant or name, or config too long",
                         c->type);
        return BN_EINVAL;
    }
    return 0;
}

#define CHAN_COLS "id, tenant_id, name, type, config_json, enabled, created_ns"

/* In the order of CHAN_COLS; the INSERT binds all but id. */
static const struct store_col chan_cols[] = {
    STORE_NUM(struct store_channel, id),           STORE_NUM(struct store_channel, tenant_id),
    STORE_CHARS(struct store_channel, name),       STORE_CHARS(struct store_channel, type),
    STORE_TEXT(struct store_channel, config_json), STORE_NUM(struct store_channel, enabled),
    STORE_NUM(struct store_channel, created_ns),
};
enum { CHAN_COL_CONFIG = 4 };

static void
channel_row(sqlite3_stmt *s, struct store_channel *c)
{
    bn__store_cols_read(s, 0, chan_cols, BN_ARRAY_SIZE(chan_cols), c, sizeof(*c));
}

int
store_channel_create(struct store *st, const struct store_channel *c, int64_t *id)
{
    static const char SQL[] = "INSERT INTO channels(tenant_id, name, type, config_json, enabled,"
                              " created_ns) VALUES(?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    int rc = valid_channel(st, c);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    struct store_channel v = *c;
    if (!v.config_json)
        v.config_json = "{}";
    if (!v.created_ns)
        v.created_ns = bn__store_now_ns();
    bn__store_cols_bind(s, 1, chan_cols + 1, BN_ARRAY_SIZE(chan_cols) - 1, &v);
    return bn__store_step_insert(st, s, "create channel", id);
}

int
store_channel_get(struct store *st, const struct store_scope *sc, int64_t id,
                  struct store_channel *out)
{
    static const char SQL[] = "SELECT " CHAN_COLS " FROM channels WHERE id = ?";
    return bn__store_get_scoped(st, SQL, sc, id, chan_cols, BN_ARRAY_SIZE(chan_cols),
                                CHAN_COL_CONFIG, out, sizeof(*out), "get channel");
}

int
store_channel_update(struct store *st, const struct store_scope *sc, const struct store_channel *c)
{
    static const char SQL[] = "UPDATE channels SET name = ?, type = ?, config_json = ?,"
                              " enabled = ? WHERE id = ?";
    int64_t tenant = 0;
    int rc = owned_by_scope(st, "channels", sc, c->id, &tenant);
    if (rc != 0)
        return rc;
    struct store_channel chk = *c;
    chk.tenant_id = tenant;
    rc = valid_channel(st, &chk);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    if (!chk.config_json)
        chk.config_json = "{}";
    /* name .. enabled, then the id */
    bn__store_cols_bind(s, 1, chan_cols + 2, 4, &chk);
    sqlite3_bind_int64(s, 5, c->id);
    return bn__store_step_done(st, s, "update channel");
}

int
store_channel_delete(struct store *st, const struct store_scope *sc, int64_t id)
{
    /* Its outbox messages go with it (ON DELETE CASCADE). */
    return delete_by_id(st, "channels", sc, id);
}

static int
channel_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_channel c;
    channel_row(s, &c);
    return ((store_channel_cb)cb)(ctx, &c);
}

int
store_channel_list(struct store *st, const struct store_scope *sc, store_channel_cb cb, void *ctx)
{
    return bn__store_list_scoped(st, "SELECT " CHAN_COLS " FROM channels WHERE ", "tenant_id", sc,
                                 " ORDER BY id", channel_cb_row, (void *)cb, ctx);
}

/* ---- outbox ----------------------------------------------------------------------------- */

#define OUT_COLS                                                                                   \
    "id, tenant_id, channel_id, incident_id, payload, created_ns, next_attempt_ns, "               \
    "attempts, state, sent_ns, last_error"

/* In the order of OUT_COLS; the INSERT binds tenant_id .. next_attempt_ns. */
static const struct store_col out_cols[] = {
    STORE_NUM(struct store_outbox, id),
    STORE_NUM(struct store_outbox, tenant_id),
    STORE_NUM(struct store_outbox, channel_id),
    STORE_NUM(struct store_outbox, incident_id),
    STORE_TEXT(struct store_outbox, payload),
    STORE_NUM(struct store_outbox, created_ns),
    STORE_NUM(struct store_outbox, next_attempt_ns),
    STORE_NUM(struct store_outbox, attempts),
    STORE_NUM(struct store_outbox, state),
    STORE_NUM(struct store_outbox, sent_ns),
    STORE_CHARS(struct store_outbox, last_error),
};

static int
outbox_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_outbox o;
    bn__store_cols_read(s, 0, out_cols, BN_ARRAY_SIZE(out_cols), &o, sizeof(o));
    return ((store_outbox_cb)cb)(ctx, &o);
}

int
store_outbox_enqueue(struct store *st, const struct store_outbox *o, int collapse, int64_t *id)
{
    static const char FIND[] = "SELECT id FROM outbox WHERE channel_id = ? AND incident_id = ?"
                               " AND state = 0 ORDER BY id DESC LIMIT 1";
    static const char REPL[] = "UPDATE outbox SET payload = ? WHERE id = ?";
    static const char INS[] = "INSERT INTO outbox(tenant_id, channel_id, incident_id, payload,"
                              " created_ns, next_attempt_ns) VALUES(?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    if (!o->payload || strlen(o->payload) > BN_STORE_TEXT_MAX)
        return BN_EINVAL;
    int64_t tenant = 0;
    struct store_scope all = {.all = 1};
    int rc = owned_by_scope(st, "channels", &all, o->channel_id, &tenant);
    if (rc != 0)
        return rc;
    if (tenant != o->tenant_id) {
        bn__store_seterr(st, "outbox: channel %lld is not tenant %lld's", (long long)o->channel_id,
                         (long long)o->tenant_id);
        return BN_EDENIED;
    }
    int owned;
    rc = bn__store_tx_begin(st, &owned);
    if (rc != 0)
        return rc;
    int64_t found = 0;
    sqlite3_stmt *s = NULL;
    if (collapse && o->incident_id > 0 && (s = bn__store_prep(st, FIND, &rc))) {
        sqlite3_bind_int64(s, 1, o->channel_id);
        sqlite3_bind_int64(s, 2, o->incident_id);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            found = sqlite3_column_int64(s, 0);
        else if (r != SQLITE_DONE)
            rc = bn__store_err(st, r, "outbox find");
        bn__store_done(s);
    }
    if (rc == 0 && found && (s = bn__store_prep(st, REPL, &rc))) {
        bn__store_bind_text(s, 1, o->payload);
        sqlite3_bind_int64(s, 2, found);
        rc = bn__store_step_done(st, s, "outbox collapse");
    } else if (rc == 0 && !found && (s = bn__store_prep(st, INS, &rc))) {
        struct store_outbox v = *o;
        if (!v.created_ns)
            v.created_ns = bn__store_now_ns();
        if (!v.next_attempt_ns)
            v.next_attempt_ns = v.created_ns;
        bn__store_cols_bind(s, 1, out_cols + 1, 6, &v);
        rc = bn__store_step_insert(st, s, "outbox enqueue", &found);
    }
    rc = bn__store_tx_end(st, owned, rc);
    if (rc == 0 && id)
        *id = found;
    return rc;
}

int
store_outbox_due(struct store *st, int64_t now_ns, size_t max, store_outbox_cb cb, void *ctx)
{
    struct bn_buf b;
    bn_buf_init(&b, 4096);
    int rc = bn_buf_printf(&b,
                           "SELECT " OUT_COLS " FROM outbox WHERE state = 0 AND"
                           " next_attempt_ns <= %lld ORDER BY next_attempt_ns, id LIMIT %zu",
                           (long long)now_ns, bn__store_limit(max));
    return bn__store_list_end(st, rc, &b, outbox_cb_row, (void *)cb, ctx);
}

int
store_outbox_sent(struct store *st, int64_t id, int64_t now_ns)
{
    static const char SQL[] = "UPDATE outbox SET state = 1, sent_ns = ?, attempts = attempts + 1"
                              " WHERE id = ? AND state = 0";
    const int64_t args[] = {now_ns, id};
    return bn__store_update_ids(st, SQL, "outbox sent", args, 2);
}

int
store_outbox_failed(struct store *st, int64_t id, int64_t next_attempt_ns, const char *error,
                    int max_attempts)
{
    static const char SQL[] =
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_ns = ?, last_error = ?,"
        " state = CASE WHEN attempts + 1 >= ? THEN 2 ELSE 0 END WHERE id = ? AND state = 0";
    char e[256];
    snprintf(e, sizeof(e), "%s", error ? error : "");
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, next_attempt_ns);
    bn__store_bind_text(s, 2, e);
    sqlite3_bind_int(s, 3, max_attempts > 0 ? max_attempts : 1);
    sqlite3_bind_int64(s, 4, id);
    return bn__store_step_changed(st, s, "outbox failed");
}

int
store_outbox_list(struct store *st, const struct store_scope *sc, int state, size_t limit,
                  store_outbox_cb cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " OUT_COLS " FROM outbox WHERE ", "tenant_id", sc, "");
    if (rc == 0 && state >= 0)
        rc = bn_buf_printf(&b, " AND state = %d", state);
    if (rc == 0)
        rc = bn_buf_printf(&b, " ORDER BY id DESC LIMIT %zu", bn__store_limit(limit));
    return bn__store_list_end(st, rc, &b, outbox_cb_row, (void *)cb, ctx);
}

/* ---- rules state ------------------------------------------------------------------------ */

int
store_rule_set_enabled(struct store *st, int64_t tenant_id, const char *rule_id, int enabled,
                       const char *by, int64_t now_ns)
{
    static const char SQL[] =
        "INSERT INTO rule_states(tenant_id, rule_id, enabled, updated_by, updated_ns)"
        " VALUES(?, ?, ?, ?, ?) ON CONFLICT(tenant_id, rule_id) DO UPDATE SET"
        " enabled = excluded.enabled, updated_by = excluded.updated_by,"
        " updated_ns = excluded.updated_ns";
    if (tenant_id < 0 || !rule_id || !*rule_id || too_long(st, "rule id", rule_id, 64) ||
        too_long(st, "updated_by", by, 128))
        return BN_EINVAL;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    bn__store_bind_text(s, 2, rule_id);
    sqlite3_bind_int(s, 3, enabled ? 1 : 0);
    bn__store_bind_text(s, 4, by ? by : "");
    sqlite3_bind_int64(s, 5, now_ns);
    return bn__store_step_done(st, s, "set rule state");
}

static const struct store_col rule_state_cols[] = {
    STORE_NUM(struct store_rule_state, tenant_id),
    STORE_CHARS(struct store_rule_state, rule_id),
    STORE_NUM(struct store_rule_state, enabled),
    STORE_CHARS(struct store_rule_state, updated_by),
    STORE_NUM(struct store_rule_state, updated_ns),
};

static int
rule_state_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_rule_state r;
    bn__store_cols_read(s, 0, rule_state_cols, BN_ARRAY_SIZE(rule_state_cols), &r, sizeof(r));
    return ((store_rule_state_cb)cb)(ctx, &r);
}

int
store_rule_states(struct store *st, const struct store_scope *sc, store_rule_state_cb cb, void *ctx)
{
    return bn__store_list_scoped(st,
                                 "SELECT tenant_id, rule_id, enabled, updated_by, updated_ns"
                                 " FROM rule_states WHERE ",
                                 "tenant_id", sc, " ORDER BY tenant_id, rule_id", rule_state_cb_row,
                                 (void *)cb, ctx);
}

/* In the order of the uploads list's columns; the INSERT binds all but id. */
static const struct store_col upload_cols[] = {
    STORE_NUM(struct store_rule_upload, id),         STORE_NUM(struct store_rule_upload, tenant_id),
    STORE_CHARS(struct store_rule_upload, rule_id),  STORE_CHARS(struct store_rule_upload, title),
    STORE_TEXT(struct store_rule_upload, yaml),      STORE_CHARS(struct store_rule_upload, author),
    STORE_NUM(struct store_rule_upload, created_ns),
};

int
store_rule_upload(struct store *st, const struct store_rule_upload *r, int64_t *id)
{
    static const char SQL[] =
        "INSERT INTO rule_uploads(tenant_id, rule_id, title, yaml, author, created_ns)"
        " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(tenant_id, rule_id) DO UPDATE SET"
        " title = excluded.title, yaml = excluded.yaml, author = excluded.author,"
        " created_ns = excluded.created_ns RETURNING id";
    if (id)
        *id = 0;
    if (r->tenant_id < 0 || !r->rule_id[0] || !r->yaml || strlen(r->yaml) > BN_STORE_TEXT_MAX) {
        bn__store_seterr(st, "rule upload: no rule id or YAML, or YAML over %u bytes",
                         BN_STORE_TEXT_MAX);
        return BN_EINVAL;
    }
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    struct store_rule_upload v = *r;
    if (!v.created_ns)
        v.created_ns = bn__store_now_ns();
    bn__store_cols_bind(s, 1, upload_cols + 1, BN_ARRAY_SIZE(upload_cols) - 1, &v);
    int x = sqlite3_step(s);
    int64_t got = 0;
    if (x == SQLITE_ROW) {
        got = sqlite3_column_int64(s, 0);
        x = sqlite3_step(s);
    }
    if (x != SQLITE_DONE)
        rc = bn__store_err(st, x, "upload rule");
    bn__store_done(s);
    if (rc == 0 && id)
        *id = got;
    return rc;
}

static int
upload_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_rule_upload r;
    bn__store_cols_read(s, 0, upload_cols, BN_ARRAY_SIZE(upload_cols), &r, sizeof(r));
    return ((store_rule_upload_cb)cb)(ctx, &r);
}

int
store_rule_uploads(struct store *st, const struct store_scope *sc, store_rule_upload_cb cb,
                   void *ctx)
{
    return bn__store_list_scoped(st,
                                 "SELECT id, tenant_id, rule_id, title, yaml, author, created_ns"
                                 " FROM rule_uploads WHERE ",
                                 "tenant_id", sc, " ORDER BY id", upload_cb_row, (void *)cb, ctx);
}

int
store_rule_upload_delete(struct store *st, const struct store_scope *sc, int64_t id)
{
    return delete_by_id(st, "rule_uploads", sc, id);
}
