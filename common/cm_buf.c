/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_buf: slices and growable buffers.  See cm_buf.h.
 */
#include "common/cm_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cm_mem.h"

bool
cm_str_eq(struct cm_str a, const char *lit)
{
    size_t n = strlen(lit);

    return a.n == n && memcmp(a.p, lit, n) == 0;
}

bool
cm_str_eq_nocase(struct cm_str a, const char *lit)
{
    size_t n = strlen(lit);

    return a.n == n && strncasecmp(a.p, lit, n) == 0;
}

void
cm_buf_init(struct cm_buf *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void
cm_buf_fini(struct cm_buf *b)
{
    free(b->p);
    cm_buf_init(b);
}

void
cm_buf_reserve(struct cm_buf *b, size_t n)
{
    size_t need = b->len + n + 1, cap = b->cap ? b->cap : 64;

    if (need <= b->cap)
        return;
    while (cap < need)
        cap *= 2;
    b->p = cm_realloc(b->p, cap);
    b->cap = cap;
}

void
cm_buf_reset(struct cm_buf *b)
{
    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

void
cm_buf_append(struct cm_buf *b, const void *p, size_t n)
{
    cm_buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
cm_buf_puts(struct cm_buf *b, const char *s)
{
    cm_buf_append(b, s, strlen(s));
}

void
cm_buf_putc(struct cm_buf *b, char c)
{
    cm_buf_append(b, &c, 1);
}

void
cm_buf_printf(struct cm_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    cm_buf_reserve(b, 64);
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        cm_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void
cm_buf_append_json_str(struct cm_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    cm_buf_reserve(b, n + 2);
    cm_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];

        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                memcpy(u, "\\u00", 4);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
                u[6] = '\0';
                esc = u;
            }
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        cm_buf_append(b, s + i - run, run);
        run = 0;
        cm_buf_puts(b, esc);
    }
    cm_buf_append(b, s + n - run, run);
    cm_buf_putc(b, '"');
}

char *
cm_buf_steal(struct cm_buf *b, size_t *len)
{
    char *p = b->p;

    if (p == NULL)
        p = cm_calloc(1, 1);
    if (len != NULL)
        *len = b->len;
    cm_buf_init(b);
    return p;
}
