/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_emitter: the lineage producer, spool and chains on one thread.  See
 * aud_emitter.h for the contract and docs/ARCHITECTURE.md for the delivery
 * guarantees it gives.
 *
 * The emitter thread sleeps in poll() on one eventfd, written by
 * aud_emitter_send() when the hand-off queue turns non-empty and by
 * librdkafka when its main queue (delivery reports, errors) does
 * (rd_kafka_queue_io_event_enable), with a 50 ms tick for timers.  Each
 * round: serve delivery reports; take the hand-off queue and place each
 * record (stamp it into its chain, then spool and/or produce); spool the
 * records that waited longer than spool_after for a report; checkpoints;
 * the group fdatasync (sync_and_settle: started on the spool's sync thread
 * for what was spooled since the last one; at its end that thread calls
 * the covered records' done callbacks, synced(), and wakes this one);
 * replay pending spooled records (at most EM_REPLAY_WINDOW in flight).
 *
 * Every record is a struct em_rec, the producer's opaque: its bytes (not
 * copied by librdkafka), where it is (in Kafka's queue, in the spool, both),
 * and whether its done was called.  It is freed when it is neither in
 * Kafka's queue nor waiting for an fsync (the next one, or the one running)
 * and its fate is known.
 *
 * Routing (docs/ARCHITECTURE.md): a record goes through the spool in SYNC
 * mode, while degraded (a failed report, a full queue, no report within
 * spool_after, all brokers down: cleared by the next good report), and while
 * older records still wait in the spool; it is also produced at once when
 * nothing waits before it.  Otherwise it is produced directly.  A full spool
 * falls back to producing; a record neither Kafka nor the spool takes is
 * dropped, counted and logged, never silently.
 *
 * After a fatal producer error (idempotence state lost) the producer is
 * purged, its records go to the spool, and a new producer is built.
 */
#include "audit/aud_emitter.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "audit/aud_chain.h"
#include "audit/aud_kafka.h"
#include "audit/aud_sign.h"
#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"

#define EM_MAX_QUEUED 65536
#define EM_MAX_QUEUED_BYTES (64u << 20)
#define EM_REPLAY_WINDOW 1000
#define EM_TICK_MS 50
#define EM_BACKOFF_MIN_US (200 * 1000LL)
#define EM_BACKOFF_MAX_US (1000000LL) /* librdkafka itself retried for message.timeout.ms */
#define EM_STOP_STALL_US (1500000LL)  /* stop: give up on the spool after this without progress */
#define EM_LOG_EVERY_US (10 * 1000000LL)
#define EM_LOG_BURST 20
#define EM_STATS_EVERY_US (60 * 1000000LL)
#define EM_MAX_CHAINS 256
#define EM_CHAIN_ROOM 160 /* bytes the chain member adds */

enum em_kind {
    EM_RECORD,
    EM_CHECKPOINT,
    EM_REPLAY,
};

struct em_rec {
    struct em_rec *next;          /* hand-off queue, or the fsync wait list */
    struct em_rec *fprev, *fnext; /* in-flight list: produced, no report yet */
    unsigned chain;
    enum em_kind kind;
    bool in_kafka;
    bool in_spool;
    atomic_bool settled; /* fate known and done called (or nothing to call) */
    bool wait_sync;      /* on a wait list */
    bool sync_failed;    /* its spool sync failed while Kafka had it */
    uint64_t spool_id;
    int64_t sent_us;
    aud_emitter_done_fn *done;
    void *arg;
    const char *key; /* the chain id, or key_owned */
    size_t klen;
    char *key_owned;
    char id[CM_UUID_STR_LEN]; /* record id for logs; "" when unknown */
    struct cm_buf buf;
};

struct em_chain {
    struct aud_chain *c;
    char id[CM_UUID_STR_LEN];
    int64_t next_cp_us;
};

/* Newest record per chain found in the spool at open. */
struct em_seen {
    char chain_id[CM_UUID_STR_LEN];
    uint64_t seq;
    uint8_t hash[CM_SHA256_LEN];
};

/* A log line that may repeat a lot: the first EM_LOG_BURST per 10 s, then a
 * count of the ones left out. */
struct em_ratelog {
    int64_t window_us;
    unsigned n;
    uint64_t suppressed;
};

struct aud_emitter {
    struct aud_emitter_conf conf; /* strings copied below */
    char *topic, *instance, *spool_dir, *bootstrap_file;

    /* Hand-off queue: any thread, under mu. */
    pthread_mutex_t mu;
    struct em_rec *qhead, *qtail;
    size_t qcount, qbytes;
    bool stopping;
    int wake_fd;

    /* Counters and gauges: any thread. */
    atomic_uint_fast64_t queued, fated, delivered, spooled, replayed, dr_failed, dropped,
        checkpoints, kflight, spool_bytes, spool_records;
    atomic_bool spool_full, degraded_flag, fatal;

    /* The emitter thread only. */
    pthread_t thread;
    bool thread_started;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *mainq;
    struct aud_spool *sp;
    struct aud_key *key;
    struct em_chain *chains;
    unsigned nchains;
    struct em_rec *fhead, *ftail, *sa_cursor;
    size_t nreplay;
    struct em_rec *whead;  /* spooled, waiting for the next group fsync */
    int64_t wait_since_us; /* when whead turned non-empty */
    /* The group fsync running on the spool's sync thread (ticket, or 0) and
     * its records: set and cleared by this thread, read by synced(), under
     * smu. */
    pthread_mutex_t smu;
    struct em_rec *shead;
    uint64_t sync_ticket;
    bool degraded;
    int64_t replay_after_us, replay_backoff_us;
    struct em_ratelog fail_log, degrade_log;
    int64_t next_stats_us;
    struct em_seen *seen;
    size_t nseen;
};

/* ------------------------------------------------------------ helpers */

static bool
ratelog_ok(struct em_ratelog *rl, uint64_t *suppressed)
{
    int64_t now = cm_mono_us();

    if (rl->window_us == 0 || now - rl->window_us >= EM_LOG_EVERY_US) {
        *suppressed = rl->suppressed;
        rl->window_us = now;
        rl->n = 0;
        rl->suppressed = 0;
    } else {
        *suppressed = 0;
    }
    if (rl->n >= EM_LOG_BURST) {
        rl->suppressed++;
        return false;
    }
    rl->n++;
    return true;
}

static void
gauges(struct aud_emitter *em)
{
    struct aud_spool_stats st;

    aud_spool_stats(em->sp, &st);
    atomic_store(&em->spool_bytes, st.bytes);
    atomic_store(&em->spool_records, st.records);
    if (atomic_load(&em->spool_full) && st.bytes <= em->conf.spool_max_bytes / 10 * 9) {
        atomic_store(&em->spool_full, false);
        cm_log_info("audit", "lineage_spool_available bytes=%" PRIu64 " max=%" PRIu64, st.bytes,
                    em->conf.spool_max_bytes);
    }
}

static uint64_t
spool_pending(const struct aud_emitter *em)
{
    struct aud_spool_stats st;

    aud_spool_stats(em->sp, &st);
    return st.pending;
}

static void
rec_free(struct em_rec *rec)
{
    cm_buf_fini(&rec->buf);
    free(rec->key_owned);
    free(rec);
}

/* Wakes the emitter thread (any thread; arg: the emitter). */
static void
wake(void *arg)
{
    struct aud_emitter *em = arg;
    uint64_t one = 1;

    if (write(em->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        cm_log_errno("audit", "emitter_wake_failed");
}

/* Frees rec once nothing refers to it any more. */
static void
rec_release(struct em_rec *rec)
{
    if (rec->settled && !rec->in_kafka && !rec->wait_sync)
        rec_free(rec);
}

static void
degrade(struct aud_emitter *em, const char *reason)
{
    uint64_t sup;

    if (em->degraded)
        return;
    em->degraded = true;
    atomic_store(&em->degraded_flag, true);
    if (ratelog_ok(&em->degrade_log, &sup))
        cm_log_warn("audit",
                    "lineage_degraded reason=%s action=spool spool_records=%" PRIu64
                    " suppressed=%" PRIu64,
                    reason, (uint64_t)atomic_load(&em->spool_records), sup);
}

static void
recover(struct aud_emitter *em)
{
    uint64_t sup;

    if (!em->degraded)
        return;
    em->degraded = false;
    atomic_store(&em->degraded_flag, false);
    em->replay_backoff_us = 0;
    em->replay_after_us = 0;
    if (ratelog_ok(&em->degrade_log, &sup))
        cm_log_info("audit", "lineage_recovered spool_records=%" PRIu64 " suppressed=%" PRIu64,
                    (uint64_t)atomic_load(&em->spool_records), sup);
}

/* The record's fate is known: count it, log a loss, call done.  On the
 * emitter's thread, or on the spool's sync thread for SPOOLED (synced());
 * the first call for a record wins. */
static void
settle(struct aud_emitter *em, struct em_rec *rec, enum aud_fate fate, const char *why)
{
    if (atomic_exchange(&rec->settled, true))
        return;
    if (rec->kind != EM_RECORD)
        return;
    atomic_fetch_add(&em->fated, 1);
    if (fate == AUD_FATE_DROPPED) {
        /* Every loss is named (no rate limit): auditors need the ids. */
        atomic_fetch_add(&em->dropped, 1);
        cm_log_err("audit",
                   "lineage_dropped record=%s reason=%s in_kafka=%s dropped_total=%" PRIu64,
                   rec->id[0] ? rec->id : "-", why, rec->in_kafka ? "yes" : "no",
                   (uint64_t)atomic_load(&em->dropped));
    }
    if (rec->done != NULL)
        rec->done(rec->arg, fate);
}

static void
flight_add(struct aud_emitter *em, struct em_rec *rec)
{
    rec->fnext = NULL;
    rec->fprev = em->ftail;
    if (em->ftail != NULL)
        em->ftail->fnext = rec;
    else
        em->fhead = rec;
    em->ftail = rec;
    if (em->sa_cursor == NULL)
        em->sa_cursor = rec;
    rec->in_kafka = true;
    atomic_fetch_add(&em->kflight, 1);
    if (rec->kind == EM_REPLAY)
        em->nreplay++;
}

static void
flight_remove(struct aud_emitter *em, struct em_rec *rec)
{
    if (!rec->in_kafka)
        return;
    if (em->sa_cursor == rec)
        em->sa_cursor = rec->fnext;
    if (rec->fprev != NULL)
        rec->fprev->fnext = rec->fnext;
    else
        em->fhead = rec->fnext;
    if (rec->fnext != NULL)
        rec->fnext->fprev = rec->fprev;
    else
        em->ftail = rec->fprev;
    rec->fprev = rec->fnext = NULL;
    rec->in_kafka = false;
    atomic_fetch_sub(&em->kflight, 1);
    if (rec->kind == EM_REPLAY)
        em->nreplay--;
}

/* Produces rec (librdkafka borrows its bytes until the report).  Returns
 * CM_OK, CM_RETRY (queue full) or CM_EIO. */
static int
produce(struct aud_emitter *em, struct em_rec *rec)
{
    rd_kafka_resp_err_t kerr;
    uint64_t sup;

    if (em->rk == NULL)
        return CM_EIO;
    kerr = rd_kafka_producev(em->rk, RD_KAFKA_V_RKT(em->rkt), RD_KAFKA_V_KEY(rec->key, rec->klen),
                             RD_KAFKA_V_VALUE(rec->buf.p, rec->buf.len), RD_KAFKA_V_OPAQUE(rec),
                             RD_KAFKA_V_END);
    if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rec->sent_us = cm_mono_us();
        flight_add(em, rec);
        return CM_OK;
    }
    if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return CM_RETRY;
    if (ratelog_ok(&em->fail_log, &sup))
        cm_log_err("audit", "lineage_send_failed record=%s err=%s len=%zu suppressed=%" PRIu64,
                   rec->id[0] ? rec->id : "-", rd_kafka_err2name(kerr), rec->buf.len, sup);
    return CM_EIO;
}

/* Appends rec to the spool (pending: for replay; else it is in flight).
 * Returns what aud_spool_append returned. */
static int
spool_put(struct aud_emitter *em, struct em_rec *rec, bool pending)
{
    struct cm_err err;
    int rc;

    rc = aud_spool_append(em->sp, rec->key, rec->klen, rec->buf.p, rec->buf.len, pending,
                          &rec->spool_id, &err);
    if (rc == CM_OK) {
        rec->in_spool = true;
        atomic_fetch_add(&em->spooled, 1);
        gauges(em);
        return CM_OK;
    }
    if (rc == CM_ELIMIT) {
        if (!atomic_exchange(&em->spool_full, true))
            cm_log_err("audit", "lineage_spool_full bytes=%" PRIu64 " max=%" PRIu64,
                       (uint64_t)atomic_load(&em->spool_bytes), em->conf.spool_max_bytes);
    } else {
        cm_log_err("audit", "lineage_spool_failed record=%s err=\"%s\"", rec->id[0] ? rec->id : "-",
                   err.msg);
    }
    return rc;
}

/* rec is in the spool: its done waits for the group fsync (BATCH), or is
 * due now. */
static void
spooled(struct aud_emitter *em, struct em_rec *rec)
{
    if (rec->settled)
        return;
    if (em->conf.spool_fsync == AUD_SPOOL_FSYNC_BATCH) {
        if (!rec->wait_sync) {
            if (em->whead == NULL)
                em->wait_since_us = cm_mono_us();
            rec->wait_sync = true;
            rec->next = em->whead;
            em->whead = rec;
        }
        return;
    }
    settle(em, rec, AUD_FATE_SPOOLED, NULL);
}

/* The state is saved, not synced: aud_chain.h says why that is enough. */
static void
chain_save(struct em_chain *ch)
{
    struct cm_err err;

    if (aud_chain_save(ch->c, &err) != CM_OK)
        cm_log_err("audit", "chain_state_write_failed chain=%s err=\"%s\"", ch->id, err.msg);
}

/* Whether the group fsync may wait for delivery reports this round.  In
 * SYNC mode every record is spooled and produced at once (place()), and
 * its answer waits for whichever comes first: Kafka's report or the fsync
 * of the spool.  The fsync blocks this thread, and with it the reports:
 * done at once, every answer would wait for the disk.  So while the
 * producer is healthy it waits up to spool_sync_wait after the oldest
 * waiting record for the reports (records acknowledged meanwhile are
 * settled by them, KAFKA, and need no fsync); a record that Kafka does not
 * have (spooled because degraded) does not wait.  The bytes are in the
 * spool file from the start: only their fdatasync waits, and no answer is
 * released before its record is durable in one of the two. */
static bool
sync_may_wait(struct aud_emitter *em, int64_t now)
{
    if (em->conf.durability != AUD_DURABILITY_SYNC || em->conf.spool_sync_wait_us <= 0 ||
        em->degraded || em->rk == NULL || now - em->wait_since_us >= em->conf.spool_sync_wait_us)
        return false;
    /* (spool_fsync=batch: the only mode with a group fsync to wait with) */
    for (const struct em_rec *rec = em->whead; rec != NULL; rec = rec->next)
        if (!rec->settled && !rec->in_kafka)
            return false;
    return true;
}

/* The records of a group sync that ended: SPOOLED; when it failed, DROPPED
 * unless Kafka has them (then the delivery report decides). */
static void
settle_synced(struct aud_emitter *em, struct em_rec *list, bool ok)
{
    struct em_rec *rec, *next;

    for (rec = list; rec != NULL; rec = next) {
        next = rec->next;
        rec->wait_sync = false;
        if (ok)
            settle(em, rec, AUD_FATE_SPOOLED, NULL);
        else if (!rec->in_kafka)
            settle(em, rec, AUD_FATE_DROPPED, "spool_sync_failed");
        else
            rec->sync_failed = true; /* the delivery report decides */
        rec_release(rec);
    }
}

/* The group fsync (spool_fsync = batch).  The one running on the spool's
 * sync thread, if it ended, settles its records.  Then the records spooled
 * since: unless force, in SYNC mode they may wait for the reports
 * (sync_may_wait: *poll_ms says how long the next poll may sleep), else a
 * sync for them starts in the background (when none runs; the end of the
 * one running releases its answers, synced(), and wakes this thread), and
 * this thread goes on serving delivery reports meanwhile, so an answer
 * waits for whichever comes first.  force (the stop) waits for the disk. */
static void
sync_and_settle(struct aud_emitter *em, bool force, int *poll_ms)
{
    struct cm_err err;
    uint64_t ticket;
    int rc;

    if (em->sync_ticket != 0) {
        struct em_rec *list;

        rc = aud_spool_sync_ended(em->sp, em->sync_ticket, force, &err);
        if (rc == CM_RETRY)
            return;
        if (rc != CM_OK)
            cm_log_err("audit", "lineage_spool_sync_failed err=\"%s\"", err.msg);
        pthread_mutex_lock(&em->smu); /* synced() may still walk the list */
        list = em->shead;
        em->shead = NULL;
        em->sync_ticket = 0;
        pthread_mutex_unlock(&em->smu);
        settle_synced(em, list, rc == CM_OK);
    }
    if (em->whead == NULL)
        return;
    if (!force) {
        int64_t now = cm_mono_us();
        bool all_settled = true;

        for (struct em_rec *rec = em->whead; rec != NULL && all_settled; rec = rec->next)
            all_settled = rec->settled;
        if (all_settled && em->conf.durability == AUD_DURABILITY_SYNC &&
            em->conf.spool_sync_wait_us > 0) {
            /* Kafka has them all: nothing waits for the disk. */
            settle_synced(em, em->whead, true);
            em->whead = NULL;
            return;
        }
        if (sync_may_wait(em, now)) {
            int64_t left = em->wait_since_us + em->conf.spool_sync_wait_us - now;

            *poll_ms = (int)((left + 999) / 1000);
            return;
        }
        pthread_mutex_lock(&em->smu); /* synced() may run before begin returns */
        rc = aud_spool_sync_begin(em->sp, &ticket, &err);
        if (rc == CM_OK && ticket != 0) {
            em->shead = em->whead;
            em->sync_ticket = ticket;
            em->whead = NULL;
        }
        pthread_mutex_unlock(&em->smu);
        if (em->whead == NULL)
            return;
    } else {
        rc = aud_spool_sync(em->sp, &err);
    }
    if (rc != CM_OK)
        cm_log_err("audit", "lineage_spool_sync_failed err=\"%s\"", err.msg);
    /* done (or failed) at once */
    settle_synced(em, em->whead, rc == CM_OK);
    em->whead = NULL;
}

/* The spool's sync thread: group sync `ticket` ended.  When it succeeded,
 * the records it covered are safe, and their answers are released here at
 * once (SPOOLED), a thread hop sooner than through the emitter's thread;
 * the emitter's thread, woken, does the rest (settle_synced: frees, and
 * the records of a failed sync). */
static void
synced(void *arg, uint64_t ticket, bool ok)
{
    struct aud_emitter *em = arg;

    if (ok) {
        pthread_mutex_lock(&em->smu);
        if (em->sync_ticket == ticket)
            for (struct em_rec *rec = em->shead; rec != NULL; rec = rec->next)
                settle(em, rec, AUD_FATE_SPOOLED, NULL);
        pthread_mutex_unlock(&em->smu);
    }
    wake(em);
}

/* Stamps (records) and routes one record; see the file comment. */
static void
place(struct aud_emitter *em, struct em_rec *rec)
{
    struct em_chain *ch = &em->chains[rec->chain];
    bool via_spool;
    int rc;

    via_spool = em->conf.durability == AUD_DURABILITY_SYNC || em->degraded || spool_pending(em) > 0;
    if (rec->kind == EM_RECORD)
        aud_chain_stamp(ch->c, &rec->buf);
    if (via_spool) {
        bool send_now = !em->degraded && spool_pending(em) == 0 && em->rk != NULL;

        if (spool_put(em, rec, !send_now) == CM_OK) {
            if (rec->kind == EM_RECORD)
                chain_save(ch);
            spooled(em, rec);
            if (send_now) {
                rc = produce(em, rec);
                if (rc != CM_OK) {
                    aud_spool_release(em->sp, rec->spool_id);
                    degrade(em, rc == CM_RETRY ? "queue_full" : "produce_failed");
                }
            }
            rec_release(rec);
            return;
        }
    }
    if (rec->kind == EM_RECORD)
        chain_save(ch);
    rc = produce(em, rec);
    if (rc == CM_OK)
        return;
    degrade(em, rc == CM_RETRY ? "queue_full" : "produce_failed");
    if (spool_put(em, rec, true) == CM_OK)
        spooled(em, rec);
    else if (rec->kind == EM_RECORD)
        settle(em, rec, AUD_FATE_DROPPED,
               rc == CM_RETRY ? "queue_full_spool_full" : "produce_failed_spool_full");
    else
        cm_log_err("audit", "checkpoint_dropped chain=%s reason=kafka_and_spool_refused",
                   em->chains[rec->chain].id);
    rec_release(rec);
}

static struct em_rec *
rec_new(enum em_kind kind, unsigned chain)
{
    struct em_rec *rec = cm_calloc(1, sizeof(*rec));

    rec->kind = kind;
    rec->chain = chain;
    rec->settled = kind != EM_RECORD;
    cm_buf_init(&rec->buf);
    return rec;
}

static void
place_checkpoint(struct aud_emitter *em, unsigned chain, int64_t now)
{
    struct em_chain *ch = &em->chains[chain];
    struct em_rec *rec = rec_new(EM_CHECKPOINT, chain);
    struct cm_err err;
    int rc;

    rc = aud_chain_checkpoint(ch->c, em->instance, cm_now_us(), em->key, &rec->buf, &err);
    if (em->conf.checkpoint_interval_us > 0)
        ch->next_cp_us = now + em->conf.checkpoint_interval_us;
    if (rc != CM_OK) {
        if (rc != CM_DECLINED)
            cm_log_err("audit", "checkpoint_failed chain=%s err=\"%s\"", ch->id, err.msg);
        rec_free(rec);
        return;
    }
    rec->key = ch->id;
    rec->klen = strlen(ch->id);
    atomic_fetch_add(&em->checkpoints, 1);
    place(em, rec);
}

/* ------------------------------------------------------ delivery reports */

static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct aud_emitter *em = opaque;
    struct em_rec *rec = msg->_private;
    uint64_t sup;

    (void)rk;
    flight_remove(em, rec);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&em->delivered, 1);
        recover(em);
        if (rec->in_spool) {
            aud_spool_confirm(em->sp, rec->spool_id);
            gauges(em);
        }
        settle(em, rec, AUD_FATE_KAFKA, NULL);
        rec_release(rec);
        return;
    }
    atomic_fetch_add(&em->dr_failed, 1);
    if (ratelog_ok(&em->fail_log, &sup))
        cm_log_warn("audit",
                    "lineage_delivery_failed record=%s err=%s spooled=%s suppressed=%" PRIu64,
                    rec->id[0] ? rec->id : "-", rd_kafka_err2name(msg->err),
                    rec->in_spool ? "yes" : "now", sup);
    degrade(em, "delivery_failed");
    if (rec->kind == EM_REPLAY || rec->in_spool) {
        int64_t b = em->replay_backoff_us;

        b = b == 0 ? EM_BACKOFF_MIN_US : (2 * b > EM_BACKOFF_MAX_US ? EM_BACKOFF_MAX_US : 2 * b);
        em->replay_backoff_us = b;
        em->replay_after_us = cm_mono_us() + b;
    }
    if (rec->in_spool) {
        aud_spool_release(em->sp, rec->spool_id);
        gauges(em);
        /* Neither Kafka nor a synced spool has it: its answer must not
         * wait for a replay that may never come.  (Its bytes stay pending
         * in the spool: a replay may still deliver it.) */
        if (rec->sync_failed)
            settle(em, rec, AUD_FATE_DROPPED, "spool_sync_failed_delivery_failed");
    } else if (spool_put(em, rec, true) == CM_OK) {
        spooled(em, rec);
    } else {
        settle(em, rec, AUD_FATE_DROPPED, "delivery_failed_spool_full");
    }
    rec_release(rec);
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct aud_emitter *em = opaque;

    aud_kafka_log_error(rk, err, reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL)
        atomic_store(&em->fatal, true);
    else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        degrade(em, "all_brokers_down");
}

static void
serve_reports(struct aud_emitter *em)
{
    for (int i = 0; i < 100 && em->rk != NULL; i++)
        if (rd_kafka_poll(em->rk, 0) == 0)
            break;
}

/* ------------------------------------------------------------ producer */

/* SYNC mode with a wait for delivery reports before the group fsync. */
static bool
sync_waits(const struct aud_emitter *em)
{
    return em->conf.durability == AUD_DURABILITY_SYNC && em->conf.spool_sync_wait_us > 0 &&
           em->conf.spool_fsync == AUD_SPOOL_FSYNC_BATCH;
}

static int
producer_new(struct aud_emitter *em, struct cm_err *err)
{
    static const char *const defaults[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"compression.type", "lz4"},
        {"reconnect.backoff.ms", "100"},
        {"reconnect.backoff.max.ms", "1000"},
        {"message.timeout.ms", "300000"},
        {"client.id", "steward"},
        {"queue.buffering.max.kbytes", "65536"},
    };
    static const uint64_t one = 1;
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char errstr[512];
    int rc;

    for (size_t i = 0; i < CM_ARRAY_LEN(defaults); i++) {
        rc = aud_kafka_conf_set(kc, defaults[i][0], defaults[i][1], err);
        if (rc != CM_OK)
            goto fail;
    }
    /* SYNC with spool_sync_wait: answers wait for the delivery report, so a
     * batch is not held back for company (under load records batch anyway,
     * while earlier requests are in flight).  Otherwise 5 ms buys fuller
     * batches: at 32 connections linger.ms = 0 cost 1.6 times the CPU per
     * request in sync durability (make bench-proxy), where the spool's
     * sync wins the race anyway, and Kafka's report releases an answer only
     * when the disk stalls for longer. */
    rc = aud_kafka_conf_set(kc, "linger.ms", sync_waits(em) ? "0" : "5", err);
    if (rc != CM_OK)
        goto fail;
    rc = aud_kafka_conf_apply(kc, em->bootstrap_file, em->conf.kafka, err);
    if (rc != CM_OK)
        goto fail;
    rd_kafka_conf_set_opaque(kc, em);
    rd_kafka_conf_set_dr_msg_cb(kc, dr_msg_cb);
    aud_kafka_conf_log(kc);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    em->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    if (em->rk == NULL) {
        rc = cm_err_set(err, CM_EINPUT, "kafka producer: %s", errstr);
        goto fail; /* rd_kafka_new keeps the conf only on success */
    }
    em->rkt = rd_kafka_topic_new(em->rk, em->topic, NULL);
    if (em->rkt == NULL) {
        rd_kafka_destroy(em->rk);
        em->rk = NULL;
        return cm_err_set(err, CM_EINPUT, "kafka topic %s: %s", em->topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    }
    em->mainq = rd_kafka_queue_get_main(em->rk);
    rd_kafka_queue_io_event_enable(em->mainq, em->wake_fd, &one, sizeof(one));
    return CM_OK;

fail:
    rd_kafka_conf_destroy(kc);
    return rc;
}

/* Purges the producer: every record it still holds gets a failed report
 * (and goes to the spool), or is treated so.  Then destroys it. */
static void
producer_drop(struct aud_emitter *em)
{
    int64_t deadline = cm_mono_us() + 2000000;

    if (em->rk == NULL)
        return;
    rd_kafka_purge(em->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    while (em->fhead != NULL && cm_mono_us() < deadline)
        rd_kafka_poll(em->rk, 10);
    rd_kafka_queue_destroy(em->mainq);
    rd_kafka_topic_destroy(em->rkt);
    rd_kafka_destroy(em->rk);
    em->rk = NULL;
    em->rkt = NULL;
    em->mainq = NULL;
    /* Reports that never came: as if they had failed. */
    while (em->fhead != NULL) {
        struct em_rec *rec = em->fhead;

        flight_remove(em, rec);
        if (rec->in_spool)
            aud_spool_release(em->sp, rec->spool_id);
        else if (spool_put(em, rec, true) == CM_OK)
            spooled(em, rec);
        else
            settle(em, rec, AUD_FATE_DROPPED, "producer_lost_spool_full");
        rec_release(rec);
    }
    gauges(em);
}

/* ------------------------------------------------------------ thread */

static void
spool_after(struct aud_emitter *em, int64_t now)
{
    if (em->conf.spool_after_us <= 0)
        return;
    while (em->sa_cursor != NULL && now - em->sa_cursor->sent_us >= em->conf.spool_after_us) {
        struct em_rec *rec = em->sa_cursor;

        em->sa_cursor = rec->fnext;
        if (rec->in_spool || rec->kind == EM_REPLAY)
            continue;
        degrade(em, "no_delivery_report");
        if (spool_put(em, rec, false) == CM_OK)
            spooled(em, rec);
        else if (rec->done != NULL)
            /* A waiting answer cannot wait for message.timeout.ms. */
            settle(em, rec, AUD_FATE_DROPPED, "not_durable_in_time");
    }
}

static void
replay(struct aud_emitter *em, int64_t now)
{
    if (em->rk == NULL || now < em->replay_after_us)
        return;
    while (em->nreplay < EM_REPLAY_WINDOW) {
        struct aud_spool_rec sr;
        struct em_rec *rec;

        if (aud_spool_next(em->sp, &sr) != CM_OK)
            break;
        rec = rec_new(EM_REPLAY, 0);
        rec->in_spool = true;
        rec->spool_id = sr.id;
        rec->key_owned = cm_malloc(sr.klen + 1);
        memcpy(rec->key_owned, sr.key, sr.klen);
        rec->key_owned[sr.klen] = '\0';
        rec->key = rec->key_owned;
        rec->klen = sr.klen;
        cm_buf_append(&rec->buf, sr.val, sr.vlen);
        if (produce(em, rec) != CM_OK) {
            aud_spool_release(em->sp, sr.id);
            rec_free(rec);
            break;
        }
        atomic_fetch_add(&em->replayed, 1);
    }
    gauges(em);
}

static void
log_stats(struct aud_emitter *em, const char *event)
{
    struct aud_emitter_stats st;

    aud_emitter_stats(em, &st);
    cm_log_info("audit",
                "%s queued=%" PRIu64 " delivered=%" PRIu64 " spooled=%" PRIu64 " replayed=%" PRIu64
                " dr_failed=%" PRIu64 " dropped=%" PRIu64 " checkpoints=%" PRIu64
                " in_flight=%" PRIu64 " spool_records=%" PRIu64 " spool_bytes=%" PRIu64,
                event, st.queued, st.delivered, st.spooled, st.replayed, st.dr_failed, st.dropped,
                st.checkpoints, st.in_flight, st.spool_records, st.spool_bytes);
}

/* Takes the whole hand-off queue. */
static struct em_rec *
take_queue(struct aud_emitter *em, bool *stopping)
{
    struct em_rec *batch;

    pthread_mutex_lock(&em->mu);
    batch = em->qhead;
    em->qhead = em->qtail = NULL;
    em->qcount = 0;
    em->qbytes = 0;
    *stopping = em->stopping;
    pthread_mutex_unlock(&em->mu);
    return batch;
}

static void
place_batch(struct aud_emitter *em, struct em_rec *batch, int64_t now)
{
    while (batch != NULL) {
        struct em_rec *rec = batch;
        unsigned chain = rec->chain;

        batch = rec->next;
        rec->next = NULL;
        place(em, rec);
        if (em->conf.checkpoint_records > 0) {
            struct aud_chain_state st;

            aud_chain_get(em->chains[chain].c, &st);
            if (st.seq - st.cp_seq >= em->conf.checkpoint_records)
                place_checkpoint(em, chain, now);
        }
    }
}

/* The stop: checkpoint, make everything safe in the spool, then keep
 * delivering (replay included) until the spool is empty, stop_timeout
 * passes, or Kafka makes no progress for EM_STOP_STALL_US (it is down: the
 * spool keeps the rest for the next start). */
static void
shutdown_flush(struct aud_emitter *em)
{
    int64_t now = cm_mono_us(), deadline = now + em->conf.stop_timeout_us;
    int64_t progress_us = now;
    uint64_t delivered = atomic_load(&em->delivered);

    for (unsigned i = 0; i < em->nchains; i++)
        place_checkpoint(em, i, now);
    for (struct em_rec *rec = em->fhead; rec != NULL; rec = rec->fnext)
        if (!rec->in_spool && rec->kind != EM_REPLAY && spool_put(em, rec, false) == CM_OK)
            spooled(em, rec);
    sync_and_settle(em, true, NULL);
    em->replay_after_us = 0;
    while (em->rk != NULL && (em->fhead != NULL || atomic_load(&em->spool_records) > 0)) {
        now = cm_mono_us();
        if (atomic_load(&em->delivered) != delivered) {
            delivered = atomic_load(&em->delivered);
            progress_us = now;
        }
        if (now >= deadline || now - progress_us >= EM_STOP_STALL_US)
            break;
        replay(em, now);
        rd_kafka_poll(em->rk, 20);
        sync_and_settle(em, true, NULL);
    }
    producer_drop(em);
    sync_and_settle(em, true, NULL);
}

static void *
em_main(void *arg)
{
    struct aud_emitter *em = arg;
    bool stopping = false;
    int poll_ms = EM_TICK_MS;

    pthread_setname_np(pthread_self(), "st:emitter");
    for (;;) {
        struct pollfd pfd = {.fd = em->wake_fd, .events = POLLIN};
        struct em_rec *batch;
        uint64_t v;
        int64_t now;

        if (poll(&pfd, 1, poll_ms) > 0 && read(em->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            cm_log_errno("audit", "emitter_wake_read_failed");
        serve_reports(em);
        if (atomic_exchange(&em->fatal, false)) {
            struct cm_err err;

            cm_log_err("audit", "kafka_producer_fatal action=recreate spool=records");
            producer_drop(em);
            if (producer_new(em, &err) != CM_OK) {
                cm_log_err("audit", "kafka_producer_failed err=\"%s\" action=retry", err.msg);
                atomic_store(&em->fatal, true);
            }
        }
        now = cm_mono_us();
        batch = take_queue(em, &stopping);
        place_batch(em, batch, now);
        spool_after(em, now);
        for (unsigned i = 0; i < em->nchains; i++)
            if (em->conf.checkpoint_interval_us > 0 && now >= em->chains[i].next_cp_us)
                place_checkpoint(em, i, now);
        poll_ms = EM_TICK_MS;
        sync_and_settle(em, stopping, &poll_ms);
        if (stopping)
            break;
        replay(em, now);
        if (now >= em->next_stats_us) {
            em->next_stats_us = now + EM_STATS_EVERY_US;
            log_stats(em, "emitter_stats");
        }
    }
    shutdown_flush(em);
    return NULL;
}

/* ------------------------------------------------------------ public */

static void
seen_frame(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    struct aud_emitter *em = arg;
    struct aud_chain_link link;
    struct em_seen *s = NULL;

    (void)key;
    (void)klen;
    if (aud_chain_link_parse(val, vlen, &link, NULL) != CM_OK)
        return; /* a checkpoint, or not ours */
    for (size_t i = 0; i < em->nseen && s == NULL; i++)
        if (strcmp(em->seen[i].chain_id, link.chain_id) == 0)
            s = &em->seen[i];
    if (s == NULL) {
        if (em->nseen == EM_MAX_CHAINS)
            return;
        em->seen = cm_realloc(em->seen, (em->nseen + 1) * sizeof(*em->seen));
        s = &em->seen[em->nseen++];
        memset(s, 0, sizeof(*s));
        memcpy(s->chain_id, link.chain_id, sizeof(s->chain_id));
    }
    if ((uint64_t)link.seq > s->seq) {
        s->seq = (uint64_t)link.seq;
        cm_sha256(val, vlen, s->hash);
    }
}

static int
chains_open(struct aud_emitter *em, struct cm_err *err)
{
    int64_t now = cm_mono_us();

    em->chains = cm_calloc(em->nchains, sizeof(*em->chains));
    for (unsigned i = 0; i < em->nchains; i++) {
        struct em_chain *ch = &em->chains[i];
        struct aud_chain_state st;
        int rc = aud_chain_open(em->spool_dir, i, em->conf.spool_fsync, &ch->c, err);

        if (rc != CM_OK)
            return rc;
        snprintf(ch->id, sizeof(ch->id), "%s", aud_chain_id(ch->c));
        aud_chain_get(ch->c, &st);
        for (size_t k = 0; k < em->nseen; k++) {
            if (strcmp(em->seen[k].chain_id, ch->id) == 0 && em->seen[k].seq > st.seq) {
                cm_log_info("audit",
                            "chain_recovered chain=%s state_seq=%" PRIu64 " spool_seq=%" PRIu64,
                            ch->id, st.seq, em->seen[k].seq);
                aud_chain_adopt(ch->c, em->seen[k].seq, em->seen[k].hash);
            }
        }
        aud_chain_get(ch->c, &st);
        cm_log_info("audit", "chain_ready index=%u chain=%s seq=%" PRIu64, i, ch->id, st.seq);
        if (st.created)
            cm_log_info("audit", "chain_created chain=%s index=%u", ch->id, i);
        else if (!st.clean)
            cm_log_warn("audit",
                        "lineage_unclean_restart chain=%s last_seq=%" PRIu64
                        " note=records_handed_over_after_the_last_save_may_be_lost",
                        ch->id, st.seq);
        ch->next_cp_us = now + em->conf.checkpoint_interval_us;
    }
    return CM_OK;
}

static void
em_destroy(struct aud_emitter *em, bool clean)
{
    /* Handed over after the stop (a caller bug): lost, but not silently. */
    while (em->qhead != NULL) {
        struct em_rec *rec = em->qhead;

        em->qhead = rec->next;
        atomic_fetch_add(&em->dropped, 1);
        cm_log_err("audit", "lineage_dropped record=%s reason=sent_after_stop",
                   rec->id[0] ? rec->id : "-");
        rec_free(rec);
    }
    if (em->rk != NULL)
        producer_drop(em);
    for (unsigned i = 0; em->chains != NULL && i < em->nchains; i++)
        aud_chain_close(em->chains[i].c, clean);
    aud_spool_close(em->sp);
    aud_key_free(em->key);
    if (em->wake_fd >= 0)
        close(em->wake_fd);
    pthread_mutex_destroy(&em->mu);
    pthread_mutex_destroy(&em->smu);
    free(em->chains);
    free(em->seen);
    free(em->topic);
    free(em->instance);
    free(em->spool_dir);
    free(em->bootstrap_file);
    free(em);
}

int
aud_emitter_new(const struct aud_emitter_conf *conf, struct aud_emitter **out, struct cm_err *err)
{
    struct aud_emitter *em;
    struct aud_spool_conf sc = {0};
    int rc;

    *out = NULL;
    if (conf->topic == NULL || conf->topic[0] == '\0')
        return cm_err_set(err, CM_EINPUT, "lineage topic is empty");
    if (conf->spool_dir == NULL || conf->spool_dir[0] == '\0')
        return cm_err_set(err, CM_EINPUT, "spool_dir is empty");
    if (conf->chains < 1 || conf->chains > EM_MAX_CHAINS)
        return cm_err_set(err, CM_EINPUT, "chains: 1..%d", EM_MAX_CHAINS);
    em = cm_calloc(1, sizeof(*em));
    em->conf = *conf;
    em->topic = cm_strdup(conf->topic);
    em->instance = conf->instance ? cm_strdup(conf->instance) : NULL;
    em->spool_dir = cm_strdup(conf->spool_dir);
    em->bootstrap_file = conf->bootstrap_file ? cm_strdup(conf->bootstrap_file) : NULL;
    em->nchains = conf->chains;
    em->wake_fd = -1;
    pthread_mutex_init(&em->mu, NULL);
    pthread_mutex_init(&em->smu, NULL);
    if (em->conf.stop_timeout_us <= 0)
        em->conf.stop_timeout_us = 5 * 1000000LL;

    if (conf->signing_key != NULL) {
        rc = aud_key_load_private(conf->signing_key, &em->key, err);
        if (rc != CM_OK)
            goto fail;
    }
    sc.dir = em->spool_dir;
    sc.max_bytes = conf->spool_max_bytes;
    sc.fsync = conf->spool_fsync;
    sc.on_frame = seen_frame;
    sc.on_frame_arg = em;
    sc.on_synced = synced;
    sc.on_synced_arg = em;
    em->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (em->wake_fd < 0) {
        rc = cm_err_set(err, CM_EIO, "eventfd: %s", strerror(errno));
        goto fail;
    }
    rc = aud_spool_open(&sc, &em->sp, err);
    if (rc != CM_OK)
        goto fail;
    rc = chains_open(em, err);
    if (rc != CM_OK)
        goto fail;
    rc = producer_new(em, err);
    if (rc != CM_OK)
        goto fail;
    gauges(em);
    em->next_stats_us = cm_mono_us() + EM_STATS_EVERY_US;
    if (pthread_create(&em->thread, NULL, em_main, em) != 0) {
        rc = cm_err_set(err, CM_EINTERNAL, "cannot start the emitter thread");
        goto fail;
    }
    em->thread_started = true;
    cm_log_info("audit",
                "emitter_started topic=%s durability=%s spool_dir=%s spool_records=%" PRIu64
                " chains=%u checkpoints=%s",
                em->topic, conf->durability == AUD_DURABILITY_SYNC ? "sync" : "async",
                em->spool_dir, (uint64_t)atomic_load(&em->spool_records), em->nchains,
                em->key != NULL ? aud_key_id(em->key) : "unsigned");
    *out = em;
    return CM_OK;

fail:
    em_destroy(em, false);
    return rc;
}

int
aud_emitter_send(struct aud_emitter *em, unsigned chain, const char *record_id, const char *json,
                 size_t len, aud_emitter_done_fn *done, void *arg)
{
    struct em_rec *rec;
    bool first;

    if (chain >= em->nchains || len < 2 || json[0] != '{' || json[len - 1] != '}')
        return CM_EINPUT;
    rec = rec_new(EM_RECORD, chain);
    rec->done = done;
    rec->arg = arg;
    rec->key = em->chains[chain].id;
    rec->klen = strlen(rec->key);
    snprintf(rec->id, sizeof(rec->id), "%s", record_id != NULL ? record_id : "");
    cm_buf_reserve(&rec->buf, len + EM_CHAIN_ROOM);
    cm_buf_append(&rec->buf, json, len);

    pthread_mutex_lock(&em->mu);
    if (em->qcount >= EM_MAX_QUEUED || em->qbytes + len > EM_MAX_QUEUED_BYTES) {
        pthread_mutex_unlock(&em->mu);
        atomic_fetch_add(&em->dropped, 1);
        cm_log_err("audit", "lineage_dropped record=%s reason=handoff_full dropped_total=%" PRIu64,
                   rec->id[0] ? rec->id : "-", (uint64_t)atomic_load(&em->dropped));
        rec_free(rec);
        return CM_ELIMIT;
    }
    first = em->qhead == NULL;
    if (em->qtail != NULL)
        em->qtail->next = rec;
    else
        em->qhead = rec;
    em->qtail = rec;
    em->qcount++;
    em->qbytes += len;
    atomic_fetch_add(&em->queued, 1);
    pthread_mutex_unlock(&em->mu);
    if (first)
        wake(em);
    return CM_OK;
}

bool
aud_emitter_spool_full(struct aud_emitter *em)
{
    return atomic_load(&em->spool_full);
}

void
aud_emitter_stats(struct aud_emitter *em, struct aud_emitter_stats *out)
{
    /* fated before queued: a record is queued before it can be fated. */
    uint64_t fated = atomic_load(&em->fated);

    out->queued = atomic_load(&em->queued);
    out->in_flight = out->queued - fated;
    out->delivered = atomic_load(&em->delivered);
    out->spooled = atomic_load(&em->spooled);
    out->replayed = atomic_load(&em->replayed);
    out->dr_failed = atomic_load(&em->dr_failed);
    out->dropped = atomic_load(&em->dropped);
    out->checkpoints = atomic_load(&em->checkpoints);
    out->spool_bytes = atomic_load(&em->spool_bytes);
    out->spool_records = atomic_load(&em->spool_records);
    out->spool_full = atomic_load(&em->spool_full);
    out->degraded = atomic_load(&em->degraded_flag);
}

int
aud_emitter_flush(struct aud_emitter *em, int timeout_ms)
{
    int64_t deadline = cm_mono_us() + (int64_t)timeout_ms * 1000;

    for (;;) {
        struct aud_emitter_stats st;
        uint64_t kflight = atomic_load(&em->kflight);

        aud_emitter_stats(em, &st);
        if (st.in_flight == 0 && kflight == 0 && st.spool_records == 0)
            return CM_OK;
        if (cm_mono_us() >= deadline)
            return CM_ETIMEOUT;
        usleep(5000);
    }
}

void
aud_emitter_free(struct aud_emitter *em)
{
    if (em == NULL)
        return;
    pthread_mutex_lock(&em->mu);
    em->stopping = true;
    pthread_mutex_unlock(&em->mu);
    wake(em);
    if (em->thread_started)
        pthread_join(em->thread, NULL);
    log_stats(em, "emitter_stopped");
    em_destroy(em, true);
}
