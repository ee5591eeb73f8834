/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness: the options-table engine (common/cm_conf.c over inih)
 * on arbitrary configuration text, with a table holding every option type.
 * Invariant: any input either loads or fails with an error text; nothing
 * crashes, leaks or reads out of bounds; a loaded struct frees cleanly.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/cm_conf.h"

struct fz_opts {
    bool b;
    long long i;
    size_t sz;
    int64_t dur;
    char *s;
    char *path;
    int e;
    struct cm_kv_list kv;
};

static const char *const fz_choices[] = {"one", "two", "three", NULL};

static const struct cm_opt fz_tab[] = {
    {"b", CM_OPT_BOOL, "no", 0, offsetof(struct fz_opts, b), "bool"},
    {"i", CM_OPT_INT, "1", 0, offsetof(struct fz_opts, i), "int", NULL, -5, 1000},
    {"size", CM_OPT_SIZE, "1K", 0, offsetof(struct fz_opts, sz), "size"},
    {"dur", CM_OPT_DURATION, "1s", 0, offsetof(struct fz_opts, dur), "duration"},
    {"s", CM_OPT_STRING, "x", 0, offsetof(struct fz_opts, s), "string"},
    {"path", CM_OPT_PATH, NULL, 0, offsetof(struct fz_opts, path), "path"},
    {"e", CM_OPT_ENUM, "one", 0, offsetof(struct fz_opts, e), "enum", fz_choices},
    {"kafka.", CM_OPT_PREFIX, NULL, 0, offsetof(struct fz_opts, kv), "prefix"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_opts o;
    struct cm_err err;
    int rc;

    memset(&o, 0, sizeof(o));
    if (cm_conf_defaults(fz_tab, CM_ARRAY_LEN(fz_tab), &o, &err) != CM_OK)
        __builtin_trap();
    rc = cm_conf_load_mem(fz_tab, CM_ARRAY_LEN(fz_tab), &o, "fuzz", (const char *)data, size, &err);
    if (rc != CM_OK && err.msg[0] == '\0')
        __builtin_trap(); /* every failure explains itself */
    cm_conf_fini(fz_tab, CM_ARRAY_LEN(fz_tab), &o);
    return 0;
}
