/* SPDX-License-Identifier: Apache-2.0
 *
 * steward-pii: the classifier's tool (DESIGN.md section 5).
 *
 *   steward-pii detect [--model M | --no-model] [--plain] [--labels L,..] [FILE...]
 *       JSON lines in ({"text": ...}, other fields passed through), JSON
 *       lines out with "spans": [{"start","end","label","score"}], offsets
 *       in Unicode code points; --plain prints each text redacted instead.
 *   steward-pii train --train F [--train F2 ...] [--dev F ...] --out MODEL
 *       [--epochs N] [--seed S] [--gaz DIR | --base MODEL] [--hash-bits B]
 *       [--drop P] [--drop-word P] [--drop-gaz P]
 *       Trains the learned model (PERSON, LOCATION, ORGANIZATION); the
 *       gazetteer comes from the list directory DIR (policy/pii/data) or
 *       from an existing model (default: the shipped one).  Per-epoch dev
 *       scores on stderr; a progress line when stderr is a terminal.
 *   steward-pii eval --data F [--data F2 ...] [--model M | --no-model] [--labels L,..]
 *       Per-label precision, recall and F1, exact-span and overlap matching,
 *       of the whole classifier (recognizers + model) against gold spans.
 *   steward-pii info [--model M]
 *       The model's id, size, labels and load time.
 *
 * The model is --model, else $STEWARD_PII_MODEL, else
 * policy/pii/model/steward-pii.model of the source tree (seen from the
 * working directory or from the binary's build/<flavour>/bin), else
 * /usr/share/steward/steward-pii.model.  A bad input line (invalid UTF-8,
 * bad JSON, no text) is reported on stderr as "FILE:LINE: reason", never
 * quoting the text, and the exit status is 1 at the end; 2 is usage, 1 also
 * a model that cannot be loaded.  Read pii_detect.h and pii_train.h first.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"
#include "policy/pii/pii_detect.h"
#include "policy/pii/pii_model.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_train.h"

#define MAX_FILES 16

static int
usage(FILE *f)
{
    fprintf(f,
            "usage: steward-pii detect [--model M | --no-model] [--plain] [--labels L,..] "
            "[FILE...]\n"
            "       steward-pii train --train F [--train F ...] [--dev F ...] --out MODEL\n"
            "                 [--epochs N] [--seed S] [--gaz DIR | --base MODEL] [--hash-bits B]\n"
            "                 [--drop P] [--drop-word P] [--drop-gaz P]\n"
            "       steward-pii eval --data F [--data F ...] [--model M | --no-model] "
            "[--labels L,..]\n"
            "       steward-pii info [--model M]\n");
    return 2;
}

static const char *
default_model(void)
{
    static char buf[4096];

    return pol_pii_model_default_path(buf, sizeof(buf));
}

static int
load_model(const char *path, struct pol_pii_model **m)
{
    struct cm_err err = {{0}};

    if (pol_pii_model_load(path ? path : default_model(), m, &err) != CM_OK) {
        fprintf(stderr, "steward-pii: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int
parse_labels(const char *s, unsigned *out)
{
    *out = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        enum pol_pii_label l;

        if (pol_pii_label_parse(s, n, &l) != CM_OK) {
            fprintf(stderr, "steward-pii: unknown label '%.*s'\n", (int)n, s);
            return -1;
        }
        *out |= POL_PII_MASK(l);
        s += n + (e != NULL);
    }
    return 0;
}

/* Matches "--name VALUE"; advances *i. */
static const char *
opt_val(int argc, char **argv, int *i, const char *name)
{
    if (strcmp(argv[*i], name) != 0)
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "steward-pii: %s needs a value\n", name);
        exit(usage(stderr));
    }
    *i += 1;
    return argv[*i];
}

/* ---------------------------------------------------------------- detect */

struct detect_ctx {
    const struct pol_pii_model *model;
    unsigned labels;
    bool plain;
    struct pol_pii_spans spans;
    struct cm_buf out;
    size_t bad;
};

static void
detect_line(struct detect_ctx *dc, const char *name, size_t lineno, const char *line, size_t n)
{
    struct pol_pii_doc doc;
    struct cm_err err = {{0}};
    json_t *root, *arr;
    json_error_t jerr;
    char *s;

    /* pol_pii_doc_parse checks UTF-8 and the text field without quoting it */
    if (pol_pii_doc_parse(line, n, &doc, &err) != CM_OK) {
        fprintf(stderr, "%s:%zu: %s\n", name, lineno, err.msg);
        dc->bad++;
        return;
    }
    pol_pii_spans_reset(&dc->spans);
    if (pol_pii_detect(dc->model, doc.text, doc.len, dc->labels, &dc->spans) != CM_OK) {
        fprintf(stderr, "%s:%zu: detection failed\n", name, lineno);
        dc->bad++;
        pol_pii_doc_fini(&doc);
        return;
    }
    if (dc->plain) {
        enum pol_pii_op ops[POL_PII__COUNT];
        struct pol_pii_redact_opts ro = {.mask_keep = 4};

        for (unsigned l = 0; l < POL_PII__COUNT; l++)
            ops[l] = POL_PII_OP_REDACT;
        cm_buf_reset(&dc->out);
        (void)pol_pii_redact(doc.text, doc.len, dc->spans.v, dc->spans.n, ops, &ro, &dc->out);
        cm_buf_putc(&dc->out, '\n');
        fwrite(dc->out.p, 1, dc->out.len, stdout);
        pol_pii_doc_fini(&doc);
        return;
    }
    pol_pii_spans_to_cp(doc.text, doc.len, dc->spans.v, dc->spans.n);
    root = json_loadb(line, n, JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s:%zu: invalid JSON\n", name, lineno);
        dc->bad++;
        pol_pii_doc_fini(&doc);
        return;
    }
    if (json_object_get(root, "spans") == NULL) {
        /* splice "spans" before the closing brace: every other field goes
         * out byte for byte as it came in (no number reformatted) */
        size_t e = n;

        while (e > 0 && line[e - 1] != '}')
            e--;
        cm_buf_reset(&dc->out);
        cm_buf_append(&dc->out, line, e - 1);
        cm_buf_puts(&dc->out, ",\"spans\":[");
        for (size_t k = 0; k < dc->spans.n; k++) {
            const struct pol_pii_span *sp = &dc->spans.v[k];

            cm_buf_printf(&dc->out, "%s{\"start\":%zu,\"end\":%zu,\"label\":\"%s\",\"score\":%.3f}",
                          k ? "," : "", sp->start, sp->end, pol_pii_label_name(sp->label),
                          (double)sp->score);
        }
        cm_buf_puts(&dc->out, "]}\n");
        fwrite(dc->out.p, 1, dc->out.len, stdout);
    } else {
        /* a "spans" field already there (gold spans of an eval file) is
         * replaced; the object is re-serialised, reals with 15 digits */
        arr = json_array();
        for (size_t k = 0; k < dc->spans.n; k++) {
            const struct pol_pii_span *sp = &dc->spans.v[k];

            json_array_append_new(
                arr, json_pack("{s:I,s:I,s:s,s:f}", "start", (json_int_t)sp->start, "end",
                               (json_int_t)sp->end, "label", pol_pii_label_name(sp->label), "score",
                               (double)((int)(sp->score * 1000.0f + 0.5f)) / 1000.0));
        }
        json_object_set_new(root, "spans", arr);
        s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (s) {
            fputs(s, stdout);
            fputc('\n', stdout);
            free(s);
        }
    }
    json_decref(root);
    pol_pii_doc_fini(&doc);
}

struct stream_ctx {
    struct detect_ctx *dc;
    const char *name;
};

static void
stream_line(void *arg, size_t lineno, const char *line, size_t n)
{
    struct stream_ctx *sc = arg;

    detect_line(sc->dc, sc->name, lineno, line, n);
}

static int
detect_stream(struct detect_ctx *dc, FILE *f, const char *name)
{
    struct stream_ctx sc = {dc, name};

    if (pol_pii_each_line(f, stream_line, &sc) != CM_OK) {
        fprintf(stderr, "%s: read error\n", name);
        return -1;
    }
    return 0;
}

static int
cmd_detect(int argc, char **argv)
{
    struct detect_ctx dc = {0};
    struct pol_pii_model *model = NULL;
    const char *model_path = NULL, *files[MAX_FILES];
    bool no_model = false;
    int nfiles = 0, status = 0;
    const char *v;

    dc.labels = POL_PII_ALL;
    for (int i = 0; i < argc; i++) {
        if ((v = opt_val(argc, argv, &i, "--model")))
            model_path = v;
        else if ((v = opt_val(argc, argv, &i, "--labels"))) {
            if (parse_labels(v, &dc.labels) != 0)
                return 2;
        } else if (strcmp(argv[i], "--no-model") == 0)
            no_model = true;
        else if (strcmp(argv[i], "--plain") == 0)
            dc.plain = true;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return usage(stderr);
        else if (nfiles < MAX_FILES)
            files[nfiles++] = argv[i];
        else
            return usage(stderr);
    }
    if (!no_model && load_model(model_path, &model) != 0)
        return 1;
    dc.model = model;
    pol_pii_spans_init(&dc.spans);
    cm_buf_init(&dc.out);
    if (nfiles == 0) {
        if (detect_stream(&dc, stdin, "stdin") != 0)
            status = 1;
    }
    for (int k = 0; k < nfiles; k++) {
        FILE *f = strcmp(files[k], "-") == 0 ? stdin : fopen(files[k], "r");

        if (f == NULL) {
            fprintf(stderr, "steward-pii: %s: %s\n", files[k], strerror(errno));
            status = 1;
            continue;
        }
        if (detect_stream(&dc, f, files[k]) != 0)
            status = 1;
        if (f != stdin)
            fclose(f);
    }
    if (fflush(stdout) != 0)
        status = 1;
    if (dc.bad > 0) {
        fprintf(stderr, "steward-pii: %zu bad input line%s\n", dc.bad, dc.bad == 1 ? "" : "s");
        status = 1;
    }
    pol_pii_spans_fini(&dc.spans);
    cm_buf_fini(&dc.out);
    pol_pii_model_free(model);
    return status;
}

/* ----------------------------------------------------------------- train */

static int
load_corpora(struct pol_pii_corpus *c, const char *const *files, int n, size_t *bad)
{
    for (int k = 0; k < n; k++) {
        struct cm_err err = {{0}};

        if (pol_pii_corpus_load(c, files[k], stderr, bad, &err) != CM_OK) {
            fprintf(stderr, "steward-pii: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

static int
cmd_train(int argc, char **argv)
{
    struct pol_pii_train_opts o;
    const char *train[MAX_FILES], *dev[MAX_FILES], *out = NULL, *gaz = NULL, *base = NULL;
    int ntrain = 0, ndev = 0, status = 1;
    struct pol_pii_corpus tc, dc[MAX_FILES];
    struct pol_pii_model *model = NULL;
    struct pol_pii_gaz *gz = NULL;
    size_t bad = 0;
    struct cm_err err = {{0}};
    const char *v;

    pol_pii_train_opts_default(&o);
    for (int i = 0; i < argc; i++) {
        if ((v = opt_val(argc, argv, &i, "--train"))) {
            if (ntrain == MAX_FILES)
                return usage(stderr);
            train[ntrain++] = v;
        } else if ((v = opt_val(argc, argv, &i, "--dev"))) {
            if (ndev == MAX_FILES)
                return usage(stderr);
            dev[ndev++] = v;
        } else if ((v = opt_val(argc, argv, &i, "--out")))
            out = v;
        else if ((v = opt_val(argc, argv, &i, "--gaz")))
            gaz = v;
        else if ((v = opt_val(argc, argv, &i, "--base")))
            base = v;
        else if ((v = opt_val(argc, argv, &i, "--epochs")))
            o.epochs = (unsigned)strtoul(v, NULL, 10);
        else if ((v = opt_val(argc, argv, &i, "--seed")))
            o.seed = strtoull(v, NULL, 10);
        else if ((v = opt_val(argc, argv, &i, "--hash-bits")))
            o.hash_bits = (unsigned)strtoul(v, NULL, 10);
        else if ((v = opt_val(argc, argv, &i, "--drop")))
            o.drop = strtof(v, NULL);
        else if ((v = opt_val(argc, argv, &i, "--drop-word")))
            o.drop_word = strtof(v, NULL);
        else if ((v = opt_val(argc, argv, &i, "--drop-gaz")))
            o.drop_gaz = strtof(v, NULL);
        else
            return usage(stderr);
    }
    if (ntrain == 0 || out == NULL || (gaz && base))
        return usage(stderr);
    o.log = stderr;
    o.progress = isatty(STDERR_FILENO);
    pol_pii_corpus_init(&tc);
    for (int k = 0; k < MAX_FILES; k++)
        pol_pii_corpus_init(&dc[k]);
    if (gaz) {
        if (pol_pii_gaz_load_dir(gaz, &gz, &err) != CM_OK) {
            fprintf(stderr, "steward-pii: %s\n", err.msg);
            goto done;
        }
    } else {
        struct pol_pii_model *b;

        if (load_model(base, &b) != 0)
            goto done;
        gz = pol_pii_gaz_from_model(b);
        pol_pii_model_free(b);
    }
    if (load_corpora(&tc, train, ntrain, &bad) != 0)
        goto done;
    for (int k = 0; k < ndev; k++) {
        if (load_corpora(&dc[k], &dev[k], 1, &bad) != 0)
            goto done;
    }
    if (pol_pii_train(&tc, dc, dev, (size_t)ndev, gz, &o, &model, &err) != CM_OK ||
        pol_pii_model_save(model, out, &err) != CM_OK) {
        fprintf(stderr, "steward-pii: %s\n", err.msg);
        goto done;
    }
    {
        size_t len;

        (void)pol_pii_model_image(model, &len);
        fprintf(stderr, "steward-pii: wrote %s (%zu bytes, id %s)\n", out, len,
                pol_pii_model_id(model));
    }
    status = bad ? 1 : 0;
    if (bad)
        fprintf(stderr, "steward-pii: %zu bad input line%s skipped\n", bad, bad == 1 ? "" : "s");
done:
    pol_pii_model_free(model);
    pol_pii_gaz_free(gz);
    pol_pii_corpus_fini(&tc);
    for (int k = 0; k < MAX_FILES; k++)
        pol_pii_corpus_fini(&dc[k]);
    return status;
}

/* ------------------------------------------------------------------ eval */

static int
cmd_eval(int argc, char **argv)
{
    const char *data[MAX_FILES], *model_path = NULL;
    int ndata = 0, status = 0;
    bool no_model = false;
    unsigned labels = POL_PII_ALL;
    struct pol_pii_corpus c;
    struct pol_pii_model *model = NULL;
    struct pol_pii_eval ev = {0};
    size_t bad = 0;
    const char *v;

    for (int i = 0; i < argc; i++) {
        if ((v = opt_val(argc, argv, &i, "--data"))) {
            if (ndata == MAX_FILES)
                return usage(stderr);
            data[ndata++] = v;
        } else if ((v = opt_val(argc, argv, &i, "--model")))
            model_path = v;
        else if ((v = opt_val(argc, argv, &i, "--labels"))) {
            if (parse_labels(v, &labels) != 0)
                return 2;
        } else if (strcmp(argv[i], "--no-model") == 0)
            no_model = true;
        else
            return usage(stderr);
    }
    if (ndata == 0)
        return usage(stderr);
    if (!no_model && load_model(model_path, &model) != 0)
        return 1;
    pol_pii_corpus_init(&c);
    if (load_corpora(&c, data, ndata, &bad) != 0) {
        status = 1;
        goto done;
    }
    if (pol_pii_evaluate(model, &c, labels, &ev) != CM_OK) {
        fprintf(stderr, "steward-pii: detection failed\n");
        status = 1;
        goto done;
    }
    printf("%zu texts%s\n", c.n, model ? "" : " (recognizers only)");
    pol_pii_eval_print(&ev, labels, stdout);
    if (bad) {
        fprintf(stderr, "steward-pii: %zu bad input line%s skipped\n", bad, bad == 1 ? "" : "s");
        status = 1;
    }
done:
    pol_pii_corpus_fini(&c);
    pol_pii_model_free(model);
    return status;
}

/* ------------------------------------------------------------------ info */

static int
cmd_info(int argc, char **argv)
{
    const char *model_path = NULL, *v;
    struct pol_pii_model *model;
    struct timespec t0, t1;
    size_t len;
    unsigned labels;

    for (int i = 0; i < argc; i++) {
        if ((v = opt_val(argc, argv, &i, "--model")))
            model_path = v;
        else
            return usage(stderr);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (load_model(model_path, &model) != 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    (void)pol_pii_model_image(model, &len);
    labels = pol_pii_model_labels(model);
    printf("model %s\nid %s\nbytes %zu\nlabels", model_path ? model_path : default_model(),
           pol_pii_model_id(model), len);
    for (unsigned l = 0; l < POL_PII__COUNT; l++) {
        if (labels & POL_PII_MASK(l))
            printf(" %s", pol_pii_label_name(l));
    }
    printf("\nload_ms %.2f\n",
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    pol_pii_model_free(model);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "detect") == 0)
        return cmd_detect(argc - 2, argv + 2);
    if (strcmp(argv[1], "train") == 0)
        return cmd_train(argc - 2, argv + 2);
    if (strcmp(argv[1], "eval") == 0)
        return cmd_eval(argc - 2, argv + 2);
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(argc - 2, argv + 2);
    return usage(stderr);
}
