/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_report: the report renderers (audit/aud_report.c) on a small
 * model: every key figure appears under its id with the model's number,
 * every string from the model is escaped, the document is balanced and
 * self-contained (no script, link, src or url() to fetch), sections are in
 * place; the subject-access report and the Markdown forms likewise; a model
 * with missing or mistyped members still renders.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/aud_report.h"
#include "common/cm_buf.h"
#include "tests/unit/unit_main.h"

static const char model_text[] =
    "{\"schema\":\"steward.report/1\",\"title\":\"Q4 <review> & sign-off\","
    "\"generated_at\":\"2026-11-29T17:00:00Z\",\"generated_by\":\"aud_a\",\"database\":\"steward\","
    "\"period\":{\"from\":\"2026-11-01T00:00:00Z\",\"to\":\"2026-12-01T00:00:00Z\"},"
    "\"tenant\":null,\"controller\":\"Example Org <dpo@example.invalid>\","
    "\"summary\":{\"records\":12345,\"callers\":7,\"tenants\":2,\"models\":3,\"allow\":10000,"
    "\"redact\":2000,\"deny\":345,\"no_decision\":0,\"not_ok\":400,"
    "\"first\":\"2026-11-01T00:00:01Z\",\"last\":\"2026-11-30T23:59:59Z\"},"
    "\"findings\":{\"findings\":5000,\"records_with_findings\":3000,\"in_clear\":120},"
    "\"daily\":[{\"day\":\"2026-11-01\",\"records\":400,\"allow\":300,\"redact\":90,\"deny\":10,"
    "\"other\":0},{\"day\":\"2026-11-02\",\"records\":500,\"allow\":380,\"redact\":100,"
    "\"deny\":20,\"other\":0}],"
    "\"activities\":[{\"purpose\":\"support\",\"records\":9000,\"tenants\":[\"acme\"],"
    "\"callers\":5,\"routes\":[\"chat\"],\"models\":[\"local-llama\"],"
    "\"categories\":[{\"type\":\"EMAIL\",\"findings\":4000}]},{\"purpose\":null,\"records\":3345,"
    "\"tenants\":[],\"callers\":2,\"routes\":[\"chat\"],\"models\":[\"x<y>\"],\"categories\":[]}],"
    "\"recipients\":[{\"model\":\"local-llama\",\"endpoint\":\"http://10.0.0.1:8000\","
    "\"records\":9000,\"denied\":0,\"findings\":4500,\"in_clear\":100}],"
    "\"by_type\":[{\"type\":\"EMAIL\",\"findings\":4000,\"request\":3900,\"response\":100,"
    "\"in_clear\":100,\"protected\":3850,\"denied\":50,\"records\":2500},{\"type\":\"PHONE\","
    "\"findings\":1000,\"request\":1000,\"response\":0,\"in_clear\":20,\"protected\":980,"
    "\"denied\":0,\"records\":800}],"
    "\"by_type_action\":[{\"type\":\"EMAIL\",\"direction\":\"request\",\"action\":\"redact\","
    "\"findings\":3850}],"
    "\"by_model\":[{\"model\":\"local-llama\",\"type\":\"EMAIL\",\"findings\":4000}],"
    "\"by_tenant\":[{\"tenant\":null,\"type\":\"PHONE\",\"findings\":1000}],"
    "\"exposure_daily\":[{\"day\":\"2026-11-01\",\"type\":\"EMAIL\",\"findings\":40}],"
    "\"by_decision\":[{\"decision\":\"allow\",\"records\":10000}],"
    "\"by_outcome\":[{\"outcome\":\"ok\",\"status\":200,\"records\":11945}],"
    "\"denials\":[{\"rule\":\"no-cards-<external>\",\"model\":\"external-x\",\"records\":345,"
    "\"first\":\"2026-11-02T00:00:00Z\",\"last\":\"2026-11-29T00:00:00Z\"}],"
    "\"rules\":[{\"rule\":\"pii-redact\",\"records\":2000}],"
    "\"policies\":[{\"id\":\"steward-default\",\"hash\":\"0123456789abcdef0123456789abcdef0123"
    "456789abcdef0123456789abcdef\",\"mode\":\"enforce\",\"records\":12345,"
    "\"first\":\"2026-11-01T00:00:01Z\",\"last\":\"2026-11-30T23:59:59Z\"}],"
    "\"key_ids\":[{\"key_id\":\"17501c782d614ccb\",\"records\":12000},{\"key_id\":null,"
    "\"records\":345}],"
    "\"rejects\":{\"count\":3,\"by_error\":[{\"error\":\"caller.tenant: expected a string\","
    "\"count\":3,\"first\":\"2026-11-02T00:00:00Z\",\"last\":\"2026-11-03T00:00:00Z\"}],"
    "\"tenant_filter_ignored\":false},"
    "\"retention\":{\"held_in_period\":0,\"classes\":[{\"class\":\"records\",\"keep\":\"400 days\","
    "\"description\":\"lineage records\"}],\"oldest_record\":\"2025-11-01T00:00:00Z\","
    "\"partitions\":{\"days\":40,\"first_day\":\"2025-11-01\",\"last_day\":\"2026-12-06\"},"
    "\"default_rows\":0,\"legal_holds\":[{\"id\":4,\"reason\":\"case <42>\",\"tenant\":\"acme\","
    "\"trace_id\":null,\"record_id\":null,\"from\":null,\"to\":null,"
    "\"created_at\":\"2026-11-20T00:00:00Z\"}],\"last_actions\":[],\"row_level_security\":true},"
    "\"chain\":{\"available\":false,\"verdict\":\"not available in this build\","
    "\"detail\":\"see issue 6\"}}";

static json_t *
model(void)
{
    json_error_t jerr;
    json_t *m = json_loads(model_text, 0, &jerr);

    ck_assert_msg(m != NULL, "test model: %s at %d", jerr.text, jerr.column);
    return m;
}

/* The text of the element with id="id", up to the next '<'. */
static char *
by_id(const char *html, const char *id)
{
    char pat[64], *out;
    const char *p, *end;

    snprintf(pat, sizeof(pat), "id=\"%s\">", id);
    p = strstr(html, pat);
    ck_assert_msg(p != NULL, "no element id=%s", id);
    p += strlen(pat);
    end = strchr(p, '<');
    out = strndup(p, (size_t)(end - p));
    return out;
}

static void
check_id(const char *html, const char *id, const char *want)
{
    char *v = by_id(html, id);

    ck_assert_msg(strcmp(v, want) == 0, "%s: '%s', want '%s'", id, v, want);
    free(v);
}

/* Non-void tags balance. */
static void
check_balanced(const char *s)
{
    static const char *const voids[] = {"meta", "br", "hr", "img", "input", "link", "col"};
    const char *stack[128];
    size_t depth = 0;

    for (; (s = strchr(s, '<')) != NULL; s++) {
        const char *name = s + 1, *end = strchr(s, '>');
        size_t n;
        bool is_void = false;

        ck_assert_ptr_nonnull(end);
        if (*name == '!' || *name == '?')
            continue;
        if (*name == '/') {
            name++;
            n = strcspn(name, " >");
            ck_assert_msg(depth > 0 && strncmp(stack[depth - 1], name, n) == 0 &&
                              strcspn(stack[depth - 1], " >/") == n,
                          "unbalanced </%.*s>", (int)n, name);
            depth--;
            continue;
        }
        n = strcspn(name, " >/");
        for (size_t v = 0; v < CM_ARRAY_LEN(voids); v++)
            is_void |= strlen(voids[v]) == n && strncmp(voids[v], name, n) == 0;
        if (!is_void && end[-1] != '/') {
            ck_assert(depth < 128);
            stack[depth++] = name;
        }
    }
    ck_assert_uint_eq(depth, 0);
}

static void
check_self_contained(const char *html)
{
    ck_assert(strstr(html, "<script") == NULL);
    ck_assert(strstr(html, "<link") == NULL);
    ck_assert(strstr(html, " src=") == NULL);
    ck_assert(strstr(html, "url(http") == NULL);
    ck_assert(strstr(html, "@import") == NULL);
}

START_TEST(report_html)
{
    json_t *m = model();
    struct cm_buf out;

    cm_buf_init(&out);
    aud_report_html(m, &out);
    ck_assert(strncmp(out.p, "<!DOCTYPE html>", 15) == 0);
    check_balanced(out.p);
    check_self_contained(out.p);
    check_id(out.p, "k-records", "12,345");
    check_id(out.p, "k-findings", "5,000");
    check_id(out.p, "k-in-clear", "120");
    check_id(out.p, "k-protected", "4,880");
    check_id(out.p, "k-deny", "345");
    check_id(out.p, "k-redact", "2,000");
    check_id(out.p, "k-rejects", "3");
    check_id(out.p, "chain-verdict", "not available in this build");
    ck_assert(strstr(out.p, "<tr data-type=\"EMAIL\"><td>EMAIL</td><td class=\"n\" "
                            "data-k=\"findings\">4,000</td>") != NULL);
    /* Escaped, never raw. */
    ck_assert(strstr(out.p, "Q4 &lt;review&gt; &amp; sign-off") != NULL);
    ck_assert(strstr(out.p, "Example Org &lt;dpo@example.invalid&gt;") != NULL);
    ck_assert(strstr(out.p, "no-cards-&lt;external&gt;") != NULL);
    ck_assert(strstr(out.p, "case &lt;42&gt;") != NULL);
    ck_assert(strstr(out.p, "<review>") == NULL && strstr(out.p, "<external>") == NULL);
    for (const char *sec = "summary\0art30\0recipients\0exposure\0decisions\0policies\0chain\0"
                           "retention\0rejects\0signoff\0";
         *sec; sec += strlen(sec) + 1) {
        char want[64];

        snprintf(want, sizeof(want), "<section id=\"%s\">", sec);
        ck_assert_msg(strstr(out.p, want) != NULL, "missing %s", want);
    }
    ck_assert(strstr(out.p, "(not declared by the caller)") != NULL);
    ck_assert(strstr(out.p, "17501c782d614ccb") != NULL);
    ck_assert(strstr(out.p, "@page") != NULL); /* print rules */
    cm_buf_fini(&out);
    json_decref(m);
}
END_TEST

START_TEST(report_md)
{
    json_t *m = model();
    struct cm_buf out;

    cm_buf_init(&out);
    aud_report_md(m, &out);
    ck_assert(strstr(out.p, "# Q4 <review> & sign-off") != NULL);
    ck_assert(strstr(out.p, "| 12,345 | 5,000 | 120 | 345 | 2,000 | 7 | 3 |") != NULL);
    ck_assert(strstr(out.p, "| EMAIL | 4,000 | 3,850 | 100 | 50 |") != NULL);
    cm_buf_fini(&out);
    json_decref(m);
}
END_TEST

/* Anything goes in: a model of the wrong shape renders without crashing. */
START_TEST(report_odd_models)
{
    static const char *const odd[] = {
        "{}",
        "[]",
        "{\"summary\":[],\"daily\":{},\"by_type\":\"x\"}",
        "{\"daily\":[{\"day\":5},{}],\"by_type\":[{\"type\":null}],\"activities\":[1,\"x\"]}",
        "{\"retention\":{\"classes\":7,\"legal_holds\":[{}]},\"chain\":{\"available\":true}}",
    };

    for (size_t i = 0; i < CM_ARRAY_LEN(odd); i++) {
        json_t *m = json_loads(odd[i], JSON_DECODE_ANY, NULL);
        struct cm_buf out;

        cm_buf_init(&out);
        aud_report_html(m, &out);
        check_balanced(out.p);
        cm_buf_reset(&out);
        aud_report_md(m, &out);
        aud_subject_html(m, &out);
        aud_subject_md(m, &out);
        cm_buf_fini(&out);
        json_decref(m);
    }
}
END_TEST

START_TEST(subject_html)
{
    json_t *m = json_loads(
        "{\"schema\":\"steward.subject-report/1\",\"generated_at\":\"2026-11-29T17:00:00Z\","
        "\"key_id\":\"17501c782d614ccb\",\"type\":\"EMAIL\",\"fingerprints\":[\"3df35d89db698ff"
        "001ad76feea7c7835e8e88189dfaaf76cd9005ce0500105cf\"],\"records\":2,"
        "\"records_in_range\":null,\"records_without_fingerprints\":0,\"records_other_key\":0,"
        "\"findings\":[{\"ts_start\":\"2026-11-29T10:00:00Z\",\"record_id\":\"r1\","
        "\"tenant\":\"acme\",\"caller\":\"agent<a>\",\"purpose\":\"support\",\"model\":\"m\","
        "\"direction\":\"request\",\"type\":\"EMAIL\",\"action\":\"redact\",\"model_saw\":"
        "\"a redacted form\"},{\"ts_start\":\"2026-11-29T10:00:01Z\",\"record_id\":\"r2\","
        "\"tenant\":\"acme\",\"caller\":\"agent<a>\",\"purpose\":null,\"model\":\"m\","
        "\"direction\":\"request\",\"type\":\"EMAIL\",\"action\":\"allow\",\"model_saw\":"
        "\"the value\"}]}",
        0, NULL);
    struct cm_buf out;

    ck_assert_ptr_nonnull(m);
    cm_buf_init(&out);
    aud_subject_html(m, &out);
    check_balanced(out.p);
    check_self_contained(out.p);
    check_id(out.p, "k-records", "2");
    check_id(out.p, "k-findings", "2");
    ck_assert(strstr(out.p, "id=\"k-in-range\"") == NULL);
    ck_assert(strstr(out.p, "<tr data-record=\"r2\">") != NULL);
    ck_assert(strstr(out.p, "agent&lt;a&gt;") != NULL);
    ck_assert(strstr(out.p, "3df35d89db698ff0") != NULL);
    ck_assert(strstr(out.p, "(not declared by the caller)") != NULL);
    cm_buf_reset(&out);
    aud_subject_md(m, &out);
    ck_assert(strstr(out.p, "| r2 |") != NULL);
    cm_buf_fini(&out);
    json_decref(m);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("aud_report");
    TCase *tc = tcase_create("render");

    tcase_add_test(tc, report_html);
    tcase_add_test(tc, report_md);
    tcase_add_test(tc, report_odd_models);
    tcase_add_test(tc, subject_html);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(suite());
}
