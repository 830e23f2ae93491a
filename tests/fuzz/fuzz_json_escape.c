/*
 * fuzz_json_escape.c - differential target for bn_buf_json_escape (src/common/buf.c), which
 * renders every string of the sensor's eve output from bytes off the wire: its fast path
 * (written in place, 8 plain bytes at a time) must give exactly what the general loop gives
 * (a reference copy below: an append per run), in buffers of any size and fill, including
 * the errors at the buffer's maximum; and the output must be valid UTF-8 without a raw
 * control byte, quote or backslash that is not part of an escape.
 *
 * Input: byte 0 picks the buffer's maximum (0: 1 MiB, else byte 0 * 3), byte 1 how many
 * bytes are in the buffer before (at most the maximum); the rest is the string.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/buf.h"
#include "bannin/error.h"

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

/* A JSON string body: escapes well formed, no raw control byte or lone quote. */
static void
check_body(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == '"')
            abort();
        if (c == '\\') {
            if (i + 1 >= n || !strchr("\"\\nrtbfu", p[i + 1]))
                abort();
            i += p[i + 1] == 'u' ? 5 : 1;
        }
    }
    if (!bn_utf8_valid(p, n))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = data[0] ? (size_t)data[0] * 3 : (size_t)1 << 20;
    size_t pre = data[1] < max ? data[1] : max;
    const char *s = (const char *)data + 2;
    size_t n = size - 2;

    struct bn_buf a, r;
    bn_buf_init(&a, max);
    bn_buf_init(&r, max);
    for (size_t i = 0; i < pre; i++) {
        if (bn_buf_putc(&a, 'p') || bn_buf_putc(&r, 'p'))
            abort();
    }
    int ra = bn_buf_json_escape(&a, s, n);
    int rr = ref_escape(&r, s, n);
    if (ra != rr || a.len != r.len || (r.len && memcmp(a.p, r.p, r.len) != 0))
        abort();
    if (ra == 0) {
        if (a.p[a.len] != '\0')
            abort();
        check_body(a.p + pre, a.len - pre);
    } else if (ra != BN_ETOOBIG) {
        abort();
    }
    bn_buf_release(&a);
    bn_buf_release(&r);
    return 0;
}
