/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_body: API-aware inspection and rewriting of JSON bodies.
 *
 * pol_body_parse() validates a request or response body (strict JSON, valid
 * UTF-8, bounded depth), finds the text fields that the API shape says carry
 * user or model text, decodes each one, and runs the classifier over it.
 * pol_body_rewrite() then writes the body again with the chosen operators
 * applied, by splicing re-encoded strings into the original bytes: every byte
 * outside a changed string value stays identical ("temperature": 0.7 stays
 * 0.7, key order and white space stay), so what the model server receives is
 * exactly what was inspected, minus the redacted values.
 *
 * Fields inspected, by route and direction:
 *   chat       request: messages[*].content (string, or parts[*].text of
 *              "text" parts; tool results are messages too) and
 *              messages[*].tool_calls[*].function.arguments; response:
 *              choices[*].message.content, choices[*].delta.content (SSE
 *              chunks) and the tool_calls[*].function.arguments of both
 *   completion request: prompt (string or array of strings);
 *              response: choices[*].text
 *   embedding  request: input (string or array of strings); response: none
 *   responses  request: instructions, input (string, or items whose
 *              content is a string or parts[*].text, function_call
 *              arguments, function_call_output output); response:
 *              output[*].content[*].text, and "delta" of SSE events
 *   messages   request: system (string or blocks[*].text),
 *              messages[*].content (string or blocks[*].text); response:
 *              content[*].text, and delta.text / content_block.text of SSE
 *              events
 *   other      generic JSON mode: every string value, at any depth (never keys);
 *              or, when the policy names JSON pointers ("generic"), only the
 *              string values at or below them (both directions, streamed
 *              events too)
 * Modalities: any text field inspected is "text"; a part or block whose
 * "type" is image_url, input_image or image (or that has an "image_url"
 * member) is "image"; input_audio or audio is "audio"; file, input_file or
 * document is "file".  Non-text parts are reported, never inspected.
 *
 * When a policy set is given, its allow list, deny list, custom
 * recognizers and score thresholds refine every text's findings
 * (pol_set_scan), so labels may be custom ones (>= POL_PII__COUNT).
 *
 * Error texts name positions (line:column) and JSON pointers, never
 * content.  Pure; the result lives in the caller's arena; one thread.
 */
#ifndef POL_BODY_H
#define POL_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cm_arena.h"
#include "common/cm_buf.h"
#include "common/cm_status.h"
#include "policy/pii/pii_detect.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_scan.h"
#include "policy/pol_policy.h"

struct pol_body_limits {
    size_t max_depth;                  /* nesting of arrays/objects, e.g. 64 */
    const struct pol_pii_model *model; /* learned model, or NULL (recognizers only) */
    bool texts_only;                   /* locate every text field, detect nothing (the streaming
                                          redactor detects across events): see pol_body_text() */
};

/* Findings aggregated per (label, field): pointer is an RFC 6901 JSON
 * pointer such as "/messages/1/content", allocated in the arena. */
struct pol_body_finding {
    enum pol_pii_label label;
    const char *pointer;
    unsigned count;
};

struct pol_body;

/* Parses and scans buf[0..len).  *out lives in arena and borrows buf: the
 * bytes must stay valid and unchanged until pol_body_rewrite() has run.
 * ps (borrowed, may be NULL) refines the findings as said above.  Returns
 * CM_OK, CM_EINPUT (not JSON, not an object, invalid UTF-8, a field of the
 * wrong type; err says where), CM_ELIMIT (deeper than lim->max_depth) or
 * CM_EINTERNAL (a policy pattern failed to run: fail closed). */
int pol_body_parse(struct cm_arena *arena, enum pol_route route, enum pol_dir dir, const char *buf,
                   size_t len, const struct pol_body_limits *lim, const struct pol_set *ps,
                   struct pol_body **out, struct cm_err *err) CM_MUSTCHECK;

/* The top-level "model" string, or NULL. */
const char *pol_body_model(const struct pol_body *b);
/* The top-level "stream" boolean (false when absent). */
bool pol_body_stream(const struct pol_body *b);
/* The top-level "usage" token counts of an answer (-1 when absent). */
void pol_body_usage(const struct pol_body *b, long long *prompt_tokens,
                    long long *completion_tokens);
/* Adds the number of spans per label to counts[POL_LABEL_MAX]. */
void pol_body_counts(const struct pol_body *b, unsigned counts[POL_LABEL_MAX]);
/* The modalities present (POL_MOD_* set). */
unsigned pol_body_modalities(const struct pol_body *b);
/* Returns the findings (borrowed, valid with the arena) and their number. */
size_t pol_body_findings(const struct pol_body *b, const struct pol_body_finding **out);

/* With texts_only: the number of text fields, and field i's decoded text
 * (borrowed, in the arena) with its JSON pointer. */
size_t pol_body_ntexts(const struct pol_body *b);
/* Whether the text at JSON pointer ptr (as pol_body_text gives it) is at or
 * below one of the policy's generic "whole" pointers. */
bool pol_body_pointer_whole(const struct pol_set *ps, const char *ptr);
const char *pol_body_text(const struct pol_body *b, size_t i, size_t *len, const char **pointer);
/* With texts_only: appends the body to out with text field i replaced by
 * texts[i] (re-encoded as a JSON string) where texts[i].p is not NULL; every
 * other byte is copied.  Returns CM_OK. */
int pol_body_splice(const struct pol_body *b, const struct cm_str *texts,
                    struct cm_buf *out) CM_MUSTCHECK;
/* Called once per detected value: label, the JSON pointer of its field
 * (valid with the arena) and the decoded value (borrowed, valid only during
 * the call: never log or keep it). */
typedef void (*pol_body_value_cb)(void *arg, enum pol_pii_label label, const char *pointer,
                                  const char *value, size_t len);
/* Calls fn for every detected value, in body order.  For keyed
 * fingerprints of values (the sidecar's lineage record); nothing else
 * should need the values. */
void pol_body_each_value(const struct pol_body *b, pol_body_value_cb fn, void *arg);

/* Appends the rewritten body to out.  *nreplaced gets the number of values
 * replaced (0 means out holds the original bytes).  Returns CM_OK. */
int pol_body_rewrite(const struct pol_body *b, const enum pol_pii_op ops[POL_LABEL_MAX],
                     const struct pol_pii_redact_opts *opts, struct cm_buf *out,
                     size_t *nreplaced) CM_MUSTCHECK;

/* As pol_body_rewrite(), and records every pseudonymised value in vault
 * (borrowed; NULL: not recorded) so that the answer can be restored. */
int pol_body_rewrite_v(const struct pol_body *b, const enum pol_pii_op ops[POL_LABEL_MAX],
                       const struct pol_pii_redact_opts *opts, struct pol_pii_vault *vault,
                       struct cm_buf *out, size_t *nreplaced) CM_MUSTCHECK;

/* Appends json[0..len) (an answer, or one SSE event's data) to out with
 * every pseudonym placeholder of vault ("<PERSON_3f9a1c2b>") replaced by the
 * original value it stands for, JSON-escaped (the placeholder stood inside a
 * JSON string).  Placeholders not in the vault stay.  A placeholder split
 * across two SSE events is not seen here (the streaming restorer,
 * pii_stream.h, handles deltas).  Returns the number restored.  vault may
 * be NULL (nothing restored). */
size_t pol_body_restore(const struct pol_pii_vault *vault, const char *json, size_t len,
                        struct cm_buf *out);

#endif /* POL_BODY_H */
