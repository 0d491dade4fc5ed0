#!/usr/bin/env bash
# bench/run.sh - builds the benchmarks (bazel -c opt) and runs every scenario:
#   1. unary throughput and cost  (floor, lro-c callback, lro-c future, grpc++)
#      + instructions per call under callgrind (smaller run)
#   2. latency, one call in flight (floor, lro-c callback, lro-c future)
#   3. await at scale             (lro-c, polling then WaitOperation), each
#                                 also against a server recycling connections
#   4. list                       (lro-c pager, page sizes 100 and 1000)
#   5. frontend                   (Gets beside held awaits, server allowing
#                                 100 streams per connection; Gets alone first)
#   6. million                    (1,000,000 concurrent awaits, one client)
# Prints one JSON line per scenario and client (stdout, also saved to
# bench/out/results.jsonl), then a table.
#
# Options:
#   --quick          tiny N everywhere, no callgrind (the smoke test)
#   --callgrind 0|1  run the callgrind part (default 1, 0 with --quick)
#   --bindir DIR     use these binaries instead of building (the test does)
#   --no-pin         do not pin server and clients to cores
#   --out DIR        where results and callgrind files go (default bench/out)
#   --only LIST      comma list of scenarios:
#                    unary,latency,await,list,frontend,million
set -euo pipefail

QUICK=0
CALLGRIND=""
BINDIR=""
PIN=1
OUT=""
ONLY="unary,latency,await,list,frontend,million"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --callgrind) CALLGRIND="$2"; shift ;;
    --bindir) BINDIR="$2"; shift ;;
    --no-pin) PIN=0 ;;
    --out) OUT="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$CALLGRIND" ] || CALLGRIND=$((1 - QUICK))

if [ -z "$BINDIR" ]; then
  cd "$(dirname "$0")/.."
  bazel build -c opt //bench:binaries >&2
  BINDIR="$(bazel info -c opt bazel-bin 2>/dev/null)/bench"
  [ -n "$OUT" ] || OUT="bench/out"
else
  [ -n "$OUT" ] || OUT="${TEST_TMPDIR:-$(mktemp -d)}/bench-out"
fi
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
LOG="$OUT/run.log"
: >"$LOG"

if [ "$QUICK" = 1 ]; then
  UNARY_N=2000; UNARY_K=32; WARM=200; CG_N=500
  LAT_N=300; LAT_ROUNDS=1; CG_LAT_N=100; AWAIT_N=300; AWAIT_BUDGET=2000; AWAIT_OVER=1000; AWAIT_START=300
  LIST_N=2000
  FE_AWAITS=500; FE_MS=3000
  MILLION_N=20000; MILLION_OVER=3000; MILLION_START=1000; MILLION_DELAY=1000; MILLION_MAXDELAY=2000
  RECYCLE_AGE=500; RECYCLE_GRACE=200
else
  UNARY_N=200000; UNARY_K=256; WARM=5000; CG_N=20000
  LAT_N=20000; LAT_ROUNDS=10; CG_LAT_N=2000; AWAIT_N=100000; AWAIT_BUDGET="${BENCH_AWAIT_BUDGET:-5000}"; AWAIT_OVER=20000; AWAIT_START=3000
  LIST_N=100000
  FE_AWAITS=10000; FE_MS=30000
  MILLION_N=1000000; MILLION_OVER=60000; MILLION_START=10000; MILLION_DELAY=20000; MILLION_MAXDELAY=30000
  RECYCLE_AGE=2000; RECYCLE_GRACE=500
fi
MILLION_BUDGET="${BENCH_MILLION_BUDGET:-0}"
SERVER_THREADS="${BENCH_SERVER_THREADS:-1}"

# Pinning: the server on core 0, every client on core 1 (2+ cores only).
PIN_SRV=()
PIN_CLI=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  PIN_SRV=(taskset -c 0)
  PIN_CLI=(taskset -c 1)
fi

fail=0
SRV_PID=""

server_start() {
  coproc SRV { exec "${PIN_SRV[@]}" "$BINDIR/bench_server" "$@" 2>>"$LOG"; }
  SRV_PID=$SRV_PID
  if ! read -r -t 120 TARGET <&"${SRV[0]}"; then
    echo "run.sh: the server did not start" >&2
    exit 1
  fi
}

server_cpu() {
  local line
  echo cpu >&"${SRV[1]}"
  read -r -t 30 line <&"${SRV[0]}"
  echo "${line#cpu }"
}

server_mem() { # "<VmRSS kB> <VmHWM kB>" of the server
  local line
  echo mem >&"${SRV[1]}"
  read -r -t 30 line <&"${SRV[0]}"
  echo "${line#mem }"
}

server_stop() {
  local fd="${SRV[1]}"
  eval "exec ${fd}>&-"
  wait "$SRV_PID" || true
}

emit() { # one JSON line
  echo "$1" | tee -a "$RESULTS"
}

# Adds "key":value pairs to a JSON line (before its closing brace).
json_add() {
  local line="$1"; shift
  echo "${line%\}},$*}"
}

check_ok() { # fails the run when a client reported errors
  case "$1" in
    *'"errors":0,'*|*'"exactly_once":true'*|*'"complete":true'*) ;;
    *) echo "run.sh: FAILED: $1" >&2; fail=1 ;;
  esac
}

client_bin() {
  case "$1" in
    grpc++) echo "$BINDIR/bench_grpcpp" ;;
    *) echo "$BINDIR/bench_client" ;;
  esac
}

client_args() {
  case "$1" in
    grpc++) ;;
    *) echo "--client $1" ;;
  esac
}

# A unary (or latency) run of one client, with the server's CPU beside it.
run_unary() {
  local client="$1" n="$2" k="$3" lat="$4" s0 s1 line wall
  s0=$(server_cpu)
  # shellcheck disable=SC2046
  line=$("${PIN_CLI[@]}" "$(client_bin "$client")" --target "$TARGET" $(client_args "$client") \
    --calls "$n" --inflight "$k" --warmup "$WARM" --latency "$lat" 2>>"$LOG") || fail=1
  s1=$(server_cpu)
  wall=$(echo "$line" | sed -n 's/.*"wall_s":\([0-9.]*\).*/\1/p')
  # Server CPU includes the warm-up calls: per call over warm-up + measured.
  line=$(json_add "$line" "\"server_cpu_us_per_call\":$(awk -v a="$s0" -v b="$s1" -v n="$n" -v w="$WARM" 'BEGIN{printf "%.3f", (b-a)/(n+w)}')")
  line=$(json_add "$line" "\"server_threads\":$SERVER_THREADS")
  [ -z "${ROUND:-}" ] || line=$(json_add "$line" "\"round\":$ROUND")
  # Cores busy during the measured phase (per-call CPU x calls/s): a side
  # near 1.00 on its own core is the one that limits calls/s.
  line=$(echo "$line" | awk '{
    match($0, /"calls_per_s":[0-9.]+/); r = substr($0, RSTART + 14, RLENGTH - 14)
    match($0, /"cpu_us_per_call":[0-9.]+/); c = substr($0, RSTART + 18, RLENGTH - 18)
    match($0, /"server_cpu_us_per_call":[0-9.]+/); s = substr($0, RSTART + 25, RLENGTH - 25)
    sub(/}$/, sprintf(",\"client_cores\":%.2f,\"server_cores\":%.2f}", r * c / 1e6, r * s / 1e6))
    print }')
  [ -n "$wall" ] || wall=1
  emit "$line"
  check_ok "$line"
}

# Instructions per call: the client under callgrind, measured phase only
# (CALLGRIND_ZERO_STATS .. CALLGRIND_DUMP_STATS_AT in the client).
run_callgrind() {
  local client="$1" n="${2:-$CG_N}" k="${3:-$UNARY_K}" f ir line
  f="$OUT/callgrind.$client.k$k"
  rm -f "$f" "$f".*
  # shellcheck disable=SC2046
  line=$(valgrind --tool=callgrind --callgrind-out-file="$f" \
    "$(client_bin "$client")" --target "$TARGET" $(client_args "$client") \
    --calls "$n" --inflight "$k" --warmup "$WARM" 2>>"$LOG") || fail=1
  ir=$(grep -h '^totals:' "$f".1 2>/dev/null | awk '{print $2}')
  if [ -z "$ir" ]; then
    echo "run.sh: no callgrind dump for $client" >&2
    fail=1
    return
  fi
  emit "{\"scenario\":\"instructions\",\"client\":\"$client\",\"calls\":$n,\"inflight\":$k,\"instructions\":$ir,\"instr_per_call\":$(awk -v i="$ir" -v n="$n" 'BEGIN{printf "%.0f", i/n}'),\"callgrind_file\":\"$f.1\"}"
  check_ok "$line"
}

has() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

echo "# bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ); pin: ${PIN_SRV[*]:-none} server / ${PIN_CLI[*]:-none} clients" | tee -a "$LOG" >&2

if has unary || has latency; then
  server_start --threads "$SERVER_THREADS" --get-ops 16
  if has unary; then
    # lro-callback-hook / lro-future-hook: the same clients with a no-op
    # event hook (lro/events.h); the future client starts its calls on its
    # own thread, so their first events are posted to the I/O thread.
    for c in floor lro-callback lro-callback-hook lro-future lro-future-hook grpc++; do
      run_unary "$c" "$UNARY_N" "$UNARY_K" 0
    done
    if [ "$CALLGRIND" = 1 ]; then
      for c in floor lro-callback lro-callback-hook lro-future lro-future-hook grpc++; do
        run_callgrind "$c"
      done
    fi
  fi
  if has latency; then
    # Rounds interleave the clients so that a noisy minute on a shared
    # machine hits all of them alike; the table shows the median per client.
    if [ "$CALLGRIND" = 1 ]; then
      # The noise-free view of the same comparison: instructions per call
      # with one call in flight.
      for c in floor lro-callback lro-future; do
        run_callgrind "$c" "$CG_LAT_N" 1
      done
    fi
    for r in $(seq 1 "$LAT_ROUNDS"); do
      for c in floor lro-callback lro-future; do
        ROUND="$r" run_unary "$c" $((LAT_N / LAT_ROUNDS)) 1 1
      done
    done
  fi
  server_stop
fi

if has await; then
  # Polling without and with a client-wide poll budget (polls/s), then
  # WaitOperation; all with the default cap on await RPCs in flight. Last,
  # the baseline: WaitOperation with the cap off (one held RPC per
  # operation), to show what the cap saves.
  # The capped runs go twice: as is, then against a server that recycles
  # its connections (GOAWAY after RECYCLE_AGE ms, calls still open
  # RECYCLE_GRACE ms later cut with UNAVAILABLE), as front ends and proxies
  # do. The cap-off baseline is not recycled: 100,000 held Waits re-sent
  # every 2 s overwhelm this one-core server (see bench/README.md).
  for spec in await-poll:0:-1:0 await-poll:0:-1:1 "await-poll:$AWAIT_BUDGET:-1:0" \
    "await-poll:$AWAIT_BUDGET:-1:1" await-wait:0:-1:0 await-wait:0:-1:1 \
    await-wait:0:0:0; do
    IFS=: read -r mode budget cap recycle <<<"$spec"
    recycle_args=()
    [ "$recycle" = 0 ] || recycle_args=(--max-conn-age-ms "$RECYCLE_AGE" --max-conn-age-grace-ms "$RECYCLE_GRACE")
    server_start --threads "$SERVER_THREADS" --get-ops 0 --pending "$AWAIT_N" \
      --over-ms "$AWAIT_OVER" --start-ms "$AWAIT_START" "${recycle_args[@]}"
    line=$("${PIN_CLI[@]}" "$BINDIR/bench_client" --target "$TARGET" --client "$mode" \
      --calls "$AWAIT_N" --poll-budget "$budget" --await-rpcs "$cap" 2>>"$LOG") || fail=1
    echo calls >&"${SRV[1]}"
    read -r -t 30 calls <&"${SRV[0]}"
    set -- $calls
    [ -n "$line" ] || line="{\"scenario\":\"await\",\"client\":\"$mode\",\"crashed\":true}"
    line=$(json_add "$line" "\"server_get_rpcs\":$2,\"server_wait_rpcs\":$3")
    line=$(json_add "$line" "\"recycle_ms\":$((recycle * RECYCLE_AGE)),\"recycle_grace_ms\":$((recycle * RECYCLE_GRACE))")
    emit "$line"
    check_ok "$line"
    server_stop
  done
fi

if has list; then
  server_start --threads "$SERVER_THREADS" --get-ops 0 --list-ops "$LIST_N"
  for ps in 100 1000; do
    line=$("${PIN_CLI[@]}" "$BINDIR/bench_client" --target "$TARGET" --client list \
      --page-size "$ps" --expect "$LIST_N" 2>>"$LOG") || fail=1
    emit "$line"
    check_ok "$line"
  done
  server_stop
fi

if has frontend; then
  # Gets at 100/s for FE_MS on a client with default options, against a
  # server allowing 100 concurrent streams per connection: first alone (the
  # baseline), then beside FE_AWAITS awaits that stay pending until after
  # the Gets (each holding a WaitOperation, up to the default cap). The
  # second run also has a control: a second client in the same process,
  # without awaits, whose Gets go out between those of the first (machine
  # stalls show in both; the ratio to it isolates what the awaits cost).
  for awaits in 0 "$FE_AWAITS"; do
    server_start --threads "$SERVER_THREADS" --get-ops 16 --max-streams 100 \
      --pending "$awaits" --over-ms 2000 --start-ms $((FE_MS + 5000))
    line=$("${PIN_CLI[@]}" "$BINDIR/bench_client" --target "$TARGET" --client frontend \
      --awaits "$awaits" --get-rate 100 --duration-ms "$FE_MS" \
      --control $((awaits > 0 ? 1 : 0)) 2>>"$LOG") || fail=1
    [ -n "$line" ] || line="{\"scenario\":\"frontend\",\"client\":\"lro-c-frontend\",\"awaits\":$awaits,\"crashed\":true}"
    line=$(json_add "$line" "\"server_max_streams\":100")
    emit "$line"
    check_ok "$line"
    server_stop
  done
fi

if has million; then
  # One client, MILLION_N concurrent polling awaits; the server (its own
  # process: its memory is not in the client's RSS) holds them all pending
  # and completes them over MILLION_OVER ms.
  server_start --threads "$SERVER_THREADS" --get-ops 0 --pending "$MILLION_N" \
    --over-ms "$MILLION_OVER" --start-ms "$MILLION_START"
  line=$("${PIN_CLI[@]}" "$BINDIR/bench_client" --target "$TARGET" --client million \
    --calls "$MILLION_N" --poll-budget "$MILLION_BUDGET" --initial-delay-ms "$MILLION_DELAY" \
    --max-delay-ms "$MILLION_MAXDELAY" 2>>"$LOG") || fail=1
  echo calls >&"${SRV[1]}"
  read -r -t 30 calls <&"${SRV[0]}"
  mem=$(server_mem)
  set -- $calls $mem
  [ -n "$line" ] || line="{\"scenario\":\"million\",\"client\":\"lro-c-poll\",\"crashed\":true}"
  line=$(json_add "$line" "\"server_get_rpcs\":$2,\"server_wait_rpcs\":$3,\"server_rss_kb\":$5,\"server_peak_rss_kb\":$6")
  emit "$line"
  check_ok "$line"
  server_stop
fi

python3 - "$RESULTS" <<'PY' || true
import json, sys
results_file = sys.argv[1]
_print = print
def print(*a, **k):  # the table goes to stderr; JSON lines to stdout
    if k.pop("file", None) is sys.stdout:
        _print(*a, **k)
        with open(results_file, "a") as fh:
            _print(*a, file=fh, **k)
    else:
        _print(*a, file=sys.stderr, **k)
rows = [json.loads(l) for l in open(results_file) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["scenario"], []).append(r)
def f(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)
ins = {r["client"]: r for r in by.get("instructions", []) if r["inflight"] != 1}
ins1 = {r["client"]: r for r in by.get("instructions", []) if r["inflight"] == 1}
if "unary" in by:
    print("\n== 1. Unary GetOperation (%d calls, %d in flight)" % (by["unary"][0]["calls"], by["unary"][0]["inflight"]))
    print("%-16s %10s %12s %11s %12s %12s %9s %9s %7s" % ("client", "calls/s", "cpu us/call", "peak RSS", "instr/call", "srv us/call", "cli cores", "srv cores", "errors"))
    for r in by["unary"]:
        c = r["client"]
        key = {"lro-c-callback": "lro-callback", "lro-c-callback-hook": "lro-callback-hook", "lro-c-future": "lro-future", "lro-c-future-hook": "lro-future-hook", "grpc++-callback": "grpc++"}.get(c, c)
        i = ins.get(key, {}).get("instr_per_call")
        r["instr_per_call"] = i
        print("%-16s %10s %12.2f %8d KB %12s %12.2f %9.2f %9.2f %7d" % (c, f(r["calls_per_s"]), r["cpu_us_per_call"], r["maxrss_kb"], f(i), r["server_cpu_us_per_call"], r["client_cores"], r["server_cores"], r["errors"]))
    u = {r["client"]: r for r in by["unary"]}
    fl, gp = u.get("floor"), u.get("grpc++-callback")
    for c in ("lro-c-callback", "lro-c-future"):
        l = u.get(c)
        if not l:
            continue
        out = {"scenario": "unary-ratios", "client": c}
        for base, name in ((fl, "floor"), (gp, "grpcpp")):
            if not base:
                continue
            out["cpu_vs_" + name] = round(l["cpu_us_per_call"] / base["cpu_us_per_call"], 3)
            if l.get("instr_per_call") and base.get("instr_per_call"):
                out["instr_vs_" + name] = round(l["instr_per_call"] / base["instr_per_call"], 3)
        print("ratios %-16s %s" % (c, "  ".join("%s=%s" % (k, v) for k, v in out.items() if k not in ("scenario", "client"))))
        print(json.dumps(out, separators=(",", ":")), file=sys.stdout)
for plain, hooked in (("lro-callback", "lro-callback-hook"), ("lro-future", "lro-future-hook")):
    if plain not in ins or hooked not in ins:
        continue
    # What the event hook costs: the same client with a no-op hook.
    a, b = ins[plain]["instr_per_call"], ins[hooked]["instr_per_call"]
    out = {"scenario": "event-hook-cost", "client": plain, "instr_per_call_no_hook": a,
           "instr_per_call_noop_hook": b, "noop_hook_overhead_pct": round((b - a) * 100.0 / a, 2)}
    print("event hook (%s): %s instr/call without, %s with a no-op hook (%+.2f %%)" % (plain, f(a), f(b), out["noop_hook_overhead_pct"]))
    print(json.dumps(out, separators=(",", ":")), file=sys.stdout)
if "latency" in by:
    import statistics
    lat = {}
    for r in by["latency"]:
        lat.setdefault(r["client"], []).append(r)
    rounds = len(next(iter(lat.values())))
    print("\n== 2. Latency, one call in flight (%d calls per client, %d interleaved rounds; median of the rounds)" % (sum(r["calls"] for r in next(iter(lat.values()))), rounds))
    print("%-16s %10s %10s %10s %12s %12s   %s" % ("client", "p50 us", "p99 us", "calls/s", "cpu us/call", "srv us/call", "p50 per round"))
    med = {}
    for c, rs in lat.items():
        m = {k: statistics.median(x[k] for x in rs) for k in ("p50_us", "p99_us", "calls_per_s", "cpu_us_per_call", "server_cpu_us_per_call")}
        med[c] = m
        print("%-16s %10.1f %10.1f %10s %12.2f %12.2f   %s" % (c, m["p50_us"], m["p99_us"], f(m["calls_per_s"]), m["cpu_us_per_call"], m["server_cpu_us_per_call"], " ".join("%.1f" % x["p50_us"] for x in rs)))
    if "floor" in med:
        for c in med:
            if c == "floor":
                continue
            out = {"scenario": "latency-summary", "client": c, "rounds": rounds,
                   "p50_us": med[c]["p50_us"], "p99_us": med[c]["p99_us"],
                   "floor_p50_us": med["floor"]["p50_us"], "floor_p99_us": med["floor"]["p99_us"],
                   "p50_minus_floor_us": round(med[c]["p50_us"] - med["floor"]["p50_us"], 1)}
            key = {"lro-c-callback": "lro-callback", "lro-c-future": "lro-future"}.get(c, c)
            if key in ins1 and "floor" in ins1:
                out["instr_per_call"] = ins1[key]["instr_per_call"]
                out["floor_instr_per_call"] = ins1["floor"]["instr_per_call"]
            print("p50 %-16s - floor = %+.1f us%s" % (c, out["p50_minus_floor_us"], ("   (one in flight, callgrind: %s vs floor %s instr/call)" % (f(out["instr_per_call"]), f(out["floor_instr_per_call"]))) if "instr_per_call" in out else ""))
            print(json.dumps(out, separators=(",", ":")), file=sys.stdout)
def await_row(r):
    cap = r.get("max_await_rpcs", -1)
    rec = r.get("recycle_ms", 0)
    print("%-18s %7s %7d %12s %7.1f %4d->%-4d %9.2f %9.0f %12.0f %7.1f %6s %9d" % (r["client"], ("%.1f s" % (rec / 1000.0)) if rec else "-", r["operations"], r["exactly_once"], r["wall_s"], r["threads_before"], r["threads_max"], r["polls_per_op"], r["rss_bytes_per_op"], r["lro_live_bytes_per_op_peak"], r["cpu_s"], "none" if cap == 0 else str(cap), r["max_rpcs_in_flight"]))
def srv_rpcs(r):
    return (r.get("server_get_rpcs", 0) + r.get("server_wait_rpcs", 0)) / float(r["operations"])
def failures(r):
    return r["operations"] - r["reported_once"] + r["reported_twice"] + r["wrong_outcome"]
if "await" in by:
    print("\n== 3. Await at scale (recycle: the server recycles connections every that many s)")
    print("%-18s %7s %7s %12s %7s %9s %9s %9s %12s %7s %6s %9s" % ("client", "recycle", "ops", "exactly once", "wall s", "threads", "polls/op", "RSS B/op", "lro live B/op", "cpu s", "cap", "max rpcs"))
    for r in by["await"]:
        if r.get("crashed"):
            print("%-18s CRASHED" % r["client"])
            continue
        await_row(r)
    normal = {(r["client"], r.get("max_await_rpcs")): r for r in by["await"] if not r.get("crashed") and not r.get("recycle_ms")}
    rec = [r for r in by["await"] if not r.get("crashed") and r.get("recycle_ms")]
    if rec:
        print("\nconnection recycling vs the normal run (target: 0 failures, polls/op within 10 %):")
        print("(polls/op: lro_future_polls, which does not count a Wait re-sent at once after its connection was recycled;")
        print(" srv RPCs/op: what the server received, Get + Wait, per operation)")
        print("%-18s %9s %9s %7s %11s %11s %15s %10s" % ("client", "polls/op", "recycled", "ratio", "srv RPCs/op", "recycled", "failures (rec)", "wall ratio"))
        for r in rec:
            base = normal.get((r["client"], r.get("max_await_rpcs")))
            if not base:
                continue
            ratio = r["polls_per_op"] / base["polls_per_op"] if base["polls_per_op"] else 0
            out = {"scenario": "await-recycle", "client": r["client"], "max_await_rpcs": r.get("max_await_rpcs"),
                   "recycle_ms": r["recycle_ms"], "recycle_grace_ms": r.get("recycle_grace_ms"),
                   "polls_per_op": base["polls_per_op"], "polls_per_op_recycled": r["polls_per_op"],
                   "polls_ratio": round(ratio, 3), "failures": failures(base), "failures_recycled": failures(r),
                   "wall_ratio": round(r["wall_s"] / base["wall_s"], 3),
                   "server_rpcs_per_op": round(srv_rpcs(base), 3), "server_rpcs_per_op_recycled": round(srv_rpcs(r), 3),
                   "target_met": failures(r) == 0 and abs(ratio - 1) <= 0.10}
            print("%-18s %9.2f %9.2f %7.3f %11.2f %11.2f %15d %10.2f" % (r["client"], base["polls_per_op"], r["polls_per_op"], ratio, srv_rpcs(base), srv_rpcs(r), failures(r), out["wall_ratio"]))
            print(json.dumps(out, separators=(",", ":")), file=sys.stdout)
if "list" in by:
    print("\n== 4. List")
    print("%-10s %8s %10s %12s %14s %10s" % ("page size", "ops", "ops/s", "cpu us/op", "lro B/op", "allocs/op"))
    for r in by["list"]:
        print("%-10d %8d %10s %12.2f %14.1f %10.3f" % (r["page_size"], r["operations"], f(r["ops_per_s"]), r["cpu_us_per_op"], r["lro_bytes_per_op"], r["lro_allocs_per_op"]))
if "frontend" in by:
    print("\n== 5. Front end: GetOperation at 100/s beside held awaits, server allowing 100 streams per connection")
    print("%-26s %7s %6s %9s %9s %9s %9s %8s %12s %9s" % ("client", "awaits", "gets", "p50 ms", "p99 ms", "max ms", "mean ms", "failed", "exactly once", "channels"))
    fr = {}
    for r in by["frontend"]:
        if r.get("crashed"):
            print("%-26s CRASHED" % r["client"])
            continue
        fr[r["client"]] = r
        print("%-26s %7d %6d %9.3f %9.3f %9.3f %9.3f %8d %12s %9d" % (r["client"], r["awaits"], r["gets"], r["get_p50_ms"], r["get_p99_ms"], r["get_max_ms"], r["get_mean_ms"], r["get_failures"], r["exactly_once"], r["channels_max"]))
        if "control_get_p99_ms" in r:
            print("%-26s %7d %6d %9.3f %9.3f %9.3f %9.3f %8d %12s %9s" % ("  control (same moments)", 0, r["gets"], r["control_get_p50_ms"], r["control_get_p99_ms"], r["control_get_max_ms"], r["control_get_mean_ms"], r["control_get_failures"], "-", "-"))
    b, l = fr.get("lro-c-frontend-baseline"), fr.get("lro-c-frontend")
    if b and l:
        out = {"scenario": "frontend-ratio", "client": "lro-c-frontend", "awaits": l["awaits"],
               "p50_ratio": round(l["get_p50_ms"] / b["get_p50_ms"], 3) if b["get_p50_ms"] else None,
               "p99_ratio": round(l["get_p99_ms"] / b["get_p99_ms"], 3) if b["get_p99_ms"] else None,
               "max_ratio": round(l["get_max_ms"] / b["get_max_ms"], 3) if b["get_max_ms"] else None,
               "get_failures": l["get_failures"], "exactly_once": l["exactly_once"], "channels": l["channels_max"]}
        if l.get("control_get_p99_ms"):
            out["p99_ratio_vs_control"] = round(l["get_p99_ms"] / l["control_get_p99_ms"], 3)
        out["target_met"] = out["p99_ratio"] is not None and out["p99_ratio"] <= 2 and l["get_failures"] == 0 and l["exactly_once"]
        print("ratios vs the baseline: p50 %sx  p99 %sx (target <= 2)  max %sx; p99 vs the control %sx; failures %d; every await once: %s; connections opened: %d" % (out["p50_ratio"], out["p99_ratio"], out["max_ratio"], out.get("p99_ratio_vs_control"), l["get_failures"], l["exactly_once"], l["channels_max"]))
        print(json.dumps(out, separators=(",", ":")), file=sys.stdout)
if "million" in by:
    print("\n== 6. A million awaits in one client (polling)")
    print("%-14s %8s %12s %7s %11s %9s %9s %12s %9s %7s %10s" % ("client", "ops", "exactly once", "wall s", "threads", "polls/op", "RSS B/op", "lro live B/op", "start s", "cpu s", "server RSS"))
    for r in by["million"]:
        if r.get("crashed"):
            print("%-14s CRASHED" % r["client"])
            continue
        print("%-14s %8d %12s %7.1f %3d->%d->%-3d %9.2f %9.0f %12.0f %9.2f %7.1f %7d MB" % (r["client"], r["operations"], r["exactly_once"], r["wall_s"], r["threads_before"], r["threads_max"], r["threads_after"], r["polls_per_op"], r["rss_bytes_per_op"], r["lro_live_bytes_per_op_peak"], r["start_all_s"], r["cpu_s"], r.get("server_peak_rss_kb", 0) // 1024))
        print("targets (issue 15): RSS <= 512 B/await: %s; lro-c <= 256 B/await: %s; threads: %d before, at most %d while running, %d after" % (r["rss_bytes_per_op"] <= 512, r["lro_live_bytes_per_op_peak"] <= 256, r["threads_before"], r["threads_max"], r["threads_after"]))
PY

if [ "$fail" != 0 ]; then
  echo "run.sh: some scenario FAILED (see $LOG)" >&2
  exit 1
fi
echo "run.sh: all scenarios ran; results in $RESULTS" >&2
