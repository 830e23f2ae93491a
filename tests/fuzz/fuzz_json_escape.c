/*
 * fuzz_json_escape.c - differential target for bn_buf_json_escape (src/common/buf.c), which
 * renders every string of the sensor's eve output from bytes off the wire: its fast path
 * (written in place, 8 plain bytes at a time) must give exactly what the general loop gives
 * (a reference copy below: an append per run), in buffers of any size and fill, including
 * the errors at the buffer's maximum; and the output must be valid UTF-8 without a raw
 * control byte, quote or backslash that is not part of an escape.
 *
 * bn_buf_json_escape_z, the string taken as a NUL-terminated one in an array of its bytes,
 * must give what the reference gives for its strnlen bytes.
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

#include "json_escape_ref.h"

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

    /* the same string as a NUL-terminated one in an array of n bytes (s ends where the
     * fuzzer's buffer ends: a read past it is caught) */
    bn_buf_init(&a, max);
    bn_buf_init(&r, max);
    for (size_t i = 0; i < pre; i++) {
        if (bn_buf_putc(&a, 'p') || bn_buf_putc(&r, 'p'))
            abort();
    }
    ra = bn_buf_json_escape_z(&a, s, n);
    rr = ref_escape(&r, s, strnlen(s, n));
    if (ra != rr || a.len != r.len || (r.len && memcmp(a.p, r.p, r.len) != 0))
        abort();
    if (ra == 0 && a.p[a.len] != '\0')
        abort();
    bn_buf_release(&a);
    bn_buf_release(&r);
    return 0;
}
