#!/usr/bin/env bash
# Runs admin_interop_test.py (python3-grpcio, an independent client) against
# `lroctl serve --admin`, with message classes generated here and now by
# protoc --python_out from proto/ (no grpc_tools needed: the test makes
# generic unary_unary calls). Debian's /usr/bin/python3 on purpose: the
# python3 first on PATH may be a pyenv build without grpc.
set -euo pipefail
cd "${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-lro_c}"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
mkdir -p "$tmp/py"
# The well-known types (any, duration, ...) come from python3-protobuf itself.
protoc --python_out="$tmp/py" -Iproto -I/usr/include \
  lro/testing/v1/admin.proto google/longrunning/operations.proto \
  google/rpc/status.proto google/rpc/error_details.proto
PYTHONPATH="$tmp/py" exec /usr/bin/python3 tests/server/admin_interop_test.py \
  "$PWD/tools/lroctl/lroctl"
