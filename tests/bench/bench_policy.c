/* SPDX-License-Identifier: Apache-2.0
 *
 * bench_policy: what the policy costs per request, measured (never asserted
 * in tests: the machine is shared and noisy).
 *
 *   pol_set_eval   ns per call on a realistic policy (default: the shipped
 *                  deploy/policies/acme-full.yaml: 7 rules, custom
 *                  recognizer, lists), cycling through 8 different inputs
 *                  (callers, models, purposes, findings)
 *   pol_set_scan   us per call and MB/s: the policy's allow/deny lists and
 *                  recognizers over a 2 KB prompt-like text (after the
 *                  classifier's own spans)
 *   pol_set_load   ms per load + compile of the file (what a SIGHUP costs)
 *
 *   make bench-policy           (builds with the debug flavour's -O2)
 *   build/debug/bench/bench_policy [POLICY] [ITERATIONS]
 * Prints one line per measurement.  Single-threaded; pin it with taskset
 * for steadier numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cm_buf.h"
#include "policy/pol_policy.h"

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Eight callers and requests of the kinds the sidecar sees. */
struct sample {
    const char *principal, *tenant, *group, *purpose, *model;
    unsigned modalities;
    unsigned email, phone, card, person;
};

static const struct sample samples[] = {
    {"sam", "acme-eu", "support", "support", "internal-llama-70b", POL_MOD_TEXT, 1, 1, 0, 2},
    {"cora", "contractor-globex", "support", "support", "internal-llama-70b", POL_MOD_TEXT, 2, 0, 0,
     1},
    {"eli", "acme-us", "eng", "engineering", "gpt-4o", POL_MOD_TEXT, 0, 0, 0, 0},
    {"eli", "acme-us", "eng", "engineering", "gpt-4o", POL_MOD_TEXT | POL_MOD_IMAGE, 0, 0, 0, 0},
    {"hana", "acme-eu", "hr", "hr-case", "claude-3-5-sonnet", POL_MOD_TEXT, 1, 0, 0, 3},
    {"fia", "acme-eu", "fraud", "fraud-review", "internal-llama-70b", POL_MOD_TEXT, 0, 0, 2, 1},
    {"sam", "acme-eu", "support", "support", "gpt-4o-mini", POL_MOD_TEXT, 0, 0, 1, 0},
    {"svc-batch", "acme-us", "eng", "engineering", "internal-llama-8b", POL_MOD_TEXT, 5, 3, 0, 0},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

int
main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "deploy/policies/acme-full.yaml";
    long iters = argc > 2 ? atol(argv[2]) : 4000000;
    static unsigned counts[NSAMPLES][POL_LABEL_MAX];
    const char *groups[NSAMPLES][1], *purposes[NSAMPLES][1];
    struct pol_input in[NSAMPLES];
    struct pol_decision d;
    struct pol_set *ps;
    struct cm_err err;
    struct cm_buf text;
    struct pol_pii_spans spans;
    double t0, t1;
    unsigned long sink = 0;
    int loads = 50, scans = 20000;

    if (pol_set_load(path, &ps, &err) != CM_OK) {
        fprintf(stderr, "bench_policy: %s\n", err.msg);
        return 1;
    }
    for (size_t k = 0; k < NSAMPLES; k++) {
        const struct sample *s = &samples[k];

        groups[k][0] = s->group;
        purposes[k][0] = s->purpose;
        memset(&in[k], 0, sizeof(in[k]));
        in[k].caller.principal = s->principal;
        in[k].caller.tenant = s->tenant;
        in[k].caller.groups = groups[k];
        in[k].caller.ngroups = 1;
        in[k].caller.purposes = purposes[k];
        in[k].caller.npurposes = 1;
        in[k].purpose = s->purpose;
        in[k].model = s->model;
        in[k].route = POL_ROUTE_CHAT;
        in[k].modalities = s->modalities;
        in[k].content_type = "application/json";
        counts[k][POL_PII_EMAIL] = s->email;
        counts[k][POL_PII_PHONE] = s->phone;
        counts[k][POL_PII_CREDIT_CARD] = s->card;
        counts[k][POL_PII_PERSON] = s->person;
        in[k].counts = counts[k];
    }

    /* warm-up */
    for (long i = 0; i < 100000; i++) {
        pol_set_eval(ps, POL_DIR_REQUEST, &in[i % NSAMPLES], &d);
        sink += d.nmatched;
    }
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        pol_set_eval(ps, (i & 8) ? POL_DIR_RESPONSE : POL_DIR_REQUEST, &in[i % NSAMPLES], &d);
        sink += d.nmatched + (unsigned)d.verdict;
    }
    t1 = now_ns();
    printf("pol_set_eval   %8.1f ns/op   (%s: %zu rules, %zu entity types, %ld calls, "
           "8 inputs, both directions)\n",
           (t1 - t0) / (double)iters, pol_set_id(ps), pol_set_nrules(ps), pol_set_nlabels(ps),
           iters);

    /* The policy's own detection over a 2 KB prompt. */
    cm_buf_init(&text);
    while (text.len < 2048)
        cm_buf_puts(&text, "Hello team, employee E123456 from Jaguar Cloud support asked about "
                           "the refund for jo@example.com; the account ACME-12345678 is in "
                           "review. Please reply to noreply@acme.example before Friday. ");
    pol_pii_spans_init(&spans);
    t0 = now_ns();
    for (int i = 0; i < scans; i++) {
        pol_pii_spans_reset(&spans);
        if (pol_pii_scan(text.p, text.len, POL_PII_ALL, &spans) != CM_OK ||
            pol_set_scan(ps, POL_DIR_REQUEST, text.p, text.len, &spans, &err) != CM_OK) {
            fprintf(stderr, "bench_policy: scan failed\n");
            return 1;
        }
        sink += spans.n;
    }
    t1 = now_ns();
    printf("scan+policy    %8.2f us/op   %.1f MB/s (%zu-byte text: classifier recognizers, then "
           "the policy's lists and recognizers; %zu spans kept)\n",
           (t1 - t0) / scans / 1e3, (double)text.len * scans / ((t1 - t0) / 1e9) / 1e6, text.len,
           spans.n);
    t0 = now_ns();
    for (int i = 0; i < scans; i++) {
        pol_pii_spans_reset(&spans);
        if (pol_pii_scan(text.p, text.len, POL_PII_ALL, &spans) != CM_OK)
            return 1;
        sink += spans.n;
    }
    t1 = now_ns();
    printf("scan alone     %8.2f us/op   (the classifier's recognizers only, for comparison)\n",
           (t1 - t0) / scans / 1e3);
    pol_pii_spans_fini(&spans);
    cm_buf_fini(&text);

    t0 = now_ns();
    for (int i = 0; i < loads; i++) {
        struct pol_set *p2;

        if (pol_set_load(path, &p2, &err) != CM_OK)
            return 1;
        pol_set_unref(p2);
    }
    t1 = now_ns();
    printf("pol_set_load   %8.2f ms/op   (parse, validate, compile patterns, hash)\n",
           (t1 - t0) / loads / 1e6);
    pol_set_unref(ps);
    return sink == 0 ? 1 : 0;
}
