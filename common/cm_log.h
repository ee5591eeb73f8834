/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_log: one line per event on stderr, in logfmt:
 *
 *   ts=2026-11-29T15:50:35.123Z lvl=info prog=steward mod=sidecar msg=listening addr=127.0.0.1:8080
 *
 * The formatted text follows `msg=`: by convention its first word is the event
 * name (no spaces) and the rest are key=value pairs; a value that may hold
 * spaces is quoted by the caller with "%s" through cm_log_quote().  Each line
 * is built in a stack buffer and written with one write(2), so lines from
 * different threads never interleave.  errno is preserved.
 *
 * Never log request or response bodies, header values outside an allowlist,
 * detected PII values or policy inputs: log record ids and hash prefixes.
 */
#ifndef CM_LOG_H
#define CM_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "common/cm_status.h"

enum cm_log_level {
    CM_LOG_ERR = 0,
    CM_LOG_WARN = 1,
    CM_LOG_INFO = 2,
    CM_LOG_DEBUG = 3,
};

/* Sets the program name shown as prog= (borrowed; must outlive the process
 * use of the logger) and the level.  Call once at start-up, before threads. */
void cm_log_init(const char *prog, enum cm_log_level level);
void cm_log_set_level(enum cm_log_level level);
/* Parses "err", "warn", "info", "debug".  Returns CM_OK or CM_EINPUT. */
int cm_log_level_parse(const char *s, enum cm_log_level *out) CM_MUSTCHECK;
int cm_log_enabled(enum cm_log_level level);

void cm_log_write(enum cm_log_level level, const char *mod, const char *fmt, ...) CM_PRINTF(3, 4);
void cm_log_vwrite(enum cm_log_level level, const char *mod, const char *fmt, va_list ap)
    CM_PRINTF(3, 0);

#define cm_log_err(mod, ...) cm_log_write(CM_LOG_ERR, (mod), __VA_ARGS__)
#define cm_log_warn(mod, ...) cm_log_write(CM_LOG_WARN, (mod), __VA_ARGS__)
#define cm_log_info(mod, ...) cm_log_write(CM_LOG_INFO, (mod), __VA_ARGS__)
#define cm_log_debug(mod, ...)                                                                     \
    do {                                                                                           \
        if (cm_log_enabled(CM_LOG_DEBUG))                                                          \
            cm_log_write(CM_LOG_DEBUG, (mod), __VA_ARGS__);                                        \
    } while (0)

/* Logs at error level, appending err=<strerror(errno)>. */
void cm_log_errno(const char *mod, const char *fmt, ...) CM_PRINTF(2, 3);
/* Logs at error level and exits with status 1. */
void cm_fatal(const char *mod, const char *fmt, ...) CM_PRINTF(2, 3) __attribute__((noreturn));

/* Writes s as a logfmt value into out (quoted and escaped when needed, cut to
 * outlen-1 bytes; control bytes become \xNN).  Returns out. */
const char *cm_log_quote(const char *s, char *out, size_t outlen);

#endif /* CM_LOG_H */
