/*
 * log.c - diagnostic log lines: "bannin: warn: [module] message" (plus file:line:func at
 * debug level). Thread-safe: one fprintf per line.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "bannin/log.h"

static atomic_int log_level = BN_LOG_WARN;
static FILE *log_stream;

void
bn_log_set_level(enum bn_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum bn_log_level
bn_log_get_level(void)
{
    return (enum bn_log_level)atomic_load(&log_level);
}

void
bn_log_set_stream(void *stdio_file)
{
    log_stream = stdio_file;
}

void
bn__log(enum bn_log_level level, const char *module, const char *file, const char *func,
        int line, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    FILE *out = log_stream ? log_stream : stderr;
    if (bn_log_get_level() >= BN_LOG_DEBUG)
        fprintf(out, "bannin: %s: [%s] %s (%s:%d %s)\n", names[level], module, msg, file, line,
                func);
    else
        fprintf(out, "bannin: %s: [%s] %s\n", names[level], module, msg);
}
