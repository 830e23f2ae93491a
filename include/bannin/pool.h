/*
 * pool.h - region allocator: one pool per unit of work (a record, a rule, a command),
 * freed at once (nginx ngx_palloc, h2o pools). Allocations are never freed one by one.
 */
#ifndef BANNIN_POOL_H
#define BANNIN_POOL_H

#include <stddef.h>

struct bn_pool;

/* Returns an owned pool whose blocks are block_size bytes (0 = default), or NULL. */
struct bn_pool *bn_pool_new(size_t block_size);
/* Frees the pool and everything allocated from it. NULL is a no-op. */
void bn_pool_free(struct bn_pool *pool);
/* Forgets every allocation but keeps the first block for reuse. */
void bn_pool_reset(struct bn_pool *pool);
/* Returns memory owned by the pool (16-byte aligned), or NULL. */
void *bn_pool_alloc(struct bn_pool *pool, size_t n);
/* Returns zeroed memory owned by the pool, or NULL. */
void *bn_pool_calloc(struct bn_pool *pool, size_t n, size_t size);
/* Returns a NUL-terminated copy of s[0..n) owned by the pool, or NULL. */
char *bn_pool_strndup(struct bn_pool *pool, const char *s, size_t n);
/* Returns a copy of s owned by the pool, or NULL. */
char *bn_pool_strdup(struct bn_pool *pool, const char *s);
/* Bytes handed out since the last reset (for limits and statistics). */
size_t bn_pool_used(const struct bn_pool *pool);

#endif
