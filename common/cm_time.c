/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_time: clocks, RFC 3339 formatting and parsing, durations.
 */
#include "common/cm_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t
cm_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
cm_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
cm_time_fmt(int64_t us, char *out)
{
    time_t sec = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    struct tm tm;
    char tmp[96];

    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    gmtime_r(&sec, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    memcpy(out, tmp, 27);
    out[27] = '\0';
}

static int
digits(const char **s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9')
            return CM_EINPUT;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return CM_OK;
}

int
cm_time_parse(const char *s, int64_t *us)
{
    int y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0, sign = 0;
    long frac = 0;
    struct tm tm;
    time_t t;

    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
        return CM_EINPUT;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
            digits(&s, 2, &se))
            return CM_EINPUT;
        if (*s == '.') {
            long scale = 100000;

            s++;
            if (*s < '0' || *s > '9')
                return CM_EINPUT;
            for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
                frac += scale * (*s - '0');
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            sign = *s++ == '-' ? -1 : 1;
            if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om))
                return CM_EINPUT;
        } else {
            return CM_EINPUT;
        }
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return CM_EINPUT;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    t = timegm(&tm);
    *us = ((int64_t)t - (int64_t)sign * (oh * 3600 + om * 60)) * 1000000 + frac;
    return CM_OK;
}

int
cm_duration_parse(const char *s, int64_t unit_us, int64_t *us)
{
    static const struct {
        const char *suffix;
        int64_t us;
    } units[] = {{"us", 1},         {"ms", 1000},        {"s", 1000000},
                 {"m", 60000000LL}, {"h", 3600000000LL}, {"d", 86400000000LL}};
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || errno != 0 || v < 0)
        return CM_EINPUT;
    if (*end == '\0') {
        if (unit_us > 0 && v > INT64_MAX / unit_us)
            return CM_EINPUT;
        *us = v * unit_us;
        return CM_OK;
    }
    for (size_t i = 0; i < CM_ARRAY_LEN(units); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > INT64_MAX / units[i].us)
                return CM_EINPUT;
            *us = v * units[i].us;
            return CM_OK;
        }
    }
    return CM_EINPUT;
}
