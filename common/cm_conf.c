/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_conf: options tables over inih.  See cm_conf.h.
 *
 * inih calls our handler once per key; the handler stops at the first error
 * and keeps its text, and ini_parse() returns that line number, from which we
 * build "file:line: message".  Duplicate keys are errors: a config that says
 * two things about one option is a config whose author meant one of them.
 */
#include "common/cm_conf.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cm_mem.h"
#include "common/cm_time.h"

int
cm_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < CM_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return CM_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return CM_OK;
        }
    }
    return CM_EINPUT;
}

int
cm_parse_size(const char *s, size_t *out)
{
    unsigned long long v, mult = 1;
    char *end;

    errno = 0;
    if (*s == '-')
        return CM_EINPUT;
    v = strtoull(s, &end, 10);
    if (end == s || errno != 0)
        return CM_EINPUT;
    if (*end != '\0') {
        switch (*end) {
        case 'k':
        case 'K': mult = 1ULL << 10; break;
        case 'm':
        case 'M': mult = 1ULL << 20; break;
        case 'g':
        case 'G': mult = 1ULL << 30; break;
        default: return CM_EINPUT;
        }
        end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end != '\0')
            return CM_EINPUT;
    }
    if (v > SIZE_MAX / mult)
        return CM_EINPUT;
    *out = (size_t)(v * mult);
    return CM_OK;
}

static const struct cm_opt *
opt_find(const struct cm_opt *tab, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (tab[i].type == CM_OPT_PREFIX) {
            if (strncmp(key, tab[i].name, strlen(tab[i].name)) == 0 && key[strlen(tab[i].name)])
                return &tab[i];
        } else if (strcmp(key, tab[i].name) == 0) {
            return &tab[i];
        }
    }
    return NULL;
}

static int
out_of_range(const struct cm_opt *o, long long v)
{
    return (o->min != 0 || o->max != 0) && (v < o->min || v > o->max);
}

static void
kv_list_set(struct cm_kv_list *l, const char *key, const char *value)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            free(l->items[i].value);
            l->items[i].value = cm_strdup(value);
            return;
        }
    }
    l->items = cm_realloc(l->items, (l->n + 1) * sizeof(*l->items));
    l->items[l->n].key = cm_strdup(key);
    l->items[l->n].value = cm_strdup(value);
    l->n++;
}

static int
opt_apply(const struct cm_opt *o, void *obj, const char *key, const char *value, struct cm_err *err)
{
    char *field = (char *)obj + o->off;

    switch (o->type) {
    case CM_OPT_BOOL:
        if (cm_parse_bool(value, (bool *)field) != CM_OK)
            return cm_err_set(err, CM_EINPUT, "%s: expected true or false", o->name);
        return CM_OK;
    case CM_OPT_INT: {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(value, &end, 10);
        if (end == value || *end != '\0' || errno != 0)
            return cm_err_set(err, CM_EINPUT, "%s: expected an integer", o->name);
        if (out_of_range(o, v))
            return cm_err_set(err, CM_EINPUT, "%s: %lld is outside %lld..%lld", o->name, v, o->min,
                              o->max);
        *(long long *)field = v;
        return CM_OK;
    }
    case CM_OPT_SIZE: {
        size_t v;

        if (cm_parse_size(value, &v) != CM_OK)
            return cm_err_set(err, CM_EINPUT, "%s: expected a size such as 512, 64K or 16M",
                              o->name);
        if (out_of_range(o, (long long)v))
            return cm_err_set(err, CM_EINPUT, "%s: %zu is outside %lld..%lld bytes", o->name, v,
                              o->min, o->max);
        *(size_t *)field = v;
        return CM_OK;
    }
    case CM_OPT_DURATION: {
        int64_t us;

        if (cm_duration_parse(value, 1000, &us) != CM_OK)
            return cm_err_set(err, CM_EINPUT, "%s: expected a duration such as 250ms, 30s or 5m",
                              o->name);
        if (out_of_range(o, us / 1000))
            return cm_err_set(err, CM_EINPUT, "%s: outside %lldms..%lldms", o->name, o->min,
                              o->max);
        *(int64_t *)field = us;
        return CM_OK;
    }
    case CM_OPT_STRING:
    case CM_OPT_PATH:
        free(*(char **)field);
        *(char **)field = *value ? cm_strdup(value) : NULL;
        return CM_OK;
    case CM_OPT_ENUM:
        for (int i = 0; o->choices[i] != NULL; i++) {
            if (strcmp(value, o->choices[i]) == 0) {
                *(int *)field = i;
                return CM_OK;
            }
        }
        {
            char list[256] = "";

            for (int i = 0; o->choices[i] != NULL; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, o->choices[i], sizeof(list) - strlen(list) - 1);
            }
            return cm_err_set(err, CM_EINPUT, "%s: expected one of %s", o->name, list);
        }
    case CM_OPT_PREFIX:
        kv_list_set((struct cm_kv_list *)field, key + strlen(o->name), value);
        return CM_OK;
    }
    return cm_err_set(err, CM_EINTERNAL, "%s: bad option type", o->name);
}

int
cm_conf_set(const struct cm_opt *tab, size_t n, void *obj, const char *key, const char *value,
            struct cm_err *err)
{
    const struct cm_opt *o = opt_find(tab, n, key);

    if (o == NULL)
        return cm_err_set(err, CM_EINPUT, "unknown option '%s'", key);
    return opt_apply(o, obj, key, value, err);
}

int
cm_conf_set_kv(const struct cm_opt *tab, size_t n, void *obj, const char *kv, struct cm_err *err)
{
    const char *eq = strchr(kv, '=');
    char key[256];
    size_t klen;

    if (eq == NULL)
        return cm_err_set(err, CM_EINPUT, "'%s': expected key=value", kv);
    klen = (size_t)(eq - kv);
    while (klen > 0 && kv[klen - 1] == ' ')
        klen--;
    if (klen == 0 || klen >= sizeof(key))
        return cm_err_set(err, CM_EINPUT, "'%s': bad key", kv);
    memcpy(key, kv, klen);
    key[klen] = '\0';
    eq++;
    while (*eq == ' ')
        eq++;
    return cm_conf_set(tab, n, obj, key, eq, err);
}

int
cm_conf_defaults(const struct cm_opt *tab, size_t n, void *obj, struct cm_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc;

        if (tab[i].type == CM_OPT_PREFIX || tab[i].def == NULL)
            continue;
        rc = opt_apply(&tab[i], obj, tab[i].name, tab[i].def, err);
        if (rc != CM_OK)
            return CM_EINTERNAL;
    }
    return CM_OK;
}

struct load_ctx {
    const struct cm_opt *tab;
    size_t n;
    void *obj;
    struct cm_err err;
    int failed;
    char **seen;
    size_t nseen;
};

static int
load_handler(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *ctx = user;
    char key[256];
    int rc;

    if (ctx->failed)
        return 1; /* keep the first error: inih reports its line */
    if (section[0] != '\0')
        snprintf(key, sizeof(key), "%s.%s", section, name);
    else
        snprintf(key, sizeof(key), "%s", name);
    for (size_t i = 0; i < ctx->nseen; i++) {
        if (strcmp(ctx->seen[i], key) == 0) {
            cm_err_set(&ctx->err, CM_EINPUT, "duplicate option '%s'", key);
            ctx->failed = 1;
            return 0;
        }
    }
    ctx->seen = cm_realloc(ctx->seen, (ctx->nseen + 1) * sizeof(*ctx->seen));
    ctx->seen[ctx->nseen++] = cm_strdup(key);
    rc = cm_conf_set(ctx->tab, ctx->n, ctx->obj, key, value, &ctx->err);
    if (rc != CM_OK) {
        ctx->failed = 1;
        return 0;
    }
    return 1;
}

static int
load_result(struct load_ctx *ctx, const char *path, int line, struct cm_err *err)
{
    int rc = CM_OK;

    if (line != 0) {
        if (ctx->failed)
            rc = cm_err_set(err, CM_EINPUT, "%s:%d: %s", path, line, ctx->err.msg);
        else if (line < 0)
            rc = cm_err_set(err, CM_EIO, "%s: cannot read", path);
        else
            rc = cm_err_set(err, CM_EINPUT, "%s:%d: syntax error (expected key = value)", path,
                            line);
    }
    for (size_t i = 0; i < ctx->nseen; i++)
        free(ctx->seen[i]);
    free(ctx->seen);
    return rc;
}

int
cm_conf_load(const struct cm_opt *tab, size_t n, void *obj, const char *path, struct cm_err *err)
{
    struct load_ctx ctx = {.tab = tab, .n = n, .obj = obj};
    FILE *f;
    int line;

    f = fopen(path, "r");
    if (f == NULL)
        return cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    line = ini_parse_file(f, load_handler, &ctx);
    fclose(f);
    return load_result(&ctx, path, line, err);
}

int
cm_conf_load_mem(const struct cm_opt *tab, size_t n, void *obj, const char *name, const char *text,
                 size_t len, struct cm_err *err)
{
    struct load_ctx ctx = {.tab = tab, .n = n, .obj = obj};
    char *copy;
    int line;

    /* inih reads a NUL-terminated string; a NUL inside the text ends it
     * early, which the key=value syntax could not express anyway. */
    if (memchr(text, '\0', len) != NULL)
        return cm_err_set(err, CM_EINPUT, "%s: NUL byte in configuration", name);
    copy = cm_strndup(text, len);
    line = ini_parse_string(copy, load_handler, &ctx);
    free(copy);
    return load_result(&ctx, name, line, err);
}

void
cm_conf_fini(const struct cm_opt *tab, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++) {
        char *field = (char *)obj + tab[i].off;

        if (tab[i].type == CM_OPT_STRING || tab[i].type == CM_OPT_PATH) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (tab[i].type == CM_OPT_PREFIX) {
            struct cm_kv_list *l = (struct cm_kv_list *)field;

            for (size_t j = 0; j < l->n; j++) {
                free(l->items[j].key);
                free(l->items[j].value);
            }
            free(l->items);
            l->items = NULL;
            l->n = 0;
        }
    }
}

const char *
cm_kv_get(const struct cm_kv_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

void
cm_conf_doc(const struct cm_opt *tab, size_t n, const char *title, FILE *out)
{
    static const char *const type_names[] = {"bool",   "integer", "size",   "duration",
                                             "string", "path",    "choice", "prefix"};

    fprintf(out, "## %s\n\n", title);
    fprintf(out, "| option | type | default | applies | description |\n");
    fprintf(out, "| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n; i++) {
        const struct cm_opt *o = &tab[i];

        fprintf(out, "| `%s%s` | %s", o->name, o->type == CM_OPT_PREFIX ? "*" : "",
                type_names[o->type]);
        if (o->type == CM_OPT_ENUM) {
            fprintf(out, " (");
            for (int j = 0; o->choices[j] != NULL; j++)
                fprintf(out, "%s`%s`", j ? ", " : "", o->choices[j]);
            fprintf(out, ")");
        }
        fprintf(out, " | %s | %s | %s |\n", o->def != NULL && *o->def ? o->def : "(none)",
                (o->flags & CM_OPT_RELOAD) ? "reload" : "restart", o->doc);
    }
    fprintf(out, "\n");
}
