/* SPDX-License-Identifier: Apache-2.0
 *
 * steward-policy: the policy author's tool (DESIGN.md section 4).
 *
 *   steward-policy check FILE...   validate and compile each file; prints
 *                                  "FILE: ok id=ID hash=HEX" or the error as
 *                                  "FILE:line:column: ..." on stderr; exit 1
 *                                  when any file fails
 *   steward-policy hash FILE       prints the content hash (64 hex digits)
 *
 * Exit status: 0 ok, 1 a policy failed, 2 usage.  `test` and `explain`
 * arrive with the policy language issue.  Read pol_policy.h first.
 */
#include <stdio.h>
#include <string.h>

#include "common/cm_status.h"
#include "policy/pol_policy.h"

static int
usage(FILE *f)
{
    fprintf(f, "usage: steward-policy check FILE...\n"
               "       steward-policy hash FILE\n");
    return 2;
}

static int
cmd_check(int argc, char **argv)
{
    int status = 0;

    for (int i = 0; i < argc; i++) {
        struct pol_set *ps;
        struct cm_err err = {{0}};

        if (pol_set_load(argv[i], &ps, &err) != CM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            status = 1;
            continue;
        }
        printf("%s: ok id=%s hash=%s\n", argv[i], pol_set_id(ps), pol_set_hash(ps));
        pol_set_unref(ps);
    }
    return status;
}

static int
cmd_hash(const char *path)
{
    struct pol_set *ps;
    struct cm_err err = {{0}};

    if (pol_set_load(path, &ps, &err) != CM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%s\n", pol_set_hash(ps));
    pol_set_unref(ps);
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
    return usage(stderr);
}
