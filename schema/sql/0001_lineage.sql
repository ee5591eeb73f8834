-- SPDX-License-Identifier: Apache-2.0
--
-- 0001_lineage: the first lineage tables (schema "steward.lineage/1").
--
-- Applied by `steward-audit migrate`, which runs each schema/sql/NNNN_*.sql
-- file once, in order, in its own transaction, and records it in
-- schema_migrations.  Migrations are forward-only: never edit an applied
-- file, add the next one.  Files hold no BEGIN/COMMIT of their own.
--
-- The columns of lineage_records and lineage_findings are the ones named in
-- schema/fields.def (tests/unit/test_aud_record.c checks that each is here);
-- NOT NULL where fields.def says the value can never be null.  The loader
-- (steward-loader) fills them; `raw` keeps the whole record as received.
-- Partitioning by day, roles and row-level security come in later files.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lineage_records (
    record_id uuid PRIMARY KEY,
    schema text NOT NULL,
    ts_start timestamptz NOT NULL,
    ts_end timestamptz NOT NULL,
    instance text NOT NULL,
    principal text,
    tenant text,
    purpose text,
    method text NOT NULL,
    path text NOT NULL,
    route text NOT NULL,
    model_requested text,
    model_served text,
    upstream text,
    policy_id text,
    policy_hash text,
    policy_mode text,
    decision text,
    rule_id text,
    matched_rules text[] NOT NULL DEFAULT '{}',
    http_status int NOT NULL,
    outcome text NOT NULL,
    latency_total_us bigint NOT NULL,
    latency_upstream_us bigint NOT NULL,
    latency_governance_us bigint NOT NULL,
    prompt_tokens bigint,
    completion_tokens bigint,
    raw jsonb NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    kafka_topic text,
    kafka_partition int,
    kafka_offset bigint
);

CREATE INDEX lineage_records_ts_start_idx ON lineage_records (ts_start);
CREATE INDEX lineage_records_decision_idx ON lineage_records (decision, ts_start);
CREATE INDEX lineage_records_outcome_idx ON lineage_records (outcome, ts_start);

-- One row per element of the record's "findings" array; idx is its position.
CREATE TABLE lineage_findings (
    record_id uuid NOT NULL REFERENCES lineage_records (record_id) ON DELETE CASCADE,
    idx int NOT NULL,
    direction text NOT NULL,
    type text NOT NULL,
    pointer text NOT NULL,
    count int NOT NULL,
    action text NOT NULL,
    PRIMARY KEY (record_id, idx)
);

CREATE INDEX lineage_findings_type_idx ON lineage_findings (type);

-- Messages that failed validation (or that PostgreSQL refused one by one),
-- kept with the error and the raw bytes: nothing is dropped.  No unique key
-- on the Kafka position: the embedded Kafka restarts its offsets at 0.
CREATE TABLE lineage_rejects (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    kafka_topic text NOT NULL,
    kafka_partition int NOT NULL,
    kafka_offset bigint NOT NULL,
    error text NOT NULL,
    payload bytea
);

CREATE INDEX lineage_rejects_received_at_idx ON lineage_rejects (received_at);
