-- SPDX-License-Identifier: Apache-2.0
--
-- 0009_erasure: erasure of a data subject's records (GDPR Art. 17), by the
-- admin role, through `steward-audit subject VALUE --erase --reason TEXT`.
--
-- steward_subject_erase(ids, starts, reason, dry_run) deletes the records
-- (record_id, ts_start) given, with their findings, fingerprints and lineage
-- edges, except the records under an active legal hold (steward_held), which
-- it keeps and names.  Like retention it accounts for what it removes:
--   - each erased record's chain position goes to steward_chain_expired
--     with reason 'erasure', so `steward-audit verify` counts it as expired
--     rather than as a lost record (a record deleted any other way is a gap);
--   - one row in steward_retention_log (class 'erasure', the reason, the
--     number of records).
-- The value itself never reaches the database: steward-audit finds the
-- records by fingerprint and passes their ids.  A dry run counts and
-- changes nothing.  Admin role only.

ALTER TABLE steward_chain_expired
    ADD COLUMN reason text NOT NULL DEFAULT 'retention'
    CHECK (reason IN ('retention', 'erasure'));

CREATE FUNCTION steward_subject_erase(ids uuid[], starts timestamptz[], why text, dry_run boolean)
RETURNS TABLE (erased bigint, held bigint, held_records text)
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    del_ids uuid[];
    del_ts timestamptz[];
    t text;
BEGIN
    IF why IS NULL OR btrim(why) = '' THEN
        RAISE EXCEPTION 'steward_subject_erase: a reason is required';
    END IF;
    IF coalesce(array_length(ids, 1), 0) <> coalesce(array_length(starts, 1), 0) THEN
        RAISE EXCEPTION 'steward_subject_erase: ids and starts differ in length';
    END IF;
    SELECT array_agg(r.record_id) FILTER (WHERE NOT s.h),
           array_agg(r.ts_start) FILTER (WHERE NOT s.h),
           count(*) FILTER (WHERE s.h),
           string_agg(r.record_id::text, ',' ORDER BY r.ts_start) FILTER (WHERE s.h)
      INTO del_ids, del_ts, held, held_records
      FROM lineage_records r
      JOIN unnest(ids, starts) AS x(id, ts) ON r.record_id = x.id AND r.ts_start = x.ts
      CROSS JOIN LATERAL (SELECT steward_held(r.tenant, r.trace_id, r.record_id, r.ts_start)) s(h);
    erased := coalesce(array_length(del_ids, 1), 0);
    IF dry_run OR erased = 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO steward_chain_expired (chain_id, seq_from, seq_to, reason)
    SELECT r.chain_id, r.chain_seq, r.chain_seq, 'erasure'
      FROM lineage_records r
      JOIN unnest(del_ids, del_ts) AS x(id, ts) ON r.record_id = x.id AND r.ts_start = x.ts
     WHERE r.chain_id IS NOT NULL AND r.chain_seq IS NOT NULL
    ON CONFLICT DO NOTHING;
    FOREACH t IN ARRAY ARRAY['lineage_fingerprints', 'lineage_edges', 'lineage_findings',
                             'lineage_records'] LOOP
        EXECUTE format('DELETE FROM %I d USING unnest($1, $2) AS x(id, ts) '
                       'WHERE d.record_id = x.id AND d.ts_start = x.ts', t)
            USING del_ids, del_ts;
    END LOOP;
    INSERT INTO steward_retention_log (class, object, action, rows, detail)
    VALUES ('erasure', 'lineage_records', 'erase subject records', erased, why);
    RETURN NEXT;
END
$fn$;

SELECT steward_secure_functions();
GRANT EXECUTE ON FUNCTION steward_subject_erase(uuid[], timestamptz[], text, boolean)
    TO steward_admin;
