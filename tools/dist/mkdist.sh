#!/usr/bin/env bash
# Builds lro-c's install tree and packs it as a tarball (prefix-independent).
#   mkdist.sh OUT.tar LIBLRO_SO LRO_PC_IN --archives A.a... --headers H.h...
# Used by //tools/dist:dist; tools/install.sh and tests/consumers install the
# result. Fails when the shared library's SONAME is not liblro.so.<major of
# LRO_VERSION_STRING>, or when the merged static archive would define a
# global symbol without the lro_ prefix.
set -euo pipefail
out="$1" so="$2" pcin="$3"
shift 3
archives=() headers=() mode=""
for a in "$@"; do
  case "$a" in
    --archives) mode=a ;;
    --headers) mode=h ;;
    *) if [ "$mode" = a ]; then archives+=("$a"); else headers+=("$a"); fi ;;
  esac
done

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
  case "$rel" in
    lro/lro_pb.h) echo "mkdist: lro_pb.h needs generated headers; not installed" >&2; exit 1 ;;
  esac
  mkdir -p "$root/include/$(dirname "$rel")"
  cp "$h" "$root/include/$rel"
  [ "$rel" = lro/common.h ] && common="$h"
done
[ -n "$common" ] || { echo "mkdist: lro/common.h missing from the headers" >&2; exit 1; }
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

# Deterministic tarball: fixed owner, mode and time, sorted names.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
  -C "$root" -cf "$out" lib include
