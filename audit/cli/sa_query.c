/* SPDX-License-Identifier: Apache-2.0
 *
 * sa_query: `steward-audit query` and `count`.
 *
 *   query [FILTERS] [--limit N] [--format table|json|csv]
 *   count [FILTERS]
 *
 * Newest records first.  table: time, record, tenant, caller, route, model,
 * decision, status, outcome, findings ("EMAIL:1 PHONE:2", counts summed per
 * type).  json: the stored record, one per line.  csv: a header and the
 * columns an auditor filters on in a spreadsheet (RFC 4180; see
 * sa_csv_field for formula-looking cells).  Every filter is a bound
 * parameter; the question is written to the access log before it is asked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/cli/sa_common.h"

#define SA_MAX_LIMIT 1000000

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: steward-audit query [--db CONNINFO] [FILTERS] [--limit N] "
            "[--format table|json|csv]\n"
            "       steward-audit count [--db CONNINFO] [FILTERS]\n"
            "  --limit N          at most N records, newest first (default 50)\n"
            "  --format F         table (default), json (stored record per line) or csv\n"
            "%s",
            sa_filters_usage);
}

/* The columns of table and CSV output. */
static const char sel_cols[] =
    "SELECT to_char(r.ts_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "r.record_id::text, r.tenant, r.principal, r.purpose, r.route, "
    "coalesce(r.model_served, r.model_requested), r.decision, r.rule_id, r.http_status::text, "
    "r.outcome, "
    "(SELECT string_agg(s.type || ':' || s.n, ' ' ORDER BY s.type) FROM "
    "(SELECT fi.type, sum(fi.count) AS n FROM lineage_findings fi "
    "WHERE fi.record_id = r.record_id AND fi.ts_start = r.ts_start GROUP BY fi.type) s), "
    "r.trace_id, r.parent_record_id::text "
    "FROM lineage_records r";

static const char *const csv_heads[] = {
    "ts_start", "record_id", "tenant",      "caller",  "purpose",  "route",    "model",
    "decision", "rule_id",   "http_status", "outcome", "findings", "trace_id", "parent_record",
};

int
sa_cmd_query(int argc, char **argv, bool count_only)
{
    static const struct option longopts[] = {
        SA_FILTER_OPTIONS,
        {"db", required_argument, NULL, SA_OPT_DB},
        {"limit", required_argument, NULL, SA_OPT_LIMIT},
        {"format", required_argument, NULL, SA_OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const heads[] = {"TIME",  "RECORD",   "TENANT", "CALLER",  "ROUTE",
                                        "MODEL", "DECISION", "STATUS", "OUTCOME", "FINDINGS"};
    static const int table_cols[] = {0, 1, 2, 3, 5, 6, 7, 9, 10, 11};
    struct sa_filters f = {0};
    struct sa_where w;
    enum sa_format fmt = SA_FMT_TABLE;
    const char *db = NULL;
    struct aud_pg *pg = NULL;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    struct cm_buf sql;
    json_t *args = NULL;
    long limit = 50;
    char limit_s[24], *end;
    int c, status = 1;

    cm_buf_init(&sql);
    memset(&w, 0, sizeof(w));
    cm_buf_init(&w.sql);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (sa_filter_opt(&f, c, optarg))
            continue;
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT_LIMIT:
            if (count_only) {
                sa_fail("count: --limit does not apply");
                goto out;
            }
            errno = 0;
            limit = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || limit < 1 || limit > SA_MAX_LIMIT) {
                sa_fail("--limit %s: expected 1..%d", optarg, SA_MAX_LIMIT);
                goto out;
            }
            break;
        case SA_OPT_FORMAT:
            if (count_only) {
                sa_fail("count: --format does not apply");
                goto out;
            }
            if (sa_format_parse(optarg, 1u << SA_FMT_TABLE | 1u << SA_FMT_JSON | 1u << SA_FMT_CSV,
                                &fmt) != 0)
                goto out;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind != argc) {
        sa_fail("unexpected argument '%s'", argv[optind]);
        goto out;
    }
    sa_where_fini(&w);
    if (sa_where_build(&f, 0, &w) != 0)
        goto out;
    if (count_only) {
        cm_buf_puts(&sql, "SELECT count(*) FROM lineage_records r");
    } else if (fmt == SA_FMT_JSON) {
        cm_buf_puts(&sql, "SELECT r.raw::text FROM lineage_records r");
    } else {
        cm_buf_puts(&sql, sel_cols);
    }
    if (w.sql.len > 0)
        cm_buf_printf(&sql, " WHERE %s", w.sql.p);
    if (!count_only) {
        snprintf(limit_s, sizeof(limit_s), "%ld", limit);
        cm_buf_printf(&sql, " ORDER BY r.ts_start DESC, r.record_id DESC LIMIT $%zu::bigint",
                      sa_where_param(&w, limit_s));
    }
    args = sa_filters_json(&f);
    if (!count_only) {
        json_object_set_new(args, "limit", json_integer(limit));
        json_object_set_new(args, "format",
                            json_string(fmt == SA_FMT_JSON  ? "json"
                                        : fmt == SA_FMT_CSV ? "csv"
                                                            : "table"));
    }
    /* takes args */
    if (sa_connect_logged(db, &pg, count_only ? "count" : "query", args) != 0) {
        args = NULL;
        goto out;
    }
    args = NULL;
    if (aud_pg_query(pg, sql.p, w.params, w.n, &res, &err) != CM_OK) {
        sa_fail("%s: %s", count_only ? "count" : "query", err.msg);
        goto out;
    }
    if (count_only) {
        printf("%s\n", aud_pg_res_value(res, 0, 0));
    } else if (fmt == SA_FMT_JSON) {
        for (size_t r = 0; r < aud_pg_res_rows(res); r++)
            printf("%s\n", aud_pg_res_value(res, r, 0));
    } else if (fmt == SA_FMT_CSV) {
        for (size_t i = 0; i < CM_ARRAY_LEN(csv_heads); i++)
            sa_csv_field(stdout, csv_heads[i], i + 1 == CM_ARRAY_LEN(csv_heads));
        for (size_t r = 0; r < aud_pg_res_rows(res); r++)
            for (size_t i = 0; i < CM_ARRAY_LEN(csv_heads); i++)
                sa_csv_field(stdout, aud_pg_res_value(res, r, i), i + 1 == CM_ARRAY_LEN(csv_heads));
    } else {
        size_t rows = aud_pg_res_rows(res), ncol = CM_ARRAY_LEN(heads);
        const char **cells = calloc(rows * ncol + 1, sizeof(*cells));

        cm_assert(cells != NULL);
        for (size_t r = 0; r < rows; r++)
            for (size_t i = 0; i < ncol; i++)
                cells[r * ncol + i] = aud_pg_res_value(res, r, (size_t)table_cols[i]);
        sa_print_table(stdout, heads, ncol, cells, rows);
        free(cells);
    }
    status = sa_close_out(stdout, NULL);
out:
    json_decref(args);
    aud_pg_res_free(res);
    aud_pg_free(pg);
    sa_where_fini(&w);
    cm_buf_fini(&sql);
    return status;
}
