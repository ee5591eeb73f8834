# SPDX-License-Identifier: Apache-2.0
"""The policy language end to end (issue 4), on real processes: callers
identified by API keys get their own decisions; purpose binding; modality
rules; custom recognizers and lists in what the model receives; monitor mode
forwards the original and records what enforce would have done; a broken
policy on SIGHUP leaves the old one enforcing (and requests in flight keep
the policy they started with); the shipped example policies pass their own
`steward-policy test` tables.  Every record is checked in PostgreSQL."""

import glob
import json
import os
import signal
import stat
import subprocess
import tempfile
import threading
import unittest

import harness
from harness import request, wait_until

POLICY_TOOL = os.path.join(harness.BIN, "steward-policy")

TEAM_POLICY = """\
id: it-team
description: integration test policy
mode: enforce
purpose:
  allowed: [support, hr-case, engineering]
request:
  EMAIL: redact
  CREDIT_CARD: mask
  EMPLOYEE_ID: hash
  SECRET: redact
recognizers:
  - name: EMPLOYEE_ID
    pattern: 'EMP-\\d{6}'
    context: [employee, staff]
allow_list:
  - values: [noreply@steward.example]
    labels: [EMAIL]
deny_list:
  - label: SECRET
    values: [Project Bluebird]
rules:
  - id: hr-internal-only
    match: {groups: [hr]}
    except: {model: "local-*"}
    decision: deny
    reason: HR may only use local models
  - id: no-images-external
    match: {model: "ext-*", modality: [image]}
    decision: deny
    status: 451
    reason: images stay on local models
  - id: cards-hashed-for-fraud
    match: {purpose: hr-case}
    actions: {CREDIT_CARD: hash}
  - id: no-other-routes-for-eng
    match: {route: other, groups: [eng]}
    decision: deny
    reason: engineering keys are for the model APIs only
"""

MONITOR_POLICY = """\
id: it-monitor
mode: monitor
request:
  EMAIL: redact
  CREDIT_CARD: deny
rules:
  - id: external-watch
    match: {model: "ext-*"}
    reason: watching what goes to external models
"""


def chat(content, model="local-llama", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


def policy_hash(path):
    r = subprocess.run([POLICY_TOOL, "hash", path], capture_output=True, text=True, check=True)
    return r.stdout.strip()


class PolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = harness.STACK
        cls.dir = tempfile.mkdtemp(prefix="policy-", dir=cls.st.dir)
        cls.policy = os.path.join(cls.dir, "team.yaml")
        with open(cls.policy, "w", encoding="utf-8") as f:
            f.write(TEAM_POLICY)
        cls.keys = os.path.join(cls.dir, "keys.jsonl")
        cls.key_hr = cls.add_key("hana", "acme", ["hr"], ["hr-case", "support"])
        cls.key_eng = cls.add_key("eli", "acme", ["eng"], ["engineering"])
        cls.key_any = cls.add_key("ops", "globex", [], [])
        cls.sc = cls.st.sidecar(policy=cls.policy, options={"api_keys": cls.keys}).start()

    @classmethod
    def add_key(cls, principal, tenant, groups, purposes):
        args = [POLICY_TOOL, "keys", "add", cls.keys, "--principal", principal,
                "--tenant", tenant]
        for g in groups:
            args += ["--group", g]
        for p in purposes:
            args += ["--purpose", p]
        r = subprocess.run(args, capture_output=True, text=True, check=True)
        key = r.stdout.strip()
        assert key.startswith("stw_") and len(key) == 47, key
        return key

    def call(self, body, key=None, purpose=None, url=None, headers=None):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if purpose is not None:
            h["X-Steward-Purpose"] = purpose
        return request(url or self.sc.url, "POST", "/v1/chat/completions", body, headers=h)

    def record(self, record_id):
        """The policy and caller columns of one record, once loaded."""
        def fetch():
            rows = self.st.sql(
                "select decision, outcome, http_status, coalesce(principal,''), "
                "coalesce(tenant,''), coalesce(purpose,''), policy_id, policy_hash, "
                "policy_mode, coalesce(rule_id,''), array_to_json(matched_rules), "
                "array_to_json(match_reasons), array_to_json(modalities) "
                "from lineage_records where record_id = :'p1'", record_id)
            return rows[0] if rows else None
        row = wait_until(fetch, 20, "record %s" % record_id)
        keys = ["decision", "outcome", "status", "principal", "tenant", "purpose", "policy_id",
                "policy_hash", "mode", "rule_id", "matched", "reasons", "modalities"]
        rec = dict(zip(keys, row))
        for k in ("matched", "reasons", "modalities"):
            rec[k] = json.loads(rec[k])
        rec["status"] = int(rec["status"])
        return rec

    # ---- callers and keys

    def test_two_callers_two_decisions(self):
        body = chat("Summarise the leave request of staff EMP-123456, mail noreply@steward.example",
                    model="ext-gpt")
        hr = self.call(body, key=self.key_hr, purpose="support")
        eng = self.call(body, key=self.key_eng)
        self.assertEqual(hr.status, 403, hr.body)
        self.assertEqual(hr.json()["error"]["rule"], "hr-internal-only")
        self.assertIn("HR may only use local models", hr.json()["error"]["message"])
        self.assertEqual(eng.status, 200, eng.body)
        self.assertEqual(self.st.model_received(hr.record), [])
        seen = self.st.model_received(eng.record)[0]
        self.assertNotIn("EMP-123456", seen["body"])
        self.assertIn("<EMPLOYEE_ID:", seen["body"])          # custom recognizer, hashed
        self.assertIn("noreply@steward.example", seen["body"])  # allow list
        # the key is steward's, never the model server's
        headers = {k.lower(): v for k, v in seen["headers"].items()}
        self.assertNotIn("authorization", headers)

        a, b = self.record(hr.record), self.record(eng.record)
        self.assertEqual((a["decision"], a["outcome"], a["status"]), ("deny", "denied", 403))
        self.assertEqual((a["principal"], a["tenant"], a["purpose"]), ("hana", "acme", "support"))
        self.assertEqual(a["rule_id"], "hr-internal-only")
        self.assertEqual(a["matched"], ["hr-internal-only"])
        self.assertEqual(a["reasons"], ["HR may only use local models"])
        self.assertEqual(a["policy_id"], "it-team")
        self.assertEqual(a["policy_hash"], policy_hash(self.policy))
        self.assertEqual(a["mode"], "enforce")
        self.assertEqual((b["decision"], b["principal"], b["purpose"]),
                         ("redact", "eli", "engineering"))  # the key's first purpose
        self.assertEqual(b["matched"], [])
        self.assertEqual(b["modalities"], ["text"])
        findings = {f[1]: f for f in self.st.findings(eng.record)}
        self.assertEqual(findings["EMPLOYEE_ID"][3], "hash")
        self.assertNotIn("EMAIL", findings)

    def test_unknown_or_missing_key_is_401_and_recorded(self):
        for key, code in ((None, "missing_api_key"), ("stw_" + "x" * 43, "invalid_api_key")):
            r = self.call(chat("hello"), key=key)
            self.assertEqual(r.status, 401, r.body)
            self.assertEqual(r.json()["error"]["code"], code)
            self.assertEqual(r.json()["error"]["type"], "authentication_error")
            self.assertIn("Bearer", r.headers.get("www-authenticate", ""))
            self.assertEqual(self.st.model_received(r.record), [])
            rec = self.record(r.record)
            self.assertEqual((rec["outcome"], rec["status"], rec["principal"]),
                             ("unauthorized", 401, ""))
        # x-api-key works as well as Authorization
        r = request(self.sc.url, "POST", "/v1/chat/completions", chat("hello"),
                    headers={"x-api-key": self.key_any})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.record(r.record)["principal"], "ops")

    def test_purpose_binding(self):
        # a purpose the key does not carry
        r = self.call(chat("hello", model="local-llama"), key=self.key_eng, purpose="hr-case")
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.json()["error"]["rule"], "caller.purpose")
        # a purpose the policy does not know (the key is not bound to a list)
        r = self.call(chat("hello"), key=self.key_any, purpose="marketing")
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.json()["error"]["rule"], "purpose.unknown")
        rec = self.record(r.record)
        self.assertEqual((rec["purpose"], rec["rule_id"]), ("marketing", "purpose.unknown"))
        # a malformed purpose header is a bad request
        r = self.call(chat("hello"), key=self.key_any, purpose="a b")
        self.assertEqual(r.status, 400, r.body)
        # the purpose changes the actions: hr-case hashes cards
        r = self.call(chat("card 4111 1111 1111 1111", model="local-llama"), key=self.key_hr,
                      purpose="hr-case")
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("<CREDIT_CARD:", self.st.model_received(r.record)[0]["body"])
        self.assertEqual(self.record(r.record)["matched"], ["cards-hashed-for-fraud"])

    def test_modality_rule(self):
        parts = [{"type": "text", "text": "what is on this picture?"},
                 {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}]
        r = self.call(chat(parts, model="ext-vision"), key=self.key_eng)
        self.assertEqual(r.status, 451, r.body)
        self.assertEqual(r.json()["error"]["rule"], "no-images-external")
        rec = self.record(r.record)
        self.assertEqual(rec["modalities"], ["text", "image"])
        r = self.call(chat(parts, model="local-vision"), key=self.key_eng)
        self.assertEqual(r.status, 200, r.body)

    def test_uninspected_routes_still_obey_caller_rules(self):
        sc = self.st.sidecar(policy=self.policy,
                             options={"api_keys": self.keys, "unknown_path": "pass"}).start()
        r = request(sc.url, "GET", "/v1/files", headers={"Authorization": "Bearer " + self.key_eng})
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.json()["error"]["rule"], "no-other-routes-for-eng")
        self.assertEqual(self.st.model_received(r.record), [])
        rec = self.record(r.record)
        self.assertEqual((rec["decision"], rec["principal"]), ("deny", "eli"))
        # (HR keys would be denied too: hr-internal-only wants a local model)
        r = request(sc.url, "GET", "/v1/files", headers={"Authorization": "Bearer " + self.key_any})
        self.assertNotEqual(r.status, 403, r.body)  # forwarded: the stub's own answer
        self.assertEqual(len(self.st.model_received(r.record)), 1)

    def test_deny_list_entity(self):
        r = self.call(chat("status of project bluebird?"), key=self.key_eng)
        self.assertEqual(r.status, 200, r.body)
        body = self.st.model_received(r.record)[0]["body"]
        self.assertNotIn("bluebird", body.lower())
        self.assertIn("<SECRET>", body)

    def test_keys_file_must_be_private(self):
        loose = os.path.join(self.dir, "loose.jsonl")
        with open(loose, "w", encoding="utf-8") as f:
            f.write("# empty\n")
        os.chmod(loose, 0o644)
        conf = os.path.join(self.dir, "loose.conf")
        with open(self.sc.conf, encoding="utf-8") as src, open(conf, "w", encoding="utf-8") as f:
            for line in src:
                if not line.startswith("api_keys"):
                    f.write(line)
            f.write("api_keys = %s\n" % loose)
        r = subprocess.run([os.path.join(harness.BIN, "steward"), "-n", "-c", conf],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("chmod 600", r.stderr)
        os.chmod(loose, 0o600)
        r = subprocess.run([os.path.join(harness.BIN, "steward"), "-n", "-c", conf],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(self.keys).st_mode), 0o600)

    def test_keys_reload(self):
        key = self.add_key("nina", "acme", ["eng"], [])
        r = self.call(chat("hello"), key=key)
        self.assertEqual(r.status, 401)  # not loaded yet
        self.sc.signal(signal.SIGHUP)
        wait_until(lambda: self.call(chat("hello"), key=key).status == 200, 10,
                   "the new key to be loaded")
        # a key file others may read is refused on reload; the old table stays
        os.chmod(self.keys, 0o640)
        try:
            self.sc.signal(signal.SIGHUP)
            wait_until(lambda: "api_keys_reload_failed" in open(self.sc.log).read(), 10,
                       "the refused key file in the log")
            metrics = request(self.sc.admin_url, "GET", "/metrics").body.decode()
            self.assertIn('steward_api_keys_reloads_total{result="failed"} 1', metrics)
            self.assertEqual(self.call(chat("hello"), key=key).status, 200)
        finally:
            os.chmod(self.keys, 0o600)

    # ---- keyed operators and restore

    def test_pseudonyms_are_restored_in_the_answer(self):
        path = os.path.join(self.dir, "pseudo.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("id: it-pseudo\nrequest: {EMAIL: pseudonymise, CREDIT_CARD: encrypt}\n")
        keyfile = os.path.join(self.dir, "pii.key")
        with open(keyfile, "w", encoding="utf-8") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(keyfile, 0o600)
        sc = self.st.sidecar(policy=path, options={"api_keys": self.keys,
                                                   "pii_key_file": keyfile}).start()
        text = "mail jo@example.com about card 4111 1111 1111 1111"
        seen = {}
        for name, key in (("eng", self.key_eng), ("any", self.key_any)):
            r = request(sc.url, "POST", "/v1/chat/completions", chat(text),
                        headers={"Authorization": "Bearer " + key, "X-Stub-Echo": "1"})
            self.assertEqual(r.status, 200, r.body)
            body = self.st.model_received(r.record)[0]["body"]
            self.assertNotIn("jo@example.com", body)
            self.assertNotIn("4111 1111 1111 1111", body)
            self.assertRegex(body, r"<EMAIL_[0-9a-f]{8}>")
            self.assertRegex(body, r"<ENC:[A-Za-z0-9_-]+>")
            seen[name] = body
            # the model echoed the placeholder; the client reads the address
            answer = r.json()["choices"][0]["message"]["content"]
            self.assertIn("jo@example.com", answer)
            self.assertNotIn("<EMAIL_", answer)
            self.assertEqual(self.record(r.record)["decision"], "redact")
        # two tenants, two keys: the same address, two pseudonyms
        self.assertNotEqual(seen["eng"], seen["any"])
        # the same tenant twice: the same pseudonym (linkable across turns)
        r = request(sc.url, "POST", "/v1/chat/completions", chat(text),
                    headers={"Authorization": "Bearer " + self.key_eng})
        self.assertEqual(self.st.model_received(r.record)[0]["body"], seen["eng"])

    # ---- monitor mode

    def test_monitor_mode_forwards_the_original_and_records_the_decision(self):
        path = os.path.join(self.dir, "monitor.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(MONITOR_POLICY)
        sc = self.st.sidecar(policy=path).start()
        raw = json.dumps(chat("card 4111 1111 1111 1111 for jane.doe@example.com",
                              model="ext-gpt"))
        r = request(sc.url, "POST", "/v1/chat/completions", raw)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.decision, "allow")
        self.assertEqual(r.headers.get("x-steward-monitor"), "deny")
        # the model received exactly what the client sent
        self.assertEqual(self.st.model_received(r.record)[0]["body"], raw)
        rec = self.record(r.record)
        self.assertEqual((rec["mode"], rec["decision"], rec["outcome"], rec["status"]),
                         ("monitor", "deny", "ok", 200))
        self.assertEqual(rec["rule_id"], "request.CREDIT_CARD")
        self.assertEqual(rec["matched"], ["external-watch", "request.CREDIT_CARD"])
        self.assertEqual(rec["reasons"][0], "watching what goes to external models")
        actions = {f[1]: f[3] for f in self.st.findings(r.record) if f[0] == "request"}
        self.assertEqual(actions["CREDIT_CARD"], "deny")
        self.assertEqual(actions["EMAIL"], "redact")
        # a request enforce would only redact is recorded as redact
        r = request(sc.url, "POST", "/v1/chat/completions", chat("mail ann@example.com"))
        self.assertEqual(r.status, 200)
        self.assertIn("ann@example.com", self.st.model_received(r.record)[0]["body"])
        rec = self.record(r.record)
        self.assertEqual((rec["mode"], rec["decision"]), ("monitor", "redact"))

    # ---- reload

    def test_broken_policy_on_sighup_keeps_the_old_one(self):
        path = os.path.join(self.dir, "reload.yaml")
        good = "id: reload-v1\nrequest: {EMAIL: redact}\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(good)
        v1 = policy_hash(path)
        sc = self.st.sidecar(policy=path).start()
        wait_until(lambda: "msg=listening" in open(sc.log).read(), 10, "the sidecar to start")

        with open(path, "w", encoding="utf-8") as f:
            f.write("id: reload-v2\nrequest:\n  EMAIL: redact\n  PHONE: zap\n")
        sc.signal(signal.SIGHUP)
        wait_until(lambda: "policy_reload_failed" in open(sc.log).read(), 10,
                   "the reload failure in the log")
        log = open(sc.log).read()
        self.assertIn(path + ":4:10: /request/PHONE: unknown action", log)
        self.assertIn("failures=1", log)
        metrics = request(sc.admin_url, "GET", "/metrics").body.decode()
        self.assertIn('steward_policy_reloads_total{result="failed"} 1', metrics)
        r = request(sc.url, "POST", "/v1/chat/completions", chat("mail ann@example.com"))
        self.assertEqual(r.status, 200)
        self.assertIn("<EMAIL>", self.st.model_received(r.record)[0]["body"])
        rec = self.record(r.record)
        self.assertEqual((rec["policy_id"], rec["policy_hash"]), ("reload-v1", v1))

        # a good file is taken; a request in flight keeps the policy it began with
        slow = {}

        def slow_call():
            slow["r"] = request(sc.url, "POST", "/v1/chat/completions",
                                chat("mail ann@example.com"), headers={"X-Stub-Delay-Ms": "1500"})
        t = threading.Thread(target=slow_call)
        t.start()
        def slow_arrived():
            for it in self.st.model_received():
                h = {k.lower(): v for k, v in it.get("headers", {}).items()}
                if h.get("x-stub-delay-ms") == "1500" and "reload-v" not in str(h):
                    return True
            return False
        wait_until(slow_arrived, 10, "the slow request at the model")
        with open(path, "w", encoding="utf-8") as f:
            f.write("id: reload-v3\nrequest: {EMAIL: hash}\n")
        v3 = policy_hash(path)
        sc.signal(signal.SIGHUP)
        wait_until(lambda: "policy_reloaded id=reload-v3" in open(sc.log).read(), 10,
                   "the reload in the log")
        r = request(sc.url, "POST", "/v1/chat/completions", chat("mail ann@example.com"))
        self.assertIn("<EMAIL:", self.st.model_received(r.record)[0]["body"])
        self.assertEqual(self.record(r.record)["policy_hash"], v3)
        t.join(30 * harness.SCALE)
        self.assertEqual(slow["r"].status, 200)
        self.assertEqual(self.record(slow["r"].record)["policy_hash"], v1)

    # ---- the shipped examples

    def test_shipped_examples_pass_their_tests(self):
        policies = sorted(glob.glob(os.path.join(harness.REPO, "deploy/policies/*.json")) +
                          glob.glob(os.path.join(harness.REPO, "deploy/policies/*.yaml")))
        self.assertGreaterEqual(len(policies), 5)
        for p in policies:
            name = os.path.splitext(os.path.basename(p))[0]
            cases = os.path.join(harness.REPO, "deploy/policies/tests", name + ".cases.yaml")
            self.assertTrue(os.path.exists(cases), "no test table for " + p)
            r = subprocess.run([POLICY_TOOL, "test", p, cases], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout.strip().splitlines()[-1], r"^[1-9][0-9]* passed, 0 failed$")
        r = subprocess.run([POLICY_TOOL, "check"] + policies, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_zz_keys_and_pii_never_in_logs(self):
        logs = "\n".join(self.st.logs().values())
        for k in (self.key_hr, self.key_eng, self.key_any):
            self.assertNotIn(k, logs)
        for v in ("EMP-123456", "jane.doe@example.com", "4111 1111 1111 1111"):
            self.assertNotIn(v, logs)


if __name__ == "__main__":
    unittest.main()
