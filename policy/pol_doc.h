/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_doc: a configuration document (a policy, a policy test table, an API
 * key line) read from JSON or YAML into one jansson tree, with the means to
 * say where in the text any node of that tree came from.
 *
 * JSON is parsed by jansson (duplicate keys rejected); positions are found
 * afterwards by a small scanner over the (valid) text.  YAML is parsed by
 * libyaml's event API into the same tree, under the YAML 1.2 core schema
 * (plain true/false/null/integers/floats are typed, everything else is a
 * string: `mode: on` stays the string "on", no Norway problem); a table of
 * positions by JSON pointer is kept.  Refused with a clear error: anchors
 * and aliases, tags other than the core ones, complex keys, duplicate keys,
 * more than one document, infinities and NaNs, nesting deeper than 64.
 *
 * Positions are 1-based lines and columns counted in characters (code
 * points), the way editors show them.  Owns libyaml (STYLE.md B2: one
 * wrapper per library).  Any thread; a doc is used by one thread at a time.
 */
#ifndef POL_DOC_H
#define POL_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"

enum pol_doc_fmt {
    POL_DOC_AUTO, /* .yaml/.yml names are YAML; else JSON if it starts with '{' or '[' */
    POL_DOC_JSON,
    POL_DOC_YAML,
};

/* One step of a path into the tree: an object key, or (key NULL) an array
 * index.  Keys are borrowed from the tree. */
struct pol_seg {
    const char *key;
    size_t idx;
};

#define POL_DOC_MAX_DEPTH 64

struct pol_doc;

/* Parses text[0..len) (borrowed; copied).  name appears in messages and
 * picks the format under POL_DOC_AUTO.  On success *out is owned (free with
 * pol_doc_free).  Errors: CM_EINPUT with "name:line:column: what" in err. */
int pol_doc_parse(const char *name, const char *text, size_t len, enum pol_doc_fmt fmt,
                  struct pol_doc **out, struct cm_err *err) CM_MUSTCHECK;
/* Reads path (at most max bytes) and parses it.  CM_EIO when unreadable. */
int pol_doc_load(const char *path, size_t max, struct pol_doc **out,
                 struct cm_err *err) CM_MUSTCHECK;
void pol_doc_free(struct pol_doc *doc); /* NULL-safe */

/* The tree (borrowed from the doc). */
json_t *pol_doc_root(const struct pol_doc *doc);
const char *pol_doc_name(const struct pol_doc *doc);
bool pol_doc_is_yaml(const struct pol_doc *doc);

/* Line and column of the node at path[0..depth) (of its key when at_key and
 * the last step is a key).  When the path leads nowhere, the deepest
 * position found. */
void pol_doc_where(const struct pol_doc *doc, const struct pol_seg *path, int depth, bool at_key,
                   int *line, int *col);
/* Appends the RFC 6901 pointer of path[0..depth) ("/" for the root). */
void pol_doc_pointer(const struct pol_seg *path, int depth, struct cm_buf *out);
/* Sets err to "name:line:column: /pointer: message" for the node at path
 * (its key when at_key); returns CM_EINPUT. */
int pol_doc_err(const struct pol_doc *doc, const struct pol_seg *path, int depth, bool at_key,
                struct cm_err *err, const char *fmt, ...) CM_PRINTF(6, 7);
/* Checks that every key of the object obj at path[0..depth) is in allowed
 * (NULL-terminated).  The first that is not is an error at the key, with a
 * "did you mean" when one is close, else the list of allowed keys; returns
 * CM_EINPUT.  path must have room for depth + 1 steps. */
int pol_doc_check_keys(const struct pol_doc *doc, struct pol_seg *path, int depth, json_t *obj,
                       const char *const *allowed, struct cm_err *err) CM_MUSTCHECK;
/* Writes ` (did you mean "x"?)` into out when one of cands is within two
 * edits of word (case-insensitive), else "". */
void pol_doc_suggest(const char *word, const char *const *cands, size_t n, char *out,
                     size_t outlen);
/* Reads path ("-": standard input) into out, at most max bytes.  Returns
 * CM_OK, CM_EIO or CM_EINPUT (too large). */
int pol_doc_read(const char *path, size_t max, struct cm_buf *out, struct cm_err *err) CM_MUSTCHECK;

#endif /* POL_DOC_H */
