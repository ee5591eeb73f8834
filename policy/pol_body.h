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
 *              "text" parts); response: choices[*].message.content,
 *              choices[*].delta.content (SSE chunks)
 *   completion request: prompt (string or array of strings);
 *              response: choices[*].text
 *   embedding  request: input (string or array of strings); response: none
 *   other      nothing (the body is still validated as JSON)
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

enum pol_route {
    POL_ROUTE_CHAT,
    POL_ROUTE_COMPLETION,
    POL_ROUTE_EMBEDDING,
    POL_ROUTE_OTHER,
};

const char *pol_route_name(enum pol_route r);

struct pol_body_limits {
    size_t max_depth;                   /* nesting of arrays/objects, e.g. 64 */
    const struct pol_pii_model *model;  /* learned model, or NULL (recognizers only) */
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
 * bytes must stay valid and unchanged until pol_body_rewrite() has run.  Returns CM_OK,
 * CM_EINPUT (not JSON, not an object, invalid UTF-8, a field of the wrong
 * type; err says where) or CM_ELIMIT (deeper than lim->max_depth). */
int pol_body_parse(struct cm_arena *arena, enum pol_route route, enum pol_dir dir,
                   const char *buf, size_t len, const struct pol_body_limits *lim,
                   struct pol_body **out, struct cm_err *err) CM_MUSTCHECK;

/* The top-level "model" string, or NULL. */
const char *pol_body_model(const struct pol_body *b);
/* The top-level "stream" boolean (false when absent). */
bool pol_body_stream(const struct pol_body *b);
/* The top-level "usage" token counts of an answer (-1 when absent). */
void pol_body_usage(const struct pol_body *b, long long *prompt_tokens,
                    long long *completion_tokens);
/* Adds the number of spans per label to counts[POL_PII__COUNT]. */
void pol_body_counts(const struct pol_body *b, unsigned counts[POL_PII__COUNT]);
/* Returns the findings (borrowed, valid with the arena) and their number. */
size_t pol_body_findings(const struct pol_body *b, const struct pol_body_finding **out);

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
int pol_body_rewrite(const struct pol_body *b, const enum pol_pii_op ops[POL_PII__COUNT],
                     const struct pol_pii_redact_opts *opts, struct cm_buf *out,
                     size_t *nreplaced) CM_MUSTCHECK;

#endif /* POL_BODY_H */
