/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_pg: the one place that calls libpq (PQ*), for steward-loader and
 * steward-audit.  A connection handle, statements with bound parameters,
 * and results read by row and column, so that no PGconn or PGresult leaves
 * this file and every PGresult is PQclear'ed on every path.
 *
 * Error text: "SQLSTATE: primary message" for server errors (the DETAIL
 * part, which may quote row values, is left out), or libpq's message for
 * connection errors.  Notices go to cm_log at debug level (mod=pg).
 *
 * Not linked into the sidecar.  One thread per connection.
 */
#ifndef AUD_PG_H
#define AUD_PG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cm_status.h"

struct aud_pg;
struct aud_pg_res;

/* A bound parameter: value NULL is SQL NULL; binary ones (bytea) pass len
 * bytes, text ones are NUL-terminated and len is ignored. */
struct aud_pg_param {
    const char *value;
    size_t len;
    bool binary;
};

/* Connects with a libpq conninfo string or URL; app names the client
 * (fallback_application_name).  Returns CM_OK with an owned handle in *out
 * (free with aud_pg_free), or CM_EIO. */
int aud_pg_connect(const char *conninfo, const char *app, struct aud_pg **out,
                   struct cm_err *err) CM_MUSTCHECK;
void aud_pg_free(struct aud_pg *pg);
/* True while the connection is usable (false after the server went away). */
bool aud_pg_alive(struct aud_pg *pg);

/* Runs one or more statements without parameters (simple protocol; used for
 * BEGIN/COMMIT and migration files).  Returns CM_OK, CM_EINPUT (the server
 * refused the data: SQLSTATE class 22 or 23) or CM_EIO (anything else). */
int aud_pg_exec(struct aud_pg *pg, const char *sql, struct cm_err *err) CM_MUSTCHECK;
/* Runs one statement with bound parameters.  On CM_OK, *out (when out is
 * not NULL) is an owned result: free with aud_pg_res_free.  Errors as for
 * aud_pg_exec.  With STEWARD_PG_EXPLAIN=1 in the environment a SELECT or
 * WITH statement is first run under EXPLAIN (ANALYZE, BUFFERS), its plan
 * printed on stderr (benchmarks; the statement then runs again). */
int aud_pg_query(struct aud_pg *pg, const char *sql, const struct aud_pg_param *params,
                 size_t nparams, struct aud_pg_res **out, struct cm_err *err) CM_MUSTCHECK;
/* The SQLSTATE of the last failed call ("" when none or not a server error). */
const char *aud_pg_sqlstate(const struct aud_pg *pg);

size_t aud_pg_res_rows(const struct aud_pg_res *res);
size_t aud_pg_res_cols(const struct aud_pg_res *res);
const char *aud_pg_res_colname(const struct aud_pg_res *res, size_t col);
/* The text of a value (borrowed from res), or NULL for SQL NULL. */
const char *aud_pg_res_value(const struct aud_pg_res *res, size_t row, size_t col);
void aud_pg_res_free(struct aud_pg_res *res);

#endif /* AUD_PG_H */
