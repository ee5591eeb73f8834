/* SPDX-License-Identifier: Apache-2.0
 *
 * sa_report: `steward-audit report --from TS --to TS [--tenant T] --out FILE
 * [--format html|json|md] [--title TEXT] [--controller TEXT]`.
 *
 * Copies the period's records and findings (the columns the report needs)
 * into two temporary tables, then gathers the report's facts with one query
 * per section over them, each returning a single JSON document built by
 * PostgreSQL (json_agg / json_build_object),
 * assembles them into the report model ("steward.report/1", documented in
 * docs/auditing.md), and renders it with audit/aud_report.c (pure): HTML
 * with inline SVG charts, Markdown, or the model itself as JSON.  Every
 * number in the rendering comes from this model, so the model is what the
 * tests compare with SQL counts.
 *
 * Scope: [from, to) on ts_start, optionally one tenant; row-level security
 * narrows it further for an auditor.  The stored records are read once
 * (partition pruning keeps a month's report on a month's partitions), in
 * one repeatable-read transaction, so all sections agree.
 * Progress shows on a terminal (one step per section).
 */
#include <stdlib.h>
#include <string.h>

#include "audit/aud_report.h"
#include "audit/aud_sign.h"
#include "audit/cli/sa_common.h"
#include "common/cm_mem.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: steward-audit report --from TS --to TS [--tenant T] --out FILE\n"
            "                            [--format html|json|md] [--title TEXT]\n"
            "                            [--controller TEXT] [--pubkey FILE]... [--db CONNINFO]\n"
            "  --from, --to     the period (RFC 3339 or a date; to is exclusive)\n"
            "  --tenant T       one tenant only (row-level security applies anyway)\n"
            "  --out FILE       where to write (- for stdout)\n"
            "  --format F       html (default: self-contained, inline SVG charts), json (the\n"
            "                   report model), md\n"
            "  --controller T   name and contact of the controller, for the Art. 30 record\n"
            "  --pubkey FILE    Ed25519 public key of the checkpoints (repeatable): the chain\n"
            "                   section then checks their signatures too\n");
}

/* The period's records and findings, narrowed to the columns the report
 * reads, are copied once into two temporary tables (row-level security
 * applies to the copy); every section then scans those instead of the wide
 * partitions (a stored record is ~1.6 kB, its report columns ~150 bytes).
 * $1 from, $2 to, $3 tenant (NULL: all). */
static const char period_sql[] =
    "CREATE TEMP TABLE rr ON COMMIT DROP AS SELECT r.record_id, r.ts_start, r.tenant, "
    "r.principal, r.purpose, r.route, coalesce(r.model_served, r.model_requested) AS model, "
    "r.upstream, r.policy_id, r.policy_hash, r.policy_mode, r.decision, r.rule_id, "
    "r.matched_rules, r.http_status, r.outcome, r.fingerprint_key_id, r.prompt_tokens, "
    "r.completion_tokens FROM lineage_records r WHERE r.ts_start >= $1::timestamptz "
    "AND r.ts_start < $2::timestamptz AND ($3::text IS NULL OR r.tenant = $3)";
static const char period_findings_sql[] =
    "CREATE TEMP TABLE rf ON COMMIT DROP AS SELECT fi.record_id, fi.ts_start, fi.tenant, "
    "fi.purpose, fi.model, fi.upstream, fi.type, fi.direction, fi.action, fi.count "
    "FROM lineage_findings fi WHERE fi.ts_start >= $1::timestamptz "
    "AND fi.ts_start < $2::timestamptz AND ($3::text IS NULL OR fi.tenant = $3)";

#define TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* One section: a query returning one JSON document, and how many of the
 * parameters ($1 from, $2 to, $3 tenant) it takes. */
static const struct section {
    const char *key;
    size_t nparams;
    const char *sql;
} sections[] = {
    {"summary", 0,
     "SELECT json_build_object('records', count(*), "
     "'callers', (SELECT count(*) FROM (SELECT DISTINCT principal FROM rr "
     "WHERE principal IS NOT NULL) d), "
     "'tenants', (SELECT count(*) FROM (SELECT DISTINCT tenant FROM rr "
     "WHERE tenant IS NOT NULL) d), "
     "'models', (SELECT count(*) FROM (SELECT DISTINCT model FROM rr WHERE model IS NOT NULL) d), "
     "'allow', count(*) FILTER (WHERE r.decision = 'allow'), "
     "'redact', count(*) FILTER (WHERE r.decision = 'redact'), "
     "'deny', count(*) FILTER (WHERE r.decision = 'deny'), "
     "'no_decision', count(*) FILTER (WHERE r.decision IS NULL OR r.decision NOT IN "
     "('allow', 'redact', 'deny')), "
     "'not_ok', count(*) FILTER (WHERE r.outcome <> 'ok'), "
     "'first', " TS("min(r.ts_start)") ", 'last', " TS(
         "max(r.ts_start)") ", "
                            "'prompt_tokens', coalesce(sum(r.prompt_tokens), 0), "
                            "'completion_tokens', coalesce(sum(r.completion_tokens), 0)) FROM rr "
                            "r"},
    {"findings", 0,
     "SELECT json_build_object('findings', coalesce(sum(fi.count), 0), "
     "'records_with_findings', count(DISTINCT fi.record_id), "
     "'in_clear', coalesce(sum(fi.count) FILTER (WHERE fi.action = 'allow'), 0)) FROM rf fi"},
    {"daily", 0,
     "SELECT coalesce(json_agg(d ORDER BY d.day), '[]') FROM (SELECT "
     "to_char((r.ts_start AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, count(*) AS records, "
     "count(*) FILTER (WHERE r.decision = 'allow') AS allow, "
     "count(*) FILTER (WHERE r.decision = 'redact') AS redact, "
     "count(*) FILTER (WHERE r.decision = 'deny') AS deny, "
     "count(*) FILTER (WHERE r.decision IS NULL OR r.decision NOT IN ('allow', 'redact', "
     "'deny')) AS other FROM rr r GROUP BY 1) d"},
    {"activities", 0,
     "SELECT coalesce(json_agg(json_build_object('purpose', a.purpose, 'records', a.records, "
     "'tenants', coalesce(d.tenants, '{}'), 'callers', coalesce(d.callers, 0), "
     "'routes', coalesce(d.routes, '{}'), 'models', coalesce(d.models, '{}'), "
     "'categories', coalesce(c.categories, '[]')) ORDER BY a.records DESC, a.purpose), '[]') "
     "FROM (SELECT r.purpose, count(*) AS records FROM rr r GROUP BY r.purpose) a "
     /* distinct values per purpose from small hashed groups, not sorted DISTINCTs */
     "LEFT JOIN (SELECT g.purpose, "
     "array_remove(array_agg(DISTINCT g.tenant), NULL) AS tenants, "
     "count(DISTINCT g.principal) AS callers, array_agg(DISTINCT g.route) AS routes, "
     "array_remove(array_agg(DISTINCT g.model), NULL) AS models "
     "FROM (SELECT DISTINCT purpose, tenant, principal, route, model FROM rr) g "
     "GROUP BY g.purpose) d ON d.purpose IS NOT DISTINCT FROM a.purpose "
     "LEFT JOIN (SELECT t.purpose, json_agg(json_build_object('type', t.type, 'findings', "
     "t.findings) ORDER BY t.findings DESC, t.type) AS categories FROM ("
     "SELECT fi.purpose, fi.type, sum(fi.count) AS findings FROM rf fi GROUP BY 1, 2) t "
     "GROUP BY t.purpose) c ON c.purpose IS NOT DISTINCT FROM a.purpose"},
    {"recipients", 0,
     "SELECT coalesce(json_agg(json_build_object('model', x.model, 'endpoint', x.endpoint, "
     "'records', x.records, 'denied', x.denied, 'findings', coalesce(f.findings, 0), "
     "'in_clear', coalesce(f.in_clear, 0)) ORDER BY x.records DESC, x.model), '[]') FROM ("
     "SELECT r.model, r.upstream AS endpoint, count(*) AS records, "
     "count(*) FILTER (WHERE r.decision = 'deny') AS denied FROM rr r GROUP BY 1, 2) x "
     "LEFT JOIN (SELECT fi.model, fi.upstream AS endpoint, sum(fi.count) AS findings, "
     "coalesce(sum(fi.count) FILTER (WHERE fi.action = 'allow' AND fi.direction = 'request'), 0) "
     "AS in_clear FROM rf fi GROUP BY 1, 2) f "
     "ON f.model IS NOT DISTINCT FROM x.model AND f.endpoint IS NOT DISTINCT FROM x.endpoint"},
    {"by_type", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.findings DESC, t.type), '[]') FROM ("
     "SELECT fi.type, sum(fi.count) AS findings, "
     "coalesce(sum(fi.count) FILTER (WHERE fi.direction = 'request'), 0) AS request, "
     "coalesce(sum(fi.count) FILTER (WHERE fi.direction = 'response'), 0) AS response, "
     "coalesce(sum(fi.count) FILTER (WHERE fi.action = 'allow'), 0) AS in_clear, "
     "coalesce(sum(fi.count) FILTER (WHERE fi.action NOT IN ('allow', 'deny')), 0) AS protected, "
     "coalesce(sum(fi.count) FILTER (WHERE fi.action = 'deny'), 0) AS denied, "
     "count(DISTINCT fi.record_id) AS records FROM rf fi GROUP BY 1) t"},
    {"by_type_action", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.type, t.direction, t.action), '[]') FROM ("
     "SELECT fi.type, fi.direction, fi.action, sum(fi.count) AS findings FROM rf fi "
     "GROUP BY 1, 2, 3) t"},
    {"by_model", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.model, t.findings DESC, t.type), '[]') FROM ("
     "SELECT fi.model, fi.type, sum(fi.count) AS findings FROM rf fi GROUP BY 1, 2) t"},
    {"by_tenant", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.tenant NULLS LAST, t.findings DESC, t.type), '[]') "
     "FROM (SELECT fi.tenant, fi.type, sum(fi.count) AS findings FROM rf fi GROUP BY 1, 2) t"},
    {"exposure_daily", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.day, t.type), '[]') FROM ("
     "SELECT to_char((fi.ts_start AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, fi.type, "
     "sum(fi.count) AS findings FROM rf fi GROUP BY 1, 2) t"},
    {"by_decision", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.records DESC), '[]') FROM ("
     "SELECT coalesce(r.decision, '(none)') AS decision, count(*) AS records FROM rr r "
     "GROUP BY 1) t"},
    {"by_outcome", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.records DESC, t.outcome), '[]') FROM ("
     "SELECT r.outcome, r.http_status AS status, count(*) AS records FROM rr r GROUP BY 1, 2) t"},
    {"denials", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.records DESC, t.rule), '[]') FROM ("
     "SELECT coalesce(r.rule_id, '(entity action)') AS rule, r.model, count(*) AS records, " TS(
         "min(r.ts_start)") " AS first, " TS("max(r.ts_start)") " AS last "
                                                                "FROM rr r WHERE r.decision = "
                                                                "'deny' GROUP BY 1, 2) t"},
    {"rules", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.records DESC, t.rule), '[]') FROM ("
     "SELECT m.rule, count(*) AS records FROM rr r "
     "CROSS JOIN LATERAL unnest(r.matched_rules) AS m(rule) GROUP BY 1) t"},
    {"policies", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.first), '[]') FROM ("
     "SELECT r.policy_id AS id, r.policy_hash AS hash, r.policy_mode AS mode, count(*) AS "
     "records, " TS("min(r.ts_start)") " AS first, " TS(
         "max(r.ts_start)") " AS last "
                            "FROM rr r WHERE r.policy_hash IS NOT NULL GROUP BY 1, 2, 3) t"},
    {"key_ids", 0,
     "SELECT coalesce(json_agg(t ORDER BY t.records DESC), '[]') FROM ("
     "SELECT r.fingerprint_key_id AS key_id, count(*) AS records FROM rr r GROUP BY 1) t"},
    {"rejects", 3,
     "SELECT json_build_object('count', (SELECT count(*) FROM lineage_rejects j "
     "WHERE j.received_at >= $1::timestamptz AND j.received_at < $2::timestamptz), "
     "'by_error', (SELECT coalesce(json_agg(t ORDER BY t.count DESC, t.error), '[]') FROM ("
     "SELECT left(j.error, 160) AS error, count(*) AS count, " TS(
         "min(j.received_at)") " AS first, " TS("max(j.received_at)") " AS last FROM "
                                                                      "lineage_rejects j "
                                                                      "WHERE j.received_at >= "
                                                                      "$1::timestamptz AND "
                                                                      "j.received_at < "
                                                                      "$2::timestamptz "
                                                                      "GROUP BY 1) t), "
                                                                      "'tenant_filter_ignored', "
                                                                      "$3::text IS NOT NULL)"},
    {"retention", 1,
     "SELECT json_build_object("
     "'held_in_period', CASE WHEN NOT EXISTS (SELECT 1 FROM steward_legal_holds h "
     "WHERE h.released_at IS NULL) THEN 0 ELSE (SELECT count(*) FROM rr r "
     "JOIN lineage_records l ON l.record_id = r.record_id AND l.ts_start = r.ts_start "
     "WHERE steward_held(l.tenant, l.trace_id, l.record_id, l.ts_start)) END, "
     "'classes', (SELECT coalesce(json_agg(json_build_object('class', c.class, 'keep', "
     "c.keep::text, 'description', c.description) ORDER BY c.class), '[]') "
     "FROM steward_retention c), "
     "'oldest_record', (SELECT " TS(
         "min(r.ts_start)") " FROM lineage_records r "
                            "WHERE $1::text IS NULL OR r.tenant = $1), "
                            "'partitions', (SELECT json_build_object('days', count(*) FILTER "
                            "(WHERE p.day IS NOT NULL), "
                            "'first_day', min(p.day), 'last_day', max(p.day)) FROM "
                            "steward_partitions() p "
                            "WHERE p.table_name = 'lineage_records'), "
                            "'default_rows', (SELECT coalesce(sum(d.rows), 0) FROM "
                            "steward_default_rows() d), "
                            "'legal_holds', (SELECT coalesce(json_agg(json_build_object('id', "
                            "h.id, 'reason', h.reason, "
                            "'tenant', h.tenant, 'trace_id', h.trace_id, 'record_id', h.record_id, "
                            "'from', h.from_ts, "
                            "'to', h.to_ts, 'created_at', " TS(
                                "h.created_at") ") ORDER BY h.id), '[]') "
                                                "FROM steward_legal_holds h WHERE h.released_at IS "
                                                "NULL AND ($1::text IS NULL OR h.tenant "
                                                "IS NULL OR h.tenant = $1)), "
                                                "'last_actions', (SELECT coalesce(json_agg(l ORDER "
                                                "BY l.at DESC), '[]') FROM ("
                                                "SELECT " TS(
                                                    "x.at") " AS at, x.class, x.action, count(*) "
                                                            "AS objects, sum(x.rows) AS rows "
                                                            "FROM steward_retention_log x GROUP BY "
                                                            "x.at, x.class, x.action ORDER BY x.at "
                                                            "DESC LIMIT 10) l), "
                                                            "'row_level_security', (SELECT "
                                                            "c.relrowsecurity FROM pg_class c "
                                                            "WHERE c.oid = "
                                                            "'lineage_records'::regclass))"},
};

/* ts without a zero fraction ("...:00.000000Z" -> "...:00Z"), into buf. */
static const char *
whole_seconds(const char *ts, char *buf)
{
    const char *dot = strstr(ts, ".000000Z");

    snprintf(buf, CM_TIME_RFC3339_LEN, "%s", ts);
    if (dot != NULL)
        strcpy(buf + (dot - ts), "Z");
    return buf;
}

int
sa_cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, SA_OPT_DB},
        {"from", required_argument, NULL, SA_OPT_FROM},
        {"to", required_argument, NULL, SA_OPT_TO},
        {"tenant", required_argument, NULL, SA_OPT_TENANT},
        {"out", required_argument, NULL, SA_OPT_OUT},
        {"format", required_argument, NULL, SA_OPT_FORMAT},
        {"title", required_argument, NULL, SA_OPT__FIRST_LOCAL},
        {"controller", required_argument, NULL, SA_OPT__FIRST_LOCAL + 1},
        {"pubkey", required_argument, NULL, SA_OPT__FIRST_LOCAL + 2},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sa_filters f = {0};
    struct sa_where w;
    enum sa_format fmt = SA_FMT_HTML;
    const char *db = NULL, *outpath = NULL, *title = NULL, *controller = NULL;
    struct aud_pg *pg = NULL;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    struct sa_progress prog;
    struct cm_buf doc;
    json_t *model = NULL, *args = NULL;
    FILE *out = NULL;
    struct aud_key **keys = NULL;
    size_t nkeys = 0;
    char now[CM_TIME_RFC3339_LEN], pfrom[CM_TIME_RFC3339_LEN], pto[CM_TIME_RFC3339_LEN];
    int c, status = 1;

    cm_buf_init(&doc);
    memset(&w, 0, sizeof(w));
    cm_buf_init(&w.sql);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (sa_filter_opt(&f, c, optarg))
            continue;
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT_OUT: outpath = optarg; break;
        case SA_OPT_FORMAT:
            if (sa_format_parse(optarg, 1u << SA_FMT_HTML | 1u << SA_FMT_JSON | 1u << SA_FMT_MD,
                                &fmt) != 0)
                goto out;
            break;
        case SA_OPT__FIRST_LOCAL: title = optarg; break;
        case SA_OPT__FIRST_LOCAL + 1: controller = optarg; break;
        case SA_OPT__FIRST_LOCAL + 2:
            keys = cm_realloc(keys, (nkeys + 1) * sizeof(*keys));
            if (aud_key_load_public(optarg, &keys[nkeys], &err) != CM_OK) {
                sa_fail("report: --pubkey %s", err.msg);
                goto out;
            }
            nkeys++;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind != argc) {
        sa_fail("report: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (f.from == NULL || f.to == NULL || outpath == NULL) {
        sa_fail("report: --from, --to and --out are required (try --help)");
        goto out;
    }
    sa_where_fini(&w);
    if (sa_where_build(&f, 0, &w) != 0)
        goto out;
    args = sa_filters_json(&f);
    json_object_set_new(args, "format",
                        json_string(fmt == SA_FMT_JSON ? "json"
                                    : fmt == SA_FMT_MD ? "md"
                                                       : "html"));
    /* takes args */
    if (sa_connect_logged(db, &pg, "report", args) != 0) {
        args = NULL;
        goto out;
    }
    args = NULL;

    cm_time_fmt(cm_now_us(), now);
    model =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:o}", "schema", "steward.report/1", "title",
                  title ? title : "Lineage and privacy report", "generated_at", now, "period",
                  "from", whole_seconds(w.ts[0], pfrom), "to", whole_seconds(w.ts[1], pto),
                  "tenant", f.tenant ? json_string(f.tenant) : json_null(), "controller",
                  controller ? json_string(controller) : json_null());
    if (aud_pg_query(pg, "SELECT session_user::text, current_database()::text", NULL, 0, &res,
                     &err) != CM_OK) {
        sa_fail("report: %s", err.msg);
        goto out;
    }
    json_object_set_new(model, "generated_by", json_string(aud_pg_res_value(res, 0, 0)));
    json_object_set_new(model, "database", json_string(aud_pg_res_value(res, 0, 1)));
    aud_pg_res_free(res);
    res = NULL;

    sa_progress_init(&prog, "report");
    prog.last_us = 0;
    sa_progress_step(&prog, "reading the period's records");
    {
        struct aud_pg_param p[] = {{w.ts[0], 0, false}, {w.ts[1], 0, false}, {f.tenant, 0, false}};

        /* One transaction: the temporary tables go with its end, and every
         * section sees the same snapshot of the period.  Memory for the
         * copies and for sorting (temp_buffers must be set before the
         * session's first temporary table). */
        if (aud_pg_exec(pg, "SET temp_buffers = '512MB'; SET work_mem = '64MB'", &err) != CM_OK ||
            aud_pg_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ", &err) != CM_OK ||
            aud_pg_query(pg, period_sql, p, 3, NULL, &err) != CM_OK ||
            aud_pg_query(pg, period_findings_sql, p, 3, NULL, &err) != CM_OK ||
            aud_pg_exec(pg, "ANALYZE rr; ANALYZE rf", &err) != CM_OK) {
            sa_progress_done(&prog);
            sa_fail("report: reading the period: %s", err.msg);
            goto out;
        }
    }
    for (size_t i = 0; i < CM_ARRAY_LEN(sections); i++) {
        struct aud_pg_param three[] = {
            {w.ts[0], 0, false}, {w.ts[1], 0, false}, {f.tenant, 0, false}};
        struct aud_pg_param one[] = {{f.tenant, 0, false}};
        json_error_t jerr;
        json_t *v;

        prog.last_us = 0;
        sa_progress_step(&prog, "%zu/%zu %s", i + 1, CM_ARRAY_LEN(sections), sections[i].key);
        if (aud_pg_query(pg, sections[i].sql, sections[i].nparams == 1 ? one : three,
                         sections[i].nparams, &res, &err) != CM_OK) {
            sa_progress_done(&prog);
            sa_fail("report: %s: %s", sections[i].key, err.msg);
            goto out;
        }
        v = json_loads(aud_pg_res_value(res, 0, 0) ? aud_pg_res_value(res, 0, 0) : "null",
                       JSON_DECODE_ANY, &jerr);
        aud_pg_res_free(res);
        res = NULL;
        if (v == NULL) {
            sa_progress_done(&prog);
            sa_fail("report: %s: bad JSON from the server: %s", sections[i].key, jerr.text);
            goto out;
        }
        json_object_set_new(model, sections[i].key, v);
    }
    sa_progress_done(&prog);
    if (aud_pg_exec(pg, "COMMIT", &err) != CM_OK) {
        sa_fail("report: %s", err.msg);
        goto out;
    }
    sa_progress_step(&prog, "verifying the chains");
    json_object_set_new(model, "chain", sa_verify_period(pg, w.ts[0], w.ts[1], keys, nkeys));
    sa_progress_done(&prog);

    if (fmt == SA_FMT_JSON) {
        char *text = json_dumps(model, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        cm_buf_puts(&doc, text);
        cm_buf_putc(&doc, '\n');
        free(text);
    } else if (fmt == SA_FMT_MD) {
        aud_report_md(model, &doc);
    } else {
        aud_report_html(model, &doc);
    }
    out = sa_open_out(outpath);
    if (out == NULL)
        goto out;
    fwrite(doc.p, 1, doc.len, out);
    status = sa_close_out(out, outpath);
    if (status == 0 && strcmp(outpath, "-") != 0)
        fprintf(stderr, "report: wrote %s (%zu bytes)\n", outpath, doc.len);
out:
    for (size_t i = 0; i < nkeys; i++)
        aud_key_free(keys[i]);
    free(keys);
    json_decref(args);
    json_decref(model);
    aud_pg_res_free(res);
    aud_pg_free(pg);
    sa_where_fini(&w);
    cm_buf_fini(&doc);
    return status;
}
