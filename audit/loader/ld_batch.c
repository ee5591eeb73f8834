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
 * array is valid JSON.
 *
 * Logs name Kafka positions and SQLSTATEs, never record content.
 */
#include "audit/loader/ld_batch.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_validate.h"
#include "common/cm_buf.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"

/* A JSON path to the field's value as text, with the cast its column needs. */
static void
put_expr(struct cm_buf *b, const char *var, const struct aud_field *f)
{
    bool nested = f->parent[0] != '\0' && strcmp(f->parent, "findings") != 0;
    char obj[128];

    if (nested)
        snprintf(obj, sizeof(obj), "%s->'%s'", var, f->parent);
    else
        snprintf(obj, sizeof(obj), "%s", var);
    switch (f->type) {
    case AUD_T_STRING_ARRAY:
        cm_buf_printf(b, "ARRAY(SELECT jsonb_array_elements_text(%s->'%s'))", obj, f->key);
        return;
    case AUD_T_UUID:
    case AUD_T_UUID_NULL: cm_buf_printf(b, "(%s->>'%s')::uuid", obj, f->key); return;
    case AUD_T_TIME: cm_buf_printf(b, "(%s->>'%s')::timestamptz", obj, f->key); return;
    case AUD_T_INT32: cm_buf_printf(b, "(%s->>'%s')::int", obj, f->key); return;
    case AUD_T_INT64:
    case AUD_T_INT64_NULL: cm_buf_printf(b, "(%s->>'%s')::bigint", obj, f->key); return;
    case AUD_T_STRING:
    case AUD_T_STRING_NULL: cm_buf_printf(b, "%s->>'%s'", obj, f->key); return;
    case AUD_T_OBJECT:
    case AUD_T_OBJECT_ARRAY: break;
    }
    cm_assert(!"field type without a column");
}

/* Names from fields.def are pasted into SQL: they must be plain identifiers. */
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
                    "SELECT DISTINCT ON (id) id, r, t, p, o FROM ("
                    "SELECT (e->'r'->>'record_id')::uuid AS id, e->'r' AS r, e->>'t' AS t, "
                    "(e->>'p')::int AS p, (e->>'o')::bigint AS o, n "
                    "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n)) s "
                    "ORDER BY id, n), "
                    "ins AS (INSERT INTO lineage_records (");
    for (size_t i = 0; i < aud_n_fields; i++) {
        if (aud_fields[i].column == NULL)
            continue;
        check_ident(aud_fields[i].column);
        check_ident(aud_fields[i].key);
        if (aud_fields[i].parent[0] != '\0')
            check_ident(aud_fields[i].parent);
        cm_buf_printf(&b, "%s\"%s\"", first ? "" : ", ", aud_fields[i].column);
        first = false;
    }
    cm_buf_puts(&b, ", raw, kafka_topic, kafka_partition, kafka_offset) SELECT ");
    first = true;
    for (size_t i = 0; i < aud_n_fields; i++) {
        if (aud_fields[i].column == NULL)
            continue;
        if (!first)
            cm_buf_puts(&b, ", ");
        put_expr(&b, "r", &aud_fields[i]);
        first = false;
    }
    /* No conflict target: the key of the partitioned table is (record_id,
     * ts_start) (0005_partitions.sql), and a replay carries both unchanged.
     * Findings, fingerprints and lineage edges are derived from the inserted
     * rows by the statement trigger of 0006_graph.sql, so every loader (and
     * COPY) fills them; the findings count is read from the batch. */
    cm_buf_puts(&b, ", r, t, p, o FROM src ON CONFLICT DO NOTHING RETURNING record_id) "
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

static void
put_elem(struct cm_buf *arr, const struct ld_msg *m)
{
    if (arr->len > 1)
        cm_buf_putc(arr, ',');
    cm_buf_puts(arr, "{\"t\":");
    cm_buf_append_json_str(arr, m->topic, strlen(m->topic));
    cm_buf_printf(arr, ",\"p\":%" PRId32 ",\"o\":%" PRId64 ",\"r\":", m->partition, m->offset);
    cm_buf_append(arr, m->data, m->len);
    cm_buf_putc(arr, '}');
}

/* Inserts the records of the array text arr; adds the counts on success. */
static int
insert_records(struct aud_pg *pg, const struct cm_buf *arr, uint64_t *loaded, uint64_t *findings,
               struct cm_err *err)
{
    struct aud_pg_param p = {arr->p, arr->len, false};
    struct aud_pg_res *res;
    int rc;

    rc = aud_pg_query(pg, ld_batch_sql(), &p, 1, &res, err);
    if (rc != CM_OK)
        return rc;
    *loaded += strtoull(aud_pg_res_value(res, 0, 0), NULL, 10);
    *findings += strtoull(aud_pg_res_value(res, 0, 1), NULL, 10);
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

/* One transaction over the batch; `each` loads record by record under
 * savepoints, rejecting those PostgreSQL refuses.  Returns CM_OK (committed,
 * tot updated), CM_EINPUT (the server refused the data: only without each)
 * or CM_EIO.  Rolls back on failure. */
static int
load_tx(struct aud_pg *pg, const struct ld_msg *msgs, size_t n, bool each, struct ld_totals *tot,
        char sqlstate[6], struct cm_err *err)
{
    struct reject *rej = cm_calloc(n > 0 ? n : 1, sizeof(*rej));
    struct ld_totals t = {0};
    struct cm_buf arr;
    size_t nrej = 0, nvalid = 0;
    struct cm_err ignored;
    int rc;

    cm_buf_init(&arr);
    rc = aud_pg_exec(pg, "BEGIN", err);
    if (rc != CM_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct cm_err verr;

        if (aud_validate(msgs[i].data, msgs[i].data != NULL ? msgs[i].len : 0, &verr) != CM_OK) {
            rej[nrej].i = i;
            snprintf(rej[nrej].error, sizeof(rej[nrej].error), "%s", verr.msg);
            cm_log_warn("loader",
                        "record_rejected topic=%s partition=%" PRId32 " offset=%" PRId64
                        " error=\"%s\"",
                        msgs[i].topic, msgs[i].partition, msgs[i].offset, verr.msg);
            nrej++;
            continue;
        }
        nvalid++;
        if (!each) {
            if (arr.len == 0)
                cm_buf_putc(&arr, '[');
            put_elem(&arr, &msgs[i]);
            continue;
        }
        cm_buf_reset(&arr);
        cm_buf_putc(&arr, '[');
        put_elem(&arr, &msgs[i]);
        cm_buf_putc(&arr, ']');
        rc = aud_pg_exec(pg, "SAVEPOINT ld_record", err);
        if (rc != CM_OK)
            goto fail;
        rc = insert_records(pg, &arr, &t.loaded, &t.findings, err);
        if (rc == CM_EINPUT) {
            cm_log_warn("loader",
                        "record_rejected topic=%s partition=%" PRId32 " offset=%" PRId64
                        " error=postgresql sqlstate=%s",
                        msgs[i].topic, msgs[i].partition, msgs[i].offset, aud_pg_sqlstate(pg));
            rej[nrej].i = i;
            snprintf(rej[nrej].error, sizeof(rej[nrej].error), "postgresql %s", err->msg);
            nrej++;
            nvalid--;
            rc = aud_pg_exec(pg, "ROLLBACK TO SAVEPOINT ld_record", err);
        }
        if (rc != CM_OK)
            goto fail;
        rc = aud_pg_exec(pg, "RELEASE SAVEPOINT ld_record", err);
        if (rc != CM_OK)
            goto fail;
    }
    if (!each && arr.len > 0) {
        cm_buf_putc(&arr, ']');
        rc = insert_records(pg, &arr, &t.loaded, &t.findings, err);
        if (rc != CM_OK)
            goto fail;
    }
    for (size_t k = 0; k < nrej; k++) {
        rc = insert_reject(pg, &msgs[rej[k].i], rej[k].error, err);
        if (rc != CM_OK)
            goto fail;
    }
    rc = aud_pg_exec(pg, "COMMIT", err);
    if (rc != CM_OK)
        goto fail;
    tot->batches++;
    tot->loaded += t.loaded;
    tot->duplicates += nvalid - t.loaded;
    tot->findings += t.findings;
    tot->rejected += nrej;
    cm_log_debug("loader",
                 "batch_loaded messages=%zu loaded=%" PRIu64 " duplicates=%" PRIu64
                 " findings=%" PRIu64 " rejected=%zu mode=%s",
                 n, t.loaded, nvalid - t.loaded, t.findings, nrej, each ? "each" : "batch");
    cm_buf_fini(&arr);
    free(rej);
    return CM_OK;

fail:
    snprintf(sqlstate, 6, "%s", aud_pg_sqlstate(pg));
    if (aud_pg_alive(pg))
        (void)!aud_pg_exec(pg, "ROLLBACK", &ignored);
    cm_buf_fini(&arr);
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
