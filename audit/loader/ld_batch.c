/* SPDX-License-Identifier: Apache-2.0
 *
 * ld_batch: one batch, one transaction.  See ld_batch.h.
 *
 * The batch travels as a single jsonb parameter,
 *   [{"t":topic,"p":partition,"o":offset,"r":<the record as received>}, ...]
 * so a batch of any size is one round trip with one bound parameter (no
 * 65535-parameter limit, no string pasting), and the SQL that unpacks it is
 * generated from schema/fields.def: a field added there is loaded without
 * touching this file (its column still needs a migration).  The raw bytes
 * are spliced into the array only after aud_validate() accepted them, so the
 * array is valid JSON.  Next to it travel the exact bytes, in hex ("b"): the
 * jsonb copy reorders keys, and the record's hash (aud_chain.h) is over the
 * bytes.  Checkpoints (schema steward.checkpoint/1) go to
 * lineage_checkpoints the same way, keyed by (chain_id, seq).
 *
 * Logs name Kafka positions and SQLSTATEs, never record content.
 */
#include "audit/loader/ld_batch.h"

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_chain.h"
#include "audit/aud_validate.h"
#include "common/cm_hash.h"
#include "common/cm_buf.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"

/* Column names from fields.def are pasted into SQL: plain identifiers only. */
static void
check_ident(const char *s)
{
    cm_assert(s[0] != '\0');
    for (; *s; s++)
        cm_assert((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_');
}

static char *
sql_build(void)
{
    struct cm_buf b;
    size_t len;
    bool first = true;

    cm_buf_init(&b);
    cm_buf_puts(&b, "WITH src AS ("
                    "SELECT DISTINCT ON (id) id, r, b, t, p, o FROM ("
                    "SELECT (e->'r'->>'record_id')::uuid AS id, e->'r' AS r, "
                    "decode(e->>'b', 'hex') AS b, e->>'t' AS t, "
                    "(e->>'p')::int AS p, (e->>'o')::bigint AS o, n "
                    "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n)) s "
                    "ORDER BY id, n), "
                    "ins AS (INSERT INTO lineage_records (");
    for (size_t i = 0; i < aud_n_fields; i++) {
        if (aud_fields[i].column == NULL)
            continue;
        check_ident(aud_fields[i].column);
        cm_buf_printf(&b, "%s\"%s\"", first ? "" : ", ", aud_fields[i].column);
        first = false;
    }
    cm_buf_puts(&b, ", raw, raw_bytes, kafka_topic, kafka_partition, kafka_offset) SELECT ");
    first = true;
    for (size_t i = 0; i < aud_n_fields; i++) {
        if (aud_fields[i].column == NULL)
            continue;
        if (!first)
            cm_buf_puts(&b, ", ");
        aud_field_sql_expr(&b, "r", &aud_fields[i]);
        first = false;
    }
    /* No conflict target: the key of the partitioned table is (record_id,
     * ts_start) (0005_partitions.sql), and a replay carries both unchanged.
     * Findings, fingerprints and lineage edges are derived from the inserted
     * rows by the statement trigger of 0006_graph.sql, so every loader (and
     * COPY) fills them; the findings count is read from the batch. */
    cm_buf_puts(&b, ", r, b, t, p, o FROM src ON CONFLICT DO NOTHING RETURNING record_id) "
                    "SELECT count(*), coalesce(sum(CASE WHEN jsonb_typeof(src.r->'findings') = "
                    "'array' THEN jsonb_array_length(src.r->'findings') ELSE 0 END), 0) "
                    "FROM ins JOIN src ON src.id = ins.record_id");
    return cm_buf_steal(&b, &len);
}

const char *
ld_batch_sql(void)
{
    static char *sql;

    if (sql == NULL)
        sql = sql_build();
    return sql;
}

static const char ckpt_sql[] =
    "WITH src AS (SELECT DISTINCT ON (c, q) c, q, r, b, t, p, o FROM ("
    "SELECT (e->'r'->>'chain_id')::uuid AS c, (e->'r'->>'seq')::bigint AS q, e->'r' AS r, "
    "decode(e->>'b', 'hex') AS b, e->>'t' AS t, (e->>'p')::int AS p, (e->>'o')::bigint AS o, n "
    "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n)) s ORDER BY c, q, n), "
    "ins AS (INSERT INTO lineage_checkpoints (chain_id, seq, record_hash, ts, instance, key_id, "
    "signature, raw, raw_bytes, kafka_topic, kafka_partition, kafka_offset) "
    "SELECT c, q, r->>'hash', (r->>'ts')::timestamptz, r->>'instance', r->>'key_id', r->>'sig', "
    "r, b, t, p, o FROM src ON CONFLICT (chain_id, seq) DO NOTHING RETURNING 1) "
    "SELECT count(*) FROM ins";

/* Appends one message as {"t":topic,"p":partition,"o":offset,"r":<record>,
 * "b":"<its exact bytes in hex>"}; the record bytes were validated as JSON. */
static void
put_elem(struct cm_buf *arr, const struct ld_msg *m)
{
    if (arr->len > 1)
        cm_buf_putc(arr, ',');
    cm_buf_puts(arr, "{\"t\":");
    cm_buf_append_json_str(arr, m->topic, strlen(m->topic));
    cm_buf_printf(arr, ",\"p\":%" PRId32 ",\"o\":%" PRId64 ",\"r\":", m->partition, m->offset);
    cm_buf_append(arr, m->data, m->len);
    cm_buf_puts(arr, ",\"b\":\"");
    cm_buf_reserve(arr, 2 * m->len + 1);
    cm_hex((const uint8_t *)m->data, m->len, arr->p + arr->len);
    arr->len += 2 * m->len;
    cm_buf_puts(arr, "\"}");
}

/* Runs sql over the array text arr; adds the counts of its result row to
 * c0 (and c1 when not NULL) on success. */
static int
insert_array(struct aud_pg *pg, const char *sql, const struct cm_buf *arr, uint64_t *c0,
             uint64_t *c1, struct cm_err *err)
{
    struct aud_pg_param p = {arr->p, arr->len, false};
    struct aud_pg_res *res;
    int rc;

    rc = aud_pg_query(pg, sql, &p, 1, &res, err);
    if (rc != CM_OK)
        return rc;
    *c0 += strtoull(aud_pg_res_value(res, 0, 0), NULL, 10);
    if (c1 != NULL)
        *c1 += strtoull(aud_pg_res_value(res, 0, 1), NULL, 10);
    aud_pg_res_free(res);
    return CM_OK;
}

static int
insert_reject(struct aud_pg *pg, const struct ld_msg *m, const char *error, struct cm_err *err)
{
    char part[16], off[24];
    struct aud_pg_param p[] = {
        {m->topic, 0, false},
        {part, 0, false},
        {off, 0, false},
        {error, 0, false},
        {m->data != NULL ? m->data : "", m->len, true},
    };

    snprintf(part, sizeof(part), "%" PRId32, m->partition);
    snprintf(off, sizeof(off), "%" PRId64, m->offset);
    return aud_pg_query(pg,
                        "INSERT INTO lineage_rejects (kafka_topic, kafka_partition, kafka_offset, "
                        "error, payload) VALUES ($1, $2::int, $3::bigint, $4, $5::bytea)",
                        p, CM_ARRAY_LEN(p), NULL, err);
}

struct reject {
    size_t i;
    char error[sizeof(((struct cm_err *)0)->msg) + 16];
};

enum msg_kind {
    MSG_RECORD,
    MSG_CHECKPOINT,
};

/* Validates one message: CM_OK with its kind, or CM_EINPUT with the error. */
static int
classify(const struct ld_msg *m, enum msg_kind *kind, struct cm_err *err)
{
    size_t len = m->data != NULL ? m->len : 0;
    struct aud_checkpoint cp;

    if (m->data != NULL && aud_is_checkpoint(m->data, len)) {
        *kind = MSG_CHECKPOINT;
        return aud_checkpoint_parse(m->data, len, &cp, err);
    }
    *kind = MSG_RECORD;
    return aud_validate(m->data, len, err);
}

/* Inserts one valid message under a savepoint; a refusal by PostgreSQL
 * (class 22/23) makes it a reject.  Returns CM_OK, or CM_EIO. */
static int
insert_one(struct aud_pg *pg, const struct ld_msg *m, enum msg_kind kind, struct ld_totals *t,
           struct reject *rej, size_t *nrej, size_t i, bool *refused, struct cm_err *err)
{
    struct cm_buf arr;
    int rc;

    *refused = false;
    cm_buf_init(&arr);
    cm_buf_putc(&arr, '[');
    put_elem(&arr, m);
    cm_buf_putc(&arr, ']');
    rc = aud_pg_exec(pg, "SAVEPOINT ld_record", err);
    if (rc == CM_OK) {
        if (kind == MSG_CHECKPOINT)
            rc = insert_array(pg, ckpt_sql, &arr, &t->checkpoints, NULL, err);
        else
            rc = insert_array(pg, ld_batch_sql(), &arr, &t->loaded, &t->findings, err);
    }
    if (rc == CM_EINPUT) {
        cm_log_warn("loader",
                    "record_rejected topic=%s partition=%" PRId32 " offset=%" PRId64
                    " error=postgresql sqlstate=%s",
                    m->topic, m->partition, m->offset, aud_pg_sqlstate(pg));
        rej[*nrej].i = i;
        snprintf(rej[*nrej].error, sizeof(rej[*nrej].error), "postgresql %s", err->msg);
        (*nrej)++;
        *refused = true;
        rc = aud_pg_exec(pg, "ROLLBACK TO SAVEPOINT ld_record", err);
    }
    if (rc == CM_OK)
        rc = aud_pg_exec(pg, "RELEASE SAVEPOINT ld_record", err);
    cm_buf_fini(&arr);
    return rc;
}

/* Test hook (see ld_main.c): STEWARD_LOADER_TEST_CRASH=before_commit:N
 * kills the process with SIGKILL in batch N, with the inserts done and the
 * transaction not yet committed. */
static void
test_crash_before_commit(uint64_t batch)
{
    const char *v = getenv("STEWARD_LOADER_TEST_CRASH");

    if (v == NULL || strncmp(v, "before_commit:", 14) != 0 || strtoull(v + 14, NULL, 10) != batch)
        return;
    cm_log_warn("loader", "test_crash point=before_commit batch=%" PRIu64, batch);
    raise(SIGKILL);
}

/* One transaction over the batch; `each` loads message by message under
 * savepoints, rejecting those PostgreSQL refuses.  Returns CM_OK (committed,
 * tot updated), CM_EINPUT (the server refused the data: only without each)
 * or CM_EIO.  Rolls back on failure. */
static int
load_tx(struct aud_pg *pg, const struct ld_msg *msgs, size_t n, bool each, struct ld_totals *tot,
        char sqlstate[6], struct cm_err *err)
{
    struct reject *rej = cm_calloc(n > 0 ? n : 1, sizeof(*rej));
    struct ld_totals t = {0};
    struct cm_buf recs, cps;
    size_t nrej = 0, nvalid = 0;
    struct cm_err ignored;
    int64_t t0 = cm_mono_us(), t_sql = 0;
    int rc;

    cm_buf_init(&recs);
    cm_buf_init(&cps);
    rc = aud_pg_exec(pg, "BEGIN", err);
    if (rc != CM_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct cm_err verr;
        enum msg_kind kind;
        struct cm_buf *arr;
        bool refused;

        if (classify(&msgs[i], &kind, &verr) != CM_OK) {
            rej[nrej].i = i;
            snprintf(rej[nrej].error, sizeof(rej[nrej].error), "%s", verr.msg);
            cm_log_warn("loader",
                        "record_rejected topic=%s partition=%" PRId32 " offset=%" PRId64
                        " error=\"%s\"",
                        msgs[i].topic, msgs[i].partition, msgs[i].offset, verr.msg);
            nrej++;
            continue;
        }
        if (each) {
            rc = insert_one(pg, &msgs[i], kind, &t, rej, &nrej, i, &refused, err);
            if (rc != CM_OK)
                goto fail;
            if (!refused && kind == MSG_RECORD)
                nvalid++;
            continue;
        }
        if (kind == MSG_RECORD)
            nvalid++;
        arr = kind == MSG_CHECKPOINT ? &cps : &recs;
        if (arr->len == 0)
            cm_buf_putc(arr, '[');
        put_elem(arr, &msgs[i]);
    }
    t_sql = cm_mono_us();
    if (recs.len > 0) {
        cm_buf_putc(&recs, ']');
        rc = insert_array(pg, ld_batch_sql(), &recs, &t.loaded, &t.findings, err);
        if (rc != CM_OK)
            goto fail;
    }
    if (cps.len > 0) {
        cm_buf_putc(&cps, ']');
        rc = insert_array(pg, ckpt_sql, &cps, &t.checkpoints, NULL, err);
        if (rc != CM_OK)
            goto fail;
    }
    for (size_t k = 0; k < nrej; k++) {
        rc = insert_reject(pg, &msgs[rej[k].i], rej[k].error, err);
        if (rc != CM_OK)
            goto fail;
    }
    test_crash_before_commit(tot->batches + 1);
    rc = aud_pg_exec(pg, "COMMIT", err);
    if (rc != CM_OK)
        goto fail;
    tot->batches++;
    tot->loaded += t.loaded;
    tot->duplicates += nvalid - t.loaded;
    tot->findings += t.findings;
    tot->checkpoints += t.checkpoints;
    tot->rejected += nrej;
    cm_log_debug("loader",
                 "batch_loaded messages=%zu loaded=%" PRIu64 " duplicates=%" PRIu64
                 " findings=%" PRIu64 " checkpoints=%" PRIu64 " rejected=%zu mode=%s"
                 " prepare_us=%" PRId64 " sql_us=%" PRId64,
                 n, t.loaded, nvalid - t.loaded, t.findings, t.checkpoints, nrej,
                 each ? "each" : "batch", t_sql - t0, cm_mono_us() - t_sql);
    cm_buf_fini(&recs);
    cm_buf_fini(&cps);
    free(rej);
    return CM_OK;

fail:
    snprintf(sqlstate, 6, "%s", aud_pg_sqlstate(pg));
    if (aud_pg_alive(pg))
        (void)!aud_pg_exec(pg, "ROLLBACK", &ignored);
    cm_buf_fini(&recs);
    cm_buf_fini(&cps);
    free(rej);
    return rc;
}

int
ld_batch_load(struct aud_pg *pg, const struct ld_msg *msgs, size_t n, struct ld_totals *tot,
              struct cm_err *err)
{
    char sqlstate[6] = "";
    int rc = load_tx(pg, msgs, n, false, tot, sqlstate, err);

    if (rc != CM_EINPUT)
        return rc;
    cm_log_warn("loader", "batch_refused sqlstate=%s messages=%zu action=load_one_by_one", sqlstate,
                n);
    rc = load_tx(pg, msgs, n, true, tot, sqlstate, err);
    /* A refusal outside any record (a reject row itself): retry later. */
    return rc == CM_EINPUT ? CM_EIO : rc;
}
