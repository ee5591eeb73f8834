/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cm_fingerprint: the keyed fingerprints of common/cm_fingerprint.c:
 * normalisation per entity type (table-driven), known HMAC-SHA256 answers
 * (computed independently with Python's hmac module), the key id, and the
 * key file's checks (mode, owner, size, trailing newline).  All values are
 * synthetic.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cm_fingerprint.h"
#include "tests/unit/unit_main.h"

#define KEY "0123456789abcdef0123456789abcdef"

static const struct {
    const char *type;
    const char *in;
    const char *out;
} norms[] = {
    {"EMAIL", "  Jane.Doe@Example.COM \t", "jane.doe@example.com"},
    {"EMAIL", "jane.doe@example.com", "jane.doe@example.com"},
    {"EMAIL", "\xc3\x89MILE@EXAMPLE.COM", "\xc3\x89mile@example.com"}, /* ASCII folding only */
    {"PHONE", "+1 (415) 555-0132", "14155550132"},
    {"PHONE", "415.555.0132", "4155550132"},
    {"CREDIT_CARD", "4111-1111 1111 1111", "4111111111111111"},
    {"US_SSN", "123-45-6789", "123456789"},
    {"IBAN", "gb82 west 1234 5698 7654 32", "GB82WEST12345698765432"},
    {"PERSON", " Jane \t DOE ", "jane doe"},
    {"ORGANIZATION", "Acme\n Corp", "acme corp"},
    {"IP_ADDRESS", "2001:DB8::7", "2001:db8::7"},
    {"DATE", "15 March 1985", "15 March 1985"},
    {"SECRET", "AbC d", "AbC d"},
    {NULL, "As  Text", "as text"},
    {"SOMETHING_NEW", "Custom ID-7", "custom id-7"},
    {"PHONE", "no digits", ""},
};

START_TEST(normalise_per_type)
{
    char out[128];
    size_t n =
        cm_fp_normalise(cm_fp_norm_of(norms[_i].type), norms[_i].in, strlen(norms[_i].in), out);

    ck_assert_uint_le(n, strlen(norms[_i].in));
    out[n] = '\0';
    ck_assert_str_eq(out, norms[_i].out);
}
END_TEST

static const struct {
    const char *type;
    const char *value;
    const char *hex;
} known[] = {
    {"EMAIL", " JANE.doe@example.com",
     "3df35d89db698ff001ad76feea7c7835e8e88189dfaaf76cd9005ce0500105cf"},
    {"PHONE", "(415) 555-0132", "b2bae0e28caf9dec781aff852a4c32208fa5364370e7b33ebc7ae2a5e997aaaa"},
    {"IBAN", "GB82 WEST 1234 5698 7654 32",
     "5a1f35756bc74b9ecd6842da07acf5c7cd64110b20d7bd9b0a0e913c6bc3a8f8"},
    {"PERSON", "Jane  DOE", "a197124a482222388abe444abbb7da165a10f575baf0b3736f5039bcfef1ccc8"},
    {"SECRET", "Jane Doe", "a00314ac1910b31eb3d5851ae289474d06408491681aed7194ff9844eb07bf3c"},
    {"PHONE", "n/a", "796cd3078af14636753d26b3b5555422ff55a3e261cf847b48e95371b9bd0aa2"},
};

START_TEST(known_answers)
{
    struct cm_fp_key key;
    struct cm_err err;
    char fp[CM_FP_HEX_LEN];

    ck_assert_int_eq(cm_fp_key_set(&key, KEY, strlen(KEY), &err), CM_OK);
    ck_assert_str_eq(key.id, "17501c782d614ccb");
    cm_fp_compute(&key, known[_i].type, known[_i].value, strlen(known[_i].value), fp);
    ck_assert_str_eq(fp, known[_i].hex);
    cm_fp_key_clear(&key);
    ck_assert_uint_eq(key.len, 0);
}
END_TEST

/* A long value takes the heap path and still matches the stack path's rule. */
START_TEST(long_values)
{
    struct cm_fp_key key;
    struct cm_err err;
    char a[CM_FP_HEX_LEN], b[CM_FP_HEX_LEN];
    size_t n = 5000;
    char *v = malloc(n), *w = malloc(n);

    ck_assert_int_eq(cm_fp_key_set(&key, KEY, strlen(KEY), &err), CM_OK);
    memset(v, 'A', n);
    memset(w, 'a', n);
    cm_fp_compute(&key, "EMAIL", v, n, a);
    cm_fp_compute(&key, "EMAIL", w, n, b);
    ck_assert_str_eq(a, b);
    cm_fp_compute(&key, "SECRET", v, n, a);
    cm_fp_compute(&key, "SECRET", w, n, b);
    ck_assert_str_ne(a, b);
    free(v);
    free(w);
}
END_TEST

START_TEST(key_sizes)
{
    struct cm_fp_key key;
    struct cm_err err;
    char big[CM_FP_KEY_MAX + 1];

    memset(big, 'k', sizeof(big));
    ck_assert_int_eq(cm_fp_key_set(&key, "short", 5, &err), CM_EINPUT);
    ck_assert_int_eq(cm_fp_key_set(&key, big, sizeof(big), &err), CM_EINPUT);
    ck_assert_int_eq(cm_fp_key_set(&key, big, CM_FP_KEY_MAX, &err), CM_OK);
}
END_TEST

static char *
key_file(const char *content, size_t len, mode_t mode)
{
    char *path = strdup("/tmp/test_cm_fp_XXXXXX");
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

START_TEST(key_file_checks)
{
    struct cm_fp_key key, same;
    struct cm_err err = {{0}};
    char *path;

    ck_assert_int_eq(cm_fp_key_set(&same, KEY, strlen(KEY), &err), CM_OK);

    path = key_file(KEY "\n", strlen(KEY) + 1, 0600); /* the newline is not key */
    ck_assert_int_eq(cm_fp_key_load(path, &key, &err), CM_OK);
    ck_assert_str_eq(key.id, same.id);
    unlink(path);
    free(path);

    path = key_file(KEY "\r\n", strlen(KEY) + 2, 0400);
    ck_assert_int_eq(cm_fp_key_load(path, &key, &err), CM_OK);
    ck_assert_str_eq(key.id, same.id);
    unlink(path);
    free(path);

    path = key_file(KEY, strlen(KEY), 0640);
    ck_assert_int_eq(cm_fp_key_load(path, &key, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, "0640") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, KEY) == NULL, "the message quotes the key");
    unlink(path);
    free(path);

    path = key_file("tiny\n", 5, 0600);
    ck_assert_int_eq(cm_fp_key_load(path, &key, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, "bytes") != NULL, "%s", err.msg);
    unlink(path);
    free(path);

    ck_assert_int_eq(cm_fp_key_load("/nonexistent/steward.key", &key, &err), CM_EIO);
    ck_assert_int_eq(cm_fp_key_load("/tmp", &key, &err), CM_EINPUT);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("cm_fingerprint");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, normalise_per_type, 0, (int)CM_ARRAY_LEN(norms));
    tcase_add_loop_test(tc, known_answers, 0, (int)CM_ARRAY_LEN(known));
    tcase_add_test(tc, long_values);
    tcase_add_test(tc, key_sizes);
    tcase_add_test(tc, key_file_checks);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(suite());
}
