#!/usr/bin/env bash
# lro-c's C API against a python3-grpcio server requiring client certificates
# and a bearer token (grpcio_interop_test.py). The server's messages come from
# the upstream google/longrunning/operations.proto (@upstream_protos), built
# into a descriptor set here, so nothing of lro-c's own protos is on its side.
set -euo pipefail
up_file="$(readlink -f external/upstream_protos/google/longrunning/operations.proto)"
up="${up_file%/google/longrunning/operations.proto}"
tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/interop-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
protoc -I"$up" -I/usr/include --include_imports --descriptor_set_out="$tmp/operations.pb" \
  google/longrunning/operations.proto
exec /usr/bin/python3 tests/credentials/grpcio_interop_test.py \
  "$PWD/tests/credentials/grpcio_interop_client" "$tmp/operations.pb"
