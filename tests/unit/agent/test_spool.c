/*
 * test_spool.c - the agent's on-disk spool: append/reopen/recover, torn tails, seq across
 * restarts, ack, shedding by priority with exact counters, allocation failures and damaged
 * bytes.
 *
 * The binary also has two modes for tests/integration/test_agent_spool.sh:
 *   --writer DIR TAG   appends records "TAG <i>" forever (sync policy: every 16 records /
 *                      20 ms) and prints "<seq> TAG <i>" once each append has returned;
 *   --dump DIR         opens DIR (recovering it) and prints "<seq> <payload>" for every record.
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
#include <unistd.h>

#include <cmocka.h>

#include "agent/spool.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

static char tdir[256];

static int
setup(void **state)
{
    snprintf(tdir, sizeof(tdir), "/tmp/bn-spool-test-XXXXXX");
    assert_non_null(mkdtemp(tdir));
    return 0;
}

static int
teardown(void **state)
{
    DIR *d = opendir(tdir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.') {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", tdir, de->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(tdir);
    return 0;
}

static struct agent_spool *
open_spool(uint64_t max, uint32_t seg)
{
    struct agent_spool_opts o;
    struct agent_spool *s;
    agent_spool_opts_init(&o);
    o.dir = tdir;
    if (max)
        o.max_bytes = max;
    if (seg)
        o.segment_bytes = seg;
    assert_int_equal(agent_spool_open(&s, &o), 0);
    return s;
}

static uint64_t
append_str(struct agent_spool *s, const char *str, enum agent_prio p)
{
    uint64_t seq;
    assert_int_equal(agent_spool_append(s, str, strlen(str), p, &seq), 0);
    return seq;
}

static int
count_files(const char *suffix)
{
    int n = 0;
    DIR *d = opendir(tdir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Path of the newest (or oldest) segment file. */
static void
seg_path(char *buf, size_t size, bool newest)
{
    DIR *d = opendir(tdir);
    struct dirent *de;
    char best[256] = "";
    assert_non_null(d);
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "seg-", 4) != 0 || strlen(de->d_name) != 28)
            continue;
        if (!best[0] || (newest ? strcmp(de->d_name, best) > 0 : strcmp(de->d_name, best) < 0))
            snprintf(best, sizeof(best), "%s", de->d_name);
    }
    closedir(d);
    assert_true(best[0] != '\0');
    snprintf(buf, size, "%.200s/%.40s", tdir, best);
}

static void
test_append_reopen(void **state)
{
    struct agent_spool *s = open_spool(0, 0);
    char buf[64];
    for (int i = 0; i < 100; i++) {
        snprintf(buf, sizeof(buf), "{\"i\":%d}", i);
        assert_int_equal(append_str(s, buf, (enum agent_prio)(i % 4)), (uint64_t)i + 1);
    }
    agent_spool_close(s);

    s = open_spool(0, 0);
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    assert_int_equal(st.next_seq, 101);
    assert_int_equal(st.torn, 0);
    struct agent_spool_rec r;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(agent_spool_next(s, &r), 0);
        snprintf(buf, sizeof(buf), "{\"i\":%d}", i);
        assert_int_equal(r.seq, (uint64_t)i + 1);
        assert_int_equal(r.prio, i % 4);
        assert_int_equal(r.len, strlen(buf));
        assert_memory_equal(r.data, buf, r.len);
    }
    assert_int_equal(agent_spool_next(s, &r), BN_EOF);
    /* The reader follows the active segment as it grows. */
    assert_int_equal(append_str(s, "late", AGENT_PRIO_HIGH), 101);
    assert_int_equal(agent_spool_next(s, &r), 0);
    assert_int_equal(r.seq, 101);
    assert_memory_equal(r.data, "late", 4);
    assert_int_equal(agent_spool_next(s, &r), BN_EOF);
    agent_spool_close(s);
}

static void
test_torn_tail(void **state)
{
    struct agent_spool *s = open_spool(0, 0);
    for (int i = 0; i < 10; i++)
        append_str(s, "0123456789abcdef", AGENT_PRIO_NORMAL);
    agent_spool_close(s);

    /* Cut the last record in half, as a crash in the middle of its write would. */
    char path[512];
    struct stat sb;
    seg_path(path, sizeof(path), true);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size - 10), 0);

    s = open_spool(0, 0);
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    assert_int_equal(st.torn, 1);
    assert_int_equal(st.next_seq, 11); /* the torn seq 10 is never reused */
    struct agent_spool_rec r;
    for (uint64_t i = 1; i <= 9; i++) {
        assert_int_equal(agent_spool_next(s, &r), 0);
        assert_int_equal(r.seq, i);
        assert_int_equal(r.len, 16);
    }
    assert_int_equal(agent_spool_next(s, &r), BN_EOF);
    assert_int_equal(append_str(s, "after", AGENT_PRIO_HIGH), 11);
    assert_int_equal(agent_spool_next(s, &r), 0);
    assert_int_equal(r.seq, 11);
    agent_spool_close(s);

    /* The truncated file is whole again: a second open finds nothing torn. */
    s = open_spool(0, 0);
    agent_spool_stats(s, &st);
    assert_int_equal(st.torn, 0);
    assert_int_equal(st.next_seq, 12);
    agent_spool_close(s);

    /* Garbage after the last record (e.g. zeroed pages after power loss) is torn too. */
    int fd = open(path, O_WRONLY | O_APPEND);
    char zeros[100] = {0};
    assert_true(fd >= 0);
    assert_int_equal(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
    close(fd);
    s = open_spool(0, 0);
    agent_spool_stats(s, &st);
    assert_int_equal(st.torn, 1);
    assert_int_equal(st.next_seq, 12);
    agent_spool_close(s);
}

static void
test_seq_monotonic(void **state)
{
    uint64_t last = 0;
    for (int round = 0; round < 5; round++) {
        struct agent_spool *s = open_spool(0, 4096);
        for (int i = 0; i < round * 30; i++) {
            uint64_t seq = append_str(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                                      AGENT_PRIO_HIGH);
            assert_true(seq > last);
            last = seq;
        }
        agent_spool_close(s);
    }
    /* Empty rounds, and acks of everything, keep the count going too. */
    struct agent_spool *s = open_spool(0, 4096);
    assert_int_equal(agent_spool_ack(s, last), 0);
    agent_spool_close(s);
    s = open_spool(0, 4096);
    assert_true(append_str(s, "next", AGENT_PRIO_HIGH) == last + 1);
    agent_spool_close(s);
}

static void
test_ack(void **state)
{
    struct agent_spool *s = open_spool(1 << 20, 4096);
    char buf[200];
    memset(buf, 'a', sizeof(buf));
    for (int i = 0; i < 200; i++)
        assert_int_equal(agent_spool_append(s, buf, sizeof(buf), AGENT_PRIO_HIGH, NULL), 0);
    int before = count_files(".bns");
    assert_true(before >= 10);
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    assert_int_equal(st.segments, (uint64_t)before);

    /* 4096-byte segments hold 18 records of 224 bytes after the 16-byte header: acking
     * 100 deletes the five segments up to seq 90, not the one holding 91..108. */
    assert_int_equal(agent_spool_ack(s, 100), 0);
    int after = count_files(".bns");
    assert_int_equal(after, before - 5);
    struct agent_spool_rec r;
    assert_int_equal(agent_spool_next(s, &r), 0);
    assert_int_equal(r.seq, 101);
    agent_spool_close(s);

    /* The ack survives a restart: the reader starts after it. */
    s = open_spool(1 << 20, 4096);
    agent_spool_stats(s, &st);
    assert_int_equal(st.acked_seq, 100);
    assert_int_equal(agent_spool_next(s, &r), 0);
    assert_int_equal(r.seq, 101);
    /* Rewind cannot go below what is left; everything acked: only the active segment stays. */
    assert_int_equal(agent_spool_ack(s, 1000), 0);
    assert_int_equal(count_files(".bns"), 1);
    assert_int_equal(agent_spool_next(s, &r), BN_EOF);
    assert_int_equal(append_str(s, "more", AGENT_PRIO_BULK), 201);
    assert_int_equal(agent_spool_next(s, &r), 0);
    assert_int_equal(r.seq, 201);
    agent_spool_close(s);
}

/* Reads everything and counts records by priority. */
static void
read_all(struct agent_spool *s, uint64_t n[4])
{
    struct agent_spool_rec r;
    uint64_t last = 0;
    int rc;
    memset(n, 0, 4 * sizeof(n[0]));
    agent_spool_rewind(s, 0);
    while ((rc = agent_spool_next(s, &r)) == 0) {
        assert_true(r.seq > last);
        last = r.seq;
        n[r.prio]++;
    }
    assert_int_equal(rc, BN_EOF);
}

static void
test_shed(void **state)
{
    /* 64 KiB bound, 16 KiB segments, 200-byte payloads (224 bytes on disk). */
    const uint64_t max = 64 << 10;
    struct agent_spool *s = open_spool(max, 16 << 10);
    char buf[200];
    uint64_t sent[4] = {0}, n[4];
    struct agent_spool_stats st;
    memset(buf, 'b', sizeof(buf));

    /* Under the bound nothing is lost: 200 records = 44800 bytes + headers. */
    for (int i = 0; i < 200; i++) {
        enum agent_prio p = i % 2 ? AGENT_PRIO_BULK : AGENT_PRIO_HIGH;
        assert_int_equal(agent_spool_append(s, buf, sizeof(buf), p, NULL), 0);
        sent[p]++;
    }
    agent_spool_stats(s, &st);
    for (int p = 0; p < 4; p++)
        assert_int_equal(st.dropped[p], 0);
    read_all(s, n);
    assert_int_equal(n[AGENT_PRIO_BULK], 100);
    assert_int_equal(n[AGENT_PRIO_HIGH], 100);

    /* Over the bound: bulk goes first, high stays whole while it fits. */
    for (int i = 0; i < 200; i++) {
        enum agent_prio p = i % 2 ? AGENT_PRIO_BULK : AGENT_PRIO_HIGH;
        assert_int_equal(agent_spool_append(s, buf, sizeof(buf), p, NULL), 0);
        sent[p]++;
    }
    agent_spool_stats(s, &st);
    assert_true(st.bytes <= max);
    read_all(s, n);
    assert_int_equal(st.dropped[AGENT_PRIO_HIGH], 0);
    assert_int_equal(n[AGENT_PRIO_HIGH], sent[AGENT_PRIO_HIGH]);
    assert_true(st.dropped[AGENT_PRIO_BULK] > 0);
    assert_int_equal(n[AGENT_PRIO_BULK] + st.dropped[AGENT_PRIO_BULK], sent[AGENT_PRIO_BULK]);
    /* The bulk records kept are the newest ones: the oldest segments were shed. */
    struct agent_spool_rec r;
    agent_spool_rewind(s, 0);
    uint64_t first_bulk = 0;
    while (agent_spool_next(s, &r) == 0)
        if (r.prio == AGENT_PRIO_BULK && !first_bulk)
            first_bulk = r.seq;
    assert_true(first_bulk > 200);

    /* Fill with high records; once no bulk is left, a bulk record is accepted while there
     * is room and refused (and counted) once the bound is reached: high ones are never shed
     * for it. */
    for (;;) {
        agent_spool_stats(s, &st);
        if (st.dropped[AGENT_PRIO_BULK] == sent[AGENT_PRIO_BULK]) {
            int rc = agent_spool_append(s, buf, sizeof(buf), AGENT_PRIO_BULK, NULL);
            sent[AGENT_PRIO_BULK]++;
            if (rc == BN_ETOOBIG)
                break;
            assert_int_equal(rc, 0);
        }
        assert_int_equal(agent_spool_append(s, buf, sizeof(buf), AGENT_PRIO_HIGH, NULL), 0);
        sent[AGENT_PRIO_HIGH]++;
    }
    agent_spool_stats(s, &st);
    assert_int_equal(st.dropped[AGENT_PRIO_HIGH], 0);
    read_all(s, n);
    assert_int_equal(n[AGENT_PRIO_BULK], 0);
    assert_int_equal(st.dropped[AGENT_PRIO_BULK], sent[AGENT_PRIO_BULK]);
    assert_int_equal(n[AGENT_PRIO_HIGH], sent[AGENT_PRIO_HIGH]);

    /* A critical record sheds the oldest high ones; every drop is counted. */
    assert_int_equal(agent_spool_append(s, buf, sizeof(buf), AGENT_PRIO_CRITICAL, NULL), 0);
    sent[AGENT_PRIO_CRITICAL]++;
    agent_spool_stats(s, &st);
    assert_true(st.dropped[AGENT_PRIO_HIGH] > 0);
    assert_true(st.bytes <= max);
    read_all(s, n);
    assert_int_equal(n[AGENT_PRIO_CRITICAL], 1);
    assert_int_equal(n[AGENT_PRIO_HIGH] + st.dropped[AGENT_PRIO_HIGH], sent[AGENT_PRIO_HIGH]);
    agent_spool_close(s);

    /* Counters and contents agree after a restart (no temporary files left behind). */
    assert_int_equal(count_files(".tmp"), 0);
    s = open_spool(max, 16 << 10);
    read_all(s, n);
    assert_int_equal(n[AGENT_PRIO_CRITICAL], 1);
    assert_int_equal(n[AGENT_PRIO_BULK], 0);
    agent_spool_close(s);
}

static void
test_too_big(void **state)
{
    struct agent_spool *s = open_spool(64 << 10, 0);
    struct agent_spool_stats st;
    char *big = calloc(1, AGENT_SPOOL_RECORD_MAX + 1);
    assert_non_null(big);
    uint64_t seq = 7;
    assert_int_equal(agent_spool_append(s, big, 70 << 10, AGENT_PRIO_HIGH, &seq), BN_ETOOBIG);
    assert_int_equal(seq, 0);
    assert_int_equal(agent_spool_append(s, big, AGENT_SPOOL_RECORD_MAX + 1, AGENT_PRIO_BULK, &seq),
                     BN_ETOOBIG);
    assert_int_equal(agent_spool_append(s, big, 10, (enum agent_prio)7, &seq), BN_EINVAL);
    agent_spool_stats(s, &st);
    assert_int_equal(st.dropped[AGENT_PRIO_HIGH], 1);
    assert_int_equal(st.dropped[AGENT_PRIO_BULK], 1);
    /* Empty payloads are records too. */
    assert_int_equal(agent_spool_append(s, NULL, 0, AGENT_PRIO_NORMAL, &seq), 0);
    assert_int_equal(seq, 1);
    struct agent_spool_rec r;
    assert_int_equal(agent_spool_next(s, &r), 0);
    assert_int_equal(r.len, 0);
    free(big);
    agent_spool_close(s);
}

static void
test_corrupt(void **state)
{
    struct agent_spool *s = open_spool(1 << 20, 4096);
    char buf[200];
    memset(buf, 'c', sizeof(buf));
    for (int i = 0; i < 40; i++)
        assert_int_equal(agent_spool_append(s, buf, sizeof(buf), AGENT_PRIO_HIGH, NULL), 0);
    agent_spool_close(s);

    /* Flip a payload byte of the 3rd record of the oldest segment (seq 3), and the magic
     * of the 2nd record of the newest one (37..40: seq 38). */
    char path[512];
    seg_path(path, sizeof(path), false);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 16 + 2 * 224 + 24 + 5), 1);
    close(fd);
    seg_path(path, sizeof(path), true);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "Z", 1, 16 + 1 * 224), 1);
    close(fd);

    s = open_spool(1 << 20, 4096);
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    assert_int_equal(st.torn, 0);
    assert_int_equal(st.next_seq, 41);
    struct agent_spool_rec r;
    uint64_t got = 0, expect = 1;
    while (agent_spool_next(s, &r) == 0) {
        if (expect == 3 || expect == 38)
            expect++;
        assert_int_equal(r.seq, expect);
        assert_memory_equal(r.data, buf, sizeof(buf));
        expect++;
        got++;
    }
    assert_int_equal(got, 38);
    agent_spool_stats(s, &st);
    assert_int_equal(st.corrupt, 2);
    agent_spool_close(s);
}

static void
test_scan_mem_hostile(void **state)
{
    uint8_t junk[4096];
    uint64_t corrupt = 0;
    size_t end = 99;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(agent_spool_scan_mem(junk, sizeof(junk), NULL, NULL, &corrupt, &end), 0);
    assert_int_equal(end, 16);
    assert_int_equal(corrupt, 1); /* the bad file header */
    end = 99;
    assert_int_equal(agent_spool_scan_mem(junk, 3, NULL, NULL, NULL, &end), 0);
    assert_int_equal(end, 0);
}

static int64_t fake_ms;

static int64_t
fake_clock(void *ctx)
{
    return fake_ms;
}

static void
test_sync_policy(void **state)
{
    struct agent_spool_opts o;
    struct agent_spool *s;
    struct agent_spool_stats st;
    agent_spool_opts_init(&o);
    o.dir = tdir;
    o.sync_every = 3;
    o.sync_ms = 50;
    o.now_ms = fake_clock;
    fake_ms = 1000;
    assert_int_equal(agent_spool_open(&s, &o), 0);
    for (int i = 0; i < 7; i++)
        append_str(s, "x", AGENT_PRIO_NORMAL);
    agent_spool_stats(s, &st);
    assert_int_equal(st.syncs, 2);
    assert_int_equal(st.synced_seq, 6);
    assert_int_equal(agent_spool_tick(s), 0); /* not yet due */
    agent_spool_stats(s, &st);
    assert_int_equal(st.syncs, 2);
    fake_ms += 50;
    assert_int_equal(agent_spool_tick(s), 0);
    agent_spool_stats(s, &st);
    assert_int_equal(st.syncs, 3);
    assert_int_equal(st.synced_seq, 7);
    fake_ms += 100; /* time-due on the next append */
    append_str(s, "y", AGENT_PRIO_NORMAL);
    agent_spool_stats(s, &st);
    assert_int_equal(st.syncs, 4);
    assert_int_equal(agent_spool_sync(s), 0); /* nothing pending: no fdatasync */
    agent_spool_stats(s, &st);
    assert_int_equal(st.syncs, 4);
    agent_spool_close(s);
}

/* One pass of open / append across segments / shed / ack / reopen / read. */
static int
alloc_pass(void)
{
    struct agent_spool_opts o;
    struct agent_spool *s = NULL;
    char buf[300];
    int rc;
    memset(buf, 'm', sizeof(buf));
    agent_spool_opts_init(&o);
    o.dir = tdir;
    o.max_bytes = 16384;
    o.segment_bytes = 4096;
    if ((rc = agent_spool_open(&s, &o)))
        return rc;
    for (int i = 0; i < 80; i++)
        if ((rc = agent_spool_append(s, buf, sizeof(buf), (enum agent_prio)(i % 3), NULL)) &&
            rc != BN_ETOOBIG)
            goto out;
    struct agent_spool_rec r;
    while ((rc = agent_spool_next(s, &r)) == 0)
        ;
    if (rc != BN_EOF)
        goto out;
    rc = agent_spool_ack(s, 30);
out:
    agent_spool_close(s);
    return rc;
}

static void
test_alloc_failures(void **state)
{
    int failures = 0;
    for (unsigned long n = 1; n < 200; n++) {
        teardown(state);
        setup(state);
        bn_alloc_fail_after(n);
        int rc = alloc_pass();
        bn_alloc_fail_after(0);
        if (rc == 0)
            break;
        assert_int_equal(rc, BN_ENOMEM);
        failures++;
        /* Whatever failed, the directory opens and reads cleanly afterwards. */
        struct agent_spool *s = open_spool(16384, 4096);
        struct agent_spool_rec r;
        int rr;
        while ((rr = agent_spool_next(s, &r)) == 0)
            ;
        assert_int_equal(rr, BN_EOF);
        agent_spool_close(s);
    }
    assert_true(failures > 3);
}

/* --writer DIR TAG: append until killed, printing each returned seq. */
static int
writer_main(const char *dir, const char *tag)
{
    struct agent_spool_opts o;
    struct agent_spool *s;
    char buf[256];
    agent_spool_opts_init(&o);
    o.dir = dir;
    o.sync_every = 16;
    o.sync_ms = 20;
    o.segment_bytes = 64 << 10;
    int rc = agent_spool_open(&s, &o);
    if (rc) {
        fprintf(stderr, "cannot open spool '%s': %s\n", dir, bn_strerror(rc));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (uint64_t i = 0;; i++) {
        int n = snprintf(buf, sizeof(buf), "%s %" PRIu64 " %.*s", tag, i, (int)(i % 97),
                         "padding-padding-padding-padding-padding-padding-padding-padding-"
                         "padding-padding-padding-padding");
        uint64_t seq;
        rc = agent_spool_append(s, buf, (size_t)n, AGENT_PRIO_HIGH, &seq);
        if (rc) {
            fprintf(stderr, "append failed: %s\n", bn_strerror(rc));
            return 1;
        }
        printf("%" PRIu64 " %s %" PRIu64 "\n", seq, tag, i);
    }
}

/* --dump DIR: print every record. */
static int
dump_main(const char *dir)
{
    struct agent_spool_opts o;
    struct agent_spool *s;
    struct agent_spool_rec r;
    agent_spool_opts_init(&o);
    o.dir = dir;
    o.segment_bytes = 64 << 10;
    int rc = agent_spool_open(&s, &o);
    if (rc) {
        fprintf(stderr, "cannot open spool '%s': %s\n", dir, bn_strerror(rc));
        return 1;
    }
    while ((rc = agent_spool_next(s, &r)) == 0) {
        const char *sp = memchr(r.data, ' ', r.len);
        const char *sp2 = sp ? memchr(sp + 1, ' ', r.len - (size_t)(sp + 1 - r.data)) : NULL;
        size_t keep = sp2 ? (size_t)(sp2 - r.data) : r.len;
        printf("%" PRIu64 " %.*s\n", r.seq, (int)keep, r.data);
    }
    struct agent_spool_stats st;
    agent_spool_stats(s, &st);
    fprintf(stderr, "torn=%" PRIu64 " corrupt=%" PRIu64 " next_seq=%" PRIu64 "\n", st.torn,
            st.corrupt, st.next_seq);
    agent_spool_close(s);
    return rc == BN_EOF && st.corrupt == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--writer"))
        return writer_main(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "--dump"))
        return dump_main(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_monotonic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test(test_scan_mem_hostile),
        cmocka_unit_test_setup_teardown(test_sync_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
