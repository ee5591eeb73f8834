-- SPDX-License-Identifier: Apache-2.0
--
-- 0002_chain: tamper evidence (issue 6).  Every record now carries its place
-- in a hash chain ("chain": id, seq, prev; see audit/aud_chain.h), and the
-- sidecar emits signed checkpoints (schema "steward.checkpoint/1").
--
-- raw_bytes keeps each message exactly as it arrived: the record's hash is
-- SHA-256 over those bytes, which `steward-audit verify` recomputes; the
-- jsonb column `raw` reorders keys and cannot serve.  The chain columns are
-- nullable only because rows loaded before this migration have none
-- (verify reports such rows as unverifiable).  (chain_id, chain_seq) is
-- indexed but not unique: a duplicate seq must be storable so that verify
-- can report it.  Forward-only, like every migration.

ALTER TABLE lineage_records
    ADD COLUMN chain_id uuid,
    ADD COLUMN chain_seq bigint,
    ADD COLUMN chain_prev text,
    ADD COLUMN raw_bytes bytea;

CREATE INDEX lineage_records_chain_idx ON lineage_records (chain_id, chain_seq);

-- One row per checkpoint; a checkpoint re-sent (producer retry, spool
-- replay, redelivery) is the same (chain_id, seq) and is a no-op.
CREATE TABLE lineage_checkpoints (
    chain_id uuid NOT NULL,
    seq bigint NOT NULL,
    record_hash text NOT NULL,
    ts timestamptz NOT NULL,
    instance text,
    key_id text,
    signature text,
    raw jsonb NOT NULL,
    raw_bytes bytea NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    kafka_topic text,
    kafka_partition int,
    kafka_offset bigint,
    PRIMARY KEY (chain_id, seq)
);
