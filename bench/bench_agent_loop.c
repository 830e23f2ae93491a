/*
 * bench_agent_loop.c - the agent's user-space cost per event, without the kernel, the
 * collectors or other processes' events in the way (bench_agent.sh measures the whole
 * agent on a live, noisy machine; this isolates the loop's own work so changes to it can
 * be compared to a few percent).
 *
 * Builds an agent that is not started (default configuration: Bannin's rules/linux, SHA-256
 * on, output to a file under /tmp) and hands agent_process() what tier 1 hands it for an
 * exec storm: per process an exec event (pid, ppid = this process, start time, exe, argv,
 * cwd, uids, the kernel's identity of the executable) and its exit event. The children's
 * pids do not exist, so /proc reads for them fail as they do for a process that is already
 * gone. Prints CPU time (user + system of this process) per process for:
 *   usr    exe /usr/bin/true (no rule fires)
 *   tmp    exe a copy of /usr/bin/true under /tmp (rule "Process Executed From A Temporary
 *          Directory" fires: every exec is also an alert, as in bench_agent.sh's exec storm)
 * With -s the agent also has a spool (a temp dir under /var/tmp) and the events go through
 * the running loop (agent_start at tier 3, agent_emit in bursts of 256 events, each burst
 * waited for), so the loop drains them in batches and spools each batch as it does in
 * production; the CPU figure then includes the loop thread and the idle poller.
 * Usage: bench_agent_loop [-n PROCESSES] [-o usr|tmp] [-s] (default 20000, both). No root
 * needed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "bannin/alloc.h"
#include "bannin/config.h"
#include "bannin/diag.h"
#include "bannin/error.h"

#define WARMUP 200

/* The poller is linked on purpose for -s (agent.c refers to collectors weakly). */
const void *const bench_linked_collectors[] = {&agent_collector_proc_poll};

static double
cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* agent_process consumes the event: it gets an owned copy, as from the queue. */
static void
process(struct agent *a, const struct agent_event *ev)
{
    struct agent_event owned;
    if (agent_event_copy(&owned, ev) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    agent_process(a, &owned);
}

/* Spool mode: waits until the loop has taken everything from the queue and processed it. */
static void
drain(struct agent *a, uint64_t *sent)
{
    struct agent_counters k;
    for (int i = 0; i < 100000; i++) {
        agent_counters(a, &k);
        if (k.queue_depth == 0 && k.processed + k.shed >= *sent)
            return;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

static int
run(const char *label, const char *exe, long n, const char *out, const char *spool)
{
    struct agent_config c;
    struct agent *a = NULL;
    struct bn_diag d;
    struct stat sb;

    if (agent_config_init(&c) != 0)
        return 1;
    bn_free(c.out_file);
    c.out_file = bn_strdup(out);
    c.cpu_percent = 100;
    bn_diag_clear(&d);
    if (spool && (bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "output.spool_dir", spool,
                              &d) != 0 ||
                  bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "collect.tier", "poll",
                              &d) != 0)) {
        fprintf(stderr, "config: %s\n", d.msg);
        agent_config_release(&c);
        return 1;
    }
    if (agent_new(&a, &c, &d) != 0) {
        fprintf(stderr, "agent_new: %s\n", d.msg);
        agent_config_release(&c);
        return 1;
    }
    agent_config_release(&c);
    if (stat(exe, &sb) != 0) {
        perror(exe);
        agent_free(a);
        return 1;
    }
    uint64_t sent = 0; /* spool mode: events handed to the loop, its own ones included */
    if (spool) {
        bn_diag_clear(&d);
        if (agent_start(a, &d) != 0) {
            fprintf(stderr, "agent_start: %s\n", d.msg);
            agent_free(a);
            return 1;
        }
        struct agent_counters k0;
        agent_counters(a, &k0);
        sent = k0.processed;
    }
    struct agent_event ev;
    char cmd[128];
    struct timespec now;
    clock_gettime(CLOCK_BOOTTIME, &now);
    uint64_t start0 = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    double c0 = 0, w0 = 0;
    /* the first WARMUP processes are not timed: they read this process's ancestry from
     * /proc and hash its executables once */
    for (long i = -WARMUP; i < n; i++) {
        if (spool && (i + WARMUP) % 128 == 0) {
            drain(a, &sent); /* one burst of 256 events at a time: nothing is shed */
            struct agent_counters k0;
            agent_counters(a, &k0);
            sent = k0.processed + k0.shed;
        }
        if (i == 0) {
            c0 = cpu_s();
            w0 = wall_s();
        }
        pid_t pid = (pid_t)(5000000 + ((i + WARMUP) % 1000000)); /* above pid_max: no /proc */
        memset(&ev, 0, sizeof(ev));
        ev.kind = AGENT_EV_PROCESS_CREATE;
        ev.prio = AGENT_PRIO_HIGH;
        ev.tier = AGENT_TIER_BPF;
        ev.proc.pid = pid;
        ev.proc.ppid = getpid();
        ev.proc.start_ns = start0 + (uint64_t)(i + WARMUP) * 20000000ull; /* distinct ticks */
        ev.proc.loginuid = (uid_t)-1;
        ev.proc.sessionid = UINT32_MAX;
        snprintf(ev.proc.comm, sizeof(ev.proc.comm), "%s", strrchr(exe, '/') + 1);
        ev.proc.exe = (char *)exe;
        snprintf(cmd, sizeof(cmd), "%s --bench %ld", exe, i + WARMUP);
        ev.proc.cmdline = cmd;
        ev.proc.cwd = (char *)"/home/user/src/project"; /* tier 1 walks it in the kernel */
        ev.parent.pid = getpid();
        ev.exe_id.valid = true;
        ev.exe_id.dev = (uint64_t)sb.st_dev;
        ev.exe_id.ino = (uint64_t)sb.st_ino;
        ev.exe_id.size = (uint64_t)sb.st_size;
        ev.exe_id.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000ll + sb.st_mtim.tv_nsec;
        if (spool) {
            sent += agent_emit(a, &ev) == 0;
        } else {
            process(a, &ev);
        }
        ev.kind = AGENT_EV_PROCESS_TERMINATE;
        ev.prio = AGENT_PRIO_NORMAL;
        ev.proc.cmdline = NULL;
        ev.proc.exe = NULL;
        ev.proc.cwd = NULL;
        memset(&ev.exe_id, 0, sizeof(ev.exe_id));
        if (spool)
            sent += agent_emit(a, &ev) == 0;
        else
            process(a, &ev);
    }
    if (spool)
        drain(a, &sent);
    double c1 = cpu_s(), w1 = wall_s();
    struct agent_counters k;
    agent_counters(a, &k);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%-4s%s %ld processes (exec + exit): %.2f us CPU per process (%.2f us wall), "
           "%llu alerts, %llu match errors, %llu shed, %llu spool errors; max RSS %.1f MB\n",
           label, spool ? " spool" : "", n, (c1 - c0) / (double)n * 1e6,
           (w1 - w0) / (double)n * 1e6, (unsigned long long)k.alerts,
           (unsigned long long)k.match_errors, (unsigned long long)k.shed,
           (unsigned long long)k.spool_errors, (double)ru.ru_maxrss / 1024.0);
    if (spool)
        agent_stop(a);
    agent_free(a);
    return 0;
}

int
main(int argc, char **argv)
{
    long n = 20000;
    const char *only = "";
    int opt;
    bool use_spool = false;
    while ((opt = getopt(argc, argv, "n:o:s")) != -1) {
        if (opt == 's')
            use_spool = true;
        else if (opt == 'n')
            n = strtol(optarg, NULL, 10);
        else if (opt == 'o')
            only = optarg;
        else {
            fprintf(stderr, "usage: bench_agent_loop [-n PROCESSES] [-o usr|tmp] [-s]\n");
            return 2;
        }
    }
    if (n <= 0)
        n = 1;
    char out[64], tmpexe[64], cmd[256];
    snprintf(out, sizeof(out), "/tmp/bn_bench_loop.%d.ndjson", (int)getpid());
    snprintf(tmpexe, sizeof(tmpexe), "/tmp/bn_bench_loop.%d.true", (int)getpid());
    snprintf(cmd, sizeof(cmd), "cp /usr/bin/true '%s'", tmpexe);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot copy /usr/bin/true to %s\n", tmpexe);
        return 1;
    }
    char sdir[] = "/var/tmp/bn-bench-loop-spool-XXXXXX";
    const char *spool = NULL;
    if (use_spool && !(spool = mkdtemp(sdir))) {
        perror("mkdtemp");
        unlink(tmpexe);
        return 1;
    }
    int rc = 0;
    if (strcmp(only, "tmp") != 0)
        rc = run("usr", "/usr/bin/true", n, out, spool);
    unlink(out);
    if (!rc && strcmp(only, "usr") != 0)
        rc = run("tmp", tmpexe, n, out, spool);
    unlink(out);
    unlink(tmpexe);
    if (spool) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", spool);
    }
    return rc;
}
