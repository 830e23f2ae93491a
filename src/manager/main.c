/*
 * main.c - bannind, the manager: one data directory (SQLite store, PKI), the agent link
 * (link.c: enrolment, mutual TLS, ingest) and the HTTP API (api.c), until SIGINT/SIGTERM.
 *
 *   bannind --data DIR [--listen HOST:PORT] [--api HOST:PORT|off] [--rules DIR]...
 *           [--no-detect] [--init] [--new-token TENANT [--uses N] [--ttl SECONDS]]
 *           [--sync normal|full] [--sync-inline] [--group-ms N] [--check] [-v]
 *
 * --init creates the first tenant ("default") and a provider_admin ("admin"), prints the
 * password once and exits. --new-token prints an enrolment token for a tenant and exits (the API
 * does the same for operators). --check opens everything, verifies the store and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"

#include "manager/api.h"
#include "manager/detect.h"
#include "manager/enroll.h"
#include "manager/ingest.h"
#include "manager/link.h"
#include "manager/metrics.h"
#include "manager/notify.h"
#include "manager/store.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: bannind --data DIR [options]\n"
            "  --data DIR            data directory (SQLite store, PKI); created if missing\n"
            "  --listen HOST:PORT    agent link (TLS 1.3, mutual) [127.0.0.1:7443]\n"
            "  --api HOST:PORT|off   HTTP API [127.0.0.1:8080]\n"
            "  --rules PATH          Sigma rules for central detection (repeatable) [the "
            "shipped rules/linux]\n"
            "  --no-detect           store events without central detection and triage\n"
            "  --init                create tenant 'default' and user 'admin' (password printed "
            "once), then exit\n"
            "  --new-token TENANT    print an enrolment token for TENANT (name or id), then exit\n"
            "  --uses N              uses of that token [1]\n"
            "  --ttl SECONDS         lifetime of that token [86400]\n"
            "  --sync normal|full    SQLite durability of acknowledged batches [full]\n"
            "  --store-layout blocks|rows  new events' JSON in zstd blocks, or inline in each row\n"
            "                        as before schema 6 (for comparison) [blocks]\n"
            "  --writer-thread       experimental: store, detect and commit batches on their own\n"
            "                        thread (also BANNIND_WRITER_THREAD=1) [off]\n"
            "  --sync-inline         the group commit waits for the disk on the link thread, as\n"
            "                        before the sync pipeline (also BANNIND_SYNC_INLINE=1) [off]\n"
            "  --detect-inline       central detection on the link thread itself, not on its own\n"
            "                        thread (also BANNIND_DETECT_THREAD=0) [own thread]\n"
            "  --group-ms N          commit a group of batches once its oldest batch is N ms old\n"
            "                        (1..1000) [10]\n"
            "  --check               open and verify the data directory, then exit\n"
            "  --grep TEXT           print how many stored events contain TEXT, then exit\n"
            "                        (reads any store layout; for tests and support)\n"
            "  -v, --verbose         more diagnostics on stderr (repeatable)\n"
            "  -h, --help\n");
}

static int
split_hp(const char *hp, char *host, size_t hsize, int *port)
{
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp)
        return BN_EINVAL;
    size_t hl = (size_t)(colon - hp);
    if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
        hp++;
        hl -= 2;
    }
    if (hl >= hsize)
        return BN_EINVAL;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return BN_EINVAL;
    *port = (int)p;
    return 0;
}

static int64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* The detection pipeline's housekeeping, from the link's timer. */
static void
pipeline_tick(void *ctx, int64_t now_ns)
{
    detect_ingest_tick(ctx, now_ns);
}

/* Store maintenance on its own thread and store handle: WAL checkpoints every 100 ms (the
 * link's handle runs with autocheckpoint off, so its commits never stall on one), retention
 * by age and size every 10 s (again at once while a step reports more), and expired sessions
 * and API tokens every minute. */
struct maint {
    const char *data;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void *
maint_thread(void *arg)
{
    struct maint *m = arg;
    struct store *st = NULL;
    struct store_err se;
    struct store_opts so;
    memset(&so, 0, sizeof(so));
    so.autocheckpoint = -1;
    if (store_open_ex(&st, m->data, &so, &se) != 0) {
        BN_ERROR("bannind", "checkpoint thread: cannot open the store: %s", se.msg);
        return NULL;
    }
    int64_t next_retention = 0, next_expire = 0;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 100 * 1000000l;
        if (dl.tv_nsec >= 1000000000l) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000l;
        }
        pthread_cond_timedwait(&m->cv, &m->mu, &dl);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->mu);
        int64_t pages = 0, done = 0;
        int rc = store_checkpoint(st, 0, &pages, &done);
        if (rc && rc != BN_AGAIN)
            BN_WARN("bannind", "checkpoint: %s", bn_strerror(rc));
        int64_t now = wall_ns();
        if (now >= next_retention) {
            struct store_retention_stats rs;
            memset(&rs, 0, sizeof(rs));
            rc = store_retention_step(st, now, 0, &rs);
            if (rc)
                BN_WARN("bannind", "retention: %s", bn_strerror(rc));
            else if (rs.deleted_age || rs.deleted_size)
                BN_INFO("bannind", "retention: %lld events past their age, %lld over size",
                        (long long)rs.deleted_age, (long long)rs.deleted_size);
            next_retention = now + (rs.more ? 0 : 10ll * 1000000000ll);
        }
        if (now >= next_expire) {
            int64_t n = 0;
            if ((rc = store_auth_expire(st, now, &n)) != 0)
                BN_WARN("bannind", "session expiry: %s", bn_strerror(rc));
            next_expire = now + 60ll * 1000000000ll;
        }
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    store_checkpoint(st, 1, NULL, NULL);
    store_close(st);
    return NULL;
}

/* What an API call changed reaches central detection (ctx: the pipeline, or NULL). */
static void
on_api_change(void *ctx, unsigned what)
{
    struct detect_ingest *di = ctx;
    if (!di)
        return;
    if (what & (API_CHANGE_IOC | API_CHANGE_RULE_STATE))
        detect_ingest_changed(di);
    if (what & API_CHANGE_RULES)
        detect_ingest_rules_changed(di);
}

static void *
link_thread(void *arg)
{
    link_run(arg);
    return NULL;
}

static int
new_token(const char *data, struct enroll *en, const char *tenant, int uses, int64_t ttl_s)
{
    struct store *st;
    struct store_err se;
    int rc = store_open(&st, data, &se);
    if (rc) {
        fprintf(stderr, "bannind: cannot open the store in '%s': %s\n", data, se.msg);
        return 1;
    }
    struct store_tenant t;
    char *end;
    long long id = strtoll(tenant, &end, 10);
    rc = *end ? store_tenant_by_name(st, tenant, &t) : store_tenant_get(st, id, &t);
    if (rc) {
        fprintf(stderr, "bannind: no tenant '%s' (run bannind --init first)\n", tenant);
        store_close(st);
        return 1;
    }
    char tok[ENROLL_TOKEN_MAX];
    int64_t tid;
    rc = enroll_token_new(en, st, t.id, uses, wall_ns() + ttl_s * 1000000000ll, "bannind", tok,
                          sizeof(tok), &tid);
    store_close(st);
    if (rc) {
        fprintf(stderr, "bannind: cannot create a token: %s\n", bn_strerror(rc));
        return 1;
    }
    printf("%s\n", tok);
    return 0;
}

struct grep_ctx {
    const char *text;
    size_t len;
    int64_t found;
};

static int
grep_cb(void *ctx, const struct store_event *e)
{
    struct grep_ctx *g = ctx;
    if (e->json_len >= g->len && memmem(e->json, e->json_len, g->text, g->len))
        g->found++;
    return 0;
}

/* --grep: the stored events whose JSON contains text, through the store (compressed blocks,
 * compressed rows or plain rows alike), every tenant, newest first in pages. */
static int
grep_events(const char *data, const char *text)
{
    struct store *st = NULL;
    struct store_err se;
    if (store_open(&st, data, &se) != 0) {
        fprintf(stderr, "bannind: cannot open the store in '%s': %s\n", data, se.msg);
        return 1;
    }
    struct grep_ctx g = {text, strlen(text), 0};
    struct store_event_query q;
    memset(&q, 0, sizeof(q));
    q.scope.all = 1;
    q.limit = BN_STORE_QUERY_ROWS_MAX;
    int more = 1, rc = 0;
    while (rc == 0 && more) {
        struct store_cursor next = {0, 0};
        more = 0;
        rc = store_event_search(st, &q, grep_cb, &g, &next, &more);
        q.after = next;
    }
    if (rc != 0)
        fprintf(stderr, "bannind: event search: %s\n", store_errmsg(st));
    else
        printf("%lld\n", (long long)g.found);
    store_close(st);
    return rc ? 1 : 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"api", required_argument, NULL, 'a'},
        {"init", no_argument, NULL, 'I'},
        {"new-token", required_argument, NULL, 'T'},
        {"uses", required_argument, NULL, 'u'},
        {"ttl", required_argument, NULL, 't'},
        {"sync", required_argument, NULL, 's'},
        {"store-layout", required_argument, NULL, 'L'},
        {"grep", required_argument, NULL, 'G'},
        {"check", no_argument, NULL, 'C'},
        {"rules", required_argument, NULL, 'r'},
        {"no-detect", no_argument, NULL, 'N'},
        {"writer-thread", no_argument, NULL, 'W'},
        {"sync-inline", no_argument, NULL, 'S'},
        {"detect-inline", no_argument, NULL, 'D'},
        {"detect-thread", no_argument, NULL, 'E'},
        {"group-ms", required_argument, NULL, 'g'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *listen_hp = "127.0.0.1:7443", *api_hp = "127.0.0.1:8080";
    const char *token_tenant = NULL, *grep_text = NULL;
    bool init = false, check = false, sync_full = true, detect_on = true, row_events = false;
    const char *wenv = getenv("BANNIND_WRITER_THREAD");
    bool writer_thread = wenv && *wenv && strcmp(wenv, "0") != 0;
    const char *senv = getenv("BANNIND_SYNC_INLINE");
    bool sync_inline = senv && *senv && strcmp(senv, "0") != 0;
    const char *denv = getenv("BANNIND_DETECT_THREAD");
    bool detect_thread = !denv || !*denv || strcmp(denv, "0") != 0;
    int64_t group_ms = 0;
    const char *rule_paths[64];
    size_t nrule_paths = 0;
    int verbose = 0, uses = 1, opt;
    int64_t ttl = 86400;
    while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': data = optarg; break;
        case 'l': listen_hp = optarg; break;
        case 'a': api_hp = optarg; break;
        case 'I': init = true; break;
        case 'W': writer_thread = true; break;
        case 'S': sync_inline = true; break;
        case 'D': detect_thread = false; break;
        case 'E': detect_thread = true; break;
        case 'g': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000) {
                fprintf(stderr, "bannind: bad --group-ms '%s' (1..1000)\n", optarg);
                return 2;
            }
            group_ms = v;
            break;
        }
        case 'T': token_tenant = optarg; break;
        case 'u': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000000) {
                fprintf(stderr, "bannind: bad --uses '%s' (1..1000000)\n", optarg);
                return 2;
            }
            uses = (int)v;
            break;
        }
        case 't': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || v < 60 || v > 365ll * 86400) {
                fprintf(stderr, "bannind: bad --ttl '%s' (60..31536000 seconds)\n", optarg);
                return 2;
            }
            ttl = v;
            break;
        }
        case 's':
            if (strcmp(optarg, "full") && strcmp(optarg, "normal")) {
                fprintf(stderr, "bannind: --sync is 'full' or 'normal'\n");
                return 2;
            }
            sync_full = !strcmp(optarg, "full");
            break;
        case 'G': grep_text = optarg; break;
        case 'L':
            if (strcmp(optarg, "blocks") && strcmp(optarg, "rows")) {
                fprintf(stderr, "bannind: --store-layout is 'blocks' or 'rows'\n");
                return 2;
            }
            row_events = !strcmp(optarg, "rows");
            break;
        case 'C': check = true; break;
        case 'r':
            if (nrule_paths == BN_ARRAY_SIZE(rule_paths)) {
                fprintf(stderr, "bannind: at most 64 --rules\n");
                return 2;
            }
            rule_paths[nrule_paths++] = optarg;
            break;
        case 'N': detect_on = false; break;
        case 'v': verbose++; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !data) {
        if (optind < argc)
            fprintf(stderr, "bannind: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "bannind: --data DIR is required\n");
        usage(stderr);
        return 2;
    }
    bn_log_set_level(verbose >= 2 ? BN_LOG_DEBUG : verbose ? BN_LOG_INFO : BN_LOG_WARN);
    char lhost[256], ahost[256];
    int lport = 0, aport = 0;
    bool api_on = strcmp(api_hp, "off") != 0;
    if (split_hp(listen_hp, lhost, sizeof(lhost), &lport) != 0 ||
        (api_on && split_hp(api_hp, ahost, sizeof(ahost), &aport) != 0)) {
        fprintf(stderr, "bannind: addresses are HOST:PORT\n");
        return 2;
    }
    if (grep_text)
        return grep_events(data, grep_text);
    if (mkdir(data, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "bannind: cannot create '%s': %s\n", data, strerror(errno));
        return 1;
    }

    int ret = 1, rc;
    struct store *st = NULL;
    struct enroll *en = NULL;
    struct link *link = NULL;
    struct api *api = NULL;
    struct detect_rules *rules = NULL;
    struct detect_ingest *di = NULL;
    struct notify *notify = NULL;
    struct store_err se;
    struct bn_diag d;
    static struct mgr_metrics metrics;

    struct store_opts so;
    memset(&so, 0, sizeof(so));
    so.sync_full = sync_full;
    so.row_events = row_events;
    so.autocheckpoint = -1; /* the checkpoint thread does it */
    so.cache_kib = 65536;   /* the ingest handle: index pages of a busy day stay cached */
    if ((rc = store_open_ex(&st, data, &so, &se)) != 0) {
        fprintf(stderr, "bannind: cannot open the store in '%s': %s\n", data, se.msg);
        goto out;
    }
    bn_diag_clear(&d);
    if ((rc = enroll_open(&en, data, &d)) != 0) {
        char buf[800];
        fprintf(stderr, "bannind: %s\n", bn_diag_format(&d, buf, sizeof(buf)));
        goto out;
    }
    if (check) {
        if ((rc = store_check(st, &se)) != 0) {
            fprintf(stderr, "bannind: store check failed: %s\n", se.msg);
            goto out;
        }
        printf("data %s: store schema %d ok, server CA %s\n", data, store_schema_version(st),
               enroll_server_ca_fp(en));
        ret = 0;
        goto out;
    }
    if (init) {
        char pw[64];
        rc = api_bootstrap(data, "default", "admin", pw, sizeof(pw));
        if (rc == BN_EEXIST) {
            printf("bannind: user 'admin' exists already (nothing changed)\n");
        } else if (rc) {
            fprintf(stderr, "bannind: --init failed: %s\n", bn_strerror(rc));
            goto out;
        } else {
            printf("tenant: default\nuser: admin\npassword: %s\n"
                   "(shown once; change it with the API)\n",
                   pw);
        }
        fflush(stdout);
    }
    if (token_tenant) {
        ret = new_token(data, en, token_tenant, uses, ttl);
        goto out;
    }
    if (init) {
        ret = 0; /* initialised: start it again without --init to serve */
        goto out;
    }

    /* one descriptor per agent connection: raise the soft limit to the hard one */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    /* signals are taken by this thread; the link and API threads inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct ingest_hooks hooks;
    memset(&hooks, 0, sizeof(hooks));
    if (detect_on) {
        /* central detection and triage in the batch's transaction (detect.h), notifications
         * from the outbox on their own thread */
        struct detect_load_stats ls;
        memset(&ls, 0, sizeof(ls));
        if ((rc = detect_rules_load_store(&rules, rule_paths, nrule_paths, st, &ls)) != 0) {
            char buf[800];
            fprintf(stderr, "bannind: cannot load rules: %s\n",
                    bn_diag_format(&ls.first, buf, sizeof(buf)));
            goto out;
        }
        if (ls.failed)
            BN_WARN("bannind", "%zu rules did not load (first: %s)", ls.failed, ls.first.msg);
        struct notify_opts no;
        memset(&no, 0, sizeof(no));
        no.data_dir = data;
        if ((rc = notify_start(&notify, &no)) != 0) {
            fprintf(stderr, "bannind: cannot start notifications: %s\n", bn_strerror(rc));
            goto out;
        }
        struct detect_ingest_opts dio;
        memset(&dio, 0, sizeof(dio));
        dio.rules = rules;
        dio.st = st;
        dio.notify = notify;
        dio.metrics = &metrics;
        dio.data_dir = data;
        dio.rule_paths = rule_paths;
        dio.nrule_paths = nrule_paths;
        dio.offload = detect_thread;
        if ((rc = detect_ingest_new(&di, &dio)) != 0) {
            fprintf(stderr, "bannind: cannot start central detection: %s\n", bn_strerror(rc));
            goto out;
        }
        detect_ingest_hooks(di, &hooks);
        if (!hooks.on_tick)
            hooks.on_tick = pipeline_tick;
        BN_INFO("bannind", "central detection: %zu rules, %s", detect_rules_count(rules),
                detect_thread ? "on its own thread" : "on the link thread");
    }
    struct link_opts lo;
    memset(&lo, 0, sizeof(lo));
    lo.host = lhost;
    lo.port = lport;
    lo.metrics = &metrics;
    lo.writer_thread = writer_thread;
    lo.sync_inline = sync_inline;
    lo.group_ms = group_ms;
    bn_diag_clear(&d);
    if ((rc = link_new(&link, &lo, st, en, &hooks, &d)) != 0) {
        fprintf(stderr, "bannind: %s\n", d.msg);
        goto out;
    }
    if (api_on) {
        struct api_config ac;
        memset(&ac, 0, sizeof(ac));
        ac.data_dir = data;
        ac.listen_host = ahost;
        ac.port = (uint16_t)aport;
        ac.metrics = &metrics;
        ac.rule_paths = rule_paths;
        ac.nrule_paths = nrule_paths;
        ac.on_change = on_api_change;
        ac.on_change_ctx = di;
        if ((rc = api_start(&ac, &api)) != 0) {
            fprintf(stderr, "bannind: cannot start the API on %s: %s\n", api_hp, bn_strerror(rc));
            goto out;
        }
    }
    static struct maint maint = {NULL, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    maint.data = data;
    pthread_t mthr;
    if (pthread_create(&mthr, NULL, maint_thread, &maint) != 0) {
        fprintf(stderr, "bannind: cannot start the checkpoint thread\n");
        goto out;
    }
    pthread_t thr;
    if (pthread_create(&thr, NULL, link_thread, link) != 0) {
        fprintf(stderr, "bannind: cannot start the link thread\n");
        goto out;
    }
    printf("bannind: agents on %s:%d (server CA %s)", lhost, link_port(link),
           enroll_server_ca_fp(en));
    if (api)
        printf(", API on http://%s:%u/api/v1/", ahost, api_port(api));
    printf("\n");
    fflush(stdout);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    link_stop(link);
    pthread_join(thr, NULL);
    pthread_mutex_lock(&maint.mu);
    maint.stop = true;
    pthread_cond_signal(&maint.cv);
    pthread_mutex_unlock(&maint.mu);
    pthread_join(mthr, NULL);
    struct link_counters c;
    link_counters(link, &c);
    if (verbose)
        fprintf(stderr,
                "bannind: %llu connections, %llu sessions, %llu batches, %llu events stored, "
                "%llu duplicates, %llu refused frames\n",
                (unsigned long long)c.accepted, (unsigned long long)c.sessions,
                (unsigned long long)c.ingest.batches, (unsigned long long)c.ingest.inserted,
                (unsigned long long)c.ingest.dups, (unsigned long long)c.bad_frames);
    if (c.ingest.lat_batches)
        fprintf(stderr,
                "bannind: %llu batches, receipt -> durable commit (events and their alerts): "
                "p50 %u ms, p99 %u ms, max %u ms\n",
                (unsigned long long)c.ingest.lat_batches, c.ingest.lat_p50_ms, c.ingest.lat_p99_ms,
                c.ingest.lat_max_ms);
    if (c.ingest.alert_batches)
        fprintf(stderr,
                "bannind: %llu batches raised alerts, receipt -> alert durable: "
                "p50 %u ms, p99 %u ms, max %u ms\n",
                (unsigned long long)c.ingest.alert_batches, c.ingest.alert_p50_ms,
                c.ingest.alert_p99_ms, c.ingest.alert_max_ms);
    if (di) {
        struct detect_ingest_stats ds;
        detect_ingest_get_stats(di, &ds);
        fprintf(stderr,
                "bannind: central detection: %llu events, %llu alerts; on its own thread: %llu "
                "chunks, %llu matched by the link itself, ring full %llu times\n",
                (unsigned long long)ds.detect.events, (unsigned long long)ds.detect.alerts,
                (unsigned long long)ds.offload_jobs, (unsigned long long)ds.offload_helped,
                (unsigned long long)ds.offload_waits);
    }
    ret = 0;
out:
    api_stop(api);
    link_free(link);
    detect_ingest_free(di);
    notify_stop(notify);
    detect_rules_free(rules);
    enroll_free(en);
    store_close(st);
    return ret;
}
