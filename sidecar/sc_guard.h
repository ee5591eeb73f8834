/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_guard: a strict HTTP/1.1 framing validator (RFC 9112) that watches the
 * raw bytes of a client connection before evhttp parses them.
 *
 * evhttp is lenient where a proxy must not be: it accepts obs-fold,
 * whitespace before the colon, "0x" chunk sizes, control bytes in header
 * values, and it lets two Content-Length headers through (DESIGN.md
 * section 3).  The guard runs over the same bytes as a byte-at-a-time state
 * machine that never buffers (it only counts), records the first violation
 * of a connection with its HTTP status (400, 414, 431, 501, 505) and the
 * index of the request it occurred in, and the pipeline answers that
 * request with the status and closes the connection, so nothing pipelined
 * behind a bad request runs.
 *
 * Pure and allocation-free: the state is a small struct the caller embeds.
 * What it checks: request line (method token, origin-form or "*" target,
 * HTTP/1.0 or 1.1, target length), header lines (token name, no whitespace
 * before the colon, no obs-fold, no NUL/CR/control bytes in values, line
 * and block size, count), Host (exactly one in HTTP/1.1), Content-Length
 * (digits only, once), Transfer-Encoding (only "chunked", never with
 * Content-Length or in HTTP/1.0), chunk sizes (hex digits only, bounded),
 * chunk terminators and trailers, and the body size (Content-Length, or
 * the sum of the chunk sizes, over max_body: 413).  evhttp enforces the
 * same max_body and answers that 413 itself without ever dispatching the
 * request, so the guard's verdict is what lets the pipeline record it.
 */
#ifndef SC_GUARD_H
#define SC_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sc_guard_limits {
    size_t max_target;       /* request-target bytes; beyond: 414 */
    size_t max_header_line;  /* one header line; beyond: 431 */
    size_t max_header_bytes; /* the whole header block; beyond: 431 */
    size_t max_headers;      /* header count; beyond: 431 */
    uint64_t max_body;       /* body bytes (as framed, before inflating); beyond: 413;
                                0: no limit */
};

/* Embedded by value; one per connection. */
struct sc_guard {
    const struct sc_guard_limits *lim;
    uint8_t state;
    uint8_t sub;
    bool http11;
    bool cr; /* the previous byte was CR */
    unsigned nhost;
    unsigned ncl;
    bool te_chunked;
    bool bad_te;
    size_t line;  /* bytes in the current line / token */
    size_t block; /* bytes in the current header block */
    size_t nheaders;
    uint64_t left; /* body or chunk bytes still to skip */
    uint64_t cl;
    uint64_t body;        /* chunk sizes so far in this request */
    unsigned hdr;         /* which header is being read (see sc_guard.c) */
    size_t hpos;          /* position in the header name or value matched */
    unsigned request;     /* index of the request being read, from 0 */
    int status;           /* 0, or the HTTP status of the first violation */
    unsigned bad_request; /* index of the request that violated */
    const char *why;      /* static text of the first violation */
};

void sc_guard_init(struct sc_guard *g, const struct sc_guard_limits *lim);
/* True between requests (nothing of the next request read yet). */
bool sc_guard_idle(const struct sc_guard *g);
/* Feeds the next n bytes of the connection.  Returns g->status (0 while the
 * stream is well-formed); after a violation further bytes are ignored. */
int sc_guard_feed(struct sc_guard *g, const char *p, size_t n);

#endif /* SC_GUARD_H */
