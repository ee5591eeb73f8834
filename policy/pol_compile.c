/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_compile: validates a policy document (pol_doc.h: JSON or YAML, one
 * tree) and compiles it into the immutable struct pol_set of pol_internal.h.
 *
 * The walk keeps a path stack so that every error names its JSON pointer
 * and, through pol_doc_where(), its line and column:
 *   "policy.yaml:12:7: /rules/2/match/modle: unknown key (did you mean
 *    \"model\"?)"
 * Each kind of mistake has its own message (unknown key, wrong type, unknown
 * entity type / action / route / modality / direction / purpose, bad glob,
 * bad regex, out-of-range number, duplicate id, contradictory options), so
 * a policy author can fix it without reading code.
 *
 * Order matters: recognizers first (they add labels that the action maps,
 * the lists and the rules may name), then purposes (rules may name them),
 * then everything else.  Nothing is a silent no-op: a key the compiler does
 * not use is an error.
 * Adding a key: its object's key list below, its parser, pol_internal.h,
 * docs/policy.md.
 */
#include "policy/pol_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cm_mem.h"
#include "policy/pol_doc.h"

#define VPATH_MAX 16

struct vctx {
    const struct pol_doc *doc;
    struct cm_err *err;
    struct pol_seg path[VPATH_MAX];
    int depth;
    struct pol_set *ps;
};

static const char *const dir_names[] = {"request", "response"};

/* ------------------------------------------------------------ errors */

static int verr(const struct vctx *v, bool at_key, const char *fmt, ...) CM_PRINTF(3, 4);

/* Sets "name:line:column: /pointer: message"; returns CM_EINPUT. */
static int
verr(const struct vctx *v, bool at_key, const char *fmt, ...)
{
    va_list ap;
    char msg[320];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pol_doc_err(v->doc, v->path, v->depth, at_key, v->err, "%s", msg);
}

static void
push_key(struct vctx *v, const char *key)
{
    cm_assert(v->depth < VPATH_MAX);
    v->path[v->depth].key = key;
    v->path[v->depth].idx = 0;
    v->depth++;
}

static void
push_idx(struct vctx *v, size_t idx)
{
    cm_assert(v->depth < VPATH_MAX);
    v->path[v->depth].key = NULL;
    v->path[v->depth].idx = idx;
    v->depth++;
}

static void
pop(struct vctx *v)
{
    v->depth--;
}

static const char *
type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Checks that every key of obj is in allowed (NULL-terminated). */
static int
check_keys(struct vctx *v, json_t *obj, const char *const *allowed)
{
    cm_assert(v->depth < VPATH_MAX);
    return pol_doc_check_keys(v->doc, v->path, v->depth, obj, allowed, v->err);
}

/* ------------------------------------------------------------ scalars */

static bool
text_ok(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return false;
    return true;
}

/* The string at key (optional); NULL when absent.  Fails on a wrong type. */
static int
get_str(struct vctx *v, json_t *obj, const char *key, bool required, bool nonempty,
        const char **out)
{
    json_t *j = json_object_get(obj, key);
    int rc = CM_OK;

    *out = NULL;
    if (j == NULL) {
        if (required)
            return verr(v, false, "missing \"%s\"", key);
        return CM_OK;
    }
    push_key(v, key);
    if (!json_is_string(j))
        rc = verr(v, false, "expected a string, got %s", type_name(j));
    else if (nonempty && json_string_length(j) == 0)
        rc = verr(v, false, "expected a non-empty string");
    else if (!text_ok(json_string_value(j)))
        rc = verr(v, false, "control characters are not allowed");
    else
        *out = json_string_value(j);
    pop(v);
    return rc;
}

static int
get_bool(struct vctx *v, json_t *obj, const char *key, bool *out)
{
    json_t *j = json_object_get(obj, key);
    int rc = CM_OK;

    if (j == NULL)
        return CM_OK;
    push_key(v, key);
    if (!json_is_boolean(j))
        rc = verr(v, false, "expected true or false, got %s", type_name(j));
    else
        *out = json_is_true(j);
    pop(v);
    return rc;
}

static int
get_int(struct vctx *v, json_t *obj, const char *key, long long lo, long long hi, long long *out)
{
    json_t *j = json_object_get(obj, key);
    int rc = CM_OK;

    if (j == NULL)
        return CM_OK;
    push_key(v, key);
    if (!json_is_integer(j))
        rc = verr(v, false, "expected an integer %lld-%lld, got %s", lo, hi, type_name(j));
    else if (json_integer_value(j) < lo || json_integer_value(j) > hi)
        rc = verr(v, false, "expected an integer %lld-%lld, got %lld", lo, hi,
                  (long long)json_integer_value(j));
    else
        *out = json_integer_value(j);
    pop(v);
    return rc;
}

/* A score 0..1 (integer 0 or 1 accepted). */
static int
get_score(struct vctx *v, json_t *obj, const char *key, float *out, bool *present)
{
    json_t *j = json_object_get(obj, key);
    int rc = CM_OK;

    if (present != NULL)
        *present = j != NULL;
    if (j == NULL)
        return CM_OK;
    push_key(v, key);
    if (!json_is_number(j))
        rc = verr(v, false, "expected a score from 0 to 1, got %s", type_name(j));
    else if (!(json_number_value(j) >= 0.0 && json_number_value(j) <= 1.0))
        rc = verr(v, false, "expected a score from 0 to 1, got %g", json_number_value(j));
    else
        *out = (float)json_number_value(j);
    pop(v);
    return rc;
}

static void
strs_add(struct pol_strs *s, const char *v)
{
    s->v = cm_realloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = cm_strdup(v);
}

static void
strs_free(struct pol_strs *s)
{
    for (size_t k = 0; k < s->n; k++)
        free(s->v[k]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static bool
strs_has(const struct pol_strs *s, const char *v)
{
    for (size_t k = 0; k < s->n; k++)
        if (strcmp(s->v[k], v) == 0)
            return true;
    return false;
}

enum str_kind {
    STR_PLAIN,
    STR_GLOB,
    STR_PURPOSE,
    STR_MEDIA,
    STR_POINTER,
};

/* NULL when p is a JSON pointer as generic mode takes it (RFC 6901: "/"
 * then segments, "~" only as "~0" or "~1"; "*" as a whole segment matches
 * any one key or index), else what is wrong. */
static const char *
pointer_check(const char *p)
{
    if (p[0] != '/')
        return "a JSON pointer starts with \"/\" (\"/inputs\", \"/instances/*/text\")";
    if (strlen(p) > 512)
        return "longer than 512 characters";
    for (const char *c = p; *c != '\0'; c++) {
        if (*c == '~' && c[1] != '0' && c[1] != '1')
            return "\"~\" is written \"~0\" and \"/\" inside a key \"~1\" (RFC 6901)";
    }
    return NULL;
}

/* A string or a non-empty array of non-empty strings, into out. */
static int
parse_strs(struct vctx *v, json_t *j, struct pol_strs *out, enum str_kind kind)
{
    size_t n = json_is_array(j) ? json_array_size(j) : 1;
    struct pol_set *ps = v->ps;

    if (!json_is_string(j) && !json_is_array(j))
        return verr(v, false, "expected a string or an array of strings, got %s", type_name(j));
    if (n == 0)
        return verr(v, false, "empty array (leave the condition out to match everything)");
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_is_array(j) ? json_array_get(j, k) : j;
        const char *s = json_string_value(e), *bad = NULL;
        int rc = CM_OK;

        if (json_is_array(j))
            push_idx(v, k);
        if (!json_is_string(e) || json_string_length(e) == 0)
            rc = verr(v, false, "expected a non-empty string, got %s",
                      json_is_string(e) ? "an empty string" : type_name(e));
        else if (!text_ok(s))
            rc = verr(v, false, "control characters are not allowed");
        else if (kind == STR_GLOB && (bad = pol_glob_check(s)) != NULL)
            rc = verr(v, false, "bad pattern \"%s\": %s", s, bad);
        else if (kind == STR_PURPOSE && ps->purposes.n > 0 && !strs_has(&ps->purposes, s))
            rc = verr(v, false, "unknown purpose \"%s\" (not in /purpose/allowed)", s);
        else if (kind == STR_MEDIA && (strchr(s, '/') == NULL || strchr(s, ';') != NULL))
            rc = verr(v, false, "expected a media type such as \"application/json\"");
        else if (kind == STR_POINTER && (bad = pointer_check(s)) != NULL)
            rc = verr(v, false, "bad JSON pointer \"%s\": %s", s, bad);
        else if (kind == STR_POINTER && out->n >= 64)
            rc = verr(v, false, "more than 64 JSON pointers");
        if (json_is_array(j))
            pop(v);
        if (rc != CM_OK)
            return rc;
        if (kind == STR_MEDIA) {
            char *low = cm_strdup(s);

            for (char *p = low; *p != '\0'; p++)
                *p = (char)tolower((unsigned char)*p);
            strs_add(out, low);
            free(low);
        } else {
            strs_add(out, s);
        }
    }
    return CM_OK;
}

/* Each element of a string-or-array through fn (returns a bit, 0 unknown). */
static int
parse_enum_set(struct vctx *v, json_t *j, unsigned *out, int (*fn)(const char *), const char *what,
               const char *const *names, size_t nnames)
{
    size_t n = json_is_array(j) ? json_array_size(j) : 1;

    if (!json_is_string(j) && !json_is_array(j))
        return verr(v, false, "expected a %s or an array of them, got %s", what, type_name(j));
    if (n == 0)
        return verr(v, false, "empty array (leave the condition out to match everything)");
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_is_array(j) ? json_array_get(j, k) : j;
        int bit = json_is_string(e) ? fn(json_string_value(e)) : -1;
        int rc = CM_OK;

        if (json_is_array(j))
            push_idx(v, k);
        if (!json_is_string(e)) {
            rc = verr(v, false, "expected a %s string, got %s", what, type_name(e));
        } else if (bit < 0) {
            struct cm_buf list;

            cm_buf_init(&list);
            for (size_t q = 0; q < nnames; q++)
                cm_buf_printf(&list, "%s%s", q ? ", " : "", names[q]);
            rc = verr(v, false, "unknown %s \"%s\" (expected one of: %s)", what,
                      json_string_value(e), list.p);
            cm_buf_fini(&list);
        }
        if (json_is_array(j))
            pop(v);
        if (rc != CM_OK)
            return rc;
        *out |= 1u << bit;
    }
    return CM_OK;
}

static int
route_bit(const char *s)
{
    return pol_route_parse(s);
}

static int
modality_bit(const char *s)
{
    unsigned m = pol_modality_parse(s);

    return m == 0 ? -1 : __builtin_ctz(m);
}

static int
dir_bit(const char *s)
{
    return strcmp(s, "request") == 0 ? 0 : strcmp(s, "response") == 0 ? 1 : -1;
}

static const char *const route_list[] = {"chat",      "completion", "embedding",
                                         "responses", "messages",   "other"};
static const char *const modality_list[] = {"text", "image", "audio", "file"};

/* ------------------------------------------------------------ labels */

static int
label_of(struct vctx *v, const char *name)
{
    return pol_set_label_parse(v->ps, name);
}

static int
unknown_label(struct vctx *v, const char *name, bool at_key)
{
    char hint[96];

    pol_doc_suggest(name, v->ps->label_names, v->ps->nlabels, hint, sizeof(hint));
    return verr(v, at_key, "unknown entity type \"%s\"%s", name,
                hint[0] ? hint : " (a built-in label such as EMAIL, or the name of a recognizer)");
}

/* ------------------------------------------------------------ actions */

/* An action map value: "redact", or {"action": "mask", "keep": 2,
 * "min_score": 0.7}.  min_score only where allowed (entity defaults). */
static int
parse_action_value(struct vctx *v, json_t *j, bool allow_score, enum pol_action *act, uint8_t *keep,
                   float *min_score)
{
    static const char *const keys[] = {"action", "keep", "min_score", NULL};
    json_t *a = j;
    long long k = -1;
    int rc;

    if (json_is_object(j)) {
        if ((rc = check_keys(v, j, keys)) != CM_OK)
            return rc;
        a = json_object_get(j, "action");
        if (a == NULL)
            return verr(v, false, "missing \"action\"");
        push_key(v, "action");
    } else if (!json_is_string(j)) {
        return verr(v, false, "expected an action string or an object with \"action\", got %s",
                    type_name(j));
    }
    if (!json_is_string(a))
        rc = verr(v, false, "expected an action string, got %s", type_name(a));
    else if (pol_action_parse(json_string_value(a)) < 0)
        rc = verr(v, false,
                  "unknown action \"%s\" (expected allow, mask, redact, hash, pseudonymise, "
                  "encrypt or deny)",
                  json_string_value(a));
    else
        rc = CM_OK;
    if (json_is_object(j))
        pop(v);
    if (rc != CM_OK)
        return rc;
    *act = (enum pol_action)pol_action_parse(json_string_value(a));
    if (!json_is_object(j))
        return CM_OK;
    if ((rc = get_int(v, j, "keep", 0, 64, &k)) != CM_OK)
        return rc;
    if (k >= 0) {
        if (*act != POL_ACT_MASK) {
            push_key(v, "keep");
            rc = verr(v, true, "\"keep\" only applies to the action mask");
            pop(v);
            return rc;
        }
        *keep = (uint8_t)k;
    }
    if (json_object_get(j, "min_score") != NULL && !allow_score) {
        push_key(v, "min_score");
        rc = verr(v, true,
                  "min_score belongs in the entity actions of \"request\" or \"response\", "
                  "not in a rule (a rule cannot change what was detected)");
        pop(v);
        return rc;
    }
    return get_score(v, j, "min_score", min_score, NULL);
}

static int
parse_dir_actions(struct vctx *v, json_t *j, int d)
{
    struct pol_set *ps = v->ps;
    const char *key;
    json_t *val;

    if (!json_is_object(j))
        return verr(v, false, "expected an object of entity type: action, got %s", type_name(j));
    json_object_foreach (j, key, val) {
        int l = label_of(v, key), rc;

        push_key(v, key);
        if (l < 0) {
            rc = unknown_label(v, key, true);
            pop(v);
            return rc;
        }
        rc = parse_action_value(v, val, true, &ps->actions[d][l], &ps->keep[d][l],
                                &ps->min_score[d][l]);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

/* ------------------------------------------------------------ recognizers */

/* Custom label names appear in placeholders ("<EMPLOYEE_ID_3f9a1c2b>")
 * that the restorer must recognise in answers: upper-case letters and '_'
 * only, at most as long as the longest built-in name (ORGANIZATION). */
static bool
label_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 2 || n > 12 || !(s[0] >= 'A' && s[0] <= 'Z') || s[n - 1] == '_')
        return false;
    for (size_t k = 0; k < n; k++)
        if (!((s[k] >= 'A' && s[k] <= 'Z') || s[k] == '_'))
            return false;
    return true;
}

static struct pol_scan_entry *
scan_add(struct pol_set *ps, enum pol_scan_kind kind, const char *where)
{
    struct pol_scan_entry *e;

    ps->scan = cm_realloc(ps->scan, (ps->nscan + 1) * sizeof(*ps->scan));
    e = &ps->scan[ps->nscan++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->where = cm_strdup(where);
    e->score_noctx = -1.0f;
    return e;
}

/* Compiles the pattern at obj.key into *code. */
static int
compile_pattern(struct vctx *v, json_t *obj, const char *key, bool icase, void **code)
{
    const char *pat;
    char msg[200];
    int rc;

    if ((rc = get_str(v, obj, key, true, true, &pat)) != CM_OK)
        return rc;
    if (pol_rx_compile(pat, icase, code, msg, sizeof(msg)) != CM_OK) {
        push_key(v, key);
        rc = verr(v, false, "bad regular expression: %s", msg);
        pop(v);
        return rc;
    }
    return CM_OK;
}

/* "values": a non-empty array of non-empty strings, compiled as words. */
static int
compile_words(struct vctx *v, json_t *obj, const char *key, bool icase, void **code)
{
    json_t *j = json_object_get(obj, key);
    struct pol_strs s = {0};
    char msg[200];
    int rc;

    push_key(v, key);
    if (!json_is_array(j)) {
        rc = verr(v, false, "expected an array of strings, got %s", type_name(j));
        pop(v);
        return rc;
    }
    rc = parse_strs(v, j, &s, STR_PLAIN);
    if (rc == CM_OK &&
        pol_rx_compile_words((const char *const *)s.v, s.n, icase, code, msg, sizeof(msg)) != CM_OK)
        rc = verr(v, false, "cannot compile the values: %s", msg);
    pop(v);
    strs_free(&s);
    return rc;
}

static int
parse_recognizer(struct vctx *v, json_t *r, size_t idx)
{
    static const char *const keys[] = {"name",    "description", "pattern", "ignore_case",
                                       "context", "window",      "score",   "score_without_context",
                                       NULL};
    struct pol_set *ps = v->ps;
    struct pol_scan_entry *e;
    const char *name, *desc;
    char where[48];
    bool icase = false, has_noctx = false;
    long long window = 40;
    json_t *ctx;
    int rc;

    if (!json_is_object(r))
        return verr(v, false, "expected a recognizer object, got %s", type_name(r));
    if ((rc = check_keys(v, r, keys)) != CM_OK)
        return rc;
    if ((rc = get_str(v, r, "name", true, true, &name)) != CM_OK ||
        (rc = get_str(v, r, "description", false, false, &desc)) != CM_OK)
        return rc;
    push_key(v, "name");
    if (!label_name_ok(name))
        rc = verr(v, false,
                  "an entity type name is 2-12 upper-case letters or '_', starting with a "
                  "letter and ending with one (got \"%s\"): it appears in placeholders",
                  name);
    else if (label_of(v, name) >= 0)
        rc = verr(v, false, "entity type \"%s\" is %s", name,
                  label_of(v, name) < POL_PII__COUNT ? "built in: choose another name"
                                                     : "defined twice");
    else if (ps->nlabels >= POL_LABEL_MAX)
        rc = verr(v, false, "too many recognizers (at most %d)", POL_LABEL_MAX - POL_PII__COUNT);
    pop(v);
    if (rc != CM_OK)
        return rc;
    if ((rc = get_bool(v, r, "ignore_case", &icase)) != CM_OK ||
        (rc = get_int(v, r, "window", 1, 1000, &window)) != CM_OK)
        return rc;
    snprintf(where, sizeof(where), "recognizers/%zu", idx);
    e = scan_add(ps, POL_SCAN_RECOG, where);
    e->label = (unsigned)ps->nlabels;
    e->window = (unsigned)window;
    e->score = 1.0f;
    if ((rc = compile_pattern(v, r, "pattern", icase, &e->code)) != CM_OK)
        return rc;
    if ((rc = get_score(v, r, "score", &e->score, NULL)) != CM_OK ||
        (rc = get_score(v, r, "score_without_context", &e->score_noctx, &has_noctx)) != CM_OK)
        return rc;
    ctx = json_object_get(r, "context");
    if (ctx != NULL) {
        rc = compile_words(v, r, "context", true, &e->ctx);
        if (rc != CM_OK)
            return rc;
    } else if (has_noctx || json_object_get(r, "window") != NULL) {
        push_key(v, has_noctx ? "score_without_context" : "window");
        rc = verr(v, true, "only meaningful with \"context\" words");
        pop(v);
        return rc;
    }
    ps->custom_names[ps->nlabels] = cm_strdup(name);
    ps->label_names[ps->nlabels] = ps->custom_names[ps->nlabels];
    ps->nlabels++;
    return CM_OK;
}

/* ------------------------------------------------------------ lists */

/* An allow_list or deny_list entry. */
static int
parse_list_entry(struct vctx *v, json_t *j, bool allow, size_t idx)
{
    static const char *const allow_keys[] = {"values",      "pattern",     "labels",
                                             "ignore_case", "description", NULL};
    static const char *const deny_keys[] = {"values",      "pattern",     "label",
                                            "ignore_case", "description", NULL};
    struct pol_set *ps = v->ps;
    struct pol_scan_entry *e;
    bool has_values, has_pattern, icase;
    const char *desc;
    char where[48];
    int rc;

    if (!json_is_object(j))
        return verr(v, false, "expected an object with \"values\" or \"pattern\", got %s",
                    type_name(j));
    if ((rc = check_keys(v, j, allow ? allow_keys : deny_keys)) != CM_OK ||
        (rc = get_str(v, j, "description", false, false, &desc)) != CM_OK)
        return rc;
    has_values = json_object_get(j, "values") != NULL;
    has_pattern = json_object_get(j, "pattern") != NULL;
    if (has_values == has_pattern)
        return verr(v, false,
                    "give exactly one of \"values\" (literal words) or \"pattern\" "
                    "(a regular expression)");
    /* Literal names are matched in any case by default; patterns as written. */
    icase = has_values;
    if ((rc = get_bool(v, j, "ignore_case", &icase)) != CM_OK)
        return rc;
    snprintf(where, sizeof(where), "%s/%zu", allow ? "allow_list" : "deny_list", idx);
    e = scan_add(ps, allow ? POL_SCAN_ALLOW : POL_SCAN_DENY, where);
    e->score = 1.0f;
    if (allow) {
        json_t *labels = json_object_get(j, "labels");

        e->labels = ~(uint64_t)0;
        if (labels != NULL) {
            size_t n = json_is_array(labels) ? json_array_size(labels) : 0;

            push_key(v, "labels");
            if (!json_is_array(labels) || n == 0) {
                rc = verr(v, false, "expected a non-empty array of entity types");
                pop(v);
                return rc;
            }
            e->labels = 0;
            for (size_t k = 0; k < n; k++) {
                json_t *le = json_array_get(labels, k);
                int l = json_is_string(le) ? label_of(v, json_string_value(le)) : -1;

                push_idx(v, k);
                if (!json_is_string(le))
                    rc = verr(v, false, "expected an entity type string, got %s", type_name(le));
                else if (l < 0)
                    rc = unknown_label(v, json_string_value(le), false);
                pop(v);
                if (rc != CM_OK) {
                    pop(v);
                    return rc;
                }
                e->labels |= (uint64_t)1 << l;
            }
            pop(v);
        }
    } else {
        const char *label;
        int l;

        if ((rc = get_str(v, j, "label", true, true, &label)) != CM_OK)
            return rc;
        if ((l = label_of(v, label)) < 0) {
            push_key(v, "label");
            rc = unknown_label(v, label, false);
            pop(v);
            return rc;
        }
        e->label = (unsigned)l;
    }
    if (has_values)
        return compile_words(v, j, "values", icase, &e->code);
    return compile_pattern(v, j, "pattern", icase, &e->code);
}

static int
parse_list(struct vctx *v, json_t *j, bool allow)
{
    int rc;

    if (!json_is_array(j))
        return verr(v, false, "expected an array of entries, got %s", type_name(j));
    for (size_t k = 0; k < json_array_size(j); k++) {
        push_idx(v, k);
        rc = parse_list_entry(v, json_array_get(j, k), allow, k);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

/* ------------------------------------------------------------ rules */

static int
parse_findings(struct vctx *v, json_t *j, struct pol_cond *c)
{
    const char *key;
    json_t *val;

    if (json_is_string(j) || json_is_array(j)) {
        size_t n = json_is_array(j) ? json_array_size(j) : 1;

        if (n == 0)
            return verr(v, false, "empty array (leave the condition out to match everything)");
        for (size_t k = 0; k < n; k++) {
            json_t *e = json_is_array(j) ? json_array_get(j, k) : j;
            int l = json_is_string(e) ? label_of(v, json_string_value(e)) : -1, rc = CM_OK;

            if (json_is_array(j))
                push_idx(v, k);
            if (!json_is_string(e))
                rc = verr(v, false, "expected an entity type string, got %s", type_name(e));
            else if (l < 0)
                rc = unknown_label(v, json_string_value(e), false);
            if (json_is_array(j))
                pop(v);
            if (rc != CM_OK)
                return rc;
            c->any_findings |= (uint64_t)1 << l;
        }
        return CM_OK;
    }
    if (!json_is_object(j))
        return verr(v, false,
                    "expected entity types (any of them found) or an object of counts "
                    "{\"EMAIL\": {\"min\": 3}}, got %s",
                    type_name(j));
    if (json_object_size(j) == 0)
        return verr(v, false, "empty object (leave the condition out to match everything)");
    json_object_foreach (j, key, val) {
        static const char *const keys[] = {"min", "max", NULL};
        int l = label_of(v, key), rc;
        long long mn = -1, mx = -1;
        struct pol_count *pc;

        push_key(v, key);
        if (l < 0)
            rc = unknown_label(v, key, true);
        else if (!json_is_object(val))
            rc =
                verr(v, false, "expected {\"min\": N} and/or {\"max\": N}, got %s", type_name(val));
        else if ((rc = check_keys(v, val, keys)) == CM_OK &&
                 (rc = get_int(v, val, "min", 0, 1000000, &mn)) == CM_OK &&
                 (rc = get_int(v, val, "max", 0, 1000000, &mx)) == CM_OK) {
            if (mn < 0 && mx < 0)
                rc = verr(v, false, "give \"min\", \"max\" or both");
            else if (mn >= 0 && mx >= 0 && mx < mn)
                rc = verr(v, false, "max %lld is below min %lld", mx, mn);
        }
        pop(v);
        if (rc != CM_OK)
            return rc;
        c->counts = cm_realloc(c->counts, (c->ncounts + 1) * sizeof(*c->counts));
        pc = &c->counts[c->ncounts++];
        pc->label = (unsigned)l;
        pc->min = mn < 0 ? 0 : (unsigned)mn;
        pc->max = mx < 0 ? ~0u : (unsigned)mx;
    }
    return CM_OK;
}

static int
parse_cond(struct vctx *v, json_t *m, struct pol_cond *c, bool is_except)
{
    static const char *const keys[] = {"principal", "groups",   "tenant",   "model",
                                       "route",     "purpose",  "modality", "content_type",
                                       "direction", "findings", NULL};
    const char *key;
    json_t *val;
    int rc;

    if (!json_is_object(m))
        return verr(v, false, "expected an object of conditions, got %s", type_name(m));
    if ((rc = check_keys(v, m, keys)) != CM_OK)
        return rc;
    if (is_except && json_object_size(m) == 0)
        return verr(v, false, "empty \"except\" (it would exclude everything)");
    c->present = true;
    json_object_foreach (m, key, val) {
        push_key(v, key);
        if (strcmp(key, "principal") == 0)
            rc = parse_strs(v, val, &c->principal, STR_GLOB);
        else if (strcmp(key, "groups") == 0)
            rc = parse_strs(v, val, &c->groups, STR_PLAIN);
        else if (strcmp(key, "tenant") == 0)
            rc = parse_strs(v, val, &c->tenant, STR_GLOB);
        else if (strcmp(key, "model") == 0)
            rc = parse_strs(v, val, &c->model, STR_GLOB);
        else if (strcmp(key, "route") == 0)
            rc = parse_enum_set(v, val, &c->routes, route_bit, "route", route_list,
                                CM_ARRAY_LEN(route_list));
        else if (strcmp(key, "purpose") == 0)
            rc = parse_strs(v, val, &c->purpose, STR_PURPOSE);
        else if (strcmp(key, "modality") == 0)
            rc = parse_enum_set(v, val, &c->modalities, modality_bit, "modality", modality_list,
                                CM_ARRAY_LEN(modality_list));
        else if (strcmp(key, "content_type") == 0)
            rc = parse_strs(v, val, &c->content_type, STR_MEDIA);
        else if (strcmp(key, "direction") == 0)
            rc = parse_enum_set(v, val, &c->dirs, dir_bit, "direction", dir_names, 2);
        else
            rc = parse_findings(v, val, c);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

static int
parse_rule_actions(struct vctx *v, json_t *j, struct pol_rule *rule)
{
    const char *key;
    json_t *val;

    if (!json_is_object(j))
        return verr(v, false, "expected an object of entity type: action, got %s", type_name(j));
    if (json_object_size(j) == 0)
        return verr(v, false, "empty object");
    json_object_foreach (j, key, val) {
        int l = label_of(v, key), rc;
        struct pol_override *o;
        float unused = 0;

        push_key(v, key);
        if (l < 0) {
            rc = unknown_label(v, key, true);
            pop(v);
            return rc;
        }
        rule->overrides =
            cm_realloc(rule->overrides, (rule->noverrides + 1) * sizeof(*rule->overrides));
        o = &rule->overrides[rule->noverrides++];
        o->label = (unsigned)l;
        o->keep = POL_KEEP_DEFAULT;
        rc = parse_action_value(v, val, false, &o->action, &o->keep, &unused);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

static bool
rule_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!isalnum((unsigned char)s[k]) && s[k] != '-' && s[k] != '_')
            return false;
    return true;
}

static void
summary_strs(struct cm_buf *b, const char *what, const struct pol_strs *s)
{
    if (s->n == 0)
        return;
    cm_buf_printf(b, "%s%s ", b->len ? "; " : "", what);
    for (size_t k = 0; k < s->n; k++)
        cm_buf_printf(b, "%s%s", k ? "|" : "", s->v[k]);
}

static void
summary_bits(struct cm_buf *b, const char *what, unsigned bits, const char *const *names, size_t n)
{
    bool first = true;

    if (bits == 0)
        return;
    cm_buf_printf(b, "%s%s ", b->len ? "; " : "", what);
    for (size_t k = 0; k < n; k++) {
        if (bits & (1u << k)) {
            cm_buf_printf(b, "%s%s", first ? "" : "|", names[k]);
            first = false;
        }
    }
}

static void
summary_cond(const struct pol_set *ps, const struct pol_cond *c, struct cm_buf *b)
{
    summary_strs(b, "principal", &c->principal);
    summary_strs(b, "groups", &c->groups);
    summary_strs(b, "tenant", &c->tenant);
    summary_strs(b, "model", &c->model);
    summary_bits(b, "route", c->routes, route_list, CM_ARRAY_LEN(route_list));
    summary_strs(b, "purpose", &c->purpose);
    summary_bits(b, "modality", c->modalities, modality_list, CM_ARRAY_LEN(modality_list));
    summary_strs(b, "content_type", &c->content_type);
    summary_bits(b, "direction", c->dirs, dir_names, 2);
    if (c->any_findings != 0) {
        bool first = true;

        cm_buf_printf(b, "%sfindings ", b->len ? "; " : "");
        for (unsigned l = 0; l < ps->nlabels; l++) {
            if (c->any_findings & ((uint64_t)1 << l)) {
                cm_buf_printf(b, "%s%s", first ? "" : "|", ps->label_names[l]);
                first = false;
            }
        }
    }
    for (size_t k = 0; k < c->ncounts; k++) {
        const struct pol_count *pc = &c->counts[k];

        cm_buf_printf(b, "%s%s count", b->len ? "; " : "", ps->label_names[pc->label]);
        if (pc->min > 0)
            cm_buf_printf(b, " >= %u", pc->min);
        if (pc->max != ~0u)
            cm_buf_printf(b, " <= %u", pc->max);
    }
}

/* The reason a rule carries into decisions and records. */
static char *
rule_why(const struct pol_set *ps, const struct pol_rule *r, const char *desc)
{
    struct cm_buf b;

    if (r->reason != NULL)
        return cm_strdup(r->reason);
    if (desc != NULL && desc[0] != '\0')
        return cm_strdup(desc);
    cm_buf_init(&b);
    summary_cond(ps, &r->match, &b);
    if (r->except.present) {
        struct cm_buf e;

        cm_buf_init(&e);
        summary_cond(ps, &r->except, &e);
        cm_buf_printf(&b, "%sexcept %s", b.len ? "; " : "", e.p);
        cm_buf_fini(&e);
    }
    if (b.len == 0)
        cm_buf_puts(&b, "matches every exchange");
    return cm_buf_steal(&b, NULL);
}

static int
parse_rule(struct vctx *v, json_t *r, struct pol_rule *rule)
{
    static const char *const keys[] = {"id",     "description", "match",   "except", "decision",
                                       "status", "reason",      "actions", NULL};
    struct pol_set *ps = v->ps;
    const char *id, *desc, *reason, *decision;
    long long status = -1;
    json_t *j;
    int rc;

    rule->status = 403;
    if (!json_is_object(r))
        return verr(v, false, "expected a rule object, got %s", type_name(r));
    if ((rc = check_keys(v, r, keys)) != CM_OK)
        return rc;
    if (json_object_get(r, "id") == NULL)
        return verr(v, false, "rule without \"id\"");
    if ((rc = get_str(v, r, "id", true, true, &id)) != CM_OK)
        return rc;
    push_key(v, "id");
    if (!rule_id_ok(id))
        rc = verr(v, false,
                  "a rule id is 1-64 letters, digits, '-' or '_' (got \"%s\"); ids with a dot "
                  "are the built-in ones",
                  id);
    for (size_t k = 0; rc == CM_OK && k < ps->nrules; k++)
        if (strcmp(ps->rules[k].id, id) == 0)
            rc = verr(v, false, "duplicate rule id \"%s\" (also rule %zu)", id, k);
    pop(v);
    if (rc != CM_OK)
        return rc;
    rule->id = cm_strdup(id);
    if ((rc = get_str(v, r, "description", false, false, &desc)) != CM_OK ||
        (rc = get_str(v, r, "reason", false, false, &reason)) != CM_OK ||
        (rc = get_str(v, r, "decision", false, true, &decision)) != CM_OK)
        return rc;
    if (reason != NULL)
        rule->reason = cm_strdup(reason);
    if ((j = json_object_get(r, "match")) != NULL) {
        push_key(v, "match");
        rc = parse_cond(v, j, &rule->match, false);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(r, "except")) != NULL) {
        push_key(v, "except");
        rc = parse_cond(v, j, &rule->except, true);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    if (decision != NULL) {
        push_key(v, "decision");
        if (strcmp(decision, "deny") == 0)
            rule->deny = true;
        else if (strcmp(decision, "allow") != 0)
            rc =
                verr(v, false, "expected \"allow\" or \"deny\" (entity actions go in \"actions\")");
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    if ((rc = get_int(v, r, "status", 400, 599, &status)) != CM_OK)
        return rc;
    if (status >= 0) {
        if (!rule->deny) {
            push_key(v, "status");
            rc = verr(v, true, "a status needs \"decision\": \"deny\"");
            pop(v);
            return rc;
        }
        rule->status = (int)status;
    }
    if ((j = json_object_get(r, "actions")) != NULL) {
        push_key(v, "actions");
        rc = parse_rule_actions(v, j, rule);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    rule->why = rule_why(ps, rule, desc);
    return CM_OK;
}

static int
parse_purpose(struct vctx *v, json_t *j)
{
    static const char *const keys[] = {"required", "allowed", NULL};
    struct pol_set *ps = v->ps;
    json_t *a;
    int rc;

    if (!json_is_object(j))
        return verr(v, false, "expected {\"required\": true, \"allowed\": [...]}, got %s",
                    type_name(j));
    if ((rc = check_keys(v, j, keys)) != CM_OK ||
        (rc = get_bool(v, j, "required", &ps->purpose_required)) != CM_OK)
        return rc;
    if ((a = json_object_get(j, "allowed")) != NULL) {
        push_key(v, "allowed");
        if (!json_is_array(a))
            rc = verr(v, false, "expected an array of purposes, got %s", type_name(a));
        else
            rc = parse_strs(v, a, &ps->purposes, STR_PLAIN);
        pop(v);
    }
    return rc;
}

/* "generic": {"request": [pointers], "response": [pointers], "whole": [pointers]}: what
 * generic JSON mode inspects (route other); a direction left out keeps
 * every string value. */
static int
parse_generic(struct vctx *v, json_t *j)
{
    static const char *const keys[] = {"request", "response", "whole", NULL};
    int rc;

    if (!json_is_object(j))
        return verr(v, false, "expected {\"request\": [\"/inputs\"], \"response\": [...]}, got %s",
                    type_name(j));
    if ((rc = check_keys(v, j, keys)) != CM_OK)
        return rc;
    for (int d = 0; d < 3; d++) {
        const char *name = d < 2 ? dir_names[d] : "whole";
        struct pol_strs *out = d < 2 ? &v->ps->generic[d] : &v->ps->generic_whole;
        json_t *a = json_object_get(j, name);

        if (a == NULL)
            continue;
        push_key(v, name);
        if (!json_is_array(a))
            rc = verr(v, false, "expected an array of JSON pointers, got %s", type_name(a));
        else if (json_array_size(a) == 0)
            rc = verr(v, false, "empty array (leave \"%s\" out %s)", name,
                      d < 2 ? "to inspect every string value" : "when no field comes whole");
        else
            rc = parse_strs(v, a, out, STR_POINTER);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    /* A whole field is a response field: inspected whether or not the
     * response list names it too. */
    if (v->ps->generic[1].n > 0)
        for (size_t k = 0; k < v->ps->generic_whole.n; k++)
            strs_add(&v->ps->generic[1], v->ps->generic_whole.v[k]);
    return CM_OK;
}

/* ------------------------------------------------------------ the set */

int
pol_compile(const struct pol_doc *doc, struct pol_set *ps, struct cm_err *err)
{
    static const char *const keys[] = {
        "id",          "description", "mode",      "mask_keep", "purpose", "request", "response",
        "recognizers", "allow_list",  "deny_list", "rules",     "generic", NULL};
    struct vctx v = {.doc = doc, .err = err, .ps = ps};
    json_t *root = pol_doc_root(doc), *j;
    const char *id, *desc, *mode;
    long long mask_keep = 4;
    int rc;

    ps->mode = POL_MODE_ENFORCE;
    ps->nlabels = POL_PII__COUNT;
    for (unsigned l = 0; l < POL_PII__COUNT; l++)
        ps->label_names[l] = pol_pii_label_name((enum pol_pii_label)l);
    if (!json_is_object(root))
        return verr(&v, false, "a policy is an object (a mapping), got %s", type_name(root));
    if ((rc = check_keys(&v, root, keys)) != CM_OK)
        return rc;
    if (json_object_get(root, "id") == NULL)
        return verr(&v, false, "policy without \"id\"");
    if ((rc = get_str(&v, root, "id", true, true, &id)) != CM_OK)
        return rc;
    if (strlen(id) > 128) {
        push_key(&v, "id");
        rc = verr(&v, false, "longer than 128 characters");
        pop(&v);
        return rc;
    }
    ps->id = cm_strdup(id);
    if ((rc = get_str(&v, root, "description", false, false, &desc)) != CM_OK ||
        (rc = get_str(&v, root, "mode", false, true, &mode)) != CM_OK)
        return rc;
    if (mode != NULL) {
        push_key(&v, "mode");
        if (strcmp(mode, "enforce") == 0)
            ps->mode = POL_MODE_ENFORCE;
        else if (strcmp(mode, "monitor") == 0)
            ps->mode = POL_MODE_MONITOR;
        else
            rc = verr(&v, false, "expected \"enforce\" or \"monitor\"");
        pop(&v);
        if (rc != CM_OK)
            return rc;
    }
    if ((rc = get_int(&v, root, "mask_keep", 0, 64, &mask_keep)) != CM_OK)
        return rc;
    ps->mask_keep = (unsigned)mask_keep;
    for (int d = 0; d < 2; d++) {
        for (unsigned l = 0; l < POL_LABEL_MAX; l++) {
            ps->actions[d][l] = POL_ACT_ALLOW;
            ps->keep[d][l] = POL_KEEP_DEFAULT;
            ps->min_score[d][l] = 0.0f;
        }
    }

    if ((j = json_object_get(root, "recognizers")) != NULL) {
        push_key(&v, "recognizers");
        if (!json_is_array(j))
            rc = verr(&v, false, "expected an array of recognizers, got %s", type_name(j));
        for (size_t k = 0; rc == CM_OK && k < json_array_size(j); k++) {
            push_idx(&v, k);
            rc = parse_recognizer(&v, json_array_get(j, k), k);
            pop(&v);
        }
        pop(&v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(root, "purpose")) != NULL) {
        push_key(&v, "purpose");
        rc = parse_purpose(&v, j);
        pop(&v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(root, "generic")) != NULL) {
        push_key(&v, "generic");
        rc = parse_generic(&v, j);
        pop(&v);
        if (rc != CM_OK)
            return rc;
    }
    for (int d = 0; d < 2; d++) {
        if ((j = json_object_get(root, dir_names[d])) == NULL)
            continue;
        push_key(&v, dir_names[d]);
        rc = parse_dir_actions(&v, j, d);
        pop(&v);
        if (rc != CM_OK)
            return rc;
    }
    for (int a = 0; a < 2; a++) {
        const char *key = a == 0 ? "allow_list" : "deny_list";

        if ((j = json_object_get(root, key)) == NULL)
            continue;
        push_key(&v, key);
        rc = parse_list(&v, j, a == 0);
        pop(&v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(root, "rules")) != NULL) {
        size_t n = json_array_size(j);

        push_key(&v, "rules");
        if (!json_is_array(j)) {
            rc = verr(&v, false, "expected an array of rules, got %s", type_name(j));
            pop(&v);
            return rc;
        }
        ps->rules = cm_calloc(n ? n : 1, sizeof(*ps->rules));
        for (size_t k = 0; k < n; k++) {
            push_idx(&v, k);
            /* rules[0..k) are checked for duplicate ids; a half-parsed rule
             * is counted afterwards so that it is freed */
            ps->nrules = k;
            rc = parse_rule(&v, json_array_get(j, k), &ps->rules[k]);
            ps->nrules = k + 1;
            pop(&v);
            if (rc != CM_OK) {
                pop(&v);
                return rc;
            }
        }
        pop(&v);
    }

    /* Derived tables: pseudo-rule ids of entity denies, and whether
     * pol_set_scan has work per direction. */
    for (int d = 0; d < 2; d++) {
        for (unsigned l = 0; l < ps->nlabels; l++) {
            struct cm_buf b;

            cm_buf_init(&b);
            cm_buf_printf(&b, "%s.%s", dir_names[d], ps->label_names[l]);
            ps->deny_id[d][l] = cm_buf_steal(&b, NULL);
            cm_buf_printf(&b, "%s found in the %s is denied by policy", ps->label_names[l],
                          dir_names[d]);
            ps->deny_reason[d][l] = cm_buf_steal(&b, NULL);
            cm_buf_fini(&b);
            if (ps->min_score[d][l] > 0.0f)
                ps->scans[d] = true;
            ps->eff_keep[d][l] =
                ps->keep[d][l] == POL_KEEP_DEFAULT ? (uint8_t)ps->mask_keep : ps->keep[d][l];
        }
        if (ps->nscan > 0)
            ps->scans[d] = true;
    }
    return CM_OK;
}

static void
cond_free(struct pol_cond *c)
{
    strs_free(&c->principal);
    strs_free(&c->groups);
    strs_free(&c->tenant);
    strs_free(&c->model);
    strs_free(&c->purpose);
    strs_free(&c->content_type);
    free(c->counts);
}

void
pol_set_free_parts(struct pol_set *ps)
{
    for (size_t r = 0; r < ps->nrules; r++) {
        struct pol_rule *rule = &ps->rules[r];

        free(rule->id);
        free(rule->reason);
        free(rule->why);
        cond_free(&rule->match);
        cond_free(&rule->except);
        free(rule->overrides);
    }
    free(ps->rules);
    for (size_t k = 0; k < ps->nscan; k++) {
        pol_rx_free(ps->scan[k].code);
        pol_rx_free(ps->scan[k].ctx);
        free(ps->scan[k].where);
    }
    free(ps->scan);
    for (int d = 0; d < 2; d++) {
        for (unsigned l = 0; l < POL_LABEL_MAX; l++) {
            free(ps->deny_id[d][l]);
            free(ps->deny_reason[d][l]);
        }
    }
    for (unsigned l = 0; l < POL_LABEL_MAX; l++)
        free(ps->custom_names[l]);
    strs_free(&ps->purposes);
    strs_free(&ps->generic[0]);
    strs_free(&ps->generic[1]);
    strs_free(&ps->generic_whole);
    free(ps->canonical);
    free(ps->id);
}
