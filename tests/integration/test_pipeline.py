# SPDX-License-Identifier: Apache-2.0
"""The governed request path end to end (issue 2): redaction reaches the
model server, the client gets the answer and the record id, PostgreSQL holds
exactly one record per exchange, and deny / 400 / 404 / 413 / 502 behave as
documented and are recorded."""

import json
import os
import subprocess
import unittest

import harness
from harness import request, raw_exchange, wait_until


def chat(content, model="local-llama", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


class PipelineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = harness.STACK

    def assert_no_fixture_pii(self, text, where):
        for v in harness.FIXTURE_PII:
            self.assertNotIn(v, text, "%s contains the fixture value %r" % (where, v))

    def test_redacts_before_the_model_and_records(self):
        raw = ('{"model": "local-llama",  "temperature": 0.7, "messages": [{"role": "user", '
               '"content": "Mail jane.doe@example.com, call +1 415-555-0132, card 4111 1111 1111 '
               '1111, SSN 123-45-6789, from 203.0.113.77."}], "max_tokens": 32}')
        r = request(self.st.url, "POST", "/v1/chat/completions", raw)
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNotNone(r.record)
        self.assertEqual(r.decision, "redact")
        self.assertEqual(r.json()["object"], "chat.completion")
        seen = self.st.model_received(r.record)
        self.assertEqual(len(seen), 1)
        body = seen[0]["body"]
        self.assert_no_fixture_pii(body, "the model server's request")
        self.assertIn("<EMAIL>", body)
        self.assertIn("1111", body)  # the card is masked to its last four
        # Bytes outside the redacted string reach the model unchanged.
        self.assertTrue(body.startswith('{"model": "local-llama",  "temperature": 0.7, '
                                        '"messages": [{"role": "user", "content": "'), body)
        self.assertTrue(body.endswith('"}], "max_tokens": 32}'), body)
        row = self.st.record_row(r.record)
        self.assertEqual(row[1:5], ["redact", "ok", "200", "chat"])
        self.assertEqual(row[6], "steward-default")
        self.assertEqual(len(row[7]), 64)
        types = {f[1]: f for f in self.st.findings(r.record)}
        for t in ("EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IP_ADDRESS"):
            self.assertIn(t, types)
            self.assertEqual(types[t][0], "request")
        self.assertEqual(types["CREDIT_CARD"][3], "mask")
        self.assertEqual(self.st.count_records(r.record), 1)
        usage = r.json()["usage"]
        self.assertEqual(
            self.st.sql("select prompt_tokens, completion_tokens from lineage_records "
                        "where record_id = :'p1'", r.record)[0],
            [str(usage["prompt_tokens"]), str(usage["completion_tokens"])])

    def test_clean_request_is_allowed_unchanged(self):
        raw = '{"model":"local-llama","messages":[{"role":"user","content":"What is 2+2?"}]}'
        r = request(self.st.url, "POST", "/v1/chat/completions", raw)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.decision, "allow")
        self.assertEqual(self.st.model_received(r.record)[0]["body"], raw)
        self.assertEqual(self.st.record_row(r.record)[1], "allow")

    def test_multipart_content_and_embeddings(self):
        r = request(self.st.url, "POST", "/v1/chat/completions", chat(
            [{"type": "text", "text": "reach me at sam.lee@example.org"},
             {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]))
        self.assertEqual(r.status, 200, r.body)
        body = self.st.model_received(r.record)[0]["body"]
        self.assert_no_fixture_pii(body, "multi-part request")
        self.assertIn("https://example.com/a.png", body)
        r = request(self.st.url, "POST", "/v1/embeddings",
                    {"model": "local-embed", "input": ["from oliver.stone@example.net", "plain"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(len(r.json()["data"]), 2)
        body = self.st.model_received(r.record)[0]["body"]
        self.assert_no_fixture_pii(body, "embeddings request")
        self.assertEqual(self.st.record_row(r.record)[4], "embedding")

    def test_deny_names_the_rule_and_nothing_reaches_the_model(self):
        r = request(self.st.url, "POST", "/v1/chat/completions",
                    chat("Charge 4111-1111-1111-1111 now", model="external-gpt-4o"))
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.decision, "deny")
        err = r.json()["error"]
        self.assertEqual(err["code"], "policy_denied")
        self.assertIn("no-cards-to-external-models", err["message"])
        self.assertEqual(err["record_id"], r.record)
        self.assert_no_fixture_pii(r.body.decode(), "the deny answer")
        self.assertEqual(self.st.model_received(r.record), [])
        row = self.st.record_row(r.record)
        self.assertEqual(row[1:4], ["deny", "denied", "403"])
        self.assertEqual(
            self.st.sql("select rule_id from lineage_records where record_id = :'p1'",
                        r.record)[0][0], "no-cards-to-external-models")

    def test_malformed_json_is_400_and_recorded(self):
        r = request(self.st.url, "POST", "/v1/chat/completions", '{"model": "x", "messages": [')
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["type"], "invalid_request_error")
        self.assertEqual(self.st.model_received(r.record), [])
        self.assertEqual(self.st.record_row(r.record)[2:4], ["bad_request", "400"])

    def test_invalid_utf8_is_400(self):
        r = request(self.st.url, "POST", "/v1/chat/completions",
                    b'{"model":"x","messages":[{"role":"user","content":"\xff\xfe"}]}')
        self.assertEqual(r.status, 400)
        self.assertEqual(self.st.record_row(r.record)[2], "bad_request")

    def test_wrong_shape_is_400(self):
        r = request(self.st.url, "POST", "/v1/chat/completions", '[1, 2, 3]')
        self.assertEqual(r.status, 400)
        r = request(self.st.url, "POST", "/v1/chat/completions",
                    {"model": "x", "messages": [{"role": "user", "content": 42}]})
        self.assertEqual(r.status, 400)

    def test_oversized_body_is_413(self):
        big = chat("x" * (2 << 20))
        r = request(self.st.url, "POST", "/v1/chat/completions", big)
        self.assertEqual(r.status, 413)

    def test_unknown_path_is_404_and_recorded(self):
        r = request(self.st.url, "POST", "/v1/unknown/thing", {"a": 1})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "unknown_path")
        self.assertEqual(self.st.record_row(r.record)[2:4], ["not_found", "404"])

    def test_wrong_method_and_content_type(self):
        r = request(self.st.url, "GET", "/v1/chat/completions")
        self.assertEqual(r.status, 405)
        r = request(self.st.url, "POST", "/v1/chat/completions", "a=b",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 415)
        r = request(self.st.url, "POST", "/v1/chat/completions", b"\x1f\x8b\x08\x00",
                    headers={"Content-Encoding": "br"})
        self.assertEqual(r.status, 415)

    def test_compressed_bodies_are_inflated_and_inspected(self):
        import gzip
        import zlib
        raw = json.dumps(chat("mail jane.doe@example.com")).encode()
        for enc, data in (("gzip", gzip.compress(raw)), ("deflate", zlib.compress(raw))):
            r = request(self.st.url, "POST", "/v1/chat/completions", data,
                        headers={"Content-Encoding": enc})
            self.assertEqual(r.status, 200, r.body)
            seen = self.st.model_received(r.record)[0]
            self.assertNotIn("content-encoding", seen["headers"])
            self.assertIn("<EMAIL>", seen["body"])
            self.assert_no_fixture_pii(seen["body"], enc + " request")
        # A bomb: 2 MiB of zeros in a few KiB; refused at max_body, not inflated whole.
        bomb = gzip.compress(b'{"model":"x","messages":[],"pad":"' + b"0" * (2 << 20) + b'"}')
        r = request(self.st.url, "POST", "/v1/chat/completions", bomb,
                    headers={"Content-Encoding": "gzip"})
        self.assertEqual(r.status, 413)
        self.assertEqual(self.st.record_row(r.record)[2], "too_large")
        r = request(self.st.url, "POST", "/v1/chat/completions", gzip.compress(raw)[:-9],
                    headers={"Content-Encoding": "gzip"})
        self.assertEqual(r.status, 400)

    def test_models_pass_through(self):
        r = request(self.st.url, "GET", "/v1/models")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["object"], "list")

    def test_upstream_down_is_502_and_recorded(self):
        sc = self.st.sidecar(upstream="http://127.0.0.1:%d" % harness.free_port()).start()
        r = request(sc.url, "POST", "/v1/chat/completions", chat("hello"))
        self.assertEqual(r.status, 502, r.body)
        self.assertEqual(r.json()["error"]["type"], "upstream_error")
        self.assertEqual(self.st.record_row(r.record)[2:4], ["upstream_error", "502"])
        self.assertEqual(sc.stop(), 0)

    def test_upstream_timeout_is_504_and_reloadable(self):
        """A model server silent for longer than upstream_timeout: 504, the
        record says upstream_timeout.  The timeout is a reload option: raised
        by a reload, the same slow answer gets through."""
        sc = self.st.sidecar(options={"upstream_timeout": "1s"}).start()
        slow = {"X-Stub-Delay-Ms": "2500"}
        r = request(sc.url, "POST", "/v1/chat/completions", chat("hello"), headers=slow)
        self.assertEqual(r.status, 504, r.body)
        self.assertEqual(r.json()["error"]["code"], "upstream_timeout")
        self.assertEqual(self.st.record_row(r.record)[2:4], ["upstream_timeout", "504"])
        with open(sc.conf) as f:
            conf = f.read().replace("upstream_timeout = 1s", "upstream_timeout = 10s")
        with open(sc.conf, "w") as f:
            f.write(conf)
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        self.assertNotIn("option_needs_restart option=upstream_timeout", sc.log_text())
        r = request(sc.url, "POST", "/v1/chat/completions", chat("hello"), headers=slow)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(sc.stop(), 0)

    def test_model_error_status_passes_through(self):
        r = request(self.st.url, "POST", "/v1/chat/completions", chat("hi"),
                    headers={"X-Stub-Status": "503"})
        self.assertEqual(r.status, 503)
        self.assertEqual(self.st.record_row(r.record)[3], "503")

    def test_duplicate_content_length_is_rejected_and_closed(self):
        body = b'{"model":"x","messages":[]}'
        payload = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(body) + body +
                   b"GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n")
        data, closed = raw_exchange(self.st.url, payload)
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
        self.assertTrue(closed)
        self.assertEqual(data.count(b"HTTP/1.1 "), 1, "a request behind a framing error ran")

    def test_absolute_form_target_is_rejected(self):
        payload = (b"GET http://evil.example/v1/models HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        data, closed = raw_exchange(self.st.url, payload)
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])

    def test_streamed_answer_is_relayed_and_recorded(self):
        r = request(self.st.url, "POST", "/v1/chat/completions",
                    chat("Say hello to ann@example.com", stream=True))
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.headers["content-type"].startswith("text/event-stream"))
        text = r.body.decode()
        events = [l for l in text.split("\n") if l.startswith("data: ")]
        self.assertGreater(len(events), 2)
        self.assertEqual(events[-1], "data: [DONE]")
        content = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content", "")
                          for e in events[:-1])
        self.assertTrue(content)
        self.assert_no_fixture_pii(self.st.model_received(r.record)[0]["body"], "stream request")
        self.assertEqual(self.st.record_row(r.record)[2], "ok")

    def test_response_side_redaction(self):
        # A policy that lets e-mail addresses reach the model but never back
        # to the client; the stub echoes the prompt.
        path = os.path.join(self.st.dir, "respond.json")
        with open(os.path.join(harness.REPO, "deploy/policies/default.json")) as f:
            pol = json.load(f)
        pol["id"] = "it-response-redaction"
        pol["request"].pop("EMAIL", None)
        pol["response"]["EMAIL"] = "redact"
        with open(path, "w") as f:
            json.dump(pol, f)
        sc = self.st.sidecar(policy=path).start()
        r = request(sc.url, "POST", "/v1/chat/completions", chat("write to jane.doe@example.com"),
                    headers={"X-Stub-Echo": "1"})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("jane.doe@example.com", self.st.model_received(r.record)[0]["body"])
        answer = r.json()["choices"][0]["message"]["content"]
        self.assertNotIn("jane.doe@example.com", answer)
        self.assertIn("<EMAIL>", answer)
        self.st.record_row(r.record)
        f = self.st.findings(r.record)
        self.assertIn(["response", "EMAIL", "1", "redact"], f)
        sc.stop()

    def test_generic_json_mode_for_other_model_servers(self):
        # unknown_path = inspect: a TGI-style POST /generate is inspected in
        # every string, at any depth, both ways; keys and numbers are not.
        path = os.path.join(self.st.dir, "generic.json")
        with open(os.path.join(harness.REPO, "deploy/policies/default.json")) as f:
            pol = json.load(f)
        pol["id"] = "it-generic"
        pol["request"].pop("EMAIL", None)  # reaches the model, never comes back
        pol["response"]["EMAIL"] = "redact"
        with open(path, "w") as f:
            json.dump(pol, f)
        sc = self.st.sidecar(policy=path, options={"unknown_path": "inspect"}).start()
        raw = ('{"inputs": "Mail jane.doe@example.com", "parameters": {"max_new_tokens": 20, '
               '"stop": ["call +1 415-555-0132"], "jane@example.com": 5}}')
        r = request(sc.url, "POST", "/generate", raw)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.decision, "redact")
        seen = self.st.model_received(r.record)[0]["body"]
        self.assertIn("jane.doe@example.com", seen)  # EMAIL allowed in requests here
        self.assertNotIn("415-555", seen)             # the phone in a nested array is masked
        self.assertIn('"max_new_tokens": 20', seen)   # numbers untouched
        self.assertIn('"jane@example.com": 5', seen)  # keys are not inspected
        answer = r.json()["generated_text"]
        self.assertNotIn("jane.doe@example.com", answer)
        self.assertIn("<EMAIL>", answer)
        row = self.st.record_row(r.record)
        self.assertEqual(row[4], "other")
        f = self.st.findings(r.record)
        self.assertIn(["request", "PHONE", "1", "mask"], f)
        self.assertIn(["response", "EMAIL", "1", "redact"], f)
        # A body on another method never passes uninspected; a bodiless GET
        # passes (recorded); a non-JSON answer is refused.
        r = request(sc.url, "PUT", "/generate", raw)
        self.assertEqual(r.status, 405, r.body)
        r = request(sc.url, "GET", "/health")
        self.assertEqual(r.status, 200, r.body)
        r = request(sc.url, "POST", "/generate", "inputs=plain", {"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415, r.body)
        sc.stop()

    def generic_sidecar(self, name, policy, **options):
        """A sidecar in generic JSON mode with the policy text given."""
        path = os.path.join(self.st.dir, name + ".yaml")
        with open(path, "w") as f:
            f.write("id: %s\n%s" % (name, policy))
        options["unknown_path"] = "inspect"
        return self.st.sidecar(policy=path, options=options).start()

    def test_generic_json_mode_with_the_policys_pointers(self):
        # The policy names what generic mode inspects in requests: only the
        # strings at or below /inputs; the answer (no pointers) in full.
        sc = self.generic_sidecar("it-generic-ptr",
                                  "request: {PHONE: mask}\n"
                                  "response: {EMAIL: redact}\n"
                                  "generic:\n"
                                  "  request: [/inputs, /parameters/extra/*/text]\n")
        raw = ('{"inputs": "call +1 415-555-0132 and mail jane.doe@example.com", '
               '"parameters": {"stop": ["+1 415-555-0199"], '
               '"extra": [{"text": "+1 415-555-0142", "id": "+1 415-555-0143"}]}}')
        r = request(sc.url, "POST", "/generate", raw)
        self.assertEqual(r.status, 200, r.body)
        seen = self.st.model_received(r.record)[0]["body"]
        self.assertNotIn("415-555-0132", seen)  # /inputs: masked
        self.assertNotIn("415-555-0142", seen)  # /parameters/extra/0/text: masked
        self.assertIn("+1 415-555-0199", seen)  # /parameters/stop/0: not named, untouched
        self.assertIn("+1 415-555-0143", seen)  # /parameters/extra/0/id: not named
        answer = r.json()["generated_text"]
        self.assertNotIn("jane.doe@example.com", answer)
        self.st.record_row(r.record)  # waits for the record to be loaded
        # one finding per field: the two named phones, not the others
        self.assertEqual(sorted(self.st.findings(r.record)),
                         [["request", "EMAIL", "1", "allow"], ["request", "PHONE", "1", "mask"],
                          ["request", "PHONE", "1", "mask"], ["response", "EMAIL", "1", "redact"]])
        sc.stop()

    def test_generic_json_mode_streamed_with_pointers(self):
        # TGI's /generate_stream: the policy names the token text and the
        # final generated_text; an e-mail cut across events is redacted in
        # both.
        sc = self.generic_sidecar("it-generic-stream",
                                  "response: {EMAIL: redact}\n"
                                  "generic:\n"
                                  "  response: [/token/text, /generated_text]\n",
                                  forward_headers="accept,user-agent,x-stub-chunk-bytes")
        r = request(sc.url, "POST", "/generate_stream",
                    '{"inputs": "write to jane.doe@example.com today"}',
                    {"X-Stub-Chunk-Bytes": "5"})
        self.assertEqual(r.status, 200, r.body)
        events = [json.loads(l[5:]) for l in r.body.decode().splitlines()
                  if l.startswith("data:")]
        self.assertGreater(len(events), 5)
        self.assertNotIn("jane.doe", r.body.decode())
        # What a field's redactor holds back at the end goes out in a copy
        # of that field's last event (docs/policy.md): the tokens still add
        # up to the answer, and the last event carries the whole of it.
        tokens = "".join(e["token"]["text"] for e in events)
        self.assertEqual(tokens, "You said: write to <EMAIL> today")
        self.assertEqual(events[-1]["generated_text"], "You said: write to <EMAIL> today")
        self.st.record_row(r.record)
        self.assertIn(["response", "EMAIL", "1", "redact"], self.st.findings(r.record))
        sc.stop()

    def test_generic_stream_whole_field(self):
        # TGI's /generate_stream with a long answer: /token/text is a field
        # of deltas, /generated_text comes whole in the last event ("whole").
        # The whole value is redacted in place; the last event is held until
        # the stream ends, so what the token stream still holds goes into
        # it: the events are the model server's, one for one.
        sc = self.generic_sidecar("it-generic-whole",
                                  "response: {EMAIL: redact}\n"
                                  "generic:\n"
                                  "  response: [/token/text]\n"
                                  "  whole: [/generated_text]\n",
                                  forward_headers="accept,user-agent,x-stub-chunk-bytes")
        words = " ".join("word%d" % i for i in range(300))
        body = json.dumps({"inputs": "write to jane.doe@example.com " + words +
                           " or to john.roe@example.org"})
        hdrs = {"X-Stub-Chunk-Bytes": "7"}

        def events(url):
            r = request(url, "POST", "/generate_stream", body, hdrs)
            self.assertEqual(r.status, 200, r.body)
            return r, [json.loads(l[5:]) for l in r.body.decode().splitlines()
                       if l.startswith("data:")]

        _, direct = events(self.st.model_url)
        r, evs = events(sc.url)
        whole = "You said: write to <EMAIL> " + words + " or to <EMAIL>"
        self.assertNotIn("@example", r.body.decode())
        self.assertEqual(len(evs), len(direct))
        self.assertEqual("".join(e["token"]["text"] for e in evs), whole)
        self.assertEqual(evs[-1]["generated_text"], whole)
        self.assertTrue(all(e["generated_text"] is None for e in evs[:-1]))
        self.assertEqual(evs[-1]["details"], direct[-1]["details"])
        self.st.record_row(r.record)
        f = self.st.findings(r.record)
        self.assertEqual(f.count(["response", "EMAIL", "2", "redact"]), 2, f)
        sc.stop()

    def test_curl_client_and_one_record_per_request(self):
        ids = []
        for i in range(5):
            out = subprocess.run(
                ["curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "Content-Type: application/json",
                 "--data-binary", json.dumps(chat("ticket %d from jane.doe@example.com" % i)),
                 self.st.url + "/v1/chat/completions"], capture_output=True, text=True, check=True)
            rec = [l.split(":", 1)[1].strip() for l in out.stdout.splitlines()
                   if l.lower().startswith("x-steward-record:")]
            self.assertEqual(len(rec), 1)
            ids.append(rec[0])
        self.assertEqual(len(set(ids)), 5)
        for rid in ids:
            self.st.record_row(rid)
            self.assertEqual(self.st.count_records(rid), 1)

    def test_record_on_the_topic_carries_no_pii(self):
        r = request(self.st.url, "POST", "/v1/chat/completions",
                    chat("SSN 123-45-6789 and jane.doe@example.com"))
        self.st.record_row(r.record)
        out = subprocess.run(["kcat", "-b", self.st.env["KAFKA_BOOTSTRAP"], "-C", "-t",
                              "steward.lineage", "-o", "beginning", "-e", "-q"],
                             capture_output=True, text=True, timeout=60 * harness.SCALE)
        mine = [l for l in out.stdout.splitlines() if r.record in l]
        self.assertGreaterEqual(len(mine), 1)
        rec = json.loads(mine[0])
        self.assertEqual(rec["schema"], "steward.lineage/1")
        self.assertEqual(rec["record_id"], r.record)
        self.assert_no_fixture_pii(out.stdout, "the lineage topic")
        self.assert_no_fixture_pii(json.dumps(self.st.sql("select raw from lineage_records")),
                                   "lineage_records.raw")

    def test_audit_query_cli(self):
        r = request(self.st.url, "POST", "/v1/chat/completions",
                    chat("x", model="external-y") | {"messages": [
                        {"role": "user", "content": "card 4111 1111 1111 1111"}]})
        self.assertEqual(r.status, 403)
        self.st.record_row(r.record)
        aud = os.path.join(harness.BIN, "steward-audit")
        out = subprocess.run([aud, "query", "--db", self.st.db, "--since", "1h", "--decision",
                              "deny", "--format", "json", "--limit", "100"],
                             capture_output=True, text=True, check=True).stdout
        recs = [json.loads(l) for l in out.splitlines() if l.strip()]
        self.assertIn(r.record, [x["record_id"] for x in recs])
        self.assertTrue(all(x["policy"]["decision"] == "deny" for x in recs))
        table = subprocess.run([aud, "query", "--db", self.st.db, "--since", "1h"],
                               capture_output=True, text=True, check=True).stdout
        self.assertIn(r.record, table)

    def test_zz_logs_carry_no_pii(self):
        # Runs last (name order): every log written so far.
        for path, text in self.st.logs().items():
            self.assert_no_fixture_pii(text, path)


class ConfigTest(unittest.TestCase):
    def run_steward(self, *args):
        return subprocess.run([os.path.join(harness.BIN, "steward")] + list(args),
                              capture_output=True, text=True)

    def test_check_mode_accepts_the_example(self):
        r = self.run_steward("-n", "-c", os.path.join(harness.REPO, "deploy/example.conf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration ok", r.stdout)

    def test_unknown_key_names_file_and_line(self):
        path = os.path.join(harness.STACK.dir, "bad.conf")
        with open(path, "w") as f:
            f.write("# comment\nlisten = 127.0.0.1:1\nlisen = oops\n")
        r = self.run_steward("-n", "-c", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:3: unknown option 'lisen'" % path, r.stderr)

    def test_bad_policy_is_refused(self):
        path = os.path.join(harness.STACK.dir, "bad-policy.json")
        with open(path, "w") as f:
            f.write('{"id": "x", "request": {"EMAIL": "obliterate"}}')
        r = self.run_steward("-n", "-o", "policy=" + path, "-o",
                             "kafka.bootstrap.servers=127.0.0.1:1")
        self.assertEqual(r.returncode, 1)
        self.assertIn(path, r.stderr)


if __name__ == "__main__":
    unittest.main()
