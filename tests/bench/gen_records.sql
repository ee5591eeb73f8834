-- SPDX-License-Identifier: Apache-2.0
--
-- gen_records.sql: synthetic lineage records for the auditor benchmark
-- (tests/bench/bench_audit.sh), inserted straight into lineage_records so
-- the trigger of 0006_graph.sql derives findings, fingerprints and edges as
-- it does for the loader.  psql variables:
--   n     number of records (default 1000000)
--   days  spread over the last `days` days (default 30)
--   key   the fingerprint key, hex (the bench writes the same bytes to a
--         0600 file for steward-audit subject)
--
-- Shape (deterministic in the record number i): 20 tenants, 200 callers, 5
-- purposes, 6 models; decisions 5% deny, 30% redact, the rest allow; 1% of
-- exchanges end upstream_error; agent chains of three (a trace id per
-- chain, X-Steward-Parent to the previous record); every third record reads
-- one of 5000 documents; 0 to 3 findings per record over EMAIL, PHONE,
-- CREDIT_CARD, US_SSN and IP_ADDRESS, each fingerprinted as
-- cm_fingerprint does (HMAC-SHA256 of the normalised value) from a pool of
-- 50000 synthetic people: user<k>@example.com, 555-01<k> ...
-- Needs pgcrypto (Debian's postgresql package ships it).

\if :{?n}
\else
\set n 1000000
\endif
\if :{?days}
\else
\set days 30
\endif

CREATE EXTENSION IF NOT EXISTS pgcrypto;
SET jit = off;
SET bench.n = :'n';
SET bench.days = :'days';
SET bench.key = :'key';

DO $$
DECLARE
    n bigint := current_setting('bench.n')::bigint;
    key bytea := decode(current_setting('bench.key'), 'hex');
    key_id text := substr(encode(hmac(convert_to('steward fingerprint key id v1', 'UTF8'),
                                      decode(current_setting('bench.key'), 'hex'), 'sha256'),
                                 'hex'), 1, 16);
    base_ms bigint := (extract(epoch FROM date_trunc('day', now()) + interval '1 day'
                               - current_setting('bench.days')::int * interval '1 day')
                       * 1000)::bigint;
    span_ms bigint := current_setting('bench.days')::bigint * 86400000 - 1;
    lo bigint := 0;
    step bigint := 50000;
BEGIN
    WHILE lo < n LOOP
        INSERT INTO lineage_records (record_id, schema, ts_start, ts_end, instance, principal,
            tenant, purpose, method, path, route, model_requested, model_served, upstream,
            policy_id, policy_hash, policy_mode, decision, rule_id, matched_rules, http_status,
            outcome, latency_total_us, latency_upstream_us, latency_governance_us, prompt_tokens,
            completion_tokens, trace_id, span_id, parent_span_id, parent_record_id, inputs,
            fingerprint_key_id, raw, kafka_topic, kafka_partition, kafka_offset)
        SELECT id, 'steward.lineage/1', ts, ts + interval '850 milliseconds', 'bench-' || (i % 4),
               'svc-' || (i % 200), 'tenant-' || (i % 20), purpose, 'POST',
               '/v1/chat/completions', 'chat', model, model, 'http://models.internal:8000',
               'steward-default', repeat(CASE WHEN ts < now() - interval '10 days' THEN 'a1'
                                              ELSE 'b2' END, 32),
               'enforce', decision, CASE WHEN decision = 'deny' THEN 'no-cards-to-external-models'
                                         END,
               CASE WHEN decision = 'deny' THEN ARRAY['no-cards-to-external-models']
                    ELSE '{}'::text[] END,
               CASE WHEN decision = 'deny' THEN 403 WHEN outcome = 'ok' THEN 200 ELSE 502 END,
               outcome, 850000, 800000, 1200, 120, 80,
               md5('trace' || (i / 3)), substr(md5(i::text), 17, 16),
               CASE WHEN i % 3 > 0 THEN substr(md5((i - 1)::text), 17, 16) END,
               parent, inputs, key_id, raw, 'steward.lineage', (i % 4)::int, i
        FROM (
            SELECT i, ts, id, purpose, model, decision, outcome, parent, inputs,
                jsonb_build_object(
                    'schema', 'steward.lineage/1', 'record_id', id, 'ts_start', ts,
                    'ts_end', ts + interval '850 milliseconds', 'instance', 'bench-' || (i % 4),
                    'caller', jsonb_build_object('principal', 'svc-' || (i % 200),
                                                 'tenant', 'tenant-' || (i % 20),
                                                 'purpose', purpose),
                    'request', jsonb_build_object('method', 'POST',
                                                  'path', '/v1/chat/completions', 'route', 'chat'),
                    'model', jsonb_build_object('requested', model, 'served', model,
                                                'upstream', 'http://models.internal:8000'),
                    'policy', jsonb_build_object('id', 'steward-default', 'mode', 'enforce',
                                                 'decision', decision),
                    'findings', findings, 'http_status', 200, 'outcome', outcome,
                    'trace', jsonb_build_object('trace_id', md5('trace' || (i / 3))),
                    'parent_record', parent, 'inputs', to_jsonb(inputs)) AS raw
            FROM (
                SELECT i, to_timestamp(ms / 1000.0) AS ts,
                    (lpad(to_hex(ms), 12, '0') || '7' || substr(h, 1, 3) || '8'
                     || substr(h, 4, 15))::uuid AS id,
                    (ARRAY['support', 'billing', 'hr', 'research', NULL])[1 + i % 5] AS purpose,
                    (ARRAY['local-llama', 'local-mistral', 'external-gpt-4o', 'local-embed',
                           'external-claude', 'local-qwen'])[1 + (i * 7) % 6] AS model,
                    CASE WHEN i % 20 = 0 THEN 'deny' WHEN i % 10 IN (1, 4, 7) THEN 'redact'
                         ELSE 'allow' END AS decision,
                    CASE WHEN i % 20 = 0 THEN 'denied' WHEN i % 97 = 5 THEN 'upstream_error'
                         ELSE 'ok' END AS outcome,
                    CASE WHEN i % 3 > 0 THEN (lpad(to_hex(pms), 12, '0') || '7' || substr(ph, 1, 3)
                                              || '8' || substr(ph, 4, 15))::uuid END AS parent,
                    CASE WHEN i % 3 = 0 THEN ARRAY['doc://kb/' || (i % 5000)]
                         ELSE '{}'::text[] END AS inputs,
                    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'direction', 'request', 'type', t, 'pointer', '/messages/0/content',
                         'count', 1,
                         'action', CASE WHEN i % 20 = 0 THEN 'mask' WHEN i % 10 IN (1, 4, 7)
                                        THEN 'redact' ELSE 'allow' END,
                         'fingerprints', jsonb_build_array(encode(hmac(convert_to(CASE t
                             WHEN 'EMAIL' THEN 'user' || p || '@example.com'
                             WHEN 'PHONE' THEN '55501' || lpad(p::text, 5, '0')
                             WHEN 'CREDIT_CARD' THEN '4000' || lpad(p::text, 12, '0')
                             WHEN 'US_SSN' THEN '9' || lpad(p::text, 8, '0')
                             ELSE '10.' || (p / 65536) || '.' || (p / 256 % 256) || '.' || (p % 256)
                             END, 'UTF8'), key, 'sha256'), 'hex')))),
                         '[]'::jsonb)
                     FROM generate_series(1, (i % 4)::int) AS k,
                          LATERAL (SELECT (ARRAY['EMAIL', 'PHONE', 'CREDIT_CARD', 'US_SSN',
                                                 'IP_ADDRESS'])[1 + (i + k) % 5] AS t,
                                          ((i * 7919 + k * 104729) % 50000)::int AS p) tt)
                        AS findings
                FROM (SELECT i, md5(i::text) AS h, md5((i - 1)::text) AS ph,
                             base_ms + i * span_ms / n AS ms,
                             base_ms + (i - 1) * span_ms / n AS pms
                      FROM generate_series(lo, least(lo + step, n) - 1) AS i) g
            ) a
        ) b;
        COMMIT;
        RAISE NOTICE 'gen_records: % of % records', least(lo + step, n), n;
        lo := lo + step;
    END LOOP;
END
$$;

ANALYZE;
