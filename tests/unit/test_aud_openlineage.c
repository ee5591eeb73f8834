/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_openlineage: RunEvents built from lineage records
 * (audit/aud_openlineage.c) are valid against the OpenLineage 2-0-2 schema
 * (the definitions transcribed in tests/data/openlineage/, Apache-2.0, see
 * NOTICE.md there) and each facet against its own schema (standard facets
 * there, steward's in schema/openlineage/), checked by the small JSON
 * Schema validator below (type, required, properties, additionalProperties,
 * items, enum, pattern, minimum, formats uuid/date-time/uri, allOf, $ref
 * across the loaded documents).  Also the mapping itself: job, run, parent,
 * inputs, outputs, event types, no fingerprints.  Reads files from the
 * source tree: run from the repository root.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/aud_openlineage.h"
#include "tests/unit/unit_main.h"

static json_t *docs; /* $id -> schema document */

static void
load_schemas(void)
{
    static const char *const files[] = {
        "tests/data/openlineage/OpenLineage.json",
        "tests/data/openlineage/ParentRunFacet.json",
        "tests/data/openlineage/NominalTimeRunFacet.json",
        "schema/openlineage/StewardExchangeRunFacet.json",
        "schema/openlineage/StewardPolicyRunFacet.json",
        "schema/openlineage/StewardPiiRunFacet.json",
    };

    docs = json_object();
    for (size_t i = 0; i < CM_ARRAY_LEN(files); i++) {
        json_error_t jerr;
        json_t *d = json_load_file(files[i], 0, &jerr);

        ck_assert_msg(d != NULL, "%s: %s (run from the repository root)", files[i], jerr.text);
        json_object_set_new(docs, json_string_value(json_object_get(d, "$id")), d);
    }
}

/* Resolves "url#/a/b" (url empty: within base). */
static const json_t *
resolve(const char *ref, const json_t *base, const json_t **doc)
{
    char url[512], *hash;
    const json_t *node;

    snprintf(url, sizeof(url), "%s", ref);
    hash = strchr(url, '#');
    if (hash != NULL)
        *hash++ = '\0';
    *doc = url[0] != '\0' ? json_object_get(docs, url) : base;
    ck_assert_msg(*doc != NULL, "unknown schema %s", url);
    node = *doc;
    for (char *part = hash ? strtok(hash, "/") : NULL; part; part = strtok(NULL, "/"))
        node = json_object_get(node, part);
    ck_assert_msg(node != NULL, "unresolved %s", ref);
    return node;
}

static int
matches(const char *re, const char *s)
{
    regex_t rx;
    int ok;

    ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
    ok = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

static int
type_ok(const json_t *v, const char *t)
{
    if (strcmp(t, "object") == 0)
        return json_is_object(v);
    if (strcmp(t, "array") == 0)
        return json_is_array(v);
    if (strcmp(t, "string") == 0)
        return json_is_string(v);
    if (strcmp(t, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    if (strcmp(t, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(t, "null") == 0)
        return json_is_null(v);
    return 0;
}

/* Fails the test at the first violation, naming the path. */
static void
validate(const json_t *v, const json_t *s, const json_t *doc, const char *path)
{
    const json_t *t, *x;
    const char *k;
    json_t *e, *sub;
    size_t i;

    if (json_is_true(s))
        return;
    if ((t = json_object_get(s, "$ref")) != NULL) {
        const json_t *tdoc, *target = resolve(json_string_value(t), doc, &tdoc);

        validate(v, target, tdoc, path);
    }
    json_array_foreach (json_object_get(s, "allOf"), i, sub)
        validate(v, sub, doc, path);
    if ((t = json_object_get(s, "type")) != NULL) {
        int ok = 0;

        if (json_is_string(t))
            ok = type_ok(v, json_string_value(t));
        json_array_foreach (t, i, e)
            ok |= type_ok(v, json_string_value(e));
        ck_assert_msg(ok, "%s: wrong type", path);
    }
    if ((t = json_object_get(s, "enum")) != NULL) {
        int ok = 0;

        json_array_foreach (t, i, e)
            ok |= json_equal(e, (json_t *)v);
        ck_assert_msg(ok, "%s: not in the enum", path);
    }
    if (json_is_string(v)) {
        const char *str = json_string_value(v),
                   *fmt = json_string_value(json_object_get(s, "format"));

        if (fmt != NULL && strcmp(fmt, "uuid") == 0)
            ck_assert_msg(matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                  "[0-9a-fA-F]{12}$",
                                  str),
                          "%s: not a uuid", path);
        if (fmt != NULL && strcmp(fmt, "date-time") == 0)
            ck_assert_msg(matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                  "(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$",
                                  str),
                          "%s: not a date-time", path);
        if (fmt != NULL && strcmp(fmt, "uri") == 0)
            ck_assert_msg(matches("^[A-Za-z][A-Za-z0-9+.-]*:[^ ]*$", str), "%s: not a uri", path);
        if ((x = json_object_get(s, "pattern")) != NULL)
            ck_assert_msg(matches(json_string_value(x), str), "%s: pattern", path);
    }
    if (json_is_number(v) && (x = json_object_get(s, "minimum")) != NULL)
        ck_assert_msg(json_number_value(v) >= json_number_value(x), "%s: below minimum", path);
    if (json_is_object(v)) {
        json_array_foreach (json_object_get(s, "required"), i, e)
            ck_assert_msg(json_object_get(v, json_string_value(e)) != NULL, "%s: missing %s", path,
                          json_string_value(e));
        json_object_foreach ((json_t *)v, k, e) {
            const json_t *ps = json_object_get(json_object_get(s, "properties"), k);
            char sub_path[256];

            snprintf(sub_path, sizeof(sub_path), "%s.%s", path, k);
            if (ps != NULL)
                validate(e, ps, doc, sub_path);
            else if ((x = json_object_get(s, "additionalProperties")) != NULL)
                validate(e, x, doc, sub_path);
        }
    }
    if (json_is_array(v) && (x = json_object_get(s, "items")) != NULL) {
        json_array_foreach ((json_t *)v, i, e) {
            char sub_path[256];

            snprintf(sub_path, sizeof(sub_path), "%s[%zu]", path, i);
            validate(e, x, doc, sub_path);
        }
    }
}

static void
validate_event(const json_t *ev)
{
    const json_t *core =
        json_object_get(docs, "https://openlineage.io/spec/2-0-2/OpenLineage.json");
    const char *k;
    json_t *facet;

    validate(ev, core, core, "$");
    json_object_foreach (json_object_get(json_object_get(ev, "run"), "facets"), k, facet) {
        const json_t *fdoc;
        const json_t *fs =
            resolve(json_string_value(json_object_get(facet, "_schemaURL")), NULL, &fdoc);
        char path[64];

        snprintf(path, sizeof(path), "$.run.facets.%s", k);
        validate(facet, fs, fdoc, path);
    }
}

static const char rec_text[] =
    "{\"schema\":\"steward.lineage/1\",\"record_id\":\"01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607\","
    "\"ts_start\":\"2025-11-29T15:50:35.123456Z\",\"ts_end\":\"2025-11-29T15:50:35.124956Z\","
    "\"instance\":\"sc-1\",\"caller\":{\"principal\":\"agent-a\",\"tenant\":\"acme\","
    "\"purpose\":\"support\"},\"request\":{\"method\":\"POST\",\"path\":\"/v1/chat/completions\","
    "\"route\":\"chat\"},\"model\":{\"requested\":\"gpt-x\",\"served\":\"gpt-x-1\","
    "\"upstream\":\"http://10.0.0.1:8000\"},\"policy\":{\"id\":\"default\",\"hash\":"
    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"mode\":\"enforce\","
    "\"decision\":\"redact\",\"rule_id\":null,\"matched_rules\":[\"pii-redact\"]},"
    "\"findings\":[{\"direction\":\"request\",\"type\":\"EMAIL\",\"pointer\":\"/messages/0/"
    "content\","
    "\"count\":2,\"action\":\"redact\",\"fingerprints\":[\"3df35d89db698ff001ad76feea7c7835e8e"
    "88189dfaaf76cd9005ce0500105cf\"]},{\"direction\":\"response\",\"type\":\"EMAIL\","
    "\"pointer\":\"/choices/0/message/content\",\"count\":1,\"action\":\"redact\"}],"
    "\"http_status\":200,\"outcome\":\"ok\",\"latency_us\":{\"total\":1500,\"upstream\":1200,"
    "\"governance\":250},\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34},"
    "\"trace\":{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":"
    "\"90a1b2c3d4e5f607\",\"parent_span_id\":\"00f067aa0ba902b7\"},"
    "\"parent_record\":\"01932a4b-5c6d-7e8f-90a1-b2c3d4e5f600\","
    "\"inputs\":[\"s3://hr-docs/policies/leave.md\",\"doc://kb\",\"handbook-7\"],"
    "\"fingerprint_key_id\":\"17501c782d614ccb\"}";

static const struct aud_ol_opts opts = {AUD_OL_DEFAULT_PRODUCER, AUD_OL_DEFAULT_FACET_BASE,
                                        AUD_OL_DEFAULT_NAMESPACE};

START_TEST(full_record)
{
    json_t *rec = json_loads(rec_text, 0, NULL);
    json_t *pmodel =
        json_loads("{\"requested\":\"planner\",\"served\":null,\"upstream\":null}", 0, NULL);
    struct cm_err err;
    json_t *ev, *in, *f;
    char *text;

    load_schemas();
    ck_assert_ptr_nonnull(rec);
    ev = aud_ol_event(rec, pmodel, &opts, &err);
    ck_assert_ptr_nonnull(ev);
    validate_event(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "eventType")), "COMPLETE");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "eventTime")),
                     "2025-11-29T15:50:35.124956Z");
    f = json_object_get(ev, "job");
    ck_assert_str_eq(json_string_value(json_object_get(f, "namespace")), "http://10.0.0.1:8000");
    ck_assert_str_eq(json_string_value(json_object_get(f, "name")), "gpt-x-1");
    f = json_object_get(json_object_get(json_object_get(ev, "run"), "facets"), "parent");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "run"), "runId")),
                     "01932a4b-5c6d-7e8f-90a1-b2c3d4e5f600");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "job"), "name")),
                     "planner");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "job"), "namespace")),
                     "steward");
    in = json_object_get(ev, "inputs");
    ck_assert_uint_eq(json_array_size(in), 4);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(in, 0), "namespace")),
                     "s3://hr-docs");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(in, 0), "name")),
                     "policies/leave.md");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(in, 2), "namespace")),
                     "steward-inputs");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(in, 3), "name")),
                     "response/01932a4b-5c6d-7e8f-90a1-b2c3d4e5f600");
    f = json_object_get(json_object_get(json_object_get(ev, "run"), "facets"), "steward_pii");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(f, "totalsByType"), "EMAIL")), 3);
    text = json_dumps(ev, JSON_COMPACT);
    ck_assert_msg(strstr(text, "3df35d89") == NULL, "a fingerprint left steward");
    free(text);
    json_decref(ev);
    json_decref(pmodel);
    json_decref(rec);
    json_decref(docs);
}
END_TEST

/* Outcomes map to event types; a record of an older sidecar (no trace,
 * inputs or parent) and one with nulls everywhere still validate. */
START_TEST(outcomes_and_sparse_records)
{
    static const struct {
        const char *outcome, *type;
    } map[] = {{"denied", "ABORT"},
               {"client_gone", "ABORT"},
               {"upstream_error", "FAIL"},
               {"bad_request", "FAIL"},
               {"internal_error", "FAIL"}};
    struct cm_err err;

    load_schemas();
    for (size_t i = 0; i < CM_ARRAY_LEN(map); i++) {
        json_t *rec = json_loads(rec_text, 0, NULL), *ev;

        json_object_set_new(rec, "outcome", json_string(map[i].outcome));
        json_object_del(rec, "trace");
        json_object_del(rec, "inputs");
        json_object_del(rec, "parent_record");
        json_object_set_new(json_object_get(rec, "model"), "served", json_null());
        json_object_set_new(json_object_get(rec, "model"), "requested", json_null());
        json_object_set_new(json_object_get(rec, "model"), "upstream", json_null());
        json_object_set_new(json_object_get(rec, "policy"), "hash", json_null());
        json_object_set_new(json_object_get(rec, "policy"), "mode", json_null());
        ev = aud_ol_event(rec, NULL, &opts, &err);
        ck_assert_ptr_nonnull(ev);
        validate_event(ev);
        ck_assert_str_eq(json_string_value(json_object_get(ev, "eventType")), map[i].type);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "job"), "name")),
                         "(no model)");
        ck_assert_ptr_null(
            json_object_get(json_object_get(json_object_get(ev, "run"), "facets"), "parent"));
        json_decref(ev);
        json_decref(rec);
    }
    json_decref(docs);
}
END_TEST

START_TEST(refuses_what_is_not_a_record)
{
    struct cm_err err = {{0}};
    json_t *rec = json_loads("{\"ts_end\":\"2025-11-29T15:50:35Z\"}", 0, NULL);

    ck_assert_ptr_null(aud_ol_event(rec, NULL, &opts, &err));
    ck_assert(strstr(err.msg, "record_id") != NULL);
    json_decref(rec);
    rec = json_loads("[1, 2]", 0, NULL);
    ck_assert_ptr_null(aud_ol_event(rec, NULL, &opts, &err));
    json_decref(rec);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("aud_openlineage");
    TCase *tc = tcase_create("events");

    tcase_add_test(tc, full_record);
    tcase_add_test(tc, outcomes_and_sparse_records);
    tcase_add_test(tc, refuses_what_is_not_a_record);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(suite());
}
