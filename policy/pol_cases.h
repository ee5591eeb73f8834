/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_cases: table-driven policy tests, the engine of `steward-policy test`
 * (in the spirit of `opa test`).  A cases file (JSON or YAML) lists
 * exchanges and what the policy must decide for them:
 *
 *   cases:
 *     - name: card numbers never reach external models
 *       caller: {principal: alice, tenant: acme, groups: [sales]}
 *       purpose: support
 *       route: chat                      # default chat
 *       direction: request               # default request
 *       body: {model: ext-gpt, messages: [{role: user, content: "card 4111 1111 1111 1111"}]}
 *       # or, instead of a body: model: ext-gpt, findings: {CREDIT_CARD: 1},
 *       #                        modalities: [text, image]
 *       expect:
 *         decision: deny                 # allow | redact | deny
 *         status: 403
 *         rule: no-cards-external
 *         matched: [no-cards-external]   # exactly these (any order)
 *         matched_includes: [...]        # at least these
 *         actions: {CREDIT_CARD: deny}   # the action per entity type
 *         findings: {CREDIT_CARD: 1}     # what the classifier found in the body
 *         output_contains: ["****"]      # in the rewritten body (enforce mode)
 *         output_excludes: ["4111 1111"]
 *
 * A body runs through the same inspection as in the sidecar (pol_body with
 * the set's recognizers and lists), so a case tests the classifier and the
 * policy together; findings test the policy alone.  "decision" is deny
 * when the verdict is deny, redact when some entity found gets an action
 * other than allow, else allow, regardless of the mode (monitor mode
 * decides the same; it only does not apply it).
 * docs/policy.md shows complete files.  Not thread-safe per call (prints).
 */
#ifndef POL_CASES_H
#define POL_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/cm_status.h"
#include "policy/pol_policy.h"

struct pol_cases_result {
    size_t passed;
    size_t failed;
};

/* Runs every case of the file at path against ps (borrowed).  Prints one
 * line per failed case to out ("FAIL name: what differs"; and "ok name"
 * when verbose).  Returns CM_OK when the file was valid (failures are
 * counted in *res), CM_EIO or CM_EINPUT ("path:line:column: /pointer:
 * what") when it is not. */
int pol_cases_run(const struct pol_set *ps, const char *path, FILE *out, bool verbose,
                  struct pol_cases_result *res, struct cm_err *err) CM_MUSTCHECK;

#endif /* POL_CASES_H */
