/*
 * fuzz_net_decode.c - libFuzzer target for the sensor's packet decoder and fragment
 * reassembler (decode.c, defrag.c): bytes from the wire, so any frame must decode or be
 * counted under a drop reason without reading outside it.
 *
 * Input: one byte choosing the link type, then frames, each a 2-byte big-endian length and
 * that many bytes (a short last frame takes what is left), so fragments of one datagram can
 * meet across frames. Each frame is copied to a buffer of exactly its size so ASan sees any
 * over-read. After each frame the drop counters must add up.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/sensor.h"

static const int links[] = {
    NET_LINK_ETHERNET, NET_LINK_RAW,  NET_LINK_NULL, NET_LINK_LOOP,
    NET_LINK_SLL,      NET_LINK_SLL2, NET_LINK_IPV4, NET_LINK_IPV6,
    9 /* PPP */,       104 /* Cisco HDLC */, 105 /* 802.11 */, 127 /* radiotap */,
    239 /* NFLOG */,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    uint64_t ts = 1000000000ull;

    if (size < 1)
        return 0;
    if (net_decoder_init(&d, links[data[0] % (sizeof(links) / sizeof(links[0]))]) != 0)
        return 0;
    data++;
    size--;
    while (size > 0) {
        size_t n = size >= 2 ? ((size_t)data[0] << 8 | data[1]) : size;
        size_t skip = size >= 2 ? 2 : 0;
        if (n > size - skip)
            n = size - skip;
        uint8_t *frame = malloc(n ? n : 1);
        if (!frame)
            break;
        memcpy(frame, data + skip, n);
        size_t got = net_decode(&d, frame, (uint32_t)n, (uint32_t)n, ts, d.st.packets + 1, k);
        for (size_t i = 0; i < got; i++) {
            /* every pointer a packet hands out stays inside what was given */
            if (k[i].payload_len && !k[i].payload)
                __builtin_trap();
            volatile uint8_t sink = 0;
            for (uint32_t j = 0; j < k[i].payload_len; j++)
                sink ^= k[i].payload[j];
            (void)sink;
        }
        free(frame);
        const struct net_decode_stats *s = &d.st;
        if (s->packets != s->decoded + s->truncated + s->malformed + s->unsupported +
                              s->frag_pending + s->frag_dropped)
            __builtin_trap();
        data += skip + n;
        size -= skip + n;
        ts += 1000000ull;
    }
    net_decoder_release(&d);
    return 0;
}
