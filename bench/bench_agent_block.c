/*
 * bench_agent_block.c - exec-blocking decision latency (issue 5 goal: p99 <= 50 us with a warm
 * cache; cold with YARA reported).
 *
 * Mounts a tmpfs under a temp dir, copies /bin/true there, starts the exec blocker (marks
 * only that tmpfs) with a block list that does not match the file, and runs it N times
 * (posix_spawn + wait). The module records, per permission event, the time from reading the
 * event to the answer's delivery (to the answer's write() plus that write's CPU time: the
 * kernel releases the exec inside it), and the time to that write() returning (which also
 * holds any time the listener is preempted by the process its answer woke); this prints
 * p50/p90/p99/p99.9/max of the first, p99 of the second and how often the listener was
 * preempted on the return, per scenario:
 *   path      a path rule only (no content verdict needed; the path is read per event)
 *   warm      a sha256 rule, decision cache on (the first exec hashes, the rest hit)
 *   warm+path both
 *   cold      a sha256 rule, cache off: every exec hashes the file
 *   cold+yara sha256 + YARA rule(s), cache off: every exec hashes and scans
 * Usage: bench_agent_block [-n EXECS] [-y RULEFILE] [-r RT_PRIO] [-s SLICE_US] (root; default
 * 10000 execs, a built-in two-string YARA rule; -r runs the listener SCHED_FIFO at that
 * priority; -s sets its EEVDF slice, -1 = the kernel's default, 0 = the module's 100 us).
 * Watchdog: the process exits after 300 s, the tmpfs is unmounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/respond_block.h"
#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"

extern char **environ;

static char root[64], mnt[96], exe[128];

static void
cleanup(void)
{
    if (mnt[0]) {
        umount2(mnt, MNT_DETACH);
        rmdir(mnt);
    }
    if (root[0])
        rmdir(root);
}

static void
on_alarm(int sig)
{
    (void)sig;
    umount2(mnt, MNT_DETACH);
    _exit(3);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
add(struct resp_block *m, const char *json)
{
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    int rc = resp_block_add(m, json, strlen(json), &out);
    if (rc < 0 || !strstr(out.p, "\"ok\":true")) {
        fprintf(stderr, "block_add failed: %s\n", out.p ? out.p : "?");
        rc = rc < 0 ? rc : BN_EINVAL;
    }
    bn_buf_release(&out);
    return rc;
}

static int rt_prio;
static int slice_us; /* -s: the listener's EEVDF slice (0 = the module's default, -1 = kernel's) */

static int
scenario(const char *name, int n, bool with_path, bool no_cache, bool sha, const char *yara_json)
{
    const char *marks[] = {mnt};
    struct resp_block_conf conf = {
        .marks = marks,
        .n_marks = 1,
        .no_cache = no_cache,
        .latency_samples = (uint32_t)n,
        .rt_priority = rt_prio,
        .slice_us = slice_us,
    };
    struct resp_block *m;
    int rc = resp_block_new_conf(&m, NULL, &conf);
    if (rc < 0) {
        fprintf(stderr, "resp_block_new: %s\n", bn_strerror(rc));
        return rc;
    }
    char pj[256];
    snprintf(pj, sizeof(pj), "{\"path\":\"%s/not-this-one\"}", mnt);
    if ((with_path && add(m, pj) < 0) ||
        (sha && add(m, "{\"sha256\":\"00112233445566778899aabbccddeeff00112233445566778899aab"
                       "bccddeeff\"}") < 0) ||
        (yara_json && add(m, yara_json) < 0)) {
        resp_block_free(m);
        return BN_EINVAL;
    }
    char *argv[] = {exe, NULL};
    double t0 = now_s();
    int failed = 0;
    for (int i = 0; i < n; i++) {
        pid_t p;
        if (posix_spawn(&p, exe, NULL, NULL, argv, environ) != 0) {
            failed++;
            continue;
        }
        int ws;
        if (waitpid(p, &ws, 0) != p || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            failed++;
    }
    double wall = now_s() - t0;
    uint32_t *lat = bn_calloc((size_t)n, sizeof(*lat));
    uint32_t *cpu = bn_calloc((size_t)n, sizeof(*cpu));
    uint32_t *ret = bn_calloc((size_t)n, sizeof(*ret));
    uint8_t *pre = bn_calloc((size_t)n, sizeof(*pre));
    size_t got = lat && cpu && ret && pre
                     ? resp_block_latencies_ex(m, lat, ret, cpu, pre, (size_t)n)
                     : 0;
    size_t npre = 0;
    for (size_t i = 0; i < got; i++)
        npre += pre[i];
    struct resp_block_stats st;
    resp_block_stats(m, &st);
    resp_block_free(m);
    if (!got) {
        bn_free(lat);
        bn_free(cpu);
        bn_free(ret);
        bn_free(pre);
        fprintf(stderr, "%s: no latencies recorded\n", name);
        return BN_EINTERNAL;
    }
    qsort(lat, got, sizeof(*lat), cmp_u32);
    qsort(cpu, got, sizeof(*cpu), cmp_u32);
    qsort(ret, got, sizeof(*ret), cmp_u32);
#define PCT(q) ((double)lat[(size_t)((double)(got - 1) * (q))] / 1000.0)
    printf("%-10s execs %6d  decisions %6zu  p50 %8.1f us  p90 %8.1f  p99 %8.1f  p99.9 %8.1f  "
           "max %9.1f us  | hits %llu misses %llu hashed %llu timeouts %llu failed %d  "
           "exec rate %.0f/s\n",
           name, n, got, PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), (double)lat[got - 1] / 1000.0,
           (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses,
           (unsigned long long)st.hashed, (unsigned long long)st.timeouts, failed,
           (double)n / wall);
    printf("%-10s listener CPU time per decision: p50 %.1f us  p99 %.1f us  max %.1f us\n", name,
           (double)cpu[(got - 1) / 2] / 1000.0,
           (double)cpu[(size_t)((double)(got - 1) * 0.99)] / 1000.0, (double)cpu[got - 1] / 1000.0);
    printf("%-10s to the answer's write() returning: p50 %.1f us  p99 %.1f us  (listener "
           "preempted on that return in %zu of %zu = %.1f%%)\n",
           name, (double)ret[(got - 1) / 2] / 1000.0,
           (double)ret[(size_t)((double)(got - 1) * 0.99)] / 1000.0, npre, got,
           100.0 * (double)npre / (double)got);
    printf("{\"bench\":\"block\",\"scenario\":\"%s\",\"decisions\":%zu,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"max_us\":%.1f,\"cpu_p50_us\":%.1f,\"cpu_p99_us\":%.1f,"
           "\"ret_p99_us\":%.1f,\"preempted_pct\":%.1f,\"timeouts\":%llu}\n",
           name, got, PCT(0.5), PCT(0.99), (double)lat[got - 1] / 1000.0,
           (double)cpu[(got - 1) / 2] / 1000.0,
           (double)cpu[(size_t)((double)(got - 1) * 0.99)] / 1000.0,
           (double)ret[(size_t)((double)(got - 1) * 0.99)] / 1000.0,
           100.0 * (double)npre / (double)got, (unsigned long long)st.timeouts);
#undef PCT
    fflush(stdout);
    bn_free(cpu);
    bn_free(ret);
    bn_free(pre);
    bn_free(lat);
    return failed ? BN_EIO : 0;
}

int
main(int argc, char **argv)
{
    int n = 10000;
    const char *yfile = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "n:y:r:s:")) != -1) {
        if (opt == 'n')
            n = (int)strtol(optarg, NULL, 10);
        else if (opt == 'r')
            rt_prio = (int)strtol(optarg, NULL, 10);
        else if (opt == 'y')
            yfile = optarg;
        else if (opt == 's')
            slice_us = (int)strtol(optarg, NULL, 10);
        else {
            fprintf(stderr,
                    "usage: %s [-n EXECS] [-y YARA_RULE_FILE] [-r RT_PRIORITY] [-s SLICE_US]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n <= 0 || n > 1000000) {
        fprintf(stderr, "-n: 1 to 1000000\n");
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "skipping: needs root (tmpfs mount, fanotify permission events)\n");
        return 77;
    }
    /* the YARA rule as a block_add params object */
    struct bn_buf yj;
    bn_buf_init(&yj, 1 << 20);
    bn_buf_puts(&yj, "{\"yara\":\"");
    if (yfile) {
        FILE *f = fopen(yfile, "r");
        if (!f) {
            fprintf(stderr, "cannot open '%s': %s\n", yfile, strerror(errno));
            return 2;
        }
        char buf[65536];
        size_t r;
        while ((r = fread(buf, 1, sizeof(buf), f)) > 0)
            bn_buf_json_escape(&yj, buf, r);
        fclose(f);
    } else {
        const char *rule = "rule bench_marker { strings: $a = \"BN_NEVER_PRESENT_MARKER\" "
                           "$b = { 6A 40 68 00 30 00 00 6A 14 8D 91 } condition: any of them }";
        bn_buf_json_escape(&yj, rule, strlen(rule));
    }
    bn_buf_puts(&yj, "\"}");

    snprintf(root, sizeof(root), "/tmp/bn-bench-block-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(mnt, sizeof(mnt), "%s/mnt", root);
    snprintf(exe, sizeof(exe), "%s/true", mnt);
    atexit(cleanup);
    signal(SIGALRM, on_alarm);
    alarm(300);
    if (mkdir(mnt, 0755) < 0 ||
        mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m") < 0) {
        perror("tmpfs");
        mnt[0] = '\0';
        return 1;
    }
    int in = open("/bin/true", O_RDONLY), out = open(exe, O_WRONLY | O_CREAT, 0755);
    char buf[65536];
    ssize_t r;
    while (in >= 0 && out >= 0 && (r = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)r) != r)
            break;
    struct stat sb;
    fstat(out, &sb);
    close(in);
    close(out);
    printf("exec of a %lld-byte file on tmpfs, %d execs per scenario, deadline %u us, listener "
           "%s\n",
           (long long)sb.st_size, n, BN_RESP_BLOCK_DEADLINE_US,
           rt_prio ? "SCHED_FIFO"
           : slice_us < 0 ? "nice -10, kernel's slice"
                          : "nice -10, short slice");
    int rc = 0;
    rc |= scenario("path", n, true, false, false, NULL);
    rc |= scenario("warm", n, false, false, true, NULL);
    rc |= scenario("warm+path", n, true, false, true, NULL);
    rc |= scenario("cold", n, false, true, true, NULL);
    rc |= scenario("cold+yara", n, false, true, true, yj.p);
    bn_buf_release(&yj);
    return rc ? 1 : 0;
}
