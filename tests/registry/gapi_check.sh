#!/usr/bin/env bash
# Real Google API descriptor sets, built here with protoc from the npm
# google-proto-files protos (@upstream_protos): every message of Dialogflow
# v2 and Speech v1 (and their imports) through lro-c's run-time registry,
# against python's json_format (gapi_check.py says what is checked).
set -euo pipefail
up_file="$(readlink -f external/upstream_protos/google/cloud/speech/v1/cloud_speech.proto)"
up="${up_file%/google/cloud/speech/v1/cloud_speech.proto}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
df=()
for f in "$up"/google/cloud/dialogflow/v2/*.proto; do df+=("${f#$up/}"); done
[ "${#df[@]}" -ge 20 ] || { echo "FAIL: Dialogflow v2 protos not found under $up"; exit 1; }
protoc -I"$up" -I/usr/include --include_imports --descriptor_set_out="$tmp/dialogflow.protoset" \
  "${df[@]}" 2>/dev/null
protoc -I"$up" -I/usr/include --include_imports --descriptor_set_out="$tmp/speech.protoset" \
  google/cloud/speech/v1/cloud_speech.proto google/cloud/speech/v1/cloud_speech_adaptation.proto \
  2>/dev/null
/usr/bin/python3 tests/registry/gapi_check.py tests/registry/registry_dump "$tmp/cases" \
  "$tmp/dialogflow.protoset" "$tmp/speech.protoset"
