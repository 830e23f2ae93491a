/*
 * test_yara.c - bannin/yara.h: compiling file by file with per-file errors, bundles,
 * disabled includes, scanning buffers and trees with their limits and counters.
 */
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

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/yara.h"

static char dir[64];

static void
put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
run(const char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/bn-yara-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof(p), "%s/rules", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/rules/sub", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/data", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/data/deep", dir);
    mkdir(p, 0700);
    put("rules/good.yar",
        "rule Marker_One : evil test {\n  strings:\n    $a = \"BANNIN-MARKER-1\"\n"
        "  condition:\n    $a\n}\n");
    put("rules/bad.yar", "rule Broken {\n  strings: $a = \"x\"\n  condition: $a and $b\n}\n");
    put("rules/sub/two.YARA",
        "rule Marker_Two {\n strings: $h = { 42 4E 2D 32 }\n condition: $h\n}\n"
        "rule Marker_One { condition: false }\n"); /* same name, other namespace */
    put("rules/notes.txt", "this is not a rule file {\n");
    put("data/a.txt", "hello BANNIN-MARKER-1 world");
    put("data/deep/b.bin", "xxBN-2yy");
    put("data/c.txt", "nothing here");
    char big[4096];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big + 100, "BANNIN-MARKER-1", 15);
    put("data/big.txt", big);
    char target[128], link[128];
    snprintf(target, sizeof(target), "%s/data/a.txt", dir);
    snprintf(link, sizeof(link), "%s/data/link.txt", dir);
    assert_int_equal(symlink(target, link), 0);
    return 0;
}

static int
teardown(void **state)
{
    const char *argv[] = {"rm", "-rf", "--", dir, NULL};
    run(argv);
    return 0;
}

struct hits {
    char rules[32][64];
    char files[32][256];
    size_t n;
    bool tags_ok;
};

static int
on_match(const struct bn_yara_match *m, void *ud)
{
    struct hits *h = ud;
    assert_true(h->n < 32);
    snprintf(h->rules[h->n], sizeof(h->rules[0]), "%s", m->rule);
    snprintf(h->files[h->n], sizeof(h->files[0]), "%s", m->file ? m->file : "");
    if (strcmp(m->rule, "Marker_One") == 0)
        h->tags_ok = m->ntags == 2 && strcmp(m->tags[0], "evil") == 0 &&
                     strcmp(m->tags[1], "test") == 0 && m->tags[2] == NULL &&
                     strcmp(m->ns, "good.yar") == 0;
    h->n++;
    return 0;
}

static bool
hit(const struct hits *h, const char *rule, const char *file_suffix)
{
    for (size_t i = 0; i < h->n; i++) {
        size_t fl = strlen(h->files[i]), sl = strlen(file_suffix);
        if (strcmp(h->rules[i], rule) == 0 && fl >= sl &&
            strcmp(h->files[i] + fl - sl, file_suffix) == 0)
            return true;
    }
    return false;
}

static struct bn_yara_rules *
compile_dir(struct bn_yara_report *rep)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/rules", dir);
    const char *paths[] = {p};
    struct bn_yara_rules *r;
    assert_int_equal(bn_yara_compile_paths(paths, 1, NULL, &r, rep), 0);
    return r;
}

static void
test_compile_dir_skips_bad_file(void **state)
{
    struct bn_yara_report rep;
    struct bn_yara_rules *r = compile_dir(&rep);
    assert_int_equal(rep.files, 3); /* notes.txt is not a rule file */
    assert_int_equal(rep.files_failed, 1);
    assert_int_equal(rep.files_ok, 2);
    assert_int_equal(rep.rules, 3);
    assert_int_equal(bn_yara_rules_count(r), 3);
    assert_true(rep.errors >= 1);
    /* a warning on line 2 ("x" is a short string), the error where the condition ends */
    bool found = false;
    for (size_t i = 0; i < rep.nissues; i++) {
        const struct bn_yara_issue *is = &rep.issues[i];
        assert_non_null(strstr(is->file, "rules/bad.yar"));
        if (!is->warning) {
            assert_true(is->line >= 3 && is->line <= 4);
            assert_non_null(strstr(is->message, "undefined string \"$b\""));
            found = true;
        }
    }
    assert_true(found);
    bn_yara_report_release(&rep);
    bn_yara_rules_free(r);
}

static void
test_scan_tree_limits_and_counters(void **state)
{
    struct bn_yara_report rep;
    struct bn_yara_rules *r = compile_dir(&rep);
    bn_yara_report_release(&rep);
    char p[128];
    snprintf(p, sizeof(p), "%s/data", dir);
    const char *paths[] = {p};
    struct hits h = {0};
    struct bn_yara_scan_stats st;
    struct bn_yara_scan_opts o = {.max_size = 1024};
    assert_int_equal(bn_yara_scan_paths(r, paths, 1, &o, on_match, NULL, &h, &st), 0);
    assert_true(hit(&h, "Marker_One", "/data/a.txt"));
    assert_true(hit(&h, "Marker_Two", "/data/deep/b.bin"));
    assert_true(h.tags_ok);
    assert_int_equal(h.n, 2);
    assert_int_equal(st.files_scanned, 3);  /* a, b, c */
    assert_int_equal(st.skipped_size, 1);   /* big.txt */
    assert_int_equal(st.skipped_special, 1); /* link.txt is not followed */
    assert_int_equal(st.files_matched, 2);
    assert_int_equal(st.errors, 0);

    /* no size cap problem, links followed: big.txt and link.txt match too */
    memset(&h, 0, sizeof(h));
    o = (struct bn_yara_scan_opts){.follow_links = true};
    assert_int_equal(bn_yara_scan_paths(r, paths, 1, &o, on_match, NULL, &h, &st), 0);
    assert_true(hit(&h, "Marker_One", "/data/big.txt"));
    assert_true(hit(&h, "Marker_One", "/data/link.txt"));
    assert_int_equal(st.files_scanned, 5);

    /* max_files stops and says so */
    o = (struct bn_yara_scan_opts){.max_files = 2};
    memset(&h, 0, sizeof(h));
    assert_int_equal(bn_yara_scan_paths(r, paths, 1, &o, on_match, NULL, &h, &st), 0);
    assert_int_equal(st.files_scanned, 2);
    assert_true(st.max_files_hit);

    /* a missing path is an error, counted */
    const char *missing[] = {"/nonexistent/bannin-yara"};
    assert_int_equal(bn_yara_scan_paths(r, missing, 1, NULL, on_match, NULL, &h, &st), 0);
    assert_int_equal(st.errors, 1);
    bn_yara_rules_free(r);
}

static void
test_text_mem_includes_nul(void **state)
{
    struct bn_yara_rules *r;
    struct bn_yara_report rep;
    const char *txt = "rule T : x { strings: $a = \"needle\" condition: $a }";
    assert_int_equal(bn_yara_compile_text(txt, strlen(txt), "inline", NULL, &r, &rep), 0);
    assert_int_equal(rep.rules, 1);
    bn_yara_report_release(&rep);
    struct hits h = {0};
    assert_int_equal(bn_yara_scan_mem(r, "a needle here", 13, NULL, on_match, &h), 0);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.rules[0], "T");
    assert_string_equal(h.files[0], "");
    bn_yara_rules_free(r);

    /* includes are disabled */
    const char *inc = "include \"/etc/hostname\"\nrule U { condition: true }\n";
    assert_int_equal(bn_yara_compile_text(inc, strlen(inc), "inc", NULL, &r, &rep), BN_EPARSE);
    assert_null(r);
    assert_true(rep.errors >= 1);
    assert_int_equal(rep.issues[0].line, 1);
    assert_non_null(strstr(rep.issues[0].message, "include"));
    bn_yara_report_release(&rep);

    /* a NUL byte */
    const char nul[] = "rule V { condition: true }\0rule W { condition: true }";
    assert_int_equal(bn_yara_compile_text(nul, sizeof(nul) - 1, "nul", NULL, &r, &rep),
                     BN_EPARSE);
    assert_non_null(strstr(rep.issues[0].message, "NUL"));
    bn_yara_report_release(&rep);

    /* externals only with the option */
    const char *ext = "rule X { condition: filename == \"a.txt\" }";
    assert_int_equal(bn_yara_compile_text(ext, strlen(ext), "ext", NULL, &r, &rep), BN_EPARSE);
    bn_yara_report_release(&rep);
    struct bn_yara_compile_opts eo = {.externals = true};
    assert_int_equal(bn_yara_compile_text(ext, strlen(ext), "ext", &eo, &r, &rep), 0);
    bn_yara_report_release(&rep);
    char p[128];
    snprintf(p, sizeof(p), "%s/data", dir);
    const char *paths[] = {p};
    struct bn_yara_scan_stats st;
    memset(&h, 0, sizeof(h));
    assert_int_equal(bn_yara_scan_paths(r, paths, 1, NULL, on_match, NULL, &h, &st), 0);
    assert_int_equal(h.n, 1);
    assert_true(hit(&h, "X", "/data/a.txt"));
    bn_yara_rules_free(r);
}

static void
test_bundle(void **state)
{
    char tgz[128], rules[128];
    snprintf(tgz, sizeof(tgz), "%s/bundle.tar.gz", dir);
    snprintf(rules, sizeof(rules), "%s/rules", dir);
    const char *argv[] = {"tar", "-czf", tgz, "-C", rules, ".", NULL};
    run(argv);
    const char *paths[] = {tgz};
    struct bn_yara_rules *r;
    struct bn_yara_report rep;
    assert_int_equal(bn_yara_compile_paths(paths, 1, NULL, &r, &rep), 0);
    assert_int_equal(rep.files, 3);
    assert_int_equal(rep.files_failed, 1);
    assert_int_equal(rep.rules, 3);
    bool found = false;
    for (size_t i = 0; i < rep.nissues; i++)
        found |= !rep.issues[i].warning && strstr(rep.issues[i].file, "bundle.tar.gz!./bad.yar");
    assert_true(found);
    bn_yara_report_release(&rep);
    bn_yara_rules_free(r);

    /* a damaged bundle is an error with a reason */
    put("broken.tar.gz", "this is not gzip at all, but gzread passes it through......");
    snprintf(tgz, sizeof(tgz), "%s/broken.tar.gz", dir);
    assert_int_not_equal(bn_yara_compile_paths(paths, 1, NULL, &r, &rep), 0);
    assert_true(rep.errors >= 1);
    bn_yara_report_release(&rep);

    const char *missing[] = {"/nonexistent/rules.yar"};
    assert_int_equal(bn_yara_compile_paths(missing, 1, NULL, &r, &rep), BN_ENOTFOUND);
    bn_yara_report_release(&rep);
}

/* the tar walker on the three header dialects (long names need prefix, GNU 'L', pax) */
static void
test_tar_formats(void **state)
{
    static const char *const fmts[] = {"ustar", "gnu", "pax"};
    for (size_t k = 0; k < 3; k++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/tests/fuzz/corpus/yara_bundle/%s.tar", BN_SOURCE_DIR,
                 fmts[k]);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        static char buf[65536];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        struct bn_yara_rules *r;
        struct bn_yara_report rep;
        assert_int_equal(bn_yara_compile_tar(buf, n, fmts[k], NULL, &r, &rep), 0);
        assert_int_equal(rep.files, 3);
        assert_int_equal(rep.files_failed, 1);
        assert_int_equal(rep.rules, 2);
        bn_yara_report_release(&rep);
        struct hits h = {0};
        assert_int_equal(bn_yara_scan_mem(r, "one", 3, NULL, on_match, &h), 0);
        assert_true(h.n == 2); /* One (string) and Two (filesize < 10) */
        bn_yara_rules_free(r);
        /* one flipped byte in the first header: checksum error, with a reason */
        buf[0] ^= 0x20;
        assert_int_equal(bn_yara_compile_tar(buf, n, fmts[k], NULL, &r, &rep), BN_EFORMAT);
        assert_non_null(strstr(rep.issues[0].message, "checksum"));
        bn_yara_report_release(&rep);
    }
}

static void
test_alloc_failures(void **state)
{
    const char *txt = "rule T { strings: $a = \"needle\" condition: $a }";
    for (unsigned long n = 0; n < 64; n++) {
        struct bn_yara_rules *r = NULL;
        struct bn_yara_report rep;
        bn_alloc_fail_after(n);
        int rc = bn_yara_compile_text(txt, strlen(txt), "inline", NULL, &r, &rep);
        bn_alloc_fail_after(0);
        bn_yara_report_release(&rep);
        if (rc == 0) {
            bn_yara_rules_free(r);
            return;
        }
        assert_int_equal(rc, BN_ENOMEM);
        assert_null(r);
    }
    fail_msg("compile never succeeded");
}

/* the directory walk, the bad file and the final pass under allocation failures */
static void
test_alloc_failures_dir(void **state)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/rules", dir);
    const char *paths[] = {p};
    for (unsigned long n = 1; n < 400; n++) {
        struct bn_yara_rules *r = NULL;
        struct bn_yara_report rep;
        bn_alloc_fail_after(n);
        int rc = bn_yara_compile_paths(paths, 1, NULL, &r, &rep);
        bn_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(rep.rules, 3);
            bn_yara_report_release(&rep);
            bn_yara_rules_free(r);
            return;
        }
        bn_yara_report_release(&rep);
        assert_int_equal(rc, BN_ENOMEM);
        assert_null(r);
    }
    fail_msg("compile never succeeded");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_dir_skips_bad_file),
        cmocka_unit_test(test_scan_tree_limits_and_counters),
        cmocka_unit_test(test_text_mem_includes_nul),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_tar_formats),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_alloc_failures_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
