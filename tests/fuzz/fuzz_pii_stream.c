/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_pii_stream: libFuzzer harness for the streaming redactor and
 * restorer.  The input's first bytes choose up to three cut points; the
 * rest is fed in those chunks (each an exactly sized heap copy) and the
 * concatenated output must equal the whole-text result (pol_pii_detect +
 * pol_pii_redact_v) whenever the input is shorter than the window (longer
 * inputs may force a cut, where only "never leaked" holds); the hold must
 * stay within POL_PII_STREAM_WINDOW; the streamed restore of the output
 * must equal the whole restore.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_buf.h"
#include "policy/pii/pii_detect.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[] = "fuzz-key-0123456789abcdef0123456";

static void
feed(struct pol_pii_stream *st, const char *p, size_t n, struct cm_buf *out)
{
    char *c = malloc(n ? n : 1);

    memcpy(c, p, n);
    if (pol_pii_stream_feed(st, c, n, out) != CM_OK)
        abort();
    if (pol_pii_stream_held(st) > POL_PII_STREAM_WINDOW)
        abort();
    free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = {.mask_keep = 2};
    struct pol_pii_vault *v1, *v2;
    struct pol_pii_spans s;
    struct pol_pii_stream *st;
    struct pol_pii_restorer *rs;
    struct cm_buf ref, got, r1, r2;
    size_t cuts[3] = {0, 0, 0}, pos = 0;
    const char *t, *gp;

    if (size < 4)
        return 0;
    v1 = pol_pii_vault_new();
    v2 = pol_pii_vault_new();
    for (int l = 0; l < POL_PII__COUNT; l++)
        ops[l] = (enum pol_pii_op)((data[0] + (unsigned)l) % 6);
    o.hash_key = key;
    o.hash_key_len = sizeof(key) - 1;
    o.pseudonym_key = key;
    o.pseudonym_key_len = sizeof(key) - 1;
    o.enc_key = key;
    o.enc_key_len = sizeof(key) - 1;
    t = (const char *)data + 4;
    size -= 4;
    for (int k = 0; k < 3; k++)
        cuts[k] = size ? (size_t)data[k + 1] * size / 255 : 0;
    if (cuts[0] > cuts[1]) {
        size_t x = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = x;
    }
    if (cuts[1] > cuts[2]) {
        size_t x = cuts[1];
        cuts[1] = cuts[2];
        cuts[2] = x;
    }
    if (cuts[0] > cuts[1]) {
        size_t x = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = x;
    }
    pol_pii_spans_init(&s);
    cm_buf_init(&ref);
    cm_buf_init(&got);
    cm_buf_init(&r1);
    cm_buf_init(&r2);
    if (pol_pii_detect(NULL, t, size, POL_PII_ALL, &s) != CM_OK)
        abort();
    pol_pii_redact_v(t, size, s.v, s.n, ops, &o, v1, &ref);

    st = pol_pii_stream_new(NULL, POL_PII_ALL, ops, &o, v2);
    for (int k = 0; k < 3; k++) {
        feed(st, t + pos, cuts[k] - pos, &got);
        pos = cuts[k];
    }
    feed(st, t + pos, size - pos, &got);
    if (pol_pii_stream_finish(st, &got) != CM_OK)
        abort();
    pol_pii_stream_free(st);
    if (size + POL_PII_STREAM_REACH < POL_PII_STREAM_WINDOW &&
        (got.len != ref.len || (ref.len && memcmp(got.p, ref.p, ref.len) != 0))) {
        fprintf(stderr, "stream differs: cuts %zu %zu %zu\n", cuts[0], cuts[1], cuts[2]);
        abort();
    }

    /* restore: streamed in the same cuts (scaled to the output) */
    gp = got.p != NULL ? got.p : "";
    pol_pii_restore(v2, gp, got.len, &r1);
    rs = pol_pii_restorer_new(v2);
    pos = 0;
    for (int k = 0; k < 3; k++) {
        size_t c = size ? cuts[k] * got.len / size : 0;

        if (c < pos)
            c = pos;
        pol_pii_restorer_feed(rs, gp + pos, c - pos, &r2);
        pos = c;
    }
    pol_pii_restorer_feed(rs, gp + pos, got.len - pos, &r2);
    pol_pii_restorer_finish(rs, &r2);
    pol_pii_restorer_free(rs);
    if (r1.len != r2.len || (r1.len && memcmp(r1.p, r2.p, r1.len) != 0))
        abort();

    cm_buf_fini(&ref);
    cm_buf_fini(&got);
    cm_buf_fini(&r1);
    cm_buf_fini(&r2);
    pol_pii_spans_fini(&s);
    pol_pii_vault_free(v1);
    pol_pii_vault_free(v2);
    return 0;
}
