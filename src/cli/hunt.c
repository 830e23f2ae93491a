/*
 * hunt.c - `bannin hunt`: Sigma rules over collected log files, the offline job of
 * Hayabusa, Chainsaw and Zircolite.
 *
 * Threads: the main thread walks the inputs into work units (a whole file, or a
 * line-aligned segment of a large uncompressed line-based file), then N workers each take
 * units from a shared index, read records, build events, match, and write alerts through
 * one output lock. Correlation hits are copied aside and fed, time-ordered, to a single
 * correlator after the workers finish, so groups are never split across threads. A
 * progress thread draws a bar on a terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/correlate.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/mapping.h"
#include "bannin/reader.h"
#include "bannin/timeutil.h"

#define SPLIT_MIN_BYTES (32u << 20)  /* files above this are split across workers */
#define SEGMENT_BYTES (8u << 20)
#define DIAG_KEEP 20                 /* skipped-record messages kept for the summary */
#define TABLE_KEEP 1000000           /* alerts kept for the time-sorted table */

enum out_mode {
    OUT_TABLE = 0,
    OUT_JSON,
    OUT_CSV,
};

struct unit {
    char *path;           /* owned */
    const unsigned char *map; /* mmap of the whole file for segments, else NULL */
    size_t map_len;
    size_t start, len;    /* segment within map */
    uint64_t base_line;   /* lines before the segment, so messages name file lines */
    enum bn_format fmt;
    bool from_walk;       /* found in a directory: a non-log file is skipped, not an error */
};

/* A hit on a rule some correlation references, kept for the correlation pass. */
struct corr_hit {
    int64_t ts;
    uint32_t rule;
    char *host;           /* owned */
    char **names;         /* owned copies of the fields correlations use */
    char **values;
    uint32_t n;
};

struct table_row {
    int64_t ts;
    uint32_t rule;
    char *host;
    char *details;
    uint64_t index;
};

struct hunt {
    /* options */
    const char **rule_paths;
    size_t nrule_paths;
    const char **inputs;
    size_t ninputs;
    enum bn_format fmt;
    enum out_mode mode;
    enum sigma_level min_level;
    int64_t from_ns, to_ns;
    int threads;
    bool color;
    bool progress;
    bool quiet;
    bool strict;
    const char *mappings_dir;
    FILE *out;

    struct cli_rules rules;
    struct bn_mapping *mapping;
    bool *corr_ref;          /* rule idx -> referenced by a correlation */
    const char **corr_fields; /* field names correlations need */
    size_t ncorr_fields;

    struct unit *units;
    size_t nunits, units_cap;
    atomic_size_t next_unit;
    uint64_t total_bytes;

    pthread_mutex_t lock;    /* output, diagnostics, hits */
    struct bn_buf outbuf;
    atomic_uint_fast64_t events, bytes_done, alerts, filtered;
    uint64_t skipped, skipped_parse, skipped_toobig, skipped_other;
    uint64_t files_ok, files_failed, files_not_logs;
    bool walking;            /* the walk is below a directory given on the command line */
    struct bn_diag diags[DIAG_KEEP];
    size_t ndiags;
    uint64_t *hits_by_rule;
    uint64_t hits_by_level[SIGMA_LEVEL_CRITICAL + 1];
    struct corr_hit *chits;
    size_t nchits, chits_cap;
    uint64_t corr_alerts;
    struct table_row *rows;
    size_t nrows, rows_cap;
    uint64_t rows_unsorted;
    int errors;
    atomic_bool done;
};

static void
hunt_usage(FILE *f)
{
    fprintf(f,
        "usage: bannin hunt -r RULES [-r RULES...] [options] INPUT...\n"
        "\n"
        "Runs Sigma rules (files or directories, recursively) over log files or directories:\n"
        "EVTX, NDJSON, concatenated JSON (evtx_dump), auditd, syslog (RFC 3164/5424),\n"
        "journalctl -o json; gzip and zstd compressed too. The format is detected per file.\n"
        "\n"
        "options:\n"
        "  -r, --rules PATH       rule file or directory (repeatable)\n"
        "  -f, --format FMT       force the input format: auto ndjson json evtx auditd syslog journal\n"
        "      --json             one alert per line as JSON on stdout\n"
        "      --csv              CSV on stdout\n"
        "  -o, --output FILE      write alerts to FILE instead of stdout\n"
        "      --min-level LEVEL  informational, low, medium, high or critical\n"
        "      --include GLOB     only rules whose id, title, tag or path matches (repeatable)\n"
        "      --exclude GLOB     drop rules whose id, title, tag or path matches (repeatable)\n"
        "      --from TIME        skip events before TIME (RFC 3339, e.g. 2026-01-02T03:04:05Z)\n"
        "      --to TIME          skip events after TIME\n"
        "      --mappings DIR     logsource/field mapping files (default: shipped mappings)\n"
        "      --ignore-logsource match every rule against every event\n"
        "  -j, --threads N        worker threads (default: number of cores)\n"
        "      --color WHEN       auto, always or never\n"
        "      --no-progress      no progress bar\n"
        "  -q, --quiet            no summary\n"
        "      --strict           exit 2 if any record or rule was skipped\n"
        "\n"
        "exit status: 0 no hits, 1 hits, 2 errors (bad usage, no rules, unreadable input)\n");
}

/* ---- work units ---- */

static int
add_unit(struct hunt *h, const char *path, const unsigned char *map, size_t map_len, size_t start,
         size_t len, uint64_t base_line, enum bn_format fmt)
{
    if (h->nunits == h->units_cap) {
        size_t cap = h->units_cap ? h->units_cap * 2 : 64;
        struct unit *u = bn_reallocarray(h->units, cap, sizeof(*u));
        if (!u)
            return BN_ENOMEM;
        h->units = u;
        h->units_cap = cap;
    }
    struct unit *u = &h->units[h->nunits];
    u->path = bn_strdup(path);
    if (!u->path)
        return BN_ENOMEM;
    u->map = map;
    u->map_len = map_len;
    u->start = start;
    u->len = len;
    u->base_line = base_line;
    u->fmt = fmt;
    u->from_walk = h->walking;
    h->nunits++;
    return 0;
}

static bool
is_compressed(const unsigned char *p, size_t n)
{
    return (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||
           (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd);
}

/* Releases the resident pages wholly inside [p, p + len) of a file mapping. */
static void
drop_pages(const unsigned char *p, size_t len)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + pg - 1) & ~(pg - 1);
    uintptr_t hi = ((uintptr_t)(p + len)) & ~(pg - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Large uncompressed line-based files are cut at line boundaries so both cores work. */
static int
add_file(struct hunt *h, const char *path, uint64_t size)
{
    h->total_bytes += size;
    if (size < SPLIT_MIN_BYTES || h->threads < 2)
        return add_unit(h, path, NULL, 0, 0, 0, 0, h->fmt);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return add_unit(h, path, NULL, 0, 0, 0, 0, h->fmt); /* the worker reports the error */
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return add_unit(h, path, NULL, 0, 0, 0, 0, h->fmt);
    const unsigned char *p = map;
    enum bn_format fmt = h->fmt;
    if (!is_compressed(p, size) && fmt == BN_FMT_AUTO) {
        struct bn_reader *r;
        struct bn_diag d;
        if (bn_reader_open_mem(&r, p, BN_MIN(size, (uint64_t)1 << 20), path, BN_FMT_AUTO,
                               &d) == 0) {
            fmt = bn_reader_format(r);
            bn_reader_free(r);
        }
    }
    bool splittable = !is_compressed(p, size) &&
                      (fmt == BN_FMT_NDJSON || fmt == BN_FMT_SYSLOG || fmt == BN_FMT_JOURNAL);
    if (!splittable) {
        munmap(map, size);
        return add_unit(h, path, NULL, 0, 0, 0, 0, h->fmt);
    }
    madvise(map, size, MADV_SEQUENTIAL);
    size_t start = 0;
    uint64_t lines = 0;
    int rc = 0;
    while (start < size && !rc) {
        size_t end = start + SEGMENT_BYTES;
        if (end >= size) {
            end = size;
        } else {
            const unsigned char *nl = memchr(p + end, '\n', size - end);
            end = nl ? (size_t)(nl - p) + 1 : size;
        }
        rc = add_unit(h, path, p, size, start, end - start, lines, fmt);
        for (const unsigned char *q = p + start, *e = p + end;
             (q = memchr(q, '\n', (size_t)(e - q))) != NULL; q++)
            lines++;
        /* Counting touched the pages: give them back, the worker maps them again. */
        drop_pages(p + start, end - start);
        start = end;
    }
    return rc;
}

static int
walk(struct hunt *h, const char *path, bool top)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "bannin: cannot read '%s': %s\n", path, strerror(errno));
        h->files_failed++;
        h->errors++;
        return 0;
    }
    if (S_ISREG(st.st_mode))
        return add_file(h, path, (uint64_t)st.st_size);
    if (!S_ISDIR(st.st_mode))
        return 0;
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "bannin: cannot list '%s': %s\n", path, strerror(errno));
        h->errors++;
        return 0;
    }
    int rc = 0;
    bool was_walking = h->walking;
    h->walking = true;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        if (!rc && name[0] != '.') {
            size_t len = strlen(path) + strlen(name) + 2;
            char *sub = bn_malloc(len);
            if (!sub) {
                rc = BN_ENOMEM;
            } else {
                size_t pl = strlen(path);
                while (pl > 1 && path[pl - 1] == '/')
                    pl--;
                snprintf(sub, len, "%.*s/%s", (int)pl, path, name);
                rc = walk(h, sub, false);
                bn_free(sub);
            }
        }
        free(ents[i]);
    }
    free(ents);
    h->walking = was_walking;
    (void)top;
    return rc;
}

/* ---- output ---- */

/* Appends JSON without insignificant whitespace (evtx_dump objects are pretty-printed). */
static int
append_compact_json(struct bn_buf *b, const char *s, size_t n)
{
    size_t i = 0, run = 0;
    bool in_str = false;
    int rc = 0;
    while (i < n && !rc) {
        char c = s[i];
        if (in_str) {
            if (c == '\\' && i + 1 < n) {
                i += 2;
                run += 2;
                continue;
            }
            if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            if (run)
                rc = bn_buf_append(b, s + i - run, run);
            run = 0;
            i++;
            continue;
        }
        i++;
        run++;
    }
    if (!rc && run)
        rc = bn_buf_append(b, s + n - run, run);
    return rc;
}

static void
json_str(struct bn_buf *b, const char *s)
{
    bn_buf_putc(b, '"');
    if (s)
        bn_buf_json_escape(b, s, strlen(s));
    bn_buf_putc(b, '"');
}

static void
json_rule(struct bn_buf *b, const struct sigma_rule *r)
{
    bn_buf_puts(b, "\"rule\":{\"id\":");
    json_str(b, r->id);
    bn_buf_puts(b, ",\"title\":");
    json_str(b, r->title);
    bn_buf_puts(b, ",\"level\":");
    json_str(b, sigma_level_name(r->level));
    bn_buf_puts(b, ",\"tags\":[");
    for (uint32_t i = 0; i < r->ntags; i++) {
        if (i)
            bn_buf_putc(b, ',');
        json_str(b, r->tags[i]);
    }
    bn_buf_puts(b, "],\"logsource\":{");
    const char *keys[] = {"product", "category", "service"};
    const char *vals[] = {r->logsource.product, r->logsource.category, r->logsource.service};
    bool first = true;
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        if (!first)
            bn_buf_putc(b, ',');
        first = false;
        json_str(b, keys[i]);
        bn_buf_putc(b, ':');
        json_str(b, vals[i]);
    }
    bn_buf_puts(b, "},\"file\":");
    json_str(b, r->file);
    bn_buf_putc(b, '}');
}

/* CSV field with quotes doubled; newlines kept inside quotes. */
static void
csv_field(struct bn_buf *b, const char *s, size_t n)
{
    bn_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            bn_buf_putc(b, '"');
        bn_buf_putc(b, s[i]);
    }
    bn_buf_putc(b, '"');
}

/* One CSV row: time,level,rule_id,rule_title,host,file,record,details. */
static void
csv_row(struct bn_buf *b, const char *ts, const struct sigma_rule *r, const char *host,
        const char *file, uint64_t index, const char *details, size_t dlen)
{
    const char *lvl = sigma_level_name(r->level);
    csv_field(b, ts, strlen(ts));
    bn_buf_putc(b, ',');
    csv_field(b, lvl, strlen(lvl));
    bn_buf_putc(b, ',');
    csv_field(b, r->id ? r->id : "", r->id ? strlen(r->id) : 0);
    bn_buf_putc(b, ',');
    csv_field(b, r->title ? r->title : "", r->title ? strlen(r->title) : 0);
    bn_buf_putc(b, ',');
    csv_field(b, host, strlen(host));
    bn_buf_putc(b, ',');
    csv_field(b, file, strlen(file));
    bn_buf_printf(b, ",%llu,", (unsigned long long)index);
    csv_field(b, details ? details : "", details ? dlen : 0);
    bn_buf_putc(b, '\n');
}

/* Keeps a row for the time-sorted table, taking d's text; false when the table is full.
 * Called with h->lock held. */
static bool
table_add(struct hunt *h, int64_t ts, uint32_t rule, const char *host, struct bn_buf *d,
          uint64_t index)
{
    if (h->nrows == h->rows_cap && h->rows_cap < TABLE_KEEP) {
        size_t cap = h->rows_cap ? h->rows_cap * 2 : 256;
        struct table_row *nr = bn_reallocarray(h->rows, cap, sizeof(*nr));
        if (nr) {
            h->rows = nr;
            h->rows_cap = cap;
        }
    }
    if (h->nrows >= h->rows_cap)
        return false;
    struct table_row *row = &h->rows[h->nrows++];
    row->ts = ts;
    row->rule = rule;
    row->host = bn_strdup(host);
    row->details = bn_buf_detach(d);
    row->index = index;
    return true;
}

/* The fields an analyst wants to see first, in order. */
static const char *const key_fields[] = {
    "CommandLine", "Image", "TargetFilename", "TargetObject", "ScriptBlockText",
    "DestinationIp", "DestinationPort", "QueryName", "query", "TargetUserName", "IpAddress",
    "User", "ParentImage", "ServiceName", "ImageLoaded", "message", "MESSAGE", "exe", "Payload",
};

static const struct bn_fval *
find_val(const struct bn_event *ev, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < ev->nvals; i++)
        if (ev->vals[i].name_len == len && memcmp(ev->vals[i].name, name, len) == 0)
            return &ev->vals[i];
    return NULL;
}

/* "Field=value  Field=value" of the key fields present, at most max bytes. */
static void
details(const struct bn_event *ev, struct bn_buf *b, size_t max)
{
    int shown = 0;
    for (size_t k = 0; k < BN_ARRAY_SIZE(key_fields) && shown < 3 && b->len < max; k++) {
        const struct bn_fval *v = find_val(ev, key_fields[k]);
        if (!v || !v->s || !v->len)
            continue;
        if (shown++)
            bn_buf_puts(b, "  ");
        bn_buf_printf(b, "%s=", key_fields[k]);
        for (uint32_t i = 0; i < v->len && b->len < max; i++) {
            unsigned char c = (unsigned char)v->s[i];
            bn_buf_putc(b, (c < 0x20 || c == 0x7f) ? ' ' : (char)c);
        }
    }
    if (!shown) {
        for (uint32_t i = 0; i < ev->nvals && shown < 3; i++) {
            const struct bn_fval *v = &ev->vals[i];
            if (v->type != BN_VT_STR || !v->len)
                continue;
            if (shown++)
                bn_buf_puts(b, "  ");
            bn_buf_append(b, v->name, v->name_len);
            bn_buf_putc(b, '=');
            bn_buf_append(b, v->s, BN_MIN(v->len, 80u));
        }
    }
    if (b->len > max)
        b->len = max;
}

static const char *
host_of(const struct bn_event *ev, char *buf, size_t size)
{
    if (ev->host && ev->host_len) {
        snprintf(buf, size, "%.*s", (int)BN_MIN(ev->host_len, size - 1), ev->host);
        return buf;
    }
    return "-";
}

static void
emit_alert(struct hunt *h, struct bn_buf *b, uint32_t idx, const struct bn_event *ev,
           const struct bn_record *rec)
{
    const struct sigma_rule *r = bn_ruleset_rule(h->rules.rs, idx);
    char tbuf[40], hbuf[256];
    const char *ts = ev->ts_ns != INT64_MIN ? bn_time_format(ev->ts_ns, tbuf, sizeof(tbuf)) : "";
    const char *host = host_of(ev, hbuf, sizeof(hbuf));
    bn_buf_reset(b);
    if (h->mode == OUT_JSON) {
        bn_buf_puts(b, "{\"time\":");
        json_str(b, ts);
        bn_buf_puts(b, ",\"host\":");
        json_str(b, host);
        bn_buf_putc(b, ',');
        json_rule(b, r);
        bn_buf_puts(b, ",\"source\":{\"file\":");
        json_str(b, rec->file);
        bn_buf_printf(b, ",\"record\":%llu,\"line\":%llu,\"format\":",
                      (unsigned long long)rec->index, (unsigned long long)rec->line);
        json_str(b, rec->format);
        bn_buf_puts(b, ",\"logsource\":{");
        bn_buf_puts(b, "\"product\":");
        json_str(b, ev->product);
        bn_buf_puts(b, ",\"category\":");
        json_str(b, ev->category);
        bn_buf_puts(b, ",\"service\":");
        json_str(b, ev->service);
        bn_buf_puts(b, "}},\"event\":");
        /* The source object as it was, unless it holds bytes that are not UTF-8: then the
         * flat pairs, whose strings are escaped, so every output line is valid JSON. */
        if (rec->raw && rec->raw_len && rec->raw[0] == '{' && bn_utf8_valid(rec->raw, rec->raw_len))
            append_compact_json(b, rec->raw, rec->raw_len);
        else
            bn_record_to_json(rec, b);
        bn_buf_puts(b, "}\n");
    } else if (h->mode == OUT_CSV) {
        struct bn_buf d;
        bn_buf_init(&d, 4096);
        details(ev, &d, 1000);
        csv_row(b, ts, r, host, rec->file, rec->index, d.p, d.len);
        bn_buf_release(&d);
    }

    pthread_mutex_lock(&h->lock);
    h->hits_by_rule[idx]++;
    h->hits_by_level[r->level]++;
    if (h->mode != OUT_TABLE) {
        fwrite(b->p, 1, b->len, h->out);
    } else {
        struct bn_buf d;
        bn_buf_init(&d, 4096);
        details(ev, &d, 400);
        if (!table_add(h, ev->ts_ns, idx, host, &d, rec->index)) {
            /* Past the sort buffer: print at once rather than drop. */
            h->rows_unsorted++;
            fprintf(h->out, "%s %s%-13s%s %s  %s  %s\n", ts, cli_level_color(r->level, h->color),
                    sigma_level_name(r->level), CLI_RESET(h->color), host,
                    r->title ? r->title : "", d.p ? d.p : "");
        }
        bn_buf_release(&d);
    }
    pthread_mutex_unlock(&h->lock);
}

/* Copies what the correlation pass needs from an event that hit a referenced rule. */
static void
keep_corr_hit(struct hunt *h, uint32_t idx, const struct bn_event *ev)
{
    struct corr_hit c = {.ts = ev->ts_ns, .rule = idx};
    char hbuf[256];
    c.host = bn_strdup(host_of(ev, hbuf, sizeof(hbuf)));
    c.names = bn_calloc(h->ncorr_fields ? h->ncorr_fields : 1, sizeof(char *));
    c.values = bn_calloc(h->ncorr_fields ? h->ncorr_fields : 1, sizeof(char *));
    if (!c.host || !c.names || !c.values)
        goto oom;
    for (size_t i = 0; i < h->ncorr_fields; i++) {
        const struct bn_fval *v = find_val(ev, h->corr_fields[i]);
        if (!v || !v->s)
            continue;
        c.names[c.n] = bn_strdup(h->corr_fields[i]);
        c.values[c.n] = bn_strndup(v->s, v->len);
        if (!c.names[c.n] || !c.values[c.n]) {
            c.n++;
            goto oom;
        }
        c.n++;
    }
    pthread_mutex_lock(&h->lock);
    if (h->nchits == h->chits_cap) {
        size_t cap = h->chits_cap ? h->chits_cap * 2 : 256;
        struct corr_hit *n = bn_reallocarray(h->chits, cap, sizeof(*n));
        if (!n) {
            pthread_mutex_unlock(&h->lock);
            goto oom;
        }
        h->chits = n;
        h->chits_cap = cap;
    }
    h->chits[h->nchits++] = c;
    pthread_mutex_unlock(&h->lock);
    return;
oom:
    fprintf(stderr, "bannin: out of memory keeping a correlation hit\n");
    for (uint32_t i = 0; i < c.n; i++) {
        bn_free(c.names[i]);
        bn_free(c.values[i]);
    }
    bn_free(c.names);
    bn_free(c.values);
    bn_free(c.host);
    pthread_mutex_lock(&h->lock);
    h->errors++;
    pthread_mutex_unlock(&h->lock);
}

/* ---- workers ---- */

static void
note_skip(struct hunt *h, int rc, const struct bn_diag *d)
{
    pthread_mutex_lock(&h->lock);
    h->skipped++;
    if (rc == BN_ETOOBIG)
        h->skipped_toobig++;
    else if (rc == BN_EPARSE || rc == BN_EFORMAT || rc == BN_ETRUNC)
        h->skipped_parse++;
    else
        h->skipped_other++;
    if (h->ndiags < DIAG_KEEP)
        h->diags[h->ndiags++] = *d;
    pthread_mutex_unlock(&h->lock);
}

static void
note_file_error(struct hunt *h, const struct bn_diag *d)
{
    char msg[1024];
    pthread_mutex_lock(&h->lock);
    h->files_failed++;
    h->errors++;
    fprintf(stderr, "bannin: %s\n", bn_diag_format(d, msg, sizeof(msg)));
    pthread_mutex_unlock(&h->lock);
}

static void
run_unit(struct hunt *h, struct unit *u, struct bn_evbuilder *eb, struct bn_scratch *s,
         struct bn_event *ev, struct bn_buf *b)
{
    struct bn_reader *r;
    struct bn_diag d;
    bn_diag_clear(&d);
    int rc = u->map ? bn_reader_open_mem(&r, u->map + u->start, u->len, u->path, u->fmt, &d)
                    : bn_reader_open(&r, u->path, u->fmt, &d);
    if (rc == BN_EFORMAT && u->from_walk && u->fmt == BN_FMT_AUTO) {
        /* A README or script beside the logs: reported in the summary, not an error. */
        pthread_mutex_lock(&h->lock);
        h->files_not_logs++;
        if (h->ndiags < DIAG_KEEP)
            h->diags[h->ndiags++] = d;
        pthread_mutex_unlock(&h->lock);
        return;
    }
    if (rc) {
        note_file_error(h, &d);
        return;
    }
    uint64_t nev = 0, last_bytes = 0;
    for (;;) {
        struct bn_record *rec;
        bn_diag_clear(&d);
        rc = bn_reader_next(r, &rec, &d);
        if (rc == BN_EOF)
            break;
        if (rc < 0) {
            if (u->map && d.line)
                d.line += u->base_line;
            note_skip(h, rc, &d);
            if (bn_reader_done(r))
                break;
            continue;
        }
        nev++;
        if (u->map) {
            rec->line += u->base_line;
            rec->offset += u->start;
        }
        if ((nev & 1023) == 0) {
            uint64_t done, total;
            bn_reader_progress(r, &done, &total);
            if (!u->map) {
                atomic_fetch_add(&h->bytes_done, done - last_bytes);
                last_bytes = done;
            }
            atomic_fetch_add(&h->events, 1024);
        }
        bn_event_clear(ev);
        if (bn_evbuilder_build(eb, rec, ev) != 0) {
            bn_diag_set(&d, BN_ETOOBIG, u->path, rec->line, 0, "record %llu: cannot map event",
                        (unsigned long long)rec->index);
            note_skip(h, BN_ETOOBIG, &d);
            continue;
        }
        if ((h->from_ns != INT64_MIN || h->to_ns != INT64_MAX) && ev->ts_ns != INT64_MIN &&
            (ev->ts_ns < h->from_ns || ev->ts_ns > h->to_ns)) {
            atomic_fetch_add(&h->filtered, 1);
            continue;
        }
        const uint32_t *hits;
        size_t nhits;
        if (bn_ruleset_match(h->rules.rs, s, ev, &hits, &nhits) != 0) {
            bn_diag_set(&d, BN_EINTERNAL, u->path, rec->line, 0, "record %llu: matcher failed",
                        (unsigned long long)rec->index);
            note_skip(h, BN_EINTERNAL, &d);
            continue;
        }
        for (size_t i = 0; i < nhits; i++) {
            uint32_t idx = hits[i];
            if (h->corr_ref[idx])
                keep_corr_hit(h, idx, ev);
            if (!bn_ruleset_rule_alerts(h->rules.rs, idx))
                continue;
            if (bn_ruleset_rule(h->rules.rs, idx)->level < h->min_level)
                continue;
            atomic_fetch_add(&h->alerts, 1);
            emit_alert(h, b, idx, ev, rec);
        }
    }
    atomic_fetch_add(&h->events, nev & 1023);
    uint64_t done, total;
    bn_reader_progress(r, &done, &total);
    atomic_fetch_add(&h->bytes_done, u->map ? u->len : done - last_bytes);
    if (u->map)
        drop_pages(u->map + u->start, u->len); /* peak RSS: about one segment per worker */
    pthread_mutex_lock(&h->lock);
    if (!u->map || u->start == 0)
        h->files_ok++;
    pthread_mutex_unlock(&h->lock);
    bn_reader_free(r);
}

static void *
worker(void *arg)
{
    struct hunt *h = arg;
    const struct bn_fieldtab *ft = bn_ruleset_fields(h->rules.rs);
    struct bn_evbuilder *eb = bn_evbuilder_new(h->mapping, ft);
    struct bn_scratch *s = bn_scratch_new(h->rules.rs);
    struct bn_event ev;
    struct bn_buf b;
    bn_buf_init(&b, (size_t)BN_RECORD_MAX * 2);
    int rc = bn_event_init(&ev, bn_fieldtab_count(ft));
    if (!eb || !s || rc) {
        fprintf(stderr, "bannin: out of memory starting a worker\n");
        pthread_mutex_lock(&h->lock);
        h->errors++;
        pthread_mutex_unlock(&h->lock);
        goto out;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&h->next_unit, 1);
        if (i >= h->nunits)
            break;
        run_unit(h, &h->units[i], eb, s, &ev, &b);
    }
out:
    bn_event_release(&ev);
    bn_buf_release(&b);
    bn_scratch_free(s);
    bn_evbuilder_free(eb);
    return NULL;
}

static void *
progress_thread(void *arg)
{
    struct hunt *h = arg;
    double t0 = cli_now();
    while (!atomic_load(&h->done)) {
        usleep(200000);
        if (atomic_load(&h->done))
            break;
        uint64_t done = atomic_load(&h->bytes_done), ev = atomic_load(&h->events);
        double el = cli_now() - t0;
        double frac = h->total_bytes ? (double)done / (double)h->total_bytes : 0;
        if (frac > 1)
            frac = 1;
        int width = 30, fill = (int)(frac * width);
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        char c1[32], c2[32];
        fprintf(stderr, "\r[%s] %3.0f%%  %s  %s events/s  %llu alerts   ", bar, frac * 100,
                cli_fmt_bytes(done, c1, sizeof(c1)),
                cli_fmt_count(el > 0 ? (uint64_t)((double)ev / el) : 0, c2, sizeof(c2)),
                (unsigned long long)atomic_load(&h->alerts));
        fflush(stderr);
    }
    fprintf(stderr, "\r%*s\r", 90, "");
    return NULL;
}

/* ---- correlation pass ---- */

static int
cmp_chit(const void *a, const void *b)
{
    const struct corr_hit *x = a, *y = b;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

static void
on_corr_alert(void *ctx, const struct bn_corr_alert *a)
{
    struct hunt *h = ctx;
    const struct sigma_rule *r = bn_ruleset_rule(h->rules.rs, a->rule);
    if (r->level < h->min_level)
        return;
    char t1[40], t2[40];
    h->corr_alerts++;
    h->hits_by_rule[a->rule]++;
    h->hits_by_level[r->level]++;
    struct bn_buf *b = &h->outbuf;
    bn_buf_reset(b);
    if (h->mode == OUT_JSON) {
        bn_buf_puts(b, "{\"time\":");
        json_str(b, bn_time_format(a->last_ns, t1, sizeof(t1)));
        bn_buf_puts(b, ",\"first\":");
        json_str(b, bn_time_format(a->first_ns, t2, sizeof(t2)));
        bn_buf_putc(b, ',');
        json_rule(b, r);
        bn_buf_puts(b, ",\"correlation\":{\"type\":");
        static const char *const types[] = {"event_count", "value_count", "temporal",
                                            "temporal_ordered"};
        json_str(b, types[r->corr.type]);
        bn_buf_printf(b, ",\"count\":%llu,\"group\":{", (unsigned long long)a->count);
        for (size_t i = 0; i < a->ngroup; i++) {
            if (i)
                bn_buf_putc(b, ',');
            json_str(b, a->group_names[i]);
            bn_buf_putc(b, ':');
            json_str(b, a->group_values[i]);
        }
        bn_buf_puts(b, "}}}\n");
    } else if (h->mode == OUT_CSV) {
        struct bn_buf d;
        bn_buf_init(&d, 4096);
        bn_buf_printf(&d, "correlation count=%llu", (unsigned long long)a->count);
        for (size_t i = 0; i < a->ngroup; i++)
            bn_buf_printf(&d, " %s=%s", a->group_names[i], a->group_values[i]);
        csv_row(b, bn_time_format(a->last_ns, t1, sizeof(t1)), r, "-", "", 0, d.p, d.len);
        bn_buf_release(&d);
    } else {
        struct bn_buf d;
        bn_buf_init(&d, 4096);
        bn_buf_printf(&d, "[correlation] count=%llu", (unsigned long long)a->count);
        for (size_t i = 0; i < a->ngroup; i++)
            bn_buf_printf(&d, "  %s=%s", a->group_names[i], a->group_values[i]);
        if (!table_add(h, a->last_ns, a->rule, "-", &d, 0))
            fprintf(h->out, "%s %s %s\n", bn_time_format(a->last_ns, t1, sizeof(t1)),
                    r->title ? r->title : "", d.p ? d.p : "");
        bn_buf_release(&d);
        return;
    }
    fwrite(b->p, 1, b->len, h->out);
}

static int
run_correlations(struct hunt *h)
{
    struct bn_correlator *c = bn_correlator_new(h->rules.rs, on_corr_alert, h);
    if (!c)
        return BN_ENOMEM;
    qsort(h->chits, h->nchits, sizeof(*h->chits), cmp_chit);
    /* Rebuild small events on a table of just the correlation fields. */
    const struct bn_fieldtab *ft = bn_ruleset_fields(h->rules.rs);
    struct bn_event ev;
    int rc = bn_event_init(&ev, bn_fieldtab_count(ft));
    for (size_t i = 0; i < h->nchits && !rc; i++) {
        struct corr_hit *ch = &h->chits[i];
        bn_event_clear(&ev);
        ev.ts_ns = ch->ts;
        ev.host = ch->host;
        ev.host_len = strlen(ch->host);
        for (uint32_t k = 0; k < ch->n; k++) {
            size_t nl = strlen(ch->names[k]);
            uint32_t id = bn_fieldtab_lookup(ft, ch->names[k], nl);
            rc = bn_event_add(&ev, id, ch->names[k], nl, ch->values[k], strlen(ch->values[k]),
                              BN_VT_STR, k);
            if (rc)
                break;
        }
        if (!rc)
            rc = bn_correlator_feed(c, NULL, &ev, &ch->rule, 1);
    }
    bn_correlator_expire(c, INT64_MAX);
    bn_event_release(&ev);
    bn_correlator_free(c);
    return rc;
}

/* Collects the field names correlation rules group by, count or alias. */
static int
collect_corr_fields(struct hunt *h)
{
    size_t n = bn_ruleset_count(h->rules.rs);
    h->corr_ref = bn_calloc(n ? n : 1, sizeof(bool));
    if (!h->corr_ref)
        return BN_ENOMEM;
    size_t cap = 16;
    h->corr_fields = bn_calloc(cap, sizeof(char *));
    if (!h->corr_fields)
        return BN_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const struct sigma_rule *r = bn_ruleset_rule(h->rules.rs, i);
        if (r->kind != SIGMA_KIND_CORRELATION)
            continue;
        size_t nref;
        const uint32_t *refs = bn_ruleset_corr_refs(h->rules.rs, i, &nref);
        for (size_t k = 0; k < nref; k++)
            if (refs[k] < n)
                h->corr_ref[refs[k]] = true;
        const char *names[256];
        size_t nn = 0;
        for (uint32_t k = 0; k < r->corr.ngroup_by && nn < 256; k++)
            names[nn++] = r->corr.group_by[k];
        if (r->corr.field && nn < 256)
            names[nn++] = r->corr.field;
        for (uint32_t a = 0; a < r->corr.naliases; a++)
            for (uint32_t k = 0; k < r->corr.aliases[a].n && nn < 256; k++)
                names[nn++] = r->corr.aliases[a].fields[k];
        for (size_t k = 0; k < nn; k++) {
            bool seen = false;
            for (size_t j = 0; j < h->ncorr_fields && !seen; j++)
                seen = strcmp(h->corr_fields[j], names[k]) == 0;
            if (seen)
                continue;
            if (h->ncorr_fields == cap) {
                cap *= 2;
                const char **nf = bn_reallocarray(h->corr_fields, cap, sizeof(char *));
                if (!nf)
                    return BN_ENOMEM;
                h->corr_fields = nf;
            }
            h->corr_fields[h->ncorr_fields++] = names[k];
        }
    }
    return 0;
}

/* ---- summary ---- */

static int
cmp_row(const void *a, const void *b)
{
    const struct table_row *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return (x->rule > y->rule) - (x->rule < y->rule);
}

static void
print_table(struct hunt *h)
{
    if (h->nrows > 1)
        qsort(h->rows, h->nrows, sizeof(*h->rows), cmp_row);
    if (h->nrows)
        fprintf(h->out, "%s%-24s %-13s %-16s %-50s %s%s\n", h->color ? "\033[1m" : "", "time",
                "level", "host", "rule", "details", CLI_RESET(h->color));
    for (size_t i = 0; i < h->nrows; i++) {
        struct table_row *row = &h->rows[i];
        const struct sigma_rule *r = bn_ruleset_rule(h->rules.rs, row->rule);
        char tbuf[40];
        const char *ts = row->ts != INT64_MIN ? bn_time_format(row->ts, tbuf, sizeof(tbuf)) : "-";
        fprintf(h->out, "%-24s %s%-13s%s %-16.16s %-50.50s %s\n", ts,
                cli_level_color(r->level, h->color), sigma_level_name(r->level),
                CLI_RESET(h->color), row->host ? row->host : "-", r->title ? r->title : "",
                row->details ? row->details : "");
    }
}

struct rule_count {
    uint32_t rule;
    uint64_t n;
};

static int
cmp_count(const void *a, const void *b)
{
    const struct rule_count *x = a, *y = b;
    if (x->n != y->n)
        return (x->n < y->n) - (x->n > y->n);
    return (x->rule > y->rule) - (x->rule < y->rule);
}

static void
print_summary(struct hunt *h, double secs)
{
    FILE *f = stderr;
    char a[32], b[32], c[32];
    struct bn_ruleset_stats st;
    bn_ruleset_stats(h->rules.rs, &st);
    bool col = h->color;
    fprintf(f, "\n%sBannin hunt summary%s\n", col ? "\033[1m" : "", CLI_RESET(col));
    fprintf(f, "  rules    %zu loaded (%zu detection, %zu correlation, %zu filter) in %.2f s",
            st.rules, st.detection_rules, st.correlation_rules, st.filter_rules,
            h->rules.load_seconds);
    if (h->rules.unsupported || h->rules.errors)
        fprintf(f, "; %zu unsupported, %zu with errors (bannin rules check lists them)",
                h->rules.unsupported, h->rules.errors);
    if (h->rules.excluded)
        fprintf(f, "; %zu excluded", h->rules.excluded);
    fputc('\n', f);
    uint64_t ev = atomic_load(&h->events), by = atomic_load(&h->bytes_done);
    fprintf(f, "  input    %llu files, %s events, %s in %.2f s (%s events/s, %.1f MB/s) on %d "
               "threads\n",
            (unsigned long long)h->files_ok, cli_fmt_count(ev, a, sizeof(a)),
            cli_fmt_bytes(by, b, sizeof(b)), secs,
            cli_fmt_count(secs > 0 ? (uint64_t)((double)ev / secs) : ev, c, sizeof(c)),
            secs > 0 ? (double)by / secs / 1e6 : 0.0, h->threads);
    if (h->files_failed)
        fprintf(f, "  failed   %llu files could not be read (see messages above)\n",
                (unsigned long long)h->files_failed);
    if (h->files_not_logs)
        fprintf(f, "  ignored  %llu files in the input directories are not logs (listed below)\n",
                (unsigned long long)h->files_not_logs);
    if (atomic_load(&h->filtered))
        fprintf(f, "  filtered %llu events outside --from/--to\n",
                (unsigned long long)atomic_load(&h->filtered));
    if (h->skipped || h->files_not_logs) {
        if (h->skipped)
            fprintf(f, "  skipped  %llu records: %llu malformed, %llu over a size limit, %llu "
                       "other\n",
                    (unsigned long long)h->skipped, (unsigned long long)h->skipped_parse,
                    (unsigned long long)h->skipped_toobig, (unsigned long long)h->skipped_other);
        char msg[1024];
        for (size_t i = 0; i < h->ndiags; i++)
            fprintf(f, "           %s\n", bn_diag_format(&h->diags[i], msg, sizeof(msg)));
        if (h->skipped + h->files_not_logs > h->ndiags)
            fprintf(f, "           ... and %llu more\n",
                    (unsigned long long)(h->skipped + h->files_not_logs - h->ndiags));
    }
    uint64_t total = atomic_load(&h->alerts) + h->corr_alerts;
    fprintf(f, "  hits     %llu alerts", (unsigned long long)total);
    if (total) {
        fprintf(f, " (");
        bool first = true;
        for (int l = SIGMA_LEVEL_CRITICAL; l >= SIGMA_LEVEL_NONE; l--) {
            if (!h->hits_by_level[l])
                continue;
            fprintf(f, "%s%s%s %llu%s", first ? "" : ", ",
                    cli_level_color((enum sigma_level)l, col), sigma_level_name((enum sigma_level)l),
                    (unsigned long long)h->hits_by_level[l], CLI_RESET(col));
            first = false;
        }
        fprintf(f, ")");
    }
    if (h->corr_alerts)
        fprintf(f, ", %llu from correlations", (unsigned long long)h->corr_alerts);
    fputc('\n', f);
    size_t n = bn_ruleset_count(h->rules.rs), nz = 0;
    struct rule_count *rc = bn_calloc(n ? n : 1, sizeof(*rc));
    if (rc) {
        for (uint32_t i = 0; i < n; i++)
            if (h->hits_by_rule[i])
                rc[nz++] = (struct rule_count){i, h->hits_by_rule[i]};
        if (nz > 1)
            qsort(rc, nz, sizeof(*rc), cmp_count);
        if (nz)
            fprintf(f, "  by rule  (%zu rules fired)\n", nz);
        for (size_t i = 0; i < nz && i < 15; i++) {
            const struct sigma_rule *r = bn_ruleset_rule(h->rules.rs, rc[i].rule);
            fprintf(f, "    %8llu  %s%-13s%s %s\n", (unsigned long long)rc[i].n,
                    cli_level_color(r->level, col), sigma_level_name(r->level), CLI_RESET(col),
                    r->title ? r->title : "");
        }
        if (nz > 15)
            fprintf(f, "    ... %zu more rules (use --json or --csv for everything)\n", nz - 15);
        bn_free(rc);
    }
    if (h->rows_unsorted)
        fprintf(f, "  note     %llu alerts past the first %u were printed unsorted\n",
                (unsigned long long)h->rows_unsorted, TABLE_KEEP);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(f, "  memory   peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
}

/* ---- command ---- */

static bool
push(const char ***arr, size_t *n, const char *v)
{
    const char **a = bn_reallocarray(*arr, *n + 1, sizeof(char *));
    if (!a)
        return false;
    a[(*n)++] = v;
    *arr = a;
    return true;
}

static void
hunt_release(struct hunt *h)
{
    for (size_t i = 0; i < h->nunits; i++) {
        struct unit *u = &h->units[i];
        if (u->map && u->start == 0)
            munmap((void *)u->map, u->map_len);
        bn_free(u->path);
    }
    bn_free(h->units);
    for (size_t i = 0; i < h->nchits; i++) {
        for (uint32_t k = 0; k < h->chits[i].n; k++) {
            bn_free(h->chits[i].names[k]);
            bn_free(h->chits[i].values[k]);
        }
        bn_free(h->chits[i].names);
        bn_free(h->chits[i].values);
        bn_free(h->chits[i].host);
    }
    bn_free(h->chits);
    for (size_t i = 0; i < h->nrows; i++) {
        bn_free(h->rows[i].host);
        bn_free(h->rows[i].details);
    }
    bn_free(h->rows);
    bn_free(h->hits_by_rule);
    bn_free(h->corr_ref);
    bn_free(h->corr_fields);
    bn_free(h->rule_paths);
    bn_free(h->inputs);
    bn_buf_release(&h->outbuf);
    bn_mapping_free(h->mapping);
    cli_rules_release(&h->rules);
    pthread_mutex_destroy(&h->lock);
}

int
cmd_hunt(int argc, char **argv)
{
    enum {
        O_JSON = 256, O_CSV, O_MINLEVEL, O_INCLUDE, O_EXCLUDE, O_FROM, O_TO, O_MAPPINGS,
        O_IGNORE_LS, O_COLOR, O_NOPROGRESS, O_STRICT,
    };
    static const struct option opts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, O_JSON},
        {"csv", no_argument, NULL, O_CSV},
        {"min-level", required_argument, NULL, O_MINLEVEL},
        {"include", required_argument, NULL, O_INCLUDE},
        {"exclude", required_argument, NULL, O_EXCLUDE},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"mappings", required_argument, NULL, O_MAPPINGS},
        {"ignore-logsource", no_argument, NULL, O_IGNORE_LS},
        {"color", required_argument, NULL, O_COLOR},
        {"colour", required_argument, NULL, O_COLOR},
        {"no-progress", no_argument, NULL, O_NOPROGRESS},
        {"strict", no_argument, NULL, O_STRICT},
        {NULL, 0, NULL, 0},
    };
    struct hunt h;
    memset(&h, 0, sizeof(h));
    pthread_mutex_init(&h.lock, NULL);
    bn_buf_init(&h.outbuf, (size_t)BN_RECORD_MAX * 2);
    h.from_ns = INT64_MIN;
    h.to_ns = INT64_MAX;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    h.threads = ncpu > 0 ? (int)BN_MIN(ncpu, 64) : 1;
    h.out = stdout;
    int color = -1; /* auto */
    bool ignore_ls = false, no_progress = false;
    struct cli_rule_filter filter = {0};
    const char *outfile = NULL;
    int ret = 2, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:f:o:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (!push(&h.rule_paths, &h.nrule_paths, optarg))
                goto out;
            break;
        case 'f': {
            int f = bn_format_parse(optarg);
            if (f < 0) {
                fprintf(stderr, "bannin hunt: unknown format '%s'\n", optarg);
                goto out;
            }
            h.fmt = (enum bn_format)f;
            break;
        }
        case 'o': outfile = optarg; break;
        case 'j': {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end || t < 1 || t > 256) {
                fprintf(stderr, "bannin hunt: --threads takes 1..256, not '%s'\n", optarg);
                goto out;
            }
            h.threads = (int)t;
            break;
        }
        case 'q': h.quiet = true; break;
        case 'h': hunt_usage(stdout); ret = 0; goto out;
        case O_JSON: h.mode = OUT_JSON; break;
        case O_CSV: h.mode = OUT_CSV; break;
        case O_MINLEVEL:
            h.min_level = sigma_level_parse(optarg);
            if (h.min_level == SIGMA_LEVEL_NONE) {
                fprintf(stderr, "bannin hunt: unknown level '%s'\n", optarg);
                goto out;
            }
            break;
        case O_INCLUDE:
            if (!push(&filter.include, &filter.ninclude, optarg))
                goto out;
            break;
        case O_EXCLUDE:
            if (!push(&filter.exclude, &filter.nexclude, optarg))
                goto out;
            break;
        case O_FROM:
        case O_TO: {
            int64_t t;
            if (bn_time_parse(optarg, strlen(optarg), &t) != 0) {
                fprintf(stderr, "bannin hunt: cannot parse time '%s' (use RFC 3339)\n", optarg);
                goto out;
            }
            if (c == O_FROM)
                h.from_ns = t;
            else
                h.to_ns = t;
            break;
        }
        case O_MAPPINGS: h.mappings_dir = optarg; break;
        case O_IGNORE_LS: ignore_ls = true; break;
        case O_COLOR:
            color = strcmp(optarg, "always") == 0 ? 1 : strcmp(optarg, "never") == 0 ? 0 : -1;
            break;
        case O_NOPROGRESS: no_progress = true; break;
        case O_STRICT: h.strict = true; break;
        default: hunt_usage(stderr); goto out;
        }
    }
    for (int i = optind; i < argc; i++)
        if (!push(&h.inputs, &h.ninputs, argv[i]))
            goto out;
    if (!h.nrule_paths || !h.ninputs) {
        fprintf(stderr, "bannin hunt: need at least one -r RULES and one INPUT\n");
        hunt_usage(stderr);
        goto out;
    }
    if (outfile) {
        h.out = fopen(outfile, "w");
        if (!h.out) {
            fprintf(stderr, "bannin hunt: cannot write '%s': %s\n", outfile, strerror(errno));
            h.out = stdout;
            goto out;
        }
    }
    h.color = color == 1 || (color == -1 && h.mode == OUT_TABLE && !outfile && isatty(1) &&
                             isatty(2));
    h.progress = !no_progress && !h.quiet && isatty(2);

    struct bn_compile_opts copts = {.ignore_logsource = ignore_ls};
    int rc = cli_rules_load(h.rule_paths, h.nrule_paths, &filter, &copts, &h.rules);
    if (rc) {
        fprintf(stderr, "bannin hunt: cannot load rules: %s\n", bn_strerror(rc));
        goto out;
    }
    if (bn_ruleset_count(h.rules.rs) == 0) {
        fprintf(stderr, "bannin hunt: no rule could be loaded (%zu unsupported, %zu errors)\n",
                h.rules.unsupported, h.rules.errors);
        goto out;
    }
    struct bn_diag d;
    bn_diag_clear(&d);
    rc = h.mappings_dir ? bn_mapping_load_dir(&h.mapping, h.mappings_dir, &d)
                        : bn_mapping_load_default(&h.mapping, &d);
    if (rc) {
        char msg[1024];
        fprintf(stderr, "bannin hunt: cannot load mappings: %s\n",
                bn_diag_format(&d, msg, sizeof(msg)));
        goto out;
    }
    h.hits_by_rule = bn_calloc(bn_ruleset_count(h.rules.rs), sizeof(uint64_t));
    if (!h.hits_by_rule || collect_corr_fields(&h))
        goto out;
    for (size_t i = 0; i < h.ninputs; i++)
        if (walk(&h, h.inputs[i], true))
            goto out;
    if (h.nunits < (size_t)h.threads)
        h.threads = h.nunits ? (int)h.nunits : 1;
    if (h.mode == OUT_CSV)
        fputs("time,level,rule_id,rule_title,host,file,record,details\n", h.out);

    double t0 = cli_now();
    pthread_t prog, *tids = bn_calloc((size_t)h.threads, sizeof(pthread_t));
    if (!tids)
        goto out;
    if (h.progress)
        pthread_create(&prog, NULL, progress_thread, &h);
    int started = 0;
    for (int i = 0; i < h.threads; i++)
        if (pthread_create(&tids[i], NULL, worker, &h) == 0)
            started++;
        else
            break;
    if (!started)
        worker(&h);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    bn_free(tids);
    if (h.nchits && run_correlations(&h) != 0) {
        fprintf(stderr, "bannin hunt: correlation pass failed\n");
        h.errors++;
    }
    double secs = cli_now() - t0;
    atomic_store(&h.done, true);
    if (h.progress)
        pthread_join(prog, NULL);
    if (h.mode == OUT_TABLE)
        print_table(&h);
    fflush(h.out);
    if (!h.quiet)
        print_summary(&h, secs);
    if (h.errors || (h.strict && (h.skipped || h.rules.errors || h.rules.unsupported)))
        ret = 2;
    else
        ret = (atomic_load(&h.alerts) + h.corr_alerts) ? 1 : 0;
out:
    bn_free(filter.include);
    bn_free(filter.exclude);
    if (h.out && h.out != stdout)
        fclose(h.out);
    hunt_release(&h);
    return ret;
}
