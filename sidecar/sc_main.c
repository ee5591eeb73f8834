/* SPDX-License-Identifier: Apache-2.0
 *
 * steward: the sidecar daemon's entry point.
 *
 *   steward -c steward.conf [-o key=value]...   run
 *   steward -n -c steward.conf                   validate config and policy, exit 0/1
 *   steward --config-doc                         print the options as markdown
 *
 * Threads: N workers (option `workers`, default one per core), each with its
 * own libevent loop, its own SO_REUSEPORT listener on the data port and its
 * own sc_proxy and metrics block: nothing mutable is shared on the hot path.
 * The main thread runs a loop for signals and the admin listener.  The
 * policy set is immutable and refcounted; a reload loads the new set on the
 * main thread and posts it to every worker's inbox (an event activated
 * across threads), where the worker swaps its pointer: exchanges in flight
 * keep the set they started with.  The lineage emitter is shared; it runs
 * its own thread, and each worker stamps its records into its own chain
 * (chain number = worker number).
 *
 * Signals: SIGHUP (or POST /reload) reloads everything that can change
 * without a restart, as one generation: the config file (sc_conf.h: a
 * changed RESTART option is logged as needing a restart and keeps its
 * value), the classifier model it names, the policy, the API-key file and
 * the TLS certificate, key and CA files (sc_tls.h).
 * All of them load first, next to the running ones; only when every one
 * loaded are they posted together to every worker's inbox, where the worker
 * swaps all three at once between two exchanges.  Anything that fails to
 * load keeps the whole running generation, is logged (with file:line) and
 * counted in /metrics (config, policy or api_keys failures).  SIGTERM and
 * SIGINT stop accepting, let exchanges in flight finish (up to 10 s), then
 * the emitter puts every record Kafka has not confirmed into the spool (and
 * delivers what it can), exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>

#include "audit/aud_emitter.h"
#include "audit/aud_sign.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"
#include "policy/pol_keys.h"
#include "policy/pii/pii_model.h"
#include "policy/pol_policy.h"
#include "sidecar/sc_admin.h"
#include "sidecar/sc_conf.h"
#include "sidecar/sc_listen.h"
#include "sidecar/sc_metrics.h"
#include "sidecar/sc_options.h"
#include "sidecar/sc_privs.h"
#include "sidecar/sc_proxy.h"
#include "sidecar/sc_tls.h"

/* After drain_timeout cut off what still waited for the model server, how
 * long those answers (and, with sync, their records) may take to go out. */
#define DRAIN_CUT_OFF_US (2 * 1000000LL)

struct sc_worker {
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    struct sc_proxy *px;
    struct sc_metrics metrics;
    struct event *inbox;       /* activated from the main thread */
    struct event *drain;       /* periodic check while stopping */
    pthread_mutex_t lock;      /* guards the fields below */
    struct sc_conf *next_conf; /* a new generation: conf, policy and keys together */
    struct pol_set *next_ps;
    struct pol_keys *next_keys; /* may be NULL (no api_keys) */
    bool stop;
    bool cut_off; /* drain_timeout ran out */
    int64_t drain_deadline;
};

struct sc_main {
    struct event_base *base;
    const char *conf_path;  /* -c, or NULL */
    char *const *overrides; /* -o, re-applied on every reload */
    size_t noverrides;
    struct sc_conf *boot; /* the first generation: RESTART options (equal in every
                             generation) and kafka.*, which the emitter borrows */
    struct sc_conf *conf; /* the generation in force */
    struct aud_emitter *em;
    struct sc_admin *admin;
    struct sc_tls *tls, *upstream_tls;
    struct sc_worker *w;
    unsigned nw;
    struct pol_set *ps;           /* main thread's reference to the set in force */
    struct pol_keys *keys;        /* ...and to the API-key table, or NULL */
    struct pol_pii_keys pii_keys; /* the keyed operators' secret (len 0: none) */
    _Atomic uint64_t config_reloads_ok, config_reloads_failed;
    _Atomic uint64_t reloads_ok, reloads_failed;
    _Atomic uint64_t keys_reloads_ok, keys_reloads_failed;
    int64_t start_us;
    struct event *ev_term, *ev_int, *ev_hup;
    bool stopping;
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: steward -c FILE [-o key=value]... [-n]\n"
                 "       steward --config-doc\n"
                 "  -c FILE      configuration file (key = value)\n"
                 "  -o KEY=VAL   override one option (repeatable)\n"
                 "  -n           validate the configuration and the policy, then exit\n"
                 "  --config-doc print the options table as markdown\n");
}

/* ------------------------------------------------------------ workers */

static void
worker_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sc_worker *w = arg;

    (void)fd;
    (void)what;
    if (sc_proxy_inflight(w->px) == 0) {
        event_base_loopbreak(w->base);
    } else if (cm_mono_us() >= w->drain_deadline && !w->cut_off) {
        size_t inflight = sc_proxy_inflight(w->px);
        size_t cut = sc_proxy_cut_off(w->px);

        cm_log_warn("sidecar", "drain_timeout worker=%u inflight=%zu cut_off=%zu", w->id, inflight,
                    cut);
        w->cut_off = true;
        w->drain_deadline = cm_mono_us() + DRAIN_CUT_OFF_US;
    } else if (cm_mono_us() >= w->drain_deadline) {
        cm_log_warn("sidecar", "drain_abandoned worker=%u inflight=%zu", w->id,
                    sc_proxy_inflight(w->px));
        event_base_loopbreak(w->base);
    }
}

/* Runs on the worker's loop thread when the main thread posted something. */
static void
worker_inbox(evutil_socket_t fd, short what, void *arg)
{
    struct sc_worker *w = arg;
    struct sc_conf *conf;
    struct pol_set *ps;
    struct pol_keys *keys;
    bool stop;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->lock);
    conf = w->next_conf;
    ps = w->next_ps;
    keys = w->next_keys;
    w->next_conf = NULL;
    w->next_ps = NULL;
    w->next_keys = NULL;
    stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    if (conf != NULL) {
        /* One generation, swapped as a whole: no exchange starts between
         * these three calls (this is the worker's loop thread). */
        sc_proxy_set_conf(w->px, conf);
        sc_proxy_set_policy(w->px, ps);
        sc_proxy_set_keys(w->px, keys);
        sc_conf_unref(conf);
        pol_set_unref(ps);
        pol_keys_unref(keys);
    }
    if (stop && w->drain == NULL) {
        struct timeval tick = {0, 20000};

        sc_proxy_stop_accepting(w->px);
        w->drain_deadline = cm_mono_us() + sc_proxy_drain_timeout_us(w->px);
        w->drain = event_new(w->base, -1, EV_PERSIST, worker_drain_tick, w);
        event_add(w->drain, &tick);
    }
}

static void *
worker_run(void *arg)
{
    struct sc_worker *w = arg;
    char name[16];

    /* top -H and ps -T name the threads: st:worker-N, st:emitter,
     * st:spool-prep, and librdkafka's rdk:*. */
    snprintf(name, sizeof(name), "st:worker-%u", w->id);
    pthread_setname_np(pthread_self(), name);
    event_base_dispatch(w->base);
    sc_proxy_close(w->px); /* the emitter is still there */
    return NULL;
}

/* Posts a new generation (conf not NULL: conf, ps and keys, keys may be
 * NULL) and/or the order to stop. */
static void
worker_post(struct sc_worker *w, struct sc_conf *conf, struct pol_set *ps, struct pol_keys *keys,
            bool stop)
{
    pthread_mutex_lock(&w->lock);
    if (conf != NULL) {
        sc_conf_unref(w->next_conf);
        pol_set_unref(w->next_ps);
        pol_keys_unref(w->next_keys);
        w->next_conf = sc_conf_ref(conf);
        w->next_ps = pol_set_ref(ps);
        w->next_keys = keys != NULL ? pol_keys_ref(keys) : NULL;
    }
    if (stop)
        w->stop = true;
    pthread_mutex_unlock(&w->lock);
    event_active(w->inbox, EV_READ, 0);
}

/* A worker's loop.  With epoll's change list, the add, delete and modify
 * calls evhttp and its bufferevents make for one connection within one loop
 * turn reach the kernel as one epoll_ctl or none: six system calls fewer
 * per proxied request (12 -> 6 epoll_ctl, measured with strace -c), which
 * is 15% more requests per second at 32 connections on one core.  libevent
 * warns that the change list confuses fds that are dup()ed while watched;
 * no fd a worker watches is. */
static struct event_base *
worker_base_new(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (cfg == NULL)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static int
workers_start(struct sc_main *m, char *bound, size_t boundlen, struct cm_err *err)
{
    const char *spec = m->conf->opts.listen;
    char first[160] = "";

    m->w = cm_calloc(m->nw, sizeof(*m->w));
    for (unsigned i = 0; i < m->nw; i++) {
        struct sc_worker *w = &m->w[i];
        struct sc_proxy_env env;
        int fd, rc;

        w->id = i;
        pthread_mutex_init(&w->lock, NULL);
        w->base = worker_base_new();
        if (w->base == NULL)
            return cm_err_set(err, CM_EINTERNAL, "event_base_new failed");
        /* A port of 0 is chosen by the first worker; the others join it. */
        rc = sc_listen_open(i == 0 ? spec : first, true, &fd, bound, boundlen, err);
        if (rc != CM_OK)
            return rc;
        if (i == 0)
            snprintf(first, sizeof(first), "%s", bound);
        env.conf = m->conf;
        env.em = m->em;
        env.metrics = &w->metrics;
        env.tls = m->tls;
        env.upstream_tls = m->upstream_tls;
        env.pii_keys = m->pii_keys.len > 0 ? &m->pii_keys : NULL;
        env.chain = i;
        rc = sc_proxy_new(w->base, &env, m->ps, &w->px, err);
        if (rc != CM_OK) {
            close(fd);
            return rc;
        }
        sc_proxy_set_keys(w->px, m->keys);
        rc = sc_proxy_accept(w->px, fd, err);
        if (rc != CM_OK)
            return rc;
        w->inbox = event_new(w->base, -1, 0, worker_inbox, w);
        /* An activated-but-never-added event still fires; keep the loop
         * alive between exchanges with the listener itself. */
    }
    return CM_OK;
}

/* Starts the worker threads: after the privileges are dropped, so that no
 * untrusted byte is read as root. */
static int
workers_run(struct sc_main *m, struct cm_err *err)
{
    for (unsigned i = 0; i < m->nw; i++) {
        if (pthread_create(&m->w[i].thread, NULL, worker_run, &m->w[i]) != 0)
            return cm_err_set(err, CM_EINTERNAL, "pthread_create: %s", strerror(errno));
    }
    return CM_OK;
}

static void
workers_free(struct sc_main *m)
{
    for (unsigned i = 0; m->w != NULL && i < m->nw; i++) {
        struct sc_worker *w = &m->w[i];

        if (w->drain)
            event_free(w->drain);
        if (w->inbox)
            event_free(w->inbox);
        sc_proxy_free(w->px);
        if (w->base)
            event_base_free(w->base);
        sc_conf_unref(w->next_conf);
        pol_set_unref(w->next_ps);
        pol_keys_unref(w->next_keys);
        pthread_mutex_destroy(&w->lock);
    }
    free(m->w);
}

/* ------------------------------------------------------------ main loop */

/* The TLS contexts of the next generation, read from the files again (a
 * certificate rotated in place at the same path is picked up): *srv for the
 * data listener when it serves HTTPS, *cli for an https upstream.  Turning
 * HTTPS on or off needs a restart (the listener's kind): logged, and the
 * running context stays.  Returns CM_OK (both NULL when nothing is to be
 * swapped) or CM_EINPUT. */
static int
reload_tls(struct sc_main *m, const struct sc_options *o, struct sc_tls **srv, struct sc_tls **cli,
           struct cm_err *err)
{
    bool https = o->tls_cert != NULL || o->tls_key != NULL;

    *srv = *cli = NULL;
    if (https != (m->tls != NULL))
        cm_log_warn("sidecar", "option_needs_restart option=tls_cert kept=running https=%s",
                    m->tls != NULL ? "on" : "off");
    else if (!https && o->tls_client_auth != SC_TLS_CLIENT_NONE)
        return cm_err_set(err, CM_EINPUT, "tls_client_auth needs tls_cert and tls_key");
    else if (https &&
             sc_tls_server_new(o->tls_cert, o->tls_key, o->tls_client_ca,
                               (enum sc_tls_client_auth)o->tls_client_auth, srv, err) != CM_OK)
        return CM_EINPUT;
    if (m->upstream_tls != NULL &&
        sc_tls_client_new(o->upstream_ca, o->upstream_tls_verify, cli, err) != CM_OK) {
        sc_tls_free(*srv);
        *srv = NULL;
        return CM_EINPUT;
    }
    return CM_OK;
}

/* Loads the next generation next to the running one: config file (and
 * -o overrides), model, policy, API keys, TLS contexts.  Only when all of them loaded is
 * it posted to the workers and made the one in force; any failure keeps the
 * whole running generation and is counted.  Returns CM_OK or CM_EINPUT with
 * the first failure in err. */
static int
do_reload(struct sc_main *m, struct cm_err *err)
{
    struct sc_conf *conf = NULL;
    struct pol_set *ps = NULL;
    struct pol_keys *keys = NULL;
    struct sc_tls *srv = NULL, *cli = NULL;
    char q[600];
    uint64_t n;

    if (sc_conf_load(m->conf_path, m->overrides, m->noverrides, m->conf, &conf, err) != CM_OK) {
        n = atomic_fetch_add(&m->config_reloads_failed, 1) + 1;
        cm_log_err("sidecar", "config_reload_failed kept=running failures=%llu err=%s",
                   (unsigned long long)n, cm_log_quote(err->msg, q, sizeof(q)));
        return CM_EINPUT;
    }
    if (pol_set_load(conf->opts.policy, &ps, err) != CM_OK) {
        n = atomic_fetch_add(&m->reloads_failed, 1) + 1;
        cm_log_err("sidecar", "policy_reload_failed kept=%s failures=%llu err=%s",
                   pol_set_id(m->ps), (unsigned long long)n, cm_log_quote(err->msg, q, sizeof(q)));
        sc_conf_unref(conf);
        return CM_EINPUT;
    }
    if (conf->opts.api_keys != NULL && pol_keys_load(conf->opts.api_keys, &keys, err) != CM_OK) {
        n = atomic_fetch_add(&m->keys_reloads_failed, 1) + 1;
        cm_log_err("sidecar", "api_keys_reload_failed kept=old failures=%llu err=%s",
                   (unsigned long long)n, cm_log_quote(err->msg, q, sizeof(q)));
        pol_set_unref(ps);
        sc_conf_unref(conf);
        return CM_EINPUT;
    }
    if (reload_tls(m, &conf->opts, &srv, &cli, err) != CM_OK) {
        n = atomic_fetch_add(&m->config_reloads_failed, 1) + 1;
        cm_log_err("sidecar", "tls_reload_failed kept=running failures=%llu err=%s",
                   (unsigned long long)n, cm_log_quote(err->msg, q, sizeof(q)));
        pol_keys_unref(keys);
        pol_set_unref(ps);
        sc_conf_unref(conf);
        return CM_EINPUT;
    }
    for (unsigned i = 0; i < m->nw; i++)
        worker_post(&m->w[i], conf, ps, keys, false);
    if (srv != NULL) {
        char subject[256];
        int64_t not_after;

        sc_tls_adopt(m->tls, srv);
        not_after = sc_tls_cert_info(m->tls, subject, sizeof(subject));
        cm_log_info("sidecar", "tls_reloaded listener=yes subject=%s not_after=%lld",
                    cm_log_quote(subject, q, sizeof(q)), (long long)not_after);
    }
    if (cli != NULL) {
        sc_tls_adopt(m->upstream_tls, cli);
        cm_log_info("sidecar", "tls_reloaded upstream=yes verify=%s",
                    conf->opts.upstream_tls_verify ? "yes" : "no");
    }
    cm_log_set_level((enum cm_log_level)conf->opts.log_level);
    sc_conf_unref(m->conf);
    m->conf = conf;
    pol_set_unref(m->ps);
    m->ps = ps;
    pol_keys_unref(m->keys);
    m->keys = keys;
    atomic_fetch_add(&m->config_reloads_ok, 1);
    atomic_fetch_add(&m->reloads_ok, 1);
    cm_log_info("sidecar", "config_reloaded model=%s model_file=%s max_body=%zu",
                sc_conf_model_id(conf), conf->model_reused ? "unchanged" : "read",
                conf->opts.max_body);
    cm_log_info("sidecar", "policy_reloaded id=%s hash=%.16s mode=%s", pol_set_id(ps),
                pol_set_hash(ps), pol_mode_name(pol_set_mode(ps)));
    if (keys != NULL) {
        atomic_fetch_add(&m->keys_reloads_ok, 1);
        cm_log_info("sidecar", "api_keys_reloaded keys=%zu", pol_keys_count(keys));
    }
    return CM_OK;
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
    struct cm_err err;

    (void)sig;
    (void)what;
    (void)do_reload(arg, &err);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct sc_main *m = arg;

    (void)what;
    if (m->stopping)
        return;
    m->stopping = true;
    cm_log_info("sidecar", "stopping signal=%d", (int)sig);
    for (unsigned i = 0; i < m->nw; i++)
        worker_post(&m->w[i], NULL, NULL, NULL, true);
    /* The main loop ends; main() joins the workers as they drain. */
    event_base_loopbreak(m->base);
}

static bool
admin_ready(void *arg, char *why, size_t whylen)
{
    struct sc_main *m = arg;
    struct aud_emitter_stats st;

    if (m->stopping) {
        snprintf(why, whylen, "stopping");
        return false;
    }
    aud_emitter_stats(m->em, &st);
    /* Records whose fate stays unknown mean the emitter cannot keep up; a
     * full spool with fail_closed means requests get 503. */
    if (st.in_flight > 10000) {
        snprintf(why, whylen, "lineage backlog of %llu records", (unsigned long long)st.in_flight);
        return false;
    }
    if (st.spool_full && m->conf->opts.on_spool_full == SC_SPOOL_FULL_FAIL_CLOSED) {
        snprintf(why, whylen, "lineage spool full (%llu bytes)",
                 (unsigned long long)st.spool_bytes);
        return false;
    }
    return true;
}

static void
admin_metrics(void *arg, struct cm_buf *out)
{
    struct sc_main *m = arg;
    struct sc_metrics **blocks = cm_calloc(m->nw, sizeof(*blocks));
    struct sc_metrics_global g = {0};
    struct aud_emitter_stats st;

    for (unsigned i = 0; i < m->nw; i++)
        blocks[i] = &m->w[i].metrics;
    aud_emitter_stats(m->em, &st);
    g.lineage_queued = st.queued;
    g.lineage_delivered = st.delivered;
    g.lineage_failed = st.dr_failed;
    g.lineage_in_flight = st.in_flight;
    g.lineage_spooled = st.spooled;
    g.lineage_replayed = st.replayed;
    g.lineage_dropped = st.dropped;
    g.lineage_spool_records = st.spool_records;
    g.lineage_spool_bytes = st.spool_bytes;
    g.config_reloads_ok = atomic_load(&m->config_reloads_ok);
    g.config_reloads_failed = atomic_load(&m->config_reloads_failed);
    g.policy_reloads_ok = atomic_load(&m->reloads_ok);
    g.policy_reloads_failed = atomic_load(&m->reloads_failed);
    g.keys_reloads_ok = atomic_load(&m->keys_reloads_ok);
    g.keys_reloads_failed = atomic_load(&m->keys_reloads_failed);
    g.policy_id = pol_set_id(m->ps);
    g.policy_hash = pol_set_hash(m->ps);
    g.workers = m->nw;
    g.start_time_us = m->start_us;
    if (m->tls != NULL)
        g.tls_cert_not_after = sc_tls_cert_info(m->tls, NULL, 0);
    sc_metrics_render(blocks, m->nw, &g, out);
    free(blocks);
}

static int
admin_reload(void *arg, struct cm_err *err)
{
    return do_reload(arg, err);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config-doc", no_argument, NULL, 'D'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sc_main m = {0};
    const char *conf = NULL;
    char **overrides = NULL, bound[160] = "?", admin_bound[160] = "off", q[600];
    size_t noverrides = 0;
    struct aud_emitter_conf ec;
    struct sc_privs privs;
    const struct sc_options *opts = NULL;
    struct cm_err err;
    int c, check_only = 0, rc = 1;

    cm_log_init("steward", CM_LOG_INFO);
    while ((c = getopt_long(argc, argv, "c:o:nh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 'o':
            overrides = cm_realloc(overrides, (noverrides + 1) * sizeof(*overrides));
            overrides[noverrides++] = optarg;
            break;
        case 'n': check_only = 1; break;
        case 'D': sc_options_doc(stdout); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    m.conf_path = conf;
    m.overrides = overrides;
    m.noverrides = noverrides;
    if (sc_conf_load(conf, overrides, noverrides, NULL, &m.conf, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    m.boot = sc_conf_ref(m.conf);
    opts = &m.boot->opts;
    cm_log_set_level((enum cm_log_level)opts->log_level);
    if (sc_privs_resolve(opts->user, opts->group, &privs, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (pol_set_load(opts->policy, &m.ps, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (opts->signing_key != NULL) {
        struct aud_key *key;

        if (aud_key_load_private(opts->signing_key, &key, &err) != CM_OK) {
            fprintf(stderr, "steward: signing_key: %s\n", err.msg);
            goto out;
        }
        aud_key_free(key);
    }
    if (opts->tls_cert != NULL || opts->tls_key != NULL) {
        if (sc_tls_server_new(opts->tls_cert, opts->tls_key, opts->tls_client_ca,
                              (enum sc_tls_client_auth)opts->tls_client_auth, &m.tls,
                              &err) != CM_OK) {
            fprintf(stderr, "steward: %s\n", err.msg);
            goto out;
        }
    } else if (opts->tls_client_auth != SC_TLS_CLIENT_NONE) {
        fprintf(stderr, "steward: tls_client_auth needs tls_cert and tls_key\n");
        goto out;
    }
    if (strncmp(opts->upstream, "https://", 8) == 0 &&
        sc_tls_client_new(opts->upstream_ca, opts->upstream_tls_verify, &m.upstream_tls, &err) !=
            CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (opts->api_keys != NULL && pol_keys_load(opts->api_keys, &m.keys, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (opts->pii_key_file != NULL &&
        pol_pii_keys_load(opts->pii_key_file, &m.pii_keys, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (check_only) {
        printf("steward: configuration ok (policy %s, hash %s, mode %s, %zu API keys, model %s)\n",
               pol_set_id(m.ps), pol_set_hash(m.ps), pol_mode_name(pol_set_mode(m.ps)),
               m.keys ? pol_keys_count(m.keys) : (size_t)0, sc_conf_model_id(m.conf));
        rc = 0;
        goto out;
    }
    m.start_us = cm_now_us();
    m.nw = opts->workers > 0 ? (unsigned)opts->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (m.nw == 0)
        m.nw = 1;
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        cm_log_err("sidecar", "evthread_use_pthreads_failed");
        goto out;
    }
    memset(&ec, 0, sizeof(ec));
    ec.topic = opts->lineage_topic;
    ec.bootstrap_file = opts->bootstrap_file;
    ec.kafka = &opts->kafka;
    ec.spool_dir = opts->spool_dir;
    ec.spool_max_bytes = opts->spool_max_bytes;
    ec.spool_fsync = (enum aud_spool_fsync)opts->spool_fsync;
    ec.durability = (enum aud_durability)opts->durability;
    ec.spool_after_us = opts->spool_after_us;
    ec.spool_sync_wait_us = opts->spool_sync_wait_us;
    ec.chains = m.nw; /* one chain per worker */
    ec.instance = opts->instance;
    ec.checkpoint_records = (uint64_t)opts->checkpoint_records;
    ec.checkpoint_interval_us = opts->checkpoint_interval_us;
    ec.signing_key = opts->signing_key;
    if (aud_emitter_new(&ec, &m.em, &err) != CM_OK) {
        cm_log_err("sidecar", "emitter_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    m.base = event_base_new();
    if (m.base == NULL) {
        cm_log_err("sidecar", "event_base_failed");
        goto out;
    }
    if (opts->admin_listen != NULL) {
        struct sc_admin_hooks hooks = {&m, admin_ready, admin_metrics, admin_reload};

        if (sc_admin_new(m.base, opts->admin_listen, &hooks, &m.admin, admin_bound,
                         sizeof(admin_bound), &err) != CM_OK) {
            cm_log_err("sidecar", "admin_listen_failed err=%s",
                       cm_log_quote(err.msg, q, sizeof(q)));
            goto out;
        }
    }
    /* Signals are caught before the data port opens: a SIGHUP sent as soon
     * as the port answers must reload, not kill (its default action).  The
     * callbacks run from the dispatch below, when the workers exist. */
    m.ev_term = evsignal_new(m.base, SIGTERM, on_stop, &m);
    m.ev_int = evsignal_new(m.base, SIGINT, on_stop, &m);
    m.ev_hup = evsignal_new(m.base, SIGHUP, on_reload, &m);
    event_add(m.ev_term, NULL);
    event_add(m.ev_int, NULL);
    event_add(m.ev_hup, NULL);
    if (workers_start(&m, bound, sizeof(bound), &err) != CM_OK) {
        cm_log_err("sidecar", "start_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    /* Everything privileged is done: listeners bound, secrets read, spool
     * open.  The spool goes to the service user, then root goes. */
    if (sc_privs_give_dir(&privs, opts->spool_dir, &err) != CM_OK ||
        sc_privs_drop(&privs, &err) != CM_OK) {
        cm_log_err("sidecar", "privilege_drop_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    if (privs.set)
        cm_log_info("sidecar", "privileges_dropped user=%s uid=%u gid=%u", privs.name,
                    (unsigned)getuid(), (unsigned)getgid());
    else if (geteuid() == 0)
        cm_log_warn("sidecar",
                    "running_as_root hint=\"set user = NAME to drop root after start-up\"");
    if (workers_run(&m, &err) != CM_OK) {
        cm_log_err("sidecar", "start_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    cm_log_info("sidecar",
                "listening addr=%s tls=%s admin=%s workers=%u upstream=%s policy=%s hash=%.16s "
                "mode=%s api_keys=%zu pii_key=%s model=%s instance=%s",
                bound, m.tls ? "on" : "off", admin_bound, m.nw, opts->upstream, pol_set_id(m.ps),
                pol_set_hash(m.ps), pol_mode_name(pol_set_mode(m.ps)),
                m.keys ? pol_keys_count(m.keys) : (size_t)0, m.pii_keys.len ? "on" : "off",
                sc_conf_model_id(m.conf), opts->instance);
    event_base_dispatch(m.base);
    for (unsigned i = 0; i < m.nw; i++)
        pthread_join(m.w[i].thread, NULL);
    /* Every record is now in Kafka or in the spool (replayed at the next
     * start); the emitter says which when it stops. */
    aud_emitter_free(m.em);
    m.em = NULL;
    cm_log_info("sidecar", "stopped");
    rc = 0;
out:
    if (m.ev_term)
        event_free(m.ev_term);
    if (m.ev_int)
        event_free(m.ev_int);
    if (m.ev_hup)
        event_free(m.ev_hup);
    sc_admin_free(m.admin);
    /* The emitter goes before the workers: its last done callbacks still
     * reach their proxies. */
    aud_emitter_free(m.em);
    workers_free(&m);
    sc_tls_free(m.tls);
    sc_tls_free(m.upstream_tls);
    if (m.base)
        event_base_free(m.base);
    pol_set_unref(m.ps);
    pol_keys_unref(m.keys);
    OPENSSL_cleanse(&m.pii_keys, sizeof(m.pii_keys));
    /* After the workers and the emitter (which borrowed boot's kafka.*). */
    sc_conf_unref(m.conf);
    sc_conf_unref(m.boot);
    free(overrides);
    return rc;
}
