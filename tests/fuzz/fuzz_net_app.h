/*
 * fuzz_net_app.h - drives one application parser (src/sensor/app_*.c) with fuzzer bytes as
 * a sequence of stream chunks in both directions, with gaps, and renders every record as eve
 * and Zeek JSON. Input layout: a chunk header byte (bit 7: to client, bit 6: a gap of the low
 * 6 bits * 16 bytes instead of data, low 6 bits: chunk length - 1, 63: the length is the
 * next two bytes), then the chunk. Seeds can be written as one header per chunk. In every
 * other chunk the bytes the parser declares it skips go through its skip callback.
 */
#ifndef BANNIN_FUZZ_NET_APP_H
#define BANNIN_FUZZ_NET_APP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sensor/app.h"
#include "sensor/app_int.h"
#include "bannin/buf.h"

static void
fuzz_app_emit(struct net_sink *self, const struct net_record *rec)
{
    (void)self;
    struct bn_buf b;
    bn_buf_init(&b, 1u << 22);
    if (net_app_eve(rec->type, rec->body, &b) == 0 && b.len && b.p[b.len] != '\0')
        __builtin_trap();
    bn_buf_reset(&b);
    if (rec->flow)
        (void)net_app_zeek(rec->type, rec->flow, rec->ts_ns, rec->body, &b);
    bn_buf_release(&b);
}

static inline void
fuzz_app_run(const struct net_app_parser *p, const uint8_t *data, size_t size)
{
    struct net_sink sink = {fuzz_app_emit, {0}};
    struct net_flow f;
    memset(&f, 0, sizeof(f));
    f.proto = p->proto;
    f.cli.fam = f.srv.fam = 4;
    f.cport = 40000;
    f.sport = p->ports[0];
    f.parser = p;
    f.app = (uint8_t)p->app;
    (void)p->probe(data, size < NET_PROBE_MAX ? size : NET_PROBE_MAX, NET_TOSERVER);
    (void)net_app_identify(p->proto, data, size, NET_TOCLIENT);
    void *st = p->open(&f);
    uint64_t ts = 1;
    size_t i = 0;
    while (i < size) {
        uint8_t h = data[i++];
        enum net_dir dir = (h & 0x80) ? NET_TOCLIENT : NET_TOSERVER;
        size_t len = (h & 0x3f) + 1u;
        if ((h & 0x40) != 0) {
            p->gap(st, &f, dir, (size_t)(h & 0x3f) * 16u + 1u);
            continue;
        }
        if ((h & 0x3f) == 0x3f && i + 2 <= size) {
            len = ((size_t)data[i] << 8 | data[i + 1]) + 1u;
            i += 2;
        }
        if (len > size - i)
            len = size - i;
        /* every other chunk: the prefix the parser says it ignores goes through skip, as
         * the pipeline hands such bytes on (it must have the effect data would have had) */
        size_t sk = p->skippable && (ts & 1) ? p->skippable(st, dir) : 0;
        if (sk > len)
            sk = len;
        if (sk)
            (void)(p->skip)(st, &f, dir, sk, ts, &sink);
        if (len > sk)
            p->data(st, &f, dir, data + i + sk, len - sk, ts, &sink);
        ts++;
        i += len;
    }
    p->close(st, &f, ts, &sink);
}

#endif
