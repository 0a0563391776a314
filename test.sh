#!/usr/bin/env bash
# Runs every check of the project: installs what is missing, builds, formats/lints, type-checks
# (the build does) and runs all tests (unit and end-to-end; the end-to-end ones need root).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
npm run --silent build
npm run --silent lint
node scripts/run-tests.mjs all "$@"
