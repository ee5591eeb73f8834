/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_emitter: sends lineage records to Kafka with librdkafka (idempotent
 * producer, acks=all, compression, delivery reports).  This file and the
 * loader are the only places that call rd_kafka_*.
 *
 * A record counts as delivered only when its delivery report says so;
 * queued is not delivered.  Delivery reports are served by a thread the
 * emitter owns.  A failed delivery is logged with the record id and counted
 * (the disk spool that keeps such records arrives with the lineage issue).
 *
 * Kafka settings: every `kafka.*` option of the owner's config is passed to
 * librdkafka unchanged (bootstrap.servers, security.protocol, sasl.*, ...);
 * `bootstrap_file` names a file holding the bootstrap address, as the
 * embedded Kafka writes it.
 */
#ifndef AUD_EMITTER_H
#define AUD_EMITTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/cm_conf.h"
#include "common/cm_status.h"

struct aud_emitter;

struct aud_emitter_conf {
    const char *topic;                /* e.g. "steward.lineage" */
    const char *bootstrap_file;       /* may be NULL */
    const struct cm_kv_list *kafka;   /* kafka.* pass-through, prefix removed */
};

struct aud_emitter_stats {
    uint64_t queued;    /* accepted by aud_emitter_send */
    uint64_t delivered; /* delivery report OK */
    uint64_t failed;    /* delivery report error, or refused at send */
    uint64_t in_flight; /* queued - delivered - failed */
};

/* Returns CM_OK with an owned emitter in *out (free with aud_emitter_free),
 * or CM_EINPUT (bad kafka.* option, unreadable bootstrap file). */
int aud_emitter_new(const struct aud_emitter_conf *conf, struct aud_emitter **out,
                    struct cm_err *err) CM_MUSTCHECK;
/* Queues one record (the bytes are copied).  key orders records within a
 * partition (the record id or chain).  Any thread.  Returns CM_OK, CM_RETRY
 * (the producer queue is full: never blocks) or CM_EIO. */
int aud_emitter_send(struct aud_emitter *em, const char *key, size_t keylen, const char *json,
                     size_t len) CM_MUSTCHECK;
void aud_emitter_stats(struct aud_emitter *em, struct aud_emitter_stats *out);
/* Waits up to timeout_ms for every queued record's delivery report.
 * Returns CM_OK or CM_ETIMEOUT. */
int aud_emitter_flush(struct aud_emitter *em, int timeout_ms) CM_MUSTCHECK;
/* Flushes for at most 5 s, logs what is still in flight, frees. NULL-safe. */
void aud_emitter_free(struct aud_emitter *em);

#endif /* AUD_EMITTER_H */
