/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness: request/response body inspection (policy/pol_body.c)
 * and the byte-exact rewrite, for every route and direction, on arbitrary
 * bytes.  Invariants checked: parse either succeeds or fails with an error
 * text; a rewrite with every operator at KEEP reproduces the input byte for
 * byte; a rewrite that redacts everything yields valid JSON again (it is
 * parsed a second time and must succeed).  With bit 0x20 of the first
 * byte, a policy naming generic mode's JSON pointers (wildcards, escapes)
 * selects what route other inspects.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/cm_arena.h"
#include "common/cm_buf.h"
#include "policy/pol_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pol_set *
generic_policy(void)
{
    static const char text[] = "id: fuzz\n"
                               "generic:\n"
                               "  request: [/a, /b/*/c, /x~1y, /0, /a/b/c/d]\n"
                               "  response: [/*, /m/*/*]\n";
    static struct pol_set *ps;
    struct cm_err err;

    if (ps == NULL && pol_set_parse("fuzz.yaml", text, sizeof(text) - 1, &ps, &err) != CM_OK)
        __builtin_trap();
    return ps;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pol_body_limits lim = {.max_depth = 64};
    struct pol_pii_redact_opts opts = {.mask_keep = 4};
    struct cm_arena *arena;
    enum pol_pii_op keep[POL_LABEL_MAX], red[POL_LABEL_MAX];
    enum pol_route route;
    enum pol_dir dir;
    const struct pol_set *ps;

    if (size < 1)
        return 0;
    route = (enum pol_route)(data[0] % POL_ROUTE__COUNT);
    dir = (data[0] & 0x10) ? POL_DIR_RESPONSE : POL_DIR_REQUEST;
    ps = (data[0] & 0x20) ? generic_policy() : NULL;
    data++;
    size--;
    for (int l = 0; l < POL_LABEL_MAX; l++) {
        keep[l] = POL_PII_KEEP;
        red[l] = (l % 2) ? POL_PII_OP_REDACT : POL_PII_OP_MASK;
    }
    arena = cm_arena_new(4096);
    {
        struct pol_body *b, *b2;
        struct cm_err err;
        struct cm_buf out;
        size_t nrep;
        unsigned counts[POL_LABEL_MAX] = {0};

        err.msg[0] = '\0';
        if (pol_body_parse(arena, route, dir, (const char *)data, size, &lim, ps, &b, &err) !=
            CM_OK) {
            if (err.msg[0] == '\0')
                __builtin_trap();
            goto out;
        }
        pol_body_counts(b, counts);
        (void)pol_body_model(b);
        (void)pol_body_stream(b);
        (void)pol_body_modalities(b);
        cm_buf_init(&out);
        if (pol_body_rewrite(b, keep, &opts, &out, &nrep) != CM_OK || nrep != 0 ||
            out.len != size || (size && memcmp(out.p, data, size) != 0))
            __builtin_trap();
        cm_buf_reset(&out);
        if (pol_body_rewrite(b, red, &opts, &out, &nrep) != CM_OK)
            __builtin_trap();
        if (pol_body_parse(arena, route, dir, out.p ? out.p : "", out.len, &lim, ps, &b2, &err) !=
            CM_OK)
            __builtin_trap(); /* the rewrite must stay valid JSON of the same shape */
        cm_buf_fini(&out);
    }
out:
    cm_arena_free(arena);
    return 0;
}
