/*
 * test_proctable.c - the agent's process table against real processes: the ancestry of a
 * three-deep chain this test spawns, an exited parent kept for ancestry, pid reuse told
 * apart by start time, SHA-256 equal to sha256sum with its cache, huge and non-UTF-8
 * command lines, deleted executables, and /proc text that tries to confuse the parser.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"

#include "agent/proctable.h"

static char tmpdir[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bn_pt_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Starts argv with stdout on a pipe; returns the pid and the read end in *fd. */
static pid_t
spawn(char *const argv[], int *fd)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

static long
read_pid_line(int fd)
{
    char buf[64];
    size_t n = 0;
    while (n < sizeof(buf) - 1) {
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0 || buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

static void
reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Waits until /proc/<pid>/exe is readable (the child has exec'd) or times out. */
static void
wait_exec(pid_t pid, const char *want)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    for (int i = 0; i < 200; i++) {
        ssize_t r = readlink(path, buf, sizeof(buf) - 1);
        if (r > 0) {
            buf[r] = '\0';
            if (strstr(buf, want))
                return;
        }
        usleep(10000);
    }
}

struct each_ctx {
    size_t n;
    pid_t pids[16];
};

static void
each_cb(void *ctx, size_t i, const struct agent_proc *p)
{
    struct each_ctx *c = ctx;
    assert_int_equal(i, c->n);
    if (c->n < 16)
        c->pids[c->n] = p->pid;
    c->n++;
}

static void
test_ancestry_three_deep(void **state)
{
    (void)state;
    /* test -> outer sh -> inner sh -> sleep; the "; true" keeps each shell from exec'ing */
    char *argv[] = {"/bin/sh", "-c", "/bin/sh -c 'sleep 30 & echo $!; wait'; true", NULL};
    int fd = -1;
    pid_t outer = spawn(argv, &fd);
    assert_true(outer > 0);
    pid_t sl = (pid_t)read_pid_line(fd);
    close(fd);
    assert_true(sl > 0);
    wait_exec(sl, "sleep");

    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, NULL), 0);
    struct agent_proc chain[8];
    size_t n = 0;
    assert_int_equal(agent_proctable_ancestry(pt, sl, 0, chain, 8, &n), 0);
    assert_true(n >= 3);
    pid_t inner = chain[0].pid;
    assert_int_not_equal(inner, outer);
    assert_int_equal(chain[1].pid, outer);
    assert_int_equal(chain[2].pid, getpid());
    assert_non_null(chain[0].exe);
    assert_non_null(strstr(chain[0].cmdline, "sleep 30 & echo"));
    assert_non_null(strstr(chain[1].cmdline, "; true"));
    /* the copy-free walk sees the same chain */
    struct each_ctx ec = {0};
    assert_int_equal(agent_proctable_ancestry_each(pt, sl, 0, 8, each_cb, &ec), n);
    assert_int_equal(ec.n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ec.pids[i], chain[i].pid);
    for (size_t i = 0; i < n; i++)
        agent_proc_release(&chain[i]);

    struct agent_proc self;
    assert_int_equal(agent_proctable_get(pt, sl, 0, &self), 0);
    assert_non_null(strstr(self.exe, "sleep"));
    assert_string_equal(self.cmdline, "sleep 30");
    assert_int_equal(self.ppid, inner);
    assert_true(self.start_ns > 0);
    assert_int_equal(self.uid, getuid());
    agent_proc_release(&self);

    /* the inner shell dies; the table keeps it for the sleep's ancestry */
    kill(inner, SIGKILL);
    for (int i = 0; i < 200 && kill(inner, 0) == 0; i++) {
        char p[64];
        struct stat sb;
        snprintf(p, sizeof(p), "/proc/%d/exe", (int)inner);
        if (stat(p, &sb) != 0) /* a zombie has no exe */
            break;
        usleep(10000);
    }
    agent_proctable_exit(pt, inner, 0, 1);
    assert_int_equal(agent_proctable_ancestry(pt, sl, 0, chain, 8, &n), 0);
    assert_true(n >= 3);
    assert_int_equal(chain[0].pid, inner);
    assert_non_null(strstr(chain[0].cmdline, "sleep 30 & echo"));
    assert_int_equal(chain[1].pid, outer);
    for (size_t i = 0; i < n; i++)
        agent_proc_release(&chain[i]);
    struct agent_proctable_stats st;
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.exited, 1);

    /* an exited ancestor of a live process is kept however long that one runs */
    agent_proctable_expire(pt, 1 + 61ll * 1000000000ll);
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.expired, 0);
    /* once the descendant has gone too, both expire */
    agent_proctable_exit(pt, sl, 0, 62ll * 1000000000ll);
    agent_proctable_expire(pt, 68ll * 1000000000ll);
    agent_proctable_expire(pt, 74ll * 1000000000ll);
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.exited, 0);
    assert_true(st.expired >= 2);

    kill(sl, SIGKILL);
    reap(outer);
    agent_proctable_free(pt);
}

static void
test_pid_reuse(void **state)
{
    (void)state;
    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, NULL), 0);
    const pid_t pid = 4000000; /* beyond pid_max: never a live process */
    struct agent_proc p = {.pid = pid, .ppid = 1, .start_ns = 5000000000ull};
    p.exe = "/usr/bin/old";
    p.cmdline = "old --arg";
    assert_int_equal(agent_proctable_update(pt, &p), 0);
    /* a child of the first generation */
    struct agent_proc c = {.pid = pid + 1, .ppid = pid, .start_ns = 5100000000ull};
    c.exe = "/usr/bin/child";
    assert_int_equal(agent_proctable_update(pt, &c), 0);

    /* same pid, another start time: a new process; the old one is kept as exited */
    p.start_ns = 9000000000ull;
    p.exe = "/usr/bin/new";
    p.cmdline = "new";
    assert_int_equal(agent_proctable_update(pt, &p), 0);

    struct agent_proc out;
    assert_int_equal(agent_proctable_get(pt, pid, 5000000000ull, &out), 0);
    assert_string_equal(out.exe, "/usr/bin/old");
    agent_proc_release(&out);
    assert_int_equal(agent_proctable_get(pt, pid, 0, &out), 0);
    assert_string_equal(out.exe, "/usr/bin/new");
    agent_proc_release(&out);
    assert_int_equal(agent_proctable_get(pt, pid, 9000000000ull, &out), 0);
    assert_string_equal(out.cmdline, "new");
    agent_proc_release(&out);

    /* the child's parent is the first generation, not the process that reused the pid */
    struct agent_proc chain[4];
    size_t n;
    assert_int_equal(agent_proctable_ancestry(pt, pid + 1, 0, chain, 4, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(chain[0].exe, "/usr/bin/old");
    for (size_t i = 0; i < n; i++)
        agent_proc_release(&chain[i]);

    /* an update with the same start merges: empty fields keep their value */
    struct agent_proc u = {.pid = pid, .start_ns = 9000000000ull, .uid = 7};
    assert_int_equal(agent_proctable_update(pt, &u), 0);
    assert_int_equal(agent_proctable_get(pt, pid, 0, &out), 0);
    assert_string_equal(out.exe, "/usr/bin/new");
    assert_int_equal(out.uid, 7);
    agent_proc_release(&out);

    struct agent_proctable_stats st;
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.reused, 1);
    assert_int_equal(st.entries, 3);
    assert_int_equal(agent_proctable_get(pt, 4100000, 0, &out), BN_ENOTFOUND);
    agent_proctable_free(pt);
}

/* A parent that exited before its child was seen is still the child's parent. */
static void
test_parent_exited_first(void **state)
{
    (void)state;
    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, NULL), 0);
    struct agent_proc p = {.pid = 4000100, .ppid = 1, .start_ns = 7000000000ull};
    p.exe = "/usr/bin/dash";
    assert_int_equal(agent_proctable_update(pt, &p), 0);
    agent_proctable_exit(pt, p.pid, p.start_ns, 10);
    struct agent_proc c = {.pid = 4000101, .ppid = 4000100, .start_ns = 7100000000ull};
    c.exe = "/usr/bin/curl";
    assert_int_equal(agent_proctable_update(pt, &c), 0);
    struct agent_proc chain[2];
    size_t n;
    assert_int_equal(agent_proctable_ancestry(pt, c.pid, c.start_ns, chain, 2, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(chain[0].exe, "/usr/bin/dash");
    for (size_t i = 0; i < n; i++)
        agent_proc_release(&chain[i]);
    /* without a start time only a live process is returned: the exited one is not */
    struct agent_proc out;
    assert_int_equal(agent_proctable_get(pt, p.pid, 0, &out), BN_ENOTFOUND);
    assert_int_equal(agent_proctable_get(pt, p.pid, p.start_ns, &out), 0);
    agent_proc_release(&out);
    agent_proctable_free(pt);
}

/* An exited leaf leaves after exited_keep; an exited ancestor stays while a descendant does. */
static void
test_exited_ancestor_kept(void **state)
{
    (void)state;
    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, NULL), 0); /* exited_keep: 5 s */
    struct agent_proc par = {.pid = 4000200, .ppid = 1, .start_ns = 8000000000ull};
    par.exe = "/usr/bin/bash";
    struct agent_proc kid = {.pid = 4000201, .ppid = 4000200, .start_ns = 8100000000ull};
    kid.exe = "/usr/bin/sleep";
    struct agent_proc leaf = {.pid = 4000202, .ppid = 1, .start_ns = 8200000000ull};
    leaf.exe = "/usr/bin/true";
    assert_int_equal(agent_proctable_update(pt, &par), 0);
    assert_int_equal(agent_proctable_update(pt, &kid), 0);
    assert_int_equal(agent_proctable_update(pt, &leaf), 0);
    const int64_t s = 1000000000ll;
    agent_proctable_exit(pt, par.pid, par.start_ns, 10 * s);
    agent_proctable_exit(pt, leaf.pid, leaf.start_ns, 10 * s);
    agent_proctable_expire(pt, 16 * s);
    struct agent_proc out;
    assert_int_equal(agent_proctable_get(pt, leaf.pid, leaf.start_ns, &out), BN_ENOTFOUND);
    assert_int_equal(agent_proctable_get(pt, par.pid, par.start_ns, &out), 0);
    agent_proc_release(&out);
    agent_proctable_expire(pt, 3600 * s); /* an hour later the child still runs */
    struct agent_proc chain[2];
    size_t n;
    assert_int_equal(agent_proctable_ancestry(pt, kid.pid, kid.start_ns, chain, 2, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(chain[0].exe, "/usr/bin/bash");
    for (size_t i = 0; i < n; i++)
        agent_proc_release(&chain[i]);
    /* the child exits and expires; then the parent goes exited_keep later */
    agent_proctable_exit(pt, kid.pid, kid.start_ns, 3601 * s);
    agent_proctable_expire(pt, 3607 * s);
    assert_int_equal(agent_proctable_get(pt, kid.pid, kid.start_ns, &out), BN_ENOTFOUND);
    assert_int_equal(agent_proctable_get(pt, par.pid, par.start_ns, &out), 0);
    agent_proc_release(&out);
    agent_proctable_expire(pt, 3613 * s);
    assert_int_equal(agent_proctable_get(pt, par.pid, par.start_ns, &out), BN_ENOTFOUND);
    struct agent_proctable_stats st;
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.exited, 0);
    assert_int_equal(st.expired, 3);
    agent_proctable_free(pt);
}

/* Beyond exited_max exited entries the oldest leave early (evicted), whatever their age;
 * an exited ancestor of a live process is parked instead, never evicted. */
static void
test_exited_max(void **state)
{
    (void)state;
    struct agent_proctable_opts o = {.exited_max = 3};
    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, &o), 0);
    struct agent_proc par = {.pid = 4000300, .ppid = 1, .start_ns = 9000000000ull};
    struct agent_proc kid = {.pid = 4000301, .ppid = 4000300, .start_ns = 9100000000ull};
    par.exe = "/usr/bin/make";
    kid.exe = "/usr/bin/gcc";
    assert_int_equal(agent_proctable_update(pt, &par), 0);
    assert_int_equal(agent_proctable_update(pt, &kid), 0);
    const int64_t s = 1000000000ll;
    agent_proctable_exit(pt, par.pid, par.start_ns, 1 * s);
    for (int i = 0; i < 5; i++) {
        struct agent_proc leaf = {.pid = 4000310 + i, .ppid = 1,
                                  .start_ns = 9200000000ull + (uint64_t)i};
        leaf.exe = "/usr/bin/true";
        assert_int_equal(agent_proctable_update(pt, &leaf), 0);
        agent_proctable_exit(pt, leaf.pid, leaf.start_ns, 1 * s + i);
    }
    struct agent_proc out;
    for (int i = 0; i < 5; i++) {
        int rc = agent_proctable_get(pt, 4000310 + i, 9200000000ull + (uint64_t)i, &out);
        assert_int_equal(rc, i < 2 ? BN_ENOTFOUND : 0); /* the two oldest leaves went */
        if (rc == 0)
            agent_proc_release(&out);
    }
    /* the exited parent of a live child stayed (parked), and still gives its ancestry */
    struct agent_proc chain[2];
    size_t n;
    assert_int_equal(agent_proctable_ancestry(pt, kid.pid, kid.start_ns, chain, 2, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(chain[0].exe, "/usr/bin/make");
    for (size_t i = 0; i < n; i++)
        agent_proc_release(&chain[i]);
    struct agent_proctable_stats st;
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.evicted, 2);
    assert_int_equal(st.expired, 0);
    assert_int_equal(st.entries, 5);
    /* the ones left expire at exited_keep as before */
    agent_proctable_expire(pt, 10 * s);
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.expired, 3);
    assert_int_equal(st.entries, 2);
    agent_proctable_free(pt);
}

static void
test_max_entries(void **state)
{
    (void)state;
    struct agent_proctable_opts o = {.max_entries = 4};
    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, &o), 0);
    for (int i = 0; i < 4; i++) {
        struct agent_proc p = {.pid = 4000000 + i, .start_ns = 1000000000ull};
        assert_int_equal(agent_proctable_update(pt, &p), 0);
    }
    struct agent_proc p = {.pid = 4000010, .start_ns = 1000000000ull};
    assert_int_equal(agent_proctable_update(pt, &p), BN_ETOOBIG); /* all live: refused */
    agent_proctable_exit(pt, 4000000, 0, 1);
    assert_int_equal(agent_proctable_update(pt, &p), 0);         /* the exited one goes */
    struct agent_proctable_stats st;
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.entries, 4);
    assert_int_equal(st.evicted, 2);
    agent_proctable_free(pt);
}

static void
sha256sum(const char *path, char hex[65])
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(hex, 65, f));
    pclose(f);
}

static void
write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void
test_sha256_cache(void **state)
{
    (void)state;
    char path[300], want[65], got[65];
    snprintf(path, sizeof(path), "%s/blob", tmpdir);
    char *data = malloc(300000);
    assert_non_null(data);
    for (size_t i = 0; i < 300000; i++)
        data[i] = (char)(i * 7 + (i >> 9));
    write_file(path, data, 300000);
    free(data);

    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, NULL), 0);
    sha256sum(path, want);
    assert_int_equal(agent_proctable_sha256(pt, path, got), 0);
    assert_string_equal(got, want);
    assert_int_equal(agent_proctable_sha256(pt, path, got), 0);
    assert_string_equal(got, want);
    struct agent_proctable_stats st;
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.hash_misses, 1);
    assert_int_equal(st.hash_hits, 1);

    /* same size, same inode, new mtime and content: a miss and the new digest */
    write_file(path, "x", 1);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1234567, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    sha256sum(path, want);
    assert_int_equal(agent_proctable_sha256(pt, path, got), 0);
    assert_string_equal(got, want);
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.hash_misses, 2);

    /* only the mtime changes: the cache must not answer */
    ts[1].tv_sec = 7654321;
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    assert_int_equal(agent_proctable_sha256(pt, path, got), 0);
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.hash_misses, 3);

    /* the kernel's identity of the file (tier 1 exec records): a hit needs no path at all;
     * a file a stat names differently (btrfs, overlayfs) is remembered under that identity
     * too when size and mtime agree */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    sha256sum(path, want);
    struct agent_file_id id = {.valid = true,
                               .dev = (uint64_t)sb.st_dev + 1000, /* another name for it */
                               .ino = (uint64_t)sb.st_ino,
                               .size = (uint64_t)sb.st_size,
                               .mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000ll +
                                           sb.st_mtim.tv_nsec};
    assert_int_equal(agent_proctable_sha256_id(pt, &id, path, got), 0);
    assert_string_equal(got, want);
    assert_int_equal(agent_proctable_sha256_id(pt, &id, "/nonexistent/x", got), 0);
    assert_string_equal(got, want);
    id.mtime_ns++; /* another version: never answered from the cache */
    assert_int_equal(agent_proctable_sha256_id(pt, &id, "/nonexistent/x", got), -ENOENT);
    assert_string_equal(got, "");
    assert_int_equal(agent_proctable_sha256_id(pt, NULL, path, got), 0);
    assert_string_equal(got, want);

    /* not a regular file, missing file, over the size limit */
    assert_true(agent_proctable_sha256(pt, "/dev/null", got) != 0);
    assert_string_equal(got, "");
    assert_int_equal(agent_proctable_sha256(pt, "/nonexistent/x", got), -ENOENT);
    agent_proctable_free(pt);

    struct agent_proctable_opts o = {.hash_max_bytes = 10};
    assert_int_equal(agent_proctable_new(&pt, &o), 0);
    write_file(path, "0123456789abcdef", 16);
    assert_int_equal(agent_proctable_sha256(pt, path, got), BN_ETOOBIG);
    assert_string_equal(got, "");
    /* a failure is remembered for that version of the file, like a digest: the next call
     * (every exec of it) is answered from the cache, also under the kernel's identity */
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.hash_misses, 1);
    assert_int_equal(st.hash_errors, 1);
    assert_int_equal(st.hash_errors_cached, 0);
    assert_int_equal(agent_proctable_sha256(pt, path, got), BN_ETOOBIG);
    assert_string_equal(got, "");
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.hash_misses, 1);
    assert_int_equal(st.hash_errors, 2);
    assert_int_equal(st.hash_errors_cached, 1);
    assert_int_equal(stat(path, &sb), 0);
    id.dev = (uint64_t)sb.st_dev + 1000;
    id.ino = (uint64_t)sb.st_ino;
    id.size = (uint64_t)sb.st_size;
    id.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000ll + sb.st_mtim.tv_nsec;
    assert_int_equal(agent_proctable_sha256_id(pt, &id, path, got), BN_ETOOBIG);
    assert_int_equal(agent_proctable_sha256_id(pt, &id, "/nonexistent/x", got), BN_ETOOBIG);
    assert_string_equal(got, "");
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.hash_misses, 1);
    assert_int_equal(st.hash_errors_cached, 3);
    assert_int_equal(st.hash_hits, 0);
    /* a new version of the file is hashed again (and fits now) */
    write_file(path, "0123", 4);
    sha256sum(path, want);
    assert_int_equal(agent_proctable_sha256(pt, path, got), 0);
    assert_string_equal(got, want);
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.hash_misses, 2);
    /* a file that cannot be opened (gone) is not remembered as failed */
    assert_int_equal(agent_proctable_sha256(pt, "/nonexistent/x", got), -ENOENT);
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.hash_errors_cached, 3);
    agent_proctable_free(pt);
}

static void
test_huge_and_binary_cmdline(void **state)
{
    (void)state;
    size_t big = AGENT_CMDLINE_MAX + 10000;
    char *arg = malloc(big + 1);
    assert_non_null(arg);
    memset(arg, 'A', big);
    arg[big] = '\0';
    char bin[] = "x\xff\xfe\x80y";
    char *argv[] = {"/bin/sh", "-c", "echo $$; sleep 30 > /dev/null 2>&1; true", bin, arg, NULL};
    int fd = -1;
    pid_t pid = spawn(argv, &fd);
    assert_true(pid > 0);
    read_pid_line(fd);
    close(fd);

    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, NULL), 0);
    struct agent_proc p;
    assert_int_equal(agent_proc_read(pt, pid, &p), 0);
    assert_true(p.cmdline_truncated);
    assert_int_equal(strlen(p.cmdline), AGENT_CMDLINE_MAX);
    assert_non_null(strstr(p.cmdline, "x\xff\xfe\x80y AAAA")); /* bytes kept as they are */
    assert_memory_equal(p.cmdline, "/bin/sh -c echo", 15);
    struct agent_proctable_stats st;
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.cmdline_truncated, 1);
    assert_string_equal(p.comm, "sh");
    agent_proc_release(&p);
    reap(pid);
    free(arg);

    /* a gone process is -ESRCH and counted */
    assert_int_equal(agent_proc_read(pt, pid, &p), -ESRCH);
    assert_null(p.exe);
    agent_proctable_free(pt);
}

static void
test_deleted_executable(void **state)
{
    (void)state;
    char exe[300], want[65];
    snprintf(exe, sizeof(exe), "%s/my sleep", tmpdir);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "cp /bin/sleep '%s'", exe);
    assert_int_equal(system(cmd), 0);
    sha256sum(exe, want);
    char *argv[] = {exe, "30", NULL};
    int fd = -1;
    pid_t pid = spawn(argv, &fd);
    assert_true(pid > 0);
    close(fd);
    wait_exec(pid, "my sleep");
    assert_int_equal(unlink(exe), 0);

    struct agent_proctable_opts o = {.hash = true};
    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, &o), 0);
    struct agent_proc p;
    assert_int_equal(agent_proc_read(pt, pid, &p), 0);
    assert_true(p.exe_deleted);
    assert_string_equal(p.exe, exe);
    assert_string_equal(p.sha256, want); /* hashed through /proc/<pid>/exe */
    assert_false(p.cmdline_truncated);
    assert_non_null(p.cwd);
    agent_proc_release(&p);
    reap(pid);

    /* the executable of this test is not deleted */
    assert_int_equal(agent_proc_read(pt, getpid(), &p), 0);
    assert_false(p.exe_deleted);
    assert_true(strlen(p.sha256) == 64);
    agent_proc_release(&p);
    agent_proctable_free(pt);
}

/* Container ids from cgroup paths of the usual runtimes; nothing from ordinary groups. */
static void
test_container_id_forms(void **state)
{
    (void)state;
    static const char h[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    /* {before the id, after it} */
    static const char *const with[][2] = {
        {"/system.slice/docker-", ".scope"},
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
         "cri-containerd-", ".scope"},
        {"/machine.slice/libpod-", ".scope"},
        {"/kubepods/besteffort/pod1234/crio-", ".scope"},
        {"/docker/", ""},
        {"/kubepods/besteffort/podab12/", ""},
        {"/bn-test-", ".scope"},
        {"/system.slice/docker-", ".scope/init.scope"}, /* systemd inside the container */
    };
    static const char *const without[][2] = {
        {"/", NULL}, {"", NULL}, {"/user.slice/user-0.slice/session-3.scope", NULL},
        {"/system.slice/sshd.service", NULL},
        {"/docker/", "a"},      /* 65 hex: not an id */
        {"/x", ".scope"},       /* glued to a word */
    };
    char path[512], id[65];
    for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++) {
        snprintf(path, sizeof(path), "%s%s%s", with[i][0], h, with[i][1]);
        agent_container_id_from_cgroup(path, id);
        assert_string_equal(id, h);
    }
    for (size_t i = 0; i < sizeof(without) / sizeof(without[0]); i++) {
        if (without[i][1])
            snprintf(path, sizeof(path), "%s%s%s", without[i][0], h, without[i][1]);
        else
            snprintf(path, sizeof(path), "%s", without[i][0]);
        agent_container_id_from_cgroup(path, id);
        assert_string_equal(id, "");
    }
    /* upper-case hex is not what runtimes write */
    snprintf(path, sizeof(path), "/docker/%s%s", "0123456789ABCDEF0123456789ABCDEF",
             "0123456789ABCDEF0123456789ABCDEF");
    agent_container_id_from_cgroup(path, id);
    assert_string_equal(id, "");
    agent_container_id_from_cgroup(NULL, id);
    assert_string_equal(id, "");

    /* /proc/<pid>/cgroup: a hybrid host lists v1 hierarchies before the v2 "0::" line */
    char text[1024], *cg;
    snprintf(text, sizeof(text),
             "9:name=systemd:/\n4:memory:/user.slice\n0::/bn-test-%s.scope\n", h);
    cg = agent_cgroup_pick(text, id);
    assert_non_null(cg);
    assert_true(strncmp(cg, "/bn-test-", 9) == 0);
    assert_string_equal(id, h);
    bn_free(cg);
    snprintf(text, sizeof(text), "4:memory:/docker/%s\n0::/\n", h); /* docker on v1 */
    cg = agent_cgroup_pick(text, id);
    assert_string_equal(id, h);
    bn_free(cg);
    cg = agent_cgroup_pick("9:name=systemd:/init.scope\n0::/system.slice/cron.service\n", id);
    assert_string_equal(cg, "/system.slice/cron.service"); /* no container: the v2 path */
    assert_string_equal(id, "");
    bn_free(cg);
    cg = agent_cgroup_pick("9:name=systemd:/init.scope", id); /* v1 only, no newline */
    assert_string_equal(cg, "/init.scope");
    bn_free(cg);
    assert_null(agent_cgroup_pick("garbage\n:\n", id));
    assert_string_equal(id, "");
}

/* agent_proctable_fill copies only what the caller lacks, and only the strings it asks for. */
static void
test_fill_fields(void **state)
{
    (void)state;
    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, NULL), 0);
    struct agent_proc p = {.pid = 4242424, .ppid = 1, .start_ns = 5000000000ull, .uid = 1000};
    p.exe = (char *)"/usr/bin/x";
    p.cmdline = (char *)"x --long";
    p.cwd = (char *)"/home/u";
    p.cgroup = (char *)"/system.slice/docker-0123456789abcdef0123456789abcdef"
                       "0123456789abcdef0123456789abcdef.scope";
    assert_int_equal(agent_proctable_update(pt, &p), 0);

    struct agent_proc d = {.pid = p.pid, .start_ns = p.start_ns};
    assert_int_equal(
        agent_proctable_fill(pt, p.pid, p.start_ns, &d, AGENT_PF_EXE | AGENT_PF_CGROUP), 0);
    assert_string_equal(d.exe, "/usr/bin/x");
    assert_null(d.cmdline);
    assert_null(d.cwd);
    assert_non_null(d.cgroup);
    assert_string_equal(d.container_id,
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(d.uid, 1000);
    assert_int_equal(d.ppid, 1);
    agent_proc_release(&d);

    /* what the caller has stays as it is */
    struct agent_proc e = {.pid = p.pid};
    e.exe = bn_strdup("/mine");
    assert_int_equal(agent_proctable_fill(pt, p.pid, 0, &e, AGENT_PF_ALL), 0);
    assert_string_equal(e.exe, "/mine");
    assert_string_equal(e.cmdline, "x --long");
    assert_string_equal(e.cwd, "/home/u");
    agent_proc_release(&e);

    /* a live entry whose process is gone without an exit event is found by the sweep;
     * this test process is not */
    struct agent_proc me = {.pid = getpid(), .ppid = getppid(), .start_ns = 1};
    assert_int_equal(agent_proctable_update(pt, &me), 0);
    struct agent_proctable_stats st;
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.exited, 0);
    assert_int_equal(agent_proctable_sweep(pt, 1), 1);
    assert_int_equal(agent_proctable_sweep(pt, 2), 0);
    agent_proctable_stats(pt, &st);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.swept, 1);

    /* an unknown pid that is not in /proc either */
    struct agent_proc f = {.pid = 4242425};
    assert_int_equal(agent_proctable_fill(pt, 4242425, 0, &f, AGENT_PF_ALL), BN_ENOTFOUND);
    assert_null(f.exe);
    agent_proctable_free(pt);
}

/* A fake /proc with a comm that contains ") (" and a container cgroup. */
static void
test_fake_proc(void **state)
{
    (void)state;
    char dir[300], path[400];
    snprintf(dir, sizeof(dir), "%s/proc/77", tmpdir);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    const char *stat = "77 (a) (b) c) S 5 77 77 34817 0 4194560 0 0 0 0 0 0 0 0 20 0 1 0 "
                       "12345 1000 100 0";
    snprintf(path, sizeof(path), "%s/stat", dir);
    write_file(path, stat, strlen(stat));
    const char *status = "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t100\t101\t0\t0\n";
    snprintf(path, sizeof(path), "%s/status", dir);
    write_file(path, status, strlen(status));
    const char *cg = "0::/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef"
                     "0123456789abcdef.scope\n";
    snprintf(path, sizeof(path), "%s/cgroup", dir);
    write_file(path, cg, strlen(cg));
    snprintf(path, sizeof(path), "%s/cmdline", dir);
    write_file(path, "a\0b\0\0", 5);

    char root[300];
    snprintf(root, sizeof(root), "%s/proc", tmpdir);
    struct agent_proctable_opts o = {.proc_root = root};
    struct agent_proctable *pt;
    assert_int_equal(agent_proctable_new(&pt, &o), 0);
    struct agent_proc p;
    assert_int_equal(agent_proc_read(pt, 77, &p), 0);
    assert_string_equal(p.comm, "a) (b) c");
    assert_int_equal(p.ppid, 5);
    assert_int_equal(p.uid, 1000);
    assert_int_equal(p.euid, 0);
    assert_int_equal(p.gid, 100);
    assert_int_equal(p.egid, 101);
    assert_string_equal(p.tty, "pts/1");
    assert_string_equal(p.cmdline, "a b");
    assert_string_equal(p.container_id,
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_true(p.start_ns > 0);
    assert_null(p.exe); /* no exe link: left empty, not an error */
    agent_proc_release(&p);

    /* a truncated stat is a gone/unreadable process, never a crash */
    snprintf(path, sizeof(path), "%s/stat", dir);
    write_file(path, "77 (x", 5);
    assert_int_equal(agent_proc_read(pt, 77, &p), -ESRCH);
    write_file(path, "77 (x) S 1 2", 12);
    assert_int_equal(agent_proc_read(pt, 77, &p), -ESRCH);
    agent_proctable_free(pt);
}

static void
test_same_start(void **state)
{
    (void)state;
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t tick = 1000000000ull / (uint64_t)hz;
    assert_true(agent_proc_same_start(0, 123));
    assert_true(agent_proc_same_start(5 * tick, 5 * tick + tick - 1));
    assert_false(agent_proc_same_start(5 * tick, 6 * tick));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ancestry_three_deep),
        cmocka_unit_test(test_pid_reuse),
        cmocka_unit_test(test_parent_exited_first),
        cmocka_unit_test(test_exited_ancestor_kept),
        cmocka_unit_test(test_max_entries),
        cmocka_unit_test(test_exited_max),
        cmocka_unit_test(test_sha256_cache),
        cmocka_unit_test(test_huge_and_binary_cmdline),
        cmocka_unit_test(test_deleted_executable),
        cmocka_unit_test(test_fake_proc),
        cmocka_unit_test(test_container_id_forms),
        cmocka_unit_test(test_fill_fields),
        cmocka_unit_test(test_same_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
