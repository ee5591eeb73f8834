/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_policy_load: libFuzzer harness of the policy loader (policy/pol_doc,
 * pol_compile, pol_scan's pattern compiler) and of the API-key file parser.
 *
 * The first byte picks the format (even: JSON, odd: YAML); the rest is the
 * file.  A policy that loads is then used: evaluated in both directions on
 * a fixed input, each rule explained, and its recognizers and lists run over
 * a short text, so the compiled form is exercised, not only built.  Any
 * crash, leak, out-of-bounds access or undefined behaviour is a bug.
 *
 *   make fuzz                        builds build/fuzz/fuzz_policy_load (and the others)
 *   make fuzz-run FUZZ_SECONDS=600   runs each over its seed corpus
 * Seeds: tests/fuzz/corpus/fuzz_policy_load (the shipped example policies,
 * a format byte in front).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/cm_buf.h"
#include "policy/pol_keys.h"
#include "policy/pol_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char text[] = "Mail jane@example.com, card 4111 1111 1111 1111, employee "
                               "EMP-123456, Jaguar Cloud, 203.0.113.7";
    const char *groups[] = {"hr", "eng"};
    unsigned counts[POL_LABEL_MAX] = {0};
    struct pol_set *ps = NULL;
    struct pol_keys *keys = NULL;
    struct cm_err err;
    const char *name;

    if (size < 1)
        return 0;
    name = (data[0] & 1) ? "fuzz.yaml" : "fuzz.json";
    if (pol_set_parse(name, (const char *)data + 1, size - 1, &ps, &err) == CM_OK) {
        struct pol_input in = {
            .caller = {.principal = "alice", .tenant = "acme", .groups = groups, .ngroups = 2},
            .purpose = "support",
            .model = "gpt-4o",
            .route = POL_ROUTE_CHAT,
            .modalities = POL_MOD_TEXT | POL_MOD_IMAGE,
            .content_type = "application/json",
            .counts = counts};
        struct pol_pii_spans spans;
        struct pol_decision d;
        struct cm_buf why;

        for (unsigned l = 0; l < POL_LABEL_MAX; l++)
            counts[l] = l % 3;
        pol_set_eval(ps, POL_DIR_REQUEST, &in, &d);
        pol_set_eval(ps, POL_DIR_RESPONSE, &in, &d);
        cm_buf_init(&why);
        for (size_t k = 0; k < pol_set_nrules(ps); k++)
            pol_set_explain_rule(ps, k, POL_DIR_REQUEST, &in, &why);
        cm_buf_fini(&why);
        pol_pii_spans_init(&spans);
        if (pol_pii_scan(text, sizeof(text) - 1, POL_PII_ALL, &spans) == CM_OK)
            (void)pol_set_scan(ps, POL_DIR_REQUEST, text, sizeof(text) - 1, &spans, &err);
        pol_pii_spans_fini(&spans);
        pol_set_unref(ps);
    }
    if (pol_keys_parse("fuzz.keys", (const char *)data, size, &keys, &err) == CM_OK)
        pol_keys_unref(keys);
    return 0;
}
