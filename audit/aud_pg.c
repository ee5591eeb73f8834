/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_pg: a small libpq wrapper.  See aud_pg.h.
 *
 * struct aud_pg_res is a PGresult in disguise (the pointer is cast, never
 * wrapped), so reading rows costs nothing.  Error classification: class 22
 * (data exception) and 23 (integrity constraint) mean "this data cannot go
 * in"; the loader then loads the batch record by record and rejects the
 * culprits.  Everything else (connection lost, undefined table, server
 * shutting down) is CM_EIO: retry later with the same data.
 */
#include "audit/aud_pg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/cm_log.h"
#include "common/cm_mem.h"

struct aud_pg {
    PGconn *conn;
    char sqlstate[6];
};

static void
notice_cb(void *arg, const char *message)
{
    char q[256];

    (void)arg;
    cm_log_debug("pg", "pg_notice text=%s", cm_log_quote(message, q, sizeof(q)));
}

/* Copies libpq's message without the trailing newline(s). */
static int
conn_error(struct aud_pg *pg, int rc, const char *what, struct cm_err *err)
{
    char msg[400];
    size_t n;

    snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg->conn));
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (msg[i] == '\n' || msg[i] == '\t')
            msg[i] = ' ';
    return cm_err_set(err, rc, "%s: %s", what, msg[0] ? msg : "unknown error");
}

int
aud_pg_connect(const char *conninfo, const char *app, struct aud_pg **out, struct cm_err *err)
{
    const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *const vals[] = {conninfo, app, NULL};
    struct aud_pg *pg = cm_calloc(1, sizeof(*pg));
    int rc;

    *out = NULL;
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (pg->conn == NULL) {
        free(pg);
        return cm_err_set(err, CM_EIO, "postgresql: out of memory");
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        rc = conn_error(pg, CM_EIO, "postgresql connect", err);
        aud_pg_free(pg);
        return rc;
    }
    PQsetNoticeProcessor(pg->conn, notice_cb, NULL);
    *out = pg;
    return CM_OK;
}

void
aud_pg_free(struct aud_pg *pg)
{
    if (pg == NULL)
        return;
    PQfinish(pg->conn);
    free(pg);
}

bool
aud_pg_alive(struct aud_pg *pg)
{
    return PQstatus(pg->conn) == CONNECTION_OK;
}

const char *
aud_pg_sqlstate(const struct aud_pg *pg)
{
    return pg->sqlstate;
}

/* Consumes res.  Returns CM_OK with *out set (or res cleared), or an error
 * classified by SQLSTATE. */
static int
res_check(struct aud_pg *pg, PGresult *res, struct aud_pg_res **out, struct cm_err *err)
{
    ExecStatusType st = PQresultStatus(res);
    const char *state, *primary;
    int rc;

    pg->sqlstate[0] = '\0';
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out != NULL)
            *out = (struct aud_pg_res *)res;
        else
            PQclear(res);
        return CM_OK;
    }
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (state == NULL || primary == NULL) {
        PQclear(res);
        return conn_error(pg, CM_EIO, "postgresql", err);
    }
    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state);
    rc = (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) ? CM_EINPUT : CM_EIO;
    cm_err_set(err, rc, "%s: %s", state, primary);
    PQclear(res);
    return rc;
}

int
aud_pg_exec(struct aud_pg *pg, const char *sql, struct cm_err *err)
{
    PGresult *res = PQexec(pg->conn, sql);

    if (res == NULL) {
        pg->sqlstate[0] = '\0';
        return conn_error(pg, CM_EIO, "postgresql", err);
    }
    return res_check(pg, res, NULL, err);
}

/* STEWARD_PG_EXPLAIN=1: each SELECT/WITH statement is first run under
 * EXPLAIN (ANALYZE, BUFFERS) and its plan printed to stderr (benchmarks and
 * "why is this report slow"; the statement then runs a second time). */
static void
explain(struct aud_pg *pg, const char *sql, int n, const char *const *values, const int *lengths,
        const int *formats)
{
    const char *env = getenv("STEWARD_PG_EXPLAIN");
    char *text;
    PGresult *res;
    size_t len;

    if (env == NULL || strcmp(env, "1") != 0 ||
        (strncmp(sql, "SELECT", 6) != 0 && strncmp(sql, "WITH", 4) != 0))
        return;
    len = strlen(sql) + 40;
    text = malloc(len);
    if (text == NULL)
        return;
    snprintf(text, len, "EXPLAIN (ANALYZE, BUFFERS) %s", sql);
    res = PQexecParams(pg->conn, text, n, NULL, values, lengths, formats, 0);
    fprintf(stderr, "-- explain: %.160s\n", sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        for (int r = 0; r < PQntuples(res); r++)
            fprintf(stderr, "%s\n", PQgetvalue(res, r, 0));
    else
        fprintf(stderr, "-- explain failed: %s", PQerrorMessage(pg->conn));
    PQclear(res);
    free(text);
}

int
aud_pg_query(struct aud_pg *pg, const char *sql, const struct aud_pg_param *params, size_t nparams,
             struct aud_pg_res **out, struct cm_err *err)
{
    const char *values[16];
    int lengths[16], formats[16];
    PGresult *res;

    cm_assert(nparams <= CM_ARRAY_LEN(values));
    if (out != NULL)
        *out = NULL;
    for (size_t i = 0; i < nparams; i++) {
        values[i] = params[i].value;
        cm_assert(params[i].len <= INT32_MAX);
        lengths[i] = (int)params[i].len;
        formats[i] = params[i].binary ? 1 : 0;
    }
    explain(pg, sql, (int)nparams, values, lengths, formats);
    res = PQexecParams(pg->conn, sql, (int)nparams, NULL, values, lengths, formats, 0);
    if (res == NULL) {
        pg->sqlstate[0] = '\0';
        return conn_error(pg, CM_EIO, "postgresql", err);
    }
    return res_check(pg, res, out, err);
}

size_t
aud_pg_res_rows(const struct aud_pg_res *res)
{
    return (size_t)PQntuples((const PGresult *)res);
}

size_t
aud_pg_res_cols(const struct aud_pg_res *res)
{
    return (size_t)PQnfields((const PGresult *)res);
}

const char *
aud_pg_res_colname(const struct aud_pg_res *res, size_t col)
{
    return PQfname((const PGresult *)res, (int)col);
}

const char *
aud_pg_res_value(const struct aud_pg_res *res, size_t row, size_t col)
{
    if (PQgetisnull((const PGresult *)res, (int)row, (int)col))
        return NULL;
    return PQgetvalue((const PGresult *)res, (int)row, (int)col);
}

void
aud_pg_res_free(struct aud_pg_res *res)
{
    PQclear((PGresult *)res);
}
