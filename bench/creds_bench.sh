#!/usr/bin/env bash
# Instructions per Get with each kind of credentials (bench/creds_bench.c),
# from callgrind, plus wall time (under callgrind: not a speed figure).
#
#   bench/creds_bench.sh [--calls N] [--warmup W] [--variants "V ..."]
#                        [--latency DUR] [--bin PATH] [--lroctl PATH]
#                        [--no-callgrind] [--whole-process] [--keep]
#                        [--token-bytes N]
#
# Default (client only): the servers are `lroctl serve` processes NOT under
# valgrind, started here on 127.0.0.1 with the checks each variant needs
# (tokens, the service account's public key, the API key), so only the client
# process is counted. Certificates (an EC CA and a server certificate for
# IP:127.0.0.1) and the service-account key (RSA 2048, as a service-account
# JSON) are made now with openssl in a temporary directory. tls+sts
# (external_account: grpc's OAuth2 token fetcher, as compute engine and
# authorized_user) gets its token from a fake STS started here on loopback
# (python3), which answers "bench-sts-token" for an hour.
# --latency DUR (default 10ms, 0 = none): the servers answer each Get this
# late. Without it the native server answers while the client, slowed down
# by valgrind, is still inside grpc's transport combiner after its write; the
# two threads then contend and grpc hands work to its executor thread a
# varying number of times (observed: 0.5k-18k instructions per Get, so
# totals that differ by 10 % between runs). With it each Get is strictly
# send, idle, receive, and the counts repeat within about 0.1 %.
# Callgrind runs with --instr-atstart=no, the bench starting it after the
# warm-up: with counting on from the start, the window between zeroing and
# dumping carried a fixed ~8 M instructions (frames entered before the zero,
# in the client's other threads), +4 k per Get at 2000 Gets.
# --whole-process: the first version: client and embedded servers in one
# process under callgrind (the server's checking counted too).
# --no-callgrind: only the native pass (the smoke test does).
# --keep: keep the temporary directory (callgrind dumps cg.VARIANT, logs).
# --token-bytes N: every token (static, provider's, the STS's) padded to N
# bytes ("bench-static-token.abcdefghij..."): Google's access tokens are
# about 250 bytes, and grpc's cost per token byte differs by path (client
# only).
# Rows: instructions per Get (callgrind), us per Get (the fastest of three
# native runs of the same client against servers without latency; the whole-process mode gives wall
# time under callgrind instead), % of instructions against the transport's
# baseline (plaintext rows against plaintext, tls rows against tls).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
calls=2000 warmup=200 latency=10ms bin="" lroctl="" cg=1 whole=0 keep=0 token_bytes=0
variants="plaintext plaintext+token plaintext+provider tls tls+token tls+provider tls+jwt tls+apikey tls+sts"
usage() {
  echo "usage: $0 [--calls N] [--warmup W] [--variants \"V ...\"] [--latency DUR]" \
    "[--bin PATH] [--lroctl PATH] [--no-callgrind] [--whole-process] [--keep]" \
    "[--token-bytes N]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --calls) calls="$2"; shift 2;;
    --warmup) warmup="$2"; shift 2;;
    --variants) variants="$2"; shift 2;;
    --latency) latency="$2"; shift 2;;
    --bin) bin="$2"; shift 2;;
    --lroctl) lroctl="$2"; shift 2;;
    --no-callgrind) cg=0; shift;;
    --whole-process) whole=1; shift;;
    --keep) keep=1; shift;;
    --token-bytes) token_bytes="$2"; shift 2;;
    *) usage;;
  esac
done
if [ -z "$bin" ] || { [ "$whole" = 0 ] && [ -z "$lroctl" ]; }; then
  (cd "$root" && bazel build -c opt //bench:creds_bench //tools/lroctl >/dev/null 2>&1)
  [ -n "$bin" ] || bin="$root/bazel-bin/bench/creds_bench"
  [ -n "$lroctl" ] || lroctl="$root/bazel-bin/tools/lroctl/lroctl"
fi

out="$(mktemp -d "${TMPDIR:-/tmp}/credsbench-XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "kept $out" >&2; else rm -rf "$out"; fi
}
trap cleanup EXIT

# One table row per callgrind dump: "variant instr/Get us/Get %".
table() { # $1: file with "variant total us" lines
  printf '%-20s %14s %10s\n' variant instr/Get us/Get
  local base_plain="" base_tls=""
  while read -r v total us; do
    local per=$((total / calls))
    case "$v" in plaintext) base_plain=$per;; tls) base_tls=$per;; esac
    local base=$base_tls
    case "$v" in plaintext*) base=$base_plain;; esac
    local pct
    pct="$(awk -v a="$per" -v b="$base" 'BEGIN{ if (b > 0) printf "%+.1f%%", (a - b) * 100 / b }')"
    printf '%-20s %14s %10s  %s\n' "$v" "$per" "$us" "$pct"
  done <"$1"
}

us_of() { # $1: variant, $2: json file
  grep "\"variant\":\"$1\"" "$2" | sed 's/.*"us_per_get":\([0-9.]*\).*/\1/'
}

if [ "$whole" = 1 ]; then
  if [ "$cg" = 0 ]; then
    exec "$bin" --calls "$calls" --warmup "$warmup"
  fi
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.%p" "$bin" --calls "$calls" \
    --warmup "$warmup" >"$out/json" 2>"$out/log" || { cat "$out/log" >&2; exit 1; }
  : >"$out/rows"
  for f in $(ls "$out"/cg.* | sort -t. -k3 -n); do
    v="$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")"
    [ -n "$v" ] || continue
    echo "$v $(sed -n 's/^summary: //p' "$f" | awk '{print $1}') $(us_of "$v" "$out/json")" >>"$out/rows"
  done
  echo "whole process (client + embedded server), $calls Gets per variant after $warmup"
  table "$out/rows"
  exit 0
fi

# ---- Client only ----------------------------------------------------------------
(
  cd "$out"
  E='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
  # shellcheck disable=SC2086
  openssl req -x509 $E -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca
  printf 'subjectAltName=IP:127.0.0.1\n' >s.cnf
  # shellcheck disable=SC2086
  openssl req $E -keyout srv.key -out srv.csr -subj /CN=localhost
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile s.cnf -out srv.pem
  openssl genrsa -out sa.key 2048
  openssl rsa -in sa.key -pubout -out sa.pub
  {
    printf '{"type": "service_account", "project_id": "bench", "private_key_id": "k1", '
    printf '"private_key": "%s", ' "$(awk '{printf "%s\\n", $0}' sa.key)"
    printf '"client_email": "bench@bench.iam.gserviceaccount.com", "client_id": "1"}\n'
  } >sa.json
) >"$out/openssl.log" 2>&1 || { cat "$out/openssl.log" >&2; exit 1; }

# tok NAME: the token the client sends for NAME (creds_bench.c pads alike).
tok() {
  if [ "$token_bytes" = 0 ]; then
    echo "$1"
  else
    python3 -c 'import sys; b, n = sys.argv[1], int(sys.argv[2]); print(b + "." + "".join("abcdefghij"[i % 10] for i in range(n - len(b) - 1)))' "$1" "$token_bytes"
  fi
}
# The fake STS of tls+sts: grpc's external_account credentials POST the
# subject token here and cache the access token until its expiry.
sts_port=""
case " $variants " in
  *" tls+sts "*)
    python3 -u -c '
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"access_token": sys.argv[1], "token_type": "Bearer",
                           "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                           "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
' "$(tok bench-sts-token)" >"$out/sts.port" 2>"$out/sts.err" &
    pids+=("$!")
    for _ in $(seq 100); do
      sts_port="$(head -n 1 "$out/sts.port" 2>/dev/null || true)"
      [ -n "$sts_port" ] && break
      sleep 0.1
    done
    [ -n "$sts_port" ] || { echo "the fake STS did not start" >&2; cat "$out/sts.err" >&2; exit 1; }
    printf 'bench-subject-token' >"$out/subject.txt"
    printf '{"type": "external_account", "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q", "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": "http://127.0.0.1:%s/v1/token", "credential_source": {"file": "%s"}}\n' \
      "$sts_port" "$out/subject.txt" >"$out/ea.json"
    ;;
esac

# serve NAME FLAGS...: starts `lroctl serve` on 127.0.0.1:0, sets addr_NAME.
serve() {
  local name="$1"
  shift
  "$lroctl" serve --listen 127.0.0.1:0 --seed 1 --complete-after 0 --progress-every 0 "$@" \
    >"$out/serve.$name.out" 2>"$out/serve.$name.err" &
  pids+=("$!")
  local i=0 addr=""
  while [ $i -lt 300 ]; do
    addr="$(head -n 1 "$out/serve.$name.out" 2>/dev/null || true)"
    case "$addr" in 127.0.0.1:*) break;; esac
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$out/serve.$name.err" >&2; exit 1; }
    sleep 0.1
    i=$((i + 1))
  done
  case "$addr" in 127.0.0.1:*) ;; *) echo "lroctl serve ($name) did not start" >&2; exit 1;; esac
  printf -v "addr_$name" '%s' "$addr"
}
# One server per check set; for callgrind a second set answering after
# $latency (suffix _slow), the first set (no latency) times native runs.
tls=(--tls-cert "$out/srv.pem" --tls-key "$out/srv.key")
tokens=(--require-token "$(tok bench-static-token)" --require-token "$(tok bench-provider-token)"
  --require-token "$(tok bench-sts-token)")
suffixes="fast"
if [ "$cg" = 1 ]; then suffixes="fast slow"; fi
for sfx in $suffixes; do
  lat=()
  if [ "$sfx" = slow ] && [ "$latency" != 0 ]; then lat=(--latency "$latency"); fi
  serve "plain_$sfx" "${lat[@]}"
  serve "plain_auth_$sfx" "${lat[@]}" "${tokens[@]}"
  serve "tls_$sfx" "${lat[@]}" "${tls[@]}"
  serve "tls_auth_$sfx" "${lat[@]}" "${tls[@]}" "${tokens[@]}" --jwt-public-key "$out/sa.pub"
  serve "tls_key_$sfx" "${lat[@]}" "${tls[@]}" --require-api-key bench-api-key
done

# target VARIANT SUFFIX: the address of the server that checks its credentials.
target() {
  local n
  case "$1" in
    plaintext) n=plain;;
    plaintext+*) n=plain_auth;;
    tls) n=tls;;
    tls+apikey) n=tls_key;;
    tls+*) n=tls_auth;;
    *) echo "unknown variant $1" >&2; exit 2;;
  esac
  n="addr_${n}_$2"
  echo "${!n}"
}

# Native pass (wall time; the smoke test's only pass): each variant $reps
# times, interleaved, and the fastest kept (the machine is shared: the
# slower runs measure the neighbours).
reps=3
if [ "$cg" = 0 ]; then reps=1; fi
: >"$out/json.all"
for _ in $(seq "$reps"); do
  for v in $variants; do
    "$bin" --target "$(target "$v" fast)" --variant "$v" --calls "$calls" --warmup "$warmup" \
      --ca "$out/ca.pem" --sa-json "$out/sa.json" --ea-file "$out/ea.json" --token-bytes "$token_bytes" >>"$out/json.all"
  done
done
: >"$out/json"
for v in $variants; do
  grep "\"variant\":\"$v\"" "$out/json.all" |
    sort -t: -k4 -n | head -n 1 >>"$out/json"
done
if [ "$cg" = 0 ]; then
  cat "$out/json"
  exit 0
fi

# Callgrind pass: one client process per variant.
: >"$out/rows"
for v in $variants; do
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.$v.%p" "$bin" \
    --target "$(target "$v" slow)" --variant "$v" --calls "$calls" --warmup "$warmup" \
    --ca "$out/ca.pem" --sa-json "$out/sa.json" --ea-file "$out/ea.json" --token-bytes "$token_bytes" >/dev/null 2>"$out/log.$v" ||
    { cat "$out/log.$v" >&2; exit 1; }
  f="$(grep -l "^desc: Trigger: Client Request: $v\$" "$out"/cg."$v".*)"
  mv "$f" "$out/cg.$v"
  rm -f "$out"/cg."$v".*
  echo "$v $(sed -n 's/^summary: //p' "$out/cg.$v" | awk '{print $1}') $(us_of "$v" "$out/json")" \
    >>"$out/rows"
done
echo "client process only (servers: lroctl serve outside valgrind, answering after $latency" \
  "under callgrind), $calls Gets per variant after $warmup;" \
  "us/Get: fastest of 3 native runs, no latency"
table "$out/rows"
