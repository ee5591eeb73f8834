#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The soak benchmark (make soak; issue 8 item 6): the local stack
(deploy/local/stack.sh, its own run dir .run/soak/stack, a fresh PostgreSQL)
with the sidecar in durability=sync and one loader, under SOAK_SECONDS
(default 600) of mixed traffic from a few client threads:

  chat        chat completion, JSON, with e-mails, phones, card numbers (200)
  stream      the same with "stream": true, SSE read to the end (200)
  embed       embeddings with personal data in the input (200)
  deny        a card number to an "external-*" model (403, rule deny)
  malformed   a body that is not JSON (400)
  disconnect  a slow stream the client drops after the first event (client_gone)

Meanwhile: a policy reload every ~30 s (POST /reload on the admin listener;
the policy file is swapped between two valid policies, and once an invalid
one, which must be refused with the old policy kept); Kafka down for ~60 s
in the middle (steward-mockkafka ctl alldown / allup); every 5 s the
sidecar's and the loader's RSS (/proc/PID/status VmRSS) and open fds
(/proc/PID/fd), the /metrics lineage counters and the spool size.

At the end: the spool drains, the loader catches up, then
  - every record id a client received (X-Steward-Record) is in PostgreSQL
    lineage_records (nothing lost), exactly once (no duplicate);
  - no `lineage=dropped` exchange in the sidecar's log, no dropped record
    in /metrics;
  - `steward-audit verify` is clean (exit 0, no gap, edit, reorder,
    duplicate or checkpoint problem, every signature good);
  - memory is stable; the criterion, generous on purpose (this is a bench
    on a shared machine, not a unit test):
      growth = median RSS over the last third of the traffic samples
               - median RSS over the first third (after a warm-up of
                 min(60 s, 10% of the run) that is left out)
      fail when growth > max(GROWTH_MIN_MIB = 32 MiB, GROWTH_FRAC = 50% of
      the first-third median), for the sidecar and for the loader;
    a steady climb under that limit (the RSS trend per 1000 requests before
    and after the outage above TREND_WARN = 50 KiB) is printed as a warning;
  - file descriptors return to baseline: once traffic stopped and the spool
    drained, at most FD_SLACK (16) more open fds than before the traffic
    (kept-alive upstream connections and spool segments may stay open).
A figures table is printed and written to .run/soak/report.md and
.run/soak/report.json (with every 5 s sample).  Exit status 0 when all the
checks hold, 1 otherwise, 2 when the stack could not be set up.

  tests/bench/soak.py [--seconds N] [--clients N] [--rate R] [--outage S]
                      [--reload-every S] [--out DIR]

Python stdlib only; reuses tests/integration/harness.py (Stack, request,
wait_until) and test_lineage.verify_summary."""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
from harness import REPO, SCALE, request, wait_until  # noqa: E402
from test_lineage import verify_summary  # noqa: E402

GROWTH_MIN_MIB = 32
GROWTH_FRAC = 0.5
FD_SLACK = 16
TREND_WARN = 50   # KiB of RSS per 1000 requests, steady traffic: a warning only
SAMPLE_EVERY = 5.0

PII = {
    "email": ["jane.doe@example.com", "sam.lee@example.org", "oliver.stone@example.net"],
    "phone": ["415-555-0132", "(212) 555-0187", "+1 650 555 0199"],
    "card": ["4111 1111 1111 1111", "5500 0000 0000 0004", "4111-1111-1111-1111"],
}

TEMPLATES = [
    "Mail {email} about the invoice and call {phone} if they do not answer.",
    "The customer paid with card {card}; confirm to {email}.",
    "Summarise: caller at {phone} disputes a charge on {card}.",
    "Draft a short reply to {email} thanking them for the order.",
]

# kind -> weight in the mix
MIX = [("chat", 40), ("stream", 20), ("embed", 15), ("deny", 10), ("malformed", 10),
       ("disconnect", 5)]
EXPECT = {"chat": 200, "stream": 200, "embed": 200, "deny": 403, "malformed": 400}


def prompt(rng):
    return rng.choice(TEMPLATES).format(**{k: rng.choice(v) for k, v in PII.items()})


class SoakStack(harness.Stack):
    """harness.Stack in a fixed run dir (.run/soak/stack) instead of a temp
    dir, so that its logs stay after the run."""

    def __init__(self, base):
        self.dir = base
        self.run = os.path.join(base, "stack")
        self.extra = []
        self.failed = False

    def pid(self, name):
        with open(os.path.join(self.run, "pids", name), encoding="utf-8") as f:
            return int(f.read().strip())


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid, encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def metrics(admin_url):
    r = request(admin_url, "GET", "/metrics", timeout=10)
    out = {}
    for line in r.body.decode("utf-8", "replace").splitlines():
        m = METRIC.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def policy_id(mx):
    for k in mx:
        if k.startswith("steward_policy_info{"):
            return re.search(r'id="([^"]*)"', k).group(1)
    return None


class Traffic:
    """Client threads sending the mix at a paced aggregate rate; every
    answer is counted by kind and status, every record id kept."""

    def __init__(self, url, clients, rate, seed=1):
        self.url = url
        self.host, port = url.replace("http://", "").split(":")
        self.port = int(port)
        self.clients = clients
        self.interval = clients / rate if rate > 0 else 0.0
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.status = {}          # kind -> {status(str): n}
        self.latency = {}         # kind -> [seconds]
        self.records = []         # (record id, kind, status)
        self.no_record = {}       # kind -> n answers without X-Steward-Record
        self.sent = 0
        self.seed = seed
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(clients)]

    def note(self, kind, status, seconds, record):
        with self.lock:
            d = self.status.setdefault(kind, {})
            d[str(status)] = d.get(str(status), 0) + 1
            if seconds is not None:
                self.latency.setdefault(kind, []).append(seconds)
            if record:
                self.records.append((record, kind, status))
            elif isinstance(status, int):
                self.no_record[kind] = self.no_record.get(kind, 0) + 1

    def count(self):
        with self.lock:
            return self.sent

    # ---- one request of each kind; each returns (status, record)
    def chat(self, rng, stream=False):
        body = {"model": "local-llama", "stream": stream,
                "messages": [{"role": "system", "content": "You are a helpful clerk."},
                             {"role": "user", "content": prompt(rng)}]}
        headers = {"X-Stub-Echo": "1"} if rng.random() < 0.5 else {}
        if not stream:
            r = request(self.url, "POST", "/v1/chat/completions", body, headers, timeout=60)
            return r.status, r.record
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60 * SCALE)
        h = {"Content-Type": "application/json"}
        h.update(headers)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers=h)
        r = conn.getresponse()
        done = False
        while True:
            line = r.readline()
            if not line:
                break
            if line.strip() == b"data: [DONE]":
                done = True
        conn.close()
        status = r.status if done or r.status != 200 else "incomplete_stream"
        return status, r.getheader("X-Steward-Record")

    def embed(self, rng):
        body = {"model": "local-embed", "input": [prompt(rng), "plain text, nothing personal"]}
        r = request(self.url, "POST", "/v1/embeddings", body, timeout=60)
        return r.status, r.record

    def deny(self, rng):
        body = {"model": "external-gpt",
                "messages": [{"role": "user", "content": "Charge card %s for the renewal"
                              % rng.choice(PII["card"])}]}
        r = request(self.url, "POST", "/v1/chat/completions", body, timeout=60)
        return r.status, r.record

    def malformed(self, rng):
        body = rng.choice(['{"model": "local-llama", "messages": [', "not json at all",
                           '{"model": 42, "messages": "x"}'])
        r = request(self.url, "POST", "/v1/chat/completions", body, timeout=60)
        return r.status, r.record

    def disconnect(self, rng):
        """A slow stream (100 ms between events): headers and the first
        event, then the client goes away."""
        body = json.dumps({"model": "local-llama", "stream": True,
                           "messages": [{"role": "user", "content": prompt(rng)}]}).encode()
        s = socket.create_connection((self.host, self.port), timeout=30 * SCALE)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: soak\r\n"
                  b"Content-Type: application/json\r\nX-Stub-Delay-Ms: 100\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        buf = b""
        try:
            while b"data:" not in buf.partition(b"\r\n\r\n")[2] and len(buf) < 65536:
                c = s.recv(4096)
                if not c:
                    break
                buf += c
        finally:
            s.close()
        head = buf.partition(b"\r\n\r\n")[0].decode("latin-1")
        m = re.search(r"(?im)^x-steward-record:\s*(\S+)", head)
        st = re.match(r"HTTP/1\.\d (\d+)", head)
        return ("gone_%s" % st.group(1)) if st else "gone_nohead", m.group(1) if m else None

    def run(self, i):
        rng = random.Random(self.seed * 1000 + i)
        kinds = [k for k, w in MIX for _ in range(w)]
        nxt = time.monotonic()
        while not self.halt.is_set():
            kind = rng.choice(kinds)
            t0 = time.monotonic()
            try:
                if kind == "chat":
                    st, rec = self.chat(rng)
                elif kind == "stream":
                    st, rec = self.chat(rng, stream=True)
                else:
                    st, rec = getattr(self, kind)(rng)
                self.note(kind, st, time.monotonic() - t0, rec)
            except (OSError, http.client.HTTPException) as e:
                self.note(kind, "error:" + type(e).__name__, None, None)
            with self.lock:
                self.sent += 1
            nxt += self.interval
            delay = nxt - time.monotonic()
            if delay > 0:
                self.halt.wait(delay)
            else:
                nxt = time.monotonic()

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(120 * SCALE)


def write_policies(base):
    with open(os.path.join(REPO, "deploy/policies/default.json"), encoding="utf-8") as f:
        default = json.load(f)
    a = dict(default, id="soak-a")
    b = json.loads(json.dumps(default))
    b["id"] = "soak-b"
    b["request"]["PHONE"] = "redact"
    b["request"]["CREDIT_CARD"] = "redact"
    bad = json.loads(json.dumps(default))
    bad["id"] = "soak-invalid"
    bad["request"]["EMAIL"] = "obliterate"   # no such action: must be refused
    return {n: json.dumps(p, indent=2) for n, p in (("soak-a", a), ("soak-b", b),
                                                     ("soak-invalid", bad))}


def put_policy(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", "600")))
    ap.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", "4")))
    ap.add_argument("--rate", type=float, default=float(os.environ.get("SOAK_RATE", "40")),
                    help="aggregate requests/s aimed at (the embedded Kafka keeps about "
                         "5 MB per partition: keep the backlog of an outage under that)")
    ap.add_argument("--outage", type=float, default=None,
                    help="seconds of Kafka outage (default min(60, seconds/3))")
    ap.add_argument("--reload-every", type=float, default=None,
                    help="seconds between reloads (default min(30, seconds/6))")
    ap.add_argument("--out", default=os.path.join(REPO, ".run/soak"))
    a = ap.parse_args()
    secs = a.seconds
    outage = a.outage if a.outage is not None else min(60.0, secs / 3.0)
    reload_every = a.reload_every if a.reload_every is not None else min(30.0, secs / 6.0)
    warmup = min(60.0, secs * 0.1)

    base = os.path.abspath(a.out)
    os.makedirs(base, exist_ok=True)
    st = SoakStack(base)
    # A fresh stack every run: stop what a previous run may have left, drop
    # its PostgreSQL cluster and spool.
    if os.path.isdir(st.run):
        subprocess.run([os.path.join(REPO, "deploy/local/stack.sh"), "down", st.run],
                       check=False, stderr=subprocess.DEVNULL)
        subprocess.run([os.path.join(REPO, "deploy/local/pg.sh"), "destroy",
                        os.path.join(st.run, "pg")], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(st.run, ignore_errors=True)
    pols = write_policies(base)
    policy_path = os.path.join(base, "policy.json")
    put_policy(policy_path, pols["soak-a"])

    try:
        st.up(policy=policy_path)
    except subprocess.CalledProcessError as e:
        print("soak: the stack did not come up (%s); logs in %s" % (e, st.run))
        return 2
    try:
        return soak(st, a, secs, outage, reload_every, warmup, pols, policy_path, base)
    finally:
        st.stop()


def soak(st, a, secs, outage, reload_every, warmup, pols, policy_path, base):
    sc_pid, ld_pid = st.pid("steward"), st.pid("loader")
    samples = []
    t_start = [None]
    phase = ["idle"]
    traffic = Traffic(st.url, a.clients, a.rate)

    def sample():
        s = {"t": round(time.monotonic() - t_start[0], 1) if t_start[0] else 0.0,
             "phase": phase[0]}
        try:
            s.update(sc_rss_kb=proc_rss_kb(sc_pid), sc_fds=proc_fds(sc_pid),
                     ld_rss_kb=proc_rss_kb(ld_pid), ld_fds=proc_fds(ld_pid))
        except OSError as e:
            s["error"] = "proc: %s" % e
        try:
            mx = metrics(st.admin_url)
            for state in ("queued", "delivered", "failed", "spooled", "replayed", "dropped"):
                s[state] = int(mx.get('steward_lineage_records_total{state="%s"}' % state, 0))
            s["in_flight"] = int(mx.get("steward_lineage_in_flight", 0))
            s["spool_records"] = int(mx.get("steward_lineage_spool_records", 0))
            s["spool_bytes"] = int(mx.get("steward_lineage_spool_bytes", 0))
            s["policy"] = policy_id(mx)
        except (OSError, http.client.HTTPException) as e:
            s["error"] = "metrics: %s" % e
        s["requests"] = traffic.count()
        samples.append(s)
        return s

    # Idle baseline: one warm request of each answered kind first, so the
    # lazily opened things (upstream connections, spool segment) exist.
    for kind in ("chat", "embed"):
        getattr(traffic, kind)(random.Random(0))
    time.sleep(1)
    base_sample = sample()
    print("soak: stack up (sidecar pid %d, loader pid %d); %d s of traffic, %d clients at "
          "~%.0f req/s, Kafka outage %.0f s in the middle, a reload every %.0f s"
          % (sc_pid, ld_pid, secs, a.clients, a.rate, outage, reload_every), flush=True)

    reloads = {"ok": 0, "failed": 0, "invalid_refused": None, "problems": []}
    outage_at = (secs - outage) / 2.0
    t0 = time.monotonic()
    t_start[0] = t0
    phase[0] = "traffic"
    traffic.start()
    next_sample = t0 + SAMPLE_EVERY
    next_reload = t0 + reload_every
    reload_n = 0
    invalid_at = 3  # the third reload tries the invalid policy
    kafka_down = None
    kafka_up = None
    end = t0 + secs
    last_print = t0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        el = now - t0
        if kafka_down is None and el >= outage_at:
            st.kafka("alldown")
            kafka_down = el
            phase[0] = "kafka_down"
            print("soak: t=%.0fs Kafka down" % el, flush=True)
        if kafka_down is not None and kafka_up is None and el >= kafka_down + outage:
            st.kafka("allup")
            kafka_up = el
            phase[0] = "traffic"
            print("soak: t=%.0fs Kafka up" % el, flush=True)
        if now >= next_reload:
            reload_n += 1
            next_reload += reload_every
            before = policy_id(metrics(st.admin_url))
            if reload_n == invalid_at:
                put_policy(policy_path, pols["soak-invalid"])
                r = request(st.admin_url, "POST", "/reload", timeout=30)
                after = policy_id(metrics(st.admin_url))
                # Put a valid file back at once (the old policy is still in force).
                put_policy(policy_path, pols[before] if before in pols else pols["soak-a"])
                ok = r.status != 200 and after == before
                reloads["invalid_refused"] = ok
                reloads["failed"] += 1
                if not ok:
                    reloads["problems"].append("invalid policy: status %d, policy %s -> %s"
                                               % (r.status, before, after))
                print("soak: t=%.0fs reload (invalid policy) -> %d, in force %s"
                      % (el, r.status, after), flush=True)
            else:
                want = "soak-b" if before == "soak-a" else "soak-a"
                put_policy(policy_path, pols[want])
                r = request(st.admin_url, "POST", "/reload", timeout=30)
                after = policy_id(metrics(st.admin_url))
                if r.status == 200 and after == want:
                    reloads["ok"] += 1
                else:
                    reloads["problems"].append("reload to %s: status %d, in force %s"
                                               % (want, r.status, after))
        if now >= next_sample:
            next_sample += SAMPLE_EVERY
            s = sample()
            if now - last_print >= 30:
                last_print = now
                print("soak: t=%4.0fs req=%d sc_rss=%.1fMiB sc_fds=%d ld_rss=%.1fMiB "
                      "spool=%dB/%d rec delivered=%d spooled=%d dropped=%d"
                      % (s["t"], s["requests"], s.get("sc_rss_kb", 0) / 1024.0,
                         s.get("sc_fds", 0), s.get("ld_rss_kb", 0) / 1024.0,
                         s.get("spool_bytes", 0), s.get("spool_records", 0),
                         s.get("delivered", 0), s.get("spooled", 0), s.get("dropped", 0)),
                      flush=True)
        time.sleep(min(0.2, max(0.0, min(next_sample, next_reload, end) - time.monotonic())))
    if kafka_down is not None and kafka_up is None:
        st.kafka("allup")
        kafka_up = time.monotonic() - t0
    phase[0] = "stopping"
    traffic.stop()
    t_traffic = time.monotonic() - t0
    sample()
    print("soak: traffic stopped after %.0f s, %d requests; draining" % (t_traffic,
                                                                      traffic.count()),
          flush=True)

    # ---- drain: the spool empties, then the loader has every record.
    phase[0] = "drain"
    drain_start = time.monotonic()
    drained = True
    try:
        wait_until(lambda: (sample() and samples[-1].get("spool_records", 1) == 0
                            and samples[-1].get("in_flight", 1) == 0), 300,
                   "the spool to drain", interval=2)
    except AssertionError as e:
        drained = False
        print("soak: %s" % e)
    t_drain = time.monotonic() - drain_start

    want = {}
    for rec, kind, status in traffic.records:
        want.setdefault(rec, []).append((kind, status))
    client_dups = {r: v for r, v in want.items() if len(v) > 1}

    def pg_ids():
        rows = st.sql("select record_id::text, count(*) from lineage_records group by 1")
        return {r[0]: int(r[1]) for r in rows}
    in_pg = {}

    def caught_up():
        in_pg.clear()
        in_pg.update(pg_ids())
        return set(want) <= set(in_pg)
    try:
        wait_until(caught_up, 300, "the loader to load every record", interval=2)
    except AssertionError as e:
        print("soak: %s" % e)
    t_load = time.monotonic() - drain_start
    # The last checkpoints are written at the sidecar's stop; idle a few
    # seconds, take the final (idle) sample for the fd baseline comparison.
    time.sleep(3)
    phase[0] = "idle_end"
    final = sample()

    lost = sorted(r for r in want if r not in in_pg)
    pg_dups = sorted(r for r, n in in_pg.items() if n > 1)
    pg_rows = sum(in_pg.values())
    pg_only = len(set(in_pg) - set(want))

    # Answered records logged by the sidecar (harness.Sidecar's regex), and
    # any dropped one.
    with open(os.path.join(st.run, "logs", "steward.log"), encoding="utf-8",
              errors="replace") as f:
        log = f.read()
    ex = [m.groups() for m in harness.Sidecar.EXCHANGE.finditer(log)]
    log_dropped = [e[0] for e in ex if e[3] == "dropped"]
    log_ids = {e[0] for e in ex}
    not_logged = len(set(want) - log_ids)

    # What PostgreSQL says of each kind of request: outcome, decision, status.
    outcomes = {}
    for rid, outcome, decision, status in st.sql(
            "select record_id::text, outcome, decision, http_status from lineage_records"):
        for kind, _ in want.get(rid, [("(not from the clients: warm-up, readiness)", None)]):
            key = "%s %s %s" % (outcome, decision, status)
            d = outcomes.setdefault(kind, {})
            d[key] = d.get(key, 0) + 1

    # Where the records sat in Kafka (the embedded Kafka keeps about 5 MB per
    # partition: a loader further behind than that would lose messages).
    partitions = [{"partition": int(p), "records": int(n), "max_offset": int(o),
                   "mean_bytes": int(float(b)), "mib": round(float(m), 1)}
                  for p, n, o, b, m in st.sql(
                      "select kafka_partition, count(*), max(kafka_offset), "
                      "avg(octet_length(raw_bytes)), sum(octet_length(raw_bytes))/1048576.0 "
                      "from lineage_records group by 1 order by 1")]

    # The policy of each record, as PostgreSQL has it.
    by_policy = {r[0]: int(r[1]) for r in st.sql(
        "select policy_id, count(*) from lineage_records group by 1 order by 1")}

    # Stop the sidecar first so that its final checkpoints are written and
    # loaded, then verify every chain.
    os.kill(sc_pid, 15)
    try:
        wait_until(lambda: not os.path.exists("/proc/%d" % sc_pid)
                   or open("/proc/%d/stat" % sc_pid).read().split()[2] == "Z", 60,
                   "the sidecar to stop", interval=0.2)
    except AssertionError as e:
        print("soak: %s" % e)
    time.sleep(3)   # the loader takes the last checkpoints
    vrc, vout = st.audit("verify", "--pubkey", st.env["STEWARD_PUBKEY"], timeout=600)
    try:
        vs = verify_summary(vout)
    except AssertionError:
        vs = None
    verify_ok = (vrc == 0 and vs is not None and vs["gaps"] == vs["missing"] == vs["edits"]
                 == vs["reorders"] == vs["duplicates"] == vs["checkpoint_problems"] == 0
                 and vs["signatures_ok"] == vs["checkpoints"])

    # ---- memory and fds
    tr = [s for s in samples if s["phase"] in ("traffic", "kafka_down") and s["t"] >= warmup
          and "sc_rss_kb" in s]
    third = max(1, len(tr) // 3)

    def growth(key):
        first = statistics.median(s[key] for s in tr[:third])
        last = statistics.median(s[key] for s in tr[-third:])
        allv = [s[key] for s in samples if key in s]
        limit = max(GROWTH_MIN_MIB * 1024, GROWTH_FRAC * first)
        return {"first_third_median_kb": first, "last_third_median_kb": last,
                "growth_kb": last - first, "limit_kb": limit, "ok": last - first <= limit,
                "min_kb": min(allv), "median_kb": statistics.median(allv), "max_kb": max(allv),
                "idle_start_kb": base_sample.get(key), "idle_end_kb": final.get(key)}
    mem = {"sidecar": growth("sc_rss_kb"), "loader": growth("ld_rss_kb")} if tr else {}
    # Not a criterion, a figure: the RSS trend per 1000 requests in the
    # steady stretches before and after the outage (the outage's own step,
    # spool and librdkafka buffers, left out).
    for who, key in (("sidecar", "sc_rss_kb"), ("loader", "ld_rss_kb")):
        if who in mem:
            mem[who]["kb_per_1k_requests"] = trend(samples, key, warmup, kafka_down, kafka_up)

    def fds(key):
        allv = [s[key] for s in samples if key in s]
        b, e = base_sample.get(key, 0), final.get(key, 0)
        return {"idle_start": b, "idle_end": e, "max": max(allv), "ok": e <= b + FD_SLACK}
    fd = {"sidecar": fds("sc_fds"), "loader": fds("ld_fds")}

    spool_peak = max((s.get("spool_bytes", 0) for s in samples), default=0)
    spool_peak_rec = max((s.get("spool_records", 0) for s in samples), default=0)
    m_dropped = max((s.get("dropped", 0) for s in samples), default=0)
    last = final
    lat_all = [x for v in traffic.latency.values() for x in v]
    total = sum(sum(v.values()) for v in traffic.status.values())
    unexpected = {k: {s: n for s, n in v.items() if s != str(EXPECT.get(k))}
                  for k, v in traffic.status.items() if k in EXPECT}
    unexpected = {k: v for k, v in unexpected.items() if v}

    problems = []
    if lost:
        problems.append("%d record ids answered to clients are not in PostgreSQL: %s"
                        % (len(lost), ", ".join(lost[:10])))
    if pg_dups:
        problems.append("%d record ids more than once in PostgreSQL" % len(pg_dups))
    if client_dups:
        problems.append("%d record ids given to more than one answer" % len(client_dups))
    if log_dropped or m_dropped:
        problems.append("dropped lineage records: %d in the log, %d in /metrics"
                        % (len(log_dropped), m_dropped))
    if not verify_ok:
        problems.append("steward-audit verify: exit %d, %s" % (vrc, vs or vout[-500:]))
    if not drained:
        problems.append("the spool did not drain within 300 s")
    for who, g in mem.items():
        if not g["ok"]:
            problems.append("%s RSS grew %.1f MiB (limit %.1f MiB)"
                            % (who, g["growth_kb"] / 1024.0, g["limit_kb"] / 1024.0))
    for who, f in fd.items():
        if not f["ok"]:
            problems.append("%s fds %d at the end vs %d before the traffic"
                            % (who, f["idle_end"], f["idle_start"]))
    if reloads["problems"] or reloads["invalid_refused"] is False:
        problems.append("reloads: %s" % "; ".join(reloads["problems"]))
    if unexpected:
        problems.append("unexpected statuses: %s" % json.dumps(unexpected, sort_keys=True))

    # A steady climb that the generous criterion lets pass is still worth a
    # look: warn (not fail) above TREND_WARN KiB per 1000 requests.
    warnings = []
    for who, g in mem.items():
        for stretch, v in g.get("kb_per_1k_requests", {}).items():
            if v is not None and v > TREND_WARN:
                warnings.append("%s RSS climbs %.0f KiB per 1000 requests %s (a leak of about "
                                "%.0f bytes per request?)" % (who, v, stretch.replace("_", " "),
                                                              v * 1024 / 1000.0))

    report = {
        "command": "make soak SOAK_SECONDS=%d" % secs,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": secs, "traffic_seconds": round(t_traffic, 1), "clients": a.clients,
        "rate_aimed": a.rate, "warmup_seconds": warmup,
        "kafka_outage": {"down_at": kafka_down, "up_at": kafka_up, "seconds": outage},
        "requests": {"total": total, "per_second": round(total / t_traffic, 1),
                     "by_kind_status": traffic.status, "no_record": traffic.no_record},
        "latency_ms": {k: {"n": len(v), "p50": round(pct(v, 50) * 1e3, 1),
                           "p99": round(pct(v, 99) * 1e3, 1)}
                       for k, v in sorted(traffic.latency.items())},
        "latency_all_ms": {"p50": round((pct(lat_all, 50) or 0) * 1e3, 1),
                           "p99": round((pct(lat_all, 99) or 0) * 1e3, 1)},
        "records": {"answered_ids": len(want), "in_postgres": len(set(want) & set(in_pg)),
                    "lost": len(lost), "lost_ids": lost[:100],
                    "postgres_rows": pg_rows, "postgres_duplicates": len(pg_dups),
                    "postgres_not_from_clients": pg_only, "client_duplicate_ids": len(client_dups),
                    "not_in_sidecar_log": not_logged, "log_dropped": len(log_dropped),
                    "by_policy": by_policy, "outcomes_by_kind": outcomes,
                    "kafka_partitions": partitions},
        "lineage_metrics_end": {k: last.get(k) for k in ("queued", "delivered", "failed",
                                                          "spooled", "replayed", "dropped")},
        "spool_peak_bytes": spool_peak, "spool_peak_records": spool_peak_rec,
        "drain_seconds": round(t_drain, 1), "loaded_seconds": round(t_load, 1),
        "memory": mem, "fds": fd, "reloads": reloads,
        "verify": {"exit": vrc, "summary": vs},
        "criteria": {"growth": "last-third median RSS - first-third median RSS (traffic "
                               "samples after %.0f s warm-up) <= max(%d MiB, %d%% of the "
                               "first-third median)" % (warmup, GROWTH_MIN_MIB,
                                                        GROWTH_FRAC * 100),
                     "fds": "idle fds after the drain <= idle fds before the traffic + %d"
                            % FD_SLACK},
        "problems": problems, "warnings": warnings, "ok": not problems,
        "samples": samples,
    }
    md = render(report)
    print(md)
    with open(os.path.join(base, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    with open(os.path.join(base, "report.md"), "w", encoding="utf-8") as f:
        f.write(md)
    print("soak: %s%s; report in %s/report.{md,json}, logs in %s/logs"
          % ("OK" if not problems else "FAILED: " + "; ".join(problems),
             " (%d warnings)" % len(warnings) if warnings else "", base, st.run))
    return 0 if not problems else 1


def slope(points):
    """Least-squares slope of [(x, y)], or None."""
    if len(points) < 3:
        return None
    mx = statistics.mean(x for x, _ in points)
    my = statistics.mean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else None


def trend(samples, key, warmup, down, up):
    """RSS KiB per 1000 requests before and after the outage."""
    out = {}
    for name, lo, hi in (("before_outage", warmup, down if down is not None else 1e9),
                         ("after_outage", (up or 0) + 30, 1e9)):
        pts = [(s["requests"] / 1000.0, s[key]) for s in samples
               if s["phase"] == "traffic" and lo <= s["t"] < hi and key in s]
        v = slope(pts)
        out[name] = round(v, 1) if v is not None else None
    return out


def mib(kb):
    return "%.1f" % (kb / 1024.0) if kb is not None else "-"


def render(r):
    L = []
    L.append("## soak: %s, %d s of traffic (%s)\n" % (r["command"], r["traffic_seconds"],
                                                      r["date"]))
    L.append("%d clients aiming at %.0f req/s; Kafka down from t=%.0f s to t=%.0f s; "
             "%d policy reloads ok, %d refused (invalid policy refused, old kept: %s)\n"
             % (r["clients"], r["rate_aimed"], r["kafka_outage"]["down_at"] or 0,
                r["kafka_outage"]["up_at"] or 0, r["reloads"]["ok"], r["reloads"]["failed"],
                r["reloads"]["invalid_refused"]))
    L.append("| requests | status: count | p50 ms | p99 ms |")
    L.append("| --- | --- | ---: | ---: |")
    for k in sorted(r["requests"]["by_kind_status"]):
        st = r["requests"]["by_kind_status"][k]
        lat = r["latency_ms"].get(k, {})
        L.append("| %s | %s | %s | %s |" % (k, ", ".join("%s: %d" % (s, n) for s, n in
                                                      sorted(st.items())),
                                           lat.get("p50", "-"), lat.get("p99", "-")))
    L.append("| **all** | %d requests, %.1f req/s | %s | %s |\n"
             % (r["requests"]["total"], r["requests"]["per_second"],
                r["latency_all_ms"]["p50"], r["latency_all_ms"]["p99"]))
    L.append("| process | RSS idle before MiB | first-third median | last-third median | "
             "growth (limit) | min / median / max | idle after | trend KiB/1k req before / "
             "after outage | fds before / max / after |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for who in ("sidecar", "loader"):
        g, f = r["memory"].get(who), r["fds"][who]
        if not g:
            continue
        tk = g.get("kb_per_1k_requests", {})
        L.append("| %s | %s | %s | %s | %+.1f (%s) | %s / %s / %s | %s | %s / %s | %d / %d / %d |"
                 % (who, mib(g["idle_start_kb"]), mib(g["first_third_median_kb"]),
                    mib(g["last_third_median_kb"]), g["growth_kb"] / 1024.0,
                    mib(g["limit_kb"]), mib(g["min_kb"]), mib(g["median_kb"]),
                    mib(g["max_kb"]), mib(g["idle_end_kb"]), tk.get("before_outage", "-"),
                    tk.get("after_outage", "-"), f["idle_start"], f["max"], f["idle_end"]))
    rec = r["records"]
    lm = r["lineage_metrics_end"]
    L.append("")
    L.append("| requests | records in PostgreSQL: outcome decision http_status: count |")
    L.append("| --- | --- |")
    for k in sorted(rec["outcomes_by_kind"]):
        L.append("| %s | %s |" % (k, ", ".join("%s: %d" % kv for kv in
                                               sorted(rec["outcomes_by_kind"][k].items()))))
    L.append("")
    L.append("| lineage | |")
    L.append("| --- | ---: |")
    for name, v in [
            ("record ids answered to clients", rec["answered_ids"]),
            ("of them in PostgreSQL", rec["in_postgres"]),
            ("lost", rec["lost"]),
            ("duplicates in PostgreSQL", rec["postgres_duplicates"]),
            ("rows in PostgreSQL (all)", rec["postgres_rows"]),
            ("dropped (log / metrics)", "%d / %s" % (rec["log_dropped"], lm.get("dropped"))),
            ("emitter: delivered / spooled / replayed / failed",
             "%s / %s / %s / %s" % (lm.get("delivered"), lm.get("spooled"),
                                    lm.get("replayed"), lm.get("failed"))),
            ("spool peak", "%.1f KiB, %d records" % (r["spool_peak_bytes"] / 1024.0,
                                                     r["spool_peak_records"])),
            ("drained / all loaded after traffic stopped", "%.0f s / %.0f s"
             % (r["drain_seconds"], r["loaded_seconds"])),
            ("records by Kafka partition", ", ".join(
                "p%d: %d (%.1f MiB, %d B each)" % (p["partition"], p["records"], p["mib"],
                                                   p["mean_bytes"])
                for p in rec["kafka_partitions"])),
            ("records by policy", ", ".join("%s: %d" % kv for kv in
                                             sorted(rec["by_policy"].items()))),
            ("steward-audit verify", "exit %d, %s" % (r["verify"]["exit"], " ".join(
                "%s=%s" % kv for kv in (r["verify"]["summary"] or {}).items())))]:
        L.append("| %s | %s |" % (name, v))
    L.append("")
    L.append("| t s | phase | requests | sidecar RSS MiB | sidecar fds | loader RSS MiB | "
             "loader fds | spool KiB | spool records |")
    L.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    every = max(1, int(round(r["seconds"] / 10.0 / SAMPLE_EVERY)))
    shown = [s for i, s in enumerate(r["samples"])
             if i == 0 or i % every == 0 or i == len(r["samples"]) - 1
             or s["phase"] != r["samples"][i - 1]["phase"]]
    for s in shown:
        L.append("| %.0f | %s | %d | %s | %s | %s | %s | %.0f | %s |"
                 % (s["t"], s["phase"], s["requests"], mib(s.get("sc_rss_kb")),
                    s.get("sc_fds", "-"), mib(s.get("ld_rss_kb")), s.get("ld_fds", "-"),
                    s.get("spool_bytes", 0) / 1024.0, s.get("spool_records", "-")))
    L.append("")
    L.append("criteria: growth %s; fds %s" % (r["criteria"]["growth"], r["criteria"]["fds"]))
    for w in r["warnings"]:
        L.append("warning: %s" % w)
    L.append("result: %s" % ("OK" if r["ok"] else "FAILED: " + "; ".join(r["problems"])))
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
