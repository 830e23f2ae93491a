/*
 * fuzz_net_pipeline.c - libFuzzer target for the sensor's whole packet path: decoder, flow
 * table, TCP reassembly, protocol identification and parsers, and the eve and Zeek
 * renderers (pipeline.c, flow.c, stream.c, eve.c, conn.c), with a small flow table so
 * evictions happen. Input framing as in fuzz_net_decode.c; timestamps advance with each
 * frame by an amount taken from the input, so timeouts fire too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/pipeline.h"

static const int links[] = {NET_LINK_ETHERNET, NET_LINK_RAW, NET_LINK_SLL2, NET_LINK_NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    struct net_pipeline_cfg cfg;
    struct net_pipeline *p;
    uint64_t ts = 1000000000ull;

    if (size < 2)
        return 0;
    if (!null)
        null = fopen("/dev/null", "w");
    memset(&cfg, 0, sizeof(cfg));
    net_flow_cfg_default(&cfg.flow);
    cfg.flow.max_flows = 8;
    cfg.flow.midstream = data[1] & 1;
    cfg.eve = null;
    cfg.zeek = null;
    cfg.ndr = false;
    if (net_pipeline_new(&p, &cfg, links[data[0] % (sizeof(links) / sizeof(links[0]))]) != 0)
        return 0;
    data += 2;
    size -= 2;
    while (size > 0) {
        size_t n = size >= 2 ? ((size_t)data[0] << 8 | data[1]) : size;
        size_t skip = size >= 2 ? 2 : 0;
        if (n > size - skip)
            n = size - skip;
        uint8_t *frame = malloc(n ? n : 1);
        if (!frame)
            break;
        memcpy(frame, data + skip, n);
        net_pipeline_frame(p, frame, (uint32_t)n, (uint32_t)n, ts);
        free(frame);
        /* the high length bits double as a clock step: 0..63 s */
        ts += (uint64_t)(skip ? data[0] >> 2 : 0) * 1000000000ull + 1000ull;
        data += skip + n;
        size -= skip + n;
    }
    net_pipeline_finish(p);
    net_pipeline_free(p);
    return 0;
}
