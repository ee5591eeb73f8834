/* SPDX-License-Identifier: Apache-2.0
 *
 * bench_pii: throughput of the classifier on prompt-like text, in MB of
 * input per second of CPU time on one core (CLOCK_THREAD_CPUTIME_ID, so a
 * busy shared machine slows the wall clock, not the figure): recognizers
 * alone (pol_pii_detect without a model), the learned model alone
 * (pol_pii_model_find), and both (pol_pii_detect with the model, what the
 * sidecar runs).  Also the model's load time (read + SHA-256 + checks) and
 * the resident memory it adds.
 *
 *   bench_pii [--model M] [--mb N] [--file F.jsonl] [--rounds R] [--loads L] [--only
 * rec|model|both]
 *
 * The corpus is generated (deterministic) from a few prompt shapes with
 * names, places, companies and structured values, mostly ordinary words,
 * cut into texts of 80 bytes to 4 kB, or read from the "text" fields of a
 * JSON-lines file.  No thresholds: this measures, it does not judge
 * (targets: 200 MB/s per core recognizers alone, 50 MB/s per core with the
 * model; issue 3).  Run with `make bench-pii`.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cm_buf.h"
#include "policy/pii/pii_detect.h"
#include "policy/pii/pii_model.h"

struct corpus {
    struct cm_buf all;
    size_t *off; /* text k is all.p[off[k] .. off[k + 1]) */
    size_t n, cap;
};

static uint64_t rng = 88172645463325252ull;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *
pick(const char *const *v, size_t n)
{
    return v[next_rand() % n];
}

#define PICK(v) pick((v), sizeof(v) / sizeof((v)[0]))

static const char *const firsts[] = {"James", "Maria",   "Wei",   "Aisha", "Lukas", "Sofia", "Omar",
                                     "Emily", "Hiroshi", "Chloe", "Mateo", "Priya", "Noah"};
static const char *const lasts[] = {"Smith",  "Garcia",  "Chen",   "Okafor", "Muller", "Rossi",
                                    "Haddad", "Johnson", "Tanaka", "Dubois", "Silva",  "Patel"};
static const char *const cities[] = {"Boston",  "London", "Berlin", "Lagos",  "Tokyo", "Madrid",
                                     "Toronto", "Mumbai", "Paris",  "Austin", "Seoul"};
static const char *const orgs[] = {"Acme Corp",          "Globex Ltd",        "Initech LLC",
                                   "Umbrella GmbH",      "Northwind Traders", "Contoso Bank",
                                   "Vandelay Industries"};
static const char *const filler[] = {
    ("Can you help me rewrite the following paragraph so that it reads more clearly and keeps "
     "the same meaning? "),
    "The quarterly report shows that revenue grew by twelve percent while costs stayed flat. ",
    "Please summarize the main points of the attached document in three bullet points. ",
    "I am trying to understand why my Python script fails when the input file is empty. ",
    "Write a short and friendly reply that thanks the customer and promises a fix next week. ",
    "Explain the difference between a list and a tuple, with an example of each. ",
    "The meeting was moved to Thursday afternoon because the projector in the room is broken. ",
    "Our team needs a plan for migrating the old database to the new cluster without downtime. ",
    "What are the pros and cons of remote work for a small startup with ten employees? ",
    "Translate the next sentence into German and keep the formal tone of the original. ",
};

static void
gen_text(struct cm_buf *b, size_t target)
{
    while (b->len < target) {
        switch (next_rand() % 8) {
        case 0:
            cm_buf_printf(b, "My name is %s %s and I live in %s. ", PICK(firsts), PICK(lasts),
                          PICK(cities));
            break;
        case 1:
            cm_buf_printf(b, "Please email %s.%s@example.com or call (415) 555-%04u. ",
                          PICK(firsts), PICK(lasts), (unsigned)(next_rand() % 10000));
            break;
        case 2:
            cm_buf_printf(b, "%s from %s will visit the %s office on Monday. ", PICK(firsts),
                          PICK(orgs), PICK(cities));
            break;
        default: cm_buf_puts(b, PICK(filler)); break;
        }
    }
}

static void
corpus_add(struct corpus *c, const char *p, size_t n)
{
    if (c->n + 2 > c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->off = realloc(c->off, c->cap * sizeof(*c->off));
    }
    if (c->n == 0)
        c->off[0] = 0;
    cm_buf_append(&c->all, p, n);
    c->off[++c->n] = c->all.len;
}

static void
corpus_generate(struct corpus *c, size_t bytes)
{
    struct cm_buf t;

    cm_buf_init(&t);
    while (c->all.len < bytes) {
        cm_buf_reset(&t);
        gen_text(&t, 80 + next_rand() % 4000);
        corpus_add(c, t.p, t.len);
    }
    cm_buf_fini(&t);
}

static int
corpus_file(struct corpus *c, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *j = json_loads(line, JSON_ALLOW_NUL, &e), *t = json_object_get(j, "text");

        if (json_is_string(t))
            corpus_add(c, json_string_value(t), json_string_length(t));
        json_decref(j);
    }
    free(line);
    fclose(f);
    return 0;
}

static double
cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum mode { RECOGNIZERS, MODEL_ONLY, BOTH };

/* Best of `rounds` passes over the corpus; returns MB/s of CPU time. */
static double
measure(const struct corpus *c, const struct pol_pii_model *m, enum mode mode, int rounds,
        size_t *spans)
{
    struct pol_pii_spans sp;
    double best = 0.0;

    pol_pii_spans_init(&sp);
    for (int r = 0; r < rounds; r++) {
        double t0 = cpu_now(), dt;

        *spans = 0;
        for (size_t k = 0; k < c->n; k++) {
            const char *p = c->all.p + c->off[k];
            size_t n = c->off[k + 1] - c->off[k];
            int rc;

            pol_pii_spans_reset(&sp);
            if (mode == MODEL_ONLY)
                rc = pol_pii_model_find(m, p, n, POL_PII_ALL, &sp);
            else
                rc = pol_pii_detect(mode == BOTH ? m : NULL, p, n, POL_PII_ALL, &sp);
            if (rc != CM_OK)
                abort();
            *spans += sp.n;
        }
        dt = cpu_now() - t0;
        if (dt > 0 && (double)c->all.len / dt / 1e6 > best)
            best = (double)c->all.len / dt / 1e6;
    }
    pol_pii_spans_fini(&sp);
    return best;
}

static long
status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            v = strtol(line + strlen(key), NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

int
main(int argc, char **argv)
{
    const char *model_path = "policy/pii/model/steward-pii.model", *file = NULL, *only = "";
    size_t mb = 16, spans;
    int rounds = 3, loads = 20;
    struct corpus c = {0};
    struct pol_pii_model *m = NULL;
    struct cm_err err = {{0}};
    double t0, load_ms, r_rec, r_model, r_both;

    long rss0, rss1;
    size_t img;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            model_path = argv[++i];
        else if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc)
            mb = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--loads") == 0 && i + 1 < argc)
            loads = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr,
                    "usage: bench_pii [--model M] [--mb N] [--file F.jsonl] [--rounds R]\n");
            return 2;
        }
    }
    cm_buf_init(&c.all);
    if (file ? corpus_file(&c, file) != 0 : (corpus_generate(&c, mb << 20), 0))
        return 1;
    if (c.n == 0) {
        fprintf(stderr, "bench_pii: empty corpus\n");
        return 1;
    }

    rss0 = status_kb("VmRSS:");
    t0 = wall_now();
    for (int k = 0; k < loads; k++) {
        pol_pii_model_free(m);
        m = NULL;
        if (pol_pii_model_load(model_path, &m, &err) != CM_OK) {
            fprintf(stderr, "bench_pii: %s\n", err.msg);
            return 1;
        }
    }
    load_ms = (wall_now() - t0) * 1e3 / loads;
    rss1 = status_kb("VmRSS:");
    (void)pol_pii_model_image(m, &img);

    printf("corpus: %zu texts, %.1f MB, %zu bytes (%s)\n", c.n, (double)c.all.len / 1e6, c.all.len,
           file ? file : "generated prompts");
    printf("model: %s, %zu bytes, id %s\n", model_path, img, pol_pii_model_id(m));
    printf("model load: %.2f ms (mean of %d)\n", load_ms, loads);
    printf("memory: RSS %ld kB before the model, %ld kB after (+%ld kB)\n", rss0, rss1,
           rss1 - rss0);
    if (!*only || strcmp(only, "rec") == 0) {
        r_rec = measure(&c, m, RECOGNIZERS, rounds, &spans);
        printf("recognizers alone: %8.1f MB/s per core (%zu spans)\n", r_rec, spans);
    }
    if (!*only || strcmp(only, "model") == 0) {
        r_model = measure(&c, m, MODEL_ONLY, rounds, &spans);
        printf("model alone:       %8.1f MB/s per core (%zu spans)\n", r_model, spans);
    }
    if (!*only || strcmp(only, "both") == 0) {
        r_both = measure(&c, m, BOTH, rounds, &spans);
        printf("recognizers+model: %8.1f MB/s per core (%zu spans)\n", r_both, spans);
    }
    printf("memory high-water: %ld kB\n", status_kb("VmHWM:"));
    pol_pii_model_free(m);
    cm_buf_fini(&c.all);
    free(c.off);
    return 0;
}
