/*
 * fuzz_agent_proc_params.c - libFuzzer target for the parameters of kill, kill_tree, suspend
 * and resume (they come from the manager). Never touches a process: it goes through
 * resp_proc_check, the parser the four actions use. For any bytes: the result is a JSON
 * object; an accepted request names a pid in 1..INT32_MAX and a start time >= 0; and its
 * canonical form is accepted again with the same result.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/respond_proc.h"
#include "bannin/buf.h"
#include "bannin/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    int rc = resp_proc_check((const char *)data, size, &out);
    if (rc != 0 && rc != BN_EINVAL && rc != BN_ENOMEM)
        abort();
    if (rc != BN_ENOMEM) {
        json_t *o = json_loadb(out.p, out.len, 0, NULL);
        if (!json_is_object(o))
            abort();
        if (rc == 0) {
            json_int_t pid = json_integer_value(json_object_get(o, "pid"));
            if (pid < 1 || pid > INT32_MAX || !json_is_integer(json_object_get(o, "start_ns")) ||
                json_integer_value(json_object_get(o, "start_ns")) < 0)
                abort();
            json_t *p = json_pack("{s:O,s:O}", "pid", json_object_get(o, "pid"), "start_ns",
                                  json_object_get(o, "start_ns"));
            char *ps = p ? json_dumps(p, JSON_COMPACT) : NULL;
            if (ps) {
                struct bn_buf again;
                bn_buf_init(&again, 1u << 20);
                if (resp_proc_check(ps, strlen(ps), &again) != 0 || again.len != out.len ||
                    memcmp(again.p, out.p, out.len) != 0)
                    abort();
                bn_buf_release(&again);
                free(ps);
            }
            json_decref(p);
        } else if (!json_is_false(json_object_get(o, "ok")) ||
                   !json_is_string(json_object_get(o, "error"))) {
            abort();
        }
        json_decref(o);
    }
    bn_buf_release(&out);
    return 0;
}
