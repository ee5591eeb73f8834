/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of common/: buffers and JSON escaping, the arena, UUIDv7,
 * hashing (RFC 4231 / FIPS 180 vectors), time parsing, the options-table
 * engine (errors carry file:line) and log quoting.
 */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cm_arena.h"
#include "common/cm_buf.h"
#include "common/cm_conf.h"
#include "common/cm_hash.h"
#include "common/cm_log.h"
#include "common/cm_time.h"
#include "common/cm_uuid.h"
#include "tests/unit/unit_main.h"

START_TEST(buf_json_escaping)
{
    struct cm_buf b;
    const char in[] = "a\"b\\c\nd\x01\xc3\xa9";

    cm_buf_init(&b);
    cm_buf_append_json_str(&b, in, sizeof(in) - 1);
    ck_assert_str_eq(b.p, "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"");
    cm_buf_reset(&b);
    cm_buf_printf(&b, "%s-%d", "x", 42);
    ck_assert_str_eq(b.p, "x-42");
    for (int i = 0; i < 1000; i++)
        cm_buf_putc(&b, 'y');
    ck_assert_uint_eq(b.len, 1004);
    ck_assert_int_eq(b.p[b.len], '\0');
    cm_buf_fini(&b);
}
END_TEST

START_TEST(arena_alignment_and_reset)
{
    struct cm_arena *a = cm_arena_new(256);

    for (int i = 1; i < 200; i++) {
        char *p = cm_arena_alloc(a, (size_t)i);

        ck_assert_uint_eq((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 'x', (size_t)i);
    }
    ck_assert_uint_gt(cm_arena_used(a), 200);
    cm_arena_reset(a);
    ck_assert_uint_eq(cm_arena_used(a), 0);
    ck_assert_str_eq(cm_arena_strndup(a, "hello world", 5), "hello");
    cm_arena_free(a);
    cm_arena_free(NULL);
}
END_TEST

START_TEST(uuid7_shape_and_order)
{
    uint8_t a[16], b[16], c[16];
    char s[CM_UUID_STR_LEN];

    cm_uuid7(a);
    cm_uuid_fmt(a, s);
    ck_assert_uint_eq(strlen(s), 36);
    ck_assert_int_eq(s[14], '7');
    ck_assert(strchr("89ab", s[19]) != NULL);
    ck_assert_int_eq(cm_uuid_parse(s, c), CM_OK);
    ck_assert_mem_eq(a, c, 16);
    for (int i = 0; i < 10000; i++) {
        cm_uuid7(b);
        ck_assert_int_lt(memcmp(a, b, 16), 0);
        memcpy(a, b, 16);
    }
    ck_assert_int_lt(llabs(cm_uuid7_ms(a) - cm_now_us() / 1000), 5000);
    ck_assert_int_eq(cm_uuid_parse("not-a-uuid", c), CM_EINPUT);
    ck_assert_int_eq(cm_uuid_parse("0190d6a8-0000-7000-8000-00000000000", c), CM_EINPUT);
}
END_TEST

START_TEST(hash_vectors)
{
    uint8_t d[CM_SHA256_LEN];
    char hex[CM_SHA256_HEX_LEN];
    uint8_t raw[4];

    cm_sha256("abc", 3, d);
    cm_hex(d, sizeof(d), hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cm_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    cm_hex(d, sizeof(d), hex);
    ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    ck_assert_int_eq(cm_unhex("0aFf", 4, raw, sizeof(raw)), 2);
    ck_assert_int_eq(raw[1], 0xff);
    ck_assert_int_eq(cm_unhex("0g", 2, raw, sizeof(raw)), -1);
    ck_assert(cm_ct_equal("abcd", "abcd", 4));
    ck_assert(!cm_ct_equal("abcd", "abce", 4));
}
END_TEST

START_TEST(time_parse_and_format)
{
    int64_t us, d;
    char s[CM_TIME_RFC3339_LEN];

    ck_assert_int_eq(cm_time_parse("2026-11-29T15:50:35.123456Z", &us), CM_OK);
    cm_time_fmt(us, s);
    ck_assert_str_eq(s, "2026-11-29T15:50:35.123456Z");
    ck_assert_int_eq(cm_time_parse("2026-11-29T16:50:35.123456+01:00", &d), CM_OK);
    ck_assert_int_eq(d, us);
    ck_assert_int_eq(cm_time_parse("2026-11-29", &d), CM_OK);
    ck_assert_int_eq(cm_time_parse("2026-13-01", &d), CM_EINPUT);
    ck_assert_int_eq(cm_time_parse("2026-11-29T15:50", &d), CM_EINPUT);
    ck_assert_int_eq(cm_duration_parse("250ms", 1000, &d), CM_OK);
    ck_assert_int_eq(d, 250000);
    ck_assert_int_eq(cm_duration_parse("2h", 1000, &d), CM_OK);
    ck_assert_int_eq(d, 7200000000LL);
    ck_assert_int_eq(cm_duration_parse("15", 1000, &d), CM_OK);
    ck_assert_int_eq(d, 15000);
    ck_assert_int_eq(cm_duration_parse("5 parsecs", 1000, &d), CM_EINPUT);
    ck_assert_int_eq(cm_duration_parse("-1s", 1000, &d), CM_EINPUT);
    /* found by fuzz_conf: a bare number times its unit overflowed */
    ck_assert_int_eq(cm_duration_parse("388888888888888888", 1000, &d), CM_EINPUT);
    ck_assert_int_eq(cm_duration_parse("9999999999999999999", 1000, &d), CM_EINPUT);
}
END_TEST

struct topts {
    bool flag;
    long long n;
    size_t size;
    int64_t dur;
    char *name;
    int mode;
    struct cm_kv_list kafka;
};

static const char *const modes[] = {"a", "b", NULL};
static const struct cm_opt topts_tab[] = {
    {"flag", CM_OPT_BOOL, "false", 0, offsetof(struct topts, flag), "a flag"},
    {"n", CM_OPT_INT, "3", 0, offsetof(struct topts, n), "a number", NULL, 1, 10},
    {"size", CM_OPT_SIZE, "1K", 0, offsetof(struct topts, size), "a size"},
    {"dur", CM_OPT_DURATION, "2s", 0, offsetof(struct topts, dur), "a duration"},
    {"name", CM_OPT_STRING, "x", 0, offsetof(struct topts, name), "a name"},
    {"mode", CM_OPT_ENUM, "a", 0, offsetof(struct topts, mode), "a mode", modes},
    {"kafka.", CM_OPT_PREFIX, NULL, 0, offsetof(struct topts, kafka), "pass-through"},
};
#define NT CM_ARRAY_LEN(topts_tab)

static char *
write_tmp(const char *text)
{
    char *path = strdup("/tmp/test_cm_confXXXXXX");
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static int
load_text(const char *text, struct topts *o, struct cm_err *err)
{
    char *path = write_tmp(text);
    int rc;

    memset(o, 0, sizeof(*o));
    ck_assert_int_eq(cm_conf_defaults(topts_tab, NT, o, err), CM_OK);
    rc = cm_conf_load(topts_tab, NT, o, path, err);
    if (rc != CM_OK) {
        /* error texts start with the path; strip it for the assertions */
        size_t n = strlen(path);

        ck_assert(strncmp(err->msg, path, n) == 0);
        memmove(err->msg, err->msg + n, strlen(err->msg + n) + 1);
    }
    unlink(path);
    free(path);
    return rc;
}

START_TEST(conf_defaults_and_values)
{
    struct topts o;
    struct cm_err err;

    ck_assert_int_eq(load_text("# comment\nflag = yes\nn = 7\nsize = 16M\ndur = 250ms\n"
                               "name = hello world\nmode = b\n[kafka]\nbootstrap.servers = h:1\n",
                               &o, &err),
                     CM_OK);
    ck_assert(o.flag);
    ck_assert_int_eq(o.n, 7);
    ck_assert_uint_eq(o.size, 16u << 20);
    ck_assert_int_eq(o.dur, 250000);
    ck_assert_str_eq(o.name, "hello world");
    ck_assert_int_eq(o.mode, 1);
    ck_assert_str_eq(cm_kv_get(&o.kafka, "bootstrap.servers"), "h:1");
    ck_assert_int_eq(cm_conf_set_kv(topts_tab, NT, &o, "kafka.acks=all", &err), CM_OK);
    ck_assert_str_eq(cm_kv_get(&o.kafka, "acks"), "all");
    cm_conf_fini(topts_tab, NT, &o);
    ck_assert_ptr_null(o.name);
}
END_TEST

static const struct {
    const char *text;
    const char *msg;
} conf_errors[] = {
    {"flag = yes\nbogus = 1\n", ":2: unknown option 'bogus'"},
    {"n = 11\n", ":1: n: 11 is outside 1..10"},
    {"n = seven\n", ":1: n: expected an integer"},
    {"size = 12Q\n", ":1: size: expected a size such as 512, 64K or 16M"},
    {"mode = c\n", ":1: mode: expected one of a, b"},
    {"flag = maybe\n", ":1: flag: expected true or false"},
    {"n = 2\n\nn = 3\n", ":3: duplicate option 'n'"},
    {"just words\n", ":1: syntax error (expected key = value)"},
    {"dur = soon\n", ":1: dur: expected a duration such as 250ms, 30s or 5m"},
};

START_TEST(conf_errors_name_the_line)
{
    struct topts o;
    struct cm_err err;

    ck_assert_int_eq(load_text(conf_errors[_i].text, &o, &err), CM_EINPUT);
    ck_assert_str_eq(err.msg, conf_errors[_i].msg);
    cm_conf_fini(topts_tab, NT, &o);
}
END_TEST

START_TEST(conf_missing_file)
{
    struct topts o = {0};
    struct cm_err err;

    ck_assert_int_eq(cm_conf_load(topts_tab, NT, &o, "/nonexistent/steward.conf", &err), CM_EIO);
    ck_assert(strstr(err.msg, "No such file") != NULL);
}
END_TEST

START_TEST(conf_from_memory)
{
    static const char text[] = "n = 5\nname = from memory\nbad key\n";
    struct topts o = {0};
    struct cm_err err;

    ck_assert_int_eq(cm_conf_defaults(topts_tab, NT, &o, &err), CM_OK);
    ck_assert_int_eq(cm_conf_load_mem(topts_tab, NT, &o, "mem", text, 24, &err), CM_OK);
    ck_assert_int_eq(o.n, 5);
    ck_assert_str_eq(o.name, "from memory");
    ck_assert_int_eq(cm_conf_load_mem(topts_tab, NT, &o, "mem", text, sizeof(text) - 1, &err),
                     CM_EINPUT);
    ck_assert_str_eq(err.msg, "mem:3: syntax error (expected key = value)");
    ck_assert_int_eq(cm_conf_load_mem(topts_tab, NT, &o, "mem", "n = 1\0n = 2", 11, &err),
                     CM_EINPUT);
    ck_assert_str_eq(err.msg, "mem: NUL byte in configuration");
    cm_conf_fini(topts_tab, NT, &o);
}
END_TEST

START_TEST(conf_doc_lists_every_option)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cm_conf_doc(topts_tab, NT, "test", f);
    fclose(f);
    for (size_t i = 0; i < NT; i++)
        ck_assert(strstr(buf, topts_tab[i].name) != NULL);
    ck_assert(strstr(buf, "`a`, `b`") != NULL);
    free(buf);
}
END_TEST

START_TEST(log_quote_escapes)
{
    char out[64];

    ck_assert_str_eq(cm_log_quote("plain", out, sizeof(out)), "plain");
    ck_assert_str_eq(cm_log_quote("two words", out, sizeof(out)), "\"two words\"");
    ck_assert_str_eq(cm_log_quote("a\"b\n", out, sizeof(out)), "\"a\\\"b\\x0a\"");
    ck_assert_str_eq(cm_log_quote("", out, sizeof(out)), "\"\"");
    cm_log_quote("a very long value that will not fit in a tiny buffer", out, 12);
    ck_assert_uint_lt(strlen(out), 12);
}
END_TEST

static Suite *
cm_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, buf_json_escaping);
    tcase_add_test(tc, arena_alignment_and_reset);
    tcase_add_test(tc, uuid7_shape_and_order);
    tcase_add_test(tc, hash_vectors);
    tcase_add_test(tc, time_parse_and_format);
    tcase_add_test(tc, conf_defaults_and_values);
    tcase_add_loop_test(tc, conf_errors_name_the_line, 0, (int)CM_ARRAY_LEN(conf_errors));
    tcase_add_test(tc, conf_missing_file);
    tcase_add_test(tc, conf_from_memory);
    tcase_add_test(tc, conf_doc_lists_every_option);
    tcase_add_test(tc, log_quote_escapes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(cm_suite());
}
