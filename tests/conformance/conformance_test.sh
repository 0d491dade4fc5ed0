#!/usr/bin/env bash
# Wire-contract check: proto/ against the upstream googleapis protos shipped in
# the npm package google-proto-files (pinned in bazel/npm/package.json).
# Then the same check on a copy of proto/ with one field number changed, which
# must FAIL: a comparator that cannot fail would prove nothing.
set -euo pipefail
ours_dir="$(dirname "$(readlink -f proto/google/rpc/status.proto)")/../.."
upstream_file="$(readlink -f external/upstream_protos/google/longrunning/operations.proto)"
upstream_dir="$(dirname "$upstream_file")/../.."
compare=tests/conformance/compare_descriptors.py
files=(google/longrunning/operations.proto google/rpc/status.proto google/rpc/error_details.proto)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

protoc -I"$ours_dir" -I/usr/include --include_imports \
  --descriptor_set_out="$tmp/ours.pb" "${files[@]}"
# Upstream imports google/api/*; the package ships those too.
protoc -I"$upstream_dir" -I/usr/include --include_imports \
  --descriptor_set_out="$tmp/upstream.pb" "${files[@]}"

echo "== proto/ vs google-proto-files"
/usr/bin/python3 "$compare" "$tmp/ours.pb" "$tmp/upstream.pb" "${files[@]}"

echo "== negative control: ListOperationsRequest.page_size renumbered 2 -> 6"
cp -r "$ours_dir" "$tmp/mutant"
chmod -R u+w "$tmp/mutant"
sed -i 's/int32 page_size = 2;/int32 page_size = 6;/' "$tmp/mutant/google/longrunning/operations.proto"
grep -q 'page_size = 6;' "$tmp/mutant/google/longrunning/operations.proto"
protoc -I"$tmp/mutant" -I/usr/include --include_imports \
  --descriptor_set_out="$tmp/mutant.pb" "${files[@]}"
if /usr/bin/python3 "$compare" "$tmp/mutant.pb" "$tmp/upstream.pb" "${files[@]}" >"$tmp/mutant.out"; then
  echo "FAIL: the comparator accepted a renumbered field"
  exit 1
fi
grep 'page_size' "$tmp/mutant.out"
echo "OK: the renumbered field was caught"
