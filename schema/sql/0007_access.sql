-- SPDX-License-Identifier: Apache-2.0
--
-- 0007_access: who may do what with the lineage store, and a record of what
-- auditors asked.
--
-- Three group roles (NOLOGIN; grant them to login roles):
--   steward_loader   INSERT into lineage_records and lineage_rejects, and
--                    SELECT of (record_id, ts_start), which the loader's
--                    INSERT .. RETURNING needs; nothing else.
--   steward_auditor  SELECT only, and only the rows of its tenants: row-level
--                    security on every table that holds tenant data.
--   steward_admin    everything on the data, retention and erasure
--                    (0008_retention.sql), partitions, tenant scopes.
-- The table owner (whoever runs `steward-audit migrate`) bypasses row-level
-- security as owners do; give auditors their own login roles.
--
-- Tenant scope: steward_auditor_scope maps a login role to the tenants it
-- may read; '*' means every tenant, records without a tenant included.  A
-- role that is in no row sees nothing.  The policies test current_user, so
-- a direct psql session of an auditor is confined exactly as steward-audit
-- is.  lineage_rejects has no tenant: auditors read its metadata but not
-- the payload column (rejected bytes may hold anything).
--
-- Access log: steward_access_log_add() (SECURITY DEFINER) appends who
-- (session_user), when, from where, the tool, the command and its
-- arguments (values searched for are replaced by their fingerprint by the
-- caller).  Nobody but the owner can change or delete a row; retention
-- (class access_log) removes old ones.  steward-audit refuses to read when
-- it cannot write the log.  Reads outside steward-audit are not logged
-- here: use PostgreSQL's log_statement or pgaudit for those.
--
-- Roles are cluster-wide: creating them needs CREATEROLE; when they exist
-- already (created by a DBA, or by another steward database of the
-- cluster) they are reused.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['steward_loader', 'steward_auditor', 'steward_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

CREATE TABLE steward_auditor_scope (
    auditor name NOT NULL,
    tenant text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by name NOT NULL DEFAULT session_user,
    PRIMARY KEY (auditor, tenant)
);

-- The tenants role `who` may read ('*': all).  SECURITY DEFINER so auditors
-- need no access to the scope table; the policies pass current_user.
CREATE FUNCTION steward_scope(who name) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER AS $fn$
    SELECT coalesce(array_agg(tenant), '{}') FROM steward_auditor_scope WHERE auditor = who
$fn$;

CREATE TABLE steward_access_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    who name NOT NULL DEFAULT session_user,
    client inet DEFAULT inet_client_addr(),
    tool text NOT NULL,
    command text NOT NULL,
    args jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX steward_access_log_at_idx ON steward_access_log (at);
CREATE INDEX steward_access_log_who_idx ON steward_access_log (who, at);

CREATE FUNCTION steward_access_log_add(tool text, command text, args jsonb) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER AS $fn$
    INSERT INTO steward_access_log (tool, command, args)
    VALUES (tool, command, coalesce(args, '{}')) RETURNING id
$fn$;

-- Row-level security on every table with tenant data.  Partitions have
-- none of their own and no grants: they are reached through the parent.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['lineage_records', 'lineage_findings', 'lineage_fingerprints',
                             'lineage_edges'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
        EXECUTE format('CREATE POLICY auditor_tenant ON %I FOR SELECT TO steward_auditor '
                       'USING ((SELECT steward_scope(current_user)) && ARRAY[''*'', tenant])', t);
        EXECUTE format('CREATE POLICY admin_all ON %I TO steward_admin USING (true) '
                       'WITH CHECK (true)', t);
        EXECUTE format('GRANT SELECT ON %I TO steward_auditor', t);
        EXECUTE format('GRANT SELECT, INSERT, DELETE ON %I TO steward_admin', t);
    END LOOP;
END
$$;

CREATE POLICY loader_insert ON lineage_records FOR INSERT TO steward_loader WITH CHECK (true);
CREATE POLICY loader_returning ON lineage_records FOR SELECT TO steward_loader USING (true);
GRANT INSERT ON lineage_records TO steward_loader;
GRANT SELECT (record_id, ts_start) ON lineage_records TO steward_loader;

REVOKE ALL ON lineage_rejects FROM PUBLIC;
GRANT INSERT ON lineage_rejects TO steward_loader;
GRANT USAGE ON SEQUENCE lineage_rejects_id_seq TO steward_loader;
GRANT SELECT (id, received_at, kafka_topic, kafka_partition, kafka_offset, error)
    ON lineage_rejects TO steward_auditor;
GRANT SELECT, DELETE ON lineage_rejects TO steward_admin;

-- Checkpoints (0002) carry hashes and signatures, no tenant data: the
-- loader inserts them (its conflict target needs the key columns), auditors
-- and the admin read them (steward-audit verify, the report).
REVOKE ALL ON lineage_checkpoints FROM PUBLIC;
GRANT INSERT, SELECT (chain_id, seq) ON lineage_checkpoints TO steward_loader;
GRANT SELECT ON lineage_checkpoints TO steward_auditor, steward_admin;

GRANT SELECT ON schema_migrations, steward_partitioned TO steward_auditor, steward_admin;
GRANT SELECT, INSERT, DELETE ON steward_auditor_scope TO steward_admin;
REVOKE ALL ON steward_access_log FROM PUBLIC;
GRANT SELECT ON steward_access_log TO steward_admin;

SELECT steward_secure_functions();
GRANT EXECUTE ON FUNCTION steward_scope(name) TO steward_auditor, steward_admin;
GRANT EXECUTE ON FUNCTION steward_access_log_add(text, text, jsonb)
    TO steward_auditor, steward_admin;
GRANT EXECUTE ON FUNCTION steward_partitions() TO steward_auditor, steward_admin;
GRANT EXECUTE ON FUNCTION steward_default_rows() TO steward_auditor, steward_admin;
GRANT EXECUTE ON FUNCTION steward_partitions_ensure(date, date) TO steward_admin;
