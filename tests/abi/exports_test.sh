#!/usr/bin/env bash
# The shared library exports lro_* and nothing else, and carries its SONAME.
set -euo pipefail
lib=lib/liblro.so.1
[ -e "$lib" ] || { echo "FAIL: liblro.so.1 not found in runfiles"; exit 1; }
soname="$(objdump -p "$lib" | awk '/SONAME/ {print $2}')"
[ "$soname" = "liblro.so.1" ] || { echo "FAIL: SONAME is '$soname'"; exit 1; }
syms="$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u)"
bad="$(printf '%s\n' "$syms" | grep -v '^lro_' | grep -v '^LRO_1$' | grep -v '^$' || true)"
if [ -n "$bad" ]; then
  echo "FAIL: exported symbols without the lro_ prefix:"
  printf '%s\n' "$bad"
  exit 1
fi
n="$(printf '%s\n' "$syms" | grep -c '^lro_')"
# The public API is far bigger than this: an empty export list must fail.
[ "$n" -ge 60 ] || { echo "FAIL: only $n lro_ symbols exported"; exit 1; }
# Every function declared LRO_API in the public headers is exported.
missing=0
for f in $(grep -h '^LRO_API' lib/include/lro/*.h | grep -o '^LRO_API [^(]*(' 2>/dev/null | sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' | sort -u); do
  if ! grep -qx "$f" <<<"$syms"; then
    echo "missing export: $f"
    missing=1
  fi
done
[ "$missing" -eq 0 ] || { echo "FAIL: declared but not exported"; exit 1; }
echo "OK: $n lro_ symbols exported, nothing else; SONAME $soname"
