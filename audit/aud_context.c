/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_context: parsers of the lineage-context request headers.  See
 * aud_context.h; the trace-context rules are those of W3C Trace Context
 * level 1, section 3.2 (traceparent) and 3.2.4 (versioning).
 */
#include "audit/aud_context.h"

#include <string.h>

#include "common/cm_hash.h"
#include "common/cm_uuid.h"

static bool
ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional white space from both ends of v[0..*n). */
static const char *
trim(const char *v, size_t *n)
{
    size_t len = *n;

    while (len > 0 && ows(*v)) {
        v++;
        len--;
    }
    while (len > 0 && ows(v[len - 1]))
        len--;
    *n = len;
    return v;
}

/* n lower-case hex digits, not all zero when nonzero is set. */
static bool
lowhex(const char *s, size_t n, bool nonzero)
{
    bool any = false;

    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
        any |= s[i] != '0';
    }
    return any || !nonzero;
}

int
aud_traceparent_parse(const char *v, size_t n, char trace_id[AUD_TRACE_ID_LEN],
                      char parent_id[AUD_SPAN_ID_LEN])
{
    v = trim(v, &n);
    /* version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2) = 55 */
    if (n < 55 || !lowhex(v, 2, false) || memcmp(v, "ff", 2) == 0 || v[2] != '-' || v[35] != '-' ||
        v[52] != '-' || !lowhex(v + 3, 32, true) || !lowhex(v + 36, 16, true) ||
        !lowhex(v + 53, 2, false))
        return CM_EINPUT;
    if (memcmp(v, "00", 2) == 0 ? n != 55 : (n > 55 && v[55] != '-'))
        return CM_EINPUT;
    memcpy(trace_id, v + 3, 32);
    trace_id[32] = '\0';
    memcpy(parent_id, v + 36, 16);
    parent_id[16] = '\0';
    return CM_OK;
}

int
aud_trace_init(struct aud_trace *t, const uint8_t record_id[16], const char *traceparent)
{
    int rc = CM_OK;

    memset(t, 0, sizeof(*t));
    cm_hex(record_id + 8, 8, t->span_id);
    if (traceparent != NULL) {
        rc =
            aud_traceparent_parse(traceparent, strlen(traceparent), t->trace_id, t->parent_span_id);
        if (rc == CM_OK) {
            t->from_header = true;
            return CM_OK;
        }
        t->parent_span_id[0] = '\0';
    }
    cm_hex(record_id, 16, t->trace_id);
    return rc;
}

int
aud_parent_parse(const char *v, char out[37])
{
    uint8_t id[16];
    char tmp[37];
    size_t n = strlen(v);

    v = trim(v, &n);
    if (n != 36)
        return CM_EINPUT;
    memcpy(tmp, v, 36);
    tmp[36] = '\0';
    if (cm_uuid_parse(tmp, id) != CM_OK)
        return CM_EINPUT;
    cm_uuid_fmt(id, out);
    return CM_OK;
}

void
aud_inputs_split(const char *v, size_t n, struct cm_arena *arena, const char **out, size_t *nout,
                 size_t max, size_t *nbad)
{
    size_t i = 0;

    while (i <= n) {
        size_t start = i, len;
        const char *e;
        bool ctl = false, dup = false;

        while (i < n && v[i] != ',')
            i++;
        len = i - start;
        e = trim(v + start, &len);
        i++; /* past the comma (or the end) */
        if (len == 0)
            continue;
        for (size_t k = 0; k < len; k++)
            ctl |= (unsigned char)e[k] < 0x20 || e[k] == 0x7f;
        if (ctl || len > AUD_MAX_INPUT_LEN) {
            (*nbad)++;
            continue;
        }
        for (size_t k = 0; k < *nout && !dup; k++)
            dup = strlen(out[k]) == len && memcmp(out[k], e, len) == 0;
        if (dup)
            continue;
        if (*nout >= max) {
            (*nbad)++;
            continue;
        }
        out[(*nout)++] = cm_arena_strndup(arena, e, len);
    }
}
