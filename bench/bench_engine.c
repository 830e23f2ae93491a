/*
 * bench_engine.c - measures the detection engine alone: rule load and compile time, matching
 * throughput of the fast path (bn_ruleset_match) against the naive oracle, and peak RSS.
 *
 * Usage: bench_engine [-n events] [-s seconds] [-N naive_events] rule-path...
 * Events are synthetic ~1 KB Sysmon process_creation records (product windows, category
 * process_creation) built once into bn_events, so no JSON parsing is timed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/sigma.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static double
cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const images[] = {
    "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Windows\\System32\\rundll32.exe", "C:\\Windows\\explorer.exe",
    "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
    "C:\\Windows\\System32\\conhost.exe", "C:\\Windows\\System32\\taskhostw.exe",
    "C:\\Users\\alice\\AppData\\Local\\Temp\\setup_4411.exe",
    "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "C:\\Windows\\System32\\reg.exe",
    "C:\\Windows\\System32\\schtasks.exe", "C:\\Program Files\\Git\\usr\\bin\\bash.exe",
    "C:\\Windows\\System32\\msiexec.exe", "C:\\Windows\\System32\\certutil.exe",
};

static const char *const args[] = {
    "-k netsvcs -p -s Schedule", "/c echo hello > nul", "-NoProfile -ExecutionPolicy Bypass",
    "--type=renderer --lang=en-US --field-trial-handle=1234", "shell32.dll,Control_RunDLL",
    "/q /norestart", "0xffffffff -ForceV1", "query HKLM\\Software\\Microsoft\\Windows",
    "/create /tn Updater /tr C:\\temp\\a.exe /sc daily", "-urlcache -f http://example.org/a.txt",
    "/i C:\\Users\\bob\\Downloads\\package.msi /qn", "--login -i", "-Embedding",
    "-c \"Get-ChildItem C:\\Users -Recurse\"", "/S /D=C:\\Program Files\\Tool",
};

static const char *const users[] = {"NT AUTHORITY\\SYSTEM", "CORP\\alice", "CORP\\bob",
                                    "NT AUTHORITY\\NETWORK SERVICE", "CORP\\adm_carol"};
static const char *const levels[] = {"Medium", "High", "System", "Low"};
static const char *const products[] = {"Microsoft® Windows® Operating System", "Google Chrome",
                                       "Microsoft Office", "Git", "Setup Factory"};
static const char *const companies[] = {"Microsoft Corporation", "Google LLC", "The Git Project",
                                        "Unknown Vendor Ltd"};

struct gen {
    char *arena;
    size_t used, cap;
};

static const char *gen_str(struct gen *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *
gen_str(struct gen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = g->arena + g->used;
    int n = vsnprintf(p, g->cap - g->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 1 > g->cap - g->used) {
        fprintf(stderr, "bench: arena full\n");
        exit(1);
    }
    g->used += (size_t)n + 1;
    return p;
}

static const char *
base(const char *path)
{
    const char *b = strrchr(path, '\\');
    return b ? b + 1 : path;
}

static void
add(struct bn_event *ev, const struct bn_fieldtab *ft, const char *name, const char *val)
{
    uint32_t id = bn_fieldtab_lookup(ft, name, strlen(name));
    if (bn_event_add(ev, id, name, strlen(name), val, strlen(val), BN_VT_STR, 0)) {
        fprintf(stderr, "bench: cannot add value\n");
        exit(1);
    }
}

static size_t
build_event(struct bn_event *ev, const struct bn_fieldtab *ft, struct gen *g, uint32_t i)
{
    size_t start = g->used;
    const char *img = images[rnd(BN_ARRAY_SIZE(images))];
    const char *pimg = images[rnd(BN_ARRAY_SIZE(images))];
    ev->product = "windows";
    ev->category = "process_creation";
    add(ev, ft, "EventID", "1");
    add(ev, ft, "Channel", "Microsoft-Windows-Sysmon/Operational");
    add(ev, ft, "Computer", gen_str(g, "WKS-%04u.corp.example.com", rnd(5000)));
    add(ev, ft, "RuleName", "-");
    add(ev, ft, "UtcTime", gen_str(g, "2024-05-%02u %02u:%02u:%02u.%03u", 1 + rnd(28), rnd(24),
                                   rnd(60), rnd(60), rnd(1000)));
    add(ev, ft, "ProcessGuid",
        gen_str(g, "{%08x-%04x-%04x-0000-00100000%04x}", rnd(0xffffffff), rnd(0xffff),
                rnd(0xffff), rnd(0xffff)));
    add(ev, ft, "ProcessId", gen_str(g, "%u", 100 + rnd(60000)));
    add(ev, ft, "Image", img);
    add(ev, ft, "FileVersion", gen_str(g, "10.0.%u.%u (WinBuild.160101.0800)", 17000 + rnd(5000),
                                       rnd(3000)));
    add(ev, ft, "Description", gen_str(g, "%s component", base(img)));
    add(ev, ft, "Product", products[rnd(BN_ARRAY_SIZE(products))]);
    add(ev, ft, "Company", companies[rnd(BN_ARRAY_SIZE(companies))]);
    add(ev, ft, "OriginalFileName", base(img));
    add(ev, ft, "CommandLine",
        gen_str(g, "\"%s\" %s %s /id:%u", img, args[rnd(BN_ARRAY_SIZE(args))],
                args[rnd(BN_ARRAY_SIZE(args))], i));
    add(ev, ft, "CurrentDirectory", rnd(2) ? "C:\\Windows\\system32\\" : "C:\\Users\\alice\\");
    add(ev, ft, "User", users[rnd(BN_ARRAY_SIZE(users))]);
    add(ev, ft, "LogonGuid", gen_str(g, "{%08x-1111-2222-3333-444455556666}", rnd(0xffffffff)));
    add(ev, ft, "LogonId", gen_str(g, "0x%x", rnd(0xffffff)));
    add(ev, ft, "TerminalSessionId", gen_str(g, "%u", rnd(3)));
    add(ev, ft, "IntegrityLevel", levels[rnd(BN_ARRAY_SIZE(levels))]);
    add(ev, ft, "Hashes",
        gen_str(g, "SHA1=%08X%08X%08X%08X%08X,MD5=%08X%08X%08X%08X,"
                   "SHA256=%08X%08X%08X%08X%08X%08X%08X%08X,IMPHASH=%08X%08X%08X%08X",
                rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u),
                rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u),
                rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u)));
    add(ev, ft, "ParentProcessGuid",
        gen_str(g, "{%08x-%04x-%04x-0000-00100000%04x}", rnd(0xffffffff), rnd(0xffff),
                rnd(0xffff), rnd(0xffff)));
    add(ev, ft, "ParentProcessId", gen_str(g, "%u", 100 + rnd(60000)));
    add(ev, ft, "ParentImage", pimg);
    add(ev, ft, "ParentCommandLine",
        gen_str(g, "\"%s\" %s", pimg, args[rnd(BN_ARRAY_SIZE(args))]));
    add(ev, ft, "ParentUser", users[rnd(BN_ARRAY_SIZE(users))]);
    size_t bytes = g->used - start;
    for (uint32_t k = 0; k < ev->nvals; k++)
        bytes += ev->vals[k].name_len + 6; /* names and JSON punctuation of the record */
    return bytes;
}

static void
diag(void *ctx, const struct bn_diag *d)
{
    (void)d;
    ++*(size_t *)ctx;
}

static void
cdiag(void *ctx, const struct sigma_rule *r, const struct bn_diag *d)
{
    (void)r;
    (void)d;
    ++*(size_t *)ctx;
}

int
main(int argc, char **argv)
{
    size_t nev = 20000, naive_n = 2000;
    double secs = 3.0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            nev = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-N") == 0 && i + 1 < argc)
            naive_n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            secs = strtod(argv[++i], NULL);
        else
            break;
    }
    if (i >= argc || nev == 0) {
        fprintf(stderr, "usage: bench_engine [-n events] [-N naive_events] [-s seconds] "
                        "rule-path...\n");
        return 2;
    }
    struct sigma_rule **rules = NULL;
    size_t nrules = 0, pdiags = 0, cdiags = 0;
    double t0 = now();
    if (sigma_parse_paths((const char *const *)argv + i, (size_t)(argc - i), &rules, &nrules,
                          diag, &pdiags)) {
        fprintf(stderr, "bench: cannot load rules\n");
        return 1;
    }
    double t1 = now();
    struct bn_ruleset *rs = NULL;
    int rc = bn_ruleset_compile(&rs, rules, nrules, NULL, cdiag, &cdiags);
    double t2 = now();
    bn_free(rules);
    if (rc) {
        fprintf(stderr, "bench: compile failed: %s\n", bn_strerror(rc));
        return 1;
    }
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);

    struct gen g = {0};
    g.cap = nev * 1400 + 4096;
    g.arena = malloc(g.cap);
    struct bn_event *evs = calloc(nev, sizeof(*evs));
    if (!g.arena || !evs)
        return 1;
    size_t bytes = 0;
    for (size_t k = 0; k < nev; k++) {
        if (bn_event_init(&evs[k], bn_fieldtab_count(ft)))
            return 1;
        bytes += build_event(&evs[k], ft, &g, (uint32_t)k);
    }
    struct bn_scratch *s = bn_scratch_new(rs);
    if (!s)
        return 1;

    /* fast path: repeat over the event set until secs have passed */
    const uint32_t *hits;
    size_t nh, total_hits = 0, done = 0;
    double f0 = now(), f1, c0 = cpu_now();
    do {
        for (size_t k = 0; k < nev; k++) {
            if (bn_ruleset_match(rs, s, &evs[k], &hits, &nh))
                return 1;
            total_hits += nh;
        }
        done += nev;
        f1 = now();
    } while (f1 - f0 < secs);
    double fast_cpu_us = (cpu_now() - c0) * 1e6 / (double)done;
    double fast_eps = (double)done / (f1 - f0);
    struct bn_scratch_stats ss;
    bn_scratch_stats(s, &ss);

    /* naive baseline on a prefix; also checks both agree */
    size_t nn = BN_MIN(naive_n, nev), mismatch = 0, naive_hits = 0;
    double n0 = now();
    for (size_t k = 0; k < nn; k++) {
        if (bn_ruleset_match_naive(rs, s, &evs[k], &hits, &nh))
            return 1;
        naive_hits += nh;
    }
    double n1 = now();
    double naive_eps = nn ? (double)nn / (n1 - n0) : 0;
    size_t fast_hits_prefix = 0;
    for (size_t k = 0; k < nn; k++) {
        uint32_t a[256];
        size_t na;
        bn_ruleset_match(rs, s, &evs[k], &hits, &nh);
        na = BN_MIN(nh, 256);
        memcpy(a, hits, na * sizeof(*a));
        fast_hits_prefix += nh;
        bn_ruleset_match_naive(rs, s, &evs[k], &hits, &nh);
        if (nh != na || memcmp(a, hits, na * sizeof(*a)) != 0)
            mismatch++;
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%-34s %14s\n", "metric", "value");
    printf("%-34s %14zu\n", "rule documents parsed", nrules);
    printf("%-34s %14zu\n", "parse diagnostics", pdiags);
    printf("%-34s %14zu\n", "compile diagnostics", cdiags);
    printf("%-34s %14zu\n", "rules compiled", st.rules);
    printf("%-34s %14zu\n", "  detection / correlation / filter", st.detection_rules);
    printf("%-34s %6zu / %5zu\n", "", st.correlation_rules, st.filter_rules);
    printf("%-34s %14zu\n", "fields", st.fields);
    printf("%-34s %14zu\n", "trigger literals (Hyperscan)", st.literals);
    printf("%-34s %14zu\n", "regexes (PCRE2)", st.regexes);
    printf("%-34s %14zu\n", "always-evaluated rules", st.always_eval);
    printf("%-34s %14.1f\n", "prefilter database (KiB)", (double)st.db_bytes / 1024);
    printf("%-34s %14.3f\n", "parse time (s)", t1 - t0);
    printf("%-34s %14.3f\n", "compile time (s)", t2 - t1);
    printf("%-34s %14zu\n", "events (distinct)", nev);
    printf("%-34s %14.0f\n", "mean event size (bytes)", (double)bytes / (double)nev);
    printf("%-34s %14.0f\n", "fast events/s (1 core)", fast_eps);
    printf("%-34s %14.3f\n", "fast hits/event", (double)total_hits / (double)done);
    printf("%-34s %14.3f\n", "fast us/event", 1e6 / fast_eps);
    printf("%-34s %14.3f\n", "fast CPU us/event", fast_cpu_us);
    printf("%-34s %14.3f\n", "candidates evaluated/event",
           ss.events ? (double)ss.candidates / (double)ss.events : 0);
    printf("%-34s %14.3f\n", "prefilter scans/event",
           ss.events ? (double)ss.scans / (double)ss.events : 0);
    printf("%-34s %14.0f\n", "naive events/s (1 core)", naive_eps);
    printf("%-34s %14.1f\n", "speed-up fast/naive", naive_eps > 0 ? fast_eps / naive_eps : 0);
    printf("%-34s %14zu\n", "fast vs naive mismatches", mismatch);
    printf("%-34s %14zu\n", "hits on naive prefix", naive_hits);
    printf("%-34s %14.1f\n", "peak RSS (MiB)", (double)ru.ru_maxrss / 1024);
    (void)fast_hits_prefix;

    bn_scratch_free(s);
    for (size_t k = 0; k < nev; k++)
        bn_event_release(&evs[k]);
    free(evs);
    free(g.arena);
    bn_ruleset_free(rs);
    return mismatch ? 3 : 0;
}
