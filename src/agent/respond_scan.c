/*
 * respond_scan.c - the `scan` action: YARA rules (inline text, or the configured rule
 * directory state_dir/yara, or a rule_dir given by the request) over files and directory
 * trees of the host, bounded in files, bytes per file, seconds per file and seconds in all.
 * See respond_scan.h for params and result.
 */
#include <errno.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/respond_json.h"
#include "agent/respond_scan.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/yara.h"

#define SCAN_MAX_SECONDS_DEFAULT 300
#define SCAN_MAX_SECONDS_MAX     3600
#define SCAN_ISSUES_SHOWN        20

struct resp_scan {
    char *rule_dir; /* default rule directory */
    /* the last rule set compiled from a directory or file, reused while its files are
     * unchanged (same names, sizes, mtimes, inodes): compiling signature-base takes seconds */
    pthread_mutex_t lock;
    struct bn_yara_rules *cached;
    struct bn_yara_report cached_rep;
    char *cached_src;
    uint64_t cached_sig;
};

int
resp_scan_new(struct resp_scan **out, const struct respond_paths *paths)
{
    *out = NULL;
    struct resp_scan *m = bn_calloc(1, sizeof(*m));
    if (!m)
        return BN_ENOMEM;
    const char *sd = paths && paths->state_dir ? paths->state_dir : "/var/lib/bannin-agent";
    size_t n = strlen(sd) + sizeof("/yara");
    m->rule_dir = bn_malloc(n);
    if (!m->rule_dir) {
        bn_free(m);
        return BN_ENOMEM;
    }
    snprintf(m->rule_dir, n, "%s/yara", sd);
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void
resp_scan_free(struct resp_scan *m)
{
    if (!m)
        return;
    bn_yara_rules_free(m->cached);
    bn_yara_report_release(&m->cached_rep);
    bn_free(m->cached_src);
    pthread_mutex_destroy(&m->lock);
    bn_free(m->rule_dir);
    bn_free(m);
}

/* FNV-1a over the rule source's tree: names, sizes, mtimes, inodes (bounded walk). */
static void
sig_mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 1099511628211ull;
    }
}

static void
source_sig(const char *path, int depth, size_t *budget, uint64_t *h)
{
    struct stat st;
    if (*budget == 0 || depth > BN_YARA_DEPTH_MAX || (depth ? lstat(path, &st) : stat(path, &st)))
        return;
    (*budget)--;
    sig_mix(h, path, strlen(path) + 1);
    uint64_t v[4] = {(uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                     (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_ino};
    sig_mix(h, v, sizeof(v));
    if (!S_ISDIR(st.st_mode))
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char child[4096];
        if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, de->d_name) < sizeof(child))
            source_sig(child, depth + 1, budget, h);
    }
    closedir(d);
}

static int
report_copy(struct bn_yara_report *dst, const struct bn_yara_report *src)
{
    *dst = *src;
    dst->issues = NULL;
    if (src->nissues) {
        dst->issues = bn_calloc(src->nissues, sizeof(*dst->issues));
        if (!dst->issues)
            return BN_ENOMEM;
        memcpy(dst->issues, src->issues, src->nissues * sizeof(*dst->issues));
    }
    return 0;
}

/* Reads an optional positive integer param within [1, max]; 0 when absent. */
static int
get_uint(json_t *o, const char *key, json_int_t max, json_int_t *val, struct bn_buf *out)
{
    *val = 0;
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max) {
        char msg[160];
        snprintf(msg, sizeof(msg), "params: '%s' must be an integer 1..%lld", key, (long long)max);
        resp_put_fail(out, msg);
        return BN_EINVAL;
    }
    *val = json_integer_value(v);
    return 0;
}

struct collect {
    json_t *matches;
    size_t cap;
    size_t kept;
    uint64_t dropped;
    json_t *errors; /* first files that could not be scanned */
    uint64_t errors_dropped;
    bool oom;
};

static int
on_match(const struct bn_yara_match *mt, void *ud)
{
    struct collect *c = ud;
    if (c->kept >= c->cap) {
        c->dropped++;
        return 0;
    }
    json_t *tags = json_array();
    for (size_t i = 0; tags && i < mt->ntags; i++)
        json_array_append_new(tags, json_string(mt->tags[i]));
    json_t *m;
    if (mt->file && strncmp(mt->file, "pid:", 4) == 0) /* files are absolute paths */
        m = json_pack("{s:s, s:s, s:o?, s:i}", "rule", mt->rule, "namespace", mt->ns, "tags", tags,
                      "pid", (int)strtol(mt->file + 4, NULL, 10));
    else
        m = json_pack("{s:s, s:s, s:o?, s:s?}", "rule", mt->rule, "namespace", mt->ns, "tags", tags,
                      "file", mt->file);
    if (!m || json_array_append_new(c->matches, m) != 0) {
        c->oom = true;
        return 1;
    }
    c->kept++;
    return 0;
}

static void
on_error(const char *file, int err, const char *reason, void *ud)
{
    struct collect *c = ud;
    if (json_array_size(c->errors) >= 100) {
        c->errors_dropped++;
        return;
    }
    json_array_append_new(c->errors, json_pack("{s:s, s:s}", "file", file, "reason", reason));
}

static double
now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static json_t *
issues_json(const struct bn_yara_report *rep)
{
    json_t *a = json_array();
    size_t shown = 0;
    for (size_t i = 0; a && i < rep->nissues && shown < SCAN_ISSUES_SHOWN; i++) {
        const struct bn_yara_issue *is = &rep->issues[i];
        if (is->warning)
            continue;
        char line[900];
        if (is->line)
            snprintf(line, sizeof(line), "%s:%d: %s", is->file, is->line, is->message);
        else
            snprintf(line, sizeof(line), "%s: %s", is->file, is->message);
        json_array_append_new(a, json_string(line));
        shown++;
    }
    return a;
}

/*
 * Every check of the parameters, before anything is compiled or read (resp_scan and
 * resp_scan_check): 0, or BN_EINVAL with the failed result in out.
 */
static int
scan_params_bad(json_t *o, struct bn_buf *out)
{
    char msg[512];
    json_t *jp = json_object_get(o, "paths"), *jpids = json_object_get(o, "pids");
    size_t npaths = json_is_array(jp) ? json_array_size(jp) : 0;
    size_t npids = json_is_array(jpids) ? json_array_size(jpids) : 0;
    if ((jp && !json_is_array(jp)) || (jpids && !json_is_array(jpids)) || npaths + npids == 0 ||
        npaths > BN_RESP_SCAN_PATHS_MAX || npids > BN_RESP_SCAN_PATHS_MAX) {
        snprintf(msg, sizeof(msg),
                 "params: 'paths' (absolute paths) and/or 'pids' (process ids): arrays of at "
                 "most %u, at least one entry in all",
                 BN_RESP_SCAN_PATHS_MAX);
        resp_put_fail(out, msg);
        return BN_EINVAL;
    }
    for (size_t i = 0; i < npids; i++) {
        json_t *v = json_array_get(jpids, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 4194304 ||
            json_integer_value(v) == (json_int_t)getpid()) {
            snprintf(msg, sizeof(msg),
                     "params: pids[%zu] is not a process id (1..4194304, not the agent)", i);
            resp_put_fail(out, msg);
            return BN_EINVAL;
        }
    }
    for (size_t i = 0; i < npaths; i++) {
        json_t *v = json_array_get(jp, i);
        if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(msg, sizeof(msg), "params: paths[%zu] is not an absolute path", i);
            resp_put_fail(out, msg);
            return BN_EINVAL;
        }
    }
    json_int_t max_size, timeout, max_files, max_matches, max_seconds;
    if (get_uint(o, "max_size", (json_int_t)1 << 40, &max_size, out) ||
        get_uint(o, "timeout", 3600, &timeout, out) ||
        get_uint(o, "max_files", 100000000, &max_files, out) ||
        get_uint(o, "max_matches", BN_RESP_SCAN_MATCHES_MAX, &max_matches, out) ||
        get_uint(o, "max_seconds", SCAN_MAX_SECONDS_MAX, &max_seconds, out))
        return BN_EINVAL;
    json_t *jrules = json_object_get(o, "rules");
    json_t *jdir = json_object_get(o, "rule_dir");
    if (jrules && json_is_string(jrules) && json_string_length(jrules) > BN_RESP_RULES_TEXT_MAX) {
        resp_put_fail(out, "params: 'rules' longer than BN_RESP_RULES_TEXT_MAX");
        return BN_EINVAL;
    }
    if ((jrules && !json_is_string(jrules)) || (jdir && !json_is_string(jdir)) ||
        (jrules && jdir)) {
        resp_put_fail(out, "params: give 'rules' (rule text) or 'rule_dir' (a path), as strings");
        return BN_EINVAL;
    }
    return 0;
}

int
resp_scan_check(const char *params, size_t len, struct bn_buf *out)
{
    if (len > BN_RESP_PARAMS_MAX)
        return resp_put_fail(out, "params: over BN_RESP_PARAMS_MAX") < 0 ? BN_ENOMEM : BN_EINVAL;
    json_error_t jerr;
    json_t *o = params && len ? json_loadb(params, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return resp_put_fail(out, "params: not a JSON object") < 0 ? BN_ENOMEM : BN_EINVAL;
    }
    int rc = scan_params_bad(o, out);
    if (!rc)
        rc = resp_put_json(out, json_pack("{s:b,s:O}", "ok", 1, "params", o));
    json_decref(o);
    return rc;
}

int
resp_scan(struct resp_scan *m, const char *params, size_t len, struct bn_buf *out)
{
    char msg[512];
    if (len > BN_RESP_PARAMS_MAX) {
        snprintf(msg, sizeof(msg), "params: %zu bytes, limit %u", len, BN_RESP_PARAMS_MAX);
        resp_put_fail(out, msg);
        return BN_EINVAL;
    }
    json_error_t jerr;
    json_t *o = params && len ? json_loadb(params, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!o || !json_is_object(o)) {
        if (o)
            snprintf(msg, sizeof(msg), "params: not a JSON object");
        else if (!params || !len)
            snprintf(msg, sizeof(msg), "params: missing (need {\"paths\":[...]})");
        else
            snprintf(msg, sizeof(msg), "params:%d:%d: %s", jerr.line, jerr.column, jerr.text);
        json_decref(o);
        resp_put_fail(out, msg);
        return BN_EINVAL;
    }
    int rc = BN_EINVAL;
    const char **paths = NULL;
    struct bn_yara_rules *rules = NULL;
    struct bn_yara_report rep = {0};
    bool locked = false, rules_cached = false, cache_hit = false;
    struct collect col = {0};

    if (scan_params_bad(o, out) != 0)
        goto done;
    json_t *jp = json_object_get(o, "paths"), *jpids = json_object_get(o, "pids");
    size_t npaths = json_is_array(jp) ? json_array_size(jp) : 0;
    size_t npids = json_is_array(jpids) ? json_array_size(jpids) : 0;
    paths = bn_calloc(npaths ? npaths : 1, sizeof(*paths));
    if (!paths) {
        rc = BN_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < npaths; i++)
        paths[i] = json_string_value(json_array_get(jp, i));
    json_int_t max_size, timeout, max_files, max_matches, max_seconds;
    get_uint(o, "max_size", (json_int_t)1 << 40, &max_size, out);
    get_uint(o, "timeout", 3600, &timeout, out);
    get_uint(o, "max_files", 100000000, &max_files, out);
    get_uint(o, "max_matches", BN_RESP_SCAN_MATCHES_MAX, &max_matches, out);
    get_uint(o, "max_seconds", SCAN_MAX_SECONDS_MAX, &max_seconds, out);
    json_t *jrules = json_object_get(o, "rules");
    json_t *jdir = json_object_get(o, "rule_dir");
    double t0 = now_s();
    struct bn_yara_compile_opts copts = {.externals = true};
    const char *source;
    int crc;
    if (jrules) {
        source = "inline";
        crc = bn_yara_compile_text(json_string_value(jrules), json_string_length(jrules), "inline",
                                   &copts, &rules, &rep);
    } else {
        source = jdir ? json_string_value(jdir) : m->rule_dir;
        pthread_mutex_lock(&m->lock);
        locked = true;
        uint64_t sig = 14695981039346656037ull;
        size_t budget = BN_YARA_RULE_FILES_MAX * 2;
        source_sig(source, 0, &budget, &sig);
        if (m->cached && strcmp(m->cached_src, source) == 0 && m->cached_sig == sig) {
            rules = m->cached;
            rules_cached = true;
            cache_hit = true;
            crc = report_copy(&rep, &m->cached_rep);
        } else {
            crc = bn_yara_compile_paths(&source, 1, &copts, &rules, &rep);
            char *src_copy = crc == 0 ? bn_strdup(source) : NULL;
            struct bn_yara_report rcopy;
            if (src_copy && report_copy(&rcopy, &rep) == 0) {
                bn_yara_rules_free(m->cached);
                bn_yara_report_release(&m->cached_rep);
                bn_free(m->cached_src);
                m->cached = rules;
                m->cached_rep = rcopy;
                m->cached_src = src_copy;
                m->cached_sig = sig;
                rules_cached = true;
            } else {
                bn_free(src_copy); /* not cached: this call frees its rules */
            }
        }
    }
    double t1 = now_s();
    if (crc) {
        if (crc == BN_ENOMEM) {
            rc = crc;
            goto done;
        }
        json_t *r =
            json_pack("{s:b, s:s, s:s, s:I, s:I, s:o}", "ok", 0, "error",
                      crc == BN_ENOTFOUND ? "rule source not found" : "no rule compiled",
                      "rule_source", source, "rule_files", (json_int_t)rep.files, "rule_errors",
                      (json_int_t)rep.errors, "rule_issues", issues_json(&rep));
        char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;
        json_decref(r);
        rc = s ? bn_buf_puts(out, s) : BN_ENOMEM;
        free(s);
        if (rc == 0)
            rc = jrules ? BN_EINVAL : 0; /* bad inline rules are bad params */
        goto done;
    }
    col.cap = max_matches ? (size_t)max_matches : BN_RESP_SCAN_MATCHES_MAX;
    col.matches = json_array();
    col.errors = json_array();
    if (!col.matches || !col.errors) {
        rc = BN_ENOMEM;
        goto done;
    }
    struct bn_yara_scan_opts sopts = {
        .max_size = (uint64_t)max_size,
        .timeout_s = (int)timeout,
        .max_files = (size_t)max_files,
        .max_seconds = max_seconds ? (int)max_seconds : SCAN_MAX_SECONDS_DEFAULT,
        .one_fs = false,
    };
    struct bn_yara_scan_stats st;
    memset(&st, 0, sizeof(st));
    rc = 0;
    if (npaths)
        rc = bn_yara_scan_paths(rules, paths, npaths, &sopts, on_match, on_error, &col, &st);
    uint64_t procs_scanned = 0, procs_matched = 0, proc_errors = 0;
    for (size_t i = 0; rc == 0 && !col.oom && i < npids; i++) {
        if (now_s() - t1 >= (double)sopts.max_seconds) {
            st.deadline_hit = true;
            break;
        }
        int pid = (int)json_integer_value(json_array_get(jpids, i));
        uint64_t before = col.kept + col.dropped;
        int prc = bn_yara_scan_pid(rules, pid, &sopts, on_match, &col);
        if (prc == BN_ENOMEM) {
            rc = prc;
            break;
        }
        if (prc == 0) {
            procs_scanned++;
            procs_matched += col.kept + col.dropped > before;
            continue;
        }
        proc_errors++;
        char label[32];
        snprintf(label, sizeof(label), "pid:%d", pid);
        on_error(label, prc,
                 prc == -ESRCH       ? "no such process"
                 : prc == BN_EDENIED ? "cannot attach to or read the process"
                 : prc == BN_ETOOBIG ? "scan timed out"
                                     : "libyara scan error",
                 &col);
    }
    if (rc || col.oom) {
        rc = rc ? rc : BN_ENOMEM;
        goto done;
    }
    double t2 = now_s();
    json_t *r = json_object();
    if (!r) {
        rc = BN_ENOMEM;
        goto done;
    }
    json_object_set_new(r, "ok", json_true());
    json_object_set_new(r, "rule_source", json_string(source));
    json_object_set_new(r, "rules_cached", json_boolean(cache_hit));
    json_object_set_new(r, "rules", json_integer((json_int_t)rep.rules));
    json_object_set_new(r, "rule_files", json_integer((json_int_t)rep.files));
    json_object_set_new(r, "rule_files_skipped", json_integer((json_int_t)rep.files_failed));
    json_object_set_new(r, "rule_errors", json_integer((json_int_t)rep.errors));
    if (rep.errors)
        json_object_set_new(r, "rule_issues", issues_json(&rep));
    json_object_set_new(r, "matches", col.matches);
    col.matches = NULL;
    json_object_set_new(r, "matches_dropped", json_integer((json_int_t)col.dropped));
    json_object_set_new(r, "files_scanned", json_integer((json_int_t)st.files_scanned));
    json_object_set_new(r, "files_matched", json_integer((json_int_t)st.files_matched));
    json_object_set_new(r, "bytes_scanned", json_integer((json_int_t)st.bytes_scanned));
    json_object_set_new(r, "skipped_size", json_integer((json_int_t)st.skipped_size));
    json_object_set_new(r, "skipped_special", json_integer((json_int_t)st.skipped_special));
    json_object_set_new(r, "timeouts", json_integer((json_int_t)st.timeouts));
    json_object_set_new(r, "errors", json_integer((json_int_t)st.errors));
    json_object_set_new(r, "processes_scanned", json_integer((json_int_t)procs_scanned));
    json_object_set_new(r, "processes_matched", json_integer((json_int_t)procs_matched));
    json_object_set_new(r, "process_errors", json_integer((json_int_t)proc_errors));
    json_object_set_new(r, "error_files", col.errors);
    col.errors = NULL;
    json_object_set_new(r, "error_files_dropped", json_integer((json_int_t)col.errors_dropped));
    json_object_set_new(r, "max_files_hit", json_boolean(st.max_files_hit));
    json_object_set_new(r, "deadline_hit", json_boolean(st.deadline_hit));
    json_object_set_new(r, "compile_seconds", json_real(t1 - t0));
    json_object_set_new(r, "scan_seconds", json_real(t2 - t1));
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    rc = s ? bn_buf_puts(out, s) : BN_ENOMEM;
    free(s);
done:
    json_decref(col.matches);
    json_decref(col.errors);
    if (!rules_cached)
        bn_yara_rules_free(rules);
    if (locked)
        pthread_mutex_unlock(&m->lock);
    bn_yara_report_release(&rep);
    bn_free(paths);
    json_decref(o);
    return rc;
}
