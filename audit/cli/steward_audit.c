/* SPDX-License-Identifier: Apache-2.0
 *
 * steward-audit: the auditor's command line over the lineage database.
 *
 *   steward-audit migrate [--db CONNINFO] [--dir DIR]
 *   steward-audit query   [--db CONNINFO] [filters] [--limit N] [--format table|json]
 *   steward-audit count   [--db CONNINFO] [filters]
 *   steward-audit verify  [--db CONNINFO] [--pubkey FILE]... [--chain ID]...
 *   steward-audit keygen  --out FILE
 *
 * migrate applies the forward-only files DIR/NNNN_*.sql that are not yet in
 * schema_migrations, in name order, each in its own transaction, under an
 * advisory lock (two migrators never interleave).  query and count read
 * lineage_records; every filter is a bound parameter (PQexecParams through
 * aud_pg), never pasted into SQL.  --db defaults to $STEWARD_DB.
 *
 * verify (verify.c's logic lives here, below) recomputes the hash chains from
 * the stored bytes, checks the stored columns against those bytes and the
 * checkpoints' signatures, and prints one line per problem naming the
 * records; exit 0 when clean, 1 when it found problems, 2 when it could not
 * check (database unreachable, bad key file).  keygen writes an Ed25519 key
 * pair for checkpoint signing (private key 0600, public key FILE.pub).
 *
 * Errors: one line "steward-audit: ..." on stderr, exit 1 (verify: 2).  Table output
 * replaces control characters so a stored string cannot drive the terminal.
 * Later issues add trace, subject, report, export and retention.
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

#include <inttypes.h>

#include <jansson.h>

#include "audit/aud_chain.h"
#include "audit/aud_pg.h"
#include "audit/aud_sign.h"
#include "audit/aud_validate.h"
#include "common/cm_hash.h"
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
                 "       steward-audit verify  [--db CONNINFO] [--pubkey FILE]... [--chain ID]...\n"
                 "       steward-audit keygen  --out FILE\n"
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
                 "  --format F       table (default) or json (one stored record per line)\n"
                 "verify:\n"
                 "  --pubkey FILE    Ed25519 public key (PEM) of the checkpoints; repeatable\n"
                 "                   (without it signatures are not checked)\n"
                 "  --chain ID       only this chain (repeatable)\n"
                 "  exit status      0 clean, 1 problems found (one line each), 2 error\n"
                 "keygen:\n"
                 "  --out FILE       private key FILE (mode 0600) and public key FILE.pub\n");
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

/* ------------------------------------------------------------ keygen */

static int
cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    char id[AUD_KEY_ID_LEN];
    struct cm_err err = {{0}};
    int c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc)
        return fail("keygen: unexpected argument '%s'", argv[optind]);
    if (path == NULL)
        return fail("keygen: --out FILE is required");
    if (aud_key_generate(path, id, &err) != CM_OK)
        return fail("keygen: %s", err.msg);
    printf("key_id=%s private=%s public=%s.pub\n", id, path, path);
    return 0;
}

/* ------------------------------------------------------------ verify */

#define VERIFY_FETCH 2000 /* rows per FETCH: keep in step with verify_walk's SQL */

struct vcp { /* one checkpoint */
    int64_t seq;
    char hash[CM_SHA256_HEX_LEN];
    bool seen; /* its record was reached */
};

struct vchain {
    char id[CM_UUID_STR_LEN];
    struct vcp *cps;
    size_t ncps;
    bool walked; /* some record of it was read */
};

struct verify {
    struct aud_key **keys;
    size_t nkeys;
    struct vchain *chains;
    size_t nchains;
    uint64_t records, checkpoints, signed_ok;
    uint64_t gaps, missing, edits, reorders, duplicates, cp_problems, unverifiable;

    /* walk state */
    char chain[CM_UUID_STR_LEN];
    bool in_chain;
    int64_t last_seq;
    char last_record[CM_UUID_STR_LEN];
    char last_hash[CM_SHA256_HEX_LEN];
    bool last_reordered;
    struct vchain *vc;
};

static struct vchain *
vchain_get(struct verify *v, const char *id, bool create)
{
    for (size_t i = 0; i < v->nchains; i++)
        if (strcmp(v->chains[i].id, id) == 0)
            return &v->chains[i];
    if (!create)
        return NULL;
    v->chains = cm_realloc(v->chains, (v->nchains + 1) * sizeof(*v->chains));
    memset(&v->chains[v->nchains], 0, sizeof(v->chains[0]));
    snprintf(v->chains[v->nchains].id, CM_UUID_STR_LEN, "%s", id);
    return &v->chains[v->nchains++];
}

/* Decodes a bytea value in PostgreSQL's hex output ("\x0a1b..") into out. */
static bool
bytea_decode(const char *text, struct cm_buf *out)
{
    size_t n;

    cm_buf_reset(out);
    if (text == NULL || text[0] != '\\' || text[1] != 'x')
        return false;
    n = strlen(text + 2);
    cm_buf_reserve(out, n / 2 + 1);
    if (cm_unhex(text + 2, n, (uint8_t *)out->p, n / 2 + 1) != (long)(n / 2))
        return false;
    out->len = n / 2;
    out->p[out->len] = '\0';
    return true;
}

/* A WHERE clause limiting chain_id to the --chain values ($1). */
static void
chain_filter(struct cm_buf *sql, const char *col, size_t nchain, bool first)
{
    if (nchain > 0)
        cm_buf_printf(sql, " %s %s = ANY($1::uuid[])", first ? "WHERE" : "AND", col);
}

static int
verify_checkpoints(struct verify *v, struct aud_pg *pg, const struct aud_pg_param *filter,
                   size_t nfilter)
{
    struct cm_buf sql, bytes, msg;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    int rc = 0;

    cm_buf_init(&sql);
    cm_buf_init(&bytes);
    cm_buf_init(&msg);
    cm_buf_puts(&sql,
                "SELECT chain_id::text, seq, record_hash, raw_bytes FROM lineage_checkpoints");
    chain_filter(&sql, "chain_id", nfilter, true);
    cm_buf_puts(&sql, " ORDER BY chain_id, seq");
    if (aud_pg_query(pg, sql.p, filter, nfilter, &res, &err) != CM_OK) {
        rc = fail("verify: %s", err.msg);
        goto out;
    }
    for (size_t r = 0; r < aud_pg_res_rows(res); r++) {
        const char *chain = aud_pg_res_value(res, r, 0);
        int64_t seq = strtoll(aud_pg_res_value(res, r, 1), NULL, 10);
        const char *hash = aud_pg_res_value(res, r, 2);
        struct aud_checkpoint cp;
        struct vchain *vc = vchain_get(v, chain, true);
        struct vcp *e;
        const char *problem = NULL;

        v->checkpoints++;
        if (!bytea_decode(aud_pg_res_value(res, r, 3), &bytes) ||
            aud_checkpoint_parse(bytes.p, bytes.len, &cp, &err) != CM_OK) {
            problem = "its stored bytes are not a checkpoint";
        } else if (strcmp(cp.chain_id, chain) != 0 || cp.seq != seq || strcmp(cp.hash, hash) != 0) {
            problem = "its columns differ from its stored bytes";
        } else if (v->nkeys > 0) {
            struct aud_key *key = NULL;

            for (size_t k = 0; k < v->nkeys && key == NULL; k++)
                if (cp.has_sig && strcmp(aud_key_id(v->keys[k]), cp.key_id) == 0)
                    key = v->keys[k];
            cm_buf_reset(&msg);
            aud_checkpoint_message(&cp, &msg);
            if (!cp.has_sig)
                problem = "unsigned";
            else if (key == NULL)
                problem = "signed by an unknown key";
            else if (!aud_key_verify(key, msg.p, msg.len, cp.sig, AUD_SIG_LEN))
                problem = "bad signature";
            else
                v->signed_ok++;
        }
        if (problem != NULL) {
            v->cp_problems++;
            printf("checkpoint chain=%s seq=%" PRId64 " problem=\"%s\"\n", chain, seq, problem);
            continue; /* an untrusted checkpoint pins nothing */
        }
        vc->cps = cm_realloc(vc->cps, (vc->ncps + 1) * sizeof(*vc->cps));
        e = &vc->cps[vc->ncps++];
        e->seq = seq;
        e->seen = false;
        snprintf(e->hash, sizeof(e->hash), "%s", hash);
    }
out:
    aud_pg_res_free(res);
    cm_buf_fini(&sql);
    cm_buf_fini(&bytes);
    cm_buf_fini(&msg);
    return rc;
}

/* Rows whose stored columns (or findings) differ from their stored record:
 * built from fields.def like the loader's INSERT. */
static int
verify_columns(struct verify *v, struct aud_pg *pg, const struct aud_pg_param *filter,
               size_t nfilter)
{
    struct cm_buf sql;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    int rc = 0;

    cm_buf_init(&sql);
    cm_buf_puts(&sql, "SELECT record_id::text, coalesce(chain_id::text, '-'), "
                      "coalesce(chain_seq, 0), bad FROM (SELECT r.record_id, r.chain_id, "
                      "r.chain_seq, concat_ws(','");
    for (size_t i = 0; i < aud_n_fields; i++) {
        const struct aud_field *f = &aud_fields[i];

        /* chain_seq: a moved row is reported as a reorder, from its bytes. */
        if (f->column == NULL || strcmp(f->column, "chain_seq") == 0)
            continue;
        cm_buf_printf(&sql, ", CASE WHEN r.\"%s\" IS DISTINCT FROM ", f->column);
        aud_field_sql_expr(&sql, "r.raw", f);
        cm_buf_printf(&sql, " THEN '%s' END", f->column);
    }
    cm_buf_puts(&sql, ", CASE WHEN (SELECT coalesce(jsonb_agg(jsonb_build_object(");
    for (size_t i = 0; i < aud_n_finding_fields; i++)
        cm_buf_printf(&sql, "%s'%s', f.\"%s\"", i > 0 ? ", " : "", aud_finding_fields[i].key,
                      aud_finding_fields[i].column);
    cm_buf_puts(&sql, ") ORDER BY f.idx), '[]'::jsonb) FROM lineage_findings f "
                      "WHERE f.record_id = r.record_id) IS DISTINCT FROM r.raw->'findings' "
                      "THEN 'findings' END) AS bad FROM lineage_records r");
    chain_filter(&sql, "r.chain_id", nfilter, true);
    cm_buf_puts(&sql, ") x WHERE bad <> '' ORDER BY chain_id, chain_seq, record_id");
    if (aud_pg_query(pg, sql.p, filter, nfilter, &res, &err) != CM_OK) {
        rc = fail("verify: %s", err.msg);
        goto out;
    }
    for (size_t r = 0; r < aud_pg_res_rows(res); r++) {
        v->edits++;
        printf("edit chain=%s seq=%s record=%s what=\"stored columns differ from the record: "
               "%s\"\n",
               aud_pg_res_value(res, r, 1), aud_pg_res_value(res, r, 2),
               aud_pg_res_value(res, r, 0), aud_pg_res_value(res, r, 3));
    }
out:
    aud_pg_res_free(res);
    cm_buf_fini(&sql);
    return rc;
}

static void
report_gap(struct verify *v, const char *chain, int64_t from, int64_t to, const char *after,
           const char *before)
{
    v->gaps++;
    v->missing += (uint64_t)(to - from + 1);
    printf("gap chain=%s seq=%" PRId64 "..%" PRId64 " missing=%" PRId64 " after=%s before=%s\n",
           chain, from, to, to - from + 1, after, before);
}

/* Checkpoints of the chain just walked that no record reached. */
static void
chain_end(struct verify *v)
{
    if (!v->in_chain || v->vc == NULL)
        return;
    for (size_t i = 0; i < v->vc->ncps; i++) {
        struct vcp *cp = &v->vc->cps[i];

        if (cp->seq > v->last_seq) {
            report_gap(v, v->chain, v->last_seq + 1, cp->seq, v->last_record, "checkpoint");
            v->last_seq = cp->seq; /* report a tail once, up to the last checkpoint */
        }
    }
}

/* One stored record, in (chain_id, chain_seq) order. */
static void
verify_row(struct verify *v, const char *record_id, const char *chain, int64_t seq,
           const char *bytes_text, const char *raw_text, struct cm_buf *bytes)
{
    struct aud_chain_link link;
    struct cm_err err;
    uint8_t digest[CM_SHA256_LEN];
    char hash[CM_SHA256_HEX_LEN];
    bool reordered = false, linkable;

    v->records++;
    if (chain == NULL) {
        v->unverifiable++;
        printf("unverifiable record=%s what=\"no chain: loaded before migration 0002, or its "
               "chain columns were removed\"\n",
               record_id);
        return;
    }
    if (!v->in_chain || strcmp(chain, v->chain) != 0) {
        chain_end(v);
        snprintf(v->chain, sizeof(v->chain), "%s", chain);
        v->in_chain = true;
        v->vc = vchain_get(v, chain, true);
        v->vc->walked = true;
        v->last_seq = 0;
        snprintf(v->last_record, sizeof(v->last_record), "%s", "start");
        memset(v->last_hash, '0', 64);
        v->last_hash[64] = '\0';
        v->last_reordered = false;
    }
    if (!bytea_decode(bytes_text, bytes) ||
        aud_chain_link_parse(bytes->p, bytes->len, &link, &err) != CM_OK) {
        v->edits++;
        printf("edit chain=%s seq=%" PRId64 " record=%s what=\"stored bytes are not a chained "
               "record\"\n",
               chain, seq, record_id);
        memset(&link, 0, sizeof(link));
        link.seq = seq;
    } else {
        json_t *a = json_loadb(bytes->p, bytes->len, 0, NULL);
        json_t *b = raw_text ? json_loads(raw_text, 0, NULL) : NULL;

        if (a == NULL || b == NULL || !json_equal(a, b)) {
            v->edits++;
            printf("edit chain=%s seq=%" PRId64 " record=%s what=\"stored JSON differs from the "
                   "stored bytes\"\n",
                   chain, seq, record_id);
        }
        json_decref(a);
        json_decref(b);
        if (strcmp(link.record_id, record_id) != 0 || strcmp(link.chain_id, chain) != 0) {
            v->edits++;
            printf("edit chain=%s seq=%" PRId64 " record=%s what=\"the bytes belong to record "
                   "%s of chain %s\"\n",
                   chain, seq, record_id, link.record_id, link.chain_id);
        }
    }
    cm_sha256(bytes->p, bytes->len, digest);
    cm_hex(digest, CM_SHA256_LEN, hash);
    if (link.seq != 0 && link.seq != seq) {
        reordered = true;
        v->reorders++;
        printf("reorder chain=%s seq=%" PRId64 " record=%s what=\"sits at seq %" PRId64
               " but its signed bytes say seq %" PRId64 "\"\n",
               chain, seq, record_id, seq, link.seq);
    }
    linkable = !reordered && !v->last_reordered;
    if (seq == v->last_seq) {
        v->duplicates++;
        printf("duplicate chain=%s seq=%" PRId64 " records=%s,%s\n", chain, seq, v->last_record,
               record_id);
        linkable = false;
    } else if (seq > v->last_seq + 1) {
        report_gap(v, chain, v->last_seq + 1, seq - 1, v->last_record, record_id);
        linkable = false;
    }
    if (linkable && link.prev[0] != '\0' && strcmp(link.prev, v->last_hash) != 0) {
        v->edits++;
        if (v->last_seq == 0)
            printf("edit chain=%s seq=%" PRId64 " record=%s what=\"the first record's prev is "
                   "not zero\"\n",
                   chain, seq, record_id);
        else
            printf("edit chain=%s seq=%" PRId64 " record=%s what=\"its bytes no longer hash to "
                   "the prev of record %s (seq %" PRId64 "): one of the two was altered\"\n",
                   chain, v->last_seq, v->last_record, record_id, seq);
    }
    for (size_t i = 0; v->vc != NULL && i < v->vc->ncps; i++) {
        struct vcp *cp = &v->vc->cps[i];

        if (cp->seq == seq && !reordered) {
            cp->seen = true;
            if (strcmp(cp->hash, hash) != 0) {
                v->edits++;
                printf("edit chain=%s seq=%" PRId64 " record=%s what=\"does not match the "
                       "signed checkpoint of seq %" PRId64 "\"\n",
                       chain, seq, record_id, seq);
            }
        }
    }
    if (seq >= v->last_seq) {
        v->last_seq = seq;
        snprintf(v->last_record, sizeof(v->last_record), "%s", record_id);
        memcpy(v->last_hash, hash, sizeof(hash));
        v->last_reordered = reordered;
    }
}

static int
verify_walk(struct verify *v, struct aud_pg *pg, const struct aud_pg_param *filter, size_t nfilter)
{
    struct cm_buf sql, bytes;
    struct cm_err err = {{0}};
    int rc = 0;

    cm_buf_init(&sql);
    cm_buf_init(&bytes);
    cm_buf_puts(&sql, "DECLARE verify_walk NO SCROLL CURSOR FOR SELECT record_id::text, "
                      "chain_id::text, chain_seq, raw_bytes, raw::text FROM lineage_records");
    chain_filter(&sql, "chain_id", nfilter, true);
    cm_buf_puts(&sql, " ORDER BY chain_id NULLS FIRST, chain_seq, record_id");
    if (aud_pg_query(pg, sql.p, filter, nfilter, NULL, &err) != CM_OK) {
        rc = fail("verify: %s", err.msg);
        goto out;
    }
    for (;;) {
        struct aud_pg_res *res;
        size_t rows;

        if (aud_pg_query(pg, "FETCH 2000 FROM verify_walk", NULL, 0, &res, &err) != CM_OK) {
            rc = fail("verify: %s", err.msg);
            goto out;
        }
        rows = aud_pg_res_rows(res);
        for (size_t r = 0; r < rows; r++) {
            const char *seq = aud_pg_res_value(res, r, 2);

            verify_row(v, aud_pg_res_value(res, r, 0), aud_pg_res_value(res, r, 1),
                       seq != NULL ? strtoll(seq, NULL, 10) : 0, aud_pg_res_value(res, r, 3),
                       aud_pg_res_value(res, r, 4), &bytes);
        }
        aud_pg_res_free(res);
        if (rows < VERIFY_FETCH)
            break;
    }
    chain_end(v);
    /* Chains known only from their checkpoints: every record is missing. */
    for (size_t i = 0; i < v->nchains; i++) {
        struct vchain *vc = &v->chains[i];
        int64_t top = 0;

        if (vc->walked || vc->ncps == 0)
            continue;
        for (size_t k = 0; k < vc->ncps; k++)
            if (vc->cps[k].seq > top)
                top = vc->cps[k].seq;
        report_gap(v, vc->id, 1, top, "start", "checkpoint");
    }
out:
    cm_buf_fini(&sql);
    cm_buf_fini(&bytes);
    return rc;
}

/* Builds the uuid[] literal "{a,b}" of the --chain values. */
static int
chain_list(char **ids, size_t n, struct cm_buf *out)
{
    cm_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        uint8_t u[16];

        if (cm_uuid_parse(ids[i], u) != CM_OK)
            return fail("verify: --chain %s: expected a chain UUID", ids[i]);
        cm_buf_printf(out, "%s%s", i > 0 ? "," : "", ids[i]);
    }
    cm_buf_putc(out, '}');
    return 0;
}

static int
cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"pubkey", required_argument, NULL, 'k'},
        {"chain", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct verify v;
    const char *db = NULL;
    char **chains = cm_calloc((size_t)argc + 1, sizeof(char *));
    size_t nchains = 0;
    struct aud_pg *pg = NULL;
    struct aud_pg_param filter = {NULL, 0, false};
    struct cm_buf list;
    struct cm_err err = {{0}};
    int c, status = 2;
    uint64_t problems;

    memset(&v, 0, sizeof(v));
    cm_buf_init(&list);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'c': chains[nchains++] = optarg; break;
        case 'k':
            v.keys = cm_realloc(v.keys, (v.nkeys + 1) * sizeof(*v.keys));
            if (aud_key_load_public(optarg, &v.keys[v.nkeys], &err) != CM_OK) {
                fail("verify: --pubkey %s", err.msg);
                goto out;
            }
            v.nkeys++;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind != argc) {
        fail("verify: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (nchains > 0) {
        if (chain_list(chains, nchains, &list) != 0)
            goto out;
        filter.value = list.p;
    }
    if (db_connect(db, &pg) != 0)
        goto out;
    /* One consistent snapshot for every query. */
    if (aud_pg_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &err) != CM_OK) {
        fail("verify: %s", err.msg);
        goto out;
    }
    if (verify_checkpoints(&v, pg, &filter, nchains > 0) != 0 ||
        verify_columns(&v, pg, &filter, nchains > 0) != 0 ||
        verify_walk(&v, pg, &filter, nchains > 0) != 0)
        goto out;
    (void)!aud_pg_exec(pg, "COMMIT", &err);
    problems = v.gaps + v.edits + v.reorders + v.duplicates + v.cp_problems + v.unverifiable;
    printf("verify: chains=%zu records=%" PRIu64 " checkpoints=%" PRIu64 " signatures_ok=%" PRIu64
           "%s gaps=%" PRIu64 " missing=%" PRIu64 " edits=%" PRIu64 " reorders=%" PRIu64
           " duplicates=%" PRIu64 " checkpoint_problems=%" PRIu64 " unverifiable=%" PRIu64 ": %s\n",
           v.nchains, v.records, v.checkpoints, v.signed_ok,
           v.nkeys == 0 ? " (no --pubkey: signatures not checked)" : "", v.gaps, v.missing, v.edits,
           v.reorders, v.duplicates, v.cp_problems, v.unverifiable,
           problems == 0 ? "ok" : "PROBLEMS FOUND");
    if (fflush(stdout) != 0) {
        fail("writing the output: %s", strerror(errno));
        goto out;
    }
    status = problems == 0 ? 0 : 1;
out:
    for (size_t i = 0; i < v.nkeys; i++)
        aud_key_free(v.keys[i]);
    free(v.keys);
    for (size_t i = 0; i < v.nchains; i++)
        free(v.chains[i].cps);
    free(v.chains);
    free(chains);
    cm_buf_fini(&list);
    aud_pg_free(pg);
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
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc, argv);
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc, argv);
    return fail("unknown command '%s' (try --help)", cmd);
}
