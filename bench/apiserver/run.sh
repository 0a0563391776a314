#!/usr/bin/env bash
# Runs every API server benchmark (writes, list, watch, memory) and prints a markdown table.
# Builds with `npm run build` into dist/ unless BENCH_BUILD_DIR names an existing build output
# (e.g. BENCH_BUILD_DIR=.build/benchapi, built with tsc --outDir). BENCH_CPU_PROF=DIR makes every
# server child write a V8 CPU profile into DIR (see docs/benchmarks.md for reading it).
# Each benchmark starts its own server child in a temp dir and removes it; the suite takes 2–4 min
# (more on a loaded machine). BENCH_SKIP_SHIPPED=1 skips the second memory run with controllers.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${BENCH_BUILD_DIR:-dist}"
if [ -z "${BENCH_BUILD_DIR:-}" ]; then
  npm run build >/dev/null || echo "run.sh: the build reported type errors; running what it emitted" >&2
fi
results="$(mktemp /tmp/apiserver-bench-XXXXXX.jsonl)"
trap 'rm -f "$results"' EXIT
export BENCH_RESULTS="$results"
# The API server alone by default; BENCH_SERVER_FLAGS="" measures `egress server` as shipped.
export BENCH_SERVER_FLAGS="${BENCH_SERVER_FLAGS---no-controllers}"
echo "# API server benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, node $(node --version), server flags: ${BENCH_SERVER_FLAGS:-none}"
echo "# load before: $(uptime)"
for b in writes list watch memory; do
  echo "## $b"
  node "$out/bench/apiserver/$b.bench.js"
done
if [ "${BENCH_SKIP_SHIPPED:-}" = "" ] && [ -n "$BENCH_SERVER_FLAGS" ]; then
  # Memory again with the controllers running in the server process, as `egress server` ships.
  echo "## memory, server as shipped (with controllers)"
  BENCH_SERVER_FLAGS="" node "$out/bench/apiserver/memory.bench.js"
fi
echo "# load after: $(uptime)"
echo
node "$out/bench/apiserver/report.js" "$results"
