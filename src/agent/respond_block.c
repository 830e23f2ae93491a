/*
 * respond_block.c - exec blocking through fanotify FAN_OPEN_EXEC_PERM (respond_block.h).
 *
 * Threads: the caller's (actions, lifecycle), the listener (reads permission events, decides,
 * answers, reports denials) and the watchdog (removes the marks and answers by policy when
 * the listener stops making progress). The rule list is guarded by m->lock, held briefly by
 * the listener per event; the decision cache belongs to the listener alone and is
 * invalidated by a rules generation number.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/respond_block.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/yara.h"
#include "bannin/hex.h"

#define HASH_CHUNK    (64u << 10)
#define YARA_SCAN_MAX (16u << 20) /* bytes of a file scanned with YARA rules on exec */
#define LIST_FILE     "block_list.json"

enum kind {
    K_SHA256,
    K_PATH,
    K_PREFIX,
    K_YARA,
};

static const char *const kind_names[] = {"sha256", "path", "prefix", "yara"};

struct rule {
    uint64_t id;
    enum kind kind;
    char *value; /* hex hash, path, or YARA text */
    size_t vlen;
    char *comment;
    int64_t added; /* unix seconds */
    unsigned char sha[32];
    struct bn_yara_rules *yr;
};

struct mark {
    char *path;
    const char *type; /* "mount", "dir", "file" */
    bool ok;
    int err;
};

struct cache_ent {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    uint64_t gen;
    uint64_t verdict; /* rule id that denies, 0 = allowed */
    bool valid;
    bool have_sha;
    unsigned char sha[32];
};

struct resp_block {
    pthread_mutex_t lock; /* rules, n_*, gen */
    struct rule *rules;
    size_t n;
    uint64_t next_id;
    size_t n_sha, n_path, n_yara;
    _Atomic uint64_t gen;
    char *state_file;

    struct resp_block_conf conf;
    struct mark *marks;
    size_t n_marks;

    pthread_mutex_t ctl; /* listener lifecycle */
    int fan_fd;
    int wake_fd;
    pthread_t thr, wd;
    bool running;
    _Atomic bool stop;
    _Atomic bool tripped;
    _Atomic uint64_t heartbeat_ns;
    _Atomic int cur_fd;

    struct cache_ent *cache;
    uint32_t cache_mask;
    EVP_MD_CTX *md;
    unsigned char *fbuf; /* YARA scan buffer (YARA_SCAN_MAX), allocated on first use */

    pthread_mutex_t lat_lock;
    uint32_t *lat;     /* wall time from event read to answer delivered (see handle_event) */
    uint32_t *lat_ret; /* wall time from event read to the answer's write() returning */
    uint32_t *lat_cpu; /* the listener's CPU time for the same interval */
    uint8_t *lat_pre;  /* the listener was preempted on the answer's write() return */
    size_t lat_n, lat_pos, lat_count;

    struct {
        _Atomic uint64_t events, allowed, denied, cache_hits, cache_misses, cache_evictions, hashed,
            timeouts, errors, too_big, watchdog_trips, queue_overflows;
    } st;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define CNT(m, f) atomic_fetch_add_explicit(&(m)->st.f, 1, memory_order_relaxed)

/* ---- results ---- */

static int fail(struct bn_buf *out, int rc, const char *fmt, ...) BN_PRINTF(3, 4);

static int
fail(struct bn_buf *out, int rc, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bn_buf_puts(out, "{\"ok\":false,\"error\":\"");
    bn_buf_json_escape(out, msg, strlen(msg));
    return bn_buf_puts(out, "\"}") < 0 ? BN_ENOMEM : rc;
}

static void
put_str(struct bn_buf *out, const char *s, size_t n)
{
    bn_buf_putc(out, '"');
    bn_buf_json_escape(out, s, n);
    bn_buf_putc(out, '"');
}

/* ---- rules ---- */

static void
rule_release(struct rule *r)
{
    bn_free(r->value);
    bn_free(r->comment);
    bn_yara_rules_free(r->yr);
    memset(r, 0, sizeof(*r));
}

/*
 * Builds a rule from (key, string value) after checking it. err gets the reason on failure.
 * Returns 0, BN_EINVAL, BN_ETOOBIG or BN_ENOMEM.
 */
static int
rule_make(const char *key, const char *val, size_t vlen, struct rule *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (strcmp(key, "sha256") == 0) {
        if (vlen != 64) {
            snprintf(err, errlen, "'sha256' must be 64 hex digits (got %zu characters)", vlen);
            return BN_EINVAL;
        }
        size_t bad = 0;
        if (bn_hex_decode(val, vlen, r->sha, 32, &bad) != 0) {
            snprintf(err, errlen, "'sha256' has a non-hex character at offset %zu", bad);
            return BN_EINVAL;
        }
        r->kind = K_SHA256;
        r->value = bn_malloc(65);
        if (!r->value)
            return BN_ENOMEM;
        bn_hex_encode(r->sha, 32, r->value);
        r->vlen = 64;
        return 0;
    }
    if (strcmp(key, "path") == 0) {
        if (vlen == 0 || val[0] != '/') {
            snprintf(err, errlen, "'path' must be an absolute path");
            return BN_EINVAL;
        }
        if (vlen > BN_RESP_BLOCK_PATH_MAX) {
            snprintf(err, errlen, "'path' is longer than %u bytes", BN_RESP_BLOCK_PATH_MAX);
            return BN_ETOOBIG;
        }
        if (memchr(val, '\0', vlen)) {
            snprintf(err, errlen, "'path' contains a NUL character");
            return BN_EINVAL;
        }
        if (vlen == 1) {
            snprintf(err, errlen, "'path' \"/\" would block every executable: refused");
            return BN_EINVAL;
        }
        /* only normalised paths: a rule is compared byte for byte with the kernel's path */
        for (size_t i = 0; i < vlen; i++) {
            if (val[i] != '/')
                continue;
            const char *c = val + i + 1;
            size_t rest = vlen - i - 1;
            if ((rest >= 1 && c[0] == '/') || (rest == 1 && c[0] == '.') ||
                (rest >= 2 && c[0] == '.' && c[1] == '/') ||
                (rest == 2 && c[0] == '.' && c[1] == '.') ||
                (rest >= 3 && c[0] == '.' && c[1] == '.' && c[2] == '/')) {
                snprintf(err, errlen,
                         "'path' must be normalised (no '//', '/./' or '/../' components)");
                return BN_EINVAL;
            }
        }
        r->kind = val[vlen - 1] == '/' ? K_PREFIX : K_PATH;
        r->value = bn_malloc(vlen + 1);
        if (!r->value)
            return BN_ENOMEM;
        memcpy(r->value, val, vlen);
        r->value[vlen] = '\0';
        r->vlen = vlen;
        return 0;
    }
    if (strcmp(key, "yara") == 0) {
        if (vlen == 0 || vlen > BN_RESP_BLOCK_YARA_MAX) {
            snprintf(err, errlen, "'yara' must be rule text of 1 to %u bytes",
                     BN_RESP_BLOCK_YARA_MAX);
            return vlen ? BN_ETOOBIG : BN_EINVAL;
        }
        struct bn_yara_report rep;
        memset(&rep, 0, sizeof(rep));
        int rc = bn_yara_compile_text(val, vlen, "block", NULL, &r->yr, &rep);
        if (rc < 0 || bn_yara_rules_count(r->yr) == 0) {
            if (rep.nissues)
                snprintf(err, errlen, "'yara' does not compile: line %d: %s", rep.issues[0].line,
                         rep.issues[0].message);
            else
                snprintf(err, errlen, "'yara' does not compile: %s", bn_strerror(rc));
            bn_yara_report_release(&rep);
            bn_yara_rules_free(r->yr);
            r->yr = NULL;
            return rc == BN_ENOMEM ? rc : BN_EINVAL;
        }
        bn_yara_report_release(&rep);
        r->kind = K_YARA;
        r->value = bn_malloc(vlen + 1);
        if (!r->value) {
            rule_release(r);
            return BN_ENOMEM;
        }
        memcpy(r->value, val, vlen);
        r->value[vlen] = '\0';
        r->vlen = vlen;
        return 0;
    }
    snprintf(err, errlen, "expected one of 'sha256', 'path', 'yara'");
    return BN_EINVAL;
}

static bool
rule_same(const struct rule *a, const struct rule *b)
{
    return a->kind == b->kind && a->vlen == b->vlen && memcmp(a->value, b->value, a->vlen) == 0;
}

static void
count_kinds(struct resp_block *m)
{
    m->n_sha = m->n_path = m->n_yara = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->rules[i].kind == K_SHA256)
            m->n_sha++;
        else if (m->rules[i].kind == K_YARA)
            m->n_yara++;
        else
            m->n_path++;
    }
    atomic_fetch_add(&m->gen, 1);
}

/* Appends r (consumed) to the list; caller holds the lock. */
static int
rules_push(struct resp_block *m, struct rule *r)
{
    if (m->n >= BN_RESP_BLOCK_RULES_MAX)
        return BN_EFULL;
    struct rule *nr = bn_reallocarray(m->rules, m->n + 1, sizeof(*nr));
    if (!nr)
        return BN_ENOMEM;
    m->rules = nr;
    m->rules[m->n++] = *r;
    memset(r, 0, sizeof(*r));
    count_kinds(m);
    return 0;
}

/* ---- persistence ---- */

static void
put_rule(struct bn_buf *b, const struct rule *r, bool full_yara)
{
    bn_buf_printf(b, "{\"id\":%" PRIu64 ",\"kind\":\"%s\",\"value\":", r->id, kind_names[r->kind]);
    size_t n = r->vlen;
    if (!full_yara && n > 256)
        n = 256;
    put_str(b, r->value, n);
    if (n < r->vlen)
        bn_buf_puts(b, ",\"truncated\":true");
    if (r->comment) {
        bn_buf_puts(b, ",\"comment\":");
        put_str(b, r->comment, strlen(r->comment));
    }
    bn_buf_printf(b, ",\"added\":%" PRId64 "}", r->added);
}

/* Writes the list atomically (tmp, fsync, rename). Caller holds the lock. */
static int
save_list(struct resp_block *m)
{
    if (!m->state_file)
        return 0;
    struct bn_buf b;
    bn_buf_init(&b, BN_RESP_BLOCK_LIST_MAX);
    bn_buf_printf(&b, "{\"version\":1,\"next_id\":%" PRIu64 ",\"rules\":[", m->next_id);
    for (size_t i = 0; i < m->n; i++) {
        if (i)
            bn_buf_putc(&b, ',');
        put_rule(&b, &m->rules[i], true);
    }
    int rc = bn_buf_puts(&b, "]}\n");
    if (rc < 0) {
        bn_buf_release(&b);
        return rc;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", m->state_file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.p + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : BN_EIO;
            close(fd);
            unlink(tmp);
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0) {
        rc = -errno;
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, m->state_file) < 0) {
        rc = -errno;
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        BN_ERROR("respond", "cannot save the block list '%s': %s", m->state_file, bn_strerror(rc));
    bn_buf_release(&b);
    return rc;
}

int
resp_block_load_text(struct resp_block *m, const char *text, size_t len, char *err, size_t errlen)
{
    if (len > BN_RESP_BLOCK_LIST_MAX) {
        snprintf(err, errlen, "block list larger than %u bytes", BN_RESP_BLOCK_LIST_MAX);
        return BN_ETOOBIG;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errlen, "%d:%d: %s", je.line, je.column, je.text);
        return BN_EPARSE;
    }
    int rc = 0;
    json_t *ver = json_object_get(j, "version");
    json_t *arr = json_object_get(j, "rules");
    json_t *nid = json_object_get(j, "next_id");
    if (!json_is_object(j) || !json_is_integer(ver) || json_integer_value(ver) != 1 ||
        !json_is_array(arr)) {
        snprintf(err, errlen, "expected {\"version\":1,\"rules\":[...]}");
        rc = BN_EPARSE;
        goto out;
    }
    if (json_array_size(arr) > BN_RESP_BLOCK_RULES_MAX) {
        snprintf(err, errlen, "more than %u rules", BN_RESP_BLOCK_RULES_MAX);
        rc = BN_ETOOBIG;
        goto out;
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        json_t *id = json_object_get(e, "id"), *kind = json_object_get(e, "kind");
        json_t *val = json_object_get(e, "value"), *com = json_object_get(e, "comment");
        json_t *added = json_object_get(e, "added");
        if (!json_is_integer(id) || json_integer_value(id) <= 0 || !json_is_string(kind) ||
            !json_is_string(val) || (com && !json_is_string(com))) {
            snprintf(err, errlen, "rules[%zu]: expected id (> 0), kind, value strings", i);
            rc = BN_EPARSE;
            goto out;
        }
        const char *k = json_string_value(kind);
        const char *key = strcmp(k, "prefix") == 0 ? "path" : k;
        struct rule r;
        char why[512];
        rc = rule_make(key, json_string_value(val), json_string_length(val), &r, why, sizeof(why));
        if (rc == 0 && strcmp(kind_names[r.kind], k) != 0) {
            snprintf(why, sizeof(why), "kind '%s' does not fit its value", k);
            rule_release(&r);
            rc = BN_EPARSE;
        }
        if (rc < 0) {
            char kk[32];
            snprintf(kk, sizeof(kk), "%.20s", k);
            snprintf(err, errlen, "rules[%zu] (%s): %s", i, kk, why);
            rc = rc == BN_ENOMEM ? rc : BN_EPARSE;
            goto out;
        }
        r.id = (uint64_t)json_integer_value(id);
        r.added = json_is_integer(added) ? (int64_t)json_integer_value(added) : 0;
        if (com && json_string_length(com) <= BN_RESP_BLOCK_COMMENT_MAX &&
            !memchr(json_string_value(com), '\0', json_string_length(com))) {
            r.comment = bn_strdup(json_string_value(com));
            if (!r.comment) {
                rule_release(&r);
                rc = BN_ENOMEM;
                goto out;
            }
        }
        pthread_mutex_lock(&m->lock);
        bool dup = false;
        for (size_t x = 0; x < m->n && !dup; x++)
            dup = m->rules[x].id == r.id || rule_same(&m->rules[x], &r);
        if (dup) {
            pthread_mutex_unlock(&m->lock);
            snprintf(err, errlen, "rules[%zu]: duplicate id or rule", i);
            rule_release(&r);
            rc = BN_EPARSE;
            goto out;
        }
        if (r.id >= m->next_id)
            m->next_id = r.id + 1;
        rc = rules_push(m, &r);
        pthread_mutex_unlock(&m->lock);
        if (rc < 0) {
            rule_release(&r);
            snprintf(err, errlen, "rules[%zu]: %s", i, bn_strerror(rc));
            goto out;
        }
    }
    if (json_is_integer(nid) && json_integer_value(nid) > 0) {
        pthread_mutex_lock(&m->lock);
        if ((uint64_t)json_integer_value(nid) > m->next_id)
            m->next_id = (uint64_t)json_integer_value(nid);
        pthread_mutex_unlock(&m->lock);
    }
out:
    json_decref(j);
    return rc;
}

static int
load_list(struct resp_block *m)
{
    int fd = open(m->state_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || sb.st_size > (off_t)BN_RESP_BLOCK_LIST_MAX) {
        close(fd);
        BN_ERROR("respond", "block list '%s' is larger than %u bytes", m->state_file,
                 BN_RESP_BLOCK_LIST_MAX);
        return BN_ETOOBIG;
    }
    char *buf = bn_malloc((size_t)sb.st_size + 1);
    if (!buf) {
        close(fd);
        return BN_ENOMEM;
    }
    size_t off = 0;
    while (off < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)sb.st_size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    close(fd);
    char err[768];
    int rc = resp_block_load_text(m, buf, off, err, sizeof(err));
    if (rc < 0)
        BN_ERROR("respond", "%s:%s", m->state_file, err);
    bn_free(buf);
    return rc;
}

/* ---- the listener ---- */

struct verdict {
    bool deny;
    bool timeout; /* answered by policy: deadline passed */
    bool policy;  /* answered by policy: error or too big */
    uint64_t rule_id;
    const char *kind;
    char rule[BN_RESP_BLOCK_PATH_MAX + 1]; /* rule value shown in the report */
    bool have_sha;
    unsigned char sha[32];
    /* content work left after a timeout (hash, then cache) */
    bool finish;
    uint64_t hash_off;
};

/* Checks path rules; fills v on a match. Caller holds the lock. */
static bool
match_path(struct resp_block *m, const char *path, size_t plen, struct verdict *v)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct rule *r = &m->rules[i];
        bool hit = (r->kind == K_PATH && r->vlen == plen && memcmp(r->value, path, plen) == 0) ||
                   (r->kind == K_PREFIX && plen > r->vlen && memcmp(r->value, path, r->vlen) == 0);
        if (hit) {
            v->deny = true;
            v->rule_id = r->id;
            v->kind = kind_names[r->kind];
            snprintf(v->rule, sizeof(v->rule), "%s", r->value);
            return true;
        }
    }
    return false;
}

/* Content verdict from a known hash and (optionally) YARA. Caller holds the lock. */
static void
match_sha(struct resp_block *m, const unsigned char *sha, struct verdict *v)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct rule *r = &m->rules[i];
        if (r->kind == K_SHA256 && memcmp(r->sha, sha, 32) == 0) {
            v->deny = true;
            v->rule_id = r->id;
            v->kind = "sha256";
            snprintf(v->rule, sizeof(v->rule), "%s", r->value);
            return;
        }
    }
}

struct yara_hit {
    char name[256];
    bool hit;
};

static int
on_yara(const struct bn_yara_match *ym, void *ud)
{
    struct yara_hit *h = ud;
    snprintf(h->name, sizeof(h->name), "%s", ym->rule);
    h->hit = true;
    return 1;
}

/* Hashes fd from *off on, stopping at deadline (0: none). 0 done, BN_AGAIN deadline hit. */
static int
hash_fd(struct resp_block *m, int fd, uint64_t size, uint64_t *off, uint64_t deadline,
        unsigned char *sha)
{
    unsigned char buf[HASH_CHUNK];
    if (*off == 0 && EVP_DigestInit_ex(m->md, EVP_sha256(), NULL) != 1)
        return BN_EINTERNAL;
    while (*off < size) {
        uint64_t t = now_ns();
        if (deadline && t > deadline)
            return BN_AGAIN;
        atomic_store(&m->heartbeat_ns, t); /* progress, for the watchdog */
        size_t want = size - *off < HASH_CHUNK ? (size_t)(size - *off) : HASH_CHUNK;
        ssize_t r = pread(fd, buf, want, (off_t)*off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break; /* shrank: hash what is there */
        if (EVP_DigestUpdate(m->md, buf, (size_t)r) != 1)
            return BN_EINTERNAL;
        *off += (uint64_t)r;
    }
    unsigned int n = 32;
    if (EVP_DigestFinal_ex(m->md, sha, &n) != 1)
        return BN_EINTERNAL;
    CNT(m, hashed);
    return 0;
}

static struct cache_ent *
cache_slot(struct resp_block *m, const struct stat *sb)
{
    uint64_t h =
        (uint64_t)sb->st_ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)sb->st_dev * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return &m->cache[h & m->cache_mask];
}

static bool
cache_key_eq(const struct cache_ent *c, const struct stat *sb)
{
    return c->valid && c->dev == (uint64_t)sb->st_dev && c->ino == (uint64_t)sb->st_ino &&
           c->size == (uint64_t)sb->st_size &&
           c->mtime_ns == (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec &&
           c->ctime_ns == (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec;
}

static void
cache_store(struct resp_block *m, const struct stat *sb, const struct verdict *v, uint64_t gen)
{
    if (!m->cache)
        return;
    struct cache_ent *c = cache_slot(m, sb);
    if (c->valid && !cache_key_eq(c, sb))
        CNT(m, cache_evictions);
    c->valid = true;
    c->dev = (uint64_t)sb->st_dev;
    c->ino = (uint64_t)sb->st_ino;
    c->size = (uint64_t)sb->st_size;
    c->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
    c->ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec;
    c->gen = gen;
    c->verdict = v->deny ? v->rule_id : 0;
    c->have_sha = v->have_sha;
    if (v->have_sha)
        memcpy(c->sha, v->sha, 32);
}

/* Runs the YARA rules over the file's first YARA_SCAN_MAX bytes. Lock held. */
static int
match_yara(struct resp_block *m, int fd, uint64_t size, struct verdict *v)
{
    if (size > YARA_SCAN_MAX)
        return BN_ETOOBIG;
    if (!m->fbuf) {
        m->fbuf = bn_malloc(YARA_SCAN_MAX); /* listener-only, kept once YARA rules exist */
        if (!m->fbuf)
            return BN_ENOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, m->fbuf + got, (size_t)size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    struct bn_yara_scan_opts so = {.max_size = YARA_SCAN_MAX, .timeout_s = 1};
    for (size_t i = 0; i < m->n; i++) {
        struct rule *r = &m->rules[i];
        if (r->kind != K_YARA)
            continue;
        struct yara_hit h = {.hit = false};
        int rc = bn_yara_scan_mem(r->yr, m->fbuf, got, &so, on_yara, &h);
        if (rc == BN_ETOOBIG)
            return BN_AGAIN; /* libyara's timeout */
        if (rc < 0)
            return rc;
        if (h.hit) {
            v->deny = true;
            v->rule_id = r->id;
            v->kind = "yara";
            snprintf(v->rule, sizeof(v->rule), "%s", h.name);
            return 0;
        }
    }
    return 0;
}

/* Decides one exec. Never blocks past the deadline except inside one YARA scan. */
/* The event file's path as the agent sees it ("" when unknown). */
static void
fd_path(int fd, char *path, size_t cap)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t pl = readlink(link, path, cap - 1);
    path[pl > 0 ? (size_t)pl : 0] = '\0';
}

static void
decide(struct resp_block *m, int fd, char *path, size_t pcap, uint64_t deadline, struct stat *sb,
       bool *have_sb, struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    *have_sb = false;
    pthread_mutex_lock(&m->lock);
    if (m->n_path) {
        /* only path rules need the path before answering (readlink costs microseconds) */
        fd_path(fd, path, pcap);
        if (match_path(m, path, strlen(path), v)) {
            pthread_mutex_unlock(&m->lock);
            return;
        }
    }
    bool content = m->n_sha || m->n_yara;
    bool yara = m->n_yara > 0;
    uint64_t gen = atomic_load(&m->gen);
    pthread_mutex_unlock(&m->lock);
    if (!content)
        return;
    if (fstat(fd, sb) < 0) {
        v->policy = true;
        CNT(m, errors);
        return;
    }
    *have_sb = true;
    if (m->cache) {
        struct cache_ent *c = cache_slot(m, sb);
        if (cache_key_eq(c, sb)) {
            if (c->gen == gen) {
                CNT(m, cache_hits);
                if (c->verdict) {
                    pthread_mutex_lock(&m->lock);
                    for (size_t i = 0; i < m->n; i++) {
                        if (m->rules[i].id == c->verdict) {
                            v->kind = kind_names[m->rules[i].kind];
                            snprintf(v->rule, sizeof(v->rule), "%s", m->rules[i].value);
                        }
                    }
                    pthread_mutex_unlock(&m->lock);
                    v->deny = true;
                    v->rule_id = c->verdict;
                    if (!v->kind)
                        v->kind = "sha256";
                }
                v->have_sha = c->have_sha;
                memcpy(v->sha, c->sha, 32);
                return;
            }
            if (c->have_sha && !yara) {
                /* rules changed: the hash is still good */
                CNT(m, cache_hits);
                v->have_sha = true;
                memcpy(v->sha, c->sha, 32);
                pthread_mutex_lock(&m->lock);
                match_sha(m, v->sha, v);
                pthread_mutex_unlock(&m->lock);
                cache_store(m, sb, v, gen);
                return;
            }
        }
        CNT(m, cache_misses);
    }
    if ((uint64_t)sb->st_size > BN_RESP_BLOCK_HASH_MAX) {
        v->policy = true;
        CNT(m, too_big);
        return;
    }
    if (now_ns() > deadline) {
        v->timeout = true;
        v->finish = true;
        return;
    }
    uint64_t off = 0;
    int rc = hash_fd(m, fd, (uint64_t)sb->st_size, &off, deadline, v->sha);
    if (rc == BN_AGAIN) {
        v->timeout = true;
        v->finish = true;
        v->hash_off = off;
        return;
    }
    if (rc < 0) {
        v->policy = true;
        CNT(m, errors);
        return;
    }
    v->have_sha = true;
    pthread_mutex_lock(&m->lock);
    match_sha(m, v->sha, v);
    if (!v->deny && m->n_yara) {
        rc = match_yara(m, fd, (uint64_t)sb->st_size, v);
        if (rc == BN_AGAIN) {
            pthread_mutex_unlock(&m->lock);
            v->timeout = true; /* counted by the caller; the hash is cached below */
            v->have_sha = false;
            return;
        }
        if (rc < 0) {
            pthread_mutex_unlock(&m->lock);
            v->policy = true;
            if (rc == BN_ETOOBIG)
                CNT(m, too_big);
            else
                CNT(m, errors);
            return;
        }
    }
    pthread_mutex_unlock(&m->lock);
    cache_store(m, sb, v, gen);
}

/* After a timeout answer: finish the content verdict so the next exec is decided. */
static void
finish_content(struct resp_block *m, int fd, const struct stat *sb, struct verdict *v)
{
    uint64_t gen = atomic_load(&m->gen);
    uint64_t off = v->hash_off;
    if (hash_fd(m, fd, (uint64_t)sb->st_size, &off, 0, v->sha) < 0)
        return;
    struct verdict nv;
    memset(&nv, 0, sizeof(nv));
    nv.have_sha = true;
    memcpy(nv.sha, v->sha, 32);
    pthread_mutex_lock(&m->lock);
    match_sha(m, nv.sha, &nv);
    if (!nv.deny && m->n_yara && match_yara(m, fd, (uint64_t)sb->st_size, &nv) < 0) {
        pthread_mutex_unlock(&m->lock);
        return;
    }
    pthread_mutex_unlock(&m->lock);
    v->have_sha = true;
    cache_store(m, sb, &nv, gen);
}

static uint64_t
cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
record_latency(struct resp_block *m, uint64_t ns, uint64_t ret, uint64_t cpu, bool preempted)
{
    if (!m->lat)
        return;
    pthread_mutex_lock(&m->lat_lock);
    m->lat[m->lat_pos] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    m->lat_ret[m->lat_pos] = ret > UINT32_MAX ? UINT32_MAX : (uint32_t)ret;
    m->lat_pre[m->lat_pos] = preempted;
    m->lat_cpu[m->lat_pos] = cpu > UINT32_MAX ? UINT32_MAX : (uint32_t)cpu;
    m->lat_pos = (m->lat_pos + 1) % m->lat_n;
    if (m->lat_count < m->lat_n)
        m->lat_count++;
    pthread_mutex_unlock(&m->lat_lock);
}

static void
answer(int fan_fd, int fd, bool allow)
{
    struct fanotify_response resp = {.fd = fd, .response = allow ? FAN_ALLOW : FAN_DENY};
    while (write(fan_fd, &resp, sizeof(resp)) < 0 && errno == EINTR)
        ;
}

static void
handle_event(struct resp_block *m, const struct fanotify_event_metadata *md, uint64_t t_read)
{
    uint64_t deadline = t_read + (uint64_t)m->conf.deadline_us * 1000u;
    uint64_t c0 = m->lat ? cpu_ns() : 0;
    atomic_store(&m->cur_fd, md->fd);
    CNT(m, events);
    char path[BN_RESP_BLOCK_PATH_MAX + 1];
    path[0] = '\0';
    struct verdict v;
    struct stat sb;
    bool have_sb;
    decide(m, md->fd, path, sizeof(path), deadline, &sb, &have_sb, &v);
    bool allow = !v.deny;
    if (v.timeout || v.policy) {
        allow = !m->conf.fail_closed;
        v.kind = v.timeout ? "timeout" : "policy";
        v.rule[0] = '\0';
        v.rule_id = 0;
        v.deny = !allow;
    }
    if (v.timeout)
        CNT(m, timeouts);
    if (m->lat) {
        /*
         * The answer is delivered inside write(): the kernel releases the exec and wakes the
         * waiting process there. That process often preempts the listener on the syscall's
         * return (EEVDF wakeup preemption; nice does not stop it), and the listener is then
         * off the CPU for up to a few hundred microseconds on a loaded host - after the exec
         * was already answered. So the decision latency is the time to the write plus the
         * write's own CPU time; the time to write()'s return is kept too (lat_ret).
         */
        struct rusage ru0, ru1;
        getrusage(RUSAGE_THREAD, &ru0);
        uint64_t t_ans = now_ns(), w0 = cpu_ns();
        answer(m->fan_fd, md->fd, allow);
        uint64_t w1 = cpu_ns(), t_ret = now_ns();
        getrusage(RUSAGE_THREAD, &ru1);
        record_latency(m, t_ans - t_read + (w1 - w0), t_ret - t_read, w1 - c0,
                       ru1.ru_nivcsw != ru0.ru_nivcsw);
    } else {
        answer(m->fan_fd, md->fd, allow);
    }
    atomic_store(&m->cur_fd, -1);
    if (allow)
        CNT(m, allowed);
    else
        CNT(m, denied);
    if (v.finish && have_sb && m->cache)
        finish_content(m, md->fd, &sb, &v);
    resp_block_deny_cb cb = NULL;
    void *cb_ctx = NULL;
    if (!allow) {
        pthread_mutex_lock(&m->lock);
        cb = m->conf.on_deny;
        cb_ctx = m->conf.deny_ctx;
        pthread_mutex_unlock(&m->lock);
    }
    if (cb) {
        if (!path[0])
            fd_path(md->fd, path, sizeof(path));
        char hex[65];
        if (v.have_sha)
            bn_hex_encode(v.sha, 32, hex);
        struct resp_block_denial d = {
            .pid = md->pid,
            .path = path,
            .sha256 = v.have_sha ? hex : NULL,
            .rule_kind = v.kind ? v.kind : "policy",
            .rule = v.rule,
            .rule_id = v.rule_id,
        };
        cb(cb_ctx, &d);
    }
    close(md->fd);
}

#define LISTENER_SLICE_US 100

/*
 * Asks the scheduler for a short slice (EEVDF, Linux >= 6.12: sched_runtime of a SCHED_OTHER
 * thread). The answer's write() wakes the process waiting in execve; with the default slice
 * that process preempts the listener on the syscall's return in 5-30% of the events on a
 * loaded host, and the listener is then off the CPU for hundreds of microseconds, while the
 * next event waits. A short slice gives the listener an earlier virtual deadline: it is
 * preempted about half as often and preempts sooner when its event arrives. Older kernels
 * ignore the field; a refusal is logged and changes nothing else.
 */
static void
set_slice(int us)
{
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
    } sa;
    memset(&sa, 0, sizeof(sa));
    sa.size = sizeof(sa);
    sa.policy = SCHED_OTHER;
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, (id_t)gettid());
    sa.nice = errno ? 0 : cur; /* keep the nice just set */
    sa.runtime = (uint64_t)us * 1000u;
    if (syscall(SYS_sched_setattr, 0, &sa, 0) != 0)
        BN_INFO("respond", "exec blocker: the listener keeps the default slice (%s)",
                strerror(errno));
}

static void *
listener_main(void *arg)
{
    struct resp_block *m = arg;
    /* every exec on a marked mount waits for this thread: run it ahead of ordinary work */
    if (m->conf.rt_priority) {
        struct sched_param sp = {.sched_priority = m->conf.rt_priority};
        int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
        if (e)
            BN_WARN("respond", "exec blocker: cannot run the listener SCHED_FIFO %d: %s",
                    m->conf.rt_priority, strerror(e));
    } else if (m->conf.nice && setpriority(PRIO_PROCESS, (id_t)gettid(), m->conf.nice) < 0) {
        BN_WARN("respond", "exec blocker: cannot set the listener's nice to %d: %s", m->conf.nice,
                strerror(errno));
    }
    if (!m->conf.rt_priority && m->conf.slice_us >= 0)
        set_slice(m->conf.slice_us ? m->conf.slice_us : LISTENER_SLICE_US);
    /* fanotify metadata is aligned; the buffer must be too */
    static _Thread_local union {
        struct fanotify_event_metadata md;
        char b[16384];
    } ebuf;
    while (!atomic_load(&m->stop) && !atomic_load(&m->tripped)) {
        atomic_store(&m->heartbeat_ns, now_ns());
        struct pollfd p[2] = {{.fd = m->fan_fd, .events = POLLIN},
                              {.fd = m->wake_fd, .events = POLLIN}};
        int pr = poll(p, 2, 100);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0 || !(p[0].revents & POLLIN))
            continue;
        ssize_t n = read(m->fan_fd, ebuf.b, sizeof(ebuf.b));
        uint64_t t_read = now_ns();
        if (n <= 0)
            continue;
        const struct fanotify_event_metadata *md = &ebuf.md;
        for (; FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n)) {
            if (md->vers != FANOTIFY_METADATA_VERSION) {
                BN_ERROR("respond", "fanotify metadata version %u, expected %u: stopping",
                         (unsigned)md->vers, (unsigned)FANOTIFY_METADATA_VERSION);
                atomic_store(&m->tripped, true);
                break;
            }
            if (md->mask & FAN_Q_OVERFLOW) {
                CNT(m, queue_overflows);
                continue;
            }
            if (md->fd < 0)
                continue;
            if (md->mask & FAN_OPEN_EXEC_PERM) {
                atomic_store(&m->heartbeat_ns, now_ns());
                handle_event(m, md, t_read);
            } else {
                close(md->fd);
            }
        }
    }
    return NULL;
}

static void
remove_marks(struct resp_block *m)
{
    fanotify_mark(m->fan_fd, FAN_MARK_FLUSH | FAN_MARK_MOUNT, 0, AT_FDCWD, NULL);
    fanotify_mark(m->fan_fd, FAN_MARK_FLUSH, 0, AT_FDCWD, NULL);
}

static void *
watchdog_main(void *arg)
{
    struct resp_block *m = arg;
    uint64_t limit = (uint64_t)m->conf.watchdog_ms * 1000000ull;
    while (!atomic_load(&m->stop)) {
        struct pollfd p = {.fd = m->wake_fd, .events = POLLIN};
        int step = (int)(m->conf.watchdog_ms / 4 ? m->conf.watchdog_ms / 4 : 1);
        if (poll(&p, 1, step) > 0 || atomic_load(&m->stop))
            break;
        if (atomic_load(&m->tripped) || now_ns() - atomic_load(&m->heartbeat_ns) < limit)
            continue;
        /* the listener is stuck: no new events, answer what waits by policy */
        atomic_store(&m->tripped, true);
        CNT(m, watchdog_trips);
        remove_marks(m);
        bool allow = !m->conf.fail_closed;
        int cur = atomic_load(&m->cur_fd);
        if (cur >= 0)
            answer(m->fan_fd, cur, allow);
        union {
            struct fanotify_event_metadata md;
            char b[8192];
        } wb;
        ssize_t n;
        while ((n = read(m->fan_fd, wb.b, sizeof(wb.b))) > 0) {
            const struct fanotify_event_metadata *md = &wb.md;
            for (; FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n)) {
                if (md->fd < 0)
                    continue;
                if (md->mask & FAN_OPEN_EXEC_PERM)
                    answer(m->fan_fd, md->fd, allow);
                close(md->fd);
            }
        }
        BN_ERROR("respond",
                 "exec blocker stalled for over %u ms: marks removed, pending "
                 "execs answered by policy (%s); blocking is off until restarted",
                 m->conf.watchdog_ms, allow ? "allow" : "deny");
    }
    return NULL;
}

static bool
is_mount_point(const char *path, const struct stat *sb)
{
    char parent[PATH_MAX];
    if ((size_t)snprintf(parent, sizeof(parent), "%s/..", path) >= sizeof(parent))
        return false;
    struct stat ps;
    if (stat(parent, &ps) < 0)
        return false;
    return ps.st_dev != sb->st_dev || ps.st_ino == sb->st_ino;
}

/* Starts the listener if rules and marks exist. Caller holds m->ctl. */
static int
listener_start(struct resp_block *m)
{
    if (m->running || !m->n_marks || atomic_load(&m->tripped))
        return 0;
    m->fan_fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK,
                              O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (m->fan_fd < 0) {
        int e = -errno;
        BN_ERROR("respond", "exec blocker: fanotify_init: %s", bn_strerror(e));
        return e;
    }
    size_t ok = 0;
    for (size_t i = 0; i < m->n_marks; i++) {
        struct mark *mk = &m->marks[i];
        struct stat sb;
        mk->ok = false;
        if (stat(mk->path, &sb) < 0) {
            mk->err = -errno;
            continue;
        }
        unsigned int flags = FAN_MARK_ADD;
        uint64_t mask = FAN_OPEN_EXEC_PERM;
        if (S_ISDIR(sb.st_mode) && is_mount_point(mk->path, &sb)) {
            flags |= FAN_MARK_MOUNT;
            mk->type = "mount";
        } else if (S_ISDIR(sb.st_mode)) {
            mask |= FAN_EVENT_ON_CHILD;
            mk->type = "dir";
        } else {
            mk->type = "file";
        }
        if (fanotify_mark(m->fan_fd, flags, mask, AT_FDCWD, mk->path) < 0) {
            mk->err = -errno;
            BN_ERROR("respond", "exec blocker: cannot mark '%s': %s", mk->path,
                     bn_strerror(mk->err));
            continue;
        }
        mk->ok = true;
        mk->err = 0;
        ok++;
    }
    if (!ok) {
        close(m->fan_fd);
        m->fan_fd = -1;
        return BN_ENOTFOUND;
    }
    atomic_store(&m->stop, false);
    atomic_store(&m->heartbeat_ns, now_ns());
    uint64_t v;
    while (read(m->wake_fd, &v, sizeof(v)) > 0)
        ;
    if (pthread_create(&m->thr, NULL, listener_main, m) != 0) {
        close(m->fan_fd);
        m->fan_fd = -1;
        return BN_EINTERNAL;
    }
    if (pthread_create(&m->wd, NULL, watchdog_main, m) != 0) {
        atomic_store(&m->stop, true);
        uint64_t one = 1;
        if (write(m->wake_fd, &one, sizeof(one)) < 0)
            BN_WARN("respond", "exec blocker: cannot wake the listener");
        pthread_join(m->thr, NULL);
        close(m->fan_fd);
        m->fan_fd = -1;
        return BN_EINTERNAL;
    }
    m->running = true;
    return 0;
}

/* Caller holds m->ctl. Pending events are allowed by the kernel when the group closes. */
static void
listener_stop(struct resp_block *m)
{
    if (!m->running)
        return;
    atomic_store(&m->stop, true);
    uint64_t one = 1;
    if (write(m->wake_fd, &one, sizeof(one)) < 0)
        BN_WARN("respond", "exec blocker: cannot wake the listener");
    pthread_join(m->wd, NULL);
    pthread_join(m->thr, NULL);
    remove_marks(m);
    close(m->fan_fd);
    m->fan_fd = -1;
    m->running = false;
}

static void
sync_listener(struct resp_block *m)
{
    pthread_mutex_lock(&m->ctl);
    pthread_mutex_lock(&m->lock);
    size_t n = m->n;
    pthread_mutex_unlock(&m->lock);
    if (n && !m->running)
        listener_start(m);
    else if (!n && m->running)
        listener_stop(m);
    pthread_mutex_unlock(&m->ctl);
}

/* ---- lifecycle ---- */

int
resp_block_new(struct resp_block **out, const struct respond_paths *paths)
{
    return resp_block_new_conf(out, paths, NULL);
}

int
resp_block_new_conf(struct resp_block **out, const struct respond_paths *paths,
                    const struct resp_block_conf *conf)
{
    *out = NULL;
    struct resp_block *m = bn_calloc(1, sizeof(*m));
    if (!m)
        return BN_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->ctl, NULL);
    pthread_mutex_init(&m->lat_lock, NULL);
    m->fan_fd = -1;
    m->next_id = 1;
    atomic_store(&m->cur_fd, -1);
    m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = BN_ENOMEM;
    if (m->wake_fd < 0) {
        rc = -errno;
        goto fail;
    }
    if (conf)
        m->conf = *conf;
    m->conf.marks = NULL;
    m->conf.n_marks = 0;
    if (!m->conf.deadline_us)
        m->conf.deadline_us = BN_RESP_BLOCK_DEADLINE_US;
    if (m->conf.rt_priority < 0 || m->conf.rt_priority > 99) {
        rc = BN_EINVAL;
        goto fail;
    }
    if (!m->conf.nice)
        m->conf.nice = -10;
    else if (m->conf.nice > 19)
        m->conf.nice = 0; /* "keep the agent's priority" */
    if (!m->conf.watchdog_ms)
        m->conf.watchdog_ms = 2000;
    if (!m->conf.cache_slots)
        m->conf.cache_slots = BN_RESP_BLOCK_CACHE_SLOTS;
    if (m->conf.cache_slots > BN_RESP_BLOCK_CACHE_SLOTS_MAX ||
        (m->conf.cache_slots & (m->conf.cache_slots - 1))) {
        rc = BN_EINVAL;
        goto fail;
    }
    if (conf && conf->n_marks) {
        if (conf->n_marks > BN_RESP_BLOCK_MARKS_MAX) {
            rc = BN_ETOOBIG;
            goto fail;
        }
        m->marks = bn_calloc(conf->n_marks, sizeof(*m->marks));
        if (!m->marks)
            goto fail;
        for (size_t i = 0; i < conf->n_marks; i++) {
            m->marks[i].path = bn_strdup(conf->marks[i]);
            m->marks[i].type = "?";
            if (!m->marks[i].path)
                goto fail;
            m->n_marks++;
        }
    }
    if (!m->conf.no_cache) {
        m->cache = bn_calloc(m->conf.cache_slots, sizeof(*m->cache));
        if (!m->cache)
            goto fail;
        m->cache_mask = m->conf.cache_slots - 1;
    }
    if (m->conf.latency_samples) {
        m->lat = bn_calloc(m->conf.latency_samples, sizeof(*m->lat));
        m->lat_ret = bn_calloc(m->conf.latency_samples, sizeof(*m->lat_ret));
        m->lat_cpu = bn_calloc(m->conf.latency_samples, sizeof(*m->lat_cpu));
        m->lat_pre = bn_calloc(m->conf.latency_samples, sizeof(*m->lat_pre));
        if (!m->lat || !m->lat_cpu || !m->lat_ret || !m->lat_pre)
            goto fail;
        m->lat_n = m->conf.latency_samples;
    }
    m->md = EVP_MD_CTX_new();
    if (!m->md)
        goto fail;
    if (paths && paths->state_dir) {
        if (mkdir(paths->state_dir, 0700) < 0 && errno != EEXIST) {
            rc = -errno;
            goto fail;
        }
        char p[PATH_MAX];
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", paths->state_dir, LIST_FILE) >= sizeof(p)) {
            rc = BN_ETOOBIG;
            goto fail;
        }
        m->state_file = bn_strdup(p);
        if (!m->state_file)
            goto fail;
        rc = load_list(m);
        if (rc < 0)
            goto fail;
    }
    sync_listener(m);
    *out = m;
    return 0;
fail:
    resp_block_free(m);
    return rc;
}

void
resp_block_free(struct resp_block *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->ctl);
    listener_stop(m);
    pthread_mutex_unlock(&m->ctl);
    for (size_t i = 0; i < m->n; i++)
        rule_release(&m->rules[i]);
    bn_free(m->rules);
    for (size_t i = 0; i < m->n_marks; i++)
        bn_free(m->marks[i].path);
    bn_free(m->marks);
    bn_free(m->cache);
    bn_free(m->lat);
    bn_free(m->lat_ret);
    bn_free(m->lat_cpu);
    bn_free(m->lat_pre);
    bn_free(m->fbuf);
    bn_free(m->state_file);
    EVP_MD_CTX_free(m->md);
    if (m->wake_fd >= 0)
        close(m->wake_fd);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->ctl);
    pthread_mutex_destroy(&m->lat_lock);
    bn_free(m);
}

#define LD(f) atomic_load_explicit(&m->st.f, memory_order_relaxed)

void
resp_block_stats(struct resp_block *m, struct resp_block_stats *out)
{
    out->events = LD(events);
    out->allowed = LD(allowed);
    out->denied = LD(denied);
    out->cache_hits = LD(cache_hits);
    out->cache_misses = LD(cache_misses);
    out->cache_evictions = LD(cache_evictions);
    out->hashed = LD(hashed);
    out->timeouts = LD(timeouts);
    out->errors = LD(errors);
    out->too_big = LD(too_big);
    out->watchdog_trips = LD(watchdog_trips);
    out->queue_overflows = LD(queue_overflows);
}

int
resp_block_configure(struct resp_block *m, const struct resp_block_conf *conf)
{
    if (conf->n_marks > BN_RESP_BLOCK_MARKS_MAX)
        return BN_ETOOBIG;
    if (conf->rt_priority < 0 || conf->rt_priority > 99)
        return BN_EINVAL;
    struct mark *nm = NULL;
    if (conf->n_marks) {
        nm = bn_calloc(conf->n_marks, sizeof(*nm));
        if (!nm)
            return BN_ENOMEM;
        for (size_t i = 0; i < conf->n_marks; i++) {
            nm[i].path = bn_strdup(conf->marks[i]);
            nm[i].type = "?";
            if (!nm[i].path) {
                for (size_t k = 0; k < i; k++)
                    bn_free(nm[k].path);
                bn_free(nm);
                return BN_ENOMEM;
            }
        }
    }
    pthread_mutex_lock(&m->ctl);
    listener_stop(m);
    for (size_t i = 0; i < m->n_marks; i++)
        bn_free(m->marks[i].path);
    bn_free(m->marks);
    m->marks = nm;
    m->n_marks = conf->n_marks;
    pthread_mutex_lock(&m->lock);
    m->conf.deadline_us = conf->deadline_us ? conf->deadline_us : BN_RESP_BLOCK_DEADLINE_US;
    m->conf.watchdog_ms = conf->watchdog_ms ? conf->watchdog_ms : 2000;
    m->conf.fail_closed = conf->fail_closed;
    m->conf.nice = !conf->nice ? -10 : conf->nice > 19 ? 0 : conf->nice;
    m->conf.rt_priority = conf->rt_priority;
    m->conf.slice_us = conf->slice_us;
    m->conf.on_deny = conf->on_deny;
    m->conf.deny_ctx = conf->deny_ctx;
    pthread_mutex_unlock(&m->lock);
    atomic_store(&m->tripped, false);
    pthread_mutex_unlock(&m->ctl);
    sync_listener(m);
    return 0;
}

void
resp_block_set_deny_cb(struct resp_block *m, resp_block_deny_cb cb, void *ctx)
{
    pthread_mutex_lock(&m->lock);
    m->conf.on_deny = cb;
    m->conf.deny_ctx = ctx;
    pthread_mutex_unlock(&m->lock);
}

bool
resp_block_listening(struct resp_block *m)
{
    pthread_mutex_lock(&m->ctl);
    bool r = m->running && !atomic_load(&m->tripped);
    pthread_mutex_unlock(&m->ctl);
    return r;
}

size_t
resp_block_latencies_ex(struct resp_block *m, uint32_t *ns, uint32_t *ret, uint32_t *cpu,
                        uint8_t *preempted, size_t max)
{
    if (!m->lat)
        return 0;
    pthread_mutex_lock(&m->lat_lock);
    size_t n = m->lat_count < max ? m->lat_count : max;
    size_t start = (m->lat_pos + m->lat_n - m->lat_count) % m->lat_n;
    for (size_t i = 0; i < n; i++) {
        size_t k = (start + i) % m->lat_n;
        if (ns)
            ns[i] = m->lat[k];
        if (ret)
            ret[i] = m->lat_ret[k];
        if (cpu)
            cpu[i] = m->lat_cpu[k];
        if (preempted)
            preempted[i] = m->lat_pre[k];
    }
    pthread_mutex_unlock(&m->lat_lock);
    return n;
}

size_t
resp_block_latencies(struct resp_block *m, uint32_t *ns, uint32_t *cpu, size_t max)
{
    return resp_block_latencies_ex(m, ns, NULL, cpu, NULL, max);
}

/* ---- actions ---- */

/* Parses params into one rule key (or "id"), and an optional comment. */
static int
parse_rule_params(const char *params, size_t len, bool allow_id, struct rule *r, uint64_t *id,
                  char **comment, struct bn_buf *out)
{
    *id = 0;
    *comment = NULL;
    memset(r, 0, sizeof(*r));
    if (!params || len > BN_RESP_PARAMS_MAX)
        return fail(out, BN_EINVAL, "params: missing or larger than %u bytes",
                    (unsigned)BN_RESP_PARAMS_MAX);
    json_error_t je;
    json_t *j = json_loadb(params, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return fail(out, BN_EINVAL, "params:%d:%d: %s", je.line, je.column, je.text);
    int rc = 0;
    size_t keys = 0;
    if (!json_is_object(j)) {
        rc = fail(out, BN_EINVAL, "params: expected a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "comment") == 0) {
            if (!json_is_string(v) || json_string_length(v) > BN_RESP_BLOCK_COMMENT_MAX ||
                memchr(json_string_value(v), '\0', json_string_length(v))) {
                rc = fail(out, BN_EINVAL,
                          "params: 'comment' must be a string of at most %u "
                          "bytes",
                          BN_RESP_BLOCK_COMMENT_MAX);
                goto out;
            }
            *comment = bn_strdup(json_string_value(v));
            if (!*comment) {
                rc = BN_ENOMEM;
                goto out;
            }
            continue;
        }
        if (++keys > 1) {
            rc = fail(out, BN_EINVAL, "params: give exactly one of %s",
                      allow_id ? "'id', 'sha256', 'path', 'yara'" : "'sha256', 'path', 'yara'");
            goto out;
        }
        if (allow_id && strcmp(key, "id") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) <= 0) {
                rc = fail(out, BN_EINVAL, "params: 'id' must be a positive integer");
                goto out;
            }
            *id = (uint64_t)json_integer_value(v);
            continue;
        }
        char kk[64];
        snprintf(kk, sizeof(kk), "%.60s", key);
        if (strcmp(key, "sha256") != 0 && strcmp(key, "path") != 0 && strcmp(key, "yara") != 0) {
            rc = fail(out, BN_EINVAL, "params: unknown parameter '%s' (expected %s)", kk,
                      allow_id ? "id, sha256, path, yara" : "sha256, path, yara, comment");
            goto out;
        }
        if (!json_is_string(v)) {
            rc = fail(out, BN_EINVAL, "params: '%s' must be a string", kk);
            goto out;
        }
        char why[640];
        int mr = rule_make(key, json_string_value(v), json_string_length(v), r, why, sizeof(why));
        if (mr == BN_ENOMEM) {
            rc = mr;
            goto out;
        }
        if (mr < 0) {
            rc = fail(out, BN_EINVAL, "params: %s", why);
            goto out;
        }
    }
    if (keys == 0)
        rc = fail(out, BN_EINVAL, "params: give one of %s",
                  allow_id ? "'id', 'sha256', 'path', 'yara'" : "'sha256', 'path', 'yara'");
out:
    json_decref(j);
    if (rc < 0) {
        rule_release(r);
        bn_free(*comment);
        *comment = NULL;
    }
    return rc;
}

int
resp_block_add(struct resp_block *m, const char *params, size_t len, struct bn_buf *out)
{
    struct rule r;
    uint64_t id;
    char *comment;
    int rc = parse_rule_params(params, len, false, &r, &id, &comment, out);
    if (rc < 0)
        return rc;
    r.comment = comment;
    r.added = (int64_t)time(NULL);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++) {
        if (rule_same(&m->rules[i], &r)) {
            uint64_t eid = m->rules[i].id;
            size_t cnt = m->n;
            pthread_mutex_unlock(&m->lock);
            rule_release(&r);
            bn_buf_printf(out, "{\"ok\":true,\"id\":%" PRIu64 ",\"existing\":true,\"rules\":%zu}",
                          eid, cnt);
            sync_listener(m);
            return 0;
        }
    }
    r.id = m->next_id++;
    uint64_t nid = r.id;
    rc = rules_push(m, &r);
    if (rc < 0) {
        pthread_mutex_unlock(&m->lock);
        rule_release(&r);
        return fail(out, rc == BN_ENOMEM ? rc : 0, "block list is full (%u rules)",
                    BN_RESP_BLOCK_RULES_MAX);
    }
    int sr = save_list(m);
    size_t cnt = m->n;
    pthread_mutex_unlock(&m->lock);
    sync_listener(m);
    bn_buf_printf(out, "{\"ok\":true,\"id\":%" PRIu64 ",\"rules\":%zu,\"listening\":%s", nid, cnt,
                  resp_block_listening(m) ? "true" : "false");
    if (sr < 0)
        bn_buf_printf(out, ",\"warning\":\"not persisted: %s\"", bn_strerror(sr));
    if (!m->n_marks)
        bn_buf_puts(out, ",\"warning\":\"no mounts are marked: nothing is blocked\"");
    return bn_buf_putc(out, '}') < 0 ? BN_ENOMEM : 0;
}

int
resp_block_remove(struct resp_block *m, const char *params, size_t len, struct bn_buf *out)
{
    struct rule r;
    uint64_t id;
    char *comment;
    int rc = parse_rule_params(params, len, true, &r, &id, &comment, out);
    if (rc < 0)
        return rc;
    bn_free(comment);
    pthread_mutex_lock(&m->lock);
    size_t i = 0;
    for (; i < m->n; i++)
        if ((id && m->rules[i].id == id) || (!id && rule_same(&m->rules[i], &r)))
            break;
    rule_release(&r);
    if (i == m->n) {
        pthread_mutex_unlock(&m->lock);
        return fail(out, 0, "no such rule in the block list");
    }
    uint64_t rid = m->rules[i].id;
    rule_release(&m->rules[i]);
    memmove(&m->rules[i], &m->rules[i + 1], (m->n - i - 1) * sizeof(*m->rules));
    m->n--;
    count_kinds(m);
    int sr = save_list(m);
    size_t cnt = m->n;
    pthread_mutex_unlock(&m->lock);
    sync_listener(m);
    bn_buf_printf(out, "{\"ok\":true,\"removed\":%" PRIu64 ",\"rules\":%zu,\"listening\":%s", rid,
                  cnt, resp_block_listening(m) ? "true" : "false");
    if (sr < 0)
        bn_buf_printf(out, ",\"warning\":\"not persisted: %s\"", bn_strerror(sr));
    return bn_buf_putc(out, '}') < 0 ? BN_ENOMEM : 0;
}

int
resp_block_list(struct resp_block *m, const char *params, size_t len, struct bn_buf *out)
{
    if (params && len) {
        json_error_t je;
        json_t *j = json_loadb(params, len, 0, &je);
        bool ok = j && json_is_object(j) && json_object_size(j) == 0;
        json_decref(j);
        if (!ok)
            return fail(out, BN_EINVAL, "params: block_list takes an empty object");
    }
    struct resp_block_stats st;
    resp_block_stats(m, &st);
    bool listening = resp_block_listening(m);
    pthread_mutex_lock(&m->ctl);
    pthread_mutex_lock(&m->lock);
    bn_buf_puts(out, "{\"ok\":true,\"rules\":[");
    for (size_t i = 0; i < m->n; i++) {
        if (i)
            bn_buf_putc(out, ',');
        put_rule(out, &m->rules[i], false);
    }
    bn_buf_printf(out,
                  "],\"listening\":%s,\"watchdog_tripped\":%s,\"policy\":\"%s\","
                  "\"deadline_us\":%u,\"marks\":[",
                  listening ? "true" : "false", atomic_load(&m->tripped) ? "true" : "false",
                  m->conf.fail_closed ? "fail-closed" : "fail-open", m->conf.deadline_us);
    for (size_t i = 0; i < m->n_marks; i++) {
        bn_buf_printf(out, "%s{\"path\":", i ? "," : "");
        put_str(out, m->marks[i].path, strlen(m->marks[i].path));
        bn_buf_printf(out, ",\"type\":\"%s\",\"ok\":%s", m->marks[i].type,
                      m->marks[i].ok ? "true" : "false");
        if (m->marks[i].err)
            bn_buf_printf(out, ",\"error\":\"%s\"", bn_strerror(m->marks[i].err));
        bn_buf_putc(out, '}');
    }
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_unlock(&m->ctl);
    bn_buf_printf(
        out,
        "],\"stats\":{\"events\":%" PRIu64 ",\"allowed\":%" PRIu64 ",\"denied\":%" PRIu64
        ",\"cache_hits\":%" PRIu64 ",\"cache_misses\":%" PRIu64 ",\"cache_evictions\":%" PRIu64
        ",\"hashed\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"errors\":%" PRIu64
        ",\"too_big\":%" PRIu64 ",\"watchdog_trips\":%" PRIu64 ",\"queue_overflows\":%" PRIu64 "}}",
        st.events, st.allowed, st.denied, st.cache_hits, st.cache_misses, st.cache_evictions,
        st.hashed, st.timeouts, st.errors, st.too_big, st.watchdog_trips, st.queue_overflows);
    return out->len && out->p[out->len - 1] == '}' ? 0 : BN_ENOMEM;
}
