/*
 * fuzz_yara_rules.c - bn_yara_compile_text on arbitrary rule text (with and without the
 * external variables); when something compiles, the rules scan the input itself (1 s
 * timeout). Every failure must come back as a report, never a crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/yara.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_match(const struct bn_yara_match *m, void *ud)
{
    size_t *n = ud;
    (*n) += strlen(m->rule) + strlen(m->ns) + m->ntags;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    struct bn_yara_compile_opts opts = {.externals = size > 0 && (data[0] & 1)};
    struct bn_yara_rules *r = NULL;
    struct bn_yara_report rep;
    int rc = bn_yara_compile_text((const char *)data, size, "fuzz.yar", &opts, &r, &rep);
    for (size_t i = 0; i < rep.nissues; i++) {
        if (rep.issues[i].file[0] == '\0' || rep.issues[i].message[0] == '\0')
            __builtin_trap();
    }
    if (rc == 0) {
        if (bn_yara_rules_count(r) == 0)
            __builtin_trap();
        struct bn_yara_scan_opts so = {.timeout_s = 1};
        size_t n = 0;
        bn_yara_scan_mem(r, data, size, &so, on_match, &n);
        bn_yara_rules_free(r);
    } else if (rep.errors == 0 && rc == BN_EPARSE) {
        __builtin_trap(); /* a rejected set always says why */
    }
    bn_yara_report_release(&rep);
    return 0;
}
