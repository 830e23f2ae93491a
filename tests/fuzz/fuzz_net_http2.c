/*
 * fuzz_net_http2.c - libFuzzer target for HTTP/2 in the network sensor (app_http2*.c): the
 * first byte picks the mode. 'H': the rest is HPACK header blocks (split at 0xff 0xfe) for
 * one decoder, so its dynamic table carries over between blocks. Otherwise the bytes run
 * through the HTTP parser after the client's connection preface, as chunks of both
 * directions with gaps (fuzz_net_app.h), with HTTP/1 header lists on when the first byte
 * is odd (the h2c upgrade path is reached by HTTP/1 seeds). Everything must parse or be
 * refused and counted without reading out of bounds, leaking or hanging, and every record
 * must render.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_net_app.h"
#include "sensor/app_http2.h"

static void
hpack_run(const uint8_t *d, size_t n)
{
    struct hpack hp;
    struct net_http_hdrs *l = calloc(1, sizeof(*l));
    uint8_t trunc = 0;
    if (!l)
        return;
    hpack_init(&hp);
    while (n) {
        size_t k = 0;
        while (k + 1 < n && !(d[k] == 0xff && d[k + 1] == 0xfe))
            k++;
        if (k + 1 >= n)
            k = n;
        memset(l, 0, sizeof(*l));
        if (hpack_decode(&hp, d, k, l, &trunc) != 0)
            break;
        for (uint32_t i = 0; i < l->n; i++)
            if (l->h[i].name_off + l->h[i].name_len > l->len ||
                l->h[i].value_off + l->h[i].value_len > l->len)
                __builtin_trap();
        k = k + 2 <= n ? k + 2 : n;
        d += k;
        n -= k;
    }
    hpack_free(&hp);
    free(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 'H') {
        hpack_run(data + 1, size - 1);
        return 0;
    }
    net_app_http_dump_headers(data[0] & 1);
    if (data[0] == 'U') { /* HTTP/1 first: the upgrade path */
        fuzz_app_run(&net_app_http, data + 1, size - 1);
        net_app_http_dump_headers(false);
        return 0;
    }
    /* the preface as the first to-server chunk, then the fuzzer's chunks */
    uint8_t *buf = malloc(size + 1 + APP_H2_PREFACE_LEN);
    if (!buf)
        return 0;
    buf[0] = APP_H2_PREFACE_LEN - 1;
    memcpy(buf + 1, APP_H2_PREFACE, APP_H2_PREFACE_LEN);
    memcpy(buf + 1 + APP_H2_PREFACE_LEN, data + 1, size - 1);
    fuzz_app_run(&net_app_http, buf, size + APP_H2_PREFACE_LEN);
    free(buf);
    net_app_http_dump_headers(false);
    return 0;
}
