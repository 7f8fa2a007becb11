#!/usr/bin/env bash
# The whole test suite: installs what is missing, then lint, type-check, unit, property, golden and
# the end-to-end tests against two real charon gateways. As root (the lab's network namespaces), or
# through sudo. LAB_STRONGSWAN=trixie (or sid, ...) runs the lab on that Debian release's strongSwan.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || {
	echo "test: must run as root (as another user: sudo $0)" >&2
	exit 1
}
bash scripts/setup.sh test
exec npm test
