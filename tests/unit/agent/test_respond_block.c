/*
 * test_respond_block.c - exec blocking on the test's own tmpfs: copies of /bin/true blocked
 * by SHA-256, by path, by prefix and by YARA rule fail with EPERM and are reported through
 * the deny callback; others run; removing a rule lets the file run again; the list survives
 * a restart (state_dir); the answer deadline gives the policy's answer (fail-open and
 * fail-closed) and counts the timeout; bad params are refused with a reason.
 *
 * Safety: permission marks only on the tmpfs mounted by this test; an alarm kills the test
 * after 25 s (closing the fanotify group, which releases every waiting exec) and unmounts the
 * tmpfs; the tmpfs is unmounted on every exit path. Skips without root or fanotify
 * permission events.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/respond_block.h"
#include "bannin/buf.h"
#include "bannin/error.h"

static char root[64];  /* temp dir */
static char mnt[96];   /* tmpfs mount point */
static char state[96]; /* state_dir */
static bool mounted;
static char f_sha[160], f_path[160], f_ok[160], f_yara[160], f_sub[160];
static char sha_hex[65];

struct denials {
    pthread_mutex_t lock;
    int n;
    pid_t pid[16];
    char kind[16][16];
    char path[16][160];
};
static struct denials dn = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void
on_deny(void *ctx, const struct resp_block_denial *d)
{
    struct denials *x = ctx;
    pthread_mutex_lock(&x->lock);
    if (x->n < 16) {
        x->pid[x->n] = d->pid;
        snprintf(x->kind[x->n], sizeof(x->kind[0]), "%s", d->rule_kind);
        snprintf(x->path[x->n], sizeof(x->path[0]), "%s", d->path);
        x->n++;
    }
    pthread_mutex_unlock(&x->lock);
}

/* Denials are reported after the answer: wait (up to 1 s) until n have arrived. */
static int
wait_denials(int n)
{
    int got = 0;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&dn.lock);
        got = dn.n;
        pthread_mutex_unlock(&dn.lock);
        if (got >= n)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return got;
}

static void
cleanup(void)
{
    if (mounted) {
        umount2(mnt, MNT_DETACH);
        mounted = false;
    }
    if (state[0]) {
        char p[160];
        snprintf(p, sizeof(p), "%s/block_list.json", state);
        unlink(p);
        rmdir(state);
    }
    if (mnt[0])
        rmdir(mnt);
    if (root[0])
        rmdir(root);
}

static void
on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_respond_block: watchdog: hung for 25 s, aborting\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    umount2(mnt, MNT_DETACH);
    _exit(1);
}

/* Copies /bin/true to dst and appends tag (an ELF runs with trailing bytes). */
static void
make_exe(const char *dst, const char *tag)
{
    int in = open("/bin/true", O_RDONLY);
    assert_true(in >= 0);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    assert_true(out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    if (tag)
        assert_int_equal(write(out, tag, strlen(tag)), (ssize_t)strlen(tag));
    close(in);
    close(out);
}

static void
sha256_file(const char *path, char *hex)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        EVP_DigestUpdate(c, buf, (size_t)n);
    unsigned char md[32];
    unsigned int l = 32;
    EVP_DigestFinal_ex(c, md, &l);
    EVP_MD_CTX_free(c);
    close(fd);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Runs path in a child: 0 when it ran and exited 0, else the exec errno. */
static int
run(const char *path)
{
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        execl(path, path, (char *)NULL);
        _exit(errno == EPERM ? 100 : 101);
    }
    int ws = 0;
    assert_int_equal(waitpid(p, &ws, 0), p);
    assert_true(WIFEXITED(ws));
    int code = WEXITSTATUS(ws);
    return code == 0 ? 0 : code == 100 ? EPERM : EIO;
}

static int
act(int (*fn)(struct resp_block *, const char *, size_t, struct bn_buf *), struct resp_block *m,
    const char *params, struct bn_buf *out)
{
    bn_buf_reset(out);
    int rc = fn(m, params, strlen(params), out);
    fprintf(stderr, "  %.120s -> %d %.400s\n", params, rc, out->p ? out->p : "");
    return rc;
}

static int
setup(void **st)
{
    (void)st;
    snprintf(root, sizeof(root), "/tmp/bn-block-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(mnt, sizeof(mnt), "%s/mnt", root);
    snprintf(state, sizeof(state), "%s/state", root);
    if (mkdir(mnt, 0755) < 0)
        return -1;
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755") < 0) {
        fprintf(stderr, "cannot mount tmpfs: %s\n", strerror(errno));
        return -1;
    }
    mounted = true;
    snprintf(f_sha, sizeof(f_sha), "%s/by-sha", mnt);
    snprintf(f_path, sizeof(f_path), "%s/by-path", mnt);
    snprintf(f_ok, sizeof(f_ok), "%s/fine", mnt);
    snprintf(f_yara, sizeof(f_yara), "%s/by-yara", mnt);
    snprintf(f_sub, sizeof(f_sub), "%s/sub", mnt);
    mkdir(f_sub, 0755);
    char p[200];
    make_exe(f_sha, "\nbn-sha-tag\n");
    make_exe(f_path, NULL);
    make_exe(f_ok, "\nbn-ok-tag\n");
    make_exe(f_yara, "\nBN_EVIL_MARKER_42\n");
    snprintf(p, sizeof(p), "%s/inner", f_sub);
    make_exe(p, "\nbn-sub-tag\n");
    sha256_file(f_sha, sha_hex);
    return 0;
}

static int
teardown(void **st)
{
    (void)st;
    cleanup();
    return 0;
}

static struct resp_block *
open_module(bool with_state, uint32_t deadline_us, bool fail_closed, bool no_cache)
{
    const char *marks[] = {mnt};
    struct resp_block_conf conf = {
        .marks = marks,
        .n_marks = 1,
        .deadline_us = deadline_us,
        .fail_closed = fail_closed,
        .no_cache = no_cache,
        .on_deny = on_deny,
        .deny_ctx = &dn,
    };
    struct respond_paths paths = {.state_dir = with_state ? state : NULL};
    struct resp_block *m = NULL;
    assert_int_equal(resp_block_new_conf(&m, &paths, &conf), 0);
    return m;
}

static void
test_block_sha_path(void **st)
{
    (void)st;
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    struct resp_block *m = open_module(true, 0, false, false);
    assert_false(resp_block_listening(m)); /* empty list: no listener */
    assert_int_equal(run(f_sha), 0);

    char params[256];
    snprintf(params, sizeof(params), "{\"sha256\":\"%s\",\"comment\":\"test\"}", sha_hex);
    assert_int_equal(act(resp_block_add, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    assert_true(resp_block_listening(m));
    snprintf(params, sizeof(params), "{\"path\":\"%s\"}", f_path);
    assert_int_equal(act(resp_block_add, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"id\":2"));

    dn.n = 0;
    assert_int_equal(run(f_sha), EPERM);
    assert_int_equal(run(f_path), EPERM);
    assert_int_equal(run(f_ok), 0);
    assert_int_equal(run(f_ok), 0);        /* second time: from the cache */
    assert_int_equal(run("/bin/true"), 0); /* not on the marked mount */
    assert_int_equal(wait_denials(2), 2);
    pthread_mutex_lock(&dn.lock);
    assert_int_equal(dn.n, 2);
    assert_string_equal(dn.kind[0], "sha256");
    assert_string_equal(dn.path[0], f_sha);
    assert_string_equal(dn.kind[1], "path");
    assert_string_equal(dn.path[1], f_path);
    assert_true(dn.pid[0] > 0);
    pthread_mutex_unlock(&dn.lock);
    struct resp_block_stats s;
    resp_block_stats(m, &s);
    assert_true(s.denied == 2);
    assert_true(s.allowed >= 2);
    assert_true(s.cache_hits >= 1);
    assert_int_equal(s.timeouts, 0);

    assert_int_equal(act(resp_block_list, m, "{}", &out), 0);
    assert_non_null(strstr(out.p, sha_hex));
    assert_non_null(strstr(out.p, "\"type\":\"mount\""));
    assert_non_null(strstr(out.p, "\"denied\":2"));

    /* survives a restart */
    resp_block_free(m);
    assert_int_equal(run(f_sha), 0); /* no module, no blocking */
    m = open_module(true, 0, false, false);
    assert_true(resp_block_listening(m));
    assert_int_equal(run(f_sha), EPERM);
    assert_int_equal(run(f_path), EPERM);

    /* remove by hash, then by id: everything runs, the listener stops */
    snprintf(params, sizeof(params), "{\"sha256\":\"%s\"}", sha_hex);
    assert_int_equal(act(resp_block_remove, m, params, &out), 0);
    assert_non_null(strstr(out.p, "\"removed\":1"));
    assert_int_equal(run(f_sha), 0);
    assert_int_equal(run(f_path), EPERM);
    assert_int_equal(act(resp_block_remove, m, "{\"id\":2}", &out), 0);
    assert_false(resp_block_listening(m));
    assert_int_equal(run(f_path), 0);
    assert_int_equal(act(resp_block_remove, m, "{\"id\":2}", &out), 0);
    assert_non_null(strstr(out.p, "\"ok\":false"));
    resp_block_free(m);
    bn_buf_release(&out);
}

static void
test_block_prefix_yara(void **st)
{
    (void)st;
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    struct resp_block *m = open_module(false, 0, false, false);
    char params[512];
    snprintf(params, sizeof(params), "{\"path\":\"%s/\"}", f_sub);
    assert_int_equal(act(resp_block_add, m, params, &out), 0);
    assert_int_equal(
        act(resp_block_add, m,
            "{\"yara\":\"rule bn_test_marker { strings: $a = \\\"BN_EVIL_MARKER_42\\\" "
            "condition: $a }\"}",
            &out),
        0);
    assert_non_null(strstr(out.p, "\"ok\":true"));
    dn.n = 0;
    char inner[200];
    snprintf(inner, sizeof(inner), "%s/inner", f_sub);
    assert_int_equal(run(inner), EPERM);
    assert_int_equal(run(f_yara), EPERM);
    assert_int_equal(run(f_yara), EPERM); /* cached verdict */
    assert_int_equal(run(f_ok), 0);
    assert_int_equal(wait_denials(3), 3);
    pthread_mutex_lock(&dn.lock);
    assert_int_equal(dn.n, 3);
    assert_string_equal(dn.kind[0], "prefix");
    assert_string_equal(dn.kind[1], "yara");
    pthread_mutex_unlock(&dn.lock);
    resp_block_free(m);
    bn_buf_release(&out);
}

static void
test_block_deadline_policy(void **st)
{
    (void)st;
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    char params[256];
    snprintf(params, sizeof(params), "{\"sha256\":\"%s\"}", sha_hex);
    for (int closed = 0; closed <= 1; closed++) {
        /* a 1 us deadline: no file can be hashed in time, the policy answers */
        struct resp_block *m = open_module(false, 1, closed, true);
        assert_int_equal(act(resp_block_add, m, params, &out), 0);
        dn.n = 0;
        assert_int_equal(run(f_ok), closed ? EPERM : 0);
        assert_int_equal(run(f_sha), closed ? EPERM : 0);
        struct resp_block_stats s;
        resp_block_stats(m, &s);
        assert_true(s.timeouts >= 2);
        if (closed) {
            assert_true(wait_denials(2) >= 2);
            pthread_mutex_lock(&dn.lock);
            assert_string_equal(dn.kind[0], "timeout");
            pthread_mutex_unlock(&dn.lock);
        }
        resp_block_free(m);
    }
    /* with the cache, the hash finished after the timeout answer decides the next exec */
    struct resp_block *m = open_module(false, 1, false, false);
    assert_int_equal(act(resp_block_add, m, params, &out), 0);
    assert_int_equal(run(f_sha), 0);     /* timed out: fail-open */
    assert_int_equal(run(f_sha), EPERM); /* cached hash */
    resp_block_free(m);
    bn_buf_release(&out);
}

/* A deny callback that stalls the listener thread (as a wedged listener would). */
static void
on_deny_stall(void *ctx, const struct resp_block_denial *d)
{
    (void)ctx;
    (void)d;
    sleep(2);
}

static void
test_block_watchdog(void **st)
{
    (void)st;
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    const char *marks[] = {mnt};
    struct resp_block_conf conf = {
        .marks = marks,
        .n_marks = 1,
        .watchdog_ms = 300,
        .on_deny = on_deny_stall,
    };
    struct resp_block *m = NULL;
    assert_int_equal(resp_block_new_conf(&m, NULL, &conf), 0);
    char params[256];
    snprintf(params, sizeof(params), "{\"path\":\"%s\"}", f_path);
    assert_int_equal(act(resp_block_add, m, params, &out), 0);
    assert_int_equal(run(f_path), EPERM); /* answered, then the listener stalls 2 s */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run(f_path), 0); /* the watchdog answers by policy (fail-open) */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "  exec released by the watchdog after %.3f s\n", waited);
    assert_true(waited < 1.5);
    struct resp_block_stats s;
    resp_block_stats(m, &s);
    assert_int_equal(s.watchdog_trips, 1);
    assert_false(resp_block_listening(m));
    assert_int_equal(act(resp_block_list, m, "{}", &out), 0);
    assert_non_null(strstr(out.p, "\"watchdog_tripped\":true"));
    /* re-armed by a new configuration (waits for the stalled thread to come back) */
    conf.on_deny = on_deny;
    conf.deny_ctx = &dn;
    assert_int_equal(resp_block_configure(m, &conf), 0);
    assert_true(resp_block_listening(m));
    dn.n = 0;
    assert_int_equal(run(f_path), EPERM);
    assert_int_equal(wait_denials(1), 1);
    resp_block_free(m);
    bn_buf_release(&out);
}

static void
test_block_bad_params(void **st)
{
    (void)st;
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    struct resp_block *m = open_module(false, 0, false, false);
    assert_int_equal(act(resp_block_add, m, "{\"sha256\":\"abc\"}", &out), BN_EINVAL);
    assert_non_null(strstr(out.p, "64 hex digits"));
    assert_int_equal(
        act(resp_block_add, m,
            "{\"sha256\":\"zz00000000000000000000000000000000000000000000000000000000000000\"}",
            &out),
        BN_EINVAL);
    assert_non_null(strstr(out.p, "non-hex"));
    assert_int_equal(act(resp_block_add, m, "{\"path\":\"relative/x\"}", &out), BN_EINVAL);
    assert_int_equal(act(resp_block_add, m, "{\"path\":\"/\"}", &out), BN_EINVAL);
    assert_int_equal(act(resp_block_add, m, "{\"path\":\"/a/../b\"}", &out), BN_EINVAL);
    assert_non_null(strstr(out.p, "normalised"));
    assert_int_equal(act(resp_block_add, m, "{\"yara\":\"rule x { condition: nope }\"}", &out),
                     BN_EINVAL);
    assert_non_null(strstr(out.p, "does not compile"));
    assert_int_equal(act(resp_block_add, m, "{\"path\":\"/a\",\"sha256\":\"x\"}", &out), BN_EINVAL);
    assert_int_equal(act(resp_block_add, m, "{\"md5\":\"x\"}", &out), BN_EINVAL);
    assert_non_null(strstr(out.p, "unknown parameter 'md5'"));
    assert_int_equal(act(resp_block_add, m, "{}", &out), BN_EINVAL);
    assert_int_equal(act(resp_block_add, m, "[", &out), BN_EINVAL);
    assert_int_equal(act(resp_block_list, m, "{\"x\":1}", &out), BN_EINVAL);
    assert_false(resp_block_listening(m));
    /* a bad persisted list: where and why */
    char err[256];
    const char *bad = "{\"version\":1,\"rules\":[{\"id\":1,\"kind\":\"sha256\",\"value\":\"00\"}]}";
    assert_int_equal(resp_block_load_text(m, bad, strlen(bad), err, sizeof(err)), BN_EPARSE);
    fprintf(stderr, "  bad list: %s\n", err);
    assert_non_null(strstr(err, "rules[0]"));
    resp_block_free(m);
    bn_buf_release(&out);
}

int
main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skipping: needs root (tmpfs mount, fanotify permission events)\n");
        return 77;
    }
    int fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "skipping: fanotify FAN_CLASS_CONTENT unavailable: %s\n", strerror(errno));
        return 77;
    }
    close(fd);
    signal(SIGALRM, on_alarm);
    alarm(25);
    atexit(cleanup);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_sha_path),        cmocka_unit_test(test_block_prefix_yara),
        cmocka_unit_test(test_block_deadline_policy), cmocka_unit_test(test_block_watchdog),
        cmocka_unit_test(test_block_bad_params),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
