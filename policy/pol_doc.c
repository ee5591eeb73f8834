/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_doc: JSON or YAML into one jansson tree, with positions.  See
 * pol_doc.h for what is accepted and refused.
 *
 * JSON: jansson parses (JSON_REJECT_DUPLICATES); a position is found only
 * when an error needs one, by walking the path over the text with a scanner
 * that skips strings and balanced brackets (the text is known valid).
 * YAML: libyaml's event stream is folded into the tree recursively (depth
 * bounded by POL_DOC_MAX_DEPTH), and every node's key and value marks are
 * kept in a table keyed by JSON pointer; errors are rare, so the lookup is
 * linear.  libyaml's marks count characters, as our columns do.
 */
#include "policy/pol_doc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/cm_mem.h"

struct ypos {
    char *ptr;
    int kline, kcol; /* the key (0 when the node has none) */
    int vline, vcol; /* the value */
};

struct pol_doc {
    char *name;
    char *text;
    size_t len;
    json_t *root;
    bool yaml;
    struct ypos *pos;
    size_t npos, cappos;
};

json_t *
pol_doc_root(const struct pol_doc *doc)
{
    return doc->root;
}

const char *
pol_doc_name(const struct pol_doc *doc)
{
    return doc->name;
}

bool
pol_doc_is_yaml(const struct pol_doc *doc)
{
    return doc->yaml;
}

void
pol_doc_free(struct pol_doc *doc)
{
    if (doc == NULL)
        return;
    for (size_t i = 0; i < doc->npos; i++)
        free(doc->pos[i].ptr);
    free(doc->pos);
    json_decref(doc->root);
    free(doc->text);
    free(doc->name);
    free(doc);
}

void
pol_doc_pointer(const struct pol_seg *path, int depth, struct cm_buf *out)
{
    for (int i = 0; i < depth; i++) {
        if (path[i].key == NULL) {
            cm_buf_printf(out, "/%zu", path[i].idx);
            continue;
        }
        cm_buf_putc(out, '/');
        for (const char *s = path[i].key; *s != '\0'; s++) {
            if (*s == '~')
                cm_buf_puts(out, "~0");
            else if (*s == '/')
                cm_buf_puts(out, "~1");
            else
                cm_buf_putc(out, *s);
        }
    }
    if (depth == 0)
        cm_buf_putc(out, '/');
}

/* ------------------------------------------------------------ JSON positions */

static size_t
skip_ws(const struct pol_doc *d, size_t p)
{
    while (p < d->len &&
           (d->text[p] == ' ' || d->text[p] == '\t' || d->text[p] == '\n' || d->text[p] == '\r'))
        p++;
    return p;
}

/* End of the string whose opening quote is at p. */
static size_t
skip_string(const struct pol_doc *d, size_t p)
{
    for (p++; p < d->len; p++) {
        if (d->text[p] == '\\')
            p++;
        else if (d->text[p] == '"')
            return p + 1;
    }
    return d->len;
}

/* End of the value starting at p. */
static size_t
skip_value(const struct pol_doc *d, size_t p)
{
    size_t depth = 0;

    if (p >= d->len)
        return p;
    if (d->text[p] == '"')
        return skip_string(d, p);
    if (d->text[p] != '{' && d->text[p] != '[') {
        while (p < d->len && strchr(",}] \t\r\n", d->text[p]) == NULL)
            p++;
        return p;
    }
    while (p < d->len) {
        char c = d->text[p];

        if (c == '"') {
            p = skip_string(d, p);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return p;
}

/* Compares the JSON string token at q (quotes included) with key, decoding
 * only the escapes a key is likely to hold. */
static bool
key_eq(const struct pol_doc *d, size_t q, size_t kend, const char *key)
{
    size_t klen = strlen(key), k = 0;

    for (size_t p = q + 1; p + 1 < kend; p++, k++) {
        char c = d->text[p];

        if (c == '\\' && p + 2 < kend) {
            p++;
            c = d->text[p] == 'n' ? '\n' : d->text[p] == 't' ? '\t' : d->text[p];
        }
        if (k >= klen || key[k] != c)
            return false;
    }
    return k == klen;
}

static size_t
json_locate(const struct pol_doc *d, const struct pol_seg *path, int depth, bool want_key)
{
    size_t p = skip_ws(d, 0);

    for (int i = 0; i < depth; i++) {
        const struct pol_seg *sg = &path[i];
        bool found = false;

        if (p >= d->len)
            return p;
        if (sg->key != NULL && d->text[p] == '{') {
            size_t q = skip_ws(d, p + 1);

            while (q < d->len && d->text[q] == '"') {
                size_t kend = skip_string(d, q);

                if (key_eq(d, q, kend, sg->key)) {
                    if (i == depth - 1 && want_key)
                        return q;
                    q = skip_ws(d, kend);
                    p = skip_ws(d, q + 1);
                    found = true;
                    break;
                }
                q = skip_ws(d, kend);
                q = skip_ws(d, skip_value(d, skip_ws(d, q + 1)));
                if (q < d->len && d->text[q] == ',')
                    q = skip_ws(d, q + 1);
            }
        } else if (sg->key == NULL && d->text[p] == '[') {
            size_t q = skip_ws(d, p + 1);

            for (size_t k = 0; k < sg->idx && q < d->len; k++) {
                q = skip_ws(d, skip_value(d, q));
                if (q < d->len && d->text[q] == ',')
                    q = skip_ws(d, q + 1);
            }
            p = q;
            found = true;
        }
        if (!found)
            return p;
    }
    return p;
}

static void
linecol(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t k = 0; k < off; k++) {
        if (text[k] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)text[k] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

void
pol_doc_where(const struct pol_doc *doc, const struct pol_seg *path, int depth, bool at_key,
              int *line, int *col)
{
    struct cm_buf b;

    if (!doc->yaml) {
        linecol(doc->text, json_locate(doc, path, depth, at_key), line, col);
        return;
    }
    *line = *col = 1;
    cm_buf_init(&b);
    for (int d = depth; d >= 0; d--) {
        cm_buf_reset(&b);
        pol_doc_pointer(path, d, &b);
        for (size_t i = 0; i < doc->npos; i++) {
            const struct ypos *yp = &doc->pos[i];

            if (strcmp(yp->ptr, b.p) != 0)
                continue;
            if (at_key && d == depth && yp->kline > 0) {
                *line = yp->kline;
                *col = yp->kcol;
            } else {
                *line = yp->vline;
                *col = yp->vcol;
            }
            cm_buf_fini(&b);
            return;
        }
    }
    cm_buf_fini(&b);
}

int
pol_doc_err(const struct pol_doc *doc, const struct pol_seg *path, int depth, bool at_key,
            struct cm_err *err, const char *fmt, ...)
{
    struct cm_buf b;
    va_list ap;
    char msg[320];
    int line, col;

    cm_buf_init(&b);
    pol_doc_where(doc, path, depth, at_key, &line, &col);
    cm_buf_printf(&b, "%s:%d:%d: ", doc->name, line, col);
    pol_doc_pointer(path, depth, &b);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cm_buf_printf(&b, ": %s", msg);
    cm_err_set(err, CM_EINPUT, "%s", b.p);
    cm_buf_fini(&b);
    return CM_EINPUT;
}

/* Levenshtein distance, capped (for "did you mean"). */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[65], cur[65];

    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] +
                         (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

void
pol_doc_suggest(const char *word, const char *const *cands, size_t n, char *out, size_t outlen)
{
    size_t best = 3, bi = n;

    out[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        size_t d = edit_distance(word, cands[k]);

        if (d < best) {
            best = d;
            bi = k;
        }
    }
    if (bi < n)
        snprintf(out, outlen, " (did you mean \"%s\"?)", cands[bi]);
}

int
pol_doc_check_keys(const struct pol_doc *doc, struct pol_seg *path, int depth, json_t *obj,
                   const char *const *allowed, struct cm_err *err)
{
    const char *key;
    json_t *val;

    json_object_foreach (obj, key, val) {
        bool ok = false;
        size_t n;
        char hint[96];
        struct cm_buf list;
        int rc;

        for (n = 0; allowed[n] != NULL; n++)
            ok = ok || strcmp(allowed[n], key) == 0;
        if (ok)
            continue;
        pol_doc_suggest(key, allowed, n, hint, sizeof(hint));
        path[depth].key = key;
        path[depth].idx = 0;
        if (hint[0] != '\0')
            return pol_doc_err(doc, path, depth + 1, true, err, "unknown key%s", hint);
        cm_buf_init(&list);
        for (size_t k = 0; k < n; k++)
            cm_buf_printf(&list, "%s%s", k ? ", " : "", allowed[k]);
        rc = pol_doc_err(doc, path, depth + 1, true, err, "unknown key (expected one of: %s)",
                         list.p);
        cm_buf_fini(&list);
        return rc;
    }
    return CM_OK;
}

/* ------------------------------------------------------------ YAML */

struct yb {
    struct pol_doc *doc;
    yaml_parser_t parser;
    struct cm_err *err;
    struct pol_seg path[POL_DOC_MAX_DEPTH + 1];
    int depth;
};

#define TAG_PREFIX "tag:yaml.org,2002:"

static int
yerr_at(struct yb *y, const yaml_mark_t *m, const char *what)
{
    return cm_err_set(y->err, CM_EINPUT, "%s:%zu:%zu: %s", y->doc->name, m->line + 1, m->column + 1,
                      what);
}

static int
yerr_parser(struct yb *y)
{
    const yaml_parser_t *p = &y->parser;
    const char *problem = p->problem ? p->problem : "invalid YAML";

    if (p->context != NULL)
        return cm_err_set(y->err, CM_EINPUT, "%s:%zu:%zu: %s %s", y->doc->name,
                          p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
                          p->context);
    return cm_err_set(y->err, CM_EINPUT, "%s:%zu:%zu: %s", y->doc->name, p->problem_mark.line + 1,
                      p->problem_mark.column + 1, problem);
}

static int
next_event(struct yb *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev))
        return yerr_parser(y);
    return CM_OK;
}

static void
record_pos(struct yb *y, const yaml_mark_t *key, const yaml_mark_t *val)
{
    struct pol_doc *d = y->doc;
    struct cm_buf b;
    struct ypos *yp;

    if (d->npos == d->cappos) {
        d->cappos = d->cappos ? d->cappos * 2 : 32;
        d->pos = cm_realloc(d->pos, d->cappos * sizeof(*d->pos));
    }
    cm_buf_init(&b);
    pol_doc_pointer(y->path, y->depth, &b);
    yp = &d->pos[d->npos++];
    yp->ptr = cm_buf_steal(&b, NULL);
    yp->kline = key ? (int)key->line + 1 : 0;
    yp->kcol = key ? (int)key->column + 1 : 0;
    yp->vline = (int)val->line + 1;
    yp->vcol = (int)val->column + 1;
}

static bool
all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t k = 0; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return false;
    return true;
}

/* YAML 1.2 core schema: [-+]?[0-9]+ */
static bool
is_int(const char *s, size_t n)
{
    if (n > 0 && (s[0] == '-' || s[0] == '+'))
        return all_digits(s + 1, n - 1);
    return all_digits(s, n);
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool
is_float(const char *s, size_t n)
{
    size_t k = 0, d1 = 0, d2 = 0;

    if (k < n && (s[k] == '-' || s[k] == '+'))
        k++;
    while (k < n && s[k] >= '0' && s[k] <= '9')
        k++, d1++;
    if (k < n && s[k] == '.') {
        k++;
        while (k < n && s[k] >= '0' && s[k] <= '9')
            k++, d2++;
    }
    if (d1 == 0 && d2 == 0)
        return false;
    if (k < n && (s[k] == 'e' || s[k] == 'E')) {
        size_t d3 = 0;

        k++;
        if (k < n && (s[k] == '-' || s[k] == '+'))
            k++;
        while (k < n && s[k] >= '0' && s[k] <= '9')
            k++, d3++;
        if (d3 == 0)
            return false;
    }
    return k == n;
}

static bool
is_special_float(const char *s)
{
    static const char *const sp[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
                                     "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};

    for (size_t k = 0; k < CM_ARRAY_LEN(sp); k++)
        if (strcmp(s, sp[k]) == 0)
            return true;
    return false;
}

static bool
one_of(const char *s, const char *a, const char *b, const char *c)
{
    return strcmp(s, a) == 0 || strcmp(s, b) == 0 || strcmp(s, c) == 0;
}

enum want {
    W_ANY,
    W_STR,
    W_INT,
    W_FLOAT,
    W_BOOL,
    W_NULL,
};

static int
scalar(struct yb *y, const yaml_event_t *ev, json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    enum want w = plain ? W_ANY : W_STR;

    if (memchr(s, '\0', n) != NULL)
        return yerr_at(y, &ev->start_mark, "NUL characters are not allowed");
    if (tag != NULL) {
        if (strcmp(tag, "!") == 0 || strcmp(tag, TAG_PREFIX "str") == 0)
            w = W_STR;
        else if (strcmp(tag, TAG_PREFIX "int") == 0)
            w = W_INT;
        else if (strcmp(tag, TAG_PREFIX "float") == 0)
            w = W_FLOAT;
        else if (strcmp(tag, TAG_PREFIX "bool") == 0)
            w = W_BOOL;
        else if (strcmp(tag, TAG_PREFIX "null") == 0)
            w = W_NULL;
        else {
            char msg[200];

            snprintf(msg, sizeof(msg), "the tag %.80s is not supported (only the core tags)", tag);
            return yerr_at(y, &ev->start_mark, msg);
        }
    }
    if (w == W_STR) {
        *out = json_stringn(s, n);
        if (*out == NULL)
            return yerr_at(y, &ev->start_mark, "invalid UTF-8");
        return CM_OK;
    }
    if ((w == W_ANY || w == W_NULL) &&
        (n == 0 || one_of(s, "~", "null", "Null") || strcmp(s, "NULL") == 0)) {
        *out = json_null();
        return CM_OK;
    }
    if ((w == W_ANY || w == W_BOOL) && one_of(s, "true", "True", "TRUE")) {
        *out = json_true();
        return CM_OK;
    }
    if ((w == W_ANY || w == W_BOOL) && one_of(s, "false", "False", "FALSE")) {
        *out = json_false();
        return CM_OK;
    }
    if ((w == W_ANY || w == W_INT) && is_int(s, n)) {
        long long v;
        char *end;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return yerr_at(y, &ev->start_mark, "integer out of range");
        *out = json_integer(v);
        return CM_OK;
    }
    if ((w == W_ANY || w == W_FLOAT) && is_special_float(s))
        return yerr_at(y, &ev->start_mark, "infinities and NaN are not supported");
    if ((w == W_ANY || w == W_FLOAT) && (is_float(s, n) || is_int(s, n))) {
        double v;
        char *end;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end != '\0')
            return yerr_at(y, &ev->start_mark, "number out of range");
        *out = json_real(v);
        return CM_OK;
    }
    if (w != W_ANY)
        return yerr_at(y, &ev->start_mark, "the value does not fit its tag");
    *out = json_stringn(s, n);
    if (*out == NULL)
        return yerr_at(y, &ev->start_mark, "invalid UTF-8");
    return CM_OK;
}

static int
check_anchor(struct yb *y, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL;
    char msg[200];

    if (ev->type == YAML_SCALAR_EVENT)
        anchor = ev->data.scalar.anchor;
    else if (ev->type == YAML_SEQUENCE_START_EVENT)
        anchor = ev->data.sequence_start.anchor;
    else if (ev->type == YAML_MAPPING_START_EVENT)
        anchor = ev->data.mapping_start.anchor;
    if (ev->type == YAML_ALIAS_EVENT) {
        snprintf(msg, sizeof(msg),
                 "aliases (*%.60s) are not supported: write the value out in full",
                 (const char *)ev->data.alias.anchor);
        return yerr_at(y, &ev->start_mark, msg);
    }
    if (anchor != NULL) {
        snprintf(msg, sizeof(msg),
                 "anchors (&%.60s) are not supported: write each value out in full",
                 (const char *)anchor);
        return yerr_at(y, &ev->start_mark, msg);
    }
    if ((ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.tag != NULL &&
         strcmp((const char *)ev->data.sequence_start.tag, TAG_PREFIX "seq") != 0) ||
        (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.tag != NULL &&
         strcmp((const char *)ev->data.mapping_start.tag, TAG_PREFIX "map") != 0))
        return yerr_at(y, &ev->start_mark, "tags on collections are not supported");
    return CM_OK;
}

/* Builds the node that starts with *ev (consumed; the caller deletes it). */
static int node(struct yb *y, yaml_event_t *ev, const yaml_mark_t *keymark, json_t **out);

static int
mapping(struct yb *y, json_t *obj)
{
    for (;;) {
        yaml_event_t kev, vev;
        json_t *val = NULL;
        char *key;
        int rc;

        if ((rc = next_event(y, &kev)) != CM_OK)
            return rc;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return CM_OK;
        }
        if ((rc = check_anchor(y, &kev)) != CM_OK) {
            yaml_event_delete(&kev);
            return rc;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            rc = yerr_at(y, &kev.start_mark, "a key must be a plain string, not a collection");
            yaml_event_delete(&kev);
            return rc;
        }
        if (memchr(kev.data.scalar.value, '\0', kev.data.scalar.length) != NULL) {
            rc = yerr_at(y, &kev.start_mark, "NUL characters are not allowed");
            yaml_event_delete(&kev);
            return rc;
        }
        key = cm_strndup((const char *)kev.data.scalar.value, kev.data.scalar.length);
        if (json_object_get(obj, key) != NULL) {
            char msg[200];

            snprintf(msg, sizeof(msg), "duplicate key \"%.80s\"", key);
            rc = yerr_at(y, &kev.start_mark, msg);
            free(key);
            yaml_event_delete(&kev);
            return rc;
        }
        y->path[y->depth].key = key;
        y->depth++;
        rc = next_event(y, &vev);
        if (rc == CM_OK) {
            rc = node(y, &vev, &kev.start_mark, &val);
            yaml_event_delete(&vev);
        }
        y->depth--;
        yaml_event_delete(&kev);
        if (rc == CM_OK && json_object_set_new(obj, key, val) != 0)
            rc = cm_err_set(y->err, CM_EINPUT, "%s: invalid key (not UTF-8)", y->doc->name);
        free(key);
        if (rc != CM_OK)
            return rc;
    }
}

static int
sequence(struct yb *y, json_t *arr)
{
    for (size_t idx = 0;; idx++) {
        yaml_event_t ev;
        json_t *val = NULL;
        int rc;

        if ((rc = next_event(y, &ev)) != CM_OK)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return CM_OK;
        }
        y->path[y->depth].key = NULL;
        y->path[y->depth].idx = idx;
        y->depth++;
        rc = node(y, &ev, NULL, &val);
        y->depth--;
        yaml_event_delete(&ev);
        if (rc != CM_OK)
            return rc;
        json_array_append_new(arr, val);
    }
}

static int
node(struct yb *y, yaml_event_t *ev, const yaml_mark_t *keymark, json_t **out)
{
    int rc;

    *out = NULL;
    if ((rc = check_anchor(y, ev)) != CM_OK)
        return rc;
    if (y->depth >= POL_DOC_MAX_DEPTH)
        return yerr_at(y, &ev->start_mark, "nested too deeply");
    record_pos(y, keymark, &ev->start_mark);
    switch (ev->type) {
    case YAML_SCALAR_EVENT: return scalar(y, ev, out);
    case YAML_SEQUENCE_START_EVENT:
        *out = json_array();
        rc = sequence(y, *out);
        break;
    case YAML_MAPPING_START_EVENT:
        *out = json_object();
        rc = mapping(y, *out);
        break;
    default: return yerr_at(y, &ev->start_mark, "unexpected YAML event");
    }
    if (rc != CM_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static int
yaml_parse_doc(struct pol_doc *doc, struct cm_err *err)
{
    struct yb y = {.doc = doc, .err = err};
    yaml_event_t ev;
    json_t *root = NULL;
    int rc;

    if (!yaml_parser_initialize(&y.parser))
        return cm_err_set(err, CM_EINTERNAL, "%s: cannot initialise the YAML parser", doc->name);
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)doc->text, doc->len);
    yaml_parser_set_encoding(&y.parser, YAML_UTF8_ENCODING);
    for (;;) {
        if ((rc = next_event(&y, &ev)) != CM_OK)
            break;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            if (root == NULL)
                rc = cm_err_set(err, CM_EINPUT, "%s:1:1: empty document", doc->name);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT && root != NULL) {
            rc = yerr_at(&y, &ev.start_mark,
                         "more than one YAML document (a policy is one document)");
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
            ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_ALIAS_EVENT) {
            rc = node(&y, &ev, NULL, &root);
        }
        yaml_event_delete(&ev);
        if (rc != CM_OK)
            break;
    }
    yaml_parser_delete(&y.parser);
    if (rc != CM_OK) {
        json_decref(root);
        return rc;
    }
    doc->root = root;
    return CM_OK;
}

/* ------------------------------------------------------------ entry */

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int
pol_doc_parse(const char *name, const char *text, size_t len, enum pol_doc_fmt fmt,
              struct pol_doc **out, struct cm_err *err)
{
    struct pol_doc *doc = cm_calloc(1, sizeof(*doc));
    int rc;

    *out = NULL;
    doc->name = cm_strdup(name);
    doc->text = cm_malloc(len + 1);
    memcpy(doc->text, text, len);
    doc->text[len] = '\0';
    doc->len = len;
    if (fmt == POL_DOC_AUTO) {
        size_t p = 0;

        while (p < len && strchr(" \t\r\n", text[p]) != NULL)
            p++;
        if (ends_with(name, ".yaml") || ends_with(name, ".yml"))
            fmt = POL_DOC_YAML;
        else if (p < len && (text[p] == '{' || text[p] == '['))
            fmt = POL_DOC_JSON;
        else if (ends_with(name, ".json"))
            fmt = POL_DOC_JSON;
        else
            fmt = POL_DOC_YAML;
    }
    doc->yaml = fmt == POL_DOC_YAML;
    if (doc->yaml) {
        rc = yaml_parse_doc(doc, err);
    } else {
        json_error_t je;

        doc->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        rc = doc->root != NULL
                 ? CM_OK
                 : cm_err_set(err, CM_EINPUT, "%s:%d:%d: %s", name, je.line, je.column, je.text);
    }
    if (rc != CM_OK) {
        pol_doc_free(doc);
        return rc;
    }
    *out = doc;
    return CM_OK;
}

int
pol_doc_read(const char *path, size_t max, struct cm_buf *out, struct cm_err *err)
{
    bool std = strcmp(path, "-") == 0;
    FILE *f = std ? stdin : fopen(path, "rb");
    char chunk[8192];
    size_t n;
    int rc = CM_OK;

    if (f == NULL)
        return cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (out->len + n > max) {
            rc = cm_err_set(err, CM_EINPUT, "%s: larger than %zu bytes", path, max);
            break;
        }
        cm_buf_append(out, chunk, n);
    }
    if (rc == CM_OK && ferror(f))
        rc = cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    if (!std)
        fclose(f);
    return rc;
}

int
pol_doc_load(const char *path, size_t max, struct pol_doc **out, struct cm_err *err)
{
    struct cm_buf b;
    int rc;

    *out = NULL;
    cm_buf_init(&b);
    rc = pol_doc_read(path, max, &b, err);
    if (rc == CM_OK)
        rc = pol_doc_parse(path, b.p ? b.p : "", b.len, POL_DOC_AUTO, out, err);
    cm_buf_fini(&b);
    return rc;
}
