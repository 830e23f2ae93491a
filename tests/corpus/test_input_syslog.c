/*
 * test_input_syslog.c - the syslog reader against loghub's Linux and OpenSSH logs: the
 * timestamp, host, program, pid and message of every line must equal loghub's structured
 * CSV. Prints the share of lines that agree; skips (77) without ../shared/corpora.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/error.h"
#include "bannin/reader.h"

static const char *corpora;

/* Splits one CSV line (RFC 4180 quoting) into at most max fields, in place. */
static int
csv_split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        if (*p == '"') {
            char *o = ++p;
            f[n++] = o;
            for (;;) {
                if (*p == '\0')
                    break;
                if (*p == '"' && p[1] == '"') {
                    *o++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *o++ = *p++;
                }
            }
            *o = '\0';
            if (*p == ',')
                p++;
            else
                break;
        } else {
            f[n++] = p;
            char *c = strchr(p, ',');
            if (!c)
                break;
            *c = '\0';
            p = c + 1;
        }
    }
    return n;
}

static bool
kv_is(const struct bn_record *rec, const char *k, const char *want)
{
    const struct bn_kv *kv = bn_record_get(rec, k);
    if (!kv)
        return *want == '\0';
    return kv->val_len == strlen(want) && memcmp(kv->val, want, kv->val_len) == 0;
}

/* "Jun  7 15:16:01" against month, day, time columns. */
static bool
ts_is(const struct bn_record *rec, const char *mon, const char *day, const char *tm)
{
    const struct bn_kv *kv = bn_record_get(rec, "timestamp");
    if (!kv)
        return false;
    char want[64], got[64];
    snprintf(want, sizeof(want), "%s %2s %s", mon, day, tm);
    snprintf(got, sizeof(got), "%.*s", (int)kv->val_len, kv->val);
    return strcmp(want, got) == 0;
}

static void
run(const char *name, bool openssh)
{
    char log[1024], csv[1024];
    snprintf(log, sizeof(log), "%s/logs/syslog/loghub/%s/%s_2k.log", corpora, name, name);
    snprintf(csv, sizeof(csv), "%s/logs/syslog/loghub/%s/%s_2k.log_structured.csv", corpora,
             name, name);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    struct bn_reader *r;
    struct bn_diag d;
    assert_int_equal(bn_reader_open(&r, log, BN_FMT_AUTO, &d), 0);
    assert_int_equal(bn_reader_format(r), BN_FMT_SYSLOG);
    char line[8192];
    assert_non_null(fgets(line, sizeof(line), f)); /* header */
    int total = 0, agree = 0, shown = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *c[12];
        int n = csv_split(line, c, 12);
        struct bn_record *rec;
        int rc = bn_reader_next(r, &rec, &d);
        total++;
        if (rc) {
            if (shown++ < 5)
                printf("  line %d: reader error %s\n", total, d.msg);
            continue;
        }
        bool ok;
        if (openssh) /* LineId,Date,Day,Time,Component(host),Pid,Content */
            ok = n >= 7 && ts_is(rec, c[1], c[2], c[3]) && kv_is(rec, "host", c[4]) &&
                 kv_is(rec, "program", "sshd") && kv_is(rec, "pid", c[5]) &&
                 kv_is(rec, "message", c[6]);
        else /* LineId,Month,Date,Time,Level(host),Component(program),PID,Content */
            ok = n >= 8 && ts_is(rec, c[1], c[2], c[3]) && kv_is(rec, "host", c[4]) &&
                 kv_is(rec, "program", c[5]) && kv_is(rec, "pid", c[6]) &&
                 kv_is(rec, "message", c[7]);
        if (ok)
            agree++;
        else if (shown++ < 5)
            printf("  line %d differs: %.*s\n", total, (int)rec->raw_len, rec->raw);
    }
    struct bn_record *rec;
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    printf("syslog %s: %d/%d lines agree with the loghub CSV (%.2f%%)\n", name, agree, total,
           100.0 * agree / (total ? total : 1));
    assert_int_equal(total, 2000);
    assert_int_equal(agree, total);
    bn_reader_free(r);
    fclose(f);
}

static void
test_loghub_linux(void **state)
{
    (void)state;
    run("Linux", false);
}

static void
test_loghub_openssh(void **state)
{
    (void)state;
    run("OpenSSH", true);
}

int
main(void)
{
    corpora = getenv("BN_CORPORA");
    if (!corpora)
        corpora = "../shared/corpora";
    char probe[1024];
    snprintf(probe, sizeof(probe), "%s/logs/syslog/loghub/Linux/Linux_2k.log", corpora);
    FILE *f = fopen(probe, "r");
    if (!f) {
        printf("skipped: corpus '%s' not found (set BN_CORPORA)\n", probe);
        return 77;
    }
    fclose(f);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loghub_linux),
        cmocka_unit_test(test_loghub_openssh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
