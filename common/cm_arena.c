/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_arena: chunked bump allocator.  See cm_arena.h.
 */
#include "common/cm_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_MALLOC_EACH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_MALLOC_EACH 1
#endif
#endif

struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct cm_arena {
    struct arena_chunk *head;
    size_t chunk;
    size_t used;
};

struct cm_arena *
cm_arena_new(size_t chunk)
{
    struct cm_arena *arena = cm_calloc(1, sizeof(*arena));

    arena->chunk = chunk < 256 ? 256 : chunk;
    return arena;
}

static void
arena_free_chunks(struct arena_chunk *c, const struct arena_chunk *keep)
{
    while (c != NULL) {
        struct arena_chunk *next = c->next;

        if (c != keep)
            free(c);
        c = next;
    }
}

void
cm_arena_free(struct cm_arena *arena)
{
    if (arena == NULL)
        return;
    arena_free_chunks(arena->head, NULL);
    free(arena);
}

void
cm_arena_reset(struct cm_arena *arena)
{
    struct arena_chunk *last = arena->head;

#ifdef ARENA_MALLOC_EACH
    arena_free_chunks(arena->head, NULL);
    arena->head = NULL;
    (void)last;
#else
    /* Keep the oldest chunk (the tail of the list): it has the base size. */
    while (last != NULL && last->next != NULL)
        last = last->next;
    arena_free_chunks(arena->head, last);
    arena->head = last;
    if (last != NULL) {
        last->used = 0;
        last->next = NULL;
    }
#endif
    arena->used = 0;
}

void *
cm_arena_alloc(struct cm_arena *arena, size_t n)
{
    const size_t align = alignof(max_align_t);
    struct arena_chunk *c = arena->head;
    size_t need = (n + align - 1) & ~(align - 1);

    if (need == 0)
        need = align;
    arena->used += need;
#ifndef ARENA_MALLOC_EACH
    if (c != NULL && c->size - c->used >= need) {
        void *p = c->data + c->used;

        c->used += need;
        return p;
    }
#endif
    {
        size_t size = need;

#ifndef ARENA_MALLOC_EACH
        if (size < arena->chunk)
            size = arena->chunk;
#endif
        c = cm_malloc(sizeof(*c) + size);
        c->size = size;
        c->used = need;
        c->next = arena->head;
        arena->head = c;
        return c->data;
    }
}

void *
cm_arena_calloc(struct cm_arena *arena, size_t n)
{
    void *p = cm_arena_alloc(arena, n);

    memset(p, 0, n);
    return p;
}

char *
cm_arena_strndup(struct cm_arena *arena, const char *s, size_t n)
{
    char *p = cm_arena_alloc(arena, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t
cm_arena_used(const struct cm_arena *arena)
{
    return arena->used;
}
