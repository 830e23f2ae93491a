/*
 * test_attach.c - the forensic package upload protocol, both ends of the frames in-process
 * against a real SQLite store and data directory (attach.h, wire.h "File upload"):
 * offer -> SEND 0, chunks, a "disconnect" half way (the session's state freed), a new offer
 * in a new session -> SEND at the bytes held, a chunk at the wrong offset refused, the rest,
 * END -> STORED, the blob byte-identical, the row and the audit entry; the same offer again
 * -> STORED at once; refusals: another agent's action, a non-forensics action, over the size
 * limit, a SHA-256 that does not match (partial file removed); a bad signature, a frame
 * signed for another session and a chunk with no offer end the session; inside an open
 * group STORED waits for the END sent again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/wire.h"
#include "bannin/hex.h"
#include "manager/attach.h"
#include "manager/store.h"

struct env {
    char dir[64];
    struct store *st;
    int64_t tenant, agent, other_agent, incident, act, act_kill, act_other;
    uint8_t pk[BN_WIRE_PK], sk[BN_WIRE_SK];
    uint8_t nonce[BN_WIRE_NONCE];
    struct bn_buf out, frame;
    struct attach_stats stats;
};

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int64_t
mk_agent(struct store *st, int64_t tenant, const char *host)
{
    struct store_agent a;
    memset(&a, 0, sizeof(a));
    a.tenant_id = tenant;
    snprintf(a.uid, sizeof(a.uid), "uid-%s", host);
    snprintf(a.hostname, sizeof(a.hostname), "%s", host);
    snprintf(a.cert_fp, sizeof(a.cert_fp), "fp-%s", host);
    a.heartbeat_interval_ms = 30000;
    a.enrolled_ns = now_ns();
    int64_t id;
    assert_int_equal(store_agent_create(st, &a, &id), 0);
    return id;
}

static int64_t
mk_action(struct store *st, int64_t tenant, int64_t agent, int64_t incident, const char *type)
{
    struct store_action a;
    memset(&a, 0, sizeof(a));
    a.tenant_id = tenant;
    a.agent_id = agent;
    a.incident_id = incident;
    snprintf(a.type, sizeof(a.type), "%s", type);
    a.params_json = "{}";
    a.state = STORE_ACT_QUEUED;
    snprintf(a.requested_by, sizeof(a.requested_by), "test");
    int64_t id;
    assert_int_equal(store_action_create(st, &a, &id), 0);
    assert_int_equal(store_action_mark_sent(st, id), 0);
    return id;
}

static int
setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    snprintf(e->dir, sizeof(e->dir), "/tmp/bn-attach-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    struct store_err err;
    assert_int_equal(store_open(&e->st, e->dir, &err), 0);
    struct store_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "ta");
    t.notify_min_severity = 3;
    t.retention_days = 30;
    t.created_ns = now_ns();
    assert_int_equal(store_tenant_create(e->st, &t, &e->tenant), 0);
    e->agent = mk_agent(e->st, e->tenant, "h1");
    e->other_agent = mk_agent(e->st, e->tenant, "h2");
    struct store_incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.tenant_id = e->tenant;
    snprintf(inc.title, sizeof(inc.title), "incident");
    inc.severity = 4;
    snprintf(inc.group_key, sizeof(inc.group_key), "h1");
    inc.alert_count = 1;
    inc.first_ns = inc.last_ns = inc.created_ns = now_ns();
    inc.notified_severity = -1;
    assert_int_equal(store_incident_create(e->st, &inc, &e->incident), 0);
    e->act = mk_action(e->st, e->tenant, e->agent, e->incident, "forensics");
    e->act_kill = mk_action(e->st, e->tenant, e->agent, e->incident, "kill_tree");
    e->act_other = mk_action(e->st, e->tenant, e->other_agent, e->incident, "forensics");
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(e->pk, e->sk);
    randombytes_buf(e->nonce, sizeof(e->nonce));
    bn_buf_init(&e->out, 1 << 16);
    bn_buf_init(&e->frame, BN_WIRE_HDR + BN_WIRE_FRAME_MAX);
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    struct env *e = *state;
    store_close(e->st);
    nftw(e->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    bn_buf_release(&e->out);
    bn_buf_release(&e->frame);
    free(e);
    return 0;
}

/* Feeds the frame in e->frame (header stripped) to attach_frame. */
static int
feed(struct env *e, struct attach_up **up, bool in_group, char *err, size_t errsz)
{
    int type;
    uint32_t len;
    struct bn_wire_err we;
    assert_int_equal(bn_wire_hdr_decode((const uint8_t *)e->frame.p, e->frame.len, &type, &len,
                                        &we),
                     0);
    assert_int_equal(len + BN_WIRE_HDR, e->frame.len);
    struct attach_peer p = {e->st, e->agent, "uid-h1", e->nonce, e->pk, in_group};
    bn_buf_reset(&e->out);
    return attach_frame(up, &p, type, (const uint8_t *)e->frame.p + BN_WIRE_HDR, len, &e->out,
                        &e->stats, err, errsz);
}

/* The FILE_STATUS in e->out. */
static struct bn_wire_file_status
answer(struct env *e)
{
    struct bn_wire_file_status m;
    struct bn_wire_err we;
    int type;
    uint32_t len;
    assert_true(e->out.len > BN_WIRE_HDR);
    assert_int_equal(bn_wire_hdr_decode((const uint8_t *)e->out.p, e->out.len, &type, &len, &we),
                     0);
    assert_int_equal(type, BN_WIRE_FILE_STATUS);
    assert_int_equal(bn_wire_file_status_decode((const uint8_t *)e->out.p + BN_WIRE_HDR, len, &m,
                                                &we),
                     0);
    return m;
}

static void
offer(struct env *e, uint64_t action, const char *name, uint64_t size, const uint8_t *sha)
{
    struct bn_wire_file_offer m = {action, {name, strlen(name)}, size, sha, NULL, NULL, 0};
    bn_buf_reset(&e->frame);
    assert_int_equal(bn_wire_file_offer_encode(&e->frame, &m, e->nonce, e->sk), 0);
}

static void
chunk(struct env *e, uint64_t action, uint64_t off, const uint8_t *p, uint32_t n)
{
    struct bn_wire_file_chunk m = {action, off, p, n, NULL, NULL, 0};
    bn_buf_reset(&e->frame);
    assert_int_equal(bn_wire_file_chunk_encode(&e->frame, &m, e->nonce, e->sk), 0);
}

static void
end(struct env *e, uint64_t action, uint64_t size, const uint8_t *sha)
{
    struct bn_wire_file_end m = {action, size, sha, NULL, NULL, 0};
    bn_buf_reset(&e->frame);
    assert_int_equal(bn_wire_file_end_encode(&e->frame, &m, e->nonce, e->sk), 0);
}

static int
audit_count(void *ctx, const struct store_audit_entry *a)
{
    if (strcmp(a->action, "attachment.stored") == 0)
        (*(int *)ctx)++;
    return 0;
}

#define FILE_LEN (3 * 100000 + 123)
#define CH 100000

static void
test_upload_resume(void **state)
{
    struct env *e = *state;
    uint8_t *data = malloc(FILE_LEN);
    assert_non_null(data);
    randombytes_buf(data, FILE_LEN);
    uint8_t sha[32];
    unsigned hl;
    EVP_Digest(data, FILE_LEN, sha, &hl, EVP_sha256(), NULL);
    const char *name = "forensics-x.tar.zst";
    char err[300];
    struct attach_up *up = NULL;

    offer(e, (uint64_t)e->act, name, FILE_LEN, sha);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    struct bn_wire_file_status s = answer(e);
    assert_int_equal(s.state, BN_WIRE_FILE_SEND);
    assert_int_equal(s.offset, 0);
    for (uint64_t off = 0; off < 2 * CH; off += CH) {
        chunk(e, (uint64_t)e->act, off, data + off, CH);
        assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
        assert_int_equal(e->out.len, 0); /* chunks are not answered */
    }
    /* the session ends half way: a new session offers again and resumes */
    attach_up_free(up);
    up = NULL;
    randombytes_buf(e->nonce, sizeof(e->nonce));
    offer(e, (uint64_t)e->act, name, FILE_LEN, sha);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    s = answer(e);
    assert_int_equal(s.state, BN_WIRE_FILE_SEND);
    assert_int_equal(s.offset, 2 * CH);
    assert_int_equal(e->stats.resumed, 1);
    /* a chunk at another offset than expected ends the session */
    chunk(e, (uint64_t)e->act, CH, data + CH, CH);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), BN_EPROTO);
    assert_non_null(strstr(err, "expected byte 200000"));
    /* (same session state: the link would close it; go on from the right offset) */
    chunk(e, (uint64_t)e->act, 2 * CH, data + 2 * CH, FILE_LEN - 2 * CH);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    /* inside an open ingest group STORED waits for the END sent again */
    end(e, (uint64_t)e->act, FILE_LEN, sha);
    assert_int_equal(feed(e, &up, true, err, sizeof(err)), 0);
    assert_int_equal(e->out.len, 0);
    end(e, (uint64_t)e->act, FILE_LEN, sha);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    s = answer(e);
    assert_int_equal(s.state, BN_WIRE_FILE_STORED);
    attach_up_free(up);
    up = NULL;

    /* the row, the blob byte for byte, one audit entry */
    struct store_attachment a;
    assert_int_equal(store_attachment_by_action(e->st, e->act, &a), 0);
    assert_int_equal(a.size, FILE_LEN);
    assert_int_equal(a.incident_id, e->incident);
    assert_int_equal(a.tenant_id, e->tenant);
    assert_string_equal(a.name, name);
    char hex[65];
    assert_string_equal(a.sha256, bn_hex_encode(sha, 32, hex));
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", e->dir, a.path);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *back = malloc(FILE_LEN + 1);
    assert_int_equal(fread(back, 1, FILE_LEN + 1, f), FILE_LEN);
    fclose(f);
    assert_memory_equal(back, data, FILE_LEN);
    free(back);
    int n = 0;
    struct store_scope all = {1, NULL, 0};
    assert_int_equal(store_audit_list(e->st, &all, 0, 100, audit_count, &n), 0);
    assert_int_equal(n, 1);
    int64_t bad = 0;
    assert_int_equal(store_audit_verify(e->st, &bad), 0);
    struct store_attachment l;
    assert_int_equal(store_attachment_get(e->st, &all, a.id, &l), 0);
    assert_int_equal(l.action_id, e->act);
    int64_t other_tenant = e->tenant + 1;
    struct store_scope sc_b = {0, &other_tenant, 1};
    assert_int_equal(store_attachment_get(e->st, &sc_b, a.id, &l), BN_ENOTFOUND);

    /* offered again (the agent missed STORED): STORED at once, nothing stored twice */
    offer(e, (uint64_t)e->act, name, FILE_LEN, sha);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    assert_int_equal(answer(e).state, BN_WIRE_FILE_STORED);
    attach_up_free(up);
    free(data);
}

static void
test_refusals(void **state)
{
    struct env *e = *state;
    uint8_t data[1000], sha[32], wrong[32];
    randombytes_buf(data, sizeof(data));
    unsigned hl;
    EVP_Digest(data, sizeof(data), sha, &hl, EVP_sha256(), NULL);
    memcpy(wrong, sha, 32);
    wrong[0] ^= 1;
    char err[300];
    struct attach_up *up = NULL;

    offer(e, (uint64_t)e->act_other, "p.tar.zst", sizeof(data), sha);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    struct bn_wire_file_status s = answer(e);
    assert_int_equal(s.state, BN_WIRE_FILE_REFUSED);
    assert_non_null(memmem(s.msg.p, s.msg.len, "not an action of this agent", 27));

    offer(e, (uint64_t)e->act_kill, "p.tar.zst", sizeof(data), sha);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    s = answer(e);
    assert_int_equal(s.state, BN_WIRE_FILE_REFUSED);
    assert_non_null(memmem(s.msg.p, s.msg.len, "only forensics", 14));

    offer(e, (uint64_t)e->act, "p.tar.zst", BN_ATTACH_SIZE_MAX + 1, sha);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    s = answer(e);
    assert_int_equal(s.state, BN_WIRE_FILE_REFUSED);
    assert_non_null(memmem(s.msg.p, s.msg.len, "attachment limit", 16));

    /* the bytes received do not hash to what was offered */
    offer(e, (uint64_t)e->act, "p.tar.zst", sizeof(data), wrong);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    assert_int_equal(answer(e).state, BN_WIRE_FILE_SEND);
    chunk(e, (uint64_t)e->act, 0, data, sizeof(data));
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    end(e, (uint64_t)e->act, sizeof(data), wrong);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    s = answer(e);
    assert_int_equal(s.state, BN_WIRE_FILE_REFUSED);
    assert_non_null(memmem(s.msg.p, s.msg.len, "SHA-256", 7));
    assert_null(up);
    struct store_attachment a;
    assert_int_equal(store_attachment_by_action(e->st, e->act, &a), BN_ENOTFOUND);
    char part[200];
    snprintf(part, sizeof(part), "%s/attachments/partial", e->dir);
    struct stat sb;
    assert_int_equal(stat(part, &sb), 0);
    assert_int_equal(sb.st_nlink, 2); /* empty: the bad partial file is gone */

    /* a chunk past the offered size, with no offer, a bad signature, another session's */
    offer(e, (uint64_t)e->act, "p.tar.zst", 10, sha);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), 0);
    chunk(e, (uint64_t)e->act, 0, data, 11);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), BN_EPROTO);
    assert_non_null(strstr(err, "past the offered size"));
    attach_up_free(up);
    up = NULL;
    chunk(e, (uint64_t)e->act, 0, data, 10);
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), BN_EPROTO);
    assert_non_null(strstr(err, "without an accepted offer"));
    offer(e, (uint64_t)e->act, "p.tar.zst", sizeof(data), sha);
    e->frame.p[BN_WIRE_HDR + 12] ^= 1; /* the name's first byte: p -> q, still a name */
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), BN_EPROTO);
    assert_non_null(strstr(err, "bad signature"));
    offer(e, (uint64_t)e->act, "p.tar.zst", sizeof(data), sha);
    randombytes_buf(e->nonce, sizeof(e->nonce)); /* recorded in another session */
    assert_int_equal(feed(e, &up, false, err, sizeof(err)), BN_EPROTO);
    assert_non_null(strstr(err, "bad signature"));
    attach_up_free(up);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upload_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
