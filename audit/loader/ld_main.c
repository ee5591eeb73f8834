/* SPDX-License-Identifier: Apache-2.0
 *
 * steward-loader: consumes lineage records from Kafka and loads them into
 * PostgreSQL (DESIGN.md section 7; docs/lineage.md).
 *
 *   steward-loader -c FILE [-o key=value]...   run
 *   steward-loader -n -c FILE                  validate the config, exit 0/1
 *   steward-loader --config-doc                options as markdown
 *
 * A plain blocking loop on the main thread: consume up to batch_size
 * messages (or whatever arrived within batch_wait of the first), load them
 * in one transaction (ld_batch.c), and only after COMMIT store and commit
 * the Kafka offsets (enable.auto.commit and enable.auto.offset.store are
 * off).  If PostgreSQL fails the same batch is retried with back-off after
 * reconnecting, with the assigned partitions paused meanwhile so the group
 * membership stays alive; offsets never move past an unloaded record.  A
 * crash between COMMIT and the offset commit redelivers records that are
 * already loaded, and ON CONFLICT (record_id) DO NOTHING makes that a no-op:
 * at-least-once delivery, exactly-once effect.
 *
 * SIGTERM/SIGINT: the current batch is finished, the consumer leaves the
 * group cleanly (rd_kafka_consumer_close), exit 0.
 *
 * Assignments are logged (partitions_assigned / partitions_revoked).  Test
 * hook: STEWARD_LOADER_TEST_CRASH=before_commit:N or after_commit:N makes
 * the loader SIGKILL itself in its N-th batch just before the PostgreSQL
 * COMMIT (ld_batch.c) or just after it, before the Kafka offsets are stored
 * (the two crash points tests/integration/test_lineage.py proves harmless).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "audit/aud_kafka.h"
#include "audit/aud_pg.h"
#include "audit/loader/ld_batch.h"
#include "common/cm_conf.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"

#define LD_BACKOFF_MIN_US (100 * 1000LL)
#define LD_BACKOFF_MAX_US (2 * 1000000LL)

struct ld_options {
    char *pg_url;
    struct cm_kv_list kafka;
    char *bootstrap_file;
    char *topic;
    char *group_id;
    long long batch_size;
    int64_t batch_wait_us;
    int64_t stats_interval_us;
    int log_level;
};

static const char *const log_levels[] = {"err", "warn", "info", "debug", NULL};

/* The options table of steward-loader (docs/config.md via --config-doc). */
static const struct cm_opt ld_opts[] = {
    {"pg_url", CM_OPT_STRING, NULL, CM_OPT_RESTART | CM_OPT_SECRET,
     offsetof(struct ld_options, pg_url),
     "PostgreSQL connection: libpq conninfo or postgresql:// URL (required)", NULL, 0, 0},
    {"kafka.", CM_OPT_PREFIX, NULL, CM_OPT_RESTART, offsetof(struct ld_options, kafka),
     "passed to librdkafka without the prefix (bootstrap.servers, security.protocol, sasl.*); "
     "applied last, so they win",
     NULL, 0, 0},
    {"bootstrap_file", CM_OPT_PATH, NULL, CM_OPT_RESTART,
     offsetof(struct ld_options, bootstrap_file),
     "file holding the Kafka bootstrap address (as the embedded Kafka writes it)", NULL, 0, 0},
    {"topic", CM_OPT_STRING, "steward.lineage", CM_OPT_RESTART, offsetof(struct ld_options, topic),
     "Kafka topic of the lineage records", NULL, 0, 0},
    {"group_id", CM_OPT_STRING, "steward-loader", CM_OPT_RESTART,
     offsetof(struct ld_options, group_id), "Kafka consumer group", NULL, 0, 0},
    {"batch_size", CM_OPT_INT, "500", CM_OPT_RESTART, offsetof(struct ld_options, batch_size),
     "most messages loaded in one transaction", NULL, 1, 100000},
    {"batch_wait", CM_OPT_DURATION, "200ms", CM_OPT_RESTART,
     offsetof(struct ld_options, batch_wait_us),
     "longest wait for a batch to fill after its first message", NULL, 1, 60000},
    {"stats_interval", CM_OPT_DURATION, "60s", CM_OPT_RESTART,
     offsetof(struct ld_options, stats_interval_us),
     "period of the info line with the running totals", NULL, 1000, 86400000},
    {"log_level", CM_OPT_ENUM, "info", CM_OPT_RESTART, offsetof(struct ld_options, log_level),
     "log verbosity", log_levels, 0, 0},
};

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: steward-loader [-n] [-c FILE] [-o key=value]...\n"
                 "       steward-loader --config-doc\n"
                 "  -c FILE        configuration file (key = value)\n"
                 "  -o key=value   override one option (repeatable, applied after -c)\n"
                 "  -n             validate the configuration and exit\n");
}

static void
log_parts(const char *event, const rd_kafka_topic_partition_list_t *parts)
{
    char list[512];
    size_t n = 0;

    list[0] = '\0';
    for (int i = 0; i < parts->cnt && n + 16 < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%" PRId32, i > 0 ? "," : "",
                              parts->elems[i].partition);
    cm_log_info("loader", "%s topic=%s partitions=%s", event,
                parts->cnt > 0 ? parts->elems[0].topic : "-", n > 0 ? list : "-");
}

/* Consumer thread (inside rd_kafka_consumer_poll): applies and logs the
 * group's assignment, eager or cooperative. */
static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;

    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_parts("partitions_assigned", parts);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            kerr = rd_kafka_assign(rk, parts);
    } else {
        log_parts("partitions_revoked", parts);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            kerr = rd_kafka_assign(rk, NULL);
    }
    if (e != NULL) {
        cm_log_warn("loader", "assign_failed err=%s", rd_kafka_error_name(e));
        rd_kafka_error_destroy(e);
    } else if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cm_log_warn("loader", "assign_failed err=%s", rd_kafka_err2name(kerr));
    }
}

/* The test hook's batch number for point ("before_commit", "after_commit"),
 * or 0. */
static long
test_crash_at(const char *point)
{
    const char *v = getenv("STEWARD_LOADER_TEST_CRASH");
    size_t n = strlen(point);

    if (v == NULL || strncmp(v, point, n) != 0 || v[n] != ':')
        return 0;
    return strtol(v + n + 1, NULL, 10);
}

/* Kafka consumer configuration: our settings, then the pass-through. */
static int
consumer_conf(const struct ld_options *o, rd_kafka_conf_t **out, struct cm_err *err)
{
    const char *const defaults[][2] = {
        {"group.id", o->group_id},         {"client.id", "steward-loader"},
        {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"}, {"enable.partition.eof", "false"},
        {"reconnect.backoff.ms", "100"},   {"reconnect.backoff.max.ms", "1000"},
    };
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc;

    for (size_t i = 0; i < CM_ARRAY_LEN(defaults); i++) {
        rc = aud_kafka_conf_set(kc, defaults[i][0], defaults[i][1], err);
        if (rc != CM_OK)
            goto fail;
    }
    rc = aud_kafka_conf_apply(kc, o->bootstrap_file, &o->kafka, err);
    if (rc != CM_OK)
        goto fail;
    aud_kafka_conf_log(kc);
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    *out = kc;
    return CM_OK;

fail:
    rd_kafka_conf_destroy(kc);
    return rc;
}

/* Checks what a run needs; with check_only the bootstrap file may be absent
 * still (the embedded Kafka writes it when it starts). */
static int
options_check(const struct ld_options *o, bool check_only, struct cm_err *err)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc = CM_OK;

    if (o->pg_url == NULL) {
        rc = cm_err_set(err, CM_EINPUT, "pg_url: required");
        goto out;
    }
    if (o->topic == NULL || o->group_id == NULL) {
        rc = cm_err_set(err, CM_EINPUT, "%s: must not be empty", o->topic ? "group_id" : "topic");
        goto out;
    }
    if (!check_only)
        goto out;
    /* Try the pass-through keys on a scratch conf. */
    rc = aud_kafka_conf_apply(kc, NULL, &o->kafka, err);
    if (rc == CM_OK && o->bootstrap_file == NULL &&
        cm_kv_get(&o->kafka, "bootstrap.servers") == NULL)
        rc = cm_err_set(err, CM_EINPUT, "bootstrap_file or kafka.bootstrap.servers: required");
out:
    rd_kafka_conf_destroy(kc);
    return rc;
}

/* Sleeps up to us, in slices, unless a stop was requested, polling so the
 * group membership stays alive.  A message that arrives meanwhile belongs to
 * a partition assigned since the pause: the consumer's position has moved
 * past it, so its partition is paused too and its offset noted in rewind
 * (the lowest one per partition), to seek back to before resuming. */
static void
backoff_sleep(rd_kafka_t *rk, int64_t us, rd_kafka_topic_partition_list_t *rewind)
{
    int64_t end = cm_mono_us() + us;

    while (!stop_requested && cm_mono_us() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char *topic = rd_kafka_topic_name(m->rkt);
            rd_kafka_topic_partition_t *tp =
                rd_kafka_topic_partition_list_find(rewind, topic, m->partition);

            if (tp == NULL) {
                rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);

                rd_kafka_topic_partition_list_add(one, topic, m->partition);
                rd_kafka_pause_partitions(rk, one);
                rd_kafka_topic_partition_list_destroy(one);
                tp = rd_kafka_topic_partition_list_add(rewind, topic, m->partition);
                tp->offset = m->offset;
            } else if (m->offset < tp->offset) {
                tp->offset = m->offset;
            }
        }
        rd_kafka_message_destroy(m);
    }
}

/* Seeks the partitions in rewind back to their noted offsets. */
static void
rewind_partitions(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *rewind)
{
    rd_kafka_error_t *e;

    if (rewind->cnt == 0)
        return;
    e = rd_kafka_seek_partitions(rk, rewind, 5000);
    if (e != NULL) {
        cm_log_warn("loader", "rewind_failed err=%s", rd_kafka_error_name(e));
        rd_kafka_error_destroy(e);
    }
    for (int i = 0; i < rewind->cnt; i++) {
        if (rewind->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            cm_log_warn("loader", "rewind_failed topic=%s partition=%" PRId32 " err=%s",
                        rewind->elems[i].topic, rewind->elems[i].partition,
                        rd_kafka_err2name(rewind->elems[i].err));
        else
            cm_log_info("loader", "rewound topic=%s partition=%" PRId32 " offset=%" PRId64,
                        rewind->elems[i].topic, rewind->elems[i].partition,
                        rewind->elems[i].offset);
    }
}

static void
pause_all(rd_kafka_t *rk, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;

    if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (pause)
        rd_kafka_pause_partitions(rk, parts);
    else
        rd_kafka_resume_partitions(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Loads the batch, retrying (reconnecting) until it is committed.  Returns
 * false only when a stop was requested before it could be loaded. */
static bool
load_until_done(const struct ld_options *o, rd_kafka_t *rk, struct aud_pg **pg,
                const struct ld_msg *msgs, size_t n, struct ld_totals *tot)
{
    int64_t backoff = LD_BACKOFF_MIN_US;
    struct cm_err last = {{0}};
    rd_kafka_topic_partition_list_t *rewind = rd_kafka_topic_partition_list_new(4);
    bool paused = false;
    unsigned attempts = 0;

    for (;;) {
        struct cm_err err = {{0}};
        int rc;

        if (*pg == NULL)
            rc = aud_pg_connect(o->pg_url, "steward-loader", pg, &err);
        else
            rc = CM_OK;
        if (rc == CM_OK) {
            rc = ld_batch_load(*pg, msgs, n, tot, &err);
            if (rc == CM_OK)
                break;
            if (!aud_pg_alive(*pg)) {
                aud_pg_free(*pg);
                *pg = NULL;
            }
        }
        /* The first failure, each new error, then every tenth attempt. */
        attempts++;
        if (attempts == 1 || attempts % 10 == 0 || strcmp(err.msg, last.msg) != 0)
            cm_log_err("loader",
                       "batch_failed attempt=%u messages=%zu retry_in_ms=%" PRId64 " error=\"%s\"",
                       attempts, n, backoff / 1000, err.msg);
        last = err;
        if (!paused) {
            pause_all(rk, true);
            paused = true;
        }
        backoff_sleep(rk, backoff, rewind);
        if (stop_requested) {
            cm_log_warn("loader", "batch_abandoned messages=%zu reason=stop offsets=unchanged", n);
            rd_kafka_topic_partition_list_destroy(rewind);
            return false;
        }
        backoff = backoff * 2 > LD_BACKOFF_MAX_US ? LD_BACKOFF_MAX_US : backoff * 2;
    }
    if (paused) {
        rewind_partitions(rk, rewind);
        pause_all(rk, false);
    }
    rd_kafka_topic_partition_list_destroy(rewind);
    if (attempts > 0)
        cm_log_info("loader", "batch_recovered attempts=%u", attempts);
    return true;
}

/* Stores offset+1 of the last message of each partition, then commits them
 * synchronously.  A failure here only means redelivery, which is absorbed. */
static void
offsets_commit(rd_kafka_t *rk, rd_kafka_message_t **msgs, size_t n)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    rd_kafka_resp_err_t kerr;

    for (size_t i = 0; i < n; i++) {
        const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(list, topic, msgs[i]->partition);

        if (tp == NULL)
            tp = rd_kafka_topic_partition_list_add(list, topic, msgs[i]->partition);
        if (msgs[i]->offset + 1 > tp->offset)
            tp->offset = msgs[i]->offset + 1;
    }
    kerr = rd_kafka_offsets_store(rk, list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        cm_log_warn("loader", "offsets_store_failed err=%s", rd_kafka_err2name(kerr));
    for (int i = 0; i < list->cnt; i++)
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            cm_log_warn("loader", "offsets_store_failed topic=%s partition=%" PRId32 " err=%s",
                        list->elems[i].topic, list->elems[i].partition,
                        rd_kafka_err2name(list->elems[i].err));
    kerr = rd_kafka_commit(rk, NULL, 0);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR && kerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
        cm_log_warn("loader", "offsets_commit_failed err=%s", rd_kafka_err2name(kerr));
    rd_kafka_topic_partition_list_destroy(list);
}

/* Consumes one batch into msgs[]: waits up to 200 ms for the first message
 * and returns 0 if none came (so the caller sees a stop and keeps its
 * periodic stats going while idle), then up to batch_wait for the rest. */
static size_t
batch_fill(const struct ld_options *o, rd_kafka_t *rk, rd_kafka_message_t **msgs)
{
    size_t n = 0;
    int64_t deadline = 0;

    while (n < (size_t)o->batch_size) {
        int timeout_ms;
        rd_kafka_message_t *m;

        if (n == 0) {
            if (stop_requested)
                break;
            timeout_ms = 200;
        } else {
            int64_t left = deadline - cm_mono_us();

            if (left <= 0)
                break;
            timeout_ms = (int)((left + 999) / 1000);
        }
        m = rd_kafka_consumer_poll(rk, timeout_ms);
        if (m == NULL)
            break;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            cm_log_warn("loader", "consume_error err=%s", rd_kafka_err2name(m->err));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (n == 0)
            deadline = cm_mono_us() + o->batch_wait_us;
        msgs[n++] = m;
    }
    return n;
}

static void
log_totals(const char *event, const struct ld_totals *t)
{
    cm_log_info("loader",
                "%s batches=%" PRIu64 " loaded=%" PRIu64 " duplicates=%" PRIu64 " findings=%" PRIu64
                " checkpoints=%" PRIu64 " rejected=%" PRIu64,
                event, t->batches, t->loaded, t->duplicates, t->findings, t->checkpoints,
                t->rejected);
}

static int
run(const struct ld_options *o)
{
    rd_kafka_message_t **kmsgs = cm_calloc((size_t)o->batch_size, sizeof(*kmsgs));
    struct ld_msg *msgs = cm_calloc((size_t)o->batch_size, sizeof(*msgs));
    rd_kafka_topic_partition_list_t *topics = NULL;
    struct ld_totals tot = {0};
    struct aud_pg *pg = NULL;
    struct cm_err err = {{0}};
    rd_kafka_conf_t *kc = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_resp_err_t kerr;
    int64_t next_stats;
    char errstr[512];
    int status = 1;
    long crash_after = test_crash_at("after_commit");

    if (consumer_conf(o, &kc, &err) != CM_OK) {
        cm_log_err("loader", "config_error error=\"%s\"", err.msg);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(kc); /* kept by rd_kafka_new only on success */
        cm_log_err("loader", "kafka_consumer_failed error=\"%s\"", errstr);
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, o->topic, RD_KAFKA_PARTITION_UA);
    kerr = rd_kafka_subscribe(rk, topics);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cm_log_err("loader", "kafka_subscribe_failed topic=%s err=%s", o->topic,
                   rd_kafka_err2name(kerr));
        goto out;
    }
    /* Connect early so a bad pg_url shows at start; failures are retried. */
    if (aud_pg_connect(o->pg_url, "steward-loader", &pg, &err) != CM_OK)
        cm_log_warn("loader", "pg_unavailable error=\"%s\" action=retry_per_batch", err.msg);
    cm_log_info("loader", "loader_started topic=%s group=%s batch_size=%lld batch_wait_ms=%" PRId64,
                o->topic, o->group_id, o->batch_size, o->batch_wait_us / 1000);
    next_stats = cm_mono_us() + o->stats_interval_us;

    while (!stop_requested) {
        size_t n = batch_fill(o, rk, kmsgs);

        if (n > 0) {
            bool done;

            for (size_t i = 0; i < n; i++) {
                msgs[i].topic = rd_kafka_topic_name(kmsgs[i]->rkt);
                msgs[i].partition = kmsgs[i]->partition;
                msgs[i].offset = kmsgs[i]->offset;
                msgs[i].data = kmsgs[i]->payload;
                msgs[i].len = kmsgs[i]->payload != NULL ? kmsgs[i]->len : 0;
            }
            done = load_until_done(o, rk, &pg, msgs, n, &tot);
            if (done && crash_after > 0 && (long)tot.batches == crash_after) {
                cm_log_warn("loader", "test_crash point=after_commit batch=%ld", crash_after);
                raise(SIGKILL);
            }
            if (done)
                offsets_commit(rk, kmsgs, n);
            for (size_t i = 0; i < n; i++)
                rd_kafka_message_destroy(kmsgs[i]);
            if (!done)
                break;
        }
        if (cm_mono_us() >= next_stats) {
            log_totals("loader_stats", &tot);
            next_stats = cm_mono_us() + o->stats_interval_us;
        }
    }
    status = 0;

out:
    if (rk != NULL) {
        kerr = rd_kafka_consumer_close(rk);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            cm_log_warn("loader", "consumer_close err=%s", rd_kafka_err2name(kerr));
        rd_kafka_destroy(rk);
    }
    if (topics != NULL)
        rd_kafka_topic_partition_list_destroy(topics);
    aud_pg_free(pg);
    log_totals("loader_stopped", &tot);
    free(kmsgs);
    free(msgs);
    return status;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config-doc", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ld_options o;
    struct cm_err err = {{0}};
    const char *conf_path = NULL;
    char **overrides = cm_calloc((size_t)argc, sizeof(char *));
    size_t noverrides = 0;
    bool check_only = false;
    struct sigaction sa;
    int c, status = 1;

    memset(&o, 0, sizeof(o));
    cm_log_init("steward-loader", CM_LOG_INFO);
    while ((c = getopt_long(argc, argv, "c:o:nh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': conf_path = optarg; break;
        case 'o': overrides[noverrides++] = optarg; break;
        case 'n': check_only = true; break;
        case 'D':
            cm_conf_doc(ld_opts, CM_ARRAY_LEN(ld_opts), "steward-loader", stdout);
            free(overrides);
            return 0;
        case 'h':
            usage(stdout);
            free(overrides);
            return 0;
        default:
            usage(stderr);
            free(overrides);
            return 1;
        }
    }
    if (optind != argc) {
        usage(stderr);
        free(overrides);
        return 1;
    }
    if (cm_conf_defaults(ld_opts, CM_ARRAY_LEN(ld_opts), &o, &err) != CM_OK)
        goto conf_fail;
    if (conf_path != NULL &&
        cm_conf_load(ld_opts, CM_ARRAY_LEN(ld_opts), &o, conf_path, &err) != CM_OK)
        goto conf_fail;
    for (size_t i = 0; i < noverrides; i++)
        if (cm_conf_set_kv(ld_opts, CM_ARRAY_LEN(ld_opts), &o, overrides[i], &err) != CM_OK)
            goto conf_fail;
    if (options_check(&o, check_only, &err) != CM_OK)
        goto conf_fail;
    cm_log_set_level((enum cm_log_level)o.log_level);
    if (check_only) {
        fprintf(stderr, "steward-loader: configuration ok\n");
        status = 0;
        goto done;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    status = run(&o);
    goto done;

conf_fail:
    fprintf(stderr, "steward-loader: %s\n", err.msg);
done:
    cm_conf_fini(ld_opts, CM_ARRAY_LEN(ld_opts), &o);
    free(overrides);
    return status;
}
