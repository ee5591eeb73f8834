/* SPDX-License-Identifier: Apache-2.0
 *
 * test_pii_model: the learned PII model of policy/pii/: tokenizer offsets
 * on UTF-8 (and on invalid bytes), the one-pass scanner of the window
 * cursor against the reference tokenizer and token analysis, the model file (round trip; corrupt,
 * truncated, foreign and wrong-version files refused), a tiny deterministic
 * training run that must learn a toy pattern (and give the same bytes
 * twice), the merge rule of pol_pii_detect, evaluation arithmetic on a
 * hand-made example, code-point offsets, and the JSON-lines parser.
 * Fixtures are synthetic (invented names, example.com addresses).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "policy/pii/pii_detect.h"
#include "policy/pii/pii_model.h"
#include "policy/pii/pii_model_int.h"
#include "policy/pii/pii_train.h"
#include "tests/unit/unit_main.h"

/* ------------------------------------------------------------ tokenizer */

static void
check_tokens(const char *text, const char *const *want, size_t nwant)
{
    struct pol_pii_token toks[64];
    size_t next, n = pol_pii_tokenize(text, strlen(text), 0, toks, 64, &next);

    ck_assert_uint_eq(next, strlen(text));
    ck_assert_uint_eq(n, nwant);
    for (size_t k = 0; k < n; k++) {
        size_t len = toks[k].end - toks[k].start;

        ck_assert_msg(len == strlen(want[k]) && memcmp(text + toks[k].start, want[k], len) == 0,
                      "token %zu is '%.*s', want '%s'", k, (int)len, text + toks[k].start, want[k]);
    }
}

START_TEST(tokenize_utf8)
{
    static const char *const w1[] = {"Zo\xc3\xab", "O'Brien-Smith",  "'s", "caf\xc3\xa9",
                                     ",",          "M\xc3\xbcnchen", "."};
    static const char *const w2[] = {"Mail", "jane.doe@example.com", "or",
                                     "call", "415-555-0132",         "!"};
    static const char *const w3[] = {
        "\xe2\x80\x9c", "O\xe2\x80\x99Neil", "\xe2\x80\x9d", "U.S", ".", "\xf0\x9f\x98\x80", "AT&T",
        "don't"};
    static const char *const w4[] = {"Jones", "'", "car", "is", "red"};

    check_tokens("Zo\xc3\xab O'Brien-Smith's caf\xc3\xa9, M\xc3\xbcnchen.", w1, 7);
    check_tokens("Mail jane.doe@example.com or call 415-555-0132!", w2, 6);
    check_tokens("\xe2\x80\x9cO\xe2\x80\x99Neil\xe2\x80\x9d U.S. \xf0\x9f\x98\x80 AT&T don't", w3,
                 8);
    check_tokens("Jones' car\xc2\xa0is\xe3\x80\x80red", w4, 5);
}
END_TEST

START_TEST(tokenize_invalid_and_bounds)
{
    /* invalid bytes are one-byte tokens; truncated sequences at the end
     * never read past len (ASan checks the exact-size copy) */
    static const char *const samples[] = {"ab\xff\xfe"
                                          "cd",
                                          "x\xc3",
                                          "\xe2\x82",
                                          "\xed\xa0\x80z",
                                          "\xf4\x90\x80\x80",
                                          "a\xc0\xaf"
                                          "b"};

    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        size_t len = strlen(samples[s]);

        for (size_t cut = 0; cut <= len; cut++) {
            char *copy = malloc(cut ? cut : 1);
            struct pol_pii_token toks[16];
            size_t next, n;

            memcpy(copy, samples[s], cut);
            n = pol_pii_tokenize(copy, cut, 0, toks, 16, &next);
            ck_assert_uint_eq(next, cut);
            for (size_t k = 0; k < n; k++) {
                ck_assert_uint_lt(toks[k].start, toks[k].end);
                ck_assert_uint_le(toks[k].end, cut);
                if (k)
                    ck_assert_uint_le(toks[k - 1].end, toks[k].start);
            }
            free(copy);
        }
    }
    {
        static const char *const w[] = {"ab", "\xff", "\xfe", "cd"};

        check_tokens("ab\xff\xfe"
                     "cd",
                     w, 4);
    }
}
END_TEST

START_TEST(tokenize_cap_and_resume)
{
    const char *text = "one two three four five";
    struct pol_pii_token toks[2];
    size_t next, n, pos = 0, total = 0;

    while (pos < strlen(text)) {
        n = pol_pii_tokenize(text, strlen(text), pos, toks, 2, &next);
        ck_assert_uint_gt(n, 0);
        total += n;
        pos = next;
    }
    ck_assert_uint_eq(total, 5);
}
END_TEST

/* The cursor's one-pass scanner against the reference: windows cut by the
 * rule of pii_cursor_next() over pol_pii_tokenize()'s tokens, and every
 * token's fields as pii_tok_analyse() computes them.  Texts mix ASCII
 * words of every casing, joiners, possessives, line breaks, multi-byte
 * letters, spaces and punctuation, and invalid bytes; some are long enough
 * to be cut into several windows. */
static const char *const scan_pieces[] = {
    "Jane",
    "O'Brien",
    "Smith's",
    "JEAN-LUC",
    "u.s.",
    "a&b",
    "x/y",
    "@acme",
    "#tag",
    "3rd",
    "42",
    "iPhone",
    "McDonald",
    "I",
    "ok",
    "e.g.",
    "'s",
    "'S",
    "--",
    "...",
    "!",
    "?",
    ".",
    ",",
    "(",
    ")",
    "\"",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    "Jos\xc3\xa9",
    "\xc3\x89LODIE",
    "O\xe2\x80\x99Neil",
    "\xe2\x80\xa6",
    "\xc2\xa0",
    "\xe2\x80\xa8",
    "\xd0\x9c\xd0\xbe",
    "\xe6\x9d\xb1\xe4\xba\xac",
    "\xf0\x9f\x98\x80",
    "\xef\xbb\xbf",
    "\xff",
    "\xc3",
    "\xe2\x80",
    "\xed\xa0\x80",
    "\xc3\x9f",
    "\xc5\xb8",
    "_",
    "-",
    "'",
    "/",
    "@",
    "&",
};

static void
ref_window_check(const char *text, size_t len)
{
    static struct pol_pii_token toks[PII_WINDOW];
    static struct pii_cursor cur;
    struct pii_gaz nogaz = {0};
    struct pii_fparams fp;
    struct pii_window win;
    size_t pos = 0, n;

    pii_fparams_init(&fp, 10, 1, &nogaz);
    pii_cursor_init(&cur, text, len);
    while ((n = pii_cursor_next(&cur, &fp, true, &win)) > 0) {
        size_t next, want = pol_pii_tokenize(text, len, pos, toks, PII_WINDOW, &next);

        if (want == PII_WINDOW && next < len) {
            for (size_t k = want - 2; k >= want / 2; k--) {
                size_t a = toks[k].start, b = toks[k].end;
                bool end = (b - a == 1 && strchr(".!?", text[a]) != NULL) ||
                           (b - a == 3 && memcmp(text + a, "\xe2\x80\xa6", 3) == 0);

                if (end || memchr(text + b, '\n', toks[k + 1].start - b) != NULL) {
                    next = toks[k + 1].start;
                    want = k + 1;
                    break;
                }
            }
        }
        ck_assert_uint_eq(n, want);
        for (size_t k = 0; k < n; k++) {
            const struct pii_tok *t = &win.tok[k];
            struct pii_tok r = {.start = toks[k].start, .end = toks[k].end};

            pii_tok_analyse(text, len, &r);
            ck_assert_uint_eq(t->start, r.start);
            ck_assert_uint_eq(t->end, r.end);
            ck_assert_msg(t->hlow == r.hlow && t->cap == r.cap && t->ncp == r.ncp &&
                              t->punct == r.punct && t->detail == PII_DETAIL_ALL &&
                              t->hshape == r.hshape && memcmp(t->haff, r.haff, sizeof(r.haff)) == 0,
                          "token '%.*s' analysed differently", (int)(r.end - r.start),
                          text + r.start);
            ck_assert_uint_eq(
                t->sstart,
                k == 0 ||
                    memchr(text + toks[k - 1].end, '\n', toks[k].start - toks[k - 1].end) != NULL ||
                    (toks[k - 1].end - toks[k - 1].start == 1 &&
                     strchr(".!?", text[toks[k - 1].start]) != NULL) ||
                    (toks[k - 1].end - toks[k - 1].start == 3 &&
                     memcmp(text + toks[k - 1].start, "\xe2\x80\xa6", 3) == 0));
        }
        pos = next;
    }
    ck_assert_uint_eq(pol_pii_tokenize(text, len, pos, toks, 1, &pos), 0);
}

START_TEST(cursor_matches_reference)
{
    struct cm_buf b;
    uint64_t rng = 12345;

    cm_buf_init(&b);
    for (int round = 0; round < 300; round++) {
        size_t npieces = 1 + (size_t)(round % 7 == 0 ? 900 : round % 40);

        cm_buf_reset(&b);
        for (size_t k = 0; k < npieces; k++) {
            size_t np = sizeof(scan_pieces) / sizeof(scan_pieces[0]);

            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            cm_buf_puts(&b, scan_pieces[(rng >> 33) % np]);
            if ((rng >> 20) % 3 != 0)
                cm_buf_putc(&b, ' ');
        }
        ref_window_check(b.p, b.len);
        /* every prefix of a short text: tokens that end at the text's end */
        if (b.len < 60) {
            for (size_t cut = 0; cut <= b.len; cut++)
                ref_window_check(b.p, cut);
        }
    }
    cm_buf_fini(&b);
}
END_TEST

/* ------------------------------------------------------ toy model helpers */

static const char *const toy_names[] = {"Zorblat", "Quaxle",   "Miremba", "Tolvik",  "Ansgard",
                                        "Perowen", "Kilmaro",  "Dastrin", "Yevanna", "Brulio",
                                        "Fenwick", "Ottoline", "Salvio",  "Ingrith", "Corvane"};
static const char *const toy_places[] = {"Vardale", "Ostmark",  "Lunhaven", "Pellagra",
                                         "Rimbo",   "Tessmoor", "Quillon",  "Marrow"};
static const char *const toy_fill[] = {"today", "soon", "again", "later", "now", "please"};

/* "meet NAME FILL" (PERSON) and "fly to PLACE FILL" (LOCATION) */
static void
toy_corpus(struct pol_pii_corpus *c, size_t n, unsigned salt)
{
    for (size_t k = 0; k < n; k++) {
        struct pol_pii_doc d = {0};
        char buf[128];
        const char *fill = toy_fill[(k + salt) % 6];
        bool person = ((k * 7 + salt) % 3) != 0;
        const char *v = person ? toy_names[(k * 5 + salt) % 15] : toy_places[(k * 3 + salt) % 8];
        int start;

        start = person ? (int)strlen("we meet ") : (int)strlen("we fly to ");
        snprintf(buf, sizeof(buf), "%s%s %s", person ? "we meet " : "we fly to ", v, fill);
        d.text = strdup(buf);
        d.len = strlen(buf);
        d.spans = calloc(1, sizeof(*d.spans));
        d.spans[0].start = (size_t)start;
        d.spans[0].end = (size_t)start + strlen(v);
        d.spans[0].label = person ? POL_PII_PERSON : POL_PII_LOCATION;
        d.nspans = 1;
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            c->docs = realloc(c->docs, c->cap * sizeof(*c->docs));
        }
        c->docs[c->n++] = d;
    }
}

static struct pol_pii_model *
toy_model(unsigned seed)
{
    struct pol_pii_corpus c;
    struct pol_pii_train_opts o;
    struct pii_gaz_builder gb;
    struct pol_pii_model *m = NULL;
    struct cm_err err = {{0}};
    struct pol_pii_gaz *gaz;

    pol_pii_corpus_init(&c);
    toy_corpus(&c, 300, 0);
    pii_gaz_builder_init(&gb);
    pii_gaz_builder_add(&gb, "meet", 4, G_NAME_CUE);
    pii_gaz_builder_add(&gb, "New Vardale", 11, G_CITY);
    gaz = pii_gaz_builder_table(&gb);
    pol_pii_train_opts_default(&o);
    o.epochs = 5;
    o.seed = seed;
    o.hash_bits = 12;
    o.labels = POL_PII_MASK(POL_PII_PERSON) | POL_PII_MASK(POL_PII_LOCATION);
    ck_assert_int_eq(pol_pii_train(&c, NULL, NULL, 0, gaz, &o, &m, &err), CM_OK);
    pol_pii_gaz_free(gaz);
    pii_gaz_builder_fini(&gb);
    pol_pii_corpus_fini(&c);
    return m;
}

/* ---------------------------------------------------------- model file */

static struct pol_pii_model *shared_model;

static void
setup_model(void)
{
    shared_model = toy_model(7);
}

static void
teardown_model(void)
{
    pol_pii_model_free(shared_model);
    shared_model = NULL;
}

START_TEST(model_learns_toy_pattern)
{
    struct pol_pii_spans sp;
    const char *text = "tomorrow we meet Ingrith again and then fly to Quillon now";

    pol_pii_spans_init(&sp);
    ck_assert_int_eq(pol_pii_model_find(shared_model, text, strlen(text), POL_PII_ALL, &sp), CM_OK);
    ck_assert_uint_eq(sp.n, 2);
    ck_assert_uint_eq(sp.v[0].start, 17);
    ck_assert_uint_eq(sp.v[0].end, 24);
    ck_assert_int_eq(sp.v[0].label, POL_PII_PERSON);
    ck_assert(sp.v[0].score > 0.5f && sp.v[0].score <= 1.0f);
    ck_assert_uint_eq(sp.v[1].start, 47);
    ck_assert_uint_eq(sp.v[1].end, 54);
    ck_assert_int_eq(sp.v[1].label, POL_PII_LOCATION);
    /* label filter */
    pol_pii_spans_reset(&sp);
    ck_assert_int_eq(
        pol_pii_model_find(shared_model, text, strlen(text), POL_PII_MASK(POL_PII_LOCATION), &sp),
        CM_OK);
    ck_assert_uint_eq(sp.n, 1);
    ck_assert_int_eq(sp.v[0].label, POL_PII_LOCATION);
    ck_assert_uint_eq(pol_pii_model_labels(shared_model),
                      POL_PII_MASK(POL_PII_PERSON) | POL_PII_MASK(POL_PII_LOCATION));
    pol_pii_spans_fini(&sp);
}
END_TEST

START_TEST(model_training_deterministic)
{
    struct pol_pii_model *again = toy_model(7), *other = toy_model(8);
    size_t la, lb, lc;
    const void *a = pol_pii_model_image(shared_model, &la);
    const void *b = pol_pii_model_image(again, &lb);
    const void *c = pol_pii_model_image(other, &lc);

    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(a, b, la) == 0);
    ck_assert_str_eq(pol_pii_model_id(shared_model), pol_pii_model_id(again));
    /* another seed: another model (shuffling, dropout and hash seed) */
    ck_assert(la != lc || memcmp(a, c, la) != 0);
    pol_pii_model_free(again);
    pol_pii_model_free(other);
}
END_TEST

START_TEST(model_file_round_trip)
{
    char path[] = "/tmp/test_pii_modelXXXXXX";
    int fd = mkstemp(path);
    struct pol_pii_model *m = NULL;
    struct cm_err err = {{0}};
    size_t la, lb;
    const void *a, *b;

    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(pol_pii_model_save(shared_model, path, &err), CM_OK);
    ck_assert_int_eq(pol_pii_model_load(path, &m, &err), CM_OK);
    a = pol_pii_model_image(shared_model, &la);
    b = pol_pii_model_image(m, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(a, b, la) == 0);
    ck_assert_str_eq(pol_pii_model_id(m), pol_pii_model_id(shared_model));
    ck_assert_uint_eq(strlen(pol_pii_model_id(m)), 16);
    pol_pii_model_free(m);
    unlink(path);
    /* a missing file is an I/O error naming the path */
    ck_assert_int_eq(pol_pii_model_load("/nonexistent/x.model", &m, &err), CM_EIO);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.model"));
}
END_TEST

static void
expect_refused(const void *p, size_t n, const char *why)
{
    struct pol_pii_model *m = (struct pol_pii_model *)1;
    struct cm_err err = {{0}};

    ck_assert_int_eq(pol_pii_model_load_mem(p, n, &m, &err), CM_EINPUT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, why) != NULL, "error '%s' lacks '%s'", err.msg, why);
}

START_TEST(model_file_refused)
{
    size_t n;
    const uint8_t *img = pol_pii_model_image(shared_model, &n);
    uint8_t *copy = malloc(n);

    /* corrupt: one bit anywhere in the weights */
    memcpy(copy, img, n);
    copy[n / 2] ^= 0x10;
    expect_refused(copy, n, "corrupt");
    /* truncated: at every interesting length */
    expect_refused(img, n - 1, "truncated");
    expect_refused(img, n / 2, "truncated");
    expect_refused(img, 100, "truncated");
    expect_refused(img, 0, "magic");
    /* foreign files */
    expect_refused("\x89PNG\r\n\x1a\n....", 12, "magic");
    expect_refused("{\"text\": \"hello\"}", 17, "magic");
    /* another version: refused before the checksum is even looked at */
    memcpy(copy, img, n);
    copy[8] = 9; /* file version */
    expect_refused(copy, n, "version 9");
    /* a field changed with the checksum recomputed: still refused */
    memcpy(copy, img, n);
    copy[32] = 30; /* hash bits */
    cm_sha256(copy, n - CM_SHA256_LEN, copy + n - CM_SHA256_LEN);
    expect_refused(copy, n, "hash sizes");
    memcpy(copy, img, n);
    memcpy(copy + 72, "\x01\x00\x00\x00\x00\x00\x00\x00", 8); /* weights offset */
    cm_sha256(copy, n - CM_SHA256_LEN, copy + n - CM_SHA256_LEN);
    expect_refused(copy, n, "out of bounds");
    memcpy(copy, img, n);
    copy[36] = 1; /* feature set */
    cm_sha256(copy, n - CM_SHA256_LEN, copy + n - CM_SHA256_LEN);
    expect_refused(copy, n, "feature set");
    free(copy);
}
END_TEST

START_TEST(detect_merges_with_recognizers)
{
    struct pol_pii_spans sp;
    const char *text = "we meet quaxle@example.com today, we meet Tolvik soon";

    /* the model tags the word after "meet"; the e-mail recognizer wins */
    pol_pii_spans_init(&sp);
    ck_assert_int_eq(pol_pii_detect(shared_model, text, strlen(text), POL_PII_ALL, &sp), CM_OK);
    ck_assert_uint_eq(sp.n, 2);
    ck_assert_int_eq(sp.v[0].label, POL_PII_EMAIL);
    ck_assert_uint_eq(sp.v[0].start, 8);
    ck_assert_uint_eq(sp.v[0].end, 26);
    ck_assert_int_eq(sp.v[1].label, POL_PII_PERSON);
    ck_assert_uint_eq(sp.v[1].start, 42);
    /* without a model: recognizers only */
    pol_pii_spans_reset(&sp);
    ck_assert_int_eq(pol_pii_detect(NULL, text, strlen(text), POL_PII_ALL, &sp), CM_OK);
    ck_assert_uint_eq(sp.n, 1);
    ck_assert_int_eq(sp.v[0].label, POL_PII_EMAIL);
    pol_pii_spans_fini(&sp);
}
END_TEST

START_TEST(model_long_and_odd_texts)
{
    /* windows: many sentences, a text without any sentence end, bytes of
     * every value; every span stays inside the text and on token bounds */
    struct cm_buf b;
    struct pol_pii_spans sp;

    cm_buf_init(&b);
    for (int k = 0; k < 400; k++)
        cm_buf_printf(&b, "we meet %s today. ", toy_names[k % 15]);
    for (int k = 0; k < 700; k++)
        cm_buf_printf(&b, "w%d ", k);
    for (int k = 0; k < 256; k++)
        cm_buf_putc(&b, (char)k);
    pol_pii_spans_init(&sp);
    ck_assert_int_eq(pol_pii_model_find(shared_model, b.p, b.len, POL_PII_ALL, &sp), CM_OK);
    ck_assert_uint_ge(sp.n, 390);
    for (size_t k = 0; k < sp.n; k++) {
        ck_assert_uint_lt(sp.v[k].start, sp.v[k].end);
        ck_assert_uint_le(sp.v[k].end, b.len);
        if (k)
            ck_assert_uint_le(sp.v[k - 1].end, sp.v[k].start);
    }
    pol_pii_spans_fini(&sp);
    cm_buf_fini(&b);
}
END_TEST

START_TEST(shipped_model_loads)
{
    /* the committed model matches this build's file format and features
     * (a feature change without `make model` fails here) and finds the
     * obvious; tests/run.sh runs from the repository root */
    const char *path = "policy/pii/model/steward-pii.model";
    const char *text = "Hi, my name is John Smith and I live in Boston.";
    static const char *const code[] = {
        "def get_user(name): return User.objects.get(first_name=name)",
        "for (size_t i = 0; i < n; i++) total += strlen(items[i]);",
        "const rows = await db.query(sql, [userId]); console.log(rows.length);",
        "SELECT name, city FROM customers WHERE country = ? ORDER BY name;",
    };
    struct pol_pii_model *m = NULL;
    struct pol_pii_spans sp;
    struct cm_err err = {{0}};
    size_t len;

    ck_assert_msg(pol_pii_model_load(path, &m, &err) == CM_OK, "%s", err.msg);
    (void)pol_pii_model_image(m, &len);
    ck_assert_uint_le(len, 10u << 20);
    ck_assert_uint_eq(pol_pii_model_labels(m), POL_PII_MASK(POL_PII_PERSON) |
                                                   POL_PII_MASK(POL_PII_LOCATION) |
                                                   POL_PII_MASK(POL_PII_ORGANIZATION));
    pol_pii_spans_init(&sp);
    ck_assert_int_eq(pol_pii_detect(m, text, strlen(text), POL_PII_ALL, &sp), CM_OK);
    ck_assert_uint_eq(sp.n, 2);
    ck_assert_int_eq(sp.v[0].label, POL_PII_PERSON);
    ck_assert_uint_eq(sp.v[0].start, 15);
    ck_assert_uint_eq(sp.v[0].end, 25);
    ck_assert_int_eq(sp.v[1].label, POL_PII_LOCATION);
    ck_assert_uint_eq(sp.v[1].start, 40);
    ck_assert_uint_eq(sp.v[1].end, 46);
    /* identifiers in code are not names (the generator's code domain;
     * these lines are not from it) */
    for (size_t k = 0; k < sizeof(code) / sizeof(code[0]); k++) {
        pol_pii_spans_reset(&sp);
        ck_assert_int_eq(pol_pii_detect(m, code[k], strlen(code[k]), POL_PII_ALL, &sp), CM_OK);
        ck_assert_msg(sp.n == 0, "a span in \"%s\": %zu-%zu", code[k], sp.n ? sp.v[0].start : 0,
                      sp.n ? sp.v[0].end : 0);
    }
    pol_pii_spans_fini(&sp);
    pol_pii_model_free(m);
}
END_TEST

/* The lexical cache (pii_model.c) must not change a single span: decode
 * texts that repeat words in every casing, at and off sentence starts, in
 * lower-case, upper-case and mixed documents, with the cache and without
 * (STEWARD_PII_NOCACHE at load), switching between two models in the same
 * thread so that a cache filled by one is never read for the other. */
static void
lex_text(struct cm_buf *b, uint64_t *rng, int docmode)
{
    static const char *const words[] = {
        "maria",  "garcia", "boston", "london", "acme",  "bank",   "of",    "the",    "and",
        "will",   "rose",   "mark",   "met",    "in",    "at",     "from",  "paris",  "jordan",
        "apple",  "may",    "china",  "smith",  "corp",  "street", "st",    "dr",     "inc",
        "report", "today",  "with",   "young",  "north", "lake",   "river", "summer", "hope"};
    size_t n = 20 + (*rng >> 33) % 120;

    for (size_t k = 0; k < n; k++) {
        const char *w;
        unsigned how;

        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        w = words[(*rng >> 33) % (sizeof(words) / sizeof(words[0]))];
        how = (unsigned)(*rng >> 50) % 10;
        if (k > 0)
            cm_buf_putc(b, how == 9 ? '\n' : ' ');
        for (size_t i = 0; w[i]; i++) {
            char c = w[i];

            if (docmode == 2 || (docmode == 0 && (how < 3 ? i == 0 : how == 3)))
                c = (char)(c - 'a' + 'A');
            cm_buf_putc(b, c);
        }
        if (how == 4)
            cm_buf_puts(b, ".");
        else if (how == 5)
            cm_buf_puts(b, ",");
    }
}

static void
find_all(const struct pol_pii_model *m, const struct cm_buf *texts, const size_t *off, size_t n,
         struct cm_buf *out)
{
    struct pol_pii_spans sp;

    pol_pii_spans_init(&sp);
    for (size_t k = 0; k < n; k++) {
        pol_pii_spans_reset(&sp);
        ck_assert_int_eq(
            pol_pii_model_find(m, texts->p + off[k], off[k + 1] - off[k], POL_PII_ALL, &sp), CM_OK);
        for (size_t j = 0; j < sp.n; j++)
            cm_buf_printf(out, "%zu %zu %zu %d %.9g\n", k, sp.v[j].start, sp.v[j].end,
                          (int)sp.v[j].label, (double)sp.v[j].score);
    }
    pol_pii_spans_fini(&sp);
}

START_TEST(lexical_cache_is_invisible)
{
    const char *path = "policy/pii/model/steward-pii.model";
    struct pol_pii_model *cached = NULL, *plain = NULL;
    struct cm_err err = {{0}};
    struct cm_buf texts, a, b, c, d;
    size_t off[301];
    uint64_t rng = 42;

    cm_buf_init(&texts);
    off[0] = 0;
    for (size_t k = 0; k < 300; k++) {
        lex_text(&texts, &rng, (int)(k % 3));
        off[k + 1] = texts.len;
    }
    ck_assert_msg(pol_pii_model_load(path, &cached, &err) == CM_OK, "%s", err.msg);
    setenv("STEWARD_PII_NOCACHE", "1", 1);
    ck_assert_msg(pol_pii_model_load(path, &plain, &err) == CM_OK, "%s", err.msg);
    unsetenv("STEWARD_PII_NOCACHE");
    cm_buf_init(&a);
    cm_buf_init(&b);
    cm_buf_init(&c);
    cm_buf_init(&d);
    find_all(plain, &texts, off, 300, &a);
    find_all(cached, &texts, off, 300, &b);       /* fills the cache */
    find_all(shared_model, &texts, off, 300, &c); /* another model: another cache */
    find_all(cached, &texts, off, 300, &d);       /* refilled */
    ck_assert_uint_gt(a.len, 1000);               /* names were found */
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.p, b.p, a.len) == 0);
    ck_assert_uint_eq(a.len, d.len);
    ck_assert(memcmp(a.p, d.p, a.len) == 0);
    /* and the toy model, between the two, decoded as it does without */
    {
        struct pol_pii_model *toy = NULL;
        size_t len;
        const void *img = pol_pii_model_image(shared_model, &len);

        setenv("STEWARD_PII_NOCACHE", "1", 1);
        ck_assert_int_eq(pol_pii_model_load_mem(img, len, &toy, &err), CM_OK);
        unsetenv("STEWARD_PII_NOCACHE");
        cm_buf_reset(&d);
        find_all(toy, &texts, off, 300, &d);
        ck_assert_uint_gt(c.len, 0);
        ck_assert_uint_eq(c.len, d.len);
        ck_assert(memcmp(c.p, d.p, c.len) == 0);
        pol_pii_model_free(toy);
    }
    cm_buf_fini(&texts);
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    cm_buf_fini(&c);
    cm_buf_fini(&d);
    pol_pii_model_free(cached);
    pol_pii_model_free(plain);
}
END_TEST

/* ----------------------------------------------------------- evaluation */

static struct pol_pii_span
span(size_t s, size_t e, enum pol_pii_label l)
{
    struct pol_pii_span sp = {s, e, l, 1.0f};

    return sp;
}

START_TEST(eval_arithmetic)
{
    struct pol_pii_eval ev = {0};
    struct pol_pii_span gold[] = {span(0, 10, POL_PII_PERSON), span(20, 30, POL_PII_PERSON),
                                  span(40, 50, POL_PII_LOCATION), span(60, 70, POL_PII_EMAIL)};
    struct pol_pii_span pred[] = {span(0, 10, POL_PII_PERSON),  /* exact */
                                  span(22, 35, POL_PII_PERSON), /* overlap only */
                                  span(40, 50, POL_PII_PERSON), /* wrong label */
                                  span(80, 90, POL_PII_EMAIL),  /* spurious */
                                  span(60, 70, POL_PII_EMAIL)}; /* exact */
    struct pol_pii_eval_counts all;
    struct pol_pii_prf p;

    pol_pii_eval_add(&ev, gold, 4, pred, 5);
    /* PERSON: gold 2, pred 3, exact 1, overlapping preds 2, overlapped gold 2 */
    ck_assert_uint_eq(ev.l[POL_PII_PERSON].gold, 2);
    ck_assert_uint_eq(ev.l[POL_PII_PERSON].pred, 3);
    ck_assert_uint_eq(ev.l[POL_PII_PERSON].exact, 1);
    ck_assert_uint_eq(ev.l[POL_PII_PERSON].ovl_pred, 2);
    ck_assert_uint_eq(ev.l[POL_PII_PERSON].ovl_gold, 2);
    p = pol_pii_prf_exact(&ev.l[POL_PII_PERSON]);
    ck_assert_double_eq_tol(p.p, 1.0 / 3, 1e-9);
    ck_assert_double_eq_tol(p.r, 0.5, 1e-9);
    ck_assert_double_eq_tol(p.f, 0.4, 1e-9);
    p = pol_pii_prf_overlap(&ev.l[POL_PII_PERSON]);
    ck_assert_double_eq_tol(p.p, 2.0 / 3, 1e-9);
    ck_assert_double_eq_tol(p.r, 1.0, 1e-9);
    ck_assert_double_eq_tol(p.f, 0.8, 1e-9);
    /* LOCATION: missed entirely */
    p = pol_pii_prf_exact(&ev.l[POL_PII_LOCATION]);
    ck_assert_double_eq(p.r, 0.0);
    ck_assert_double_eq(p.f, 0.0);
    /* EMAIL: P 1/2, R 1 */
    p = pol_pii_prf_exact(&ev.l[POL_PII_EMAIL]);
    ck_assert_double_eq_tol(p.p, 0.5, 1e-9);
    ck_assert_double_eq_tol(p.r, 1.0, 1e-9);
    /* micro average over all labels: exact 2 of 5 predicted, of 4 gold */
    all = pol_pii_eval_sum(&ev, POL_PII_ALL);
    p = pol_pii_prf_exact(&all);
    ck_assert_uint_eq(all.gold, 4);
    ck_assert_uint_eq(all.pred, 5);
    ck_assert_double_eq_tol(p.p, 0.4, 1e-9);
    ck_assert_double_eq_tol(p.r, 0.5, 1e-9);
    /* a duplicate prediction matches a gold span only once */
    memset(&ev, 0, sizeof(ev));
    {
        struct pol_pii_span g1[] = {span(0, 4, POL_PII_PERSON)};
        struct pol_pii_span p2[] = {span(0, 4, POL_PII_PERSON), span(0, 4, POL_PII_PERSON)};

        pol_pii_eval_add(&ev, g1, 1, p2, 2);
        ck_assert_uint_eq(ev.l[POL_PII_PERSON].exact, 1);
    }
}
END_TEST

/* -------------------------------------------------------------- offsets */

START_TEST(codepoint_offsets)
{
    /* a, e-acute (2 bytes), euro (3), grinning face (4), b */
    const char *t = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                    "b";
    size_t len = strlen(t);
    struct pol_pii_span v[] = {span(1, 3, POL_PII_PERSON), span(3, 10, POL_PII_PERSON),
                               span(10, 11, POL_PII_EMAIL), span(0, 11, POL_PII_URL)};

    ck_assert_uint_eq(pol_pii_cp_to_byte(t, len, 0), 0);
    ck_assert_uint_eq(pol_pii_cp_to_byte(t, len, 1), 1);
    ck_assert_uint_eq(pol_pii_cp_to_byte(t, len, 2), 3);
    ck_assert_uint_eq(pol_pii_cp_to_byte(t, len, 3), 6);
    ck_assert_uint_eq(pol_pii_cp_to_byte(t, len, 4), 10);
    ck_assert_uint_eq(pol_pii_cp_to_byte(t, len, 5), 11);
    ck_assert_uint_eq(pol_pii_cp_to_byte(t, len, 99), 11);
    ck_assert_uint_eq(pol_pii_byte_to_cp(t, 6), 3);
    ck_assert_uint_eq(pol_pii_byte_to_cp(t, 11), 5);
    pol_pii_spans_to_cp(t, len, v, 4);
    ck_assert_uint_eq(v[0].start, 1);
    ck_assert_uint_eq(v[0].end, 2);
    ck_assert_uint_eq(v[1].start, 2);
    ck_assert_uint_eq(v[1].end, 4);
    ck_assert_uint_eq(v[2].start, 4);
    ck_assert_uint_eq(v[2].end, 5);
    ck_assert_uint_eq(v[3].start, 0); /* offsets going back restart the walk */
    ck_assert_uint_eq(v[3].end, 5);
}
END_TEST

START_TEST(doc_parse_lines)
{
    struct pol_pii_doc d;
    struct cm_err err = {{0}};
    const char *ok = "{\"id\": 3, \"text\": \"Zo\xc3\xab met Ann\", "
                     "\"spans\": [{\"start\": 0, \"end\": 3, \"label\": \"PERSON\"}, "
                     "{\"start\": 8, \"end\": 11, \"label\": \"PERSON\"}]}";
    static const struct {
        const char *line;
        const char *why;
    } bad[] = {
        {"{\"text\": \"caf\xe9\"}", "invalid UTF-8 at byte 13"},
        {"{\"text\": \"x\", ", "invalid JSON"},
        {"{\"txt\": \"x\"}", "no \"text\""},
        {"[1, 2]", "no \"text\""},
        {"{\"text\": \"abc\", \"spans\": [{\"start\": 1, \"end\": 9, \"label\": \"PERSON\"}]}",
         "outside"},
        {"{\"text\": \"abc\", \"spans\": [{\"start\": 0, \"end\": 1, \"label\": \"NAME\"}]}",
         "unknown label"},
        {"{\"text\": \"abc\", \"spans\": {}}", "not an array"},
    };

    ck_assert_int_eq(pol_pii_doc_parse(ok, strlen(ok), &d, &err), CM_OK);
    ck_assert_uint_eq(d.len, 12);
    ck_assert_uint_eq(d.nspans, 2);
    ck_assert_uint_eq(d.spans[0].end, 4); /* bytes: "Zo" + 2-byte e-diaeresis */
    ck_assert_uint_eq(d.spans[1].start, 9);
    ck_assert_uint_eq(d.spans[1].end, 12);
    pol_pii_doc_fini(&d);
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        memset(&err, 0, sizeof(err));
        ck_assert_int_eq(pol_pii_doc_parse(bad[k].line, strlen(bad[k].line), &d, &err), CM_EINPUT);
        ck_assert_msg(strstr(err.msg, bad[k].why) != NULL, "case %zu: '%s'", k, err.msg);
        /* the message never quotes the text */
        ck_assert_ptr_null(strstr(err.msg, "caf"));
        ck_assert_ptr_null(d.text);
    }
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("pii_model");
    TCase *tc = tcase_create("tokenizer");
    TCase *tm = tcase_create("model");
    TCase *te = tcase_create("eval");

    tcase_add_test(tc, tokenize_utf8);
    tcase_add_test(tc, tokenize_invalid_and_bounds);
    tcase_add_test(tc, tokenize_cap_and_resume);
    tcase_add_test(tc, cursor_matches_reference);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(tm, setup_model, teardown_model);
    tcase_set_timeout(tm, 60);
    tcase_add_test(tm, model_learns_toy_pattern);
    tcase_add_test(tm, model_training_deterministic);
    tcase_add_test(tm, model_file_round_trip);
    tcase_add_test(tm, model_file_refused);
    tcase_add_test(tm, detect_merges_with_recognizers);
    tcase_add_test(tm, model_long_and_odd_texts);
    tcase_add_test(tm, shipped_model_loads);
    tcase_add_test(tm, lexical_cache_is_invisible);
    suite_add_tcase(s, tm);
    tcase_add_test(te, eval_arithmetic);
    tcase_add_test(te, codepoint_offsets);
    tcase_add_test(te, doc_parse_lines);
    suite_add_tcase(s, te);
    return s;
}

int
main(void)
{
    return unit_run(suite());
}
