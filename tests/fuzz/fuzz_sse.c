/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_sse: libFuzzer harness for the Server-Sent Events framer of streamed
 * answers (sidecar/sc_sse.c), which splits whatever a model server streams
 * into events and lines before anything is inspected.
 *
 * The first input byte picks the sizes of the pieces the rest arrives in;
 * the rest is the stream.  The harness frames it twice, as the sidecar
 * does: all at once, and piece by piece (an event is taken only when
 * complete; what is left at the end is the last, unterminated event).
 * Invariants:
 *   - both ways give the same events, and the events put back together
 *     are the input, byte for byte;
 *   - a complete event ends with its first blank line and holds no other;
 *   - an event's lines put back together are the event; a data line's
 *     value lies inside its line;
 *   - sc_sse_is_done agrees with the first data line;
 *   - sc_sse_join_data, on an event with several data lines, fits in the
 *     event's length and gives one data line, whose value is the values
 *     joined with spaces, in the first one's place, and the other lines
 *     unchanged and in order.
 *
 *   make fuzz && build/fuzz/fuzz_sse -max_total_time=60 tests/fuzz/corpus/fuzz_sse
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sidecar/sc_sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 4096

/* The joining of an event's data lines (sc_sse_join_data). */
static void
check_join(const char *ev, size_t n)
{
    static char out[1 << 20], want[1 << 20], others[1 << 20];
    struct sc_sse_line l;
    size_t k = sc_sse_data_lines(ev, n), o, wn = 0, on = 0, pos = 0;
    bool seen = false;

    if (k < 2 || n > sizeof(out))
        return;
    o = sc_sse_join_data(ev, n, out);
    if (o > n || sc_sse_data_lines(out, o) != 1)
        abort();
    /* what it should hold: the values joined, and the other lines */
    while (sc_sse_next_line(ev, n, &pos, &l)) {
        if (l.data == NULL) {
            memcpy(others + on, l.p, l.len + l.eol);
            on += l.len + l.eol;
            continue;
        }
        if (seen)
            want[wn++] = ' ';
        seen = true;
        memcpy(want + wn, l.data, l.dlen);
        wn += l.dlen;
    }
    pos = 0;
    {
        size_t got_on = 0;

        while (sc_sse_next_line(out, o, &pos, &l)) {
            if (l.data != NULL) {
                /* (a joined value ending in '\r' loses it again: trimmed) */
                if (l.dlen > wn || memcmp(l.data, want, l.dlen) != 0)
                    abort();
                for (size_t i = l.dlen; i < wn; i++)
                    if (want[i] != '\r')
                        abort();
                continue;
            }
            if (got_on + l.len + l.eol > on || memcmp(others + got_on, l.p, l.len + l.eol) != 0)
                abort();
            got_on += l.len + l.eol;
        }
        if (got_on != on)
            abort();
    }
}

static void
check_event(const char *ev, size_t n, bool complete)
{
    struct sc_sse_line l;
    size_t pos = 0, sum = 0;
    bool first_data = true, done = false;

    if (complete) {
        /* ends with its blank line, and that is the first one */
        if (!(n >= 2 && ev[n - 1] == '\n' &&
              (ev[n - 2] == '\n' || (n >= 3 && ev[n - 2] == '\r' && ev[n - 3] == '\n'))))
            abort();
        if (sc_sse_event_len(ev, n) != n)
            abort();
    }
    while (sc_sse_next_line(ev, n, &pos, &l)) {
        if (l.p != ev + sum || l.len + l.eol == 0 || pos != sum + l.len + l.eol || pos > n)
            abort();
        if (memchr(l.p, '\n', l.len) != NULL || (l.eol == 1 && l.p[l.len] != '\n'))
            abort();
        if (l.data != NULL) {
            if (l.data < l.p + 5 || l.data + l.dlen > l.p + l.len || memcmp(l.p, "data:", 5) != 0)
                abort();
            if (first_data)
                done = l.dlen == 6 && memcmp(l.data, "[DONE]", 6) == 0;
            first_data = false;
        } else if (l.len >= 5 && memcmp(l.p, "data:", 5) == 0) {
            abort();
        }
        sum = pos;
    }
    if (sum != n || sc_sse_is_done(ev, n) != done)
        abort();
    check_join(ev, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t whole[MAX_EVENTS], pieces[MAX_EVENTS];
    const char *s;
    size_t n, nw = 0, np = 0, pos = 0, have, step;

    if (size < 1)
        return 0;
    step = (size_t)(data[0] % 16) + 1;
    s = (const char *)data + 1;
    n = size - 1;

    /* all at once */
    while (pos < n && nw < MAX_EVENTS) {
        size_t e = sc_sse_event_len(s + pos, n - pos);

        if (e == 0)
            e = n - pos; /* the end: the last, unterminated event */
        check_event(s + pos, e, sc_sse_event_len(s + pos, e) == e);
        whole[nw++] = e;
        pos += e;
    }
    if (nw == MAX_EVENTS)
        return 0;

    /* piece by piece: bytes arrive step at a time, complete events leave */
    pos = 0;
    have = 0;
    while (have < n) {
        have = have + step < n ? have + step : n;
        for (;;) {
            size_t e = sc_sse_event_len(s + pos, have - pos);

            if (e == 0)
                break;
            if (np == MAX_EVENTS)
                abort();
            pieces[np++] = e;
            pos += e;
        }
    }
    if (pos < n)
        pieces[np++] = n - pos;
    if (np != nw || memcmp(pieces, whole, nw * sizeof(*whole)) != 0)
        abort();
    return 0;
}
