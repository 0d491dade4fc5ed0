#!/usr/bin/env bash
# Every message of proto/ (and the well-known types) through the run-time
# registry: the descriptor set protoc makes of them is loaded into an
# lro_registry, python builds the cases of tests/json/json_check.py, and
# registry_dump decodes each with the REGISTRY's descriptor (compiled decode
# and re-encoding cross-checked byte for byte), prints it, and the JSON must
# equal python json_format's.
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
protoc -Iproto -I/usr/include --include_imports --descriptor_set_out="$tmp/set.pb" \
  google/longrunning/operations.proto google/rpc/status.proto google/rpc/error_details.proto \
  google/protobuf/any.proto google/protobuf/duration.proto google/protobuf/empty.proto \
  google/protobuf/struct.proto google/protobuf/timestamp.proto google/protobuf/wrappers.proto
/usr/bin/python3 tests/json/json_check.py "$tmp/set.pb" tests/registry/registry_dump "$tmp/cases" \
  "$tmp/set.pb"
