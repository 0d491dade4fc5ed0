#!/usr/bin/env bash
# Runs the binding's tests with Debian's python3 over the liblro.so.1 and
# liblro_testing.so.1 (lro.testing) just built. Under --config=asan the library carries the ASan/UBSan runtimes,
# which must be loaded first: preload them into the (uninstrumented) python,
# leak checking off (python's own allocations at exit are not ours).
set -euo pipefail
export LRO_LIBRARY="$PWD/lib/liblro.so.1"
export LRO_TESTING_LIBRARY="$PWD/lib/testing/liblro_testing.so.1"
export LROCTL="$PWD/tools/lroctl/lroctl"
export PYTHONPATH="$PWD/bindings/python"
export PYTHONDONTWRITEBYTECODE=1
if objdump -p "$LRO_LIBRARY" | grep -c 'NEEDED.*libasan' >/dev/null; then
  pre="$(gcc -print-file-name=libasan.so)"
  if objdump -p "$LRO_LIBRARY" | grep -c 'NEEDED.*libubsan' >/dev/null; then
    pre="$pre $(gcc -print-file-name=libubsan.so)"
  fi
  export LD_PRELOAD="$pre"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
exec /usr/bin/python3 tests/python/lro_binding_test.py
