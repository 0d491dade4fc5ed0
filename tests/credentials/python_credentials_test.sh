#!/usr/bin/env bash
# lro.credentials (bindings/python) with Debian's python3 over the
# liblro.so.1 just built, against `lroctl serve --require-token`.
set -euo pipefail
export LRO_LIBRARY="$PWD/lib/liblro.so.1"
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
exec /usr/bin/python3 tests/credentials/python_credentials_test.py
