/*
 * bench_ingest.c - simulated agents over mutual TLS against a running bannind: enrols N
 * agents with one multi-use token, opens one session each, and sends signed zstd batches of
 * Sysmon-like events from T threads (each thread drives N/T sessions, one batch in flight
 * per session), counting acknowledged events per second. Also the client of
 * tests/integration/test_manager_kill9.sh: with --acked FILE it appends every acknowledged
 * range "first last" to FILE, reconnects when the manager goes away and resends from the
 * last acknowledged seq (the same seq always carries the same event), until --events or
 * SIGTERM.
 *
 *   bench_ingest --server 127.0.0.1:7443 --token T --dir /tmp/bench-agents
 *                [--agents 100] [--threads 2] [--batch 1000] [--events 1000000]
 *                [--seconds 0] [--acked FILE] [--rate EVENTS_PER_S]
 *
 * Each thread polls its sessions and sends an agent's next batch as soon as that agent's ACK
 * came back (one batch in flight per agent, no lock-step rounds), like independent agents.
 * Events are rendered from a template (the date text cached per second), so the client costs
 * about what a real agent's uplink does: compression, signing, TLS.
 *
 * --rate paces the sends (each thread sends its batches at evenly spaced times for its share
 * of the rate) instead of as fast as acks come back: with a rate under the manager's capacity
 * the manager is not saturated, and its receipt -> commit latency (printed by bannind at
 * shutdown) is the latency of a batch, not of a queue.
 *
 * --alert-every K makes every K-th event of an agent one the shipped rule "Password Hash File
 * Read Or Copied" alerts on (cat /etc/shadow), so central detection raises alerts and
 * bannind's receipt -> alert latency is measured (0 = none, the default).
 */
#include <errno.h>
#include <getopt.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/wire.h"

struct agent_sim {
    struct bn_wire_ident id;
    struct bn_wire_conn *conn;
    uint8_t nonce[BN_WIRE_NONCE];
    uint64_t acked;     /* last acknowledged seq */
    uint64_t sent_last; /* last seq of the batch in flight (0 = none) */
    double sent_at;     /* when it was sent */
    int ep_fd;          /* the session's fd as registered with the thread's epoll, or -1 */
};

/* send -> ack latencies of the timed run (a sample of at most LAT_MAX) */
#define LAT_MAX 1000000
static double *lat;
static _Atomic size_t nlat;
static _Atomic bool timing;

static const char *server, *token, *dir, *acked_path;
static int nagents = 100, nthreads = 2, batch = 1000;
static uint64_t total_events = 1000000;
static double seconds;
static double rate;          /* events/s over all threads; 0 = as fast as acks allow */
static uint64_t alert_every; /* every K-th event alerts; 0 = none */
static struct agent_sim *agents;
static _Atomic uint64_t acked_events, reconnects, refusals;
static _Atomic bool stop;
static FILE *acked_file;
static pthread_mutex_t acked_mu = PTHREAD_MUTEX_INITIALIZER;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (all threads), seconds */
static double
cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int
open_session(struct agent_sim *a)
{
    char err[512];
    uint64_t last = 0;
    /* next seq 0 (not told): a rerun against the same data directory continues after what
     * the manager has (WELCOME's last seq) instead of being refused for going back */
    struct bn_wire_hello h = {{"bench", 5}, {"bench", 5}, 60000, a->acked, 0};
    bn_wire_close(a->conn);
    a->conn = NULL;
    a->sent_last = 0;
    a->ep_fd = -1;
    int rc =
        bn_wire_session_open(&a->conn, &a->id, server, &h, 5000, a->nonce, &last, err, sizeof(err));
    if (rc && !acked_path)
        fprintf(stderr, "bench_ingest: agent %s: %s\n", a->id.uid, err);
    if (!rc && !acked_path && last > a->acked)
        a->acked = last;
    return rc;
}

/* Per thread: the date text of the last second rendered. */
struct render {
    int64_t sec;
    char date[48]; /* "2026-11-18 08:26:40." */
};

static char *
put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *
put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Event seq of agent a: always the same bytes for the same seq. Event times follow the seqs
 * from a fixed start (one event per millisecond per agent), increasing like a real agent's.
 * buf holds at least 1024 bytes. */
static int
event(char *buf, struct render *r, const struct agent_sim *a, uint64_t seq)
{
    static const struct {
        const char *s;
        size_t n;
    } images[] = {{"/usr/bin/bash", 13},    {"/usr/bin/curl", 13}, {"/usr/sbin/sshd", 14},
                  {"/usr/bin/python3", 16}, {"/usr/bin/cat", 12},  {"/usr/bin/id", 11}};
    static const int64_t start = 1795000000; /* 2026-11-18 */
    int64_t ms = (int64_t)seq;
    int64_t sec = start + ms / 1000;
    if (sec != r->sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(r->date, sizeof(r->date), "%04d-%02d-%02d %02d:%02d:%02d.",
                 (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
                 tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
        r->sec = sec;
    }
    /* offset per agent, so that short runs with many agents alert too */
    bool alert = alert_every && (seq + (uint64_t)(a - agents) * 7919) % alert_every == 0;
    size_t img = alert ? 4 : seq % 6;
    int msec = (int)(ms % 1000);
    char *p = buf;
    p = PUT(p, "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"UtcTime\":\"");
    p = put(p, r->date, 20);
    *p++ = (char)('0' + msec / 100);
    *p++ = (char)('0' + msec / 10 % 10);
    *p++ = (char)('0' + msec % 10);
    p = PUT(p, "\",\"Computer\":\"bench-");
    p = put(p, a->id.uid, strnlen(a->id.uid, sizeof(a->id.uid)));
    p = PUT(p, "\",\"ProcessId\":");
    p = put_u64(p, 1000 + seq % 30000);
    p = PUT(p, ",\"Image\":\"");
    p = put(p, images[img].s, images[img].n);
    p = PUT(p, "\",\"CommandLine\":\"");
    if (alert) {
        p = PUT(p, "cat /etc/shadow");
    } else {
        p = put(p, images[img].s, images[img].n);
        p = PUT(p, " -c echo ");
        p = put_u64(p, seq);
    }
    p = PUT(p, "\",\"User\":\"root\",\"ParentImage\":\"/usr/bin/bash\",\"seq\":");
    p = put_u64(p, seq);
    *p++ = '}';
    return (int)(p - buf);
}

static int
send_batch(struct agent_sim *a, struct bn_wire_packer *p, struct bn_buf *f, struct render *r)
{
    char ev[1024];
    bn_wire_packer_reset(p);
    for (int i = 1; i <= batch; i++) {
        uint64_t seq = a->acked + (uint64_t)i;
        int n = event(ev, r, a, seq);
        if (bn_wire_packer_add(p, seq, ev, (size_t)n) != 0)
            return BN_EINTERNAL;
    }
    bn_buf_reset(f);
    int rc = bn_wire_packer_seal(p, a->nonce, a->id.sk, f);
    if (!rc)
        rc = bn_wire_send(a->conn, f->p, f->len);
    if (!rc) {
        a->sent_last = a->acked + (uint64_t)batch;
        a->sent_at = now_s();
    }
    return rc;
}

/* The ACK of a's batch: 0, BN_AGAIN when it is not complete yet (timeout_ms 0), or an
 * error (the session is to be closed). */
static int
take_ack(struct agent_sim *a, int timeout_ms)
{
    int type;
    const uint8_t *pl;
    uint32_t len;
    struct bn_wire_err e;
    int rc = bn_wire_recv(a->conn, timeout_ms, &type, &pl, &len, &e);
    if (rc)
        return rc;
    if (type == BN_WIRE_ERROR) {
        atomic_fetch_add(&refusals, 1);
        return BN_EDENIED;
    }
    struct bn_wire_ack ack;
    if (type != BN_WIRE_ACK || bn_wire_ack_decode(pl, len, &ack, &e) != 0 ||
        ack.last_seq != a->sent_last)
        return BN_EPROTO;
    if (acked_file) {
        pthread_mutex_lock(&acked_mu);
        fprintf(acked_file, "%s %llu %llu\n", a->id.uid, (unsigned long long)ack.first_seq,
                (unsigned long long)ack.last_seq);
        fflush(acked_file);
        pthread_mutex_unlock(&acked_mu);
    }
    atomic_fetch_add(&acked_events, ack.last_seq - a->acked);
    if (atomic_load(&timing)) {
        size_t k = atomic_fetch_add(&nlat, 1);
        if (k < LAT_MAX)
            lat[k] = now_s() - a->sent_at;
    }
    a->acked = ack.last_seq;
    a->sent_last = 0;
    return 0;
}

/* Opens the sessions of thread t's agents (before the clock starts). */
static void *
opener(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = t; i < nagents && !atomic_load(&stop); i += nthreads)
        if (open_session(&agents[i]) == 0)
            atomic_fetch_add(&reconnects, 1);
    return NULL;
}

static void
drop_session(struct agent_sim *a)
{
    bn_wire_close(a->conn);
    a->conn = NULL;
    a->sent_last = 0;
    a->ep_fd = -1; /* closing the fd took it out of the epoll set */
}

/*
 * Thread t drives agents t, t + nthreads, ...: every agent with a session and no batch in
 * flight sends one (paced when --rate), then the thread polls the sessions with a batch in
 * flight and takes each ACK as it comes, so the agent's next batch goes out at once.
 */
static void *
worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct bn_wire_packer *p;
    struct bn_buf f;
    struct render r = {-1, ""};
    if (bn_wire_packer_new(&p, 1) != 0)
        return NULL;
    bn_buf_init(&f, BN_WIRE_HDR + BN_WIRE_FRAME_MAX);
    /* sessions with a batch in flight wake the thread through epoll (level-triggered: an
     * ACK not taken yet is reported again) */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[256];
    /* paced: this thread's batches every `gap` seconds */
    double gap = rate > 0 ? (double)batch / (rate / nthreads) : 0, next = now_s();
    double retry_at = 0; /* agents without a session: next reconnect attempt */
    while (ep >= 0 && !atomic_load(&stop) && atomic_load(&acked_events) < total_events) {
        double now = now_s();
        double wait = 0.1; /* seconds until something is due when nothing comes in */
        bool retry = now >= retry_at, failed = false;
        size_t inflight = 0;
        for (int i = t; i < nagents; i += nthreads) {
            struct agent_sim *a = &agents[i];
            if (a->conn && a->sent_last) {
                inflight++;
                continue;
            }
            if (!a->conn) {
                if (!retry)
                    continue;
                if (open_session(a) != 0) {
                    failed = true;
                    continue;
                }
                atomic_fetch_add(&reconnects, 1);
            }
            if (gap > 0) {
                now = now_s();
                if (now - next > 1.0)
                    next = now; /* more than a second behind: do not burst to catch up */
                if (next > now) {
                    wait = BN_MIN(wait, next - now);
                    break;
                }
                next += gap;
            }
            if (send_batch(a, p, &f, &r) != 0) {
                drop_session(a);
                continue;
            }
            inflight++;
            int fd = bn_wire_fd(a->conn);
            if (a->ep_fd != fd) {
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = a};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0 &&
                    (errno != EEXIST || epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) != 0)) {
                    drop_session(a);
                    inflight--;
                    continue;
                }
                a->ep_fd = fd;
            }
        }
        if (failed)
            retry_at = now_s() + 0.1;
        if (!inflight) {
            /* no session, or paced and nothing due yet */
            usleep((useconds_t)(BN_MIN(wait, 0.01) * 1e6));
            continue;
        }
        int nr = epoll_wait(ep, evs, (int)BN_ARRAY_SIZE(evs), (int)(wait * 1000) + 1);
        for (int k = 0; k < nr; k++) {
            struct agent_sim *a = evs[k].data.ptr;
            if (!a->conn)
                continue;
            /* nothing is left buffered between two ACKs: one batch in flight, and take_ack
             * reads everything the socket has before it says BN_AGAIN; data on a session
             * with nothing in flight is an ERROR or the close */
            int rc = a->sent_last ? take_ack(a, 0) : BN_EPROTO;
            if (rc && rc != BN_AGAIN)
                drop_session(a);
        }
    }
    /* the batches still in flight: their ACKs, for --acked (nothing acknowledged is left
     * unrecorded) */
    for (int i = t; i < nagents; i += nthreads) {
        struct agent_sim *a = &agents[i];
        if (a->conn && a->sent_last && take_ack(a, 2000) != 0)
            drop_session(a);
    }
    if (ep >= 0)
        close(ep);
    bn_buf_release(&f);
    bn_wire_packer_free(p);
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop, true);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},      {"token", required_argument, NULL, 't'},
        {"dir", required_argument, NULL, 'd'},         {"agents", required_argument, NULL, 'a'},
        {"threads", required_argument, NULL, 'T'},     {"batch", required_argument, NULL, 'b'},
        {"events", required_argument, NULL, 'e'},      {"seconds", required_argument, NULL, 'S'},
        {"acked", required_argument, NULL, 'A'},       {"rate", required_argument, NULL, 'r'},
        {"alert-every", required_argument, NULL, 'x'}, {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': server = optarg; break;
        case 't': token = optarg; break;
        case 'd': dir = optarg; break;
        case 'a': nagents = (int)strtol(optarg, NULL, 10); break;
        case 'T': nthreads = (int)strtol(optarg, NULL, 10); break;
        case 'b': batch = (int)strtol(optarg, NULL, 10); break;
        case 'e': total_events = strtoull(optarg, NULL, 10); break;
        case 'S': seconds = strtod(optarg, NULL); break;
        case 'A': acked_path = optarg; break;
        case 'r': rate = strtod(optarg, NULL); break;
        case 'x': alert_every = strtoull(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    if (!server || !token || !dir || nagents < 1 || nthreads < 1 || batch < 1 ||
        batch > BN_WIRE_BATCH_EVENTS_MAX) {
        fprintf(stderr, "usage: bench_ingest --server H:P --token T --dir D [--agents N] "
                        "[--threads T] [--batch B] [--events E] [--seconds S] [--acked FILE] "
                        "[--rate EVENTS_PER_S] [--alert-every K]\n");
        return 2;
    }
    if (nthreads > nagents)
        nthreads = nagents;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    mkdir(dir, 0700);
    agents = calloc((size_t)nagents, sizeof(*agents));
    for (int i = 0; agents && i < nagents; i++)
        agents[i].ep_fd = -1;
    if (acked_path && !(acked_file = fopen(acked_path, "a"))) {
        fprintf(stderr, "bench_ingest: cannot open '%s': %s\n", acked_path, strerror(errno));
        return 1;
    }
    double t0 = now_s();
    for (int i = 0; i < nagents; i++) {
        char adir[4096], err[512];
        snprintf(adir, sizeof(adir), "%s/agent-%d", dir, i);
        if (bn_wire_ident_load(adir, &agents[i].id, err, sizeof(err)) == 0)
            continue; /* enrolled by an earlier run */
        char host[64];
        snprintf(host, sizeof(host), "bench-%d", i);
        int rc;
        while ((rc = bn_wire_enroll_run(server, token, adir, host, 60000, 10000, &agents[i].id, err,
                                        sizeof(err))) != 0) {
            if (!acked_path || rc == BN_EDENIED || atomic_load(&stop)) {
                fprintf(stderr, "bench_ingest: enrolment %d failed: %s\n", i, err);
                return 1;
            }
            usleep(100000); /* the manager is restarting */
        }
    }
    double t1 = now_s();
    fprintf(stderr, "bench_ingest: %d agents enrolled in %.2f s\n", nagents, t1 - t0);
    if (acked_path) {
        /* resume after the last acknowledged range of each agent */
        FILE *f = fopen(acked_path, "r");
        char uid[64];
        unsigned long long a, b;
        while (f && fscanf(f, "%63s %llu %llu", uid, &a, &b) == 3)
            for (int i = 0; i < nagents; i++)
                if (!strcmp(agents[i].id.uid, uid) && b > agents[i].acked)
                    agents[i].acked = b;
        if (f)
            fclose(f);
    }
    pthread_t thr[64];
    if (nthreads > 64)
        nthreads = 64;
    /* sessions first: the figure is the steady state with every connection held */
    double t_open = now_s();
    for (int t = 0; t < nthreads; t++)
        pthread_create(&thr[t], NULL, opener, (void *)(intptr_t)t);
    for (int t = 0; t < nthreads; t++)
        pthread_join(thr[t], NULL);
    fprintf(stderr, "bench_ingest: %llu sessions open in %.2f s\n",
            (unsigned long long)atomic_load(&reconnects), now_s() - t_open);
    lat = calloc(LAT_MAX, sizeof(*lat));
    atomic_store(&timing, lat != NULL);
    double cpu0 = cpu_s();
    t1 = now_s();
    for (int t = 0; t < nthreads; t++)
        pthread_create(&thr[t], NULL, worker, (void *)(intptr_t)t);
    uint64_t last = 0;
    double tl = t1;
    while (!atomic_load(&stop) && atomic_load(&acked_events) < total_events) {
        usleep(1000000);
        double tn = now_s();
        uint64_t v = atomic_load(&acked_events);
        fprintf(stderr, "bench_ingest: %.0f events/s (%llu acked)\n", (v - last) / (tn - tl),
                (unsigned long long)v);
        last = v;
        tl = tn;
        if (seconds > 0 && tn - t1 >= seconds)
            atomic_store(&stop, true);
    }
    atomic_store(&stop, true);
    for (int t = 0; t < nthreads; t++)
        pthread_join(thr[t], NULL);
    double t2 = now_s();
    double cpu = cpu_s() - cpu0;
    uint64_t v = atomic_load(&acked_events);
    printf("agents %d threads %d batch %d: %llu events acknowledged in %.2f s = %.0f events/s "
           "(sessions opened %llu, refusals %llu)\n",
           nagents, nthreads, batch, (unsigned long long)v, t2 - t1, v / (t2 - t1),
           (unsigned long long)atomic_load(&reconnects),
           (unsigned long long)atomic_load(&refusals));
    if (v)
        printf("bench client CPU: %.2f us per acknowledged event (%.2f s)\n", cpu * 1e6 / v, cpu);
    size_t nl = BN_MIN(atomic_load(&nlat), (size_t)LAT_MAX);
    if (nl) {
        qsort(lat, nl, sizeof(*lat), cmp_double);
        printf("batch send -> ack (commit included): p50 %.1f ms, p99 %.1f ms, max %.1f ms "
               "over %zu batches\n",
               lat[nl / 2] * 1e3, lat[(size_t)(nl * 0.99)] * 1e3, lat[nl - 1] * 1e3, nl);
    }
    free(lat);
    for (int i = 0; i < nagents; i++)
        bn_wire_close(agents[i].conn);
    free(agents);
    if (acked_file)
        fclose(acked_file);
    return 0;
}
