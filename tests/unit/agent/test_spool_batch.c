/*
 * test_spool_batch.c - agent_spool_append_many against n single appends on the same input:
 * the same seqs, the same refusals, the same counters (appended, dropped by priority, syncs,
 * compactions, bytes, segments, synced and next seq) and byte-identical segment files, with
 * segment rolls, shedding by priority, refusals of oversized and unsheddable records, the
 * count and time sync policies and batches longer than one writev chunk. Then torn-tail
 * recovery of a batch cut anywhere in its last write.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/spool.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

static char dir_a[256], dir_b[256];

static void
rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.') {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(dir);
}

static int
setup(void **state)
{
    snprintf(dir_a, sizeof(dir_a), "/tmp/bn-spool-batch-a-XXXXXX");
    snprintf(dir_b, sizeof(dir_b), "/tmp/bn-spool-batch-b-XXXXXX");
    assert_non_null(mkdtemp(dir_a));
    assert_non_null(mkdtemp(dir_b));
    return 0;
}

static int
teardown(void **state)
{
    rm_dir(dir_a);
    rm_dir(dir_b);
    return 0;
}

static int64_t clock_ms;

static int64_t
fake_clock(void *ctx)
{
    return clock_ms;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

struct input {
    size_t n;
    struct iovec *iov;
    enum agent_prio *prio;
    size_t *batch_end; /* batch boundaries: record indexes where a batch ends */
    size_t nbatch;
};

static uint8_t big[AGENT_SPOOL_RECORD_MAX + 1];

/* n records: mostly small, some up to a few KB, a few over the record limit; priorities
 * mixed, with runs of critical ones so that lower classes run out and records are refused. */
static void
make_input(struct input *in, size_t n, size_t max_batch)
{
    in->n = n;
    in->iov = calloc(n, sizeof(*in->iov));
    in->prio = calloc(n, sizeof(*in->prio));
    in->batch_end = calloc(n, sizeof(*in->batch_end));
    assert_non_null(in->iov);
    assert_non_null(in->prio);
    assert_non_null(in->batch_end);
    memset(big, 'q', sizeof(big));
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rnd();
        size_t len = r % 100 < 70 ? rnd() % 300 : r % 100 < 98 ? rnd() % 3000 : rnd() % 9000;
        if (r % 997 == 0)
            len = AGENT_SPOOL_RECORD_MAX + 1; /* refused: over the record limit */
        in->iov[i].iov_base = big + (i % 64);
        in->iov[i].iov_len = len;
        if (len && len <= AGENT_SPOOL_RECORD_MAX) {
            /* distinct content so byte comparisons mean something */
            char *p = malloc(len);
            assert_non_null(p);
            for (size_t j = 0; j < len; j++)
                p[j] = (char)('a' + (i + j) % 26);
            in->iov[i].iov_base = p;
        }
        in->prio[i] = (i / 500) % 3 == 2 ? AGENT_PRIO_CRITICAL : (enum agent_prio)(rnd() % 4);
    }
    size_t i = 0;
    in->nbatch = 0;
    while (i < n) {
        size_t b = 1 + rnd() % max_batch;
        i = i + b > n ? n : i + b;
        in->batch_end[in->nbatch++] = i;
    }
}

static void
free_input(struct input *in)
{
    for (size_t i = 0; i < in->n; i++)
        if (in->iov[i].iov_base < (void *)big || in->iov[i].iov_base > (void *)(big + 64))
            free(in->iov[i].iov_base);
    free(in->iov);
    free(in->prio);
    free(in->batch_end);
}

static struct agent_spool *
open_at(const char *dir, uint64_t max, uint32_t seg, uint32_t sync_every)
{
    struct agent_spool_opts o;
    struct agent_spool *s;
    agent_spool_opts_init(&o);
    o.dir = dir;
    o.max_bytes = max;
    o.segment_bytes = seg;
    o.sync_every = sync_every;
    o.sync_ms = 50;
    o.now_ms = fake_clock;
    assert_int_equal(agent_spool_open(&s, &o), 0);
    return s;
}

/* Single appends; seqs[i] = seq or 0 when refused. Acks now and then, like the uplink. */
static void
run_single(struct agent_spool *s, const struct input *in, uint64_t *seqs)
{
    size_t b = 0;
    clock_ms = 1000;
    for (size_t i = 0; i < in->n; i++) {
        int rc = agent_spool_append(s, in->iov[i].iov_base, in->iov[i].iov_len, in->prio[i],
                                    &seqs[i]);
        assert_true(rc == 0 || rc == BN_ETOOBIG);
        assert_true(rc == 0 ? seqs[i] != 0 : seqs[i] == 0);
        if (i + 1 == in->batch_end[b]) {
            clock_ms += 7 + (int64_t)(b % 5) * 13;
            if (b % 40 == 39) {
                struct agent_spool_stats st;
                agent_spool_stats(s, &st);
                assert_int_equal(agent_spool_ack(s, st.next_seq - 1 - (st.next_seq - 1) / 3),
                                 0);
            }
            b++;
        }
    }
}

static void
run_batched(struct agent_spool *s, const struct input *in, uint64_t *seqs)
{
    size_t start = 0;
    clock_ms = 1000;
    for (size_t b = 0; b < in->nbatch; b++) {
        size_t i = start, end = in->batch_end[b];
        while (i < end) {
            uint64_t first = 0;
            size_t done = 0;
            int rc = agent_spool_append_many(s, in->iov + i, in->prio + i, end - i, &first,
                                             &done);
            assert_true(rc == 0 || rc == BN_ETOOBIG);
            assert_true(done <= end - i);
            for (size_t j = 0; j < done; j++)
                seqs[i + j] = first + j;
            if (rc == 0) {
                assert_int_equal(done, end - i);
                i = end;
            } else {
                seqs[i + done] = 0; /* refused */
                i += done + 1;
            }
        }
        start = end;
        clock_ms += 7 + (int64_t)(b % 5) * 13;
        if (b % 40 == 39) {
            struct agent_spool_stats st;
            agent_spool_stats(s, &st);
            assert_int_equal(agent_spool_ack(s, st.next_seq - 1 - (st.next_seq - 1) / 3), 0);
        }
    }
}

/* Asserts that directories a and b hold the same files with the same bytes. */
static void
same_files(const char *a, const char *b)
{
    DIR *d = opendir(a);
    struct dirent *de;
    int files = 0, files_b = 0;
    assert_non_null(d);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char pa[512], pb[512];
        snprintf(pa, sizeof(pa), "%s/%s", a, de->d_name);
        snprintf(pb, sizeof(pb), "%s/%s", b, de->d_name);
        FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
        if (!fb)
            fail_msg("'%s' is in the single-append spool only", de->d_name);
        assert_non_null(fa);
        int ca, cb;
        long off = 0;
        do {
            ca = fgetc(fa);
            cb = fgetc(fb);
            if (ca != cb)
                fail_msg("'%s' differs at byte %ld", de->d_name, off);
            off++;
        } while (ca != EOF);
        fclose(fa);
        fclose(fb);
        files++;
    }
    closedir(d);
    d = opendir(b);
    assert_non_null(d);
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            files_b++;
    closedir(d);
    assert_int_equal(files, files_b);
    assert_true(files > 0);
}

static void
same_stats(const struct agent_spool_stats *x, const struct agent_spool_stats *y)
{
    assert_int_equal(x->appended, y->appended);
    for (int p = 0; p < AGENT_SPOOL_PRIOS; p++)
        assert_int_equal(x->dropped[p], y->dropped[p]);
    assert_int_equal(x->torn, y->torn);
    assert_int_equal(x->corrupt, y->corrupt);
    assert_int_equal(x->syncs, y->syncs);
    assert_int_equal(x->compactions, y->compactions);
    assert_int_equal(x->bytes, y->bytes);
    assert_int_equal(x->segments, y->segments);
    assert_int_equal(x->next_seq, y->next_seq);
    assert_int_equal(x->synced_seq, y->synced_seq);
    assert_int_equal(x->acked_seq, y->acked_seq);
}

static void
compare(size_t n, size_t max_batch, uint64_t max, uint32_t seg, uint32_t sync_every,
        bool expect_shed)
{
    struct input in;
    make_input(&in, n, max_batch);
    uint64_t *sa = calloc(n, sizeof(*sa)), *sb = calloc(n, sizeof(*sb));
    assert_non_null(sa);
    assert_non_null(sb);

    struct agent_spool *a = open_at(dir_a, max, seg, sync_every);
    struct agent_spool *b = open_at(dir_b, max, seg, sync_every);
    run_single(a, &in, sa);
    run_batched(b, &in, sb);
    for (size_t i = 0; i < n; i++)
        if (sa[i] != sb[i])
            fail_msg("record %zu: seq %" PRIu64 " single, %" PRIu64 " batched", i, sa[i],
                     sb[i]);
    struct agent_spool_stats x, y;
    agent_spool_stats(a, &x);
    agent_spool_stats(b, &y);
    same_stats(&x, &y);
    uint64_t dropped = x.dropped[0] + x.dropped[1] + x.dropped[2] + x.dropped[3];
    assert_true(x.appended > n / 2);
    if (expect_shed) {
        assert_true(x.compactions > 0);
        assert_true(dropped > x.dropped[AGENT_PRIO_CRITICAL]);
    }
    assert_true(x.syncs > 0);
    /* the reader hands out the same records */
    struct agent_spool_rec ra, rb;
    uint64_t nread = 0;
    for (;;) {
        int r1 = agent_spool_next(a, &ra), r2 = agent_spool_next(b, &rb);
        assert_int_equal(r1, r2);
        if (r1)
            break;
        assert_int_equal(ra.seq, rb.seq);
        assert_int_equal(ra.prio, rb.prio);
        assert_int_equal(ra.len, rb.len);
        assert_memory_equal(ra.data, rb.data, ra.len);
        nread++;
    }
    assert_true(nread > 0);
    agent_spool_close(a);
    agent_spool_close(b);
    same_files(dir_a, dir_b);
    free(sa);
    free(sb);
    free_input(&in);
}

/* Bounded: shedding, refusals, rolls every few records, count syncs every 7. */
static void
test_same_as_single_shedding(void **state)
{
    compare(4000, 40, 64 * 1024, 8192, 7, true);
}

/* Batches longer than one writev chunk (IOV_MAX / 2 records), default sync count. */
static void
test_same_as_single_long_batches(void **state)
{
    compare(6000, 1500, 64ull << 20, 1u << 20, 256, false);
}

/* No count policy: only the time policy cuts chunks. */
static void
test_same_as_single_time_policy(void **state)
{
    compare(3000, 300, 8ull << 20, 1u << 20, UINT32_MAX, false);
}

static void
test_bad_args(void **state)
{
    struct agent_spool *s = open_at(dir_a, 1u << 20, 0, 0);
    struct iovec iov[3] = {{(void *)"a", 1}, {NULL, 5}, {(void *)"c", 1}};
    enum agent_prio pr[3] = {AGENT_PRIO_NORMAL, AGENT_PRIO_NORMAL, AGENT_PRIO_NORMAL};
    uint64_t first = 0;
    size_t done = 9;
    assert_int_equal(agent_spool_append_many(s, iov, pr, 3, &first, &done), BN_EINVAL);
    assert_int_equal(done, 1); /* "a" is in, the bad one stopped the batch */
    assert_int_equal(first, 1);
    pr[0] = (enum agent_prio)7;
    assert_int_equal(agent_spool_append_many(s, iov, pr, 1, &first, &done), BN_EINVAL);
    assert_int_equal(done, 0);
    assert_int_equal(agent_spool_append_many(s, NULL, pr, 1, &first, &done), BN_EINVAL);
    assert_int_equal(agent_spool_append_many(s, iov, pr, 0, &first, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(first, 2);
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    assert_int_equal(st.appended, 1);
    assert_int_equal(st.dropped[AGENT_PRIO_NORMAL], 0);
    agent_spool_close(s);
}

/* A batch whose write was cut anywhere: reopening truncates the torn record and keeps every
 * whole one before it, and the seqs go on after the last whole record (or after the torn
 * record, when its header made it). */
static void
test_torn_batch(void **state)
{
    enum { N = 20 };
    struct iovec iov[N];
    enum agent_prio pr[N];
    char bufs[N][64];
    for (int i = 0; i < N; i++) {
        int l = snprintf(bufs[i], sizeof(bufs[i]), "record %d of the batch", i);
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = (size_t)l;
        pr[i] = (enum agent_prio)(i % 4);
    }
    struct agent_spool *s = open_at(dir_a, 1u << 20, 0, 0);
    uint64_t first;
    size_t done;
    assert_int_equal(agent_spool_append_many(s, iov, pr, N, &first, &done), 0);
    assert_int_equal(done, N);
    assert_int_equal(first, 1);
    agent_spool_close(s);

    char seg[512];
    snprintf(seg, sizeof(seg), "%s/seg-%020d.bns", dir_a, 1);
    struct stat sb;
    assert_int_equal(stat(seg, &sb), 0);
    size_t full = (size_t)sb.st_size;
    uint8_t *copy = malloc(full);
    assert_non_null(copy);
    FILE *f = fopen(seg, "rb");
    assert_non_null(f);
    assert_int_equal(fread(copy, 1, full, f), full);
    fclose(f);

    /* cut at every byte of the last three records */
    size_t last3 = full;
    for (int i = N - 1; i >= N - 3; i--)
        last3 -= AGENT_SPOOL_REC_HDR + iov[i].iov_len;
    for (size_t cut = last3; cut < full; cut++) {
        rm_dir(dir_a);
        assert_int_equal(mkdir(dir_a, 0700), 0);
        int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, copy, cut), (ssize_t)cut);
        close(fd);
        /* whole records before the cut */
        size_t off = AGENT_SPOOL_FILE_HDR, whole = 0;
        while (whole < N && off + AGENT_SPOOL_REC_HDR + iov[whole].iov_len <= cut)
            off += AGENT_SPOOL_REC_HDR + iov[whole++].iov_len;
        bool torn = off < cut;
        s = open_at(dir_a, 1u << 20, 0, 0);
        struct agent_spool_stats st;
        agent_spool_stats(s, &st);
        assert_int_equal(st.torn, torn ? 1 : 0);
        /* the torn record's seq is not reused once its header (with the seq) is there */
        uint64_t expect_next = whole + 1 + (torn && cut - off >= 16 ? 1 : 0);
        assert_int_equal(st.next_seq, expect_next);
        struct agent_spool_rec r;
        size_t got = 0;
        while (agent_spool_next(s, &r) == 0) {
            assert_int_equal(r.seq, got + 1);
            assert_int_equal(r.len, iov[got].iov_len);
            assert_memory_equal(r.data, iov[got].iov_base, r.len);
            got++;
        }
        assert_int_equal(got, whole);
        /* and a new batch goes on from there */
        assert_int_equal(agent_spool_append_many(s, iov, pr, 2, &first, &done), 0);
        assert_int_equal(first, expect_next);
        agent_spool_close(s);
    }
    free(copy);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_as_single_shedding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_as_single_long_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_as_single_time_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
