/*
 * collect_poll.c - tier 3: /proc polling, for hosts where neither eBPF nor the proc
 * connector is available (no CAP_NET_ADMIN, locked-down containers).
 *
 * Every interval the poller lists /proc: a pid it did not see before (or a pid whose
 * start time changed: reuse) becomes a process create event, a pid that vanished a
 * terminate event (exit code unknown). Processes that live shorter than the interval
 * are not seen at all; --check says so. It also reads /proc/net/{tcp,tcp6,udp,udp6}:
 * a socket inode not seen before becomes a network event (listen, connect or accept,
 * told apart by the TCP state and the local listeners), attributed to its owning
 * process by scanning /proc/<pid>/fd for "socket:[inode]" (only when there is
 * something new to attribute).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"
#include "agent/worker.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

#define POLL_PIDS_MAX (1u << 22)     /* more pids than this in one scan are not tracked */
#define POLL_SOCKS_MAX (1u << 20)    /* sockets tracked per scan */

struct pid_entry {
    pid_t pid;
    uint64_t start_ns;
    pid_t ppid;
    char comm[AGENT_COMM_MAX];
};

struct sock_entry {
    uint64_t inode;
    uint8_t proto, family;
    uint8_t state;              /* TCP state from /proc/net/tcp (0x0A listen) */
    uint8_t laddr[16], raddr[16];
    uint16_t lport, rport;
    uid_t uid;
    pid_t pid;                  /* owner (0 until attributed) */
};

struct vec {
    void *v;
    size_t n, cap, size;
};

struct poll_state {
    struct agent *agent;
    struct agent_poll_conf conf;
    char proc_root[AGENT_PATH_MAX];
    struct agent_worker w;     /* reader thread and its stop eventfd */
    bool baseline_done;
    struct vec pids;            /* struct pid_entry, sorted by pid */
    struct vec socks;           /* struct sock_entry, sorted by inode */
    struct agent_tier_proc_stats st;
    atomic_uint_fast64_t scans, creates, terminates, reused, net_events, unattributed,
        truncated_scans, emit_errors;
};

static int
vec_push(struct vec *v, const void *item, size_t max)
{
    if (v->n >= max)
        return BN_ETOOBIG;
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 256;
        void *nv = bn_reallocarray(v->v, ncap, v->size);
        if (!nv)
            return BN_ENOMEM;
        v->v = nv;
        v->cap = ncap;
    }
    memcpy((char *)v->v + v->n * v->size, item, v->size);
    v->n++;
    return 0;
}

static void
vec_release(struct vec *v)
{
    bn_free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_pid(const void *a, const void *b)
{
    const struct pid_entry *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static int
cmp_inode(const void *a, const void *b)
{
    const struct sock_entry *x = a, *y = b;
    return (x->inode > y->inode) - (x->inode < y->inode);
}

static bool
parse_pid(const char *name, pid_t *pid)
{
    char *end;
    if (name[0] < '1' || name[0] > '9')
        return false;
    long v = strtol(name, &end, 10);
    if (*end || v <= 0 || v > 0x7fffffff)
        return false;
    *pid = (pid_t)v;
    return true;
}

/* Reads pid, ppid, comm and start time from /proc/<pid>/stat (cheap: one small read). */
static bool
read_stat(const char *root, pid_t pid, struct pid_entry *e)
{
    char path[AGENT_PATH_MAX + 32], buf[1024];
    snprintf(path, sizeof(path), "%s/%d/stat", root, (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    if (!lp || !rp || rp < lp)
        return false;
    memset(e, 0, sizeof(*e));
    e->pid = pid;
    size_t cl = BN_MIN((size_t)(rp - lp - 1), sizeof(e->comm) - 1);
    memcpy(e->comm, lp + 1, cl);
    /* fields after the comm: state ppid ... (starttime is field 22, the 20th here) */
    const char *p = rp + 2;
    unsigned long long v = 0;
    char *end;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return false;
        if (field == 3) {
            p++;
            continue;
        }
        v = strtoull(p, &end, 10);
        if (end == p) {
            (void)strtoll(p, &end, 10);
            if (end == p)
                return false;
        }
        if (field == 4)
            e->ppid = (pid_t)v;
        p = end;
    }
    long hz = sysconf(_SC_CLK_TCK);
    e->start_ns = v * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
    return true;
}

static void
emit(struct poll_state *s, struct agent_event *ev)
{
    if (agent_emit(s->agent, ev) < 0)
        atomic_fetch_add(&s->emit_errors, 1);
}

static void
emit_create(struct poll_state *s, const struct pid_entry *e)
{
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_CREATE;
    ev.prio = AGENT_PRIO_HIGH;
    ev.tier = AGENT_TIER_POLL;
    ev.ts_ns = now_ns();
    int rc = agent_tier_proc_read(s->proc_root, e->pid, &ev.proc, &s->st);
    if (rc == BN_ENOMEM)
        return;
    if (rc < 0 || ev.proc.start_ns != e->start_ns) {
        /* gone (or replaced) between the listing and the read: what stat said */
        agent_tier_proc_release(&ev.proc);
        ev.proc.pid = e->pid;
        ev.proc.ppid = e->ppid;
        ev.proc.start_ns = e->start_ns;
        ev.proc.loginuid = (uid_t)-1;
        memcpy(ev.proc.comm, e->comm, sizeof(ev.proc.comm));
        ev.extra_keys[ev.nextra] = "proc_gone";
        ev.extra_vals[ev.nextra++] = "true";
    } else if (ev.proc.cmdline_truncated) {
        ev.extra_keys[ev.nextra] = "cmdline_truncated";
        ev.extra_vals[ev.nextra++] = "true";
    }
    /* the parent by pid only: the agent's loop fills it from the process table, which
     * knows it from its own exec (or reads /proc once), instead of two /proc reads here */
    ev.parent.pid = ev.proc.ppid;
    atomic_fetch_add(&s->creates, 1);
    emit(s, &ev);
    agent_tier_proc_release(&ev.proc);
    agent_tier_proc_release(&ev.parent);
}

static void
emit_terminate(struct poll_state *s, const struct pid_entry *e)
{
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_TERMINATE;
    ev.prio = AGENT_PRIO_NORMAL;
    ev.tier = AGENT_TIER_POLL;
    ev.ts_ns = now_ns();
    ev.proc.pid = e->pid;
    ev.proc.ppid = e->ppid;
    ev.proc.start_ns = e->start_ns;
    ev.proc.loginuid = (uid_t)-1;
    memcpy(ev.proc.comm, e->comm, sizeof(ev.proc.comm));
    ev.exit_code = -1;
    ev.extra_keys[ev.nextra] = "exit_code_known";
    ev.extra_vals[ev.nextra++] = "false";
    atomic_fetch_add(&s->terminates, 1);
    emit(s, &ev);
}

static int
scan_procs(struct poll_state *s)
{
    struct vec cur = {.size = sizeof(struct pid_entry)};
    DIR *dir = opendir(s->proc_root);
    struct dirent *de;
    int rc = 0;

    if (!dir)
        return -errno;
    while ((de = readdir(dir)) != NULL) {
        pid_t pid;
        struct pid_entry e;
        if (!parse_pid(de->d_name, &pid) || !read_stat(s->proc_root, pid, &e))
            continue;
        rc = vec_push(&cur, &e, POLL_PIDS_MAX);
        if (rc == BN_ETOOBIG) {
            atomic_fetch_add(&s->truncated_scans, 1);
            rc = 0;
            break;
        }
        if (rc < 0)
            goto out;
    }
    if (cur.n)
        qsort(cur.v, cur.n, sizeof(struct pid_entry), cmp_pid);
    if (s->baseline_done) {
        /* merge the sorted lists: new pids, vanished pids, reused pids */
        const struct pid_entry *a = s->pids.v, *b = cur.v;
        size_t i = 0, j = 0;
        while (i < s->pids.n || j < cur.n) {
            if (j >= cur.n || (i < s->pids.n && a[i].pid < b[j].pid)) {
                emit_terminate(s, &a[i++]);
            } else if (i >= s->pids.n || b[j].pid < a[i].pid) {
                emit_create(s, &b[j++]);
            } else {
                if (a[i].start_ns != b[j].start_ns) {
                    atomic_fetch_add(&s->reused, 1);
                    emit_terminate(s, &a[i]);
                    emit_create(s, &b[j]);
                }
                i++;
                j++;
            }
        }
    }
    vec_release(&s->pids);
    s->pids = cur;
    cur.v = NULL;
out:
    vec_release(&cur);
    closedir(dir);
    return rc;
}

/* "0100007F:1F90" (host-order 32-bit words in hex) into addr and port. */
static bool
parse_addr(const char *p, int family, uint8_t addr[16], uint16_t *port, const char **end)
{
    int words = family == AF_INET ? 1 : 4;
    memset(addr, 0, 16);
    for (int w = 0; w < words; w++) {
        char hex[9];
        for (int k = 0; k < 8; k++) {
            char c = p[w * 8 + k];
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')))
                return false;
            hex[k] = c;
        }
        hex[8] = '\0';
        uint32_t v = (uint32_t)strtoul(hex, NULL, 16);
        memcpy(addr + w * 4, &v, 4);
    }
    p += words * 8;
    if (*p != ':')
        return false;
    char *e;
    unsigned long v = strtoul(p + 1, &e, 16);
    if (e == p + 1 || v > 65535)
        return false;
    *port = (uint16_t)v;
    *end = e;
    return true;
}

static int
read_net(struct poll_state *s, const char *file, uint8_t proto, int family, struct vec *out)
{
    char path[AGENT_PATH_MAX + 32], line[512];
    snprintf(path, sizeof(path), "%s/net/%s", s->proc_root, file);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0; /* no IPv6, or no such table: nothing to see */
    int rc = 0;
    if (!fgets(line, sizeof(line), f)) /* header */
        goto out;
    while (fgets(line, sizeof(line), f)) {
        struct sock_entry e;
        const char *p = strchr(line, ':');
        char *end;
        memset(&e, 0, sizeof(e));
        e.proto = proto;
        e.family = (uint8_t)family;
        if (!p)
            continue;
        p++;
        while (*p == ' ')
            p++;
        if (!parse_addr(p, family, e.laddr, &e.lport, &p))
            continue;
        while (*p == ' ')
            p++;
        if (!parse_addr(p, family, e.raddr, &e.rport, &p))
            continue;
        e.state = (uint8_t)strtoul(p, &end, 16);
        p = end;
        /* tx:rx tr:when retrnsmt uid timeout inode */
        unsigned uid = 0;
        uint64_t ino = 0;
        if (sscanf(p, " %*x:%*x %*x:%*x %*x %u %*d %" SCNu64, &uid, &ino) != 2)
            continue;
        e.uid = (uid_t)uid;
        e.inode = ino;
        if (e.inode == 0)
            continue; /* TIME_WAIT and orphans have no inode: nobody to attribute */
        rc = vec_push(out, &e, POLL_SOCKS_MAX);
        if (rc == BN_ETOOBIG) {
            atomic_fetch_add(&s->truncated_scans, 1);
            rc = 0;
            break;
        }
        if (rc < 0)
            break;
    }
out:
    fclose(f);
    return rc;
}

static struct sock_entry *
find_sock(struct vec *v, uint64_t inode)
{
    struct sock_entry key = {.inode = inode};
    return v->n ? bsearch(&key, v->v, v->n, sizeof(struct sock_entry), cmp_inode) : NULL;
}

/* Finds the owners of the sockets in fresh that have no pid yet. */
static void
attribute(struct poll_state *s, struct vec *fresh, size_t want)
{
    DIR *dir = opendir(s->proc_root);
    struct dirent *de;
    if (!dir)
        return;
    while (want > 0 && (de = readdir(dir)) != NULL) {
        pid_t pid;
        char path[AGENT_PATH_MAX + 64];
        if (!parse_pid(de->d_name, &pid))
            continue;
        snprintf(path, sizeof(path), "%s/%d/fd", s->proc_root, (int)pid);
        DIR *fd = opendir(path);
        if (!fd)
            continue;
        struct dirent *fe;
        while (want > 0 && (fe = readdir(fd)) != NULL) {
            char link[64];
            if (fe->d_name[0] == '.')
                continue;
            ssize_t n = readlinkat(dirfd(fd), fe->d_name, link, sizeof(link) - 1);
            if (n < 9)
                continue;
            link[n] = '\0';
            if (strncmp(link, "socket:[", 8) != 0)
                continue;
            struct sock_entry *e = find_sock(fresh, strtoull(link + 8, NULL, 10));
            if (e && e->pid == 0) {
                e->pid = pid;
                want--;
            }
        }
        closedir(fd);
    }
    closedir(dir);
}

static bool
is_listening_port(const struct vec *socks, const struct sock_entry *c)
{
    const struct sock_entry *v = socks->v;
    for (size_t i = 0; i < socks->n; i++)
        if (v[i].proto == IPPROTO_TCP && v[i].state == 0x0A && v[i].lport == c->lport)
            return true;
    return false;
}

static void
emit_net(struct poll_state *s, const struct sock_entry *e, const struct vec *all)
{
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_NET_CONNECT;
    ev.prio = AGENT_PRIO_HIGH;
    ev.tier = AGENT_TIER_POLL;
    ev.ts_ns = now_ns();
    ev.proto = e->proto;
    ev.family = e->family;
    bool inbound = false;
    if (e->proto == IPPROTO_TCP) {
        ev.listen = e->state == 0x0A;
        inbound = !ev.listen && is_listening_port(all, e);
    } else {
        /* UDP: a bound socket without a peer is a listener, a connected one a flow */
        ev.listen = e->rport == 0;
    }
    ev.initiated = !ev.listen && !inbound;
    if (inbound) {
        memcpy(ev.saddr, e->raddr, 16);
        memcpy(ev.daddr, e->laddr, 16);
        ev.sport = e->rport;
        ev.dport = e->lport;
    } else {
        memcpy(ev.saddr, e->laddr, 16);
        memcpy(ev.daddr, e->raddr, 16);
        ev.sport = e->lport;
        ev.dport = e->rport;
    }
    char inode[32], uid[16];
    snprintf(inode, sizeof(inode), "%" PRIu64, e->inode);
    snprintf(uid, sizeof(uid), "%u", (unsigned)e->uid);
    ev.extra_keys[ev.nextra] = "socket_inode";
    ev.extra_vals[ev.nextra++] = inode;
    ev.extra_keys[ev.nextra] = "socket_uid";
    ev.extra_vals[ev.nextra++] = uid;
    if (e->pid > 0) {
        int rc = agent_tier_proc_read(s->proc_root, e->pid, &ev.proc, &s->st);
        if (rc == BN_ENOMEM)
            return;
        if (rc < 0) {
            agent_tier_proc_release(&ev.proc);
            ev.proc.pid = e->pid;
        }
    } else {
        atomic_fetch_add(&s->unattributed, 1);
        ev.proc.uid = e->uid;
        ev.extra_keys[ev.nextra] = "owner";
        ev.extra_vals[ev.nextra++] = "unknown";
    }
    atomic_fetch_add(&s->net_events, 1);
    emit(s, &ev);
    agent_tier_proc_release(&ev.proc);
}

static int
scan_net(struct poll_state *s)
{
    struct vec cur = {.size = sizeof(struct sock_entry)};
    struct vec fresh = {.size = sizeof(struct sock_entry)};
    int rc;

    if ((rc = read_net(s, "tcp", IPPROTO_TCP, AF_INET, &cur)) < 0 ||
        (rc = read_net(s, "tcp6", IPPROTO_TCP, AF_INET6, &cur)) < 0 ||
        (rc = read_net(s, "udp", IPPROTO_UDP, AF_INET, &cur)) < 0 ||
        (rc = read_net(s, "udp6", IPPROTO_UDP, AF_INET6, &cur)) < 0)
        goto out;
    if (cur.n)
        qsort(cur.v, cur.n, sizeof(struct sock_entry), cmp_inode);
    if (s->baseline_done) {
        struct sock_entry *c = cur.v;
        for (size_t i = 0; i < cur.n; i++) {
            struct sock_entry *old = find_sock(&s->socks, c[i].inode);
            /* new inode, or a TCP socket that moved from SYN_SENT to a real state */
            if (!old && (rc = vec_push(&fresh, &c[i], POLL_SOCKS_MAX)) < 0)
                goto out;
        }
        if (fresh.n) {
            attribute(s, &fresh, fresh.n);
            const struct sock_entry *f = fresh.v;
            for (size_t i = 0; i < fresh.n; i++)
                emit_net(s, &f[i], &cur);
        }
    }
    vec_release(&s->socks);
    s->socks = cur;
    cur.v = NULL;
    rc = 0;
out:
    vec_release(&cur);
    vec_release(&fresh);
    return rc;
}

static void *
poll_thread(void *arg)
{
    struct poll_state *s = arg;
    struct pollfd pfd = {.fd = s->w.stopfd, .events = POLLIN};
    for (;;) {
        if (s->conf.procs)
            (void)scan_procs(s);
        if (s->conf.net)
            (void)scan_net(s);
        s->baseline_done = true;
        atomic_fetch_add(&s->scans, 1);
        int r = poll(&pfd, 1, (int)s->conf.interval_ms);
        if (r > 0)
            break;
    }
    return NULL;
}

static int
poll_probe(struct agent *a, struct bn_diag *d)
{
    (void)a;
    DIR *dir = opendir("/proc");
    if (!dir)
        return bn_diag_set(d, -errno, "proc_poll", 0, 0, "proc_poll: cannot list /proc: %s",
                           strerror(errno));
    closedir(dir);
    if (access("/proc/self/stat", R_OK) < 0)
        return bn_diag_set(d, -errno, "proc_poll", 0, 0,
                           "proc_poll: /proc is not a readable procfs: %s", strerror(errno));
    return 0;
}

static void poll_stop(struct agent *a, void *state);

int
agent_poll_start_conf(struct agent *a, const struct agent_poll_conf *conf, void **state,
                      struct bn_diag *d)
{
    struct poll_state *s;
    int rc;

    *state = NULL;
    s = bn_calloc(1, sizeof(*s));
    if (!s)
        return bn_diag_set(d, BN_ENOMEM, "proc_poll", 0, 0, "out of memory");
    s->agent = a;
    agent_worker_init(&s->w);
    s->pids.size = sizeof(struct pid_entry);
    s->socks.size = sizeof(struct sock_entry);
    if (conf) {
        s->conf = *conf;
    } else {
        s->conf.procs = true;
        s->conf.net = true;
    }
    if (!s->conf.interval_ms)
        s->conf.interval_ms = 1000;
    if (s->conf.interval_ms > 3600000)
        s->conf.interval_ms = 3600000;
    snprintf(s->proc_root, sizeof(s->proc_root), "%s",
             s->conf.proc_root ? s->conf.proc_root : "/proc");
    s->conf.proc_root = s->proc_root;
    rc = agent_worker_start(&s->w, "proc_poll", poll_thread, s, d);
    if (rc < 0)
        goto out;
    *state = s;
    s = NULL;
out:
    if (s)
        poll_stop(a, s);
    return rc;
}

static int
poll_start(struct agent *a, void **state, struct bn_diag *d)
{
    return agent_poll_start_conf(a, NULL, state, d);
}

static void
poll_stop(struct agent *a, void *state)
{
    struct poll_state *s = state;
    (void)a;
    if (!s)
        return;
    agent_worker_stop(&s->w);
    vec_release(&s->pids);
    vec_release(&s->socks);
    bn_free(s);
}

static void
poll_describe(struct agent *a, void *state, char *buf, size_t size)
{
    struct poll_state *s = state;
    (void)a;
    size_t n = strlen(buf);
    if (n >= size)
        return;
    if (!s) {
        snprintf(buf + n, size - n,
                 "proc_poll: processes and sockets by polling /proc; processes shorter than "
                 "the interval and exit codes are not seen\n");
        return;
    }
    snprintf(buf + n, size - n,
             "proc_poll: every %u ms; scans %" PRIuFAST64 ", creates %" PRIuFAST64
             ", terminates %" PRIuFAST64 ", pid reuse %" PRIuFAST64 ", network %" PRIuFAST64
             " (owner unknown %" PRIuFAST64 "), gone before read %" PRIu64
             ", command lines truncated %" PRIu64 "; processes shorter than the interval "
             "and exit codes are not seen\n",
             s->conf.interval_ms, atomic_load(&s->scans), atomic_load(&s->creates),
             atomic_load(&s->terminates), atomic_load(&s->reused), atomic_load(&s->net_events),
             atomic_load(&s->unattributed), s->st.gone, s->st.cmdline_truncated);
}

const struct agent_collector_ops agent_collector_proc_poll = {
    .name = "proc_poll",
    .tier = AGENT_TIER_POLL,
    .probe = poll_probe,
    .start = poll_start,
    .stop = poll_stop,
    .describe = poll_describe,
};
