/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_tls: TLS for the data listener (HTTPS, optional or required client
 * certificates) and for the connection to the model server (HTTPS with CA
 * verification and SNI).  The only file that calls SSL_* (STYLE.md B2).
 *
 * Server side: one SSL_CTX in force, built at start-up (TLS 1.2 or newer, the
 * certificate chain and key from files, the key file refused when group- or
 * other-readable), shared read-only by every worker (OpenSSL 3 SSL_CTX is
 * thread-safe once built); each accepted connection gets its own SSL and an
 * OpenSSL bufferevent, which evhttp drives (evhttp_set_bevcb).
 * A reload (SIGHUP) reads the files again into a new context and swaps it
 * in (sc_tls_adopt): connections accepted or opened after it use the new
 * certificate, CA bundle or client-certificate rule, the ones open keep
 * theirs.
 * Identity: the verified client certificate's subject alternative name
 * (URI, then DNS, then e-mail) or else its subject CN becomes the caller.
 *
 * Start-up code builds the contexts; the per-connection and per-request
 * functions run on the owning worker's loop thread.
 */
#ifndef SC_TLS_H
#define SC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "common/cm_status.h"

struct sc_tls; /* an SSL_CTX and its settings */

enum sc_tls_client_auth {
    SC_TLS_CLIENT_NONE,     /* no client certificate asked */
    SC_TLS_CLIENT_OPTIONAL, /* asked; verified when sent */
    SC_TLS_CLIENT_REQUIRED, /* the handshake fails without a valid one */
};

/* Server context from PEM files.  client_ca may be NULL when auth is NONE.
 * Returns CM_OK, CM_EINPUT (unreadable or mismatched files, a key file
 * readable by others) with the reason in err. */
int sc_tls_server_new(const char *cert, const char *key, const char *client_ca,
                      enum sc_tls_client_auth auth, struct sc_tls **out,
                      struct cm_err *err) CM_MUSTCHECK;
/* Client context for an https upstream: verifies the server against ca (or
 * the system store when NULL) unless verify is false. */
int sc_tls_client_new(const char *ca, bool verify, struct sc_tls **out,
                      struct cm_err *err) CM_MUSTCHECK;
void sc_tls_free(struct sc_tls *t); /* NULL-safe */
/* Puts fresh's context in t's place and frees fresh: new connections use
 * it from now on, open ones keep theirs.  Same kind (server or client).
 * Any thread. */
void sc_tls_adopt(struct sc_tls *t, struct sc_tls *fresh);
/* Counts the adopts: a connection built under an older one can be
 * replaced by one on the context in force. */
unsigned sc_tls_generation(struct sc_tls *t);
/* The certificate of a server context: its subject written into subject
 * (len bytes, "" when none) and its notAfter in seconds since the epoch
 * (0 when none).  Any thread. */
int64_t sc_tls_cert_info(struct sc_tls *t, char *subject, size_t len);

/* evhttp_set_bevcb callback for a server context (arg: struct sc_tls *). */
struct bufferevent *sc_tls_server_bev(struct event_base *base, void *arg);
/* A connecting bufferevent for an upstream named host (SNI and hostname
 * verification). */
struct bufferevent *sc_tls_client_bev(struct sc_tls *t, struct event_base *base, const char *host);

/* The verified client identity of the connection behind req, written into
 * out ("" when none: plain HTTP or no certificate).  Returns out. */
const char *sc_tls_peer_identity(struct evhttp_request *req, char *out, size_t outlen);

#endif /* SC_TLS_H */
