/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of sidecar/sc_guard.c, the strict HTTP/1.1 framing validator:
 * a table of well-formed and malformed connections (status and the index of
 * the offending request), every split point of a pipelined stream giving the
 * same verdict, and the limits.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_status.h"
#include "sidecar/sc_guard.h"
#include "tests/unit/unit_main.h"

static const struct sc_guard_limits lim = {.max_target = 64,
                                           .max_header_line = 128,
                                           .max_header_bytes = 512,
                                           .max_headers = 8,
                                           .max_body = 64};

#define H "Host: a\r\n"

static const struct {
    const char *in;
    int status;
    unsigned bad_request; /* when status != 0 */
    unsigned complete;    /* requests complete when status == 0 */
} cases[] = {
    {"GET / HTTP/1.1\r\n" H "\r\n", 0, 0, 1},
    {"GET /v1/models HTTP/1.0\r\n\r\n", 0, 0, 1},
    {"\r\nGET / HTTP/1.1\r\n" H "\r\n", 0, 0, 1},
    {"GET / HTTP/1.1\n" H "\n", 0, 0, 1},
    {"POST /x HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n" H "\r\n", 0, 0, 2},
    {"POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, 0, 1},
    {"POST /x HTTP/1.1\r\n" H "Transfer-Encoding: Chunked\r\n\r\na;ext=1\r\n0123456789\r\n"
     "0\r\nX-Trailer: y\r\n\r\n",
     0, 0, 1},
    {"OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, 0, 1},
    {"POST /x HTTP/1.1\r\n" H "Content-Length:  7 \r\n\r\n1234567", 0, 0, 1},
    /* framing attacks */
    {"POST /x HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, 0, 0},
    {"POST /x HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, 0},
    {"POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, 0,
     0},
    {"POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", 400, 0,
     0},
    {"POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400, 0, 0},
    {"POST /x HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, 0, 0},
    {"POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, 0},
    {"POST /x HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\nhello", 400, 0, 0},
    {"POST /x HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\nhello", 400, 0, 0},
    {"POST /x HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 400, 0, 0},
    {"GET / HTTP/1.1\r\n" H "X-A: b\r\n c\r\n\r\n", 400, 0, 0},
    {"GET / HTTP/1.1\r\n" H "X-A : b\r\n\r\n", 400, 0, 0},
    {"GET / HTTP/1.1\r\n" H "X-A: b\x01\r\n\r\n", 400, 0, 0},
    {"GET / HTTP/1.1\r\n" H "X-A: b\rc\r\n\r\n", 400, 0, 0},
    {"GET / HTTP/1.1\r\n\r\n", 400, 0, 0},
    {"GET / HTTP/1.1\r\n" H H "\r\n", 400, 0, 0},
    {"GET http://evil/ HTTP/1.1\r\n" H "\r\n", 400, 0, 0},
    {"GET / HTTP/2.0\r\n" H "\r\n", 505, 0, 0},
    {"GET / HTTP/1.2\r\n" H "\r\n", 505, 0, 0},
    {"GET / HTXP/1.1\r\n" H "\r\n", 400, 0, 0},
    {"G@T / HTTP/1.1\r\n" H "\r\n", 400, 0, 0},
    {"GET /a b HTTP/1.1\r\n" H "\r\n", 400, 0, 0},
    /* the second, pipelined request is the bad one */
    {"GET / HTTP/1.1\r\n" H "\r\nGET / HTTP/1.1\r\n" H "X: y\r\n z\r\n\r\n", 400, 1, 0},
    /* limits */
    {"GET /0123456789012345678901234567890123456789012345678901234567890123456789 HTTP/1.1\r\n" H
     "\r\n",
     414, 0, 0},
    {"GET / HTTP/1.1\r\n" H "A: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nI: 1\r\n\r\n",
     431, 0, 0},
    {"GET / HTTP/1.1\r\n" H "X-Long: "
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "8901234567890123456789012345678901234567890123456789\r\n\r\n",
     431, 0, 0},
    /* max_body (64): Content-Length, or the chunk sizes added up (issue 5) */
    {"POST /x HTTP/1.1\r\n" H "Content-Length: 64\r\n\r\n"
     "0123456789012345678901234567890123456789012345678901234567890123",
     0, 0, 1},
    {"POST /x HTTP/1.1\r\n" H "Content-Length: 65\r\n\r\n", 413, 0, 0},
    {"GET / HTTP/1.1\r\n" H "\r\nPOST /x HTTP/1.1\r\n" H "Content-Length: 99999\r\n\r\n", 413, 1,
     0},
    {"POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n28\r\n"
     "0123456789012345678901234567890123456789\r\n18\r\n012345678901234567890123\r\n0\r\n\r\n",
     0, 0, 1},
    {"POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n28\r\n"
     "0123456789012345678901234567890123456789\r\n19\r\n0123456789012345678901234\r\n0\r\n\r\n",
     413, 0, 0},
};

START_TEST(guard_table)
{
    struct sc_guard g;

    sc_guard_init(&g, &lim);
    ck_assert_int_eq(sc_guard_feed(&g, cases[_i].in, strlen(cases[_i].in)), cases[_i].status);
    if (cases[_i].status != 0) {
        ck_assert_uint_eq(g.bad_request, cases[_i].bad_request);
        ck_assert_ptr_nonnull(g.why);
    } else {
        ck_assert_uint_eq(g.request, cases[_i].complete);
    }
}
END_TEST

START_TEST(guard_every_split_agrees)
{
    const char *in = cases[_i].in;
    size_t n = strlen(in);

    for (size_t cut = 0; cut <= n; cut++) {
        struct sc_guard g;

        sc_guard_init(&g, &lim);
        sc_guard_feed(&g, in, cut);
        sc_guard_feed(&g, in + cut, n - cut);
        ck_assert_int_eq(g.status, cases[_i].status);
        if (cases[_i].status == 0)
            ck_assert_uint_eq(g.request, cases[_i].complete);
    }
    {
        /* one byte at a time */
        struct sc_guard g;

        sc_guard_init(&g, &lim);
        for (size_t k = 0; k < n; k++)
            sc_guard_feed(&g, in + k, 1);
        ck_assert_int_eq(g.status, cases[_i].status);
    }
}
END_TEST

START_TEST(guard_ignores_bytes_after_a_violation)
{
    struct sc_guard g;
    const char bad[] = "GET / HTTP/1.1\r\n" H "X : y\r\n\r\n";

    sc_guard_init(&g, &lim);
    ck_assert_int_eq(sc_guard_feed(&g, bad, sizeof(bad) - 1), 400);
    ck_assert_str_eq(g.why, "whitespace between a header name and the colon");
    ck_assert_int_eq(sc_guard_feed(&g, "GET / HTTP/1.1\r\n\r\n", 18), 400);
    ck_assert_uint_eq(g.bad_request, 0);
}
END_TEST

START_TEST(guard_large_body_is_skipped_not_parsed)
{
    struct sc_guard g;
    const char head[] = "POST /x HTTP/1.1\r\n" H "Content-Length: 100000\r\n\r\n";
    char *body = malloc(100000);
    struct sc_guard_limits nolimit = lim;

    nolimit.max_body = 0;
    memset(body, '\n', 100000); /* would be empty lines if parsed */
    sc_guard_init(&g, &nolimit);
    ck_assert_int_eq(sc_guard_feed(&g, head, sizeof(head) - 1), 0);
    ck_assert_int_eq(sc_guard_feed(&g, body, 100000), 0);
    ck_assert_uint_eq(g.request, 1);
    free(body);
}
END_TEST

static Suite *
guard_suite(void)
{
    Suite *s = suite_create("sc_guard");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, guard_table, 0, (int)CM_ARRAY_LEN(cases));
    tcase_add_loop_test(tc, guard_every_split_agrees, 0, (int)CM_ARRAY_LEN(cases));
    tcase_add_test(tc, guard_ignores_bytes_after_a_violation);
    tcase_add_test(tc, guard_large_body_is_skipped_not_parsed);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(guard_suite());
}
