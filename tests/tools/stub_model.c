/* SPDX-License-Identifier: Apache-2.0 */
/*
 * steward-stub-model: a deterministic OpenAI-compatible model server for the
 * tests, the demo and the benchmark baseline.
 *
 * One libevent evhttp loop, one thread. Routes: POST /v1/chat/completions
 * (JSON or Server-Sent Events), POST /v1/embeddings, GET /v1/models,
 * GET /health, and the test hooks GET|DELETE /_stub/received. The same
 * request always gets the same answer: ids are hashes of the body, "created"
 * is fixed, token counts are bytes/4, stream deltas are split by a fixed rule.
 * Request headers steer it for tests: X-Stub-Status (forced error status),
 * X-Stub-Echo (answer "You said: " + last user text), X-Stub-Delay-Ms (delay
 * before the answer, and between stream events), X-Stub-Chunk-Bytes (split
 * stream deltas every N bytes instead of every few words, so a value can be
 * cut across events), X-Stub-Abort-After (a stream's connection is cut after
 * N content events, with no end: a model server that dies mid-answer),
 * X-Stub-Sse (how stream events are written: "multiline" pretty-prints each
 * event's JSON over several data lines, as the SSE standard allows; "text"
 * sends content deltas as bare text data lines, not JSON).
 * GET /_stub/closed lists the streams whose client (the sidecar) went away
 * before their end, with the X-Steward-Record they carried, how many events
 * had gone out and when the stub noticed (CLOCK_MONOTONIC ms, the clock of
 * Python's time.monotonic() on Linux): cancellation tests read it.
 *
 * Every request (except /_stub/) is recorded: appended to --record as one JSON
 * line (fflush, no fsync) and kept in a ring of the last STUB_RECEIVED_MAX.
 * Delays never sleep: they are loop timers. Logs are logfmt on stderr and
 * never contain bodies or header values.
 *
 * Read next: tests/tools/README.md; DESIGN.md section 3 for the evhttp facts
 * (TCP_NODELAY is set on the listener; Linux passes it to accepted sockets).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define STUB_RECEIVED_MAX 1000
#define STUB_MAX_BODY (64 * 1024 * 1024)
#define STUB_CREATED 1700000000
#define STUB_DEFAULT_MODEL "stub-model"
#define STUB_EMBED_DIMS 8
#define STUB_WORDS_PER_DELTA 3
#define STUB_MAX_DELTA_BYTES 32
#define STUB_MAX_DELAY_MS 60000
#define STUB_CLOSED_MAX 256

static const char default_answer[] = "This is a deterministic answer from the steward stub model.";
static const char filler[] =
    " The quick brown fox jumps over the lazy dog while the stub model keeps"
    " answering in the same words every time.";

struct stub_pending;

struct stub {
    struct event_base *base;
    struct evhttp *http;
    const char *port_file;
    bool port_file_written;
    FILE *record;
    bool echo;
    bool verbose;
    char *answer; /* the default content, owned */
    size_t answer_len;
    char *answer_json;                            /* the same as a quoted JSON string, owned */
    struct stub_rec *received[STUB_RECEIVED_MAX]; /* ring, owned */
    size_t recv_head;                             /* next slot to write */
    size_t recv_count;
    uint64_t seq;
    struct stub_pending *pending; /* delayed replies and streams */
    struct stub_closed {
        char record[64];       /* the request's X-Steward-Record, or "" */
        unsigned events;       /* events sent before the client went away */
        int64_t at_ms;         /* CLOCK_MONOTONIC when the stub noticed */
    } closed[STUB_CLOSED_MAX]; /* ring of streams cut short by the client */
    size_t closed_count;
};

/*
 * One received request, kept raw (cheap on the hot path) and turned into JSON
 * only when /_stub/received is read or --record is set.
 */
struct stub_rec {
    uint64_t seq;
    enum evhttp_cmd_type cmd;
    char *uri;  /* owned */
    char *hdrs; /* owned: "name\0value\0" pairs */
    size_t hdrs_len;
    char *body; /* owned */
    size_t body_len;
};

/* Growable byte buffer; `p` is NUL-terminated when non-NULL. */
struct sbuf {
    char *p;
    size_t n, cap;
};

enum stream_phase {
    PH_ROLE,
    PH_CONTENT,
    PH_FINISH,
    PH_USAGE,
    PH_DONE,
};

/* A reply that leaves the request callback: a delayed JSON body or a stream. */
struct stub_pending {
    struct stub_pending *prev, *next;
    struct stub *stub;
    struct evhttp_request *req;
    struct event *timer;
    struct timeval delay;
    bool stream;
    /* delayed JSON reply */
    int status;
    char *body; /* owned */
    /* stream */
    enum stream_phase phase;
    char *id, *model, *content; /* owned */
    size_t content_len, off, chunk_bytes;
    bool include_usage;
    long prompt_tokens, completion_tokens;
    unsigned events;  /* events sent so far */
    long abort_after; /* X-Stub-Abort-After: cut after this many content events */
    int sse;          /* X-Stub-Sse: SSE_COMPACT, SSE_MULTILINE or SSE_TEXT */
    char record[64];  /* X-Steward-Record of the request */
};

enum { SSE_COMPACT, SSE_MULTILINE, SSE_TEXT };

/* ------------------------------------------------------------------ logging */

static size_t
logfmt_value(char *out, size_t cap, size_t pos, const char *s)
{
    bool bare = *s != '\0';
    for (const char *p = s; *p && bare; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
            bare = false;
    }
    if (bare) {
        int n = snprintf(out + pos, pos < cap ? cap - pos : 0, "%s", s);
        return pos + (size_t)(n > 0 ? n : 0);
    }
    if (pos < cap)
        out[pos] = '"';
    pos++;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c < ' ' || c == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", c);
        else {
            esc[0] = (char)c;
            esc[1] = '\0';
        }
        for (const char *e = esc; *e; e++, pos++)
            if (pos < cap)
                out[pos] = *e;
    }
    if (pos < cap)
        out[pos] = '"';
    return pos + 1;
}

/* Quotes s for logfmt into a caller buffer; returns buf. */
static const char *
lq(char *buf, size_t cap, const char *s)
{
    size_t n = logfmt_value(buf, cap - 1, 0, s);
    buf[n < cap - 1 ? n : cap - 1] = '\0';
    return buf;
}

/* One logfmt line on stderr, one write(2); saves errno. */
__attribute__((format(printf, 3, 4))) static void
stub_log(const char *lvl, const char *msg, const char *kvfmt, ...)
{
    int saved = errno;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t pos;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    pos = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    pos += (size_t)snprintf(line + pos, sizeof line - pos,
                            ".%03ldZ lvl=%s mod=stub msg=", ts.tv_nsec / 1000000L, lvl);
    pos = logfmt_value(line, sizeof line, pos, msg);
    if (kvfmt != NULL && pos + 1 < sizeof line) {
        va_list ap;
        line[pos++] = ' ';
        va_start(ap, kvfmt);
        int n = vsnprintf(line + pos, sizeof line - pos, kvfmt, ap);
        va_end(ap);
        pos += (size_t)(n > 0 ? n : 0);
    }
    if (pos >= sizeof line - 1)
        pos = sizeof line - 2;
    line[pos++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
    errno = saved;
}

/* ---------------------------------------------------------------- helpers */

static void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        stub_log("error", "out of memory", NULL);
        abort();
    }
    return p;
}

static char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            stub_log("error", "out of memory", NULL);
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static uint64_t
fnv1a64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    /* final avalanche (splitmix64) so nearby seeds differ in every bit */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static void
base64_add(struct sbuf *out, const unsigned char *in, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        char q[4];
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        sbuf_add(out, q, 4);
    }
}

static long
tokens_of(size_t bytes)
{
    return bytes == 0 ? 0 : (long)((bytes + 3) / 4);
}

/* Returns s as a quoted, escaped JSON string (malloc'd). */
static char *
json_quote(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    char *out = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return out ? out : xstrndup("\"\"", 2);
}

/* Writes content + "\n" to path through a temp file and rename(2). */
static int
write_file_atomic(const char *path, const char *content)
{
    char tmp[PATH_MAX];
    FILE *f;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());

    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    if (fprintf(f, "%s\n", content) < 0 || fclose(f) != 0) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

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

static long
header_long(struct evhttp_request *req, const char *name, long min, long max, long dflt)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
    char *end;
    long n;

    if (v == NULL)
        return dflt;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
        return dflt;
    return n;
}

static bool
header_true(struct evhttp_request *req, const char *name)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
    return v != NULL &&
           (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0);
}

/* ---------------------------------------------------------------- replies */

static void
free_cb(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)(uintptr_t)data);
}

/* Sends body (owned, free()d here) as application/json. */
static void
reply_text(struct evhttp_request *req, int status, char *body)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_reference(out, body, strlen(body), free_cb, NULL);
    evhttp_send_reply(req, status, NULL, NULL);
}

/* Sends obj (reference taken) as application/json. */
static void
reply_json(struct evhttp_request *req, int status, json_t *obj)
{
    char *body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    reply_text(req, status, body);
}

static json_t *
error_body(int status, const char *message, const char *code)
{
    const char *type = status >= 500   ? "server_error"
                       : status == 401 ? "authentication_error"
                       : status == 429 ? "rate_limit_error"
                                       : "invalid_request_error";
    return json_pack("{s:{s:s, s:s, s:n, s:o}}", "error", "message", message, "type", type, "param",
                     "code", code ? json_string(code) : json_null());
}

static void
reply_error(struct evhttp_request *req, int status, const char *message, const char *code)
{
    reply_json(req, status, error_body(status, message, code));
}

/* ------------------------------------------------------------ pending list */

static void stream_step(struct stub_pending *p);

static void
pending_free(struct stub_pending *p)
{
    struct stub *stub = p->stub;

    if (p->prev)
        p->prev->next = p->next;
    else
        stub->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (p->timer)
        event_free(p->timer);
    free(p->body);
    free(p->id);
    free(p->model);
    free(p->content);
    free(p);
}

static void
pending_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct stub_pending *p = arg;

    (void)fd;
    (void)what;
    if (!p->stream) {
        char *body = p->body;
        p->body = NULL;
        reply_text(p->req, p->status, body);
        pending_free(p);
        return;
    }
    stream_step(p);
}

static struct stub_pending *
pending_new(struct stub *stub, struct evhttp_request *req, long delay_ms)
{
    struct stub_pending *p = xmalloc(sizeof *p);

    memset(p, 0, sizeof *p);
    p->stub = stub;
    p->req = req;
    p->delay.tv_sec = delay_ms / 1000;
    p->delay.tv_usec = (delay_ms % 1000) * 1000;
    p->timer = evtimer_new(stub->base, pending_timer_cb, p);
    p->next = stub->pending;
    if (stub->pending)
        stub->pending->prev = p;
    stub->pending = p;
    return p;
}

/* Replies now, or after the X-Stub-Delay-Ms of the request. Takes body. */
static void
reply_text_delayed(struct stub *stub, struct evhttp_request *req, int status, char *body,
                   long delay_ms)
{
    if (delay_ms <= 0) {
        reply_text(req, status, body);
        return;
    }
    struct stub_pending *p = pending_new(stub, req, delay_ms);
    p->status = status;
    p->body = body;
    evtimer_add(p->timer, &p->delay);
}

/* The same for a JSON value (reference taken). */
static void
reply_json_delayed(struct stub *stub, struct evhttp_request *req, int status, json_t *obj,
                   long delay_ms)
{
    char *body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    reply_text_delayed(stub, req, status, body, delay_ms);
}

/* -------------------------------------------------------------- recording */

static void
rec_free(struct stub_rec *rec)
{
    if (rec == NULL)
        return;
    free(rec->uri);
    free(rec->hdrs);
    free(rec->body);
    free(rec);
}

/* {"seq","method","path","headers":{...},"body"} (or body null + body_base64
 * when the body is not UTF-8). Header names lower-cased, repeats joined. */
static json_t *
rec_to_json(const struct stub_rec *rec)
{
    json_t *obj = json_object(), *headers = json_object(), *v;

    for (size_t off = 0; off < rec->hdrs_len;) {
        char *name = rec->hdrs + off;
        const char *value = name + strlen(name) + 1;
        json_t *prev;

        off = (size_t)(value - rec->hdrs) + strlen(value) + 1;
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
        prev = json_object_get(headers, name);
        if (json_is_string(prev)) {
            struct sbuf b = {0};
            sbuf_add(&b, json_string_value(prev), json_string_length(prev));
            sbuf_add(&b, ", ", 2);
            sbuf_add(&b, value, strlen(value));
            v = json_stringn(b.p, b.n);
            free(b.p);
        } else {
            v = json_string(value);
        }
        json_object_set_new(headers, name, v ? v : json_null());
    }
    json_object_set_new(obj, "seq", json_integer((json_int_t)rec->seq));
    json_object_set_new(obj, "method", json_string(method_name(rec->cmd)));
    v = json_string(rec->uri); /* the raw request target */
    json_object_set_new(obj, "path", v ? v : json_null());
    json_object_set_new(obj, "headers", headers);
    v = json_stringn(rec->body, rec->body_len); /* NULL if not UTF-8 */
    if (v != NULL) {
        json_object_set_new(obj, "body", v);
    } else {
        struct sbuf b = {0};
        base64_add(&b, (const unsigned char *)rec->body, rec->body_len);
        json_object_set_new(obj, "body", json_null());
        json_object_set_new(obj, "body_base64", json_stringn(b.p, b.n));
        free(b.p);
    }
    return obj;
}

static void
record_request(struct stub *stub, struct evhttp_request *req, const char *body, size_t len)
{
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    struct sbuf h = {0};
    struct stub_rec *rec = xmalloc(sizeof *rec);
    const char *uri = evhttp_request_get_uri(req);

    TAILQ_FOREACH (kv, hdrs, next) {
        sbuf_add(&h, kv->key, strlen(kv->key) + 1);
        sbuf_add(&h, kv->value, strlen(kv->value) + 1);
    }
    rec->seq = ++stub->seq;
    rec->cmd = evhttp_request_get_command(req);
    rec->uri = xstrndup(uri, strlen(uri));
    rec->hdrs = h.p;
    rec->hdrs_len = h.n;
    rec->body = xstrndup(body, len);
    rec->body_len = len;

    if (stub->record != NULL) {
        json_t *obj = rec_to_json(rec);
        char *line = json_dumps(obj, JSON_COMPACT);
        json_decref(obj);
        fputs(line, stub->record);
        fputc('\n', stub->record);
        fflush(stub->record);
        free(line);
    }
    rec_free(stub->received[stub->recv_head]);
    stub->received[stub->recv_head] = rec;
    stub->recv_head = (stub->recv_head + 1) % STUB_RECEIVED_MAX;
    if (stub->recv_count < STUB_RECEIVED_MAX)
        stub->recv_count++;
}

static void
handle_stub_admin(struct stub *stub, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

    if (strcmp(path, "/_stub/closed") == 0 && cmd == EVHTTP_REQ_GET) {
        json_t *arr = json_array();
        size_t n = stub->closed_count < STUB_CLOSED_MAX ? stub->closed_count : STUB_CLOSED_MAX;

        for (size_t i = stub->closed_count - n; i < stub->closed_count; i++) {
            const struct stub_closed *c = &stub->closed[i % STUB_CLOSED_MAX];

            json_array_append_new(arr, json_pack("{s:s, s:i, s:I}", "record", c->record, "events",
                                                 (int)c->events, "at_ms", (json_int_t)c->at_ms));
        }
        reply_json(req, 200, arr);
        return;
    }
    if (strcmp(path, "/_stub/received") != 0) {
        reply_error(req, 404, "unknown stub endpoint", "unknown_url");
        return;
    }
    if (cmd == EVHTTP_REQ_GET) {
        json_t *arr = json_array();
        size_t start = (stub->recv_head + STUB_RECEIVED_MAX - stub->recv_count) % STUB_RECEIVED_MAX;
        for (size_t i = 0; i < stub->recv_count; i++)
            json_array_append_new(arr,
                                  rec_to_json(stub->received[(start + i) % STUB_RECEIVED_MAX]));
        reply_json(req, 200, arr);
    } else if (cmd == EVHTTP_REQ_DELETE) {
        for (size_t i = 0; i < STUB_RECEIVED_MAX; i++) {
            rec_free(stub->received[i]);
            stub->received[i] = NULL;
        }
        stub->recv_head = stub->recv_count = 0;
        reply_json(req, 200, json_pack("{s:b}", "cleared", 1));
    } else {
        reply_error(req, 405, "use GET or DELETE", "method_not_allowed");
    }
}

/* ------------------------------------------------------------------- chat */

/* Appends the text of a message "content": a string or an array of parts. */
static void
content_text(const json_t *content, struct sbuf *out)
{
    size_t i;
    json_t *part;

    if (json_is_string(content)) {
        sbuf_add(out, json_string_value(content), json_string_length(content));
        return;
    }
    if (!json_is_array(content))
        return;
    json_array_foreach (content, i, part) {
        json_t *text = json_object_get(part, "text");
        if (json_is_string(text))
            sbuf_add(out, json_string_value(text), json_string_length(text));
        else if (json_is_string(part))
            sbuf_add(out, json_string_value(part), json_string_length(part));
    }
}

/*
 * End offset of the stream delta that starts at off: chunk_bytes bytes (moved
 * forward to a UTF-8 boundary) when set, else STUB_WORDS_PER_DELTA words with
 * their trailing spaces, capped at STUB_MAX_DELTA_BYTES. Always > off.
 */
static size_t
next_delta(const char *s, size_t len, size_t off, size_t chunk_bytes)
{
    size_t end, cap;
    int words = 0;

    if (chunk_bytes > 0) {
        end = off + chunk_bytes < len ? off + chunk_bytes : len;
    } else {
        cap = off + STUB_MAX_DELTA_BYTES < len ? off + STUB_MAX_DELTA_BYTES : len;
        end = off;
        while (end < cap && words < STUB_WORDS_PER_DELTA) {
            while (end < cap && s[end] != ' ')
                end++;
            while (end < cap && s[end] == ' ')
                end++;
            words++;
        }
    }
    while (end < len && ((unsigned char)s[end] & 0xC0) == 0x80)
        end++;
    return end > off ? end : off + 1;
}

static void
send_event(struct evhttp_request *req, json_t *obj, int sse)
{
    struct evbuffer *buf = evbuffer_new();
    char *s = json_dumps(obj, sse == SSE_MULTILINE ? JSON_INDENT(2) : JSON_COMPACT);

    json_decref(obj);
    if (sse == SSE_MULTILINE) {
        /* one data line per line of the pretty-printed JSON */
        for (char *line = s, *nl; line != NULL; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            evbuffer_add(buf, "data: ", 6);
            evbuffer_add(buf, line, nl ? (size_t)(nl - line) : strlen(line));
            evbuffer_add(buf, "\n", 1);
        }
        free(s);
    } else {
        evbuffer_add(buf, "data: ", 6);
        evbuffer_add_reference(buf, s, strlen(s), free_cb, NULL);
        evbuffer_add(buf, "\n", 1);
    }
    evbuffer_add(buf, "\n", 1);
    evhttp_send_reply_chunk(req, buf);
    evbuffer_free(buf);
}

/* A content delta as a bare text data line (X-Stub-Sse: text). */
static void
send_text_event(struct evhttp_request *req, const char *p, size_t n)
{
    struct evbuffer *buf = evbuffer_new();

    evbuffer_add(buf, "data: ", 6);
    evbuffer_add(buf, p, n);
    evbuffer_add(buf, "\n\n", 2);
    evhttp_send_reply_chunk(req, buf);
    evbuffer_free(buf);
}

static json_t *
chunk_new(const struct stub_pending *p, json_t *delta, const char *finish)
{
    json_t *choice = json_pack("{s:i, s:o, s:n, s:o}", "index", 0, "delta", delta, "logprobs",
                               "finish_reason", finish ? json_string(finish) : json_null());
    return json_pack("{s:s, s:s, s:i, s:s, s:s, s:[o]}", "id", p->id, "object",
                     "chat.completion.chunk", "created", STUB_CREATED, "model", p->model,
                     "system_fingerprint", "steward-stub", "choices", choice);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A stream's client went away before its end: keep a note for /_stub/closed. */
static void
note_closed(struct stub_pending *p)
{
    struct stub_closed *c = &p->stub->closed[p->stub->closed_count % STUB_CLOSED_MAX];

    snprintf(c->record, sizeof c->record, "%s", p->record);
    c->events = p->events;
    c->at_ms = mono_ms();
    p->stub->closed_count++;
    stub_log("info", "client_closed", "events=%u", p->events);
}

/* Sends the next event(s); all of them at once when there is no delay. */
static void
stream_step(struct stub_pending *p)
{
    do {
        /* The client went away: evhttp detached the request from it. */
        if (evhttp_request_get_connection(p->req) == NULL) {
            note_closed(p);
            evhttp_send_reply_end(p->req); /* frees the detached request */
            pending_free(p);
            return;
        }
        if (p->abort_after > 0 && p->phase == PH_CONTENT && p->events > (unsigned)p->abort_after) {
            /* Die mid-answer: drop the connection with no last chunk (the
             * request goes with it). */
            struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
            struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);

            stub_log("info", "stream_aborted", "events=%u", p->events);
            /* What was queued leaves before the cut. */
            evbuffer_write(bufferevent_get_output(bev), bufferevent_getfd(bev));
            evhttp_connection_free(evcon);
            pending_free(p);
            return;
        }
        p->events++;
        switch (p->phase) {
        case PH_ROLE:
            send_event(
                p->req,
                chunk_new(p, json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL),
                p->sse);
            p->phase = p->content_len > 0 ? PH_CONTENT : PH_FINISH;
            break;
        case PH_CONTENT: {
            size_t end = next_delta(p->content, p->content_len, p->off, p->chunk_bytes);
            json_t *delta = json_object();
            json_object_set_new(delta, "content", json_stringn(p->content + p->off, end - p->off));
            if (p->sse == SSE_TEXT) {
                json_decref(delta);
                send_text_event(p->req, p->content + p->off, end - p->off);
            } else {
                send_event(p->req, chunk_new(p, delta, NULL), p->sse);
            }
            p->off = end;
            if (p->off >= p->content_len)
                p->phase = PH_FINISH;
            break;
        }
        case PH_FINISH:
            send_event(p->req, chunk_new(p, json_object(), "stop"), p->sse);
            p->phase = p->include_usage ? PH_USAGE : PH_DONE;
            break;
        case PH_USAGE: {
            json_t *obj = chunk_new(p, json_object(), NULL);
            json_object_set_new(obj, "choices", json_array());
            json_object_set_new(obj, "usage",
                                json_pack("{s:I, s:I, s:I}", "prompt_tokens",
                                          (json_int_t)p->prompt_tokens, "completion_tokens",
                                          (json_int_t)p->completion_tokens, "total_tokens",
                                          (json_int_t)(p->prompt_tokens + p->completion_tokens)));
            send_event(p->req, obj, p->sse);
            p->phase = PH_DONE;
            break;
        }
        case PH_DONE: {
            struct evbuffer *buf = evbuffer_new();
            evbuffer_add(buf, "data: [DONE]\n\n", 14);
            evhttp_send_reply_chunk(p->req, buf);
            evbuffer_free(buf);
            evhttp_send_reply_end(p->req);
            pending_free(p);
            return;
        }
        }
    } while (p->delay.tv_sec == 0 && p->delay.tv_usec == 0);
    evtimer_add(p->timer, &p->delay);
}

static void
handle_chat(struct stub *stub, struct evhttp_request *req, const char *body, size_t len,
            long delay_ms)
{
    json_error_t jerr;
    json_t *root, *msgs, *msg, *jmodel, *opts;
    struct sbuf prompt = {0}, lastuser = {0}, content = {0};
    const char *model = STUB_DEFAULT_MODEL;
    char id[64];
    size_t i;
    bool stream, echo;

    root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    if (root == NULL || !json_is_object(root)) {
        char m[300];
        snprintf(m, sizeof m, "We could not parse the JSON body of your request: %s",
                 root ? "expected an object" : jerr.text);
        json_decref(root);
        reply_error(req, 400, m, NULL);
        return;
    }
    msgs = json_object_get(root, "messages");
    if (!json_is_array(msgs)) {
        json_decref(root);
        reply_error(req, 400, "'messages' is a required property", NULL);
        return;
    }
    json_array_foreach (msgs, i, msg) {
        json_t *role = json_object_get(msg, "role");
        struct sbuf one = {0};
        content_text(json_object_get(msg, "content"), &one);
        if (one.n > 0)
            sbuf_add(&prompt, one.p, one.n);
        if (json_is_string(role) && strcmp(json_string_value(role), "user") == 0) {
            free(lastuser.p);
            lastuser = one;
        } else {
            free(one.p);
        }
    }
    jmodel = json_object_get(root, "model");
    if (json_is_string(jmodel) && json_string_length(jmodel) > 0)
        model = json_string_value(jmodel);

    echo = stub->echo || header_true(req, "X-Stub-Echo");
    if (echo) {
        sbuf_add(&content, "You said: ", 10);
        if (lastuser.n > 0)
            sbuf_add(&content, lastuser.p, lastuser.n);
    } else {
        sbuf_add(&content, stub->answer, stub->answer_len);
    }
    snprintf(id, sizeof id, "chatcmpl-stub-%016" PRIx64, fnv1a64(body, len, 0));
    stream = json_is_true(json_object_get(root, "stream"));
    long ptok = tokens_of(prompt.n), ctok = tokens_of(content.n);

    if (stream) {
        struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
        struct stub_pending *p = pending_new(stub, req, delay_ms);

        opts = json_object_get(root, "stream_options");
        p->stream = true;
        p->id = xstrndup(id, strlen(id));
        p->model = xstrndup(model, strlen(model));
        p->content = content.p ? content.p : xstrndup("", 0);
        p->content_len = content.n;
        content.p = NULL;
        p->chunk_bytes = (size_t)header_long(req, "X-Stub-Chunk-Bytes", 1, 1 << 20, 0);
        p->include_usage = json_is_true(json_object_get(opts, "include_usage"));
        p->abort_after = header_long(req, "X-Stub-Abort-After", 1, 1 << 20, 0);
        {
            const char *f = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Stub-Sse");

            p->sse = f == NULL                     ? SSE_COMPACT
                     : strcmp(f, "multiline") == 0 ? SSE_MULTILINE
                     : strcmp(f, "text") == 0      ? SSE_TEXT
                                                   : SSE_COMPACT;
        }
        {
            const char *rid =
                evhttp_find_header(evhttp_request_get_input_headers(req), "X-Steward-Record");

            snprintf(p->record, sizeof p->record, "%s", rid ? rid : "");
        }
        p->prompt_tokens = ptok;
        p->completion_tokens = ctok;
        evhttp_add_header(oh, "Content-Type", "text/event-stream");
        evhttp_add_header(oh, "Cache-Control", "no-cache");
        evhttp_send_reply_start(req, 200, "OK");
        stream_step(p);
    } else {
        /* Hand-assembled: the hot path of the benchmark baseline, and the
         * default answer is escaped once at start. */
        char *qmodel = json_quote(model, strlen(model));
        char *qcontent = echo ? json_quote(content.p, content.n) : NULL;
        struct sbuf out = {0};
        char num[256];
        int n;

        n = snprintf(num, sizeof num,
                     "{\"id\":\"%s\",\"object\":\"chat.completion\","
                     "\"created\":%d,\"model\":",
                     id, STUB_CREATED);
        sbuf_add(&out, num, (size_t)n);
        sbuf_add(&out, qmodel, strlen(qmodel));
        static const char mid[] =
            ",\"system_fingerprint\":\"steward-stub\",\"choices\":[{\"index\":0,"
            "\"message\":{\"role\":\"assistant\",\"content\":";
        sbuf_add(&out, mid, sizeof mid - 1);
        if (qcontent != NULL)
            sbuf_add(&out, qcontent, strlen(qcontent));
        else
            sbuf_add(&out, stub->answer_json, strlen(stub->answer_json));
        n = snprintf(num, sizeof num,
                     "},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                     "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":"
                     "%ld,\"total_tokens\":%ld}}",
                     ptok, ctok, ptok + ctok);
        sbuf_add(&out, num, (size_t)n);
        free(qmodel);
        free(qcontent);
        reply_text_delayed(stub, req, 200, out.p, delay_ms);
    }
    free(prompt.p);
    free(lastuser.p);
    free(content.p);
    json_decref(root);
}

/* ------------------------------------------------------------- embeddings */

static json_t *
embedding_vector(const char *key, size_t n, size_t dims, bool b64)
{
    /* k/1024 values are exact in binary, so they print short and stable. */
    if (b64) {
        unsigned char raw[4 * 1024];
        struct sbuf b = {0};
        for (size_t i = 0; i < dims; i++) {
            float f = (float)((long)(fnv1a64(key, n, i + 1) % 2049) - 1024) / 1024.0f;
            uint32_t u;
            memcpy(&u, &f, 4);
            for (int k = 0; k < 4; k++) /* little-endian, as OpenAI sends */
                raw[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
        }
        base64_add(&b, raw, 4 * dims);
        json_t *s = json_stringn(b.p, b.n);
        free(b.p);
        return s;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < dims; i++)
        json_array_append_new(
            arr, json_real((double)((long)(fnv1a64(key, n, i + 1) % 2049) - 1024) / 1024.0));
    return arr;
}

static void
handle_embeddings(struct stub *stub, struct evhttp_request *req, const char *body, size_t len,
                  long delay_ms)
{
    json_error_t jerr;
    json_t *root, *input, *items, *data, *item, *jdims, *jfmt, *jmodel;
    size_t i, dims = STUB_EMBED_DIMS, tokens = 0;
    const char *model = "stub-embed";
    bool b64;

    root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    if (root == NULL || !json_is_object(root)) {
        char m[300];
        snprintf(m, sizeof m, "We could not parse the JSON body of your request: %s",
                 root ? "expected an object" : jerr.text);
        json_decref(root);
        reply_error(req, 400, m, NULL);
        return;
    }
    input = json_object_get(root, "input");
    /* A string, an array of strings, a token array, or arrays of those. */
    if (json_is_string(input) ||
        (json_is_array(input) && json_is_integer(json_array_get(input, 0)))) {
        items = json_pack("[O]", input);
    } else if (json_is_array(input) && json_array_size(input) > 0) {
        items = json_incref(input);
    } else {
        json_decref(root);
        reply_error(req, 400, "'input' must be a string or a non-empty array", NULL);
        return;
    }
    jdims = json_object_get(root, "dimensions");
    if (json_is_integer(jdims) && json_integer_value(jdims) >= 1 &&
        json_integer_value(jdims) <= 1024)
        dims = (size_t)json_integer_value(jdims);
    jfmt = json_object_get(root, "encoding_format");
    b64 = json_is_string(jfmt) && strcmp(json_string_value(jfmt), "base64") == 0;
    jmodel = json_object_get(root, "model");
    if (json_is_string(jmodel) && json_string_length(jmodel) > 0)
        model = json_string_value(jmodel);

    data = json_array();
    json_array_foreach (items, i, item) {
        json_t *vec;
        if (json_is_string(item)) {
            vec = embedding_vector(json_string_value(item), json_string_length(item), dims, b64);
            tokens += json_string_length(item);
        } else {
            char *k = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
            size_t kn = k ? strlen(k) : 0;
            vec = embedding_vector(k ? k : "", kn, dims, b64);
            tokens += json_is_array(item) ? json_array_size(item) * 4 : kn;
            free(k);
        }
        json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index",
                                              (json_int_t)i, "embedding", vec));
    }
    json_t *resp =
        json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model", model,
                  "usage", "prompt_tokens", (json_int_t)tokens_of(tokens), "total_tokens",
                  (json_int_t)tokens_of(tokens));
    json_decref(items);
    json_decref(root);
    reply_json_delayed(stub, req, 200, resp, delay_ms);
}

/* ----------------------------------------------------------------- router */

static void
handle_models(struct evhttp_request *req)
{
    reply_json(req, 200,
               json_pack("{s:s, s:[{s:s, s:s, s:i, s:s}, {s:s, s:s, s:i, "
                         "s:s}, {s:s, s:s, s:i, s:s}]}",
                         "object", "list", "data", "id", STUB_DEFAULT_MODEL, "object", "model",
                         "created", STUB_CREATED, "owned_by", "steward", "id", "stub-model-large",
                         "object", "model", "created", STUB_CREATED, "owned_by", "steward", "id",
                         "stub-embed", "object", "model", "created", STUB_CREATED, "owned_by",
                         "steward"));
}

/* POST /generate, the shape of Hugging Face TGI: {"inputs": "..."} in,
 * {"generated_text": "You said: ..."} out (for steward's generic JSON mode). */
static void
handle_generate(struct evhttp_request *req, const char *body, size_t len)
{
    json_error_t je;
    json_t *in = json_loadb(body, len, 0, &je);
    const char *inputs = json_string_value(json_object_get(in, "inputs"));
    char *text;

    if (inputs == NULL) {
        json_decref(in);
        reply_error(req, 422, "inputs must be a string", "invalid_request");
        return;
    }
    text = malloc(strlen(inputs) + 11);
    if (text == NULL) {
        json_decref(in);
        reply_error(req, 500, "out of memory", NULL);
        return;
    }
    sprintf(text, "You said: %s", inputs);
    reply_json(req, 200,
               json_pack("{s:s, s:{s:s, s:i}}", "generated_text", text, "details", "finish_reason",
                         "length", "generated_tokens", 3));
    free(text);
    json_decref(in);
}

/* POST /generate_stream, TGI's streamed shape: one Server-Sent Event per
 * word of "You said: ...", {"index", "token": {"id", "text", "logprob",
 * "special"}, "generated_text": null, "details": null}, and the last one
 * with the whole text in "generated_text".  All events at once; the
 * X-Stub-Chunk-Bytes header cuts tokens by bytes instead of words. */
static void
handle_generate_stream(struct evhttp_request *req, const char *body, size_t len)
{
    json_error_t je;
    json_t *in = json_loadb(body, len, 0, &je);
    const char *inputs = json_string_value(json_object_get(in, "inputs"));
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    struct sbuf text = {0};
    size_t off = 0, chunk = (size_t)header_long(req, "X-Stub-Chunk-Bytes", 1, 1 << 20, 0);
    int k = 0;

    if (inputs == NULL) {
        json_decref(in);
        reply_error(req, 422, "inputs must be a string", "invalid_request");
        return;
    }
    sbuf_add(&text, "You said: ", 10);
    sbuf_add(&text, inputs, strlen(inputs));
    evhttp_add_header(oh, "Content-Type", "text/event-stream");
    evhttp_send_reply_start(req, 200, "OK");
    while (off < text.n) {
        size_t end = next_delta(text.p, text.n, off, chunk);
        bool last = end >= text.n;

        send_event(req,
                   json_pack("{s:i, s:{s:i, s:s%, s:f, s:b}, s:o, s:n}", "index", k, "token", "id",
                             k, "text", text.p + off, end - off, "logprob", -0.5, "special", 0,
                             "generated_text", last ? json_stringn(text.p, text.n) : json_null(),
                             "details"),
                   SSE_COMPACT);
        off = end;
        k++;
    }
    evhttp_send_reply_end(req);
    free(text.p);
    json_decref(in);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct stub *stub = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    long forced, delay_ms;

    if (path == NULL || *path == '\0')
        path = "/";
    if (stub->verbose) {
        char qp[256];
        stub_log("info", "request", "method=%s path=%s bytes=%zu", method_name(cmd),
                 lq(qp, sizeof qp, path), len);
    }
    if (strncmp(path, "/_stub/", 7) == 0) {
        handle_stub_admin(stub, req, path);
        return;
    }
    record_request(stub, req, body, len);

    delay_ms = header_long(req, "X-Stub-Delay-Ms", 0, STUB_MAX_DELAY_MS, 0);
    forced = header_long(req, "X-Stub-Status", 200, 599, 0);
    if (forced != 0) {
        char m[128];
        snprintf(m, sizeof m, "stub: forced status %ld", forced);
        reply_json_delayed(stub, req, (int)forced, error_body((int)forced, m, NULL), delay_ms);
        return;
    }

    if (strcmp(path, "/v1/chat/completions") == 0 || strcmp(path, "/chat/completions") == 0) {
        if (cmd != EVHTTP_REQ_POST)
            reply_error(req, 405, "use POST", "method_not_allowed");
        else
            handle_chat(stub, req, body, len, delay_ms);
    } else if (strcmp(path, "/v1/embeddings") == 0 || strcmp(path, "/embeddings") == 0) {
        if (cmd != EVHTTP_REQ_POST)
            reply_error(req, 405, "use POST", "method_not_allowed");
        else
            handle_embeddings(stub, req, body, len, delay_ms);
    } else if (strcmp(path, "/v1/models") == 0 || strcmp(path, "/models") == 0) {
        if (cmd != EVHTTP_REQ_GET)
            reply_error(req, 405, "use GET", "method_not_allowed");
        else
            handle_models(req);
    } else if (strcmp(path, "/generate") == 0) {
        if (cmd != EVHTTP_REQ_POST)
            reply_error(req, 405, "use POST", "method_not_allowed");
        else
            handle_generate(req, body, len);
    } else if (strcmp(path, "/generate_stream") == 0) {
        if (cmd != EVHTTP_REQ_POST)
            reply_error(req, 405, "use POST", "method_not_allowed");
        else
            handle_generate_stream(req, body, len);
    } else if (strcmp(path, "/health") == 0) {
        reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
    } else {
        char m[200];
        snprintf(m, sizeof m,
                 "Unknown request URL: %s %.120s. Please check "
                 "the URL for typos.",
                 method_name(cmd), path);
        reply_error(req, 404, m, "unknown_url");
    }
}

/* ---------------------------------------------------------------- startup */

/* Binds HOST:PORT ("[v6]:port" too) with TCP_NODELAY set on the listener. */
static evutil_socket_t
listen_on(const char *spec, int *port_out)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    const char *port;
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM},
                    *res = NULL;
    evutil_socket_t fd = -1;
    int one = 1, rc;

    if (colon == NULL || (size_t)(colon - spec) >= sizeof host) {
        stub_log("error", "--listen wants HOST:PORT", NULL);
        return -1;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    port = colon + 1;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        char q[300];
        stub_log("error", "cannot resolve listen address", "addr=%s err=%s", lq(q, sizeof q, spec),
                 gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        char q[300];
        stub_log("error", "cannot listen", "addr=%s err=\"%s\"", lq(q, sizeof q, spec),
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct stub *stub = arg;
    (void)what;
    stub_log("info", "shutting down", "signal=%d", (int)sig);
    event_base_loopexit(stub->base, NULL);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: steward-stub-model --listen HOST:PORT [--port-file PATH]\n"
               "                          [--record PATH] [--echo] "
               "[--answer-bytes N] [--verbose]\n"
               "  port 0 picks a free port (written to --port-file when "
               "listening)\n"
               "  request headers: X-Stub-Status: CODE, X-Stub-Echo: 1, "
               "X-Stub-Delay-Ms: MS,\n"
               "                   X-Stub-Chunk-Bytes: N (stream deltas of N "
               "bytes)\n");
}

/* Builds the default content: the fixed sentence, padded or cut to N bytes. */
static void
build_answer(struct stub *stub, long answer_bytes)
{
    struct sbuf b = {0};

    sbuf_add(&b, default_answer, strlen(default_answer));
    while (answer_bytes > 0 && b.n < (size_t)answer_bytes)
        sbuf_add(&b, filler, strlen(filler));
    if (answer_bytes > 0 && b.n > (size_t)answer_bytes) {
        b.n = (size_t)answer_bytes;
        while (b.n > 1 && b.p[b.n - 1] == ' ') /* no trailing blank */
            b.n--;
        b.p[b.n] = '\0';
    }
    stub->answer = b.p;
    stub->answer_len = b.n;
    stub->answer_json = json_quote(b.p, b.n);
}

int
main(int argc, char **argv)
{
    struct stub stub = {0};
    const char *listen_spec = NULL, *record_path = NULL;
    long answer_bytes = 0;
    struct event *sigterm = NULL, *sigint = NULL;
    evutil_socket_t fd;
    int port = 0, rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--echo") == 0) {
            stub.echo = true;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            stub.verbose = true;
        } else if (val != NULL && strcmp(a, "--listen") == 0) {
            listen_spec = argv[++i];
        } else if (val != NULL && strcmp(a, "--port-file") == 0) {
            stub.port_file = argv[++i];
        } else if (val != NULL && strcmp(a, "--record") == 0) {
            record_path = argv[++i];
        } else if (val != NULL && strcmp(a, "--answer-bytes") == 0) {
            char *end;
            answer_bytes = strtol(argv[++i], &end, 10);
            if (*end != '\0' || answer_bytes < 1 || answer_bytes > 16 << 20) {
                fprintf(stderr, "steward-stub-model: bad --answer-bytes\n");
                return 2;
            }
        } else {
            fprintf(stderr, "steward-stub-model: bad argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (listen_spec == NULL) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    build_answer(&stub, answer_bytes);

    if (record_path != NULL) {
        stub.record = fopen(record_path, "a");
        if (stub.record == NULL) {
            stub_log("error", "cannot open record file", "err=\"%s\"", strerror(errno));
            goto out;
        }
    }
    stub.base = event_base_new();
    stub.http = evhttp_new(stub.base);
    if (stub.base == NULL || stub.http == NULL)
        goto out;
    evhttp_set_allowed_methods(stub.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(stub.http, STUB_MAX_BODY);
    evhttp_set_timeout(stub.http, 120);
    evhttp_set_gencb(stub.http, on_request, &stub);

    fd = listen_on(listen_spec, &port);
    if (fd < 0)
        goto out;
    if (evhttp_accept_socket_with_handle(stub.http, fd) == NULL) {
        close(fd);
        stub_log("error", "evhttp_accept_socket failed", NULL);
        goto out;
    }
    sigterm = evsignal_new(stub.base, SIGTERM, on_signal, &stub);
    sigint = evsignal_new(stub.base, SIGINT, on_signal, &stub);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);

    if (stub.port_file != NULL) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        if (write_file_atomic(stub.port_file, p) < 0) {
            stub_log("error", "cannot write port file", "err=\"%s\"", strerror(errno));
            goto out;
        }
        stub.port_file_written = true;
    }
    {
        char q[300];
        stub_log("info", "listening", "addr=%s port=%d echo=%s answer_bytes=%zu",
                 lq(q, sizeof q, listen_spec), port, stub.echo ? "true" : "false", stub.answer_len);
    }
    rc = event_base_dispatch(stub.base) < 0 ? 1 : 0;

out:
    if (stub.port_file_written)
        unlink(stub.port_file);
    while (stub.pending != NULL)
        pending_free(stub.pending);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (stub.http)
        evhttp_free(stub.http);
    if (stub.base)
        event_base_free(stub.base);
    for (size_t i = 0; i < STUB_RECEIVED_MAX; i++)
        rec_free(stub.received[i]);
    if (stub.record)
        fclose(stub.record);
    free(stub.answer);
    free(stub.answer_json);
    return rc;
}
