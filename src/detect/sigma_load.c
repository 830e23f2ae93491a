/*
 * sigma_load.c - reading Sigma rule files and directory trees from disk.
 *
 * sigma_parse_file() reads one file (size-limited) and hands it to sigma_parse_mem();
 * sigma_parse_paths() walks directories recursively in sorted order so that rule order, and
 * with it every later index, is the same on every machine. Unreadable files are reported
 * through the callback and skipped; only running out of memory stops the walk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/sigma.h"

/* Directory nesting followed by the walk (symlinked directories are not followed). */
#define WALK_DEPTH_MAX 64

/* Reports "<what>: <why>" for path. */
static void
report_err(sigma_diag_cb cb, void *ctx, const char *path, int code, const char *what,
           const char *why)
{
    struct bn_diag d;
    bn_diag_clear(&d);
    if (why)
        bn_diag_set(&d, code, path, 0, 0, "%s: %s", what, why);
    else
        bn_diag_set(&d, code, path, 0, 0, "%s", what);
    if (cb)
        cb(ctx, &d);
}

int
sigma_parse_file(const char *path, struct sigma_rule ***rules, size_t *n, sigma_diag_cb cb,
                 void *ctx)
{
    char *buf = NULL;
    int fd = -1, rc = 0;
    struct stat st;

    if (!path || !rules || !n)
        return BN_EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        report_err(cb, ctx, path, -errno, "cannot open rule file", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        report_err(cb, ctx, path, BN_EINVAL, "not a regular file", NULL);
        goto out;
    }
    if ((unsigned long long)st.st_size > BN_RULE_FILE_MAX) {
        struct bn_diag d;
        bn_diag_set(&d, BN_ETOOBIG, path, 0, 0,
                    "rule file is %lld bytes, larger than BN_RULE_FILE_MAX (%u)",
                    (long long)st.st_size, (unsigned)BN_RULE_FILE_MAX);
        if (cb)
            cb(ctx, &d);
        goto out;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = bn_malloc(size + 1);
    if (!buf) {
        rc = BN_ENOMEM;
        goto out;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            report_err(cb, ctx, path, -errno, "cannot read rule file", strerror(errno));
            goto out;
        }
        if (r == 0)
            break; /* shrank while reading: parse what is there */
        got += (size_t)r;
    }
    rc = sigma_parse_mem(buf, got, path, rules, n, cb, ctx);
out:
    if (fd >= 0)
        close(fd);
    bn_free(buf);
    return rc;
}

static bool
is_rule_file(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcasecmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcasecmp(name + n - 5, ".yaml") == 0);
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(const char *path, unsigned depth, struct sigma_rule ***rules, size_t *n,
                sigma_diag_cb cb, void *ctx);

static int
walk_dir(const char *path, unsigned depth, struct sigma_rule ***rules, size_t *n,
         sigma_diag_cb cb, void *ctx)
{
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    int rc = 0;

    if (depth > WALK_DEPTH_MAX) {
        report_err(cb, ctx, path, BN_ETOOBIG, "directory nesting too deep; skipped", NULL);
        return 0;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        report_err(cb, ctx, path, -errno, "cannot open directory", strerror(errno));
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue; /* ".", ".." and hidden entries such as .git */
        if (nnames == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = bn_reallocarray(names, ncap, sizeof(*nn));
            if (!nn) {
                rc = BN_ENOMEM;
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[nnames] = bn_strdup(e->d_name))) {
            rc = BN_ENOMEM;
            goto out;
        }
        nnames++;
    }
    if (nnames)
        qsort(names, nnames, sizeof(*names), cmp_names);
    for (size_t i = 0; i < nnames && rc == 0; i++) {
        size_t plen = strlen(path), nlen = strlen(names[i]);
        char *sub = bn_malloc(plen + nlen + 2);
        if (!sub) {
            rc = BN_ENOMEM;
            break;
        }
        memcpy(sub, path, plen);
        sub[plen] = '/';
        memcpy(sub + plen + 1, names[i], nlen + 1);
        struct stat st;
        if (lstat(sub, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk_dir(sub, depth + 1, rules, n, cb, ctx);
            else if (is_rule_file(names[i]) && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
                rc = walk(sub, depth + 1, rules, n, cb, ctx);
        }
        bn_free(sub);
    }
out:
    closedir(dir);
    for (size_t i = 0; i < nnames; i++)
        bn_free(names[i]);
    bn_free(names);
    return rc;
}

static int
walk(const char *path, unsigned depth, struct sigma_rule ***rules, size_t *n, sigma_diag_cb cb,
     void *ctx)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        report_err(cb, ctx, path, -errno, "cannot read rule path", strerror(errno));
        return 0;
    }
    if (S_ISDIR(st.st_mode))
        return depth == 0 ? walk_dir(path, depth, rules, n, cb, ctx) : 0;
    return sigma_parse_file(path, rules, n, cb, ctx);
}

int
sigma_parse_paths(const char *const *paths, size_t npaths, struct sigma_rule ***rules,
                  size_t *n, sigma_diag_cb cb, void *ctx)
{
    if (!rules || !n || (!paths && npaths))
        return BN_EINVAL;
    for (size_t i = 0; i < npaths; i++) {
        if (!paths[i])
            continue;
        int rc = walk(paths[i], 0, rules, n, cb, ctx);
        if (rc)
            return rc;
    }
    return 0;
}
