#!/usr/bin/env bash
# Builds mediasoup's C++ worker from node_modules/mediasoup/worker against Debian's libraries, once per
# (mediasoup version, shims, this script), and caches the binary outside the checkout.
#
# mediasoup's worker/meson.build pulls openssl, libuv, libsrtp2, usrsctp, abseil, nlohmann_json and catch2 as meson
# subprojects that it would download. Each directory under scripts/mediasoup-shims/ is a few-line meson project that
# declares the same variables from Debian's -dev packages; placed under worker/subprojects/ with the name the wrap
# file expects, meson uses it and never downloads (--wrap-mode=nodownload makes sure).
#
# Output: the cached binary path on the last line of stdout. mediasoup is pointed at it in two ways: a symlink at the
# path mediasoup looks at by default (node_modules/mediasoup/worker/out/Release/mediasoup-worker), and
# MEDIASOUP_WORKER_BIN for anyone who prefers the environment.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mediasoup_dir="$root/node_modules/mediasoup"
shims="$root/scripts/mediasoup-shims"
cache="${TRIBUNE_CACHE_DIR:-$HOME/.cache/tribune}"

[ -f "$mediasoup_dir/package.json" ] || { echo "build-mediasoup-worker: $mediasoup_dir is missing; run npm ci first" >&2; exit 1; }
version=$(node -p "require('$mediasoup_dir/package.json').version")
key=$(cd "$root" && { find scripts/mediasoup-shims -type f | sort | xargs sha256sum; sha256sum scripts/build-mediasoup-worker.sh; } | sha256sum | cut -c1-12)
bin="$cache/mediasoup-worker-$version-$key"
link="$mediasoup_dir/worker/out/Release/mediasoup-worker"

if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  # Debian 12's meson is 1.0.1; mediasoup 3.12 asks for >= 1.1. A private venv keeps the system Python untouched.
  venv="$cache/meson-venv"
  if ! "$venv/bin/meson" --version 2>/dev/null | grep -qE '^(1\.([1-9]|[1-9][0-9])|[2-9])\.'; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'meson>=1.1,<2'
  fi
  work="$cache/build-$version-$key"
  rm -rf "$work"
  mkdir -p "$work"
  cp -a "$mediasoup_dir/worker/." "$work/"
  rm -rf "$work/out"
  for wrap in "$work"/subprojects/*.wrap; do
    name=$(basename "$wrap" .wrap)
    [ -d "$shims/$name" ] || continue # wingetopt: Windows only
    dir=$(sed -n 's/^directory *= *//p' "$wrap")
    cp -a "$shims/$name" "$work/subprojects/$dir"
  done
  echo "build-mediasoup-worker: building mediasoup-worker $version (takes 5-10 min on 2 cores) in $work" >&2
  (
    cd "$work"
    "$venv/bin/meson" setup build --buildtype=release --wrap-mode=nodownload -Dms_log_trace=false >&2
    ninja -C build mediasoup-worker >&2
  )
  cp "$work/build/mediasoup-worker" "$bin.tmp"
  strip "$bin.tmp" || true
  mv "$bin.tmp" "$bin"
  rm -rf "$work"
fi

mkdir -p "$(dirname "$link")"
ln -sfn "$bin" "$link"
echo "$bin"
