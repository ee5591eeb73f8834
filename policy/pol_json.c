/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_json: the validating JSON scanner.  See pol_json.h for what it
 * accepts.  One pass, an explicit stack of open containers (no recursion),
 * no allocation except for a number longer than NUM_BUF characters, whose
 * value is checked with strtod on a heap copy.
 */
#include "policy/pol_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_hash.h"

#define NUM_BUF 128

static size_t
ws(const char *b, size_t n, size_t p)
{
    while (p < n && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r'))
        p++;
    return p;
}

/* \uXXXX at b[p] (p at the 'u'): the code unit, or a negative error. */
static long
unit(const char *b, size_t n, size_t p, enum pol_json_error *e)
{
    long v = 0;

    for (size_t k = p + 1; k <= p + 4; k++) {
        int h;

        if (k >= n) {
            *e = POL_JSON_END;
            return -1;
        }
        h = cm_hexval((unsigned char)b[k]);
        if (h < 0) {
            *e = POL_JSON_SYNTAX;
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

/* The well-formed UTF-8 sequence at b[p] (first byte >= 0x80): its length,
 * or 0. */
static size_t
utf8_len(const unsigned char *b, size_t n, size_t p)
{
    unsigned char c = b[p];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0; /* overlong */
    else if (c == 0xED)
        hi = 0x9F; /* UTF-16 surrogates */
    else if (c == 0xF0)
        lo = 0x90; /* overlong */
    else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (p + len > n)
        return 0;
    if (b[p + 1] < lo || b[p + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (b[p + k] < 0x80 || b[p + k] > 0xBF)
            return 0;
    return len;
}

/* The string whose opening quote is at *p; *p ends past its closing quote.
 * An object key may not hold \u0000 (jansson's rule: keys are C strings). */
static enum pol_json_error
string(const char *b, size_t n, size_t *p, bool key)
{
    const unsigned char *u = (const unsigned char *)b;
    size_t k = *p + 1;
    enum pol_json_error e = POL_JSON_OK;

    for (;;) {
        unsigned char c;

        if (k >= n) {
            *p = k;
            return POL_JSON_END;
        }
        c = u[k];
        if (c == '"') {
            *p = k + 1;
            return POL_JSON_OK;
        }
        if (c < 0x20) {
            *p = k;
            return POL_JSON_SYNTAX;
        }
        if (c < 0x80 && c != '\\') {
            k++;
            continue;
        }
        if (c >= 0x80) {
            size_t len = utf8_len(u, n, k);

            if (len == 0) {
                *p = k;
                return POL_JSON_UTF8;
            }
            k += len;
            continue;
        }
        /* an escape */
        if (k + 1 >= n) {
            *p = k + 1;
            return POL_JSON_END;
        }
        switch (b[k + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't': k += 2; break;
        case 'u': {
            long cu = unit(b, n, k + 1, &e);

            if (cu < 0) {
                *p = k;
                return e;
            }
            if ((cu >= 0xDC00 && cu <= 0xDFFF) || (cu == 0 && key)) {
                *p = k; /* a low surrogate without its high one, a NUL in a key */
                return POL_JSON_SYNTAX;
            }
            k += 6;
            if (cu >= 0xD800 && cu <= 0xDBFF) {
                long lo;

                if (k + 1 >= n) {
                    *p = k;
                    return POL_JSON_END;
                }
                if (b[k] != '\\' || b[k + 1] != 'u') {
                    *p = k;
                    return POL_JSON_SYNTAX;
                }
                lo = unit(b, n, k + 1, &e);
                if (lo < 0) {
                    *p = k;
                    return e;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    *p = k;
                    return POL_JSON_SYNTAX;
                }
                k += 6;
            }
            break;
        }
        default: *p = k; return POL_JSON_SYNTAX;
        }
    }
}

static bool
digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The number at *p; *p ends past it.  Its value must be a finite double. */
static enum pol_json_error
number(const char *b, size_t n, size_t *p)
{
    size_t start = *p, k = *p;
    char buf[NUM_BUF], *copy;
    double v;

    if (b[k] == '-')
        k++;
    if (k >= n) {
        *p = k;
        return POL_JSON_END;
    }
    if (b[k] == '0') {
        k++;
    } else if (digit(b[k])) {
        while (k < n && digit(b[k]))
            k++;
    } else {
        *p = k;
        return POL_JSON_SYNTAX;
    }
    if (k < n && b[k] == '.') {
        k++;
        if (k >= n || !digit(b[k])) {
            *p = k;
            return k >= n ? POL_JSON_END : POL_JSON_SYNTAX;
        }
        while (k < n && digit(b[k]))
            k++;
    }
    if (k < n && (b[k] == 'e' || b[k] == 'E')) {
        k++;
        if (k < n && (b[k] == '+' || b[k] == '-'))
            k++;
        if (k >= n || !digit(b[k])) {
            *p = k;
            return k >= n ? POL_JSON_END : POL_JSON_SYNTAX;
        }
        while (k < n && digit(b[k]))
            k++;
    }
    /* The value: as jansson decodes it (a double), it must be finite. */
    copy = k - start < sizeof(buf) ? buf : malloc(k - start + 1);
    if (copy == NULL) {
        *p = start;
        return POL_JSON_NUMBER;
    }
    memcpy(copy, b + start, k - start);
    copy[k - start] = '\0';
    v = strtod(copy, NULL);
    if (copy != buf)
        free(copy);
    if (isinf(v)) {
        *p = start;
        return POL_JSON_NUMBER;
    }
    *p = k;
    return POL_JSON_OK;
}

static enum pol_json_error
literal(const char *b, size_t n, size_t *p)
{
    static const char *const words[] = {"true", "false", "null"};

    for (size_t i = 0; i < 3; i++) {
        size_t len = strlen(words[i]);

        if (b[*p] != words[i][0])
            continue;
        for (size_t k = 1; k < len; k++) {
            if (*p + k >= n) {
                *p += k;
                return POL_JSON_END;
            }
            if (b[*p + k] != words[i][k]) {
                *p += k;
                return POL_JSON_SYNTAX;
            }
        }
        *p += len;
        return POL_JSON_OK;
    }
    return POL_JSON_SYNTAX;
}

enum pol_json_error
pol_json_validate(const char *b, size_t n, size_t *ntok, size_t *at)
{
    /* What is open: '{' or '['; want says what may come next. */
    char stack[POL_JSON_MAX_DEPTH];
    enum { VALUE, KEY, AFTER } want = VALUE;
    size_t depth = 0, p, count = 0;
    enum pol_json_error e = POL_JSON_OK;
    bool object;

    p = ws(b, n, 0);
    if (p >= n) {
        *at = p;
        return POL_JSON_END;
    }
    if (b[p] != '{' && b[p] != '[') {
        *at = p;
        return POL_JSON_SYNTAX; /* "'[' or '{' expected", as jansson */
    }
    object = b[p] == '{';
    for (;;) {
        p = ws(b, n, p);
        if (want == AFTER && depth == 0) {
            if (p < n) {
                *at = p;
                return POL_JSON_TRAILING;
            }
            break;
        }
        if (p >= n) {
            *at = p;
            return POL_JSON_END;
        }
        if (want == KEY) {
            if (b[p] != '"') {
                *at = p;
                return POL_JSON_SYNTAX;
            }
            if ((e = string(b, n, &p, true)) != POL_JSON_OK) {
                *at = p;
                return e;
            }
            count++;
            p = ws(b, n, p);
            if (p >= n) {
                *at = p;
                return POL_JSON_END;
            }
            if (b[p] != ':') {
                *at = p;
                return POL_JSON_SYNTAX;
            }
            p++;
            want = VALUE;
            continue;
        }
        if (want == AFTER) {
            char open = stack[depth - 1];

            if (b[p] == ',') {
                p++;
                want = open == '{' ? KEY : VALUE;
            } else if (b[p] == (open == '{' ? '}' : ']')) {
                p++;
                depth--;
            } else {
                *at = p;
                return POL_JSON_SYNTAX;
            }
            continue;
        }
        /* want == VALUE */
        switch (b[p]) {
        case '{':
        case '[':
            if (depth == POL_JSON_MAX_DEPTH) {
                *at = p;
                return POL_JSON_DEPTH;
            }
            stack[depth++] = b[p];
            count++;
            p = ws(b, n, p + 1);
            if (p < n && b[p] == (stack[depth - 1] == '{' ? '}' : ']')) {
                p++;
                depth--;
                want = AFTER;
            } else {
                want = stack[depth - 1] == '{' ? KEY : VALUE;
            }
            continue;
        case '"': e = string(b, n, &p, false); break;
        case 't':
        case 'f':
        case 'n': e = literal(b, n, &p); break;
        default:
            if (b[p] == '-' || digit(b[p]))
                e = number(b, n, &p);
            else
                e = POL_JSON_SYNTAX;
            break;
        }
        if (e != POL_JSON_OK) {
            *at = p;
            return e;
        }
        count++;
        want = AFTER;
    }
    if (!object) {
        *at = 0;
        return POL_JSON_NOT_OBJECT;
    }
    *ntok = count;
    return POL_JSON_OK;
}

const char *
pol_json_error_text(enum pol_json_error e)
{
    switch (e) {
    case POL_JSON_OK: return "valid";
    case POL_JSON_SYNTAX: return "invalid JSON syntax";
    case POL_JSON_UTF8: return "invalid UTF-8";
    case POL_JSON_END: return "unexpected end of input";
    case POL_JSON_TRAILING: return "data after the JSON value";
    case POL_JSON_NUMBER: return "number out of range";
    case POL_JSON_DEPTH: return "nested too deeply";
    case POL_JSON_NOT_OBJECT: return "top level is not an object";
    }
    return "invalid JSON";
}
