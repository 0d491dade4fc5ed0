#!/usr/bin/env bash
# Regenerates gen/ (protobuf-c output for proto/ -- the googleapis files and
# the project's own lro/testing/v1 admin API -- and the well-known types it
# or the JSON writer needs). Run from anywhere: tools/gen.sh [OUTDIR]
# With OUTDIR, writes there instead of gen/ (the staleness test uses that).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/gen}"
wkt=/usr/include
protos=(
  google/longrunning/operations.proto
  google/rpc/status.proto
  google/rpc/error_details.proto
  lro/testing/v1/admin.proto
)
# Well-known types: the ones proto/ imports, the ones lro's JSON writer
# prints as objects (Struct/Value, wrappers, Timestamp), and descriptor.proto,
# which the type registry (lib/src/registry.c) reads descriptor sets with.
wkts=(
  google/protobuf/any.proto
  google/protobuf/descriptor.proto
  google/protobuf/duration.proto
  google/protobuf/empty.proto
  google/protobuf/struct.proto
  google/protobuf/timestamp.proto
  google/protobuf/wrappers.proto
)
command -v protoc >/dev/null || { echo "gen.sh: protoc not found (run bazel/setup.sh)" >&2; exit 1; }
command -v protoc-gen-c >/dev/null || { echo "gen.sh: protoc-gen-c not found (run bazel/setup.sh)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
protoc -I"$root/proto" -I"$wkt" --c_out="$tmp" "${protos[@]}"
protoc -I"$wkt" --c_out="$tmp" "${wkts[@]}"
if [ "$out" = "$root/gen" ]; then
  rm -rf "$root/gen/google" "$root/gen/lro"
fi
mkdir -p "$out"
cp -r "$tmp/google" "$tmp/lro" "$out/"
