/*
 * fuzz_yara_bundle.c - bn_yara_compile_tar on arbitrary bytes: the tar walker (ustar, GNU
 * long names, pax path records, checksums, sizes past the end) and the per-file compile of
 * what it finds. Failures must come back with a reason, never a crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "bannin/error.h"
#include "bannin/yara.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    struct bn_yara_rules *r = NULL;
    struct bn_yara_report rep;
    int rc = bn_yara_compile_tar(data, size, "fuzz.tar", NULL, &r, &rep);
    if (rc == 0) {
        if (bn_yara_rules_count(r) == 0 || rep.files_ok == 0)
            __builtin_trap();
        bn_yara_rules_free(r);
    } else if (r != NULL || (rc == BN_EFORMAT && rep.errors == 0)) {
        __builtin_trap();
    }
    if (rep.files_ok + rep.files_failed > rep.files)
        __builtin_trap();
    bn_yara_report_release(&rep);
    return 0;
}
