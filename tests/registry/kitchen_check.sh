#!/usr/bin/env bash
# tests/registry/testdata/kitchen{2,3}.proto (proto2 defaults, has_ flags,
# required fields, groups, aliases, packed options, proto3 optional, oneofs,
# maps of every key type, custom json_name, far field numbers, well-known
# types) through the registry, against python json_format (gapi_check.py).
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
protoc -Itests/registry/testdata -I/usr/include --include_imports \
  --descriptor_set_out="$tmp/kitchen.protoset" kitchen3.proto
/usr/bin/python3 tests/registry/gapi_check.py tests/registry/registry_dump "$tmp/cases" \
  "$tmp/kitchen.protoset"
# Again under valgrind: libprotobuf-c is not built with ASan, so this is what
# sees its reads and writes through the run-time descriptors (skipped when
# registry_dump is itself an ASan build, or valgrind is missing).
# (grep -c, not -q: under pipefail an early-exiting grep can SIGPIPE nm.)
asan="$(nm tests/registry/registry_dump 2>/dev/null | grep -c __asan_init || true)"
if command -v valgrind >/dev/null && [ "$asan" = 0 ]; then
  cat >"$tmp/vg.sh" <<VG
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  "$PWD/tests/registry/registry_dump" "\$@"
VG
  chmod +x "$tmp/vg.sh"
  /usr/bin/python3 tests/registry/gapi_check.py "$tmp/vg.sh" "$tmp/vgcases" "$tmp/kitchen.protoset"
  echo "kitchen_check: clean under valgrind"
fi
