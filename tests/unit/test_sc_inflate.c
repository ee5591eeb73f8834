/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of sidecar/sc_inflate.c: gzip, zlib and raw deflate round
 * trips, the bound on the inflated size (a bomb stops at the bound),
 * truncated streams and trailing garbage.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/cm_buf.h"
#include "sidecar/sc_inflate.h"
#include "tests/unit/unit_main.h"

/* Compresses in with the given window bits (31 gzip, 15 zlib, -15 raw). */
static size_t
deflate_with(const char *in, size_t n, int bits, unsigned char *out, size_t cap)
{
    z_stream z = {0};

    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    deflateEnd(&z);
    return cap - z.avail_out;
}

START_TEST(round_trips)
{
    static const char text[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    static const int bits[] = {31, 15, -15};
    unsigned char z[256];

    for (int i = 0; i < 3; i++) {
        struct cm_buf out;
        size_t n = deflate_with(text, sizeof(text) - 1, bits[i], z, sizeof(z));

        cm_buf_init(&out);
        ck_assert_int_eq(sc_inflate(z, n, bits[i] == 31, 1024, &out), CM_OK);
        ck_assert_uint_eq(out.len, sizeof(text) - 1);
        ck_assert_mem_eq(out.p, text, out.len);
        cm_buf_fini(&out);
    }
}
END_TEST

START_TEST(bomb_stops_at_the_bound)
{
    size_t big = 8u << 20;
    char *zeros = calloc(1, big);
    unsigned char *z = malloc(64 << 10);
    struct cm_buf out;
    size_t n = deflate_with(zeros, big, 31, z, 64 << 10);

    cm_buf_init(&out);
    ck_assert_int_eq(sc_inflate(z, n, 1, 1 << 20, &out), CM_ELIMIT);
    ck_assert_uint_le(out.len, (1u << 20) + 65536);
    cm_buf_fini(&out);
    free(zeros);
    free(z);
}
END_TEST

START_TEST(corrupt_streams)
{
    static const char text[] = "some text that compresses a little bit, some text";
    unsigned char z[256];
    struct cm_buf out;
    size_t n = deflate_with(text, sizeof(text) - 1, 31, z, sizeof(z) - 4);

    cm_buf_init(&out);
    ck_assert_int_eq(sc_inflate(z, n - 5, 1, 1024, &out), CM_EINPUT); /* truncated */
    cm_buf_reset(&out);
    memcpy(z + n, "junk", 4);
    ck_assert_int_eq(sc_inflate(z, n + 4, 1, 1024, &out), CM_EINPUT); /* trailing bytes */
    cm_buf_reset(&out);
    ck_assert_int_eq(sc_inflate("not gzip at all", 15, 1, 1024, &out), CM_EINPUT);
    cm_buf_fini(&out);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("sc_inflate");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, round_trips);
    tcase_add_test(tc, bomb_stops_at_the_bound);
    tcase_add_test(tc, corrupt_streams);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
