#!/usr/bin/env bash
# Builds lro-c's install tree and packs it as a tarball (prefix-independent).
#   mkdist.sh OUT.tar LIBLRO_SO LRO_PC_IN --archives A.a... --headers H.h...
#     --pb-headers G.pb-c.h... --testing-so LIBLRO_TESTING_SO
#     --testing-pc LRO_TESTING_PC_IN --testing-archives T.a...
#     --testing-dep-archives D.a...
# Used by //tools/dist:dist; tools/install.sh and tests/consumers install the
# result. Fails when a shared library's SONAME is not lib<name>.so.<major of
# LRO_VERSION_STRING>, when liblro.a would define a global symbol without
# the lro_ prefix (or any lro_test_ one), or when liblro_testing.a would
# define anything but lro_test_*.
set -euo pipefail
out="$1" so="$2" pcin="$3"
shift 3
archives=() headers=() pbheaders=() tarchives=() tdeps=() mode="" tso="" tpcin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --archives) mode=a ;;
    --headers) mode=h ;;
    --pb-headers) mode=pb ;;
    --testing-archives) mode=ta ;;
    --testing-dep-archives) mode=td ;;
    --testing-so) tso="$2"; shift ;;
    --testing-pc) tpcin="$2"; shift ;;
    *)
      case "$mode" in
        a) archives+=("$1") ;;
        h) headers+=("$1") ;;
        pb) pbheaders+=("$1") ;;
        ta) tarchives+=("$1") ;;
        td) tdeps+=("$1") ;;
        *) echo "mkdist: unexpected argument $1" >&2; exit 2 ;;
      esac ;;
  esac
  shift
done
[ -n "$tso" ] && [ -n "$tpcin" ] && [ ${#tarchives[@]} -gt 0 ] ||
  { echo "mkdist: --testing-so, --testing-pc and --testing-archives are required" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"
mkdir -p "$root/lib/pkgconfig" "$root/include/lro"

# Headers: lib/include/lro/X.h -> include/lro/X.h; the event-loop adapters
# (lib/adapters/... or lib/include/lro/adapters/...) -> include/lro/adapters/.
common=""
for h in "${headers[@]}"; do
  case "$h" in
    */include/lro/*) rel="lro/${h##*/include/lro/}" ;;
    */adapters/*) rel="lro/adapters/${h##*/adapters/}" ;;
    *) echo "mkdist: do not know where header $h goes" >&2; exit 1 ;;
  esac
  mkdir -p "$root/include/$(dirname "$rel")"
  cp "$h" "$root/include/$rel"
  [ "$rel" = lro/common.h ] && common="$h"
done
[ -n "$common" ] || { echo "mkdist: lro/common.h missing from the headers" >&2; exit 1; }

# lro_pb.h and the generated protobuf-c headers it needs (its #include
# "google/..." closure) -> include/lro/pb/google/...: every such include is
# rewritten to "lro/pb/google/...", so the installed headers need no -I of
# their own and cannot pick up (or shadow) another copy of google/*.pb-c.h
# on the user's include path.
pb_rewrite() { sed -e 's|^#include "google/|#include "lro/pb/google/|' "$1" >"$2"; }
pb_includes() { sed -n 's|^#include "\(google/[^"]*\)"$|\1|p' "$1"; }
[ -f "$root/include/lro/lro_pb.h" ] || { echo "mkdist: lro/lro_pb.h missing from the headers" >&2; exit 1; }
todo=($(pb_includes "$root/include/lro/lro_pb.h"))
pb_rewrite "$root/include/lro/lro_pb.h" "$tmp/lro_pb.h"
mv "$tmp/lro_pb.h" "$root/include/lro/lro_pb.h"
declare -A done_pb=()
while [ ${#todo[@]} -gt 0 ]; do
  inc="${todo[0]}"
  todo=("${todo[@]:1}")
  [ -z "${done_pb[$inc]:-}" ] || continue
  done_pb[$inc]=1
  src=""
  for g in "${pbheaders[@]}"; do
    case "$g" in */"$inc") src="$g"; break ;; esac
  done
  [ -n "$src" ] || { echo "mkdist: lro_pb.h needs $inc, not among --pb-headers" >&2; exit 1; }
  mkdir -p "$root/include/lro/pb/$(dirname "$inc")"
  pb_rewrite "$src" "$root/include/lro/pb/$inc"
  todo+=($(pb_includes "$src"))
done
if grep -rn '^#include "google/' "$root/include" >&2; then
  echo "mkdist: an installed header still includes \"google/...\"" >&2
  exit 1
fi
version="$(sed -n 's/^#define LRO_VERSION_STRING "\(.*\)"$/\1/p' "$common")"
major="${version%%.*}"
[ -n "$version" ] || { echo "mkdist: no LRO_VERSION_STRING in $common" >&2; exit 1; }

# Shared library: real file liblro.so.X.Y.Z, links liblro.so.X (the SONAME)
# and liblro.so (what -llro finds).
soname="$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')"
[ "$soname" = "liblro.so.$major" ] || {
  echo "mkdist: SONAME of $so is '$soname', expected liblro.so.$major" >&2
  exit 1
}
cp "$so" "$root/lib/liblro.so.$version"
chmod 755 "$root/lib/liblro.so.$version"
ln -s "liblro.so.$version" "$root/lib/liblro.so.$major"
ln -s "liblro.so.$major" "$root/lib/liblro.so"

# Static library: every object of lro-c's archives linked into one
# relocatable object, internal (hidden) symbols made local, so the archive
# defines lro_* and nothing else, exactly like the shared library exports.
ld -r -o "$tmp/lro.o" --whole-archive "${archives[@]}" --no-whole-archive
objcopy --localize-hidden "$tmp/lro.o"
bad="$(nm -g --defined-only "$tmp/lro.o" | awk '{print $3}' |
  grep -v -e '^lro_' -e '^__odr_asan' -e '^__asan_' -e '^__ubsan_' || true)"
if [ -n "$bad" ]; then
  echo "mkdist: liblro.a would define non-lro_ globals:" >&2
  printf '%s\n' "$bad" | head -20 >&2
  exit 1
fi
(cd "$tmp" && ar rcsD "$root/lib/liblro.a" lro.o)

sed -e "s/@VERSION@/$version/" "$pcin" >"$root/lib/pkgconfig/lro.pc"

# ---- liblro_testing: the embedded server, a library of its own ----------------
tsoname="$(objdump -p "$tso" | awk '$1 == "SONAME" {print $2}')"
[ "$tsoname" = "liblro_testing.so.$major" ] || {
  echo "mkdist: SONAME of $tso is '$tsoname', expected liblro_testing.so.$major" >&2
  exit 1
}
objdump -p "$tso" | grep -cE "NEEDED +liblro\.so\.$major\$" >/dev/null ||
  { echo "mkdist: $tso does not need liblro.so.$major" >&2; exit 1; }
cp "$tso" "$root/lib/liblro_testing.so.$version"
chmod 755 "$root/lib/liblro_testing.so.$version"
ln -s "liblro_testing.so.$version" "$root/lib/liblro_testing.so.$major"
ln -s "liblro_testing.so.$major" "$root/lib/liblro_testing.so"

# Static: the server's objects whole, plus only the members of its
# dependencies' archives (//lib:base, //gen:pb) they need, in one relocatable
# object; then every global but lro_test_* made local. That private copy of
# lro-c's internals is what lets a program link liblro_testing.a beside
# liblro.a: neither defines a symbol the other does (liblro.a's internals are
# local too), so there is no duplicate definition and no silent sharing.
ld -r -o "$tmp/lro_testing.o" --whole-archive "${tarchives[@]}" --no-whole-archive "${tdeps[@]}"
objcopy --wildcard --keep-global-symbol='lro_test_*' "$tmp/lro_testing.o"
bad="$(nm -g --defined-only "$tmp/lro_testing.o" | awk '{print $3}' | grep -v '^lro_test_' || true)"
if [ -n "$bad" ]; then
  echo "mkdist: liblro_testing.a would define globals other than lro_test_*:" >&2
  printf '%s\n' "$bad" | head -20 >&2
  exit 1
fi
if nm -g --defined-only "$tmp/lro.o" | awk '{print $3}' | grep -c '^lro_test_' >/dev/null; then
  echo "mkdist: liblro.a would define lro_test_* (the server belongs to liblro_testing)" >&2
  exit 1
fi
(cd "$tmp" && ar rcsD "$root/lib/liblro_testing.a" lro_testing.o)
sed -e "s/@VERSION@/$version/g" "$tpcin" >"$root/lib/pkgconfig/lro-testing.pc"

# Deterministic tarball: fixed owner, mode and time, sorted names.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
  -C "$root" -cf "$out" lib include
