/*
 * collect_bpf.c - tier 1 of bannin-agent: loads the eBPF CO-RE programs of bpf/agent.bpf.c
 * (a libbpf skeleton built with the agent), fills their maps (the agent's own pid, the file
 * path prefixes of interest) and turns each ring-buffer record into a struct agent_event.
 *
 * One thread polls the ring buffer and calls agent_emit(); the agent's loop enriches what
 * a record does not carry (cwd, cgroup path, hashes, ancestry) from its process table.
 * Records are checked against their size before anything is read: a record comes from
 * the kernel, but we still never trust a length we did not bound.
 *
 * File paths: the kernel filters absolute paths by prefix; relative paths (and fchmod /
 * fchown, which only know an fd) are resolved here through /proc/<pid>/cwd or /fd and then
 * run through the same prefix map, so include/exclude mean the same thing for both. A
 * process that is gone before we resolve its relative path is reported with the relative
 * path as it was given. Close-after-write needs the path of the fd: the kernel sends the
 * path once at open time and we keep it in a bounded, direct-mapped table.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/types.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/agent.h"
#include "bannin/community_id.h"
#include "agent/persist.h"
#include "agent/proctable.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

#if BN_HAVE_BPF
#include "agent.skel.h"
#include "agent/bpf/agent_bpf.h"
#endif

/* Default file paths of interest (persistence, credentials, staging and binary dirs). */
const struct agent_bpf_conf agent_bpf_default_conf = {
    .include = {"/etc/", "/root/", "/home/*/.ssh/", "/var/spool/cron/", "/usr/lib/systemd/",
                "/lib/systemd/", "/etc/systemd/", "/tmp/", "/dev/shm/", "/var/tmp/",
                "/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/lib/modules/",
                "/usr/lib/modules/", "/usr/local/bin/", "/usr/local/sbin/"},
    .ninclude = 18,
    .nexclude = 0,
    .files = true,
    .files_all = false,
};

#if BN_HAVE_BPF

#define WFD_SLOTS 16384 /* remembered fd -> path for close-after-write (power of two) */

#define CG_SLOTS 256 /* remembered cgroup id -> path (power of two) */

struct cg_slot {
    uint64_t id;
    char *path;
    char container_id[65];
};

struct wfd_slot {
    uint32_t pid;
    int32_t fd;
    char *path;
};

/* The outcome of choosing (sc_choose), for --check and the started collector. */
struct sc_mode {
    bool tracepoints;             /* per-syscall tracepoints (else raw sys_enter/sys_exit) */
    int attached;                 /* sc_* programs set to load (tracepoints) */
    int absent;                   /* watched syscalls without a tracepoint (not in the kernel) */
    char absent_names[128];       /* their names */
    char why_raw[160];            /* why the raw pair is used */
};

#define PFX_MAX 64

struct bpf_state {
    struct agent *a;
    struct agent_bpf *skel;
    struct ring_buffer *rb;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    int64_t boot_to_real_ns;
    bool files;
    struct wfd_slot wfds[WFD_SLOTS];
    atomic_uint_fast64_t records, bad, emit_errors, unresolved, wfd_evicted;
    atomic_uint_fast64_t filtered_user;
    uint32_t self_mnt_ns, self_pid_ns; /* the agent's own namespaces (inode numbers) */
    /* cgroup id (from the exec record) -> cgroup path and container id, resolved once per
     * cgroup through open_by_handle_at on the cgroup2 mount, else /proc/<pid>/cgroup */
    int cg_fd;                    /* the cgroup2 mount, or -1 */
    int cg_handle_type;
    char cg_mnt[256];
    size_t cg_mnt_len;
    struct cg_slot cgs[CG_SLOTS];
    atomic_uint_fast64_t cg_resolved, cg_unresolved;
    struct sc_mode scm;           /* how the watched syscalls are seen */
    int poll_ms;                  /* ring-buffer poll interval */
    int stop_fd;                  /* eventfd in the ring buffer's epoll set: wakes an idle poll */
    atomic_uint_fast64_t idle_spells, idle_wakeups; /* reader went idle / was woken from it */
    /* the prefixes map's entries, mirrored: path_wanted looks here instead of making a bpf()
     * call per resolved relative path (npfx > PFX_MAX: too many, the map is asked) */
    struct pfx_ent {
        struct ab_prefix_key k;
        uint32_t val;
    } pfx[PFX_MAX];
    size_t npfx;
    bool files_all; /* files.all: every path is wanted (the kernel's AB_CFG_FILE_ALL) */
};

/* ---- how the watched syscalls are seen: per-syscall tracepoints or the raw pair ---- */


/* libbpf looks the tracepoint ids up in debugfs' tracing dir if it exists, else tracefs. */
static const char *
sc_events_dir(void)
{
    if (access("/sys/kernel/debug/tracing", F_OK) == 0)
        return "/sys/kernel/debug/tracing/events/syscalls";
    return "/sys/kernel/tracing/events/syscalls";
}

/* Whether the syscall tracepoints can be found; mounts tracefs where it is expected but
 * absent (what perf and bpftrace do). */
static bool
sc_events_present(bool may_mount)
{
    char p[128];

    snprintf(p, sizeof(p), "%s/sys_enter_openat/id", sc_events_dir());
    if (access(p, R_OK) == 0)
        return true;
    if (!may_mount || access("/sys/kernel/debug/tracing", F_OK) == 0 ||
        access("/sys/kernel/tracing/events", F_OK) == 0 ||
        mount("tracefs", "/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) != 0)
        return false;
    return access(p, R_OK) == 0;
}

/*
 * Sets which syscall programs the skeleton loads: with tracepoints, the sc_* programs whose
 * tracepoint exists (a watched syscall without one is not in this kernel: init_module
 * without module support) and not the raw pair; else the raw pair and no sc_* program.
 * files: whether file syscalls are traced at all.
 */
static void
sc_choose(struct agent_bpf *skel, bool tracepoints, bool files, struct sc_mode *m)
{
    struct bpf_program *prog;
    const char *dir = sc_events_dir();

    m->tracepoints = tracepoints;
    m->attached = 0;
    m->absent = 0;
    m->absent_names[0] = '\0';
    bpf_object__for_each_program(prog, skel->obj) {
        const char *sec = bpf_program__section_name(prog);
        const char *tp = strncmp(sec, "tracepoint/syscalls/", 20) == 0 ? sec + 20 : NULL;
        bool is_exit = tp && strncmp(tp, "sys_exit_", 9) == 0;
        bool load;
        char p[192];

        if (prog == skel->progs.on_sys_enter || prog == skel->progs.on_sys_exit) {
            load = !tracepoints && (prog == skel->progs.on_sys_enter || files);
        } else if (prog == skel->progs.sc_file_base) {
            load = tracepoints && files; /* the exit programs' tail (file_tail) */
        } else if (tp) {
            snprintf(p, sizeof(p), "%s/%s/id", dir, tp);
            load = tracepoints && (!is_exit || files);
            if (load && access(p, R_OK) != 0) {
                load = false;
                if (!is_exit) {
                    size_t n = strlen(m->absent_names);

                    m->absent++;
                    snprintf(m->absent_names + n, sizeof(m->absent_names) - n, "%s%s",
                             n ? ", " : "", tp + 10);
                }
            }
            if (load)
                m->attached++;
        } else {
            continue;
        }
        bpf_program__set_autoload(prog, load);
    }
}

/* Inode number of /proc/self/ns/<what>, 0 when unknown. */
static uint32_t
self_ns(const char *what)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/self/ns/%s", what);
    if (stat(path, &st) != 0)
        return 0;
    return (uint32_t)st.st_ino;
}

static int64_t
clock_ns(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- prefix filter ---- */

/* Notes an entry of the prefixes map in s's mirror (an update of the same key replaces). */
static void
pfx_note(struct bpf_state *s, const struct ab_prefix_key *k, uint32_t val)
{
    for (size_t i = 0; i < s->npfx && i < PFX_MAX; i++)
        if (s->pfx[i].k.prefixlen == k->prefixlen &&
            !memcmp(s->pfx[i].k.data, k->data, sizeof(k->data))) {
            s->pfx[i].val = val;
            return;
        }
    if (s->npfx < PFX_MAX)
        s->pfx[s->npfx] = (struct pfx_ent){*k, val};
    s->npfx++;
}

/* The LPM trie's lookup of k (whole-byte prefixes), on s's mirror: the longest entry that is
 * a prefix of k. Returns 0 and sets *val, or -1 when none is; -2 when the mirror is not
 * whole (the map must be asked). */
static int
pfx_lookup(const struct bpf_state *s, const struct ab_prefix_key *k, uint32_t *val)
{
    const struct pfx_ent *best = NULL;

    if (s->npfx > PFX_MAX)
        return -2;
    for (size_t i = 0; i < s->npfx; i++) {
        const struct pfx_ent *e = &s->pfx[i];
        if (e->k.prefixlen <= k->prefixlen && (!best || e->k.prefixlen > best->k.prefixlen) &&
            !memcmp(e->k.data, k->data, e->k.prefixlen / 8))
            best = e;
    }
    if (!best)
        return -1;
    *val = best->val;
    return 0;
}

/* Adds one pattern ("/etc/", or "/home/" + star + "/.ssh/") to the LPM map with action. */
static int
prefix_add(struct bpf_state *s, int mapfd, const char *pat, uint32_t action, struct bn_diag *d)
{
    struct ab_prefix_key k;
    const char *star = strstr(pat, "/*/");
    size_t n = strlen(pat);
    uint32_t val = action;

    memset(&k, 0, sizeof(k));
    if (n == 0 || pat[0] != '/')
        return bn_diag_set(d, BN_EINVAL, "<bpf>", 0, 0,
                           "file path prefix '%s' is not absolute", pat);
    if (star) {
        /* only "<dir>/", a star, "/.ssh/" is understood by the kernel side */
        if (strcmp(star + 3, ".ssh/") != 0 && strcmp(star + 3, ".ssh") != 0)
            return bn_diag_set(d, BN_EUNSUP, "<bpf>", 0, 0,
                               "file path prefix '%s': a '*' is only supported as "
                               "<dir>/*/.ssh/", pat);
        n = (size_t)(star - pat) + 1;
        val = AB_PF_HOME_SSH | ((uint32_t)n << 8);
    }
    if (n > AB_PREFIX_LEN)
        return bn_diag_set(d, BN_ETOOBIG, "<bpf>", 0, 0,
                           "file path prefix '%s' is longer than %d bytes", pat, AB_PREFIX_LEN);
    memcpy(k.data, pat, n);
    k.prefixlen = (uint32_t)n * 8;
    if (bpf_map_update_elem(mapfd, &k, &val, BPF_ANY))
        return bn_diag_set(d, -errno, "<bpf>", 0, 0, "cannot add file path prefix '%s': %s",
                           pat, strerror(errno));
    pfx_note(s, &k, val);
    return 0;
}

/* The user-space twin of the kernel's path_wanted(), on the same entries. */
static bool
path_wanted(struct bpf_state *s, const char *path)
{
    struct ab_prefix_key k;
    size_t n = strlen(path);
    uint32_t v = 0, start;

    if (path[0] != '/')
        return false;
    if (s->files_all)
        return true;
    memset(&k, 0, sizeof(k));
    if (n > AB_PREFIX_LEN)
        n = AB_PREFIX_LEN;
    memcpy(k.data, path, n);
    k.prefixlen = (uint32_t)n * 8;
    int rc = pfx_lookup(s, &k, &v);
    if (rc == -2 && bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.prefixes), &k, &v) == 0)
        rc = 0;
    if (rc != 0)
        return false;
    if ((v & 0xff) != AB_PF_HOME_SSH)
        return (v & 0xff) == AB_PF_INCLUDE;
    start = v >> 8;
    for (size_t i = start + 1; i + 5 < AB_PREFIX_LEN; i++) {
        if (k.data[i] == '/')
            return memcmp(k.data + i + 1, ".ssh", 4) == 0 &&
                   (k.data[i + 5] == '/' || k.data[i + 5] == 0);
        if (k.data[i] == 0)
            return false;
    }
    return false;
}

/* ---- helpers ---- */

/* Reads the target of /proc/<pid>/<what> into buf. Returns its length or -1. */
static ssize_t
proc_link(uint32_t pid, const char *what, char *buf, size_t size)
{
    char p[64];
    ssize_t n;

    snprintf(p, sizeof(p), "/proc/%" PRIu32 "/%s", pid, what);
    n = readlink(p, buf, size - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/*
 * Makes rel absolute against a base directory: kbase, the directory the kernel walked at the
 * syscall (NULL when it did not), else the process's cwd (dirfd < 0 or AT_FDCWD) or a
 * directory fd read from /proc. Returns true and fills out, or false when there is no base
 * (the process or fd is gone).
 */
static bool
resolve(uint32_t pid, int dirfd, bool use_dirfd, const char *kbase, const char *rel, char *out,
        size_t size)
{
    char buf[AGENT_PATH_MAX];
    const char *base = kbase;
    char what[32];
    size_t bl, rl;

    if (!base) {
        if (use_dirfd)
            snprintf(what, sizeof(what), "fd/%d", dirfd);
        else
            snprintf(what, sizeof(what), "cwd");
        if (proc_link(pid, what, buf, sizeof(buf)) <= 0)
            return false;
        base = buf;
    }
    if (base[0] != '/')
        return false;
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    bl = strlen(base);
    rl = strlen(rel);
    if (bl == 1) /* "/" */
        bl = 0;
    if (bl + 1 + rl >= size)
        return false;
    memcpy(out, base, bl);
    out[bl] = '/';
    memcpy(out + bl + 1, rel, rl + 1);
    return true;
}

/*
 * The base directory of a file record's relative path(s) as the kernel walked it, into out;
 * NULL when the record has none usable (not walked, cut short, a pseudo file system): then
 * /proc is read, as before the walk existed.
 */
static const char *
file_base(const struct ab_file *r, const char *names, size_t avail, char *out, size_t size)
{
    const struct ab_dpath *dp = &r->base;

    if ((dp->flags & (AB_DP_VALID | AB_DP_TRUNC | AB_DP_PSEUDO)) != AB_DP_VALID)
        return NULL;
    if (dp->n == 0)
        return "/"; /* the walk started at the root */
    return agent_bpf_dpath_join(dp, names, avail, out, size) ? out : NULL;
}

/* Copies a NUL-terminated string of at most len bytes from a record into buf. */
static void
rec_str(const char *src, uint32_t len, char *buf, size_t size)
{
    size_t n = len;

    if (n >= size)
        n = size - 1;
    memcpy(buf, src, n);
    buf[n] = '\0';
    /* the kernel's length counts the NUL; cut at the first one anyway */
    buf[strnlen(buf, n)] = '\0';
}

static void
fill_proc(struct bpf_state *s, const struct ab_hdr *h, struct agent_event *ev)
{
    ev->tier = AGENT_TIER_BPF;
    ev->ts_ns = (int64_t)h->ts_boot_ns + s->boot_to_real_ns;
    ev->proc.pid = (pid_t)h->pid;
    ev->proc.ppid = (pid_t)h->ppid;
    ev->proc.start_ns = h->start_ns;
    ev->proc.uid = h->uid;
    ev->proc.euid = h->euid;
    ev->proc.gid = h->gid;
    ev->proc.egid = h->egid;
    ev->proc.loginuid = h->loginuid;
    ev->proc.sessionid = h->sessionid;
    memcpy(ev->proc.comm, h->comm, AGENT_COMM_MAX);
    ev->proc.comm[AGENT_COMM_MAX - 1] = '\0';
    ev->parent.pid = (pid_t)h->ppid;
    ev->parent.start_ns = h->pstart_ns;
}

static void
emit(struct bpf_state *s, struct agent_event *ev)
{
    if (agent_emit(s->a, ev) != 0)
        atomic_fetch_add(&s->emit_errors, 1);
}

/*
 * Joins a kernel-walked path (dp: components leaf first, their names packed in names, of
 * which avail bytes are in the record) into out as an absolute path. A pseudo file (memfd,
 * anon inode) is "/<name>", as /proc/<pid>/exe shows it. Returns false when the record
 * holds no usable path (no file, no component, walk truncated, names that do not fit).
 */
bool
agent_bpf_dpath_join(const struct ab_dpath *dp, const char *names, size_t avail, char *out,
                     size_t size)
{
    uint32_t at[AB_DPATH_DEPTH + 1];
    uint32_t n = dp->n, len = dp->len, pos = 0;
    size_t off = 0;

    if (size > 0)
        out[0] = '\0';
    if (!(dp->flags & AB_DP_VALID) || (dp->flags & AB_DP_TRUNC) || n == 0 ||
        n > AB_DPATH_DEPTH || len > avail || len > AB_DNAMES_LEN || size < 2)
        return false;
    /* where each name starts; each must end (NUL) inside the walk's len bytes */
    for (uint32_t i = 0; i < n; i++) {
        const char *z = pos < len ? memchr(names + pos, '\0', len - pos) : NULL;

        if (!z)
            return false;
        at[i] = pos;
        pos = (uint32_t)(z - names) + 1;
    }
    at[n] = pos;
    for (uint32_t i = n; i-- > 0;) {
        size_t l = at[i + 1] - at[i] - 1;

        if (off + 1 + l + 1 > size) {
            out[0] = '\0';
            return false;
        }
        out[off++] = '/';
        memcpy(out + off, names + at[i], l);
        off += l;
    }
    out[off] = '\0';
    return true;
}

/* ---- cgroups ---- */

/* Finds the cgroup2 mount and how the kernel names its directories in file handles. */
static void
cg_init(struct bpf_state *s)
{
    char line[1024];
    FILE *f;

    s->cg_fd = -1;
    f = fopen("/proc/self/mounts", "re");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        char dev[256], dir[256], type[64];

        if (sscanf(line, "%255s %255s %63s", dev, dir, type) == 3 && !strcmp(type, "cgroup2")) {
            snprintf(s->cg_mnt, sizeof(s->cg_mnt), "%s", dir);
            break;
        }
    }
    fclose(f);
    if (!s->cg_mnt[0])
        return;
    struct {
        struct file_handle fh;
        unsigned char id[64];
    } h;
    int mount_id;

    h.fh.handle_bytes = sizeof(h.id);
    if (name_to_handle_at(AT_FDCWD, s->cg_mnt, &h.fh, &mount_id, 0) != 0 ||
        h.fh.handle_bytes != sizeof(uint64_t))
        return;
    s->cg_handle_type = h.fh.handle_type;
    s->cg_mnt_len = strlen(s->cg_mnt);
    if (s->cg_mnt_len == 1) /* mounted on "/": every path is already relative to it */
        s->cg_mnt_len = 0;
    s->cg_fd = open(s->cg_mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The path of cgroup id below the cgroup2 root ("/system.slice/x.scope") into out. */
static bool
cg_by_handle(struct bpf_state *s, uint64_t id, char *out, size_t size)
{
    struct {
        struct file_handle fh;
        uint64_t id;
    } h;
    char link[64], buf[AGENT_PATH_MAX];
    ssize_t n;
    int fd;

    if (s->cg_fd < 0)
        return false;
    h.fh.handle_bytes = sizeof(h.id);
    h.fh.handle_type = s->cg_handle_type;
    memcpy(h.fh.f_handle, &id, sizeof(id));
    fd = open_by_handle_at(s->cg_fd, &h.fh, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return false;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0 || (size_t)n < s->cg_mnt_len || memcmp(buf, s->cg_mnt, s->cg_mnt_len) != 0)
        return false;
    buf[n] = '\0';
    snprintf(out, size, "%s", buf[s->cg_mnt_len] ? buf + s->cg_mnt_len : "/");
    return true;
}

/* The cgroup path of a live process from /proc/<pid>/cgroup (agent_cgroup_pick). */
static bool
cg_by_pid(uint32_t pid, char *out, size_t size)
{
    char path[64], buf[AGENT_PATH_MAX], id[65];
    ssize_t n;
    char *cg;
    int fd;

    snprintf(path, sizeof(path), "/proc/%" PRIu32 "/cgroup", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    cg = agent_cgroup_pick(buf, id);
    if (!cg)
        return false;
    snprintf(out, size, "%s", cg);
    bn_free(cg);
    return true;
}

/* The remembered cgroup of id (resolved now if new), or NULL when it cannot be named. */
static const struct cg_slot *
cg_lookup(struct bpf_state *s, uint64_t id, uint32_t pid)
{
    struct cg_slot *c = &s->cgs[(id * 0x9e3779b97f4a7c15ull) >> 56 & (CG_SLOTS - 1)];
    char path[AGENT_PATH_MAX];
    char *dup;

    if (!id)
        return NULL;
    if (c->id == id && c->path)
        return c;
    if (!cg_by_handle(s, id, path, sizeof(path)) && !cg_by_pid(pid, path, sizeof(path))) {
        atomic_fetch_add(&s->cg_unresolved, 1);
        return NULL;
    }
    dup = bn_strdup(path);
    if (!dup)
        return NULL;
    bn_free(c->path);
    c->path = dup;
    c->id = id;
    agent_container_id_from_cgroup(dup, c->container_id);
    atomic_fetch_add(&s->cg_resolved, 1);
    return c;
}

/* ---- records ---- */

static void
on_exec(struct bpf_state *s, const struct ab_exec *r, size_t size)
{
    static __thread char cmd[AGENT_CMDLINE_MAX];
    static __thread char exe[AGENT_PATH_MAX];
    static __thread char real[AGENT_PATH_MAX];
    static __thread char cwd[AGENT_PATH_MAX];
    char tty[AB_TTY_LEN + 8], mntns[32], pidns[32];
    const struct cg_slot *cg;
    struct agent_event ev;
    bool pseudo, memfd, deleted;
    size_t base = offsetof(struct ab_exec, data);
    uint32_t pl = r->path_len, al = r->args_len, fl = r->file.len, cl = r->cwd.len;
    const char *fnames = r->data + pl, *cnames = fnames + fl, *args = cnames + cl;
    size_t n;

    if (pl > AB_PATH_LEN || al > AB_ARGS_LEN || fl > AB_DNAMES_LEN || cl > AB_DNAMES_LEN ||
        base + pl + fl + cl + al > size) {
        atomic_fetch_add(&s->bad, 1);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_CREATE;
    ev.prio = AGENT_PRIO_HIGH;
    fill_proc(s, &r->h, &ev);
    rec_str(r->data, pl, exe, sizeof(exe));
    /* the file really executed, from bprm->file: used when the exec'd name does not say
     * what ran (fd / memfd / deleted file) */
    pseudo = (r->file.flags & AB_DP_PSEUDO) != 0;
    /* the first name is the file's own; a shorter one has a NUL among its first 6 bytes */
    memfd = pseudo && r->file.n > 0 && fl >= 6 && memcmp(fnames, "memfd:", 6) == 0;
    deleted = (r->file.flags & AB_DP_VALID) && ((r->file.flags & AB_DP_UNLINKED) || memfd);
    if ((deleted || pseudo || exe[0] != '/' || strncmp(exe, "/proc/", 6) == 0 ||
         strncmp(exe, "/dev/fd/", 8) == 0) &&
        agent_bpf_dpath_join(&r->file, fnames, fl, real, sizeof(real)))
        memcpy(exe, real, strlen(real) + 1);
    else if (exe[0] != '/' && proc_link(r->h.pid, "exe", exe, sizeof(exe)) < 0)
        rec_str(r->data, pl, exe, sizeof(exe));
    ev.proc.exe = exe;
    ev.proc.exe_deleted = deleted;
    /* a cwd walk cut short (deeper than AB_DPATH_DEPTH) is left to the agent's readlink */
    if ((r->cwd.flags & (AB_DP_VALID | AB_DP_TRUNC | AB_DP_PSEUDO)) == AB_DP_VALID &&
        r->cwd.n == 0)
        ev.proc.cwd = (char *)"/"; /* the walk started at the root */
    else if (!(r->cwd.flags & AB_DP_PSEUDO) &&
             agent_bpf_dpath_join(&r->cwd, cnames, cl, cwd, sizeof(cwd)))
        ev.proc.cwd = cwd;
    if (r->exe_dev && r->exe_ino && !pseudo) {
        ev.exe_id.valid = true;
        ev.exe_id.dev = makedev(r->exe_dev >> 20, r->exe_dev & 0xfffff);
        ev.exe_id.ino = r->exe_ino;
        ev.exe_id.size = r->exe_size;
        ev.exe_id.mtime_ns = r->exe_mtime_sec * 1000000000ll + r->exe_mtime_nsec;
    }
    cg = cg_lookup(s, r->h.cgroup_id, r->h.pid);
    if (cg) {
        ev.proc.cgroup = cg->path;
        memcpy(ev.proc.container_id, cg->container_id, sizeof(ev.proc.container_id));
    }
    if (memfd || pseudo) {
        ev.extra_keys[ev.nextra] = "fileless";
        ev.extra_vals[ev.nextra++] = memfd ? (char *)"memfd" : (char *)"pseudo";
    }
    if (r->mnt_ns && s->self_mnt_ns && r->mnt_ns != s->self_mnt_ns) {
        snprintf(mntns, sizeof(mntns), "mnt:[%" PRIu32 "]", r->mnt_ns);
        ev.extra_keys[ev.nextra] = "mnt_ns";
        ev.extra_vals[ev.nextra++] = mntns;
    }
    if (r->pid_ns && s->self_pid_ns && r->pid_ns != s->self_pid_ns) {
        snprintf(pidns, sizeof(pidns), "pid:[%" PRIu32 "]", r->pid_ns);
        ev.extra_keys[ev.nextra] = "pid_ns";
        ev.extra_vals[ev.nextra++] = pidns;
    }
    /* argv: NUL-separated -> joined by spaces; a trailing NUL ends it */
    n = al < sizeof(cmd) - 1 ? al : sizeof(cmd) - 1;
    memcpy(cmd, args, n);
    while (n > 0 && cmd[n - 1] == '\0')
        n--;
    for (size_t i = 0; i < n; i++)
        if (cmd[i] == '\0')
            cmd[i] = ' ';
    cmd[n] = '\0';
    ev.proc.cmdline = cmd;
    ev.proc.cmdline_truncated = (r->h.flags & (AB_F_ARGS_TRUNC | AB_F_ARGS_FAULT)) != 0 ||
                                r->args_total > al;
    tty[0] = '\0';
    if (r->tty[0]) {
        char name[AB_TTY_LEN];

        rec_str(r->tty, AB_TTY_LEN, name, sizeof(name));
        if (strncmp(name, "pts", 3) == 0 && name[3] >= '0' && name[3] <= '9')
            snprintf(tty, sizeof(tty), "pts/%s", name + 3);
        else
            snprintf(tty, sizeof(tty), "%s", name);
        ev.proc.tty = tty;
    }
    emit(s, &ev);
}

static void
on_exit_rec(struct bpf_state *s, const struct ab_exit *r)
{
    struct agent_event ev;
    uint32_t st = r->exit_code;

    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_PROCESS_TERMINATE;
    ev.prio = AGENT_PRIO_NORMAL;
    fill_proc(s, &r->h, &ev);
    /* wait status: killed by a signal -> 128 + signal, the shell's convention */
    if (st & 0x7f)
        ev.exit_code = 128 + (int)(st & 0x7f);
    else
        ev.exit_code = (int)((st >> 8) & 0xff);
    emit(s, &ev);
}

static void
on_net(struct bpf_state *s, const struct ab_net *r)
{
    struct agent_event ev;
    char query[256];
    const uint8_t *la, *ra;
    uint16_t lp, rp;

    if (r->family != AF_INET && r->family != AF_INET6) {
        atomic_fetch_add(&s->bad, 1);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_NET_CONNECT;
    ev.prio = AGENT_PRIO_HIGH;
    fill_proc(s, &r->h, &ev);
    if (!r->owner_known) {
        ev.proc.pid = 0; /* accept on a listener we did not see being set up */
        ev.parent.pid = 0;
    }
    ev.proto = r->proto;
    ev.family = r->family;
    /* The acting process's side is the source for outbound, the destination for inbound. */
    la = r->saddr;
    ra = r->daddr;
    lp = r->sport;
    rp = r->dport;
    if (r->proto == IPPROTO_TCP && r->kind == AB_TCP_ACCEPT) {
        ev.initiated = false;
        memcpy(ev.saddr, ra, 16);
        memcpy(ev.daddr, la, 16);
        ev.sport = rp;
        ev.dport = lp;
    } else {
        ev.initiated = r->kind != AB_TCP_LISTEN;
        ev.listen = r->kind == AB_TCP_LISTEN;
        memcpy(ev.saddr, la, 16);
        memcpy(ev.daddr, ra, 16);
        ev.sport = lp;
        ev.dport = rp;
    }
    if (!ev.listen)
        bn_community_id(0, ev.family, ev.proto, ev.saddr, ev.daddr, ev.sport, ev.dport,
                        ev.community_id, sizeof(ev.community_id));
    if (r->proto == IPPROTO_TCP && r->kind == AB_TCP_CONNECT_FAIL) {
        ev.extra_keys[ev.nextra] = "result";
        ev.extra_vals[ev.nextra++] = (char *)"failed";
    }
    emit(s, &ev);

    /* DNS question from the copied payload prefix */
    if (r->proto == IPPROTO_UDP && r->dport == 53 && r->payload_len >= 12 &&
        r->payload_len <= AB_PAYLOAD_LEN) {
        if (agent_bpf_dns_question(r->payload, r->payload_len, query, sizeof(query)) == 0) {
            struct agent_event q = ev;

            q.kind = AGENT_EV_DNS_QUERY;
            q.prio = AGENT_PRIO_NORMAL;
            memcpy(q.community_id, ev.community_id, sizeof(q.community_id));
            q.query = query;
            q.nextra = 0;
            emit(s, &q);
        }
    }
}

static void
wfd_put(struct bpf_state *s, uint32_t pid, int32_t fd, const char *path)
{
    struct wfd_slot *w = &s->wfds[(pid * 2654435761u + (uint32_t)fd) & (WFD_SLOTS - 1)];
    char *p = bn_strdup(path);

    if (!p)
        return;
    if (w->path)
        atomic_fetch_add(&s->wfd_evicted, 1);
    bn_free(w->path);
    w->pid = pid;
    w->fd = fd;
    w->path = p;
}

/* Returns the owned path remembered for (pid, fd), removing it, or NULL. */
static char *
wfd_take(struct bpf_state *s, uint32_t pid, int32_t fd)
{
    struct wfd_slot *w = &s->wfds[(pid * 2654435761u + (uint32_t)fd) & (WFD_SLOTS - 1)];
    char *p;

    if (!w->path || w->pid != pid || w->fd != fd)
        return NULL;
    p = w->path;
    w->path = NULL;
    return p;
}

static void
on_file(struct bpf_state *s, const struct ab_file *r, size_t size)
{
    static __thread char p1[AGENT_PATH_MAX], p2[AGENT_PATH_MAX], tmp[AGENT_PATH_MAX];
    static __thread char kb[AGENT_PATH_MAX];
    struct agent_event ev;
    size_t base = offsetof(struct ab_file, data);
    uint32_t l1 = r->path_len, l2 = r->path2_len, l3 = r->base.len;
    bool use_dirfd = (r->h.flags & AB_F_DIRFD) != 0;
    char *owned = NULL;

    if (l1 > AB_PATH_LEN || l2 > AB_PATH_LEN || l3 > AB_DNAMES_LEN ||
        base + l1 + l2 + l3 > size) {
        atomic_fetch_add(&s->bad, 1);
        return;
    }
    rec_str(r->data, l1, p1, sizeof(p1));
    rec_str(r->data + l1, l2, p2, sizeof(p2));
    memset(&ev, 0, sizeof(ev));
    ev.prio = AGENT_PRIO_BULK;
    fill_proc(s, &r->h, &ev);

    /* fd-only operations: the path comes from /proc/<pid>/fd */
    if ((r->op == AB_FOP_CHMOD || r->op == AB_FOP_CHOWN) && l1 == 0) {
        char what[32];

        snprintf(what, sizeof(what), "fd/%d", r->fd);
        if (proc_link(r->h.pid, what, p1, sizeof(p1)) <= 0) {
            atomic_fetch_add(&s->unresolved, 1);
            return;
        }
        if (!path_wanted(s, p1)) {
            atomic_fetch_add(&s->filtered_user, 1);
            return;
        }
    } else if (r->op != AB_FOP_CLOSE_WRITE &&
               (r->h.flags & (AB_F_RELATIVE | AB_F_DIRFD))) {
        bool keep = false, any = false;
        const char *kbase = file_base(r, r->data + l1 + l2, l3, kb, sizeof(kb));

        if (p1[0] && p1[0] != '/' &&
            resolve(r->h.pid, r->dirfd, use_dirfd, kbase, p1, tmp, sizeof(tmp))) {
            memcpy(p1, tmp, sizeof(p1));
            any = true;
        }
        /* renameat's second dirfd is not sent; resolve the target against the cwd or the
         * first dirfd, which is what callers use in practice */
        if (p2[0] && p2[0] != '/' &&
            resolve(r->h.pid, r->dirfd, use_dirfd, kbase, p2, tmp, sizeof(tmp))) {
            memcpy(p2, tmp, sizeof(p2));
            any = true;
        }
        if (!any)
            atomic_fetch_add(&s->unresolved, 1);
        keep = (p1[0] == '/' && path_wanted(s, p1)) || (p2[0] == '/' && path_wanted(s, p2)) ||
               (p1[0] && p1[0] != '/'); /* unresolved: report as given */
        if (!keep) {
            atomic_fetch_add(&s->filtered_user, 1);
            return;
        }
    }

    switch (r->op) {
    case AB_FOP_OPEN_WRITE:
        if (r->mode & (O_WRONLY | O_RDWR))
            wfd_put(s, r->h.pid, r->fd, p1);
        if (!(r->mode & O_CREAT))
            return;
        ev.kind = AGENT_EV_FILE_CREATE;
        ev.path = p1;
        break;
    case AB_FOP_CLOSE_WRITE:
        owned = wfd_take(s, r->h.pid, r->fd);
        if (!owned) {
            atomic_fetch_add(&s->unresolved, 1);
            return;
        }
        ev.kind = AGENT_EV_FILE_WRITE;
        ev.path = owned;
        break;
    case AB_FOP_DELETE:
        ev.kind = AGENT_EV_FILE_DELETE;
        ev.path = p1;
        break;
    case AB_FOP_RENAME:
        ev.kind = AGENT_EV_FILE_RENAME;
        ev.path = p1;
        ev.path2 = p2;
        break;
    case AB_FOP_CHMOD:
        ev.kind = AGENT_EV_FILE_ATTR;
        ev.path = p1;
        ev.mode = r->mode & 07777;
        ev.new_uid = (uid_t)-1;
        ev.new_gid = (gid_t)-1;
        break;
    case AB_FOP_CHOWN:
        ev.kind = AGENT_EV_FILE_ATTR;
        ev.path = p1;
        ev.new_uid = r->uid;
        ev.new_gid = r->gid;
        ev.extra_keys[ev.nextra] = "operation";
        ev.extra_vals[ev.nextra++] = (char *)"chown";
        break;
    default:
        atomic_fetch_add(&s->bad, 1);
        return;
    }
    if (r->op == AB_FOP_CHMOD) {
        ev.extra_keys[ev.nextra] = "operation";
        ev.extra_vals[ev.nextra++] = (char *)"chmod";
    }
    if (r->h.flags & AB_F_PATH_TRUNC) {
        ev.extra_keys[ev.nextra] = "path_truncated";
        ev.extra_vals[ev.nextra++] = (char *)"true";
    }
    agent_persist_tag(&ev);
    emit(s, &ev);
    bn_free(owned);
}

static void
on_misc(struct bpf_state *s, const struct ab_misc *r)
{
    struct agent_event ev;
    char name[sizeof(r->name)], num[32], num2[32], fdpath[AGENT_PATH_MAX];

    memset(&ev, 0, sizeof(ev));
    fill_proc(s, &r->h, &ev);
    rec_str(r->name, sizeof(r->name), name, sizeof(name));
    snprintf(num, sizeof(num), "%" PRIu32, r->syscall);
    ev.extra_keys[ev.nextra] = "syscall";
    ev.extra_vals[ev.nextra++] = num;
    switch (r->h.type) {
    case AB_MODULE:
        ev.kind = AGENT_EV_MODULE_LOAD;
        ev.prio = AGENT_PRIO_HIGH;
        ev.category = "persistence.kernel_module";
        /* the kernel read the module file's path at the syscall: the loader may close
         * the fd (or exit) before /proc/<pid>/fd could be read */
        if (r->fd >= 0 && agent_bpf_dpath_join(&r->file, r->names, sizeof(r->names), fdpath,
                                               sizeof(fdpath))) {
            ev.path = fdpath;
            if (r->file.flags & AB_DP_UNLINKED) {
                ev.extra_keys[ev.nextra] = "file_deleted";
                ev.extra_vals[ev.nextra++] = (char *)"true";
            }
        } else if (r->fd >= 0) {
            char what[32];

            snprintf(what, sizeof(what), "fd/%d", r->fd);
            if (proc_link(r->h.pid, what, fdpath, sizeof(fdpath)) > 0)
                ev.path = fdpath;
        }
        ev.extra_keys[ev.nextra] = "params";
        ev.extra_vals[ev.nextra++] = name;
        break;
    case AB_BPF:
        ev.kind = AGENT_EV_BPF_LOAD;
        ev.prio = AGENT_PRIO_HIGH;
        snprintf(num2, sizeof(num2), "%" PRIu32, r->arg);
        ev.extra_keys[ev.nextra] = "prog_type";
        ev.extra_vals[ev.nextra++] = num2;
        ev.extra_keys[ev.nextra] = "prog_name";
        ev.extra_vals[ev.nextra++] = name;
        break;
    case AB_TAMPER:
        ev.kind = AGENT_EV_TAMPER;
        ev.prio = AGENT_PRIO_CRITICAL;
        ev.category = "tamper.agent";
        snprintf(num2, sizeof(num2), "%" PRIu32, r->arg);
        ev.extra_keys[ev.nextra] = r->syscall == 101 ? "ptrace_request" : "signal";
        ev.extra_vals[ev.nextra++] = num2;
        snprintf(fdpath, sizeof(fdpath), "%" PRIu32, r->target_pid);
        ev.extra_keys[ev.nextra] = "target_pid";
        ev.extra_vals[ev.nextra++] = fdpath;
        break;
    default:
        atomic_fetch_add(&s->bad, 1);
        return;
    }
    emit(s, &ev);
}

static int
on_record(void *ctx, void *data, size_t size)
{
    struct bpf_state *s = ctx;
    const struct ab_hdr *h = data;

    atomic_fetch_add(&s->records, 1);
    if (size < sizeof(*h))
        goto bad;
    switch (h->type) {
    case AB_EXEC:
        if (size < offsetof(struct ab_exec, data))
            goto bad;
        on_exec(s, data, size);
        break;
    case AB_EXIT:
        if (size < sizeof(struct ab_exit))
            goto bad;
        on_exit_rec(s, data);
        break;
    case AB_TCP:
    case AB_UDP:
        if (size < sizeof(struct ab_net))
            goto bad;
        on_net(s, data);
        break;
    case AB_FILE:
        if (size < offsetof(struct ab_file, data))
            goto bad;
        on_file(s, data, size);
        break;
    case AB_MODULE:
    case AB_BPF:
    case AB_TAMPER:
        if (size < sizeof(struct ab_misc))
            goto bad;
        on_misc(s, data);
        break;
    default:
        goto bad;
    }
    return 0;
bad:
    atomic_fetch_add(&s->bad, 1);
    return 0;
}

/* In agent.c; weak, so that a test linking this collector with its own agent_emit (and no
 * agent loop) needs no more of the agent: then there is no loop to wake and no burst. */
#pragma weak agent_emit_burst_begin
#pragma weak agent_emit_burst_end

static void
burst_begin(struct bpf_state *s)
{
    if (agent_emit_burst_begin && s->a)
        agent_emit_burst_begin(s->a);
}

static void
burst_end(struct bpf_state *s)
{
    if (agent_emit_burst_end && s->a)
        agent_emit_burst_end(s->a);
}

/* Empty timed polls in a row after which the reader goes idle (see reader_idle in
 * agent.bpf.c), and how long an idle poll waits for a wakeup before it looks at the stop
 * flag again (bpf_stop also wakes it through s->stop_fd). */
#define IDLE_AFTER_POLLS 8
#define IDLE_POLL_MS 1000

static void *
poll_thread(void *arg)
{
    struct bpf_state *s = arg;
    int empty = 0;
    bool idle = false;

    while (!atomic_load(&s->stop)) {
        /* The BPF side wakes us only when the ring holds AB_WAKEUP_BYTES; below that, records
         * wait at most poll_ms (the bound on event latency at a low rate). The records one
         * poll takes are one burst for the loop: it is woken once for them (or per full
         * drained batch), not per record and then again after its linger. */
        burst_begin(s);
        int rc = ring_buffer__poll(s->rb, idle ? IDLE_POLL_MS : s->poll_ms);

        /* A timed-out poll processes nothing: take what was submitted without a wakeup. */
        if (rc == 0)
            rc = ring_buffer__consume(s->rb);
        burst_end(s);

        if (rc < 0 && rc != -EINTR)
            break;
        if (rc > 0) {
            empty = 0;
            if (idle) { /* records again: back to timed polls, records batched */
                idle = false;
                s->skel->bss->reader_idle = 0;
                atomic_fetch_add(&s->idle_wakeups, 1);
            }
        } else if (!idle && ++empty >= IDLE_AFTER_POLLS) {
            /* nothing for a while: every record wakes us from now on. A record submitted
             * before the kernel side saw the flag is found by the next poll, which looks
             * at the ring before it sleeps. */
            idle = true;
            s->skel->bss->reader_idle = 1;
            atomic_thread_fence(memory_order_seq_cst);
            atomic_fetch_add(&s->idle_spells, 1);
        }
    }
    /* whatever is still in the buffer */
    ring_buffer__consume(s->rb);
    return NULL;
}

static uint64_t
counter_sum(struct bpf_state *s, uint32_t idx)
{
    int ncpu = libbpf_num_possible_cpus();
    uint64_t *vals, sum = 0;

    if (ncpu <= 0)
        return 0;
    vals = bn_calloc((size_t)ncpu, sizeof(*vals));
    if (!vals)
        return 0;
    if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.counters), &idx, vals) == 0)
        for (int i = 0; i < ncpu; i++)
            sum += vals[i];
    bn_free(vals);
    return sum;
}

void
agent_bpf_stats(void *state, struct agent_bpf_stats *st)
{
    struct bpf_state *s = state;

    memset(st, 0, sizeof(*st));
    if (!s)
        return;
    st->records = atomic_load(&s->records);
    st->bad_records = atomic_load(&s->bad);
    st->emit_errors = atomic_load(&s->emit_errors);
    st->unresolved = atomic_load(&s->unresolved);
    /* the process table learns parents from exec records: forks are only counted, in
     * the kernel (AB_CNT_FORKS) */
    st->forks = counter_sum(s, AB_CNT_FORKS);
    st->idle_spells = atomic_load(&s->idle_spells);
    st->idle_wakeups = atomic_load(&s->idle_wakeups);
    st->filtered = counter_sum(s, AB_CNT_FILTERED) + atomic_load(&s->filtered_user);
    st->drops = counter_sum(s, AB_CNT_DROPS);
    st->kernel_events = counter_sum(s, AB_CNT_EVENTS);
    st->syscalls_raw = !s->scm.tracepoints;
    if (st->syscalls_raw)
        snprintf(st->syscalls_why, sizeof(st->syscalls_why), "%s", s->scm.why_raw);
}

static void
bpf_stop(struct agent *a, void *state)
{
    struct bpf_state *s = state;

    (void)a;
    if (!s)
        return;
    atomic_store(&s->stop, true);
    if (s->stop_fd >= 0) {
        uint64_t one = 1;

        if (write(s->stop_fd, &one, sizeof(one)) < 0) {
            /* the idle poll then sees the stop flag within IDLE_POLL_MS */
        }
    }
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    ring_buffer__free(s->rb);
    agent_bpf__destroy(s->skel);
    for (size_t i = 0; i < WFD_SLOTS; i++)
        bn_free(s->wfds[i].path);
    for (size_t i = 0; i < CG_SLOTS; i++)
        bn_free(s->cgs[i].path);
    if (s->cg_fd >= 0)
        close(s->cg_fd);
    bn_free(s);
}

/* libbpf's messages (verifier logs included) are silent unless BANNIN_BPF_LOG is set in
 * the environment: then they go to stderr, for whoever debugs a load failure. */
static int
silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    static int verbose = -1;

    if (verbose < 0)
        verbose = getenv("BANNIN_BPF_LOG") != NULL;
    if (!verbose || level == LIBBPF_DEBUG)
        return 0;
    return vfprintf(stderr, fmt, ap);
}

/* Opens, loads, configures and attaches the programs; the syscall programs as tracepoints
 * says. On failure the skeleton and ring buffer are freed again (s->skel, s->rb NULL). */
static int
bpf_setup(struct bpf_state *s, const struct agent_bpf_conf *conf, bool tracepoints,
          struct bn_diag *d)
{
    uint32_t key;
    uint64_t val;
    int rc = 0;

    s->skel = agent_bpf__open();
    if (!s->skel)
        return bn_diag_set(d, -errno, "<bpf>", 0, 0, "cannot open the eBPF skeleton: %s",
                           strerror(errno));
    sc_choose(s->skel, tracepoints, conf->files, &s->scm);
    rc = agent_bpf__load(s->skel);
    if (rc) {
        rc = bn_diag_set(d, rc, "<bpf>", 0, 0, "cannot load the eBPF programs%s: %s",
                         tracepoints ? " (per-syscall tracepoints)" : "", strerror(-rc));
        goto fail;
    }
    /* libbpf parsed the kernel's BTF for the load (~11 MB of heap) and freed it; whether
     * glibc gives that back depends on what was allocated above it meanwhile (with the
     * file record's base walk added the agent kept it: RSS 33 MB instead of 25 MB) */
    malloc_trim(0);
    if (bpf_program__autoload(s->skel->progs.sc_file_base)) {
        /* without it a relative path's record is submitted without its base directory,
         * and user space reads /proc as before */
        int pfd = bpf_program__fd(s->skel->progs.sc_file_base);

        key = 0;
        bpf_map_update_elem(bpf_map__fd(s->skel->maps.file_tail), &key, &pfd, BPF_ANY);
    }
    key = AB_CFG_AGENT_TGID;
    val = (uint64_t)getpid();
    bpf_map_update_elem(bpf_map__fd(s->skel->maps.agent_config), &key, &val, BPF_ANY);
    key = AB_CFG_FILE_ALL;
    val = conf->files_all ? 1 : 0;
    s->files_all = conf->files_all;
    bpf_map_update_elem(bpf_map__fd(s->skel->maps.agent_config), &key, &val, BPF_ANY);
    for (size_t i = 0; i < conf->ninclude; i++)
        if ((rc = prefix_add(s, bpf_map__fd(s->skel->maps.prefixes), conf->include[i],
                             AB_PF_INCLUDE, d)))
            goto fail;
    for (size_t i = 0; i < conf->nexclude; i++)
        if ((rc = prefix_add(s, bpf_map__fd(s->skel->maps.prefixes), conf->exclude[i],
                             AB_PF_EXCLUDE, d)))
            goto fail;
    s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
    if (!s->rb) {
        rc = bn_diag_set(d, -errno, "<bpf>", 0, 0, "cannot open the eBPF ring buffer: %s",
                         strerror(errno));
        goto fail;
    }
    /* An eventfd in the ring buffer's epoll set, so bpf_stop wakes an idle reader at once.
     * libbpf takes an epoll event's data as a ring index: 0 (our only ring), whose
     * processing finds nothing then. Without it the reader sees the stop flag within
     * IDLE_POLL_MS. */
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = 0};

        if (epoll_ctl(ring_buffer__epoll_fd(s->rb), EPOLL_CTL_ADD, s->stop_fd, &ev) != 0) {
            close(s->stop_fd);
            s->stop_fd = -1;
        }
    }
    rc = agent_bpf__attach(s->skel);
    if (rc) {
        rc = bn_diag_set(d, rc, "<bpf>", 0, 0, "cannot attach the eBPF programs%s: %s",
                         tracepoints ? " (per-syscall tracepoints)" : "", strerror(-rc));
        goto fail;
    }
    return 0;
fail:
    if (s->stop_fd >= 0) {
        close(s->stop_fd);
        s->stop_fd = -1;
    }
    ring_buffer__free(s->rb);
    s->rb = NULL;
    agent_bpf__destroy(s->skel);
    s->skel = NULL;
    return rc;
}

int
agent_bpf_start_conf(struct agent *a, const struct agent_bpf_conf *conf, void **state,
                     struct bn_diag *d)
{
    struct bpf_state *s = NULL;
    bool tracepoints;
    int rc = 0;

    *state = NULL;
    if (!conf)
        conf = &agent_bpf_default_conf;
    if (conf->ninclude > AGENT_BPF_PATHS_MAX || conf->nexclude > AGENT_BPF_PATHS_MAX)
        return bn_diag_set(d, BN_EINVAL, "<bpf>", 0, 0, "too many file path prefixes");
    s = bn_calloc(1, sizeof(*s));
    if (!s)
        return BN_ENOMEM;
    s->cg_fd = -1;
    s->stop_fd = -1;
    s->a = a;
    s->files = conf->files;
    s->poll_ms = conf->poll_ms > 0 ? conf->poll_ms : AGENT_BPF_POLL_MS;
    s->boot_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
    s->self_mnt_ns = self_ns("mnt");
    s->self_pid_ns = self_ns("pid");
    cg_init(s);
    libbpf_set_print(silent_print);
    tracepoints = conf->syscalls != AGENT_BPF_SC_RAW;
    if (tracepoints && !sc_events_present(true)) {
        if (conf->syscalls == AGENT_BPF_SC_TRACEPOINT) {
            rc = bn_diag_set(d, BN_EUNSUP, "<bpf>", 0, 0,
                             "collect.bpf_syscalls is tracepoint but %s is not there (no "
                             "tracefs, or a kernel without syscall tracepoints)",
                             sc_events_dir());
            goto out;
        }
        tracepoints = false;
        snprintf(s->scm.why_raw, sizeof(s->scm.why_raw), "no syscall tracepoints in %s",
                 sc_events_dir());
    }
    rc = bpf_setup(s, conf, tracepoints, d);
    if (rc && tracepoints && conf->syscalls == AGENT_BPF_SC_AUTO) {
        char why[sizeof(s->scm.why_raw)];
        const char *m = d && d->msg[0] ? d->msg : "per-syscall tracepoints failed";
        size_t n = strnlen(m, sizeof(why) - 1);

        memcpy(why, m, n); /* cut: the reason's start says what failed */
        why[n] = '\0';
        bn_diag_clear(d);
        rc = bpf_setup(s, conf, false, d);
        memcpy(s->scm.why_raw, why, n + 1);
    }
    if (rc)
        goto out;
    if (!s->scm.tracepoints && !s->scm.why_raw[0])
        snprintf(s->scm.why_raw, sizeof(s->scm.why_raw), "collect.bpf_syscalls is raw");
    rc = pthread_create(&s->thread, NULL, poll_thread, s);
    if (rc == 0)
        pthread_setname_np(s->thread, "bn-bpf"); /* for top -H, perf and the bench */
    if (rc) {
        rc = bn_diag_set(d, -rc, "<bpf>", 0, 0, "cannot start the eBPF reader thread");
        goto out;
    }
    s->thread_started = true;
    *state = s;
    s = NULL;
out:
    bpf_stop(a, s);
    return rc;
}

static int
bpf_start(struct agent *a, void **state, struct bn_diag *d)
{
    return agent_bpf_start_conf(a, &agent_bpf_default_conf, state, d);
}

static int
bpf_probe(struct agent *a, struct bn_diag *d)
{
    struct agent_bpf *skel;
    struct sc_mode m;
    int rc;

    (void)a;
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        return bn_diag_set(d, BN_EUNSUP, "<bpf>", 0, 0,
                           "no kernel BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load");
    libbpf_set_print(silent_print);
    skel = agent_bpf__open();
    if (!skel)
        return bn_diag_set(d, -errno, "<bpf>", 0, 0, "cannot open the eBPF skeleton: %s",
                           strerror(errno));
    /* the raw syscall pair: the fallback, so what must load for the tier to run */
    sc_choose(skel, false, true, &m);
    rc = agent_bpf__load(skel);
    agent_bpf__destroy(skel);
    if (rc)
        return bn_diag_set(d, rc, "<bpf>", 0, 0,
                           "cannot load the eBPF programs (%s): needs root or CAP_BPF + "
                           "CAP_PERFMON and a kernel with BTF tracepoints", strerror(-rc));
    return 0;
}

static void
bpf_describe(struct agent *a, void *state, char *buf, size_t size)
{
    struct agent_bpf_stats st;
    size_t len = strnlen(buf, size);

    (void)a;
    if (len >= size)
        return;
    len += (size_t)snprintf(buf + len, size - len,
        "bpf: tier 1, eBPF CO-RE (tp_btf): exec with full argv (%d bytes kept), exe and its "
        "identity (SHA-256 cache without a stat), working directory, uids, loginuid, "
        "session, tty, cgroup (container id); exit codes; TCP connect/accept/listen "
        "with 5-tuple and Community ID (accepts attributed to the listener's owner); "
        "UDP flows and DNS questions; file create, close-after-write, rename, delete, "
        "chmod/chown under the configured prefixes (filtered in the kernel); kernel module "
        "and BPF program loads; signals and ptrace aimed at the agent. Not seen: DNS "
        "answers; x86-64 syscalls only.\n", AB_ARGS_LEN);
    if (len >= size)
        return;
    {
        struct sc_mode m;
        struct bpf_state *s = state;

        memset(&m, 0, sizeof(m));
        if (s) {
            m = s->scm;
        } else {
            struct agent_bpf *skel = agent_bpf__open();
            bool present = sc_events_present(false);

            if (skel) {
                sc_choose(skel, present, true, &m);
                agent_bpf__destroy(skel);
            }
            if (!present)
                snprintf(m.why_raw, sizeof(m.why_raw),
                         "no syscall tracepoints in %s (the agent mounts tracefs at "
                         "/sys/kernel/tracing if it is absent)", sc_events_dir());
        }
        if (m.tracepoints)
            len += (size_t)snprintf(buf + len, size - len,
                "bpf: watched syscalls %s per-syscall tracepoints (%d programs in %s): other "
                "syscalls run no BPF program%s%s\n", s ? "through" : "would use", m.attached,
                sc_events_dir(), m.absent ? "; not in this kernel (no tracepoint): " : "",
                m.absent_names);
        else
            len += (size_t)snprintf(buf + len, size - len,
                "bpf: watched syscalls %s the raw sys_enter/sys_exit programs (a program run "
                "on every syscall of every process): %s\n", s ? "through" : "would use",
                m.why_raw[0] ? m.why_raw : "per-syscall tracepoints unavailable");
    }
    if (state && len < size) {
        agent_bpf_stats(state, &st);
        snprintf(buf + len, size - len,
                 "bpf: records %" PRIu64 ", ring buffer drops %" PRIu64 ", filtered %" PRIu64
                 ", bad %" PRIu64 ", emit errors %" PRIu64 "\n",
                 st.records, st.drops, st.filtered, st.bad_records, st.emit_errors);
    }
}

#else /* !BN_HAVE_BPF */

int
agent_bpf_start_conf(struct agent *a, const struct agent_bpf_conf *conf, void **state,
                     struct bn_diag *d)
{
    (void)a;
    (void)conf;
    *state = NULL;
    return bn_diag_set(d, BN_EUNSUP, "<bpf>", 0, 0,
                       "built without the eBPF tier (no clang, bpftool or kernel BTF at build time)");
}

void
agent_bpf_stats(void *state, struct agent_bpf_stats *st)
{
    (void)state;
    memset(st, 0, sizeof(*st));
}

static int
bpf_probe(struct agent *a, struct bn_diag *d)
{
    (void)a;
    return bn_diag_set(d, BN_EUNSUP, "<bpf>", 0, 0,
                       "built without the eBPF tier (no clang, bpftool or kernel BTF at build time)");
}

static int
bpf_start(struct agent *a, void **state, struct bn_diag *d)
{
    return agent_bpf_start_conf(a, NULL, state, d);
}

static void
bpf_stop(struct agent *a, void *state)
{
    (void)a;
    (void)state;
}

static void
bpf_describe(struct agent *a, void *state, char *buf, size_t size)
{
    size_t len = strnlen(buf, size);

    (void)a;
    (void)state;
    if (len < size)
        snprintf(buf + len, size - len, "bpf: not built (no clang, bpftool or BTF)\n");
}

#endif

/* Reads the first question of a DNS message (RFC 1035 4.1.2) as a dotted name. */
int
agent_bpf_dns_question(const uint8_t *msg, size_t len, char *out, size_t size)
{
    size_t off = 12, n = 0;

    if (size)
        out[0] = '\0';
    if (!msg || len < 12 || size < 2)
        return BN_EINVAL;
    if (msg[2] & 0x80)
        return BN_DECLINED; /* a response, not a query */
    if (((uint16_t)msg[4] << 8 | msg[5]) == 0)
        return BN_DECLINED; /* no question */
    for (;;) {
        uint8_t l;

        if (off >= len)
            return BN_ETRUNC;
        l = msg[off++];
        if (l == 0)
            break;
        if (l & 0xc0)
            return BN_EFORMAT; /* no compression in a question's first name */
        if (off + l > len)
            return BN_ETRUNC;
        if (n + l + 2 > size)
            return BN_ETOOBIG;
        if (n)
            out[n++] = '.';
        for (uint8_t i = 0; i < l; i++) {
            uint8_t c = msg[off + i];

            out[n++] = (c >= 0x21 && c <= 0x7e) ? (char)c : '?';
        }
        off += l;
    }
    out[n] = '\0';
    if (n == 0) {
        out[0] = '.';
        out[1] = '\0';
    }
    return 0;
}

const struct agent_collector_ops agent_collector_bpf = {
    .name = "bpf",
    .tier = AGENT_TIER_BPF,
    .probe = bpf_probe,
    .start = bpf_start,
    .stop = bpf_stop,
    .describe = bpf_describe,
};
