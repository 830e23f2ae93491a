/*
 * test_bpf_records.c - the tier-1 record decoder's path joining (agent_bpf_dpath_join):
 * component names packed leaf first by the kernel's walk, as the exec and module records
 * carry them. Hand-made records (no kernel needed): ordinary, pseudo and cut walks, names
 * that do not fit their length, and the same answers as the fixed-slot layout used until
 * 2026-11-26 on random walks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if BN_HAVE_BPF
#include <linux/types.h>

#include "agent/bpf/agent_bpf.h"

/* Packs names (leaf first) as the kernel's walk does; returns the bytes used. */
static uint16_t
pack(char *buf, size_t size, const char *const *names, int n)
{
    size_t off = 0;

    for (int i = 0; i < n; i++) {
        size_t l = strlen(names[i]) + 1;

        assert_true(off + l <= size);
        memcpy(buf + off, names[i], l);
        off += l;
    }
    return (uint16_t)off;
}

static void
test_join(void **st)
{
    const char *const names[] = {"c", "b", "a"};
    struct ab_dpath dp = {.flags = AB_DP_VALID, .n = 3};
    char buf[AB_DNAMES_LEN], out[64];

    (void)st;
    dp.len = pack(buf, sizeof(buf), names, 3);
    assert_true(agent_bpf_dpath_join(&dp, buf, dp.len, out, sizeof(out)));
    assert_string_equal(out, "/a/b/c");
    /* a deleted file keeps its path; the flag is the caller's */
    dp.flags |= AB_DP_UNLINKED;
    assert_true(agent_bpf_dpath_join(&dp, buf, sizeof(buf), out, sizeof(out)));
    assert_string_equal(out, "/a/b/c");
    /* an unreadable name is an empty component, as before */
    {
        const char *const gap[] = {"x", ""};
        struct ab_dpath g = {.flags = AB_DP_VALID, .n = 2};

        g.len = pack(buf, sizeof(buf), gap, 2);
        assert_true(agent_bpf_dpath_join(&g, buf, g.len, out, sizeof(out)));
        assert_string_equal(out, "//x");
    }
}

static void
test_pseudo(void **st)
{
    const char *const names[] = {"memfd:payload (deleted)"};
    struct ab_dpath dp = {.flags = AB_DP_VALID | AB_DP_PSEUDO | AB_DP_UNLINKED, .n = 1};
    char buf[AB_DNAMES_LEN], out[64];

    (void)st;
    dp.len = pack(buf, sizeof(buf), names, 1);
    assert_true(agent_bpf_dpath_join(&dp, buf, dp.len, out, sizeof(out)));
    assert_string_equal(out, "/memfd:payload (deleted)");
}

/* Everything that is not a usable path: false and an empty out. */
static void
test_refused(void **st)
{
    const char *const names[] = {"c", "b", "a"};
    struct ab_dpath ok = {.flags = AB_DP_VALID, .n = 3}, dp;
    char buf[AB_DNAMES_LEN], out[64];

    (void)st;
    memset(buf, 'x', sizeof(buf));
    ok.len = pack(buf, sizeof(buf), names, 3);
#define REFUSED(d, avail, size)                                                              \
    do {                                                                                     \
        strcpy(out, "junk");                                                                 \
        assert_false(agent_bpf_dpath_join(&(d), buf, (avail), out, (size)));                 \
        assert_string_equal(out, "");                                                        \
    } while (0)
    dp = ok;
    dp.flags = AB_DP_VALID | AB_DP_TRUNC; /* deeper than AB_DPATH_DEPTH: /proc fallback */
    REFUSED(dp, dp.len, sizeof(out));
    dp = ok;
    dp.flags = 0; /* no file */
    REFUSED(dp, dp.len, sizeof(out));
    dp = ok;
    dp.n = 0;
    REFUSED(dp, dp.len, sizeof(out));
    dp = ok;
    dp.n = AB_DPATH_DEPTH + 1;
    REFUSED(dp, sizeof(buf), sizeof(out));
    /* names longer than the record holds */
    REFUSED(ok, ok.len - 1u, sizeof(out));
    dp = ok;
    dp.len = AB_DNAMES_LEN + 1;
    REFUSED(dp, sizeof(buf), sizeof(out));
    /* more components than NULs in len: the last name runs past the walk */
    dp = ok;
    dp.n = 4;
    REFUSED(dp, sizeof(buf), sizeof(out));
    dp = ok;
    dp.len = 5; /* "c\0b\0a": "a" not terminated inside len */
    REFUSED(dp, sizeof(buf), sizeof(out));
    /* out too small for "/a/b/c" and its NUL */
    REFUSED(ok, ok.len, 6);
    assert_true(agent_bpf_dpath_join(&ok, buf, ok.len, out, 7));
    assert_string_equal(out, "/a/b/c");
#undef REFUSED
}

/* The layout before 2026-11-26: AB_DPATH_DEPTH fixed slots of AB_DNAME_LEN bytes. */
struct old_dpath {
    uint32_t flags, n;
    char comp[AB_DPATH_DEPTH][AB_DNAME_LEN];
};

static bool
old_join(const struct old_dpath *dp, char *out, size_t size)
{
    size_t off = 0;
    uint32_t n = dp->n;

    out[0] = '\0';
    if (!(dp->flags & AB_DP_VALID) || (dp->flags & AB_DP_TRUNC) || n == 0 ||
        n > AB_DPATH_DEPTH || size < 2)
        return false;
    for (uint32_t i = n; i-- > 0;) {
        size_t len = strnlen(dp->comp[i], AB_DNAME_LEN);

        if (off + 1 + len + 1 > size)
            return false;
        out[off++] = '/';
        memcpy(out + off, dp->comp[i], len);
        off += len;
    }
    out[off] = '\0';
    return true;
}

/* Random walks (names of 0..63 bytes, 1..12 components, every flag mix, small and large
 * outputs): the packed records give what the fixed slots gave. */
static void
test_same_as_slots(void **st)
{
    static struct old_dpath od;
    char names[AB_DNAMES_LEN], a[1024], b[1024];
    unsigned seed = 12345;

    (void)st;
    for (int iter = 0; iter < 20000; iter++) {
        struct ab_dpath dp;
        uint32_t n = 1 + (unsigned)rand_r(&seed) % AB_DPATH_DEPTH;
        size_t off = 0, size;

        memset(&od, 0, sizeof(od));
        od.flags = (uint32_t)rand_r(&seed) & 0xf;
        if (rand_r(&seed) % 4)
            od.flags = (od.flags | AB_DP_VALID) & ~(uint32_t)AB_DP_TRUNC;
        od.n = n;
        for (uint32_t i = 0; i < n; i++) {
            size_t l = (unsigned)rand_r(&seed) % 8 ? (unsigned)rand_r(&seed) % 12
                                                   : (unsigned)rand_r(&seed) % AB_DNAME_LEN;

            for (size_t k = 0; k < l; k++)
                od.comp[i][k] = (char)(1 + (unsigned)rand_r(&seed) % 255);
            memcpy(names + off, od.comp[i], l + 1);
            off += l + 1;
        }
        dp.flags = od.flags;
        dp.n = (uint16_t)n;
        dp.len = (uint16_t)off;
        size = (unsigned)rand_r(&seed) % 3 ? sizeof(a) : 2 + (unsigned)rand_r(&seed) % 64;
        if (old_join(&od, a, size)) {
            assert_true(agent_bpf_dpath_join(&dp, names, off, b, size));
            assert_string_equal(a, b);
        } else {
            assert_false(agent_bpf_dpath_join(&dp, names, off, b, size));
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_pseudo),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_same_as_slots),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

int
main(void)
{
    fprintf(stderr, "test_bpf_records: built without eBPF support: skipped\n");
    return 77;
}

#endif
