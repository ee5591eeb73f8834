/* SPDX-License-Identifier: Apache-2.0
 *
 * steward-policy: the policy author's tool (DESIGN.md section 4,
 * docs/policy.md).
 *
 *   steward-policy check FILE...          validate and compile each file:
 *                                          "FILE: ok id=ID hash=HEX mode=M"
 *                                          or "FILE:line:column: /ptr: what"
 *   steward-policy test FILE CASES... [-v] run table-driven policy tests
 *                                          (pol_cases.h); last line
 *                                          "N passed, N failed"
 *   steward-policy explain FILE --request R [--caller PRINCIPAL] [--tenant T]
 *          [--group G]... [--purpose P] [--route KIND] [--response]
 *                                          the decision for body R, the
 *                                          action per finding and which
 *                                          rules matched and why
 *   steward-policy fmt FILE [--canonical]  the policy as sorted, indented
 *                                          JSON (or the exact bytes hashed)
 *   steward-policy hash FILE               the content hash records carry
 *   steward-policy keys add KEYFILE --principal P [--tenant T] [--group G]...
 *          [--purpose P]... [--comment C] generate an API key, print it once,
 *                                          append its hash line (file 0600)
 *   steward-policy keys hash               read a key on stdin, print its
 *                                          stored form ("sha256:...")
 *
 * Exit status: 0 ok, 1 a policy, a test or a key file failed, 2 usage.
 * Output never contains a detected value except in explain's rewritten
 * body, which is what the model server would receive.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/cm_arena.h"
#include "common/cm_buf.h"
#include "common/cm_mem.h"
#include "common/cm_status.h"
#include "policy/pol_body.h"
#include "policy/pol_cases.h"
#include "policy/pol_doc.h"
#include "policy/pol_keys.h"
#include "policy/pol_policy.h"

#define MAX_LIST 32
#define REQUEST_MAX (64u << 20)

static int
usage(FILE *f)
{
    fprintf(f,
            "usage: steward-policy check FILE...\n"
            "       steward-policy test FILE CASES... [-v]\n"
            "       steward-policy explain FILE --request BODY [--caller PRINCIPAL] [--tenant T]\n"
            "                      [--group G]... [--purpose P] [--route KIND] [--response]\n"
            "       steward-policy fmt FILE [--canonical]\n"
            "       steward-policy hash FILE\n"
            "       steward-policy keys add KEYFILE --principal P [--tenant T] [--group G]...\n"
            "                      [--purpose P]... [--comment C]\n"
            "       steward-policy keys hash   (reads the key on stdin)\n");
    return 2;
}

static struct pol_set *
load(const char *path)
{
    struct pol_set *ps;
    struct cm_err err = {{0}};

    if (pol_set_load(path, &ps, &err) != CM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    return ps;
}

static int
cmd_check(int argc, char **argv)
{
    int status = 0;

    for (int i = 0; i < argc; i++) {
        struct pol_set *ps = load(argv[i]);

        if (ps == NULL) {
            status = 1;
            continue;
        }
        printf("%s: ok id=%s hash=%s mode=%s rules=%zu entity_types=%zu\n", argv[i], pol_set_id(ps),
               pol_set_hash(ps), pol_mode_name(pol_set_mode(ps)), pol_set_nrules(ps),
               pol_set_nlabels(ps));
        pol_set_unref(ps);
    }
    return status;
}

static int
cmd_hash(const char *path)
{
    struct pol_set *ps = load(path);

    if (ps == NULL)
        return 1;
    printf("%s\n", pol_set_hash(ps));
    pol_set_unref(ps);
    return 0;
}

static int
cmd_fmt(int argc, char **argv)
{
    bool canonical = argc == 2 && strcmp(argv[1], "--canonical") == 0;
    struct pol_set *ps;
    json_t *tree;
    char *out;

    if (argc < 1 || argc > 2 || (argc == 2 && !canonical))
        return usage(stderr);
    if ((ps = load(argv[0])) == NULL)
        return 1;
    if (canonical) {
        printf("%s\n", pol_set_canonical(ps));
        pol_set_unref(ps);
        return 0;
    }
    tree = json_loads(pol_set_canonical(ps), 0, NULL);
    out = tree ? json_dumps(tree, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    if (out == NULL) {
        fprintf(stderr, "%s: cannot format\n", argv[0]);
        json_decref(tree);
        pol_set_unref(ps);
        return 1;
    }
    printf("%s\n", out);
    free(out);
    json_decref(tree);
    pol_set_unref(ps);
    return 0;
}

static int
cmd_test(int argc, char **argv)
{
    struct pol_cases_result total = {0};
    bool verbose = false;
    struct pol_set *ps;
    int nfiles = 0, status = 0;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-v") == 0)
            verbose = true;
    if (argc < 2)
        return usage(stderr);
    if ((ps = load(argv[0])) == NULL)
        return 1;
    for (int i = 1; i < argc; i++) {
        struct pol_cases_result res;
        struct cm_err err = {{0}};

        if (strcmp(argv[i], "-v") == 0)
            continue;
        nfiles++;
        if (pol_cases_run(ps, argv[i], stdout, verbose, &res, &err) != CM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            status = 1;
            continue;
        }
        total.passed += res.passed;
        total.failed += res.failed;
    }
    pol_set_unref(ps);
    if (nfiles == 0)
        return usage(stderr);
    printf("%zu passed, %zu failed\n", total.passed, total.failed);
    return status != 0 || total.failed > 0 ? 1 : 0;
}

/* ------------------------------------------------------------ explain */

static char *
read_file(const char *path, size_t *len)
{
    struct cm_buf b;
    struct cm_err err = {{0}};

    cm_buf_init(&b);
    if (pol_doc_read(path, REQUEST_MAX, &b, &err) != CM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        cm_buf_fini(&b);
        return NULL;
    }
    cm_buf_putc(&b, '\0');
    *len = b.len - 1;
    return cm_buf_steal(&b, NULL);
}

static void
print_modalities(unsigned m)
{
    bool first = true;

    for (unsigned k = 0; k < POL_MOD__COUNT; k++) {
        if (m & (1u << k)) {
            printf("%s%s", first ? "" : ", ", pol_modality_name((enum pol_modality)(1u << k)));
            first = false;
        }
    }
    if (first)
        printf("none");
}

static int
cmd_explain(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"request", required_argument, NULL, 'r'}, {"caller", required_argument, NULL, 'c'},
        {"tenant", required_argument, NULL, 't'},  {"group", required_argument, NULL, 'g'},
        {"purpose", required_argument, NULL, 'p'}, {"route", required_argument, NULL, 'R'},
        {"response", no_argument, NULL, 'x'},      {NULL, 0, NULL, 0}};
    const char *req_path = NULL, *groups[MAX_LIST];
    struct pol_input in = {0};
    unsigned counts[POL_LABEL_MAX] = {0};
    enum pol_dir dir = POL_DIR_REQUEST;
    struct pol_body_limits lim = {.max_depth = 64};
    struct cm_arena *arena = NULL;
    struct pol_body *b = NULL;
    struct pol_decision d;
    const struct pol_body_finding *f;
    struct pol_set *ps;
    struct cm_err err = {{0}};
    char *body = NULL;
    size_t blen = 0, nf;
    int c, rc = 1;

    in.route = POL_ROUTE_CHAT;
    in.content_type = "application/json";
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': req_path = optarg; break;
        case 'c': in.caller.principal = optarg; break;
        case 't': in.caller.tenant = optarg; break;
        case 'g':
            if (in.caller.ngroups < MAX_LIST)
                groups[in.caller.ngroups++] = optarg;
            break;
        case 'p': in.purpose = optarg; break;
        case 'R':
            if (pol_route_parse(optarg) < 0) {
                fprintf(stderr,
                        "steward-policy: unknown route kind '%s' (chat, completion, "
                        "embedding, responses, messages, other)\n",
                        optarg);
                return 2;
            }
            in.route = (enum pol_route)pol_route_parse(optarg);
            break;
        case 'x': dir = POL_DIR_RESPONSE; break;
        default: return usage(stderr);
        }
    }
    in.caller.groups = groups;
    if (optind != argc - 1 || req_path == NULL)
        return usage(stderr);
    if ((ps = load(argv[optind])) == NULL)
        return 1;
    if ((body = read_file(req_path, &blen)) == NULL)
        goto out;
    arena = cm_arena_new(16384);
    if (pol_body_parse(arena, in.route, dir, body, blen, &lim, ps, &b, &err) != CM_OK) {
        fprintf(stderr, "%s: %s\n", req_path, err.msg);
        goto out;
    }
    pol_body_counts(b, counts);
    in.counts = counts;
    in.modalities = pol_body_modalities(b);
    in.model = pol_body_model(b);
    pol_set_eval(ps, dir, &in, &d);

    printf("policy     %s  hash %.16s...  mode %s\n", pol_set_id(ps), pol_set_hash(ps),
           pol_mode_name(pol_set_mode(ps)));
    printf("exchange   %s  route %s  model %s\n", dir == POL_DIR_REQUEST ? "request" : "response",
           pol_route_name(in.route), in.model ? in.model : "(none)");
    printf("caller     principal %s  tenant %s  groups ",
           in.caller.principal ? in.caller.principal : "(anonymous)",
           in.caller.tenant ? in.caller.tenant : "(none)");
    for (size_t k = 0; k < in.caller.ngroups; k++)
        printf("%s%s", k ? "," : "", groups[k]);
    printf("%s  purpose %s\n", in.caller.ngroups ? "" : "(none)",
           in.purpose ? in.purpose : "(none)");
    printf("modalities ");
    print_modalities(in.modalities);
    printf("\n\nfindings\n");
    nf = pol_body_findings(b, &f);
    if (nf == 0)
        printf("  (none)\n");
    for (size_t k = 0; k < nf; k++) {
        unsigned l = f[k].label;
        const char *by =
            d.action_rule[l] >= 0 ? pol_set_rule_id(ps, (size_t)d.action_rule[l]) : NULL;

        printf("  %-28s %-14s x%-3u -> %-12s (%s%s)\n", f[k].pointer[0] ? f[k].pointer : "/",
               pol_set_label_name(ps, l), f[k].count, pol_action_name(d.actions[l]),
               by ? "rule " : "entity default", by ? by : "");
    }
    printf("\nrules\n");
    if (pol_set_nrules(ps) == 0)
        printf("  (none)\n");
    for (size_t k = 0; k < pol_set_nrules(ps); k++) {
        struct cm_buf why;

        cm_buf_init(&why);
        pol_set_explain_rule(ps, k, dir, &in, &why);
        printf("  %zu. %s\n%s", k + 1, pol_set_rule_id(ps, k), why.p ? why.p : "");
        cm_buf_fini(&why);
    }
    printf("\ndecision\n");
    if (d.verdict == POL_VERDICT_DENY)
        printf("  deny, HTTP %d, by %s: %s\n", d.status, d.rule_id, d.reason ? d.reason : "");
    else if (pol_decision_rewrites(&d, counts))
        printf("  redact: forwarded with the findings rewritten as above\n");
    else
        printf("  allow: forwarded unchanged\n");
    if (pol_set_mode(ps) == POL_MODE_MONITOR)
        printf("  (monitor mode: recorded only; the original is forwarded unchanged)\n");
    printf("  matched:");
    if (d.nmatched == 0)
        printf(" (none: the entity defaults apply)");
    printf("\n");
    for (size_t k = 0; k < d.nmatched; k++)
        printf("    %s: %s\n", d.matched[k].rule_id, d.matched[k].reason);
    if (d.verdict != POL_VERDICT_DENY && pol_decision_rewrites(&d, counts)) {
        enum pol_pii_op ops[POL_LABEL_MAX];
        struct pol_pii_redact_opts ropts = {0};
        struct cm_buf out;
        size_t nrep;

        cm_buf_init(&out);
        pol_decision_ops(&d, ps, ops, &ropts);
        if (pol_body_rewrite(b, ops, &ropts, &out, &nrep) == CM_OK)
            printf("\n%s body as forwarded (enforce mode)\n  %s\n",
                   dir == POL_DIR_REQUEST ? "request" : "response", out.p ? out.p : "");
        cm_buf_fini(&out);
    }
    rc = 0;
out:
    free(body);
    cm_arena_free(arena);
    pol_set_unref(ps);
    return rc;
}

/* ------------------------------------------------------------ keys */

static int
cmd_keys_add(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"principal", required_argument, NULL, 'P'}, {"tenant", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},     {"purpose", required_argument, NULL, 'p'},
        {"comment", required_argument, NULL, 'C'},   {NULL, 0, NULL, 0}};
    const char *groups[MAX_LIST], *purposes[MAX_LIST], *comment = NULL, *path;
    struct pol_caller caller = {.groups = groups, .purposes = purposes};
    char key[POL_KEY_LEN], hash[POL_KEY_HASH_LEN];
    struct cm_buf line;
    struct stat st;
    int c, fd;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'P': caller.principal = optarg; break;
        case 't': caller.tenant = optarg; break;
        case 'g':
            if (caller.ngroups < MAX_LIST)
                groups[caller.ngroups++] = optarg;
            break;
        case 'p':
            if (caller.npurposes < MAX_LIST)
                purposes[caller.npurposes++] = optarg;
            break;
        case 'C': comment = optarg; break;
        default: return usage(stderr);
        }
    }
    if (optind != argc - 1 || caller.principal == NULL || caller.principal[0] == '\0')
        return usage(stderr);
    path = argv[optind];
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
        fprintf(stderr, "%s: refused: readable or writable by group or others (chmod 600)\n", path);
        close(fd);
        return 1;
    }
    if (pol_keys_generate(key) != CM_OK) {
        fprintf(stderr, "steward-policy: no randomness available\n");
        close(fd);
        return 1;
    }
    pol_keys_hash(key, strlen(key), hash);
    cm_buf_init(&line);
    pol_keys_line(hash, &caller, comment, &line);
    if (write(fd, line.p, line.len) != (ssize_t)line.len || fsync(fd) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        cm_buf_fini(&line);
        close(fd);
        return 1;
    }
    cm_buf_fini(&line);
    close(fd);
    /* The key itself is shown once, here, and stored nowhere. */
    printf("%s\n", key);
    fprintf(stderr, "steward-policy: added %s for %s to %s (send SIGHUP to steward to load it)\n",
            hash, caller.principal, path);
    return 0;
}

static int
cmd_keys_hash(void)
{
    char buf[4096], hash[POL_KEY_HASH_LEN];
    size_t n;

    if (fgets(buf, sizeof(buf), stdin) == NULL)
        return usage(stderr);
    n = strcspn(buf, "\r\n");
    if (n == 0)
        return usage(stderr);
    pol_keys_hash(buf, n, hash);
    printf("%s\n", hash);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "hash") == 0)
        return cmd_hash(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "fmt") == 0)
        return cmd_fmt(argc - 2, argv + 2);
    if (argc >= 4 && strcmp(argv[1], "test") == 0)
        return cmd_test(argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "explain") == 0)
        return cmd_explain(argc - 1, argv + 1);
    if (argc >= 3 && strcmp(argv[1], "keys") == 0 && strcmp(argv[2], "add") == 0)
        return cmd_keys_add(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "keys") == 0 && strcmp(argv[2], "hash") == 0)
        return cmd_keys_hash();
    return usage(stderr);
}
