/*
 * store_sqlite_retention.c - per-tenant retention of events by age (retention_days) and by
 * size (retention_bytes, compared with the tenant's usage counter kept by the inserts).
 *
 * Ingest never stops for it: each transaction deletes at most BN_STORE_RETENTION_TX_ROWS of
 * the oldest rows and commits, so the write lock is held for milliseconds and an ingest
 * handle waiting on it (busy timeout) gets in between two steps. Freed pages are reused by
 * new events; the file does not shrink (no VACUUM while running).
 */
#include <stdio.h>
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "manager/store_sqlite_int.h"

#define DAY_NS (86400LL * 1000000000LL)

struct blk_count {
    int64_t id, rows;
};

/* Takes rows off the blocks they referred to; frees (and counts the bytes of) blocks no row
 * refers to any more. */
static int
release_blocks(struct store *st, const struct blk_count *b, size_t nb, int64_t *bytes)
{
    static const char DEC[] =
        "UPDATE event_blocks SET live = live - ? WHERE id = ? RETURNING live, length(data)";
    static const char DEL[] = "DELETE FROM event_blocks WHERE id = ?";
    int rc = 0;
    for (size_t i = 0; i < nb && rc == 0; i++) {
        sqlite3_stmt *s = bn__store_prep(st, DEC, &rc);
        if (!s)
            break;
        sqlite3_bind_int64(s, 1, b[i].rows);
        sqlite3_bind_int64(s, 2, b[i].id);
        int r = sqlite3_step(s);
        int64_t live = 1, zbytes = 0;
        if (r == SQLITE_ROW) {
            live = sqlite3_column_int64(s, 0);
            zbytes = sqlite3_column_int64(s, 1);
            r = sqlite3_step(s);
        }
        if (r != SQLITE_DONE)
            rc = bn__store_err(st, r, "retention: event block count");
        bn__store_done(s);
        if (rc != 0 || live > 0)
            continue;
        if ((s = bn__store_prep(st, DEL, &rc))) {
            sqlite3_bind_int64(s, 1, b[i].id);
            rc = bn__store_step_done(st, s, "retention: free event block");
            *bytes += zbytes;
        }
    }
    return rc;
}

/* The RETURNING rows of a DELETE of events: counted (rows, bytes) and their blocks noted. */
static int
take_deleted(struct store *st, sqlite3_stmt *s, int64_t *rows, int64_t *bytes,
             struct blk_count **blk, size_t *nblk, size_t *capblk)
{
    int rc = 0, r;
    size_t last = 0;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        (*rows)++;
        *bytes += sqlite3_column_int64(s, 1) + sqlite3_column_bytes(s, 0);
        int64_t id;
        size_t off, len;
        if (sqlite3_column_type(s, 0) != SQLITE_BLOB ||
            bn__store_blk_parse(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &id,
                                &off, &len) != 1)
            continue; /* inline JSON (before schema 6) */
        if (last < *nblk && (*blk)[last].id == id) {
            (*blk)[last].rows++;
            continue;
        }
        for (last = 0; last < *nblk && (*blk)[last].id != id; last++)
            ;
        if (last == *nblk) {
            if (*nblk == *capblk) {
                size_t nc = *capblk ? *capblk * 2 : 64;
                struct blk_count *nb = bn_reallocarray(*blk, nc, sizeof(*nb));
                if (!nb) {
                    rc = BN_ENOMEM;
                    break;
                }
                *blk = nb;
                *capblk = nc;
            }
            (*blk)[*nblk].id = id;
            (*blk)[(*nblk)++].rows = 0;
        }
        (*blk)[last].rows++;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "retention delete");
    bn__store_done(s);
    return rc;
}

#define RET                                                                                        \
    " RETURNING json, COALESCE(length(CAST(host AS BLOB)), 0)"                                     \
    " + COALESCE(length(CAST(image AS BLOB)), 0) + COALESCE(length(CAST(user AS BLOB)), 0)"        \
    " + 64"

/* Schema 7: up to n rows of the tenant's oldest spans (rows older than cutoff when cutoff >
 * 0), span by span; each span visited is fitted to the rows it has left (its ids and min_ts:
 * a span that keeps newer rows is not visited again by the age pass), or deleted when it has
 * none. Inside the caller's transaction. */
#define SPANS_PER_PASS 64
static int
delete_spans(struct store *st, int64_t tenant, int64_t cutoff, int64_t n, int64_t *rows,
             int64_t *bytes, struct blk_count **blk, size_t *nblk, size_t *capblk)
{
    static const char SP_AGE[] = "SELECT id, agent_id, first_id, last_id FROM event_spans"
                                 " WHERE tenant_id = ?1 AND min_ts < ?2 ORDER BY min_ts LIMIT ?3";
    static const char SP_OLD[] = "SELECT id, agent_id, first_id, last_id FROM event_spans"
                                 " WHERE tenant_id = ?1 ORDER BY min_ts LIMIT ?3";
    static const char DEL_AGE[] =
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id BETWEEN ?1 AND ?2"
        " AND +tenant_id = ?3 AND +agent_id = ?4 AND ts_ns < ?5 LIMIT ?6)" RET;
    static const char DEL_OLD[] =
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id BETWEEN ?1 AND ?2"
        " AND +tenant_id = ?3 AND +agent_id = ?4 ORDER BY ts_ns, id LIMIT ?6)" RET;
    static const char FIT[] =
        "UPDATE event_spans SET (first_id, last_id, min_ts) = (SELECT COALESCE(MIN(id), 0),"
        " COALESCE(MAX(id), 0), COALESCE(MIN(ts_ns), event_spans.min_ts) FROM events"
        " WHERE id BETWEEN ?1 AND ?2 AND +tenant_id = ?3 AND +agent_id = ?4) WHERE id = ?5";
    static const char DROP[] = "DELETE FROM event_spans WHERE id = ? AND last_id = 0";
    int rc = 0;
    for (;;) {
        struct {
            int64_t id, agent, lo, hi;
        } sp[SPANS_PER_PASS];
        size_t nsp = 0;
        sqlite3_stmt *s = bn__store_prep(st, cutoff > 0 ? SP_AGE : SP_OLD, &rc);
        if (!s)
            return rc;
        sqlite3_bind_int64(s, 1, tenant);
        if (cutoff > 0)
            sqlite3_bind_int64(s, 2, cutoff);
        sqlite3_bind_int64(s, 3, SPANS_PER_PASS);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW && nsp < SPANS_PER_PASS) {
            sp[nsp].id = sqlite3_column_int64(s, 0);
            sp[nsp].agent = sqlite3_column_int64(s, 1);
            sp[nsp].lo = sqlite3_column_int64(s, 2);
            sp[nsp++].hi = sqlite3_column_int64(s, 3);
        }
        if (r != SQLITE_DONE && r != SQLITE_ROW)
            rc = bn__store_err(st, r, "retention spans");
        bn__store_done(s);
        if (rc != 0 || nsp == 0)
            return rc;
        for (size_t i = 0; i < nsp && rc == 0 && *rows < n; i++) {
            if ((s = bn__store_prep(st, cutoff > 0 ? DEL_AGE : DEL_OLD, &rc))) {
                sqlite3_bind_int64(s, 1, sp[i].lo);
                sqlite3_bind_int64(s, 2, sp[i].hi);
                sqlite3_bind_int64(s, 3, tenant);
                sqlite3_bind_int64(s, 4, sp[i].agent);
                if (cutoff > 0)
                    sqlite3_bind_int64(s, 5, cutoff);
                sqlite3_bind_int64(s, 6, n - *rows);
                rc = take_deleted(st, s, rows, bytes, blk, nblk, capblk);
            }
            if (rc == 0 && (s = bn__store_prep(st, FIT, &rc))) {
                sqlite3_bind_int64(s, 1, sp[i].lo);
                sqlite3_bind_int64(s, 2, sp[i].hi);
                sqlite3_bind_int64(s, 3, tenant);
                sqlite3_bind_int64(s, 4, sp[i].agent);
                sqlite3_bind_int64(s, 5, sp[i].id);
                rc = bn__store_step_done(st, s, "retention: fit span");
            }
            if (rc == 0 && (s = bn__store_prep(st, DROP, &rc))) {
                sqlite3_bind_int64(s, 1, sp[i].id);
                rc = bn__store_step_done(st, s, "retention: drop span");
            }
        }
        if (rc != 0 || *rows >= n || nsp < SPANS_PER_PASS)
            return rc;
    }
}

/* Deletes up to n of the tenant's oldest events (older than cutoff when cutoff > 0) in one
 * transaction and takes them off the usage counter (rows, and blocks freed with them). */
static int
delete_batch(struct store *st, int64_t tenant, int64_t cutoff, int64_t n, int64_t *deleted)
{
    static const char DEL_AGE[] =
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE tenant_id = ?1"
        " AND ts_ns < ?2 ORDER BY ts_ns LIMIT ?3)" RET;
    static const char DEL_OLD[] =
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE tenant_id = ?1"
        " ORDER BY ts_ns LIMIT ?3)" RET;
    static const char USAGE[] = "UPDATE tenant_usage SET events = MAX(events - ?, 0),"
                                " bytes = MAX(bytes - ?, 0) WHERE tenant_id = ?";
    *deleted = 0;
    int rc = bn__store_exec(st, "BEGIN IMMEDIATE", "retention");
    if (rc != 0)
        return rc;
    int64_t rows = 0, bytes = 0;
    struct blk_count *blk = NULL;
    size_t nblk = 0, capblk = 0;
    sqlite3_stmt *s = NULL;
    if (bn__store_spans_on(st)) {
        rc = delete_spans(st, tenant, cutoff, n, &rows, &bytes, &blk, &nblk, &capblk);
    } else if ((s = bn__store_prep(st, cutoff > 0 ? DEL_AGE : DEL_OLD, &rc))) {
        /* before schema 7: the (tenant_id, ts_ns) index */
        sqlite3_bind_int64(s, 1, tenant);
        if (cutoff > 0)
            sqlite3_bind_int64(s, 2, cutoff);
        sqlite3_bind_int64(s, 3, n);
        rc = take_deleted(st, s, &rows, &bytes, &blk, &nblk, &capblk);
    }
    if (rc == 0)
        rc = release_blocks(st, blk, nblk, &bytes);
    bn_free(blk);
    if (rc == 0 && rows > 0 && (s = bn__store_prep(st, USAGE, &rc))) {
        sqlite3_bind_int64(s, 1, rows);
        sqlite3_bind_int64(s, 2, bytes);
        sqlite3_bind_int64(s, 3, tenant);
        rc = bn__store_step_done(st, s, "retention usage");
    }
    if (rc == 0)
        rc = store_commit(st);
    else
        store_rollback(st);
    if (rc == 0)
        *deleted = rows;
    return rc;
}
#undef RET

struct tenant_ret {
    int64_t id, days, bytes;
};

int
store_retention_step(struct store *st, int64_t now_ns, int64_t budget,
                     struct store_retention_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (!sqlite3_get_autocommit(st->db)) {
        bn__store_seterr(st, "retention step inside an open transaction");
        return BN_EINVAL;
    }
    if (budget <= 0)
        budget = 20000;
    /* Read the tenants first: no statement stays open across the delete transactions. */
    sqlite3_stmt *s = NULL;
    int rc = bn__store_prepare_dyn(st,
                                   "SELECT id, retention_days, retention_bytes FROM tenants"
                                   " WHERE retention_days > 0 OR retention_bytes > 0 ORDER BY id",
                                   &s);
    if (rc != 0)
        return rc;
    struct tenant_ret *ts = NULL;
    size_t n = 0, cap = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct tenant_ret *p = bn_reallocarray(ts, ncap, sizeof(*p));
            if (!p) {
                rc = BN_ENOMEM;
                break;
            }
            ts = p;
            cap = ncap;
        }
        ts[n].id = sqlite3_column_int64(s, 0);
        ts[n].days = sqlite3_column_int64(s, 1);
        ts[n++].bytes = sqlite3_column_int64(s, 2);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "retention tenants");
    sqlite3_finalize(s);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        stats->tenants++;
        /* a cutoff before the epoch (now_ns 0 in tests) ages nothing out; DEL_OLD would
         * delete the oldest rows regardless of age */
        int64_t cutoff = ts[i].days > 0 ? now_ns - ts[i].days * DAY_NS : 0;
        if (cutoff > 0) {
            for (;;) {
                if (budget <= 0) {
                    stats->more = 1;
                    break;
                }
                int64_t want = BN_MIN(budget, (int64_t)BN_STORE_RETENTION_TX_ROWS), got = 0;
                rc = delete_batch(st, ts[i].id, cutoff, want, &got);
                if (rc != 0)
                    break;
                stats->deleted_age += got;
                budget -= got;
                if (got < want)
                    break;
            }
        }
        while (rc == 0 && ts[i].bytes > 0) {
            int64_t used = store_events_bytes(st, ts[i].id);
            int64_t count = store_events_count(st, ts[i].id);
            if (used < 0 || count < 0) {
                rc = used < 0 ? (int)used : (int)count;
                break;
            }
            if (used <= ts[i].bytes || count == 0)
                break;
            if (budget <= 0) {
                stats->more = 1;
                break;
            }
            /* Rows to free the excess at the tenant's average event size, at least one. */
            int64_t avg = used / count > 0 ? used / count : 1;
            int64_t want = (used - ts[i].bytes + avg - 1) / avg;
            want = BN_MAX(want, (int64_t)1);
            want = BN_MIN(want, BN_MIN(budget, (int64_t)BN_STORE_RETENTION_TX_ROWS));
            int64_t got = 0;
            rc = delete_batch(st, ts[i].id, 0, want, &got);
            if (rc != 0)
                break;
            stats->deleted_size += got;
            budget -= got;
            if (got == 0)
                break;
        }
    }
    bn_free(ts);
    return rc;
}
