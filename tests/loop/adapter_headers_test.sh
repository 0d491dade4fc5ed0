#!/usr/bin/env bash
# The header-only adapters compile on their own, twice included, with
# -Wall -Wextra -Werror -pedantic as C99, C11 and C++11. uv.h itself needs
# POSIX declarations, so libuv's strict-C builds define _POSIX_C_SOURCE.
set -euo pipefail
inc="$(dirname "$(readlink -f lib/include/lro/lro.h)")/.."
ada="$(dirname "$(readlink -f lib/adapters/lro/adapters/libuv.h)")/../.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
n=0
for h in libuv libevent; do
  printf '#include "lro/adapters/%s.h"\n#include "lro/adapters/%s.h"\nint lro_header_test_dummy;\n' \
    "$h" "$h" >"$tmp/t.c"
  posix=""
  [ "$h" = libuv ] && posix="-D_POSIX_C_SOURCE=200809L"
  for std in c99 c11; do
    gcc -std=$std $posix -Wall -Wextra -Werror -pedantic -I"$inc" -I"$ada" -c "$tmp/t.c" \
      -o "$tmp/t.o" || { echo "FAIL: $h as $std"; exit 1; }
    n=$((n + 1))
  done
  cp "$tmp/t.c" "$tmp/t.cc"
  g++ -std=c++11 -Wall -Wextra -Werror -pedantic -I"$inc" -I"$ada" -c "$tmp/t.cc" -o "$tmp/t.o" ||
    { echo "FAIL: $h as C++"; exit 1; }
  n=$((n + 1))
done
echo "OK: $n adapter/standard combinations compile cleanly"
