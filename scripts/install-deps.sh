#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine that has Node.js 20 and npm:
# Debian packages (when running as root and something is missing) and the npm packages.
# Idempotent and quiet when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(nftables iproute2 containernetworking-plugins iputils-arping dnsmasq-base iperf3 squid openssl procps gcc libc6-dev)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages (${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # squid's package starts a system service; the project runs its own instances only.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now squid >/dev/null 2>&1 || true; fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
