/*
 * bench_manager_store.c - the manager store's ingest rate and search latency.
 *
 *   bench_manager_store [-n EVENTS] [-b BATCH] [-a AGENTS] [-d DIR] [-z LEVEL] [--rows] [--full]
 *                       [--host-index] [--checkpointer]
 *
 * Inserts EVENTS realistic process-creation events (about 450 bytes of JSON each, NDJSON as
 * agents send it) from AGENTS agents in batches of BATCH, one transaction per batch (what
 * ingest does before it acknowledges), on one thread and one handle; then times the API's
 * typical searches. Events go into zstd blocks (schema 6, the default); --rows writes the row
 * layout before it (JSON inline, compressed per event only with -z). -z LEVEL sets the zstd
 * level (store_opts.compress). --full runs with synchronous=FULL (fsync per commit).
 * --host-index adds a (tenant, host, ts) index first, to show what one more index costs.
 * --checkpointer also runs PASSIVE WAL checkpoints every 20 ms on a second thread and handle
 * maintenance thread does) instead of in the committing thread.
 * It is named bench_manager_* so CMake links it with bannin_manager.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bannin/error.h"
#include "manager/store.h"

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
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct ckpt {
    const char *dir;
    _Atomic int stop;
    long long runs;
};

static void *
checkpointer(void *p)
{
    struct ckpt *c = p;
    struct store *st;
    struct store_err err;
    if (store_open(&st, c->dir, &err))
        return NULL;
    while (!c->stop) {
        store_checkpoint(st, 0, NULL, NULL);
        c->runs++;
        usleep(20000);
    }
    store_close(st);
    return NULL;
}

/* splitmix64: hash-like hex that does not compress (real SHA-256 values do not). */
static unsigned long long
mix(long long g, int k)
{
    unsigned long long z = (unsigned long long)g * 4 + (unsigned long long)k;
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static const char *const images[] = {"/usr/bin/bash",  "/usr/bin/curl", "/usr/bin/python3.11",
                                     "/usr/sbin/sshd", "/usr/bin/find", "/usr/lib/systemd/systemd",
                                     "/usr/bin/git",   "/usr/bin/gcc"};
static const char *const users[] = {"root", "alice", "bob", "www-data", "postgres"};

static int
count_cb(void *ctx, const struct store_event *e)
{
    (void)e;
    (*(int64_t *)ctx)++;
    return 0;
}

static void
time_search(struct store *st, const char *what, struct store_event_query *q)
{
    double t0 = now_s();
    int64_t n = 0;
    int rc = store_event_search(st, q, count_cb, &n, NULL, NULL);
    double dt = now_s() - t0;
    printf("  search %-44s %6" PRId64 " rows %8.2f ms%s\n", what, n, dt * 1e3,
           rc ? " (error)" : "");
}

/* What the events take once the WAL is checkpointed: bytes per event in the database, and
 * the JSON text against its compressed blocks. */
static void
sizes(const char *dir, long long n)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/bannin.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK || n <= 0) {
        sqlite3_close(db);
        return;
    }
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    double dbb = 0, raw = 0, packed = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT page_count * page_size FROM pragma_page_count, "
                           "pragma_page_size), (SELECT sum(raw_len) FROM event_blocks),"
                           " (SELECT sum(length(data)) FROM event_blocks)",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        dbb = sqlite3_column_double(s, 0);
        raw = sqlite3_column_double(s, 1);
        packed = sqlite3_column_double(s, 2);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    printf("  database %.0f bytes per event", dbb / (double)n);
    if (packed > 0)
        printf("; blocks: %.0f bytes of JSON per event -> %.0f compressed (%.1fx)", raw / n - 1,
               packed / n, raw / packed);
    printf("\n");
}

static void
rm_store(const char *dir)
{
    const char *f[] = {"bannin.db", "bannin.db-wal", "bannin.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", dir, f[i]);
        unlink(p);
    }
}

int
main(int argc, char **argv)
{
    long long total = 1000000, batch = 1000, agents = 50;
    const char *dir = NULL;
    int full = 0, host_index = 0, use_ckpt = 0, zlevel = 0, rows = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            total = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-b") && i + 1 < argc)
            batch = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-z") && i + 1 < argc)
            zlevel = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-a") && i + 1 < argc)
            agents = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--checkpointer"))
            use_ckpt = 1;
        else if (!strcmp(argv[i], "--full"))
            full = 1;
        else if (!strcmp(argv[i], "--rows"))
            rows = 1;
        else if (!strcmp(argv[i], "--host-index"))
            host_index = 1;
        else {
            fprintf(stderr,
                    "usage: %s [-n EVENTS] [-b BATCH] [-a AGENTS] [-d DIR] [-z LEVEL] [--full] "
                    "[--host-index] [--checkpointer] [--rows]\n",
                    argv[0]);
            return 2;
        }
    }
    if (total <= 0 || batch <= 0 || batch > 100000 || agents <= 0 || agents > 100000)
        return 2;
    char tmp[] = "/tmp/bn-bench-store-XXXXXX";
    int own_dir = 0;
    if (!dir) {
        if (!mkdtemp(tmp))
            return 1;
        dir = tmp;
        own_dir = 1;
    }
    rm_store(dir);
    struct store_opts o = {.sync_full = full, .compress = zlevel, .row_events = rows};
    struct store *st;
    struct store_err err;
    int rc = store_open_ex(&st, dir, &o, &err);
    if (rc) {
        fprintf(stderr, "store_open: %s\n", err.msg);
        return 1;
    }
    if (host_index) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/bannin.db", dir);
        sqlite3 *db;
        sqlite3_open(path, &db);
        sqlite3_exec(db, "CREATE INDEX events_tenant_host_ts ON events(tenant_id, host, ts_ns)",
                     NULL, NULL, NULL);
        sqlite3_close(db);
    }
    struct store_tenant t = {.retention_days = 30};
    snprintf(t.name, sizeof(t.name), "bench");
    int64_t tid;
    store_tenant_create(st, &t, &tid);
    int64_t *aid = calloc((size_t)agents, sizeof(*aid));
    for (long long i = 0; i < agents; i++) {
        struct store_agent a = {.tenant_id = tid};
        snprintf(a.uid, sizeof(a.uid), "agent-%lld", i);
        snprintf(a.cert_fp, sizeof(a.cert_fp), "fp-%lld", i);
        snprintf(a.hostname, sizeof(a.hostname), "host-%03lld", i);
        store_agent_create(st, &a, &aid[i]);
    }
    struct store_event *ev = calloc((size_t)batch, sizeof(*ev));
    char *buf = malloc((size_t)batch * 640);
    char(*hosts)[32] = calloc((size_t)agents, 32);
    for (long long i = 0; i < agents; i++)
        snprintf(hosts[i], 32, "host-%03lld", i);
    int64_t *seq = calloc((size_t)agents, sizeof(*seq));
    int64_t base = 1700000000LL * 1000000000LL;
    long long done = 0, dups = 0, batches = 0;
    struct ckpt ck = {.dir = dir};
    pthread_t ckt;
    if (use_ckpt)
        pthread_create(&ckt, NULL, checkpointer, &ck);
    double worst = 0, in_store = 0, cpu = 0, t0 = now_s();
    while (done < total) {
        long long k = total - done < batch ? total - done : batch;
        /* A batch comes from one agent, as on the link. */
        long long ag = batches % agents;
        size_t off = 0;
        for (long long i = 0; i < k; i++) {
            long long g = done + i;
            const char *img = images[g % 8];
            const char *user = users[g % 5];
            char *j = buf + off;
            int64_t ts = base + g * 5000;
            int len = snprintf(
                j, 640,
                "{\"EventID\":1,\"UtcTime\":\"2026-11-26 00:00:00.%06lld\",\"ProcessGuid\":"
                "\"{6a1f6b4e-%08llx-0000-0010-000000000000}\",\"ProcessId\":%lld,\"Image\":\"%s\","
                "\"CommandLine\":\"%s --opt %lld "
                "/var/lib/data/file-%lld.txt\",\"CurrentDirectory\":"
                "\"/home/%s\",\"User\":\"%s\",\"LogonId\":\"0x3e7\",\"ParentProcessId\":%lld,"
                "\"ParentImage\":\"/usr/bin/bash\",\"ParentCommandLine\":\"-bash\",\"Hashes\":"
                "\"SHA256=%016llx%016llx%016llx%016llx\",\"host\":\"%s\"}",
                g % 1000000, g, 1000 + g % 30000, img, img, g, g, user, user, 900 + g % 100,
                mix(g, 1), mix(g, 2), mix(g, 3), mix(g, 4), hosts[ag]);
            ev[i] = (struct store_event){.tenant_id = tid,
                                         .agent_id = aid[ag],
                                         .seq = ++seq[ag],
                                         .ts_ns = ts,
                                         .received_ns = ts + 1000000,
                                         .event_id = 1,
                                         .host = hosts[ag],
                                         .image = img,
                                         .user = user,
                                         .json = j,
                                         .json_len = (size_t)len};
            off += (size_t)len + 1;
        }
        double b0 = now_s(), c0 = cpu_s();
        size_t ins = 0, dup = 0;
        rc = store_begin(st);
        if (rc == 0)
            rc = store_events_insert(st, ev, (size_t)k, &ins, &dup);
        if (rc == 0)
            rc = store_commit(st);
        if (rc) {
            fprintf(stderr, "batch %lld: %s (%s)\n", batches, bn_strerror(rc), store_errmsg(st));
            store_rollback(st);
            break;
        }
        double bt = now_s() - b0;
        in_store += bt;
        cpu += cpu_s() - c0;
        if (bt > worst)
            worst = bt;
        done += (long long)ins;
        dups += (long long)dup;
        batches++;
    }
    double dt = now_s() - t0;
    if (use_ckpt) {
        ck.stop = 1;
        pthread_join(ckt, NULL);
    }
    if (use_ckpt) {
        ck.stop = 1;
        pthread_join(ckt, NULL);
    }
    struct store_health h;
    store_health(st, &h);
    printf("store insert: %lld events, %.2f s wall (%.2f s in store calls) = %.0f events/s; "
           "store CPU %.2f us/event = %.0f events/s per core\n"
           "  batch %lld, %lld agents, %s layout, synchronous=%s%s%s, zstd level %d; worst batch "
           "%.1f ms; db "
           "%.0f MB, "
           "wal %.0f MB\n",
           done, dt, in_store, (double)done / in_store, cpu * 1e6 / (double)done,
           (double)done / cpu, batch, agents, rows ? "row" : "block", full ? "FULL" : "NORMAL",
           host_index ? ", with a host index" : "",
           use_ckpt ? ", checkpoints on a second thread" : "", zlevel, worst * 1e3,
           (double)h.db_bytes / 1e6, (double)h.wal_bytes / 1e6);

    struct store_event_query q = {.scope = {.ids = &tid, .n = 1}, .limit = 100};
    time_search(st, "newest 100 of the tenant", &q);
    q.from_ns = base + (done / 2) * 5000;
    q.to_ns = q.from_ns + 60LL * 1000000000LL;
    q.limit = 10000;
    time_search(st, "1 minute time range", &q);
    q.from_ns = q.to_ns = 0;
    q.limit = 100;
    q.host = hosts[agents / 2];
    time_search(st, "host, newest 100", &q);
    q.host = NULL;
    q.from_ns = base + (done / 2) * 5000;
    q.to_ns = q.from_ns + 3600LL * 1000000000LL;
    q.image_sub = "curl";
    q.limit = 1000;
    time_search(st, "1 hour, image contains curl", &q);
    q.image_sub = NULL;
    q.user = "postgres";
    time_search(st, "1 hour, user = postgres", &q);
    q.user = NULL;
    struct store_field_filter f = {"CommandLine", "file-4242", STORE_FIELD_CONTAINS};
    q.fields = &f;
    q.nfields = 1;
    time_search(st, "1 hour, CommandLine contains (json_extract)", &q);
    store_close(st);
    sizes(dir, done);
    rm_store(dir);
    if (own_dir)
        rmdir(dir);
    free(aid);
    free(ev);
    free(buf);
    free(hosts);
    free(seq);
    return 0;
}
