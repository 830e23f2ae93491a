/*
 * bench_agent_isolate.c - how fast isolation takes effect (issue 5: "from a malicious exec to
 * isolation in effect", the agent-local part this executor owns).
 *
 *   bench_agent_isolate [cycles=100] [site_rules=200]
 *
 * Runs in a private network namespace (unshare(CLONE_NEWNET), gone when the process exits)
 * with a veth-less loopback-only stack and a pre-existing "site" ruleset of site_rules rules
 * (so saving and restoring the earlier ruleset costs what it would on a real host). Measures,
 * over `cycles` isolate/release pairs:
 *   effect   request -> table loaded and verified by listing it (the result's effective_us:
 *            params parsed, earlier ruleset listed, one transaction, table listed, checked);
 *   apply    the whole resp_isolate() call: params parsed, earlier ruleset listed and saved (fsync),
 *            state written (fsync), table loaded in one transaction, listed and verified;
 *   release  resp_release() call: table deleted, ruleset compared with the saved one;
 *   repair   `flush ruleset` done locally -> table back in place (watchdog, 200 ms poll),
 *            then release restoring the flushed site ruleset.
 * Prints p50/p90/p99/max in milliseconds. Needs root.
 */
#include <errno.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "agent/respond_isolate.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
    if (n == 0)
        return;
    qsort(v, n, sizeof(*v), cmp_d);
    printf("%-8s n=%-4zu p50=%7.2f ms  p90=%7.2f ms  p99=%7.2f ms  max=%7.2f ms\n", what, n,
           v[n / 2], v[(n * 90) / 100], v[(n * 99) / 100 >= n ? n - 1 : (n * 99) / 100],
           v[n - 1]);
}

static int nft_cmd(const char *cmd)
{
    struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!c)
        return -1;
    nft_ctx_buffer_output(c);
    nft_ctx_buffer_error(c);
    int rc = nft_run_cmd_from_buffer(c, cmd);
    if (rc != 0)
        fprintf(stderr, "nft: %s", nft_ctx_get_error_buffer(c));
    nft_ctx_free(c);
    return rc;
}

static bool table_present(void)
{
    struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
    nft_ctx_buffer_output(c);
    nft_ctx_buffer_error(c);
    bool ok = nft_run_cmd_from_buffer(c, "list table inet bannin_isolate") == 0;
    nft_ctx_free(c);
    return ok;
}

int main(int argc, char **argv)
{
    size_t cycles = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
    size_t site = argc > 2 ? strtoul(argv[2], NULL, 10) : 200;
    if (cycles == 0 || cycles > 100000 || site > 100000) {
        fprintf(stderr, "usage: %s [cycles 1..100000] [site_rules]\n", argv[0]);
        return 2;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "cannot create a network namespace: %s (needs root)\n",
                strerror(errno));
        return 77;
    }
    bn_log_set_level(BN_LOG_ERROR);
    /* the site's own firewall */
    struct bn_buf b;
    bn_buf_init(&b, 64u << 20);
    bn_buf_puts(&b, "table inet site {\n chain input { type filter hook input priority 0; "
                    "policy accept;\n");
    for (size_t i = 0; i < site; i++)
        bn_buf_printf(&b, "  ip saddr 10.%zu.%zu.0/24 tcp dport %zu counter accept\n",
                      (i >> 8) & 255, i & 255, 1000 + i % 50000);
    bn_buf_puts(&b, " }\n}\n");
    if (nft_cmd(b.p) != 0 || nft_cmd("add table inet site") != 0) {
        fprintf(stderr, "cannot load the site ruleset\n");
        return 1;
    }
    char dir[] = "/tmp/bn-bench-isolate-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    struct respond_paths paths = {.state_dir = dir};
    struct resp_isolate *m;
    int rc = resp_isolate_new(&m, &paths);
    if (rc != 0) {
        fprintf(stderr, "resp_isolate_new: %s\n", bn_strerror(rc));
        return 1;
    }
    double *apply = calloc(cycles, sizeof(double));
    double *eff = calloc(cycles, sizeof(double));
    double *rel = calloc(cycles, sizeof(double));
    double *repair = calloc(cycles, sizeof(double));
    double *rel_restore = calloc(cycles, sizeof(double));
    size_t n_repair = 0;
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    static const char params[] = "{\"manager\":[\"192.0.2.10:7443\",\"[2001:db8::10]:7443\"],"
                                 "\"by\":\"bench\",\"reason\":\"bench\"}";
    size_t fails = 0;
    for (size_t i = 0; i < cycles; i++) {
        bn_buf_reset(&out);
        double t0 = now_ms();
        rc = resp_isolate(m, params, sizeof(params) - 1, &out);
        apply[i] = now_ms() - t0;
        if (rc != 0 || !strstr(out.p, "\"verified\":true"))
            fails++;
        const char *e = strstr(out.p, "\"effective_us\":");
        eff[i] = e ? strtod(e + 15, NULL) / 1e3 : apply[i];
        if (i % 5 == 0) {
            /* local tampering: flush everything, wait for the watchdog */
            t0 = now_ms();
            nft_cmd("flush ruleset");
            while (!table_present() && now_ms() - t0 < 3000)
                usleep(2000);
            repair[n_repair] = now_ms() - t0;
            bn_buf_reset(&out);
            t0 = now_ms();
            rc = resp_release(m, "{}", 2, &out);
            rel_restore[n_repair++] = now_ms() - t0;
            if (rc != 0 || !strstr(out.p, "\"restored\":true"))
                fails++;
            rel[i] = -1;
            continue;
        }
        bn_buf_reset(&out);
        t0 = now_ms();
        rc = resp_release(m, "{}", 2, &out);
        rel[i] = now_ms() - t0;
        if (rc != 0 || !strstr(out.p, "\"ok\":true"))
            fails++;
    }
    size_t n_rel = 0;
    for (size_t i = 0; i < cycles; i++)
        if (rel[i] >= 0)
            rel[n_rel++] = rel[i];
    printf("isolation executor, %zu cycles, site ruleset of %zu rules, state dir %s\n", cycles,
           site, dir);
    report("effect", eff, cycles);
    report("apply", apply, cycles);
    report("release", rel, n_rel);
    report("repair", repair, n_repair);
    report("restore", rel_restore, n_repair);
    printf("failures: %zu\n", fails);
    resp_isolate_free(m);
    bn_buf_release(&out);
    bn_buf_release(&b);
    free(apply);
    free(eff);
    free(rel);
    free(repair);
    free(rel_restore);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return fails ? 1 : 0;
}
