/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_uuid: UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits
 * from OpenSSL's CSPRNG.  Ids sort by creation time, which keeps the lineage
 * table's index append-mostly.  Within one process ids are strictly
 * increasing (a 12-bit sub-millisecond counter in rand_a, then the clock is
 * nudged forward).  Any thread.
 */
#ifndef CM_UUID_H
#define CM_UUID_H

#include <stdint.h>

#include "common/cm_status.h"

#define CM_UUID_STR_LEN 37 /* 36 characters and the NUL */

void cm_uuid7(uint8_t out[16]);
/* Writes the canonical lower-case 8-4-4-4-12 form. */
void cm_uuid_fmt(const uint8_t u[16], char out[CM_UUID_STR_LEN]);
int cm_uuid_parse(const char *s, uint8_t out[16]) CM_MUSTCHECK;
/* The 48-bit millisecond timestamp of a v7 id. */
int64_t cm_uuid7_ms(const uint8_t u[16]);

#endif /* CM_UUID_H */
