/*
 * timeutil.c - locale-free timestamp parsing and formatting (UTC).
 */
#include <stdio.h>
#include <string.h>

#include "bannin/timeutil.h"
#include "bannin/error.h"

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


int64_t
bn_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool
digits(const char *s, size_t len, size_t at, size_t n, int *v)
{
    if (at + n > len)
        return false;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[at + i];
        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (c - '0');
    }
    *v = x;
    return true;
}

static int
iso_parse(const char *s, size_t len, int64_t *ns)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac = 0;
    size_t i = 0;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (!digits(s, len, 0, 4, &y) || len < 10 || s[4] != '-' || !digits(s, len, 5, 2, &mo) ||
        s[7] != '-' || !digits(s, len, 8, 2, &d))
        return BN_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return BN_EPARSE;
    i = 10;
    int64_t zone = 0;
    if (i < len) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
            return BN_EPARSE;
        i++;
        if (!digits(s, len, i, 2, &h) || i + 2 >= len || s[i + 2] != ':' ||
            !digits(s, len, i + 3, 2, &mi))
            return BN_EPARSE;
        i += 5;
        if (i < len && s[i] == ':') {
            if (!digits(s, len, i + 1, 2, &sec))
                return BN_EPARSE;
            i += 3;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                i++;
                size_t nd = 0;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                    if (nd < 9) {
                        frac = frac * 10 + (s[i] - '0');
                        nd++;
                    }
                    i++;
                }
                if (nd == 0)
                    return BN_EPARSE;
                for (; nd < 9; nd++)
                    frac *= 10;
            }
        }
        if (h > 24 || mi > 59 || sec > 60)
            return BN_EPARSE;
        if (i < len && s[i] == ' ')
            i++;
        if (i < len) {
            if (s[i] == 'Z' || s[i] == 'z') {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int zh, zm = 0;
                int sign = s[i] == '-' ? -1 : 1;
                if (!digits(s, len, i + 1, 2, &zh))
                    return BN_EPARSE;
                i += 3;
                if (i < len && s[i] == ':')
                    i++;
                if (i < len) {
                    if (!digits(s, len, i, 2, &zm))
                        return BN_EPARSE;
                    i += 2;
                }
                if (zh > 23 || zm > 59)
                    return BN_EPARSE;
                zone = sign * (zh * 3600 + zm * 60);
            }
        }
        if (i != len)
            return BN_EPARSE;
    }
    int64_t days = bn_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - zone;
    /* int64 nanoseconds cover 1677..2262. */
    if (secs >= INT64_MAX / 1000000000 || secs <= INT64_MIN / 1000000000)
        return BN_EPARSE;
    *ns = secs * 1000000000 + frac;
    return 0;
}

int
bn_time_parse_epoch(const char *s, size_t len, int64_t per_sec, int64_t *ns)
{
    size_t i = 0;
    int64_t ip = 0, frac = 0;
    if (per_sec <= 0 || 1000000000 % per_sec)
        return BN_EPARSE;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return BN_EPARSE;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (ip > (INT64_MAX / 1000000000) * per_sec / 10)
            return BN_EPARSE;
        ip = ip * 10 + (s[i] - '0');
    }
    if (i == 0)
        return BN_EPARSE;
    if (i < len && s[i] == '.') {
        size_t nd = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (nd < 9) {
                frac = frac * 10 + (s[i] - '0');
                nd++;
            }
        }
        for (; nd < 9; nd++)
            frac *= 10;
    }
    if (i != len)
        return BN_EPARSE;
    int64_t unit = 1000000000 / per_sec;
    *ns = ip * unit + frac / per_sec;
    return 0;
}

int
bn_time_parse(const char *s, size_t len, int64_t *ns)
{
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
        len--;
    /* "YYYY-..." is a calendar date; anything else may be epoch seconds (Zeek's ts). */
    if (len >= 5 && s[4] == '-')
        return iso_parse(s, len, ns);
    return bn_time_parse_epoch(s, len, 1, ns);
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
