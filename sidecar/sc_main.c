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
 * Signals: SIGHUP (or POST /reload) reloads the policy and the API-key file
 * (option api_keys), each on its own: a file that fails to load keeps the
 * old one running, is logged with its file:line:column and counted; the key
 * table travels to the workers through the same inbox.  SIGTERM and
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
#include "sidecar/sc_listen.h"
#include "sidecar/sc_metrics.h"
#include "sidecar/sc_options.h"
#include "sidecar/sc_privs.h"
#include "sidecar/sc_proxy.h"
#include "sidecar/sc_tls.h"

#define DRAIN_TIMEOUT_US (10 * 1000000LL)

struct sc_worker {
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    struct sc_proxy *px;
    struct sc_metrics metrics;
    struct event *inbox;  /* activated from the main thread */
    struct event *drain;  /* periodic check while stopping */
    pthread_mutex_t lock; /* guards the fields below */
    struct pol_set *next_ps;
    struct pol_keys *next_keys;
    bool keys_posted;
    bool stop;
    int64_t drain_deadline;
};

struct sc_main {
    struct event_base *base;
    struct sc_options opts;
    struct aud_emitter *em;
    struct sc_admin *admin;
    struct sc_tls *tls, *upstream_tls;
    struct sc_worker *w;
    unsigned nw;
    struct pol_set *ps; /* main thread's reference to the set in force */
    struct pol_keys *keys; /* ...and to the API-key table, or NULL */
    struct pol_pii_keys pii_keys; /* the keyed operators' secret (len 0: none) */
    struct pol_pii_model *model;  /* the classifier's learned model, or NULL */
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
    if (sc_proxy_inflight(w->px) == 0 || cm_mono_us() >= w->drain_deadline) {
        if (sc_proxy_inflight(w->px) > 0)
            cm_log_warn("sidecar", "drain_timeout worker=%u inflight=%zu", w->id,
                        sc_proxy_inflight(w->px));
        event_base_loopbreak(w->base);
    }
}

/* Runs on the worker's loop thread when the main thread posted something. */
static void
worker_inbox(evutil_socket_t fd, short what, void *arg)
{
    struct sc_worker *w = arg;
    struct pol_set *ps;
    struct pol_keys *keys;
    bool stop, keys_posted;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->lock);
    ps = w->next_ps;
    w->next_ps = NULL;
    keys = w->next_keys;
    keys_posted = w->keys_posted;
    w->next_keys = NULL;
    w->keys_posted = false;
    stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    if (ps != NULL) {
        sc_proxy_set_policy(w->px, ps);
        pol_set_unref(ps);
    }
    if (keys_posted) {
        sc_proxy_set_keys(w->px, keys);
        pol_keys_unref(keys);
    }
    if (stop && w->drain == NULL) {
        struct timeval tick = {0, 20000};

        sc_proxy_stop_accepting(w->px);
        w->drain_deadline = cm_mono_us() + DRAIN_TIMEOUT_US;
        w->drain = event_new(w->base, -1, EV_PERSIST, worker_drain_tick, w);
        event_add(w->drain, &tick);
    }
}

static void *
worker_run(void *arg)
{
    struct sc_worker *w = arg;

    event_base_dispatch(w->base);
    return NULL;
}

static void
worker_post(struct sc_worker *w, struct pol_set *ps, struct pol_keys *keys, bool stop)
{
    pthread_mutex_lock(&w->lock);
    if (ps != NULL) {
        pol_set_unref(w->next_ps);
        w->next_ps = pol_set_ref(ps);
    }
    if (keys != NULL) {
        pol_keys_unref(w->next_keys);
        w->next_keys = pol_keys_ref(keys);
        w->keys_posted = true;
    }
    if (stop)
        w->stop = true;
    pthread_mutex_unlock(&w->lock);
    event_active(w->inbox, EV_READ, 0);
}

static int
workers_start(struct sc_main *m, char *bound, size_t boundlen, struct cm_err *err)
{
    const char *spec = m->opts.listen;
    char first[160] = "";

    m->w = cm_calloc(m->nw, sizeof(*m->w));
    for (unsigned i = 0; i < m->nw; i++) {
        struct sc_worker *w = &m->w[i];
        struct sc_proxy_env env;
        int fd, rc;

        w->id = i;
        pthread_mutex_init(&w->lock, NULL);
        w->base = event_base_new();
        if (w->base == NULL)
            return cm_err_set(err, CM_EINTERNAL, "event_base_new failed");
        /* A port of 0 is chosen by the first worker; the others join it. */
        rc = sc_listen_open(i == 0 ? spec : first, true, &fd, bound, boundlen, err);
        if (rc != CM_OK)
            return rc;
        if (i == 0)
            snprintf(first, sizeof(first), "%s", bound);
        env.opts = &m->opts;
        env.em = m->em;
        env.metrics = &w->metrics;
        env.tls = m->tls;
        env.upstream_tls = m->upstream_tls;
        env.pii_keys = m->pii_keys.len > 0 ? &m->pii_keys : NULL;
        env.model = m->model;
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
        pol_set_unref(w->next_ps);
        pol_keys_unref(w->next_keys);
        pthread_mutex_destroy(&w->lock);
    }
    free(m->w);
}

/* ------------------------------------------------------------ main loop */

/* The API-key table, on its own: a failure keeps the old table.  Returns
 * CM_OK (also when no key file is configured) or CM_EINPUT. */
static int
reload_keys(struct sc_main *m, struct cm_err *err)
{
    struct pol_keys *keys;
    char q[600];

    if (m->opts.api_keys == NULL)
        return CM_OK;
    if (pol_keys_load(m->opts.api_keys, &keys, err) != CM_OK) {
        uint64_t n = atomic_fetch_add(&m->keys_reloads_failed, 1) + 1;

        cm_log_err("sidecar", "api_keys_reload_failed kept=old failures=%llu err=%s",
                   (unsigned long long)n, cm_log_quote(err->msg, q, sizeof(q)));
        return CM_EINPUT;
    }
    for (unsigned i = 0; i < m->nw; i++)
        worker_post(&m->w[i], NULL, keys, false);
    pol_keys_unref(m->keys);
    m->keys = keys;
    atomic_fetch_add(&m->keys_reloads_ok, 1);
    cm_log_info("sidecar", "api_keys_reloaded keys=%zu", pol_keys_count(keys));
    return CM_OK;
}

static int
do_reload(struct sc_main *m, struct cm_err *err)
{
    struct pol_set *ps;
    struct cm_err kerr;
    char q[600];
    int rc = CM_OK;

    if (pol_set_load(m->opts.policy, &ps, err) != CM_OK) {
        uint64_t n = atomic_fetch_add(&m->reloads_failed, 1) + 1;

        cm_log_err("sidecar", "policy_reload_failed kept=%s failures=%llu err=%s",
                   pol_set_id(m->ps), (unsigned long long)n, cm_log_quote(err->msg, q, sizeof(q)));
        rc = CM_EINPUT;
    } else {
        for (unsigned i = 0; i < m->nw; i++)
            worker_post(&m->w[i], ps, NULL, false);
        pol_set_unref(m->ps);
        m->ps = ps;
        atomic_fetch_add(&m->reloads_ok, 1);
        cm_log_info("sidecar", "policy_reloaded id=%s hash=%.16s mode=%s", pol_set_id(ps),
                    pol_set_hash(ps), pol_mode_name(pol_set_mode(ps)));
    }
    if (reload_keys(m, &kerr) != CM_OK) {
        if (rc == CM_OK)
            *err = kerr;
        rc = CM_EINPUT;
    }
    return rc;
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
        worker_post(&m->w[i], NULL, NULL, true);
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
    if (st.spool_full && m->opts.on_spool_full == SC_SPOOL_FULL_FAIL_CLOSED) {
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
    g.policy_reloads_ok = atomic_load(&m->reloads_ok);
    g.policy_reloads_failed = atomic_load(&m->reloads_failed);
    g.keys_reloads_ok = atomic_load(&m->keys_reloads_ok);
    g.keys_reloads_failed = atomic_load(&m->keys_reloads_failed);
    g.policy_id = pol_set_id(m->ps);
    g.policy_hash = pol_set_hash(m->ps);
    g.workers = m->nw;
    g.start_time_us = m->start_us;
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
    if (sc_options_load(&m.opts, conf, overrides, noverrides, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    cm_log_set_level((enum cm_log_level)m.opts.log_level);
    if (sc_privs_resolve(m.opts.user, m.opts.group, &privs, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (pol_set_load(m.opts.policy, &m.ps, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (m.opts.signing_key != NULL) {
        struct aud_key *key;

        if (aud_key_load_private(m.opts.signing_key, &key, &err) != CM_OK) {
            fprintf(stderr, "steward: signing_key: %s\n", err.msg);
            goto out;
        }
        aud_key_free(key);
    }
    if (m.opts.tls_cert != NULL || m.opts.tls_key != NULL) {
        if (sc_tls_server_new(m.opts.tls_cert, m.opts.tls_key, m.opts.tls_client_ca,
                              (enum sc_tls_client_auth)m.opts.tls_client_auth, &m.tls,
                              &err) != CM_OK) {
            fprintf(stderr, "steward: %s\n", err.msg);
            goto out;
        }
    } else if (m.opts.tls_client_auth != SC_TLS_CLIENT_NONE) {
        fprintf(stderr, "steward: tls_client_auth needs tls_cert and tls_key\n");
        goto out;
    }
    if (strncmp(m.opts.upstream, "https://", 8) == 0 &&
        sc_tls_client_new(m.opts.upstream_ca, m.opts.upstream_tls_verify, &m.upstream_tls,
                          &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (m.opts.api_keys != NULL && pol_keys_load(m.opts.api_keys, &m.keys, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (m.opts.pii_key_file != NULL &&
        pol_pii_keys_load(m.opts.pii_key_file, &m.pii_keys, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (strcmp(m.opts.pii_model, "none") != 0) {
        char buf[4096];
        const char *path = strcmp(m.opts.pii_model, "auto") == 0
                               ? pol_pii_model_default_path(buf, sizeof(buf))
                               : m.opts.pii_model;

        if (pol_pii_model_load(path, &m.model, &err) != CM_OK) {
            fprintf(stderr, "steward: pii_model: %s\n", err.msg);
            goto out;
        }
    }
    if (check_only) {
        printf("steward: configuration ok (policy %s, hash %s, mode %s, %zu API keys, model %s)\n",
               pol_set_id(m.ps), pol_set_hash(m.ps), pol_mode_name(pol_set_mode(m.ps)),
               m.keys ? pol_keys_count(m.keys) : (size_t)0,
               m.model ? pol_pii_model_id(m.model) : "none");
        rc = 0;
        goto out;
    }
    m.start_us = cm_now_us();
    m.nw = m.opts.workers > 0 ? (unsigned)m.opts.workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (m.nw == 0)
        m.nw = 1;
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        cm_log_err("sidecar", "evthread_use_pthreads_failed");
        goto out;
    }
    memset(&ec, 0, sizeof(ec));
    ec.topic = m.opts.lineage_topic;
    ec.bootstrap_file = m.opts.bootstrap_file;
    ec.kafka = &m.opts.kafka;
    ec.spool_dir = m.opts.spool_dir;
    ec.spool_max_bytes = m.opts.spool_max_bytes;
    ec.spool_fsync = (enum aud_spool_fsync)m.opts.spool_fsync;
    ec.durability = (enum aud_durability)m.opts.durability;
    ec.spool_after_us = m.opts.spool_after_us;
    ec.chains = m.nw; /* one chain per worker */
    ec.instance = m.opts.instance;
    ec.checkpoint_records = (uint64_t)m.opts.checkpoint_records;
    ec.checkpoint_interval_us = m.opts.checkpoint_interval_us;
    ec.signing_key = m.opts.signing_key;
    if (aud_emitter_new(&ec, &m.em, &err) != CM_OK) {
        cm_log_err("sidecar", "emitter_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    m.base = event_base_new();
    if (m.base == NULL) {
        cm_log_err("sidecar", "event_base_failed");
        goto out;
    }
    if (m.opts.admin_listen != NULL) {
        struct sc_admin_hooks hooks = {&m, admin_ready, admin_metrics, admin_reload};

        if (sc_admin_new(m.base, m.opts.admin_listen, &hooks, &m.admin, admin_bound,
                         sizeof(admin_bound), &err) != CM_OK) {
            cm_log_err("sidecar", "admin_listen_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
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
    if (sc_privs_give_dir(&privs, m.opts.spool_dir, &err) != CM_OK ||
        sc_privs_drop(&privs, &err) != CM_OK) {
        cm_log_err("sidecar", "privilege_drop_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    if (privs.set)
        cm_log_info("sidecar", "privileges_dropped user=%s uid=%u gid=%u", privs.name,
                    (unsigned)getuid(), (unsigned)getgid());
    else if (geteuid() == 0)
        cm_log_warn("sidecar", "running_as_root hint=\"set user = NAME to drop root after start-up\"");
    if (workers_run(&m, &err) != CM_OK) {
        cm_log_err("sidecar", "start_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    cm_log_info("sidecar",
                "listening addr=%s tls=%s admin=%s workers=%u upstream=%s policy=%s hash=%.16s "
                "mode=%s api_keys=%zu pii_key=%s model=%s instance=%s",
                bound, m.tls ? "on" : "off", admin_bound, m.nw, m.opts.upstream, pol_set_id(m.ps),
                pol_set_hash(m.ps), pol_mode_name(pol_set_mode(m.ps)),
                m.keys ? pol_keys_count(m.keys) : (size_t)0, m.pii_keys.len ? "on" : "off",
                m.model ? pol_pii_model_id(m.model) : "none", m.opts.instance);
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
    pol_pii_model_free(m.model);
    sc_options_fini(&m.opts);
    free(overrides);
    return rc;
}
