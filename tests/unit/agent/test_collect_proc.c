/*
 * test_collect_proc.c - the netlink proc connector collector and the /proc reader:
 * exec with argv, exit codes, parent pid, processes that exit at once, long and
 * non-UTF-8 command lines, deleted executables, pid reuse (start time), and a process
 * in another mount namespace. Tests needing CAP_NET_ADMIN skip without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tiers_sink.h"
#include "bannin/error.h"

static bool
can_listen(void)
{
    struct bn_diag d;
    bn_diag_clear(&d);
    int rc = agent_collector_proc_connector.probe(NULL, &d);
    if (rc < 0)
        fprintf(stderr, "skipping: %s\n", d.msg);
    return rc == 0;
}

/* fork + execv argv; returns the child pid (not waited). */
static pid_t
spawn(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

struct want_exec {
    pid_t pid;
};

static bool
is_exec_of(const struct sink_rec *r, const void *arg)
{
    const struct want_exec *w = arg;
    return r->kind == AGENT_EV_PROCESS_CREATE && r->proc.pid == w->pid;
}

static bool
is_exit_of(const struct sink_rec *r, const void *arg)
{
    const struct want_exec *w = arg;
    return r->kind == AGENT_EV_PROCESS_TERMINATE && r->proc.pid == w->pid;
}

static void
test_probe_message(void **state)
{
    (void)state;
    struct bn_diag d;
    bn_diag_clear(&d);
    int rc = agent_collector_proc_connector.probe(NULL, &d);
    if (rc < 0)
        assert_non_null(strstr(d.msg, "netlink proc connector"));
    assert_string_equal(agent_collector_proc_connector.name, "proc_connector");
    assert_int_equal(agent_collector_proc_connector.tier, AGENT_TIER_NETLINK);
}

static void
test_exec_exit(void **state)
{
    (void)state;
    if (!can_listen())
        skip();
    struct bn_diag d;
    void *st = NULL;
    sink_reset();
    assert_int_equal(agent_collector_proc_connector.start(NULL, &st, &d), 0);

    /* a process that lives long enough to be read */
    char *argv1[] = {"/bin/sh", "-c", "sleep 0.3; exit 7", "bannin-arg", NULL};
    pid_t p1 = spawn(argv1);
    /* one that exits at once (full argv expected when we win the race, flagged if not) */
    char *argv2[] = {"/bin/true", "short", "lived", NULL};
    pid_t p2 = spawn(argv2);
    /* one killed by a signal */
    char *argv3[] = {"/bin/sleep", "30", NULL};
    pid_t p3 = spawn(argv3);
    usleep(100 * 1000);
    kill(p3, SIGKILL);
    int ws;
    waitpid(p1, &ws, 0);
    waitpid(p2, &ws, 0);
    waitpid(p3, &ws, 0);

    struct want_exec w1 = {p1}, w2 = {p2}, w3 = {p3};
    long i = sink_wait(is_exec_of, &w1, 3000);
    assert_true(i >= 0);
    struct sink_rec *r = &sink_recs[i];
    assert_int_equal(r->tier, AGENT_TIER_NETLINK);
    assert_int_equal(r->proc.ppid, getpid());
    assert_non_null(r->proc.cmdline);
    assert_string_equal(r->proc.cmdline, "/bin/sh -c sleep 0.3; exit 7 bannin-arg");
    assert_non_null(r->proc.exe);
    assert_non_null(strstr(r->proc.exe, "sh"));
    assert_true(r->proc.start_ns > 0);
    assert_int_equal(r->proc.uid, getuid());
    assert_int_equal(r->parent.pid, getpid());
    assert_non_null(r->proc.cwd);

    i = sink_wait(is_exit_of, &w1, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].exit_code, 7);
    assert_int_equal(sink_recs[i].proc.ppid, getpid());

    i = sink_wait(is_exec_of, &w2, 3000);
    assert_true(i >= 0);
    char buf[64];
    r = &sink_recs[i];
    if (sink_extra(r, "proc_gone", buf, sizeof(buf))) {
        assert_int_equal(r->proc.ppid, getpid()); /* from the fork event or a zombie's stat */
        if (r->proc.cmdline && r->proc.cmdline[0]) /* read before it went */
            assert_string_equal(r->proc.cmdline, "/bin/true short lived");
    } else {
        assert_non_null(r->proc.cmdline);
        assert_string_equal(r->proc.cmdline, "/bin/true short lived");
    }
    i = sink_wait(is_exit_of, &w2, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].exit_code, 0);

    i = sink_wait(is_exit_of, &w3, 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].exit_code, 128 + SIGKILL);
    assert_non_null(sink_extra(&sink_recs[i], "signal", buf, sizeof(buf)));
    assert_string_equal(buf, "9");

    char desc[1024] = "";
    agent_collector_proc_connector.describe(NULL, st, desc, sizeof(desc));
    assert_non_null(strstr(desc, "execs"));
    agent_collector_proc_connector.stop(NULL, st);
    sink_reset();
}

static void
test_long_cmdline_non_utf8(void **state)
{
    (void)state;
    if (!can_listen())
        skip();
    struct bn_diag d;
    void *st = NULL;
    sink_reset();
    assert_int_equal(agent_collector_proc_connector.start(NULL, &st, &d), 0);

    /* argv of 100 KB (over AGENT_CMDLINE_MAX) with invalid UTF-8 bytes */
    size_t n = 100 * 1024;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t k = 0; k < n; k++)
        big[k] = (k % 7 == 0) ? (char)0xff : 'x';
    big[n] = '\0';
    char *argv[] = {"/bin/sh", "-c", "sleep 0.3", big, NULL};
    pid_t p = spawn(argv);
    int ws;
    waitpid(p, &ws, 0);
    struct want_exec w = {p};
    long i = sink_wait(is_exec_of, &w, 3000);
    assert_true(i >= 0);
    struct sink_rec *r = &sink_recs[i];
    assert_true(r->proc.cmdline_truncated);
    assert_int_equal(strlen(r->proc.cmdline), AGENT_CMDLINE_MAX);
    assert_memory_equal(r->proc.cmdline, "/bin/sh -c sleep 0.3 \xffxxxxxx\xff", 28);
    char buf[16];
    assert_non_null(sink_extra(r, "cmdline_truncated", buf, sizeof(buf)));
    free(big);
    agent_collector_proc_connector.stop(NULL, st);
    sink_reset();
}

static void
test_reader_self_and_gone(void **state)
{
    (void)state;
    struct agent_proc p;
    struct agent_tier_proc_stats st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(agent_tier_proc_read(NULL, getpid(), &p, &st), 0);
    assert_int_equal(p.pid, getpid());
    assert_int_equal(p.ppid, getppid());
    assert_non_null(p.exe);
    assert_non_null(strstr(p.exe, "test_collect_proc"));
    assert_non_null(p.cmdline);
    assert_true(p.start_ns > 0);
    assert_true(p.comm[0] != '\0');
    uint64_t start = p.start_ns;
    agent_tier_proc_release(&p);
    /* stable: the same start time on a second read */
    assert_int_equal(agent_tier_proc_read(NULL, getpid(), &p, &st), 0);
    assert_true(p.start_ns == start);
    agent_tier_proc_release(&p);

    /* a reaped child is gone */
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    int ws;
    waitpid(c, &ws, 0);
    assert_int_equal(agent_tier_proc_read(NULL, c, &p, &st), -ENOENT);
    assert_true(st.gone >= 1);
    assert_int_equal(agent_tier_proc_read(NULL, 0, &p, &st), BN_EINVAL);
}

/* A fake /proc: hostile stat (comm with ") (" and spaces), pid reuse via start time. */
static void
test_reader_fake_proc(void **state)
{
    (void)state;
    char root[] = "/tmp/bn_fakeproc_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[512];
    snprintf(path, sizeof(path), "%s/4242", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/4242/stat", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("4242 (a) (b c) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 1\n", f);
    fclose(f);
    struct agent_proc p;
    assert_int_equal(agent_tier_proc_read(root, 4242, &p, NULL), 0);
    assert_string_equal(p.comm, "a) (b c");
    assert_int_equal(p.ppid, 17);
    uint64_t first = p.start_ns;
    assert_true(first > 0);
    agent_tier_proc_release(&p);
    /* the pid is reused: another start time tells the processes apart */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("4242 (x) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 99999 1 1\n", f);
    fclose(f);
    assert_int_equal(agent_tier_proc_read(root, 4242, &p, NULL), 0);
    assert_true(p.start_ns != first);
    agent_tier_proc_release(&p);
    /* a truncated stat is rejected, not misread */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("4242 (x) S 1 4242", f);
    fclose(f);
    assert_int_equal(agent_tier_proc_read(root, 4242, &p, NULL), -ESRCH);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(agent_tier_proc_read(root, 4242, &p, NULL), -ESRCH);
    unlink(path);
    snprintf(path, sizeof(path), "%s/4242", root);
    rmdir(path);
    rmdir(root);
}

static void
test_deleted_exe(void **state)
{
    (void)state;
    char tmp[] = "/tmp/bn_delexe_XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    int in = open("/bin/sleep", O_RDONLY);
    assert_true(in >= 0);
    char b[65536];
    ssize_t r;
    while ((r = read(in, b, sizeof(b))) > 0)
        assert_int_equal(write(fd, b, (size_t)r), r);
    close(in);
    fchmod(fd, 0755);
    close(fd);
    pid_t c = fork();
    if (c == 0) {
        execl(tmp, tmp, "5", (char *)NULL);
        _exit(127);
    }
    usleep(200 * 1000);
    unlink(tmp);
    struct agent_proc p;
    assert_int_equal(agent_tier_proc_read(NULL, c, &p, NULL), 0);
    assert_true(p.exe_deleted);
    assert_string_equal(p.exe, tmp);
    agent_tier_proc_release(&p);
    kill(c, SIGKILL);
    int ws;
    waitpid(c, &ws, 0);
}

/* A process in its own mount namespace is flagged mnt_ns. */
static void
test_other_mount_ns(void **state)
{
    (void)state;
    if (geteuid() != 0 || !can_listen())
        skip();
    struct bn_diag d;
    void *st = NULL;
    sink_reset();
    assert_int_equal(agent_collector_proc_connector.start(NULL, &st, &d), 0);
    pid_t c = fork();
    if (c == 0) {
        if (unshare(CLONE_NEWNS) < 0)
            _exit(3);
        execl("/bin/sleep", "sleep", "0.4", (char *)NULL);
        _exit(127);
    }
    int ws;
    waitpid(c, &ws, 0);
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 3) {
        agent_collector_proc_connector.stop(NULL, st);
        skip();
    }
    struct want_exec w = {c};
    long i = sink_wait(is_exec_of, &w, 3000);
    assert_true(i >= 0);
    char buf[64];
    assert_non_null(sink_extra(&sink_recs[i], "mnt_ns", buf, sizeof(buf)));
    assert_non_null(strstr(buf, "mnt:["));
    agent_collector_proc_connector.stop(NULL, st);
    sink_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_message),
        cmocka_unit_test(test_exec_exit),
        cmocka_unit_test(test_long_cmdline_non_utf8),
        cmocka_unit_test(test_reader_self_and_gone),
        cmocka_unit_test(test_reader_fake_proc),
        cmocka_unit_test(test_deleted_exe),
        cmocka_unit_test(test_other_mount_ns),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sink_done();
    return rc;
}
