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
#include "sidecar/sc_conf.h"
#include "sidecar/sc_metrics.h"
#include "sidecar/sc_options.h"

struct sc_proxy;
struct sc_tls;

/* What a proxy borrows from the process; all of it outlives the proxy.
 * metrics is written by this proxy's loop thread only. */
struct sc_proxy_env {
    struct sc_conf *conf; /* the first generation (the proxy takes a reference) */
    struct aud_emitter *em;
    struct sc_metrics *metrics;
    struct sc_tls *tls;                  /* HTTPS on the data port, or NULL */
    struct sc_tls *upstream_tls;         /* for an https:// upstream, or NULL */
    const struct pol_pii_keys *pii_keys; /* keys of hash/pseudonymise/encrypt, or NULL */
    unsigned chain;                      /* this worker's lineage record chain */
};

/* Borrows env's members; takes a reference on ps.  Returns CM_OK or
 * CM_EINPUT (bad upstream URL). */
int sc_proxy_new(struct event_base *base, const struct sc_proxy_env *env, struct pol_set *ps,
                 struct sc_proxy **out, struct cm_err *err) CM_MUSTCHECK;
/* Serves the listening socket fd (from sc_listen_open; the proxy owns it
 * from now on, on success and on failure). */
int sc_proxy_accept(struct sc_proxy *px, int fd, struct cm_err *err) CM_MUSTCHECK;
/* Installs a new policy set for exchanges that start from now on (takes a
 * new reference; exchanges in flight keep theirs). */
void sc_proxy_set_policy(struct sc_proxy *px, struct pol_set *ps);
/* Installs a configuration generation (sc_conf.h) for exchanges and
 * connections that start from now on (takes a new reference; exchanges in
 * flight keep theirs): limits, timeouts, header allowlist, model. */
void sc_proxy_set_conf(struct sc_proxy *px, struct sc_conf *conf);
/* Installs the API-key table (takes a new reference; NULL: no keys, callers
 * are anonymous). */
void sc_proxy_set_keys(struct sc_proxy *px, struct pol_keys *keys);
/* Stops accepting connections; exchanges in flight continue. */
void sc_proxy_stop_accepting(struct sc_proxy *px);
/* Exchanges in flight plus replies not yet written to their clients. */
size_t sc_proxy_inflight(const struct sc_proxy *px);
/* A stop's drain_timeout ran out: cuts off every exchange still waiting for
 * the model server (503 shutting_down, or an error event ending its stream;
 * outcome shutdown).  The loop must keep running for those answers (and,
 * with sync durability, their records) to go out.  Returns how many. */
size_t sc_proxy_cut_off(struct sc_proxy *px);
/* drain_timeout of the generation in force. */
int64_t sc_proxy_drain_timeout_us(const struct sc_proxy *px);
/* Once the loop has stopped, on its thread, before the emitter is freed:
 * closes the client connections still open; their exchanges end, recorded
 * as shutdown. */
void sc_proxy_close(struct sc_proxy *px);
void sc_proxy_free(struct sc_proxy *px); /* NULL-safe */

#endif /* SC_PROXY_H */
