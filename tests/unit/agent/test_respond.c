/*
 * test_respond.c - respond.c's entry point: dispatch by type, refusals with a reason (bad
 * type name, unknown type, parameters that are not a JSON object or over the limit), and
 * the EventID 150/151 events with the action id, source, params and result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"

#include "agent/respond.h"
#include "agent/respond_log.h"

struct sink {
    int n;
    json_t *ev[8];
};

static void
on_event(void *arg, const char *json, size_t len)
{
    struct sink *s = arg;
    json_error_t e;
    json_t *j = json_loadb(json, len, 0, &e);
    assert_non_null(j);
    if (s->n < 8)
        s->ev[s->n++] = j;
    else
        json_decref(j);
}

static void
sink_clear(struct sink *s)
{
    for (int i = 0; i < s->n; i++)
        json_decref(s->ev[i]);
    s->n = 0;
}

static json_t *
result(const struct bn_buf *b)
{
    json_t *j = json_loadb(b->p, b->len, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_object(j));
    return j;
}

/* A fresh state directory for the executors (never the source tree). */
static struct respond *
new_respond(char *dir)
{
    assert_non_null(mkdtemp(dir));
    struct respond_paths paths = {dir, NULL, NULL};
    struct respond *r;
    assert_int_equal(respond_new(&r, &paths), 0);
    return r;
}

static void
rm_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void
test_capabilities_and_events(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn-respond-test-XXXXXX";
    struct respond *r = new_respond(dir);
    struct sink s = {0};
    respond_set_event_cb(r, on_event, &s);
    struct bn_buf out;
    bn_buf_init(&out, BN_RESPOND_RESULT_MAX);

    assert_int_equal(agent_respond_ex(r, 77, "manager", "capabilities", "{}", 2, &out), 0);
    json_t *j = result(&out);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_t *types = json_object_get(j, "types");
    assert_true(json_is_array(types));
    bool found = false;
    for (size_t i = 0; i < json_array_size(types); i++)
        if (strcmp(json_string_value(json_array_get(types, i)), "capabilities") == 0)
            found = true;
    assert_true(found);
    json_decref(j);

    assert_int_equal(s.n, 2);
    assert_int_equal(json_integer_value(json_object_get(s.ev[0], "EventID")), 150);
    assert_int_equal(json_integer_value(json_object_get(s.ev[0], "ActionId")), 77);
    assert_string_equal(json_string_value(json_object_get(s.ev[0], "Source")), "manager");
    assert_string_equal(json_string_value(json_object_get(s.ev[0], "Action")), "capabilities");
    assert_true(json_is_object(json_object_get(s.ev[0], "Params")));
    assert_int_equal(json_integer_value(json_object_get(s.ev[1], "EventID")), 151);
    assert_string_equal(json_string_value(json_object_get(s.ev[1], "Status")), "ok");
    assert_true(json_is_true(json_object_get(json_object_get(s.ev[1], "Result"), "ok")));
    sink_clear(&s);

    struct respond_stats st;
    respond_get_stats(r, &st);
    assert_int_equal(st.requested, 1);
    assert_int_equal(st.ran, 1);
    bn_buf_release(&out);
    respond_free(r);
    rm_dir(dir);
}

static void
expect_refusal(struct respond *r, struct sink *s, const char *type, const char *params,
               size_t len, const char *why)
{
    struct bn_buf out;
    bn_buf_init(&out, BN_RESPOND_RESULT_MAX);
    assert_int_equal(agent_respond(r, type, params, len, &out), BN_EINVAL);
    json_t *j = result(&out);
    assert_true(json_is_false(json_object_get(j, "ok")));
    const char *err = json_string_value(json_object_get(j, "error"));
    assert_non_null(err);
    if (!strstr(err, why))
        fail_msg("error '%s' does not say '%s'", err, why);
    json_decref(j);
    /* refused requests are still logged: a request and a result event */
    assert_int_equal(s->n, 2);
    assert_string_equal(json_string_value(json_object_get(s->ev[1], "Status")), "refused");
    assert_int_equal(json_integer_value(json_object_get(s->ev[1], "EventID")), 151);
    sink_clear(s);
    bn_buf_release(&out);
}

static void
test_refusals(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn-respond-test-XXXXXX";
    struct respond *r = new_respond(dir);
    struct sink s = {0};
    respond_set_event_cb(r, on_event, &s);
    expect_refusal(r, &s, "no_such_action", "{}", 2, "unknown action type 'no_such_action'");
    expect_refusal(r, &s, "Kill;rm", "{}", 2, "is not a name");
    expect_refusal(r, &s, "", "{}", 2, "is not a name");
    expect_refusal(r, &s, "capabilities", "[1,2]", 5, "must be a JSON object");
    expect_refusal(r, &s, "capabilities", "{\"a\":", 5, "not JSON");
    expect_refusal(r, &s, "capabilities", "{\"a\":1,\"a\":2}", 13, "not JSON");
    size_t big = BN_RESPOND_PARAMS_MAX + 1;
    char *p = bn_malloc(big);
    memset(p, ' ', big);
    p[0] = '{';
    p[big - 1] = '}';
    expect_refusal(r, &s, "capabilities", p, big, "limit");
    bn_free(p);
    /* the request event of an invalid type does not echo it */
    struct respond_stats st;
    respond_get_stats(r, &st);
    assert_int_equal(st.requested, 7);
    assert_int_equal(st.refused, 7);
    assert_int_equal(st.ran, 0);
    respond_free(r);
    rm_dir(dir);
}

static void
test_result_buffer_full(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn-respond-test-XXXXXX";
    struct respond *r = new_respond(dir);
    struct bn_buf out;
    bn_buf_init(&out, 8); /* too small for any result */
    int rc = agent_respond(r, "capabilities", "{}", 2, &out);
    assert_int_not_equal(rc, 0);
    assert_int_equal(out.len, 0);
    bn_buf_release(&out);
    respond_free(r);
    rm_dir(dir);
}

/* kill_tree through the dispatch table: a child of this test and its own child die. */
static void
test_kill_tree_dispatch(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn-respond-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct respond_paths paths = {dir, NULL, NULL};
    struct respond *r;
    assert_int_equal(respond_new(&r, &paths), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        execl("/bin/sh", "sh", "-c", "sleep 30 & wait", (char *)NULL);
        _exit(127);
    }
    usleep(200000);
    char params[64];
    snprintf(params, sizeof(params), "{\"pid\":%d}", (int)child);
    struct bn_buf out;
    bn_buf_init(&out, BN_RESPOND_RESULT_MAX);
    assert_int_equal(agent_respond(r, "kill_tree", params, strlen(params), &out), 0);
    json_t *j = result(&out);
    if (!json_is_true(json_object_get(j, "ok")))
        fail_msg("kill_tree failed: %s", out.p);
    assert_true(json_array_size(json_object_get(j, "pids")) >= 2); /* sh and its sleep */
    json_decref(j);
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFSIGNALED(st));
    bn_buf_release(&out);
    respond_free(r);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capabilities_and_events),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_result_buffer_full),
        cmocka_unit_test(test_kill_tree_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
