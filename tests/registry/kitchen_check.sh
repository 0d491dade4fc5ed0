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
