/*
 * fuzz_manager_upload.c - libFuzzer target for the manager's side of forensic package
 * uploads (attach.c): FILE_OFFER / FILE_CHUNK / FILE_END frames from an agent, against a real
 * store and data directory in a temp dir (created once). The input is a sequence of records
 * "u8 flags, u16 length (big-endian), payload": flags & 3 picks offer / chunk / end; with
 * flags & 0x40 the harness writes this input's forensics action id over the payload's first
 * 8 bytes; without flags & 0x80 it signs the payload with the agent's key over the session
 * nonce (so the frame gets past the signature to the upload logic), with it the payload is
 * passed as is (decoders and signature checks). For any input: attach_frame returns 0 or a
 * refusal code with a message, every answer is a well-formed FILE_STATUS, and a stored
 * attachment's blob has the size and SHA-256 its row says.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/wire.h"
#include "bannin/hex.h"
#include "manager/attach.h"
#include "manager/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct store *st;
static int64_t tenant, agent, incident;
static uint8_t pk[BN_WIRE_PK], sk[BN_WIRE_SK], nonce[BN_WIRE_NONCE];

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void
cleanup(void)
{
    store_close(st);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
    bn_log_set_level(BN_LOG_ERROR);
    snprintf(dir, sizeof(dir), "/tmp/bn-fuzz-upload-XXXXXX");
    struct store_err err;
    if (!mkdtemp(dir) || store_open(&st, dir, &err) != 0 || sodium_init() < 0)
        abort();
    struct store_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "fuzz");
    t.notify_min_severity = 3;
    t.retention_days = 1;
    t.created_ns = 1;
    struct store_agent a;
    memset(&a, 0, sizeof(a));
    snprintf(a.uid, sizeof(a.uid), "fuzz-agent");
    snprintf(a.hostname, sizeof(a.hostname), "fuzz");
    snprintf(a.cert_fp, sizeof(a.cert_fp), "fp");
    a.heartbeat_interval_ms = 30000;
    a.enrolled_ns = 1;
    if (store_tenant_create(st, &t, &tenant) != 0)
        abort();
    a.tenant_id = tenant;
    if (store_agent_create(st, &a, &agent) != 0)
        abort();
    struct store_incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.tenant_id = tenant;
    snprintf(inc.title, sizeof(inc.title), "fuzz");
    inc.severity = 4;
    inc.alert_count = 1;
    inc.first_ns = inc.last_ns = inc.created_ns = 1;
    inc.notified_severity = -1;
    if (store_incident_create(st, &inc, &incident) != 0)
        abort();
    crypto_sign_keypair(pk, sk);
    randombytes_buf(nonce, sizeof(nonce));
    atexit(cleanup);
}

static void
check_status(const struct bn_buf *out)
{
    if (!out->len)
        return;
    int type;
    uint32_t len;
    struct bn_wire_err e;
    struct bn_wire_file_status m;
    if (bn_wire_hdr_decode((const uint8_t *)out->p, out->len, &type, &len, &e) != 0 ||
        type != BN_WIRE_FILE_STATUS || len + BN_WIRE_HDR != out->len ||
        bn_wire_file_status_decode((const uint8_t *)out->p + BN_WIRE_HDR, len, &m, &e) != 0)
        abort();
}

static void
check_stored(int64_t action)
{
    struct store_attachment a;
    if (store_attachment_by_action(st, action, &a) != 0)
        return;
    char path[800];
    snprintf(path, sizeof(path), "%s/%s", dir, a.path);
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    uint8_t buf[65536], h[32];
    size_t k, total = 0;
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0) {
        EVP_DigestUpdate(md, buf, k);
        total += k;
    }
    fclose(f);
    EVP_DigestFinal_ex(md, h, NULL);
    EVP_MD_CTX_free(md);
    char hex[65];
    if ((int64_t)total != a.size || strcmp(bn_hex_encode(h, 32, hex), a.sha256) != 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st)
        setup();
    struct store_action act;
    memset(&act, 0, sizeof(act));
    act.tenant_id = tenant;
    act.agent_id = agent;
    act.incident_id = incident;
    snprintf(act.type, sizeof(act.type), "forensics");
    act.params_json = "{}";
    act.state = STORE_ACT_QUEUED;
    snprintf(act.requested_by, sizeof(act.requested_by), "fuzz");
    int64_t action;
    if (store_action_create(st, &act, &action) != 0)
        abort();
    struct attach_up *up = NULL;
    struct attach_peer peer = {st, agent, "fuzz-agent", nonce, pk, false};
    struct attach_stats stats = {0};
    struct bn_buf frame, out;
    bn_buf_init(&frame, BN_WIRE_HDR + BN_WIRE_FRAME_MAX);
    bn_buf_init(&out, 1 << 16);
    static const int types[4] = {BN_WIRE_FILE_OFFER, BN_WIRE_FILE_CHUNK, BN_WIRE_FILE_END,
                                 BN_WIRE_FILE_OFFER};
    size_t off = 0;
    while (size - off >= 3) {
        uint8_t flags = data[off];
        size_t n = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (n > size - off)
            n = size - off;
        int type = types[flags & 3];
        bn_buf_reset(&frame);
        if (bn_buf_append(&frame, data + off, n) != 0)
            abort();
        off += n;
        if ((flags & 0x40) && frame.len >= 8)
            for (int i = 0; i < 8; i++)
                frame.p[i] = (char)((uint64_t)action >> (56 - 8 * i));
        if (!(flags & 0x80)) {
            const char *dom = type == BN_WIRE_FILE_OFFER   ? "BNO1"
                              : type == BN_WIRE_FILE_CHUNK ? "BNC1"
                                                           : "BNE1";
            uint8_t sig[BN_WIRE_SIG];
            crypto_sign_state ss;
            crypto_sign_init(&ss);
            crypto_sign_update(&ss, (const uint8_t *)dom, 4);
            crypto_sign_update(&ss, nonce, sizeof(nonce));
            crypto_sign_update(&ss, (const uint8_t *)frame.p, frame.len);
            crypto_sign_final_create(&ss, sig, NULL, sk);
            if (bn_buf_append(&frame, sig, sizeof(sig)) != 0)
                abort();
        }
        char err[300];
        bn_buf_reset(&out);
        peer.in_group = (flags & 0x20) != 0;
        int rc = attach_frame(&up, &peer, type, (const uint8_t *)frame.p, (uint32_t)frame.len,
                              &out, &stats, err, sizeof(err));
        if (rc != 0 && !err[0])
            abort(); /* every refusal says why */
        check_status(&out);
        if (rc != 0) {
            /* the link ends the session: the next frames belong to a new one */
            attach_up_free(up);
            up = NULL;
        }
    }
    attach_up_free(up);
    check_stored(action);
    bn_buf_release(&frame);
    bn_buf_release(&out);
    /* partial files of this input do not pile up over a long run */
    char pdir[128];
    snprintf(pdir, sizeof(pdir), "%s/attachments/partial", dir);
    DIR *d = opendir(pdir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            unlinkat(dirfd(d), de->d_name, 0);
    if (d)
        closedir(d);
    return 0;
}
