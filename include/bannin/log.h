/*
 * log.h - diagnostic logging for humans (never for alerts or telemetry, which are data).
 *
 * Messages are lower-case, problem first, subject quoted: "cannot open '%s'". Each line
 * carries a module tag, and at debug level the file, function and line. Never log a secret.
 */
#ifndef BANNIN_LOG_H
#define BANNIN_LOG_H

#include "bannin/common.h"

enum bn_log_level {
    BN_LOG_ERROR = 0,
    BN_LOG_WARN = 1,
    BN_LOG_INFO = 2,
    BN_LOG_DEBUG = 3,
};

/* Sets the most verbose level that is printed (default BN_LOG_WARN). */
void bn_log_set_level(enum bn_log_level level);
enum bn_log_level bn_log_get_level(void);
/* Redirects output (default stderr); the stream is borrowed. */
void bn_log_set_stream(void *stdio_file);

void bn__log(enum bn_log_level level, const char *module, const char *file, const char *func,
             int line, const char *fmt, ...) BN_PRINTF(6, 7);

#define BN_LOG(level, module, ...)                                                              \
    do {                                                                                        \
        if ((level) <= bn_log_get_level())                                                      \
            bn__log((level), (module), __FILE__, __func__, __LINE__, __VA_ARGS__);              \
    } while (0)
#define BN_ERROR(module, ...) BN_LOG(BN_LOG_ERROR, module, __VA_ARGS__)
#define BN_WARN(module, ...) BN_LOG(BN_LOG_WARN, module, __VA_ARGS__)
#define BN_INFO(module, ...) BN_LOG(BN_LOG_INFO, module, __VA_ARGS__)
#define BN_DEBUG(module, ...) BN_LOG(BN_LOG_DEBUG, module, __VA_ARGS__)

#endif
