/*
 * alloc.h - the one allocator wrapper of libbannin.
 *
 * Every heap allocation in the project goes through these functions so that tests can make
 * the N-th allocation fail (bn_alloc_fail_after) and check that BN_ENOMEM propagates cleanly,
 * the way curl's torture tests and SQLite's OOM tests do.
 */
#ifndef BANNIN_ALLOC_H
#define BANNIN_ALLOC_H

#include <stddef.h>

/* Returns owned memory or NULL. */
void *bn_malloc(size_t n);
/* Returns owned zeroed memory or NULL; checks n * size for overflow. */
void *bn_calloc(size_t n, size_t size);
/* Resizes p; on failure p is untouched and NULL is returned. */
void *bn_realloc(void *p, size_t n);
/* Resizes an array of n elements of size each, checking for overflow. */
void *bn_reallocarray(void *p, size_t n, size_t size);
/* Returns an owned copy of s, or NULL. */
char *bn_strdup(const char *s);
/* Returns an owned NUL-terminated copy of the first n bytes of s, or NULL. */
char *bn_strndup(const char *s, size_t n);
/* Frees p; bn_free(NULL) is a no-op. */
void bn_free(void *p);

/*
 * Test hook: the n-th allocation from now (1 = the next one) and every later one fail,
 * until bn_alloc_fail_after(0) turns the hook off. Thread-safe but global: tests only.
 */
void bn_alloc_fail_after(unsigned long n);
/* Number of allocations made since the process started (for the fail-N loops in tests). */
unsigned long bn_alloc_count(void);

#endif
