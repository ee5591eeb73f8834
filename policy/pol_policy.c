/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_policy: load, validate and compile a policy file into an immutable
 * struct pol_set, and evaluate it (pol_policy.h has the file shape and the
 * semantics; docs/policy.md the examples).
 *
 * Loading parses with jansson (duplicate keys rejected), then walks the tree
 * with a path stack so that every validation error names its JSON pointer;
 * the pointer is then located in the original text by a small scanner over
 * the (already valid) JSON to give "name:line:column" like a syntax error.
 * The content hash is SHA-256 over json_dumps(JSON_SORT_KEYS|JSON_COMPACT),
 * so key order and white space do not change it.
 *
 * Evaluation walks the compiled rules in order; it allocates nothing and
 * writes nothing shared, so any thread may evaluate a set it holds a
 * reference to.  The reference count is a C11 atomic.
 * Adding a key: update the key list of its object below, the compile step,
 * pol_policy.h and docs/policy.md.
 */
#include "policy/pol_policy.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "common/cm_mem.h"

#define POL_FILE_MAX (4u << 20)
#define PATH_MAX_DEPTH 8

struct pol_strs {
    char **v;
    size_t n;
};

struct pol_rule {
    char *id;
    char *reason;
    struct pol_strs model; /* fnmatch globs */
    struct pol_strs route;
    struct pol_strs principal;
    struct pol_strs tenant;
    struct pol_strs purpose;
    unsigned findings; /* POL_PII_MASK set; 0 = no condition */
    bool deny;
    int status;
    int actions[POL_PII__COUNT]; /* enum pol_action, or -1 for no override */
};

struct pol_set {
    atomic_uint refs;
    char *id;
    char hash[CM_SHA256_HEX_LEN];
    enum pol_mode mode;
    struct pol_pii_redact_opts ropts;
    enum pol_action actions[2][POL_PII__COUNT];
    char *deny_id[2][POL_PII__COUNT];     /* "request.US_SSN" */
    char *deny_reason[2][POL_PII__COUNT]; /* "US_SSN in the request is denied" */
    struct pol_rule *rules;
    size_t nrules;
};

static const char *const action_names[] = {
    [POL_ACT_ALLOW] = "allow", [POL_ACT_MASK] = "mask", [POL_ACT_REDACT] = "redact",
    [POL_ACT_HASH] = "hash",   [POL_ACT_DENY] = "deny",
};

static const char *const route_names[] = {"chat", "completion", "embedding", "other"};
static const char *const dir_names[] = {"request", "response"};

const char *
pol_action_name(enum pol_action a)
{
    if ((unsigned)a >= CM_ARRAY_LEN(action_names))
        return "unknown";
    return action_names[a];
}

const char *
pol_mode_name(enum pol_mode m)
{
    return m == POL_MODE_MONITOR ? "monitor" : "enforce";
}

/* ------------------------------------------------------------ freeing */

static void
strs_free(struct pol_strs *s)
{
    for (size_t k = 0; k < s->n; k++)
        free(s->v[k]);
    free(s->v);
}

static void
set_free(struct pol_set *ps)
{
    for (size_t r = 0; r < ps->nrules; r++) {
        struct pol_rule *rule = &ps->rules[r];

        free(rule->id);
        free(rule->reason);
        strs_free(&rule->model);
        strs_free(&rule->route);
        strs_free(&rule->principal);
        strs_free(&rule->tenant);
        strs_free(&rule->purpose);
    }
    free(ps->rules);
    for (int d = 0; d < 2; d++) {
        for (int l = 0; l < POL_PII__COUNT; l++) {
            free(ps->deny_id[d][l]);
            free(ps->deny_reason[d][l]);
        }
    }
    free(ps->id);
    free(ps);
}

struct pol_set *
pol_set_ref(struct pol_set *ps)
{
    atomic_fetch_add_explicit(&ps->refs, 1, memory_order_relaxed);
    return ps;
}

void
pol_set_unref(struct pol_set *ps)
{
    if (ps == NULL)
        return;
    if (atomic_fetch_sub_explicit(&ps->refs, 1, memory_order_acq_rel) == 1)
        set_free(ps);
}

const char *
pol_set_id(const struct pol_set *ps)
{
    return ps->id;
}

const char *
pol_set_hash(const struct pol_set *ps)
{
    return ps->hash;
}

enum pol_mode
pol_set_mode(const struct pol_set *ps)
{
    return ps->mode;
}

const struct pol_pii_redact_opts *
pol_set_redact_opts(const struct pol_set *ps)
{
    return &ps->ropts;
}

/* ------------------------------------------------------------ positions */

struct seg {
    const char *key; /* NULL: array index */
    size_t idx;
};

struct vctx {
    const char *name;
    const char *buf;
    size_t len;
    struct cm_err *err;
    struct seg path[PATH_MAX_DEPTH];
    int depth;
};

static size_t
skip_ws(const struct vctx *v, size_t p)
{
    while (p < v->len &&
           (v->buf[p] == ' ' || v->buf[p] == '\t' || v->buf[p] == '\n' || v->buf[p] == '\r'))
        p++;
    return p;
}

/* End of the string whose opening quote is at p. */
static size_t
skip_string(const struct vctx *v, size_t p)
{
    for (p++; p < v->len; p++) {
        if (v->buf[p] == '\\')
            p++;
        else if (v->buf[p] == '"')
            return p + 1;
    }
    return v->len;
}

/* End of the value starting at p (the text is valid JSON). */
static size_t
skip_value(const struct vctx *v, size_t p)
{
    size_t depth = 0;

    if (p >= v->len)
        return p;
    if (v->buf[p] == '"')
        return skip_string(v, p);
    if (v->buf[p] != '{' && v->buf[p] != '[') {
        while (p < v->len && strchr(",}] \t\r\n", v->buf[p]) == NULL)
            p++;
        return p;
    }
    while (p < v->len) {
        char c = v->buf[p];

        if (c == '"') {
            p = skip_string(v, p);
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

/* Byte offset of the value at path[0..depth) (or of its key when want_key
 * and the last segment is a key).  Falls back to the deepest position found. */
static size_t
locate(const struct vctx *v, bool want_key)
{
    size_t p = skip_ws(v, 0);

    for (int i = 0; i < v->depth; i++) {
        const struct seg *sg = &v->path[i];
        bool found = false;

        if (p >= v->len)
            return p;
        if (sg->key != NULL && v->buf[p] == '{') {
            size_t q = skip_ws(v, p + 1), klen = strlen(sg->key);

            while (q < v->len && v->buf[q] == '"') {
                size_t kend = skip_string(v, q);

                if (kend - q - 2 == klen && memcmp(v->buf + q + 1, sg->key, klen) == 0) {
                    if (i == v->depth - 1 && want_key)
                        return q;
                    q = skip_ws(v, kend);
                    p = skip_ws(v, q + 1);
                    found = true;
                    break;
                }
                q = skip_ws(v, kend);
                q = skip_ws(v, skip_value(v, skip_ws(v, q + 1)));
                if (q < v->len && v->buf[q] == ',')
                    q = skip_ws(v, q + 1);
            }
        } else if (sg->key == NULL && v->buf[p] == '[') {
            size_t q = skip_ws(v, p + 1);

            for (size_t k = 0; k < sg->idx && q < v->len; k++) {
                q = skip_ws(v, skip_value(v, q));
                if (q < v->len && v->buf[q] == ',')
                    q = skip_ws(v, q + 1);
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
pos_linecol(const char *buf, size_t off, int *line, int *col)
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

static void
path_fmt(const struct vctx *v, struct cm_buf *b)
{
    for (int i = 0; i < v->depth; i++) {
        if (v->path[i].key == NULL) {
            cm_buf_printf(b, "/%zu", v->path[i].idx);
            continue;
        }
        cm_buf_putc(b, '/');
        for (const char *s = v->path[i].key; *s != '\0'; s++) {
            if (*s == '~')
                cm_buf_puts(b, "~0");
            else if (*s == '/')
                cm_buf_puts(b, "~1");
            else
                cm_buf_putc(b, *s);
        }
    }
    if (v->depth == 0)
        cm_buf_putc(b, '/');
}

/* Sets "name:line:column: /pointer: message"; returns CM_EINPUT. */
static int verr(const struct vctx *v, bool at_key, const char *fmt, ...) CM_PRINTF(3, 4);

static int
verr(const struct vctx *v, bool at_key, const char *fmt, ...)
{
    struct cm_buf b;
    va_list ap;
    int line, col;

    cm_buf_init(&b);
    pos_linecol(v->buf, locate(v, at_key), &line, &col);
    cm_buf_printf(&b, "%s:%d:%d: ", v->name, line, col);
    path_fmt(v, &b);
    cm_buf_puts(&b, ": ");
    va_start(ap, fmt);
    {
        char msg[256];

        vsnprintf(msg, sizeof(msg), fmt, ap);
        cm_buf_puts(&b, msg);
    }
    va_end(ap);
    cm_err_set(v->err, CM_EINPUT, "%s", b.p);
    cm_buf_fini(&b);
    return CM_EINPUT;
}

static void
push_key(struct vctx *v, const char *key)
{
    cm_assert(v->depth < PATH_MAX_DEPTH);
    v->path[v->depth].key = key;
    v->path[v->depth].idx = 0;
    v->depth++;
}

static void
push_idx(struct vctx *v, size_t idx)
{
    cm_assert(v->depth < PATH_MAX_DEPTH);
    v->path[v->depth].key = NULL;
    v->path[v->depth].idx = idx;
    v->depth++;
}

static void
pop(struct vctx *v)
{
    v->depth--;
}

/* ------------------------------------------------------------ validation */

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
    const char *key;
    json_t *val;

    json_object_foreach(obj, key, val)
    {
        bool ok = false;

        for (size_t k = 0; allowed[k] != NULL && !ok; k++)
            ok = strcmp(allowed[k], key) == 0;
        if (!ok) {
            struct cm_buf list;
            int rc;

            cm_buf_init(&list);
            for (size_t k = 0; allowed[k] != NULL; k++)
                cm_buf_printf(&list, "%s%s", k ? ", " : "", allowed[k]);
            push_key(v, key);
            rc = verr(v, true, "unknown key (expected one of: %s)", list.p);
            pop(v);
            cm_buf_fini(&list);
            return rc;
        }
    }
    return CM_OK;
}

static int
parse_action(struct vctx *v, json_t *j, enum pol_action *out)
{
    if (!json_is_string(j))
        return verr(v, false, "expected an action string, got %s", type_name(j));
    for (size_t a = 0; a < CM_ARRAY_LEN(action_names); a++) {
        if (strcmp(json_string_value(j), action_names[a]) == 0) {
            *out = (enum pol_action)a;
            return CM_OK;
        }
    }
    return verr(v, false, "unknown action \"%s\" (expected allow, mask, redact, hash or deny)",
                json_string_value(j));
}

static int
parse_label(struct vctx *v, const char *s)
{
    enum pol_pii_label l;

    if (pol_pii_label_parse(s, strlen(s), &l) != CM_OK)
        return -1;
    (void)v;
    return (int)l;
}

/* {"LABEL": "action", ...} into acts[]. */
static int
parse_action_map(struct vctx *v, json_t *obj, int acts[POL_PII__COUNT])
{
    const char *key;
    json_t *val;
    int rc;

    if (!json_is_object(obj))
        return verr(v, false, "expected an object of LABEL: action, got %s", type_name(obj));
    json_object_foreach(obj, key, val)
    {
        int l = parse_label(v, key);
        enum pol_action a = POL_ACT_ALLOW;

        push_key(v, key);
        if (l < 0) {
            rc = verr(v, true, "unknown label \"%s\"", key);
            pop(v);
            return rc;
        }
        rc = parse_action(v, val, &a);
        pop(v);
        if (rc != CM_OK)
            return rc;
        acts[l] = (int)a;
    }
    return CM_OK;
}

/* A string or a non-empty array of strings; each must pass `allowed` when
 * given. */
static int
parse_strs(struct vctx *v, json_t *j, struct pol_strs *out, const char *const *allowed,
           size_t nallowed)
{
    size_t n = json_is_array(j) ? json_array_size(j) : 1;

    if (!json_is_string(j) && !json_is_array(j))
        return verr(v, false, "expected a string or an array of strings, got %s", type_name(j));
    if (n == 0)
        return verr(v, false, "empty array");
    out->v = cm_calloc(n, sizeof(*out->v));
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_is_array(j) ? json_array_get(j, k) : j;
        bool ok = allowed == NULL;
        int rc = CM_OK;

        if (json_is_array(j))
            push_idx(v, k);
        if (!json_is_string(e) || json_string_length(e) == 0) {
            rc = verr(v, false, "expected a non-empty string, got %s", type_name(e));
        } else {
            for (size_t a = 0; a < nallowed && !ok; a++)
                ok = strcmp(allowed[a], json_string_value(e)) == 0;
            if (!ok)
                rc = verr(v, false, "unknown value \"%s\"", json_string_value(e));
        }
        if (json_is_array(j))
            pop(v);
        if (rc != CM_OK)
            return rc;
        out->v[out->n++] = cm_strdup(json_string_value(e));
    }
    return CM_OK;
}

static int
parse_findings(struct vctx *v, json_t *j, unsigned *mask)
{
    size_t n = json_is_array(j) ? json_array_size(j) : 1;

    if (!json_is_string(j) && !json_is_array(j))
        return verr(v, false, "expected an array of labels, got %s", type_name(j));
    if (n == 0)
        return verr(v, false, "empty array");
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_is_array(j) ? json_array_get(j, k) : j;
        int l = -1, rc = CM_OK;

        if (json_is_array(j))
            push_idx(v, k);
        if (!json_is_string(e))
            rc = verr(v, false, "expected a label string, got %s", type_name(e));
        else if ((l = parse_label(v, json_string_value(e))) < 0)
            rc = verr(v, false, "unknown label \"%s\"", json_string_value(e));
        if (json_is_array(j))
            pop(v);
        if (rc != CM_OK)
            return rc;
        *mask |= POL_PII_MASK((unsigned)l);
    }
    return CM_OK;
}

static int
parse_match(struct vctx *v, json_t *m, struct pol_rule *rule)
{
    static const char *const keys[] = {"model",  "route",   "findings", "principal",
                                       "tenant", "purpose", NULL};
    const char *key;
    json_t *val;
    int rc;

    if (!json_is_object(m))
        return verr(v, false, "expected an object, got %s", type_name(m));
    if ((rc = check_keys(v, m, keys)) != CM_OK)
        return rc;
    json_object_foreach(m, key, val)
    {
        push_key(v, key);
        if (strcmp(key, "model") == 0)
            rc = parse_strs(v, val, &rule->model, NULL, 0);
        else if (strcmp(key, "route") == 0)
            rc = parse_strs(v, val, &rule->route, route_names, CM_ARRAY_LEN(route_names));
        else if (strcmp(key, "findings") == 0)
            rc = parse_findings(v, val, &rule->findings);
        else if (strcmp(key, "principal") == 0)
            rc = parse_strs(v, val, &rule->principal, NULL, 0);
        else if (strcmp(key, "tenant") == 0)
            rc = parse_strs(v, val, &rule->tenant, NULL, 0);
        else
            rc = parse_strs(v, val, &rule->purpose, NULL, 0);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

static int
parse_rule(struct vctx *v, json_t *r, struct pol_rule *rule, struct pol_set *ps)
{
    static const char *const keys[] = {"id",     "description", "match",   "decision",
                                       "status", "reason",      "actions", NULL};
    json_t *j;
    int rc;

    for (int l = 0; l < POL_PII__COUNT; l++)
        rule->actions[l] = -1;
    rule->status = 403;
    if (!json_is_object(r))
        return verr(v, false, "expected a rule object, got %s", type_name(r));
    if ((rc = check_keys(v, r, keys)) != CM_OK)
        return rc;

    j = json_object_get(r, "id");
    if (j == NULL)
        return verr(v, false, "rule without \"id\"");
    push_key(v, "id");
    if (!json_is_string(j) || json_string_length(j) == 0) {
        rc = verr(v, false, "expected a non-empty string, got %s", type_name(j));
        pop(v);
        return rc;
    }
    for (size_t k = 0; k < ps->nrules; k++) {
        if (strcmp(ps->rules[k].id, json_string_value(j)) == 0) {
            rc =
                verr(v, false, "duplicate rule id \"%s\" (also rule %zu)", json_string_value(j), k);
            pop(v);
            return rc;
        }
    }
    pop(v);
    rule->id = cm_strdup(json_string_value(j));

    if ((j = json_object_get(r, "description")) != NULL && !json_is_string(j)) {
        push_key(v, "description");
        rc = verr(v, false, "expected a string, got %s", type_name(j));
        pop(v);
        return rc;
    }
    if ((j = json_object_get(r, "match")) != NULL) {
        push_key(v, "match");
        rc = parse_match(v, j, rule);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(r, "decision")) != NULL) {
        push_key(v, "decision");
        if (json_is_string(j) && strcmp(json_string_value(j), "deny") == 0)
            rule->deny = true;
        else if (!json_is_string(j) || strcmp(json_string_value(j), "allow") != 0)
            rc = verr(v, false, "expected \"allow\" or \"deny\"");
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(r, "status")) != NULL) {
        push_key(v, "status");
        if (!rule->deny)
            rc = verr(v, false, "a status needs \"decision\": \"deny\"");
        else if (!json_is_integer(j) || json_integer_value(j) < 400 || json_integer_value(j) > 599)
            rc = verr(v, false, "expected an integer HTTP status 400-599");
        else
            rule->status = (int)json_integer_value(j);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(r, "reason")) != NULL) {
        push_key(v, "reason");
        if (!json_is_string(j))
            rc = verr(v, false, "expected a string, got %s", type_name(j));
        else
            rule->reason = cm_strdup(json_string_value(j));
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(r, "actions")) != NULL) {
        push_key(v, "actions");
        rc = parse_action_map(v, j, rule->actions);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

static int
compile(struct vctx *v, json_t *root, struct pol_set *ps)
{
    static const char *const keys[] = {"id",      "description", "mode",  "mask_keep",
                                       "request", "response",    "rules", NULL};
    json_t *j;
    int rc;

    if (!json_is_object(root))
        return verr(v, false, "a policy is a JSON object, got %s", type_name(root));
    if ((rc = check_keys(v, root, keys)) != CM_OK)
        return rc;

    j = json_object_get(root, "id");
    if (j == NULL)
        return verr(v, false, "policy without \"id\"");
    push_key(v, "id");
    if (!json_is_string(j) || json_string_length(j) == 0)
        rc = verr(v, false, "expected a non-empty string, got %s", type_name(j));
    pop(v);
    if (rc != CM_OK)
        return rc;
    ps->id = cm_strdup(json_string_value(j));

    if ((j = json_object_get(root, "description")) != NULL && !json_is_string(j)) {
        push_key(v, "description");
        rc = verr(v, false, "expected a string, got %s", type_name(j));
        pop(v);
        return rc;
    }
    if ((j = json_object_get(root, "mode")) != NULL) {
        push_key(v, "mode");
        if (json_is_string(j) && strcmp(json_string_value(j), "enforce") == 0)
            ps->mode = POL_MODE_ENFORCE;
        else if (json_is_string(j) && strcmp(json_string_value(j), "monitor") == 0)
            ps->mode = POL_MODE_MONITOR;
        else
            rc = verr(v, false, "expected \"enforce\" or \"monitor\"");
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(root, "mask_keep")) != NULL) {
        push_key(v, "mask_keep");
        if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > 64)
            rc = verr(v, false, "expected an integer 0-64");
        else
            ps->ropts.mask_keep = (unsigned)json_integer_value(j);
        pop(v);
        if (rc != CM_OK)
            return rc;
    }
    for (int d = 0; d < 2; d++) {
        int acts[POL_PII__COUNT];

        for (int l = 0; l < POL_PII__COUNT; l++)
            acts[l] = POL_ACT_ALLOW;
        if ((j = json_object_get(root, dir_names[d])) != NULL) {
            push_key(v, dir_names[d]);
            rc = parse_action_map(v, j, acts);
            pop(v);
            if (rc != CM_OK)
                return rc;
        }
        for (int l = 0; l < POL_PII__COUNT; l++)
            ps->actions[d][l] = (enum pol_action)acts[l];
    }
    if ((j = json_object_get(root, "rules")) != NULL) {
        size_t n = json_array_size(j);

        push_key(v, "rules");
        if (!json_is_array(j)) {
            rc = verr(v, false, "expected an array of rules, got %s", type_name(j));
            pop(v);
            return rc;
        }
        ps->rules = cm_calloc(n ? n : 1, sizeof(*ps->rules));
        for (size_t k = 0; k < n; k++) {
            push_idx(v, k);
            /* rules[0..k) are checked for duplicate ids; a half-parsed
             * rule is counted afterwards so that set_free frees it */
            ps->nrules = k;
            rc = parse_rule(v, json_array_get(j, k), &ps->rules[k], ps);
            ps->nrules = k + 1;
            pop(v);
            if (rc != CM_OK) {
                pop(v);
                return rc;
            }
        }
        pop(v);
    }
    return CM_OK;
}

static int
json_syntax_err(const char *name, const json_error_t *je, struct cm_err *err)
{
    return cm_err_set(err, CM_EINPUT, "%s:%d:%d: %s", name, je->line, je->column, je->text);
}

int
pol_set_parse(const char *name, const char *json, size_t len, struct pol_set **out,
              struct cm_err *err)
{
    struct vctx v = {.name = name, .buf = json, .len = len, .err = err};
    struct pol_set *ps = NULL;
    json_error_t je;
    json_t *root;
    char *canon = NULL;
    uint8_t digest[CM_SHA256_LEN];
    int rc;

    *out = NULL;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return json_syntax_err(name, &je, err);

    ps = cm_calloc(1, sizeof(*ps));
    atomic_init(&ps->refs, 1);
    ps->mode = POL_MODE_ENFORCE;
    ps->ropts.mask_keep = 4;
    if ((rc = compile(&v, root, ps)) != CM_OK)
        goto fail;

    canon = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    if (canon == NULL) {
        rc = cm_err_set(err, CM_EINTERNAL, "%s: cannot serialise the policy", name);
        goto fail;
    }
    cm_sha256(canon, strlen(canon), digest);
    cm_hex(digest, sizeof(digest), ps->hash);
    free(canon);

    for (int d = 0; d < 2; d++) {
        for (int l = 0; l < POL_PII__COUNT; l++) {
            struct cm_buf b;

            cm_buf_init(&b);
            cm_buf_printf(&b, "%s.%s", dir_names[d], pol_pii_label_name((enum pol_pii_label)l));
            ps->deny_id[d][l] = cm_buf_steal(&b, NULL);
            cm_buf_printf(&b, "%s found in the %s is denied by policy",
                          pol_pii_label_name((enum pol_pii_label)l), dir_names[d]);
            ps->deny_reason[d][l] = cm_buf_steal(&b, NULL);
            cm_buf_fini(&b);
        }
    }
    json_decref(root);
    *out = ps;
    return CM_OK;

fail:
    json_decref(root);
    set_free(ps);
    return rc;
}

int
pol_set_load(const char *path, struct pol_set **out, struct cm_err *err)
{
    struct cm_buf b;
    char chunk[8192];
    size_t n;
    FILE *f;
    int rc;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL)
        return cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    cm_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > POL_FILE_MAX) {
            fclose(f);
            cm_buf_fini(&b);
            return cm_err_set(err, CM_EINPUT, "%s: larger than %u bytes", path, POL_FILE_MAX);
        }
        cm_buf_append(&b, chunk, n);
    }
    if (ferror(f)) {
        rc = cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
        fclose(f);
        cm_buf_fini(&b);
        return rc;
    }
    fclose(f);
    rc = pol_set_parse(path, b.p ? b.p : "", b.len, out, err);
    cm_buf_fini(&b);
    return rc;
}

/* ------------------------------------------------------------ evaluation */

static bool
strs_has(const struct pol_strs *s, const char *v, bool glob)
{
    if (s->n == 0)
        return true;
    if (v == NULL)
        return false;
    for (size_t k = 0; k < s->n; k++) {
        if (glob ? fnmatch(s->v[k], v, 0) == 0 : strcmp(s->v[k], v) == 0)
            return true;
    }
    return false;
}

static bool
rule_matches(const struct pol_rule *r, const struct pol_input *in)
{
    if (r->findings != 0) {
        bool any = false;

        for (unsigned l = 0; l < POL_PII__COUNT && !any; l++)
            any = (r->findings & POL_PII_MASK(l)) && in->counts[l] > 0;
        if (!any)
            return false;
    }
    return strs_has(&r->model, in->model, true) && strs_has(&r->route, in->route, false) &&
           strs_has(&r->principal, in->principal, false) &&
           strs_has(&r->tenant, in->tenant, false) && strs_has(&r->purpose, in->purpose, false);
}

void
pol_set_eval(const struct pol_set *ps, enum pol_dir dir, const struct pol_input *in,
             struct pol_decision *out)
{
    int d = dir == POL_DIR_RESPONSE ? 1 : 0;

    out->verdict = POL_VERDICT_ALLOW;
    out->status = 0;
    out->rule_id = NULL;
    out->reason = NULL;
    out->nmatched = 0;
    for (int l = 0; l < POL_PII__COUNT; l++)
        out->actions[l] = ps->actions[d][l];

    for (size_t k = 0; k < ps->nrules; k++) {
        const struct pol_rule *r = &ps->rules[k];

        if (!rule_matches(r, in))
            continue;
        if (out->nmatched < POL_MAX_MATCHED)
            out->matched[out->nmatched++] = r->id;
        for (int l = 0; l < POL_PII__COUNT; l++) {
            if (r->actions[l] >= 0 && (enum pol_action)r->actions[l] > out->actions[l])
                out->actions[l] = (enum pol_action)r->actions[l];
        }
        if (r->deny && out->verdict != POL_VERDICT_DENY) {
            out->verdict = POL_VERDICT_DENY;
            out->status = r->status;
            out->rule_id = r->id;
            out->reason = r->reason;
        }
    }
    if (out->verdict == POL_VERDICT_DENY)
        return;
    for (int l = 0; l < POL_PII__COUNT; l++) {
        if (in->counts[l] > 0 && out->actions[l] == POL_ACT_DENY) {
            out->verdict = POL_VERDICT_DENY;
            out->status = 403;
            out->rule_id = ps->deny_id[d][l];
            out->reason = ps->deny_reason[d][l];
            return;
        }
    }
}

void
pol_decision_ops(const struct pol_decision *d, enum pol_pii_op ops[POL_PII__COUNT])
{
    for (int l = 0; l < POL_PII__COUNT; l++) {
        switch (d->actions[l]) {
        case POL_ACT_ALLOW: ops[l] = POL_PII_KEEP; break;
        case POL_ACT_MASK: ops[l] = POL_PII_OP_MASK; break;
        case POL_ACT_HASH: ops[l] = POL_PII_OP_HASH; break;
        case POL_ACT_REDACT:
        case POL_ACT_DENY: /* a denied label that is still written is redacted */
        default: ops[l] = POL_PII_OP_REDACT; break;
        }
    }
}
