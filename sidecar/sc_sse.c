/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_sse: the Server-Sent Events framer.  See sc_sse.h.
 */
#include "sidecar/sc_sse.h"

#include <string.h>

size_t
sc_sse_event_len(const char *buf, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

bool
sc_sse_next_line(const char *ev, size_t n, size_t *pos, struct sc_sse_line *l)
{
    size_t ls = *pos, ll = 0;

    if (ls >= n)
        return false;
    while (ls + ll < n && ev[ls + ll] != '\n')
        ll++;
    l->p = ev + ls;
    l->len = ll;
    l->eol = ls + ll < n ? 1 : 0;
    l->data = NULL;
    l->dlen = 0;
    if (ll >= 5 && memcmp(l->p, "data:", 5) == 0) {
        size_t off = (ll > 5 && l->p[5] == ' ') ? 6 : 5, dl = ll - off;

        while (dl > 0 && l->p[off + dl - 1] == '\r')
            dl--;
        l->data = l->p + off;
        l->dlen = dl;
    }
    *pos = ls + ll + l->eol;
    return true;
}

bool
sc_sse_is_done(const char *ev, size_t n)
{
    struct sc_sse_line l;

    for (size_t pos = 0; sc_sse_next_line(ev, n, &pos, &l);)
        if (l.data != NULL)
            return l.dlen == 6 && memcmp(l.data, "[DONE]", 6) == 0;
    return false;
}

size_t
sc_sse_data_lines(const char *ev, size_t n)
{
    struct sc_sse_line l;
    size_t k = 0;

    for (size_t pos = 0; sc_sse_next_line(ev, n, &pos, &l);)
        k += l.data != NULL;
    return k;
}

size_t
sc_sse_join_data(const char *ev, size_t n, char *out)
{
    struct sc_sse_line l, d;
    size_t o = 0;
    bool joined = false;

    for (size_t pos = 0; sc_sse_next_line(ev, n, &pos, &l);) {
        if (l.data == NULL) {
            memcpy(out + o, l.p, l.len + l.eol);
            o += l.len + l.eol;
            continue;
        }
        if (joined)
            continue; /* already in the joined line */
        joined = true;
        memcpy(out + o, "data: ", 6);
        o += 6;
        for (size_t dpos = pos - l.len - l.eol, k = 0; sc_sse_next_line(ev, n, &dpos, &d);) {
            if (d.data == NULL)
                continue;
            if (k++ > 0)
                out[o++] = ' ';
            memcpy(out + o, d.data, d.dlen);
            o += d.dlen;
        }
        out[o++] = '\n';
    }
    return o;
}
