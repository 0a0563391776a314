#!/usr/bin/env bash
# Driver for bench/router/http-proxy.bench.ts: builds, checks the tools, runs the benchmark.
# Needs root (squid drops to user "proxy"), squid and wrk (apt-get install -y squid wrk).
# Extra arguments go to the benchmark (--duration S --connections N --tunnels N --tunnel-concurrency N
# --rounds N --baseline BUILD_DIR --skip get|tunnels --node-args "..."; see http-proxy.bench.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in squid wrk; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed (apt-get install -y $tool)" >&2; exit 1; }
done
out="${BENCH_BUILD_DIR:-dist}"
if [ "$out" = dist ]; then npm run build >/dev/null; else npx tsc -p tsconfig.json --outDir "$out" --tsBuildInfoFile "$out/.tsbuildinfo" >/dev/null || true; fi
exec node "$out/bench/router/http-proxy.bench.js" "$@"
