/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_buf: slices and growable byte buffers.
 *
 * struct cm_str is a borrowed slice into someone else's bytes (nginx
 * ngx_str_t); struct cm_buf owns a heap buffer that grows by doubling and is
 * always NUL-terminated after `len` bytes so it can be handed to C APIs.
 * Both are visible structs because callers embed them by value.
 * No thread context of their own: a buffer belongs to one thread at a time.
 */
#ifndef CM_BUF_H
#define CM_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/cm_status.h"

struct cm_str {
    const char *p;
    size_t n;
};

#define CM_STR(lit) ((struct cm_str){(lit), sizeof(lit) - 1})

bool cm_str_eq(struct cm_str a, const char *lit);
bool cm_str_eq_nocase(struct cm_str a, const char *lit);

/* Embedded by value. `p` is NULL until the first append. */
struct cm_buf {
    char *p;
    size_t len;
    size_t cap;
};

void cm_buf_init(struct cm_buf *b);
void cm_buf_fini(struct cm_buf *b);
/* Makes room for n more bytes. */
void cm_buf_reserve(struct cm_buf *b, size_t n);
void cm_buf_reset(struct cm_buf *b);
void cm_buf_append(struct cm_buf *b, const void *p, size_t n);
void cm_buf_puts(struct cm_buf *b, const char *s);
void cm_buf_putc(struct cm_buf *b, char c);
void cm_buf_printf(struct cm_buf *b, const char *fmt, ...) CM_PRINTF(2, 3);
/* Appends s[0..n) as a JSON string literal, quotes included (RFC 8259
 * escaping; bytes >= 0x80 are copied as they are, so valid UTF-8 stays
 * valid UTF-8). */
void cm_buf_append_json_str(struct cm_buf *b, const char *s, size_t n);
/* Takes the bytes out of b (caller frees with free()); b is left empty. */
char *cm_buf_steal(struct cm_buf *b, size_t *len);

#endif /* CM_BUF_H */
