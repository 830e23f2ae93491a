/*
 * test_decode_pcapfile.c - capture.c's own reader of classic pcap files gives exactly what
 * libpcap's reader gives (BN_CAPTURE_LIBPCAP=1 selects libpcap's): frames, lengths,
 * timestamps and the return codes, in both byte orders, micro- and nanosecond files, a
 * record longer than the snapshot length (cut to it), one over 256 KiB (an error), a record
 * or a record header cut short at the end, an empty file, records that straddle the reader's
 * buffer and its 256 KiB reads, a BPF filter, and a FIFO (left to libpcap); a file that grows
 * while it is read (the end cut inside a record, the rest written after the first frame was
 * read) gives every frame all the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "sensor/sensor.h"

struct w {
    FILE *fp;
    bool swap;
};

static void
w32(struct w *w, uint32_t v)
{
    if (w->swap)
        v = __builtin_bswap32(v);
    assert_int_equal(fwrite(&v, 4, 1, w->fp), 1);
}

static void
w16(struct w *w, uint16_t v)
{
    if (w->swap)
        v = __builtin_bswap16(v);
    assert_int_equal(fwrite(&v, 2, 1, w->fp), 1);
}

static void
header(struct w *w, bool nano, uint32_t snap)
{
    w32(w, nano ? 0xa1b23c4du : 0xa1b2c3d4u);
    w16(w, 2);
    w16(w, 4);
    w32(w, 0);
    w32(w, 0);
    w32(w, snap);
    w32(w, 1); /* Ethernet */
}

/* An Ethernet + IPv4 + UDP frame of n bytes (n >= 42), payload bytes from seed. */
static void
record(struct w *w, uint32_t sec, uint32_t frac, uint32_t n, uint32_t wire, uint8_t seed)
{
    uint8_t *f = bn_calloc(1, n);
    assert_non_null(f);
    memset(f, 0x11, 12);
    f[12] = 0x08;
    f[14] = 0x45;
    f[16] = (uint8_t)((n - 14) >> 8);
    f[17] = (uint8_t)(n - 14);
    f[22] = 64;
    f[23] = 17;
    f[26] = 10, f[29] = 1, f[30] = 10, f[33] = 2;
    f[34] = 0x30, f[35] = seed, f[36] = 0x00, f[37] = 53;
    f[38] = (uint8_t)((n - 34) >> 8);
    f[39] = (uint8_t)(n - 34);
    for (uint32_t i = 42; i < n; i++)
        f[i] = (uint8_t)(seed + i);
    w32(w, sec);
    w32(w, frac);
    w32(w, n);
    w32(w, wire);
    assert_int_equal(fwrite(f, 1, n, w->fp), n);
    bn_free(f);
}

struct frame {
    int rc;
    uint32_t caplen, wirelen;
    uint64_t ts;
    uint64_t sum; /* of the bytes */
};

/* Reads the whole file with one reader; returns the number of results (last = non-1). */
static size_t
read_all(const char *path, bool libpcap, const char *filter, struct frame *out, size_t max)
{
    struct net_capture *c = NULL;
    char err[256];
    size_t n = 0;

    if (libpcap)
        setenv("BN_CAPTURE_LIBPCAP", "1", 1);
    else
        unsetenv("BN_CAPTURE_LIBPCAP");
    assert_int_equal(net_capture_open_file(&c, path, err, sizeof(err)), 0);
    if (filter)
        assert_int_equal(net_capture_filter(c, filter, err, sizeof(err)), 0);
    for (;;) {
        const uint8_t *d;
        struct frame fr = {0};
        fr.rc = net_capture_next(c, &d, &fr.caplen, &fr.wirelen, &fr.ts);
        if (fr.rc == 1)
            for (uint32_t i = 0; i < fr.caplen; i++)
                fr.sum = fr.sum * 31 + d[i];
        assert_true(n < max);
        out[n++] = fr;
        if (fr.rc != 1)
            break;
    }
    net_capture_close(c);
    unsetenv("BN_CAPTURE_LIBPCAP");
    return n;
}

static size_t
compare(const char *path, const char *filter)
{
    static struct frame a[4096], b[4096];
    size_t na = read_all(path, false, filter, a, 4096);
    size_t nb = read_all(path, true, filter, b, 4096);

    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(a[i].rc, b[i].rc);
        assert_int_equal(a[i].caplen, b[i].caplen);
        assert_int_equal(a[i].wirelen, b[i].wirelen);
        assert_int_equal(a[i].ts, b[i].ts);
        assert_int_equal(a[i].sum, b[i].sum);
    }
    return na;
}

static char g_path[64];

static struct w
start(bool swap, bool nano, uint32_t snap)
{
    struct w w = {NULL, swap};
    int fd;

    snprintf(g_path, sizeof(g_path), "/tmp/bn-test-pcapfile-XXXXXX");
    fd = mkstemp(g_path);
    assert_true(fd >= 0);
    w.fp = fdopen(fd, "wb");
    assert_non_null(w.fp);
    header(&w, nano, snap);
    return w;
}

static void
test_orders_and_precisions(void **state)
{
    (void)state;
    for (int swap = 0; swap < 2; swap++) {
        for (int nano = 0; nano < 2; nano++) {
            struct w w = start(swap, nano, 65535);
            for (uint32_t i = 0; i < 50; i++)
                record(&w, 1700000000u + i, nano ? 999999999u - i : 999999u - i,
                       60 + i * 13, 60 + i * 13 + (i % 3), (uint8_t)i);
            record(&w, 0x90000000u, 0x90000005u, 100, 100, 7); /* past 2^31: libpcap reads it signed or not by byte order */
            fclose(w.fp);
            assert_int_equal(compare(g_path, NULL), 52); /* 51 frames and BN_EOF */
            assert_int_equal(compare(g_path, "udp port 53 and src port 12290"), 2);
            unlink(g_path);
        }
    }
}

static void
test_snaplen_and_limits(void **state)
{
    struct frame a[16];

    (void)state;
    /* over the file's snapshot length: cut to it */
    struct w w = start(false, false, 100);
    record(&w, 1, 0, 80, 80, 1);
    record(&w, 2, 0, 300, 1500, 2);
    record(&w, 3, 0, 90, 90, 3);
    fclose(w.fp);
    assert_int_equal(compare(g_path, NULL), 4);
    assert_int_equal(read_all(g_path, false, NULL, a, 16), 4);
    assert_int_equal(a[1].caplen, 100);
    assert_int_equal(a[3].rc, BN_EOF);
    unlink(g_path);

    /* over 256 KiB: an error after the frames before it */
    w = start(false, false, 0); /* 0: libpcap takes the link type's maximum */
    record(&w, 1, 0, 80, 80, 1);
    record(&w, 2, 0, NET_SNAPLEN + 1, NET_SNAPLEN + 1, 2);
    fclose(w.fp);
    assert_int_equal(compare(g_path, NULL), 2);
    assert_int_equal(read_all(g_path, false, NULL, a, 16), 2);
    assert_int_equal(a[1].rc, BN_EIO);
    unlink(g_path);
}

static void
test_cut_short(void **state)
{
    struct frame a[16];

    (void)state;
    for (int cut = 0; cut < 3; cut++) {
        struct w w = start(false, true, 65535);
        record(&w, 1, 0, 80, 80, 1);
        record(&w, 2, 0, 200, 200, 2);
        fflush(w.fp);
        long size = ftell(w.fp);
        /* cut inside the last record's data, inside its header, or right after the header */
        long to = cut == 0 ? size - 50 : cut == 1 ? size - 200 - 8 : size - 200;
        assert_int_equal(ftruncate(fileno(w.fp), to), 0);
        fclose(w.fp);
        assert_int_equal(compare(g_path, NULL), 2);
        assert_int_equal(read_all(g_path, false, NULL, a, 16), 2);
        assert_int_equal(a[1].rc, BN_EIO);
        unlink(g_path);
    }
    /* no records at all */
    struct w w = start(true, false, 65535);
    fclose(w.fp);
    assert_int_equal(compare(g_path, NULL), 1);
    unlink(g_path);
}

static void
test_buffer_boundaries(void **state)
{
    (void)state;
    /* ~12 MB of large records: many refills of the buffer, records straddling reads */
    struct w w = start(false, false, NET_SNAPLEN);
    for (uint32_t i = 0; i < 200; i++) {
        record(&w, 10 + i, i, 60000 + i * 7, 60000 + i * 7, (uint8_t)i);
        if (i % 50 == 7) /* the largest record there can be */
            record(&w, 10 + i, i + 1, NET_SNAPLEN, NET_SNAPLEN, (uint8_t)i);
    }
    fclose(w.fp);
    assert_int_equal(compare(g_path, NULL), 205);
    unlink(g_path);
}

/* The file grows after it was opened: the frames written since are read */
static void
test_grows(void **state)
{
    struct frame a[16];
    char err[256];

    (void)state;
    struct w w = start(false, true, 65535);
    for (uint32_t i = 0; i < 5; i++)
        record(&w, 100 + i, i, 3000 + i * 100, 3000 + i * 100, (uint8_t)i);
    fclose(w.fp);
    size_t want = read_all(g_path, true, NULL, a, 16);
    assert_int_equal(want, 6);

    struct stat st;
    assert_int_equal(stat(g_path, &st), 0);
    size_t size = (size_t)st.st_size;
    uint8_t *all = bn_malloc(size);
    assert_non_null(all);
    int fd = open(g_path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, all, size, 0), (ssize_t)size);
    size_t cut = size - (3400 + 16) - 1000; /* inside the fourth record's data */
    assert_int_equal(ftruncate(fd, (off_t)cut), 0);

    struct net_capture *c = NULL;
    unsetenv("BN_CAPTURE_LIBPCAP");
    assert_int_equal(net_capture_open_file(&c, g_path, err, sizeof(err)), 0);
    for (size_t n = 0; n < want; n++) {
        const uint8_t *d;
        struct frame fr = {0};
        fr.rc = net_capture_next(c, &d, &fr.caplen, &fr.wirelen, &fr.ts);
        if (n == 0) /* the rest of the file arrives */
            assert_int_equal(pwrite(fd, all + cut, size - cut, (off_t)cut), (ssize_t)(size - cut));
        if (fr.rc == 1)
            for (uint32_t i = 0; i < fr.caplen; i++)
                fr.sum = fr.sum * 31 + d[i];
        assert_int_equal(fr.rc, a[n].rc);
        assert_int_equal(fr.caplen, a[n].caplen);
        assert_int_equal(fr.ts, a[n].ts);
        assert_int_equal(fr.sum, a[n].sum);
    }
    net_capture_close(c);
    close(fd);
    bn_free(all);
    unlink(g_path);
}

/* A FIFO (the NDR integration test streams its pcaps that way): libpcap reads it, all of it */
static void
test_fifo(void **state)
{
    struct frame a[64];
    char fifo[80];

    (void)state;
    struct w w = start(false, false, 65535);
    for (uint32_t i = 0; i < 20; i++)
        record(&w, 100 + i, i, 80, 80, (uint8_t)i);
    fclose(w.fp);
    size_t want = read_all(g_path, false, NULL, a, 64);
    assert_int_equal(want, 21);
    snprintf(fifo, sizeof(fifo), "%s.fifo", g_path);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the writer */
        FILE *in = fopen(g_path, "rb"), *out = fopen(fifo, "wb");
        char buf[4096];
        size_t n;
        if (!in || !out)
            _exit(1);
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            if (fwrite(buf, 1, n, out) != n)
                _exit(1);
        _exit(fclose(out) == 0 ? 0 : 1);
    }
    assert_int_equal(read_all(fifo, false, NULL, a, 64), want);
    assert_int_equal(a[want - 1].rc, BN_EOF);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unlink(fifo);
    unlink(g_path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_and_precisions),
        cmocka_unit_test(test_snaplen_and_limits),
        cmocka_unit_test(test_cut_short),
        cmocka_unit_test(test_buffer_boundaries),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
