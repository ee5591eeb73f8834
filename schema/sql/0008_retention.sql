-- SPDX-License-Identifier: Apache-2.0
--
-- 0008_retention: how long each class of data is kept, legal holds that
-- suspend deletion, and the one function that applies both.
--
-- Data classes (steward_retention; change with `steward-audit retention set`):
--   records       lineage_records with their findings and lineage edges
--                 (partitions of the same day go together)
--   fingerprints  lineage_fingerprints: the keyed fingerprints that make a
--                 subject findable; may be kept shorter than records, never
--                 longer (a day of records goes with its fingerprints)
--   rejects       lineage_rejects (raw rejected payloads)
--   access_log    steward_access_log
--
-- steward_retention_apply(dry_run) works per day partition older than the
-- class's cutoff: a day without held records is dropped whole (DETACH and
-- DROP of that day's partition of each table of the class); a day with held
-- records keeps its partitions and loses only the rows that are not held.
-- Rows of the default partitions older than the cutoff are deleted unless
-- held.  rejects and access_log rows are deleted by age (no holds: they
-- belong to no tenant or subject).  Every action is returned, and written
-- to steward_retention_log unless dry_run, so the lineage chain checks
-- (`steward-audit verify`) can tell expired records from lost ones.
--
-- A legal hold (steward_legal_holds, `steward-audit hold add`) matches
-- records by any combination of tenant, trace id, record id and a time
-- range; a hold with no criteria holds everything.  A released hold no
-- longer counts.  Admin role only.

CREATE TABLE steward_retention (
    class text PRIMARY KEY,
    keep interval NOT NULL CHECK (keep >= interval '1 day'),
    description text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by name NOT NULL DEFAULT session_user
);
INSERT INTO steward_retention (class, keep, description) VALUES
    ('records', '400 days', 'lineage records with their findings and lineage edges'),
    ('fingerprints', '400 days', 'keyed fingerprints of personal-data values (subject search)'),
    ('rejects', '30 days', 'messages the loader could not load, with their raw bytes'),
    ('access_log', '3 years', 'what auditors asked, when and from where');

CREATE TABLE steward_legal_holds (
    id bigserial PRIMARY KEY,
    reason text NOT NULL CHECK (reason <> ''),
    tenant text,
    trace_id text,
    record_id uuid,
    from_ts timestamptz,
    to_ts timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name NOT NULL DEFAULT session_user,
    released_at timestamptz,
    released_by name
);

CREATE TABLE steward_retention_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    by name NOT NULL DEFAULT session_user,
    class text NOT NULL,
    object text NOT NULL,
    action text NOT NULL,
    rows bigint NOT NULL,
    detail text
);

-- The chain positions retention deleted: contiguous seq ranges per chain,
-- written in the same transaction as the deletion, so `steward-audit
-- verify` reports them as expired, not as gaps (lost records).
CREATE TABLE steward_chain_expired (
    chain_id uuid NOT NULL,
    seq_from bigint NOT NULL,
    seq_to bigint NOT NULL CHECK (seq_to >= seq_from),
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, seq_from)
);

-- Records the chain ranges of the rows x of tbl (a lineage_records
-- partition) where cond holds, before they are deleted ($1 in cond is
-- cutoff).  Islands: consecutive seqs among the deleted rows make one range.
CREATE FUNCTION steward_chain_expire(tbl text, cond text, cutoff timestamptz)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('INSERT INTO steward_chain_expired (chain_id, seq_from, seq_to) '
                   'SELECT chain_id, min(chain_seq), max(chain_seq) FROM ('
                   'SELECT x.chain_id, x.chain_seq, x.chain_seq - row_number() OVER '
                   '(PARTITION BY x.chain_id ORDER BY x.chain_seq) AS island '
                   'FROM %I x WHERE x.chain_id IS NOT NULL AND x.chain_seq IS NOT NULL AND %s) s '
                   'GROUP BY chain_id, island ON CONFLICT DO NOTHING', tbl, cond)
        USING cutoff;
END
$fn$;

-- Is record (tenant, trace, id, ts) under an active legal hold?
CREATE FUNCTION steward_held(r_tenant text, r_trace text, r_id uuid, r_ts timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT EXISTS (
        SELECT 1 FROM steward_legal_holds h
        WHERE h.released_at IS NULL
          AND (h.tenant IS NULL OR h.tenant = r_tenant)
          AND (h.trace_id IS NULL OR h.trace_id = r_trace)
          AND (h.record_id IS NULL OR h.record_id = r_id)
          AND (h.from_ts IS NULL OR r_ts >= h.from_ts)
          AND (h.to_ts IS NULL OR r_ts < h.to_ts))
$fn$;

-- Counts (dry run) or deletes the rows x of tbl where cond holds ($1 in
-- cond is cutoff); returns how many.  One statement for both, so a dry run
-- reports exactly what a run does.
CREATE FUNCTION steward_retention_rows(dry_run boolean, tbl text, cond text, cutoff timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    EXECUTE format(CASE WHEN dry_run THEN 'SELECT count(*) FROM %I x WHERE %s'
                        ELSE 'WITH d AS (DELETE FROM %I x WHERE %s RETURNING 1) '
                             'SELECT count(*) FROM d' END, tbl, cond)
        INTO n USING cutoff;
    RETURN n;
END
$fn$;

CREATE FUNCTION steward_retention_apply(dry_run boolean)
RETURNS TABLE (class text, object text, action text, rows bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
#variable_conflict use_column
DECLARE
    unheld constant text := 'NOT EXISTS (SELECT 1 FROM lineage_records r WHERE '
        'r.record_id = x.record_id AND r.ts_start = x.ts_start AND '
        'steward_held(r.tenant, r.trace_id, r.record_id, r.ts_start))';
    c record;
    p record;
    t text;
    part text;
    cutoff timestamptz;
    held bigint;
    total bigint;
    tables text[];
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('steward_partitions'));
    FOR c IN SELECT r.class, r.keep FROM steward_retention r
             WHERE r.class IN ('records', 'fingerprints') ORDER BY r.class DESC LOOP
        cutoff := date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - c.keep;
        -- A day of records takes its fingerprints along: they never outlive
        -- the records they point at.
        tables := ARRAY(SELECT s.table_name FROM steward_partitioned s
                        WHERE s.retention_class = c.class
                           OR (c.class = 'records' AND s.retention_class = 'fingerprints')
                        ORDER BY s.table_name);
        -- Whole days before the cutoff, judged by the records' partitions.
        FOR p IN SELECT DISTINCT sp.day FROM steward_partitions() sp
                 WHERE sp.table_name = ANY (tables) AND sp.day IS NOT NULL
                   AND (sp.day + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff
                 ORDER BY sp.day LOOP
            SELECT count(*), count(*) FILTER (WHERE steward_held(r.tenant, r.trace_id,
                                                                 r.record_id, r.ts_start))
              INTO total, held
              FROM lineage_records r
             WHERE r.ts_start >= p.day::timestamp AT TIME ZONE 'UTC'
               AND r.ts_start < (p.day + 1)::timestamp AT TIME ZONE 'UTC';
            FOREACH t IN ARRAY tables LOOP
                part := t || '_p' || to_char(p.day, 'YYYYMMDD');
                CONTINUE WHEN to_regclass(part) IS NULL;
                class := c.class;
                object := part;
                IF held = 0 THEN
                    rows := steward_retention_rows(true, part, 'true', cutoff);
                    IF NOT dry_run AND t = 'lineage_records' THEN
                        PERFORM steward_chain_expire(part, 'true', cutoff);
                    END IF;
                    IF NOT dry_run THEN
                        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', t, part);
                        EXECUTE format('DROP TABLE %I', part);
                    END IF;
                    action := 'drop partition';
                    detail := format('day %s, older than %s', p.day, c.keep);
                ELSE
                    IF NOT dry_run AND t = 'lineage_records' THEN
                        PERFORM steward_chain_expire(part, unheld, cutoff);
                    END IF;
                    rows := steward_retention_rows(dry_run, part, unheld, cutoff);
                    action := CASE WHEN rows = 0 THEN 'keep (legal hold)'
                                   ELSE 'delete unheld rows' END;
                    detail := format('day %s, older than %s; partition kept: %s of %s records '
                                     'under legal hold', p.day, c.keep, held, total);
                END IF;
                IF NOT dry_run AND rows > 0 THEN
                    INSERT INTO steward_retention_log (class, object, action, rows, detail)
                    VALUES (class, object, action, rows, detail);
                END IF;
                RETURN NEXT;
            END LOOP;
        END LOOP;
        -- Old strays in the default partitions.
        FOREACH t IN ARRAY tables LOOP
            IF NOT dry_run AND t = 'lineage_records' THEN
                PERFORM steward_chain_expire(t || '_default', 'x.ts_start < $1 AND ' || unheld,
                                             cutoff);
            END IF;
            rows := steward_retention_rows(dry_run, t || '_default',
                                           'x.ts_start < $1 AND ' || unheld, cutoff);
            CONTINUE WHEN rows = 0;
            class := c.class; object := t || '_default'; action := 'delete old rows';
            detail := format('older than %s', c.keep);
            IF NOT dry_run THEN
                INSERT INTO steward_retention_log (class, object, action, rows, detail)
                VALUES (class, object, action, rows, detail);
            END IF;
            RETURN NEXT;
        END LOOP;
    END LOOP;

    -- Rejects and the access log belong to no tenant or subject: by age only.
    FOR c IN SELECT r.class, r.keep, CASE r.class WHEN 'rejects' THEN 'lineage_rejects'
                                                  ELSE 'steward_access_log' END AS tbl,
                    CASE r.class WHEN 'rejects' THEN 'x.received_at < $1'
                                 ELSE 'x.at < $1' END AS cond
             FROM steward_retention r WHERE r.class IN ('rejects', 'access_log')
             ORDER BY r.class DESC LOOP
        cutoff := now() - c.keep;
        rows := steward_retention_rows(dry_run, c.tbl, c.cond, cutoff);
        CONTINUE WHEN rows = 0;
        class := c.class; object := c.tbl; action := 'delete old rows';
        detail := 'older than ' || c.keep;
        IF NOT dry_run THEN
            INSERT INTO steward_retention_log (class, object, action, rows, detail)
            VALUES (class, object, action, rows, detail);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION steward_retention_rows(boolean, text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION steward_chain_expire(text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON steward_chain_expired FROM PUBLIC;
REVOKE ALL ON steward_retention, steward_legal_holds, steward_retention_log FROM PUBLIC;
GRANT SELECT ON steward_retention TO steward_auditor;
GRANT SELECT, UPDATE ON steward_retention TO steward_admin;
GRANT SELECT (id, reason, tenant, trace_id, record_id, from_ts, to_ts, created_at, released_at)
    ON steward_legal_holds TO steward_auditor;
GRANT SELECT, INSERT, UPDATE ON steward_legal_holds TO steward_admin;
GRANT USAGE ON SEQUENCE steward_legal_holds_id_seq TO steward_admin;
GRANT SELECT ON steward_retention_log, steward_chain_expired TO steward_auditor, steward_admin;

SELECT steward_secure_functions();
GRANT EXECUTE ON FUNCTION steward_retention_apply(boolean) TO steward_admin;
