/*
 * hex.h - hexadecimal text of bytes, one way and back: digests, keys and fingerprints in
 * frames, IOC lists, block lists and records.
 */
#ifndef BANNIN_HEX_H
#define BANNIN_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
static inline int
bn_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A byte's two lower-case hex digits at bn_hex_pairs + 2 * byte (for writers that put them in place). */
extern const char bn_hex_pairs[513];

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). Returns out. */
char *bn_hex_encode(const uint8_t *p, size_t n, char *out);
/*
 * Exactly 2n hex digits (either case) of s (slen bytes, no NUL needed) into n bytes.
 * 0, or BN_EINVAL with *bad (when bad is not NULL) = the offset of the first character that
 * is not a hex digit, or slen when the length is not 2n.
 */
int bn_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n, size_t *bad);

#endif
