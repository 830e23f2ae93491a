/*
 * fuzz_agent_isolate_params.c - libFuzzer target for the isolate action's parameters (they
 * come from the manager and end up inside nftables syntax). Never touches the firewall: it
 * goes through resp_isolate_check, the same parser resp_isolate uses. Checks, for any bytes:
 * the result is a JSON object; an accepted request's endpoints contain only address and port
 * characters (nothing that could inject nft syntax); and checking the canonical form again
 * gives the same canonical form.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/respond_isolate.h"
#include "bannin/buf.h"
#include "bannin/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_endpoints(json_t *a)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v);
        if (!s || !*s || strspn(s, "0123456789abcdefABCDEF.:[]") != strlen(s))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    int rc = resp_isolate_check((const char *)data, size, &out);
    if (rc != 0 && rc != BN_EINVAL && rc != BN_ENOMEM)
        abort();
    if (rc != BN_ENOMEM) {
        json_t *o = json_loadb(out.p, out.len, 0, NULL);
        if (!json_is_object(o))
            abort();
        if (rc == 0) {
            check_endpoints(json_object_get(o, "manager"));
            check_endpoints(json_object_get(o, "dns"));
            if (json_array_size(json_object_get(o, "manager")) == 0)
                abort();
            /* canonical form is a fixed point */
            json_t *p = json_pack("{s:O,s:O}", "manager", json_object_get(o, "manager"), "dns",
                                  json_object_get(o, "dns"));
            char *ps = p ? json_dumps(p, JSON_COMPACT) : NULL;
            if (ps) {
                struct bn_buf again;
                bn_buf_init(&again, 1u << 20);
                if (resp_isolate_check(ps, strlen(ps), &again) != 0 ||
                    again.len != out.len || memcmp(again.p, out.p, out.len) != 0)
                    abort();
                bn_buf_release(&again);
                free(ps);
            }
            json_decref(p);
        }
        json_decref(o);
    }
    bn_buf_release(&out);
    return 0;
}
