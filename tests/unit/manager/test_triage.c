/*
 * test_triage.c - the decisions of triage: ATT&CK tags, scores, incident severity with tactic
 * progression, suppression matching (tenant, host, rule, fields, globs, expiry). The
 * store-backed flow (dedupe, grouping, notify once) is in test_triage_flow.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/error.h"
#include "manager/triage.h"

static void
test_tags(void **state)
{
    (void)state;
    char tac[256], tech[256];
    uint32_t m = triage_tags_parse("attack.execution, attack.t1059.004,attack.Command-And-Control "
                                   "cve.2021-4034;attack.initial_access attack.g0032",
                                   tac, sizeof(tac), tech, sizeof(tech));
    assert_int_equal(m, (1u << TRIAGE_T_EXECUTION) | (1u << TRIAGE_T_COMMAND_AND_CONTROL) |
                            (1u << TRIAGE_T_INITIAL_ACCESS));
    /* kill-chain order, not tag order */
    assert_string_equal(tac, "initial_access,execution,command_and_control");
    assert_string_equal(tech, "T1059.004");
    assert_int_equal(triage_tactics_mask(tac), m);
    assert_int_equal(triage_tactic_parse("credential-access", 17), TRIAGE_T_CREDENTIAL_ACCESS);
    assert_int_equal(triage_tactic_parse("attack.impact", 13), TRIAGE_T_IMPACT);
    assert_int_equal(triage_tactic_parse("attack.t1059", 12), -1);
    assert_string_equal(triage_tactic_name(TRIAGE_T_LATERAL_MOVEMENT), "lateral_movement");
    assert_null(triage_tactic_name(99));
    /* outputs are cut, never overrun */
    char small[12];
    triage_tags_parse("attack.execution,attack.persistence", small, sizeof(small), NULL, 0);
    assert_string_equal(small, "execution");
    assert_int_equal(triage_tags_parse(NULL, tac, sizeof(tac), tech, sizeof(tech)), 0);
    assert_string_equal(tac, "");
    assert_int_equal(triage_level_parse("High"), 3);
    assert_int_equal(triage_level_parse("info"), 0);
    assert_int_equal(triage_level_parse("severe"), -1);
    assert_string_equal(triage_level_name(4), "critical");
}

static void
test_score(void **state)
{
    (void)state;
    uint32_t exec = 1u << TRIAGE_T_EXECUTION, impact = 1u << TRIAGE_T_IMPACT;
    /* the level dominates */
    assert_true(triage_score(4, 80, 0, 0) > triage_score(3, 80, 0, 0));
    assert_true(triage_score(3, 80, 0, 0) > triage_score(2, 80, 0, 0));
    assert_true(triage_score(1, 80, 0, 0) > triage_score(0, 80, 0, 0));
    /* confidence, criticality and tactic each raise it */
    assert_true(triage_score(3, 100, 0, 0) > triage_score(3, 20, 0, 0));
    assert_true(triage_score(3, 80, 3, 0) > triage_score(3, 80, 0, 0));
    assert_true(triage_score(3, 80, 0, impact) > triage_score(3, 80, 0, exec));
    /* bounds */
    assert_int_equal(triage_score(4, 100, 3, impact), 100);
    assert_true(triage_score(0, 0, 0, 0) >= 0);
    assert_int_equal(triage_score(9, 500, 9, impact), triage_score(4, 100, 3, impact));
    assert_int_equal(triage_score(3, 0, 0, 0), triage_score(3, 50, 0, 0)); /* 0 = default */
}

static void
test_severity(void **state)
{
    (void)state;
    uint32_t exec = 1u << TRIAGE_T_EXECUTION, pers = 1u << TRIAGE_T_PERSISTENCE;
    uint32_t disc = 1u << TRIAGE_T_DISCOVERY, c2 = 1u << TRIAGE_T_COMMAND_AND_CONTROL;
    assert_int_equal(triage_severity(2, exec, 0), 2);
    /* three tactics: +1 */
    assert_int_equal(triage_severity(2, exec | pers | disc, 0), 3);
    /* early to late stage: +1 */
    assert_int_equal(triage_severity(2, exec | c2, 0), 3);
    /* both */
    assert_int_equal(triage_severity(2, exec | disc | c2, 0), 4);
    /* crown jewel at medium or above: +1; not for low */
    assert_int_equal(triage_severity(2, exec, 3), 3);
    assert_int_equal(triage_severity(1, exec, 3), 1);
    /* capped */
    assert_int_equal(triage_severity(4, exec | disc | c2, 3), 4);
    assert_int_equal(triage_severity(-3, 0, 0), 0);
}

static struct triage_field
fld(const char *n, const char *v)
{
    return (struct triage_field){n, v, strlen(n), strlen(v)};
}

static void
test_suppression(void **state)
{
    (void)state;
    const int64_t now = 1000;
    struct triage_field f[] = {
        fld("Image", "/usr/bin/backup.sh"),
        fld("CommandLine", "backup.sh --full /srv"),
        fld("trigger.TargetFilename", "/etc/cron.d/backup"),
        fld("ProcessId", "4242"),
    };
    struct store_suppression s;
    memset(&s, 0, sizeof(s));
    s.tenant_id = 1;
    snprintf(s.rule_id, sizeof(s.rule_id), "r1");
    s.fields_json = "{\"Image\":\"/usr/bin/backup.sh\"}";
    assert_true(triage_suppression_matches(&s, 1, "web-1", "r1", f, 4, now));
    /* another tenant, another rule */
    assert_false(triage_suppression_matches(&s, 2, "web-1", "r1", f, 4, now));
    assert_false(triage_suppression_matches(&s, 1, "web-1", "r2", f, 4, now));
    /* host scope, case-insensitive */
    snprintf(s.host, sizeof(s.host), "WEB-1");
    assert_true(triage_suppression_matches(&s, 1, "web-1", "r1", f, 4, now));
    assert_false(triage_suppression_matches(&s, 1, "web-2", "r1", f, 4, now));
    assert_false(triage_suppression_matches(&s, 1, NULL, "r1", f, 4, now));
    /* expiry */
    s.expires_ns = now;
    assert_false(triage_suppression_matches(&s, 1, "web-1", "r1", f, 4, now));
    s.expires_ns = now + 1;
    assert_true(triage_suppression_matches(&s, 1, "web-1", "r1", f, 4, now));
    /* every field must match; trigger.<name> counts; globs; numbers */
    s.fields_json = "{\"Image\":\"/usr/bin/backup.sh\",\"TargetFilename\":\"/etc/cron.d/*\","
                    "\"ProcessId\":4242}";
    assert_true(triage_suppression_matches(&s, 1, "web-1", "r1", f, 4, now));
    s.fields_json = "{\"Image\":\"/usr/bin/backup.sh\",\"CommandLine\":\"backup.sh --full\"}";
    assert_false(triage_suppression_matches(&s, 1, "web-1", "r1", f, 4, now));
    s.fields_json = "{\"User\":\"root\"}";
    assert_false(triage_suppression_matches(&s, 1, "web-1", "r1", f, 4, now));
    /* any rule, no fields */
    s.rule_id[0] = '\0';
    s.fields_json = "{}";
    assert_true(triage_suppression_matches(&s, 1, "web-1", "r9", f, 4, now));
    s.fields_json = NULL;
    assert_true(triage_suppression_matches(&s, 1, "web-1", "r9", NULL, 0, now));
    /* broken JSON never matches (it could otherwise hide everything) */
    s.fields_json = "[\"x\"]";
    assert_false(triage_suppression_matches(&s, 1, "web-1", "r9", f, 4, now));
    s.fields_json = "{\"Image\":";
    assert_false(triage_suppression_matches(&s, 1, "web-1", "r9", f, 4, now));
    s.fields_json = "{\"Image\":[1]}";
    assert_false(triage_suppression_matches(&s, 1, "web-1", "r9", f, 4, now));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_score),
        cmocka_unit_test(test_severity),
        cmocka_unit_test(test_suppression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
