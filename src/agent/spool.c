/*
 * spool.c - the agent's durable, bounded on-disk spool (format and guarantees in spool.h).
 *
 * Writes are one writev() per record, or per chunk of a batch (agent_spool_append_many: up to
 * IOV_MAX / 2 records, cut wherever a single append would roll, shed or sync first), straight
 * into the active segment, so a record whose append returned is in the page cache and
 * survives the agent being killed; fdatasync()
 * follows the count/time policy for machine crashes. Shedding rewrites one segment without
 * one priority class (temporary file, fsync, rename, fsync of the directory), so the old
 * bytes stay intact until the new file is complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/spool.h"
#include "bannin/fileio.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/log.h"

#define MOD "spool"

static const uint8_t file_magic[8] = {'B', 'N', 'S', 'P', 'O', 'O', 'L', '1'};
static const uint8_t rec_magic[4] = {0xb5, 'B', 'N', 'R'};

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif
/* Records of one writev: a header and a payload iovec each, within IOV_MAX. */
#define SPOOL_CHUNK_RECS (IOV_MAX / 2)

#define SEG_NAME_LEN 28 /* "seg-" + 20 digits + ".bns" */

struct seg {
    uint64_t first;               /* seq in the file name: every record has seq >= first */
    uint64_t bytes;               /* file size */
    uint64_t last;                /* highest good seq (valid when counted) */
    uint64_t n[AGENT_SPOOL_PRIOS];/* good records by priority (valid when counted) */
    bool counted;
    uint32_t gen;                 /* bumped whenever the file is rewritten */
};

struct agent_spool {
    struct agent_spool_opts o;
    char *dir;
    int dirfd;
    int afd;                      /* active (newest) segment, open for appending */
    struct seg *segs;             /* sorted by first; the last one is active */
    size_t nsegs, capsegs;
    uint64_t total;               /* bytes of all segments */
    uint64_t next_seq;
    uint64_t synced_seq;
    uint64_t acked;
    uint32_t pending;             /* records appended since the last sync */
    int64_t last_sync_ms;
    struct agent_spool_stats st;
    /* reader */
    uint64_t rd_seq;              /* last seq handed out */
    uint64_t rd_first;            /* segment loaded in rd_data (0 = none) */
    uint32_t rd_gen;
    size_t rd_off;
    uint8_t *rd_data;
    size_t rd_len, rd_cap;
    /* scratch of append_many: record headers and the iovecs of one chunk */
    uint8_t hdrs[SPOOL_CHUNK_RECS * AGENT_SPOOL_REC_HDR];
    struct iovec iov[2 * SPOOL_CHUNK_RECS];
};

/* ---- encoding ---------------------------------------------------------------------- */

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t
rec_crc(const uint8_t *hdr, const void *payload, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, hdr + 4, 16);
    if (len)
        c = crc32(c, payload, (uInt)len);
    return (uint32_t)c;
}

static void
rec_header(uint8_t *h, uint64_t seq, enum agent_prio prio, const void *data, size_t len)
{
    memcpy(h, rec_magic, 4);
    put32(h + 4, (uint32_t)len);
    put64(h + 8, seq);
    h[16] = (uint8_t)prio;
    h[17] = 0; /* flags: none defined yet (bit 0 is reserved for zstd batches) */
    h[18] = h[19] = 0;
    put32(h + 20, rec_crc(h, data, len));
}

static void
file_header(uint8_t *h)
{
    memcpy(h, file_magic, 8);
    put32(h + 8, 1); /* version */
    put32(h + 12, 0);
}

/* Decodes the record at off. Returns true with *rec and *next for a whole record whose
 * framing and CRC are good. */
static bool
parse_at(const uint8_t *d, size_t len, size_t off, struct agent_spool_rec *rec, size_t *next)
{
    if (off > len || len - off < AGENT_SPOOL_REC_HDR)
        return false;
    const uint8_t *h = d + off;
    if (memcmp(h, rec_magic, 4) != 0)
        return false;
    uint32_t plen = get32(h + 4);
    if (plen > AGENT_SPOOL_RECORD_MAX || plen > len - off - AGENT_SPOOL_REC_HDR)
        return false;
    uint64_t seq = get64(h + 8);
    if (seq == 0 || h[16] >= AGENT_SPOOL_PRIOS || h[17] != 0 || h[18] != 0 || h[19] != 0)
        return false;
    if (rec_crc(h, h + AGENT_SPOOL_REC_HDR, plen) != get32(h + 20))
        return false;
    rec->seq = seq;
    rec->prio = (enum agent_prio)h[16];
    rec->data = (const char *)h + AGENT_SPOOL_REC_HDR;
    rec->len = plen;
    *next = off + AGENT_SPOOL_REC_HDR + plen;
    return true;
}

/* Finds the first good record starting at or after from; returns its offset or len. */
static size_t
resync(const uint8_t *d, size_t len, size_t from)
{
    struct agent_spool_rec r;
    size_t next;
    while (from < len) {
        const uint8_t *p = memmem(d + from, len - from, rec_magic, sizeof(rec_magic));
        if (!p)
            return len;
        size_t off = (size_t)(p - d);
        if (parse_at(d, len, off, &r, &next))
            return off;
        from = off + 1;
    }
    return len;
}

int
agent_spool_scan_mem(const void *data, size_t len, agent_spool_scan_cb cb, void *ctx,
                     uint64_t *corrupt, size_t *good_end)
{
    const uint8_t *d = data;
    uint64_t bad = 0;
    size_t end = 0, off;
    int rc = 0;

    if (len >= AGENT_SPOOL_FILE_HDR) {
        end = AGENT_SPOOL_FILE_HDR;
        if (memcmp(d, file_magic, sizeof(file_magic)) != 0)
            bad++; /* not our header: still salvage any records that follow */
    }
    off = end;
    while (off < len) {
        struct agent_spool_rec r;
        size_t next;
        if (parse_at(d, len, off, &r, &next)) {
            end = next;
            if (cb && (rc = cb(ctx, &r, off)))
                break;
            off = next;
            continue;
        }
        size_t q = resync(d, len, off + 1);
        if (q >= len)
            break; /* junk to the end: a torn tail, the caller decides */
        bad++;
        off = q;
    }
    if (corrupt)
        *corrupt += bad;
    if (good_end)
        *good_end = end;
    return rc;
}

/* ---- files ------------------------------------------------------------------------- */

static int64_t
now_ms(const struct agent_spool *s)
{
    if (s->o.now_ms)
        return s->o.now_ms(s->o.now_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
seg_name(char *buf, size_t size, uint64_t first)
{
    snprintf(buf, size, "seg-%020" PRIu64 ".bns", first);
}

static bool
parse_seg_name(const char *name, uint64_t *first)
{
    if (strlen(name) != SEG_NAME_LEN || memcmp(name, "seg-", 4) != 0 ||
        memcmp(name + 24, ".bns", 4) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 4; i < 24; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t dgt = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - dgt) / 10)
            return false;
        v = v * 10 + dgt;
    }
    if (v == 0)
        return false;
    *first = v;
    return true;
}

/* Reads the whole file name (relative to dirfd) into an owned buffer. */
static int
read_file(int dirfd, const char *name, uint8_t **out, size_t *outlen)
{
    int rc = 0;
    uint8_t *buf = NULL;
    struct stat sb;
    size_t got = 0;
    *out = NULL;
    *outlen = 0;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &sb) < 0) {
        rc = -errno;
        goto out;
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX / 2) {
        rc = BN_ETOOBIG;
        goto out;
    }
    buf = bn_malloc((size_t)sb.st_size + 1);
    if (!buf) {
        rc = BN_ENOMEM;
        goto out;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *out = buf;
    *outlen = got;
    buf = NULL;
out:
    bn_free(buf);
    close(fd);
    return rc;
}

static int
sync_dir(struct agent_spool *s)
{
    return fsync(s->dirfd) < 0 ? -errno : 0;
}

static struct seg *
find_seg(struct agent_spool *s, uint64_t first, size_t *idx)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].first == first) {
            if (idx)
                *idx = i;
            return &s->segs[i];
        }
    return NULL;
}

static int
push_seg(struct agent_spool *s, uint64_t first, uint64_t bytes)
{
    if (s->nsegs == s->capsegs) {
        if (s->capsegs >= AGENT_SPOOL_SEGMENTS_MAX)
            return BN_ETOOBIG;
        size_t cap = s->capsegs ? s->capsegs * 2 : 16;
        struct seg *n = bn_reallocarray(s->segs, cap, sizeof(*n));
        if (!n)
            return BN_ENOMEM;
        s->segs = n;
        s->capsegs = cap;
    }
    struct seg *g = &s->segs[s->nsegs++];
    memset(g, 0, sizeof(*g));
    g->first = first;
    g->bytes = bytes;
    s->total += bytes;
    return 0;
}

static void
remove_seg(struct agent_spool *s, size_t i)
{
    s->total -= s->segs[i].bytes;
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(s->segs[0]));
    s->nsegs--;
}

struct count_ctx {
    struct seg *g;
};

static int
count_cb(void *ctx, const struct agent_spool_rec *r, size_t off)
{
    struct seg *g = ((struct count_ctx *)ctx)->g;
    g->n[r->prio]++;
    if (r->seq > g->last)
        g->last = r->seq;
    return 0;
}

/* Scans segment g (not yet counted) to learn its per-priority counts. */
static int
count_seg(struct agent_spool *s, struct seg *g)
{
    char name[SEG_NAME_LEN + 1];
    uint8_t *data;
    size_t len;
    seg_name(name, sizeof(name), g->first);
    int rc = read_file(s->dirfd, name, &data, &len);
    if (rc)
        return rc;
    struct count_ctx c = {g};
    memset(g->n, 0, sizeof(g->n));
    g->last = 0;
    agent_spool_scan_mem(data, len, count_cb, &c, NULL, NULL);
    g->counted = true;
    bn_free(data);
    return 0;
}

/* Creates a new empty segment named first and makes it the active one. */
static int
new_active(struct agent_spool *s, uint64_t first)
{
    char name[SEG_NAME_LEN + 1];
    uint8_t h[AGENT_SPOOL_FILE_HDR];
    int rc;
    seg_name(name, sizeof(name), first);
    int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    file_header(h);
    if ((rc = bn_write_all(fd, h, sizeof(h))) || (rc = push_seg(s, first, sizeof(h)))) {
        close(fd);
        unlinkat(s->dirfd, name, 0);
        return rc;
    }
    s->segs[s->nsegs - 1].counted = true;
    if (s->afd >= 0)
        close(s->afd);
    s->afd = fd;
    return sync_dir(s);
}

/* Closes the active segment (synced) and starts a new one at next_seq. */
static int
roll(struct agent_spool *s)
{
    int rc = agent_spool_sync(s);
    if (rc)
        return rc;
    return new_active(s, s->next_seq);
}

/* ---- open / close ------------------------------------------------------------------ */

void
agent_spool_opts_init(struct agent_spool_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->max_bytes = AGENT_SPOOL_MAX_DEFAULT;
    o->segment_bytes = AGENT_SPOOL_SEGMENT_DEFAULT;
    o->sync_every = AGENT_SPOOL_SYNC_EVERY_DEFAULT;
    o->sync_ms = AGENT_SPOOL_SYNC_MS_DEFAULT;
}

static int
cmp_seg(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int
read_ack(struct agent_spool *s)
{
    char buf[32];
    int fd = openat(s->dirfd, "ack", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf || (*end != '\n' && *end != '\0')) {
        BN_WARN(MOD, "ignoring unreadable ack file in '%s'", s->dir);
        return 0;
    }
    s->acked = v;
    return 0;
}

static int
write_ack(struct agent_spool *s)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", s->acked);
    int fd = openat(s->dirfd, "ack.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = bn_write_all(fd, buf, (size_t)n);
    if (!rc && fdatasync(fd) < 0)
        rc = -errno;
    close(fd);
    if (!rc && renameat(s->dirfd, "ack.tmp", s->dirfd, "ack") < 0)
        rc = -errno;
    return rc;
}

/* Deletes every segment but the active one whose records are all acknowledged. */
static int
drop_acked(struct agent_spool *s)
{
    int rc = 0;
    bool any = false;
    while (s->nsegs > 1 && s->segs[1].first <= s->acked + 1) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, sizeof(name), s->segs[0].first);
        if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT) {
            rc = -errno;
            break;
        }
        remove_seg(s, 0);
        any = true;
    }
    if (any && !rc)
        rc = sync_dir(s);
    return rc;
}

/* Recovers the newest segment: counts it, truncates a torn tail, finds the last seq. */
static int
recover_active(struct agent_spool *s)
{
    struct seg *g = &s->segs[s->nsegs - 1];
    char name[SEG_NAME_LEN + 1];
    uint8_t *data = NULL;
    size_t len, good_end;
    int rc, fd = -1;

    seg_name(name, sizeof(name), g->first);
    if ((rc = read_file(s->dirfd, name, &data, &len)))
        goto out;
    struct count_ctx c = {g};
    /* Damaged records in the middle are left for the reader to skip and count. */
    agent_spool_scan_mem(data, len, count_cb, &c, NULL, &good_end);
    g->counted = true;
    fd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (len < AGENT_SPOOL_FILE_HDR) {
        /* Created but its header never made it: start the file over. */
        uint8_t h[AGENT_SPOOL_FILE_HDR];
        file_header(h);
        if (ftruncate(fd, 0) < 0) {
            rc = -errno;
            goto out;
        }
        if ((rc = bn_write_all(fd, h, sizeof(h))))
            goto out;
        good_end = sizeof(h);
    } else if (good_end < len) {
        BN_WARN(MOD, "truncating torn record at offset %zu of '%s/%s'", good_end, s->dir, name);
        if (ftruncate(fd, (off_t)good_end) < 0) {
            rc = -errno;
            goto out;
        }
        s->st.torn++;
        /* Never reuse the seq of a torn record whose header made it to disk. */
        if (len - good_end >= 16 && memcmp(data + good_end, rec_magic, 4) == 0 &&
            get64(data + good_end + 8) == BN_MAX(g->first, g->last + 1))
            g->last = get64(data + good_end + 8);
    }
    if (fdatasync(fd) < 0) {
        rc = -errno;
        goto out;
    }
    s->total -= g->bytes;
    g->bytes = good_end;
    s->total += g->bytes;
    s->afd = fd;
    fd = -1;
    s->next_seq = BN_MAX(g->first, g->last + 1);
out:
    if (fd >= 0)
        close(fd);
    bn_free(data);
    return rc;
}

int
agent_spool_open(struct agent_spool **out, const struct agent_spool_opts *o)
{
    struct agent_spool *s = NULL;
    DIR *dh = NULL;
    int rc = 0;

    *out = NULL;
    if (!o || !o->dir || !o->dir[0])
        return BN_EINVAL;
    s = bn_calloc(1, sizeof(*s));
    if (!s)
        return BN_ENOMEM;
    s->dirfd = s->afd = -1;
    s->o = *o;
    if (!s->o.max_bytes)
        s->o.max_bytes = AGENT_SPOOL_MAX_DEFAULT;
    if (!s->o.segment_bytes)
        s->o.segment_bytes = AGENT_SPOOL_SEGMENT_DEFAULT;
    if (s->o.segment_bytes > s->o.max_bytes / 4) /* shed at most a quarter at once */
        s->o.segment_bytes = (uint32_t)(s->o.max_bytes / 4);
    if (s->o.segment_bytes < AGENT_SPOOL_SEGMENT_MIN)
        s->o.segment_bytes = AGENT_SPOOL_SEGMENT_MIN;
    if (s->o.max_bytes < 2 * AGENT_SPOOL_SEGMENT_MIN) {
        rc = BN_EINVAL;
        goto out;
    }
    if (!s->o.sync_every)
        s->o.sync_every = AGENT_SPOOL_SYNC_EVERY_DEFAULT;
    if (!s->o.sync_ms)
        s->o.sync_ms = AGENT_SPOOL_SYNC_MS_DEFAULT;
    if (!(s->dir = bn_strdup(o->dir))) {
        rc = BN_ENOMEM;
        goto out;
    }
    s->o.dir = s->dir;
    if (mkdir(s->dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        goto out;
    }
    if ((s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = read_ack(s)))
        goto out;

    int dfd = dup(s->dirfd);
    if (dfd < 0 || !(dh = fdopendir(dfd))) {
        rc = -errno;
        if (dfd >= 0)
            close(dfd);
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(dh))) {
        uint64_t first;
        size_t nl = strlen(de->d_name);
        if (nl > 4 && memcmp(de->d_name + nl - 4, ".tmp", 4) == 0) {
            unlinkat(s->dirfd, de->d_name, 0); /* an interrupted compaction or ack */
            continue;
        }
        if (!parse_seg_name(de->d_name, &first))
            continue;
        struct stat sb;
        if (fstatat(s->dirfd, de->d_name, &sb, 0) < 0) {
            rc = -errno;
            goto out;
        }
        if ((rc = push_seg(s, first, (uint64_t)sb.st_size)))
            goto out;
    }
    if (s->nsegs)
        qsort(s->segs, s->nsegs, sizeof(s->segs[0]), cmp_seg);

    if (s->nsegs) {
        if ((rc = recover_active(s)))
            goto out;
    } else {
        s->next_seq = 1;
    }
    if (s->next_seq <= s->acked)
        s->next_seq = s->acked + 1;
    if (!s->nsegs && (rc = new_active(s, s->next_seq)))
        goto out;
    if ((rc = drop_acked(s)))
        goto out;
    s->synced_seq = s->next_seq - 1;
    s->rd_seq = s->acked;
    s->last_sync_ms = now_ms(s);
    *out = s;
    s = NULL;
out:
    if (dh)
        closedir(dh);
    agent_spool_close(s);
    return rc;
}

void
agent_spool_close(struct agent_spool *s)
{
    if (!s)
        return;
    if (s->afd >= 0) {
        if (s->pending)
            fdatasync(s->afd);
        close(s->afd);
    }
    if (s->dirfd >= 0)
        close(s->dirfd);
    bn_free(s->rd_data);
    bn_free(s->segs);
    bn_free(s->dir);
    bn_free(s);
}

/* ---- append, sync, shed ------------------------------------------------------------ */

int
agent_spool_sync(struct agent_spool *s)
{
    if (s->pending) {
        if (fdatasync(s->afd) < 0)
            return -errno;
        s->st.syncs++;
    }
    s->pending = 0;
    s->synced_seq = s->next_seq - 1;
    s->last_sync_ms = now_ms(s);
    return 0;
}

int
agent_spool_tick(struct agent_spool *s)
{
    if (s->pending && s->o.sync_ms != UINT32_MAX &&
        now_ms(s) - s->last_sync_ms >= (int64_t)s->o.sync_ms)
        return agent_spool_sync(s);
    return 0;
}

struct compact_ctx {
    struct agent_spool *s;
    struct seg *g;
    enum agent_prio drop;
    uint8_t *out;
    size_t len;
};

static int
compact_cb(void *ctx, const struct agent_spool_rec *r, size_t off)
{
    struct compact_ctx *c = ctx;
    if (r->seq <= c->s->acked)
        return 0; /* already delivered: free to go */
    if (r->prio == c->drop) {
        c->s->st.dropped[r->prio]++;
        return 0;
    }
    /* Copy header and payload as they are (the CRC stays valid). */
    size_t n = AGENT_SPOOL_REC_HDR + r->len;
    memcpy(c->out + c->len, (const uint8_t *)r->data - AGENT_SPOOL_REC_HDR, n);
    c->len += n;
    c->g->n[r->prio]++;
    c->g->last = BN_MAX(c->g->last, r->seq);
    return 0;
}

/* Rewrites segment i (not the active one) without its records of priority p. */
static int
compact(struct agent_spool *s, size_t i, enum agent_prio p)
{
    char name[SEG_NAME_LEN + 1], tmp[SEG_NAME_LEN + 8];
    uint8_t *data = NULL;
    size_t len;
    int rc, fd = -1;
    struct seg *g = &s->segs[i];
    struct compact_ctx c = {s, g, p, NULL, 0};

    seg_name(name, sizeof(name), g->first);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    if ((rc = read_file(s->dirfd, name, &data, &len)))
        goto out;
    if (!(c.out = bn_malloc(len + AGENT_SPOOL_FILE_HDR))) {
        rc = BN_ENOMEM;
        goto out;
    }
    file_header(c.out);
    c.len = AGENT_SPOOL_FILE_HDR;
    uint64_t before[AGENT_SPOOL_PRIOS];
    memcpy(before, s->st.dropped, sizeof(before));
    memset(g->n, 0, sizeof(g->n));
    g->last = 0;
    g->counted = true;
    agent_spool_scan_mem(data, len, compact_cb, &c, &s->st.corrupt, NULL);
    s->st.compactions++;
    if (c.len == AGENT_SPOOL_FILE_HDR) {
        if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT) {
            rc = -errno;
            memcpy(s->st.dropped, before, sizeof(before));
            goto out;
        }
        remove_seg(s, i);
        rc = sync_dir(s);
        goto out;
    }
    fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (rc = bn_write_all(fd, c.out, c.len)) || fdatasync(fd) < 0 ||
        renameat(s->dirfd, tmp, s->dirfd, name) < 0) {
        if (!rc)
            rc = -errno;
        unlinkat(s->dirfd, tmp, 0);
        memcpy(s->st.dropped, before, sizeof(before));
        g->counted = false;
        goto out;
    }
    s->total -= g->bytes;
    g->bytes = c.len;
    s->total += g->bytes;
    g->gen++;
    rc = sync_dir(s);
out:
    if (fd >= 0)
        close(fd);
    bn_free(c.out);
    bn_free(data);
    return rc;
}

/* Frees room by dropping the oldest segment's worth of the lowest class up to maxp.
 * Returns 0 after progress, BN_DECLINED if nothing may be shed, or an error. */
static int
shed_one(struct agent_spool *s, enum agent_prio maxp)
{
    int rc;
    for (int p = 0; p <= (int)maxp; p++) {
        for (size_t i = 0; i < s->nsegs; i++) {
            struct seg *g = &s->segs[i];
            if (!g->counted && (rc = count_seg(s, g)))
                return rc;
            if (!g->n[p])
                continue;
            if (i == s->nsegs - 1 && (rc = roll(s)))
                return rc;
            return compact(s, i, (enum agent_prio)p);
        }
    }
    return BN_DECLINED;
}

/* True if the count or the time policy asks for a sync now. */
static bool
sync_due(struct agent_spool *s)
{
    return (s->o.sync_every != UINT32_MAX && s->pending >= s->o.sync_every) ||
           (s->o.sync_ms != UINT32_MAX && now_ms(s) - s->last_sync_ms >= (int64_t)s->o.sync_ms);
}

/* Checks record (len, prio) and makes room for it exactly as one append does: rolls the
 * active segment when it would overflow, sheds lower classes over the bound. Returns 0 when
 * the record may be written at the end of the active segment, BN_ETOOBIG (refused and
 * counted), BN_EINVAL or -errno. */
static int
make_room(struct agent_spool *s, const void *data, size_t len, enum agent_prio prio)
{
    int rc;
    if ((unsigned)prio >= AGENT_SPOOL_PRIOS || (len && !data))
        return BN_EINVAL;
    uint64_t need = AGENT_SPOOL_REC_HDR + (uint64_t)len;
    if (len > AGENT_SPOOL_RECORD_MAX || need + 2 * AGENT_SPOOL_FILE_HDR > s->o.max_bytes) {
        s->st.dropped[prio]++;
        return BN_ETOOBIG;
    }
    struct seg *g = &s->segs[s->nsegs - 1];
    if (g->bytes > AGENT_SPOOL_FILE_HDR && g->bytes + need > s->o.segment_bytes &&
        (rc = roll(s)))
        return rc;
    while (s->total + need > s->o.max_bytes) {
        rc = shed_one(s, prio);
        if (rc == BN_DECLINED) {
            s->st.dropped[prio]++;
            return BN_ETOOBIG;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Writes iov[0..cnt) whole (short writes continue where they stopped). iov is modified. */
static int
writev_all(int fd, struct iovec *iov, int cnt, size_t *written)
{
    *written = 0;
    while (cnt > 0) {
        ssize_t w = writev(fd, iov, cnt);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        *written += (size_t)w;
        size_t left = (size_t)w;
        while (cnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

int
agent_spool_append_many(struct agent_spool *s, const struct iovec *payloads,
                        const enum agent_prio *prios, size_t n, uint64_t *first_seq,
                        size_t *done)
{
    int rc = 0;
    size_t i = 0;

    if (first_seq)
        *first_seq = s->next_seq;
    if (done)
        *done = 0;
    if (n && (!payloads || !prios))
        return BN_EINVAL;
    while (i < n) {
        /* The first record of a chunk gets what a single append does: checks, roll, shed. */
        if ((rc = make_room(s, payloads[i].iov_base, payloads[i].iov_len, prios[i])))
            break;
        struct seg *g = &s->segs[s->nsegs - 1];
        /* The time policy is read once per chunk: if it is due now, a single append would
         * sync right after this record, so the chunk is this record alone. */
        bool time_due = s->o.sync_ms != UINT32_MAX &&
                        now_ms(s) - s->last_sync_ms >= (int64_t)s->o.sync_ms;
        uint64_t acc = 0; /* bytes of the chunk */
        size_t k = 0;     /* records in the chunk */
        for (;;) {
            const struct iovec *p = &payloads[i + k];
            size_t len = p->iov_len;
            uint64_t need = AGENT_SPOOL_REC_HDR + (uint64_t)len;
            if (k) {
                /* A later record joins only if a single append would write it straight
                 * away: valid, no roll, no shedding, no sync before it. */
                if ((unsigned)prios[i + k] >= AGENT_SPOOL_PRIOS || (len && !p->iov_base) ||
                    len > AGENT_SPOOL_RECORD_MAX ||
                    need + 2 * AGENT_SPOOL_FILE_HDR > s->o.max_bytes ||
                    g->bytes + acc + need > s->o.segment_bytes ||
                    s->total + acc + need > s->o.max_bytes)
                    break;
            }
            uint8_t *h = s->hdrs + k * AGENT_SPOOL_REC_HDR;
            rec_header(h, s->next_seq + k, prios[i + k], p->iov_base, len);
            s->iov[2 * k].iov_base = h;
            s->iov[2 * k].iov_len = AGENT_SPOOL_REC_HDR;
            s->iov[2 * k + 1].iov_base = p->iov_base;
            s->iov[2 * k + 1].iov_len = len;
            acc += need;
            k++;
            if (i + k == n || k == SPOOL_CHUNK_RECS || time_due ||
                (s->o.sync_every != UINT32_MAX && s->pending + k >= s->o.sync_every))
                break;
        }
        size_t written;
        rc = writev_all(s->afd, s->iov, (int)(2 * k), &written);
        if (rc) {
            /* Take a partial chunk back out so the file stays whole. */
            if (written && ftruncate(s->afd, (off_t)g->bytes) < 0)
                BN_ERROR(MOD, "cannot truncate a partial write in '%s'", s->dir);
            break;
        }
        g->bytes += acc;
        s->total += acc;
        for (size_t j = 0; j < k; j++)
            g->n[prios[i + j]]++;
        s->next_seq += k;
        g->last = s->next_seq - 1;
        s->st.appended += k;
        s->pending += (uint32_t)k;
        i += k;
        if (done)
            *done = i;
        if (sync_due(s) && (rc = agent_spool_sync(s)))
            break;
    }
    return rc;
}

int
agent_spool_append(struct agent_spool *s, const void *data, size_t len, enum agent_prio prio,
                   uint64_t *seq)
{
    struct iovec iov = {(void *)data, len};
    uint64_t first;
    size_t done;
    if (seq)
        *seq = 0;
    int rc = agent_spool_append_many(s, &iov, &prio, 1, &first, &done);
    if (done && seq)
        *seq = first;
    return rc;
}

/* ---- reader and ack ---------------------------------------------------------------- */

/* Loads (or extends, for the growing active segment) the reader's copy of segment g. */
static int
rd_load(struct agent_spool *s, const struct seg *g)
{
    char name[SEG_NAME_LEN + 1];
    int rc = 0;
    bool fresh = s->rd_first != g->first || s->rd_gen != g->gen;
    size_t from = fresh ? 0 : s->rd_len;
    if (!fresh && g->bytes <= s->rd_len)
        return 0;
    if (g->bytes > (uint64_t)SIZE_MAX / 2)
        return BN_ETOOBIG;
    size_t want = (size_t)g->bytes;
    if (want > s->rd_cap) {
        uint8_t *n = bn_realloc(s->rd_data, want);
        if (!n)
            return BN_ENOMEM;
        s->rd_data = n;
        s->rd_cap = want;
    }
    seg_name(name, sizeof(name), g->first);
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = from;
    while (got < want) {
        ssize_t r = pread(fd, s->rd_data + got, want - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (rc) {
        s->rd_first = 0;
        return rc;
    }
    if (fresh) {
        s->rd_first = g->first;
        s->rd_gen = g->gen;
        s->rd_off = BN_MIN(got, (size_t)AGENT_SPOOL_FILE_HDR);
    }
    s->rd_len = got;
    return 0;
}

int
agent_spool_next(struct agent_spool *s, struct agent_spool_rec *rec)
{
    int rc;
    memset(rec, 0, sizeof(*rec));
    if (s->rd_seq < s->acked)
        s->rd_seq = s->acked;
    for (;;) {
        size_t i = 0;
        struct seg *g = s->rd_first ? find_seg(s, s->rd_first, &i) : NULL;
        if (!g) {
            /* Start from the last segment that can hold rd_seq + 1. */
            i = 0;
            for (size_t j = 0; j < s->nsegs; j++)
                if (s->segs[j].first <= s->rd_seq + 1)
                    i = j;
            g = &s->segs[i];
            s->rd_first = 0;
        }
        if ((rc = rd_load(s, g)))
            return rc;
        while (s->rd_off < s->rd_len) {
            struct agent_spool_rec r;
            size_t next;
            if (parse_at(s->rd_data, s->rd_len, s->rd_off, &r, &next)) {
                s->rd_off = next;
                if (r.seq <= s->rd_seq)
                    continue;
                s->rd_seq = r.seq;
                *rec = r;
                return 0;
            }
            size_t q = resync(s->rd_data, s->rd_len, s->rd_off + 1);
            s->st.corrupt++;
            BN_WARN(MOD, "skipping damaged record at offset %zu of segment %" PRIu64 " in '%s'",
                    s->rd_off, g->first, s->dir);
            s->rd_off = q;
        }
        if (i == s->nsegs - 1)
            return BN_EOF;
        s->rd_first = s->segs[i + 1].first;
        s->rd_gen = s->segs[i + 1].gen + 1; /* force a fresh load */
    }
}

void
agent_spool_rewind(struct agent_spool *s, uint64_t seq)
{
    s->rd_seq = seq;
    s->rd_first = 0;
}

int
agent_spool_ack(struct agent_spool *s, uint64_t seq)
{
    int rc;
    if (seq >= s->next_seq)
        seq = s->next_seq - 1;
    if (seq <= s->acked)
        return 0;
    s->acked = seq;
    if ((rc = write_ack(s)))
        return rc;
    return drop_acked(s);
}

void
agent_spool_stats(const struct agent_spool *s, struct agent_spool_stats *st)
{
    *st = s->st;
    st->bytes = s->total;
    st->segments = s->nsegs;
    st->next_seq = s->next_seq;
    st->synced_seq = s->synced_seq;
    st->acked_seq = s->acked;
}
