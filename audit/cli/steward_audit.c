/* SPDX-License-Identifier: Apache-2.0
 *
 * steward-audit: the auditor's command line over the lineage database.
 *
 *   steward-audit migrate [--db CONNINFO] [--dir DIR]
 *   steward-audit query   [--db CONNINFO] [filters] [--limit N] [--format table|json]
 *   steward-audit count   [--db CONNINFO] [filters]
 *
 * migrate applies the forward-only files DIR/NNNN_*.sql that are not yet in
 * schema_migrations, in name order, each in its own transaction, under an
 * advisory lock (two migrators never interleave).  query and count read
 * lineage_records; every filter is a bound parameter (PQexecParams through
 * aud_pg), never pasted into SQL.  --db defaults to $STEWARD_DB.
 *
 * Errors: one line "steward-audit: ..." on stderr, exit 1.  Table output
 * replaces control characters so a stored string cannot drive the terminal.
 * Later issues add trace, subject, verify, report, export and retention.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/aud_pg.h"
#include "common/cm_buf.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"

#define AUD_MIGRATE_LOCK "7461756469743031" /* advisory lock key: any constant */
#define AUD_MAX_LIMIT 1000000

static void
usage(FILE *out)
{
    fprintf(out, "usage: steward-audit migrate [--db CONNINFO] [--dir DIR]\n"
                 "       steward-audit query   [--db CONNINFO] [FILTERS] [--limit N] "
                 "[--format table|json]\n"
                 "       steward-audit count   [--db CONNINFO] [FILTERS]\n"
                 "\n"
                 "  --db CONNINFO    libpq conninfo or postgresql:// URL (default: $STEWARD_DB)\n"
                 "  --dir DIR        migrations (default: $STEWARD_SCHEMA_DIR, ./schema/sql, or\n"
                 "                   schema/sql beside the build tree of this binary)\n"
                 "FILTERS:\n"
                 "  --since DURATION records that started within DURATION (30m, 1h, 7d)\n"
                 "  --from TS --to TS  RFC 3339 bounds on the start time (from inclusive)\n"
                 "  --decision D     allow | redact | deny\n"
                 "  --outcome O      ok, denied, upstream_error, ...\n"
                 "  --model M        requested or served model\n"
                 "  --tenant T, --principal P, --route R\n"
                 "  --limit N        at most N records, newest first (default 50)\n"
                 "  --format F       table (default) or json (one stored record per line)\n");
}

static int fail(const char *fmt, ...) CM_PRINTF(1, 2);

static int
fail(const char *fmt, ...)
{
    va_list ap;

    fputs("steward-audit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static int
db_connect(const char *db, struct aud_pg **pg)
{
    struct cm_err err = {{0}};

    if (db == NULL)
        db = getenv("STEWARD_DB");
    if (db == NULL || *db == '\0')
        return fail("no database: pass --db CONNINFO or set STEWARD_DB");
    if (aud_pg_connect(db, "steward-audit", pg, &err) != CM_OK)
        return fail("%s", err.msg);
    return 0;
}

/* ------------------------------------------------------------ migrate */

static bool
is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* $STEWARD_SCHEMA_DIR, ./schema/sql, or <bindir>/../../../schema/sql (the
 * binaries live in build/<flavour>/bin). */
static const char *
default_dir(char *buf, size_t len)
{
    const char *env = getenv("STEWARD_SCHEMA_DIR");
    char exe[PATH_MAX];
    ssize_t n;
    char *slash;

    if (env != NULL && *env != '\0')
        return env;
    if (is_dir("schema/sql"))
        return "schema/sql";
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0';
    if ((size_t)snprintf(buf, len, "%s/../../../schema/sql", exe) >= len)
        return NULL;
    return is_dir(buf) ? buf : NULL;
}

static bool
migration_name(const char *name)
{
    size_t n = strlen(name);

    if (n < 10 || strcmp(name + n - 4, ".sql") != 0 || name[4] != '_')
        return false;
    for (int i = 0; i < 4; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    return true;
}

static int
migration_filter(const struct dirent *d)
{
    return migration_name(d->d_name);
}

static char *
read_file(const char *path, struct cm_err *err)
{
    struct cm_buf b;
    char chunk[8192];
    size_t n, len;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cm_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cm_buf_append(&b, chunk, n);
    if (ferror(f)) {
        fclose(f);
        cm_buf_fini(&b);
        cm_err_set(err, CM_EIO, "%s: read error", path);
        return NULL;
    }
    fclose(f);
    cm_buf_putc(&b, '\0');
    return cm_buf_steal(&b, &len);
}

static int
apply_one(struct aud_pg *pg, const char *dir, const char *name, bool *applied)
{
    char path[PATH_MAX], version[256];
    struct aud_pg_param p = {version, 0, false};
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    char *sql = NULL;
    int status = 1;

    *applied = false;
    snprintf(version, sizeof(version), "%.*s", (int)(strlen(name) - 4), name);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return fail("migrate: %s/%s: path too long", dir, name);
    if (aud_pg_query(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", &p, 1, &res, &err) !=
        CM_OK)
        return fail("migrate: %s", err.msg);
    if (aud_pg_res_rows(res) > 0) {
        aud_pg_res_free(res);
        return 0;
    }
    aud_pg_res_free(res);
    sql = read_file(path, &err);
    if (sql == NULL)
        return fail("migrate: %s", err.msg);
    if (aud_pg_exec(pg, "BEGIN", &err) != CM_OK || aud_pg_exec(pg, sql, &err) != CM_OK ||
        aud_pg_query(pg, "INSERT INTO schema_migrations (version) VALUES ($1)", &p, 1, NULL,
                     &err) != CM_OK ||
        aud_pg_exec(pg, "COMMIT", &err) != CM_OK) {
        struct cm_err ignored;

        if (aud_pg_alive(pg))
            (void)!aud_pg_exec(pg, "ROLLBACK", &ignored);
        fail("migrate %s: %s", path, err.msg);
        goto out;
    }
    *applied = true;
    status = 0;
out:
    free(sql);
    return status;
}

static int
cmd_migrate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *dir = NULL;
    char dirbuf[PATH_MAX];
    struct dirent **names = NULL;
    struct aud_pg *pg = NULL;
    struct cm_err err = {{0}};
    int c, n = 0, status = 1, napplied = 0;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'D': dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc)
        return fail("migrate: unexpected argument '%s'", argv[optind]);
    if (dir == NULL && (dir = default_dir(dirbuf, sizeof(dirbuf))) == NULL)
        return fail("migrate: cannot find schema/sql: pass --dir or set STEWARD_SCHEMA_DIR");
    n = scandir(dir, &names, migration_filter, alphasort);
    if (n < 0)
        return fail("migrate: %s: %s", dir, strerror(errno));
    if (n == 0) {
        status = fail("migrate: no NNNN_*.sql files in %s", dir);
        goto out;
    }
    if (db_connect(db, &pg) != 0)
        goto out;
    if (aud_pg_exec(pg, "SELECT pg_advisory_lock(" AUD_MIGRATE_LOCK ")", &err) != CM_OK ||
        aud_pg_exec(pg,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version text PRIMARY KEY, "
                    "applied_at timestamptz NOT NULL DEFAULT now())",
                    &err) != CM_OK) {
        fail("migrate: %s", err.msg);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        bool applied;

        if (apply_one(pg, dir, names[i]->d_name, &applied) != 0)
            goto out;
        if (applied) {
            printf("applied %s\n", names[i]->d_name);
            napplied++;
        }
    }
    if (napplied == 0)
        printf("up to date (%d migrations)\n", n);
    status = 0;
out:
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    aud_pg_free(pg);
    return status;
}

/* ------------------------------------------------------- query, count */

struct filters {
    const char *since, *from, *to;
    const char *decision, *outcome, *model, *tenant, *principal, *route;
    long limit;
    bool json;
};

/* WHERE clause with $n placeholders; the values go to params[].  The
 * timestamps are normalised here so a bad one is our error, not the
 * server's. */
struct where {
    struct cm_buf sql;
    struct aud_pg_param params[12];
    char ts[2][CM_TIME_RFC3339_LEN];
    size_t n;
};

/* Adds "AND lhs op $n[cast]" with value as parameter n. */
static size_t
where_param(struct where *w, const char *value)
{
    w->params[w->n].value = value;
    w->params[w->n].len = 0;
    w->params[w->n].binary = false;
    w->n++;
    cm_buf_puts(&w->sql, w->n == 1 ? " WHERE " : " AND ");
    return w->n;
}

static void
where_add(struct where *w, const char *lhs, const char *op, const char *cast, const char *value)
{
    size_t n = where_param(w, value);

    cm_buf_printf(&w->sql, "%s %s $%zu%s", lhs, op, n, cast);
}

static int
where_build(const struct filters *f, struct where *w)
{
    int64_t us, now = cm_now_us();

    cm_buf_init(&w->sql);
    w->n = 0;
    if (f->since != NULL && (f->from != NULL || f->to != NULL))
        return fail("--since cannot be combined with --from/--to");
    if (f->since != NULL) {
        if (cm_duration_parse(f->since, 1000000, &us) != CM_OK || us <= 0)
            return fail("--since %s: expected a duration such as 30m, 1h or 7d", f->since);
        cm_time_fmt(now - us, w->ts[0]);
        where_add(w, "r.ts_start", ">=", "::timestamptz", w->ts[0]);
    }
    if (f->from != NULL) {
        if (cm_time_parse(f->from, &us) != CM_OK)
            return fail("--from %s: expected an RFC 3339 time such as 2026-11-29T15:00:00Z",
                        f->from);
        cm_time_fmt(us, w->ts[0]);
        where_add(w, "r.ts_start", ">=", "::timestamptz", w->ts[0]);
    }
    if (f->to != NULL) {
        if (cm_time_parse(f->to, &us) != CM_OK)
            return fail("--to %s: expected an RFC 3339 time such as 2026-11-29T16:00:00Z", f->to);
        cm_time_fmt(us, w->ts[1]);
        where_add(w, "r.ts_start", "<", "::timestamptz", w->ts[1]);
    }
    if (f->decision != NULL)
        where_add(w, "r.decision", "=", "", f->decision);
    if (f->outcome != NULL)
        where_add(w, "r.outcome", "=", "", f->outcome);
    if (f->model != NULL) {
        size_t n = where_param(w, f->model);

        cm_buf_printf(&w->sql, "(r.model_requested = $%zu OR r.model_served = $%zu)", n, n);
    }
    if (f->tenant != NULL)
        where_add(w, "r.tenant", "=", "", f->tenant);
    if (f->principal != NULL)
        where_add(w, "r.principal", "=", "", f->principal);
    if (f->route != NULL)
        where_add(w, "r.route", "=", "", f->route);
    return 0;
}

/* Printable form of a value for the table: "-" for NULL, control bytes as '?'. */
static void
cell(const char *v, char *out, size_t outlen)
{
    size_t i = 0;

    if (v == NULL)
        v = "-";
    for (; *v != '\0' && i + 1 < outlen; v++)
        out[i++] = ((unsigned char)*v < 0x20 || *v == 0x7f) ? '?' : *v;
    out[i] = '\0';
}

static void
print_table(const struct aud_pg_res *res)
{
    static const char *const heads[] = {"TIME",     "RECORD", "ROUTE",   "MODEL",
                                        "DECISION", "STATUS", "OUTCOME", "FINDINGS"};
    size_t rows = aud_pg_res_rows(res), cols = CM_ARRAY_LEN(heads);
    size_t width[CM_ARRAY_LEN(heads)];
    char buf[512];

    for (size_t c = 0; c < cols; c++)
        width[c] = strlen(heads[c]);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            cell(aud_pg_res_value(res, r, c), buf, sizeof(buf));
            if (strlen(buf) > width[c])
                width[c] = strlen(buf);
        }
    }
    for (size_t c = 0; c + 1 < cols; c++)
        printf("%-*s  ", (int)width[c], heads[c]);
    printf("%s\n", heads[cols - 1]);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            cell(aud_pg_res_value(res, r, c), buf, sizeof(buf));
            if (c + 1 < cols)
                printf("%-*s  ", (int)width[c], buf);
            else
                printf("%s\n", buf);
        }
    }
}

static int
parse_filters(int argc, char **argv, struct filters *f, const char **db, bool with_output)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"since", required_argument, NULL, 's'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"decision", required_argument, NULL, 'D'},
        {"outcome", required_argument, NULL, 'O'},
        {"model", required_argument, NULL, 'M'},
        {"tenant", required_argument, NULL, 'T'},
        {"principal", required_argument, NULL, 'P'},
        {"route", required_argument, NULL, 'R'},
        {"limit", required_argument, NULL, 'l'},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int c;

    memset(f, 0, sizeof(*f));
    f->limit = 50;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': *db = optarg; break;
        case 's': f->since = optarg; break;
        case 'f': f->from = optarg; break;
        case 't': f->to = optarg; break;
        case 'D': f->decision = optarg; break;
        case 'O': f->outcome = optarg; break;
        case 'M': f->model = optarg; break;
        case 'T': f->tenant = optarg; break;
        case 'P': f->principal = optarg; break;
        case 'R': f->route = optarg; break;
        case 'l':
            if (!with_output)
                return fail("count: --limit does not apply");
            errno = 0;
            f->limit = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || f->limit < 1 ||
                f->limit > AUD_MAX_LIMIT)
                return fail("--limit %s: expected 1..%d", optarg, AUD_MAX_LIMIT);
            break;
        case 'F':
            if (!with_output)
                return fail("count: --format does not apply");
            if (strcmp(optarg, "json") == 0)
                f->json = true;
            else if (strcmp(optarg, "table") != 0)
                return fail("--format %s: expected table or json", optarg);
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc)
        return fail("unexpected argument '%s'", argv[optind]);
    return 0;
}

static int
cmd_query(int argc, char **argv, bool count_only)
{
    struct filters f;
    struct where w;
    const char *db = NULL;
    struct aud_pg *pg = NULL;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    struct cm_buf sql;
    char limit[24];
    int status = 1;

    cm_buf_init(&sql);
    cm_buf_init(&w.sql);
    if (parse_filters(argc, argv, &f, &db, !count_only) != 0 || where_build(&f, &w) != 0)
        goto out;
    if (count_only) {
        cm_buf_puts(&sql, "SELECT count(*) FROM lineage_records r");
        cm_buf_append(&sql, w.sql.p != NULL ? w.sql.p : "", w.sql.len);
    } else {
        if (f.json)
            cm_buf_puts(&sql, "SELECT r.raw::text FROM lineage_records r");
        else
            cm_buf_puts(&sql, "SELECT to_char(r.ts_start AT TIME ZONE 'UTC', "
                              "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), r.record_id::text, r.route, "
                              "coalesce(r.model_served, r.model_requested), r.decision, "
                              "r.http_status::text, r.outcome, "
                              "(SELECT string_agg(s.type || ':' || s.n, ' ' ORDER BY s.type) FROM "
                              "(SELECT fi.type, sum(fi.count) AS n FROM lineage_findings fi "
                              "WHERE fi.record_id = r.record_id GROUP BY fi.type) s) "
                              "FROM lineage_records r");
        cm_buf_append(&sql, w.sql.p != NULL ? w.sql.p : "", w.sql.len);
        snprintf(limit, sizeof(limit), "%ld", f.limit);
        w.params[w.n].value = limit;
        w.params[w.n].len = 0;
        w.params[w.n].binary = false;
        w.n++;
        cm_buf_printf(&sql, " ORDER BY r.ts_start DESC, r.record_id DESC LIMIT $%zu::bigint", w.n);
    }
    if (db_connect(db, &pg) != 0)
        goto out;
    if (aud_pg_query(pg, sql.p, w.params, w.n, &res, &err) != CM_OK) {
        fail("%s: %s", count_only ? "count" : "query", err.msg);
        goto out;
    }
    if (count_only) {
        printf("%s\n", aud_pg_res_value(res, 0, 0));
    } else if (f.json) {
        for (size_t r = 0; r < aud_pg_res_rows(res); r++)
            printf("%s\n", aud_pg_res_value(res, r, 0));
    } else {
        print_table(res);
    }
    if (fflush(stdout) != 0) {
        fail("writing the output: %s", strerror(errno));
        goto out;
    }
    status = 0;
out:
    aud_pg_res_free(res);
    aud_pg_free(pg);
    cm_buf_fini(&w.sql);
    cm_buf_fini(&sql);
    return status;
}

int
main(int argc, char **argv)
{
    const char *cmd;

    cm_log_init("steward-audit", CM_LOG_WARN);
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* Subcommand options start after the subcommand's name. */
    argc--;
    argv++;
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc, argv);
    if (strcmp(cmd, "query") == 0)
        return cmd_query(argc, argv, false);
    if (strcmp(cmd, "count") == 0)
        return cmd_query(argc, argv, true);
    return fail("unknown command '%s' (try --help)", cmd);
}
