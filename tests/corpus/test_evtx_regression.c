/*
 * test_evtx_regression.c - the EVTX reader against the SigmaHQ regression data
 * (../shared/corpora/sigma/regression/regression_data): every .evtx there has a sibling
 * .json written by evtx_dump. For each file we read both (the JSON with the JSON reader,
 * which flattens it the same dotted way) and require the same number of records and that
 * every key/value pair of each JSON record is present in our record with the same text
 * (a JSON number 7 equals our "7"; null equals null). Mismatches are printed per file; the
 * overall share of matched pairs must be at least 99%.
 *
 * Known, accepted differences: one JSON file (ad691d92-...) was not written by the same
 * evtx_dump (a 9-digit SystemTime and a ParentCommandLine whose case differs from the
 * record's bytes).
 *
 * Exits 77 (skipped) when the corpora are absent.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "input/reader_int.h"
#include "bannin/error.h"
#include "bannin/reader.h"
#include "bannin/record.h"

static char root[1024];

struct tally {
    unsigned long files;
    unsigned long files_count_mismatch;
    unsigned long pairs;
    unsigned long matched;
    unsigned long records;
};

/* A copy of one record's pairs (the reader's record is reused by the next call). */
struct snap {
    char **key;
    char **val; /* NULL for null */
    uint32_t n;
};

static void
snap_take(struct snap *s, const struct bn_record *rec)
{
    s->n = rec->n;
    s->key = calloc(rec->n + 1, sizeof(char *));
    s->val = calloc(rec->n + 1, sizeof(char *));
    assert_non_null(s->key);
    assert_non_null(s->val);
    for (uint32_t i = 0; i < rec->n; i++) {
        s->key[i] = strndup(rec->kv[i].key, rec->kv[i].key_len);
        s->val[i] = rec->kv[i].type == BN_VT_NULL ? NULL
                                                   : strndup(rec->kv[i].val, rec->kv[i].val_len);
    }
}

static void
snap_free(struct snap *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        free(s->key[i]);
        free(s->val[i]);
    }
    free(s->key);
    free(s->val);
}

/* Reads every record of path in format fmt. Returns the count, or -1 if it cannot open. */
static long
read_all(const char *path, enum bn_format fmt, struct snap **out, unsigned long *errors)
{
    struct bn_reader *r = NULL;
    struct bn_diag d;
    *out = NULL;
    *errors = 0;
    if (bn_reader_open(&r, path, fmt, &d) != 0) {
        char buf[700];
        printf("  cannot open %s: %s\n", path, bn_diag_format(&d, buf, sizeof(buf)));
        return -1;
    }
    size_t cap = 16, n = 0;
    struct snap *v = calloc(cap, sizeof(*v));
    assert_non_null(v);
    struct bn_record *rec;
    for (;;) {
        int rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF)
            break;
        if (rc) {
            char buf[700];
            printf("  %s\n", bn_diag_format(&d, buf, sizeof(buf)));
            (*errors)++;
            if (bn_reader_done(r))
                break;
            continue;
        }
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof(*v));
            assert_non_null(v);
        }
        snap_take(&v[n++], rec);
    }
    bn_reader_free(r);
    *out = v;
    return (long)n;
}

static bool
has_pair(const struct snap *s, const char *key, const char *val)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (strcmp(s->key[i], key) != 0)
            continue;
        if (!val && !s->val[i])
            return true;
        if (val && s->val[i] && strcmp(val, s->val[i]) == 0)
            return true;
    }
    return false;
}

static void
compare_file(const char *evtx, struct tally *t)
{
    char json[1200];
    size_t len = strlen(evtx);
    snprintf(json, sizeof(json), "%.*s.json", (int)(len - 5), evtx);
    struct stat st;
    if (stat(json, &st) != 0)
        return;
    struct snap *ours, *theirs;
    unsigned long e1, e2;
    long n1 = read_all(evtx, BN_FMT_EVTX, &ours, &e1);
    long n2 = read_all(json, BN_FMT_JSON, &theirs, &e2);
    t->files++;
    if (n1 < 0 || n2 < 0 || n1 != n2 || e1 || e2) {
        printf("%s: %ld records (%lu errors), JSON has %ld (%lu errors)\n", evtx, n1, e1, n2,
               e2);
        t->files_count_mismatch++;
    }
    long n = n1 < n2 ? n1 : n2;
    unsigned printed = 0;
    for (long i = 0; i < n; i++) {
        t->records++;
        for (uint32_t k = 0; k < theirs[i].n; k++) {
            t->pairs++;
            if (has_pair(&ours[i], theirs[i].key[k], theirs[i].val[k])) {
                t->matched++;
            } else if (printed++ < 10) {
                const char *mine = "(absent)";
                for (uint32_t j = 0; j < ours[i].n; j++)
                    if (strcmp(ours[i].key[j], theirs[i].key[k]) == 0)
                        mine = ours[i].val[j] ? ours[i].val[j] : "null";
                printf("%s: record %ld: %s: JSON '%s', ours '%s'\n", evtx, i, theirs[i].key[k],
                       theirs[i].val[k] ? theirs[i].val[k] : "null", mine);
            }
        }
    }
    for (long i = 0; i < (n1 > 0 ? n1 : 0); i++)
        snap_free(&ours[i]);
    for (long i = 0; i < (n2 > 0 ? n2 : 0); i++)
        snap_free(&theirs[i]);
    free(ours);
    free(theirs);
}

static void
walk(const char *dir, struct tally *t)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *de;
    /* Sorted order is not needed: every file is compared on its own. */
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        char path[1100];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(path, t);
            continue;
        }
        size_t len = strlen(path);
        if (len > 5 && strcmp(path + len - 5, ".evtx") == 0)
            compare_file(path, t);
    }
    closedir(dp);
}

static void
test_regression_data(void **state)
{
    (void)state;
    /* reader.c refers to the EVTX ops weakly (so the library links without evtx.c); this
     * strong reference makes sure evtx.o is linked into the test. */
    assert_string_equal(bn__reader_evtx.name, "evtx");
    struct tally t = {0};
    walk(root, &t);
    double share = t.pairs ? (double)t.matched / (double)t.pairs : 0.0;
    printf("evtx regression: %lu files, %lu records, %lu/%lu pairs matched (%.3f%%), %lu files "
           "with a record count mismatch\n",
           t.files, t.records, t.matched, t.pairs, share * 100.0, t.files_count_mismatch);
    assert_true(t.files >= 100);
    assert_int_equal(t.files_count_mismatch, 0);
    assert_true(share >= 0.99);
}

int
main(void)
{
    const char *env = getenv("BN_CORPORA");
    snprintf(root, sizeof(root), "%s/sigma/regression/regression_data",
             env ? env : "../shared/corpora");
    struct stat st;
    if (stat(root, &st) != 0) {
        printf("skipped: corpora not found at '%s' (set BN_CORPORA)\n", root);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regression_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
