/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_policy: the policy set.  A policy file (JSON, or YAML loaded into the
 * same tree: pol_doc.h) is loaded, validated and compiled once into an
 * immutable, refcounted struct pol_set that any number of threads evaluate
 * concurrently.  Reload builds a new set and swaps it in a struct pol_slot;
 * requests in flight keep the set they started with.
 *
 * docs/policy.md is the reference of the file format and the one statement
 * of the semantics; in brief:
 *   - entity actions per direction ("request", "response"): allow, mask,
 *     redact, hash, pseudonymise, encrypt, deny, with per-entity options
 *     (mask "keep", detection "min_score");
 *   - rules match caller (principal, groups, tenant), model (glob), route
 *     kind, purpose, modality, content type, direction and findings (labels,
 *     counts), minus an optional "except" block, and decide allow or deny
 *     (status, reason) and/or override entity actions;
 *   - explicit deny overrides; among entity actions the most protective wins
 *     (deny > encrypt > pseudonymise > hash > redact > mask > allow); a
 *     request no rule matches gets the defaults; every rule that matched is
 *     listed with its reason;
 *   - allow lists, deny lists and custom recognizers (pol_set_scan) refine
 *     what the classifier found; custom recognizers add entity types beyond
 *     the fixed twelve (label ids POL_PII__COUNT .. POL_LABEL_MAX-1, names
 *     owned by the set);
 *   - mode enforce, or monitor (decide and record, change nothing: the
 *     caller applies nothing, the decision is the same).
 * An unknown key, entity type, action, route, modality, purpose or a bad
 * pattern is a load error with "file:line:column: /pointer: what", never a
 * silent no-op.
 *
 * The content hash is SHA-256 over the canonical form (the JSON tree with
 * sorted keys, compact), the same for a JSON and a YAML spelling of one
 * policy, and is stamped on every lineage record.
 *
 * Thread context: loading is any thread (it allocates); a loaded set is
 * read-only and pol_set_eval() allocates nothing, so any thread may evaluate
 * a set it holds a reference to.  Read next: pol_internal.h (the compiled
 * form), pol_compile.c (validation), pol_scan.c (recognizers and lists).
 */
#ifndef POL_POLICY_H
#define POL_POLICY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Route kinds, as policy rules name them ("chat", "completion", ...). */
enum pol_route {
    POL_ROUTE_CHAT,       /* /v1/chat/completions */
    POL_ROUTE_COMPLETION, /* /v1/completions */
    POL_ROUTE_EMBEDDING,  /* /v1/embeddings */
    POL_ROUTE_RESPONSES,  /* /v1/responses (OpenAI Responses API) */
    POL_ROUTE_MESSAGES,   /* /v1/messages (Anthropic Messages API) */
    POL_ROUTE_OTHER,
    POL_ROUTE__COUNT
};

/* Modalities present in a body, a bit set. */
enum pol_modality {
    POL_MOD_TEXT = 1u << 0,
    POL_MOD_IMAGE = 1u << 1,
    POL_MOD_AUDIO = 1u << 2,
    POL_MOD_FILE = 1u << 3,
};
#define POL_MOD__COUNT 4

/* Ordered from least to most protective: when several apply to one label,
 * the highest wins.  Adding one: keep the order, update action_names in
 * pol_policy.c, pol_decision_ops() and docs/policy.md. */
enum pol_action {
    POL_ACT_ALLOW,
    POL_ACT_MASK,
    POL_ACT_REDACT,
    POL_ACT_HASH,
    POL_ACT_PSEUDONYMISE,
    POL_ACT_ENCRYPT,
    POL_ACT_DENY,
    POL_ACT__COUNT
};

enum pol_verdict {
    POL_VERDICT_ALLOW,
    POL_VERDICT_DENY,
};

/* Who is calling and what for.  All pointers borrowed; NULL = unknown.
 * Embedded by value. */
struct pol_caller {
    const char *principal;
    const char *tenant;
    const char *const *groups;
    size_t ngroups;
    /* Purposes the caller may declare (from its API key); npurposes == 0
     * means the caller is not bound to a list. */
    const char *const *purposes;
    size_t npurposes;
};

/* What evaluation sees of one direction of one exchange.  All pointers
 * borrowed; counts is required, the rest may be NULL/0. */
struct pol_input {
    struct pol_caller caller;
    const char *purpose; /* declared or defaulted purpose of processing */
    const char *model;
    enum pol_route route;
    unsigned modalities;      /* POL_MOD_* set */
    const char *content_type; /* media type without parameters, lower case */
    const unsigned *counts;   /* [POL_LABEL_MAX] findings in this direction */
};

#define POL_MAX_MATCHED 32
#define POL_KEEP_DEFAULT 0xFF /* in pol_decision.mask_keep: the set's mask_keep */

/* One rule that matched, with its reason (the rule's "reason", else its
 * "description", else a summary of its conditions written at load). */
struct pol_match {
    const char *rule_id;
    const char *reason;
};

/* Filled by pol_set_eval(); every string is borrowed from the set and valid
 * while the caller holds a reference to it.  Embedded by value (about 1.3
 * KB: fine on a stack). */
struct pol_decision {
    const char *policy_id;
    const char *policy_hash;
    enum pol_mode mode;
    enum pol_verdict verdict;
    int status;          /* HTTP status of a deny (403 unless the rule says) */
    const char *rule_id; /* the deciding rule of a deny, else NULL */
    const char *reason;  /* its reason, else NULL */
    size_t nlabels;      /* labels of the set: actions[0..nlabels) are valid */
    enum pol_action actions[POL_LABEL_MAX];
    uint8_t mask_keep[POL_LABEL_MAX];          /* characters mask leaves visible */
    int16_t action_rule[POL_LABEL_MAX];        /* rule index that set the action, -1 = default */
    struct pol_match matched[POL_MAX_MATCHED]; /* in evaluation order */
    size_t nmatched;
    bool matched_truncated; /* more than POL_MAX_MATCHED matched */
};

const char *pol_action_name(enum pol_action a);
/* Parses "allow", "mask", ...; returns -1 when unknown. */
int pol_action_parse(const char *s);
const char *pol_mode_name(enum pol_mode m);
const char *pol_route_name(enum pol_route r);
/* Parses "chat", ...; returns -1 when unknown. */
int pol_route_parse(const char *s);
const char *pol_modality_name(enum pol_modality m);
/* Parses "text", "image", "audio", "file"; returns 0 when unknown. */
unsigned pol_modality_parse(const char *s);

/* Loads and compiles a policy file (YAML when the name ends in .yaml or
 * .yml, or the text does not start with '{'; JSON otherwise).  On success
 * *out is an owned reference (release with pol_set_unref).  Errors: CM_EIO
 * (unreadable), CM_EINPUT ("file:line:column: /pointer: what is wrong" in
 * err).  Any thread. */
int pol_set_load(const char *path, struct pol_set **out, struct cm_err *err) CM_MUSTCHECK;
/* Same from memory; `name` is used in error messages and picks the format
 * as above.  Borrows text. */
int pol_set_parse(const char *name, const char *text, size_t len, struct pol_set **out,
                  struct cm_err *err) CM_MUSTCHECK;
/* Reference counting is atomic: any thread. */
struct pol_set *pol_set_ref(struct pol_set *ps);
void pol_set_unref(struct pol_set *ps); /* NULL-safe */

const char *pol_set_id(const struct pol_set *ps);
/* 64 lower-case hex digits. */
const char *pol_set_hash(const struct pol_set *ps);
/* The canonical form that was hashed (sorted keys, compact JSON). */
const char *pol_set_canonical(const struct pol_set *ps);
enum pol_mode pol_set_mode(const struct pol_set *ps);
/* Number of labels (POL_PII__COUNT plus the custom ones). */
size_t pol_set_nlabels(const struct pol_set *ps);
/* The name of label l ("EMAIL", or a custom recognizer's name), or "UNKNOWN". */
const char *pol_set_label_name(const struct pol_set *ps, unsigned l);
/* The label id of a name, or -1. */
int pol_set_label_parse(const struct pol_set *ps, const char *name);
/* The names of every label, indexed by id (borrowed, [nlabels]). */
const char *const *pol_set_label_names(const struct pol_set *ps);
size_t pol_set_nrules(const struct pol_set *ps);
const char *pol_set_rule_id(const struct pol_set *ps, size_t idx);

/* Decides one direction of one exchange.  Allocates nothing, writes only
 * *out; any thread. */
void pol_set_eval(const struct pol_set *ps, enum pol_dir dir, const struct pol_input *in,
                  struct pol_decision *out);

/* The redaction operator for each label under decision d, and the options
 * that go with them (per-label mask length, label names of the set; the
 * keys of hash, pseudonymise and encrypt are left to the caller:
 * pol_tenant_keys_apply in pol_keys.h).  ops has room for POL_LABEL_MAX;
 * opts borrows from d and ps. */
void pol_decision_ops(const struct pol_decision *d, const struct pol_set *ps,
                      enum pol_pii_op ops[POL_LABEL_MAX], struct pol_pii_redact_opts *opts);
/* True when some label with counts[l] > 0 gets an action other than allow. */
bool pol_decision_rewrites(const struct pol_decision *d, const unsigned *counts);

/* Applies the set's allow list, deny list, custom recognizers and score
 * thresholds for direction dir to the classifier's spans of text[0..len):
 * spans below the label's min_score or inside an allow-listed value are
 * dropped, deny-listed values and recognizer matches are added, and
 * overlaps are resolved again (deny list first, then higher score, longer,
 * lower label).  spans stays sorted and non-overlapping.  Allocates (match
 * data, candidates).  Returns CM_OK, or CM_EINTERNAL when the regex engine
 * fails (err says which pattern; fail closed).  Any thread. */
int pol_set_scan(const struct pol_set *ps, enum pol_dir dir, const char *text, size_t len,
                 struct pol_pii_spans *spans, struct cm_err *err) CM_MUSTCHECK;
/* True when pol_set_scan has anything to do in dir (a cheap test). */
bool pol_set_scans(const struct pol_set *ps, enum pol_dir dir);
/* The JSON pointers the policy's "generic" names for generic JSON mode
 * (route other) in direction dir (borrowed, *n of them), or NULL with
 * *n = 0 when it names none: every string value is inspected. */
const char *const *pol_set_generic(const struct pol_set *ps, enum pol_dir dir, size_t *n);
/* The response pointers "generic" names as whole: in a streamed answer
 * their value comes whole, in one event (TGI's generated_text), and is
 * inspected there, not joined with the other events.  NULL, *n = 0: none. */
const char *const *pol_set_generic_whole(const struct pol_set *ps, size_t *n);

/* Writes, for the explain tool, one line per condition of rule idx saying
 * whether it held for in and why ("model \"gpt-4o\" matches \"gpt-*\"").
 * Appends to out; allocates.  Any thread. */
struct cm_buf;
void pol_set_explain_rule(const struct pol_set *ps, size_t idx, enum pol_dir dir,
                          const struct pol_input *in, struct cm_buf *out);

/* A slot holds the current set for many threads: readers take a reference
 * (pol_slot_get), a reload swaps the pointer (pol_slot_set); a reader never
 * sees a freed set, and a request keeps the set it took until it unrefs it.
 * Embedded by value; any thread. */
struct pol_slot {
    pthread_mutex_t mu;
    struct pol_set *ps;
};

/* Takes a new reference on ps (may be NULL). */
void pol_slot_init(struct pol_slot *slot, struct pol_set *ps);
void pol_slot_fini(struct pol_slot *slot);
/* Returns an owned reference to the current set (NULL if none). */
struct pol_set *pol_slot_get(struct pol_slot *slot);
/* Installs ps (a new reference is taken) and drops the slot's old one. */
void pol_slot_set(struct pol_slot *slot, struct pol_set *ps);

#endif /* POL_POLICY_H */
