/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_train: everything around the learned model that is not inference:
 * labelled corpora in JSON lines (the format of ner_btc_*.jsonl: "text"
 * and gold "spans" with code-point offsets), code-point/byte offset
 * conversion, the gazetteer built from a directory of lists, training an
 * averaged structured perceptron (deterministic for a given seed), and
 * evaluation (per-label precision, recall and F1, exact-span and overlap
 * matching).
 *
 * Used by steward-pii (train, eval, detect) and the unit tests; the
 * sidecar needs none of it.  Single-threaded; no globals.
 * Read next: pii_model.h (the model these functions build and use).
 */
#ifndef POL_PII_TRAIN_H
#define POL_PII_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cm_status.h"
#include "policy/pii/pii_model.h"
#include "policy/pii/pii_scan.h"

/* ------------------------------------------------------------- offsets */

/* The byte offset of code point number cp of text[0..len) (len when cp is
 * past the end).  A code point is a byte that is not a UTF-8 continuation
 * byte, so invalid bytes count one each. */
size_t pol_pii_cp_to_byte(const char *text, size_t len, size_t cp);

/* The number of code points in text[0..off). */
size_t pol_pii_byte_to_cp(const char *text, size_t off);

/* Rewrites the byte offsets of spans v[0..n) of text as code-point
 * offsets, in place. */
void pol_pii_spans_to_cp(const char *text, size_t len, struct pol_pii_span *v, size_t n);

/* ------------------------------------------------------------- corpora */

/* A labelled text; spans in bytes.  Owned by its corpus. */
struct pol_pii_doc {
    char *text;
    size_t len;
    struct pol_pii_span *spans;
    size_t nspans;
};

struct pol_pii_corpus {
    struct pol_pii_doc *docs;
    size_t n, cap;
};

void pol_pii_corpus_init(struct pol_pii_corpus *c);
void pol_pii_corpus_fini(struct pol_pii_corpus *c);

/* Parses one JSON line {"text": ..., "spans": [{"start", "end", "label"}]}
 * (spans optional, code-point offsets) into *doc (owned by the caller:
 * free with pol_pii_doc_fini).  Invalid UTF-8, bad JSON, a missing text or
 * a bad span give CM_EINPUT and a message that quotes no input text. */
int pol_pii_doc_parse(const char *line, size_t n, struct pol_pii_doc *doc,
                      struct cm_err *err) CM_MUSTCHECK;
void pol_pii_doc_fini(struct pol_pii_doc *doc);

/* Calls fn for each non-empty line of f, line end stripped, with its
 * number (from 1).  Returns CM_OK, or CM_EIO on a read error. */
typedef void (*pol_pii_line_fn)(void *arg, size_t lineno, const char *line, size_t n);
int pol_pii_each_line(FILE *f, pol_pii_line_fn fn, void *arg) CM_MUSTCHECK;

/* Appends the documents of the JSON-lines file at path to c.  Each bad line
 * is reported on diag (if not NULL) as "path:line: reason" and skipped;
 * *bad counts them.  Returns CM_OK, or CM_EIO when the file cannot be read. */
int pol_pii_corpus_load(struct pol_pii_corpus *c, const char *path, FILE *diag, size_t *bad,
                        struct cm_err *err) CM_MUSTCHECK;

/* ---------------------------------------------------------- evaluation */

struct pol_pii_eval_counts {
    size_t gold, pred;
    size_t exact;    /* predictions equal to a gold span (start, end, label) */
    size_t ovl_pred; /* predictions overlapping a gold span of their label */
    size_t ovl_gold; /* gold spans overlapped by a prediction of their label */
};

struct pol_pii_eval {
    struct pol_pii_eval_counts l[POL_PII__COUNT];
};

struct pol_pii_prf {
    double p, r, f;
};

/* Adds one text's gold and predicted spans (same offset unit, any order). */
void pol_pii_eval_add(struct pol_pii_eval *ev, const struct pol_pii_span *gold, size_t ngold,
                      const struct pol_pii_span *pred, size_t npred);
/* Sums the counts of the labels in `labels`. */
struct pol_pii_eval_counts pol_pii_eval_sum(const struct pol_pii_eval *ev, unsigned labels);
/* Precision, recall, F1 (0 when undefined). */
struct pol_pii_prf pol_pii_prf_exact(const struct pol_pii_eval_counts *c);
struct pol_pii_prf pol_pii_prf_overlap(const struct pol_pii_eval_counts *c);
/* Prints the per-label table of the labels in `labels` that occur (gold or
 * predicted), then the micro-average. */
void pol_pii_eval_print(const struct pol_pii_eval *ev, unsigned labels, FILE *f);

/* ------------------------------------------------------------ gazetteer */

/* A gazetteer hash set, owned; free with pol_pii_gaz_free. */
struct pol_pii_gaz;

/* Builds the gazetteer from the lists in dir (the files of policy/pii/data:
 * names, surnames, cities, countries, regions, street suffixes, companies,
 * word lists, lexicon.tsv).  *out is owned by the caller.  Returns CM_OK or
 * CM_EIO/CM_EINPUT with *err. */
int pol_pii_gaz_load_dir(const char *dir, struct pol_pii_gaz **out,
                         struct cm_err *err) CM_MUSTCHECK;

/* Copies the gazetteer of a loaded model (to retrain with the same lists);
 * owned by the caller. */
struct pol_pii_gaz *pol_pii_gaz_from_model(const struct pol_pii_model *model);

/* NULL is a no-op. */
void pol_pii_gaz_free(struct pol_pii_gaz *gaz);

/* ------------------------------------------------------------- training */

struct pol_pii_train_opts {
    unsigned epochs;    /* passes over the training data */
    uint64_t seed;      /* shuffling and feature dropout */
    unsigned hash_bits; /* feature buckets = 2^hash_bits */
    unsigned labels;    /* entity labels to learn (at most 3), a POL_PII_MASK set */
    float drop;         /* probability of leaving out a context/shape feature */
    float drop_word;    /* ... a word-identity feature (word, affixes) */
    float drop_gaz;     /* ... a gazetteer feature */
    FILE *log;          /* per-epoch summary lines, or NULL */
    bool progress;      /* a progress line on log (a terminal) */
};

/* Fills opts with the defaults used by `make model`. */
void pol_pii_train_opts_default(struct pol_pii_train_opts *opts);

/* Trains on train, reporting the scores on each of the ndev corpora
 * dev[k] (named dev_names[k]) per epoch, with the given gazetteer
 * (borrowed).  *out is owned by the caller.
 * Deterministic: the same inputs and options give a byte-identical model.
 * Returns CM_OK or CM_EINPUT with *err. */
int pol_pii_train(const struct pol_pii_corpus *train, const struct pol_pii_corpus *dev,
                  const char *const *dev_names, size_t ndev, const struct pol_pii_gaz *gaz,
                  const struct pol_pii_train_opts *opts, struct pol_pii_model **out,
                  struct cm_err *err) CM_MUSTCHECK;

/* Evaluates model (NULL: none) and the recognizers through pol_pii_detect on
 * a corpus, predicting the labels in `labels`. */
int pol_pii_evaluate(const struct pol_pii_model *model, const struct pol_pii_corpus *c,
                     unsigned labels, struct pol_pii_eval *ev) CM_MUSTCHECK;

#endif /* POL_PII_TRAIN_H */
