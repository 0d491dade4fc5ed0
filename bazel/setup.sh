#!/usr/bin/env bash
# Installs what building and testing lro-c needs on Debian 12, and nothing
# when it is all there already (then it prints nothing and takes well under a
# second). Idempotent; safe to run before every command. Needs root (or sudo)
# only when something is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# Build: grpc core + protobuf-c + Bazel. Tests: python3-grpcio (independent
# client/server), valgrind, clang (libFuzzer), openssl (test certificates),
# libuv/libevent (adapters), grpc++ (benchmark baseline), cmake (tests/consumers
# builds a CMake project against the installed library).
pkgs=(
  libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libprotobuf-dev bazel-bootstrap pkg-config cmake
  python3 python3-grpcio python3-protobuf python3-pip python3-setuptools python3-wheel python3-venv
  python3-google-auth python3-requests
  valgrind clang libclang-rt-14-dev openssl libssl-dev
  libuv1-dev libevent-dev
  libgrpc++-dev protobuf-compiler-grpc
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# The upstream protos for tests/conformance, at the pinned version.
want="$(sed -n 's/.*"google-proto-files": *"\([^"]*\)".*/\1/p' "$root/bazel/npm/package.json")"
have_json="$root/bazel/npm/node_modules/google-proto-files/package.json"
have=""
[ -f "$have_json" ] && have="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$have_json" | head -1)"
if [ "$have" != "$want" ]; then
  echo "setup: installing npm google-proto-files@$want" >&2
  (cd "$root/bazel/npm" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
fi
