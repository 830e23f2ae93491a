/*
 * fuzz_agent_baseline_diff.c - libFuzzer target for the baseline line diff: the input is two
 * files (the first byte picks where it is split); the unified diff of the first to the second
 * must apply back to exactly the second, for any bytes (NULs, no final newline, CRs).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/respond_baseline.h"
#include "bannin/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One line of the diff: [p, p + n) without its '\n'. */
static bool
next_line(const char **p, const char *end, const char **l, size_t *n)
{
    if (*p >= end)
        return false;
    const char *e = memchr(*p, '\n', (size_t)(end - *p));
    *l = *p;
    *n = e ? (size_t)(e - *p) : (size_t)(end - *p);
    *p = e ? e + 1 : end;
    return true;
}

static const char nonl[] = "\\ No newline at end of file";

/* Applies diff to a into out (capacity an + dn); returns the length or -1. */
static long
apply(const char *a, size_t an, const char *diff, size_t dn, char *out)
{
    const char *p = diff, *end = diff + dn, *l;
    size_t n, ai = 0, used = 0;
    bool hunks = false;
    while (next_line(&p, end, &l, &n)) {
        if (n >= 4 && memcmp(l, "@@ -", 4) == 0) {
            hunks = true;
            char num[24];
            size_t k = 0;
            while (k + 4 < n && k < sizeof num - 1 && l[4 + k] >= '0' && l[4 + k] <= '9') {
                num[k] = l[4 + k];
                k++;
            }
            num[k] = '\0';
            unsigned long s = strtoul(num, NULL, 10);
            bool empty = k + 6 < n && l[4 + k] == ',' && l[5 + k] == '0' && l[6 + k] == ' ';
            size_t line = empty ? s : (s ? s - 1 : 0), cur = 0;
            /* copy a up to the start line */
            size_t pos = 0;
            for (size_t i = 0; i < an && cur < line; i++)
                if (a[i] == '\n' && ++cur == line)
                    pos = i + 1;
            if (line == 0)
                pos = 0;
            if (pos < ai)
                return -1;
            memcpy(out + used, a + ai, pos - ai);
            used += pos - ai;
            ai = pos;
            continue;
        }
        if (!hunks || n == 0)
            continue;
        /* the content, with '\n' unless the next line says there is none */
        const char *peek = p, *l2;
        size_t n2;
        bool nl = !(next_line(&peek, end, &l2, &n2) && n2 == sizeof nonl - 1 &&
                    memcmp(l2, nonl, n2) == 0);
        size_t cl = n - 1 + (nl ? 1 : 0);
        if (l[0] == ' ' || l[0] == '-') {
            if (ai + cl > an || memcmp(a + ai, l + 1, n - 1) != 0 || (nl && a[ai + n - 1] != '\n'))
                return -1;
            if (!nl && ai + cl != an)
                return -1;
            if (l[0] == ' ') {
                memcpy(out + used, a + ai, cl);
                used += cl;
            }
            ai += cl;
        } else if (l[0] == '+') {
            memcpy(out + used, l + 1, n - 1);
            used += n - 1;
            if (nl)
                out[used++] = '\n';
        }
    }
    memcpy(out + used, a + ai, an - ai);
    return (long)(used + an - ai);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    size_t cut = (size_t)data[0] * (size - 1) / 255;
    const char *a = (const char *)data + 1, *b = a + cut;
    size_t an = cut, bn = size - 1 - cut;
    struct bn_buf d;
    bn_buf_init(&d, 1 << 22);
    bool approx;
    int rc = resp_baseline_udiff(a, an, b, bn, "f", false, &d, &approx);
    if (rc != 0)
        abort();
    if (an == bn && memcmp(a, b, an) == 0) {
        if (d.len != 0)
            abort();
    } else {
        char *out = malloc(an + d.len + 1);
        long got = apply(a, an, d.p, d.len, out);
        if (got != (long)bn || memcmp(out, b, bn) != 0)
            abort();
        free(out);
    }
    bn_buf_release(&d);
    return 0;
}
