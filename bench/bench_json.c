/*
 * bench_json.c - throughput of the NDJSON reader, the hot path of `bannin hunt`.
 *
 *   bench_json [FILE [FORMAT]]
 *
 * Without a file it generates ~1 KB flat Sysmon-like NDJSON events in memory. Prints MB/s
 * and records/s of reading and flattening every record (best of a few runs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/reader.h"

#define GEN_EVENTS 200000

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
generate(struct bn_buf *b)
{
    int rc = 0;
    for (unsigned i = 0; i < GEN_EVENTS && !rc; i++) {
        rc = bn_buf_printf(
            b,
            "{\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\","
            "\"Computer\":\"ws-%04u.corp.example.com\",\"EventRecordID\":%u,"
            "\"@timestamp\":\"2024-05-01T12:%02u:%02u.%03uZ\","
            "\"UtcTime\":\"2024-05-01 12:%02u:%02u.%03u\","
            "\"ProcessGuid\":\"{5770385f-c22a-43e0-bf4c-%012u}\",\"ProcessId\":%u,"
            "\"Image\":\"C:\\\\Windows\\\\System32\\\\cmd.exe\",\"FileVersion\":\"10.0.19041.1\","
            "\"Description\":\"Windows Command Processor\",\"Product\":\"Microsoft Windows\","
            "\"Company\":\"Microsoft Corporation\",\"OriginalFileName\":\"Cmd.Exe\","
            "\"CommandLine\":\"cmd.exe /c echo %u > C:\\\\Users\\\\Public\\\\out.txt\","
            "\"CurrentDirectory\":\"C:\\\\Users\\\\alice\\\\\",\"User\":\"CORP\\\\alice\","
            "\"LogonGuid\":\"{5770385f-c22a-43e0-bf4c-000000000001}\",\"LogonId\":\"0x3e7\","
            "\"TerminalSessionId\":1,\"IntegrityLevel\":\"High\","
            "\"Hashes\":\"SHA256=9F914D42706FE215501044ACD85A32D58AAEF1419D404FDDFA5D3B48F66CCD9F\","
            "\"ParentProcessGuid\":\"{5770385f-c22a-43e0-bf4c-%012u}\",\"ParentProcessId\":%u,"
            "\"ParentImage\":\"C:\\\\Windows\\\\explorer.exe\",\"ParentCommandLine\":"
            "\"C:\\\\Windows\\\\Explorer.EXE\",\"ParentUser\":\"CORP\\\\alice\"}\n",
            i % 1000, i, (i / 60) % 60, i % 60, i % 1000, (i / 60) % 60, i % 60, i % 1000, i,
            1000 + i % 50000, i, i / 2, 900 + i % 1000);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    struct bn_buf gen;
    bn_buf_init(&gen, (size_t)1 << 31);
    enum bn_format fmt = BN_FMT_NDJSON;
    if (argc > 2 && bn_format_parse(argv[2]) >= 0)
        fmt = (enum bn_format)bn_format_parse(argv[2]);
    if (argc < 2 && generate(&gen)) {
        fprintf(stderr, "bench_json: cannot generate events\n");
        return 1;
    }
    double best = 1e30;
    unsigned long long records = 0, fields = 0, bytes = 0;
    for (int run = 0; run < 5; run++) {
        struct bn_reader *r;
        struct bn_diag d;
        int rc = argc > 1 ? bn_reader_open(&r, argv[1], argc > 2 ? fmt : BN_FMT_AUTO, &d)
                          : bn_reader_open_mem(&r, gen.p, gen.len, "generated", fmt, &d);
        if (rc) {
            char msg[1024];
            fprintf(stderr, "bench_json: %s\n", bn_diag_format(&d, msg, sizeof(msg)));
            return 1;
        }
        double t0 = now();
        struct bn_record *rec;
        records = fields = 0;
        while ((rc = bn_reader_next(r, &rec, &d)) != BN_EOF) {
            if (rc) {
                if (bn_reader_done(r))
                    break;
                continue;
            }
            records++;
            fields += rec->n;
        }
        double dt = now() - t0;
        bytes = bn_reader_stats(r)->bytes_decoded;
        if (dt < best)
            best = dt;
        bn_reader_free(r);
    }
    printf("bench_json: %s, %llu records, %llu fields, %.1f MB\n",
           argc > 1 ? argv[1] : "generated Sysmon-like NDJSON", records, fields, bytes / 1e6);
    printf("bench_json: %.0f MB/s, %.0f records/s, %.1f fields/record (best of 5)\n",
           bytes / 1e6 / best, records / best, records ? (double)fields / records : 0.0);
    bn_buf_release(&gen);
    return 0;
}
