/*
 * test_slab.c - the per-flow state slabs (slab.c): items of a class are aligned (to 64 bytes
 * for a multiple of 64), do not overlap and are recycled; the thread's bound allocator serves net_slab_state_new
 * (zeroed) and net_slab_state_free gives each item back to the allocator whose slab holds it,
 * heap memory (nothing bound, or too large) to the heap; a pipeline binds its own; with
 * many slabs every item is still found in its own (the set of slab addresses grows).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sensor/pipeline.h"
#include "sensor/sensor.h"

#define N 12000 /* items of 200 bytes (208 with the class): more than one 2 MiB slab */

static void
test_alloc_recycle(void **state)
{
    (void)state;
    static uint8_t *it[N];
    struct net_slab s;

    net_slab_init(&s);
    for (int i = 0; i < N; i++) {
        it[i] = net_slab_alloc(&s, 200);
        assert_non_null(it[i]);
        assert_int_equal((uintptr_t)it[i] % 16, 0);
        assert_true(net_slab_owns(&s, it[i]));
        memset(it[i], (uint8_t)i, 200);
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 200; k++)
            assert_int_equal(it[i][k], (uint8_t)i); /* no item overlaps another */
    /* the last freed comes back first, the other classes are not affected */
    net_slab_put(&s, it[7], 200);
    net_slab_put(&s, it[9], 200);
    assert_ptr_equal(net_slab_alloc(&s, 208), it[9]);
    assert_ptr_equal(net_slab_alloc(&s, 193), it[7]);
    uint8_t *small = net_slab_alloc(&s, 8);
    assert_non_null(small);
    assert_true(small != it[7] && small != it[9]);
    assert_true((uintptr_t)small % 16 == 0);
    /* a multiple of 64 starts on a cache line whatever came before it */
    for (int i = 0; i < 3; i++) {
        uint8_t *l = net_slab_alloc(&s, 192);
        assert_non_null(l);
        assert_int_equal((uintptr_t)l % 64, 0);
        uint8_t *m = net_slab_alloc(&s, 48);
        assert_int_equal((uintptr_t)m % 16, 0);
    }
    /* over the largest class: refused (the caller uses the heap) */
    assert_null(net_slab_alloc(&s, NET_SLAB_CLASSES * 16 + 1));
    assert_non_null(net_slab_alloc(&s, NET_SLAB_CLASSES * 16));
    int x;
    assert_false(net_slab_owns(&s, &x));
    net_slab_release(&s);
}

static void
test_state_binding(void **state)
{
    (void)state;
    struct net_slab a, b;

    /* nothing bound: the heap */
    uint8_t *h = net_slab_state_new(100);
    assert_non_null(h);
    for (int k = 0; k < 100; k++)
        assert_int_equal(h[k], 0);
    net_slab_init(&a);
    net_slab_bind(&a);
    uint8_t *pa = net_slab_state_new(100);
    assert_true(net_slab_owns(&a, pa));
    memset(pa, 0xab, 100);
    net_slab_state_free(pa, 100);
    uint8_t *pa2 = net_slab_state_new(100); /* recycled and zeroed again */
    assert_ptr_equal(pa2, pa);
    for (int k = 0; k < 100; k++)
        assert_int_equal(pa2[k], 0);
    /* a newer allocator serves new states; frees find their own allocator */
    net_slab_init(&b);
    net_slab_bind(&b);
    uint8_t *pb = net_slab_state_new(100);
    assert_true(net_slab_owns(&b, pb));
    net_slab_state_free(pa2, 100);
    assert_ptr_equal(net_slab_alloc(&a, 100), pa2);
    net_slab_put(&a, pa2, 100);
    net_slab_state_free(h, 100); /* heap memory goes back to the heap */
    uint8_t *big = net_slab_state_new(NET_SLAB_CLASSES * 16 + 100);
    assert_non_null(big);
    assert_false(net_slab_owns(&b, big));
    net_slab_state_free(big, NET_SLAB_CLASSES * 16 + 100);
    net_slab_state_free(NULL, 10);
    net_slab_state_free(pb, 100);
    net_slab_release(&b);
    net_slab_release(&a);
    /* released allocators are unbound */
    uint8_t *h2 = net_slab_state_new(64);
    assert_non_null(h2);
    net_slab_state_free(h2, 64);
}

static void
test_pipeline_binds(void **state)
{
    (void)state;
    struct net_pipeline_cfg cfg;
    struct net_pipeline *p;

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(net_pipeline_new(&p, &cfg, 1 /* Ethernet */), 0);
    char *st = net_slab_state_new(300);
    char *st2 = net_slab_state_new(300);
    assert_non_null(st);
    /* from the pipeline's slab: carved one after the other (malloc puts a header between) */
    assert_ptr_equal(st2, st + 304);
    net_slab_state_free(st2, 300);
    net_slab_state_free(st, 300);
    net_pipeline_free(p);
    st = net_slab_state_new(300);
    assert_non_null(st);
    net_slab_state_free(st, 300);
}

#define MANY 41000 /* items of 2 KiB: 41 slabs, the slab set grown four times */

static void
test_many_slabs(void **state)
{
    (void)state;
    static uint8_t *it[MANY];
    struct net_slab s;

    net_slab_init(&s);
    for (int i = 0; i < MANY; i++) {
        it[i] = net_slab_alloc(&s, 2048);
        assert_non_null(it[i]);
    }
    assert_true(s.nslabs > 40);
    for (int i = 0; i < MANY; i++) {
        assert_true(net_slab_owns(&s, it[i]));
        assert_true(net_slab_owns(&s, it[i] + 2047));
    }
    /* the address just past a slab that is no neighbour's, and heap memory: not the slab's */
    uint8_t *after = (uint8_t *)s.slabs[0] + (2u << 20);
    bool neighbour = false;
    for (size_t k = 0; k < s.nslabs; k++)
        neighbour |= (uint8_t *)s.slabs[k] == after;
    assert_true(net_slab_owns(&s, after) == neighbour);
    int x;
    assert_false(net_slab_owns(&s, &x));
    /* bound: frees find the slab whichever it is and the items come back newest first */
    net_slab_bind(&s);
    net_slab_state_free(it[5], 2048);
    net_slab_state_free(it[MANY - 5], 2048);
    assert_ptr_equal(net_slab_alloc(&s, 2048), it[MANY - 5]);
    assert_ptr_equal(net_slab_alloc(&s, 2048), it[5]);
    net_slab_release(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_recycle),
        cmocka_unit_test(test_state_binding),
        cmocka_unit_test(test_pipeline_binds),
        cmocka_unit_test(test_many_slabs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
