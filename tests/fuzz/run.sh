#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# straight from the sources (Bazel's default toolchain is gcc) and runs each
# for SECONDS seconds over its committed seed corpus.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     default: 5 s, every target
#   FUZZ_WORK=/tmp/x  keep the build and the grown corpora there
#   FUZZ_JOBS=N       make N objects at a time (default: nproc)
#
# The committed corpus (tests/fuzz/corpus/<target>/) is only read: new inputs
# go to $FUZZ_WORK/corpus/<target>. A crash leaves its reproducer in
# $FUZZ_WORK/crash-* and makes this script exit 1. fuzz_json is built only
# when lib/src/json.c exists (it lands from another branch).
# Works offline: needs clang and libclang-rt-14-dev (bazel/setup.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${FUZZ_ROOT:-$(cd "$here/../.." && pwd)}"
secs="${1:-5}"
shift || true
work="${FUZZ_WORK:-$(mktemp -d)}"
mkdir -p "$work/obj" "$work/corpus"
jobs="${FUZZ_JOBS:-$(nproc)}"
CC="${CC:-clang}"
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (bazel/setup.sh installs clang)"; exit 1; }

all=(fuzz_operation fuzz_list fuzz_status_details fuzz_names fuzz_pagetoken fuzz_event_format)
if [ -f "$root/lib/src/json.c" ]; then
  all+=(fuzz_json)
fi
if [ -f "$root/lib/src/registry.c" ]; then
  all+=(fuzz_registry)
fi
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $san \
  -I$root/lib/include -I$root/lib/src -I$root/lib/testing -I$root/gen -I$here"

# The library, the embedded server's sources and gen/: built once with
# coverage instrumentation, shared by all targets.
srcs=("$root"/lib/src/*.c "$root"/lib/testing/*.c)
while IFS= read -r f; do srcs+=("$f"); done < <(find "$root/gen" -name '*.c' | sort)
objs=()
pids=()
for s in "${srcs[@]}"; do
  o="$work/obj/$(echo "${s#$root/}" | tr '/' '_').o"
  objs+=("$o")
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ]; then
    $CC $cflags -fsanitize=fuzzer-no-link -w -c "$s" -o "$o" &
    pids+=($!)
    if [ "${#pids[@]}" -ge "$jobs" ]; then
      wait "${pids[0]}"
      pids=("${pids[@]:1}")
    fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done

status=0
for t in "${targets[@]}"; do
  bin="$work/$t"
  $CC $cflags -fsanitize=fuzzer -Wall -Wextra -Werror "$here/$t.c" "${objs[@]}" \
    -lgrpc -lgpr -lprotobuf-c -lcrypto -lpthread -o "$bin"
  mkdir -p "$work/corpus/$t"
  seeds="$here/corpus/$t"
  log="$work/$t.log"
  echo "fuzz: $t for ${secs}s"
  if ! (cd "$work" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 "$work/corpus/$t" "$seeds" >"$log" 2>&1); then
    echo "fuzz: $t FAILED"
    tail -60 "$log"
    status=1
    continue
  fi
  # One summary line per target: executions, coverage, corpus size.
  execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
  cov="$(grep -E '#[0-9]+.*(cov|DONE)' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*ft: ([0-9]+).*corp: ([0-9]+).*/cov \1 ft \2 corpus \3/')"
  echo "fuzz: $t ok: $execs executions, $cov, crashes 0"
done
exit "$status"
