/*
 * diag.c - parser diagnostics: where and why.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bannin/diag.h"

void
bn_diag_clear(struct bn_diag *d)
{
    if (d)
        memset(d, 0, sizeof(*d));
}

int
bn_diag_set(struct bn_diag *d, int code, const char *file, unsigned long line, unsigned long col,
            const char *fmt, ...)
{
    if (!d)
        return code;
    d->code = code;
    snprintf(d->file, sizeof(d->file), "%s", file ? file : "<input>");
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
    return code;
}

const char *
bn_diag_format(const struct bn_diag *d, char *buf, size_t size)
{
    if (d->line && d->col)
        snprintf(buf, size, "%s:%lu:%lu: %s", d->file, d->line, d->col, d->msg);
    else if (d->line)
        snprintf(buf, size, "%s:%lu: %s", d->file, d->line, d->msg);
    else
        snprintf(buf, size, "%s: %s", d->file, d->msg);
    return buf;
}
