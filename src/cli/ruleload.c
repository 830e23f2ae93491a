/*
 * ruleload.c - loads rule files for the CLI: parse, filter, compile, and keep every
 * diagnostic so commands can report what did not load and why.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

double
cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
add_issue(struct cli_rules *r, const struct bn_diag *d, const struct sigma_rule *rule)
{
    if (d->code == BN_EUNSUP)
        r->unsupported++;
    else
        r->errors++;
    if (r->nissues == r->issues_cap) {
        size_t cap = r->issues_cap ? r->issues_cap * 2 : 64;
        struct cli_rule_issue *n = bn_reallocarray(r->issues, cap, sizeof(*n));
        if (!n)
            return; /* counted above; the detail is lost only under memory exhaustion */
        r->issues = n;
        r->issues_cap = cap;
    }
    struct cli_rule_issue *is = &r->issues[r->nissues++];
    memset(is, 0, sizeof(*is));
    is->diag = *d;
    if (rule) {
        snprintf(is->title, sizeof(is->title), "%s", rule->title ? rule->title : "");
        snprintf(is->id, sizeof(is->id), "%s", rule->id ? rule->id : "");
        if (!d->file[0] && rule->file)
            snprintf(is->diag.file, sizeof(is->diag.file), "%s", rule->file);
        if (!d->line)
            is->diag.line = rule->line;
    }
}

static void
on_parse_diag(void *ctx, const struct bn_diag *d)
{
    add_issue(ctx, d, NULL);
}

static void
on_compile_diag(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    add_issue(ctx, d, rule);
}

static bool
glob_hit(const char *pat, const char *s)
{
    return s && fnmatch(pat, s, FNM_CASEFOLD) == 0;
}

/* True if any of id, title, file path or a tag matches pat. */
static bool
rule_matches(const struct sigma_rule *r, const char *pat)
{
    if (glob_hit(pat, r->id) || glob_hit(pat, r->title) || glob_hit(pat, r->name) ||
        glob_hit(pat, r->file))
        return true;
    for (uint32_t i = 0; i < r->ntags; i++)
        if (glob_hit(pat, r->tags[i]))
            return true;
    return false;
}

static bool
keep_rule(const struct sigma_rule *r, const struct cli_rule_filter *f)
{
    if (!f)
        return true;
    if (f->ninclude) {
        bool any = false;
        for (size_t i = 0; i < f->ninclude && !any; i++)
            any = rule_matches(r, f->include[i]);
        /* Correlation and filter rules follow the rules they name, so keep them. */
        if (!any && r->kind == SIGMA_KIND_DETECTION)
            return false;
    }
    for (size_t i = 0; i < f->nexclude; i++)
        if (rule_matches(r, f->exclude[i]))
            return false;
    return true;
}

int
cli_rules_load(const char *const *paths, size_t npaths, const struct cli_rule_filter *filter,
               const struct bn_compile_opts *opts, struct cli_rules *out)
{
    memset(out, 0, sizeof(*out));
    double t0 = cli_now();
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    int rc = sigma_parse_paths(paths, npaths, &rules, &n, on_parse_diag, out);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            sigma_rule_free(rules[i]);
        bn_free(rules);
        return rc;
    }
    out->parsed = n;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep_rule(rules[i], filter))
            rules[kept++] = rules[i];
        else {
            sigma_rule_free(rules[i]);
            out->excluded++;
        }
    }
    rc = bn_ruleset_compile(&out->rs, rules, kept, opts, on_compile_diag, out);
    bn_free(rules);
    if (rc)
        return rc;
    out->compiled = bn_ruleset_count(out->rs);
    out->load_seconds = cli_now() - t0;
    return 0;
}

void
cli_rules_release(struct cli_rules *r)
{
    bn_ruleset_free(r->rs);
    bn_free(r->issues);
    memset(r, 0, sizeof(*r));
}

const char *
cli_level_color(enum sigma_level level, bool color)
{
    if (!color)
        return "";
    switch (level) {
    case SIGMA_LEVEL_CRITICAL: return "\033[1;35m";
    case SIGMA_LEVEL_HIGH: return "\033[1;31m";
    case SIGMA_LEVEL_MEDIUM: return "\033[33m";
    case SIGMA_LEVEL_LOW: return "\033[32m";
    default: return "\033[2m";
    }
}

const char *
cli_fmt_count(uint64_t n, char *buf, size_t size)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < len && o + 1 < size; i++) {
        if (i && (len - i) % 3 == 0 && o + 2 < size)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *
cli_fmt_bytes(uint64_t n, char *buf, size_t size)
{
    const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}
