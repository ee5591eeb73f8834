# SPDX-License-Identifier: Apache-2.0
"""Runs the integration suite: starts the embedded stack once, runs every
tests/integration/test_*.py (unittest, stdlib only), stops the stack and
prints "integration: N passed, N failed".

  python3 tests/integration/run.py [-k PATTERN]"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def main():
    pattern = None
    if len(sys.argv) > 2 and sys.argv[1] == "-k":
        pattern = sys.argv[2]
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = ["*%s*" % pattern]
    suite = loader.discover(os.path.dirname(os.path.abspath(__file__)), pattern="test_*.py")
    stack = harness.Stack()
    harness.STACK = stack
    t0 = time.monotonic()
    result = None
    try:
        stack.up()
        result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    except Exception as e:  # the stack itself failed to start
        print("integration: stack failed: %s" % e)
        stack.failed = True
    finally:
        stack.stop()
    reports = stack.sanitizer_reports()
    for path in reports:
        print("integration: sanitizer report in %s:" % path)
        print(open(path, encoding="utf-8", errors="replace").read()[-6000:])
    if result is None or not result.wasSuccessful() or reports:
        stack.failed = True
    stack.cleanup()
    if result is None:
        print("integration: 0 passed, 1 failed")
        return 1
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    failed += len(reports)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print("integration: took %.1f s" % (time.monotonic() - t0))
    print("integration: %d passed, %d failed" % (passed, failed)
          + (", %d skipped" % skipped if skipped else ""))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
