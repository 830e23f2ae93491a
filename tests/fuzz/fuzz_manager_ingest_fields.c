/*
 * fuzz_manager_ingest_fields.c - ingest_event_fields(), the scan that takes the indexed
 * columns (EventID, UtcTime/timestamp, Computer, Image, User) out of every event an agent
 * sends, over arbitrary bytes: no read past the input, strings with escaped quotes and
 * backslashes end where JSON says, the columns stay inside their scratch parts.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bannin/alloc.h"
#include "manager/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    /* an exact-size copy, so ASan sees any read past the event */
    char *json = bn_malloc(size ? size : 1);
    if (!json)
        return 0;
    memcpy(json, data, size);
    char scratch[512];
    struct store_event e;
    memset(&e, 0, sizeof(e));
    if (ingest_event_fields(json, size, &e, scratch, sizeof(scratch)) == 0) {
        const char *cols[] = {e.host, e.image, e.user};
        for (size_t i = 0; i < 3; i++)
            if (cols[i] && (cols[i] < scratch || cols[i] >= scratch + sizeof(scratch) ||
                            strlen(cols[i]) >= sizeof(scratch) / 4))
                __builtin_trap();
    }
    bn_free(json);
    return 0;
}
