/*
 * triage.c - the pure decisions of triage (see triage.h): ATT&CK tags and tactics, alert
 * scores, incident severity with tactic progression, suppression matching. The store-backed
 * flow (dedupe, grouping, notify) is in triage_store.c.
 */
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "manager/triage.h"

/* ---- tactics, levels, scores ------------------------------------------------------------- */

static const char *const tactic_names[TRIAGE_T__COUNT] = {
    "reconnaissance",     "resource_development", "initial_access",   "execution",
    "persistence",        "privilege_escalation", "defense_evasion",  "credential_access",
    "discovery",          "lateral_movement",     "collection",       "command_and_control",
    "exfiltration",       "impact",
};

const char *
triage_tactic_name(int t)
{
    return (t >= 0 && t < TRIAGE_T__COUNT) ? tactic_names[t] : NULL;
}

int
triage_tactic_parse(const char *s, size_t len)
{
    if (len > 7 && strncasecmp(s, "attack.", 7) == 0) {
        s += 7;
        len -= 7;
    }
    char buf[32];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '-' || c == ' ')
            c = '_';
        buf[i] = c;
    }
    buf[len] = '\0';
    for (int t = 0; t < TRIAGE_T__COUNT; t++)
        if (strcmp(buf, tactic_names[t]) == 0)
            return t;
    return -1;
}

/* Appends item to a comma-separated list in out (cut to fit, NUL-terminated). */
static void
list_add(char *out, size_t size, const char *item, size_t len)
{
    if (size == 0)
        return;
    size_t used = strnlen(out, size);
    if (used + (used ? 1 : 0) + len + 1 > size)
        return;
    if (used)
        out[used++] = ',';
    memcpy(out + used, item, len);
    out[used + len] = '\0';
}

uint32_t
triage_tags_parse(const char *tags, char *tactics, size_t tactics_size, char *techniques,
                  size_t techniques_size)
{
    uint32_t mask = 0;
    if (tactics && tactics_size)
        tactics[0] = '\0';
    if (techniques && techniques_size)
        techniques[0] = '\0';
    if (!tags)
        return 0;
    const char *p = tags;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *b = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t' && *p != ';')
            p++;
        size_t len = (size_t)(p - b);
        if (len == 0)
            continue;
        int t = triage_tactic_parse(b, len);
        if (t >= 0) {
            mask |= 1u << t;
            continue;
        }
        /* attack.t1059.004 -> T1059.004 */
        if (len > 8 && strncasecmp(b, "attack.t", 8) == 0 && b[8] >= '0' && b[8] <= '9' &&
            techniques && len - 7 < 32) {
            char tech[32];
            size_t tl = len - 7;
            memcpy(tech, b + 7, tl);
            tech[0] = 'T';
            list_add(techniques, techniques_size, tech, tl);
        }
    }
    if (tactics)
        triage_tactics_format(mask, tactics, tactics_size);
    return mask;
}

uint32_t
triage_tactics_mask(const char *tactics)
{
    return triage_tags_parse(tactics, NULL, 0, NULL, 0);
}

void
triage_tactics_format(uint32_t mask, char *out, size_t size)
{
    if (!out || size == 0)
        return;
    out[0] = '\0';
    for (int t = 0; t < TRIAGE_T__COUNT; t++)
        if (mask & (1u << t))
            list_add(out, size, tactic_names[t], strlen(tactic_names[t]));
}

static const char *const level_names[] = {"informational", "low", "medium", "high", "critical"};

int
triage_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "info") == 0)
        return 0;
    return -1;
}

const char *
triage_level_name(int level)
{
    return (level >= 0 && level < 5) ? level_names[level] : "unknown";
}

/* How much a tactic says about harm already done or imminent. */
static int
tactic_weight(uint32_t mask)
{
    static const int w[TRIAGE_T__COUNT] = {
        [TRIAGE_T_PERSISTENCE] = 5,        [TRIAGE_T_PRIVILEGE_ESCALATION] = 6,
        [TRIAGE_T_DEFENSE_EVASION] = 5,    [TRIAGE_T_CREDENTIAL_ACCESS] = 8,
        [TRIAGE_T_LATERAL_MOVEMENT] = 8,   [TRIAGE_T_COLLECTION] = 4,
        [TRIAGE_T_COMMAND_AND_CONTROL] = 8, [TRIAGE_T_EXFILTRATION] = 10,
        [TRIAGE_T_IMPACT] = 10,            [TRIAGE_T_EXECUTION] = 2,
        [TRIAGE_T_INITIAL_ACCESS] = 4,
    };
    int best = 0;
    for (int t = 0; t < TRIAGE_T__COUNT; t++)
        if ((mask & (1u << t)) && w[t] > best)
            best = w[t];
    return best;
}

int
triage_score(int level, int confidence, int criticality, uint32_t tactics)
{
    static const int base[5] = {10, 25, 45, 70, 90};
    static const int crit_bonus[4] = {0, 4, 8, 15};
    if (level < 0)
        level = 0;
    if (level > 4)
        level = 4;
    if (confidence <= 0 || confidence > 100)
        confidence = confidence <= 0 ? 50 : 100;
    if (criticality < 0)
        criticality = 0;
    if (criticality > 3)
        criticality = 3;
    int s = base[level] * (50 + confidence / 2) / 100 + crit_bonus[criticality] +
            tactic_weight(tactics);
    return s < 0 ? 0 : s > 100 ? 100 : s;
}

int
triage_severity(int max_level, uint32_t tactics, int criticality)
{
    const uint32_t early = (1u << TRIAGE_T_INITIAL_ACCESS) | (1u << TRIAGE_T_EXECUTION) |
                           (1u << TRIAGE_T_PERSISTENCE) | (1u << TRIAGE_T_PRIVILEGE_ESCALATION);
    const uint32_t late = (1u << TRIAGE_T_CREDENTIAL_ACCESS) | (1u << TRIAGE_T_LATERAL_MOVEMENT) |
                          (1u << TRIAGE_T_COLLECTION) | (1u << TRIAGE_T_COMMAND_AND_CONTROL) |
                          (1u << TRIAGE_T_EXFILTRATION) | (1u << TRIAGE_T_IMPACT);
    int sev = max_level < 0 ? 0 : max_level > 4 ? 4 : max_level;
    if (__builtin_popcount(tactics) >= 3)
        sev++;
    if ((tactics & early) && (tactics & late))
        sev++;
    if (criticality >= 3 && sev >= 2)
        sev++;
    return sev > 4 ? 4 : sev;
}

/* ---- suppressions ------------------------------------------------------------------------ */

static bool
name_is(const struct triage_field *f, const char *name, size_t nlen, const char *prefix)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    if (f->name_len != pl + nlen)
        return false;
    if (pl && memcmp(f->name, prefix, pl) != 0)
        return false;
    return memcmp(f->name + pl, name, nlen) == 0;
}

static bool
value_matches(const char *want, const struct triage_field *f)
{
    size_t wl = strlen(want);
    if (strpbrk(want, "*?")) {
        char buf[1024];
        if (f->value_len >= sizeof(buf))
            return false;
        memcpy(buf, f->value, f->value_len);
        buf[f->value_len] = '\0';
        return fnmatch(want, buf, 0) == 0;
    }
    return wl == f->value_len && memcmp(want, f->value, wl) == 0;
}

bool
triage_suppression_matches(const struct store_suppression *s, int64_t tenant_id,
                           const char *host, const char *rule_id,
                           const struct triage_field *fields, size_t nfields, int64_t now_ns)
{
    if (!s || s->tenant_id != tenant_id)
        return false;
    if (s->expires_ns && s->expires_ns <= now_ns)
        return false;
    if (s->host[0] && (!host || strcasecmp(s->host, host) != 0))
        return false;
    if (s->rule_id[0] && (!rule_id || strcmp(s->rule_id, rule_id) != 0))
        return false;
    if (!s->fields_json || !s->fields_json[0])
        return true;
    json_t *o = json_loads(s->fields_json, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return false;
    }
    bool ok = true;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char num[64];
        const char *want = json_string_value(v);
        if (!want && json_is_integer(v)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            want = num;
        }
        if (!want) {
            ok = false;
            break;
        }
        size_t kl = strlen(k);
        bool found = false;
        for (size_t i = 0; i < nfields && !found; i++) {
            const struct triage_field *f = &fields[i];
            if ((name_is(f, k, kl, NULL) || name_is(f, k, kl, "trigger.") ||
                 name_is(f, k, kl, "event.")) &&
                value_matches(want, f))
                found = true;
        }
        if (!found) {
            ok = false;
            break;
        }
    }
    json_decref(o);
    return ok;
}

