#!/usr/bin/env bash
# What the event hook costs per Get, in instructions: the callback and future
# clients without and with a no-op hook (lro-future-hook starts its calls off
# the I/O thread, so their first events are posted), 256 and 1 in flight.
# Only the client runs under callgrind; the bench server runs natively.
# Prints total and lro-c's own instructions per call (bench/own_instr.py).
#   bench/hook_cost.sh [REPO] [OUTDIR]    (REPO: a checkout, default this one)
set -euo pipefail
R="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
O="${2:-$(mktemp -d)}"
mkdir -p "$O"
(cd "$R" && bazel build -c opt //bench:bench_server //bench:bench_client >/dev/null 2>&1)
B="$(cd "$R" && bazel info -c opt bazel-bin 2>/dev/null)/bench"
coproc SRV { exec "$B/bench_server" --threads 1 --get-ops 16 2>/dev/null; }
read -r -t 120 TARGET <&"${SRV[0]}"
for k in 256 1; do
  n=20000
  [ "$k" = 1 ] && n=3000
  for c in lro-callback lro-callback-hook lro-future lro-future-hook; do
    f="$O/cg.$c.k$k"
    rm -f "$f"*
    valgrind --tool=callgrind --callgrind-out-file="$f" "$B/bench_client" --target "$TARGET" \
      --client "$c" --calls "$n" --inflight "$k" --warmup 500 >/dev/null 2>&1
    ir=$(grep -h '^totals:' "$f.1" | awk '{print $2}')
    own=$(python3 "$R/bench/own_instr.py" "$f.1" "$n" | sed -n 's/.*per call: //p')
    printf '%-18s k=%-4s instr/call %7d  lro-c own %s\n' "$c" "$k" $((ir / n)) "$own"
  done
done
eval "exec ${SRV[1]}>&-"
