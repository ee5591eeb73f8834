/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_validate: the loader's record validator, driven by schema/fields.def.
 * See aud_validate.h for what is and is not checked.
 *
 * The tables below are expanded from fields.def, so adding a field there
 * is enough for the validator (and the loader's SQL) to know it.  Messages
 * name fields and positions only: jansson's own text quotes the input near
 * the error ("near 'x'"), and rejected payloads may hold anything, so that
 * part is cut off.
 */
#include "audit/aud_validate.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "audit/aud_record.h"
#include "common/cm_time.h"
#include "common/cm_uuid.h"

const struct aud_field aud_fields[] = {
#define AUD_FIELD(parent, key, type, required, column) {parent, key, type, required, column},
#include "schema/fields.def"
};
const size_t aud_n_fields = CM_ARRAY_LEN(aud_fields);

const struct aud_field aud_finding_fields[] = {
#define AUD_FINDING(key, type, required, column) {"findings", key, type, required, column},
#include "schema/fields.def"
};
const size_t aud_n_finding_fields = CM_ARRAY_LEN(aud_finding_fields);

const char *
aud_ftype_name(enum aud_ftype type)
{
    switch (type) {
    case AUD_T_STRING: return "a string";
    case AUD_T_STRING_NULL: return "a string or null";
    case AUD_T_UUID: return "a UUID string";
    case AUD_T_UUID_NULL: return "a UUID string or null";
    case AUD_T_TIME: return "an RFC 3339 date-time string";
    case AUD_T_INT32: return "a 32-bit integer";
    case AUD_T_INT64: return "an integer";
    case AUD_T_INT64_NULL: return "an integer or null";
    case AUD_T_SEQ: return "a positive integer";
    case AUD_T_SHA256: return "64 lower-case hex digits";
    case AUD_T_OBJECT: return "an object";
    case AUD_T_STRING_ARRAY: return "an array of strings";
    case AUD_T_OBJECT_ARRAY: return "an array of objects";
    }
    return "?";
}

static bool
time_ok(const char *s)
{
    int64_t us;

    /* A full date-time: cm_time_parse also takes a bare date. */
    return strlen(s) >= 20 && strlen(s) < 64 && s[10] == 'T' && cm_time_parse(s, &us) == CM_OK;
}

static bool
sha256_hex_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 64;
}

static bool
value_ok(const json_t *v, enum aud_ftype type)
{
    uint8_t id[16];
    size_t i;
    json_t *e;

    switch (type) {
    case AUD_T_STRING: return json_is_string(v);
    case AUD_T_STRING_NULL: return json_is_string(v) || json_is_null(v);
    case AUD_T_UUID: return json_is_string(v) && cm_uuid_parse(json_string_value(v), id) == CM_OK;
    case AUD_T_UUID_NULL:
        return json_is_null(v) ||
               (json_is_string(v) && cm_uuid_parse(json_string_value(v), id) == CM_OK);
    case AUD_T_TIME: return json_is_string(v) && time_ok(json_string_value(v));
    case AUD_T_INT32:
        return json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
               json_integer_value(v) <= INT32_MAX;
    case AUD_T_INT64: return json_is_integer(v);
    case AUD_T_INT64_NULL: return json_is_integer(v) || json_is_null(v);
    case AUD_T_SEQ: return json_is_integer(v) && json_integer_value(v) >= 1;
    case AUD_T_SHA256: return json_is_string(v) && sha256_hex_ok(json_string_value(v));
    case AUD_T_OBJECT: return json_is_object(v);
    case AUD_T_STRING_ARRAY:
        if (!json_is_array(v))
            return false;
        json_array_foreach (v, i, e)
            if (!json_is_string(e))
                return false;
        return true;
    case AUD_T_OBJECT_ARRAY:
        if (!json_is_array(v))
            return false;
        json_array_foreach (v, i, e)
            if (!json_is_object(e))
                return false;
        return true;
    }
    return false;
}

/* Checks rows[0..n) against the object root (members of a parent object are
 * looked up in root[parent]).  prefix names the object in messages. */
static int
check_rows(const json_t *root, const struct aud_field *rows, size_t n, const char *prefix,
           struct cm_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct aud_field *f = &rows[i];
        const json_t *obj = root, *v;
        const char *dot = prefix[0] != '\0' || f->parent[0] != '\0' ? "." : "";

        /* Finding rows name "findings" as parent but are checked per element. */
        if (f->parent[0] != '\0' && strcmp(f->parent, "findings") != 0) {
            obj = json_object_get(root, f->parent);
            if (!json_is_object(obj))
                continue; /* an optional parent that is absent: already checked */
        }
        v = json_object_get(obj, f->key);
        if (v == NULL) {
            if (!f->required)
                continue;
            return cm_err_set(err, CM_EINPUT, "%s%s%s%s: missing", prefix,
                              strcmp(f->parent, "findings") == 0 ? "" : f->parent, dot, f->key);
        }
        if (!value_ok(v, f->type))
            return cm_err_set(err, CM_EINPUT, "%s%s%s%s: expected %s", prefix,
                              strcmp(f->parent, "findings") == 0 ? "" : f->parent, dot, f->key,
                              aud_ftype_name(f->type));
    }
    return CM_OK;
}

int
aud_validate(const char *data, size_t len, struct cm_err *err)
{
    json_error_t jerr;
    json_t *root, *findings, *f;
    size_t i;
    int rc;

    if (len == 0)
        return cm_err_set(err, CM_EINPUT, "empty message");
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char *near = strstr(jerr.text, " near ");

        if (near != NULL)
            *near = '\0';
        return cm_err_set(err, CM_EINPUT, "invalid JSON: %s at line %d column %d", jerr.text,
                          jerr.line, jerr.column);
    }
    if (!json_is_object(root)) {
        rc = cm_err_set(err, CM_EINPUT, "not a JSON object");
        goto out;
    }
    rc = check_rows(root, aud_fields, aud_n_fields, "", err);
    if (rc != CM_OK)
        goto out;
    if (strcmp(json_string_value(json_object_get(root, "schema")), AUD_SCHEMA) != 0) {
        rc = cm_err_set(err, CM_EINPUT, "schema: unsupported (expected %s)", AUD_SCHEMA);
        goto out;
    }
    findings = json_object_get(root, "findings");
    json_array_foreach (findings, i, f) {
        char prefix[32];

        snprintf(prefix, sizeof(prefix), "findings[%zu]", i);
        rc = check_rows(f, aud_finding_fields, aud_n_finding_fields, prefix, err);
        if (rc != CM_OK)
            goto out;
    }
    rc = CM_OK;

out:
    json_decref(root);
    return rc;
}

/* Names from fields.def are pasted into SQL: they must be plain identifiers. */
static void
check_ident(const char *s)
{
    cm_assert(s[0] != '\0');
    for (; *s; s++)
        cm_assert((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_');
}

void
aud_field_sql_expr(struct cm_buf *b, const char *var, const struct aud_field *f)
{
    bool nested = f->parent[0] != '\0' && strcmp(f->parent, "findings") != 0;
    char obj[128];

    check_ident(f->key);
    if (nested) {
        check_ident(f->parent);
        snprintf(obj, sizeof(obj), "%s->'%s'", var, f->parent);
    } else {
        snprintf(obj, sizeof(obj), "%s", var);
    }
    switch (f->type) {
    case AUD_T_STRING_ARRAY:
        cm_buf_printf(b, "ARRAY(SELECT jsonb_array_elements_text(%s->'%s'))", obj, f->key);
        return;
    case AUD_T_UUID:
    case AUD_T_UUID_NULL: cm_buf_printf(b, "(%s->>'%s')::uuid", obj, f->key); return;
    case AUD_T_TIME: cm_buf_printf(b, "(%s->>'%s')::timestamptz", obj, f->key); return;
    case AUD_T_INT32: cm_buf_printf(b, "(%s->>'%s')::int", obj, f->key); return;
    case AUD_T_INT64:
    case AUD_T_INT64_NULL:
    case AUD_T_SEQ: cm_buf_printf(b, "(%s->>'%s')::bigint", obj, f->key); return;
    case AUD_T_STRING:
    case AUD_T_STRING_NULL:
    case AUD_T_SHA256: cm_buf_printf(b, "%s->>'%s'", obj, f->key); return;
    case AUD_T_OBJECT:
    case AUD_T_OBJECT_ARRAY: break;
    }
    cm_assert(!"field type without a column");
}
