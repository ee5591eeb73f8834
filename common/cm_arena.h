/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_arena: a per-request bump allocator (nginx pools).  Parsed headers,
 * findings, policy decisions and scratch space live here and are freed in one
 * call when the request ends.  Objects that outlive a request use malloc.
 *
 * Under AddressSanitizer the arena falls back to one malloc per allocation so
 * ASan sees every object's bounds.  Not thread-safe: one arena per request,
 * used by the thread that owns the request.
 */
#ifndef CM_ARENA_H
#define CM_ARENA_H

#include <stddef.h>

struct cm_arena;

/* Returns an owned arena whose chunks are at least chunk bytes; free with
 * cm_arena_free(). */
struct cm_arena *cm_arena_new(size_t chunk);
/* NULL-safe. */
void cm_arena_free(struct cm_arena *arena);
/* Frees every allocation but keeps the first chunk for reuse. */
void cm_arena_reset(struct cm_arena *arena);
/* Returns n bytes aligned for any type, valid until reset or free. */
void *cm_arena_alloc(struct cm_arena *arena, size_t n);
void *cm_arena_calloc(struct cm_arena *arena, size_t n);
char *cm_arena_strndup(struct cm_arena *arena, const char *s, size_t n);
/* Bytes handed out since the last reset (for limits and metrics). */
size_t cm_arena_used(const struct cm_arena *arena);

#endif /* CM_ARENA_H */
