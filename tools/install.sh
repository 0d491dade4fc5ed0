#!/usr/bin/env bash
# Installs lro-c for programs built outside this repository:
#   PREFIX/lib/liblro.so.X.Y.Z, liblro.so.X (the SONAME), liblro.so
#   PREFIX/lib/liblro.a                 (static; defines lro_* only)
#   PREFIX/lib/liblro_testing.so.X.Y.Z, .so.X, .so   (the embedded server)
#   PREFIX/lib/liblro_testing.a         (static; defines lro_test_* only)
#   PREFIX/include/lro/*.h              (public headers; adapters/ if any)
#   PREFIX/include/lro/pb/google/...    (generated headers lro_pb.h needs)
#   PREFIX/lib/pkgconfig/lro.pc, lro-testing.pc
#   PREFIX/share/lro/install_manifest.txt  (what --uninstall removes)
#
# Usage: tools/install.sh [--prefix DIR] [--uninstall] [--dist TARBALL]
#                         [--python-wheel DIR] [--python-venv VENV]
#   --prefix DIR   where to install (default /usr/local)
#   --uninstall    remove exactly what the last install into DIR put there
#                  (files, links, and the directories it created, if empty)
#   --dist TAR     install this tarball of //tools/dist:dist instead of
#                  building it (bazel build -c opt //tools/dist:dist)
#   --python-wheel DIR  also build the Python package (bindings/python) as a
#                  wheel into DIR, carrying the libraries just installed
#                  (offline: Debian's python3-setuptools and python3-wheel)
#   --python-venv VENV  also install that wheel into the venv VENV (created
#                  with --system-site-packages when it does not exist)
# Installing over an earlier install first removes what that one installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix=/usr/local
uninstall=0
dist=""
wheel_dir=""
venv=""
usage() { sed -n '2,24s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --uninstall) uninstall=1; shift ;;
    --dist) [ $# -ge 2 ] || { usage >&2; exit 2; }; dist="$2"; shift 2 ;;
    --python-wheel) [ $# -ge 2 ] || { usage >&2; exit 2; }; wheel_dir="$2"; shift 2 ;;
    --python-venv) [ $# -ge 2 ] || { usage >&2; exit 2; }; venv="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$prefix" in
  /*) ;;
  *) prefix="$(pwd)/$prefix" ;;
esac
prefix="${prefix%/}"
[ -n "$prefix" ] || { echo "install.sh: refusing to install into /" >&2; exit 2; }
manifest="$prefix/share/lro/install_manifest.txt"

# Manifest lines: "f PATH" (file or link) and "d PATH" (a directory this
# install created), in creation order.
do_uninstall() {
  [ -f "$manifest" ] || { echo "install.sh: nothing installed in $prefix (no $manifest)" >&2; return 1; }
  local kind path dirs=()
  while read -r kind path; do
    case "$kind" in
      f) rm -f -- "$path" ;;
      d) dirs+=("$path") ;;
    esac
  done <"$manifest"
  rm -f -- "$manifest"
  # Deepest first; a directory that holds anything else stays.
  local i
  for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
    rmdir -- "${dirs[$i]}" 2>/dev/null || true
  done
  echo "install.sh: uninstalled lro-c from $prefix"
}

if [ "$uninstall" -eq 1 ]; then
  do_uninstall
  exit $?
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ -z "$dist" ]; then
  (cd "$here/.." && bazel build -c opt //tools/dist:dist >&2)
  dist="$(cd "$here/.." && bazel info -c opt bazel-bin 2>/dev/null)/tools/dist/lro-dist.tar"
fi
[ -f "$dist" ] || { echo "install.sh: no such tarball: $dist" >&2; exit 1; }
tar -C "$tmp" -xf "$dist"
for pc in lro.pc lro-testing.pc; do
  [ -f "$tmp/lib/pkgconfig/$pc" ] || { echo "install.sh: $dist is not an lro-c dist (no $pc)" >&2; exit 1; }
done
# The .pc files' prefix: sed-safe.
esc="$(printf '%s' "$prefix" | sed -e 's/[\\&|]/\\&/g')"
sed -i -e "s|@PREFIX@|$esc|" "$tmp/lib/pkgconfig/lro.pc" "$tmp/lib/pkgconfig/lro-testing.pc"

if [ -f "$manifest" ]; then
  do_uninstall >/dev/null
fi

# The manifest is written as we go, so that an install that fails half-way
# (no permission, disk full) can still be uninstalled.
created=()
mkdir_p() { # creates $1 and its missing parents, recording each one
  local d="$1" missing=()
  while [ ! -d "$d" ]; do
    missing+=("$d")
    d="$(dirname "$d")"
  done
  local i
  for ((i = ${#missing[@]} - 1; i >= 0; i--)); do
    mkdir -- "${missing[$i]}"
    if [ -f "$manifest" ]; then
      echo "d ${missing[$i]}" >>"$manifest"
    else
      created+=("d ${missing[$i]}")
    fi
  done
}
mkdir_p "$prefix/share/lro"
printf '%s\n' "${created[@]}" "f $manifest" >"$manifest"
# Directories first (sorted, so parents come first), then files and links.
while IFS= read -r rel; do
  mkdir_p "$prefix/$rel"
done < <(cd "$tmp" && find lib include -type d | LC_ALL=C sort)
while IFS= read -r rel; do
  dst="$prefix/$rel"
  echo "f $dst" >>"$manifest"
  if [ -L "$tmp/$rel" ]; then
    ln -sfn -- "$(readlink "$tmp/$rel")" "$dst"
  else
    rm -f -- "$dst" # never write through a link or into a running library
    cp -- "$tmp/$rel" "$dst"
    chmod "$([ -x "$tmp/$rel" ] && echo 755 || echo 644)" "$dst"
  fi
done < <(cd "$tmp" && find lib include \( -type f -o -type l \) | LC_ALL=C sort)

# The system prefixes are in ld.so's search path only through its cache.
if [ "$(id -u)" -eq 0 ] && { [ "$prefix" = /usr/local ] || [ "$prefix" = /usr ]; }; then
  ldconfig 2>/dev/null || true
fi
n="$(grep -c '^f ' "$manifest")"
echo "install.sh: installed lro-c into $prefix ($n files and links; manifest $manifest)"

# The Python package, built from the libraries just installed.
if [ -n "$venv" ] && [ -z "$wheel_dir" ]; then
  wheel_dir="$tmp/wheel"
fi
if [ -n "$wheel_dir" ]; then
  mkdir -p "$wheel_dir"
  cp -r "$here/../bindings/python" "$tmp/pypkg"
  rm -rf "$tmp/pypkg/build" "$tmp/pypkg"/*.egg-info
  LRO_WHEEL_LIBRARY="$prefix/lib/liblro.so.1" \
    LRO_WHEEL_TESTING_LIBRARY="$prefix/lib/liblro_testing.so.1" \
    PIP_NO_INDEX=1 /usr/bin/python3 -m pip wheel -q --no-build-isolation --no-deps \
    "$tmp/pypkg" -w "$wheel_dir" >&2
  whl="$(ls -t "$wheel_dir"/lro-*.whl | head -1)"
  echo "install.sh: built $whl"
  if [ -n "$venv" ]; then
    [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
    PIP_NO_INDEX=1 "$venv/bin/python" -m pip install -q --no-deps --force-reinstall "$whl" >&2
    echo "install.sh: installed the lro Python package into $venv"
  fi
fi
