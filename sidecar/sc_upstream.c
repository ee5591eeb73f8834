/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_upstream: keep-alive pool of evhttp client connections.  See
 * sc_upstream.h.
 */
#include "sidecar/sc_upstream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "common/cm_mem.h"
#include "sidecar/sc_tls.h"

struct up_conn {
    struct evhttp_connection *evcon;
    unsigned inflight;
    unsigned tls_gen;           /* the TLS context generation evcon was built on */
    evutil_socket_t nodelay_fd; /* the fd TCP_NODELAY was last set on */
};

struct sc_upstream {
    struct event_base *base;
    char *url;
    char *hostname;
    char *host; /* Host header: name[:port] */
    char *prefix;
    int port;
    struct sc_tls *tls; /* https upstream, or NULL */
    struct timeval timeout;
    size_t n;
    struct up_conn *conns;
};

int
sc_upstream_new(struct event_base *base, const char *url, size_t pool, int64_t timeout_us,
                struct sc_tls *tls, struct sc_upstream **out, struct cm_err *err)
{
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    struct sc_upstream *up;
    const char *scheme, *host, *path;
    int port;
    size_t plen;

    if (uri == NULL)
        return cm_err_set(err, CM_EINPUT, "upstream '%s': not a URL", url);
    scheme = evhttp_uri_get_scheme(uri);
    host = evhttp_uri_get_host(uri);
    port = evhttp_uri_get_port(uri);
    path = evhttp_uri_get_path(uri);
    if (scheme == NULL || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
        host == NULL || *host == '\0' || evhttp_uri_get_query(uri) != NULL) {
        evhttp_uri_free(uri);
        return cm_err_set(err, CM_EINPUT, "upstream '%s': expected http[s]://HOST[:PORT][/PREFIX]",
                          url);
    }
    if (strcmp(scheme, "https") == 0 && tls == NULL) {
        evhttp_uri_free(uri);
        return cm_err_set(err, CM_EINPUT, "upstream '%s': https needs a TLS client context", url);
    }
    up = cm_calloc(1, sizeof(*up));
    up->base = base;
    up->url = cm_strdup(url);
    up->hostname = cm_strdup(host);
    up->tls = strcmp(scheme, "https") == 0 ? tls : NULL;
    up->port = port > 0 ? port : (up->tls ? 443 : 80);
    up->host = cm_malloc(strlen(host) + 8);
    if (port > 0 && port != (up->tls ? 443 : 80))
        sprintf(up->host, "%s:%d", host, port);
    else
        strcpy(up->host, host);
    path = path ? path : "";
    plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    up->prefix = cm_strndup(path, plen);
    up->n = pool ? pool : 1;
    up->conns = cm_calloc(up->n, sizeof(*up->conns));
    for (size_t i = 0; i < up->n; i++)
        up->conns[i].nodelay_fd = -1;
    sc_upstream_set_timeout(up, timeout_us);
    evhttp_uri_free(uri);
    *out = up;
    return CM_OK;
}

void
sc_upstream_free(struct sc_upstream *up)
{
    if (up == NULL)
        return;
    for (size_t i = 0; i < up->n; i++)
        if (up->conns[i].evcon != NULL)
            evhttp_connection_free(up->conns[i].evcon);
    free(up->conns);
    free(up->url);
    free(up->hostname);
    free(up->host);
    free(up->prefix);
    free(up);
}

void
sc_upstream_set_timeout(struct sc_upstream *up, int64_t timeout_us)
{
    up->timeout.tv_sec = (time_t)(timeout_us / 1000000);
    up->timeout.tv_usec = (suseconds_t)(timeout_us % 1000000);
    for (size_t i = 0; i < up->n; i++)
        if (up->conns[i].evcon != NULL)
            evhttp_connection_set_timeout_tv(up->conns[i].evcon, &up->timeout);
}

const char *
sc_upstream_url(const struct sc_upstream *up)
{
    return up->url;
}

const char *
sc_upstream_host(const struct sc_upstream *up)
{
    return up->host;
}

const char *
sc_upstream_prefix(const struct sc_upstream *up)
{
    return up->prefix;
}

int
sc_upstream_send(struct sc_upstream *up, struct evhttp_request *req, enum evhttp_cmd_type cmd,
                 const char *uri, unsigned *slot)
{
    struct up_conn *c = &up->conns[0];
    struct bufferevent *bev;
    evutil_socket_t fd;

    for (size_t i = 1; i < up->n && c->inflight > 0; i++)
        if (up->conns[i].inflight < c->inflight)
            c = &up->conns[i];
    if (c->evcon != NULL && up->tls != NULL && c->inflight == 0) {
        /* An idle TLS connection is built again when it is closed (its SSL
         * object served one session and evhttp would reconnect on it) or
         * when a reload swapped the context (a new CA bundle, say). */
        bev = evhttp_connection_get_bufferevent(c->evcon);
        if (bev == NULL || bufferevent_getfd(bev) < 0 || c->tls_gen != sc_tls_generation(up->tls)) {
            evhttp_connection_free(c->evcon);
            c->evcon = NULL;
            c->nodelay_fd = -1;
        }
    }
    if (c->evcon == NULL) {
        if (up->tls != NULL) {
            struct bufferevent *tbev;

            c->tls_gen = sc_tls_generation(up->tls);
            tbev = sc_tls_client_bev(up->tls, up->base, up->hostname);

            c->evcon = tbev == NULL
                           ? NULL
                           : evhttp_connection_base_bufferevent_new(
                                 up->base, NULL, tbev, up->hostname, (unsigned short)up->port);
        } else {
            c->evcon =
                evhttp_connection_base_new(up->base, NULL, up->hostname, (unsigned short)up->port);
        }
        if (c->evcon == NULL) {
            evhttp_request_free(req);
            return CM_EIO;
        }
        evhttp_connection_set_timeout_tv(c->evcon, &up->timeout);
        /* One retry covers a keep-alive connection the server closed while
         * idle; the body sent again is the same inspected body. */
        evhttp_connection_set_retries(c->evcon, 1);
        {
            /* evhttp waits 2 s before that retry by default: a refused
             * connection would take 2 s to become a 502. */
            struct timeval retry = {0, 50000};

            evhttp_connection_set_initial_retry_tv(c->evcon, &retry);
        }
    }
    if (evhttp_make_request(c->evcon, req, cmd, uri) != 0)
        return CM_EIO; /* evhttp freed req */
    c->inflight++;
    *slot = (unsigned)(c - up->conns);
    bev = evhttp_connection_get_bufferevent(c->evcon);
    fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0 && fd != c->nodelay_fd) {
        int one = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->nodelay_fd = fd;
    }
    return CM_OK;
}

void
sc_upstream_done(struct sc_upstream *up, unsigned slot)
{
    if (slot < up->n && up->conns[slot].inflight > 0)
        up->conns[slot].inflight--;
}
