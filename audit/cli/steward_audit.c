/* SPDX-License-Identifier: Apache-2.0
 *
 * steward-audit: the auditor's command line over the lineage database.
 *
 *   steward-audit migrate [--db CONNINFO] [--dir DIR]
 *   steward-audit query | count | verify | keygen | trace | subject | report |
 *                 export | retention | hold | partitions | access  (audit/cli/sa_*.c)
 *
 * This file holds the dispatch and `migrate`; each other command lives in
 * its own sa_*.c file behind sa_common.h.  migrate applies the forward-only
 * files DIR/NNNN_*.sql that are not yet in schema_migrations, in name
 * order, each in its own transaction, under an advisory lock (two migrators
 * never interleave), then creates the day partitions of yesterday .. a week
 * ahead (0005_partitions.sql).  --db defaults to $STEWARD_DB.
 *
 * Errors: one line "steward-audit: ..." on stderr, exit 1.
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
#include "audit/cli/sa_common.h"
#include "common/cm_buf.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"

#define AUD_MIGRATE_LOCK "7461756469743031" /* advisory lock key: any constant */

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: steward-audit COMMAND [--db CONNINFO] [OPTIONS]\n"
            "\n"
            "  migrate     [--dir DIR]                  apply the schema/sql migrations\n"
            "  query       [FILTERS] [--limit N] [--format table|json|csv]\n"
            "  count       [FILTERS]\n"
            "  verify      [--pubkey FILE]... [--chain ID]...  recompute the record chains\n"
            "  keygen      --out FILE                   Ed25519 key pair for checkpoint signing\n"
            "  trace       ID [--format text|dot|svg|json]   lineage graph of a record or trace\n"
            "  subject     VALUE|- [--type T] [--key-file F] [--report FILE]\n"
            "  report      --from TS --to TS [--tenant T] --out FILE [--format html|json|md]\n"
            "  export      --openlineage [FILTERS] [--out FILE]\n"
            "  retention   status | apply [--dry-run] | set CLASS DURATION\n"
            "  hold        add --reason TEXT [SCOPE] | list | release ID\n"
            "  partitions  [--ahead DAYS]               create day partitions ahead, list them\n"
            "  access      [--since D] [--who ROLE]     who asked what (the access log)\n"
            "\n"
            "  --db CONNINFO    libpq conninfo or postgresql:// URL (default: $STEWARD_DB)\n"
            "  --dir DIR        migrations (default: $STEWARD_SCHEMA_DIR, ./schema/sql, or\n"
            "                   schema/sql beside the build tree of this binary)\n"
            "`steward-audit COMMAND --help` describes each command; docs/auditing.md shows\n"
            "them answering an auditor's questions.\n");
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
    return sa_connect(db, pg);
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

/* True when the one-value query sql returns 't'. */
static bool
exists(struct aud_pg *pg, const char *sql)
{
    struct aud_pg_res *res = NULL;
    struct cm_err err;
    bool yes = false;

    if (aud_pg_query(pg, sql, NULL, 0, &res, &err) == CM_OK && aud_pg_res_rows(res) == 1) {
        const char *v = aud_pg_res_value(res, 0, 0);

        yes = v != NULL && strcmp(v, "t") == 0;
    }
    aud_pg_res_free(res);
    return yes;
}

/* Day partitions from yesterday to a week ahead, once the schema has them. */
static int
ensure_partitions(struct aud_pg *pg)
{
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    const char *v;

    if (!exists(pg, "SELECT to_regprocedure('steward_partitions_ensure(date,date)') IS NOT NULL"))
        return 0;
    if (aud_pg_query(pg,
                     "SELECT steward_partitions_ensure((now() AT TIME ZONE 'UTC')::date - 1, "
                     "(now() AT TIME ZONE 'UTC')::date + 7)",
                     NULL, 0, &res, &err) != CM_OK)
        return fail("migrate: creating day partitions: %s", err.msg);
    v = aud_pg_res_value(res, 0, 0);
    if (v != NULL && strcmp(v, "0") != 0)
        printf("created %s day partitions\n", v);
    aud_pg_res_free(res);
    return 0;
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
    struct sa_progress prog;
    json_t *applied_list = NULL;
    int c, n = 0, status = 1, napplied = 0, rc;

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
    sa_progress_init(&prog, "migrate");
    applied_list = json_array();
    for (int i = 0; i < n; i++) {
        bool applied;

        prog.last_us = 0; /* each file is a step worth showing */
        sa_progress_step(&prog, "%s (%d/%d)", names[i]->d_name, i + 1, n);
        if (apply_one(pg, dir, names[i]->d_name, &applied) != 0) {
            sa_progress_done(&prog);
            goto out;
        }
        if (applied) {
            sa_progress_done(&prog);
            printf("applied %s\n", names[i]->d_name);
            fflush(stdout);
            json_array_append_new(applied_list, json_string(names[i]->d_name));
            napplied++;
        }
    }
    sa_progress_done(&prog);
    if (napplied == 0)
        printf("up to date (%d migrations)\n", n);
    if (ensure_partitions(pg) != 0)
        goto out;
    if (exists(pg,
               "SELECT to_regprocedure('steward_access_log_add(text,text,jsonb)') IS NOT NULL")) {
        json_t *args = json_pack("{s:O}", "applied", applied_list);

        rc = sa_log_access(pg, "migrate", args);
        json_decref(args);
        if (rc != 0)
            goto out;
    }
    status = 0;
out:
    json_decref(applied_list);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
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
        return sa_cmd_query(argc, argv, false);
    if (strcmp(cmd, "count") == 0)
        return sa_cmd_query(argc, argv, true);
    if (strcmp(cmd, "verify") == 0)
        return sa_cmd_verify(argc, argv);
    if (strcmp(cmd, "keygen") == 0)
        return sa_cmd_keygen(argc, argv);
    if (strcmp(cmd, "trace") == 0)
        return sa_cmd_trace(argc, argv);
    if (strcmp(cmd, "subject") == 0)
        return sa_cmd_subject(argc, argv);
    if (strcmp(cmd, "report") == 0)
        return sa_cmd_report(argc, argv);
    if (strcmp(cmd, "export") == 0)
        return sa_cmd_export(argc, argv);
    if (strcmp(cmd, "retention") == 0)
        return sa_cmd_retention(argc, argv);
    if (strcmp(cmd, "hold") == 0)
        return sa_cmd_hold(argc, argv);
    if (strcmp(cmd, "partitions") == 0)
        return sa_cmd_partitions(argc, argv);
    if (strcmp(cmd, "access") == 0)
        return sa_cmd_access(argc, argv);
    return fail("unknown command '%s' (try --help)", cmd);
}
