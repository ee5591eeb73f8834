/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_time: clocks and timestamps.  Wall-clock microseconds for records,
 * monotonic microseconds for latencies and deadlines, RFC 3339 text with
 * microseconds in UTC for the wire.  Any thread.
 */
#ifndef CM_TIME_H
#define CM_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "common/cm_status.h"

#define CM_TIME_RFC3339_LEN 32

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t cm_now_us(void);
/* Microseconds on CLOCK_MONOTONIC: only differences mean anything. */
int64_t cm_mono_us(void);
/* Writes e.g. "2026-11-29T15:50:35.123456Z" into out (>= CM_TIME_RFC3339_LEN). */
void cm_time_fmt(int64_t us, char *out);
/* Parses RFC 3339 ("2026-11-29T15:50:35Z", fractions and +hh:mm offsets
 * allowed, or a date "2026-11-29" meaning midnight UTC). */
int cm_time_parse(const char *s, int64_t *us) CM_MUSTCHECK;
/* Parses a duration "250ms", "30s", "5m", "2h", "7d" (a bare number is
 * `unit_us` units) into microseconds. */
int cm_duration_parse(const char *s, int64_t unit_us, int64_t *us) CM_MUSTCHECK;

#endif /* CM_TIME_H */
