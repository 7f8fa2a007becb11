#!/usr/bin/env bash
# Installs what the exporter, its lab and its tests need on a fresh Debian machine (run as root):
# the Debian packages that are missing, then the npm dependencies (npm ci also builds with tsc).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  strongswan-charon strongswan-swanctl strongswan-pki libcharon-extra-plugins libstrongswan-extra-plugins
  iproute2 iputils-ping openssl prometheus chromium
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ "${SETUP_SKIP_NPM:-}" != 1 ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ "${CI:-}" = true ]; then
    echo "setup: npm ci" >&2
    npm ci --no-audit --no-fund >&2
  else
    npm run --silent build >&2
  fi
fi
