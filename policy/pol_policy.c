/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_policy: the life of a policy set (load, hash, reference counting, the
 * slot that swaps it on reload) and its evaluation.  pol_policy.h states
 * the semantics; pol_compile.c builds the set; pol_explain.c holds the
 * condition tests that evaluation and `steward-policy explain` share.
 *
 * Evaluation, for one direction:
 *   1. the direction's entity actions (and mask lengths) are the start;
 *   2. request only: purpose binding (caller.purpose, purpose.required,
 *      purpose.unknown), each a deny;
 *   3. rules in file order: a rule matches when its "match" holds and its
 *      "except" does not; it is listed with its reason, its entity actions
 *      raise the current ones (never lower: the most protective wins; for
 *      two masks the shorter visible tail wins), and the first deny decides
 *      the status and reason (later denies are still listed);
 *   4. entity denies: a label found whose action is deny denies, listed as
 *      "request.LABEL" / "response.LABEL".
 * It reads only the set and the input and writes only *out: no allocation,
 * no lock, no shared write, so any thread evaluates concurrently (the unit
 * tests count allocations around it).  The reference count is a C11 atomic.
 */
#include "policy/pol_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "common/cm_mem.h"
#include "policy/pol_doc.h"
#include "policy/pol_internal.h"

#define POL_FILE_MAX (4u << 20)

static const char *const action_names[POL_ACT__COUNT] = {
    [POL_ACT_ALLOW] = "allow",
    [POL_ACT_MASK] = "mask",
    [POL_ACT_REDACT] = "redact",
    [POL_ACT_HASH] = "hash",
    [POL_ACT_PSEUDONYMISE] = "pseudonymise",
    [POL_ACT_ENCRYPT] = "encrypt",
    [POL_ACT_DENY] = "deny",
};

static const char *const route_names[POL_ROUTE__COUNT] = {
    [POL_ROUTE_CHAT] = "chat",           [POL_ROUTE_COMPLETION] = "completion",
    [POL_ROUTE_EMBEDDING] = "embedding", [POL_ROUTE_RESPONSES] = "responses",
    [POL_ROUTE_MESSAGES] = "messages",   [POL_ROUTE_OTHER] = "other",
};

static const char *const modality_names[POL_MOD__COUNT] = {"text", "image", "audio", "file"};

/* Pseudo-rules of purpose binding (ids with a dot never clash with a
 * rule's: pol_compile refuses dots in rule ids). */
static const char ID_CALLER_PURPOSE[] = "caller.purpose";
static const char WHY_CALLER_PURPOSE[] =
    "the declared purpose is not among the purposes allowed for this caller";
static const char ID_PURPOSE_REQUIRED[] = "purpose.required";
static const char WHY_PURPOSE_REQUIRED[] =
    "the policy requires a purpose of processing (X-Steward-Purpose or the API key's)";
static const char ID_PURPOSE_UNKNOWN[] = "purpose.unknown";
static const char WHY_PURPOSE_UNKNOWN[] = "the declared purpose is not one the policy allows";

const char *
pol_action_name(enum pol_action a)
{
    if ((unsigned)a >= POL_ACT__COUNT)
        return "unknown";
    return action_names[a];
}

int
pol_action_parse(const char *s)
{
    for (int a = 0; a < POL_ACT__COUNT; a++)
        if (strcmp(action_names[a], s) == 0)
            return a;
    return -1;
}

const char *
pol_mode_name(enum pol_mode m)
{
    return m == POL_MODE_MONITOR ? "monitor" : "enforce";
}

const char *
pol_route_name(enum pol_route r)
{
    if ((unsigned)r >= POL_ROUTE__COUNT)
        return "other";
    return route_names[r];
}

int
pol_route_parse(const char *s)
{
    for (int r = 0; r < POL_ROUTE__COUNT; r++)
        if (strcmp(route_names[r], s) == 0)
            return r;
    return -1;
}

const char *
pol_modality_name(enum pol_modality m)
{
    for (int k = 0; k < POL_MOD__COUNT; k++)
        if ((unsigned)m == 1u << k)
            return modality_names[k];
    return "unknown";
}

unsigned
pol_modality_parse(const char *s)
{
    for (int k = 0; k < POL_MOD__COUNT; k++)
        if (strcmp(modality_names[k], s) == 0)
            return 1u << k;
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

struct pol_set *
pol_set_ref(struct pol_set *ps)
{
    atomic_fetch_add_explicit(&ps->refs, 1, memory_order_relaxed);
    return ps;
}

void
pol_set_unref(struct pol_set *ps)
{
    if (ps == NULL)
        return;
    if (atomic_fetch_sub_explicit(&ps->refs, 1, memory_order_acq_rel) == 1) {
        pol_set_free_parts(ps);
        free(ps);
    }
}

const char *
pol_set_id(const struct pol_set *ps)
{
    return ps->id;
}

const char *
pol_set_hash(const struct pol_set *ps)
{
    return ps->hash;
}

const char *
pol_set_canonical(const struct pol_set *ps)
{
    return ps->canonical;
}

enum pol_mode
pol_set_mode(const struct pol_set *ps)
{
    return ps->mode;
}

size_t
pol_set_nlabels(const struct pol_set *ps)
{
    return ps->nlabels;
}

const char *
pol_set_label_name(const struct pol_set *ps, unsigned l)
{
    if (l >= ps->nlabels)
        return "UNKNOWN";
    return ps->label_names[l];
}

int
pol_set_label_parse(const struct pol_set *ps, const char *name)
{
    for (unsigned l = 0; l < ps->nlabels; l++)
        if (strcmp(ps->label_names[l], name) == 0)
            return (int)l;
    return -1;
}

const char *const *
pol_set_label_names(const struct pol_set *ps)
{
    return ps->label_names;
}

size_t
pol_set_nrules(const struct pol_set *ps)
{
    return ps->nrules;
}

const char *
pol_set_rule_id(const struct pol_set *ps, size_t idx)
{
    return idx < ps->nrules ? ps->rules[idx].id : NULL;
}

bool
pol_set_scans(const struct pol_set *ps, enum pol_dir dir)
{
    return ps->scans[dir == POL_DIR_RESPONSE];
}

const char *const *
pol_set_generic(const struct pol_set *ps, enum pol_dir dir, size_t *n)
{
    const struct pol_strs *g = &ps->generic[dir == POL_DIR_RESPONSE];

    *n = g->n;
    return g->n > 0 ? (const char *const *)g->v : NULL;
}

const char *const *
pol_set_generic_whole(const struct pol_set *ps, size_t *n)
{
    *n = ps->generic_whole.n;
    return ps->generic_whole.n > 0 ? (const char *const *)ps->generic_whole.v : NULL;
}

/* ------------------------------------------------------------ loading */

/* Compiles doc (taken: freed here) into *out. */
static int
build(struct pol_doc *doc, struct pol_set **out, struct cm_err *err)
{
    struct pol_set *ps = cm_calloc(1, sizeof(*ps));
    uint8_t digest[CM_SHA256_LEN];
    int rc;

    atomic_init(&ps->refs, 1);
    if ((rc = pol_compile(doc, ps, err)) != CM_OK)
        goto fail;
    /* The canonical form: the same tree from JSON or YAML, keys sorted. */
    ps->canonical = json_dumps(pol_doc_root(doc), JSON_SORT_KEYS | JSON_COMPACT);
    if (ps->canonical == NULL) {
        rc = cm_err_set(err, CM_EINTERNAL, "%s: cannot serialise the policy", pol_doc_name(doc));
        goto fail;
    }
    cm_sha256(ps->canonical, strlen(ps->canonical), digest);
    cm_hex(digest, sizeof(digest), ps->hash);
    pol_doc_free(doc);
    *out = ps;
    return CM_OK;

fail:
    pol_doc_free(doc);
    pol_set_unref(ps);
    return rc;
}

int
pol_set_parse(const char *name, const char *text, size_t len, struct pol_set **out,
              struct cm_err *err)
{
    struct pol_doc *doc;
    int rc;

    *out = NULL;
    if (len > POL_FILE_MAX)
        return cm_err_set(err, CM_EINPUT, "%s: larger than %u bytes", name, POL_FILE_MAX);
    if ((rc = pol_doc_parse(name, text, len, POL_DOC_AUTO, &doc, err)) != CM_OK)
        return rc;
    return build(doc, out, err);
}

int
pol_set_load(const char *path, struct pol_set **out, struct cm_err *err)
{
    struct pol_doc *doc;
    int rc;

    *out = NULL;
    if ((rc = pol_doc_load(path, POL_FILE_MAX, &doc, err)) != CM_OK)
        return rc;
    return build(doc, out, err);
}

/* ------------------------------------------------------------ evaluation */

static void
add_match(struct pol_decision *out, const char *id, const char *reason)
{
    if (out->nmatched == POL_MAX_MATCHED) {
        out->matched_truncated = true;
        return;
    }
    out->matched[out->nmatched].rule_id = id;
    out->matched[out->nmatched].reason = reason;
    out->nmatched++;
}

static void
deny(struct pol_decision *out, const char *id, const char *reason, int status)
{
    add_match(out, id, reason);
    if (out->verdict == POL_VERDICT_DENY)
        return;
    out->verdict = POL_VERDICT_DENY;
    out->status = status;
    out->rule_id = id;
    out->reason = reason;
}

static bool
list_has(const char *const *v, size_t n, const char *s)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(v[k], s) == 0)
            return true;
    return false;
}

void
pol_set_eval(const struct pol_set *ps, enum pol_dir dir, const struct pol_input *in,
             struct pol_decision *out)
{
    int d = dir == POL_DIR_RESPONSE ? 1 : 0;
    uint64_t present = pol_present(ps, in);

    out->policy_id = ps->id;
    out->policy_hash = ps->hash;
    out->mode = ps->mode;
    out->verdict = POL_VERDICT_ALLOW;
    out->status = 0;
    out->rule_id = NULL;
    out->reason = NULL;
    out->nmatched = 0;
    out->matched_truncated = false;
    out->nlabels = ps->nlabels;
    memcpy(out->actions, ps->actions[d], ps->nlabels * sizeof(out->actions[0]));
    memcpy(out->mask_keep, ps->eff_keep[d], ps->nlabels);
    memset(out->action_rule, 0xFF, ps->nlabels * sizeof(out->action_rule[0])); /* -1 */

    if (dir == POL_DIR_REQUEST) {
        const char *p = in->purpose != NULL && in->purpose[0] != '\0' ? in->purpose : NULL;

        if (p != NULL && in->caller.npurposes > 0 &&
            !list_has(in->caller.purposes, in->caller.npurposes, p))
            deny(out, ID_CALLER_PURPOSE, WHY_CALLER_PURPOSE, 403);
        if (p == NULL && ps->purpose_required)
            deny(out, ID_PURPOSE_REQUIRED, WHY_PURPOSE_REQUIRED, 403);
        else if (p != NULL && ps->purposes.n > 0 &&
                 !list_has((const char *const *)ps->purposes.v, ps->purposes.n, p))
            deny(out, ID_PURPOSE_UNKNOWN, WHY_PURPOSE_UNKNOWN, 403);
    }

    for (size_t k = 0; k < ps->nrules; k++) {
        const struct pol_rule *r = &ps->rules[k];

        if (!pol_cond_eval(ps, &r->match, dir, in, present, NULL, NULL))
            continue;
        if (r->except.present && pol_cond_eval(ps, &r->except, dir, in, present, NULL, NULL))
            continue;
        for (size_t o = 0; o < r->noverrides; o++) {
            const struct pol_override *ov = &r->overrides[o];
            unsigned l = ov->label;
            uint8_t keep = ov->keep != POL_KEEP_DEFAULT ? ov->keep : ps->eff_keep[d][l];

            if (ov->action > out->actions[l] ||
                (ov->action == POL_ACT_MASK && out->actions[l] == POL_ACT_MASK &&
                 keep < out->mask_keep[l])) {
                out->actions[l] = ov->action;
                out->mask_keep[l] = keep;
                out->action_rule[l] = (int16_t)k;
            }
        }
        if (r->deny)
            deny(out, r->id, r->why, r->status);
        else
            add_match(out, r->id, r->why);
    }

    for (uint64_t p = present; p != 0; p &= p - 1) {
        unsigned l = (unsigned)__builtin_ctzll(p);

        if (out->actions[l] == POL_ACT_DENY)
            deny(out, ps->deny_id[d][l], ps->deny_reason[d][l], 403);
    }
}

bool
pol_decision_rewrites(const struct pol_decision *d, const unsigned *counts)
{
    for (size_t l = 0; l < d->nlabels; l++)
        if (counts[l] > 0 && d->actions[l] != POL_ACT_ALLOW)
            return true;
    return false;
}

void
pol_decision_ops(const struct pol_decision *d, const struct pol_set *ps,
                 enum pol_pii_op ops[POL_LABEL_MAX], struct pol_pii_redact_opts *opts)
{
    for (size_t l = 0; l < POL_LABEL_MAX; l++) {
        if (l >= d->nlabels) {
            ops[l] = POL_PII_KEEP;
            continue;
        }
        switch (d->actions[l]) {
        case POL_ACT_ALLOW: ops[l] = POL_PII_KEEP; break;
        case POL_ACT_MASK: ops[l] = POL_PII_OP_MASK; break;
        case POL_ACT_HASH: ops[l] = POL_PII_OP_HASH; break;
        case POL_ACT_PSEUDONYMISE: ops[l] = POL_PII_OP_PSEUDONYMISE; break;
        case POL_ACT_ENCRYPT: ops[l] = POL_PII_OP_ENCRYPT; break;
        case POL_ACT_REDACT:
        case POL_ACT_DENY: /* a denied label that is still written is redacted */
        default: ops[l] = POL_PII_OP_REDACT; break;
        }
    }
    opts->mask_keep = ps->mask_keep;
    opts->mask_keep_by_label = d->mask_keep;
    opts->label_names = ps->label_names;
}

/* ------------------------------------------------------------ slot */

void
pol_slot_init(struct pol_slot *slot, struct pol_set *ps)
{
    pthread_mutex_init(&slot->mu, NULL);
    slot->ps = ps != NULL ? pol_set_ref(ps) : NULL;
}

void
pol_slot_fini(struct pol_slot *slot)
{
    pol_set_unref(slot->ps);
    slot->ps = NULL;
    pthread_mutex_destroy(&slot->mu);
}

struct pol_set *
pol_slot_get(struct pol_slot *slot)
{
    struct pol_set *ps;

    pthread_mutex_lock(&slot->mu);
    ps = slot->ps != NULL ? pol_set_ref(slot->ps) : NULL;
    pthread_mutex_unlock(&slot->mu);
    return ps;
}

void
pol_slot_set(struct pol_slot *slot, struct pol_set *ps)
{
    struct pol_set *old;

    if (ps != NULL)
        pol_set_ref(ps);
    pthread_mutex_lock(&slot->mu);
    old = slot->ps;
    slot->ps = ps;
    pthread_mutex_unlock(&slot->mu);
    /* The last reference may be dropped here or by the last request that
     * holds it: freeing happens outside the lock either way. */
    pol_set_unref(old);
}
