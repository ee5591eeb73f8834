/* SPDX-License-Identifier: Apache-2.0
 *
 * sa_common: helpers of the steward-audit subcommands.  See sa_common.h.
 *
 * Filters become "r.column = $n" conditions with bound parameters, never
 * pasted values; the entity-type filter is an EXISTS over lineage_findings
 * of the same day partition (record_id, ts_start), which its index serves.
 */
#include "audit/cli/sa_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cm_log.h"

int
sa_fail(const char *fmt, ...)
{
    va_list ap;

    fputs(SA_TOOL ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int
sa_connect(const char *db, struct aud_pg **pg)
{
    struct cm_err err = {{0}};

    if (db == NULL)
        db = getenv("STEWARD_DB");
    if (db == NULL || *db == '\0')
        return sa_fail("no database: pass --db CONNINFO or set STEWARD_DB");
    if (aud_pg_connect(db, SA_TOOL, pg, &err) != CM_OK)
        return sa_fail("%s", err.msg);
    /* JIT compiles a plan per partition: on day-partitioned tables it costs
     * seconds where the queries take milliseconds (measured: 37 s of a 41 s
     * trace on 40 partitions).  UTC so every time printed is UTC. */
    if (aud_pg_exec(*pg, "SET jit = off; SET TIME ZONE 'UTC'", &err) != CM_OK) {
        aud_pg_free(*pg);
        *pg = NULL;
        return sa_fail("%s", err.msg);
    }
    return 0;
}

int
sa_connect_logged(const char *db, struct aud_pg **pg, const char *command, json_t *args)
{
    int rc = sa_connect(db, pg);

    if (rc == 0)
        rc = sa_log_access(*pg, command, args);
    json_decref(args);
    return rc;
}

int
sa_log_access(struct aud_pg *pg, const char *command, const json_t *args)
{
    char *text = args != NULL ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    struct aud_pg_param p[] = {{SA_TOOL, 0, false}, {command, 0, false}, {text, 0, false}};
    struct cm_err err = {{0}};
    int rc;

    rc = aud_pg_query(pg, "SELECT steward_access_log_add($1, $2, $3::jsonb)", p, CM_ARRAY_LEN(p),
                      NULL, &err);
    free(text);
    if (rc != CM_OK)
        return sa_fail("access log unavailable (%s): nothing was read; run steward-audit "
                       "migrate or ask for EXECUTE on steward_access_log_add",
                       err.msg);
    return 0;
}

/* ---------------------------------------------------------------- filters */

const char sa_filters_usage[] =
    "FILTERS (records):\n"
    "  --since DURATION     started within DURATION (30m, 1h, 7d)\n"
    "  --from TS --to TS    RFC 3339 bounds on the start time (from inclusive, to exclusive)\n"
    "  --tenant T           caller tenant\n"
    "  --caller P           caller principal (also --principal)\n"
    "  --purpose P          purpose of processing\n"
    "  --model M            requested or served model\n"
    "  --route R            chat, completion, embedding, models, other\n"
    "  --decision D         allow, redact, deny\n"
    "  --outcome O          ok, denied, bad_request, upstream_error, ...\n"
    "  --type T             records with a finding of entity type T (EMAIL, PHONE, ...)\n"
    "  --trace ID           records of W3C trace ID (32 hex digits)\n";

bool
sa_filter_opt(struct sa_filters *f, int c, const char *arg)
{
    switch (c) {
    case SA_OPT_SINCE: f->since = arg; return true;
    case SA_OPT_FROM: f->from = arg; return true;
    case SA_OPT_TO: f->to = arg; return true;
    case SA_OPT_TENANT: f->tenant = arg; return true;
    case SA_OPT_PRINCIPAL: f->principal = arg; return true;
    case SA_OPT_PURPOSE: f->purpose = arg; return true;
    case SA_OPT_MODEL: f->model = arg; return true;
    case SA_OPT_ROUTE: f->route = arg; return true;
    case SA_OPT_DECISION: f->decision = arg; return true;
    case SA_OPT_OUTCOME: f->outcome = arg; return true;
    case SA_OPT_TYPE: f->type = arg; return true;
    case SA_OPT_TRACE: f->trace = arg; return true;
    }
    return false;
}

size_t
sa_where_param(struct sa_where *w, const char *value)
{
    cm_assert(w->n < CM_ARRAY_LEN(w->params));
    w->params[w->n].value = value;
    w->params[w->n].len = 0;
    w->params[w->n].binary = false;
    return ++w->n;
}

/* Appends condition tmpl with each '?' replaced by placeholder $n. */
static void
cond(struct sa_where *w, const char *tmpl, size_t n)
{
    if (w->sql.len > 0)
        cm_buf_puts(&w->sql, " AND ");
    for (; *tmpl; tmpl++) {
        if (*tmpl == '?')
            cm_buf_printf(&w->sql, "$%zu", n);
        else
            cm_buf_putc(&w->sql, *tmpl);
    }
}

int
sa_where_build(const struct sa_filters *f, size_t base, struct sa_where *w)
{
    int64_t us, now = cm_now_us();
    const struct {
        const char *value;
        const char *sql;
    } eq[] = {
        {f->tenant, "r.tenant = ?"},
        {f->principal, "r.principal = ?"},
        {f->purpose, "r.purpose = ?"},
        {f->model, "(r.model_requested = ? OR r.model_served = ?)"},
        {f->route, "r.route = ?"},
        {f->decision, "r.decision = ?"},
        {f->outcome, "r.outcome = ?"},
        {f->trace, "r.trace_id = ?"},
        {f->type, "EXISTS (SELECT 1 FROM lineage_findings fi WHERE fi.record_id = r.record_id "
                  "AND fi.ts_start = r.ts_start AND fi.type = ?)"},
    };

    memset(w, 0, sizeof(*w));
    cm_buf_init(&w->sql);
    cm_buf_puts(&w->sql, "");
    w->n = base;
    if (f->since != NULL && (f->from != NULL || f->to != NULL))
        return sa_fail("--since cannot be combined with --from/--to");
    if (f->since != NULL) {
        if (cm_duration_parse(f->since, 1000000, &us) != CM_OK || us <= 0)
            return sa_fail("--since %s: expected a duration such as 30m, 1h or 7d", f->since);
        w->from_us = now - us;
    }
    if (f->from != NULL) {
        if (cm_time_parse(f->from, &w->from_us) != CM_OK)
            return sa_fail("--from %s: expected an RFC 3339 time such as 2026-11-29T15:00:00Z "
                           "or a date",
                           f->from);
    }
    if (f->to != NULL) {
        if (cm_time_parse(f->to, &w->to_us) != CM_OK)
            return sa_fail("--to %s: expected an RFC 3339 time such as 2026-11-29T16:00:00Z "
                           "or a date",
                           f->to);
    }
    if (w->from_us != 0 && w->to_us != 0 && w->to_us <= w->from_us)
        return sa_fail("--to must be after --from");
    if (w->from_us != 0) {
        cm_time_fmt(w->from_us, w->ts[0]);
        cond(w, "r.ts_start >= ?::timestamptz", sa_where_param(w, w->ts[0]));
    }
    if (w->to_us != 0) {
        cm_time_fmt(w->to_us, w->ts[1]);
        cond(w, "r.ts_start < ?::timestamptz", sa_where_param(w, w->ts[1]));
    }
    for (size_t i = 0; i < CM_ARRAY_LEN(eq); i++)
        if (eq[i].value != NULL)
            cond(w, eq[i].sql, sa_where_param(w, eq[i].value));
    return 0;
}

void
sa_where_fini(struct sa_where *w)
{
    cm_buf_fini(&w->sql);
}

json_t *
sa_filters_json(const struct sa_filters *f)
{
    json_t *o = json_object();
    const struct {
        const char *k, *v;
    } kv[] = {
        {"since", f->since},     {"from", f->from},        {"to", f->to},
        {"tenant", f->tenant},   {"caller", f->principal}, {"purpose", f->purpose},
        {"model", f->model},     {"route", f->route},      {"decision", f->decision},
        {"outcome", f->outcome}, {"type", f->type},        {"trace", f->trace},
    };

    for (size_t i = 0; i < CM_ARRAY_LEN(kv); i++)
        if (kv[i].v != NULL)
            json_object_set_new(o, kv[i].k, json_string(kv[i].v));
    return o;
}

/* ----------------------------------------------------------------- output */

int
sa_format_parse(const char *s, unsigned allowed, enum sa_format *out)
{
    static const char *const names[] = {"table", "json", "csv", "text", "dot", "svg", "html", "md"};
    struct cm_buf list;

    for (size_t i = 0; i < CM_ARRAY_LEN(names); i++) {
        if ((allowed & (1u << i)) && strcmp(s, names[i]) == 0) {
            *out = (enum sa_format)i;
            return 0;
        }
    }
    cm_buf_init(&list);
    for (size_t i = 0; i < CM_ARRAY_LEN(names); i++)
        if (allowed & (1u << i))
            cm_buf_printf(&list, "%s%s", list.len ? ", " : "", names[i]);
    sa_fail("--format %s: expected one of %s", s, list.p);
    cm_buf_fini(&list);
    return 1;
}

/* Printable width of s (UTF-8 code points; good enough for alignment). */
static size_t
width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void
put_cell(FILE *out, const char *v, size_t pad)
{
    if (v == NULL)
        v = "-";
    for (const char *p = v; *p; p++)
        fputc(((unsigned char)*p < 0x20 || *p == 0x7f) ? '?' : *p, out);
    for (size_t i = width(v); i < pad; i++)
        fputc(' ', out);
}

void
sa_print_table(FILE *out, const char *const *heads, size_t ncols, const char *const *cells,
               size_t nrows)
{
    size_t *w = calloc(ncols, sizeof(*w));

    cm_assert(w != NULL);
    for (size_t c = 0; c < ncols; c++)
        w[c] = width(heads[c]);
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            const char *v = cells[r * ncols + c];
            size_t n = width(v != NULL ? v : "-");

            if (n > w[c])
                w[c] = n;
        }
    for (size_t c = 0; c < ncols; c++) {
        put_cell(out, heads[c], c + 1 < ncols ? w[c] : 0);
        fputs(c + 1 < ncols ? "  " : "\n", out);
    }
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            put_cell(out, cells[r * ncols + c], c + 1 < ncols ? w[c] : 0);
            fputs(c + 1 < ncols ? "  " : "\n", out);
        }
    free(w);
}

void
sa_csv_field(FILE *out, const char *v, bool last)
{
    bool quote;

    if (v == NULL)
        v = "";
    quote = strpbrk(v, ",\"\r\n") != NULL || (v[0] != '\0' && strchr("=+-@\t", v[0]) != NULL);
    if (quote)
        fputc('"', out);
    if (v[0] != '\0' && strchr("=+-@\t", v[0]) != NULL)
        fputc('\'', out);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    if (quote)
        fputc('"', out);
    fputs(last ? "\r\n" : ",", out);
}

FILE *
sa_open_out(const char *path)
{
    FILE *f;

    if (path == NULL || strcmp(path, "-") == 0)
        return stdout;
    f = fopen(path, "w");
    if (f == NULL)
        sa_fail("%s: %s", path, strerror(errno));
    return f;
}

int
sa_close_out(FILE *f, const char *path)
{
    int bad;

    if (f == stdout)
        return fflush(stdout) == 0 ? 0 : sa_fail("writing the output: %s", strerror(errno));
    bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    return bad ? sa_fail("%s: write failed", path) : 0;
}

void
sa_progress_init(struct sa_progress *p, const char *what)
{
    const char *env = getenv("STEWARD_PROGRESS");

    p->on = isatty(STDERR_FILENO) && !(env != NULL && strcmp(env, "0") == 0);
    p->last_us = 0;
    p->what = what;
}

void
sa_progress_step(struct sa_progress *p, const char *fmt, ...)
{
    int64_t now;
    va_list ap;

    if (!p->on)
        return;
    now = cm_mono_us();
    if (p->last_us != 0 && now - p->last_us < 100000)
        return;
    p->last_us = now;
    fprintf(stderr, "\r\033[K%s: ", p->what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

void
sa_progress_done(struct sa_progress *p)
{
    if (p->on && p->last_us != 0) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->last_us = 0;
}
