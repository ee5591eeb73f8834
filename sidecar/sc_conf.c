/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_conf: generations of the configuration.  See sc_conf.h.
 */
#include "sidecar/sc_conf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cm_mem.h"
#include "policy/pii/pii_model.h"

/* A loaded model and the identity of the file it was read from. */
struct sc_model {
    _Atomic unsigned refs;
    struct pol_pii_model *m;
    char *path;
    struct stat st;
};

static bool
same_file(const struct sc_model *sm, const char *path, const struct stat *st)
{
    return strcmp(sm->path, path) == 0 && sm->st.st_dev == st->st_dev &&
           sm->st.st_ino == st->st_ino && sm->st.st_size == st->st_size &&
           sm->st.st_mtim.tv_sec == st->st_mtim.tv_sec &&
           sm->st.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

static void
model_unref(struct sc_model *sm)
{
    if (sm == NULL || atomic_fetch_sub_explicit(&sm->refs, 1, memory_order_acq_rel) != 1)
        return;
    pol_pii_model_free(sm->m);
    free(sm->path);
    free(sm);
}

/* The model at path: running's when it was read from the same unchanged
 * file, else loaded.  (A file replaced between the stat and the load is
 * caught by the next reload: the identity kept is the one stat saw.) */
static int
model_get(const char *path, const struct sc_conf *running, struct sc_conf *c, struct cm_err *err)
{
    struct sc_model *sm;
    struct stat st;
    int rc;

    if (stat(path, &st) != 0)
        memset(&st, 0, sizeof(st)); /* the load says what is wrong */
    if (running != NULL && running->shared != NULL && st.st_ino != 0 &&
        same_file(running->shared, path, &st)) {
        atomic_fetch_add_explicit(&running->shared->refs, 1, memory_order_relaxed);
        c->shared = running->shared;
        c->model = running->shared->m;
        c->model_reused = true;
        return CM_OK;
    }
    sm = cm_calloc(1, sizeof(*sm));
    rc = pol_pii_model_load(path, &sm->m, err);
    if (rc != CM_OK) {
        free(sm);
        return rc;
    }
    atomic_init(&sm->refs, 1);
    sm->path = cm_strdup(path);
    sm->st = st;
    c->shared = sm;
    c->model = sm->m;
    return CM_OK;
}

int
sc_conf_load(const char *path, char *const *overrides, size_t noverrides,
             const struct sc_conf *running, struct sc_conf **out, struct cm_err *err)
{
    struct sc_conf *c = cm_calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    atomic_init(&c->refs, 1);
    rc = sc_options_load(&c->opts, path, overrides, noverrides, err);
    if (rc != CM_OK)
        goto fail;
    if (running != NULL) {
        sc_options_keep_restart(&c->opts, &running->opts);
        /* The fingerprint key is a start-up secret, read before privileges
         * are dropped (like the TLS keys and pii_key_file): a reload keeps
         * the running generation's key. */
        if (running->opts.fingerprint_key != NULL) {
            c->opts.fingerprint_key = cm_malloc(sizeof(*c->opts.fingerprint_key));
            memcpy(c->opts.fingerprint_key, running->opts.fingerprint_key,
                   sizeof(*c->opts.fingerprint_key));
        }
    } else if (c->opts.fingerprint_key_file != NULL) {
        c->opts.fingerprint_key = cm_malloc(sizeof(*c->opts.fingerprint_key));
        rc = cm_fp_key_load(c->opts.fingerprint_key_file, c->opts.fingerprint_key, err);
        if (rc != CM_OK)
            goto fail;
    }
    if (strcmp(c->opts.pii_model, "none") != 0) {
        char buf[4096];
        const char *mpath = strcmp(c->opts.pii_model, "auto") == 0
                                ? pol_pii_model_default_path(buf, sizeof(buf))
                                : c->opts.pii_model;

        rc = model_get(mpath, running, c, err);
        if (rc != CM_OK) {
            char msg[sizeof(err->msg)];

            memcpy(msg, err->msg, sizeof(msg));
            msg[sizeof(msg) - 1] = '\0';
            rc = cm_err_set(err, rc, "pii_model: %.480s", msg);
            goto fail;
        }
    }
    c->lim.max_depth = (size_t)c->opts.max_json_depth;
    c->lim.model = c->model;
    *out = c;
    return CM_OK;
fail:
    sc_conf_unref(c);
    return rc;
}

struct sc_conf *
sc_conf_ref(struct sc_conf *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void
sc_conf_unref(struct sc_conf *c)
{
    if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    model_unref(c->shared);
    sc_options_fini(&c->opts);
    free(c);
}

const char *
sc_conf_model_id(const struct sc_conf *c)
{
    return c->model != NULL ? pol_pii_model_id(c->model) : "none";
}
