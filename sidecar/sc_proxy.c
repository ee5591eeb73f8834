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
 *   ex_finish()         emit the lineage record (if not yet), log, free
 * ex->creq is NULL once the client was answered or is gone; ex->ureq is NULL
 * once the upstream request completed.  ex_finish() runs exactly once, when
 * both are NULL and no answer is held.
 *
 * libevent facts this file relies on (DESIGN.md section 3): evhttp lets two
 * Content-Length headers through and accepts absolute-form targets, so both
 * are checked here and answered with 400 and a closed connection; it does not
 * set TCP_NODELAY (sc_listen sets it on the listener, and sc_upstream); a
 * 413 only reaches the client with EVHTTP_SERVER_LINGERING_CLOSE.
 *
 * Caller identity (ex_identify): with api_keys set, the key from
 * "Authorization: Bearer" or "x-api-key" is looked up in the key table
 * (pol_keys.h: hashed, constant-time) and gives principal, tenant, groups
 * and allowed purposes; a missing or unknown key is 401 with a record; the
 * key is never forwarded.  The purpose comes from X-Steward-Purpose, else
 * the key's first purpose.  Identity, purpose, route, model, modalities and
 * content type feed pol_set_eval per direction.  In monitor mode the
 * decision is made and recorded exactly as in enforce mode, but nothing is
 * applied: the original bytes go both ways (X-Steward-Monitor tells the
 * caller what enforce would have done).
 *
 * Streamed answers: every text field of every SSE event goes through that
 * field's streaming redactor (pii_stream: bounded hold-back of
 * POL_PII_STREAM_REACH bytes, so a value split across events is caught) and
 * pseudonym restorer; the event is re-sent with the released text spliced
 * in; what is still held at [DONE] or the end goes out in a copy of the
 * field's last event.  In generic mode, a field the policy names "whole"
 * (TGI's generated_text) is redacted in place, and its event is held until
 * the next one or the end, so that what the delta fields still hold at the
 * end goes into that last event (ex_held).  sc_sse frames the events.  The
 * answer's actions are decided once, at its start.
 *
 * Keyed operators: hash, pseudonymise and encrypt use the caller's tenant
 * keys (derived from pii_key_file, pol_keys.h); pseudonymised values are kept
 * in a per-exchange vault and put back into the answer.
 *
 * Lineage (durability, issue 6): with durability = sync every answer goes
 * through ex_reply()/ex_end_stream(), which build and hand the record to the
 * emitter first and hold the answer (ex->holding) until the emitter reports
 * the record in Kafka or durable in the spool.  That report comes on the
 * emitter's thread (or the spool's sync thread): ex_lineage_done() queues
 * the exchange and writes an eventfd watched by this loop, and
 * on_lineage_done() releases the answer here (or a 503 instead when the
 * record cannot be kept and on_spool_full = fail_closed).  The loop never
 * waits.  With async, the answer goes at once and the record is handed
 * over in ex_finish().  Each worker's records go into its own chain
 * (env->chain).
 */
#include "sidecar/sc_proxy.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

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
#include "policy/pol_keys.h"
#include "policy/pii/pii_stream.h"
#include "sidecar/sc_guard.h"
#include "sidecar/sc_inflate.h"
#include "sidecar/sc_outcome.h"
#include "sidecar/sc_sse.h"
#include "sidecar/sc_tls.h"
#include "sidecar/sc_upstream.h"

#define EX_MAX_FINDINGS 64
#define EX_MAX_FPS 64 /* distinct fingerprints kept per finding */
#define EX_MAX_GROUPS 32
#define PURPOSE_MAX 64
#define ROUTE_MODELS_NAME "models"

struct sc_proxy {
    struct event_base *base;
    struct sc_conf *conf; /* the generation in force for new exchanges */
    struct pol_slot policy;
    struct pol_keys *keys; /* NULL: no API keys, callers are anonymous */
    struct aud_emitter *em;
    struct sc_metrics *metrics;
    const struct pol_pii_keys *pii_keys; /* NULL: keyed operators run keyless */
    struct sc_tls *tls;
    struct sc_upstream *up;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    char **fwd; /* lower-case header allowlist */
    size_t nfwd;
    size_t inflight;
    size_t writing;              /* replies handed to evhttp and not yet written */
    struct sc_guard_limits glim; /* from conf; read by every connection's guard */
    struct guard_slot *slots;    /* strict-framing state per connection, by fd */
    size_t nslots;
    struct event *sweep; /* closes connections past request_timeout */

    /* Lineage: this worker's chain, and the reports for held answers,
     * filled on the emitter's thread under done_mu and drained on this loop
     * when done_fd turns readable. */
    unsigned chain;
    int done_fd;
    struct event *done_ev;
    pthread_mutex_t done_mu;
    struct sc_exchange *done_head, *done_tail;

    /* Every exchange not yet finished (a stop's drain cuts off those still
     * waiting for the model server), and whether that happened. */
    struct sc_exchange *live;
    bool cut_off;
};

/* The framing guard of one client connection.  Indexed by fd; `bev` tells a
 * new connection on a reused fd from the old one, so nothing needs freeing
 * when evhttp frees a connection.  A new bufferevent may reuse the address
 * of a dead one: client_bev() clears any slot that still names it. */
struct guard_slot {
    struct bufferevent *bev;
    struct sc_guard g;
    unsigned dispatched;          /* requests of this connection seen by proxy_handle */
    int64_t started_us;           /* monotonic start of the request being received, or 0 */
    struct sockaddr_storage peer; /* to tell this connection from a later one */
    socklen_t peerlen;
};

/* The proxy of the worker thread running the current callback: evbuffer
 * callbacks carry one pointer (the bufferevent), and each worker thread
 * serves exactly one proxy. */
static __thread struct sc_proxy *guard_px;

enum ex_kind {
    EX_INSPECT, /* an API route whose JSON is inspected */
    EX_MODELS,  /* GET /v1/models: passed through */
    EX_OTHER,   /* unknown path with unknown_path = pass */
};

/* One streamed text field (a JSON pointer such as /choices/0/delta/content)
 * of an SSE answer: its streaming redactor, its pseudonym restorer, and the
 * last event that carried it, re-used to send what the redactor still holds
 * when the stream ends. */
#define EX_MAX_STREAMS 8
/* The distinct keyed fingerprints of one finding's values (strings in the
 * exchange's arena). */
struct ex_fps {
    const char **v;
    size_t n, cap;
};

struct ex_stream {
    char *key;
    struct pol_pii_stream *st;
    struct pol_pii_restorer *rs;
    struct cm_buf last;
    struct sc_exchange *ex;
    struct ex_fps fps[POL_PII__COUNT];   /* per label, until the record */
    size_t whole_counts[POL_PII__COUNT]; /* a "whole" field: its findings, every event */
};

/* An event held back because it carries a whole field (sse_json): its
 * relayed bytes around the data line, the data's JSON as it came, and the
 * texts that replace its fields (owned). */
struct ex_held {
    struct cm_buf before, after; /* the event's other lines, relayed as they are */
    struct cm_buf json;          /* the data line's JSON, as the model server sent it */
    struct cm_buf data;          /* ... as relayed, when nothing is merged in */
    size_t ntexts;
    char **ptrs;          /* each text field's pointer */
    struct cm_buf *texts; /* ... and its relayed text */
};

struct sc_exchange {
    struct sc_proxy *px;
    struct evhttp_request *creq;
    struct evhttp_request *ureq;
    unsigned uslot;
    struct cm_arena *arena;
    struct cm_arena *scratch; /* per SSE event */
    struct pol_set *ps;
    struct sc_conf *conf; /* the generation this exchange started with */

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
    const char *content_type;
    unsigned modalities;

    /* Who is calling, copied into the arena (the key table may be swapped
     * by a reload while the exchange runs). */
    struct pol_caller caller;
    const char *purpose;

    /* The keyed operators: this tenant's keys (derived once, when an
     * operator needs them) and the pseudonyms of this request, restored in
     * the answer. */
    struct pol_tenant_keys tkeys;
    bool tkeys_ready;
    struct pol_pii_vault *vault;
    size_t restored;

    bool mode_known; /* streaming or buffering decided */
    bool streaming;
    bool resp_too_large;
    bool resp_denied;
    bool cancelling;
    bool udone_during_cancel;
    bool cut_off; /* a stop's drain_timeout ran out while the model server worked */
    struct sc_exchange *live_prev, *live_next;
    bool redacted; /* the policy rewrote (or, in monitor mode, would have) */
    bool denied;   /* the policy denied (or, in monitor mode, would have) */
    bool monitor;  /* the policy set is in monitor mode: nothing is applied */
    bool upstream_failed;
    bool sse_broken; /* the model server sent stream data steward cannot inspect */
    enum evhttp_request_error uerr;
    struct event *cwatch; /* the client's socket while its answer is owed */

    enum sc_outcome outcome;
    int status;
    long long prompt_tokens; /* -1 until the answer says */
    long long completion_tokens;
    const char *rule_id;
    const char *matched[2 * POL_MAX_MATCHED];
    const char *match_reasons[2 * POL_MAX_MATCHED];
    size_t nmatched;

    struct aud_finding findings[EX_MAX_FINDINGS];
    size_t nfindings;
    struct cm_buf resp;

    /* streamed answers (see sse_json) */
    struct ex_stream streams[EX_MAX_STREAMS];
    size_t nstreams;
    bool sdec_ready;
    bool streams_flushed;
    bool streams_recorded;
    /* The last event that carried a "whole" field (ex_held): relayed when
     * the next event comes, or at the end with what the other fields
     * still hold merged into it. */
    struct ex_held *held;
    struct ex_held *held_new; /* sse_json: the event being relayed carries one */
    bool held_no;             /* ... more than one data line does: not held */
    struct pol_decision sdec;
    enum pol_pii_op sops[POL_LABEL_MAX];
    struct pol_pii_redact_opts sropts;

    /* Lineage (see the file comment). */
    bool emitted;     /* the record was handed to the emitter */
    bool holding;     /* an answer waits for the record's fate */
    bool held_stream; /* ... the end of a stream, not a reply */
    int held_code;
    struct evbuffer *held_body; /* owned while holding */
    const char *lineage;        /* fate for the log: queued, kafka, spool, dropped */
    enum aud_fate fate;         /* set by the emitter's thread */
    struct sc_exchange *done_next;
    /* Lineage context (audit/aud_context.h) and the fingerprints of each
     * finding's values (findings[i] <-> fps[i]; strings in the arena). */
    struct aud_trace trace;
    char parent[CM_UUID_STR_LEN];
    const char *inputs[AUD_MAX_INPUTS];
    size_t ninputs;
    struct ex_fps fps[EX_MAX_FINDINGS];
};

static void ex_finish(struct sc_exchange *ex);
static void held_free(struct ex_held *h);
static void ex_streams_record(struct sc_exchange *ex);
static void ex_watch_client_stop(struct sc_exchange *ex);
static void ex_reply(struct sc_exchange *ex, int code, struct evbuffer *out);

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
            dup = strcmp(ex->matched[j], d->matched[i].rule_id) == 0;
        if (!dup) {
            ex->matched[ex->nmatched] = d->matched[i].rule_id;
            ex->match_reasons[ex->nmatched++] = d->matched[i].reason;
        }
    }
}

/* The operators and their options under decision d: per-label masks,
 * custom label names, this tenant's keys when an operator needs one. */
static void
ex_ops(struct sc_exchange *ex, const struct pol_decision *d, enum pol_pii_op ops[POL_LABEL_MAX],
       struct pol_pii_redact_opts *ropts)
{
    bool keyed = false, pseudo = false;

    pol_decision_ops(d, ex->ps, ops, ropts);
    for (size_t l = 0; l < d->nlabels; l++) {
        keyed = keyed || ops[l] == POL_PII_OP_HASH || ops[l] == POL_PII_OP_PSEUDONYMISE ||
                ops[l] == POL_PII_OP_ENCRYPT;
        pseudo = pseudo || ops[l] == POL_PII_OP_PSEUDONYMISE;
    }
    if (keyed && ex->px->pii_keys != NULL) {
        if (!ex->tkeys_ready) {
            pol_pii_keys_derive(ex->px->pii_keys, ex->caller.tenant, &ex->tkeys);
            ex->tkeys_ready = true;
        }
        pol_tenant_keys_apply(&ex->tkeys, ropts);
    }
    if (pseudo && ex->vault == NULL)
        ex->vault = pol_pii_vault_new();
}

/* The policy input of this exchange for one direction. */
static void
ex_input(const struct sc_exchange *ex, const unsigned *counts, unsigned modalities,
         struct pol_input *in)
{
    memset(in, 0, sizeof(*in));
    in->caller = ex->caller;
    in->purpose = ex->purpose;
    in->model = ex->model;
    in->route = ex->route;
    in->modalities = modalities;
    in->content_type = ex->content_type;
    in->counts = counts;
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

/* Adds the keyed fingerprint (common/cm_fingerprint.h) of a detected value
 * of entity type to l, once; at most EX_MAX_FPS per finding. */
static void
ex_fps_add(struct sc_exchange *ex, struct ex_fps *l, const char *type, const char *value,
           size_t len)
{
    char fp[CM_FP_HEX_LEN];

    cm_fp_compute(ex->conf->opts.fingerprint_key, type, value, len, fp);
    for (size_t k = 0; k < l->n; k++)
        if (strcmp(l->v[k], fp) == 0)
            return;
    if (l->n == EX_MAX_FPS)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4;
        const char **v = cm_arena_alloc(ex->arena, cap * sizeof(*v));

        if (l->n > 0)
            memcpy(v, l->v, l->n * sizeof(*v));
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = cm_arena_strndup(ex->arena, fp, CM_FP_HEX_LEN - 1);
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
    const char *type = pol_set_label_name(ex->ps, label);
    size_t i =
        ex_finding_slot(ex, c->direction, type, pointer, pol_action_name(c->d->actions[label]));

    ex_fps_add(ex, &ex->fps[i], type, value, len);
}

/* pol_pii_stream_on_value callback: a value of a streamed answer field. */
static void
ex_stream_fingerprint(void *arg, enum pol_pii_label label, const char *value, size_t len)
{
    struct ex_stream *s = arg;

    ex_fps_add(s->ex, &s->fps[label], pol_pii_label_name(label), value, len);
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
        size_t slot = ex_finding_slot(ex, direction, pol_set_label_name(ex->ps, f[i].label),
                                      f[i].pointer, pol_action_name(d->actions[f[i].label]));

        ex->findings[slot].count += f[i].count;
        sc_metrics_finding(ex->px->metrics, strcmp(direction, "response") == 0, f[i].label,
                           f[i].count);
    }
    if (n > 0 && ex->conf->opts.fingerprint_key != NULL) {
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
    if (ex->monitor) {
        /* Nothing was applied; say what enforce mode would have done. */
        evhttp_add_header(h, "X-Steward-Decision", "allow");
        evhttp_add_header(h, "X-Steward-Monitor", ex_decision(ex));
        return;
    }
    evhttp_add_header(h, "X-Steward-Decision", ex_decision(ex));
}

static void
reply_written(struct evhttp_request *req, void *arg)
{
    struct sc_proxy *px = arg;

    (void)req;
    px->writing--;
}

/* Sends n bytes of a streamed answer to the client. */
static void
ex_send_chunk(struct sc_exchange *ex, const char *p, size_t n)
{
    struct evbuffer *eb = evbuffer_new();

    evbuffer_add(eb, p, n);
    evhttp_send_reply_chunk(ex->creq, eb);
    evbuffer_free(eb);
}

/* An OpenAI-shaped SSE error event (the outcome's error type, code,
 * message), appended to b. */
static void
sse_error_event(struct cm_buf *b, enum sc_outcome o, const char *code, const char *message)
{
    cm_buf_puts(b, "event: error\ndata: {\"error\":{\"message\":");
    cm_buf_append_json_str(b, message, strlen(message));
    cm_buf_printf(b, ",\"type\":\"%s\",\"code\":", sc_outcome_info(o)->error_type);
    cm_buf_append_json_str(b, code, strlen(code));
    cm_buf_puts(b, "}}\n\n");
}

/* Ends what a stream says with that error event and sets the exchange's
 * outcome: a stream cut short never ends as if it were whole. */
static void
ex_stream_error(struct sc_exchange *ex, enum sc_outcome o, const char *code, const char *message)
{
    struct cm_buf b;

    cm_buf_init(&b);
    sse_error_event(&b, o, code, message);
    ex_send_chunk(ex, b.p, b.len);
    cm_buf_fini(&b);
    ex->outcome = o;
}

/* Stops watching the client connection and counts the reply as being
 * written until evhttp says it left: call before the last send of every
 * reply (a drain waits for both counters to reach zero, or the bytes of the
 * last answers would die with the process). */
static void
ex_unwatch_client(struct sc_exchange *ex)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ex->creq);

    ex_watch_client_stop(ex);
    if (evcon != NULL)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    ex->px->writing++;
    evhttp_request_set_on_complete_cb(ex->creq, reply_written, ex->px);
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
    ex_reply(ex, ex->status, out);
    ex_finish(ex);
}

/* ------------------------------------------------------------ record */

static void ex_lineage_done(void *arg, enum aud_fate fate);

static const char *
fate_name(enum aud_fate fate)
{
    switch (fate) {
    case AUD_FATE_KAFKA: return "kafka";
    case AUD_FATE_SPOOLED: return "spool";
    case AUD_FATE_DROPPED: return "dropped";
    }
    return "?";
}

/* Builds the record and hands it to the emitter; with wait, the emitter
 * reports its fate through ex_lineage_done.  Returns false when it could not
 * be handed over (then no report comes). */
static bool
ex_emit_record(struct sc_exchange *ex, bool wait)
{
    struct sc_proxy *px = ex->px;
    struct aud_record rec;
    struct cm_err err;
    struct cm_buf json;
    const char *modalities[POL_MOD__COUNT];
    int rc;

    ex->emitted = true;
    ex_streams_record(ex);
    aud_record_init(&rec);
    memcpy(rec.id, ex->id, sizeof(rec.id));
    rec.ts_start_us = ex->ts_start_us;
    rec.ts_end_us = cm_now_us();
    rec.instance = ex->conf->opts.instance;
    rec.method = ex->method;
    rec.path = ex->path;
    rec.route = ex->route_name;
    rec.caller_principal = ex->caller.principal;
    rec.caller_tenant = ex->caller.tenant;
    rec.purpose = ex->purpose;
    for (unsigned k = 0; k < POL_MOD__COUNT; k++)
        if (ex->modalities & (1u << k))
            modalities[rec.n_modalities++] = pol_modality_name((enum pol_modality)(1u << k));
    rec.modalities = modalities;
    rec.model_requested = ex->model;
    rec.model_served = ex->model_served;
    rec.upstream = sc_upstream_url(px->up);
    rec.policy_id = pol_set_id(ex->ps);
    rec.policy_hash = pol_set_hash(ex->ps);
    rec.policy_mode = pol_mode_name(pol_set_mode(ex->ps));
    rec.decision = ex_decision(ex);
    rec.rule_id = ex->rule_id;
    rec.matched_rules = ex->matched;
    rec.match_reasons = ex->match_reasons;
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
    rec.fingerprint_key_id =
        ex->conf->opts.fingerprint_key ? ex->conf->opts.fingerprint_key->id : NULL;

    cm_buf_init(&json);
    rc = aud_record_json(&rec, &json, &err);
    if (rc != CM_OK) {
        cm_log_err("sidecar", "record_build_failed record=%s err=\"%s\"", ex->id_str, err.msg);
    } else {
        rc = aud_emitter_send(px->em, px->chain, ex->id_str, json.p, json.len,
                              wait ? ex_lineage_done : NULL, ex);
        if (rc != CM_OK)
            cm_log_err("sidecar", "record_not_queued record=%s rc=%s", ex->id_str,
                       cm_status_name(rc));
    }
    cm_buf_fini(&json);
    ex->lineage = rc == CM_OK ? "queued" : "dropped";
    return rc == CM_OK;
}

/* The emitter's thread (or the spool's sync thread, aud_emitter.h): queue
 * the exchange for on_lineage_done.  ex stays alive (it is holding) and
 * ex->px never changes. */
static void
ex_lineage_done(void *arg, enum aud_fate fate)
{
    struct sc_exchange *ex = arg;
    struct sc_proxy *px = ex->px;
    uint64_t one = 1;
    bool wake;

    ex->fate = fate;
    ex->done_next = NULL;
    pthread_mutex_lock(&px->done_mu);
    wake = px->done_head == NULL;
    if (px->done_tail != NULL)
        px->done_tail->done_next = ex;
    else
        px->done_head = ex;
    px->done_tail = ex;
    pthread_mutex_unlock(&px->done_mu);
    if (wake && write(px->done_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        cm_log_errno("sidecar", "lineage_wake_failed");
}

/* sync durability: hands the record over and keeps the answer (out, or the
 * end of a stream when out is NULL) until its fate is known.  Returns false
 * when nothing is held (async, or the record was already handed over). */
static bool
ex_hold(struct sc_exchange *ex, int code, struct evbuffer *out)
{
    if (ex->emitted || ex->conf->opts.durability != AUD_DURABILITY_SYNC)
        return false;
    ex->holding = true;
    ex->held_code = code;
    ex->held_body = out;
    ex->held_stream = out == NULL;
    if (!ex_emit_record(ex, true))
        ex_lineage_done(ex, AUD_FATE_DROPPED); /* released on the next loop turn */
    return true;
}

/* Sends an answer (takes out), or holds it (sync). */
static void
ex_reply(struct sc_exchange *ex, int code, struct evbuffer *out)
{
    if (ex_hold(ex, code, out))
        return;
    ex_unwatch_client(ex);
    evhttp_send_reply(ex->creq, code, NULL, out);
    evbuffer_free(out);
    ex->creq = NULL;
}

/* Ends a streamed answer, or holds its end (sync). */
static void
ex_end_stream(struct sc_exchange *ex)
{
    if (ex_hold(ex, ex->status, NULL))
        return;
    ex_unwatch_client(ex);
    evhttp_send_reply_end(ex->creq);
    ex->creq = NULL;
}

/* The held answer's record has a fate: release the answer, or refuse it. */
static void
ex_release(struct sc_exchange *ex)
{
    bool refuse =
        ex->fate == AUD_FATE_DROPPED && ex->conf->opts.on_spool_full == SC_SPOOL_FULL_FAIL_CLOSED;

    ex->holding = false;
    ex->lineage = fate_name(ex->fate);
    if (ex->creq == NULL) { /* the client went away meanwhile */
        if (ex->held_body != NULL)
            evbuffer_free(ex->held_body);
        ex->held_body = NULL;
        ex_finish(ex);
        return;
    }
    if (refuse && !ex->held_stream) {
        evbuffer_free(ex->held_body);
        ex->held_body = NULL;
        evhttp_clear_headers(evhttp_request_get_output_headers(ex->creq));
        ex_fail(ex, SC_OUT_LINEAGE_UNAVAILABLE, 0, "lineage_unavailable",
                "the lineage record of this exchange could not be kept; the answer is withheld",
                false);
        return;
    }
    if (ex->held_stream && refuse)
        ex_stream_error(ex, SC_OUT_LINEAGE_UNAVAILABLE, "lineage_unavailable",
                        "the lineage record of this exchange could not be kept");
    ex_unwatch_client(ex);
    if (ex->held_stream) {
        evhttp_send_reply_end(ex->creq);
    } else {
        evhttp_send_reply(ex->creq, ex->held_code, NULL, ex->held_body);
        evbuffer_free(ex->held_body);
        ex->held_body = NULL;
    }
    ex->creq = NULL;
    ex_finish(ex);
}

/* Loop thread: reports for held answers arrived. */
static void
on_lineage_done(evutil_socket_t fd, short what, void *arg)
{
    struct sc_proxy *px = arg;
    struct sc_exchange *ex, *next;
    uint64_t v;

    (void)what;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        cm_log_errno("sidecar", "lineage_wake_read_failed");
    pthread_mutex_lock(&px->done_mu);
    ex = px->done_head;
    px->done_head = px->done_tail = NULL;
    pthread_mutex_unlock(&px->done_mu);
    for (; ex != NULL; ex = next) {
        next = ex->done_next;
        ex_release(ex);
    }
}

static void
ex_finish(struct sc_exchange *ex)
{
    struct sc_proxy *px = ex->px;
    int64_t total_us = mono_since(ex->t0);

    if (ex->creq != NULL || ex->ureq != NULL || ex->cancelling || ex->holding)
        return;
    ex_watch_client_stop(ex);
    if (!ex->emitted)
        ex_emit_record(ex, false);
    sc_metrics_exchange(px->metrics, sc_metric_route(ex->route_name),
                        sc_metric_decision(ex_decision(ex)), ex->outcome, ex->status,
                        ex->governance_us, ex->upstream_us, total_us);
    /* One line per exchange, when it is over: the status the client got and
     * where its lineage record went (tests match "exchange record="). */
    cm_log_info("sidecar",
                "exchange record=%s route=%s status=%d outcome=%s decision=%s findings=%zu "
                "lineage=%s total_us=%lld upstream_us=%lld governance_us=%lld",
                ex->id_str, ex->route_name, ex->status, sc_outcome_info(ex->outcome)->name,
                ex_decision(ex), ex->nfindings, ex->lineage, (long long)total_us,
                (long long)ex->upstream_us, (long long)ex->governance_us);
    if (ex->live_prev != NULL)
        ex->live_prev->live_next = ex->live_next;
    else
        px->live = ex->live_next;
    if (ex->live_next != NULL)
        ex->live_next->live_prev = ex->live_prev;
    ex->px->inflight--;
    atomic_fetch_sub_explicit(&ex->px->metrics->inflight, 1, memory_order_relaxed);
    for (size_t i = 0; i < ex->nstreams; i++) {
        pol_pii_stream_free(ex->streams[i].st);
        pol_pii_restorer_free(ex->streams[i].rs);
        cm_buf_fini(&ex->streams[i].last);
        free(ex->streams[i].key);
    }
    held_free(ex->held);
    held_free(ex->held_new);
    pol_set_unref(ex->ps);
    pol_pii_vault_free(ex->vault); /* wipes the originals */
    OPENSSL_cleanse(&ex->tkeys, sizeof(ex->tkeys));
    cm_arena_free(ex->arena);
    cm_arena_free(ex->scratch);
    cm_buf_fini(&ex->resp);
    sc_conf_unref(ex->conf); /* after the streams: they used its model */
    free(ex);
}

/* ------------------------------------------------------------ upstream */

/* While the model server works on a request, evhttp does not read from the
 * client's connection (it only learns of a hang-up when it next writes), so
 * a client that gives up on a slow, unstreamed answer would go unnoticed
 * until the answer is written into the void.  The exchange watches the
 * socket itself: end of stream (or a reset) means the client is gone, and
 * freeing its connection runs client_closed(), which cancels the upstream
 * request.  Bytes (a pipelined request, TLS records) end the watch: the
 * write of the answer will tell. */
static void
client_watch(evutil_socket_t fd, short what, void *arg)
{
    struct sc_exchange *ex = arg;
    struct evhttp_connection *evcon;
    char c;
    ssize_t n;

    (void)what;
    event_free(ex->cwatch);
    ex->cwatch = NULL;
    if (ex->creq == NULL)
        return;
    n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return;
    evcon = evhttp_request_get_connection(ex->creq);
    if (evcon != NULL)
        evhttp_connection_free(evcon); /* runs client_closed(); ex may be gone */
}

static void
ex_watch_client(struct sc_exchange *ex)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ex->creq);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

    if (fd < 0 || ex->cwatch != NULL)
        return;
    ex->cwatch = event_new(ex->px->base, fd, EV_READ, client_watch, ex);
    if (ex->cwatch != NULL)
        event_add(ex->cwatch, NULL);
}

static void
ex_watch_client_stop(struct sc_exchange *ex)
{
    if (ex->cwatch != NULL) {
        event_free(ex->cwatch);
        ex->cwatch = NULL;
    }
}

/* Cancels the upstream request in flight (ex->ureq) and settles its slot
 * and time.  evhttp may or may not call our callbacks from inside the
 * cancel; they only take note while `cancelling` is set. */
static void
ex_cancel_upstream(struct sc_exchange *ex)
{
    ex->cancelling = true;
    evhttp_cancel_request(ex->ureq);
    ex->cancelling = false;
    if (!ex->udone_during_cancel) {
        sc_upstream_done(ex->px->up, ex->uslot);
        ex->upstream_us += mono_since(ex->t_up0);
    }
    ex->ureq = NULL;
}

static void
client_closed(struct evhttp_connection *evcon, void *arg)
{
    struct sc_exchange *ex = arg;
    struct evhttp_request *ureq = ex->ureq;

    (void)evcon;
    cm_log_info("sidecar", "client_closed record=%s", ex->id_str);
    ex_watch_client_stop(ex);
    /* A request whose answer we still owed (a stream under way, or the
     * model server still thinking) was detached from its dying connection
     * by evhttp and is ours to free; one still attached goes with the
     * connection.  (make soak found it leaked: about 3 KB per client that
     * left mid-stream.) */
    if (ex->creq != NULL && evhttp_request_get_connection(ex->creq) == NULL)
        evhttp_request_free(ex->creq);
    ex->creq = NULL;
    ex->outcome = ex->px->cut_off ? SC_OUT_SHUTDOWN : SC_OUT_CLIENT_GONE;
    ex->status = sc_outcome_info(ex->outcome)->status;
    if (ureq != NULL)
        ex_cancel_upstream(ex);
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
    struct pol_input in;
    unsigned counts[POL_LABEL_MAX] = {0};
    enum pol_pii_op ops[POL_LABEL_MAX];
    struct pol_pii_redact_opts ropts = {0};
    struct cm_err err;
    size_t nrep = 0;
    int rc;

    rc = pol_body_parse(arena, ex->route, POL_DIR_RESPONSE, p, n, &ex->conf->lim, ex->ps, &b, &err);
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
        ex->model_served =
            cm_arena_strndup(ex->arena, pol_body_model(b), strlen(pol_body_model(b)));
    pol_body_counts(b, counts);
    ex_input(ex, counts, pol_body_modalities(b), &in);
    pol_set_eval(ex->ps, POL_DIR_RESPONSE, &in, &d);
    ex_add_matched(ex, &d);
    ex_add_findings(ex, "response", b, &d);
    if (d.verdict == POL_VERDICT_DENY) {
        ex->denied = true;
        if (ex->rule_id == NULL)
            ex->rule_id = d.rule_id;
        if (!ex->monitor)
            return false;
    }
    if (ex->monitor) {
        /* Decide and record, change nothing. */
        if (pol_decision_rewrites(&d, counts))
            ex->redacted = true;
        cm_buf_append(out, p, n);
        return true;
    }
    ex_ops(ex, &d, ops, &ropts);
    if (ex->vault == NULL || pol_pii_vault_count(ex->vault) == 0) {
        rc = pol_body_rewrite(b, ops, &ropts, out, &nrep);
    } else {
        /* The request was pseudonymised: the model's answer gets the
         * originals back, after the answer's own policy has run. */
        struct cm_buf tmp;

        cm_buf_init(&tmp);
        rc = pol_body_rewrite(b, ops, &ropts, &tmp, &nrep);
        if (rc == CM_OK)
            ex->restored += pol_body_restore(ex->vault, tmp.p ? tmp.p : "", tmp.len, out);
        cm_buf_fini(&tmp);
    }
    *rc_out = rc;
    if (nrep > 0)
        ex->redacted = true;
    return true;
}

/* The findings of every streamed field into the record (once). */
static void
ex_streams_record(struct sc_exchange *ex)
{
    if (ex->streams_recorded)
        return;
    ex->streams_recorded = true;
    for (size_t i = 0; i < ex->nstreams; i++) {
        size_t counts[POL_PII__COUNT];

        pol_pii_stream_counts(ex->streams[i].st, counts);
        for (int l = 0; l < POL_PII__COUNT; l++) {
            struct aud_finding *af;

            counts[l] += ex->streams[i].whole_counts[l];
            if (counts[l] == 0)
                continue;
            if (ex->sops[l] != POL_PII_KEEP && !ex->monitor)
                ex->redacted = true;
            if (ex->nfindings == EX_MAX_FINDINGS)
                break;
            ex->fps[ex->nfindings] = ex->streams[i].fps[l];
            af = &ex->findings[ex->nfindings++];
            af->direction = "response";
            af->type = pol_pii_label_name((enum pol_pii_label)l);
            af->pointer =
                cm_arena_strndup(ex->arena, ex->streams[i].key, strlen(ex->streams[i].key));
            af->count = (unsigned)counts[l];
            af->action = pol_action_name(ex->sdec.actions[l]);
            sc_metrics_finding(ex->px->metrics, 1, (enum pol_pii_label)l, (unsigned)counts[l]);
        }
    }
}

static struct ex_stream *
ex_stream_for(struct sc_exchange *ex, const char *key)
{
    struct ex_stream *s;

    for (size_t i = 0; i < ex->nstreams; i++)
        if (strcmp(ex->streams[i].key, key) == 0)
            return &ex->streams[i];
    if (ex->nstreams == EX_MAX_STREAMS)
        return NULL;
    s = &ex->streams[ex->nstreams];
    s->st = pol_pii_stream_new(ex->conf->lim.model, POL_PII_ALL, ex->sops, &ex->sropts, ex->vault);
    if (s->st == NULL)
        return NULL;
    s->key = cm_strdup(key);
    s->ex = ex;
    memset(s->fps, 0, sizeof(s->fps));
    if (ex->conf->opts.fingerprint_key != NULL)
        pol_pii_stream_on_value(s->st, ex_stream_fingerprint, s);
    if (ex->vault != NULL && pol_pii_vault_count(ex->vault) > 0)
        s->rs = pol_pii_restorer_new(ex->vault);
    cm_buf_init(&s->last);
    ex->nstreams++;
    return s;
}

/* A label found in the stream whose action is deny: the answer stops. */
static bool
ex_stream_denied(struct sc_exchange *ex, const struct ex_stream *s)
{
    size_t counts[POL_PII__COUNT];

    pol_pii_stream_counts(s->st, counts);
    for (int l = 0; l < POL_PII__COUNT; l++)
        if (counts[l] + s->whole_counts[l] > 0 && ex->sdec.actions[l] == POL_ACT_DENY)
            return true;
    return false;
}

/* Passes redacted stream text through the pseudonym restorer (if any). */
static void
ex_stream_restore(struct sc_exchange *ex, struct ex_stream *s, const char *p, size_t n, bool fin,
                  struct cm_buf *out)
{
    if (s->rs == NULL) {
        cm_buf_append(out, p, n);
        return;
    }
    ex->restored += pol_pii_restorer_feed(s->rs, p, n, out);
    if (fin)
        ex->restored += pol_pii_restorer_finish(s->rs, out);
}

/* A field the policy names whole (generic "whole": TGI's generated_text)
 * carries its value whole in one event: it is redacted there, on its own,
 * through a redactor of its own fed the whole value (nothing held back for
 * later events), its findings added to the field's. */
static int
ex_whole_value(struct sc_exchange *ex, struct ex_stream *s, const char *t, size_t tl,
               struct cm_buf *out)
{
    struct pol_pii_stream *one;
    struct cm_buf red;
    size_t counts[POL_PII__COUNT];
    int rc;

    one = pol_pii_stream_new(ex->conf->lim.model, POL_PII_ALL, ex->sops, &ex->sropts, ex->vault);
    if (one == NULL)
        return CM_EINTERNAL;
    if (ex->conf->opts.fingerprint_key != NULL)
        pol_pii_stream_on_value(one, ex_stream_fingerprint, s);
    cm_buf_init(&red);
    rc = pol_pii_stream_feed(one, t, tl, &red);
    if (rc == CM_OK)
        rc = pol_pii_stream_finish(one, &red);
    if (rc == CM_OK) {
        pol_pii_stream_counts(one, counts);
        for (int l = 0; l < POL_PII__COUNT; l++)
            s->whole_counts[l] += counts[l];
        if (s->rs != NULL) {
            struct pol_pii_restorer *rs = pol_pii_restorer_new(ex->vault);

            ex->restored += pol_pii_restorer_feed(rs, red.p ? red.p : "", red.len, out);
            ex->restored += pol_pii_restorer_finish(rs, out);
            pol_pii_restorer_free(rs);
        } else {
            cm_buf_append(out, red.p ? red.p : "", red.len);
        }
    }
    pol_pii_stream_free(one);
    cm_buf_fini(&red);
    return rc;
}

static void
held_free(struct ex_held *h)
{
    if (h == NULL)
        return;
    cm_buf_fini(&h->before);
    cm_buf_fini(&h->after);
    cm_buf_fini(&h->json);
    cm_buf_fini(&h->data);
    for (size_t i = 0; i < h->ntexts; i++) {
        free(h->ptrs[i]);
        cm_buf_fini(&h->texts[i]);
    }
    free(h->ptrs);
    free(h->texts);
    free(h);
}

/* The event sse_json just relayed, kept for holding (see ex_held). */
static struct ex_held *
held_new(const char *json, size_t n, const struct cm_str *texts, const char *const *ptrs, size_t nt)
{
    struct ex_held *h = cm_calloc(1, sizeof(*h));

    cm_buf_init(&h->before);
    cm_buf_init(&h->after);
    cm_buf_init(&h->json);
    cm_buf_init(&h->data);
    cm_buf_append(&h->json, json, n);
    h->ntexts = nt;
    h->ptrs = cm_calloc(nt ? nt : 1, sizeof(*h->ptrs));
    h->texts = cm_calloc(nt ? nt : 1, sizeof(*h->texts));
    for (size_t i = 0; i < nt; i++) {
        h->ptrs[i] = cm_strdup(ptrs[i]);
        cm_buf_init(&h->texts[i]);
        cm_buf_append(&h->texts[i], texts[i].p ? texts[i].p : "", texts[i].n);
    }
    return h;
}

/* Relays the held event into out, with its data re-spliced when merged
 * (what other fields still held was appended to its texts). */
static void
held_emit(struct sc_exchange *ex, struct ex_held *h, bool merged, struct cm_buf *out)
{
    struct pol_body_limits lim = ex->conf->lim;
    struct pol_body *b;
    struct cm_err err;

    cm_buf_append(out, h->before.p ? h->before.p : "", h->before.len);
    cm_buf_puts(out, "data: ");
    lim.texts_only = true;
    cm_arena_reset(ex->scratch);
    if (merged &&
        pol_body_parse(ex->scratch, ex->route, POL_DIR_RESPONSE, h->json.p, h->json.len, &lim,
                       ex->ps, &b, &err) == CM_OK &&
        pol_body_ntexts(b) == h->ntexts) {
        struct cm_str *texts =
            cm_arena_calloc(ex->scratch, (h->ntexts ? h->ntexts : 1) * sizeof(*texts));

        for (size_t i = 0; i < h->ntexts; i++)
            texts[i] = (struct cm_str){h->texts[i].p ? h->texts[i].p : "", h->texts[i].len};
        if (pol_body_splice(b, texts, out) != CM_OK)
            ex->upstream_failed = true;
    } else {
        cm_buf_append(out, h->data.p ? h->data.p : "", h->data.len);
    }
    cm_buf_putc(out, '\n');
    cm_buf_append(out, h->after.p ? h->after.p : "", h->after.len);
}

/* One SSE event's JSON data: every text field goes through its field's
 * streaming redactor (bounded hold-back: a value split across events is
 * still caught) and restorer; the event is re-sent with the released text
 * spliced in, every other byte as it came.  Returns false when the policy
 * denies the answer; *rc_out gets CM_EINPUT for an event that is not JSON
 * of the expected shape. */
static bool
sse_json(struct sc_exchange *ex, const char *p, size_t n, struct cm_buf *out, int *rc_out)
{
    struct pol_body_limits lim = ex->conf->lim;
    struct pol_body *b;
    struct cm_err err;
    struct cm_str *texts;
    const char **ptrs;
    size_t nt;
    bool whole = false;
    int rc;

    if (!ex->sdec_ready) {
        /* The answer's actions are decided once, before any of it is seen:
         * rules on the caller, model, route and purpose apply; rules on
         * the answer's findings cannot (deny actions still stop it). */
        struct pol_input in;
        unsigned none[POL_LABEL_MAX] = {0};

        ex_input(ex, none, 0, &in);
        pol_set_eval(ex->ps, POL_DIR_RESPONSE, &in, &ex->sdec);
        ex_add_matched(ex, &ex->sdec);
        ex_ops(ex, &ex->sdec, ex->sops, &ex->sropts);
        ex->sdec_ready = true;
        if (ex->sdec.verdict == POL_VERDICT_DENY && !ex->monitor) {
            ex->denied = true;
            if (ex->rule_id == NULL)
                ex->rule_id = ex->sdec.rule_id;
            return false;
        }
    }
    lim.texts_only = true; /* (the policy only for generic mode's pointers) */
    rc = pol_body_parse(ex->scratch, ex->route, POL_DIR_RESPONSE, p, n, &lim, ex->ps, &b, &err);
    *rc_out = rc;
    if (rc != CM_OK)
        return true;
    {
        long long pt, ct;

        pol_body_usage(b, &pt, &ct);
        if (pt >= 0)
            ex->prompt_tokens = pt;
        if (ct >= 0)
            ex->completion_tokens = ct;
    }
    if (ex->model_served == NULL && pol_body_model(b) != NULL)
        ex->model_served =
            cm_arena_strndup(ex->arena, pol_body_model(b), strlen(pol_body_model(b)));
    nt = pol_body_ntexts(b);
    texts = cm_arena_calloc(ex->scratch, (nt ? nt : 1) * sizeof(*texts));
    ptrs = cm_arena_calloc(ex->scratch, (nt ? nt : 1) * sizeof(*ptrs));
    for (size_t i = 0; i < nt; i++) {
        const char *ptr, *t = pol_body_text(b, i, &(size_t){0}, &ptr);
        size_t tl;
        struct ex_stream *s;
        struct cm_buf rel, fin;
        bool is_whole;

        (void)pol_body_text(b, i, &tl, NULL);
        ptrs[i] = ptr;
        s = ex_stream_for(ex, ptr);
        if (s == NULL) {
            *rc_out = CM_ELIMIT; /* too many streamed fields: fail closed */
            return true;
        }
        /* A whole field is redacted on its own; a delta field through
         * its stream, released text restored. */
        is_whole = ex->route == POL_ROUTE_OTHER && pol_body_pointer_whole(ex->ps, ptr);
        cm_buf_init(&rel);
        cm_buf_init(&fin);
        rc =
            is_whole ? ex_whole_value(ex, s, t, tl, &fin) : pol_pii_stream_feed(s->st, t, tl, &rel);
        if (rc != CM_OK || (ex_stream_denied(ex, s) && !ex->monitor)) {
            cm_buf_fini(&rel);
            cm_buf_fini(&fin);
            if (rc != CM_OK) {
                *rc_out = CM_EINTERNAL;
                return true;
            }
            ex->denied = true;
            if (ex->rule_id == NULL)
                ex->rule_id = "response.entities";
            return false;
        }
        if (!is_whole)
            ex_stream_restore(ex, s, rel.p ? rel.p : "", rel.len, false, &fin);
        texts[i].p = cm_arena_strndup(ex->scratch, fin.p ? fin.p : "", fin.len);
        texts[i].n = fin.len;
        cm_buf_fini(&rel);
        cm_buf_fini(&fin);
        if (is_whole) {
            whole = true;
        } else {
            cm_buf_reset(&s->last);
            cm_buf_append(&s->last, p, n);
        }
    }
    if (ex->monitor) {
        cm_buf_append(out, p, n); /* decide and record, change nothing */
    } else if (pol_body_splice(b, texts, out) != CM_OK) {
        *rc_out = CM_EINTERNAL;
    } else if (whole) {
        /* sse_relay holds this event back (ex_held) */
        if (ex->held_new != NULL || ex->held_no) {
            held_free(ex->held_new);
            ex->held_new = NULL;
            ex->held_no = true;
        } else {
            ex->held_new = held_new(p, n, texts, ptrs, nt);
        }
    }
    return true;
}

/* The end of the stream: what each field's redactor still holds is sent in
 * a copy of that field's last event, before [DONE] or the end. */
static void
sse_flush(struct sc_exchange *ex, struct cm_buf *out)
{
    struct ex_held *h = ex->held;
    bool merged = false;

    if (ex->streams_flushed)
        return;
    ex->streams_flushed = true;
    ex->held = NULL;
    for (size_t i = 0; i < ex->nstreams; i++) {
        struct ex_stream *s = &ex->streams[i];
        struct pol_body_limits lim = ex->conf->lim;
        struct cm_buf rem, fin;
        struct pol_body *b;
        struct cm_err err;

        cm_buf_init(&rem);
        cm_buf_init(&fin);
        if (pol_pii_stream_finish(s->st, &rem) != CM_OK) {
            ex->upstream_failed = true;
            cm_buf_fini(&rem);
            continue;
        }
        ex_stream_restore(ex, s, rem.p ? rem.p : "", rem.len, true, &fin);
        if (fin.len > 0 && !ex->monitor && h != NULL) {
            /* The held last event carries this field too: the rest goes
             * into it, no copy needed. */
            size_t k = 0;

            while (k < h->ntexts && strcmp(h->ptrs[k], s->key) != 0)
                k++;
            if (k < h->ntexts) {
                cm_buf_append(&h->texts[k], fin.p, fin.len);
                merged = true;
                cm_buf_fini(&rem);
                cm_buf_fini(&fin);
                continue;
            }
        }
        lim.texts_only = true;
        cm_arena_reset(ex->scratch);
        if (fin.len > 0 && !ex->monitor && s->last.len > 0 &&
            pol_body_parse(ex->scratch, ex->route, POL_DIR_RESPONSE, s->last.p, s->last.len, &lim,
                           ex->ps, &b, &err) == CM_OK) {
            size_t nt = pol_body_ntexts(b);
            struct cm_str *texts = cm_arena_calloc(ex->scratch, (nt ? nt : 1) * sizeof(*texts));

            for (size_t k = 0; k < nt; k++) {
                const char *ptr;
                size_t tl;

                (void)pol_body_text(b, k, &tl, &ptr);
                texts[k] = strcmp(ptr, s->key) == 0 ? (struct cm_str){fin.p, fin.len}
                                                    : (struct cm_str){"", 0};
            }
            cm_buf_puts(out, "data: ");
            if (pol_body_splice(b, texts, out) != CM_OK)
                ex->upstream_failed = true;
            cm_buf_puts(out, "\n\n");
        }
        cm_buf_fini(&rem);
        cm_buf_fini(&fin);
    }
    if (h != NULL) {
        held_emit(ex, h, merged, out);
        held_free(h);
    }
}

/* The model server sent stream data that cannot be inspected (why): it is
 * not relayed, and neither is anything after it; the client gets an error
 * event (upstream_uninspectable) and no clean end, the record outcome
 * upstream_error.  Nothing the relay cannot read reaches the client. */
static void
sse_break(struct sc_exchange *ex, struct cm_buf *out, const char *why)
{
    ex->sse_broken = true;
    ex->resp_denied = true; /* (stops the relay and the end's flush) */
    cm_log_warn("sidecar", "sse_event_uninspectable record=%s reason=%s action=stream_ended",
                ex->id_str, why);
    sse_error_event(out, SC_OUT_UPSTREAM_ERROR, "upstream_uninspectable",
                    "the model server sent stream data steward cannot inspect; the rest of the "
                    "answer is withheld");
}

/* Whether an SSE data value is JSON that sse_json can take (an object or
 * an array, after any whitespace). */
static bool
sse_data_is_json(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    return n > 0 && (*p == '{' || *p == '[');
}

/* Relays the complete SSE events in ex->resp (all of it when final).  A
 * data value is relayed only once inspected: JSON goes through sse_json,
 * "[DONE]" and empty values as they are; anything else ends the stream
 * (sse_break), so no text reaches the client unread.  An event whose data
 * spans several data lines is first joined into one (sc_sse_join_data). */
static void
sse_relay(struct sc_exchange *ex, bool final)
{
    struct cm_buf out, joined;
    size_t pos = 0;
    int64_t t = cm_mono_us();

    cm_buf_init(&out);
    cm_buf_init(&joined);
    while (pos < ex->resp.len && !ex->resp_denied) {
        const char *ev = ex->resp.p + pos;
        size_t avail = ex->resp.len - pos, evlen, span, ev_start, data_at, data_end = 0;
        struct sc_sse_line ln;

        evlen = sc_sse_event_len(ev, avail);
        if (evlen == 0) {
            if (!final)
                break;
            evlen = avail;
        }
        span = evlen;
        if (sc_sse_data_lines(ev, evlen) > 1) {
            cm_buf_reset(&joined);
            cm_buf_reserve(&joined, evlen);
            joined.len = sc_sse_join_data(ev, evlen, joined.p);
            ev = joined.p;
            evlen = joined.len;
        }
        if (ex->held != NULL && !sc_sse_is_done(ev, evlen)) {
            /* Another event came: the held one was not the last. */
            held_emit(ex, ex->held, false, &out);
            held_free(ex->held);
            ex->held = NULL;
        }
        ev_start = out.len;
        data_at = SIZE_MAX;
        for (size_t ls = 0; sc_sse_next_line(ev, evlen, &ls, &ln);) {
            if (ln.data != NULL) {
                bool done = ln.dlen == 6 && memcmp(ln.data, "[DONE]", 6) == 0;

                if (done)
                    sse_flush(ex, &out);
                if (!done && sse_data_is_json(ln.data, ln.dlen)) {
                    struct ex_held *before = ex->held_new;
                    size_t at = out.len;
                    int rc = CM_OK;

                    cm_buf_puts(&out, "data: ");
                    cm_arena_reset(ex->scratch);
                    if (!sse_json(ex, ln.data, ln.dlen, &out, &rc)) {
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
                        out.len -= 6;
                        sse_break(ex, &out, "unparseable");
                        break;
                    } else {
                        cm_buf_putc(&out, '\n');
                        if (ex->held_new != NULL && ex->held_new != before) {
                            data_at = at;
                            data_end = out.len;
                        }
                    }
                    continue;
                }
                if (ln.dlen > 0 && !done) {
                    /* Not JSON: nothing can say what text it holds. */
                    sse_break(ex, &out, "not_json");
                    break;
                }
            }
            cm_buf_append(&out, ln.p, ln.len + ln.eol);
        }
        if (ex->held_new != NULL) {
            /* The event carries a whole field: held until the next event
             * or the end (see ex_held). */
            struct ex_held *h = ex->held_new;

            ex->held_new = NULL;
            if (!ex->held_no && !ex->resp_denied && data_at != SIZE_MAX) {
                cm_buf_append(&h->before, out.p + ev_start, data_at - ev_start);
                cm_buf_append(&h->data, out.p + data_at + 6, data_end - data_at - 7);
                cm_buf_append(&h->after, out.p + data_end, out.len - data_end);
                out.len = ev_start;
                ex->held = h;
            } else {
                held_free(h);
            }
        }
        ex->held_no = false;
        pos += span;
    }
    cm_buf_fini(&joined);
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
    if (!ex->streaming && ex->resp.len + n > ex->conf->opts.max_response_body) {
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
                    "the model server answered with a content type steward cannot inspect", false);
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
    cm_buf_fini(&rewritten);
    ex_reply(ex, code, out);
}

static void upstream_end(struct sc_exchange *ex, struct evhttp_request *ureq, int code);

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
    upstream_end(ex, ureq, code);
}

/* The upstream request is over (ureq NULL or code 0: it failed, or was cut
 * off): answer the client, or end its stream. */
static void
upstream_end(struct sc_exchange *ex, struct evhttp_request *ureq, int code)
{
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
        if (!ex->resp_denied && !ex->streams_flushed) {
            /* No [DONE] (Anthropic and Responses streams end without one). */
            struct cm_buf tail;

            cm_buf_init(&tail);
            sse_flush(ex, &tail);
            if (tail.len > 0)
                ex_send_chunk(ex, tail.p, tail.len);
            cm_buf_fini(&tail);
        }
        if (ex->sse_broken) {
            ex->outcome = SC_OUT_UPSTREAM_ERROR; /* (its error event went with it) */
        } else if (ex->cut_off) {
            ex_stream_error(ex, SC_OUT_SHUTDOWN, "shutting_down",
                            "steward is shutting down and stopped the stream");
            evhttp_add_header(evhttp_request_get_output_headers(ex->creq), "Connection", "close");
        } else if (ureq == NULL || code == 0) {
            /* The model server broke off mid-stream: say so in the stream. */
            ex_stream_error(ex, SC_OUT_UPSTREAM_ERROR, "upstream_truncated",
                            "the model server closed the stream early");
        } else {
            ex->outcome = SC_OUT_OK;
        }
        ex->status = 200;
        ex_end_stream(ex);
        ex_finish(ex);
        return;
    }
    if (ex->cut_off) {
        ex_fail(ex, SC_OUT_SHUTDOWN, 0, "shutting_down",
                "steward is shutting down and stopped waiting for the model server; retry the "
                "request",
                true);
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
    TAILQ_FOREACH (kv, evhttp_request_get_input_headers(ex->creq), next) {
        /* A steward API key is for steward, never for the model server. */
        if (px->keys != NULL &&
            (strcasecmp(kv->key, "Authorization") == 0 || strcasecmp(kv->key, "x-api-key") == 0))
            continue;
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
        return;
    }
    ex_watch_client(ex);
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
    {"/v1/chat/completions", POL_ROUTE_CHAT}, {"/v1/completions", POL_ROUTE_COMPLETION},
    {"/v1/embeddings", POL_ROUTE_EMBEDDING},  {"/v1/responses", POL_ROUTE_RESPONSES},
    {"/v1/messages", POL_ROUTE_MESSAGES},
};

static struct guard_slot *
guard_slot_for(struct sc_proxy *px, struct bufferevent *bev)
{
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

    if (fd < 0)
        return NULL;
    if ((size_t)fd >= px->nslots) {
        size_t n = px->nslots ? px->nslots : 256;

        while (n <= (size_t)fd)
            n *= 2;
        px->slots = cm_realloc(px->slots, n * sizeof(*px->slots));
        memset(px->slots + px->nslots, 0, (n - px->nslots) * sizeof(*px->slots));
        px->nslots = n;
    }
    return &px->slots[fd];
}

static void emit_bare_record(struct sc_proxy *px, enum sc_outcome o);

/* Runs on every read into a client connection's input buffer, before evhttp
 * parses the bytes: feeds the newly added bytes to the connection's guard. */
static void
guard_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct bufferevent *bev = arg;
    struct guard_slot *slot;
    struct evbuffer_iovec vec[8];
    struct evbuffer_ptr pos;
    size_t len = evbuffer_get_length(buf);
    unsigned before;
    int n;

    if (info->n_added == 0 || guard_px == NULL || info->n_added > len)
        return;
    slot = guard_slot_for(guard_px, bev);
    if (slot == NULL)
        return;
    if (slot->bev != bev) {
        slot->bev = bev;
        slot->dispatched = 0;
        slot->started_us = 0;
        slot->peerlen = sizeof(slot->peer);
        if (getpeername(bufferevent_getfd(bev), (struct sockaddr *)&slot->peer, &slot->peerlen) !=
            0)
            slot->peerlen = 0;
        sc_guard_init(&slot->g, &guard_px->glim);
    }
    if (slot->g.status != 0)
        return;
    before = slot->g.request;
    if (evbuffer_ptr_set(buf, &pos, len - info->n_added, EVBUFFER_PTR_SET) != 0)
        return;
    for (size_t left = info->n_added; left > 0 && slot->g.status == 0;) {
        n = evbuffer_peek(buf, (ev_ssize_t)left, &pos, vec, 8);
        if (n <= 0)
            break;
        for (int i = 0; i < n && i < 8 && left > 0; i++) {
            size_t take = vec[i].iov_len < left ? vec[i].iov_len : left;

            sc_guard_feed(&slot->g, vec[i].iov_base, take);
            left -= take;
            if (evbuffer_ptr_set(buf, &pos, take, EVBUFFER_PTR_ADD) != 0)
                left = 0;
        }
    }
    if (slot->g.status == 413) {
        /* evhttp answers this 413 itself (max_body is its limit too) and
         * never dispatches the request: its record is written here. */
        slot->started_us = 0;
        emit_bare_record(guard_px, SC_OUT_TOO_LARGE);
        return;
    }
    if (slot->g.request != before)
        slot->started_us = 0;
    if (slot->started_us == 0 && !sc_guard_idle(&slot->g))
        slot->started_us = cm_mono_us();
}

/* A record for a connection cut off before evhttp made a request of it. */
static void
emit_bare_record(struct sc_proxy *px, enum sc_outcome o)
{
    struct aud_record rec;
    struct cm_buf json;
    struct cm_err err;
    char id[CM_UUID_STR_LEN];
    struct pol_set *ps = pol_slot_get(&px->policy);
    const char *lineage = "dropped";

    aud_record_init(&rec);
    cm_uuid7(rec.id);
    cm_uuid_fmt(rec.id, id);
    rec.ts_start_us = rec.ts_end_us = cm_now_us();
    rec.instance = px->conf->opts.instance;
    rec.method = "-";
    rec.path = "-";
    rec.route = "other";
    rec.upstream = sc_upstream_url(px->up);
    rec.policy_id = pol_set_id(ps);
    rec.policy_hash = pol_set_hash(ps);
    rec.policy_mode = pol_mode_name(pol_set_mode(ps));
    rec.decision = "none";
    rec.http_status = sc_outcome_info(o)->status;
    rec.outcome = sc_outcome_info(o)->name;
    cm_buf_init(&json);
    if (aud_record_json(&rec, &json, &err) == CM_OK &&
        aud_emitter_send(px->em, px->chain, id, json.p, json.len, NULL, NULL) == CM_OK) {
        lineage = "queued";
    } else {
        cm_log_err("sidecar", "record_not_queued record=%s", id);
    }
    cm_buf_fini(&json);
    pol_set_unref(ps);
    sc_metrics_exchange(px->metrics, SC_MR_OTHER, SC_MD_NONE, o, rec.http_status, 0, 0, 0);
    cm_log_info("sidecar",
                "exchange record=%s route=other status=%d outcome=%s decision=none lineage=%s", id,
                rec.http_status, rec.outcome, lineage);
}

/* Once a second: a connection whose current request started receiving more
 * than request_timeout ago is answered 408 (plain HTTP) and shut down, so
 * evhttp sees the end of the stream and frees it.  evhttp's own timeout only
 * limits idle gaps, which a client trickling one byte at a time never opens. */
static void
guard_sweep(evutil_socket_t unused, short what, void *arg)
{
    static const char resp408[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                  "Content-Length: 0\r\n\r\n";
    struct sc_proxy *px = arg;
    int64_t now = cm_mono_us();

    (void)unused;
    (void)what;
    for (size_t fd = 0; fd < px->nslots; fd++) {
        struct guard_slot *slot = &px->slots[fd];
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);

        if (slot->bev == NULL || slot->started_us == 0 ||
            now - slot->started_us < px->conf->opts.request_timeout_us)
            continue;
        /* The fd may belong to a newer connection by now: check the peer. */
        if (slot->peerlen == 0 || getpeername((int)fd, (struct sockaddr *)&peer, &plen) != 0 ||
            plen != slot->peerlen || memcmp(&peer, &slot->peer, plen) != 0) {
            slot->bev = NULL;
            continue;
        }
        cm_log_info("sidecar", "request_timeout fd=%zu after_ms=%lld", fd,
                    (long long)((now - slot->started_us) / 1000));
        if (px->tls == NULL)
            (void)!write((int)fd, resp408, sizeof(resp408) - 1);
        shutdown((int)fd, SHUT_RDWR);
        slot->bev = NULL;
        emit_bare_record(px, SC_OUT_REQUEST_TIMEOUT);
    }
}

/* evhttp_set_bevcb: the connection's bufferevent (TLS or plain) with the
 * framing guard watching its input. */
static struct bufferevent *
client_bev(struct event_base *base, void *arg)
{
    struct sc_proxy *px = arg;
    struct bufferevent *bev = px->tls != NULL
                                  ? sc_tls_server_bev(base, px->tls)
                                  : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

    guard_px = px;
    if (bev == NULL)
        return NULL;
    /* A slot naming this address belongs to a connection that is gone. */
    for (size_t i = 0; i < px->nslots; i++)
        if (px->slots[i].bev == bev)
            px->slots[i].bev = NULL;
    evbuffer_add_cb(bufferevent_get_input(bev), guard_input, bev);
    return bev;
}

/* The guard's verdict on the request being dispatched: NULL when its bytes
 * were well-formed, else the complaint, with *outcome set. */
static const char *
guard_verdict(struct sc_proxy *px, struct evhttp_request *req, enum sc_outcome *outcome)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct guard_slot *slot = guard_slot_for(px, bev);
    unsigned index;

    if (slot == NULL || slot->bev != bev)
        return NULL;
    index = slot->dispatched++;
    if (slot->g.status == 0 || index < slot->g.bad_request)
        return NULL;
    switch (slot->g.status) {
    case 413: *outcome = SC_OUT_TOO_LARGE; break;
    case 414: *outcome = SC_OUT_URI_TOO_LONG; break;
    case 431: *outcome = SC_OUT_HEADERS_TOO_LARGE; break;
    case 501: *outcome = SC_OUT_NOT_IMPLEMENTED; break;
    case 505: *outcome = SC_OUT_BAD_VERSION; break;
    default: *outcome = SC_OUT_BAD_REQUEST; break;
    }
    return slot->g.why;
}

static const char *const *
arena_strv(struct cm_arena *arena, const char *const *v, size_t n)
{
    const char **out = cm_arena_alloc(arena, (n ? n : 1) * sizeof(*out));

    for (size_t i = 0; i < n; i++)
        out[i] = cm_arena_strndup(arena, v[i], strlen(v[i]));
    return out;
}

static bool
purpose_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > PURPOSE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':' || c == '/'))
            return false;
    }
    return true;
}

/* Who is calling and for what.  Returns false when the exchange was
 * answered (401 or 400). */
static bool
ex_identify(struct sc_exchange *ex, struct evkeyvalq *ih)
{
    struct sc_proxy *px = ex->px;
    const char *purpose = evhttp_find_header(ih, "X-Steward-Purpose");

    if (px->keys != NULL) {
        const char *auth = evhttp_find_header(ih, "Authorization");
        const char *key = evhttp_find_header(ih, "x-api-key");
        struct pol_caller c;

        if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
            key = auth + 7;
            while (*key == ' ')
                key++;
        }
        if (key == NULL || *key == '\0' || !pol_keys_find(px->keys, key, strlen(key), &c)) {
            evhttp_add_header(evhttp_request_get_output_headers(ex->creq), "WWW-Authenticate",
                              "Bearer realm=\"steward\"");
            ex_fail(ex, SC_OUT_UNAUTHORIZED, 0, key == NULL ? "missing_api_key" : "invalid_api_key",
                    key == NULL ? "an API key is required (Authorization: Bearer KEY)"
                                : "the API key is not known",
                    false);
            return false;
        }
        ex->caller.principal = cm_arena_strndup(ex->arena, c.principal, strlen(c.principal));
        if (c.tenant != NULL)
            ex->caller.tenant = cm_arena_strndup(ex->arena, c.tenant, strlen(c.tenant));
        ex->caller.ngroups = c.ngroups < EX_MAX_GROUPS ? c.ngroups : EX_MAX_GROUPS;
        ex->caller.groups = arena_strv(ex->arena, c.groups, ex->caller.ngroups);
        ex->caller.npurposes = c.npurposes;
        ex->caller.purposes = arena_strv(ex->arena, c.purposes, c.npurposes);
    }
    if (purpose != NULL) {
        if (!purpose_ok(purpose)) {
            ex_fail(ex, SC_OUT_BAD_REQUEST, 0, "bad_purpose",
                    "X-Steward-Purpose must be 1-64 letters, digits or - _ . : /", false);
            return false;
        }
        ex->purpose = cm_arena_strndup(ex->arena, purpose, strlen(purpose));
    } else if (ex->caller.npurposes > 0) {
        /* The key's first purpose is its default. */
        ex->purpose = ex->caller.purposes[0];
    }
    return true;
}

/* "Application/JSON; charset=utf-8" -> "application/json" in the arena. */
static const char *
media_type(struct cm_arena *arena, const char *ct)
{
    size_t n = 0;
    char *out;

    if (ct == NULL)
        return NULL;
    while (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ' && n < 128)
        n++;
    out = cm_arena_strndup(arena, ct, n);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(out[i] >= 'A' && out[i] <= 'Z' ? out[i] + 32 : out[i]);
    return out;
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
    enum sc_outcome bad_outcome = SC_OUT_BAD_REQUEST;
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
    ex->ps = pol_slot_get(&px->policy);
    ex->conf = sc_conf_ref(px->conf);
    ex->monitor = pol_set_mode(ex->ps) == POL_MODE_MONITOR;
    ex->method = method_name(cmd);
    ex->kind = EX_INSPECT;
    ex->route = POL_ROUTE_OTHER;
    ex->route_name = "other";
    ex->outcome = SC_OUT_INTERNAL;
    ex->prompt_tokens = ex->completion_tokens = -1;
    cm_buf_init(&ex->resp);
    ex->live_next = px->live;
    if (px->live != NULL)
        px->live->live_prev = ex;
    px->live = ex;
    px->inflight++;
    atomic_fetch_add_explicit(&px->metrics->inflight, 1, memory_order_relaxed);
    q = strchr(uri, '?');
    plen = q ? (size_t)(q - uri) : strlen(uri);
    ex->path = cm_arena_strndup(ex->arena, uri, plen > 256 ? 256 : plen);
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), client_closed, ex);
    ex_read_context(ex, ih);
    if (px->tls != NULL) {
        char id[256];

        /* The verified certificate names the caller, unless an API key
         * (ex_identify) says more. */
        if (*sc_tls_peer_identity(req, id, sizeof(id)) != '\0')
            ex->caller.principal = cm_arena_strndup(ex->arena, id, strlen(id));
    }

    bad = guard_verdict(px, req, &bad_outcome);
    if (bad == NULL && uri[0] != '/')
        bad = "the request target must be a path (origin-form)"; /* belt and braces */
    if (bad != NULL) {
        ex_fail(ex, bad_outcome, 0, "bad_framing", bad, true);
        return;
    }
    if (ex->conf->opts.on_spool_full == SC_SPOOL_FULL_FAIL_CLOSED &&
        aud_emitter_spool_full(px->em)) {
        /* Nothing reaches the model while its records cannot be kept. */
        ex_fail(ex, SC_OUT_LINEAGE_UNAVAILABLE, 0, "lineage_unavailable",
                "steward cannot keep lineage records right now (spool full)", false);
        return;
    }
    for (size_t i = 0; i < CM_ARRAY_LEN(api_routes); i++) {
        if (strlen(api_routes[i].path) == plen && memcmp(uri, api_routes[i].path, plen) == 0) {
            ex->route = api_routes[i].route;
            ex->route_name = pol_route_name(ex->route);
            break;
        }
    }
    if (ex->route == POL_ROUTE_OTHER && plen >= 10 && memcmp(uri, "/v1/models", 10) == 0 &&
        (plen == 10 || uri[10] == '/')) {
        ex->kind = EX_MODELS;
        ex->route_name = ROUTE_MODELS_NAME;
    }
    /* Who calls is settled before anything else is said about the request
     * (a 401 reveals nothing about paths or bodies), once the route is known
     * so that the record names it. */
    if (!ex_identify(ex, ih))
        return;
    if (ex->route == POL_ROUTE_OTHER) {
        if (ex->kind == EX_MODELS) {
            if (cmd != EVHTTP_REQ_GET) {
                ex_fail(ex, SC_OUT_BAD_METHOD, 0, "method_not_allowed",
                        "only GET is allowed on /v1/models", false);
                return;
            }
            ex_forward(ex, cmd, NULL, 0, NULL);
            return;
        }
        if (ex->conf->opts.unknown_path == SC_UNKNOWN_PATH_DENY) {
            ex_fail(ex, SC_OUT_NOT_FOUND, 0, "unknown_path",
                    "steward does not serve this path (unknown_path = deny)", false);
            return;
        }
        if (ex->conf->opts.unknown_path == SC_UNKNOWN_PATH_INSPECT && cmd != EVHTTP_REQ_POST &&
            evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0) {
            /* Generic mode inspects POST bodies; a body never passes
             * uninspected. */
            ex_fail(ex, SC_OUT_BAD_METHOD, 0, "method_not_allowed",
                    "only POST bodies are inspected on this path (unknown_path = inspect)", false);
            return;
        }
    }
    if (ex->route == POL_ROUTE_OTHER &&
        !(ex->conf->opts.unknown_path == SC_UNKNOWN_PATH_INSPECT && cmd == EVHTTP_REQ_POST)) {
        ex->kind = EX_OTHER;
        {
            /* Uninspected, but the caller rules still apply (route "other",
             * no findings): a deny here is a deny. */
            static const unsigned none[POL_LABEL_MAX];
            struct pol_input in;
            struct pol_decision d;

            ex->content_type = media_type(ex->arena, evhttp_find_header(ih, "Content-Type"));
            ex_input(ex, none, 0, &in);
            pol_set_eval(ex->ps, POL_DIR_REQUEST, &in, &d);
            ex_add_matched(ex, &d);
            if (d.verdict == POL_VERDICT_DENY) {
                ex->denied = true;
                ex->rule_id = d.rule_id;
                if (!ex->monitor) {
                    char msg[512];

                    snprintf(msg, sizeof(msg), "request denied by policy rule '%s'%s%s",
                             d.rule_id ? d.rule_id : "", d.reason ? ": " : "",
                             d.reason ? d.reason : "");
                    ex_fail(ex, SC_OUT_DENIED, d.status, "policy_denied", msg, false);
                    return;
                }
            }
        }
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
    if (ce != NULL && strcasecmp(ce, "identity") != 0 && strcasecmp(ce, "gzip") != 0 &&
        strcasecmp(ce, "deflate") != 0) {
        /* Compressed bytes never pass uninspected. */
        ex_fail(ex, SC_OUT_UNSUPPORTED, 0, "unsupported_content_encoding",
                "request bodies may be identity, gzip or deflate encoded", false);
        return;
    }

    {
        int64_t t = cm_mono_us();
        struct pol_body *b;
        struct pol_decision d;
        struct pol_input in;
        unsigned counts[POL_LABEL_MAX] = {0};
        enum pol_pii_op ops[POL_LABEL_MAX];
        struct pol_pii_redact_opts ropts = {0};
        struct cm_buf rewritten, inflated;
        struct cm_err err;
        const char *body;
        size_t nrep = 0;
        int rc;

        ex->content_type = media_type(ex->arena, ct != NULL ? ct : "application/json");
        inbuf = evhttp_request_get_input_buffer(req);
        blen = evbuffer_get_length(inbuf);
        body = blen ? (const char *)evbuffer_pullup(inbuf, -1) : "";
        cm_buf_init(&inflated);
        if (ce != NULL && strcasecmp(ce, "identity") != 0) {
            rc = sc_inflate(body, blen, strcasecmp(ce, "gzip") == 0, ex->conf->opts.max_body,
                            &inflated);
            if (rc != CM_OK) {
                cm_buf_fini(&inflated);
                ex->governance_us += mono_since(t);
                if (rc == CM_ELIMIT)
                    ex_fail(ex, SC_OUT_TOO_LARGE, 0, "body_too_large",
                            "the inflated body exceeds max_body", false);
                else
                    ex_fail(ex, SC_OUT_BAD_REQUEST, 0, "bad_encoding",
                            "the compressed body is corrupt or truncated", false);
                return;
            }
            body = inflated.p;
            blen = inflated.len;
        }
        rc = pol_body_parse(ex->arena, ex->route, POL_DIR_REQUEST, body, blen, &ex->conf->lim,
                            ex->ps, &b, &err);
        if (rc == CM_EINTERNAL) {
            ex->governance_us += mono_since(t);
            cm_buf_fini(&inflated);
            cm_log_err("sidecar", "policy_scan_failed record=%s", ex->id_str);
            ex_fail(ex, SC_OUT_INTERNAL, 0, "policy_failed",
                    "steward could not apply the policy; nothing was sent", false);
            return;
        }
        if (rc != CM_OK) {
            ex->governance_us += mono_since(t);
            cm_buf_fini(&inflated);
            ex_fail(ex, SC_OUT_BAD_REQUEST, 0, rc == CM_ELIMIT ? "too_deep" : "invalid_json",
                    err.msg, false);
            return;
        }
        if (pol_body_model(b) != NULL)
            ex->model = pol_body_model(b);
        ex->modalities = pol_body_modalities(b);
        pol_body_counts(b, counts);
        ex_input(ex, counts, ex->modalities, &in);
        pol_set_eval(ex->ps, POL_DIR_REQUEST, &in, &d);
        ex_add_matched(ex, &d);
        ex_add_findings(ex, "request", b, &d);
        if (d.verdict == POL_VERDICT_DENY) {
            char msg[512];

            ex->denied = true;
            ex->rule_id = d.rule_id;
            if (!ex->monitor) {
                ex->governance_us += mono_since(t);
                snprintf(msg, sizeof(msg), "request denied by policy rule '%s'%s%s",
                         d.rule_id ? d.rule_id : "", d.reason ? ": " : "",
                         d.reason ? d.reason : "");
                cm_buf_fini(&inflated);
                ex_fail(ex, SC_OUT_DENIED, d.status, "policy_denied", msg, false);
                return;
            }
        }
        if (ex->monitor) {
            /* Decide and record, change nothing: the original bytes go. */
            if (pol_decision_rewrites(&d, counts))
                ex->redacted = true;
            ex->governance_us += mono_since(t);
            ex_forward(ex, cmd, body, blen, NULL);
            cm_buf_fini(&inflated);
            return;
        }
        ex_ops(ex, &d, ops, &ropts);
        cm_buf_init(&rewritten);
        rc = pol_body_rewrite_v(b, ops, &ropts, ex->vault, &rewritten, &nrep);
        ex->governance_us += mono_since(t);
        cm_buf_fini(&inflated);
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
sc_proxy_new(struct event_base *base, const struct sc_proxy_env *env, struct pol_set *ps,
             struct sc_proxy **out, struct cm_err *err)
{
    const struct sc_options *opts = &env->conf->opts;
    struct sc_proxy *px = cm_calloc(1, sizeof(*px));
    int rc;

    px->base = base;
    px->em = env->em;
    px->chain = env->chain;
    px->done_fd = -1;
    px->metrics = env->metrics;
    px->tls = env->tls;
    px->pii_keys = env->pii_keys;
    rc = sc_upstream_new(base, opts->upstream, (size_t)opts->upstream_pool,
                         opts->upstream_timeout_us, env->upstream_tls, &px->up, err);
    if (rc != CM_OK) {
        free(px);
        return rc;
    }
    pthread_mutex_init(&px->done_mu, NULL);
    px->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (px->done_fd < 0) {
        rc = cm_err_set(err, CM_EIO, "eventfd: %s", strerror(errno));
        pol_slot_init(&px->policy, ps);
        sc_proxy_free(px);
        return rc;
    }
    px->done_ev = event_new(base, px->done_fd, EV_READ | EV_PERSIST, on_lineage_done, px);
    event_add(px->done_ev, NULL);
    px->http = evhttp_new(base);
    sc_proxy_set_conf(px, env->conf);
    evhttp_set_flags(px->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_allowed_methods(px->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_bevcb(px->http, client_bev, px);
    evhttp_set_gencb(px->http, proxy_handle, px);
    {
        struct timeval second = {1, 0};

        px->sweep = event_new(base, -1, EV_PERSIST, guard_sweep, px);
        event_add(px->sweep, &second);
    }
    pol_slot_init(&px->policy, ps);
    *out = px;
    return CM_OK;
}

int
sc_proxy_accept(struct sc_proxy *px, int fd, struct cm_err *err)
{
    px->listener = evhttp_accept_socket_with_handle(px->http, fd);
    if (px->listener == NULL) {
        close(fd);
        return cm_err_set(err, CM_EIO, "cannot serve the data listener");
    }
    return CM_OK;
}

void
sc_proxy_set_conf(struct sc_proxy *px, struct sc_conf *conf)
{
    const struct sc_options *opts = &conf->opts;
    struct sc_conf *old = px->conf;
    struct timeval tv;

    px->conf = sc_conf_ref(conf);
    sc_conf_unref(old);
    /* evhttp and the guard enforce the same max_body: evhttp answers the
     * 413, the guard records it (guard_input). */
    evhttp_set_max_body_size(px->http, (ev_ssize_t)opts->max_body);
    /* evhttp's own header limit sits above the guard's, so that the guard
     * answers (431/414, with a lineage record) before evhttp would. */
    evhttp_set_max_headers_size(px->http, (ev_ssize_t)(2 * opts->max_header + opts->max_uri));
    tv.tv_sec = (time_t)(opts->client_timeout_us / 1000000);
    tv.tv_usec = (suseconds_t)(opts->client_timeout_us % 1000000);
    evhttp_set_timeout_tv(px->http, &tv);
    /* Every connection's guard reads these through its pointer: a
     * connection mid-request meets the new limits from its next byte. */
    px->glim.max_target = opts->max_uri;
    px->glim.max_header_line = opts->max_header_line;
    px->glim.max_header_bytes = opts->max_header;
    px->glim.max_headers = (size_t)opts->max_headers;
    px->glim.max_body = opts->max_body;
    if (px->up != NULL)
        sc_upstream_set_timeout(px->up, opts->upstream_timeout_us);
    for (size_t i = 0; i < px->nfwd; i++)
        free(px->fwd[i]);
    free(px->fwd);
    px->fwd = NULL;
    px->nfwd = 0;
    split_allowlist(px, opts->forward_headers);
}

void
sc_proxy_set_policy(struct sc_proxy *px, struct pol_set *ps)
{
    pol_slot_set(&px->policy, ps);
}

void
sc_proxy_set_keys(struct sc_proxy *px, struct pol_keys *keys)
{
    struct pol_keys *old = px->keys;

    /* Loop thread: lookups happen synchronously on this thread, and each
     * exchange copies what it needs, so the old table can go at once. */
    px->keys = keys != NULL ? pol_keys_ref(keys) : NULL;
    pol_keys_unref(old);
}

void
sc_proxy_stop_accepting(struct sc_proxy *px)
{
    if (px->sweep != NULL) {
        /* The periodic sweep would keep a draining loop alive. */
        event_free(px->sweep);
        px->sweep = NULL;
    }
    if (px->listener != NULL) {
        evhttp_del_accept_socket(px->http, px->listener);
        px->listener = NULL;
    }
}

size_t
sc_proxy_cut_off(struct sc_proxy *px)
{
    struct sc_exchange *ex, *next;
    size_t n = 0;

    px->cut_off = true;
    for (ex = px->live; ex != NULL; ex = next) {
        next = ex->live_next; /* ex may finish (and be freed) below */
        if (ex->ureq == NULL || ex->cancelling)
            continue;
        ex->cut_off = true;
        ex_cancel_upstream(ex);
        cm_log_warn("sidecar", "exchange_cut_off record=%s reason=drain_timeout", ex->id_str);
        upstream_end(ex, NULL, 0);
        n++;
    }
    return n;
}

int64_t
sc_proxy_drain_timeout_us(const struct sc_proxy *px)
{
    return px->conf->opts.drain_timeout_us;
}

void
sc_proxy_close(struct sc_proxy *px)
{
    /* Connections still open go now, on the loop's thread: their exchanges
     * end (client_closed) and hand their records over while the emitter is
     * there. */
    if (px->http != NULL) {
        px->cut_off = true;
        evhttp_free(px->http);
        px->http = NULL;
        px->listener = NULL;
    }
}

size_t
sc_proxy_inflight(const struct sc_proxy *px)
{
    return px->inflight + px->writing;
}

void
sc_proxy_free(struct sc_proxy *px)
{
    if (px == NULL)
        return;
    if (px->http != NULL)
        evhttp_free(px->http);
    if (px->done_ev != NULL)
        event_free(px->done_ev);
    if (px->done_fd >= 0)
        close(px->done_fd);
    pthread_mutex_destroy(&px->done_mu);
    sc_upstream_free(px->up);
    for (size_t i = 0; i < px->nfwd; i++)
        free(px->fwd[i]);
    free(px->fwd);
    pol_slot_fini(&px->policy);
    pol_keys_unref(px->keys);
    sc_conf_unref(px->conf);
    free(px->slots);
    if (px->sweep != NULL)
        event_free(px->sweep);
    free(px);
}
