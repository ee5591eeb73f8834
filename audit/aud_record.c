/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_record: builds the compact JSON text of one lineage record
 * ("steward.lineage/1").  See aud_record.h for the struct, schema/README.md
 * and docs/lineage.md for the meaning of each field.
 *
 * The member order follows schema/fields.def (the loader does not care, but
 * humans reading kcat output do).  Required strings are checked before the
 * first byte is written, so a failed call leaves `out` untouched.  Strings
 * that are not valid UTF-8 (header values can be anything) are written with
 * U+FFFD in place of each bad byte: the record must stay valid JSON, or the
 * loader would reject it.
 *
 * The chain member comes last (aud_record_put_chain), so the emitter can
 * stamp it onto a record built without one by cutting the closing brace.
 *
 * Adding a field: schema/fields.def, schema/lineage.schema.json, a migration
 * in schema/sql/, struct aud_record, rec_write() below, and the agreement
 * test in tests/unit/test_aud_record.c.
 */
#include "audit/aud_record.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "common/cm_time.h"
#include "common/cm_uuid.h"

void
aud_record_init(struct aud_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->prompt_tokens = -1;
    rec->completion_tokens = -1;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one
 * (overlongs, surrogates and code points above U+10FFFF are invalid). */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Appends s as a JSON string, or null when s is NULL. */
static void
put_str(struct cm_buf *out, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n, i, seq;
    struct cm_buf clean;

    if (s == NULL) {
        cm_buf_puts(out, "null");
        return;
    }
    n = strlen(s);
    for (i = 0; i < n; i += seq) {
        seq = utf8_seq_len(u + i, n - i);
        if (seq == 0)
            break;
    }
    if (i == n) {
        cm_buf_append_json_str(out, s, n);
        return;
    }
    /* Rare path: copy with each invalid byte replaced by U+FFFD. */
    cm_buf_init(&clean);
    cm_buf_append(&clean, s, i);
    while (i < n) {
        seq = utf8_seq_len(u + i, n - i);
        if (seq == 0) {
            cm_buf_puts(&clean, "\xef\xbf\xbd");
            i++;
        } else {
            cm_buf_append(&clean, s + i, seq);
            i += seq;
        }
    }
    cm_buf_append_json_str(out, clean.p, clean.len);
    cm_buf_fini(&clean);
}

static void
put_key(struct cm_buf *out, const char *key, bool first)
{
    if (!first)
        cm_buf_putc(out, ',');
    cm_buf_putc(out, '"');
    cm_buf_puts(out, key);
    cm_buf_puts(out, "\":");
}

static void
put_kstr(struct cm_buf *out, const char *key, const char *val, bool first)
{
    put_key(out, key, first);
    put_str(out, val);
}

static void
put_time(struct cm_buf *out, const char *key, int64_t us)
{
    char ts[CM_TIME_RFC3339_LEN];

    cm_time_fmt(us, ts);
    put_key(out, key, false);
    cm_buf_putc(out, '"');
    cm_buf_puts(out, ts);
    cm_buf_putc(out, '"');
}

/* A negative count means "unknown" and is written as null. */
static void
put_opt_int(struct cm_buf *out, const char *key, int64_t v, bool first)
{
    put_key(out, key, first);
    if (v < 0)
        cm_buf_puts(out, "null");
    else
        cm_buf_printf(out, "%" PRId64, v);
}

static void
put_strv(struct cm_buf *out, const char *key, const char *const *v, size_t n)
{
    put_key(out, key, false);
    cm_buf_putc(out, '[');
    for (size_t i = 0; v != NULL && i < n; i++) {
        if (i > 0)
            cm_buf_putc(out, ',');
        put_str(out, v[i]);
    }
    cm_buf_putc(out, ']');
}

static bool
id_is_zero(const uint8_t id[16])
{
    for (int i = 0; i < 16; i++)
        if (id[i] != 0)
            return false;
    return true;
}

static int
rec_check(const struct aud_record *rec, struct cm_err *err)
{
    const struct {
        const char *name;
        const char *val;
    } req[] = {
        {"instance", rec->instance},   {"request.method", rec->method}, {"request.path", rec->path},
        {"request.route", rec->route}, {"outcome", rec->outcome},
    };

    if (id_is_zero(rec->id))
        return cm_err_set(err, CM_EINPUT, "record_id: not set");
    if (rec->ts_start_us <= 0 || rec->ts_end_us <= 0)
        return cm_err_set(err, CM_EINPUT, "%s: not set",
                          rec->ts_start_us <= 0 ? "ts_start" : "ts_end");
    for (size_t i = 0; i < CM_ARRAY_LEN(req); i++)
        if (req[i].val == NULL)
            return cm_err_set(err, CM_EINPUT, "%s: required", req[i].name);
    if (rec->chain_id != NULL && (rec->chain_seq == 0 || rec->chain_prev == NULL))
        return cm_err_set(err, CM_EINPUT, "chain: seq and prev are required with an id");
    if (rec->n_matched_rules > 0 && rec->matched_rules == NULL)
        return cm_err_set(err, CM_EINPUT, "policy.matched_rules: NULL with %zu entries",
                          rec->n_matched_rules);
    if (rec->n_findings > 0 && rec->findings == NULL)
        return cm_err_set(err, CM_EINPUT, "findings: NULL with %zu entries", rec->n_findings);
    for (size_t i = 0; i < rec->n_matched_rules; i++) {
        if (rec->matched_rules[i] == NULL)
            return cm_err_set(err, CM_EINPUT, "policy.matched_rules[%zu]: NULL", i);
        if (rec->match_reasons != NULL && rec->match_reasons[i] == NULL)
            return cm_err_set(err, CM_EINPUT, "policy.match_reasons[%zu]: NULL", i);
    }
    if (rec->n_modalities > 0 && rec->modalities == NULL)
        return cm_err_set(err, CM_EINPUT, "request.modalities: NULL with %zu entries",
                          rec->n_modalities);
    for (size_t i = 0; i < rec->n_modalities; i++)
        if (rec->modalities[i] == NULL)
            return cm_err_set(err, CM_EINPUT, "request.modalities[%zu]: NULL", i);
    if (rec->n_inputs > 0 && rec->inputs == NULL)
        return cm_err_set(err, CM_EINPUT, "inputs: NULL with %zu entries", rec->n_inputs);
    for (size_t i = 0; i < rec->n_inputs; i++)
        if (rec->inputs[i] == NULL)
            return cm_err_set(err, CM_EINPUT, "inputs[%zu]: NULL", i);
    for (size_t i = 0; i < rec->n_findings; i++) {
        const struct aud_finding *f = &rec->findings[i];

        if (f->direction == NULL || f->type == NULL || f->pointer == NULL || f->action == NULL)
            return cm_err_set(err, CM_EINPUT,
                              "findings[%zu]: direction, type, pointer and "
                              "action are required",
                              i);
        if (f->n_fingerprints > 0 && f->fingerprints == NULL)
            return cm_err_set(err, CM_EINPUT, "findings[%zu].fingerprints: NULL with %zu entries",
                              i, f->n_fingerprints);
        for (size_t k = 0; k < f->n_fingerprints; k++)
            if (f->fingerprints[k] == NULL)
                return cm_err_set(err, CM_EINPUT, "findings[%zu].fingerprints[%zu]: NULL", i, k);
    }
    return CM_OK;
}

static void
rec_write(const struct aud_record *rec, struct cm_buf *out)
{
    char id[CM_UUID_STR_LEN];

    cm_uuid_fmt(rec->id, id);
    cm_buf_putc(out, '{');
    put_kstr(out, "schema", AUD_SCHEMA, true);
    put_kstr(out, "record_id", id, false);
    put_time(out, "ts_start", rec->ts_start_us);
    put_time(out, "ts_end", rec->ts_end_us);
    put_kstr(out, "instance", rec->instance, false);

    put_key(out, "caller", false);
    cm_buf_putc(out, '{');
    put_kstr(out, "principal", rec->caller_principal, true);
    put_kstr(out, "tenant", rec->caller_tenant, false);
    put_kstr(out, "purpose", rec->purpose, false);
    cm_buf_putc(out, '}');

    put_key(out, "request", false);
    cm_buf_putc(out, '{');
    put_kstr(out, "method", rec->method, true);
    put_kstr(out, "path", rec->path, false);
    put_kstr(out, "route", rec->route, false);
    put_strv(out, "modalities", rec->modalities, rec->n_modalities);
    cm_buf_putc(out, '}');

    put_key(out, "model", false);
    cm_buf_putc(out, '{');
    put_kstr(out, "requested", rec->model_requested, true);
    put_kstr(out, "served", rec->model_served, false);
    put_kstr(out, "upstream", rec->upstream, false);
    cm_buf_putc(out, '}');

    put_key(out, "policy", false);
    cm_buf_putc(out, '{');
    put_kstr(out, "id", rec->policy_id, true);
    put_kstr(out, "hash", rec->policy_hash, false);
    put_kstr(out, "mode", rec->policy_mode, false);
    put_kstr(out, "decision", rec->decision, false);
    put_kstr(out, "rule_id", rec->rule_id, false);
    put_key(out, "matched_rules", false);
    cm_buf_putc(out, '[');
    for (size_t i = 0; i < rec->n_matched_rules; i++) {
        if (i > 0)
            cm_buf_putc(out, ',');
        put_str(out, rec->matched_rules[i]);
    }
    cm_buf_putc(out, ']');
    put_strv(out, "match_reasons", rec->match_reasons, rec->n_matched_rules);
    cm_buf_putc(out, '}');

    put_key(out, "findings", false);
    cm_buf_putc(out, '[');
    for (size_t i = 0; i < rec->n_findings; i++) {
        const struct aud_finding *f = &rec->findings[i];

        if (i > 0)
            cm_buf_putc(out, ',');
        cm_buf_putc(out, '{');
        put_kstr(out, "direction", f->direction, true);
        put_kstr(out, "type", f->type, false);
        put_kstr(out, "pointer", f->pointer, false);
        put_key(out, "count", false);
        cm_buf_printf(out, "%u", f->count);
        put_kstr(out, "action", f->action, false);
        put_strv(out, "fingerprints", f->fingerprints, f->n_fingerprints);
        cm_buf_putc(out, '}');
    }
    cm_buf_putc(out, ']');

    put_key(out, "http_status", false);
    cm_buf_printf(out, "%d", rec->http_status);
    put_kstr(out, "outcome", rec->outcome, false);

    put_key(out, "latency_us", false);
    cm_buf_printf(out,
                  "{\"total\":%" PRId64 ",\"upstream\":%" PRId64 ",\"governance\":%" PRId64 "}",
                  rec->latency_total_us, rec->latency_upstream_us, rec->latency_governance_us);

    put_key(out, "usage", false);
    cm_buf_putc(out, '{');
    put_opt_int(out, "prompt_tokens", rec->prompt_tokens, true);
    put_opt_int(out, "completion_tokens", rec->completion_tokens, false);
    cm_buf_putc(out, '}');

    put_key(out, "trace", false);
    cm_buf_putc(out, '{');
    put_kstr(out, "trace_id", rec->trace_id, true);
    put_kstr(out, "span_id", rec->span_id, false);
    put_kstr(out, "parent_span_id", rec->parent_span_id, false);
    cm_buf_putc(out, '}');
    put_kstr(out, "parent_record", rec->parent_record, false);
    put_strv(out, "inputs", rec->inputs, rec->n_inputs);
    put_kstr(out, "fingerprint_key_id", rec->fingerprint_key_id, false);
    if (rec->chain_id != NULL)
        aud_record_put_chain(out, rec->chain_id, rec->chain_seq, rec->chain_prev);
    cm_buf_putc(out, '}');
}

void
aud_record_put_chain(struct cm_buf *out, const char *chain_id, uint64_t seq, const char *prev_hex)
{
    put_key(out, "chain", false);
    cm_buf_putc(out, '{');
    put_kstr(out, "id", chain_id, true);
    put_key(out, "seq", false);
    cm_buf_printf(out, "%" PRIu64, seq);
    put_kstr(out, "prev", prev_hex, false);
    cm_buf_putc(out, '}');
}

int
aud_record_json(const struct aud_record *rec, struct cm_buf *out, struct cm_err *err)
{
    int rc = rec_check(rec, err);

    if (rc != CM_OK)
        return rc;
    rec_write(rec, out);
    return CM_OK;
}
