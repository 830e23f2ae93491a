/*
 * test_collect_poll.c - the tier 3 /proc poller: new and vanished processes, pid reuse
 * (same pid, new start time) on a fake /proc, loopback TCP listen/connect/accept with the
 * owning pids, and hostile /proc/net tables.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tiers_sink.h"
#include "bannin/error.h"

struct want {
    enum agent_kind kind;
    pid_t pid;
    uint64_t start_ns;  /* 0: any */
    uint16_t sport, dport;
    int listen, initiated; /* -1: any */
};

static bool
match(const struct sink_rec *r, const void *arg)
{
    const struct want *w = arg;
    if (r->kind != w->kind || (w->pid && r->proc.pid != w->pid))
        return false;
    if (w->start_ns && r->proc.start_ns != w->start_ns)
        return false;
    if (w->sport && r->sport != w->sport)
        return false;
    if (w->dport && r->dport != w->dport)
        return false;
    if (w->listen >= 0 && r->listen != (bool)w->listen)
        return false;
    if (w->initiated >= 0 && r->initiated != (bool)w->initiated)
        return false;
    return true;
}

static void *
start(const char *root, bool procs, bool net)
{
    struct agent_poll_conf conf = {.interval_ms = 50, .procs = procs, .net = net,
                                   .proc_root = root};
    struct bn_diag d;
    void *st = NULL;
    assert_int_equal(agent_poll_start_conf(NULL, &conf, &st, &d), 0);
    usleep(200 * 1000); /* baseline scan */
    return st;
}

static void
test_processes(void **state)
{
    (void)state;
    struct bn_diag d;
    assert_int_equal(agent_collector_proc_poll.probe(NULL, &d), 0);
    sink_reset();
    void *st = start(NULL, true, false);
    pid_t c = fork();
    if (c == 0) {
        execl("/bin/sleep", "sleep", "0.5", (char *)NULL);
        _exit(127);
    }
    struct want w = {AGENT_EV_PROCESS_CREATE, c, 0, 0, 0, -1, -1};
    long i = sink_wait(match, &w, 3000);
    assert_true(i >= 0);
    struct sink_rec *r = &sink_recs[i];
    assert_int_equal(r->tier, AGENT_TIER_POLL);
    assert_int_equal(r->proc.ppid, getpid());
    /* the poller may catch the child before or after its exec */
    assert_non_null(r->proc.cmdline);
    assert_true(r->proc.start_ns > 0);
    assert_int_equal(r->parent.pid, getpid());
    int ws;
    waitpid(c, &ws, 0);
    w.kind = AGENT_EV_PROCESS_TERMINATE;
    i = sink_wait(match, &w, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].exit_code, -1);
    char b[16];
    assert_string_equal(sink_extra(&sink_recs[i], "exit_code_known", b, sizeof(b)), "false");
    /* our own pid never shows up as new */
    struct want self = {AGENT_EV_PROCESS_CREATE, getpid(), 0, 0, 0, -1, -1};
    assert_true(sink_wait(match, &self, 0) < 0);
    char desc[1024] = "";
    agent_collector_proc_poll.describe(NULL, st, desc, sizeof(desc));
    assert_non_null(strstr(desc, "creates"));
    agent_collector_proc_poll.stop(NULL, st);
    sink_reset();
}

static void
test_loopback_tcp(void **state)
{
    (void)state;
    sink_reset();
    void *st = start(NULL, false, true);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 4), 0);
    socklen_t sl = sizeof(sa);
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    uint16_t port = ntohs(sa.sin_port);

    struct want wl = {AGENT_EV_NET_CONNECT, getpid(), 0, port, 0, 1, 0};
    long i = sink_wait(match, &wl, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].proto, IPPROTO_TCP);
    assert_int_equal(sink_recs[i].family, AF_INET);
    assert_memory_equal(sink_recs[i].saddr, "\x7f\x00\x00\x01", 4);

    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t c = fork();
    if (c == 0) {
        close(pfd[1]);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            _exit(1);
        char x;
        (void)read(pfd[0], &x, 1); /* hold the connection until the parent is done */
        _exit(0);
    }
    close(pfd[0]);
    int as = accept(ls, NULL, NULL);
    assert_true(as >= 0);
    /* the child's outbound connect to port */
    struct want wc = {AGENT_EV_NET_CONNECT, c, 0, 0, port, 0, 1};
    i = sink_wait(match, &wc, 3000);
    assert_true(i >= 0);
    assert_memory_equal(sink_recs[i].daddr, "\x7f\x00\x00\x01", 4);
    uint16_t cport = sink_recs[i].sport;
    assert_true(cport != 0);
    /* our inbound accept, source = the child's side */
    struct want wa = {AGENT_EV_NET_CONNECT, getpid(), 0, cport, port, 0, 0};
    i = sink_wait(match, &wa, 3000);
    assert_true(i >= 0);
    close(pfd[1]);
    int ws;
    waitpid(c, &ws, 0);
    close(as);
    close(ls);
    agent_collector_proc_poll.stop(NULL, st);
    sink_reset();
}

static void
test_loopback_udp(void **state)
{
    (void)state;
    sink_reset();
    void *st = start(NULL, false, true);
    int u = socket(AF_INET6, SOCK_DGRAM, 0);
    if (u < 0) {
        agent_collector_proc_poll.stop(NULL, st);
        skip();
    }
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    assert_int_equal(bind(u, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    getsockname(u, (struct sockaddr *)&sa, &sl);
    uint16_t port = ntohs(sa.sin6_port);
    struct want wl = {AGENT_EV_NET_CONNECT, getpid(), 0, port, 0, 1, 0};
    long i = sink_wait(match, &wl, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].proto, IPPROTO_UDP);
    assert_int_equal(sink_recs[i].family, AF_INET6);
    assert_memory_equal(sink_recs[i].saddr, in6addr_loopback.s6_addr, 16);
    /* a connected UDP socket is an outbound flow */
    int c = socket(AF_INET6, SOCK_DGRAM, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct want wc = {AGENT_EV_NET_CONNECT, getpid(), 0, 0, port, 0, 1};
    i = sink_wait(match, &wc, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].proto, IPPROTO_UDP);
    close(c);
    close(u);
    agent_collector_proc_poll.stop(NULL, st);
    sink_reset();
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
fake_pid(const char *root, int pid, unsigned long start)
{
    char path[512], text[256];
    snprintf(path, sizeof(path), "%s/%d", root, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%d/stat", root, pid);
    snprintf(text, sizeof(text),
             "%d (fake %d) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %lu 1 1\n", pid, pid, start);
    write_file(path, text);
}

static void
rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void
test_fake_proc_reuse_and_hostile_net(void **state)
{
    (void)state;
    char root[] = "/tmp/bn_pollproc_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[512];
    snprintf(path, sizeof(path), "%s/net", root);
    mkdir(path, 0755);
    fake_pid(root, 100, 5000);
    fake_pid(root, 200, 6000);
    snprintf(path, sizeof(path), "%s/net/tcp", root);
    write_file(path, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    sink_reset();
    void *st = start(root, true, true);
    assert_int_equal(sink_n, 0); /* the baseline is silent */

    /* pid 100 reused: new start time */
    fake_pid(root, 100, 9000);
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t tick = 1000000000ull / (uint64_t)hz;
    struct want wt = {AGENT_EV_PROCESS_TERMINATE, 100, 5000 * tick, 0, 0, -1, -1};
    struct want wc = {AGENT_EV_PROCESS_CREATE, 100, 9000 * tick, 0, 0, -1, -1};
    assert_true(sink_wait(match, &wt, 3000) >= 0);
    long i = sink_wait(match, &wc, 3000);
    assert_true(i >= 0);
    assert_string_equal(sink_recs[i].proc.comm, "fake 100");

    /* hostile tables: garbage, short lines, bad hex, a port over 65535, then one good
     * socket owned by fake pid 200 through its fd directory */
    snprintf(path, sizeof(path), "%s/200/fd", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/200/fd/3", root);
    assert_int_equal(symlink("socket:[777777]", path), 0);
    snprintf(path, sizeof(path), "%s/net/tcp", root);
    write_file(path,
               "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
               "garbage\n"
               "   0: \n"
               "   1: ZZZZZZZZ:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
               "   2: 0100007F:FFFFF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2\n"
               "   3: 0100007F:0016 00000000:0000 0A\n"
               "   4: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777777 1 0000000000000000 100 0 0 10 0\n");
    snprintf(path, sizeof(path), "%s/net/tcp6", root);
    write_file(path, "header only, no newline");
    snprintf(path, sizeof(path), "%s/net/udp", root);
    write_file(path, "");
    struct want wn = {AGENT_EV_NET_CONNECT, 200, 0, 8080, 0, 1, 0};
    i = sink_wait(match, &wn, 3000);
    assert_true(i >= 0);
    char b[32];
    assert_string_equal(sink_extra(&sink_recs[i], "socket_inode", b, sizeof(b)), "777777");
    assert_string_equal(sink_extra(&sink_recs[i], "socket_uid", b, sizeof(b)), "1000");
    usleep(200 * 1000);
    pthread_mutex_lock(&sink_lock);
    size_t nnet = 0;
    for (size_t k = 0; k < sink_n; k++)
        nnet += sink_recs[k].kind == AGENT_EV_NET_CONNECT;
    pthread_mutex_unlock(&sink_lock);
    assert_int_equal(nnet, 1); /* the malformed lines produced nothing, and no repeats */

    /* vanished */
    snprintf(path, sizeof(path), "%s/200", root);
    rm_rf(path);
    struct want wg = {AGENT_EV_PROCESS_TERMINATE, 200, 0, 0, 0, -1, -1};
    assert_true(sink_wait(match, &wg, 3000) >= 0);
    agent_collector_proc_poll.stop(NULL, st);
    rm_rf(root);
    sink_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processes),
        cmocka_unit_test(test_loopback_tcp),
        cmocka_unit_test(test_loopback_udp),
        cmocka_unit_test(test_fake_proc_reuse_and_hostile_net),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sink_done();
    return rc;
}
