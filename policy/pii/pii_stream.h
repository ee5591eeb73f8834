/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_stream: the classifier and the redaction operators over a stream of
 * text chunks (SSE content deltas), and the restorer of pseudonyms over
 * the chunks of the model's answer.
 *
 * The redactor holds back the tail of the text until no span can still
 * change it, then releases it redacted.  A cut is made only
 *   - after an ASCII white-space byte (a token boundary; so never inside a
 *     UTF-8 character, a URL, a token or an e-mail address),
 *   - at least POL_PII_STREAM_REACH bytes before the end of what has
 *     arrived (every recognizer reads at most POL_PII_SCAN_REACH bytes
 *     around a span, and a span with white space in it is shorter),
 *   - not inside a span found in what is held, and
 *   - not after the BEGIN line of a PEM private key block whose END line
 *     has not arrived (pol_pii_scan_open()).
 * Detection runs over the last POL_PII_STREAM_REACH released bytes (left
 * context for context words and the model) plus the held bytes, through
 * pol_pii_detect() (so the learned model is used when one is given), and
 * spans that start in the released part are dropped.  With these rules
 * the concatenated output equals pol_pii_redact_v() over the whole text
 * with pol_pii_detect()'s spans, for every way of splitting the input
 * into chunks (tested for every split point and many 3-way splits), given
 * that the model's decisions depend on at most POL_PII_STREAM_REACH bytes
 * around a token.
 *
 * The bound: after a call returns, at most POL_PII_STREAM_WINDOW bytes are
 * held.  Text that keeps the holder from cutting for longer than that (a
 * run of more than POL_PII_STREAM_WINDOW - POL_PII_STREAM_REACH bytes
 * without white space, or a PEM block longer than that) forces a cut; the
 * guarantee then is "redacted, never leaked" instead of equality: the
 * bytes before the forced cut are released with the spans found in them,
 * and the unfinished value across the cut (the long token, or the open
 * PEM block) is replaced by one "<SECRET>" and swallowed up to its end
 * (the next white space, or the end of the PEM END line).
 *
 * Invalid UTF-8 passes through as it is (like pol_pii_redact()); a chunk
 * may end inside a UTF-8 character.  Not thread-safe: one stream per
 * response, used by one thread at a time.
 */
#ifndef POL_PII_STREAM_H
#define POL_PII_STREAM_H

#include <stddef.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_scan.h"

struct pol_pii_model; /* pii_model.h */

/* Bytes kept back before the end of the received text, and the bytes of
 * released text kept as left context. */
#define POL_PII_STREAM_REACH POL_PII_SCAN_REACH
/* The most bytes held after a call returns (W). */
#define POL_PII_STREAM_WINDOW 32768

struct pol_pii_stream;

/* Returns an owned stream redactor (free with pol_pii_stream_free).  model
 * (may be NULL: recognizers only), ops, opts and vault (may be NULL) are
 * borrowed and must outlive the stream; labels is a POL_PII_MASK set. */
struct pol_pii_stream *pol_pii_stream_new(const struct pol_pii_model *model, unsigned labels,
                                          const enum pol_pii_op ops[POL_PII__COUNT],
                                          const struct pol_pii_redact_opts *opts,
                                          struct pol_pii_vault *vault);
/* NULL-safe; wipes what it held. */
void pol_pii_stream_free(struct pol_pii_stream *st);

/* Takes chunk[0..n) (borrowed, copied) and appends to out the redacted text
 * that can be released now (possibly nothing).  Returns CM_OK, or the
 * error of pol_pii_detect() (nothing is released then; the stream should
 * be abandoned: fail closed). */
int pol_pii_stream_feed(struct pol_pii_stream *st, const char *chunk, size_t n,
                        struct cm_buf *out) CM_MUSTCHECK;
/* End of the text: appends everything still held, redacted.  The stream
 * then accepts no more feeds. */
int pol_pii_stream_finish(struct pol_pii_stream *st, struct cm_buf *out) CM_MUSTCHECK;

/* Bytes received but not yet released. */
size_t pol_pii_stream_held(const struct pol_pii_stream *st);
/* Spans replaced so far per label (KEEP spans are counted too, as found),
 * for the lineage record: counts[label]. */
void pol_pii_stream_counts(const struct pol_pii_stream *st, size_t counts[POL_PII__COUNT]);
/* fn(arg, label, value, len) is called once for each span counted above, as
 * its text is released, with the original value (borrowed for the call):
 * for the keyed fingerprints of the lineage record.  A value swallowed by a
 * forced cut is counted as SECRET but not passed (its end never arrived
 * whole).  fn NULL: off. */
typedef void (*pol_pii_stream_value_fn)(void *arg, enum pol_pii_label label, const char *value,
                                        size_t len);
void pol_pii_stream_on_value(struct pol_pii_stream *st, pol_pii_stream_value_fn fn, void *arg);

/* ------------------------------------------------------------ restore */

/* The restorer of pseudonym placeholders in the model's streamed answer:
 * it holds back at most POL_PII_PLACEHOLDER_MAX - 1 bytes (a tail that
 * could still become a placeholder), so the concatenated output equals
 * pol_pii_restore() over the whole answer for every split. */
struct pol_pii_restorer;

/* Returns an owned restorer over vault (borrowed, must outlive it). */
struct pol_pii_restorer *pol_pii_restorer_new(const struct pol_pii_vault *vault);
void pol_pii_restorer_free(struct pol_pii_restorer *rs);
/* Appends the restorable part of what has arrived to out; returns the
 * number of placeholders restored by this call. */
size_t pol_pii_restorer_feed(struct pol_pii_restorer *rs, const char *chunk, size_t n,
                             struct cm_buf *out);
size_t pol_pii_restorer_finish(struct pol_pii_restorer *rs, struct cm_buf *out);

#endif /* POL_PII_STREAM_H */
