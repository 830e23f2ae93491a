/*
 * fuzz_agent_forensic_params.c - libFuzzer target for the forensics action's parameters (they
 * come from the manager and name files to copy into the package). Nothing is read: it goes
 * through resp_forensic_check, the checks resp_forensics runs first. For any bytes: the
 * result is a JSON object; an accepted request's files and watch entries are absolute paths
 * without NUL bytes and without . or .. segments, at most BN_FOR_FILES_MAX files, events
 * within 0..BN_FOR_EVENTS_MAX, events_path absolute; a refusal is {"ok":false,"error":...}.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/respond_forensic.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_paths(json_t *a)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v);
        if (!s || s[0] != '/' || strlen(s) != json_string_length(v) || strstr(s, "/../") ||
            strstr(s, "/./"))
            abort();
        size_t n = strlen(s);
        if ((n >= 3 && strcmp(s + n - 3, "/..") == 0) || (n >= 2 && strcmp(s + n - 2, "/.") == 0))
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bn_buf out;
    bn_buf_init(&out, 1u << 20);
    int rc = resp_forensic_check((const char *)data, size, &out);
    if (rc != 0 && rc != BN_EINVAL && rc != BN_ENOMEM)
        abort();
    if (rc != BN_ENOMEM) {
        json_t *o = json_loadb(out.p, out.len, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(o))
            abort();
        if (rc == 0) {
            json_t *p = json_object_get(o, "params");
            check_paths(json_object_get(p, "files"));
            check_paths(json_object_get(p, "watch"));
            if (json_array_size(json_object_get(p, "files")) > BN_FOR_FILES_MAX)
                abort();
            json_t *ev = json_object_get(p, "events");
            if (ev && (json_integer_value(ev) < 0 || json_integer_value(ev) > BN_FOR_EVENTS_MAX))
                abort();
            const char *ep = json_string_value(json_object_get(p, "events_path"));
            if (json_object_get(p, "events_path") && (!ep || ep[0] != '/'))
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
