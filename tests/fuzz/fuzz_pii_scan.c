/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_pii_scan: libFuzzer harness for the recognizers (pol_pii_scan,
 * pol_pii_scan_open).  The input is scanned from an exactly sized heap
 * copy (ASan reports any read past len) with the label set taken from its
 * first two bytes, and the invariants of pii_scan.h are checked: spans
 * sorted, non-overlapping, inside the text, never starting or ending
 * inside a multi-byte UTF-8 character, scores in (0, 1], labels in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/pii/pii_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
cont(const unsigned char *t, size_t len, size_t i)
{
    return i < len && (t[i] & 0xC0) == 0x80 && i > 0 && t[i - 1] >= 0xC0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned labels = POL_PII_ALL;
    struct pol_pii_spans s;
    unsigned char *t;
    size_t open;

    if (size >= 2 && data[0] == 0xA5) {
        labels = data[1] | ((unsigned)data[1] << 8);
        labels &= POL_PII_ALL;
        data += 2;
        size -= 2;
    }
    t = malloc(size ? size : 1);
    memcpy(t, data, size);
    pol_pii_spans_init(&s);
    if (pol_pii_scan((const char *)t, size, labels, &s) != CM_OK)
        abort();
    for (size_t k = 0; k < s.n; k++) {
        const struct pol_pii_span *sp = &s.v[k];

        if (sp->start >= sp->end || sp->end > size || (unsigned)sp->label >= POL_PII__COUNT)
            abort();
        if (!(labels & POL_PII_MASK(sp->label)))
            abort();
        if (!(sp->score > 0.0f && sp->score <= 1.0f))
            abort();
        if (k > 0 && sp->start < s.v[k - 1].end)
            abort();
        /* a span never starts or ends right after a UTF-8 lead byte */
        if (cont(t, size, sp->start) || cont(t, size, sp->end))
            abort();
    }
    open = pol_pii_scan_open((const char *)t, size);
    if (open > size)
        abort();
    pol_pii_spans_fini(&s);
    free(t);
    return 0;
}
