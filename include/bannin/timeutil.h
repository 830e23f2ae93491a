/*
 * timeutil.h - timestamps without locale or timezone state: parsing the forms logs use and
 * formatting RFC 3339. All times are nanoseconds since the Unix epoch, UTC.
 */
#ifndef BANNIN_TIMEUTIL_H
#define BANNIN_TIMEUTIL_H

#include "bannin/common.h"

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.frac][Z|+hh:mm|-hhmm]", the same with a space instead of T,
 * "YYYY-MM-DD", and epoch seconds with a fraction ("1364481363.243"). A missing zone is UTC.
 * Returns 0 and *ns, or BN_EPARSE.
 */
int bn_time_parse(const char *s, size_t len, int64_t *ns);
/* Parses a decimal epoch count with an optional fraction in units of 1/per_sec seconds:
 * per_sec 1 for seconds ("1364481363.243"), 1000000 for microseconds (journald
 * __REALTIME_TIMESTAMP). per_sec must divide 1e9. Returns 0 and *ns, or BN_EPARSE. */
int bn_time_parse_epoch(const char *s, size_t len, int64_t per_sec, int64_t *ns);
/* Formats ns as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least 32 bytes). Returns buf. */
const char *bn_time_format(int64_t ns, char *buf, size_t size);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t bn_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
