#!/usr/bin/env bash
# Credential flows driven through lroctl against servers written in the test
# (Debian's python3: python3-grpcio). See google_flows_test.py.
set -euo pipefail
export LROCTL="$PWD/tools/lroctl/lroctl"
exec /usr/bin/python3 tests/credentials/google_flows_test.py
