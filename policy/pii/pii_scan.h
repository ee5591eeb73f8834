/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_scan: the compact classifier's entry point.  Finds personal data in a
 * UTF-8 text and returns labelled byte spans; never copies or logs a value.
 *
 * The label set is fixed (DESIGN.md section 5); adding a label means: add it
 * here, to pol_pii_label_name(), to schema/ (the finding types), and to
 * docs/.  The first recognizers are EMAIL, PHONE, CREDIT_CARD (Luhn), US_SSN
 * (SSA area/group/serial rules) and IP_ADDRESS (v4 and v6); the learned model
 * for PERSON/LOCATION/ORGANIZATION and the other recognizers come later
 * behind this same interface.
 *
 * Pure: no I/O, no globals written; any thread.
 */
#ifndef POL_PII_SCAN_H
#define POL_PII_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cm_status.h"

enum pol_pii_label {
    POL_PII_PERSON,
    POL_PII_LOCATION,
    POL_PII_ORGANIZATION,
    POL_PII_EMAIL,
    POL_PII_PHONE,
    POL_PII_CREDIT_CARD,
    POL_PII_US_SSN,
    POL_PII_IBAN,
    POL_PII_IP_ADDRESS,
    POL_PII_URL,
    POL_PII_DATE,
    POL_PII_SECRET,
    POL_PII__COUNT
};

/* Label ids beyond the fixed twelve belong to custom recognizers of a
 * policy set (pol_policy.h): POL_PII__COUNT .. POL_LABEL_MAX-1, named by the
 * set.  Arrays indexed by label that may see them are sized POL_LABEL_MAX. */
#define POL_LABEL_MAX 64

#define POL_PII_MASK(l) (1u << (l))
#define POL_PII_ALL ((1u << POL_PII__COUNT) - 1)

/* "EMAIL", "US_SSN", ...; never NULL for a valid label. */
const char *pol_pii_label_name(enum pol_pii_label label);
/* Parses a label name (exact, upper case).  Returns CM_OK or CM_EINPUT. */
int pol_pii_label_parse(const char *s, size_t n, enum pol_pii_label *out) CM_MUSTCHECK;

/* A detected span: bytes [start, end) of the scanned text. */
struct pol_pii_span {
    size_t start;
    size_t end;
    enum pol_pii_label label;
    float score; /* 0..1 */
};

/* Growable span list, embedded by value; owns `v` (free with
 * pol_pii_spans_fini). */
struct pol_pii_spans {
    struct pol_pii_span *v;
    size_t n;
    size_t cap;
};

void pol_pii_spans_init(struct pol_pii_spans *s);
void pol_pii_spans_fini(struct pol_pii_spans *s);
void pol_pii_spans_reset(struct pol_pii_spans *s);

/* Scans text[0..len) for the labels in `labels` (a POL_PII_MASK set) and
 * appends the spans to out, sorted by start and non-overlapping (overlaps
 * are resolved by: higher score wins, then the longer span, then the lower
 * label number).  Text need not be NUL-terminated.  Invalid UTF-8 is scanned
 * as opaque bytes (a span never starts or ends inside a multi-byte
 * character).  Returns CM_OK. */
int pol_pii_scan(const char *text, size_t len, unsigned labels, struct pol_pii_spans *out)
    CM_MUSTCHECK;

/* Validators, exposed for tests and for other recognizers. */
bool pol_pii_luhn_ok(const char *digits, size_t n);
/* area-group-serial as digits only (9 digits). */
bool pol_pii_ssn_ok(const char *digits9);

#endif /* POL_PII_SCAN_H */
