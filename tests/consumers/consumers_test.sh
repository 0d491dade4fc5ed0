#!/usr/bin/env bash
# A program outside the Bazel graph links the INSTALLED lro-c:
#  1. tools/install.sh installs //tools/dist:dist (the tarball the real
#     install uses) into a temporary prefix; the installed files are checked
#     (headers, links, SONAMEs, the static archives' symbols, the .pc files:
#     `pkg-config --cflags lro` is only the include directory, no grpc
#     -DNOMINMAX);
#  2. tests/consumers/consumer.c (the client only, plus lro_pb.h's typed
#     structs), copied to a temporary directory, is built with
#     `cc $(pkg-config --cflags --libs lro)`, with CMake's pkg_check_modules,
#     and statically (pkg-config --static, liblro.a); it must not need
#     liblro_testing, and a program calling lro_test_* must NOT link against
#     lro alone;
#  3. consumer_testing.c (the embedded server in-process + the client) is
#     built with pkg-config lro-testing, with CMake, and fully statically
#     (liblro_testing.a + liblro.a in one program);
#  4. each build runs (consumer against `lroctl serve`) and must get the
#     right answers;
#  5. tools/install.sh --uninstall leaves the prefix as it found it.
set -euo pipefail
top="$PWD"
dist="$top/tools/dist/lro-dist.tar"
lroctl="$top/tools/lroctl/lroctl"
tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/consumers.XXXXXX")"
srv_pid=""
cleanup() {
  if [ -n "$srv_pid" ]; then kill -TERM "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix="$tmp/prefix"
mkdir -p "$prefix/keep" # something of the user's: uninstall must leave it
bash "$top/tools/install.sh" --dist "$dist" --prefix "$prefix"

# ---- what was installed ------------------------------------------------------
lib="$prefix/lib"
[ -f "$lib/liblro.so.1.0.0" ] && [ ! -L "$lib/liblro.so.1.0.0" ] || fail "no liblro.so.1.0.0"
[ "$(readlink "$lib/liblro.so.1")" = liblro.so.1.0.0 ] || fail "liblro.so.1 link"
[ "$(readlink "$lib/liblro.so")" = liblro.so.1 ] || fail "liblro.so link"
soname="$(objdump -p "$lib/liblro.so.1.0.0" | awk '$1 == "SONAME" {print $2}')"
[ "$soname" = liblro.so.1 ] || fail "SONAME is '$soname'"
[ -f "$lib/liblro_testing.so.1.0.0" ] && [ ! -L "$lib/liblro_testing.so.1.0.0" ] || fail "no liblro_testing.so.1.0.0"
[ "$(readlink "$lib/liblro_testing.so.1")" = liblro_testing.so.1.0.0 ] || fail "liblro_testing.so.1 link"
[ "$(readlink "$lib/liblro_testing.so")" = liblro_testing.so.1 ] || fail "liblro_testing.so link"
tsoname="$(objdump -p "$lib/liblro_testing.so.1.0.0" | awk '$1 == "SONAME" {print $2}')"
[ "$tsoname" = liblro_testing.so.1 ] || fail "liblro_testing SONAME is '$tsoname'"
[ -z "$(nm -D --defined-only "$lib/liblro.so.1.0.0" | grep ' lro_test_' || true)" ] ||
  fail "liblro.so exports lro_test_ symbols"
want_headers="client.h common.h credentials.h events.h future.h json.h longrunning.h lro.h lro_pb.h registry.h testing.h"
have_headers="$(cd "$prefix/include/lro" && find . -maxdepth 1 -name '*.h' | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ')"
[ "$have_headers" = "$want_headers " ] || fail "installed headers: $have_headers"
# Every adapter header of the SOURCE tree (runfiles link into it) is
# installed under include/lro/adapters/ and compiles on its own from there.
srcroot="$(dirname "$(dirname "$(dirname "$(readlink -f "$top/tests/consumers/consumer.c")")")")"
for d in lib/adapters lib/include/lro/adapters; do
  [ -d "$srcroot/$d" ] || continue
  while IFS= read -r h; do
    rel="${h##*/adapters/}"
    inst="$prefix/include/lro/adapters/$rel"
    [ -f "$inst" ] || fail "adapter header $d/.../$rel not installed (see ADAPTERS in tools/dist/BUILD.bazel)"
    # (compiler defaults: uv.h, for one, needs POSIX types strict C11 hides)
    echo "#include <lro/adapters/$rel>" | cc -fsyntax-only -x c - -I"$prefix/include" ||
      fail "installed lro/adapters/$rel does not compile"
  done < <(find "$srcroot/$d" -name '*.h')
done
# lro_pb.h and the generated headers it needs, under lro/pb/, compile with
# nothing but the prefix's include directory (C11: anonymous unions).
for h in google/longrunning/operations.pb-c.h google/rpc/status.pb-c.h google/protobuf/any.pb-c.h; do
  [ -f "$prefix/include/lro/pb/$h" ] || fail "lro/pb/$h not installed"
done
! grep -rn '^#include "google/' "$prefix/include" || fail "an installed header includes \"google/...\""
echo '#include <lro/lro_pb.h>' | cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -x c - -I"$prefix/include" ||
  fail "installed lro/lro_pb.h does not compile"
bad="$(nm -g --defined-only "$lib/liblro.a" | awk 'NF == 3 {print $3}' |
  grep -v -e '^lro_' -e '^__odr_asan' -e '^__asan_' -e '^__ubsan_' || true)"
[ -z "$bad" ] || fail "liblro.a defines non-lro_ globals: $(echo $bad | head -c 300)"
n_static="$(nm -g --defined-only "$lib/liblro.a" | grep -c ' T lro_' || true)"
[ "$n_static" -ge 60 ] || fail "liblro.a defines only $n_static lro_ functions"
[ -z "$(nm -g --defined-only "$lib/liblro.a" | grep ' lro_test_' || true)" ] ||
  fail "liblro.a defines lro_test_ symbols"
bad="$(nm -g --defined-only "$lib/liblro_testing.a" | awk 'NF == 3 {print $3}' | grep -v '^lro_test_' || true)"
[ -z "$bad" ] || fail "liblro_testing.a defines non-lro_test_ globals: $(echo $bad | head -c 300)"
n_tstatic="$(nm -g --defined-only "$lib/liblro_testing.a" | grep -c ' T lro_test_' || true)"
[ "$n_tstatic" -ge 20 ] || fail "liblro_testing.a defines only $n_tstatic lro_test_ functions"
grep -qx "prefix=$prefix" "$lib/pkgconfig/lro.pc" || fail "lro.pc prefix"
grep -qx "prefix=$prefix" "$lib/pkgconfig/lro-testing.pc" || fail "lro-testing.pc prefix"

export PKG_CONFIG_PATH="$lib/pkgconfig"
[ "$(pkg-config --modversion lro)" = 1.0.0 ] || fail "pkg-config --modversion lro"
[ "$(pkg-config --modversion lro-testing)" = 1.0.0 ] || fail "pkg-config --modversion lro-testing"
# The public headers need no macro and no other include directory: --cflags
# is the prefix's include directory, and nothing of grpc's (-DNOMINMAX).
for m in lro lro-testing; do
  cflags="$(pkg-config --cflags "$m")"
  case " $cflags " in *NOMINMAX*) fail "pkg-config --cflags $m leaks grpc's -DNOMINMAX: $cflags" ;; esac
  [ "$(echo $cflags)" = "-I$prefix/include" ] || fail "pkg-config --cflags $m is '$cflags'"
done
pkg-config --print-requires lro-testing | grep -qx 'lro = 1.0.0' || fail "lro-testing does not require lro = 1.0.0"
for l in -llro -lgrpc -lgpr -lprotobuf-c; do
  pkg-config --static --libs lro | tr ' ' '\n' | grep -qx -- "$l" || fail "pkg-config --static --libs lro lacks $l"
done
pkg-config --libs lro-testing | tr ' ' '\n' | grep -qx -- -llro || fail "pkg-config --libs lro-testing lacks -llro"

# A sanitizer build of lro-c (--config=asan) needs the program instrumented
# too (the runtime must come first); otherwise the builds are plain.
san=()
if objdump -p "$lib/liblro.so.1.0.0" | grep -c 'NEEDED.*libasan' >/dev/null; then
  san=(-fsanitize=address,undefined)
fi

# ---- the embedded server -------------------------------------------------------
"$lroctl" serve --seed 20 >"$tmp/serve.out" 2>"$tmp/serve.err" &
srv_pid=$!
target=""
# Up to 60 s (1200 x 50 ms): a hang guard only; lroctl serve under asan on a
# loaded machine can take seconds to print its address.
for _ in $(seq 1 1200); do
  target="$(head -n1 "$tmp/serve.out" 2>/dev/null || true)"
  [ -n "$target" ] && break
  kill -0 "$srv_pid" 2>/dev/null || fail "lroctl serve died: $(cat "$tmp/serve.err")"
  sleep 0.05
done
[ -n "$target" ] || fail "lroctl serve printed no address"

# The consumer sources, outside the Bazel graph.
src="$tmp/src"
mkdir -p "$src"
cp "$top/tests/consumers/consumer.c" "$top/tests/consumers/consumer_testing.c" \
  "$top/tests/consumers/CMakeLists.txt" "$src/"

# (awk reads all of objdump's output: `grep -q` would stop early, objdump
# would die of SIGPIPE, and pipefail would turn a match into a failure.)
needs() { objdump -p "$1" | awk -v l="$2" '$1 == "NEEDED" && $2 == l {f = 1} END {exit !f}'; }
needs_liblro() { needs "$1" liblro.so.1; }
needs_testing() { needs "$1" liblro_testing.so.1; }

# ---- 1. plain cc + pkg-config (shared) ----------------------------------------------
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/consumer_cc" "$src/consumer.c" \
  $(pkg-config --cflags --libs lro)
needs_liblro "$tmp/consumer_cc" || fail "cc build does not link liblro.so.1"
! needs_testing "$tmp/consumer_cc" || fail "a program using lro only needs liblro_testing"
LD_LIBRARY_PATH="$lib" "$tmp/consumer_cc" "$target" || fail "cc build: consumer failed"

# ---- 2. CMake, pkg_check_modules --------------------------------------------------
cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="${san[*]:-}" -DCMAKE_EXE_LINKER_FLAGS="${san[*]:-}" >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; fail "cmake configure"; }
cmake --build "$tmp/build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake build"; }
needs_liblro "$tmp/build/consumer" || fail "CMake build does not link liblro.so.1"
! needs_testing "$tmp/build/consumer" || fail "CMake: a program using lro only needs liblro_testing"
# CMake puts the prefix's lib/ in the build RPATH: no LD_LIBRARY_PATH needed.
"$tmp/build/consumer" "$target" || fail "CMake build: consumer failed"
needs_testing "$tmp/build/consumer_testing" && needs_liblro "$tmp/build/consumer_testing" ||
  fail "CMake build of consumer_testing does not link liblro_testing.so.1 and liblro.so.1"
"$tmp/build/consumer_testing" || fail "CMake build: consumer_testing failed"

# ---- 3. static: liblro.a + pkg-config --static -------------------------------
static_libs="$(pkg-config --static --libs lro)"
static_libs="${static_libs/-llro/-l:liblro.a}"
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/consumer_static" "$src/consumer.c" \
  $(pkg-config --cflags lro) $static_libs
! needs_liblro "$tmp/consumer_static" || fail "static build still needs liblro.so.1"
"$tmp/consumer_static" "$target" || fail "static build: consumer failed"

# ---- 4. the embedded server: pkg-config lro-testing, shared and static ----------
# (consumer_testing calls protobuf-c itself: it links libprotobuf-c itself.)
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/testing_cc" "$src/consumer_testing.c" \
  $(pkg-config --cflags --libs lro-testing libprotobuf-c)
needs_testing "$tmp/testing_cc" && needs_liblro "$tmp/testing_cc" ||
  fail "lro-testing build does not link liblro_testing.so.1 and liblro.so.1"
LD_LIBRARY_PATH="$lib" "$tmp/testing_cc" || fail "lro-testing build: consumer_testing failed"
# The ABI probe of tests/abi (struct tails, sizes, every struct_size accepted
# or refused as documented) against the INSTALLED headers and libraries, as
# C11 and as C99 -pedantic: what a binding author compiles against.
cp "$top/tests/abi/probe.c" "$top/tests/common/check.h" "$src/"
for std in c11 c99; do
  cc -std=$std -pedantic -Wall -Wextra -Werror -D_GNU_SOURCE "${san[@]}" -o "$tmp/probe_$std" \
    "$src/probe.c" -I"$src" $(pkg-config --cflags --libs lro-testing) ||
    fail "the ABI probe does not build against the installed headers ($std)"
  LD_LIBRARY_PATH="$lib" "$tmp/probe_$std" >"$tmp/probe_$std.log" 2>&1 ||
    { cat "$tmp/probe_$std.log"; fail "the ABI probe failed against the installed library ($std)"; }
done
# liblro_testing.so finds its liblro.so beside it (RUNPATH \$ORIGIN): a
# program with an rpath to the prefix only needs no LD_LIBRARY_PATH.
cc -std=c11 "${san[@]}" -o "$tmp/testing_rpath" "$src/consumer_testing.c" \
  $(pkg-config --cflags --libs lro-testing libprotobuf-c) -Wl,-rpath,"$lib"
"$tmp/testing_rpath" >/dev/null || fail "rpath build: consumer_testing failed"
# Both archives in one program: their private internals must not collide.
tstatic_libs="$(pkg-config --static --libs lro-testing)"
tstatic_libs="${tstatic_libs/-llro_testing/-l:liblro_testing.a}"
tstatic_libs="${tstatic_libs/-llro /-l:liblro.a }"
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/testing_static" "$src/consumer_testing.c" \
  $(pkg-config --cflags lro-testing) $tstatic_libs 2>"$tmp/static.err" ||
  { cat "$tmp/static.err" >&2; fail "static build of liblro_testing.a + liblro.a"; }
! needs_liblro "$tmp/testing_static" && ! needs_testing "$tmp/testing_static" ||
  fail "static consumer_testing still needs a shared lro-c library"
"$tmp/testing_static" || fail "static build: consumer_testing failed"

# ---- 5. the split holds: lro alone does not provide the server --------------------
printf '#include <lro/testing.h>\nint main(void){lro_test_server *s; return lro_test_server_start(NULL, &s);}\n' \
  >"$src/probe.c"
if cc -std=c11 -o "$tmp/probe" "$src/probe.c" $(pkg-config --cflags --libs lro) 2>/dev/null; then
  fail "lro_test_server_start links against lro alone (shared)"
fi
if cc -std=c11 -o "$tmp/probe" "$src/probe.c" $(pkg-config --cflags lro) $static_libs 2>/dev/null; then
  fail "lro_test_server_start links against lro alone (static)"
fi

kill -TERM "$srv_pid"
wait "$srv_pid" || fail "lroctl serve exited with $?"
srv_pid=""

# ---- uninstall ------------------------------------------------------------------
bash "$top/tools/install.sh" --uninstall --prefix "$prefix"
left="$(cd "$prefix" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')"
[ "$left" = "./keep " ] || fail "uninstall left: $left"
echo "OK: installed lro + lro-testing, built with cc/pkg-config, CMake and statically, ran, uninstalled"
