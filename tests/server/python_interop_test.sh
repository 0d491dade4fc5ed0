#!/usr/bin/env bash
# Runs python_interop_test.py (python3-grpcio, an independent client) against
# demo_server. Debian's /usr/bin/python3 on purpose: the python3 first on
# PATH may be a pyenv build without grpc.
set -euo pipefail
cd "${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-lro_c}"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
protoc --include_imports --descriptor_set_out="$tmp/ops.pb" -Iproto -I/usr/include \
  google/longrunning/operations.proto google/rpc/status.proto google/rpc/error_details.proto \
  google/protobuf/empty.proto google/protobuf/struct.proto google/protobuf/wrappers.proto
exec /usr/bin/python3 tests/server/python_interop_test.py tests/server/demo_server "$tmp/ops.pb"
