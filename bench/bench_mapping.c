/*
 * bench_mapping.c - cost of the event builder (bn_evbuilder_build) alone, the step between
 * the reader and the engine in `bannin hunt`.
 *
 *   bench_mapping [-n records] [-w window] [-p passes] FILE [rule-path...]
 *
 * FILE is read once (any format bn_reader_open detects, e.g. an NDJSON file made by
 * `bench/gen_events.py windows 200000 /tmp/w.ndjson`); up to n records are copied into
 * memory. The rules (default: SigmaHQ's rule directories under ../shared/corpora) are compiled
 * only to get the field table hunt builds events against. Then:
 *   hot:    records are built in windows of w records that stay in cache (as a record just
 *           parsed is), each window warmed once and then built p times: ns per build.
 *   stream: the file is read again, timing read+build against read alone: the difference
 *           per record (noisier: includes cache misses on freshly parsed records).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/mapping.h"
#include "bannin/reader.h"
#include "bannin/sigma.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
pdiag(void *ctx, const struct bn_diag *d)
{
    (void)d;
    (*(size_t *)ctx)++;
}

static void
cdiag(void *ctx, const struct sigma_rule *r, const struct bn_diag *d)
{
    (void)r;
    (void)d;
    (*(size_t *)ctx)++;
}

/* Copies src's pairs into one malloc'd block so the record outlives the reader's buffers. */
static int
keep_record(struct bn_record *dst, const struct bn_record *src)
{
    size_t bytes = (size_t)src->n * sizeof(struct bn_kv);
    for (uint32_t i = 0; i < src->n; i++)
        bytes += (size_t)src->kv[i].key_len + src->kv[i].val_len + 2;
    char *blk = malloc(bytes ? bytes : 1);
    if (!blk)
        return BN_ENOMEM;
    memset(dst, 0, sizeof(*dst));
    dst->kv = (struct bn_kv *)(void *)blk;
    char *p = blk + (size_t)src->n * sizeof(struct bn_kv);
    for (uint32_t i = 0; i < src->n; i++) {
        const struct bn_kv *s = &src->kv[i];
        struct bn_kv *d = &dst->kv[i];
        *d = *s;
        memcpy(p, s->key, s->key_len);
        p[s->key_len] = 0;
        d->key = p;
        p += s->key_len + 1;
        if (s->val) {
            memcpy(p, s->val, s->val_len);
            p[s->val_len] = 0;
            d->val = p;
            p += s->val_len + 1;
        }
    }
    dst->n = dst->cap = src->n;
    dst->ts_ns = src->ts_ns;
    dst->format = src->format;
    dst->file = src->file;
    dst->index = src->index;
    return 0;
}

/* Reads path through; builds each record when eb is set. Returns seconds, or < 0. */
static double
stream(const char *path, size_t max, struct bn_evbuilder *eb, struct bn_event *ev,
       uint64_t *sum)
{
    struct bn_reader *r;
    struct bn_diag d;
    if (bn_reader_open(&r, path, BN_FMT_AUTO, &d))
        return -1;
    struct bn_record *rec;
    size_t n = 0;
    int rc;
    double t0 = now();
    while (n < max && (rc = bn_reader_next(r, &rec, &d)) != BN_EOF) {
        if (rc) {
            if (bn_reader_done(r))
                break;
            continue;
        }
        if (eb) {
            if (bn_evbuilder_build(eb, rec, ev))
                return -1;
            *sum += ev->nvals;
        }
        n++;
    }
    double t = now() - t0;
    bn_reader_free(r);
    return t;
}

int
main(int argc, char **argv)
{
    size_t nmax = 200000, window = 256, passes = 16;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-n"))
            nmax = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-w"))
            window = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-p"))
            passes = strtoull(argv[i + 1], NULL, 10);
        else
            break;
    }
    if (i >= argc || !nmax || !window || !passes) {
        fprintf(stderr, "usage: bench_mapping [-n records] [-w window] [-p passes] FILE "
                        "[rule-path...]\n");
        return 2;
    }
    const char *path = argv[i++];
    static const char *const def_rules[] = {
        "../shared/corpora/sigma/rules/rules",
        "../shared/corpora/sigma/rules/rules-emerging-threats",
        "../shared/corpora/sigma/rules/rules-threat-hunting",
        "../shared/corpora/sigma/rules/rules-dfir",
        "../shared/corpora/sigma/rules/rules-compliance",
    };
    const char *const *rpaths = i < argc ? (const char *const *)argv + i : def_rules;
    size_t nrpaths = i < argc ? (size_t)(argc - i) : BN_ARRAY_SIZE(def_rules);

    struct sigma_rule **rules = NULL;
    size_t nrules = 0, pdiags = 0, cdiags = 0;
    if (sigma_parse_paths(rpaths, nrpaths, &rules, &nrules, pdiag, &pdiags) || !nrules) {
        fprintf(stderr, "bench: cannot load rules (run from the repository root)\n");
        return 1;
    }
    struct bn_ruleset *rs = NULL;
    int rc = bn_ruleset_compile(&rs, rules, nrules, NULL, cdiag, &cdiags);
    bn_free(rules);
    if (rc) {
        fprintf(stderr, "bench: compile failed: %s\n", bn_strerror(rc));
        return 1;
    }
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    struct bn_mapping *m;
    struct bn_diag d;
    char dbuf[512];
    if (bn_mapping_load_default(&m, &d)) {
        fprintf(stderr, "bench: %s\n", bn_diag_format(&d, dbuf, sizeof(dbuf)));
        return 1;
    }

    /* keep the records */
    struct bn_record *recs = calloc(nmax, sizeof(*recs));
    struct bn_reader *r;
    if (!recs || bn_reader_open(&r, path, BN_FMT_AUTO, &d)) {
        fprintf(stderr, "bench: cannot read '%s'\n", path);
        return 1;
    }
    size_t n = 0, pairs = 0;
    struct bn_record *rec;
    while (n < nmax && (rc = bn_reader_next(r, &rec, &d)) != BN_EOF) {
        if (rc) {
            if (bn_reader_done(r))
                break;
            continue;
        }
        if (keep_record(&recs[n], rec))
            return 1;
        pairs += rec->n;
        n++;
    }
    bn_reader_free(r);
    if (!n) {
        fprintf(stderr, "bench: no records in '%s'\n", path);
        return 1;
    }

    struct bn_evbuilder *eb = bn_evbuilder_new(m, ft);
    struct bn_event ev;
    if (!eb || bn_event_init(&ev, bn_fieldtab_count(ft)))
        return 1;
    uint64_t sum = 0, lsum = 0;
    double best = 1e30;
    for (int round = 0; round < 3; round++) {
        double t = 0;
        for (size_t w0 = 0; w0 < n; w0 += window) {
            size_t w1 = w0 + window < n ? w0 + window : n;
            for (size_t k = w0; k < w1; k++)
                if (bn_evbuilder_build(eb, &recs[k], &ev))
                    return 1;
            double t0 = now();
            for (size_t p = 0; p < passes; p++)
                for (size_t k = w0; k < w1; k++) {
                    if (bn_evbuilder_build(eb, &recs[k], &ev))
                        return 1;
                    sum += ev.nvals;
                    lsum += ev.ls_id;
                }
            t += now() - t0;
        }
        if (t < best)
            best = t;
    }
    double hot_ns = best * 1e9 / ((double)n * (double)passes);

    double read_only = 1e30, read_build = 1e30;
    for (int round = 0; round < 3; round++) {
        double a = stream(path, n, NULL, NULL, &sum);
        double b = stream(path, n, eb, &ev, &sum);
        if (a < 0 || b < 0) {
            fprintf(stderr, "bench: stream failed\n");
            return 1;
        }
        read_only = a < read_only ? a : read_only;
        read_build = b < read_build ? b : read_build;
    }

    printf("rules: %zu parsed, %zu fields; records: %zu, %.1f pairs/record\n", nrules,
           (size_t)bn_fieldtab_count(ft), n, (double)pairs / (double)n);
    printf("hot    build: %.1f ns/record (window %zu, %zu passes, best of 3)\n", hot_ns, window,
           passes);
    printf("stream read:  %.1f ns/record, read+build %.1f ns/record, build %.1f ns/record\n",
           read_only * 1e9 / (double)n, read_build * 1e9 / (double)n,
           (read_build - read_only) * 1e9 / (double)n);
    printf("(checksum %llu %llu)\n", (unsigned long long)sum, (unsigned long long)lsum);

    bn_event_release(&ev);
    bn_evbuilder_free(eb);
    for (size_t k = 0; k < n; k++)
        free(recs[k].kv);
    free(recs);
    bn_mapping_free(m);
    bn_ruleset_free(rs);
    return 0;
}
