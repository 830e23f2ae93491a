/*
 * fuzz_agent_scan_params.c - libFuzzer target for the scan action's parameters (they come
 * from the manager). Nothing is compiled, read or scanned: it goes through resp_scan_check,
 * the checks resp_scan runs first. For any bytes: the result is a JSON object; an accepted
 * request has at least one path or pid, every path absolute without NUL bytes, every pid in
 * 1..4194304, limits within their ranges, and at most one of rules / rule_dir; a refusal is
 * {"ok":false,"error":...}.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/respond_scan.h"
#include "bannin/buf.h"
#include "bannin/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    int rc = resp_scan_check((const char *)data, size, &out);
    if (rc != 0 && rc != BN_EINVAL && rc != BN_ENOMEM)
        abort();
    if (rc != BN_ENOMEM) {
        json_t *o = json_loadb(out.p, out.len, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(o))
            abort();
        if (rc == 0) {
            json_t *p = json_object_get(o, "params");
            json_t *paths = json_object_get(p, "paths"), *pids = json_object_get(p, "pids");
            if (json_array_size(paths) + json_array_size(pids) == 0)
                abort();
            size_t i;
            json_t *v;
            json_array_foreach(paths, i, v) {
                const char *s = json_string_value(v);
                if (!s || s[0] != '/' || strlen(s) != json_string_length(v))
                    abort();
            }
            json_array_foreach(pids, i, v) {
                if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                    json_integer_value(v) > 4194304)
                    abort();
            }
            if (json_object_get(p, "rules") && json_object_get(p, "rule_dir"))
                abort();
            json_t *t = json_object_get(p, "timeout");
            if (t && (json_integer_value(t) < 1 || json_integer_value(t) > 3600))
                abort();
        } else if (!json_is_false(json_object_get(o, "ok")) ||
                   !json_is_string(json_object_get(o, "error"))) {
            abort();
        }
        json_decref(o);
    }
    bn_buf_release(&out);
    return 0;
}
