# SPDX-License-Identifier: Apache-2.0
"""TLS and identity on the data port (issue 5): HTTPS, client certificates
optional and required (mTLS), the verified certificate identity in the
lineage record, an https:// upstream verified against a CA, and key files
that others can read refused, and a reload that swaps in a renewed
certificate (and a stricter client-certificate rule) for new connections
while open ones carry on.  Certificates are made per run with the openssl
command line."""

import http.client
import os
import re
import shutil
import socket
import ssl
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


def issue_server_cert(d, name, cn):
    """Another server certificate from the test CA, for 127.0.0.1."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "3", "-extfile", "server.ext",
            cwd=d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


def peer_cn(sock):
    return dict(x[0] for x in sock.getpeercert()["subject"])["commonName"]


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
        # The CA bundle is read again on reload: trusted from then on.
        with open(bad.conf, "a") as f:
            f.write("upstream_ca = %s\n" % os.path.join(self.pki, "ca.pem"))
        self.assertEqual(request(bad.admin_url, "POST", "/reload").status, 200)
        self.assertIn("tls_reloaded upstream=yes verify=yes", bad.log_text())
        r = request(bad.url, "POST", "/v1/chat/completions",
                    {"model": "local-llama", "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(r.status, 200, r.body)
        # A reload that swaps the bundle for one that does not hold the CA:
        # the idle keep-alive connection built under the old bundle is not
        # reused, so the next request verifies against the new one, and fails.
        with open(ok.conf) as f:
            conf = f.read().replace(os.path.join(self.pki, "ca.pem"),
                                    os.path.join(self.pki, "client.pem"))
        with open(ok.conf, "w") as f:
            f.write(conf)
        self.assertEqual(request(ok.admin_url, "POST", "/reload").status, 200)
        r = request(ok.url, "POST", "/v1/chat/completions",
                    {"model": "local-llama", "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(r.status, 502)
        for sc in (ok, bad, front_tls):
            self.assertEqual(sc.stop(), 0)

    def test_reload_swaps_certificate(self):
        """Certificate rotation without a restart: the files are replaced in
        place and SIGHUP (here POST /reload) reads them again.  New
        connections get the renewed certificate, a connection opened before
        keeps working; a renewed certificate whose key does not match, or a
        key others can read, fails the reload and keeps the one in force."""
        live = os.path.join(self.st.dir, "pki-live")
        os.makedirs(live, exist_ok=True)
        issue_server_cert(self.pki, "renewed", "renewed.localhost")
        opts = self.tls_options("optional")
        opts["tls_cert"] = os.path.join(live, "server.pem")
        opts["tls_key"] = os.path.join(live, "server.key")
        for name in ("server.pem", "server.key"):
            shutil.copy(os.path.join(self.pki, name), live)
        os.chmod(opts["tls_key"], 0o600)
        sc = self.st.sidecar(options=opts).start()
        port = int(sc.url.rsplit(":", 1)[1])
        ctx = ssl.create_default_context(cafile=os.path.join(self.pki, "ca.pem"))
        body = '{"model":"local-llama","messages":[{"role":"user","content":"hi"}]}'

        def post(conn):
            conn.request("POST", "/v1/chat/completions", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            return r.status

        def fresh_cn():
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    return peer_cn(tls)

        old = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
        self.assertEqual(post(old), 200)
        self.assertEqual(peer_cn(old.sock), "localhost")
        m = request(sc.admin_url, "GET", "/metrics").body.decode()
        expiry_before = int(re.search(r"^steward_tls_cert_expiry_seconds (\d+)$", m, re.M)[1])

        shutil.copy(os.path.join(self.pki, "renewed.pem"), opts["tls_cert"])
        shutil.copy(os.path.join(self.pki, "renewed.key"), opts["tls_key"])
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        self.assertIn("tls_reloaded listener=yes", sc.log_text())
        self.assertEqual(fresh_cn(), "renewed.localhost")
        self.assertEqual(post(old), 200)  # the open connection carries on
        self.assertEqual(peer_cn(old.sock), "localhost")
        old.close()
        m = request(sc.admin_url, "GET", "/metrics").body.decode()
        expiry_after = int(re.search(r"^steward_tls_cert_expiry_seconds (\d+)$", m, re.M)[1])
        self.assertGreater(expiry_after, expiry_before)  # 3 days, not 2

        # A key that does not match the certificate: the reload fails whole.
        shutil.copy(os.path.join(self.pki, "server.key"), opts["tls_key"])
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 500)
        self.assertIn("tls_reload_failed", sc.log_text())
        self.assertEqual(fresh_cn(), "renewed.localhost")
        # A key others can read is refused on reload as at start.
        shutil.copy(os.path.join(self.pki, "renewed.key"), opts["tls_key"])
        os.chmod(opts["tls_key"], 0o644)
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 500)
        self.assertIn("must not be readable by group or others", sc.log_text())
        os.chmod(opts["tls_key"], 0o600)

        # The client-certificate rule changes on reload too: optional ->
        # required refuses a new connection without one.
        with open(sc.conf) as f:
            conf = f.read().replace("tls_client_auth = optional", "tls_client_auth = required")
        with open(sc.conf, "w") as f:
            f.write(conf)
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        rc, code, _ = curl(self.https(sc), self.pki)
        self.assertEqual(code, "000", "a client without a certificate got through")
        rc, code, _ = curl(self.https(sc), self.pki, "--cert", os.path.join(self.pki, "client.pem"),
                           "--key", os.path.join(self.pki, "client.key"))
        self.assertEqual((rc, code), (0, "200"))
        # Turning HTTPS off needs a restart: logged, HTTPS stays.
        with open(sc.conf, "w") as f:
            f.write("".join(l for l in conf.splitlines(True) if not l.startswith("tls_")))
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        self.assertIn("option_needs_restart option=tls_cert kept=running https=on", sc.log_text())
        self.assertEqual(fresh_cn(), "renewed.localhost")
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
