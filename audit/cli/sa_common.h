/* SPDX-License-Identifier: Apache-2.0
 *
 * sa_common: what the steward-audit subcommands share (prefix sa_):
 * errors, the connection, the access log, record filters turned into a
 * WHERE clause of bound parameters, output helpers (aligned tables, CSV,
 * progress on a terminal).
 *
 * Every subcommand that reads lineage data calls sa_log_access() before
 * the first read and gives up when it fails: an auditor's question is
 * recorded (who, when, what) or not answered.  Values searched for are
 * never logged; callers put fingerprints in their place.
 *
 * Errors: sa_fail() prints "steward-audit: ..." on stderr and returns 1, the
 * exit status of a failed command.  Output goes to stdout (or a file);
 * progress to stderr, only when stderr is a terminal and STEWARD_PROGRESS is
 * not "0".  One thread.
 */
#ifndef SA_COMMON_H
#define SA_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "audit/aud_pg.h"
#include "common/cm_buf.h"
#include "common/cm_status.h"
#include "common/cm_time.h"

#define SA_TOOL "steward-audit"

int sa_fail(const char *fmt, ...) CM_PRINTF(1, 2);

/* Connects to db (NULL: $STEWARD_DB).  Returns 0, or 1 after printing. */
int sa_connect(const char *db, struct aud_pg **pg);

/* sa_connect, then sa_log_access(command, args): the start of every
 * command.  Takes args (NULL for none) and frees it.  Returns 0, or 1 after
 * printing (*pg may then be set: free it). */
int sa_connect_logged(const char *db, struct aud_pg **pg, const char *command, json_t *args);

/* Appends (command, args) to steward_access_log as the session user.
 * Borrows args (a JSON object; NULL for none).  Returns 0, or 1 after
 * printing "access log unavailable: ..." (the caller must not go on). */
int sa_log_access(struct aud_pg *pg, const char *command, const json_t *args);

/* ---------------------------------------------------------------- filters */

/* Record filters shared by query, count, subject, report and export.  All
 * strings borrowed from argv. */
struct sa_filters {
    const char *since, *from, *to;
    const char *tenant, *principal, *purpose, *model, *route;
    const char *decision, *outcome, *type, *trace;
};

/* getopt_long codes of the filter options: SA_FILTER_OPTIONS expands to
 * their struct option rows (put it first in a subcommand's table). */
enum {
    SA_OPT_SINCE = 1000,
    SA_OPT_FROM,
    SA_OPT_TO,
    SA_OPT_TENANT,
    SA_OPT_PRINCIPAL,
    SA_OPT_PURPOSE,
    SA_OPT_MODEL,
    SA_OPT_ROUTE,
    SA_OPT_DECISION,
    SA_OPT_OUTCOME,
    SA_OPT_TYPE,
    SA_OPT_TRACE,
    SA_OPT_DB,
    SA_OPT_FORMAT,
    SA_OPT_LIMIT,
    SA_OPT_OUT,
    SA_OPT__FIRST_LOCAL = 1100, /* subcommands number their own from here */
};

#define SA_FILTER_OPTIONS                                                                          \
    {"since", required_argument, NULL, SA_OPT_SINCE},                                              \
        {"from", required_argument, NULL, SA_OPT_FROM},                                            \
        {"to", required_argument, NULL, SA_OPT_TO},                                                \
        {"tenant", required_argument, NULL, SA_OPT_TENANT},                                        \
        {"principal", required_argument, NULL, SA_OPT_PRINCIPAL},                                  \
        {"caller", required_argument, NULL, SA_OPT_PRINCIPAL},                                     \
        {"purpose", required_argument, NULL, SA_OPT_PURPOSE},                                      \
        {"model", required_argument, NULL, SA_OPT_MODEL},                                          \
        {"route", required_argument, NULL, SA_OPT_ROUTE},                                          \
        {"decision", required_argument, NULL, SA_OPT_DECISION},                                    \
        {"outcome", required_argument, NULL, SA_OPT_OUTCOME},                                      \
        {"type", required_argument, NULL, SA_OPT_TYPE},                                            \
    {                                                                                              \
        "trace", required_argument, NULL, SA_OPT_TRACE                                             \
    }

/* Takes one parsed option: returns true when c was a filter option. */
bool sa_filter_opt(struct sa_filters *f, int c, const char *arg);

/* The usage text of the filters. */
extern const char sa_filters_usage[];

/* The filters as SQL conditions on lineage_records alias `r` (joined with
 * " AND ", each placeholder numbered after the first `base` parameters),
 * and their values.  Times are parsed and normalised here, so a bad one is
 * a message naming the option.  Fill with sa_where_build, free with
 * sa_where_fini. */
struct sa_where {
    struct cm_buf sql; /* "" when no filter */
    struct aud_pg_param params[16];
    size_t n; /* parameters used, base included */
    char ts[2][CM_TIME_RFC3339_LEN];
    int64_t from_us, to_us; /* 0 when unbounded */
};

/* Returns 0, or 1 after printing. */
int sa_where_build(const struct sa_filters *f, size_t base, struct sa_where *w);
/* Adds a parameter; returns its number ($n). */
size_t sa_where_param(struct sa_where *w, const char *value);
void sa_where_fini(struct sa_where *w);
/* The filters as a JSON object for the access log (new reference). */
json_t *sa_filters_json(const struct sa_filters *f);

/* ----------------------------------------------------------------- output */

enum sa_format {
    SA_FMT_TABLE,
    SA_FMT_JSON,
    SA_FMT_CSV,
    SA_FMT_TEXT,
    SA_FMT_DOT,
    SA_FMT_SVG,
    SA_FMT_HTML,
    SA_FMT_MD,
};

/* Parses --format's value against the allowed set (bits 1 << SA_FMT_*).
 * Returns 0, or 1 after printing. */
int sa_format_parse(const char *s, unsigned allowed, enum sa_format *out);

/* Prints rows as an aligned table under heads[0..ncols); cells are the
 * strings of cells[row * ncols + col] (NULL prints "-"); control
 * characters print as '?' so stored text cannot drive the terminal. */
void sa_print_table(FILE *out, const char *const *heads, size_t ncols, const char *const *cells,
                    size_t nrows);
/* One CSV field (RFC 4180 quoting), with a leading ' before = + - @ so a
 * spreadsheet never runs a stored string as a formula. */
void sa_csv_field(FILE *out, const char *v, bool last);

/* Opens path for writing ("-" or NULL: stdout).  Returns NULL after printing. */
FILE *sa_open_out(const char *path);
/* Flushes and closes (not stdout: flushed only).  Returns 0, or 1 after printing. */
int sa_close_out(FILE *f, const char *path);

/* A progress line on stderr, redrawn at most 10 times a second, cleared at
 * the end; does nothing unless stderr is a terminal. */
struct sa_progress {
    bool on;
    int64_t last_us;
    const char *what;
};
void sa_progress_init(struct sa_progress *p, const char *what);
void sa_progress_step(struct sa_progress *p, const char *fmt, ...) CM_PRINTF(2, 3);
void sa_progress_done(struct sa_progress *p);

/* ------------------------------------------------------------ subcommands */

int sa_cmd_query(int argc, char **argv, bool count_only);
int sa_cmd_verify(int argc, char **argv);
/* The report's chain-integrity section: verify over every chain with a
 * record in [from, to) (RFC 3339), as a JSON object {available, verdict,
 * detail, checked, chains, checkpoints, signatures_ok, counts, problems
 * (the first lines)}; not checked, and saying why, under row-level
 * security or when the chains cannot be read.  keys may be NULL (nkeys 0):
 * signatures are then not checked. */
struct aud_key;
json_t *sa_verify_period(struct aud_pg *pg, const char *from, const char *to,
                         struct aud_key *const *keys, size_t nkeys);
int sa_cmd_keygen(int argc, char **argv);
int sa_cmd_trace(int argc, char **argv);
int sa_cmd_subject(int argc, char **argv);
int sa_cmd_report(int argc, char **argv);
int sa_cmd_export(int argc, char **argv);
int sa_cmd_retention(int argc, char **argv);
int sa_cmd_hold(int argc, char **argv);
int sa_cmd_partitions(int argc, char **argv);
int sa_cmd_access(int argc, char **argv);

#endif /* SA_COMMON_H */
