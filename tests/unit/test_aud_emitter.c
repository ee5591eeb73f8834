/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_emitter: the lineage emitter (audit/aud_emitter.c) against
 * librdkafka's in-process mock cluster (`test.mock.num.brokers`) and against
 * a closed port: in both durability modes every record gets exactly one
 * fate through its done callback; a record is KAFKA only on a good delivery
 * report; with Kafka unreachable or the queue full records go to the spool
 * (never dropped while the spool has room) and come back out of it, in
 * chain order, after a restart; a full spool drops and counts; failures are
 * logged by record id, never by content; bad options are CM_EINPUT; in
 * sync durability a stalled disk does not hold back what Kafka confirms,
 * and a record neither a failing disk nor Kafka holds is DROPPED, not
 * left waiting.
 * Timeouts scale with TEST_TIMEOUT_SCALE.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "audit/aud_chain.h"
#include "audit/aud_emitter.h"
#include "audit/aud_kafka.h"
#include "audit/aud_spool.h"
#include "common/cm_hash.h"
#include "common/cm_log.h"
#include "tests/unit/unit_tmpdir.h"
#include "common/cm_time.h"
#include "tests/unit/unit_main.h"

#define TOPIC "steward.lineage"
#define VALUE                                                                                      \
    "{\"record_id\":\"01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607\",\"note\":\"synthetic-secret@example." \
    "com\"}"

static int
scale(int ms)
{
    const char *s = getenv("TEST_TIMEOUT_SCALE");
    int k = s != NULL ? atoi(s) : 1;

    return ms * (k > 0 ? k : 1);
}

/* Fates reported through done (the emitter's or the spool's sync thread),
 * counted under a lock, with the name of the thread of the last one. */
static pthread_mutex_t fmu = PTHREAD_MUTEX_INITIALIZER;
static int fates[3];
static int fate_calls;
static char fate_thread[16];

static void
on_done(void *arg, enum aud_fate fate)
{
    (void)arg;
    pthread_mutex_lock(&fmu);
    fates[fate]++;
    fate_calls++;
    if (pthread_getname_np(pthread_self(), fate_thread, sizeof(fate_thread)) != 0)
        fate_thread[0] = '\0';
    pthread_mutex_unlock(&fmu);
}

static void
fates_reset(void)
{
    pthread_mutex_lock(&fmu);
    memset(fates, 0, sizeof(fates));
    fate_calls = 0;
    pthread_mutex_unlock(&fmu);
}

static int
fates_total(void)
{
    int n;

    pthread_mutex_lock(&fmu);
    n = fate_calls;
    pthread_mutex_unlock(&fmu);
    return n;
}

static void
wait_fates(int n)
{
    int64_t end = cm_mono_us() + (int64_t)scale(20000) * 1000;

    while (fates_total() < n) {
        ck_assert_msg(cm_mono_us() < end, "only %d of %d fates", fates_total(), n);
        usleep(2000);
    }
}

static struct cm_kv kv_mock[] = {{"test.mock.num.brokers", "1"}};
static struct cm_kv kv_dead[] = {
    {"bootstrap.servers", "127.0.0.1:1"},
    {"message.timeout.ms", "300"},
};

static struct aud_emitter_conf
conf_of(struct cm_kv_list *kafka, enum aud_durability d)
{
    struct aud_emitter_conf c = {
        .topic = TOPIC,
        .kafka = kafka,
        .spool_dir = unit_dir,
        .spool_max_bytes = 1 << 20,
        .spool_fsync = AUD_SPOOL_FSYNC_BATCH,
        .durability = d,
        .chains = 1,
        .instance = "unit",
        .stop_timeout_us = 2000000,
    };
    return c;
}

static struct aud_emitter *
emitter(const struct aud_emitter_conf *c)
{
    struct aud_emitter *em = NULL;
    struct cm_err err = {{0}};

    ck_assert_msg(aud_emitter_new(c, &em, &err) == CM_OK, "%s", err.msg);
    return em;
}

static void
send_n(struct aud_emitter *em, int n, bool done)
{
    for (int i = 0; i < n; i++) {
        char id[32];

        snprintf(id, sizeof(id), "rec-%d", i);
        ck_assert_int_eq(
            aud_emitter_send(em, 0, id, VALUE, strlen(VALUE), done ? on_done : NULL, NULL), CM_OK);
    }
}

static void
deliver(enum aud_durability d, int64_t sync_wait_us)
{
    struct cm_kv_list kafka = {kv_mock, CM_ARRAY_LEN(kv_mock)};
    struct aud_emitter_conf c = conf_of(&kafka, d);
    struct aud_emitter *em;
    struct aud_emitter_stats st;

    c.checkpoint_records = 7;
    c.spool_sync_wait_us = sync_wait_us;
    fates_reset();
    em = emitter(&c);
    send_n(em, 20, true);
    wait_fates(20);
    ck_assert_int_eq(aud_emitter_flush(em, scale(10000)), CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.queued, 20);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.dropped, 0);
    ck_assert_uint_eq(st.checkpoints, 2);
    ck_assert_uint_eq(st.delivered, 22); /* records and checkpoints */
    ck_assert_uint_eq(st.spool_records, 0);
    ck_assert_int_eq(fates[AUD_FATE_DROPPED], 0);
    if (d == AUD_DURABILITY_ASYNC) {
        ck_assert_int_eq(fates[AUD_FATE_KAFKA], 20);
        ck_assert_uint_eq(st.spooled, 0);
    } else if (sync_wait_us == 0) {
        /* spooled and produced; the group fsync starts at once, and with
         * linger.ms 5 it nearly always ends before the report comes (a disk
         * that stalls longer lets the report win: test_slow_disk) */
        ck_assert_int_eq(fates[AUD_FATE_SPOOLED] + fates[AUD_FATE_KAFKA], 20);
        ck_assert_uint_eq(st.spooled, 22);
    } else {
        /* the fsync waits for the reports, which come well within 5 s */
        ck_assert_int_eq(fates[AUD_FATE_KAFKA], 20);
        ck_assert_uint_eq(st.spooled, 22);
    }
    aud_emitter_free(em);
}

START_TEST(test_deliver_async)
{
    deliver(AUD_DURABILITY_ASYNC, 0);
}
END_TEST

START_TEST(test_deliver_sync)
{
    deliver(AUD_DURABILITY_SYNC, 0);
}
END_TEST

START_TEST(test_deliver_sync_waits_for_reports)
{
    deliver(AUD_DURABILITY_SYNC, 5000000);
}
END_TEST

/* The spool's (and the chain state's) fdatasync, wrapped at link time
 * (tests/unit/audit.mk): while sync_delay_us is set it takes that long, as
 * on a stalled disk, and in_sync says that one is running. */
static atomic_int_fast64_t sync_delay_us;
static atomic_int in_sync;
static atomic_bool sync_fails; /* EIO, as from a failing disk */
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

int
__wrap_fdatasync(int fd)
{
    int64_t d = atomic_load(&sync_delay_us);
    int rc;

    if (atomic_load(&sync_fails)) {
        errno = EIO;
        return -1;
    }
    atomic_fetch_add(&in_sync, 1);
    if (d > 0)
        usleep((useconds_t)d);
    rc = __real_fdatasync(fd);
    atomic_fetch_sub(&in_sync, 1);
    return rc;
}

/* rd_kafka_new, wrapped the same way: the newest producer, whose mock
 * cluster a test can then degrade. */
static rd_kafka_t *last_rk;
rd_kafka_t *__real_rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                                size_t errstr_size);
rd_kafka_t *__wrap_rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                                size_t errstr_size);

rd_kafka_t *
__wrap_rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
    rd_kafka_t *rk = __real_rd_kafka_new(type, conf, errstr, errstr_size);

    if (rk != NULL)
        last_rk = rk;
    return rk;
}

/* A sync-durability emitter on the mock cluster (linger.ms 0) that has
 * delivered one record, fates reset; *mc: its mock cluster. */
static struct aud_emitter *
sync_emitter_warm(rd_kafka_mock_cluster_t **mc)
{
    static struct cm_kv kv[] = {{"test.mock.num.brokers", "1"}, {"linger.ms", "0"}};
    static struct cm_kv_list kafka = {kv, CM_ARRAY_LEN(kv)};
    struct aud_emitter_conf c = conf_of(&kafka, AUD_DURABILITY_SYNC);
    struct aud_emitter *em;

    fates_reset();
    em = emitter(&c);
    send_n(em, 1, true);
    wait_fates(1);
    ck_assert_int_eq(aud_emitter_flush(em, scale(10000)), CM_OK); /* its request is done */
    fates_reset();
    *mc = rd_kafka_handle_mock_cluster(last_rk);
    ck_assert_ptr_nonnull(*mc);
    return em;
}

/* sync durability while the disk stalls: the group fsync runs on the
 * spool's sync thread, the emitter goes on serving delivery reports, and
 * each answer is released by Kafka's report (KAFKA) while the fsync still
 * runs.  (Were the fsync on the emitter's thread, no report could be
 * served before it ended, and every fate would be SPOOLED.) */
START_TEST(test_slow_disk)
{
    rd_kafka_mock_cluster_t *mc;
    struct aud_emitter *em = sync_emitter_warm(&mc); /* connected, the topic exists */
    struct aud_emitter_stats st;

    atomic_store(&sync_delay_us, (int64_t)scale(3000) * 1000);
    send_n(em, 5, true);
    wait_fates(5);
    ck_assert_int_gt(atomic_load(&in_sync), 0); /* the stalled sync still runs */
    ck_assert_int_eq(fates[AUD_FATE_KAFKA], 5);
    atomic_store(&sync_delay_us, 0);
    ck_assert_int_eq(aud_emitter_flush(em, scale(10000)), CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.dropped, 0);
    ck_assert_uint_eq(st.spool_records, 0);
    aud_emitter_free(em);
}
END_TEST

/* sync durability, a double fault: the spool's sync fails (EIO) while Kafka
 * has the record, then its delivery fails too.  Neither holds it, so its
 * fate is DROPPED, said once: the answer is not left waiting for a replay.
 * (The report is slowed down by the mock broker's round trip so that the
 * sync fails first; on the other order the sync's failure drops it.) */
START_TEST(test_sync_and_delivery_fail)
{
    rd_kafka_mock_cluster_t *mc;
    struct aud_emitter *em = sync_emitter_warm(&mc);
    struct aud_emitter_stats st;

    rd_kafka_mock_broker_set_rtt(mc, 1, 500);
    rd_kafka_mock_push_request_errors(mc, 0 /* ApiKey Produce */, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    atomic_store(&sync_fails, true);
    send_n(em, 1, true);
    wait_fates(1);
    ck_assert_int_eq(fates[AUD_FATE_DROPPED], 1);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.dropped, 1);
    atomic_store(&sync_fails, false);
    rd_kafka_mock_broker_set_rtt(mc, 1, 0);
    aud_emitter_free(em);
}
END_TEST

/* The mock cluster's broker goes down; returns once the emitter knows
 * (degraded: records go to the spool alone), fates reset. */
static void
kafka_down(struct aud_emitter *em, rd_kafka_mock_cluster_t *mc)
{
    int64_t end = cm_mono_us() + (int64_t)scale(20000) * 1000;
    struct aud_emitter_stats st;

    rd_kafka_mock_broker_set_down(mc, 1);
    do {
        ck_assert_msg(cm_mono_us() < end, "not degraded");
        usleep(5000);
        aud_emitter_stats(em, &st);
    } while (!st.degraded);
    fates_reset();
}

/* sync durability, a record only the spool has: its answer is released by
 * the spool's sync thread as soon as the group fsync succeeds (SPOOLED),
 * not by a further hop through the emitter's thread. */
START_TEST(test_sync_answer_from_sync_thread)
{
    rd_kafka_mock_cluster_t *mc;
    struct aud_emitter *em = sync_emitter_warm(&mc);

    kafka_down(em, mc);
    send_n(em, 1, true);
    wait_fates(1);
    pthread_mutex_lock(&fmu);
    ck_assert_int_eq(fates[AUD_FATE_SPOOLED], 1);
    ck_assert_str_eq(fate_thread, "st:spool-sync");
    pthread_mutex_unlock(&fmu);
    rd_kafka_mock_broker_set_up(mc, 1);
    aud_emitter_free(em);
}
END_TEST

/* sync durability, Kafka down and the disk failing: a record only the
 * spool has, whose sync fails, is DROPPED spool_sync_failed at once, and
 * once both are back the next record is delivered. */
START_TEST(test_sync_fails_kafka_down)
{
    rd_kafka_mock_cluster_t *mc;
    struct aud_emitter *em = sync_emitter_warm(&mc);
    struct aud_emitter_stats st;

    kafka_down(em, mc);
    atomic_store(&sync_fails, true);
    send_n(em, 1, true);
    wait_fates(1);
    ck_assert_int_eq(fates[AUD_FATE_DROPPED], 1);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.dropped, 1);

    atomic_store(&sync_fails, false);
    rd_kafka_mock_broker_set_up(mc, 1);
    fates_reset();
    send_n(em, 1, true);
    wait_fates(1);
    ck_assert_int_eq(fates[AUD_FATE_DROPPED], 0);
    aud_emitter_free(em);
}
END_TEST

/* Walks the spool's records: seq 1..n of one chain, each linked to the hash
 * of the one before.  The frames are checked in seq order: when every broker
 * is down, a record whose delivery failed and one queued after it may reach
 * the spool in either order; the chain, not the file order, is what the
 * loader and verify rely on. */
#define WALK_MAX 64
struct walk {
    int n;
    char chain[CM_UUID_STR_LEN];
    bool broken;
    struct {
        uint64_t seq;
        char prev[CM_SHA256_HEX_LEN];
        uint8_t hash[CM_SHA256_LEN];
    } f[WALK_MAX];
};

static void
walk_frame(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    struct walk *w = arg;
    struct aud_chain_link link;

    if (aud_chain_link_parse(val, vlen, &link, NULL) != CM_OK)
        return; /* a checkpoint */
    if (w->n == 0)
        snprintf(w->chain, sizeof(w->chain), "%s", link.chain_id);
    if (w->n == WALK_MAX || klen != 36 || memcmp(key, w->chain, 36) != 0 ||
        strcmp(link.chain_id, w->chain) != 0) {
        w->broken = true;
        return;
    }
    w->f[w->n].seq = link.seq;
    snprintf(w->f[w->n].prev, sizeof(w->f[w->n].prev), "%s", link.prev);
    cm_sha256(val, vlen, w->f[w->n].hash);
    w->n++;
}

/* True when the frames are seq 1..n, each linked to its predecessor. */
static bool
walk_linked(struct walk *w)
{
    char want[CM_SHA256_HEX_LEN];
    uint8_t zero[CM_SHA256_LEN] = {0};

    for (int i = 1; i < w->n; i++) /* insertion sort by seq */
        for (int j = i; j > 0 && w->f[j - 1].seq > w->f[j].seq; j--) {
            __typeof__(w->f[0]) t = w->f[j];

            w->f[j] = w->f[j - 1];
            w->f[j - 1] = t;
        }
    for (int i = 0; i < w->n; i++) {
        cm_hex(i == 0 ? zero : w->f[i - 1].hash, CM_SHA256_LEN, want);
        if (w->f[i].seq != (uint64_t)i + 1 || strcmp(w->f[i].prev, want) != 0)
            return false;
    }
    return !w->broken;
}

/* Kafka unreachable, async: every record ends in the spool (not dropped),
 * stamped in chain order; a restart with Kafka back replays all of them. */
START_TEST(test_unreachable_spools_then_replays)
{
    struct cm_kv_list dead = {kv_dead, CM_ARRAY_LEN(kv_dead)};
    struct cm_kv_list mock = {kv_mock, CM_ARRAY_LEN(kv_mock)};
    struct aud_emitter_conf c = conf_of(&dead, AUD_DURABILITY_ASYNC);
    struct aud_spool_conf sc = {.dir = unit_dir, .max_bytes = 1 << 20};
    struct aud_emitter *em;
    struct aud_emitter_stats st;
    struct aud_spool *sp;
    struct walk w = {0};
    struct cm_err err = {{0}};

    fates_reset();
    em = emitter(&c);
    send_n(em, 10, true);
    wait_fates(10);
    ck_assert_int_eq(fates[AUD_FATE_SPOOLED], 10);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.dropped, 0);
    ck_assert(st.degraded); /* all brokers down, or failed reports */
    ck_assert_int_eq(aud_emitter_flush(em, 200), CM_ETIMEOUT);
    aud_emitter_free(em);

    sc.on_frame = walk_frame;
    sc.on_frame_arg = &w;
    ck_assert_msg(aud_spool_open(&sc, &sp, &err) == CM_OK, "%s", err.msg);
    aud_spool_close(sp);
    ck_assert_int_eq(w.n, 10);
    ck_assert(walk_linked(&w));

    c = conf_of(&mock, AUD_DURABILITY_ASYNC);
    em = emitter(&c);
    ck_assert_int_eq(aud_emitter_flush(em, scale(10000)), CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert_uint_ge(st.replayed, 10);
    ck_assert_uint_eq(st.spool_records, 0);
    aud_emitter_free(em);
}
END_TEST

/* The chain continues across restarts: seq goes on, prev is the hash of
 * the last record of the previous run. */
START_TEST(test_chain_continues)
{
    struct cm_kv_list dead = {kv_dead, CM_ARRAY_LEN(kv_dead)};
    struct aud_emitter_conf c = conf_of(&dead, AUD_DURABILITY_SYNC);
    struct aud_spool_conf sc = {.dir = unit_dir, .max_bytes = 1 << 20};
    struct aud_emitter *em;
    struct aud_spool *sp;
    struct walk w = {0};
    struct cm_err err = {{0}};

    fates_reset();
    em = emitter(&c);
    send_n(em, 4, true);
    wait_fates(4);
    aud_emitter_free(em);
    em = emitter(&c);
    send_n(em, 3, true);
    wait_fates(7);
    ck_assert_int_eq(fates[AUD_FATE_SPOOLED], 7);
    aud_emitter_free(em);

    sc.on_frame = walk_frame;
    sc.on_frame_arg = &w;
    ck_assert_msg(aud_spool_open(&sc, &sp, &err) == CM_OK, "%s", err.msg);
    aud_spool_close(sp);
    ck_assert_int_eq(w.n, 7);
    ck_assert(walk_linked(&w));
}
END_TEST

/* A full producer queue never blocks and never loses: the spool takes the
 * overflow, and the replay delivers it once the queue drains. */
START_TEST(test_queue_full_spools)
{
    struct cm_kv kv[] = {
        {"test.mock.num.brokers", "1"},
        {"linger.ms", "300"},
        {"queue.buffering.max.messages", "1"},
    };
    struct cm_kv_list kafka = {kv, CM_ARRAY_LEN(kv)};
    struct aud_emitter_conf c = conf_of(&kafka, AUD_DURABILITY_ASYNC);
    struct aud_emitter *em;
    struct aud_emitter_stats st;

    fates_reset();
    em = emitter(&c);
    send_n(em, 5, true);
    wait_fates(5);
    ck_assert_int_eq(fates[AUD_FATE_DROPPED], 0);
    ck_assert_int_ge(fates[AUD_FATE_SPOOLED], 3);
    ck_assert_int_eq(aud_emitter_flush(em, scale(10000)), CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert_uint_eq(st.dropped, 0);
    ck_assert_uint_ge(st.replayed, 3);
    ck_assert_uint_eq(st.delivered, 5);
    aud_emitter_free(em);
}
END_TEST

/* Spool over budget and Kafka gone: dropped, counted, logged by id. */
START_TEST(test_spool_full_drops_and_says_so)
{
    struct cm_kv_list kafka = {kv_dead, CM_ARRAY_LEN(kv_dead)};
    struct aud_emitter_conf c = conf_of(&kafka, AUD_DURABILITY_SYNC);
    struct aud_emitter *em;
    struct aud_emitter_stats st;
    char path[] = "/tmp/test_aud_emitter_log.XXXXXX", log[16384];
    int fd = mkstemp(path), saved = dup(2);
    FILE *f;
    size_t n;

    c.spool_max_bytes = 64 * 1024;
    fates_reset();
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    em = emitter(&c);
    for (int i = 0; i < 2000 && !aud_emitter_spool_full(em); i++) {
        char big[2048];

        memset(big, 'a', sizeof(big));
        big[0] = '{';
        big[1] = '"';
        big[sizeof(big) - 3] = '"';
        big[sizeof(big) - 2] = ':';
        big[sizeof(big) - 1] = '}';
        ck_assert_int_eq(aud_emitter_send(em, 0, "rec-big", big, sizeof(big), on_done, NULL),
                         CM_OK);
        if (i % 10 == 9)
            wait_fates(i + 1);
    }
    ck_assert(aud_emitter_spool_full(em));
    ck_assert_int_eq(aud_emitter_send(em, 0, "rec-last", VALUE, strlen(VALUE), on_done, NULL),
                     CM_OK);
    aud_emitter_stats(em, &st);
    ck_assert(st.spool_full);
    aud_emitter_free(em);
    dup2(saved, 2);
    close(saved);
    ck_assert_int_gt(fates[AUD_FATE_DROPPED], 0);
    ck_assert_int_eq(fates[AUD_FATE_KAFKA], 0);

    f = fopen(path, "r");
    n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_msg(strstr(log, "lineage_spool_full") != NULL, "log: %s", log);
    ck_assert_msg(strstr(log, "lineage_dropped record=rec-") != NULL, "log: %s", log);
    ck_assert_msg(strstr(log, "synthetic-secret") == NULL, "log leaks the value");
}
END_TEST

START_TEST(test_send_not_an_object)
{
    struct cm_kv_list kafka = {kv_mock, CM_ARRAY_LEN(kv_mock)};
    struct aud_emitter_conf c = conf_of(&kafka, AUD_DURABILITY_ASYNC);
    struct aud_emitter *em = emitter(&c);

    ck_assert_int_eq(aud_emitter_send(em, 0, "x", "[1]", 3, NULL, NULL), CM_EINPUT);
    ck_assert_int_eq(aud_emitter_send(em, 1, "x", VALUE, strlen(VALUE), NULL, NULL), CM_EINPUT);
    aud_emitter_free(em);
}
END_TEST

START_TEST(test_spool_dir_locked)
{
    struct cm_kv_list kafka = {kv_mock, CM_ARRAY_LEN(kv_mock)};
    struct aud_emitter_conf c = conf_of(&kafka, AUD_DURABILITY_ASYNC);
    struct aud_emitter *em = emitter(&c), *em2 = NULL;
    struct cm_err err = {{0}};

    ck_assert_int_eq(aud_emitter_new(&c, &em2, &err), CM_EIO);
    ck_assert_ptr_null(em2);
    ck_assert_ptr_nonnull(strstr(err.msg, "in use"));
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
    struct aud_emitter_conf conf = conf_of(&kafka, AUD_DURABILITY_SYNC);
    struct aud_emitter *em = (struct aud_emitter *)&kafka;
    struct cm_err err = {{0}};
    char path[] = "/tmp/test_aud_emitter.XXXXXX";

    conf.topic = bad[_i].topic;
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
    struct aud_emitter_conf conf = conf_of(&kafka, AUD_DURABILITY_ASYNC);
    struct aud_emitter *em;
    struct aud_emitter_stats st;

    ck_assert_int_eq(write(fd, "127.0.0.1:1\n", 12), 12);
    close(fd);
    conf.bootstrap_file = path;
    em = emitter(&conf);
    unlink(path);
    ck_assert_int_eq(aud_emitter_send(em, 0, "k", VALUE, strlen(VALUE), NULL, NULL), CM_OK);
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

    tcase_add_checked_fixture(tc, unit_tmpdir_setup, unit_tmpdir_teardown);
    tcase_set_timeout(tc,
                      60 * (getenv("TEST_TIMEOUT_SCALE") ? atoi(getenv("TEST_TIMEOUT_SCALE")) : 1));
    tcase_add_test(tc, test_deliver_async);
    tcase_add_test(tc, test_deliver_sync);
    tcase_add_test(tc, test_deliver_sync_waits_for_reports);
    tcase_add_test(tc, test_slow_disk);
    tcase_add_test(tc, test_sync_and_delivery_fail);
    tcase_add_test(tc, test_sync_answer_from_sync_thread);
    tcase_add_test(tc, test_sync_fails_kafka_down);
    tcase_add_test(tc, test_unreachable_spools_then_replays);
    tcase_add_test(tc, test_chain_continues);
    tcase_add_test(tc, test_queue_full_spools);
    tcase_add_test(tc, test_spool_full_drops_and_says_so);
    tcase_add_test(tc, test_send_not_an_object);
    tcase_add_test(tc, test_spool_dir_locked);
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
    cm_log_init("test_aud_emitter", CM_LOG_WARN);
    return unit_run(suite());
}
