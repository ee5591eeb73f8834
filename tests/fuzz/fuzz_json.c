/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness: the validating JSON scanner (policy/pol_json.c)
 * against jansson on arbitrary bytes.  pol_json accepts a text exactly when
 * jansson (JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL) parses it to an object,
 * except for a raw NUL byte, which is never valid JSON and which pol_json
 * always refuses (jansson lets one through right after a number); on
 * acceptance its token count is jsmn's (strict mode) for the same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "policy/pol_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t ntok = 0, at = 0;
    enum pol_json_error e = pol_json_validate(buf, size, &ntok, &at);
    json_error_t je;
    json_t *root = json_loadb(buf, size, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    int jansson_ok = root != NULL && json_is_object(root);

    json_decref(root);
    if (memchr(buf, 0, size) != NULL) {
        if (e == POL_JSON_OK)
            abort(); /* a raw NUL accepted */
        return 0;
    }
    if ((e == POL_JSON_OK) != jansson_ok)
        abort(); /* the two disagree on this text */
    if (e != POL_JSON_OK) {
        if (at > size)
            abort();
        return 0;
    }
    {
        jsmn_parser jp;

        jsmn_init(&jp);
        if (jsmn_parse(&jp, buf, size, NULL, 0) != (int)ntok)
            abort();
    }
    return 0;
}
