/*
 * hash.h - the one string hash of libbannin (FNV-1a 64, good enough for short field names
 * and keys; tables that face hostile keys use it with a per-table seed).
 */
#ifndef BANNIN_HASH_H
#define BANNIN_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
bn__hash(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

#endif
