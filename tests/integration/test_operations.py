# SPDX-License-Identifier: Apache-2.0
"""Operating the sidecar (issue 5): the admin listener (health, readiness,
Prometheus metrics, reload), worker threads, a SIGTERM drain that lets
exchanges in flight finish and flushes their lineage, and the drop from root
to the service user after start-up."""

import http.client
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import threading
import unittest

import harness
from harness import request, wait_until


def metric(text, name, **labels):
    """The value of one sample in Prometheus text, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(3) or "").split(","))) if m.group(3) else ""
        if got == want:
            return float(m.group(4))
    return None


def chat(content, **extra):
    body = {"model": "local-llama", "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


class AdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = harness.STACK

    def test_health_and_readiness(self):
        r = request(self.st.admin_url, "GET", "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        r = request(self.st.admin_url, "GET", "/readyz")
        self.assertEqual(r.status, 200)
        r = request(self.st.admin_url, "GET", "/nope")
        self.assertEqual(r.status, 404)

    def test_metrics_count_exchanges_and_findings(self):
        before = request(self.st.admin_url, "GET", "/metrics").body.decode()
        b_redact = metric(before, "steward_exchanges_total", route="chat", decision="redact",
                          outcome="ok") or 0
        b_email = metric(before, "steward_findings_total", direction="request", type="EMAIL")
        r = request(self.st.url, "POST", "/v1/chat/completions", chat("to jane.doe@example.com"))
        self.assertEqual(r.status, 200)
        r = request(self.st.url, "POST", "/v1/chat/completions", "{broken")
        self.assertEqual(r.status, 400)
        after = request(self.st.admin_url, "GET", "/metrics")
        self.assertTrue(after.headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = after.body.decode()
        self.assertEqual(metric(text, "steward_exchanges_total", route="chat", decision="redact",
                                outcome="ok"), b_redact + 1)
        self.assertGreaterEqual(metric(text, "steward_exchanges_total", route="chat",
                                       decision="none", outcome="bad_request"), 1)
        self.assertEqual(metric(text, "steward_findings_total", direction="request",
                                type="EMAIL"), b_email + 1)
        self.assertIsNotNone(metric(text, "steward_governance_seconds_count"))
        self.assertIsNotNone(metric(text, "steward_upstream_seconds_bucket", le="+Inf"))
        self.assertEqual(metric(text, "steward_policy_info", id="steward-default",
                                hash=self.st.record_row(r.record)[7]), 1)
        # Every sample line is well-formed exposition text.
        for line in text.splitlines():
            self.assertRegex(line, r'^(# (HELP|TYPE) .+|[a-z_]+(\{[^}]*\})? [0-9.e+-]+)$')

    def test_reload_endpoint_and_failed_reload_keeps_policy(self):
        path = os.path.join(self.st.dir, "reload-policy.json")
        with open(os.path.join(harness.REPO, "deploy/policies/default.json")) as f:
            good = json.load(f)
        with open(path, "w") as f:
            json.dump(good, f)
        sc = self.st.sidecar(policy=path, options={"workers": "2"}).start()
        r = request(sc.admin_url, "POST", "/reload")
        self.assertEqual(r.status, 200)
        # Break the file: the reload fails and the old policy keeps enforcing.
        with open(path, "w") as f:
            f.write('{"id": "broken", "request": {"EMAIL": "vaporise"}}')
        r = request(sc.admin_url, "POST", "/reload")
        self.assertEqual(r.status, 500)
        sc.signal(signal.SIGHUP)
        text = wait_until(lambda: (lambda t: t if metric(
            t, "steward_policy_reloads_total", result="failed") == 2 else None)(
            request(sc.admin_url, "GET", "/metrics").body.decode()), 10, "failed reload count")
        self.assertEqual(metric(text, "steward_policy_reloads_total", result="ok"), 1)
        r = request(sc.url, "POST", "/v1/chat/completions", chat("x", model="external-a") | {
            "messages": [{"role": "user", "content": "card 4111 1111 1111 1111"}]})
        self.assertEqual(r.status, 403, "the old policy no longer enforces")
        # A good file again: the new policy is in force for new exchanges.
        good["id"] = "reloaded-policy"
        with open(path, "w") as f:
            json.dump(good, f)
        sc.signal(signal.SIGHUP)
        wait_until(lambda: metric(request(sc.admin_url, "GET", "/metrics").body.decode(),
                                  "steward_policy_reloads_total", result="ok") == 2, 10, "reload")
        r = request(sc.url, "POST", "/v1/chat/completions", chat("hello"))
        self.assertEqual(self.st.record_row(r.record)[6], "reloaded-policy")
        self.assertEqual(sc.stop(), 0)
        log = open(sc.log).read()
        self.assertIn("policy_reload_failed", log)

    def test_workers_serve_concurrently(self):
        sc = self.st.sidecar(options={"workers": "3"}).start()
        results, errors = [], []

        def client(i):
            try:
                for j in range(10):
                    r = request(sc.url, "POST", "/v1/chat/completions",
                                chat("ticket %d-%d from jane.doe@example.com" % (i, j)))
                    results.append((r.status, r.record))
            except Exception as e:  # collected and asserted below
                errors.append(e)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 60)
        self.assertTrue(all(s == 200 for s, _ in results))
        self.assertEqual(len({rec for _, rec in results}), 60)
        text = request(sc.admin_url, "GET", "/metrics").body.decode()
        self.assertEqual(metric(text, "steward_workers"), 3)
        for _, rec in results[::15]:
            self.st.record_row(rec)
        self.assertEqual(sc.stop(), 0)

    def test_sigterm_drains_in_flight_exchanges(self):
        sc = self.st.sidecar().start()
        out = {}

        def slow():
            out["r"] = request(sc.url, "POST", "/v1/chat/completions", chat("slow one"),
                               headers={"X-Stub-Delay-Ms": "1500"})
        t = threading.Thread(target=slow)
        t.start()
        wait_until(lambda: metric(request(sc.admin_url, "GET", "/metrics").body.decode(),
                                  "steward_inflight_exchanges") == 1, 10, "the slow exchange")
        sc.signal(signal.SIGTERM)
        t.join(30 * harness.SCALE)
        self.assertEqual(out["r"].status, 200)
        self.assertEqual(sc.proc.wait(30 * harness.SCALE), 0)
        self.assertEqual(self.st.record_row(out["r"].record)[2], "ok")


    def test_drain_timeout_cuts_off_what_still_waits(self):
        # A stop waits drain_timeout for the exchanges in flight, then cuts
        # off those still waiting for the model server: 503 shutting_down
        # with Connection: close, or an error event ending a stream (never
        # a clean end), each recorded with outcome shutdown; then steward
        # flushes lineage and exits 0.
        sc = self.st.sidecar(options={
            "drain_timeout": "1s",
            "forward_headers": "accept,authorization,user-agent,x-stub-echo,x-stub-delay-ms"}
        ).start()
        out = {}

        def slow():
            out["r"] = request(sc.url, "POST", "/v1/chat/completions", chat("slow one"),
                               headers={"X-Stub-Delay-Ms": "20000"})

        def stream():
            host, port = sc.url.replace("http://", "").split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=60 * harness.SCALE)
            story = " ".join("word%d" % i for i in range(2000))
            conn.request("POST", "/v1/chat/completions",
                         body=json.dumps(chat(story, stream=True)),
                         headers={"Content-Type": "application/json", "X-Stub-Echo": "1",
                                  "X-Stub-Delay-Ms": "20"})
            r = conn.getresponse()
            out["stream_status"] = r.status
            out["stream_record"] = r.getheader("X-Steward-Record")
            data = []
            while True:
                line = r.readline()
                if not line:
                    break
                if line.startswith(b"data: "):
                    data.append(line[6:].strip().decode())
                    out["events"] = len(data)
            out["stream"] = data
            conn.close()

        threads = [threading.Thread(target=slow), threading.Thread(target=stream)]
        for t in threads:
            t.start()
        wait_until(lambda: out.get("events", 0) >= 3 and metric(
            request(sc.admin_url, "GET", "/metrics").body.decode(),
            "steward_inflight_exchanges") == 2, 20, "both exchanges under way")
        sc.signal(signal.SIGTERM)
        for t in threads:
            t.join(60 * harness.SCALE)
        self.assertEqual(sc.proc.wait(30 * harness.SCALE), 0)

        r = out["r"]
        self.assertEqual(r.status, 503)
        self.assertEqual(json.loads(r.body)["error"]["code"], "shutting_down")
        self.assertEqual(r.headers.get("connection"), "close")
        row = self.st.record_row(r.record)
        self.assertEqual(row[2:4], ["shutdown", "503"])

        self.assertEqual(out["stream_status"], 200)
        data = out["stream"]
        self.assertNotIn("[DONE]", data)
        self.assertLess(len(data), 2000, "the stream ran to its end")
        self.assertEqual(json.loads(data[-1])["error"]["code"], "shutting_down")
        self.assertEqual(self.st.record_row(out["stream_record"])[2:4], ["shutdown", "200"])
        log = sc.log_text()
        cuts = re.findall(r"drain_timeout worker=\d+ inflight=\d+ cut_off=(\d+)", log)
        self.assertEqual(sum(map(int, cuts)), 2, log[-2000:])
        self.assertEqual(log.count("exchange_cut_off record="), 2)


class ReloadTest(unittest.TestCase):
    """SIGHUP (or POST /reload) re-reads the config file, the model and the
    policy as one generation: reloadable options take effect, options that
    need a restart are reported and keep their value, and a broken file of
    any kind keeps the whole running generation and is counted."""

    @classmethod
    def setUpClass(cls):
        cls.st = harness.STACK

    def rewrite(self, sc, **changes):
        """Rewrites the sidecar's config file with some options changed
        (value None: removed)."""
        lines = {}
        with open(sc.conf, encoding="utf-8") as f:
            for line in f:
                k, _, v = line.partition(" = ")
                lines[k] = v.rstrip("\n")
        for k, v in changes.items():
            if v is None:
                lines.pop(k, None)
            else:
                lines[k] = v
        with open(sc.conf, "w", encoding="utf-8") as f:
            for k, v in lines.items():
                f.write("%s = %s\n" % (k, v))

    def metrics(self, sc):
        return request(sc.admin_url, "GET", "/metrics").body.decode()

    def post(self, sc, nbytes, text="hello"):
        return request(sc.url, "POST", "/v1/chat/completions",
                       chat(text + " " + "y" * nbytes))

    def test_sighup_applies_reloadable_options_and_reports_restart_ones(self):
        sc = self.st.sidecar(options={"max_body": "4K"}).start()
        self.assertEqual(self.post(sc, 6000).status, 413)
        workers = metric(self.metrics(sc), "steward_workers")
        self.assertNotEqual(workers, 3)
        self.rewrite(sc, max_body="64K", listen="127.0.0.1:%d" % harness.free_port(),
                     workers="3")
        sc.signal(signal.SIGHUP)
        wait_until(lambda: "config_reloaded" in sc.log_text(), 10, "the reload")
        log = sc.log_text()
        self.assertIn("option_needs_restart option=listen kept=running", log)
        self.assertIn("option_needs_restart option=workers kept=running", log)
        self.assertNotIn("option_needs_restart option=max_body", log)
        r = self.post(sc, 6000)  # served on the old port, under the new limit
        self.assertEqual(r.status, 200)
        self.assertEqual(self.st.record_row(r.record)[2], "ok")
        text = self.metrics(sc)
        self.assertEqual(metric(text, "steward_config_reloads_total", result="ok"), 1)
        self.assertEqual(metric(text, "steward_config_reloads_total", result="failed"), 0)
        self.assertEqual(metric(text, "steward_workers"), workers)
        # back down again, through the admin endpoint this time
        self.rewrite(sc, max_body="4K")
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        self.assertEqual(self.post(sc, 6000).status, 413)
        self.assertEqual(sc.stop(), 0)

    def test_broken_config_keeps_the_running_one_and_is_counted(self):
        sc = self.st.sidecar(options={"max_body": "4K"}).start()
        # A good change and a bad line: nothing of the file is taken.
        self.rewrite(sc, max_body="64K", no_such_option="1")
        sc.signal(signal.SIGHUP)
        wait_until(lambda: metric(self.metrics(sc), "steward_config_reloads_total",
                                  result="failed") == 1, 10, "the failed reload")
        log = sc.log_text()
        self.assertIn("config_reload_failed kept=running failures=1", log)
        self.assertIn("steward.conf:", log)  # file:line of the bad key
        self.assertEqual(self.post(sc, 6000).status, 413)
        r = self.post(sc, 100)
        self.assertEqual(r.status, 200)
        # an unreadable policy named by a good config: also all kept
        self.rewrite(sc, no_such_option=None, policy=os.path.join(sc.dir, "missing.json"))
        r = request(sc.admin_url, "POST", "/reload")
        self.assertEqual(r.status, 500)
        text = self.metrics(sc)
        self.assertEqual(metric(text, "steward_policy_reloads_total", result="failed"), 1)
        self.assertEqual(metric(text, "steward_config_reloads_total", result="ok"), 0)
        self.assertEqual(self.post(sc, 6000).status, 413)
        # fixed: taken
        self.rewrite(sc, policy=os.path.join(harness.REPO, "deploy/policies/default.json"))
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        self.assertEqual(self.post(sc, 6000).status, 200)
        self.assertEqual(metric(self.metrics(sc), "steward_config_reloads_total", result="ok"), 1)
        self.assertEqual(sc.stop(), 0)

    def test_model_reload(self):
        # PERSON is only found by the learned model: with pii_model = none
        # the name passes, with a model file it is redacted.
        pol = os.path.join(self.st.dir, "reload-person.yaml")
        with open(pol, "w", encoding="utf-8") as f:
            f.write("id: it-reload-person\nrequest: {PERSON: redact}\n")
        text = "Please call Jane Roe in Boston tomorrow about the invoice."
        sc = self.st.sidecar(policy=pol, options={"pii_model": "none"}).start()

        def seen(r):
            self.assertEqual(r.status, 200)
            return self.st.model_received(r.record)[0]["body"]
        self.assertIn("Jane Roe", seen(self.post(sc, 0, text)))
        model = os.path.join(sc.dir, "copy.model")
        shutil.copy(os.path.join(harness.REPO, "policy/pii/model/steward-pii.model"), model)
        self.rewrite(sc, pii_model=model)
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        body = seen(self.post(sc, 0, text))
        self.assertNotIn("Jane Roe", body)
        self.assertIn("<PERSON>", body)
        self.assertRegex(sc.log_text(), r"config_reloaded model=[0-9a-f]{16} model_file=read")
        # the same file, unchanged: the loaded model is kept, not read again
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        self.assertEqual(len(re.findall(r"config_reloaded model=[0-9a-f]{16} model_file=unchanged",
                                        sc.log_text())), 1)
        self.assertIn("<PERSON>", seen(self.post(sc, 0, text)))
        # the file replaced (same bytes, a new file): read again
        shutil.copy(os.path.join(harness.REPO, "policy/pii/model/steward-pii.model"), model + ".new")
        os.replace(model + ".new", model)
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        self.assertEqual(len(re.findall(r"model_file=read", sc.log_text())), 2)
        self.assertIn("<PERSON>", seen(self.post(sc, 0, text)))
        # a model that does not load keeps the one in force
        with open(os.path.join(sc.dir, "broken.model"), "wb") as f:
            f.write(b"not a model at all")
        self.rewrite(sc, pii_model=os.path.join(sc.dir, "broken.model"))
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 500)
        self.assertIn("config_reload_failed", sc.log_text())
        self.assertIn("pii_model:", sc.log_text())
        self.assertEqual(metric(self.metrics(sc), "steward_config_reloads_total",
                                result="failed"), 1)
        self.assertIn("<PERSON>", seen(self.post(sc, 0, text)))
        # and back to none
        self.rewrite(sc, pii_model="none")
        sc.signal(signal.SIGHUP)
        wait_until(lambda: "config_reloaded model=none" in sc.log_text(), 10, "the reload")
        self.assertIn("Jane Roe", seen(self.post(sc, 0, text)))
        self.assertEqual(sc.stop(), 0)


def proc_ids(pid):
    """The Uid, Gid and Groups lines of /proc/PID/status, as lists of ints."""
    out = {}
    with open("/proc/%d/status" % pid, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
    return out


def service_user():
    try:
        return pwd.getpwnam("steward")
    except KeyError:
        return None


@unittest.skipUnless(os.geteuid() == 0 and service_user() is not None,
                     "needs root and the system user steward (deploy/local/pg.sh creates it)")
class PrivilegeDropTest(unittest.TestCase):
    """Started as root with `user = steward`: listeners, secrets and spool
    are set up as root, then every id of the process is the service user's."""

    @classmethod
    def setUpClass(cls):
        cls.st = harness.STACK

    def test_root_is_dropped_after_binding(self):
        pw = service_user()
        sc = self.st.sidecar(options={"user": "steward"}).start()
        wait_until(lambda: "msg=listening" in sc.log_text(), 10, "the sidecar to start")
        ids = proc_ids(sc.proc.pid)
        self.assertEqual(ids["Uid"], [pw.pw_uid] * 4)
        self.assertEqual(ids["Gid"], [pw.pw_gid] * 4)
        self.assertEqual(ids["Groups"], [pw.pw_gid])
        self.assertIn("privileges_dropped user=steward", sc.log_text())
        self.assertNotIn("running_as_root", sc.log_text())
        # The spool was handed over and stays writable: the chain state is
        # the service user's, and records still flow (sync durability).
        spool = os.path.join(sc.dir, "spool")
        self.assertEqual(os.stat(spool).st_uid, pw.pw_uid)
        for name in os.listdir(spool):
            self.assertEqual(os.stat(os.path.join(spool, name)).st_uid, pw.pw_uid, name)
        r = request(sc.url, "POST", "/v1/chat/completions", chat("mail jane.doe@example.com"))
        self.assertEqual(r.status, 200)
        self.assertEqual(self.st.record_row(r.record)[2], "ok")
        # SIGHUP re-reads the files as the service user: readable ones load,
        # an unreadable one keeps the running generation.
        os.chmod(self.st.dir, 0o711)
        os.chmod(sc.dir, 0o711)
        os.chmod(sc.conf, 0o644)
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 200)
        os.chmod(sc.conf, 0o600)
        self.assertEqual(request(sc.admin_url, "POST", "/reload").status, 500)
        self.assertIn("config_reload_failed", sc.log_text())
        self.assertEqual(request(sc.url, "POST", "/v1/chat/completions", chat("hi")).status, 200)
        self.assertEqual(sc.stop(), 0)
        # and it starts again on the spool it left (as root, dropping again)
        sc.restart()
        wait_until(lambda: sc.log_text().count("privileges_dropped") == 2, 10, "the restart")
        self.assertEqual(proc_ids(sc.proc.pid)["Uid"], [pw.pw_uid] * 4)
        self.assertEqual(sc.stop(), 0)

    def test_root_without_user_warns(self):
        sc = self.st.sidecar().start()
        wait_until(lambda: "running_as_root" in sc.log_text(), 10, "the root warning")
        self.assertEqual(proc_ids(sc.proc.pid)["Uid"], [0] * 4)
        self.assertEqual(sc.stop(), 0)

    def test_check_mode_validates_the_user(self):
        sc = self.st.sidecar(options={"user": "no-such-user-here"})
        r = subprocess.run([os.path.join(harness.BIN, "steward"), "-n", "-c", sc.conf],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such user 'no-such-user-here'", r.stderr)
        sc = self.st.sidecar(options={"user": "steward", "group": "no-such-group-here"})
        r = subprocess.run([os.path.join(harness.BIN, "steward"), "-n", "-c", sc.conf],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such group 'no-such-group-here'", r.stderr)
        sc = self.st.sidecar(options={"user": "steward"})
        r = subprocess.run([os.path.join(harness.BIN, "steward"), "-n", "-c", sc.conf],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
