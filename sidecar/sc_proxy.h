/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_proxy: the request pipeline of one event loop.
 *
 *   read (evhttp, within limits) -> route -> parse + classify (pol_body)
 *   -> decide (pol_set_eval) -> rewrite or deny -> forward (sc_upstream)
 *   -> inspect the answer (whole JSON, or SSE event by event) -> reply
 *   -> one lineage record (aud_record -> aud_emitter)
 *
 * Every exchange, whatever its end, produces exactly one lineage record;
 * sc_outcome.c maps each end to its HTTP status and outcome.
 *
 * Loop thread only.  The policy set is held by reference per exchange, so a
 * reload (sc_proxy_set_policy) never changes the policy under a request in
 * flight.
 */
#ifndef SC_PROXY_H
#define SC_PROXY_H

#include <stddef.h>

#include <event2/event.h>

#include "audit/aud_emitter.h"
#include "common/cm_status.h"
#include "policy/pol_keys.h"
#include "policy/pol_policy.h"
#include "sidecar/sc_options.h"

struct sc_proxy;

/* Borrows base, opts and em (they outlive the proxy); takes a reference on
 * ps.  Returns CM_OK or CM_EINPUT (bad upstream URL, bad listen address). */
int sc_proxy_new(struct event_base *base, const struct sc_options *opts, struct pol_set *ps,
                 struct aud_emitter *em, struct sc_proxy **out, struct cm_err *err) CM_MUSTCHECK;
/* Binds the data listener; writes "host:port" actually bound into bound. */
int sc_proxy_listen(struct sc_proxy *px, char *bound, size_t boundlen, struct cm_err *err)
    CM_MUSTCHECK;
/* Installs a new policy set for exchanges that start from now on (takes a
 * new reference; exchanges in flight keep theirs). */
void sc_proxy_set_policy(struct sc_proxy *px, struct pol_set *ps);
/* Installs the API-key table (takes a new reference; NULL: no keys, callers
 * are anonymous). */
void sc_proxy_set_keys(struct sc_proxy *px, struct pol_keys *keys);
/* Stops accepting connections; exchanges in flight continue. */
void sc_proxy_stop_accepting(struct sc_proxy *px);
size_t sc_proxy_inflight(const struct sc_proxy *px);
void sc_proxy_free(struct sc_proxy *px); /* NULL-safe */

#endif /* SC_PROXY_H */
