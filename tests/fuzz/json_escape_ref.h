/*
 * json_escape_ref.h - the oracle of bn_buf_json_escape's differential tests (the fuzz target
 * fuzz_json_escape.c and tests/unit/sensor/test_eve_escape.c): the general loop, appending
 * each run, as it was before the fast path. Include after bannin/buf.h and bannin/error.h.
 */
#ifndef BN_TESTS_JSON_ESCAPE_REF_H
#define BN_TESTS_JSON_ESCAPE_REF_H

#include <stddef.h>

static size_t
ref_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        min = 0x80;
        c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
        c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

/* The general loop as it was before the fast path. */
static int
ref_escape(struct bn_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int rc;
    while (i < n) {
        unsigned c = u[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        if (run && (rc = bn_buf_append(b, s + i - run, run)))
            return rc;
        run = 0;
        if (c >= 0x80) {
            size_t l = ref_utf8_seq(u + i, n - i);
            if (l) {
                if ((rc = bn_buf_append(b, s + i, l)))
                    return rc;
                i += l;
            } else {
                if ((rc = bn_buf_append(b, "\\ufffd", 6)))
                    return rc;
                i++;
            }
            continue;
        }
        char esc[7];
        size_t el = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if ((rc = bn_buf_append(b, esc, el)))
            return rc;
        i++;
    }
    if (run && (rc = bn_buf_append(b, s + n - run, run)))
        return rc;
    return bn_buf_reserve(b, 0);
}

#endif
