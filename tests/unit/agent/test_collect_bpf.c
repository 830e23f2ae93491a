/*
 * test_collect_bpf.c - tier 1 (eBPF) collector: Community ID vectors and DNS question
 * parsing everywhere; as root, the real programs loaded into this kernel watching what the
 * test itself does (short-lived process with a long argv, a three-deep chain, a loopback
 * TCP connection, a DNS query, file create/write/rename/chmod/delete in a temp dir).
 * Without root or a loadable skeleton the kernel tests are skipped with the reason.
 *
 * agent_emit is defined here (events go into an in-memory list), which keeps the agent's
 * loop out of this executable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"
#include "bannin/community_id.h"
#include "bannin/error.h"

/* ---- the sink ---- */

struct rec {
    enum agent_kind kind;
    pid_t pid, ppid;
    char *exe, *cmdline, *path, *path2, *query;
    bool truncated, initiated, listen;
    int exit_code;
    uint32_t mode;
    uint8_t family, proto;
    uint8_t saddr[16], daddr[16];
    uint16_t sport, dport;
    char community_id[64];
};

#define RECS_MAX 100000
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *recs;
static size_t nrecs;

static char *
sdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int
agent_emit(struct agent *a, const struct agent_event *ev)
{
    struct rec *r;

    (void)a;
    pthread_mutex_lock(&lock);
    if (!recs || nrecs >= RECS_MAX) {
        pthread_mutex_unlock(&lock);
        return BN_ETOOBIG;
    }
    r = &recs[nrecs];
    memset(r, 0, sizeof(*r));
    r->kind = ev->kind;
    r->pid = ev->proc.pid;
    r->ppid = ev->proc.ppid;
    r->exe = sdup(ev->proc.exe);
    r->cmdline = sdup(ev->proc.cmdline);
    r->path = sdup(ev->path);
    r->path2 = sdup(ev->path2);
    r->query = sdup(ev->query);
    r->truncated = ev->proc.cmdline_truncated;
    r->initiated = ev->initiated;
    r->listen = ev->listen;
    r->exit_code = ev->exit_code;
    r->mode = ev->mode;
    r->family = ev->family;
    r->proto = ev->proto;
    memcpy(r->saddr, ev->saddr, 16);
    memcpy(r->daddr, ev->daddr, 16);
    r->sport = ev->sport;
    r->dport = ev->dport;
    memcpy(r->community_id, ev->community_id, sizeof(r->community_id));
    nrecs++;
    pthread_mutex_unlock(&lock);
    return 0;
}

static void
sink_reset(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nrecs; i++) {
        free(recs[i].exe);
        free(recs[i].cmdline);
        free(recs[i].path);
        free(recs[i].path2);
        free(recs[i].query);
    }
    nrecs = 0;
    if (!recs)
        recs = calloc(RECS_MAX, sizeof(*recs));
    pthread_mutex_unlock(&lock);
}

typedef bool (*match_fn)(const struct rec *r, const void *arg);

/* Waits up to 5 s for a record matching m; returns a copy of it (strings borrowed). */
static bool
wait_for(match_fn m, const void *arg, struct rec *out)
{
    for (int tries = 0; tries < 500; tries++) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < nrecs; i++) {
            if (m(&recs[i], arg)) {
                *out = recs[i];
                pthread_mutex_unlock(&lock);
                return true;
            }
        }
        pthread_mutex_unlock(&lock);
        usleep(10000);
    }
    return false;
}

/* ---- Community ID ---- */

static void
test_community_id_vectors(void **st)
{
    uint8_t a[4], b[4], c6[16], d6[16];
    char id[64], id2[64];

    (void)st;
    /* from the Community ID specification's examples */
    inet_pton(AF_INET, "128.232.110.120", a);
    inet_pton(AF_INET, "66.35.250.204", b);
    assert_int_equal(bn_community_id(0, AF_INET, IPPROTO_TCP, a, b, 34855, 80, id,
                                     sizeof(id)), 0);
    assert_string_equal(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    /* the reverse direction gives the same id */
    assert_int_equal(bn_community_id(0, AF_INET, IPPROTO_TCP, b, a, 80, 34855, id2,
                                     sizeof(id2)), 0);
    assert_string_equal(id2, id);
    assert_int_equal(bn_community_id(1, AF_INET, IPPROTO_TCP, a, b, 34855, 80, id,
                                     sizeof(id)), 0);
    assert_string_equal(id, "1:3V71V58M3Ksw/yuFALMcW0LAHvc=");
    inet_pton(AF_INET, "192.168.1.52", a);
    inet_pton(AF_INET, "8.8.8.8", b);
    assert_int_equal(bn_community_id(0, AF_INET, IPPROTO_UDP, a, b, 54585, 53, id,
                                     sizeof(id)), 0);
    assert_string_equal(id, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
    /* IPv6: symmetric and well-formed */
    inet_pton(AF_INET6, "fe80::1", c6);
    inet_pton(AF_INET6, "fe80::2", d6);
    assert_int_equal(bn_community_id(0, AF_INET6, IPPROTO_TCP, c6, d6, 1000, 22, id,
                                     sizeof(id)), 0);
    assert_int_equal(bn_community_id(0, AF_INET6, IPPROTO_TCP, d6, c6, 22, 1000, id2,
                                     sizeof(id2)), 0);
    assert_string_equal(id, id2);
    assert_int_equal(strlen(id), BN_COMMUNITY_ID_LEN - 1);
    /* bad arguments */
    assert_int_equal(bn_community_id(0, 99, IPPROTO_TCP, c6, d6, 1, 2, id, sizeof(id)),
                  BN_EINVAL);
    assert_string_equal(id, "");
    assert_int_equal(bn_community_id(0, AF_INET, IPPROTO_TCP, a, b, 1, 2, id, 10),
                  BN_EINVAL);
}

/* ---- DNS question ---- */

static size_t
dns_query(uint8_t *buf, const char *name)
{
    size_t n = 12;

    memset(buf, 0, 12);
    buf[0] = 0x12;
    buf[1] = 0x34;
    buf[2] = 0x01; /* RD */
    buf[5] = 1;    /* QDCOUNT */
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);

        buf[n++] = (uint8_t)l;
        memcpy(buf + n, name, l);
        n += l;
        name += l;
        if (*name == '.')
            name++;
    }
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = 1; /* A */
    buf[n++] = 0;
    buf[n++] = 1; /* IN */
    return n;
}

static void
test_dns_question(void **st)
{
    uint8_t q[512];
    char out[256];
    size_t n;

    (void)st;
    n = dns_query(q, "www.example.org");
    assert_int_equal(agent_bpf_dns_question(q, n, out, sizeof(out)), 0);
    assert_string_equal(out, "www.example.org");
    /* every truncation of the message is an error, never a read past the end */
    for (size_t i = 0; i < n - 4; i++)
        assert_int_not_equal(agent_bpf_dns_question(q, i, out, sizeof(out)), 0);
    /* too small an output buffer */
    assert_int_equal(agent_bpf_dns_question(q, n, out, 8), BN_ETOOBIG);
    /* a response is declined */
    q[2] |= 0x80;
    assert_int_equal(agent_bpf_dns_question(q, n, out, sizeof(out)), BN_DECLINED);
    q[2] &= 0x7f;
    /* a compression pointer in the question is malformed */
    q[12] = 0xc0;
    assert_int_equal(agent_bpf_dns_question(q, n, out, sizeof(out)), BN_EFORMAT);
}

/* ---- the kernel side ---- */

static void *bpf_state;
static char tmpdir[64];

static int
bpf_setup(void **st)
{
    struct bn_diag d;
    int rc;

    (void)st;
    sink_reset();
    if (geteuid() != 0) {
        fprintf(stderr, "test_collect_bpf: not root: the eBPF tests are skipped\n");
        return 0;
    }
    bn_diag_clear(&d);
    rc = agent_collector_bpf.probe(NULL, &d);
    if (rc == 0)
        rc = agent_bpf_start_conf(NULL, &agent_bpf_default_conf, &bpf_state, &d);
    if (rc != 0) {
        fprintf(stderr, "test_collect_bpf: eBPF collector unavailable (%s): skipped\n", d.msg);
        bpf_state = NULL;
    }
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bn-bpf-test.XXXXXX");
    if (!mkdtemp(tmpdir))
        tmpdir[0] = '\0';
    return 0;
}

static int
bpf_teardown(void **st)
{
    char p[128];
    const char *names[] = {"a", "b", "rel"};

    (void)st;
    if (bpf_state)
        agent_collector_bpf.stop(NULL, bpf_state);
    bpf_state = NULL;
    if (tmpdir[0]) {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
            unlink(p);
        }
        rmdir(tmpdir);
    }
    sink_reset();
    return 0;
}

static pid_t
spawn(char *const argv[])
{
    pid_t pid = fork();

    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

struct pid_kind {
    pid_t pid;
    enum agent_kind kind;
};

static bool
m_pid_kind(const struct rec *r, const void *arg)
{
    const struct pid_kind *pk = arg;

    return r->pid == pk->pid && r->kind == pk->kind;
}

static void
test_exec_argv_exit(void **st)
{
    char *argv[400];
    char *joined;
    size_t len = 0, nargs = 0;
    struct rec r = {0};
    struct pid_kind pk;
    int status;
    pid_t pid;

    (void)st;
    if (!bpf_state)
        skip();
    /* about 6 KB of argv: more than one chunk, all of it kept */
    argv[nargs++] = "/bin/sh";
    argv[nargs++] = "-c";
    argv[nargs++] = "exit 3";
    argv[nargs++] = "bn-argv0";
    for (int i = 0; i < 300; i++) {
        char *s = malloc(32);

        assert_non_null(s);
        snprintf(s, 32, "arg%03d-bannin-test", i);
        argv[nargs++] = s;
    }
    argv[nargs] = NULL;
    for (size_t i = 0; i < nargs; i++)
        len += strlen(argv[i]) + 1;
    joined = malloc(len + 1);
    assert_non_null(joined);
    len = 0;
    for (size_t i = 0; i < nargs; i++) {
        size_t l = strlen(argv[i]);

        if (i)
            joined[len++] = ' ';
        memcpy(joined + len, argv[i], l);
        len += l;
    }
    joined[len] = '\0';
    pid = spawn(argv);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 3);

    pk.pid = pid;
    pk.kind = AGENT_EV_PROCESS_CREATE;
    assert_true(wait_for(m_pid_kind, &pk, &r));
    assert_string_equal(r.cmdline, joined);
    assert_false(r.truncated);
    assert_string_equal(r.exe, "/bin/sh");
    assert_int_equal(r.ppid, getpid());
    pk.kind = AGENT_EV_PROCESS_TERMINATE;
    assert_true(wait_for(m_pid_kind, &pk, &r));
    assert_int_equal(r.exit_code, 3);
    for (size_t i = 4; i < nargs; i++)
        free(argv[i]);
    free(joined);
}

static void
test_exec_truncated(void **st)
{
    char *argv[3];
    char *big;
    struct rec r = {0};
    struct pid_kind pk;
    int status;
    pid_t pid;

    (void)st;
    if (!bpf_state)
        skip();
    big = malloc(40000);
    assert_non_null(big);
    memset(big, 'x', 39999);
    big[39999] = '\0';
    argv[0] = "/bin/true";
    argv[1] = big;
    argv[2] = NULL;
    pid = spawn(argv);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    pk.pid = pid;
    pk.kind = AGENT_EV_PROCESS_CREATE;
    assert_true(wait_for(m_pid_kind, &pk, &r));
    assert_true(r.truncated);
    assert_true(strlen(r.cmdline) >= 16000);
    assert_memory_equal(r.cmdline, "/bin/true xxxx", 14);
    free(big);
}

struct chain {
    pid_t ppid;
    const char *cmdline;
};

static bool
m_chain(const struct rec *r, const void *arg)
{
    const struct chain *c = arg;

    return r->kind == AGENT_EV_PROCESS_CREATE && r->ppid == c->ppid && r->cmdline &&
           strcmp(r->cmdline, c->cmdline) == 0;
}

static void
test_chain(void **st)
{
    /* "; true" keeps each shell from exec'ing its last command in place */
    char *argv[] = {"/bin/sh", "-c", "/bin/sh -c '/bin/sleep 0.01; true'; true", NULL};
    struct chain c;
    struct rec r1 = {0}, r2 = {0}, r3 = {0};
    int status;
    pid_t pid;

    (void)st;
    if (!bpf_state)
        skip();
    pid = spawn(argv);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    c.ppid = getpid();
    c.cmdline = "/bin/sh -c /bin/sh -c '/bin/sleep 0.01; true'; true";
    assert_true(wait_for(m_chain, &c, &r1));
    assert_int_equal(r1.pid, pid);
    c.ppid = r1.pid;
    c.cmdline = "/bin/sh -c /bin/sleep 0.01; true";
    assert_true(wait_for(m_chain, &c, &r2));
    c.ppid = r2.pid;
    c.cmdline = "/bin/sleep 0.01";
    assert_true(wait_for(m_chain, &c, &r3));
    assert_string_equal(r3.exe, "/bin/sleep");
}

struct tcp_match {
    bool listen, initiated;
    uint16_t sport, dport;
    pid_t pid;
};

static bool
m_tcp(const struct rec *r, const void *arg)
{
    const struct tcp_match *t = arg;

    return r->kind == AGENT_EV_NET_CONNECT && r->proto == IPPROTO_TCP &&
           r->listen == t->listen && r->initiated == t->initiated && r->sport == t->sport &&
           (t->listen || r->dport == t->dport) && r->pid == t->pid;
}

static void
test_tcp_loopback(void **st)
{
    struct sockaddr_in la, ca;
    socklen_t sl = sizeof(la);
    struct tcp_match t;
    struct rec rc, ra, rl;
    uint8_t lo[4] = {127, 0, 0, 1};
    char id[64];
    int ls, cs, as;

    (void)st;
    if (!bpf_state)
        skip();
    ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    memset(&la, 0, sizeof(la));
    la.sin_family = AF_INET;
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(ls, (struct sockaddr *)&la, sizeof(la)), 0);
    assert_int_equal(listen(ls, 4), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&la, &sl), 0);
    cs = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cs >= 0);
    assert_int_equal(connect(cs, (struct sockaddr *)&la, sizeof(la)), 0);
    sl = sizeof(ca);
    assert_int_equal(getsockname(cs, (struct sockaddr *)&ca, &sl), 0);
    as = accept(ls, NULL, NULL);
    assert_true(as >= 0);

    t.pid = getpid();
    t.listen = true;
    t.initiated = false;
    t.sport = ntohs(la.sin_port);
    t.dport = 0;
    assert_true(wait_for(m_tcp, &t, &rl));
    t.listen = false;
    t.initiated = true;
    t.sport = ntohs(ca.sin_port);
    t.dport = ntohs(la.sin_port);
    assert_true(wait_for(m_tcp, &t, &rc));
    assert_memory_equal(rc.saddr, lo, 4);
    assert_memory_equal(rc.daddr, lo, 4);
    assert_int_equal(rc.family, AF_INET);
    /* the accepted side: the listener's owner, remote -> local */
    t.initiated = false;
    t.sport = ntohs(ca.sin_port);
    t.dport = ntohs(la.sin_port);
    assert_true(wait_for(m_tcp, &t, &ra));
    assert_int_equal(bn_community_id(0, AF_INET, IPPROTO_TCP, lo, lo, ntohs(ca.sin_port),
                                     ntohs(la.sin_port), id, sizeof(id)), 0);
    assert_string_equal(rc.community_id, id);
    assert_string_equal(ra.community_id, id);
    close(as);
    close(cs);
    close(ls);
}

static bool
m_dns(const struct rec *r, const void *arg)
{
    return r->kind == AGENT_EV_DNS_QUERY && r->query && strcmp(r->query, arg) == 0 &&
           r->pid == getpid();
}

static void
test_dns_udp(void **st)
{
    struct sockaddr_in to;
    uint8_t q[512];
    size_t n = dns_query(q, "bpf-test.bannin.invalid");
    struct rec r = {0};
    int s;

    (void)st;
    if (!bpf_state)
        skip();
    s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = htons(53);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* nobody needs to answer: the question is seen on the way out */
    sendto(s, q, n, 0, (struct sockaddr *)&to, sizeof(to));
    close(s);
    assert_true(wait_for(m_dns, "bpf-test.bannin.invalid", &r));
    assert_int_equal(r.dport, 53);
    assert_int_equal(r.proto, IPPROTO_UDP);
}

struct file_match {
    enum agent_kind kind;
    pid_t pid;
    const char *path, *path2;
};

static bool
m_file(const struct rec *r, const void *arg)
{
    const struct file_match *f = arg;

    return r->kind == f->kind && r->pid == f->pid && r->path &&
           strcmp(r->path, f->path) == 0 &&
           (!f->path2 || (r->path2 && strcmp(r->path2, f->path2) == 0));
}

/* File operations of a child under the temporary directory, through the running collector. */
static void
files_check(void)
{
    char a[128], b[128], rel[128], outside[128];
    struct file_match f;
    struct rec r = {0};
    struct agent_bpf_stats bs;
    struct pid_kind tk;
    int fd, dfd, gate[2], status;
    pid_t child;

    assert_true(tmpdir[0] != '\0');
    snprintf(a, sizeof(a), "%s/a", tmpdir);
    snprintf(b, sizeof(b), "%s/b", tmpdir);
    snprintf(rel, sizeof(rel), "%s/rel", tmpdir);
    /*
     * The agent's own file activity is never reported (its tgid is in the kernel's config),
     * so a child does the work. It stays alive until the parent has its events (its
     * relative path no longer needs that: the kernel walks the dirfd's directory at the
     * syscall; test_collect_bpf_relative checks a child that has exited).
     */
    snprintf(outside, sizeof(outside), "/run/bn-bpf-test-%d", (int)getpid());
    assert_int_equal(pipe(gate), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char c;

        close(gate[1]);
        fd = open(a, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "hello\n", 6) != 6)
            _exit(1);
        close(fd);
        if (rename(a, b) || chmod(b, 0600) || unlink(b))
            _exit(2);
        dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
        fd = openat(dfd, "rel", O_CREAT | O_WRONLY, 0644);
        if (fd < 0)
            _exit(3);
        close(fd);
        fd = open(outside, O_CREAT | O_WRONLY, 0600);
        if (fd >= 0) {
            close(fd);
            unlink(outside);
        }
        kill(getppid(), 0); /* aimed at the agent: a tamper event */
        (void)!read(gate[0], &c, 1);
        _exit(0);
    }
    close(gate[0]);
    f.pid = child;

    f.path2 = NULL;
    f.kind = AGENT_EV_FILE_CREATE;
    f.path = a;
    assert_true(wait_for(m_file, &f, &r));
    f.kind = AGENT_EV_FILE_WRITE;
    assert_true(wait_for(m_file, &f, &r));
    f.kind = AGENT_EV_FILE_RENAME;
    f.path2 = b;
    assert_true(wait_for(m_file, &f, &r));
    f.path2 = NULL;
    f.kind = AGENT_EV_FILE_ATTR;
    f.path = b;
    assert_true(wait_for(m_file, &f, &r));
    assert_int_equal(r.mode, 0600);
    f.kind = AGENT_EV_FILE_DELETE;
    assert_true(wait_for(m_file, &f, &r));
    f.kind = AGENT_EV_FILE_CREATE;
    f.path = rel;
    assert_true(wait_for(m_file, &f, &r));
    tk.pid = child;
    tk.kind = AGENT_EV_TAMPER;
    assert_true(wait_for(m_pid_kind, &tk, &r));
    close(gate[1]);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    unlink(rel);

    /* the agent's own file operations are not reported */
    fd = open(a, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    unlink(a);

    usleep(300000);
    f.kind = AGENT_EV_FILE_CREATE;
    f.pid = getpid();
    f.path = a;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nrecs; i++)
        assert_false(m_file(&recs[i], &f));
    pthread_mutex_unlock(&lock);

    /* outside every prefix: filtered in the kernel, never reported */
    f.kind = AGENT_EV_FILE_CREATE;
    f.pid = child;
    f.path = outside;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nrecs; i++)
        assert_false(m_file(&recs[i], &f));
    pthread_mutex_unlock(&lock);
    agent_bpf_stats(bpf_state, &bs);
    assert_true(bs.filtered > 0);
    agent_bpf_stats(bpf_state, &bs);
    assert_true(bs.records > 0);
    assert_int_equal(bs.drops, 0);
    assert_int_equal(bs.bad_records, 0);
}

static void
test_files(void **st)
{
    struct agent_bpf_stats bs;

    (void)st;
    if (!bpf_state)
        skip();
    files_check();
    /* by default the watched syscalls come from per-syscall tracepoints where the kernel
     * has them (the raw pair would run a program on every syscall of every process) */
    agent_bpf_stats(bpf_state, &bs);
    if (access("/sys/kernel/tracing/events/syscalls/sys_enter_openat/id", R_OK) == 0 ||
        access("/sys/kernel/debug/tracing/events/syscalls/sys_enter_openat/id", R_OK) == 0)
        assert_false(bs.syscalls_raw);
    else
        assert_true(bs.syscalls_raw && bs.syscalls_why[0]);
}

/* The same file events through the raw sys_enter/sys_exit fallback (collect.bpf_syscalls). */
static void
test_files_raw(void **st)
{
    struct agent_bpf_conf conf = agent_bpf_default_conf;
    struct agent_bpf_stats bs;
    struct bn_diag d;
    char buf[2048] = "";

    (void)st;
    if (!bpf_state)
        skip();
    agent_collector_bpf.stop(NULL, bpf_state);
    bpf_state = NULL;
    conf.syscalls = AGENT_BPF_SC_RAW;
    bn_diag_clear(&d);
    assert_int_equal(agent_bpf_start_conf(NULL, &conf, &bpf_state, &d), 0);
    agent_bpf_stats(bpf_state, &bs);
    assert_true(bs.syscalls_raw);
    assert_non_null(strstr(bs.syscalls_why, "raw"));
    agent_collector_bpf.describe(NULL, bpf_state, buf, sizeof(buf));
    assert_non_null(strstr(buf, "through the raw sys_enter/sys_exit programs"));
    files_check();
}

static void
test_describe(void **st)
{
    char buf[2048] = "";

    (void)st;
    agent_collector_bpf.describe(NULL, bpf_state, buf, sizeof(buf));
    assert_non_null(strstr(buf, "bpf:"));
    assert_int_equal(agent_collector_bpf.tier, AGENT_TIER_BPF);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_community_id_vectors),
        cmocka_unit_test(test_dns_question),
        cmocka_unit_test(test_exec_argv_exit),
        cmocka_unit_test(test_exec_truncated),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_tcp_loopback),
        cmocka_unit_test(test_dns_udp),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_files_raw),
        cmocka_unit_test(test_describe),
    };

    return cmocka_run_group_tests(tests, bpf_setup, bpf_teardown);
}
