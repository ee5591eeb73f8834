/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_tls: OpenSSL contexts and bufferevents for evhttp.  See sc_tls.h.
 */
#include "sidecar/sc_tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/cm_mem.h"

struct sc_tls {
    pthread_mutex_t mu; /* guards ctx: a reload swaps it (sc_tls_adopt) */
    SSL_CTX *ctx;
    atomic_uint generation; /* +1 per adopt */
    bool server;
};

static struct sc_tls *
tls_wrap(SSL_CTX *ctx, bool server)
{
    struct sc_tls *t = cm_calloc(1, sizeof(*t));

    pthread_mutex_init(&t->mu, NULL);
    t->ctx = ctx;
    t->server = server;
    return t;
}

/* A new SSL on the context in force. */
static SSL *
tls_ssl_new(struct sc_tls *t, int *verify_mode)
{
    SSL *ssl;

    pthread_mutex_lock(&t->mu);
    ssl = SSL_new(t->ctx); /* holds its own reference to the context */
    if (verify_mode != NULL)
        *verify_mode = SSL_CTX_get_verify_mode(t->ctx);
    pthread_mutex_unlock(&t->mu);
    return ssl;
}

/* Turns the OpenSSL error queue into text (and empties it). */
static int
tls_fail(struct cm_err *err, const char *what)
{
    char buf[256] = "";
    unsigned long e, last = 0;

    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last != 0)
        ERR_error_string_n(last, buf, sizeof(buf));
    return cm_err_set(err, CM_EINPUT, "%s: %s", what, buf[0] ? buf : "failed");
}

static int
secret_file_ok(const char *path, struct cm_err *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return cm_err_set(err, CM_EINPUT, "%s: %s", path, strerror(errno));
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return cm_err_set(err, CM_EINPUT,
                          "%s: a private key must not be readable by group or others "
                          "(chmod 600)",
                          path);
    return CM_OK;
}

int
sc_tls_server_new(const char *cert, const char *key, const char *client_ca,
                  enum sc_tls_client_auth auth, struct sc_tls **out, struct cm_err *err)
{
    SSL_CTX *ctx;
    int rc;

    if (cert == NULL || key == NULL)
        return cm_err_set(err, CM_EINPUT, "tls_cert and tls_key are both required for HTTPS");
    rc = secret_file_ok(key, err);
    if (rc != CM_OK)
        return rc;
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return tls_fail(err, "SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        rc = tls_fail(err, cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        rc = tls_fail(err, key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        rc = tls_fail(err, "tls_key does not match tls_cert");
        goto fail;
    }
    if (auth != SC_TLS_CLIENT_NONE) {
        STACK_OF(X509_NAME) * names;

        if (client_ca == NULL) {
            rc = cm_err_set(err, CM_EINPUT, "tls_client_auth needs tls_client_ca");
            goto fail;
        }
        if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
            rc = tls_fail(err, client_ca);
            goto fail;
        }
        names = SSL_load_client_CA_file(client_ca);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(
            ctx,
            SSL_VERIFY_PEER |
                (auth == SC_TLS_CLIENT_REQUIRED ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
            NULL);
    }
    *out = tls_wrap(ctx, true);
    return CM_OK;
fail:
    SSL_CTX_free(ctx);
    return rc;
}

int
sc_tls_client_new(const char *ca, bool verify, struct sc_tls **out, struct cm_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        return tls_fail(err, "SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        if ((ca != NULL ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
            int rc = tls_fail(err, ca ? ca : "the system CA store");

            SSL_CTX_free(ctx);
            return rc;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    *out = tls_wrap(ctx, false);
    return CM_OK;
}

void
sc_tls_free(struct sc_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void
sc_tls_adopt(struct sc_tls *t, struct sc_tls *fresh)
{
    SSL_CTX *old;

    pthread_mutex_lock(&t->mu);
    old = t->ctx;
    t->ctx = fresh->ctx;
    atomic_fetch_add(&t->generation, 1);
    pthread_mutex_unlock(&t->mu);
    fresh->ctx = old; /* freed with fresh; open connections hold their own references */
    sc_tls_free(fresh);
}

unsigned
sc_tls_generation(struct sc_tls *t)
{
    return atomic_load(&t->generation);
}

int64_t
sc_tls_cert_info(struct sc_tls *t, char *subject, size_t len)
{
    X509 *cert;
    const ASN1_TIME *na;
    struct tm tm;
    int64_t when = 0;

    if (len > 0)
        subject[0] = '\0';
    pthread_mutex_lock(&t->mu);
    cert = SSL_CTX_get0_certificate(t->ctx);
    if (cert != NULL) {
        if (len > 0)
            X509_NAME_oneline(X509_get_subject_name(cert), subject, (int)len);
        na = X509_get0_notAfter(cert);
        if (na != NULL && ASN1_TIME_to_tm(na, &tm) == 1)
            when = (int64_t)timegm(&tm);
    }
    pthread_mutex_unlock(&t->mu);
    return when;
}

struct bufferevent *
sc_tls_server_bev(struct event_base *base, void *arg)
{
    struct sc_tls *t = arg;
    SSL *ssl = tls_ssl_new(t, NULL);

    if (ssl == NULL)
        return NULL;
    /* evhttp assigns the accepted fd (bufferevent_setfd) after this returns. */
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

struct bufferevent *
sc_tls_client_bev(struct sc_tls *t, struct event_base *base, const char *host)
{
    int mode = 0;
    SSL *ssl = tls_ssl_new(t, &mode);
    struct bufferevent *bev;

    if (ssl == NULL)
        return NULL;
    SSL_set_tlsext_host_name(ssl, host);
    if (mode & SSL_VERIFY_PEER)
        SSL_set1_host(ssl, host);
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev != NULL)
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

static bool
san_identity(X509 *cert, char *out, size_t outlen)
{
    static const int order[] = {GEN_URI, GEN_DNS, GEN_EMAIL};
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    bool found = false;

    if (names == NULL)
        return false;
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]) && !found; k++) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
            const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
            const unsigned char *p;
            int len;

            if (gn->type != order[k])
                continue;
            p = ASN1_STRING_get0_data(gn->d.ia5);
            len = ASN1_STRING_length(gn->d.ia5);
            if (len <= 0 || (size_t)len >= outlen || memchr(p, '\0', (size_t)len) != NULL)
                continue;
            memcpy(out, p, (size_t)len);
            out[len] = '\0';
            found = true;
        }
    }
    GENERAL_NAMES_free(names);
    return found;
}

const char *
sc_tls_peer_identity(struct evhttp_request *req, char *out, size_t outlen)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *cert;

    out[0] = '\0';
    if (ssl == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return out;
    cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL)
        return out;
    if (!san_identity(cert, out, outlen)) {
        X509_NAME *subj = X509_get_subject_name(cert);

        if (X509_NAME_get_text_by_NID(subj, NID_commonName, out, (int)outlen) < 0)
            out[0] = '\0';
    }
    return out;
}
