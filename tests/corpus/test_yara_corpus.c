/*
 * test_yara_corpus.c - YARA scanning on outside rules and samples (../shared/corpora/yara):
 * Neo23x0 signature-base rules (signature-base-yara.tar.gz) over the small corpus (EICAR and
 * VirusTotal yara test files); the expected (rule, file) set was derived with yara 4.2.3
 * (expected-matches-signature-base_yara-4.2.3.tsv).
 *
 *  1. The bundle compiles from the .tar.gz (unpacked in memory): 741 rule files, of which
 *     exactly the 13 that use LOKI/THOR external variables are skipped, every error of them
 *     being 'undefined identifier' of one of filename, filepath, extension, owner
 *     (signature-base's README says so: those rules need the scanner's externals).
 *  2. The (rule, file) match set over corpus/ equals the expected file.
 *  3. With --externals semantics every file compiles and the match set is the same.
 *  4. The same bundle unpacked with tar(1) into a temp dir compiles to the same rule count
 *     (directory walk == bundle reader).
 *
 * Exits 77 (skipped) when the corpora are absent.
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

#include "bannin/error.h"
#include "bannin/yara.h"

static char base[1024];
static char bundle[1100];

#define MAXM 256
struct mset {
    char items[MAXM][600];
    size_t n;
};

static int
cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int
on_match(const struct bn_yara_match *m, void *ud)
{
    struct mset *s = ud;
    assert_true(s->n < MAXM);
    const char *f = m->file;
    size_t bl = strlen(base);
    if (strncmp(f, base, bl) == 0 && f[bl] == '/')
        f += bl + 1;
    snprintf(s->items[s->n++], sizeof(s->items[0]), "%s\tyara/%s", m->rule, f);
    return 0;
}

static void
load_expected(struct mset *s)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/expected-matches-signature-base_yara-4.2.3.tsv", base);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1200];
    bool header = true;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (header) {
            header = false;
            continue;
        }
        if (!line[0])
            continue;
        char *t1 = strchr(line, '\t');
        assert_non_null(t1);
        char *t2 = strchr(t1 + 1, '\t');
        assert_non_null(t2);
        *t2 = '\0';
        assert_true(s->n < MAXM);
        snprintf(s->items[s->n++], sizeof(s->items[0]), "%s\t%s", t1 + 1, t2 + 1);
    }
    fclose(f);
}

static void
check_matches(struct bn_yara_rules *r)
{
    static struct mset got, want;
    memset(&got, 0, sizeof(got));
    memset(&want, 0, sizeof(want));
    load_expected(&want);
    char corpus[1200];
    snprintf(corpus, sizeof(corpus), "%s/corpus", base);
    const char *paths[] = {corpus};
    struct bn_yara_scan_stats st;
    assert_int_equal(bn_yara_scan_paths(r, paths, 1, NULL, on_match, NULL, &got, &st), 0);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.timeouts, 0);
    assert_true(st.files_scanned >= 13);
    qsort(got.items, got.n, sizeof(got.items[0]), cmp_str);
    qsort(want.items, want.n, sizeof(want.items[0]), cmp_str);
    for (size_t i = 0; i < got.n; i++)
        printf("  match: %s\n", got.items[i]);
    assert_int_equal(got.n, want.n);
    for (size_t i = 0; i < got.n; i++)
        assert_string_equal(got.items[i], want.items[i]);
}

static void
test_bundle_reference(void **state)
{
    struct bn_yara_rules *r;
    struct bn_yara_report rep;
    const char *paths[] = {bundle};
    assert_int_equal(bn_yara_compile_paths(paths, 1, NULL, &r, &rep), 0);
    printf("  bundle: %zu rule files, %zu compiled (%zu rules), %zu skipped, %zu errors\n",
           rep.files, rep.files_ok, rep.rules, rep.files_failed, rep.errors);
    assert_int_equal(rep.files, 741);
    assert_int_equal(rep.files_failed, 13);
    assert_int_equal(rep.files_ok, 728);
    assert_true(rep.rules > 5000);
    assert_int_equal(rep.issues_dropped, 0);
    /* every error is an external variable LOKI/THOR would define, with a line number */
    for (size_t i = 0; i < rep.nissues; i++) {
        const struct bn_yara_issue *is = &rep.issues[i];
        assert_false(is->warning);
        assert_true(is->line > 0);
        assert_non_null(strstr(is->file, "signature-base-yara.tar.gz!yara/"));
        bool ext = strcmp(is->message, "undefined identifier \"filename\"") == 0 ||
                   strcmp(is->message, "undefined identifier \"filepath\"") == 0 ||
                   strcmp(is->message, "undefined identifier \"extension\"") == 0 ||
                   strcmp(is->message, "undefined identifier \"owner\"") == 0;
        if (!ext)
            printf("  unexpected: %s:%d: %s\n", is->file, is->line, is->message);
        assert_true(ext);
    }
    check_matches(r);
    bn_yara_report_release(&rep);
    bn_yara_rules_free(r);
}

static void
test_bundle_externals(void **state)
{
    struct bn_yara_rules *r;
    struct bn_yara_report rep;
    const char *paths[] = {bundle};
    struct bn_yara_compile_opts o = {.externals = true};
    assert_int_equal(bn_yara_compile_paths(paths, 1, &o, &r, &rep), 0);
    printf("  with externals: %zu of %zu files, %zu rules\n", rep.files_ok, rep.files,
           rep.rules);
    assert_int_equal(rep.files, 741);
    assert_int_equal(rep.files_failed, 0);
    assert_int_equal(rep.errors, 0);
    check_matches(r);
    bn_yara_report_release(&rep);
    bn_yara_rules_free(r);
}

static void
test_unpacked_dir(void **state)
{
    char tmpl[] = "/tmp/bn-yara-corpus-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("tar", "tar", "-xzf", bundle, "-C", dir, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("  tar failed (status %d): directory check skipped\n", status);
    } else {
        struct bn_yara_rules *r;
        struct bn_yara_report rep;
        const char *paths[] = {dir};
        assert_int_equal(bn_yara_compile_paths(paths, 1, NULL, &r, &rep), 0);
        printf("  unpacked dir: %zu rule files, %zu rules\n", rep.files, rep.rules);
        assert_int_equal(rep.files, 741);
        assert_int_equal(rep.files_failed, 13);
        assert_true(rep.rules > 5000);
        check_matches(r);
        bn_yara_report_release(&rep);
        bn_yara_rules_free(r);
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
}

int
main(void)
{
    const char *env = getenv("BN_CORPORA");
    snprintf(base, sizeof(base), "%s/yara", env ? env : "../shared/corpora");
    snprintf(bundle, sizeof(bundle), "%s/signature-base-yara.tar.gz", base);
    struct stat st;
    if (stat(bundle, &st) != 0) {
        printf("skipped: %s not found (set BN_CORPORA)\n", bundle);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_reference),
        cmocka_unit_test(test_bundle_externals),
        cmocka_unit_test(test_unpacked_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
