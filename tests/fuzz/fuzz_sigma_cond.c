/*
 * fuzz_sigma_cond.c - libFuzzer target for the Sigma condition parser (sigma_cond_parse).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bannin/pool.h"
#include "bannin/sigma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static void
walk(const struct sigma_cond *c)
{
    while (c) {
        sink += (size_t)c->op + c->col + (c->name ? strlen(c->name) : 0);
        if (c->b)
            walk(c->b);
        c = c->a;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bn_pool *pool = bn_pool_new(0);
    struct sigma_cond *c = NULL;
    struct bn_diag d;
    if (!pool)
        return 0;
    if (sigma_cond_parse((const char *)data, size, pool, &c, &d) == 0)
        walk(c);
    else
        sink += strlen(d.msg) + d.col;
    bn_pool_free(pool);
    return 0;
}
