/*
 * attach_api.c - attachments through the API (docs/RESPONSE.md "Upload and attachment"):
 * the files attached to an incident (forensic packages uploaded by agents, attach.c) and the
 * download of one. Provider admins, analysts and the tenant's customer_admins; every download
 * is audited, and the blob's SHA-256 is checked against the stored one before it is served.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/wire.h"
#include "bannin/hex.h"
#include "manager/api_int.h"
#include "manager/store.h"

static json_t *
attachment_json(const struct store_attachment *a)
{
    char url[96];
    snprintf(url, sizeof(url), "/api/v1/attachments/%lld", (long long)a->id);
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:s,s:o,s:s}", "id", (json_int_t)a->id,
                     "tenant_id", (json_int_t)a->tenant_id, "agent_id", (json_int_t)a->agent_id,
                     "incident_id", (json_int_t)a->incident_id, "action_id",
                     (json_int_t)a->action_id, "name", a->name, "size", (json_int_t)a->size,
                     "sha256", a->sha256, "created_at", api_jtime(a->created_ns), "download",
                     url);
}

static int
push_attachment(void *ctx, const struct store_attachment *a)
{
    json_t *j = attachment_json(a);
    if (!j)
        return BN_ENOMEM;
    return json_array_append_new(ctx, j) == 0 ? 0 : BN_ENOMEM;
}

int
api_h_attachment_list(struct api_req *r)
{
    int64_t incident;
    if (api_param_id(r, "incident_id", &incident) < 0)
        return BN_EINVAL;
    int64_t limit = 100;
    if (api_query_int(r, "limit", 1, 1000, 100, &limit) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    int64_t idb;
    api_scope_caller(r, &sc, &idb);
    struct store_incident inc;
    int rc = store_incident_get(r->st, &sc, incident, &inc);
    if (rc < 0)
        return api_fail_rc(r, rc, "incident");
    json_t *items = json_array();
    rc = store_attachment_list(r->st, &sc, incident, (size_t)limit, push_attachment, items);
    return api_reply_items(r, rc, items, "attachments");
}

/* SHA-256 (hex) of the first size bytes of fd, read in 64 KiB pieces. 0 or -errno/BN_EIO. */
static int
hash_file(int fd, uint64_t size, char hex[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return BN_ENOMEM;
    }
    static _Thread_local uint8_t chunk[65536];
    uint64_t off = 0;
    int rc = 0;
    while (rc == 0 && off < size) {
        size_t want = size - off < sizeof(chunk) ? (size_t)(size - off) : sizeof(chunk);
        ssize_t k = pread(fd, chunk, want, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            rc = k < 0 ? -errno : BN_EIO; /* shorter than its size: truncated */
        else if (EVP_DigestUpdate(md, chunk, (size_t)k) != 1)
            rc = BN_EIO;
        else
            off += (uint64_t)k;
    }
    uint8_t h[32];
    unsigned hl = 0;
    if (rc == 0 && EVP_DigestFinal_ex(md, h, &hl) != 1)
        rc = BN_EIO;
    EVP_MD_CTX_free(md);
    if (rc == 0)
        bn_hex_encode(h, 32, hex);
    return rc;
}

int
api_h_attachment_get(struct api_req *r)
{
    int64_t id;
    if (api_param_id(r, "attachment_id", &id) < 0)
        return BN_EINVAL;
    struct store_scope sc;
    int64_t idb;
    api_scope_caller(r, &sc, &idb);
    struct store_attachment a;
    int rc = store_attachment_get(r->st, &sc, id, &a);
    if (rc < 0)
        return api_fail_rc(r, rc, "attachment");
    char path[4800];
    snprintf(path, sizeof(path), "%s/%s", r->api->data_dir, a.path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size != a.size ||
        (uint64_t)sb.st_size > BN_ATTACH_SIZE_MAX) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return api_fail(r, 500, "internal", NULL,
                        "attachment %lld: its file '%s' is %s", (long long)id, a.path,
                        fd < 0 ? strerror(e) : "not the stored size");
    }
    /* The whole file is hashed before a byte is served: a damaged file is a 500, not a
     * download that fails at the end. Attachments are written once (attach.c) and never
     * changed, so the bytes streamed after this check are the bytes checked. */
    char hex[65];
    rc = hash_file(fd, (uint64_t)sb.st_size, hex);
    if (rc < 0) {
        close(fd);
        return api_fail(r, 500, "internal", NULL, "attachment %lld: reading '%s': %s",
                        (long long)id, a.path, bn_strerror(rc));
    }
    if (strcmp(hex, a.sha256) != 0) {
        close(fd);
        return api_fail(r, 500, "internal", NULL,
                        "attachment %lld is damaged: its file's SHA-256 is %s, stored %s",
                        (long long)id, hex, a.sha256);
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "attachment:%lld", (long long)id);
    api_audit(r, a.tenant_id, "attachment.download", obj,
              json_pack("{s:I,s:I,s:s,s:I,s:s}", "incident_id", (json_int_t)a.incident_id,
                        "action_id", (json_int_t)a.action_id, "name", a.name, "size",
                        (json_int_t)a.size, "sha256", a.sha256));
    if (r->failed) {
        close(fd);
        return BN_EIO;
    }
    r->file_set = 1;
    r->file_fd = fd;
    r->file_size = (uint64_t)sb.st_size;
    memcpy(r->file_sha256, hex, sizeof(hex));
    r->status = 200;
    return 0;
}
