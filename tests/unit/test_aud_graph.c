/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_graph: the lineage graph writers (audit/aud_graph.c) and the
 * chart writers (audit/aud_svg.c): the text tree of an agent chain (order,
 * nesting, documents and models under their record, a cycle printed once),
 * DOT (every node and edge, quoting), SVG (well-formed: tags balance,
 * attributes quoted, hostile labels escaped), number formatting.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_graph.h"
#include "audit/aud_svg.h"
#include "common/cm_buf.h"
#include "tests/unit/unit_main.h"

#define R1 "01932a4b-5c6d-7e8f-90a1-000000000001"
#define R2 "01932a4b-5c6d-7e8f-90a1-000000000002"
#define R3 "01932a4b-5c6d-7e8f-90a1-000000000003"

/* records 0..2, documents 3..4, model 5 */
static const struct aud_gnode chain_nodes[] = {
    {AUD_GN_RECORD, R1, "2026-11-29T10:00:00Z", "chat", "local-llama", "redact", "200", "ok",
     "EMAIL:1", "acme", "agent-a", NULL, false},
    {AUD_GN_RECORD, R2, "2026-11-29T10:00:01Z", "chat", "local-llama", "allow", "200", "ok", NULL,
     "acme", "agent-a", NULL, true},
    {AUD_GN_RECORD, R3, "2026-11-29T10:00:02Z", "chat", "external-x", "deny", "403", "denied",
     "CREDIT_CARD:1", "acme", "agent-a", NULL, false},
    {AUD_GN_DOCUMENT, "doc://kb/handbook.pdf"},
    {AUD_GN_DOCUMENT, "s3://hr/<script>alert(1)</script>&\"q\""},
    {AUD_GN_MODEL, "local-llama", .detail = "http://127.0.0.1:8000"},
};

static const struct aud_gedge chain_edges[] = {
    {0, 1, AUD_GE_PARENT}, {1, 2, AUD_GE_PARENT}, {3, 0, AUD_GE_INPUT},
    {4, 1, AUD_GE_INPUT},  {0, 5, AUD_GE_MODEL},  {1, 5, AUD_GE_MODEL},
};

static struct aud_graph
chain(void)
{
    struct aud_graph g = {"trace 4bf92f3577b34da6a3ce929d0e0e4736",
                          chain_nodes,
                          CM_ARRAY_LEN(chain_nodes),
                          chain_edges,
                          CM_ARRAY_LEN(chain_edges),
                          false};

    return g;
}

static const char *
line_with(const char *text, const char *what)
{
    const char *p = strstr(text, what);

    ck_assert_msg(p != NULL, "'%s' not in:\n%s", what, text);
    while (p > text && p[-1] != '\n')
        p--;
    return p;
}

START_TEST(text_tree)
{
    struct aud_graph g = chain();
    struct cm_buf out;
    const char *l1, *l2, *l3;

    cm_buf_init(&out);
    aud_graph_text(&g, &out);
    {
        const char *want = "trace 4bf92f3577b34da6a3ce929d0e0e4736: 3 records, "
                           "2 input documents, 1 model\n";

        ck_assert_msg(strncmp(out.p, want, strlen(want)) == 0, "%s", out.p);
    }
    l1 = line_with(out.p, "record " R1);
    l2 = line_with(out.p, "record " R2);
    l3 = line_with(out.p, "record " R3);
    ck_assert(l1 < l2 && l2 < l3);
    ck_assert(strncmp(l1, "record", 6) == 0); /* a root */
    ck_assert(strncmp(l2, "\xe2\x94\x94\xe2\x94\x80\xe2\x94\x80 record", 16) == 0);
    ck_assert(strncmp(l3, "    \xe2\x94\x94\xe2\x94\x80\xe2\x94\x80 record", 20) == 0);
    ck_assert(strstr(l2, "<== asked") != NULL);
    ck_assert(strstr(l1, "[EMAIL:1]") != NULL);
    ck_assert(line_with(out.p, "input  doc://kb/handbook.pdf") < l2);
    ck_assert(line_with(out.p, "model  local-llama @ http://127.0.0.1:8000") < l2);
    cm_buf_fini(&out);
}
END_TEST

/* A cycle (A parent of B, B parent of A) is printed once per record. */
START_TEST(text_cycle)
{
    static const struct aud_gnode nodes[] = {{AUD_GN_RECORD, R1}, {AUD_GN_RECORD, R2}};
    static const struct aud_gedge edges[] = {{0, 1, AUD_GE_PARENT}, {1, 0, AUD_GE_PARENT}};
    struct aud_graph g = {"cycle", nodes, 2, edges, 2, false};
    struct cm_buf out;
    const char *p;
    int n = 0;

    cm_buf_init(&out);
    aud_graph_text(&g, &out);
    for (p = out.p; (p = strstr(p, "record " R1 "  ")) != NULL; p++)
        n++;
    ck_assert_int_eq(n, 1);
    ck_assert(strstr(out.p, "(shown above)") != NULL);
    cm_buf_fini(&out);
}
END_TEST

START_TEST(missing_parent)
{
    static const struct aud_gnode nodes[] = {{AUD_GN_MISSING, R1},
                                             {AUD_GN_RECORD, R2, .decision = "allow"}};
    static const struct aud_gedge edges[] = {{0, 1, AUD_GE_PARENT}};
    struct aud_graph g = {"record " R2, nodes, 2, edges, 1, false};
    struct cm_buf out;

    cm_buf_init(&out);
    aud_graph_text(&g, &out);
    ck_assert(strstr(out.p, "record " R1 " (not visible") != NULL);
    cm_buf_fini(&out);
}
END_TEST

START_TEST(dot_output)
{
    struct aud_graph g = chain();
    struct cm_buf out;

    cm_buf_init(&out);
    aud_graph_dot(&g, &out);
    ck_assert(strncmp(out.p, "digraph lineage {\n", 18) == 0);
    ck_assert(strstr(out.p, "n0 -> n1 [label=\"parent\"];") != NULL);
    ck_assert(strstr(out.p, "n3 -> n0 [label=\"input\"];") != NULL);
    ck_assert(strstr(out.p, "n1 -> n5 [label=\"model\"];") != NULL);
    /* Quotes inside a label are escaped; the label stays one string. */
    ck_assert(strstr(out.p, "&\\\"q\\\"") != NULL);
    ck_assert(out.p[out.len - 2] == '}');
    cm_buf_fini(&out);
}
END_TEST

/* A minimal XML well-formedness check: tags balance, attribute values are
 * quoted, no raw '<' or '&' in text. */
static void
check_xml(const char *s)
{
    const char *stack[64];
    size_t depth = 0;

    while (*s) {
        if (*s == '<') {
            const char *name = s + 1, *end = strchr(s, '>');
            size_t n;

            ck_assert_ptr_nonnull(end);
            if (*name == '?' || *name == '!') {
                s = end + 1;
                continue;
            }
            if (*name == '/') {
                name++;
                n = strcspn(name, " >");
                ck_assert_msg(depth > 0 && strncmp(stack[depth - 1], name, n) == 0,
                              "unbalanced </%.*s>", (int)n, name);
                depth--;
            } else if (end[-1] != '/') {
                ck_assert(depth < 64);
                stack[depth++] = name;
            }
            for (const char *q = name; q < end; q++)
                ck_assert_msg(*q != '<', "'<' inside a tag");
            s = end + 1;
            continue;
        }
        if (*s == '&')
            ck_assert_msg(strncmp(s, "&amp;", 5) == 0 || strncmp(s, "&lt;", 4) == 0 ||
                              strncmp(s, "&gt;", 4) == 0 || strncmp(s, "&quot;", 6) == 0 ||
                              strncmp(s, "&#", 2) == 0,
                          "raw & near '%.20s'", s);
        s++;
    }
    ck_assert_uint_eq(depth, 0);
}

START_TEST(svg_output)
{
    struct aud_graph g = chain();
    struct cm_buf out;

    cm_buf_init(&out);
    aud_graph_svg(&g, &out);
    ck_assert(strncmp(out.p, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    check_xml(out.p);
    ck_assert(strstr(out.p, "<script>") == NULL);
    ck_assert(strstr(out.p, "&lt;script&gt;") != NULL);
    ck_assert(strstr(out.p, R2) != NULL);
    ck_assert(strstr(out.p, "marker-end") != NULL);
    cm_buf_fini(&out);
}
END_TEST

START_TEST(svg_charts)
{
    static const char *const cats[] = {"11-27", "11-28", "<11-29>"};
    static const double allow[] = {10, 0, 1234567}, deny[] = {1, 0, 3};
    const struct aud_svg_series s[] = {{"allow", NULL, allow}, {"deny & co", "#D55E00", deny}};
    static const char *const labels[] = {"EMAIL", "PHONE"};
    static const double v[] = {5, 0}, over[] = {2, 0};
    struct cm_buf out;

    cm_buf_init(&out);
    aud_svg_stacked_bars(&out, "Exchanges per day", cats, 3, s, 2, 600, 240);
    check_xml(out.p);
    ck_assert(strstr(out.p, "1,234,570") != NULL); /* the column total */
    ck_assert(strstr(out.p, "&lt;11-29&gt;") != NULL);
    ck_assert(strstr(out.p, "deny &amp; co") != NULL);
    ck_assert(strstr(out.p, "nan") == NULL && strstr(out.p, "inf") == NULL);
    cm_buf_reset(&out);
    aud_svg_stacked_bars(&out, "empty", NULL, 0, NULL, 0, 600, 240);
    check_xml(out.p);
    ck_assert(strstr(out.p, "no data in the period") != NULL);
    cm_buf_reset(&out);
    aud_svg_hbars(&out, "Findings by type", labels, v, over, 2, "#0072B2", "#D55E00", "in clear",
                  600);
    check_xml(out.p);
    ck_assert(strstr(out.p, ">EMAIL</text>") != NULL);
    ck_assert(strstr(out.p, "in clear") != NULL);
    cm_buf_fini(&out);
}
END_TEST

START_TEST(counts)
{
    char buf[32];

    aud_fmt_count(0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "0");
    aud_fmt_count(999, buf, sizeof(buf));
    ck_assert_str_eq(buf, "999");
    aud_fmt_count(1000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1,000");
    aud_fmt_count(1234567.4, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1,234,567");
    aud_fmt_count(-12345, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-12,345");
    /* Past long long (a fuzzed report): no undefined negation, a short form. */
    aud_fmt_count(-9.3e18, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-9.3e+18");
    aud_fmt_count(1e30, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1e+30");
    aud_fmt_count(-INFINITY, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-inf");
    aud_fmt_count(NAN, buf, sizeof(buf));
    ck_assert_str_eq(buf, "nan");
    aud_fmt_count(-999999999999999999.0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-1e+18");
    aud_fmt_count(-99999999999999.0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-99,999,999,999,999");
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("aud_graph");
    TCase *tc = tcase_create("graph");

    tcase_add_test(tc, text_tree);
    tcase_add_test(tc, text_cycle);
    tcase_add_test(tc, missing_parent);
    tcase_add_test(tc, dot_output);
    tcase_add_test(tc, svg_output);
    tcase_add_test(tc, svg_charts);
    tcase_add_test(tc, counts);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(suite());
}
