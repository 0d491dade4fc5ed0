#!/usr/bin/env bash
# Runs the `lroctl admin` golden tests with Debian's python3 (not a pyenv one).
set -euo pipefail
export LROCTL="$PWD/tools/lroctl/lroctl"
exec /usr/bin/python3 tests/lroctl/admin_test.py
