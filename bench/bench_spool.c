/*
 * bench_spool.c - appends to the agent's spool with its default fsync policy (every 256
 * records or 200 ms) and reports records/s, MB/s and us per record, then reads everything
 * back: the same records once with one agent_spool_append per record, then into a fresh
 * spool with agent_spool_append_many, BATCH records per call (default 256, the agent loop's
 * drain batch), back to back in the same run.
 * Usage: bench_spool [DIR|- (default: a temp dir under /var/tmp)] [RECORDS] [PAYLOAD_BYTES]
 *        [BATCH]
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
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

static double
cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
rm_dir(const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char p[512];
    while (dh && (de = readdir(dh)))
        if (de->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%.64s", dir, de->d_name);
            unlink(p);
        }
    if (dh)
        closedir(dh);
    rmdir(dir);
}

/* Appends n records into a fresh spool in dir, one call each (batch 1) or batch at a time
 * with agent_spool_append_many, then reads them back. Returns 0 if all came back. */
static int
run(const char *dir, long n, long size, long batch, const char *payload)
{
    struct agent_spool_opts o;
    struct agent_spool *s;
    agent_spool_opts_init(&o);
    o.dir = dir;
    o.max_bytes = 4ull << 30; /* no shedding in this run */
    int rc = agent_spool_open(&s, &o);
    if (rc) {
        fprintf(stderr, "cannot open spool '%s': %s\n", dir, bn_strerror(rc));
        return 1;
    }
    struct iovec *iov = calloc((size_t)batch, sizeof(*iov));
    enum agent_prio *pr = calloc((size_t)batch, sizeof(*pr));
    if (!iov || !pr) {
        free(iov);
        free(pr);
        agent_spool_close(s);
        return 1;
    }
    double t0 = now_s(), c0 = cpu_s();
    for (long i = 0; i < n && !rc; i += batch) {
        if (batch == 1) {
            rc = agent_spool_append(s, payload, (size_t)size, (enum agent_prio)(i % 4), NULL);
            continue;
        }
        size_t k = (size_t)(n - i < batch ? n - i : batch);
        for (size_t j = 0; j < k; j++) {
            iov[j].iov_base = (void *)payload;
            iov[j].iov_len = (size_t)size;
            pr[j] = (enum agent_prio)((i + (long)j) % 4);
        }
        rc = agent_spool_append_many(s, iov, pr, k, NULL, NULL);
    }
    free(iov);
    free(pr);
    if (rc) {
        fprintf(stderr, "append failed: %s\n", bn_strerror(rc));
        agent_spool_close(s);
        return 1;
    }
    agent_spool_sync(s);
    double t1 = now_s(), c1 = cpu_s();
    struct agent_spool_rec r;
    long got = 0;
    while (agent_spool_next(s, &r) == 0)
        got++;
    double t2 = now_s();
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    double mb = (double)n * (double)(size + AGENT_SPOOL_REC_HDR) / 1e6;
    printf("spool append (%s %4ld): %ld records of %ld bytes in %.3f s: %.0f records/s, "
           "%.1f MB/s, %" PRIu64 " fdatasyncs, %.2f us/record (%.2f us CPU)\n",
           batch == 1 ? "single" : "batch ", batch, n, size, t1 - t0, (double)n / (t1 - t0),
           mb / (t1 - t0), st.syncs, (t1 - t0) * 1e6 / (double)n, (c1 - c0) * 1e6 / (double)n);
    printf("spool read:                 %ld records in %.3f s: %.0f records/s\n", got, t2 - t1,
           (double)got / (t2 - t1));
    agent_spool_ack(s, st.next_seq - 1);
    agent_spool_close(s);
    return got == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
    char tmpl[] = "/var/tmp/bn-bench-spool-XXXXXX";
    const char *dir = argc > 1 && strcmp(argv[1], "-") ? argv[1] : mkdtemp(tmpl);
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 500000;
    long size = argc > 3 ? strtol(argv[3], NULL, 10) : 600; /* a typical process event */
    long batch = argc > 4 ? strtol(argv[4], NULL, 10) : 256; /* the agent's drain batch */
    if (!dir || n <= 0 || size <= 0 || size > (long)AGENT_SPOOL_RECORD_MAX || batch < 1 ||
        batch > 65536) {
        fprintf(stderr, "usage: bench_spool [DIR|-] [RECORDS] [PAYLOAD_BYTES] [BATCH]\n");
        return 2;
    }
    char *payload = malloc((size_t)size);
    if (!payload)
        return 1;
    for (long i = 0; i < size; i++)
        payload[i] = (char)('a' + i % 26);
    /* the same input twice, each into its own fresh spool: single appends, then batches */
    char d1[300], d2[300];
    snprintf(d1, sizeof(d1), "%s/single", dir);
    snprintf(d2, sizeof(d2), "%s/batch", dir);
    mkdir(dir, 0700);
    int rc = run(d1, n, size, 1, payload);
    if (!rc)
        rc = run(d2, n, size, batch, payload);
    rm_dir(d1); /* everything is acked: remove what is left */
    rm_dir(d2);
    if (argc <= 1 || !strcmp(argv[1], "-"))
        rmdir(dir);
    free(payload);
    return rc;
}
