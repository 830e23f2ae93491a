/*
 * fuzz_manager_ingest_net.c - libFuzzer target for the manager's reading of the network
 * sensor's eve records (src/manager/ingest_net.c): what an enrolled sensor (or anyone holding
 * its keys) sends. The input is a batch of NDJSON lines; each goes through
 * ingest_net_zeek() alone and the batch through ingest_net_for_detect(). Nothing may crash,
 * leak or read out of bounds; every rendering must be one JSON object, the originator's
 * offset inside it, and the batch view must keep each event's identity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "manager/ingest_net.h"

#define LINES_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ingest_net *net;
    if (!net && ingest_net_new(&net) != 0)
        abort();
    struct store_event ev[LINES_MAX];
    size_t n = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end && n < LINES_MAX) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        memset(&ev[n], 0, sizeof(ev[n]));
        ev[n].seq = (int64_t)n + 1;
        ev[n].agent_id = 3;
        ev[n].host = "sensor";
        ev[n].json = p;
        ev[n].json_len = len;
        n++;
        p += len + (nl ? 1 : 0);
    }
    struct bn_buf b;
    bn_buf_init(&b, 4u << 20);
    for (size_t i = 0; i < n; i++) {
        size_t oo, ol;
        bn_buf_reset(&b);
        int rc = ingest_net_zeek(ev[i].json, ev[i].json_len, &b, &oo, &ol);
        if (rc == 0) {
            json_error_t je;
            json_t *o = json_loadb(b.p, b.len, 0, &je);
            if (!o || !json_is_object(o) || oo + ol > b.len)
                abort();
            json_decref(o);
        } else if (b.len != 0) {
            abort(); /* a failed rendering leaves nothing behind */
        }
    }
    bn_buf_release(&b);
    const struct store_event *v = ingest_net_for_detect(net, ev, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i].seq != ev[i].seq || v[i].agent_id != ev[i].agent_id || !v[i].host)
            abort();
        if (v[i].json != ev[i].json && strlen(v[i].json) != v[i].json_len)
            abort();
    }
    return 0;
}
