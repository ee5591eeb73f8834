/* SPDX-License-Identifier: Apache-2.0
 *
 * test_policy: the policy language (policy/pol_*.c), one statement of the
 * semantics per test:
 *   load   each kind of mistake has its own message and position, in JSON
 *          and in YAML; the content hash is the same for both spellings and
 *          stable under key order and white space;
 *   eval   precedence of actions, explicit deny, defaults, globs, every
 *          condition kind, except blocks, findings counts, purpose binding,
 *          monitor mode, the matched list with reasons;
 *   scan   score thresholds, allow and deny lists, custom recognizers with
 *          and without context words, overlap resolution;
 *   keys   the API-key table;
 *   cases  `steward-policy test` on the shipped examples (deploy/policies)
 *          and a failing table;
 *   alloc  pol_set_eval allocates nothing: this binary is linked with
 *          -Wl,--wrap=malloc,calloc,realloc (tests/unit/policy.mk) and
 *          counts calls around it.
 * Run from the repository root (the shipped files are read from there).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cm_buf.h"
#include "common/cm_mem.h"
#include "policy/pol_body.h"
#include "policy/pol_cases.h"
#include "policy/pol_keys.h"
#include "policy/pol_policy.h"
#include "tests/unit/unit_main.h"

/* ------------------------------------------------------------ allocation counting */

void *__real_malloc(size_t n);
void *__real_calloc(size_t c, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t c, size_t n);
void *__wrap_realloc(void *p, size_t n);

static volatile int counting;
static volatile unsigned long nallocs;

void *
__wrap_malloc(size_t n)
{
    if (counting)
        nallocs++;
    return __real_malloc(n);
}

void *
__wrap_calloc(size_t c, size_t n)
{
    if (counting)
        nallocs++;
    return __real_calloc(c, n);
}

void *
__wrap_realloc(void *p, size_t n)
{
    if (counting)
        nallocs++;
    return __real_realloc(p, n);
}

/* ------------------------------------------------------------ helpers */

static struct pol_set *
parse_named(const char *name, const char *text)
{
    struct pol_set *ps = NULL;
    struct cm_err err = {{0}};
    int rc = pol_set_parse(name, text, strlen(text), &ps, &err);

    ck_assert_msg(rc == CM_OK, "parse failed: %s", err.msg);
    ck_assert_ptr_nonnull(ps);
    return ps;
}

static struct pol_set *
parse_ok(const char *text)
{
    return parse_named(text[0] == '{' ? "t.json" : "t.yaml", text);
}

static unsigned counts[POL_LABEL_MAX];

static void
input(struct pol_input *in)
{
    memset(in, 0, sizeof(*in));
    memset(counts, 0, sizeof(counts));
    in->counts = counts;
    in->route = POL_ROUTE_CHAT;
    in->modalities = POL_MOD_TEXT;
    in->content_type = "application/json";
}

static bool
matched(const struct pol_decision *d, const char *id)
{
    for (size_t k = 0; k < d->nmatched; k++)
        if (strcmp(d->matched[k].rule_id, id) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ load errors */

struct err_case {
    const char *name; /* t.json or t.yaml: picks the format */
    const char *text;
    const char *where; /* "t.json:L:C: " prefix */
    const char *what;  /* substring of the message */
};

static const struct err_case err_cases[] = {
    /* syntax */
    {"t.json", "{\"id\": \"x\",}", "t.json:1:", "'}'"},
    {"t.json", "{\"id\": \"x\",\n \"id\": \"y\"}", "t.json:2:", "duplicate object key"},
    {"t.json", "", "t.json:", "'[' or '{' expected"},
    {"t.yaml", "id: x\nrequest: [a\n", "t.yaml:3:1: ", "did not find expected"},
    {"t.yaml", "id: x\nid: y\n", "t.yaml:2:1: ", "duplicate key \"id\""},
    {"t.yaml", "id: x\n---\nid: y\n", "t.yaml:2:1: ", "more than one YAML document"},
    {"t.yaml", "", "t.yaml:1:1: ", "empty document"},
    {"t.yaml", "id: x\nrequest: &r {EMAIL: redact}\n", "t.yaml:2:10: ", "anchors (&r)"},
    {"t.yaml", "a: &x 1\nid: *x\n", "t.yaml:1:4: ", "anchors"},
    {"t.yaml", "id: !!python/object x\n", "t.yaml:1:5: ", "tag tag:yaml.org,2002:python/object"},
    {"t.yaml", "id: x\nmask_keep: .inf\n", "t.yaml:2:12: ", "infinities and NaN"},
    {"t.yaml", "id: x\nmask_keep: 99999999999999999999\n", "t.yaml:2:12: ", "out of range"},
    {"t.yaml", "id: x\n[a, b]: 1\n", "t.yaml:2:1: ", "a key must be a plain string"},
    {"t.yaml", "id: \"a\\0b\"\n", "t.yaml:1:5: ", "NUL characters"},
    /* structure */
    {"t.json", "{\"id\": \"x\",\n  \"mood\": \"enforce\"}",
     "t.json:2:3: ", "/mood: unknown key (did you mean \"mode\"?)"},
    {"t.json", "{\"id\": \"x\", \"zzzzzz\": 1}", "t.json:1:13: ", "unknown key (expected one of:"},
    {"t.json", "{\"mode\": \"enforce\"}", "t.json:1:1: ", "/: policy without \"id\""},
    {"t.json", "{\"id\": \"\"}", "t.json:1:8: ", "/id: expected a non-empty string"},
    {"t.json", "[1, 2]", "t.json:1:1: ", "a policy is an object"},
    {"t.yaml", "- 1\n- 2\n", "t.yaml:1:1: ", "a policy is an object"},
    {"t.yaml", "id: x\nmode: on\n", "t.yaml:2:7: ", "/mode: expected \"enforce\" or \"monitor\""},
    {"t.json", "{\"id\": \"x\", \"mask_keep\": \"4\"}",
     "t.json:1:26: ", "/mask_keep: expected an integer 0-64, got a string"},
    {"t.json", "{\"id\": \"x\", \"mask_keep\": 65}",
     "t.json:1:26: ", "/mask_keep: expected an integer 0-64, got 65"},
    /* entity actions */
    {"t.json", "{\"id\": \"x\",\n \"request\": {\"EMAIL2\": \"redact\"}}",
     "t.json:2:14: ", "/request/EMAIL2: unknown entity type \"EMAIL2\" (did you mean \"EMAIL\"?)"},
    {"t.json", "{\"id\": \"x\",\n \"request\": {\"EMAIL\": \"zap\"}}",
     "t.json:2:23: ", "/request/EMAIL: unknown action \"zap\""},
    {"t.json", "{\"id\": \"x\", \"response\": {\"EMAIL\": 1}}",
     "t.json:1:35: ", "/response/EMAIL: expected an action string or an object"},
    {"t.json", "{\"id\": \"x\", \"request\": []}", "t.json:1:24: ", "/request: expected an object"},
    {"t.yaml", "id: x\nrequest:\n  EMAIL: {action: redact, keep: 2}\n",
     "t.yaml:3:27: ", "/request/EMAIL/keep: \"keep\" only applies to the action mask"},
    {"t.yaml", "id: x\nrequest:\n  EMAIL: {action: mask, keep: 65}\n",
     "t.yaml:3:31: ", "/request/EMAIL/keep: expected an integer 0-64"},
    {"t.yaml", "id: x\nrequest:\n  EMAIL: {action: mask, min_score: 1.5}\n",
     "t.yaml:3:36: ", "/request/EMAIL/min_score: expected a score from 0 to 1"},
    {"t.yaml", "id: x\nrequest:\n  EMAIL: {keep: 2}\n",
     "t.yaml:3:10: ", "/request/EMAIL: missing \"action\""},
    {"t.yaml", "id: x\nrequest:\n  EMAIL: {action: mask, colour: red}\n",
     "t.yaml:3:25: ", "/request/EMAIL/colour: unknown key"},
    /* rules */
    {"t.json", "{\"id\": \"x\",\n \"rules\": [\n  {\"decision\": \"deny\"}]}",
     "t.json:3:3: ", "/rules/0: rule without \"id\""},
    {"t.json", "{\"id\": \"x\", \"rules\": [{\"id\": \"a\"},\n  {\"id\": \"a\"}]}",
     "t.json:2:10: ", "/rules/1/id: duplicate rule id \"a\""},
    {"t.yaml", "id: x\nrules:\n  - id: request.EMAIL\n",
     "t.yaml:3:9: ", "/rules/0/id: a rule id is 1-64 letters"},
    {"t.json",
     "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"decision\": \"deny\", \"status\": 200}]}",
     "t.json:1:", "/rules/0/status: expected an integer 400-599"},
    {"t.json", "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"status\": 451}]}",
     "t.json:1:", "/rules/0/status: a status needs \"decision\": \"deny\""},
    {"t.json", "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"decision\": \"block\"}]}",
     "t.json:1:", "/rules/0/decision: expected \"allow\" or \"deny\""},
    {"t.json", "{\"id\": \"x\",\n \"rules\": [{\"id\": \"a\",\n   \"match\": {\"modle\": \"x\"}}]}",
     "t.json:3:14: ", "/rules/0/match/modle: unknown key (did you mean \"model\"?)"},
    {"t.json",
     "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"match\": {\"findings\": [\"EMAIL\", "
     "\"NAME\"]}}]}",
     "t.json:1:", "/rules/0/match/findings/1: unknown entity type \"NAME\""},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    match: {findings: {EMAIL: {min: 3, max: 1}}}\n",
     "t.yaml:4:31: ", "/rules/0/match/findings/EMAIL: max 1 is below min 3"},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    match: {findings: {EMAIL: 3}}\n",
     "t.yaml:4:31: ", "/rules/0/match/findings/EMAIL: expected {\"min\": N}"},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    match: {findings: {EMAIL: {}}}\n",
     "t.yaml:4:31: ", "give \"min\", \"max\" or both"},
    {"t.json", "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"match\": {\"route\": \"chats\"}}]}",
     "t.json:1:", "/rules/0/match/route: unknown route \"chats\" (expected one of: chat,"},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    match: {modality: [text, video]}\n",
     "t.yaml:4:30: ", "/rules/0/match/modality/1: unknown modality \"video\""},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    match: {direction: inbound}\n",
     "t.yaml:4:24: ", "unknown direction \"inbound\""},
    {"t.json", "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"match\": {\"model\": [\"a\", 3]}}]}",
     "t.json:1:", "/rules/0/match/model/1: expected a non-empty string, got an integer"},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    match: {model: \"gpt-[45\"}\n",
     "t.yaml:4:20: ", "/rules/0/match/model: bad pattern \"gpt-[45\": '[' without a closing ']'"},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    match: {principal: 'svc-\\'}\n",
     "t.yaml:4:24: ", "ends with a lone '\\'"},
    {"t.json", "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"match\": {\"tenant\": []}}]}",
     "t.json:1:", "/rules/0/match/tenant: empty array"},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    match: {content_type: json}\n",
     "t.yaml:4:27: ", "expected a media type"},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    except: {}\n",
     "t.yaml:4:13: ", "/rules/0/except: empty \"except\""},
    {"t.json", "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"actions\": {\"PHONE\": \"zap\"}}]}",
     "t.json:1:", "/rules/0/actions/PHONE: unknown action \"zap\""},
    {"t.yaml", "id: x\nrules:\n  - id: a\n    actions: {EMAIL: {action: mask, min_score: 0.5}}\n",
     "t.yaml:4:37: ", "min_score belongs in the entity actions"},
    {"t.json", "{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"colour\": 1}]}",
     "t.json:1:", "/rules/0/colour: unknown key"},
    {"t.json", "{\"id\": \"x\", \"rules\": {}}", "t.json:1:", "/rules: expected an array of rules"},
    {"t.json", "{\"id\": \"x\", \"rules\": [\"a\"]}",
     "t.json:1:", "/rules/0: expected a rule object"},
    /* purposes */
    {"t.yaml", "id: x\npurpose: {allowed: [a]}\nrules:\n  - id: r\n    match: {purpose: b}\n",
     "t.yaml:5:22: ", "/rules/0/match/purpose: unknown purpose \"b\" (not in /purpose/allowed)"},
    {"t.yaml", "id: x\npurpose: {required: yes}\n",
     "t.yaml:2:21: ", "/purpose/required: expected true or false, got a string"},
    /* recognizers and lists */
    {"t.yaml", "id: x\nrecognizers:\n  - name: EMAIL\n    pattern: x+\n",
     "t.yaml:3:11: ", "/recognizers/0/name: entity type \"EMAIL\" is built in"},
    {"t.yaml", "id: x\nrecognizers:\n  - name: emp_id\n    pattern: x+\n",
     "t.yaml:3:11: ", "an entity type name is 2-12 upper-case"},
    {"t.yaml", "id: x\nrecognizers:\n  - name: EMPLOYEE_NUMBER\n    pattern: x+\n",
     "t.yaml:3:11: ", "an entity type name is 2-12 upper-case"},
    {"t.yaml", "id: x\nrecognizers:\n  - name: EMP2\n    pattern: x+\n",
     "t.yaml:3:11: ", "it appears in placeholders"},
    {"t.yaml", "id: x\nrecognizers:\n  - {name: EMP, pattern: x+}\n  - {name: EMP, pattern: y+}\n",
     "t.yaml:4:12: ", "/recognizers/1/name: entity type \"EMP\" is defined twice"},
    {"t.yaml", "id: x\nrecognizers:\n  - name: EMP\n    pattern: 'EMP-(\\d+'\n", "t.yaml:4:14: ",
     "/recognizers/0/pattern: bad regular expression: missing closing parenthesis"},
    {"t.yaml", "id: x\nrecognizers:\n  - name: EMP\n    pattern: 'a*'\n",
     "t.yaml:4:14: ", "the pattern can match an empty string"},
    {"t.yaml", "id: x\nrecognizers:\n  - name: EMP\n",
     "t.yaml:3:5: ", "/recognizers/0: missing \"pattern\""},
    {"t.yaml", "id: x\nrecognizers:\n  - {name: EMP, pattern: x+, score_without_context: 0.2}\n",
     "t.yaml:3:30: ", "only meaningful with \"context\" words"},
    {"t.yaml", "id: x\nallow_list:\n  - {values: [a], pattern: b}\n",
     "t.yaml:3:5: ", "give exactly one of \"values\""},
    {"t.yaml", "id: x\nallow_list:\n  - {values: [Acme], labels: [PERSONS]}\n", "t.yaml:3:31: ",
     "/allow_list/0/labels/0: unknown entity type \"PERSONS\" (did you mean \"PERSON\"?)"},
    {"t.yaml", "id: x\ndeny_list:\n  - {values: [Acme]}\n",
     "t.yaml:3:5: ", "/deny_list/0: missing \"label\""},
    {"t.yaml", "id: x\ndeny_list:\n  - {label: CUSTOMER_ID, pattern: 'C-\\d+'}\n",
     "t.yaml:3:13: ", "/deny_list/0/label: unknown entity type \"CUSTOMER_ID\""},
    {"t.yaml", "id: x\ndeny_list:\n  - {label: PERSON, values: []}\n",
     "t.yaml:3:29: ", "/deny_list/0/values: empty array"},
    {"t.yaml", "id: x\nrequest:\n  EMP_ID: hash\nrecognizers:\n  - {name: EMP, pattern: x+}\n",
     "t.yaml:3:3: ", "/request/EMP_ID: unknown entity type \"EMP_ID\""},
    /* generic mode's JSON pointers */
    {"t.yaml", "id: x\ngeneric: [/inputs]\n", "t.yaml:2:10: ", "/generic: expected {\"request\""},
    {"t.yaml", "id: x\ngeneric:\n  request: []\n",
     "t.yaml:3:12: ", "/generic/request: empty array (leave \"request\" out"},
    {"t.yaml", "id: x\ngeneric:\n  request: /inputs\n",
     "t.yaml:3:12: ", "/generic/request: expected an array of JSON pointers, got a string"},
    {"t.yaml", "id: x\ngeneric:\n  request: [inputs]\n", "t.yaml:3:13: ",
     "/generic/request/0: bad JSON pointer \"inputs\": a JSON pointer starts with \"/\""},
    {"t.yaml", "id: x\ngeneric:\n  response: [/a, /b~2c]\n",
     "t.yaml:3:18: ", "/generic/response/1: bad JSON pointer \"/b~2c\": \"~\" is written \"~0\""},
    {"t.yaml", "id: x\ngeneric:\n  whole: []\n", "t.yaml:3:10: ",
     "/generic/whole: empty array (leave \"whole\" out when no field comes whole)"},
    {"t.yaml", "id: x\ngeneric:\n  whole: [generated_text]\n", "t.yaml:3:11: ",
     "/generic/whole/0: bad JSON pointer \"generated_text\": a JSON pointer starts with \"/\""},
    {"t.yaml", "id: x\ngeneric:\n  requests: [/a]\n",
     "t.yaml:3:3: ", "/generic/requests: unknown key (did you mean \"request\"?)"},
};

START_TEST(test_load_errors)
{
    const struct err_case *c = &err_cases[_i];
    struct pol_set *ps = (struct pol_set *)1;
    struct cm_err err = {{0}};
    int rc = pol_set_parse(c->name, c->text, strlen(c->text), &ps, &err);

    ck_assert_msg(rc == CM_EINPUT, "case %d: accepted", _i);
    ck_assert_ptr_null(ps);
    ck_assert_msg(strncmp(err.msg, c->where, strlen(c->where)) == 0,
                  "case %d: \"%s\" does not start with \"%s\"", _i, err.msg, c->where);
    ck_assert_msg(strstr(err.msg, c->what) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err.msg,
                  c->what);
}
END_TEST

/* ------------------------------------------------------------ hashing */

START_TEST(test_hash_stable)
{
    struct pol_set *a =
        parse_ok("{\"id\":\"h\",\"request\":{\"EMAIL\":\"redact\",\"PHONE\":\"mask\"},"
                 "\"rules\":[{\"id\":\"r\",\"decision\":\"deny\"}]}");
    struct pol_set *b =
        parse_ok("{\n  \"rules\": [ { \"decision\": \"deny\", \"id\": \"r\" } ],\n"
                 "  \"request\": { \"PHONE\": \"mask\",\n\t\"EMAIL\": \"redact\" },\n"
                 "  \"id\": \"h\"\n}\n");
    struct pol_set *c =
        parse_ok("{\"id\":\"h\",\"request\":{\"EMAIL\":\"redact\",\"PHONE\":\"hash\"},"
                 "\"rules\":[{\"id\":\"r\",\"decision\":\"deny\"}]}");
    /* The same policy in YAML: the same tree, the same hash. */
    struct pol_set *y = parse_ok("# a comment\n"
                                 "id: h\n"
                                 "rules:\n"
                                 "  - decision: deny\n"
                                 "    id: r\n"
                                 "request:\n"
                                 "  EMAIL: redact\n"
                                 "  PHONE: 'mask'\n");

    ck_assert_uint_eq(strlen(pol_set_hash(a)), 64);
    ck_assert_str_eq(pol_set_hash(a), pol_set_hash(b));
    ck_assert_str_eq(pol_set_hash(a), pol_set_hash(y));
    ck_assert_str_ne(pol_set_hash(a), pol_set_hash(c));
    ck_assert_str_eq(pol_set_canonical(a),
                     "{\"id\":\"h\",\"request\":{\"EMAIL\":\"redact\",\"PHONE\":\"mask\"},"
                     "\"rules\":[{\"decision\":\"deny\",\"id\":\"r\"}]}");
    ck_assert_str_eq(pol_set_id(a), "h");
    ck_assert_int_eq(pol_set_mode(a), POL_MODE_ENFORCE);
    pol_set_unref(a);
    pol_set_unref(b);
    pol_set_unref(c);
    pol_set_unref(y);
}
END_TEST

/* YAML 1.2 core schema: typed plain scalars, quoted ones stay strings. */
START_TEST(test_yaml_scalars)
{
    struct pol_set *ps;
    struct cm_err err = {{0}};
    const char *quoted = "id: x\nmask_keep: '4'\n";
    const char *typed = "id: 1234\n";
    const char *nulldesc = "id: x\ndescription: null\n";

    ps = parse_ok("id: x\nmask_keep: 3\npurpose: {required: false}\n");
    pol_set_unref(ps);
    ck_assert_int_eq(pol_set_parse("t.yaml", quoted, strlen(quoted), &ps, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, "got a string") != NULL, "%s", err.msg);
    /* an unquoted number is not a string id */
    ck_assert_int_eq(pol_set_parse("t.yaml", typed, strlen(typed), &ps, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, "/id: expected a string, got an integer") != NULL, "%s", err.msg);
    /* description: ~ is null, which is not a string */
    ps = NULL;
    ck_assert_int_eq(pol_set_parse("t.yaml", nulldesc, strlen(nulldesc), &ps, &err), CM_EINPUT);
    /* a JSON-looking file with any name is JSON; YAML with any other name is YAML */
    ps = parse_named("policy", "{\"id\": \"j\"}");
    ck_assert_str_eq(pol_set_id(ps), "j");
    pol_set_unref(ps);
    ps = parse_named("policy.conf", "id: y\n");
    ck_assert_str_eq(pol_set_id(ps), "y");
    pol_set_unref(ps);
}
END_TEST

START_TEST(test_load_file_and_refs)
{
    char path[] = "/tmp/test_policy_XXXXXX";
    int fd = mkstemp(path);
    const char *json = "{\"id\": \"file\",\n \"mode\": \"monitor\"}\n";
    struct pol_set *ps, *ps2;
    struct cm_err err = {{0}};

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    ck_assert_int_eq(pol_set_load(path, &ps, &err), CM_OK);
    ck_assert_str_eq(pol_set_id(ps), "file");
    ck_assert_int_eq(pol_set_mode(ps), POL_MODE_MONITOR);
    ps2 = pol_set_ref(ps);
    ck_assert_ptr_eq(ps, ps2);
    pol_set_unref(ps);
    ck_assert_str_eq(pol_set_id(ps2), "file"); /* still alive */
    pol_set_unref(ps2);
    pol_set_unref(NULL);
    unlink(path);
    ck_assert_int_eq(pol_set_load(path, &ps, &err), CM_EIO);
    ck_assert_ptr_null(ps);
    ck_assert(strstr(err.msg, path) != NULL);
}
END_TEST

/* ------------------------------------------------------------ evaluation */

static const char *const prec_policy =
    "id: prec\n"
    "mask_keep: 4\n"
    "request:\n"
    "  EMAIL: mask\n"
    "  PHONE: hash\n"
    "  US_SSN: deny\n"
    "  IBAN: {action: mask, keep: 6}\n"
    "response:\n"
    "  EMAIL: redact\n"
    "rules:\n"
    "  - id: r-redact\n"
    "    actions: {EMAIL: redact, PHONE: mask}\n"
    "  - id: r-tenant\n"
    "    match: {tenant: acme}\n"
    "    actions: {EMAIL: pseudonymise, IP_ADDRESS: mask, IBAN: {action: mask, keep: 2}}\n"
    "  - id: r-principal\n"
    "    match: {principal: [bob, 'ev?']}\n"
    "    actions: {EMAIL: encrypt, IP_ADDRESS: deny}\n";

START_TEST(test_precedence)
{
    struct pol_set *ps = parse_ok(prec_policy);
    struct pol_input in;
    struct pol_decision d;
    enum pol_pii_op ops[POL_LABEL_MAX];
    struct pol_pii_redact_opts ro = {0};

    input(&in);
    /* base mask, rule redact: redact; base hash beats rule mask */
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_REDACT);
    ck_assert_int_eq(d.action_rule[POL_PII_EMAIL], 0);
    ck_assert_int_eq(d.actions[POL_PII_PHONE], POL_ACT_HASH);
    ck_assert_int_eq(d.action_rule[POL_PII_PHONE], -1);
    ck_assert_int_eq(d.actions[POL_PII_CREDIT_CARD], POL_ACT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_US_SSN], POL_ACT_DENY);
    ck_assert_int_eq(d.mask_keep[POL_PII_IBAN], 6);
    ck_assert_int_eq(d.mask_keep[POL_PII_CREDIT_CARD], 4);
    ck_assert_uint_eq(d.nmatched, 1);
    ck_assert_str_eq(d.matched[0].rule_id, "r-redact");
    ck_assert_str_eq(d.matched[0].reason, "matches every exchange");
    ck_assert_str_eq(d.policy_id, "prec");
    ck_assert_str_eq(d.policy_hash, pol_set_hash(ps));

    /* redact < hash < pseudonymise; two masks: the shorter tail wins */
    in.caller.tenant = "acme";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_PSEUDONYMISE);
    ck_assert_int_eq(d.actions[POL_PII_IP_ADDRESS], POL_ACT_MASK);
    ck_assert_int_eq(d.mask_keep[POL_PII_IBAN], 2);
    ck_assert_int_eq(d.action_rule[POL_PII_IBAN], 1);
    ck_assert_uint_eq(d.nmatched, 2);

    /* pseudonymise < encrypt; mask < deny; a deny action needs a finding */
    in.caller.principal = "eve";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_ENCRYPT);
    ck_assert_int_eq(d.actions[POL_PII_IP_ADDRESS], POL_ACT_DENY);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_uint_eq(d.nmatched, 3);
    ck_assert_str_eq(d.matched[2].rule_id, "r-principal");
    counts[POL_PII_IP_ADDRESS] = 1;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_DENY);
    ck_assert_int_eq(d.status, 403);
    ck_assert_str_eq(d.rule_id, "request.IP_ADDRESS");
    ck_assert_str_eq(d.reason, "IP_ADDRESS found in the request is denied by policy");
    ck_assert(matched(&d, "request.IP_ADDRESS"));

    /* the entity deny of the direction's own map */
    counts[POL_PII_IP_ADDRESS] = 0;
    counts[POL_PII_US_SSN] = 2;
    in.caller.principal = NULL;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_DENY);
    ck_assert_str_eq(d.rule_id, "request.US_SSN");
    /* the response direction has its own map: no deny there */
    pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_US_SSN], POL_ACT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_PSEUDONYMISE);

    pol_decision_ops(&d, ps, ops, &ro);
    ck_assert_int_eq(ops[POL_PII_EMAIL], POL_PII_OP_PSEUDONYMISE);
    ck_assert_int_eq(ops[POL_PII_US_SSN], POL_PII_KEEP);
    ck_assert_int_eq(ops[POL_PII_PHONE], POL_PII_OP_MASK);
    ck_assert_ptr_eq(ro.mask_keep_by_label, d.mask_keep);
    ck_assert_str_eq(ro.label_names[POL_PII_EMAIL], "EMAIL");
    d.actions[POL_PII_US_SSN] = POL_ACT_DENY;
    d.actions[POL_PII_PHONE] = POL_ACT_ENCRYPT;
    pol_decision_ops(&d, ps, ops, &ro);
    ck_assert_int_eq(ops[POL_PII_US_SSN], POL_PII_OP_REDACT);
    ck_assert_int_eq(ops[POL_PII_PHONE], POL_PII_OP_ENCRYPT);
    ck_assert_int_eq(ops[POL_LABEL_MAX - 1], POL_PII_KEEP);
    pol_set_unref(ps);
}
END_TEST

/* Precedence is the enum order, and it is the documented one. */
START_TEST(test_action_order)
{
    static const char *const order[] = {"allow",        "mask",    "redact", "hash",
                                        "pseudonymise", "encrypt", "deny"};

    for (int a = 0; a < POL_ACT__COUNT; a++) {
        ck_assert_str_eq(pol_action_name((enum pol_action)a), order[a]);
        ck_assert_int_eq(pol_action_parse(order[a]), a);
    }
    ck_assert_int_eq(pol_action_parse("zap"), -1);
    ck_assert_str_eq(pol_route_name(POL_ROUTE_MESSAGES), "messages");
    ck_assert_int_eq(pol_route_parse("responses"), POL_ROUTE_RESPONSES);
    ck_assert_uint_eq(pol_modality_parse("audio"), POL_MOD_AUDIO);
    ck_assert_str_eq(pol_modality_name(POL_MOD_FILE), "file");
    ck_assert_str_eq(pol_mode_name(POL_MODE_MONITOR), "monitor");
}
END_TEST

static const char *const rules_policy =
    "{ \"id\": \"rules\","
    "  \"rules\": ["
    "    { \"id\": \"audit-external\", \"match\": { \"model\": \"external-*\" } },"
    "    { \"id\": \"cards-out\", \"match\": { \"model\": [\"external-*\", \"gpt-?\"],"
    "      \"findings\": [\"CREDIT_CARD\", \"IBAN\"] },"
    "      \"decision\": \"deny\", \"reason\": \"no cards\" },"
    "    { \"id\": \"legal\", \"match\": { \"purpose\": [\"legal\", \"hr\"], \"route\": \"chat\" },"
    "      \"decision\": \"deny\", \"status\": 451, \"reason\": \"not for this purpose\" },"
    "    { \"id\": \"all\", \"decision\": \"allow\", \"description\": \"tags everything\" }"
    "  ] }";

START_TEST(test_rules_globs_order)
{
    struct pol_set *ps = parse_ok(rules_policy);
    struct pol_input in;
    struct pol_decision d;

    input(&in);
    in.model = "internal-llm";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_uint_eq(d.nmatched, 1);
    ck_assert_str_eq(d.matched[0].rule_id, "all");
    ck_assert_str_eq(d.matched[0].reason, "tags everything");
    ck_assert_ptr_null(d.rule_id);

    in.model = "external-gpt4";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_uint_eq(d.nmatched, 2);
    ck_assert_str_eq(d.matched[0].rule_id, "audit-external");
    ck_assert_str_eq(d.matched[0].reason, "model external-*");
    ck_assert_str_eq(d.matched[1].rule_id, "all");

    /* a finding of another label does not match "findings" */
    counts[POL_PII_EMAIL] = 3;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    counts[POL_PII_IBAN] = 1;
    pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_DENY);
    ck_assert_str_eq(d.rule_id, "cards-out");
    ck_assert_str_eq(d.reason, "no cards");
    ck_assert_int_eq(d.status, 403);

    /* first deny in rule order decides; later matches are still listed */
    in.purpose = "hr";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "cards-out");
    ck_assert_uint_eq(d.nmatched, 4);
    ck_assert_str_eq(d.matched[2].rule_id, "legal");
    ck_assert_str_eq(d.matched[2].reason, "not for this purpose");

    /* "gpt-?" matches one character only; "external-*" needs the prefix */
    in.model = "gpt-4";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "cards-out");
    in.model = "gpt-4o";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "legal");
    ck_assert_int_eq(d.status, 451);
    in.model = "my-external-x";
    in.route = POL_ROUTE_EMBEDDING;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    /* a NULL input never matches a condition on it */
    in.model = NULL;
    in.route = POL_ROUTE_CHAT;
    in.purpose = NULL;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_uint_eq(d.nmatched, 1);
    pol_set_unref(ps);
}
END_TEST

struct glob_case {
    const char *pat, *s;
    bool match;
};

static const struct glob_case glob_cases[] = {
    {"gpt-*", "gpt-4o", true},
    {"gpt-*", "gpt-", true},
    {"gpt-*", "xgpt-4", false},
    {"*-mini", "gpt-4o-mini", true},
    {"*-mini", "gpt-4o-mini-2", false},
    {"*gpt*", "my-gpt-x", true},
    {"gpt-?", "gpt-4", true},
    {"gpt-?", "gpt-40", false},
    {"m?del",
     "m\xc3\xb6"
     "del",
     true}, /* ? is one UTF-8 character */
    {"gpt-[34]*", "gpt-4o", true},
    {"gpt-[34]*", "gpt-5", false},
    {"gpt-[!34]", "gpt-5", true},
    {"gpt-[^34]", "gpt-4", false},
    {"v[0-9]", "v7", true},
    {"v[0-9]", "vx", false},
    {"[]]x", "]x", true},
    {"a\\*b", "a*b", true},
    {"a\\*b", "axb", false},
    {"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
    {"*", "", true},
    {"", "", true},
    {"", "x", false},
    {"Claude-*", "claude-3", false}, /* case-sensitive */
};

START_TEST(test_globs)
{
    const struct glob_case *c = &glob_cases[_i];
    char json[256];
    struct pol_set *ps;
    struct pol_input in;
    struct pol_decision d;

    if (c->pat[0] == '\0')
        return; /* an empty pattern is refused at load (empty string) */
    snprintf(json, sizeof(json),
             "{\"id\": \"g\", \"rules\": [{\"id\": \"r\", \"match\": {\"model\": \"%s\"}}]}",
             c->pat[0] == 'a' && c->pat[1] == '\\' ? "a\\\\*b" : c->pat);
    ps = parse_ok(json);
    input(&in);
    in.model = c->s;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_msg((d.nmatched == 1) == c->match, "glob \"%s\" on \"%s\": expected %s", c->pat, c->s,
                  c->match ? "a match" : "no match");
    pol_set_unref(ps);
}
END_TEST

static const char *const cond_policy =
    "id: conds\n"
    "purpose:\n"
    "  allowed: [support, hr-case, fraud]\n"
    "rules:\n"
    "  - id: hr-internal-only\n"
    "    match: {groups: [hr, people-ops]}\n"
    "    except: {model: 'internal-*'}\n"
    "    decision: deny\n"
    "    status: 451\n"
    "    reason: HR may only use the internal model\n"
    "  - id: no-images-external\n"
    "    match: {modality: [image, audio], model: 'ext-*'}\n"
    "    decision: deny\n"
    "  - id: acme-tenants\n"
    "    match: {tenant: 'acme-*', principal: 'svc-*'}\n"
    "  - id: bulk-emails\n"
    "    match: {findings: {EMAIL: {min: 3}}, direction: request}\n"
    "    actions: {EMAIL: hash}\n"
    "  - id: few-phones\n"
    "    match: {findings: {PHONE: {max: 1}}}\n"
    "  - id: answers\n"
    "    match: {direction: response, route: [chat, responses]}\n"
    "  - id: plain-text\n"
    "    match: {content_type: text/plain}\n"
    "  - id: fraud\n"
    "    match: {purpose: fraud}\n"
    "    actions: {CREDIT_CARD: allow, IBAN: mask}\n";

START_TEST(test_conditions)
{
    struct pol_set *ps = parse_ok(cond_policy);
    const char *hr[] = {"eng", "hr"};
    struct pol_input in;
    struct pol_decision d;

    /* groups + except */
    input(&in);
    in.caller.groups = hr;
    in.caller.ngroups = 2;
    in.model = "ext-gpt";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_DENY);
    ck_assert_str_eq(d.rule_id, "hr-internal-only");
    ck_assert_int_eq(d.status, 451);
    in.model = "internal-llama";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert(!matched(&d, "hr-internal-only"));
    in.caller.ngroups = 1; /* only "eng" */
    in.model = "ext-gpt";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);

    /* modality */
    in.modalities = POL_MOD_TEXT | POL_MOD_IMAGE;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "no-images-external");
    in.model = "internal-x";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    in.modalities = POL_MOD_TEXT;

    /* tenant and principal globs, both needed */
    in.caller.tenant = "acme-eu";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert(!matched(&d, "acme-tenants"));
    in.caller.principal = "svc-billing";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert(matched(&d, "acme-tenants"));

    /* counts: min and max; a zero count satisfies a max */
    counts[POL_PII_EMAIL] = 2;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert(!matched(&d, "bulk-emails"));
    ck_assert(matched(&d, "few-phones"));
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_ALLOW);
    counts[POL_PII_EMAIL] = 3;
    counts[POL_PII_PHONE] = 2;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert(matched(&d, "bulk-emails"));
    ck_assert(!matched(&d, "few-phones"));
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_HASH);
    /* direction: the same counts in a response do not match bulk-emails */
    pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
    ck_assert(!matched(&d, "bulk-emails"));
    ck_assert(matched(&d, "answers"));
    in.route = POL_ROUTE_EMBEDDING;
    pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
    ck_assert(!matched(&d, "answers"));

    /* content type */
    ck_assert(!matched(&d, "plain-text"));
    in.content_type = "text/plain";
    pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
    ck_assert(matched(&d, "plain-text"));

    /* an allow override never lowers: fraud allows cards (already allow)
     * and masks IBAN */
    in.purpose = "fraud";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert(matched(&d, "fraud"));
    ck_assert_int_eq(d.actions[POL_PII_IBAN], POL_ACT_MASK);
    ck_assert_int_eq(d.actions[POL_PII_CREDIT_CARD], POL_ACT_ALLOW);
    pol_set_unref(ps);
}
END_TEST

START_TEST(test_purpose_binding)
{
    struct pol_set *ps = parse_ok("id: p\n"
                                  "purpose: {required: true, allowed: [support, hr-case]}\n"
                                  "rules:\n"
                                  "  - id: tag\n");
    struct pol_set *loose = parse_ok("id: q\n");
    const char *mine[] = {"support"};
    struct pol_input in;
    struct pol_decision d;

    input(&in);
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_DENY);
    ck_assert_str_eq(d.rule_id, "purpose.required");
    ck_assert(matched(&d, "tag")); /* the other matches are still listed */
    /* the response is not denied again for the purpose */
    pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);

    in.purpose = "marketing";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "purpose.unknown");
    in.purpose = "hr-case";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);

    /* a caller bound to purposes may only declare those */
    in.caller.purposes = mine;
    in.caller.npurposes = 1;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "caller.purpose");
    pol_set_eval(loose, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "caller.purpose");
    in.purpose = "support";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    /* no purpose, not required: allowed */
    in.purpose = NULL;
    pol_set_eval(loose, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    pol_set_unref(ps);
    pol_set_unref(loose);
}
END_TEST

/* Monitor mode decides exactly as enforce does; the decision says the mode. */
START_TEST(test_monitor_mode)
{
#define MONITOR_POLICY(mode)                                                                       \
    "id: m\nmode: " mode "\nrequest: {EMAIL: redact, US_SSN: deny}\n"                              \
    "rules:\n  - {id: ext, match: {model: 'ext-*'}, decision: deny}\n"
    struct pol_set *enf = parse_ok(MONITOR_POLICY("enforce"));
    struct pol_set *mon = parse_ok(MONITOR_POLICY("monitor"));
    struct pol_input in;
    struct pol_decision de, dm;
#undef MONITOR_POLICY

    ck_assert_str_ne(pol_set_hash(enf), pol_set_hash(mon));
    input(&in);
    in.model = "ext-gpt";
    counts[POL_PII_EMAIL] = 1;
    pol_set_eval(enf, POL_DIR_REQUEST, &in, &de);
    pol_set_eval(mon, POL_DIR_REQUEST, &in, &dm);
    ck_assert_int_eq(de.mode, POL_MODE_ENFORCE);
    ck_assert_int_eq(dm.mode, POL_MODE_MONITOR);
    ck_assert_int_eq(dm.verdict, de.verdict);
    ck_assert_int_eq(dm.verdict, POL_VERDICT_DENY);
    ck_assert_str_eq(dm.rule_id, de.rule_id);
    ck_assert_uint_eq(dm.nmatched, de.nmatched);
    ck_assert_int_eq(dm.actions[POL_PII_EMAIL], POL_ACT_REDACT);
    ck_assert(pol_decision_rewrites(&dm, counts));
    pol_set_unref(enf);
    pol_set_unref(mon);
}
END_TEST

/* More matches than the decision holds: the first ones are kept, flagged. */
START_TEST(test_matched_overflow)
{
    struct cm_buf b;
    struct pol_set *ps;
    struct pol_input in;
    struct pol_decision d;

    cm_buf_init(&b);
    cm_buf_puts(&b, "id: many\nrules:\n");
    for (int k = 0; k < POL_MAX_MATCHED + 5; k++)
        cm_buf_printf(&b, "  - id: r%d\n", k);
    ps = parse_ok(b.p);
    input(&in);
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_uint_eq(d.nmatched, POL_MAX_MATCHED);
    ck_assert(d.matched_truncated);
    ck_assert_str_eq(d.matched[0].rule_id, "r0");
    pol_set_unref(ps);
    cm_buf_fini(&b);
}
END_TEST

/* pol_set_eval allocates nothing (the linker wraps malloc, calloc and
 * realloc in this binary). */
START_TEST(test_eval_allocates_nothing)
{
    struct pol_set *ps = parse_ok(cond_policy);
    struct pol_set *ps2 = parse_ok(prec_policy);
    const char *hr[] = {"hr"};
    struct pol_input in;
    struct pol_decision d;
    void *probe;

    /* the wrapper works (cm_malloc is in another object: not elided) */
    counting = 1;
    probe = cm_malloc(16);
    counting = 0;
    ck_assert_uint_eq(nallocs, 1);
    free(probe);
    nallocs = 0;

    input(&in);
    in.caller.groups = hr;
    in.caller.ngroups = 1;
    in.caller.principal = "svc-x";
    in.caller.tenant = "acme-eu";
    in.model = "ext-gpt";
    in.purpose = "fraud";
    in.modalities = POL_MOD_TEXT | POL_MOD_IMAGE;
    counts[POL_PII_EMAIL] = 5;
    counts[POL_PII_PHONE] = 1;
    counting = 1;
    for (int k = 0; k < 1000; k++) {
        pol_set_eval(ps, k % 2 ? POL_DIR_RESPONSE : POL_DIR_REQUEST, &in, &d);
        pol_set_eval(ps2, POL_DIR_REQUEST, &in, &d);
    }
    counting = 0;
    ck_assert_uint_eq(nallocs, 0);
    pol_set_unref(ps);
    pol_set_unref(ps2);
}
END_TEST

START_TEST(test_slot)
{
    struct pol_set *a = parse_ok("id: a\n"), *b = parse_ok("id: b\n"), *held;
    struct pol_slot slot;

    pol_slot_init(&slot, a);
    pol_set_unref(a); /* the slot holds its own reference */
    held = pol_slot_get(&slot);
    ck_assert_str_eq(pol_set_id(held), "a");
    pol_slot_set(&slot, b);
    pol_set_unref(b);
    /* a request that took "a" still has it after the swap */
    ck_assert_str_eq(pol_set_id(held), "a");
    pol_set_unref(held);
    held = pol_slot_get(&slot);
    ck_assert_str_eq(pol_set_id(held), "b");
    pol_set_unref(held);
    pol_slot_fini(&slot);
}
END_TEST

/* ------------------------------------------------------------ scanning */

static size_t
scan(const struct pol_set *ps, enum pol_dir dir, const char *text, struct pol_pii_spans *s)
{
    struct cm_err err = {{0}};

    pol_pii_spans_reset(s);
    ck_assert_int_eq(pol_pii_scan(text, strlen(text), POL_PII_ALL, s), CM_OK);
    ck_assert_msg(pol_set_scan(ps, dir, text, strlen(text), s, &err) == CM_OK, "%s", err.msg);
    for (size_t k = 1; k < s->n; k++)
        ck_assert(s->v[k - 1].end <= s->v[k].start);
    return s->n;
}

static const char *
span_text(const char *text, const struct pol_pii_span *sp, char *buf, size_t cap)
{
    size_t n = sp->end - sp->start < cap - 1 ? sp->end - sp->start : cap - 1;

    memcpy(buf, text + sp->start, n);
    buf[n] = '\0';
    return buf;
}

static const char *const scan_policy = "id: scan\n"
                                       "request:\n"
                                       "  PHONE: {action: mask, min_score: 0.8}\n"
                                       "recognizers:\n"
                                       "  - name: EMPLOYEE_ID\n"
                                       "    pattern: 'EMP-\\d{6}'\n"
                                       "    context: [employee, staff id]\n"
                                       "    window: 20\n"
                                       "  - name: TICKET\n"
                                       "    pattern: 'tk-[a-z]{4}'\n"
                                       "    ignore_case: true\n"
                                       "    score: 0.6\n"
                                       "  - name: BADGE\n"
                                       "    pattern: 'B\\d{4}'\n"
                                       "    context: [badge]\n"
                                       "    score_without_context: 0.3\n"
                                       "allow_list:\n"
                                       "  - values: [noreply@example.com, 'Jaguar   Cloud']\n"
                                       "    labels: [EMAIL, PERSON]\n"
                                       "  - pattern: 'support@[a-z]+\\.example\\.org'\n"
                                       "deny_list:\n"
                                       "  - label: PERSON\n"
                                       "    values: [Ada, Project Bluebird]\n"
                                       "  - label: EMPLOYEE_ID\n"
                                       "    pattern: 'CONTRACTOR-\\d+'\n";

START_TEST(test_scan_lists_and_recognizers)
{
    struct pol_set *ps = parse_ok(scan_policy);
    struct pol_pii_spans s;
    char buf[64];
    const char *t;
    int emp = pol_set_label_parse(ps, "EMPLOYEE_ID"), ticket = pol_set_label_parse(ps, "TICKET");

    ck_assert_int_eq(emp, POL_PII__COUNT);
    ck_assert_int_eq(ticket, POL_PII__COUNT + 1);
    ck_assert_uint_eq(pol_set_nlabels(ps), POL_PII__COUNT + 3);
    ck_assert_str_eq(pol_set_label_name(ps, (unsigned)emp), "EMPLOYEE_ID");
    ck_assert_str_eq(pol_set_label_name(ps, 63), "UNKNOWN");
    ck_assert(pol_set_scans(ps, POL_DIR_REQUEST));
    pol_pii_spans_init(&s);

    /* allow list: the no-reply address and the support pattern are not PII;
     * another address is */
    t = "write to noreply@example.com or support@eu.example.org or jane@example.com";
    ck_assert_uint_eq(scan(ps, POL_DIR_REQUEST, t, &s), 1);
    ck_assert_str_eq(span_text(t, &s.v[0], buf, sizeof(buf)), "jane@example.com");

    /* deny list: whole words, any case, white space runs match */
    t = "ada met Adams about project   bluebird";
    ck_assert_uint_eq(scan(ps, POL_DIR_REQUEST, t, &s), 2);
    ck_assert_int_eq(s.v[0].label, POL_PII_PERSON);
    ck_assert_str_eq(span_text(t, &s.v[0], buf, sizeof(buf)), "ada");
    ck_assert_str_eq(span_text(t, &s.v[1], buf, sizeof(buf)), "project   bluebird");

    /* recognizer with context: found only near its words */
    t = "employee EMP-123456 and EMP-654321 far away from any such word here";
    ck_assert_uint_eq(scan(ps, POL_DIR_REQUEST, t, &s), 1);
    ck_assert_int_eq(s.v[0].label, emp);
    ck_assert_str_eq(span_text(t, &s.v[0], buf, sizeof(buf)), "EMP-123456");
    t = "EMP-123456 is my Staff  ID";
    ck_assert_uint_eq(scan(ps, POL_DIR_REQUEST, t, &s), 1);
    /* the context word must be a word: "employees" is not "employee" */
    t = "employees EMP-123456";
    ck_assert_uint_eq(scan(ps, POL_DIR_REQUEST, t, &s), 0);
    /* deny-list pattern adds to a custom label */
    t = "CONTRACTOR-77 joined";
    ck_assert_uint_eq(scan(ps, POL_DIR_REQUEST, t, &s), 1);
    ck_assert_int_eq(s.v[0].label, emp);

    /* recognizer without context words: every match, its own score */
    t = "see TK-abcd and tk-ABCD";
    ck_assert_uint_eq(scan(ps, POL_DIR_REQUEST, t, &s), 2);
    ck_assert_int_eq(s.v[0].label, ticket);
    ck_assert(s.v[0].score > 0.59f && s.v[0].score < 0.61f);

    /* score_without_context: kept with the lower score */
    t = "B1234 stands alone here, and quite far from the word; badge B5678";
    ck_assert_uint_eq(scan(ps, POL_DIR_REQUEST, t, &s), 2);
    ck_assert(s.v[0].score < 0.31f);
    ck_assert(s.v[1].score > 0.99f);

    /* score threshold per direction: a weak phone is dropped in requests */
    t = "call 415-555-0132";
    {
        struct pol_pii_spans raw;
        size_t n;

        pol_pii_spans_init(&raw);
        ck_assert_int_eq(pol_pii_scan(t, strlen(t), POL_PII_ALL, &raw), CM_OK);
        ck_assert_uint_eq(raw.n, 1);
        n = scan(ps, POL_DIR_REQUEST, t, &s);
        ck_assert_uint_eq(n, raw.v[0].score >= 0.8f ? 1 : 0);
        ck_assert_uint_eq(scan(ps, POL_DIR_RESPONSE, t, &s), 1);
        pol_pii_spans_fini(&raw);
    }
    pol_pii_spans_fini(&s);
    pol_set_unref(ps);
}
END_TEST

/* Overlaps: the deny list beats the classifier; then higher score wins. */
START_TEST(test_scan_overlaps)
{
    struct pol_set *ps = parse_ok("id: o\n"
                                  "recognizers:\n"
                                  "  - {name: HANDLE, pattern: '[a-z.]+@example\\.com', score: "
                                  "0.5}\n"
                                  "  - {name: DOMAIN, pattern: 'example\\.com', score: 1.0}\n"
                                  "deny_list:\n"
                                  "  - {label: SECRET, values: ['jane.doe']}\n");
    struct pol_pii_spans s;
    char buf[64];
    const char *t = "mail jane.doe@example.com";

    pol_pii_spans_init(&s);
    scan(ps, POL_DIR_REQUEST, t, &s);
    /* Greedy by priority: the listed SECRET "jane.doe" first; the e-mail
     * address and HANDLE overlap it and lose; DOMAIN still fits. */
    ck_assert_uint_eq(s.n, 2);
    ck_assert_int_eq(s.v[0].label, POL_PII_SECRET);
    ck_assert_str_eq(span_text(t, &s.v[0], buf, sizeof(buf)), "jane.doe");
    ck_assert_str_eq(pol_set_label_name(ps, s.v[1].label), "DOMAIN");
    pol_pii_spans_fini(&s);
    pol_set_unref(ps);
}
END_TEST

/* A custom label through the body: detected, counted, rewritten by name. */
START_TEST(test_custom_label_in_body)
{
    struct pol_set *ps = parse_ok("id: body\n"
                                  "request:\n"
                                  "  EMPLOYEE_ID: redact\n"
                                  "  EMAIL: {action: mask, keep: 2}\n"
                                  "  CUSTOMER: hash\n"
                                  "recognizers:\n"
                                  "  - {name: EMPLOYEE_ID, pattern: 'EMP-\\d{6}'}\n"
                                  "  - {name: CUSTOMER, pattern: 'C-\\d{4}'}\n");
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"EMP-123456 and C-1234 wrote bob@example.com\"}]}";
    struct cm_arena *arena = cm_arena_new(4096);
    struct pol_body_limits lim = {.max_depth = 64};
    struct pol_body *b;
    struct cm_err err = {{0}};
    unsigned c[POL_LABEL_MAX] = {0};
    enum pol_pii_op ops[POL_LABEL_MAX];
    struct pol_pii_redact_opts ro = {0};
    struct pol_input in;
    struct pol_decision d;
    struct cm_buf out;
    size_t nrep;

    ck_assert_int_eq(pol_body_parse(arena, POL_ROUTE_CHAT, POL_DIR_REQUEST, body, strlen(body),
                                    &lim, ps, &b, &err),
                     CM_OK);
    pol_body_counts(b, c);
    ck_assert_uint_eq(c[POL_PII__COUNT], 1);
    ck_assert_uint_eq(c[POL_PII__COUNT + 1], 1);
    ck_assert_uint_eq(c[POL_PII_EMAIL], 1);
    input(&in);
    in.counts = c;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    pol_decision_ops(&d, ps, ops, &ro);
    cm_buf_init(&out);
    ck_assert_int_eq(pol_body_rewrite(b, ops, &ro, &out, &nrep), CM_OK);
    cm_buf_putc(&out, '\0');
    ck_assert_msg(strstr(out.p, "<EMPLOYEE_ID> and <CUSTOMER:") != NULL, "%s", out.p);
    ck_assert_msg(strstr(out.p, "wrote *************om") != NULL, "%s", out.p);
    ck_assert(strstr(out.p, "EMP-123456") == NULL);
    cm_buf_fini(&out);
    cm_arena_free(arena);
    pol_set_unref(ps);
}
END_TEST

/* Pseudonymise in the request, restore in the answer: built-in and
 * custom labels, originals JSON-escaped where they go back in. */
START_TEST(test_pseudonym_restore)
{
    struct pol_set *ps = parse_ok("id: restore\n"
                                  "request: {EMAIL: pseudonymise, TICKET: pseudonymise}\n"
                                  "recognizers:\n"
                                  "  - {name: TICKET, pattern: 'T\"\\d{4}'}\n");
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"ticket T\\\"1234 from bo@example.com\"}]}";
    struct cm_arena *arena = cm_arena_new(4096);
    struct pol_body_limits lim = {.max_depth = 64};
    struct pol_body *b;
    struct cm_err err = {{0}};
    unsigned c[POL_LABEL_MAX] = {0};
    enum pol_pii_op ops[POL_LABEL_MAX];
    struct pol_pii_redact_opts ro = {0};
    struct pol_pii_vault *vault = pol_pii_vault_new();
    struct pol_input in;
    struct pol_decision d;
    struct cm_buf out, answer, restored;
    const char *ph_email, *ph_ticket, *end;
    size_t nrep;

    ck_assert_int_eq(pol_body_parse(arena, POL_ROUTE_CHAT, POL_DIR_REQUEST, body, strlen(body),
                                    &lim, ps, &b, &err),
                     CM_OK);
    pol_body_counts(b, c);
    ck_assert_uint_eq(c[POL_PII_EMAIL], 1);
    ck_assert_uint_eq(c[POL_PII__COUNT], 1);
    input(&in);
    in.counts = c;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    pol_decision_ops(&d, ps, ops, &ro);
    cm_buf_init(&out);
    ck_assert_int_eq(pol_body_rewrite_v(b, ops, &ro, vault, &out, &nrep), CM_OK);
    cm_buf_putc(&out, '\0');
    ck_assert_uint_eq(pol_pii_vault_count(vault), 2);
    ck_assert_msg(strstr(out.p, "bo@example.com") == NULL && strstr(out.p, "1234") == NULL, "%s",
                  out.p);
    ph_email = strstr(out.p, "<EMAIL_");
    ph_ticket = strstr(out.p, "<TICKET_");
    ck_assert_ptr_nonnull(ph_email);
    ck_assert_ptr_nonnull(ph_ticket);

    /* The model answers with both placeholders; the client gets the originals. */
    cm_buf_init(&answer);
    cm_buf_puts(&answer, "{\"choices\":[{\"message\":{\"content\":\"Re ");
    end = strchr(ph_ticket, '>');
    cm_buf_append(&answer, ph_ticket, (size_t)(end - ph_ticket) + 1);
    cm_buf_puts(&answer, " for ");
    end = strchr(ph_email, '>');
    cm_buf_append(&answer, ph_email, (size_t)(end - ph_email) + 1);
    cm_buf_puts(&answer, ", not <EMAIL_00000000> <\"}}]}");
    cm_buf_init(&restored);
    ck_assert_uint_eq(pol_body_restore(vault, answer.p, answer.len, &restored), 2);
    cm_buf_putc(&restored, '\0');
    ck_assert_str_eq(restored.p, "{\"choices\":[{\"message\":{\"content\":\"Re T\\\"1234 for "
                                 "bo@example.com, not <EMAIL_00000000> <\"}}]}");
    /* no vault, nothing restored, bytes unchanged */
    cm_buf_reset(&restored);
    ck_assert_uint_eq(pol_body_restore(NULL, answer.p, answer.len, &restored), 0);
    ck_assert_uint_eq(restored.len, answer.len);
    cm_buf_fini(&restored);
    cm_buf_fini(&answer);
    cm_buf_fini(&out);
    pol_pii_vault_free(vault);
    cm_arena_free(arena);
    pol_set_unref(ps);
}
END_TEST

START_TEST(test_pii_keys)
{
    char path[] = "/tmp/test_piikey_XXXXXX";
    const char *hex = "  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    struct pol_pii_keys k;
    struct pol_tenant_keys a, b, a2;
    struct pol_pii_redact_opts ro = {0};
    struct cm_err err = {{0}};
    int fd = mkstemp(path);
    FILE *f;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, hex, strlen(hex)), (ssize_t)strlen(hex));
    close(fd);
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_msg(pol_pii_keys_load(path, &k, &err) == CM_OK, "%s", err.msg);
    ck_assert_uint_eq(k.len, 32);
    pol_pii_keys_derive(&k, "acme", &a);
    pol_pii_keys_derive(&k, "acme", &a2);
    pol_pii_keys_derive(&k, "globex", &b);
    ck_assert(memcmp(&a, &a2, sizeof(a)) == 0);
    ck_assert(memcmp(a.pseudonym, b.pseudonym, sizeof(a.pseudonym)) != 0);
    ck_assert(memcmp(a.hash, a.pseudonym, sizeof(a.hash)) != 0);
    pol_tenant_keys_apply(&a, &ro);
    ck_assert_ptr_eq(ro.enc_key, a.enc);
    ck_assert_uint_eq(ro.enc_key_len, 32);
    /* too short, not hex, readable by others */
    f = fopen(path, "w");
    fputs("abcd\n", f);
    fclose(f);
    ck_assert_int_eq(pol_pii_keys_load(path, &k, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, "openssl rand -hex 32") != NULL, "%s", err.msg);
    ck_assert_uint_eq(k.len, 0);
    f = fopen(path, "w");
    fputs(hex, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, 0604), 0);
    ck_assert_int_eq(pol_pii_keys_load(path, &k, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, "chmod 600") != NULL, "%s", err.msg);
    unlink(path);
}
END_TEST

/* A pattern that backtracks without end fails closed (CM_EINTERNAL). */
START_TEST(test_scan_match_limit)
{
    struct pol_set *ps = parse_ok("id: slow\nrecognizers:\n"
                                  "  - {name: SLOW, pattern: '(a|aa)+$'}\n");
    struct pol_pii_spans s;
    struct cm_err err = {{0}};
    char text[4096];
    int rc;

    memset(text, 'a', sizeof(text) - 2);
    text[sizeof(text) - 2] = 'b';
    text[sizeof(text) - 1] = '\0';
    pol_pii_spans_init(&s);
    rc = pol_set_scan(ps, POL_DIR_REQUEST, text, strlen(text), &s, &err);
    /* JIT may solve it within the limit; the interpreter may not: either
     * way no hang, and a failure is reported, not swallowed */
    ck_assert(rc == CM_OK || rc == CM_EINTERNAL);
    if (rc == CM_EINTERNAL)
        ck_assert_msg(strstr(err.msg, "recognizers/0") != NULL, "%s", err.msg);
    pol_pii_spans_fini(&s);
    pol_set_unref(ps);
}
END_TEST

/* ------------------------------------------------------------ explain */

START_TEST(test_explain_rule)
{
    struct pol_set *ps = parse_ok(cond_policy);
    const char *hr[] = {"hr"};
    struct pol_input in;
    struct cm_buf b;

    input(&in);
    in.caller.groups = hr;
    in.caller.ngroups = 1;
    in.model = "ext-gpt";
    cm_buf_init(&b);
    pol_set_explain_rule(ps, 0, POL_DIR_REQUEST, &in, &b);
    ck_assert_msg(strstr(b.p, "yes groups: the caller is in \"hr\"") != NULL, "%s", b.p);
    ck_assert_msg(strstr(b.p, "no  model \"ext-gpt\" matches none of [\"internal-*\"]") != NULL,
                  "%s", b.p);
    ck_assert_msg(strstr(b.p, "=> matches: HR may only use the internal model") != NULL, "%s", b.p);
    cm_buf_reset(&b);
    counts[POL_PII_EMAIL] = 1;
    pol_set_explain_rule(ps, 3, POL_DIR_REQUEST, &in, &b);
    ck_assert_msg(strstr(b.p, "no  findings: 1 EMAIL, the rule wants at least 3") != NULL, "%s",
                  b.p);
    ck_assert_msg(strstr(b.p, "=> does not match") != NULL, "%s", b.p);
    cm_buf_fini(&b);
    pol_set_unref(ps);
}
END_TEST

/* ------------------------------------------------------------ keys */

START_TEST(test_keys)
{
    char key[POL_KEY_LEN], key2[POL_KEY_LEN], hash[POL_KEY_HASH_LEN];
    const char *groups[] = {"hr", "eng"}, *purposes[] = {"hr-case"};
    struct pol_caller c = {.principal = "alice",
                           .tenant = "acme",
                           .groups = groups,
                           .ngroups = 2,
                           .purposes = purposes,
                           .npurposes = 1};
    struct pol_caller got;
    struct pol_keys *keys;
    struct cm_err err = {{0}};
    struct cm_buf file;

    ck_assert_int_eq(pol_keys_generate(key), CM_OK);
    ck_assert_int_eq(pol_keys_generate(key2), CM_OK);
    ck_assert_uint_eq(strlen(key), POL_KEY_LEN - 1);
    ck_assert(strncmp(key, "stw_", 4) == 0);
    ck_assert_str_ne(key, key2);
    pol_keys_hash(key, strlen(key), hash);
    ck_assert(strncmp(hash, "sha256:", 7) == 0);
    ck_assert_uint_eq(strlen(hash), POL_KEY_HASH_LEN - 1);

    cm_buf_init(&file);
    cm_buf_puts(&file, "# keys\n\n");
    pol_keys_line(hash, &c, "laptop", &file);
    pol_keys_hash(key2, strlen(key2), hash);
    c.principal = "bob";
    c.tenant = NULL;
    c.ngroups = c.npurposes = 0;
    pol_keys_line(hash, &c, NULL, &file);
    ck_assert_msg(pol_keys_parse("k", file.p, file.len, &keys, &err) == CM_OK, "%s", err.msg);
    ck_assert_uint_eq(pol_keys_count(keys), 2);
    ck_assert(pol_keys_find(keys, key, strlen(key), &got));
    ck_assert_str_eq(got.principal, "alice");
    ck_assert_str_eq(got.tenant, "acme");
    ck_assert_uint_eq(got.ngroups, 2);
    ck_assert_str_eq(got.groups[1], "eng");
    ck_assert_uint_eq(got.npurposes, 1);
    ck_assert(pol_keys_find(keys, key2, strlen(key2), &got));
    ck_assert_str_eq(got.principal, "bob");
    ck_assert_ptr_null(got.tenant);
    ck_assert(!pol_keys_find(keys, key, strlen(key) - 1, &got));
    ck_assert(!pol_keys_find(keys, "", 0, &got));
    /* the key itself is nowhere in the file */
    ck_assert(strstr(file.p, key) == NULL);
    pol_keys_unref(keys);
    cm_buf_fini(&file);
}
END_TEST

struct keys_err_case {
    const char *text, *what;
};

static const struct keys_err_case keys_err_cases[] = {
    {"{\"hash\": \"sha256:00\", \"principal\": \"a\"}\n", "k:1:1: /hash: expected \"sha256:\""},
    {"\n{\"hash\": \"md5:x\"}\n", "k:2:1: /hash"},
    {"{\"principal\": \"a\", \"hash\": \"sha256:"
     "zz00000000000000000000000000000000000000000000000000000000000000\"}\n",
     "k:1:1: /hash: not 64 hex digits"},
    {"{\"hash\": \"sha256:"
     "0000000000000000000000000000000000000000000000000000000000000000\"}\n",
     "k:1:1: /principal: required"},
    {"{\"hash\": \"sha256:"
     "0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"a\", "
     "\"role\": \"x\"}\n",
     "k:1:1: /role: unknown key"},
    {"{\"hash\": \"sha256:"
     "0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"a\", "
     "\"groups\": \"hr\"}\n",
     "k:1:1: /groups: expected an array"},
    {"{\"hash\": \"sha256:"
     "0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"a\"}\n"
     "{\"hash\": \"sha256:"
     "0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"b\"}\n",
     "k:2:1: /hash: the same key is listed twice"},
    {"{\"hash\": ", "k:1:"},
    {"[1]\n", "k:1:1: expected one JSON object per line"},
};

START_TEST(test_keys_errors)
{
    const struct keys_err_case *c = &keys_err_cases[_i];
    struct pol_keys *keys = (struct pol_keys *)1;
    struct cm_err err = {{0}};

    ck_assert_int_eq(pol_keys_parse("k", c->text, strlen(c->text), &keys, &err), CM_EINPUT);
    ck_assert_ptr_null(keys);
    ck_assert_msg(strstr(err.msg, c->what) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err.msg,
                  c->what);
}
END_TEST

START_TEST(test_keys_file_mode)
{
    char path[] = "/tmp/test_keys_XXXXXX";
    int fd = mkstemp(path);
    struct pol_keys *keys;
    struct cm_err err = {{0}};

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "# none\n", 7), 7);
    close(fd);
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_msg(pol_keys_load(path, &keys, &err) == CM_OK, "%s", err.msg);
    ck_assert_uint_eq(pol_keys_count(keys), 0);
    pol_keys_unref(keys);
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(pol_keys_load(path, &keys, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, "chmod 600") != NULL, "%s", err.msg);
    unlink(path);
    ck_assert_int_eq(pol_keys_load(path, &keys, &err), CM_EIO);
}
END_TEST

/* ------------------------------------------------------------ policy tests */

/* Every shipped example passes its own cases (as `steward-policy test`). */
static const char *const examples[][2] = {
    {"deploy/policies/default.json", "deploy/policies/tests/default.cases.yaml"},
    {"deploy/policies/hr-internal-only.yaml", "deploy/policies/tests/hr-internal-only.cases.yaml"},
    {"deploy/policies/no-cards-external.yaml",
     "deploy/policies/tests/no-cards-external.cases.yaml"},
    {"deploy/policies/names-pseudonymised.yaml",
     "deploy/policies/tests/names-pseudonymised.cases.yaml"},
    {"deploy/policies/monitor-rollout.yaml", "deploy/policies/tests/monitor-rollout.cases.yaml"},
    {"deploy/policies/acme-full.yaml", "deploy/policies/tests/acme-full.cases.yaml"},
};

START_TEST(test_examples)
{
    struct pol_set *ps;
    struct pol_cases_result res;
    struct cm_err err = {{0}};

    if (access(examples[_i][0], R_OK) != 0) {
        fprintf(stderr, "test_examples: %s not found, run from the repo root\n", examples[_i][0]);
        return;
    }
    ck_assert_msg(pol_set_load(examples[_i][0], &ps, &err) == CM_OK, "%s", err.msg);
    ck_assert_msg(pol_cases_run(ps, examples[_i][1], stderr, false, &res, &err) == CM_OK, "%s",
                  err.msg);
    ck_assert_msg(res.failed == 0, "%s: %zu cases failed", examples[_i][1], res.failed);
    ck_assert_uint_gt(res.passed, 2);
    pol_set_unref(ps);
}
END_TEST

/* A table whose expectations are wrong fails, and says why. */
START_TEST(test_cases_fail)
{
    struct pol_set *ps =
        parse_ok("id: c\nrequest: {EMAIL: redact}\n"
                 "rules:\n  - {id: ext, match: {model: 'ext-*'}, decision: deny}\n");
    char path[] = "/tmp/test_cases_XXXXXX.yaml";
    const char *cases =
        "cases:\n"
        "  - name: right\n"
        "    model: ext-a\n"
        "    expect: {decision: deny, rule: ext, status: 403, matched: [ext]}\n"
        "  - name: wrong decision\n"
        "    model: int-a\n"
        "    findings: {EMAIL: 1}\n"
        "    expect: {decision: allow, actions: {EMAIL: mask}}\n"
        "  - name: body\n"
        "    body: {model: int, messages: [{role: user, content: 'a@example.com'}]}\n"
        "    expect: {decision: redact, findings: {EMAIL: 1}, output_contains: "
        "['<EMAIL>'], output_excludes: ['a@example.com']}\n";
    struct pol_cases_result res;
    struct cm_err err = {{0}};
    char out[2048] = {0};
    FILE *f;
    int fd = mkstemps(path, 5);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, cases, strlen(cases)), (ssize_t)strlen(cases));
    close(fd);
    f = fmemopen(out, sizeof(out) - 1, "w");
    ck_assert_msg(pol_cases_run(ps, path, f, true, &res, &err) == CM_OK, "%s", err.msg);
    fclose(f);
    ck_assert_uint_eq(res.passed, 2);
    ck_assert_uint_eq(res.failed, 1);
    ck_assert_msg(strstr(out, "FAIL wrong decision: decision: expected allow, got redact; action "
                              "of EMAIL: expected mask, got redact") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "ok   right") != NULL, "%s", out);

    /* a malformed table is an error with a position, not a pass */
    f = fopen(path, "w");
    fputs("cases:\n  - name: x\n    expect: {decison: deny}\n", f);
    fclose(f);
    ck_assert_int_eq(pol_cases_run(ps, path, stderr, false, &res, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, ":3:14: /cases/0/expect/decison: unknown key") != NULL, "%s",
                  err.msg);
    f = fopen(path, "w");
    fputs("cases:\n  - name: x\n    findings: {EMAILS: 1}\n    expect: {decision: deny}\n", f);
    fclose(f);
    ck_assert_int_eq(pol_cases_run(ps, path, stderr, false, &res, &err), CM_EINPUT);
    ck_assert_msg(strstr(err.msg, "unknown entity type \"EMAILS\"") != NULL, "%s", err.msg);
    unlink(path);
    pol_set_unref(ps);
}
END_TEST

static Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("load");

    tcase_add_loop_test(tc, test_load_errors, 0, (int)CM_ARRAY_LEN(err_cases));
    tcase_add_test(tc, test_hash_stable);
    tcase_add_test(tc, test_yaml_scalars);
    tcase_add_test(tc, test_load_file_and_refs);
    suite_add_tcase(s, tc);

    tc = tcase_create("eval");
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_action_order);
    tcase_add_test(tc, test_rules_globs_order);
    tcase_add_loop_test(tc, test_globs, 0, (int)CM_ARRAY_LEN(glob_cases));
    tcase_add_test(tc, test_conditions);
    tcase_add_test(tc, test_purpose_binding);
    tcase_add_test(tc, test_monitor_mode);
    tcase_add_test(tc, test_matched_overflow);
    tcase_add_test(tc, test_eval_allocates_nothing);
    tcase_add_test(tc, test_slot);
    tcase_add_test(tc, test_explain_rule);
    suite_add_tcase(s, tc);

    tc = tcase_create("scan");
    tcase_add_test(tc, test_scan_lists_and_recognizers);
    tcase_add_test(tc, test_scan_overlaps);
    tcase_add_test(tc, test_custom_label_in_body);
    tcase_add_test(tc, test_pseudonym_restore);
    tcase_add_test(tc, test_scan_match_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_test(tc, test_keys);
    tcase_add_loop_test(tc, test_keys_errors, 0, (int)CM_ARRAY_LEN(keys_err_cases));
    tcase_add_test(tc, test_keys_file_mode);
    tcase_add_test(tc, test_pii_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("cases");
    tcase_add_loop_test(tc, test_examples, 0, (int)CM_ARRAY_LEN(examples));
    tcase_add_test(tc, test_cases_fail);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(policy_suite());
}
