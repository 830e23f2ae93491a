/*
 * fuzz_manager_store_query.c - the store's event search with API-supplied filters (field
 * paths, values, host, image, user, paging cursor) over events whose JSON is whatever agents
 * sent, including the fuzz input itself stored as an event.
 *
 * Input: lines "field\nvalue\nop\nhost\nimage\nuser\nrest" (missing lines = no filter); the
 * whole input is also inserted as an event's JSON (compressed once the store has trained its
 * dictionary on the first inputs). A search returns 0 or a clear error (bad
 * field path, over a limit), never crashes, and never sees another tenant's events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bannin/error.h"
#include "manager/store.h"

static struct store *st;
static char dir[64];
static int64_t t1, t2, a1, a2, seq;

static void
cleanup(void)
{
    store_close(st);
    const char *f[] = {"bannin.db", "bannin.db-wal", "bannin.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", dir, f[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void
init(void)
{
    snprintf(dir, sizeof(dir), "/tmp/bn-fuzz-store-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    struct store_err err;
    /* Compressed storage too: after the first events, inputs are stored as zstd frames and
     * every field filter decompresses them. */
    struct store_opts o = {.compress = 1};
    if (store_open_ex(&st, dir, &o, &err))
        abort();
    atexit(cleanup);
    struct store_tenant t = {.retention_days = 1};
    snprintf(t.name, sizeof(t.name), "a");
    store_tenant_create(st, &t, &t1);
    snprintf(t.name, sizeof(t.name), "b");
    store_tenant_create(st, &t, &t2);
    struct store_agent ag = {.tenant_id = t1};
    snprintf(ag.uid, sizeof(ag.uid), "1");
    snprintf(ag.cert_fp, sizeof(ag.cert_fp), "1");
    snprintf(ag.hostname, sizeof(ag.hostname), "h1");
    store_agent_create(st, &ag, &a1);
    ag.tenant_id = t2;
    snprintf(ag.uid, sizeof(ag.uid), "2");
    snprintf(ag.cert_fp, sizeof(ag.cert_fp), "2");
    store_agent_create(st, &ag, &a2);
    static const char *const seeds[] = {
        "{\"EventID\":1,\"Image\":\"/bin/sh\",\"CommandLine\":\"sh -c id\"}",
        "{\"a\":{\"b\":[1,2,{\"c\":\"d\"}]},\"x.y\":\"dotted\"}",
        "not json at all",
        "{\"EventID\":\"1\",\"User\":null}",
    };
    for (size_t i = 0; i < 4; i++) {
        struct store_event e = {.tenant_id = i % 2 ? t2 : t1,
                                .agent_id = i % 2 ? a2 : a1,
                                .seq = ++seq,
                                .ts_ns = (int64_t)i,
                                .event_id = 1,
                                .host = "h1",
                                .image = "/bin/sh",
                                .user = "root",
                                .json = seeds[i],
                                .json_len = strlen(seeds[i])};
        store_events_insert(st, &e, 1, NULL, NULL);
    }
}

static int
check_row(void *ctx, const struct store_event *e)
{
    (void)ctx;
    if (e->tenant_id != t1)
        abort(); /* another tenant's event through a one-tenant scope */
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st)
        init();
    if (size > 1u << 16)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* Store the input as an event of tenant 1 (strings end at the first NUL). */
    struct store_event e = {.tenant_id = t1,
                            .agent_id = a1,
                            .seq = ++seq,
                            .ts_ns = 5,
                            .json = buf,
                            .json_len = strlen(buf),
                            .host = "h1"};
    store_events_insert(st, &e, 1, NULL, NULL);

    const char *part[7] = {NULL};
    char *p = buf;
    for (int i = 0; i < 7 && p; i++) {
        part[i] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    struct store_field_filter f = {part[0], part[1] ? part[1] : "",
                                   part[2] && part[2][0] == 'c' ? STORE_FIELD_CONTAINS
                                                                : STORE_FIELD_EQ};
    struct store_event_query q = {.scope = {.ids = &t1, .n = 1}, .limit = 50};
    if (part[0] && *part[0]) {
        q.fields = &f;
        q.nfields = 1;
    }
    q.host = part[3] && *part[3] ? part[3] : NULL;
    q.image_sub = part[4] && *part[4] ? part[4] : NULL;
    q.user = part[5] && *part[5] ? part[5] : NULL;
    if (part[6] && strlen(part[6]) >= 16) {
        memcpy(&q.after.ts_ns, part[6], 8);
        memcpy(&q.after.id, part[6] + 8, 8);
    }
    struct store_cursor next;
    int more;
    int rc = store_event_search(st, &q, check_row, NULL, &next, &more);
    if (rc != 0 && rc != BN_EINVAL && rc != BN_ETOOBIG) {
        fprintf(stderr, "search failed: %s: %s\n", bn_strerror(rc), store_errmsg(st));
        abort();
    }
    free(buf);
    return 0;
}
