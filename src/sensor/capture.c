/*
 * capture.c - frames from libpcap: pcap and pcapng files, live interfaces with an optional
 * BPF filter. Timestamps are asked for in nanoseconds. Live capture uses a 64 MB kernel ring
 * and a 100 ms read timeout so the caller's loop can tick flow timeouts while idle; the
 * kernel's drop counters are reported (net_capture_kstats) because a sensor that drops must
 * say so.
 *
 * Classic pcap files (version 2.4, either byte order, micro- or nanosecond magic) are read
 * here, not by libpcap's reader: libpcap still opens the file and checks its header (link
 * type, snapshot length), but the records come from 256 KiB read()s into one buffer, each
 * frame borrowed where it lies (libpcap does two stdio reads and a copy per packet: 8% of
 * `bannin pcap`'s time). Records are judged as libpcap judges them: a captured length over
 * NET_SNAPLEN is an error, one over the file's snapshot length is cut to it, a record cut
 * short by the end of the file is an error (BN_EIO) after the frames before it. pcapng,
 * other versions, files with a BPF filter and anything but a regular file (a FIFO) go
 * through libpcap.
 */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "sensor/sensor.h"

#define FILE_BUF (1u << 20)     /* the fast reader's buffer: a record is <= 256 KiB + 16 */
#define READ_CHUNK (256u << 10) /* bytes per read(): the frames are parsed while the kernel's
                                 * copy of them is still in the L2 cache (with 4 MiB reads the
                                 * first touch of each payload was a cache miss) */
#define REC_HDR  16u

struct net_capture {
    pcap_t *pc;
    bool live;
    bool nano;
    volatile int stop;
    /* fast reader of classic pcap files (fd >= 0) */
    int fd;
    bool swap;                   /* the file's byte order is not ours */
    bool file_nano;              /* nanosecond magic */
    bool eof;                    /* read() returned 0 */
    uint32_t snap;               /* the file's snapshot length, as libpcap adjusted it */
    uint8_t *buf;
    size_t off, len;             /* unread bytes: buf[off..len) */
    uint64_t nrec;               /* records returned */
    size_t ahead_off;            /* next record not yet shown to the look-ahead hook */
    uint64_t ahead_seq;          /* and its number */
};

/* The look-ahead hook of this thread (net_capture_set_ahead). */
static _Thread_local net_capture_ahead_fn g_ahead_fn;
static _Thread_local void *g_ahead_ctx;
static _Thread_local unsigned g_ahead_dist;

void
net_capture_set_ahead(net_capture_ahead_fn fn, void *ctx, unsigned distance)
{
    g_ahead_fn = fn;
    g_ahead_ctx = ctx;
    g_ahead_dist = distance;
}

void *
net_capture_ahead_ctx(void)
{
    return g_ahead_ctx;
}

static uint32_t
rd32(const uint8_t *p, bool swap)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* Sets up the fast reader when path is a classic pcap 2.4 file; otherwise leaves fd -1. */
static void
fast_open(struct net_capture *c, const char *path)
{
    uint8_t h[24];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO: no wait for a writer */

    struct stat mine, theirs;
    FILE *pf = pcap_file(c->pc);

    if (fd < 0)
        return;
    /* a regular file, the one libpcap opened (a FIFO would lose the bytes read here) */
    if (!pf || fstat(fd, &mine) != 0 || fstat(fileno(pf), &theirs) != 0 ||
        !S_ISREG(mine.st_mode) || mine.st_dev != theirs.st_dev || mine.st_ino != theirs.st_ino)
        goto no;
    if (read(fd, h, sizeof(h)) != (ssize_t)sizeof(h))
        goto no;
    uint32_t magic;
    memcpy(&magic, h, 4);
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
        c->swap = false;
    } else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
        c->swap = true;
        magic = __builtin_bswap32(magic);
    } else {
        goto no; /* pcapng, Kuznetzov's modified pcap, ...: libpcap */
    }
    uint16_t major, minor;
    memcpy(&major, h + 4, 2);
    memcpy(&minor, h + 6, 2);
    if (c->swap) {
        major = __builtin_bswap16(major);
        minor = __builtin_bswap16(minor);
    }
    if (major != 2 || minor != 4)
        goto no; /* older versions have per-record quirks libpcap knows */
    int snap = pcap_snapshot(c->pc);
    if (snap <= 0)
        goto no;
    c->buf = bn_malloc(FILE_BUF);
    if (!c->buf)
        goto no;
    c->file_nano = magic == 0xa1b23c4du;
    c->snap = (uint32_t)snap;
    c->fd = fd;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return;
no:
    close(fd);
}

/* Makes buf[off..) hold at least want bytes if the file has them. 0 or BN_EIO. */
static int
fast_fill(struct net_capture *c, size_t want)
{
    if (c->len - c->off >= want || c->eof)
        return 0;
    memmove(c->buf, c->buf + c->off, c->len - c->off);
    c->len -= c->off;
    c->ahead_off = c->ahead_off >= c->off ? c->ahead_off - c->off : 0;
    c->off = 0;
    while (c->len < want && !c->eof) {
        ssize_t r = read(c->fd, c->buf + c->len, BN_MIN(FILE_BUF - c->len, READ_CHUNK));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return BN_EIO;
        }
        if (r == 0)
            c->eof = true;
        c->len += (size_t)r;
    }
    return 0;
}

/* Shows the hook the records up to g_ahead_dist past the one just returned, as far as they
 * are already in the buffer (each once, in order; none is read for it). */
static void
show_ahead(struct net_capture *c)
{
    uint64_t target = c->nrec + g_ahead_dist;

    if (c->ahead_seq <= c->nrec || c->ahead_off < c->off) {
        c->ahead_off = c->off;
        c->ahead_seq = c->nrec + 1;
    }
    while (c->ahead_seq <= target && c->ahead_off + REC_HDR <= c->len) {
        const uint8_t *h = c->buf + c->ahead_off;
        uint32_t cl = rd32(h + 8, c->swap);
        if (cl > NET_SNAPLEN || c->ahead_off + REC_HDR + cl > c->len)
            break;
        g_ahead_fn(g_ahead_ctx, c->ahead_seq, h + REC_HDR, cl > c->snap ? c->snap : cl);
        c->ahead_off += REC_HDR + cl;
        c->ahead_seq++;
    }
}

static int
fast_next(struct net_capture *c, const uint8_t **data, uint32_t *caplen, uint32_t *wirelen,
          uint64_t *ts_ns)
{
    size_t have = c->len - c->off;
    uint32_t cl;

    /* the common case, a whole record in the buffer, needs no fill (both would return at
     * once); otherwise fill and judge step by step */
    if (have < REC_HDR || (cl = rd32(c->buf + c->off + 8, c->swap)) > NET_SNAPLEN ||
        have - REC_HDR < cl) {
        if (fast_fill(c, REC_HDR) != 0)
            return BN_EIO;
        have = c->len - c->off;
        if (have == 0)
            return BN_EOF;
        if (have < REC_HDR)
            return BN_EIO; /* a record header cut short */
        cl = rd32(c->buf + c->off + 8, c->swap);
        if (cl > NET_SNAPLEN)
            return BN_EIO; /* libpcap: "invalid packet capture length" */
        if (fast_fill(c, REC_HDR + cl) != 0 || c->len - c->off < REC_HDR + cl)
            return BN_EIO; /* the last record cut short */
    }
    const uint8_t *h = c->buf + c->off;
    uint32_t sec = rd32(h, c->swap), frac = rd32(h + 4, c->swap), wl = rd32(h + 12, c->swap);
    *data = h + REC_HDR;
    c->off += REC_HDR + cl;
    c->nrec++;
    *caplen = cl > c->snap ? c->snap : cl; /* libpcap hands on the snapshot length only */
    *wirelen = wl;
    /* as libpcap 1.10 reads them: signed 32-bit fields in our byte order, unsigned when it
     * swapped them (values past 2^31 only occur in damaged or crafted files) */
    uint64_t s64 = c->swap ? sec : (uint64_t)(int64_t)(int32_t)sec;
    uint64_t f64 = c->swap ? frac : (uint64_t)(int64_t)(int32_t)frac;
    *ts_ns = s64 * 1000000000ull + f64 * (c->file_nano ? 1u : 1000u);
    /* last: nothing of this record stays live across the hook's call */
    if (g_ahead_fn)
        show_ahead(c);
    return 1;
}

static int
finish_open(struct net_capture *c, char *err, size_t errsz)
{
    int lt = pcap_datalink(c->pc);

    if (!net_link_supported(lt)) {
        snprintf(err, errsz, "link type %d (%s) is not supported", lt,
                 pcap_datalink_val_to_name(lt) ? pcap_datalink_val_to_name(lt) : "?");
        return BN_EUNSUP;
    }
    return 0;
}

int
net_capture_open_file(struct net_capture **out, const char *path, char *err, size_t errsz)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct net_capture *c;
    int rc;

    *out = NULL;
    c = bn_calloc(1, sizeof(*c));
    if (!c)
        return BN_ENOMEM;
    c->fd = -1;
    c->pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!c->pc) {
        snprintf(err, errsz, "cannot open '%s': %s", path, ebuf);
        bn_free(c);
        return BN_EIO;
    }
    c->nano = pcap_get_tstamp_precision(c->pc) == PCAP_TSTAMP_PRECISION_NANO;
    rc = finish_open(c, err, errsz);
    if (rc) {
        net_capture_close(c);
        return rc;
    }
    if (c->nano && !getenv("BN_CAPTURE_LIBPCAP")) /* the variable: tests compare the two */
        fast_open(c, path);
    *out = c;
    return 0;
}

int
net_capture_open_live(struct net_capture **out, const char *iface, char *err, size_t errsz)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct net_capture *c;
    int rc;

    *out = NULL;
    c = bn_calloc(1, sizeof(*c));
    if (!c)
        return BN_ENOMEM;
    c->fd = -1;
    c->live = true;
    c->pc = pcap_create(iface, ebuf);
    if (!c->pc) {
        snprintf(err, errsz, "cannot capture on '%s': %s", iface, ebuf);
        bn_free(c);
        return BN_EIO;
    }
    pcap_set_snaplen(c->pc, NET_SNAPLEN);
    pcap_set_promisc(c->pc, 1);
    pcap_set_timeout(c->pc, 100);
    pcap_set_buffer_size(c->pc, (int)NET_CAPTURE_BUFFER);
    pcap_set_tstamp_precision(c->pc, PCAP_TSTAMP_PRECISION_NANO);
    rc = pcap_activate(c->pc);
    if (rc < 0) {
        snprintf(err, errsz, "cannot capture on '%s': %s", iface, pcap_geterr(c->pc));
        net_capture_close(c);
        return BN_EIO;
    }
    c->nano = pcap_get_tstamp_precision(c->pc) == PCAP_TSTAMP_PRECISION_NANO;
    rc = finish_open(c, err, errsz);
    if (rc) {
        net_capture_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int
net_capture_filter(struct net_capture *c, const char *filter, char *err, size_t errsz)
{
    struct bpf_program prog;

    if (c->fd >= 0) {
        /* filtered files go through libpcap (called before the first frame: libpcap is
         * still at the first record) */
        close(c->fd);
        c->fd = -1;
        bn_free(c->buf);
        c->buf = NULL;
    }
    if (pcap_compile(c->pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errsz, "bad filter '%s': %s", filter, pcap_geterr(c->pc));
        return BN_EINVAL;
    }
    if (pcap_setfilter(c->pc, &prog) != 0) {
        snprintf(err, errsz, "cannot set filter '%s': %s", filter, pcap_geterr(c->pc));
        pcap_freecode(&prog);
        return BN_EINVAL;
    }
    pcap_freecode(&prog);
    return 0;
}

int
net_capture_linktype(const struct net_capture *c)
{
    return pcap_datalink(c->pc);
}

int
net_capture_next(struct net_capture *c, const uint8_t **data, uint32_t *caplen,
                 uint32_t *wirelen, uint64_t *ts_ns)
{
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc;

    if (c->stop)
        return BN_EOF;
    if (c->fd >= 0)
        return fast_next(c, data, caplen, wirelen, ts_ns);
    rc = pcap_next_ex(c->pc, &h, &d);
    if (rc == 1) {
        *data = d;
        *caplen = h->caplen;
        *wirelen = h->len;
        *ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
                 (uint64_t)h->ts.tv_usec * (c->nano ? 1u : 1000u);
        return 1;
    }
    if (rc == 0)
        return 0;
    if (rc == PCAP_ERROR_BREAK)
        return BN_EOF;
    return BN_EIO;
}

void
net_capture_break(struct net_capture *c)
{
    c->stop = 1;
    pcap_breakloop(c->pc);
}

void
net_capture_kstats(struct net_capture *c, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop)
{
    struct pcap_stat ps;

    *recv = *drop = *ifdrop = 0;
    if (!c->live || pcap_stats(c->pc, &ps) != 0)
        return;
    *recv = ps.ps_recv;
    *drop = ps.ps_drop;
    *ifdrop = ps.ps_ifdrop;
}

void
net_capture_close(struct net_capture *c)
{
    if (!c)
        return;
    if (c->pc)
        pcap_close(c->pc);
    if (c->fd >= 0)
        close(c->fd);
    bn_free(c->buf);
    bn_free(c);
}
