/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_internal: the compiled form of a policy set, shared by the files of
 * policy/ that build it (pol_compile.c), evaluate it (pol_policy.c), scan
 * with it (pol_scan.c) and explain it (pol_explain.c).  Not a public
 * header: nothing outside policy/ includes it, and struct pol_set stays
 * opaque to everyone else (pol_policy.h).
 *
 * Everything here is written once by the compiler and read-only afterwards;
 * the refcount is the only field that changes, atomically.
 * Adding a condition: a field in struct pol_cond, its parser in
 * pol_compile.c, its test in cond_eval() (pol_explain.c, which eval shares),
 * docs/policy.md.
 */
#ifndef POL_INTERNAL_H
#define POL_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "policy/pol_policy.h"

struct pol_strs {
    char **v;
    size_t n;
};

/* A findings condition on one label: min <= count <= max. */
struct pol_count {
    unsigned label;
    unsigned min;
    unsigned max;
};

/* The conditions of a "match" or "except" block; an absent condition holds
 * for everything.  Strings lists are any-of; globs where noted. */
struct pol_cond {
    bool present;
    struct pol_strs principal; /* globs */
    struct pol_strs groups;    /* caller in any of them */
    struct pol_strs tenant;    /* globs */
    struct pol_strs model;     /* globs */
    unsigned routes;           /* 1 << enum pol_route; 0 = any */
    struct pol_strs purpose;
    unsigned modalities; /* any of these present; 0 = any */
    struct pol_strs content_type;
    unsigned dirs;         /* 1 << enum pol_dir; 0 = both */
    uint64_t any_findings; /* at least one finding of one of these labels */
    struct pol_count *counts;
    size_t ncounts;
};

/* One entity-action override of a rule. */
struct pol_override {
    unsigned label;
    enum pol_action action;
    uint8_t keep; /* POL_KEEP_DEFAULT: the label's default */
};

struct pol_rule {
    char *id;
    char *reason; /* as written, or NULL */
    char *why;    /* reason, else description, else a summary of the conditions */
    struct pol_cond match;
    struct pol_cond except;
    bool deny;
    int status;
    struct pol_override *overrides;
    size_t noverrides;
};

enum pol_scan_kind {
    POL_SCAN_ALLOW, /* allow list: findings inside a match are dropped */
    POL_SCAN_DENY,  /* deny list: every match is a finding of `label` */
    POL_SCAN_RECOG, /* custom recognizer: matches (with context) are findings */
};

/* One compiled allow-list entry, deny-list entry or recognizer.  The regex
 * engine's objects are opaque here (pol_scan.c owns PCRE2). */
struct pol_scan_entry {
    enum pol_scan_kind kind;
    char *where;       /* "allow_list/0", for messages */
    void *code;        /* the value pattern */
    void *ctx;         /* context words (recognizers), or NULL */
    uint64_t labels;   /* allow: the labels it clears (all bits: every label) */
    unsigned label;    /* deny, recog: the label found */
    float score;       /* deny: 1; recog: with context (or without context words) */
    float score_noctx; /* recog with context words: score without them, < 0 = drop */
    unsigned window;   /* recog: context window in characters, either side */
};

struct pol_set {
    atomic_uint refs;
    char *id;
    char hash[CM_SHA256_HEX_LEN];
    char *canonical;
    enum pol_mode mode;
    unsigned mask_keep;

    bool purpose_required;
    struct pol_strs purposes; /* known purposes; n == 0: any */

    size_t nlabels;
    const char *label_names[POL_LABEL_MAX]; /* built-in names are static */
    char *custom_names[POL_LABEL_MAX];      /* owned names of custom labels */

    enum pol_action actions[2][POL_LABEL_MAX];
    uint8_t keep[2][POL_LABEL_MAX];     /* as written; POL_KEEP_DEFAULT: not given */
    uint8_t eff_keep[2][POL_LABEL_MAX]; /* keep, else mask_keep */
    float min_score[2][POL_LABEL_MAX];
    char *deny_id[2][POL_LABEL_MAX];     /* "request.US_SSN" */
    char *deny_reason[2][POL_LABEL_MAX]; /* "US_SSN in the request is denied by policy" */

    struct pol_rule *rules;
    size_t nrules;

    struct pol_scan_entry *scan;
    size_t nscan;
    bool scans[2]; /* anything for pol_set_scan to do, per direction */

    /* Generic JSON mode (route other): the JSON pointers to inspect per
     * direction (RFC 6901, escaped; a "*" segment matches any one); n == 0:
     * every string value. */
    struct pol_strs generic[2];
    /* ...and the response pointers whose value a streamed answer carries
     * whole, in one event (also in generic[1] when that names pointers). */
    struct pol_strs generic_whole;
};

/* pol_compile.c: validates and compiles doc's tree into ps (zeroed, refs
 * set).  On failure ps holds what was compiled so far: free it with
 * pol_set_free_parts.  Returns CM_OK or CM_EINPUT with the position. */
struct pol_doc;
int pol_compile(const struct pol_doc *doc, struct pol_set *ps, struct cm_err *err) CM_MUSTCHECK;
void pol_set_free_parts(struct pol_set *ps);

/* pol_explain.c: evaluates one block of conditions; when why is not NULL,
 * appends one line per condition (indent, "yes"/"no ", the reason) and
 * evaluates every condition instead of stopping at the first that fails.
 * The cheap bit tests come first, then the string lists.  Allocates only
 * when why is not NULL. */
bool pol_cond_eval(const struct pol_set *ps, const struct pol_cond *c, enum pol_dir dir,
                   const struct pol_input *in, uint64_t present, const char *indent,
                   struct cm_buf *why);
/* The labels with a count above zero, as a bit set (pol_cond_eval's
 * "present"). */
uint64_t pol_present(const struct pol_set *ps, const struct pol_input *in);
/* Shell-style glob: '*', '?' (one UTF-8 character), '[...]' classes of
 * bytes with ranges and '!'/'^', '\' escapes.  Allocation-free. */
bool pol_glob_match(const char *pat, const char *s);
/* NULL when pat is a valid glob, else what is wrong. */
const char *pol_glob_check(const char *pat);

/* pol_scan.c: the regex engine (PCRE2, JIT when available).  Compile
 * functions return CM_OK or CM_EINPUT with the engine's message in msg. */
int pol_rx_compile(const char *pattern, bool ignore_case, void **code, char *msg,
                   size_t msglen) CM_MUSTCHECK;
/* Literal values as whole words (a boundary is required on a side whose
 * character is a letter, digit or '_'). */
int pol_rx_compile_words(const char *const *words, size_t n, bool ignore_case, void **code,
                         char *msg, size_t msglen) CM_MUSTCHECK;
void pol_rx_free(void *code);

#endif /* POL_INTERNAL_H */
