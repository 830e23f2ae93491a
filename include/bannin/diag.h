/*
 * diag.h - diagnostics for parsers of rules, config, logs and API bodies: where (file,
 * line, column) and why, in words a person can act on (git strbuf err, YARA compiler errors).
 */
#ifndef BANNIN_DIAG_H
#define BANNIN_DIAG_H

#include "bannin/common.h"

#define BN_DIAG_MSG_MAX 512

struct bn_diag {
    char file[256];   /* file name or "<input>" */
    unsigned long line; /* 1-based; 0 = unknown */
    unsigned long col;  /* 1-based; 0 = unknown */
    int code;         /* BN_E* */
    char msg[BN_DIAG_MSG_MAX];
};

/* Clears d (NULL is allowed everywhere a diag is taken). */
void bn_diag_clear(struct bn_diag *d);
/* Fills d; returns code so callers can write `return bn_diag_set(...)`. */
int bn_diag_set(struct bn_diag *d, int code, const char *file, unsigned long line,
                unsigned long col, const char *fmt, ...) BN_PRINTF(6, 7);
/* Formats "file:line:col: msg" into buf. Returns buf. */
const char *bn_diag_format(const struct bn_diag *d, char *buf, size_t size);

#endif
