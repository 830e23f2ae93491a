/*
 * respond_vault.c - the quarantine vault (issue 5): a file is moved into vault_dir encrypted,
 * with its metadata, and can be put back byte for byte with its owner, mode and times.
 *
 * Cipher: crypto_secretstream_xchacha20poly1305 under one random key per vault
 * (vault_dir/vault.key, 0600, directory 0700). Chosen over sealed boxes because (1) restore
 * is an agent-local action, so with sealed boxes the secret key would have to live on the
 * host anyway, (2) secretstream encrypts in bounded 64 KiB messages with no size-bound copy
 * of the whole file in memory, and (3) every message is authenticated and the stream has an
 * explicit final tag, so truncation, reordering and bit flips are all refused. The purpose
 * is containment (the sample is never readable or executable in clear on disk, scanners and
 * accidental execution see only ciphertext), not secrecy from root.
 *
 * Layout: <id>.json (metadata, written first) and <id>.bin (24-byte header + messages).
 * Every message carries SHA-256(metadata bytes) as additional data, so metadata cannot be
 * swapped or edited (a changed path or owner) without the restore refusing the item; the
 * plaintext SHA-256 is checked again before the restored file is renamed into place.
 * File hashes use OpenSSL's SHA-256 (SHA-NI: about 6x libsodium's portable one here).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "agent/respond_vault.h"
#include "agent/respond_json.h"
#include "bannin/fileio.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"

#define ID_HEX   32
#define CT_CHUNK (BN_VAULT_CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES)

struct resp_vault {
    char *dir;
    int dirfd;
    unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
};

/* ---- small helpers shared by the actions ---- */

static bool
valid_id(const char *id)
{
    if (strlen(id) != ID_HEX)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* SHA-256 of file data (OpenSSL); returns NULL when out of memory. */
static EVP_MD_CTX *
fsha_new(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return c;
}

static int
fsha_final(EVP_MD_CTX *c, unsigned char h[32])
{
    unsigned int l = 0;
    int ok = EVP_DigestFinal_ex(c, h, &l) == 1 && l == 32;
    EVP_MD_CTX_free(c);
    return ok ? 0 : BN_EINTERNAL;
}

/* ---- lifecycle ---- */

static int
load_key(struct resp_vault *v)
{
    int fd = openat(v->dirfd, "vault.key", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        unsigned char k[sizeof v->key];
        crypto_secretstream_xchacha20poly1305_keygen(k);
        int wfd = openat(v->dirfd, "vault.key.tmp",
                         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (wfd < 0)
            return -errno;
        int rc = bn_write_all(wfd, k, sizeof k);
        if (rc == 0 && fsync(wfd) < 0)
            rc = -errno;
        close(wfd);
        sodium_memzero(k, sizeof k);
        /* link, not rename: two agents racing on a new vault end with one key */
        if (rc == 0 && linkat(v->dirfd, "vault.key.tmp", v->dirfd, "vault.key", 0) < 0 &&
            errno != EEXIST)
            rc = -errno;
        unlinkat(v->dirfd, "vault.key.tmp", 0);
        if (rc < 0)
            return rc;
        bn_fsync_dir(v->dir);
        fd = openat(v->dirfd, "vault.key", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode) || st.st_size != (off_t)sizeof v->key || (st.st_mode & 077) != 0)
        rc = BN_ECORRUPT; /* wrong size, or readable by others: refuse to use it */
    else if (bn_read_full(fd, v->key, sizeof v->key) != (ssize_t)sizeof v->key)
        rc = BN_EIO;
    close(fd);
    return rc;
}

int
resp_vault_new(struct resp_vault **out, const struct respond_paths *paths)
{
    *out = NULL;
    if (!paths || (!paths->vault_dir && !paths->state_dir))
        return BN_EINVAL;
    if (sodium_init() < 0)
        return BN_EINTERNAL;
    struct resp_vault *v = bn_calloc(1, sizeof *v);
    if (!v)
        return BN_ENOMEM;
    v->dirfd = -1;
    int rc;
    if (paths->vault_dir) {
        v->dir = bn_strdup(paths->vault_dir);
    } else {
        size_t n = strlen(paths->state_dir) + sizeof "/vault";
        v->dir = bn_malloc(n);
        if (v->dir)
            snprintf(v->dir, n, "%s/vault", paths->state_dir);
    }
    if (!v->dir) {
        rc = BN_ENOMEM;
        goto fail;
    }
    if (mkdir(v->dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        BN_ERROR("vault", "cannot create '%s': %s", v->dir, strerror(errno));
        goto fail;
    }
    v->dirfd = open(v->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (v->dirfd < 0) {
        rc = -errno;
        goto fail;
    }
    if (fchmod(v->dirfd, 0700) < 0) {
        rc = -errno;
        goto fail;
    }
    rc = load_key(v);
    if (rc < 0) {
        BN_ERROR("vault", "cannot load the vault key in '%s': %s", v->dir, bn_strerror(rc));
        goto fail;
    }
    *out = v;
    return 0;
fail:
    resp_vault_free(v);
    return rc;
}

void
resp_vault_free(struct resp_vault *m)
{
    if (!m)
        return;
    sodium_memzero(m->key, sizeof m->key);
    if (m->dirfd >= 0)
        close(m->dirfd);
    bn_free(m->dir);
    bn_free(m);
}

/* ---- quarantine ---- */

static size_t
count_items(struct resp_vault *v)
{
    DIR *d = opendir(v->dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l == ID_HEX + 5 && strcmp(e->d_name + ID_HEX, ".json") == 0)
            n++;
    }
    closedir(d);
    return n;
}

static json_t *
ts_json(const struct timespec *t)
{
    return json_pack("{s:I,s:I}", "sec", (json_int_t)t->tv_sec, "nsec", (json_int_t)t->tv_nsec);
}

/* Hashes the whole of fd (from offset 0) into h; size must match. */
static int
hash_fd(int fd, off_t size, unsigned char h[crypto_hash_sha256_BYTES], unsigned char *buf)
{
    EVP_MD_CTX *st = fsha_new();
    if (!st)
        return BN_ENOMEM;
    off_t off = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, BN_VAULT_CHUNK, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            EVP_MD_CTX_free(st);
            return -errno;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(st, buf, (size_t)r);
        off += r;
        if (off > size)
            break;
    }
    int rc = fsha_final(st, h);
    return rc < 0 ? rc : off != size ? BN_EIO : 0;
}

int
resp_vault_put(struct resp_vault *m, const char *path, const char *reason, const char *actor,
               char *id_out, char *msg, size_t msg_len)
{
    char dummy[8];
    if (!msg) {
        msg = dummy;
        msg_len = sizeof dummy;
    }
    msg[0] = '\0';
    int rc = 0, fd = -1, bfd = -1;
    unsigned char *buf = NULL, *ct = NULL;
    char *meta = NULL;
    char binname[ID_HEX + 16], tmpname[ID_HEX + 16], jsname[ID_HEX + 16];
    bool wrote_json = false, wrote_bin = false;

    if (path[0] != '/') {
        snprintf(msg, msg_len, "path '%s' is not absolute", path);
        return BN_EINVAL;
    }
    size_t vl = strlen(m->dir);
    if (strncmp(path, m->dir, vl) == 0 && path[vl] == '/') {
        snprintf(msg, msg_len, "'%s' is inside the vault", path);
        return BN_EINVAL;
    }
    if (count_items(m) >= BN_VAULT_ITEMS_MAX) {
        snprintf(msg, msg_len, "vault full: %d items", BN_VAULT_ITEMS_MAX);
        return BN_EFULL;
    }
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(msg, msg_len, "cannot open '%s': %s%s", path, strerror(errno),
                 errno == ELOOP ? " (a symbolic link is not quarantined)" : "");
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(msg, msg_len, "cannot stat '%s': %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, msg_len, "'%s' is not a regular file", path);
        rc = BN_EINVAL;
        goto out;
    }
    if ((unsigned long long)st.st_size > BN_VAULT_ITEM_MAX) {
        snprintf(msg, msg_len, "'%s' is %lld bytes, vault item limit %llu", path,
                 (long long)st.st_size, (unsigned long long)BN_VAULT_ITEM_MAX);
        rc = BN_ETOOBIG;
        goto out;
    }
    buf = bn_malloc(BN_VAULT_CHUNK);
    ct = bn_malloc(CT_CHUNK);
    if (!buf || !ct) {
        rc = BN_ENOMEM;
        goto out;
    }
    unsigned char sha[crypto_hash_sha256_BYTES];
    char shahex[2 * sizeof sha + 1];
    rc = hash_fd(fd, st.st_size, sha, buf);
    if (rc < 0) {
        snprintf(msg, msg_len, "cannot read '%s' (changed while reading?): %s", path,
                 bn_strerror(rc));
        goto out;
    }
    resp_hexify(shahex, sha, sizeof sha);

    unsigned char idb[ID_HEX / 2];
    randombytes_buf(idb, sizeof idb);
    resp_hexify(id_out, idb, sizeof idb);
    snprintf(jsname, sizeof jsname, "%s.json", id_out);
    snprintf(binname, sizeof binname, "%s.bin", id_out);
    snprintf(tmpname, sizeof tmpname, "%s.tmp", id_out);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *o =
        json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:o,s:o,s:o,s:s,s:s,s:I,s:I,s:I,s:s}", "id", id_out,
                  "path", path, "uid", (json_int_t)st.st_uid, "gid", (json_int_t)st.st_gid, "mode",
                  (json_int_t)(st.st_mode & 07777), "size", (json_int_t)st.st_size, "sha256",
                  shahex, "atime", ts_json(&st.st_atim), "mtime", ts_json(&st.st_mtim), "ctime",
                  ts_json(&st.st_ctim), "actor", actor ? actor : "", "reason", reason ? reason : "",
                  "when", (json_int_t)now.tv_sec, "dev", (json_int_t)st.st_dev, "ino",
                  (json_int_t)st.st_ino, "cipher", "xchacha20poly1305-secretstream");
    if (!o) {
        rc = BN_ENOMEM;
        goto out;
    }
    meta = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!meta) {
        rc = BN_ENOMEM;
        goto out;
    }
    size_t mlen = strlen(meta);
    unsigned char ad[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(ad, (const unsigned char *)meta, mlen);

    /* metadata first: an item with a .bin always has its metadata */
    int jfd = openat(m->dirfd, jsname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (jfd < 0) {
        rc = -errno;
        snprintf(msg, msg_len, "cannot create vault metadata: %s", strerror(errno));
        goto out;
    }
    wrote_json = true;
    rc = bn_write_all(jfd, meta, mlen);
    if (rc == 0 && fsync(jfd) < 0)
        rc = -errno;
    close(jfd);
    if (rc < 0) {
        snprintf(msg, msg_len, "cannot write vault metadata: %s", bn_strerror(rc));
        goto out;
    }

    bfd = openat(m->dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (bfd < 0) {
        rc = -errno;
        snprintf(msg, msg_len, "cannot create vault item: %s", strerror(errno));
        goto out;
    }
    wrote_bin = true;
    crypto_secretstream_xchacha20poly1305_state ss;
    unsigned char hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_init_push(&ss, hdr, m->key);
    rc = bn_write_all(bfd, hdr, sizeof hdr);
    EVP_MD_CTX *hs = fsha_new();
    if (!hs) {
        rc = BN_ENOMEM;
        goto out;
    }
    off_t off = 0;
    while (rc == 0) {
        ssize_t r = pread(fd, buf, BN_VAULT_CHUNK, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        off += r;
        if (off > st.st_size) {
            rc = BN_EIO;
            break;
        }
        EVP_DigestUpdate(hs, buf, (size_t)r);
        bool last = off == st.st_size;
        unsigned long long clen;
        crypto_secretstream_xchacha20poly1305_push(
            &ss, ct, &clen, buf, (unsigned long long)r, ad, sizeof ad,
            last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
        rc = bn_write_all(bfd, ct, (size_t)clen);
        if (last || r == 0)
            break;
    }
    sodium_memzero(buf, BN_VAULT_CHUNK);
    unsigned char sha2[crypto_hash_sha256_BYTES];
    int hrc = fsha_final(hs, sha2);
    if (rc == 0 && hrc < 0)
        rc = hrc;
    if (rc == 0 && (off != st.st_size || memcmp(sha, sha2, sizeof sha) != 0)) {
        rc = BN_EIO;
        snprintf(msg, msg_len, "'%s' changed while it was being quarantined; left in place", path);
        goto out;
    }
    if (rc == 0 && fsync(bfd) < 0)
        rc = -errno;
    if (rc == 0 && renameat(m->dirfd, tmpname, m->dirfd, binname) < 0)
        rc = -errno;
    if (rc == 0)
        rc = bn_fsync_dir(m->dir);
    if (rc < 0) {
        if (!msg[0])
            snprintf(msg, msg_len, "cannot write vault item: %s", bn_strerror(rc));
        goto out;
    }

    /* the item is durable: now remove the original, if it is still the file we read */
    struct stat now_st;
    if (lstat(path, &now_st) < 0 || now_st.st_dev != st.st_dev || now_st.st_ino != st.st_ino) {
        rc = BN_EEXIST;
        snprintf(msg, msg_len, "'%s' was replaced while being quarantined; left in place", path);
        unlinkat(m->dirfd, binname, 0);
        goto out;
    }
    /* other hard links keep the inode alive: make them unusable as well */
    if (st.st_nlink > 1)
        (void)fchmod(fd, 0);
    if (unlink(path) < 0) {
        rc = -errno;
        snprintf(msg, msg_len, "cannot remove '%s': %s", path, strerror(errno));
        unlinkat(m->dirfd, binname, 0);
        goto out;
    }
    char *slash = strrchr(path, '/');
    if (slash) {
        size_t dl = (size_t)(slash - path);
        char dir[PATH_MAX];
        if (dl < sizeof dir) {
            memcpy(dir, path, dl);
            dir[dl] = '\0';
            bn_fsync_dir(dl ? dir : "/");
        }
    }
    wrote_json = wrote_bin = false; /* keep them */
    rc = 0;
out:
    if (bfd >= 0)
        close(bfd);
    if (wrote_bin)
        unlinkat(m->dirfd, tmpname, 0);
    if (wrote_json)
        unlinkat(m->dirfd, jsname, 0);
    if (fd >= 0)
        close(fd);
    free(meta);
    bn_free(buf);
    bn_free(ct);
    return rc;
}

static const char *
opt_str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* quarantine's parameters (shared with resp_vault_check): 0 or BN_EINVAL with the result. */
static int
quarantine_params(json_t *p, const char **path, const char **reason, const char **actor,
                  struct bn_buf *out)
{
    *path = opt_str(p, "path");
    *reason = opt_str(p, "reason");
    *actor = opt_str(p, "actor");
    if (!*path || !(*path)[0] || strlen(*path) >= PATH_MAX) {
        resp_put_fail(out, "quarantine: \"path\" (an absolute file path) is required");
        return BN_EINVAL;
    }
    if ((*reason && strlen(*reason) > BN_VAULT_TEXT_MAX) ||
        (*actor && strlen(*actor) > BN_VAULT_TEXT_MAX)) {
        char msg[160];
        snprintf(msg, sizeof msg, "quarantine: \"reason\" and \"actor\" are limited to %d bytes",
                 BN_VAULT_TEXT_MAX);
        resp_put_fail(out, msg);
        return BN_EINVAL;
    }
    return 0;
}

int
resp_quarantine(struct resp_vault *m, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p;
    int rc = resp_parse_params(params, len, &p, out);
    if (rc < 0)
        return rc;
    const char *path, *reason, *actor;
    char msg[PATH_MAX + 256];
    rc = quarantine_params(p, &path, &reason, &actor, out);
    if (rc)
        goto out;
    /* room for the result first: once the file has moved, reporting it must not fail */
    if (bn_buf_reserve(out, 4 * PATH_MAX + 4 * BN_VAULT_TEXT_MAX + 1024) < 0) {
        rc = BN_ENOMEM;
        goto out;
    }
    char id[ID_HEX + 1];
    rc = resp_vault_put(m, path, reason, actor, id, msg, sizeof msg);
    if (rc == BN_ENOMEM)
        goto out;
    if (rc < 0) {
        rc = resp_put_fail(out, msg) < 0 ? BN_ENOMEM : (rc == BN_EINVAL ? BN_EINVAL : 0);
        goto out;
    }
    char js[ID_HEX + 8];
    snprintf(js, sizeof js, "%s.json", id);
    /* report the stored metadata */
    json_error_t err;
    int jfd = openat(m->dirfd, js, O_RDONLY | O_CLOEXEC);
    json_t *meta = jfd >= 0 ? json_loadfd(jfd, 0, &err) : NULL;
    if (jfd >= 0)
        close(jfd);
    json_t *r = json_pack("{s:b,s:s,s:s,s:O}", "ok", 1, "id", id, "path", path, "item",
                          meta ? meta : json_null());
    json_decref(meta);
    rc = resp_put_json(out, r);
out:
    json_decref(p);
    return rc;
}

/* ---- unquarantine ---- */

/* unquarantine's parameters (shared with resp_vault_check). */
static int
unquarantine_params(json_t *p, const char **id, bool *force, struct bn_buf *out)
{
    *id = opt_str(p, "id");
    *force = json_is_true(json_object_get(p, "force"));
    if (!*id || !valid_id(*id)) {
        resp_put_fail(out, "unquarantine: \"id\" (32 hex digits from quarantine or vault_list) is "
                      "required");
        return BN_EINVAL;
    }
    return 0;
}

int
resp_vault_check(const char *type, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p;
    int rc = resp_parse_params(params, len, &p, out);
    if (rc < 0)
        return rc;
    json_t *r = NULL;
    if (strcmp(type, "quarantine") == 0) {
        const char *path, *reason, *actor;
        rc = quarantine_params(p, &path, &reason, &actor, out);
        if (!rc)
            r = json_pack("{s:b,s:s,s:s*,s:s*}", "ok", 1, "path", path, "reason", reason,
                          "actor", actor);
    } else if (strcmp(type, "unquarantine") == 0) {
        const char *id;
        bool force;
        rc = unquarantine_params(p, &id, &force, out);
        if (!rc)
            r = json_pack("{s:b,s:s,s:b}", "ok", 1, "id", id, "force", force);
    } else {
        rc = resp_put_fail(out, "vault: no such action") < 0 ? BN_ENOMEM : BN_EINVAL;
    }
    if (!rc)
        rc = resp_put_json(out, r);
    json_decref(p);
    return rc;
}

static int
read_meta(struct resp_vault *m, const char *id, char **text, size_t *tlen, json_t **obj)
{
    char js[ID_HEX + 8];
    snprintf(js, sizeof js, "%s.json", id);
    *text = NULL;
    *obj = NULL;
    int fd = openat(m->dirfd, js, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? BN_ENOTFOUND : -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (st.st_size > (off_t)BN_VAULT_META_MAX) {
        rc = BN_ETOOBIG;
        goto out;
    }
    *text = bn_malloc((size_t)st.st_size + 1);
    if (!*text) {
        rc = BN_ENOMEM;
        goto out;
    }
    ssize_t r = bn_read_full(fd, *text, (size_t)st.st_size);
    if (r != (ssize_t)st.st_size) {
        rc = BN_EIO;
        goto out;
    }
    (*text)[r] = '\0';
    *tlen = (size_t)r;
    *obj = json_loadb(*text, *tlen, 0, NULL);
    if (!*obj || !json_is_object(*obj))
        rc = BN_ECORRUPT;
out:
    close(fd);
    if (rc < 0) {
        bn_free(*text);
        *text = NULL;
        json_decref(*obj);
        *obj = NULL;
    }
    return rc;
}

static json_int_t
geti(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static struct timespec
getts(json_t *o, const char *k)
{
    json_t *t = json_object_get(o, k);
    struct timespec ts = {(time_t)geti(t, "sec"), (long)geti(t, "nsec")};
    return ts;
}

int
resp_unquarantine(struct resp_vault *m, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p, *meta = NULL;
    int rc = resp_parse_params(params, len, &p, out);
    if (rc < 0)
        return rc;
    char msg[PATH_MAX + 256];
    char *mtext = NULL, *tmp = NULL;
    unsigned char *buf = NULL, *ct = NULL;
    int bfd = -1, ofd = -1;
    size_t mlen = 0;
    const char *id;
    bool force;
    rc = unquarantine_params(p, &id, &force, out);
    if (rc)
        goto out;
    if (bn_buf_reserve(out, 4 * PATH_MAX + 1024) < 0) {
        rc = BN_ENOMEM;
        goto out;
    }
    rc = read_meta(m, id, &mtext, &mlen, &meta);
    if (rc < 0) {
        if (rc == BN_ENOMEM)
            goto out;
        snprintf(msg, sizeof msg, "vault item %s: metadata: %s", id, bn_strerror(rc));
        rc = resp_put_fail(out, msg);
        goto out;
    }
    const char *path = opt_str(meta, "path");
    const char *shahex = opt_str(meta, "sha256");
    json_int_t size = geti(meta, "size");
    if (!path || path[0] != '/' || strlen(path) >= PATH_MAX || !shahex || size < 0) {
        snprintf(msg, sizeof msg, "vault item %s: metadata lacks path, sha256 or size", id);
        rc = resp_put_fail(out, msg);
        goto out;
    }
    if (!force && access(path, F_OK) == 0) {
        snprintf(msg, sizeof msg, "'%s' exists; not overwritten (pass \"force\":true)", path);
        rc = resp_put_fail(out, msg);
        goto out;
    }
    unsigned char ad[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(ad, (const unsigned char *)mtext, mlen);
    char bin[ID_HEX + 8];
    snprintf(bin, sizeof bin, "%s.bin", id);
    bfd = openat(m->dirfd, bin, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (bfd < 0) {
        snprintf(msg, sizeof msg, "vault item %s: %s", id, strerror(errno));
        rc = resp_put_fail(out, msg);
        goto out;
    }
    size_t tl = strlen(path) + 32;
    tmp = bn_malloc(tl);
    buf = bn_malloc(BN_VAULT_CHUNK);
    ct = bn_malloc(CT_CHUNK);
    if (!tmp || !buf || !ct) {
        rc = BN_ENOMEM;
        goto out;
    }
    snprintf(tmp, tl, "%s.bnvault.XXXXXX", path);
    ofd = mkostemp(tmp, O_CLOEXEC);
    if (ofd < 0) {
        snprintf(msg, sizeof msg, "cannot create a file beside '%s': %s", path, strerror(errno));
        bn_free(tmp);
        tmp = NULL;
        rc = resp_put_fail(out, msg);
        goto out;
    }
    unsigned char hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_state ss;
    const char *bad = NULL;
    if (bn_read_full(bfd, hdr, sizeof hdr) != (ssize_t)sizeof hdr ||
        crypto_secretstream_xchacha20poly1305_init_pull(&ss, hdr, m->key) != 0)
        bad = "header is damaged";
    EVP_MD_CTX *hs = fsha_new();
    if (!hs) {
        rc = BN_ENOMEM;
        goto out;
    }
    json_int_t total = 0;
    bool final = false;
    while (!bad && !final) {
        ssize_t r = bn_read_full(bfd, ct, CT_CHUNK);
        if (r <= 0) {
            bad = "item is truncated";
            break;
        }
        unsigned long long plen;
        unsigned char tag;
        if (crypto_secretstream_xchacha20poly1305_pull(&ss, buf, &plen, &tag, ct,
                                                       (unsigned long long)r, ad, sizeof ad) != 0) {
            bad = "authentication failed (ciphertext or metadata was modified)";
            break;
        }
        total += (json_int_t)plen;
        if (total > size) {
            bad = "item is longer than its metadata says";
            break;
        }
        EVP_DigestUpdate(hs, buf, plen);
        int w = bn_write_all(ofd, buf, plen);
        if (w < 0) {
            EVP_MD_CTX_free(hs);
            snprintf(msg, sizeof msg, "cannot write beside '%s': %s", path, bn_strerror(w));
            rc = resp_put_fail(out, msg);
            goto out;
        }
        final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    }
    if (!bad && bn_read_full(bfd, ct, 1) != 0)
        bad = "data after the final message";
    unsigned char sha[crypto_hash_sha256_BYTES];
    char got[2 * sizeof sha + 1];
    if (fsha_final(hs, sha) < 0 && !bad)
        bad = "hashing failed";
    resp_hexify(got, sha, sizeof sha);
    if (!bad && (total != size || strcmp(got, shahex) != 0))
        bad = "restored bytes do not match the recorded SHA-256";
    if (bad) {
        snprintf(msg, sizeof msg, "vault item %s refused: %s", id, bad);
        rc = resp_put_fail(out, msg);
        goto out;
    }
    struct timespec times[2] = {getts(meta, "atime"), getts(meta, "mtime")};
    if (fchown(ofd, (uid_t)geti(meta, "uid"), (gid_t)geti(meta, "gid")) < 0 ||
        fchmod(ofd, (mode_t)(geti(meta, "mode") & 07777)) < 0 || futimens(ofd, times) < 0 ||
        fsync(ofd) < 0) {
        snprintf(msg, sizeof msg, "cannot set owner, mode or times on '%s': %s", path,
                 strerror(errno));
        rc = resp_put_fail(out, msg);
        goto out;
    }
    int rr = force ? rename(tmp, path) : renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
    if (rr < 0) {
        snprintf(msg, sizeof msg, "cannot put '%s' back: %s", path, strerror(errno));
        rc = resp_put_fail(out, msg);
        goto out;
    }
    bn_free(tmp);
    tmp = NULL;
    char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    size_t dl = (size_t)(slash - path);
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    bn_fsync_dir(dl ? dir : "/");
    close(bfd);
    bfd = -1;
    unlinkat(m->dirfd, bin, 0);
    char js[ID_HEX + 8];
    snprintf(js, sizeof js, "%s.json", id);
    unlinkat(m->dirfd, js, 0);
    bn_fsync_dir(m->dir);
    rc = resp_put_json(out, json_pack("{s:b,s:s,s:s,s:s,s:I}", "ok", 1, "id", id, "path", path, "sha256",
                                 got, "size", total));
out:
    if (ofd >= 0)
        close(ofd);
    if (tmp) {
        unlink(tmp);
        bn_free(tmp);
    }
    if (bfd >= 0)
        close(bfd);
    if (buf)
        sodium_memzero(buf, BN_VAULT_CHUNK);
    bn_free(buf);
    bn_free(ct);
    bn_free(mtext);
    json_decref(meta);
    json_decref(p);
    return rc;
}

/* ---- list ---- */

int
resp_vault_list(struct resp_vault *m, const char *params, size_t len, struct bn_buf *out)
{
    json_t *p;
    int rc = resp_parse_params(params, len, &p, out);
    if (rc < 0)
        return rc;
    json_decref(p);
    json_t *items = json_array();
    json_t *bad = json_array();
    if (!items || !bad) {
        json_decref(items);
        json_decref(bad);
        return BN_ENOMEM;
    }
    DIR *d = opendir(m->dir);
    if (!d) {
        json_decref(items);
        json_decref(bad);
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof msg, "cannot list '%s': %s", m->dir, strerror(errno));
        return resp_put_fail(out, msg);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != ID_HEX + 5 || strcmp(e->d_name + ID_HEX, ".json") != 0)
            continue;
        char id[ID_HEX + 1];
        memcpy(id, e->d_name, ID_HEX);
        id[ID_HEX] = '\0';
        if (!valid_id(id))
            continue;
        char *text;
        size_t tl;
        json_t *meta;
        int r = read_meta(m, id, &text, &tl, &meta);
        char bin[ID_HEX + 8];
        snprintf(bin, sizeof bin, "%s.bin", id);
        struct stat st;
        if (r == 0 && fstatat(m->dirfd, bin, &st, AT_SYMLINK_NOFOLLOW) < 0)
            r = BN_ENOTFOUND; /* metadata of an interrupted quarantine */
        if (r == 0) {
            json_array_append_new(items, meta);
        } else {
            json_decref(meta);
            json_array_append_new(bad, json_pack("{s:s,s:s}", "id", id, "error", bn_strerror(r)));
        }
        bn_free(text);
    }
    closedir(d);
    rc = resp_put_json(out,
                  json_pack("{s:b,s:I,s:o,s:o}", "ok", 1, "count",
                            (json_int_t)json_array_size(items), "items", items, "damaged", bad));
    return rc;
}
