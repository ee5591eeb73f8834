/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_guard: strict HTTP/1.1 framing, one byte at a time.  See sc_guard.h.
 * Each state handles one byte and returns; a violation sets status/why once
 * and parks the machine in S_DEAD.
 */
#include "sidecar/sc_guard.h"

#include <string.h>

#include "common/cm_hash.h"

enum {
    S_START, /* before a request line (a few empty lines are allowed) */
    S_METHOD,
    S_TARGET,
    S_VERSION,
    S_LINE_END, /* expecting LF after CR at the end of the request line */
    S_HDR_START,
    S_HDR_NAME,
    S_HDR_VALUE,
    S_BODY,
    S_CHUNK_SIZE,
    S_CHUNK_EXT,
    S_CHUNK_DATA,
    S_CHUNK_END,
    S_TRAILER_START,
    S_TRAILER,
    S_DEAD,
};

enum { H_OTHER = 0, H_HOST = 1, H_CL = 2, H_TE = 4 };

static const char *const hdr_names[] = {"host", "content-length", "transfer-encoding"};

static bool
is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && memchr(extra, c, sizeof(extra) - 1) != NULL);
}

static int
fail(struct sc_guard *g, int status, const char *why)
{
    g->status = status;
    g->why = why;
    g->bad_request = g->request;
    g->state = S_DEAD;
    return status;
}

void
sc_guard_init(struct sc_guard *g, const struct sc_guard_limits *lim)
{
    memset(g, 0, sizeof(*g));
    g->lim = lim;
    g->state = S_START;
}

static void
request_reset(struct sc_guard *g)
{
    g->http11 = false;
    g->nhost = g->ncl = 0;
    g->te_chunked = g->bad_te = false;
    g->line = g->block = g->nheaders = 0;
    g->cl = g->left = g->body = 0;
    g->sub = 0;
}

static void
request_done(struct sc_guard *g)
{
    g->request++;
    request_reset(g);
    g->state = S_START;
}

/* The blank line after the headers: decide how the body is framed. */
static int
headers_done(struct sc_guard *g)
{
    if (g->http11 && g->nhost == 0)
        return fail(g, 400, "HTTP/1.1 request without Host");
    if (g->nhost > 1)
        return fail(g, 400, "more than one Host header");
    if (g->ncl > 1)
        return fail(g, 400, "more than one Content-Length header");
    if (g->bad_te)
        return fail(g, 501, "Transfer-Encoding other than chunked");
    if (g->te_chunked && g->ncl > 0)
        return fail(g, 400, "Content-Length together with Transfer-Encoding");
    if (g->te_chunked && !g->http11)
        return fail(g, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (g->lim->max_body > 0 && g->cl > g->lim->max_body)
        return fail(g, 413, "body larger than max_body");
    g->sub = 0;
    g->line = 0;
    if (g->te_chunked) {
        g->left = 0;
        g->state = S_CHUNK_SIZE;
    } else if (g->cl > 0) {
        g->left = g->cl;
        g->state = S_BODY;
    } else {
        request_done(g);
    }
    return 0;
}

/* Header name matching: g->hdr is the set of known names still possible. */
static void
name_char(struct sc_guard *g, unsigned char c)
{
    unsigned char lc = (unsigned char)(c | 0x20);

    for (unsigned k = 0; k < 3; k++) {
        unsigned bit = 1u << k;

        if ((g->hdr & bit) &&
            (g->hpos >= strlen(hdr_names[k]) || (unsigned char)hdr_names[k][g->hpos] != lc))
            g->hdr &= ~bit;
    }
    g->hpos++;
}

static void
name_end(struct sc_guard *g)
{
    for (unsigned k = 0; k < 3; k++)
        if ((g->hdr & (1u << k)) && strlen(hdr_names[k]) != g->hpos)
            g->hdr &= ~(1u << k);
    if (g->hdr == H_HOST)
        g->nhost++;
    else if (g->hdr == H_CL)
        g->ncl++;
    else if (g->hdr == H_TE)
        g->te_chunked = true; /* value checked as it comes */
    g->sub = 0;
    g->hpos = 0;
}

/* One byte of a header value that matters for framing. */
static int
value_char(struct sc_guard *g, unsigned char c)
{
    bool ows = (c == ' ' || c == '\t');

    if (g->hdr == H_CL) {
        if (ows) {
            if (g->sub == 1)
                g->sub = 2;
        } else if (c >= '0' && c <= '9' && g->sub < 2) {
            g->sub = 1;
            if (g->cl > (UINT64_C(1) << 53) / 10)
                return fail(g, 400, "Content-Length too large");
            g->cl = g->cl * 10 + (uint64_t)(c - '0');
        } else {
            return fail(g, 400, "Content-Length is not a number");
        }
    } else if (g->hdr == H_TE) {
        static const char want[] = "chunked";

        if (ows) {
            if (g->sub == 1)
                g->sub = 2;
        } else if (g->sub < 2 && g->hpos < sizeof(want) - 1 &&
                   (unsigned char)(c | 0x20) == (unsigned char)want[g->hpos]) {
            g->sub = 1;
            g->hpos++;
        } else {
            g->bad_te = true;
        }
    }
    return 0;
}

static int
value_end(struct sc_guard *g)
{
    if (g->hdr == H_CL && g->sub == 0)
        return fail(g, 400, "empty Content-Length");
    if (g->hdr == H_TE && g->hpos != 7)
        g->bad_te = true;
    return 0;
}

/* Line-ending handling shared by the line states: CR must precede LF. */
static int
line_byte(struct sc_guard *g, unsigned char c, bool *eol)
{
    *eol = false;
    if (g->cr) {
        g->cr = false;
        if (c != '\n')
            return fail(g, 400, "CR not followed by LF");
        *eol = true;
        return 0;
    }
    if (c == '\r') {
        g->cr = true;
        return 1; /* consumed; wait for LF */
    }
    if (c == '\n')
        *eol = true;
    return 0;
}

/* The end of a chunk-size line: the data follows, or the trailers after the
 * last (zero) chunk. */
static int
chunk_line_done(struct sc_guard *g)
{
    g->line = 0;
    g->body += g->left;
    if (g->lim->max_body > 0 && g->body > g->lim->max_body)
        return fail(g, 413, "body larger than max_body");
    if (g->left == 0) {
        g->block = 0;
        g->state = S_TRAILER_START;
    } else {
        g->state = S_CHUNK_DATA;
    }
    return 0;
}

static int
step(struct sc_guard *g, unsigned char c)
{
    bool eol;
    int rc;

    switch (g->state) {
    case S_START:
        rc = line_byte(g, c, &eol);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
        if (eol) {
            if (++g->line > 2)
                return fail(g, 400, "empty lines before the request line");
            return 0;
        }
        if (!is_tchar(c))
            return fail(g, 400, "bad request method");
        g->line = 1;
        g->state = S_METHOD;
        return 0;
    case S_METHOD:
        if (c == ' ') {
            g->line = 0;
            g->state = S_TARGET;
            return 0;
        }
        if (!is_tchar(c) || ++g->line > 32)
            return fail(g, 400, "bad request method");
        return 0;
    case S_TARGET:
        if (c == ' ') {
            if (g->line == 0)
                return fail(g, 400, "empty request target");
            g->line = 0;
            g->state = S_VERSION;
            return 0;
        }
        if (g->line == 0 && c != '/' && c != '*')
            return fail(g, 400, "the request target must be a path (origin-form)");
        if (c < 0x21 || c > 0x7e)
            return fail(g, 400, "bad byte in the request target");
        if (++g->line > g->lim->max_target)
            return fail(g, 414, "request target too long");
        return 0;
    case S_VERSION: {
        static const char http[] = "HTTP/1.";

        if (g->line < 7) {
            if (c != (unsigned char)http[g->line])
                return fail(g, g->line >= 5 ? 505 : 400, "bad HTTP version");
            g->line++;
            return 0;
        }
        if (g->line == 7) {
            if (c != '0' && c != '1')
                return fail(g, 505, "HTTP version not supported");
            g->http11 = (c == '1');
            g->line++;
            return 0;
        }
        if (c == '\r') {
            g->state = S_LINE_END;
            return 0;
        }
        if (c == '\n') {
            g->state = S_HDR_START;
            g->line = 0;
            return 0;
        }
        return fail(g, 400, "bad HTTP version");
    }
    case S_LINE_END:
        if (c != '\n')
            return fail(g, 400, "CR not followed by LF");
        g->state = S_HDR_START;
        g->line = 0;
        return 0;
    case S_HDR_START:
    case S_TRAILER_START:
        if (++g->block > g->lim->max_header_bytes)
            return fail(g, 431, "request header block too large");
        rc = line_byte(g, c, &eol);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
        if (eol) {
            if (g->state == S_TRAILER_START) {
                request_done(g);
                return 0;
            }
            return headers_done(g);
        }
        if (c == ' ' || c == '\t')
            return fail(g, 400, "obsolete line folding (obs-fold) in a header");
        if (!is_tchar(c))
            return fail(g, 400, "bad header name");
        if (++g->nheaders > g->lim->max_headers)
            return fail(g, 431, "too many header fields");
        g->line = 1;
        if (g->state == S_TRAILER_START) {
            g->state = S_TRAILER;
            return 0;
        }
        g->hdr = H_HOST | H_CL | H_TE;
        g->hpos = 0;
        name_char(g, c);
        g->state = S_HDR_NAME;
        return 0;
    case S_HDR_NAME:
        if (++g->block > g->lim->max_header_bytes)
            return fail(g, 431, "request header block too large");
        if (++g->line > g->lim->max_header_line)
            return fail(g, 431, "header line too long");
        if (c == ':') {
            name_end(g);
            g->state = S_HDR_VALUE;
            return 0;
        }
        if (c == ' ' || c == '\t')
            return fail(g, 400, "whitespace between a header name and the colon");
        if (!is_tchar(c))
            return fail(g, 400, "bad header name");
        name_char(g, c);
        return 0;
    case S_HDR_VALUE:
    case S_TRAILER:
        if (++g->block > g->lim->max_header_bytes)
            return fail(g, 431, "request header block too large");
        if (++g->line > g->lim->max_header_line)
            return fail(g, 431, "header line too long");
        rc = line_byte(g, c, &eol);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
        if (eol) {
            if (g->state == S_HDR_VALUE && (rc = value_end(g)) != 0)
                return rc;
            g->state = g->state == S_HDR_VALUE ? S_HDR_START : S_TRAILER_START;
            g->line = 0;
            return 0;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(g, 400, "control byte in a header value");
        return g->state == S_HDR_VALUE ? value_char(g, c) : 0;
    case S_BODY:
        /* skipped in bulk by sc_guard_feed */
        return 0;
    case S_CHUNK_SIZE:
        rc = line_byte(g, c, &eol);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
        if (eol) {
            if (g->line == 0)
                return fail(g, 400, "empty chunk size");
            return chunk_line_done(g);
        }
        if (c == ';' && g->line > 0) {
            g->state = S_CHUNK_EXT;
            return 0;
        }
        {
            int v = cm_hexval(c);

            if (v < 0)
                return fail(g, 400, "bad chunk size");
            if (++g->line > 15)
                return fail(g, 400, "chunk size too large");
            g->left = g->left * 16 + (uint64_t)v;
        }
        return 0;
    case S_CHUNK_EXT:
        rc = line_byte(g, c, &eol);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
        if (eol)
            return chunk_line_done(g);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(g, 400, "control byte in a chunk extension");
        if (++g->line > 256)
            return fail(g, 400, "chunk extension too long");
        return 0;
    case S_CHUNK_DATA: return 0; /* skipped in bulk */
    case S_CHUNK_END:
        rc = line_byte(g, c, &eol);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
        if (!eol)
            return fail(g, 400, "chunk data not followed by CRLF");
        g->state = S_CHUNK_SIZE;
        g->left = 0;
        g->line = 0;
        return 0;
    }
    return g->status;
}

bool
sc_guard_idle(const struct sc_guard *g)
{
    return g->state == S_START && g->line == 0 && !g->cr;
}

int
sc_guard_feed(struct sc_guard *g, const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && g->state != S_DEAD) {
        if (g->state == S_BODY || g->state == S_CHUNK_DATA) {
            size_t take = (uint64_t)(n - i) < g->left ? n - i : (size_t)g->left;

            i += take;
            g->left -= take;
            if (g->left == 0) {
                if (g->state == S_BODY)
                    request_done(g);
                else
                    g->state = S_CHUNK_END;
            }
            continue;
        }
        step(g, (unsigned char)p[i++]);
    }
    return g->status;
}
