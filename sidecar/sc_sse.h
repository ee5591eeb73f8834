/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_sse: the Server-Sent Events framer of streamed answers (the
 * text/event-stream format of the WHATWG HTML standard, as model servers
 * write it).  The answer arrives in arbitrary pieces; sc_sse_event_len
 * finds where the first complete event ends (at its blank line: "\n\n", or
 * "\n\r\n"), and sc_sse_next_line walks an event's lines, telling a "data:"
 * line's value from the others.  Everything else of an event (event:, id:,
 * retry:, comments) is relayed byte for byte by the caller.
 *
 * Pure functions over borrowed bytes: no allocation, any thread, never a
 * read outside [0, n).  Fuzzed by tests/fuzz/fuzz_sse.c.
 */
#ifndef SC_SSE_H
#define SC_SSE_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the first complete event in buf[0..n), its blank line
 * included; 0 when no event is complete yet (wait for more bytes). */
size_t sc_sse_event_len(const char *buf, size_t n);

struct sc_sse_line {
    const char *p; /* the line, without its '\n' */
    size_t len;
    size_t eol;       /* 1 when a '\n' ends it, 0 when the event's bytes end first */
    const char *data; /* a "data:" line's value (one leading space and trailing
                         '\r's dropped), or NULL for any other line */
    size_t dlen;
};

/* The line of ev[0..n) starting at *pos: fills *l, moves *pos past it and
 * returns true; false when *pos is at the end. */
bool sc_sse_next_line(const char *ev, size_t n, size_t *pos, struct sc_sse_line *l);

/* Whether the first data line of the event ev[0..n) is the "[DONE]"
 * sentinel (OpenAI-style streams end with it). */
bool sc_sse_is_done(const char *ev, size_t n);

/* How many data lines the event ev[0..n) has. */
size_t sc_sse_data_lines(const char *ev, size_t n);

/* An event whose data spans several data lines (the standard joins their
 * values with newlines: a JSON value pretty-printed over several lines),
 * rewritten into out[0..n) with one data line in place of the first, whose
 * value is the values joined with spaces, and the other lines as they were.
 * For JSON that is the same value: a newline can only stand between its
 * tokens, where a space means the same.  With two data lines or more, out
 * needs no more than n bytes (each data line's prefix and newline take at
 * least 6; the joined line adds 6, a space per value and a newline).
 * Returns the rewritten event's length. */
size_t sc_sse_join_data(const char *ev, size_t n, char *out);

#endif /* SC_SSE_H */
