#!/usr/bin/env bash
# Writes the seeds of corpus/fuzz_registry/: descriptor sets protoc makes of
# proto/, of tests/registry/testdata and of Speech v1 (google-proto-files,
# installed by bazel/setup.sh). Run from the repository root after changing
# any of them; the files are committed.
set -euo pipefail
out=tests/fuzz/corpus/fuzz_registry
up=bazel/npm/node_modules/google-proto-files
mkdir -p "$out"
protoc -Iproto -I/usr/include --include_imports --descriptor_set_out="$out/own_protos" \
  google/longrunning/operations.proto google/rpc/status.proto google/rpc/error_details.proto
protoc -Iproto -I/usr/include --descriptor_set_out="$out/own_protos_no_imports" \
  google/rpc/error_details.proto
protoc -Itests/registry/testdata -I/usr/include --include_imports \
  --descriptor_set_out="$out/kitchen" kitchen3.proto
protoc -Itests/registry/testdata --descriptor_set_out="$out/kitchen2_proto2" kitchen2.proto
protoc -I"$up" -I/usr/include --include_imports --descriptor_set_out="$out/speech_v1" \
  google/cloud/speech/v1/cloud_speech.proto 2>/dev/null
ls -l "$out"
