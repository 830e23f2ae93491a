/*
 * main.c - bannin-sensor: the network sensor. Captures live from an interface (-i, with an
 * optional BPF filter -f) or reads a capture file (-r), runs the pipeline (pipeline.h) and
 * writes eve NDJSON (--eve) and Zeek-named NDJSON (--zeek); Sigma rules (--rules) run on
 * the Zeek-named records. Counters go to stderr on exit and on SIGUSR1 (a JSON line), with
 * the kernel's capture drops: every drop is counted somewhere.
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
#include "sensor/pipeline.h"

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
            "  -v, --verbose          log more\n"
            "\n"
            "Counters are printed to stderr as JSON on exit and on SIGUSR1.\n",
            NET_FLOWS_DEFAULT);
}

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
report(struct net_pipeline *p, struct net_capture *cap, const char *why)
{
    struct bn_buf b;
    uint64_t recv, drop, ifdrop;

    net_capture_kstats(cap, &recv, &drop, &ifdrop);
    bn_buf_init(&b, 1 << 20);
    if (net_pipeline_stats_json(p, &b) == 0)
        fprintf(stderr,
                "{\"event_type\":\"stats\",\"reason\":\"%s\",\"capture\":{\"kernel_received\":%llu,"
                "\"kernel_dropped\":%llu,\"interface_dropped\":%llu},\"stats\":%s}\n",
                why, (unsigned long long)recv, (unsigned long long)drop,
                (unsigned long long)ifdrop, b.p);
    bn_buf_release(&b);
    net_pipeline_flush_out(p);
}

int
main(int argc, char **argv)
{
    enum { O_EVE = 256, O_ZEEK, O_RULES, O_MAXF, O_NOAPP, O_NONDR, O_SEED, O_MIDSTREAM,
           O_IPS, O_NDRCONF, O_IOC };
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
        cfg.eve = strcmp(eve, "-") == 0 ? stdout : fopen(eve, "a");
        if (!cfg.eve) {
            fprintf(stderr, "bannin-sensor: cannot open '%s': %s\n", eve, strerror(errno));
            goto out;
        }
        if (cfg.eve == stdout && iface)
            setvbuf(stdout, NULL, _IOLBF, 0); /* live: records as they happen */
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
    while (!g_stop) {
        const uint8_t *d;
        uint32_t caplen, wirelen;
        uint64_t ts;
        int r = net_capture_next(g_cap, &d, &caplen, &wirelen, &ts);
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
            report(p, g_cap, "signal");
        }
    }
    net_pipeline_finish(p);
    report(p, g_cap, "exit");
out:
    net_pipeline_free(p);
    net_capture_close(g_cap);
    g_cap = NULL;
    if (cfg.eve && cfg.eve != stdout)
        fclose(cfg.eve);
    if (cfg.zeek && cfg.zeek != stdout)
        fclose(cfg.zeek);
    if (have_rules)
        net_rules_release(&rules);
    net_detect_setup_release(&det);
    return rc;
}
