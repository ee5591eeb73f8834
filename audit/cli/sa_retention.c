/* SPDX-License-Identifier: Apache-2.0
 *
 * sa_retention: the admin's commands over the lineage store's life cycle.
 *
 *   retention status                    classes, holds, partitions, last actions
 *   retention apply [--dry-run]         steward_retention_apply() (0008_retention.sql)
 *   retention set CLASS DURATION        records | fingerprints | rejects | access_log
 *   hold add --reason TEXT [--tenant T] [--trace ID] [--record ID] [--from TS] [--to TS]
 *   hold list [--all]
 *   hold release ID
 *   partitions [--ahead DAYS] [--back DAYS]
 *   access [--since D | --from TS --to TS] [--who ROLE] [--limit N]
 *
 * The work is done by SECURITY DEFINER functions and tables that only the
 * steward_admin role (and the owner) may use (0007_access.sql), so these
 * commands fail with PostgreSQL's permission error for anyone else.  Each
 * is written to the access log first, like every read.  A retention run is
 * one transaction: it drops or trims all it should, or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/cli/sa_common.h"
#include "common/cm_uuid.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: steward-audit retention status|apply [--dry-run]|set CLASS DURATION "
            "[--db CONNINFO]\n"
            "       steward-audit hold add --reason TEXT [--tenant T] [--trace ID] [--record ID]\n"
            "                              [--from TS] [--to TS] [--db CONNINFO]\n"
            "       steward-audit hold list [--all] | release ID [--db CONNINFO]\n"
            "       steward-audit partitions [--ahead DAYS] [--back DAYS] [--db CONNINFO]\n"
            "  CLASS            records, fingerprints, rejects, access_log\n"
            "  DURATION         Nd (days), Nw (weeks) or Ny (years), at least 1d\n"
            "  --dry-run        say what would be dropped or deleted, change nothing\n"
            "A hold with no scope holds everything; retention never removes held records.\n");
}

/* Runs sql and prints the result as a table under heads (one per column). */
static int
run_table(struct aud_pg *pg, const char *sql, const struct aud_pg_param *p, size_t np,
          const char *const *heads, size_t ncols, size_t *nrows)
{
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    const char **cells;
    size_t rows;

    if (aud_pg_query(pg, sql, p, np, &res, &err) != CM_OK)
        return sa_fail("%s", err.msg);
    rows = aud_pg_res_rows(res);
    cells = calloc(rows * ncols + 1, sizeof(*cells));
    cm_assert(cells != NULL);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < ncols; c++)
            cells[r * ncols + c] = aud_pg_res_value(res, r, c);
    sa_print_table(stdout, heads, ncols, cells, rows);
    free(cells);
    aud_pg_res_free(res);
    if (nrows != NULL)
        *nrows = rows;
    return 0;
}

/* "400d" -> "400 days"; "2w" -> "2 weeks"; "3y" -> "3 years". */
static int
parse_keep(const char *s, char *out, size_t len)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || v < 1 || v > 100000)
        return -1;
    if (strcmp(end, "d") == 0 || *end == '\0')
        snprintf(out, len, "%lld days", v);
    else if (strcmp(end, "w") == 0)
        snprintf(out, len, "%lld weeks", v);
    else if (strcmp(end, "y") == 0)
        snprintf(out, len, "%lld years", v);
    else
        return -1;
    return 0;
}

int
sa_cmd_retention(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, SA_OPT_DB},
        {"dry-run", no_argument, NULL, SA_OPT__FIRST_LOCAL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *sub;
    bool dry = false;
    struct aud_pg *pg = NULL;
    int c, status = 1;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT__FIRST_LOCAL: dry = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind >= argc)
        return sa_fail("retention: expected status, apply or set (try --help)");
    sub = argv[optind];
    if (strcmp(sub, "status") == 0 && optind + 1 == argc) {
        static const char *const ch[] = {"CLASS", "KEEP", "WHAT", "CHANGED", "BY"};
        static const char *const ph[] = {"TABLE", "DAY PARTITIONS", "FIRST DAY", "LAST DAY",
                                         "ROWS IN DEFAULT"};
        static const char *const hh[] = {"HOLD",   "REASON", "TENANT", "TRACE",
                                         "RECORD", "FROM",   "TO",     "SINCE"};

        if (sa_connect_logged(db, &pg, "retention status", NULL) != 0)
            goto out;
        if (run_table(pg,
                      "SELECT class, keep::text, description, to_char(updated_at AT TIME ZONE "
                      "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), updated_by FROM steward_retention "
                      "ORDER BY class",
                      NULL, 0, ch, 5, NULL) != 0)
            goto out;
        printf("\n");
        if (run_table(pg,
                      "SELECT p.table_name, count(*) FILTER (WHERE p.day IS NOT NULL)::text, "
                      "min(p.day)::text, max(p.day)::text, d.rows::text "
                      "FROM steward_partitions() p JOIN steward_default_rows() d "
                      "ON d.table_name = p.table_name GROUP BY p.table_name, d.rows ORDER BY 1",
                      NULL, 0, ph, 5, NULL) != 0)
            goto out;
        printf("\nlegal holds in force:\n");
        if (run_table(pg,
                      "SELECT '#' || id, reason, tenant, trace_id, record_id::text, "
                      "from_ts::text, to_ts::text, to_char(created_at AT TIME ZONE 'UTC', "
                      "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM steward_legal_holds "
                      "WHERE released_at IS NULL ORDER BY id",
                      NULL, 0, hh, 8, NULL) != 0)
            goto out;
        status = sa_close_out(stdout, NULL);
    } else if (strcmp(sub, "apply") == 0 && optind + 1 == argc) {
        static const char *const heads[] = {"CLASS", "OBJECT", "ACTION", "ROWS", "DETAIL"};
        struct aud_pg_param p = {dry ? "true" : "false", 0, false};
        size_t n = 0;

        if (sa_connect_logged(db, &pg, dry ? "retention apply --dry-run" : "retention apply",
                              json_pack("{s:b}", "dry_run", dry)) != 0)
            goto out;
        if (run_table(pg,
                      "SELECT class, object, action, rows::text, detail "
                      "FROM steward_retention_apply($1::boolean)",
                      &p, 1, heads, 5, &n) != 0)
            goto out;
        printf("%s%zu action%s\n", dry ? "dry run, nothing changed: " : "", n, n == 1 ? "" : "s");
        status = sa_close_out(stdout, NULL);
    } else if (strcmp(sub, "set") == 0 && optind + 3 == argc) {
        char keep[64];
        struct aud_pg_param p[] = {{argv[optind + 1], 0, false}, {keep, 0, false}};
        struct aud_pg_res *res = NULL;
        struct cm_err err = {{0}};

        if (parse_keep(argv[optind + 2], keep, sizeof(keep)) != 0) {
            sa_fail("retention set: %s: expected Nd, Nw or Ny", argv[optind + 2]);
            goto out;
        }
        if (sa_connect_logged(db, &pg, "retention set",
                              json_pack("{s:s, s:s}", "class", argv[optind + 1], "keep", keep)) !=
            0)
            goto out;
        if (aud_pg_query(pg,
                         "UPDATE steward_retention SET keep = $2::interval, updated_at = now(), "
                         "updated_by = session_user WHERE class = $1 RETURNING keep::text",
                         p, 2, &res, &err) != CM_OK) {
            sa_fail("retention set: %s", err.msg);
            goto out;
        }
        if (aud_pg_res_rows(res) == 0) {
            aud_pg_res_free(res);
            sa_fail("retention set: no data class '%s' (records, fingerprints, rejects, "
                    "access_log)",
                    argv[optind + 1]);
            goto out;
        }
        printf("%s: kept %s\n", argv[optind + 1], aud_pg_res_value(res, 0, 0));
        aud_pg_res_free(res);
        status = sa_close_out(stdout, NULL);
    } else {
        sa_fail("retention: expected status, apply [--dry-run] or set CLASS DURATION");
    }
out:
    aud_pg_free(pg);
    return status;
}

int
sa_cmd_hold(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, SA_OPT_DB},
        {"reason", required_argument, NULL, SA_OPT__FIRST_LOCAL},
        {"tenant", required_argument, NULL, SA_OPT_TENANT},
        {"trace", required_argument, NULL, SA_OPT_TRACE},
        {"record", required_argument, NULL, SA_OPT__FIRST_LOCAL + 1},
        {"from", required_argument, NULL, SA_OPT_FROM},
        {"to", required_argument, NULL, SA_OPT_TO},
        {"all", no_argument, NULL, SA_OPT__FIRST_LOCAL + 2},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *reason = NULL, *record = NULL, *sub;
    struct sa_filters f = {0};
    struct sa_where w;
    bool all = false;
    struct aud_pg *pg = NULL;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    uint8_t id[16];
    int c, status = 1;

    memset(&w, 0, sizeof(w));
    cm_buf_init(&w.sql);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (sa_filter_opt(&f, c, optarg))
            continue;
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT__FIRST_LOCAL: reason = optarg; break;
        case SA_OPT__FIRST_LOCAL + 1: record = optarg; break;
        case SA_OPT__FIRST_LOCAL + 2: all = true; break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind >= argc) {
        sa_fail("hold: expected add, list or release (try --help)");
        goto out;
    }
    sub = argv[optind];
    if (strcmp(sub, "add") == 0 && optind + 1 == argc) {
        struct sa_filters tf = {.from = f.from, .to = f.to};
        struct aud_pg_param p[6];
        json_t *args;

        if (reason == NULL || *reason == '\0') {
            sa_fail("hold add: --reason is required (a case number, a request reference)");
            goto out;
        }
        if (record != NULL && cm_uuid_parse(record, id) != CM_OK) {
            sa_fail("hold add: --record %s: not a record id", record);
            goto out;
        }
        sa_where_fini(&w);
        if (sa_where_build(&tf, 0, &w) != 0) /* validates and normalises the times */
            goto out;
        p[0] = (struct aud_pg_param){reason, 0, false};
        p[1] = (struct aud_pg_param){f.tenant, 0, false};
        p[2] = (struct aud_pg_param){f.trace, 0, false};
        p[3] = (struct aud_pg_param){record, 0, false};
        p[4] = (struct aud_pg_param){f.from ? w.ts[0] : NULL, 0, false};
        p[5] = (struct aud_pg_param){f.to ? w.ts[1] : NULL, 0, false};
        args = sa_filters_json(&f);
        json_object_set_new(args, "reason", json_string(reason));
        if (record != NULL)
            json_object_set_new(args, "record", json_string(record));
        if (sa_connect_logged(db, &pg, "hold add", args) != 0)
            goto out;
        if (aud_pg_query(pg,
                         "INSERT INTO steward_legal_holds (reason, tenant, trace_id, record_id, "
                         "from_ts, to_ts) VALUES ($1, $2, $3, $4::uuid, $5::timestamptz, "
                         "$6::timestamptz) RETURNING id",
                         p, 6, &res, &err) != CM_OK) {
            sa_fail("hold add: %s", err.msg);
            goto out;
        }
        printf("hold #%s added: retention keeps every matching record until it is released\n",
               aud_pg_res_value(res, 0, 0));
        status = sa_close_out(stdout, NULL);
    } else if (strcmp(sub, "list") == 0 && optind + 1 == argc) {
        static const char *const heads[] = {"HOLD", "REASON", "TENANT",  "TRACE", "RECORD",
                                            "FROM", "TO",     "CREATED", "BY",    "RELEASED"};

        if (sa_connect_logged(db, &pg, "hold list", json_pack("{s:b}", "all", all)) != 0)
            goto out;
        if (run_table(pg,
                      all ? "SELECT '#' || id, reason, tenant, trace_id, record_id::text, "
                            "from_ts::text, to_ts::text, created_at::text, created_by, "
                            "released_at::text FROM steward_legal_holds ORDER BY id"
                          : "SELECT '#' || id, reason, tenant, trace_id, record_id::text, "
                            "from_ts::text, to_ts::text, created_at::text, created_by, "
                            "released_at::text FROM steward_legal_holds "
                            "WHERE released_at IS NULL ORDER BY id",
                      NULL, 0, heads, 10, NULL) != 0)
            goto out;
        status = sa_close_out(stdout, NULL);
    } else if (strcmp(sub, "release") == 0 && optind + 2 == argc) {
        const char *hid = argv[optind + 1][0] == '#' ? argv[optind + 1] + 1 : argv[optind + 1];
        struct aud_pg_param p = {hid, 0, false};
        char *end;

        errno = 0;
        (void)strtoll(hid, &end, 10);
        if (errno != 0 || end == hid || *end != '\0') {
            sa_fail("hold release: %s: expected a hold number", argv[optind + 1]);
            goto out;
        }
        if (sa_connect_logged(db, &pg, "hold release", json_pack("{s:s}", "hold", hid)) != 0)
            goto out;
        if (aud_pg_query(pg,
                         "UPDATE steward_legal_holds SET released_at = now(), released_by = "
                         "session_user WHERE id = $1::bigint AND released_at IS NULL RETURNING id",
                         &p, 1, &res, &err) != CM_OK) {
            sa_fail("hold release: %s", err.msg);
            goto out;
        }
        if (aud_pg_res_rows(res) == 0) {
            sa_fail("hold release: no hold #%s in force", hid);
            goto out;
        }
        printf("hold #%s released\n", hid);
        status = sa_close_out(stdout, NULL);
    } else {
        sa_fail("hold: expected add --reason TEXT [scope], list [--all] or release ID");
    }
out:
    aud_pg_res_free(res);
    aud_pg_free(pg);
    sa_where_fini(&w);
    return status;
}

int
sa_cmd_partitions(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, SA_OPT_DB},
        {"ahead", required_argument, NULL, SA_OPT__FIRST_LOCAL},
        {"back", required_argument, NULL, SA_OPT__FIRST_LOCAL + 1},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const heads[] = {"TABLE", "DAY PARTITIONS", "FIRST DAY", "LAST DAY",
                                        "ROWS IN DEFAULT"};
    const char *db = NULL;
    char ahead[16] = "7", back[16] = "1", *end;
    struct aud_pg *pg = NULL;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    struct aud_pg_param p[] = {{back, 0, false}, {ahead, 0, false}};
    long v;
    int c, status = 1;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT__FIRST_LOCAL:
        case SA_OPT__FIRST_LOCAL + 1:
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || v < 0 || v > 3650)
                return sa_fail("partitions: %s: expected 0..3650 days", optarg);
            snprintf(c == SA_OPT__FIRST_LOCAL ? ahead : back, 16, "%ld", v);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc)
        return sa_fail("partitions: unexpected argument '%s'", argv[optind]);
    if (sa_connect_logged(db, &pg, "partitions",
                          json_pack("{s:s, s:s}", "ahead", ahead, "back", back)) != 0)
        goto out;
    if (aud_pg_query(pg,
                     "SELECT steward_partitions_ensure((now() AT TIME ZONE 'UTC')::date - "
                     "$1::int, (now() AT TIME ZONE 'UTC')::date + $2::int)",
                     p, 2, &res, &err) != CM_OK) {
        sa_fail("partitions: %s", err.msg);
        goto out;
    }
    printf("created %s day partitions\n", aud_pg_res_value(res, 0, 0));
    if (run_table(pg,
                  "SELECT p.table_name, count(*) FILTER (WHERE p.day IS NOT NULL)::text, "
                  "min(p.day)::text, max(p.day)::text, d.rows::text "
                  "FROM steward_partitions() p JOIN steward_default_rows() d "
                  "ON d.table_name = p.table_name GROUP BY p.table_name, d.rows ORDER BY 1",
                  NULL, 0, heads, 5, NULL) != 0)
        goto out;
    status = sa_close_out(stdout, NULL);
out:
    aud_pg_res_free(res);
    aud_pg_free(pg);
    return status;
}

int
sa_cmd_access(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, SA_OPT_DB},
        {"since", required_argument, NULL, SA_OPT_SINCE},
        {"from", required_argument, NULL, SA_OPT_FROM},
        {"to", required_argument, NULL, SA_OPT_TO},
        {"who", required_argument, NULL, SA_OPT__FIRST_LOCAL},
        {"limit", required_argument, NULL, SA_OPT_LIMIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const heads[] = {"AT", "WHO", "FROM", "COMMAND", "ARGUMENTS"};
    struct sa_filters f = {0};
    struct sa_where w;
    const char *db = NULL, *who = NULL;
    char limit[16] = "100", *end;
    struct aud_pg *pg = NULL;
    struct cm_buf sql;
    json_t *args;
    long v;
    int c, status = 1;

    memset(&w, 0, sizeof(w));
    cm_buf_init(&w.sql);
    cm_buf_init(&sql);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (sa_filter_opt(&f, c, optarg))
            continue;
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT__FIRST_LOCAL: who = optarg; break;
        case SA_OPT_LIMIT:
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || v < 1 || v > 1000000) {
                sa_fail("access: --limit %s: expected 1..1000000", optarg);
                goto out;
            }
            snprintf(limit, sizeof(limit), "%ld", v);
            break;
        case 'h':
            printf("usage: steward-audit access [--db CONNINFO] [--since D | --from TS --to TS] "
                   "[--who ROLE] [--limit N]\n"
                   "  who asked what, newest first (steward_access_log; the admin role reads "
                   "it)\n");
            status = 0;
            goto out;
        default: goto out;
        }
    }
    if (optind != argc) {
        sa_fail("access: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    sa_where_fini(&w);
    if (sa_where_build(&f, 0, &w) != 0)
        goto out;
    cm_buf_puts(&sql, "SELECT to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                      "r.who, host(r.client), r.command, r.args::text FROM steward_access_log r");
    /* The record filters name r.ts_start; here the time is r.at. */
    {
        char *p;

        while ((p = strstr(w.sql.p != NULL ? w.sql.p : "", "r.ts_start")) != NULL)
            memcpy(p, "r.at      ", 10);
    }
    if (w.sql.len > 0)
        cm_buf_printf(&sql, " WHERE %s", w.sql.p);
    if (who != NULL)
        cm_buf_printf(&sql, " %s r.who = $%zu", w.sql.len > 0 ? "AND" : "WHERE",
                      sa_where_param(&w, who));
    cm_buf_printf(&sql, " ORDER BY r.id DESC LIMIT $%zu::bigint", sa_where_param(&w, limit));
    args = sa_filters_json(&f);
    if (who != NULL)
        json_object_set_new(args, "who", json_string(who));
    if (sa_connect_logged(db, &pg, "access", args) != 0)
        goto out;
    if (run_table(pg, sql.p, w.params, w.n, heads, 5, NULL) != 0)
        goto out;
    status = sa_close_out(stdout, NULL);
out:
    aud_pg_free(pg);
    sa_where_fini(&w);
    cm_buf_fini(&sql);
    return status;
}
