/*
 * test_respond_isolate.c - host isolation in real network namespaces.
 *
 * Builds three namespaces created for this test: "host" (where the executor runs), joined by
 * veth pairs to "manager" (10.77.1.1, fd77:1::1) and "internet" (10.77.2.1, fd77:2::1). Each
 * far end has a TCP listener on 7443 and a UDP echo on 5353, served by a thread whose sockets
 * were created inside that namespace; a TCP listener on 127.0.0.1 stands for local services.
 * The test moves itself into "host" (setns) and checks TCP, UDP, ICMP and IPv6 before and
 * after isolate, after a local `flush ruleset` (back within 1 s), after an executor restart
 * and a simulated reboot, and that release brings the earlier ruleset back exactly.
 * Needs root and netns support; exits 77 otherwise. The namespaces are removed at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "agent/respond_isolate.h"

#define MGR4 "10.77.1.1"
#define MGR6 "fd77:1::1"
#define NET4 "10.77.2.1"
#define NET6 "fd77:2::1"
#define PORT 7443
#define UPORT 5353
#define PROBE_MS 300

static char ns_host[64], ns_mgr[64], ns_net[64];
static int orig_ns = -1;
static char state_dir[128];
static int srv_fds[8];
static size_t n_srv;
static int stop_pipe[2] = {-1, -1};
static pthread_t srv_thread;
static bool srv_started;
static char *baseline; /* stateless ruleset before isolation */

/* ---- helpers ---------------------------------------------------------------------------- */

static int sh(const char *fmt, ...) BN_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/*
 * Runs an nft command in the current namespace; returns owned output or NULL on failure.
 * Through the nft program, not libnftables: the module's watchdog thread runs libnftables
 * at any time, and this version's contexts share global tables (a second context made and
 * freed in this thread meanwhile was a double free under ASan).
 */
static char *nft(const char *cmd, bool stateless)
{
    char in[] = "/tmp/bn_test_iso_nft.XXXXXX", out[sizeof(in) + 4];
    int fd = mkstemp(in);
    if (fd < 0)
        return NULL;
    size_t n = strlen(cmd);
    bool wrote = write(fd, cmd, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
    close(fd);
    snprintf(out, sizeof(out), "%s.out", in);
    char *r = NULL;
    if (wrote && sh("nft %s-f %s > %s 2>/dev/null", stateless ? "-s " : "", in, out) == 0) {
        FILE *f = fopen(out, "r");
        size_t cap = 0;
        if (f && getdelim(&r, &cap, '\0', f) < 0) {
            free(r);
            r = strdup(""); /* no output */
        }
        if (f)
            fclose(f);
    }
    unlink(in);
    unlink(out);
    return r;
}

static bool table_present(void)
{
    char *l = nft("list table inet bannin_isolate", true);
    bool ok = l != NULL && strstr(l, "priority -400") != NULL;
    free(l);
    return ok;
}

static int setns_name(const char *name)
{
    char p[128];
    snprintf(p, sizeof(p), "/run/netns/%s", name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

static int sa_of(const char *addr, unsigned port, struct sockaddr_storage *ss, socklen_t *sl)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *sl = sizeof(*s4);
        return AF_INET;
    }
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *sl = sizeof(*s6);
        return AF_INET6;
    }
    return -1;
}

/* True if a TCP connection to addr:port completes within PROBE_MS. */
static bool tcp_ok(const char *addr, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int fam = sa_of(addr, port, &ss, &sl);
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        ok = true;
    } else if (errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, PROBE_MS) == 1) {
            int err = 0;
            socklen_t el = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            ok = err == 0;
        }
    }
    close(fd);
    return ok;
}

/* True if a UDP datagram to addr:port is echoed back within PROBE_MS. */
static bool udp_ok(const char *addr, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int fam = sa_of(addr, port, &ss, &sl);
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0 && send(fd, "ping", 4, 0) == 4) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char b[16];
        ok = poll(&p, 1, PROBE_MS) == 1 && recv(fd, b, sizeof(b), 0) == 4;
    }
    close(fd);
    return ok;
}

static uint16_t csum(const void *d, size_t n)
{
    const uint8_t *p = d;
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return htons((uint16_t)~s);
}

/* True if an ICMP(v6) echo to addr is answered within PROBE_MS (raw socket, root). */
static bool icmp_ok(const char *addr)
{
    static uint16_t seq;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int fam = sa_of(addr, 0, &ss, &sl);
    int fd = socket(fam, SOCK_RAW | SOCK_CLOEXEC,
                    fam == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
    if (fd < 0)
        return false;
    uint16_t id = (uint16_t)getpid(), sq = ++seq;
    uint8_t pkt[16] = {0};
    pkt[0] = fam == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    memcpy(pkt + 4, &id, 2);
    memcpy(pkt + 6, &sq, 2);
    if (fam == AF_INET) {
        uint16_t c = csum(pkt, sizeof(pkt));
        memcpy(pkt + 2, &c, 2);
    }
    bool ok = false;
    if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sl) == (ssize_t)sizeof(pkt)) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            long left = PROBE_MS - ((t1.tv_sec - t0.tv_sec) * 1000 +
                                    (t1.tv_nsec - t0.tv_nsec) / 1000000);
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (left <= 0 || poll(&p, 1, (int)left) != 1)
                break;
            uint8_t b[256];
            ssize_t r = recv(fd, b, sizeof(b), 0);
            if (r <= 0)
                break;
            const uint8_t *ic = b;
            if (fam == AF_INET) {
                size_t hl = (size_t)(b[0] & 0xf) * 4;
                if ((size_t)r < hl + 8)
                    continue;
                ic = b + hl;
            }
            uint8_t want = fam == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
            if (ic[0] == want && memcmp(ic + 4, &id, 2) == 0 && memcmp(ic + 6, &sq, 2) == 0) {
                ok = true;
                break;
            }
        }
    }
    close(fd);
    return ok;
}

/* ---- servers in the far namespaces ------------------------------------------------------ */

static int listen_in(const char *ns, int type, const char *addr, unsigned port)
{
    if (setns_name(ns) != 0)
        return -1;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int fam = sa_of(addr, port, &ss, &sl);
    int fd = socket(fam, type | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fam == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        (type == SOCK_STREAM && listen(fd, 64) != 0)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    srv_fds[n_srv++] = fd;
    return 0;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[9];
        for (size_t i = 0; i < n_srv; i++)
            p[i] = (struct pollfd){.fd = srv_fds[i], .events = POLLIN};
        p[n_srv] = (struct pollfd){.fd = stop_pipe[0], .events = POLLIN};
        if (poll(p, n_srv + 1, -1) < 0)
            continue;
        if (p[n_srv].revents)
            return NULL;
        for (size_t i = 0; i < n_srv; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            int type = 0;
            socklen_t tl = sizeof(type);
            getsockopt(srv_fds[i], SOL_SOCKET, SO_TYPE, &type, &tl);
            if (type == SOCK_STREAM) {
                int c = accept4(srv_fds[i], NULL, NULL, SOCK_CLOEXEC);
                if (c >= 0)
                    close(c);
            } else {
                char b[64];
                struct sockaddr_storage from;
                socklen_t fl = sizeof(from);
                ssize_t r = recvfrom(srv_fds[i], b, sizeof(b), 0, (struct sockaddr *)&from,
                                     &fl);
                if (r > 0)
                    sendto(srv_fds[i], b, (size_t)r, 0, (struct sockaddr *)&from, fl);
            }
        }
    }
}

/* ---- setup / teardown ------------------------------------------------------------------- */

static void cleanup(void)
{
    if (srv_started) {
        if (write(stop_pipe[1], "x", 1) != 1)
            perror("write");
        pthread_join(srv_thread, NULL);
        srv_started = false;
    }
    for (size_t i = 0; i < n_srv; i++)
        close(srv_fds[i]);
    n_srv = 0;
    if (orig_ns >= 0) {
        if (setns(orig_ns, CLONE_NEWNET) != 0)
            perror("setns back");
        close(orig_ns);
        orig_ns = -1;
    }
    if (ns_host[0]) {
        sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; "
           "ip netns del %s 2>/dev/null", ns_host, ns_mgr, ns_net);
        ns_host[0] = '\0';
    }
    if (state_dir[0]) {
        sh("rm -rf '%s'", state_dir);
        state_dir[0] = '\0';
    }
    free(baseline);
    baseline = NULL;
}

static int setup(void)
{
    pid_t pid = getpid();
    snprintf(ns_host, sizeof(ns_host), "bn-iso-h-%d", (int)pid);
    snprintf(ns_mgr, sizeof(ns_mgr), "bn-iso-m-%d", (int)pid);
    snprintf(ns_net, sizeof(ns_net), "bn-iso-i-%d", (int)pid);
    if (sh("ip netns add %s && ip netns add %s && ip netns add %s", ns_host, ns_mgr,
           ns_net) != 0)
        return -1;
    const char *H = ns_host, *M = ns_mgr, *I = ns_net;
    int rc = sh("set -e\n"
                "ip link add isoh0 netns %s type veth peer name isom0 netns %s\n"
                "ip link add isoh1 netns %s type veth peer name isoi0 netns %s\n"
                "ip -n %s link set lo up; ip -n %s link set lo up; ip -n %s link set lo up\n"
                "ip -n %s addr add 10.77.1.2/24 dev isoh0\n"
                "ip -n %s addr add fd77:1::2/64 dev isoh0 nodad\n"
                "ip -n %s addr add 10.77.2.2/24 dev isoh1\n"
                "ip -n %s addr add fd77:2::2/64 dev isoh1 nodad\n"
                "ip -n %s addr add " MGR4 "/24 dev isom0\n"
                "ip -n %s addr add " MGR6 "/64 dev isom0 nodad\n"
                "ip -n %s addr add " NET4 "/24 dev isoi0\n"
                "ip -n %s addr add " NET6 "/64 dev isoi0 nodad\n"
                "ip -n %s link set isoh0 up; ip -n %s link set isoh1 up\n"
                "ip -n %s link set isom0 up; ip -n %s link set isoi0 up\n",
                H, M, H, I, H, M, I, H, H, H, H, M, M, I, I, H, H, M, I);
    if (rc != 0)
        return -2;
    orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (orig_ns < 0 || pipe2(stop_pipe, O_CLOEXEC) != 0)
        return -2;
    if (listen_in(M, SOCK_STREAM, MGR4, PORT) || listen_in(M, SOCK_STREAM, MGR6, PORT) ||
        listen_in(M, SOCK_DGRAM, MGR4, UPORT) || listen_in(I, SOCK_STREAM, NET4, PORT) ||
        listen_in(I, SOCK_STREAM, NET6, PORT) || listen_in(I, SOCK_DGRAM, NET4, UPORT) ||
        listen_in(I, SOCK_DGRAM, NET6, UPORT) || listen_in(H, SOCK_STREAM, "127.0.0.1", PORT))
        return -2;
    if (setns_name(H) != 0)
        return -2;
    if (pthread_create(&srv_thread, NULL, serve, NULL) != 0)
        return -2;
    srv_started = true;
    /* veth carrier and IPv6 addresses take a moment: wait up to 5 s for every path. */
    for (int i = 0; i < 100; i++) {
        if (tcp_ok(MGR4, PORT) && tcp_ok(MGR6, PORT) && tcp_ok(NET4, PORT) && tcp_ok(NET6, PORT))
            break;
        usleep(50000);
    }
    snprintf(state_dir, sizeof(state_dir), "/tmp/bn-iso-state-%d", (int)pid);
    /* The host's own firewall before isolation: must come back exactly after release. */
    char *r = nft("table ip filter {\n"
                  " chain input { type filter hook input priority 0; policy accept;\n"
                  "  tcp dport 9999 counter drop\n }\n"
                  "}\n"
                  "table inet site {\n"
                  " set blocked { type ipv4_addr; elements = { 192.0.2.7, 198.51.100.9 } }\n"
                  " chain output { type filter hook output priority 10; policy accept;\n"
                  "  ip daddr @blocked counter reject\n }\n"
                  "}\n",
                  false);
    if (!r)
        return -2;
    free(r);
    baseline = nft("list ruleset", true);
    return baseline ? 0 : -2;
}

/* ---- tests ------------------------------------------------------------------------------ */

static struct resp_isolate *iso;

static int run(int (*fn)(struct resp_isolate *, const char *, size_t, struct bn_buf *),
               const char *params, struct bn_buf *out)
{
    bn_buf_reset(out);
    int rc = fn(iso, params, params ? strlen(params) : 0, out);
    fprintf(stderr, "  -> %s\n", out->len ? out->p : "(empty)");
    return rc;
}

static void expect_open_network(void)
{
    assert_true(tcp_ok(MGR4, PORT));
    assert_true(tcp_ok(MGR6, PORT));
    assert_true(tcp_ok(NET4, PORT));
    assert_true(tcp_ok(NET6, PORT));
    assert_true(udp_ok(NET4, UPORT));
    assert_true(udp_ok(NET6, UPORT));
    assert_true(icmp_ok(NET4));
    assert_true(icmp_ok(NET6));
    assert_true(tcp_ok("127.0.0.1", PORT));
}

static void expect_isolated_network(void)
{
    assert_true(tcp_ok(MGR4, PORT));        /* the manager link works, v4 and v6 */
    assert_true(tcp_ok(MGR6, PORT));
    assert_true(tcp_ok("127.0.0.1", PORT)); /* loopback */
    assert_false(tcp_ok(NET4, PORT));       /* nothing else */
    assert_false(tcp_ok(NET6, PORT));
    assert_false(udp_ok(NET4, UPORT));
    assert_false(udp_ok(NET6, UPORT));
    assert_false(udp_ok(MGR4, UPORT));      /* the manager host, other port */
    assert_false(icmp_ok(NET4));
    assert_false(icmp_ok(NET6));
    assert_false(icmp_ok(MGR4));
}

static void test_cycle(void **st)
{
    (void)st;
    struct respond_paths paths = {.state_dir = state_dir};
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    expect_open_network();

    assert_int_equal(resp_isolate_new(&iso, &paths), 0);
    assert_int_equal(run(resp_isolation_status, "{}", &out), 0);
    assert_non_null(strstr(out.p, "\"isolated\":false"));

    assert_int_equal(run(resp_isolate,
                         "{\"manager\":[\"" MGR4 ":7443\",\"[" MGR6 "]:7443\"],"
                         "\"by\":\"test\",\"reason\":\"unit test\"}",
                         &out),
                     0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    assert_non_null(strstr(out.p, "\"verified\":true"));
    assert_true(table_present());
    expect_isolated_network();

    /* Drops are counted and reported. */
    assert_int_equal(run(resp_isolation_status, NULL, &out), 0);
    assert_non_null(strstr(out.p, "\"isolated\":true"));
    assert_non_null(strstr(out.p, "\"verified\":true"));
    assert_null(strstr(out.p, "\"output\":{\"packets\":0"));

    /* A local flush: the watchdog puts isolation back within a second. */
    uint64_t before = resp_isolate_reapplied(iso);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    free(nft("flush ruleset", false));
    long ms = 0; /* (the watchdog may be quick enough that the table is never seen missing) */
    while (!table_present() && ms < 2000) {
        usleep(10000);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    fprintf(stderr, "  isolation back %ld ms after 'flush ruleset'\n", ms);
    assert_true(table_present());
    assert_true(ms <= 1000);
    assert_true(resp_isolate_reapplied(iso) > before);
    expect_isolated_network();

    /* A rule deleted from our table (altered, not removed) is also repaired. */
    before = resp_isolate_reapplied(iso);
    free(nft("flush chain inet bannin_isolate output", false));
    usleep(700000);
    assert_true(resp_isolate_reapplied(iso) > before);
    assert_false(tcp_ok(NET4, PORT));
    assert_true(tcp_ok(MGR4, PORT));

    /* Agent restart: stopping the executor leaves isolation, starting it again reports it. */
    resp_isolate_free(iso);
    iso = NULL;
    assert_true(table_present());
    assert_false(tcp_ok(NET4, PORT));
    assert_int_equal(resp_isolate_new(&iso, &paths), 0);
    assert_int_equal(run(resp_isolation_status, "{}", &out), 0);
    assert_non_null(strstr(out.p, "\"isolated\":true"));
    assert_non_null(strstr(out.p, "\"verified\":true"));
    assert_non_null(strstr(out.p, "\"reason\":\"unit test\""));

    /* Reboot: rules gone, state on disk; the executor re-applies at start. */
    resp_isolate_free(iso);
    iso = NULL;
    free(nft("flush ruleset", false));
    assert_false(table_present());
    assert_int_equal(resp_isolate_new(&iso, &paths), 0);
    assert_true(table_present()); /* at once, not by the watchdog */
    expect_isolated_network();

    /* Release: the earlier ruleset (flushed meanwhile) comes back exactly. */
    assert_int_equal(run(resp_release, "{\"by\":\"test\",\"reason\":\"clean\"}", &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    assert_non_null(strstr(out.p, "\"restored\":true"));
    assert_false(table_present());
    char *now = nft("list ruleset", true);
    assert_non_null(now);
    assert_string_equal(now, baseline);
    free(now);
    expect_open_network();
    usleep(500000); /* the watchdog must not bring it back */
    assert_false(table_present());

    /* Isolate and release with no local change: nothing to restore, still exact. */
    assert_int_equal(run(resp_isolate, "{\"manager\":\"" MGR4 ":7443\",\"dns\":[\"" NET4 "\"]}",
                         &out),
                     0);
    assert_non_null(strstr(out.p, "\"verified\":true"));
    assert_true(tcp_ok(MGR4, PORT));
    assert_false(tcp_ok(MGR6, PORT)); /* only the v4 endpoint this time */
    assert_false(tcp_ok(NET4, PORT));
    assert_int_equal(run(resp_release, "{}", &out), 0);
    assert_non_null(strstr(out.p, "\"restored\":false"));
    now = nft("list ruleset", true);
    assert_string_equal(now, baseline);
    free(now);
    assert_int_equal(run(resp_release, "{}", &out), 0); /* not isolated: harmless */
    assert_non_null(strstr(out.p, "\"was_isolated\":false"));

    /* Two executors on one state dir (the agent, and `bannin-agent action` next to it): the
     * running one follows what the other did, and never re-applies after its release. */
    struct resp_isolate *cli = NULL, *agent = iso;
    assert_int_equal(resp_isolate_new(&cli, &paths), 0);
    iso = cli;
    assert_int_equal(run(resp_isolate, "{\"manager\":\"" MGR4 ":7443\"}", &out), 0);
    assert_non_null(strstr(out.p, "\"verified\":true"));
    resp_isolate_free(cli); /* the command exits */
    iso = agent;
    usleep(400000);
    assert_int_equal(run(resp_isolation_status, "{}", &out), 0);
    assert_non_null(strstr(out.p, "\"isolated\":true"));
    assert_non_null(strstr(out.p, "\"verified\":true"));
    before = resp_isolate_reapplied(agent);
    free(nft("flush ruleset", false));
    usleep(600000);
    assert_true(table_present()); /* the agent's watchdog repaired it */
    assert_true(resp_isolate_reapplied(agent) > before);
    assert_int_equal(resp_isolate_new(&cli, &paths), 0);
    iso = cli;
    assert_int_equal(run(resp_release, "{}", &out), 0);
    assert_non_null(strstr(out.p, "\"restored\":true"));
    resp_isolate_free(cli);
    iso = agent;
    usleep(600000);
    assert_false(table_present()); /* the agent saw the release */
    assert_int_equal(run(resp_isolation_status, "{}", &out), 0);
    assert_non_null(strstr(out.p, "\"isolated\":false"));
    now = nft("list ruleset", true);
    assert_string_equal(now, baseline);
    free(now);

    resp_isolate_free(iso);
    iso = NULL;
    bn_buf_release(&out);
}

static void test_bad_params(void **st)
{
    (void)st;
    struct respond_paths paths = {.state_dir = state_dir};
    struct bn_buf out;
    bn_buf_init(&out, 1u << 16);
    assert_int_equal(resp_isolate_new(&iso, &paths), 0);
    static const char *const bad[] = {
        "{}",
        "{\"manager\":[]}",
        "{\"manager\":\"manager.example.com:7443\"}",
        "{\"manager\":\"10.0.0.1\"}",
        "{\"manager\":\"10.0.0.1:0\"}",
        "{\"manager\":\"10.0.0.1:70000\"}",
        "{\"manager\":\"10.0.0.1:80; flush ruleset\"}",
        "{\"manager\":\"[fd00::1]\"}",
        "{\"manager\":\"fd00::1:7443\"}",
        "{\"manager\":[1]}",
        "{\"manager\":\"10.0.0.1:7443\",\"dns\":\"10.0.0.1:53\"}",
        "{\"manager\":\"10.0.0.1:7443\",\"by\":7}",
        "{\"manager\":\"10.0.0.1:7443\",\"manager\":\"10.0.0.2:7443\"}",
        "[\"10.0.0.1:7443\"]",
        "{\"manager\":",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fprintf(stderr, "  bad: %s\n", bad[i]);
        assert_int_equal(run(resp_isolate, bad[i], &out), BN_EINVAL);
        assert_non_null(strstr(out.p, "\"ok\":false,\"error\":\""));
        assert_false(table_present());
    }
    /* The parser alone (no firewall): canonical endpoints; every allocation failure is clean. */
    static const char good[] = "{\"manager\":[\"10.0.0.1:7443\",\"[2001:DB8:0::1]:443\"],"
                               "\"dns\":[\"::ffff:10.0.0.53\"],\"by\":\"x\"}";
    bn_buf_reset(&out);
    assert_int_equal(resp_isolate_check(good, strlen(good), &out), 0);
    assert_string_equal(out.p, "{\"ok\":true,\"manager\":[\"10.0.0.1:7443\",\"[2001:db8::1]:443\"],"
                               "\"dns\":[\"::ffff:10.0.0.53\"]}");
    for (unsigned long n = 1; n < 64; n++) {
        struct bn_buf o2;
        bn_buf_init(&o2, 1u << 16);
        bn_alloc_fail_after(n);
        int rc = resp_isolate_check(good, strlen(good), &o2);
        bn_alloc_fail_after(0);
        assert_true(rc == 0 || rc == BN_ENOMEM || rc == BN_ETOOBIG);
        bn_buf_release(&o2);
    }
    /* A default manager endpoint: then "manager" may be left out. */
    static const char *const defm[] = {MGR4 ":7443"};
    static const char *const badm[] = {"manager.example:7443"};
    assert_int_equal(resp_isolate_set_manager(iso, badm, 1), BN_EINVAL);
    assert_int_equal(resp_isolate_set_manager(iso, defm, 1), 0);
    assert_int_equal(run(resp_isolate, "{\"reason\":\"local\"}", &out), 0);
    assert_non_null(strstr(out.p, "\"manager\":[\"" MGR4 ":7443\"]"));
    assert_true(table_present());
    assert_true(tcp_ok(MGR4, PORT));
    assert_false(tcp_ok(NET4, PORT));
    assert_int_equal(run(resp_release, "{}", &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    assert_false(table_present());
    assert_int_equal(resp_isolate_set_manager(iso, NULL, 0), 0);
    assert_int_equal(run(resp_release, "{\"by\":[]}", &out), BN_EINVAL);
    assert_int_equal(run(resp_isolation_status, "nope", &out), BN_EINVAL);
    struct stat sb;
    assert_int_not_equal(stat(state_dir, &sb), -1);
    char p[256];
    snprintf(p, sizeof(p), "%s/isolation.json", state_dir);
    assert_int_equal(stat(p, &sb), -1); /* nothing persisted by a refused request */
    resp_isolate_free(iso);
    iso = NULL;
    bn_buf_release(&out);
}

/*
 * --hold STATE_DIR: runs the executor (start-up re-apply + watchdog) in the current namespace
 * until SIGTERM/SIGINT, the way the agent hosts it; test_response_isolate.sh uses it as the
 * long-running side while `bannin-agent action` changes the state next to it.
 */
static int hold(const char *dir)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct respond_paths paths = {.state_dir = dir};
    struct resp_isolate *m;
    int rc = resp_isolate_new(&m, &paths);
    if (rc != 0) {
        fprintf(stderr, "resp_isolate_new: %s\n", bn_strerror(rc));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    printf("reapplied %llu\n", (unsigned long long)resp_isolate_reapplied(m));
    resp_isolate_free(m);
    return 0;
}

/* --do TYPE STATE_DIR JSON: one action, result on stdout; exit 0 ok, 1 failed, 2 refused
 * (the same contract as `bannin-agent action`, for when that does not run isolate yet). */
static int do_action(const char *type, const char *dir, const char *params)
{
    int (*fn)(struct resp_isolate *, const char *, size_t, struct bn_buf *) =
        strcmp(type, "isolate") == 0   ? resp_isolate
        : strcmp(type, "release") == 0 ? resp_release
        : strcmp(type, "isolation_status") == 0 ? resp_isolation_status
                                                 : NULL;
    if (!fn) {
        fprintf(stderr, "unknown action '%s'\n", type);
        return 2;
    }
    struct respond_paths paths = {.state_dir = dir};
    int rc = resp_isolate_new(&iso, &paths);
    if (rc != 0) {
        fprintf(stderr, "resp_isolate_new: %s\n", bn_strerror(rc));
        return 2;
    }
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    rc = fn(iso, params, strlen(params), &out);
    printf("%s\n", out.len ? out.p : "");
    int ret = rc != 0 ? 2 : strstr(out.p, "\"ok\":true") ? 0 : 1;
    bn_buf_release(&out);
    resp_isolate_free(iso);
    iso = NULL;
    return ret;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--hold") == 0)
        return hold(argv[2]);
    if (argc == 5 && strcmp(argv[1], "--do") == 0)
        return do_action(argv[2], argv[3], argv[4]);
    if (geteuid() != 0) {
        fprintf(stderr, "skipping: needs root for network namespaces\n");
        return 77;
    }
    if (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0 &&
        sh("command -v ip >/dev/null") != 0) {
        fprintf(stderr, "skipping: iproute2 'ip' not found\n");
        return 77;
    }
    int s = setup();
    if (s == -1) {
        fprintf(stderr, "skipping: cannot create network namespaces\n");
        cleanup();
        return 77;
    }
    if (s != 0) {
        fprintf(stderr, "setup of the namespaces failed\n");
        cleanup();
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_cycle),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (iso) {
        /* a failed assertion left the executor running: release so nothing lingers */
        struct bn_buf out;
        bn_buf_init(&out, 1u << 16);
        resp_release(iso, "{}", 2, &out);
        bn_buf_release(&out);
        resp_isolate_free(iso);
    }
    cleanup();
    return rc;
}
