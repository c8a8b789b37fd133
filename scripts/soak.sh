#!/usr/bin/env bash
# npm run soak: a live space with 4 synthetic speakers and 200 simulated listeners for TRIBUNE_SOAK_MINUTES
# (default 30) against npm start's launcher; fails on RSS growth >= 10 %, fd growth or stalled listeners
# (api/test/load/soak.bench.test.ts). Last stdout line: one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -b ingest transcoder api
out="${TMPDIR:-/tmp}/tribune-soak.json"
rm -f "$out"
status=0
TRIBUNE_BENCH=1 TRIBUNE_BENCH_OUT="$out" npx vitest run --project integration api/test/load/soak.bench.test.ts || status=$?
cat "$out" 2>/dev/null || true
exit "$status"
