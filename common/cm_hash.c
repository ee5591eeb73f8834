/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_hash: SHA-256 / HMAC-SHA256 on OpenSSL 3 one-shot APIs.  See cm_hash.h.
 */
#include "common/cm_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

void
cm_sha256(const void *data, size_t len, uint8_t out[CM_SHA256_LEN])
{
    unsigned int n = CM_SHA256_LEN;

    cm_assert(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1);
}

void
cm_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
               uint8_t out[CM_SHA256_LEN])
{
    unsigned int n = CM_SHA256_LEN;

    cm_assert(HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n) != NULL);
}

void
cm_hex(const uint8_t *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int
cm_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long
cm_unhex(const char *hex, size_t hexlen, uint8_t *out, size_t outcap)
{
    if (hexlen % 2 != 0 || hexlen / 2 > outcap)
        return -1;
    for (size_t i = 0; i < hexlen / 2; i++) {
        int hi = cm_hexval((unsigned char)hex[2 * i]),
            lo = cm_hexval((unsigned char)hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(hexlen / 2);
}

bool
cm_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
