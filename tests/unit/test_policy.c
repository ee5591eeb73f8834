/* SPDX-License-Identifier: Apache-2.0
 *
 * test_policy: policy load errors (each with its message and position),
 * action precedence (deny > hash > redact > mask > allow), model globs, rule
 * order and the matched list, entity denies, and the content hash (stable
 * under key order and white space).  The shipped deploy/policies/default.json
 * is checked when the test runs from the repository root.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/pol_policy.h"

static struct pol_set *
parse_ok(const char *json)
{
    struct pol_set *ps = NULL;
    struct cm_err err = {{0}};
    int rc = pol_set_parse("t.json", json, strlen(json), &ps, &err);

    ck_assert_msg(rc == CM_OK, "parse failed: %s", err.msg);
    ck_assert_ptr_nonnull(ps);
    return ps;
}

struct err_case {
    const char *json;
    const char *where; /* "t.json:L:C: " prefix */
    const char *what;  /* substring of the message */
};

static const struct err_case err_cases[] = {
    {"{\"id\": \"x\",}", "t.json:1:", "'}'"},
    {"{\"id\": \"x\",\n \"id\": \"y\"}", "t.json:2:", "duplicate object key"},
    {"{\"id\": \"x\",\n  \"mood\": \"enforce\"}", "t.json:2:3: ", "/mood: unknown key"},
    {"{\"mode\": \"enforce\"}", "t.json:1:1: ", "/: policy without \"id\""},
    {"{\"id\": \"\"}", "t.json:1:8: ", "/id: expected a non-empty string"},
    {"{\"id\": \"x\", \"mode\": \"audit\"}", "t.json:1:21: ", "/mode: expected \"enforce\" or"},
    {"{\"id\": \"x\",\n \"request\": {\"EMAIL2\": \"redact\"}}",
     "t.json:2:14: ", "/request/EMAIL2: unknown label \"EMAIL2\""},
    {"{\"id\": \"x\",\n \"request\": {\"EMAIL\": \"zap\"}}",
     "t.json:2:23: ", "/request/EMAIL: unknown action \"zap\""},
    {"{\"id\": \"x\", \"response\": {\"EMAIL\": 1}}",
     "t.json:1:35: ", "/response/EMAIL: expected an action string, got an integer"},
    {"{\"id\": \"x\", \"request\": []}", "t.json:1:24: ", "/request: expected an object"},
    {"{\"id\": \"x\",\n \"rules\": [\n  {\"decision\": \"deny\"}]}",
     "t.json:3:3: ", "/rules/0: rule without \"id\""},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\"},\n  {\"id\": \"a\"}]}",
     "t.json:2:10: ", "/rules/1/id: duplicate rule id \"a\""},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"decision\": \"deny\", \"status\": 200}]}",
     "t.json:1:", "/rules/0/status: expected an integer HTTP status 400-599"},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"status\": 451}]}",
     "t.json:1:", "/rules/0/status: a status needs \"decision\": \"deny\""},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"decision\": \"block\"}]}",
     "t.json:1:", "/rules/0/decision: expected \"allow\" or \"deny\""},
    {"{\"id\": \"x\", \"mask_keep\": \"4\"}", "t.json:1:26: ", "/mask_keep: expected an integer"},
    {"{\"id\": \"x\", \"mask_keep\": 65}", "t.json:1:", "/mask_keep: expected an integer 0-64"},
    {"{\"id\": \"x\",\n \"rules\": [{\"id\": \"a\",\n   \"match\": {\"modle\": \"x\"}}]}",
     "t.json:3:14: ", "/rules/0/match/modle: unknown key"},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"match\": {\"findings\": [\"EMAIL\", "
     "\"NAME\"]}}]}",
     "t.json:1:", "/rules/0/match/findings/1: unknown label \"NAME\""},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"match\": {\"route\": \"chats\"}}]}",
     "t.json:1:", "/rules/0/match/route: unknown value \"chats\""},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"match\": {\"model\": [\"a\", 3]}}]}",
     "t.json:1:", "/rules/0/match/model/1: expected a non-empty string, got an integer"},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"match\": {\"tenant\": []}}]}",
     "t.json:1:", "/rules/0/match/tenant: empty array"},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"actions\": {\"PHONE\": \"pseudonymise\"}}]}",
     "t.json:1:", "/rules/0/actions/PHONE: unknown action"},
    {"{\"id\": \"x\", \"rules\": [{\"id\": \"a\", \"colour\": 1}]}",
     "t.json:1:", "/rules/0/colour: unknown key"},
    {"{\"id\": \"x\", \"rules\": {}}", "t.json:1:", "/rules: expected an array of rules"},
    {"{\"id\": \"x\", \"rules\": [\"a\"]}", "t.json:1:", "/rules/0: expected a rule object"},
    {"[1, 2]", "t.json:1:1: ", "a policy is a JSON object"},
    {"", "t.json:", "'[' or '{' expected"},
};

START_TEST(test_load_errors)
{
    const struct err_case *c = &err_cases[_i];
    struct pol_set *ps = (struct pol_set *)1;
    struct cm_err err = {{0}};
    int rc = pol_set_parse("t.json", c->json, strlen(c->json), &ps, &err);

    ck_assert_int_eq(rc, CM_EINPUT);
    ck_assert_ptr_null(ps);
    ck_assert_msg(strncmp(err.msg, c->where, strlen(c->where)) == 0,
                  "case %d: \"%s\" does not start with \"%s\"", _i, err.msg, c->where);
    ck_assert_msg(strstr(err.msg, c->what) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err.msg,
                  c->what);
}
END_TEST

static const char *const prec_policy =
    "{ \"id\": \"prec\", \"mode\": \"monitor\", \"mask_keep\": 2,"
    "  \"request\": { \"EMAIL\": \"mask\", \"PHONE\": \"hash\", \"US_SSN\": \"deny\" },"
    "  \"response\": { \"EMAIL\": \"redact\" },"
    "  \"rules\": ["
    "    { \"id\": \"r-redact\", \"actions\": { \"EMAIL\": \"redact\", \"PHONE\": \"mask\" } },"
    "    { \"id\": \"r-hash\", \"match\": { \"tenant\": \"acme\" },"
    "      \"actions\": { \"EMAIL\": \"hash\", \"IP_ADDRESS\": \"mask\" } },"
    "    { \"id\": \"r-deny-ip\", \"match\": { \"principal\": [\"bob\", \"eve\"] },"
    "      \"actions\": { \"IP_ADDRESS\": \"deny\" } }"
    "  ] }";

START_TEST(test_precedence)
{
    struct pol_set *ps = parse_ok(prec_policy);
    unsigned counts[POL_PII__COUNT] = {0};
    struct pol_input in = {.counts = counts};
    struct pol_decision d;
    enum pol_pii_op ops[POL_PII__COUNT];

    ck_assert_int_eq(pol_set_mode(ps), POL_MODE_MONITOR);
    ck_assert_str_eq(pol_mode_name(pol_set_mode(ps)), "monitor");
    ck_assert_uint_eq(pol_set_redact_opts(ps)->mask_keep, 2);

    /* base mask, rule redact: redact; base hash beats rule mask */
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_REDACT);
    ck_assert_int_eq(d.actions[POL_PII_PHONE], POL_ACT_HASH);
    ck_assert_int_eq(d.actions[POL_PII_CREDIT_CARD], POL_ACT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_US_SSN], POL_ACT_DENY);
    ck_assert_uint_eq(d.nmatched, 1);
    ck_assert_str_eq(d.matched[0], "r-redact");

    /* redact < hash */
    in.tenant = "acme";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_HASH);
    ck_assert_int_eq(d.actions[POL_PII_IP_ADDRESS], POL_ACT_MASK);
    ck_assert_uint_eq(d.nmatched, 2);

    /* hash < deny; the deny needs a finding to decide */
    in.principal = "eve";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.actions[POL_PII_IP_ADDRESS], POL_ACT_DENY);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_uint_eq(d.nmatched, 3);
    ck_assert_str_eq(d.matched[2], "r-deny-ip");
    counts[POL_PII_IP_ADDRESS] = 1;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_DENY);
    ck_assert_int_eq(d.status, 403);
    ck_assert_str_eq(d.rule_id, "request.IP_ADDRESS");
    ck_assert_ptr_nonnull(d.reason);

    /* entity deny from the direction's own map */
    counts[POL_PII_IP_ADDRESS] = 0;
    counts[POL_PII_US_SSN] = 2;
    in.principal = NULL;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_DENY);
    ck_assert_str_eq(d.rule_id, "request.US_SSN");
    /* the response direction has its own map: no deny there */
    pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_US_SSN], POL_ACT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_HASH); /* r-hash, tenant acme */

    pol_decision_ops(&d, ops);
    ck_assert_int_eq(ops[POL_PII_EMAIL], POL_PII_OP_HASH);
    ck_assert_int_eq(ops[POL_PII_US_SSN], POL_PII_KEEP);
    ck_assert_int_eq(ops[POL_PII_PHONE], POL_PII_OP_MASK);
    d.actions[POL_PII_US_SSN] = POL_ACT_DENY;
    d.actions[POL_PII_PHONE] = POL_ACT_REDACT;
    pol_decision_ops(&d, ops);
    ck_assert_int_eq(ops[POL_PII_US_SSN], POL_PII_OP_REDACT);
    ck_assert_int_eq(ops[POL_PII_PHONE], POL_PII_OP_REDACT);
    pol_set_unref(ps);
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
    "    { \"id\": \"all\", \"decision\": \"allow\" }"
    "  ] }";

START_TEST(test_rules_globs_order)
{
    struct pol_set *ps = parse_ok(rules_policy);
    unsigned counts[POL_PII__COUNT] = {0};
    struct pol_input in = {.counts = counts, .model = "internal-llm", .route = "chat"};
    struct pol_decision d;

    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_uint_eq(d.nmatched, 1);
    ck_assert_str_eq(d.matched[0], "all");
    ck_assert_ptr_null(d.rule_id);

    in.model = "external-gpt4";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_uint_eq(d.nmatched, 2);
    ck_assert_str_eq(d.matched[0], "audit-external");
    ck_assert_str_eq(d.matched[1], "all");

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
    ck_assert_str_eq(d.matched[2], "legal");

    /* "gpt-?" matches one character only; "external-*" needs the prefix */
    in.model = "gpt-4";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "cards-out");
    in.model = "gpt-4o";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_str_eq(d.rule_id, "legal");
    ck_assert_int_eq(d.status, 451);
    in.model = "my-external-x";
    in.route = "embedding";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    /* a NULL input never matches a condition on it */
    in.model = NULL;
    in.route = "chat";
    in.purpose = NULL;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_uint_eq(d.nmatched, 1);
    pol_set_unref(ps);
}
END_TEST

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

    ck_assert_uint_eq(strlen(pol_set_hash(a)), 64);
    ck_assert_str_eq(pol_set_hash(a), pol_set_hash(b));
    ck_assert_str_ne(pol_set_hash(a), pol_set_hash(c));
    ck_assert_str_eq(pol_set_id(a), "h");
    ck_assert_int_eq(pol_set_mode(a), POL_MODE_ENFORCE);
    ck_assert_uint_eq(pol_set_redact_opts(a)->mask_keep, 4);
    pol_set_unref(a);
    pol_set_unref(b);
    pol_set_unref(c);
}
END_TEST

START_TEST(test_load_file_and_refs)
{
    char path[] = "/tmp/test_policy_XXXXXX";
    int fd = mkstemp(path);
    const char *json = "{\"id\": \"file\",\n \"mode\": \"enforce\"}\n";
    struct pol_set *ps, *ps2;
    struct cm_err err = {{0}};

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    ck_assert_int_eq(pol_set_load(path, &ps, &err), CM_OK);
    ck_assert_str_eq(pol_set_id(ps), "file");
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

START_TEST(test_names)
{
    ck_assert_str_eq(pol_action_name(POL_ACT_ALLOW), "allow");
    ck_assert_str_eq(pol_action_name(POL_ACT_MASK), "mask");
    ck_assert_str_eq(pol_action_name(POL_ACT_REDACT), "redact");
    ck_assert_str_eq(pol_action_name(POL_ACT_HASH), "hash");
    ck_assert_str_eq(pol_action_name(POL_ACT_DENY), "deny");
    ck_assert_str_eq(pol_mode_name(POL_MODE_ENFORCE), "enforce");
}
END_TEST

/* The shipped default policy (when run from the repository root). */
START_TEST(test_default_policy)
{
    const char *path = "deploy/policies/default.json";
    struct pol_set *ps;
    struct cm_err err = {{0}};
    unsigned counts[POL_PII__COUNT] = {0};
    struct pol_input in = {.counts = counts, .model = "external-gpt"};
    struct pol_decision d;

    if (access(path, R_OK) != 0) {
        fprintf(stderr, "test_default_policy: %s not found, run from the repo root\n", path);
        return;
    }
    ck_assert_msg(pol_set_load(path, &ps, &err) == CM_OK, "%s", err.msg);
    ck_assert_str_eq(pol_set_id(ps), "steward-default");
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    ck_assert_int_eq(d.actions[POL_PII_EMAIL], POL_ACT_REDACT);
    ck_assert_int_eq(d.actions[POL_PII_PHONE], POL_ACT_MASK);
    ck_assert_int_eq(d.actions[POL_PII_CREDIT_CARD], POL_ACT_MASK);
    counts[POL_PII_CREDIT_CARD] = 1;
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_DENY);
    ck_assert_str_eq(d.rule_id, "no-cards-to-external-models");
    in.model = "local-llama";
    pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
    ck_assert_int_eq(d.verdict, POL_VERDICT_ALLOW);
    pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
    ck_assert_int_eq(d.actions[POL_PII_PHONE], POL_ACT_REDACT);
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
    tcase_add_test(tc, test_load_file_and_refs);
    tcase_add_test(tc, test_default_policy);
    suite_add_tcase(s, tc);

    tc = tcase_create("eval");
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_rules_globs_order);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(policy_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
