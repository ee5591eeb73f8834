# SPDX-License-Identifier: Apache-2.0
"""TLS and identity on the data port (issue 5): HTTPS, client certificates
optional and required (mTLS), the verified certificate identity in the
lineage record, an https:// upstream verified against a CA, and key files
that others can read refused.  Certificates are made per run with the
openssl command line."""

import os
import subprocess
import unittest

import harness
from harness import request


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1/localhost, and a client
    certificate with a URI SAN and CN."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=steward test CA",
            cwd=d)
    exts = {"server": "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "client": "subjectAltName=URI:spiffe://example.org/ns/billing/sa/agent"}
    for name, cn in (("server", "localhost"), ("client", "billing-agent")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(exts[name] + "\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext",
                cwd=d)
        os.chmod(os.path.join(d, name + ".key"), 0o600)


def curl(url, d, *extra):
    r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--cacert",
                        os.path.join(d, "ca.pem"), "-H", "Content-Type: application/json",
                        "-D", os.path.join(d, "headers.txt"),
                        "--data-binary",
                        '{"model":"local-llama","messages":[{"role":"user","content":"hi"}]}']
                       + list(extra) + [url + "/v1/chat/completions"],
                       capture_output=True, text=True, timeout=30 * harness.SCALE)
    code = r.stdout.rsplit("\n", 1)[-1] if r.stdout else "000"
    rec = None
    if os.path.exists(os.path.join(d, "headers.txt")):
        for line in open(os.path.join(d, "headers.txt")):
            if line.lower().startswith("x-steward-record:"):
                rec = line.split(":", 1)[1].strip()
        os.unlink(os.path.join(d, "headers.txt"))
    return r.returncode, code, rec


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = harness.STACK
        cls.pki = os.path.join(cls.st.dir, "pki")
        os.makedirs(cls.pki, exist_ok=True)
        make_pki(cls.pki)

    def tls_options(self, auth):
        p = self.pki
        return {"tls_cert": os.path.join(p, "server.pem"), "tls_key": os.path.join(p, "server.key"),
                "tls_client_ca": os.path.join(p, "ca.pem"), "tls_client_auth": auth}

    def https(self, sc):
        return sc.url.replace("http://", "https://")

    def test_https_with_optional_client_certificate(self):
        sc = self.st.sidecar(options=self.tls_options("optional")).start()
        rc, code, rec = curl(self.https(sc), self.pki)
        self.assertEqual((rc, code), (0, "200"))
        self.assertEqual(self.st.sql("select coalesce(principal, '-') from lineage_records "
                                     "where record_id = :'p1'", self.st.record_row(rec)[0])[0][0],
                         "-")
        rc, code, rec = curl(self.https(sc), self.pki, "--cert", os.path.join(self.pki, "client.pem"),
                             "--key", os.path.join(self.pki, "client.key"))
        self.assertEqual((rc, code), (0, "200"))
        self.st.record_row(rec)
        self.assertEqual(self.st.sql("select principal from lineage_records where record_id = :'p1'",
                                     rec)[0][0], "spiffe://example.org/ns/billing/sa/agent")
        # Plain HTTP on a TLS port is not served.
        rc, code, _ = curl(sc.url, self.pki)
        self.assertNotEqual(code, "200")
        self.assertEqual(sc.stop(), 0)

    def test_required_client_certificate(self):
        sc = self.st.sidecar(options=self.tls_options("required")).start()
        rc, code, _ = curl(self.https(sc), self.pki)
        self.assertNotEqual(rc, 0, "a client without a certificate got through")
        self.assertEqual(code, "000")
        rc, code, rec = curl(self.https(sc), self.pki, "--cert", os.path.join(self.pki, "client.pem"),
                             "--key", os.path.join(self.pki, "client.key"))
        self.assertEqual((rc, code), (0, "200"))
        self.assertEqual(sc.stop(), 0)

    def test_https_upstream_is_verified(self):
        front_tls = self.st.sidecar(options=self.tls_options("none")).start()
        ok = self.st.sidecar(upstream=self.https(front_tls).replace("127.0.0.1", "localhost"),
                             options={"upstream_ca": os.path.join(self.pki, "ca.pem")}).start()
        r = request(ok.url, "POST", "/v1/chat/completions",
                    {"model": "local-llama", "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(r.status, 200, r.body)
        # Without our CA the upstream's certificate is not trusted: 502.
        bad = self.st.sidecar(upstream=self.https(front_tls)).start()
        r = request(bad.url, "POST", "/v1/chat/completions",
                    {"model": "local-llama", "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(r.status, 502)
        for sc in (ok, bad, front_tls):
            self.assertEqual(sc.stop(), 0)

    def test_readable_key_is_refused(self):
        key = os.path.join(self.pki, "server.key")
        os.chmod(key, 0o644)
        try:
            sc = self.st.sidecar(options=self.tls_options("none"))
            r = subprocess.run([os.path.join(harness.BIN, "steward"), "-n", "-c", sc.conf],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("must not be readable by group or others", r.stderr)
        finally:
            os.chmod(key, 0o600)


if __name__ == "__main__":
    unittest.main()
