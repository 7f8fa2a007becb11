#!/usr/bin/env bash
# The whole test suite: installs what is missing, then lint, type-check, unit, property, golden and
# the end-to-end tests against two real charon gateways (needs root for the network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npm test
