/*
 * alloc.c - the allocator wrapper with its fail-the-N-th-allocation test hook.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/common.h"

static atomic_ulong alloc_count;
static atomic_ulong fail_at; /* 0 = hook off; else the allocation number that starts failing */

void
bn_alloc_fail_after(unsigned long n)
{
    if (n == 0)
        atomic_store(&fail_at, 0);
    else
        atomic_store(&fail_at, atomic_load(&alloc_count) + n);
}

unsigned long
bn_alloc_count(void)
{
    return atomic_load(&alloc_count);
}

/* Counts one allocation; true if the test hook says it must fail. */
static bool
should_fail(void)
{
    unsigned long n = atomic_fetch_add(&alloc_count, 1) + 1;
    unsigned long f = atomic_load(&fail_at);
    return BN_UNLIKELY(f != 0 && n >= f);
}

void *
bn_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *
bn_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    if (n == 0 || size == 0)
        n = size = 1;
    return calloc(n, size);
}

void *
bn_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void *
bn_reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        return NULL;
    return bn_realloc(p, total);
}

char *
bn_strndup(const char *s, size_t n)
{
    char *d = bn_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
bn_strdup(const char *s)
{
    return bn_strndup(s, strlen(s));
}

void
bn_free(void *p)
{
    free(p);
}
