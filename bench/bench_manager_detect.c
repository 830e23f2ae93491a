/*
 * bench_manager_detect.c - central detection throughput and latency: batches of agent NDJSON
 * events (Sysmon for Linux fields; mostly benign process, network, DNS and file events, 1 in
 * 200 taken from the rules/linux positive samples) through detect_batch() with every
 * rules/linux rule, correlation, and an IOC set of 100,000 indicators (addresses, CIDRs,
 * domains, hashes). Alerts go to a counting callback (triage and the store are measured by
 * bench_manager_store and bench_ingest).
 *
 *   bench_manager_detect [events [batch [threads]]]     defaults 400000 1000 1
 *   bench_manager_detect --store DIR [events [batch]]   the whole pipeline into SQLite
 *
 * --store runs what the link's thread does per batch, minus TLS and zstd: one transaction
 * with store_events_insert(), the detection hook (detect_ingest: detection, triage, alerts
 * and incidents written in the same transaction) and the commit (synchronous=FULL, WAL).
 *
 * BENCH_RULES=dir[:dir...] adds rule directories to rules/linux (e.g. SigmaHQ's rules/linux).
 * With threads > 1 each thread owns its tenants (detection state is per worker), as bannind
 * partitions tenants over workers. Prints events/s and the p50/p99/max time of one batch,
 * which bounds what detection adds to receipt -> alert.
 */
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bannin/ioc.h"
#include "manager/detect.h"
#include "manager/ingest.h"
#include "manager/store.h"

static int64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* rules/linux plus the directories in $BENCH_RULES */
static int
load_rules(struct detect_rules **out, struct detect_load_stats *ls)
{
    static char buf[8192], def[4096];
    const char *paths[32];
    size_t n = 0;
    snprintf(def, sizeof(def), "%s/rules/linux", BN_SOURCE_DIR);
    paths[n++] = def;
    const char *env = getenv("BENCH_RULES");
    if (env && *env) {
        snprintf(buf, sizeof(buf), "%s", env);
        for (char *p = buf, *c; p && *p && n < 32; p = c) {
            c = strchr(p, ':');
            if (c)
                *c++ = '\0';
            paths[n++] = p;
        }
    }
    return detect_rules_load(out, paths, n, ls);
}

static char **samples;
static size_t nsamples;

static void
load_samples(void)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/rules/linux", BN_SOURCE_DIR);
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (!strstr(de->d_name, ".positive.ndjson"))
            continue;
        char path[8192], line[65536];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = '\0';
            if (!line[0])
                continue;
            samples = realloc(samples, (nsamples + 1) * sizeof(*samples));
            samples[nsamples++] = strdup(line);
        }
        if (f)
            fclose(f);
    }
    closedir(dp);
}

/* One synthetic event; most are benign. */
static size_t
make_event(char *buf, size_t size, uint64_t i)
{
    if (nsamples && i % 200 == 199)
        return (size_t)snprintf(buf, size, "%s", samples[(i / 200) % nsamples]);
    unsigned h = (unsigned)(i % 50), k = (unsigned)(i % 7);
    switch (k) {
    case 0:
    case 1:
    case 2:
        return (size_t)snprintf(
            buf, size,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"UtcTime\":\"2026-11-25 "
            "10:%02u:%02u.123\",\"Computer\":\"host-%u\",\"ProcessGuid\":\"{%08" PRIx64
            "-0000-0000-0000-000000000001}\",\"ProcessId\":%u,\"Image\":\"/usr/bin/%s\","
            "\"CommandLine\":\"%s --color=auto /srv/data/%" PRIu64 "\",\"CurrentDirectory\":"
            "\"/home/user%u\",\"User\":\"user%u\",\"LogonId\":1000,\"ParentProcessGuid\":"
            "\"{%08" PRIx64 "-0000-0000-0000-000000000000}\",\"ParentProcessId\":%u,"
            "\"ParentImage\":\"/usr/bin/bash\",\"ParentCommandLine\":\"-bash\",\"Hashes\":"
            "\"SHA256=%064" PRIx64 "\",\"bannin.seq\":%" PRIu64 "}",
            (unsigned)(i / 60 % 60), (unsigned)(i % 60), h, i, (unsigned)(1000 + i % 30000),
            k == 0 ? "ls" : k == 1 ? "grep" : "python3", k == 0 ? "ls" : k == 1 ? "grep" : "python3",
            i, h, h, i / 3, (unsigned)(900 + i % 1000), i * 2654435761u, i);
    case 3:
        return (size_t)snprintf(
            buf, size,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":3,\"UtcTime\":\"2026-11-25 "
            "10:00:00.000\",\"Computer\":\"host-%u\",\"ProcessId\":%u,\"Image\":"
            "\"/usr/sbin/nginx\",\"User\":\"www-data\",\"Protocol\":\"tcp\",\"Initiated\":"
            "\"true\",\"SourceIp\":\"10.0.%u.%u\",\"SourcePort\":%u,\"DestinationIp\":"
            "\"172.16.%u.%u\",\"DestinationPort\":443,\"bannin.seq\":%" PRIu64 "}",
            h, (unsigned)(2000 + i % 1000), h, (unsigned)(i % 250), (unsigned)(30000 + i % 30000),
            (unsigned)(i % 250), (unsigned)(i / 250 % 250), i);
    case 4:
        return (size_t)snprintf(
            buf, size,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":22,\"UtcTime\":\"2026-11-25 "
            "10:00:00.000\",\"Computer\":\"host-%u\",\"ProcessId\":%u,\"Image\":"
            "\"/usr/bin/curl\",\"User\":\"user%u\",\"QueryName\":\"api%u.example.com\","
            "\"QueryResults\":\"192.0.2.%u;\",\"bannin.seq\":%" PRIu64 "}",
            h, (unsigned)(3000 + i % 1000), h, (unsigned)(i % 1000), (unsigned)(i % 250), i);
    default:
        return (size_t)snprintf(
            buf, size,
            "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":11,\"UtcTime\":\"2026-11-25 "
            "10:00:00.000\",\"Computer\":\"host-%u\",\"ProcessId\":%u,\"Image\":"
            "\"/usr/bin/python3\",\"User\":\"user%u\",\"TargetFilename\":"
            "\"/home/user%u/.cache/pip/%" PRIu64 ".tmp\",\"bannin.seq\":%" PRIu64 "}",
            h, (unsigned)(4000 + i % 1000), h, h, i, i);
    }
}

struct worker {
    const struct detect_rules *rules;
    const struct bn_ioc_set *iocs;
    uint64_t events, batch;
    int id;
    atomic_uint_fast64_t *alerts;
    int64_t *lat;           /* per-batch ns */
    size_t nlat;
    int64_t elapsed;
};

static int
count_alert(void *ctx, const struct triage_alert_in *a)
{
    (void)a;
    atomic_fetch_add_explicit((atomic_uint_fast64_t *)ctx, 1, memory_order_relaxed);
    return 0;
}

static void *
run(void *arg)
{
    struct worker *w = arg;
    struct detect *d;
    if (detect_new(&d, w->rules, count_alert, w->alerts, NULL) != 0)
        return NULL;
    for (int64_t t = 1; t <= 16; t++)
        detect_set_iocs(d, t * 100 + w->id, w->iocs);
    /* pre-render every batch so only detection is timed */
    size_t nb = (size_t)((w->events + w->batch - 1) / w->batch);
    struct store_event *ev = calloc(w->batch, sizeof(*ev));
    char *text = malloc(w->batch * 2048);
    w->lat = calloc(nb, sizeof(*w->lat));
    int64_t total = 0;
    uint64_t done = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t n = (size_t)(w->events - done < w->batch ? w->events - done : w->batch);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = done + i + (uint64_t)w->id * 1000000007ull;
            size_t l = make_event(text + i * 2048, 2048, k);
            ev[i] = (struct store_event){.agent_id = 1, .seq = (int64_t)k,
                                         .json = text + i * 2048, .json_len = l,
                                         .ts_ns = 1764064800000000000LL};
        }
        int64_t tenant = (int64_t)(b % 16 + 1) * 100 + w->id;
        int64_t t0 = mono_ns();
        detect_batch(d, tenant, ev, n, 1764064800000000000LL);
        int64_t dt = mono_ns() - t0;
        w->lat[w->nlat++] = dt;
        total += dt;
        done += n;
    }
    w->elapsed = total;
    struct detect_stats st;
    detect_get_stats(d, &st);
    if (w->id == 0)
        fprintf(stderr, "worker 0: events %" PRIu64 " rule hits %" PRIu64 " ioc %" PRIu64
                        " corr %" PRIu64 " unreadable %" PRIu64 "\n",
                st.events, st.rule_hits, st.ioc_matches, st.corr_alerts, st.unreadable);
    detect_free(d);
    free(ev);
    free(text);
    return NULL;
}

static int
run_store(const char *dir, uint64_t events, uint64_t batch)
{
    load_samples();
    struct store *st;
    struct store_err se;
    if (store_open(&st, dir, &se) != 0) {
        fprintf(stderr, "store: %s\n", se.msg);
        return 1;
    }
    struct store_tenant t = {.notify_min_severity = 3};
    snprintf(t.name, sizeof(t.name), "bench-%lld", (long long)mono_ns());
    int64_t tenant, agent;
    struct store_agent a = {0};
    if (store_tenant_create(st, &t, &tenant) != 0)
        return 1;
    a.tenant_id = tenant;
    snprintf(a.uid, sizeof(a.uid), "bench-%lld", (long long)mono_ns());
    snprintf(a.cert_fp, sizeof(a.cert_fp), "%s", a.uid);
    snprintf(a.hostname, sizeof(a.hostname), "bench");
    if (store_agent_create(st, &a, &agent) != 0)
        return 1;
    struct detect_rules *rules;
    struct detect_load_stats ls;
    if (load_rules(&rules, &ls) != 0)
        return 1;
    struct detect_ingest *di;
    struct detect_ingest_opts o = {.rules = rules, .st = st};
    if (detect_ingest_new(&di, &o) != 0)
        return 1;
    struct ingest_hooks h;
    detect_ingest_hooks(di, &h);
    struct ingest_agent ag = {.id = agent, .tenant_id = tenant, .uid = a.uid,
                              .hostname = "bench"};
    struct store_event *ev = calloc(batch, sizeof(*ev));
    char *text = malloc(batch * 2048);
    size_t nb = (size_t)((events + batch - 1) / batch);
    int64_t *lat = calloc(nb, sizeof(*lat)), total = 0;
    uint64_t done = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t n = (size_t)(events - done < batch ? events - done : batch);
        for (size_t i = 0; i < n; i++) {
            size_t l = make_event(text + i * 2048, 2048, done + i);
            ev[i] = (struct store_event){.tenant_id = tenant, .agent_id = agent,
                                         .seq = (int64_t)(done + i + 1), .json = text + i * 2048,
                                         .json_len = l, .ts_ns = 1764064800000000000LL,
                                         .received_ns = 1764064800000000000LL, .host = "bench"};
        }
        int64_t t0 = mono_ns();
        size_t ins, dups;
        if (store_begin(st) != 0 || store_events_insert(st, ev, n, &ins, &dups) != 0)
            return 1;
        h.on_batch_stored(h.ctx, &ag, ev, n);
        if (store_commit(st) != 0)
            return 1;
        lat[b] = mono_ns() - t0;
        total += lat[b];
        done += n;
    }
    qsort(lat, nb, sizeof(*lat), cmp64);
    struct detect_ingest_stats ds;
    detect_ingest_get_stats(di, &ds);
    printf("store pipeline: %.0f events/s (insert + detection + triage + commit, one thread), "
           "alerts %" PRIu64 " (merged %" PRIu64 "), incidents %" PRIu64 ", errors %" PRIu64 "\n",
           (double)done / ((double)total / 1e9), ds.triage.alerts, ds.triage.merged,
           ds.triage.incidents, ds.triage.errors);
    printf("batch of %" PRIu64 " (receipt -> alerts committed): p50 %.2f ms, p99 %.2f ms, max "
           "%.2f ms\n",
           batch, lat[nb / 2] / 1e6, lat[nb * 99 / 100] / 1e6, lat[nb - 1] / 1e6);
    detect_ingest_free(di);
    detect_rules_free(rules);
    store_close(st);
    free(ev);
    free(text);
    free(lat);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--store") == 0)
        return run_store(argv[2], argc > 3 ? strtoull(argv[3], NULL, 10) : 200000,
                         argc > 4 ? strtoull(argv[4], NULL, 10) : 1000);
    uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 400000;
    uint64_t batch = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000;
    int threads = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 1;
    if (batch == 0 || threads < 1 || threads > 64)
        return 2;
    load_samples();
    struct detect_rules *rules;
    struct detect_load_stats ls;
    if (load_rules(&rules, &ls) != 0) {
        fprintf(stderr, "cannot load rules: %s\n", ls.first.msg);
        return 1;
    }
    struct bn_ioc_set *iocs = bn_ioc_set_new();
    char v[128];
    for (unsigned i = 0; i < 100000; i++) {
        switch (i % 4) {
        case 0:
            snprintf(v, sizeof(v), "203.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
            bn_ioc_add(iocs, BN_IOC_IP, v, strlen(v), "bench", NULL, NULL);
            break;
        case 1:
            snprintf(v, sizeof(v), "evil%u.example", i);
            bn_ioc_add(iocs, BN_IOC_DOMAIN, v, strlen(v), "bench", NULL, NULL);
            break;
        case 2:
            snprintf(v, sizeof(v), "%064x", i * 2246822519u);
            bn_ioc_add(iocs, BN_IOC_SHA256, v, strlen(v), "bench", NULL, NULL);
            break;
        default:
            snprintf(v, sizeof(v), "100.%u.%u.0/24", i >> 8 & 255, i & 255);
            bn_ioc_add(iocs, BN_IOC_IP, v, strlen(v), "bench", NULL, NULL);
        }
    }
    printf("rules %zu, iocs %zu, samples %zu, events %" PRIu64 ", batch %" PRIu64
           ", threads %d\n",
           detect_rules_count(rules), bn_ioc_count(iocs, BN_IOC_TYPES), nsamples, events, batch,
           threads);
    atomic_uint_fast64_t alerts = 0;
    struct worker *w = calloc((size_t)threads, sizeof(*w));
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    int64_t t0 = mono_ns();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){.rules = rules, .iocs = iocs, .events = events / (uint64_t)threads,
                               .batch = batch, .id = i, .alerts = &alerts};
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    int64_t wall = mono_ns() - t0;
    size_t nl = 0;
    for (int i = 0; i < threads; i++)
        nl += w[i].nlat;
    int64_t *lat = calloc(nl ? nl : 1, sizeof(*lat));
    int64_t busy = 0;
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(lat + k, w[i].lat, w[i].nlat * sizeof(*lat));
        k += w[i].nlat;
        busy += w[i].elapsed;
        free(w[i].lat);
    }
    qsort(lat, nl, sizeof(*lat), cmp64);
    uint64_t total = events / (uint64_t)threads * (uint64_t)threads;
    printf("detection: %.0f events/s per thread busy, %.0f events/s wall (incl. building "
           "events), alerts %" PRIu64 "\n",
           (double)total / ((double)busy / threads / 1e9), (double)total / ((double)wall / 1e9),
           (uint64_t)atomic_load(&alerts));
    printf("batch of %" PRIu64 ": p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", batch,
           lat[nl / 2] / 1e6, lat[nl * 99 / 100] / 1e6, lat[nl - 1] / 1e6);
    free(lat);
    free(w);
    free(th);
    bn_ioc_set_free(iocs);
    detect_rules_free(rules);
    for (size_t i = 0; i < nsamples; i++)
        free(samples[i]);
    free(samples);
    return 0;
}
