/*
 * store_sqlite_int.h - private to store_sqlite*.c: the handle, the statement cache, error
 * mapping and small binding helpers shared by the areas of the SQLite store.
 */
#ifndef BANNIN_MANAGER_STORE_SQLITE_INT_H
#define BANNIN_MANAGER_STORE_SQLITE_INT_H

#include <limits.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "bannin/limits.h"
#include "manager/store.h"

#define STORE_STMT_CACHE     128
#define STORE_LATEST_VERSION 7

/* Event blocks (schema 6, store_sqlite_zstd.c): at most this many raw bytes per block (a
 * single event of up to BN_STORE_TEXT_MAX always fits), and decompressed blocks kept per
 * handle for reads. */
#define STORE_BLOCK_RAW_MAX BN_STORE_BLOCK_RAW_MAX
#define STORE_BLOCK_CACHE   BN_STORE_BLOCK_CACHE
/* A block reference in events.json: "BNK1" then LEB128 block id, offset, length. */
#define STORE_BLOCK_REF_MAX 34

struct store_stmt_slot {
    const char *sql; /* identity: the static SQL text's address */
    sqlite3_stmt *s;
};

/* Event JSON compression (store_sqlite_zstd.c). */
struct store_zdict {
    int64_t id;
    void *ddict; /* ZSTD_DDict */
};

struct store_z {
    void *cctx, *dctx; /* ZSTD_CCtx, ZSTD_DCtx */
    void *cdict;       /* ZSTD_CDict of the newest dictionary, NULL before one */
    int64_t cdict_id;
    int cdict_ready; /* its row is committed: events may use it */
    struct store_zdict dd[8];
    size_t ndd;
    struct bn_buf samples; /* JSON of the first events, to train the dictionary */
    size_t *sizes;
    size_t nsamples;
    int no_dict;       /* training failed: compress without a dictionary */
    struct bn_buf out; /* one compressed event */
    struct bn_buf txt; /* one decompressed event */
    /* event blocks (schema 6): the one being written, and decompressed ones read lately */
    struct bn_buf braw, bout;
    struct store_zblock {
        int64_t id;    /* 0: free slot */
        uint64_t used; /* LRU tick */
        struct bn_buf raw;
    } blk[STORE_BLOCK_CACHE];
    uint64_t tick;
};

struct store {
    sqlite3 *db;
    char dir[PATH_MAX];
    char path[PATH_MAX];
    struct store_opts opts;
    int version; /* schema version after migrations */
    struct store_stmt_slot stmts[STORE_STMT_CACHE];
    size_t nstmts;
    char errmsg[320];
    struct store_health health;
    struct bn_buf scratch; /* json returned by *_get, valid until the next call */
    struct store_z z;
    /* deferred sync (store_begin_deferred / store_wal_sync) */
    int deferred;        /* the open transaction runs with synchronous=NORMAL */
    int wal_fd;          /* the -wal file, opened at the first deferred commit; -1 before */
    _Atomic int sync_rc; /* a failed fdatasync (sticky), 0 */
};

/* A cached prepared statement for static SQL text, reset and unbound; NULL on error. */
sqlite3_stmt *bn__store_prep(struct store *st, const char *sql, int *rc);
/* Resets a cached statement after use (ends its read). */
void bn__store_done(sqlite3_stmt *s);
/* Maps a SQLite result to a BN_E* code, records the message, raises the disk alarm. */
int bn__store_err(struct store *st, int rc, const char *what);
/* Steps a write statement to completion: 0 or a mapped error. */
int bn__store_step_done(struct store *st, sqlite3_stmt *s, const char *what);
/* Runs an UPDATE/DELETE whose parameters are all integers (args[i] binds ?i+1); BN_ENOTFOUND
 * when no row changed. */
int bn__store_update_ids(struct store *st, const char *sql, const char *what, const int64_t *args,
                         int nargs);
/* Runs SQL text without results. */
int bn__store_exec(struct store *st, const char *sql, const char *what);
/* Starts a write transaction unless one is open; *owned tells st_tx_end to commit. */
int bn__store_tx_begin(struct store *st, int *owned);
/* Commits (rc == 0) or rolls back an owned transaction; returns rc or the commit's error. */
int bn__store_tx_end(struct store *st, int owned, int rc);
/* Fills st->errmsg. */
void bn__store_seterr(struct store *st, const char *fmt, ...) BN_PRINTF(2, 3);

/* Appends "col IN (1,2,3)" / "1" (all) / "0" (nothing) for a tenant scope. */
int bn__store_scope_sql(struct bn_buf *b, const char *col, const struct store_scope *sc);
/* True when tenant_id is inside the scope (tenant 0 only with all). */
int bn__store_in_scope(const struct store_scope *sc, int64_t tenant_id);
/* Row callback of bn__store_run_list: cb is the caller's typed callback. */
typedef int (*bn__store_row_fn)(sqlite3_stmt *s, void *cb, void *ctx);
/* Runs the dynamic SELECT in sql (released), calling row() per row; 1 from row() stops. */
int bn__store_run_list(struct store *st, struct bn_buf *sql, bn__store_row_fn row, void *cb,
                       void *ctx);
/* Initialises b with head, the scope clause on col, and tail. */
int bn__store_build_sql(struct bn_buf *b, const char *head, const char *col,
                        const struct store_scope *sc, const char *tail);
/* Prepares a dynamic statement (not cached). */
int bn__store_prepare_dyn(struct store *st, const char *sql, sqlite3_stmt **out);

int bn__store_bind_text(sqlite3_stmt *s, int i, const char *v);
void bn__store_col_copy(sqlite3_stmt *s, int col, char *dst, size_t size);
const char *bn__store_col_text(sqlite3_stmt *s, int col);
/* Copies a text column into st->scratch (at offset off) and returns it there. */
int bn__store_scratch_text(struct store *st, sqlite3_stmt *s, int col, const char **out);

/* Compression (store_sqlite_zstd.c). Registers bn_ev(json) -> text on the connection. */
int bn__store_z_open(struct store *st);
void bn__store_z_close(struct store *st);
/* Before a batch: finds the newest committed dictionary, trains one from the samples. */
int bn__store_z_batch(struct store *st);
/* Compresses one event's JSON into st->z.out (out and n point there), or sets out to NULL
 * to store the text as it is. */
int bn__store_z_pack(struct store *st, const char *json, size_t len, const void **out, size_t *n);
/* The text of a json column (decompressed into st->z.txt when it is a compressed blob, or
 * found in its block - decompressed into the handle's block cache - when it is a block
 * reference). Valid until the next read on the handle. */
int bn__store_z_text(struct store *st, sqlite3_stmt *s, int col, const char **p, size_t *n);
/* Schema 6 layout in use for new events (not opts.row_events). */
int bn__store_blocks_on(const struct store *st);
/* Block being written: bn__store_blk_reset, then bn__store_blk_add per event (its offset in
 * the block); bn__store_blk_flush compresses it and inserts the event_blocks row (*id, the
 * compressed bytes in *zbytes). */
void bn__store_blk_reset(struct store *st);
size_t bn__store_blk_len(const struct store *st);
int bn__store_blk_add(struct store *st, const char *json, size_t len, size_t *off);
int bn__store_blk_flush(struct store *st, int64_t tenant_id, int64_t nevents, int64_t *id,
                        int64_t *zbytes);
/* Encodes a reference into ref (STORE_BLOCK_REF_MAX bytes); returns its length. */
size_t bn__store_blk_ref(uint8_t *ref, int64_t id, size_t off, size_t len);
/* Decodes one: 1 and the fields when blob is a block reference, 0 when it is not one, -1
 * when it starts like one but is malformed. */
int bn__store_blk_parse(const void *blob, size_t n, int64_t *id, size_t *off, size_t *len);
/* Forgets cached blocks (after a rollback: their ids may come back with other contents). */
void bn__store_blk_forget(struct store *st);

/* Schema 7: event spans (store_sqlite_schema.c, V7) instead of the (tenant_id, ts_ns) index. */
int bn__store_spans_on(const struct store *st);

/* Migrations (store_sqlite_schema.c). */
int bn__store_migrate(struct store *st, int target);

int64_t bn__store_now_ns(void);
/* Clamps a list limit: 0 -> 100, at most BN_STORE_QUERY_ROWS_MAX. */
size_t bn__store_limit(size_t limit);

#endif
