#!/usr/bin/env bash
# Runs lro_api_test.py with Debian's python3 over the liblro.so.1 and
# liblro_testing.so.1 just built, with a FileDescriptorSet of the project's
# protos plus example_service.proto (a service's own types) for the
# independent python3-grpcio server and for typed results.
set -euo pipefail
export LRO_LIBRARY="$PWD/lib/liblro.so.1"
export LRO_TESTING_LIBRARY="$PWD/lib/testing/liblro_testing.so.1"
export PYTHONPATH="$PWD/bindings/python"
export PYTHONDONTWRITEBYTECODE=1
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
protoc --include_imports --descriptor_set_out="$tmp/api.pb" -Iproto -Itests/python -I/usr/include \
  google/longrunning/operations.proto google/rpc/status.proto google/rpc/error_details.proto \
  google/protobuf/empty.proto google/protobuf/struct.proto google/protobuf/wrappers.proto \
  example_service.proto
if objdump -p "$LRO_LIBRARY" | grep -c 'NEEDED.*libasan' >/dev/null; then
  pre="$(gcc -print-file-name=libasan.so)"
  if objdump -p "$LRO_LIBRARY" | grep -c 'NEEDED.*libubsan' >/dev/null; then
    pre="$pre $(gcc -print-file-name=libubsan.so)"
  fi
  export LD_PRELOAD="$pre"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
exec /usr/bin/python3 tests/python/lro_api_test.py "$tmp/api.pb" "$@"
