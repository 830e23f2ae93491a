/*
 * sigma_mod.c - the names of Sigma value modifiers and rule levels.
 *
 * The parser (sigma_parse.c) turns `field|mod|mod` keys into enum sigma_mod values with
 * sigma_mod_parse(); the compiler and the CLI print them back with sigma_mod_name(). Names
 * follow the modifiers appendix of the Sigma specification 2.1 plus the aliases pySigma
 * accepts (`wide` for utf16le, `ignorecase`/`multiline`/`dotall` for the re flags).
 */
#include <string.h>
#include <strings.h>

#include "bannin/sigma.h"

struct mod_name {
    const char *name;
    enum sigma_mod mod;
};

/* Canonical names first: sigma_mod_name() returns the first entry of each modifier. */
static const struct mod_name mod_names[] = {
    {"contains", SIGMA_MOD_CONTAINS},
    {"startswith", SIGMA_MOD_STARTSWITH},
    {"endswith", SIGMA_MOD_ENDSWITH},
    {"all", SIGMA_MOD_ALL},
    {"re", SIGMA_MOD_RE},
    {"i", SIGMA_MOD_RE_I},
    {"m", SIGMA_MOD_RE_M},
    {"s", SIGMA_MOD_RE_S},
    {"cidr", SIGMA_MOD_CIDR},
    {"base64", SIGMA_MOD_BASE64},
    {"base64offset", SIGMA_MOD_BASE64OFFSET},
    {"utf16le", SIGMA_MOD_UTF16LE},
    {"utf16be", SIGMA_MOD_UTF16BE},
    {"utf16", SIGMA_MOD_UTF16},
    {"windash", SIGMA_MOD_WINDASH},
    {"lt", SIGMA_MOD_LT},
    {"lte", SIGMA_MOD_LTE},
    {"gt", SIGMA_MOD_GT},
    {"gte", SIGMA_MOD_GTE},
    {"neq", SIGMA_MOD_NEQ},
    {"exists", SIGMA_MOD_EXISTS},
    {"fieldref", SIGMA_MOD_FIELDREF},
    {"cased", SIGMA_MOD_CASED},
    {"expand", SIGMA_MOD_EXPAND},
    {"minute", SIGMA_MOD_MINUTE},
    {"hour", SIGMA_MOD_HOUR},
    {"day", SIGMA_MOD_DAY},
    {"week", SIGMA_MOD_WEEK},
    {"month", SIGMA_MOD_MONTH},
    {"year", SIGMA_MOD_YEAR},
    /* aliases */
    {"wide", SIGMA_MOD_UTF16LE},
    {"ignorecase", SIGMA_MOD_RE_I},
    {"multiline", SIGMA_MOD_RE_M},
    {"dotall", SIGMA_MOD_RE_S},
};

int
sigma_mod_parse(const char *name, size_t len)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < BN_ARRAY_SIZE(mod_names); i++) {
        const char *n = mod_names[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return (int)mod_names[i].mod;
    }
    return -1;
}

const char *
sigma_mod_name(enum sigma_mod mod)
{
    for (size_t i = 0; i < BN_ARRAY_SIZE(mod_names); i++) {
        if (mod_names[i].mod == mod)
            return mod_names[i].name;
    }
    return "?";
}

static const char *const level_names[] = {
    [SIGMA_LEVEL_NONE] = "none",
    [SIGMA_LEVEL_INFORMATIONAL] = "informational",
    [SIGMA_LEVEL_LOW] = "low",
    [SIGMA_LEVEL_MEDIUM] = "medium",
    [SIGMA_LEVEL_HIGH] = "high",
    [SIGMA_LEVEL_CRITICAL] = "critical",
};

enum sigma_level
sigma_level_parse(const char *s)
{
    if (!s)
        return SIGMA_LEVEL_NONE;
    /* Level names are lower case in the specification; accept any case as pySigma does. */
    for (size_t i = SIGMA_LEVEL_INFORMATIONAL; i < BN_ARRAY_SIZE(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0)
            return (enum sigma_level)i;
    }
    return SIGMA_LEVEL_NONE;
}

const char *
sigma_level_name(enum sigma_level level)
{
    if ((size_t)level >= BN_ARRAY_SIZE(level_names))
        return "?";
    return level_names[level];
}
