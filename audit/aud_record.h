/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_record: the lineage record, schema "steward.lineage/1" (schema/
 * is the single source of truth: schema/lineage.schema.json and the field
 * list schema/fields.def shared by this builder and the loader).
 *
 * The sidecar fills a struct aud_record (all strings borrowed) as the
 * exchange proceeds and calls aud_record_json() once at the end.  A record
 * never holds a detected value or any prompt or response text: findings are
 * (direction, type, JSON pointer, count, action).
 *
 * The record's hash (what the chain links and checkpoints sign) is SHA-256
 * over its exact bytes as emitted, chain member included; see aud_chain.h.
 *
 * Adding a field: update schema/fields.def, schema/lineage.schema.json, a
 * forward migration in schema/sql/, this struct, the builder, and the
 * agreement test in tests/unit/test_aud_record.c.
 *
 * Pure; any thread.
 */
#ifndef AUD_RECORD_H
#define AUD_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"

#define AUD_SCHEMA "steward.lineage/1"

struct aud_finding {
    const char *direction; /* "request" | "response" */
    const char *type;      /* a classifier label: "EMAIL", "US_SSN", ... */
    const char *pointer;   /* JSON pointer of the field, e.g. "/messages/0/content" */
    unsigned count;
    const char *action; /* "allow" | "mask" | "redact" | "hash" | "deny" */
    /* Keyed fingerprints (common/cm_fingerprint.h: 64 hex digits) of the
     * distinct values of this finding; NULL/0 when fingerprinting is off. */
    const char *const *fingerprints;
    size_t n_fingerprints;
};

/* Embedded by value; strings borrowed; NULL means absent (JSON null). */
struct aud_record {
    uint8_t id[16]; /* UUIDv7, assigned when the request arrives */
    int64_t ts_start_us;
    int64_t ts_end_us;
    const char *instance; /* sidecar instance name */

    const char *caller_principal;
    const char *caller_tenant;
    const char *purpose;

    const char *method;
    const char *path;
    const char *route; /* "chat" | "completion" | "embedding" | "responses" | "messages" |
                          "models" | "other" */
    const char *const *modalities; /* "text", "image", "audio", "file" in the request */
    size_t n_modalities;
    const char *model_requested;
    const char *model_served;
    const char *upstream;

    const char *policy_id;
    const char *policy_hash;
    const char *policy_mode; /* "enforce" | "monitor" */
    const char *decision;    /* "allow" | "redact" | "deny" */
    const char *rule_id;     /* deciding rule of a deny */
    const char *const *matched_rules;
    size_t n_matched_rules;
    /* The reason of each matched rule, parallel to matched_rules (same
     * count), or NULL (written as []). */
    const char *const *match_reasons;

    int http_status;
    const char *outcome; /* "ok", "denied", "bad_request", "too_large", "not_found",
                            "upstream_error", "upstream_timeout", "internal_error" */
    int64_t latency_total_us;
    int64_t latency_upstream_us;
    int64_t latency_governance_us;

    int64_t prompt_tokens; /* -1 when unknown */
    int64_t completion_tokens;

    const struct aud_finding *findings;
    size_t n_findings;

    /* Tamper evidence: the record's place in its chain.  The sidecar leaves
     * chain_id NULL and the emitter stamps the member onto the built text
     * (aud_chain_stamp), because only the emitter's thread knows the
     * predecessor; set here, it is written the same way (tests, tools). */
    const char *chain_id;   /* UUID of the chain */
    uint64_t chain_seq;     /* 1, 2, ... */
    const char *chain_prev; /* 64 hex: SHA-256 of the predecessor's bytes */
    /* Lineage context (audit/aud_context.h).  trace_id and span_id are set
     * for every exchange the sidecar handles; NULL is written as null. */
    const char *trace_id;       /* 32 lower-case hex digits */
    const char *span_id;        /* 16 lower-case hex digits: this exchange */
    const char *parent_span_id; /* from traceparent, or NULL */
    const char *parent_record;  /* X-Steward-Parent: canonical UUID text, or NULL */
    const char *const *inputs;  /* X-Steward-Inputs: document ids/URIs */
    size_t n_inputs;
    const char *fingerprint_key_id; /* cm_fp_key id, or NULL: fingerprinting off */
};

/* Zeroes rec and sets the "unknown" values (-1 tokens). */
void aud_record_init(struct aud_record *rec);
/* Appends the record as one compact JSON object to out.  Returns CM_OK, or
 * CM_EINPUT when a required field is missing (err names it). */
int aud_record_json(const struct aud_record *rec, struct cm_buf *out,
                    struct cm_err *err) CM_MUSTCHECK;
/* Appends the chain member, `"chain":{"id":..,"seq":N,"prev":".."}`, with a
 * leading comma: the last member of every record, as the builder and the
 * emitter's stamp both write it. */
void aud_record_put_chain(struct cm_buf *out, const char *chain_id, uint64_t seq,
                          const char *prev_hex);

#endif /* AUD_RECORD_H */
