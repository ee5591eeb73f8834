/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_conf: one generation of steward's configuration: the options as read
 * from the file (and -o overrides) and the classifier model they name,
 * bundled in an immutable, refcounted snapshot.
 *
 * At start-up main loads the first generation.  SIGHUP (or POST /reload)
 * loads a new one next to it; options that cannot change without a restart
 * (the RESTART rows of sc_options.c: listeners, workers, TLS, upstream,
 * lineage delivery, ...) are compared with the running generation, each
 * change is logged as "option_needs_restart" and the running value is kept,
 * so two generations only ever differ in RELOAD options.  The new
 * generation is then published with the policy set and the API-key table
 * to every worker at once (sc_main.c), the worker swaps it in between two
 * exchanges (sc_proxy_set_conf), and each exchange holds a reference to the
 * generation it started with until it ends.  The last reference frees the
 * options, and the model unless a newer generation shares it: a reload
 * whose model file is the same file, unchanged (path, device, inode, size,
 * modification time), keeps the loaded model rather than reading it again.
 *
 * sc_conf_load is start-up and reload code (the main thread); ref/unref are
 * any thread.
 */
#ifndef SC_CONF_H
#define SC_CONF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/cm_status.h"
#include "policy/pol_body.h"
#include "sidecar/sc_options.h"

struct pol_pii_model;
struct sc_model;

/* Read-only once published; embedded members are read in place. */
struct sc_conf {
    _Atomic unsigned refs;
    struct sc_options opts;
    struct pol_pii_model *model; /* NULL: none (recognizers only) */
    struct sc_model *shared;     /* the model and its file, shared across generations */
    bool model_reused;           /* the running generation's model (file unchanged) */
    struct pol_body_limits lim;  /* max_json_depth and model, for pol_body */
};

/* Loads a generation from path (NULL: defaults only) and the overrides
 * ("k=v", borrowed), then the model opts.pii_model names.  With running
 * (borrowed) set, RESTART options keep running's values (each change
 * logged).  Returns CM_OK with *out (one reference, release with
 * sc_conf_unref), or CM_EIO/CM_EINPUT with "file:line: ..." in err (then
 * *out is NULL). */
int sc_conf_load(const char *path, char *const *overrides, size_t noverrides,
                 const struct sc_conf *running, struct sc_conf **out,
                 struct cm_err *err) CM_MUSTCHECK;
/* Takes another reference; returns c. */
struct sc_conf *sc_conf_ref(struct sc_conf *c);
/* Drops a reference; the last one frees (NULL-safe). */
void sc_conf_unref(struct sc_conf *c);
/* The model's id for logs ("none" without one). */
const char *sc_conf_model_id(const struct sc_conf *c);

#endif /* SC_CONF_H */
