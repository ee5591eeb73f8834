/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_policy: the policy set.  A policy file (JSON; YAML later) is loaded,
 * validated and compiled once into an immutable, refcounted struct pol_set
 * that any number of threads evaluate concurrently.  Reload builds a new set
 * and swaps the pointer; requests in flight keep the set they started with.
 *
 * File shape (docs/policy.md is the reference):
 *
 *   { "id": "steward-default", "description": "...", "mode": "enforce",
 *     "mask_keep": 4,
 *     "request":  { "EMAIL": "redact", "PHONE": "mask", "US_SSN": "deny" },
 *     "response": { "EMAIL": "redact" },
 *     "rules": [ { "id": "no-cards-to-external",
 *                  "match": { "model": "external-*", "findings": ["CREDIT_CARD"] },
 *                  "decision": "deny", "status": 403,
 *                  "reason": "card numbers may not reach external models" } ] }
 *
 * Semantics: a label absent from "request"/"response" is allowed; an entity
 * action "deny" denies the exchange when that label is found (the deciding
 * rule id is "request.US_SSN"); rules are checked in order and every rule
 * that matches is listed; an explicit deny overrides everything.  Unknown
 * keys, labels, actions or modes are load errors, never silent no-ops.
 *
 * The content hash is SHA-256 over the canonical form (sorted keys, compact)
 * and is stamped on every lineage record.
 */
#ifndef POL_POLICY_H
#define POL_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cm_status.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_scan.h"

struct pol_set;

enum pol_mode {
    POL_MODE_ENFORCE,
    POL_MODE_MONITOR,
};

enum pol_dir {
    POL_DIR_REQUEST,
    POL_DIR_RESPONSE,
};

/* Ordered from least to most protective: when several apply to one label,
 * the highest wins. */
enum pol_action {
    POL_ACT_ALLOW,
    POL_ACT_MASK,
    POL_ACT_REDACT,
    POL_ACT_HASH,
    POL_ACT_DENY,
};

enum pol_verdict {
    POL_VERDICT_ALLOW,
    POL_VERDICT_DENY,
};

/* What evaluation sees of one exchange.  All pointers borrowed; any may be
 * NULL except counts. */
struct pol_input {
    const char *principal;
    const char *tenant;
    const char *model;
    const char *route; /* "chat", "completion", "embedding", "other" */
    const char *purpose;
    const unsigned *counts; /* [POL_PII__COUNT] findings in this direction */
};

#define POL_MAX_MATCHED 16

/* Filled by pol_set_eval(); the strings are borrowed from the set, valid
 * while the caller holds a reference to it.  Embedded by value. */
struct pol_decision {
    enum pol_verdict verdict;
    int status;          /* HTTP status for a deny (403 unless the rule says) */
    const char *rule_id; /* the deciding rule of a deny, else NULL */
    const char *reason;  /* its reason, else NULL */
    enum pol_action actions[POL_PII__COUNT];
    const char *matched[POL_MAX_MATCHED]; /* ids of every rule that matched */
    size_t nmatched;
};

const char *pol_action_name(enum pol_action a);
const char *pol_mode_name(enum pol_mode m);

/* Loads and compiles a policy file.  On success *out is an owned reference
 * (release with pol_set_unref).  Errors: CM_EIO (unreadable), CM_EINPUT
 * ("file:line:column: what is wrong" in err). */
int pol_set_load(const char *path, struct pol_set **out, struct cm_err *err) CM_MUSTCHECK;
/* Same from memory; `name` is used in error messages. */
int pol_set_parse(const char *name, const char *json, size_t len, struct pol_set **out,
                  struct cm_err *err) CM_MUSTCHECK;
/* Reference counting is atomic: any thread. */
struct pol_set *pol_set_ref(struct pol_set *ps);
void pol_set_unref(struct pol_set *ps); /* NULL-safe */

const char *pol_set_id(const struct pol_set *ps);
/* 64 lower-case hex digits. */
const char *pol_set_hash(const struct pol_set *ps);
enum pol_mode pol_set_mode(const struct pol_set *ps);
const struct pol_pii_redact_opts *pol_set_redact_opts(const struct pol_set *ps);

/* Decides one direction of one exchange.  Allocates nothing; any thread. */
void pol_set_eval(const struct pol_set *ps, enum pol_dir dir, const struct pol_input *in,
                  struct pol_decision *out);
/* The redaction operator for each label under decision d. */
void pol_decision_ops(const struct pol_decision *d, enum pol_pii_op ops[POL_PII__COUNT]);

#endif /* POL_POLICY_H */
