/*
 * source.c - the byte source under every log reader: a plain file, a gzip file (also
 * multi-member, as `cat a.gz b.gz` makes), a zstd file (any number of frames) or bytes in
 * memory, chosen by magic bytes.
 *
 * The source keeps a window of decoded bytes that readers parse in place (zero-copy):
 * memory and plain in-memory input are the window itself; files and compressed streams are
 * read in large chunks into a buffer that grows only as far as the longest record needs.
 * Decompression is guarded against bombs (BN_DECOMPRESS_RATIO_MAX, BN_DECOMPRESSED_MAX) and
 * a corrupt stream stops the source with a message naming the compressed offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "input/reader_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"

#define RAW_CHUNK (256u << 10)    /* compressed bytes read at a time */
#define WIN_MIN (1u << 20)        /* smallest decoded window buffer */
#define BOMB_SLACK (16ull << 20)  /* decoded bytes allowed before the ratio check applies */

enum src_kind {
    SRC_PLAIN,
    SRC_GZIP,
    SRC_ZSTD,
};

struct bn_source {
    enum src_kind kind;
    char name[256];

    /* Raw input: memory (mem != NULL) or a file descriptor read through rbuf. */
    const unsigned char *mem;
    size_t mem_len;
    size_t mem_pos;
    int fd;
    unsigned char *rbuf;
    size_t rbuf_len;
    size_t rbuf_pos;
    bool raw_eof;
    uint64_t raw_done;  /* raw bytes handed to the decoder (or to the window) */
    uint64_t raw_size;  /* 0 if unknown */
    int64_t mtime;

    /* Decoded window: win[pos..len) is available; base is the decoded offset of win[0]. */
    const char *win;
    char *buf;          /* owned storage when the window is not the input itself */
    size_t cap;
    size_t pos;
    size_t len;
    uint64_t base;
    bool eof;           /* nothing beyond len */

    z_stream z;
    bool z_live;
    bool z_member_end;  /* the last gzip member ended cleanly */
    ZSTD_DStream *zs;
    size_t zret;        /* last ZSTD_decompressStream hint; 0 = at a frame boundary */
    uint64_t decoded;   /* total decoded bytes produced */

    int err;
    char errmsg[256];
};

/* Stops the source: what happened, at which raw (compressed) offset, and why. */
static int
src_fail(struct bn_source *s, int code, const char *what, const char *why)
{
    s->err = code;
    snprintf(s->errmsg, sizeof(s->errmsg), "%s at %s offset %llu: %s", what,
             s->kind == SRC_PLAIN ? "byte" : "compressed", (unsigned long long)s->raw_done, why);
    s->eof = true;
    return code;
}

/* Returns a pointer to unread raw bytes and their count; 0 bytes at raw end. */
static int
raw_get(struct bn_source *s, const unsigned char **p, size_t *n)
{
    if (s->mem) {
        *p = s->mem + s->mem_pos;
        *n = s->mem_len - s->mem_pos;
        return 0;
    }
    if (s->rbuf_pos == s->rbuf_len && !s->raw_eof) {
        ssize_t r;
        do
            r = read(s->fd, s->rbuf, RAW_CHUNK);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            return src_fail(s, -errno, "read error", strerror(errno));
        s->rbuf_pos = 0;
        s->rbuf_len = (size_t)r;
        if (r == 0)
            s->raw_eof = true;
    }
    *p = s->rbuf + s->rbuf_pos;
    *n = s->rbuf_len - s->rbuf_pos;
    return 0;
}

static void
raw_consume(struct bn_source *s, size_t n)
{
    if (s->mem)
        s->mem_pos += n;
    else
        s->rbuf_pos += n;
    s->raw_done += n;
}

static int
bomb_check(struct bn_source *s)
{
    if (s->decoded > BN_DECOMPRESSED_MAX)
        return src_fail(s, BN_ETOOBIG, "decompressed size over the limit",
                        "more than BN_DECOMPRESSED_MAX bytes");
    if (s->decoded > BOMB_SLACK && s->decoded / BN_DECOMPRESS_RATIO_MAX > s->raw_done + 1)
        return src_fail(s, BN_ETOOBIG, "decompression ratio over the limit",
                        "likely a decompression bomb (BN_DECOMPRESS_RATIO_MAX)");
    return 0;
}

/* Decodes up to n bytes into dst. Returns the count, 0 at the end, or an error. */
static ssize_t
produce_plain(struct bn_source *s, char *dst, size_t n)
{
    /* Bytes sniffed into rbuf at open come first. */
    if (s->rbuf_pos < s->rbuf_len) {
        size_t k = BN_MIN(n, s->rbuf_len - s->rbuf_pos);
        memcpy(dst, s->rbuf + s->rbuf_pos, k);
        raw_consume(s, k);
        return (ssize_t)k;
    }
    if (s->raw_eof)
        return 0;
    ssize_t r;
    do
        r = read(s->fd, dst, n);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return src_fail(s, -errno, "read error", strerror(errno));
    if (r == 0)
        s->raw_eof = true;
    s->raw_done += (uint64_t)r;
    return r;
}

static ssize_t
produce_gzip(struct bn_source *s, char *dst, size_t n)
{
    size_t out = 0;
    while (out < n) {
        const unsigned char *p;
        size_t avail;
        int rc = raw_get(s, &p, &avail);
        if (rc)
            return rc;
        if (s->z_member_end) {
            /* Between members: another member, trailing zeros (tape padding) or the end. */
            if (avail == 0)
                break;
            if (p[0] == 0) {
                size_t k = 0;
                while (k < avail && p[k] == 0)
                    k++;
                raw_consume(s, k);
                continue;
            }
            if (p[0] != 0x1f || (avail >= 2 && p[1] != 0x8b))
                return src_fail(s, BN_EFORMAT, "corrupt gzip stream",
                                "trailing bytes after the last member are not gzip");
            if (inflateReset(&s->z) != Z_OK)
                return src_fail(s, BN_EINTERNAL, "zlib failed", "inflateReset");
            s->z_member_end = false;
        }
        if (avail == 0)
            return src_fail(s, BN_ETRUNC, "truncated gzip stream", "input ends inside a member");
        s->z.next_in = (Bytef *)(uintptr_t)p;
        s->z.avail_in = (uInt)BN_MIN(avail, (size_t)UINT32_MAX);
        s->z.next_out = (Bytef *)(dst + out);
        s->z.avail_out = (uInt)BN_MIN(n - out, (size_t)UINT32_MAX);
        uInt in0 = s->z.avail_in, out0 = s->z.avail_out;
        int zr = inflate(&s->z, Z_NO_FLUSH);
        raw_consume(s, in0 - s->z.avail_in);
        out += out0 - s->z.avail_out;
        if (zr == Z_STREAM_END) {
            s->z_member_end = true;
            continue;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return src_fail(s, BN_EFORMAT, "corrupt gzip stream", s->z.msg ? s->z.msg : "inflate failed");
        if (zr == Z_BUF_ERROR && in0 == s->z.avail_in && out0 == s->z.avail_out)
            return src_fail(s, BN_EFORMAT, "corrupt gzip stream", "no progress");
        if (out > 0)
            break;
    }
    return (ssize_t)out;
}

static ssize_t
produce_zstd(struct bn_source *s, char *dst, size_t n)
{
    ZSTD_outBuffer ob = {dst, n, 0};
    while (ob.pos < ob.size) {
        const unsigned char *p;
        size_t avail;
        int rc = raw_get(s, &p, &avail);
        if (rc)
            return rc;
        if (avail == 0) {
            if (s->zret == 0)
                break; /* the last frame ended: a clean end */
            /* Flush what the decoder still holds, then check the last frame ended. */
            ZSTD_inBuffer ib = {p, 0, 0};
            size_t zr = ZSTD_decompressStream(s->zs, &ob, &ib);
            if (ZSTD_isError(zr))
                return src_fail(s, BN_EFORMAT, "corrupt zstd stream", ZSTD_getErrorName(zr));
            s->zret = zr;
            if (ob.pos > 0)
                break;
            if (s->zret != 0)
                return src_fail(s, BN_ETRUNC, "truncated zstd stream", "input ends inside a frame");
            break;
        }
        ZSTD_inBuffer ib = {p, avail, 0};
        size_t zr = ZSTD_decompressStream(s->zs, &ob, &ib);
        raw_consume(s, ib.pos);
        if (ZSTD_isError(zr))
            return src_fail(s, BN_EFORMAT, "corrupt zstd stream", ZSTD_getErrorName(zr));
        s->zret = zr;
        if (ob.pos > 0)
            break;
    }
    return (ssize_t)ob.pos;
}

static ssize_t
produce(struct bn_source *s, char *dst, size_t n)
{
    ssize_t r;
    switch (s->kind) {
    case SRC_GZIP:
        r = produce_gzip(s, dst, n);
        break;
    case SRC_ZSTD:
        r = produce_zstd(s, dst, n);
        break;
    default:
        r = produce_plain(s, dst, n);
    }
    if (r > 0) {
        s->decoded += (uint64_t)r;
        if (s->kind != SRC_PLAIN) {
            int rc = bomb_check(s);
            if (rc)
                return rc;
        }
    }
    return r;
}

static int
setup_decoder(struct bn_source *s, const unsigned char *head, size_t n)
{
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        s->kind = SRC_GZIP;
        if (inflateInit2(&s->z, 15 + 16) != Z_OK)
            return BN_ENOMEM;
        s->z_live = true;
    } else if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f &&
               head[3] == 0xfd) {
        s->kind = SRC_ZSTD;
        s->zs = ZSTD_createDStream();
        if (!s->zs)
            return BN_ENOMEM;
        if (ZSTD_isError(ZSTD_initDStream(s->zs)))
            return BN_EINTERNAL;
    } else {
        s->kind = SRC_PLAIN;
    }
    return 0;
}

static struct bn_source *
source_alloc(const char *name)
{
    struct bn_source *s = bn_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = -1;
    snprintf(s->name, sizeof(s->name), "%s", name ? name : "<input>");
    return s;
}

int
bn__source_open_mem(struct bn_source **out, const void *data, size_t len, const char *name,
                    struct bn_diag *d)
{
    *out = NULL;
    struct bn_source *s = source_alloc(name);
    if (!s)
        return bn_diag_set(d, BN_ENOMEM, name, 0, 0, "out of memory");
    s->mem = data ? data : (const void *)"";
    s->mem_len = data ? len : 0;
    s->raw_size = s->mem_len;
    s->mtime = (int64_t)time(NULL);
    int rc = setup_decoder(s, s->mem, s->mem_len);
    if (rc) {
        bn__source_free(s);
        return bn_diag_set(d, rc, name, 0, 0, "cannot set up the decompressor");
    }
    if (s->kind == SRC_PLAIN) {
        /* The input is the window: zero-copy. */
        s->win = (const char *)s->mem;
        s->len = s->mem_len;
        s->mem_pos = s->mem_len;
        s->raw_done = s->mem_len;
        s->decoded = s->mem_len;
        s->eof = true;
    }
    *out = s;
    return 0;
}

int
bn__source_open_file(struct bn_source **out, const char *path, struct bn_diag *d)
{
    *out = NULL;
    int rc = 0;
    struct bn_source *s = source_alloc(path);
    if (!s)
        return bn_diag_set(d, BN_ENOMEM, path, 0, 0, "out of memory");
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        rc = bn_diag_set(d, -errno, path, 0, 0, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0) {
        s->mtime = (int64_t)st.st_mtime;
        if (S_ISREG(st.st_mode))
            s->raw_size = (uint64_t)st.st_size;
        if (S_ISDIR(st.st_mode)) {
            rc = bn_diag_set(d, BN_EINVAL, path, 0, 0, "cannot read '%s': is a directory", path);
            goto out;
        }
    } else {
        s->mtime = (int64_t)time(NULL);
    }
    s->rbuf = bn_malloc(RAW_CHUNK);
    if (!s->rbuf) {
        rc = bn_diag_set(d, BN_ENOMEM, path, 0, 0, "out of memory");
        goto out;
    }
    /* Sniff the magic: read until 4 bytes or the end (pipes may return less). */
    while (s->rbuf_len < 4 && !s->raw_eof) {
        ssize_t r = read(s->fd, s->rbuf + s->rbuf_len, RAW_CHUNK - s->rbuf_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = bn_diag_set(d, -errno, path, 0, 0, "cannot read '%s': %s", path,
                             strerror(errno));
            goto out;
        }
        if (r == 0)
            s->raw_eof = true;
        s->rbuf_len += (size_t)r;
    }
    rc = setup_decoder(s, s->rbuf, s->rbuf_len);
    if (rc)
        bn_diag_set(d, rc, path, 0, 0, "cannot set up the decompressor");
out:
    if (rc) {
        bn__source_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void
bn__source_free(struct bn_source *s)
{
    if (!s)
        return;
    if (s->z_live)
        inflateEnd(&s->z);
    ZSTD_freeDStream(s->zs);
    if (s->fd >= 0)
        close(s->fd);
    bn_free(s->rbuf);
    bn_free(s->buf);
    bn_free(s);
}

int
bn__source_fill(struct bn_source *s, size_t want)
{
    if (s->len - s->pos >= want || s->eof)
        return s->len - s->pos >= want ? 0 : s->err;
    /* Compact, then grow the buffer if the window must hold more. */
    if (s->pos > 0) {
        size_t keep = s->len - s->pos;
        if (keep)
            memmove(s->buf, s->buf + s->pos, keep);
        s->base += s->pos;
        s->len = keep;
        s->pos = 0;
    }
    if (want > s->cap || s->cap < WIN_MIN) {
        size_t cap = BN_MAX((size_t)WIN_MIN, s->cap);
        while (cap < want)
            cap *= 2;
        char *nb = bn_realloc(s->buf, cap);
        if (!nb)
            return BN_ENOMEM;
        s->buf = nb;
        s->cap = cap;
    }
    s->win = s->buf;
    while (s->len < want) {
        ssize_t r = produce(s, s->buf + s->len, s->cap - s->len);
        if (r < 0)
            return (int)r;
        if (r == 0) {
            s->eof = true;
            break;
        }
        s->len += (size_t)r;
    }
    return 0;
}

const char *
bn__source_peek(const struct bn_source *s, size_t *avail)
{
    *avail = s->len - s->pos;
    return s->win ? s->win + s->pos : "";
}

void
bn__source_consume(struct bn_source *s, size_t n)
{
    s->pos += BN_MIN(n, s->len - s->pos);
}

bool
bn__source_eof(const struct bn_source *s)
{
    return s->eof;
}

uint64_t
bn__source_offset(const struct bn_source *s)
{
    return s->base + s->pos;
}

ssize_t
bn__source_read(struct bn_source *s, void *buf, size_t n)
{
    if (n == 0)
        return 0;
    if (s->pos == s->len) {
        int rc = bn__source_fill(s, BN_MIN(n, (size_t)WIN_MIN));
        if (rc)
            return rc;
    }
    size_t k = BN_MIN(n, s->len - s->pos);
    if (k == 0)
        return s->err ? s->err : 0;
    memcpy(buf, s->win + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

int
bn__source_line(struct bn_source *s, size_t max, struct bn_str *line)
{
    size_t scanned = 0;
    line->p = NULL;
    line->len = 0;
    for (;;) {
        const char *p = s->win ? s->win + s->pos : "";
        size_t avail = s->len - s->pos;
        const char *nl = scanned < avail ? memchr(p + scanned, '\n', avail - scanned) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p);
            s->pos += n + 1;
            if (n > max)
                return BN_ETOOBIG;
            line->p = p;
            line->len = n;
            return 0;
        }
        if (s->eof) {
            if (avail == 0)
                return s->err ? s->err : BN_EOF;
            s->pos += avail;
            if (avail > max)
                return BN_ETOOBIG;
            line->p = p;
            line->len = avail;
            return 0;
        }
        if (avail > max) {
            /* Too long: drop it chunk by chunk without holding it. */
            s->pos = s->len;
            for (;;) {
                int rc = bn__source_fill(s, 1);
                if (rc)
                    return rc;
                avail = s->len - s->pos;
                if (avail == 0)
                    return BN_ETOOBIG;
                nl = memchr(s->win + s->pos, '\n', avail);
                if (nl) {
                    s->pos += (size_t)(nl - (s->win + s->pos)) + 1;
                    return BN_ETOOBIG;
                }
                s->pos = s->len;
            }
        }
        scanned = avail;
        size_t want = avail + BN_MAX(avail, (size_t)(64u << 10));
        if (want > max + 1)
            want = max + 1;
        int rc = bn__source_fill(s, want);
        if (rc)
            return rc;
    }
}

bool
bn__source_failed(const struct bn_source *s)
{
    return s->err != 0;
}

const char *
bn__source_error(const struct bn_source *s)
{
    return s->errmsg;
}

void
bn__source_progress(const struct bn_source *s, uint64_t *done, uint64_t *total)
{
    if (s->kind == SRC_PLAIN && s->mem) {
        *done = bn__source_offset(s);
    } else {
        *done = s->raw_done;
    }
    *total = s->raw_size;
}

int64_t
bn__source_mtime(const struct bn_source *s)
{
    return s->mtime;
}

const char *
bn__source_kind(const struct bn_source *s)
{
    switch (s->kind) {
    case SRC_GZIP:
        return "gzip";
    case SRC_ZSTD:
        return "zstd";
    default:
        return "plain";
    }
}
