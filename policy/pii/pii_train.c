/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_train: corpora, offsets, gazetteer lists, the trainer and the
 * evaluator of the learned model (see pii_train.h).
 *
 * Training is Collins' structured perceptron with averaging: each text is
 * cut into windows exactly as inference cuts it (pii_cursor_next), each
 * window is decoded with Viterbi under the current weights, and when the
 * best path differs from the gold tags the features of the differing
 * tokens move towards gold and away from the prediction (transitions
 * likewise).  Weights and their time-weighted sums are integers, so the
 * averaged weights (w - u / c) are exact and the result does not depend on
 * floating-point summation order.  Generalisation: each feature occurrence
 * is left out with a probability that depends on its kind (word identity
 * and gazetteer features more often than context), so the model cannot
 * lean on memorised names or on the lists alone.  The shuffling and the
 * dropout draw from one xorshift generator seeded by opts->seed: the same
 * data, seed and options give the same bytes.
 *
 * Evaluation counts, per label, exact matches (same start, end and label)
 * and overlaps (a prediction overlapping a gold span of its label counts
 * for precision; a gold span overlapped by one counts for recall).
 */
#include "policy/pii/pii_train.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_buf.h"
#include "common/cm_mem.h"
#include "policy/pii/pii_detect.h"
#include "policy/pii/pii_model_int.h"

/* ------------------------------------------------------------- offsets */

size_t
pol_pii_cp_to_byte(const char *text, size_t len, size_t cp)
{
    size_t seen = 0;

    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80) {
            if (seen == cp)
                return i;
            seen++;
        }
    }
    return len;
}

size_t
pol_pii_byte_to_cp(const char *text, size_t off)
{
    size_t cp = 0;

    for (size_t i = 0; i < off; i++)
        cp += ((unsigned char)text[i] & 0xC0) != 0x80;
    return cp;
}

void
pol_pii_spans_to_cp(const char *text, size_t len, struct pol_pii_span *v, size_t n)
{
    /* walk forward from the last converted offset while offsets grow */
    size_t last_b = 0, last_cp = 0;

    for (size_t k = 0; k < n; k++) {
        size_t *offs[2] = {&v[k].start, &v[k].end};

        for (int e = 0; e < 2; e++) {
            size_t b = *offs[e] > len ? len : *offs[e];

            if (b < last_b) {
                last_b = 0;
                last_cp = 0;
            }
            last_cp += pol_pii_byte_to_cp(text + last_b, b - last_b);
            last_b = b;
            *offs[e] = last_cp;
        }
    }
}

/* ------------------------------------------------------------- corpora */

void
pol_pii_corpus_init(struct pol_pii_corpus *c)
{
    memset(c, 0, sizeof(*c));
}

void
pol_pii_doc_fini(struct pol_pii_doc *doc)
{
    free(doc->text);
    free(doc->spans);
    memset(doc, 0, sizeof(*doc));
}

void
pol_pii_corpus_fini(struct pol_pii_corpus *c)
{
    for (size_t k = 0; k < c->n; k++)
        pol_pii_doc_fini(&c->docs[k]);
    free(c->docs);
    pol_pii_corpus_init(c);
}

/* The byte offset of the first invalid UTF-8 sequence, or n. */
static size_t
utf8_invalid_at(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = pii_utf8_next(s, n, i, &cp);

        if (cp == 0xFFFD && l == 1)
            return i;
        i += l;
    }
    return n;
}

int
pol_pii_doc_parse(const char *line, size_t n, struct pol_pii_doc *doc, struct cm_err *err)
{
    json_t *root = NULL, *text, *spans;
    json_error_t jerr;
    size_t bad, ncp;
    int rc = CM_EINPUT;

    memset(doc, 0, sizeof(*doc));
    bad = utf8_invalid_at(line, n);
    if (bad < n)
        return cm_err_set(err, CM_EINPUT, "invalid UTF-8 at byte %zu", bad);
    root = json_loadb(line, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jerr.text may quote the input: give the position only */
        cm_err_set(err, CM_EINPUT, "invalid JSON at column %d", jerr.column);
        goto fail;
    }
    text = json_object_get(root, "text");
    if (!json_is_object(root) || !json_is_string(text)) {
        cm_err_set(err, CM_EINPUT, "no \"text\" string");
        goto fail;
    }
    doc->len = json_string_length(text);
    doc->text = cm_malloc(doc->len + 1);
    memcpy(doc->text, json_string_value(text), doc->len + 1);
    ncp = pol_pii_byte_to_cp(doc->text, doc->len);
    spans = json_object_get(root, "spans");
    if (spans != NULL && !json_is_array(spans)) {
        cm_err_set(err, CM_EINPUT, "\"spans\" is not an array");
        goto fail;
    }
    if (spans != NULL && json_array_size(spans) > 0) {
        size_t k;
        json_t *sp;

        doc->spans = cm_calloc(json_array_size(spans), sizeof(*doc->spans));
        json_array_foreach (spans, k, sp) {
            json_t *js = json_object_get(sp, "start"), *je = json_object_get(sp, "end");
            json_t *jl = json_object_get(sp, "label");
            json_int_t s, e;
            enum pol_pii_label label;

            if (!json_is_integer(js) || !json_is_integer(je) || !json_is_string(jl)) {
                cm_err_set(err, CM_EINPUT, "span %zu: needs integer start, end and a label", k);
                goto fail;
            }
            s = json_integer_value(js);
            e = json_integer_value(je);
            if (s < 0 || e < s || (size_t)e > ncp) {
                cm_err_set(err, CM_EINPUT, "span %zu: offsets %lld..%lld outside the text", k,
                           (long long)s, (long long)e);
                goto fail;
            }
            if (pol_pii_label_parse(json_string_value(jl), json_string_length(jl), &label) !=
                CM_OK) {
                cm_err_set(err, CM_EINPUT, "span %zu: unknown label", k);
                goto fail;
            }
            doc->spans[doc->nspans].start = pol_pii_cp_to_byte(doc->text, doc->len, (size_t)s);
            doc->spans[doc->nspans].end = pol_pii_cp_to_byte(doc->text, doc->len, (size_t)e);
            doc->spans[doc->nspans].label = label;
            doc->spans[doc->nspans].score = 1.0f;
            doc->nspans++;
        }
    }
    rc = CM_OK;
fail:
    json_decref(root);
    if (rc != CM_OK)
        pol_pii_doc_fini(doc);
    return rc;
}

int
pol_pii_each_line(FILE *f, pol_pii_line_fn fn, void *arg)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;

    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t n = (size_t)got;

        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n > 0)
            fn(arg, lineno, line, n);
    }
    free(line);
    return ferror(f) ? CM_EIO : CM_OK;
}

struct load_ctx {
    struct pol_pii_corpus *c;
    const char *path;
    FILE *diag;
    size_t *bad;
};

static void
load_line(void *arg, size_t lineno, const char *line, size_t n)
{
    struct load_ctx *lc = arg;
    struct pol_pii_corpus *c = lc->c;
    struct pol_pii_doc doc;
    struct cm_err e = {{0}};

    if (pol_pii_doc_parse(line, n, &doc, &e) != CM_OK) {
        if (lc->diag)
            fprintf(lc->diag, "%s:%zu: %s\n", lc->path, lineno, e.msg);
        (*lc->bad)++;
        return;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->docs = cm_realloc(c->docs, c->cap * sizeof(*c->docs));
    }
    c->docs[c->n++] = doc;
}

int
pol_pii_corpus_load(struct pol_pii_corpus *c, const char *path, FILE *diag, size_t *bad,
                    struct cm_err *err)
{
    FILE *f = fopen(path, "r");
    struct load_ctx lc = {c, path, diag, bad};
    int rc;

    if (f == NULL)
        return cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    rc = pol_pii_each_line(f, load_line, &lc);
    fclose(f);
    if (rc != CM_OK)
        return cm_err_set(err, CM_EIO, "%s: read error", path);
    return CM_OK;
}

/* ---------------------------------------------------------- evaluation */

static bool
overlaps(const struct pol_pii_span *a, const struct pol_pii_span *b)
{
    return a->label == b->label && a->start < b->end && b->start < a->end;
}

void
pol_pii_eval_add(struct pol_pii_eval *ev, const struct pol_pii_span *gold, size_t ngold,
                 const struct pol_pii_span *pred, size_t npred)
{
    bool *used = cm_calloc(ngold ? ngold : 1, sizeof(bool));

    for (size_t g = 0; g < ngold; g++) {
        struct pol_pii_eval_counts *c = &ev->l[gold[g].label];

        c->gold++;
        for (size_t p = 0; p < npred; p++) {
            if (overlaps(&gold[g], &pred[p])) {
                c->ovl_gold++;
                break;
            }
        }
    }
    for (size_t p = 0; p < npred; p++) {
        struct pol_pii_eval_counts *c = &ev->l[pred[p].label];
        bool ov = false, ex = false;

        c->pred++;
        for (size_t g = 0; g < ngold; g++) {
            if (!overlaps(&gold[g], &pred[p]))
                continue;
            ov = true;
            if (!ex && !used[g] && gold[g].start == pred[p].start && gold[g].end == pred[p].end) {
                used[g] = true;
                ex = true;
            }
        }
        c->ovl_pred += ov;
        c->exact += ex;
    }
    free(used);
}

struct pol_pii_eval_counts
pol_pii_eval_sum(const struct pol_pii_eval *ev, unsigned labels)
{
    struct pol_pii_eval_counts s = {0};

    for (unsigned l = 0; l < POL_PII__COUNT; l++) {
        if (!(labels & POL_PII_MASK(l)))
            continue;
        s.gold += ev->l[l].gold;
        s.pred += ev->l[l].pred;
        s.exact += ev->l[l].exact;
        s.ovl_pred += ev->l[l].ovl_pred;
        s.ovl_gold += ev->l[l].ovl_gold;
    }
    return s;
}

static struct pol_pii_prf
prf(size_t tp_p, size_t pred, size_t tp_r, size_t gold)
{
    struct pol_pii_prf r;

    r.p = pred ? (double)tp_p / (double)pred : 0.0;
    r.r = gold ? (double)tp_r / (double)gold : 0.0;
    r.f = r.p + r.r > 0 ? 2 * r.p * r.r / (r.p + r.r) : 0.0;
    return r;
}

struct pol_pii_prf
pol_pii_prf_exact(const struct pol_pii_eval_counts *c)
{
    return prf(c->exact, c->pred, c->exact, c->gold);
}

struct pol_pii_prf
pol_pii_prf_overlap(const struct pol_pii_eval_counts *c)
{
    return prf(c->ovl_pred, c->pred, c->ovl_gold, c->gold);
}

static void
print_row(FILE *f, const char *name, const struct pol_pii_eval_counts *c)
{
    struct pol_pii_prf e = pol_pii_prf_exact(c), o = pol_pii_prf_overlap(c);

    fprintf(f, "%-13s %6zu %6zu  %5.3f %5.3f %5.3f   %5.3f %5.3f %5.3f\n", name, c->gold, c->pred,
            e.p, e.r, e.f, o.p, o.r, o.f);
}

void
pol_pii_eval_print(const struct pol_pii_eval *ev, unsigned labels, FILE *f)
{
    struct pol_pii_eval_counts all = pol_pii_eval_sum(ev, labels);

    fprintf(f, "%-13s %6s %6s  %-17s   %-17s\n", "label", "gold", "pred", "exact P     R     F1",
            "overlap P   R     F1");
    for (unsigned l = 0; l < POL_PII__COUNT; l++) {
        const struct pol_pii_eval_counts *c = &ev->l[l];

        if (!(labels & POL_PII_MASK(l)) || (c->gold == 0 && c->pred == 0))
            continue;
        print_row(f, pol_pii_label_name(l), c);
    }
    print_row(f, "micro-avg", &all);
}

int
pol_pii_evaluate(const struct pol_pii_model *model, const struct pol_pii_corpus *c, unsigned labels,
                 struct pol_pii_eval *ev)
{
    struct pol_pii_spans sp;
    int rc = CM_OK;

    pol_pii_spans_init(&sp);
    for (size_t k = 0; k < c->n && rc == CM_OK; k++) {
        const struct pol_pii_doc *d = &c->docs[k];
        struct pol_pii_span *gold = cm_malloc((d->nspans ? d->nspans : 1) * sizeof(*gold));
        size_t ng = 0;

        pol_pii_spans_reset(&sp);
        rc = pol_pii_detect(model, d->text, d->len, labels, &sp);
        for (size_t g = 0; g < d->nspans; g++) {
            if (labels & POL_PII_MASK(d->spans[g].label))
                gold[ng++] = d->spans[g];
        }
        pol_pii_eval_add(ev, gold, ng, sp.v, sp.n);
        free(gold);
    }
    pol_pii_spans_fini(&sp);
    return rc;
}

/* ------------------------------------------------------------ gazetteer */

/* Lines of a list file: calls fn(arg, fields, nfields) with the tab-separated
 * fields of each line that is not empty and not a '#' comment. */
typedef void (*line_fn)(void *arg, char **fields, size_t nf, size_t lineno);

static int
each_line(const char *dir, const char *name, line_fn fn, void *arg, struct cm_err *err)
{
    struct cm_buf path;
    FILE *f;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;

    cm_buf_init(&path);
    cm_buf_printf(&path, "%s/%s", dir, name);
    f = fopen(path.p, "r");
    if (f == NULL) {
        int rc = cm_err_set(err, CM_EIO, "%s: %s", path.p, strerror(errno));

        cm_buf_fini(&path);
        return rc;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        char *fields[8];
        size_t nf = 0;
        char *s = line;

        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got == 0 || line[0] == '#')
            continue;
        fields[nf++] = s;
        while (nf < 8 && (s = strchr(s, '\t')) != NULL) {
            *s++ = '\0';
            fields[nf++] = s;
        }
        fn(arg, fields, nf, lineno);
    }
    free(line);
    fclose(f);
    cm_buf_fini(&path);
    return CM_OK;
}

/* Minimum births for a given name, and how many of the most frequent given
 * names and surnames get the _TOP bit.  Rare names stay out: they add
 * false positives on ordinary words more than they add recall. */
#define FIRST_MIN_BIRTHS 30
#define FIRST_TOP 1500
#define SURNAME_MAX_RANK 60000
#define SURNAME_TOP 3000

struct gaz_ctx {
    struct pii_gaz_builder *b;
    struct pii_gaz_builder common; /* common words, to vet company stems */
    struct pol_pii_gaz *common_gaz;
    unsigned bit;
};

static void
add_str(struct pii_gaz_builder *b, const char *s, unsigned bit)
{
    pii_gaz_builder_add(b, s, strlen(s), bit);
}

static void
on_first(void *arg, char **f, size_t nf, size_t lineno)
{
    struct gaz_ctx *g = arg;

    if (nf < 3 || strtoull(f[2], NULL, 10) < FIRST_MIN_BIRTHS)
        return;
    add_str(g->b, f[0], G_FIRST);
    if (lineno <= FIRST_TOP + 1)
        add_str(g->b, f[0], G_FIRST_TOP);
}

static void
on_surname(void *arg, char **f, size_t nf, size_t lineno)
{
    struct gaz_ctx *g = arg;
    unsigned long rank = nf >= 4 ? strtoul(f[3], NULL, 10) : lineno;
    char buf[128];

    (void)lineno;
    if (rank > SURNAME_MAX_RANK)
        return;
    add_str(g->b, f[0], G_SURNAME);
    if (rank <= SURNAME_TOP)
        add_str(g->b, f[0], G_SURNAME_TOP);
    /* the Census list has no apostrophes: OBRIEN is also O'Brien */
    if ((f[0][0] == 'O' || f[0][0] == 'D') && strlen(f[0]) >= 4 && strlen(f[0]) < 100 &&
        strchr("AEIOU", f[0][1]) == NULL) {
        snprintf(buf, sizeof(buf), "%c'%s", f[0][0], f[0] + 1);
        add_str(g->b, buf, G_SURNAME);
    }
}

static void
on_col0(void *arg, char **f, size_t nf, size_t lineno)
{
    struct gaz_ctx *g = arg;

    (void)nf;
    (void)lineno;
    add_str(g->b, f[0], g->bit);
}

static void
on_street(void *arg, char **f, size_t nf, size_t lineno)
{
    struct gaz_ctx *g = arg;

    (void)lineno;
    for (size_t k = 0; k < nf; k++) {
        char *s = f[k], *e;

        while (s && *s) {
            e = strchr(s, ',');
            if (e)
                *e = '\0';
            add_str(g->b, s, G_STREET);
            s = e ? e + 1 : NULL;
        }
    }
}

static const char *const lexicon_classes[G__COUNT] = {
    [G_FIRST] = "first",
    [G_FIRST_TOP] = "first_top",
    [G_SURNAME] = "surname",
    [G_SURNAME_TOP] = "surname_top",
    [G_CITY] = "city",
    [G_COUNTRY] = "country",
    [G_REGION] = "region",
    [G_COMPANY] = "company",
    [G_STREET] = "street",
    [G_HONORIFIC] = "honorific",
    [G_ORG_SUFFIX] = "org_suffix",
    [G_ORG_WORD] = "org_word",
    [G_COMMON] = "common",
    [G_MONTH_DAY] = "month_day",
    [G_LOC_WORD] = "loc_word",
    [G_NAME_CUE] = "name_cue",
    [G_LOC_CUE] = "loc_cue",
    [G_NONENT] = "nonent",
    [G_DICT] = "dict",
    [G_PROPER] = "proper",
};

static void
on_lexicon(void *arg, char **f, size_t nf, size_t lineno)
{
    struct gaz_ctx *g = arg;

    (void)lineno;
    if (nf < 2)
        return;
    for (unsigned b = 0; b < G__COUNT; b++) {
        if (lexicon_classes[b] && strcmp(lexicon_classes[b], f[0]) == 0) {
            add_str(g->b, f[1], b);
            if (b == G_COMMON)
                add_str(&g->common, f[1], b);
            return;
        }
    }
}

static void
on_common(void *arg, char **f, size_t nf, size_t lineno)
{
    struct gaz_ctx *g = arg;

    (void)nf;
    (void)lineno;
    add_str(g->b, f[0], G_COMMON);
    add_str(&g->common, f[0], G_COMMON);
}

static void
on_dict(void *arg, char **f, size_t nf, size_t lineno)
{
    struct gaz_ctx *g = arg;

    (void)nf;
    (void)lineno;
    add_str(g->b, f[0], G_DICT);
    add_str(&g->common, f[0], G_DICT);
}

static bool
is_suffix_word(const char *w, size_t n)
{
    static const char *const suf[] = {"inc",     "corp", "corporation", "co",  "ltd", "llc",
                                      "lp",      "plc",  "company",     "sa",  "ag",  "nv",
                                      "limited", "l.p",  "n.v",         "s.a", "se",  "trust"};

    for (size_t k = 0; k < CM_ARRAY_LEN(suf); k++) {
        if (strlen(suf[k]) == n && strncasecmp(suf[k], w, n) == 0)
            return true;
    }
    return false;
}

static void
on_company(void *arg, char **f, size_t nf, size_t lineno)
{
    struct gaz_ctx *g = arg;
    char buf[256];
    size_t n = 0;
    struct pol_pii_token toks[16];
    size_t next, nt, keep;
    struct pii_gaz gz;

    (void)nf;
    (void)lineno;
    pii_gaz_view(g->common_gaz, &gz);
    /* clean: drop "/NEW"-style tails and parenthesised parts, commas */
    for (const char *s = f[0]; *s && n + 1 < sizeof(buf); s++) {
        if (*s == '/' || *s == '(')
            break;
        if (*s == ',')
            continue;
        buf[n++] = *s;
    }
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '.'))
        n--;
    buf[n] = '\0';
    if (n == 0)
        return;
    add_str(g->b, buf, G_COMPANY);
    /* the stem without legal suffixes, unless it is one common word */
    nt = pol_pii_tokenize(buf, n, 0, toks, 16, &next);
    keep = nt;
    while (keep > 0 &&
           (is_suffix_word(buf + toks[keep - 1].start, toks[keep - 1].end - toks[keep - 1].start) ||
            toks[keep - 1].end - toks[keep - 1].start == 1))
        keep--;
    if (keep == 0 || keep == nt)
        return;
    if (keep == 1) {
        /* the stem is the text's first token: a window of it alone */
        struct pii_cursor cur;
        struct pii_window w;
        struct pii_fparams fp;

        pii_fparams_init(&fp, 8, 0, &gz);
        pii_cursor_init(&cur, buf, toks[0].end);
        if (pii_cursor_next(&cur, &fp, true, &w) == 1 &&
            (w.tok[0].gaz & ((1u << G_COMMON) | (1u << G_DICT))))
            return;
    }
    pii_gaz_builder_add(g->b, buf, toks[keep - 1].end, G_COMPANY);
}

int
pol_pii_gaz_load_dir(const char *dir, struct pol_pii_gaz **out, struct cm_err *err)
{
    struct pii_gaz_builder b;
    struct gaz_ctx g = {.b = &b};
    int rc;

    *out = NULL;
    pii_gaz_builder_init(&b);
    pii_gaz_builder_init(&g.common);
    if ((rc = each_line(dir, "lexicon.tsv", on_lexicon, &g, err)) != CM_OK ||
        (rc = each_line(dir, "common_words.txt", on_common, &g, err)) != CM_OK ||
        (rc = each_line(dir, "english_words.txt", on_dict, &g, err)) != CM_OK)
        goto fail;
    g.bit = G_PROPER;
    if ((rc = each_line(dir, "proper_nouns.txt", on_col0, &g, err)) != CM_OK)
        goto fail;
    g.common_gaz = pii_gaz_builder_table(&g.common);
    if ((rc = each_line(dir, "first_names_ssa.tsv", on_first, &g, err)) != CM_OK ||
        (rc = each_line(dir, "surnames_census1990.tsv", on_surname, &g, err)) != CM_OK)
        goto fail;
    g.bit = G_CITY;
    if ((rc = each_line(dir, "cities_geonames15000.tsv", on_col0, &g, err)) != CM_OK)
        goto fail;
    g.bit = G_COUNTRY;
    if ((rc = each_line(dir, "countries.txt", on_col0, &g, err)) != CM_OK)
        goto fail;
    g.bit = G_REGION;
    if ((rc = each_line(dir, "regions_admin1.tsv", on_col0, &g, err)) != CM_OK)
        goto fail;
    if ((rc = each_line(dir, "street_suffixes_usps.tsv", on_street, &g, err)) != CM_OK ||
        (rc = each_line(dir, "companies_sec.tsv", on_company, &g, err)) != CM_OK)
        goto fail;
    *out = pii_gaz_builder_table(&b);
fail:
    pol_pii_gaz_free(g.common_gaz);
    pii_gaz_builder_fini(&g.common);
    pii_gaz_builder_fini(&b);
    return rc;
}

struct pol_pii_gaz *
pol_pii_gaz_from_model(const struct pol_pii_model *model)
{
    struct pii_gaz v;
    uint32_t bits;
    struct pol_pii_gaz *g = cm_calloc(1, sizeof(*g));
    size_t ns;

    pii_model_gaz(model, &v, &bits);
    ns = (size_t)1 << bits;
    g->mem = cm_malloc((ns + v.nvals) * sizeof(uint32_t));
    memcpy(g->mem, v.slots, ns * sizeof(uint32_t));
    memcpy(g->mem + ns, v.vals, v.nvals * sizeof(uint32_t));
    g->bits = bits;
    g->nvals = v.nvals;
    return g;
}

/* ------------------------------------------------------------- training */

void
pol_pii_train_opts_default(struct pol_pii_train_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->epochs = 10;
    opts->seed = 20261129;
    opts->hash_bits = 17;
    opts->labels = POL_PII_MASK(POL_PII_PERSON) | POL_PII_MASK(POL_PII_LOCATION) |
                   POL_PII_MASK(POL_PII_ORGANIZATION);
    opts->drop = 0.15f;
    opts->drop_word = 0.3f;
    opts->drop_gaz = 0.3f;
}

static uint64_t
rng_next(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* The training set as feature lists: windows of tokens, each token with
 * its gold tag and its feature buckets and kinds. */
struct tset {
    uint32_t *win_begin; /* first token of window k; win_begin[nwin] = ntok */
    size_t nwin;
    uint32_t *feat_begin; /* first feature of token t; [ntok] = nfeat */
    uint8_t *gold;
    size_t ntok;
    uint32_t *feat;
    uint8_t *kind;
    size_t nfeat, capfeat, captok, capwin;
    size_t misaligned; /* gold span ends inside a token */
};

static void
tset_free(struct tset *ts)
{
    free(ts->win_begin);
    free(ts->feat_begin);
    free(ts->gold);
    free(ts->feat);
    free(ts->kind);
}

static int
type_of(const struct pol_pii_train_opts *o, const enum pol_pii_label *types, unsigned ntypes,
        enum pol_pii_label l)
{
    (void)o;
    for (unsigned k = 0; k < ntypes; k++) {
        if (types[k] == l)
            return (int)k;
    }
    return -1;
}

static void
tset_add_doc(struct tset *ts, const struct pii_fparams *fp, const struct pol_pii_doc *d,
             const enum pol_pii_label *types, unsigned ntypes)
{
    struct pii_cursor cur;
    struct pii_window win;
    size_t n;

    pii_cursor_init(&cur, d->text, d->len);
    while ((n = pii_cursor_next(&cur, fp, true, &win)) > 0) {
        const struct pii_tok *tok = win.tok;

        if (ts->nwin + 2 > ts->capwin) {
            ts->capwin = ts->capwin ? ts->capwin * 2 : 1024;
            ts->win_begin = cm_realloc(ts->win_begin, ts->capwin * sizeof(uint32_t));
        }
        ts->win_begin[ts->nwin++] = (uint32_t)ts->ntok;
        for (size_t i = 0; i < n; i++) {
            uint8_t tag = PII_TAG_O;

            if (ts->ntok + 2 > ts->captok) {
                ts->captok = ts->captok ? ts->captok * 2 : 16384;
                ts->feat_begin = cm_realloc(ts->feat_begin, ts->captok * sizeof(uint32_t));
                ts->gold = cm_realloc(ts->gold, ts->captok);
            }
            if (ts->nfeat + PII_MAX_FEATS > ts->capfeat) {
                ts->capfeat = ts->capfeat ? ts->capfeat * 2 : 1 << 20;
                ts->feat = cm_realloc(ts->feat, ts->capfeat * sizeof(uint32_t));
                ts->kind = cm_realloc(ts->kind, ts->capfeat);
            }
            for (size_t s = 0; s < d->nspans; s++) {
                const struct pol_pii_span *sp = &d->spans[s];
                int ty = type_of(NULL, types, ntypes, sp->label);

                if (ty < 0 || tok[i].end <= sp->start || tok[i].start >= sp->end)
                    continue;
                if (tok[i].end > sp->end || tok[i].start < sp->start)
                    ts->misaligned++;
                /* B on the span's first token in this window */
                tag = (i == 0 || tok[i - 1].end <= sp->start) ? PII_TAG_B(ty) : PII_TAG_I(ty);
                break;
            }
            ts->gold[ts->ntok] = tag;
            ts->feat_begin[ts->ntok] = (uint32_t)ts->nfeat;
            ts->nfeat +=
                pii_token_features(fp, &win, i, ts->feat + ts->nfeat, ts->kind + ts->nfeat);
            ts->ntok++;
        }
    }
}

struct trainer {
    unsigned ntags;
    size_t nb;
    int32_t *w; /* [nb][PII_ROW] */
    int64_t *u; /* time-weighted sums of the updates */
    int32_t tw[PII_ROW * PII_ROW];
    int64_t tu[PII_ROW * PII_ROW];
    int64_t c; /* instances seen + 1 */
};

static bool
allowed(unsigned from, unsigned to)
{
    if (to == PII_TAG_O || PII_TAG_IS_B(to))
        return true;
    return from != PII_MAX_TAGS && from != PII_TAG_O && PII_TAG_TYPE(from) == PII_TAG_TYPE(to);
}

/* Viterbi over emissions em[n][PII_ROW] with integer transitions. */
static void
viterbi(const struct trainer *tr, const int64_t (*em)[PII_ROW], size_t n, uint8_t *path)
{
    int64_t fwd[2][PII_ROW];
    static uint8_t bp[PII_WINDOW][PII_ROW];
    unsigned nt = tr->ntags, by = 0;
    const int64_t NEG = -((int64_t)1 << 50);

    if (n == 0)
        return;

    for (unsigned y = 0; y < nt; y++)
        fwd[0][y] = allowed(PII_MAX_TAGS, y) ? em[0][y] + tr->tw[PII_MAX_TAGS * PII_ROW + y] : NEG;
    for (size_t i = 1; i < n; i++) {
        int64_t *cur = fwd[i & 1], *prev = fwd[(i - 1) & 1];

        for (unsigned y = 0; y < nt; y++) {
            int64_t bs = NEG;
            unsigned arg = 0;

            for (unsigned x = 0; x < nt; x++) {
                int64_t s;

                if (!allowed(x, y))
                    continue;
                s = prev[x] + tr->tw[x * PII_ROW + y];
                if (s > bs) {
                    bs = s;
                    arg = x;
                }
            }
            cur[y] = bs + em[i][y];
            bp[i][y] = (uint8_t)arg;
        }
    }
    for (unsigned y = 1; y < nt; y++) {
        if (fwd[(n - 1) & 1][y] > fwd[(n - 1) & 1][by])
            by = y;
    }
    path[n - 1] = (uint8_t)by;
    for (size_t i = n - 1; i > 0; i--)
        path[i - 1] = bp[i][path[i]];
}

static void
upd(int32_t *w, int64_t *u, size_t idx, int d, int64_t c)
{
    w[idx] += d;
    u[idx] += (int64_t)d * c;
}

/* One pass over the training windows in the given order. */
static size_t
train_epoch(struct trainer *tr, const struct tset *ts, const uint32_t *order,
            const struct pol_pii_train_opts *o, uint64_t *rng, FILE *log)
{
    static int64_t em[PII_WINDOW][PII_ROW];
    static uint8_t path[PII_WINDOW];
    uint32_t *kept = cm_malloc(PII_WINDOW * PII_MAX_FEATS * sizeof(uint32_t));
    uint16_t nkept[PII_WINDOW];
    uint32_t thr[3];
    size_t mistakes = 0;

    thr[0] = (uint32_t)(o->drop * 4294967295.0f);
    thr[1] = (uint32_t)(o->drop_word * 4294967295.0f);
    thr[2] = (uint32_t)(o->drop_gaz * 4294967295.0f);
    for (size_t k = 0; k < ts->nwin; k++) {
        size_t wi = order[k];
        size_t t0 = ts->win_begin[wi], n = ts->win_begin[wi + 1] - t0;
        bool wrong = false;

        if (log && o->progress && (k % 4096) == 0)
            fprintf(log, "\r  %5.1f%%", 100.0 * (double)k / (double)ts->nwin);
        for (size_t i = 0; i < n; i++) {
            size_t f0 = ts->feat_begin[t0 + i], f1 = ts->feat_begin[t0 + i + 1];
            uint32_t *kp = kept + i * PII_MAX_FEATS;
            unsigned nk = 0;

            for (unsigned y = 0; y < PII_ROW; y++)
                em[i][y] = 0;
            for (size_t f = f0; f < f1; f++) {
                const int32_t *row;

                if ((uint32_t)(rng_next(rng) >> 32) < thr[ts->kind[f]])
                    continue;
                kp[nk++] = ts->feat[f];
                row = tr->w + (size_t)ts->feat[f] * PII_ROW;
                for (unsigned y = 0; y < PII_ROW; y++)
                    em[i][y] += row[y];
            }
            nkept[i] = (uint16_t)nk;
        }
        viterbi(tr, (const int64_t(*)[PII_ROW])em, n, path);
        for (size_t i = 0; i < n; i++) {
            unsigned g = ts->gold[t0 + i], p = path[i];
            unsigned gp = i ? ts->gold[t0 + i - 1] : PII_MAX_TAGS;
            unsigned pp = i ? path[i - 1] : PII_MAX_TAGS;

            if (g != p) {
                const uint32_t *kp = kept + i * PII_MAX_FEATS;

                wrong = true;
                for (unsigned f = 0; f < nkept[i]; f++) {
                    upd(tr->w, tr->u, (size_t)kp[f] * PII_ROW + g, 1, tr->c);
                    upd(tr->w, tr->u, (size_t)kp[f] * PII_ROW + p, -1, tr->c);
                }
            }
            if (g != p || gp != pp) {
                upd(tr->tw, tr->tu, gp * PII_ROW + g, 1, tr->c);
                upd(tr->tw, tr->tu, pp * PII_ROW + p, -1, tr->c);
            }
        }
        mistakes += wrong;
        tr->c++;
    }
    free(kept);
    if (log && o->progress)
        fprintf(log, "\r         \r");
    return mistakes;
}

/* The averaged weights as a model. */
static int
snapshot(const struct trainer *tr, const struct pol_pii_train_opts *o,
         const enum pol_pii_label *types, unsigned ntypes, const struct pol_pii_gaz *gaz,
         float gain, struct pol_pii_model **out, struct cm_err *err)
{
    float *w = cm_malloc(tr->nb * PII_ROW * sizeof(float));
    float tw[PII_ROW * PII_ROW];
    struct pii_image_parts parts = {0};
    struct cm_buf img;
    int rc;

    for (size_t k = 0; k < tr->nb * PII_ROW; k++)
        w[k] = (float)((double)tr->w[k] - (double)tr->u[k] / (double)tr->c);
    for (size_t k = 0; k < PII_ROW * PII_ROW; k++)
        tw[k] = (float)((double)tr->tw[k] - (double)tr->tu[k] / (double)tr->c);
    parts.ntypes = ntypes;
    memcpy(parts.types, types, ntypes * sizeof(*types));
    parts.hash_bits = o->hash_bits;
    parts.seed = o->seed;
    parts.weights = w;
    parts.trans = tw;
    parts.gaz = gaz;
    parts.score_gain = gain;
    cm_buf_init(&img);
    pii_image_build(&parts, &img);
    free(w);
    rc = pol_pii_model_load_mem(img.p, img.len, out, err);
    cm_buf_fini(&img);
    return rc;
}

static void
dev_report(const struct pol_pii_model *m, const struct pol_pii_corpus *dev, unsigned labels,
           FILE *log)
{
    struct pol_pii_eval ev = {0};
    struct pol_pii_spans sp;

    pol_pii_spans_init(&sp);
    for (size_t k = 0; k < dev->n; k++) {
        const struct pol_pii_doc *d = &dev->docs[k];
        struct pol_pii_span *gold = cm_malloc((d->nspans ? d->nspans : 1) * sizeof(*gold));
        size_t ng = 0;

        pol_pii_spans_reset(&sp);
        if (pol_pii_model_find(m, d->text, d->len, labels, &sp) != CM_OK)
            continue;
        for (size_t g = 0; g < d->nspans; g++) {
            if (labels & POL_PII_MASK(d->spans[g].label))
                gold[ng++] = d->spans[g];
        }
        pol_pii_eval_add(&ev, gold, ng, sp.v, sp.n);
        free(gold);
    }
    pol_pii_spans_fini(&sp);
    for (unsigned l = 0; l < POL_PII__COUNT; l++) {
        if (labels & POL_PII_MASK(l)) {
            struct pol_pii_prf e = pol_pii_prf_exact(&ev.l[l]);

            fprintf(log, " %s=%.3f", pol_pii_label_name(l), e.f);
        }
    }
    {
        struct pol_pii_eval_counts all = pol_pii_eval_sum(&ev, labels);
        struct pol_pii_prf e = pol_pii_prf_exact(&all), ov = pol_pii_prf_overlap(&all);

        fprintf(log, " | exact P=%.3f R=%.3f F1=%.3f overlap F1=%.3f", e.p, e.r, e.f, ov.f);
    }
}

/* The gain of the snapshot whose scores calibrate() inverts: small, so
 * that the scores stay far from 1 and their logits exact. */
#define CAL_GAIN 1e-4f
#define CAL_MAX_SPANS 200000

/* Fits g of score = 1 / (1 + exp(-g * margin)) to whether each predicted
 * span overlaps a gold span of its label (log-loss, grid search): the score
 * then reads as the probability that the span is right. */
static float
calibrate(const struct pol_pii_model *m, const struct pol_pii_corpus *cs, size_t nc,
          unsigned labels)
{
    float *mar = cm_malloc(CAL_MAX_SPANS * sizeof(float));
    uint8_t *ok = cm_malloc(CAL_MAX_SPANS);
    size_t n = 0;
    struct pol_pii_spans sp;
    double best_loss = INFINITY;
    float best = PII_DEFAULT_GAIN;

    pol_pii_spans_init(&sp);
    for (size_t c = 0; c < nc; c++) {
        for (size_t k = 0; k < cs[c].n && n < CAL_MAX_SPANS; k++) {
            const struct pol_pii_doc *d = &cs[c].docs[k];

            pol_pii_spans_reset(&sp);
            if (pol_pii_model_find(m, d->text, d->len, labels, &sp) != CM_OK)
                continue;
            for (size_t p = 0; p < sp.n && n < CAL_MAX_SPANS; p++) {
                double s = sp.v[p].score;

                if (s <= 0.0 || s >= 1.0)
                    continue;
                mar[n] = (float)(log(s / (1.0 - s)) / CAL_GAIN);
                ok[n] = 0;
                for (size_t g = 0; g < d->nspans; g++) {
                    if (overlaps(&d->spans[g], &sp.v[p])) {
                        ok[n] = 1;
                        break;
                    }
                }
                n++;
            }
        }
    }
    pol_pii_spans_fini(&sp);
    for (int e = -300; e <= 100 && n > 0; e++) {
        double g = pow(10.0, e / 50.0), loss = 0.0;

        for (size_t k = 0; k < n; k++) {
            double z = g * mar[k];

            /* -log sigmoid(z) = log(1 + exp(-z)), computed stably */
            loss += ok[k] ? (z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z)))
                          : (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)));
        }
        if (loss < best_loss) {
            best_loss = loss;
            best = (float)g;
        }
    }
    free(mar);
    free(ok);
    return best;
}

int
pol_pii_train(const struct pol_pii_corpus *train, const struct pol_pii_corpus *dev,
              const char *const *dev_names, size_t ndev, const struct pol_pii_gaz *gaz,
              const struct pol_pii_train_opts *o, struct pol_pii_model **out, struct cm_err *err)
{
    struct tset ts = {0};
    struct trainer tr = {0};
    enum pol_pii_label types[PII_MAX_TYPES];
    unsigned ntypes = 0;
    struct pii_fparams fp;
    struct pii_gaz gview;
    uint32_t *order = NULL;
    uint64_t rng = o->seed * 0x9E3779B97F4A7C15ull + 0x1234567;
    int rc = CM_OK;

    *out = NULL;
    for (unsigned l = 0; l < POL_PII__COUNT; l++) {
        if (!(o->labels & POL_PII_MASK(l)))
            continue;
        if (ntypes == PII_MAX_TYPES)
            return cm_err_set(err, CM_EINPUT, "the model tags at most %d labels", PII_MAX_TYPES);
        types[ntypes++] = (enum pol_pii_label)l;
    }
    if (ntypes == 0 || o->hash_bits < 8 || o->hash_bits > 24 || o->epochs == 0)
        return cm_err_set(err, CM_EINPUT, "bad training options");
    if (rng == 0)
        rng = 1;
    pii_gaz_view(gaz, &gview);
    pii_fparams_init(&fp, o->hash_bits, o->seed, &gview);
    for (size_t k = 0; k < train->n; k++)
        tset_add_doc(&ts, &fp, &train->docs[k], types, ntypes);
    if (ts.nwin == 0) {
        rc = cm_err_set(err, CM_EINPUT, "no training text");
        goto fail;
    }
    ts.win_begin[ts.nwin] = (uint32_t)ts.ntok;
    ts.feat_begin[ts.ntok] = (uint32_t)ts.nfeat;
    if (o->log)
        fprintf(o->log, "train: %zu texts, %zu windows, %zu tokens, %zu features%s\n", train->n,
                ts.nwin, ts.ntok, ts.nfeat,
                ts.misaligned ? " (some gold spans end inside tokens)" : "");

    tr.ntags = 2 * ntypes + 1;
    tr.nb = (size_t)1 << o->hash_bits;
    tr.w = cm_calloc(tr.nb * PII_ROW, sizeof(*tr.w));
    tr.u = cm_calloc(tr.nb * PII_ROW, sizeof(*tr.u));
    tr.c = 1;
    order = cm_malloc(ts.nwin * sizeof(*order));
    for (size_t k = 0; k < ts.nwin; k++)
        order[k] = (uint32_t)k;
    for (unsigned e = 1; e <= o->epochs; e++) {
        size_t mistakes;

        for (size_t k = ts.nwin - 1; k > 0; k--) {
            size_t j = (size_t)(rng_next(&rng) % (k + 1));
            uint32_t t = order[k];

            order[k] = order[j];
            order[j] = t;
        }
        mistakes = train_epoch(&tr, &ts, order, o, &rng, o->log);
        if (o->log) {
            fprintf(o->log, "epoch %u/%u: %zu of %zu windows wrong", e, o->epochs, mistakes,
                    ts.nwin);
            if (ndev > 0) {
                struct pol_pii_model *m;

                rc = snapshot(&tr, o, types, ntypes, gaz, 0.0f, &m, err);
                if (rc != CM_OK)
                    goto fail;
                for (size_t d = 0; d < ndev; d++) {
                    fprintf(o->log, "\n  dev %s:", dev_names[d]);
                    dev_report(m, &dev[d], o->labels, o->log);
                }
                pol_pii_model_free(m);
            }
            fprintf(o->log, "\n");
            fflush(o->log);
        }
    }
    /* calibrate the span score on the dev texts (else the training texts) */
    {
        struct pol_pii_model *m;
        float gain;

        rc = snapshot(&tr, o, types, ntypes, gaz, CAL_GAIN, &m, err);
        if (rc != CM_OK)
            goto fail;
        gain = calibrate(m, ndev ? dev : train, ndev ? ndev : 1, o->labels);
        pol_pii_model_free(m);
        if (o->log)
            fprintf(o->log, "score gain %.6g per weight unit\n", (double)gain);
        rc = snapshot(&tr, o, types, ntypes, gaz, gain, out, err);
    }
fail:
    free(order);
    free(tr.w);
    free(tr.u);
    tset_free(&ts);
    return rc;
}
