#!/usr/bin/env bash
# Soak: one client, 1,000,000 mixed calls (Get 45%, List page 20%, Cancel 10%,
# Delete 5%, await 12%, Wait with half of them locally cancelled 8%; every
# other call with an extra header), 64 in flight, against the embedded server
# in a child process. RSS sampled every second into a CSV; prints the slope
# after warm-up. A script with figures, not a timed test.
#
#   tools/soak/soak.sh [calls] [window] [csv] [warmup_s]
set -euo pipefail
cd "$(dirname "$0")/../.."
calls="${1:-1000000}"
window="${2:-64}"
csv="${3:-$PWD/soak_rss.csv}"
warmup="${4:-15}"
bazel build -c opt //tools/soak:soak_driver >/dev/null 2>&1 || bazel build -c opt //tools/soak:soak_driver
echo "soak: $calls calls, window $window, RSS samples in $csv"
./bazel-bin/tools/soak/soak_driver "$calls" "$window" "$csv" "$warmup"
