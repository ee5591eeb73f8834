/* SPDX-License-Identifier: Apache-2.0
 *
 * test_pii_stream: the streaming redactor and restorer of pii_stream.h.
 * The property under test: for every way of cutting the input into
 * chunks (every 2-way split point of every sample, many 3-way splits,
 * byte-by-byte feeding, cuts inside multi-byte UTF-8 characters) the
 * concatenated output equals the whole-text result (pol_pii_detect() +
 * pol_pii_redact_v(), pol_pii_restore()); the hold-back stays within the
 * documented window; a value longer than the window is redacted, never
 * leaked.  Fixtures are synthetic.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_buf.h"
#include "policy/pii/pii_detect.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_stream.h"
#include "tests/unit/unit_main.h"

static const uint8_t key[] = "stream-test-key-0123456789abcdef";

static const char *const samples[] = {
    "Hi, I'm Jane, jane.doe@example.com, call me at (415) 555-0132 or +44 20 7946 0958.",
    "Card 4111 1111 1111 1111 exp 12/29, SSN 123-45-6789, DOB March 15, 1985.",
    "IBAN DE89 3704 0044 0532 0130 00 and GB82WEST12345698765432, born 15.03.1985",
    "server 192.168.1.10 and 2001:db8::7, see https://example.com/a_(b)?q=1. Thanks",
    "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80 na\xc3\xafve jos\xc3\xa9@example.com \xe6\x97\xa5\xe6"
    "\x9c\xac 4111-1111-1111-1111 \xc3\xa9",
    "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\npassword = \"Xk9#pQ2!vL7@mR4z\"\n"
    "token: ghp_0123456789abcdefghijABCDEFGHIJ012345\n",
    "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n"
    "9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\nthanks, see www.example.org/x",
    "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
    "no personal data here at all, just prose about lighthouses and the sea.",
    "",
    "a",
    "\xff\xfe invalid \xc3 utf-8 \x80 jane@example.com \xed\xa0\x80 end",
};

static struct pol_pii_redact_opts
opts(void)
{
    struct pol_pii_redact_opts o = {.mask_keep = 4};

    o.hash_key = key;
    o.hash_key_len = sizeof(key) - 1;
    o.pseudonym_key = key;
    o.pseudonym_key_len = sizeof(key) - 1;
    o.enc_key = key;
    o.enc_key_len = sizeof(key) - 1;
    return o;
}

static void
ops_for(int variant, enum pol_pii_op ops[POL_PII__COUNT])
{
    for (int l = 0; l < POL_PII__COUNT; l++) {
        static const enum pol_pii_op cycle[] = {POL_PII_OP_REDACT,  POL_PII_OP_MASK,
                                                POL_PII_OP_HASH,    POL_PII_OP_PSEUDONYMISE,
                                                POL_PII_OP_ENCRYPT, POL_PII_KEEP};

        ops[l] = variant == 0 ? POL_PII_OP_REDACT : cycle[(l + variant) % 6];
    }
}

/* The reference: the whole text at once. */
static void
whole(const char *t, size_t n, const enum pol_pii_op ops[POL_PII__COUNT],
      const struct pol_pii_redact_opts *o, struct pol_pii_vault *v, struct cm_buf *out)
{
    struct pol_pii_spans s;

    pol_pii_spans_init(&s);
    ck_assert_int_eq(pol_pii_detect(NULL, t, n, POL_PII_ALL, &s), CM_OK);
    pol_pii_redact_v(t, n, s.v, s.n, ops, o, v, out);
    pol_pii_spans_fini(&s);
}

/* The stream, fed t cut at the offsets cuts[0..ncuts) (ascending). */
static void
streamed(const char *t, size_t n, const size_t *cuts, size_t ncuts,
         const enum pol_pii_op ops[POL_PII__COUNT], const struct pol_pii_redact_opts *o,
         struct pol_pii_vault *v, struct cm_buf *out)
{
    struct pol_pii_stream *st = pol_pii_stream_new(NULL, POL_PII_ALL, ops, o, v);
    size_t pos = 0;

    for (size_t k = 0; k <= ncuts; k++) {
        size_t e = k < ncuts ? cuts[k] : n;
        /* an exactly sized heap copy: ASan sees any read past the chunk */
        char *chunk = malloc(e != pos ? e - pos : 1);

        memcpy(chunk, t + pos, e - pos);
        ck_assert_int_eq(pol_pii_stream_feed(st, chunk, e - pos, out), CM_OK);
        ck_assert_uint_le(pol_pii_stream_held(st), POL_PII_STREAM_WINDOW);
        free(chunk);
        pos = e;
    }
    ck_assert_int_eq(pol_pii_stream_finish(st, out), CM_OK);
    ck_assert_uint_eq(pol_pii_stream_held(st), 0);
    pol_pii_stream_free(st);
}

static void
assert_same(const struct cm_buf *a, const struct cm_buf *b, const char *what, size_t c1, size_t c2)
{
    ck_assert_msg(a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0),
                  "%s: split at %zu,%zu: stream output differs (%zu vs %zu bytes)", what, c1, c2,
                  b->len, a->len);
}

/* A long text built from the samples (crosses many cuts and windows). */
static char *
long_text(size_t *n)
{
    struct cm_buf b;

    cm_buf_init(&b);
    for (int r = 0; r < 6; r++) {
        for (size_t k = 0; k < sizeof(samples) / sizeof(samples[0]); k++) {
            cm_buf_puts(&b, samples[k]);
            cm_buf_puts(&b, r & 1 ? "\n" : " ");
        }
    }
    return cm_buf_steal(&b, n);
}

static void
check_all_splits(const char *t, size_t n, int variant, bool three_way)
{
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = opts();
    struct cm_buf ref, got;
    unsigned x = 2024u + (unsigned)variant;

    ops_for(variant, ops);
    cm_buf_init(&ref);
    cm_buf_init(&got);
    whole(t, n, ops, &o, NULL, &ref);
    for (size_t c = 0; c <= n; c++) {
        cm_buf_reset(&got);
        streamed(t, n, &c, 1, ops, &o, NULL, &got);
        assert_same(&ref, &got, "2-way", c, c);
    }
    for (int r = 0; three_way && r < 200; r++) {
        size_t cuts[2];

        x = x * 1103515245u + 12345u;
        cuts[0] = (x >> 8) % (n + 1);
        x = x * 1103515245u + 12345u;
        cuts[1] = (x >> 8) % (n + 1);
        if (cuts[0] > cuts[1]) {
            size_t tmp = cuts[0];

            cuts[0] = cuts[1];
            cuts[1] = tmp;
        }
        cm_buf_reset(&got);
        streamed(t, n, cuts, 2, ops, &o, NULL, &got);
        assert_same(&ref, &got, "3-way", cuts[0], cuts[1]);
    }
    cm_buf_fini(&ref);
    cm_buf_fini(&got);
}

START_TEST(test_every_split)
{
    const char *t = samples[_i];

    for (int variant = 0; variant < 3; variant++)
        check_all_splits(t, strlen(t), variant, true);
}
END_TEST

/* A long text (several windows of REACH) at every split point, and fed
 * byte by byte, and in chunks of every size 2..64. */
START_TEST(test_long_text)
{
    size_t n, *cuts = NULL;
    char *t = long_text(&n);
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = opts();
    struct cm_buf ref, got;

    ck_assert_uint_gt(n, 4 * POL_PII_STREAM_REACH);
    check_all_splits(t, n, 1, false);
    ops_for(3, ops);
    cm_buf_init(&ref);
    cm_buf_init(&got);
    whole(t, n, ops, &o, NULL, &ref);
    cuts = malloc(n * sizeof(*cuts));
    for (size_t step = 1; step <= 64; step++) {
        size_t nc = 0;

        for (size_t c = step; c < n; c += step)
            cuts[nc++] = c;
        cm_buf_reset(&got);
        streamed(t, n, cuts, nc, ops, &o, NULL, &got);
        assert_same(&ref, &got, "chunks", step, step);
    }
    free(cuts);
    cm_buf_fini(&ref);
    cm_buf_fini(&got);
    free(t);
}
END_TEST

/* Splits inside multi-byte characters are among the split points; make
 * sure the samples have them, and that the output is valid where the
 * input was. */
START_TEST(test_utf8_splits_present)
{
    const char *t = samples[4];
    size_t inside = 0;

    for (size_t c = 1; c < strlen(t); c++)
        inside += ((unsigned char)t[c] & 0xC0) == 0x80;
    ck_assert_uint_ge(inside, 10);
}
END_TEST

/* Pseudonyms across a stream: the same vault contents as the whole text,
 * and the answer restored chunk by chunk equals the whole restore. */
START_TEST(test_pseudonyms_and_restore)
{
    const char *t = samples[0];
    size_t n = strlen(t);
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = opts();
    struct pol_pii_vault *v1 = pol_pii_vault_new(), *v2 = pol_pii_vault_new();
    struct cm_buf ref, got, answer, r1, r2;
    size_t cut = n / 2;

    for (int l = 0; l < POL_PII__COUNT; l++)
        ops[l] = POL_PII_OP_PSEUDONYMISE;
    cm_buf_init(&ref);
    cm_buf_init(&got);
    cm_buf_init(&answer);
    cm_buf_init(&r1);
    cm_buf_init(&r2);
    whole(t, n, ops, &o, v1, &ref);
    streamed(t, n, &cut, 1, ops, &o, v2, &got);
    assert_same(&ref, &got, "pseudonyms", cut, cut);
    ck_assert_uint_eq(pol_pii_vault_count(v1), pol_pii_vault_count(v2));
    ck_assert_uint_ge(pol_pii_vault_count(v2), 3);

    /* the model answers with the placeholders (and some '<' noise) */
    cm_buf_puts(&answer, "Sure <b>! ");
    cm_buf_append(&answer, got.p, got.len);
    cm_buf_puts(&answer, " <<EMAIL_ <PHONE_1234 end <");
    ck_assert_uint_ge(pol_pii_restore(v2, answer.p, answer.len, &r1), 3);
    ck_assert_ptr_nonnull(memmem(r1.p, r1.len, "jane.doe@example.com", 20));
    for (size_t c1 = 0; c1 <= answer.len; c1++) {
        for (size_t c2 = c1; c2 <= answer.len; c2 += 7) {
            struct pol_pii_restorer *rs = pol_pii_restorer_new(v2);

            cm_buf_reset(&r2);
            pol_pii_restorer_feed(rs, answer.p, c1, &r2);
            pol_pii_restorer_feed(rs, answer.p + c1, c2 - c1, &r2);
            pol_pii_restorer_feed(rs, answer.p + c2, answer.len - c2, &r2);
            pol_pii_restorer_finish(rs, &r2);
            pol_pii_restorer_free(rs);
            ck_assert_msg(r2.len == r1.len && memcmp(r1.p, r2.p, r1.len) == 0,
                          "restore split at %zu,%zu differs", c1, c2);
        }
    }
    /* byte by byte: at most the placeholder length is ever held */
    {
        struct pol_pii_restorer *rs = pol_pii_restorer_new(v2);
        size_t outlen = 0;

        cm_buf_reset(&r2);
        for (size_t k = 0; k < answer.len; k++) {
            pol_pii_restorer_feed(rs, answer.p + k, 1, &r2);
            (void)outlen;
        }
        pol_pii_restorer_finish(rs, &r2);
        pol_pii_restorer_free(rs);
        ck_assert(r2.len == r1.len && memcmp(r1.p, r2.p, r1.len) == 0);
    }
    cm_buf_fini(&ref);
    cm_buf_fini(&got);
    cm_buf_fini(&answer);
    cm_buf_fini(&r1);
    cm_buf_fini(&r2);
    pol_pii_vault_free(v1);
    pol_pii_vault_free(v2);
}
END_TEST

/* The restorer holds back no more than a placeholder could need. */
START_TEST(test_restorer_holdback)
{
    struct pol_pii_vault *v = pol_pii_vault_new();
    struct pol_pii_restorer *rs = pol_pii_restorer_new(v);
    struct cm_buf out;
    const char *t = "abc <ORGANIZATION_0123456789abcdef";

    cm_buf_init(&out);
    pol_pii_restorer_feed(rs, t, strlen(t), &out);
    ck_assert_uint_eq(out.len, 4);           /* "abc " out, the possible placeholder held */
    pol_pii_restorer_feed(rs, "0", 1, &out); /* too long now: released */
    ck_assert_uint_eq(out.len, strlen(t) + 1);
    pol_pii_restorer_finish(rs, &out);
    ck_assert_uint_eq(out.len, strlen(t) + 1);
    pol_pii_restorer_free(rs);
    pol_pii_vault_free(v);
    cm_buf_fini(&out);
}
END_TEST

/* A value longer than the window is redacted, never leaked, and the hold
 * stays bounded: a 40 KB token without white space, and a PEM block whose
 * body is longer than the window. */
START_TEST(test_longer_than_window)
{
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = opts();
    struct cm_buf t, got;
    size_t cuts[400], nc = 0;

    ops_for(0, ops);
    cm_buf_init(&t);
    cm_buf_init(&got);
    cm_buf_puts(&t, "before jane@example.com blob: ");
    for (int k = 0; k < 40000; k++)
        cm_buf_putc(&t, "QWxhZGRpbjpvcGVuIHNlc2FtZQ"[k % 26]);
    cm_buf_puts(&t, " after 415-555-0132 end");
    for (size_t c = 97; c < t.len && nc < 400; c += 997)
        cuts[nc++] = c;
    streamed(t.p, t.len, cuts, nc, ops, &o, NULL, &got);
    cm_buf_putc(&got, '\0');
    ck_assert_ptr_nonnull(strstr(got.p, "before <EMAIL> blob: "));
    ck_assert_ptr_nonnull(strstr(got.p, "<SECRET>"));
    ck_assert_ptr_null(strstr(got.p, "QWxhZGRpbjpv"));
    ck_assert_ptr_nonnull(strstr(got.p, " after <PHONE> end"));

    cm_buf_reset(&t);
    cm_buf_reset(&got);
    cm_buf_puts(&t, "my key\n-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for (int k = 0; k < 600; k++)
        cm_buf_puts(&t, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcn\n");
    cm_buf_puts(&t, "-----END OPENSSH PRIVATE KEY-----\nthat was it, call 415-555-0132\n");
    nc = 0;
    for (size_t c = 13; c < t.len && nc < 400; c += 211)
        cuts[nc++] = c;
    streamed(t.p, t.len, cuts, nc, ops, &o, NULL, &got);
    cm_buf_putc(&got, '\0');
    ck_assert_ptr_nonnull(strstr(got.p, "my key\n<SECRET>"));
    ck_assert_ptr_null(strstr(got.p, "b3BlbnNza"));
    ck_assert_ptr_null(strstr(got.p, "PRIVATE KEY"));
    ck_assert_ptr_nonnull(strstr(got.p, "that was it, call <PHONE>\n"));
    cm_buf_fini(&t);
    cm_buf_fini(&got);
}
END_TEST

/* A PEM block shorter than the window is held whole, then redacted as one
 * span exactly as in the whole text, whatever the split. */
START_TEST(test_pem_held_whole)
{
    const char *t = samples[6];
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = opts();
    struct pol_pii_stream *st;
    struct cm_buf out;
    size_t n = strlen(t);

    ops_for(0, ops);
    cm_buf_init(&out);
    st = pol_pii_stream_new(NULL, POL_PII_ALL, ops, &o, NULL);
    /* up to the middle of the body: nothing of the block is released */
    ck_assert_int_eq(pol_pii_stream_feed(st, t, (size_t)(strstr(t, "9Cnz") - t), &out), CM_OK);
    ck_assert_ptr_null(memmem(out.p ? out.p : "", out.len, "BEGIN", 5));
    ck_assert_int_eq(
        pol_pii_stream_feed(st, strstr(t, "9Cnz"), n - (size_t)(strstr(t, "9Cnz") - t), &out),
        CM_OK);
    ck_assert_int_eq(pol_pii_stream_finish(st, &out), CM_OK);
    cm_buf_putc(&out, '\0');
    ck_assert_str_eq(out.p, "key:\n<SECRET>\nthanks, see <URL>");
    pol_pii_stream_free(st);
    cm_buf_fini(&out);
}
END_TEST

START_TEST(test_counts)
{
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = opts();
    struct pol_pii_stream *st;
    struct cm_buf out;
    size_t counts[POL_PII__COUNT];

    ops_for(0, ops);
    cm_buf_init(&out);
    st = pol_pii_stream_new(NULL, POL_PII_ALL, ops, &o, NULL);
    ck_assert_int_eq(pol_pii_stream_feed(st, samples[0], strlen(samples[0]), &out), CM_OK);
    ck_assert_int_eq(pol_pii_stream_finish(st, &out), CM_OK);
    pol_pii_stream_counts(st, counts);
    ck_assert_uint_eq(counts[POL_PII_EMAIL], 1);
    ck_assert_uint_eq(counts[POL_PII_PHONE], 2);
    pol_pii_stream_free(st);
    pol_pii_stream_free(NULL);
    cm_buf_fini(&out);
}
END_TEST

/* The values the stream passes to its value callback, as "LABEL=value\n"
 * lines in the order it passes them. */
static void
collect_value(void *arg, enum pol_pii_label label, const char *value, size_t len)
{
    struct cm_buf *b = arg;

    cm_buf_printf(b, "%s=", pol_pii_label_name(label));
    cm_buf_append(b, value, len);
    cm_buf_putc(b, '\n');
}

/* Every span's original value reaches the callback exactly once, whatever
 * the split: the same list as the whole text's spans, in text order. */
START_TEST(test_values_every_split)
{
    const char *t = samples[_i];
    size_t n = strlen(t);
    enum pol_pii_op ops[POL_PII__COUNT];
    struct pol_pii_redact_opts o = opts();
    struct pol_pii_spans sp;
    struct cm_buf ref, got, out;

    ops_for(1, ops);
    cm_buf_init(&ref);
    cm_buf_init(&got);
    cm_buf_init(&out);
    pol_pii_spans_init(&sp);
    ck_assert_int_eq(pol_pii_detect(NULL, t, n, POL_PII_ALL, &sp), CM_OK);
    for (size_t k = 0; k < sp.n; k++)
        collect_value(&ref, sp.v[k].label, t + sp.v[k].start, sp.v[k].end - sp.v[k].start);
    for (size_t c = 0; c <= n; c++) {
        struct pol_pii_stream *st = pol_pii_stream_new(NULL, POL_PII_ALL, ops, &o, NULL);

        cm_buf_reset(&got);
        pol_pii_stream_on_value(st, collect_value, &got);
        ck_assert_int_eq(pol_pii_stream_feed(st, t, c, &out), CM_OK);
        ck_assert_int_eq(pol_pii_stream_feed(st, t + c, n - c, &out), CM_OK);
        ck_assert_int_eq(pol_pii_stream_finish(st, &out), CM_OK);
        ck_assert_msg(got.len == ref.len && (ref.len == 0 || memcmp(got.p, ref.p, ref.len) == 0),
                      "split at %zu: values differ:\n%.*s---\n%.*s", c, (int)got.len,
                      got.p ? got.p : "", (int)ref.len, ref.p ? ref.p : "");
        pol_pii_stream_free(st);
        cm_buf_reset(&out);
    }
    pol_pii_spans_fini(&sp);
    cm_buf_fini(&ref);
    cm_buf_fini(&got);
    cm_buf_fini(&out);
}
END_TEST

static Suite *
stream_suite(void)
{
    Suite *s = suite_create("pii_stream");
    TCase *tc = tcase_create("stream");

    tcase_add_loop_test(tc, test_every_split, 0, (int)(sizeof(samples) / sizeof(samples[0])));
    tcase_add_test(tc, test_long_text);
    tcase_add_test(tc, test_utf8_splits_present);
    tcase_add_test(tc, test_pseudonyms_and_restore);
    tcase_add_test(tc, test_restorer_holdback);
    tcase_add_test(tc, test_longer_than_window);
    tcase_add_test(tc, test_pem_held_whole);
    tcase_add_test(tc, test_counts);
    tcase_add_loop_test(tc, test_values_every_split, 0,
                        (int)(sizeof(samples) / sizeof(samples[0])));
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(stream_suite());
}
