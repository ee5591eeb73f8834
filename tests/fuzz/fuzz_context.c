/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness: the lineage-context header parsers (audit/aud_context.c)
 * and the fingerprint normalisation (common/cm_fingerprint.c) on arbitrary
 * bytes.  The first byte picks the parser.  Invariants: a traceparent that
 * parses yields lower-case hex ids of the right length, not all zero; a
 * parent id that parses is canonical and parses again to itself; inputs are
 * bounded, non-empty, free of control bytes and of repeats; a normalised
 * value is never longer than the value, and normalising it again changes
 * nothing (normalisation is idempotent, so the sidecar and steward-audit
 * agree however often it is applied).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_context.h"
#include "common/cm_arena.h"
#include "common/cm_fingerprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_hex(const char *s, size_t n)
{
    int nonzero = 0;

    if (strlen(s) != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            abort();
        nonzero |= s[i] != '0';
    }
    if (!nonzero)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    uint8_t which;

    if (size < 1)
        return 0;
    which = data[0] % 4;
    data++;
    size--;
    s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    switch (which) {
    case 0: {
        char t[AUD_TRACE_ID_LEN], p[AUD_SPAN_ID_LEN];

        if (aud_traceparent_parse(s, size, t, p) == CM_OK) {
            check_hex(t, 32);
            check_hex(p, 16);
        }
        break;
    }
    case 1: {
        char out[37], again[37];

        if (aud_parent_parse(s, out) == CM_OK &&
            (aud_parent_parse(out, again) != CM_OK || strcmp(out, again) != 0))
            abort();
        break;
    }
    case 2: {
        struct cm_arena *arena = cm_arena_new(1024);
        const char *out[8];
        size_t n = 0, bad = 0;

        aud_inputs_split(s, size, arena, out, &n, 8, &bad);
        if (n > 8)
            abort();
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(out[i]);

            if (len == 0 || len > AUD_MAX_INPUT_LEN || out[i][0] == ' ' || out[i][len - 1] == ' ')
                abort();
            for (size_t k = 0; k < len; k++)
                if ((unsigned char)out[i][k] < 0x20 || out[i][k] == 0x7f)
                    abort();
            for (size_t j = 0; j < i; j++)
                if (strcmp(out[i], out[j]) == 0)
                    abort();
        }
        cm_arena_free(arena);
        break;
    }
    default: {
        static const enum cm_fp_norm norms[] = {CM_FP_NORM_ASIS, CM_FP_NORM_TEXT, CM_FP_NORM_DIGITS,
                                                CM_FP_NORM_ALNUM};
        char *a = malloc(size + 1), *b = malloc(size + 1);

        for (size_t i = 0; i < 4; i++) {
            size_t na = cm_fp_normalise(norms[i], s, size, a);
            size_t nb = cm_fp_normalise(norms[i], a, na, b);

            if (na > size || nb != na || memcmp(a, b, na) != 0)
                abort();
        }
        free(a);
        free(b);
        break;
    }
    }
    free(s);
    return 0;
}
