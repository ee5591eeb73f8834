/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_emitter: the lineage producer.  See aud_emitter.h for the contract.
 *
 * Design: one idempotent librdkafka producer (acks=all, lz4, linger 5 ms,
 * reconnect back-off 100 ms..1 s since the 10 s default doubles the recovery
 * after an outage), with every `kafka.*` option applied last so operators
 * can override any of it.  aud_emitter_send() copies the bytes
 * (RD_KAFKA_MSG_F_COPY) and never blocks: a full queue is CM_RETRY.  A
 * thread owned by the emitter serves delivery reports (rd_kafka_poll every
 * 100 ms); the counters are atomics because send runs on worker threads and
 * the reports on that thread.  A record counts as delivered only in its
 * delivery report; a failed one is logged by its key (the record id), never
 * by content.
 *
 * Not here yet: the disk spool that keeps undelivered records (the msg
 * opaque will point at the spool entry; see STYLE.md B5).
 */
#include "audit/aud_emitter.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "audit/aud_kafka.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"

#define AUD_FREE_FLUSH_MS 5000

struct aud_emitter {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    pthread_t poller;
    bool poller_started;
    atomic_bool stop;

    atomic_uint_fast64_t accepted;  /* queued by send */
    atomic_uint_fast64_t delivered; /* delivery report OK */
    atomic_uint_fast64_t dr_failed; /* delivery report error */
    atomic_uint_fast64_t refused;   /* send failed other than queue full */
};

/* Delivery reports: the poll thread (or a thread inside aud_emitter_flush). */
static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct aud_emitter *em = opaque;
    char key[80];

    (void)rk;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&em->delivered, 1);
        return;
    }
    atomic_fetch_add(&em->dr_failed, 1);
    if (msg->key != NULL && msg->key_len > 0) {
        char raw[64];
        size_t n = msg->key_len < sizeof(raw) - 1 ? msg->key_len : sizeof(raw) - 1;

        memcpy(raw, msg->key, n);
        raw[n] = '\0';
        cm_log_quote(raw, key, sizeof(key));
    } else {
        strcpy(key, "-");
    }
    cm_log_err("audit", "lineage_delivery_failed record=%s err=%s", key,
               rd_kafka_err2name(msg->err));
}

static void *
poll_main(void *arg)
{
    struct aud_emitter *em = arg;

    while (!atomic_load(&em->stop))
        rd_kafka_poll(em->rk, 100);
    return NULL;
}

static int
conf_build(const struct aud_emitter_conf *conf, struct aud_emitter *em, rd_kafka_conf_t **out,
           struct cm_err *err)
{
    static const char *const defaults[][2] = {
        {"enable.idempotence", "true"},   {"acks", "all"},
        {"compression.type", "lz4"},      {"linger.ms", "5"},
        {"reconnect.backoff.ms", "100"},  {"reconnect.backoff.max.ms", "1000"},
        {"message.timeout.ms", "300000"}, {"client.id", "steward"},
    };
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc;

    for (size_t i = 0; i < CM_ARRAY_LEN(defaults); i++) {
        rc = aud_kafka_conf_set(kc, defaults[i][0], defaults[i][1], err);
        if (rc != CM_OK)
            goto fail;
    }
    rc = aud_kafka_conf_apply(kc, conf->bootstrap_file, conf->kafka, err);
    if (rc != CM_OK)
        goto fail;
    rd_kafka_conf_set_opaque(kc, em);
    rd_kafka_conf_set_dr_msg_cb(kc, dr_msg_cb);
    aud_kafka_conf_log(kc);
    *out = kc;
    return CM_OK;

fail:
    rd_kafka_conf_destroy(kc);
    return rc;
}

int
aud_emitter_new(const struct aud_emitter_conf *conf, struct aud_emitter **out, struct cm_err *err)
{
    struct aud_emitter *em = cm_calloc(1, sizeof(*em));
    rd_kafka_conf_t *kc = NULL;
    char errstr[512];
    int rc;

    *out = NULL;
    atomic_init(&em->stop, false);
    atomic_init(&em->accepted, 0);
    atomic_init(&em->delivered, 0);
    atomic_init(&em->dr_failed, 0);
    atomic_init(&em->refused, 0);
    if (conf->topic == NULL || conf->topic[0] == '\0') {
        rc = cm_err_set(err, CM_EINPUT, "lineage topic is empty");
        goto fail;
    }
    rc = conf_build(conf, em, &kc, err);
    if (rc != CM_OK)
        goto fail;
    em->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    if (em->rk == NULL) {
        /* rd_kafka_new keeps the conf only on success. */
        rd_kafka_conf_destroy(kc);
        rc = cm_err_set(err, CM_EINPUT, "kafka producer: %s", errstr);
        goto fail;
    }
    em->rkt = rd_kafka_topic_new(em->rk, conf->topic, NULL);
    if (em->rkt == NULL) {
        rc = cm_err_set(err, CM_EINPUT, "kafka topic %s: %s", conf->topic,
                        rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    if (pthread_create(&em->poller, NULL, poll_main, em) != 0) {
        rc = cm_err_set(err, CM_EINTERNAL, "cannot start the delivery-report thread");
        goto fail;
    }
    em->poller_started = true;
    cm_log_info("audit", "emitter_started topic=%s", conf->topic);
    *out = em;
    return CM_OK;

fail:
    if (em->rkt != NULL)
        rd_kafka_topic_destroy(em->rkt);
    if (em->rk != NULL)
        rd_kafka_destroy(em->rk);
    free(em);
    return rc;
}

int
aud_emitter_send(struct aud_emitter *em, const char *key, size_t keylen, const char *json,
                 size_t len)
{
    rd_kafka_resp_err_t kerr;

    /* Count before producing: the report may arrive before producev returns. */
    atomic_fetch_add(&em->accepted, 1);
    kerr = rd_kafka_producev(em->rk, RD_KAFKA_V_RKT(em->rkt),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, keylen),
                             RD_KAFKA_V_VALUE((void *)(uintptr_t)json, len), RD_KAFKA_V_END);
    if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
        return CM_OK;
    atomic_fetch_sub(&em->accepted, 1);
    if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return CM_RETRY;
    atomic_fetch_add(&em->refused, 1);
    cm_log_err("audit", "lineage_send_failed err=%s len=%zu", rd_kafka_err2name(kerr), len);
    return CM_EIO;
}

void
aud_emitter_stats(struct aud_emitter *em, struct aud_emitter_stats *out)
{
    /* Reports first, then accepted: accepted is bumped before a message can
     * have a report, so in_flight never goes below zero. */
    uint64_t delivered = atomic_load(&em->delivered);
    uint64_t dr_failed = atomic_load(&em->dr_failed);
    uint64_t refused = atomic_load(&em->refused);
    uint64_t accepted = atomic_load(&em->accepted);

    out->queued = accepted;
    out->delivered = delivered;
    out->failed = dr_failed + refused;
    out->in_flight = accepted - delivered - dr_failed;
}

static uint64_t
in_flight(struct aud_emitter *em)
{
    struct aud_emitter_stats st;

    aud_emitter_stats(em, &st);
    return st.in_flight;
}

int
aud_emitter_flush(struct aud_emitter *em, int timeout_ms)
{
    int64_t deadline = cm_mono_us() + (int64_t)timeout_ms * 1000;

    (void)rd_kafka_flush(em->rk, timeout_ms);
    /* The out-queue can be empty while the poll thread is still inside the
     * last delivery callback: wait for the counters too. */
    while (in_flight(em) > 0) {
        int64_t left = deadline - cm_mono_us();

        if (left <= 0)
            return CM_ETIMEOUT;
        rd_kafka_poll(em->rk, left > 10000 ? 10 : (int)(left / 1000) + 1);
    }
    return CM_OK;
}

void
aud_emitter_free(struct aud_emitter *em)
{
    struct aud_emitter_stats st;

    if (em == NULL)
        return;
    if (aud_emitter_flush(em, AUD_FREE_FLUSH_MS) != CM_OK)
        cm_log_warn("audit", "emitter_flush_timeout in_flight=%llu",
                    (unsigned long long)in_flight(em));
    atomic_store(&em->stop, true);
    if (em->poller_started)
        pthread_join(em->poller, NULL);
    aud_emitter_stats(em, &st);
    cm_log_info("audit", "emitter_stopped queued=%llu delivered=%llu failed=%llu in_flight=%llu",
                (unsigned long long)st.queued, (unsigned long long)st.delivered,
                (unsigned long long)st.failed, (unsigned long long)st.in_flight);
    rd_kafka_topic_destroy(em->rkt);
    rd_kafka_destroy(em->rk);
    free(em);
}
