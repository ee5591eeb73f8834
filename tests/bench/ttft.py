# SPDX-License-Identifier: Apache-2.0
"""Time to first token of a streamed answer, through a URL, median of N runs:
   python3 tests/bench/ttft.py URL [N]   -> prints median and p90 in microseconds."""
import http.client
import json
import statistics
import sys
import time

url, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
host, port = url.replace("http://", "").split(":")
body = json.dumps({"model": "local-llama", "stream": True, "messages": [
    {"role": "user", "content": "Write to jane.doe@example.com about the renewal."}]})
samples = []
conn = http.client.HTTPConnection(host, int(port), timeout=10)
for _ in range(n):
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=body,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    first = None
    while True:
        line = r.readline()
        if not line:
            break
        if first is None and line.startswith(b"data: {"):
            first = time.perf_counter()
        if line.startswith(b"data: [DONE]"):
            break
    r.read()
    samples.append((first - t0) * 1e6)
samples.sort()
print("%.0f %.0f" % (statistics.median(samples), samples[int(len(samples) * 0.9)]))
