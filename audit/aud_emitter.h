/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_emitter: takes lineage records from the request path and gets each
 * one into Kafka, or into the local spool until Kafka has it, and says so.
 * Owns the librdkafka producer (idempotent, acks=all, compression), the
 * spool (aud_spool.h), the record chains and their checkpoints
 * (aud_chain.h).  This file and the loader are the only places that call
 * rd_kafka_*.
 *
 * Threads: aud_emitter_send() may be called from any thread; it copies the
 * record onto a bounded hand-off queue and returns (it never blocks and
 * never touches the disk).  Everything else happens on the emitter's own
 * thread: stamping records into their chain, producing, serving delivery
 * reports, spooling, replay, checkpoints, and calling each record's `done`
 * callback exactly once with the record's fate.  The spool's group
 * fdatasync runs on the spool's sync thread, so that delivery reports are
 * served while the disk flushes; when it succeeds, that thread calls the
 * `done` of the records it made safe (SPOOLED) itself, so a sync answer
 * waits for one thread hop less.
 *
 * Fates: AUD_FATE_KAFKA (its delivery report said delivered), AUD_FATE_SPOOLED
 * (in the spool, written and synced as spool_fsync says: it will be replayed,
 * here or after a restart, until Kafka confirms it), AUD_FATE_DROPPED
 * (neither: counted, logged by record id; only when the spool is full or
 * broken and Kafka refused it too).  Queued is never delivered.
 *
 * Durability: SYNC writes every record to the spool and produces it at
 * once, and reports whichever comes first: KAFKA (its delivery report) or
 * SPOOLED (the spool's group fsync under spool_fsync=batch; it runs at
 * once, in the background, or waits up to spool_sync_wait for the reports
 * while the producer is healthy, so that records Kafka acknowledges in time
 * cost no disk sync); the record leaves the spool when Kafka confirms it.
 * ASYNC produces directly and spools only on trouble: a full producer queue,
 * a failed delivery report, no report within spool_after, or while earlier
 * records still wait in the spool (so a chain stays in order).  See
 * docs/ARCHITECTURE.md "Delivery guarantees".
 *
 * Kafka settings: every `kafka.*` option is passed to librdkafka unchanged
 * (bootstrap.servers, security.protocol, sasl.*, ...), after our defaults;
 * `bootstrap_file` names a file holding the bootstrap address, as the
 * embedded Kafka writes it.  The message key is the chain id, so one chain
 * stays in one partition, in order.
 */
#ifndef AUD_EMITTER_H
#define AUD_EMITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/aud_spool.h"
#include "common/cm_conf.h"
#include "common/cm_status.h"

struct aud_emitter;

enum aud_durability {
    AUD_DURABILITY_SYNC,
    AUD_DURABILITY_ASYNC,
};

enum aud_fate {
    AUD_FATE_KAFKA,
    AUD_FATE_SPOOLED,
    AUD_FATE_DROPPED,
};

/* Called once per record, on the emitter's thread (or, SPOOLED after a
 * group fsync, on the spool's sync thread); must not block and must not
 * call back into the emitter. */
typedef void aud_emitter_done_fn(void *arg, enum aud_fate fate);

struct aud_emitter_conf {
    const char *topic;              /* e.g. "steward.lineage" */
    const char *bootstrap_file;     /* may be NULL */
    const struct cm_kv_list *kafka; /* kafka.* pass-through, prefix removed;
                                       borrowed for the emitter's life (a
                                       producer is rebuilt after a fatal error) */

    const char *spool_dir;    /* spool segments, chain state, LOCK */
    uint64_t spool_max_bytes; /* disk budget */
    enum aud_spool_fsync spool_fsync;
    enum aud_durability durability;
    int64_t spool_after_us;     /* 0: never spool a record only for being slow */
    int64_t spool_sync_wait_us; /* SYNC: how long the spool's group fsync waits for
                                   delivery reports (0: it runs at once) */

    unsigned chains;                /* record chains (>= 1; one per worker) */
    const char *instance;           /* named in checkpoints */
    uint64_t checkpoint_records;    /* a checkpoint every N records (0: off) */
    int64_t checkpoint_interval_us; /* and at least every T if any (0: off) */
    const char *signing_key;        /* Ed25519 private key file, or NULL */
    int64_t stop_timeout_us;        /* aud_emitter_free's wait for reports */
};

struct aud_emitter_stats {
    uint64_t queued;      /* records taken by aud_emitter_send */
    uint64_t delivered;   /* delivery reports OK (records, replays, checkpoints) */
    uint64_t spooled;     /* appended to the spool */
    uint64_t replayed;    /* sent again from the spool */
    uint64_t dr_failed;   /* delivery reports with an error */
    uint64_t dropped;     /* lost, each logged: lineage_dropped */
    uint64_t checkpoints; /* built */
    uint64_t in_flight;   /* handed over, fate not known yet */
    uint64_t spool_bytes;
    uint64_t spool_records; /* waiting for Kafka's confirmation */
    bool spool_full;
    bool degraded; /* records are going through the spool */
};

/* Opens the spool and the chains, recovers chain state and spooled records
 * (replayed from then on), builds the producer and starts the thread.
 * Returns CM_OK with an owned emitter in *out (free with aud_emitter_free),
 * CM_EINPUT (bad kafka.* option, bootstrap file or signing key) or CM_EIO
 * (spool unusable, e.g. held by another process). */
int aud_emitter_new(const struct aud_emitter_conf *conf, struct aud_emitter **out,
                    struct cm_err *err) CM_MUSTCHECK;
/* Hands one record (JSON object text without a chain member; copied) to the
 * emitter for chain number chain.  record_id names it in logs (borrowed).
 * Any thread; never blocks.  Returns CM_OK: done (if not NULL) will be
 * called exactly once.  CM_ELIMIT: the hand-off queue is full (the disk or
 * the thread cannot keep up): not taken, counted as dropped and logged,
 * done is not called. */
int aud_emitter_send(struct aud_emitter *em, unsigned chain, const char *record_id,
                     const char *json, size_t len, aud_emitter_done_fn *done,
                     void *arg) CM_MUSTCHECK;
/* True while the spool is over its budget (the last append was refused).
 * Any thread. */
bool aud_emitter_spool_full(struct aud_emitter *em);
/* Any thread. */
void aud_emitter_stats(struct aud_emitter *em, struct aud_emitter_stats *out);
/* Waits up to timeout_ms until every record handed over is confirmed by
 * Kafka (nothing queued, in flight or left in the spool).  Any thread but
 * the emitter's.  Returns CM_OK or CM_ETIMEOUT. */
int aud_emitter_flush(struct aud_emitter *em, int timeout_ms) CM_MUSTCHECK;
/* Stops: takes every record handed over, checkpoints each chain, spools
 * what Kafka has not confirmed, waits up to stop_timeout for delivery
 * reports, calls every outstanding done, closes chains and spool, frees.
 * Whatever is still in the spool is replayed at the next start.  NULL-safe. */
void aud_emitter_free(struct aud_emitter *em);

#endif /* AUD_EMITTER_H */
