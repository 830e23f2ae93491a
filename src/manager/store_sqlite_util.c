/*
 * store_sqlite_util.c - column tables and step shapes shared by the store's areas
 * (store_sqlite_util.h).
 */
#include <assert.h>
#include <string.h>

#include "bannin/error.h"
#include "manager/store_sqlite_util.h"

void
bn__store_cols_read(sqlite3_stmt *s, int c0, const struct store_col *cols, size_t n, void *obj,
                    size_t objsize)
{
    /* a table longer than the statement's column list is a bug in the table */
    assert(c0 >= 0 && (size_t)c0 + n <= (size_t)sqlite3_column_count(s));
    memset(obj, 0, objsize);
    for (size_t i = 0; i < n; i++) {
        const struct store_col *c = &cols[i];
        int col = c0 + (int)i;
        char *m = (char *)obj + c->off;
        assert(c->off + c->size <= objsize);
        if (c->kind == STORE_COL_NUM && c->size == sizeof(int64_t)) {
            int64_t v = sqlite3_column_int64(s, col);
            memcpy(m, &v, sizeof(v));
        } else if (c->kind == STORE_COL_NUM) {
            assert(c->size == sizeof(int));
            int v = sqlite3_column_int(s, col);
            memcpy(m, &v, sizeof(v));
        } else if (c->kind == STORE_COL_CHARS) {
            bn__store_col_copy(s, col, m, c->size);
        } else {
            const char *v = bn__store_col_text(s, col);
            memcpy(m, &v, sizeof(v));
        }
    }
}

void
bn__store_cols_bind(sqlite3_stmt *s, int p0, const struct store_col *cols, size_t n,
                    const void *obj)
{
    assert(p0 >= 1 && (size_t)p0 - 1 + n <= (size_t)sqlite3_bind_parameter_count(s));
    for (size_t i = 0; i < n; i++) {
        const struct store_col *c = &cols[i];
        int p = p0 + (int)i;
        const char *m = (const char *)obj + c->off;
        if (c->kind == STORE_COL_NUM && c->size == sizeof(int64_t)) {
            int64_t v;
            memcpy(&v, m, sizeof(v));
            sqlite3_bind_int64(s, p, v);
        } else if (c->kind == STORE_COL_NUM) {
            int v;
            memcpy(&v, m, sizeof(v));
            sqlite3_bind_int(s, p, v);
        } else if (c->kind == STORE_COL_CHARS) {
            bn__store_bind_text(s, p, m);
        } else {
            const char *v;
            memcpy(&v, m, sizeof(v));
            bn__store_bind_text(s, p, v);
        }
    }
}

int
bn__store_step_row(struct store *st, sqlite3_stmt *s, const char *what)
{
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        return 0;
    return r == SQLITE_DONE ? BN_ENOTFOUND : bn__store_err(st, r, what);
}

int
bn__store_step_insert(struct store *st, sqlite3_stmt *s, const char *what, int64_t *id)
{
    int rc = bn__store_step_done(st, s, what);
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int
bn__store_step_changed(struct store *st, sqlite3_stmt *s, const char *what)
{
    int rc = bn__store_step_done(st, s, what);
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = BN_ENOTFOUND;
    return rc;
}

int
bn__store_get_row(struct store *st, const char *sql, int64_t id, const char *key,
                  const struct store_col *cols, size_t n, void *out, size_t outsize,
                  const char *what)
{
    memset(out, 0, outsize);
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, sql, &rc);
    if (!s)
        return rc;
    if (key)
        bn__store_bind_text(s, 1, key);
    else
        sqlite3_bind_int64(s, 1, id);
    rc = bn__store_step_row(st, s, what);
    if (rc == 0)
        bn__store_cols_read(s, 0, cols, n, out, outsize);
    bn__store_done(s);
    return rc;
}

int
bn__store_get_scoped(struct store *st, const char *sql, const struct store_scope *sc, int64_t id,
                     const struct store_col *cols, size_t n, int keep, void *out, size_t outsize,
                     const char *what)
{
    assert(keep > 1 && (size_t)keep < n && cols[keep].kind == STORE_COL_TEXT);
    memset(out, 0, outsize);
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, sql, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    rc = bn__store_step_row(st, s, what);
    if (rc == 0 && !bn__store_in_scope(sc, sqlite3_column_int64(s, 1)))
        rc = BN_ENOTFOUND;
    if (rc == 0) {
        const char *text = NULL;
        bn__store_cols_read(s, 0, cols, n, out, outsize);
        rc = bn__store_scratch_text(st, s, keep, &text);
        memcpy((char *)out + cols[keep].off, &text, sizeof(text));
    }
    bn__store_done(s);
    if (rc != 0)
        memset(out, 0, outsize);
    return rc;
}

int
bn__store_list_end(struct store *st, int rc, struct bn_buf *sql, bn__store_row_fn row, void *cb,
                   void *ctx)
{
    if (rc != 0) {
        bn_buf_release(sql);
        return rc;
    }
    return bn__store_run_list(st, sql, row, cb, ctx);
}

int
bn__store_list_scoped(struct store *st, const char *head, const char *col,
                      const struct store_scope *sc, const char *tail, bn__store_row_fn row,
                      void *cb, void *ctx)
{
    struct bn_buf b;
    int rc = bn__store_build_sql(&b, head, col, sc, tail);
    return rc ? rc : bn__store_run_list(st, &b, row, cb, ctx);
}
