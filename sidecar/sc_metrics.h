/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_metrics: the sidecar's counters and latency histograms, and their
 * Prometheus text exposition (served by sc_admin on /metrics).
 *
 * Each worker owns one struct sc_metrics and is its only writer (relaxed
 * atomic increments: no lock, no shared cache line between workers); the
 * admin thread sums all workers on scrape.  Metric names follow Prometheus
 * conventions (steward_ prefix, _total counters, _seconds histograms).
 *
 * Adding a metric: a field here, its update in sc_proxy.c, its exposition in
 * sc_metrics_render(), and docs/operations.md.
 */
#ifndef SC_METRICS_H
#define SC_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cm_buf.h"
#include "policy/pii/pii_scan.h"
#include "sidecar/sc_outcome.h"

enum sc_metric_route {
    SC_MR_CHAT,
    SC_MR_COMPLETION,
    SC_MR_EMBEDDING,
    SC_MR_RESPONSES,
    SC_MR_MESSAGES,
    SC_MR_MODELS,
    SC_MR_OTHER,
    SC_MR__COUNT
};
enum sc_metric_decision { SC_MD_ALLOW, SC_MD_REDACT, SC_MD_DENY, SC_MD_NONE, SC_MD__COUNT };

#define SC_HIST_BUCKETS 14 /* upper bounds in sc_metrics.c, plus +Inf */

struct sc_hist {
    _Atomic uint64_t bucket[SC_HIST_BUCKETS + 1];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

struct sc_metrics {
    _Atomic uint64_t exchanges[SC_MR__COUNT][SC_MD__COUNT][SC_OUT__COUNT];
    _Atomic uint64_t status_class[6];             /* 1xx..5xx, index 0 unused */
    _Atomic uint64_t findings[2][POL_PII__COUNT]; /* [request|response][label] */
    _Atomic uint64_t inflight;
    struct sc_hist governance;
    struct sc_hist upstream;
    struct sc_hist total;
};

/* Process-wide values that no worker owns. */
struct sc_metrics_global {
    uint64_t lineage_queued, lineage_delivered, lineage_failed, lineage_in_flight;
    uint64_t lineage_spooled, lineage_replayed, lineage_dropped;
    uint64_t lineage_spool_records, lineage_spool_bytes;
    uint64_t config_reloads_ok, config_reloads_failed; /* config file and model */
    uint64_t policy_reloads_ok, policy_reloads_failed;
    uint64_t keys_reloads_ok, keys_reloads_failed; /* the api_keys file */
    const char *policy_id;
    const char *policy_hash;
    unsigned workers;
    int64_t start_time_us;
    int64_t tls_cert_not_after; /* the listener's certificate, epoch seconds; 0: no HTTPS */
};

enum sc_metric_route sc_metric_route(const char *route_name);
enum sc_metric_decision sc_metric_decision(const char *decision);

/* Loop thread of the owning worker only. */
void sc_metrics_exchange(struct sc_metrics *m, enum sc_metric_route r, enum sc_metric_decision d,
                         enum sc_outcome o, int status, int64_t governance_us, int64_t upstream_us,
                         int64_t total_us);
void sc_metrics_finding(struct sc_metrics *m, int response, enum pol_pii_label label,
                        unsigned count);

/* Renders the sum of the n worker blocks plus g in Prometheus text format
 * 0.0.4 into out.  Any thread (reads are relaxed). */
void sc_metrics_render(struct sc_metrics *const *workers, size_t n,
                       const struct sc_metrics_global *g, struct cm_buf *out);

#endif /* SC_METRICS_H */
