/*
 * record.c - the flat key/value record input readers fill.
 */
#include <string.h>

#include "bannin/record.h"
#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/pool.h"

int
bn_record_init(struct bn_record *r)
{
    memset(r, 0, sizeof(*r));
    r->ts_ns = INT64_MIN;
    r->pool = bn_pool_new(0);
    return r->pool ? 0 : BN_ENOMEM;
}

void
bn_record_release(struct bn_record *r)
{
    bn_free(r->kv);
    bn_pool_free(r->pool);
    memset(r, 0, sizeof(*r));
}

void
bn_record_reset(struct bn_record *r)
{
    r->n = 0;
    r->raw = NULL;
    r->raw_len = 0;
    r->ts_ns = INT64_MIN;
    bn_pool_reset(r->pool);
}

int
bn_record_add(struct bn_record *r, const char *key, size_t key_len, const char *val,
              size_t val_len, enum bn_vtype type)
{
    if (r->n == r->cap) {
        if (r->cap >= BN_RECORD_FIELDS_MAX)
            return BN_ETOOBIG;
        uint32_t cap = r->cap ? r->cap * 2 : 32;
        if (cap > BN_RECORD_FIELDS_MAX)
            cap = BN_RECORD_FIELDS_MAX;
        struct bn_kv *kv = bn_reallocarray(r->kv, cap, sizeof(*kv));
        if (!kv)
            return BN_ENOMEM;
        r->kv = kv;
        r->cap = cap;
    }
    if (key_len > UINT32_MAX || val_len > UINT32_MAX)
        return BN_ETOOBIG;
    struct bn_kv *kv = &r->kv[r->n++];
    kv->key = key;
    kv->key_len = (uint32_t)key_len;
    kv->val = val;
    kv->val_len = (uint32_t)val_len;
    kv->type = (uint8_t)type;
    return 0;
}

int
bn_record_add_copy(struct bn_record *r, const char *key, size_t key_len, const char *val,
                   size_t val_len, enum bn_vtype type)
{
    char *k = bn_pool_strndup(r->pool, key, key_len);
    char *v = val ? bn_pool_strndup(r->pool, val, val_len) : NULL;
    if (!k || (val && !v))
        return BN_ENOMEM;
    return bn_record_add(r, k, key_len, v, val_len, type);
}

const struct bn_kv *
bn_record_get(const struct bn_record *r, const char *key)
{
    size_t len = strlen(key);
    for (uint32_t i = 0; i < r->n; i++)
        if (r->kv[i].key_len == len && memcmp(r->kv[i].key, key, len) == 0)
            return &r->kv[i];
    return NULL;
}

int
bn_record_to_json(const struct bn_record *r, void *bufp)
{
    struct bn_buf *b = bufp;
    int rc = bn_buf_putc(b, '{');
    for (uint32_t i = 0; i < r->n && !rc; i++) {
        const struct bn_kv *kv = &r->kv[i];
        if (i)
            rc = bn_buf_putc(b, ',');
        if (!rc) rc = bn_buf_putc(b, '"');
        if (!rc) rc = bn_buf_json_escape(b, kv->key, kv->key_len);
        if (!rc) rc = bn_buf_append(b, "\":", 2);
        if (rc)
            break;
        switch (kv->type) {
        case BN_VT_NULL:
            rc = bn_buf_append(b, "null", 4);
            break;
        case BN_VT_BOOL:
        case BN_VT_NUM:
            rc = bn_buf_append(b, kv->val, kv->val_len);
            break;
        default:
            rc = bn_buf_putc(b, '"');
            if (!rc) rc = bn_buf_json_escape(b, kv->val, kv->val_len);
            if (!rc) rc = bn_buf_putc(b, '"');
        }
    }
    if (!rc)
        rc = bn_buf_putc(b, '}');
    return rc;
}
