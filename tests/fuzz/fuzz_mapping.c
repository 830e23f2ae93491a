/*
 * fuzz_mapping.c - libFuzzer target for the mapping file loader (mapping_load.c): any bytes
 * must load or fail with a diagnostic, never crash. A loaded mapping also builds one event
 * from a fixed record, so the compiled conditions and renames are exercised too.
 */
#include <stdint.h>
#include <string.h>

#include "bannin/event.h"
#include "bannin/mapping.h"
#include "bannin/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bn_mapping *m = NULL;
    struct bn_diag d;
    if (bn_mapping_load_mem(&m, (const char *)data, size, "fuzz.yml", &d) != 0)
        return 0;
    struct bn_fieldtab *ft = bn_fieldtab_new();
    struct bn_evbuilder *b = ft ? bn_evbuilder_new(m, ft) : NULL;
    struct bn_record r;
    struct bn_event ev;
    uint32_t id;
    if (b && bn_fieldtab_intern(ft, "Image", 5, &id) == 0 && bn_record_init(&r) == 0) {
        static const char *const kv[] = {
            "Event.System.Channel", "Security", "Event.System.EventID", "4688",
            "Event.EventData.Image", "x", "SYSCALL.exe", "/bin/sh", "Channel", "Security",
            "EventID", "1", "_path", "dns", "uid", "C", "ts", "1.5", "query", "a",
            "logsource.product", "windows"};
        r.format = "auditd";
        for (size_t i = 0; i + 1 < sizeof(kv) / sizeof(kv[0]); i += 2)
            (void)bn_record_add(&r, kv[i], strlen(kv[i]), kv[i + 1], strlen(kv[i + 1]),
                                BN_VT_STR);
        if (bn_event_init(&ev, bn_fieldtab_count(ft)) == 0) {
            (void)bn_evbuilder_build(b, &r, &ev);
            r.format = "json";
            (void)bn_evbuilder_build(b, &r, &ev);
            bn_event_release(&ev);
        }
        bn_record_release(&r);
    }
    bn_evbuilder_free(b);
    bn_fieldtab_free(ft);
    bn_mapping_free(m);
    return 0;
}
