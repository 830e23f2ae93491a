/*
 * respond_baseline.c - configuration and persistence baselines (issue 5).
 *
 * Store (baseline_dir, 0700):
 *   objects/<sha256>  the content of a baselined file (0600, content-addressed, so identical
 *                     files share one copy and a copy is verified against its name on use)
 *   index.json        {"version":1,"files":{"/etc/crontab":{"sha256","uid","gid","mode",
 *                     "size"},...}} written atomically (temp + fsync + rename)
 *
 * The watch list (table below) names host paths; each is looked up under a configurable
 * root (resp_baseline_set_root) so tests run against a temp tree. Diffs are a bounded Myers
 * line diff printed as unified text with 3 lines of context; the password-hash field of
 * shadow files is redacted in diff text. Restores write a hidden temp file beside the target,
 * set owner and mode, fsync and rename over it, so a reader sees the old or the new file and
 * never a partial one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "agent/respond_baseline.h"
#include "agent/respond_vault.h"
#include "agent/respond_json.h"
#include "bannin/fileio.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"

enum wkind {
    W_FILE = 1, /* the path itself */
    W_DIR,      /* regular files directly in the directory */
    W_TREE,     /* regular files anywhere below the directory (depth-bounded) */
    W_HOME,     /* /root/<rel> and /home/<user>/<rel> */
};

struct watch {
    enum wkind kind;
    const char *path;
};

static const struct watch watches[] = {
    {W_FILE, "/etc/crontab"},
    {W_DIR, "/etc/cron.d"},
    {W_DIR, "/var/spool/cron/crontabs"},
    {W_TREE, "/etc/systemd/system"},
    {W_HOME, ".ssh/authorized_keys"},
    {W_HOME, ".ssh/authorized_keys2"},
    {W_FILE, "/etc/sudoers"},
    {W_DIR, "/etc/sudoers.d"},
    {W_DIR, "/etc/pam.d"},
    {W_FILE, "/etc/ld.so.preload"},
    {W_FILE, "/etc/profile"},
    {W_DIR, "/etc/profile.d"},
    {W_FILE, "/etc/bash.bashrc"},
    {W_HOME, ".bashrc"},
    {W_HOME, ".profile"},
    {W_HOME, ".bash_profile"},
    {W_FILE, "/etc/passwd"},
    {W_FILE, "/etc/shadow"},
    {W_FILE, "/etc/group"},
    {W_FILE, "/etc/gshadow"},
};

struct resp_baseline {
    char *dir;
    char *root; /* "" = the real root */
    struct resp_vault *vault;
    json_t *index; /* {"version":1,"files":{...}} */
};

/* ---- helpers ---- */


/*
 * Writes data atomically at path: a hidden temp beside it, owner and mode set, fsync, rename,
 * fsync of the directory. uid/gid -1 keep the writer's.
 */
static int
atomic_write(const char *path, const void *data, size_t n, mode_t mode, long uid, long gid)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        return BN_EINVAL;
    int l =
        snprintf(tmp, sizeof tmp, "%.*s/.%s.bnbase.XXXXXX", (int)(slash - path), path, slash + 1);
    if (l < 0 || (size_t)l >= sizeof tmp)
        return BN_ETOOBIG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = bn_write_all(fd, data, n);
    if (rc == 0 && uid >= 0 && fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
        rc = -errno;
    if (rc == 0 && fchmod(fd, mode & 07777) < 0)
        rc = -errno;
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    return bn_fsync_parent(path);
}

/* Replaces path by a symbolic link to target[0..n) atomically (a temp link renamed over). */
static int
atomic_symlink(const char *path, const char *target, size_t n, long uid, long gid)
{
    char tgt[PATH_MAX], tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash || n >= sizeof tgt || memchr(target, '\0', n))
        return BN_EINVAL;
    memcpy(tgt, target, n);
    tgt[n] = '\0';
    unsigned char rnd[6];
    randombytes_buf(rnd, sizeof rnd);
    char hex[13];
    resp_hexify(hex, rnd, sizeof rnd);
    int l =
        snprintf(tmp, sizeof tmp, "%.*s/.%s.bnbase.%s", (int)(slash - path), path, slash + 1, hex);
    if (l < 0 || (size_t)l >= sizeof tmp)
        return BN_ETOOBIG;
    if (symlink(tgt, tmp) < 0)
        return -errno;
    int rc = 0;
    if (uid >= 0 && lchown(tmp, (uid_t)uid, (gid_t)gid) < 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    return bn_fsync_parent(path);
}

/* Reads a regular file (not following a final symlink) up to max bytes; returns owned data. */
static int
read_file(const char *path, size_t max, char **data, size_t *n, struct stat *st)
{
    *data = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fstat(fd, st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st->st_mode)) {
        rc = BN_EFORMAT;
        goto out;
    }
    if ((unsigned long long)st->st_size > max) {
        rc = BN_ETOOBIG;
        goto out;
    }
    size_t cap = (size_t)st->st_size + 1;
    *data = bn_malloc(cap);
    if (!*data) {
        rc = BN_ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, *data + *n, cap - *n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        *n += (size_t)r;
        if (*n == cap) { /* grew while reading */
            rc = BN_EIO;
            goto out;
        }
    }
out:
    close(fd);
    if (rc < 0) {
        bn_free(*data);
        *data = NULL;
        *n = 0;
    }
    return rc;
}

/*
 * Reads a watched entry: a regular file's bytes, or a symbolic link's target (st from
 * lstat, S_ISLNK) - links under systemd/system (*.wants/, aliases) enable units.
 */
static int
read_entry(const char *path, char **data, size_t *n, struct stat *st)
{
    *data = NULL;
    *n = 0;
    if (lstat(path, st) < 0)
        return -errno;
    if (!S_ISLNK(st->st_mode))
        return read_file(path, BN_BASELINE_FILE_MAX, data, n, st);
    *data = bn_malloc(PATH_MAX);
    if (!*data)
        return BN_ENOMEM;
    ssize_t r = readlink(path, *data, PATH_MAX - 1);
    if (r < 0) {
        int rc = -errno;
        bn_free(*data);
        *data = NULL;
        return rc;
    }
    (*data)[r] = '\0';
    *n = (size_t)r;
    return 0;
}

static void
sha_hex(char out[65], const void *data, size_t n)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, n);
    resp_hexify(out, h, sizeof h);
}

/* root + host path; returns false when it does not fit. */
static bool
real_path(const struct resp_baseline *m, const char *hpath, char *out, size_t cap)
{
    int l = snprintf(out, cap, "%s%s", m->root, hpath);
    return l >= 0 && (size_t)l < cap;
}

static bool
clean_path(const char *p)
{
    if (p[0] != '/' || strlen(p) >= PATH_MAX - 64)
        return false;
    for (const char *s = p; *s; s++) {
        if (*s == '/' && (s[1] == '/' || s[1] == '\0'))
            return false;
        if (*s == '/' && s[1] == '.' &&
            (s[2] == '/' || s[2] == '\0' || (s[2] == '.' && (s[3] == '/' || s[3] == '\0'))))
            return false;
    }
    return true;
}

/* True if the host path is covered by the watch list. */
static bool
is_watched(const char *p)
{
    if (!clean_path(p))
        return false;
    for (size_t i = 0; i < BN_ARRAY_SIZE(watches); i++) {
        const struct watch *w = &watches[i];
        size_t wl = strlen(w->path);
        switch (w->kind) {
        case W_FILE:
            if (strcmp(p, w->path) == 0)
                return true;
            break;
        case W_DIR:
            if (strncmp(p, w->path, wl) == 0 && p[wl] == '/' && p[wl + 1] &&
                !strchr(p + wl + 1, '/'))
                return true;
            break;
        case W_TREE:
            if (strncmp(p, w->path, wl) == 0 && p[wl] == '/' && p[wl + 1])
                return true;
            break;
        case W_HOME: {
            const char *rest = NULL;
            if (strncmp(p, "/root/", 6) == 0) {
                rest = p + 6;
            } else if (strncmp(p, "/home/", 6) == 0) {
                const char *s = strchr(p + 6, '/');
                if (s && s > p + 6)
                    rest = s + 1;
            }
            if (rest && strcmp(rest, w->path) == 0)
                return true;
            break;
        }
        }
    }
    return false;
}

/* ---- scanning the watched files ---- */

struct scan {
    struct resp_baseline *m;
    json_t *files;   /* host path -> {"sha256","uid","gid","mode","size"} */
    json_t *skipped; /* [{"path","error"}] */
    bool keep_data;  /* snapshot: store objects while scanning */
    int err;         /* first fatal error (ENOMEM, store write) */
};

static int store_object(struct resp_baseline *m, const char *sha, const char *data, size_t n);

static void
skip(struct scan *s, const char *hpath, const char *why)
{
    json_array_append_new(s->skipped, json_pack("{s:s,s:s}", "path", hpath, "error", why));
}

static json_t *
meta_of(const struct stat *st, const char *sha)
{
    bool link = S_ISLNK(st->st_mode);
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "type", link ? "link" : "file", "sha256", sha,
                     "uid", (json_int_t)st->st_uid, "gid", (json_int_t)st->st_gid, "mode",
                     (json_int_t)(link ? 0777 : st->st_mode & 07777), "size",
                     (json_int_t)st->st_size);
}

static void
scan_file(struct scan *s, const char *hpath)
{
    if (s->err || json_object_get(s->files, hpath))
        return;
    if (json_object_size(s->files) >= BN_BASELINE_FILES_MAX) {
        skip(s, hpath, "too many watched files (BN_BASELINE_FILES_MAX)");
        return;
    }
    char real[PATH_MAX];
    if (!real_path(s->m, hpath, real, sizeof real)) {
        skip(s, hpath, "path too long");
        return;
    }
    char *data;
    size_t n;
    struct stat st;
    int rc = read_entry(real, &data, &n, &st);
    if (rc == -ENOENT)
        return;
    if (rc == BN_ENOMEM) {
        s->err = rc;
        return;
    }
    if (rc < 0) {
        skip(s, hpath, rc == BN_EFORMAT ? "not a regular file" : bn_strerror(rc));
        return;
    }
    char sha[65];
    sha_hex(sha, data, n);
    if (s->keep_data) {
        rc = store_object(s->m, sha, data, n);
        if (rc < 0)
            s->err = rc;
    }
    bn_free(data);
    st.st_size = (off_t)n;
    json_t *meta = meta_of(&st, sha);
    if (!meta || json_object_set_new(s->files, hpath, meta) < 0)
        s->err = BN_ENOMEM;
}

static void
scan_dir(struct scan *s, const char *hdir, bool recurse, int depth)
{
    char real[PATH_MAX];
    if (s->err || depth > BN_BASELINE_DEPTH_MAX || !real_path(s->m, hdir, real, sizeof real))
        return;
    DIR *d = opendir(real);
    if (!d) {
        if (errno != ENOENT && errno != ENOTDIR)
            skip(s, hdir, strerror(errno));
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) && !s->err) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char hp[PATH_MAX];
        int l = snprintf(hp, sizeof hp, "%s/%s", hdir, e->d_name);
        if (l < 0 || (size_t)l >= sizeof hp - 64)
            continue;
        unsigned char t = e->d_type;
        if (t == DT_UNKNOWN) {
            struct stat st;
            char rp[PATH_MAX];
            if (real_path(s->m, hp, rp, sizeof rp) && lstat(rp, &st) == 0)
                t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
        }
        if (t == DT_DIR) {
            if (recurse)
                scan_dir(s, hp, true, depth + 1);
        } else if (t == DT_REG || t == DT_LNK) {
            scan_file(s, hp); /* a link is baselined as a link (its target), not followed */
        }
    }
    closedir(d);
}

static void
scan_homes(struct scan *s, const char *rel)
{
    char hp[PATH_MAX];
    snprintf(hp, sizeof hp, "/root/%s", rel);
    scan_file(s, hp);
    char real[PATH_MAX];
    if (!real_path(s->m, "/home", real, sizeof real))
        return;
    DIR *d = opendir(real);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && !s->err) {
        if (e->d_name[0] == '.')
            continue;
        int l = snprintf(hp, sizeof hp, "/home/%s/%s", e->d_name, rel);
        if (l > 0 && (size_t)l < sizeof hp - 64)
            scan_file(s, hp);
    }
    closedir(d);
}

static int
scan_all(struct resp_baseline *m, struct scan *s, bool keep)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->keep_data = keep;
    s->files = json_object();
    s->skipped = json_array();
    if (!s->files || !s->skipped) {
        json_decref(s->files);
        json_decref(s->skipped);
        return BN_ENOMEM;
    }
    for (size_t i = 0; i < BN_ARRAY_SIZE(watches) && !s->err; i++) {
        const struct watch *w = &watches[i];
        if (w->kind == W_FILE)
            scan_file(s, w->path);
        else if (w->kind == W_DIR || w->kind == W_TREE)
            scan_dir(s, w->path, w->kind == W_TREE, 0);
        else
            scan_homes(s, w->path);
    }
    if (s->err) {
        json_decref(s->files);
        json_decref(s->skipped);
        return s->err;
    }
    return 0;
}

/* ---- store ---- */

static int
store_object(struct resp_baseline *m, const char *sha, const char *data, size_t n)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/objects/%s", m->dir, sha);
    struct stat st;
    if (stat(p, &st) == 0 && (size_t)st.st_size == n)
        return 0;
    return atomic_write(p, data, n, 0600, -1, -1);
}

static int
load_object(struct resp_baseline *m, const char *sha, char **data, size_t *n)
{
    char p[PATH_MAX];
    if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
        return BN_ECORRUPT;
    snprintf(p, sizeof p, "%s/objects/%s", m->dir, sha);
    struct stat st;
    int rc = read_file(p, BN_BASELINE_FILE_MAX, data, n, &st);
    if (rc < 0)
        return rc;
    char got[65];
    sha_hex(got, *data, *n);
    if (strcmp(got, sha) != 0) {
        bn_free(*data);
        *data = NULL;
        return BN_ECORRUPT;
    }
    return 0;
}

static void gc_objects(struct resp_baseline *m);

static int
save_index(struct resp_baseline *m)
{
    char *s = json_dumps(m->index, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!s)
        return BN_ENOMEM;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/index.json", m->dir);
    int rc = atomic_write(p, s, strlen(s), 0600, -1, -1);
    free(s);
    if (rc == 0)
        gc_objects(m);
    return rc;
}

static json_t *idx_files(struct resp_baseline *m);

/* Removes copies no baselined path refers to any more (after a snapshot or an approval). */
static void
gc_objects(struct resp_baseline *m)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/objects", m->dir);
    DIR *d = opendir(p);
    if (!d)
        return;
    json_t *used = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(idx_files(m), k, v)
    {
        const char *sha = json_string_value(json_object_get(v, "sha256"));
        if (used && sha)
            json_object_set_new(used, sha, json_true());
    }
    int dfd = dirfd(d);
    struct dirent *e;
    while (used && (e = readdir(d))) {
        if (e->d_name[0] != '.' && !json_object_get(used, e->d_name))
            unlinkat(dfd, e->d_name, 0);
        else if (strncmp(e->d_name, ".", 1) == 0 && strstr(e->d_name, ".bnbase."))
            unlinkat(dfd, e->d_name, 0); /* a temp left by a crash */
    }
    closedir(d);
    json_decref(used);
}

static json_t *
idx_files(struct resp_baseline *m)
{
    return json_object_get(m->index, "files");
}

int
resp_baseline_new(struct resp_baseline **out, const struct respond_paths *paths)
{
    *out = NULL;
    if (!paths || (!paths->baseline_dir && !paths->state_dir))
        return BN_EINVAL;
    if (sodium_init() < 0)
        return BN_EINTERNAL;
    struct resp_baseline *m = bn_calloc(1, sizeof *m);
    if (!m)
        return BN_ENOMEM;
    int rc = 0;
    if (paths->baseline_dir) {
        m->dir = bn_strdup(paths->baseline_dir);
    } else {
        size_t n = strlen(paths->state_dir) + sizeof "/baseline";
        m->dir = bn_malloc(n);
        if (m->dir)
            snprintf(m->dir, n, "%s/baseline", paths->state_dir);
    }
    m->root = bn_strdup("");
    if (!m->dir || !m->root) {
        rc = BN_ENOMEM;
        goto fail;
    }
    if (strlen(m->dir) > PATH_MAX - 128) {
        rc = BN_ETOOBIG;
        goto fail;
    }
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/objects", m->dir);
    if ((mkdir(m->dir, 0700) < 0 && errno != EEXIST) || chmod(m->dir, 0700) < 0 ||
        (mkdir(p, 0700) < 0 && errno != EEXIST)) {
        rc = -errno;
        BN_ERROR("baseline", "cannot create '%s': %s", p, strerror(errno));
        goto fail;
    }
    snprintf(p, sizeof p, "%s/index.json", m->dir);
    char *text;
    size_t n;
    struct stat st;
    rc = read_file(p, BN_BASELINE_INDEX_MAX, &text, &n, &st);
    if (rc == -ENOENT) {
        m->index = json_pack("{s:i,s:{}}", "version", 1, "files");
        rc = m->index ? 0 : BN_ENOMEM;
    } else if (rc == 0) {
        json_error_t err;
        m->index = json_loadb(text, n, 0, &err);
        bn_free(text);
        if (!m->index || !json_is_object(idx_files(m))) {
            BN_ERROR("baseline", "%s:%d:%d: damaged index: %s", p, err.line, err.column,
                     m->index ? "no \"files\" object" : err.text);
            rc = BN_ECORRUPT;
        }
    }
    if (rc < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    resp_baseline_free(m);
    return rc;
}

void
resp_baseline_free(struct resp_baseline *m)
{
    if (!m)
        return;
    json_decref(m->index);
    bn_free(m->dir);
    bn_free(m->root);
    bn_free(m);
}

int
resp_baseline_set_root(struct resp_baseline *m, const char *root)
{
    size_t l = strlen(root);
    while (l > 0 && root[l - 1] == '/')
        l--;
    if (l > PATH_MAX / 2)
        return BN_ETOOBIG;
    char *r = bn_strndup(root, l);
    if (!r)
        return BN_ENOMEM;
    bn_free(m->root);
    m->root = r;
    return 0;
}

size_t
resp_baseline_count(const struct resp_baseline *m)
{
    return json_object_size(json_object_get(m->index, "files"));
}

void
resp_baseline_set_vault(struct resp_baseline *m, struct resp_vault *v)
{
    m->vault = v;
}

/* ---- actions ---- */

int
resp_baseline_snapshot(struct resp_baseline *m, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p;
    int rc = resp_parse_params(params, len, &p, out);
    if (rc < 0)
        return rc;
    json_decref(p);
    struct scan s;
    rc = scan_all(m, &s, true);
    if (rc == BN_ENOMEM)
        return rc;
    if (rc < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot store the baseline: %s", bn_strerror(rc));
        return resp_put_fail(out, msg);
    }
    size_t n = json_object_size(s.files);
    json_object_set_new(m->index, "files", s.files);
    rc = save_index(m);
    if (rc < 0) {
        json_decref(s.skipped);
        char msg[256];
        snprintf(msg, sizeof msg, "cannot write the baseline index: %s", bn_strerror(rc));
        return rc == BN_ENOMEM ? rc : resp_put_fail(out, msg);
    }
    return resp_put_json(
        out, json_pack("{s:b,s:I,s:o}", "ok", 1, "files", (json_int_t)n, "skipped", s.skipped));
}

/* Names of the metadata fields that differ between baseline b and current c. */
static json_t *
meta_changes(json_t *b, json_t *c)
{
    static const char *const fields[] = {"uid", "gid", "mode", "type"};
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < BN_ARRAY_SIZE(fields); i++) {
        json_t *bv = json_object_get(b, fields[i]), *cv = json_object_get(c, fields[i]);
        if (!json_equal(bv, cv)) {
            if (i == 3) {
                json_array_append_new(arr, json_pack("{s:s,s:O,s:O}", "field", fields[i],
                                                     "baseline", bv ? bv : json_null(), "current",
                                                     cv ? cv : json_null()));
            } else if (i == 2) {
                char bs[16], cs[16];
                snprintf(bs, sizeof bs, "%04llo", (unsigned long long)json_integer_value(bv));
                snprintf(cs, sizeof cs, "%04llo", (unsigned long long)json_integer_value(cv));
                json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "field", fields[i],
                                                     "baseline", bs, "current", cs));
            } else {
                json_array_append_new(arr, json_pack("{s:s,s:O,s:O}", "field", fields[i],
                                                     "baseline", bv, "current", cv));
            }
        }
    }
    return arr;
}

int
resp_baseline_list(struct resp_baseline *m, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p;
    int rc = resp_parse_params(params, len, &p, out);
    if (rc < 0)
        return rc;
    json_decref(p);
    struct scan s;
    rc = scan_all(m, &s, false);
    if (rc < 0)
        return rc;
    json_t *files = json_array(), *changed = json_array(), *added = json_array(),
           *removed = json_array();
    const char *k;
    json_t *b;
    json_object_foreach(idx_files(m), k, b)
    {
        json_array_append_new(files, json_string(k));
        json_t *c = json_object_get(s.files, k);
        if (!c) {
            json_array_append_new(removed, json_string(k));
            continue;
        }
        bool content = !json_equal(json_object_get(b, "sha256"), json_object_get(c, "sha256"));
        json_t *mc = meta_changes(b, c);
        if (content || json_array_size(mc) > 0)
            json_array_append_new(
                changed, json_pack("{s:s,s:b,s:o}", "path", k, "content", content, "meta", mc));
        else
            json_decref(mc);
    }
    json_t *c;
    json_object_foreach(s.files, k, c)
    {
        if (!json_object_get(idx_files(m), k))
            json_array_append_new(added, json_string(k));
    }
    json_decref(s.files);
    return resp_put_json(out,
                    json_pack("{s:b,s:I,s:o,s:o,s:o,s:o,s:o}", "ok", 1, "baselined",
                              (json_int_t)json_array_size(files), "files", files, "changed",
                              changed, "added", added, "removed", removed, "skipped", s.skipped));
}

/* ---- line diff (Myers, bounded) ---- */

struct line {
    const char *p;
    size_t n; /* including the '\n' when present */
};

static int
split_lines(const char *d, size_t n, struct line **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    size_t cap = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(d + i, '\n', n - i);
        size_t l = nl ? (size_t)(nl - (d + i)) + 1 : n - i;
        if (*count >= BN_BASELINE_DIFF_LINES_MAX) {
            bn_free(*out);
            *out = NULL;
            return BN_ETOOBIG;
        }
        if (*count == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct line *t = bn_reallocarray(*out, nc, sizeof *t);
            if (!t) {
                bn_free(*out);
                *out = NULL;
                return BN_ENOMEM;
            }
            *out = t;
            cap = nc;
        }
        (*out)[(*count)++] = (struct line){d + i, l};
        i += l;
    }
    if (!*out) { /* an empty file: a valid (unused) array keeps pointer arithmetic defined */
        *out = bn_malloc(sizeof **out);
        if (!*out)
            return BN_ENOMEM;
    }
    return 0;
}

static bool
leq(const struct line *a, const struct line *b)
{
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/*
 * Fills ops (capacity na + nb) with '=', '-' (a line removed) and '+' (b line added) for the
 * middle of a and b (common prefix and suffix already stripped). Past BN_BASELINE_DIFF_D_MAX
 * edits it gives a full replace (valid, not minimal) and sets *approx.
 */
static int
myers(const struct line *a, size_t na, const struct line *b, size_t nb, char *ops, size_t *nops,
      bool *approx)
{
    *nops = 0;
    size_t dmax = BN_MIN((size_t)BN_BASELINE_DIFF_D_MAX, na + nb);
    long off = (long)dmax + 1;
    long *v = bn_calloc(2 * (size_t)off + 1, sizeof *v);
    /* snapshots of v[-d..d] after each step d, for the backtrack: sum (2d+1) = (dmax+1)^2 */
    long *hist = bn_calloc((dmax + 1) * (dmax + 1), sizeof *hist);
    if (!v || !hist) {
        bn_free(v);
        bn_free(hist);
        return BN_ENOMEM;
    }
    long found = -1;
    for (long d = 0; d <= (long)dmax && found < 0; d++) {
        for (long k = -d; k <= d; k += 2) {
            long x;
            if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
                x = v[off + k + 1];
            else
                x = v[off + k - 1] + 1;
            long y = x - k;
            while (x < (long)na && y < (long)nb && leq(&a[x], &b[y])) {
                x++;
                y++;
            }
            v[off + k] = x;
            if (x >= (long)na && y >= (long)nb)
                found = d;
        }
        memcpy(hist + d * d, v + off - d, (size_t)(2 * d + 1) * sizeof *v);
    }
    if (found < 0) {
        *approx = true;
        for (size_t i = 0; i < na; i++)
            ops[(*nops)++] = '-';
        for (size_t i = 0; i < nb; i++)
            ops[(*nops)++] = '+';
        bn_free(v);
        bn_free(hist);
        return 0;
    }
    /* backtrack from (na, nb), writing ops from the end */
    size_t pos = na + nb;
    long x = (long)na, y = (long)nb;
    for (long d = found; d > 0; d--) {
        const long *pv = hist + (d - 1) * (d - 1); /* v[-(d-1)..(d-1)] at index k + d - 1 */
        long k = x - y, pk;
        if (k == -d || (k != d && pv[k - 1 + d - 1] < pv[k + 1 + d - 1]))
            pk = k + 1;
        else
            pk = k - 1;
        long px = pv[pk + d - 1], py = px - pk;
        long sx = pk == k + 1 ? px : px + 1; /* where the snake to (x, y) starts */
        while (x > sx) {
            ops[--pos] = '=';
            x--;
            y--;
        }
        ops[--pos] = pk == k + 1 ? '+' : '-';
        x = px;
        y = py;
    }
    while (x > 0) {
        ops[--pos] = '=';
        x--;
    }
    memmove(ops, ops + pos, na + nb - pos);
    *nops = na + nb - pos;
    bn_free(v);
    bn_free(hist);
    return 0;
}

static int
emit_line(struct bn_buf *o, char sign, const struct line *l, bool redact)
{
    int rc = bn_buf_putc(o, sign);
    const char *c1 = redact ? memchr(l->p, ':', l->n) : NULL;
    const char *c2 = c1 ? memchr(c1 + 1, ':', l->n - (size_t)(c1 + 1 - l->p)) : NULL;
    if (rc == 0 && c2) {
        rc = bn_buf_append(o, l->p, (size_t)(c1 + 1 - l->p));
        if (rc == 0 && c2 > c1 + 1)
            rc = bn_buf_puts(o, "<redacted>");
        if (rc == 0)
            rc = bn_buf_append(o, c2, l->n - (size_t)(c2 - l->p));
    } else if (rc == 0) {
        rc = bn_buf_append(o, l->p, l->n);
    }
    if (rc == 0 && (l->n == 0 || l->p[l->n - 1] != '\n'))
        rc = bn_buf_puts(o, "\n\\ No newline at end of file\n");
    return rc;
}

int
resp_baseline_udiff(const char *ad, size_t an, const char *bd, size_t bn, const char *label,
                    bool redact, struct bn_buf *o, bool *approx)
{
    *approx = false;
    struct line *a = NULL, *b = NULL;
    size_t na, nb;
    char *ops = NULL;
    size_t *ai = NULL, *bi = NULL;
    int rc = split_lines(ad, an, &a, &na);
    if (rc == 0)
        rc = split_lines(bd, bn, &b, &nb);
    if (rc < 0)
        goto out;
    size_t pre = 0, suf = 0;
    while (pre < na && pre < nb && leq(&a[pre], &b[pre]))
        pre++;
    while (suf < na - pre && suf < nb - pre && leq(&a[na - 1 - suf], &b[nb - 1 - suf]))
        suf++;
    size_t total = na + nb + 1;
    ops = bn_malloc(total);
    ai = bn_calloc(total + 1, sizeof *ai);
    bi = bn_calloc(total + 1, sizeof *bi);
    if (!ops || !ai || !bi) {
        rc = BN_ENOMEM;
        goto out;
    }
    memset(ops, '=', pre);
    size_t nmid;
    rc = myers(a + pre, na - pre - suf, b + pre, nb - pre - suf, ops + pre, &nmid, approx);
    if (rc < 0)
        goto out;
    size_t nops = pre + nmid;
    memset(ops + nops, '=', suf);
    nops += suf;
    for (size_t i = 0; i < nops; i++) {
        ai[i + 1] = ai[i] + (ops[i] != '+');
        bi[i + 1] = bi[i] + (ops[i] != '-');
    }
    if (nops == pre + suf && pre == na && pre + suf == nb)
        goto out; /* identical */
    rc = bn_buf_printf(o, "--- %s (baseline)\n+++ %s (current)\n", label, label);
    const size_t ctx = 3;
    size_t i = 0;
    while (rc == 0 && i < nops) {
        while (i < nops && ops[i] == '=')
            i++;
        if (i >= nops)
            break;
        size_t hs = i > ctx ? i - ctx : 0, he = i;
        for (;;) { /* extend over changes closer than 2*ctx */
            while (he < nops && ops[he] != '=')
                he++;
            size_t eq = he;
            while (eq < nops && ops[eq] == '=' && eq - he <= 2 * ctx)
                eq++;
            if (eq < nops && ops[eq] != '=' && eq - he <= 2 * ctx) {
                he = eq;
                continue;
            }
            break;
        }
        size_t end = BN_MIN(nops, he + ctx);
        size_t al = ai[end] - ai[hs], bl = bi[end] - bi[hs];
        rc = bn_buf_printf(o, "@@ -%zu,%zu +%zu,%zu @@\n", al ? ai[hs] + 1 : ai[hs], al,
                           bl ? bi[hs] + 1 : bi[hs], bl);
        for (size_t j = hs; rc == 0 && j < end; j++) {
            if (ops[j] == '+')
                rc = emit_line(o, '+', &b[bi[j]], redact);
            else
                rc = emit_line(o, ops[j] == '-' ? '-' : ' ', &a[ai[j]], redact);
        }
        i = end;
    }
out:
    bn_free(a);
    bn_free(b);
    bn_free(ops);
    bn_free(ai);
    bn_free(bi);
    return rc;
}

/* ---- per-path actions ---- */

struct state {
    json_t *base; /* borrowed from the index, or NULL */
    char *data;   /* current content, owned, or NULL when absent */
    size_t n;
    struct stat st;
    int cur_err; /* reading the current file: 0, -ENOENT, or another error */
    char sha[65];
    char real[PATH_MAX];
};

/* Validates {"path"} and reads the current file; writes the failure result itself. */
static int
path_state(struct resp_baseline *m, json_t *p, struct state *s, struct bn_buf *out)
{
    memset(s, 0, sizeof *s);
    json_t *pv = json_object_get(p, "path");
    const char *path = json_is_string(pv) ? json_string_value(pv) : NULL;
    char msg[PATH_MAX + 128];
    if (!path || !clean_path(path)) {
        resp_put_fail(out, "\"path\" (an absolute, normalised host path) is required");
        return BN_EINVAL;
    }
    s->base = json_object_get(idx_files(m), path);
    if (!s->base && !is_watched(path)) {
        snprintf(msg, sizeof msg, "'%s' is neither baselined nor in the watch list", path);
        resp_put_fail(out, msg);
        return BN_EINVAL;
    }
    if (!real_path(m, path, s->real, sizeof s->real)) {
        resp_put_fail(out, "path too long");
        return BN_EINVAL;
    }
    s->cur_err = read_entry(s->real, &s->data, &s->n, &s->st);
    if (s->cur_err == BN_ENOMEM)
        return BN_ENOMEM;
    if (s->cur_err == 0) {
        sha_hex(s->sha, s->data, s->n);
        s->st.st_size = (off_t)s->n;
    }
    return 0;
}

static const char *
status_of(const struct state *s)
{
    if (!s->base)
        return s->cur_err == 0 ? "added" : "absent";
    if (s->cur_err == -ENOENT)
        return "removed";
    if (s->cur_err < 0)
        return "unreadable";
    json_t *cm = meta_of(&s->st, s->sha);
    json_t *mc = meta_changes(s->base, cm);
    bool same = strcmp(s->sha, json_string_value(json_object_get(s->base, "sha256"))) == 0 &&
                json_array_size(mc) == 0;
    json_decref(cm);
    json_decref(mc);
    return same ? "unchanged" : "changed";
}

static bool
redacted(const char *path)
{
    size_t l = strlen(path);
    return (l >= 7 && strcmp(path + l - 7, "/shadow") == 0) ||
           (l >= 8 && strcmp(path + l - 8, "/gshadow") == 0);
}

int
resp_baseline_diff(struct resp_baseline *m, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p;
    int rc = resp_parse_params(params, len, &p, out);
    if (rc < 0)
        return rc;
    struct state s;
    char *bdata = NULL;
    size_t bn = 0;
    struct bn_buf d;
    bn_buf_init(&d, BN_BASELINE_DIFF_MAX);
    rc = path_state(m, p, &s, out);
    if (rc < 0)
        goto out;
    const char *path = json_string_value(json_object_get(p, "path"));
    char msg[PATH_MAX + 128];
    if (s.cur_err < 0 && s.cur_err != -ENOENT) {
        snprintf(msg, sizeof msg, "cannot read '%s': %s", path, bn_strerror(s.cur_err));
        rc = resp_put_fail(out, msg);
        goto out;
    }
    if (s.base) {
        rc = load_object(m, json_string_value(json_object_get(s.base, "sha256")), &bdata, &bn);
        if (rc < 0) {
            snprintf(msg, sizeof msg, "baseline copy of '%s': %s", path, bn_strerror(rc));
            rc = rc == BN_ENOMEM ? rc : resp_put_fail(out, msg);
            goto out;
        }
    }
    const char *status = status_of(&s);
    bool binary = (bdata && memchr(bdata, '\0', bn)) || (s.data && memchr(s.data, '\0', s.n));
    bool approx = false, truncated = false;
    if (!binary) {
        rc = resp_baseline_udiff(bdata ? bdata : "", bn, s.data ? s.data : "", s.n, path,
                                 redacted(path), &d, &approx);
        if (rc == BN_ETOOBIG) {
            truncated = true;
            rc = 0;
        }
        if (rc < 0)
            goto out;
    }
    json_t *meta;
    if (s.base && s.cur_err == 0) {
        json_t *cm = meta_of(&s.st, s.sha);
        meta = meta_changes(s.base, cm);
        json_decref(cm);
    } else {
        meta = json_array();
    }
    json_t *r = json_pack("{s:b,s:s,s:s,s:s#,s:o,s:b,s:b,s:b}", "ok", 1, "path", path, "status",
                          status, "diff", d.p ? d.p : "", d.len, "meta", meta, "binary", binary,
                          "truncated", truncated, "approximate", approx);
    rc = resp_put_json(out, r);
out:
    bn_buf_release(&d);
    bn_free(bdata);
    bn_free(s.data);
    json_decref(p);
    return rc;
}


/* The parameters of an action that changes files, and room for its report reserved up front:
 * once a file is changed, reporting it must not fail for memory. */
static int
params_reserved(const char *params, size_t len, json_t **p, struct bn_buf *out)
{
    int rc = resp_parse_params(params, len, p, out);
    if (rc < 0)
        return rc;
    if (bn_buf_reserve(out, 4 * PATH_MAX + 1024) < 0) {
        json_decref(*p);
        *p = NULL;
        return BN_ENOMEM;
    }
    return 0;
}

int
resp_baseline_restore(struct resp_baseline *m, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p;
    int rc = params_reserved(params, len, &p, out);
    if (rc < 0)
        return rc;
    struct state s;
    char *bdata = NULL;
    size_t bn = 0;
    rc = path_state(m, p, &s, out);
    if (rc < 0)
        goto out;
    const char *path = json_string_value(json_object_get(p, "path"));
    char msg[PATH_MAX + 256];
    const char *status = status_of(&s);
    if (strcmp(status, "unchanged") == 0 || strcmp(status, "absent") == 0) {
        rc = resp_put_json(out, json_pack("{s:b,s:s,s:s}", "ok", 1, "path", path, "action", "none"));
        goto out;
    }
    if (!s.base) { /* added since the baseline: take it away */
        char id[40] = "";
        if (m->vault && !S_ISLNK(s.st.st_mode)) { /* a link holds no content to keep */
            rc = resp_vault_put(m->vault, s.real, "baseline_restore: added since the baseline",
                                "baseline", id, msg, sizeof msg);
            if (rc < 0) {
                rc = rc == BN_ENOMEM ? rc : resp_put_fail(out, msg);
                goto out;
            }
        } else if (unlink(s.real) < 0) {
            snprintf(msg, sizeof msg, "cannot remove '%s': %s", path, strerror(errno));
            rc = resp_put_fail(out, msg);
            goto out;
        } else {
            bn_fsync_parent(s.real);
        }
        BN_INFO("baseline", "'%s' added since the baseline %s", path,
                m->vault ? "quarantined" : "removed");
        rc = resp_put_json(
            out, id[0] ? json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "path", path, "action",
                                   "quarantined", "vault_id", id)
                       : json_pack("{s:b,s:s,s:s}", "ok", 1, "path", path, "action", "removed"));
        goto out;
    }
    const char *sha = json_string_value(json_object_get(s.base, "sha256"));
    rc = load_object(m, sha, &bdata, &bn);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "baseline copy of '%s': %s", path, bn_strerror(rc));
        rc = rc == BN_ENOMEM ? rc : resp_put_fail(out, msg);
        goto out;
    }
    const char *type = json_string_value(json_object_get(s.base, "type"));
    long uid = (long)json_integer_value(json_object_get(s.base, "uid"));
    long gid = (long)json_integer_value(json_object_get(s.base, "gid"));
    if (type && strcmp(type, "link") == 0)
        rc = atomic_symlink(s.real, bdata, bn, uid, gid);
    else
        rc = atomic_write(s.real, bdata, bn,
                          (mode_t)json_integer_value(json_object_get(s.base, "mode")), uid, gid);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "cannot restore '%s': %s", path, bn_strerror(rc));
        rc = resp_put_fail(out, msg);
        goto out;
    }
    BN_INFO("baseline", "'%s' restored to its baseline (%s)", path, status);
    rc = resp_put_json(out, json_pack("{s:b,s:s,s:s,s:s,s:s}", "ok", 1, "path", path, "action",
                                 "restored", "was", status, "sha256", sha));
out:
    bn_free(bdata);
    bn_free(s.data);
    json_decref(p);
    return rc;
}

int
resp_baseline_approve(struct resp_baseline *m, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p;
    int rc = params_reserved(params, len, &p, out);
    if (rc < 0)
        return rc;
    struct state s;
    rc = path_state(m, p, &s, out);
    if (rc < 0)
        goto out;
    const char *path = json_string_value(json_object_get(p, "path"));
    char msg[PATH_MAX + 128];
    if (s.cur_err < 0 && s.cur_err != -ENOENT) {
        snprintf(msg, sizeof msg, "cannot read '%s': %s", path, bn_strerror(s.cur_err));
        rc = resp_put_fail(out, msg);
        goto out;
    }
    json_t *r;
    if (s.cur_err == -ENOENT) { /* an approved removal */
        json_object_del(idx_files(m), path);
        r = json_pack("{s:b,s:s,s:s}", "ok", 1, "path", path, "action", "removed");
    } else {
        if (!s.base && json_object_size(idx_files(m)) >= BN_BASELINE_FILES_MAX) {
            rc = resp_put_fail(out, "baseline full (BN_BASELINE_FILES_MAX)");
            goto out;
        }
        rc = store_object(m, s.sha, s.data, s.n);
        if (rc < 0) {
            snprintf(msg, sizeof msg, "cannot store '%s': %s", path, bn_strerror(rc));
            rc = resp_put_fail(out, msg);
            goto out;
        }
        if (json_object_set_new(idx_files(m), path, meta_of(&s.st, s.sha)) < 0) {
            rc = BN_ENOMEM;
            goto out;
        }
        r = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "path", path, "action", "approved", "sha256",
                      s.sha);
    }
    rc = save_index(m);
    if (rc < 0) {
        json_decref(r);
        snprintf(msg, sizeof msg, "cannot write the baseline index: %s", bn_strerror(rc));
        rc = resp_put_fail(out, msg);
        goto out;
    }
    rc = resp_put_json(out, r);
out:
    bn_free(s.data);
    json_decref(p);
    return rc;
}
