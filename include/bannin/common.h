/*
 * common.h - small macros every libbannin file uses.
 *
 * Kept tiny on purpose: anything bigger than a macro belongs in its own module.
 */
#ifndef BANNIN_COMMON_H
#define BANNIN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define BN_LIKELY(x) __builtin_expect(!!(x), 1)
#define BN_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BN_UNUSED __attribute__((unused))
#define BN_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* A borrowed, not necessarily NUL-terminated byte string. */
struct bn_str {
    const char *p;
    size_t len;
};

/* Banned functions become compile errors from here on: include system headers first. */
#include "bannin/banned.h"

#endif
