/*
 * fuzz_api_body.c - libFuzzer target for the manager API's request body parser and typed
 * field readers (src/manager/api_json.c): any bytes must be refused with an error naming
 * what, where and why, or accepted as an object within the limits, without a crash or a
 * leak. The first byte picks the size limit so the limit paths are reached too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "manager/api_int.h"
#include "bannin/limits.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t max = data[0] & 1 ? 64 : BN_API_BODY_MAX;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct api_error e;
    memset(&e, 0, sizeof(e));
    json_t *j = api_body_parse(p, n, max, &e);
    if (!j) {
        /* A refusal always says why, with a 4xx status. */
        if (e.status < 400 || e.status > 499 || e.code[0] == '\0' || e.message[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if (!json_is_object(j))
        __builtin_trap();
    static const char *const keys[] = {"name", "tenant_id", "role", "enabled", "fields", NULL};
    (void)api_body_keys(j, keys, &e);
    const char *s;
    int64_t v = 0;
    int b = 0;
    (void)api_body_str(j, "name", 1, 127, &s, &e);
    (void)api_body_str(j, "role", 0, 32, &s, &e);
    (void)api_body_int(j, "tenant_id", 0, 1, INT64_MAX, &v, &e);
    (void)api_body_bool(j, "enabled", 0, &b, &e);
    json_decref(j);
    return 0;
}
