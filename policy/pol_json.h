/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_json: a validating JSON scanner (RFC 8259), for pol_body.
 *
 * pol_body needs two things from a body: is it valid JSON with an object at
 * the top (else 400, with line and column), and the byte offsets of its
 * tokens (jsmn gives those, but jsmn is not a validator: it accepts numbers
 * such as 01 and 1., raw control bytes and invalid UTF-8 in strings).  A
 * full parser that builds a tree (jansson) validates well but costs as much
 * as the rest of the inspection; this scanner only walks the bytes once,
 * allocates nothing, and counts the tokens jsmn will need.
 *
 * What it accepts is exactly what jansson accepts with JSON_ALLOW_NUL |
 * JSON_DECODE_INT_AS_REAL and an object at the top (fuzz_json checks the
 * two against each other on arbitrary bytes), except that a raw NUL byte is
 * always refused (jansson lets one through right after a number):
 *   - white space: space, tab, line feed, carriage return;
 *   - strings: no raw byte below 0x20; escapes \" \\ \/ \b \f \n \r \t and
 *     \uXXXX, where a high surrogate must be followed by an escaped low one
 *     and a lone low surrogate is an error; \u0000 is allowed in values, not
 *     in object keys; raw bytes are
 *     well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF);
 *   - numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, whose value
 *     as a double is finite (1e999 is "number out of range");
 *   - true, false, null; nothing but white space after the top value.
 * Nesting is bounded by the caller's pre-check (pol_body's check_depth);
 * the scanner's own bound is POL_JSON_MAX_DEPTH.
 *
 * Pure, any thread.
 */
#ifndef POL_JSON_H
#define POL_JSON_H

#include <stddef.h>

#define POL_JSON_MAX_DEPTH 2048

enum pol_json_error {
    POL_JSON_OK = 0,
    POL_JSON_SYNTAX,    /* "invalid JSON syntax" */
    POL_JSON_UTF8,      /* "invalid UTF-8" */
    POL_JSON_END,       /* "unexpected end of input" */
    POL_JSON_TRAILING,  /* "data after the JSON value" */
    POL_JSON_NUMBER,    /* "number out of range" */
    POL_JSON_DEPTH,     /* "nested too deeply" */
    POL_JSON_NOT_OBJECT /* "top level is not an object" */
};

/* Validates buf[0..len).  On success returns POL_JSON_OK and sets *ntok to
 * the number of jsmn tokens of the text (each object, array, string, key
 * and primitive is one).  On failure sets *at to the byte offset of the
 * error and returns its kind. */
enum pol_json_error pol_json_validate(const char *buf, size_t len, size_t *ntok, size_t *at);

/* The message of an error kind (a static string). */
const char *pol_json_error_text(enum pol_json_error e);

#endif /* POL_JSON_H */
