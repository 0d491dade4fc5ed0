#!/usr/bin/env bash
# Every public header compiles on its own, as C99 and C11, with
# -Wall -Wextra -Werror -pedantic (and as C++ for the extern "C" guards).
set -euo pipefail
inc="$(dirname "$(readlink -f lib/include/lro/lro.h)")/.."
gen="$(dirname "$(readlink -f gen/google/rpc/status.pb-c.h)")/../.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$inc"/lro/*.h; do
  name="lro/$(basename "$h")"
  printf '#include "%s"\n#include "%s"\nint lro_header_test_dummy;\n' "$name" "$name" >"$tmp/t.c"
  stds="c99 c11"
  # protoc-c writes oneofs as anonymous unions, a C11 feature: the opt-in
  # protobuf-c header is C11-only (documented in it).
  [ "$name" = "lro/lro_pb.h" ] && stds="c11"
  for std in $stds; do
    gcc -std=$std -Wall -Wextra -Werror -pedantic -I"$inc" -I"$gen" -c "$tmp/t.c" -o "$tmp/t.o" ||
      { echo "FAIL: $name as $std"; exit 1; }
    n=$((n + 1))
  done
  cp "$tmp/t.c" "$tmp/t.cc"
  g++ -std=c++11 -Wall -Wextra -Werror -I"$inc" -I"$gen" -c "$tmp/t.cc" -o "$tmp/t.o" ||
    { echo "FAIL: $name as C++"; exit 1; }
done
echo "OK: $n header/standard combinations compile cleanly"
