/*
 * test_action_queue.c - the manager's actions on the agent: run on the worker, the result
 * kept on disk until acknowledged and found again after a restart, an expired action not
 * run, a repeated id not run twice, acknowledged results forgotten; the upload queue: a
 * forensics action leaves its package (path, size, SHA-256 of the file) for upload, kept
 * across a restart, deleted once stored, kept when refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "bannin/error.h"
#include "bannin/wire.h"

#include "agent/action_queue.h"
#include "agent/respond.h"

struct seen {
    int n;
    uint64_t id[16];
    uint32_t status[16];
    char json[16][512];
};

static int
collect(void *ctx, uint64_t id, uint32_t status, const char *json, size_t len)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        s->id[s->n] = id;
        s->status[s->n] = status;
        snprintf(s->json[s->n], sizeof(s->json[0]), "%.*s", (int)len, json);
        s->n++;
    }
    return 0;
}

static void
wait_results(struct action_queue *q, uint64_t want)
{
    for (int i = 0; i < 500; i++) {
        struct action_queue_stats st;
        action_queue_get_stats(q, &st);
        if (st.results_pending >= want)
            return;
        usleep(10000);
    }
    fail_msg("results did not come in time");
}

static void
test_queue(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn-aq-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct respond_paths paths = {dir, NULL, NULL};
    struct respond *r;
    assert_int_equal(respond_new(&r, &paths), 0);
    struct action_queue *q;
    assert_int_equal(action_queue_new(&q, r, dir), 0);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t past = (uint64_t)(ts.tv_sec - 10) * 1000000000ull;
    assert_int_equal(action_queue_push(q, 7, "capabilities", 12, "{}", 2, 0), 0);
    assert_int_equal(action_queue_push(q, 8, "capabilities", 12, "{}", 2, past), 0);
    assert_int_equal(action_queue_push(q, 9, "no_such", 7, "{}", 2, 0), 0);
    wait_results(q, 3);
    assert_int_equal(action_queue_push(q, 7, "capabilities", 12, "{}", 2, 0), 0); /* again */
    struct action_queue_stats st;
    action_queue_get_stats(q, &st);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.expired, 1);

    struct seen s = {0};
    assert_int_equal(action_queue_results(q, 5000, collect, &s), 0);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) {
        if (s.id[i] == 7) {
            assert_int_equal(s.status[i], BN_WIRE_ACT_DONE);
            assert_non_null(strstr(s.json[i], "\"ok\":true"));
        } else if (s.id[i] == 8) {
            assert_int_equal(s.status[i], BN_WIRE_ACT_EXPIRED);
        } else {
            assert_int_equal(s.id[i], 9);
            assert_int_equal(s.status[i], BN_WIRE_ACT_FAILED);
            assert_non_null(strstr(s.json[i], "unknown action type"));
        }
    }
    /* not due again within the resend interval; due again in a new session */
    s.n = 0;
    assert_int_equal(action_queue_results(q, 5000, collect, &s), 0);
    assert_int_equal(s.n, 0);
    action_queue_session(q);
    assert_int_equal(action_queue_results(q, 5000, collect, &s), 0);
    assert_int_equal(s.n, 3);

    assert_int_equal(action_queue_ack(q, 7), 0);
    assert_int_equal(action_queue_ack(q, 7), BN_ENOTFOUND);
    action_queue_free(q);

    /* a restart: the two unacknowledged results are still there */
    assert_int_equal(action_queue_new(&q, r, dir), 0);
    s.n = 0;
    assert_int_equal(action_queue_results(q, 5000, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(action_queue_ack(q, 8), 0);
    assert_int_equal(action_queue_ack(q, 9), 0);
    action_queue_free(q);
    assert_int_equal(action_queue_new(&q, r, dir), 0);
    s.n = 0;
    assert_int_equal(action_queue_results(q, 5000, collect, &s), 0);
    assert_int_equal(s.n, 0);
    action_queue_free(q);
    respond_free(r);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void
test_uploads(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn-aq-up-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct respond_paths paths = {dir, NULL, NULL};
    struct respond *r;
    assert_int_equal(respond_new(&r, &paths), 0);
    struct action_queue *q;
    assert_int_equal(action_queue_new(&q, r, dir), 0);
    struct action_upload u;
    assert_int_equal(action_queue_upload_next(q, 0, &u), BN_ENOTFOUND);
    /* a real forensics action: its package is queued for upload */
    assert_int_equal(action_queue_push(q, 20, "forensics", 9, "{\"events\":0}", 12, 0), 0);
    wait_results(q, 1);
    assert_int_equal(action_queue_upload_next(q, 0, &u), 0);
    assert_int_equal(u.id, 20);
    assert_non_null(strstr(u.name, "forensics-"));
    assert_null(strchr(u.name, '/'));
    struct stat sb;
    assert_int_equal(stat(u.path, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, u.size);
    FILE *f = fopen(u.path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(u.size ? u.size : 1);
    assert_int_equal(fread(buf, 1, u.size, f), u.size);
    fclose(f);
    unsigned char h[32];
    assert_true(sodium_init() >= 0);
    crypto_hash_sha256(h, buf, u.size);
    free(buf);
    assert_memory_equal(h, u.sha256, 32);
    /* a capabilities action is not uploaded */
    assert_int_equal(action_queue_push(q, 21, "capabilities", 12, "{}", 2, 0), 0);
    wait_results(q, 2);
    struct action_upload v;
    assert_int_equal(action_queue_upload_next(q, 20, &v), BN_ENOTFOUND);
    /* a second one, refused by the manager later: its file stays */
    struct action_upload x;
    memset(&x, 0, sizeof(x));
    x.id = 30;
    snprintf(x.path, sizeof(x.path), "%s/keep.tar.zst", dir);
    f = fopen(x.path, "w");
    assert_non_null(f);
    fputs("kept", f);
    fclose(f);
    x.size = 4;
    assert_int_equal(action_queue_upload_add(q, &x), 0);
    assert_int_equal(action_queue_upload_add(q, &x), BN_EEXIST);
    action_queue_free(q);

    /* a restart: both still wait, oldest first */
    assert_int_equal(action_queue_new(&q, r, dir), 0);
    assert_int_equal(action_queue_upload_next(q, 0, &v), 0);
    assert_int_equal(v.id, 20);
    assert_string_equal(v.path, u.path);
    assert_memory_equal(v.sha256, u.sha256, 32);
    assert_int_equal(v.size, u.size);
    assert_int_equal(action_queue_upload_next(q, 20, &v), 0);
    assert_int_equal(v.id, 30);
    assert_string_equal(v.name, "keep.tar.zst");
    /* stored: the package is deleted; refused: kept */
    assert_int_equal(action_queue_upload_done(q, 20, true), 0);
    assert_int_equal(stat(u.path, &sb), -1);
    assert_int_equal(action_queue_upload_done(q, 30, false), 0);
    assert_int_equal(stat(x.path, &sb), 0);
    assert_int_equal(action_queue_upload_done(q, 30, false), BN_ENOTFOUND);
    struct action_queue_stats st;
    action_queue_get_stats(q, &st);
    assert_int_equal(st.uploads_stored, 1);
    assert_int_equal(st.uploads_refused, 1);
    assert_int_equal(st.uploads_pending, 0);
    action_queue_free(q);
    assert_int_equal(action_queue_new(&q, r, dir), 0);
    assert_int_equal(action_queue_upload_next(q, 0, &v), BN_ENOTFOUND);
    action_queue_free(q);
    respond_free(r);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue),
        cmocka_unit_test(test_uploads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
