/*
 * test_hpack_table.c - the HPACK dynamic table (app_http2_hpack.c) against a plain model:
 * thousands of literal fields with incremental indexing of varied sizes (so the byte buffer
 * fills, moves its live run to the front and grows), size updates down and up, and after
 * every block indexed references to the newest, middle and oldest entries read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensor/app_http2.h"
#include "bannin/error.h"

#define MODEL_MAX 4096

/* The model: entries newest first, evicted from the end, sizes as RFC 7541 4.1. */
struct model {
    char name[MODEL_MAX][16];
    char value[MODEL_MAX][600];
    size_t n, size, max;
};

static void
model_evict(struct model *m, size_t limit)
{
    while (m->n && m->size > limit) {
        m->n--;
        m->size -= strlen(m->name[m->n]) + strlen(m->value[m->n]) + 32;
    }
}

static void
model_add(struct model *m, const char *name, const char *value)
{
    size_t esz = strlen(name) + strlen(value) + 32;
    if (esz > m->max) {
        model_evict(m, 0);
        return;
    }
    model_evict(m, m->max - esz);
    memmove(m->name[1], m->name[0], m->n * sizeof(m->name[0]));
    memmove(m->value[1], m->value[0], m->n * sizeof(m->value[0]));
    snprintf(m->name[0], sizeof(m->name[0]), "%s", name);
    snprintf(m->value[0], sizeof(m->value[0]), "%s", value);
    m->n++;
    m->size += esz;
}

/* A prefix integer of `bits` bits with the first byte's high bits `first`. */
static size_t
put_int(uint8_t *o, uint8_t first, unsigned bits, size_t v)
{
    size_t max = ((size_t)1 << bits) - 1, k = 0;
    if (v < max) {
        o[k++] = (uint8_t)(first | v);
        return k;
    }
    o[k++] = (uint8_t)(first | max);
    v -= max;
    while (v >= 128) {
        o[k++] = (uint8_t)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    o[k++] = (uint8_t)v;
    return k;
}

static size_t
put_str(uint8_t *o, const char *s)
{
    size_t n = strlen(s), k = put_int(o, 0, 7, n);
    memcpy(o + k, s, n);
    return k + n;
}

static void
check_index(struct hpack *hp, const struct model *m, size_t i, struct net_http_hdrs *l)
{
    uint8_t b[8];
    uint8_t trunc = 0;
    size_t n = put_int(b, 0x80, 7, 62 + i);
    l->n = l->len = 0;
    assert_int_equal(hpack_decode(hp, b, n, l, &trunc), 0);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->h[0].name_len, strlen(m->name[i]));
    assert_int_equal(l->h[0].value_len, strlen(m->value[i]));
    assert_memory_equal(l->bytes + l->h[0].name_off, m->name[i], l->h[0].name_len);
    assert_memory_equal(l->bytes + l->h[0].value_off, m->value[i], l->h[0].value_len);
}

static void
test_table_model(void **state)
{
    (void)state;
    struct model *m = calloc(1, sizeof(*m));
    struct net_http_hdrs *l = calloc(1, sizeof(*l));
    uint8_t *b = malloc(4096);
    struct hpack hp;
    assert_non_null(m);
    assert_non_null(l);
    assert_non_null(b);
    hpack_init(&hp);
    m->max = 4096;
    unsigned seed = 1;
    for (int round = 0; round < 3000; round++) {
        size_t k = 0;
        uint8_t trunc = 0;
        if (round % 400 == 399) { /* shrink, then grow back (or beyond) */
            size_t to = round % 800 == 399 ? 300 : 4096 + (size_t)(round % 3) * 8192;
            k += put_int(b + k, 0x20, 5, to);
            m->max = to;
            model_evict(m, to);
        }
        int fields = 1 + round % 4;
        for (int f = 0; f < fields; f++) {
            char name[16], value[600];
            seed = seed * 1103515245u + 12345u;
            size_t vl = (seed >> 8) % (round % 50 == 0 ? 590 : 90);
            snprintf(name, sizeof(name), "k%d", round * 4 + f);
            for (size_t i = 0; i < vl; i++)
                value[i] = (char)('a' + (round + f + (int)i) % 26);
            value[vl] = '\0';
            b[k++] = 0x40; /* literal with incremental indexing, new name */
            k += put_str(b + k, name);
            k += put_str(b + k, value);
            model_add(m, name, value);
        }
        l->n = l->len = 0;
        assert_int_equal(hpack_decode(&hp, b, k, l, &trunc), 0);
        assert_int_equal(hp.n, m->n);
        assert_int_equal(hp.size, m->size);
        if (m->n) {
            check_index(&hp, m, 0, l);
            check_index(&hp, m, m->n / 2, l);
            check_index(&hp, m, m->n - 1, l);
        }
    }
    /* an index one past the table is an error */
    uint8_t e[8];
    uint8_t trunc = 0;
    size_t n = put_int(e, 0x80, 7, 62 + m->n);
    assert_int_equal(hpack_decode(&hp, e, n, l, &trunc), BN_EPROTO);
    hpack_free(&hp);
    free(b);
    free(l);
    free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
