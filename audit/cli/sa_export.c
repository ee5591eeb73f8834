/* SPDX-License-Identifier: Apache-2.0
 *
 * sa_export: `steward-audit export --openlineage [FILTERS] [--out FILE]
 * [--producer URI] [--facet-base URI] [--namespace NS]`.
 *
 * Writes one OpenLineage RunEvent per matching record as JSON lines, oldest
 * first (audit/aud_openlineage.h has the mapping).  Each line can be POSTed
 * as is to Marquez (/api/v1/lineage) or DataHub's OpenLineage endpoint.
 * Records are read in pages of 1000 by keyset (ts_start, record_id), so an
 * export of millions of records runs in constant memory; progress shows on
 * a terminal.
 */
#include <stdlib.h>
#include <string.h>

#include "audit/aud_openlineage.h"
#include "audit/cli/sa_common.h"

#define PAGE "1000"

static void
usage(FILE *out)
{
    fprintf(
        out,
        "usage: steward-audit export --openlineage [--db CONNINFO] [FILTERS] [--out FILE]\n"
        "                            [--producer URI] [--facet-base URI] [--namespace NS]\n"
        "  --openlineage      one OpenLineage 2-0-2 RunEvent per record, as JSON lines\n"
        "  --out FILE         write there instead of stdout\n"
        "  --producer URI     the events' producer (default " AUD_OL_DEFAULT_PRODUCER ")\n"
        "  --facet-base URI   where schema/openlineage/*.json are published (default\n"
        "                     " AUD_OL_DEFAULT_FACET_BASE ")\n"
        "  --namespace NS     namespace of steward's datasets (default " AUD_OL_DEFAULT_NAMESPACE
        ")\n"
        "%s",
        sa_filters_usage);
}

int
sa_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        SA_FILTER_OPTIONS,
        {"db", required_argument, NULL, SA_OPT_DB},
        {"out", required_argument, NULL, SA_OPT_OUT},
        {"openlineage", no_argument, NULL, SA_OPT__FIRST_LOCAL},
        {"producer", required_argument, NULL, SA_OPT__FIRST_LOCAL + 1},
        {"facet-base", required_argument, NULL, SA_OPT__FIRST_LOCAL + 2},
        {"namespace", required_argument, NULL, SA_OPT__FIRST_LOCAL + 3},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct aud_ol_opts o = {AUD_OL_DEFAULT_PRODUCER, AUD_OL_DEFAULT_FACET_BASE,
                            AUD_OL_DEFAULT_NAMESPACE};
    struct sa_filters f = {0};
    struct sa_where w;
    const char *db = NULL, *outpath = NULL;
    bool openlineage = false;
    struct aud_pg *pg = NULL;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    struct sa_progress prog;
    struct cm_buf sql;
    char last_ts[64] = "-infinity", last_id[40] = "00000000-0000-0000-0000-000000000000";
    size_t pk_ts, pk_id, total = 0;
    json_t *args = NULL;
    FILE *out = NULL;
    int c, status = 1;

    cm_buf_init(&sql);
    memset(&w, 0, sizeof(w));
    cm_buf_init(&w.sql);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (sa_filter_opt(&f, c, optarg))
            continue;
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT_OUT: outpath = optarg; break;
        case SA_OPT__FIRST_LOCAL: openlineage = true; break;
        case SA_OPT__FIRST_LOCAL + 1: o.producer = optarg; break;
        case SA_OPT__FIRST_LOCAL + 2: o.facet_base = optarg; break;
        case SA_OPT__FIRST_LOCAL + 3: o.ns = optarg; break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind != argc || !openlineage) {
        sa_fail("export: say which format: --openlineage (try --help)");
        goto out;
    }
    sa_where_fini(&w);
    if (sa_where_build(&f, 0, &w) != 0)
        goto out;
    pk_ts = sa_where_param(&w, last_ts);
    pk_id = sa_where_param(&w, last_id);
    cm_buf_printf(&sql,
                  "SELECT r.raw::text, (SELECT p.raw->'model' FROM lineage_records p "
                  "WHERE p.record_id = r.parent_record_id LIMIT 1)::text, r.ts_start::text, "
                  "r.record_id::text FROM lineage_records r "
                  "WHERE r.ts_start >= $%zu::timestamptz "
                  "AND (r.ts_start, r.record_id) > ($%zu::timestamptz, $%zu::uuid)%s%s "
                  "ORDER BY r.ts_start, r.record_id LIMIT " PAGE,
                  pk_ts, pk_ts, pk_id, w.sql.len > 0 ? " AND " : "", w.sql.len > 0 ? w.sql.p : "");
    args = sa_filters_json(&f);
    json_object_set_new(args, "format", json_string("openlineage"));
    /* takes args */
    if (sa_connect_logged(db, &pg, "export", args) != 0) {
        args = NULL;
        goto out;
    }
    args = NULL;
    out = sa_open_out(outpath);
    if (out == NULL)
        goto out;
    sa_progress_init(&prog, "export");
    for (;;) {
        size_t rows;

        if (aud_pg_query(pg, sql.p, w.params, w.n, &res, &err) != CM_OK) {
            sa_progress_done(&prog);
            sa_fail("export: %s", err.msg);
            goto out;
        }
        rows = aud_pg_res_rows(res);
        for (size_t r = 0; r < rows; r++) {
            json_t *rec = json_loads(aud_pg_res_value(res, r, 0), 0, NULL);
            const char *pm = aud_pg_res_value(res, r, 1);
            json_t *pmodel = pm != NULL ? json_loads(pm, JSON_DECODE_ANY, NULL) : NULL;
            json_t *ev = rec != NULL ? aud_ol_event(rec, pmodel, &o, &err) : NULL;

            if (ev == NULL) {
                fprintf(stderr, "steward-audit: export: record %s skipped: %s\n",
                        aud_pg_res_value(res, r, 3),
                        rec == NULL ? "stored JSON unreadable" : err.msg);
            } else {
                char *line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);

                fputs(line, out);
                fputc('\n', out);
                free(line);
                total++;
            }
            json_decref(ev);
            json_decref(pmodel);
            json_decref(rec);
        }
        if (rows > 0) {
            snprintf(last_ts, sizeof(last_ts), "%s", aud_pg_res_value(res, rows - 1, 2));
            snprintf(last_id, sizeof(last_id), "%s", aud_pg_res_value(res, rows - 1, 3));
        }
        aud_pg_res_free(res);
        res = NULL;
        sa_progress_step(&prog, "%zu events", total);
        if (rows < (size_t)atoi(PAGE))
            break;
    }
    sa_progress_done(&prog);
    status = sa_close_out(out, outpath);
    out = NULL;
    if (status == 0 && outpath != NULL && strcmp(outpath, "-") != 0)
        fprintf(stderr, "export: %zu OpenLineage events written to %s\n", total, outpath);
out:
    if (out != NULL && out != stdout)
        fclose(out);
    json_decref(args);
    aud_pg_res_free(res);
    aud_pg_free(pg);
    sa_where_fini(&w);
    cm_buf_fini(&sql);
    return status;
}
