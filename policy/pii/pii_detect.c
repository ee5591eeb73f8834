/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_detect: recognizers plus (when loaded) the learned model, merged.
 * See pii_detect.h.  Until the learned model lands this is the recognizers
 * alone.
 */
#include "policy/pii/pii_detect.h"

int
pol_pii_detect(const struct pol_pii_model *model, const char *text, size_t len, unsigned labels,
               struct pol_pii_spans *out)
{
    (void)model;
    return pol_pii_scan(text, len, labels, out);
}
