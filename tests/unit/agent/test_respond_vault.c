/*
 * test_respond_vault.c - quarantine vault: round trip of bytes, owner, mode and times; the
 * vault holds no plaintext; tampered items, overwrites and bad params are refused.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent/respond_vault.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

static char root[64];
static char vdir[128];
static char target[128];

static int
setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/bn-vault-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(vdir, sizeof vdir, "%s/vault", root);
    snprintf(target, sizeof target, "%s/evil.bin", root);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static json_t *
run(struct resp_vault *v, int (*fn)(struct resp_vault *, const char *, size_t, struct bn_buf *),
    const char *params, int want_rc)
{
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    int rc = fn(v, params, strlen(params), &out);
    assert_int_equal(rc, want_rc);
    json_t *r = json_loadb(out.p, out.len, 0, NULL);
    if (!r)
        fail_msg("result is not JSON: %.*s", (int)out.len, out.p);
    bn_buf_release(&out);
    return r;
}

static char *
slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)sz + 1);
    assert_int_equal(fread(p, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return p;
}

/* A recognisable plaintext spanning several secretstream messages. */
static size_t
make_sample(char **data)
{
    size_t n = 200000 + 17;
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)("PLAINTEXT-MARKER-"[i % 17]);
    FILE *f = fopen(target, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
    *data = p;
    return n;
}

static bool
dir_contains(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    bool found = false;
    while ((e = readdir(d)) && !found) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t n;
        char *c = slurp(p, &n);
        found = memmem(c, n, needle, strlen(needle)) != NULL;
        free(c);
    }
    closedir(d);
    return found;
}

static void
test_round_trip(void **state)
{
    (void)state;
    struct respond_paths paths = {.state_dir = root, .vault_dir = vdir};
    struct resp_vault *v;
    assert_int_equal(resp_vault_new(&v, &paths), 0);
    char *data;
    size_t n = make_sample(&data);
    bool root_user = geteuid() == 0;
    if (root_user)
        assert_int_equal(chown(target, 4242, 4343), 0);
    assert_int_equal(chmod(target, 04751), 0);
    struct timespec ts[2] = {{1600000000, 123456789}, {1500000000, 987654321}};
    assert_int_equal(utimensat(AT_FDCWD, target, ts, 0), 0);
    struct stat before;
    assert_int_equal(stat(target, &before), 0);

    char params[512];
    snprintf(params, sizeof params,
             "{\"path\":\"%s\",\"reason\":\"yara hit Mirai\",\"actor\":\"alice\"}", target);
    json_t *r = run(v, resp_quarantine, params, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    const char *id = json_string_value(json_object_get(r, "id"));
    assert_non_null(id);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    json_t *item = json_object_get(r, "item");
    assert_string_equal(json_string_value(json_object_get(item, "actor")), "alice");
    assert_string_equal(json_string_value(json_object_get(item, "reason")), "yara hit Mirai");
    assert_int_equal(json_integer_value(json_object_get(item, "size")), n);
    json_decref(r);

    /* gone from its place; the vault holds no plaintext and nothing executable */
    assert_int_equal(access(target, F_OK), -1);
    assert_false(dir_contains(vdir, "PLAINTEXT-MARKER-"));
    struct stat vst;
    assert_int_equal(stat(vdir, &vst), 0);
    assert_int_equal(vst.st_mode & 0777, 0700);
    char bin[256];
    snprintf(bin, sizeof bin, "%s/%s.bin", vdir, idc);
    assert_int_equal(stat(bin, &vst), 0);
    assert_int_equal(vst.st_mode & 0777, 0600);

    r = run(v, resp_vault_list, "{}", 0);
    assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
    json_t *first = json_array_get(json_object_get(r, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "path")), target);
    json_decref(r);

    /* restore: a file now at the path is not overwritten without force */
    FILE *f = fopen(target, "w");
    fputs("decoy", f);
    fclose(f);
    snprintf(params, sizeof params, "{\"id\":\"%s\"}", idc);
    r = run(v, resp_unquarantine, params, 0);
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "exists"));
    json_decref(r);
    unlink(target);

    r = run(v, resp_unquarantine, params, 0);
    if (!json_is_true(json_object_get(r, "ok")))
        fail_msg("unquarantine: %s", json_string_value(json_object_get(r, "error")));
    json_decref(r);
    struct stat after; /* before reading it back, which moves atime */
    assert_int_equal(stat(target, &after), 0);
    size_t m;
    char *back = slurp(target, &m);
    assert_int_equal(m, n);
    assert_memory_equal(back, data, n);
    free(back);
    assert_int_equal(after.st_mode & 07777, 04751);
    assert_int_equal(after.st_uid, before.st_uid);
    assert_int_equal(after.st_gid, before.st_gid);
    assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    assert_int_equal(after.st_atim.tv_sec, before.st_atim.tv_sec);
    if (root_user)
        assert_int_equal(after.st_uid, 4242);

    /* the item left the vault */
    r = run(v, resp_vault_list, "{}", 0);
    assert_int_equal(json_integer_value(json_object_get(r, "count")), 0);
    json_decref(r);
    free(data);
    resp_vault_free(v);

    /* a reopened vault uses the same key file, 0600 */
    char key[256];
    snprintf(key, sizeof key, "%s/vault.key", vdir);
    assert_int_equal(stat(key, &vst), 0);
    assert_int_equal(vst.st_mode & 0777, 0600);
}

static void
flip_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void
test_tamper(void **state)
{
    (void)state;
    struct respond_paths paths = {.state_dir = root, .vault_dir = vdir};
    struct resp_vault *v;
    assert_int_equal(resp_vault_new(&v, &paths), 0);
    char *data;
    make_sample(&data);
    free(data);
    char params[512], id[64], p2[128];
    snprintf(params, sizeof params, "{\"path\":\"%s\"}", target);
    json_t *r = run(v, resp_quarantine, params, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    char bin[256], js[256];
    snprintf(bin, sizeof bin, "%s/%s.bin", vdir, id);
    snprintf(js, sizeof js, "%s/%s.json", vdir, id);
    snprintf(p2, sizeof p2, "{\"id\":\"%s\"}", id);

    /* a flipped ciphertext byte */
    flip_byte(bin, 70000);
    r = run(v, resp_unquarantine, p2, 0);
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "refused"));
    json_decref(r);
    assert_int_equal(access(target, F_OK), -1); /* nothing half-restored */
    flip_byte(bin, 70000);

    /* metadata edited to restore somewhere else: bound as additional data */
    size_t n;
    char *meta = slurp(js, &n);
    char *at = strstr(meta, "evil.bin");
    assert_non_null(at);
    at[0] = 'E';
    FILE *f = fopen(js, "wb");
    fwrite(meta, 1, n, f);
    fclose(f);
    r = run(v, resp_unquarantine, p2, 0);
    assert_false(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    at[0] = 'e';
    f = fopen(js, "wb");
    fwrite(meta, 1, n, f);
    fclose(f);
    free(meta);

    /* truncated item */
    struct stat st;
    assert_int_equal(stat(bin, &st), 0);
    assert_int_equal(truncate(bin, st.st_size - 100), 0);
    r = run(v, resp_unquarantine, p2, 0);
    assert_false(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    assert_int_equal(access(target, F_OK), -1);
    resp_vault_free(v);
}

static void
test_bad_params(void **state)
{
    (void)state;
    struct respond_paths paths = {.state_dir = root, .vault_dir = vdir};
    struct resp_vault *v;
    assert_int_equal(resp_vault_new(&v, &paths), 0);
    json_t *r = run(v, resp_quarantine, "{\"reason\":\"x\"}", BN_EINVAL);
    assert_false(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    r = run(v, resp_quarantine, "[1,", BN_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "params:"));
    json_decref(r);
    r = run(v, resp_unquarantine, "{\"id\":\"../../etc/passwd\"}", BN_EINVAL);
    json_decref(r);
    /* a symlink is not followed, a directory is not a file */
    char link[256];
    snprintf(link, sizeof link, "%s/link", root);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    char params[512];
    snprintf(params, sizeof params, "{\"path\":\"%s\"}", link);
    r = run(v, resp_quarantine, params, 0);
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "symbolic"));
    json_decref(r);
    assert_int_equal(access("/etc/passwd", F_OK), 0);
    unlink(link);
    snprintf(params, sizeof params, "{\"path\":\"%s\"}", root);
    r = run(v, resp_quarantine, params, BN_EINVAL);
    json_decref(r);
    snprintf(params, sizeof params, "{\"path\":\"%s/vault.key\"}", vdir);
    r = run(v, resp_quarantine, params, BN_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "inside the vault"));
    json_decref(r);
    r = run(v, resp_unquarantine, "{\"id\":\"0123456789abcdef0123456789abcdef\"}", 0);
    assert_false(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    resp_vault_free(v);
}

static void
test_oom(void **state)
{
    (void)state;
    struct respond_paths paths = {.state_dir = root, .vault_dir = vdir};
    for (unsigned long k = 1; k < 50; k++) {
        struct resp_vault *v = NULL;
        bn_alloc_fail_after(k);
        int rc = resp_vault_new(&v, &paths);
        bn_alloc_fail_after(0);
        if (rc == 0) {
            resp_vault_free(v);
            break;
        }
        assert_int_equal(rc, BN_ENOMEM);
    }
    /* a quarantine that runs out of memory leaves the original in place and no item */
    struct resp_vault *v;
    assert_int_equal(resp_vault_new(&v, &paths), 0);
    char *data;
    make_sample(&data);
    free(data);
    char params[512];
    snprintf(params, sizeof params, "{\"path\":\"%s\"}", target);
    for (unsigned long k = 1;; k++) {
        assert_true(k < 100);
        struct bn_buf out;
        bn_buf_init(&out, 1 << 20);
        bn_alloc_fail_after(k);
        int rc = resp_quarantine(v, params, strlen(params), &out);
        bn_alloc_fail_after(0);
        bn_buf_release(&out);
        if (rc == 0)
            break;
        assert_int_equal(rc, BN_ENOMEM);
        assert_int_equal(access(target, F_OK), 0);
        json_t *r = run(v, resp_vault_list, "{}", 0);
        assert_int_equal(json_integer_value(json_object_get(r, "count")), 0);
        assert_int_equal(json_array_size(json_object_get(r, "damaged")), 0);
        json_decref(r);
    }
    assert_int_equal(access(target, F_OK), -1);
    resp_vault_free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
