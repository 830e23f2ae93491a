/*
 * test_collect_fanotify.c - fanotify file events in a temp dir: create, close-after-write,
 * rename, chmod, delete with the acting pid; include/exclude filters; persistence tags;
 * the agent's own writes ignored; non-UTF-8 names and paths longer than AGENT_PATH_MAX.
 * Notification marks only. Skips without CAP_SYS_ADMIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tiers_sink.h"
#include "bannin/error.h"

struct want {
    enum agent_kind kind;
    pid_t pid;            /* 0: any */
    const char *path;     /* NULL: any */
    const char *path2;
};

static bool
match(const struct sink_rec *r, const void *arg)
{
    const struct want *w = arg;
    if (r->kind != w->kind || (w->pid && r->proc.pid != w->pid))
        return false;
    if (w->path && (!r->path || strcmp(r->path, w->path) != 0))
        return false;
    if (w->path2 && (!r->path2 || strcmp(r->path2, w->path2) != 0))
        return false;
    return true;
}

/* An attribute change of w's file that shows the chmod: the chown before it may be reported
 * as an event of its own, read (lstat) before the chmod ran, so its mode is still 0644. */
static bool
match_chmod(const struct sink_rec *r, const void *arg)
{
    return match(r, arg) && r->mode == 0600;
}

static bool
can_run(void)
{
    struct bn_diag d;
    bn_diag_clear(&d);
    if (agent_collector_fanotify.probe(NULL, &d) < 0) {
        fprintf(stderr, "skipping: %s\n", d.msg);
        return false;
    }
    return true;
}

static char dir[64];

static void *
start(bool ignore_self)
{
    struct agent_fanotify_conf conf;
    memset(&conf, 0, sizeof(conf));
    conf.include[0] = dir;
    conf.ninclude = 1;
    static char excl[128];
    snprintf(excl, sizeof(excl), "%s/excluded", dir);
    conf.exclude[0] = excl;
    conf.nexclude = 1;
    conf.ignore_self = ignore_self;
    struct bn_diag d;
    void *st = NULL;
    int rc = agent_fanotify_start_conf(NULL, &conf, &st, &d);
    if (rc < 0)
        fail_msg("start: %s", d.msg);
    return st;
}

static void
p(char *out, size_t size, const char *rel)
{
    snprintf(out, size, "%s/%s", dir, rel);
}

static void
test_file_ops(void **state)
{
    (void)state;
    if (!can_run())
        skip();
    snprintf(dir, sizeof(dir), "/tmp/bn_fan_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char a[256], b[256], ex[256], keys[256], sshdir[256];
    p(a, sizeof(a), "a.txt");
    p(b, sizeof(b), "b.txt");
    p(ex, sizeof(ex), "excluded");
    p(sshdir, sizeof(sshdir), ".ssh");
    p(keys, sizeof(keys), ".ssh/authorized_keys");
    mkdir(ex, 0755);
    mkdir(sshdir, 0700);
    sink_reset();
    void *st = start(true);

    pid_t c = fork();
    if (c == 0) {
        int fd = open(a, O_CREAT | O_WRONLY, 0644);
        if (fd < 0 || write(fd, "hello\n", 6) != 6)
            _exit(1);
        close(fd);
        if (rename(a, b) < 0 || chown(b, 1234, 4321) < 0 || chmod(b, 0600) < 0)
            _exit(2);
        char e[300];
        snprintf(e, sizeof(e), "%s/secret", ex);
        fd = open(e, O_CREAT | O_WRONLY, 0644);
        close(fd);
        fd = open(keys, O_CREAT | O_WRONLY | O_APPEND, 0600);
        if (fd < 0 || write(fd, "ssh-ed25519 AAAA test\n", 22) != 22)
            _exit(3);
        close(fd);
        _exit(0);
    }
    int ws;
    waitpid(c, &ws, 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);

    struct want w = {AGENT_EV_FILE_CREATE, c, a, NULL};
    long i = sink_wait(match, &w, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].tier, AGENT_TIER_NETLINK);
    assert_null(sink_recs[i].category);
    w = (struct want){AGENT_EV_FILE_WRITE, c, a, NULL};
    assert_true(sink_wait(match, &w, 3000) >= 0);
    w = (struct want){AGENT_EV_FILE_RENAME, c, a, b};
    assert_true(sink_wait(match, &w, 3000) >= 0);
    w = (struct want){AGENT_EV_FILE_ATTR, c, b, NULL};
    i = sink_wait(match_chmod, &w, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].mode, 0600);
    assert_int_equal(sink_recs[i].new_uid, 1234);
    assert_int_equal(sink_recs[i].new_gid, 4321);
    w = (struct want){AGENT_EV_FILE_WRITE, c, keys, NULL};
    i = sink_wait(match, &w, 3000);
    assert_true(i >= 0);
    assert_string_equal(sink_recs[i].category, "persistence.authorized_keys");

    c = fork();
    if (c == 0)
        _exit(unlink(b) < 0);
    waitpid(c, &ws, 0);
    w = (struct want){AGENT_EV_FILE_DELETE, c, b, NULL};
    assert_true(sink_wait(match, &w, 3000) >= 0);

    /* the excluded subtree produced nothing; nothing outside dir either */
    pthread_mutex_lock(&sink_lock);
    for (size_t k = 0; k < sink_n; k++) {
        const char *pp = sink_recs[k].path ? sink_recs[k].path : sink_recs[k].path2;
        if (sink_recs[k].kind == AGENT_EV_STATUS)
            continue;
        assert_non_null(pp);
        assert_true(strncmp(pp, dir, strlen(dir)) == 0);
        assert_null(strstr(pp, "/excluded"));
    }
    pthread_mutex_unlock(&sink_lock);

    /* our own writes are ignored (ignore_self) */
    char own[256];
    p(own, sizeof(own), "own");
    int fd = open(own, O_CREAT | O_WRONLY, 0644);
    close(fd);
    w = (struct want){AGENT_EV_FILE_CREATE, 0, own, NULL};
    assert_true(sink_wait(match, &w, 300) < 0);
    unlink(own);

    char desc[1024] = "";
    agent_collector_fanotify.describe(NULL, st, desc, sizeof(desc));
    assert_non_null(strstr(desc, "filtered"));
    agent_collector_fanotify.stop(NULL, st);
    unlink(keys);
    rmdir(sshdir);
    char e[300];
    snprintf(e, sizeof(e), "%s/secret", ex);
    unlink(e);
    rmdir(ex);
    rmdir(dir);
    sink_reset();
}

static void
test_hostile_names(void **state)
{
    (void)state;
    if (!can_run())
        skip();
    snprintf(dir, sizeof(dir), "/tmp/bn_fan_XXXXXX");
    assert_non_null(mkdtemp(dir));
    sink_reset();
    void *st = start(false);

    /* non-UTF-8 name */
    char bad[256];
    p(bad, sizeof(bad), "\xff\xfe-bin");
    int fd = open(bad, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    struct want w = {AGENT_EV_FILE_CREATE, getpid(), bad, NULL};
    assert_true(sink_wait(match, &w, 3000) >= 0);
    unlink(bad);

    /* a directory path near PATH_MAX, then a long name: over AGENT_PATH_MAX in total */
    int dfd = open(dir, O_DIRECTORY);
    assert_true(dfd >= 0);
    char comp[201];
    memset(comp, 'd', 200);
    comp[200] = '\0';
    size_t depth = 0, len = strlen(dir);
    while (len + 201 < 4050) {
        assert_int_equal(mkdirat(dfd, comp, 0755), 0);
        int nfd = openat(dfd, comp, O_DIRECTORY);
        assert_true(nfd >= 0);
        close(dfd);
        dfd = nfd;
        depth++;
        len += 201;
    }
    char name[256];
    memset(name, 'n', 255);
    name[255] = '\0';
    fd = openat(dfd, name, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    usleep(300 * 1000);
    pthread_mutex_lock(&sink_lock);
    bool seen = false;
    char b[16];
    for (size_t k = 0; k < sink_n; k++) {
        if (sink_recs[k].kind == AGENT_EV_FILE_CREATE && sink_recs[k].path &&
            strlen(sink_recs[k].path) == AGENT_PATH_MAX - 1 &&
            sink_extra(&sink_recs[k], "path_truncated", b, sizeof(b)))
            seen = true;
    }
    pthread_mutex_unlock(&sink_lock);
    assert_true(seen);
    unlinkat(dfd, name, 0);
    close(dfd);
    /* rm -rf: files and directories deleted before their events are read */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'/dddd*", dir);
    assert_int_equal(system(cmd), 0);
    usleep(300 * 1000);
    char desc[1024] = "";
    agent_collector_fanotify.describe(NULL, st, desc, sizeof(desc));
    fprintf(stderr, "%s", desc);
    assert_non_null(strstr(desc, "paths truncated"));
    agent_collector_fanotify.stop(NULL, st);
    (void)depth;
    rmdir(dir);
    sink_reset();
}

/* The directory cache must not report old paths after a directory is renamed. */
static void
test_dir_rename(void **state)
{
    (void)state;
    if (!can_run())
        skip();
    snprintf(dir, sizeof(dir), "/tmp/bn_fan_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char x[256], y[256], f1[300], f2[300], f1y[300];
    p(x, sizeof(x), "x");
    p(y, sizeof(y), "y");
    snprintf(f1, sizeof(f1), "%s/one", x);
    snprintf(f1y, sizeof(f1y), "%s/one", y);
    snprintf(f2, sizeof(f2), "%s/two", y);
    assert_int_equal(mkdir(x, 0755), 0);
    sink_reset();
    void *st = start(false);
    int fd = open(f1, O_CREAT | O_WRONLY, 0644);
    close(fd);
    struct want w = {AGENT_EV_FILE_CREATE, getpid(), f1, NULL};
    assert_true(sink_wait(match, &w, 3000) >= 0); /* x is cached now */
    assert_int_equal(rename(x, y), 0);
    fd = open(f2, O_CREAT | O_WRONLY, 0644);
    close(fd);
    w = (struct want){AGENT_EV_FILE_RENAME, getpid(), x, y};
    assert_true(sink_wait(match, &w, 3000) >= 0);
    w = (struct want){AGENT_EV_FILE_CREATE, getpid(), f2, NULL};
    assert_true(sink_wait(match, &w, 3000) >= 0);
    agent_collector_fanotify.stop(NULL, st);
    unlink(f1y);
    unlink(f2);
    rmdir(y);
    rmdir(dir);
    sink_reset();
}

static void
test_bad_conf(void **state)
{
    (void)state;
    if (!can_run())
        skip();
    struct agent_fanotify_conf conf;
    memset(&conf, 0, sizeof(conf));
    conf.include[0] = "/nonexistent/bannin/path";
    conf.ninclude = 1;
    struct bn_diag d;
    bn_diag_clear(&d);
    void *st = (void *)1;
    assert_int_equal(agent_fanotify_start_conf(NULL, &conf, &st, &d), BN_ENOTFOUND);
    assert_null(st);
    assert_non_null(strstr(d.msg, "none of the included paths"));
}

/* Removes the test's directory even when an assertion failed half-way. */
static int
cleanup(void **state)
{
    (void)state;
    if (dir[0] && strncmp(dir, "/tmp/bn_fan_", 12) == 0 && access(dir, F_OK) == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
    dir[0] = '\0';
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_file_ops, cleanup),
        cmocka_unit_test_teardown(test_hostile_names, cleanup),
        cmocka_unit_test_teardown(test_dir_rename, cleanup),
        cmocka_unit_test(test_bad_conf),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sink_done();
    return rc;
}
