/*
 * fuzz_spool.c - libFuzzer target for the spool's segment reader: a segment file is outside
 * input after a crash or a damaged disk. Any bytes must be walked to the end by the parser,
 * and recovered and read by agent_spool_open/agent_spool_next as the newest segment, without
 * a crash, a leak or an endless loop.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/spool.h"
#include "bannin/error.h"

static int
fuzz_count(void *ctx, const struct agent_spool_rec *rec, size_t off)
{
    (*(uint64_t *)ctx)++;
    return 0;
}

static char fuzz_dir[64];

static void
cleanup(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/seg-00000000000000000001.bns", fuzz_dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/ack", fuzz_dir);
    unlink(p);
    rmdir(fuzz_dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t n = 0, corrupt = 0;
    size_t end = 0;
    agent_spool_scan_mem(data, size, fuzz_count, &n, &corrupt, &end);
    if (end > size)
        abort();

    if (!fuzz_dir[0]) {
        snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/bn-fuzz-spool-XXXXXX");
        if (!mkdtemp(fuzz_dir))
            return 0;
        atexit(cleanup);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/seg-00000000000000000001.bns", fuzz_dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);

    struct agent_spool_opts o;
    struct agent_spool *s;
    agent_spool_opts_init(&o);
    o.dir = fuzz_dir;
    o.max_bytes = 1 << 20;
    o.segment_bytes = 1 << 16;
    if (agent_spool_open(&s, &o) == 0) {
        struct agent_spool_rec r;
        uint64_t got = 0, last = 0;
        while (agent_spool_next(s, &r) == 0) {
            if (r.seq <= last || r.len > AGENT_SPOOL_RECORD_MAX)
                abort();
            last = r.seq;
            got++;
        }
        /* What was readable stays readable after an append on top of it. */
        uint64_t seq;
        if (agent_spool_append(s, "{}", 2, AGENT_PRIO_HIGH, &seq) == 0 && seq <= last)
            abort();
        agent_spool_close(s);
    }
    unlink(path);
    snprintf(path, sizeof(path), "%s/ack", fuzz_dir);
    unlink(path);
    return 0;
}
