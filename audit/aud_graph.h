/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_graph: the lineage graph around a record or a trace, and its three
 * renderings for `steward-audit trace`: a text tree, Graphviz DOT and SVG.
 *
 * Nodes are records, input documents and models; edges point the way data
 * flowed: parent record -> child record (X-Steward-Parent, or a traceparent
 * whose parent-id is the parent's span), document -> record
 * (X-Steward-Inputs), record -> model.  A parent that is named but not in
 * the graph (expired, or another tenant's) is a node of kind MISSING.
 *
 * The SVG is drawn here, without Graphviz: records left to right by depth
 * in the parent chain, each with its documents above and its model below,
 * edges as cubic curves.
 * It is self-contained (inline styles, no fonts or scripts fetched) so it
 * can be embedded in the HTML report.  Text is escaped for each format.
 *
 * Pure; the graph borrows every string (the caller keeps them alive while
 * rendering).  Any thread.
 */
#ifndef AUD_GRAPH_H
#define AUD_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cm_buf.h"

enum aud_gnode_kind {
    AUD_GN_RECORD,
    AUD_GN_DOCUMENT,
    AUD_GN_MODEL,
    AUD_GN_MISSING, /* a record named as a parent but not visible */
};

enum aud_gedge_kind {
    AUD_GE_PARENT, /* X-Steward-Parent */
    AUD_GE_SPAN,   /* traceparent parent-id = the parent's span id */
    AUD_GE_INPUT,  /* X-Steward-Inputs */
    AUD_GE_MODEL,
};

struct aud_gnode {
    enum aud_gnode_kind kind;
    const char *id;    /* record id, document id/URI, model name */
    const char *time;  /* records: RFC 3339 start */
    const char *route; /* records: chat, completion, ... */
    const char *model; /* records: model served (or requested) */
    const char *decision;
    const char *status; /* HTTP status as text */
    const char *outcome;
    const char *findings; /* "EMAIL:1 PHONE:2" or NULL */
    const char *tenant;
    const char *caller;
    const char *detail; /* models: upstream endpoint */
    bool seed;          /* the record asked about */
};

struct aud_gedge {
    size_t from, to; /* node indexes */
    enum aud_gedge_kind kind;
};

/* Filled by the caller (nodes and edges arrays it owns). */
struct aud_graph {
    const char *title; /* "trace 4bf9..." or "record 0193..." */
    const struct aud_gnode *nodes;
    size_t nnodes;
    const struct aud_gedge *edges;
    size_t nedges;
    bool truncated; /* the walk stopped at its node or depth bound */
};

const char *aud_gedge_kind_name(enum aud_gedge_kind kind);

/* A tree per root record (a record without a parent in the graph), each
 * record followed by its inputs, its model and its children; a record
 * reached twice (two parents) is printed once and referred to after. */
void aud_graph_text(const struct aud_graph *g, struct cm_buf *out);
/* `digraph lineage { ... }` with rankdir=LR; ids and labels quoted. */
void aud_graph_dot(const struct aud_graph *g, struct cm_buf *out);
/* A complete <svg> element with width/height/viewBox (no XML prolog, so it
 * can be inlined in HTML; the CLI adds the prolog for .svg files). */
void aud_graph_svg(const struct aud_graph *g, struct cm_buf *out);

/* Appends s with &, <, >, " and ' escaped for XML/HTML text and attributes;
 * control characters other than tab and newline become U+FFFD. */
void aud_xml_escape(struct cm_buf *out, const char *s);

#endif /* AUD_GRAPH_H */
