/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_admin: health, readiness, metrics and reload over HTTP.  See
 * sc_admin.h.  A small evhttp server on the main thread's loop; its
 * requests are tiny and rare, so nothing here is tuned.
 */
#include "sidecar/sc_admin.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "sidecar/sc_listen.h"

struct sc_admin {
    struct evhttp *http;
    struct sc_admin_hooks hooks;
};

static void
reply(struct evhttp_request *req, int code, const char *ctype, const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evbuffer_add(b, body, len);
    evhttp_send_reply(req, code, NULL, b);
    evbuffer_free(b);
}

static void
reply_text(struct evhttp_request *req, int code, const char *text)
{
    reply(req, code, "text/plain; charset=utf-8", text, strlen(text));
}

static void
admin_handle(struct evhttp_request *req, void *arg)
{
    struct sc_admin *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

    if (strcmp(uri, "/healthz") == 0 && cmd == EVHTTP_REQ_GET) {
        reply_text(req, 200, "ok\n");
    } else if (strcmp(uri, "/readyz") == 0 && cmd == EVHTTP_REQ_GET) {
        char why[256] = "";
        char text[300];

        if (a->hooks.ready(a->hooks.arg, why, sizeof(why))) {
            reply_text(req, 200, "ready\n");
        } else {
            snprintf(text, sizeof(text), "not ready: %s\n", why);
            reply_text(req, 503, text);
        }
    } else if (strcmp(uri, "/metrics") == 0 && cmd == EVHTTP_REQ_GET) {
        struct cm_buf out;

        cm_buf_init(&out);
        a->hooks.metrics(a->hooks.arg, &out);
        reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.p ? out.p : "", out.len);
        cm_buf_fini(&out);
    } else if (strcmp(uri, "/reload") == 0 && cmd == EVHTTP_REQ_POST) {
        struct cm_err err;

        if (a->hooks.reload(a->hooks.arg, &err) == CM_OK)
            reply_text(req, 200, "reloaded\n");
        else
            reply_text(req, 500,
                       "reload failed: the running configuration, model and policy stay in force "
                       "(see the log)\n");
    } else {
        reply_text(req, 404, "not found: /healthz /readyz /metrics POST /reload\n");
    }
}

int
sc_admin_new(struct event_base *base, const char *listen, const struct sc_admin_hooks *hooks,
             struct sc_admin **out, char *bound, size_t boundlen, struct cm_err *err)
{
    struct sc_admin *a;
    int fd, rc;

    rc = sc_listen_open(listen, false, &fd, bound, boundlen, err);
    if (rc != CM_OK)
        return rc;
    a = cm_calloc(1, sizeof(*a));
    a->hooks = *hooks;
    a->http = evhttp_new(base);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(a->http, 1024);
    evhttp_set_timeout(a->http, 10);
    evhttp_set_gencb(a->http, admin_handle, a);
    if (evhttp_accept_socket_with_handle(a->http, fd) == NULL) {
        close(fd);
        evhttp_free(a->http);
        free(a);
        return cm_err_set(err, CM_EIO, "admin listener %s: cannot accept", listen);
    }
    *out = a;
    return CM_OK;
}

void
sc_admin_free(struct sc_admin *a)
{
    if (a == NULL)
        return;
    evhttp_free(a->http);
    free(a);
}
