/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_uuid: UUIDv7 generation and text form.  See cm_uuid.h.
 */
#include "common/cm_uuid.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/cm_hash.h"
#include "common/cm_time.h"

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t uuid_last_ms;
static unsigned uuid_seq;

void
cm_uuid7(uint8_t out[16])
{
    int64_t ms = cm_now_us() / 1000;
    unsigned seq;

    cm_assert(RAND_bytes(out, 16) == 1);
    pthread_mutex_lock(&uuid_lock);
    if (ms <= uuid_last_ms) {
        ms = uuid_last_ms;
        if (++uuid_seq > 0xfff) {
            ms++;
            uuid_seq = 0;
        }
    } else {
        uuid_seq = 0;
    }
    uuid_last_ms = ms;
    seq = uuid_seq;
    pthread_mutex_unlock(&uuid_lock);

    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(ms >> (40 - 8 * i));
    out[6] = (uint8_t)(0x70 | ((seq >> 8) & 0x0f));
    out[7] = (uint8_t)(seq & 0xff);
    out[8] = (uint8_t)(0x80 | (out[8] & 0x3f));
}

void
cm_uuid_fmt(const uint8_t u[16], char out[CM_UUID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = '\0';
}

int
cm_uuid_parse(const char *s, uint8_t out[16])
{
    size_t i = 0;

    for (int b = 0; b < 16; b++) {
        int hi, lo;

        if (b == 4 || b == 6 || b == 8 || b == 10) {
            if (s[i++] != '-')
                return CM_EINPUT;
        }
        hi = cm_hexval((unsigned char)s[i]);
        lo = hi < 0 ? -1 : cm_hexval((unsigned char)s[i + 1]);
        if (lo < 0)
            return CM_EINPUT;
        out[b] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return s[i] == '\0' ? CM_OK : CM_EINPUT;
}

int64_t
cm_uuid7_ms(const uint8_t u[16])
{
    int64_t ms = 0;

    for (int i = 0; i < 6; i++)
        ms = ms << 8 | u[i];
    return ms;
}
