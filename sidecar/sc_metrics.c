/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_metrics: per-worker counters, summed and rendered on scrape.  See
 * sc_metrics.h.  Histogram buckets are in seconds, from 50 us to 30 s: the
 * governance time of a request is tens to hundreds of microseconds, the
 * upstream time of a model call seconds.
 */
#include "sidecar/sc_metrics.h"

#include <string.h>

#define RELAXED memory_order_relaxed

static const double bucket_le[SC_HIST_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10, 30};

static const char *const route_names[SC_MR__COUNT] = {
    "chat", "completion", "embedding", "responses", "messages", "models", "other"};
static const char *const decision_names[SC_MD__COUNT] = {"allow", "redact", "deny", "none"};

enum sc_metric_route
sc_metric_route(const char *route_name)
{
    for (int i = 0; i < SC_MR__COUNT; i++)
        if (strcmp(route_name, route_names[i]) == 0)
            return (enum sc_metric_route)i;
    return SC_MR_OTHER;
}

enum sc_metric_decision
sc_metric_decision(const char *decision)
{
    for (int i = 0; i < SC_MD__COUNT; i++)
        if (strcmp(decision, decision_names[i]) == 0)
            return (enum sc_metric_decision)i;
    return SC_MD_NONE;
}

static void
hist_observe(struct sc_hist *h, int64_t us)
{
    double s = (double)us / 1e6;
    int b = 0;

    if (us < 0)
        us = 0;
    while (b < SC_HIST_BUCKETS && s > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, RELAXED);
    atomic_fetch_add_explicit(&h->count, 1, RELAXED);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, RELAXED);
}

void
sc_metrics_exchange(struct sc_metrics *m, enum sc_metric_route r, enum sc_metric_decision d,
                    enum sc_outcome o, int status, int64_t governance_us, int64_t upstream_us,
                    int64_t total_us)
{
    atomic_fetch_add_explicit(&m->exchanges[r][d][o], 1, RELAXED);
    if (status >= 100 && status < 600)
        atomic_fetch_add_explicit(&m->status_class[status / 100], 1, RELAXED);
    hist_observe(&m->governance, governance_us);
    if (upstream_us > 0)
        hist_observe(&m->upstream, upstream_us);
    hist_observe(&m->total, total_us);
}

void
sc_metrics_finding(struct sc_metrics *m, int response, enum pol_pii_label label, unsigned count)
{
    atomic_fetch_add_explicit(&m->findings[response ? 1 : 0][label], count, RELAXED);
}

/* A label value in exposition text: backslash, double quote and newline
 * escaped (the policy id comes from a file). */
static const char *
label_escape(const char *v, char *out, size_t outlen)
{
    size_t o = 0;

    for (; v != NULL && *v && o + 3 < outlen; v++) {
        if (*v == '\\' || *v == '"') {
            out[o++] = '\\';
            out[o++] = *v;
        } else if (*v == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *v;
        }
    }
    out[o] = '\0';
    return out;
}

static uint64_t
ld(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, RELAXED);
}

static void
render_hist(struct sc_metrics *const *w, size_t n, size_t off, const char *name, const char *help,
            struct cm_buf *out)
{
    uint64_t cum = 0, count = 0, sum = 0;

    cm_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int b = 0; b <= SC_HIST_BUCKETS; b++) {
        for (size_t i = 0; i < n; i++)
            cum += ld(&((const struct sc_hist *)((const char *)w[i] + off))->bucket[b]);
        if (b < SC_HIST_BUCKETS)
            cm_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[b],
                          (unsigned long long)cum);
        else
            cm_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    for (size_t i = 0; i < n; i++) {
        const struct sc_hist *h = (const struct sc_hist *)((const char *)w[i] + off);

        count += ld(&h->count);
        sum += ld(&h->sum_us);
    }
    cm_buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, (double)sum / 1e6, name,
                  (unsigned long long)count);
}

void
sc_metrics_render(struct sc_metrics *const *w, size_t n, const struct sc_metrics_global *g,
                  struct cm_buf *out)
{
    uint64_t inflight = 0;
    char idq[512];

    cm_buf_puts(out, "# HELP steward_exchanges_total Exchanges finished, by route, decision "
                     "and outcome.\n# TYPE steward_exchanges_total counter\n");
    for (int r = 0; r < SC_MR__COUNT; r++)
        for (int d = 0; d < SC_MD__COUNT; d++)
            for (int o = 0; o < SC_OUT__COUNT; o++) {
                uint64_t v = 0;

                for (size_t i = 0; i < n; i++)
                    v += ld(&w[i]->exchanges[r][d][o]);
                if (v > 0)
                    cm_buf_printf(out,
                                  "steward_exchanges_total{route=\"%s\",decision=\"%s\","
                                  "outcome=\"%s\"} %llu\n",
                                  route_names[r], decision_names[d],
                                  sc_outcome_info((enum sc_outcome)o)->name, (unsigned long long)v);
            }
    cm_buf_puts(out, "# HELP steward_responses_total Responses sent, by status class.\n"
                     "# TYPE steward_responses_total counter\n");
    for (int c = 1; c <= 5; c++) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
            v += ld(&w[i]->status_class[c]);
        cm_buf_printf(out, "steward_responses_total{code=\"%dxx\"} %llu\n", c,
                      (unsigned long long)v);
    }
    cm_buf_puts(out, "# HELP steward_findings_total Personal-data findings, by direction and "
                     "type.\n# TYPE steward_findings_total counter\n");
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < POL_PII__COUNT; l++) {
            uint64_t v = 0;

            for (size_t i = 0; i < n; i++)
                v += ld(&w[i]->findings[d][l]);
            cm_buf_printf(out, "steward_findings_total{direction=\"%s\",type=\"%s\"} %llu\n",
                          d ? "response" : "request", pol_pii_label_name((enum pol_pii_label)l),
                          (unsigned long long)v);
        }
    for (size_t i = 0; i < n; i++)
        inflight += ld(&w[i]->inflight);
    cm_buf_printf(out,
                  "# HELP steward_inflight_exchanges Exchanges in progress.\n"
                  "# TYPE steward_inflight_exchanges gauge\nsteward_inflight_exchanges %llu\n",
                  (unsigned long long)inflight);
    render_hist(w, n, offsetof(struct sc_metrics, governance), "steward_governance_seconds",
                "Time spent classifying, deciding and rewriting, per exchange.", out);
    render_hist(w, n, offsetof(struct sc_metrics, upstream), "steward_upstream_seconds",
                "Time spent waiting for the model server, per exchange.", out);
    render_hist(w, n, offsetof(struct sc_metrics, total), "steward_exchange_seconds",
                "Total time of an exchange as seen by steward.", out);
    cm_buf_printf(out,
                  "# HELP steward_lineage_records_total Lineage records by delivery state.\n"
                  "# TYPE steward_lineage_records_total counter\n"
                  "steward_lineage_records_total{state=\"queued\"} %llu\n"
                  "steward_lineage_records_total{state=\"delivered\"} %llu\n"
                  "steward_lineage_records_total{state=\"failed\"} %llu\n"
                  "steward_lineage_records_total{state=\"spooled\"} %llu\n"
                  "steward_lineage_records_total{state=\"replayed\"} %llu\n"
                  "steward_lineage_records_total{state=\"dropped\"} %llu\n"
                  "# HELP steward_lineage_in_flight Lineage records handed to the emitter "
                  "whose fate (Kafka, spool, dropped) is not known yet.\n"
                  "# TYPE steward_lineage_in_flight gauge\n"
                  "steward_lineage_in_flight %llu\n"
                  "# HELP steward_lineage_spool_records Records in the spool, waiting for "
                  "Kafka's confirmation.\n# TYPE steward_lineage_spool_records gauge\n"
                  "steward_lineage_spool_records %llu\n"
                  "# HELP steward_lineage_spool_bytes Size of the spool's segment files.\n"
                  "# TYPE steward_lineage_spool_bytes gauge\n"
                  "steward_lineage_spool_bytes %llu\n",
                  (unsigned long long)g->lineage_queued, (unsigned long long)g->lineage_delivered,
                  (unsigned long long)g->lineage_failed, (unsigned long long)g->lineage_spooled,
                  (unsigned long long)g->lineage_replayed, (unsigned long long)g->lineage_dropped,
                  (unsigned long long)g->lineage_in_flight,
                  (unsigned long long)g->lineage_spool_records,
                  (unsigned long long)g->lineage_spool_bytes);
    cm_buf_printf(out,
                  "# HELP steward_config_reloads_total Reloads (SIGHUP, POST /reload) of the "
                  "whole configuration, by result; failed: the config file or the model did not "
                  "load (the policy and API-key files have their own counters).\n"
                  "# TYPE steward_config_reloads_total counter\n"
                  "steward_config_reloads_total{result=\"ok\"} %llu\n"
                  "steward_config_reloads_total{result=\"failed\"} %llu\n",
                  (unsigned long long)g->config_reloads_ok,
                  (unsigned long long)g->config_reloads_failed);
    cm_buf_printf(
        out,
        "# HELP steward_policy_reloads_total Policy reloads, by result.\n"
        "# TYPE steward_policy_reloads_total counter\n"
        "steward_policy_reloads_total{result=\"ok\"} %llu\n"
        "steward_policy_reloads_total{result=\"failed\"} %llu\n"
        "# HELP steward_api_keys_reloads_total API-key file reloads, by result.\n"
        "# TYPE steward_api_keys_reloads_total counter\n"
        "steward_api_keys_reloads_total{result=\"ok\"} %llu\n"
        "steward_api_keys_reloads_total{result=\"failed\"} %llu\n"
        "# HELP steward_policy_info The policy in force (value 1).\n"
        "# TYPE steward_policy_info gauge\n"
        "steward_policy_info{id=\"%s\",hash=\"%s\"} 1\n"
        "# HELP steward_workers Worker threads serving the data port.\n"
        "# TYPE steward_workers gauge\nsteward_workers %u\n"
        "# HELP steward_start_time_seconds Start time of the process since the epoch.\n"
        "# TYPE steward_start_time_seconds gauge\nsteward_start_time_seconds %.3f\n",
        (unsigned long long)g->policy_reloads_ok, (unsigned long long)g->policy_reloads_failed,
        (unsigned long long)g->keys_reloads_ok, (unsigned long long)g->keys_reloads_failed,
        label_escape(g->policy_id, idq, sizeof(idq)), g->policy_hash, g->workers,
        (double)g->start_time_us / 1e6);
    if (g->tls_cert_not_after > 0)
        cm_buf_printf(out,
                      "# HELP steward_tls_cert_expiry_seconds When the data listener's "
                      "certificate expires (notAfter), since the epoch; a reload reads a "
                      "renewed one.\n"
                      "# TYPE steward_tls_cert_expiry_seconds gauge\n"
                      "steward_tls_cert_expiry_seconds %lld\n",
                      (long long)g->tls_cert_not_after);
}
