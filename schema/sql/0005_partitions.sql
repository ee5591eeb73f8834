-- SPDX-License-Identifier: Apache-2.0
--
-- 0005_partitions: lineage_records and lineage_findings become tables
-- partitioned by UTC day of ts_start (declarative range partitioning), so
-- queries over a period read only its days and retention drops whole days.
--
--   <table>_pYYYYMMDD   rows with ts_start in [day 00:00Z, next day 00:00Z)
--   <table>_default     rows that arrive before their day's partition exists:
--                       no record is ever refused for want of a partition.
--
-- steward_partitions_ensure(first, last) creates the day partitions of every
-- table listed in steward_partitioned (this file's two; 0006 adds the
-- derived tables), moving any strays out of the default partition first.
-- `steward-audit migrate` runs it for yesterday .. today + 7 days and
-- `steward-audit partitions` (daily, from cron or a timer) keeps it ahead.
--
-- The primary key of a partitioned table must hold the partition key, so
-- lineage_records is keyed by (record_id, ts_start): a replayed record
-- carries both unchanged, and the loader inserts with ON CONFLICT DO
-- NOTHING.  lineage_findings gains ts_start and tenant (copied from its
-- record) so it can be partitioned, pruned and row-level secured alike.
--
-- The conversion copies the tables generically: columns (whatever 0002 and
-- 0003 added), defaults, CHECK constraints, secondary indexes, triggers and
-- dependent views are carried over.  Two things cannot be: a foreign key
-- that references lineage_records, and a UNIQUE index without ts_start;
-- each is dropped or made non-unique with a NOTICE.

CREATE TABLE steward_partitioned (
    table_name text PRIMARY KEY,
    retention_class text NOT NULL
);

-- One day partition of tbl (idempotent).  Rows for that day that wait in
-- the default partition are moved into it, so a late partition never fails.
CREATE FUNCTION steward_partition_create(tbl text, day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    part text := tbl || '_p' || to_char(day, 'YYYYMMDD');
    dflt text := tbl || '_default';
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
    strays boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM steward_partitioned WHERE table_name = tbl) THEN
        RAISE EXCEPTION 'steward_partition_create: % is not a partitioned steward table', tbl;
    END IF;
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE ts_start >= $1 AND ts_start < $2)', dflt)
        INTO strays USING lo, hi;
    IF strays THEN
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, tbl);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE ts_start >= $1 AND ts_start < $2 '
                       'RETURNING *) INSERT INTO %I SELECT * FROM moved', dflt, part) USING lo, hi;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       tbl, part, lo, hi);
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       part, tbl, lo, hi);
    END IF;
    RETURN true;
END
$fn$;

-- The day partitions first_day .. last_day of every steward table; returns
-- how many were created.  Serialised by an advisory lock.
CREATE FUNCTION steward_partitions_ensure(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    t text;
    d date;
    n integer := 0;
BEGIN
    IF last_day < first_day OR last_day - first_day > 3660 THEN
        RAISE EXCEPTION 'steward_partitions_ensure: % .. % is not a range of at most 10 years',
            first_day, last_day;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('steward_partitions'));
    FOR t IN SELECT table_name FROM steward_partitioned ORDER BY table_name LOOP
        d := first_day;
        WHILE d <= last_day LOOP
            IF steward_partition_create(t, d) THEN
                n := n + 1;
            END IF;
            d := d + 1;
        END LOOP;
    END LOOP;
    RETURN n;
END
$fn$;

-- Every partition of the steward tables with its day (NULL for default)
-- and the planner's row estimate; for `steward-audit partitions` and the
-- report's retention section.
CREATE FUNCTION steward_partitions() RETURNS TABLE (
    table_name text, partition_name text, day date, est_rows bigint)
LANGUAGE sql STABLE SECURITY DEFINER AS $fn$
    SELECT p.table_name, c.relname::text,
           CASE WHEN c.relname ~ '_p[0-9]{8}$'
                THEN to_date(right(c.relname, 8), 'YYYYMMDD') END,
           greatest(c.reltuples, 0)::bigint
    FROM steward_partitioned p
    JOIN pg_inherits i ON i.inhparent = to_regclass(p.table_name)
    JOIN pg_class c ON c.oid = i.inhrelid
    ORDER BY 1, 3 NULLS FIRST
$fn$;

-- Rows waiting in each default partition (all tenants): normally none once
-- `steward-audit partitions` runs daily; the report shows the number.
CREATE FUNCTION steward_default_rows() RETURNS TABLE (table_name text, rows bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $fn$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT p.table_name FROM steward_partitioned p ORDER BY 1 LOOP
        table_name := t;
        EXECUTE format('SELECT count(*) FROM %I', t || '_default') INTO rows;
        RETURN NEXT;
    END LOOP;
END
$fn$;

-- Migration helper (session-local): rebuilds tbl as a partitioned table
-- with primary key pk, carrying over what can be carried over.
CREATE FUNCTION pg_temp.steward_to_partitioned(tbl text, pk text, class text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    old text := tbl || '_unpartitioned';
    r record;
    idx text[] := '{}';
    trg text[] := '{}';
    vws text[] := '{}';
    def text;
    d date;
BEGIN
    FOR r IN SELECT conname, conrelid::regclass::text AS t FROM pg_constraint
             WHERE contype = 'f' AND confrelid = to_regclass(tbl) LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname);
        RAISE NOTICE '0005: dropped foreign key % of % (% is now keyed by (..., ts_start))',
            r.conname, r.t, tbl;
    END LOOP;
    FOR r IN SELECT conname FROM pg_constraint
             WHERE contype = 'f' AND conrelid = to_regclass(tbl) LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', tbl, r.conname);
        RAISE NOTICE '0005: dropped foreign key % of %', r.conname, tbl;
    END LOOP;
    FOR r IN SELECT i.indisunique AS uniq, c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = to_regclass(tbl) AND NOT i.indisprimary LOOP
        def := r.def;
        IF r.uniq AND def !~ '\mts_start\M' THEN
            def := regexp_replace(def, '^CREATE UNIQUE INDEX', 'CREATE INDEX');
            RAISE NOTICE '0005: index % is no longer unique (a partitioned table can only '
                'enforce uniqueness that includes ts_start)', r.name;
        END IF;
        idx := idx || def;
    END LOOP;
    FOR r IN SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger
             WHERE tgrelid = to_regclass(tbl) AND NOT tgisinternal LOOP
        trg := trg || r.def;
    END LOOP;
    FOR r IN SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS def
             FROM pg_depend dep JOIN pg_rewrite w ON w.oid = dep.objid
             JOIN pg_class v ON v.oid = w.ev_class AND v.relkind = 'v'
             WHERE dep.refobjid = to_regclass(tbl) AND v.oid <> to_regclass(tbl) LOOP
        vws := vws || format('CREATE VIEW %s AS %s', r.name, r.def);
        EXECUTE format('DROP VIEW %s', r.name);
        RAISE NOTICE '0005: view % recreated over the partitioned %; grant it again', r.name, tbl;
    END LOOP;

    EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old);
    FOR r IN SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = to_regclass(old) LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', r.name,
                       left(r.name, 44) || '_' || left(md5(r.name), 8) || '_old');
    END LOOP;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS) '
                   'PARTITION BY RANGE (ts_start)', tbl, old);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (%s)', tbl, tbl || '_pkey', pk);
    -- Sequences owned by the old columns (serial) move with the data.
    FOR r IN SELECT s.oid::regclass::text AS seq, a.attname FROM pg_depend dep
             JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
             JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
             WHERE dep.refobjid = to_regclass(old) AND dep.deptype = 'a' LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNED BY %I.%I', r.seq, tbl, r.attname);
    END LOOP;

    INSERT INTO steward_partitioned VALUES (tbl, class);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tbl || '_default', tbl);
    FOR d IN EXECUTE format('SELECT DISTINCT (ts_start AT TIME ZONE ''UTC'')::date FROM %I', old) LOOP
        PERFORM steward_partition_create(tbl, d);
    END LOOP;
    EXECUTE format('INSERT INTO %I OVERRIDING SYSTEM VALUE SELECT * FROM %I', tbl, old);
    -- Identity columns start again from 1 in the new table: continue instead.
    FOR r IN SELECT attname FROM pg_attribute
             WHERE attrelid = to_regclass(tbl) AND attidentity <> '' AND NOT attisdropped LOOP
        EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, %L), '
                       'coalesce((SELECT max(%I) FROM %I), 0) + 1, false)',
                       tbl, r.attname, r.attname, tbl);
    END LOOP;
    EXECUTE format('DROP TABLE %I', old);
    FOREACH def IN ARRAY idx LOOP
        EXECUTE def;
    END LOOP;
    FOREACH def IN ARRAY trg LOOP
        EXECUTE def;
    END LOOP;
    FOREACH def IN ARRAY vws LOOP
        EXECUTE def;
    END LOOP;
END
$fn$;

SELECT pg_temp.steward_to_partitioned('lineage_records', 'record_id, ts_start', 'records');

-- Findings carry their record's ts_start (partition key) and tenant (row-level
-- security without a join); they are derived from the record from now on
-- (0006_graph.sql).
ALTER TABLE lineage_findings ADD COLUMN ts_start timestamptz, ADD COLUMN tenant text;
UPDATE lineage_findings f SET ts_start = r.ts_start, tenant = r.tenant
FROM lineage_records r WHERE r.record_id = f.record_id;
DELETE FROM lineage_findings WHERE ts_start IS NULL;
ALTER TABLE lineage_findings ALTER COLUMN ts_start SET NOT NULL;
SELECT pg_temp.steward_to_partitioned('lineage_findings', 'record_id, ts_start, idx', 'records');

-- (ts_start, record_id): the keyset order of exports and of "newest first".
DROP INDEX IF EXISTS lineage_records_ts_start_idx;
CREATE INDEX lineage_records_ts_start_idx ON lineage_records (ts_start, record_id);
CREATE INDEX IF NOT EXISTS lineage_records_tenant_idx ON lineage_records (tenant, ts_start);
CREATE INDEX IF NOT EXISTS lineage_records_principal_idx ON lineage_records (principal, ts_start);
CREATE INDEX IF NOT EXISTS lineage_records_model_served_idx ON lineage_records (model_served, ts_start);
CREATE INDEX IF NOT EXISTS lineage_records_model_requested_idx
    ON lineage_records (model_requested, ts_start);
CREATE INDEX IF NOT EXISTS lineage_records_fp_key_idx ON lineage_records (fingerprint_key_id);
CREATE INDEX IF NOT EXISTS lineage_records_trace_idx ON lineage_records (trace_id)
    WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS lineage_records_parent_idx ON lineage_records (parent_record_id)
    WHERE parent_record_id IS NOT NULL;
DROP INDEX IF EXISTS lineage_findings_type_idx;
CREATE INDEX lineage_findings_type_idx ON lineage_findings (type, ts_start);

-- Pins the search_path of every SECURITY DEFINER steward_* function (so an
-- object in a schema of the caller cannot stand in for ours) and takes
-- EXECUTE away from PUBLIC; each migration that adds such functions calls
-- it, then grants EXECUTE to the roles that need it (0007_access.sql).
CREATE FUNCTION steward_secure_functions() RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
             WHERE p.proname LIKE 'steward\_%' AND p.prosecdef
               AND p.pronamespace = current_schema()::regnamespace LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f.sig, current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.sig);
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION steward_secure_functions() FROM PUBLIC;
SELECT steward_secure_functions();
