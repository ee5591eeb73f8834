/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of sidecar/sc_options.c as a reload uses it (issue 5): a
 * changed RESTART option keeps the running value, a RELOAD option takes the
 * new one, and the prefix list (kafka.*) is compared and restored whole.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cm_status.h"
#include "sidecar/sc_options.h"
#include "tests/unit/unit_main.h"

static char *
write_conf(const char *text)
{
    char *path = strdup("/tmp/test_sc_options.XXXXXX");
    int fd = mkstemp(path);
    FILE *f;

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void
load(struct sc_options *o, const char *text)
{
    char *path = write_conf(text);
    struct cm_err err;
    int rc = sc_options_load(o, path, NULL, 0, &err);

    unlink(path);
    free(path);
    ck_assert_msg(rc == CM_OK, "%s", err.msg);
}

#define BASE "policy = /p.json\nkafka.bootstrap.servers = h:1\ninstance = i\n"

START_TEST(restart_options_keep_running_values)
{
    struct sc_options running, next;

    load(&running, BASE "listen = 127.0.0.1:1\nmax_body = 4K\nworkers = 2\n");
    load(&next, "policy = /q.json\nkafka.bootstrap.servers = h:2\ninstance = i\n"
                "listen = 127.0.0.1:2\nmax_body = 64K\nworkers = 2\nlog_level = debug\n");
    ck_assert_uint_eq(sc_options_keep_restart(&next, &running), 2); /* listen, kafka.* */
    ck_assert_str_eq(next.listen, "127.0.0.1:1");
    ck_assert_str_eq(cm_kv_get(&next.kafka, "bootstrap.servers"), "h:1");
    ck_assert_uint_eq(next.max_body, 64 * 1024);
    ck_assert_str_eq(next.policy, "/q.json");
    ck_assert_int_eq(next.log_level, 3);
    ck_assert_int_eq(next.workers, 2);
    /* nothing left to differ */
    ck_assert_uint_eq(sc_options_keep_restart(&next, &running), 0);
    sc_options_fini(&running);
    sc_options_fini(&next);
}
END_TEST

START_TEST(unset_and_set_strings_and_lists)
{
    struct sc_options running, next;

    load(&running, BASE "user = steward\n");
    load(&next, BASE "kafka.acks = all\npii_key_file = /k\ntls_cert = /c.pem\n");
    /* user unset, kafka.* grew, pii_key_file set: three RESTART changes;
     * tls_cert is a reload option (the sidecar checks HTTPS on/off itself) */
    ck_assert_uint_eq(sc_options_keep_restart(&next, &running), 3);
    ck_assert_str_eq(next.user, "steward");
    ck_assert_ptr_null(next.pii_key_file);
    ck_assert_str_eq(next.tls_cert, "/c.pem");
    ck_assert_uint_eq(next.kafka.n, 1);
    ck_assert_ptr_null(cm_kv_get(&next.kafka, "acks"));
    sc_options_fini(&running);
    sc_options_fini(&next);
}
END_TEST

static Suite *
options_suite(void)
{
    Suite *s = suite_create("sc_options");
    TCase *tc = tcase_create("reload");

    tcase_add_test(tc, restart_options_keep_running_values);
    tcase_add_test(tc, unset_and_set_strings_and_lists);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(options_suite());
}
