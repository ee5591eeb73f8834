# SPDX-License-Identifier: Apache-2.0
"""Strict HTTP on the data port (issue 5): every class of malformed framing
is refused with its status, the connection is closed so nothing pipelined
behind it runs, nothing reaches the model server, and the refusal is
recorded.  The bytes are sent raw over a socket."""

import re
import subprocess
import unittest

import harness
from harness import raw_exchange, request

BODY = b'{"model":"x","messages":[{"role":"user","content":"hi"}]}'
TAIL = b"GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n"  # pipelined behind the bad request


def post(extra_headers, body=BODY, te=False):
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
    if not te:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + extra_headers + b"\r\n" + body


CASES = [
    ("duplicate Content-Length", post(b"Content-Length: 3\r\n"), 400),
    ("Content-Length with Transfer-Encoding", post(b"Transfer-Encoding: chunked\r\n"), 400),
    ("0x chunk size", post(b"Transfer-Encoding: chunked\r\n",
                           b"0x%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n", te=True), 400),
    ("chunk size with a space", post(b"Transfer-Encoding: chunked\r\n",
                                     b" %x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n", te=True), 400),
    ("unknown transfer coding", post(b"Transfer-Encoding: gzip, chunked\r\n",
                                     b"0\r\n\r\n", te=True), 501),
    ("obs-fold", post(b"X-Folded: a\r\n b\r\n"), 400),
    ("whitespace before colon", post(b"X-Space : a\r\n"), 400),
    ("control byte in a value", post(b"X-Ctl: a\x01b\r\n"), 400),
    ("NUL in a value", post(b"X-Nul: a\x00b\r\n"), 400),
    ("duplicate Host", post(b"Host: b\r\n"), 400),
    ("missing Host", b"GET /v1/models HTTP/1.1\r\n\r\n", 400),
    ("absolute-form target", b"GET http://evil.example/v1/models HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("target too long", b"GET /v1/models?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    ("header line too long", post(b"X-Big: " + b"b" * 9000 + b"\r\n"), 431),
    ("too many headers", post(b"".join(b"X-H%d: v\r\n" % i for i in range(120))), 431),
]


class StrictHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = harness.STACK

    def check(self, name, payload, status):
        before = len(self.st.model_received())
        data, closed = raw_exchange(self.st.url, payload + TAIL)
        m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        self.assertIsNotNone(m, "%s: no HTTP answer: %r" % (name, data[:200]))
        self.assertEqual(int(m.group(1)), status, "%s: %r" % (name, data[:300]))
        self.assertTrue(closed, "%s: connection left open" % name)
        self.assertEqual(len(re.findall(rb"HTTP/1\.[01] \d{3}", data)), 1,
                         "%s: a request pipelined behind the bad one ran" % name)
        self.assertEqual(len(self.st.model_received()), before,
                         "%s: something reached the model server" % name)
        rec = re.search(rb"X-Steward-Record: ([0-9a-f-]{36})", data, re.I)
        return rec.group(1).decode() if rec else None

    def test_malformed_framing(self):
        recorded = 0
        for name, payload, status in CASES:
            with self.subTest(name):
                rec = self.check(name, payload, status)
                if rec:
                    row = self.st.record_row(rec)
                    self.assertEqual(row[3], str(status))
                    recorded += 1
        # Every refusal that reached steward's pipeline is recorded; evhttp
        # itself may answer a few classes before steward sees them.
        self.assertGreaterEqual(recorded, len(CASES) - 3)

    def test_well_formed_chunked_body_is_served(self):
        payload = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                   b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n" + TAIL)
        data, _ = raw_exchange(self.st.url, payload)
        self.assertEqual(re.findall(rb"HTTP/1\.1 (\d{3})", data), [b"200", b"200"], data[:400])


class BodyLimitTest(unittest.TestCase):
    """A body over max_body is answered 413 by evhttp before the pipeline
    sees it; the framing guard, which watches the same bytes, writes its
    lineage record (issue 5): exactly one per refused request."""

    def test_body_over_max_body_is_413_and_recorded_once(self):
        st = harness.STACK
        sc = st.sidecar(options={"max_body": "4K"}).start()
        instance = "it-" + sc.dir.rsplit("/", 1)[1]
        big = b'{"model":"x","messages":[{"role":"user","content":"' + b"y" * 10000 + b'"}]}'
        # curl, as a client would send it
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            "-H", "Content-Type: application/json", "--data-binary", "@-",
                            sc.url + "/v1/chat/completions"], input=big, capture_output=True,
                           timeout=30 * harness.SCALE)
        self.assertEqual(r.stdout, b"413", r.stderr)
        # raw: the whole body sent at once, then chunked with the sizes adding up over 4K
        data, closed = raw_exchange(sc.url, post(b"", big))
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        self.assertTrue(closed)
        chunks = b"".join(b"800\r\n" + b"z" * 0x800 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
        data, closed = raw_exchange(sc.url, post(b"Transfer-Encoding: chunked\r\n", chunks,
                                                 te=True))
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        # just under the limit is served
        ok = request(sc.url, "POST", "/v1/chat/completions",
                     b'{"model":"x","messages":[{"role":"user","content":"' + b"y" * 3000 + b'"}]}')
        self.assertEqual(ok.status, 200)

        logged = harness.wait_until(lambda: (lambda ids: ids if len(ids) >= 3 else None)(
            re.findall(r"exchange record=(\S+) route=other status=413 outcome=too_large",
                       sc.log_text())), 10, "three 413 records in the log")
        self.assertEqual(len(logged), 3)
        for rec in logged:
            self.assertEqual(st.record_row(rec)[2:4], ["too_large", "413"])
        rows = st.sql("select count(*) from lineage_records where instance = :'p1' "
                      "and http_status = 413", instance)
        self.assertEqual(rows, [["3"]])
        st.record_row(ok.record)
        rows = st.sql("select count(*) from lineage_records where instance = :'p1'", instance)
        self.assertEqual(rows, [["4"]])
        self.assertEqual(sc.stop(), 0)


if __name__ == "__main__":
    unittest.main()


class SlowClientTest(unittest.TestCase):
    def test_trickling_client_is_cut_off_and_recorded(self):
        import socket
        import time
        st = harness.STACK
        sc = st.sidecar(options={"request_timeout": "2s", "client_timeout": "10s"}).start()
        s = socket.create_connection(("127.0.0.1", sc.port), timeout=5)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        closed, data = False, b""
        deadline = time.monotonic() + 30 * harness.SCALE
        while time.monotonic() < deadline and not closed:
            try:
                s.sendall(b" ")  # one byte at a time, never idle long enough
                s.settimeout(0.2)
                chunk = s.recv(4096)
                if not chunk:
                    closed = True
                data += chunk
            except socket.timeout:
                continue
            except OSError:
                closed = True
        s.close()
        self.assertTrue(closed, "a trickling client was never cut off")
        self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100])
        m = harness.wait_until(lambda: re.search(
            r"exchange record=(\S+) route=other status=408 outcome=request_timeout",
            open(sc.log).read()), 10, "the 408 record in the log")
        self.assertEqual(st.record_row(m.group(1))[2:4], ["request_timeout", "408"])
        self.assertEqual(sc.stop(), 0)
