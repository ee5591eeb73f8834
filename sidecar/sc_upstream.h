/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_upstream: the keep-alive connection pool to one model server.
 *
 * A fixed set of evhttp client connections; each request picks the one with
 * the fewest requests in flight (evhttp queues a request behind a busy
 * connection, so a full pool degrades to queueing, never to failure).
 * TCP_NODELAY is set on every upstream socket: evhttp does not, and without
 * it streamed answers stall for 40 ms at a time.
 *
 * Loop thread only: one pool per event loop.
 */
#ifndef SC_UPSTREAM_H
#define SC_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "common/cm_status.h"

struct sc_upstream;

struct sc_tls;

/* Parses url ("http[s]://host:port[/prefix]") and creates pool connections
 * lazily; tls (borrowed, outlives the pool) is required for https.  Returns
 * CM_OK or CM_EINPUT (bad URL; err says why). */
int sc_upstream_new(struct event_base *base, const char *url, size_t pool, int64_t timeout_us,
                    struct sc_tls *tls, struct sc_upstream **out, struct cm_err *err) CM_MUSTCHECK;
void sc_upstream_free(struct sc_upstream *up); /* NULL-safe */
/* upstream_timeout from a reload: for the pool's connections from now on. */
void sc_upstream_set_timeout(struct sc_upstream *up, int64_t timeout_us);

/* The configured URL, the Host header value, and the path prefix ("" or
 * "/prefix" without a trailing slash).  Borrowed. */
const char *sc_upstream_url(const struct sc_upstream *up);
const char *sc_upstream_host(const struct sc_upstream *up);
const char *sc_upstream_prefix(const struct sc_upstream *up);

/* Starts req (ownership passes to evhttp, as with evhttp_make_request) on
 * the least busy connection.  *slot identifies the connection for
 * sc_upstream_done().  Returns CM_OK or CM_EIO. */
int sc_upstream_send(struct sc_upstream *up, struct evhttp_request *req, enum evhttp_cmd_type cmd,
                     const char *uri, unsigned *slot) CM_MUSTCHECK;
/* Marks the request on slot finished. */
void sc_upstream_done(struct sc_upstream *up, unsigned slot);

#endif /* SC_UPSTREAM_H */
