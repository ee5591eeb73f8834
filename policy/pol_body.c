/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_body: inspection and splice-rewriting of JSON bodies (pol_body.h has
 * the fields inspected per route).
 *
 * Three passes over the bytes, all linear: a depth pre-check (strings
 * skipped) so a deep body fails with CM_ELIMIT before any recursion;
 * pol_json for strict validation (syntax, UTF-8, top level an object; what
 * jansson accepts, without building a tree; duplicate keys are legal JSON
 * and allowed), which also counts the tokens; then jsmn, which gives byte
 * offsets.  The top-level "model", "stream" and "usage" are read from the
 * tokens (the last of duplicate keys wins, as in a JSON parser's tree).  A walk over the jsmn
 * tokens follows the API shape as a small state machine (ROOT -> messages -> message -> content ->
 * part -> text, ...), skipping every other subtree by token offsets, builds the RFC 6901 pointer of
 * each inspected string, decodes it (all escapes, surrogate pairs) into the arena and runs
 * pol_pii_detect() over the decoded text. Only strings with spans are kept.  Rewrite replaces those
 * whole string tokens (quotes included) by the re-encoded redacted text and copies every other
 * byte.
 *
 * The struct pol_body borrows the body bytes: they must stay valid and
 * unchanged until the last call on it (pol_body_rewrite splices them).
 * Error texts carry "request body:line:column:" and pointers, never content.
 * jsmn is header-only and included here only (JSMN_STATIC, JSMN_STRICT).
 */
#include "policy/pol_body.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "policy/pol_json.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "common/cm_hash.h"
#include "common/cm_mem.h"

#define DEFAULT_MAX_DEPTH 64

struct body_str {
    size_t start; /* the string token, quotes included: [start, end) */
    size_t end;
    const char *pointer; /* JSON pointer of the field, in the arena */
    const char *text;    /* decoded, in the arena */
    size_t len;
    const struct pol_pii_span *spans;
    size_t nspans;
};

struct pol_body {
    const char *buf; /* borrowed */
    size_t len;
    const char *model;
    bool stream;
    long long prompt_tokens; /* -1 when absent */
    long long completion_tokens;
    unsigned counts[POL_LABEL_MAX];
    unsigned modalities;
    struct body_str *strs;
    size_t nstrs, capstrs;
    struct pol_body_finding *findings;
    size_t nfindings, capfindings;
};

/* Where the walk is in the API shape. */
enum st {
    S_SKIP,
    S_ROOT,
    S_MSGS,    /* messages: array of message objects */
    S_MSG,     /* a message object */
    S_CONTENT, /* string, null, or array of parts */
    S_PART,    /* a part object (or a bare string) */
    S_TEXT,    /* a string to inspect */
    S_STRS,    /* prompt / input: string or array of strings */
    S_STR,     /* an element of S_STRS: string */
    S_CHOICES, /* array of choice objects */
    S_CHOICE,
    S_CMSG,      /* choices[*].message / delta: object or null */
    S_ITEMS,     /* responses input: string or array of items (S_MSG) */
    S_OUTPUT,    /* responses output: array of items (S_MSG) */
    S_PTYPE,     /* a part's "type": names its modality */
    S_MOD_IMAGE, /* a member whose presence means a modality: noted, skipped */
    S_MOD_AUDIO,
    S_MOD_FILE,
    S_TCALLS, /* tool_calls: array of tool-call objects */
    S_TCALL,  /* a tool call: its "function" */
    S_TFUNC,  /* the function: its JSON-string "arguments" (S_TEXT) */
    S_ANY,    /* generic mode (POL_ROUTE_OTHER): every string inside, any depth */
    S_SEL,    /* generic mode with the policy's pointers: on the way to one */
};

struct walk {
    struct cm_arena *arena;
    const char *buf;
    size_t len;
    const jsmntok_t *tok;
    int ntok;
    enum pol_route route;
    enum pol_dir dir;
    struct pol_body *b;
    struct cm_buf ptr; /* JSON pointer of the current value */
    struct pol_pii_spans spans;
    const struct pol_pii_model *model;
    bool texts_only;
    const struct pol_set *ps;
    const char *const *sel; /* generic mode: the policy's pointers, or NULL */
    size_t nsel;
    struct cm_err *err;
};

static const char *
dir_label(enum pol_dir d)
{
    return d == POL_DIR_RESPONSE ? "response body" : "request body";
}

/* 1-based line and column (in code points) of byte offset off. */
static void
linecol(const char *buf, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t k = 0; k < off; k++) {
        if (buf[k] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)buf[k] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* ------------------------------------------------------------ decoding */

static long
hex4(const char *s, size_t k, size_t n)
{
    long v = 0;

    if (k + 4 > n)
        return -1;
    for (size_t q = k; q < k + 4; q++) {
        int h = cm_hexval((unsigned char)s[q]);

        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t
utf8_put(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the JSON string body s[0..n) (no quotes) into out, which has room
 * for n bytes (decoding never grows).  Returns the decoded length. */
static size_t
json_unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t k = 0; k < n; k++) {
        long cp, lo;

        if (s[k] != '\\' || k + 1 >= n) {
            out[o++] = s[k];
            continue;
        }
        k++;
        switch (s[k]) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u':
            cp = hex4(s, k + 1, n);
            if (cp < 0) {
                out[o++] = s[k];
                break;
            }
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && k + 2 < n && s[k + 1] == '\\' && s[k + 2] == 'u' &&
                (lo = hex4(s, k + 3, n)) >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                k += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* lone surrogate (jansson rejects these) */
            }
            o += utf8_put(out + o, (unsigned long)cp);
            break;
        default: out[o++] = s[k]; break; /* '"', '\\', '/' */
        }
    }
    return o;
}

/* ------------------------------------------------------------ the walk */

static int
walk_err(struct walk *w, int i, const char *what)
{
    int line, col;

    linecol(w->buf, (size_t)w->tok[i].start, &line, &col);
    return cm_err_set(w->err, CM_EINPUT, "%s:%d:%d: %s: %s", dir_label(w->dir), line, col,
                      w->ptr.len ? w->ptr.p : "/", what);
}

/* Index of the token after the subtree of token i. */
static int
skip_tok(const struct walk *w, int i)
{
    int j = i + 1;

    while (j < w->ntok && w->tok[j].start < w->tok[i].end)
        j++;
    return j;
}

static enum st
child_key(const struct walk *w, enum st st, const char *key, size_t n)
{
#define KEY(lit) (n == sizeof(lit) - 1 && memcmp(key, lit, n) == 0)
    bool req = w->dir == POL_DIR_REQUEST;

    switch (st) {
    case S_ROOT:
        switch (w->route) {
        case POL_ROUTE_CHAT:
            if (req && KEY("messages"))
                return S_MSGS;
            if (!req && KEY("choices"))
                return S_CHOICES;
            break;
        case POL_ROUTE_COMPLETION:
            if (req && KEY("prompt"))
                return S_STRS;
            if (!req && KEY("choices"))
                return S_CHOICES;
            break;
        case POL_ROUTE_EMBEDDING:
            if (req && KEY("input"))
                return S_STRS;
            break;
        case POL_ROUTE_RESPONSES:
            if (req && KEY("input"))
                return S_ITEMS;
            if (req && KEY("instructions"))
                return S_TEXT;
            if (!req && KEY("output"))
                return S_OUTPUT;
            if (!req && KEY("delta"))
                return S_TEXT; /* SSE response.output_text.delta */
            break;
        case POL_ROUTE_MESSAGES:
            if (req && KEY("messages"))
                return S_MSGS;
            if (req && KEY("system"))
                return S_CONTENT;
            if (!req && KEY("content"))
                return S_CONTENT;
            if (!req && (KEY("delta") || KEY("content_block")))
                return S_PART; /* SSE content_block_delta / _start */
            break;
        case POL_ROUTE_OTHER: return w->sel ? S_SEL : S_ANY; /* generic mode */
        default: break;
        }
        return S_SKIP;
    case S_ANY: return S_ANY;
    case S_SEL: return S_SEL;
    case S_MSG:
        if (KEY("content"))
            return S_CONTENT;
        if (KEY("tool_calls"))
            return S_TCALLS;
        /* responses API items: function_call arguments, function_call_output */
        if (w->route == POL_ROUTE_RESPONSES && (KEY("arguments") || KEY("output")))
            return S_TEXT;
        return S_SKIP;
    case S_TCALL: return KEY("function") ? S_TFUNC : S_SKIP;
    case S_TFUNC: return KEY("arguments") ? S_TEXT : S_SKIP;
    case S_PART:
        if (KEY("text"))
            return S_TEXT;
        if (KEY("type"))
            return S_PTYPE;
        if (KEY("image_url"))
            return S_MOD_IMAGE;
        if (KEY("input_audio"))
            return S_MOD_AUDIO;
        if (KEY("file"))
            return S_MOD_FILE;
        return S_SKIP;
    case S_CHOICE:
        if (w->route == POL_ROUTE_CHAT && (KEY("message") || KEY("delta")))
            return S_CMSG;
        if (w->route == POL_ROUTE_COMPLETION && KEY("text"))
            return S_TEXT;
        return S_SKIP;
    case S_CMSG:
        if (KEY("content"))
            return S_CONTENT;
        return KEY("tool_calls") ? S_TCALLS : S_SKIP;
    default: return S_SKIP;
    }
#undef KEY
}

static enum st
child_idx(enum st st)
{
    switch (st) {
    case S_MSGS: return S_MSG;
    case S_CONTENT: return S_PART;
    case S_STRS: return S_STR;
    case S_CHOICES: return S_CHOICE;
    case S_TCALLS: return S_TCALL;
    case S_ITEMS:
    case S_OUTPUT: return S_MSG;
    case S_ANY: return S_ANY;
    case S_SEL: return S_SEL;
    default: return S_SKIP;
    }
}

/* Generic mode with the policy's pointers: where the value at pointer
 * ptr[0..n) stands.  SEL_IN: a pointer names it or a container above it
 * (every string inside is inspected); SEL_PATH: it is a container on the
 * way to one; SEL_OUT: neither (skipped).  Both sides are escaped RFC 6901
 * pointers, compared a segment at a time; a "*" segment of the policy's
 * matches any one. */
enum sel { SEL_OUT, SEL_PATH, SEL_IN };

static enum sel
sel_match(const char *const *sel, size_t nsel, const char *ptr, size_t n)
{
    enum sel best = SEL_OUT;

    for (size_t k = 0; k < nsel; k++) {
        const char *p = sel[k];
        size_t i = 0;
        bool ok = true;

        /* both start with '/' (the root is "" and matches as a path) */
        while (ok && *p != '\0' && i < n) {
            const char *pe = strchr(p + 1, '/');
            size_t plen = pe ? (size_t)(pe - p) : strlen(p), j = i + 1;

            while (j < n && ptr[j] != '/')
                j++;
            ok = (plen == 2 && p[1] == '*') || (plen == j - i && memcmp(p, ptr + i, plen) == 0);
            p += plen;
            i = j;
        }
        if (!ok)
            continue;
        if (*p == '\0')
            return SEL_IN; /* the pointer is used up: at or below it */
        best = SEL_PATH;   /* the value is used up first: on the way */
    }
    return best;
}

bool
pol_body_pointer_whole(const struct pol_set *ps, const char *ptr)
{
    size_t n;
    const char *const *sel = pol_set_generic_whole(ps, &n);

    return n > 0 && sel_match(sel, n, ptr, strlen(ptr)) == SEL_IN;
}

static void *
arena_grow(struct cm_arena *arena, void *old, size_t n, size_t *cap, size_t size)
{
    void *p;

    if (n < *cap)
        return old;
    *cap = *cap ? *cap * 2 : 8;
    p = cm_arena_alloc(arena, *cap * size);
    if (n > 0)
        memcpy(p, old, n * size);
    return p;
}

/* Decodes and scans the string token i at the current pointer.  Returns
 * CM_OK or CM_EINTERNAL (a policy pattern failed). */
static int
inspect(struct walk *w, int i)
{
    const jsmntok_t *t = &w->tok[i];
    size_t rawn = (size_t)(t->end - t->start);
    char *text = cm_arena_alloc(w->arena, rawn + 1);
    size_t n = json_unescape(w->buf + t->start, rawn, text);
    struct pol_body *b = w->b;
    struct body_str *s;
    unsigned per[POL_LABEL_MAX] = {0};
    const char *pointer;
    struct pol_pii_span *spans;
    int rc;

    text[n] = '\0';
    if (n > 0)
        b->modalities |= POL_MOD_TEXT;
    if (w->texts_only) {
        b->strs = arena_grow(w->arena, b->strs, b->nstrs, &b->capstrs, sizeof(*b->strs));
        s = &b->strs[b->nstrs++];
        memset(s, 0, sizeof(*s));
        s->start = (size_t)t->start - 1;
        s->end = (size_t)t->end + 1;
        s->text = text;
        s->len = n;
        s->pointer = cm_arena_strndup(w->arena, w->ptr.len ? w->ptr.p : "", w->ptr.len);
        return CM_OK;
    }
    pol_pii_spans_reset(&w->spans);
    if (pol_pii_detect(w->model, text, n, POL_PII_ALL, &w->spans) != CM_OK)
        return CM_OK;
    if (w->ps != NULL && pol_set_scans(w->ps, w->dir)) {
        struct cm_err serr;

        rc = pol_set_scan(w->ps, w->dir, text, n, &w->spans, &serr);
        if (rc != CM_OK)
            return cm_err_set(w->err, rc, "%s: %s: %s", dir_label(w->dir),
                              w->ptr.len ? w->ptr.p : "/", serr.msg);
    }
    if (w->spans.n == 0)
        return CM_OK;

    spans = cm_arena_alloc(w->arena, w->spans.n * sizeof(*spans));
    memcpy(spans, w->spans.v, w->spans.n * sizeof(*spans));
    b->strs = arena_grow(w->arena, b->strs, b->nstrs, &b->capstrs, sizeof(*b->strs));
    s = &b->strs[b->nstrs++];
    s->start = (size_t)t->start - 1;
    s->end = (size_t)t->end + 1;
    s->text = text;
    s->len = n;
    s->spans = spans;
    s->nspans = w->spans.n;

    pointer = cm_arena_strndup(w->arena, w->ptr.len ? w->ptr.p : "", w->ptr.len);
    s->pointer = pointer;
    for (size_t k = 0; k < s->nspans; k++)
        per[spans[k].label]++;
    for (unsigned l = 0; l < POL_LABEL_MAX; l++) {
        struct pol_body_finding *f;

        if (per[l] == 0)
            continue;
        b->counts[l] += per[l];
        b->findings =
            arena_grow(w->arena, b->findings, b->nfindings, &b->capfindings, sizeof(*b->findings));
        f = &b->findings[b->nfindings++];
        f->label = (enum pol_pii_label)l;
        f->pointer = pointer;
        f->count = per[l];
    }
    return CM_OK;
}

/* The modality a part's "type" names (0: text or unknown). */
static unsigned
part_modality(const char *s, size_t n)
{
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(s, lit, n) == 0)
    if (IS("image_url") || IS("input_image") || IS("image"))
        return POL_MOD_IMAGE;
    if (IS("input_audio") || IS("audio"))
        return POL_MOD_AUDIO;
    if (IS("file") || IS("input_file") || IS("document"))
        return POL_MOD_FILE;
    return 0;
#undef IS
}

static void
ptr_push_key(struct walk *w, const char *key, size_t n)
{
    cm_buf_putc(&w->ptr, '/');
    for (size_t k = 0; k < n; k++) {
        if (key[k] == '~')
            cm_buf_puts(&w->ptr, "~0");
        else if (key[k] == '/')
            cm_buf_puts(&w->ptr, "~1");
        else
            cm_buf_putc(&w->ptr, key[k]);
    }
}

static int walk(struct walk *w, int i, enum st st, int *next);

static int
walk_object(struct walk *w, int i, enum st st, int *next)
{
    int j = i + 1, rc;

    for (int k = 0; k < w->tok[i].size && j < w->ntok; k++) {
        const jsmntok_t *key = &w->tok[j];
        size_t rawn = (size_t)(key->end - key->start);
        char *dec = cm_arena_alloc(w->arena, rawn + 1);
        size_t n = json_unescape(w->buf + key->start, rawn, dec);
        enum st cst = child_key(w, st, dec, n);
        size_t mark = w->ptr.len;

        if (cst == S_SKIP) {
            j = skip_tok(w, j + 1);
            continue;
        }
        ptr_push_key(w, dec, n);
        rc = walk(w, j + 1, cst, &j);
        w->ptr.len = mark;
        if (rc != CM_OK)
            return rc;
    }
    *next = j;
    return CM_OK;
}

static int
walk_array(struct walk *w, int i, enum st st, int *next)
{
    int j = i + 1, rc;
    enum st cst = child_idx(st);

    for (int k = 0; k < w->tok[i].size && j < w->ntok; k++) {
        size_t mark = w->ptr.len;

        if (cst == S_SKIP) {
            j = skip_tok(w, j);
            continue;
        }
        cm_buf_printf(&w->ptr, "/%d", k);
        rc = walk(w, j, cst, &j);
        w->ptr.len = mark;
        if (rc != CM_OK)
            return rc;
    }
    *next = j;
    return CM_OK;
}

static int
walk(struct walk *w, int i, enum st st, int *next)
{
    const jsmntok_t *t = &w->tok[i];
    bool is_null = t->type == JSMN_PRIMITIVE && w->buf[t->start] == 'n';

    switch (st) {
    case S_SKIP: *next = skip_tok(w, i); return CM_OK;
    case S_ROOT: return walk_object(w, i, st, next);
    case S_SEL:
        switch (sel_match(w->sel, w->nsel, w->ptr.p, w->ptr.len)) {
        case SEL_IN: return walk(w, i, S_ANY, next);
        case SEL_PATH:
            if (t->type == JSMN_OBJECT)
                return walk_object(w, i, st, next);
            if (t->type == JSMN_ARRAY)
                return walk_array(w, i, st, next);
            break;
        case SEL_OUT: break;
        }
        *next = skip_tok(w, i);
        return CM_OK;
    case S_ANY:
        /* Generic mode: every string value is text; keys, numbers, true,
         * false and null are not inspected. */
        if (t->type == JSMN_OBJECT)
            return walk_object(w, i, st, next);
        if (t->type == JSMN_ARRAY)
            return walk_array(w, i, st, next);
        if (t->type != JSMN_STRING) {
            *next = i + 1;
            return CM_OK;
        }
        *next = i + 1;
        return inspect(w, i);
    case S_PTYPE:
        if (t->type == JSMN_STRING)
            w->b->modalities |= part_modality(w->buf + t->start, (size_t)(t->end - t->start));
        *next = skip_tok(w, i);
        return CM_OK;
    case S_MOD_IMAGE:
    case S_MOD_AUDIO:
    case S_MOD_FILE:
        w->b->modalities |= st == S_MOD_IMAGE   ? POL_MOD_IMAGE
                            : st == S_MOD_AUDIO ? POL_MOD_AUDIO
                                                : POL_MOD_FILE;
        *next = skip_tok(w, i);
        return CM_OK;
    case S_ITEMS:
        if (t->type == JSMN_ARRAY)
            return walk_array(w, i, st, next);
        if (t->type != JSMN_STRING)
            return walk_err(w, i, "expected a string or an array of input items");
        break;
    case S_OUTPUT:
        if (t->type != JSMN_ARRAY)
            return walk_err(w, i, "expected an array");
        return walk_array(w, i, st, next);
    case S_MSGS:
    case S_CHOICES:
    case S_TCALLS:
        if (t->type != JSMN_ARRAY)
            return walk_err(w, i, "expected an array");
        return walk_array(w, i, st, next);
    case S_MSG:
    case S_CHOICE:
    case S_TCALL:
    case S_TFUNC:
        if (t->type != JSMN_OBJECT)
            return walk_err(w, i, "expected an object");
        return walk_object(w, i, st, next);
    case S_CMSG:
        if (is_null) {
            *next = i + 1;
            return CM_OK;
        }
        if (t->type != JSMN_OBJECT)
            return walk_err(w, i, "expected an object or null");
        return walk_object(w, i, st, next);
    case S_CONTENT:
        if (is_null) {
            *next = i + 1;
            return CM_OK;
        }
        if (t->type == JSMN_ARRAY)
            return walk_array(w, i, st, next);
        if (t->type != JSMN_STRING)
            return walk_err(w, i, "expected a string, an array of parts or null");
        break;
    case S_PART:
        if (t->type == JSMN_OBJECT)
            return walk_object(w, i, st, next);
        if (t->type != JSMN_STRING)
            return walk_err(w, i, "expected a content part object");
        break;
    case S_STRS:
        if (t->type == JSMN_ARRAY)
            return walk_array(w, i, st, next);
        if (t->type != JSMN_STRING)
            return walk_err(w, i, "expected a string or an array of strings");
        break;
    case S_TEXT:
    case S_STR:
        if (t->type != JSMN_STRING)
            return walk_err(w, i, "expected a string (token arrays cannot be inspected)");
        break;
    }
    *next = i + 1;
    return inspect(w, i);
}

/* ------------------------------------------------------------ parse */

/* Fails with CM_ELIMIT at the first bracket nested deeper than max. */
/* A usage count: a non-negative number below 1e15, else -1. */
static long long
token_count(const struct walk *w, const jsmntok_t *t)
{
    char num[64];
    size_t n = (size_t)(t->end - t->start);
    double v;

    if (t->type != JSMN_PRIMITIVE || n >= sizeof(num) ||
        !(w->buf[t->start] == '-' || (w->buf[t->start] >= '0' && w->buf[t->start] <= '9')))
        return -1;
    memcpy(num, w->buf + t->start, n);
    num[n] = '\0';
    v = strtod(num, NULL);
    return v >= 0 && v < 1e15 ? (long long)v : -1;
}

/* The top-level "model" (a string), "stream" (true) and "usage" (the
 * prompt and completion token counts of an answer), from the tokens; the
 * last of duplicate keys wins. */
static void
top_fields(struct walk *w, struct pol_body *b)
{
    int j = 1;

    for (int k = 0; k < w->tok[0].size && j < w->ntok; k++) {
        const jsmntok_t *key = &w->tok[j], *val = &w->tok[j + 1];
        size_t rawn = (size_t)(key->end - key->start);
        char *dec = cm_arena_alloc(w->arena, rawn + 1);
        size_t n = json_unescape(w->buf + key->start, rawn, dec);

#define IS(lit) (n == sizeof(lit) - 1 && memcmp(dec, lit, n) == 0)
        if (IS("model")) {
            b->model = NULL;
            if (val->type == JSMN_STRING) {
                size_t vn = (size_t)(val->end - val->start);
                char *m = cm_arena_alloc(w->arena, vn + 1);

                m[json_unescape(w->buf + val->start, vn, m)] = '\0';
                b->model = m; /* up to a \u0000, as C strings go */
            }
        } else if (IS("stream")) {
            b->stream = val->type == JSMN_PRIMITIVE && w->buf[val->start] == 't';
        } else if (IS("usage")) {
            int u = j + 2;

            b->prompt_tokens = b->completion_tokens = -1;
            for (int q = 0; val->type == JSMN_OBJECT && q < val->size && u < w->ntok; q++) {
                const jsmntok_t *uk = &w->tok[u];
                size_t un = (size_t)(uk->end - uk->start);
                char *udec = cm_arena_alloc(w->arena, un + 1);
                size_t ul = json_unescape(w->buf + uk->start, un, udec);

                if (ul == 13 && memcmp(udec, "prompt_tokens", 13) == 0)
                    b->prompt_tokens = token_count(w, &w->tok[u + 1]);
                else if (ul == 17 && memcmp(udec, "completion_tokens", 17) == 0)
                    b->completion_tokens = token_count(w, &w->tok[u + 1]);
                u = skip_tok(w, u + 1);
            }
        }
#undef IS
        j = skip_tok(w, j + 1);
    }
}

static int
check_depth(const char *buf, size_t len, size_t max, enum pol_dir dir, struct cm_err *err)
{
    size_t depth = 0;

    for (size_t p = 0; p < len; p++) {
        char c = buf[p];

        if (c == '"') {
            for (p++; p < len && buf[p] != '"'; p++) {
                if (buf[p] == '\\')
                    p++;
            }
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                int line, col;

                linecol(buf, p, &line, &col);
                return cm_err_set(err, CM_ELIMIT, "%s:%d:%d: nested deeper than %zu",
                                  dir_label(dir), line, col, max);
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return CM_OK;
}

int
pol_body_parse(struct cm_arena *arena, enum pol_route route, enum pol_dir dir, const char *buf,
               size_t len, const struct pol_body_limits *lim, const struct pol_set *ps,
               struct pol_body **out, struct cm_err *err)
{
    size_t max_depth = lim && lim->max_depth ? lim->max_depth : DEFAULT_MAX_DEPTH;
    struct walk w = {
        .arena = arena, .buf = buf, .len = len, .route = route, .dir = dir, .err = err};
    struct pol_body *b;
    enum pol_json_error verr;
    size_t ntok_valid = 0, at = 0;
    jsmn_parser jp;
    jsmntok_t *tok;
    int ntok, next, rc;

    *out = NULL;
    if (len > INT_MAX / 2)
        return cm_err_set(err, CM_ELIMIT, "%s: too large to inspect", dir_label(dir));
    if ((rc = check_depth(buf, len, max_depth, dir, err)) != CM_OK)
        return rc;
    verr = pol_json_validate(buf, len, &ntok_valid, &at);
    if (verr != POL_JSON_OK) {
        int line, col;

        linecol(buf, at, &line, &col);
        return cm_err_set(err, CM_EINPUT, "%s:%d:%d: %s", dir_label(dir), line, col,
                          pol_json_error_text(verr));
    }
    if (ntok_valid > INT_MAX)
        return cm_err_set(err, CM_ELIMIT, "%s: too many tokens to inspect", dir_label(dir));
    ntok = (int)ntok_valid;
    tok = cm_arena_alloc(arena, (size_t)ntok * sizeof(*tok));
    jsmn_init(&jp);
    if (jsmn_parse(&jp, buf, len, tok, (unsigned)ntok) != ntok || tok[0].type != JSMN_OBJECT)
        return cm_err_set(err, CM_EINPUT, "%s: cannot tokenize", dir_label(dir));

    b = cm_arena_calloc(arena, sizeof(*b));
    b->buf = buf;
    b->len = len;
    b->prompt_tokens = b->completion_tokens = -1;
    w.tok = tok;
    w.ntok = ntok;
    top_fields(&w, b);

    w.b = b;
    w.model = lim->model;
    w.texts_only = lim->texts_only;
    w.ps = ps;
    if (ps != NULL && route == POL_ROUTE_OTHER)
        w.sel = pol_set_generic(ps, dir, &w.nsel);
    cm_buf_init(&w.ptr);
    pol_pii_spans_init(&w.spans);
    rc = walk(&w, 0, S_ROOT, &next);
    cm_buf_fini(&w.ptr);
    pol_pii_spans_fini(&w.spans);
    if (rc != CM_OK)
        return rc;
    *out = b;
    return CM_OK;
}

const char *
pol_body_model(const struct pol_body *b)
{
    return b->model;
}

bool
pol_body_stream(const struct pol_body *b)
{
    return b->stream;
}

void
pol_body_usage(const struct pol_body *b, long long *prompt_tokens, long long *completion_tokens)
{
    *prompt_tokens = b->prompt_tokens;
    *completion_tokens = b->completion_tokens;
}

void
pol_body_counts(const struct pol_body *b, unsigned counts[POL_LABEL_MAX])
{
    for (int l = 0; l < POL_LABEL_MAX; l++)
        counts[l] += b->counts[l];
}

unsigned
pol_body_modalities(const struct pol_body *b)
{
    return b->modalities;
}

size_t
pol_body_findings(const struct pol_body *b, const struct pol_body_finding **out)
{
    *out = b->findings;
    return b->nfindings;
}

void
pol_body_each_value(const struct pol_body *b, pol_body_value_cb fn, void *arg)
{
    for (size_t k = 0; k < b->nstrs; k++) {
        const struct body_str *s = &b->strs[k];

        for (size_t q = 0; q < s->nspans; q++)
            fn(arg, s->spans[q].label, s->pointer, s->text + s->spans[q].start,
               s->spans[q].end - s->spans[q].start);
    }
}

int
pol_body_rewrite(const struct pol_body *b, const enum pol_pii_op ops[POL_LABEL_MAX],
                 const struct pol_pii_redact_opts *opts, struct cm_buf *out, size_t *nreplaced)
{
    return pol_body_rewrite_v(b, ops, opts, NULL, out, nreplaced);
}

int
pol_body_rewrite_v(const struct pol_body *b, const enum pol_pii_op ops[POL_LABEL_MAX],
                   const struct pol_pii_redact_opts *opts, struct pol_pii_vault *vault,
                   struct cm_buf *out, size_t *nreplaced)
{
    struct cm_buf tmp;
    size_t pos = 0;

    *nreplaced = 0;
    cm_buf_init(&tmp);
    for (size_t k = 0; k < b->nstrs; k++) {
        const struct body_str *s = &b->strs[k];
        bool change = false;

        for (size_t q = 0; q < s->nspans && !change; q++)
            change = ops[s->spans[q].label] != POL_PII_KEEP;
        if (!change)
            continue;
        cm_buf_reset(&tmp);
        pol_pii_redact_v(s->text, s->len, s->spans, s->nspans, ops, opts, vault, &tmp);
        cm_buf_append(out, b->buf + pos, s->start - pos);
        cm_buf_append_json_str(out, tmp.p, tmp.len);
        pos = s->end;
        (*nreplaced)++;
    }
    cm_buf_append(out, b->buf + pos, b->len - pos);
    cm_buf_fini(&tmp);
    return CM_OK;
}

size_t
pol_body_restore(const struct pol_pii_vault *vault, const char *json, size_t len,
                 struct cm_buf *out)
{
    struct cm_buf orig, esc;
    size_t pos = 0, k = 0, nrest = 0;

    if (vault == NULL || pol_pii_vault_count(vault) == 0) {
        cm_buf_append(out, json, len);
        return 0;
    }
    cm_buf_init(&orig);
    cm_buf_init(&esc);
    while (k < len) {
        const char *lt = memchr(json + k, '<', len - k), *gt;
        size_t at, n;

        if (lt == NULL)
            break;
        at = (size_t)(lt - json);
        n = len - at < POL_PII_PLACEHOLDER_MAX ? len - at : POL_PII_PLACEHOLDER_MAX;
        gt = memchr(lt, '>', n);
        if (gt == NULL) {
            k = at + 1;
            continue;
        }
        n = (size_t)(gt - lt) + 1;
        cm_buf_reset(&orig);
        if (pol_pii_restore(vault, lt, n, &orig) != 1) {
            k = at + 1;
            continue;
        }
        /* The original goes back inside a JSON string: escaped, unquoted. */
        cm_buf_reset(&esc);
        cm_buf_append_json_str(&esc, orig.p, orig.len);
        cm_buf_append(out, json + pos, at - pos);
        cm_buf_append(out, esc.p + 1, esc.len - 2);
        pos = k = at + n;
        nrest++;
    }
    cm_buf_append(out, json + pos, len - pos);
    if (orig.p != NULL)
        OPENSSL_cleanse(orig.p, orig.cap);
    if (esc.p != NULL)
        OPENSSL_cleanse(esc.p, esc.cap);
    cm_buf_fini(&orig);
    cm_buf_fini(&esc);
    return nrest;
}

size_t
pol_body_ntexts(const struct pol_body *b)
{
    return b->nstrs;
}

const char *
pol_body_text(const struct pol_body *b, size_t i, size_t *len, const char **pointer)
{
    *len = b->strs[i].len;
    if (pointer != NULL)
        *pointer = b->strs[i].pointer ? b->strs[i].pointer : "";
    return b->strs[i].text;
}

int
pol_body_splice(const struct pol_body *b, const struct cm_str *texts, struct cm_buf *out)
{
    size_t pos = 0;

    for (size_t k = 0; k < b->nstrs; k++) {
        const struct body_str *s = &b->strs[k];

        if (texts[k].p == NULL)
            continue;
        cm_buf_append(out, b->buf + pos, s->start - pos);
        cm_buf_append_json_str(out, texts[k].p, texts[k].n);
        pos = s->end;
    }
    cm_buf_append(out, b->buf + pos, b->len - pos);
    return CM_OK;
}
