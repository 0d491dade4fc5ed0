#!/usr/bin/env bash
# CI short run of the fuzz targets (Bazel sh_test): builds them with clang in
# the test's temp dir and runs each for $1 seconds over the seed corpus.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export FUZZ_WORK="${TEST_TMPDIR:-$(mktemp -d)}/fuzz"
export FUZZ_JOBS="${FUZZ_JOBS:-2}"
exec bash "$here/run.sh" "$@"
