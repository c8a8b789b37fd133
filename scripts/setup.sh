#!/usr/bin/env bash
# `npm run setup`: makes a fresh Debian 12 machine ready to run and test Tribune. Idempotent, and fast when nothing
# changed: it installs only missing Debian packages, runs `npm ci` only when package-lock.json changed, reuses the
# cached mediasoup worker build, and rebuilds TypeScript incrementally.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }
started=$(date +%s)

# Prerequisites: Debian's apt, root (or sudo), Node >= 20.19 (vite 8 and eslint 10 need it).
command -v apt-get >/dev/null || die "apt-get not found: Tribune's setup targets Debian 12 (bookworm)"
command -v dpkg-query >/dev/null || die "dpkg-query not found: Tribune's setup targets Debian 12 (bookworm)"
if [ "$(id -u)" -eq 0 ]; then sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n)
else die "installing Debian packages needs root or passwordless sudo"; fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js >= 20.19 is required (found $(node --version 2>/dev/null || echo none))"

# Debian packages. Runtime: ffmpeg/ffprobe (composite and encode) and a font for its names, redis-server (the private Redis), chromium (tests
# and benches), espeak-ng and sox (synthetic speech), nginx (CDN edge config), libpocketsphinx3 and its US English model
# (captions), flite (the synthetic speakers' voices and caption tests), bzip2 (sherpa-onnx model archives), coturn (TURN relay, started by the launcher when
# TURN_SECRET is set without TURN_URLS), nftables (the firewall test), tesseract-ocr (npm run bench:slides reads the
# broadcast's shared slide back with OCR; Debian's package brings the English data). Build: the mediasoup worker's compiler,
# ninja, pkg-config, Python venv (for meson >= 1.1) and the C/C++ libraries it links.
packages=(
  ffmpeg fonts-dejavu-core redis-server chromium espeak-ng sox nginx coturn nftables tesseract-ocr
  libpocketsphinx3 pocketsphinx-en-us flite bzip2
  build-essential ninja-build pkg-config python3-venv
  libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev nlohmann-json3-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies, exactly as locked. --ignore-scripts: no dependency's install script is needed (mediasoup's would
# try to download a worker binary; we build it below), and none should run unreviewed.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
stamp=node_modules/.tribune-setup-lock
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

# The mediasoup worker, built once per version and cached in ~/.cache/tribune (TRIBUNE_CACHE_DIR).
worker_bin=$(bash scripts/build-mediasoup-worker.sh | tail -n 1)
say "mediasoup worker: $worker_bin"

say "building TypeScript and the player"
npm run --silent build >/dev/null

# Captions with a neural model: TRIBUNE_SHERPA_MODEL_URL and TRIBUNE_SHERPA_MODEL_SHA256 name a streaming sherpa-onnx
# transducer archive (.tar.bz2). It is downloaded once, its SHA-256 checked, unpacked into $TRIBUNE_CACHE_DIR/sherpa-onnx
# and loaded once; the transcoder then uses it while both variables are set. Any failure is said, and leaves captions on
# PocketSphinx: setup goes on.
if [ -n "${TRIBUNE_SHERPA_MODEL_URL:-}${TRIBUNE_SHERPA_MODEL_SHA256:-}" ]; then
  if node transcoder/dist/fetchSherpaModelCli.js >/dev/null; then say "captions: sherpa-onnx"
  else say "captions: PocketSphinx (the sherpa-onnx model was not installed; see the error above)"; fi
fi

say "ready in $(( $(date +%s) - started )) s: npm start (http://localhost:8080), npm test"
