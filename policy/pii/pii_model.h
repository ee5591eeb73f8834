/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_model: the learned token model of the compact classifier, for PERSON,
 * LOCATION (places and street addresses) and ORGANIZATION.
 *
 * A model is one versioned binary file (layout in pii_model.c): a header
 * with magic and version, the entity labels it tags, the feature-hash
 * parameters, quantised int16 weights of a linear-chain model over BIO tags
 * (decoded with Viterbi), the embedded gazetteer hash set, and a SHA-256
 * over everything before it.  A corrupt, truncated or foreign file is
 * refused with a clear error; nothing in it is trusted before the checksum
 * and every offset have been checked.
 *
 * A loaded model lives in one read-only allocation and is shared by all
 * threads without locks: every function taking a const model is any-thread.
 * Training (pii_train.h) produces the weights and saves them through
 * pol_pii_model_save().  Read next: pii_model.c, pii_train.h, pii_detect.h.
 */
#ifndef POL_PII_MODEL_H
#define POL_PII_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/cm_status.h"
#include "policy/pii/pii_scan.h"

struct pol_pii_model; /* opaque, read-only once loaded */

/* Files larger than this are refused before they are read (the shipped
 * model is well under 10 MB). */
#define POL_PII_MODEL_MAX_BYTES (64u << 20)

/* Reads and checks the model file at path.  On success *out is owned by the
 * caller (free with pol_pii_model_free) and may be shared read-only by any
 * number of threads.  Returns CM_OK, CM_EIO (cannot read) or CM_EINPUT (not a
 * model, wrong version, corrupt, truncated), with the reason in *err. */
/* The model to use when none is named: $STEWARD_PII_MODEL, else the source
 * tree's policy/pii/model/steward-pii.model seen from the working directory
 * or from the running binary (build/<flavour>/bin/<binary>), else the
 * installed /usr/share/steward/steward-pii.model.  Writes into buf (which
 * must hold 4096 bytes for the binary-relative case) and returns the path,
 * which may be buf or a static string.  Start-up code only. */
const char *pol_pii_model_default_path(char *buf, size_t buflen);

int pol_pii_model_load(const char *path, struct pol_pii_model **out,
                       struct cm_err *err) CM_MUSTCHECK;

/* Same from bytes in memory (copied; data is borrowed only for the call). */
int pol_pii_model_load_mem(const void *data, size_t len, struct pol_pii_model **out,
                           struct cm_err *err) CM_MUSTCHECK;

/* NULL is a no-op. */
void pol_pii_model_free(struct pol_pii_model *model);

/* Writes the model's file image to path (through a temporary file renamed
 * into place).  Returns CM_OK or CM_EIO with *err. */
int pol_pii_model_save(const struct pol_pii_model *model, const char *path,
                       struct cm_err *err) CM_MUSTCHECK;

/* The file image (borrowed, valid while the model lives) and its size. */
const void *pol_pii_model_image(const struct pol_pii_model *model, size_t *len);

/* First 16 hex digits of the file's SHA-256: names the model in logs and
 * lineage records.  Borrowed, NUL-terminated. */
const char *pol_pii_model_id(const struct pol_pii_model *model);

/* The POL_PII_MASK set of labels this model predicts. */
unsigned pol_pii_model_labels(const struct pol_pii_model *model);

/* Runs the model over text[0..len) and appends the spans of the labels in
 * `labels` to out, sorted by start and non-overlapping, with a score in
 * 0..1 (calibrated: about the chance that the span is right).  Spans
 * never start or end inside a UTF-8 character; invalid bytes are treated
 * as symbols.  The text is decoded in windows of at most 256 tokens, cut
 * after a sentence end or line break when there is one in the window's
 * second half (else a name across the cut may come out as two spans).
 * Allocates nothing but the growth of out; uses about 48 KB of stack.
 * Any thread.  Returns CM_OK. */
int pol_pii_model_find(const struct pol_pii_model *model, const char *text, size_t len,
                       unsigned labels, struct pol_pii_spans *out) CM_MUSTCHECK;

/* ------------------------------------------------------------ tokenizer */

/* A token: bytes [start, end) of the text. */
struct pol_pii_token {
    size_t start;
    size_t end;
};

/* Splits text[0..len) into tokens from byte `from` on, writing at most cap
 * of them; returns how many were written and sets *next to the offset where
 * tokenizing should resume (len when the text is exhausted).
 *
 * A token is a run of word characters (UTF-8 letters and digits, any code
 * point >= U+0080 outside the punctuation, symbol and space blocks),
 * joined across a single apostrophe, hyphen, period, '@', '_' or '/'
 * between two word characters ("O'Brien", "Jean-Luc", "U.S",
 * "jane@example.com"), except that a possessive "'s" is split off
 * ("Smith" "'s").  Any other character that is not a space is a token of
 * its own.  Offsets are bytes; a token never splits a code point; invalid
 * UTF-8 bytes are one-byte symbol tokens.  Pure; any thread. */
size_t pol_pii_tokenize(const char *text, size_t len, size_t from, struct pol_pii_token *toks,
                        size_t cap, size_t *next);

#endif /* POL_PII_MODEL_H */
