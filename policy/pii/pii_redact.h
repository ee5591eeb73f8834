/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_redact: redaction operators.  Given a text and its spans, writes the
 * text with each span replaced according to the operator chosen for its
 * label:
 *
 *   keep         the value stays
 *   mask         all but the last `mask_keep` characters become '*'
 *                (code points, not bytes: "4111 1111 1111 1111" ->
 *                "***************1111"); a value no longer than mask_keep
 *                is masked whole
 *   redact       "<LABEL>", e.g. "<EMAIL>"
 *   hash         "<LABEL:hex16>": the first 8 bytes of the keyed
 *                fingerprint (below) under hash_key.  One-way; an unkeyed
 *                hash of an e-mail address is reversible by dictionary, so
 *                a tenant key is expected
 *   pseudonymise "<LABEL_hex8>", e.g. "<PERSON_3f9a1c2b>": the first 4 bytes
 *                of the fingerprint under pseudonym_key.  The same value
 *                gets the same placeholder in every turn of a conversation
 *                without a stored vault; within one request a vault
 *                (struct pol_pii_vault) remembers placeholder -> original so
 *                that pol_pii_restore() can put the originals back into the
 *                model's answer.  Two different values of one request whose
 *                8 hex digits collide: the later one gets 16 hex digits
 *   encrypt      "<ENC:base64url>": deterministic authenticated encryption
 *                (AES-256-SIV, RFC 5297, through OpenSSL 3 EVP) of the
 *                value under enc_key, reversible with pol_pii_decrypt().
 *                The same value under the same key gives the same token
 *                (so it can be joined on), which is the point of SIV: it
 *                reveals equality of values and nothing else
 *
 * Normalisation (for hash, pseudonymise and pol_pii_fingerprint; the
 * replaced text itself is never changed) is the lineage fingerprints' one
 * rule (common/cm_fingerprint.h): EMAIL, URL, PERSON, LOCATION,
 * ORGANIZATION and IP_ADDRESS are ASCII-lower-cased with runs of white
 * space collapsed to one space and trimmed; PHONE, CREDIT_CARD, US_SSN
 * keep digits only; IBAN keeps letters and digits, upper-cased; DATE and
 * SECRET are taken as they are.  So "Jane.Doe@Example.com" and
 * "jane.doe@example.com", or "(415) 555-0132" and "415.555.0132", map to
 * the same token.
 *
 * A missing key fails closed: hash and pseudonymise use an empty HMAC key
 * (still deterministic, but guessable: configure a key), encrypt without a
 * key (or when OpenSSL fails) writes "<LABEL>" instead: a value is never
 * copied out because an operator could not run.
 *
 * UTF-8: bytes between spans are copied as they are (invalid sequences
 * included: this layer never rewrites what it does not replace); mask
 * counts each valid UTF-8 sequence as one character and each byte of an
 * invalid one as one character.
 *
 * Pure; any thread (a vault belongs to one request, one thread at a time).
 */
#ifndef POL_PII_REDACT_H
#define POL_PII_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "common/cm_status.h"
#include "policy/pii/pii_scan.h"

enum pol_pii_op {
    POL_PII_KEEP,
    POL_PII_OP_MASK,
    POL_PII_OP_REDACT,
    POL_PII_OP_HASH,
    POL_PII_OP_PSEUDONYMISE,
    POL_PII_OP_ENCRYPT,
};

/* Keys are borrowed: they must outlive every call that uses the options. */
struct pol_pii_redact_opts {
    unsigned mask_keep;      /* characters left visible by mask (default 4) */
    const uint8_t *hash_key; /* OP_HASH (tenant key) */
    size_t hash_key_len;
    const uint8_t *pseudonym_key; /* OP_PSEUDONYMISE; NULL: hash_key is used */
    size_t pseudonym_key_len;
    const uint8_t *enc_key; /* OP_ENCRYPT, at least 16 bytes; NULL: redact */
    size_t enc_key_len;
    /* Optional, indexed by label (POL_LABEL_MAX entries): the characters
     * mask leaves visible per label (NULL: mask_keep for all), and the name
     * of every label, which the custom labels of a policy set (ids
     * POL_PII__COUNT and up, names of 2-12 characters A-Z and '_') need
     * (NULL: the built-in names). */
    const uint8_t *mask_keep_by_label;
    const char *const *label_names;
};

/* Longest placeholder any operator but encrypt writes:
 * "<ORGANIZATION_" + 16 hex + ">". */
#define POL_PII_PLACEHOLDER_MAX 31

/* ------------------------------------------------------------ vault */

/* The per-request map placeholder -> original value filled by
 * pol_pii_redact_v() for pseudonymised spans and read by
 * pol_pii_restore().  Heap-backed; holds copies of personal data, so it is
 * wiped when freed and never logged.  One request, one thread at a time. */
struct pol_pii_vault;

/* Returns an owned, empty vault (free with pol_pii_vault_free). */
struct pol_pii_vault *pol_pii_vault_new(void);
/* Wipes and frees; NULL-safe. */
void pol_pii_vault_free(struct pol_pii_vault *vault);
/* Number of distinct placeholders recorded. */
size_t pol_pii_vault_count(const struct pol_pii_vault *vault);

/* ------------------------------------------------------------ operators */

/* Appends text[0..len) to out with every span whose label's op is not KEEP
 * replaced.  spans must be sorted and non-overlapping, as pol_pii_scan()
 * returns them.  Labels may reach POL_LABEL_MAX (custom labels of a policy
 * set): ops then has an entry for every label that occurs, and opts names
 * them (label_names).  Returns the number of spans replaced.  Borrows
 * everything. */
size_t pol_pii_redact(const char *text, size_t len, const struct pol_pii_span *spans, size_t nspans,
                      const enum pol_pii_op ops[POL_PII__COUNT],
                      const struct pol_pii_redact_opts *opts, struct cm_buf *out);

/* As pol_pii_redact(), and records each pseudonymised value in vault
 * (borrowed; NULL: not recorded, the answer cannot be restored). */
size_t pol_pii_redact_v(const char *text, size_t len, const struct pol_pii_span *spans,
                        size_t nspans, const enum pol_pii_op ops[POL_PII__COUNT],
                        const struct pol_pii_redact_opts *opts, struct pol_pii_vault *vault,
                        struct cm_buf *out);

/* Appends text[0..len) to out with every pseudonym placeholder recorded in
 * vault replaced by the original value it stands for (the spelling first
 * seen in this request).  Placeholders not in the vault (another request's,
 * or made up by the model) stay as they are.  Returns the number
 * restored. */
size_t pol_pii_restore(const struct pol_pii_vault *vault, const char *text, size_t len,
                       struct cm_buf *out);

/* Decrypts one "<ENC:...>" token (or its base64url body alone) written by
 * the encrypt operator under key and appends the plaintext to out.
 * Returns CM_OK, or CM_EINPUT when the token is malformed, was made under
 * another key or was altered (nothing is appended then). */
int pol_pii_decrypt(const uint8_t *key, size_t keylen, const char *token, size_t n,
                    struct cm_buf *out) CM_MUSTCHECK;

/* The keyed fingerprint of a value: HMAC-SHA256(key, label name, 0x00,
 * normalised value) (normalisation as above).  The same subject gives the
 * same fingerprint across requests and tenants' records under one key: the
 * lineage store can search by subject without holding the value. */
void pol_pii_fingerprint(enum pol_pii_label label, const char *value, size_t len,
                         const uint8_t *key, size_t keylen, uint8_t out[CM_SHA256_LEN]);

/* Appends the normalised form of a value (as above) to out. */
void pol_pii_normalise(enum pol_pii_label label, const char *value, size_t len, struct cm_buf *out);

/* ------------------------------------------------------------ UTF-8 */

/* Length of the character at s[0..n) (n > 0): 2-4 for a valid multi-byte
 * UTF-8 sequence (no overlong forms, no surrogates, at most U+10FFFF), 1
 * for ASCII and for any byte that does not start a valid sequence. */
size_t pol_pii_utf8_next(const char *s, size_t n);
/* Number of characters in s[0..n) counted with pol_pii_utf8_next(). */
size_t pol_pii_utf8_count(const char *s, size_t n);

#endif /* POL_PII_REDACT_H */
