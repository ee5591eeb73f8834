/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_scan: what a policy adds to the classifier: allow lists, deny lists,
 * custom recognizers and per-entity score thresholds (pol_set_scan), and the
 * regex engine behind them.  This is the only file that calls PCRE2
 * (STYLE.md B2).
 *
 * Patterns are compiled once at load with PCRE2_UTF (a match never splits a
 * UTF-8 character) and PCRE2_MATCH_INVALID_UTF (bad bytes never fault),
 * then JIT-compiled when the platform allows; a pattern that can match the
 * empty string is refused (it would "find" nothing everywhere).  Literal
 * values ("values") become one alternation per entry, each value escaped,
 * white space matching any run of white space, and word boundaries
 * (letters, digits, '_', in any script) required where the value starts or
 * ends with a word character, so "Ada" does not match inside "Adams".
 * Matching runs under a process-wide match context with a match limit and
 * a depth limit, so a pathological pattern fails (CM_EINTERNAL: the
 * sidecar fails closed) instead of spinning.
 *
 * pol_set_scan, for one text: spans under their label's min_score, or
 * lying inside an allow-listed match (for the entry's labels), are dropped;
 * deny-list matches and recognizer matches (scored by context) are added;
 * then overlaps are resolved: deny list first, then higher score, longer,
 * lower label, earlier.  Allocates per call (match data, candidates); the
 * compiled patterns are read-only and shared by all threads.
 */
#include "policy/pol_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/cm_mem.h"

#define MATCH_LIMIT 1000000u
#define DEPTH_LIMIT 10000u

static pthread_once_t mctx_once = PTHREAD_ONCE_INIT;
static pcre2_match_context *mctx;

static void
mctx_init(void)
{
    mctx = pcre2_match_context_create(NULL);
    cm_assert(mctx != NULL);
    pcre2_set_match_limit(mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, DEPTH_LIMIT);
}

static void
engine_msg(int code, char *msg, size_t msglen)
{
    PCRE2_UCHAR buf[160];

    if (pcre2_get_error_message(code, buf, sizeof(buf)) < 0)
        snprintf((char *)buf, sizeof(buf), "error %d", code);
    snprintf(msg, msglen, "%s", (const char *)buf);
}

int
pol_rx_compile(const char *pattern, bool ignore_case, void **code, char *msg, size_t msglen)
{
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (ignore_case ? PCRE2_CASELESS : 0);
    PCRE2_SIZE off;
    pcre2_code *re;
    uint32_t minlen = 0;
    int ec;

    *code = NULL;
    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &off, NULL);
    if (re == NULL) {
        char m[160];

        engine_msg(ec, m, sizeof(m));
        snprintf(msg, msglen, "%s (at character %zu of the pattern)", m, (size_t)off + 1);
        return CM_EINPUT;
    }
    if (pcre2_pattern_info(re, PCRE2_INFO_MINLENGTH, &minlen) != 0 || minlen == 0) {
        pcre2_code_free(re);
        snprintf(msg, msglen, "the pattern can match an empty string");
        return CM_EINPUT;
    }
    /* Without JIT (some platforms) the interpreter runs: slower, same result. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *code = re;
    return CM_OK;
}

static bool
word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           c >= 0x80;
}

static bool
space_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
pol_rx_compile_words(const char *const *words, size_t n, bool ignore_case, void **code, char *msg,
                     size_t msglen)
{
    static const char WB[] = "[\\p{L}\\p{N}_]";
    struct cm_buf b;
    int rc;

    cm_buf_init(&b);
    cm_buf_puts(&b, "(?:");
    for (size_t k = 0; k < n; k++) {
        const unsigned char *w = (const unsigned char *)words[k];
        size_t len = strlen(words[k]);

        while (len > 0 && space_byte(w[len - 1]))
            len--;
        while (len > 0 && space_byte(*w)) {
            w++;
            len--;
        }
        if (len == 0) {
            cm_buf_fini(&b);
            snprintf(msg, msglen, "value %zu is only white space", k);
            return CM_EINPUT;
        }
        if (k > 0)
            cm_buf_putc(&b, '|');
        if (word_byte(w[0]))
            cm_buf_printf(&b, "(?<!%s)", WB);
        for (size_t i = 0; i < len; i++) {
            if (space_byte(w[i])) {
                while (i + 1 < len && space_byte(w[i + 1]))
                    i++;
                cm_buf_puts(&b, "\\s+");
            } else if (w[i] < 0x80 && !word_byte(w[i])) {
                cm_buf_putc(&b, '\\');
                cm_buf_putc(&b, (char)w[i]);
            } else {
                cm_buf_putc(&b, (char)w[i]);
            }
        }
        if (word_byte(w[len - 1]))
            cm_buf_printf(&b, "(?!%s)", WB);
    }
    cm_buf_putc(&b, ')');
    rc = pol_rx_compile(b.p, ignore_case, code, msg, msglen);
    cm_buf_fini(&b);
    return rc;
}

void
pol_rx_free(void *code)
{
    pcre2_code_free(code);
}

/* ------------------------------------------------------------ scanning */

struct range {
    size_t start, end;
    uint64_t labels;
};

struct cand {
    struct pol_pii_span sp;
    bool listed; /* from the deny list: wins every overlap */
};

struct scanner {
    const struct pol_set *ps;
    int d;
    const char *text;
    size_t len;
    pcre2_match_data *md;
    struct cm_err *err;
    struct range *allow;
    size_t nallow, capallow;
    struct cand *cand;
    size_t ncand, capcand;
};

static size_t
next_char(const char *t, size_t len, size_t p)
{
    p++;
    while (p < len && ((unsigned char)t[p] & 0xC0) == 0x80)
        p++;
    return p;
}

/* The next match of code in text[0..limit) at or after *off, into
 * [*ms, *me).  Returns 1 found, 0 none, CM_EINTERNAL on an engine error. */
static int
find(struct scanner *sc, const struct pol_scan_entry *e, const void *code, size_t limit,
     size_t *off, size_t *ms, size_t *me)
{
    while (*off <= limit) {
        int rc = pcre2_match(code, (PCRE2_SPTR)sc->text, limit, *off, 0, sc->md, mctx);
        PCRE2_SIZE *ov;

        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        if (rc < 0) {
            char m[160];

            engine_msg(rc, m, sizeof(m));
            return cm_err_set(sc->err, CM_EINTERNAL, "policy pattern %s: %s", e->where, m);
        }
        ov = pcre2_get_ovector_pointer(sc->md);
        if (ov[1] <= ov[0]) { /* empty (lookaround tricks): step on */
            *off = next_char(sc->text, limit, ov[0]);
            continue;
        }
        *ms = ov[0];
        *me = ov[1];
        *off = ov[1];
        return 1;
    }
    return 0;
}

static bool
allowed(const struct scanner *sc, size_t start, size_t end, unsigned label)
{
    for (size_t k = 0; k < sc->nallow; k++) {
        const struct range *r = &sc->allow[k];

        if (r->start <= start && end <= r->end && (r->labels & ((uint64_t)1 << label)))
            return true;
    }
    return false;
}

static void
cand_add(struct scanner *sc, size_t start, size_t end, unsigned label, float score, bool listed)
{
    struct cand *c;

    if (sc->ncand == sc->capcand) {
        sc->capcand = sc->capcand ? sc->capcand * 2 : 16;
        sc->cand = cm_realloc(sc->cand, sc->capcand * sizeof(*sc->cand));
    }
    c = &sc->cand[sc->ncand++];
    c->sp.start = start;
    c->sp.end = end;
    c->sp.label = (enum pol_pii_label)label;
    c->sp.score = score;
    c->listed = listed;
}

/* Is a context word of e within its window around [start, end)? */
static int
has_context(struct scanner *sc, const struct pol_scan_entry *e, size_t start, size_t end)
{
    size_t lo = start, hi = end, off, ms, me;
    int rc;

    for (unsigned k = 0; k < e->window && lo > 0; k++) {
        lo--;
        while (lo > 0 && ((unsigned char)sc->text[lo] & 0xC0) == 0x80)
            lo--;
    }
    for (unsigned k = 0; k < e->window && hi < sc->len; k++)
        hi = next_char(sc->text, sc->len, hi);
    off = lo;
    while ((rc = find(sc, e, e->ctx, hi, &off, &ms, &me)) == 1) {
        if (me <= start || ms >= end)
            return 1;
    }
    return rc;
}

static int
cand_priority(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    size_t lx = x->sp.end - x->sp.start, ly = y->sp.end - y->sp.start;

    if (x->listed != y->listed)
        return x->listed ? -1 : 1;
    if (x->sp.score != y->sp.score)
        return x->sp.score > y->sp.score ? -1 : 1;
    if (lx != ly)
        return lx > ly ? -1 : 1;
    if (x->sp.label != y->sp.label)
        return x->sp.label < y->sp.label ? -1 : 1;
    return x->sp.start < y->sp.start ? -1 : x->sp.start > y->sp.start;
}

static int
span_start(const void *a, const void *b)
{
    const struct pol_pii_span *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

/* Keeps the candidates that win the overlap rule, sorted, in spans. */
static void
resolve(struct scanner *sc, struct pol_pii_spans *spans)
{
    size_t kept = 0;

    pol_pii_spans_reset(spans);
    if (sc->ncand == 0)
        return;
    qsort(sc->cand, sc->ncand, sizeof(*sc->cand), cand_priority);
    if (spans->cap < sc->ncand) {
        spans->cap = sc->ncand;
        spans->v = cm_realloc(spans->v, spans->cap * sizeof(*spans->v));
    }
    for (size_t k = 0; k < sc->ncand; k++) {
        const struct pol_pii_span *sp = &sc->cand[k].sp;
        bool clash = false;

        /* kept[] is small in practice (a handful per text); a linear check
         * keeps this simple. */
        for (size_t q = 0; q < kept && !clash; q++)
            clash = sp->start < spans->v[q].end && spans->v[q].start < sp->end;
        if (!clash)
            spans->v[kept++] = *sp;
    }
    qsort(spans->v, kept, sizeof(*spans->v), span_start);
    spans->n = kept;
}

int
pol_set_scan(const struct pol_set *ps, enum pol_dir dir, const char *text, size_t len,
             struct pol_pii_spans *spans, struct cm_err *err)
{
    struct scanner sc = {
        .ps = ps, .d = dir == POL_DIR_RESPONSE, .text = text, .len = len, .err = err};
    int rc = CM_OK;

    if (!ps->scans[sc.d])
        return CM_OK;
    pthread_once(&mctx_once, mctx_init);
    sc.md = pcre2_match_data_create(1, NULL);
    cm_assert(sc.md != NULL);

    /* Allow-listed ranges first: they filter both kinds of findings. */
    for (size_t k = 0; k < ps->nscan && rc >= 0; k++) {
        const struct pol_scan_entry *e = &ps->scan[k];
        size_t off = 0, ms, me;

        if (e->kind != POL_SCAN_ALLOW)
            continue;
        while ((rc = find(&sc, e, e->code, len, &off, &ms, &me)) == 1) {
            if (sc.nallow == sc.capallow) {
                sc.capallow = sc.capallow ? sc.capallow * 2 : 8;
                sc.allow = cm_realloc(sc.allow, sc.capallow * sizeof(*sc.allow));
            }
            sc.allow[sc.nallow].start = ms;
            sc.allow[sc.nallow].end = me;
            sc.allow[sc.nallow].labels = e->labels;
            sc.nallow++;
        }
    }
    if (rc < 0)
        goto out;
    rc = CM_OK;

    for (size_t k = 0; k < spans->n; k++) {
        const struct pol_pii_span *sp = &spans->v[k];

        if (sp->score < ps->min_score[sc.d][sp->label])
            continue;
        if (allowed(&sc, sp->start, sp->end, sp->label))
            continue;
        cand_add(&sc, sp->start, sp->end, sp->label, sp->score, false);
    }

    for (size_t k = 0; k < ps->nscan && rc >= 0; k++) {
        const struct pol_scan_entry *e = &ps->scan[k];
        size_t off = 0, ms, me;

        if (e->kind == POL_SCAN_ALLOW)
            continue;
        while ((rc = find(&sc, e, e->code, len, &off, &ms, &me)) == 1) {
            float score = e->score;

            if (e->kind == POL_SCAN_DENY) {
                cand_add(&sc, ms, me, e->label, 1.0f, true);
                continue;
            }
            if (e->ctx != NULL) {
                int ctx = has_context(&sc, e, ms, me);

                if (ctx < 0) {
                    rc = ctx;
                    break;
                }
                score = ctx ? e->score : e->score_noctx;
            }
            if (score < 0.0f || score < ps->min_score[sc.d][e->label] ||
                allowed(&sc, ms, me, e->label))
                continue;
            cand_add(&sc, ms, me, e->label, score, false);
        }
    }
    if (rc < 0)
        goto out;
    rc = CM_OK;
    resolve(&sc, spans);

out:
    pcre2_match_data_free(sc.md);
    free(sc.allow);
    free(sc.cand);
    return rc;
}
