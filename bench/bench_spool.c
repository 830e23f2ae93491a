/*
 * bench_spool.c - appends to the agent's spool with its default fsync policy (every 256
 * records or 200 ms) and reports records/s and MB/s, then reads everything back.
 * Usage: bench_spool [DIR (default: a temp dir under /var/tmp)] [RECORDS] [PAYLOAD_BYTES]
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/spool.h"
#include "bannin/error.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    char tmpl[] = "/var/tmp/bn-bench-spool-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 500000;
    long size = argc > 3 ? strtol(argv[3], NULL, 10) : 600; /* a typical process event */
    if (!dir || n <= 0 || size <= 0 || size > (long)AGENT_SPOOL_RECORD_MAX) {
        fprintf(stderr, "usage: bench_spool [DIR] [RECORDS] [PAYLOAD_BYTES]\n");
        return 2;
    }
    char *payload = malloc((size_t)size);
    if (!payload)
        return 1;
    for (long i = 0; i < size; i++)
        payload[i] = (char)('a' + i % 26);

    struct agent_spool_opts o;
    struct agent_spool *s;
    agent_spool_opts_init(&o);
    o.dir = dir;
    o.max_bytes = 4ull << 30; /* no shedding in this run */
    int rc = agent_spool_open(&s, &o);
    if (rc) {
        fprintf(stderr, "cannot open spool '%s': %s\n", dir, bn_strerror(rc));
        free(payload);
        return 1;
    }
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if ((rc = agent_spool_append(s, payload, (size_t)size, (enum agent_prio)(i % 4), NULL))) {
            fprintf(stderr, "append failed: %s\n", bn_strerror(rc));
            agent_spool_close(s);
            free(payload);
            return 1;
        }
    }
    agent_spool_sync(s);
    double t1 = now_s();
    struct agent_spool_rec r;
    long got = 0;
    while (agent_spool_next(s, &r) == 0)
        got++;
    double t2 = now_s();
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    double mb = (double)n * (double)(size + AGENT_SPOOL_REC_HDR) / 1e6;
    printf("spool append: %ld records of %ld bytes in %.3f s: %.0f records/s, %.1f MB/s, "
           "%" PRIu64 " fdatasyncs, %.2f us/record\n",
           n, size, t1 - t0, (double)n / (t1 - t0), mb / (t1 - t0), st.syncs,
           (t1 - t0) * 1e6 / (double)n);
    printf("spool read:   %ld records in %.3f s: %.0f records/s\n", got, t2 - t1,
           (double)got / (t2 - t1));
    agent_spool_ack(s, st.next_seq - 1);
    agent_spool_close(s);
    if (argc <= 1) { /* our temp dir: everything is acked, remove what is left */
        DIR *dh = opendir(dir);
        struct dirent *de;
        char p[256];
        while (dh && (de = readdir(dh)))
            if (de->d_name[0] != '.') {
                snprintf(p, sizeof(p), "%s/%.64s", dir, de->d_name);
                unlink(p);
            }
        if (dh)
            closedir(dh);
        rmdir(dir);
    }
    free(payload);
    return got == n ? 0 : 1;
}
