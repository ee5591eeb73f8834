/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_mem: allocation wrappers that abort on OOM.  See cm_mem.h.
 */
#include "common/cm_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cm_status.h"

static void
oom(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "lvl=fatal mod=mem msg=out_of_memory bytes=%zu\n", n);

    if (len > 0)
        (void)!write(2, msg, (size_t)len);
    abort();
}

void
cm_assert_fail(const char *expr, const char *file, int line)
{
    char msg[512];
    int len = snprintf(msg, sizeof(msg),
                       "lvl=fatal mod=assert msg=assertion_failed expr=\"%s\" at=%s:%d\n", expr,
                       file, line);

    if (len > 0)
        (void)!write(2, msg, (size_t)len < sizeof(msg) ? (size_t)len : sizeof(msg) - 1);
    abort();
}

void *
cm_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *
cm_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);

    if (p == NULL)
        oom(count * n);
    return p;
}

void *
cm_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

char *
cm_strndup(const char *s, size_t n)
{
    char *p = cm_malloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
cm_strdup(const char *s)
{
    return cm_strndup(s, strlen(s));
}
