/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_mem: allocation that aborts on out-of-memory (Redis zmalloc style).
 * Memory in steward is bounded by configured limits (connections, body bytes,
 * spool bytes), so running out means a bug or a bad config; callers never
 * check for NULL.  Any thread.
 */
#ifndef CM_MEM_H
#define CM_MEM_H

#include <stddef.h>

void *cm_malloc(size_t n);
void *cm_calloc(size_t count, size_t n);
void *cm_realloc(void *p, size_t n);
/* Returns owned copies; free with free(). */
char *cm_strdup(const char *s);
char *cm_strndup(const char *s, size_t n);

#endif /* CM_MEM_H */
