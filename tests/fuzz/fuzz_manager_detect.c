/*
 * fuzz_manager_detect.c - libFuzzer target for central detection over agent events: the
 * input is split into lines, each a stored event of one batch, and run through the shipped
 * rules (rules/linux), correlation, an IOC set and agent-alert conversion. Any bytes must be
 * matched or counted as unreadable without a crash, a leak or an alert with a bad sequence.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/ioc.h"
#include "manager/detect.h"

static struct detect_rules *rules;
static struct bn_ioc_set *iocs;

static int
check(void *ctx, const struct triage_alert_in *a)
{
    size_t n = *(size_t *)ctx;
    if (!a->rule_id || !a->rule_id[0] || !a->json || a->json[0] != '{' ||
        (a->seq != -1 && (a->seq < 0 || (size_t)a->seq >= n)))
        __builtin_trap();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!rules) {
        struct detect_load_stats st;
        if (detect_rules_load(&rules, NULL, 0, &st) != 0)
            abort();
        iocs = bn_ioc_set_new();
        static const char csv[] = "ip,203.0.113.0/24\ndomain,evil.test\nsha256,"
                                  "82c0aad1330a0c428ee3f9b7ff0d5ba7e5238c550c58c17aa4ed27382902e002\n"
                                  "url,http://evil.test/x\nja3,e7d705a3286e19ea42f587b344ee6865\n";
        bn_ioc_load_csv(iocs, csv, sizeof(csv) - 1, "fuzz", NULL, NULL, NULL);
    }
    struct store_event ev[64];
    size_t n = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end && n < 64) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        memset(&ev[n], 0, sizeof(ev[n]));
        ev[n].agent_id = 1;
        ev[n].seq = (int64_t)n;
        ev[n].json = p;
        ev[n].json_len = (size_t)(e - p);
        ev[n].event_id = (e - p) > 3 && p[1] == '!' ? 140 : 0;
        n++;
        p = nl ? nl + 1 : end;
    }
    struct detect *d;
    if (detect_new(&d, rules, check, &n, NULL) != 0)
        return 0;
    detect_set_iocs(d, 1, iocs);
    detect_batch(d, 1, ev, n, 1764064800000000000LL);
    detect_batch(d, 2, ev, n, 1764064800000000000LL);
    detect_tick(d, INT64_MAX);
    detect_free(d);
    return 0;
}
