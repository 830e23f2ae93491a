/*
 * store_sqlite_events.c - the hot path (batched event inserts with (agent_id, seq)
 * de-duplication, inside the caller's transaction) and the API's event search.
 */
#include <stdio.h>
#include <string.h>

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
             struct insert_acc *acc, size_t *ins, size_t *dup)
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
                rc = insert_block(st, s, ev, i, j, &acc, &ins, &dup);
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
            rc = acc_event(st, &acc, e->agent_id, e->seq, e->tenant_id, 1,
                           event_bytes(e, z ? zn : e->json_len));
        }
    }
    bn__store_done(s);
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
    rc = bn__store_build_sql(&sql, "SELECT " EVENT_COLS " FROM events WHERE ", "tenant_id",
                             &q->scope, "");
    if (rc != 0)
        return rc;
    if (q->from_ns)
        rc = rc ? rc : bn_buf_puts(&sql, " AND ts_ns >= :from");
    if (q->to_ns)
        rc = rc ? rc : bn_buf_puts(&sql, " AND ts_ns < :to");
    if (q->agent_id)
        rc = rc ? rc : bn_buf_puts(&sql, " AND agent_id = :agent");
    if (q->host)
        rc = rc ? rc
                : bn_buf_puts(&sql, " AND agent_id IN (SELECT id FROM agents WHERE hostname ="
                                    " :host) AND host = :host");
    if (q->event_id)
        rc = rc ? rc : bn_buf_puts(&sql, " AND event_id = :eid");
    if (q->image_sub)
        rc = rc ? rc : bn_buf_puts(&sql, " AND instr(image, :image) > 0");
    if (q->user)
        rc = rc ? rc : bn_buf_puts(&sql, " AND user = :user");
    for (size_t i = 0; rc == 0 && i < q->nfields; i++) {
        bn_buf_init(&paths[i], BN_STORE_FILTER_VALUE_MAX * 2);
        npaths++;
        rc = json_path(&paths[i], q->fields[i].field);
        if (rc == BN_EINVAL)
            bn__store_seterr(st, "event search: field name '%.100s' is not a field path",
                             q->fields[i].field);
        /* Cheap prefilter on the raw text before parsing the JSON (memmem, not a parse):
         * only for values any JSON writer leaves unescaped, and not for numbers compared
         * for equality (1e0 equals 1.0 once parsed). */
        if (rc == 0 && raw_safe(q->fields[i].value) &&
            !(q->fields[i].op == STORE_FIELD_EQ && strchr("-0123456789", q->fields[i].value[0])))
            rc = bn_buf_printf(&sql, " AND instr(bn_ev(json), :v%zu) > 0", i);
        if (rc == 0)
            rc = bn_buf_printf(&sql,
                               q->fields[i].op == STORE_FIELD_EQ
                                   ? " AND CAST(json_extract(" VALID_JSON ", :p%zu) AS TEXT)"
                                     " = :v%zu"
                                   : " AND instr(CAST(json_extract(" VALID_JSON ", :p%zu) AS"
                                     " TEXT), :v%zu) > 0",
                               i, i);
    }
    if (q->after.ts_ns || q->after.id)
        rc = rc ? rc : bn_buf_puts(&sql, " AND (ts_ns < :cts OR (ts_ns = :cts AND id < :cid))");
    size_t limit = bn__store_limit(q->limit);
    if (rc == 0)
        rc = bn_buf_printf(&sql, " ORDER BY ts_ns DESC, id DESC LIMIT %zu", limit);
    sqlite3_stmt *s = NULL;
    if (rc == 0)
        rc = bn__store_prepare_dyn(st, sql.p, &s);
    bn_buf_release(&sql);
    if (rc != 0)
        goto out;
#define BIND_I64(name, v) sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, name), (v))
#define BIND_TXT(name, v) bn__store_bind_text(s, sqlite3_bind_parameter_index(s, name), (v))
    if (q->from_ns)
        BIND_I64(":from", q->from_ns);
    if (q->to_ns)
        BIND_I64(":to", q->to_ns);
    if (q->agent_id)
        BIND_I64(":agent", q->agent_id);
    if (q->host)
        BIND_TXT(":host", q->host);
    if (q->event_id)
        BIND_I64(":eid", q->event_id);
    if (q->image_sub)
        BIND_TXT(":image", q->image_sub);
    if (q->user)
        BIND_TXT(":user", q->user);
    for (size_t i = 0; i < q->nfields; i++) {
        char name[32];
        snprintf(name, sizeof(name), ":p%zu", i);
        BIND_TXT(name, paths[i].p);
        snprintf(name, sizeof(name), ":v%zu", i);
        BIND_TXT(name, q->fields[i].value);
    }
    if (q->after.ts_ns || q->after.id) {
        BIND_I64(":cts", q->after.ts_ns);
        BIND_I64(":cid", q->after.id);
    }
#undef BIND_I64
#undef BIND_TXT
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
