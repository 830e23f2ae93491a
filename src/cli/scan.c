/*
 * scan.c - `bannin scan`: YARA rules over files and directory trees.
 *
 *   bannin scan [-r RULES]... [--json] [--externals] [--max-size N] [--timeout S]
 *               [--max-files N] [--follow] [--one-fs] [--show-rule-errors] PATH...
 *
 * Exit: 0 no match, 1 matches, 2 errors (bad usage, no rule compiled, files that could not
 * be scanned). A summary goes to stderr; matches to stdout ("rule namespace file" lines or
 * one JSON object per line with --json).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/yara.h"

int cmd_scan(int argc, char **argv);

struct scan_out {
    bool json;
    struct bn_buf line;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: bannin scan [-r RULES]... [options] PATH...\n"
            "\n"
            "Scans files and directory trees with YARA rules.\n"
            "  -r, --rules PATH       rule file, directory of *.yar/*.yara or .tar.gz bundle\n"
            "                         (repeatable; default: $BANNIN_YARA_RULES)\n"
            "      --json             one JSON object per match on stdout\n"
            "      --externals        define LOKI/THOR external variables (filename, filepath,\n"
            "                         extension, filetype, owner)\n"
            "      --max-size N       skip files larger than N bytes (default 64 MiB; k/m/g)\n"
            "      --timeout S        seconds per file (default 30)\n"
            "      --max-files N      stop after N files\n"
            "      --follow           follow symbolic links below directories\n"
            "      --one-fs           stay on the file system of each PATH\n"
            "      --show-rule-errors list every rule error and warning\n"
            "  -p, --pid PID          also scan the memory of process PID (repeatable)\n"
            "exit: 0 no match, 1 matches, 2 errors\n");
}

static int
on_match(const struct bn_yara_match *m, void *ud)
{
    struct scan_out *o = ud;
    if (!o->json) {
        printf("%s %s %s", m->rule, m->ns, m->file ? m->file : "-");
        if (m->ntags) {
            printf(" [");
            for (size_t i = 0; i < m->ntags; i++)
                printf("%s%s", i ? "," : "", m->tags[i]);
            printf("]");
        }
        printf("\n");
        return 0;
    }
    struct bn_buf *b = &o->line;
    bn_buf_reset(b);
    bn_buf_puts(b, "{\"rule\":\"");
    bn_buf_json_escape(b, m->rule, strlen(m->rule));
    bn_buf_puts(b, "\",\"namespace\":\"");
    bn_buf_json_escape(b, m->ns, strlen(m->ns));
    bn_buf_puts(b, "\",\"tags\":[");
    for (size_t i = 0; i < m->ntags; i++) {
        bn_buf_puts(b, i ? ",\"" : "\"");
        bn_buf_json_escape(b, m->tags[i], strlen(m->tags[i]));
        bn_buf_putc(b, '"');
    }
    bn_buf_puts(b, "],\"file\":\"");
    bn_buf_json_escape(b, m->file ? m->file : "", m->file ? strlen(m->file) : 0);
    if (bn_buf_puts(b, "\"}\n") == 0)
        fwrite(b->p, 1, b->len, stdout);
    return 0;
}

struct pid_count {
    struct scan_out *o;
    uint64_t matches;
};

static int
count_match(const struct bn_yara_match *m, void *ud)
{
    struct pid_count *pc = ud;
    pc->matches++;
    return on_match(m, pc->o);
}

static void
on_error(const char *file, int err, const char *reason, void *ud)
{
    fprintf(stderr, "bannin scan: %s: %s\n", file, reason);
}

static bool
parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return false;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ull * 1024 * 1024, end++;
    if (*end || v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

int
cmd_scan(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"externals", no_argument, NULL, 'e'},
        {"max-size", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"max-files", required_argument, NULL, 'n'},
        {"follow", no_argument, NULL, 'L'},
        {"one-fs", no_argument, NULL, 'x'},
        {"show-rule-errors", no_argument, NULL, 'E'},
        {"pid", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **rules = bn_calloc((size_t)argc + 1, sizeof(char *));
    int *pids = bn_calloc((size_t)argc + 1, sizeof(int));
    size_t npids = 0;
    if (!rules || !pids) {
        bn_free(rules);
        bn_free(pids);
        return 2;
    }
    size_t nrules = 0;
    struct bn_yara_compile_opts copts = {0};
    struct bn_yara_scan_opts sopts = {0};
    struct scan_out o = {0};
    bool show_errors = false;
    int c, ret = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': rules[nrules++] = optarg; break;
        case 'j': o.json = true; break;
        case 'p': {
            char *end;
            long p = strtol(optarg, &end, 10);
            if (*end || p <= 0 || p > 4194304) {
                fprintf(stderr, "bannin scan: --pid: not a process id: '%s'\n", optarg);
                goto out;
            }
            pids[npids++] = (int)p;
            break;
        }
        case 'e': copts.externals = true; break;
        case 's':
            if (!parse_size(optarg, &sopts.max_size) || sopts.max_size == 0) {
                fprintf(stderr, "bannin scan: --max-size: not a size: '%s'\n", optarg);
                goto out;
            }
            break;
        case 't': {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end || t <= 0 || t > 86400) {
                fprintf(stderr, "bannin scan: --timeout: 1..86400 seconds, not '%s'\n", optarg);
                goto out;
            }
            sopts.timeout_s = (int)t;
            break;
        }
        case 'n': {
            uint64_t n;
            if (!parse_size(optarg, &n) || n == 0) {
                fprintf(stderr, "bannin scan: --max-files: not a count: '%s'\n", optarg);
                goto out;
            }
            sopts.max_files = (size_t)n;
            break;
        }
        case 'L': sopts.follow_links = true; break;
        case 'x': sopts.one_fs = true; break;
        case 'E': show_errors = true; break;
        case 'h':
            usage(stdout);
            ret = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (nrules == 0) {
        const char *env = getenv("BANNIN_YARA_RULES");
        if (env && *env)
            rules[nrules++] = env;
    }
    if (nrules == 0 || (optind >= argc && npids == 0)) {
        fprintf(stderr, "bannin scan: %s\n",
                nrules == 0 ? "no rules: give -r RULES" : "no path to scan");
        usage(stderr);
        goto out;
    }
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct bn_yara_report rep;
    struct bn_yara_rules *set = NULL;
    int rc = bn_yara_compile_paths(rules, nrules, &copts, &set, &rep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    size_t shown = 0;
    for (size_t i = 0; i < rep.nissues; i++) {
        const struct bn_yara_issue *is = &rep.issues[i];
        if ((is->warning && !show_errors) || (!show_errors && shown >= 10))
            continue;
        shown += !is->warning;
        const char *kind = is->warning ? "warning" : "error";
        if (is->line)
            fprintf(stderr, "%s:%d: %s: %s\n", is->file, is->line, kind, is->message);
        else
            fprintf(stderr, "%s: %s: %s\n", is->file, kind, is->message);
    }
    if (rep.errors > shown)
        fprintf(stderr, "bannin scan: %zu more rule errors (--show-rule-errors lists them)\n",
                rep.errors - shown);
    fprintf(stderr,
            "bannin scan: rules: %zu compiled from %zu of %zu files (%zu files skipped, %zu "
            "errors, %zu warnings) in %.2f s\n",
            rep.rules, rep.files_ok, rep.files, rep.files_failed, rep.errors, rep.warnings,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    bn_yara_report_release(&rep);
    if (rc) {
        fprintf(stderr, "bannin scan: no usable rules: %s\n", bn_strerror(rc));
        goto out;
    }
    bn_buf_init(&o.line, 1u << 20);
    struct bn_yara_scan_stats st;
    memset(&st, 0, sizeof(st));
    rc = 0;
    if (optind < argc)
        rc = bn_yara_scan_paths(set, (const char *const *)argv + optind, (size_t)(argc - optind),
                                &sopts, on_match, on_error, &o, &st);
    struct pid_count pc = {.o = &o};
    for (size_t i = 0; rc == 0 && i < npids; i++) {
        int prc = bn_yara_scan_pid(set, pids[i], &sopts, count_match, &pc);
        if (prc) {
            fprintf(stderr, "bannin scan: pid %d: %s\n", pids[i],
                    prc == BN_EDENIED ? "cannot attach to or read the process" : bn_strerror(prc));
            st.errors++;
        }
    }
    st.matches += pc.matches;
    clock_gettime(CLOCK_MONOTONIC, &t2);
    bn_buf_release(&o.line);
    bn_yara_rules_free(set);
    fflush(stdout);
    fprintf(stderr,
            "bannin scan: %" PRIu64 " files (%" PRIu64 " bytes) scanned in %.2f s: %" PRIu64
            " matches in %" PRIu64 " files; skipped %" PRIu64 " over the size cap, %" PRIu64
            " not regular files; %" PRIu64 " timeouts, %" PRIu64 " errors%s\n",
            st.files_scanned, st.bytes_scanned,
            (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9, st.matches,
            st.files_matched, st.skipped_size, st.skipped_special, st.timeouts, st.errors,
            st.max_files_hit ? "; stopped at --max-files" : "");
    if (rc) {
        fprintf(stderr, "bannin scan: %s\n", bn_strerror(rc));
        goto out;
    }
    ret = (st.errors || st.timeouts) ? 2 : st.matches ? 1 : 0;
out:
    bn_free(rules);
    bn_free(pids);
    return ret;
}
