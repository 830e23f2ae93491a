/*
 * store_sqlite_events.c - the hot path (batched event inserts with (agent_id, seq)
 * de-duplication, inside the caller's transaction) and the API's event search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_int.h"

/* Bytes an event counts for retention_bytes: its text plus a row's overhead. */
static int64_t
event_bytes(const struct store_event *e, size_t stored)
{
    return (int64_t)stored + (e->host ? (int64_t)strlen(e->host) : 0) +
           (e->image ? (int64_t)strlen(e->image) : 0) + (e->user ? (int64_t)strlen(e->user) : 0) +
           64;
}

struct agent_acc {
    int64_t agent_id;
    int64_t max_seq;
};
struct tenant_acc {
    int64_t tenant_id;
    int64_t events;
    int64_t bytes;
};
#define ACC_MAX 16

static int
flush_usage(struct store *st, const struct agent_acc *ag, size_t nag, const struct tenant_acc *tn,
            size_t ntn)
{
    static const char SEQ[] = "UPDATE agents SET last_seq = MAX(last_seq, ?) WHERE id = ?";
    static const char USE[] =
        "INSERT INTO tenant_usage(tenant_id, events, bytes) VALUES(?, ?, ?)"
        " ON CONFLICT(tenant_id) DO UPDATE SET events = events + excluded.events,"
        " bytes = bytes + excluded.bytes";
    int rc = 0;
    for (size_t i = 0; i < nag && rc == 0; i++) {
        sqlite3_stmt *s = bn__store_prep(st, SEQ, &rc);
        if (!s)
            break;
        sqlite3_bind_int64(s, 1, ag[i].max_seq);
        sqlite3_bind_int64(s, 2, ag[i].agent_id);
        rc = bn__store_step_done(st, s, "update agent seq");
    }
    for (size_t i = 0; i < ntn && rc == 0; i++) {
        if (tn[i].events == 0)
            continue;
        sqlite3_stmt *s = bn__store_prep(st, USE, &rc);
        if (!s)
            break;
        sqlite3_bind_int64(s, 1, tn[i].tenant_id);
        sqlite3_bind_int64(s, 2, tn[i].events);
        sqlite3_bind_int64(s, 3, tn[i].bytes);
        rc = bn__store_step_done(st, s, "update tenant usage");
    }
    return rc;
}

/* Per-agent highest seq and per-tenant usage of one insert call, flushed at the end (or
 * when more than ACC_MAX agents or tenants appear). */
struct insert_acc {
    struct agent_acc ag[ACC_MAX];
    struct tenant_acc tn[ACC_MAX];
    size_t nag, ntn;
};

static int
acc_event(struct store *st, struct insert_acc *a, int64_t agent_id, int64_t seq, int64_t tenant_id,
          int64_t events, int64_t bytes)
{
    int rc = 0;
    size_t k;
    if (agent_id > 0) {
        for (k = 0; k < a->nag && a->ag[k].agent_id != agent_id; k++)
            ;
        if (k == a->nag && a->nag == ACC_MAX) {
            rc = flush_usage(st, a->ag, a->nag, NULL, 0);
            a->nag = k = 0;
        }
        if (k == a->nag) {
            a->ag[a->nag].agent_id = agent_id;
            a->ag[a->nag++].max_seq = seq;
        } else if (seq > a->ag[k].max_seq) {
            a->ag[k].max_seq = seq;
        }
    }
    for (k = 0; k < a->ntn && a->tn[k].tenant_id != tenant_id; k++)
        ;
    if (k == a->ntn && a->ntn == ACC_MAX) {
        int r = flush_usage(st, NULL, 0, a->tn, a->ntn);
        rc = rc ? rc : r;
        a->ntn = k = 0;
    }
    if (k == a->ntn) {
        a->tn[a->ntn].tenant_id = tenant_id;
        a->tn[a->ntn].events = 0;
        a->tn[a->ntn++].bytes = 0;
    }
    a->tn[k].events += events;
    a->tn[k].bytes += bytes;
    return rc;
}

int
bn__store_spans_on(const struct store *st)
{
    return st->version >= 7;
}

/* Schema 7: the span being built (a run of rows of one tenant and agent of one call). */
struct span_acc {
    int on, have;
    int64_t tenant_id, agent_id, min_ts, max_ts, first_id, last_id;
};

static int
span_flush(struct store *st, struct span_acc *sp)
{
    static const char SQL[] = "INSERT INTO event_spans(tenant_id, agent_id, min_ts, max_ts,"
                              " first_id, last_id) VALUES(?, ?, ?, ?, ?, ?)";
    if (!sp->have)
        return 0;
    sp->have = 0;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, sp->tenant_id);
    sqlite3_bind_int64(s, 2, sp->agent_id);
    sqlite3_bind_int64(s, 3, sp->min_ts);
    sqlite3_bind_int64(s, 4, sp->max_ts);
    sqlite3_bind_int64(s, 5, sp->first_id);
    sqlite3_bind_int64(s, 6, sp->last_id);
    return bn__store_step_done(st, s, "event span");
}

/* The row just inserted (rowid: the connection's last insert) joins the span. */
static int
span_add(struct store *st, struct span_acc *sp, const struct store_event *e)
{
    if (!sp->on)
        return 0;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    int rc = 0;
    if (sp->have && (sp->tenant_id != e->tenant_id || sp->agent_id != e->agent_id))
        rc = span_flush(st, sp);
    if (!sp->have) {
        sp->have = 1;
        sp->tenant_id = e->tenant_id;
        sp->agent_id = e->agent_id;
        sp->min_ts = sp->max_ts = e->ts_ns;
        sp->first_id = sp->last_id = id;
        return rc;
    }
    sp->min_ts = BN_MIN(sp->min_ts, e->ts_ns);
    sp->max_ts = BN_MAX(sp->max_ts, e->ts_ns);
    sp->first_id = BN_MIN(sp->first_id, id);
    sp->last_id = BN_MAX(sp->last_id, id);
    return rc;
}

/* Inserts one row; *added is 0 for a duplicate (agent_id, seq). */
static int
insert_row(struct store *st, sqlite3_stmt *s, const struct store_event *e, const void *blob,
           size_t blobn, int *added)
{
    sqlite3_bind_int64(s, 1, e->tenant_id);
    sqlite3_bind_int64(s, 2, e->agent_id);
    sqlite3_bind_int64(s, 3, e->seq);
    sqlite3_bind_int64(s, 4, e->ts_ns);
    sqlite3_bind_int64(s, 5, e->received_ns);
    sqlite3_bind_int(s, 6, e->event_id);
    bn__store_bind_text(s, 7, e->host);
    bn__store_bind_text(s, 8, e->image);
    bn__store_bind_text(s, 9, e->user);
    if (blob)
        sqlite3_bind_blob(s, 10, blob, (int)blobn, SQLITE_STATIC);
    else
        sqlite3_bind_text(s, 10, e->json, (int)e->json_len, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return bn__store_err(st, r, "insert event");
    *added = sqlite3_changes(st->db) != 0;
    return 0;
}

/* Schema 6: events [i, j) of one tenant in one block; *ins and *dup counted. */
static int
insert_block(struct store *st, sqlite3_stmt *s, const struct store_event *ev, size_t i, size_t j,
             struct insert_acc *acc, struct span_acc *sp, size_t *ins, size_t *dup)
{
    static const char LIVE[] = "UPDATE event_blocks SET live = ? WHERE id = ?";
    static const char DROP[] = "DELETE FROM event_blocks WHERE id = ?";
    int64_t blk, zbytes;
    int rc = bn__store_blk_flush(st, ev[i].tenant_id, (int64_t)(j - i), &blk, &zbytes);
    if (rc != 0)
        return rc;
    size_t off = 0, added = 0;
    for (size_t k = i; k < j && rc == 0; k++) {
        const struct store_event *e = &ev[k];
        uint8_t ref[STORE_BLOCK_REF_MAX];
        size_t refn = bn__store_blk_ref(ref, blk, off, e->json_len);
        off += e->json_len + 1;
        int a = 0;
        rc = insert_row(st, s, e, ref, refn, &a);
        if (rc != 0)
            break;
        if (!a) {
            (*dup)++;
            continue;
        }
        added++;
        rc = span_add(st, sp, e);
        if (rc == 0)
            rc = acc_event(st, acc, e->agent_id, e->seq, e->tenant_id, 1, event_bytes(e, refn));
    }
    if (rc != 0)
        return rc;
    *ins += added;
    if (added == j - i) /* the usual case: every event new */
        return acc_event(st, acc, 0, 0, ev[i].tenant_id, 0, zbytes);
    sqlite3_stmt *u = bn__store_prep(st, added ? LIVE : DROP, &rc);
    if (!u)
        return rc;
    if (added) {
        sqlite3_bind_int64(u, 1, (int64_t)added);
        sqlite3_bind_int64(u, 2, blk);
    } else {
        sqlite3_bind_int64(u, 1, blk);
    }
    rc = bn__store_step_done(st, u, "event block count");
    if (rc == 0 && added)
        rc = acc_event(st, acc, 0, 0, ev[i].tenant_id, 0, zbytes);
    return rc;
}

int
store_events_insert(struct store *st, const struct store_event *ev, size_t n, size_t *inserted,
                    size_t *dups)
{
    static const char SQL[] =
        "INSERT INTO events(tenant_id, agent_id, seq, ts_ns, received_ns, event_id, host,"
        " image, user, json) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(agent_id, seq) DO NOTHING";
    size_t ins = 0, dup = 0;
    if (inserted)
        *inserted = 0;
    if (dups)
        *dups = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].tenant_id <= 0 || ev[i].agent_id <= 0 || !ev[i].json) {
            bn__store_seterr(st, "event %zu of the batch: no tenant, agent or JSON", i);
            return BN_EINVAL;
        }
        if (ev[i].json_len > BN_STORE_TEXT_MAX) {
            bn__store_seterr(st, "event %zu of the batch: %zu bytes, over the %u byte limit", i,
                             ev[i].json_len, BN_STORE_TEXT_MAX);
            return BN_ETOOBIG;
        }
    }
    int rc = bn__store_z_batch(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    struct insert_acc acc;
    acc.nag = acc.ntn = 0;
    struct span_acc sp;
    memset(&sp, 0, sizeof(sp));
    sp.on = bn__store_spans_on(st);
    if (bn__store_blocks_on(st)) {
        /* runs of one tenant, cut at STORE_BLOCK_RAW_MAX raw bytes */
        size_t i = 0;
        while (i < n && rc == 0) {
            bn__store_blk_reset(st);
            size_t j = i, off;
            for (; j < n && rc == 0; j++) {
                if (j > i && (ev[j].tenant_id != ev[i].tenant_id ||
                              bn__store_blk_len(st) + ev[j].json_len + 1 > STORE_BLOCK_RAW_MAX))
                    break;
                rc = bn__store_blk_add(st, ev[j].json, ev[j].json_len, &off);
            }
            if (rc == 0)
                rc = insert_block(st, s, ev, i, j, &acc, &sp, &ins, &dup);
            i = j;
        }
    } else {
        for (size_t i = 0; i < n && rc == 0; i++) {
            const struct store_event *e = &ev[i];
            const void *z = NULL;
            size_t zn = 0;
            int a = 0;
            rc = bn__store_z_pack(st, e->json, e->json_len, &z, &zn);
            if (rc == 0)
                rc = insert_row(st, s, e, z, zn, &a);
            if (rc != 0)
                break;
            if (!a) {
                dup++;
                continue;
            }
            ins++;
            rc = span_add(st, &sp, e);
            if (rc == 0)
                rc = acc_event(st, &acc, e->agent_id, e->seq, e->tenant_id, 1,
                               event_bytes(e, z ? zn : e->json_len));
        }
    }
    bn__store_done(s);
    if (rc == 0)
        rc = span_flush(st, &sp);
    if (rc == 0)
        rc = flush_usage(st, acc.ag, acc.nag, acc.tn, acc.ntn);
    if (rc == 0) {
        if (inserted)
            *inserted = ins;
        if (dups)
            *dups = dup;
    }
    return rc;
}

static int64_t
usage(struct store *st, int64_t tenant_id, int col)
{
    static const char SQL[] = "SELECT events, bytes FROM tenant_usage WHERE tenant_id = ?";
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    int r = sqlite3_step(s);
    int64_t v = 0;
    if (r == SQLITE_ROW)
        v = sqlite3_column_int64(s, col);
    else if (r != SQLITE_DONE)
        v = bn__store_err(st, r, "tenant usage");
    bn__store_done(s);
    return v;
}

int64_t
store_events_count(struct store *st, int64_t tenant_id)
{
    return usage(st, tenant_id, 0);
}

int64_t
store_events_bytes(struct store *st, int64_t tenant_id)
{
    return usage(st, tenant_id, 1);
}

/* ---- search ---------------------------------------------------------------------------- */

/* Events are stored as received: one that is not valid JSON must not make json_extract fail
 * the whole search, it just matches no field filter. */
#define VALID_JSON "CASE WHEN json_valid(bn_ev(json)) THEN bn_ev(json) ELSE '{}' END"

/* '$."a"."b"' for "a.b"; field names with quotes or backslashes are refused. */
static int
json_path(struct bn_buf *b, const char *field)
{
    size_t n = strlen(field);
    if (n == 0 || n > BN_STORE_FILTER_VALUE_MAX || strpbrk(field, "\"\\"))
        return BN_EINVAL;
    int rc = bn_buf_puts(b, "$.\"");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (field[i] == '.') {
            if (i == 0 || i + 1 == n || field[i + 1] == '.')
                return BN_EINVAL;
            rc = bn_buf_puts(b, "\".\"");
        } else {
            rc = bn_buf_putc(b, field[i]);
        }
    }
    return rc ? rc : bn_buf_putc(b, '"');
}

#define EVENT_COLS                                                                                 \
    "id, tenant_id, agent_id, seq, ts_ns, received_ns, event_id, host, image, "                    \
    "user, json"

static int
event_row(struct store *st, sqlite3_stmt *s, struct store_event *e)
{
    memset(e, 0, sizeof(*e));
    e->id = sqlite3_column_int64(s, 0);
    e->tenant_id = sqlite3_column_int64(s, 1);
    e->agent_id = sqlite3_column_int64(s, 2);
    e->seq = sqlite3_column_int64(s, 3);
    e->ts_ns = sqlite3_column_int64(s, 4);
    e->received_ns = sqlite3_column_int64(s, 5);
    e->event_id = sqlite3_column_int(s, 6);
    e->host = (const char *)sqlite3_column_text(s, 7);
    e->image = (const char *)sqlite3_column_text(s, 8);
    e->user = (const char *)sqlite3_column_text(s, 9);
    return bn__store_z_text(st, s, 10, &e->json, &e->json_len);
}

/* True when value appears verbatim in any JSON text holding it: printable ASCII that no
 * encoder escapes (not the quote, the backslash, the slash some escape, nor <>&'). */
static int
raw_safe(const char *value)
{
    if (!*value)
        return 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p < 0x20 || *p > 0x7e || strchr("\"\\/<>&'", *p))
            return 0;
    return 1;
}

static int
check_value(struct store *st, const char *what, const char *v)
{
    if (v && strlen(v) > BN_STORE_FILTER_VALUE_MAX) {
        bn__store_seterr(st, "event search: %s longer than %d bytes", what,
                         BN_STORE_FILTER_VALUE_MAX);
        return BN_ETOOBIG;
    }
    return 0;
}

/* The " AND ..." conditions of a search other than the tenant scope (shared by the layouts
 * before and after schema 7). paths[] receive the JSON paths of the field filters. */
static int
search_filters(struct store *st, const struct store_event_query *q, struct bn_buf *sql,
               struct bn_buf *paths, size_t *npaths, int by_rowid)
{
    int rc = 0;
    /* spans (by_rowid): no term may make SQLite pick an index over the rowid range ("+") */
    if (q->from_ns)
        rc = rc ? rc : bn_buf_puts(sql, " AND ts_ns >= :from");
    if (q->to_ns)
        rc = rc ? rc : bn_buf_puts(sql, " AND ts_ns < :to");
    if (q->agent_id)
        rc = rc ? rc : bn_buf_printf(sql, " AND %sagent_id = :agent", by_rowid ? "+" : "");
    if (q->host)
        rc = rc ? rc
                : bn_buf_printf(sql,
                                " AND %sagent_id IN (SELECT id FROM agents WHERE hostname ="
                                " :host) AND host = :host",
                                by_rowid ? "+" : "");
    if (q->event_id)
        rc = rc ? rc : bn_buf_puts(sql, " AND event_id = :eid");
    if (q->image_sub)
        rc = rc ? rc : bn_buf_puts(sql, " AND instr(image, :image) > 0");
    if (q->user)
        rc = rc ? rc : bn_buf_puts(sql, " AND user = :user");
    for (size_t i = 0; rc == 0 && i < q->nfields; i++) {
        bn_buf_init(&paths[i], BN_STORE_FILTER_VALUE_MAX * 2);
        (*npaths)++;
        rc = json_path(&paths[i], q->fields[i].field);
        if (rc == BN_EINVAL)
            bn__store_seterr(st, "event search: field name '%.100s' is not a field path",
                             q->fields[i].field);
        /* Cheap prefilter on the raw text before parsing the JSON (memmem, not a parse):
         * only for values any JSON writer leaves unescaped, and not for numbers compared
         * for equality (1e0 equals 1.0 once parsed). */
        if (rc == 0 && raw_safe(q->fields[i].value) &&
            !(q->fields[i].op == STORE_FIELD_EQ && strchr("-0123456789", q->fields[i].value[0])))
            rc = bn_buf_printf(sql, " AND instr(bn_ev(json), :v%zu) > 0", i);
        if (rc == 0)
            rc = bn_buf_printf(sql,
                               q->fields[i].op == STORE_FIELD_EQ
                                   ? " AND CAST(json_extract(" VALID_JSON ", :p%zu) AS TEXT)"
                                     " = :v%zu"
                                   : " AND instr(CAST(json_extract(" VALID_JSON ", :p%zu) AS"
                                     " TEXT), :v%zu) > 0",
                               i, i);
    }
    if (q->after.ts_ns || q->after.id)
        rc = rc ? rc : bn_buf_puts(sql, " AND (ts_ns < :cts OR (ts_ns = :cts AND id < :cid))");
    return rc;
}

#define BIND_I64(s, name, v)                                                                       \
    do {                                                                                           \
        int ix_ = sqlite3_bind_parameter_index((s), (name));                                       \
        if (ix_)                                                                                   \
            sqlite3_bind_int64((s), ix_, (v));                                                     \
    } while (0)
#define BIND_TXT(s, name, v)                                                                       \
    do {                                                                                           \
        int ix_ = sqlite3_bind_parameter_index((s), (name));                                       \
        if (ix_)                                                                                   \
            bn__store_bind_text((s), ix_, (v));                                                    \
    } while (0)

/* Binds the named parameters of search_filters (and of the span walk) present in s. */
static void
search_bind(sqlite3_stmt *s, const struct store_event_query *q, const struct bn_buf *paths)
{
    if (q->from_ns)
        BIND_I64(s, ":from", q->from_ns);
    if (q->to_ns)
        BIND_I64(s, ":to", q->to_ns);
    if (q->agent_id)
        BIND_I64(s, ":agent", q->agent_id);
    if (q->host)
        BIND_TXT(s, ":host", q->host);
    if (q->event_id)
        BIND_I64(s, ":eid", q->event_id);
    if (q->image_sub)
        BIND_TXT(s, ":image", q->image_sub);
    if (q->user)
        BIND_TXT(s, ":user", q->user);
    for (size_t i = 0; i < q->nfields; i++) {
        char name[32];
        snprintf(name, sizeof(name), ":p%zu", i);
        BIND_TXT(s, name, paths[i].p);
        snprintf(name, sizeof(name), ":v%zu", i);
        BIND_TXT(s, name, q->fields[i].value);
    }
    if (q->after.ts_ns || q->after.id) {
        BIND_I64(s, ":cts", q->after.ts_ns);
        BIND_I64(s, ":cid", q->after.id);
    }
}

/* ---- schema 7: the newest matches through the spans ---------------------------------- */

struct hit {
    int64_t ts, id;
};

/* a before b in the result order (newest first: ts, then id, descending) */
static int
hit_before(struct hit a, struct hit b)
{
    return a.ts > b.ts || (a.ts == b.ts && a.id > b.id);
}

static void
hit_swap(struct hit *h, size_t i, size_t j)
{
    struct hit t = h[i];
    h[i] = h[j];
    h[j] = t;
}

/* heap[0] is the last of the kept hits in the result order */
static void
heap_down(struct hit *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && hit_before(h[m], h[l]))
            m = l;
        if (r < n && hit_before(h[m], h[r]))
            m = r;
        if (m == i)
            return;
        hit_swap(h, i, m);
        i = m;
    }
}

static void
heap_push(struct hit *h, size_t *n, struct hit x)
{
    size_t i = (*n)++;
    h[i] = x;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hit_before(h[p], h[i]))
            break;
        hit_swap(h, i, p);
        i = p;
    }
}

static int
cmp_hit_desc(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    return hit_before(*x, *y) ? -1 : hit_before(*y, *x) ? 1 : 0;
}

/*
 * Walks the spans of the scope newest first (by their max_ts), keeps the best `limit` (ts, id)
 * of their matching rows, and stops at the first span whose max_ts is older than the worst
 * kept hit once `limit` are kept: no row of it or of any later span can come before. Then
 * reads the kept rows by id, in order.
 */
static int
search_spans(struct store *st, const struct store_event_query *q, const char *filters,
             const struct bn_buf *paths, size_t limit, store_event_cb cb, void *ctx,
             struct store_cursor *next, int *more)
{
    static const char GET[] = "SELECT " EVENT_COLS " FROM events WHERE id = ?";
    struct bn_buf sql;
    sqlite3_stmt *sp = NULL, *ev = NULL;
    struct hit *h = bn_calloc(limit, sizeof(*h));
    if (!h)
        return BN_ENOMEM;
    int rc = bn__store_build_sql(&sql,
                                 "SELECT tenant_id, max_ts, first_id, last_id, agent_id"
                                 " FROM event_spans WHERE ",
                                 "tenant_id", &q->scope, "");
    if (q->from_ns)
        rc = rc ? rc : bn_buf_puts(&sql, " AND max_ts >= :from");
    if (q->to_ns)
        rc = rc ? rc : bn_buf_puts(&sql, " AND min_ts < :to");
    if (q->after.ts_ns || q->after.id)
        rc = rc ? rc : bn_buf_puts(&sql, " AND min_ts <= :cts");
    if (q->agent_id)
        rc = rc ? rc : bn_buf_puts(&sql, " AND agent_id = :agent");
    if (q->host)
        rc = rc ? rc
                : bn_buf_puts(&sql, " AND agent_id IN (SELECT id FROM agents WHERE hostname ="
                                    " :host)");
    rc = rc ? rc : bn_buf_puts(&sql, " ORDER BY max_ts DESC");
    if (rc == 0)
        rc = bn__store_prepare_dyn(st, sql.p, &sp);
    bn_buf_release(&sql);
    if (rc == 0) {
        bn_buf_init(&sql, 4096);
        /* the rowid range, not an index on agent_id or ts_ns ("+": no index for the term) */
        rc = bn_buf_puts(&sql, "SELECT ts_ns, id FROM events WHERE id BETWEEN :lo AND :hi"
                               " AND +tenant_id = :ten AND +agent_id = :sag");
        rc = rc ? rc : bn_buf_puts(&sql, filters);
        if (rc == 0)
            rc = bn__store_prepare_dyn(st, sql.p, &ev);
        bn_buf_release(&sql);
    }
    size_t n = 0;
    int r = SQLITE_DONE;
    if (rc == 0) {
        search_bind(sp, q, paths);
        search_bind(ev, q, paths);
        int ilo = sqlite3_bind_parameter_index(ev, ":lo");
        int ihi = sqlite3_bind_parameter_index(ev, ":hi");
        int iten = sqlite3_bind_parameter_index(ev, ":ten");
        int isag = sqlite3_bind_parameter_index(ev, ":sag");
        while ((r = sqlite3_step(sp)) == SQLITE_ROW) {
            int64_t max_ts = sqlite3_column_int64(sp, 1);
            if (n == limit && max_ts < h[0].ts)
                break; /* nothing newer than what is kept can come */
            sqlite3_bind_int64(ev, iten, sqlite3_column_int64(sp, 0));
            sqlite3_bind_int64(ev, ilo, sqlite3_column_int64(sp, 2));
            sqlite3_bind_int64(ev, ihi, sqlite3_column_int64(sp, 3));
            sqlite3_bind_int64(ev, isag, sqlite3_column_int64(sp, 4));
            int re;
            while ((re = sqlite3_step(ev)) == SQLITE_ROW) {
                struct hit x = {sqlite3_column_int64(ev, 0), sqlite3_column_int64(ev, 1)};
                if (n < limit)
                    heap_push(h, &n, x);
                else if (hit_before(x, h[0])) {
                    h[0] = x;
                    heap_down(h, n, 0);
                }
            }
            sqlite3_reset(ev);
            if (re != SQLITE_DONE) {
                rc = bn__store_err(st, re, "event search");
                break;
            }
        }
        if (rc == 0 && r != SQLITE_ROW && r != SQLITE_DONE)
            rc = bn__store_err(st, r, "event search (spans)");
    }
    sqlite3_finalize(sp);
    sqlite3_finalize(ev);
    qsort(h, n, sizeof(*h), cmp_hit_desc);
    size_t rows = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_stmt *g = bn__store_prep(st, GET, &rc);
        if (!g)
            break;
        sqlite3_bind_int64(g, 1, h[i].id);
        int rg = sqlite3_step(g);
        struct store_event e;
        if (rg == SQLITE_ROW) {
            rc = event_row(st, g, &e);
            if (rc == 0) {
                rows++;
                if (next) {
                    next->ts_ns = e.ts_ns;
                    next->id = e.id;
                }
                rc = cb(ctx, &e);
            }
        } else if (rg != SQLITE_DONE) {
            rc = bn__store_err(st, rg, "event search (read)");
        }
        bn__store_done(g);
    }
    bn_free(h);
    if (rc >= 0 && more)
        *more = rows == limit;
    return rc > 0 ? 0 : rc;
}

int
store_event_search(struct store *st, const struct store_event_query *q, store_event_cb cb,
                   void *ctx, struct store_cursor *next, int *more)
{
    if (next)
        memset(next, 0, sizeof(*next));
    if (more)
        *more = 0;
    if (q->nfields > BN_STORE_FIELD_FILTERS_MAX) {
        bn__store_seterr(st, "event search: %zu field filters, at most %d", q->nfields,
                         BN_STORE_FIELD_FILTERS_MAX);
        return BN_ETOOBIG;
    }
    int rc = check_value(st, "host", q->host);
    if (rc == 0)
        rc = check_value(st, "image", q->image_sub);
    if (rc == 0)
        rc = check_value(st, "user", q->user);
    for (size_t i = 0; rc == 0 && i < q->nfields; i++) {
        if (!q->fields[i].field || !q->fields[i].value ||
            (q->fields[i].op != STORE_FIELD_EQ && q->fields[i].op != STORE_FIELD_CONTAINS)) {
            bn__store_seterr(st, "event search: field filter %zu incomplete", i);
            return BN_EINVAL;
        }
        rc = check_value(st, "field value", q->fields[i].value);
    }
    if (rc != 0)
        return rc;

    struct bn_buf sql, paths[BN_STORE_FIELD_FILTERS_MAX];
    size_t npaths = 0;
    size_t limit = bn__store_limit(q->limit);
    if (bn__store_spans_on(st)) {
        bn_buf_init(&sql, 4096);
        rc = search_filters(st, q, &sql, paths, &npaths, 1);
        if (rc == 0)
            rc = search_spans(st, q, sql.p ? sql.p : "", paths, limit, cb, ctx, next, more);
        bn_buf_release(&sql);
        goto out;
    }
    /* before schema 7: the (tenant_id, ts_ns) index */
    rc = bn__store_build_sql(&sql, "SELECT " EVENT_COLS " FROM events WHERE ", "tenant_id",
                             &q->scope, "");
    if (rc != 0)
        return rc;
    rc = search_filters(st, q, &sql, paths, &npaths, 0);
    if (rc == 0)
        rc = bn_buf_printf(&sql, " ORDER BY ts_ns DESC, id DESC LIMIT %zu", limit);
    sqlite3_stmt *s = NULL;
    if (rc == 0)
        rc = bn__store_prepare_dyn(st, sql.p, &s);
    bn_buf_release(&sql);
    if (rc != 0)
        goto out;
    search_bind(s, q, paths);
    size_t rows = 0;
    int r;
    struct store_event e;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rc = event_row(st, s, &e);
        if (rc != 0)
            break;
        rows++;
        if (next) {
            next->ts_ns = e.ts_ns;
            next->id = e.id;
        }
        rc = cb(ctx, &e);
        if (rc != 0)
            break;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "event search");
    if (rc >= 0 && more)
        *more = rows == limit;
    if (rc > 0)
        rc = 0;
    sqlite3_finalize(s);
out:
    for (size_t i = 0; i < npaths; i++)
        bn_buf_release(&paths[i]);
    return rc;
}

int
store_event_get(struct store *st, const struct store_scope *sc, int64_t agent_id, int64_t seq,
                struct store_event *out)
{
    static const char SQL[] = "SELECT " EVENT_COLS " FROM events WHERE agent_id = ? AND seq = ?";
    memset(out, 0, sizeof(*out));
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, agent_id);
    sqlite3_bind_int64(s, 2, seq);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW && bn__store_in_scope(sc, sqlite3_column_int64(s, 1))) {
        /* Copy what the caller keeps: the row goes away with the reset. */
        struct store_event e;
        rc = event_row(st, s, &e);
        bn_buf_reset(&st->scratch);
        const char *parts[4] = {e.host, e.image, e.user, e.json};
        size_t offs[4];
        for (int i = 0; i < 4 && rc == 0; i++) {
            offs[i] = st->scratch.len;
            rc = bn_buf_puts(&st->scratch, parts[i] ? parts[i] : "");
            if (rc == 0)
                rc = bn_buf_putc(&st->scratch, '\0');
        }
        if (rc == 0) {
            *out = e;
            out->host = e.host ? st->scratch.p + offs[0] : NULL;
            out->image = e.image ? st->scratch.p + offs[1] : NULL;
            out->user = e.user ? st->scratch.p + offs[2] : NULL;
            out->json = st->scratch.p + offs[3];
        }
    } else if (r == SQLITE_ROW || r == SQLITE_DONE) {
        rc = BN_ENOTFOUND;
    } else {
        rc = bn__store_err(st, r, "get event");
    }
    bn__store_done(s);
    return rc;
}
