/*
 * test_collect_bpf_relative.c - tier 1 (eBPF) collector, as root: file operations on relative
 * paths (against the working directory and against a directory fd) by a process that exits
 * at once, before user space reads the record, are reported with their absolute paths, from
 * the base directory the kernel walked at the syscall (a readlink of /proc/<pid>/cwd or
 * fd/<n> would find the process gone: an assembler's "-o obj/x.o", rm -rf's unlinkat). A
 * relative path outside every files.include prefix is still not reported, unless files.all
 * is set (the user-space filter honours it as the kernel's does). Without root or a
 * loadable skeleton the test is skipped with the reason.
 *
 * agent_emit is defined here (events go into an in-memory list), which keeps the agent's
 * loop out of this executable.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"
#include "bannin/error.h"

/* ---- the sink ---- */

struct rec {
    enum agent_kind kind;
    pid_t pid;
    char *path;
};

#define RECS_MAX 100000
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *recs;
static size_t nrecs;

int
agent_emit(struct agent *a, const struct agent_event *ev)
{
    (void)a;
    pthread_mutex_lock(&lock);
    if (!recs || nrecs >= RECS_MAX) {
        pthread_mutex_unlock(&lock);
        return BN_ETOOBIG;
    }
    recs[nrecs].kind = ev->kind;
    recs[nrecs].pid = ev->proc.pid;
    recs[nrecs].path = ev->path ? strdup(ev->path) : NULL;
    nrecs++;
    pthread_mutex_unlock(&lock);
    return 0;
}

static void
sink_reset(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nrecs; i++)
        free(recs[i].path);
    nrecs = 0;
    if (!recs)
        recs = calloc(RECS_MAX, sizeof(*recs));
    pthread_mutex_unlock(&lock);
}

/* Whether a record of kind by pid names path; waits up to wait_ms for it. */
static bool
seen(enum agent_kind kind, pid_t pid, const char *path, int wait_ms)
{
    for (int t = 0;; t += 10) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < nrecs; i++) {
            if (recs[i].kind == kind && recs[i].pid == pid && recs[i].path &&
                strcmp(recs[i].path, path) == 0) {
                pthread_mutex_unlock(&lock);
                return true;
            }
        }
        pthread_mutex_unlock(&lock);
        if (t >= wait_ms)
            return false;
        usleep(10000);
    }
}

static void *bpf_state;
static char tmpdir[64];

static int
setup(void **st)
{
    struct bn_diag d;
    int rc;

    (void)st;
    sink_reset();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bn-bpf-rel.XXXXXX");
    if (!mkdtemp(tmpdir))
        tmpdir[0] = '\0';
    if (geteuid() != 0) {
        fprintf(stderr, "test_collect_bpf_relative: not root: skipped\n");
        return 0;
    }
    bn_diag_clear(&d);
    rc = agent_collector_bpf.probe(NULL, &d);
    if (rc == 0)
        rc = agent_bpf_start_conf(NULL, &agent_bpf_default_conf, &bpf_state, &d);
    if (rc != 0) {
        fprintf(stderr, "test_collect_bpf_relative: eBPF collector unavailable (%s): skipped\n",
                d.msg);
        bpf_state = NULL;
    }
    return 0;
}

static int
teardown(void **st)
{
    char p[128];

    (void)st;
    if (bpf_state)
        agent_collector_bpf.stop(NULL, bpf_state);
    bpf_state = NULL;
    if (tmpdir[0]) {
        snprintf(p, sizeof(p), "%s/sub/x.o", tmpdir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/sub", tmpdir);
        rmdir(p);
        snprintf(p, sizeof(p), "%s/cwd.o", tmpdir);
        unlink(p);
        rmdir(tmpdir);
    }
    sink_reset();
    return 0;
}

static void
test_relative_after_exit(void **st)
{
    char cwd_o[128], sub[128], sub_x[128], outside[64], abs_outside[96];
    int status;
    pid_t child;

    (void)st;
    if (!bpf_state)
        skip();
    assert_true(tmpdir[0] != '\0');
    snprintf(cwd_o, sizeof(cwd_o), "%s/cwd.o", tmpdir);
    snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
    snprintf(sub_x, sizeof(sub_x), "%s/sub/x.o", tmpdir);
    snprintf(outside, sizeof(outside), "bn-bpf-rel-%d", (int)getpid());
    snprintf(abs_outside, sizeof(abs_outside), "/run/%s", outside);
    assert_int_equal(mkdir(sub, 0755), 0);
    /* the agent's own file operations are never reported, so a child does the work, on
     * relative paths only, and exits at once */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd, dfd;

        if (chdir(tmpdir))
            _exit(1);
        fd = open("cwd.o", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "o\n", 2) != 2)
            _exit(2);
        close(fd);
        dfd = open("sub", O_RDONLY | O_DIRECTORY);
        if (dfd < 0)
            _exit(3);
        fd = openat(dfd, "x.o", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0)
            _exit(4);
        close(fd);
        if (unlinkat(dfd, "x.o", 0) || unlink("./cwd.o"))
            _exit(5);
        /* outside every prefix: relative, so only user space can tell; not reported */
        if (chdir("/run") == 0) {
            fd = open(outside, O_CREAT | O_WRONLY, 0600);
            if (fd >= 0) {
                close(fd);
                unlink(outside);
            }
        }
        _exit(0);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    /* the process is gone before its records are read (the reader polls every 15 ms) */
    assert_true(seen(AGENT_EV_FILE_CREATE, child, cwd_o, 5000));
    assert_true(seen(AGENT_EV_FILE_WRITE, child, cwd_o, 5000));
    assert_true(seen(AGENT_EV_FILE_DELETE, child, cwd_o, 5000));
    assert_true(seen(AGENT_EV_FILE_CREATE, child, sub_x, 5000));
    assert_true(seen(AGENT_EV_FILE_WRITE, child, sub_x, 5000));
    assert_true(seen(AGENT_EV_FILE_DELETE, child, sub_x, 5000));
    /* nothing of the file under /run, under either name */
    assert_false(seen(AGENT_EV_FILE_CREATE, child, abs_outside, 300));
    assert_false(seen(AGENT_EV_FILE_CREATE, child, outside, 0));
}

/* With files.all every path is wanted: a relative create under /run (outside every
 * default prefix) is reported, resolved, by the user-space filter as by the kernel's. */
static void
test_relative_files_all(void **st)
{
    struct agent_bpf_conf conf = agent_bpf_default_conf;
    struct bn_diag d;
    char name[64], abs_path[96];
    int status;
    pid_t child;

    (void)st;
    if (!bpf_state)
        skip();
    agent_collector_bpf.stop(NULL, bpf_state);
    bpf_state = NULL;
    conf.files_all = true;
    bn_diag_clear(&d);
    assert_int_equal(agent_bpf_start_conf(NULL, &conf, &bpf_state, &d), 0);
    snprintf(name, sizeof(name), "bn-bpf-all-%d", (int)getpid());
    snprintf(abs_path, sizeof(abs_path), "/run/%s", name);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd;

        if (chdir("/run"))
            _exit(1);
        fd = open(name, O_CREAT | O_WRONLY, 0600);
        if (fd < 0)
            _exit(2);
        close(fd);
        _exit(unlink(name) ? 3 : 0);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(seen(AGENT_EV_FILE_CREATE, child, abs_path, 5000));
    assert_true(seen(AGENT_EV_FILE_DELETE, child, abs_path, 5000));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relative_after_exit),
        cmocka_unit_test(test_relative_files_all),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
