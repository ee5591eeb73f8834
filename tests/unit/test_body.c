/* SPDX-License-Identifier: Apache-2.0
 *
 * test_body: JSON body inspection and splice-rewriting.  Bytes outside the
 * changed string values stay identical (numbers, white space, key order);
 * multi-part content, escapes (\u00e9, \n, \", surrogate pairs, an escaped
 * '@'), JSON pointers, response shapes, embedding inputs, and the error
 * codes for invalid JSON, invalid UTF-8, non-objects, wrong field types and
 * too deep nesting.  Error texts must never carry body content.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_arena.h"
#include "common/cm_buf.h"
#include "policy/pol_body.h"
#include "tests/unit/unit_main.h"

static struct cm_arena *arena;

static void
setup(void)
{
    arena = cm_arena_new(4096);
}

static void
teardown(void)
{
    cm_arena_free(arena);
}

static const struct pol_body_limits lim64 = {.max_depth = 64};

static struct pol_body *
parse_ok(enum pol_route route, enum pol_dir dir, const char *json)
{
    struct pol_body *b = NULL;
    struct cm_err err = {{0}};
    int rc = pol_body_parse(arena, route, dir, json, strlen(json), &lim64, NULL, &b, &err);

    ck_assert_msg(rc == CM_OK, "parse failed: %s", err.msg);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* Rewrites with every detected label redacted (EMAIL) or masked (others
 * as given) and returns a NUL-terminated copy. */
static char *
rewrite(const struct pol_body *b, const enum pol_pii_op ops[POL_LABEL_MAX], size_t *nrep)
{
    struct pol_pii_redact_opts o = {.mask_keep = 4};
    struct cm_buf out;

    cm_buf_init(&out);
    ck_assert_int_eq(pol_body_rewrite(b, ops, &o, &out, nrep), CM_OK);
    cm_buf_putc(&out, '\0');
    return cm_buf_steal(&out, NULL);
}

static void
all_redact(enum pol_pii_op ops[POL_LABEL_MAX])
{
    for (int l = 0; l < POL_LABEL_MAX; l++)
        ops[l] = POL_PII_OP_REDACT;
}

START_TEST(test_untouched_bytes)
{
    const char *in = "{ \"temperature\": 0.7,\n  \"messages\" : [ {\"role\":\"user\",   "
                     "\"content\":\"mail jane@example.com please\"} ],\"model\":\"gpt-4o\" ,"
                     "\t\"stream\":true, \"max_tokens\": 1e3, \"seed\": 18446744073709551616 }";
    const char *want = "{ \"temperature\": 0.7,\n  \"messages\" : [ {\"role\":\"user\",   "
                       "\"content\":\"mail <EMAIL> please\"} ],\"model\":\"gpt-4o\" ,"
                       "\t\"stream\":true, \"max_tokens\": 1e3, \"seed\": 18446744073709551616 }";
    struct pol_body *b = parse_ok(POL_ROUTE_CHAT, POL_DIR_REQUEST, in);
    const struct pol_body_finding *f;
    unsigned counts[POL_LABEL_MAX] = {0};
    enum pol_pii_op ops[POL_LABEL_MAX];
    size_t nrep;
    char *out;

    ck_assert_str_eq(pol_body_model(b), "gpt-4o");
    ck_assert(pol_body_stream(b));
    ck_assert_uint_eq(pol_body_findings(b, &f), 1);
    ck_assert_int_eq(f[0].label, POL_PII_EMAIL);
    ck_assert_str_eq(f[0].pointer, "/messages/0/content");
    ck_assert_uint_eq(f[0].count, 1);
    counts[POL_PII_EMAIL] = 5;
    pol_body_counts(b, counts);
    ck_assert_uint_eq(counts[POL_PII_EMAIL], 6);

    all_redact(ops);
    out = rewrite(b, ops, &nrep);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(nrep, 1);
    free(out);

    /* all KEEP: the original bytes */
    memset(ops, 0, sizeof(ops));
    out = rewrite(b, ops, &nrep);
    ck_assert_str_eq(out, in);
    ck_assert_uint_eq(nrep, 0);
    free(out);
}
END_TEST

START_TEST(test_multipart)
{
    const char *in =
        "{\"model\":\"m\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"call 415-555-0132\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}},"
        "{\"type\":\"text\",\"text\":\"ssn 123-45-6789 or 123-45-6780\"}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}]}";
    const char *want =
        "{\"model\":\"m\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"call ********0132\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}},"
        "{\"type\":\"text\",\"text\":\"ssn <US_SSN> or <US_SSN>\"}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}]}";
    struct pol_body *b = parse_ok(POL_ROUTE_CHAT, POL_DIR_REQUEST, in);
    const struct pol_body_finding *f;
    enum pol_pii_op ops[POL_LABEL_MAX];
    size_t nrep;
    char *out;

    ck_assert_uint_eq(pol_body_findings(b, &f), 2);
    ck_assert_int_eq(f[0].label, POL_PII_PHONE);
    ck_assert_str_eq(f[0].pointer, "/messages/1/content/0/text");
    ck_assert_uint_eq(f[0].count, 1);
    ck_assert_int_eq(f[1].label, POL_PII_US_SSN);
    ck_assert_str_eq(f[1].pointer, "/messages/1/content/2/text");
    ck_assert_uint_eq(f[1].count, 2);
    ck_assert(!pol_body_stream(b));

    all_redact(ops);
    ops[POL_PII_PHONE] = POL_PII_OP_MASK;
    out = rewrite(b, ops, &nrep);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(nrep, 2);
    free(out);
}
END_TEST

START_TEST(test_escapes)
{
    const char *in = "{\"messages\":[{\"role\":\"user\",\"cont\\u0065nt\":"
                     "\"caf\\u00e9\\n\\\"q\\\" \\ud83d\\ude00 jane\\u0040example.com\\/x\"}]}";
    const char *want = "{\"messages\":[{\"role\":\"user\",\"cont\\u0065nt\":"
                       "\"caf\xc3\xa9\\n\\\"q\\\" \xf0\x9f\x98\x80 <EMAIL>/x\"}]}";
    struct pol_body *b = parse_ok(POL_ROUTE_CHAT, POL_DIR_REQUEST, in);
    const struct pol_body_finding *f;
    enum pol_pii_op ops[POL_LABEL_MAX];
    size_t nrep;
    char *out;

    ck_assert_uint_eq(pol_body_findings(b, &f), 1);
    ck_assert_int_eq(f[0].label, POL_PII_EMAIL);
    ck_assert_str_eq(f[0].pointer, "/messages/0/content");
    all_redact(ops);
    out = rewrite(b, ops, &nrep);
    ck_assert_str_eq(out, want);
    free(out);
}
END_TEST

struct shape_case {
    enum pol_route route;
    enum pol_dir dir;
    const char *json;
    const char *pointers; /* space-separated pointers with findings, in order */
};

static const struct shape_case shapes[] = {
    {POL_ROUTE_CHAT, POL_DIR_RESPONSE,
     "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
     "\"content\":\"write to jane@example.com\"}},{\"message\":{\"content\":null}}]}",
     "/choices/0/message/content"},
    {POL_ROUTE_CHAT, POL_DIR_RESPONSE,
     "{\"choices\":[{\"delta\":{\"content\":\" 415-555-0132\"}}]}", "/choices/0/delta/content"},
    /* the request direction does not look at choices, nor the response at messages */
    {POL_ROUTE_CHAT, POL_DIR_REQUEST,
     "{\"choices\":[{\"message\":{\"content\":\"a@example.com\"}}]}", ""},
    {POL_ROUTE_CHAT, POL_DIR_RESPONSE, "{\"messages\":[{\"content\":\"a@example.com\"}]}", ""},
    /* only content is inspected in a message */
    {POL_ROUTE_CHAT, POL_DIR_REQUEST,
     "{\"user\":\"a@example.com\",\"messages\":[{\"name\":\"b@example.com\",\"content\":\"hi\"}]}",
     ""},
    {POL_ROUTE_COMPLETION, POL_DIR_REQUEST, "{\"prompt\":\"mail a@example.com\"}", "/prompt"},
    {POL_ROUTE_COMPLETION, POL_DIR_REQUEST,
     "{\"prompt\":[\"x\",\"mail a@example.com\",\"10.1.2.3\"]}", "/prompt/1 /prompt/2"},
    {POL_ROUTE_COMPLETION, POL_DIR_RESPONSE,
     "{\"choices\":[{\"text\":\"no\"},{\"text\":\"ip 10.1.2.3\"}]}", "/choices/1/text"},
    {POL_ROUTE_EMBEDDING, POL_DIR_REQUEST, "{\"input\":\"ssn 123-45-6789\",\"model\":\"e\"}",
     "/input"},
    {POL_ROUTE_EMBEDDING, POL_DIR_REQUEST,
     "{\"input\":[\"a@example.com\",\"none\",\"b@example.com\"]}", "/input/0 /input/2"},
    {POL_ROUTE_EMBEDDING, POL_DIR_RESPONSE,
     "{\"object\":\"a@example.com\",\"data\":[{\"embedding\":[0.1,0.2]}]}", ""},
    /* generic mode: every string value at any depth, never keys */
    {POL_ROUTE_OTHER, POL_DIR_REQUEST, "{\"messages\":[{\"content\":\"a@example.com\"}]}",
     "/messages/0/content"},
    {POL_ROUTE_OTHER, POL_DIR_RESPONSE,
     "{\"b@example.com\":1,\"x\":[[\"c@example.com\",2,null],{\"y\":\"d@example.com\"}]}",
     "/x/0/0 /x/1/y"},
    /* duplicate keys are legal JSON: both copies are inspected */
    {POL_ROUTE_COMPLETION, POL_DIR_REQUEST,
     "{\"prompt\":\"a@example.com\",\"prompt\":\"b@example.com\"}", "/prompt /prompt"},
    /* nesting below an inspected field does not confuse the walk */
    {POL_ROUTE_CHAT, POL_DIR_REQUEST,
     "{\"tools\":[{\"x\":{\"content\":\"a@example.com\"}}],\"messages\":[{\"meta\":{\"a\":[1,"
     "{\"content\":\"b@example.com\"}]},\"content\":\"c@example.com\"}]}",
     "/messages/0/content"},
    /* OpenAI Responses API */
    {POL_ROUTE_RESPONSES, POL_DIR_REQUEST,
     "{\"model\":\"m\",\"instructions\":\"cc a@example.com\",\"input\":\"b@example.com\"}",
     "/instructions /input"},
    {POL_ROUTE_RESPONSES, POL_DIR_REQUEST,
     "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":"
     "\"a@example.com\"},{\"type\":\"input_image\",\"image_url\":\"https://x/a@example.com."
     "png\"}]},{\"role\":\"user\",\"content\":\"b@example.com\"}]}",
     "/input/0/content/0/text /input/1/content"},
    {POL_ROUTE_RESPONSES, POL_DIR_RESPONSE,
     "{\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
     "\"a@example.com\"}]}]}",
     "/output/0/content/0/text"},
    {POL_ROUTE_RESPONSES, POL_DIR_RESPONSE,
     "{\"type\":\"response.output_text.delta\",\"delta\":\"a@example.com\"}", "/delta"},
    /* Anthropic Messages API */
    {POL_ROUTE_MESSAGES, POL_DIR_REQUEST,
     "{\"system\":\"a@example.com\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"b@example.com\"},{\"type\":\"image\",\"source\":{\"data\":"
     "\"c@example.com\"}}]}]}",
     "/system /messages/0/content/0/text"},
    {POL_ROUTE_MESSAGES, POL_DIR_RESPONSE,
     "{\"content\":[{\"type\":\"text\",\"text\":\"a@example.com\"}]}", "/content/0/text"},
    {POL_ROUTE_MESSAGES, POL_DIR_RESPONSE,
     "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":"
     "\"a@example.com\"}}",
     "/delta/text"},
};

/* The findings' pointers, space-separated, must be c->pointers. */
static void
check_pointers(const struct pol_body *b, const struct shape_case *c, int i)
{
    const struct pol_body_finding *f;
    size_t n = pol_body_findings(b, &f);
    struct cm_buf got;

    cm_buf_init(&got);
    for (size_t k = 0; k < n; k++)
        cm_buf_printf(&got, "%s%s", k ? " " : "", f[k].pointer);
    cm_buf_putc(&got, '\0');
    ck_assert_msg(strcmp(got.p, c->pointers) == 0, "case %d: pointers \"%s\", want \"%s\"", i,
                  got.p, c->pointers);
    cm_buf_fini(&got);
}

START_TEST(test_shapes)
{
    const struct shape_case *c = &shapes[_i];

    check_pointers(parse_ok(c->route, c->dir, c->json), c, _i);
}
END_TEST

/* Generic mode with the policy's JSON pointers: only the string values at
 * or below them are inspected, in the direction that names them; "*"
 * matches one key or index; keys with "/" or "~" are escaped; other routes
 * are not affected. */
static const char generic_policy[] =
    "id: g\n"
    "generic:\n"
    "  request: [/inputs, /instances/*/text, /a~1b, /opts, /none]\n";

static const struct shape_case generic_cases[] = {
    {POL_ROUTE_OTHER, POL_DIR_REQUEST,
     "{\"inputs\":\"mail a@example.com\",\"parameters\":{\"stop\":[\"b@example.com\"]},"
     "\"instances\":[{\"text\":\"c@example.com\",\"id\":\"d@example.com\"},"
     "{\"text\":\"e@example.com\",\"more\":{\"text\":\"f@example.com\"}}],"
     "\"a/b\":\"g@example.com\",\"ab\":\"h@example.com\"}",
     "/inputs /instances/0/text /instances/1/text /a~1b"},
    /* a pointer to a container takes everything inside it */
    {POL_ROUTE_OTHER, POL_DIR_REQUEST,
     "{\"opts\":{\"x\":[\"a@example.com\",{\"y\":\"b@example.com\"}],\"n\":1},"
     "\"optsx\":\"c@example.com\"}",
     "/opts/x/0 /opts/x/1/y"},
    /* a pointer into a string or a number, or to nothing: nothing */
    {POL_ROUTE_OTHER, POL_DIR_REQUEST,
     "{\"inputs\":{\"deep\":1},\"instances\":\"a@example.com\",\"none\":2}", ""},
    /* the response names none: every string */
    {POL_ROUTE_OTHER, POL_DIR_RESPONSE,
     "{\"generated_text\":\"a@example.com\",\"details\":{\"x\":\"b@example.com\"}}",
     "/generated_text /details/x"},
    /* another route: its own fields */
    {POL_ROUTE_COMPLETION, POL_DIR_REQUEST, "{\"prompt\":\"a@example.com\"}", "/prompt"},
};

START_TEST(test_generic_pointers)
{
    const struct shape_case *c = &generic_cases[_i];
    struct pol_set *ps = NULL;
    struct pol_body *b = NULL;
    struct cm_err err = {{0}};

    ck_assert_msg(pol_set_parse("g.yaml", generic_policy, strlen(generic_policy), &ps, &err) ==
                      CM_OK,
                  "%s", err.msg);
    ck_assert_int_eq(
        pol_body_parse(arena, c->route, c->dir, c->json, strlen(c->json), &lim64, ps, &b, &err),
        CM_OK);
    check_pointers(b, c, _i);
    pol_set_unref(ps);
}
END_TEST

/* "whole" pointers are response pointers too, and pol_body_pointer_whole
 * tells a text at or below one from the others. */
START_TEST(test_generic_whole_pointers)
{
    static const char pol[] =
        "id: w\n"
        "generic:\n"
        "  response: [/token/text]\n"
        "  whole: [/generated_text, /details/best_of_sequences/*/generated_text]\n";
    static const struct shape_case c = {
        POL_ROUTE_OTHER, POL_DIR_RESPONSE,
        "{\"token\":{\"text\":\"a@example.com\",\"id\":\"x\"},\"generated_text\":\"b@example.com\","
        "\"details\":{\"best_of_sequences\":[{\"generated_text\":\"c@example.com\","
        "\"finish_reason\":\"length\"}]}}",
        "/token/text /generated_text /details/best_of_sequences/0/generated_text"};
    struct pol_set *ps = NULL;
    struct pol_body *b = NULL;
    struct cm_err err = {{0}};

    ck_assert_msg(pol_set_parse("w.yaml", pol, strlen(pol), &ps, &err) == CM_OK, "%s", err.msg);
    ck_assert_int_eq(
        pol_body_parse(arena, c.route, c.dir, c.json, strlen(c.json), &lim64, ps, &b, &err), CM_OK);
    check_pointers(b, &c, 0);
    ck_assert(pol_body_pointer_whole(ps, "/generated_text"));
    ck_assert(pol_body_pointer_whole(ps, "/details/best_of_sequences/7/generated_text"));
    ck_assert(!pol_body_pointer_whole(ps, "/token/text"));
    ck_assert(!pol_body_pointer_whole(ps, "/generated_textx"));
    ck_assert(!pol_body_pointer_whole(ps, "/details/best_of_sequences/0/finish_reason"));
    pol_set_unref(ps);
    /* without "whole", nothing is */
    ck_assert_int_eq(pol_set_parse("g.yaml", generic_policy, strlen(generic_policy), &ps, &err),
                     CM_OK);
    ck_assert(!pol_body_pointer_whole(ps, "/generated_text"));
    pol_set_unref(ps);
}
END_TEST

struct err_case {
    enum pol_route route;
    const char *json;
    int rc;
    const char *what; /* substring of the message */
};

static const struct err_case errs[] = {
    {POL_ROUTE_CHAT, "{\"messages\": [{\"content\": \"jane@example.com\"}", CM_EINPUT,
     "request body:1:"},
    {POL_ROUTE_CHAT, "{\"a\": jane@example.com}", CM_EINPUT, "invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"a\": \"jane@example.com\xff\"}", CM_EINPUT, "invalid UTF-8"},
    {POL_ROUTE_CHAT, "{\"a\": \"\xc3\"}", CM_EINPUT, "invalid UTF-8"},
    {POL_ROUTE_CHAT, "[{\"content\": \"jane@example.com\"}]", CM_EINPUT, "not an object"},
    {POL_ROUTE_CHAT, "\"jane@example.com\"", CM_EINPUT, "request body:"},
    {POL_ROUTE_CHAT, "", CM_EINPUT, "request body:"},
    {POL_ROUTE_CHAT, "{} {}", CM_EINPUT, "data after the JSON value"},
    {POL_ROUTE_CHAT, "{\"n\": 01}", CM_EINPUT, "request body:1:8: invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"n\": 1.}", CM_EINPUT, "invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"n\": 1e999}", CM_EINPUT, "request body:1:7: number out of range"},
    {POL_ROUTE_CHAT, "{\"a\": \"\\udc00\"}", CM_EINPUT, "invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"a\": \"\\ud800x\"}", CM_EINPUT, "invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"a\": \"\xc0\xaf\"}", CM_EINPUT, "invalid UTF-8"},
    {POL_ROUTE_CHAT, "{\"a\": \"\xed\xa0\x80\"}", CM_EINPUT, "invalid UTF-8"},
    {POL_ROUTE_CHAT, "{\"a\": \"tab\there\"}", CM_EINPUT, "invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"a\": tru}", CM_EINPUT, "invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"a\": [1, 2,]}", CM_EINPUT, "invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"a\\u0000b\": 1}", CM_EINPUT, "invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"a\": [1, 2", CM_EINPUT, "unexpected end of input"},
    {POL_ROUTE_CHAT, "\n\n  {\"a\": x}", CM_EINPUT, "request body:3:9: invalid JSON syntax"},
    {POL_ROUTE_CHAT, "{\"messages\": \"jane@example.com\"}", CM_EINPUT,
     "/messages: expected an array"},
    {POL_ROUTE_CHAT, "{\"messages\": [\"jane@example.com\"]}", CM_EINPUT,
     "/messages/0: expected an object"},
    {POL_ROUTE_CHAT, "{\"messages\": [{\"content\": 5}]}", CM_EINPUT,
     "request body:1:27: /messages/0/content: expected a string"},
    {POL_ROUTE_CHAT, "{\"messages\": [{\"content\": [{\"text\": [1]}]}]}", CM_EINPUT,
     "/messages/0/content/0/text: expected a string"},
    {POL_ROUTE_EMBEDDING, "{\"input\": [101, 202]}", CM_EINPUT,
     "/input/0: expected a string (token arrays cannot be inspected)"},
    {POL_ROUTE_COMPLETION, "{\"prompt\": {\"a\": 1}}", CM_EINPUT, "/prompt: expected a string"},
};

START_TEST(test_errors)
{
    const struct err_case *c = &errs[_i];
    struct pol_body *b = NULL;
    struct cm_err err = {{0}};
    int rc = pol_body_parse(arena, c->route, POL_DIR_REQUEST, c->json, strlen(c->json), &lim64,
                            NULL, &b, &err);

    ck_assert_msg(rc == c->rc, "case %d: rc %d, want %d (%s)", _i, rc, c->rc, err.msg);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err.msg, c->what) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err.msg,
                  c->what);
    ck_assert_msg(strstr(err.msg, "jane") == NULL && strstr(err.msg, "101") == NULL,
                  "case %d: content in error \"%s\"", _i, err.msg);
}
END_TEST

static char *
nested(size_t depth)
{
    struct cm_buf b;

    cm_buf_init(&b);
    cm_buf_puts(&b, "{\"a\":");
    for (size_t k = 1; k < depth; k++)
        cm_buf_putc(&b, '[');
    cm_buf_puts(&b, "\"[[[{{{\"");
    for (size_t k = 1; k < depth; k++)
        cm_buf_putc(&b, ']');
    cm_buf_puts(&b, "}");
    cm_buf_putc(&b, '\0');
    return cm_buf_steal(&b, NULL);
}

START_TEST(test_depth)
{
    struct pol_body *b = NULL;
    struct cm_err err = {{0}};
    struct pol_body_limits lim = {.max_depth = 64};
    char *ok = nested(64), *deep = nested(65), *huge = nested(5000);

    ck_assert_int_eq(pol_body_parse(arena, POL_ROUTE_CHAT, POL_DIR_REQUEST, ok, strlen(ok), &lim,
                                    NULL, &b, &err),
                     CM_OK);
    ck_assert_int_eq(pol_body_parse(arena, POL_ROUTE_CHAT, POL_DIR_REQUEST, deep, strlen(deep),
                                    &lim, NULL, &b, &err),
                     CM_ELIMIT);
    ck_assert(strstr(err.msg, "request body:1:69: nested deeper than 64") != NULL);
    ck_assert_int_eq(pol_body_parse(arena, POL_ROUTE_CHAT, POL_DIR_RESPONSE, huge, strlen(huge),
                                    &lim, NULL, &b, &err),
                     CM_ELIMIT);
    ck_assert(strncmp(err.msg, "response body:", 14) == 0);
    lim.max_depth = 2;
    ck_assert_int_eq(pol_body_parse(arena, POL_ROUTE_CHAT, POL_DIR_REQUEST, "{\"a\":[[1]]}", 11,
                                    &lim, NULL, &b, &err),
                     CM_ELIMIT);
    free(ok);
    free(deep);
    free(huge);
}
END_TEST

/* Every prefix of a body is either an error or a clean parse, never a
 * crash (the copies are exactly sized so ASan sees overreads). */
START_TEST(test_prefixes)
{
    const char *in =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"a\\u00e9 jane@example.com \\ud83d\\ude00 415-555-0132\"}]}]}";
    size_t n = strlen(in);

    for (size_t len = 0; len <= n; len++) {
        char *p = malloc(len ? len : 1);
        struct pol_body *b = NULL;
        struct cm_err err = {{0}};
        int rc;

        memcpy(p, in, len);
        rc = pol_body_parse(arena, POL_ROUTE_CHAT, POL_DIR_REQUEST, p, len, &lim64, NULL, &b, &err);
        ck_assert_int_eq(rc, len == n ? CM_OK : CM_EINPUT);
        if (rc == CM_OK) {
            enum pol_pii_op ops[POL_LABEL_MAX];
            size_t nrep;
            char *out;

            all_redact(ops);
            out = rewrite(b, ops, &nrep);
            ck_assert_uint_eq(nrep, 1);
            ck_assert(strstr(out, "<EMAIL>") != NULL && strstr(out, "<PHONE>") != NULL);
            free(out);
        }
        free(p);
    }
}
END_TEST

START_TEST(test_texts_and_splice)
{
    static const struct pol_body_limits texts = {.max_depth = 64, .texts_only = true};
    static const char ev[] = "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                             "\"Hi \\u00e9 jane@example.com\"},\"finish_reason\":null},"
                             "{\"index\":1,\"delta\":{\"content\":\"\"}}]}";
    struct pol_body *b = NULL;
    struct cm_err err;
    struct cm_str repl[2];
    struct cm_buf out;
    const char *t, *ptr;
    size_t n;

    ck_assert_int_eq(pol_body_parse(arena, POL_ROUTE_CHAT, POL_DIR_RESPONSE, ev, sizeof(ev) - 1,
                                    &texts, NULL, &b, &err),
                     CM_OK);
    ck_assert_uint_eq(pol_body_ntexts(b), 2);
    t = pol_body_text(b, 0, &n, &ptr);
    ck_assert_str_eq(ptr, "/choices/0/delta/content");
    ck_assert_uint_eq(n, strlen("Hi \xc3\xa9 jane@example.com"));
    ck_assert_mem_eq(t, "Hi \xc3\xa9 jane@example.com", n);
    /* texts_only detects nothing */
    ck_assert_uint_eq(pol_body_findings(b, &(const struct pol_body_finding *){NULL}), 0);
    (void)pol_body_text(b, 1, &n, &ptr);
    ck_assert_str_eq(ptr, "/choices/1/delta/content");
    ck_assert_uint_eq(n, 0);
    repl[0] = CM_STR("held \"back\"");
    repl[1] = (struct cm_str){NULL, 0};
    cm_buf_init(&out);
    ck_assert_int_eq(pol_body_splice(b, repl, &out), CM_OK);
    ck_assert_str_eq(out.p, "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                            "\"held \\\"back\\\"\"},\"finish_reason\":null},"
                            "{\"index\":1,\"delta\":{\"content\":\"\"}}]}");
    cm_buf_fini(&out);
}
END_TEST

START_TEST(test_tool_calls)
{
    static const char req[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"send_mail\",\"arguments\":\"{\\\"to\\\":\\\"jane.doe@example.com\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sent to bob@example.org\"}]}";
    static const char resp[] =
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"tool_calls\":"
        "[{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"lookup\","
        "\"arguments\":\"{\\\"ssn\\\":\\\"123-45-6789\\\"}\"}}]}}]}";
    enum pol_pii_op ops[POL_LABEL_MAX];
    const struct pol_body_finding *f;
    struct pol_body *b;
    size_t n, nrep;
    char *out;

    for (int l = 0; l < POL_LABEL_MAX; l++)
        ops[l] = POL_PII_OP_REDACT;
    b = parse_ok(POL_ROUTE_CHAT, POL_DIR_REQUEST, req);
    n = pol_body_findings(b, &f);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(f[0].pointer, "/messages/0/tool_calls/0/function/arguments");
    ck_assert_str_eq(f[1].pointer, "/messages/1/content");
    out = rewrite(b, ops, &nrep);
    ck_assert_uint_eq(nrep, 2);
    ck_assert_ptr_null(strstr(out, "jane.doe@example.com"));
    ck_assert_ptr_nonnull(strstr(out, "\"arguments\":\"{\\\"to\\\":\\\"<EMAIL>\\\"}\""));
    free(out);
    b = parse_ok(POL_ROUTE_CHAT, POL_DIR_RESPONSE, resp);
    n = pol_body_findings(b, &f);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(f[0].pointer, "/choices/0/message/tool_calls/0/function/arguments");
    ck_assert_str_eq(pol_pii_label_name(f[0].label), "US_SSN");
}
END_TEST

START_TEST(test_usage)
{
    long long pt, ct;
    struct pol_body *b = parse_ok(POL_ROUTE_CHAT, POL_DIR_RESPONSE,
                                  "{\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
                                  "\"completion_tokens\":30,\"total_tokens\":42}}");

    pol_body_usage(b, &pt, &ct);
    ck_assert_int_eq(pt, 12);
    ck_assert_int_eq(ct, 30);
    b = parse_ok(POL_ROUTE_CHAT, POL_DIR_RESPONSE, "{\"choices\":[],\"usage\":null}");
    pol_body_usage(b, &pt, &ct);
    ck_assert_int_eq(pt, -1);
    ck_assert_int_eq(ct, -1);
    b = parse_ok(POL_ROUTE_CHAT, POL_DIR_RESPONSE,
                 "{\"usage\":{\"prompt_tokens\":\"7\",\"completion_tokens\":-3}}");
    pol_body_usage(b, &pt, &ct);
    ck_assert_int_eq(pt, -1);
    ck_assert_int_eq(ct, -1);
    /* Read from the tokens: escaped keys, reals, nested noise; the last of
     * duplicate keys wins, as in a parser's tree. */
    b = parse_ok(POL_ROUTE_CHAT, POL_DIR_RESPONSE,
                 "{\"usage\":{\"prompt_tokens\":1},\"u\":{\"usage\":{\"prompt_tokens\":99}},"
                 "\"us\\u0061ge\":{\"x\":[{\"prompt_tokens\":5}],\"prompt_tokens\":2.0e1,"
                 "\"completion_tokens\":7,\"completion_tokens\":8}}");
    pol_body_usage(b, &pt, &ct);
    ck_assert_int_eq(pt, 20);
    ck_assert_int_eq(ct, 8);
}
END_TEST

START_TEST(test_top_fields_last_wins)
{
    struct pol_body *b =
        parse_ok(POL_ROUTE_CHAT, POL_DIR_REQUEST,
                 "{\"model\":\"a\",\"stream\":true,\"messages\":[{\"model\":\"x\"}],"
                 "\"m\\u006fdel\":\"gpt-\\u00e9\",\"stream\":false}");

    ck_assert_str_eq(pol_body_model(b), "gpt-\xc3\xa9");
    ck_assert(!pol_body_stream(b));
    b = parse_ok(POL_ROUTE_CHAT, POL_DIR_REQUEST, "{\"model\":\"a\",\"model\":5,\"stream\":true}");
    ck_assert_ptr_null(pol_body_model(b));
    ck_assert(pol_body_stream(b));
}
END_TEST

struct mod_case {
    enum pol_route route;
    const char *json;
    unsigned want;
};

static const struct mod_case mods[] = {
    {POL_ROUTE_CHAT, "{\"messages\":[{\"content\":\"hi\"}]}", POL_MOD_TEXT},
    {POL_ROUTE_CHAT, "{\"messages\":[{\"content\":\"\"}]}", 0},
    {POL_ROUTE_CHAT,
     "{\"messages\":[{\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]}]}",
     POL_MOD_IMAGE},
    {POL_ROUTE_CHAT,
     "{\"messages\":[{\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"type\":"
     "\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}}]}]}",
     POL_MOD_TEXT | POL_MOD_AUDIO},
    {POL_ROUTE_CHAT,
     "{\"messages\":[{\"content\":[{\"type\":\"file\",\"file\":{\"file_id\":\"f\"}}]}]}",
     POL_MOD_FILE},
    /* the member alone says it, whatever "type" claims */
    {POL_ROUTE_CHAT, "{\"messages\":[{\"content\":[{\"image_url\":{\"url\":\"u\"}}]}]}",
     POL_MOD_IMAGE},
    {POL_ROUTE_RESPONSES,
     "{\"input\":[{\"content\":[{\"type\":\"input_image\",\"image_url\":\"u\"},{\"type\":"
     "\"input_file\",\"file_id\":\"f\"}]}]}",
     POL_MOD_IMAGE | POL_MOD_FILE},
    {POL_ROUTE_MESSAGES,
     "{\"messages\":[{\"content\":[{\"type\":\"image\",\"source\":{}},{\"type\":\"document\","
     "\"source\":{}}]}]}",
     POL_MOD_IMAGE | POL_MOD_FILE},
    /* routes without parts see none */
    {POL_ROUTE_EMBEDDING, "{\"input\":\"x\",\"type\":\"image\"}", POL_MOD_TEXT},
};

START_TEST(test_modalities)
{
    const struct mod_case *c = &mods[_i];
    struct pol_body *b = parse_ok(c->route, POL_DIR_REQUEST, c->json);

    ck_assert_msg(pol_body_modalities(b) == c->want, "case %d: modalities %#x, want %#x", _i,
                  pol_body_modalities(b), c->want);
}
END_TEST

START_TEST(test_route_names)
{
    ck_assert_str_eq(pol_route_name(POL_ROUTE_CHAT), "chat");
    ck_assert_str_eq(pol_route_name(POL_ROUTE_COMPLETION), "completion");
    ck_assert_str_eq(pol_route_name(POL_ROUTE_EMBEDDING), "embedding");
    ck_assert_str_eq(pol_route_name(POL_ROUTE_RESPONSES), "responses");
    ck_assert_str_eq(pol_route_name(POL_ROUTE_MESSAGES), "messages");
    ck_assert_str_eq(pol_route_name(POL_ROUTE_OTHER), "other");
}
END_TEST

static Suite *
body_suite(void)
{
    Suite *s = suite_create("body");
    TCase *tc = tcase_create("body");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_untouched_bytes);
    tcase_add_test(tc, test_multipart);
    tcase_add_test(tc, test_escapes);
    tcase_add_loop_test(tc, test_shapes, 0, (int)CM_ARRAY_LEN(shapes));
    tcase_add_loop_test(tc, test_generic_pointers, 0, (int)CM_ARRAY_LEN(generic_cases));
    tcase_add_test(tc, test_generic_whole_pointers);
    tcase_add_loop_test(tc, test_modalities, 0, (int)CM_ARRAY_LEN(mods));
    tcase_add_loop_test(tc, test_errors, 0, (int)CM_ARRAY_LEN(errs));
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_prefixes);
    tcase_add_test(tc, test_route_names);
    tcase_add_test(tc, test_usage);
    tcase_add_test(tc, test_top_fields_last_wins);
    tcase_add_test(tc, test_texts_and_splice);
    tcase_add_test(tc, test_tool_calls);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(body_suite());
}
