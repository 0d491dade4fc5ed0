#!/bin/sh
# Runs every example against its own embedded server and checks the summary
# line, so the examples never rot.
set -eu
run() {
    bin=$1
    want=$2
    out=$("$bin") || { echo "FAIL: $bin exited $?"; echo "$out"; exit 1; }
    echo "$out" | tail -n 3
    echo "$out" | grep -q "$want" || { echo "FAIL: $bin: no '$want'"; exit 1; }
}
run examples/uv_await "awaited 1000 operations on one loop thread: 750 succeeded, 250 failed, 0 other"
run examples/event_list "1234 operations in 13 pages"
run examples/epoll_get "8 operations fetched"
echo "examples: all ran"
