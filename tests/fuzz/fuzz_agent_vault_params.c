/*
 * fuzz_agent_vault_params.c - libFuzzer target for the parameters of quarantine and
 * unquarantine (they come from the manager). Never touches a file: it goes through
 * resp_vault_check, the checks both actions run first. The first byte picks the action
 * (even: quarantine, odd: unquarantine), the rest is the parameter text. For any bytes: the
 * result is a JSON object; an accepted quarantine names a non-empty path shorter than
 * PATH_MAX with reason/actor within BN_VAULT_TEXT_MAX; an accepted unquarantine names an id
 * of 32 hex digits; a refusal is {"ok":false,"error":...}.
 */
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/respond_vault.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (v && (!json_is_string(v) || json_string_length(v) > BN_VAULT_TEXT_MAX))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *type = (data[0] & 1) ? "unquarantine" : "quarantine";
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    int rc = resp_vault_check(type, (const char *)data + 1, size - 1, &out);
    if (rc != 0 && rc != BN_EINVAL && rc != BN_ENOMEM)
        abort();
    if (rc != BN_ENOMEM) {
        json_t *o = json_loadb(out.p, out.len, 0, NULL);
        if (!json_is_object(o))
            abort();
        if (rc == 0 && (data[0] & 1)) {
            const char *id = json_string_value(json_object_get(o, "id"));
            if (!id || strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
                abort();
        } else if (rc == 0) {
            const char *p = json_string_value(json_object_get(o, "path"));
            if (!p || !p[0] || strlen(p) >= PATH_MAX)
                abort();
            check_text(o, "reason");
            check_text(o, "actor");
        } else if (!json_is_false(json_object_get(o, "ok")) ||
                   !json_is_string(json_object_get(o, "error"))) {
            abort();
        }
        json_decref(o);
    }
    bn_buf_release(&out);
    return 0;
}
