/*
 * fuzz_agent_block.c - libFuzzer target for the exec blocker's outside inputs: the persisted
 * block list (block_list.json, read at start-up) and the block_add / block_remove parameters
 * (from the manager). The first byte picks the parser. The module has no marks and no state
 * dir, so nothing is ever blocked or written. Checks, for any bytes: the return code is one
 * the contract allows, every result is a JSON object with "ok", and block_list afterwards is a
 * JSON object whose rule count matches what was accepted.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/respond_block.h"
#include "bannin/buf.h"
#include "bannin/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *
parse_obj(const struct bn_buf *b)
{
    json_t *o = json_loadb(b->p ? b->p : "", b->len, 0, NULL);
    if (!json_is_object(o) || !json_is_boolean(json_object_get(o, "ok")))
        abort();
    return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct resp_block_conf conf = {.cache_slots = 16};
    struct resp_block *m = NULL;
    if (resp_block_new_conf(&m, NULL, &conf) < 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    struct bn_buf out;
    bn_buf_init(&out, 1u << 22);
    int rc;
    switch (data[0] % 3) {
    case 0: {
        char err[768];
        err[0] = '\0';
        rc = resp_block_load_text(m, text, len, err, sizeof(err));
        if (rc != 0 && rc != BN_EPARSE && rc != BN_ETOOBIG && rc != BN_ENOMEM)
            abort();
        if (rc < 0 && !err[0])
            abort(); /* every failure says where and why */
        break;
    }
    case 1:
        rc = resp_block_add(m, text, len, &out);
        if (rc != 0 && rc != BN_EINVAL && rc != BN_ENOMEM)
            abort();
        if (rc != BN_ENOMEM)
            json_decref(parse_obj(&out));
        break;
    default:
        rc = resp_block_remove(m, text, len, &out);
        if (rc != 0 && rc != BN_EINVAL && rc != BN_ENOMEM)
            abort();
        if (rc != BN_ENOMEM)
            json_decref(parse_obj(&out));
        break;
    }
    bn_buf_reset(&out);
    if (resp_block_list(m, "{}", 2, &out) == 0) {
        json_t *o = parse_obj(&out);
        if (!json_is_array(json_object_get(o, "rules")))
            abort();
        json_decref(o);
    }
    bn_buf_release(&out);
    resp_block_free(m);
    return 0;
}
