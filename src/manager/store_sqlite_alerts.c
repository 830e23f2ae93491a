/*
 * store_sqlite_alerts.c - alerts (with de-duplication into a count), their links to events,
 * incidents with notes, timeline and affected hosts, and the SOC metrics (MTTD, MTTA, MTTR)
 * computed from them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_util.h"

/* ---- alerts ------------------------------------------------------------------------- */

#define ALERT_COLS                                                                                 \
    "id, tenant_id, agent_id, incident_id, rule_id, rule_title, level, score, "                    \
    "tactics, techniques, dedupe_key, count, first_ns, last_ns, event_ts_ns, "                     \
    "host, user, source, json"

/* In the order of ALERT_COLS; the INSERT binds all but id. */
static const struct store_col alert_cols[] = {
    STORE_NUM(struct store_alert, id),           STORE_NUM(struct store_alert, tenant_id),
    STORE_NUM(struct store_alert, agent_id),     STORE_NUM(struct store_alert, incident_id),
    STORE_CHARS(struct store_alert, rule_id),    STORE_CHARS(struct store_alert, rule_title),
    STORE_NUM(struct store_alert, level),        STORE_NUM(struct store_alert, score),
    STORE_CHARS(struct store_alert, tactics),    STORE_CHARS(struct store_alert, techniques),
    STORE_CHARS(struct store_alert, dedupe_key), STORE_NUM(struct store_alert, count),
    STORE_NUM(struct store_alert, first_ns),     STORE_NUM(struct store_alert, last_ns),
    STORE_NUM(struct store_alert, event_ts_ns),  STORE_CHARS(struct store_alert, host),
    STORE_CHARS(struct store_alert, user),       STORE_CHARS(struct store_alert, source),
    STORE_TEXT(struct store_alert, json),
};
enum { ALERT_COL_JSON = 18 };

static void
alert_row(sqlite3_stmt *s, struct store_alert *a)
{
    bn__store_cols_read(s, 0, alert_cols, BN_ARRAY_SIZE(alert_cols), a, sizeof(*a));
}

int
store_alert_upsert(struct store *st, const struct store_alert *a, int64_t window_ns, int64_t *id,
                   int *merged)
{
    static const char FIND[] = "SELECT id FROM alerts WHERE tenant_id = ? AND dedupe_key = ?"
                               " AND last_ns >= ? ORDER BY last_ns DESC LIMIT 1";
    static const char MERGE[] = "UPDATE alerts SET count = count + ?, last_ns = MAX(last_ns, ?),"
                                " score = MAX(score, ?), level = MAX(level, ?) WHERE id = ?";
    static const char INS[] =
        "INSERT INTO alerts(tenant_id, agent_id, incident_id, rule_id, rule_title, level, score,"
        " tactics, techniques, dedupe_key, count, first_ns, last_ns, event_ts_ns, host, user,"
        " source, json) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    if (merged)
        *merged = 0;
    if (a->tenant_id <= 0 || !a->rule_id[0] || !a->dedupe_key[0] ||
        (a->json && strlen(a->json) > BN_STORE_TEXT_MAX)) {
        bn__store_seterr(st, "alert: no tenant, rule id or dedupe key, or JSON over %u bytes",
                         BN_STORE_TEXT_MAX);
        return BN_EINVAL;
    }
    int64_t count = a->count > 0 ? a->count : 1;
    int64_t last = a->last_ns > a->first_ns ? a->last_ns : a->first_ns;
    int owned;
    int rc = bn__store_tx_begin(st, &owned);
    if (rc != 0)
        return rc;
    int64_t found = 0;
    sqlite3_stmt *s = bn__store_prep(st, FIND, &rc);
    if (s) {
        sqlite3_bind_int64(s, 1, a->tenant_id);
        bn__store_bind_text(s, 2, a->dedupe_key);
        sqlite3_bind_int64(s, 3, a->first_ns - (window_ns > 0 ? window_ns : 0));
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            found = sqlite3_column_int64(s, 0);
        else if (r != SQLITE_DONE)
            rc = bn__store_err(st, r, "find alert");
        bn__store_done(s);
    }
    if (rc == 0 && found && window_ns > 0) {
        s = bn__store_prep(st, MERGE, &rc);
        if (s) {
            sqlite3_bind_int64(s, 1, count);
            sqlite3_bind_int64(s, 2, last);
            sqlite3_bind_int(s, 3, a->score);
            sqlite3_bind_int(s, 4, a->level);
            sqlite3_bind_int64(s, 5, found);
            rc = bn__store_step_done(st, s, "merge alert");
        }
        if (rc == 0) {
            if (id)
                *id = found;
            if (merged)
                *merged = 1;
        }
    } else if (rc == 0) {
        s = bn__store_prep(st, INS, &rc);
        if (s) {
            struct store_alert v = *a;
            v.count = count;
            v.last_ns = last;
            if (!v.source[0])
                memcpy(v.source, "central", sizeof("central"));
            if (!v.json)
                v.json = "{}";
            bn__store_cols_bind(s, 1, alert_cols + 1, BN_ARRAY_SIZE(alert_cols) - 1, &v);
            rc = bn__store_step_insert(st, s, "insert alert", id);
        }
    }
    rc = bn__store_tx_end(st, owned, rc);
    if (rc != 0 && id)
        *id = 0;
    return rc;
}

int
store_alert_get(struct store *st, const struct store_scope *sc, int64_t id, struct store_alert *out)
{
    static const char SQL[] = "SELECT " ALERT_COLS " FROM alerts WHERE id = ?";
    return bn__store_get_scoped(st, SQL, sc, id, alert_cols, BN_ARRAY_SIZE(alert_cols),
                                ALERT_COL_JSON, out, sizeof(*out), "get alert");
}

/* A page of alerts or incidents, newest last_ns first: the caller's callback and context, the
 * rows seen, and the cursor after the last one. */
struct paged {
    void *cb;
    void *ctx;
    size_t rows;
    struct store_cursor *next;
};

/* Counts a row of the page and moves the cursor past it. */
static void
paged_row(struct paged *p, int64_t last_ns, int64_t id)
{
    p->rows++;
    if (p->next) {
        p->next->ts_ns = last_ns;
        p->next->id = id;
    }
}

static int
alert_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct paged *p = ctx;
    struct store_alert a;
    alert_row(s, &a);
    paged_row(p, a.last_ns, a.id);
    (void)cb;
    return ((store_alert_cb)p->cb)(p->ctx, &a);
}

static int
finish_page(struct store *st, struct bn_buf *b, int has_cursor, const struct store_cursor *after,
            size_t limit, bn__store_row_fn row, struct paged *p, int *more)
{
    int rc = 0;
    if (has_cursor)
        rc = bn_buf_printf(b, " AND (last_ns < %lld OR (last_ns = %lld AND id < %lld))",
                           (long long)after->ts_ns, (long long)after->ts_ns, (long long)after->id);
    if (rc == 0)
        rc = bn_buf_printf(b, " ORDER BY last_ns DESC, id DESC LIMIT %zu", limit);
    rc = bn__store_list_end(st, rc, b, row, NULL, p);
    if (rc == 0 && more)
        *more = p->rows == limit;
    return rc;
}

/* Binds nothing: text filters are bound through a prepared statement built here. */
static int
text_filter(struct store *st, struct bn_buf *b, const char *col, const char *v)
{
    if (!v)
        return 0;
    if (strlen(v) > BN_STORE_FILTER_VALUE_MAX) {
        bn__store_seterr(st, "filter on %s longer than %d bytes", col, BN_STORE_FILTER_VALUE_MAX);
        return BN_ETOOBIG;
    }
    /* Quoted as an SQL literal (quotes doubled by sqlite3_mprintf's %Q). */
    char *q = sqlite3_mprintf(" AND %s = %Q", col, v);
    if (!q)
        return BN_ENOMEM;
    int rc = bn_buf_puts(b, q);
    sqlite3_free(q);
    return rc;
}

int
store_alert_list(struct store *st, const struct store_alert_query *q, store_alert_cb cb, void *ctx,
                 struct store_cursor *next, int *more)
{
    if (next)
        memset(next, 0, sizeof(*next));
    if (more)
        *more = 0;
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " ALERT_COLS " FROM alerts WHERE ", "tenant_id",
                                 &q->scope, "");
    if (rc != 0)
        return rc;
    if (q->from_ns)
        rc = rc ? rc : bn_buf_printf(&b, " AND last_ns >= %lld", (long long)q->from_ns);
    if (q->to_ns)
        rc = rc ? rc : bn_buf_printf(&b, " AND first_ns < %lld", (long long)q->to_ns);
    if (q->min_level > 0)
        rc = rc ? rc : bn_buf_printf(&b, " AND level >= %d", q->min_level);
    if (q->incident_id >= 0)
        rc = rc ? rc : bn_buf_printf(&b, " AND incident_id = %lld", (long long)q->incident_id);
    if (q->agent_id > 0)
        rc = rc ? rc : bn_buf_printf(&b, " AND agent_id = %lld", (long long)q->agent_id);
    rc = rc ? rc : text_filter(st, &b, "rule_id", q->rule_id);
    rc = rc ? rc : text_filter(st, &b, "host", q->host);
    rc = rc ? rc : text_filter(st, &b, "source", q->source);
    if (rc != 0) {
        bn_buf_release(&b);
        return rc;
    }
    struct paged p = {.cb = (void *)cb, .ctx = ctx, .next = next};
    return finish_page(st, &b, q->after.ts_ns || q->after.id, &q->after, bn__store_limit(q->limit),
                       alert_cb_row, &p, more);
}

int
store_alert_set_incident(struct store *st, const struct store_scope *sc, int64_t alert_id,
                         int64_t incident_id)
{
    static const char SQL[] = "UPDATE alerts SET incident_id = ? WHERE id = ? AND tenant_id = ?";
    struct store_alert a;
    int rc = store_alert_get(st, sc, alert_id, &a);
    if (rc != 0)
        return rc;
    if (incident_id > 0) {
        struct store_incident inc;
        rc = store_incident_get(st, sc, incident_id, &inc);
        if (rc == 0 && inc.tenant_id != a.tenant_id)
            rc = BN_ENOTFOUND; /* never group across tenants */
        if (rc != 0)
            return rc;
    }
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, incident_id);
    sqlite3_bind_int64(s, 2, alert_id);
    sqlite3_bind_int64(s, 3, a.tenant_id);
    return bn__store_step_done(st, s, "set alert incident");
}

int
store_alert_add_event(struct store *st, int64_t alert_id, int64_t agent_id, int64_t seq)
{
    static const char CNT[] = "SELECT nevents FROM alerts WHERE id = ?";
    static const char INS[] = "INSERT INTO alert_events(alert_id, agent_id, seq) VALUES(?, ?, ?)"
                              " ON CONFLICT DO NOTHING";
    static const char BUMP[] = "UPDATE alerts SET nevents = nevents + 1 WHERE id = ?";
    int owned;
    int rc = bn__store_tx_begin(st, &owned);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, CNT, &rc);
    if (s) {
        sqlite3_bind_int64(s, 1, alert_id);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            if (sqlite3_column_int64(s, 0) >= BN_STORE_ALERT_EVENTS_MAX)
                rc = BN_DECLINED;
        } else {
            rc = r == SQLITE_DONE ? BN_ENOTFOUND : bn__store_err(st, r, "alert events");
        }
        bn__store_done(s);
    }
    if (rc == 0 && (s = bn__store_prep(st, INS, &rc))) {
        sqlite3_bind_int64(s, 1, alert_id);
        sqlite3_bind_int64(s, 2, agent_id);
        sqlite3_bind_int64(s, 3, seq);
        rc = bn__store_step_done(st, s, "link alert event");
        if (rc == 0 && sqlite3_changes(st->db) == 1 && (s = bn__store_prep(st, BUMP, &rc))) {
            sqlite3_bind_int64(s, 1, alert_id);
            rc = bn__store_step_done(st, s, "link alert event");
        }
    }
    if (rc == BN_DECLINED) {
        bn__store_tx_end(st, owned, BN_DECLINED);
        return BN_DECLINED;
    }
    return bn__store_tx_end(st, owned, rc);
}

/* ---- incidents -------------------------------------------------------------------------- */

#define INC_COLS                                                                                   \
    "id, tenant_id, title, severity, status, assignee_id, group_key, tactics, "                    \
    "alert_count, first_ns, last_ns, created_ns, acknowledged_ns, resolved_ns, "                   \
    "notified_severity"

/* In the order of INC_COLS; the INSERT binds all but id. */
static const struct store_col inc_cols[] = {
    STORE_NUM(struct store_incident, id),
    STORE_NUM(struct store_incident, tenant_id),
    STORE_CHARS(struct store_incident, title),
    STORE_NUM(struct store_incident, severity),
    STORE_NUM(struct store_incident, status),
    STORE_NUM(struct store_incident, assignee_id),
    STORE_CHARS(struct store_incident, group_key),
    STORE_CHARS(struct store_incident, tactics),
    STORE_NUM(struct store_incident, alert_count),
    STORE_NUM(struct store_incident, first_ns),
    STORE_NUM(struct store_incident, last_ns),
    STORE_NUM(struct store_incident, created_ns),
    STORE_NUM(struct store_incident, acknowledged_ns),
    STORE_NUM(struct store_incident, resolved_ns),
    STORE_NUM(struct store_incident, notified_severity),
};
enum { INC_COL_CREATED = 11 };

static void
incident_row(sqlite3_stmt *s, struct store_incident *i)
{
    bn__store_cols_read(s, 0, inc_cols, BN_ARRAY_SIZE(inc_cols), i, sizeof(*i));
}

static int
valid_status(int status)
{
    return status >= STORE_INC_NEW && status <= STORE_INC_FALSE_POSITIVE;
}

int
store_incident_create(struct store *st, const struct store_incident *inc, int64_t *id)
{
    static const char SQL[] =
        "INSERT INTO incidents(tenant_id, title, severity, status, assignee_id, group_key,"
        " tactics, alert_count, first_ns, last_ns, created_ns, acknowledged_ns, resolved_ns,"
        " notified_severity) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    if (id)
        *id = 0;
    if (inc->tenant_id <= 0 || !valid_status(inc->status) || inc->severity < 0 || inc->severity > 4)
        return BN_EINVAL;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    struct store_incident v = *inc;
    if (!v.created_ns)
        v.created_ns = bn__store_now_ns();
    bn__store_cols_bind(s, 1, inc_cols + 1, BN_ARRAY_SIZE(inc_cols) - 1, &v);
    return bn__store_step_insert(st, s, "create incident", id);
}

static int
incident_by_id(struct store *st, int64_t id, struct store_incident *out)
{
    static const char SQL[] = "SELECT " INC_COLS " FROM incidents WHERE id = ?";
    return bn__store_get_row(st, SQL, id, NULL, inc_cols, BN_ARRAY_SIZE(inc_cols), out,
                             sizeof(*out), "get incident");
}

int
store_incident_get(struct store *st, const struct store_scope *sc, int64_t id,
                   struct store_incident *out)
{
    int rc = incident_by_id(st, id, out);
    if (rc == 0 && !bn__store_in_scope(sc, out->tenant_id)) {
        memset(out, 0, sizeof(*out));
        rc = BN_ENOTFOUND;
    }
    return rc;
}

int
store_incident_update(struct store *st, const struct store_scope *sc,
                      const struct store_incident *inc)
{
    static const char SQL[] =
        "UPDATE incidents SET title = ?, severity = ?, status = ?, assignee_id = ?,"
        " group_key = ?, tactics = ?, alert_count = ?, first_ns = ?, last_ns = ?,"
        " acknowledged_ns = ?, resolved_ns = ?, notified_severity = ? WHERE id = ?";
    struct store_incident cur;
    int rc = store_incident_get(st, sc, inc->id, &cur);
    if (rc != 0)
        return rc;
    if (!valid_status(inc->status) || inc->severity < 0 || inc->severity > 4)
        return BN_EINVAL;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    /* title .. last_ns, acknowledged_ns .. notified_severity (created_ns stays), the id */
    bn__store_cols_bind(s, 1, inc_cols + 2, INC_COL_CREATED - 2, inc);
    bn__store_cols_bind(s, INC_COL_CREATED - 1, inc_cols + INC_COL_CREATED + 1,
                        BN_ARRAY_SIZE(inc_cols) - INC_COL_CREATED - 1, inc);
    sqlite3_bind_int64(s, 13, inc->id);
    return bn__store_step_done(st, s, "update incident");
}

int
store_incident_set_status(struct store *st, const struct store_scope *sc, int64_t id, int status,
                          int64_t now_ns)
{
    static const char SQL[] =
        "UPDATE incidents SET status = ?1,"
        " acknowledged_ns = CASE WHEN acknowledged_ns = 0 AND ?1 <> 0 THEN ?2"
        "   ELSE acknowledged_ns END,"
        " resolved_ns = CASE WHEN resolved_ns = 0 AND ?1 IN (4, 5) THEN ?2 ELSE resolved_ns END"
        " WHERE id = ?3";
    if (!valid_status(status))
        return BN_EINVAL;
    struct store_incident cur;
    int rc = store_incident_get(st, sc, id, &cur);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int(s, 1, status);
    sqlite3_bind_int64(s, 2, now_ns);
    sqlite3_bind_int64(s, 3, id);
    return bn__store_step_done(st, s, "set incident status");
}

int
store_incident_set_assignee(struct store *st, const struct store_scope *sc, int64_t id,
                            int64_t assignee_id)
{
    static const char SQL[] = "UPDATE incidents SET assignee_id = ? WHERE id = ?";
    struct store_incident cur;
    int rc = store_incident_get(st, sc, id, &cur);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, assignee_id);
    sqlite3_bind_int64(s, 2, id);
    return bn__store_step_done(st, s, "set incident assignee");
}

int
store_incident_set_notified(struct store *st, int64_t id, int notified_severity)
{
    static const char SQL[] = "UPDATE incidents SET notified_severity = ? WHERE id = ?";
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int(s, 1, notified_severity);
    sqlite3_bind_int64(s, 2, id);
    return bn__store_step_changed(st, s, "set incident notified");
}

int
store_incident_find_open(struct store *st, int64_t tenant_id, const char *group_key,
                         int64_t since_ns, struct store_incident *out)
{
    static const char SQL[] = "SELECT " INC_COLS " FROM incidents WHERE tenant_id = ?"
                              " AND group_key = ? AND last_ns >= ? AND status NOT IN (4, 5)"
                              " ORDER BY last_ns DESC LIMIT 1";
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (!group_key)
        return BN_EINVAL;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    bn__store_bind_text(s, 2, group_key);
    sqlite3_bind_int64(s, 3, since_ns);
    rc = bn__store_step_row(st, s, "find incident");
    if (rc == 0)
        incident_row(s, out);
    bn__store_done(s);
    return rc;
}

static int
incident_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct paged *p = ctx;
    struct store_incident i;
    incident_row(s, &i);
    paged_row(p, i.last_ns, i.id);
    (void)cb;
    return ((store_incident_cb)p->cb)(p->ctx, &i);
}

int
store_incident_list(struct store *st, const struct store_incident_query *q, store_incident_cb cb,
                    void *ctx, struct store_cursor *next, int *more)
{
    if (next)
        memset(next, 0, sizeof(*next));
    if (more)
        *more = 0;
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, "SELECT " INC_COLS " FROM incidents WHERE ", "tenant_id",
                                 &q->scope, "");
    if (rc != 0)
        return rc;
    if (q->status >= 0)
        rc = bn_buf_printf(&b, " AND status = %d", q->status);
    else if (q->status == -2)
        rc = bn_buf_puts(&b, " AND status NOT IN (4, 5)");
    if (q->min_severity > 0)
        rc = rc ? rc : bn_buf_printf(&b, " AND severity >= %d", q->min_severity);
    if (q->assignee_id > 0)
        rc = rc ? rc : bn_buf_printf(&b, " AND assignee_id = %lld", (long long)q->assignee_id);
    if (q->from_ns)
        rc = rc ? rc : bn_buf_printf(&b, " AND last_ns >= %lld", (long long)q->from_ns);
    if (q->to_ns)
        rc = rc ? rc : bn_buf_printf(&b, " AND first_ns < %lld", (long long)q->to_ns);
    if (rc != 0) {
        bn_buf_release(&b);
        return rc;
    }
    struct paged p = {.cb = (void *)cb, .ctx = ctx, .next = next};
    return finish_page(st, &b, q->after.ts_ns || q->after.id, &q->after, bn__store_limit(q->limit),
                       incident_cb_row, &p, more);
}

int
store_incident_note_add(struct store *st, const struct store_scope *sc, int64_t incident_id,
                        const char *author, const char *text, int64_t now_ns, int64_t *id)
{
    static const char SQL[] = "INSERT INTO incident_notes(incident_id, author, text, created_ns)"
                              " VALUES(?, ?, ?, ?)";
    if (id)
        *id = 0;
    if (!text || !*text || strlen(text) > BN_STORE_TEXT_MAX ||
        (author && strlen(author) >= sizeof(((struct store_note *)0)->author)))
        return BN_EINVAL;
    struct store_incident cur;
    int rc = store_incident_get(st, sc, incident_id, &cur);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, incident_id);
    bn__store_bind_text(s, 2, author ? author : "");
    bn__store_bind_text(s, 3, text);
    sqlite3_bind_int64(s, 4, now_ns);
    return bn__store_step_insert(st, s, "add note", id);
}

static const struct store_col note_cols[] = {
    STORE_NUM(struct store_note, id),         STORE_NUM(struct store_note, incident_id),
    STORE_CHARS(struct store_note, author),   STORE_TEXT(struct store_note, text),
    STORE_NUM(struct store_note, created_ns),
};

static int
note_cb_row(sqlite3_stmt *s, void *cb, void *ctx)
{
    struct store_note n;
    bn__store_cols_read(s, 0, note_cols, BN_ARRAY_SIZE(note_cols), &n, sizeof(n));
    return ((store_note_cb)cb)(ctx, &n);
}

int
store_incident_notes(struct store *st, const struct store_scope *sc, int64_t incident_id,
                     store_note_cb cb, void *ctx)
{
    struct store_incident cur;
    int rc = store_incident_get(st, sc, incident_id, &cur);
    if (rc != 0)
        return rc;
    struct bn_buf b;
    bn_buf_init(&b, 4096);
    rc = bn_buf_printf(&b,
                       "SELECT id, incident_id, author, text, created_ns FROM incident_notes"
                       " WHERE incident_id = %lld ORDER BY created_ns, id",
                       (long long)incident_id);
    return bn__store_list_end(st, rc, &b, note_cb_row, (void *)cb, ctx);
}

int
store_incident_timeline(struct store *st, const struct store_scope *sc, int64_t incident_id,
                        store_alert_cb alert_cb, store_event_cb event_cb, void *ctx)
{
    static const char EVS[] =
        "SELECT e.id, e.tenant_id, e.agent_id, e.seq, e.ts_ns, e.received_ns, e.event_id,"
        " e.host, e.image, e.user, e.json FROM alert_events ae JOIN events e"
        " ON e.agent_id = ae.agent_id AND e.seq = ae.seq WHERE ae.alert_id = ? AND"
        " e.tenant_id = ? ORDER BY e.ts_ns, e.id";
    struct store_incident inc;
    int rc = store_incident_get(st, sc, incident_id, &inc);
    if (rc != 0)
        return rc;
    sqlite3_stmt *as = NULL;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT " ALERT_COLS " FROM alerts WHERE incident_id = %lld AND tenant_id = %lld"
             " ORDER BY first_ns, id",
             (long long)incident_id, (long long)inc.tenant_id);
    rc = bn__store_prepare_dyn(st, sql, &as);
    if (rc != 0)
        return rc;
    int r;
    while (rc == 0 && (r = sqlite3_step(as)) == SQLITE_ROW) {
        struct store_alert a;
        alert_row(as, &a);
        rc = alert_cb ? alert_cb(ctx, &a) : 0;
        if (rc != 0 || !event_cb)
            continue;
        sqlite3_stmt *es = bn__store_prep(st, EVS, &rc);
        if (!es)
            break;
        sqlite3_bind_int64(es, 1, a.id);
        sqlite3_bind_int64(es, 2, inc.tenant_id);
        int er;
        while (rc == 0 && (er = sqlite3_step(es)) == SQLITE_ROW) {
            struct store_event e = {
                .id = sqlite3_column_int64(es, 0),
                .tenant_id = sqlite3_column_int64(es, 1),
                .agent_id = sqlite3_column_int64(es, 2),
                .seq = sqlite3_column_int64(es, 3),
                .ts_ns = sqlite3_column_int64(es, 4),
                .received_ns = sqlite3_column_int64(es, 5),
                .event_id = sqlite3_column_int(es, 6),
                .host = (const char *)sqlite3_column_text(es, 7),
                .image = (const char *)sqlite3_column_text(es, 8),
                .user = (const char *)sqlite3_column_text(es, 9),
            };
            rc = bn__store_z_text(st, es, 10, &e.json, &e.json_len);
            if (rc == 0)
                rc = event_cb(ctx, &e);
        }
        if (rc == 0 && er != SQLITE_DONE)
            rc = bn__store_err(st, er, "timeline events");
        bn__store_done(es);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "timeline");
    sqlite3_finalize(as);
    return rc > 0 ? 0 : rc;
}

int
store_incident_hosts(struct store *st, const struct store_scope *sc, int64_t incident_id,
                     store_host_cb cb, void *ctx)
{
    struct store_incident inc;
    int rc = store_incident_get(st, sc, incident_id, &inc);
    if (rc != 0)
        return rc;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT host, SUM(count), MIN(first_ns), MAX(last_ns) FROM alerts"
             " WHERE incident_id = %lld AND tenant_id = %lld AND host <> ''"
             " GROUP BY host ORDER BY MIN(first_ns)",
             (long long)incident_id, (long long)inc.tenant_id);
    sqlite3_stmt *s = NULL;
    rc = bn__store_prepare_dyn(st, sql, &s);
    if (rc != 0)
        return rc;
    int r;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW)
        rc = cb(ctx, bn__store_col_text(s, 0), sqlite3_column_int64(s, 1),
                sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3));
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "incident hosts");
    sqlite3_finalize(s);
    return rc > 0 ? 0 : rc;
}

/* ---- SOC metrics ----------------------------------------------------------------------- */

enum { M_TTD, M_TTA, M_TTR };

struct sample {
    int64_t tenant;
    char rule[64];
    int kind;
    int64_t v;
};

struct samples {
    struct sample *p;
    size_t n, cap;
};

static int
add_sample(struct store *st, struct samples *ss, int64_t tenant, const char *rule, int kind,
           int64_t v)
{
    if (ss->n == ss->cap) {
        if (ss->cap >= BN_STORE_METRIC_SAMPLES_MAX) {
            bn__store_seterr(st, "metrics: more than %d samples: narrow the time range",
                             BN_STORE_METRIC_SAMPLES_MAX);
            return BN_ETOOBIG;
        }
        size_t cap = ss->cap ? ss->cap * 2 : 1024;
        struct sample *np = bn_reallocarray(ss->p, cap, sizeof(*np));
        if (!np)
            return BN_ENOMEM;
        ss->p = np;
        ss->cap = cap;
    }
    struct sample *s = &ss->p[ss->n++];
    s->tenant = tenant;
    snprintf(s->rule, sizeof(s->rule), "%s", rule);
    s->kind = kind;
    s->v = v;
    return 0;
}

static int
cmp_sample(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;
    if (x->tenant != y->tenant)
        return x->tenant < y->tenant ? -1 : 1;
    int c = strcmp(x->rule, y->rule);
    if (c)
        return c;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    return x->v < y->v ? -1 : x->v > y->v;
}

static void
stats_of(const struct sample *s, size_t n, struct store_metric_stats *out)
{
    __int128 sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += s[i].v;
    out->n = (int64_t)n;
    out->avg_ns = n ? (int64_t)(sum / (__int128)n) : 0;
    /* Nearest rank over the sorted values. */
    out->p50_ns = n ? s[(n * 50 + 99) / 100 - 1].v : 0;
    out->p90_ns = n ? s[(n * 90 + 99) / 100 - 1].v : 0;
}

static int
collect(struct store *st, const char *sql, struct samples *ss, int per_rule, int incidents)
{
    sqlite3_stmt *s = NULL;
    int rc = bn__store_prepare_dyn(st, sql, &s);
    if (rc != 0)
        return rc;
    int r;
    int64_t last_inc = -1;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t tenant = sqlite3_column_int64(s, 0);
        const char *rule = bn__store_col_text(s, 1);
        if (!incidents) {
            int64_t v = sqlite3_column_int64(s, 2);
            rc = add_sample(st, ss, tenant, "", M_TTD, v);
            if (rc == 0 && per_rule)
                rc = add_sample(st, ss, tenant, rule, M_TTD, v);
            continue;
        }
        int64_t inc = sqlite3_column_int64(s, 2), created = sqlite3_column_int64(s, 3);
        int64_t ack = sqlite3_column_int64(s, 4), res = sqlite3_column_int64(s, 5);
        for (int pass = 0; pass < 2 && rc == 0; pass++) {
            const char *key = pass == 0 ? "" : rule;
            if (pass == 0 && inc == last_inc)
                continue; /* the totals count an incident once */
            if (pass == 1 && (!per_rule || !*rule))
                continue;
            if (ack > 0)
                rc = add_sample(st, ss, tenant, key, M_TTA, ack - created);
            if (rc == 0 && res > 0)
                rc = add_sample(st, ss, tenant, key, M_TTR, res - created);
        }
        last_inc = inc;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "metrics");
    sqlite3_finalize(s);
    return rc;
}

int
store_metrics(struct store *st, const struct store_scope *sc, int64_t from_ns, int64_t to_ns,
              int per_rule, store_metrics_cb cb, void *ctx)
{
    if (to_ns <= 0)
        to_ns = INT64_MAX;
    struct bn_buf sa, si, scope, iscope;
    bn_buf_init(&scope, 1u << 20);
    bn_buf_init(&iscope, 1u << 20);
    int rc = bn__store_scope_sql(&scope, "tenant_id", sc);
    if (rc == 0)
        rc = bn__store_scope_sql(&iscope, "i.tenant_id", sc);
    bn_buf_init(&sa, 1u << 20);
    bn_buf_init(&si, 1u << 20);
    if (rc == 0)
        rc = bn_buf_printf(&sa,
                           "SELECT tenant_id, rule_id, first_ns - event_ts_ns FROM alerts"
                           " WHERE %s AND event_ts_ns > 0 AND first_ns >= %lld"
                           " AND first_ns < %lld",
                           scope.p, (long long)from_ns, (long long)to_ns);
    /* One row per (incident, rule of its alerts); incidents without alerts keep rule NULL. */
    if (rc == 0)
        rc = bn_buf_printf(&si,
                           "SELECT i.tenant_id, r.rule_id, i.id, i.created_ns,"
                           " i.acknowledged_ns, i.resolved_ns FROM incidents i"
                           " LEFT JOIN (SELECT DISTINCT incident_id, rule_id FROM alerts"
                           "   WHERE incident_id > 0) r ON r.incident_id = i.id"
                           " WHERE %s AND i.created_ns >= %lld AND i.created_ns < %lld"
                           " ORDER BY i.id",
                           iscope.p, (long long)from_ns, (long long)to_ns);
    struct samples ss = {0};
    if (rc == 0)
        rc = collect(st, sa.p, &ss, per_rule, 0);
    if (rc == 0)
        rc = collect(st, si.p, &ss, per_rule, 1);
    bn_buf_release(&sa);
    bn_buf_release(&si);
    bn_buf_release(&scope);
    bn_buf_release(&iscope);
    if (rc == 0 && ss.n)
        qsort(ss.p, ss.n, sizeof(*ss.p), cmp_sample);
    for (size_t i = 0; rc == 0 && i < ss.n;) {
        struct store_metrics m;
        memset(&m, 0, sizeof(m));
        m.tenant_id = ss.p[i].tenant;
        snprintf(m.rule_id, sizeof(m.rule_id), "%s", ss.p[i].rule);
        size_t j = i;
        while (j < ss.n && ss.p[j].tenant == m.tenant_id && !strcmp(ss.p[j].rule, m.rule_id)) {
            size_t k = j;
            while (k < ss.n && ss.p[k].tenant == m.tenant_id && !strcmp(ss.p[k].rule, m.rule_id) &&
                   ss.p[k].kind == ss.p[j].kind)
                k++;
            struct store_metric_stats *dst = ss.p[j].kind == M_TTD   ? &m.mttd
                                             : ss.p[j].kind == M_TTA ? &m.mtta
                                                                     : &m.mttr;
            stats_of(&ss.p[j], k - j, dst);
            j = k;
        }
        rc = cb(ctx, &m);
        i = j;
    }
    bn_free(ss.p);
    return rc > 0 ? 0 : rc;
}
