/*
 * store_sqlite_zstd.c - optional zstd compression of stored event JSON (store_opts.compress).
 *
 * Events are small and alike, so they compress well only with a dictionary: the first events
 * an ingest handle stores (plain text) are kept as samples, a dictionary is trained from them
 * once and stored in zdicts under its zstd dictionary id, and later events are stored as a
 * zstd frame (a BLOB) naming that id. Readers - any handle, compressing or not - decompress
 * with the dictionary named by the frame; SQL sees the text through bn_ev(json), which the
 * field filters of the event search use. A dictionary is used only once its row is known to
 * be committed, so a rolled-back batch never leaves events pointing at a missing dictionary.
 *
 * Event blocks (schema 6, the default): the events of one insert call are written as ONE
 * zstd frame in event_blocks (their texts, each followed by a NUL, so a text found in a
 * decompressed block is a C string), with the trained dictionary once there is one; each
 * event row's json column holds a reference BLOB ("BNK1", LEB128 block id, offset, length).
 * Readers find the block through a small per-handle cache of decompressed blocks (LRU), so a
 * search reading a run of events of one batch decompresses the block once.
 */
#include <stdio.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "manager/store_sqlite_int.h"

#define Z_SAMPLES_MIN      1000 /* events before training */
#define Z_SAMPLE_BYTES_MIN (256u << 10)
#define Z_SAMPLES_MAX      BN_STORE_ZSAMPLES_MAX
#define Z_SAMPLE_BYTES_MAX BN_STORE_ZSAMPLE_BYTES_MAX
#define Z_DICT_CAPACITY    BN_STORE_ZDICT_MAX

static ZSTD_DDict *
ddict_get(struct store *st, unsigned id)
{
    static const char SQL[] = "SELECT dict FROM zdicts WHERE id = ?";
    for (size_t i = 0; i < st->z.ndd; i++)
        if (st->z.dd[i].id == (int64_t)id)
            return st->z.dd[i].ddict;
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    ZSTD_DDict *d = NULL;
    if (sqlite3_step(s) == SQLITE_ROW)
        d = ZSTD_createDDict(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
    bn__store_done(s);
    if (!d)
        return NULL;
    if (st->z.ndd == BN_ARRAY_SIZE(st->z.dd)) {
        ZSTD_freeDDict(st->z.dd[0].ddict);
        memmove(&st->z.dd[0], &st->z.dd[1], sizeof(st->z.dd[0]) * (st->z.ndd - 1));
        st->z.ndd--;
    }
    st->z.dd[st->z.ndd].id = id;
    st->z.dd[st->z.ndd++].ddict = d;
    return d;
}

/* Decompresses a frame into st->z.txt. */
static int
unpack(struct store *st, const void *p, size_t n, const char **out, size_t *outn)
{
    unsigned long long sz = ZSTD_getFrameContentSize(p, n);
    if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN || sz > BN_STORE_TEXT_MAX) {
        bn__store_seterr(st, "stored event: not a zstd frame of at most %u bytes",
                         BN_STORE_TEXT_MAX);
        return BN_ECORRUPT;
    }
    if (!st->z.dctx && !(st->z.dctx = ZSTD_createDCtx()))
        return BN_ENOMEM;
    unsigned id = ZSTD_getDictID_fromFrame(p, n);
    ZSTD_DDict *dd = NULL;
    if (id && !(dd = ddict_get(st, id))) {
        bn__store_seterr(st, "stored event: compressed with dictionary %u, which is missing", id);
        return BN_ECORRUPT;
    }
    bn_buf_reset(&st->z.txt);
    int rc = bn_buf_reserve(&st->z.txt, (size_t)sz + 1);
    if (rc != 0)
        return rc;
    size_t r = dd ? ZSTD_decompress_usingDDict(st->z.dctx, st->z.txt.p, (size_t)sz, p, n, dd)
                  : ZSTD_decompressDCtx(st->z.dctx, st->z.txt.p, (size_t)sz, p, n);
    if (ZSTD_isError(r) || r != sz) {
        bn__store_seterr(st, "stored event: %s",
                         ZSTD_isError(r) ? ZSTD_getErrorName(r) : "size mismatch");
        return BN_ECORRUPT;
    }
    st->z.txt.p[sz] = '\0';
    st->z.txt.len = (size_t)sz;
    *out = st->z.txt.p;
    *outn = (size_t)sz;
    return 0;
}

/* ---- event blocks ------------------------------------------------------------------------ */

static const uint8_t REF_MAGIC[4] = {'B', 'N', 'K', '1'};

static size_t
put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static int
get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

size_t
bn__store_blk_ref(uint8_t *ref, int64_t id, size_t off, size_t len)
{
    memcpy(ref, REF_MAGIC, sizeof(REF_MAGIC));
    size_t n = sizeof(REF_MAGIC);
    n += put_varint(ref + n, (uint64_t)id);
    n += put_varint(ref + n, off);
    n += put_varint(ref + n, len);
    return n;
}

int
bn__store_blk_parse(const void *blob, size_t n, int64_t *id, size_t *off, size_t *len)
{
    const uint8_t *p = blob, *end = p + n;
    if (n < sizeof(REF_MAGIC) || memcmp(p, REF_MAGIC, sizeof(REF_MAGIC)) != 0)
        return 0;
    p += sizeof(REF_MAGIC);
    uint64_t a, b, c;
    if (get_varint(&p, end, &a) || get_varint(&p, end, &b) || get_varint(&p, end, &c) || p != end ||
        a == 0 || a > INT64_MAX || b >= STORE_BLOCK_RAW_MAX || c > BN_STORE_TEXT_MAX)
        return -1;
    *id = (int64_t)a;
    *off = (size_t)b;
    *len = (size_t)c;
    return 1;
}

int
bn__store_blocks_on(const struct store *st)
{
    return !st->opts.row_events && st->version >= 6;
}

void
bn__store_blk_reset(struct store *st)
{
    bn_buf_reset(&st->z.braw);
}

size_t
bn__store_blk_len(const struct store *st)
{
    return st->z.braw.len;
}

static int sample(struct store *st, const char *json, size_t len);

int
bn__store_blk_add(struct store *st, const char *json, size_t len, size_t *off)
{
    *off = st->z.braw.len;
    int rc = bn_buf_append(&st->z.braw, json, len);
    if (rc == 0)
        rc = bn_buf_putc(&st->z.braw, '\0');
    if (rc == 0 && !st->z.no_dict && !st->z.cdict)
        rc = sample(st, json, len); /* until a dictionary is trained */
    return rc;
}

static int level(const struct store *st);

int
bn__store_blk_flush(struct store *st, int64_t tenant_id, int64_t nevents, int64_t *id,
                    int64_t *zbytes)
{
    static const char INS[] =
        "INSERT INTO event_blocks(tenant_id, live, raw_len, data) VALUES(?, ?, ?, ?)";
    *id = 0;
    *zbytes = 0;
    size_t rawn = st->z.braw.len;
    if (!st->z.cctx && !(st->z.cctx = ZSTD_createCCtx()))
        return BN_ENOMEM;
    size_t cap = ZSTD_compressBound(rawn);
    bn_buf_reset(&st->z.bout);
    int rc = bn_buf_reserve(&st->z.bout, cap);
    if (rc != 0)
        return rc;
    int dict = st->z.cdict && st->z.cdict_ready;
    size_t r =
        dict ? ZSTD_compress_usingCDict(st->z.cctx, st->z.bout.p, cap, st->z.braw.p, rawn,
                                        st->z.cdict)
             : ZSTD_compressCCtx(st->z.cctx, st->z.bout.p, cap, st->z.braw.p, rawn, level(st));
    if (ZSTD_isError(r)) {
        bn__store_seterr(st, "event block of %zu bytes: zstd: %s", rawn, ZSTD_getErrorName(r));
        return BN_EINTERNAL;
    }
    sqlite3_stmt *s = bn__store_prep(st, INS, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, tenant_id);
    sqlite3_bind_int64(s, 2, nevents);
    sqlite3_bind_int64(s, 3, (int64_t)rawn);
    sqlite3_bind_blob(s, 4, st->z.bout.p, (int)r, SQLITE_STATIC);
    rc = bn__store_step_done(st, s, "insert event block");
    if (rc != 0)
        return rc;
    *id = sqlite3_last_insert_rowid(st->db);
    *zbytes = (int64_t)r;
    return 0;
}

void
bn__store_blk_forget(struct store *st)
{
    for (size_t i = 0; i < STORE_BLOCK_CACHE; i++)
        st->z.blk[i].id = 0;
}

/* The decompressed block id, from the cache or the table. */
static int
blk_get(struct store *st, int64_t id, const struct bn_buf **out)
{
    static const char SQL[] = "SELECT raw_len, data FROM event_blocks WHERE id = ?";
    struct store_zblock *slot = NULL;
    for (size_t i = 0; i < STORE_BLOCK_CACHE; i++) {
        struct store_zblock *b = &st->z.blk[i];
        if (b->id == id) {
            b->used = ++st->z.tick;
            *out = &b->raw;
            return 0;
        }
        if (!slot || b->used < slot->used)
            slot = b;
    }
    int rc = 0;
    sqlite3_stmt *s = bn__store_prep(st, SQL, &rc);
    if (!s)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? BN_ECORRUPT : bn__store_err(st, r, "read event block");
        if (r == SQLITE_DONE)
            bn__store_seterr(st, "stored event: its block %lld is missing", (long long)id);
        bn__store_done(s);
        return rc;
    }
    int64_t rawn = sqlite3_column_int64(s, 0);
    const void *z = sqlite3_column_blob(s, 1);
    size_t zn = (size_t)sqlite3_column_bytes(s, 1);
    unsigned long long sz = z ? ZSTD_getFrameContentSize(z, zn) : ZSTD_CONTENTSIZE_ERROR;
    if (rawn <= 0 || rawn > (int64_t)STORE_BLOCK_RAW_MAX + BN_STORE_TEXT_MAX ||
        sz != (unsigned long long)rawn) {
        bn__store_seterr(st, "event block %lld: not a zstd frame of its %lld bytes", (long long)id,
                         (long long)rawn);
        bn__store_done(s);
        return BN_ECORRUPT;
    }
    if (!st->z.dctx && !(st->z.dctx = ZSTD_createDCtx())) {
        bn__store_done(s);
        return BN_ENOMEM;
    }
    unsigned did = ZSTD_getDictID_fromFrame(z, zn);
    ZSTD_DDict *dd = NULL;
    /* ddict_get steps another statement: copy the frame out of this one's row first */
    if (did) {
        bn_buf_reset(&st->z.bout);
        rc = bn_buf_append(&st->z.bout, z, zn);
        bn__store_done(s);
        s = NULL;
        if (rc != 0)
            return rc;
        z = st->z.bout.p;
        if (!(dd = ddict_get(st, did))) {
            bn__store_seterr(st,
                             "event block %lld: compressed with dictionary %u, which is "
                             "missing",
                             (long long)id, did);
            return BN_ECORRUPT;
        }
    }
    slot->id = 0;
    bn_buf_reset(&slot->raw);
    if (!slot->raw.max)
        bn_buf_init(&slot->raw, STORE_BLOCK_RAW_MAX + BN_STORE_TEXT_MAX + 1);
    rc = bn_buf_reserve(&slot->raw, (size_t)rawn + 1);
    if (rc == 0) {
        size_t d = dd ? ZSTD_decompress_usingDDict(st->z.dctx, slot->raw.p, (size_t)rawn, z, zn, dd)
                      : ZSTD_decompressDCtx(st->z.dctx, slot->raw.p, (size_t)rawn, z, zn);
        if (ZSTD_isError(d) || d != (size_t)rawn) {
            bn__store_seterr(st, "event block %lld: %s", (long long)id,
                             ZSTD_isError(d) ? ZSTD_getErrorName(d) : "size mismatch");
            rc = BN_ECORRUPT;
        }
    }
    if (s)
        bn__store_done(s);
    if (rc != 0)
        return rc;
    slot->raw.p[rawn] = '\0';
    slot->raw.len = (size_t)rawn;
    slot->id = id;
    slot->used = ++st->z.tick;
    *out = &slot->raw;
    return 0;
}

/* The text a block reference points to. */
static int
blk_text(struct store *st, const void *blob, size_t n, const char **p, size_t *len)
{
    int64_t id;
    size_t off, tlen;
    int k = bn__store_blk_parse(blob, n, &id, &off, &tlen);
    if (k <= 0) {
        bn__store_seterr(st, "stored event: a malformed block reference (%zu bytes)", n);
        return BN_ECORRUPT;
    }
    const struct bn_buf *b = NULL;
    int rc = blk_get(st, id, &b);
    if (rc != 0)
        return rc;
    if (off + tlen >= b->len || b->p[off + tlen] != '\0') {
        bn__store_seterr(st,
                         "stored event: bytes %zu..%zu are not an event of block %lld (%zu "
                         "bytes)",
                         off, off + tlen, (long long)id, b->len);
        return BN_ECORRUPT;
    }
    *p = b->p + off;
    *len = tlen;
    return 0;
}

/* A json column's BLOB: a block reference or a zstd frame of one event. */
static int
blob_text(struct store *st, const void *blob, size_t n, const char **p, size_t *len)
{
    if (n >= sizeof(REF_MAGIC) && memcmp(blob, REF_MAGIC, sizeof(REF_MAGIC)) == 0)
        return blk_text(st, blob, n, p, len);
    return unpack(st, blob, n, p, len);
}

/* bn_ev(json): the event's text, whether stored plain, compressed or in a block. */
static void
fn_ev(sqlite3_context *c, int argc, sqlite3_value **v)
{
    (void)argc;
    if (sqlite3_value_type(v[0]) != SQLITE_BLOB) {
        sqlite3_result_value(c, v[0]);
        return;
    }
    struct store *st = sqlite3_user_data(c);
    const char *t;
    size_t n;
    int rc = blob_text(st, sqlite3_value_blob(v[0]), (size_t)sqlite3_value_bytes(v[0]), &t, &n);
    if (rc == BN_ENOMEM) {
        sqlite3_result_error_nomem(c);
        return;
    }
    if (rc != 0) {
        sqlite3_result_error(c, st->errmsg, -1);
        return;
    }
    sqlite3_result_text(c, t, (int)n, SQLITE_TRANSIENT);
}

int
bn__store_z_open(struct store *st)
{
    bn_buf_init(&st->z.samples, Z_SAMPLE_BYTES_MAX);
    bn_buf_init(&st->z.out, ZSTD_COMPRESSBOUND(BN_STORE_TEXT_MAX));
    bn_buf_init(&st->z.txt, BN_STORE_TEXT_MAX + 1);
    bn_buf_init(&st->z.braw, STORE_BLOCK_RAW_MAX + BN_STORE_TEXT_MAX + 1);
    bn_buf_init(&st->z.bout, ZSTD_COMPRESSBOUND(STORE_BLOCK_RAW_MAX + BN_STORE_TEXT_MAX + 1));
    int r = sqlite3_create_function(st->db, "bn_ev", 1,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, st,
                                    fn_ev, NULL, NULL);
    return r == SQLITE_OK ? 0 : bn__store_err(st, r, "register bn_ev");
}

void
bn__store_z_close(struct store *st)
{
    ZSTD_freeCCtx(st->z.cctx);
    ZSTD_freeDCtx(st->z.dctx);
    ZSTD_freeCDict(st->z.cdict);
    for (size_t i = 0; i < st->z.ndd; i++)
        ZSTD_freeDDict(st->z.dd[i].ddict);
    bn_buf_release(&st->z.samples);
    bn_buf_release(&st->z.out);
    bn_buf_release(&st->z.txt);
    bn_buf_release(&st->z.braw);
    bn_buf_release(&st->z.bout);
    for (size_t i = 0; i < STORE_BLOCK_CACHE; i++)
        bn_buf_release(&st->z.blk[i].raw);
    bn_free(st->z.sizes);
    memset(&st->z, 0, sizeof(st->z));
}

static int
level(const struct store *st)
{
    if (st->opts.compress <= 0)
        return 1; /* blocks: the default */
    return st->opts.compress > 19 ? 19 : st->opts.compress;
}

/* Compression of some kind is on: per-event frames (compress > 0) or blocks. */
static int
z_on(const struct store *st)
{
    return (st->opts.compress > 0 || bn__store_blocks_on(st)) && st->version >= 3;
}

static void
drop_samples(struct store *st)
{
    bn_buf_release(&st->z.samples);
    bn_free(st->z.sizes);
    st->z.sizes = NULL;
    st->z.nsamples = 0;
}

static int
use_dict(struct store *st, int64_t id, const void *dict, size_t n, int ready)
{
    ZSTD_CDict *cd = ZSTD_createCDict(dict, n, level(st));
    if (!cd)
        return BN_ENOMEM;
    ZSTD_freeCDict(st->z.cdict);
    st->z.cdict = cd;
    st->z.cdict_id = id;
    st->z.cdict_ready = ready;
    return 0;
}

/* Trains a dictionary from the samples and stores it in the caller's transaction. */
static int
train(struct store *st)
{
    static const char INS[] = "INSERT INTO zdicts(id, dict, samples, created_ns) VALUES(?, ?, ?, ?)"
                              " ON CONFLICT DO NOTHING";
    void *dict = bn_malloc(Z_DICT_CAPACITY);
    if (!dict)
        return BN_ENOMEM;
    size_t n = ZDICT_trainFromBuffer(dict, Z_DICT_CAPACITY, st->z.samples.p, st->z.sizes,
                                     (unsigned)st->z.nsamples);
    unsigned id = ZDICT_isError(n) ? 0 : ZDICT_getDictID(dict, n);
    int rc = 0;
    if (id == 0) {
        /* Too few or too varied samples: plain zstd still helps a little. */
        BN_WARN("store", "no compression dictionary from %zu events: %s", st->z.nsamples,
                ZDICT_isError(n) ? ZDICT_getErrorName(n) : "no id");
        st->z.no_dict = 1;
    } else {
        sqlite3_stmt *s = bn__store_prep(st, INS, &rc);
        if (s) {
            sqlite3_bind_int64(s, 1, id);
            sqlite3_bind_blob(s, 2, dict, (int)n, SQLITE_STATIC);
            sqlite3_bind_int64(s, 3, (int64_t)st->z.nsamples);
            sqlite3_bind_int64(s, 4, bn__store_now_ns());
            rc = bn__store_step_done(st, s, "store compression dictionary");
        }
        if (rc == 0)
            rc = use_dict(st, id, dict, n, 0);
        if (rc == 0)
            BN_INFO("store", "compression dictionary %u trained from %zu events (%zu bytes)", id,
                    st->z.nsamples, n);
    }
    bn_free(dict);
    if (rc == 0)
        drop_samples(st);
    return rc;
}

int
bn__store_z_batch(struct store *st)
{
    static const char HAVE[] = "SELECT 1 FROM zdicts WHERE id = ?";
    static const char NEWEST[] = "SELECT id, dict FROM zdicts ORDER BY created_ns DESC LIMIT 1";
    if (!z_on(st) || st->z.no_dict || (st->z.cdict && st->z.cdict_ready))
        return 0;
    int rc = 0;
    sqlite3_stmt *s;
    if (st->z.cdict) {
        /* Trained in an earlier batch: usable once that batch committed. If it rolled back
         * the dictionary is gone with it: train again from new samples. */
        if (!(s = bn__store_prep(st, HAVE, &rc)))
            return rc;
        sqlite3_bind_int64(s, 1, st->z.cdict_id);
        int r = sqlite3_step(s);
        bn__store_done(s);
        if (r == SQLITE_ROW) {
            st->z.cdict_ready = 1;
            return 0;
        }
        ZSTD_freeCDict(st->z.cdict);
        st->z.cdict = NULL;
    }
    /* Another handle may have trained one already. */
    if (!(s = bn__store_prep(st, NEWEST, &rc)))
        return rc;
    if (sqlite3_step(s) == SQLITE_ROW)
        rc = use_dict(st, sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1),
                      (size_t)sqlite3_column_bytes(s, 1), 1);
    bn__store_done(s);
    if (rc != 0 || st->z.cdict)
        return rc;
    if ((st->z.nsamples >= Z_SAMPLES_MIN && st->z.samples.len >= Z_SAMPLE_BYTES_MIN) ||
        st->z.nsamples >= Z_SAMPLES_MAX)
        return train(st);
    return 0;
}

/* Keeps an event as a dictionary training sample while there is room. */
static int
sample(struct store *st, const char *json, size_t len)
{
    if (st->z.nsamples >= Z_SAMPLES_MAX || st->z.samples.len + len > Z_SAMPLE_BYTES_MAX)
        return 0;
    if (st->z.nsamples % 1024 == 0) {
        size_t *sz = bn_reallocarray(st->z.sizes, st->z.nsamples + 1024, sizeof(*sz));
        if (!sz)
            return BN_ENOMEM;
        st->z.sizes = sz;
    }
    int rc = bn_buf_append(&st->z.samples, json, len);
    if (rc != 0)
        return rc;
    st->z.sizes[st->z.nsamples++] = len;
    return 0;
}

int
bn__store_z_pack(struct store *st, const char *json, size_t len, const void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (st->opts.compress <= 0 || len == 0)
        return 0;
    if (!st->z.no_dict && !(st->z.cdict && st->z.cdict_ready))
        return sample(st, json, len); /* still learning: stored plain */
    if (!st->z.cctx && !(st->z.cctx = ZSTD_createCCtx()))
        return BN_ENOMEM;
    size_t cap = ZSTD_compressBound(len);
    bn_buf_reset(&st->z.out);
    int rc = bn_buf_reserve(&st->z.out, cap);
    if (rc != 0)
        return rc;
    size_t r = st->z.cdict
                   ? ZSTD_compress_usingCDict(st->z.cctx, st->z.out.p, cap, json, len, st->z.cdict)
                   : ZSTD_compressCCtx(st->z.cctx, st->z.out.p, cap, json, len, level(st));
    if (ZSTD_isError(r) || r >= len)
        return 0; /* incompressible (or a zstd failure): stored as text, nothing lost */
    *out = st->z.out.p;
    *n = r;
    return 0;
}

int
bn__store_z_text(struct store *st, sqlite3_stmt *s, int col, const char **p, size_t *n)
{
    if (sqlite3_column_type(s, col) == SQLITE_BLOB)
        return blob_text(st, sqlite3_column_blob(s, col), (size_t)sqlite3_column_bytes(s, col), p,
                         n);
    *p = bn__store_col_text(s, col);
    *n = (size_t)sqlite3_column_bytes(s, col);
    return 0;
}
