/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_record: the lineage record builder (audit/aud_record.c), the
 * loader's validator (audit/aud_validate.c), and the agreement of
 * schema/fields.def with the builder's output, schema/lineage.schema.json
 * and the SQL migrations in schema/sql/.
 *
 * Reads files from the source tree: run from the repository root (as
 * tests/run.sh and `make test` do).  All values are synthetic.
 */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/aud_record.h"
#include "audit/aud_validate.h"
#include "common/cm_buf.h"
#include "common/cm_uuid.h"
#include "tests/unit/unit_main.h"

#define TS_START 1764431435123456LL /* 2025-11-29T15:50:35.123456Z */

#define FP_A "4f0c0b3a7d35b5f1a1e3c7d9e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0"
#define FP_B "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
static const char *const fps[] = {FP_A, FP_B};
static const struct aud_finding findings[] = {
    {"request", "EMAIL", "/messages/0/content", 1, "redact", fps, 1},
    {"response", "PHONE", "/choices/0/message/content", 2, "mask", fps, 2},
};
static const char *const rules[] = {"pii-redact", "hr-internal"};
static const char *const inputs[] = {"doc://kb/7", "s3://bucket/key.pdf"};

/* A complete record with every field set. */
static void
full_record(struct aud_record *rec)
{
    static const uint8_t id[16] = {0x01, 0x93, 0x2a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f,
                                   0x90, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07};

    aud_record_init(rec);
    memcpy(rec->id, id, sizeof(id));
    rec->ts_start_us = TS_START;
    rec->ts_end_us = TS_START + 1500;
    rec->instance = "sc-1";
    rec->caller_principal = "svc-a";
    rec->caller_tenant = "t1";
    rec->purpose = "support";
    rec->method = "POST";
    rec->path = "/v1/chat/completions";
    rec->route = "chat";
    rec->model_requested = "gpt-x";
    rec->model_served = "gpt-x-1";
    rec->upstream = "http://127.0.0.1:8000";
    rec->policy_id = "default";
    rec->policy_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    rec->policy_mode = "enforce";
    rec->decision = "redact";
    rec->matched_rules = rules;
    rec->n_matched_rules = CM_ARRAY_LEN(rules);
    rec->http_status = 200;
    rec->outcome = "ok";
    rec->latency_total_us = 1500;
    rec->latency_upstream_us = 1200;
    rec->latency_governance_us = 250;
    rec->prompt_tokens = 12;
    rec->completion_tokens = 34;
    rec->findings = findings;
    rec->n_findings = CM_ARRAY_LEN(findings);
    rec->chain_id = "01932a4b-0000-7000-8000-00000000c4a1";
    rec->chain_seq = 1;
    rec->chain_prev = "0000000000000000000000000000000000000000000000000000000000000000";
    rec->trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    rec->span_id = "90a1b2c3d4e5f607";
    rec->parent_span_id = "00f067aa0ba902b7";
    rec->parent_record = "01932a4b-5c6d-7e8f-90a1-b2c3d4e5f600";
    rec->inputs = inputs;
    rec->n_inputs = CM_ARRAY_LEN(inputs);
    rec->fingerprint_key_id = "0123456789abcdef";
}

/* Builds rec and parses the output; fails the test when either fails. */
static json_t *
build(const struct aud_record *rec)
{
    struct cm_buf b;
    struct cm_err err = {{0}};
    json_error_t jerr;
    json_t *root;

    cm_buf_init(&b);
    ck_assert_int_eq(aud_record_json(rec, &b, &err), CM_OK);
    ck_assert_ptr_nonnull(b.p);
    ck_assert_msg(strchr(b.p, '\n') == NULL, "record is not one compact line");
    root = json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(root != NULL, "builder output is not JSON: %s: %s", jerr.text, b.p);
    cm_buf_fini(&b);
    return root;
}

static const char *
sget(json_t *root, const char *parent, const char *key)
{
    json_t *obj = parent != NULL ? json_object_get(root, parent) : root;
    json_t *v = json_object_get(obj, key);

    ck_assert_msg(v != NULL, "%s.%s missing", parent ? parent : "", key);
    return json_is_null(v) ? NULL : json_string_value(v);
}

static json_int_t
iget(json_t *root, const char *parent, const char *key)
{
    json_t *obj = parent != NULL ? json_object_get(root, parent) : root;
    json_t *v = json_object_get(obj, key);

    ck_assert_msg(json_is_integer(v), "%s.%s not an integer", parent ? parent : "", key);
    return json_integer_value(v);
}

/* ------------------------------------------------------------- builder */

START_TEST(test_build_full)
{
    struct aud_record rec;
    json_t *root, *arr, *f;

    full_record(&rec);
    root = build(&rec);
    ck_assert_str_eq(sget(root, NULL, "schema"), "steward.lineage/1");
    ck_assert_str_eq(sget(root, NULL, "record_id"), "01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607");
    ck_assert_str_eq(sget(root, NULL, "ts_start"), "2025-11-29T15:50:35.123456Z");
    ck_assert_str_eq(sget(root, NULL, "ts_end"), "2025-11-29T15:50:35.124956Z");
    ck_assert_str_eq(sget(root, NULL, "instance"), "sc-1");
    ck_assert_str_eq(sget(root, "caller", "principal"), "svc-a");
    ck_assert_str_eq(sget(root, "caller", "tenant"), "t1");
    ck_assert_str_eq(sget(root, "caller", "purpose"), "support");
    ck_assert_str_eq(sget(root, "request", "method"), "POST");
    ck_assert_str_eq(sget(root, "request", "path"), "/v1/chat/completions");
    ck_assert_str_eq(sget(root, "request", "route"), "chat");
    ck_assert_str_eq(sget(root, "model", "requested"), "gpt-x");
    ck_assert_str_eq(sget(root, "model", "served"), "gpt-x-1");
    ck_assert_str_eq(sget(root, "model", "upstream"), "http://127.0.0.1:8000");
    ck_assert_str_eq(sget(root, "policy", "id"), "default");
    ck_assert_str_eq(sget(root, "policy", "mode"), "enforce");
    ck_assert_str_eq(sget(root, "policy", "decision"), "redact");
    ck_assert_ptr_null(sget(root, "policy", "rule_id"));
    arr = json_object_get(json_object_get(root, "policy"), "matched_rules");
    ck_assert_int_eq(json_array_size(arr), 2);
    ck_assert_str_eq(json_string_value(json_array_get(arr, 1)), "hr-internal");
    ck_assert_int_eq(iget(root, NULL, "http_status"), 200);
    ck_assert_str_eq(sget(root, NULL, "outcome"), "ok");
    ck_assert_int_eq(iget(root, "latency_us", "total"), 1500);
    ck_assert_int_eq(iget(root, "latency_us", "upstream"), 1200);
    ck_assert_int_eq(iget(root, "latency_us", "governance"), 250);
    ck_assert_int_eq(iget(root, "usage", "prompt_tokens"), 12);
    ck_assert_int_eq(iget(root, "usage", "completion_tokens"), 34);

    arr = json_object_get(root, "findings");
    ck_assert_int_eq(json_array_size(arr), 2);
    f = json_array_get(arr, 1);
    ck_assert_str_eq(sget(f, NULL, "direction"), "response");
    ck_assert_str_eq(sget(f, NULL, "type"), "PHONE");
    ck_assert_str_eq(sget(f, NULL, "pointer"), "/choices/0/message/content");
    ck_assert_int_eq(iget(f, NULL, "count"), 2);
    ck_assert_str_eq(sget(f, NULL, "action"), "mask");
    arr = json_object_get(f, "fingerprints");
    ck_assert_int_eq(json_array_size(arr), 2);
    ck_assert_str_eq(json_string_value(json_array_get(arr, 1)), FP_B);
    ck_assert_int_eq(json_object_size(f), 6);

    ck_assert_str_eq(sget(root, "trace", "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    ck_assert_str_eq(sget(root, "trace", "span_id"), "90a1b2c3d4e5f607");
    ck_assert_str_eq(sget(root, "trace", "parent_span_id"), "00f067aa0ba902b7");
    ck_assert_str_eq(sget(root, NULL, "parent_record"), "01932a4b-5c6d-7e8f-90a1-b2c3d4e5f600");
    arr = json_object_get(root, "inputs");
    ck_assert_int_eq(json_array_size(arr), 2);
    ck_assert_str_eq(json_string_value(json_array_get(arr, 1)), "s3://bucket/key.pdf");
    ck_assert_str_eq(sget(root, NULL, "fingerprint_key_id"), "0123456789abcdef");
    json_decref(root);
}
END_TEST

START_TEST(test_build_nulls)
{
    struct aud_record rec;
    json_t *root, *v;

    aud_record_init(&rec);
    cm_uuid7(rec.id);
    rec.ts_start_us = rec.ts_end_us = TS_START;
    rec.instance = "sc-1";
    rec.method = "GET";
    rec.path = "/v1/models";
    rec.route = "models";
    rec.outcome = "ok";
    rec.http_status = 200;
    root = build(&rec);
    ck_assert_ptr_null(sget(root, "caller", "principal"));
    ck_assert_ptr_null(sget(root, "caller", "tenant"));
    ck_assert_ptr_null(sget(root, "caller", "purpose"));
    ck_assert_ptr_null(sget(root, "model", "requested"));
    ck_assert_ptr_null(sget(root, "model", "served"));
    ck_assert_ptr_null(sget(root, "model", "upstream"));
    ck_assert_ptr_null(sget(root, "policy", "id"));
    ck_assert_ptr_null(sget(root, "policy", "hash"));
    ck_assert_ptr_null(sget(root, "policy", "decision"));
    v = json_object_get(json_object_get(root, "usage"), "prompt_tokens");
    ck_assert(json_is_null(v));
    v = json_object_get(json_object_get(root, "usage"), "completion_tokens");
    ck_assert(json_is_null(v));
    ck_assert_int_eq(json_array_size(json_object_get(root, "findings")), 0);
    v = json_object_get(json_object_get(root, "policy"), "matched_rules");
    ck_assert(json_is_array(v) && json_array_size(v) == 0);
    ck_assert_ptr_null(sget(root, "trace", "trace_id"));
    ck_assert_ptr_null(sget(root, "trace", "parent_span_id"));
    ck_assert_ptr_null(sget(root, NULL, "parent_record"));
    ck_assert_ptr_null(sget(root, NULL, "fingerprint_key_id"));
    ck_assert_int_eq(json_array_size(json_object_get(root, "inputs")), 0);
    json_decref(root);
}
END_TEST

/* Odd characters in strings: what goes in must come out after a JSON round
 * trip, and invalid UTF-8 must still give valid JSON. */
static const struct {
    const char *in;
    const char *out;
} odd[] = {
    {"quote\" backslash\\ slash/", "quote\" backslash\\ slash/"},
    {"tab\tnl\ncr\r", "tab\tnl\ncr\r"},
    {"ctl\x01\x1f\x7f", "ctl\x01\x1f\x7f"},
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
    {"bad\xff", "bad\xef\xbf\xbd"},
    {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"},
    {"over\xc0\xaf", "over\xef\xbf\xbd\xef\xbf\xbd"},
    {"surr\xed\xa0\x80", "surr\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"</script><!--", "</script><!--"},
    {"", ""},
};

START_TEST(test_build_escaping)
{
    struct aud_record rec;
    struct aud_finding f = {"request", "EMAIL", odd[_i].in, 1, "redact"};
    const char *rule = odd[_i].in;
    json_t *root, *v;

    full_record(&rec);
    rec.caller_principal = odd[_i].in;
    rec.findings = &f;
    rec.n_findings = 1;
    rec.matched_rules = &rule;
    rec.n_matched_rules = 1;
    root = build(&rec);
    ck_assert_str_eq(sget(root, "caller", "principal"), odd[_i].out);
    v = json_array_get(json_object_get(root, "findings"), 0);
    ck_assert_str_eq(sget(v, NULL, "pointer"), odd[_i].out);
    v = json_object_get(json_object_get(root, "policy"), "matched_rules");
    ck_assert_str_eq(json_string_value(json_array_get(v, 0)), odd[_i].out);
    json_decref(root);
}
END_TEST

/* Each required value missing gives CM_EINPUT naming it, and leaves the
 * output buffer as it was. */
static const char *const required_names[] = {
    "record_id",
    "ts_start",
    "ts_end",
    "instance",
    "request.method",
    "request.path",
    "request.route",
    "outcome",
    "findings[0]",
    "inputs[1]",
    "findings[0].fingerprints[1]",
};

START_TEST(test_build_required)
{
    struct aud_record rec;
    struct aud_finding f = {"request", "EMAIL", NULL, 1, "redact"};
    struct cm_buf b;
    struct cm_err err = {{0}};

    full_record(&rec);
    switch (_i) {
    case 0: memset(rec.id, 0, sizeof(rec.id)); break;
    case 1: rec.ts_start_us = 0; break;
    case 2: rec.ts_end_us = 0; break;
    case 3: rec.instance = NULL; break;
    case 4: rec.method = NULL; break;
    case 5: rec.path = NULL; break;
    case 6: rec.route = NULL; break;
    case 7: rec.outcome = NULL; break;
    case 8:
        rec.findings = &f;
        rec.n_findings = 1;
        break;
    case 9: {
        static const char *const bad[] = {"doc://a", NULL};

        rec.inputs = bad;
        break;
    }
    case 10: {
        static const char *const bad[] = {FP_A, NULL};

        f.pointer = "/p";
        f.fingerprints = bad;
        f.n_fingerprints = 2;
        rec.findings = &f;
        rec.n_findings = 1;
        break;
    }
    }
    cm_buf_init(&b);
    cm_buf_puts(&b, "prefix");
    ck_assert_int_eq(aud_record_json(&rec, &b, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, required_names[_i]) != NULL, "message '%s' lacks '%s'", err.msg,
                  required_names[_i]);
    ck_assert_str_eq(b.p, "prefix");
    cm_buf_fini(&b);
}
END_TEST

START_TEST(test_build_appends)
{
    struct aud_record rec;
    struct cm_buf b;
    struct cm_err err = {{0}};

    full_record(&rec);
    cm_buf_init(&b);
    ck_assert_int_eq(aud_record_json(&rec, &b, &err), CM_OK);
    cm_buf_putc(&b, '\n');
    ck_assert_int_eq(aud_record_json(&rec, &b, &err), CM_OK);
    ck_assert_ptr_nonnull(strchr(b.p, '\n'));
    ck_assert_int_eq(aud_validate(b.p, (size_t)(strchr(b.p, '\n') - b.p), &err), CM_OK);
    cm_buf_fini(&b);
}
END_TEST

/* ---------------------------------------------------------- agreement */

static int
type_matches(const json_t *v, enum aud_ftype t)
{
    switch (t) {
    case AUD_T_STRING:
    case AUD_T_UUID:
    case AUD_T_TIME: return json_is_string(v);
    case AUD_T_STRING_NULL:
    case AUD_T_UUID_NULL: return json_is_string(v) || json_is_null(v);
    case AUD_T_SHA256: return json_is_string(v);
    case AUD_T_INT32:
    case AUD_T_SEQ:
    case AUD_T_INT64: return json_is_integer(v);
    case AUD_T_INT64_NULL: return json_is_integer(v) || json_is_null(v);
    case AUD_T_OBJECT: return json_is_object(v);
    case AUD_T_STRING_ARRAY:
    case AUD_T_OBJECT_ARRAY: return json_is_array(v);
    }
    return 0;
}

struct def_row {
    const char *parent, *key;
    enum aud_ftype type;
    int required;
    const char *column;
};

/* fields.def expanded here, independently of aud_validate.c's tables. */
static const struct def_row def_rows[] = {
#define AUD_FIELD(parent, key, type, required, column) {parent, key, type, required, column},
#define AUD_FINDING(key, type, required, column) {"findings", key, type, required, column},
#include "schema/fields.def"
};

/* Builder output (full record and all-nulls record) against fields.def. */
START_TEST(test_agree_builder)
{
    struct aud_record rec;
    json_t *root;
    size_t nkeys = 0;

    full_record(&rec);
    if (_i == 1) {
        rec.caller_principal = rec.caller_tenant = rec.purpose = NULL;
        rec.model_requested = rec.model_served = rec.upstream = NULL;
        rec.policy_id = rec.policy_hash = rec.policy_mode = rec.decision = NULL;
        rec.prompt_tokens = rec.completion_tokens = -1;
    }
    root = build(&rec);
    for (size_t i = 0; i < CM_ARRAY_LEN(def_rows); i++) {
        const struct def_row *d = &def_rows[i];
        json_t *v;

        if (strcmp(d->parent, "findings") == 0) {
            v = json_object_get(json_array_get(json_object_get(root, "findings"), 0), d->key);
        } else if (d->parent[0] != '\0') {
            v = json_object_get(json_object_get(root, d->parent), d->key);
        } else {
            v = json_object_get(root, d->key);
            nkeys++;
        }
        if (v == NULL) {
            ck_assert_msg(!d->required, "builder omits required %s.%s", d->parent, d->key);
            continue;
        }
        ck_assert_msg(type_matches(v, d->type), "builder writes %s.%s with the wrong type",
                      d->parent, d->key);
    }
    /* And nothing the field list does not know about. */
    ck_assert_int_eq(json_object_size(root), nkeys);
    json_decref(root);
}
END_TEST

static json_t *
load_schema(void)
{
    json_error_t jerr;
    json_t *s = json_load_file("schema/lineage.schema.json", 0, &jerr);

    ck_assert_msg(s != NULL, "schema/lineage.schema.json: %s (line %d); run from the repo root",
                  jerr.text, jerr.line);
    return s;
}

/* The JSON Schema "type" of a property as fields.def would write it. */
static void
check_schema_type(const json_t *prop, enum aud_ftype t, const char *name)
{
    const json_t *type = json_object_get(prop, "type");
    const char *want = NULL, *want_null = NULL;

    switch (t) {
    case AUD_T_STRING:
    case AUD_T_UUID:
    case AUD_T_TIME: want = "string"; break;
    case AUD_T_STRING_NULL:
    case AUD_T_UUID_NULL: want_null = "string"; break;
    case AUD_T_SHA256: want = "string"; break;
    case AUD_T_INT32:
    case AUD_T_SEQ:
    case AUD_T_INT64: want = "integer"; break;
    case AUD_T_INT64_NULL: want_null = "integer"; break;
    case AUD_T_OBJECT: want = "object"; break;
    case AUD_T_STRING_ARRAY:
    case AUD_T_OBJECT_ARRAY: want = "array"; break;
    }
    if (want != NULL) {
        ck_assert_msg(json_is_string(type) && strcmp(json_string_value(type), want) == 0,
                      "schema: %s should have type \"%s\"", name, want);
    } else {
        ck_assert_msg(json_is_array(type) && json_array_size(type) == 2 &&
                          strcmp(json_string_value(json_array_get(type, 0)), want_null) == 0 &&
                          strcmp(json_string_value(json_array_get(type, 1)), "null") == 0,
                      "schema: %s should have type [\"%s\", \"null\"]", name, want_null);
    }
    if (t == AUD_T_UUID || t == AUD_T_UUID_NULL || t == AUD_T_TIME) {
        const char *fmt = json_string_value(json_object_get(prop, "format"));

        ck_assert_msg(fmt != NULL && strcmp(fmt, t == AUD_T_TIME ? "date-time" : "uuid") == 0,
                      "schema: %s has the wrong format", name);
    }
    if (t == AUD_T_STRING_ARRAY || t == AUD_T_OBJECT_ARRAY) {
        const char *it = json_string_value(json_object_get(json_object_get(prop, "items"), "type"));

        ck_assert_msg(it != NULL && strcmp(it, t == AUD_T_STRING_ARRAY ? "string" : "object") == 0,
                      "schema: %s has the wrong items type", name);
    }
}

static int
in_required(const json_t *obj, const char *key)
{
    size_t i;
    json_t *e;

    json_array_foreach (json_object_get(obj, "required"), i, e)
        if (strcmp(json_string_value(e), key) == 0)
            return 1;
    return 0;
}

/* Every fields.def row is a property of the JSON Schema with the same type
 * and required-ness, and every schema property is a fields.def row. */
START_TEST(test_agree_schema)
{
    json_t *schema = load_schema();
    json_t *finding_obj = json_object_get(
        json_object_get(json_object_get(schema, "properties"), "findings"), "items");
    const char *pkey;
    json_t *pval;

    for (size_t i = 0; i < CM_ARRAY_LEN(def_rows); i++) {
        const struct def_row *d = &def_rows[i];
        json_t *obj = schema, *prop;
        char name[128];

        snprintf(name, sizeof(name), "%s%s%s", d->parent, d->parent[0] ? "." : "", d->key);
        if (strcmp(d->parent, "findings") == 0)
            obj = finding_obj;
        else if (d->parent[0] != '\0')
            obj = json_object_get(json_object_get(schema, "properties"), d->parent);
        ck_assert_msg(json_is_object(obj), "schema: no object for %s", name);
        prop = json_object_get(json_object_get(obj, "properties"), d->key);
        ck_assert_msg(json_is_object(prop), "schema: %s missing from properties", name);
        check_schema_type(prop, d->type, name);
        ck_assert_msg(in_required(obj, d->key) == d->required,
                      "schema: %s required-ness differs from fields.def", name);
    }
    /* The reverse direction, for the top level and each object. */
    json_object_foreach (json_object_get(schema, "properties"), pkey, pval) {
        const char *ckey;
        json_t *cval;
        int found = 0;

        for (size_t i = 0; i < CM_ARRAY_LEN(def_rows); i++)
            found |= def_rows[i].parent[0] == '\0' && strcmp(def_rows[i].key, pkey) == 0;
        ck_assert_msg(found, "schema property %s is not in fields.def", pkey);
        json_object_foreach (
            json_object_get(strcmp(pkey, "findings") == 0 ? finding_obj : pval, "properties"), ckey,
            cval) {
            found = 0;
            for (size_t i = 0; i < CM_ARRAY_LEN(def_rows); i++)
                found |=
                    strcmp(def_rows[i].parent, pkey) == 0 && strcmp(def_rows[i].key, ckey) == 0;
            ck_assert_msg(found, "schema property %s.%s is not in fields.def", pkey, ckey);
        }
    }
    json_decref(schema);
}
END_TEST

/* Every SQL column named in fields.def is created by some migration. */
START_TEST(test_agree_sql)
{
    glob_t g;
    char *sql = NULL;
    size_t sqllen = 0;

    ck_assert_int_eq(glob("schema/sql/[0-9][0-9][0-9][0-9]_*.sql", 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        char chunk[4096];
        size_t n;

        ck_assert_ptr_nonnull(f);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
            char *grown = realloc(sql, sqllen + n + 1);

            ck_assert_ptr_nonnull(grown);
            sql = grown;
            memcpy(sql + sqllen, chunk, n);
            sqllen += n;
            sql[sqllen] = '\0';
        }
        fclose(f);
    }
    globfree(&g);
    ck_assert_ptr_nonnull(sql);
    for (size_t i = 0; i < CM_ARRAY_LEN(def_rows); i++) {
        const char *col = def_rows[i].column, *p;
        int found = 0;

        if (col == NULL)
            continue;
        /* As a whole word at the start of a column definition line. */
        for (p = sql; (p = strstr(p, col)) != NULL; p++) {
            size_t n = strlen(col);

            if ((p == sql || p[-1] == ' ' || p[-1] == '\n' || p[-1] == '(') && p[n] == ' ') {
                found = 1;
                break;
            }
        }
        ck_assert_msg(found, "column %s of fields.def is not in schema/sql/", col);
    }
    free(sql);
}
END_TEST

/* The validator's tables are fields.def too. */
START_TEST(test_agree_validator_tables)
{
    size_t top = 0, fnd = 0;

    for (size_t i = 0; i < CM_ARRAY_LEN(def_rows); i++) {
        if (strcmp(def_rows[i].parent, "findings") == 0) {
            ck_assert_str_eq(aud_finding_fields[fnd].key, def_rows[i].key);
            fnd++;
        } else {
            ck_assert_str_eq(aud_fields[top].key, def_rows[i].key);
            ck_assert_str_eq(aud_fields[top].parent, def_rows[i].parent);
            top++;
        }
    }
    ck_assert_uint_eq(top, aud_n_fields);
    ck_assert_uint_eq(fnd, aud_n_finding_fields);
}
END_TEST

/* ---------------------------------------------------------- validator */

static char *
record_text(void)
{
    struct aud_record rec;
    struct cm_buf b;
    struct cm_err err;
    size_t len;

    full_record(&rec);
    cm_buf_init(&b);
    ck_assert_int_eq(aud_record_json(&rec, &b, &err), CM_OK);
    return cm_buf_steal(&b, &len);
}

START_TEST(test_validate_ok)
{
    char *text = record_text();
    struct cm_err err = {{0}};

    ck_assert_msg(aud_validate(text, strlen(text), &err) == CM_OK, "%s", err.msg);
    free(text);
}
END_TEST

/* Mutations of a valid record: set parent.key (parent "" = top level,
 * "findings" = the first finding) to the JSON value, or delete it (NULL);
 * then expect CM_OK (want == NULL) or CM_EINPUT with want in the message. */
static const struct {
    const char *parent, *key, *value, *want;
} mutations[] = {
    {"", "record_id", NULL, "record_id: missing"},
    {"", "record_id", "\"not-a-uuid\"", "record_id: expected a UUID"},
    {"", "record_id", "42", "record_id: expected a UUID"},
    {"", "schema", "\"steward.lineage/9\"", "schema: unsupported"},
    {"", "schema", "null", "schema: expected a string"},
    {"", "ts_start", "\"yesterday\"", "ts_start: expected an RFC 3339"},
    {"", "ts_end", "\"2025-11-29\"", "ts_end: expected an RFC 3339"},
    {"", "ts_end", "1764431435", "ts_end: expected an RFC 3339"},
    {"", "instance", "null", "instance: expected a string"},
    {"", "caller", NULL, "caller: missing"},
    {"", "caller", "[]", "caller: expected an object"},
    {"caller", "tenant", NULL, "caller.tenant: missing"},
    {"caller", "tenant", "7", "caller.tenant: expected a string or null"},
    {"caller", "tenant", "null", NULL},
    {"request", "route", "null", "request.route: expected a string"},
    {"policy", "matched_rules", "[\"a\", 1]", "policy.matched_rules: expected an array of strings"},
    {"policy", "matched_rules", "\"a\"", "policy.matched_rules: expected an array of strings"},
    {"policy", "matched_rules", "[]", NULL},
    {"", "findings", "{}", "findings: expected an array of objects"},
    {"", "findings", "[1]", "findings: expected an array of objects"},
    {"", "findings", "[]", NULL},
    {"findings", "count", NULL, "findings[0].count: missing"},
    {"findings", "count", "\"1\"", "findings[0].count: expected a 32-bit integer"},
    {"findings", "count", "4294967296", "findings[0].count: expected a 32-bit integer"},
    {"findings", "type", "null", "findings[0].type: expected a string"},
    {"findings", "extra", "true", NULL},
    {"", "http_status", "200.0", "http_status: expected a 32-bit integer"},
    {"", "http_status", "\"200\"", "http_status: expected a 32-bit integer"},
    {"latency_us", "total", "null", "latency_us.total: expected an integer"},
    {"usage", "prompt_tokens", "null", NULL},
    {"usage", "prompt_tokens", "1.5", "usage.prompt_tokens: expected an integer or null"},
    {"", "future_field", "{\"x\": 1}", NULL},
    {"", "chain", NULL, "chain: missing"},
    {"chain", "seq", "0", "chain.seq: expected a positive integer"},
    {"chain", "seq", "\"1\"", "chain.seq: expected a positive integer"},
    {"chain", "prev", "\"ABC\"", "chain.prev: expected 64 lower-case hex digits"},
    {"chain", "id", "\"x\"", "chain.id: expected a UUID"},
    {"", "trace", NULL, NULL},
    {"", "trace", "[]", "trace: expected an object"},
    {"trace", "span_id", NULL, "trace.span_id: missing"},
    {"trace", "trace_id", "7", "trace.trace_id: expected a string or null"},
    {"", "parent_record", NULL, NULL},
    {"", "parent_record", "null", NULL},
    {"", "parent_record", "\"doc-1\"", "parent_record: expected a UUID string or null"},
    {"", "inputs", NULL, NULL},
    {"", "inputs", "[1]", "inputs: expected an array of strings"},
    {"findings", "fingerprints", NULL, NULL},
    {"findings", "fingerprints", "\"ab\"", "findings[0].fingerprints: expected an array"},
    {"", "fingerprint_key_id", "5", "fingerprint_key_id: expected a string or null"},
};

START_TEST(test_validate_mutation)
{
    char *text = record_text(), *out;
    json_t *root = json_loads(text, 0, NULL), *obj = root;
    struct cm_err err = {{0}};
    int rc;

    ck_assert_ptr_nonnull(root);
    if (strcmp(mutations[_i].parent, "findings") == 0)
        obj = json_array_get(json_object_get(root, "findings"), 0);
    else if (mutations[_i].parent[0] != '\0')
        obj = json_object_get(root, mutations[_i].parent);
    ck_assert_ptr_nonnull(obj);
    if (mutations[_i].value == NULL) {
        ck_assert_int_eq(json_object_del(obj, mutations[_i].key), 0);
    } else {
        json_t *v = json_loads(mutations[_i].value, JSON_DECODE_ANY, NULL);

        ck_assert_ptr_nonnull(v);
        json_object_set_new(obj, mutations[_i].key, v);
    }
    out = json_dumps(root, JSON_COMPACT);
    rc = aud_validate(out, strlen(out), &err);
    if (mutations[_i].want == NULL) {
        ck_assert_msg(rc == CM_OK, "%s.%s: unexpected '%s'", mutations[_i].parent,
                      mutations[_i].key, err.msg);
    } else {
        ck_assert_int_eq(rc, CM_EINPUT);
        ck_assert_msg(strstr(err.msg, mutations[_i].want) != NULL, "got '%s', want '%s'", err.msg,
                      mutations[_i].want);
    }
    free(out);
    free(text);
    json_decref(root);
}
END_TEST

/* Whole-message failures; messages never quote the input. */
static const struct {
    const char *text;
    const char *want;
} garbage[] = {
    {"", "empty message"},
    {"garbage-secret@example.com", "invalid JSON"},
    {"[1,2]", "not a JSON object"},
    {"{\"schema\":\"steward.lineage/1\"", "invalid JSON"},
    {"{\"a\":1,\"a\":2}", "invalid JSON"},
    {"{\"s\":\"\xff\"}", "invalid JSON"},
    {"{}", "schema: missing"},
};

START_TEST(test_validate_garbage)
{
    struct cm_err err = {{0}};

    ck_assert_int_eq(aud_validate(garbage[_i].text, strlen(garbage[_i].text), &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, garbage[_i].want) != NULL, "got '%s'", err.msg);
    ck_assert_msg(strstr(err.msg, "secret") == NULL, "message quotes the input: %s", err.msg);
}
END_TEST

/* Trailing bytes after the object (a NUL, a second object) are rejected. */
START_TEST(test_validate_trailing)
{
    char *text = record_text();
    size_t n = strlen(text);
    struct cm_err err = {{0}};
    char *two = malloc(2 * n + 1);

    ck_assert_int_eq(aud_validate(text, n + 1, &err), CM_EINPUT);
    memcpy(two, text, n);
    memcpy(two + n, text, n + 1);
    ck_assert_int_eq(aud_validate(two, 2 * n, &err), CM_EINPUT);
    free(two);
    free(text);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("aud_record");
    TCase *tc = tcase_create("builder");

    tcase_add_test(tc, test_build_full);
    tcase_add_test(tc, test_build_nulls);
    tcase_add_loop_test(tc, test_build_escaping, 0, CM_ARRAY_LEN(odd));
    tcase_add_loop_test(tc, test_build_required, 0, CM_ARRAY_LEN(required_names));
    tcase_add_test(tc, test_build_appends);
    suite_add_tcase(s, tc);

    tc = tcase_create("agreement");
    tcase_add_loop_test(tc, test_agree_builder, 0, 2);
    tcase_add_test(tc, test_agree_schema);
    tcase_add_test(tc, test_agree_sql);
    tcase_add_test(tc, test_agree_validator_tables);
    suite_add_tcase(s, tc);

    tc = tcase_create("validator");
    tcase_add_test(tc, test_validate_ok);
    tcase_add_loop_test(tc, test_validate_mutation, 0, CM_ARRAY_LEN(mutations));
    tcase_add_loop_test(tc, test_validate_garbage, 0, CM_ARRAY_LEN(garbage));
    tcase_add_test(tc, test_validate_trailing);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(suite());
}
