-- SPDX-License-Identifier: Apache-2.0
--
-- 0003_policy_matches: what the policy language (issue 4) adds to a record.
--
--   match_reasons  the reason of each rule in matched_rules, same order
--                  (policy.match_reasons)
--   modalities     kinds of content in the request: text, image, audio,
--                  file (request.modalities)
--
-- Both are arrays; the loader writes '{}' for records that predate them.
-- Numbered 0003 on purpose: 0002 is the lineage chain's migration.

ALTER TABLE lineage_records ADD COLUMN match_reasons text[] NOT NULL DEFAULT '{}';
ALTER TABLE lineage_records ADD COLUMN modalities text[] NOT NULL DEFAULT '{}';

CREATE INDEX lineage_records_matched_rules_idx ON lineage_records USING gin (matched_rules);
