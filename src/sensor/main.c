/*
 * main.c - bannin-sensor: the network sensor. Captures live from an interface (-i, with an
 * optional BPF filter -f) or reads a capture file (-r), runs the pipeline (pipeline.h) and
 * writes eve NDJSON (--eve) and Zeek-named NDJSON (--zeek); Sigma rules (--rules) run on
 * the Zeek-named records. Counters go to stderr on exit and on SIGUSR1 (a JSON line), with
 * the kernel's capture drops: every drop is counted somewhere.
 *
 * With --server / --link-dir (after `bannin-sensor enroll`) every eve record also goes to the
 * manager through a durable spool and the uplink (uplink_net.h), with periodic stats records
 * and heartbeat health; --eve keeps writing NDJSON beside it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "sensor/app.h"
#include "sensor/pipeline.h"
#include "sensor/uplink_net.h"

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_report;
static struct net_capture *g_cap;

static void
on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_cap)
        net_capture_break(g_cap);
}

static void
on_usr1(int sig)
{
    (void)sig;
    g_report = 1;
}

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: bannin-sensor (-i IFACE [-f FILTER] | -r FILE) [options]\n"
            "\n"
            "  -i, --interface IFACE  capture live on IFACE\n"
            "  -f, --filter EXPR      BPF filter (tcpdump syntax)\n"
            "  -r, --read FILE        read a pcap/pcapng file instead\n"
            "      --eve FILE         eve NDJSON records to FILE ('-' = stdout)\n"
            "      --zeek FILE        Zeek-named NDJSON records to FILE\n"
            "      --rules PATH       Sigma rules (file or directory, repeatable)\n"
            "      --max-flows N      flow table bound (default %u)\n"
            "      --midstream        TCP without a handshake counts as established\n"
            "      --ips              parse TCP bytes as they arrive, not once acknowledged\n"
            "      --community-id-seed N\n"
            "      --no-app           flows only\n"
            "      --no-ndr           no built-in network detections\n"
            "      --ndr-config FILE  YAML of ndr.* keys (thresholds, internal networks, ignores)\n"
            "      --ioc FILE         IOC list (CSV or STIX 2.1, repeatable) for the detections\n"
            "      --eve-http-dump-all-headers  every request/response header in eve http\n"
            "      --eve-http-basic   eve http records without the extended fields\n"
            "      --eve-tls-no-resumed  no eve tls record for a resumed session\n"
            "  -v, --verbose          log more\n"
            "\n"
            "Sending to the manager (after: bannin-sensor enroll --server H:P --token T "
            "[--dir DIR]):\n"
            "      --server HOST:PORT the manager (default: the enrolled one)\n"
            "      --link-dir DIR     enrolment directory (default %s)\n"
            "      --spool DIR        durable spool (default LINK-DIR/spool)\n"
            "      --spool-max BYTES  spool bound (default 256 MiB; lowest classes shed first)\n"
            "      --host NAME        host name the link announces\n"
            "      --heartbeat MS     heartbeat interval (default 30000)\n"
            "      --stats-interval S a stats record to the manager every S seconds (default "
            "60)\n"
            "      --drain S          at exit, wait up to S seconds for the manager's "
            "acknowledgements\n"
            "                         (default 60 with -r, 5 live)\n"
            "\n"
            "Counters are printed to stderr as JSON on exit and on SIGUSR1.\n",
            NET_FLOWS_DEFAULT, NET_LINK_DIR_DEFAULT);
}

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The counters as the members of one JSON object (without braces): reason, capture, stats
 * and, with the manager link, link. */
static int
stats_members(struct net_pipeline *p, struct net_capture *cap, struct net_link *link,
              const char *why, struct bn_buf *out)
{
    uint64_t recv, drop, ifdrop;

    net_capture_kstats(cap, &recv, &drop, &ifdrop);
    int rc = bn_buf_printf(out,
                           "\"reason\":\"%s\",\"capture\":{\"kernel_received\":%llu,"
                           "\"kernel_dropped\":%llu,\"interface_dropped\":%llu},\"stats\":",
                           why, (unsigned long long)recv, (unsigned long long)drop,
                           (unsigned long long)ifdrop);
    rc = rc ? rc : net_pipeline_stats_json(p, out);
    if (rc == 0 && link) {
        rc = bn_buf_puts(out, ",\"link\":");
        rc = rc ? rc : net_link_counters_json(link, out);
    }
    return rc;
}

static void
report(struct net_pipeline *p, struct net_capture *cap, struct net_link *link, const char *why)
{
    struct bn_buf b;

    net_pipeline_flush_out(p);
    bn_buf_init(&b, 1 << 20);
    if (stats_members(p, cap, link, why, &b) == 0) {
        if (strcmp(why, "interval") != 0) /* periodic ones only go to the manager */
            fprintf(stderr, "{\"event_type\":\"stats\",%s}\n", b.p);
        if (link)
            net_link_stats_record(link, b.p, b.len);
    }
    bn_buf_release(&b);
}

/* The heartbeat's view of the sensor: a few totals, drops first. */
static void
link_health(struct net_pipeline *p, struct net_capture *cap, struct net_link *link,
            const char *source)
{
    struct net_pipeline_stats s;
    uint64_t recv, drop, ifdrop, records = 0;
    struct bn_buf b;

    net_pipeline_stats(p, &s);
    net_capture_kstats(cap, &recv, &drop, &ifdrop);
    for (size_t i = 0; i < NET_REC__COUNT; i++)
        records += s.records[i];
    bn_buf_init(&b, NET_LINK_HEALTH_MAX);
    int rc = bn_buf_puts(&b, "\"source\":\"");
    rc = rc ? rc : bn_buf_json_escape(&b, source, BN_MIN(strlen(source), 200));
    rc = rc ? rc
            : bn_buf_printf(&b,
                            "\",\"packets\":%llu,\"records\":%llu,\"alerts\":%llu,"
                            "\"flows_active\":%llu,\"decode_dropped\":%llu,\"flows_forced\":%llu,"
                            "\"stream_gaps\":%llu,\"kernel_dropped\":%llu,"
                            "\"interface_dropped\":%llu,\"output_errors\":%llu",
                            (unsigned long long)s.dec.packets, (unsigned long long)records,
                            (unsigned long long)(s.alerts_sigma + s.alerts_ndr),
                            (unsigned long long)s.flow.active,
                            (unsigned long long)(s.dec.truncated + s.dec.malformed +
                                                 s.dec.unsupported + s.dec.frag_dropped +
                                                 s.dec.tunnel_too_deep),
                            (unsigned long long)s.flow.ended_forced,
                            (unsigned long long)s.stream_gaps, (unsigned long long)drop,
                            (unsigned long long)ifdrop,
                            (unsigned long long)(s.eve_errors + s.zeek_errors + s.sigma_errors));
    if (rc == 0)
        net_link_set_health(link, b.p, b.len);
    bn_buf_release(&b);
}

int
main(int argc, char **argv)
{
    enum { O_EVE = 256, O_ZEEK, O_RULES, O_MAXF, O_NOAPP, O_NONDR, O_SEED, O_MIDSTREAM,
           O_IPS, O_NDRCONF, O_IOC, O_SERVER, O_LINKDIR, O_SPOOL, O_SPOOLMAX, O_HOST, O_HB,
           O_STATSINT, O_DRAIN, O_HTTP_HDRS, O_HTTP_BASIC, O_TLS_NORES };
    static const struct option opts[] = {
        {"interface", required_argument, NULL, 'i'},
        {"filter", required_argument, NULL, 'f'},
        {"read", required_argument, NULL, 'r'},
        {"eve", required_argument, NULL, O_EVE},
        {"zeek", required_argument, NULL, O_ZEEK},
        {"rules", required_argument, NULL, O_RULES},
        {"max-flows", required_argument, NULL, O_MAXF},
        {"no-app", no_argument, NULL, O_NOAPP},
        {"no-ndr", no_argument, NULL, O_NONDR},
        {"community-id-seed", required_argument, NULL, O_SEED},
        {"midstream", no_argument, NULL, O_MIDSTREAM},
        {"ips", no_argument, NULL, O_IPS},
        {"ndr-config", required_argument, NULL, O_NDRCONF},
        {"ioc", required_argument, NULL, O_IOC},
        {"eve-http-dump-all-headers", no_argument, NULL, O_HTTP_HDRS},
        {"eve-http-basic", no_argument, NULL, O_HTTP_BASIC},
        {"eve-tls-no-resumed", no_argument, NULL, O_TLS_NORES},
        {"server", required_argument, NULL, O_SERVER},
        {"link-dir", required_argument, NULL, O_LINKDIR},
        {"spool", required_argument, NULL, O_SPOOL},
        {"spool-max", required_argument, NULL, O_SPOOLMAX},
        {"host", required_argument, NULL, O_HOST},
        {"heartbeat", required_argument, NULL, O_HB},
        {"stats-interval", required_argument, NULL, O_STATSINT},
        {"drain", required_argument, NULL, O_DRAIN},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct net_pipeline_cfg cfg;
    struct net_pipeline *p = NULL;
    struct net_rules rules;
    const char *iface = NULL, *filter = NULL, *file = NULL, *eve = NULL, *zeek = NULL;
    const char *rule_paths[64], *ioc_paths[64], *ndr_conf = NULL;
    size_t nrule_paths = 0, nioc = 0;
    struct net_detect_setup det;
    bool have_rules = false;
    char err[512] = "";
    int c, rc = 1;
    struct net_link_opts lo;
    struct net_link *link = NULL;
    FILE *eve_fp = NULL;
    long long stats_every_s = 60, drain_s = -1;

    if (argc > 1 && strcmp(argv[1], "enroll") == 0)
        return net_link_enroll_main(argc - 1, argv + 1);
    memset(&lo, 0, sizeof(lo));

    memset(&cfg, 0, sizeof(cfg));
    memset(&rules, 0, sizeof(rules));
    memset(&det, 0, sizeof(det));
    net_flow_cfg_default(&cfg.flow);
    cfg.ndr = true;
    while ((c = getopt_long(argc, argv, "i:f:r:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'i': iface = optarg; break;
        case 'f': filter = optarg; break;
        case 'r': file = optarg; break;
        case O_EVE: eve = optarg; break;
        case O_ZEEK: zeek = optarg; break;
        case O_RULES:
            if (nrule_paths >= BN_ARRAY_SIZE(rule_paths)) {
                fprintf(stderr, "bannin-sensor: too many --rules\n");
                return 2;
            }
            rule_paths[nrule_paths++] = optarg;
            break;
        case O_MAXF: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > NET_FLOWS_MAX) {
                fprintf(stderr, "bannin-sensor: --max-flows must be 1..%u\n", NET_FLOWS_MAX);
                return 2;
            }
            cfg.flow.max_flows = v;
            break;
        }
        case O_SEED: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v > 65535) {
                fprintf(stderr, "bannin-sensor: --community-id-seed must be 0..65535\n");
                return 2;
            }
            cfg.flow.cid_seed = (uint16_t)v;
            break;
        }
        case O_MIDSTREAM: cfg.flow.midstream = true; break;
        case O_IPS: cfg.ips = true; break;
        case O_HTTP_HDRS: net_app_http_dump_headers(true); break;
        case O_HTTP_BASIC: net_app_http_extended(false); break;
        case O_TLS_NORES: net_app_tls_session_resumption(false); break;
        case O_NOAPP: cfg.no_app = true; break;
        case O_NONDR: cfg.ndr = false; break;
        case O_NDRCONF: ndr_conf = optarg; break;
        case O_IOC:
            if (nioc >= BN_ARRAY_SIZE(ioc_paths)) {
                fprintf(stderr, "bannin-sensor: too many --ioc\n");
                return 2;
            }
            ioc_paths[nioc++] = optarg;
            break;
        case O_SERVER: lo.server = optarg; break;
        case O_LINKDIR: lo.link_dir = optarg; break;
        case O_SPOOL: lo.spool_dir = optarg; break;
        case O_HOST: lo.hostname = optarg; break;
        case O_SPOOLMAX:
        case O_HB:
        case O_STATSINT:
        case O_DRAIN: {
            static const struct {
                int opt;
                long long min, max;
                const char *name;
            } lim[] = {{O_SPOOLMAX, 1 << 20, 1ll << 40, "--spool-max (bytes)"},
                       {O_HB, 100, 86400000, "--heartbeat (ms)"},
                       {O_STATSINT, 1, 86400, "--stats-interval (s)"},
                       {O_DRAIN, 0, 86400, "--drain (s)"}};
            char *end;
            long long v = strtoll(optarg, &end, 10);
            for (size_t i = 0; i < BN_ARRAY_SIZE(lim); i++) {
                if (lim[i].opt != c)
                    continue;
                if (*end || v < lim[i].min || v > lim[i].max) {
                    fprintf(stderr, "bannin-sensor: %s must be %lld..%lld\n", lim[i].name,
                            lim[i].min, lim[i].max);
                    return 2;
                }
            }
            if (c == O_SPOOLMAX)
                lo.spool_max = (uint64_t)v;
            else if (c == O_HB)
                lo.heartbeat_ms = v;
            else if (c == O_STATSINT)
                stats_every_s = v;
            else
                drain_s = v;
            break;
        }
        case 'v': bn_log_set_level(BN_LOG_DEBUG); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((!iface) == (!file) || optind != argc) {
        fprintf(stderr, "bannin-sensor: give exactly one of -i IFACE or -r FILE\n");
        usage(stderr);
        return 2;
    }
    if (ndr_conf || nioc) {
        char msg[800];
        if (net_detect_setup_load(&det, "bannin-sensor", ndr_conf, ioc_paths, nioc, msg,
                                  sizeof(msg)) != 0) {
            fprintf(stderr, "bannin-sensor: %s\n", msg);
            return 2;
        }
        cfg.ndr_cfg = det.cfg;
        cfg.iocs = det.iocs;
    }
    if (eve) {
        eve_fp = strcmp(eve, "-") == 0 ? stdout : fopen(eve, "a");
        if (!eve_fp) {
            fprintf(stderr, "bannin-sensor: cannot open '%s': %s\n", eve, strerror(errno));
            goto out;
        }
        if (eve_fp == stdout && iface)
            setvbuf(stdout, NULL, _IOLBF, 0); /* live: records as they happen */
        cfg.eve = eve_fp;
    }
    if (lo.server || lo.link_dir || lo.spool_dir) {
        /* the manager link: the pipeline writes to the link, which copies to --eve */
        if (!lo.link_dir)
            lo.link_dir = NET_LINK_DIR_DEFAULT;
        lo.tee = eve_fp;
        lo.source = iface ? iface : file;
        if (net_link_open(&link, &lo, err, sizeof(err)) != 0) {
            fprintf(stderr, "bannin-sensor: manager link: %s\n", err);
            goto out;
        }
        cfg.eve = net_link_file(link);
        if (drain_s < 0)
            drain_s = iface ? 5 : 60;
    }
    if (zeek) {
        cfg.zeek = strcmp(zeek, "-") == 0 ? stdout : fopen(zeek, "a");
        if (!cfg.zeek) {
            fprintf(stderr, "bannin-sensor: cannot open '%s': %s\n", zeek, strerror(errno));
            goto out;
        }
    }
    if (nrule_paths) {
        struct bn_diag d;
        char buf[700];
        bn_diag_clear(&d);
        if (net_rules_load(&rules, rule_paths, nrule_paths, &d) != 0) {
            fprintf(stderr, "bannin-sensor: %s\n", bn_diag_format(&d, buf, sizeof(buf)));
            goto out;
        }
        have_rules = true;
        cfg.rules = rules.rs;
        cfg.mapping = rules.map;
        fprintf(stderr, "bannin-sensor: %zu rules loaded, %zu not loaded\n", rules.loaded,
                rules.failed);
    }
    if (iface)
        rc = net_capture_open_live(&g_cap, iface, err, sizeof(err));
    else
        rc = net_capture_open_file(&g_cap, file, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "bannin-sensor: %s\n", err);
        rc = 1;
        goto out;
    }
    if (filter && net_capture_filter(g_cap, filter, err, sizeof(err)) != 0) {
        fprintf(stderr, "bannin-sensor: %s\n", err);
        rc = 1;
        goto out;
    }
    cfg.iface = iface;
    rc = net_pipeline_new(&p, &cfg, net_capture_linktype(g_cap));
    if (rc) {
        fprintf(stderr, "bannin-sensor: cannot start: %s\n", bn_strerror(rc));
        rc = 1;
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART; /* a report request must not look like a capture error */
    sigaction(SIGUSR1, &sa, NULL);
    if (iface)
        fprintf(stderr, "bannin-sensor: capturing on %s%s%s\n", iface,
                filter ? " with filter " : "", filter ? filter : "");
    rc = 0;
    const char *source = iface ? iface : file;
    uint64_t frames = 0, next_second = 0, next_stats = 0;
    if (link) {
        link_health(p, g_cap, link, source);
        next_stats = now_ns() + (uint64_t)stats_every_s * 1000000000ull;
    }
    while (!g_stop) {
        const uint8_t *d;
        uint32_t caplen, wirelen;
        uint64_t ts;
        int r = net_capture_next(g_cap, &d, &caplen, &wirelen, &ts);
        if (link && (r != 1 || (++frames & 1023) == 0)) {
            /* about once a second: heartbeat health, the spool's sync, a stats record */
            uint64_t now = now_ns();
            if (now >= next_second) {
                next_second = now + 1000000000ull;
                link_health(p, g_cap, link, source);
                net_link_tick(link);
            }
            if (now >= next_stats) {
                next_stats = now + (uint64_t)stats_every_s * 1000000000ull;
                report(p, g_cap, link, "interval");
            }
        }
        if (r == 1) {
            net_pipeline_frame(p, d, caplen, wirelen, ts);
        } else if (r == 0) {
            /* idle live capture: the wall clock moves flows to their timeouts */
            net_pipeline_tick(p, now_ns());
            net_pipeline_flush_out(p);
        } else {
            if (r == BN_EIO) {
                fprintf(stderr, "bannin-sensor: capture error, stopping\n");
                rc = 1;
            }
            break;
        }
        if (g_report) {
            g_report = 0;
            report(p, g_cap, link, "signal");
        }
    }
    net_pipeline_finish(p);
    if (link)
        link_health(p, g_cap, link, source);
    report(p, g_cap, link, "exit");
    if (link && !net_link_drain(link, drain_s * 1000)) {
        struct net_link_counters lc;
        net_link_counters(link, &lc);
        fprintf(stderr,
                "bannin-sensor: %llu records not yet acknowledged by the manager after %llds "
                "(%s); they stay in the spool and are sent by the next run\n",
                (unsigned long long)(lc.spool_next_seq - 1 - lc.spool_acked_seq), drain_s,
                lc.last_error[0] ? lc.last_error : "no error");
    }
out:
    net_pipeline_free(p);
    net_capture_close(g_cap);
    g_cap = NULL;
    net_link_close(link); /* before the tee file it writes to */
    if (eve_fp && eve_fp != stdout)
        fclose(eve_fp);
    if (cfg.zeek && cfg.zeek != stdout)
        fclose(cfg.zeek);
    if (have_rules)
        net_rules_release(&rules);
    net_detect_setup_release(&det);
    return rc;
}
