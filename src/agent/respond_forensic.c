/*
 * respond_forensic.c - the `forensics` action: a forensic package of the host, written as a
 * ustar archive (our own bounded writer) compressed with zstd into
 * state_dir/forensics/forensics-<UTC>-<pid>.tar.zst (0600, written as .part and renamed).
 *
 * Members, in order:
 *   processes.json    every process: pid, ppid, uid, name, state, exe, cmdline, start, rss, threads
 *   open_files.json   per process its fds and what they point to (capped per process)
 *   connections.json  /proc/net/{tcp,tcp6,udp,udp6} with the owning pids (socket inodes
 *                     found in /proc/PID/fd)
 *   users.json        logged-in users (utmp, getutxent)
 *   persistence.json  the persistence watch list: path, type, mode, owner, size, mtime, sha256
 *   events.jsonl      the last N lines of events_path (the agent's spool or output)
 *   files/<path>      each chosen file, at most BN_FOR_FILE_SIZE_MAX bytes (truncation noted)
 *   manifest.json     last: host, time, parameters, every member's size and SHA-256, what was
 *                     truncated, dropped or unreadable and why
 * The result gives the archive's path, size and SHA-256 and the manifest.
 *
 * Everything is bounded (limits.h "forensics"): a member past BN_FOR_MEMBER_MAX is cut (and
 * says so in the manifest), the archive stops taking chosen files past BN_FOR_PACKAGE_MAX.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utmpx.h>

#include <jansson.h>
#include <sodium.h>
#include <zstd.h>

#include "agent/respond_json.h"
#include "agent/respond_forensic.h"
#include "bannin/fileio.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"

#define FOR_EVENTS_DEFAULT      1000
#define FOR_PERSIST_ENTRIES_MAX 20000
#define FOR_PERSIST_DEPTH       3

static const char *const default_watch[] = {
    "/etc/crontab",
    "/etc/cron.d",
    "/etc/cron.hourly",
    "/etc/cron.daily",
    "/etc/cron.weekly",
    "/etc/cron.monthly",
    "/var/spool/cron",
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/etc/init.d",
    "/etc/rc.local",
    "/etc/ld.so.preload",
    "/etc/profile",
    "/etc/profile.d",
    "/etc/bash.bashrc",
    "/etc/environment",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/pam.d",
    "/etc/ssh/sshd_config",
    "/root/.ssh/authorized_keys",
    "/root/.bashrc",
    "/root/.profile",
    "/etc/xdg/autostart",
    "/etc/udev/rules.d",
    "/etc/modules-load.d",
};

struct resp_forensic {
    char *dir; /* state_dir/forensics */
};

int
resp_forensic_new(struct resp_forensic **out, const struct respond_paths *paths)
{
    *out = NULL;
    if (sodium_init() < 0)
        return BN_EINTERNAL;
    struct resp_forensic *m = bn_calloc(1, sizeof(*m));
    if (!m)
        return BN_ENOMEM;
    const char *sd = paths && paths->state_dir ? paths->state_dir : "/var/lib/bannin-agent";
    size_t n = strlen(sd) + sizeof("/forensics");
    m->dir = bn_malloc(n);
    if (!m->dir) {
        bn_free(m);
        return BN_ENOMEM;
    }
    snprintf(m->dir, n, "%s/forensics", sd);
    *out = m;
    return 0;
}

void
resp_forensic_free(struct resp_forensic *m)
{
    if (!m)
        return;
    bn_free(m->dir);
    bn_free(m);
}

/* ---- tar + zstd writer ---- */

struct tarw {
    int fd;
    ZSTD_CCtx *z;
    char *zbuf;
    size_t zcap;
    crypto_hash_sha256_state sha; /* of the compressed output */
    uint64_t raw;                 /* uncompressed bytes */
    uint64_t out;                 /* compressed bytes */
    int err;
    json_t *members; /* manifest entries */
};

static void
hexify(const unsigned char *h, size_t n, char *dst)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hx[h[i] >> 4];
        dst[2 * i + 1] = hx[h[i] & 15];
    }
    dst[2 * n] = '\0';
}

static int
tw_raw(struct tarw *t, const void *data, size_t n, bool end)
{
    if (t->err)
        return t->err;
    ZSTD_inBuffer in = {data, n, 0};
    for (;;) {
        ZSTD_outBuffer ob = {t->zbuf, t->zcap, 0};
        size_t left = ZSTD_compressStream2(t->z, &ob, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left))
            return t->err = BN_EINTERNAL;
        if (ob.pos) {
            int rc = bn_write_all(t->fd, t->zbuf, ob.pos);
            if (rc)
                return t->err = rc;
            crypto_hash_sha256_update(&t->sha, (const unsigned char *)t->zbuf, ob.pos);
            t->out += ob.pos;
        }
        if (end ? left == 0 : in.pos == in.size)
            break;
    }
    t->raw += n;
    return 0;
}

static void
octal(char *dst, size_t width, uint64_t v)
{
    /* width includes the terminating NUL; v must fit (callers check) */
    dst[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        dst[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
}

/* Writes a header (pax record first when the name does not fit ustar's 100+155). */
static int
tw_header(struct tarw *t, const char *name, uint64_t size, unsigned mode, time_t mtime, char type)
{
    char h[512];
    size_t nl = strlen(name);
    if (nl > 100 && type != 'x') {
        char rec[4200];
        size_t body = strlen(" path=\n") + nl, len = body + 1;
        while (snprintf(NULL, 0, "%zu", len) + body != len)
            len++;
        if (len >= sizeof(rec))
            return BN_ETOOBIG;
        snprintf(rec, sizeof(rec), "%zu path=%s\n", len, name);
        int rc = tw_header(t, "././@PaxHeader", len, 0644, mtime, 'x');
        if (rc)
            return rc;
        char pad[512] = {0};
        if ((rc = tw_raw(t, rec, len, false)) ||
            (rc = tw_raw(t, pad, (512 - len % 512) % 512, false)))
            return rc;
    }
    memset(h, 0, sizeof(h));
    snprintf(h, 100, "%s", nl > 100 ? name + nl - 99 : name); /* truncated: pax has it all */
    octal(h + 100, 8, mode & 07777);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    if (size > 077777777777ull)
        return BN_ETOOBIG;
    octal(h + 124, 12, size);
    octal(h + 136, 12, (uint64_t)(mtime > 0 ? mtime : 0));
    memset(h + 148, ' ', 8);
    h[156] = type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    snprintf(h + 265, 32, "root");
    snprintf(h + 297, 32, "root");
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return tw_raw(t, h, 512, false);
}

static int
tw_member_note(struct tarw *t, const char *name, uint64_t size, const unsigned char *hash,
               json_t *extra)
{
    char hex[65];
    hexify(hash, 32, hex);
    json_t *e = json_pack("{s:s, s:I, s:s}", "name", name, "size", (json_int_t)size, "sha256", hex);
    if (!e) {
        json_decref(extra);
        return BN_ENOMEM;
    }
    if (extra) {
        json_object_update(e, extra);
        json_decref(extra);
    }
    return json_array_append_new(t->members, e) ? BN_ENOMEM : 0;
}

static int
tw_add_mem(struct tarw *t, const char *name, const void *data, size_t n, json_t *extra)
{
    int rc = tw_header(t, name, n, 0600, time(NULL), '0');
    char pad[512] = {0};
    if (!rc)
        rc = tw_raw(t, data, n, false);
    if (!rc)
        rc = tw_raw(t, pad, (512 - n % 512) % 512, false);
    if (rc) {
        json_decref(extra);
        return rc;
    }
    unsigned char hash[32];
    crypto_hash_sha256(hash, data, n);
    return tw_member_note(t, name, n, hash, extra);
}

/* ---- helpers ---- */

static int
read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    while (*len + 1 < cap) {
        ssize_t r = read(fd, buf + *len, cap - 1 - *len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        *len += (size_t)r;
    }
    close(fd);
    buf[*len] = '\0';
    return 0;
}

static bool
all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Appends a jansson value (consumed) to a buffer member; sets *cut when it did not fit. */
static int
member_json(json_t *v, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!v)
        return BN_ENOMEM;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(v);
    if (!s)
        return BN_ENOMEM;
    *out = s;
    *len = strlen(s);
    return 0;
}

/* socket inode -> pid map (sorted array) */
struct sockpid {
    unsigned long ino;
    int pid;
};

struct ctx {
    struct tarw *t;
    json_t *notes; /* manifest: what was truncated, dropped, unreadable */
    struct sockpid *socks;
    size_t nsocks, capsocks;
    size_t socks_dropped; /* sockets whose owner is not mapped (map full) */
    size_t fd_bytes;      /* open_files.json so far (bounded by BN_FOR_MEMBER_MAX) */
    uint64_t budget;      /* BN_FOR_MEMBER_MAX per generated member: bytes of strings so far */
};

static void
note(struct ctx *c, const char *what, const char *detail)
{
    if (json_array_size(c->notes) >= 1000)
        return;
    json_array_append_new(c->notes, json_pack("{s:s, s:s}", "what", what, "detail", detail));
}

static int
sock_add(struct ctx *c, unsigned long ino, int pid)
{
    if (c->nsocks == c->capsocks) {
        size_t ncap = c->capsocks ? c->capsocks * 2 : 256;
        if (ncap > (size_t)BN_FOR_PROCS_MAX * 64) {
            c->socks_dropped++;
            return 0;
        }
        struct sockpid *n = bn_reallocarray(c->socks, ncap, sizeof(*n));
        if (!n)
            return BN_ENOMEM;
        c->socks = n;
        c->capsocks = ncap;
    }
    c->socks[c->nsocks++] = (struct sockpid){ino, pid};
    return 0;
}

static int
sock_cmp(const void *a, const void *b)
{
    const struct sockpid *x = a, *y = b;
    return x->ino < y->ino ? -1 : x->ino > y->ino ? 1 : x->pid - y->pid;
}

/* ---- processes and open files ---- */

static json_t *
proc_entry(int pid)
{
    char path[64], buf[8192];
    size_t len;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (read_small(path, buf, sizeof(buf), &len) || len == 0)
        return NULL;
    char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    if (!lp || !rp || rp < lp)
        return NULL;
    *rp = '\0';
    const char *comm = lp + 1;
    char state = '?';
    int ppid = 0;
    unsigned long long start = 0, rss = 0;
    long threads = 0;
    /* fields after ')': 3 state, 4 ppid, ... 20 num_threads, 22 starttime, 24 rss */
    char *f = rp + 2;
    int idx = 3;
    for (char *tok = f; tok && *tok; idx++) {
        char *sp = strchr(tok, ' ');
        if (sp)
            *sp = '\0';
        if (idx == 3)
            state = tok[0];
        else if (idx == 4)
            ppid = (int)strtol(tok, NULL, 10);
        else if (idx == 20)
            threads = strtol(tok, NULL, 10);
        else if (idx == 22)
            start = strtoull(tok, NULL, 10);
        else if (idx == 24) {
            rss = strtoull(tok, NULL, 10);
            break;
        }
        tok = sp ? sp + 1 : NULL;
    }
    char st[2] = {state, '\0'};
    json_t *e = json_pack("{s:i, s:i, s:s, s:s, s:I, s:I, s:I}", "pid", pid, "ppid", ppid, "name",
                          comm, "state", st, "start_ticks", (json_int_t)start, "rss_kb",
                          (json_int_t)(rss * (unsigned long long)sysconf(_SC_PAGESIZE) / 1024),
                          "threads", (json_int_t)threads);
    if (!e)
        return NULL;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (read_small(path, buf, sizeof(buf), &len) == 0) {
        char *u = strstr(buf, "\nUid:");
        if (u)
            json_object_set_new(e, "uid", json_integer(strtol(u + 5, NULL, 10)));
    }
    snprintf(path, sizeof(path), "/proc/%d/exe", pid);
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = '\0';
        json_object_set_new(e, "exe", json_string(buf));
    }
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    if (read_small(path, buf, 4097, &len) == 0 && len) {
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        while (len && buf[len - 1] == ' ')
            buf[--len] = '\0';
        json_t *s = json_stringn(buf, len);
        if (!s) { /* not UTF-8: keep printable ASCII */
            for (size_t i = 0; i < len; i++)
                if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
                    buf[i] = '?';
            s = json_stringn(buf, len);
        }
        json_object_set_new(e, "cmdline", s);
    }
    return e;
}

static json_t *
safe_string(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char buf[4096];
    size_t i = 0;
    for (; s[i] && i < sizeof(buf) - 1; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) ? '?' : s[i];
    buf[i] = '\0';
    return json_string(buf);
}

static json_t *
proc_fds(struct ctx *c, int pid, size_t *dropped)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    json_t *arr = json_array();
    struct dirent *de;
    size_t n = 0;
    while (arr && (de = readdir(d)) != NULL) {
        if (!all_digits(de->d_name))
            continue;
        char lp[300], target[4096];
        snprintf(lp, sizeof(lp), "/proc/%d/fd/%s", pid, de->d_name);
        ssize_t r = readlink(lp, target, sizeof(target) - 1);
        if (r < 0)
            continue;
        target[r] = '\0';
        unsigned long ino;
        if (sscanf(target, "socket:[%lu]", &ino) == 1 && sock_add(c, ino, pid) != 0)
            break;
        if (n >= BN_FOR_FDS_MAX || c->fd_bytes + (size_t)r + 64 > BN_FOR_MEMBER_MAX) {
            (*dropped)++;
            continue;
        }
        c->fd_bytes += (size_t)r + 64; /* upper bound of the entry's JSON, escaping aside */
        json_array_append_new(arr, json_pack("{s:i, s:o}", "fd", (int)strtol(de->d_name, NULL, 10),
                                             "target", safe_string(target)));
        n++;
    }
    closedir(d);
    return arr;
}

/* processes.json and open_files.json (also fills the socket map) */
static int
add_processes(struct ctx *c)
{
    DIR *d = opendir("/proc");
    if (!d) {
        note(c, "processes", "cannot open /proc");
        return 0;
    }
    json_t *procs = json_array(), *files = json_array();
    size_t nprocs = 0, dropped_procs = 0, dropped_fds = 0, proc_bytes = 0;
    struct dirent *de;
    int rc = 0;
    while (procs && files && (de = readdir(d)) != NULL) {
        if (!all_digits(de->d_name))
            continue;
        if (nprocs >= BN_FOR_PROCS_MAX) {
            dropped_procs++;
            continue;
        }
        int pid = (int)strtol(de->d_name, NULL, 10);
        json_t *e = proc_entry(pid);
        if (!e)
            continue; /* exited meanwhile */
        size_t esz = json_dumpb(e, NULL, 0, JSON_COMPACT | JSON_ENSURE_ASCII) + 1;
        if (proc_bytes + esz > BN_FOR_MEMBER_MAX) {
            json_decref(e);
            dropped_procs++;
            continue;
        }
        proc_bytes += esz;
        json_array_append_new(procs, e);
        nprocs++;
        size_t dfd = 0;
        json_t *fds = proc_fds(c, pid, &dfd);
        dropped_fds += dfd;
        if (fds) {
            json_t *pe = json_pack("{s:i, s:o}", "pid", pid, "fds", fds);
            if (dfd && pe)
                json_object_set_new(pe, "fds_dropped", json_integer((json_int_t)dfd));
            json_array_append_new(files, pe);
        }
    }
    closedir(d);
    if (!procs || !files) {
        json_decref(procs);
        json_decref(files);
        return BN_ENOMEM;
    }
    char msg[128];
    if (dropped_procs) {
        snprintf(msg, sizeof(msg),
                 "%zu processes past BN_FOR_PROCS_MAX or BN_FOR_MEMBER_MAX bytes not listed",
                 dropped_procs);
        note(c, "processes", msg);
    }
    if (dropped_fds) {
        snprintf(
            msg, sizeof(msg),
            "%zu open files past BN_FOR_FDS_MAX per process or BN_FOR_MEMBER_MAX bytes not listed",
            dropped_fds);
        note(c, "open_files", msg);
    }
    char *s;
    size_t len;
    json_int_t np = (json_int_t)json_array_size(procs);
    if ((rc = member_json(procs, &s, &len)) != 0) {
        json_decref(files);
        return rc;
    }
    rc = tw_add_mem(c->t, "processes.json", s, len, json_pack("{s:I}", "count", np));
    free(s);
    if (rc) {
        json_decref(files);
        return rc;
    }
    if ((rc = member_json(files, &s, &len)) != 0)
        return rc;
    rc = tw_add_mem(c->t, "open_files.json", s, len, NULL);
    free(s);
    return rc;
}

static const char *
tcp_state(unsigned st)
{
    static const char *const n[] = {
        "?",     "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
        "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
    return st < sizeof(n) / sizeof(n[0]) ? n[st] : "?";
}

static void
addr_str(const char *hex, bool v6, char *out, size_t cap)
{
    unsigned char b[16];
    size_t nb = v6 ? 16 : 4;
    if (strlen(hex) != nb * 2) {
        snprintf(out, cap, "?");
        return;
    }
    /* /proc/net prints each 32-bit word in host (little-endian) order */
    for (size_t w = 0; w < nb / 4; w++) {
        for (size_t i = 0; i < 4; i++) {
            unsigned v;
            sscanf(hex + w * 8 + i * 2, "%2x", &v);
            b[w * 4 + 3 - i] = (unsigned char)v;
        }
    }
    if (!v6) {
        snprintf(out, cap, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        return;
    }
    char *p = out;
    size_t left = cap;
    for (int i = 0; i < 16 && left > 5; i += 2) {
        int n = snprintf(p, left, "%s%x", i ? ":" : "", (b[i] << 8) | b[i + 1]);
        p += n;
        left -= (size_t)n;
    }
}

static int
add_connections(struct ctx *c)
{
    if (c->nsocks)
        qsort(c->socks, c->nsocks, sizeof(*c->socks), sock_cmp);
    static const struct {
        const char *file, *proto;
        bool v6;
    } tabs[] = {{"/proc/net/tcp", "tcp", false},
                {"/proc/net/tcp6", "tcp6", true},
                {"/proc/net/udp", "udp", false},
                {"/proc/net/udp6", "udp6", true}};
    json_t *arr = json_array();
    size_t rows = 0, dropped = 0;
    for (size_t k = 0; arr && k < sizeof(tabs) / sizeof(tabs[0]); k++) {
        FILE *f = fopen(tabs[k].file, "re");
        if (!f) {
            note(c, "connections", tabs[k].file);
            continue;
        }
        char line[512];
        bool first = true;
        while (fgets(line, sizeof(line), f)) {
            if (first) {
                first = false;
                continue;
            }
            char la[40], ra[40];
            unsigned lport, rport, st, uid;
            unsigned long ino;
            if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*s %*s %*s %u %*u %lu",
                       la, &lport, ra, &rport, &st, &uid, &ino) != 7)
                continue;
            if (rows >= BN_FOR_PROCS_MAX) {
                dropped++;
                continue;
            }
            char ls[64], rs[64];
            addr_str(la, tabs[k].v6, ls, sizeof(ls));
            addr_str(ra, tabs[k].v6, rs, sizeof(rs));
            json_t *pids = json_array();
            struct sockpid key = {ino, 0};
            size_t lo = 0, hi = c->nsocks;
            while (lo < hi) { /* first entry with this inode */
                size_t mid = (lo + hi) / 2;
                if (c->socks[mid].ino < key.ino)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (size_t i = lo; pids && ino && i < c->nsocks && c->socks[i].ino == ino; i++)
                json_array_append_new(pids, json_integer(c->socks[i].pid));
            const char *state = tabs[k].proto[0] == 't' ? tcp_state(st)
                                : st == 7               ? "UNCONN"
                                                        : tcp_state(st);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:i, s:I, s:o}",
                                                 "proto", tabs[k].proto, "local", ls, "lport",
                                                 (int)lport, "remote", rs, "rport", (int)rport,
                                                 "state", state, "uid", (int)uid, "inode",
                                                 (json_int_t)ino, "pids", pids));
            rows++;
        }
        fclose(f);
    }
    if (!arr)
        return BN_ENOMEM;
    if (dropped) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%zu sockets past BN_FOR_PROCS_MAX not listed", dropped);
        note(c, "connections", msg);
    }
    if (c->socks_dropped) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%zu socket fds not mapped to their pid (map full)",
                 c->socks_dropped);
        note(c, "connections", msg);
    }
    char *s;
    size_t len;
    int rc = member_json(arr, &s, &len);
    if (rc)
        return rc;
    rc =
        tw_add_mem(c->t, "connections.json", s, len, json_pack("{s:I}", "count", (json_int_t)rows));
    free(s);
    return rc;
}

static int
add_users(struct ctx *c)
{
    json_t *arr = json_array();
    if (!arr)
        return BN_ENOMEM;
    setutxent();
    struct utmpx *u;
    size_t n = 0;
    while ((u = getutxent()) != NULL && n < 10000) {
        if (u->ut_type != USER_PROCESS)
            continue;
        char user[sizeof(u->ut_user) + 1], line[sizeof(u->ut_line) + 1],
            host[sizeof(u->ut_host) + 1];
        snprintf(user, sizeof(user), "%.*s", (int)sizeof(u->ut_user), u->ut_user);
        snprintf(line, sizeof(line), "%.*s", (int)sizeof(u->ut_line), u->ut_line);
        snprintf(host, sizeof(host), "%.*s", (int)sizeof(u->ut_host), u->ut_host);
        json_array_append_new(arr,
                              json_pack("{s:o, s:o, s:o, s:i, s:I}", "user", safe_string(user),
                                        "line", safe_string(line), "host", safe_string(host), "pid",
                                        (int)u->ut_pid, "login_time", (json_int_t)u->ut_tv.tv_sec));
        n++;
    }
    endutxent();
    char *s;
    size_t len;
    int rc = member_json(arr, &s, &len);
    if (rc)
        return rc;
    rc = tw_add_mem(c->t, "users.json", s, len, json_pack("{s:I}", "count", (json_int_t)n));
    free(s);
    return rc;
}

static int
hash_file(const char *path, char hex[65], uint64_t *hashed)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (size_t)r);
        total += (uint64_t)r;
        if (total > BN_FOR_FILE_SIZE_MAX) {
            close(fd);
            return BN_ETOOBIG;
        }
    }
    close(fd);
    unsigned char h[32];
    crypto_hash_sha256_final(&st, h);
    hexify(h, 32, hex);
    *hashed = total;
    return 0;
}

static void
persist_walk(struct ctx *c, json_t *arr, const char *path, int depth, size_t *dropped)
{
    if (json_array_size(arr) >= FOR_PERSIST_ENTRIES_MAX) {
        (*dropped)++;
        return;
    }
    struct stat st;
    if (lstat(path, &st) < 0)
        return; /* absent watch paths are normal */
    const char *type = S_ISREG(st.st_mode)   ? "file"
                       : S_ISDIR(st.st_mode) ? "dir"
                       : S_ISLNK(st.st_mode) ? "symlink"
                                             : "other";
    json_t *e = json_pack("{s:o, s:s, s:s, s:i, s:i, s:I, s:I}", "path", safe_string(path), "type",
                          type, "mode", "", "uid", (int)st.st_uid, "gid", (int)st.st_gid, "size",
                          (json_int_t)st.st_size, "mtime", (json_int_t)st.st_mtime);
    if (!e)
        return;
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
    json_object_set_new(e, "mode", json_string(mode));
    if (S_ISLNK(st.st_mode)) {
        char t[4096];
        ssize_t n = readlink(path, t, sizeof(t) - 1);
        if (n >= 0) {
            t[n] = '\0';
            json_object_set_new(e, "target", safe_string(t));
        }
    } else if (S_ISREG(st.st_mode)) {
        char hex[65];
        uint64_t n;
        int rc = hash_file(path, hex, &n);
        if (rc == 0)
            json_object_set_new(e, "sha256", json_string(hex));
        else
            json_object_set_new(e, "sha256_error", json_string(bn_strerror(rc)));
    }
    json_array_append_new(arr, e);
    if (S_ISDIR(st.st_mode) && depth < FOR_PERSIST_DEPTH) {
        DIR *d = opendir(path);
        if (!d)
            return;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char child[4096];
            if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >= sizeof(child))
                continue;
            persist_walk(c, arr, child, depth + 1, dropped);
        }
        closedir(d);
    }
}

static int
add_persistence(struct ctx *c, json_t *watch)
{
    json_t *arr = json_array();
    if (!arr)
        return BN_ENOMEM;
    size_t dropped = 0;
    if (watch) {
        size_t i;
        json_t *v;
        json_array_foreach(watch, i, v) persist_walk(c, arr, json_string_value(v), 0, &dropped);
    } else {
        for (size_t i = 0; i < sizeof(default_watch) / sizeof(default_watch[0]); i++)
            persist_walk(c, arr, default_watch[i], 0, &dropped);
        /* users' authorized_keys and shell start-up files */
        DIR *d = opendir("/home");
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            static const char *const rel[] = {".ssh/authorized_keys", ".bashrc", ".profile",
                                              ".config/autostart"};
            for (size_t k = 0; k < sizeof(rel) / sizeof(rel[0]); k++) {
                char p[1024];
                snprintf(p, sizeof(p), "/home/%s/%s", de->d_name, rel[k]);
                persist_walk(c, arr, p, 0, &dropped);
            }
        }
        if (d)
            closedir(d);
    }
    if (dropped) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%zu entries past %d not listed", dropped,
                 FOR_PERSIST_ENTRIES_MAX);
        note(c, "persistence", msg);
    }
    json_int_t n = (json_int_t)json_array_size(arr);
    char *s;
    size_t len;
    int rc = member_json(arr, &s, &len);
    if (rc)
        return rc;
    rc = tw_add_mem(c->t, "persistence.json", s, len, json_pack("{s:I}", "count", n));
    free(s);
    return rc;
}

/* The last n lines of path (reads at most BN_FOR_MEMBER_MAX bytes from the end). */
static int
add_events(struct ctx *c, const char *path, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
        note(c, "events", msg);
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        note(c, "events", "events_path is not a regular file");
        return 0;
    }
    size_t want = st.st_size > (off_t)BN_FOR_MEMBER_MAX ? BN_FOR_MEMBER_MAX : (size_t)st.st_size;
    off_t from = st.st_size - (off_t)want;
    char *buf = bn_malloc(want + 1);
    if (!buf) {
        close(fd);
        return BN_ENOMEM;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(fd, buf + got, want - got, from + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    /* walk back n newlines (a final newline ends the last line, it does not start one) */
    size_t end = got, start = got, lines = 0;
    if (end && buf[end - 1] == '\n')
        start = end - 1;
    while (start > 0 && lines < n) {
        if (buf[start - 1] == '\n')
            lines++;
        if (lines == n)
            break;
        start--;
    }
    if (lines < n && from > 0) { /* the window began mid-line: drop the partial line */
        char *nl = memchr(buf + start, '\n', end - start);
        start = nl ? (size_t)(nl - buf) + 1 : end;
        note(c, "events", "fewer lines than asked: BN_FOR_MEMBER_MAX bytes read from the end");
    }
    size_t count = 0;
    for (size_t i = start; i < end; i++)
        count += buf[i] == '\n';
    if (end > start && buf[end - 1] != '\n')
        count++;
    int rc = tw_add_mem(c->t, "events.jsonl", buf + start, end - start,
                        json_pack("{s:s, s:I}", "source", path, "lines", (json_int_t)count));
    bn_free(buf);
    return rc;
}

static int
add_chosen_file(struct ctx *c, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    char msg[700];
    if (fd < 0) {
        snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
        note(c, "files", msg);
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, sizeof(msg), "%s: not a regular file", path);
        note(c, "files", msg);
        close(fd);
        return 0;
    }
    uint64_t size = (uint64_t)st.st_size, take = size;
    bool truncated = false;
    if (take > BN_FOR_FILE_SIZE_MAX) {
        take = BN_FOR_FILE_SIZE_MAX;
        truncated = true;
    }
    if (c->t->raw + take > BN_FOR_PACKAGE_MAX) {
        snprintf(msg, sizeof(msg), "%s: not added, the package would pass BN_FOR_PACKAGE_MAX",
                 path);
        note(c, "files", msg);
        close(fd);
        return 0;
    }
    char name[4200];
    snprintf(name, sizeof(name), "files%s", path);
    int rc = tw_header(c->t, name, take, st.st_mode & 0777, st.st_mtime, '0');
    crypto_hash_sha256_state hs;
    crypto_hash_sha256_init(&hs);
    unsigned char *buf = bn_malloc(65536);
    if (!buf)
        rc = rc ? rc : BN_ENOMEM;
    uint64_t done = 0;
    bool shrank = false;
    while (!rc && done < take) {
        size_t want = take - done > 65536 ? 65536 : (size_t)(take - done);
        ssize_t r = read(fd, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* shrank while read: pad with zeros so the header stays true */
            shrank = true;
            memset(buf, 0, want);
            r = (ssize_t)want;
        }
        crypto_hash_sha256_update(&hs, buf, (size_t)r);
        rc = tw_raw(c->t, buf, (size_t)r, false);
        done += (uint64_t)r;
    }
    close(fd);
    bn_free(buf);
    if (!rc) {
        char pad[512] = {0};
        rc = tw_raw(c->t, pad, (512 - take % 512) % 512, false);
    }
    if (rc)
        return rc;
    unsigned char h[32];
    crypto_hash_sha256_final(&hs, h);
    json_t *extra =
        json_pack("{s:s, s:I, s:b, s:b, s:s}", "source", path, "source_size", (json_int_t)size,
                  "truncated", truncated, "changed_while_read", shrank, "mode", "");
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
    if (extra)
        json_object_set_new(extra, "mode", json_string(mode));
    return tw_member_note(c->t, name, take, h, extra);
}

/* True when a path has a "." or ".." segment (archive names must not climb out). */
static bool
has_dot_segment(const char *p)
{
    for (const char *s = p; (s = strchr(s, '/')) != NULL; s++) {
        if (s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
            return true;
        if (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))
            return true;
    }
    return false;
}

static int
mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return BN_ETOOBIG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* The parameters' checks (shared with resp_forensic_check): NULL, or why they are bad. */
static const char *
forensic_bad(json_t *o)
{
    json_t *jfiles = json_object_get(o, "files"), *jev = json_object_get(o, "events"),
           *jevp = json_object_get(o, "events_path"), *jwatch = json_object_get(o, "watch");
    const char *bad = NULL;
    if (jfiles && (!json_is_array(jfiles) || json_array_size(jfiles) > BN_FOR_FILES_MAX))
        bad = "params: 'files' must be an array of at most BN_FOR_FILES_MAX absolute paths";
    if (jwatch && (!json_is_array(jwatch) || json_array_size(jwatch) > 1000))
        bad = "params: 'watch' must be an array of at most 1000 absolute paths";
    for (int k = 0; !bad && k < 2; k++) {
        json_t *a = k ? jwatch : jfiles;
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
            if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
                strlen(json_string_value(v)) != json_string_length(v) ||
                json_string_length(v) > 4000 || has_dot_segment(json_string_value(v)))
                bad = k ? "params: every 'watch' entry must be an absolute path without . or "
                          ".. segments"
                        : "params: every 'files' entry must be an absolute path without . or "
                          ".. segments";
        }
    }
    if (!bad && jev &&
        (!json_is_integer(jev) || json_integer_value(jev) < 0 ||
         json_integer_value(jev) > BN_FOR_EVENTS_MAX))
        bad = "params: 'events' must be an integer 0..BN_FOR_EVENTS_MAX (100000)";
    if (!bad && jevp &&
        (!json_is_string(jevp) || json_string_value(jevp)[0] != '/' ||
         strlen(json_string_value(jevp)) != json_string_length(jevp) ||
         json_string_length(jevp) > 4000))
        bad = "params: 'events_path' must be an absolute path";
    return bad;
}

/* The params as a JSON object (none = {}); NULL with the reason put in out. */
static json_t *
forensic_params(const char *params, size_t len, struct bn_buf *out)
{
    char msg[300];
    if (len > BN_RESP_PARAMS_MAX) {
        snprintf(msg, sizeof(msg), "params: %zu bytes, limit %u", len, BN_RESP_PARAMS_MAX);
        resp_put_fail(out, msg);
        return NULL;
    }
    json_error_t jerr;
    json_t *o =
        params && len ? json_loadb(params, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
    if (!o || !json_is_object(o)) {
        if (o)
            snprintf(msg, sizeof(msg), "params: not a JSON object");
        else
            snprintf(msg, sizeof(msg), "params:%d:%d: %s", jerr.line, jerr.column, jerr.text);
        json_decref(o);
        resp_put_fail(out, msg);
        return NULL;
    }
    return o;
}

int
resp_forensic_check(const char *params, size_t len, struct bn_buf *out)
{
    json_t *o = forensic_params(params, len, out);
    if (!o)
        return BN_EINVAL;
    const char *bad = forensic_bad(o);
    int rc = bad ? BN_EINVAL : 0;
    if (bad)
        resp_put_fail(out, bad);
    else
        rc = resp_put_json(out, json_pack("{s:b,s:O}", "ok", 1, "params", o));
    json_decref(o);
    return rc;
}

int
resp_forensics(struct resp_forensic *m, const char *params, size_t len, struct bn_buf *out)
{
    char msg[4600];
    json_t *o = forensic_params(params, len, out);
    if (!o)
        return BN_EINVAL;
    json_t *jfiles = json_object_get(o, "files"), *jev = json_object_get(o, "events"),
           *jevp = json_object_get(o, "events_path"), *jwatch = json_object_get(o, "watch");
    const char *bad = forensic_bad(o);
    if (bad) {
        json_decref(o);
        resp_put_fail(out, bad);
        return BN_EINVAL;
    }
    size_t nevents = jev ? (size_t)json_integer_value(jev) : FOR_EVENTS_DEFAULT;

    int rc = mkdir_p(m->dir);
    if (rc) {
        snprintf(msg, sizeof(msg), "cannot create '%s': %s", m->dir, bn_strerror(rc));
        json_decref(o);
        return resp_put_fail(out, msg);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char final[4200], part[4300];
    snprintf(final, sizeof(final), "%s/forensics-%04d%02d%02dT%02d%02d%02d.%03ldZ-%d.tar.zst",
             m->dir, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000, (int)getpid());
    snprintf(part, sizeof(part), "%s.part", final);
    struct tarw t = {.fd = -1};
    struct ctx c = {.t = &t};
    t.fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (t.fd < 0) {
        snprintf(msg, sizeof(msg), "cannot create '%s': %s", part, strerror(errno));
        json_decref(o);
        return resp_put_fail(out, msg);
    }
    t.z = ZSTD_createCCtx();
    t.zcap = ZSTD_CStreamOutSize();
    t.zbuf = bn_malloc(t.zcap);
    t.members = json_array();
    c.notes = json_array();
    crypto_hash_sha256_init(&t.sha);
    if (!t.z || !t.zbuf || !t.members || !c.notes) {
        rc = BN_ENOMEM;
        goto fail;
    }
    ZSTD_CCtx_setParameter(t.z, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(t.z, ZSTD_c_checksumFlag, 1);

    if ((rc = add_processes(&c)) || (rc = add_connections(&c)) || (rc = add_users(&c)) ||
        (rc = add_persistence(&c, jwatch)))
        goto fail;
    if (jevp && nevents && (rc = add_events(&c, json_string_value(jevp), nevents)))
        goto fail;
    size_t i;
    json_t *v;
    json_array_foreach(jfiles, i, v)
    {
        if ((rc = add_chosen_file(&c, json_string_value(v))) != 0)
            goto fail;
    }
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char when[96];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    json_t *manifest =
        json_pack("{s:s, s:o, s:s, s:s, s:O, s:O, s:O}", "format", "bannin-forensics/1", "host",
                  safe_string(host), "created", when, "agent_version", BN_VERSION, "params", o,
                  "members", t.members, "notes", c.notes);
    char *ms;
    size_t mlen;
    json_t *mcopy = manifest ? json_incref(manifest) : NULL;
    if ((rc = member_json(mcopy, &ms, &mlen)) != 0) {
        json_decref(manifest);
        goto fail;
    }
    /* manifest.json is not listed in itself */
    rc = tw_header(&t, "manifest.json", mlen, 0600, ts.tv_sec, '0');
    char pad[1024] = {0};
    if (!rc)
        rc = tw_raw(&t, ms, mlen, false);
    if (!rc)
        rc = tw_raw(&t, pad, (512 - mlen % 512) % 512, false);
    free(ms);
    if (!rc) /* end of archive: two zero blocks */
        rc = tw_raw(&t, pad, 1024, false);
    if (!rc)
        rc = tw_raw(&t, NULL, 0, true);
    if (!rc && fsync(t.fd) < 0)
        rc = -errno;
    if (rc) {
        json_decref(manifest);
        goto fail;
    }
    close(t.fd);
    t.fd = -1;
    if (rename(part, final) < 0) {
        rc = -errno;
        json_decref(manifest);
        goto fail;
    }
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256_final(&t.sha, h);
    hexify(h, 32, hex);
    json_t *r = json_pack("{s:b, s:s, s:I, s:I, s:s, s:o}", "ok", 1, "path", final, "size",
                          (json_int_t)t.out, "uncompressed", (json_int_t)t.raw, "sha256", hex,
                          "manifest", manifest);
    char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    rc = s ? bn_buf_puts(out, s) : BN_ENOMEM;
    free(s);
    ZSTD_freeCCtx(t.z);
    bn_free(t.zbuf);
    json_decref(t.members);
    json_decref(c.notes);
    bn_free(c.socks);
    json_decref(o);
    return rc;
fail:
    if (t.fd >= 0)
        close(t.fd);
    unlink(part);
    ZSTD_freeCCtx(t.z);
    bn_free(t.zbuf);
    json_decref(t.members);
    json_decref(c.notes);
    bn_free(c.socks);
    json_decref(o);
    if (rc == BN_ENOMEM)
        return rc;
    snprintf(msg, sizeof(msg), "writing the package failed: %s", bn_strerror(rc));
    return resp_put_fail(out, msg);
}
