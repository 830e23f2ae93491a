/*
 * fuzz_net_pcapfile.c - libFuzzer target for capture.c's own reader of classic pcap files,
 * differential against libpcap's: the input is a whole capture file (written to a memfd and
 * opened through /proc/self/fd), read once by capture.c's reader and once by libpcap's
 * (BN_CAPTURE_LIBPCAP=1). Both must give the same frames (length, wire length, timestamp,
 * bytes) and end the same way (BN_EOF or BN_EIO); any difference aborts. Frames are checked
 * by a checksum over every byte so ASan sees any over-read.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sensor/sensor.h"

#define MAX_FRAMES 4096

struct res {
    int rc;
    uint32_t caplen, wirelen;
    uint64_t ts, sum;
};

static struct res g_a[MAX_FRAMES + 1], g_b[MAX_FRAMES + 1];

/* Returns the number of results, or 0 when the file does not open (then for both). */
static size_t
read_all(const char *path, bool libpcap, struct res *out, int *open_rc)
{
    struct net_capture *c = NULL;
    char err[256];
    size_t n = 0;

    if (libpcap)
        setenv("BN_CAPTURE_LIBPCAP", "1", 1);
    else
        unsetenv("BN_CAPTURE_LIBPCAP");
    *open_rc = net_capture_open_file(&c, path, err, sizeof(err));
    unsetenv("BN_CAPTURE_LIBPCAP");
    if (*open_rc)
        return 0;
    while (n <= MAX_FRAMES) {
        const uint8_t *d;
        struct res r = {0};
        r.rc = net_capture_next(c, &d, &r.caplen, &r.wirelen, &r.ts);
        if (r.rc == 1)
            for (uint32_t i = 0; i < r.caplen; i++)
                r.sum = r.sum * 131 + d[i];
        out[n++] = r;
        if (r.rc != 1)
            break;
    }
    net_capture_close(c);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = memfd_create("pcapfile", MFD_CLOEXEC);
    int rca, rcb;

    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    size_t na = read_all(path, false, g_a, &rca);
    size_t nb = read_all(path, true, g_b, &rcb);
    close(fd);
    if (rca != rcb || na != nb)
        abort();
    for (size_t i = 0; i < na; i++)
        if (g_a[i].rc != g_b[i].rc || g_a[i].caplen != g_b[i].caplen ||
            g_a[i].wirelen != g_b[i].wirelen || g_a[i].ts != g_b[i].ts ||
            g_a[i].sum != g_b[i].sum)
            abort();
    return 0;
}
