/* SPDX-License-Identifier: Apache-2.0
 *
 * test_pii_redact: the redaction operators of pii_redact.h beyond the
 * basic ones tested in test_pii.c: keyed hash and pseudonyms with their
 * normalisation, the per-request vault and restore, deterministic
 * encryption and decryption, fingerprints, and UTF-8 handling (mask over
 * invalid sequences, the decoder's edge cases).  Fixtures are synthetic.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_buf.h"
#include "common/cm_fingerprint.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_scan.h"
#include "tests/unit/unit_main.h"

static const uint8_t key1[] = "tenant-key-0123456789abcdef";
static const uint8_t key2[] = "tenant-key-other-0123456789";

static struct pol_pii_redact_opts
opts_all(void)
{
    struct pol_pii_redact_opts o = {.mask_keep = 4};

    o.hash_key = key1;
    o.hash_key_len = sizeof(key1) - 1;
    o.pseudonym_key = key1;
    o.pseudonym_key_len = sizeof(key1) - 1;
    o.enc_key = key1;
    o.enc_key_len = sizeof(key1) - 1;
    return o;
}

/* Scans text and applies op to every label; returns the NUL-terminated
 * result (free it). */
static char *
apply(const char *text, enum pol_pii_op op, const struct pol_pii_redact_opts *o,
      struct pol_pii_vault *vault)
{
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_spans s;
    struct cm_buf b;

    for (int k = 0; k < POL_PII__COUNT; k++)
        ops[k] = op;
    pol_pii_spans_init(&s);
    cm_buf_init(&b);
    ck_assert_int_eq(pol_pii_scan(text, strlen(text), POL_PII_ALL, &s), CM_OK);
    pol_pii_redact_v(text, strlen(text), s.v, s.n, ops, o, vault, &b);
    pol_pii_spans_fini(&s);
    cm_buf_putc(&b, '\0');
    return cm_buf_steal(&b, NULL);
}

static char *
restore(const struct pol_pii_vault *vault, const char *text, size_t *n)
{
    struct cm_buf b;

    cm_buf_init(&b);
    *n = pol_pii_restore(vault, text, strlen(text), &b);
    cm_buf_putc(&b, '\0');
    return cm_buf_steal(&b, NULL);
}

START_TEST(test_pseudonym_shape_and_determinism)
{
    struct pol_pii_redact_opts o = opts_all();
    char *a = apply("mail jane@example.com now", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    char *b = apply("again: JANE@Example.COM", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    char *c = apply("mail john@example.com now", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    char *d;
    const char *p = strstr(a, "<EMAIL_");

    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(strlen(a), strlen("mail <EMAIL_01234567> now"));
    for (int k = 7; k < 15; k++)
        ck_assert_ptr_nonnull(strchr("0123456789abcdef", p[k]));
    ck_assert_int_eq(p[15], '>');
    /* normalised: another turn, another spelling, the same placeholder */
    ck_assert_ptr_nonnull(strstr(b, "<EMAIL_"));
    ck_assert(memcmp(strstr(b, "<EMAIL_"), p, 16) == 0);
    ck_assert(memcmp(strstr(c, "<EMAIL_"), p, 16) != 0);
    /* another key, another placeholder */
    o.pseudonym_key = key2;
    d = apply("mail jane@example.com now", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    ck_assert_str_ne(a, d);
    free(a);
    free(b);
    free(c);
    free(d);
}
END_TEST

START_TEST(test_pseudonym_normalisation)
{
    struct pol_pii_redact_opts o = opts_all();
    char *a = apply("call (415) 555-0132", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    char *b = apply("call 415.555.0132", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    char *c = apply("card 4111 1111 1111 1111", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    char *d = apply("card 4111-1111-1111-1111", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    char *e = apply("IBAN DE89 3704 0044 0532 0130 00", POL_PII_OP_PSEUDONYMISE, &o, NULL);
    char *f = apply("IBAN DE89370400440532013000", POL_PII_OP_PSEUDONYMISE, &o, NULL);

    ck_assert_str_eq(a, b);
    ck_assert_str_eq(c, d);
    ck_assert_str_eq(e, f);
    ck_assert_ptr_nonnull(strstr(a, "<PHONE_"));
    ck_assert_ptr_nonnull(strstr(c, "<CREDIT_CARD_"));
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    free(f);
}
END_TEST

START_TEST(test_vault_restore)
{
    struct pol_pii_redact_opts o = opts_all();
    struct pol_pii_vault *v = pol_pii_vault_new();
    const char *in = "I am jane@example.com, SSN 123-45-6789; write to Jane@Example.com.";
    char *red = apply(in, POL_PII_OP_PSEUDONYMISE, &o, v), *answer, *back;
    const char *pe = strstr(red, "<EMAIL_"), *ps = strstr(red, "<US_SSN_");
    struct cm_buf b;
    size_t n;

    ck_assert_ptr_nonnull(pe);
    ck_assert_ptr_nonnull(ps);
    ck_assert_ptr_null(strstr(red, "example.com"));
    ck_assert_ptr_null(strstr(red, "6789"));
    /* two spellings of one address: one placeholder, one vault entry */
    ck_assert_uint_eq(pol_pii_vault_count(v), 2);
    /* the model's answer uses the placeholders, and one it made up */
    cm_buf_init(&b);
    cm_buf_printf(&b, "Dear %.16s, your SSN %.17s is on file. <EMAIL_00000000> <EMAIL_%.8s", pe, ps,
                  pe + 7);
    cm_buf_putc(&b, '\0');
    answer = cm_buf_steal(&b, NULL);
    back = restore(v, answer, &n);
    ck_assert_uint_eq(n, 2);
    /* the spelling first seen in this request comes back */
    ck_assert(strncmp(back,
                      "Dear jane@example.com, your SSN 123-45-6789 is on file. "
                      "<EMAIL_00000000> <EMAIL_",
                      strlen("Dear jane@example.com, your SSN 123-45-6789 is on file. "
                             "<EMAIL_00000000> <EMAIL_")) == 0);
    free(back);
    /* another request's vault restores nothing */
    {
        struct pol_pii_vault *other = pol_pii_vault_new();

        back = restore(other, answer, &n);
        ck_assert_uint_eq(n, 0);
        ck_assert_str_eq(back, answer);
        free(back);
        pol_pii_vault_free(other);
    }
    free(answer);
    free(red);
    pol_pii_vault_free(v);
    pol_pii_vault_free(NULL);
}
END_TEST

START_TEST(test_restore_edges)
{
    struct pol_pii_vault *v = pol_pii_vault_new();
    static const char *const texts[] = {"",
                                        "<",
                                        "<>",
                                        "<EMAIL_",
                                        "<EMAIL_1234567>",
                                        "<<<<",
                                        "<EMAIL_123456789>",
                                        "<email_12345678>",
                                        "a < b > c"};
    size_t n;

    for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
        char *r = restore(v, texts[k], &n);

        ck_assert_str_eq(r, texts[k]);
        ck_assert_uint_eq(n, 0);
        free(r);
    }
    pol_pii_vault_free(v);
}
END_TEST

START_TEST(test_encrypt_roundtrip)
{
    struct pol_pii_redact_opts o = opts_all();
    char *a = apply("mail jane@example.com now", POL_PII_OP_ENCRYPT, &o, NULL);
    char *b = apply("to jane@example.com", POL_PII_OP_ENCRYPT, &o, NULL);
    const char *t = strstr(a, "<ENC:"), *e;
    struct cm_buf out;
    char *bad;

    ck_assert_ptr_nonnull(t);
    e = strchr(t, '>');
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_null(strstr(a, "jane"));
    /* deterministic: the same value, the same token */
    ck_assert(strncmp(strstr(b, "<ENC:"), t, (size_t)(e - t + 1)) == 0);
    cm_buf_init(&out);
    ck_assert_int_eq(pol_pii_decrypt(key1, sizeof(key1) - 1, t, (size_t)(e - t + 1), &out), CM_OK);
    ck_assert_uint_eq(out.len, strlen("jane@example.com"));
    ck_assert(memcmp(out.p, "jane@example.com", out.len) == 0);
    /* the body alone decrypts too */
    cm_buf_reset(&out);
    ck_assert_int_eq(pol_pii_decrypt(key1, sizeof(key1) - 1, t + 5, (size_t)(e - t - 5), &out),
                     CM_OK);
    /* another key, or one altered character: refused, nothing appended */
    cm_buf_reset(&out);
    ck_assert_int_eq(pol_pii_decrypt(key2, sizeof(key2) - 1, t, (size_t)(e - t + 1), &out),
                     CM_EINPUT);
    ck_assert_uint_eq(out.len, 0);
    bad = strndup(t, (size_t)(e - t + 1));
    bad[8] = bad[8] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(pol_pii_decrypt(key1, sizeof(key1) - 1, bad, strlen(bad), &out), CM_EINPUT);
    ck_assert_int_eq(pol_pii_decrypt(key1, sizeof(key1) - 1, "<ENC:>", 6, &out), CM_EINPUT);
    ck_assert_int_eq(
        pol_pii_decrypt(key1, sizeof(key1) - 1, "<ENC:!!!!!!!!!!!!!!!!!!!!!!!!>", 30, &out),
        CM_EINPUT);
    ck_assert_int_eq(pol_pii_decrypt(NULL, 0, t, (size_t)(e - t + 1), &out), CM_EINPUT);
    ck_assert_uint_eq(out.len, 0);
    free(bad);
    cm_buf_fini(&out);
    free(a);
    free(b);

    /* no key: fail closed to "<LABEL>" */
    o.enc_key = NULL;
    a = apply("mail jane@example.com now", POL_PII_OP_ENCRYPT, &o, NULL);
    ck_assert_str_eq(a, "mail <EMAIL> now");
    free(a);
}
END_TEST

START_TEST(test_encrypt_utf8_value)
{
    struct pol_pii_redact_opts o = opts_all();
    const char *t = "Zo\xc3\xab \xe2\x82\xac\xf0\x9f\x98\x80";
    struct pol_pii_span sp = {.start = 0, .end = strlen(t), .label = POL_PII_PERSON};
    enum pol_pii_op ops[POL_PII__COUNT] = {0};
    struct cm_buf b, d;

    ops[POL_PII_PERSON] = POL_PII_OP_ENCRYPT;
    cm_buf_init(&b);
    cm_buf_init(&d);
    ck_assert_uint_eq(pol_pii_redact(t, strlen(t), &sp, 1, ops, &o, &b), 1);
    ck_assert_int_eq(pol_pii_decrypt(key1, sizeof(key1) - 1, b.p, b.len, &d), CM_OK);
    ck_assert_uint_eq(d.len, strlen(t));
    ck_assert(memcmp(d.p, t, d.len) == 0);
    cm_buf_fini(&b);
    cm_buf_fini(&d);
}
END_TEST

START_TEST(test_hash_normalised)
{
    struct pol_pii_redact_opts o = opts_all();
    char *a = apply("to jane@example.com", POL_PII_OP_HASH, &o, NULL);
    char *b = apply("to JANE@EXAMPLE.COM", POL_PII_OP_HASH, &o, NULL);

    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(strlen(a), strlen("to <EMAIL:0123456789abcdef>"));
    free(a);
    free(b);
}
END_TEST

START_TEST(test_fingerprint)
{
    uint8_t a[CM_SHA256_LEN], b[CM_SHA256_LEN], c[CM_SHA256_LEN], d[CM_SHA256_LEN];
    struct cm_buf n;

    pol_pii_fingerprint(POL_PII_PHONE, "+1 (415) 555-0132", 17, key1, sizeof(key1) - 1, a);
    pol_pii_fingerprint(POL_PII_PHONE, "14155550132", 11, key1, sizeof(key1) - 1, b);
    pol_pii_fingerprint(POL_PII_PHONE, "14155550132", 11, key2, sizeof(key2) - 1, c);
    pol_pii_fingerprint(POL_PII_US_SSN, "14155550132", 11, key1, sizeof(key1) - 1, d);
    ck_assert(memcmp(a, b, sizeof(a)) == 0);
    ck_assert(memcmp(a, c, sizeof(a)) != 0);
    ck_assert(memcmp(a, d, sizeof(a)) != 0); /* the label is part of it */

    cm_buf_init(&n);
    pol_pii_normalise(POL_PII_PERSON, "  Jane \t  DOE ", 14, &n);
    ck_assert_uint_eq(n.len, 8);
    ck_assert(memcmp(n.p, "jane doe", 8) == 0);
    cm_buf_reset(&n);
    pol_pii_normalise(POL_PII_IBAN, "de89 3704 0044", 14, &n);
    ck_assert(n.len == 12 && memcmp(n.p, "DE8937040044", 12) == 0);
    cm_buf_reset(&n);
    pol_pii_normalise(POL_PII_SECRET, "AbC d", 5, &n);
    ck_assert(n.len == 5 && memcmp(n.p, "AbC d", 5) == 0);
    cm_buf_fini(&n);
}
END_TEST

/* One rule: the operators normalise every label exactly as the lineage
 * fingerprints normalise its name (subject search relies on the latter). */
START_TEST(test_one_normalisation)
{
    static const char *const values[] = {
        "  Jane \t  DOE ", "Jane.Doe@Example.COM", "+1 (415) 555-0132", "gb82 west 1234",
        "2001:DB8::7",     "15 March 1985",        "AbC d\v e",         ""};
    struct cm_buf a;
    char b[64];

    cm_buf_init(&a);
    for (int l = 0; l < POL_PII__COUNT; l++) {
        for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
            size_t len = strlen(values[k]), nb;

            cm_buf_reset(&a);
            pol_pii_normalise((enum pol_pii_label)l, values[k], len, &a);
            nb = cm_fp_normalise(cm_fp_norm_of(pol_pii_label_name((enum pol_pii_label)l)),
                                 values[k], len, b);
            ck_assert_msg(a.len == nb && (nb == 0 || memcmp(a.p, b, nb) == 0), "%s: '%s'",
                          pol_pii_label_name((enum pol_pii_label)l), values[k]);
        }
    }
    cm_buf_fini(&a);
}
END_TEST

START_TEST(test_utf8)
{
    ck_assert_uint_eq(pol_pii_utf8_next("a", 1), 1);
    ck_assert_uint_eq(pol_pii_utf8_next("\xc3\xa9", 2), 2);
    ck_assert_uint_eq(pol_pii_utf8_next("\xc3\xa9", 1), 1);     /* truncated */
    ck_assert_uint_eq(pol_pii_utf8_next("\xc0\xaf", 2), 1);     /* overlong */
    ck_assert_uint_eq(pol_pii_utf8_next("\xe0\x80\xaf", 3), 1); /* overlong */
    ck_assert_uint_eq(pol_pii_utf8_next("\xed\xa0\x80", 3), 1); /* surrogate */
    ck_assert_uint_eq(pol_pii_utf8_next("\xe2\x82\xac", 3), 3);
    ck_assert_uint_eq(pol_pii_utf8_next("\xf0\x9f\x98\x80", 4), 4);
    ck_assert_uint_eq(pol_pii_utf8_next("\xf4\x90\x80\x80", 4), 1); /* > U+10FFFF */
    ck_assert_uint_eq(pol_pii_utf8_next("\x80", 1), 1);
    ck_assert_uint_eq(pol_pii_utf8_next("\xff", 1), 1);
    ck_assert_uint_eq(pol_pii_utf8_count("a\xc3\xa9\x80\xe2\x82", 6), 5);
}
END_TEST

/* mask never shows more than mask_keep characters, even over invalid
 * UTF-8 (each invalid byte counts as one character) */
START_TEST(test_mask_invalid_utf8)
{
    const char *t = "\x80\x80"
                    "abc\xe2\x82";
    struct pol_pii_span sp = {.start = 0, .end = strlen(t), .label = POL_PII_PERSON};
    enum pol_pii_op ops[POL_PII__COUNT] = {0};
    struct pol_pii_redact_opts o = {.mask_keep = 0};
    struct cm_buf b;

    ops[POL_PII_PERSON] = POL_PII_OP_MASK;
    cm_buf_init(&b);
    pol_pii_redact(t, strlen(t), &sp, 1, ops, &o, &b);
    cm_buf_putc(&b, '\0');
    ck_assert_str_eq(b.p, "*******");
    cm_buf_reset(&b);
    o.mask_keep = 2;
    pol_pii_redact(t, strlen(t), &sp, 1, ops, &o, &b);
    ck_assert_uint_eq(b.len, 5 + 2);
    ck_assert(memcmp(b.p, "*****\xe2\x82", 7) == 0);
    cm_buf_fini(&b);
}
END_TEST

static Suite *
redact_suite(void)
{
    Suite *s = suite_create("pii_redact");
    TCase *tc = tcase_create("ops");

    tcase_add_test(tc, test_pseudonym_shape_and_determinism);
    tcase_add_test(tc, test_pseudonym_normalisation);
    tcase_add_test(tc, test_vault_restore);
    tcase_add_test(tc, test_restore_edges);
    tcase_add_test(tc, test_encrypt_roundtrip);
    tcase_add_test(tc, test_encrypt_utf8_value);
    tcase_add_test(tc, test_hash_normalised);
    tcase_add_test(tc, test_fingerprint);
    tcase_add_test(tc, test_one_normalisation);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_mask_invalid_utf8);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(redact_suite());
}
