/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_hash: SHA-256 and HMAC-SHA256 through OpenSSL EVP, hex encoding and a
 * constant-time comparison.  This is the only file that calls EVP for
 * hashing (STYLE.md B2: wrap each library in one place).  Any thread.
 *
 * Keyed hashing is the rule for anything derived from personal data: an
 * unkeyed hash of an e-mail address is reversible by dictionary.
 */
#ifndef CM_HASH_H
#define CM_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cm_status.h"

#define CM_SHA256_LEN 32
#define CM_SHA256_HEX_LEN 65

void cm_sha256(const void *data, size_t len, uint8_t out[CM_SHA256_LEN]);
void cm_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                    uint8_t out[CM_SHA256_LEN]);
/* Writes 2*len lower-case hex digits and a NUL into out. */
void cm_hex(const uint8_t *in, size_t len, char *out);
/* The value of one hex digit, or -1. */
int cm_hexval(int c);
/* Decodes hex text into out (at most outcap bytes); returns the byte count
 * or -1 when the text is not even-length hex or does not fit. */
long cm_unhex(const char *hex, size_t hexlen, uint8_t *out, size_t outcap);
/* Compares in time independent of where a and b differ. */
bool cm_ct_equal(const void *a, const void *b, size_t len);

#endif /* CM_HASH_H */
