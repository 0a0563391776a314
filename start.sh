#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the project's cluster with the seed
# examples applied (see README). Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
npm run --silent build
exec ./bin/egress demo "$@"
