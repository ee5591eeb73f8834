/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_fingerprint: keyed fingerprints of personal-data values, for subject
 * search ("every record whose traffic contained jane@example.com") without
 * storing the value.  A fingerprint is
 *
 *     hex(HMAC-SHA256(key, normalise(type, value)))
 *
 * where normalise() depends on the entity type: PHONE, CREDIT_CARD and
 * US_SSN keep their ASCII digits only; IBAN keeps letters and digits,
 * letters upper-cased; DATE and SECRET are taken as they are; every other
 * type (EMAIL, URL, PERSON, LOCATION, ORGANIZATION, IP_ADDRESS, custom
 * recognizers' types) is ASCII lower-cased with runs of ASCII white space
 * collapsed to one space and trimmed.  So "Jane.Doe@Example.com " and
 * "jane.doe@example.com" have one fingerprint, as have "415-555-0132" and
 * "(415) 555 0132", and "Jane  DOE" and "jane doe".
 *
 * This is also the normalisation of the policy's keyed operators (hash,
 * pseudonymise: pol_pii_normalise calls cm_fp_normalise), under their own
 * per-tenant keys: the two keys are separate on purpose (what the model
 * sees must not be joinable with what auditors hold), the rule is one.
 *
 * The sidecar (fingerprints of detected values, in lineage records) and
 * steward-audit subject (the fingerprint of the value searched for) both call
 * cm_fp_compute(): there is exactly one normalisation.  Changing it makes old
 * fingerprints unsearchable, so it is versioned with the key id's label.
 *
 * The key is a file of at least CM_FP_KEY_MIN bytes (a trailing newline is
 * not part of it) that must not be readable by group or others.  Its id
 * (16 hex digits of an HMAC of a fixed label under the key) is stamped on
 * records so a search can tell records fingerprinted under another key; the
 * id reveals nothing about the key.  Without a key there are no fingerprints.
 *
 * Pure except cm_fp_key_load (reads a file).  Any thread.  Never log a value
 * or a normalised value.
 */
#ifndef CM_FINGERPRINT_H
#define CM_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/cm_status.h"

#define CM_FP_HEX_LEN 65    /* 64 hex digits and the NUL */
#define CM_FP_KEY_MIN 16    /* bytes */
#define CM_FP_KEY_MAX 1024  /* bytes */
#define CM_FP_KEY_ID_LEN 17 /* 16 hex digits and the NUL */

/* Embedded by value; holds secret bytes: clear with cm_fp_key_clear(). */
struct cm_fp_key {
    uint8_t bytes[CM_FP_KEY_MAX];
    size_t len;
    char id[CM_FP_KEY_ID_LEN];
};

enum cm_fp_norm {
    CM_FP_NORM_ASIS,   /* unchanged */
    CM_FP_NORM_TEXT,   /* ASCII lower case, white-space runs -> one space, trimmed */
    CM_FP_NORM_DIGITS, /* ASCII digits only */
    CM_FP_NORM_ALNUM,  /* ASCII letters (upper-cased) and digits only */
};

/* The normalisation of an entity type name ("EMAIL", "US_SSN", ...);
 * CM_FP_NORM_TEXT for NULL and names not listed (custom types). */
enum cm_fp_norm cm_fp_norm_of(const char *type);

/* Writes the normalised value into out, which must hold len bytes (the
 * normalised form is never longer); returns its length.  No NUL added. */
size_t cm_fp_normalise(enum cm_fp_norm norm, const char *value, size_t len, char *out);

/* The fingerprint of value[0..len) as an entity of `type`: 64 lower-case hex
 * digits and a NUL in out. */
void cm_fp_compute(const struct cm_fp_key *key, const char *type, const char *value, size_t len,
                   char out[CM_FP_HEX_LEN]);

/* Sets the key from bytes (tests, tools) and computes its id.  Returns CM_OK
 * or CM_EINPUT (shorter than CM_FP_KEY_MIN or longer than CM_FP_KEY_MAX). */
int cm_fp_key_set(struct cm_fp_key *key, const void *bytes, size_t len,
                  struct cm_err *err) CM_MUSTCHECK;

/* Reads the key file at path: a regular file owned by the effective user or
 * root, not readable or writable by group or others (else CM_EINPUT naming
 * the mode), of CM_FP_KEY_MIN..CM_FP_KEY_MAX bytes after one trailing "\n"
 * or "\r\n" is removed.  Returns CM_OK, CM_EIO or CM_EINPUT; err never
 * quotes the file's content. */
int cm_fp_key_load(const char *path, struct cm_fp_key *key, struct cm_err *err) CM_MUSTCHECK;

/* Overwrites the key bytes (explicit_bzero). */
void cm_fp_key_clear(struct cm_fp_key *key);

#endif /* CM_FINGERPRINT_H */
