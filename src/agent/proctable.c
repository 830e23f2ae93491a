/*
 * proctable.c - the agent's process table (see proctable.h): /proc readers with hard limits,
 * a pid-hashed table of live and recently exited processes keyed by pid + start time, the
 * ancestry walk, and the SHA-256 cache of executables.
 *
 * Entries are chained per pid bucket; several entries may share a pid (a reused pid next to
 * its exited predecessor). Each entry remembers its parent's start time as it was when the
 * entry was made, so the ancestry walk follows the right generation of a reused parent pid.
 * Exited entries sit on a list in exit order and are expired from its head.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "bannin/alloc.h"
#include "bannin/error.h"

#include "agent/proctable.h"

#define PT_BUCKETS 4096            /* power of two */
#define PT_STAT_MAX 4096           /* bytes of /proc/<pid>/stat or status we read */
#define PT_HASH_CHUNK 65536

struct pt_entry {
    struct agent_proc p;
    /* p's strings as the entry was made lie right behind it, in the same allocation
     * (entry_new: one malloc per process, not one per string); strings merged in later are
     * owned one by one */
    size_t strs_len;
    uint64_t parent_start_ns;      /* start of the parent this entry descends from */
    bool exited;
    bool parked;                   /* exited, off the expiry list while descendants remain */
    uint32_t children;             /* entries in the table whose parent this is */
    int64_t exit_ns;
    struct pt_entry *next;         /* bucket chain */
    struct pt_entry *xprev, *xnext; /* exited list, oldest first */
};

struct pt_hash_slot {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    bool used;
    int err;                       /* 0, or how hashing this version of the file failed */
    char hex[65];
};

struct agent_proctable {
    pthread_mutex_t mu;
    struct agent_proctable_opts opts;
    char proc_root[256];
    struct pt_entry *buckets[PT_BUCKETS];
    struct pt_entry *xhead, *xtail;
    size_t nx;                     /* entries on the exited list */
    size_t count;
    struct pt_hash_slot *hslots;
    struct agent_proctable_stats st;
};

/* Nanoseconds per clock tick (/proc start times are in ticks); looked up once: this runs
 * for every process event and sysconf is not free. */
static uint64_t
tick_ns(void)
{
    static _Atomic uint64_t ns;
    uint64_t v = ns;

    if (!v) {
        long hz = sysconf(_SC_CLK_TCK);
        v = hz > 0 ? 1000000000ull / (uint64_t)hz : 10000000ull;
        ns = v;
    }
    return v;
}

bool
agent_proc_same_start(uint64_t a, uint64_t b)
{
    if (a == 0 || b == 0)
        return true;
    uint64_t t = tick_ns();
    return a / t == b / t;
}

void
agent_proc_release(struct agent_proc *p)
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

static int
dup_field(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = bn_strdup(src);
    return *dst ? 0 : BN_ENOMEM;
}

int
agent_proc_copy(struct agent_proc *dst, const struct agent_proc *src)
{
    *dst = *src;
    dst->exe = dst->cmdline = dst->cwd = dst->tty = dst->cgroup = NULL;
    if (dup_field(&dst->exe, src->exe) || dup_field(&dst->cmdline, src->cmdline) ||
        dup_field(&dst->cwd, src->cwd) || dup_field(&dst->tty, src->tty) ||
        dup_field(&dst->cgroup, src->cgroup)) {
        agent_proc_release(dst);
        return BN_ENOMEM;
    }
    return 0;
}

/* Reads at most max bytes of a file into an owned NUL-terminated buffer; *trunc says the
 * file had more. Returns 0 or -errno / BN_ENOMEM. */
static int
read_small(const char *path, size_t max, char **out, size_t *len, bool *trunc)
{
    *out = NULL;
    *len = 0;
    if (trunc)
        *trunc = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    char *buf = bn_malloc(max + 2);
    if (!buf) {
        rc = BN_ENOMEM;
        goto out;
    }
    size_t n = 0;
    while (n < max + 1) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
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
    if (n > max) {
        n = max;
        if (trunc)
            *trunc = true;
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

/* readlink into an owned string; *trunc when the target is longer than AGENT_PATH_MAX. */
static int
read_link(const char *path, char **out, bool *trunc)
{
    *out = NULL;
    *trunc = false;
    char *buf = bn_malloc(AGENT_PATH_MAX + 1);
    if (!buf)
        return BN_ENOMEM;
    ssize_t r = readlink(path, buf, AGENT_PATH_MAX + 1);
    if (r < 0) {
        int e = -errno;
        bn_free(buf);
        return e;
    }
    if (r > AGENT_PATH_MAX) {
        r = AGENT_PATH_MAX;
        *trunc = true;
    }
    buf[r] = '\0';
    *out = buf;
    return 0;
}

static bool
is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The container id in one cgroup path component [c, e), or NULL: 64 lower-case hex digits
 * that are the whole component or are preceded by "<runtime>-" / "<runtime>:" (docker-,
 * cri-containerd-, crio-, libpod-, ...) and followed by nothing or ".<suffix>" (.scope). */
static const char *
component_id(const char *c, const char *e)
{
    const char *dot = memchr(c, '.', (size_t)(e - c));
    const char *end = dot ? dot : e;
    if (end - c < 64)
        return NULL;
    const char *id = end - 64;
    if (id > c && id[-1] != '-' && id[-1] != ':')
        return NULL;
    for (const char *p = id; p < end; p++)
        if (!is_lower_hex(*p))
            return NULL;
    return id;
}

/* Takes the container id from the deepest cgroup path component that carries one (docker,
 * containerd, cri-o and podman name the scope or directory after it; a process may sit in
 * a sub-group of the container's, such as init.scope under docker-<id>.scope). */
void
agent_container_id_from_cgroup(const char *cg, char id[65])
{
    id[0] = '\0';
    if (!cg)
        return;
    const char *e = cg + strnlen(cg, AGENT_PATH_MAX);
    while (e > cg) {
        const char *c = e;
        while (c > cg && c[-1] != '/')
            c--;
        const char *found = component_id(c, e);
        if (found) {
            memcpy(id, found, 64);
            id[64] = '\0';
            return;
        }
        e = c > cg ? c - 1 : cg;
    }
}

/* Line [l, e) of /proc/<pid>/cgroup: "<id>:<controllers>:<path>"; sets the path. */
static bool
cgroup_line_path(const char *l, const char *e, const char **path, size_t *len)
{
    const char *c1 = memchr(l, ':', (size_t)(e - l));
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(e - c1 - 1)) : NULL;
    if (!c2)
        return false;
    *path = c2 + 1;
    *len = (size_t)(e - c2 - 1);
    return true;
}

char *
agent_cgroup_pick(const char *text, char id[65])
{
    const char *v2 = NULL, *first = NULL, *path;
    size_t v2_len = 0, first_len = 0, len;
    char tmp[AGENT_PATH_MAX];
    id[0] = '\0';
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        const char *e = nl ? nl : l + strlen(l);
        if (cgroup_line_path(l, e, &path, &len) && len < sizeof(tmp)) {
            memcpy(tmp, path, len);
            tmp[len] = '\0';
            agent_container_id_from_cgroup(tmp, id);
            if (id[0])
                return bn_strdup(tmp); /* the hierarchy that names the container */
            if (l[0] == '0' && l[1] == ':' && l[2] == ':' && !v2) {
                v2 = path;
                v2_len = len;
            }
            if (!first) {
                first = path;
                first_len = len;
            }
        }
        l = nl ? nl + 1 : NULL;
    }
    if (v2)
        return bn_strndup(v2, v2_len);
    return first ? bn_strndup(first, first_len) : NULL;
}

static void
tty_name(unsigned long tty_nr, char **out)
{
    *out = NULL;
    if (tty_nr == 0)
        return;
    unsigned int maj = major((dev_t)tty_nr), min = minor((dev_t)tty_nr);
    char buf[64];
    if (maj >= 136 && maj <= 143)
        snprintf(buf, sizeof(buf), "pts/%u", (maj - 136) * 256 + min);
    else if (maj == 4 && min < 64)
        snprintf(buf, sizeof(buf), "tty%u", min);
    else if (maj == 4)
        snprintf(buf, sizeof(buf), "ttyS%u", min - 64);
    else
        snprintf(buf, sizeof(buf), "tty(%u:%u)", maj, min);
    *out = bn_strdup(buf);
}

/* Parses /proc/<pid>/stat: "pid (comm) state ppid pgrp session tty_nr ... starttime(22)". */
static int
parse_stat(const char *s, struct agent_proc *p, unsigned long *tty_nr)
{
    const char *lp = strchr(s, '(');
    const char *rp = strrchr(s, ')');
    if (!lp || !rp || rp < lp)
        return BN_EFORMAT;
    size_t clen = BN_MIN((size_t)(rp - lp - 1), sizeof(p->comm) - 1);
    memcpy(p->comm, lp + 1, clen);
    p->comm[clen] = '\0';
    const char *c = rp + 1;
    /* fields after comm: 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty_nr, ..., 22 starttime */
    unsigned long long f[23] = {0};
    int field = 2;
    while (*c && field < 22) {
        while (*c == ' ')
            c++;
        if (!*c)
            break;
        field++;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(c, &end, 10);
        if (end == c) { /* the state letter */
            while (*c && *c != ' ')
                c++;
            continue;
        }
        f[field] = v;
        c = end;
    }
    if (field < 22)
        return BN_EFORMAT;
    p->ppid = (pid_t)f[4];
    *tty_nr = (unsigned long)f[7];
    p->start_ns = (uint64_t)f[22] * tick_ns();
    return 0;
}

static void
parse_status(const char *s, struct agent_proc *p)
{
    const char *u = strstr(s, "\nUid:");
    const char *g = strstr(s, "\nGid:");
    if (u) {
        char *end;
        unsigned long r = strtoul(u + 5, &end, 10);
        unsigned long e = strtoul(end, NULL, 10);
        p->uid = (uid_t)r;
        p->euid = (uid_t)e;
    }
    if (g) {
        char *end;
        unsigned long r = strtoul(g + 5, &end, 10);
        unsigned long e = strtoul(end, NULL, 10);
        p->gid = (gid_t)r;
        p->egid = (gid_t)e;
    }
}

static int
proc_path(const struct agent_proctable *pt, char *buf, size_t size, pid_t pid, const char *what)
{
    int n = snprintf(buf, size, "%s/%d/%s", pt ? pt->proc_root : "/proc", (int)pid, what);
    return n < 0 || (size_t)n >= size ? BN_ETOOBIG : 0;
}

int
agent_proc_read(struct agent_proctable *pt, pid_t pid, struct agent_proc *p)
{
    memset(p, 0, sizeof(*p));
    char path[320];
    char *buf = NULL;
    size_t len;
    bool trunc;
    unsigned long tty_nr = 0;
    int rc;

    if (pt) {
        pthread_mutex_lock(&pt->mu);
        pt->st.proc_reads++;
        pthread_mutex_unlock(&pt->mu);
    }
    p->pid = pid;
    proc_path(pt, path, sizeof(path), pid, "stat");
    rc = read_small(path, PT_STAT_MAX, &buf, &len, NULL);
    if (rc)
        goto out;
    rc = parse_stat(buf, p, &tty_nr);
    bn_free(buf);
    buf = NULL;
    if (rc)
        goto out;

    proc_path(pt, path, sizeof(path), pid, "status");
    if (read_small(path, PT_STAT_MAX, &buf, &len, NULL) == 0)
        parse_status(buf, p);
    bn_free(buf);
    buf = NULL;

    p->loginuid = (uid_t)-1;
    p->sessionid = UINT32_MAX;
    proc_path(pt, path, sizeof(path), pid, "loginuid");
    if (read_small(path, 32, &buf, &len, NULL) == 0)
        p->loginuid = (uid_t)strtoul(buf, NULL, 10);
    bn_free(buf);
    buf = NULL;
    proc_path(pt, path, sizeof(path), pid, "sessionid");
    if (read_small(path, 32, &buf, &len, NULL) == 0)
        p->sessionid = (uint32_t)strtoul(buf, NULL, 10);
    bn_free(buf);
    buf = NULL;

    /* argv: NULs become spaces; the bytes themselves are kept as they are (not UTF-8 checked:
     * the serializer escapes them) */
    proc_path(pt, path, sizeof(path), pid, "cmdline");
    rc = read_small(path, AGENT_CMDLINE_MAX, &p->cmdline, &len, &p->cmdline_truncated);
    if (rc == BN_ENOMEM)
        goto out;
    if (rc == 0) {
        while (len > 0 && p->cmdline[len - 1] == '\0')
            len--;
        for (size_t i = 0; i < len; i++)
            if (p->cmdline[i] == '\0')
                p->cmdline[i] = ' ';
        p->cmdline[len] = '\0';
    }
    rc = 0;

    proc_path(pt, path, sizeof(path), pid, "exe");
    rc = read_link(path, &p->exe, &trunc);
    if (rc == BN_ENOMEM)
        goto out;
    if (rc == 0) {
        static const char del[] = " (deleted)";
        size_t el = strlen(p->exe);
        if (el >= sizeof(del) - 1 && strcmp(p->exe + el - (sizeof(del) - 1), del) == 0) {
            /* a path can end in " (deleted)" legitimately; it is a real file only if that
             * name is the very inode the process runs */
            struct stat named, running;
            if (stat(p->exe, &named) == 0 && stat(path, &running) == 0 &&
                named.st_dev == running.st_dev && named.st_ino == running.st_ino) {
                /* keep the name as it is */
            } else {
                p->exe[el - (sizeof(del) - 1)] = '\0';
                p->exe_deleted = true;
            }
        }
        if (pt && trunc) {
            pthread_mutex_lock(&pt->mu);
            pt->st.path_truncated++;
            pthread_mutex_unlock(&pt->mu);
        }
        if (pt && pt->opts.hash)
            agent_proctable_sha256(pt, path, p->sha256); /* through /proc: works if deleted */
    }
    rc = 0;

    proc_path(pt, path, sizeof(path), pid, "cwd");
    rc = read_link(path, &p->cwd, &trunc);
    if (rc == BN_ENOMEM)
        goto out;
    rc = 0;

    proc_path(pt, path, sizeof(path), pid, "cgroup");
    if (read_small(path, AGENT_PATH_MAX, &buf, &len, NULL) == 0) {
        /* v2 "0::/path", or one line per v1 hierarchy (hybrid systems have both) */
        p->cgroup = agent_cgroup_pick(buf, p->container_id); /* optional: NULL is fine */
    }
    bn_free(buf);
    buf = NULL;

    tty_name(tty_nr, &p->tty);
    if (pt && p->cmdline_truncated) {
        pthread_mutex_lock(&pt->mu);
        pt->st.cmdline_truncated++;
        pthread_mutex_unlock(&pt->mu);
    }
out:
    bn_free(buf);
    if (rc) {
        if (pt) {
            pthread_mutex_lock(&pt->mu);
            pt->st.proc_read_errors++;
            pthread_mutex_unlock(&pt->mu);
        }
        agent_proc_release(p);
        if (rc == -ENOENT || rc == -ESRCH || rc == BN_EFORMAT)
            rc = -ESRCH;
    }
    return rc;
}

/* ---- the table ---- */

int
agent_proctable_new(struct agent_proctable **out, const struct agent_proctable_opts *opts)
{
    *out = NULL;
    struct agent_proctable *pt = bn_calloc(1, sizeof(*pt));
    if (!pt)
        return BN_ENOMEM;
    if (opts)
        pt->opts = *opts;
    if (!pt->opts.max_entries)
        pt->opts.max_entries = 65536;
    if (!pt->opts.exited_keep_ns)
        pt->opts.exited_keep_ns = 5ll * 1000000000ll;
    if (!pt->opts.exited_max)
        pt->opts.exited_max = 4096;
    if (!pt->opts.hash_max_bytes)
        pt->opts.hash_max_bytes = 256ull << 20;
    if (!pt->opts.hash_cache_slots)
        pt->opts.hash_cache_slots = 4096;
    snprintf(pt->proc_root, sizeof(pt->proc_root), "%s",
             pt->opts.proc_root ? pt->opts.proc_root : "/proc");
    pt->opts.proc_root = NULL;
    pt->hslots = bn_calloc(pt->opts.hash_cache_slots, sizeof(*pt->hslots));
    if (!pt->hslots) {
        bn_free(pt);
        return BN_ENOMEM;
    }
    pthread_mutex_init(&pt->mu, NULL);
    *out = pt;
    return 0;
}

/* Whether s lies in the block of strings behind e. */
static bool
in_entry(const struct pt_entry *e, const char *s)
{
    const char *b = (const char *)(e + 1);
    return (uintptr_t)s >= (uintptr_t)b && (uintptr_t)s < (uintptr_t)b + e->strs_len;
}

/* Frees one of e's strings unless it lies in e's block. */
static void
entry_free_str(const struct pt_entry *e, char *s)
{
    if (s && !in_entry(e, s))
        bn_free(s);
}

/* A zeroed entry holding a copy of p, its strings in the same allocation; NULL when out of
 * memory. */
static struct pt_entry *
entry_new(const struct agent_proc *p)
{
    const char *src[5] = {p->exe, p->cmdline, p->cwd, p->tty, p->cgroup};
    size_t len[5], total = 0;
    for (int i = 0; i < 5; i++) {
        len[i] = src[i] ? strlen(src[i]) + 1 : 0;
        total += len[i];
    }
    struct pt_entry *e = bn_malloc(sizeof(*e) + total);
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->p = *p;
    e->strs_len = total;
    char *at = (char *)(e + 1), **dst[5] = {&e->p.exe, &e->p.cmdline, &e->p.cwd, &e->p.tty,
                                           &e->p.cgroup};
    for (int i = 0; i < 5; i++) {
        *dst[i] = NULL;
        if (len[i]) {
            memcpy(at, src[i], len[i]);
            *dst[i] = at;
            at += len[i];
        }
    }
    return e;
}

static void
entry_free(struct pt_entry *e)
{
    entry_free_str(e, e->p.exe);
    entry_free_str(e, e->p.cmdline);
    entry_free_str(e, e->p.cwd);
    entry_free_str(e, e->p.tty);
    entry_free_str(e, e->p.cgroup);
    bn_free(e);
}

void
agent_proctable_free(struct agent_proctable *pt)
{
    if (!pt)
        return;
    for (size_t b = 0; b < PT_BUCKETS; b++) {
        struct pt_entry *e = pt->buckets[b];
        while (e) {
            struct pt_entry *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&pt->mu);
    bn_free(pt->hslots);
    bn_free(pt);
}

static size_t
bucket_of(pid_t pid)
{
    return ((uint32_t)pid * 2654435761u) & (PT_BUCKETS - 1);
}

/* The entry for (pid, start): the one whose start matches (a live one before an exited one);
 * start 0 = the live one only (an exited process is found by its start time). */
static struct pt_entry *
find(struct agent_proctable *pt, pid_t pid, uint64_t start_ns)
{
    struct pt_entry *best = NULL;
    for (struct pt_entry *e = pt->buckets[bucket_of(pid)]; e; e = e->next) {
        if (e->p.pid != pid)
            continue;
        if (start_ns) {
            if (agent_proc_same_start(e->p.start_ns, start_ns) &&
                (!best || (best->exited && !e->exited)))
                best = e;
        } else if (!e->exited) {
            return e; /* start unknown: only a live process can be meant */
        }
    }
    return best;
}

/* The process pid most likely is the parent of a process seen now: the live one, else the
 * one that exited last (a parent that exits right after forking is the common case; its pid
 * being reused in between is not). */
static struct pt_entry *
find_parent(struct agent_proctable *pt, pid_t pid)
{
    struct pt_entry *best = NULL;
    for (struct pt_entry *e = pt->buckets[bucket_of(pid)]; e; e = e->next) {
        if (e->p.pid != pid)
            continue;
        if (!e->exited)
            return e;
        if (!best || e->exit_ns > best->exit_ns)
            best = e;
    }
    return best;
}

static void
xlist_remove(struct agent_proctable *pt, struct pt_entry *e)
{
    if (e->xprev)
        e->xprev->xnext = e->xnext;
    else if (pt->xhead == e)
        pt->xhead = e->xnext;
    if (e->xnext)
        e->xnext->xprev = e->xprev;
    else if (pt->xtail == e)
        pt->xtail = e->xprev;
    e->xprev = e->xnext = NULL;
    pt->nx--;
}

static void
xlist_append(struct agent_proctable *pt, struct pt_entry *e, int64_t now_ns)
{
    e->exit_ns = now_ns;
    e->xprev = pt->xtail;
    e->xnext = NULL;
    if (pt->xtail)
        pt->xtail->xnext = e;
    else
        pt->xhead = e;
    pt->xtail = e;
    pt->nx++;
}

static void
mark_exited(struct agent_proctable *pt, struct pt_entry *e, int64_t now_ns)
{
    if (e->exited)
        return;
    e->exited = true;
    xlist_append(pt, e, now_ns);
    pt->st.exited++;
}

/*
 * An entry leaves the table: its parent has one child less, and a parked (exited) parent
 * with no child left goes back on the expiry list for exited_keep_ns.
 */
static void
drop_child_ref(struct agent_proctable *pt, const struct pt_entry *e, int64_t now_ns)
{
    if (!e->p.ppid || !e->parent_start_ns)
        return;
    for (struct pt_entry *c = pt->buckets[bucket_of(e->p.ppid)]; c; c = c->next) {
        if (c->p.pid != e->p.ppid || c->p.start_ns != e->parent_start_ns || !c->children)
            continue;
        if (--c->children == 0 && c->parked) {
            c->parked = false;
            xlist_append(pt, c, now_ns);
        }
        return;
    }
}

static void
unlink_entry(struct agent_proctable *pt, struct pt_entry *e, int64_t now_ns)
{
    struct pt_entry **pp = &pt->buckets[bucket_of(e->p.pid)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    if (e->exited) {
        if (!e->parked)
            xlist_remove(pt, e);
        pt->st.exited--;
    }
    drop_child_ref(pt, e, now_ns);
    pt->count--;
    entry_free(e);
}

static int64_t
now_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Fills fields of e that src has and e lacks or that changed (exec replaces image). */
static int
merge(struct pt_entry *e, const struct agent_proc *src)
{
    struct agent_proc tmp, *dst = &e->p;
    if (agent_proc_copy(&tmp, src))
        return BN_ENOMEM;
#define TAKE(f)                                                                                    \
    do {                                                                                       \
        if (tmp.f) {                                                                           \
            entry_free_str(e, dst->f);                                                         \
            dst->f = tmp.f;                                                                    \
            tmp.f = NULL;                                                                      \
        }                                                                                      \
    } while (0)
    TAKE(exe);
    TAKE(cmdline);
    TAKE(cwd);
    TAKE(tty);
    TAKE(cgroup);
#undef TAKE
    if (src->exe || src->cmdline) {
        dst->cmdline_truncated = src->cmdline_truncated;
        dst->exe_deleted = src->exe_deleted;
    }
    if (src->comm[0])
        memcpy(dst->comm, src->comm, sizeof(dst->comm));
    if (src->sha256[0])
        memcpy(dst->sha256, src->sha256, sizeof(dst->sha256));
    if (src->container_id[0])
        memcpy(dst->container_id, src->container_id, sizeof(dst->container_id));
    else if (!dst->container_id[0] && dst->cgroup)
        agent_container_id_from_cgroup(dst->cgroup, dst->container_id); /* a collector's */
    if (src->ppid)
        dst->ppid = src->ppid;
    if (!dst->start_ns)
        dst->start_ns = src->start_ns;
    dst->uid = src->uid;
    dst->euid = src->euid;
    dst->gid = src->gid;
    dst->egid = src->egid;
    dst->loginuid = src->loginuid;
    dst->sessionid = src->sessionid;
    agent_proc_release(&tmp);
    return 0;
}

/* Makes room for one entry: expired first, then the oldest exited, then refuses. */
static bool
make_room(struct agent_proctable *pt)
{
    if (pt->count < pt->opts.max_entries)
        return true;
    if (pt->xhead) {
        unlink_entry(pt, pt->xhead, now_wall_ns());
        pt->st.evicted++;
        return true;
    }
    pt->st.evicted++;
    return false;
}

/* Called with the lock held. */
static int
update_locked(struct agent_proctable *pt, const struct agent_proc *p)
{
    struct pt_entry *e = NULL;
    for (struct pt_entry *c = pt->buckets[bucket_of(p->pid)]; c; c = c->next) {
        if (c->p.pid != p->pid)
            continue;
        if (agent_proc_same_start(c->p.start_ns, p->start_ns) && !c->exited) {
            e = c;
            break;
        }
    }
    if (e)
        return merge(e, p);
    /* a live entry with another start time: that process is gone, the pid was reused */
    for (struct pt_entry *c = pt->buckets[bucket_of(p->pid)]; c; c = c->next) {
        if (c->p.pid == p->pid && !c->exited) {
            mark_exited(pt, c, now_wall_ns());
            pt->st.reused++;
        }
    }
    if (!make_room(pt))
        return BN_ETOOBIG;
    e = entry_new(p);
    if (!e)
        return BN_ENOMEM;
    struct pt_entry *parent = p->ppid ? find_parent(pt, p->ppid) : NULL;
    e->parent_start_ns = parent ? parent->p.start_ns : 0;
    if (parent)
        parent->children++;
    size_t b = bucket_of(p->pid);
    e->next = pt->buckets[b];
    pt->buckets[b] = e;
    pt->count++;
    pt->st.inserts++;
    return 0;
}

int
agent_proctable_update(struct agent_proctable *pt, const struct agent_proc *p)
{
    pthread_mutex_lock(&pt->mu);
    int rc = update_locked(pt, p);
    pthread_mutex_unlock(&pt->mu);
    return rc;
}

/* Reads a process from /proc into the table, its parent first when that is unknown, so
 * the entry's parent link names the right generation. depth bounds the recursion. */
static int
load_from_proc(struct agent_proctable *pt, pid_t pid, int depth)
{
    struct agent_proc p;
    int rc = agent_proc_read(pt, pid, &p);
    if (rc)
        return rc;
    if (depth < 64 && p.ppid > 0 && p.ppid != pid) {
        pthread_mutex_lock(&pt->mu);
        bool known = find(pt, p.ppid, 0) != NULL;
        pthread_mutex_unlock(&pt->mu);
        if (!known)
            load_from_proc(pt, p.ppid, depth + 1); /* the parent may be gone: fine */
    }
    pthread_mutex_lock(&pt->mu);
    rc = update_locked(pt, &p);
    pthread_mutex_unlock(&pt->mu);
    agent_proc_release(&p);
    return rc;
}

/*
 * Copies (whole) or fills in (fields) dst from the entry of (pid, start_ns), under the lock;
 * a process not in the table is read from /proc once and looked up again.
 */
static int
lookup(struct agent_proctable *pt, pid_t pid, uint64_t start_ns, struct agent_proc *dst,
       bool whole, unsigned fields)
{
    if (pid <= 0)
        return BN_ENOTFOUND;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&pt->mu);
        struct pt_entry *e = find(pt, pid, start_ns);
        int rc = BN_ENOTFOUND;
        if (e)
            rc = whole ? agent_proc_copy(dst, &e->p) : agent_proc_fill(dst, &e->p, fields);
        pthread_mutex_unlock(&pt->mu);
        if (rc != BN_ENOTFOUND || attempt)
            return rc;
        rc = load_from_proc(pt, pid, 0);
        if (rc == BN_ENOMEM)
            return rc;
        if (rc)
            return BN_ENOTFOUND;
    }
    return BN_ENOTFOUND;
}

int
agent_proctable_get(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                    struct agent_proc *out)
{
    memset(out, 0, sizeof(*out));
    return lookup(pt, pid, start_ns, out, true, 0);
}

int
agent_proc_fill(struct agent_proc *dst, const struct agent_proc *src, unsigned fields)
{
#define FILL(bit, f)                                                                               \
    do {                                                                                       \
        if ((fields & (bit)) && !dst->f && src->f && dup_field(&dst->f, src->f))               \
            return BN_ENOMEM;                                                                  \
    } while (0)
    FILL(AGENT_PF_EXE, exe);
    FILL(AGENT_PF_CMDLINE, cmdline);
    FILL(AGENT_PF_CWD, cwd);
    FILL(AGENT_PF_TTY, tty);
    FILL(AGENT_PF_CGROUP, cgroup);
#undef FILL
    if (!dst->comm[0])
        memcpy(dst->comm, src->comm, sizeof(dst->comm));
    if (!dst->sha256[0])
        memcpy(dst->sha256, src->sha256, sizeof(dst->sha256));
    if (!dst->container_id[0])
        memcpy(dst->container_id, src->container_id, sizeof(dst->container_id));
    if (!dst->container_id[0] && dst->cgroup)
        agent_container_id_from_cgroup(dst->cgroup, dst->container_id);
    if (!dst->ppid)
        dst->ppid = src->ppid;
    if (!dst->start_ns)
        dst->start_ns = src->start_ns;
    if (!dst->cmdline_truncated)
        dst->cmdline_truncated = src->cmdline_truncated;
    if (!dst->exe_deleted)
        dst->exe_deleted = src->exe_deleted;
    if (!dst->uid && !dst->euid && !dst->gid) {
        dst->uid = src->uid;
        dst->euid = src->euid;
        dst->gid = src->gid;
        dst->egid = src->egid;
        dst->loginuid = src->loginuid;
        dst->sessionid = src->sessionid;
    }
    return 0;
}

int
agent_proctable_fill(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                     struct agent_proc *dst, unsigned fields)
{
    return lookup(pt, pid, start_ns, dst, false, fields);
}

static void expire_locked(struct agent_proctable *pt, int64_t now_ns);

void
agent_proctable_exit(struct agent_proctable *pt, pid_t pid, uint64_t start_ns, int64_t now_ns)
{
    pthread_mutex_lock(&pt->mu);
    for (struct pt_entry *e = pt->buckets[bucket_of(pid)]; e; e = e->next)
        if (e->p.pid == pid && !e->exited && agent_proc_same_start(e->p.start_ns, start_ns))
            mark_exited(pt, e, now_ns);
    if (pt->nx > pt->opts.exited_max)
        expire_locked(pt, now_ns);
    pthread_mutex_unlock(&pt->mu);
}

size_t
agent_proctable_sweep(struct agent_proctable *pt, int64_t now_ns)
{
    size_t n = 0;
    pthread_mutex_lock(&pt->mu);
    for (size_t b = 0; b < PT_BUCKETS; b++)
        for (struct pt_entry *e = pt->buckets[b]; e; e = e->next)
            if (!e->exited && e->p.pid > 0 && kill(e->p.pid, 0) != 0 && errno == ESRCH) {
                mark_exited(pt, e, now_ns);
                n++;
            }
    pt->st.swept += n;
    if (pt->nx > pt->opts.exited_max)
        expire_locked(pt, now_ns);
    pthread_mutex_unlock(&pt->mu);
    return n;
}

/*
 * Ends exited entries from the head of the exited list (oldest first) while they are older
 * than exited_keep_ns or, beyond exited_max of them, whatever their age (evicted). An entry
 * with descendants in the table is parked instead: kept while they last.
 */
static void
expire_locked(struct agent_proctable *pt, int64_t now_ns)
{
    while (pt->xhead) {
        struct pt_entry *e = pt->xhead;
        bool old = now_ns - e->exit_ns > pt->opts.exited_keep_ns;
        if (!old && pt->nx <= pt->opts.exited_max)
            break;
        if (e->children) {
            /* still an ancestor of something in the table: kept while that lasts */
            xlist_remove(pt, e);
            e->parked = true;
            continue;
        }
        unlink_entry(pt, e, now_ns);
        if (old)
            pt->st.expired++;
        else
            pt->st.evicted++;
    }
}

void
agent_proctable_expire(struct agent_proctable *pt, int64_t now_ns)
{
    pthread_mutex_lock(&pt->mu);
    expire_locked(pt, now_ns);
    pthread_mutex_unlock(&pt->mu);
}

/*
 * Looks (pid, start_ns) up first, so that it and its live ancestors are known, then, under the
 * lock, passes its ancestors, nearest first, to visit until max of them or visit returns
 * nonzero. *k = ancestors visited. BN_ENOMEM when the lookup or visit ran out of memory.
 */
static int
walk_ancestors(struct agent_proctable *pt, pid_t pid, uint64_t start_ns, size_t max,
               int (*visit)(void *ctx, size_t i, const struct agent_proc *p), void *ctx, size_t *k)
{
    *k = 0;
    struct agent_proc self;
    int rc = agent_proctable_get(pt, pid, start_ns, &self);
    agent_proc_release(&self);
    if (rc == BN_ENOMEM)
        return rc;
    rc = 0;
    pthread_mutex_lock(&pt->mu);
    struct pt_entry *e = find(pt, pid, start_ns);
    while (e && *k < max && e->p.ppid > 0 && e->p.pid != 1) {
        struct pt_entry *par = find(pt, e->p.ppid, e->parent_start_ns);
        if (!par || par == e)
            break;
        rc = visit(ctx, *k, &par->p);
        if (rc)
            break;
        (*k)++;
        e = par;
    }
    pthread_mutex_unlock(&pt->mu);
    return rc;
}

struct each_ctx {
    agent_ancestor_cb cb;
    void *ctx;
};

static int
visit_each(void *ctx, size_t i, const struct agent_proc *p)
{
    struct each_ctx *x = ctx;
    x->cb(x->ctx, i, p);
    return 0;
}

size_t
agent_proctable_ancestry_each(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                              size_t max, agent_ancestor_cb cb, void *ctx)
{
    if (max == 0)
        return 0;
    struct each_ctx x = {cb, ctx};
    size_t k;
    walk_ancestors(pt, pid, start_ns, max, visit_each, &x, &k);
    return k;
}

static int
visit_copy(void *ctx, size_t i, const struct agent_proc *p)
{
    struct agent_proc *chain = ctx;
    return agent_proc_copy(&chain[i], p) ? BN_ENOMEM : 0;
}

int
agent_proctable_ancestry(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                         struct agent_proc *chain, size_t max, size_t *n)
{
    *n = 0;
    if (max == 0)
        return 0;
    memset(chain, 0, max * sizeof(*chain));
    size_t k;
    int rc = walk_ancestors(pt, pid, start_ns, max, visit_copy, chain, &k);
    if (rc == BN_ENOMEM) {
        for (size_t i = 0; i < k; i++)
            agent_proc_release(&chain[i]);
        return rc;
    }
    *n = k;
    return 0;
}

/* ---- SHA-256 cache ---- */

static int
sha256_fd(int fd, uint64_t max, char hex[65])
{
    int rc = BN_EINTERNAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = bn_malloc(PT_HASH_CHUNK);
    uint64_t total = 0;
    if (!ctx || !buf) {
        rc = BN_ENOMEM;
        goto out;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    for (;;) {
        ssize_t r = read(fd, buf, PT_HASH_CHUNK);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        total += (uint64_t)r;
        if (total > max) {
            rc = BN_ETOOBIG;
            goto out;
        }
        if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
            goto out;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        goto out;
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    bn_free(buf);
    return rc;
}

static void
count_hash_error(struct agent_proctable *pt)
{
    pthread_mutex_lock(&pt->mu);
    pt->st.hash_errors++;
    pthread_mutex_unlock(&pt->mu);
}

static int64_t
mtime_of(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000ll + sb->st_mtim.tv_nsec;
}

static struct pt_hash_slot *
hash_slot_of(struct agent_proctable *pt, uint64_t dev, uint64_t ino, int64_t mtime)
{
    uint64_t key = (dev * 0x9e3779b97f4a7c15ull) ^ (ino * 0xc2b2ae3d27d4eb4full) ^
                   (uint64_t)mtime;
    return &pt->hslots[key % pt->opts.hash_cache_slots];
}

static struct pt_hash_slot *
hash_slot(struct agent_proctable *pt, const struct stat *sb)
{
    return hash_slot_of(pt, (uint64_t)sb->st_dev, (uint64_t)sb->st_ino, mtime_of(sb));
}

static bool
slot_matches(const struct pt_hash_slot *slot, const struct stat *sb)
{
    return slot->used && slot->dev == sb->st_dev && slot->ino == sb->st_ino &&
           slot->size == sb->st_size && slot->mtime_ns == mtime_of(sb);
}

static bool
slot_matches_id(const struct pt_hash_slot *slot, const struct agent_file_id *id)
{
    return slot->used && (uint64_t)slot->dev == id->dev && (uint64_t)slot->ino == id->ino &&
           (uint64_t)slot->size == id->size && slot->mtime_ns == id->mtime_ns;
}

/* agent_proctable_sha256; *seen is the file as read (st_ino 0 when nothing was read). */
static int
sha256_path(struct agent_proctable *pt, const char *path, char hex[65], struct stat *seen)
{
    hex[0] = '\0';
    memset(seen, 0, sizeof(*seen));
    /* a cache hit costs one stat() (it follows /proc/<pid>/exe to the executable) */
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = -errno;
        count_hash_error(pt);
        return e;
    }
    if (!S_ISREG(sb.st_mode)) {
        count_hash_error(pt);
        return BN_EINVAL;
    }
    pthread_mutex_lock(&pt->mu);
    struct pt_hash_slot *slot = hash_slot(pt, &sb);
    if (slot_matches(slot, &sb)) {
        int err = slot->err;
        memcpy(hex, slot->hex, 65);
        if (err) {
            pt->st.hash_errors++;
            pt->st.hash_errors_cached++;
        } else {
            pt->st.hash_hits++;
        }
        pthread_mutex_unlock(&pt->mu);
        *seen = sb;
        return err;
    }
    pt->st.hash_misses++;
    pthread_mutex_unlock(&pt->mu);

    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = -errno;
        count_hash_error(pt);
        return e;
    }
    int rc;
    /* the file read is the one to key the result by (it may have changed since stat) */
    bool known = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    if (!known)
        rc = BN_EINVAL;
    else if ((uint64_t)sb.st_size > pt->opts.hash_max_bytes)
        rc = BN_ETOOBIG;
    else
        rc = sha256_fd(fd, pt->opts.hash_max_bytes, hex);
    close(fd);
    pthread_mutex_lock(&pt->mu);
    if (rc != 0) {
        hex[0] = '\0';
        pt->st.hash_errors++;
    }
    /* A failure of this very version of the file (over the size limit, a read error) is
     * remembered like a digest: the next exec of it costs a stat, not another read. (Not
     * an open that failed: the process may just have gone.) */
    if (known && rc != BN_ENOMEM) {
        slot = hash_slot(pt, &sb);
        slot->used = true;
        slot->err = rc;
        slot->dev = sb.st_dev;
        slot->ino = sb.st_ino;
        slot->size = sb.st_size;
        slot->mtime_ns = mtime_of(&sb);
        memcpy(slot->hex, hex, 65);
        *seen = sb;
    }
    pthread_mutex_unlock(&pt->mu);
    return rc;
}

int
agent_proctable_sha256(struct agent_proctable *pt, const char *path, char hex[65])
{
    struct stat seen;
    return sha256_path(pt, path, hex, &seen);
}

int
agent_proctable_sha256_id(struct agent_proctable *pt, const struct agent_file_id *id,
                          const char *path, char hex[65])
{
    if (id && id->valid) {
        pthread_mutex_lock(&pt->mu);
        struct pt_hash_slot *slot = hash_slot_of(pt, id->dev, id->ino, id->mtime_ns);
        if (slot_matches_id(slot, id)) {
            int err = slot->err;
            memcpy(hex, slot->hex, 65);
            if (err) {
                pt->st.hash_errors++;
                pt->st.hash_errors_cached++;
            } else {
                pt->st.hash_hits++;
            }
            pthread_mutex_unlock(&pt->mu);
            return err;
        }
        pthread_mutex_unlock(&pt->mu);
    }
    struct stat seen;
    int rc = sha256_path(pt, path, hex, &seen);
    /* seen.st_ino is 0 unless the file was read (or its failure is remembered) */
    if (seen.st_ino && id && id->valid && (uint64_t)seen.st_size == id->size &&
        mtime_of(&seen) == id->mtime_ns &&
        ((uint64_t)seen.st_dev != id->dev || (uint64_t)seen.st_ino != id->ino)) {
        /* the same version of the file under the kernel's name for it */
        pthread_mutex_lock(&pt->mu);
        struct pt_hash_slot *slot = hash_slot_of(pt, id->dev, id->ino, id->mtime_ns);
        slot->used = true;
        slot->err = rc;
        slot->dev = (dev_t)id->dev;
        slot->ino = (ino_t)id->ino;
        slot->size = (off_t)id->size;
        slot->mtime_ns = id->mtime_ns;
        memcpy(slot->hex, hex, 65);
        pthread_mutex_unlock(&pt->mu);
    }
    return rc;
}

void
agent_proctable_stats(struct agent_proctable *pt, struct agent_proctable_stats *st)
{
    pthread_mutex_lock(&pt->mu);
    *st = pt->st;
    st->entries = pt->count;
    pthread_mutex_unlock(&pt->mu);
}
