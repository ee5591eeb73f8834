-- SPDX-License-Identifier: Apache-2.0
--
-- 0004_context: the lineage context of a record (issue 7) as columns of
-- lineage_records, filled by the loader from the record's members
-- (schema/fields.def):
--   trace.trace_id, trace.span_id, trace.parent_span_id   W3C Trace Context
--   parent_record      X-Steward-Parent: the record this exchange continues
--   inputs             X-Steward-Inputs: source document ids/URIs
--   fingerprint_key_id the key the findings' fingerprints were made with
-- Additive only: earlier rows get NULL (and '{}' for inputs).  The lineage
-- edges and fingerprints derived from them are tables of 0006_graph.sql.
-- Numbered from 0004: 0002 and 0003 belong to the lineage (chain) and
-- policy-language work, and every file here copes with columns they add.

ALTER TABLE lineage_records
    ADD COLUMN IF NOT EXISTS trace_id text,
    ADD COLUMN IF NOT EXISTS span_id text,
    ADD COLUMN IF NOT EXISTS parent_span_id text,
    ADD COLUMN IF NOT EXISTS parent_record_id uuid,
    ADD COLUMN IF NOT EXISTS inputs text[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS fingerprint_key_id text;
