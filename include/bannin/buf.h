/*
 * buf.h - growable byte buffer with a hard maximum (curl dynbuf). Appending past the
 * maximum fails with BN_ETOOBIG and leaves the buffer as it was.
 */
#ifndef BANNIN_BUF_H
#define BANNIN_BUF_H

#include "bannin/common.h"

struct bn_buf {
    char *p;      /* owned; always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    size_t max;   /* hard limit on len */
};

/* "00" to "99": the two decimal digits of v < 100 at bn_dec_pairs + 2 * v. */
extern const char bn_dec_pairs[201];

/*
 * The decimal digits of v at the end of tmp[24], two at a time from bn_dec_pairs (half the
 * divisions of a digit loop: records are mostly numbers); returns where they start.
 */
static inline size_t
bn_u64_dec(char tmp[24], uint64_t v)
{
    size_t i = 24;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        i -= 2;
        __builtin_memcpy(tmp + i, bn_dec_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        i -= 2;
        __builtin_memcpy(tmp + i, bn_dec_pairs + 2 * v, 2);
    } else {
        tmp[--i] = (char)('0' + v);
    }
    return i;
}

/* Initialises an embedded buffer that may grow to max bytes. */
void bn_buf_init(struct bn_buf *b, size_t max);
/* Frees the storage; the buffer can be reused after bn_buf_init. */
void bn_buf_release(struct bn_buf *b);
/* Sets len to 0 keeping the storage. */
void bn_buf_reset(struct bn_buf *b);
int bn_buf_append(struct bn_buf *b, const void *data, size_t n);
int bn_buf_putc(struct bn_buf *b, char c);
int bn_buf_puts(struct bn_buf *b, const char *s);
int bn_buf_printf(struct bn_buf *b, const char *fmt, ...) BN_PRINTF(2, 3);
/* Appends s as the body of a JSON string (escaped, without quotes); invalid UTF-8 -> \ufffd. */
int bn_buf_json_escape(struct bn_buf *b, const char *s, size_t n);
/*
 * bn_buf_json_escape of the NUL-terminated string s, which lies in an array of max bytes
 * (borrowed): every byte of the array may be read, none past it. The same output as
 * bn_buf_json_escape(b, s, strnlen(s, max)), without a separate pass to find the length.
 */
int bn_buf_json_escape_z(struct bn_buf *b, const char *s, size_t max);
/* True if s[0..n) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool bn_utf8_valid(const char *s, size_t n);
/* Ensures room for n more bytes. */
int bn_buf_reserve(struct bn_buf *b, size_t n);
/* Hands the storage out (caller frees with bn_free) and resets the buffer. */
char *bn_buf_detach(struct bn_buf *b);

#endif
