/*
 * store_sqlite.c - the SQLite store's core: opening a data directory (WAL, pragmas,
 * migrations), transactions, the per-handle statement cache, error mapping and the
 * disk-full alarm. The areas live in store_sqlite_<area>.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "manager/store_sqlite_int.h"

int64_t
bn__store_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

size_t
bn__store_limit(size_t limit)
{
    if (limit == 0)
        return 100;
    return limit > BN_STORE_QUERY_ROWS_MAX ? BN_STORE_QUERY_ROWS_MAX : limit;
}

void
bn__store_seterr(struct store *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
    va_end(ap);
}

static void
raise_alarm(struct store *st, int full, const char *what)
{
    struct store_health *h = &st->health;
    if (full) {
        h->full = 1;
        h->full_count++;
    } else {
        h->io_error = 1;
    }
    h->alarm_ns = bn__store_now_ns();
    size_t n = strnlen(what, sizeof(h->alarm) - 1);
    memcpy(h->alarm, what, n);
    h->alarm[n] = '\0';
    BN_ERROR("store", "%s", what);
}

int
bn__store_err(struct store *st, int rc, const char *what)
{
    int ext = st->db ? sqlite3_extended_errcode(st->db) : rc;
    int sys = st->db ? sqlite3_system_errno(st->db) : 0;
    const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

    bn__store_seterr(st, "%s: %s (sqlite %d)", what, msg, ext);
    switch (rc & 0xff) {
    case SQLITE_FULL:
        bn__store_seterr(st, "%s: disk or database full (%s)", what, msg);
        raise_alarm(st, 1, st->errmsg);
        return BN_EFULL;
    case SQLITE_IOERR:
        if (sys == ENOSPC || sys == EDQUOT) {
            bn__store_seterr(st, "%s: no space left on the data filesystem (%s)", what, msg);
            raise_alarm(st, 1, st->errmsg);
            return BN_EFULL;
        }
        raise_alarm(st, 0, st->errmsg);
        return BN_EIO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return BN_ECORRUPT;
    case SQLITE_CONSTRAINT:
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
            return BN_EEXIST;
        return BN_EINVAL;
    case SQLITE_NOMEM: return BN_ENOMEM;
    case SQLITE_TOOBIG: return BN_ETOOBIG;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM: return BN_EIO;
    default: return BN_EINTERNAL;
    }
}

sqlite3_stmt *
bn__store_prep(struct store *st, const char *sql, int *rc)
{
    for (size_t i = 0; i < st->nstmts; i++)
        if (st->stmts[i].sql == sql)
            return st->stmts[i].s;
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (r != SQLITE_OK) {
        *rc = bn__store_err(st, r, "prepare");
        BN_ERROR("store", "cannot prepare '%.80s': %s", sql, sqlite3_errmsg(st->db));
        return NULL;
    }
    if (st->nstmts < STORE_STMT_CACHE) {
        st->stmts[st->nstmts].sql = sql;
        st->stmts[st->nstmts].s = s;
        st->nstmts++;
        return s;
    }
    /* The cache is sized for every static statement: reaching this is a bug. */
    sqlite3_finalize(s);
    bn__store_seterr(st, "statement cache full");
    *rc = BN_EINTERNAL;
    return NULL;
}

void
bn__store_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

int
bn__store_step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
    int r = sqlite3_step(s);
    int rc = 0;
    while (r == SQLITE_ROW)
        r = sqlite3_step(s);
    if (r != SQLITE_DONE)
        rc = bn__store_err(st, r, what);
    bn__store_done(s);
    return rc;
}

int
bn__store_update_ids(struct store *st, const char *sql, const char *what, const int64_t *args,
                     int nargs)
{
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, sql, &rc);
    if (!s)
        return rc;
    for (int i = 0; i < nargs; i++)
        sqlite3_bind_int64(s, i + 1, args[i]);
    rc = bn__store_step_done(st, s, what);
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = BN_ENOTFOUND;
    return rc;
}

int
bn__store_exec(struct store *st, const char *sql, const char *what)
{
    char *emsg = NULL;
    int r = sqlite3_exec(st->db, sql, NULL, NULL, &emsg);
    sqlite3_free(emsg);
    return r == SQLITE_OK ? 0 : bn__store_err(st, r, what);
}

int
bn__store_prepare_dyn(struct store *st, const char *sql, sqlite3_stmt **out)
{
    int r = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);
    if (r != SQLITE_OK) {
        *out = NULL;
        return bn__store_err(st, r, "prepare query");
    }
    return 0;
}

int
bn__store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (!v)
        return sqlite3_bind_null(s, i);
    return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

const char *
bn__store_col_text(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? (const char *)t : "";
}

void
bn__store_col_copy(sqlite3_stmt *s, int col, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (!t || size == 0) {
        if (size)
            dst[0] = '\0';
        return;
    }
    size_t k = (size_t)n < size - 1 ? (size_t)n : size - 1;
    memcpy(dst, t, k);
    dst[k] = '\0';
}

int
bn__store_scratch_text(struct store *st, sqlite3_stmt *s, int col, const char **out)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    bn_buf_reset(&st->scratch);
    int rc = bn_buf_append(&st->scratch, t ? (const char *)t : "", t ? (size_t)n : 0);
    if (rc == 0)
        rc = bn_buf_putc(&st->scratch, '\0');
    *out = rc == 0 ? st->scratch.p : NULL;
    return rc;
}

int
bn__store_scope_sql(struct bn_buf *b, const char *col, const struct store_scope *sc)
{
    if (!sc || (!sc->all && (sc->n == 0 || !sc->ids)))
        return bn_buf_puts(b, "0");
    if (sc->all)
        return bn_buf_puts(b, "1");
    /* Tenant ids are integers printed by us, never caller text. Tenant 0 rows (provider
     * users, global lists) are not any tenant's: only "all" sees them. */
    int rc = bn_buf_printf(b, "%s IN (-1", col);
    for (size_t i = 0; rc == 0 && i < sc->n; i++)
        if (sc->ids[i] > 0)
            rc = bn_buf_printf(b, ",%lld", (long long)sc->ids[i]);
    if (rc == 0)
        rc = bn_buf_putc(b, ')');
    return rc;
}

int
bn__store_in_scope(const struct store_scope *sc, int64_t tenant_id)
{
    if (!sc)
        return 0;
    if (sc->all)
        return 1;
    for (size_t i = 0; sc->ids && i < sc->n; i++)
        if (sc->ids[i] == tenant_id && tenant_id != 0)
            return 1;
    return 0;
}

/* Runs a dynamic SELECT "... WHERE <scope> ..." and calls row() per row. */
int
bn__store_run_list(struct store *st, struct bn_buf *sql, bn__store_row_fn row, void *cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    int rc = bn__store_prepare_dyn(st, sql->p, &s);
    bn_buf_release(sql);
    if (rc != 0)
        return rc;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rc = row(s, cb, ctx);
        if (rc != 0)
            break;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = bn__store_err(st, r, "list");
    sqlite3_finalize(s);
    return rc > 0 ? 0 : rc;
}

int
bn__store_build_sql(struct bn_buf *b, const char *head, const char *col,
                    const struct store_scope *sc, const char *tail)
{
    bn_buf_init(b, 1u << 20);
    int rc = bn_buf_puts(b, head);
    if (rc == 0)
        rc = bn__store_scope_sql(b, col, sc);
    if (rc == 0)
        rc = bn_buf_puts(b, tail);
    if (rc != 0)
        bn_buf_release(b);
    return rc;
}

/* ---- transactions ---------------------------------------------------------------------- */

static void deferred_end(struct store *st);

int
store_begin(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db)) {
        bn__store_seterr(st, "a transaction is already open on this handle");
        return BN_EINVAL;
    }
    return bn__store_exec(st, "BEGIN IMMEDIATE", "begin");
}

int
store_commit(struct store *st)
{
    if (sqlite3_get_autocommit(st->db)) {
        bn__store_seterr(st, "commit without a transaction");
        return BN_EINVAL;
    }
    int rc = bn__store_exec(st, "COMMIT", "commit");
    if (rc != 0) {
        /* A failed COMMIT may leave the transaction open (SQLITE_BUSY, SQLITE_FULL while
         * spilling): roll it back so nothing half-written stays pending. */
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        deferred_end(st);
        return rc;
    }
    deferred_end(st);
    st->health.full = 0;
    st->health.io_error = 0;
    return 0;
}

int
store_rollback(struct store *st)
{
    bn__store_blk_forget(st); /* a rolled-back block's id can come back with other events */
    int rc = 0;
    if (!sqlite3_get_autocommit(st->db))
        rc = bn__store_exec(st, "ROLLBACK", "rollback");
    /* else SQLite already rolled back (it does on FULL / IOERR / NOMEM) */
    deferred_end(st);
    return rc;
}

/* ---- deferred sync --------------------------------------------------------------------- */

bool
store_needs_sync(const struct store *st)
{
    return st->opts.sync_full != 0;
}

/* The handle's own synchronous setting back after a deferred transaction (outside it: SQLite
 * refuses to change it inside one). */
static void
deferred_end(struct store *st)
{
    if (!st->deferred || !sqlite3_get_autocommit(st->db))
        return;
    st->deferred = 0;
    if (st->opts.sync_full)
        sqlite3_exec(st->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
}

int
store_begin_deferred(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db)) {
        bn__store_seterr(st, "a transaction is already open on this handle");
        return BN_EINVAL;
    }
    int rc = atomic_load(&st->sync_rc);
    if (rc) {
        bn__store_seterr(st, "an earlier sync of the WAL failed (%s): restart bannind",
                         bn_strerror(rc));
        return rc;
    }
    if (st->opts.sync_full && st->wal_fd < 0) {
        /* the WAL exists while a handle is open in WAL mode; its inode stays the same
         * (checkpoints restart or truncate it, never replace it) */
        char wal[PATH_MAX + 8];
        snprintf(wal, sizeof(wal), "%s-wal", st->path);
        st->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
        if (st->wal_fd < 0) {
            rc = -errno;
            bn__store_seterr(st, "cannot open '%s' to sync it: %s", wal, bn_strerror(rc));
            return rc;
        }
    }
    if (st->opts.sync_full) {
        rc = bn__store_exec(st, "PRAGMA synchronous=NORMAL", "deferred sync");
        if (rc)
            return rc;
        st->deferred = 1;
    }
    rc = bn__store_exec(st, "BEGIN IMMEDIATE", "begin");
    if (rc)
        deferred_end(st);
    return rc;
}

int
store_wal_sync(struct store *st)
{
    int rc = atomic_load(&st->sync_rc);
    if (rc || !st->opts.sync_full)
        return rc;
    if (st->wal_fd < 0)
        return 0; /* nothing was committed deferred */
    if (fdatasync(st->wal_fd) == 0)
        return atomic_load(&st->sync_rc);
    rc = errno == ENOSPC || errno == EDQUOT ? BN_EFULL : BN_EIO;
    int zero = 0;
    atomic_compare_exchange_strong(&st->sync_rc, &zero, rc);
    BN_ERROR("store",
             "fdatasync of the WAL of '%s' failed: %s; nothing more is acknowledged "
             "until bannind restarts",
             st->path, strerror(errno));
    return rc;
}

int
bn__store_tx_begin(struct store *st, int *owned)
{
    *owned = 0;
    if (!sqlite3_get_autocommit(st->db))
        return 0;
    int rc = bn__store_exec(st, "BEGIN IMMEDIATE", "begin");
    if (rc == 0)
        *owned = 1;
    return rc;
}

int
bn__store_tx_end(struct store *st, int owned, int rc)
{
    if (!owned)
        return rc;
    if (rc == 0)
        return store_commit(st);
    store_rollback(st);
    return rc;
}

/* ---- open / close ---------------------------------------------------------------------- */

static int
mkdir_p(const char *dir)
{
    char tmp[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(tmp))
        return BN_EINVAL;
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -errno;
            tmp[i] = c;
        }
    }
    return 0;
}

int
store_schema_latest(void)
{
    return STORE_LATEST_VERSION;
}

const char *
store_errmsg(struct store *st)
{
    return st && st->errmsg[0] ? st->errmsg : "no error";
}

static void
set_err(struct store_err *err, const char *msg)
{
    if (err) {
        size_t n = strnlen(msg, sizeof(err->msg) - 1);
        memcpy(err->msg, msg, n);
        err->msg[n] = '\0';
    }
}

/* SQLite's allocation statistics take a global mutex on every malloc; we never read them. */
static void
sqlite_global_config(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* SQLITE_MISUSE when already initialised */
}

int
store_open_ex(struct store **out, const char *dir, const struct store_opts *opts,
              struct store_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_global_config);
    *out = NULL;
    if (!dir || !*dir) {
        set_err(err, "no data directory given");
        return BN_EINVAL;
    }
    struct store *st = bn_calloc(1, sizeof(*st));
    if (!st) {
        set_err(err, "out of memory");
        return BN_ENOMEM;
    }
    st->wal_fd = -1;
    if (opts)
        st->opts = *opts;
    if (st->opts.busy_timeout_ms <= 0)
        st->opts.busy_timeout_ms = 10000;
    if (st->opts.cache_kib <= 0)
        st->opts.cache_kib = 16384;
    bn_buf_init(&st->scratch, BN_STORE_TEXT_MAX + 1);
    int rc = 0;
    if ((size_t)snprintf(st->dir, sizeof(st->dir), "%s", dir) >= sizeof(st->dir) ||
        (size_t)snprintf(st->path, sizeof(st->path), "%s/bannin.db", dir) >= sizeof(st->path)) {
        bn__store_seterr(st, "data directory path too long");
        rc = BN_EINVAL;
        goto out;
    }
    rc = mkdir_p(dir);
    if (rc != 0) {
        bn__store_seterr(st, "cannot create data directory '%s': %s", dir, bn_strerror(rc));
        goto out;
    }
    int r = sqlite3_open_v2(st->path, &st->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        rc = bn__store_err(st, r, "open");
        goto out;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, (int)BN_MIN(st->opts.busy_timeout_ms, INT32_MAX));

    char pragmas[512];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode=WAL;"
             "PRAGMA synchronous=%s;"
             "PRAGMA foreign_keys=ON;"
             "PRAGMA temp_store=MEMORY;"
             "PRAGMA cache_size=-%lld;"
             "PRAGMA journal_size_limit=67108864;",
             st->opts.sync_full ? "FULL" : "NORMAL", (long long)st->opts.cache_kib);
    rc = bn__store_exec(st, pragmas, "configure");
    if (rc != 0)
        goto out;
    /* WAL is what makes a reader never block the writer; refuse to run without it. */
    {
        sqlite3_stmt *s = NULL;
        rc = bn__store_prepare_dyn(st, "PRAGMA journal_mode", &s);
        if (rc != 0)
            goto out;
        int ok = sqlite3_step(s) == SQLITE_ROW && strcmp(bn__store_col_text(s, 0), "wal") == 0;
        sqlite3_finalize(s);
        if (!ok) {
            bn__store_seterr(st, "'%s' cannot use WAL mode", st->path);
            rc = BN_EUNSUP;
            goto out;
        }
    }
    {
        int64_t ac = st->opts.autocheckpoint == 0 ? 16384 : st->opts.autocheckpoint;
        sqlite3_wal_autocheckpoint(st->db, ac < 0 ? 0 : (int)BN_MIN(ac, INT32_MAX));
    }
    if (st->opts.max_pages > 0) {
        snprintf(pragmas, sizeof(pragmas), "PRAGMA max_page_count=%lld;",
                 (long long)st->opts.max_pages);
        rc = bn__store_exec(st, pragmas, "configure");
        if (rc != 0)
            goto out;
    }
    rc = bn__store_z_open(st);
    if (rc != 0)
        goto out;
    rc = bn__store_migrate(st,
                           st->opts.max_version > 0 ? st->opts.max_version : STORE_LATEST_VERSION);
    if (rc == 0)
        st->version = store_schema_version(st);
out:
    if (rc != 0) {
        set_err(err, st->errmsg[0] ? st->errmsg : bn_strerror(rc));
        store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

int
store_open(struct store **out, const char *dir, struct store_err *err)
{
    return store_open_ex(out, dir, NULL, err);
}

void
store_close(struct store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nstmts; i++)
        sqlite3_finalize(st->stmts[i].s);
    if (st->db) {
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(st->db);
    }
    bn__store_z_close(st);
    bn_buf_release(&st->scratch);
    if (st->wal_fd >= 0)
        close(st->wal_fd);
    bn_free(st);
}

int
store_schema_version(struct store *st)
{
    static const char SQL[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    int v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    bn__store_done(s);
    return v;
}

int
store_check(struct store *st, struct store_err *err)
{
    static const char *const checks[] = {"PRAGMA integrity_check", "PRAGMA foreign_key_check"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(checks); i++) {
        sqlite3_stmt *s = NULL;
        int rc = bn__store_prepare_dyn(st, checks[i], &s);
        if (rc != 0) {
            set_err(err, st->errmsg);
            return rc;
        }
        int r = sqlite3_step(s);
        int bad = 0;
        if (r == SQLITE_ROW) {
            if (i == 0) {
                const char *t = bn__store_col_text(s, 0);
                if (strcmp(t, "ok") != 0) {
                    bn__store_seterr(st, "integrity check: %s", t);
                    bad = 1;
                }
            } else {
                bn__store_seterr(st,
                                 "foreign key check: table %s row %lld refers to a missing "
                                 "%s",
                                 bn__store_col_text(s, 0), (long long)sqlite3_column_int64(s, 1),
                                 bn__store_col_text(s, 2));
                bad = 1;
            }
        } else if (r != SQLITE_DONE) {
            rc = bn__store_err(st, r, checks[i]);
            sqlite3_finalize(s);
            set_err(err, st->errmsg);
            return rc == BN_EINTERNAL ? BN_ECORRUPT : rc;
        }
        sqlite3_finalize(s);
        if (bad) {
            set_err(err, st->errmsg);
            return BN_ECORRUPT;
        }
    }
    return 0;
}

static int64_t
file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

int
store_health(struct store *st, struct store_health *out)
{
    *out = st->health;
    out->db_bytes = file_size(st->path);
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof(wal), "%s-wal", st->path);
    out->wal_bytes = file_size(wal);
    struct statvfs vfs;
    if (statvfs(st->dir, &vfs) == 0) {
        out->fs_free_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
        int64_t low = st->opts.low_space_bytes ? st->opts.low_space_bytes : BN_STORE_DISK_LOW_BYTES;
        if (low > 0 && out->fs_free_bytes < low) {
            out->low_space = 1;
            if (!out->full) {
                out->full = 1;
                out->alarm_ns = bn__store_now_ns();
                snprintf(out->alarm, sizeof(out->alarm),
                         "only %lld bytes free on the filesystem of '%.100s' (alarm below %lld)",
                         (long long)out->fs_free_bytes, st->dir, (long long)low);
            }
        }
    }
    return 0;
}

int
store_checkpoint(struct store *st, int truncate, int64_t *wal_pages, int64_t *done)
{
    int log = 0, ckpt = 0;
    int r = sqlite3_wal_checkpoint_v2(
        st->db, NULL, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, &log,
        &ckpt);
    if (wal_pages)
        *wal_pages = log;
    if (done)
        *done = ckpt;
    if (r == SQLITE_BUSY)
        return 0; /* a writer or reader kept it from finishing: the next call goes on */
    return r == SQLITE_OK ? 0 : bn__store_err(st, r, "checkpoint");
}

/* ---- roles ---------------------------------------------------------------------------- */

static const char *const role_names[] = {"provider_admin", "analyst", "customer_admin",
                                         "customer_viewer"};

const char *
store_role_name(int role)
{
    if (role < 0 || (size_t)role >= BN_ARRAY_SIZE(role_names))
        return "unknown";
    return role_names[role];
}

int
store_role_parse(const char *name)
{
    for (size_t i = 0; name && i < BN_ARRAY_SIZE(role_names); i++)
        if (strcmp(name, role_names[i]) == 0)
            return (int)i;
    return -1;
}
