#!/usr/bin/env bash
# The main job: installs what is missing, builds, and brings up the lab cluster (network namespaces
# on this machine: API server, three nodes with agents, external hosts) with the seed example
# applied. Needs root. `./bin/egress lab down` removes it again.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
npm run --silent build
exec ./bin/egress lab up --example seed "$@"
