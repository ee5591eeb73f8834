/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_graph: text tree, DOT and SVG of a lineage graph.  See aud_graph.h.
 *
 * Layout of the SVG: column d holds the records of depth d in the parent
 * chain (longest path from a root, computed by relaxing the parent edges at
 * most nnodes times, so a cycle cannot loop), each record with the
 * documents it read above it and the model it called below it, so the
 * chain reads left to right and each record's inputs and model sit with
 * it.  Within a column records keep the caller's order (the CLI gives them
 * by start time).  Sizes are fixed, so the picture
 * of a given graph is always the same bytes (tests compare them).
 */
#include "audit/aud_graph.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_mem.h"

#define COL_W 290
#define COL_GAP 70
#define ROW_GAP 18
#define MARGIN 24
#define TITLE_H 34
#define LEGEND_H 40
#define REC_H 70
#define DOC_H 34
#define MODEL_H 46
#define MAX_LABEL 42 /* code points per SVG text line */

const char *
aud_gedge_kind_name(enum aud_gedge_kind kind)
{
    switch (kind) {
    case AUD_GE_PARENT: return "parent";
    case AUD_GE_SPAN: return "trace parent";
    case AUD_GE_INPUT: return "input";
    case AUD_GE_MODEL: return "model";
    }
    return "?";
}

void
aud_xml_escape(struct cm_buf *out, const char *s)
{
    if (s == NULL)
        return;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        switch (c) {
        case '&': cm_buf_puts(out, "&amp;"); break;
        case '<': cm_buf_puts(out, "&lt;"); break;
        case '>': cm_buf_puts(out, "&gt;"); break;
        case '"': cm_buf_puts(out, "&quot;"); break;
        case '\'': cm_buf_puts(out, "&#39;"); break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                cm_buf_puts(out, "\xef\xbf\xbd");
            else
                cm_buf_putc(out, (char)c);
        }
    }
}

/* s cut to at most max code points (the last one an ellipsis), into buf. */
static const char *
clip(const char *s, size_t max, char *buf, size_t buflen)
{
    size_t cps = 0, cut = 0;

    if (s == NULL)
        return "";
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xc0) == 0x80)
            continue;
        if (cps == max - 1)
            cut = i; /* where the ellipsis goes if s is too long */
        if (++cps > max)
            break;
    }
    if (cps <= max)
        return s;
    if (cut + 4 > buflen)
        cut = buflen - 4;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    memcpy(buf, s, cut);
    memcpy(buf + cut, "\xe2\x80\xa6", 4);
    return buf;
}

static bool
is_rec(const struct aud_gnode *n)
{
    return n->kind == AUD_GN_RECORD || n->kind == AUD_GN_MISSING;
}

static bool
is_chain(enum aud_gedge_kind k)
{
    return k == AUD_GE_PARENT || k == AUD_GE_SPAN;
}

/* ------------------------------------------------------------------ text */

static void
text_record_line(struct cm_buf *out, const struct aud_gnode *n)
{
    if (n->kind == AUD_GN_MISSING) {
        cm_buf_printf(out, "record %s (not visible: expired, or outside your tenants)\n", n->id);
        return;
    }
    cm_buf_printf(out, "record %s  %s  %s  %s  %s %s %s", n->id, n->time ? n->time : "-",
                  n->route ? n->route : "-", n->model ? n->model : "-",
                  n->decision ? n->decision : "-", n->status ? n->status : "-",
                  n->outcome ? n->outcome : "-");
    if (n->findings != NULL)
        cm_buf_printf(out, "  [%s]", n->findings);
    if (n->tenant != NULL || n->caller != NULL)
        cm_buf_printf(out, "  (tenant %s, caller %s)", n->tenant ? n->tenant : "-",
                      n->caller ? n->caller : "-");
    if (n->seed)
        cm_buf_puts(out, "  <== asked");
    cm_buf_putc(out, '\n');
}

static void
emit_prefixed(struct cm_buf *out, const struct cm_buf *prefix, bool last)
{
    if (prefix->len > 0)
        cm_buf_append(out, prefix->p, prefix->len);
    cm_buf_puts(out, last ? "\xe2\x94\x94\xe2\x94\x80\xe2\x94\x80 " /* └── */
                          : "\xe2\x94\x9c\xe2\x94\x80\xe2\x94\x80 " /* ├── */);
}

/* Writes node i and, under it, its inputs, model and child records; prefix
 * holds the tree's indentation so far.  Recursion depth is bounded. */
static void
tree(const struct aud_graph *g, size_t i, bool *printed, struct cm_buf *prefix, bool last,
     bool root, struct cm_buf *out, unsigned depth)
{
    size_t nkids = 0, k = 0, save = prefix->len;

    if (!root)
        emit_prefixed(out, prefix, last);
    if (printed[i]) {
        cm_buf_printf(out, "record %s (shown above)\n", g->nodes[i].id);
        return;
    }
    printed[i] = true;
    text_record_line(out, &g->nodes[i]);
    if (!root)
        cm_buf_puts(prefix, last ? "    " : "\xe2\x94\x82   " /* │ */);
    for (size_t e = 0; e < g->nedges; e++) {
        const struct aud_gedge *ed = &g->edges[e];

        nkids += (ed->kind == AUD_GE_INPUT && ed->to == i) ||
                 (ed->kind == AUD_GE_MODEL && ed->from == i) ||
                 (is_chain(ed->kind) && ed->from == i);
    }
    /* inputs, then the model, then child records */
    for (int pass = 0; pass < 3; pass++) {
        for (size_t e = 0; e < g->nedges; e++) {
            const struct aud_gedge *ed = &g->edges[e];
            const struct aud_gnode *n;

            if (pass == 0 && ed->kind == AUD_GE_INPUT && ed->to == i) {
                n = &g->nodes[ed->from];
                emit_prefixed(out, prefix, ++k == nkids);
                cm_buf_printf(out, "input  %s\n", n->id);
            } else if (pass == 1 && ed->kind == AUD_GE_MODEL && ed->from == i) {
                n = &g->nodes[ed->to];
                emit_prefixed(out, prefix, ++k == nkids);
                cm_buf_printf(out, "model  %s%s%s\n", n->id, n->detail ? " @ " : "",
                              n->detail ? n->detail : "");
            } else if (pass == 2 && is_chain(ed->kind) && ed->from == i) {
                k++;
                if (depth > 256) {
                    emit_prefixed(out, prefix, k == nkids);
                    cm_buf_puts(out, "(deeper records not shown)\n");
                    continue;
                }
                tree(g, ed->to, printed, prefix, k == nkids, false, out, depth + 1);
            }
        }
    }
    prefix->len = save;
    if (prefix->p != NULL)
        prefix->p[save] = '\0';
}

void
aud_graph_text(const struct aud_graph *g, struct cm_buf *out)
{
    bool *printed = cm_calloc(g->nnodes + 1, sizeof(*printed));
    struct cm_buf prefix;
    size_t nrec = 0, ndoc = 0, nmodel = 0;
    bool any_root = false;

    cm_buf_init(&prefix);
    for (size_t i = 0; i < g->nnodes; i++) {
        nrec += is_rec(&g->nodes[i]);
        ndoc += g->nodes[i].kind == AUD_GN_DOCUMENT;
        nmodel += g->nodes[i].kind == AUD_GN_MODEL;
    }
    cm_buf_printf(out, "%s: %zu record%s, %zu input document%s, %zu model%s%s\n",
                  g->title ? g->title : "lineage", nrec, nrec == 1 ? "" : "s", ndoc,
                  ndoc == 1 ? "" : "s", nmodel, nmodel == 1 ? "" : "s",
                  g->truncated ? " (truncated)" : "");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < g->nnodes; i++) {
            bool has_parent = false;

            if (!is_rec(&g->nodes[i]) || printed[i])
                continue;
            for (size_t e = 0; e < g->nedges && !has_parent; e++)
                has_parent =
                    is_chain(g->edges[e].kind) && g->edges[e].to == i && g->edges[e].from != i;
            /* pass 0: true roots; pass 1: whatever a cycle left out */
            if (pass == 0 && has_parent)
                continue;
            if (any_root)
                cm_buf_putc(out, '\n');
            any_root = true;
            tree(g, i, printed, &prefix, true, true, out, 0);
        }
    }
    cm_buf_fini(&prefix);
    free(printed);
}

/* ------------------------------------------------------------------- DOT */

static void
dot_str(struct cm_buf *out, const char *s)
{
    cm_buf_putc(out, '"');
    for (; s != NULL && *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            cm_buf_putc(out, '\\');
        if (c < 0x20 || c == 0x7f)
            cm_buf_putc(out, '?');
        else
            cm_buf_putc(out, (char)c);
    }
    cm_buf_putc(out, '"');
}

static const char *
decision_fill(const char *d)
{
    if (d == NULL)
        return "#f1f3f4";
    if (strcmp(d, "allow") == 0)
        return "#e6f4ea";
    if (strcmp(d, "redact") == 0)
        return "#fff4e0";
    if (strcmp(d, "deny") == 0)
        return "#fde8e8";
    return "#f1f3f4";
}

static const char *
decision_stroke(const char *d)
{
    if (d == NULL)
        return "#5f6368";
    if (strcmp(d, "allow") == 0)
        return "#1e7b34";
    if (strcmp(d, "redact") == 0)
        return "#a15c00";
    if (strcmp(d, "deny") == 0)
        return "#b3261e";
    return "#5f6368";
}

void
aud_graph_dot(const struct aud_graph *g, struct cm_buf *out)
{
    struct cm_buf label;

    cm_buf_init(&label);
    cm_buf_puts(out, "digraph lineage {\n  rankdir=LR;\n  labelloc=t;\n  label=");
    dot_str(out, g->title ? g->title : "lineage");
    cm_buf_puts(out, ";\n  node [fontname=\"Helvetica\", fontsize=10];\n"
                     "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n");
    for (size_t i = 0; i < g->nnodes; i++) {
        const struct aud_gnode *n = &g->nodes[i];

        cm_buf_reset(&label);
        switch (n->kind) {
        case AUD_GN_RECORD:
            cm_buf_printf(&label, "record %s\n%s\n%s %s\n%s %s %s%s%s", n->id,
                          n->time ? n->time : "-", n->route ? n->route : "-",
                          n->model ? n->model : "-", n->decision ? n->decision : "-",
                          n->status ? n->status : "-", n->outcome ? n->outcome : "-",
                          n->findings ? "\n" : "", n->findings ? n->findings : "");
            cm_buf_printf(out,
                          "  n%zu [shape=box, style=\"rounded,filled\", fillcolor=\"%s\", "
                          "color=\"%s\", penwidth=%s, label=",
                          i, decision_fill(n->decision), decision_stroke(n->decision),
                          n->seed ? "2.5" : "1");
            break;
        case AUD_GN_MISSING:
            cm_buf_printf(&label, "record %s\n(not visible)", n->id);
            cm_buf_printf(out, "  n%zu [shape=box, style=\"rounded,dashed\", label=", i);
            break;
        case AUD_GN_DOCUMENT:
            cm_buf_puts(&label, n->id);
            cm_buf_printf(out,
                          "  n%zu [shape=note, style=filled, fillcolor=\"#eef3fb\", "
                          "color=\"#3c64b1\", label=",
                          i);
            break;
        case AUD_GN_MODEL:
            cm_buf_printf(&label, "%s%s%s", n->id, n->detail ? "\n" : "",
                          n->detail ? n->detail : "");
            cm_buf_printf(out,
                          "  n%zu [shape=component, style=filled, fillcolor=\"#f3e8fd\", "
                          "color=\"#6f42c1\", label=",
                          i);
            break;
        }
        /* Newlines become \n escapes inside the quoted label. */
        cm_buf_putc(out, '"');
        for (size_t k = 0; k < label.len; k++) {
            unsigned char c = (unsigned char)label.p[k];

            if (c == '\n')
                cm_buf_puts(out, "\\n");
            else if (c == '"' || c == '\\')
                cm_buf_printf(out, "\\%c", c);
            else if (c < 0x20 || c == 0x7f)
                cm_buf_putc(out, '?');
            else
                cm_buf_putc(out, (char)c);
        }
        cm_buf_puts(out, "\"];\n");
    }
    for (size_t e = 0; e < g->nedges; e++) {
        const struct aud_gedge *ed = &g->edges[e];

        cm_buf_printf(out, "  n%zu -> n%zu [label=", ed->from, ed->to);
        dot_str(out, aud_gedge_kind_name(ed->kind));
        cm_buf_puts(out, ed->kind == AUD_GE_SPAN ? ", style=dashed];\n" : "];\n");
    }
    cm_buf_puts(out, "}\n");
    cm_buf_fini(&label);
}

/* ------------------------------------------------------------------- SVG */

struct place {
    int layer;
    int x, y, h;
};

static void
svg_text(struct cm_buf *out, int x, int y, const char *cls, const char *s)
{
    char buf[256];

    cm_buf_printf(out, "<text x=\"%d\" y=\"%d\" class=\"%s\">", x, y, cls);
    aud_xml_escape(out, clip(s, MAX_LABEL, buf, sizeof(buf)));
    cm_buf_puts(out, "</text>\n");
}

/* Places node i at the bottom of column l, once. */
static void
place(const struct aud_graph *g, struct place *pl, bool *placed, int *ybot, size_t i, int l,
      int *height)
{
    const struct aud_gnode *n = &g->nodes[i];

    if (placed[i])
        return;
    placed[i] = true;
    pl[i].layer = l;
    pl[i].h = n->kind == AUD_GN_RECORD ? REC_H : n->kind == AUD_GN_MODEL ? MODEL_H : DOC_H;
    pl[i].x = MARGIN + l * (COL_W + COL_GAP);
    pl[i].y = ybot[l];
    ybot[l] += pl[i].h + ROW_GAP;
    if (ybot[l] > *height)
        *height = ybot[l];
}

void
aud_graph_svg(const struct aud_graph *g, struct cm_buf *out)
{
    struct place *pl = cm_calloc(g->nnodes + 1, sizeof(*pl));
    int *depth = cm_calloc(g->nnodes + 1, sizeof(*depth));
    int maxdepth = 0, nlayers, width, height = 0, *ybot;
    bool *placed;
    char line[512];

    /* Longest path over the chain edges, bounded by nnodes rounds. */
    for (size_t round = 0; round < g->nnodes; round++) {
        bool changed = false;

        for (size_t e = 0; e < g->nedges; e++) {
            const struct aud_gedge *ed = &g->edges[e];

            if (is_chain(ed->kind) && ed->from != ed->to && depth[ed->to] < depth[ed->from] + 1 &&
                depth[ed->from] + 1 < 1000) {
                depth[ed->to] = depth[ed->from] + 1;
                changed = true;
            }
        }
        if (!changed)
            break;
    }
    for (size_t i = 0; i < g->nnodes; i++)
        if (is_rec(&g->nodes[i]) && depth[i] > maxdepth)
            maxdepth = depth[i];
    /* Column d holds the records of depth d; above each record the
     * documents it read, below it the model it called (each drawn once, at
     * its first user). */
    nlayers = maxdepth + 1;
    ybot = cm_calloc((size_t)nlayers + 1, sizeof(*ybot));
    placed = cm_calloc(g->nnodes + 1, sizeof(*placed));
    for (int l = 0; l < nlayers; l++)
        ybot[l] = MARGIN + TITLE_H;
    for (int l = 0; l < nlayers; l++) {
        for (size_t i = 0; i < g->nnodes; i++) {
            if (!is_rec(&g->nodes[i]) || depth[i] != l)
                continue;
            for (size_t e = 0; e < g->nedges; e++)
                if (g->edges[e].kind == AUD_GE_INPUT && g->edges[e].to == i)
                    place(g, pl, placed, ybot, g->edges[e].from, l, &height);
            place(g, pl, placed, ybot, i, l, &height);
            for (size_t e = 0; e < g->nedges; e++)
                if (g->edges[e].kind == AUD_GE_MODEL && g->edges[e].from == i)
                    place(g, pl, placed, ybot, g->edges[e].to, l, &height);
        }
    }
    for (size_t i = 0; i < g->nnodes; i++) /* anything unattached: last column */
        place(g, pl, placed, ybot, i, nlayers - 1, &height);
    if (height < MARGIN + TITLE_H + REC_H)
        height = MARGIN + TITLE_H + REC_H;
    height += LEGEND_H;
    width = MARGIN * 2 + nlayers * COL_W + (nlayers - 1) * COL_GAP;
    if (width < 640)
        width = 640;

    cm_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"lineage graph\">\n",
                  width, height, width, height);
    cm_buf_puts(out,
                "<style>text{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;font-size:11px;"
                "fill:#202124}.t{font-size:14px;font-weight:bold}.b{font-weight:bold}"
                ".s{fill:#5f6368;font-size:10px}.e{fill:#5f6368;font-size:9px}</style>\n"
                "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
                "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
                "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#5f6368\"/></marker></defs>\n");
    cm_buf_printf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
                  width, height);
    snprintf(line, sizeof(line), "%s%s", g->title ? g->title : "lineage",
             g->truncated ? " (truncated)" : "");
    cm_buf_printf(out, "<text x=\"%d\" y=\"%d\" class=\"t\">", MARGIN, MARGIN + 6);
    aud_xml_escape(out, line);
    cm_buf_puts(out, "</text>\n");

    for (size_t e = 0; e < g->nedges; e++) {
        const struct aud_gedge *ed = &g->edges[e];
        const struct place *a = &pl[ed->from], *b = &pl[ed->to];
        int x1 = a->x + COL_W, y1 = a->y + a->h / 2, x2 = b->x, y2 = b->y + b->h / 2;

        if (b->layer == a->layer) { /* same column: straight down (or up) */
            x1 = x2 = a->x + COL_W / 2;
            y1 = b->y > a->y ? a->y + a->h : a->y;
            y2 = b->y > a->y ? b->y : b->y + b->h;
        } else if (b->layer < a->layer) { /* backwards: left side to right side */
            x1 = a->x;
            x2 = b->x + COL_W;
        }
        if (b->layer == a->layer &&
            (b->y > a->y + a->h + ROW_GAP || a->y > b->y + b->h + ROW_GAP)) {
            /* Not adjacent in the column: go round the left side. */
            x1 = a->x;
            y1 = a->y + a->h / 2;
            x2 = b->x;
            y2 = b->y + (b->y > a->y ? 12 : b->h - 12);
            cm_buf_printf(out,
                          "<path d=\"M%d,%d C%d,%d %d,%d %d,%d\" fill=\"none\" "
                          "stroke=\"#80868b\" stroke-width=\"1.3\" marker-end=\"url(#arrow)\"/>\n",
                          x1, y1, x1 - 16, y1, x2 - 16, y2, x2, y2);
            continue;
        }
        {
            int dx = x2 == x1 ? 0 : (x2 > x1 ? 35 : -35);

            cm_buf_printf(
                out,
                "<path d=\"M%d,%d C%d,%d %d,%d %d,%d\" fill=\"none\" "
                "stroke=\"#80868b\" stroke-width=\"1.3\"%s marker-end=\"url(#arrow)\"/>\n",
                x1, y1, x1 + dx, y1, x2 - dx, y2, x2, y2,
                ed->kind == AUD_GE_SPAN ? " stroke-dasharray=\"4 3\"" : "");
            cm_buf_printf(out, "<text x=\"%d\" y=\"%d\" class=\"e\">%s</text>\n",
                          dx == 0 ? x1 + 5 : (x1 + x2) / 2 - 14, (y1 + y2) / 2 + (dx == 0 ? 3 : -4),
                          aud_gedge_kind_name(ed->kind));
        }
    }
    for (size_t i = 0; i < g->nnodes; i++) {
        const struct aud_gnode *n = &g->nodes[i];
        const struct place *p = &pl[i];
        int tx = p->x + 10, ty = p->y + 16;

        switch (n->kind) {
        case AUD_GN_RECORD:
            cm_buf_printf(out,
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\" "
                          "fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\"/>\n",
                          p->x, p->y, COL_W, p->h, decision_fill(n->decision),
                          decision_stroke(n->decision), n->seed ? "2.5" : "1");
            svg_text(out, tx, ty, "b", n->id);
            snprintf(line, sizeof(line), "%s", n->time ? n->time : "-");
            svg_text(out, tx, ty + 14, "s", line);
            snprintf(line, sizeof(line), "%s \xc2\xb7 %s", n->route ? n->route : "-",
                     n->model ? n->model : "-");
            svg_text(out, tx, ty + 28, "", line);
            snprintf(line, sizeof(line), "%s \xc2\xb7 %s %s%s%s", n->decision ? n->decision : "-",
                     n->status ? n->status : "-", n->outcome ? n->outcome : "-",
                     n->findings ? " \xc2\xb7 " : "", n->findings ? n->findings : "");
            svg_text(out, tx, ty + 42, "", line);
            break;
        case AUD_GN_MISSING:
            cm_buf_printf(out,
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\" "
                          "fill=\"#ffffff\" stroke=\"#9aa0a6\" stroke-dasharray=\"5 3\"/>\n",
                          p->x, p->y, COL_W, p->h);
            svg_text(out, tx, ty, "b", n->id);
            svg_text(out, tx, ty + 14, "s", "record not visible");
            break;
        case AUD_GN_DOCUMENT:
            cm_buf_printf(out,
                          "<path d=\"M%d,%d h%d l12,12 v%d h%d z\" fill=\"#eef3fb\" "
                          "stroke=\"#3c64b1\"/>\n",
                          p->x, p->y, COL_W - 12, p->h - 12, -COL_W);
            svg_text(out, tx, ty + 6, "", n->id);
            break;
        case AUD_GN_MODEL:
            cm_buf_printf(out,
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"18\" "
                          "fill=\"#f3e8fd\" stroke=\"#6f42c1\"/>\n",
                          p->x, p->y, COL_W, p->h);
            svg_text(out, tx + 4, ty, "b", n->id);
            if (n->detail != NULL)
                svg_text(out, tx + 4, ty + 15, "s", n->detail);
            break;
        }
    }
    {
        int ly = height - LEGEND_H / 2, lx = MARGIN;
        static const struct {
            const char *name, *decision;
        } legend[] = {{"allow", "allow"}, {"redact", "redact"}, {"deny", "deny"}};

        for (size_t k = 0; k < CM_ARRAY_LEN(legend); k++) {
            cm_buf_printf(out,
                          "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" rx=\"2\" "
                          "fill=\"%s\" stroke=\"%s\"/><text x=\"%d\" y=\"%d\" class=\"s\">"
                          "%s</text>\n",
                          lx, ly - 9, decision_fill(legend[k].decision),
                          decision_stroke(legend[k].decision), lx + 19, ly, legend[k].name);
            lx += 80;
        }
        cm_buf_printf(
            out,
            "<text x=\"%d\" y=\"%d\" class=\"s\">arrows: data flow (document \xe2\x86\x92 "
            "record \xe2\x86\x92 model; parent \xe2\x86\x92 child record; dashed: trace "
            "context)</text>\n",
            lx + 10, ly);
    }
    cm_buf_puts(out, "</svg>\n");
    free(placed);
    free(ybot);
    free(depth);
    free(pl);
}
