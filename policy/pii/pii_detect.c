/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_detect: recognizers plus (when loaded) the learned model, merged.
 * See pii_detect.h.
 *
 * Merge rule: the recognizers' spans (structured values checked by
 * validators: e-mail, card, IBAN, ...) win over any model span that
 * overlaps one of them, whatever the scores: a name the model sees inside
 * an e-mail address is part of the address.  Model spans that overlap no
 * recognizer span are kept as they are (the model's own spans never
 * overlap each other).  The result is sorted by start.
 */
#include "policy/pii/pii_detect.h"

#include <stdlib.h>
#include <string.h>

#include "policy/pii/pii_model.h"

static int
span_cmp(const void *a, const void *b)
{
    const struct pol_pii_span *x = a, *y = b;

    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Sorts v[0..na + nb), made of two sorted runs (the recognizers' spans,
 * then the model's), by span_cmp.  No two spans compare equal (the kept
 * model spans overlap no recognizer span), so this gives the order qsort
 * gave.  A merge from the back with the second run copied aside: linear,
 * where qsort was most of the merge's cost; runs too long for the stack
 * buffer fall back to qsort. */
static void
merge_sorted(struct pol_pii_span *v, size_t na, size_t nb)
{
    struct pol_pii_span b[64];
    size_t i = na, j = nb, w = na + nb;

    if (nb > sizeof(b) / sizeof(b[0])) {
        qsort(v, na + nb, sizeof(*v), span_cmp);
        return;
    }
    memcpy(b, v + na, nb * sizeof(*v));
    while (j > 0) {
        if (i > 0 && span_cmp(&v[i - 1], &b[j - 1]) > 0)
            v[--w] = v[--i];
        else
            v[--w] = b[--j];
    }
}

int
pol_pii_detect(const struct pol_pii_model *model, const char *text, size_t len, unsigned labels,
               struct pol_pii_spans *out)
{
    size_t base = out->n, nrec, keep, r = 0;
    int rc;

    rc = pol_pii_scan(text, len, labels, out);
    if (rc != CM_OK || model == NULL || (labels & pol_pii_model_labels(model)) == 0)
        return rc;
    nrec = out->n;
    rc = pol_pii_model_find(model, text, len, labels, out);
    if (rc != CM_OK)
        return rc;
    if (out->n == nrec)
        return CM_OK;
    /* drop model spans that overlap a recognizer span (both lists sorted) */
    keep = nrec;
    for (size_t k = nrec; k < out->n; k++) {
        const struct pol_pii_span *m = &out->v[k];
        bool hit = false;

        while (base + r < nrec && out->v[base + r].end <= m->start)
            r++;
        for (size_t q = base + r; q < nrec && out->v[q].start < m->end; q++) {
            if (out->v[q].end > m->start) {
                hit = true;
                break;
            }
        }
        if (!hit)
            out->v[keep++] = *m;
    }
    out->n = keep;
    if (keep > nrec && nrec > base)
        merge_sorted(out->v + base, nrec - base, keep - nrec);
    return CM_OK;
}
