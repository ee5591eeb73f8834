/* SPDX-License-Identifier: Apache-2.0
 *
 * steward: the sidecar daemon's entry point.  Parses the command line,
 * loads the options table and the policy, starts the lineage emitter, binds
 * the data listener and runs the event loop.
 *
 *   steward -c steward.conf [-o key=value]...   run
 *   steward -n -c steward.conf                   validate config and policy, exit 0/1
 *   steward --config-doc                         print the options as markdown
 *
 * Signals: SIGHUP reloads the policy and the API-key file, each on its own:
 * a file that fails to load keeps the old one in force, is logged with its
 * file:line:column and counted (struct sc_reloads, for the admin /metrics
 * endpoint); exchanges in flight finish under the policy they started with
 * (each holds a reference).  SIGTERM and SIGINT stop accepting, let the
 * exchanges in flight finish (up to drain_timeout), flush lineage, exit 0.
 * Loop thread only, except the emitter's own delivery thread.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit/aud_emitter.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"
#include "policy/pol_keys.h"
#include "policy/pol_policy.h"
#include "sidecar/sc_options.h"
#include "sidecar/sc_proxy.h"

#define DRAIN_TIMEOUT_US (10 * 1000000LL)

/* Reload counters, read by the admin endpoint (issue 5) on the loop thread. */
struct sc_reloads {
    unsigned long policy_ok;
    unsigned long policy_failed;
    unsigned long keys_ok;
    unsigned long keys_failed;
};

struct sc_main {
    struct event_base *base;
    struct sc_options opts;
    struct sc_proxy *px;
    struct aud_emitter *em;
    struct event *ev_term, *ev_int, *ev_hup, *ev_drain;
    int64_t drain_deadline;
    struct sc_reloads reloads;
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

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sc_main *m = arg;

    (void)fd;
    (void)what;
    if (sc_proxy_inflight(m->px) == 0 || cm_mono_us() >= m->drain_deadline) {
        if (sc_proxy_inflight(m->px) > 0)
            cm_log_warn("sidecar", "drain_timeout inflight=%zu", sc_proxy_inflight(m->px));
        event_base_loopbreak(m->base);
    }
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct sc_main *m = arg;
    struct timeval tick = {0, 50000};

    (void)what;
    if (m->ev_drain != NULL)
        return;
    cm_log_info("sidecar", "stopping signal=%d inflight=%zu", (int)sig, sc_proxy_inflight(m->px));
    sc_proxy_stop_accepting(m->px);
    m->drain_deadline = cm_mono_us() + DRAIN_TIMEOUT_US;
    m->ev_drain = event_new(m->base, -1, EV_PERSIST, on_drain_tick, m);
    event_add(m->ev_drain, &tick);
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
    struct sc_main *m = arg;
    struct pol_set *ps;
    struct pol_keys *keys;
    struct cm_err err;
    char q[600];

    (void)sig;
    (void)what;
    if (pol_set_load(m->opts.policy, &ps, &err) != CM_OK) {
        m->reloads.policy_failed++;
        cm_log_err("sidecar", "policy_reload_failed kept=old failures=%lu err=%s",
                   m->reloads.policy_failed, cm_log_quote(err.msg, q, sizeof(q)));
    } else {
        m->reloads.policy_ok++;
        sc_proxy_set_policy(m->px, ps);
        cm_log_info("sidecar", "policy_reloaded id=%s hash=%.16s mode=%s", pol_set_id(ps),
                    pol_set_hash(ps), pol_mode_name(pol_set_mode(ps)));
        pol_set_unref(ps);
    }
    if (m->opts.api_keys == NULL)
        return;
    if (pol_keys_load(m->opts.api_keys, &keys, &err) != CM_OK) {
        m->reloads.keys_failed++;
        cm_log_err("sidecar", "api_keys_reload_failed kept=old failures=%lu err=%s",
                   m->reloads.keys_failed, cm_log_quote(err.msg, q, sizeof(q)));
        return;
    }
    m->reloads.keys_ok++;
    sc_proxy_set_keys(m->px, keys);
    cm_log_info("sidecar", "api_keys_reloaded keys=%zu", pol_keys_count(keys));
    pol_keys_unref(keys);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config-doc", no_argument, NULL, 'D'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sc_main m = {0};
    const char *conf = NULL;
    char **overrides = NULL, bound[160] = "?", q[600];
    size_t noverrides = 0;
    struct aud_emitter_conf ec;
    struct pol_set *ps = NULL;
    struct pol_keys *keys = NULL;
    struct cm_err err;
    enum cm_log_level level;
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
    level = (enum cm_log_level)m.opts.log_level;
    cm_log_set_level(level);
    if (pol_set_load(m.opts.policy, &ps, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (m.opts.api_keys != NULL && pol_keys_load(m.opts.api_keys, &keys, &err) != CM_OK) {
        fprintf(stderr, "steward: %s\n", err.msg);
        goto out;
    }
    if (check_only) {
        printf("steward: configuration ok (policy %s, hash %s, mode %s, %zu API keys)\n",
               pol_set_id(ps), pol_set_hash(ps), pol_mode_name(pol_set_mode(ps)),
               keys ? pol_keys_count(keys) : (size_t)0);
        rc = 0;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    ec.topic = m.opts.lineage_topic;
    ec.bootstrap_file = m.opts.bootstrap_file;
    ec.kafka = &m.opts.kafka;
    if (aud_emitter_new(&ec, &m.em, &err) != CM_OK) {
        cm_log_err("sidecar", "emitter_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    m.base = event_base_new();
    if (m.base == NULL) {
        cm_log_err("sidecar", "event_base_failed");
        goto out;
    }
    if (sc_proxy_new(m.base, &m.opts, ps, m.em, &m.px, &err) != CM_OK ||
        sc_proxy_listen(m.px, bound, sizeof(bound), &err) != CM_OK) {
        cm_log_err("sidecar", "start_failed err=%s", cm_log_quote(err.msg, q, sizeof(q)));
        goto out;
    }
    sc_proxy_set_keys(m.px, keys);
    m.ev_term = evsignal_new(m.base, SIGTERM, on_stop, &m);
    m.ev_int = evsignal_new(m.base, SIGINT, on_stop, &m);
    m.ev_hup = evsignal_new(m.base, SIGHUP, on_reload, &m);
    event_add(m.ev_term, NULL);
    event_add(m.ev_int, NULL);
    event_add(m.ev_hup, NULL);
    cm_log_info("sidecar",
                "listening addr=%s upstream=%s policy=%s hash=%.16s mode=%s api_keys=%zu "
                "instance=%s",
                bound, m.opts.upstream, pol_set_id(ps), pol_set_hash(ps),
                pol_mode_name(pol_set_mode(ps)), keys ? pol_keys_count(keys) : (size_t)0,
                m.opts.instance);
    event_base_dispatch(m.base);
    if (aud_emitter_flush(m.em, 10000) != CM_OK)
        cm_log_warn("sidecar", "lineage_flush_incomplete");
    cm_log_info("sidecar", "stopped");
    rc = 0;
out:
    if (m.ev_drain)
        event_free(m.ev_drain);
    if (m.ev_term)
        event_free(m.ev_term);
    if (m.ev_int)
        event_free(m.ev_int);
    if (m.ev_hup)
        event_free(m.ev_hup);
    sc_proxy_free(m.px);
    if (m.base)
        event_base_free(m.base);
    aud_emitter_free(m.em);
    pol_set_unref(ps);
    pol_keys_unref(keys);
    sc_options_fini(&m.opts);
    free(overrides);
    return rc;
}
