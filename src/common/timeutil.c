/*
 * timeutil.c - locale-free timestamp parsing and formatting (UTC).
 */
#include <stdio.h>
#include <string.h>

#include "bannin/timeutil.h"
#include "bannin/error.h"

int64_t
bn_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

/* Reads exactly n digits at s[*i]. */
static bool
digits(const char *s, size_t len, size_t *i, int n, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[(*i)++] - '0');
    }
    *out = v;
    return true;
}

static int
parse_epoch(const char *s, size_t len, int64_t *ns)
{
    size_t i = 0;
    int64_t sec = 0;
    if (len == 0)
        return BN_EPARSE;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (sec > 100000000000LL)
            return BN_EPARSE;
        sec = sec * 10 + (s[i++] - '0');
    }
    if (i == 0)
        return BN_EPARSE;
    int64_t frac = 0, scale = 1000000000;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (s[i] - '0') * scale;
            }
            i++;
        }
    }
    if (i != len)
        return BN_EPARSE;
    *ns = sec * 1000000000LL + frac;
    return 0;
}

int
bn_time_parse(const char *s, size_t len, int64_t *ns)
{
    size_t i = 0;
    unsigned y, mo, d, h = 0, mi = 0, se = 0;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n'))
        len--;
    if (len >= 5 && s[4] != '-')
        return parse_epoch(s, len, ns);
    if (!digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || !digits(s, len, &i, 2, &mo) ||
        i >= len || s[i++] != '-' || !digits(s, len, &i, 2, &d))
        return BN_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return BN_EPARSE;
    int64_t frac = 0, offset = 0;
    if (i < len) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
            return BN_EPARSE;
        i++;
        if (!digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' ||
            !digits(s, len, &i, 2, &mi))
            return BN_EPARSE;
        if (i < len && s[i] == ':') {
            i++;
            if (!digits(s, len, &i, 2, &se))
                return BN_EPARSE;
        }
        if (h > 23 || mi > 59 || se > 60)
            return BN_EPARSE;
        if (i < len && (s[i] == '.' || s[i] == ',')) {
            int64_t scale = 1000000000;
            i++;
            size_t start = i;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (scale > 1) {
                    scale /= 10;
                    frac += (s[i] - '0') * scale;
                }
                i++;
            }
            if (i == start)
                return BN_EPARSE;
        }
        if (i < len && s[i] == ' ')
            i++;
        if (i < len) {
            if (s[i] == 'Z' || s[i] == 'z') {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int sign = s[i++] == '-' ? -1 : 1;
                unsigned oh, om = 0;
                if (!digits(s, len, &i, 2, &oh))
                    return BN_EPARSE;
                if (i < len && s[i] == ':')
                    i++;
                if (i < len && !digits(s, len, &i, 2, &om))
                    return BN_EPARSE;
                offset = sign * ((int64_t)oh * 3600 + om * 60);
            } else if (len - i == 3 && memcmp(s + i, "UTC", 3) == 0) {
                i += 3;
            }
        }
        if (i != len)
            return BN_EPARSE;
    }
    int64_t days = bn_days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset;
    *ns = secs * 1000000000LL + frac;
    return 0;
}

const char *
bn_time_format(int64_t ns, char *buf, size_t size)
{
    int64_t secs = ns / 1000000000LL, rem = ns % 1000000000LL;
    if (rem < 0) {
        rem += 1000000000LL;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y, m, d,
             (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
             (unsigned)(rem / 1000000));
    return buf;
}
