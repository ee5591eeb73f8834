# SPDX-License-Identifier: Apache-2.0
"""Integration harness: drives the real stack (deploy/local/stack.sh) and
extra sidecar instances, with bounded waits (never bare sleeps), real
clients (http.client, curl, psql, kcat) and per-run temp dirs whose logs are
kept when something fails.

Every timeout is multiplied by TEST_TIMEOUT_SCALE (ASan runs set it)."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("STEWARD_BUILD", "build/debug")
BIN = os.path.join(REPO, BUILD, "bin")
SCALE = float(os.environ.get("TEST_TIMEOUT_SCALE", "1"))

# Synthetic personal data used by the fixtures; no log line and no lineage
# record may ever contain one of these strings.
FIXTURE_PII = [
    "jane.doe@example.com",
    "415-555-0132",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "123-45-6789",
    "203.0.113.77",
    "sam.lee@example.org",
    "oliver.stone@example.net",
    "5500 0000 0000 0004",
    "ann@example.com",
]


def wait_until(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a truthy value; fails after timeout."""
    deadline = time.monotonic() + timeout * SCALE
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v
    return env


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def record(self):
        return self.headers.get("x-steward-record")

    @property
    def decision(self):
        return self.headers.get("x-steward-decision")


def request(base_url, method, path, body=None, headers=None, timeout=30):
    host, port = base_url.replace("http://", "").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout * SCALE)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return Response(r.status, r.getheaders(), data)


def raw_exchange(base_url, payload, timeout=5):
    """Sends raw bytes on one connection; returns everything read until the
    server closes (or the timeout), and whether it closed."""
    host, port = base_url.replace("http://", "").split(":")
    s = socket.create_connection((host, int(port)), timeout=timeout * SCALE)
    s.sendall(payload)
    chunks, closed = [], False
    try:
        while True:
            c = s.recv(65536)
            if not c:
                closed = True
                break
            chunks.append(c)
    except socket.timeout:
        pass
    s.close()
    return b"".join(chunks), closed


class Stack:
    """The embedded default stack, started once per test run."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="steward-it-")
        self.run = os.path.join(self.dir, "stack")
        self.extra = []
        self.failed = False

    def up(self, policy=None):
        env = dict(os.environ, STEWARD_BIN=BIN, STEWARD_RUN_DIR=self.run,
                   STEWARD_FORWARD_HEADERS="accept,authorization,user-agent,traceparent,"
                   "tracestate,x-request-id,x-stub-echo,x-stub-status,x-stub-delay-ms")
        if policy:
            env["STEWARD_POLICY"] = policy
        subprocess.run([os.path.join(REPO, "deploy/local/stack.sh"), "up", self.run],
                       check=True, env=env)
        self.env = read_env(os.path.join(self.run, "env"))
        self.url = self.env["STEWARD_URL"]
        self.db = self.env["STEWARD_DB"]
        self.model_url = self.env["MODEL_URL"]
        self.admin_url = self.env["STEWARD_ADMIN_URL"]

    def stop(self):
        for sc in self.extra:
            sc.stop()
        subprocess.run([os.path.join(REPO, "deploy/local/stack.sh"), "down", self.run],
                       check=False)

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

    def sanitizer_reports(self):
        """Log files with an ASan/LSan/UBSan report (after stop(), so leak
        reports written at exit are in)."""
        return [path for path, text in self.logs().items()
                if any(m in text for m in self.SANITIZER_MARKS)]

    def cleanup(self):
        if self.failed:
            print("integration: logs kept in " + self.dir)
        else:
            pg = os.path.join(self.run, "pg")
            subprocess.run([os.path.join(REPO, "deploy/local/pg.sh"), "destroy", pg],
                           check=False, stdout=subprocess.DEVNULL)
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- what the model server saw
    def model_received(self, record_id=None):
        r = request(self.model_url, "GET", "/_stub/received")
        items = r.json()
        if record_id is None:
            return items
        out = []
        for it in items:
            h = {k.lower(): v for k, v in it.get("headers", {}).items()}
            if h.get("x-steward-record") == record_id:
                out.append(it)
        return out

    # ---- PostgreSQL, through psql (a real client)
    def sql(self, query, *params):
        """Runs one query with psql; returns rows as lists of strings."""
        args = ["psql", self.db, "-X", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1"]
        for i, p in enumerate(params):
            args += ["-v", "p%d=%s" % (i + 1, p)]
        r = subprocess.run(args, input=query, capture_output=True, text=True, check=True)
        return [line.split("\x1f") for line in r.stdout.splitlines() if line != ""]

    def record_row(self, record_id, timeout=20):
        def fetch():
            rows = self.sql("select record_id, decision, outcome, http_status, route, "
                            "coalesce(model_requested,''), policy_id, policy_hash "
                            "from lineage_records where record_id = :'p1'", record_id)
            return rows[0] if rows else None
        return wait_until(fetch, timeout, "record %s in PostgreSQL" % record_id)

    def findings(self, record_id):
        return self.sql("select direction, type, count, action from lineage_findings "
                        "where record_id = :'p1' order by direction, type", record_id)

    def count_records(self, record_id):
        return int(self.sql("select count(*) from lineage_records where record_id = :'p1'",
                            record_id)[0][0])

    def logs(self):
        out = {}
        for d in [os.path.join(self.run, "logs")] + [sc.dir for sc in self.extra]:
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                if name.endswith(".log"):
                    with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
                        out[os.path.join(d, name)] = f.read()
        return out

    def sidecar(self, **opts):
        sc = Sidecar(self, **opts)
        self.extra.append(sc)
        return sc

    def loader(self, **opts):
        ld = Loader(self, **opts)
        self.extra.append(ld)
        return ld

    # ---- fault injection
    def kafka(self, *args):
        """One command to the embedded Kafka's control socket (tests/tools/
        README.md): down/up N, alldown, allup, rtt N MS, error API N ERR,
        clear API, topic NAME P, leader T P N.  Returns the reply."""
        r = subprocess.run([os.path.join(BIN, "steward-mockkafka"), "ctl",
                            self.env["KAFKA_CONTROL"]] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=30 * SCALE)
        if r.returncode != 0:
            raise AssertionError("mockkafka ctl %s: %s%s" % (" ".join(map(str, args)),
                                                             r.stdout, r.stderr))
        return r.stdout.strip()

    def pg(self, action):
        """Stops or starts the stack's PostgreSQL (deploy/local/pg.sh); the
        URL stays the same (pg.sh reuses the port)."""
        r = subprocess.run([os.path.join(REPO, "deploy/local/pg.sh"), action,
                            os.path.join(self.run, "pg")], capture_output=True, text=True,
                           timeout=120 * SCALE)
        if r.returncode != 0:
            raise AssertionError("pg.sh %s: %s" % (action, r.stderr))
        if action == "start":
            url = r.stdout.strip().splitlines()[-1]
            if url != self.db:
                raise AssertionError("PostgreSQL came back on %s, not %s" % (url, self.db))

    def audit(self, *args, timeout=120):
        """Runs steward-audit; returns (exit status, stdout)."""
        r = subprocess.run([os.path.join(BIN, "steward-audit")] + list(args),
                           capture_output=True, text=True, timeout=timeout * SCALE,
                           env=dict(os.environ, STEWARD_DB=self.db))
        return r.returncode, r.stdout + r.stderr


class Proc:
    """A process of ours with a log file: SIGTERM with a deadline, or kill -9."""

    proc = None
    logf = None

    def stop(self, timeout=20):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        return rc

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.logf.close()

    def log_text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()


class Sidecar(Proc):
    """An extra steward instance with its own config, sharing the stack's
    Kafka and model server unless told otherwise."""

    def __init__(self, stack, policy=None, upstream=None, options=None):
        self.stack = stack
        self.dir = tempfile.mkdtemp(prefix="sidecar-", dir=stack.dir)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.admin_port = free_port()
        self.admin_url = "http://127.0.0.1:%d" % self.admin_port
        self.conf = os.path.join(self.dir, "steward.conf")
        self.log = os.path.join(self.dir, "steward.log")
        lines = {
            "listen": "127.0.0.1:%d" % self.port,
            "admin_listen": "127.0.0.1:%d" % self.admin_port,
            "upstream": upstream or stack.model_url,
            "policy": policy or os.path.join(REPO, "deploy/policies/default.json"),
            "instance": "it-" + os.path.basename(self.dir),
            "bootstrap_file": os.path.join(stack.run, "kafka.bootstrap"),
            "forward_headers": "accept,authorization,user-agent,x-stub-echo,x-stub-status,"
                               "x-stub-delay-ms",
            "spool_dir": os.path.join(self.dir, "spool"),
        }
        lines.update(options or {})
        with open(self.conf, "w", encoding="utf-8") as f:
            for k, v in lines.items():
                f.write("%s = %s\n" % (k, v))
        self.proc = None

    def start(self, append=False):
        self.logf = open(self.log, "a" if append else "w", encoding="utf-8")
        self.proc = subprocess.Popen([os.path.join(BIN, "steward"), "-c", self.conf],
                                     stdout=self.logf, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("steward exited: " + open(self.log).read()[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(ready, 20, "sidecar on port %d" % self.port)
        return self

    def signal(self, sig):
        self.proc.send_signal(sig)

    def restart(self):
        """Starts again with the same config and spool, appending to the log."""
        return self.start(append=True)

    def peak_rss_kb(self):
        """VmHWM of the running process (peak resident set), in KiB."""
        with open("/proc/%d/status" % self.proc.pid, encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    EXCHANGE = re.compile(r"msg=exchange record=(\S+) .*? status=(\d+) outcome=(\S+) "
                          r".*? lineage=(\S+)")

    def exchanges(self):
        """Every finished exchange in the log: dicts with record, status,
        outcome, lineage (queued, kafka, spool, dropped)."""
        out = []
        for m in self.EXCHANGE.finditer(self.log_text()):
            out.append({"record": m.group(1), "status": int(m.group(2)),
                        "outcome": m.group(3), "lineage": m.group(4)})
        return out

    def chains(self):
        """The ids of the record chains this sidecar wrote (one per worker)."""
        return sorted(set(re.findall(r"chain_ready index=\d+ chain=(\S+)", self.log_text())))



class Loader(Proc):
    """An extra steward-loader on its own topic and consumer group, with
    short Kafka timeouts so tests stay quick."""

    def __init__(self, stack, topic, group, options=None, env=None, name="loader"):
        self.stack = stack
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=stack.dir)
        self.conf = os.path.join(self.dir, "loader.conf")
        self.log = os.path.join(self.dir, "loader.log")
        self.env = env or {}
        lines = {
            "pg_url": stack.db,
            "bootstrap_file": os.path.join(stack.run, "kafka.bootstrap"),
            "topic": topic,
            "group_id": group,
            "batch_wait": "50ms",
            "stats_interval": "1s",
            # The embedded Kafka's group join takes about 3 s: shorter
            # session timeouts never complete a join.
            "kafka.session.timeout.ms": "3000",
            "kafka.heartbeat.interval.ms": "500",
        }
        lines.update(options or {})
        with open(self.conf, "w", encoding="utf-8") as f:
            for k, v in lines.items():
                f.write("%s = %s\n" % (k, v))
        self.proc = None
        self.logf = None

    def start(self, env=None):
        if self.logf is not None and not self.logf.closed:
            self.logf.close()
        self.logf = open(self.log, "a", encoding="utf-8")
        e = dict(os.environ)
        e.update(self.env)
        e.update(env or {})
        self.proc = subprocess.Popen([os.path.join(BIN, "steward-loader"), "-c", self.conf],
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=e)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_assigned(self, timeout=30, env=None):
        """Waits until the loader has its partitions.  The embedded Kafka
        (librdkafka's mock cluster) has been seen, on a heavily loaded
        machine, never to complete a consumer group's join (no assignment
        in 90 s, no error); a real cluster does.  Such a loader is stopped
        and started once more, said in the log."""
        def assigned():
            return "partitions_assigned" in open(self.log, encoding="utf-8",
                                                 errors="replace").read()
        try:
            wait_until(assigned, timeout, "the loader's partitions")
        except AssertionError:
            with open(self.log, "a", encoding="utf-8") as f:
                f.write("harness: no partitions after %ds: restarting the loader\n" % timeout)
            self.stop()
            self.start(env)
            wait_until(assigned, timeout, "the loader's partitions (after a restart)")
        return self
