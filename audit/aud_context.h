/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_context: the lineage context of an exchange, read from request
 * headers: W3C Trace Context (`traceparent`), the parent record of an agent
 * chain (`X-Steward-Parent: <record id>`) and the source documents of a RAG
 * pipeline (`X-Steward-Inputs: doc://kb/7, s3://bucket/key.pdf`).  These
 * fill the "trace", "parent_record" and "inputs" members of the lineage
 * record (schema/fields.def) and, in PostgreSQL, the lineage edges that
 * `steward-audit trace` walks.
 *
 * Header values come from clients: every parser here bounds what it keeps,
 * rejects what the specification rejects, and never fails the request (an
 * invalid value is ignored and the caller logs that it was, not the value).
 *
 * The exchange's own span id is the last 8 bytes of its record id (the
 * random part of the UUIDv7), so a record and its span name each other; an
 * exchange without a valid traceparent starts a trace whose id is its record
 * id.  Read: https://www.w3.org/TR/trace-context/ section 3.2.
 *
 * Pure; any thread.  Fuzzed by tests/fuzz/fuzz_context.c.
 */
#ifndef AUD_CONTEXT_H
#define AUD_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cm_arena.h"
#include "common/cm_status.h"

#define AUD_TRACE_ID_LEN 33 /* 32 lower-case hex digits and the NUL */
#define AUD_SPAN_ID_LEN 17  /* 16 lower-case hex digits and the NUL */
#define AUD_MAX_INPUTS 64   /* X-Steward-Inputs entries kept per exchange */
#define AUD_MAX_INPUT_LEN 1024

/* Embedded by value. */
struct aud_trace {
    char trace_id[AUD_TRACE_ID_LEN];
    char span_id[AUD_SPAN_ID_LEN];        /* this exchange */
    char parent_span_id[AUD_SPAN_ID_LEN]; /* "" when the exchange starts the trace */
    bool from_header;                     /* a valid traceparent was received */
};

/* Parses one traceparent value (optional white space around it).  Accepts
 * version 00 exactly (55 characters) and, as the specification asks, a
 * later version whose first 55 characters parse and are followed by '-' or
 * the end; rejects version ff, upper-case hex, all-zero ids.  Returns CM_OK
 * with trace_id and parent_id filled, or CM_EINPUT. */
int aud_traceparent_parse(const char *v, size_t n, char trace_id[AUD_TRACE_ID_LEN],
                          char parent_id[AUD_SPAN_ID_LEN]) CM_MUSTCHECK;

/* Fills t for the exchange with record id `record_id`: from traceparent
 * (NULL when the header is absent or appeared more than once) when it
 * parses, else a new trace.  Returns CM_OK, or CM_EINPUT when a header was
 * given but invalid (t then holds a new trace). */
int aud_trace_init(struct aud_trace *t, const uint8_t record_id[16],
                   const char *traceparent) CM_MUSTCHECK;

/* Parses an X-Steward-Parent value: one UUID (white space around allowed,
 * any case), written canonical lower-case to out.  Returns CM_OK or
 * CM_EINPUT. */
int aud_parent_parse(const char *v, char out[37]) CM_MUSTCHECK;

/* Splits an X-Steward-Inputs value (a comma-separated list) into at most
 * max - *n more entries appended to out[*n..], each trimmed of white space,
 * copied into arena and NUL-terminated.  Empty entries and repeats are skipped.  An
 * entry longer than AUD_MAX_INPUT_LEN or holding a control character is
 * skipped and counted in *nbad; entries beyond max are counted in *nbad too.
 * Call once per header line (HTTP list semantics). */
void aud_inputs_split(const char *v, size_t n, struct cm_arena *arena, const char **out,
                      size_t *nout, size_t max, size_t *nbad);

#endif /* AUD_CONTEXT_H */
