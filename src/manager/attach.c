/*
 * attach.c - uploads of forensic packages over the agent link (attach.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/wire.h"
#include "bannin/hex.h"

#include "manager/attach.h"

struct attach_up {
    uint64_t action_id;
    int64_t tenant_id, incident_id;
    char name[BN_ATTACH_NAME_MAX + 1];
    uint64_t size, offset;
    uint8_t sha[32];
    int fd; /* the .part file, -1 once renamed */
    EVP_MD_CTX *md;
    char part[4096];
    bool done; /* stored (renamed, row written): a resent END gets STORED again */
};

static int
efail(char *err, size_t errsz, int rc, const char *fmt, ...) BN_PRINTF(4, 5);

static int
efail(char *err, size_t errsz, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return rc;
}

static int
status(struct bn_buf *out, uint64_t id, uint32_t state, uint64_t offset, const char *fmt, ...)
    BN_PRINTF(5, 6);

static int
status(struct bn_buf *out, uint64_t id, uint32_t state, uint64_t offset, const char *fmt, ...)
{
    char msg[BN_WIRE_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct bn_wire_file_status m = {id, state, offset, {msg, strlen(msg)}};
    return bn_wire_file_status_encode(out, &m);
}

void
attach_up_free(struct attach_up *up)
{
    if (!up)
        return;
    if (up->fd >= 0)
        close(up->fd);
    EVP_MD_CTX_free(up->md);
    bn_free(up);
}

static int
mkdirs(const char *data, char *dir, size_t dsz, char *part, size_t psz)
{
    snprintf(dir, dsz, "%s/attachments", data);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    snprintf(part, psz, "%s/attachments/partial", data);
    if (mkdir(part, 0700) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

#define PARTIAL_MAX_AGE_S (7 * 86400) /* a partial upload untouched this long is given up */

/*
 * Removes partial uploads nobody resumed for a week (the agent gave up: its package vanished
 * or the action was refused later). Each removal is logged. Runs at most once an hour.
 */
static void
sweep_partial(const char *pdir)
{
    static int64_t last;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec - last < 3600)
        return;
    last = ts.tv_sec;
    DIR *d = opendir(pdir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (ts.tv_sec - sb.st_mtime < PARTIAL_MAX_AGE_S)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            BN_WARN("attach", "partial upload '%s/%s' (%lld bytes) untouched for %d days: removed",
                    pdir, de->d_name, (long long)sb.st_size, PARTIAL_MAX_AGE_S / 86400);
    }
    closedir(d);
}

/* SHA-256 of a whole file into md (fresh) and its size. */
static int
hash_fd(int fd, EVP_MD_CTX *md, uint64_t limit, uint64_t *got)
{
    uint8_t buf[64 << 10];
    uint64_t n = 0;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (;;) {
        ssize_t k = pread(fd, buf, sizeof(buf), (off_t)n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            break;
        if (n + (uint64_t)k > limit)
            return BN_ETOOBIG;
        EVP_DigestUpdate(md, buf, (size_t)k);
        n += (uint64_t)k;
    }
    *got = n;
    return 0;
}

struct act_info {
    int64_t agent_id, tenant_id, incident_id;
    char type[40];
    int found;
};

static int
act_keep(void *ctx, const struct store_action *a)
{
    struct act_info *i = ctx;
    i->agent_id = a->agent_id;
    i->tenant_id = a->tenant_id;
    i->incident_id = a->incident_id;
    snprintf(i->type, sizeof(i->type), "%s", a->type);
    i->found = 1;
    return 1;
}

static void
final_rel(char *rel, size_t sz, uint64_t id, const char *name)
{
    snprintf(rel, sz, "attachments/%llu-%s", (unsigned long long)id, name);
}

/* Writes the row and the audit entry for a stored blob. */
static int
record(const struct attach_peer *p, const struct attach_up *up, const char *rel,
       struct attach_stats *stats)
{
    struct store_attachment a;
    memset(&a, 0, sizeof(a));
    a.tenant_id = up->tenant_id;
    a.agent_id = p->agent_id;
    a.incident_id = up->incident_id;
    a.action_id = (int64_t)up->action_id;
    snprintf(a.name, sizeof(a.name), "%s", up->name);
    a.size = (int64_t)up->size;
    bn_hex_encode(up->sha, 32, a.sha256);
    snprintf(a.path, sizeof(a.path), "%s", rel);
    int64_t id = 0;
    int rc = store_attachment_create(p->st, &a, &id);
    if (rc == BN_EEXIST)
        return 0;
    if (rc)
        return rc;
    char obj[64], detail[600];
    snprintf(obj, sizeof(obj), "attachment:%lld", (long long)id);
    snprintf(detail, sizeof(detail),
             "{\"attachment_id\":%lld,\"action_id\":%llu,\"incident_id\":%lld,\"agent_id\":%lld,"
             "\"name\":\"%s\",\"size\":%llu,\"sha256\":\"%s\"}",
             (long long)id, (unsigned long long)up->action_id, (long long)up->incident_id,
             (long long)p->agent_id, up->name, (unsigned long long)up->size, a.sha256);
    rc = store_audit(p->st, up->tenant_id, "agent", "attachment.stored", obj, detail);
    if (rc == 0 && stats)
        stats->stored++;
    if (rc == 0)
        BN_INFO("attach", "agent %s: %s (%llu bytes, sha256 %s) attached to action %llu, "
                "incident %lld", p->agent_uid ? p->agent_uid : "?", up->name,
                (unsigned long long)up->size, a.sha256, (unsigned long long)up->action_id,
                (long long)up->incident_id);
    return rc;
}

static int
refuse(struct bn_buf *out, struct attach_stats *stats, const struct attach_peer *p, uint64_t id,
       const char *why)
{
    if (stats)
        stats->refused++;
    BN_WARN("attach", "agent %s: upload for action %llu refused: %s",
            p->agent_uid ? p->agent_uid : "?", (unsigned long long)id, why);
    return status(out, id, BN_WIRE_FILE_REFUSED, 0, "%s", why);
}

static int
on_offer(struct attach_up **upp, const struct attach_peer *p, const uint8_t *pl, uint32_t len,
         struct bn_buf *out, struct attach_stats *stats, char *err, size_t errsz)
{
    struct bn_wire_file_offer m;
    struct bn_wire_err e;
    int rc = bn_wire_file_offer_decode(pl, len, &m, &e);
    if (rc)
        return efail(err, errsz, rc, "%s", e.msg);
    if (bn_wire_file_verify(BN_WIRE_FILE_OFFER, m.signed_part, m.signed_len, m.sig, p->nonce,
                            p->pk) != 0)
        return efail(err, errsz, BN_EPROTO, "file_offer for action %llu: bad signature",
                     (unsigned long long)m.action_id);
    if (stats)
        stats->offers++;
    /* a new offer ends the one in progress (its partial file stays) */
    attach_up_free(*upp);
    *upp = NULL;
    char name[BN_ATTACH_NAME_MAX + 1], why[300];
    memcpy(name, m.name.p, m.name.len);
    name[m.name.len] = '\0';
    struct act_info ai = {0};
    struct store_scope all = {1, NULL, 0};
    rc = store_action_get(p->st, &all, (int64_t)m.action_id, act_keep, &ai);
    if (rc && rc != BN_ENOTFOUND)
        return efail(err, errsz, rc, "file_offer: reading action %llu: %s",
                     (unsigned long long)m.action_id, store_errmsg(p->st));
    if (!ai.found || ai.agent_id != p->agent_id) {
        snprintf(why, sizeof(why), "action %llu is not an action of this agent",
                 (unsigned long long)m.action_id);
        return refuse(out, stats, p, m.action_id, why);
    }
    if (strcmp(ai.type, "forensics") != 0) {
        snprintf(why, sizeof(why), "action %llu is a %s action: only forensics packages are "
                 "uploaded", (unsigned long long)m.action_id, ai.type);
        return refuse(out, stats, p, m.action_id, why);
    }
    if (m.size > BN_ATTACH_SIZE_MAX) {
        snprintf(why, sizeof(why), "%llu bytes is over the manager's attachment limit of %llu",
                 (unsigned long long)m.size, (unsigned long long)BN_ATTACH_SIZE_MAX);
        return refuse(out, stats, p, m.action_id, why);
    }
    char shahex[65];
    bn_hex_encode(m.sha256, 32, shahex);
    struct store_attachment have;
    rc = store_attachment_by_action(p->st, (int64_t)m.action_id, &have);
    if (rc == 0) {
        if (strcmp(have.sha256, shahex) == 0 && (uint64_t)have.size == m.size)
            return status(out, m.action_id, BN_WIRE_FILE_STORED, m.size,
                          "already stored as attachment %lld", (long long)have.id);
        snprintf(why, sizeof(why), "action %llu already has an attachment (sha256 %s)",
                 (unsigned long long)m.action_id, have.sha256);
        return refuse(out, stats, p, m.action_id, why);
    }
    if (rc != BN_ENOTFOUND)
        return efail(err, errsz, rc, "file_offer: %s", store_errmsg(p->st));

    struct attach_up *up = bn_calloc(1, sizeof(*up));
    if (!up)
        return efail(err, errsz, BN_ENOMEM, "out of memory for an upload");
    up->fd = -1;
    up->action_id = m.action_id;
    up->tenant_id = ai.tenant_id;
    up->incident_id = ai.incident_id;
    memcpy(up->name, name, sizeof(name));
    up->size = m.size;
    memcpy(up->sha, m.sha256, 32);
    up->md = EVP_MD_CTX_new();
    char dir[3000], pdir[3000], rel[700], fin[4800];
    rc = !up->md ? BN_ENOMEM
         : strlen(store_dir(p->st)) > 2000
             ? BN_ETOOBIG
             : mkdirs(store_dir(p->st), dir, sizeof(dir), pdir, sizeof(pdir));
    if (rc) {
        attach_up_free(up);
        return efail(err, errsz, rc, "attachments directory under '%s': %s", store_dir(p->st),
                     bn_strerror(rc));
    }
    sweep_partial(pdir);
    /* stored before but its row was rolled back with an ingest group: the blob is in place */
    final_rel(rel, sizeof(rel), m.action_id, name);
    snprintf(fin, sizeof(fin), "%s/%s", store_dir(p->st), rel);
    int ffd = open(fin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (ffd >= 0) {
        uint64_t got = 0;
        uint8_t h[32];
        rc = hash_fd(ffd, up->md, BN_ATTACH_SIZE_MAX, &got);
        close(ffd);
        if (!rc && got == m.size && EVP_DigestFinal_ex(up->md, h, NULL) == 1 &&
            memcmp(h, m.sha256, 32) == 0) {
            up->done = true;
            rc = record(p, up, rel, stats);
            *upp = up;
            if (rc)
                return efail(err, errsz, rc, "attachment of action %llu: %s",
                             (unsigned long long)m.action_id, store_errmsg(p->st));
            if (p->in_group)
                return 0;
            return status(out, m.action_id, BN_WIRE_FILE_STORED, m.size, "stored");
        }
        unlink(fin); /* not this file: received again */
    }
    snprintf(up->part, sizeof(up->part), "%s/%llu-%s.part", pdir, (unsigned long long)m.action_id,
             shahex);
    up->fd = open(up->part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (up->fd < 0) {
        rc = -errno;
        attach_up_free(up);
        return efail(err, errsz, rc, "cannot open '%s': %s", up->part, bn_strerror(rc));
    }
    uint64_t have_bytes = 0;
    rc = hash_fd(up->fd, up->md, m.size, &have_bytes);
    if (rc == BN_ETOOBIG) {
        /* longer than offered: start again */
        rc = ftruncate(up->fd, 0) == 0 ? 0 : -errno;
        have_bytes = 0;
        EVP_DigestInit_ex(up->md, EVP_sha256(), NULL);
    }
    if (rc) {
        attach_up_free(up);
        return efail(err, errsz, rc, "reading '%s': %s", up->part, bn_strerror(rc));
    }
    up->offset = have_bytes;
    if (have_bytes && stats)
        stats->resumed++;
    *upp = up;
    if (have_bytes)
        BN_INFO("attach", "agent %s: upload of %s for action %llu resumes at byte %llu of %llu",
                p->agent_uid ? p->agent_uid : "?", name, (unsigned long long)m.action_id,
                (unsigned long long)have_bytes, (unsigned long long)m.size);
    return status(out, m.action_id, BN_WIRE_FILE_SEND, have_bytes, "send from byte %llu",
                  (unsigned long long)have_bytes);
}

static int
on_chunk(struct attach_up *up, const struct attach_peer *p, const uint8_t *pl, uint32_t len,
         struct attach_stats *stats, char *err, size_t errsz)
{
    struct bn_wire_file_chunk m;
    struct bn_wire_err e;
    int rc = bn_wire_file_chunk_decode(pl, len, &m, &e);
    if (rc)
        return efail(err, errsz, rc, "%s", e.msg);
    if (bn_wire_file_verify(BN_WIRE_FILE_CHUNK, m.signed_part, m.signed_len, m.sig, p->nonce,
                            p->pk) != 0)
        return efail(err, errsz, BN_EPROTO, "file_chunk for action %llu at %llu: bad signature",
                     (unsigned long long)m.action_id, (unsigned long long)m.offset);
    if (!up || up->action_id != m.action_id || up->done || up->fd < 0)
        return efail(err, errsz, BN_EPROTO, "file_chunk for action %llu without an accepted offer",
                     (unsigned long long)m.action_id);
    if (m.offset != up->offset)
        return efail(err, errsz, BN_EPROTO,
                     "file_chunk for action %llu at byte %llu: expected byte %llu",
                     (unsigned long long)m.action_id, (unsigned long long)m.offset,
                     (unsigned long long)up->offset);
    if (m.len > up->size - up->offset)
        return efail(err, errsz, BN_EPROTO,
                     "file_chunk for action %llu: bytes %llu..%llu are past the offered size %llu",
                     (unsigned long long)m.action_id, (unsigned long long)m.offset,
                     (unsigned long long)(m.offset + m.len), (unsigned long long)up->size);
    size_t w = 0;
    while (w < m.len) {
        ssize_t k = pwrite(up->fd, m.data + w, m.len - w, (off_t)(m.offset + w));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? -errno : BN_EIO;
            /* what was written is not counted: the next offer resumes from the file's size */
            if (ftruncate(up->fd, (off_t)up->offset) != 0)
                BN_WARN("attach", "cannot truncate '%s'", up->part);
            return efail(err, errsz, rc, "writing '%s': %s", up->part, bn_strerror(rc));
        }
        w += (size_t)k;
    }
    EVP_DigestUpdate(up->md, m.data, m.len);
    up->offset += m.len;
    if (stats) {
        stats->chunks++;
        stats->bytes += m.len;
    }
    return 0;
}

static int
on_end(struct attach_up **upp, const struct attach_peer *p, const uint8_t *pl, uint32_t len,
       struct bn_buf *out, struct attach_stats *stats, char *err, size_t errsz)
{
    struct attach_up *up = *upp;
    struct bn_wire_file_end m;
    struct bn_wire_err e;
    int rc = bn_wire_file_end_decode(pl, len, &m, &e);
    if (rc)
        return efail(err, errsz, rc, "%s", e.msg);
    if (bn_wire_file_verify(BN_WIRE_FILE_END, m.signed_part, m.signed_len, m.sig, p->nonce,
                            p->pk) != 0)
        return efail(err, errsz, BN_EPROTO, "file_end for action %llu: bad signature",
                     (unsigned long long)m.action_id);
    if (!up || up->action_id != m.action_id)
        return efail(err, errsz, BN_EPROTO, "file_end for action %llu without an accepted offer",
                     (unsigned long long)m.action_id);
    char rel[700];
    final_rel(rel, sizeof(rel), up->action_id, up->name);
    if (up->done) {
        /* END sent again: STORED once the row is committed */
        rc = record(p, up, rel, stats);
        if (rc)
            return efail(err, errsz, rc, "attachment of action %llu: %s",
                         (unsigned long long)m.action_id, store_errmsg(p->st));
        return p->in_group ? 0 : status(out, m.action_id, BN_WIRE_FILE_STORED, up->size, "stored");
    }
    char why[300];
    uint8_t h[32];
    char want[65], got[65];
    bn_hex_encode(up->sha, 32, want);
    if (m.size != up->size || memcmp(m.sha256, up->sha, 32) != 0 || up->offset != up->size) {
        snprintf(why, sizeof(why),
                 "end of action %llu's file does not match its offer (%llu of %llu bytes "
                 "received, end says %llu)",
                 (unsigned long long)m.action_id, (unsigned long long)up->offset,
                 (unsigned long long)up->size, (unsigned long long)m.size);
        unlink(up->part);
        attach_up_free(up);
        *upp = NULL;
        return refuse(out, stats, p, m.action_id, why);
    }
    if (EVP_DigestFinal_ex(up->md, h, NULL) != 1)
        return efail(err, errsz, BN_EINTERNAL, "sha256 of action %llu's file failed",
                     (unsigned long long)m.action_id);
    if (memcmp(h, up->sha, 32) != 0) {
        bn_hex_encode(h, 32, got);
        snprintf(why, sizeof(why), "SHA-256 of the %llu bytes received is %s, the agent said %s",
                 (unsigned long long)up->size, got, want);
        unlink(up->part);
        attach_up_free(up);
        *upp = NULL;
        return refuse(out, stats, p, m.action_id, why);
    }
    char fin[4800];
    snprintf(fin, sizeof(fin), "%s/%s", store_dir(p->st), rel);
    if (fsync(up->fd) != 0 || rename(up->part, fin) != 0) {
        rc = -errno;
        return efail(err, errsz, rc, "storing '%s': %s", fin, bn_strerror(rc));
    }
    close(up->fd);
    up->fd = -1;
    up->done = true;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/attachments", store_dir(p->st));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0)
            BN_WARN("attach", "fsync of '%s' failed: %s", dir, strerror(errno));
        close(dfd);
    }
    rc = record(p, up, rel, stats);
    if (rc)
        return efail(err, errsz, rc, "attachment of action %llu: %s",
                     (unsigned long long)m.action_id, store_errmsg(p->st));
    return p->in_group ? 0 : status(out, m.action_id, BN_WIRE_FILE_STORED, up->size, "stored");
}

int
attach_frame(struct attach_up **up, const struct attach_peer *p, int type, const uint8_t *payload,
             uint32_t len, struct bn_buf *out, struct attach_stats *stats, char *err,
             size_t errsz)
{
    err[0] = '\0';
    switch (type) {
    case BN_WIRE_FILE_OFFER:
        return on_offer(up, p, payload, len, out, stats, err, errsz);
    case BN_WIRE_FILE_CHUNK:
        return on_chunk(*up, p, payload, len, stats, err, errsz);
    case BN_WIRE_FILE_END:
        return on_end(up, p, payload, len, out, stats, err, errsz);
    default:
        return efail(err, errsz, BN_EPROTO, "%s frame is not part of an upload",
                     bn_wire_type_name(type));
    }
}
