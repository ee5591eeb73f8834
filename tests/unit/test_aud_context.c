/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_context: the lineage-context header parsers (audit/aud_context.c):
 * W3C traceparent (table of valid and invalid values from the
 * specification's rules), the exchange's own trace and span ids,
 * X-Steward-Parent and X-Steward-Inputs (trimming, repeats, control
 * characters, bounds).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_context.h"
#include "common/cm_arena.h"
#include "tests/unit/unit_main.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

static const struct {
    const char *v;
    int ok;
} tps[] = {
    {"00-" TID "-" PID "-01", 1},
    {"00-" TID "-" PID "-00", 1},
    {"  00-" TID "-" PID "-01\t", 1},
    {"01-" TID "-" PID "-01-what-the-future-brings", 1}, /* later version: extra fields */
    {"cc-" TID "-" PID "-09", 1},
    {"00-" TID "-" PID "-01-extra", 0}, /* version 00 is exactly 55 */
    {"ff-" TID "-" PID "-01", 0},
    {"00-" TID "-" PID "-0", 0},
    {"00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", 0}, /* upper case */
    {"00-00000000000000000000000000000000-" PID "-01", 0},
    {"00-" TID "-0000000000000000-01", 0},
    {"00_" TID "-" PID "-01", 0},
    {"00-" TID "-" PID "-0g", 0},
    {"01-" TID "-" PID "-01x", 0},
    {"", 0},
    {"00", 0},
};

START_TEST(traceparent_table)
{
    char t[AUD_TRACE_ID_LEN], p[AUD_SPAN_ID_LEN];
    int rc = aud_traceparent_parse(tps[_i].v, strlen(tps[_i].v), t, p);

    ck_assert_msg((rc == CM_OK) == tps[_i].ok, "'%s': rc %d", tps[_i].v, rc);
    if (rc == CM_OK) {
        ck_assert_str_eq(t, TID);
        ck_assert_str_eq(p, PID);
    }
}
END_TEST

START_TEST(trace_of_an_exchange)
{
    static const uint8_t id[16] = {0x01, 0x93, 0x2a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f,
                                   0x90, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07};
    struct aud_trace t;

    ck_assert_int_eq(aud_trace_init(&t, id, "00-" TID "-" PID "-01"), CM_OK);
    ck_assert(t.from_header);
    ck_assert_str_eq(t.trace_id, TID);
    ck_assert_str_eq(t.parent_span_id, PID);
    ck_assert_str_eq(t.span_id, "90a1b2c3d4e5f607");

    ck_assert_int_eq(aud_trace_init(&t, id, NULL), CM_OK);
    ck_assert(!t.from_header);
    ck_assert_str_eq(t.trace_id, "01932a4b5c6d7e8f90a1b2c3d4e5f607");
    ck_assert_str_eq(t.parent_span_id, "");

    ck_assert_int_eq(aud_trace_init(&t, id, "garbage"), CM_EINPUT);
    ck_assert_str_eq(t.trace_id, "01932a4b5c6d7e8f90a1b2c3d4e5f607");
    ck_assert_str_eq(t.parent_span_id, "");
}
END_TEST

START_TEST(parent_header)
{
    char out[37];

    ck_assert_int_eq(aud_parent_parse(" 01932A4B-5C6D-7E8F-90A1-B2C3D4E5F607 ", out), CM_OK);
    ck_assert_str_eq(out, "01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607");
    ck_assert_int_eq(aud_parent_parse("01932a4b5c6d7e8f90a1b2c3d4e5f607", out), CM_EINPUT);
    ck_assert_int_eq(aud_parent_parse("01932a4b-5c6d-7e8f-90a1-b2c3d4e5f60", out), CM_EINPUT);
    ck_assert_int_eq(aud_parent_parse("01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607x", out), CM_EINPUT);
    ck_assert_int_eq(aud_parent_parse("", out), CM_EINPUT);
}
END_TEST

START_TEST(inputs_header)
{
    struct cm_arena *arena = cm_arena_new(1024);
    const char *out[AUD_MAX_INPUTS];
    size_t n = 0, bad = 0;
    const char *v = " doc://kb/7 ,s3://bucket/key.pdf,, doc://kb/7,bad\x01value, ";
    char *big = malloc(AUD_MAX_INPUT_LEN + 2);

    aud_inputs_split(v, strlen(v), arena, out, &n, AUD_MAX_INPUTS, &bad);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(out[0], "doc://kb/7");
    ck_assert_str_eq(out[1], "s3://bucket/key.pdf");
    ck_assert_uint_eq(bad, 1);
    /* A second header line adds to the list. */
    aud_inputs_split("doc://kb/8", 10, arena, out, &n, AUD_MAX_INPUTS, &bad);
    ck_assert_uint_eq(n, 3);
    /* Too long, and past the bound. */
    memset(big, 'x', AUD_MAX_INPUT_LEN + 1);
    big[AUD_MAX_INPUT_LEN + 1] = '\0';
    aud_inputs_split(big, strlen(big), arena, out, &n, AUD_MAX_INPUTS, &bad);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(bad, 2);
    aud_inputs_split("a,b,c", 5, arena, out, &n, 4, &bad);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(bad, 4);
    free(big);
    cm_arena_free(arena);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("aud_context");
    TCase *tc = tcase_create("headers");

    tcase_add_loop_test(tc, traceparent_table, 0, (int)CM_ARRAY_LEN(tps));
    tcase_add_test(tc, trace_of_an_exchange);
    tcase_add_test(tc, parent_header);
    tcase_add_test(tc, inputs_header);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(suite());
}
