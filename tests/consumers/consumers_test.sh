#!/usr/bin/env bash
# A program outside the Bazel graph links the INSTALLED lro-c:
#  1. tools/install.sh installs //tools/dist:dist (the tarball the real
#     install uses) into a temporary prefix; the installed files are checked
#     (headers, links, SONAME, the static archive's symbols);
#  2. tests/consumers/consumer.c, copied to a temporary directory, is built
#     with `cc $(pkg-config --cflags --libs lro)`, with CMake's
#     pkg_check_modules, and statically (pkg-config --static, liblro.a);
#  3. each build runs against `lroctl serve` and must get the right answers;
#  4. tools/install.sh --uninstall leaves the prefix as it found it.
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
want_headers="client.h common.h future.h json.h longrunning.h lro.h testing.h"
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
[ ! -e "$prefix/include/lro/lro_pb.h" ] || fail "lro_pb.h installed"
bad="$(nm -g --defined-only "$lib/liblro.a" | awk 'NF == 3 {print $3}' |
  grep -v -e '^lro_' -e '^__odr_asan' -e '^__asan_' -e '^__ubsan_' || true)"
[ -z "$bad" ] || fail "liblro.a defines non-lro_ globals: $(echo $bad | head -c 300)"
n_static="$(nm -g --defined-only "$lib/liblro.a" | grep -c ' T lro_' || true)"
[ "$n_static" -ge 60 ] || fail "liblro.a defines only $n_static lro_ functions"
grep -qx "prefix=$prefix" "$lib/pkgconfig/lro.pc" || fail "lro.pc prefix"

export PKG_CONFIG_PATH="$lib/pkgconfig"
[ "$(pkg-config --modversion lro)" = 1.0.0 ] || fail "pkg-config --modversion lro"

# A sanitizer build of lro-c (--config=asan) needs the program instrumented
# too (the runtime must come first); otherwise the builds are plain.
san=()
if objdump -p "$lib/liblro.so.1.0.0" | grep -q 'NEEDED.*libasan'; then
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
cp "$top/tests/consumers/consumer.c" "$top/tests/consumers/CMakeLists.txt" "$src/"

needs_liblro() { objdump -p "$1" | grep -q 'NEEDED *liblro\.so\.1$'; }

# ---- 1. plain cc + pkg-config (shared) ----------------------------------------------
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/consumer_cc" "$src/consumer.c" \
  $(pkg-config --cflags --libs lro)
needs_liblro "$tmp/consumer_cc" || fail "cc build does not link liblro.so.1"
LD_LIBRARY_PATH="$lib" "$tmp/consumer_cc" "$target" || fail "cc build: consumer failed"

# ---- 2. CMake, pkg_check_modules --------------------------------------------------
cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="${san[*]:-}" -DCMAKE_EXE_LINKER_FLAGS="${san[*]:-}" >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; fail "cmake configure"; }
cmake --build "$tmp/build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake build"; }
needs_liblro "$tmp/build/consumer" || fail "CMake build does not link liblro.so.1"
# CMake puts the prefix's lib/ in the build RPATH: no LD_LIBRARY_PATH needed.
"$tmp/build/consumer" "$target" || fail "CMake build: consumer failed"

# ---- 3. static: liblro.a + pkg-config --static -------------------------------
static_libs="$(pkg-config --static --libs lro)"
static_libs="${static_libs/-llro/-l:liblro.a}"
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/consumer_static" "$src/consumer.c" \
  $(pkg-config --cflags lro) $static_libs
! needs_liblro "$tmp/consumer_static" || fail "static build still needs liblro.so.1"
"$tmp/consumer_static" "$target" || fail "static build: consumer failed"

kill -TERM "$srv_pid"
wait "$srv_pid" || fail "lroctl serve exited with $?"
srv_pid=""

# ---- uninstall ------------------------------------------------------------------
bash "$top/tools/install.sh" --uninstall --prefix "$prefix"
left="$(cd "$prefix" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')"
[ "$left" = "./keep " ] || fail "uninstall left: $left"
echo "OK: installed, built with cc/pkg-config, CMake and statically, ran, uninstalled"
