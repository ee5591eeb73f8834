/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_cases: the policy test runner.  See pol_cases.h for the file format.
 *
 * The whole file is validated before any case runs (an unknown key or
 * entity type in a test is as bad as one in the policy: a test that checks
 * nothing passes for the wrong reason), then each case builds a struct
 * pol_input as the sidecar would (for a body: pol_body_parse with the
 * set's recognizers, then pol_body_counts / pol_body_modalities), calls
 * pol_set_eval, and compares.  Every difference of a case is reported, not
 * only the first.
 */
#include "policy/pol_cases.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cm_arena.h"
#include "common/cm_buf.h"
#include "common/cm_mem.h"
#include "policy/pol_body.h"
#include "policy/pol_doc.h"

#define CASES_FILE_MAX (16u << 20)
#define MAX_GROUPS 32

struct run {
    const struct pol_set *ps;
    const struct pol_doc *doc;
    struct cm_err *err;
    struct pol_seg path[8];
    int depth;
};

static int verr(struct run *r, const char *key, const char *fmt, ...) CM_PRINTF(3, 4);

/* An error at the current path, or at its member key when key != NULL. */
static int
verr(struct run *r, const char *key, const char *fmt, ...)
{
    va_list ap;
    char msg[320];
    int depth = r->depth;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key != NULL) {
        r->path[depth].key = key;
        depth++;
    }
    return pol_doc_err(r->doc, r->path, depth, key != NULL, r->err, "%s", msg);
}

static int
check_keys(struct run *r, json_t *obj, const char *const *allowed)
{
    return pol_doc_check_keys(r->doc, r->path, r->depth, obj, allowed, r->err);
}

static bool
is_strv(json_t *j)
{
    size_t i;
    json_t *e;

    if (!json_is_array(j))
        return false;
    json_array_foreach (j, i, e) {
        if (!json_is_string(e))
            return false;
    }
    return true;
}

/* An object of entity type -> something; checks the names. */
static int
check_label_map(struct run *r, json_t *obj, const char *key, bool want_int, bool want_action)
{
    const char *l;
    json_t *v;
    int rc = CM_OK;

    if (!json_is_object(obj))
        return verr(r, key, "expected an object of entity type: %s", want_int ? "count" : "action");
    r->path[r->depth++].key = key;
    json_object_foreach (obj, l, v) {
        if (pol_set_label_parse(r->ps, l) < 0)
            rc = verr(r, l, "unknown entity type \"%s\"", l);
        else if (want_int && (!json_is_integer(v) || json_integer_value(v) < 0))
            rc = verr(r, l, "expected a count (an integer >= 0)");
        else if (want_action && (!json_is_string(v) || pol_action_parse(json_string_value(v)) < 0))
            rc = verr(r, l,
                      "expected an action (allow, mask, redact, hash, pseudonymise, encrypt, "
                      "deny)");
        if (rc != CM_OK)
            break;
    }
    r->depth--;
    return rc;
}

static int
validate_case(struct run *r, json_t *c)
{
    static const char *const keys[] = {
        "name",         "description", "caller",   "purpose",    "route",  "direction", "model",
        "content_type", "body",        "findings", "modalities", "expect", NULL};
    static const char *const caller_keys[] = {"principal", "tenant", "groups", "purposes", NULL};
    static const char *const expect_keys[] = {"decision", "status",           "rule",
                                              "matched",  "matched_includes", "actions",
                                              "findings", "output_contains",  "output_excludes",
                                              NULL};
    json_t *j, *e;
    int rc;

    if (!json_is_object(c))
        return verr(r, NULL, "expected a case object");
    if ((rc = check_keys(r, c, keys)) != CM_OK)
        return rc;
    if (!json_is_string(json_object_get(c, "name")))
        return verr(r, NULL, "a case needs a \"name\" string");
    if ((j = json_object_get(c, "caller")) != NULL) {
        r->path[r->depth++].key = "caller";
        if (!json_is_object(j))
            rc = verr(r, NULL, "expected an object");
        else if ((rc = check_keys(r, j, caller_keys)) == CM_OK) {
            if (json_object_get(j, "principal") && !json_is_string(json_object_get(j, "principal")))
                rc = verr(r, "principal", "expected a string");
            else if (json_object_get(j, "tenant") && !json_is_string(json_object_get(j, "tenant")))
                rc = verr(r, "tenant", "expected a string");
            else if (json_object_get(j, "groups") && !is_strv(json_object_get(j, "groups")))
                rc = verr(r, "groups", "expected an array of strings");
            else if (json_object_get(j, "purposes") && !is_strv(json_object_get(j, "purposes")))
                rc = verr(r, "purposes", "expected an array of strings");
        }
        r->depth--;
        if (rc != CM_OK)
            return rc;
    }
    if ((j = json_object_get(c, "purpose")) && !json_is_string(j))
        return verr(r, "purpose", "expected a string");
    if ((j = json_object_get(c, "model")) && !json_is_string(j))
        return verr(r, "model", "expected a string");
    if ((j = json_object_get(c, "content_type")) && !json_is_string(j))
        return verr(r, "content_type", "expected a string");
    if ((j = json_object_get(c, "route")) &&
        (!json_is_string(j) || pol_route_parse(json_string_value(j)) < 0))
        return verr(r, "route",
                    "expected chat, completion, embedding, responses, messages or other");
    if ((j = json_object_get(c, "direction")) &&
        (!json_is_string(j) || (strcmp(json_string_value(j), "request") != 0 &&
                                strcmp(json_string_value(j), "response") != 0)))
        return verr(r, "direction", "expected request or response");
    if ((j = json_object_get(c, "body")) && !json_is_object(j) && !json_is_string(j))
        return verr(r, "body", "expected a JSON object (or the raw body as a string)");
    if ((j = json_object_get(c, "findings")) != NULL) {
        if (json_object_get(c, "body") != NULL)
            return verr(r, "findings",
                        "give a body (the classifier finds) or findings (counts), not both");
        if ((rc = check_label_map(r, j, "findings", true, false)) != CM_OK)
            return rc;
    }
    if ((j = json_object_get(c, "modalities")) != NULL) {
        size_t i;

        if (json_object_get(c, "body") != NULL)
            return verr(r, "modalities", "a body has its own modalities: give one or the other");
        if (!is_strv(j))
            return verr(r, "modalities", "expected an array of text, image, audio, file");
        json_array_foreach (j, i, e) {
            if (pol_modality_parse(json_string_value(e)) == 0)
                return verr(r, "modalities", "unknown modality \"%s\"", json_string_value(e));
        }
    }
    j = json_object_get(c, "expect");
    if (!json_is_object(j) || json_object_size(j) == 0)
        return verr(r, "expect", "a case needs an \"expect\" object with at least one key");
    r->path[r->depth++].key = "expect";
    if ((rc = check_keys(r, j, expect_keys)) != CM_OK)
        goto out;
    if ((e = json_object_get(j, "decision")) &&
        (!json_is_string(e) || (strcmp(json_string_value(e), "allow") != 0 &&
                                strcmp(json_string_value(e), "redact") != 0 &&
                                strcmp(json_string_value(e), "deny") != 0))) {
        rc = verr(r, "decision", "expected allow, redact or deny");
        goto out;
    }
    if ((e = json_object_get(j, "status")) && !json_is_integer(e)) {
        rc = verr(r, "status", "expected an integer");
        goto out;
    }
    if ((e = json_object_get(j, "rule")) && !json_is_string(e) && !json_is_null(e)) {
        rc = verr(r, "rule", "expected a rule id (or null: no deny)");
        goto out;
    }
    for (int k = 0; k < 4; k++) {
        static const char *const lists[] = {"matched", "matched_includes", "output_contains",
                                            "output_excludes"};

        if ((e = json_object_get(j, lists[k])) && !is_strv(e)) {
            rc = verr(r, lists[k], "expected an array of strings");
            goto out;
        }
    }
    if ((e = json_object_get(j, "actions")) &&
        (rc = check_label_map(r, e, "actions", false, true)) != CM_OK)
        goto out;
    if ((e = json_object_get(j, "findings")) &&
        (rc = check_label_map(r, e, "findings", true, false)) != CM_OK)
        goto out;
    if ((json_object_get(j, "findings") || json_object_get(j, "output_contains") ||
         json_object_get(j, "output_excludes")) &&
        json_object_get(c, "body") == NULL) {
        rc = verr(r, NULL, "findings and output checks need a \"body\" in the case");
        goto out;
    }
out:
    r->depth--;
    return rc;
}

/* ------------------------------------------------------------ running */

static void fail(struct cm_buf *why, const char *fmt, ...) CM_PRINTF(2, 3);

static void
fail(struct cm_buf *why, const char *fmt, ...)
{
    va_list ap;
    char msg[512];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cm_buf_printf(why, "%s%s", why->len ? "; " : "", msg);
}

static const char *const *
strv(json_t *j, size_t *n, const char **buf, size_t cap)
{
    size_t i;
    json_t *e;

    *n = 0;
    json_array_foreach (j, i, e) {
        if (*n < cap)
            buf[(*n)++] = json_string_value(e);
    }
    return buf;
}

static bool
matched_has(const struct pol_decision *d, const char *id)
{
    for (size_t k = 0; k < d->nmatched; k++)
        if (strcmp(d->matched[k].rule_id, id) == 0)
            return true;
    return false;
}

static void
matched_list(const struct pol_decision *d, struct cm_buf *b)
{
    cm_buf_putc(b, '[');
    for (size_t k = 0; k < d->nmatched; k++)
        cm_buf_printf(b, "%s%s", k ? ", " : "", d->matched[k].rule_id);
    cm_buf_putc(b, ']');
}

static void
run_case(struct run *r, json_t *c, struct cm_buf *why)
{
    const struct pol_set *ps = r->ps;
    json_t *ex = json_object_get(c, "expect"), *j, *caller = json_object_get(c, "caller");
    const char *groups[MAX_GROUPS], *purposes[MAX_GROUPS];
    unsigned counts[POL_LABEL_MAX] = {0};
    struct pol_input in = {0};
    struct pol_decision d;
    enum pol_dir dir = POL_DIR_REQUEST;
    struct cm_arena *arena = cm_arena_new(8192);
    struct pol_body *b = NULL;
    struct cm_buf rewritten;
    const char *decision, *key;
    char *body_text = NULL;

    cm_buf_init(&rewritten);
    if ((j = json_object_get(c, "direction")) && strcmp(json_string_value(j), "response") == 0)
        dir = POL_DIR_RESPONSE;
    in.route = POL_ROUTE_CHAT;
    if ((j = json_object_get(c, "route")))
        in.route = (enum pol_route)pol_route_parse(json_string_value(j));
    if (caller != NULL) {
        in.caller.principal = json_string_value(json_object_get(caller, "principal"));
        in.caller.tenant = json_string_value(json_object_get(caller, "tenant"));
        if ((j = json_object_get(caller, "groups")))
            in.caller.groups = strv(j, &in.caller.ngroups, groups, MAX_GROUPS);
        if ((j = json_object_get(caller, "purposes")))
            in.caller.purposes = strv(j, &in.caller.npurposes, purposes, MAX_GROUPS);
    }
    in.purpose = json_string_value(json_object_get(c, "purpose"));
    if (in.purpose == NULL && in.caller.npurposes > 0)
        in.purpose = in.caller.purposes[0];
    in.content_type = json_string_value(json_object_get(c, "content_type"));
    if (in.content_type == NULL)
        in.content_type = "application/json";
    in.counts = counts;

    if ((j = json_object_get(c, "body")) != NULL) {
        struct pol_body_limits lim = {.max_depth = 64};
        struct cm_err berr;
        int rc;

        body_text = json_is_string(j) ? cm_strdup(json_string_value(j))
                                      : json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        rc =
            pol_body_parse(arena, in.route, dir, body_text, strlen(body_text), &lim, ps, &b, &berr);
        if (rc != CM_OK) {
            fail(why, "the body was refused: %s", berr.msg);
            goto out;
        }
        pol_body_counts(b, counts);
        in.modalities = pol_body_modalities(b);
        in.model = pol_body_model(b);
    } else {
        const char *l;
        size_t i;
        json_t *e;

        json_object_foreach (json_object_get(c, "findings"), l, e) {
            counts[pol_set_label_parse(ps, l)] = (unsigned)json_integer_value(e);
        }
        json_array_foreach (json_object_get(c, "modalities"), i, e) {
            in.modalities |= pol_modality_parse(json_string_value(e));
        }
        if (json_object_get(c, "modalities") == NULL)
            in.modalities = POL_MOD_TEXT;
    }
    if ((j = json_object_get(c, "model")))
        in.model = json_string_value(j);

    pol_set_eval(ps, dir, &in, &d);
    decision = d.verdict == POL_VERDICT_DENY       ? "deny"
               : pol_decision_rewrites(&d, counts) ? "redact"
                                                   : "allow";

    if ((j = json_object_get(ex, "decision")) && strcmp(json_string_value(j), decision) != 0)
        fail(why, "decision: expected %s, got %s%s%s", json_string_value(j), decision,
             d.rule_id ? " by rule " : "", d.rule_id ? d.rule_id : "");
    if ((j = json_object_get(ex, "status"))) {
        int status = d.verdict == POL_VERDICT_DENY ? d.status : 200;

        if (status != (int)json_integer_value(j))
            fail(why, "status: expected %lld, got %d", (long long)json_integer_value(j), status);
    }
    if ((j = json_object_get(ex, "rule"))) {
        const char *want = json_string_value(j);

        if (want == NULL ? d.rule_id != NULL : d.rule_id == NULL || strcmp(want, d.rule_id) != 0)
            fail(why, "rule: expected %s, got %s", want ? want : "none",
                 d.rule_id ? d.rule_id : "none");
    }
    for (int m = 0; m < 2; m++) {
        bool exact = m == 0, ok = true;
        size_t i;
        json_t *e;

        if ((j = json_object_get(ex, exact ? "matched" : "matched_includes")) == NULL)
            continue;

        json_array_foreach (j, i, e) {
            ok = ok && matched_has(&d, json_string_value(e));
        }
        if (exact && json_array_size(j) != d.nmatched)
            ok = false;
        if (!ok) {
            struct cm_buf l, w;

            cm_buf_init(&l);
            cm_buf_init(&w);
            matched_list(&d, &l);
            cm_buf_putc(&w, '[');
            json_array_foreach (j, i, e) {
                cm_buf_printf(&w, "%s%s", i ? ", " : "", json_string_value(e));
            }
            cm_buf_putc(&w, ']');
            fail(why, "matched: expected %s %s, got %s", exact ? "exactly" : "at least", w.p, l.p);
            cm_buf_fini(&l);
            cm_buf_fini(&w);
        }
    }
    json_object_foreach (json_object_get(ex, "actions"), key, j) {
        int l = pol_set_label_parse(ps, key);

        if (strcmp(pol_action_name(d.actions[l]), json_string_value(j)) != 0)
            fail(why, "action of %s: expected %s, got %s", key, json_string_value(j),
                 pol_action_name(d.actions[l]));
    }
    json_object_foreach (json_object_get(ex, "findings"), key, j) {
        int l = pol_set_label_parse(ps, key);

        if (counts[l] != (unsigned)json_integer_value(j))
            fail(why, "findings of %s: expected %lld, got %u", key,
                 (long long)json_integer_value(j), counts[l]);
    }
    if (b != NULL &&
        (json_object_get(ex, "output_contains") || json_object_get(ex, "output_excludes"))) {
        enum pol_pii_op ops[POL_LABEL_MAX];
        struct pol_pii_redact_opts ropts = {0};
        size_t nrep, i;
        json_t *e;

        pol_decision_ops(&d, ps, ops, &ropts);
        if (pol_body_rewrite(b, ops, &ropts, &rewritten, &nrep) != CM_OK) {
            fail(why, "the body could not be rewritten");
            goto out;
        }
        json_array_foreach (json_object_get(ex, "output_contains"), i, e) {
            if (strstr(rewritten.p ? rewritten.p : "", json_string_value(e)) == NULL)
                fail(why, "output_contains: \"%s\" is not in the rewritten body",
                     json_string_value(e));
        }
        json_array_foreach (json_object_get(ex, "output_excludes"), i, e) {
            if (strstr(rewritten.p ? rewritten.p : "", json_string_value(e)) != NULL)
                fail(why, "output_excludes: \"%s\" is still in the rewritten body",
                     json_string_value(e));
        }
    }
out:
    free(body_text);
    cm_buf_fini(&rewritten);
    cm_arena_free(arena);
}

int
pol_cases_run(const struct pol_set *ps, const char *path, FILE *out, bool verbose,
              struct pol_cases_result *res, struct cm_err *err)
{
    struct pol_doc *doc;
    struct run r = {.ps = ps, .err = err};
    json_t *root, *cases;
    int rc;

    res->passed = res->failed = 0;
    if ((rc = pol_doc_load(path, CASES_FILE_MAX, &doc, err)) != CM_OK)
        return rc;
    r.doc = doc;
    root = pol_doc_root(doc);
    if (!json_is_object(root)) {
        rc = verr(&r, NULL, "a cases file is an object with a \"cases\" array");
        goto out;
    }
    {
        static const char *const keys[] = {"description", "cases", NULL};

        if ((rc = check_keys(&r, root, keys)) != CM_OK)
            goto out;
    }
    cases = json_object_get(root, "cases");
    if (!json_is_array(cases) || json_array_size(cases) == 0) {
        rc = verr(&r, json_object_get(root, "cases") ? "cases" : NULL,
                  "expected a non-empty \"cases\" array");
        goto out;
    }
    r.path[r.depth++].key = "cases";
    for (size_t k = 0; k < json_array_size(cases); k++) {
        r.path[r.depth].key = NULL;
        r.path[r.depth].idx = k;
        r.depth++;
        rc = validate_case(&r, json_array_get(cases, k));
        r.depth--;
        if (rc != CM_OK)
            goto out;
    }
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        const char *name = json_string_value(json_object_get(c, "name"));
        struct cm_buf why;

        cm_buf_init(&why);
        run_case(&r, c, &why);
        if (why.len > 0) {
            res->failed++;
            fprintf(out, "FAIL %s: %s\n", name, why.p);
        } else {
            res->passed++;
            if (verbose)
                fprintf(out, "ok   %s\n", name);
        }
        cm_buf_fini(&why);
    }
    rc = CM_OK;
out:
    pol_doc_free(doc);
    return rc;
}
