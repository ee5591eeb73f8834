/* SPDX-License-Identifier: Apache-2.0
 *
 * ld_batch: loads one batch of Kafka messages into PostgreSQL in one
 * transaction (steward-loader).  Knows PostgreSQL (through aud_pg) but not
 * Kafka: ld_main.c consumes, this file loads, and ld_main.c stores the
 * offsets only after ld_batch_load() returned CM_OK.
 *
 * Valid records go in with one INSERT .. SELECT over a jsonb array, ON
 * CONFLICT (record_id) DO NOTHING, and their findings only for the rows that
 * were new (a CTE on RETURNING record_id), so redeliveries are no-ops.
 * Checkpoints go to lineage_checkpoints (ON CONFLICT (chain_id, seq) DO
 * NOTHING).  Invalid messages go to lineage_rejects with the error and the
 * raw bytes.
 * If PostgreSQL refuses the batch's data (SQLSTATE class 22/23), the batch
 * is loaded again record by record under savepoints and the refused records
 * are rejected too: one bad record never blocks the stream.
 *
 * Single-threaded (the loader's main loop).
 */
#ifndef LD_BATCH_H
#define LD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "audit/aud_pg.h"
#include "common/cm_status.h"

/* One consumed message; everything borrowed. */
struct ld_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *data; /* may be NULL: an empty message */
    size_t len;
};

struct ld_totals {
    uint64_t batches;
    uint64_t loaded;      /* new lineage_records rows */
    uint64_t duplicates;  /* valid records already present */
    uint64_t findings;    /* new lineage_findings rows */
    uint64_t checkpoints; /* new lineage_checkpoints rows */
    uint64_t rejected;    /* new lineage_rejects rows */
};

/* Loads msgs[0..n) in one transaction and adds what it did to *tot.
 * Returns CM_OK once committed, or CM_EIO with err set: rolled back,
 * nothing changed; reconnect if !aud_pg_alive(pg) and retry the same batch. */
int ld_batch_load(struct aud_pg *pg, const struct ld_msg *msgs, size_t n, struct ld_totals *tot,
                  struct cm_err *err) CM_MUSTCHECK;

/* The INSERT statement derived from schema/fields.def (static storage,
 * built on first use). */
const char *ld_batch_sql(void);

#endif /* LD_BATCH_H */
