#!/usr/bin/env bash
# Independent check: lro-c's JSON against protobuf's python json_format
# (Debian python3-protobuf, hence /usr/bin/python3, not the first python3 on
# PATH). Descriptors come from protoc over proto/ and the well-known types.
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
protoc -Iproto -I/usr/include --include_imports --descriptor_set_out="$tmp/set.pb" \
  google/longrunning/operations.proto google/rpc/status.proto google/rpc/error_details.proto \
  google/protobuf/any.proto google/protobuf/duration.proto google/protobuf/empty.proto \
  google/protobuf/struct.proto google/protobuf/timestamp.proto google/protobuf/wrappers.proto
/usr/bin/python3 tests/json/json_check.py "$tmp/set.pb" tests/json/json_dump "$tmp/cases"
