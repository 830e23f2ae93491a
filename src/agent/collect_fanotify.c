/*
 * collect_fanotify.c - tier 2 file telemetry with fanotify (also used next to tier 1
 * when the eBPF file programs cannot load).
 *
 * One fanotify group in FID mode (FAN_REPORT_DFID_NAME) with a FILESYSTEM mark on the
 * filesystem of every included path: create, delete, rename (FAN_RENAME, or
 * FAN_MOVED_FROM/TO on kernels without it), attribute change and close-after-write,
 * with the acting pid from the event metadata. Directory handles are resolved to paths
 * with open_by_handle_at; a small cache resolves directories that were removed before
 * we read their events (rm -rf). Paths outside the include prefixes or inside the
 * exclude prefixes are dropped here, since a filesystem mark sees the whole filesystem.
 *
 * NOTIFICATION marks only: a permission mark makes every open or exec on the machine
 * wait for this process, so this file never asks for one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"
#include "agent/worker.h"
#include "agent/persist.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

#define FAN_FSES_MAX 16          /* distinct filesystems marked */
#define FAN_DIRCACHE 1024        /* remembered directory handles (power of two) */
#define FAN_HANDLE_MAX 128       /* bytes of a file handle we keep */

/* Notification events only; see the file comment. */
#define FAN_EVENTS_BASE (FAN_CREATE | FAN_DELETE | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_ONDIR)

const struct agent_fanotify_conf agent_fanotify_default_conf = {
    .include = {"/etc", "/root", "/home", "/var/spool/cron", "/var/spool/at", "/usr/bin",
                "/usr/sbin", "/usr/local", "/usr/lib/systemd", "/lib/systemd", "/usr/lib/modules",
                "/lib/modules", "/tmp", "/var/tmp", "/dev/shm", "/opt", "/srv", "/boot",
                "/var/www"},
    .ninclude = 19,
    .exclude = {"/etc/ld.so.cache"},
    .nexclude = 1,
    .ignore_self = true,
};

struct fs_mark {
    fsid_t fsid;
    int mount_fd;
    char path[AGENT_PATH_MAX];
};

struct dir_slot {
    uint64_t gen;                /* valid while equal to the state's dir_gen */
    uint32_t hash;
    uint32_t len;
    unsigned char handle[FAN_HANDLE_MAX];
    char *path;
};

struct fan_state {
    struct agent *agent;
    int fd;
    struct agent_worker w;     /* reader thread and its stop eventfd */
    bool have_rename;            /* FAN_RENAME accepted by the kernel */
    pid_t self;
    struct fs_mark fses[FAN_FSES_MAX];
    size_t nfses;
    char *include[AGENT_FANOTIFY_PATHS_MAX];
    size_t ninclude;
    char *exclude[AGENT_FANOTIFY_PATHS_MAX];
    size_t nexclude;
    bool ignore_self;
    struct dir_slot dirs[FAN_DIRCACHE];
    uint64_t dir_gen;            /* bumped when any directory is renamed or deleted */
    atomic_uint_fast64_t events, emitted, filtered, overflows, unresolved, truncated,
        emit_errors;
};

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool
has_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 1 && prefix[n - 1] == '/')
        n--;
    if (n == 1 && prefix[0] == '/')
        return path[0] == '/';
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool
wanted(const struct fan_state *s, const char *path)
{
    bool in = s->ninclude == 0;
    for (size_t i = 0; !in && i < s->ninclude; i++)
        in = has_prefix(path, s->include[i]);
    if (!in)
        return false;
    for (size_t i = 0; i < s->nexclude; i++)
        if (has_prefix(path, s->exclude[i]))
            return false;
    return true;
}

static uint32_t
hash_bytes(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void
dir_remember(struct fan_state *s, const unsigned char *h, size_t n, const char *path)
{
    if (n > FAN_HANDLE_MAX)
        return;
    uint32_t hv = hash_bytes(h, n);
    struct dir_slot *d = &s->dirs[hv & (FAN_DIRCACHE - 1)];
    if (d->path && d->hash == hv && d->len == n && memcmp(d->handle, h, n) == 0 &&
        strcmp(d->path, path) == 0) {
        d->gen = s->dir_gen;
        return;
    }
    char *copy = bn_strdup(path);
    if (!copy)
        return;
    bn_free(d->path);
    d->path = copy;
    d->hash = hv;
    d->len = (uint32_t)n;
    d->gen = s->dir_gen;
    memcpy(d->handle, h, n);
}

/* The remembered path of a directory handle; fresh_only: only if no directory has been
 * renamed or deleted since it was resolved. */
static const char *
dir_recall(struct fan_state *s, const unsigned char *h, size_t n, bool fresh_only)
{
    if (n > FAN_HANDLE_MAX)
        return NULL;
    uint32_t hv = hash_bytes(h, n);
    struct dir_slot *d = &s->dirs[hv & (FAN_DIRCACHE - 1)];
    if (d->path && d->hash == hv && d->len == n && memcmp(d->handle, h, n) == 0 &&
        (!fresh_only || d->gen == s->dir_gen))
        return d->path;
    return NULL;
}

/*
 * Resolves a DFID_NAME info record into "dir/name" in out. Returns 0, or -1 when the
 * directory cannot be found (then out holds just the name).
 */
static int
resolve(struct fan_state *s, const struct fanotify_event_info_fid *fid, size_t reclen,
        char *out, size_t size, bool *truncated)
{
    const struct file_handle *fh = (const struct file_handle *)fid->handle;
    size_t hdr = sizeof(*fid) + sizeof(struct file_handle);
    char dir[PATH_MAX + 1];
    const char *dirp = NULL;
    int rc = -1;

    out[0] = '\0';
    *truncated = false;
    if (reclen < hdr || fh->handle_bytes > reclen - hdr)
        return -1;
    size_t hlen = sizeof(struct file_handle) + fh->handle_bytes;
    const char *name = (const char *)fh->f_handle + fh->handle_bytes;
    size_t maxname = reclen - hdr - fh->handle_bytes;
    size_t nlen = strnlen(name, maxname);
    if (nlen == maxname)
        nlen = 0; /* no NUL inside the record: no name */

    /* fast path: resolved before, and no directory moved since (events are in order, so
     * a path cached before a rename is the right one for the events before it) */
    dirp = dir_recall(s, (const unsigned char *)fh, hlen, true);
    int mfd = -1;
    for (size_t i = 0; !dirp && i < s->nfses; i++)
        if (memcmp(&s->fses[i].fsid, &fid->fsid, sizeof(fsid_t)) == 0)
            mfd = s->fses[i].mount_fd;
    if (!dirp && mfd >= 0) {
        /* open_by_handle_at wants a writable handle copy */
        union {
            struct file_handle fh;
            unsigned char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
        } copy;
        if (fh->handle_bytes <= MAX_HANDLE_SZ) {
            memcpy(copy.buf, fh, hlen);
            int dfd = open_by_handle_at(mfd, &copy.fh, O_PATH | O_CLOEXEC);
            if (dfd >= 0) {
                char link[64];
                snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
                ssize_t n = readlink(link, dir, sizeof(dir) - 1);
                close(dfd);
                if (n > 0) {
                    dir[n] = '\0';
                    /* a directory deleted since: "/x/y (deleted)" */
                    if (n > 10 && strcmp(dir + n - 10, " (deleted)") == 0)
                        dir[n - 10] = '\0';
                    dirp = dir;
                    dir_remember(s, (const unsigned char *)fh, hlen, dir);
                }
            }
        }
    }
    if (!dirp)
        dirp = dir_recall(s, (const unsigned char *)fh, hlen, false);
    int w;
    if (dirp) {
        bool root = strcmp(dirp, "/") == 0;
        if (nlen == 0 || (nlen == 1 && name[0] == '.'))
            w = snprintf(out, size, "%s", dirp);
        else
            w = snprintf(out, size, "%s%s%.*s", dirp, root ? "" : "/", (int)nlen, name);
        rc = 0;
    } else {
        w = snprintf(out, size, "%.*s", (int)nlen, name);
    }
    if (w < 0 || (size_t)w >= size)
        *truncated = true;
    return rc;
}

static void
emit_file(struct fan_state *s, enum agent_kind kind, pid_t pid, const char *path,
          const char *path2, bool truncated)
{
    struct agent_event ev;
    struct stat st;

    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.prio = AGENT_PRIO_BULK;
    ev.tier = AGENT_TIER_NETLINK;
    ev.ts_ns = now_ns();
    ev.proc.pid = pid;
    ev.proc.loginuid = (uid_t)-1;
    ev.path = (char *)path;
    ev.path2 = (char *)path2;
    if (kind == AGENT_EV_FILE_ATTR && lstat(path, &st) == 0) {
        ev.mode = st.st_mode & 07777;
        ev.new_uid = st.st_uid;
        ev.new_gid = st.st_gid;
    }
    if (truncated) {
        ev.extra_keys[ev.nextra] = "path_truncated";
        ev.extra_vals[ev.nextra++] = "true";
        atomic_fetch_add(&s->truncated, 1);
    }
    agent_persist_tag(&ev);
    atomic_fetch_add(&s->emitted, 1);
    if (agent_emit(s->agent, &ev) < 0)
        atomic_fetch_add(&s->emit_errors, 1);
}

static void
emit_overflow(struct fan_state *s)
{
    agent_collector_lost(s->agent, AGENT_TIER_NETLINK, "fanotify", "events lost: fanotify queue overflow", "overflows",
                         (uint64_t)atomic_load(&s->overflows));
}

static void handle_event_paths(struct fan_state *s, const struct fanotify_event_metadata *m);

static void
handle_event(struct fan_state *s, const struct fanotify_event_metadata *m)
{
    handle_event_paths(s, m);
    if ((m->mask & FAN_ONDIR) &&
        (m->mask & (FAN_RENAME | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_DELETE)))
        s->dir_gen++;
}

static void
handle_event_paths(struct fan_state *s, const struct fanotify_event_metadata *m)
{
    char path[AGENT_PATH_MAX], path2[AGENT_PATH_MAX];
    bool have1 = false, have2 = false, t1 = false, t2 = false, ok1 = false, ok2 = false;

    atomic_fetch_add(&s->events, 1);
    if (m->mask & FAN_Q_OVERFLOW) {
        atomic_fetch_add(&s->overflows, 1);
        emit_overflow(s);
        return;
    }
    if (s->ignore_self && m->pid == s->self)
        return;
    /* info records after the metadata */
    size_t off = m->metadata_len;
    while (off + sizeof(struct fanotify_event_info_header) <= m->event_len) {
        const struct fanotify_event_info_header *h =
            (const struct fanotify_event_info_header *)((const char *)m + off);
        if (h->len < sizeof(*h) || off + h->len > m->event_len)
            break;
        const struct fanotify_event_info_fid *fid = (const struct fanotify_event_info_fid *)h;
        if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
            h->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME) {
            ok1 = resolve(s, fid, h->len, path, sizeof(path), &t1) == 0;
            have1 = true;
        } else if (h->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME) {
            ok2 = resolve(s, fid, h->len, path2, sizeof(path2), &t2) == 0;
            have2 = true;
        }
        off += h->len;
    }
    if (!have1 && !have2)
        return;
    if ((have1 && !ok1) || (have2 && !ok2)) {
        atomic_fetch_add(&s->unresolved, 1);
        return; /* no directory: cannot say whether it is wanted */
    }
    bool w1 = have1 && wanted(s, path), w2 = have2 && wanted(s, path2);
    if (!w1 && !w2) {
        atomic_fetch_add(&s->filtered, 1);
        return;
    }
    pid_t pid = m->pid > 0 ? m->pid : 0;
    if (m->mask & FAN_RENAME) {
        emit_file(s, AGENT_EV_FILE_RENAME, pid, have1 ? path : NULL, have2 ? path2 : NULL,
                  t1 || t2);
        return;
    }
    if (!have1)
        return;
    if (m->mask & FAN_CREATE)
        emit_file(s, AGENT_EV_FILE_CREATE, pid, path, NULL, t1);
    if (m->mask & FAN_MOVED_FROM)
        emit_file(s, AGENT_EV_FILE_RENAME, pid, path, NULL, t1);
    if (m->mask & FAN_MOVED_TO)
        emit_file(s, AGENT_EV_FILE_RENAME, pid, NULL, path, t1);
    if (m->mask & FAN_ATTRIB)
        emit_file(s, AGENT_EV_FILE_ATTR, pid, path, NULL, t1);
    if (m->mask & FAN_CLOSE_WRITE)
        emit_file(s, AGENT_EV_FILE_WRITE, pid, path, NULL, t1);
    if (m->mask & FAN_DELETE)
        emit_file(s, AGENT_EV_FILE_DELETE, pid, path, NULL, t1);
}

static void *
fan_thread(void *arg)
{
    struct fan_state *s = arg;
    static _Thread_local char buf[65536];
    static _Thread_local char one[8192] __attribute__((aligned(8)));

    while (agent_worker_wait(&s->w, s->fd)) {
        ssize_t n = read(s->fd, buf, sizeof(buf));
        if (n <= 0)
            continue;
        /* FID events carry names, so they are only 4-byte aligned in the buffer: each is
         * copied into an aligned one before its fields are read */
        size_t off = 0;
        while (off + FAN_EVENT_METADATA_LEN <= (size_t)n) {
            struct fanotify_event_metadata md;
            memcpy(&md, buf + off, sizeof(md));
            if (md.event_len < FAN_EVENT_METADATA_LEN || md.event_len > (size_t)n - off ||
                md.vers != FANOTIFY_METADATA_VERSION)
                break;
            if (md.event_len <= sizeof(one)) {
                memcpy(one, buf + off, md.event_len);
                handle_event(s, (const struct fanotify_event_metadata *)one);
            }
            /* FID mode reports no fd, but be safe */
            if (md.fd >= 0)
                close(md.fd);
            off += md.event_len;
        }
    }
    return NULL;
}

static int
fan_init(int *out, struct bn_diag *d)
{
    *out = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                         O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (*out < 0) {
        int e = errno;
        return bn_diag_set(d, -e, "fanotify", 0, 0, "fanotify: init in FID mode failed: %s%s",
                           strerror(e),
                           e == EPERM  ? " (needs CAP_SYS_ADMIN)"
                           : e == EINVAL ? " (kernel without FAN_REPORT_DFID_NAME, < 5.9)"
                                         : "");
    }
    return 0;
}

static int
fan_probe(struct agent *a, struct bn_diag *d)
{
    int fd, rc;
    (void)a;
    rc = fan_init(&fd, d);
    if (rc < 0)
        return rc;
    /* a filesystem mark is what we need; try it on /etc */
    if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_EVENTS_BASE, AT_FDCWD,
                      "/etc") < 0) {
        int e = errno;
        rc = bn_diag_set(d, -e, "fanotify", 0, 0,
                         "fanotify: filesystem mark on /etc failed: %s%s", strerror(e),
                         e == ENODEV || e == EXDEV || e == EOPNOTSUPP
                             ? " (filesystem without file handles, e.g. overlayfs)"
                             : "");
    }
    close(fd);
    return rc;
}

static void fan_stop(struct agent *a, void *state);

static int
add_mark(struct fan_state *s, const char *path, struct bn_diag *d)
{
    struct statfs sf;
    if (statfs(path, &sf) < 0)
        return 0; /* not there (yet): nothing to watch */
    for (size_t i = 0; i < s->nfses; i++)
        if (memcmp(&s->fses[i].fsid, &sf.f_fsid, sizeof(fsid_t)) == 0)
            return 0;
    if (s->nfses >= FAN_FSES_MAX)
        return bn_diag_set(d, BN_ETOOBIG, "fanotify", 0, 0,
                           "fanotify: more than %d filesystems to watch", FAN_FSES_MAX);
    uint64_t mask = FAN_EVENTS_BASE | (s->have_rename ? FAN_RENAME : FAN_MOVED_FROM | FAN_MOVED_TO);
    if (fanotify_mark(s->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, path) < 0) {
        if (errno == EINVAL && s->have_rename) {
            /* kernel before 5.17: no FAN_RENAME */
            s->have_rename = false;
            return add_mark(s, path, d);
        }
        int e = errno;
        return bn_diag_set(d, -e, "fanotify", 0, 0, "fanotify: mark on '%s' failed: %s", path,
                           strerror(e));
    }
    struct fs_mark *f = &s->fses[s->nfses];
    f->mount_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->mount_fd < 0)
        f->mount_fd = open(path, O_PATH | O_CLOEXEC);
    if (f->mount_fd < 0)
        return bn_diag_set(d, -errno, "fanotify", 0, 0, "fanotify: cannot open '%s': %s", path,
                           strerror(errno));
    f->fsid = sf.f_fsid;
    snprintf(f->path, sizeof(f->path), "%s", path);
    s->nfses++;
    return 0;
}

int
agent_fanotify_start_conf(struct agent *a, const struct agent_fanotify_conf *conf, void **state,
                          struct bn_diag *d)
{
    struct fan_state *s;
    int rc;

    *state = NULL;
    if (!conf)
        conf = &agent_fanotify_default_conf;
    s = bn_calloc(1, sizeof(*s));
    if (!s)
        return bn_diag_set(d, BN_ENOMEM, "fanotify", 0, 0, "out of memory");
    s->agent = a;
    s->fd = -1;
    agent_worker_init(&s->w);
    s->self = getpid();
    s->have_rename = true;
    s->ignore_self = conf->ignore_self;
    for (size_t i = 0; i < conf->ninclude && i < AGENT_FANOTIFY_PATHS_MAX; i++) {
        if (!conf->include[i])
            continue;
        if (!(s->include[s->ninclude++] = bn_strdup(conf->include[i]))) {
            rc = bn_diag_set(d, BN_ENOMEM, "fanotify", 0, 0, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < conf->nexclude && i < AGENT_FANOTIFY_PATHS_MAX; i++) {
        if (!conf->exclude[i])
            continue;
        if (!(s->exclude[s->nexclude++] = bn_strdup(conf->exclude[i]))) {
            rc = bn_diag_set(d, BN_ENOMEM, "fanotify", 0, 0, "out of memory");
            goto out;
        }
    }
    rc = fan_init(&s->fd, d);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < s->ninclude; i++)
        if ((rc = add_mark(s, s->include[i], d)) < 0)
            goto out;
    if (s->ninclude == 0 && (rc = add_mark(s, "/", d)) < 0)
        goto out;
    if (s->nfses == 0) {
        rc = bn_diag_set(d, BN_ENOTFOUND, "fanotify", 0, 0,
                         "fanotify: none of the included paths exists");
        goto out;
    }
    rc = agent_worker_start(&s->w, "fanotify", fan_thread, s, d);
    if (rc < 0)
        goto out;
    *state = s;
    s = NULL;
out:
    if (s)
        fan_stop(a, s);
    return rc;
}

static int
fan_start(struct agent *a, void **state, struct bn_diag *d)
{
    return agent_fanotify_start_conf(a, NULL, state, d);
}

static void
fan_stop(struct agent *a, void *state)
{
    struct fan_state *s = state;
    (void)a;
    if (!s)
        return;
    agent_worker_stop(&s->w);
    if (s->fd >= 0)
        close(s->fd);
    for (size_t i = 0; i < s->nfses; i++)
        if (s->fses[i].mount_fd >= 0)
            close(s->fses[i].mount_fd);
    for (size_t i = 0; i < s->ninclude; i++)
        bn_free(s->include[i]);
    for (size_t i = 0; i < s->nexclude; i++)
        bn_free(s->exclude[i]);
    for (size_t i = 0; i < FAN_DIRCACHE; i++)
        bn_free(s->dirs[i].path);
    bn_free(s);
}

static void
fan_describe(struct agent *a, void *state, char *buf, size_t size)
{
    struct fan_state *s = state;
    (void)a;
    size_t n = strlen(buf);
    if (n >= size)
        return;
    if (!s) {
        snprintf(buf + n, size - n,
                 "fanotify: file create, delete, rename, chmod/chown, close-after-write with "
                 "the acting pid; no reads, no opens\n");
        return;
    }
    snprintf(buf + n, size - n,
             "fanotify: %zu filesystem(s), %zu include / %zu exclude prefixes, rename %s; "
             "events %" PRIuFAST64 ", emitted %" PRIuFAST64 ", filtered %" PRIuFAST64
             ", unresolved directories %" PRIuFAST64 ", paths truncated %" PRIuFAST64
             ", queue overflows %" PRIuFAST64 "\n",
             s->nfses, s->ninclude, s->nexclude,
             s->have_rename ? "as one event" : "as moved-from/moved-to", atomic_load(&s->events),
             atomic_load(&s->emitted), atomic_load(&s->filtered), atomic_load(&s->unresolved),
             atomic_load(&s->truncated), atomic_load(&s->overflows));
}

const struct agent_collector_ops agent_collector_fanotify = {
    .name = "fanotify",
    .tier = AGENT_TIER_NETLINK,
    .probe = fan_probe,
    .start = fan_start,
    .stop = fan_stop,
    .describe = fan_describe,
};
