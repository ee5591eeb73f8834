-- SPDX-License-Identifier: Apache-2.0
--
-- 0006_graph: what auditors search and walk, derived from each record as it
-- is inserted (by any loader, by COPY or by hand) in PostgreSQL itself:
--
--   lineage_findings      one row per element of the record's "findings"
--                         (members mapped to columns of the same name), with
--                         the record's tenant, purpose, model and upstream
--   lineage_fingerprints  one row per keyed fingerprint of a finding's value,
--                         indexed by fingerprint: `steward-audit subject`
--   lineage_edges         record -> parent record (X-Steward-Parent),
--                         record -> input document (X-Steward-Inputs),
--                         record -> model (served, else requested; detail =
--                         upstream endpoint): `steward-audit trace` walks them
--                         with recursive CTEs
--
-- A statement-level AFTER INSERT trigger with a transition table sees only
-- the rows that were really inserted (ON CONFLICT DO NOTHING skips replays),
-- derives all three set-wise, and runs as the table owner, so the loader role
-- needs INSERT on lineage_records only.  A fingerprint that is not 64 hex
-- digits is skipped rather than failing the batch.  The derived tables are
-- partitioned by day like their record (ts_start and tenant are copied), so
-- retention drops them with it and row-level security needs no join.
-- Trace-context parents (a record whose parent_span_id is another record's
-- span_id in the same trace) are found at query time, not stored.

-- Findings also carry their record's purpose, model (served, else requested)
-- and upstream endpoint: the report's per-purpose, per-model and
-- per-recipient figures then read one narrow table.  Rows converted by 0005
-- get them here.
ALTER TABLE lineage_findings ADD COLUMN purpose text, ADD COLUMN model text,
    ADD COLUMN upstream text;
UPDATE lineage_findings f SET purpose = r.purpose,
       model = coalesce(r.model_served, r.model_requested), upstream = r.upstream
FROM lineage_records r WHERE r.record_id = f.record_id AND r.ts_start = f.ts_start;

CREATE TABLE lineage_fingerprints (
    fingerprint bytea NOT NULL,
    record_id uuid NOT NULL,
    ts_start timestamptz NOT NULL,
    tenant text,
    finding_idx int NOT NULL,
    direction text NOT NULL,
    type text NOT NULL,
    PRIMARY KEY (record_id, ts_start, finding_idx, fingerprint)
) PARTITION BY RANGE (ts_start);
CREATE TABLE lineage_fingerprints_default PARTITION OF lineage_fingerprints DEFAULT;
CREATE INDEX lineage_fingerprints_fp_idx ON lineage_fingerprints (fingerprint);

CREATE TABLE lineage_edges (
    record_id uuid NOT NULL,
    ts_start timestamptz NOT NULL,
    tenant text,
    kind text NOT NULL CHECK (kind IN ('parent', 'input', 'model')),
    target text NOT NULL,
    target_record uuid,
    detail text,
    PRIMARY KEY (record_id, ts_start, kind, target)
) PARTITION BY RANGE (ts_start);
CREATE TABLE lineage_edges_default PARTITION OF lineage_edges DEFAULT;
CREATE INDEX lineage_edges_target_record_idx ON lineage_edges (target_record)
    WHERE target_record IS NOT NULL;
CREATE INDEX lineage_edges_target_idx ON lineage_edges (kind, target);

INSERT INTO steward_partitioned VALUES ('lineage_fingerprints', 'fingerprints'),
                                       ('lineage_edges', 'records');

CREATE FUNCTION steward_derive_records() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    -- LATERAL, not (jsonb_populate_record(...)).*: that form calls the
    -- function once per column.
    INSERT INTO lineage_findings
    SELECT p.*
    FROM steward_new_records n
    CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(n.raw->'findings')
                                            WHEN 'array' THEN n.raw->'findings'
                                            ELSE '[]' END) WITH ORDINALITY AS f(e, i)
    CROSS JOIN LATERAL jsonb_populate_record(NULL::lineage_findings,
        f.e || jsonb_build_object('record_id', n.record_id, 'ts_start', n.ts_start,
                                  'tenant', n.tenant, 'idx', f.i - 1, 'purpose', n.purpose,
                                  'model', coalesce(n.model_served, n.model_requested),
                                  'upstream', n.upstream)) AS p
    WHERE jsonb_typeof(f.e) = 'object';

    INSERT INTO lineage_fingerprints
        (fingerprint, record_id, ts_start, tenant, finding_idx, direction, type)
    SELECT DISTINCT decode(fp.v, 'hex'), n.record_id, n.ts_start, n.tenant, (f.i - 1)::int,
           coalesce(f.e->>'direction', ''), coalesce(f.e->>'type', '')
    FROM steward_new_records n
    CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(n.raw->'findings')
                                            WHEN 'array' THEN n.raw->'findings'
                                            ELSE '[]' END) WITH ORDINALITY AS f(e, i)
    CROSS JOIN LATERAL jsonb_array_elements_text(CASE jsonb_typeof(f.e->'fingerprints')
                                                 WHEN 'array' THEN f.e->'fingerprints'
                                                 ELSE '[]' END) AS fp(v)
    WHERE jsonb_typeof(f.e) = 'object' AND fp.v ~ '^[0-9a-f]{64}$';

    INSERT INTO lineage_edges (record_id, ts_start, tenant, kind, target, target_record, detail)
    SELECT record_id, ts_start, tenant, 'parent', parent_record_id::text, parent_record_id, NULL
    FROM steward_new_records WHERE parent_record_id IS NOT NULL
    UNION ALL
    SELECT DISTINCT n.record_id, n.ts_start, n.tenant, 'input', i.v, NULL::uuid, NULL
    FROM steward_new_records n CROSS JOIN LATERAL unnest(n.inputs) AS i(v)
    WHERE i.v IS NOT NULL AND i.v <> ''
    UNION ALL
    SELECT record_id, ts_start, tenant, 'model', coalesce(model_served, model_requested), NULL,
           upstream
    FROM steward_new_records WHERE coalesce(model_served, model_requested) IS NOT NULL;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER lineage_records_derive AFTER INSERT ON lineage_records
    REFERENCING NEW TABLE AS steward_new_records
    FOR EACH STATEMENT EXECUTE FUNCTION steward_derive_records();

-- Records loaded before this file: their model edges (they carry no
-- fingerprints, parents or inputs).
INSERT INTO lineage_edges (record_id, ts_start, tenant, kind, target, target_record, detail)
SELECT record_id, ts_start, tenant, 'model', coalesce(model_served, model_requested), NULL, upstream
FROM lineage_records WHERE coalesce(model_served, model_requested) IS NOT NULL;

SELECT steward_secure_functions();
