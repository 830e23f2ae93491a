/*
 * yara.c - YARA rule sets and scanning over libyara (see bannin/yara.h).
 *
 * Compiling file by file: libyara's compiler cannot take more rules after an error, so the
 * files go one by one into a running compiler, each under its own namespace; a file that
 * fails has its errors and warnings in the report, the compiler is dropped and a new one
 * goes on with the next file. When a file failed, a final pass compiles the good ones
 * together (see build_final).
 *
 * Includes are disabled: rule text comes from operators, bundles and the manager, and an
 * include would read arbitrary files of the host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yara.h>
#include <zlib.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/yara.h"

struct bn_yara_rules {
    YR_RULES *rules;
    size_t count;
    bool externals;
};

/* ---- libyara initialisation (refcounted by libyara itself, serialised here) ---- */

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static int
yara_init(void)
{
    pthread_mutex_lock(&init_lock);
    int rc = yr_initialize();
    pthread_mutex_unlock(&init_lock);
    return rc == ERROR_SUCCESS ? 0 : BN_EINTERNAL;
}

static void
yara_fini(void)
{
    pthread_mutex_lock(&init_lock);
    yr_finalize();
    pthread_mutex_unlock(&init_lock);
}

/* ---- report ---- */

static void
report_add(struct bn_yara_report *rep, const char *file, int line, bool warning, const char *msg)
{
    if (!rep)
        return;
    if (warning)
        rep->warnings++;
    else
        rep->errors++;
    if (rep->nissues >= BN_YARA_ISSUES_MAX) {
        rep->issues_dropped++;
        return;
    }
    if (!rep->issues) {
        rep->issues = bn_calloc(BN_YARA_ISSUES_MAX, sizeof(*rep->issues));
        if (!rep->issues) {
            rep->issues_dropped++;
            return;
        }
    }
    struct bn_yara_issue *is = &rep->issues[rep->nissues++];
    snprintf(is->file, sizeof(is->file), "%s", file ? file : "");
    is->line = line;
    is->warning = warning;
    snprintf(is->message, sizeof(is->message), "%s", msg ? msg : "");
}

void
bn_yara_report_release(struct bn_yara_report *rep)
{
    if (!rep)
        return;
    bn_free(rep->issues);
    memset(rep, 0, sizeof(*rep));
}

/* ---- compiling ---- */

struct src_file {
    char *label; /* file path or archive!member */
    char *ns;
    char *text; /* NUL-terminated */
};

struct compile_ctx {
    const struct bn_yara_compile_opts *opts;
    struct bn_yara_report *rep;
    struct src_file *ok; /* files that compiled alone */
    size_t nok, capok;
    size_t files;
    const char *label; /* file being compiled (for the callback) */
    bool record;       /* the running pass records issues; the final pass does not */
    int errors;        /* errors of the current add */
    int err;           /* fatal (BN_ENOMEM, BN_ETOOBIG) */
};

static void
compile_cb(int level, const char *file_name, int line, const YR_RULE *rule, const char *msg,
           void *ud)
{
    struct compile_ctx *c = ud;
    bool warning = level == YARA_ERROR_LEVEL_WARNING;
    if (!warning)
        c->errors++;
    if (c->record) {
        char buf[256];
        if (rule && warning)
            snprintf(buf, sizeof(buf), "rule '%s': %s", rule->identifier, msg);
        else
            snprintf(buf, sizeof(buf), "%s", msg);
        report_add(c->rep, c->label, line, warning, buf);
    }
}

static const char *
no_include_cb(const char *name, const char *calling_file, const char *calling_ns, void *ud)
{
    return NULL; /* "includes are disabled" is reported by libyara via the callback */
}

static int
compiler_new(struct compile_ctx *c, YR_COMPILER **out)
{
    YR_COMPILER *comp;
    *out = NULL;
    if (yr_compiler_create(&comp) != ERROR_SUCCESS)
        return BN_ENOMEM;
    yr_compiler_set_callback(comp, compile_cb, c);
    yr_compiler_set_include_callback(comp, no_include_cb, NULL, c);
    if (c->opts && c->opts->externals) {
        static const char *const names[] = {"filename", "filepath", "extension", "filetype",
                                            "owner"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (yr_compiler_define_string_variable(comp, names[i], "") != ERROR_SUCCESS) {
                yr_compiler_destroy(comp);
                return BN_EINTERNAL;
            }
        }
    }
    *out = comp;
    return 0;
}

static const char *
base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Queues a rule file for compiling (consumes text). */
static int
add_source(struct compile_ctx *c, const char *label, char *text, size_t len)
{
    if (++c->files > BN_YARA_RULE_FILES_MAX) {
        bn_free(text);
        report_add(c->rep, label, 0, false, "too many rule files (limit BN_YARA_RULE_FILES_MAX)");
        return BN_ETOOBIG;
    }
    if (c->rep)
        c->rep->files++;
    if (memchr(text, '\0', len)) {
        report_add(c->rep, label, 0, false, "rule file contains a NUL byte");
        if (c->rep)
            c->rep->files_failed++;
        bn_free(text);
        return 0;
    }
    if (c->nok == c->capok) {
        size_t ncap = c->capok ? c->capok * 2 : 64;
        struct src_file *n = bn_reallocarray(c->ok, ncap, sizeof(*n));
        if (!n) {
            bn_free(text);
            return BN_ENOMEM;
        }
        c->ok = n;
        c->capok = ncap;
    }
    /* namespace: the base name, made unique with a counter when two files share it */
    const char *bn = base_name(label);
    char ns[300];
    snprintf(ns, sizeof(ns), "%s", bn);
    for (unsigned k = 2;; k++) {
        bool dup = false;
        for (size_t i = 0; i < c->nok && !dup; i++)
            dup = strcmp(c->ok[i].ns, ns) == 0;
        if (!dup)
            break;
        snprintf(ns, sizeof(ns), "%s#%u", bn, k);
    }
    struct src_file *f = &c->ok[c->nok];
    f->label = bn_strdup(label);
    f->ns = bn_strdup(ns);
    f->text = text;
    if (!f->label || !f->ns) {
        bn_free(f->label);
        bn_free(f->ns);
        bn_free(text);
        return BN_ENOMEM;
    }
    c->nok++;
    return 0;
}

static int
read_file(const char *path, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return BN_EINVAL;
    }
    if ((uint64_t)st.st_size > BN_YARA_BUNDLE_MAX) {
        close(fd);
        return BN_ETOOBIG;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = bn_malloc(cap);
    if (!buf) {
        close(fd);
        return BN_ENOMEM;
    }
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > BN_YARA_BUNDLE_MAX) {
                bn_free(buf);
                close(fd);
                return BN_ETOOBIG;
            }
            char *n = bn_realloc(buf, cap * 2);
            if (!n) {
                bn_free(buf);
                close(fd);
                return BN_ENOMEM;
            }
            buf = n;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            bn_free(buf);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

static bool
has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static bool
is_rule_name(const char *name)
{
    return has_suffix(name, ".yar") || has_suffix(name, ".yara");
}

static bool
is_bundle_name(const char *name)
{
    return has_suffix(name, ".tar.gz") || has_suffix(name, ".tgz");
}

static int
add_rule_file(struct compile_ctx *c, const char *path)
{
    char *text;
    size_t len;
    int rc = read_file(path, &text, &len);
    if (rc) {
        if (rc == BN_ENOMEM)
            return rc;
        char msg[200];
        snprintf(msg, sizeof(msg), "cannot read: %s", bn_strerror(rc));
        report_add(c->rep, path, 0, false, msg);
        if (c->rep) {
            c->rep->files++;
            c->rep->files_failed++;
        }
        return 0;
    }
    if (len > BN_YARA_RULE_FILE_MAX) {
        bn_free(text);
        report_add(c->rep, path, 0, false, "rule file larger than BN_YARA_RULE_FILE_MAX");
        if (c->rep) {
            c->rep->files++;
            c->rep->files_failed++;
        }
        return 0;
    }
    return add_source(c, path, text, len);
}

/* ---- .tar.gz bundles: gunzip into memory, walk the ustar/GNU/pax members ---- */

static int
gunzip_file(const char *path, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return errno ? -errno : BN_EIO;
    size_t cap = 1u << 20, len = 0;
    char *buf = bn_malloc(cap);
    if (!buf) {
        gzclose(gz);
        return BN_ENOMEM;
    }
    char peek;
    if (gzread(gz, &peek, 0) < 0 || gzdirect(gz)) { /* zlib would pass plain data through */
        bn_free(buf);
        gzclose(gz);
        return BN_EFORMAT;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= BN_YARA_BUNDLE_MAX) {
                bn_free(buf);
                gzclose(gz);
                return BN_ETOOBIG;
            }
            char *n = bn_realloc(buf, cap * 2);
            if (!n) {
                bn_free(buf);
                gzclose(gz);
                return BN_ENOMEM;
            }
            buf = n;
            cap *= 2;
        }
        size_t want = cap - len;
        if (want > (1u << 30))
            want = 1u << 30;
        int r = gzread(gz, buf + len, (unsigned)want);
        if (r < 0) {
            bn_free(buf);
            gzclose(gz);
            return BN_EFORMAT;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    gzclose(gz);
    *out = buf;
    *outlen = len;
    return 0;
}

static bool
tar_octal(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    bool any = false;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
        if (v > (UINT64_MAX >> 3))
            return false;
        v = v * 8 + (uint64_t)(p[i] - '0');
        any = true;
    }
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != '\0')
            return false;
    *out = v;
    return any;
}

/* Walks a tar image (borrowed) and queues its rule files; path names the bundle. */
static int
add_tar(struct compile_ctx *c, const char *path, const char *tar, size_t len)
{
    char longname[1024] = "";
    size_t off = 0;
    int rc = 0;
    while (off + 512 <= len) {
        const char *h = tar + off;
        bool zero = true;
        for (int i = 0; i < 512 && zero; i++)
            zero = h[i] == 0;
        if (zero)
            break;
        uint64_t size, sum;
        if (!tar_octal(h + 124, 12, &size) || !tar_octal(h + 148, 8, &sum)) {
            report_add(c->rep, path, 0, false, "bad tar header (size or checksum field)");
            rc = BN_EFORMAT;
            break;
        }
        uint64_t s = 0;
        for (int i = 0; i < 512; i++)
            s += (i >= 148 && i < 156) ? ' ' : (unsigned char)h[i];
        if (s != sum) {
            report_add(c->rep, path, 0, false, "bad tar header checksum");
            rc = BN_EFORMAT;
            break;
        }
        if (size > len - off - 512) {
            report_add(c->rep, path, 0, false, "tar member runs past the end of the archive");
            rc = BN_EFORMAT;
            break;
        }
        const char *data = h + 512;
        char type = h[156];
        char name[1024];
        if (longname[0]) {
            snprintf(name, sizeof(name), "%s", longname);
            longname[0] = '\0';
        } else if (memcmp(h + 257, "ustar", 5) == 0 && h[345]) {
            snprintf(name, sizeof(name), "%.155s/%.100s", h + 345, h);
        } else {
            snprintf(name, sizeof(name), "%.100s", h);
        }
        if (type == 'L') { /* GNU long name: the data is the next member's name */
            size_t n = size < sizeof(longname) - 1 ? (size_t)size : sizeof(longname) - 1;
            memcpy(longname, data, n);
            longname[n] = '\0';
        } else if (type == 'x') { /* pax: look for "path=" */
            const char *p = data, *end = data + size;
            while (p < end) {
                const char *sp = memchr(p, ' ', (size_t)(end - p));
                char *e;
                unsigned long rl = strtoul(p, &e, 10);
                if (!sp || e != sp || rl == 0 || rl > (size_t)(end - p))
                    break;
                const char *kv = sp + 1, *rend = p + rl;
                if (rend - kv > 5 && memcmp(kv, "path=", 5) == 0) {
                    size_t n = (size_t)(rend - kv - 5);
                    if (n > 0 && kv[5 + n - 1] == '\n')
                        n--;
                    if (n >= sizeof(longname))
                        n = sizeof(longname) - 1;
                    memcpy(longname, kv + 5, n);
                    longname[n] = '\0';
                }
                p = rend;
            }
        } else if ((type == '0' || type == '\0') && is_rule_name(name)) {
            char label[1100];
            snprintf(label, sizeof(label), "%s!%s", path, name);
            if (size > BN_YARA_RULE_FILE_MAX) {
                report_add(c->rep, label, 0, false, "rule file larger than BN_YARA_RULE_FILE_MAX");
                if (c->rep) {
                    c->rep->files++;
                    c->rep->files_failed++;
                }
            } else {
                char *text = bn_malloc((size_t)size + 1);
                if (!text) {
                    rc = BN_ENOMEM;
                    break;
                }
                memcpy(text, data, (size_t)size);
                text[size] = '\0';
                rc = add_source(c, label, text, (size_t)size);
                if (rc)
                    break;
            }
        }
        off += 512 + (size_t)((size + 511) / 512 * 512);
    }
    if (rc == 0 && off == 0) {
        report_add(c->rep, path, 0, false, "not a tar archive (no member header)");
        rc = BN_EFORMAT;
    }
    return rc;
}

static int
add_bundle(struct compile_ctx *c, const char *path)
{
    char *tar;
    size_t len;
    int rc = gunzip_file(path, &tar, &len);
    if (rc) {
        if (rc == BN_ENOMEM)
            return rc;
        char msg[200];
        snprintf(msg, sizeof(msg), "cannot unpack bundle: %s", bn_strerror(rc));
        report_add(c->rep, path, 0, false, msg);
        return rc == BN_ETOOBIG ? rc : BN_EFORMAT;
    }
    rc = add_tar(c, path, tar, len);
    bn_free(tar);
    return rc;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_path(struct compile_ctx *c, const char *path, int depth, bool top);

static int
add_dir(struct compile_ctx *c, const char *path, int depth)
{
    if (depth > BN_YARA_DEPTH_MAX) {
        report_add(c->rep, path, 0, false, "directory nesting deeper than BN_YARA_DEPTH_MAX");
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        char msg[200];
        snprintf(msg, sizeof(msg), "cannot open directory: %s", strerror(errno));
        report_add(c->rep, path, 0, false, msg);
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = bn_reallocarray(names, ncap, sizeof(*nn));
            if (!nn) {
                rc = BN_ENOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = bn_strdup(de->d_name);
        if (!names[n]) {
            rc = BN_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc && n)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t pl = strlen(path) + strlen(names[i]) + 2;
        char *child = bn_malloc(pl);
        if (!child) {
            rc = BN_ENOMEM;
            break;
        }
        snprintf(child, pl, "%s%s%s", path, has_suffix(path, "/") ? "" : "/", names[i]);
        rc = add_path(c, child, depth + 1, false);
        bn_free(child);
    }
    for (size_t i = 0; i < n; i++)
        bn_free(names[i]);
    bn_free(names);
    return rc;
}

static int
add_path(struct compile_ctx *c, const char *path, int depth, bool top)
{
    struct stat st;
    if ((top ? stat(path, &st) : lstat(path, &st)) < 0) {
        if (top)
            return BN_ENOTFOUND;
        return 0;
    }
    if (S_ISDIR(st.st_mode))
        return add_dir(c, path, depth);
    if (!S_ISREG(st.st_mode))
        return 0;
    if (is_bundle_name(path)) {
        /* a damaged bundle is reported (add_bundle did) and skipped; the members read
         * before the damage stay queued, the other paths go on */
        int rc = add_bundle(c, path);
        return rc == BN_EFORMAT ? 0 : rc;
    }
    if (top || is_rule_name(path))
        return add_rule_file(c, path);
    return 0;
}

static void
src_files_free(struct compile_ctx *c)
{
    for (size_t i = 0; i < c->nok; i++) {
        bn_free(c->ok[i].label);
        bn_free(c->ok[i].ns);
        bn_free(c->ok[i].text);
    }
    bn_free(c->ok);
    c->ok = NULL;
    c->nok = c->capok = 0;
}

static int
rules_wrap(struct compile_ctx *c, YR_COMPILER *comp, size_t nfiles, struct bn_yara_rules **out)
{
    YR_RULES *rules = NULL;
    int yr = yr_compiler_get_rules(comp, &rules);
    yr_compiler_destroy(comp);
    if (yr != ERROR_SUCCESS)
        return yr == ERROR_INSUFFICIENT_MEMORY ? BN_ENOMEM : BN_EINTERNAL;
    struct bn_yara_rules *r = bn_calloc(1, sizeof(*r));
    if (!r) {
        yr_rules_destroy(rules);
        return BN_ENOMEM;
    }
    r->rules = rules;
    r->externals = c->opts && c->opts->externals;
    YR_RULE *rule;
    yr_rules_foreach(rules, rule) r->count++;
    if (r->count == 0) {
        yr_rules_destroy(rules);
        bn_free(r);
        report_add(c->rep, c->nok == 1 ? c->ok[0].label : "rules", 0, false,
                   "no rule in the rule files");
        return BN_EPARSE;
    }
    if (c->rep) {
        c->rep->files_ok = nfiles;
        c->rep->rules = r->count;
    }
    *out = r;
    return 0;
}

/*
 * Builds the set from the queued files. One running compiler takes the files in order; when
 * a file fails, its errors are in the report, the compiler (now unusable) is dropped and a new
 * one goes on from the next file. When no file failed, that compiler is the set; otherwise a
 * final pass compiles the files that did. Creating a compiler is the expensive part (large
 * zeroed tables), so this costs 1 + failures (+1) compilers rather than one per file.
 */
static int
build_final(struct compile_ctx *c, struct bn_yara_rules **out)
{
    bool *skip = bn_calloc(c->nok, sizeof(bool));
    if (!skip)
        return BN_ENOMEM;
    YR_COMPILER *comp = NULL;
    size_t nfailed = 0;
    int rc = 0;
    c->record = true;
    for (size_t i = 0; i < c->nok; i++) {
        if (!comp && (rc = compiler_new(c, &comp)) != 0)
            goto out;
        c->errors = 0;
        c->label = c->ok[i].label;
        if (yr_compiler_add_string(comp, c->ok[i].text, c->ok[i].ns) > 0 || c->errors) {
            if (c->errors == 0)
                report_add(c->rep, c->label, 0, false, "did not compile");
            skip[i] = true;
            nfailed++;
            if (c->rep)
                c->rep->files_failed++;
            yr_compiler_destroy(comp);
            comp = NULL;
        }
    }
    if (nfailed == c->nok) {
        if (comp)
            yr_compiler_destroy(comp);
        rc = BN_EPARSE;
        goto out;
    }
    if (nfailed == 0) {
        rc = rules_wrap(c, comp, c->nok, out);
        goto out;
    }
    if (comp)
        yr_compiler_destroy(comp);
    /* final pass over the files that compiled (in their running compiler) */
    c->record = false;
    for (;;) {
        if ((rc = compiler_new(c, &comp)) != 0)
            goto out;
        size_t bad = SIZE_MAX, nfiles = 0;
        for (size_t i = 0; i < c->nok; i++) {
            if (skip[i])
                continue;
            c->errors = 0;
            c->label = c->ok[i].label;
            if (yr_compiler_add_string(comp, c->ok[i].text, c->ok[i].ns) > 0 || c->errors) {
                bad = i;
                break;
            }
            nfiles++;
        }
        if (bad == SIZE_MAX) {
            if (nfiles == 0) {
                yr_compiler_destroy(comp);
                rc = BN_EPARSE;
                goto out;
            }
            rc = rules_wrap(c, comp, nfiles, out);
            goto out;
        }
        yr_compiler_destroy(comp);
        skip[bad] = true;
        report_add(c->rep, c->ok[bad].label, 0, false,
                   "compiled in order but clashes with the final set");
        if (c->rep)
            c->rep->files_failed++;
    }
out:
    bn_free(skip);
    return rc;
}

static int
compile_common(struct compile_ctx *c, struct bn_yara_rules **out, int rc)
{
    if (rc == 0 && c->nok == 0)
        rc = BN_EPARSE;
    if (rc == 0)
        rc = build_final(c, out);
    src_files_free(c);
    return rc;
}

int
bn_yara_compile_paths(const char *const *paths, size_t npaths,
                      const struct bn_yara_compile_opts *opts, struct bn_yara_rules **out,
                      struct bn_yara_report *report)
{
    *out = NULL;
    if (report)
        memset(report, 0, sizeof(*report));
    if (!paths && npaths)
        return BN_EINVAL;
    int rc = yara_init();
    if (rc)
        return rc;
    struct compile_ctx c = {.opts = opts, .rep = report};
    for (size_t i = 0; i < npaths && !rc; i++) {
        rc = add_path(&c, paths[i], 0, true);
        if (rc == BN_ENOTFOUND)
            report_add(report, paths[i], 0, false, "no such file or directory");
    }
    rc = compile_common(&c, out, rc);
    if (rc)
        yara_fini();
    return rc;
}

int
bn_yara_compile_text(const char *text, size_t len, const char *name,
                     const struct bn_yara_compile_opts *opts, struct bn_yara_rules **out,
                     struct bn_yara_report *report)
{
    *out = NULL;
    if (report)
        memset(report, 0, sizeof(*report));
    if (!text && len)
        return BN_EINVAL;
    if (len > BN_YARA_RULE_FILE_MAX) {
        report_add(report, name ? name : "rules", 0, false,
                   "rule text larger than BN_YARA_RULE_FILE_MAX");
        return BN_ETOOBIG;
    }
    int rc = yara_init();
    if (rc)
        return rc;
    struct compile_ctx c = {.opts = opts, .rep = report};
    char *copy = bn_malloc(len + 1);
    if (!copy) {
        yara_fini();
        return BN_ENOMEM;
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    rc = add_source(&c, name ? name : "rules", copy, len);
    rc = compile_common(&c, out, rc);
    if (rc)
        yara_fini();
    return rc;
}

int
bn_yara_compile_tar(const void *tar, size_t len, const char *name,
                    const struct bn_yara_compile_opts *opts, struct bn_yara_rules **out,
                    struct bn_yara_report *report)
{
    *out = NULL;
    if (report)
        memset(report, 0, sizeof(*report));
    if (!tar && len)
        return BN_EINVAL;
    if (len > BN_YARA_BUNDLE_MAX)
        return BN_ETOOBIG;
    int rc = yara_init();
    if (rc)
        return rc;
    struct compile_ctx c = {.opts = opts, .rep = report};
    rc = add_tar(&c, name ? name : "bundle.tar", tar, len);
    rc = compile_common(&c, out, rc);
    if (rc)
        yara_fini();
    return rc;
}

void
bn_yara_rules_free(struct bn_yara_rules *r)
{
    if (!r)
        return;
    yr_rules_destroy(r->rules);
    bn_free(r);
    yara_fini();
}

size_t
bn_yara_rules_count(const struct bn_yara_rules *r)
{
    return r ? r->count : 0;
}

/* ---- scanning ---- */

struct scan_ctx {
    bn_yara_match_fn fn;
    void *ud;
    const char *file;
    uint64_t matches;
    bool stop;
};

static int
scan_cb(YR_SCAN_CONTEXT *ctx, int message, void *data, void *ud)
{
    struct scan_ctx *s = ud;
    if (message != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    YR_RULE *rule = data;
    const char *tags[33];
    size_t ntags = 0;
    const char *tag;
    yr_rule_tags_foreach(rule, tag)
    {
        if (ntags < 32)
            tags[ntags++] = tag;
    }
    tags[ntags] = NULL;
    struct bn_yara_match m = {
        .rule = rule->identifier,
        .ns = rule->ns ? rule->ns->name : "default",
        .tags = tags,
        .ntags = ntags,
        .file = s->file,
    };
    s->matches++;
    if (s->fn && s->fn(&m, s->ud)) {
        s->stop = true;
        return CALLBACK_ABORT;
    }
    return CALLBACK_CONTINUE;
}

static const char *
yr_reason(int yr)
{
    switch (yr) {
    case ERROR_SCAN_TIMEOUT: return "scan timed out";
    case ERROR_INSUFFICIENT_MEMORY: return "out of memory";
    case ERROR_COULD_NOT_MAP_FILE: return "could not map the file";
    case ERROR_COULD_NOT_OPEN_FILE: return "could not open the file";
    case ERROR_TOO_MANY_SCAN_THREADS: return "too many scan threads";
    case ERROR_CALLBACK_ERROR: return "callback error";
    case ERROR_TOO_MANY_MATCHES: return "too many matches of one string";
    default: return "libyara scan error";
    }
}

static int
scanner_new(struct bn_yara_rules *r, const struct bn_yara_scan_opts *opts, struct scan_ctx *s,
            YR_SCANNER **out)
{
    YR_SCANNER *sc;
    *out = NULL;
    int yr = yr_scanner_create(r->rules, &sc);
    if (yr != ERROR_SUCCESS)
        return yr == ERROR_INSUFFICIENT_MEMORY ? BN_ENOMEM : BN_EINTERNAL;
    yr_scanner_set_callback(sc, scan_cb, s);
    int t = opts && opts->timeout_s > 0 ? opts->timeout_s : BN_YARA_TIMEOUT_DEFAULT;
    yr_scanner_set_timeout(sc, t);
    *out = sc;
    return 0;
}

int
bn_yara_scan_mem(struct bn_yara_rules *r, const void *data, size_t len,
                 const struct bn_yara_scan_opts *opts, bn_yara_match_fn fn, void *ud)
{
    if (!r || (!data && len))
        return BN_EINVAL;
    struct scan_ctx s = {.fn = fn, .ud = ud};
    YR_SCANNER *sc;
    int rc = scanner_new(r, opts, &s, &sc);
    if (rc)
        return rc;
    int yr = yr_scanner_scan_mem(sc, data ? data : (const uint8_t *)"", len);
    yr_scanner_destroy(sc);
    if (yr == ERROR_SUCCESS || (yr == ERROR_CALLBACK_ERROR && s.stop))
        return 0;
    if (yr == ERROR_SCAN_TIMEOUT)
        return BN_ETOOBIG;
    return yr == ERROR_INSUFFICIENT_MEMORY ? BN_ENOMEM : BN_EINTERNAL;
}

int
bn_yara_scan_pid(struct bn_yara_rules *r, int pid, const struct bn_yara_scan_opts *opts,
                 bn_yara_match_fn fn, void *ud)
{
    if (!r || pid <= 0 || pid == (int)getpid())
        return BN_EINVAL;
    char label[32];
    snprintf(label, sizeof(label), "pid:%d", pid);
    struct scan_ctx s = {.fn = fn, .ud = ud, .file = label};
    YR_SCANNER *sc;
    int rc = scanner_new(r, opts, &s, &sc);
    if (rc)
        return rc;
    int yr = yr_scanner_scan_proc(sc, pid);
    yr_scanner_destroy(sc);
    if (yr == ERROR_SUCCESS || (yr == ERROR_CALLBACK_ERROR && s.stop))
        return 0;
    switch (yr) {
    case ERROR_SCAN_TIMEOUT: return BN_ETOOBIG;
    case ERROR_INSUFFICIENT_MEMORY: return BN_ENOMEM;
    case ERROR_COULD_NOT_ATTACH_TO_PROCESS:
    case ERROR_COULD_NOT_READ_PROCESS_MEMORY:
        return kill(pid, 0) < 0 && errno == ESRCH ? -ESRCH : BN_EDENIED;
    default: return BN_EINTERNAL;
    }
}

struct walk {
    struct bn_yara_rules *r;
    const struct bn_yara_scan_opts *opts;
    YR_SCANNER *sc;
    struct scan_ctx s;
    bn_yara_error_fn efn;
    void *ud;
    struct bn_yara_scan_stats *st;
    uint64_t max_size;
    uint64_t max_files;
    dev_t root_dev;
    bool done;
    struct timespec deadline; /* tv_sec 0: none */
};

static void
walk_error(struct walk *w, const char *path, int err, const char *reason)
{
    w->st->errors++;
    if (w->efn)
        w->efn(path, err, reason, w->ud);
}

static void
set_externals(struct walk *w, const char *path, const struct stat *st)
{
    if (!w->r->externals)
        return;
    const char *name = base_name(path);
    const char *dot = strrchr(name, '.');
    yr_scanner_define_string_variable(w->sc, "filename", name);
    yr_scanner_define_string_variable(w->sc, "filepath", path);
    yr_scanner_define_string_variable(w->sc, "extension", dot ? dot : "");
    yr_scanner_define_string_variable(w->sc, "filetype", "");
    char owner[32];
    snprintf(owner, sizeof(owner), "%u", (unsigned)st->st_uid);
    yr_scanner_define_string_variable(w->sc, "owner", owner);
}

static void
scan_one(struct walk *w, const char *path, bool top)
{
    if (w->st->files_scanned >= w->max_files) {
        w->st->max_files_hit = true;
        w->done = true;
        return;
    }
    if (w->deadline.tv_sec) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > w->deadline.tv_sec ||
            (now.tv_sec == w->deadline.tv_sec && now.tv_nsec >= w->deadline.tv_nsec)) {
            w->st->deadline_hit = true;
            w->done = true;
            return;
        }
    }
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    if (!top && !(w->opts && w->opts->follow_links))
        flags |= O_NOFOLLOW;
    int fd = open(path, flags);
    if (fd < 0) {
        if (errno == ELOOP) {
            w->st->skipped_special++;
            return;
        }
        walk_error(w, path, -errno, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        walk_error(w, path, -errno, strerror(errno));
        close(fd);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        w->st->skipped_special++;
        close(fd);
        return;
    }
    if ((uint64_t)st.st_size > w->max_size) {
        w->st->skipped_size++;
        close(fd);
        return;
    }
    set_externals(w, path, &st);
    w->s.file = path;
    uint64_t before = w->s.matches;
    int yr = yr_scanner_scan_fd(w->sc, fd);
    close(fd);
    w->st->files_scanned++;
    if (yr == ERROR_SUCCESS || (yr == ERROR_CALLBACK_ERROR && w->s.stop)) {
        w->st->bytes_scanned += (uint64_t)st.st_size;
    } else if (yr == ERROR_SCAN_TIMEOUT) {
        w->st->timeouts++;
        if (w->efn)
            w->efn(path, BN_ETOOBIG, yr_reason(yr), w->ud);
    } else {
        walk_error(w, path, BN_EINTERNAL, yr_reason(yr));
    }
    if (w->s.matches > before) {
        w->st->files_matched++;
        w->st->matches += w->s.matches - before;
    }
    if (w->s.stop) {
        w->st->stopped = true;
        w->done = true;
    }
}

static int walk_path(struct walk *w, const char *path, int depth, bool top);

static int
walk_dir(struct walk *w, const char *path, int depth)
{
    if (depth > BN_YARA_DEPTH_MAX) {
        walk_error(w, path, BN_ETOOBIG, "directory nesting deeper than BN_YARA_DEPTH_MAX");
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        walk_error(w, path, -errno, strerror(errno));
        return 0;
    }
    int rc = 0;
    struct dirent *de;
    while (!w->done && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        size_t pl = strlen(path) + strlen(de->d_name) + 2;
        char *child = bn_malloc(pl);
        if (!child) {
            rc = BN_ENOMEM;
            break;
        }
        snprintf(child, pl, "%s%s%s", path, has_suffix(path, "/") ? "" : "/", de->d_name);
        rc = walk_path(w, child, depth + 1, false);
        bn_free(child);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

static int
walk_path(struct walk *w, const char *path, int depth, bool top)
{
    struct stat st;
    bool follow = top || (w->opts && w->opts->follow_links);
    if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) {
        walk_error(w, path, -errno, strerror(errno));
        return 0;
    }
    if (top)
        w->root_dev = st.st_dev;
    else if (w->opts && w->opts->one_fs && st.st_dev != w->root_dev)
        return 0;
    if (S_ISDIR(st.st_mode))
        return walk_dir(w, path, depth);
    if (!S_ISREG(st.st_mode)) {
        w->st->skipped_special++;
        return 0;
    }
    scan_one(w, path, top);
    return 0;
}

int
bn_yara_scan_paths(struct bn_yara_rules *r, const char *const *paths, size_t npaths,
                   const struct bn_yara_scan_opts *opts, bn_yara_match_fn fn, bn_yara_error_fn efn,
                   void *ud, struct bn_yara_scan_stats *stats)
{
    struct bn_yara_scan_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    if (!r || (!paths && npaths))
        return BN_EINVAL;
    struct walk w = {
        .r = r,
        .opts = opts,
        .efn = efn,
        .ud = ud,
        .st = stats,
        .max_size = opts && opts->max_size ? opts->max_size : BN_YARA_FILE_SIZE_DEFAULT,
        .max_files = opts && opts->max_files ? opts->max_files : BN_YARA_FILES_DEFAULT,
    };
    w.s.fn = fn;
    w.s.ud = ud;
    if (opts && opts->max_seconds > 0) {
        clock_gettime(CLOCK_MONOTONIC, &w.deadline);
        w.deadline.tv_sec += opts->max_seconds;
    }
    int rc = scanner_new(r, opts, &w.s, &w.sc);
    if (rc)
        return rc;
    for (size_t i = 0; i < npaths && !w.done && !rc; i++)
        rc = walk_path(&w, paths[i], 0, true);
    yr_scanner_destroy(w.sc);
    return rc;
}
