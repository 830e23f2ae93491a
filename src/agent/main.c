/*
 * main.c - the bannin-agent program: command line, configuration, signals, and the run of
 * the agent (agent.c) until SIGTERM/SIGINT or --duration.
 *
 *   bannin-agent [--config FILE] [--stdout] [--output FILE] [--tier auto|bpf|netlink|poll]
 *                [--rules DIR]... [--spool DIR] [--server HOST:PORT] [--link-dir DIR]
 *                [--check] [--dump-config] [--duration SECONDS]
 *   bannin-agent enroll --server HOST:PORT --token T [--dir DIR] [--host NAME]
 *   bannin-agent action TYPE [JSON] [--state-dir DIR] [--vault-dir DIR] [--baseline-dir DIR]
 *
 * Command-line options override the configuration file; both go through the one settings
 * table (config.c), so the same bounds and messages apply.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bannin/alloc.h"
#include "bannin/config.h"
#include "bannin/error.h"
#include "bannin/log.h"

#include "agent/agent.h"
#include "agent/respond.h"
#include "agent/respond_log.h"
#include "agent/uplink.h"
#include "bannin/wire.h"

/*
 * Strong references to the collectors in the library: a static archive member is linked only
 * when something references it strongly (agent.c's references are weak so the agent builds
 * while collectors are missing). Add a collector here when it lands.
 */
const void *const agent_main_collectors[] = {
    &agent_collector_proc_connector,
    &agent_collector_auth,
    &agent_collector_proc_poll,
    &agent_collector_fanotify,
    &agent_collector_bpf,
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: bannin-agent [options]\n"
            "  --config FILE        YAML configuration (see --dump-config for every key)\n"
            "  --stdout             write events as NDJSON to standard output\n"
            "  --output FILE        append events as NDJSON to FILE\n"
            "  --tier T             auto, bpf, netlink or poll (forced: no fallback)\n"
            "  --rules DIR          load Sigma rules from DIR as well (repeatable)\n"
            "  --no-builtin-rules   do not load Bannin's rules/linux\n"
            "  --spool DIR          durable spool directory\n"
            "  --server HOST:PORT   send events to this manager (needs --spool and enrolment)\n"
            "  --link-dir DIR       enrolment directory [" UPLINK_DIR_DEFAULT "]\n"
            "  --check              print what each collector can see here, then exit\n"
            "  --dump-config        print the effective configuration as YAML, then exit\n"
            "  --duration SECONDS   run this long, then stop (tests)\n"
            "  -v, --verbose        more diagnostics on stderr (repeatable)\n"
            "  -h, --help\n"
            "       bannin-agent enroll --server HOST:PORT --token TOKEN [--dir DIR] "
            "[--host NAME]\n"
            "                           [--heartbeat MS]\n"
            "       bannin-agent action TYPE ['{JSON params}'] [--state-dir DIR] "
            "[--vault-dir DIR]\n"
            "                           [--baseline-dir DIR] [--events]   run one response "
            "action\n");
}

#define RESPOND_STATE_DEFAULT "/var/lib/bannin-agent/respond"

static void
print_event(void *arg, const char *json, size_t len)
{
    (void)arg;
    fprintf(stderr, "%.*s\n", (int)len, json);
}

/*
 * bannin-agent action TYPE [JSON]: runs one response action here, through the same
 * agent_respond the manager's ACTION frames use, and prints its result JSON. Exit 0 when the
 * action ran and its result says ok, 1 when it ran and failed, 2 when it was refused.
 */
static int
action_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"vault-dir", required_argument, NULL, 'v'},
        {"baseline-dir", required_argument, NULL, 'b'},
        {"events", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct respond_paths paths = {RESPOND_STATE_DEFAULT, NULL, NULL};
    bool events = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            paths.state_dir = optarg;
            break;
        case 'v':
            paths.vault_dir = optarg;
            break;
        case 'b':
            paths.baseline_dir = optarg;
            break;
        case 'e':
            events = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        fprintf(stderr, "bannin-agent action: need TYPE and at most one JSON argument\n");
        usage(stderr);
        return 2;
    }
    const char *type = argv[optind];
    const char *params = optind + 1 < argc ? argv[optind + 1] : "{}";
    struct respond *r = NULL;
    int rc = respond_new(&r, &paths);
    if (rc) {
        fprintf(stderr, "bannin-agent action: cannot start the responders (state %s): %s\n",
                paths.state_dir, bn_strerror(rc));
        return 2;
    }
    if (events)
        respond_set_event_cb(r, print_event, NULL);
    struct bn_buf out;
    bn_buf_init(&out, BN_RESPOND_RESULT_MAX);
    rc = agent_respond_ex(r, 0, "cli", type, params, strlen(params), &out);
    if (out.len)
        printf("%.*s\n", (int)out.len, out.p);
    int ret = 2;
    if (rc == 0) {
        struct respond_stats st;
        respond_get_stats(r, &st);
        ret = st.failed_ok_false ? 1 : 0;
    } else if (!out.len) {
        fprintf(stderr, "bannin-agent action: %s: %s\n", type, bn_strerror(rc));
    }
    bn_buf_release(&out);
    respond_free(r);
    return ret;
}

static void
enroll_usage(int to_stderr)
{
    usage(to_stderr ? stderr : stdout);
}

/* bannin-agent enroll: keys, CSR, CA pinned by the token, files in the link directory. */
static int
enroll_main(int argc, char **argv)
{
    static const struct bn_wire_enroll_cli cli = {
        .prog = "bannin-agent",
        .role = "agent",
        .dir = UPLINK_DIR_DEFAULT,
        .heartbeat_ms = 60000,
        .host_fallback = "localhost",
        .usage = enroll_usage,
    };
    return bn_wire_enroll_main(&cli, argc, argv);
}

static int
set_opt(struct agent_config *c, const char *key, const char *val)
{
    struct bn_diag d;
    bn_diag_clear(&d);
    snprintf(d.file, sizeof(d.file), "<command line>");
    int rc = bn_conf_set(agent_conf_defs, agent_conf_ndefs, c, key, val, &d);
    if (rc)
        fprintf(stderr, "bannin-agent: bad option for '%s': %s\n", key, d.msg);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"stdout", no_argument, NULL, 's'},
        {"output", required_argument, NULL, 'o'},
        {"tier", required_argument, NULL, 't'},
        {"rules", required_argument, NULL, 'r'},
        {"no-builtin-rules", no_argument, NULL, 'B'},
        {"spool", required_argument, NULL, 'S'},
        {"server", required_argument, NULL, 'M'},
        {"link-dir", required_argument, NULL, 'L'},
        {"check", no_argument, NULL, 'C'},
        {"dump-config", no_argument, NULL, 'D'},
        {"duration", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    bool check = false, dump = false;
    double duration = 0;
    int verbose = 0, ret = 2, rc;
    struct agent_config conf;
    struct agent *a = NULL;
    struct bn_diag d;
    char dbuf[800];
    bool conf_ok = false;

    if (argc > 1 && strcmp(argv[1], "enroll") == 0)
        return enroll_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "action") == 0)
        return action_main(argc - 1, argv + 1);

    /* first pass: the config file, so the command line overrides it */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            config = argv[i] + 9;
    }
    if ((rc = agent_config_init(&conf)) != 0) {
        fprintf(stderr, "bannin-agent: cannot set the default configuration: %s\n",
                bn_strerror(rc));
        return 2;
    }
    conf_ok = true;
    bn_diag_clear(&d);
    if (config && (rc = agent_config_load(&conf, config, &d)) != 0) {
        fprintf(stderr, "bannin-agent: %s\n", bn_diag_format(&d, dbuf, sizeof(dbuf)));
        goto out;
    }

    int opt;
    while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            break;
        case 's':
            if (set_opt(&conf, "output.stdout", "true"))
                goto out;
            break;
        case 'o':
            if (set_opt(&conf, "output.file", optarg))
                goto out;
            break;
        case 't':
            if (set_opt(&conf, "collect.tier", optarg))
                goto out;
            break;
        case 'r': {
            size_t n = strlen(conf.rules_dirs ? conf.rules_dirs : "") + strlen(optarg) + 2;
            char *v = bn_malloc(n);
            if (!v)
                goto out;
            snprintf(v, n, "%s%s%s", conf.rules_dirs ? conf.rules_dirs : "",
                     conf.rules_dirs && *conf.rules_dirs ? "," : "", optarg);
            rc = set_opt(&conf, "detect.rules", v);
            bn_free(v);
            if (rc)
                goto out;
            break;
        }
        case 'B':
            if (set_opt(&conf, "detect.builtin", "false"))
                goto out;
            break;
        case 'S':
            if (set_opt(&conf, "output.spool_dir", optarg))
                goto out;
            break;
        case 'M':
            if (set_opt(&conf, "server.address", optarg))
                goto out;
            break;
        case 'L':
            if (set_opt(&conf, "server.dir", optarg))
                goto out;
            break;
        case 'C':
            check = true;
            break;
        case 'D':
            dump = true;
            break;
        case 'd': {
            char *end;
            errno = 0;
            duration = strtod(optarg, &end);
            if (errno || *end || duration <= 0 || duration > 1e7) {
                fprintf(stderr, "bannin-agent: bad --duration '%s'\n", optarg);
                goto out;
            }
            break;
        }
        case 'v':
            verbose++;
            break;
        case 'h':
            usage(stdout);
            ret = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bannin-agent: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        goto out;
    }
    bn_log_set_level(verbose >= 2 ? BN_LOG_DEBUG : verbose ? BN_LOG_INFO : BN_LOG_WARN);

    if (dump) {
        bn_conf_dump(agent_conf_defs, agent_conf_ndefs, &conf, stdout);
        ret = 0;
        goto out;
    }

    /* signals are taken synchronously by this thread; every other thread inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    bn_diag_clear(&d);
    if ((rc = agent_new(&a, &conf, &d)) != 0) {
        fprintf(stderr, "bannin-agent: %s\n", d.msg[0] ? d.msg : bn_strerror(rc));
        goto out;
    }
    if (check) {
        ret = agent_check(a, stdout) == 0 ? 0 : 1;
        goto out;
    }
    bn_diag_clear(&d);
    if ((rc = agent_start(a, &d)) != 0) {
        fprintf(stderr, "bannin-agent: %s\n", d.msg[0] ? d.msg : bn_strerror(rc));
        ret = 1;
        goto out;
    }

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)duration;
    deadline.tv_nsec += (long)((duration - (double)(time_t)duration) * 1e9);
    if (deadline.tv_nsec >= 1000000000l) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000l;
    }
    for (;;) {
        struct timespec wait = {1, 0};
        if (duration > 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            int64_t left = (int64_t)(deadline.tv_sec - now.tv_sec) * 1000000000ll +
                           (deadline.tv_nsec - now.tv_nsec);
            if (left <= 0)
                break;
            if (left < 1000000000ll) {
                wait.tv_sec = 0;
                wait.tv_nsec = (long)left;
            }
        }
        int sig = sigtimedwait(&set, NULL, &wait);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        /* SIGHUP: reload is not supported yet; keep running */
    }
    agent_stop(a);
    struct agent_counters c;
    agent_counters(a, &c);
    if (verbose)
        fprintf(stderr,
                "bannin-agent: %llu events, %llu alerts, %llu shed, %llu sampled, %llu filtered\n",
                (unsigned long long)c.processed, (unsigned long long)c.alerts,
                (unsigned long long)c.shed, (unsigned long long)c.sampled,
                (unsigned long long)c.filtered);
    ret = 0;
out:
    agent_free(a);
    if (conf_ok)
        agent_config_release(&conf);
    return ret;
}
