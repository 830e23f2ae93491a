/*
 * pcap.c - `bannin pcap`: offline analysis of pcap/pcapng files with the network sensor's
 * pipeline (decode, flows, protocol metadata, detections, Sigma over Zeek-named records).
 * Writes eve NDJSON and/or Zeek-named NDJSON and prints a summary: packets, flows, records
 * per type, alerts, drops by reason and packets per second.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "sensor/app.h"
#include "sensor/pipeline.h"
#include "sensor/uplink_net.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: bannin pcap [options] FILE...\n"
            "\n"
            "Analyses capture files (pcap, pcapng) the way bannin-sensor analyses live traffic.\n"
            "\n"
            "options:\n"
            "  --eve FILE        eve.json records (NDJSON) to FILE ('-' = stdout)\n"
            "  --zeek FILE       Zeek-named records (conn, dns, http, ssl, ssh) to FILE\n"
            "  --rules PATH      Sigma rules (file or directory, repeatable) run on the\n"
            "                    Zeek-named records; hits are eve alerts\n"
            "  --filter EXPR     BPF filter (tcpdump syntax) applied to the files\n"
            "  --max-flows N     flow table bound (default %u; oldest evicted, counted)\n"
            "  --no-app          flows only: no protocol parsing\n"
            "  --no-ndr          no built-in network detections\n"
            "  --ndr-config FILE YAML of ndr.* keys: thresholds, internal networks, ignore lists\n"
            "  --ioc FILE        IOC list (CSV or STIX 2.1, repeatable) for the detections\n"
            "  --midstream       TCP picked up without a handshake counts as established\n"
            "  --ips             parse TCP bytes as they arrive (Suricata IPS mode), not once\n"
            "                    the other side acknowledged them (IDS mode, the default)\n"
            "  --community-id-seed N  seed of the flows' Community IDs (default 0)\n"
            "  --eve-http-dump-all-headers  eve http records carry every request and\n"
            "                    response header (Suricata's dump-all-headers: both)\n"
            "  --eve-http-basic  eve http records without the extended fields\n"
            "  --eve-tls-no-resumed  no eve tls record for a resumed session (Suricata's\n"
            "                    session-resumption: no)\n"
            "  --stats FILE      counters as JSON to FILE at the end\n"
            "  --server H:P      send the eve records to the manager at H:P, like\n"
            "                    bannin-sensor (enrolment in --link-dir; --eve still works)\n"
            "  --link-dir DIR    enrolment and spool of the manager link (default %s)\n"
            "  --drain S         wait up to S seconds for the manager's acknowledgements\n"
            "                    (default 60; what is left stays spooled for the next run)\n"
            "  -q, --quiet       no summary\n",
            NET_FLOWS_DEFAULT, NET_LINK_DIR_DEFAULT);
}

/* glibc ignores setvbuf's size without a buffer (it keeps st_blksize, 4 KiB): each output
 * gets a real one that lives until the process ends (eve, Zeek, stats: at most three) */
#define OUT_BUF_BYTES (1u << 18)
static char out_bufs[3][OUT_BUF_BYTES];
static unsigned out_bufs_used;

static FILE *
open_out(const char *path, const char *what)
{
    FILE *f;

    if (strcmp(path, "-") == 0)
        return stdout;
    f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "bannin pcap: cannot open %s '%s': %m\n", what, path);
    else if (out_bufs_used < 3)
        setvbuf(f, out_bufs[out_bufs_used++], _IOFBF, OUT_BUF_BYTES);
    return f;
}

/* With the manager link, one stats record per file, as bannin-sensor sends at exit:
 * {"timestamp","event_type":"stats","reason":"exit","file","stats","link"} */
static void
link_stats(struct net_link *link, struct net_pipeline *p, const char *path)
{
    struct bn_buf b;
    int rc;

    net_pipeline_flush_out(p); /* the file's records go before its stats */
    bn_buf_init(&b, 1 << 20);
    rc = bn_buf_puts(&b, "\"reason\":\"exit\",\"file\":\"");
    rc = rc ? rc : bn_buf_json_escape(&b, path, strlen(path));
    rc = rc ? rc : bn_buf_puts(&b, "\",\"stats\":");
    rc = rc ? rc : net_pipeline_stats_json(p, &b);
    rc = rc ? rc : bn_buf_puts(&b, ",\"link\":");
    rc = rc ? rc : net_link_counters_json(link, &b);
    rc = rc ? rc : net_link_stats_record(link, b.p, b.len);
    if (rc)
        fprintf(stderr, "bannin pcap: the stats record of '%s' was not spooled: %s\n", path,
                bn_strerror(rc));
    bn_buf_release(&b);
}

static int
run_file(const char *path, const struct net_pipeline_cfg *cfg, const char *filter,
         struct net_pipeline_stats *total, FILE *stats_out, struct net_link *link)
{
    struct net_capture *cap = NULL;
    struct net_pipeline *p = NULL;
    struct net_pipeline_stats st;
    char err[512] = "";
    const uint8_t *d;
    uint32_t caplen, wirelen;
    uint64_t ts;
    int rc;

    rc = net_capture_open_file(&cap, path, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "bannin pcap: %s\n", err);
        return rc;
    }
    if (filter && (rc = net_capture_filter(cap, filter, err, sizeof(err))) != 0) {
        fprintf(stderr, "bannin pcap: %s\n", err);
        goto out;
    }
    rc = net_pipeline_new(&p, cfg, net_capture_linktype(cap));
    if (rc) {
        fprintf(stderr, "bannin pcap: cannot start the pipeline for '%s': %s\n", path,
                bn_strerror(rc));
        goto out;
    }
    while ((rc = net_capture_next(cap, &d, &caplen, &wirelen, &ts)) == 1)
        net_pipeline_frame(p, d, caplen, wirelen, ts);
    if (rc == BN_EIO) /* a cut-off last record: what came before is still analysed */
        fprintf(stderr, "bannin pcap: '%s': read error or truncated file, stopping there\n",
                path);
    rc = 0;
    net_pipeline_finish(p);
    net_pipeline_stats(p, &st);
    net_pipeline_stats_add(total, &st);
    if (link)
        link_stats(link, p, path);
    if (stats_out) {
        struct bn_buf b;
        bn_buf_init(&b, 1 << 20);
        if (net_pipeline_stats_json(p, &b) == 0)
            fprintf(stats_out, "{\"file\":\"%s\",\"stats\":%s}\n", path, b.p);
        bn_buf_release(&b);
    }
out:
    net_pipeline_free(p);
    net_capture_close(cap);
    return rc;
}

int
cmd_pcap(int argc, char **argv)
{
    enum { O_EVE = 256, O_ZEEK, O_RULES, O_FILTER, O_MAXF, O_NOAPP, O_NONDR, O_STATS, O_SEED,
           O_MIDSTREAM, O_IPS, O_NDRCONF, O_IOC, O_HTTP_HDRS, O_HTTP_BASIC, O_TLS_NORES, O_SERVER,
           O_LINKDIR, O_DRAIN };
    static const struct option opts[] = {
        {"eve", required_argument, NULL, O_EVE},
        {"zeek", required_argument, NULL, O_ZEEK},
        {"rules", required_argument, NULL, O_RULES},
        {"filter", required_argument, NULL, O_FILTER},
        {"max-flows", required_argument, NULL, O_MAXF},
        {"no-app", no_argument, NULL, O_NOAPP},
        {"no-ndr", no_argument, NULL, O_NONDR},
        {"stats", required_argument, NULL, O_STATS},
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
        {"drain", required_argument, NULL, O_DRAIN},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct net_pipeline_cfg cfg;
    struct net_pipeline_stats total;
    struct net_rules rules;
    const char *eve_path = NULL, *zeek_path = NULL, *filter = NULL, *stats_path = NULL;
    const char *rule_paths[64], *ioc_paths[64], *ndr_conf = NULL;
    size_t nrule_paths = 0, nioc = 0;
    struct net_detect_setup det;
    bool quiet = false, have_rules = false;
    FILE *stats_out = NULL, *eve_fp = NULL;
    struct net_link_opts lo;
    struct net_link *link = NULL;
    long drain_s = 60;
    int c, rc = 0, failed = 0;
    double t0;

    memset(&cfg, 0, sizeof(cfg));
    memset(&total, 0, sizeof(total));
    memset(&rules, 0, sizeof(rules));
    memset(&det, 0, sizeof(det));
    memset(&lo, 0, sizeof(lo));
    net_flow_cfg_default(&cfg.flow);
    cfg.ndr = true;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case O_EVE: eve_path = optarg; break;
        case O_ZEEK: zeek_path = optarg; break;
        case O_RULES:
            if (nrule_paths >= BN_ARRAY_SIZE(rule_paths)) {
                fprintf(stderr, "bannin pcap: too many --rules\n");
                return 2;
            }
            rule_paths[nrule_paths++] = optarg;
            break;
        case O_FILTER: filter = optarg; break;
        case O_MAXF: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > NET_FLOWS_MAX) {
                fprintf(stderr, "bannin pcap: --max-flows must be 1..%u\n", NET_FLOWS_MAX);
                return 2;
            }
            cfg.flow.max_flows = v;
            break;
        }
        case O_NOAPP: cfg.no_app = true; break;
        case O_NONDR: cfg.ndr = false; break;
        case O_STATS: stats_path = optarg; break;
        case O_MIDSTREAM: cfg.flow.midstream = true; break;
        case O_IPS: cfg.ips = true; break;
        case O_HTTP_HDRS: net_app_http_dump_headers(true); break;
        case O_HTTP_BASIC: net_app_http_extended(false); break;
        case O_TLS_NORES: net_app_tls_session_resumption(false); break;
        case O_NDRCONF: ndr_conf = optarg; break;
        case O_IOC:
            if (nioc >= BN_ARRAY_SIZE(ioc_paths)) {
                fprintf(stderr, "bannin pcap: too many --ioc\n");
                return 2;
            }
            ioc_paths[nioc++] = optarg;
            break;
        case O_SEED: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v > 65535) {
                fprintf(stderr, "bannin pcap: --community-id-seed must be 0..65535\n");
                return 2;
            }
            cfg.flow.cid_seed = (uint16_t)v;
            break;
        }
        case O_SERVER: lo.server = optarg; break;
        case O_LINKDIR: lo.link_dir = optarg; break;
        case O_DRAIN: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 86400) {
                fprintf(stderr, "bannin pcap: --drain must be 0..86400 (seconds)\n");
                return 2;
            }
            drain_s = v;
            break;
        }
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (ndr_conf || nioc) {
        char msg[800];
        if (net_detect_setup_load(&det, "bannin pcap", ndr_conf, ioc_paths, nioc, msg,
                                  sizeof(msg)) != 0) {
            fprintf(stderr, "bannin pcap: %s\n", msg);
            return 2;
        }
        cfg.ndr_cfg = det.cfg;
        cfg.iocs = det.iocs;
        if (!quiet && nioc)
            fprintf(stderr, "iocs         %" PRIu64 " loaded, %" PRIu64 " skipped\n",
                    det.iocs_added, det.iocs_skipped);
    }
    if (eve_path && !(eve_fp = cfg.eve = open_out(eve_path, "eve output"))) {
        net_detect_setup_release(&det);
        return 1;
    }
    if (lo.server || lo.link_dir) {
        /* the manager link, as bannin-sensor wires it: the pipeline writes to the link,
         * which copies every line to --eve */
        char err[512] = "";
        if (!lo.link_dir)
            lo.link_dir = NET_LINK_DIR_DEFAULT;
        lo.tee = eve_fp;
        lo.source = argv[optind];
        if (net_link_open(&link, &lo, err, sizeof(err)) != 0) {
            fprintf(stderr, "bannin pcap: manager link: %s\n", err);
            rc = 1;
            goto out;
        }
        cfg.eve = net_link_file(link);
    }
    if (zeek_path && !(cfg.zeek = open_out(zeek_path, "Zeek output"))) {
        rc = 1;
        goto out;
    }
    if (stats_path && !(stats_out = open_out(stats_path, "stats output"))) {
        rc = 1;
        goto out;
    }
    if (nrule_paths) {
        struct bn_diag d;
        char buf[700];
        bn_diag_clear(&d);
        if (net_rules_load(&rules, rule_paths, nrule_paths, &d) != 0) {
            fprintf(stderr, "bannin pcap: %s\n", bn_diag_format(&d, buf, sizeof(buf)));
            rc = 1;
            goto out;
        }
        have_rules = true;
        cfg.rules = rules.rs;
        cfg.mapping = rules.map;
        if (!quiet)
            fprintf(stderr, "rules        %zu loaded, %zu not loaded\n", rules.loaded,
                    rules.failed);
    }
    t0 = cli_now();
    for (int i = optind; i < argc; i++)
        if (run_file(argv[i], &cfg, filter, &total, stats_out, link) != 0)
            failed++;
    if (!quiet) {
        FILE *sum = eve_fp == stdout || cfg.zeek == stdout ? stderr : stdout;
        net_pipeline_summary(&total, cli_now() - t0, sum);
    }
    rc = failed ? 1 : 0;
    if (link && !net_link_drain(link, (int64_t)drain_s * 1000)) {
        struct net_link_counters lc;
        net_link_counters(link, &lc);
        fprintf(stderr,
                "bannin pcap: %llu records not yet acknowledged by the manager after %lds "
                "(%s); they stay in the spool and are sent by the next run\n",
                (unsigned long long)(lc.spool_next_seq - 1 - lc.spool_acked_seq), drain_s,
                lc.last_error[0] ? lc.last_error : "no error");
        rc = 1;
    }
    if (link && !quiet) {
        struct net_link_counters lc;
        net_link_counters(link, &lc);
        fprintf(cfg.zeek == stdout || eve_fp == stdout ? stderr : stdout,
                "manager      %" PRIu64 " records spooled, %" PRIu64 " acknowledged, %" PRIu64
                " lost (refused %" PRIu64 ", too long %" PRIu64 ", shed %" PRIu64 ")\n",
                lc.spooled, lc.events_acked, lc.refused + lc.too_long + lc.spool_dropped,
                lc.refused, lc.too_long, lc.spool_dropped);
    }
out:
    net_link_close(link); /* before the tee file it writes to */
    if (eve_fp && eve_fp != stdout && fclose(eve_fp) != 0) {
        fprintf(stderr, "bannin pcap: writing '%s' failed: %m\n", eve_path);
        rc = 1;
    }
    if (cfg.zeek && cfg.zeek != stdout && fclose(cfg.zeek) != 0) {
        fprintf(stderr, "bannin pcap: writing '%s' failed: %m\n", zeek_path);
        rc = 1;
    }
    if (eve_fp == stdout || cfg.zeek == stdout)
        fflush(stdout);
    if (stats_out && stats_out != stdout)
        fclose(stats_out);
    if (have_rules)
        net_rules_release(&rules);
    net_detect_setup_release(&det);
    return rc;
}
