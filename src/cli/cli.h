/*
 * cli.h - what the `bannin` subcommands share: rule loading with diagnostics, rule filters,
 * colours and small helpers.
 */
#ifndef BANNIN_CLI_H
#define BANNIN_CLI_H

#include <stdio.h>

#include "bannin/diag.h"
#include "bannin/engine.h"
#include "bannin/sigma.h"

/* One rule (or rule file) that did not load. */
struct cli_rule_issue {
    struct bn_diag diag;     /* code BN_EUNSUP = unsupported feature, other = error */
    char title[160];         /* rule title, if it got that far */
    char id[64];
};

struct cli_rules {
    struct bn_ruleset *rs;
    size_t parsed;           /* rule documents parsed */
    size_t excluded;         /* dropped by --include / --exclude */
    size_t compiled;
    size_t unsupported;      /* parse or compile said BN_EUNSUP */
    size_t errors;           /* parse or compile errors */
    struct cli_rule_issue *issues;
    size_t nissues;
    size_t issues_cap;
    double load_seconds;
};

struct cli_rule_filter {
    const char **include;    /* glob patterns on id, title, tags or file path */
    size_t ninclude;
    const char **exclude;
    size_t nexclude;
};

/* Parses and compiles rules from paths. Returns 0 (even when some rules fail: they are
 * listed in out->issues) or a fatal error. */
int cli_rules_load(const char *const *paths, size_t npaths, const struct cli_rule_filter *filter,
                   const struct bn_compile_opts *opts, struct cli_rules *out);
void cli_rules_release(struct cli_rules *r);

/* Colour escape for a level ("" when colours are off). */
const char *cli_level_color(enum sigma_level level, bool color);
#define CLI_RESET(color) ((color) ? "\033[0m" : "")

/* Formats n with thousands separators into buf. */
const char *cli_fmt_count(uint64_t n, char *buf, size_t size);
/* Formats a byte count as "12.3 MB". */
const char *cli_fmt_bytes(uint64_t n, char *buf, size_t size);
double cli_now(void);

int cmd_hunt(int argc, char **argv);
int cmd_rules(int argc, char **argv);
/* `bannin pcap`: offline network analysis (src/cli/pcap.c, links bannin_sensor). */
int cmd_pcap(int argc, char **argv);

#endif
