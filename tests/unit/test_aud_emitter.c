/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_emitter: the lineage producer (audit/aud_emitter.c) against
 * librdkafka's in-process mock cluster (`test.mock.num.brokers`), and
 * against a closed port for the failure paths: delivery counted only on a
 * delivery report, failures logged by record id and never by content, a
 * full queue is CM_RETRY at once, bad options and bootstrap files are
 * CM_EINPUT.  Timeouts scale with TEST_TIMEOUT_SCALE.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/aud_emitter.h"
#include "audit/aud_kafka.h"
#include "common/cm_log.h"

#define TOPIC "steward.lineage"
#define VALUE "{\"note\":\"synthetic-secret@example.com\"}"

static int
scale(int ms)
{
    const char *s = getenv("TEST_TIMEOUT_SCALE");
    int k = s != NULL ? atoi(s) : 1;

    return ms * (k > 0 ? k : 1);
}

static struct cm_kv kv_mock[] = {{"test.mock.num.brokers", "1"}};
static struct cm_kv kv_dead[] = {
    {"bootstrap.servers", "127.0.0.1:1"},
    {"message.timeout.ms", "300"},
};

START_TEST(test_deliver)
{
    struct cm_kv_list kafka = {kv_mock, CM_ARRAY_LEN(kv_mock)};
    struct aud_emitter_conf conf = {.topic = TOPIC, .kafka = &kafka};
    struct aud_emitter *em;
    struct aud_emitter_stats st;
    struct cm_err err = {{0}};

    ck_assert_msg(aud_emitter_new(&conf, &em, &err) == CM_OK, "%s", err.msg);
    for (int i = 0; i < 20; i++) {
        char key[16];

        snprintf(key, sizeof(key), "rec-%d", i);
        ck_assert_int_eq(aud_emitter_send(em, key, strlen(key), VALUE, strlen(VALUE)), CM_OK);
    }
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.queued, 20);
    ck_assert_int_eq(aud_emitter_flush(em, scale(10000)), CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.delivered, 20);
    ck_assert_uint_eq(st.failed, 0);
    ck_assert_uint_eq(st.in_flight, 0);
    aud_emitter_free(em);
}
END_TEST

/* A failed delivery is counted and logged with the key, never the value. */
START_TEST(test_delivery_failed)
{
    struct cm_kv_list kafka = {kv_dead, CM_ARRAY_LEN(kv_dead)};
    struct aud_emitter_conf conf = {.topic = TOPIC, .kafka = &kafka};
    struct aud_emitter *em;
    struct aud_emitter_stats st;
    struct cm_err err = {{0}};
    char path[] = "/tmp/test_aud_emitter.XXXXXX", log[8192];
    int fd = mkstemp(path), saved = dup(2);
    FILE *f;
    size_t n;

    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    ck_assert_msg(aud_emitter_new(&conf, &em, &err) == CM_OK, "%s", err.msg);
    ck_assert_int_eq(aud_emitter_send(em, "rec-x1", 6, VALUE, strlen(VALUE)), CM_OK);
    ck_assert_int_eq(aud_emitter_flush(em, scale(5000)), CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_uint_eq(st.delivered, 0);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.in_flight, 0);
    aud_emitter_free(em);
    dup2(saved, 2);

    f = fopen(path, "r");
    n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_msg(strstr(log, "lineage_delivery_failed record=rec-x1 err=_MSG_TIMED_OUT") != NULL,
                  "log: %s", log);
    ck_assert_msg(strstr(log, "synthetic-secret") == NULL, "log leaks the value");
}
END_TEST

START_TEST(test_queue_full)
{
    struct cm_kv kv[] = {
        {"bootstrap.servers", "127.0.0.1:1"},
        {"message.timeout.ms", "200"},
        {"queue.buffering.max.messages", "1"},
    };
    struct cm_kv_list kafka = {kv, CM_ARRAY_LEN(kv)};
    struct aud_emitter_conf conf = {.topic = TOPIC, .kafka = &kafka};
    struct aud_emitter *em;
    struct aud_emitter_stats st;
    struct cm_err err = {{0}};

    ck_assert_msg(aud_emitter_new(&conf, &em, &err) == CM_OK, "%s", err.msg);
    ck_assert_int_eq(aud_emitter_send(em, "a", 1, VALUE, strlen(VALUE)), CM_OK);
    ck_assert_int_eq(aud_emitter_send(em, "b", 1, VALUE, strlen(VALUE)), CM_RETRY);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_uint_eq(st.failed, 0);
    ck_assert_int_eq(aud_emitter_flush(em, scale(5000)), CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.failed, 1);
    aud_emitter_free(em);
}
END_TEST

/* Flushing while a record cannot be delivered in time. */
START_TEST(test_flush_timeout)
{
    struct cm_kv kv[] = {{"bootstrap.servers", "127.0.0.1:1"}};
    struct cm_kv_list kafka = {kv, CM_ARRAY_LEN(kv)};
    struct aud_emitter_conf conf = {.topic = TOPIC, .kafka = &kafka};
    struct aud_emitter *em;
    struct aud_emitter_stats st;
    struct cm_err err = {{0}};

    ck_assert_msg(aud_emitter_new(&conf, &em, &err) == CM_OK, "%s", err.msg);
    ck_assert_int_eq(aud_emitter_send(em, "a", 1, VALUE, strlen(VALUE)), CM_OK);
    ck_assert_int_eq(aud_emitter_flush(em, 200), CM_ETIMEOUT);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.in_flight, 1);
    /* free gives up after its own 5 s flush; librdkafka purges the rest. */
    aud_emitter_free(em);
}
END_TEST

/* Constructor failures: out is NULL, err says why. */
static const struct {
    const char *topic;
    const char *bootstrap_file; /* "@empty": a file holding only white space */
    const char *key, *value;
    const char *want;
} bad[] = {
    {TOPIC, NULL, "no.such.property", "1", "no.such.property"},
    {TOPIC, NULL, "acks", "sometimes", "acks"},
    {TOPIC, "/nonexistent/bootstrap", NULL, NULL, "/nonexistent/bootstrap"},
    {TOPIC, "@empty", NULL, NULL, "empty"},
    {"", NULL, NULL, NULL, "topic"},
};

START_TEST(test_new_bad)
{
    struct cm_kv kv[1] = {{(char *)bad[_i].key, (char *)bad[_i].value}};
    struct cm_kv_list kafka = {kv, bad[_i].key != NULL ? 1 : 0};
    struct aud_emitter_conf conf = {.topic = bad[_i].topic, .kafka = &kafka};
    struct aud_emitter *em = (struct aud_emitter *)&kafka;
    struct cm_err err = {{0}};
    char path[] = "/tmp/test_aud_emitter.XXXXXX";

    conf.bootstrap_file = bad[_i].bootstrap_file;
    if (conf.bootstrap_file != NULL && strcmp(conf.bootstrap_file, "@empty") == 0) {
        int fd = mkstemp(path);

        ck_assert_int_eq(write(fd, " \n\t\n", 4), 4);
        close(fd);
        conf.bootstrap_file = path;
    }
    ck_assert_int_eq(aud_emitter_new(&conf, &em, &err), CM_EINPUT);
    ck_assert_ptr_null(em);
    ck_assert_msg(strstr(err.msg, bad[_i].want) != NULL, "got '%s'", err.msg);
    if (conf.bootstrap_file == path)
        unlink(path);
}
END_TEST

START_TEST(test_bootstrap_trim)
{
    char path[] = "/tmp/test_aud_emitter.XXXXXX", addr[64];
    int fd = mkstemp(path);
    struct cm_err err = {{0}};
    const char text[] = "  127.0.0.1:39092\n";

    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(aud_kafka_read_bootstrap(path, addr, sizeof(addr), &err), CM_OK);
    ck_assert_str_eq(addr, "127.0.0.1:39092");
    ck_assert_int_eq(aud_kafka_read_bootstrap(path, addr, 8, &err), CM_EINPUT);
    unlink(path);
}
END_TEST

/* The bootstrap file is used, and kafka.* keys are applied after it (they
 * win): a dead address from the file, the mock cluster from the keys. */
START_TEST(test_passthrough_wins)
{
    char path[] = "/tmp/test_aud_emitter.XXXXXX";
    int fd = mkstemp(path);
    struct cm_kv kv[] = {{"test.mock.num.brokers", "1"}, {"message.timeout.ms", "3000"}};
    struct cm_kv_list kafka = {kv, CM_ARRAY_LEN(kv)};
    struct aud_emitter_conf conf = {.topic = TOPIC, .bootstrap_file = path, .kafka = &kafka};
    struct aud_emitter *em;
    struct aud_emitter_stats st;
    struct cm_err err = {{0}};

    ck_assert_int_eq(write(fd, "127.0.0.1:1\n", 12), 12);
    close(fd);
    ck_assert_msg(aud_emitter_new(&conf, &em, &err) == CM_OK, "%s", err.msg);
    unlink(path);
    ck_assert_int_eq(aud_emitter_send(em, "k", 1, VALUE, strlen(VALUE)), CM_OK);
    ck_assert_int_eq(aud_emitter_flush(em, scale(10000)), CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.delivered, 1);
    aud_emitter_free(em);
}
END_TEST

START_TEST(test_free_null)
{
    aud_emitter_free(NULL);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("aud_emitter");
    TCase *tc = tcase_create("emitter");

    tcase_set_timeout(tc,
                      30 * (getenv("TEST_TIMEOUT_SCALE") ? atoi(getenv("TEST_TIMEOUT_SCALE")) : 1));
    tcase_add_test(tc, test_deliver);
    tcase_add_test(tc, test_delivery_failed);
    tcase_add_test(tc, test_queue_full);
    tcase_add_test(tc, test_flush_timeout);
    tcase_add_loop_test(tc, test_new_bad, 0, CM_ARRAY_LEN(bad));
    tcase_add_test(tc, test_bootstrap_trim);
    tcase_add_test(tc, test_passthrough_wins);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr;
    int failed;

    cm_log_init("test_aud_emitter", CM_LOG_WARN);
    sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
