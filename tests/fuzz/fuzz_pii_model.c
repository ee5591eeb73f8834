/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_pii_model: libFuzzer target for the learned PII model's file parser
 * and, through it, its inference on arbitrary text.
 *
 * The first input byte picks a mode:
 *   0  the rest is a model file, loaded as it is (the checksum stops most
 *      inputs: this checks that nothing before it trusts the bytes);
 *   1  the same with the SHA-256 trailer recomputed first, so that every
 *      header field and section check meets hostile values;
 *   2  the rest builds a valid small model (weights, transitions and
 *      gazetteer slots from the input) and the remaining bytes are decoded
 *      with it as text: inference on arbitrary bytes and weights.
 * Any model that loads is run over a fixed text and over the input.  In
 * mode 2 the window cursor's one-pass scanner is also checked against the
 * reference tokenizer and token analysis on the text bytes, and decoding
 * with the lexical cache against decoding without it.
 * Build: make fuzz-pii (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "policy/pii/pii_detect.h"
#include "policy/pii/pii_model.h"
#include "policy/pii/pii_model_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
run(const struct pol_pii_model *m, const uint8_t *text, size_t n)
{
    static const char fixed[] = "Dr. Jane Roe of Acme Corp met John Smith in Paris.";
    struct pol_pii_spans sp;

    pol_pii_spans_init(&sp);
    if (pol_pii_detect(m, fixed, sizeof(fixed) - 1, POL_PII_ALL, &sp) != CM_OK)
        abort();
    pol_pii_spans_reset(&sp);
    if (pol_pii_model_find(m, (const char *)text, n, POL_PII_ALL, &sp) != CM_OK)
        abort();
    for (size_t k = 0; k < sp.n; k++) {
        if (sp.v[k].start >= sp.v[k].end || sp.v[k].end > n ||
            (k && sp.v[k - 1].end > sp.v[k].start) || !(sp.v[k].score >= 0.0f) ||
            sp.v[k].score > 1.0f)
            abort();
    }
    pol_pii_spans_fini(&sp);
}

/* The cursor must find the tokens pol_pii_tokenize() finds and analyse
 * them as pii_tok_analyse() does (the fast path is for ASCII; anything
 * else goes to the reference, and the two must meet at every boundary). */
static void
check_cursor(const char *text, size_t n)
{
    static struct pii_cursor cur;
    struct pii_gaz nogaz = {0};
    struct pii_fparams fp;
    struct pii_window win;
    size_t pos = 0, nt;

    pii_fparams_init(&fp, 8, 0, &nogaz);
    pii_cursor_init(&cur, text, n);
    while ((nt = pii_cursor_next(&cur, &fp, true, &win)) > 0) {
        for (size_t k = 0; k < nt; k++) {
            struct pol_pii_token ref;
            const struct pii_tok *t = &win.tok[k];
            struct pii_tok r;

            if (pol_pii_tokenize(text, n, pos, &ref, 1, &pos) != 1)
                abort();
            memset(&r, 0, sizeof(r));
            r.start = ref.start;
            r.end = ref.end;
            pii_tok_analyse(text, n, &r);
            if (t->start != r.start || t->end != r.end || t->hlow != r.hlow ||
                t->hshape != r.hshape || memcmp(t->haff, r.haff, sizeof(r.haff)) != 0 ||
                t->cap != r.cap || t->ncp != r.ncp || t->punct != r.punct)
                abort();
        }
    }
    if (pol_pii_tokenize(text, n, pos, &(struct pol_pii_token){0}, 1, &pos) != 0)
        abort();
}

/* The lexical cache must not change a span: weights from the input make
 * emission sums that saturate, where the order of the adds matters.  The
 * text is decoded twice with the cache (the second time from it) and once
 * without. */
static void
check_lexcache(const struct pol_pii_model *m, const struct pol_pii_model *plain, const char *text,
               size_t n)
{
    struct pol_pii_spans a, b;

    pol_pii_spans_init(&a);
    pol_pii_spans_init(&b);
    if (pol_pii_model_find(plain, text, n, POL_PII_ALL, &a) != CM_OK)
        abort();
    for (int round = 0; round < 2; round++) {
        pol_pii_spans_reset(&b);
        if (pol_pii_model_find(m, text, n, POL_PII_ALL, &b) != CM_OK)
            abort();
        if (a.n != b.n)
            abort();
        for (size_t k = 0; k < a.n; k++) {
            if (a.v[k].start != b.v[k].start || a.v[k].end != b.v[k].end ||
                a.v[k].label != b.v[k].label || a.v[k].score != b.v[k].score)
                abort();
        }
    }
    pol_pii_spans_fini(&a);
    pol_pii_spans_fini(&b);
}

static void
mode_build(const uint8_t *data, size_t size)
{
    enum { HB = 8, NW = (1 << HB) * PII_ROW };
    static float w[NW];
    float tr[PII_ROW * PII_ROW];
    struct pii_gaz_builder gb;
    struct pii_image_parts parts = {0};
    struct pol_pii_model *m = NULL, *plain = NULL;
    struct cm_buf img;
    struct cm_err err;
    struct pol_pii_gaz *gaz;
    size_t pos = 0;

    /* weights: cycle through the input as signed bytes */
    for (size_t k = 0; k < NW; k++)
        w[k] = size ? (float)(int8_t)data[k % size] : 0.0f;
    for (size_t k = 0; k < PII_ROW * PII_ROW; k++)
        tr[k] = size ? (float)(int8_t)data[(k * 7) % size] : 0.0f;
    /* gazetteer: a few phrases cut from the input */
    pii_gaz_builder_init(&gb);
    for (unsigned k = 0; k < 4 && pos + 4 <= size; k++) {
        size_t n = 1 + data[pos] % 12;

        if (pos + 1 + n > size)
            break;
        pii_gaz_builder_add(&gb, (const char *)data + pos + 1, n, data[pos] % G__COUNT);
        pos += 1 + n;
    }
    gaz = pii_gaz_builder_table(&gb);
    pii_gaz_builder_fini(&gb);
    parts.ntypes = 1 + (size ? data[0] % PII_MAX_TYPES : 0);
    for (unsigned k = 0; k < parts.ntypes; k++)
        parts.types[k] = (enum pol_pii_label)k;
    parts.hash_bits = HB;
    parts.seed = size > 1 ? data[1] : 0;
    parts.weights = w;
    parts.trans = tr;
    parts.gaz = gaz;
    cm_buf_init(&img);
    pii_image_build(&parts, &img);
    pol_pii_gaz_free(gaz);
    if (pol_pii_model_load_mem(img.p, img.len, &m, &err) != CM_OK)
        abort(); /* a built image must load */
    setenv("STEWARD_PII_NOCACHE", "1", 1);
    if (pol_pii_model_load_mem(img.p, img.len, &plain, &err) != CM_OK)
        abort();
    unsetenv("STEWARD_PII_NOCACHE");
    cm_buf_fini(&img);
    check_cursor((const char *)data + pos, size - pos);
    run(m, data + pos, size - pos);
    check_lexcache(m, plain, (const char *)data + pos, size - pos);
    pol_pii_model_free(m);
    pol_pii_model_free(plain);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pol_pii_model *m = NULL;
    struct cm_err err;
    uint8_t *copy;

    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
    case 1:
        copy = malloc(size - 1 ? size - 1 : 1);
        memcpy(copy, data + 1, size - 1);
        if (data[0] % 3 == 1 && size - 1 >= CM_SHA256_LEN)
            cm_sha256(copy, size - 1 - CM_SHA256_LEN, copy + size - 1 - CM_SHA256_LEN);
        if (pol_pii_model_load_mem(copy, size - 1, &m, &err) == CM_OK) {
            run(m, copy, size - 1);
            pol_pii_model_free(m);
        }
        free(copy);
        break;
    default: mode_build(data + 1, size - 1); break;
    }
    return 0;
}
