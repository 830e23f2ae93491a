/*
 * test_input_auditd.c - the auditd reader against the audit corpora:
 *   - auparse (audit-userspace): event grouping and raw field values of test.log and
 *     test4.log as walked in auparse_test.ref (tests 4 and 11);
 *   - go-libaudit testdata (normal, out-of-order, lost messages, serial roll-over): every
 *     record lands in the event of its (time, serial);
 *   - go-libaudit aucoalesce YAML cases: each case is one event;
 *   - go-libaudit auparse goldens: field values of each record versus "data" where
 *     go-libaudit keeps the raw value.
 * Prints the agreement shares; skips (77) without ../shared/corpora.
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

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

static bool
has_kv(const struct bn_record *rec, const char *k, const char *v, size_t vlen)
{
    size_t len = strlen(k);
    for (uint32_t i = 0; i < rec->n; i++)
        if (rec->kv[i].key_len == len && memcmp(rec->kv[i].key, k, len) == 0 &&
            rec->kv[i].val_len == vlen && memcmp(rec->kv[i].val, v, vlen) == 0)
            return true;
    return false;
}

/* Records (lines) in the raw bytes of an event. */
static unsigned
records_of(const struct bn_record *rec)
{
    unsigned n = 1;
    for (size_t i = 0; i < rec->raw_len; i++)
        n += rec->raw[i] == '\n';
    return n;
}

/* --- auparse reference --- */

struct refev {
    char serial[32];
    unsigned nrec;
};

static void
auparse_case(const char *logname, const char *section, unsigned *ev_ok, unsigned *ev_total,
             unsigned *f_ok, unsigned *f_total)
{
    char path[1024];
    size_t n;
    snprintf(path, sizeof(path), "%s/logs/auditd/audit-userspace/auparse/test/auparse_test.ref",
             corpora);
    char *ref = slurp(path, &n);
    assert_non_null(ref);
    char *s = strstr(ref, section);
    assert_non_null(s);
    char *e = strstr(s, " Done");
    assert_non_null(e);
    *e = '\0';

    snprintf(path, sizeof(path), "%s/logs/auditd/audit-userspace/auparse/test/%s", corpora,
             logname);
    struct bn_reader *r;
    struct bn_diag d;
    assert_int_equal(bn_reader_open(&r, path, BN_FMT_AUTO, &d), 0);
    assert_int_equal(bn_reader_format(r), BN_FMT_AUDITD);
    /* Our events by serial. */
    struct bn_record *recs[64];
    char *raws[64];
    unsigned nev = 0;
    struct bn_record *rec;
    int rc;
    /* Copy each event out: a record is only valid until the next call. */
    static char keys[64][65536];
    static struct bn_kv kvs[64][4096];
    static struct bn_record store[64];
    while ((rc = bn_reader_next(r, &rec, &d)) != BN_EOF) {
        assert_int_equal(rc, 0);
        assert_true(nev < 64);
        store[nev] = *rec;
        size_t off = 0;
        for (uint32_t i = 0; i < rec->n; i++) {
            kvs[nev][i] = rec->kv[i];
            memcpy(keys[nev] + off, rec->kv[i].key, rec->kv[i].key_len);
            kvs[nev][i].key = keys[nev] + off;
            off += rec->kv[i].key_len;
            memcpy(keys[nev] + off, rec->kv[i].val ? rec->kv[i].val : "", rec->kv[i].val_len);
            kvs[nev][i].val = keys[nev] + off;
            off += rec->kv[i].val_len;
        }
        raws[nev] = strndup(rec->raw, rec->raw_len);
        store[nev].raw = raws[nev];
        store[nev].kv = kvs[nev];
        recs[nev] = &store[nev];
        nev++;
    }
    /* Walk the reference. */
    const struct bn_record *cur = NULL;
    char type[64] = "";
    for (char *line = strtok_r(s, "\n", &e); line; line = strtok_r(NULL, "\n", &e)) {
        unsigned k;
        char ts[64];
        if (sscanf(line, "event %*u has %u records", &k) == 1) {
            (*ev_total)++;
            cur = NULL;
            char *tl = strstr(e, "event time: ");
            if (!tl || sscanf(tl, "event time: %63[^,]", ts) != 1)
                continue;
            const char *serial = strchr(ts, ':') + 1;
            for (unsigned i = 0; i < nev; i++) {
                const struct bn_kv *kv = bn_record_get(recs[i], "serial");
                if (kv && kv->val_len == strlen(serial) && !memcmp(kv->val, serial, kv->val_len))
                    cur = recs[i];
            }
            if (cur && records_of(cur) == k)
                (*ev_ok)++;
            else
                printf("  %s: event %s: want %u records, got %u\n", logname, ts, k,
                       cur ? records_of(cur) : 0);
            continue;
        }
        if (sscanf(line, "    record %*u of type %*u(%63[^)])", type) == 1)
            continue;
        if (strncmp(line, "        ", 8) != 0 || !cur)
            continue;
        char *f = line + 8;
        char *eq = strchr(f, '=');
        if (!eq || strncmp(f, "type=", 5) == 0)
            continue;
        /* "name=value" or "name=value (interpretation)": keep the raw value. */
        char *v = eq + 1;
        size_t vlen = strlen(v);
        char *paren = strstr(v, " (");
        if (paren && v[vlen - 1] == ')')
            vlen = (size_t)(paren - v);
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
            v++;
            vlen -= 2;
        }
        char key[256];
        snprintf(key, sizeof(key), "%s.%.*s", type, (int)(eq - f), f);
        (*f_total)++;
        if (has_kv(cur, key, v, vlen))
            (*f_ok)++;
        else if (*f_total - *f_ok <= 8)
            printf("  %s: %s: want '%.*s'\n", logname, key, (int)vlen, v);
    }
    for (unsigned i = 0; i < nev; i++)
        free(raws[i]);
    bn_reader_free(r);
    free(ref);
}

static void
test_auparse_reference(void **state)
{
    (void)state;
    unsigned ev_ok = 0, ev_total = 0, f_ok = 0, f_total = 0;
    auparse_case("test.log", "Starting Test 4,", &ev_ok, &ev_total, &f_ok, &f_total);
    auparse_case("test4.log", "Starting Test 11,", &ev_ok, &ev_total, &f_ok, &f_total);
    printf("auditd vs auparse: events grouped alike %u/%u (%.1f%%), raw fields equal %u/%u "
           "(%.1f%%)\n",
           ev_ok, ev_total, 100.0 * ev_ok / ev_total, f_ok, f_total, 100.0 * f_ok / f_total);
    assert_int_equal(ev_ok, ev_total);
    assert_true(ev_total >= 9);
    assert_true(f_ok * 100 >= f_total * 95);
}

/* --- go-libaudit testdata: grouping by (time, serial) --- */

static void
test_golibaudit_grouping(void **state)
{
    (void)state;
    static const char *files[] = {"normal.log", "out_of_order.log", "lost_messages.log",
                                  "rollover.log"};
    unsigned ok = 0, total = 0;
    for (size_t fi = 0; fi < sizeof(files) / sizeof(files[0]); fi++) {
        char path[1024];
        size_t n;
        snprintf(path, sizeof(path), "%s/logs/auditd/go-libaudit/testdata/%s", corpora,
                 files[fi]);
        char *text = slurp(path, &n);
        assert_non_null(text);
        struct bn_reader *r;
        struct bn_diag d;
        assert_int_equal(bn_reader_open(&r, path, BN_FMT_AUDITD, &d), 0);
        struct bn_record *rec;
        unsigned events = 0, lines = 0;
        for (char *p = text; *p; p++)
            lines += *p == '\n';
        unsigned records = 0;
        while (bn_reader_next(r, &rec, &d) == 0) {
            events++;
            total++;
            /* Every record of the event carries its serial; count the file's lines with it. */
            const struct bn_kv *kv = bn_record_get(rec, "serial");
            assert_non_null(kv);
            char needle[64];
            snprintf(needle, sizeof(needle), ":%.*s):", (int)kv->val_len, kv->val);
            unsigned want = 0;
            for (char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
                want++;
            unsigned got = records_of(rec);
            records += got;
            if (want == got)
                ok++;
            else
                printf("  %s: serial %.*s: want %u records, got %u\n", files[fi],
                       (int)kv->val_len, kv->val, want, got);
        }
        assert_int_equal(records, lines);
        bn_reader_free(r);
        free(text);
    }
    printf("auditd vs go-libaudit testdata: %u/%u events hold exactly their serial's records\n",
           ok, total);
    assert_int_equal(ok, total);
}

/* --- aucoalesce YAML: one case, one event --- */

static void
test_aucoalesce_cases(void **state)
{
    (void)state;
    static const char *files[] = {
        "rhel-7-linux-3.10.0.yaml", "ubuntu-16.04-linux-4.13.0.yaml",
        "ubuntu-16.10-linux-4.8.0.yaml", "ubuntu-17.04-linux-4.10.0.yaml",
        "ubuntu-20.04.6-linux-5.15.0-1034-gcp.yaml", "ubuntu-21.10-linux-5.13.yaml",
        "ubuntu-24.04-linux-6.8.0.yaml", "random-internet.yaml",
    };
    unsigned ok = 0, total = 0;
    for (size_t fi = 0; fi < sizeof(files) / sizeof(files[0]); fi++) {
        char path[1024];
        size_t n;
        snprintf(path, sizeof(path), "%s/logs/auditd/go-libaudit/aucoalesce/testdata/%s",
                 corpora, files[fi]);
        char *y = slurp(path, &n);
        if (!y)
            continue;
        /* Cases: "  name: |" followed by lines indented by four spaces. */
        char *save, *buf = malloc(n + 1);
        size_t bl = 0;
        bool in = false;
        for (char *line = strtok_r(y, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
            bool body = line && strncmp(line, "    ", 4) == 0;
            if (in && !body && line && line[0] == '\0')
                continue;
            if (in && !body) {
                struct bn_reader *r;
                struct bn_diag d;
                assert_int_equal(bn_reader_open_mem(&r, buf, bl, files[fi], BN_FMT_AUTO, &d), 0);
                struct bn_record *rec;
                unsigned events = 0, recs = 0, lines = 0;
                for (size_t i = 0; i < bl; i++)
                    lines += buf[i] == '\n';
                while (bn_reader_next(r, &rec, &d) == 0) {
                    events++;
                    recs += records_of(rec);
                }
                total++;
                if (events == 1 && recs == lines)
                    ok++;
                else
                    printf("  %s: a case gave %u events of %u records (%u lines)\n", files[fi],
                           events, recs, lines);
                bn_reader_free(r);
                in = false;
                bl = 0;
            }
            if (!line)
                break;
            if (body && in) {
                size_t l = strlen(line + 4);
                memcpy(buf + bl, line + 4, l);
                bl += l;
                buf[bl++] = '\n';
            } else if (!body && strncmp(line, "  ", 2) == 0 && strstr(line, ": |")) {
                in = true;
            }
        }
        free(buf);
        free(y);
    }
    printf("auditd vs aucoalesce cases: %u/%u cases read as exactly one event\n", ok, total);
    assert_true(total >= 40);
    assert_int_equal(ok, total);
}

/* --- go-libaudit auparse goldens: per-record fields --- */

static void
test_golibaudit_fields(void **state)
{
    (void)state;
    static const char *logs[] = {"audit-rhel6.log", "audit-rhel7.log", "audit-ubuntu16.log",
                                 "audit-ubuntu17.log", "test2.log", "test3.log"};
    /* Fields go-libaudit keeps raw (it renames or interprets others: auid, ses, res...). */
    static const char *raw_fields[] = {"pid", "ppid", "uid", "gid", "exe", "comm", "cwd",
                                       "name", "key", "acct", "hostname", "addr", "terminal",
                                       "op", "items", "exit", "inode", "tty", "argc", "a0",
                                       "a1", "a2", "proctitle", "cmd", "mode"};
    unsigned ok = 0, total = 0;
    for (size_t li = 0; li < sizeof(logs) / sizeof(logs[0]); li++) {
        char path[1024];
        size_t n;
        snprintf(path, sizeof(path), "%s/logs/auditd/go-libaudit/auparse/testdata/%s.golden",
                 corpora, logs[li]);
        struct bn_reader *g;
        struct bn_diag d;
        if (bn_reader_open(&g, path, BN_FMT_JSON, &d) != 0)
            continue;
        struct bn_record *grec;
        while (bn_reader_next(g, &grec, &d) == 0) {
            const struct bn_kv *rt = bn_record_get(grec, "record_type");
            const struct bn_kv *raw = bn_record_get(grec, "raw_msg");
            if (!rt || !raw)
                continue;
            /* Rebuild the log line and read it alone. */
            char line[65536];
            int ln = snprintf(line, sizeof(line), "type=");
            for (uint32_t i = 0; i < rt->val_len && ln < 200; i++) {
                char c = rt->val[i];
                line[ln++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
            }
            ln += snprintf(line + ln, sizeof(line) - (size_t)ln, " msg=%.*s\n",
                           (int)raw->val_len, raw->val);
            struct bn_reader *r;
            if (bn_reader_open_mem(&r, line, (size_t)ln, "golden", BN_FMT_AUDITD, &d) != 0)
                continue;
            struct bn_record *rec;
            if (bn_reader_next(r, &rec, &d) == 0) {
                const struct bn_kv *ty = bn_record_get(rec, "type");
                for (size_t f = 0; f < sizeof(raw_fields) / sizeof(raw_fields[0]); f++) {
                    char gk[128], ok_key[256];
                    snprintf(gk, sizeof(gk), "data.%s", raw_fields[f]);
                    const struct bn_kv *gv = bn_record_get(grec, gk);
                    if (!gv || gv->type != BN_VT_STR || !ty)
                        continue;
                    snprintf(ok_key, sizeof(ok_key), "%.*s.%s", (int)ty->val_len, ty->val,
                             raw_fields[f]);
                    if (!bn_record_get(rec, ok_key))
                        continue; /* a field go-libaudit derived, not one in the line */
                    total++;
                    if (has_kv(rec, ok_key, gv->val, gv->val_len))
                        ok++;
                    else if (total - ok <= 8)
                        printf("  %s: %s: want '%.*s'\n", logs[li], ok_key, (int)gv->val_len,
                               gv->val);
                }
            }
            bn_reader_free(r);
        }
        bn_reader_free(g);
        (void)n;
    }
    printf("auditd vs go-libaudit goldens: %u/%u raw field values equal (%.1f%%)\n", ok, total,
           total ? 100.0 * ok / total : 0.0);
    assert_true(total >= 100);
    assert_true(ok * 100 >= total * 95);
}

int
main(void)
{
    corpora = getenv("BN_CORPORA");
    if (!corpora)
        corpora = "../shared/corpora";
    char probe[1024];
    snprintf(probe, sizeof(probe), "%s/logs/auditd/go-libaudit/testdata/normal.log", corpora);
    FILE *f = fopen(probe, "r");
    if (!f) {
        printf("skipped: corpus '%s' not found (set BN_CORPORA)\n", probe);
        return 77;
    }
    fclose(f);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auparse_reference),
        cmocka_unit_test(test_golibaudit_grouping),
        cmocka_unit_test(test_aucoalesce_cases),
        cmocka_unit_test(test_golibaudit_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
