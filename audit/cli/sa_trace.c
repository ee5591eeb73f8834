/* SPDX-License-Identifier: Apache-2.0
 *
 * sa_trace: `steward-audit trace ID [--format text|dot|svg|json] [--out FILE]`.
 *
 * ID is a record id (UUID) or a W3C trace id (32 hex digits).  The graph
 * is the connected component of the seed records over parent links, walked
 * both ways by one recursive CTE: X-Steward-Parent (parent_record_id up and
 * down) and trace context (a record whose parent_span_id is another's
 * span_id in the same trace).  The walk stops at --depth steps (default 64)
 * and 500 records.  Then the records' input documents and models come from
 * lineage_edges.
 * Row-level security applies: an auditor sees the part of a chain that is
 * in their tenants, and a named parent they cannot see shows as such.
 *
 * Rendering is audit/aud_graph.c (pure).  The SVG is drawn there, not by
 * Graphviz; `--format dot` gives Graphviz input for those who want it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_graph.h"
#include "audit/cli/sa_common.h"
#include "common/cm_mem.h"
#include "common/cm_uuid.h"

#define MAX_RECORDS 500

static void
usage(FILE *out)
{
    fprintf(out, "usage: steward-audit trace ID [--db CONNINFO] [--format text|dot|svg|json] "
                 "[--out FILE] [--depth N]\n"
                 "  ID               a record id (UUID) or a trace id (32 hex digits)\n"
                 "  --format F       text (a tree, default), dot (Graphviz), svg (drawn by\n"
                 "                   steward-audit, no Graphviz needed) or json (nodes and edges)\n"
                 "  --out FILE       write there instead of stdout\n"
                 "  --depth N        steps of the walk along parent links (default 64)\n");
}

/* The component of the seed records over parent links, both ways: the
 * walk carries each record's link columns, so every step is an index
 * lookup (primary key, parent_record_id, trace_id), and its path, so no
 * record is visited twice on one path (a chain is walked once, not back
 * and forth to the depth bound).  Parents start before their children:
 * the time bounds let PostgreSQL skip the day partitions that cannot hold
 * them. */
static const char comp_sql[] =
    "WITH RECURSIVE comp(record_id, ts_start, trace_id, span_id, parent_span_id, parent_id, "
    "depth, path) AS ("
    "SELECT r.record_id, r.ts_start, r.trace_id, r.span_id, r.parent_span_id, "
    "r.parent_record_id, 0, ARRAY[r.record_id] FROM lineage_records r WHERE %s "
    "UNION ALL "
    "SELECT n.record_id, n.ts_start, n.trace_id, n.span_id, n.parent_span_id, n.parent_record_id, "
    "c.depth + 1, c.path || n.record_id FROM comp c CROSS JOIN LATERAL ("
    "SELECT p.record_id, p.ts_start, p.trace_id, p.span_id, p.parent_span_id, p.parent_record_id "
    "FROM lineage_records p WHERE p.record_id = c.parent_id "
    "AND p.ts_start <= c.ts_start + interval '1 minute' "
    "UNION ALL SELECT ch.record_id, ch.ts_start, ch.trace_id, ch.span_id, ch.parent_span_id, "
    "ch.parent_record_id FROM lineage_records ch WHERE ch.parent_record_id = c.record_id "
    "AND ch.ts_start >= c.ts_start - interval '1 minute' "
    "UNION ALL SELECT p.record_id, p.ts_start, p.trace_id, p.span_id, p.parent_span_id, "
    "p.parent_record_id FROM lineage_records p WHERE c.parent_span_id IS NOT NULL "
    "AND p.trace_id = c.trace_id AND p.span_id = c.parent_span_id "
    "UNION ALL SELECT ch.record_id, ch.ts_start, ch.trace_id, ch.span_id, ch.parent_span_id, "
    "ch.parent_record_id FROM lineage_records ch WHERE ch.trace_id = c.trace_id "
    "AND ch.parent_span_id = c.span_id"
    ") n WHERE c.depth < $2::int AND NOT n.record_id = ANY (c.path)) "
    "SELECT record_id::text, min(depth) FROM comp GROUP BY 1 ORDER BY 2, 1 LIMIT %d";

static const char nodes_sql[] =
    "SELECT r.record_id::text, "
    "to_char(r.ts_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), r.route, "
    "coalesce(r.model_served, r.model_requested), r.decision, r.http_status::text, r.outcome, "
    "(SELECT string_agg(s.type || ':' || s.n, ' ' ORDER BY s.type) FROM "
    "(SELECT fi.type, sum(fi.count) AS n FROM lineage_findings fi "
    "WHERE fi.record_id = r.record_id AND fi.ts_start = r.ts_start GROUP BY fi.type) s), "
    "r.tenant, r.principal, r.parent_record_id::text, r.trace_id, r.span_id, r.parent_span_id "
    "FROM lineage_records r WHERE r.record_id = ANY($1::uuid[]) ORDER BY r.ts_start, r.record_id";

static const char edges_sql[] =
    "SELECT e.record_id::text, e.kind, e.target, e.detail FROM lineage_edges e "
    "WHERE e.record_id = ANY($1::uuid[]) AND e.kind IN ('input', 'model') "
    "ORDER BY e.ts_start, e.kind, e.target";

enum {
    N_ID,
    N_TIME,
    N_ROUTE,
    N_MODEL,
    N_DEC,
    N_STATUS,
    N_OUTCOME,
    N_FIND,
    N_TENANT,
    N_CALLER,
    N_PARENT,
    N_TRACE,
    N_SPAN,
    N_PSPAN
};

struct gbuild {
    struct aud_gnode *nodes;
    size_t n, cap;
    struct aud_gedge *edges;
    size_t ne, cape;
};

static size_t
add_node(struct gbuild *b, enum aud_gnode_kind kind, const char *id, const char *detail)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->nodes[i].kind == kind && strcmp(b->nodes[i].id, id) == 0 &&
            (kind != AUD_GN_MODEL || (detail == NULL) == (b->nodes[i].detail == NULL)) &&
            (kind != AUD_GN_MODEL || detail == NULL || strcmp(detail, b->nodes[i].detail) == 0))
            return i;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->nodes = cm_realloc(b->nodes, b->cap * sizeof(*b->nodes));
    }
    memset(&b->nodes[b->n], 0, sizeof(b->nodes[b->n]));
    b->nodes[b->n].kind = kind;
    b->nodes[b->n].id = id;
    b->nodes[b->n].detail = detail;
    return b->n++;
}

static void
add_edge(struct gbuild *b, size_t from, size_t to, enum aud_gedge_kind kind)
{
    for (size_t i = 0; i < b->ne; i++)
        if (b->edges[i].from == from && b->edges[i].to == to && b->edges[i].kind == kind)
            return;
    if (b->ne == b->cape) {
        b->cape = b->cape ? 2 * b->cape : 16;
        b->edges = cm_realloc(b->edges, b->cape * sizeof(*b->edges));
    }
    b->edges[b->ne].from = from;
    b->edges[b->ne].to = to;
    b->edges[b->ne].kind = kind;
    b->ne++;
}

static size_t
find_record(const struct gbuild *b, const char *id)
{
    for (size_t i = 0; i < b->n; i++)
        if ((b->nodes[i].kind == AUD_GN_RECORD || b->nodes[i].kind == AUD_GN_MISSING) &&
            strcmp(b->nodes[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

static json_t *
graph_json(const struct aud_graph *g)
{
    static const char *const kinds[] = {"record", "document", "model", "missing"};
    json_t *nodes = json_array(), *edges = json_array();

    for (size_t i = 0; i < g->nnodes; i++) {
        const struct aud_gnode *n = &g->nodes[i];
        json_t *o = json_pack("{s:s, s:s}", "kind", kinds[n->kind], "id", n->id);
        const struct {
            const char *k, *v;
        } kv[] = {{"time", n->time},         {"route", n->route},   {"model", n->model},
                  {"decision", n->decision}, {"status", n->status}, {"outcome", n->outcome},
                  {"findings", n->findings}, {"tenant", n->tenant}, {"caller", n->caller},
                  {"endpoint", n->detail}};

        for (size_t k = 0; k < CM_ARRAY_LEN(kv); k++)
            if (kv[k].v != NULL)
                json_object_set_new(o, kv[k].k, json_string(kv[k].v));
        if (n->seed)
            json_object_set_new(o, "seed", json_true());
        json_array_append_new(nodes, o);
    }
    for (size_t e = 0; e < g->nedges; e++)
        json_array_append_new(edges,
                              json_pack("{s:s, s:s, s:s}", "from", g->nodes[g->edges[e].from].id,
                                        "to", g->nodes[g->edges[e].to].id, "kind",
                                        aud_gedge_kind_name(g->edges[e].kind)));
    return json_pack("{s:s, s:b, s:o, s:o}", "title", g->title, "truncated", g->truncated, "nodes",
                     nodes, "edges", edges);
}

int
sa_cmd_trace(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, SA_OPT_DB},
        {"format", required_argument, NULL, SA_OPT_FORMAT},
        {"out", required_argument, NULL, SA_OPT_OUT},
        {"depth", required_argument, NULL, SA_OPT__FIRST_LOCAL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *outpath = NULL, *id;
    enum sa_format fmt = SA_FMT_TEXT;
    struct aud_pg *pg = NULL;
    struct aud_pg_res *comp = NULL, *recs = NULL, *eds = NULL;
    struct cm_err err = {{0}};
    struct cm_buf sql, ids, out;
    struct gbuild b = {0};
    struct aud_graph g = {0};
    char idbuf[CM_UUID_STR_LEN], title[128], depth_s[16] = "64", *end;
    bool is_trace = false;
    json_t *args = NULL;
    FILE *f = NULL;
    uint8_t raw[16];
    long depth;
    int c, status = 1;

    cm_buf_init(&sql);
    cm_buf_init(&ids);
    cm_buf_init(&out);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT_OUT: outpath = optarg; break;
        case SA_OPT_FORMAT:
            if (sa_format_parse(optarg,
                                1u << SA_FMT_TEXT | 1u << SA_FMT_DOT | 1u << SA_FMT_SVG |
                                    1u << SA_FMT_JSON,
                                &fmt) != 0)
                goto out;
            break;
        case SA_OPT__FIRST_LOCAL:
            errno = 0;
            depth = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || depth < 1 || depth > 1000) {
                sa_fail("--depth %s: expected 1..1000", optarg);
                goto out;
            }
            snprintf(depth_s, sizeof(depth_s), "%ld", depth);
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind + 1 != argc) {
        sa_fail("trace: expected one record id or trace id (try --help)");
        goto out;
    }
    id = argv[optind];
    if (strlen(id) == 32) {
        for (size_t i = 0; i < 32; i++)
            if (!isxdigit((unsigned char)id[i])) {
                sa_fail("trace %s: not a record id (UUID) or a trace id (32 hex digits)", id);
                goto out;
            }
        for (size_t i = 0; i < 32; i++)
            idbuf[i] = (char)tolower((unsigned char)id[i]);
        idbuf[32] = '\0';
        is_trace = true;
    } else if (cm_uuid_parse(id, raw) == CM_OK) {
        cm_uuid_fmt(raw, idbuf);
    } else {
        sa_fail("trace %s: not a record id (UUID) or a trace id (32 hex digits)", id);
        goto out;
    }
    snprintf(title, sizeof(title), "%s %s", is_trace ? "trace" : "record", idbuf);

    args = json_pack("{s:s, s:s, s:s}", is_trace ? "trace" : "record", idbuf, "format",
                     fmt == SA_FMT_TEXT  ? "text"
                     : fmt == SA_FMT_DOT ? "dot"
                     : fmt == SA_FMT_SVG ? "svg"
                                         : "json",
                     "depth", depth_s);
    /* takes args */
    if (sa_connect_logged(db, &pg, "trace", args) != 0) {
        args = NULL;
        goto out;
    }
    args = NULL;

    cm_buf_printf(&sql, comp_sql, is_trace ? "r.trace_id = $1" : "r.record_id = $1::uuid",
                  MAX_RECORDS + 1);
    {
        struct aud_pg_param p[] = {{idbuf, 0, false}, {depth_s, 0, false}};

        if (aud_pg_query(pg, sql.p, p, 2, &comp, &err) != CM_OK) {
            sa_fail("trace: %s", err.msg);
            goto out;
        }
    }
    if (aud_pg_res_rows(comp) == 0) {
        sa_fail("trace: no record %s %s (or not in your tenants)",
                is_trace ? "in trace" : "with id", idbuf);
        goto out;
    }
    g.truncated = aud_pg_res_rows(comp) > MAX_RECORDS;
    cm_buf_putc(&ids, '{');
    for (size_t r = 0; r < aud_pg_res_rows(comp) && r < MAX_RECORDS; r++)
        cm_buf_printf(&ids, "%s%s", r ? "," : "", aud_pg_res_value(comp, r, 0));
    cm_buf_putc(&ids, '}');
    {
        struct aud_pg_param p = {ids.p, 0, false};

        if (aud_pg_query(pg, nodes_sql, &p, 1, &recs, &err) != CM_OK ||
            aud_pg_query(pg, edges_sql, &p, 1, &eds, &err) != CM_OK) {
            sa_fail("trace: %s", err.msg);
            goto out;
        }
    }
    /* Records in time order, then the ids the walk named but nobody can see. */
    for (size_t r = 0; r < aud_pg_res_rows(recs); r++) {
        size_t i = add_node(&b, AUD_GN_RECORD, aud_pg_res_value(recs, r, N_ID), NULL);
        struct aud_gnode *n = &b.nodes[i];

        n->time = aud_pg_res_value(recs, r, N_TIME);
        n->route = aud_pg_res_value(recs, r, N_ROUTE);
        n->model = aud_pg_res_value(recs, r, N_MODEL);
        n->decision = aud_pg_res_value(recs, r, N_DEC);
        n->status = aud_pg_res_value(recs, r, N_STATUS);
        n->outcome = aud_pg_res_value(recs, r, N_OUTCOME);
        n->findings = aud_pg_res_value(recs, r, N_FIND);
        n->tenant = aud_pg_res_value(recs, r, N_TENANT);
        n->caller = aud_pg_res_value(recs, r, N_CALLER);
        n->seed = !is_trace && strcmp(n->id, idbuf) == 0;
    }
    for (size_t r = 0; r < aud_pg_res_rows(recs); r++) {
        const char *parent = aud_pg_res_value(recs, r, N_PARENT);

        if (parent != NULL && find_record(&b, parent) == SIZE_MAX)
            add_node(&b, AUD_GN_MISSING, parent, NULL);
    }
    /* Parent links: explicit first, then trace context. */
    for (size_t r = 0; r < aud_pg_res_rows(recs); r++) {
        const char *child = aud_pg_res_value(recs, r, N_ID);
        const char *parent = aud_pg_res_value(recs, r, N_PARENT);
        const char *trace = aud_pg_res_value(recs, r, N_TRACE);
        const char *pspan = aud_pg_res_value(recs, r, N_PSPAN);
        size_t ci = find_record(&b, child), pi;

        if (parent != NULL && (pi = find_record(&b, parent)) != SIZE_MAX)
            add_edge(&b, pi, ci, AUD_GE_PARENT);
        if (trace == NULL || pspan == NULL)
            continue;
        for (size_t q = 0; q < aud_pg_res_rows(recs); q++) {
            const char *t2 = aud_pg_res_value(recs, q, N_TRACE);
            const char *s2 = aud_pg_res_value(recs, q, N_SPAN);

            if (q != r && t2 != NULL && s2 != NULL && strcmp(t2, trace) == 0 &&
                strcmp(s2, pspan) == 0) {
                pi = find_record(&b, aud_pg_res_value(recs, q, N_ID));
                if (parent == NULL || strcmp(parent, aud_pg_res_value(recs, q, N_ID)) != 0)
                    add_edge(&b, pi, ci, AUD_GE_SPAN);
            }
        }
    }
    for (size_t r = 0; r < aud_pg_res_rows(eds); r++) {
        size_t ri = find_record(&b, aud_pg_res_value(eds, r, 0));
        const char *kind = aud_pg_res_value(eds, r, 1);

        if (ri == SIZE_MAX)
            continue;
        if (strcmp(kind, "input") == 0)
            add_edge(&b, add_node(&b, AUD_GN_DOCUMENT, aud_pg_res_value(eds, r, 2), NULL), ri,
                     AUD_GE_INPUT);
        else
            add_edge(&b, ri,
                     add_node(&b, AUD_GN_MODEL, aud_pg_res_value(eds, r, 2),
                              aud_pg_res_value(eds, r, 3)),
                     AUD_GE_MODEL);
    }
    g.title = title;
    g.nodes = b.nodes;
    g.nnodes = b.n;
    g.edges = b.edges;
    g.nedges = b.ne;
    switch (fmt) {
    case SA_FMT_DOT: aud_graph_dot(&g, &out); break;
    case SA_FMT_SVG:
        if (outpath != NULL && strcmp(outpath, "-") != 0)
            cm_buf_puts(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        aud_graph_svg(&g, &out);
        break;
    case SA_FMT_JSON: {
        json_t *j = graph_json(&g);
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        cm_buf_puts(&out, text);
        cm_buf_putc(&out, '\n');
        free(text);
        json_decref(j);
        break;
    }
    default: aud_graph_text(&g, &out); break;
    }
    f = sa_open_out(outpath);
    if (f == NULL)
        goto out;
    if (out.len > 0)
        fwrite(out.p, 1, out.len, f);
    status = sa_close_out(f, outpath);
out:
    json_decref(args);
    free(b.nodes);
    free(b.edges);
    aud_pg_res_free(comp);
    aud_pg_res_free(recs);
    aud_pg_res_free(eds);
    aud_pg_free(pg);
    cm_buf_fini(&sql);
    cm_buf_fini(&ids);
    cm_buf_fini(&out);
    return status;
}
