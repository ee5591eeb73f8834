#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench_loader: steward-loader's throughput against a raw COPY of the same
rows into the same tables, in one run, reported as a ratio (DESIGN.md
section 10).  `make bench-loader` runs it.

  tests/bench/bench_loader.py [--records N] [--batch-size B] [--keep]

1. A throwaway PostgreSQL (deploy/local/pg.sh) with the migrations, and the
   embedded Kafka (steward-mockkafka, 1 broker, 4 partitions).
2. N synthetic lineage records (valid steward.lineage/1, one finding each,
   spread over 256 chains so that they spread over the partitions; no real
   data) produced to the topic with kcat, and counted back.  The embedded
   Kafka keeps about 5 MB per partition (librdkafka's mock cluster), so N is
   capped at 14000 here; a real cluster has no such cap.
3. steward-loader, on a fresh consumer group, loads them.  Its rate is taken
   from its own per-batch log lines (first to last batch), so the consumer
   group's join delay is not counted.
4. The rows it wrote (lineage_records and lineage_findings) are copied out,
   the tables truncated, and the same rows COPYed back in (psql \\copy, one
   transaction per table): the floor any loader is measured against.

Numbers, not assertions: the machine is shared and noisy.  Output goes to
stdout and to $STEWARD_BUILD/bench-loader.txt."""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("STEWARD_BUILD", "build/debug")
BIN = os.path.join(REPO, BUILD, "bin")
TOPIC = "bench.lineage"


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise SystemExit("bench_loader: timed out waiting for " + what)
        time.sleep(0.1)


def psql(db, sql, *extra):
    r = subprocess.run(["psql", db, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
                       + list(extra), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench_loader: psql: " + r.stderr)
    return r.stdout.strip()


CHAINS = 256
MAX_RECORDS = 14000


def records(n):
    """n chained records as (key, JSON line) (what sidecars would emit)."""
    chains = [str(uuid.uuid4()) for _ in range(CHAINS)]
    prevs = ["0" * 64] * CHAINS
    t0 = 1764431435000000
    for i in range(n):
        k = i % CHAINS
        chain, prev = chains[k], prevs[k]
        us = t0 + i * 1000
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1000000)) + \
            ".%06dZ" % (us % 1000000)
        rec = {"schema": "steward.lineage/1", "record_id": str(uuid.uuid4()),
               "ts_start": ts, "ts_end": ts, "instance": "bench",
               "caller": {"principal": "svc-bench", "tenant": "t%d" % (i % 7), "purpose": None},
               "request": {"method": "POST", "path": "/v1/chat/completions", "route": "chat"},
               "model": {"requested": "local-llama", "served": "local-llama-1",
                         "upstream": "http://127.0.0.1:8000"},
               "policy": {"id": "steward-default", "hash": "ab" * 32, "mode": "enforce",
                          "decision": "redact", "rule_id": None, "matched_rules": ["pii"]},
               "findings": [{"direction": "request", "type": "EMAIL",
                             "pointer": "/messages/0/content", "count": 1, "action": "redact"}],
               "http_status": 200, "outcome": "ok",
               "latency_us": {"total": 1500, "upstream": 1200, "governance": 90},
               "usage": {"prompt_tokens": 12, "completion_tokens": 34},
               "chain": {"id": chain, "seq": i // CHAINS + 1, "prev": prev}}
        line = json.dumps(rec, separators=(",", ":"))
        prevs[k] = hashlib.sha256(line.encode()).hexdigest()
        yield chain, line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=MAX_RECORDS)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()
    if not 1000 <= a.records <= MAX_RECORDS:
        raise SystemExit("bench_loader: --records 1000..%d (the embedded Kafka keeps ~5 MB "
                         "per partition)" % MAX_RECORDS)
    for b in ("steward-loader", "steward-audit", "steward-mockkafka"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            raise SystemExit("bench_loader: %s/%s missing: run make first" % (BIN, b))
    tmp = tempfile.mkdtemp(prefix="bench-loader-")
    pg = os.path.join(tmp, "pg")
    procs = []
    try:
        db = subprocess.run([os.path.join(REPO, "deploy/local/pg.sh"), "start", pg],
                            capture_output=True, text=True, check=True).stdout.split()[-1]
        subprocess.run([os.path.join(BIN, "steward-audit"), "migrate", "--db", db, "--dir",
                        os.path.join(REPO, "schema/sql")], check=True, stdout=subprocess.DEVNULL)
        boot = os.path.join(tmp, "kafka.bootstrap")
        klog = open(os.path.join(tmp, "kafka.log"), "w")
        procs.append(subprocess.Popen([os.path.join(BIN, "steward-mockkafka"), "--brokers", "1",
                                       "--partitions", "4", "--topic", TOPIC,
                                       "--bootstrap-file", boot], stdout=klog, stderr=klog))
        wait_for(lambda: os.path.exists(boot) and os.path.getsize(boot) > 0, 20, "kafka")
        bootstrap = open(boot).read().strip()

        data = os.path.join(tmp, "records.txt")
        with open(data, "w") as f:
            for chain, line in records(a.records):
                f.write(chain + "\t" + line + "\n")
        subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", TOPIC, "-K", "\t", "-l", data],
                       check=True)
        held = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", TOPIC, "-e", "-q", "-f",
                               "x\n"], capture_output=True, text=True, check=True).stdout.count("x")
        if held != a.records:
            raise SystemExit("bench_loader: the topic holds %d of %d records" % (held, a.records))

        conf = os.path.join(tmp, "loader.conf")
        with open(conf, "w") as f:
            f.write("pg_url = %s\nbootstrap_file = %s\ntopic = %s\ngroup_id = bench\n"
                    "batch_size = %d\nbatch_wait = 50ms\nlog_level = debug\n"
                    "kafka.session.timeout.ms = 6000\n" % (db, boot, TOPIC, a.batch_size))
        llog_path = os.path.join(tmp, "loader.log")
        llog = open(llog_path, "w")
        loader = subprocess.Popen([os.path.join(BIN, "steward-loader"), "-c", conf],
                                  stdout=llog, stderr=llog)
        procs.append(loader)

        def loaded():
            return int(psql(db, "select count(*) from lineage_records")) >= a.records
        wait_for(loaded, 300, "the loader to load every record")
        loader.terminate()
        loader.wait(60)
        batches = []
        pat = re.compile(r"ts=(\S+)Z .*msg=batch_loaded messages=(\d+) loaded=(\d+)")
        for line in open(llog_path):
            m = pat.search(line)
            if m:
                t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) + \
                    float("0." + m.group(1)[20:])
                batches.append((t, int(m.group(2)), int(m.group(3))))
        if len(batches) < 2:
            raise SystemExit("bench_loader: too few batches to time")
        span = batches[-1][0] - batches[0][0]
        counted = sum(b[2] for b in batches[1:])  # rows loaded after the first batch ended
        loader_rps = counted / span if span > 0 else float("inf")

        rec_file = os.path.join(tmp, "records.copy")
        fnd_file = os.path.join(tmp, "findings.copy")
        psql(db, "\\copy lineage_records to '%s'" % rec_file)
        psql(db, "\\copy lineage_findings to '%s'" % fnd_file)
        psql(db, "truncate lineage_findings, lineage_records")
        psql(db, "checkpoint")
        t = time.monotonic()
        psql(db, "\\copy lineage_records from '%s'" % rec_file)
        psql(db, "\\copy lineage_findings from '%s'" % fnd_file)
        copy_s = time.monotonic() - t
        n = int(psql(db, "select count(*) from lineage_records"))
        copy_rps = n / copy_s
        report = ("bench-loader: %d records (%d bytes each on average), batch_size %d\n"
                  "  steward-loader  %10.0f records/s  (%d batches, %.2f s)\n"
                  "  raw COPY        %10.0f records/s  (%.2f s, records and findings)\n"
                  "  ratio           %10.2f  (loader / COPY)\n"
                  % (a.records, os.path.getsize(data) // a.records, a.batch_size, loader_rps,
                     len(batches), span, copy_rps, copy_s, loader_rps / copy_rps))
        print(report, end="")
        try:
            with open(os.path.join(REPO, BUILD, "bench-loader.txt"), "w") as f:
                f.write(report)
        except OSError:
            pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run([os.path.join(REPO, "deploy/local/pg.sh"), "destroy", pg],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if a.keep:
            print("bench_loader: kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
