/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_stream: the streaming redactor and the streaming restorer of
 * pii_stream.h.
 *
 * The redactor keeps one buffer: raw[0..ctx) is released text kept as left
 * context (at most POL_PII_STREAM_REACH bytes), raw[ctx..len) is held.
 * After a feed has added at least STEP bytes (or the window is full) it
 * runs pol_pii_detect() over the buffer, looks for the furthest cut the
 * rules of pii_stream.h allow, releases raw[ctx..cut) through
 * pol_pii_redact_v() with the spans that lie in it, and slides the buffer.
 * Running detection at most once per STEP bytes keeps the cost linear in
 * the text for small deltas (a delta is often one token of 3-4 bytes); it
 * delays release but never changes what is released.
 *
 * Forced cuts (pii_stream.h) enter a "swallow" state that drops input up
 * to the end of the unfinished value: the next white space for a token,
 * the newline after "-----END " for a PEM block; the state survives chunk
 * boundaries (the END marker is matched byte by byte).
 *
 * The restorer holds the tail that starts at the last '<' when it could
 * still grow into a placeholder; a placeholder has exactly one '<', so no
 * placeholder is ever cut.
 *
 * Not thread-safe (one stream, one thread at a time).  Read next:
 * pii_redact.c for the operators, sidecar's SSE relay for the caller.
 */
#include "policy/pii/pii_stream.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/cm_mem.h"
#include "policy/pii/pii_detect.h"

#define STEP 64

enum { SW_NONE, SW_TOKEN, SW_PEM };

struct pol_pii_stream {
    const struct pol_pii_model *model;
    unsigned labels;
    const enum pol_pii_op *ops;
    const struct pol_pii_redact_opts *opts;
    struct pol_pii_vault *vault;
    struct cm_buf raw;
    size_t ctx;   /* raw[0..ctx) is released context */
    size_t tried; /* raw.len at the last detection */
    struct pol_pii_spans spans;
    struct pol_pii_spans part; /* spans of one release, shifted */
    int swallow;
    int pem_m; /* SW_PEM: bytes of "-----END " matched, 9: matched */
    bool finished;
    size_t counts[POL_PII__COUNT];
    pol_pii_stream_value_fn on_value; /* or NULL */
    void *on_value_arg;
};

static bool
ws(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

struct pol_pii_stream *
pol_pii_stream_new(const struct pol_pii_model *model, unsigned labels,
                   const enum pol_pii_op ops[POL_PII__COUNT],
                   const struct pol_pii_redact_opts *opts, struct pol_pii_vault *vault)
{
    struct pol_pii_stream *st = cm_calloc(1, sizeof(*st));

    st->model = model;
    st->labels = labels;
    st->ops = ops;
    st->opts = opts;
    st->vault = vault;
    cm_buf_init(&st->raw);
    pol_pii_spans_init(&st->spans);
    pol_pii_spans_init(&st->part);
    return st;
}

void
pol_pii_stream_free(struct pol_pii_stream *st)
{
    if (st == NULL)
        return;
    if (st->raw.p != NULL)
        OPENSSL_cleanse(st->raw.p, st->raw.len);
    cm_buf_fini(&st->raw);
    pol_pii_spans_fini(&st->spans);
    pol_pii_spans_fini(&st->part);
    free(st);
}

size_t
pol_pii_stream_held(const struct pol_pii_stream *st)
{
    return st->raw.len - st->ctx;
}

void
pol_pii_stream_counts(const struct pol_pii_stream *st, size_t counts[POL_PII__COUNT])
{
    memcpy(counts, st->counts, sizeof(st->counts));
}

void
pol_pii_stream_on_value(struct pol_pii_stream *st, pol_pii_stream_value_fn fn, void *arg)
{
    st->on_value = fn;
    st->on_value_arg = arg;
}

static void
part_push(struct pol_pii_spans *s, size_t start, size_t end, enum pol_pii_label label, float score)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = cm_realloc(s->v, s->cap * sizeof(s->v[0]));
    }
    s->v[s->n].start = start;
    s->v[s->n].end = end;
    s->v[s->n].label = label;
    s->v[s->n].score = score;
    s->n++;
}

/* Releases raw[ctx..to) redacted with the detected spans that lie in it.
 * A span that starts in the context and runs into it (only after a forced
 * cut) is redacted over its part in the released range. */
static void
emit(struct pol_pii_stream *st, size_t to, struct cm_buf *out)
{
    size_t from = st->ctx;

    st->part.n = 0;
    for (size_t k = 0; k < st->spans.n; k++) {
        const struct pol_pii_span *sp = &st->spans.v[k];
        size_t s = sp->start < from ? from : sp->start, e = sp->end > to ? to : sp->end;

        if (sp->end <= from || sp->start >= to || s >= e)
            continue;
        part_push(&st->part, s - from, e - from, sp->label, sp->score);
        if (sp->start >= from) {
            st->counts[sp->label]++;
            /* The whole value is in raw: spans are found in what is held. */
            if (st->on_value != NULL)
                st->on_value(st->on_value_arg, sp->label, st->raw.p + sp->start,
                             sp->end - sp->start);
        }
    }
    pol_pii_redact_v(st->raw.p + from, to - from, st->part.v, st->part.n, st->ops, st->opts,
                     st->vault, out);
}

/* Drops raw[0..cut - REACH) so that the released context stays bounded;
 * raw[..cut) is released. */
static void
slide(struct pol_pii_stream *st, size_t cut)
{
    size_t drop = cut > POL_PII_STREAM_REACH ? cut - POL_PII_STREAM_REACH : 0;

    if (drop > 0) {
        OPENSSL_cleanse(st->raw.p, drop);
        memmove(st->raw.p, st->raw.p + drop, st->raw.len - drop);
        st->raw.len -= drop;
    }
    st->ctx = cut - drop;
    st->tried = st->tried > drop ? st->tried - drop : 0;
}

/* Forgets everything held and released: after a swallowed value the
 * context starts afresh. */
static void
restart(struct pol_pii_stream *st, size_t keep_from)
{
    size_t rest = st->raw.len - keep_from;

    memmove(st->raw.p, st->raw.p + keep_from, rest);
    st->raw.len = rest;
    st->ctx = 0;
    st->tried = 0;
}

/* The furthest cut in (ctx, limit]: after white space, not inside a span;
 * 0 if there is none. */
static size_t
find_cut(const struct pol_pii_stream *st, size_t limit)
{
    size_t k = st->spans.n;

    for (size_t r = limit; r > st->ctx; r--) {
        while (k > 0 && st->spans.v[k - 1].start >= r)
            k--;
        if (k > 0 && st->spans.v[k - 1].end > r)
            continue;
        if (ws((unsigned char)st->raw.p[r - 1]))
            return r;
    }
    return 0;
}

/* Runs the swallow state over raw[from..len); returns the offset where
 * normal text resumes, or raw.len when it is all swallowed. */
static size_t
swallow_run(struct pol_pii_stream *st, size_t from)
{
    static const char end_pat[] = "-----END ";

    for (size_t k = from; k < st->raw.len; k++) {
        int c = (unsigned char)st->raw.p[k];

        if (st->swallow == SW_TOKEN) {
            if (ws(c)) {
                st->swallow = SW_NONE;
                return k;
            }
            continue;
        }
        if (st->pem_m == 9) {
            if (c == '\n') {
                st->swallow = SW_NONE;
                st->pem_m = 0;
                return k + 1;
            }
            continue;
        }
        if (c == end_pat[st->pem_m])
            st->pem_m++;
        else
            st->pem_m = (c == '-' && st->pem_m >= 5) ? 5 : 0;
    }
    return st->raw.len;
}

/* The window is full and no cut is allowed before limit: release what
 * comes before the unfinished value, write "<SECRET>" for it and swallow
 * it.  The value is the open PEM block when it starts before limit, else
 * the run without white space that crosses limit (all of raw[ctx..limit)
 * goes with it: nothing in it could be cut). */
static void
force(struct pol_pii_stream *st, size_t open, size_t limit, struct cm_buf *out)
{
    size_t b = st->ctx, resume;

    if (open < st->raw.len && open <= limit) {
        b = open;
        /* a span running across the BEGIN line goes with the block */
        for (size_t k = 0; k < st->spans.n; k++) {
            if (st->spans.v[k].start < b && st->spans.v[k].end > b &&
                st->spans.v[k].start >= st->ctx)
                b = st->spans.v[k].start;
        }
        st->swallow = SW_PEM;
        st->pem_m = 0;
        emit(st, b, out);
        resume = swallow_run(st, open + 11);
    } else {
        st->swallow = SW_TOKEN;
        resume = swallow_run(st, limit);
    }
    cm_buf_puts(out, "<SECRET>");
    st->counts[POL_PII_SECRET]++;
    OPENSSL_cleanse(st->raw.p, resume);
    restart(st, resume);
}

static int
release(struct pol_pii_stream *st, struct cm_buf *out)
{
    for (;;) {
        size_t held = st->raw.len - st->ctx, limit, limit0, open, cut;
        int rc;

        if (st->swallow != SW_NONE) {
            size_t resume = swallow_run(st, st->ctx);

            OPENSSL_cleanse(st->raw.p, resume);
            restart(st, resume);
            if (st->swallow != SW_NONE)
                return CM_OK;
            continue;
        }
        if (held <= POL_PII_STREAM_REACH)
            return CM_OK;
        if (st->raw.len - st->tried < STEP && held <= POL_PII_STREAM_WINDOW)
            return CM_OK;
        st->tried = st->raw.len;
        pol_pii_spans_reset(&st->spans);
        rc = pol_pii_detect(st->model, st->raw.p, st->raw.len, st->labels, &st->spans);
        if (rc != CM_OK)
            return rc;
        limit = limit0 = st->raw.len - POL_PII_STREAM_REACH;
        open = st->ctx + pol_pii_scan_open(st->raw.p + st->ctx, st->raw.len - st->ctx);
        if (open < limit)
            limit = open;
        cut = limit > st->ctx ? find_cut(st, limit) : 0;
        if (cut != 0) {
            emit(st, cut, out);
            slide(st, cut);
            if (st->raw.len - st->ctx <= POL_PII_STREAM_WINDOW)
                return CM_OK;
            continue;
        }
        if (held <= POL_PII_STREAM_WINDOW)
            return CM_OK;
        force(st, open, limit0, out);
    }
}

int
pol_pii_stream_feed(struct pol_pii_stream *st, const char *chunk, size_t n, struct cm_buf *out)
{
    cm_assert(!st->finished);
    /* grow in pieces no larger than the window so that one huge chunk is
     * still released in bounded steps */
    while (n > 0) {
        size_t take = n > POL_PII_STREAM_WINDOW ? POL_PII_STREAM_WINDOW : n;
        int rc;

        cm_buf_append(&st->raw, chunk, take);
        chunk += take;
        n -= take;
        rc = release(st, out);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

int
pol_pii_stream_finish(struct pol_pii_stream *st, struct cm_buf *out)
{
    int rc;

    cm_assert(!st->finished);
    st->finished = true;
    if (st->swallow != SW_NONE) {
        size_t resume = swallow_run(st, st->ctx);

        restart(st, resume);
        if (st->swallow != SW_NONE)
            return CM_OK; /* the value never ended: all of it is swallowed */
    }
    if (st->raw.len == st->ctx)
        return CM_OK;
    pol_pii_spans_reset(&st->spans);
    rc = pol_pii_detect(st->model, st->raw.p, st->raw.len, st->labels, &st->spans);
    if (rc != CM_OK)
        return rc;
    emit(st, st->raw.len, out);
    slide(st, st->raw.len);
    return CM_OK;
}

/* ------------------------------------------------------------ restorer */

struct pol_pii_restorer {
    const struct pol_pii_vault *vault;
    struct cm_buf buf;
};

struct pol_pii_restorer *
pol_pii_restorer_new(const struct pol_pii_vault *vault)
{
    struct pol_pii_restorer *rs = cm_calloc(1, sizeof(*rs));

    rs->vault = vault;
    cm_buf_init(&rs->buf);
    return rs;
}

void
pol_pii_restorer_free(struct pol_pii_restorer *rs)
{
    if (rs == NULL)
        return;
    cm_buf_fini(&rs->buf);
    free(rs);
}

/* Could s[0..n) (starting with '<') still grow into a placeholder
 * "<LABEL_hex>" (pii_redact.c's grammar)? */
static bool
placeholder_prefix(const char *s, size_t n)
{
    size_t k = 1;

    if (n >= POL_PII_PLACEHOLDER_MAX)
        return false;
    while (k < n && ((s[k] >= 'A' && s[k] <= 'Z') || s[k] == '_'))
        k++;
    while (k < n && ((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f')))
        k++;
    return k == n;
}

size_t
pol_pii_restorer_feed(struct pol_pii_restorer *rs, const char *chunk, size_t n, struct cm_buf *out)
{
    size_t keep, nrest;
    const char *lt;

    cm_buf_append(&rs->buf, chunk, n);
    if (rs->buf.len == 0)
        return 0;
    keep = rs->buf.len;
    lt = memrchr(rs->buf.p, '<', rs->buf.len);
    if (lt != NULL && placeholder_prefix(lt, (size_t)(rs->buf.p + rs->buf.len - lt)))
        keep = (size_t)(lt - rs->buf.p);
    nrest = pol_pii_restore(rs->vault, rs->buf.p, keep, out);
    memmove(rs->buf.p, rs->buf.p + keep, rs->buf.len - keep);
    rs->buf.len -= keep;
    return nrest;
}

size_t
pol_pii_restorer_finish(struct pol_pii_restorer *rs, struct cm_buf *out)
{
    size_t nrest = pol_pii_restore(rs->vault, rs->buf.p, rs->buf.len, out);

    rs->buf.len = 0;
    return nrest;
}
