/*
 * test_spool_agent.c - the agent loop spooling each drained batch with one
 * agent_spool_append_many: a running agent (tier 3, no privileges) gets bursts of events
 * through agent_emit, and afterwards every spool record's "bannin.seq" is its spool seq and
 * every spooled record is a line of the --output file, byte for byte. Run once with plain
 * events (every output line is in the spool) and once with an event now and then whose JSON
 * is over the spool's record limit, so that the spool refuses a record in the middle of a
 * batch: the records after it in the batch get their bannin.seq rewritten (a refused record
 * does not use up a seq) and still match the output. Run a third time with a rule that
 * alerts on every process event: an alert's trigger_seq and its embedded trigger's
 * bannin.seq name the spool record of its trigger also when a refusal moved that record.
 */
#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bannin/config.h"
#include "bannin/diag.h"
#include "bannin/error.h"

#include "agent/agent.h"
#include "agent/spool.h"

static char tmpdir[256];

static int
setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bn-spool-agent-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The poller is linked on purpose (agent.c refers to collectors weakly). */
const void *const test_linked_collectors[] = {&agent_collector_proc_poll};

/* The record's own bannin.seq: the last one (an alert embeds its trigger's before it). */
static uint64_t
json_seq(const char *p, size_t len)
{
    static const char key[] = "\"bannin.seq\":";
    const char *last = NULL;
    for (const char *q = p; (q = memmem(q, len - (size_t)(q - p), key, sizeof(key) - 1));
         q++)
        last = q;
    if (!last)
        return 0;
    return strtoull(last + sizeof(key) - 1, NULL, 10);
}

static int
cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The number after key in p (0 when absent). */
static uint64_t
num_after(const char *p, const char *key)
{
    const char *q = strstr(p, key);
    return q ? strtoull(q + strlen(key), NULL, 10) : 0;
}

static void
run(bool oversize, bool alerts)
{
    char spool[400], out[400];
    snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
    snprintf(out, sizeof(out), "%s/out.ndjson", tmpdir);
    struct agent_config c;
    struct bn_diag d;
    assert_int_equal(agent_config_init(&c), 0);
    bn_diag_clear(&d);
    assert_int_equal(bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "output.file", out, &d),
                     0);
    assert_int_equal(
        bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "output.spool_dir", spool, &d), 0);
    assert_int_equal(
        bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "output.spool_max", "64m", &d), 0);
    assert_int_equal(bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "collect.tier", "poll",
                                 &d), 0);
    if (alerts) {
        char rule[400];
        snprintf(rule, sizeof(rule), "%s/every.yml", tmpdir);
        FILE *rf = fopen(rule, "w");
        assert_non_null(rf);
        fputs("title: every test process\nid: 7d0e0a52-5a54-4c3e-9b1e-0a1f1c2b3d4e\n"
              "status: test\nlevel: high\n"
              "logsource: {product: linux, category: process_creation}\n"
              "detection:\n  sel:\n    CommandLine|contains: cccccccc\n  condition: sel\n",
              rf);
        assert_int_equal(fclose(rf), 0);
        assert_int_equal(
            bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "detect.builtin", "false", &d), 0);
        assert_int_equal(
            bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "detect.rules", rule, &d), 0);
    } else {
        assert_int_equal(
            bn_conf_set(agent_conf_defs, agent_conf_ndefs, &c, "detect.enabled", "false", &d),
            0);
    }
    struct agent *a = NULL;
    assert_int_equal(agent_new(&a, &c, &d), 0);
    bn_diag_clear(&d);
    assert_int_equal(agent_start(a, &d), 0);

    /* bursts: the loop drains each as one or a few batches */
    char cmd[700], path[64];
    memset(cmd, 'c', sizeof(cmd) - 1);
    cmd[sizeof(cmd) - 1] = '\0';
    static char bigval[40000];
    memset(bigval, 'v', sizeof(bigval) - 1);
    static const char *const bigkeys[30] = {
        "x00", "x01", "x02", "x03", "x04", "x05", "x06", "x07", "x08", "x09",
        "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19",
        "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29"};
    int emitted = 0, big = 0;
    for (int burst = 0; burst < 40; burst++) {
        for (int i = 0; i < 100; i++) {
            struct agent_event ev;
            memset(&ev, 0, sizeof(ev));
            int k = burst * 100 + i;
            if (oversize && k % 37 == 5) {
                /* 30 extras of 40 KB: JSON over AGENT_SPOOL_RECORD_MAX */
                ev.kind = AGENT_EV_TAMPER;
                ev.prio = AGENT_PRIO_CRITICAL;
                for (int x = 0; x < 30; x++) {
                    ev.extra_keys[x] = bigkeys[x];
                    ev.extra_vals[x] = bigval;
                }
                ev.nextra = 30;
                big++;
            } else if (k % 3 == 2) {
                ev.kind = AGENT_EV_TAMPER;
                ev.prio = AGENT_PRIO_CRITICAL;
                snprintf(path, sizeof(path), "/etc/bn-test-%d", k);
                ev.path = path;
            } else {
                ev.kind = AGENT_EV_PROCESS_CREATE;
                ev.prio = AGENT_PRIO_NORMAL;
                ev.proc.pid = 5000000 + k; /* above pid_max: nothing to read in /proc */
                ev.proc.ppid = 1;
                ev.proc.cmdline = cmd;
            }
            if (agent_emit(a, &ev) == 0)
                emitted++;
            else if (ev.nextra)
                big--;
        }
        usleep(10 * 1000);
    }
    agent_stop(a);
    struct agent_counters k;
    agent_counters(a, &k);
    agent_free(a);
    agent_config_release(&c);
    assert_true(emitted > 3000);

    /* the output, sorted */
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    size_t nlines = 0, cap = 8192;
    char **lines = calloc(cap, sizeof(*lines));
    assert_non_null(lines);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t l;
    while ((l = getline(&line, &lcap, f)) > 0) {
        if (line[l - 1] == '\n')
            line[l - 1] = '\0';
        if (nlines == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof(*lines));
            assert_non_null(lines);
        }
        lines[nlines++] = strdup(line);
    }
    free(line);
    fclose(f);
    qsort(lines, nlines, sizeof(*lines), cmp_str);

    struct agent_spool_opts o;
    struct agent_spool *s;
    agent_spool_opts_init(&o);
    o.dir = spool;
    o.max_bytes = 1 << 20;
    assert_int_equal(agent_spool_open(&s, &o), 0);
    struct agent_spool_rec r;
    size_t nrec = 0;
    char *buf = malloc(AGENT_SPOOL_RECORD_MAX + 1);
    assert_non_null(buf);
    /* the records by seq, for the alerts' triggers */
    size_t nseq = 0, seqcap = 16384;
    char **byseq = calloc(seqcap, sizeof(*byseq));
    assert_non_null(byseq);
    uint64_t seq_first = 0;
    while (agent_spool_next(s, &r) == 0) {
        if (!nseq)
            seq_first = r.seq;
        assert_true(r.seq - seq_first < seqcap);
        byseq[r.seq - seq_first] = strndup(r.data, r.len);
        nseq = (size_t)(r.seq - seq_first) + 1;
        uint64_t js = json_seq(r.data, r.len);
        if (js != r.seq)
            fail_msg("spool record %" PRIu64 " carries bannin.seq %" PRIu64 ": %.*s", r.seq, js,
                     (int)(r.len < 300 ? r.len : 300), r.data);
        memcpy(buf, r.data, r.len);
        buf[r.len] = '\0';
        char *key = buf;
        if (!bsearch(&key, lines, nlines, sizeof(*lines), cmp_str))
            fail_msg("spool record %" PRIu64 " is not a line of the output", r.seq);
        nrec++;
    }
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    agent_spool_close(s);
    free(buf);
    /* every alert names its trigger's spool record (trigger_seq 0: the trigger was refused) */
    size_t nalerts = 0;
    for (size_t i = 0; i < nseq; i++) {
        const char *rec = byseq[i];
        if (!rec || !strstr(rec, "\"trigger_seq\":\""))
            continue;
        nalerts++;
        uint64_t t = num_after(rec, "\"trigger_seq\":\"");
        const char *trig = strstr(rec, "\"trigger\":{");
        assert_non_null(trig);
        assert_true(t > 0);
        assert_int_equal(num_after(trig, "\"bannin.seq\":"), t);
        assert_true(t >= seq_first && t - seq_first < nseq && byseq[t - seq_first]);
        const char *tr = byseq[t - seq_first];
        uint64_t pid = num_after(trig, "\"ProcessId\":");
        if (pid != num_after(tr, "\"ProcessId\":") || json_seq(tr, strlen(tr)) != t)
            fail_msg("alert %zu: trigger_seq %" PRIu64 " is another record: trigger pid %" PRIu64
                     ", record: %.200s", i, t, pid, tr);
    }
    for (size_t i = 0; i < nseq; i++)
        free(byseq[i]);
    free(byseq);
    if (alerts)
        assert_true(nalerts > 1000);
    /* every output line is in the spool but the refused ones */
    assert_int_equal(k.spool_errors, (uint64_t)big);
    assert_int_equal(nrec + (size_t)big, nlines);
    assert_true(nrec + (size_t)big >= (size_t)emitted);
    if (oversize)
        assert_true(big > 50);
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
}

static void
test_batches(void **state)
{
    run(false, false);
}

static void
test_batches_refused(void **state)
{
    run(true, false);
}

static void
test_batches_refused_alerts(void **state)
{
    run(true, true);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_refused_alerts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
