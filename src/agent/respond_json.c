/*
 * respond_json.c - the JSON parameter and result helpers the response executors share
 * (respond_json.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/respond_json.h"
#include "bannin/error.h"
#include "bannin/limits.h"

void
resp_hexify(char *dst, const unsigned char *src, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hx[src[i] >> 4];
        dst[2 * i + 1] = hx[src[i] & 15];
    }
    dst[2 * n] = '\0';
}

int
resp_put_fail(struct bn_buf *out, const char *msg)
{
    int rc = bn_buf_puts(out, "{\"ok\":false,\"error\":\"");
    if (rc == 0)
        rc = bn_buf_json_escape(out, msg, strlen(msg));
    if (rc == 0)
        rc = bn_buf_puts(out, "\"}");
    return rc;
}

/* Appends a jansson object (consumed) as the result. */
int
resp_put_json(struct bn_buf *out, json_t *o)
{
    if (!o)
        return BN_ENOMEM;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return BN_ENOMEM;
    int rc = bn_buf_puts(out, s);
    free(s);
    return rc;
}

/* Parses params into an object; on failure writes the result and returns BN_EINVAL. */
int
resp_parse_params(const char *params, size_t len, json_t **obj, struct bn_buf *out)
{
    char msg[256];
    *obj = NULL;
    if (len > BN_RESP_PARAMS_MAX) {
        snprintf(msg, sizeof msg, "params: %zu bytes, limit %u", len, BN_RESP_PARAMS_MAX);
        resp_put_fail(out, msg);
        return BN_EINVAL;
    }
    if (!params || len == 0) {
        *obj = json_object();
        return *obj ? 0 : BN_ENOMEM;
    }
    json_error_t err;
    json_t *o = json_loadb(params, len, JSON_REJECT_DUPLICATES, &err);
    if (!o || !json_is_object(o)) {
        snprintf(msg, sizeof msg, "params:%d:%d: %s", o ? 1 : err.line, o ? 1 : err.column,
                 o ? "not a JSON object" : err.text);
        json_decref(o);
        resp_put_fail(out, msg);
        return BN_EINVAL;
    }
    *obj = o;
    return 0;
}
