# SPDX-License-Identifier: Apache-2.0
"""Compatibility with the official OpenAI SDK (the `openai` package from
npm, pinned in tests/sdk/package-lock.json): a plain chat completion, a
streamed one, embeddings and a policy deny, all through steward."""

import json
import os
import subprocess
import unittest

import harness

SDK = os.path.join(harness.REPO, "tests", "sdk")


class OpenAISdkTest(unittest.TestCase):
    def test_sdk_through_steward(self):
        self.assertTrue(os.path.isdir(os.path.join(SDK, "node_modules", "openai")),
                        "the OpenAI SDK is missing: run deploy/deps.sh")
        st = harness.STACK
        r = subprocess.run(["node", os.path.join(SDK, "sdk_client.mjs"), st.url],
                           capture_output=True, text=True, timeout=60 * harness.SCALE)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertTrue(out["chat"]["content"])
        self.assertEqual(out["chat"]["decision"], "redact")
        self.assertIsNotNone(out["chat"]["record"])
        self.assertGreater(out["chat"]["usage"]["total_tokens"], 0)
        seen = st.model_received(out["chat"]["record"])[0]["body"]
        self.assertNotIn("jane.doe@example.com", seen)
        self.assertIn('"temperature":0.7', seen.replace(" ", ""))
        self.assertGreater(out["stream"]["chunks"], 2)
        self.assertTrue(out["stream"]["text"])
        self.assertEqual(out["embeddings"], {"n": 2, "dim": 8})
        self.assertEqual(out["deny"]["status"], 403)
        self.assertEqual(out["deny"]["code"], "policy_denied")
        self.assertIn("no-cards-to-external-models", out["deny"]["message"])
        st.record_row(out["chat"]["record"])


if __name__ == "__main__":
    unittest.main()
