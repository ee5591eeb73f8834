/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_detect: the whole classifier behind one call: the recognizers of
 * pii_scan (structured data with validators) and, when a model is loaded,
 * the learned token model of pii_model (PERSON, LOCATION, ORGANIZATION).
 * Their spans are merged under the overlap rule of pii_scan.h.
 *
 * Everything that looks for personal data (request and response bodies, the
 * streaming redactor, steward-pii) calls this, so the sidecar and the tools
 * always agree.  Pure; any thread; the model is read-only and shared.
 */
#ifndef POL_PII_DETECT_H
#define POL_PII_DETECT_H

#include <stddef.h>

#include "common/cm_status.h"
#include "policy/pii/pii_scan.h"

struct pol_pii_model; /* pii_model.h: the learned model, loaded read-only */

/* Appends to out the spans of the labels in `labels` found in
 * text[0..len), sorted and non-overlapping.  model may be NULL (recognizers
 * only).  Returns CM_OK. */
int pol_pii_detect(const struct pol_pii_model *model, const char *text, size_t len, unsigned labels,
                   struct pol_pii_spans *out) CM_MUSTCHECK;

#endif /* POL_PII_DETECT_H */
