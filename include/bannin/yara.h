/*
 * yara.h - YARA rule sets and scanning (libyara 4.x) for `bannin scan`, the agent's scan
 * action and rule-based exec blocking.
 *
 * Compiling: rule files, directories (every *.yar / *.yara below them) and .tar.gz bundles
 * (unpacked in memory) are compiled file by file. A file that fails to compile is skipped and
 * every error in it is reported as "file:line: message" (bn_yara_report): a bad rule never
 * stops the set. Each file gets its own namespace (its base name) so rules with the same
 * name in two files do not clash.
 *
 * Scanning: a buffer, a file or directory trees with limits (file size cap, timeout per file,
 * maximum number of files). Each match is handed to a callback as (rule, namespace, tags,
 * file). Nothing is silently dropped: files skipped for size, errors and limit hits are
 * counted in bn_yara_scan_stats.
 */
#ifndef BANNIN_YARA_H
#define BANNIN_YARA_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/common.h"

struct bn_yara_rules;

/* One compile error or warning. */
struct bn_yara_issue {
    char file[512]; /* rule file (for tar bundles: archive!member) */
    int line;       /* 0 when unknown */
    bool warning;
    char message[256];
};

struct bn_yara_report {
    size_t files;        /* rule files seen */
    size_t files_ok;     /* files whose rules are in the set */
    size_t files_failed; /* files skipped because they did not compile */
    size_t rules;        /* rules in the compiled set */
    size_t errors;       /* compile errors (all files) */
    size_t warnings;
    struct bn_yara_issue *issues; /* first BN_YARA_ISSUES_MAX issues; counts are complete */
    size_t nissues;
    size_t issues_dropped; /* issues beyond the stored ones (still counted above) */
};

struct bn_yara_compile_opts {
    /* Declare LOKI/THOR-style external variables (filename, filepath, extension, filetype,
     * owner) so rules using them compile; the scanner fills them per file. */
    bool externals;
};

/* Compiles paths (files, directories, .tar.gz bundles). report (optional) is filled and must
 * be released with bn_yara_report_release. Returns 0 with *out set when at least one rule
 * compiled, BN_ENOTFOUND when a path does not exist, BN_EPARSE when no rule compiled (see the
 * report), BN_ETOOBIG past BN_YARA_RULE_FILES_MAX files or BN_YARA_BUNDLE_MAX bytes. A
 * damaged bundle is reported and skipped (members before the damage are kept). */
int bn_yara_compile_paths(const char *const *paths, size_t npaths,
                          const struct bn_yara_compile_opts *opts, struct bn_yara_rules **out,
                          struct bn_yara_report *report);
/* Compiles rule text (len bytes, need not be NUL-terminated) as one file named name. */
int bn_yara_compile_text(const char *text, size_t len, const char *name,
                         const struct bn_yara_compile_opts *opts, struct bn_yara_rules **out,
                         struct bn_yara_report *report);
/* Compiles the rule files (*.yar, *.yara) of an uncompressed tar image (borrowed; ustar,
 * GNU long names, pax path records) named name in the report. */
int bn_yara_compile_tar(const void *tar, size_t len, const char *name,
                        const struct bn_yara_compile_opts *opts, struct bn_yara_rules **out,
                        struct bn_yara_report *report);
void bn_yara_rules_free(struct bn_yara_rules *r);
size_t bn_yara_rules_count(const struct bn_yara_rules *r);
void bn_yara_report_release(struct bn_yara_report *rep);

struct bn_yara_scan_opts {
    uint64_t max_size; /* files larger are skipped and counted (0 = BN_YARA_FILE_SIZE_DEFAULT) */
    int timeout_s;     /* per file (0 = BN_YARA_TIMEOUT_DEFAULT) */
    size_t max_files;  /* files scanned before stopping (0 = BN_YARA_FILES_DEFAULT) */
    bool follow_links; /* follow symbolic links below directories (never by default) */
    bool one_fs;       /* stay on each root's file system (default false) */
    int max_seconds;   /* whole run: stop before the next file after this (0 = no bound) */
};

struct bn_yara_match {
    const char *rule;
    const char *ns;
    const char *const *tags; /* NULL-terminated */
    size_t ntags;
    const char *file; /* NULL for buffers */
};

/* Called once per (rule, file) match; return non-zero to stop the scan. */
typedef int (*bn_yara_match_fn)(const struct bn_yara_match *m, void *ud);
/* Called once per file that could not be scanned (reason is a static or short string). */
typedef void (*bn_yara_error_fn)(const char *file, int err, const char *reason, void *ud);

struct bn_yara_scan_stats {
    uint64_t files_scanned;
    uint64_t files_matched;
    uint64_t matches;
    uint64_t bytes_scanned;
    uint64_t skipped_size;    /* over max_size */
    uint64_t skipped_special; /* devices, fifos, sockets, links not followed */
    uint64_t timeouts;
    uint64_t errors;    /* open/read/scan failures */
    bool max_files_hit; /* stopped at max_files */
    bool deadline_hit;  /* stopped at max_seconds */
    bool stopped;       /* the callback asked to stop */
};

/* Scans a buffer. Returns 0, BN_ETOOBIG when the timeout hit, BN_EINTERNAL. */
int bn_yara_scan_mem(struct bn_yara_rules *r, const void *data, size_t len,
                     const struct bn_yara_scan_opts *opts, bn_yara_match_fn fn, void *ud);
/* Scans the memory of process pid (ptrace attach while reading; never this process). Matches
 * carry file "pid:N". Returns 0, BN_ETOOBIG on timeout, -ESRCH when there is no such process,
 * BN_EDENIED when it cannot be attached or read, BN_EINVAL for our own pid, BN_EINTERNAL. */
int bn_yara_scan_pid(struct bn_yara_rules *r, int pid, const struct bn_yara_scan_opts *opts,
                     bn_yara_match_fn fn, void *ud);
/* Scans files and directory trees (recursively). Per-file failures are counted and passed to
 * efn (optional); returns 0 unless the arguments are bad or memory ran out. */
int bn_yara_scan_paths(struct bn_yara_rules *r, const char *const *paths, size_t npaths,
                       const struct bn_yara_scan_opts *opts, bn_yara_match_fn fn,
                       bn_yara_error_fn efn, void *ud, struct bn_yara_scan_stats *stats);

#endif
