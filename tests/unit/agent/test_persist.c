/*
 * test_persist.c - persistence and tamper path classification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/persist.h"

/* Defined here so the test does not pull the agent's loop out of the library. */
int
agent_emit(struct agent *a, const struct agent_event *ev)
{
    (void)a;
    (void)ev;
    return 0;
}

struct pcase {
    const char *path;
    const char *category; /* NULL: not sensitive */
};

static const struct pcase cases[] = {
    {"/etc/crontab", "persistence.cron"},
    {"/etc/cron.d/backdoor", "persistence.cron"},
    {"/etc/cron.d", NULL},
    {"/etc/cron.daily/logrotate", "persistence.cron"},
    {"/var/spool/cron/crontabs/root", "persistence.cron"},
    {"/etc/systemd/system/evil.service", "persistence.systemd"},
    {"/etc/systemd/system/timers.target.wants/evil.timer", "persistence.systemd"},
    {"/usr/lib/systemd/system/ssh.service", "persistence.systemd"},
    {"/home/alice/.config/systemd/user/x.service", "persistence.systemd"},
    {"/root/.bashrc", "persistence.shell_profile"},
    {"/home/bob/.profile", "persistence.shell_profile"},
    {"/home/bob/.bashrc.bak", NULL},
    {"/home/.bashrc", NULL},
    {"/etc/profile.d/x.sh", "persistence.shell_profile"},
    {"/root/.ssh/authorized_keys", "persistence.authorized_keys"},
    {"/home/carol/.ssh/authorized_keys2", "persistence.authorized_keys"},
    {"/srv/git/.ssh/authorized_keys", "persistence.authorized_keys"},
    {"/etc/passwd", "persistence.account"},
    {"/etc/shadow", "persistence.account"},
    {"/etc/group", "persistence.account"},
    {"/etc/passwd-", NULL},
    {"/etc/sudoers", "persistence.sudoers"},
    {"/etc/sudoers.d/90-evil", "persistence.sudoers"},
    {"/etc/ld.so.preload", "persistence.ld_preload"},
    {"/etc/pam.d/sshd", "persistence.pam"},
    {"/lib/x86_64-linux-gnu/security/pam_evil.so", "persistence.pam"},
    {"/lib/modules/6.1.0/extra/rootkit.ko", "persistence.kernel_module"},
    {"/etc/modules-load.d/x.conf", "persistence.kernel_module"},
    {"/etc/bannin/agent.yaml", "tamper.agent"},
    {"/etc/systemd/system/bannin-agent.service", "tamper.agent"},
    /* lexical normalisation */
    {"/etc//cron.d/./x", "persistence.cron"},
    {"/tmp/../etc/shadow", "persistence.account"},
    {"/../../etc/passwd", "persistence.account"},
    {"/etc/cron.d/x/", "persistence.cron"},
    /* not sensitive */
    {"/tmp/x", NULL},
    {"/etc/hosts", NULL},
    {"/etc/passwdx", NULL},
    {"/etc/cron.dx/y", NULL},
    {"relative/etc/passwd", NULL},
    {"etc/shadow", NULL},
    {"", NULL},
    {"/", NULL},
};

static void
test_classify_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = agent_persist_classify(cases[i].path);
        if (cases[i].category == NULL) {
            if (got != NULL)
                fail_msg("'%s' classified as %s, expected none", cases[i].path, got);
        } else {
            if (got == NULL || strcmp(got, cases[i].category) != 0)
                fail_msg("'%s' classified as %s, expected %s", cases[i].path,
                         got ? got : "(none)", cases[i].category);
        }
    }
    assert_null(agent_persist_classify(NULL));
}

static void
test_tag_event(void **state)
{
    (void)state;
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_FILE_WRITE;
    ev.prio = AGENT_PRIO_BULK;
    ev.path = "/tmp/file";
    assert_null(agent_persist_tag(&ev));
    assert_null(ev.category);
    assert_int_equal(ev.prio, AGENT_PRIO_BULK);

    /* an editor writing a temp file then renaming it over /etc/passwd */
    ev.kind = AGENT_EV_FILE_RENAME;
    ev.path = "/etc/passwd+";
    ev.path2 = "/etc/passwd";
    assert_string_equal(agent_persist_tag(&ev), "persistence.account");
    assert_string_equal(ev.category, "persistence.account");
    assert_int_equal(ev.prio, AGENT_PRIO_HIGH);

    ev.prio = AGENT_PRIO_CRITICAL;
    ev.path = "/root/.ssh/authorized_keys";
    ev.path2 = NULL;
    assert_string_equal(agent_persist_tag(&ev), "persistence.authorized_keys");
    assert_int_equal(ev.prio, AGENT_PRIO_CRITICAL); /* never lowered */
    assert_null(agent_persist_tag(NULL));
}

static void
test_hostile_paths(void **state)
{
    (void)state;
    /* longer than AGENT_PATH_MAX: not classified, no overflow */
    size_t n = AGENT_PATH_MAX * 3;
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, 'a', n);
    p[0] = '/';
    p[n] = '\0';
    assert_null(agent_persist_classify(p));
    /* a long path that normalises short */
    size_t off = 0;
    for (; off + 3 < AGENT_PATH_MAX * 2; off += 2)
        memcpy(p + off, "/.", 2);
    memcpy(p + off, "/etc/shadow", 12);
    assert_string_equal(agent_persist_classify(p), "persistence.account");
    /* many slashes */
    memset(p, '/', n);
    p[n] = '\0';
    assert_null(agent_persist_classify(p));
    /* non-UTF-8 bytes */
    assert_string_equal(agent_persist_classify("/etc/cron.d/\xff\xfe"), "persistence.cron");
    assert_null(agent_persist_classify("/etc/\xc3\x28passwd"));
    free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_tag_event),
        cmocka_unit_test(test_hostile_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
