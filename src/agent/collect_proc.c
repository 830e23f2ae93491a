/*
 * collect_proc.c - tier 2 process telemetry from the netlink proc connector, and the
 * /proc/<pid> reader the tier 2 and 3 collectors share.
 *
 * The kernel multicasts fork, exec and exit to CN_IDX_PROC listeners (needs
 * CAP_NET_ADMIN). On exec we read /proc/<pid> at once; a process that is already gone
 * is still reported with what the connector and an earlier fork told us, and flagged
 * ("proc_gone"). Socket overruns (ENOBUFS) are counted and reported as a status event.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"
#include "agent/worker.h"
#include "agent/proctable.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

/* ---- /proc reader ---- */

/* Reads at most max bytes of path into an owned NUL-terminated buffer; *trunc if more. */
static int
read_file(const char *path, size_t max, char **out, size_t *len, bool *trunc)
{
    int fd, rc = 0;
    size_t cap = max < 4096 ? max + 1 : 4096, n = 0;
    char *buf = NULL;

    *out = NULL;
    *len = 0;
    *trunc = false;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    buf = bn_malloc(cap);
    if (!buf) {
        rc = BN_ENOMEM;
        goto out;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max) {
                /* we hold max+1 bytes already: the file is longer than max */
                *trunc = true;
                n = max;
                break;
            }
            size_t ncap = BN_MIN(cap * 2, max + 1);
            char *nb = bn_realloc(buf, ncap);
            if (!nb) {
                rc = BN_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
            if (n + 1 >= cap) {
                *trunc = true;
                n = max;
                break;
            }
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
out:
    bn_free(buf);
    close(fd);
    return rc;
}

/* readlink into an owned string; *trunc when it did not fit AGENT_PATH_MAX. */
static int
read_link(const char *path, char **out, bool *trunc)
{
    char buf[AGENT_PATH_MAX + 1];

    *out = NULL;
    *trunc = false;
    ssize_t r = readlink(path, buf, sizeof(buf));
    if (r < 0)
        return -errno;
    if ((size_t)r >= sizeof(buf)) {
        *trunc = true;
        r = AGENT_PATH_MAX;
    }
    buf[r] = '\0';
    *out = bn_strdup(buf);
    return *out ? 0 : BN_ENOMEM;
}

static uint64_t
ticks_to_ns(uint64_t ticks)
{
    static long hz;
    if (!hz) {
        hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
            hz = 100;
    }
    return ticks * (1000000000ull / (uint64_t)hz);
}

/* Parses /proc/<pid>/stat: comm is between the first '(' and the LAST ')'. */
static int
parse_stat(const char *s, struct agent_proc *p, bool *zombie)
{
    const char *lp = strchr(s, '(');
    const char *rp = strrchr(s, ')');
    if (!lp || !rp || rp < lp)
        return BN_EFORMAT;
    size_t clen = BN_MIN((size_t)(rp - lp - 1), sizeof(p->comm) - 1);
    memcpy(p->comm, lp + 1, clen);
    p->comm[clen] = '\0';
    /* after ") ": field 3 state, 4 ppid, ... 22 starttime */
    const char *q = rp + 1;
    unsigned long long v[20];
    int field = 3;
    char *end;
    while (*q == ' ')
        q++;
    if (!*q)
        return BN_EFORMAT;
    *zombie = *q == 'Z' || *q == 'X';
    q++; /* state */
    for (int i = 0; field < 22 && i < 19; i++) {
        field++;
        errno = 0;
        v[i] = strtoull(q, &end, 10);
        if (end == q) {
            /* negative numbers (priority, nice) parse through strtoll */
            long long sv = strtoll(q, &end, 10);
            if (end == q)
                return BN_EFORMAT;
            v[i] = (unsigned long long)sv;
        }
        q = end;
        if (field == 4)
            p->ppid = (pid_t)v[i];
        if (field == 22)
            p->start_ns = ticks_to_ns(v[i]);
    }
    return field == 22 ? 0 : BN_EFORMAT;
}

static void
parse_status(const char *s, struct agent_proc *p)
{
    const char *l;
    unsigned long r, e;
    if ((l = strstr(s, "\nUid:")) && sscanf(l + 5, "%lu %lu", &r, &e) == 2) {
        p->uid = (uid_t)r;
        p->euid = (uid_t)e;
    }
    if ((l = strstr(s, "\nGid:")) && sscanf(l + 5, "%lu %lu", &r, &e) == 2) {
        p->gid = (gid_t)r;
        p->egid = (gid_t)e;
    }
}

void
agent_tier_proc_release(struct agent_proc *p)
{
    if (!p)
        return;
    bn_free(p->exe);
    bn_free(p->cmdline);
    bn_free(p->cwd);
    bn_free(p->tty);
    bn_free(p->cgroup);
    memset(p, 0, sizeof(*p));
}

int
agent_tier_proc_read(const char *proc_root, pid_t pid, struct agent_proc *p,
                     struct agent_tier_proc_stats *st)
{
    char path[256], *buf = NULL;
    size_t len;
    bool trunc;
    int rc;

    if (p)
        memset(p, 0, sizeof(*p));
    if (!p || pid <= 0)
        return BN_EINVAL;
    if (!proc_root)
        proc_root = "/proc";
    if (st)
        st->reads++;
    p->pid = pid;
    p->loginuid = (uid_t)-1;
    p->sessionid = (uint32_t)-1;

    /* The command line first: it is what a process that exits at once takes with it. */
    snprintf(path, sizeof(path), "%s/%d/cmdline", proc_root, (int)pid);
    rc = read_file(path, AGENT_CMDLINE_MAX, &buf, &len, &trunc);
    if (rc == BN_ENOMEM)
        goto out;
    if (rc == 0) {
        while (len > 0 && buf[len - 1] == '\0')
            len--;
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[len] = '\0';
        p->cmdline = buf;
        buf = NULL;
        p->cmdline_truncated = trunc;
        if (trunc && st)
            st->cmdline_truncated++;
    }
    snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)pid);
    rc = read_link(path, &p->exe, &trunc);
    if (rc == BN_ENOMEM)
        goto out;
    if (p->exe) {
        size_t n = strlen(p->exe);
        if (n > 10 && strcmp(p->exe + n - 10, " (deleted)") == 0) {
            p->exe_deleted = true;
            p->exe[n - 10] = '\0';
        }
    }
    if (trunc && st)
        st->path_truncated++;
    snprintf(path, sizeof(path), "%s/%d/cwd", proc_root, (int)pid);
    rc = read_link(path, &p->cwd, &trunc);
    if (rc == BN_ENOMEM)
        goto out;
    if (trunc && st)
        st->path_truncated++;

    snprintf(path, sizeof(path), "%s/%d/stat", proc_root, (int)pid);
    rc = read_file(path, 4096, &buf, &len, &trunc);
    if (rc == BN_ENOMEM)
        goto out;
    if (rc < 0) {
        rc = (rc == -EACCES) ? rc : -ENOENT;
        if (st)
            st->gone++;
        goto out;
    }
    bool zombie = false;
    rc = parse_stat(buf, p, &zombie);
    bn_free(buf);
    buf = NULL;
    if (rc < 0) {
        agent_tier_proc_release(p);
        p->pid = pid;
        rc = -ESRCH;
        goto out;
    }
    if (zombie) {
        /* a zombie: its stat (and what was read above while it ran) is all there is */
        if (st)
            st->gone++;
        rc = -ESRCH;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%d/status", proc_root, (int)pid);
    if (read_file(path, 16384, &buf, &len, &trunc) == 0)
        parse_status(buf, p);
    bn_free(buf);
    buf = NULL;
    snprintf(path, sizeof(path), "%s/%d/loginuid", proc_root, (int)pid);
    if (read_file(path, 64, &buf, &len, &trunc) == 0)
        p->loginuid = (uid_t)strtoul(buf, NULL, 10);
    bn_free(buf);
    buf = NULL;
    snprintf(path, sizeof(path), "%s/%d/sessionid", proc_root, (int)pid);
    if (read_file(path, 64, &buf, &len, &trunc) == 0)
        p->sessionid = (uint32_t)strtoul(buf, NULL, 10);
    bn_free(buf);
    buf = NULL;

    snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, (int)pid);
    rc = read_file(path, AGENT_PATH_MAX, &buf, &len, &trunc);
    if (rc == BN_ENOMEM)
        goto out;
    if (rc == 0) /* v2 "0::/path", or one line per v1 hierarchy (hybrid: both) */
        p->cgroup = agent_cgroup_pick(buf, p->container_id); /* optional: NULL is fine */
    rc = 0;
out:
    bn_free(buf);
    if (rc == BN_ENOMEM)
        agent_tier_proc_release(p);
    return rc;
}

/* ---- netlink proc connector ---- */

#define FORK_SLOTS 8192 /* remembered fork parents (power of two) */

struct fork_slot {
    pid_t pid, ppid;
};

struct proc_state {
    struct agent *agent;
    int sock;
    struct agent_worker w;     /* reader thread and its stop eventfd */
    struct fork_slot forks[FORK_SLOTS];
    struct agent_tier_proc_stats st;
    atomic_uint_fast64_t execs, exits, forks_seen, overruns, emit_errors;
    char self_mntns[64];
};

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
nl_open(int *out, struct bn_diag *d)
{
    struct sockaddr_nl sa;
    int fd, rc;

    *out = -1;
    fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    if (fd < 0)
        return bn_diag_set(d, -errno, "proc_connector", 0, 0,
                           "netlink proc connector: socket failed: %s", strerror(errno));
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = CN_IDX_PROC;
    sa.nl_pid = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        rc = bn_diag_set(d, -e, "proc_connector", 0, 0,
                         "netlink proc connector: bind failed: %s%s", strerror(e),
                         e == EPERM ? " (needs CAP_NET_ADMIN)" : "");
        close(fd);
        return rc;
    }
    /* a burst of exits must not overrun the default 200 KB */
    int sz = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    *out = fd;
    return 0;
}

static int
nl_listen(int fd, enum proc_cn_mcast_op op)
{
    /* nlmsghdr, cn_msg, then the op, packed: laid out by hand because cn_msg ends in a
     * flexible array, which a struct may not follow in ISO C (clang rejects it). */
    enum { LEN = sizeof(struct nlmsghdr) + sizeof(struct cn_msg) + sizeof(op) };
    _Alignas(struct nlmsghdr) unsigned char msg[LEN];
    struct nlmsghdr *nl = (struct nlmsghdr *)msg;
    struct cn_msg *cn = (struct cn_msg *)(msg + sizeof(*nl));

    memset(msg, 0, sizeof(msg));
    nl->nlmsg_len = LEN;
    nl->nlmsg_type = NLMSG_DONE;
    nl->nlmsg_pid = (uint32_t)getpid();
    cn->id.idx = CN_IDX_PROC;
    cn->id.val = CN_VAL_PROC;
    cn->len = sizeof(op);
    memcpy(msg + sizeof(*nl) + sizeof(*cn), &op, sizeof(op));
    if (send(fd, msg, sizeof(msg), 0) < 0)
        return -errno;
    return 0;
}

static int
proc_probe(struct agent *a, struct bn_diag *d)
{
    int fd, rc;
    (void)a;
    rc = nl_open(&fd, d);
    if (rc < 0)
        return rc;
    rc = nl_listen(fd, PROC_CN_MCAST_LISTEN);
    if (rc < 0)
        bn_diag_set(d, rc, "proc_connector", 0, 0,
                    "netlink proc connector: subscribe failed: %s", strerror(-rc));
    else
        nl_listen(fd, PROC_CN_MCAST_IGNORE);
    close(fd);
    return rc;
}

static void
fork_put(struct proc_state *s, pid_t pid, pid_t ppid)
{
    struct fork_slot *f = &s->forks[(unsigned)pid & (FORK_SLOTS - 1)];
    f->pid = pid;
    f->ppid = ppid;
}

static pid_t
fork_get(struct proc_state *s, pid_t pid)
{
    struct fork_slot *f = &s->forks[(unsigned)pid & (FORK_SLOTS - 1)];
    return f->pid == pid ? f->ppid : 0;
}

static void
mntns_of(pid_t pid, char *buf, size_t size)
{
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/ns/mnt");
    ssize_t r = readlink(path, buf, size - 1);
    buf[r > 0 ? r : 0] = '\0';
}

static void
emit_exec(struct proc_state *s, pid_t pid)
{
    struct agent_event ev;
    char ns[64];
    int rc;

    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_CREATE;
    ev.prio = AGENT_PRIO_HIGH;
    ev.tier = AGENT_TIER_NETLINK;
    ev.ts_ns = now_ns();
    rc = agent_tier_proc_read(NULL, pid, &ev.proc, &s->st);
    if (rc == BN_ENOMEM)
        return;
    if (rc < 0) {
        /* gone already: what the connector and a zombie's stat told us */
        ev.proc.pid = pid;
        if (!ev.proc.ppid)
            ev.proc.ppid = fork_get(s, pid);
        ev.proc.loginuid = (uid_t)-1;
        ev.extra_keys[ev.nextra] = "proc_gone";
        ev.extra_vals[ev.nextra++] = "true";
    } else {
        if (!ev.proc.ppid)
            ev.proc.ppid = fork_get(s, pid);
        mntns_of(pid, ns, sizeof(ns));
        if (ns[0] && s->self_mntns[0] && strcmp(ns, s->self_mntns) != 0) {
            ev.extra_keys[ev.nextra] = "mnt_ns";
            ev.extra_vals[ev.nextra++] = ns;
        }
        if (ev.proc.cmdline_truncated) {
            ev.extra_keys[ev.nextra] = "cmdline_truncated";
            ev.extra_vals[ev.nextra++] = "true";
        }
        if (!ev.proc.cmdline || !*ev.proc.cmdline) {
            /* read as a zombie: /proc/<pid> was still there but the argv was already gone */
            ev.extra_keys[ev.nextra] = "proc_gone";
            ev.extra_vals[ev.nextra++] = "true";
        }
    }
    /* the parent by pid only: the agent's loop fills it from the process table, which
     * knows it from its own exec (or reads /proc once), instead of two /proc reads here */
    ev.parent.pid = ev.proc.ppid;
    atomic_fetch_add(&s->execs, 1);
    if (agent_emit(s->agent, &ev) < 0)
        atomic_fetch_add(&s->emit_errors, 1);
    agent_tier_proc_release(&ev.proc);
    agent_tier_proc_release(&ev.parent);
}

static void
emit_exit(struct proc_state *s, pid_t pid, pid_t ppid, uint32_t code)
{
    struct agent_event ev;
    char sig[16];

    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_TERMINATE;
    ev.prio = AGENT_PRIO_NORMAL;
    ev.tier = AGENT_TIER_NETLINK;
    ev.ts_ns = now_ns();
    ev.proc.pid = pid;
    ev.proc.ppid = ppid;
    ev.proc.loginuid = (uid_t)-1;
    /* the zombie still has its stat: comm and start time identify it against pid reuse */
    char path[64], *buf = NULL;
    size_t len;
    bool trunc;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (read_file(path, 4096, &buf, &len, &trunc) == 0) {
        pid_t keep = ev.proc.ppid;
        bool zombie;
        if (parse_stat(buf, &ev.proc, &zombie) < 0 || ev.proc.ppid == 0)
            ev.proc.ppid = keep;
    }
    bn_free(buf);
    int status = (int)code;
    if (WIFSIGNALED(status)) {
        ev.exit_code = 128 + WTERMSIG(status);
        snprintf(sig, sizeof(sig), "%d", WTERMSIG(status));
        ev.extra_keys[ev.nextra] = "signal";
        ev.extra_vals[ev.nextra++] = sig;
    } else {
        ev.exit_code = WEXITSTATUS(status);
    }
    atomic_fetch_add(&s->exits, 1);
    if (agent_emit(s->agent, &ev) < 0)
        atomic_fetch_add(&s->emit_errors, 1);
}

static void
emit_overrun(struct proc_state *s)
{
    agent_collector_lost(s->agent, AGENT_TIER_NETLINK, "proc_connector", "events lost: netlink socket overrun", "overruns",
                         (uint64_t)atomic_load(&s->overruns));
}

static void
handle(struct proc_state *s, const struct proc_event *pe)
{
    switch (pe->what) {
    case PROC_EVENT_FORK:
        if (pe->event_data.fork.child_pid == pe->event_data.fork.child_tgid) {
            atomic_fetch_add(&s->forks_seen, 1);
            fork_put(s, pe->event_data.fork.child_tgid, pe->event_data.fork.parent_tgid);
        }
        break;
    case PROC_EVENT_EXEC:
        emit_exec(s, pe->event_data.exec.process_tgid);
        break;
    case PROC_EVENT_EXIT:
        if (pe->event_data.exit.process_pid == pe->event_data.exit.process_tgid)
            emit_exit(s, pe->event_data.exit.process_tgid, pe->event_data.exit.parent_tgid,
                      pe->event_data.exit.exit_code);
        break;
    default:
        break;
    }
}

static void *
proc_thread(void *arg)
{
    struct proc_state *s = arg;
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));

    while (agent_worker_wait(&s->w, s->sock)) {
        ssize_t n = recv(s->sock, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == ENOBUFS) {
                atomic_fetch_add(&s->overruns, 1);
                emit_overrun(s);
            }
            continue;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP)
                continue;
            const struct cn_msg *cn = NLMSG_DATA(h);
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*cn)) ||
                cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
                continue;
            if (cn->len < sizeof(struct proc_event) - sizeof(((struct proc_event *)0)->event_data) ||
                h->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + cn->len))
                continue;
            struct proc_event pe;
            memset(&pe, 0, sizeof(pe));
            memcpy(&pe, cn->data, BN_MIN((size_t)cn->len, sizeof(pe)));
            handle(s, &pe);
        }
    }
    return NULL;
}

static void proc_stop(struct agent *a, void *state);

static int
proc_start(struct agent *a, void **state, struct bn_diag *d)
{
    struct proc_state *s;
    int rc;

    *state = NULL;
    s = bn_calloc(1, sizeof(*s));
    if (!s)
        return bn_diag_set(d, BN_ENOMEM, "proc_connector", 0, 0, "out of memory");
    s->agent = a;
    s->sock = -1;
    agent_worker_init(&s->w);
    mntns_of(0, s->self_mntns, sizeof(s->self_mntns));
    rc = nl_open(&s->sock, d);
    if (rc < 0)
        goto out;
    rc = nl_listen(s->sock, PROC_CN_MCAST_LISTEN);
    if (rc < 0) {
        bn_diag_set(d, rc, "proc_connector", 0, 0,
                    "netlink proc connector: subscribe failed: %s", strerror(-rc));
        goto out;
    }
    rc = agent_worker_start(&s->w, "proc_connector", proc_thread, s, d);
    if (rc < 0)
        goto out;
    *state = s;
    s = NULL;
out:
    if (s)
        proc_stop(a, s);
    return rc;
}

static void
proc_stop(struct agent *a, void *state)
{
    struct proc_state *s = state;
    (void)a;
    if (!s)
        return;
    agent_worker_stop(&s->w);
    if (s->sock >= 0) {
        nl_listen(s->sock, PROC_CN_MCAST_IGNORE);
        close(s->sock);
    }
    bn_free(s);
}

static void
proc_describe(struct agent *a, void *state, char *buf, size_t size)
{
    struct proc_state *s = state;
    (void)a;
    if (!s) {
        snprintf(buf, size,
                 "proc_connector: exec, fork and exit from the kernel; /proc read at exec "
                 "(processes gone by then are flagged proc_gone)\n");
        return;
    }
    size_t n = strlen(buf);
    if (n >= size)
        return;
    snprintf(buf + n, size - n,
             "proc_connector: execs %" PRIuFAST64 ", exits %" PRIuFAST64 ", forks %" PRIuFAST64
             ", gone before /proc read %" PRIu64 ", command lines truncated %" PRIu64
             ", socket overruns %" PRIuFAST64 ", emit errors %" PRIuFAST64 "\n",
             atomic_load(&s->execs), atomic_load(&s->exits), atomic_load(&s->forks_seen),
             s->st.gone, s->st.cmdline_truncated, atomic_load(&s->overruns),
             atomic_load(&s->emit_errors));
}

const struct agent_collector_ops agent_collector_proc_connector = {
    .name = "proc_connector",
    .tier = AGENT_TIER_NETLINK,
    .probe = proc_probe,
    .start = proc_start,
    .stop = proc_stop,
    .describe = proc_describe,
};
