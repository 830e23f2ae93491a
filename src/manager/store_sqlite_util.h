/*
 * store_sqlite_util.h - private to store_sqlite*.c: the shapes the store's areas share.
 *
 * A column table lists, in the order of a SELECT's columns (or an INSERT's parameters), the
 * struct members they fill (or come from), so one loop reads a row into a struct or binds a
 * struct into a statement instead of a line per column in every area. The step helpers name
 * the three ways a statement ends: one row or none, an insert and its id, an update that must
 * change a row.
 */
#ifndef BANNIN_MANAGER_STORE_SQLITE_UTIL_H
#define BANNIN_MANAGER_STORE_SQLITE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "manager/store_sqlite_int.h"

enum store_col_kind {
    STORE_COL_NUM,   /* int or int64_t member (size tells which) */
    STORE_COL_CHARS, /* char array member: copied, truncated to fit, always terminated */
    STORE_COL_TEXT,  /* const char * member: borrows the statement's text ("" for NULL) */
};

struct store_col {
    int kind; /* enum store_col_kind */
    size_t off;
    size_t size; /* of the member */
};

/* clang-format off */
#define STORE_NUM(T, m)   {STORE_COL_NUM, offsetof(T, m), sizeof(((T *)0)->m)}
#define STORE_CHARS(T, m) {STORE_COL_CHARS, offsetof(T, m), sizeof(((T *)0)->m)}
#define STORE_TEXT(T, m)  {STORE_COL_TEXT, offsetof(T, m), sizeof(((T *)0)->m)}
/* clang-format on */

/* Clears obj (objsize bytes) and fills it from columns c0, c0 + 1, ... (one per table entry).
 * TEXT members borrow the statement's memory: valid until its next step or reset. */
void bn__store_cols_read(sqlite3_stmt *s, int c0, const struct store_col *cols, size_t n, void *obj,
                         size_t objsize);
/* Binds obj's members to parameters p0, p0 + 1, ...; a NULL TEXT member binds SQL NULL. The
 * statement borrows the strings until it is reset. */
void bn__store_cols_bind(sqlite3_stmt *s, int p0, const struct store_col *cols, size_t n,
                         const void *obj);

/* Steps a query for one row: 0 with the row ready to read, BN_ENOTFOUND when there is none,
 * or a mapped error. The caller resets the statement (bn__store_done). */
int bn__store_step_row(struct store *st, sqlite3_stmt *s, const char *what);
/* Steps an INSERT to completion (the statement is reset); on success *id (when given) is the
 * new row's id. */
int bn__store_step_insert(struct store *st, sqlite3_stmt *s, const char *what, int64_t *id);
/* Steps an UPDATE or DELETE to completion: BN_ENOTFOUND when it changed no row. */
int bn__store_step_changed(struct store *st, sqlite3_stmt *s, const char *what);

/* Reads the one row the cached statement sql returns for ?1 = key (text) or, when key is
 * NULL, ?1 = id, into out (cleared first) through cols. BN_ENOTFOUND when there is none. */
int bn__store_get_row(struct store *st, const char *sql, int64_t id, const char *key,
                      const struct store_col *cols, size_t n, void *out, size_t outsize,
                      const char *what);

/* bn__store_get_row for ?1 = id, where the row's tenant (column 1) must be in scope (else
 * BN_ENOTFOUND) and the TEXT column keep is copied into st->scratch (valid until the next
 * call that uses it); out is cleared on any error. */
int bn__store_get_scoped(struct store *st, const char *sql, const struct store_scope *sc,
                         int64_t id, const struct store_col *cols, size_t n, int keep, void *out,
                         size_t outsize, const char *what);
/* Runs head, the scope clause on col, and tail as a list query (bn__store_build_sql, then
 * bn__store_run_list). */
int bn__store_list_scoped(struct store *st, const char *head, const char *col,
                          const struct store_scope *sc, const char *tail, bn__store_row_fn row,
                          void *cb, void *ctx);
/* Ends a list query built in sql: rc != 0 (building it failed) releases sql and returns rc,
 * else bn__store_run_list runs it (and releases it). */
int bn__store_list_end(struct store *st, int rc, struct bn_buf *sql, bn__store_row_fn row, void *cb,
                       void *ctx);

#endif
