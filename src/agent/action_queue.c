/*
 * action_queue.c - the manager's actions on a worker thread, results kept until acknowledged
 * (action_queue.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/wire.h"
#include "bannin/hex.h"

#include "agent/action_queue.h"

struct job {
    uint64_t id, expires_ns;
    char type[BN_RESPOND_TYPE_MAX + 1];
    char *params;
    size_t params_len;
};

struct res {
    uint64_t id;
    uint32_t status;
    char *json;
    size_t len;
    int64_t sent_ms; /* 0 = not sent in this session */
};

struct action_queue {
    action_exec_fn exec;
    void *exec_ctx;
    char dir[1100];
    pthread_t thr;
    bool started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job inbox[ACTION_QUEUE_INBOX];
    size_t head, n;
    uint64_t running; /* id of the action running, 0 none */
    struct res *res;
    size_t nres, capres;
    struct action_upload *up; /* files waiting for upload */
    size_t nup, capup;
    struct action_queue_stats st;
};

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct res *
find_res(struct action_queue *q, uint64_t id)
{
    for (size_t i = 0; i < q->nres; i++)
        if (q->res[i].id == id)
            return &q->res[i];
    return NULL;
}

/* Writes <id>.res = "<status>\n<json>" atomically (tmp, fsync, rename). Called unlocked. */
static int
write_res(struct action_queue *q, uint64_t id, uint32_t status, const char *json, size_t len)
{
    char tmp[1200], path[1200];
    snprintf(tmp, sizeof(tmp), "%s/%llu.tmp", q->dir, (unsigned long long)id);
    snprintf(path, sizeof(path), "%s/%llu.res", q->dir, (unsigned long long)id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    char head[16];
    int hl = snprintf(head, sizeof(head), "%u\n", status);
    int rc = 0;
    if (write(fd, head, (size_t)hl) != hl || write(fd, json, len) != (ssize_t)len ||
        fsync(fd) != 0)
        rc = BN_EIO;
    close(fd);
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

/* Records a result in memory and on disk. */
static void
add_result(struct action_queue *q, uint64_t id, uint32_t status, const char *json, size_t len)
{
    int wrc = write_res(q, id, status, json, len);
    pthread_mutex_lock(&q->mu);
    if (wrc) {
        q->st.write_errors++;
        BN_WARN("actions", "result of action %llu not kept on disk (%s): it is kept in memory "
                "until acknowledged", (unsigned long long)id, bn_strerror(wrc));
    }
    char *copy = bn_malloc(len + 1);
    if (copy && q->nres == q->capres) {
        size_t cap = q->capres ? q->capres * 2 : 16;
        struct res *nr = bn_realloc(q->res, cap * sizeof(*nr));
        if (nr) {
            q->res = nr;
            q->capres = cap;
        }
    }
    if (copy && q->nres < q->capres) {
        memcpy(copy, json, len);
        copy[len] = '\0';
        q->res[q->nres++] = (struct res){id, status, copy, len, 0};
        q->st.results_pending = q->nres;
    } else {
        bn_free(copy);
        BN_ERROR("actions", "out of memory keeping the result of action %llu (on disk: %s)",
                 (unsigned long long)id, wrc ? "no" : "yes");
    }
    pthread_mutex_unlock(&q->mu);
}

static void
simple_result(struct action_queue *q, uint64_t id, uint32_t status, const char *err)
{
    struct bn_buf b;
    bn_buf_init(&b, 1024);
    bn_buf_puts(&b, "{\"ok\":false,\"error\":\"");
    bn_buf_json_escape(&b, err, strlen(err));
    bn_buf_puts(&b, "\"}");
    add_result(q, id, status, b.p, b.len);
    bn_buf_release(&b);
}

/* ---- uploads ----------------------------------------------------------------------------- */

static bool
plain_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BN_ATTACH_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void
upload_name(struct action_upload *u)
{
    const char *b = strrchr(u->path, '/');
    b = b ? b + 1 : u->path;
    if (plain_name(b))
        memcpy(u->name, b, strlen(b) + 1); /* plain_name: at most BN_ATTACH_NAME_MAX bytes */
    else
        snprintf(u->name, sizeof(u->name), "forensics-%llu.tar.zst", (unsigned long long)u->id);
}

/* Under q->mu. */
static int
upload_insert(struct action_queue *q, const struct action_upload *u)
{
    for (size_t i = 0; i < q->nup; i++)
        if (q->up[i].id == u->id)
            return BN_EEXIST;
    if (q->nup >= BN_ATTACH_UPLOADS_MAX)
        return BN_EFULL;
    if (q->nup == q->capup) {
        size_t cap = q->capup ? q->capup * 2 : 4;
        struct action_upload *nu = bn_realloc(q->up, cap * sizeof(*nu));
        if (!nu)
            return BN_ENOMEM;
        q->up = nu;
        q->capup = cap;
    }
    q->up[q->nup++] = *u;
    q->st.uploads_pending = q->nup;
    return 0;
}

int
action_queue_upload_add(struct action_queue *q, const struct action_upload *u0)
{
    struct action_upload u = *u0;
    if (!u.name[0])
        upload_name(&u);
    char shahex[65], tmp[1200], path[1200];
    bn_hex_encode(u.sha256, 32, shahex);
    snprintf(tmp, sizeof(tmp), "%s/%llu.up.tmp", q->dir, (unsigned long long)u.id);
    snprintf(path, sizeof(path), "%s/%llu.up", q->dir, (unsigned long long)u.id);
    pthread_mutex_lock(&q->mu);
    int rc = upload_insert(q, &u);
    if (rc == BN_EFULL)
        q->st.uploads_dropped++;
    pthread_mutex_unlock(&q->mu);
    if (rc) {
        if (rc == BN_EFULL)
            BN_WARN("actions", "package '%s' of action %llu is not uploaded: %d uploads already "
                    "wait (it stays on disk)", u.path, (unsigned long long)u.id,
                    BN_ATTACH_UPLOADS_MAX);
        return rc;
    }
    FILE *f = fopen(tmp, "we");
    bool ok = f && fprintf(f, "%s\n%llu\n%s\n", u.path, (unsigned long long)u.size, shahex) > 0;
    if (f) {
        ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
        ok = fclose(f) == 0 && ok;
    }
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        pthread_mutex_lock(&q->mu);
        q->st.write_errors++;
        pthread_mutex_unlock(&q->mu);
        BN_WARN("actions", "upload of action %llu not kept on disk: it is uploaded in this run "
                "only", (unsigned long long)u.id);
    }
    return 0;
}

int
action_queue_upload_next(struct action_queue *q, uint64_t after_id, struct action_upload *u)
{
    pthread_mutex_lock(&q->mu);
    const struct action_upload *best = NULL;
    for (size_t i = 0; i < q->nup; i++)
        if (q->up[i].id > after_id && (!best || q->up[i].id < best->id))
            best = &q->up[i];
    if (best)
        *u = *best;
    pthread_mutex_unlock(&q->mu);
    return best ? 0 : BN_ENOTFOUND;
}

int
action_queue_upload_done(struct action_queue *q, uint64_t id, bool delete_file)
{
    struct action_upload u;
    bool found = false;
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->nup; i++)
        if (q->up[i].id == id) {
            u = q->up[i];
            q->up[i] = q->up[--q->nup];
            found = true;
            break;
        }
    if (found) {
        if (delete_file)
            q->st.uploads_stored++;
        else
            q->st.uploads_refused++;
    }
    q->st.uploads_pending = q->nup;
    pthread_mutex_unlock(&q->mu);
    if (!found)
        return BN_ENOTFOUND;
    char path[1200];
    snprintf(path, sizeof(path), "%s/%llu.up", q->dir, (unsigned long long)id);
    unlink(path);
    if (delete_file && unlink(u.path) != 0 && errno != ENOENT) {
        int rc = -errno;
        BN_WARN("actions", "package '%s' stored by the manager but not deleted here: %s", u.path,
                strerror(errno));
        return rc;
    }
    return 0;
}

/* A forensics result that succeeded: its package goes to the manager. */
static void
upload_from_result(struct action_queue *q, uint64_t id, const char *json, size_t len)
{
    json_t *o = json_loadb(json, len, 0, NULL);
    json_t *ok = o ? json_object_get(o, "ok") : NULL;
    const char *path = o ? json_string_value(json_object_get(o, "path")) : NULL;
    const char *sha = o ? json_string_value(json_object_get(o, "sha256")) : NULL;
    json_t *size = o ? json_object_get(o, "size") : NULL;
    struct action_upload u;
    memset(&u, 0, sizeof(u));
    u.id = id;
    if (json_is_true(ok) && path && path[0] == '/' && strlen(path) < sizeof(u.path) && sha &&
        json_is_integer(size) && json_integer_value(size) >= 0 &&
        bn_hex_decode(sha, strlen(sha), u.sha256, 32, NULL) == 0) {
        snprintf(u.path, sizeof(u.path), "%s", path);
        u.size = (uint64_t)json_integer_value(size);
        action_queue_upload_add(q, &u);
    } else if (json_is_true(ok)) {
        BN_WARN("actions", "forensics action %llu: no path, size and sha256 in its result: "
                "nothing to upload", (unsigned long long)id);
    }
    json_decref(o);
}

static void
load_uploads(struct action_queue *q)
{
    DIR *d = opendir(q->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end = NULL;
        unsigned long long id = strtoull(de->d_name, &end, 10);
        if (!id || !end || strcmp(end, ".up") != 0)
            continue;
        char path[1400], line[4200], shahex[80];
        snprintf(path, sizeof(path), "%s/%s", q->dir, de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        struct action_upload u;
        memset(&u, 0, sizeof(u));
        u.id = id;
        bool ok = fgets(line, sizeof(line), f) != NULL;
        size_t n = ok ? strcspn(line, "\n") : 0;
        if (ok && n > 0 && n < sizeof(u.path) && line[0] == '/') {
            memcpy(u.path, line, n);
            u.path[n] = '\0';
        } else {
            ok = false;
        }
        char num[40];
        ok = ok && fgets(num, sizeof(num), f) != NULL;
        if (ok) {
            char *e2 = NULL;
            u.size = strtoull(num, &e2, 10);
            ok = e2 && *e2 == '\n';
        }
        ok = ok && fgets(shahex, sizeof(shahex), f) != NULL && strlen(shahex) == 65 &&
             bn_hex_decode(shahex, 64, u.sha256, 32, NULL) == 0;
        fclose(f);
        if (!ok) {
            BN_WARN("actions", "'%s' is not an upload record: ignored", path);
            continue;
        }
        upload_name(&u);
        if (upload_insert(q, &u) == BN_EFULL)
            q->st.uploads_dropped++;
    }
    closedir(d);
    if (q->nup)
        BN_INFO("actions", "%zu packages wait for upload to the manager", q->nup);
}

static void *
worker(void *arg)
{
    struct action_queue *q = arg;
    struct bn_buf out;
    bn_buf_init(&out, BN_RESPOND_RESULT_MAX);
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stop && q->n == 0)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop)
            break;
        struct job j = q->inbox[q->head];
        q->head = (q->head + 1) % ACTION_QUEUE_INBOX;
        q->n--;
        q->running = j.id;
        pthread_mutex_unlock(&q->mu);

        if (j.expires_ns && wall_ns() > j.expires_ns) {
            simple_result(q, j.id, BN_WIRE_ACT_EXPIRED, "expired before it could run");
            pthread_mutex_lock(&q->mu);
            q->st.expired++;
        } else {
            bn_buf_reset(&out);
            int rc = q->exec(q->exec_ctx, j.id, j.type, j.params, j.params_len, &out);
            uint32_t status = rc == 0 ? BN_WIRE_ACT_DONE : BN_WIRE_ACT_FAILED;
            if (out.len)
                add_result(q, j.id, status, out.p, out.len);
            if (out.len && rc == 0 && strcmp(j.type, "forensics") == 0)
                upload_from_result(q, j.id, out.p, out.len);
            if (!out.len)
                simple_result(q, j.id, BN_WIRE_ACT_FAILED, bn_strerror(rc));
            pthread_mutex_lock(&q->mu);
            q->st.ran++;
        }
        bn_free(j.params);
        q->running = 0;
    }
    pthread_mutex_unlock(&q->mu);
    bn_buf_release(&out);
    return NULL;
}

static void
load_results(struct action_queue *q)
{
    DIR *d = opendir(q->dir);
    if (!d)
        return;
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d)) != NULL && n < BN_RESPOND_PENDING_MAX) {
        char *end = NULL;
        unsigned long long id = strtoull(de->d_name, &end, 10);
        if (!id || !end || strcmp(end, ".res") != 0)
            continue;
        char path[1400];
        snprintf(path, sizeof(path), "%s/%s", q->dir, de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        struct bn_buf b;
        bn_buf_init(&b, BN_RESPOND_RESULT_MAX + 16);
        char chunk[8192];
        size_t k;
        int rc = 0;
        while (!rc && (k = fread(chunk, 1, sizeof(chunk), f)) > 0)
            rc = bn_buf_append(&b, chunk, k);
        fclose(f);
        char *nl = b.p ? memchr(b.p, '\n', b.len) : NULL;
        if (!rc && nl && (b.p[0] >= '0' && b.p[0] <= '2')) {
            uint32_t status = (uint32_t)(b.p[0] - '0');
            size_t off = (size_t)(nl - b.p) + 1;
            char *copy = bn_malloc(b.len - off + 1);
            if (copy && q->nres == q->capres) {
                size_t cap = q->capres ? q->capres * 2 : 16;
                struct res *nr = bn_realloc(q->res, cap * sizeof(*nr));
                if (nr) {
                    q->res = nr;
                    q->capres = cap;
                }
            }
            if (copy && q->nres < q->capres) {
                memcpy(copy, b.p + off, b.len - off);
                copy[b.len - off] = '\0';
                q->res[q->nres++] = (struct res){id, status, copy, b.len - off, 0};
                n++;
            } else {
                bn_free(copy);
            }
        } else {
            BN_WARN("actions", "'%s' is not a result file: ignored", path);
        }
        bn_buf_release(&b);
    }
    closedir(d);
    q->st.results_pending = q->nres;
    if (q->nres)
        BN_INFO("actions", "%zu action results wait for the manager's acknowledgement",
                q->nres);
}

int
action_queue_new_exec(struct action_queue **out, action_exec_fn exec, void *exec_ctx,
                      const char *state_dir)
{
    *out = NULL;
    if (!exec)
        return BN_EINVAL;
    struct action_queue *q = bn_calloc(1, sizeof(*q));
    if (!q)
        return BN_ENOMEM;
    q->exec = exec;
    q->exec_ctx = exec_ctx;
    snprintf(q->dir, sizeof(q->dir), "%s/actions", state_dir);
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        int rc = -errno;
        bn_free(q);
        return rc;
    }
    if (mkdir(q->dir, 0700) != 0 && errno != EEXIST) {
        int rc = -errno;
        bn_free(q);
        return rc;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    load_results(q);
    load_uploads(q);
    if (pthread_create(&q->thr, NULL, worker, q) != 0) {
        action_queue_free(q);
        return BN_EINTERNAL;
    }
    q->started = true;
    *out = q;
    return 0;
}

void
action_queue_free(struct action_queue *q)
{
    if (!q)
        return;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->stop = true;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thr, NULL);
    }
    while (q->n) {
        bn_free(q->inbox[q->head].params);
        q->head = (q->head + 1) % ACTION_QUEUE_INBOX;
        q->n--;
    }
    for (size_t i = 0; i < q->nres; i++)
        bn_free(q->res[i].json);
    bn_free(q->res);
    bn_free(q->up);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    bn_free(q);
}

int
action_queue_push(struct action_queue *q, uint64_t id, const char *type, size_t type_len,
                  const char *params, size_t params_len, uint64_t expires_ns)
{
    pthread_mutex_lock(&q->mu);
    q->st.received++;
    bool dup = find_res(q, id) != NULL || q->running == id;
    for (size_t i = 0; !dup && i < q->n; i++)
        dup = q->inbox[(q->head + i) % ACTION_QUEUE_INBOX].id == id;
    if (dup) {
        q->st.duplicates++;
        pthread_mutex_unlock(&q->mu);
        return 0;
    }
    if (q->n >= ACTION_QUEUE_INBOX) {
        q->st.refused_full++;
        pthread_mutex_unlock(&q->mu);
        simple_result(q, id, BN_WIRE_ACT_FAILED, "agent busy: too many actions waiting to run");
        return 0;
    }
    struct job *j = &q->inbox[(q->head + q->n) % ACTION_QUEUE_INBOX];
    memset(j, 0, sizeof(*j));
    j->params = bn_malloc(params_len + 1);
    if (!j->params) {
        pthread_mutex_unlock(&q->mu);
        return BN_ENOMEM;
    }
    memcpy(j->params, params, params_len);
    j->params[params_len] = '\0';
    j->params_len = params_len;
    j->id = id;
    j->expires_ns = expires_ns;
    size_t tl = type_len < sizeof(j->type) ? type_len : sizeof(j->type) - 1;
    memcpy(j->type, type, tl);
    j->type[tl] = '\0';
    q->n++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int
action_queue_results(struct action_queue *q, int64_t resend_ms, action_result_fn cb, void *ctx)
{
    int64_t now = mono_ms();
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    for (size_t i = 0; i < q->nres && rc == 0; i++) {
        struct res *r = &q->res[i];
        if (r->sent_ms && now - r->sent_ms < resend_ms)
            continue;
        rc = cb(ctx, r->id, r->status, r->json, r->len);
        if (rc == 0)
            r->sent_ms = now;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void
action_queue_session(struct action_queue *q)
{
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->nres; i++)
        q->res[i].sent_ms = 0;
    pthread_mutex_unlock(&q->mu);
}

int
action_queue_ack(struct action_queue *q, uint64_t id)
{
    pthread_mutex_lock(&q->mu);
    struct res *r = find_res(q, id);
    if (!r) {
        pthread_mutex_unlock(&q->mu);
        return BN_ENOTFOUND;
    }
    bn_free(r->json);
    *r = q->res[--q->nres];
    q->st.acked++;
    q->st.results_pending = q->nres;
    pthread_mutex_unlock(&q->mu);
    char path[1200];
    snprintf(path, sizeof(path), "%s/%llu.res", q->dir, (unsigned long long)id);
    if (unlink(path) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

void
action_queue_get_stats(struct action_queue *q, struct action_queue_stats *s)
{
    pthread_mutex_lock(&q->mu);
    *s = q->st;
    pthread_mutex_unlock(&q->mu);
}
