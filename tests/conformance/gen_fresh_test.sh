#!/usr/bin/env bash
# Fails when gen/ is not exactly what tools/gen.sh makes from proto/ today.
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# gen.sh finds proto/ relative to itself; give it a private tree so the
# runfiles stay untouched.
mkdir -p "$tmp/tree/tools"
cp -rL proto "$tmp/tree/proto"
cp tools/gen.sh "$tmp/tree/tools/gen.sh"
bash "$tmp/tree/tools/gen.sh" "$tmp/fresh"
if ! { diff -ru gen/google "$tmp/fresh/google" && diff -ru gen/lro "$tmp/fresh/lro"; } >"$tmp/diff"; then
  head -40 "$tmp/diff"
  echo "FAIL: gen/ is stale; run tools/gen.sh and commit the result"
  exit 1
fi
n="$(find "$tmp/fresh" -type f | wc -l)"
echo "OK: gen/ matches a fresh run of tools/gen.sh ($n files)"
