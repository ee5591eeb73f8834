/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_sign: Ed25519 keys for signed chain checkpoints, through OpenSSL 3's
 * EVP_PKEY (the one place in steward that calls EVP_PKEY and PEM).  The
 * sidecar signs with a private key read from a file; auditors verify with
 * the public key (`steward-audit keygen` writes both; docs/lineage.md has
 * the equivalent openssl commands).
 *
 * A private key file is refused unless it is owned by the current user (or
 * root) and neither group nor others may read or write it (DESIGN.md B7).
 * A key id is the first 8 bytes of SHA-256 over the 32-byte raw public key,
 * in hex: checkpoints carry it so a verifier holding several public keys
 * (rotation) picks the right one.
 *
 * Keys are immutable after loading; signing and verifying are safe from any
 * thread.
 */
#ifndef AUD_SIGN_H
#define AUD_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cm_status.h"

#define AUD_SIG_LEN 64
#define AUD_KEY_ID_LEN 17 /* 16 hex + NUL */

struct aud_key;

/* Loads an Ed25519 private key (PEM, PKCS#8).  Returns CM_OK with an owned
 * key in *out (free with aud_key_free), CM_EIO (unreadable) or CM_EINPUT
 * (not an Ed25519 private key, or readable by group/others, or owned by
 * someone else: err says which). */
int aud_key_load_private(const char *path, struct aud_key **out, struct cm_err *err) CM_MUSTCHECK;
/* Loads an Ed25519 public key (PEM, SubjectPublicKeyInfo).  Errors as
 * above, without the permission rule. */
int aud_key_load_public(const char *path, struct aud_key **out, struct cm_err *err) CM_MUSTCHECK;
/* Generates a key pair: the private key into path (created with mode 0600;
 * an existing file is an error) and the public key into path.pub (0644).
 * Returns CM_OK with the key id in id, or CM_EIO. */
int aud_key_generate(const char *path, char id[AUD_KEY_ID_LEN], struct cm_err *err) CM_MUSTCHECK;
/* The key's id (borrowed, NUL-terminated). */
const char *aud_key_id(const struct aud_key *key);
bool aud_key_has_private(const struct aud_key *key);
/* Signs msg with a private key.  Returns CM_OK or CM_EINTERNAL. */
int aud_key_sign(const struct aud_key *key, const void *msg, size_t len, uint8_t sig[AUD_SIG_LEN],
                 struct cm_err *err) CM_MUSTCHECK;
/* True when sig is key's signature over msg. */
bool aud_key_verify(const struct aud_key *key, const void *msg, size_t len, const uint8_t *sig,
                    size_t siglen);
void aud_key_free(struct aud_key *key); /* NULL-safe */

#endif /* AUD_SIGN_H */
