#!/usr/bin/env bash
# What the event hook costs per Get, in instructions: the callback and future
# clients without and with a no-op hook (lro-future-hook starts its calls off
# the I/O thread, so their first events are posted), 256 and 1 in flight.
# Only the client runs under callgrind; the bench server runs natively.
# grpc's share of a Get moves by about half a percent from run to run (how
# completions batch depends on timing), so the four clients run ROUNDS times,
# interleaved, and the summary gives the median of each round's ratio.
# Prints total and lro-c's own instructions per call (bench/own_instr.py).
#   bench/hook_cost.sh [REPO] [OUTDIR]    (REPO: a checkout, default this one)
#   ROUNDS=N (default 3; each round ~1.5 min)
set -euo pipefail
R="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
O="${2:-$(mktemp -d)}"
ROUNDS="${ROUNDS:-3}"
mkdir -p "$O"
(cd "$R" && bazel build -c opt //bench:bench_server //bench:bench_client >/dev/null 2>&1)
B="$(cd "$R" && bazel info -c opt bazel-bin 2>/dev/null)/bench"
coproc SRV { exec "$B/bench_server" --threads 1 --get-ops 16 2>/dev/null; }
read -r -t 120 TARGET <&"${SRV[0]}"
: >"$O/figures"
for round in $(seq 1 "$ROUNDS"); do
  for k in 256 1; do
    n=20000
    [ "$k" = 1 ] && n=3000
    for c in lro-callback lro-callback-hook lro-future lro-future-hook; do
      f="$O/cg.$c.k$k.r$round"
      rm -f "$f"*
      valgrind --tool=callgrind --callgrind-out-file="$f" "$B/bench_client" --target "$TARGET" \
        --client "$c" --calls "$n" --inflight "$k" --warmup 500 >/dev/null 2>&1
      ir=$(grep -h '^totals:' "$f.1" | awk '{print $2}')
      own=$(python3 "$R/bench/own_instr.py" "$f.1" "$n" | sed -n 's/.*per call: //p')
      printf 'round %d %-18s k=%-4s instr/call %7d  lro-c own %s\n' "$round" "$c" "$k" \
        $((ir / n)) "$own"
      echo "$round $c $k $((ir / n)) $own" >>"$O/figures"
    done
  done
done
eval "exec ${SRV[1]}>&-"
python3 - "$O/figures" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
fig = {(r[0], r[1], r[2]): (int(r[3]), float(r[4])) for r in rows}
rounds = sorted({r[0] for r in rows})
print("summary (median over %d round(s); overhead = hook / no hook - 1, per round):" % len(rounds))
for k in ("256", "1"):
    for base in ("lro-callback", "lro-future"):
        hook = base + "-hook"
        ratios = [fig[(r, hook, k)][0] / fig[(r, base, k)][0] - 1 for r in rounds]
        own = [fig[(r, hook, k)][1] - fig[(r, base, k)][1] for r in rounds]
        print("  %-13s k=%-4s no hook %7d  hook %7d  overhead %+.2f %% (rounds: %s)"
              "  lro-c own +%.0f"
              % (base, k, statistics.median(fig[(r, base, k)][0] for r in rounds),
                 statistics.median(fig[(r, hook, k)][0] for r in rounds),
                 100 * statistics.median(ratios),
                 " ".join("%+.2f" % (100 * x) for x in ratios), statistics.median(own)))
PY
