# SPDX-License-Identifier: Apache-2.0
"""The auditor's side (issue 7) against records made by the real pipeline:
an agent chain of three calls through the sidecar with traceparent,
X-Steward-Parent and X-Steward-Inputs, plus tenant records through Kafka and
the loader.  steward-audit's query filters, trace trees, subject search by
keyed fingerprint, row-level security, the access log, the report (HTML
well-formed, numbers equal to SQL counts), OpenLineage events valid against
the specification's schema, the loader and admin roles, retention with
legal hold.  Values are synthetic and unique to the run."""

import hashlib
import hmac
import html.parser
import json
import os
import re
import secrets
import subprocess
import tempfile
import time
import unittest
import uuid
import xml.etree.ElementTree as ET

import harness
import jsonschema_lite
from harness import request, wait_until

RUN = secrets.token_hex(4)
EMAIL = "ana.ferreira.%s@example.org" % RUN          # the data subject
EMAIL_SHOUTED = "  Ana.Ferreira.%s@EXAMPLE.org " % RUN  # the same address, unnormalised
PHONE = "415-555-%04d" % (int(RUN, 16) % 10000)
OTHER_EMAIL = "li.wei.%s@example.net" % RUN
CARD = "4111 1111 1111 1111"
TRACE = secrets.token_hex(16)
DOCS = ["doc://kb/%s/handbook.pdf" % RUN, "s3://hr-%s/policies/leave.md" % RUN]
DOC3 = "doc://kb/%s/calendar" % RUN
harness.FIXTURE_PII.extend([EMAIL, PHONE, OTHER_EMAIL, EMAIL.upper()])

AUD = os.path.join(harness.BIN, "steward-audit")
REPO = harness.REPO


def chat(content, model="local-llama"):
    return {"model": model, "messages": [{"role": "user", "content": content}]}


def traceparent(span):
    return "00-%s-%s-01" % (TRACE, span)


def db_as(url, user):
    """The stack's URL with another user (trust authentication on loopback)."""
    rest = url.split("@", 1)[1]
    return "postgresql://%s@%s" % (user, rest)


def make_record(tenant, ts, principal="svc-synthetic", model="local-llama", findings=(),
                decision="allow", purpose=None, chain=None):
    """A synthetic record; chain is (id, seq, prev hash) or None for a chain
    of its own."""
    rid = "%08x-%04x-7%03x-8%03x-%012x" % (
        int(ts * 1000) >> 16, int(ts * 1000) & 0xffff, secrets.randbits(12),
        secrets.randbits(12), secrets.randbits(48))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".000000Z"
    return rid, {
        "schema": "steward.lineage/1", "record_id": rid, "ts_start": iso, "ts_end": iso,
        "instance": "it-synthetic",
        "caller": {"principal": principal, "tenant": tenant, "purpose": purpose},
        "request": {"method": "POST", "path": "/v1/chat/completions", "route": "chat"},
        "model": {"requested": model, "served": model, "upstream": "http://127.0.0.1:9"},
        "policy": {"id": "steward-default", "hash": "ab" * 32, "mode": "enforce",
                   "decision": decision, "rule_id": None, "matched_rules": []},
        "findings": list(findings), "http_status": 200, "outcome": "ok",
        "latency_us": {"total": 10, "upstream": 5, "governance": 2},
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        "trace": {"trace_id": None, "span_id": None, "parent_span_id": None},
        "parent_record": None, "inputs": [], "fingerprint_key_id": None,
        # Always the last member; by default a chain of its own (seq 1), as
        # a sidecar's first record.
        "chain": ({"id": chain[0], "seq": chain[1], "prev": chain[2]} if chain else
                  {"id": str(uuid.uuid4()), "seq": 1, "prev": "0" * 64}),
    }


class HTMLCheck(html.parser.HTMLParser):
    """Collects ids and data-* rows, checks that non-void tags balance and
    that nothing external is loaded."""
    VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source",
            "path", "rect", "line", "stop"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.ids, self.rows = [], [], {}, []
        self.cur_id, self.cur_row, self.cur_cell, self.text = None, None, None, ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "iframe", "object", "embed") or "src" in a:
            self.errors.append("external or active content: <%s>" % tag)
        if tag not in self.VOID:
            self.stack.append(tag)
        if "id" in a:
            self.cur_id, self.text = a["id"], ""
        if tag == "tr":
            self.cur_row = {k: v for k, v in a.items() if k.startswith("data-")}
            self.cur_row["cells"] = {}
        if tag == "td" and self.cur_row is not None and "data-k" in a:
            self.cur_cell, self.text = a["data-k"], ""

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("unbalanced </%s> (open: %s)" % (tag, self.stack[-3:]))
            return
        self.stack.pop()
        if self.cur_cell is not None and tag == "td":
            self.cur_row["cells"][self.cur_cell] = self.text.strip()
            self.cur_cell = None
        if tag == "tr" and self.cur_row is not None:
            self.rows.append(self.cur_row)
            self.cur_row = None
        if self.cur_id is not None and tag in ("div", "span", "b", "td"):
            self.ids.setdefault(self.cur_id, self.text.strip())
            self.cur_id = None

    def handle_data(self, data):
        self.text += data


def num(s):
    return int(s.replace(",", ""))


class AuditorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        st = cls.st = harness.STACK
        cls.t0 = time.time() - 1
        cls.key_file = st.env["STEWARD_FINGERPRINT_KEY_FILE"]
        with open(cls.key_file, "rb") as f:
            key = f.read()
        # As cm_fp_key_load reads it: one trailing "\n" (or "\r\n") is not key.
        if key.endswith(b"\n"):
            key = key[:-2] if key.endswith(b"\r\n") else key[:-1]
        cls.key = key

        # The agent chain: three calls, each continuing the previous one.
        r1 = request(st.url, "POST", "/v1/chat/completions",
                     chat("Summarise the leave policy for %s and call %s" % (EMAIL_SHOUTED, PHONE)),
                     headers={"traceparent": traceparent("00f067aa0ba902b7"),
                              "X-Steward-Inputs": ", ".join(DOCS)})
        r2 = request(st.url, "POST", "/v1/chat/completions",
                     chat("Draft the reply to %s about the dates" % EMAIL),
                     headers={"traceparent": traceparent("1111111111111111"),
                              "X-Steward-Parent": r1.record, "X-Steward-Inputs": DOC3})
        r3 = request(st.url, "POST", "/v1/chat/completions",
                     chat("Book it on card %s" % CARD, model="external-%s" % RUN),
                     headers={"traceparent": traceparent("2222222222222222"),
                              "X-Steward-Parent": r2.record})
        other = request(st.url, "POST", "/v1/chat/completions",
                        chat("Unrelated note for %s" % OTHER_EMAIL))
        for r, want in ((r1, 200), (r2, 200), (r3, 403), (other, 200)):
            assert r.status == want, (r.status, r.body)
        cls.r1, cls.r2, cls.r3, cls.other = r1.record, r2.record, r3.record, other.record
        for rid in (cls.r1, cls.r2, cls.r3, cls.other):
            st.record_row(rid)

        # Tenant records straight through Kafka and the loader: the stack's
        # sidecar serves one default policy without API keys, and these need
        # tenants, principals and purposes of their own.
        cls.tenant_a, cls.tenant_b = "acme-" + RUN, "globex-" + RUN
        now = time.time()
        cls.tenant_records = {}
        lines = []
        for tenant, n in ((cls.tenant_a, 3), (cls.tenant_b, 2)):
            for i in range(n):
                fps = [cls.fingerprint("EMAIL", "%s.%d@example.com" % (tenant, i))]
                rid, rec = make_record(tenant, now - i, principal="svc-%s" % tenant,
                                       purpose="support" if tenant == cls.tenant_a else "billing",
                                       findings=[{"direction": "request", "type": "EMAIL",
                                                  "pointer": "/messages/0/content", "count": 1,
                                                  "action": "redact", "fingerprints": fps}],
                                       decision="redact")
                rec["fingerprint_key_id"] = None
                cls.tenant_records[rid] = tenant
                lines.append(json.dumps(rec))
        cls.produce("steward.lineage", lines)
        for rid in cls.tenant_records:
            st.record_row(rid)
        cls.t1 = time.time() + 1

        # An auditor per tenant and an admin: login roles in the group roles.
        st.sql("DO $$ BEGIN "
               "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aud_a') THEN "
               "CREATE ROLE aud_a LOGIN IN ROLE steward_auditor; END IF; "
               "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aud_b') THEN "
               "CREATE ROLE aud_b LOGIN IN ROLE steward_auditor; END IF; "
               "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aud_all') THEN "
               "CREATE ROLE aud_all LOGIN IN ROLE steward_auditor; END IF; "
               "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aud_admin') THEN "
               "CREATE ROLE aud_admin LOGIN IN ROLE steward_admin; END IF; "
               "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ld_login') THEN "
               "CREATE ROLE ld_login LOGIN IN ROLE steward_loader; END IF; END $$")
        st.sql("INSERT INTO steward_auditor_scope (auditor, tenant) VALUES "
               "('aud_a', :'p1'), ('aud_b', :'p2'), ('aud_all', '*') ON CONFLICT DO NOTHING",
               cls.tenant_a, cls.tenant_b)

    # ---------------------------------------------------------------- helpers
    @classmethod
    def fingerprint(cls, type_, value):
        norm = value
        if type_ == "EMAIL":
            norm = value.strip().lower()
        elif type_ in ("PHONE", "CREDIT_CARD", "US_SSN"):
            norm = "".join(c for c in value if c.isdigit())
        return hmac.new(cls.key, norm.encode(), hashlib.sha256).hexdigest()

    @classmethod
    def produce(cls, topic, lines):
        subprocess.run(["kcat", "-P", "-b", cls.st.env["KAFKA_BOOTSTRAP"], "-t", topic],
                       input="\n".join(lines) + "\n", text=True, check=True,
                       timeout=30 * harness.SCALE)

    def aud(self, *args, db=None, stdin=None, check=True):
        r = subprocess.run([AUD] + list(args) + ["--db", db or self.st.db], input=stdin,
                           capture_output=True, text=True, timeout=120 * harness.SCALE,
                           env=dict(os.environ, STEWARD_FINGERPRINT_KEY_FILE=self.key_file))
        if check:
            self.assertEqual(r.returncode, 0, "steward-audit %s: %s" % (" ".join(args), r.stderr))
        return r

    def ids_of_query(self, *args, db=None):
        out = self.aud("query", "--format", "json", "--limit", "1000", *args, db=db).stdout
        return [json.loads(l)["record_id"] for l in out.splitlines() if l.strip()]

    def period(self):
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        return iso(self.t0), iso(self.t1)

    # -------------------------------------------------------------- records
    def test_chain_records_carry_their_context(self):
        rows = self.st.sql("SELECT record_id, trace_id, parent_record_id, inputs::text, "
                           "fingerprint_key_id, parent_span_id FROM lineage_records "
                           "WHERE trace_id = :'p1' ORDER BY ts_start", TRACE)
        self.assertEqual([r[0] for r in rows], [self.r1, self.r2, self.r3])
        self.assertEqual(rows[0][2], "")
        self.assertEqual(rows[1][2], self.r1)
        self.assertEqual(rows[2][2], self.r2)
        self.assertEqual(rows[0][3], "{%s}" % ",".join(DOCS))
        self.assertEqual(rows[1][3], "{%s}" % DOC3)
        self.assertEqual(len(rows[0][4]), 16)
        self.assertEqual(rows[0][5], "00f067aa0ba902b7")
        raw = json.dumps(self.st.sql("SELECT raw FROM lineage_records WHERE trace_id = :'p1'",
                                     TRACE))
        for v in (EMAIL, PHONE, EMAIL.upper(), CARD):
            self.assertNotIn(v, raw)

    # ---------------------------------------------------------------- query
    def test_query_filters(self):
        a_from, a_to = self.period()
        cases = [
            (["--trace", TRACE], "trace_id = :'p1'", [TRACE]),
            (["--model", "external-%s" % RUN], "(model_requested = :'p1' OR model_served = :'p1')",
             ["external-%s" % RUN]),
            (["--decision", "deny"], "decision = :'p1'", ["deny"]),
            (["--outcome", "denied"], "outcome = :'p1'", ["denied"]),
            (["--route", "chat"], "route = :'p1'", ["chat"]),
            (["--tenant", self.tenant_a], "tenant = :'p1'", [self.tenant_a]),
            (["--caller", "svc-" + self.tenant_b], "principal = :'p1'", ["svc-" + self.tenant_b]),
            (["--purpose", "support"], "purpose = :'p1'", ["support"]),
            (["--type", "PHONE"], "EXISTS (SELECT 1 FROM lineage_findings f WHERE "
             "f.record_id = r.record_id AND f.ts_start = r.ts_start AND f.type = :'p1')", ["PHONE"]),
        ]
        for args, where, params in cases:
            with self.subTest(args=args):
                got = set(self.ids_of_query("--from", a_from, "--to", a_to, *args))
                want = {r[0] for r in self.st.sql(
                    "SELECT record_id FROM lineage_records r WHERE ts_start >= :'p%d' AND "
                    "ts_start < :'p%d' AND %s" % (len(params) + 1, len(params) + 2, where),
                    *(params + [a_from, a_to]))}
                self.assertEqual(got, want)
                self.assertTrue(got, "the filter %s matched nothing" % args)
        self.assertEqual(set(self.ids_of_query("--trace", TRACE, "--decision", "redact")),
                         {self.r1, self.r2})
        count = self.aud("count", "--trace", TRACE).stdout.strip()
        self.assertEqual(count, "3")

    def test_query_output_formats(self):
        table = self.aud("query", "--trace", TRACE).stdout.splitlines()
        self.assertTrue(table[0].startswith("TIME"))
        self.assertEqual(len(table), 4)
        self.assertIn("EMAIL:1 PHONE:1", [l for l in table if self.r1 in l][0])
        csv_out = self.aud("query", "--trace", TRACE, "--format", "csv").stdout
        import csv
        rows = list(csv.DictReader(csv_out.splitlines()))
        self.assertEqual({r["record_id"] for r in rows}, {self.r1, self.r2, self.r3})
        self.assertEqual({r["trace_id"] for r in rows}, {TRACE})
        by_id = {r["record_id"]: r for r in rows}
        self.assertEqual(by_id[self.r3]["decision"], "deny")
        self.assertEqual(by_id[self.r2]["parent_record"], self.r1)
        bad = self.aud("query", "--format", "xml", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("--format xml", bad.stderr)

    # ---------------------------------------------------------------- trace
    def test_trace_tree_of_the_agent_chain(self):
        out = self.aud("trace", self.r2).stdout
        lines = out.splitlines()
        self.assertIn("3 records, 3 input documents, 2 models", lines[0])
        rec_line = {rid: next(i for i, l in enumerate(lines) if i > 0 and "record " + rid in l)
                    for rid in (self.r1, self.r2, self.r3)}
        indent = {rid: len(lines[i]) - len(lines[i].lstrip(" \u2502\u251c\u2514\u2500"))
                  for rid, i in rec_line.items()}
        self.assertTrue(rec_line[self.r1] < rec_line[self.r2] < rec_line[self.r3])
        self.assertEqual(indent[self.r1], 0)
        self.assertTrue(indent[self.r1] < indent[self.r2] < indent[self.r3])
        self.assertIn("<== asked", lines[rec_line[self.r2]])
        # Documents and models under the record that used them.
        block1 = "\n".join(lines[rec_line[self.r1]:rec_line[self.r2]])
        for d in DOCS:
            self.assertIn("input  " + d, block1)
        self.assertIn("model  local-llama @ ", block1)
        block2 = "\n".join(lines[rec_line[self.r2]:rec_line[self.r3]])
        self.assertIn("input  " + DOC3, block2)
        self.assertIn("model  external-%s" % RUN, "\n".join(lines[rec_line[self.r3]:]))
        print("\n--- trace of the agent chain (steward-audit trace %s)\n%s" % (self.r2, out))

    def test_trace_children_from_the_root_and_by_trace_id(self):
        out = self.aud("trace", self.r1).stdout
        for rid in (self.r2, self.r3):
            self.assertIn("record " + rid, out)
        g = json.loads(self.aud("trace", TRACE, "--format", "json").stdout)
        recs = {n["id"] for n in g["nodes"] if n["kind"] == "record"}
        self.assertEqual(recs, {self.r1, self.r2, self.r3})
        docs = {n["id"] for n in g["nodes"] if n["kind"] == "document"}
        self.assertEqual(docs, set(DOCS) | {DOC3})
        edges = {(e["from"], e["to"], e["kind"]) for e in g["edges"]}
        self.assertIn((self.r1, self.r2, "parent"), edges)
        self.assertIn((self.r2, self.r3, "parent"), edges)
        for d in DOCS:
            self.assertIn((d, self.r1, "input"), edges)
        self.assertIn((DOC3, self.r2, "input"), edges)
        self.assertIn((self.r3, "external-%s" % RUN, "model"), edges)
        # Parents never reach into an unrelated record.
        self.assertNotIn(self.other, str(g))

    def test_trace_dot_and_svg(self):
        dot = self.aud("trace", TRACE, "--format", "dot").stdout
        self.assertTrue(dot.startswith("digraph lineage {"))
        self.assertEqual(dot.count("[label=\"parent\"]"), 2)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "chain.svg")
            self.aud("trace", TRACE, "--format", "svg", "--out", path)
            root = ET.parse(path).getroot()
            self.assertTrue(root.tag.endswith("svg"))
            texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
            self.assertIn(self.r1, texts)
            self.assertIn(DOC3, texts)
        bad = self.aud("trace", "not-an-id", check=False)
        self.assertEqual(bad.returncode, 1)

    # -------------------------------------------------------------- subject
    def subject_ids(self, value, *args, db=None):
        out = self.aud("subject", "-", "--format", "json", *args, stdin=value + "\n",
                       db=db).stdout
        return {json.loads(l)["record_id"] for l in out.splitlines() if l.strip()}

    def test_subject_finds_exactly_the_records_with_the_value(self):
        want = {r[0] for r in self.st.sql(
            "SELECT DISTINCT record_id FROM lineage_fingerprints WHERE fingerprint = "
            "decode(:'p1', 'hex')", self.fingerprint("EMAIL", EMAIL))}
        self.assertEqual(want, {self.r1, self.r2})
        self.assertEqual(self.subject_ids(EMAIL_SHOUTED), want)
        self.assertEqual(self.subject_ids(EMAIL, "--type", "EMAIL"), want)
        self.assertEqual(self.subject_ids("(%s) %s" % (PHONE[:3], PHONE[4:])), {self.r1})
        self.assertEqual(self.subject_ids(OTHER_EMAIL), {self.other})
        self.assertEqual(self.subject_ids(CARD.replace(" ", "-")), {self.r3})
        self.assertEqual(self.subject_ids("nobody.%s@example.org" % RUN), set())
        # The phone number is not an e-mail address.
        self.assertEqual(self.subject_ids(PHONE, "--type", "EMAIL"), set())
        table = self.aud("subject", EMAIL).stdout
        self.assertIn("2 records contain the value", table)
        self.assertNotIn(EMAIL, table)
        r3 = [l for l in self.aud("subject", CARD).stdout.splitlines() if self.r3 in l][0]
        self.assertIn("nothing (denied)", r3)

    def test_subject_needs_a_secret_key(self):
        with tempfile.TemporaryDirectory() as d:
            loose = os.path.join(d, "k")
            with open(loose, "wb") as f:
                f.write(self.key)
            os.chmod(loose, 0o644)
            r = self.aud("subject", EMAIL, "--key-file", loose, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("0644", r.stderr)
            os.chmod(loose, 0o600)
            r = self.aud("subject", "-", "--key-file", loose, "--format", "json",
                         stdin=EMAIL)
            self.assertEqual(len(r.stdout.splitlines()), 2)
            with open(os.path.join(d, "other"), "wb") as f:
                f.write(b"another key of enough bytes!")
            os.chmod(os.path.join(d, "other"), 0o600)
            r = self.aud("subject", EMAIL, "--key-file", os.path.join(d, "other"))
            self.assertIn("0 records contain the value", r.stdout)
            self.assertIn("fingerprinted under another key", r.stderr)

    def test_subject_access_report(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "sar.html")
            self.aud("subject", EMAIL, "--report", path)
            p = HTMLCheck()
            p.feed(open(path, encoding="utf-8").read())
            p.close()
            self.assertEqual(p.errors, [])
            self.assertEqual(p.stack, [])
            self.assertEqual(num(p.ids["k-records"]), 2)
            self.assertEqual({r.get("data-record") for r in p.rows if "data-record" in r},
                             {self.r1, self.r2})
            self.assertNotIn(EMAIL, open(path, encoding="utf-8").read())
            jpath = os.path.join(d, "sar.json")
            self.aud("subject", EMAIL, "--report", jpath)
            model = json.load(open(jpath))
            self.assertEqual(model["records"], 2)

    def test_subject_erasure_keeps_held_records_and_the_chain_accountable(self):
        st, admin = self.st, db_as(self.st.db, "aud_admin")
        value = "erase.me.%s@example.com" % RUN
        tenant = "erase-" + RUN
        chain, prev, lines, ids = str(uuid.uuid4()), "0" * 64, [], []
        # One chain of three records: the first and the last carry the value,
        # the last is under a legal hold.
        for seq, carries in ((1, True), (2, False), (3, True)):
            findings = [{"direction": "request", "type": "EMAIL", "pointer": "/messages/0/content",
                         "count": 1, "action": "redact",
                         "fingerprints": [self.fingerprint("EMAIL", value)]}] if carries else []
            rid, rec = make_record(tenant, time.time(), findings=findings,
                                   chain=(chain, seq, prev))
            line = json.dumps(rec, separators=(",", ":"))
            prev = hashlib.sha256(line.encode()).hexdigest()
            lines.append(line)
            ids.append(rid)
        self.produce("steward.lineage", lines)
        for rid in ids:
            st.record_row(rid)
        self.assertEqual(self.subject_ids(value), {ids[0], ids[2]})
        self.aud("hold", "add", "--reason", "case erase-%s" % RUN, "--record", ids[2], db=admin)

        # Auditors may not erase; a reason is required; a dry run changes nothing.
        r = self.aud("subject", "-", "--erase", "--reason", "Art. 17 request", stdin=value,
                     check=False, db=db_as(st.db, "aud_a"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("permission denied", r.stderr)
        r = self.aud("subject", "-", "--erase", stdin=value, check=False, db=admin)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--reason", r.stderr)
        dry = self.aud("subject", "-", "--erase", "--dry-run", "--reason", "Art. 17 request",
                       stdin=value, db=admin).stdout
        self.assertIn("erasure (dry run): 1 record would be erased; 1 kept under legal hold: %s"
                      % ids[2], dry)
        self.assertEqual([st.count_records(r) for r in ids], [1, 1, 1])

        out = self.aud("subject", "-", "--erase", "--reason", "Art. 17 request %s" % RUN,
                       stdin=value, db=admin).stdout
        self.assertIn("erasure: 1 record erased; 1 kept under legal hold: %s" % ids[2], out)
        self.assertNotIn(value, out)
        self.assertEqual([st.count_records(r) for r in ids], [0, 1, 1])
        for t in ("lineage_findings", "lineage_fingerprints", "lineage_edges"):
            self.assertEqual(st.sql("SELECT count(*) FROM %s WHERE record_id = :'p1'" % t,
                                    ids[0])[0][0], "0", t)
        self.assertEqual(self.subject_ids(value), {ids[2]})
        # Accounted for: verify counts the erased position as expired, the
        # retention log has the erasure and its reason, the access log the
        # command without the value.
        r = self.aud("verify", "--chain", chain, check=False, db=admin)
        v = dict(re.findall(r"(\w+)=(\d+)", r.stdout.splitlines()[-1]))
        self.assertEqual((r.returncode, v["records"], v["expired"], v["gaps"]), (0, "2", "1", "0"),
                         r.stdout)
        self.assertEqual(st.sql("SELECT reason FROM steward_chain_expired WHERE chain_id = :'p1'",
                                chain), [["erasure"]])
        self.assertEqual(st.sql("SELECT rows, detail FROM steward_retention_log WHERE class = "
                                "'erasure' AND detail = :'p1'", "Art. 17 request %s" % RUN),
                         [["1", "Art. 17 request %s" % RUN]])
        logged = st.sql("SELECT args::text FROM steward_access_log WHERE command = 'subject' "
                        "AND args->>'reason' = :'p1'", "Art. 17 request %s" % RUN)
        self.assertEqual(len(logged), 1)
        self.assertNotIn(value, logged[0][0])
        self.assertEqual(json.loads(logged[0][0])["erase"], True)

    # ------------------------------------------------ row-level security
    def test_row_level_security_per_tenant(self):
        a, b = db_as(self.st.db, "aud_a"), db_as(self.st.db, "aud_b")
        ids_a = set(self.ids_of_query(db=a))
        ids_b = set(self.ids_of_query(db=b))
        want_a = {r for r, t in self.tenant_records.items() if t == self.tenant_a}
        want_b = {r for r, t in self.tenant_records.items() if t == self.tenant_b}
        self.assertEqual(ids_a, want_a)
        self.assertEqual(ids_b, want_b)
        self.assertEqual(self.ids_of_query("--tenant", self.tenant_b, db=a), [])
        self.assertEqual(self.aud("count", db=a).stdout.strip(), str(len(want_a)))
        # Direct SQL is confined the same way, in every table with tenant data.
        for table in ("lineage_records", "lineage_findings", "lineage_fingerprints",
                      "lineage_edges"):
            out = subprocess.run(["psql", a, "-XAtc", "SELECT count(*) FROM %s WHERE tenant IS "
                                  "DISTINCT FROM '%s'" % (table, self.tenant_a)],
                                 capture_output=True, text=True, check=True).stdout.strip()
            self.assertEqual(out, "0", table)
        # Subject search and trace respect it too.
        value = "%s.0@example.com" % self.tenant_b
        self.assertEqual(len(self.subject_ids(value, db=b)), 1)
        self.assertEqual(self.subject_ids(value, db=a), set())
        self.assertEqual(self.aud("trace", self.r1, db=a, check=False).returncode, 1)
        # The '*' scope sees every tenant; nobody else sees untenanted records.
        ids_all = set(self.ids_of_query("--trace", TRACE, db=db_as(self.st.db, "aud_all")))
        self.assertEqual(ids_all, {self.r1, self.r2, self.r3})
        # Auditors read; they do not write, and not what they must not see.
        for sql in ("DELETE FROM lineage_records", "INSERT INTO steward_auditor_scope VALUES "
                    "('aud_a', '*')", "SELECT payload FROM lineage_rejects",
                    "SELECT * FROM steward_access_log",
                    "SELECT steward_retention_apply(true)"):
            r = subprocess.run(["psql", a, "-XAtc", sql], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0, sql)
            self.assertIn("permission denied", r.stderr, sql)

    # ------------------------------------------------------- access log
    def test_access_log_records_each_question(self):
        a = db_as(self.st.db, "aud_a")
        before = int(self.st.sql("SELECT coalesce(max(id), 0) FROM steward_access_log")[0][0])
        self.aud("query", "--tenant", self.tenant_a, "--decision", "redact", db=a)
        self.aud("subject", "-", stdin=EMAIL, db=a)
        self.aud("trace", TRACE, check=False, db=a)
        rows = self.st.sql("SELECT who, command, args::text, client IS NOT NULL FROM "
                           "steward_access_log WHERE id > :'p1' ORDER BY id", str(before))
        self.assertEqual([(r[0], r[1]) for r in rows],
                         [("aud_a", "query"), ("aud_a", "subject"), ("aud_a", "trace")])
        q = json.loads(rows[0][2])
        self.assertEqual(q["tenant"], self.tenant_a)
        self.assertEqual(q["decision"], "redact")
        s = json.loads(rows[1][2])
        self.assertIn(self.fingerprint("EMAIL", EMAIL), s["fingerprints"])
        log = json.dumps(self.st.sql("SELECT args FROM steward_access_log"))
        self.assertNotIn(EMAIL, log)
        self.assertNotIn(EMAIL.split("@")[0], log)

    # ---------------------------------------------------------------- report
    def test_report_html_is_well_formed_and_matches_sql(self):
        a_from, a_to = self.period()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "report.html")
            self.aud("report", "--from", a_from, "--to", a_to, "--out", path,
                     "--controller", "Example Org, privacy@example.invalid")
            text = open(path, encoding="utf-8").read()
            p = HTMLCheck()
            p.feed(text)
            p.close()
            self.assertEqual(p.errors, [])
            self.assertEqual(p.stack, [])
            for v in (EMAIL, PHONE, OTHER_EMAIL):
                self.assertNotIn(v, text)
            scope = "ts_start >= :'p1' AND ts_start < :'p2'"
            q = lambda sql: int(self.st.sql(sql, a_from, a_to)[0][0])
            self.assertEqual(num(p.ids["k-records"]),
                             q("SELECT count(*) FROM lineage_records WHERE " + scope))
            self.assertEqual(num(p.ids["k-deny"]), q(
                "SELECT count(*) FROM lineage_records WHERE decision = 'deny' AND " + scope))
            self.assertEqual(num(p.ids["k-redact"]), q(
                "SELECT count(*) FROM lineage_records WHERE decision = 'redact' AND " + scope))
            self.assertEqual(num(p.ids["k-findings"]), q(
                "SELECT coalesce(sum(count), 0) FROM lineage_findings WHERE " + scope))
            self.assertEqual(num(p.ids["k-in-clear"]), q(
                "SELECT coalesce(sum(count), 0) FROM lineage_findings WHERE action = 'allow' "
                "AND " + scope))
            by_type = {r["data-type"]: num(r["cells"]["findings"]) for r in p.rows
                       if "data-type" in r}
            want = {t: int(n) for t, n in self.st.sql(
                "SELECT type, sum(count) FROM lineage_findings WHERE " + scope +
                " GROUP BY type", a_from, a_to)}
            self.assertEqual(by_type, want)
            denials = {r["data-rule"]: num(r["cells"]["records"]) for r in p.rows
                       if "data-rule" in r}
            self.assertEqual(denials.get("no-cards-to-external-models"), q(
                "SELECT count(*) FROM lineage_records WHERE rule_id = "
                "'no-cards-to-external-models' AND " + scope))
            # Chain integrity: verify over every chain with a record in the
            # period, as many records as those chains hold.
            self.assertIn(p.ids["chain-verdict"], ("ok", "problems found"))
            self.assertEqual(num(p.ids["chain-checked"]), q(
                "SELECT count(*) FROM lineage_records WHERE chain_id IN (SELECT chain_id "
                "FROM lineage_records WHERE " + scope + ")"))
            for section in ("summary", "art30", "recipients", "exposure", "decisions",
                            "policies", "chain", "retention", "rejects", "signoff"):
                self.assertIn('<section id="%s">' % section, text)
            self.assertIn("<svg", text)
            self.assertIn("Example Org, privacy@example.invalid", text)
        model = json.loads(self.aud("report", "--from", a_from, "--to", a_to, "--out", "-",
                                    "--format", "json").stdout)
        self.assertEqual(model["schema"], "steward.report/1")
        self.assertEqual(model["summary"]["records"], num(p.ids["k-records"]))
        md = self.aud("report", "--from", a_from, "--to", a_to, "--out", "-", "--format",
                      "md").stdout
        self.assertIn("## 4. Personal data exposure", md)
        # An auditor's report covers their tenant only.
        ra = json.loads(self.aud("report", "--from", a_from, "--to", a_to, "--out", "-",
                                 "--format", "json", db=db_as(self.st.db, "aud_a")).stdout)
        self.assertEqual(ra["summary"]["records"], 3)
        self.assertEqual(ra["activities"][0]["purpose"], "support")
        # Chains run across tenants: under row-level security they are not
        # checked (and not reported broken), and the report says why.
        self.assertEqual(ra["chain"]["verdict"], "not checked")
        self.assertIn("row-level security", ra["chain"]["detail"])
        self.assertIn(model["chain"]["verdict"], ("ok", "problems found"))

    # ----------------------------------------------------------- openlineage
    def test_openlineage_events_validate_against_the_spec(self):
        reg = jsonschema_lite.Registry()
        core = reg.add_file(os.path.join(REPO, "tests/data/openlineage/OpenLineage.json"))
        for name in ("ParentRunFacet", "NominalTimeRunFacet"):
            reg.add_file(os.path.join(REPO, "tests/data/openlineage/%s.json" % name))
        for name in ("StewardExchangeRunFacet", "StewardPolicyRunFacet", "StewardPiiRunFacet"):
            reg.add_file(os.path.join(REPO, "schema/openlineage/%s.json" % name))
        out = self.aud("export", "--openlineage", "--trace", TRACE).stdout
        events = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([e["run"]["runId"] for e in events], [self.r1, self.r2, self.r3])
        for ev in events:
            errs = reg.errors(ev, core, core)
            for name, facet in ev["run"]["facets"].items():
                target, doc = reg.resolve(facet["_schemaURL"], None)
                errs += reg.errors(facet, target, doc, "$.run.facets." + name)
            self.assertEqual(errs, [], ev["run"]["runId"])
        e1, e2, e3 = events
        self.assertEqual((e1["eventType"], e3["eventType"]), ("COMPLETE", "ABORT"))
        self.assertEqual(e2["run"]["facets"]["parent"]["run"]["runId"], self.r1)
        self.assertEqual(e2["run"]["facets"]["parent"]["job"]["name"], "local-llama")
        self.assertEqual(e3["job"]["name"], "external-%s" % RUN)
        self.assertIn({"namespace": "steward", "name": "response/" + self.r1}, e2["inputs"])
        self.assertIn({"namespace": "s3://hr-%s" % RUN, "name": "policies/leave.md"},
                      e1["inputs"])
        self.assertEqual(e1["outputs"], [{"namespace": "steward", "name": "response/" + self.r1}])
        self.assertEqual(e3["run"]["facets"]["steward_policy"]["decision"], "deny")
        pii = e1["run"]["facets"]["steward_pii"]
        self.assertEqual(pii["totalsByType"], {"EMAIL": 1, "PHONE": 1})
        self.assertNotIn("fingerprint", json.dumps(events))

    # --------------------------------------------------------- loader role
    def test_loader_role_inserts_and_nothing_more(self):
        topic = "steward.lineage.role-" + RUN
        st = self.st
        subprocess.run([os.path.join(harness.BIN, "steward-mockkafka"), "ctl",
                        st.env["KAFKA_CONTROL"], "topic", topic, "1"], check=True,
                       capture_output=True)
        d = tempfile.mkdtemp(dir=st.dir)
        conf = os.path.join(d, "loader.conf")
        with open(conf, "w") as f:
            f.write("pg_url = %s\nbootstrap_file = %s\ntopic = %s\ngroup_id = role-%s\n"
                    "batch_wait = 50ms\nkafka.session.timeout.ms = 6000\n" % (
                        db_as(st.db, "ld_login"), os.path.join(st.run, "kafka.bootstrap"),
                        topic, RUN))
        log = open(os.path.join(d, "loader.log"), "w")
        proc = subprocess.Popen([os.path.join(harness.BIN, "steward-loader"), "-c", conf],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            rid, rec = make_record("role-" + RUN, time.time(), findings=[
                {"direction": "request", "type": "EMAIL", "pointer": "/m", "count": 1,
                 "action": "redact", "fingerprints": ["ab" * 32]}])
            ckpt = {"schema": "steward.checkpoint/1", "chain_id": rec["chain"]["id"], "seq": 1,
                    "hash": "0" * 64, "ts": rec["ts_start"], "instance": "it-synthetic",
                    "key_id": None, "sig": None}
            self.produce(topic, [json.dumps(rec), json.dumps(rec), "not a record",
                                 json.dumps(ckpt), json.dumps(ckpt)])
            st.record_row(rid)
            # Checkpoints load under the loader role too, once.
            wait_until(lambda: st.sql("SELECT count(*) FROM lineage_checkpoints WHERE "
                                      "chain_id = :'p1'", ckpt["chain_id"])[0][0] == "1", 20,
                       "the checkpoint")
            wait_until(lambda: st.sql("SELECT count(*) FROM lineage_rejects WHERE kafka_topic "
                                      "= :'p1'", topic)[0][0] == "1", 20, "the reject")
            self.assertEqual(st.count_records(rid), 1)
            self.assertEqual(st.sql("SELECT kafka_topic FROM lineage_records WHERE "
                                    "record_id = :'p1'", rid)[0][0], topic)
            # The trigger derived findings and fingerprints for it.
            self.assertEqual(st.sql("SELECT count(*) FROM lineage_fingerprints WHERE "
                                    "record_id = :'p1'", rid)[0][0], "1")
        finally:
            proc.terminate()
            proc.wait(20)
            log.close()
        ld = db_as(st.db, "ld_login")
        for sql in ("SELECT raw FROM lineage_records", "DELETE FROM lineage_records",
                    "UPDATE lineage_records SET tenant = 'x'",
                    "SELECT * FROM lineage_findings", "DELETE FROM lineage_rejects",
                    "SELECT raw FROM lineage_checkpoints", "DELETE FROM lineage_checkpoints"):
            r = subprocess.run(["psql", ld, "-XAtc", sql], capture_output=True, text=True)
            self.assertIn("permission denied", r.stderr, sql)

    # --------------------------------------------------- retention, holds
    def test_retention_drops_only_what_it_should_and_honours_holds(self):
        st = self.st
        admin = db_as(st.db, "aud_admin")
        # midnight UTC, 500 days ago: each record below lands at 01:00 of
        # its day whatever the hour the test runs (from an arbitrary time
        # of day, +1 h crossed into the next day's partition after 23:00)
        base = (int(time.time()) // 86400 - 500) * 86400
        days = [time.strftime("%Y-%m-%d", time.gmtime(base + i * 86400)) for i in range(3)]
        st.sql("SELECT steward_partitions_ensure(:'p1'::date, :'p2'::date)", days[0], days[2])
        held_t, free_t = "ret-held-" + RUN, "ret-free-" + RUN
        recs, lines = {}, []
        # One chain through the three old days and today: seq 1 (day 0),
        # 2 and 3 (day 1, 3 held), 4 (day 2), 5 (now, kept).
        chain, prev = str(uuid.uuid4()), "0" * 64

        def chained(tenant, ts):
            nonlocal prev
            rid, rec = make_record(tenant, ts, chain=(chain, len(lines) + 1, prev))
            line = json.dumps(rec, separators=(",", ":"))
            prev = hashlib.sha256(line.encode()).hexdigest()
            lines.append(line)
            return rid
        for i, day in enumerate(days):
            for tenant in ((free_t,) if i != 1 else (free_t, held_t)):
                recs[chained(tenant, base + i * 86400 + 3600)] = (day, tenant)
        newest = chained(free_t, time.time())
        self.produce("steward.lineage", lines)
        for rid in list(recs) + [newest]:
            st.record_row(rid)

        def verify():
            r = self.aud("verify", "--chain", chain, check=False, db=admin)
            return (r.returncode, dict(re.findall(r"(\w+)=(\d+)", r.stdout.splitlines()[-1])),
                    r.stdout)
        rc, v, out = verify()
        self.assertEqual((rc, v["records"], v["expired"]), (0, "5", "0"), out)
        part = lambda day: st.sql("SELECT to_regclass(:'p1') IS NOT NULL",
                                  "lineage_records_p" + day.replace("-", ""))[0][0] == "t"
        self.assertTrue(all(part(d) for d in days))
        recent = int(st.sql("SELECT count(*) FROM lineage_records WHERE ts_start > now() - "
                            "interval '1 day'")[0][0])

        self.aud("hold", "add", "--reason", "case %s" % RUN, "--tenant", held_t, db=admin)
        dry = self.aud("retention", "apply", "--dry-run", db=admin).stdout
        self.assertIn("lineage_records_p%s" % days[0].replace("-", ""), dry)
        self.assertTrue(all(part(d) for d in days))
        self.assertEqual(len([r for r in recs if st.count_records(r) == 1]), len(recs))
        denied = self.aud("retention", "apply", check=False, db=db_as(st.db, "aud_a"))
        self.assertEqual(denied.returncode, 1)

        out = self.aud("retention", "apply", db=admin).stdout
        self.assertIn("drop partition", out)
        self.assertIn("delete unheld rows", out)
        self.assertFalse(part(days[0]))
        self.assertTrue(part(days[1]))
        self.assertFalse(part(days[2]))
        for rid, (day, tenant) in recs.items():
            self.assertEqual(st.count_records(rid), 1 if tenant == held_t else 0, (day, tenant))
        self.assertEqual(int(st.sql("SELECT count(*) FROM lineage_records WHERE ts_start > "
                                    "now() - interval '1 day'")[0][0]), recent)
        self.assertEqual(st.sql("SELECT count(*) FROM lineage_records WHERE record_id IN "
                                "(:'p1', :'p2', :'p3')", self.r1, self.r2, self.r3)[0][0], "3")
        logged = st.sql("SELECT count(*) FROM steward_retention_log WHERE object = :'p1'",
                        "lineage_records_p" + days[0].replace("-", ""))[0][0]
        self.assertEqual(logged, "1")
        # The chain lost seqs 1, 2 and 4 to retention: expired, not gaps.
        rc, v, out = verify()
        self.assertEqual((rc, v["records"], v["expired"], v["gaps"]), (0, "2", "3", "0"), out)
        # A record deleted by other means (here the held one, seq 3) is a
        # gap, and verify says so.
        held_rid = [r for r, (_, t) in recs.items() if t == held_t][0]
        st.sql("DELETE FROM lineage_records WHERE record_id = :'p1'", held_rid)
        rc, v, out = verify()
        self.assertEqual((rc, v["gaps"], v["expired"]), (1, "1", "3"), out)
        self.assertIn("gap chain=%s seq=3..3" % chain, out)

        hold = st.sql("SELECT id FROM steward_legal_holds WHERE reason = :'p1'",
                      "case %s" % RUN)[0][0]
        self.aud("hold", "release", hold, db=admin)
        self.aud("retention", "apply", db=admin)
        self.assertFalse(part(days[1]))
        for rid in recs:
            self.assertEqual(st.count_records(rid), 0)

    def test_partitions_command_and_status(self):
        out = self.aud("partitions", "--ahead", "3", db=db_as(self.st.db, "aud_admin")).stdout
        self.assertIn("lineage_records", out)
        st = self.aud("retention", "status", db=db_as(self.st.db, "aud_admin")).stdout
        self.assertIn("fingerprints", st)


if __name__ == "__main__":
    unittest.main()
