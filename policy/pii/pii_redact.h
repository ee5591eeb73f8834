/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_redact: redaction operators.  Given a text and its spans, writes the
 * text with each span replaced according to the operator chosen for its
 * label:
 *
 *   keep    the value stays
 *   mask    all but the last `mask_keep` characters become '*'
 *           (code points, not bytes: "4111 1111 1111 1111" -> "***************1111")
 *   redact  the value becomes "<LABEL>", e.g. "<EMAIL>"
 *   hash    "<LABEL:hex16>", HMAC-SHA256 of the value under the tenant key
 *           (an unkeyed hash of an e-mail address is reversible by dictionary)
 *
 * (pseudonymise and encrypt arrive with the policy language issue.)
 * Pure; any thread.
 */
#ifndef POL_PII_REDACT_H
#define POL_PII_REDACT_H

#include <stddef.h>
#include <stdint.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"
#include "policy/pii/pii_scan.h"

enum pol_pii_op {
    POL_PII_KEEP,
    POL_PII_OP_MASK,
    POL_PII_OP_REDACT,
    POL_PII_OP_HASH,
    POL_PII_OP_PSEUDONYMISE, /* keyed placeholder, restorable within a request (issue 3) */
    POL_PII_OP_ENCRYPT,      /* deterministic authenticated encryption (issue 3) */
};

struct pol_pii_redact_opts {
    unsigned mask_keep;      /* characters left visible by mask (default 4) */
    const uint8_t *hash_key; /* borrowed; key for OP_HASH */
    size_t hash_key_len;
    /* Optional, borrowed, indexed by label (POL_LABEL_MAX entries): the
     * characters mask leaves visible per label (NULL: mask_keep for all),
     * and the name of every label, which custom labels >= POL_PII__COUNT
     * need (NULL: the built-in names). */
    const uint8_t *mask_keep_by_label;
    const char *const *label_names;
};

/* Appends text[0..len) to out with every span whose label's op is not KEEP
 * replaced.  spans must be sorted and non-overlapping, as pol_pii_scan()
 * returns them.  Labels may reach POL_LABEL_MAX (custom labels of a policy
 * set): ops then has an entry for every label that occurs, and opts names
 * them (label_names).  Returns the number of spans replaced. */
size_t pol_pii_redact(const char *text, size_t len, const struct pol_pii_span *spans, size_t nspans,
                      const enum pol_pii_op ops[POL_PII__COUNT],
                      const struct pol_pii_redact_opts *opts, struct cm_buf *out);

#endif /* POL_PII_REDACT_H */
