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
