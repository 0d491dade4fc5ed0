#!/usr/bin/env bash
# lroctl --protoset with descriptor sets built here from @upstream_protos,
# against a python3-grpcio Operations server (lroctl_protoset_test.py).
set -euo pipefail
up_file="$(readlink -f external/upstream_protos/google/cloud/speech/v1/cloud_speech.proto)"
up="${up_file%/google/cloud/speech/v1/cloud_speech.proto}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
protoc -I"$up" -I/usr/include --include_imports --descriptor_set_out="$tmp/speech.protoset" \
  google/cloud/speech/v1/cloud_speech.proto 2>/dev/null
protoc -I"$up" -I/usr/include --include_imports --descriptor_set_out="$tmp/dialogflow.protoset" \
  google/cloud/dialogflow/v2/agent.proto google/cloud/dialogflow/v2/intent.proto \
  google/cloud/dialogflow/v2/document.proto 2>/dev/null
# Without --include_imports: references to google.protobuf/google.api types dangle.
protoc -I"$up" -I/usr/include --descriptor_set_out="$tmp/noimports.protoset" \
  google/cloud/speech/v1/cloud_speech.proto 2>/dev/null
/usr/bin/python3 tests/registry/lroctl_protoset_test.py "$PWD/tools/lroctl/lroctl" \
  "$tmp/speech.protoset" "$tmp/dialogflow.protoset" "$tmp/noimports.protoset"
