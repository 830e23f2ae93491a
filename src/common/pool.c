/*
 * pool.c - region allocator. Blocks are chained; large requests get a block of their own.
 * Reset keeps the first block so a pool reused record after record stops allocating.
 */
#include <string.h>

#include "bannin/pool.h"
#include "bannin/alloc.h"
#include "bannin/common.h"

#define POOL_DEFAULT_BLOCK 16384
#define POOL_ALIGN 16

struct block {
    struct block *next;
    size_t size;  /* usable bytes in data */
    size_t used;
    _Alignas(POOL_ALIGN) unsigned char data[];
};

struct bn_pool {
    struct block *head;  /* current block, first in the chain */
    size_t block_size;
    size_t used_total;
};

static struct block *
block_new(size_t size)
{
    struct block *b = bn_malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct bn_pool *
bn_pool_new(size_t block_size)
{
    struct bn_pool *p = bn_calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->block_size = block_size ? block_size : POOL_DEFAULT_BLOCK;
    return p;
}

void
bn_pool_free(struct bn_pool *pool)
{
    if (!pool)
        return;
    struct block *b = pool->head;
    while (b) {
        struct block *n = b->next;
        bn_free(b);
        b = n;
    }
    bn_free(pool);
}

void
bn_pool_reset(struct bn_pool *pool)
{
    if (!pool || !pool->head)
        return;
    /* Keep the last block of the chain (the oldest, usually of the default size). */
    struct block *b = pool->head, *keep = NULL;
    while (b) {
        struct block *n = b->next;
        if (!n && b->size == pool->block_size)
            keep = b;
        else
            bn_free(b);
        b = n;
    }
    pool->head = keep;
    if (keep)
        keep->used = 0;
    pool->used_total = 0;
}

void *
bn_pool_alloc(struct bn_pool *pool, size_t n)
{
    size_t need = (n + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    if (need < n)
        return NULL;
    struct block *b = pool->head;
    if (!b || b->size - b->used < need) {
        if (need > pool->block_size / 4) {
            /* Big request: its own block, linked behind the current one. */
            struct block *big = block_new(need);
            if (!big)
                return NULL;
            big->used = need;
            if (b) {
                big->next = b->next;
                b->next = big;
            } else {
                pool->head = big;
            }
            pool->used_total += need;
            return big->data;
        }
        b = block_new(pool->block_size);
        if (!b)
            return NULL;
        b->next = pool->head;
        pool->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    pool->used_total += need;
    return p;
}

void *
bn_pool_calloc(struct bn_pool *pool, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        return NULL;
    void *p = bn_pool_alloc(pool, total);
    if (p)
        memset(p, 0, total);
    return p;
}

char *
bn_pool_strndup(struct bn_pool *pool, const char *s, size_t n)
{
    char *d = bn_pool_alloc(pool, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
bn_pool_strdup(struct bn_pool *pool, const char *s)
{
    return bn_pool_strndup(pool, s, strlen(s));
}

size_t
bn_pool_used(const struct bn_pool *pool)
{
    return pool->used_total;
}
