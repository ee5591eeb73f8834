/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_proxy: the request pipeline.  See sc_proxy.h for the stages.
 *
 * Life of an exchange (struct sc_exchange, one per client request):
 *   proxy_handle()      validate framing, route, parse + classify, decide,
 *                       rewrite, forward (or answer an error at once)
 *   upstream_chunk()    answer bytes arrive; SSE answers are inspected and
 *                       relayed event by event, others are buffered
 *   upstream_done()     the whole answer is in: inspect, reply
 *   client_closed()     the client went away: cancel the upstream request
 *   ex_finish()         build and emit the lineage record, free everything
 * ex->creq is NULL once the client was answered or is gone; ex->ureq is NULL
 * once the upstream request completed.  ex_finish() runs exactly once, when
 * both are NULL.
 *
 * libevent facts this file relies on (DESIGN.md section 3): evhttp lets two
 * Content-Length headers through and accepts absolute-form targets, so both
 * are checked here and answered with 400 and a closed connection; it does not
 * set TCP_NODELAY (set on the listener, inherited, and in sc_upstream); a
 * 413 only reaches the client with EVHTTP_SERVER_LINGERING_CLOSE.
 *
 * Not here yet (issue 5): TLS, API keys, workers, strict parsing of every
 * framing error, cross-event SSE hold-back.  Not here yet (issue 6): spool.
 */
#include "sidecar/sc_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "audit/aud_context.h"
#include "audit/aud_record.h"
#include "common/cm_arena.h"
#include "common/cm_buf.h"
#include "common/cm_fingerprint.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"
#include "common/cm_uuid.h"
#include "policy/pol_body.h"
#include "sidecar/sc_outcome.h"
#include "sidecar/sc_upstream.h"

#define EX_MAX_FINDINGS 64
#define EX_MAX_FPS 64 /* distinct fingerprints kept per finding */
#define ROUTE_MODELS_NAME "models"

struct sc_proxy {
    struct event_base *base;
    const struct sc_options *opts;
    struct pol_set *ps;
    struct aud_emitter *em;
    struct sc_upstream *up;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    char **fwd; /* lower-case header allowlist */
    size_t nfwd;
    size_t inflight;
    struct pol_body_limits lim;
};

enum ex_kind {
    EX_INSPECT, /* an API route whose JSON is inspected */
    EX_MODELS,  /* GET /v1/models: passed through */
    EX_OTHER,   /* unknown path with unknown_path = pass */
};

struct sc_exchange {
    struct sc_proxy *px;
    struct evhttp_request *creq;
    struct evhttp_request *ureq;
    unsigned uslot;
    struct cm_arena *arena;
    struct cm_arena *scratch; /* per SSE event */
    struct pol_set *ps;

    uint8_t id[16];
    char id_str[CM_UUID_STR_LEN];
    int64_t ts_start_us;
    int64_t t0;
    int64_t t_up0;
    int64_t upstream_us;
    int64_t governance_us;

    enum ex_kind kind;
    enum pol_route route;
    const char *route_name;
    const char *method;
    const char *path;
    const char *model;
    const char *model_served;

    bool mode_known; /* streaming or buffering decided */
    bool streaming;
    bool resp_too_large;
    bool resp_denied;
    bool cancelling;
    bool udone_during_cancel;
    bool redacted;
    bool denied;
    bool upstream_failed;
    enum evhttp_request_error uerr;

    enum sc_outcome outcome;
    int status;
    long long prompt_tokens; /* -1 until the answer says */
    long long completion_tokens;
    const char *rule_id;
    const char *matched[2 * POL_MAX_MATCHED];
    size_t nmatched;

    struct aud_finding findings[EX_MAX_FINDINGS];
    size_t nfindings;
    struct cm_buf resp;

    /* Lineage context (audit/aud_context.h) and the fingerprints of each
     * finding's values (findings[i] <-> fps[i]; strings in the arena). */
    struct aud_trace trace;
    char parent[CM_UUID_STR_LEN];
    const char *inputs[AUD_MAX_INPUTS];
    size_t ninputs;
    struct {
        const char **v;
        size_t n, cap;
    } fps[EX_MAX_FINDINGS];
};

static void ex_finish(struct sc_exchange *ex);

/* ------------------------------------------------------------ helpers */

static int64_t
mono_since(int64_t t)
{
    return cm_mono_us() - t;
}

static void
ex_add_matched(struct sc_exchange *ex, const struct pol_decision *d)
{
    for (size_t i = 0; i < d->nmatched && ex->nmatched < CM_ARRAY_LEN(ex->matched); i++) {
        bool dup = false;

        for (size_t j = 0; j < ex->nmatched && !dup; j++)
            dup = strcmp(ex->matched[j], d->matched[i]) == 0;
        if (!dup)
            ex->matched[ex->nmatched++] = d->matched[i];
    }
}

/* The finding slot of (direction, type, pointer, action), created if new;
 * past EX_MAX_FINDINGS the last slot absorbs the rest (pointer "(more)"),
 * so counts stay honest. */
static size_t
ex_finding_slot(struct sc_exchange *ex, const char *direction, const char *type,
                const char *pointer, const char *action)
{
    struct aud_finding *af;

    for (size_t j = 0; j < ex->nfindings; j++) {
        struct aud_finding *e = &ex->findings[j];

        if (strcmp(e->direction, direction) == 0 && strcmp(e->type, type) == 0 &&
            strcmp(e->pointer, pointer) == 0 && strcmp(e->action, action) == 0)
            return j;
    }
    if (ex->nfindings == EX_MAX_FINDINGS) {
        ex->findings[EX_MAX_FINDINGS - 1].pointer = "(more)";
        return EX_MAX_FINDINGS - 1;
    }
    af = &ex->findings[ex->nfindings];
    af->direction = direction;
    af->type = type;
    af->action = action;
    af->pointer = cm_arena_strndup(ex->arena, pointer, strlen(pointer));
    af->count = 0;
    return ex->nfindings++;
}

struct fp_ctx {
    struct sc_exchange *ex;
    const char *direction;
    const struct pol_decision *d;
};

/* pol_body_each_value callback: the keyed fingerprint of one detected
 * value (common/cm_fingerprint.h) joins its finding's list, once. */
static void
ex_fingerprint(void *arg, enum pol_pii_label label, const char *pointer, const char *value,
               size_t len)
{
    struct fp_ctx *c = arg;
    struct sc_exchange *ex = c->ex;
    const char *type = pol_pii_label_name(label);
    size_t i =
        ex_finding_slot(ex, c->direction, type, pointer, pol_action_name(c->d->actions[label]));
    char fp[CM_FP_HEX_LEN];

    cm_fp_compute(ex->px->opts->fingerprint_key, type, value, len, fp);
    for (size_t k = 0; k < ex->fps[i].n; k++)
        if (strcmp(ex->fps[i].v[k], fp) == 0)
            return;
    if (ex->fps[i].n == EX_MAX_FPS)
        return;
    if (ex->fps[i].n == ex->fps[i].cap) {
        size_t cap = ex->fps[i].cap ? 2 * ex->fps[i].cap : 4;
        const char **v = cm_arena_alloc(ex->arena, cap * sizeof(*v));

        if (ex->fps[i].n > 0)
            memcpy(v, ex->fps[i].v, ex->fps[i].n * sizeof(*v));
        ex->fps[i].v = v;
        ex->fps[i].cap = cap;
    }
    ex->fps[i].v[ex->fps[i].n++] = cm_arena_strndup(ex->arena, fp, CM_FP_HEX_LEN - 1);
}

/* Merges the findings of one inspected body into the exchange, under the
 * actions of decision d, with the fingerprints of their values when a
 * fingerprint key is configured.  Strings are copied into the exchange's
 * arena because SSE events use a scratch arena. */
static void
ex_add_findings(struct sc_exchange *ex, const char *direction, const struct pol_body *b,
                const struct pol_decision *d)
{
    const struct pol_body_finding *f;
    size_t n = pol_body_findings(b, &f);

    for (size_t i = 0; i < n; i++) {
        size_t slot = ex_finding_slot(ex, direction, pol_pii_label_name(f[i].label), f[i].pointer,
                                      pol_action_name(d->actions[f[i].label]));

        ex->findings[slot].count += f[i].count;
    }
    if (n > 0 && ex->px->opts->fingerprint_key != NULL) {
        struct fp_ctx c = {ex, direction, d};

        pol_body_each_value(b, ex_fingerprint, &c);
    }
}

static const char *
ex_decision(const struct sc_exchange *ex)
{
    if (ex->denied)
        return "deny";
    if (ex->redacted)
        return "redact";
    if (ex->kind == EX_INSPECT && ex->outcome == SC_OUT_OK)
        return "allow";
    return ex->kind == EX_INSPECT ? "none" : "allow";
}

static void
ex_common_headers(struct sc_exchange *ex, struct evkeyvalq *h)
{
    evhttp_add_header(h, "X-Steward-Record", ex->id_str);
    evhttp_add_header(h, "X-Steward-Decision", ex_decision(ex));
}

/* Stops watching the client connection: call before every reply. */
static void
ex_unwatch_client(struct sc_exchange *ex)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ex->creq);

    if (evcon != NULL)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
}

/* Answers the client with an OpenAI-shaped JSON error and finishes the
 * exchange (unless the upstream request still has to unwind). */
static void
ex_fail(struct sc_exchange *ex, enum sc_outcome o, int status, const char *code,
        const char *message, bool close_conn)
{
    const struct sc_outcome_info *info = sc_outcome_info(o);
    struct evbuffer *out;
    struct cm_buf b;
    struct evkeyvalq *h;

    ex->outcome = o;
    ex->status = status ? status : info->status;
    if (ex->creq == NULL) {
        ex_finish(ex);
        return;
    }
    cm_buf_init(&b);
    cm_buf_puts(&b, "{\"error\":{\"message\":");
    cm_buf_append_json_str(&b, message, strlen(message));
    cm_buf_printf(&b, ",\"type\":\"%s\",\"param\":null,\"code\":", info->error_type);
    cm_buf_append_json_str(&b, code, strlen(code));
    if (ex->rule_id != NULL) {
        cm_buf_puts(&b, ",\"rule\":");
        cm_buf_append_json_str(&b, ex->rule_id, strlen(ex->rule_id));
    }
    cm_buf_puts(&b, ",\"record_id\":");
    cm_buf_append_json_str(&b, ex->id_str, strlen(ex->id_str));
    cm_buf_puts(&b, "}}\n");

    h = evhttp_request_get_output_headers(ex->creq);
    evhttp_add_header(h, "Content-Type", "application/json");
    ex_common_headers(ex, h);
    if (close_conn)
        evhttp_add_header(h, "Connection", "close");
    out = evbuffer_new();
    evbuffer_add(out, b.p, b.len);
    cm_buf_fini(&b);
    ex_unwatch_client(ex);
    evhttp_send_reply(ex->creq, ex->status, NULL, out);
    evbuffer_free(out);
    ex->creq = NULL;
    ex_finish(ex);
}

/* ------------------------------------------------------------ record */

static void
ex_emit_record(struct sc_exchange *ex)
{
    struct sc_proxy *px = ex->px;
    struct aud_record rec;
    struct cm_err err;
    struct cm_buf json;
    int rc;

    aud_record_init(&rec);
    memcpy(rec.id, ex->id, sizeof(rec.id));
    rec.ts_start_us = ex->ts_start_us;
    rec.ts_end_us = cm_now_us();
    rec.instance = px->opts->instance;
    rec.method = ex->method;
    rec.path = ex->path;
    rec.route = ex->route_name;
    rec.model_requested = ex->model;
    rec.model_served = ex->model_served;
    rec.upstream = sc_upstream_url(px->up);
    rec.policy_id = pol_set_id(ex->ps);
    rec.policy_hash = pol_set_hash(ex->ps);
    rec.policy_mode = pol_mode_name(pol_set_mode(ex->ps));
    rec.decision = ex_decision(ex);
    rec.rule_id = ex->rule_id;
    rec.matched_rules = ex->matched;
    rec.n_matched_rules = ex->nmatched;
    rec.http_status = ex->status;
    rec.outcome = sc_outcome_info(ex->outcome)->name;
    rec.latency_total_us = mono_since(ex->t0);
    rec.latency_upstream_us = ex->upstream_us;
    rec.latency_governance_us = ex->governance_us;
    rec.prompt_tokens = ex->prompt_tokens;
    rec.completion_tokens = ex->completion_tokens;
    for (size_t i = 0; i < ex->nfindings; i++) {
        ex->findings[i].fingerprints = ex->fps[i].v;
        ex->findings[i].n_fingerprints = ex->fps[i].n;
    }
    rec.findings = ex->findings;
    rec.n_findings = ex->nfindings;
    rec.trace_id = ex->trace.trace_id;
    rec.span_id = ex->trace.span_id;
    rec.parent_span_id = ex->trace.parent_span_id[0] ? ex->trace.parent_span_id : NULL;
    rec.parent_record = ex->parent[0] ? ex->parent : NULL;
    rec.inputs = ex->inputs;
    rec.n_inputs = ex->ninputs;
    rec.fingerprint_key_id = px->opts->fingerprint_key ? px->opts->fingerprint_key->id : NULL;

    cm_buf_init(&json);
    rc = aud_record_json(&rec, &json, &err);
    if (rc != CM_OK) {
        cm_log_err("sidecar", "record_build_failed record=%s err=\"%s\"", ex->id_str, err.msg);
    } else {
        rc = aud_emitter_send(px->em, ex->id_str, strlen(ex->id_str), json.p, json.len);
        if (rc != CM_OK)
            cm_log_err("sidecar", "record_not_queued record=%s rc=%s", ex->id_str,
                       cm_status_name(rc));
    }
    cm_log_info("sidecar",
                "exchange record=%s route=%s status=%d outcome=%s decision=%s findings=%zu "
                "total_us=%lld upstream_us=%lld governance_us=%lld",
                ex->id_str, ex->route_name, ex->status, rec.outcome, rec.decision, ex->nfindings,
                (long long)rec.latency_total_us, (long long)ex->upstream_us,
                (long long)ex->governance_us);
    cm_buf_fini(&json);
}

static void
ex_finish(struct sc_exchange *ex)
{
    if (ex->creq != NULL || ex->ureq != NULL || ex->cancelling)
        return;
    ex_emit_record(ex);
    ex->px->inflight--;
    pol_set_unref(ex->ps);
    cm_arena_free(ex->arena);
    cm_arena_free(ex->scratch);
    cm_buf_fini(&ex->resp);
    free(ex);
}

/* ------------------------------------------------------------ upstream */

static void
client_closed(struct evhttp_connection *evcon, void *arg)
{
    struct sc_exchange *ex = arg;
    struct evhttp_request *ureq = ex->ureq;

    (void)evcon;
    cm_log_info("sidecar", "client_closed record=%s", ex->id_str);
    ex->creq = NULL;
    ex->outcome = SC_OUT_CLIENT_GONE;
    ex->status = sc_outcome_info(SC_OUT_CLIENT_GONE)->status;
    if (ureq != NULL) {
        /* evhttp may or may not call our callbacks from inside the cancel;
         * they only take note while `cancelling` is set. */
        ex->cancelling = true;
        evhttp_cancel_request(ureq);
        ex->cancelling = false;
        if (!ex->udone_during_cancel) {
            sc_upstream_done(ex->px->up, ex->uslot);
            ex->upstream_us += mono_since(ex->t_up0);
        }
        ex->ureq = NULL;
    }
    ex_finish(ex);
}

static void
upstream_error(enum evhttp_request_error e, void *arg)
{
    struct sc_exchange *ex = arg;

    ex->upstream_failed = true;
    ex->uerr = e;
}

static void
copy_response_headers(struct evhttp_request *ureq, struct evkeyvalq *out)
{
    static const char *const keep[] = {"Content-Type", "Cache-Control", "Retry-After",
                                       "X-Request-Id", "OpenAI-Processing-Ms"};
    struct evkeyvalq *in = evhttp_request_get_input_headers(ureq);

    for (size_t i = 0; i < CM_ARRAY_LEN(keep); i++) {
        const char *v = evhttp_find_header(in, keep[i]);

        if (v != NULL)
            evhttp_add_header(out, keep[i], v);
    }
}

static bool
is_json_type(const char *ct)
{
    return ct != NULL && strncasecmp(ct, "application/json", 16) == 0;
}

/* Inspects one JSON answer (a whole body or one SSE event's data) under the
 * response policy.  Appends the bytes to send to out.  Returns false when
 * the policy denies the answer. */
static bool
inspect_answer(struct sc_exchange *ex, struct cm_arena *arena, const char *p, size_t n,
               struct cm_buf *out, int *rc_out)
{
    struct pol_body *b;
    struct pol_decision d;
    struct pol_input in = {0};
    unsigned counts[POL_PII__COUNT] = {0};
    enum pol_pii_op ops[POL_PII__COUNT];
    struct cm_err err;
    size_t nrep = 0;
    int rc;

    rc = pol_body_parse(arena, ex->route, POL_DIR_RESPONSE, p, n, &ex->px->lim, &b, &err);
    *rc_out = rc;
    if (rc != CM_OK)
        return true;
    {
        long long pt, ct;

        /* Streams repeat or omit usage; the last value seen wins. */
        pol_body_usage(b, &pt, &ct);
        if (pt >= 0)
            ex->prompt_tokens = pt;
        if (ct >= 0)
            ex->completion_tokens = ct;
    }
    if (ex->model_served == NULL && pol_body_model(b) != NULL)
        ex->model_served = cm_arena_strndup(ex->arena, pol_body_model(b),
                                            strlen(pol_body_model(b)));
    pol_body_counts(b, counts);
    in.model = ex->model;
    in.route = ex->route_name;
    in.counts = counts;
    pol_set_eval(ex->ps, POL_DIR_RESPONSE, &in, &d);
    ex_add_matched(ex, &d);
    ex_add_findings(ex, "response", b, &d);
    if (d.verdict == POL_VERDICT_DENY) {
        ex->denied = true;
        ex->rule_id = d.rule_id;
        return false;
    }
    pol_decision_ops(&d, ops);
    rc = pol_body_rewrite(b, ops, pol_set_redact_opts(ex->ps), out, &nrep);
    *rc_out = rc;
    if (nrep > 0)
        ex->redacted = true;
    return true;
}

/* Relays the complete SSE events in ex->resp (all of it when final). */
static void
sse_relay(struct sc_exchange *ex, bool final)
{
    struct cm_buf out;
    size_t pos = 0;
    int64_t t = cm_mono_us();

    cm_buf_init(&out);
    while (pos < ex->resp.len && !ex->resp_denied) {
        const char *ev = ex->resp.p + pos;
        size_t avail = ex->resp.len - pos, evlen = 0, i = 0;

        /* An event ends at a blank line. */
        for (i = 0; i + 1 < avail; i++) {
            if (ev[i] == '\n' && ev[i + 1] == '\n') {
                evlen = i + 2;
                break;
            }
            if (ev[i] == '\n' && ev[i + 1] == '\r' && i + 2 < avail && ev[i + 2] == '\n') {
                evlen = i + 3;
                break;
            }
        }
        if (evlen == 0) {
            if (!final)
                break;
            evlen = avail;
        }
        for (size_t ls = 0; ls < evlen;) {
            const char *line = ev + ls;
            size_t ll = 0, eol;

            while (ls + ll < evlen && line[ll] != '\n')
                ll++;
            eol = ls + ll < evlen ? 1 : 0;
            if (ll >= 5 && memcmp(line, "data:", 5) == 0) {
                size_t off = (ll > 5 && line[5] == ' ') ? 6 : 5;
                size_t dl = ll - off;

                while (dl > 0 && line[off + dl - 1] == '\r')
                    dl--;
                if (dl > 0 && line[off] == '{') {
                    int rc = CM_OK;

                    cm_buf_puts(&out, "data: ");
                    cm_arena_reset(ex->scratch);
                    if (!inspect_answer(ex, ex->scratch, line + off, dl, &out, &rc)) {
                        ex->resp_denied = true;
                        out.len -= 6;
                        cm_buf_printf(&out,
                                      "event: error\ndata: {\"error\":{\"message\":\"answer "
                                      "denied by policy rule '%s'\",\"type\":\"policy_violation\","
                                      "\"code\":\"policy_denied\",\"record_id\":\"%s\"}}\n\n",
                                      ex->rule_id ? ex->rule_id : "", ex->id_str);
                        break;
                    }
                    if (rc != CM_OK) {
                        /* An event we cannot inspect is not relayed. */
                        out.len -= 6;
                        ex->upstream_failed = true;
                        cm_log_warn("sidecar", "sse_event_unparseable record=%s", ex->id_str);
                    } else {
                        cm_buf_putc(&out, '\n');
                    }
                    ls += ll + eol;
                    continue;
                }
            }
            cm_buf_append(&out, line, ll + eol);
            ls += ll + eol;
        }
        pos += evlen;
    }
    if (pos > 0) {
        memmove(ex->resp.p, ex->resp.p + pos, ex->resp.len - pos);
        ex->resp.len -= pos;
    }
    ex->governance_us += mono_since(t);
    if (out.len > 0 && ex->creq != NULL) {
        struct evbuffer *eb = evbuffer_new();

        evbuffer_add(eb, out.p, out.len);
        evhttp_send_reply_chunk(ex->creq, eb);
        evbuffer_free(eb);
    }
    cm_buf_fini(&out);
}

static void
upstream_chunk(struct evhttp_request *ureq, void *arg)
{
    struct sc_exchange *ex = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(ureq);
    size_t n = evbuffer_get_length(in);

    if (ex->creq == NULL || ex->resp_denied || ex->resp_too_large) {
        evbuffer_drain(in, n);
        return;
    }
    if (!ex->mode_known) {
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(ureq), "Content-Type");
        int code = evhttp_request_get_response_code(ureq);

        ex->mode_known = true;
        ex->streaming = ex->kind == EX_INSPECT && code == 200 && ct != NULL &&
                        strncasecmp(ct, "text/event-stream", 17) == 0;
        if (ex->streaming) {
            struct evkeyvalq *h = evhttp_request_get_output_headers(ex->creq);

            copy_response_headers(ureq, h);
            /* The decision header reflects the request side: the answer is
             * still being written when headers leave. */
            ex_common_headers(ex, h);
            evhttp_send_reply_start(ex->creq, code, "OK");
        }
    }
    if (!ex->streaming && ex->resp.len + n > ex->px->opts->max_response_body) {
        ex->resp_too_large = true;
        evbuffer_drain(in, n);
        return;
    }
    cm_buf_reserve(&ex->resp, n);
    evbuffer_remove(in, ex->resp.p + ex->resp.len, n);
    ex->resp.len += n;
    ex->resp.p[ex->resp.len] = '\0';
    if (ex->streaming)
        sse_relay(ex, false);
}

static void
reply_whole(struct sc_exchange *ex, struct evhttp_request *ureq, int code)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(ureq), "Content-Type");
    struct cm_buf rewritten;
    struct evbuffer *out;
    const char *body = ex->resp.p ? ex->resp.p : "";
    size_t len = ex->resp.len;

    cm_buf_init(&rewritten);
    if (ex->kind == EX_INSPECT && code >= 200 && code < 300) {
        int64_t t = cm_mono_us();
        int rc = CM_OK;
        bool ok;

        if (!is_json_type(ct)) {
            cm_buf_fini(&rewritten);
            ex_fail(ex, SC_OUT_UPSTREAM_ERROR, 0, "uninspectable_answer",
                    "the model server answered with a content type steward cannot inspect",
                    false);
            return;
        }
        ok = inspect_answer(ex, ex->arena, body, len, &rewritten, &rc);
        ex->governance_us += mono_since(t);
        if (!ok) {
            char msg[256];

            cm_buf_fini(&rewritten);
            snprintf(msg, sizeof(msg), "the answer was denied by policy rule '%s'",
                     ex->rule_id ? ex->rule_id : "");
            ex_fail(ex, SC_OUT_DENIED, 0, "policy_denied", msg, false);
            return;
        }
        if (rc != CM_OK) {
            cm_buf_fini(&rewritten);
            ex_fail(ex, SC_OUT_UPSTREAM_ERROR, 0, "uninspectable_answer",
                    "the model server's answer is not valid JSON of the expected shape", false);
            return;
        }
        body = rewritten.p;
        len = rewritten.len;
    }
    ex->outcome = SC_OUT_OK;
    ex->status = code;
    copy_response_headers(ureq, evhttp_request_get_output_headers(ex->creq));
    ex_common_headers(ex, evhttp_request_get_output_headers(ex->creq));
    out = evbuffer_new();
    evbuffer_add(out, body, len);
    ex_unwatch_client(ex);
    evhttp_send_reply(ex->creq, code, NULL, out);
    evbuffer_free(out);
    cm_buf_fini(&rewritten);
    ex->creq = NULL;
}

static void
upstream_done(struct evhttp_request *ureq, void *arg)
{
    struct sc_exchange *ex = arg;
    int code = ureq ? evhttp_request_get_response_code(ureq) : 0;

    if (ex->cancelling) {
        ex->udone_during_cancel = true;
        sc_upstream_done(ex->px->up, ex->uslot);
        ex->upstream_us += mono_since(ex->t_up0);
        return;
    }
    ex->ureq = NULL;
    sc_upstream_done(ex->px->up, ex->uslot);
    ex->upstream_us += mono_since(ex->t_up0);
    if (ex->creq == NULL) {
        ex_finish(ex);
        return;
    }
    if (ureq != NULL && code != 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(ureq);
        size_t n = evbuffer_get_length(in);

        if (n > 0 && !ex->resp_too_large) {
            cm_buf_reserve(&ex->resp, n);
            evbuffer_remove(in, ex->resp.p + ex->resp.len, n);
            ex->resp.len += n;
        }
    }
    if (ex->streaming) {
        sse_relay(ex, true);
        if (ureq == NULL || code == 0) {
            /* The model server broke off mid-stream: say so in the stream. */
            static const char trunc[] =
                "event: error\ndata: {\"error\":{\"message\":\"the model server closed the "
                "stream early\",\"type\":\"upstream_error\",\"code\":\"upstream_truncated\"}}\n\n";
            struct evbuffer *eb = evbuffer_new();

            evbuffer_add(eb, trunc, sizeof(trunc) - 1);
            evhttp_send_reply_chunk(ex->creq, eb);
            evbuffer_free(eb);
            ex->outcome = SC_OUT_UPSTREAM_ERROR;
        } else {
            ex->outcome = SC_OUT_OK;
        }
        ex->status = 200;
        ex_unwatch_client(ex);
        evhttp_send_reply_end(ex->creq);
        ex->creq = NULL;
        ex_finish(ex);
        return;
    }
    if (ureq == NULL || code == 0) {
        bool timeout = ex->upstream_failed && ex->uerr == EVREQ_HTTP_TIMEOUT;

        ex_fail(ex, timeout ? SC_OUT_UPSTREAM_TIMEOUT : SC_OUT_UPSTREAM_ERROR, 0,
                timeout ? "upstream_timeout" : "upstream_unavailable",
                timeout ? "the model server did not answer in time"
                        : "the model server could not be reached",
                false);
        return;
    }
    if (ex->resp_too_large) {
        ex_fail(ex, SC_OUT_UPSTREAM_ERROR, 0, "answer_too_large",
                "the model server's answer exceeds max_response_body", false);
        return;
    }
    reply_whole(ex, ureq, code);
    ex_finish(ex);
}

static bool
header_allowed(const struct sc_proxy *px, const char *key)
{
    for (size_t i = 0; i < px->nfwd; i++)
        if (strcasecmp(px->fwd[i], key) == 0)
            return true;
    return false;
}

static void
ex_forward(struct sc_exchange *ex, enum evhttp_cmd_type cmd, const char *body, size_t len,
           const char *content_type)
{
    struct sc_proxy *px = ex->px;
    struct evhttp_request *ureq = evhttp_request_new(upstream_done, ex);
    struct evkeyvalq *oh = evhttp_request_get_output_headers(ureq);
    struct evkeyval *kv;
    struct cm_buf uri;
    char clen[32];
    int rc;

    evhttp_request_set_chunked_cb(ureq, upstream_chunk);
    evhttp_request_set_error_cb(ureq, upstream_error);
    /* The upstream request is ours: own request line, own framing, an
     * allowlist of headers.  What was inspected is exactly what is sent. */
    evhttp_add_header(oh, "Host", sc_upstream_host(px->up));
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(ex->creq), next)
    {
        if (header_allowed(px, kv->key))
            evhttp_add_header(oh, kv->key, kv->value);
    }
    evhttp_add_header(oh, "X-Steward-Record", ex->id_str);
    if (cmd == EVHTTP_REQ_POST) {
        evhttp_add_header(oh, "Content-Type", content_type ? content_type : "application/json");
        snprintf(clen, sizeof(clen), "%zu", len);
        evhttp_add_header(oh, "Content-Length", clen);
        evbuffer_add(evhttp_request_get_output_buffer(ureq), body, len);
    }
    cm_buf_init(&uri);
    cm_buf_puts(&uri, sc_upstream_prefix(px->up));
    cm_buf_puts(&uri, evhttp_request_get_uri(ex->creq));
    ex->t_up0 = cm_mono_us();
    ex->ureq = ureq;
    rc = sc_upstream_send(px->up, ureq, cmd, uri.p, &ex->uslot);
    cm_buf_fini(&uri);
    if (rc != CM_OK) {
        ex->ureq = NULL;
        ex_fail(ex, SC_OUT_UPSTREAM_ERROR, 0, "upstream_unavailable",
                "the model server could not be reached", false);
    }
}

/* ------------------------------------------------------------ request */

static const char *
method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "OTHER";
}

static const struct {
    const char *path;
    enum pol_route route;
} api_routes[] = {
    {"/v1/chat/completions", POL_ROUTE_CHAT},
    {"/v1/completions", POL_ROUTE_COMPLETION},
    {"/v1/embeddings", POL_ROUTE_EMBEDDING},
};

/* Framing checks evhttp does not make (DESIGN.md section 3).  Returns NULL
 * or the complaint. */
static const char *
framing_error(struct evhttp_request *req)
{
    struct evkeyval *kv;
    int ncl = 0, nte = 0, nhost = 0;

    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
    {
        if (strcasecmp(kv->key, "Content-Length") == 0)
            ncl++;
        else if (strcasecmp(kv->key, "Transfer-Encoding") == 0)
            nte++;
        else if (strcasecmp(kv->key, "Host") == 0)
            nhost++;
    }
    if (ncl > 1)
        return "more than one Content-Length header";
    if (ncl > 0 && nte > 0)
        return "Content-Length together with Transfer-Encoding";
    if (nhost > 1)
        return "more than one Host header";
    if (evhttp_request_get_uri(req)[0] != '/')
        return "the request target must be a path (origin-form)";
    return NULL;
}

/* The lineage context headers (audit/aud_context.h).  Invalid values are
 * ignored and logged by name only; they never fail the request. */
static void
ex_read_context(struct sc_exchange *ex, struct evkeyvalq *ih)
{
    const char *traceparent = NULL, *parent = NULL;
    struct evkeyval *kv;
    int ntp = 0, nparent = 0;
    size_t nbad = 0;

    TAILQ_FOREACH (kv, ih, next) {
        if (strcasecmp(kv->key, "traceparent") == 0) {
            traceparent = kv->value;
            ntp++;
        } else if (strcasecmp(kv->key, "X-Steward-Parent") == 0) {
            parent = kv->value;
            nparent++;
        } else if (strcasecmp(kv->key, "X-Steward-Inputs") == 0) {
            aud_inputs_split(kv->value, strlen(kv->value), ex->arena, ex->inputs, &ex->ninputs,
                             AUD_MAX_INPUTS, &nbad);
        }
    }
    if (nparent > 0 && (nparent > 1 || aud_parent_parse(parent, ex->parent) != CM_OK)) {
        ex->parent[0] = '\0';
        cm_log_warn("sidecar", "context_header_ignored record=%s header=x-steward-parent",
                    ex->id_str);
    }
    /* Two traceparent headers: the specification says to ignore both. */
    if (aud_trace_init(&ex->trace, ex->id, ntp == 1 ? traceparent : NULL) != CM_OK || ntp > 1)
        cm_log_warn("sidecar", "context_header_ignored record=%s header=traceparent", ex->id_str);
    if (nbad > 0)
        cm_log_warn("sidecar",
                    "context_header_ignored record=%s header=x-steward-inputs entries=%zu",
                    ex->id_str, nbad);
}

static void
proxy_handle(struct evhttp_request *req, void *arg)
{
    struct sc_proxy *px = arg;
    struct sc_exchange *ex = cm_calloc(1, sizeof(*ex));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
    const char *uri = evhttp_request_get_uri(req), *q, *ct, *ce, *bad;
    struct evbuffer *inbuf;
    size_t plen, blen;

    ex->px = px;
    ex->creq = req;
    ex->t0 = cm_mono_us();
    ex->ts_start_us = cm_now_us();
    cm_uuid7(ex->id);
    cm_uuid_fmt(ex->id, ex->id_str);
    ex->arena = cm_arena_new(8192);
    ex->scratch = cm_arena_new(4096);
    ex->ps = pol_set_ref(px->ps);
    ex->method = method_name(cmd);
    ex->kind = EX_INSPECT;
    ex->route = POL_ROUTE_OTHER;
    ex->route_name = "other";
    ex->outcome = SC_OUT_INTERNAL;
    ex->prompt_tokens = ex->completion_tokens = -1;
    cm_buf_init(&ex->resp);
    px->inflight++;
    q = strchr(uri, '?');
    plen = q ? (size_t)(q - uri) : strlen(uri);
    ex->path = cm_arena_strndup(ex->arena, uri, plen > 256 ? 256 : plen);
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), client_closed, ex);
    ex_read_context(ex, ih);

    bad = framing_error(req);
    if (bad != NULL) {
        ex_fail(ex, SC_OUT_BAD_REQUEST, 0, "bad_framing", bad, true);
        return;
    }
    for (size_t i = 0; i < CM_ARRAY_LEN(api_routes); i++) {
        if (strlen(api_routes[i].path) == plen && memcmp(uri, api_routes[i].path, plen) == 0) {
            ex->route = api_routes[i].route;
            ex->route_name = pol_route_name(ex->route);
            break;
        }
    }
    if (ex->route == POL_ROUTE_OTHER) {
        if (plen >= 10 && memcmp(uri, "/v1/models", 10) == 0 && (plen == 10 || uri[10] == '/')) {
            ex->kind = EX_MODELS;
            ex->route_name = ROUTE_MODELS_NAME;
            if (cmd != EVHTTP_REQ_GET) {
                ex_fail(ex, SC_OUT_BAD_METHOD, 0, "method_not_allowed",
                        "only GET is allowed on /v1/models", false);
                return;
            }
            ex_forward(ex, cmd, NULL, 0, NULL);
            return;
        }
        if (px->opts->unknown_path == SC_UNKNOWN_PATH_DENY) {
            ex_fail(ex, SC_OUT_NOT_FOUND, 0, "unknown_path",
                    "steward does not serve this path (unknown_path = deny)", false);
            return;
        }
        ex->kind = EX_OTHER;
        inbuf = evhttp_request_get_input_buffer(req);
        blen = evbuffer_get_length(inbuf);
        ex_forward(ex, cmd, (const char *)evbuffer_pullup(inbuf, -1), blen,
                   evhttp_find_header(ih, "Content-Type"));
        return;
    }
    if (cmd != EVHTTP_REQ_POST) {
        ex_fail(ex, SC_OUT_BAD_METHOD, 0, "method_not_allowed", "this route takes POST", false);
        return;
    }
    ct = evhttp_find_header(ih, "Content-Type");
    if (ct != NULL && !is_json_type(ct)) {
        ex_fail(ex, SC_OUT_UNSUPPORTED, 0, "unsupported_media_type",
                "the body must be application/json", false);
        return;
    }
    ce = evhttp_find_header(ih, "Content-Encoding");
    if (ce != NULL && strcasecmp(ce, "identity") != 0) {
        /* Compressed bytes never pass uninspected. */
        ex_fail(ex, SC_OUT_UNSUPPORTED, 0, "unsupported_content_encoding",
                "compressed request bodies are not accepted", false);
        return;
    }

    {
        int64_t t = cm_mono_us();
        struct pol_body *b;
        struct pol_decision d;
        struct pol_input in = {0};
        unsigned counts[POL_PII__COUNT] = {0};
        enum pol_pii_op ops[POL_PII__COUNT];
        struct cm_buf rewritten;
        struct cm_err err;
        const char *body;
        size_t nrep = 0;
        int rc;

        inbuf = evhttp_request_get_input_buffer(req);
        blen = evbuffer_get_length(inbuf);
        body = blen ? (const char *)evbuffer_pullup(inbuf, -1) : "";
        rc = pol_body_parse(ex->arena, ex->route, POL_DIR_REQUEST, body, blen, &px->lim, &b, &err);
        if (rc != CM_OK) {
            ex->governance_us += mono_since(t);
            ex_fail(ex, SC_OUT_BAD_REQUEST, 0, rc == CM_ELIMIT ? "too_deep" : "invalid_json",
                    err.msg, false);
            return;
        }
        if (pol_body_model(b) != NULL)
            ex->model = pol_body_model(b);
        pol_body_counts(b, counts);
        in.model = ex->model;
        in.route = ex->route_name;
        in.counts = counts;
        pol_set_eval(ex->ps, POL_DIR_REQUEST, &in, &d);
        ex_add_matched(ex, &d);
        ex_add_findings(ex, "request", b, &d);
        if (d.verdict == POL_VERDICT_DENY) {
            char msg[512];

            ex->denied = true;
            ex->rule_id = d.rule_id;
            ex->governance_us += mono_since(t);
            snprintf(msg, sizeof(msg), "request denied by policy rule '%s'%s%s",
                     d.rule_id ? d.rule_id : "", d.reason ? ": " : "", d.reason ? d.reason : "");
            ex_fail(ex, SC_OUT_DENIED, d.status, "policy_denied", msg, false);
            return;
        }
        pol_decision_ops(&d, ops);
        cm_buf_init(&rewritten);
        rc = pol_body_rewrite(b, ops, pol_set_redact_opts(ex->ps), &rewritten, &nrep);
        ex->governance_us += mono_since(t);
        if (rc != CM_OK) {
            cm_buf_fini(&rewritten);
            ex_fail(ex, SC_OUT_INTERNAL, 0, "redaction_failed",
                    "steward could not redact the request; nothing was sent", false);
            return;
        }
        if (nrep > 0)
            ex->redacted = true;
        ex_forward(ex, cmd, rewritten.p, rewritten.len, NULL);
        cm_buf_fini(&rewritten);
    }
}

/* ------------------------------------------------------------ setup */

static void
split_allowlist(struct sc_proxy *px, const char *list)
{
    char *copy = cm_strdup(list ? list : ""), *save = NULL;

    for (char *t = strtok_r(copy, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
        px->fwd = cm_realloc(px->fwd, (px->nfwd + 1) * sizeof(*px->fwd));
        px->fwd[px->nfwd++] = cm_strdup(t);
    }
    free(copy);
}

int
sc_proxy_new(struct event_base *base, const struct sc_options *opts, struct pol_set *ps,
             struct aud_emitter *em, struct sc_proxy **out, struct cm_err *err)
{
    struct sc_proxy *px = cm_calloc(1, sizeof(*px));
    struct timeval tv;
    int rc;

    px->base = base;
    px->opts = opts;
    px->em = em;
    px->lim.max_depth = (size_t)opts->max_json_depth;
    rc = sc_upstream_new(base, opts->upstream, (size_t)opts->upstream_pool,
                         opts->upstream_timeout_us, &px->up, err);
    if (rc != CM_OK) {
        free(px);
        return rc;
    }
    split_allowlist(px, opts->forward_headers);
    px->http = evhttp_new(base);
    evhttp_set_max_body_size(px->http, (ev_ssize_t)opts->max_body);
    evhttp_set_max_headers_size(px->http, (ev_ssize_t)opts->max_header);
    tv.tv_sec = (time_t)(opts->client_timeout_us / 1000000);
    tv.tv_usec = (suseconds_t)(opts->client_timeout_us % 1000000);
    evhttp_set_timeout_tv(px->http, &tv);
    evhttp_set_flags(px->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_allowed_methods(px->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(px->http, proxy_handle, px);
    px->ps = pol_set_ref(ps);
    *out = px;
    return CM_OK;
}

int
sc_proxy_listen(struct sc_proxy *px, char *bound, size_t boundlen, struct cm_err *err)
{
    const char *listen = px->opts->listen;
    const char *colon = strrchr(listen, ':');
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[256];
    evutil_socket_t fd;
    long port;
    char *end;
    int one = 1;

    if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
        return cm_err_set(err, CM_EINPUT, "listen '%s': expected HOST:PORT", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return cm_err_set(err, CM_EINPUT, "listen '%s': bad port", listen);
    px->listener = evhttp_bind_socket_with_handle(px->http, host, (unsigned short)port);
    if (px->listener == NULL)
        return cm_err_set(err, CM_EIO, "listen '%s': cannot bind", listen);
    fd = evhttp_bound_socket_get_fd(px->listener);
    /* Accepted sockets inherit TCP_NODELAY from the listener on Linux;
     * evhttp never sets it and streamed answers would stall 40 ms. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char name[128] = "?";
        int p = 0;

        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

            evutil_inet_ntop(AF_INET, &sin->sin_addr, name, sizeof(name));
            p = ntohs(sin->sin_port);
            snprintf(bound, boundlen, "%s:%d", name, p);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

            evutil_inet_ntop(AF_INET6, &sin6->sin6_addr, name, sizeof(name));
            p = ntohs(sin6->sin6_port);
            snprintf(bound, boundlen, "[%s]:%d", name, p);
        }
    }
    return CM_OK;
}

void
sc_proxy_set_policy(struct sc_proxy *px, struct pol_set *ps)
{
    struct pol_set *old = px->ps;

    px->ps = pol_set_ref(ps);
    pol_set_unref(old);
}

void
sc_proxy_stop_accepting(struct sc_proxy *px)
{
    if (px->listener != NULL) {
        evhttp_del_accept_socket(px->http, px->listener);
        px->listener = NULL;
    }
}

size_t
sc_proxy_inflight(const struct sc_proxy *px)
{
    return px->inflight;
}

void
sc_proxy_free(struct sc_proxy *px)
{
    if (px == NULL)
        return;
    evhttp_free(px->http);
    sc_upstream_free(px->up);
    for (size_t i = 0; i < px->nfwd; i++)
        free(px->fwd[i]);
    free(px->fwd);
    pol_set_unref(px->ps);
    free(px);
}
