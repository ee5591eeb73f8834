/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_log: logfmt lines on stderr, one write(2) per line.  See cm_log.h.
 * Thread context: any thread; the level is read without a lock (a torn read
 * of an int cannot happen on the platforms we build for).
 */
#include "common/cm_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "steward";
static volatile int log_level = CM_LOG_INFO;

static const char *const level_names[] = {"err", "warn", "info", "debug"};

void
cm_log_init(const char *prog, enum cm_log_level level)
{
    log_prog = prog;
    log_level = (int)level;
}

void
cm_log_set_level(enum cm_log_level level)
{
    log_level = (int)level;
}

int
cm_log_enabled(enum cm_log_level level)
{
    return (int)level <= log_level;
}

int
cm_log_level_parse(const char *s, enum cm_log_level *out)
{
    for (size_t i = 0; i < CM_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum cm_log_level)i;
            return CM_OK;
        }
    }
    return CM_EINPUT;
}

static size_t
log_prefix(char *buf, size_t cap, enum cm_log_level level, const char *mod)
{
    struct timespec ts;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(buf, cap, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ lvl=%s prog=%s mod=%s msg=",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, level_names[level], log_prog, mod);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static void log_emit(enum cm_log_level level, const char *mod, const char *suffix, const char *fmt,
                     va_list ap) CM_PRINTF(4, 0);

static void
log_emit(enum cm_log_level level, const char *mod, const char *suffix, const char *fmt, va_list ap)
{
    char buf[2048];
    size_t len;
    int n, saved = errno;

    if (!cm_log_enabled(level))
        return;
    len = log_prefix(buf, sizeof(buf), level, mod);
    n = vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
    if (n > 0)
        len += (size_t)n < sizeof(buf) - len ? (size_t)n : sizeof(buf) - len - 1;
    if (suffix != NULL) {
        n = snprintf(buf + len, sizeof(buf) - len, "%s", suffix);
        if (n > 0)
            len += (size_t)n < sizeof(buf) - len ? (size_t)n : sizeof(buf) - len - 1;
    }
    /* A message is one line: fold any newline a caller let through. */
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    if (len >= sizeof(buf) - 1)
        len = sizeof(buf) - 2;
    buf[len++] = '\n';
    (void)!write(STDERR_FILENO, buf, len);
    errno = saved;
}

void
cm_log_vwrite(enum cm_log_level level, const char *mod, const char *fmt, va_list ap)
{
    log_emit(level, mod, NULL, fmt, ap);
}

void
cm_log_write(enum cm_log_level level, const char *mod, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(level, mod, NULL, fmt, ap);
    va_end(ap);
}

void
cm_log_errno(const char *mod, const char *fmt, ...)
{
    char suffix[160], q[140];
    va_list ap;

    snprintf(suffix, sizeof(suffix), " err=%s", cm_log_quote(strerror(errno), q, sizeof(q)));
    va_start(ap, fmt);
    log_emit(CM_LOG_ERR, mod, suffix, fmt, ap);
    va_end(ap);
}

void
cm_fatal(const char *mod, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(CM_LOG_ERR, mod, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

const char *
cm_log_quote(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    int need = (*s == '\0');

    for (const char *p = s; *p && !need; p++)
        need = (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20);
    if (outlen < 3) {
        if (outlen)
            out[0] = '\0';
        return out;
    }
    if (need)
        out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (o + 5 >= outlen)
            break;
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        } else {
            out[o++] = (char)*p;
        }
    }
    if (need)
        out[o++] = '"';
    out[o] = '\0';
    return out;
}
