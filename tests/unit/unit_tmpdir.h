/* SPDX-License-Identifier: Apache-2.0
 *
 * unit_tmpdir: the scratch directory of a unit test that works on real
 * files (spool, chains, emitter).  Include it once, in the test's .c:
 * unit_dir names a fresh /tmp directory between unit_tmpdir_setup() and
 * unit_tmpdir_teardown(), the usual tcase_add_checked_fixture pair.
 */
#ifndef UNIT_TMPDIR_H
#define UNIT_TMPDIR_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static char unit_dir[64];

/* The program's name makes the directory's (test_aud_spool.XXXXXX). */
static void
unit_tmpdir_setup(void)
{
    extern char *program_invocation_short_name;

    snprintf(unit_dir, sizeof(unit_dir), "/tmp/%.40s.XXXXXX", program_invocation_short_name);
    ck_assert_ptr_nonnull(mkdtemp(unit_dir));
}

static void
unit_tmpdir_teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", unit_dir);
    ck_assert_int_eq(system(cmd), 0);
}

#endif /* UNIT_TMPDIR_H */
