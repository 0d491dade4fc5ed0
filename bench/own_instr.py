#!/usr/bin/env python3
"""Exclusive instructions of lro-c's own functions per call in a callgrind
dump of bench_client (lro-c is linked statically into it): grpc's share, and
its run-to-run noise, left out. Used for figures smaller than that noise
(bench/README.md, "Event hook").

    bench/own_instr.py bench/out/callgrind.lro-callback.k256.1 20000 [TOP]
"""
import re
import subprocess
import sys

# bench_client's own functions (everything else in the binary is lro-c or
# its generated protobuf-c code).
BENCH = {"main", "cb_start", "get_cb", "callback_phase", "future_phase", "run_lro_unary",
         "make_client", "make_client_budget", "noop_hook", "bench_now_ns", "bench_cpu_us"}

path, calls = sys.argv[1], int(sys.argv[2])
top = int(sys.argv[3]) if len(sys.argv) > 3 else 0
out = subprocess.run(["callgrind_annotate", "--threshold=100", path],
                     capture_output=True, text=True, check=True).stdout
rows = []
for line in out.splitlines():
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S+):(\S+) \[(.*)\]$", line)
    if m and m.group(4).endswith("bench_client") and m.group(3) not in BENCH:
        rows.append((int(m.group(1).replace(",", "")), m.group(3)))
print("%s: lro-c own instructions per call: %.1f" % (path, sum(n for n, _ in rows) / calls))
for n, fn in sorted(rows, reverse=True)[:top]:
    print("  %8.1f %s" % (n / calls, fn))
