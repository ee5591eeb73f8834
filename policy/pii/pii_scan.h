/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_scan: the compact classifier's entry point.  Finds personal data in a
 * UTF-8 text and returns labelled byte spans; never copies or logs a value.
 *
 * The label set is fixed (DESIGN.md section 5); adding a label means: add it
 * here, to pol_pii_label_name(), to schema/ (the finding types), and to
 * docs/.  The recognizers here find EMAIL, PHONE, CREDIT_CARD (issuer and
 * Luhn), US_SSN (SSA area/group/serial rules), IBAN (registry length and
 * mod-97), IP_ADDRESS (v4 and v6), URL, DATE and SECRET (token formats,
 * JWTs, PEM private keys, credential assignments); the learned model for
 * PERSON/LOCATION/ORGANIZATION is pii_model.h, and pol_pii_detect()
 * (pii_detect.h) merges both.  Each recognizer's shapes, validators and
 * scores are described at the top of pii_scan.c, pii_rec_num.c and
 * pii_rec_text.c.
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
 * appends the spans to out, sorted by start and non-overlapping.
 *
 * The overlap rule: every recognizer proposes candidates; they are taken
 * in priority order (higher score first, then the longer span, then the
 * lower label number, then the earlier start) and a candidate is kept
 * only if none of its bytes is covered by one kept before.  So a
 * validated, more specific value inside a looser one wins (an IP address
 * or e-mail inside a URL: the URL is dropped, unless it carries a password
 * and scores higher), and of two equally sure readings the longer one.
 *
 * Text need not be NUL-terminated.  Invalid UTF-8 is scanned as opaque
 * bytes: recognizers anchor and stop on ASCII bytes only, so a span never
 * starts or ends inside a multi-byte character, and no byte outside
 * [0, len) is read.  Returns CM_OK. */
int pol_pii_scan(const char *text, size_t len, unsigned labels,
                 struct pol_pii_spans *out) CM_MUSTCHECK;

/* The reach of the recognizers, for the streaming redactor: a recognizer
 * reads at most this many bytes before and after the span it reports
 * (context words, boundaries, lookahead), and a span that contains white
 * space is at most this long, with one exception: a PEM private key block,
 * which runs from its BEGIN line to its END line (at most 16 KB) and is
 * reported by pol_pii_scan_open() while its END line has not been seen. */
#define POL_PII_SCAN_REACH 256

/* The start of the first unterminated value at the end of text[0..len)
 * that text appended later could still complete (today: a "-----BEGIN ...
 * PRIVATE KEY-----" line without an END line after it); len when there is
 * none.  Pure; any thread. */
size_t pol_pii_scan_open(const char *text, size_t len);

/* Validators, exposed for tests and for other recognizers. */
bool pol_pii_luhn_ok(const char *digits, size_t n);
/* area-group-serial as digits only (9 digits). */
bool pol_pii_ssn_ok(const char *digits9);
/* The IBAN length of a country (two upper-case letters), 0 if the country
 * has no IBAN. */
size_t pol_pii_iban_len(const char cc[2]);
/* An IBAN in electronic form (no spaces): country length and mod-97. */
bool pol_pii_iban_ok(const char *s, size_t n);

#endif /* POL_PII_SCAN_H */
