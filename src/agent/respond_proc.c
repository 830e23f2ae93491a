/*
 * respond_proc.c - kill, kill_tree, suspend and resume (respond_proc.h).
 *
 * Every process acted on is held by a pidfd opened before it is signalled and checked
 * (parent, start time) after it is opened, so a pid that exits and is recycled while the
 * tree is walked is never signalled. Trees are walked top-down through
 * /proc/<pid>/task/<tid>/children; for kill_tree and suspend each process is stopped before
 * its children are read, so nothing forks away behind the walk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "agent/respond_proc.h"
#include "agent/proctable.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"

#define PF_KTHREAD_FLAG 0x00200000u

struct resp_proc {
    struct resp_proc_stats st;
};

/* One process of a tree: the pidfd holds it. */
struct member {
    pid_t pid;
    int pidfd;
};

struct tree {
    struct member *m;
    size_t n;
    bool truncated; /* more than BN_RESP_PROC_TREE_MAX processes */
};

struct pstat {
    char state;
    pid_t ppid;
    unsigned flags;
    uint64_t start_ns;
};

static int
sys_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int
sys_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Reads state, ppid, flags and start time of pid. 0 or -errno. */
static int
read_pstat(pid_t pid, struct pstat *ps)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -e : -ESRCH;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return BN_EFORMAT;
    p += 2;
    char state = *p++;
    /* v[i] is field i + 4 of proc(5) stat (ppid is field 4, starttime field 22) */
    unsigned long long v[19];
    for (int i = 0; i < 19; i++) {
        while (*p == ' ')
            p++;
        char *end;
        if (*p == '-')
            p++; /* tty_nr and friends may be negative; only the magnitude is skipped */
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            return BN_EFORMAT;
        p = end;
    }
    ps->state = state;
    ps->ppid = (pid_t)v[0];     /* field 4 */
    ps->flags = (unsigned)v[5]; /* field 9 */
    long tck = sysconf(_SC_CLK_TCK);
    if (tck <= 0)
        tck = 100;
    ps->start_ns = (uint64_t)v[18] * (1000000000ull / (uint64_t)tck); /* field 22 */
    return 0;
}

static void
tree_release(struct tree *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->m[i].pidfd >= 0)
            close(t->m[i].pidfd);
    bn_free(t->m);
    memset(t, 0, sizeof(*t));
}

static bool
tree_has(const struct tree *t, pid_t pid)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->m[i].pid == pid)
            return true;
    return false;
}

static int
tree_push(struct tree *t, pid_t pid, int pidfd)
{
    if (t->n >= BN_RESP_PROC_TREE_MAX) {
        t->truncated = true;
        return BN_ETOOBIG;
    }
    if ((t->n & (t->n - 1)) == 0) {
        size_t cap = t->n ? t->n * 2 : 16;
        struct member *nm = bn_reallocarray(t->m, cap, sizeof(*nm));
        if (!nm)
            return BN_ENOMEM;
        t->m = nm;
    }
    t->m[t->n].pid = pid;
    t->m[t->n].pidfd = pidfd;
    t->n++;
    return 0;
}

/* True when pid is the agent or one of its ancestors (acting on its tree hits the agent). */
static bool
is_self_or_ancestor(pid_t pid)
{
    pid_t p = getpid();
    for (int depth = 0; p > 0 && depth < 4096; depth++) {
        if (p == pid)
            return true;
        struct pstat ps;
        if (read_pstat(p, &ps) < 0)
            break;
        p = ps.ppid;
    }
    return false;
}

/* Reads the children of every task of pid into kids (appended, deduplicated). */
static int
read_children(pid_t pid, pid_t **kids, size_t *nkids)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && rc == 0) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char cpath[128];
        snprintf(cpath, sizeof(cpath), "/proc/%d/task/%.20s/children", (int)pid, de->d_name);
        FILE *f = fopen(cpath, "re");
        if (!f)
            continue;
        long v;
        while (fscanf(f, "%ld", &v) == 1) {
            if (v <= 0 || v > INT32_MAX)
                continue;
            bool dup = false;
            for (size_t i = 0; i < *nkids; i++)
                dup |= (*kids)[i] == (pid_t)v;
            if (dup)
                continue;
            if (*nkids >= BN_RESP_PROC_TREE_MAX) {
                rc = BN_ETOOBIG;
                break;
            }
            pid_t *nk = bn_reallocarray(*kids, *nkids + 1, sizeof(**kids));
            if (!nk) {
                rc = BN_ENOMEM;
                break;
            }
            *kids = nk;
            (*kids)[(*nkids)++] = (pid_t)v;
        }
        fclose(f);
    }
    closedir(d);
    return rc;
}

/*
 * Collects the tree under the held root (t->m[0]); with stop_sig, each member is sent it
 * before its children are read. Processes that vanish during the walk are skipped.
 */
static int
walk_tree(struct resp_proc *m, struct tree *t, int stop_sig)
{
    for (size_t i = 0; i < t->n; i++) {
        if (stop_sig) {
            if (sys_pidfd_send_signal(t->m[i].pidfd, stop_sig) == 0)
                m->st.stopped += stop_sig == SIGSTOP;
        }
        pid_t *kids = NULL;
        size_t nk = 0;
        int rc = read_children(t->m[i].pid, &kids, &nk);
        if (rc == BN_ENOMEM) {
            bn_free(kids);
            return rc;
        }
        for (size_t k = 0; k < nk; k++) {
            if (tree_has(t, kids[k]))
                continue;
            int fd = sys_pidfd_open(kids[k]);
            if (fd < 0)
                continue; /* exited meanwhile */
            struct pstat ps;
            /* held now: check it is still the child we read (not a recycled pid) */
            if (read_pstat(kids[k], &ps) < 0 || ps.ppid != t->m[i].pid) {
                close(fd);
                continue;
            }
            int prc = tree_push(t, kids[k], fd);
            if (prc < 0) {
                close(fd);
                if (prc == BN_ENOMEM) {
                    bn_free(kids);
                    return prc;
                }
                break;
            }
        }
        bn_free(kids);
    }
    return 0;
}

/* Result helpers. */
static int fail(struct bn_buf *out, int rc, const char *fmt, ...) BN_PRINTF(3, 4);

static int
fail(struct bn_buf *out, int rc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bn_buf_puts(out, "{\"ok\":false,\"error\":\"");
    bn_buf_json_escape(out, msg, strlen(msg));
    return bn_buf_puts(out, "\"}") < 0 ? BN_ENOMEM : rc;
}

struct target {
    pid_t pid;
    uint64_t start_ns;
};

static int
parse_target(const char *params, size_t len, struct target *tg, struct bn_buf *out)
{
    memset(tg, 0, sizeof(*tg));
    if (!params || len > BN_RESP_PARAMS_MAX)
        return fail(out, BN_EINVAL, "params: missing or larger than %u bytes",
                    (unsigned)BN_RESP_PARAMS_MAX);
    json_error_t je;
    json_t *j = json_loadb(params, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return fail(out, BN_EINVAL, "params:%d:%d: %s", je.line, je.column, je.text);
    int rc = 0;
    if (!json_is_object(j)) {
        rc = fail(out, BN_EINVAL, "params: expected a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "pid") == 0) {
            json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
            if (x <= 0 || x > INT32_MAX) {
                rc = fail(out, BN_EINVAL, "params: 'pid' must be an integer from 1 to %d",
                          INT32_MAX);
                goto out;
            }
            tg->pid = (pid_t)x;
        } else if (strcmp(key, "start_ns") == 0) {
            json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
            if (x < 0) {
                rc = fail(out, BN_EINVAL, "params: 'start_ns' must be a non-negative integer");
                goto out;
            }
            tg->start_ns = (uint64_t)x;
        } else {
            char k[64];
            snprintf(k, sizeof(k), "%.60s", key);
            rc = fail(out, BN_EINVAL, "params: unknown parameter '%s' (expected pid, start_ns)", k);
            goto out;
        }
    }
    if (!tg->pid)
        rc = fail(out, BN_EINVAL, "params: 'pid' is required");
out:
    json_decref(j);
    return rc;
}

int
resp_proc_check(const char *params, size_t len, struct bn_buf *out)
{
    struct target tg;
    int rc = parse_target(params, len, &tg, out);
    if (rc)
        return rc;
    return bn_buf_printf(out, "{\"ok\":true,\"pid\":%d,\"start_ns\":%llu}", (int)tg.pid,
                         (unsigned long long)tg.start_ns) < 0
               ? BN_ENOMEM
               : 0;
}

/*
 * Opens a pidfd on the target and checks it may be acted on. Returns the pidfd, or a
 * negative code after writing a failed result (0 returned through *ran: the action ran and
 * failed, as opposed to bad params).
 */
static int
hold_target(struct resp_proc *m, const struct target *tg, bool tree, struct bn_buf *out,
            int *rc_out)
{
    *rc_out = 0;
    if (tg->pid == 1 || tg->pid == getpid() || (tree && is_self_or_ancestor(tg->pid))) {
        m->st.refused++;
        *rc_out = fail(out, 0, "pid %d is protected (init, the agent or one of its ancestors)",
                       (int)tg->pid);
        return -1;
    }
    int fd = sys_pidfd_open(tg->pid);
    if (fd < 0) {
        m->st.refused++;
        *rc_out = fail(out, 0, "pid %d: %s", (int)tg->pid, strerror(errno));
        return -1;
    }
    struct pstat ps;
    int r = read_pstat(tg->pid, &ps);
    if (r < 0) {
        close(fd);
        m->st.refused++;
        *rc_out = fail(out, 0, "pid %d: cannot read /proc: %s", (int)tg->pid, bn_strerror(r));
        return -1;
    }
    if ((ps.flags & PF_KTHREAD_FLAG) || tg->pid == 2 || ps.ppid == 2) {
        close(fd);
        m->st.refused++;
        *rc_out = fail(out, 0, "pid %d is a kernel thread", (int)tg->pid);
        return -1;
    }
    if (tg->start_ns && !agent_proc_same_start(tg->start_ns, ps.start_ns)) {
        close(fd);
        m->st.refused++;
        *rc_out =
            fail(out, 0,
                 "pid %d was reused: start_ns %" PRIu64 " asked, the process started at %" PRIu64,
                 (int)tg->pid, tg->start_ns, ps.start_ns);
        return -1;
    }
    return fd;
}

static void
put_pids(struct bn_buf *out, const char *name, const struct tree *t, const bool *sel, bool want)
{
    bn_buf_printf(out, ",\"%s\":[", name);
    bool first = true;
    for (size_t i = 0; i < t->n; i++) {
        if (sel && sel[i] != want)
            continue;
        bn_buf_printf(out, "%s%d", first ? "" : ",", (int)t->m[i].pid);
        first = false;
    }
    bn_buf_putc(out, ']');
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits up to ms for every member to exit (its pidfd turns readable); marks the dead. */
static void
wait_dead(struct tree *t, bool *dead, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    for (;;) {
        size_t alive = 0;
        for (size_t i = 0; i < t->n; i++) {
            if (dead[i])
                continue;
            struct pollfd p = {.fd = t->m[i].pidfd, .events = POLLIN};
            if (poll(&p, 1, 0) > 0)
                dead[i] = true;
            else
                alive++;
        }
        if (!alive || now_ms() >= end)
            return;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

/* Waits up to ms until every member that is still alive reports state want ('T' or not). */
static void
wait_state(const struct tree *t, bool stopped, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < t->n && all; i++) {
            struct pstat ps;
            if (read_pstat(t->m[i].pid, &ps) < 0 || ps.state == 'Z' || ps.state == 'X')
                continue;
            bool is_t = ps.state == 'T' || ps.state == 't';
            all = is_t == stopped;
        }
        if (all || now_ms() >= end)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

int
resp_proc_new(struct resp_proc **out, const struct respond_paths *paths)
{
    (void)paths;
    *out = NULL;
    struct resp_proc *m = bn_calloc(1, sizeof(*m));
    if (!m)
        return BN_ENOMEM;
    *out = m;
    return 0;
}

void
resp_proc_free(struct resp_proc *m)
{
    bn_free(m);
}

void
resp_proc_stats(const struct resp_proc *m, struct resp_proc_stats *out)
{
    *out = m->st;
}

int
resp_kill(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out)
{
    struct target tg;
    int rc = parse_target(params, len, &tg, out);
    if (rc < 0)
        return rc;
    int fd = hold_target(m, &tg, false, out, &rc);
    if (fd < 0)
        return rc;
    if (sys_pidfd_send_signal(fd, SIGKILL) < 0) {
        int e = errno;
        close(fd);
        return fail(out, 0, "pid %d: SIGKILL: %s", (int)tg.pid, strerror(e));
    }
    m->st.killed++;
    struct tree t = {0};
    bool dead = false;
    if (tree_push(&t, tg.pid, fd) < 0) {
        close(fd);
        return BN_ENOMEM;
    }
    wait_dead(&t, &dead, 1000);
    bn_buf_printf(out, "{\"ok\":%s", dead ? "true" : "false");
    if (!dead)
        bn_buf_puts(out, ",\"error\":\"SIGKILL sent but the process had not exited after 1 s\"");
    put_pids(out, "pids", &t, NULL, false);
    rc = bn_buf_puts(out, ",\"method\":\"pidfd\"}") < 0 ? BN_ENOMEM : 0;
    tree_release(&t);
    return rc;
}

int
resp_kill_tree(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out)
{
    struct target tg;
    int rc = parse_target(params, len, &tg, out);
    if (rc < 0)
        return rc;
    int fd = hold_target(m, &tg, true, out, &rc);
    if (fd < 0)
        return rc;
    struct tree t = {0};
    if (tree_push(&t, tg.pid, fd) < 0) {
        close(fd);
        return BN_ENOMEM;
    }
    /* Freeze top-down, then walk again for anything forked before its parent stopped. */
    rc = walk_tree(m, &t, SIGSTOP);
    if (rc == 0)
        rc = walk_tree(m, &t, 0);
    if (rc < 0) {
        for (size_t i = 0; i < t.n; i++)
            sys_pidfd_send_signal(t.m[i].pidfd, SIGCONT);
        tree_release(&t);
        return fail(out, rc, "walking the tree of %d: %s", (int)tg.pid, bn_strerror(rc));
    }
    for (size_t i = t.n; i-- > 0;)
        if (sys_pidfd_send_signal(t.m[i].pidfd, SIGKILL) == 0)
            m->st.killed++;
    bool *dead = bn_calloc(t.n, sizeof(*dead));
    if (!dead) {
        tree_release(&t);
        return BN_ENOMEM;
    }
    wait_dead(&t, dead, 2000);
    size_t survivors = 0;
    for (size_t i = 0; i < t.n; i++)
        survivors += !dead[i];
    bn_buf_printf(out, "{\"ok\":%s", survivors ? "false" : "true");
    if (survivors)
        bn_buf_printf(out, ",\"error\":\"%zu processes had not exited 2 s after SIGKILL\"",
                      survivors);
    else if (t.truncated)
        bn_buf_printf(out,
                      ",\"error\":\"tree larger than %u processes: the rest was not "
                      "killed\"",
                      (unsigned)BN_RESP_PROC_TREE_MAX);
    put_pids(out, "pids", &t, NULL, false);
    put_pids(out, "survivors", &t, dead, false);
    rc = bn_buf_puts(out, ",\"method\":\"sigstop+sigkill\"}") < 0 ? BN_ENOMEM : 0;
    bn_free(dead);
    tree_release(&t);
    return rc;
}

/* Where the cgroup v2 hierarchy is mounted (unified or hybrid layout), or NULL. */
static const char *
cgroup2_root(void)
{
    static const char *const cand[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
        struct statfs sf;
        if (statfs(cand[i], &sf) == 0 && sf.f_type == 0x63677270 /* CGROUP2_SUPER_MAGIC */)
            return cand[i];
    }
    return NULL;
}

/* The cgroup v2 path of pid ("" for the root cgroup), or -errno. */
static int
cgroup_of(pid_t pid, char *path, size_t cap)
{
    char p[64], line[4096];
    snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return -errno;
    int rc = -ENOENT;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "0::", 3) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        const char *cg = line + 3;
        if (strcmp(cg, "/") == 0)
            cg = "";
        if ((size_t)snprintf(path, cap, "%s", cg) < cap)
            rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

/* True when the members of cgroup cg are exactly the tree's processes (and cg not root). */
static bool
tree_is_cgroup(const struct tree *t, const char *cg)
{
    const char *root = cgroup2_root();
    if (!*cg || t->truncated || !root)
        return false;
    char p[4200];
    snprintf(p, sizeof(p), "%s%s/cgroup.procs", root, cg);
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    long v;
    size_t n = 0;
    bool ok = true;
    while (ok && fscanf(f, "%ld", &v) == 1) {
        ok = tree_has(t, (pid_t)v);
        n++;
    }
    fclose(f);
    if (!ok || n != t->n)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        char c[4096];
        if (cgroup_of(t->m[i].pid, c, sizeof(c)) < 0 || strcmp(c, cg) != 0)
            return false;
    }
    return true;
}

/* Writes "1"/"0" to the cgroup's freezer and waits up to 1 s for cgroup.events. 0 or -errno. */
static int
cgroup_freeze(const char *cg, bool freeze)
{
    const char *root = cgroup2_root();
    if (!root)
        return -ENOENT;
    char p[4200];
    snprintf(p, sizeof(p), "%s%s/cgroup.freeze", root, cg);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, freeze ? "1" : "0", 1);
    int e = errno;
    close(fd);
    if (w != 1)
        return -e;
    snprintf(p, sizeof(p), "%s%s/cgroup.events", root, cg);
    uint64_t end = now_ms() + 1000;
    do {
        FILE *f = fopen(p, "re");
        if (!f)
            return -errno;
        char line[128];
        int frozen = -1;
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "frozen %d", &frozen) == 1)
                break;
        fclose(f);
        if (frozen == (freeze ? 1 : 0))
            return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    } while (now_ms() < end);
    return -ETIMEDOUT;
}

static bool
cgroup_frozen(const char *cg)
{
    const char *root = cgroup2_root();
    if (!root)
        return false;
    char p[4200];
    snprintf(p, sizeof(p), "%s%s/cgroup.freeze", root, cg);
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    int v = 0;
    bool r = fscanf(f, "%d", &v) == 1 && v == 1;
    fclose(f);
    return r;
}

static int
suspend_resume(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out,
               bool suspend)
{
    struct target tg;
    int rc = parse_target(params, len, &tg, out);
    if (rc < 0)
        return rc;
    int fd = hold_target(m, &tg, true, out, &rc);
    if (fd < 0)
        return rc;
    struct tree t = {0};
    if (tree_push(&t, tg.pid, fd) < 0) {
        close(fd);
        return BN_ENOMEM;
    }
    /* First a plain walk: if the tree is one cgroup, the freezer does it atomically. */
    rc = walk_tree(m, &t, 0);
    char cg[4096];
    const char *method = NULL;
    if (rc == 0 && cgroup_of(tg.pid, cg, sizeof(cg)) == 0 && tree_is_cgroup(&t, cg) &&
        (suspend || cgroup_frozen(cg))) {
        int fr = cgroup_freeze(cg, suspend);
        if (fr == 0) {
            method = "cgroup";
            if (suspend)
                m->st.frozen++;
            else
                m->st.thawed++;
        } else {
            BN_WARN("respond", "cgroup freezer of '%s' failed (%s): using signals", cg,
                    bn_strerror(fr));
        }
    }
    if (rc == 0 && !method && suspend) {
        /* stop top-down, again walking for children forked before their parent stopped */
        rc = walk_tree(m, &t, SIGSTOP);
        if (rc == 0)
            rc = walk_tree(m, &t, SIGSTOP);
        method = "sigstop";
        if (rc == 0)
            wait_state(&t, true, 1000);
    } else if (rc == 0 && !method) {
        for (size_t i = t.n; i-- > 0;)
            if (sys_pidfd_send_signal(t.m[i].pidfd, SIGCONT) == 0)
                m->st.continued++;
        method = "sigcont";
        wait_state(&t, false, 1000);
    }
    if (rc < 0) {
        tree_release(&t);
        return fail(out, rc == BN_ENOMEM ? BN_ENOMEM : 0, "walking the tree of %d: %s", (int)tg.pid,
                    bn_strerror(rc));
    }
    bn_buf_puts(out, "{\"ok\":true");
    if (t.truncated)
        bn_buf_printf(out, ",\"error\":\"tree larger than %u processes: only those were %s\"",
                      (unsigned)BN_RESP_PROC_TREE_MAX, suspend ? "suspended" : "resumed");
    put_pids(out, "pids", &t, NULL, false);
    bn_buf_printf(out, ",\"method\":\"%s\"", method);
    if (strcmp(method, "cgroup") == 0) {
        bn_buf_puts(out, ",\"cgroup\":\"");
        bn_buf_json_escape(out, cg, strlen(cg));
        bn_buf_putc(out, '"');
    }
    rc = bn_buf_putc(out, '}') < 0 ? BN_ENOMEM : 0;
    tree_release(&t);
    return rc;
}

int
resp_suspend(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out)
{
    return suspend_resume(m, params, len, out, true);
}

int
resp_resume(struct resp_proc *m, const char *params, size_t len, struct bn_buf *out)
{
    return suspend_resume(m, params, len, out, false);
}
