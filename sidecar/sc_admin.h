/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_admin: the admin listener, separate from the data port and on loopback
 * (or a unix socket) by default:
 *
 *   GET  /healthz   200 while the process serves (liveness)
 *   GET  /readyz    200 when the policy is loaded and lineage delivery is
 *                   healthy; 503 with the reason otherwise (readiness)
 *   GET  /metrics   Prometheus text format (sc_metrics)
 *   POST /reload    reload the policy now (as SIGHUP does); 200 or 500
 *
 * The hooks are called on the admin loop's thread.  Never exposed with the
 * data port: it answers anyone who can connect.
 */
#ifndef SC_ADMIN_H
#define SC_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"

struct sc_admin;

struct sc_admin_hooks {
    void *arg;
    /* true when ready; else why (a short reason) is filled */
    bool (*ready)(void *arg, char *why, size_t whylen);
    void (*metrics)(void *arg, struct cm_buf *out);
    /* CM_OK, or an error with text in err */
    int (*reload)(void *arg, struct cm_err *err);
};

/* Borrows base and hooks.  Returns CM_OK with *out, or the listen error. */
int sc_admin_new(struct event_base *base, const char *listen, const struct sc_admin_hooks *hooks,
                 struct sc_admin **out, char *bound, size_t boundlen,
                 struct cm_err *err) CM_MUSTCHECK;
void sc_admin_free(struct sc_admin *a); /* NULL-safe */

#endif /* SC_ADMIN_H */
