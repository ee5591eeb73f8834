/* SPDX-License-Identifier: Apache-2.0
 *
 * unit_main: what every unit test's main() does.  Include it once, in the
 * test's .c, and end with
 *     int main(void) { return unit_run(my_suite()); }
 * unit_run() runs the suite (Check forks each test, so one that crashes
 * fails alone) and returns EXIT_FAILURE when any test failed.
 */
#ifndef UNIT_MAIN_H
#define UNIT_MAIN_H

#include <check.h>
#include <stdlib.h>

static int
unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
