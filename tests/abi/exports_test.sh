#!/usr/bin/env bash
# The shared libraries export their own API and nothing else, with their
# SONAMEs:
#   liblro.so.1          lro_* (the client) and no lro_test_* symbol;
#   liblro_testing.so.1  lro_test_* only (the embedded server), NEEDED
#                        liblro.so.1, and no copy of the client.
# Every LRO_API function of the public headers is exported by the library it
# belongs to (testing.h: liblro_testing; the others: liblro).
# (Pipelines end in `grep -c ... >/dev/null`, not `grep -q`: under pipefail
# an early-exiting grep can kill the writer with SIGPIPE and flip the result.)
set -euo pipefail
lib=lib/liblro.so.1
tlib=lib/testing/liblro_testing.so.1
fail() { echo "FAIL: $*"; exit 1; }
[ -e "$lib" ] || fail "liblro.so.1 not found in runfiles"
[ -e "$tlib" ] || fail "liblro_testing.so.1 not found in runfiles"
soname() { objdump -p "$1" | awk '$1 == "SONAME" {print $2}'; }
exports() { nm -D --defined-only "$1" | awk '{print $3}' | sed 's/@.*//' | grep -v '^$' | sort -u; }
declared() { # LRO_API function names declared in the given headers
  grep -h '^LRO_API' "$@" | grep -o '^LRO_API [^(]*(' | sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' | sort -u
}

# ---- liblro.so.1 -----------------------------------------------------------------
[ "$(soname "$lib")" = liblro.so.1 ] || fail "SONAME of liblro is '$(soname "$lib")'"
syms="$(exports "$lib")"
bad="$(printf '%s\n' "$syms" | grep -v '^lro_' | grep -v '^LRO_1$' || true)"
[ -z "$bad" ] || fail "liblro exports symbols without the lro_ prefix: $(echo $bad)"
tst="$(printf '%s\n' "$syms" | grep -e '^lro_test_' -e '^lro_testing_' || true)"
[ -z "$tst" ] || fail "liblro exports the test server's API: $(echo $tst | head -c 300)"
n="$(printf '%s\n' "$syms" | grep -c '^lro_')"
# The public API is far bigger than this: an empty export list must fail.
[ "$n" -ge 60 ] || fail "only $n lro_ symbols exported by liblro"
client_hdrs=()
for h in lib/include/lro/*.h; do
  [ "$(basename "$h")" = testing.h ] || client_hdrs+=("$h")
done
missing=0
for f in $(declared "${client_hdrs[@]}"); do
  grep -qx "$f" <<<"$syms" || { echo "missing export in liblro: $f"; missing=1; }
done
[ "$missing" -eq 0 ] || fail "declared in the client headers but not exported by liblro"

# ---- liblro_testing.so.1 ---------------------------------------------------------
[ "$(soname "$tlib")" = liblro_testing.so.1 ] || fail "SONAME of liblro_testing is '$(soname "$tlib")'"
objdump -p "$tlib" | grep -cE 'NEEDED +liblro\.so\.1$' >/dev/null || fail "liblro_testing does not NEED liblro.so.1"
tsyms="$(exports "$tlib")"
bad="$(printf '%s\n' "$tsyms" | grep -v -e '^lro_test_' -e '^lro_testing_' -e '^LRO_TESTING_1$' || true)"
[ -z "$bad" ] || fail "liblro_testing exports more than lro_test_*: $(echo $bad | head -c 300)"
nt="$(printf '%s\n' "$tsyms" | grep -c '^lro_test')"
[ "$nt" -ge 20 ] || fail "only $nt lro_test_ symbols exported by liblro_testing"
for f in $(declared lib/include/lro/testing.h); do
  grep -qx "$f" <<<"$tsyms" || { echo "missing export in liblro_testing: $f"; missing=1; }
done
[ "$missing" -eq 0 ] || fail "declared in testing.h but not exported by liblro_testing"
# Not a second client: no client code in it, even as local symbols (the
# symbol table is kept; -Wl,-S strips debug info only).
if nm "$tlib" | awk '{print $NF}' | grep -cE '^lro_(client_create|get|future_unref|pager_create)$' >/dev/null; then
  fail "liblro_testing contains client code"
fi
echo "OK: liblro.so.1 exports $n lro_ symbols and no lro_test_; liblro_testing.so.1 exports $nt lro_test_ symbols only"
