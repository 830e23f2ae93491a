/*
 * test_respond_proc.c - kill, kill_tree, suspend and resume on a 3-deep tree of sleeps the
 * test starts itself (A -> B -> C): kill_tree kills all three, suspend puts all in state T
 * and resume brings them back, through signals and through the cgroup v2 freezer when the
 * tree is one cgroup; a wrong start time and bad params are refused. An alarm kills the
 * test if anything hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/respond_proc.h"
#include "bannin/buf.h"
#include "bannin/error.h"

struct tree3 {
    pid_t a, b, c;
};

static char cg_dir[128];

static void
nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The first child pid listed in /proc/<pid>/task/<pid>/children, or 0. */
static pid_t
first_child(pid_t pid)
{
    char p[96];
    snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return 0;
    long v = 0;
    if (fscanf(f, "%ld", &v) != 1)
        v = 0;
    fclose(f);
    return (pid_t)v;
}

static char
state_of(pid_t pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *q = strrchr(buf, ')');
    return q && q[1] ? q[2] : 0;
}

/* A forks B forks C; each then execs sleep. cg: join this cgroup first (or NULL). */
static struct tree3
start_tree(const char *cg)
{
    struct tree3 t = {0};
    t.a = fork();
    assert_true(t.a >= 0);
    if (t.a == 0) {
        if (cg) {
            char p[256];
            snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
            int fd = open(p, O_WRONLY);
            if (fd < 0 || write(fd, "0", 1) != 1)
                _exit(3);
            close(fd);
        }
        pid_t b = fork();
        if (b == 0) {
            pid_t c = fork();
            if (c == 0) {
                execlp("sleep", "sleep", "60", (char *)NULL);
                _exit(2);
            }
            execlp("sleep", "sleep", "60", (char *)NULL);
            _exit(2);
        }
        execlp("sleep", "sleep", "60", (char *)NULL);
        _exit(2);
    }
    for (int i = 0; i < 2000 && !(t.b && t.c); i++) {
        if (!t.b)
            t.b = first_child(t.a);
        if (t.b && !t.c)
            t.c = first_child(t.b);
        if (!(t.b && t.c))
            nap_ms(1);
    }
    assert_true(t.b > 0);
    assert_true(t.c > 0);
    /* wait until all three run sleep (exec done), so states are stable */
    for (int i = 0; i < 2000; i++) {
        char s1 = state_of(t.a), s2 = state_of(t.b), s3 = state_of(t.c);
        if (s1 == 'S' && s2 == 'S' && s3 == 'S')
            break;
        nap_ms(1);
    }
    return t;
}

/* Sleeping or running (a thawed task may briefly show R). */
static bool
running(pid_t pid)
{
    char s = state_of(pid);
    return s == 'S' || s == 'R';
}

static bool
gone(pid_t pid)
{
    char s = state_of(pid);
    return s == 0 || s == 'Z' || s == 'X';
}

static void
reap(pid_t a)
{
    for (int i = 0; i < 2000; i++) {
        if (waitpid(a, NULL, WNOHANG) == a)
            return;
        nap_ms(1);
    }
}

static int
act(int (*fn)(struct resp_proc *, const char *, size_t, struct bn_buf *), struct resp_proc *m,
    const char *params, struct bn_buf *out)
{
    bn_buf_reset(out);
    int rc = fn(m, params, strlen(params), out);
    fprintf(stderr, "  %s -> %d %s\n", params, rc, out->p ? out->p : "");
    return rc;
}

static bool
has_pid(const struct bn_buf *out, pid_t pid)
{
    char needle[32];
    const char *pids = strstr(out->p, "\"pids\":[");
    if (!pids)
        return false;
    const char *end = strchr(pids, ']');
    for (const char *p = pids + 8; p && p < end; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        snprintf(needle, sizeof(needle), "%d", (int)pid);
        if (strncmp(p, needle, strlen(needle)) == 0 &&
            (p[strlen(needle)] == ',' || p[strlen(needle)] == ']'))
            return true;
    }
    return false;
}

static void
test_kill_tree(void **state)
{
    (void)state;
    struct resp_proc *m;
    assert_int_equal(resp_proc_new(&m, NULL), 0);
    struct bn_buf out;
    bn_buf_init(&out, 1 << 16);
    struct tree3 t = start_tree(NULL);
    char params[96];
    snprintf(params, sizeof(params), "{\"pid\":%d}", (int)t.a);
    assert_int_equal(act(resp_kill_tree, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    assert_true(has_pid(&out, t.a) && has_pid(&out, t.b) && has_pid(&out, t.c));
    assert_non_null(strstr(out.p, "\"survivors\":[]"));
    assert_true(gone(t.a));
    reap(t.a);
    for (int i = 0; i < 1000 && !(gone(t.b) && gone(t.c)); i++)
        nap_ms(1);
    assert_true(gone(t.b));
    assert_true(gone(t.c));
    struct resp_proc_stats st;
    resp_proc_stats(m, &st);
    assert_true(st.killed >= 3);
    bn_buf_release(&out);
    resp_proc_free(m);
}

static void
check_suspend_resume(const char *cg, const char *method_suspend, const char *method_resume)
{
    struct resp_proc *m;
    assert_int_equal(resp_proc_new(&m, NULL), 0);
    struct bn_buf out;
    bn_buf_init(&out, 1 << 16);
    struct tree3 t = start_tree(cg);
    char params[96];
    snprintf(params, sizeof(params), "{\"pid\":%d}", (int)t.a);
    assert_int_equal(act(resp_suspend, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    assert_non_null(strstr(out.p, method_suspend));
    assert_true(has_pid(&out, t.a) && has_pid(&out, t.b) && has_pid(&out, t.c));
    /* the cgroup freezer leaves tasks in S (frozen in the kernel), signals leave them in T */
    if (!cg) {
        assert_int_equal(state_of(t.a), 'T');
        assert_int_equal(state_of(t.b), 'T');
        assert_int_equal(state_of(t.c), 'T');
    } else {
        char p[256], line[64];
        snprintf(p, sizeof(p), "%s/cgroup.events", cg);
        FILE *f = fopen(p, "re");
        assert_non_null(f);
        bool frozen = false;
        while (fgets(line, sizeof(line), f))
            frozen |= strcmp(line, "frozen 1\n") == 0;
        fclose(f);
        assert_true(frozen);
    }
    assert_int_equal(act(resp_resume, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    assert_non_null(strstr(out.p, method_resume));
    assert_true(running(t.a));
    assert_true(running(t.b));
    assert_true(running(t.c));
    assert_int_equal(act(resp_kill_tree, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    reap(t.a);
    bn_buf_release(&out);
    resp_proc_free(m);
}

static void
test_suspend_resume_signals(void **state)
{
    (void)state;
    check_suspend_resume(NULL, "\"method\":\"sigstop\"", "\"method\":\"sigcont\"");
}

static void
test_suspend_resume_cgroup(void **state)
{
    (void)state;
    const char *root = NULL;
    static const char *const cand[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    for (size_t i = 0; i < 2 && !root; i++) {
        struct statfs sf;
        if (statfs(cand[i], &sf) == 0 && sf.f_type == 0x63677270)
            root = cand[i];
    }
    if (!root) {
        fprintf(stderr, "  no cgroup v2 hierarchy: freezer case skipped\n");
        skip();
    }
    snprintf(cg_dir, sizeof(cg_dir), "%s/bn-block-test-%d", root, (int)getpid());
    if (mkdir(cg_dir, 0755) < 0) {
        fprintf(stderr, "  cgroup v2 not writable here (%s): freezer case skipped\n",
                strerror(errno));
        cg_dir[0] = '\0';
        skip();
    }
    check_suspend_resume(cg_dir, "\"method\":\"cgroup\"", "\"method\":\"cgroup\"");
}

static void
test_kill_guards(void **state)
{
    (void)state;
    struct resp_proc *m;
    assert_int_equal(resp_proc_new(&m, NULL), 0);
    struct bn_buf out;
    bn_buf_init(&out, 1 << 16);
    pid_t p = fork();
    if (p == 0) {
        execlp("sleep", "sleep", "60", (char *)NULL);
        _exit(2);
    }
    char params[128];
    /* a start time far from the real one: refused, the process lives */
    snprintf(params, sizeof(params), "{\"pid\":%d,\"start_ns\":1000}", (int)p);
    assert_int_equal(act(resp_kill, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":false"));
    assert_non_null(strstr(out.p, "reused"));
    assert_false(gone(p));
    /* bad params */
    assert_int_equal(act(resp_kill, m, "{\"pid\":\"x\"}", &out), BN_EINVAL);
    assert_non_null(strstr(out.p, "'pid' must be"));
    assert_int_equal(act(resp_kill, m, "{\"pid\":5,\"sig\":9}", &out), BN_EINVAL);
    assert_non_null(strstr(out.p, "unknown parameter 'sig'"));
    assert_int_equal(act(resp_kill, m, "[1", &out), BN_EINVAL);
    assert_int_equal(act(resp_kill, m, "{}", &out), BN_EINVAL);
    /* protected targets */
    assert_int_equal(act(resp_kill, m, "{\"pid\":1}", &out), 0);
    assert_non_null(strstr(out.p, "protected"));
    snprintf(params, sizeof(params), "{\"pid\":%d}", (int)getppid());
    assert_int_equal(act(resp_kill_tree, m, params, &out), 0);
    assert_non_null(strstr(out.p, "protected"));
    /* the right start time (0 = unknown) kills */
    snprintf(params, sizeof(params), "{\"pid\":%d}", (int)p);
    assert_int_equal(act(resp_kill, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    int ws = 0;
    assert_int_equal(waitpid(p, &ws, 0), p);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    /* a pid that no longer exists */
    assert_int_equal(act(resp_kill, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":false"));
    bn_buf_release(&out);
    resp_proc_free(m);
}

/* Whatever happened, kill what is left in the test cgroup and remove it. */
static int
cgroup_teardown(void **state)
{
    (void)state;
    if (!cg_dir[0])
        return 0;
    char p[192];
    snprintf(p, sizeof(p), "%s/cgroup.kill", cg_dir);
    int fd = open(p, O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "1", 1) != 1)
            fprintf(stderr, "cannot kill the test cgroup\n");
        close(fd);
    }
    for (int i = 0; i < 1000 && rmdir(cg_dir) < 0 && errno == EBUSY; i++)
        nap_ms(2);
    cg_dir[0] = '\0';
    return 0;
}

static void
on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_respond_proc: watchdog: hung for 30 s\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    if (cg_dir[0])
        rmdir(cg_dir);
    _exit(1);
}

int
main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skipping: needs root (signals, cgroup)\n");
        return 77;
    }
    signal(SIGALRM, on_alarm);
    alarm(30);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_tree),
        cmocka_unit_test(test_suspend_resume_signals),
        cmocka_unit_test_teardown(test_suspend_resume_cgroup, cgroup_teardown),
        cmocka_unit_test(test_kill_guards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
