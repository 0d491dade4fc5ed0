#!/usr/bin/env bash
# The package as a user gets it: builds the wheel offline with Debian's
# setuptools/wheel (pip wheel --no-build-isolation --no-deps) from the
# libraries just built, installs it into a fresh venv
# (--system-site-packages, --no-index: nothing downloaded), and runs a
# program from another directory with no LRO_LIBRARY nor PYTHONPATH: the
# package must find liblro.so.1, liblro_testing.so.1 and the bundled
# libprotobuf-c.so.1 inside itself.
set -euo pipefail
src="$PWD"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }
export HOME="$tmp/home" PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1
mkdir -p "$HOME"
cp -rL "$src/bindings/python" "$tmp/pkg"
chmod -R u+w "$tmp/pkg"
LRO_WHEEL_LIBRARY="$src/lib/liblro.so.1" \
  LRO_WHEEL_TESTING_LIBRARY="$src/lib/testing/liblro_testing.so.1" \
  /usr/bin/python3 -m pip wheel --no-build-isolation --no-deps "$tmp/pkg" -w "$tmp/dist" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "pip wheel failed"; }
whl="$(ls "$tmp"/dist/lro-*.whl)"
case "$(basename "$whl")" in
  lro-1.0.0-py3-none-linux_*.whl) ;;
  *) fail "unexpected wheel name $(basename "$whl")" ;;
esac
for f in lro/__init__.py lro/py.typed lro/_libs/liblro.so.1 lro/_libs/liblro_testing.so.1 \
  lro/_libs/libprotobuf-c.so.1; do
  /usr/bin/python3 -m zipfile -l "$whl" | grep -c "^$f " >/dev/null || fail "$f not in the wheel"
done

/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/pip" install --no-deps "$whl" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "pip install failed"; }

pre=""
if objdump -p "$src/lib/liblro.so.1" | grep -c 'NEEDED.*libasan' >/dev/null; then
  pre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
fi
cd "$tmp"
env -u LRO_LIBRARY -u LRO_TESTING_LIBRARY -u PYTHONPATH ${pre:+LD_PRELOAD="$pre"} \
  ASAN_OPTIONS=detect_leaks=0 "$tmp/venv/bin/python" - "$tmp/venv" <<'PY'
import asyncio, os, sys
venv = sys.argv[1]
import lro, lro.testing
from google.protobuf import wrappers_pb2

def mapped(part):
    with open("/proc/self/maps") as f:
        return sorted({l.split()[-1] for l in f if part in l})

libs = os.path.join(os.path.dirname(lro.__file__), "_libs")
assert lro.__file__.startswith(venv), lro.__file__
assert mapped("liblro.so.1") == [os.path.join(libs, "liblro.so.1")], mapped("liblro")
assert mapped("liblro_testing") == [os.path.join(libs, "liblro_testing.so.1")]
assert mapped("libprotobuf-c") == [os.path.join(libs, "libprotobuf-c.so.1")], mapped("protobuf-c")

with lro.testing.Server() as srv:
    srv.seed("projects/p/locations/l/operations", 4)
    # "five lines of Python await a real service's operation and print its typed result"
    async def main():
        async with lro.Client(srv.target, plaintext=True) as ops:
            op = await ops.wait_done("projects/p/locations/l/operations/op-00000", timeout=30)
            print(op.result(wrappers_pb2.StringValue).value)
    asyncio.run(main())
    with lro.SyncClient(srv.target, plaintext=True) as ops:
        print(ops.get("projects/p/locations/l/operations/op-00003").result()["value"]["index"])
        try:
            ops.get("projects/p/locations/l/operations/nope")
        except lro.NotFound as e:
            print(type(e).__name__, e.reason)
PY
echo "wheel_test: ok ($(basename "$whl"))"
