#!/usr/bin/env bash
# Instructions per Get with each kind of credentials (bench/creds_bench.c),
# from callgrind (counts repeat within 0.1 %), plus wall time.
#   bench/creds_bench.sh [--calls N] [--bin PATH] [--no-callgrind]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
calls=2000 bin="" cg=1
while [ $# -gt 0 ]; do
  case "$1" in
    --calls) calls="$2"; shift 2;;
    --bin) bin="$2"; shift 2;;
    --no-callgrind) cg=0; shift;;
    *) echo "usage: $0 [--calls N] [--bin PATH] [--no-callgrind]" >&2; exit 2;;
  esac
done
if [ -z "$bin" ]; then
  (cd "$root" && bazel build -c opt //bench:creds_bench >/dev/null 2>&1)
  bin="$root/bazel-bin/bench/creds_bench"
fi
if [ "$cg" = 0 ]; then
  exec "$bin" --calls "$calls"
fi
out="$(mktemp -d)"
valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$bin" --calls "$calls" >"$out/json" 2>"$out/log" ||
  { cat "$out/log" >&2; exit 1; }
printf '%-20s %14s %10s\n' variant instr/Get us/Get
base_plain="" base_tls=""
for f in $(ls "$out"/cg.* | sort -t. -k3 -n); do
  v="$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")"
  [ -n "$v" ] || continue
  total="$(sed -n 's/^summary: //p' "$f" | awk '{print $1}')"
  per=$((total / calls))
  us="$(grep "\"variant\":\"$v\"" "$out/json" | sed 's/.*"us_per_get":\([0-9.]*\).*/\1/')"
  case "$v" in plaintext) base_plain=$per;; tls) base_tls=$per;; esac
  base=$base_tls; case "$v" in plaintext*) base=$base_plain;; esac
  pct="$(awk -v a="$per" -v b="$base" 'BEGIN{ if (b > 0) printf "%+.1f%%", (a - b) * 100 / b }')"
  printf '%-20s %14s %10s  %s\n' "$v" "$per" "$us" "$pct"
done
rm -rf "$out"
